"""The Windows-only code paths of pyhcs, run for real by Windows CPython under Wine against the mingw-built fake
(tests/windows/run_wine.py). Off Windows every test here is skipped: the POSIX leg covers the same behaviour through
file descriptors and the fake's own LocalFree.

What only Windows exercises: loading computecore.dll from the system directory, LocalFree from kernel32, UTF-16 with
a 2-byte wchar_t, Win32 pipe HANDLEs turned into files with msvcrt.open_osfhandle, callbacks arriving on Win32
threads the fake created, and the fake's Windows delivery of console control signals (tests/fakes/README-windows.md).
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

import pyhcs
from pyhcs import ComputeSystem
from pyhcs._ffi import ffi, lib, loader, storage_lib
from pyhcs._strings import to_wide
from tests.support import container_document, unique_id, win_sleep

pytestmark = pytest.mark.skipif(sys.platform != "win32", reason="Windows-only code path (runs in the Wine leg)")

# STATUS_CONTROL_C_EXIT: the exit code of a console process ended by the default console control handler. The
# fake's Windows delivery of CtrlC/CtrlBreak/CtrlClose/CtrlLogOff/CtrlShutdown (tests/fakes/README-windows.md).
STATUS_CONTROL_C_EXIT = 0xC000013A
# A process that prints a line and then keeps running for about 30 s (cmd has no sleep; ping waits 1 s per echo).
LONG_RUNNING = win_sleep(29, before="ready")


@pytest.fixture
def system():
    with ComputeSystem.create(unique_id("win"), container_document(), timeout=10) as s:
        s.start(timeout=10)
        yield s


def _kernel32_proc(name: str) -> int:
    import ctypes

    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    k32.GetModuleHandleW.restype = ctypes.c_void_p
    k32.GetProcAddress.restype = ctypes.c_void_p
    k32.GetProcAddress.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return int(k32.GetProcAddress(k32.GetModuleHandleW("kernel32.dll"), name.encode()))


# ---------------------------------------------------------------------------------------------------- loading
def test_default_library_is_the_system_directorys_computecore(monkeypatch) -> None:
    """Without an override pyhcs names computecore.dll / computestorage.dll in GetSystemDirectoryW(), by full path,
    so a DLL planted in the current folder or on PATH is never loaded."""
    monkeypatch.delenv(loader.ENV_COMPUTECORE, raising=False)
    monkeypatch.delenv(loader.ENV_COMPUTESTORAGE, raising=False)
    monkeypatch.setattr(loader, "_overrides", {"computecore": None, "computestorage": None})
    system_dir = os.environ.get("SystemRoot", r"C:\windows") + r"\system32"
    assert loader.library_path("computecore").lower() == (system_dir + r"\computecore.dll").lower()
    assert loader.library_path("computestorage").lower() == (system_dir + r"\computestorage.dll").lower()


def test_the_fake_is_loaded_by_its_full_windows_path(fake_library) -> None:
    core = loader.load("computecore")
    assert str(fake_library).lower().endswith("computecore.dll") and os.path.isabs(str(fake_library))
    assert core is loader.load("computecore")


def test_computestorage_shares_the_fake_with_computecore(fake) -> None:
    """computestorage.dll forwards to computecore.dll: a fault injected through the control API (computecore)
    reaches a storage function called through computestorage."""
    fake.inject_fault("HcsDestroyLayer", 0x80070005, sync=True)
    hr = storage_lib.HcsDestroyLayer(to_wide(r"C:\no\such\layer"))
    assert hr & 0xFFFFFFFF == 0x80070005


# ---------------------------------------------------------------------------------------------------- LocalFree
def test_local_free_is_kernel32s_and_the_fake_exports_none() -> None:
    free = loader._local_free_function()
    assert int(ffi.cast("uintptr_t", free)) == _kernel32_proc("LocalFree")
    with pytest.raises((AttributeError, ffi.error)):
        loader.load("computecore").LocalFree  # noqa: B018 -- only the POSIX fake exports LocalFree


def test_result_strings_are_local_alloc_blocks_freed_by_kernel32(system, fake) -> None:
    """A result string is outstanding until kernel32's LocalFree frees it; the fake sees that through the heap."""
    before = fake.counters()["OutstandingStrings"]
    out = ffi.new("PWSTR *")
    assert lib.HcsGetServiceProperties(to_wide('{"PropertyTypes":["Basic"]}'), out) == 0
    try:
        assert "SupportedSchemaVersions" in ffi.string(out[0])
        assert fake.counters()["OutstandingStrings"] == before + 1
    finally:
        loader.local_free(out[0])
    assert fake.counters()["OutstandingStrings"] == before


# ---------------------------------------------------------------------------------------------------- UTF-16
def test_wchar_is_two_bytes_and_non_bmp_text_round_trips(fake) -> None:
    assert ffi.sizeof("WCHAR") == 2
    system_id = unique_id("win-\u00e9\u4e2d\U0001f600")
    with ComputeSystem.create(system_id, container_document(), timeout=10) as s:
        assert s.id == system_id
        assert s.properties(timeout=10)["Id"] == system_id
        assert any(p["Id"] == system_id for p in ComputeSystem.enumerate(timeout=10))


# ---------------------------------------------------------------------------------------------------- handles
def test_std_handles_are_win32_pipes_turned_into_files(system) -> None:
    with system.create_process("cmd /c \"echo out& echo err 1>&2\"", stdin=False, timeout=10) as p:
        assert p.stdout.read() == b"out\r\n"
        assert p.stderr.read() == b"err \r\n"
        assert p.wait(timeout=10) == 0


