"""Build the fake HCS (``libfakehcs.so``) from the C sources in this folder.

``build_fake()`` compiles every ``*.c`` here with ``$CC`` (default ``cc``) and caches the result under
``tests/fakes/_build/<sha256>/libfakehcs.so``, where the hash covers every source and header here, pyhcs's declaration
headers (``src/pyhcs/_ffi/decl/*.h``, which the build includes so the compiler checks each export against them), the
compiler and the flags. A cached build is reused; concurrent builders each compile to a temporary file and
atomically rename it into place. Run ``python tests/fakes/build.py`` to build and print the library path.
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


def _sources() -> List[Path]:
    # X_win32.c files belong to the Windows build (build_windows.py), where they replace X.c / platform_posix.c.
    return sorted(p for p in HERE.glob("*.c") if not p.name.endswith("_win32.c"))


def _inputs() -> List[Path]:
    files = set(_sources()) | set(HERE.glob("*.h")) | set(DECL.glob("*.h"))
    return sorted(files)


def _digest(cc: List[str]) -> str:
    h = hashlib.sha256()
    for arg in cc + CFLAGS + LIBS:
        h.update(arg.encode() + b"\0")
    for path in _inputs():
        h.update(str(path.relative_to(REPO)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def build_fake(verbose: bool = False) -> Path:
    """Compile the fake if needed and return the path of ``libfakehcs.so``."""
    cc = _compiler()
    out_dir = BUILD_ROOT / _digest(cc)
    target = out_dir / LIBRARY_NAME
    if target.exists():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".libfakehcs-", suffix=".so", dir=out_dir)
    os.close(fd)
    cmd = cc + CFLAGS + [f"-I{HERE}", f"-I{DECL}", "-o", tmp] + [str(p) for p in _sources()] + LIBS
    try:
        if verbose:
            print(" ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(
                f"building the fake HCS failed (exit {proc.returncode}):\n{' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
            )
        os.replace(tmp, target)  # atomic: a concurrent builder either sees nothing or the whole library
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


if __name__ == "__main__":
    print(build_fake(verbose="-v" in sys.argv[1:]))
