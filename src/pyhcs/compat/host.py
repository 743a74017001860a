"""The container host: its Windows version and whether it is a client (Windows 10/11) or a server SKU.

On Windows the version comes from ``RtlGetVersion`` (ntdll), which reports the real build whatever the calling
executable's manifest says (GetVersionEx reports 6.2 to unmanifested programs since Windows 8.1), and the revision
from the ``UBR`` value under ``HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion`` (what ``cmd /c ver`` shows;
version-compatibility.md "Querying version", hcsshim ``osversion.BuildRevision``). Client or server comes from the
same RtlGetVersion call: ``OSVERSIONINFOEXW.wProductType`` is VER_NT_WORKSTATION (1) on client editions and
VER_NT_SERVER (3) or VER_NT_DOMAIN_CONTROLLER (2) on servers — the field Windows' own ``IsWindowsServer()``
(VersionHelpers.h) tests.

Everywhere, and before any detection, the environment variable ``PYHCS_HOST_OS_VERSION`` sets the host (see
:meth:`Host.parse` for its format); the fake HCS reads the same variable, so a test pins one host for both.
"""

from __future__ import annotations

import enum
import os
import sys
from dataclasses import dataclass
from typing import Mapping, Optional, Union

from .errors import HostVersionUnavailableError, InvalidVersionError
from .releases import FIRST_WINDOWS11_BUILD
from .version import OSVersion, VersionLike, as_version

__all__ = ["Sku", "Host", "HostLike", "HOST_OS_VERSION_ENV", "as_host", "host_os", "detect_host"]

HOST_OS_VERSION_ENV = "PYHCS_HOST_OS_VERSION"
"""``"<major>.<minor>.<build>[.<revision>][ server|client]"``, e.g. ``"10.0.20348.2655"`` or
``"10.0.22631.4317 client"``; the SKU defaults to server. Set and non-empty, it replaces detection everywhere."""

_HOST_FORMAT = "'<major>.<minor>.<build>[.<revision>] [server|client]', e.g. '10.0.20348.1' or '10.0.22631.1 client'"
_CURRENT_VERSION_KEY = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
_VER_NT_WORKSTATION = 1
_VER_NT_DOMAIN_CONTROLLER = 2
_VER_NT_SERVER = 3


class Sku(str, enum.Enum):
    """Client (Windows 10, Windows 11) or server (Windows Server) edition of the host."""

    SERVER = "server"
    CLIENT = "client"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Host:
    """A container host: its OS version and SKU. ``str(host)`` is the ``PYHCS_HOST_OS_VERSION`` form."""

    version: OSVersion
    sku: Sku = Sku.SERVER

    def __post_init__(self) -> None:
        if not isinstance(self.version, OSVersion):
            raise TypeError(f"Host.version must be an OSVersion, not {type(self.version).__name__}")
        if not isinstance(self.sku, Sku):
            raise TypeError(f"Host.sku must be a Sku, not {type(self.sku).__name__}")

    @classmethod
    def parse(cls, text: str) -> "Host":
        """``"10.0.17763.1234"`` (a server) or ``"10.0.22631.4317 client"`` → Host.

        The version is ``major.minor.build[.revision]``; an optional second word, ``server`` or ``client`` (any
        case), names the SKU. Raises :class:`InvalidVersionError` for any other text, TypeError for a non-str."""
        if not isinstance(text, str):
            raise TypeError(f"a host to parse is a str, not {type(text).__name__}")
        words = text.split()
        if not 1 <= len(words) <= 2:
            raise InvalidVersionError(f"{text!r} is not a host: expected {_HOST_FORMAT}")
        try:
            version = OSVersion.parse(words[0])
        except InvalidVersionError:
            raise InvalidVersionError(f"{text!r} is not a host: expected {_HOST_FORMAT}") from None
        sku = Sku.SERVER
        if len(words) == 2:
            try:
                sku = Sku(words[1].lower())
            except ValueError:
                raise InvalidVersionError(
                    f"{text!r} is not a host: the SKU is 'server' or 'client', not {words[1]!r}") from None
        return cls(version, sku)

    def __str__(self) -> str:
        return f"{self.version} {self.sku.value}"

    @property
    def build(self) -> int:
        """The host's OS build number (17763, 20348, ...)."""
        return self.version.build

    @property
    def is_client(self) -> bool:
        """True for a Windows client (10/11) host, whose containers are limited to Hyper-V isolation."""
        return self.sku is Sku.CLIENT

    @property
    def is_windows10_client(self) -> bool:
        """A Windows 10 client (client SKU below build 22000): Hyper-V isolation only (version-compatibility.md)."""
        return self.is_client and self.version.build_tuple < (10, 0, FIRST_WINDOWS11_BUILD)

    def describe(self) -> str:
        """``"17763"``, ``"19045 (Windows 10 client)"``, ``"22631 (Windows 11 client)"``: the build as messages show it."""
        if not self.is_client:
            return str(self.version.build)
        family = "Windows 10" if self.is_windows10_client else "Windows 11"
        return f"{self.version.build} ({family} client)"


