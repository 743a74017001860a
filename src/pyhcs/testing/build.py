"""Finding, or building on first use, the fake HCS library and the fake HCS service executable.

The fake is C11 source shipped inside pyhcs (``pyhcs/testing/_fake/`` in a wheel; ``tests/fakes/`` in a checkout)
and compiled with the system C compiler (``$CC``, default ``cc``) the first time something asks for it, into a
per-user cache keyed by a hash of everything that goes into the build:

- the cache folder: ``$PYHCS_FAKE_CACHE``; else ``$XDG_CACHE_HOME/pyhcs`` or ``~/.cache/pyhcs`` (Linux and other
  POSIX systems), ``~/Library/Caches/pyhcs`` (macOS), ``%LOCALAPPDATA%\\pyhcs\\Cache`` (Windows);
- the entry: ``<cache>/fake/<key>/`` holding ``libfakehcs.so`` and ``fakehcs-service``, where ``<key>`` hashes the
  fake's sources and headers, pyhcs's declaration headers (the build includes them, so the compiler checks every
  export against what pyhcs declares), the compiler command, the flags and the platform. A changed source or
  compiler gives a new entry; an old one is never reused by mistake.

An entry is built in a private temporary folder and renamed into place whole, so a reader sees a complete entry or
none; concurrent first uses (pytest-xdist workers, several tools) serialise on a lock file and the later ones find
the entry the first one built.

Prebuilt files win over building (the Windows leg under Wine passes mingw-built DLLs this way):
``PYHCS_FAKE_LIBRARY`` (computecore), ``PYHCS_FAKE_STORAGE_LIBRARY`` (computestorage; default: the same file),
``PYHCS_FAKE_SERVICE_EXECUTABLE`` (default: ``fakehcs-service[.exe]`` beside ``PYHCS_FAKE_LIBRARY`` if there).
On Windows pyhcs.testing does not compile: the fake's Windows build (mingw-w64, SDK headers, export forwarders)
is a cross-build made on Linux by ``tests/fakes/build_windows.py`` in pyhcs's source tree.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from .errors import CompilerNotFoundError, FakeBuildError

__all__ = [
    "cache_root",
    "fake_environment",
    "fake_library",
    "fake_storage_library",
    "service_executable",
]

ENV_LIBRARY = "PYHCS_FAKE_LIBRARY"
ENV_STORAGE_LIBRARY = "PYHCS_FAKE_STORAGE_LIBRARY"
ENV_SERVICE_EXECUTABLE = "PYHCS_FAKE_SERVICE_EXECUTABLE"
ENV_CACHE = "PYHCS_FAKE_CACHE"

IS_WINDOWS = sys.platform == "win32"
LIBRARY_NAME = "libfakehcs.so"
SERVICE_NAME = "fakehcs-service"
# The service executable's own sources (its main and its server loop); every other source is shared with the
# library, which is the service's client when PYHCS_FAKE_SERVICE names its endpoint.
SERVICE_ONLY = ("server.c", "service_main.c")

_HERE = Path(__file__).resolve().parent
# A wheel carries the sources here (setup.py's build_py copies tests/fakes into it); a checkout has them in place.
_PACKAGED_SOURCES = _HERE / "_fake"
_CHECKOUT_SOURCES = _HERE.parents[2] / "tests" / "fakes"
_DECL = _HERE.parent / "_ffi" / "decl"

CFLAGS = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-pthread", "-fvisibility=hidden"]
LIBRARY_FLAGS = ["-fPIC", "-shared"]
# Warnings fail the build in a checkout, where the fake is developed and CI must keep it warning-free; an installed
# pyhcs builds with whatever compiler its user has, whose newer warnings must not stop their tests.
CHECKOUT_FLAGS = ["-Werror"]


def source_dir() -> Path:
    """The folder holding the fake's C sources and headers (``fake.h``, ``fakehcs_control.h``, ``*.c``)."""
    for candidate in (_PACKAGED_SOURCES, _CHECKOUT_SOURCES):
        if (candidate / "fake.h").is_file():
            return candidate
    raise FakeBuildError(
        f"the fake HCS's C sources are not part of this pyhcs installation (looked in {_PACKAGED_SOURCES} and "
        f"{_CHECKOUT_SOURCES}); reinstall pyhcs from its wheel or sdist, or set {ENV_LIBRARY} to a prebuilt fake"
    )


def decl_dir() -> Path:
    """pyhcs's header-shaped declarations of the HCS API (``computecore.h``, ``computestorage.h``)."""
    return _DECL


def control_header() -> Path:
    """``fakehcs_control.h``: the declarations of the fake's ``FakeHcs*`` control API."""
    return source_dir() / "fakehcs_control.h"


