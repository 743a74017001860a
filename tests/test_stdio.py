"""A process's std files and streams as users of ``subprocess`` and ``asyncio`` expect them (issue 8, items 1-3, 5,
6): a console's end reads as end of file after its output, closing stdin ends the process's input, the asyncio stdin
is shaped like ``asyncio.StreamWriter``, ``close()`` returns at once and wakes every thread using the process, and no
descriptor of ours outlives its process.

Sources: hcsshim internal/hcs/v2/process.go (CloseStdin closes the local pipe *and* sends ProcessModifyRequest
CloseHandle StdIn; StdioLegacy keeps its own copy of each pipe), utils.go makeOpenFiles (the std handles belong to the
caller); Linux pty(7) (reading the master after the slave closed fails with EIO once the buffered data is read).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import threading
import time

import pytest

import pyhcs
from pyhcs import ComputeSystem
from tests.support import IS_WINDOWS, container_document, sh, unique_id, win_sleep

LONG = sh("sleep 30", win_sleep(30))
CAT = sh("cat", "cmd /c more")
VISIBLE = sh("echo visible", "cmd /c echo visible")
posix_only = pytest.mark.skipif(IS_WINDOWS, reason="uses /proc or a Linux pseudo terminal")


@pytest.fixture
def system():
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as s:
        s.start(timeout=10)
        yield s


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def _in_thread(fn):
    """Run *fn* on a thread; return (thread, box) where box gets ("ok", value) or ("error", exception)."""
    box = []

    def target():
        try:
            box.append(("ok", fn()))
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            box.append(("error", exc))

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box


# ---------------------------------------------------------------------------------------- 1. console end of file
def test_console_output_reads_to_end_of_file_after_the_data(system) -> None:
    """A pty's end fails reads with EIO after the buffered output (pty(7)); stdout.read() must return the output."""
    with system.create_process(VISIBLE, emulate_console=True, timeout=10) as p:
        assert p.stdout.read().strip() == b"visible"
        assert p.stdout.read() == b""
        assert p.wait(timeout=10) == 0


def test_run_and_communicate_return_console_output(system) -> None:
    assert system.run(VISIBLE, emulate_console=True, timeout=10).stdout.strip() == b"visible"
    with system.create_process(VISIBLE, emulate_console=True, timeout=10) as p:
        out, err = p.communicate(timeout=10)
        assert (out.strip(), err) == (b"visible", b"")


def test_asyncio_streams_read_console_output_then_end_of_file(system) -> None:
    async def main() -> None:
        process = await system.create_process_async(VISIBLE, emulate_console=True)
        async with process:
            _, stdout, _ = await process.streams()
            assert (await stdout.read()).strip() == b"visible"
            assert stdout.at_eof()
        result = await system.run_async(VISIBLE, emulate_console=True)
        assert (result.exit_code, result.stdout.strip()) == (0, b"visible")

    run(main())


# -------------------------------------------------------------------------------------------- 2. closing stdin
def test_closing_stdin_gives_the_process_end_of_input(system) -> None:
    """Closing our copy alone leaves HCS's copy open (StdioLegacy); stdin.close() also sends CloseHandle StdIn."""
    with system.create_process(CAT, timeout=10) as p:
        p.stdin.write(b"hello\n")
        p.stdin.close()
        assert p.wait(timeout=10) == 0
        assert p.stdout.read().strip() == b"hello"


def test_closing_stdin_from_another_thread_gives_end_of_input(system) -> None:
    with system.create_process(CAT, timeout=10) as p:
        t, _ = _in_thread(p.stdin.close)
        t.join(5)
        assert p.wait(timeout=10) == 0


def test_closing_stdin_of_an_exited_process_returns_at_once(system, fake) -> None:
    with system.create_process(sh("exit 0", "cmd /c exit 0"), timeout=10) as p:
        p.wait(timeout=10)
        started = time.monotonic()
        p.stdin.close()
        p.close_stdin(timeout=10)  # nothing left to do: not an error
        assert time.monotonic() - started < 1


