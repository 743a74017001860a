"""pyhcs.compat's Windows host detection, run for real by Windows CPython under Wine (tests/windows/run_wine.py).

``compat.detect_host()`` reads RtlGetVersion (ntdll) for major, minor, build and product type and the ``UBR`` value
under HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion for the revision (version-compatibility.md, "Querying
version"; hcsshim osversion.Get / BuildRevision). Wine reports whichever Windows its prefix is set to (Windows 7,
6.1.7601, for Wine 8's default prefix) and has no UBR, so the tests compare with what CPython reads through its own
path and write a UBR value to see it read. Off Windows every test is skipped (tests/test_compat.py covers the
environment variable everywhere).
"""

from __future__ import annotations

import sys
from typing import Iterator, Optional

import pytest

from pyhcs import compat

pytestmark = pytest.mark.skipif(sys.platform != "win32", reason="Windows-only code path (runs in the Wine leg)")

CURRENT_VERSION = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"


def _read_ubr() -> Optional[int]:
    import winreg

    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, CURRENT_VERSION, 0,
                        winreg.KEY_QUERY_VALUE | winreg.KEY_WOW64_64KEY) as key:
        try:
            value, kind = winreg.QueryValueEx(key, "UBR")
        except FileNotFoundError:
            return None
    assert kind == winreg.REG_DWORD
    return int(value)


@pytest.fixture
def writable_ubr() -> Iterator[None]:
    """Lets a test set UBR, and puts the key back as it was (value restored, or removed if there was none)."""
    import winreg

    before = _read_ubr()
    try:
        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, CURRENT_VERSION, 0,
                             winreg.KEY_SET_VALUE | winreg.KEY_QUERY_VALUE | winreg.KEY_WOW64_64KEY)
    except PermissionError:
        pytest.skip("HKLM is not writable here (a real Windows without elevation)")
    with key:
        try:
            yield
        finally:
            if before is None:
                try:
                    winreg.DeleteValue(key, "UBR")
                except FileNotFoundError:
                    pass
            else:
                winreg.SetValueEx(key, "UBR", 0, winreg.REG_DWORD, before)


def test_detect_host_reports_windows_own_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """RtlGetVersion's major.minor.build and product type equal what CPython reads (python.exe is manifested for
    Windows 10, so its GetVersionExW is not shimmed): a sane, real version."""
    monkeypatch.delenv(compat.HOST_OS_VERSION_ENV, raising=False)
    host = compat.detect_host()
    win = sys.getwindowsversion()
    assert (host.version.major, host.version.minor, host.version.build) == (win.major, win.minor, win.build)
    assert host.version.major >= 6 and host.version.build > 0
    # VER_NT_WORKSTATION (1) is a client; VER_NT_DOMAIN_CONTROLLER (2) and VER_NT_SERVER (3) are servers
    assert host.sku is (compat.Sku.CLIENT if win.product_type == 1 else compat.Sku.SERVER)
    assert compat.host_os() == host


def test_the_revision_is_the_registrys_ubr_or_zero() -> None:
    ubr = _read_ubr()
    assert compat.detect_host().version.revision == (0 if ubr is None else ubr)


def test_a_ubr_value_is_read_as_the_revision(writable_ubr: None) -> None:
    import winreg

    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, CURRENT_VERSION, 0,
                        winreg.KEY_SET_VALUE | winreg.KEY_WOW64_64KEY) as key:
        winreg.SetValueEx(key, "UBR", 0, winreg.REG_DWORD, 6054)
    assert compat.detect_host().version.revision == 6054


def test_a_ubr_that_is_not_a_dword_is_an_error(writable_ubr: None) -> None:
    import winreg

    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, CURRENT_VERSION, 0,
                        winreg.KEY_SET_VALUE | winreg.KEY_WOW64_64KEY) as key:
        winreg.SetValueEx(key, "UBR", 0, winreg.REG_SZ, "6054")
    with pytest.raises(compat.HostVersionUnavailableError, match="UBR is not a REG_DWORD"):
        compat.detect_host()


def test_the_environment_variable_overrides_detection_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compat.HOST_OS_VERSION_ENV, "10.0.1.2 client")
    assert compat.host_os() == compat.Host(compat.OSVersion(10, 0, 1, 2), compat.Sku.CLIENT)
    assert compat.detect_host().version.build == sys.getwindowsversion().build  # detection ignores the variable
