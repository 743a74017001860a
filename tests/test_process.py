"""Process against the fake HCS: real OS processes, their std pipes, exit codes, signals and lifetimes."""

from __future__ import annotations

import time

import pytest

import pyhcs
from pyhcs import ComputeSystem
from tests.support import IS_WINDOWS, container_document, sh, unique_id, win_sleep

posix_only = pytest.mark.skipif(IS_WINDOWS, reason="uses /bin/sh syntax and POSIX signals")


@pytest.fixture
def system():
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as s:
        s.start(timeout=10)
        yield s


def test_run_returns_exit_code_stdout_and_stderr(system) -> None:
    code, out, err = system.run(sh("echo out; echo err >&2; exit 3", "cmd /c \"echo out& echo err 1>&2& exit 3\""),
                                timeout=10)
    assert code == 3
    assert out.strip() == b"out" and err.strip() == b"err"


def test_quick_exit_loses_no_output(system) -> None:
    """The exit is reported only after stdout was read to EOF."""
    payload = "x" * 100_000
    for _ in range(20):
        code, out, _ = system.run(sh(f"printf {payload}", f"cmd /c echo {payload[:1000]}"), timeout=10)
        assert code == 0 and out.strip() == (payload if not IS_WINDOWS else payload[:1000]).encode()


def test_stdin_round_trip_and_close_stdin(system) -> None:
    with system.create_process(sh("cat", "cmd /c more"), timeout=10) as p:
        assert p.pid > 0
        p.stdin.write(b"hello\n")
        p.close_stdin()
        assert p.stdout.read().strip() == b"hello"
        assert p.wait(timeout=10) == 0


@posix_only
def test_environment_and_working_directory(system, tmp_path) -> None:
    code, out, _ = system.run("echo $PYHCS_X; pwd", environment={"PYHCS_X": "42"}, working_directory=str(tmp_path),
                              timeout=10)
    assert code == 0 and out.split() == [b"42", str(tmp_path).encode()]


def test_communicate_with_input(system) -> None:
    code, out, _ = system.run(sh("tr a-z A-Z", "cmd /c more"), input=b"shout\n", timeout=10)
    assert code == 0 and out.strip().upper() == b"SHOUT"


def test_exit_code_is_seen_by_wait_and_property(system) -> None:
    with system.create_process(sh("exit 7", "cmd /c exit 7"), stdin=False, timeout=10) as p:
        assert p.wait(timeout=10) == 7
        assert p.exit_code == 7
        assert p.exit_status["Exited"] is True


def test_wait_timeout_raises_timeout_error(system) -> None:
    with system.create_process(sh("sleep 5", win_sleep(5)), stdin=False, timeout=10) as p:
        with pytest.raises(pyhcs.HcsTimeoutError):
            p.wait(timeout=0.05)
        assert p.terminate() is True
        p.wait(timeout=10)


def test_terminate_twice_is_not_an_error(system) -> None:
    """A second HcsTerminateProcess gives HCS_E_PROCESS_ALREADY_STOPPED (hcsshim v2/process.go Kill)."""
    with system.create_process(sh("sleep 5", win_sleep(5)), stdin=False, timeout=10) as p:
        assert p.terminate() is True
        p.wait(timeout=10)
        assert p.terminate() is False


@posix_only
def test_signal_ctrl_c_interrupts(system) -> None:
    with system.create_process("trap 'echo got-int; exit 130' INT; echo ready; while :; do sleep 0.05; done",
                               stdin=False, timeout=10) as p:
        assert p.stdout.readline().strip() == b"ready"
        p.signal("CtrlC")
        assert p.stdout.read().strip() == b"got-int"
        assert p.wait(timeout=10) == 130


def test_bad_signal_is_rejected_before_hcs(system) -> None:
    with system.create_process(sh("sleep 5", win_sleep(5)), stdin=False, timeout=10) as p:
        with pytest.raises(ValueError):
            p.signal("SIGTERM")
        with pytest.raises(ValueError):
            p.signal(0)
        p.terminate()


