"""Build and load ``c_driver.c``: the C floor, linked against the fake HCS and loaded into the benchmark process.

The driver is built with the system C compiler against the fake's own headers (``src/pyhcs/_ffi/decl/*.h``, the
declarations pyhcs itself uses, and ``tests/fakes/fakehcs_control.h``) and linked against the very .so the Python
side loads, so both share one loaded fake (same engine, same counters). Builds are cached by a hash of the inputs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(__file__).resolve().parent / "c_driver.c"
DECL = ROOT / "src" / "pyhcs" / "_ffi" / "decl"
FAKES = ROOT / "tests" / "fakes"
HEADERS = [DECL / n for n in ("windows_types.h", "computedefs.h", "computecore.h", "kernel32.h")]
HEADERS.append(FAKES / "fakehcs_control.h")

CDEF = """
typedef void *HCS_SYSTEM;  /* handles cross from pyhcs's ffi as void * */
int64_t drv_sync(HCS_SYSTEM sys, int64_t n);
int64_t drv_async(HCS_SYSTEM sys, int64_t n, int64_t k);
int64_t drv_trigger_exits(const char *const *ids, int64_t n);
int64_t drv_system_events(const char *const *ids, int64_t n);
int64_t drv_process_events(const char *id, const char16_t *params, int64_t n);
int64_t drv_process_round_trip(HCS_SYSTEM sys, const char16_t *params, int64_t n);
"""


def compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise RuntimeError("no C compiler (cc/gcc/clang) for benchmarks/c_driver.c")
    return cc


def build(fake_path: str) -> Path:
    """The driver .so for the fake at *fake_path* (built once per distinct input, cached in the temp folder)."""
    fake = Path(fake_path).resolve()
    h = hashlib.sha256()
    for p in [SOURCE, *HEADERS]:
        h.update(p.read_bytes())
    h.update(str(fake).encode())
    h.update(fake.read_bytes())
    cc = compiler()
    h.update(cc.encode())
    out_dir = Path(tempfile.gettempdir()) / "pyhcs-benchmarks" / h.hexdigest()[:16]
    target = out_dir / "libpyhcs_cdriver.so"
    if target.exists():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".libpyhcs_cdriver.{os.getpid()}.so"
    cmd = [
        cc, "-O2", "-std=gnu11", "-shared", "-fPIC", "-pthread",
        "-I", str(DECL), "-I", str(FAKES),
        str(SOURCE), "-o", str(tmp),
        str(fake), f"-Wl,-rpath,{fake.parent}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building the C driver failed ({' '.join(cmd)}):\n{proc.stderr}")
    os.replace(tmp, target)
    return target


def load(fake_path: str) -> Any:
    """(ffi, lib) of the C driver; the fake must already be loaded from the same path (it then is shared)."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    return ffi, ffi.dlopen(str(build(fake_path)))