def compiler() -> List[str]:
    """The C compiler command: ``$CC`` (split like a shell would), default ``cc``."""
    return shlex.split(os.environ.get("CC") or "cc")


def _from_checkout(sources: Path) -> bool:
    return sources == _CHECKOUT_SOURCES


def cflags(sources: Optional[Path] = None) -> List[str]:
    """The flags every fake build uses (the library adds ``-fPIC -shared``)."""
    sources = sources or source_dir()
    return CFLAGS + (CHECKOUT_FLAGS if _from_checkout(sources) else [])


def library_sources(sources: Optional[Path] = None) -> List[Path]:
    """The library's C files: every POSIX source but the service's own (``*_win32.c`` are the Windows build's)."""
    return [p for p in service_sources(sources) if p.name not in SERVICE_ONLY]


def service_sources(sources: Optional[Path] = None) -> List[Path]:
    """The service executable's C files: the library's and the service's own."""
    sources = sources or source_dir()
    return sorted(p for p in sources.glob("*.c") if not p.name.endswith("_win32.c"))


def cache_root(environ: Optional[Mapping[str, str]] = None, system: Optional[str] = None) -> Path:
    """The per-user cache folder of pyhcs (the fake's builds live in its ``fake/`` subfolder)."""
    env = os.environ if environ is None else environ
    system = system or sys.platform
    explicit = env.get(ENV_CACHE)
    if explicit:
        return Path(explicit)
    if system == "win32":
        local = env.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
        return base / "pyhcs" / "Cache"
    if system == "darwin":
        return Path.home() / "Library" / "Caches" / "pyhcs"
    xdg = env.get("XDG_CACHE_HOME")
    # The XDG Base Directory specification: a relative path in the variable is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "pyhcs"


