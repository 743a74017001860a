#!/usr/bin/env python3
"""Cross-compile the fake HCS into computecore.dll and computestorage.dll (x86_64 Windows) with mingw-w64.

    python3 tests/fakes/build_windows.py [--out DIR] [--cc x86_64-w64-mingw32-gcc]

Sources: every ``tests/fakes/*.c`` except the ones of other platforms (``*_posix.c``); a file ``X_win32.c`` replaces
``X.c`` (``platform_win32.c`` for ``platform_posix.c``'s interface, ``alloc_win32.c`` for ``alloc.c``: on Windows the
result strings are plain LocalAlloc blocks freed by the real kernel32 LocalFree).

Declarations: ``fake.h`` includes the real SDK headers under ``_WIN32`` (``<windows.h>``, ``<computecore.h>``,
``<computestorage.h>`` from Debian's mingw-w64-common), and ``computecore_newer.h`` is force-included to add what that
older SDK copy lacks (into the sources that include fake.h), so the compiler checks every exported definition against an SDK-shaped declaration.
``-Wall -Wextra -Werror``: a warning fails the build.

computecore.dll holds the whole fake (it exports the computestorage functions too, like the POSIX libfakehcs.so).
computestorage.dll is a forwarder: each ComputeStorage.h export is ``HcsX = computecore.HcsX`` (a PE export
forwarder), so both files share one fake -- one FakeHcsReset, one fault table, one leak count -- exactly as the
single POSIX library does. The loader resolves ``computecore`` to the computecore.dll already loaded in the
process (the test session loads it first, by full path). libgcc is linked statically, so the DLLs need only
kernel32 and msvcrt. fakehcs-service.exe is the fake HCS service (service_main.c, server.c) linked from the same
objects: the same engine serving computecore.dll's client mode (PYHCS_FAKE_SERVICE names its pipe).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "_build" / "win64"
CFLAGS = [
    "-std=gnu11", "-O2", "-g0",
    "-Wall", "-Wextra", "-Werror",
    "-D_WIN32_WINNT=0x0A00", "-DWINVER=0x0A00", "-DWIN32_LEAN_AND_MEAN",
    "-I", str(HERE),
]
# Only the client side (the sources including fake.h, which includes the SDK headers under _WIN32) sees the SDK;
# the engine, JSON and HRESULT code stay portable C that never includes <windows.h>.
NEWER = ["-include", str(HERE / "computecore_newer.h")]
LDFLAGS = ["-shared", "-static-libgcc", "-Wl,--no-insert-timestamp"]
LIBS = ["-lpsapi"]
DLLS = ("computecore.dll", "computestorage.dll")
SERVICE_EXE = "fakehcs-service.exe"
# The service executable's own sources (build.py SERVICE_ONLY); computecore.dll is everything else.
SERVICE_ONLY = ("server.c", "service_main.c")
SDK_STORAGE_HEADER = Path("/usr/share/mingw-w64/include/computestorage.h")


def sources() -> List[Path]:
    files = sorted(HERE.glob("*.c"))
    names = {f.name for f in files}
    chosen = []
    for f in files:
        if f.stem.endswith("_posix"):
            continue
        if not f.stem.endswith("_win32") and f"{f.stem}_win32.c" in names:
            continue  # replaced by its Windows version
        chosen.append(f)
    return chosen


def compile_one(cc: str, src: Path, obj: Path) -> bool:
    sdk = NEWER if '#include "fake.h"' in src.read_text(encoding="utf-8", errors="replace") else []
    cmd = [cc, *CFLAGS, *sdk, "-c", str(src), "-o", str(obj)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or result.stderr.strip():
        # -Werror turns warnings into errors; anything on stderr (a note, a warning) is reported and fails.
        sys.stderr.write(f"$ {' '.join(cmd)}\n{result.stderr}")
        return False
    return True


def main(argv: "List[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--cc", default=os.environ.get("MINGW_CC", "x86_64-w64-mingw32-gcc"))
    args = parser.parse_args(argv)
    if shutil.which(args.cc) is None:
        raise SystemExit(f"build_windows: {args.cc} not found (Debian: apt-get install gcc-mingw-w64-x86-64)")
    out: Path = args.out.resolve()
    objdir = out / "obj"
    objdir.mkdir(parents=True, exist_ok=True)
    srcs = sources()
    objs = [objdir / (s.stem + ".o") for s in srcs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        ok = list(pool.map(lambda so: compile_one(args.cc, *so), zip(srcs, objs)))
    failed = [s.name for s, good in zip(srcs, ok) if not good]
    if failed:
        raise SystemExit(f"build_windows: compiling {', '.join(failed)} failed")
    dll_objs = [o for src, o in zip(srcs, objs) if src.name not in SERVICE_ONLY]
    link(args.cc, [*LDFLAGS, "-o", str(out / "computecore.dll"), *map(str, dll_objs), *LIBS], "computecore.dll")
    # The fake HCS service: the same objects plus its own, as a console program (a Windows process under Wine).
    link(args.cc, ["-static-libgcc", "-Wl,--no-insert-timestamp", "-o", str(out / SERVICE_EXE), *map(str, objs),
                   *LIBS], SERVICE_EXE)
    forwarded = storage_functions() & exports(args.cc, out / "computecore.dll")
    deffile = out / "computestorage.def"
    deffile.write_text("LIBRARY computestorage.dll\nEXPORTS\n" +
                       "".join(f"    {name} = computecore.{name}\n" for name in sorted(forwarded)))
    stub = out / "computestorage_stub.c"
    stub.write_text("/* computestorage.dll: export forwarders only (see computestorage.def) */\n"
                    "typedef int computestorage_forwarders_only;\n")
    link(args.cc, [*LDFLAGS, "-o", str(out / "computestorage.dll"), str(stub), str(deffile)],
         "computestorage.dll")
    print(f"build_windows: {out / 'computecore.dll'} from {len(dll_objs)} sources; {out / 'computestorage.dll'} "
          f"forwarding {len(forwarded)} functions to it; {out / SERVICE_EXE}")
    return 0


def link(cc: str, args: List[str], what: str) -> None:
    cmd = [cc, *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or result.stderr.strip():
        sys.stderr.write(f"$ {' '.join(cmd)}\n{result.stderr}")
        raise SystemExit(f"build_windows: linking {what} failed")


def storage_functions() -> "set[str]":
    """ComputeStorage.h's functions: the SDK copy's, plus the newer ones computecore_newer.h declares."""
    import re

    names = set(re.findall(r"WINAPI\s+(\w+)\s*\(", SDK_STORAGE_HEADER.read_text()))
    newer = (HERE / "computecore_newer.h").read_text().split("ComputeStorage.h", 1)[-1]
    return names | set(re.findall(r"WINAPI\s+(\w+)\s*\(", newer))


def exports(cc: str, dll: Path) -> "set[str]":
    import re

    objdump = cc.replace("gcc", "objdump") if cc.endswith("gcc") else "x86_64-w64-mingw32-objdump"
    text = subprocess.run([objdump, "-p", str(dll)], capture_output=True, text=True, check=True).stdout
    table = text.split("[Ordinal/Name Pointer] Table", 1)[-1]
    return set(re.findall(r"^\s*\[\s*\d+\]\s+(\w+)\s*$", table, flags=re.M))


if __name__ == "__main__":
    sys.exit(main())
