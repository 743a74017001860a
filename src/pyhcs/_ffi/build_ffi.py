"""Regenerate ``_cffi_hcs.py``, the out-of-line ABI-mode FFI of pyhcs, from the header text in ``decl/``.

Run ``python -m pyhcs._ffi.build_ffi`` after editing a header. The generated module is pure Python (cffi's
out-of-line ABI mode): importing it does not parse C, and installing pyhcs needs no compiler.
``tests/test_ffi_declarations.py`` fails when the committed module and the headers drift apart.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DECL = HERE / "decl"
#: Header files in the order they are declared to cffi (each may use the types of those before it).
HEADERS = ("windows_types.h", "computedefs.h", "computecore.h", "computestorage.h", "kernel32.h")
MODULE = "pyhcs._ffi._cffi_hcs"


def cdef_source() -> str:
    """All declarations as one cdef string, comments removed."""
    text = "\n".join((DECL / name).read_text(encoding="ascii") for name in HEADERS)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return text


def make_ffi():  # type: ignore[no-untyped-def]
    import cffi

    ffibuilder = cffi.FFI()
    ffibuilder.cdef(cdef_source())
    ffibuilder.set_source(MODULE, None)
    return ffibuilder


def generate(target_dir: Path) -> Path:
    """Write ``_cffi_hcs.py`` into *target_dir* (a folder standing for ``src/``) and return its path."""
    ffibuilder = make_ffi()
    out = ffibuilder.compile(tmpdir=str(target_dir), verbose=False)
    return Path(out)


def main() -> int:
    src = HERE.parent.parent
    path = generate(src)
    print(f"wrote {os.path.relpath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
