"""The fake HCS: processes are real OS processes (raw pyhcs._ffi layer).

Sources: SchemaReference.md ProcessParameters / ProcessStatus / SignalProcessOptions / ProcessModifyRequest;
Reference/HcsCreateProcess.md, HcsOpenProcess.md, HcsWaitForProcessExit.md; hcsshim internal/hcs/v2/process.go
(Kill, CloseStdin, ResizeConsole, StdioLegacy), v2/utils.go (makeOpenFiles: caller-owned handles), v2/errors.go.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time

import pytest

from tests.fakes.rawhcs import (
    INFINITE,
    INVALID_HANDLE_VALUE,
    service_mode,
    IS_WINDOWS,
    SLEEP_30,
    SLEEP_SHORT,
    TRUE,
    shell,
    E_INVALIDARG,
    E_NOT_FOUND,
    GENERIC_ALL,
    HCS_E_INVALID_JSON,
    HCS_E_INVALID_STATE,
    HCS_E_OPERATION_TIMEOUT,
    HCS_E_PROCESS_ALREADY_STOPPED,
    S_OK,
    close_handle,
    close_info,
    create_process,
    create_system,
    doc,
    echo,
    fd_of,
    ffi,
    handle_value,
    lib,
    operation,
    process_call,
    read_all,
    result,
    running_system,
    system_call,
    take_wide,
    terminate,
    u32,
    wait,
    wait_process_exit,
    wait_process_info,
)
from tests.support import open_descriptor_count, wait_for_trap, win_sleep

CLOSE_STDIN = {"Operation": "CloseHandle", "CloseHandle": {"Handle": "StdIn"}}


@pytest.fixture
def system():
    with running_system() as s:
        yield s


def test_real_process_stdout_and_stderr_through_the_handles(system, fake) -> None:
    """HCS_PROCESS_INFORMATION handles are caller-owned fds (off Windows); ProcessId is the real pid."""
    proc, info = create_process(system, {"CommandLine": shell("echo out; echo err >&2; exit 7",
                                                               'cmd /c "echo out& echo err 1>&2& exit 7"'),
                                         "CreateStdOutPipe": True, "CreateStdErrPipe": True})
    assert info["stdin"] is None  # not requested -> NULL
    assert read_all(info["stdout"]).rstrip() == b"out" and read_all(info["stderr"]).rstrip() == b"err"
    status = wait_process_exit(proc)
    assert status == {"ProcessId": info["pid"], "Exited": True, "ExitCode": 7, "LastWaitResult": 0}
    close_info(info)
    lib.HcsCloseProcess(proc)


@pytest.mark.skipif(IS_WINDOWS, reason="select() on pipes is POSIX-only; tests/windows covers stdin and CloseHandle StdIn")
def test_stdin_pipe_and_close_handle_request(system, fake) -> None:
    """stdin reaches the process; EOF needs the caller's handle closed *and* ProcessModifyRequest CloseHandle StdIn
    (hcsshim v2/process.go CloseStdin does both; StdioLegacy: closing the returned pipes does not close the
    underlying ones)."""
    proc, info = create_process(system, {"CommandLine": "cat", "CreateStdInPipe": True, "CreateStdOutPipe": True})
    os.write(info["stdin"], b"hello\n")
    os.close(info["stdin"])
    info["stdin"] = None
    r, _, _ = select.select([info["stdout"]], [], [], 5)
    assert r and os.read(info["stdout"], 100) == b"hello\n"
    out = ffi.new("PWSTR *")
    assert u32(lib.HcsWaitForProcessExit(proc, 200, out)) == HCS_E_OPERATION_TIMEOUT  # the fake still holds stdin
    assert process_call(lib.HcsModifyProcess, proc, CLOSE_STDIN)[0] == S_OK
    assert read_all(info["stdout"]) == b""
    assert wait_process_exit(proc)["ExitCode"] == 0
    # HcsModifyProcess fails once the process has exited (hcsshim CloseStdin checks stopped() first)
    assert process_call(lib.HcsModifyProcess, proc, CLOSE_STDIN)[0] == HCS_E_PROCESS_ALREADY_STOPPED
    close_info(info)
    lib.HcsCloseProcess(proc)


@pytest.mark.skipif(IS_WINDOWS, reason="/bin/sh syntax; tests/windows covers Environment and WorkingDirectory with cmd.exe")
def test_environment_replaces_and_working_directory(system, fake, tmp_path) -> None:
    """ProcessParameters Environment (choice: replaces the environment, CreateProcessW semantics) and
    WorkingDirectory."""
    proc, info = create_process(system, {"CommandLine": 'echo "$FOO|$HOME|$(pwd)"', "CreateStdOutPipe": True,
                                         "Environment": {"FOO": "bar baz", "PATH": "/usr/bin:/bin"},
                                         "WorkingDirectory": str(tmp_path)})
    assert read_all(info["stdout"]).decode() == f"bar baz||{tmp_path}\n"
    wait_process_exit(proc)
    close_info(info)
    lib.HcsCloseProcess(proc)
    # Without Environment the environment of the process the engine runs in is inherited: this one in process, the
    # fakehcs-service process in service mode (as a container's processes never see their client's environment;
    # the session's service is started with FAKEHCS_TEST_INHERIT=yes, tests/conftest.py).
    if service_mode() and not os.environ.get("PYHCS_TEST_SESSION_SERVICE"):
        pytest.skip("the environment of a service this session did not start is unknown")
    if not service_mode():
        os.environ["FAKEHCS_TEST_INHERIT"] = "yes"
    proc, info = create_process(system, {"CommandLine": "echo $FAKEHCS_TEST_INHERIT", "CreateStdOutPipe": True})
    assert read_all(info["stdout"]) == b"yes\n"
    wait_process_exit(proc)
    close_info(info)
    lib.HcsCloseProcess(proc)


def test_bad_working_directory_fails_the_operation(system, fake) -> None:
    handle = ffi.new("HCS_PROCESS *")
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, doc({"CommandLine": TRUE, "WorkingDirectory": "/no/such/dir"}),
                                        op, ffi.NULL, handle)) == S_OK
        hr, info, text = wait_process_info(op)
        assert hr == 0x8007010B and json.loads(text)["ErrorMessage"]  # HRESULT_FROM_WIN32(ERROR_DIRECTORY)
        assert info["pid"] == 0 and info["stdout"] is None
    lib.HcsCloseProcess(handle[0])


@pytest.mark.parametrize("parameters", ["{nope", "[]", {"CommandArgs": "not a list"}, {"Environment": {"A": 1}},
                                        {"ConsoleSize": [24]}])
def test_malformed_process_parameters_fail_the_operation_not_the_call(system, fake, parameters) -> None:
    """HcsCreateProcess.md: S_OK means the operation started; what goes wrong creating the process is the
    operation's result (as HcsCreateComputeSystem.md "Operation Results" says for systems). The call returns a
    handle to a process that never starts: its calls fail with ERROR_NOT_FOUND and it must be closed."""
    handle = ffi.new("HCS_PROCESS *")
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, doc(parameters), op, ffi.NULL, handle)) == S_OK
        assert handle[0] != ffi.NULL
        hr, info, text = wait_process_info(op)
        assert hr == HCS_E_INVALID_JSON and json.loads(text)["Error"] & 0xFFFFFFFF == HCS_E_INVALID_JSON
        assert info["pid"] == 0 and info["stdout"] is None
    assert process_call(lib.HcsGetProcessProperties, handle[0])[0] == E_NOT_FOUND
    lib.HcsCloseProcess(handle[0])


def test_missing_required_process_parameters_fail_the_call(system, fake) -> None:
    """processParameters is _In_ (HcsCreateProcess.md): NULL is the caller's error, reported by the call; nothing
    starts (the operation is untouched) and no handle is returned."""
    handle = ffi.new("HCS_PROCESS *")
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, ffi.NULL, op, ffi.NULL, handle)) == E_INVALIDARG
        assert handle[0] == ffi.NULL
        assert result(op)[0] == 0x80370115  # HCS_E_OPERATION_NOT_STARTED


@pytest.mark.skipif(IS_WINDOWS, reason="a pty: on Windows EmulateConsole is a duplex pipe (tests/windows, tests/fakes/README-windows.md)")
def test_emulate_console_is_a_pty(system, fake) -> None:
    """EmulateConsole: a TTY (stderr merged, StdError NULL), ConsoleSize [height, width], resizable with
    ProcessModifyRequest ConsoleSize (hcsshim v2/process.go ResizeConsole)."""
    proc, info = create_process(system, {
        "CommandLine": "test -t 0 && test -t 1 && echo tty; stty size; echo err >&2; read x; stty size",
        "EmulateConsole": True, "CreateStdInPipe": True, "CreateStdOutPipe": True, "CreateStdErrPipe": True,
        "ConsoleSize": [24, 100]})
    assert info["stderr"] is None and info["stdin"] is not None
    buf = b""
    deadline = time.monotonic() + 5
    while b"err" not in buf and time.monotonic() < deadline:
        r, _, _ = select.select([info["stdout"]], [], [], 1)
        if r:
            buf += os.read(info["stdout"], 1000)
    assert b"tty" in buf and b"24 100" in buf and b"err" in buf
    resize = {"Operation": "ConsoleSize", "ConsoleSize": {"Height": 30, "Width": 120}}
    assert process_call(lib.HcsModifyProcess, proc, resize)[0] == S_OK
    os.write(info["stdin"], b"\n")
    rest = read_all(info["stdout"])
    assert b"30 120" in rest
    wait_process_exit(proc)
    close_info(info)
    lib.HcsCloseProcess(proc)


@pytest.mark.skipif(IS_WINDOWS, reason="POSIX signal delivery and trap; the Windows delivery (STATUS_CONTROL_C_EXIT) is tested in tests/windows")
def test_signals(system, fake) -> None:
    """SignalProcessOptions {"Signal": "CtrlC"} -> SIGINT (mapping in README); an integer is a Linux signal number
    (hcsshim LCOW); an unknown name is E_INVALIDARG."""
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    assert process_call(lib.HcsSignalProcess, proc, {"Signal": "CtrlBreakX"})[0] == E_INVALIDARG
    assert process_call(lib.HcsSignalProcess, proc, "{oops")[0] == HCS_E_INVALID_JSON
    assert process_call(lib.HcsSignalProcess, proc, {"Signal": "CtrlC"})[0] == S_OK
    assert wait_process_exit(proc)["ExitCode"] == 128 + signal.SIGINT
    # choice: signalling an exited process -> ERROR_NOT_FOUND (hcsshim processSignalResult: "process gone")
    assert process_call(lib.HcsSignalProcess, proc, {"Signal": "CtrlC"})[0] == E_NOT_FOUND
    lib.HcsCloseProcess(proc)
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    assert process_call(lib.HcsSignalProcess, proc, {"Signal": 15})[0] == S_OK
    assert wait_process_exit(proc)["ExitCode"] == 128 + signal.SIGTERM
    lib.HcsCloseProcess(proc)
    proc, info = create_process(system, {"CommandLine": "trap 'echo got-hup; exit 0' HUP; sleep 30 & wait",
                                         "CreateStdOutPipe": True})
    wait_for_trap(info["pid"], signal.SIGHUP)
    assert process_call(lib.HcsSignalProcess, proc, {"Signal": "CtrlClose"})[0] == S_OK
    assert b"got-hup" in read_all(info["stdout"])
    wait_process_exit(proc)
    close_info(info)
    lib.HcsCloseProcess(proc)


def test_terminate_twice(system, fake) -> None:
    """hcsshim v2/process.go Kill: a second HcsTerminateProcess may return HCS_E_PROCESS_ALREADY_STOPPED."""
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    assert process_call(lib.HcsTerminateProcess, proc)[0] == S_OK
    assert wait_process_exit(proc)["ExitCode"] == 128 + 9  # SIGKILL (Linux numbering, also on Windows)
    assert process_call(lib.HcsTerminateProcess, proc)[0] == HCS_E_PROCESS_ALREADY_STOPPED
    lib.HcsCloseProcess(proc)


def test_terminate_options_are_reserved(system, fake) -> None:
    """HcsTerminateProcess.md: options "Reserved for future use. Must be NULL" -- anything else is the caller's
    error, reported by the call (nothing starts); "" is tolerated (hcsshim passes it)."""
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    with operation() as op:
        assert u32(lib.HcsTerminateProcess(proc, op, doc({"Force": True}))) == E_INVALIDARG
        assert result(op)[0] == 0x80370115  # HCS_E_OPERATION_NOT_STARTED
    assert process_call(lib.HcsGetProcessProperties, proc)[0] == S_OK  # still running
    assert process_call(lib.HcsTerminateProcess, proc, "")[0] == S_OK
    lib.HcsCloseProcess(proc)


def test_open_process_by_pid(system, fake) -> None:
    """HcsOpenProcess by pid; unknown (or exited) pid -> HRESULT_FROM_WIN32(ERROR_NOT_FOUND) (hcsshim
    v2/errors.go ErrElementNotFound)."""
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    other = ffi.new("HCS_PROCESS *")
    assert u32(lib.HcsOpenProcess(system, 999999, GENERIC_ALL, other)) == E_NOT_FOUND
    assert u32(lib.HcsOpenProcess(system, info["pid"], GENERIC_ALL, other)) == S_OK
    with operation() as op:
        assert u32(lib.HcsGetProcessProperties(other[0], op, ffi.NULL)) == S_OK
        hr, text = wait(op)
        assert hr == S_OK and json.loads(text) == {"ProcessId": info["pid"], "Exited": False, "ExitCode": 259,
                                                   "LastWaitResult": 0}
        assert lib.HcsGetProcessFromOperation(op) == other[0]
    assert process_call(lib.HcsTerminateProcess, other[0])[0] == S_OK
    assert wait_process_exit(proc)["Exited"] is True
    lib.HcsCloseProcess(other[0])
    assert u32(lib.HcsOpenProcess(system, info["pid"], GENERIC_ALL, other)) == E_NOT_FOUND
    lib.HcsCloseProcess(proc)


def test_get_process_info_returns_a_fresh_set_each_time(system, fake) -> None:
    """Each HcsGetProcessInfo returns new caller-owned handles (hcsshim StdioLegacy relies on it)."""
    proc, info = create_process(system, {"CommandLine": shell("echo x; sleep 30", win_sleep(30, before="x")),
                                         "CreateStdOutPipe": True})
    with operation() as op:
        assert u32(lib.HcsGetProcessInfo(proc, op)) == S_OK
        hr, again, _ = wait_process_info(op)
        assert hr == S_OK and again["pid"] == info["pid"] and again["stdout"] not in (None, info["stdout"])
        assert os.read(again["stdout"], 10).rstrip() == b"x"
        close_info(again)
    close_info(info)
    assert process_call(lib.HcsTerminateProcess, proc)[0] == S_OK
    lib.HcsCloseProcess(proc)


def test_process_only_in_running_system(fake) -> None:
    """Processes only in a running system: HCS_E_INVALID_STATE otherwise."""
    system = create_system(start=False)
    handle = ffi.new("HCS_PROCESS *")
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, doc({"CommandLine": TRUE}), op, ffi.NULL, handle)) == S_OK
        assert wait_process_info(op)[0] == HCS_E_INVALID_STATE
    lib.HcsCloseProcess(handle[0])
    terminate(system)
    lib.HcsCloseComputeSystem(system)


@pytest.mark.skipif(IS_WINDOWS, reason="select() on pipes is POSIX-only; tests/windows covers pause/resume")
def test_pause_stops_a_process_and_resume_continues_it(system, fake) -> None:
    """Pausing the system freezes its processes (SIGSTOP); resume continues them (SIGCONT)."""
    proc, info = create_process(system, {"CommandLine": "while true; do echo t; sleep 0.02; done",
                                         "CreateStdOutPipe": True})
    fd = info["stdout"]
    assert select.select([fd], [], [], 5)[0]
    assert system_call(lib.HcsPauseComputeSystem, system)[0] == S_OK
    time.sleep(0.1)
    while select.select([fd], [], [], 0)[0]:  # drain what was written before the pause
        os.read(fd, 65536)
    assert not select.select([fd], [], [], 0.3)[0], "output continued while paused"
    assert system_call(lib.HcsResumeComputeSystem, system)[0] == S_OK
    assert select.select([fd], [], [], 5)[0], "output did not resume"
    assert process_call(lib.HcsTerminateProcess, proc)[0] == S_OK
    close_info(info)
    lib.HcsCloseProcess(proc)


def test_wait_for_process_exit_timeout(system, fake) -> None:
    """HcsWaitForProcessExit.md: timeout -> HCS_E_OPERATION_TIMEOUT; result ProcessStatus freed with LocalFree."""
    proc, info = create_process(system, {"CommandLine": SLEEP_SHORT})
    out = ffi.new("PWSTR *")
    assert u32(lib.HcsWaitForProcessExit(proc, 10, out)) == HCS_E_OPERATION_TIMEOUT
    assert u32(lib.HcsWaitForProcessExit(proc, 0xFFFFFFFF, out)) == S_OK
    assert json.loads(take_wide(out[0]))["ExitCode"] == 0
    lib.HcsCloseProcess(proc)


@pytest.mark.skipif(IS_WINDOWS, reason="zombies and /proc are POSIX (under Wine /proc is the Linux host's)")
def test_no_zombies_are_left(system, fake) -> None:
    """Children are reaped by a dedicated thread: after exit no zombie remains."""
    pids = []
    for _ in range(10):
        proc, info = create_process(system, {"CommandLine": TRUE})
        pids.append(info["pid"])
        wait_process_exit(proc)
        lib.HcsCloseProcess(proc)
    time.sleep(0.05)
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] != "Z"
    assert fake.counters()["RunningProcesses"] == 0


@pytest.mark.skipif(IS_WINDOWS, reason="CommandArgs is the LCOW (Linux guest) form and runs POSIX programs")
def test_command_args_run_without_a_shell(system, fake) -> None:
    """CommandArgs (LCOW form, hcsshim schema2/process_parameters.go): argv executed directly, no shell."""
    proc, info = create_process(system, {"CommandArgs": ["echo", "$HOME", "a b"], "CreateStdOutPipe": True})
    assert read_all(info["stdout"]) == b"$HOME a b\n"
    wait_process_exit(proc)
    close_info(info)
    lib.HcsCloseProcess(proc)
    handle = ffi.new("HCS_PROCESS *")
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, doc({"CommandArgs": ["/no/such/program"]}), op, ffi.NULL,
                                        handle)) == S_OK
        assert wait_process_info(op)[0] == 0x80070002  # HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)
    lib.HcsCloseProcess(handle[0])


def test_async_create_process_fault(system, fake) -> None:
    """An asynchronous fault on HcsCreateProcess: the process never starts; its handle's calls fail with
    ERROR_NOT_FOUND and waiting for it does not hang."""
    fake.inject_fault("HcsCreateProcess", 0x80370108)
    handle = ffi.new("HCS_PROCESS *")
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, doc({"CommandLine": TRUE}), op, ffi.NULL, handle)) == S_OK
        assert wait_process_info(op)[0] == 0x80370108
    out = ffi.new("PWSTR *")
    assert u32(lib.HcsWaitForProcessExit(handle[0], 1000, out)) == E_NOT_FOUND
    assert process_call(lib.HcsTerminateProcess, handle[0])[0] == E_NOT_FOUND
    lib.HcsCloseProcess(handle[0])


def test_operation_callbacks_on_a_process_handle(system, fake) -> None:
    """HCS_EVENT_OPTIONS.md applies to process handles too (HcsSetProcessCallback)."""
    from tests.fakes.rawhcs import EV_OPERATION_CALLBACK, EV_PROCESS_EXITED, EventRecorder

    rec = EventRecorder()
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    assert u32(lib.HcsSetProcessCallback(proc, 1, ffi.NULL, rec.callback)) == S_OK
    with operation() as op:
        assert u32(lib.HcsTerminateProcess(proc, op, ffi.NULL)) == S_OK
        rec.wait_for(EV_PROCESS_EXITED)
        (event,) = rec.wait_for(EV_OPERATION_CALLBACK)
        assert event[2] == op and wait(op)[0] == S_OK
    lib.HcsCloseProcess(proc)


def _raw_process_info(op):
    pi = ffi.new("HCS_PROCESS_INFORMATION *")
    out = ffi.new("PWSTR *")
    hr = u32(lib.HcsWaitForOperationResultAndProcessInfo(op, INFINITE, pi, out))
    take_wide(out[0])
    return hr, pi


def test_streams_not_requested_are_invalid_handle_value(system, fake) -> None:
    """A std stream that was not requested is INVALID_HANDLE_VALUE in HCS_PROCESS_INFORMATION, not NULL (hcsshim
    v2/utils.go makeOpenFiles: "HCS APIs such as HcsGetProcessInfo use INVALID_HANDLE_VALUE to indicate std streams
    the caller did not request"), from the create and from HcsGetProcessInfo alike; a tool testing `!= NULL`
    would treat -1 as a handle."""
    handle = ffi.new("HCS_PROCESS *")
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, doc({"CommandLine": SLEEP_30, "CreateStdOutPipe": True}), op,
                                        ffi.NULL, handle)) == S_OK
        hr, pi = _raw_process_info(op)
        assert hr == S_OK
        assert handle_value(pi.StdInput) == INVALID_HANDLE_VALUE and handle_value(pi.StdError) == INVALID_HANDLE_VALUE
        assert handle_value(pi.StdOutput) not in (0, INVALID_HANDLE_VALUE)
        close_handle(pi.StdOutput)
        assert u32(lib.HcsGetProcessInfo(handle[0], op)) == S_OK
        hr, pi = _raw_process_info(op)
        assert hr == S_OK and pi.ProcessId > 0
        assert [handle_value(h) for h in (pi.StdInput, pi.StdError)] == [INVALID_HANDLE_VALUE] * 2
        close_handle(pi.StdOutput)
    assert process_call(lib.HcsTerminateProcess, handle[0])[0] == S_OK
    lib.HcsCloseProcess(handle[0])
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, doc({"CommandLine": TRUE}), op, ffi.NULL, handle)) == S_OK
        hr, pi = _raw_process_info(op)
        assert hr == S_OK and [handle_value(h) for h in (pi.StdInput, pi.StdOutput, pi.StdError)] == \
            [INVALID_HANDLE_VALUE] * 3
    wait_process_exit(handle[0])
    lib.HcsCloseProcess(handle[0])


@pytest.mark.skipif(IS_WINDOWS, reason="a pty; on Windows EmulateConsole is a duplex pipe (README-windows.md)")
def test_console_stderr_is_invalid_handle_value(system, fake) -> None:
    """EmulateConsole merges stderr into the console: StdError is a stream that does not exist, so
    INVALID_HANDLE_VALUE (hcsshim v2/utils.go)."""
    handle = ffi.new("HCS_PROCESS *")
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, doc({"CommandLine": TRUE, "EmulateConsole": True,
                                                     "CreateStdOutPipe": True, "CreateStdErrPipe": True}),
                                        op, ffi.NULL, handle)) == S_OK
        hr, pi = _raw_process_info(op)
        assert hr == S_OK and handle_value(pi.StdError) == INVALID_HANDLE_VALUE
        assert handle_value(pi.StdInput) == INVALID_HANDLE_VALUE  # stdin was not requested either
        read_all(fd_of(pi.StdOutput))
        close_handle(pi.StdOutput)
    wait_process_exit(handle[0])
    lib.HcsCloseProcess(handle[0])


def test_process_information_pointer_is_optional(system, fake) -> None:
    """HcsGetOperationResultAndProcessInfo.md / HcsWaitForOperationResultAndProcessInfo.md: processInformation is
    _Out_opt_: NULL reads the result without taking std handles (the operation keeps its own; a later call with a
    pointer still gets a fresh set). The operation-type check (E_INVALIDARG) still applies."""
    handle = ffi.new("HCS_PROCESS *")
    out = ffi.new("PWSTR *")
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, doc({"CommandLine": echo("x"), "CreateStdOutPipe": True}), op,
                                        ffi.NULL, handle)) == S_OK
        assert u32(lib.HcsWaitForOperationResultAndProcessInfo(op, INFINITE, ffi.NULL, out)) == S_OK
        assert take_wide(out[0]) is None
        assert u32(lib.HcsGetOperationResultAndProcessInfo(op, ffi.NULL, ffi.NULL)) == S_OK
        assert u32(lib.HcsWaitForOperationResultAndProcessInfo(op, 0, ffi.NULL, ffi.NULL)) == S_OK
        hr, info, _ = wait_process_info(op)
        assert hr == S_OK and read_all(info["stdout"]).rstrip() == b"x"
        close_info(info)
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        assert u32(lib.HcsWaitForOperationResultAndProcessInfo(op, INFINITE, ffi.NULL, ffi.NULL)) == E_INVALIDARG
        assert u32(lib.HcsGetOperationResultAndProcessInfo(op, ffi.NULL, ffi.NULL)) == E_INVALIDARG
        assert wait(op)[0] == S_OK
    wait_process_exit(handle[0])
    lib.HcsCloseProcess(handle[0])


def test_modify_process_without_settings_fails_the_call(system, fake) -> None:
    """settings is _In_ (HcsModifyProcess.md): NULL is the caller's error, reported by the call."""
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    with operation() as op:
        assert u32(lib.HcsModifyProcess(proc, op, ffi.NULL)) == E_INVALIDARG
        assert result(op)[0] == 0x80370115  # HCS_E_OPERATION_NOT_STARTED: nothing started
    assert process_call(lib.HcsTerminateProcess, proc)[0] == S_OK
    lib.HcsCloseProcess(proc)


def test_process_info_after_exit_while_a_handle_is_open(system, fake) -> None:
    """HcsGetProcessInfo.md: "the initial startup information of a process". choice (README): while a handle is
    open the process stays known after it exits, so HcsGetProcessInfo still answers its pid and fresh duplicates of
    its pipes (what it wrote is still there to read, then end-of-file) -- hcsshim's StdioLegacy may run after a
    quick process has exited."""
    proc, info = create_process(system, {"CommandLine": echo("late"), "CreateStdOutPipe": True})
    close_info(info)  # the caller dropped its copies before reading
    wait_process_exit(proc)
    with operation() as op:
        assert u32(lib.HcsGetProcessInfo(proc, op)) == S_OK
        hr, again, _ = wait_process_info(op)
        assert hr == S_OK and again["pid"] == info["pid"]
        assert read_all(again["stdout"]).rstrip() == b"late"
        close_info(again)
    assert process_call(lib.HcsGetProcessProperties, proc)[0] == S_OK
    lib.HcsCloseProcess(proc)


def _settle(fake) -> None:
    deadline = time.monotonic() + 10
    while fake.counters()["RunningProcesses"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.wait_quiescent()


def test_finished_processes_release_their_pipes(system, fake) -> None:
    """HCS keeps its side of a process's pipes in the service and releases them with the process. The fake (in
    the caller's process) keeps its ends too (README: "The fake keeps its own end of each pipe"); it must let
    them go once the process has exited and no handle or operation refers to it, so a long-lived system runs any
    number of processes with a flat descriptor count -- whether the handle closes after the exit or before."""
    params = {"CommandLine": echo("x"), "CreateStdInPipe": True, "CreateStdOutPipe": True, "CreateStdErrPipe": True}

    def close_after_exit() -> None:
        proc, info = create_process(system, params)
        read_all(info["stdout"])
        wait_process_exit(proc)
        close_info(info)
        lib.HcsCloseProcess(proc)

    def close_before_exit() -> None:
        proc, info = create_process(system, dict(params, CommandLine=SLEEP_SHORT))
        close_info(info)
        lib.HcsCloseProcess(proc)

    close_after_exit()
    close_before_exit()
    _settle(fake)
    before = open_descriptor_count()
    for _ in range(40):
        close_after_exit()
        close_before_exit()
    _settle(fake)
    # 40 x 2 processes with 3 pipes each: 240 descriptors if the fake kept its ends.
    assert open_descriptor_count() - before <= 4, (before, open_descriptor_count())