def test_closing_the_asyncio_stdin_gives_the_process_end_of_input(system) -> None:
    async def main() -> None:
        process = await system.create_process_async(CAT)
        async with process:
            stdin, stdout, _ = await process.streams()
            stdin.write(b"ping\n")
            stdin.close()
            await stdin.wait_closed()
            assert (await stdout.read()).strip() == b"ping"
            assert await asyncio.wait_for(process.wait_async(), 10) == 0

    run(main())


# ----------------------------------------------------------------------------- 3. asyncio stdin as a StreamWriter
def test_asyncio_stdin_is_shaped_like_a_stream_writer(system) -> None:
    """write() and close() are plain methods, drain() and wait_closed() coroutines, as on asyncio.StreamWriter."""
    payload = os.urandom(1 << 20)
    # Any bytes, unchanged: cat on Linux; under Wine Python itself (Wine's `more` reads its page prompts from stdin).
    copy = sh("cat", f'"{sys.executable}" -c "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"')

    async def main() -> None:
        process = await system.create_process_async(copy, stderr=False)
        async with process:
            stdin, stdout, _ = await process.streams()
            for name in ("drain", "wait_closed"):
                assert inspect.iscoroutinefunction(getattr(stdin, name)), name
            for name in ("write", "writelines", "close", "write_eof", "is_closing", "can_write_eof"):
                assert not inspect.iscoroutinefunction(getattr(stdin, name)), name
            assert stdin.can_write_eof() and not stdin.is_closing()
            assert stdin.get_extra_info("pipe") is process.stdin
            reader = asyncio.ensure_future(stdout.read())
            for i in range(0, len(payload), 65536):
                assert stdin.write(payload[i:i + 65536]) is None
                await stdin.drain()
            stdin.write_eof()
            assert stdin.is_closing()
            await stdin.wait_closed()
            assert stdin.closed
            with pytest.raises(ValueError):
                stdin.write(b"late")
            received = await reader
            assert received == payload
            assert await process.wait_async() == 0

    run(main())


def test_asyncio_stdin_drain_reports_a_process_that_stopped_reading(system) -> None:
    async def main() -> None:
        process = await system.create_process_async(sh("exec 0<&-; sleep 0.2", "cmd /c exit 0"), stdout=False,
                                                    stderr=False)
        async with process:
            stdin, _, _ = await process.streams()
            await process.wait_async()
            with pytest.raises((BrokenPipeError, ConnectionResetError)):
                for _ in range(64):
                    stdin.write(b"x" * 65536)
                    await stdin.drain()
            stdin.close()
            await stdin.wait_closed()  # closing a broken stdin is not an error

    run(main())


# ---------------------------------------------------------------------------- 5. close() wakes every waiter
def test_close_returns_at_once_and_wakes_a_thread_reading_stdout(system) -> None:
    with system.create_process(LONG, stdin=False, timeout=10) as p:
        t, box = _in_thread(p.stdout.read)
        time.sleep(0.2)
        started = time.monotonic()
        p.close()
        assert time.monotonic() - started < 1
        t.join(5)
        assert not t.is_alive(), "the reader was not woken"
        kind, value = box[0]
        assert kind == "error" and isinstance(value, pyhcs.HcsClosedError), box
        assert value.process_id == p.pid and value.system_id == system.id
        system.open_process(p.pid).terminate(timeout=10)


def test_close_wakes_a_thread_inside_communicate(system) -> None:
    p = system.create_process(LONG, stdin=False, timeout=10)
    t, box = _in_thread(p.communicate)
    time.sleep(0.2)
    started = time.monotonic()
    p.close()
    assert time.monotonic() - started < 1
    t.join(5)
    assert not t.is_alive() and box[0][0] == "error" and isinstance(box[0][1], pyhcs.HcsClosedError), box
    with system.open_process(p.pid) as again:
        again.terminate(timeout=10)