def _build_key(cc: Sequence[str], sources: Path) -> str:
    h = hashlib.sha256()
    for part in [*cc, *cflags(sources), *LIBRARY_FLAGS, sys.platform, platform.machine()]:
        h.update(part.encode() + b"\0")
    # File names relative to their folder, so a checkout and an installed wheel with the same sources share an entry.
    inputs = [("fake", p) for p in sorted([*sources.glob("*.c"), *sources.glob("*.h")])
              if not p.name.endswith("_win32.c")]
    inputs += [("decl", p) for p in sorted(_DECL.glob("*.h"))]
    for kind, path in inputs:
        h.update(f"{kind}/{path.name}".encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def _prebuilt(name: str) -> Optional[Path]:
    value = os.environ.get(name)
    return Path(value) if value else None


def fake_library(verbose: bool = False) -> Path:
    """The fake computecore library: ``$PYHCS_FAKE_LIBRARY`` if set, else ``libfakehcs.so`` built (once per source
    hash) into the per-user cache. Raises ``CompilerNotFoundError`` when there is no C compiler (its message says
    what to install) and ``FakeBuildError`` when compiling fails."""
    prebuilt = _prebuilt(ENV_LIBRARY)
    if prebuilt is not None:
        return prebuilt
    return _build(verbose) / LIBRARY_NAME


def fake_storage_library(verbose: bool = False) -> Path:
    """The fake computestorage library: ``$PYHCS_FAKE_STORAGE_LIBRARY``, else the computecore one (on POSIX the
    fake is a single library exporting both APIs)."""
    prebuilt = _prebuilt(ENV_STORAGE_LIBRARY)
    return prebuilt if prebuilt is not None else fake_library(verbose)


def service_executable(verbose: bool = False) -> Path:
    """The fake HCS service executable (``fakehcs-service``): ``$PYHCS_FAKE_SERVICE_EXECUTABLE``; else
    ``fakehcs-service[.exe]`` beside ``$PYHCS_FAKE_LIBRARY``; else built into the per-user cache with the library."""
    prebuilt = _prebuilt(ENV_SERVICE_EXECUTABLE)
    if prebuilt is not None:
        return prebuilt
    library = _prebuilt(ENV_LIBRARY)
    if library is not None:
        beside = library.parent / (SERVICE_NAME + (".exe" if IS_WINDOWS else ""))
        if beside.is_file():
            return beside
    return _build(verbose) / SERVICE_NAME


def build_dir(verbose: bool = False) -> Path:
    """The cache entry holding ``libfakehcs.so`` and ``fakehcs-service``, built now if it is not there yet."""
    return _build(verbose)


def _build(verbose: bool) -> Path:
    if IS_WINDOWS:
        raise CompilerNotFoundError(
            "pyhcs.testing does not compile the fake HCS on Windows (its Windows build is a mingw-w64 cross-build "
            "with export forwarders, made on Linux by tests/fakes/build_windows.py in pyhcs's source tree); set "
            f"{ENV_LIBRARY} and {ENV_STORAGE_LIBRARY} to the computecore.dll and computestorage.dll it produces "
            f"(and {ENV_SERVICE_EXECUTABLE} to fakehcs-service.exe, or leave it beside computecore.dll)"
        )
    sources = source_dir()
    cc = compiler()
    entry = cache_root() / "fake" / _build_key(cc, sources)
    if (entry / LIBRARY_NAME).is_file() and (entry / SERVICE_NAME).is_file():
        return entry
    if shutil.which(cc[0]) is None:
        raise CompilerNotFoundError(
            f"pyhcs.testing builds the fake HCS from C on first use and needs a C compiler, but {cc[0]!r} was not "
            "found. Install one -- Debian/Ubuntu: apt-get install gcc (or build-essential); Fedora/RHEL: dnf "
            "install gcc; Alpine: apk add build-base; macOS: xcode-select --install -- or set CC to a C11 "
            f"compiler, or set {ENV_LIBRARY} to a prebuilt fake."
        )
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FakeBuildError(f"cannot create the fake HCS build cache {entry.parent}: {exc}; set {ENV_CACHE} to a "
                             "writable folder of yours") from exc
    with _locked(entry.parent / (entry.name + ".lock")):
        # Another process may have built it while we waited for the lock.
        if not ((entry / LIBRARY_NAME).is_file() and (entry / SERVICE_NAME).is_file()):
            if entry.exists():  # not made by us (entries appear whole): someone emptied it by hand
                shutil.rmtree(entry)
            _compile_entry(entry, cc, sources, verbose)
    return entry


class _locked:
    """An exclusive lock on a file (POSIX flock): the builders of one entry take turns."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            import fcntl
        except ImportError:  # no flock: the atomic rename alone keeps concurrent builders safe
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)  # closing releases the lock


def _compile_entry(entry: Path, cc: List[str], sources: Path, verbose: bool) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        flags = cflags(sources) + [f"-I{sources}", f"-I{_DECL}"]
        jobs = [
            (staging / LIBRARY_NAME, flags + LIBRARY_FLAGS, library_sources(sources)),
            (staging / SERVICE_NAME, flags, service_sources(sources)),
        ]
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            list(pool.map(lambda job: _link(cc, job[0], job[1], job[2], verbose), jobs))
        try:
            os.rename(staging, entry)  # atomic: readers see the whole entry or nothing
        except OSError:
            if not (entry / LIBRARY_NAME).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _link(cc: List[str], target: Path, flags: List[str], files: List[Path], verbose: bool) -> Path:
    cmd = [*cc, *flags, "-o", str(target), *map(str, files)]
    if verbose:
        print(" ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:
        raise CompilerNotFoundError(f"cannot run the C compiler {cc[0]!r}: {exc}") from exc
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        hint = ""
        if "No such file or directory" in output and ".h" in output:
            hint = ("\n(a system header is missing: install the C library's development files -- Debian/Ubuntu: "
                    "apt-get install build-essential; Fedora: dnf install glibc-devel)")
        raise FakeBuildError(f"building {target.name} failed (exit {proc.returncode}):\n"
                             f"{' '.join(cmd)}\n{output}{hint}", command=cmd, output=output)
    return target


#: The host the fake checks container images against when ``PYHCS_HOST_OS_VERSION`` is unset (the fake's own
#: default, Windows Server 2022; tests/fakes/README.md "Utility VMs and pods").
DEFAULT_HOST_OS_VERSION = "10.0.20348.2655 server"
HOST_OS_VERSION_ENV = "PYHCS_HOST_OS_VERSION"


def host_os_version(environ: Optional[Mapping[str, str]] = None) -> str:
    """``PYHCS_HOST_OS_VERSION`` of *environ* (default: ours), or the fake's default host. pyhcs.compat and the
    fake read the same variable; pyhcs.testing sets it wherever it sets up the fake, so both agree on the host."""
    value = (os.environ if environ is None else environ).get(HOST_OS_VERSION_ENV, "").strip()
    return value or DEFAULT_HOST_OS_VERSION


def fake_environment(endpoint: Optional[str] = None) -> Dict[str, str]:
    """The environment variables that make a program load the fake (``PYHCS_COMPUTECORE``, ``PYHCS_COMPUTESTORAGE``),
    agree with it on the host's OS version (``PYHCS_HOST_OS_VERSION``, as already set or the fake's default) and,
    with *endpoint*, be a client of the fake HCS service there (``PYHCS_FAKE_SERVICE``)."""
    env = {"PYHCS_COMPUTECORE": str(fake_library()), "PYHCS_COMPUTESTORAGE": str(fake_storage_library()),
           HOST_OS_VERSION_ENV: host_os_version()}
    if endpoint:
        env["PYHCS_FAKE_SERVICE"] = endpoint
    return env

