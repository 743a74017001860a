"""Build the fake HCS (``libfakehcs.so``) and the fake HCS service (``fakehcs-service``) from the C sources here.

``build_fake()`` compiles every ``*.c`` here but the service's own (``server.c``, ``service_main.c``) with ``$CC``
(default ``cc``) and caches the result under ``tests/fakes/_build/<sha256>/libfakehcs.so``, where the hash covers
every source and header here, pyhcs's declaration headers (``src/pyhcs/_ffi/decl/*.h``, which the build includes so
the compiler checks each export against them), the compiler and the flags. ``build_service()`` links the same
sources plus the service's into ``fakehcs-service`` beside it (one engine, one C code base: the library is its
client when ``PYHCS_FAKE_SERVICE`` names the service's endpoint). A cached build is reused; concurrent builders
each compile to a temporary file and atomically rename it into place. Run ``python tests/fakes/build.py`` to build
and print the library path (``--service``: the service executable's).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DECL = REPO / "src" / "pyhcs" / "_ffi" / "decl"
BUILD_ROOT = HERE / "_build"
LIBRARY_NAME = "libfakehcs.so"
SERVICE_NAME = "fakehcs-service"
# The service executable's own sources (its main and its server loop); everything else is shared with the library.
SERVICE_ONLY = ("server.c", "service_main.c")

CFLAGS = [
    "-std=c11",
    "-O2",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fPIC",
    "-shared",
    "-pthread",
    "-fvisibility=hidden",
]
LIBS: List[str] = []


def _compiler() -> List[str]:
    return shlex.split(os.environ.get("CC", "cc"))


def _all_sources() -> List[Path]:
    # X_win32.c files belong to the Windows build (build_windows.py), where they replace X.c / platform_posix.c.
    return sorted(p for p in HERE.glob("*.c") if not p.name.endswith("_win32.c"))


def _sources() -> List[Path]:
    """The library's sources."""
    return [p for p in _all_sources() if p.name not in SERVICE_ONLY]


def _inputs() -> List[Path]:
    files = set(_all_sources()) | set(HERE.glob("*.h")) | set(DECL.glob("*.h"))
    return sorted(files)


def _digest(cc: List[str]) -> str:
    h = hashlib.sha256()
    for arg in cc + CFLAGS + LIBS:
        h.update(arg.encode() + b"\0")
    for path in _inputs():
        h.update(str(path.relative_to(REPO)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def _link(target: Path, flags: List[str], sources: List[Path], verbose: bool) -> Path:
    """Compile sources into target unless it exists (temporary file, then an atomic rename)."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    os.close(fd)
    cmd = _compiler() + flags + [f"-I{HERE}", f"-I{DECL}", "-o", tmp] + [str(p) for p in sources] + LIBS
    try:
        if verbose:
            print(" ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(
                f"building {target.name} failed (exit {proc.returncode}):\n{' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
            )
        os.replace(tmp, target)  # atomic: a concurrent builder either sees nothing or the whole file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def build_fake(verbose: bool = False) -> Path:
    """Compile the fake if needed and return the path of ``libfakehcs.so``."""
    return _link(BUILD_ROOT / _digest(_compiler()) / LIBRARY_NAME, CFLAGS, _sources(), verbose)


def build_service(verbose: bool = False) -> Path:
    """Compile the fake HCS service if needed and return the path of ``fakehcs-service``."""
    flags = [f for f in CFLAGS if f not in ("-fPIC", "-shared")]
    return _link(BUILD_ROOT / _digest(_compiler()) / SERVICE_NAME, flags, _all_sources(), verbose)


if __name__ == "__main__":
    if "--service" in sys.argv[1:]:
        print(build_service(verbose="-v" in sys.argv[1:]))
    else:
        print(build_fake(verbose="-v" in sys.argv[1:]))