HostLike = Union[Host, VersionLike]
"""A :class:`Host`, or a version (an :class:`OSVersion`, its text with an optional SKU word, or a build number);
a bare version means a server."""


def as_host(value: HostLike) -> Host:
    """Turn a :data:`HostLike` into a :class:`Host`."""
    if isinstance(value, Host):
        return value
    if isinstance(value, str):
        return Host.parse(value)
    return Host(as_version(value))


def host_os(environ: Optional[Mapping[str, str]] = None) -> Host:
    """The host pyhcs runs on: ``PYHCS_HOST_OS_VERSION`` when set (in *environ*, default ``os.environ``), else
    :func:`detect_host`. Off Windows without the variable: :class:`HostVersionUnavailableError`."""
    env = os.environ if environ is None else environ
    value = env.get(HOST_OS_VERSION_ENV, "")
    if value.strip():
        try:
            return Host.parse(value)
        except InvalidVersionError:
            raise InvalidVersionError(
                f"{HOST_OS_VERSION_ENV}={value!r} is not a host: expected {_HOST_FORMAT}") from None
    return detect_host()


def detect_host() -> Host:
    """The running Windows host, read from Windows (``PYHCS_HOST_OS_VERSION`` is ignored): RtlGetVersion for
    major, minor, build and product type, the registry's ``UBR`` for the revision (0 when absent)."""
    if sys.platform == "win32":
        return _detect_windows_host()
    raise HostVersionUnavailableError(
        f"cannot detect the Windows version on {sys.platform}: set {HOST_OS_VERSION_ENV} to the host to assume, "
        f"e.g. {HOST_OS_VERSION_ENV}='10.0.20348.1' (a server) or '10.0.22631.1 client'")


if sys.platform == "win32":
    import ctypes
    import winreg
    from ctypes import wintypes

    class _OSVERSIONINFOEXW(ctypes.Structure):
        # winnt.h, in declaration order; RtlGetVersion fills the Ex fields when the size says OSVERSIONINFOEXW.
        _fields_ = [
            ("dwOSVersionInfoSize", wintypes.DWORD),
            ("dwMajorVersion", wintypes.DWORD),
            ("dwMinorVersion", wintypes.DWORD),
            ("dwBuildNumber", wintypes.DWORD),
            ("dwPlatformId", wintypes.DWORD),
            ("szCSDVersion", wintypes.WCHAR * 128),
            ("wServicePackMajor", wintypes.WORD),
            ("wServicePackMinor", wintypes.WORD),
            ("wSuiteMask", wintypes.WORD),
            ("wProductType", wintypes.BYTE),
            ("wReserved", wintypes.BYTE),
        ]

    def _rtl_get_version() -> "_OSVERSIONINFOEXW":
        ntdll = ctypes.WinDLL("ntdll")
        rtl_get_version = ntdll.RtlGetVersion
        rtl_get_version.argtypes = [ctypes.POINTER(_OSVERSIONINFOEXW)]
        rtl_get_version.restype = wintypes.LONG  # NTSTATUS
        info = _OSVERSIONINFOEXW()
        info.dwOSVersionInfoSize = ctypes.sizeof(_OSVERSIONINFOEXW)
        status = rtl_get_version(ctypes.byref(info))
        if status != 0:
            raise HostVersionUnavailableError(f"RtlGetVersion failed: NTSTATUS 0x{status & 0xFFFFFFFF:08X}")
        return info

    def _update_build_revision() -> int:
        # KEY_WOW64_64KEY: a 32-bit Python on 64-bit Windows reads the same key as the OS itself.
        access = winreg.KEY_QUERY_VALUE | winreg.KEY_WOW64_64KEY
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, _CURRENT_VERSION_KEY, 0, access) as key:
                value, kind = winreg.QueryValueEx(key, "UBR")
        except FileNotFoundError:  # Windows before 10 (and Wine) have no UBR: the revision is unknown
            return 0
        except OSError as error:
            raise HostVersionUnavailableError(f"cannot read UBR under HKLM\\{_CURRENT_VERSION_KEY}: {error}") from error
        if kind != winreg.REG_DWORD or not isinstance(value, int):
            raise HostVersionUnavailableError(
                f"HKLM\\{_CURRENT_VERSION_KEY}\\UBR is not a REG_DWORD (registry type {kind}, value {value!r})")
        return value

    def _detect_windows_host() -> Host:
        info = _rtl_get_version()
        if info.wProductType == _VER_NT_WORKSTATION:
            sku = Sku.CLIENT
        elif info.wProductType in (_VER_NT_SERVER, _VER_NT_DOMAIN_CONTROLLER):
            sku = Sku.SERVER
        else:
            raise HostVersionUnavailableError(
                f"RtlGetVersion reported an unknown product type {info.wProductType} (expected 1, 2 or 3)")
        version = OSVersion(info.dwMajorVersion, info.dwMinorVersion, info.dwBuildNumber, _update_build_revision())
        return Host(version, sku)