@posix_only
def test_emulate_console_and_resize(system) -> None:
    with system.create_process("stty size; read x; stty size", emulate_console=True,
                               console_size=pyhcs.ConsoleSize(width=80, height=24), timeout=10) as p:
        assert p.stderr is None
        first = p.stdout.readline()
        assert first.split() == [b"24", b"80"]
        p.resize_console(width=100, height=30)
        p.stdin.write(b"go\n")
        assert b"30 100" in p.stdout.read()  # the console's end reads as end of file (EIO is not an error)
        assert p.wait(timeout=10) == 0


def test_properties_report_process_status(system) -> None:
    with system.create_process(sh("sleep 5", win_sleep(5)), stdin=False, timeout=10) as p:
        status = p.properties(timeout=10)
        assert status["ProcessId"] == p.pid and status["Exited"] is False
        p.terminate()
        p.wait(timeout=10)


def test_open_process_by_pid_sees_its_exit(system) -> None:
    with system.create_process(sh("sleep 0.3", win_sleep(1)), stdin=False, timeout=10) as p:
        with system.open_process(p.pid) as other:
            assert other.stdout is None
            assert other.wait(timeout=10) == 0


def test_open_unknown_pid_raises_not_found(system) -> None:
    with pytest.raises(pyhcs.HcsNotFoundError):
        system.open_process(0x7FFFFFF0)


def test_process_info_returns_fresh_handles(system) -> None:
    with system.create_process(sh("sleep 5", win_sleep(5)), timeout=10) as p:
        with p.process_info(timeout=10) as info:
            assert info.process_id == p.pid
            assert info.stdin is not None and info.stdout is not None and info.stderr is not None
        assert info.stdout.closed and info.stdin.closed
        p.terminate()


def test_create_process_in_created_system_is_invalid_state() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as s:
        with pytest.raises(pyhcs.HcsInvalidStateError):
            s.create_process(sh("true", "cmd /c exit 0"), timeout=10)


def test_exit_storm_every_exit_seen_exactly_once(system, fake) -> None:
    """ProcessExited arrives exactly once per process handle (HCS_EVENT.md), even with hundreds of short processes;
    a process that exits before its callback is registered is still seen once (HcsWaitForProcessExit)."""
    processes = [
        system.create_process(sh(f"exit {i % 50}", f"cmd /c exit {i % 50}"), stdin=False, stdout=False,
                              stderr=False, timeout=10)
        for i in range(300)
    ]
    try:
        assert [p.wait(timeout=20) for p in processes] == [i % 50 for i in range(300)]
        assert fake.wait_quiescent(10)
        assert all(p._hub.native_exit_events <= 1 for p in processes)
        assert sum(p._hub.native_exit_events for p in processes) >= 1
    finally:
        for p in processes:
            p.close()


def test_shutdown_ends_processes_and_they_report_exit(system) -> None:
    p = system.create_process(sh("sleep 30", win_sleep(30)), stdin=False, timeout=10)
    try:
        system.terminate(timeout=10)
        p.wait(timeout=10)
        assert p.exit_code is not None
    finally:
        p.close()


@posix_only
def test_pause_stops_output_and_resume_continues(system) -> None:
    with system.create_process("i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done", stdin=False,
                               timeout=10) as p:
        p.stdout.readline()
        system.pause(timeout=10)
        time.sleep(0.1)
        import select

        # drain what was written before the pause
        while select.select([p.stdout], [], [], 0.1)[0]:
            if not p.stdout.read1(65536):
                break
        assert not select.select([p.stdout], [], [], 0.3)[0], "a paused system's process kept writing"
        system.resume(timeout=10)
        assert select.select([p.stdout], [], [], 5)[0]
        p.terminate()


def test_keyword_validation_is_typed(system) -> None:
    with pytest.raises(TypeError):
        system.create_process(None)
    with pytest.raises(TypeError):
        system.create_process("x", environment={"A": 1})
    with pytest.raises(ValueError):
        system.create_process("x", environment={"A=B": "1"})
    with pytest.raises(ValueError):
        system.create_process("x", console_size=pyhcs.ConsoleSize(width=70000, height=1))
    with pytest.raises(TypeError):
        system.create_process(b"bytes")
    with pytest.raises(TypeError):
        system.create_process("x", document={"CommandLine": "y"})