def test_process_info_gives_fresh_handles_each_time(system) -> None:
    import msvcrt

    with system.create_process(LONG_RUNNING, stdin=False, timeout=10) as p:
        assert p.stdout.readline() == b"ready\r\n"
        with p.process_info(timeout=10) as first, p.process_info(timeout=10) as second:
            assert first.process_id == second.process_id == p.pid
            assert first.stdout is not None and second.stdout is not None
            handles = {msvcrt.get_osfhandle(f.fileno()) for f in (first.stdout, second.stdout, p.stdout)}
            assert len(handles) == 3  # fresh Win32 handles each time, each owned by its file
        p.terminate(timeout=10)


def test_stdin_pipe_reaches_the_child(system) -> None:
    with system.create_process("cmd /c \"set /p line=& call echo got %line%\"", stderr=False, timeout=10) as p:
        p.stdin.write(b"ping\r\n")
        p.close_stdin(timeout=10)
        assert p.stdout.read().strip() == b"got ping"
        assert p.wait(timeout=10) == 0


def test_environment_replaces_and_working_directory_is_used(system, tmp_path) -> None:
    env = {"PYHCS_X": "42", "SystemRoot": os.environ.get("SystemRoot", r"C:\windows")}
    code, out, _ = system.run("cmd /c \"echo %PYHCS_X%& cd\"", environment=env, working_directory=str(tmp_path),
                              timeout=10)
    assert code == 0
    assert out.split(b"\r\n")[:2] == [b"42", str(tmp_path).encode()]


def test_emulate_console_is_one_bidirectional_stream(system) -> None:
    """No pseudo console under the fake on Windows: stdin and stdout are one duplex pipe, stderr merged into it."""
    with system.create_process("cmd /c \"set /p x=& call echo got %x%& echo err 1>&2\"", emulate_console=True,
                               console_size=pyhcs.ConsoleSize(width=100, height=30), timeout=10) as p:
        assert p.stderr is None
        p.resize_console(width=120, height=40)
        p.stdin.write(b"hi\r\n")
        p.stdin.flush()
        out = b""
        while b"err" not in out:
            chunk = p.stdout.read1(4096)
            if not chunk:
                break
            out += chunk
        assert b"got hi" in out and b"err" in out
        assert p.wait(timeout=10) == 0


# ---------------------------------------------------------------------------------------------------- signals
@pytest.mark.parametrize("signal", ["CtrlC", "CtrlBreak", "CtrlClose", "CtrlLogOff", "CtrlShutdown"])
def test_console_control_signal_ends_the_process_like_the_default_handler(system, signal) -> None:
    """Console control events are not generated (unreliable under Wine, and these processes have no console); the
    fake ends the process as the default handler would: exit code STATUS_CONTROL_C_EXIT."""
    with system.create_process(LONG_RUNNING, stdin=False, timeout=10) as p:
        assert p.stdout.readline() == b"ready\r\n"
        started = time.monotonic()
        p.signal(signal, timeout=10)
        assert p.wait(timeout=10) == STATUS_CONTROL_C_EXIT
        assert time.monotonic() - started < 5
        assert p.stdout.read() == b""  # the whole job (cmd and its ping) is gone: the pipe is at EOF


def test_terminate_ends_the_whole_job_with_128_plus_sigkill(system) -> None:
    with system.create_process(LONG_RUNNING, stdin=False, timeout=10) as p:
        assert p.stdout.readline() == b"ready\r\n"
        p.terminate(timeout=10)
        assert p.wait(timeout=10) == 128 + 9
        assert p.stdout.read() == b""


def test_pause_suspends_processes_and_resume_continues_them(system) -> None:
    """SIGSTOP / SIGCONT of the POSIX fake are NtSuspendProcess / NtResumeProcess of every process in the job."""
    import queue

    ticker = "cmd /c \"for /l %i in (1,1,10000000) do @echo t\""
    with system.create_process(ticker, stdin=False, stderr=False, timeout=10) as p:
        chunks: "queue.Queue[bytes]" = queue.Queue()
        reader = threading.Thread(target=lambda: [chunks.put(c) for c in iter(lambda: p.stdout.read1(65536), b"")],
                                  daemon=True)
        reader.start()
        assert chunks.get(timeout=10)  # output again (any bytes: a chunk may start mid-line)
        system.pause(timeout=10)
        deadline = time.monotonic() + 10
        while True:  # what was written before the suspension drains, then nothing comes for a second
            try:
                chunks.get(timeout=1.0)
            except queue.Empty:
                break
            assert time.monotonic() < deadline, "output kept flowing from a paused system"
        system.resume(timeout=10)
        assert chunks.get(timeout=10)  # output again (any bytes: a chunk may start mid-line)
        p.terminate(timeout=10)
        reader.join(10)


# ---------------------------------------------------------------------------------------------------- threads
def test_callbacks_arrive_on_win32_threads_of_the_fake() -> None:
    """An HCS_OPERATION_COMPLETION runs on a thread the fake created with CreateThread, not a Python thread."""
    seen = []
    done = threading.Event()

    @ffi.callback("HCS_OPERATION_COMPLETION")
    def completion(operation, context):  # type: ignore[no-untyped-def]
        seen.append((threading.get_native_id(), type(threading.current_thread()).__name__))
        done.set()

    op = lib.HcsCreateOperation(ffi.NULL, completion)
    try:
        assert lib.HcsEnumerateComputeSystems(ffi.NULL, op) == 0
        assert done.wait(10)
        out = ffi.new("PWSTR *")
        assert lib.HcsGetOperationResult(op, out) == 0
        loader.local_free(out[0])
    finally:
        lib.HcsCloseOperation(op)
    native_id, thread_type = seen[0]
    assert native_id != threading.get_native_id()
    assert thread_type == "_DummyThread"  # a foreign thread cffi attached to the interpreter