def test_close_wakes_a_thread_in_wait_while_another_reads_stdout(system) -> None:
    """The waiter was left hanging when close() itself hung on the reader's buffer lock."""
    p = system.create_process(LONG, stdin=False, timeout=10)
    waiter, waited = _in_thread(lambda: p.wait(timeout=30))
    reader, _ = _in_thread(p.stdout.read)
    time.sleep(0.2)
    started = time.monotonic()
    p.close()
    assert time.monotonic() - started < 1
    waiter.join(2)
    reader.join(2)
    assert not waiter.is_alive() and not reader.is_alive()
    assert isinstance(waited[0][1], pyhcs.HcsClosedError), waited
    with system.open_process(p.pid) as again:
        again.terminate(timeout=10)


def test_close_wakes_a_thread_blocked_writing_stdin(system) -> None:
    """A process that does not read: the pipe fills up and the write blocks until close() wakes it."""
    p = system.create_process(LONG, stdout=False, stderr=False, timeout=10)
    t, box = _in_thread(lambda: p.stdin.write(b"x" * (4 << 20)))
    time.sleep(0.3)
    assert t.is_alive()
    started = time.monotonic()
    p.close()
    assert time.monotonic() - started < 1
    t.join(5)
    assert not t.is_alive() and isinstance(box[0][1], pyhcs.HcsClosedError), box
    with system.open_process(p.pid) as again:
        again.terminate(timeout=10)


def test_closing_stdout_itself_wakes_its_reader(system) -> None:
    """A buffered file's close() would wait for the read in flight; ours wakes the reader with ValueError."""
    with system.create_process(LONG, stdin=False, timeout=10) as p:
        t, box = _in_thread(p.stdout.read)
        time.sleep(0.2)
        started = time.monotonic()
        p.stdout.close()
        assert time.monotonic() - started < 1 and p.stdout.closed
        t.join(5)
        assert not t.is_alive() and isinstance(box[0][1], ValueError), box
        p.terminate(timeout=10)


# ------------------------------------------------------------------------------------- 6. descriptors (ours)
def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@posix_only
def test_process_info_files_are_closed_with_their_owner(system) -> None:
    """HcsGetProcessInfo hands out a fresh set each call that pyhcs alone holds: 100 calls leave no descriptor."""
    with system.create_process(LONG, timeout=10) as p:
        with p.process_info(timeout=10):
            pass
        before = _fds()
        for _ in range(100):
            with p.process_info(timeout=10) as info:
                assert info.stdout.fileno() >= 0
        assert _fds() == before
        p.terminate(timeout=10)


@posix_only
def test_many_processes_leave_no_descriptor_of_ours(fake) -> None:
    """Every way of running a process, 20 times each; once the system handle closed (the fake then drops its
    own copies of the pipes), not one descriptor is left: files, wake-up pipes and streams are all closed."""
    async def asynchronous(system: ComputeSystem) -> None:
        await system.run_async(sh("cat", ""), input=b"x")
        process = await system.create_process_async(LONG)
        async with process:
            stdin, stdout, _ = await process.streams()
            stdin.write(b"data")
            await process.terminate_async()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(system.run_async(LONG), 0.05)

    before = _fds()
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        for _ in range(20):
            system.run("echo out; echo err >&2", timeout=10)
            system.run("cat", input=b"in", timeout=10)
            system.run("echo console", emulate_console=True, timeout=10)
            with pytest.raises(pyhcs.HcsProcessTimeoutError):
                system.run("echo partial; sleep 30", timeout=0.2)
            with system.create_process(LONG, timeout=10) as p:
                t, _ = _in_thread(p.stdout.read)
                time.sleep(0.01)
            t.join(5)
            with system.create_process(LONG, timeout=10) as p:
                p.process_info(timeout=10).close()
                p.terminate(timeout=10)
            asyncio.run(asynchronous(system))
    assert fake.wait_quiescent(10)
    deadline = time.monotonic() + 5
    while _fds() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _fds() <= before
