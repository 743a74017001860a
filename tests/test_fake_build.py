"""The fake HCS as a build artifact: exact export set, cached/concurrent builds, and a sanitizer stress run.

The export set is what pyhcs declares (src/pyhcs/_ffi/decl/computecore.h: 59 functions, computestorage.h: 14) plus
LocalFree and the FakeHcs* control API -- nothing else leaks out of the library (-fvisibility=hidden).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.fakes import build

DECL = build.DECL
CONTROL = ["FakeHcsReset", "FakeHcsInjectFault", "FakeHcsSetLatency", "FakeHcsSetMinimumDuration",
           "FakeHcsSimulateServiceDisconnect", "FakeHcsSimulateUnexpectedExit", "FakeHcsGetCounters", "FakeHcsWaitIdle",
           # service mode (fakehcs_control.h): counters of every client, of one client, the clients, the connection
           "FakeHcsGetGlobalCounters", "FakeHcsGetClientCounters", "FakeHcsListClients", "FakeHcsServiceStatus",
           # the host the fake checks container images against (README "Utility VMs and pods")
           "FakeHcsSetHostOsVersion", "FakeHcsGetHostOsVersion"]


def _declared(header: str) -> list:
    return re.findall(r"WINAPI\s+\**(\w+)\s*\(", (DECL / header).read_text())


def test_exports_exactly_the_declared_functions(fake_library) -> None:
    core, stor = _declared("computecore.h"), _declared("computestorage.h")
    assert (len(core), len(stor)) == (59, 14)
    if sys.platform == "win32" or shutil.which("nm") is None:
        pytest.skip("needs nm on an ELF build")
    out = subprocess.run(["nm", "-D", "--defined-only", str(fake_library)], capture_output=True, text=True,
                         check=True).stdout
    exported = {line.split()[-1] for line in out.splitlines() if line.strip()}
    exported = {name for name in exported if not name.startswith(("_init", "_fini"))}
    assert exported == set(core) | set(stor) | {"LocalFree"} | set(CONTROL)


def test_build_is_cached_and_safe_when_concurrent(tmp_path, monkeypatch, fake) -> None:
    """build_fake(): one cached library per source hash; concurrent builders rename atomically into place."""
    if sys.platform == "win32":
        pytest.skip("POSIX build")
    monkeypatch.setattr(build, "BUILD_ROOT", tmp_path / "_build")
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(build.build_fake())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 2 and results[0] == results[1] and results[0].is_file()
    assert results[0].parent.parent == tmp_path / "_build"
    assert [p.name for p in results[0].parent.iterdir()] == ["libfakehcs.so"]  # no temporary files left
    mtime = results[0].stat().st_mtime_ns
    assert build.build_fake() == results[0] and results[0].stat().st_mtime_ns == mtime


def _sanitizer_run(tmp_path: Path, flags: list, env: dict) -> None:
    cc = build._compiler()
    exe = tmp_path / "stress"
    sources = [str(p) for p in build._sources()]
    cmd = cc + ["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread"] + flags + \
        [f"-I{build.HERE}", f"-I{DECL}", "-o", str(exe), str(build.HERE / "tools" / "stress.c")] + sources
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        if "sanitize" in proc.stderr or "cannot find" in proc.stderr:
            pytest.skip(f"compiler lacks {flags}: {proc.stderr[-300:]}")
        raise AssertionError(proc.stderr)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=240, env=dict(os.environ, **env))
    if run.returncode < 0 and not run.stdout:
        pytest.skip(f"the {flags} runtime does not start here (signal {-run.returncode})")
    assert run.returncode == 0 and "leaks=0" in run.stdout, run.stdout + run.stderr[-4000:]
    assert "WARNING: ThreadSanitizer" not in run.stderr and "ERROR: AddressSanitizer" not in run.stderr, \
        run.stderr[-4000:]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX build")
def test_stress_under_thread_sanitizer(tmp_path, fake) -> None:
    """Many threads on systems, processes, callbacks, in-flight closes and unexpected exits: no data race, no leak."""
    _sanitizer_run(tmp_path, ["-fsanitize=thread"], {"TSAN_OPTIONS": "halt_on_error=1 report_signal_unsafe=0"})


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX build")
def test_stress_under_address_sanitizer(tmp_path, fake) -> None:
    """The same run under AddressSanitizer + UBSan, including leak detection of the fake's own memory."""
    _sanitizer_run(tmp_path, ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
                   {"ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"})
