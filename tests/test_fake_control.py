"""The fake HCS: test control API (fakehcs_control.h) and result-string ownership (raw pyhcs._ffi layer).

Sources: HCS_EVENT.md (ServiceDisconnect, SystemExited with ExitType UnexpectedExit), HCSHResult.md
(HCS_E_SERVICE_DISCONNECT), HcsGetOperationResult.md ("The caller is responsible for releasing the returned
string using LocalFree").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.fakes.rawhcs import (
    IS_WINDOWS,
    SLEEP_30,
    EV_SERVICE_DISCONNECT,
    EV_SYSTEM_EXITED,
    HCS_E_CONNECT_FAILED,
    HCS_E_INVALID_STATE,
    HCS_E_OPERATION_TIMEOUT,
    HCS_E_SERVICE_DISCONNECT,
    HCS_E_UNEXPECTED_EXIT,
    S_OK,
    EventRecorder,
    create_process,
    create_system,
    ffi,
    lib,
    local_free,
    operation,
    properties,
    result,
    system_call,
    terminate,
    to_wide,
    u32,
    wait,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_service_disconnect(fake) -> None:
    """ServiceDisconnect reaches every callback; operations in flight complete with HCS_E_SERVICE_DISCONNECT;
    waits and later calls fail with it until reset."""
    rec = EventRecorder()
    system = create_system()
    assert u32(lib.HcsSetComputeSystemCallback(system, 0, ffi.NULL, rec.callback)) == S_OK
    fake.set_latency("HcsGetComputeSystemProperties", 2000)
    with operation() as op:
        assert u32(lib.HcsGetComputeSystemProperties(system, op, ffi.NULL)) == S_OK
        fake.simulate_service_disconnect()
        rec.wait_for(EV_SERVICE_DISCONNECT)
        hr, text = wait(op, 1000)
        assert hr == HCS_E_SERVICE_DISCONNECT and json.loads(text)["Error"] & 0xFFFFFFFF == HCS_E_SERVICE_DISCONNECT
        assert u32(lib.HcsStartComputeSystem(system, op, ffi.NULL)) == HCS_E_SERVICE_DISCONNECT
    out = ffi.new("PWSTR *")
    assert u32(lib.HcsWaitForComputeSystemExit(system, 100, out)) == HCS_E_SERVICE_DISCONNECT
    lib.HcsCloseComputeSystem(system)  # closing still works
    assert fake.wait_quiescent(5)


def test_unexpected_exit(fake) -> None:
    """SystemExited with ExitType "UnexpectedExit" and the given Status; its processes are killed."""
    rec = EventRecorder()
    system = create_system()
    system_id = properties(system)["Id"]
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    assert u32(lib.HcsSetComputeSystemCallback(system, 0, ffi.NULL, rec.callback)) == S_OK
    fake.simulate_unexpected_exit(system_id, HCS_E_UNEXPECTED_EXIT)
    (event,) = rec.wait_for(EV_SYSTEM_EXITED)
    status = json.loads(event[1])
    assert status["ExitType"] == "UnexpectedExit" and status["Status"] & 0xFFFFFFFF == HCS_E_UNEXPECTED_EXIT
    assert properties(system)["State"] == "Stopped"
    out = ffi.new("PWSTR *")
    assert u32(lib.HcsWaitForProcessExit(proc, 5000, out)) == S_OK
    local_free(out[0])
    with pytest.raises(LookupError):
        fake.simulate_unexpected_exit("no-such-system")
    lib.HcsCloseProcess(proc)
    lib.HcsCloseComputeSystem(system)


def test_fault_injection_async_and_sync(fake) -> None:
    """Async fault: the call returns S_OK and the operation completes with the HRESULT (nothing was done);
    sync fault: the call itself returns it. Counts down per call."""
    system = create_system(start=False)
    fake.inject_fault("HcsStartComputeSystem", HCS_E_CONNECT_FAILED, 1)
    hr, text = system_call(lib.HcsStartComputeSystem, system)
    assert hr == HCS_E_CONNECT_FAILED and json.loads(text)["Error"] & 0xFFFFFFFF == HCS_E_CONNECT_FAILED
    assert properties(system)["State"] == "Created"
    fake.inject_fault("HcsStartComputeSystem", HCS_E_INVALID_STATE, 2, sync=True)
    with operation() as op:
        assert u32(lib.HcsStartComputeSystem(system, op, ffi.NULL)) == HCS_E_INVALID_STATE
        assert result(op)[0] == 0x80370115  # not started: nothing was started
    assert system_call(lib.HcsStartComputeSystem, system)[0] == HCS_E_INVALID_STATE
    assert system_call(lib.HcsStartComputeSystem, system)[0] == S_OK
    fake.inject_fault("HcsOpenComputeSystem", 0x80070005, 1)  # functions without an operation fail synchronously
    handle = ffi.new("HCS_SYSTEM *")
    assert u32(lib.HcsOpenComputeSystem(to_wide(properties(system)["Id"]), 0x10000000, handle)) == 0x80070005
    with pytest.raises(ValueError):
        fake.inject_fault("HcsNoSuchFunction", 1)
    terminate(system)
    lib.HcsCloseComputeSystem(system)


E_OUTOFMEMORY = 0x8007000E
RPC_E_DISCONNECTED = 0x80010108
HCS_INVALID_OPERATION_ID = 0xFFFFFFFFFFFFFFFF


def test_fault_on_create_operation_is_its_documented_null(fake) -> None:
    """HcsCreateOperation.md: NULL "if resources required for the operation couldn't be allocated" -- the only
    failure it can report, so an injected fault returns NULL (the HRESULT is not used) and nothing is created."""
    fake.inject_fault("HcsCreateOperation", E_OUTOFMEMORY, 2)
    assert lib.HcsCreateOperation(ffi.NULL, ffi.NULL) == ffi.NULL
    assert lib.HcsCreateOperation(ffi.NULL, ffi.NULL) == ffi.NULL
    assert fake.counters()["OpenOperations"] == 0
    fake.inject_fault("HcsCreateOperationWithNotifications", E_OUTOFMEMORY)
    assert lib.HcsCreateOperationWithNotifications(0, ffi.NULL, ffi.NULL) == ffi.NULL
    with operation() as op:  # the count is spent: it works again
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK and wait(op)[0] == S_OK


@pytest.mark.parametrize("function", ["HcsWaitForOperationResult", "HcsGetOperationResult"])
def test_fault_on_reading_a_result_fails_that_call_only(fake, function) -> None:
    """A fault on a result getter: that call returns the injected HRESULT with no document (as a failed RPC
    would); the operation is untouched and the next call reads its real result."""
    with operation() as op:
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        assert wait(op)[0] == S_OK
        fake.inject_fault(function, RPC_E_DISCONNECTED)
        out = ffi.new("PWSTR *")
        call = (lambda: lib.HcsWaitForOperationResult(op, 0xFFFFFFFF, out)) if function.startswith("HcsWait") \
            else (lambda: lib.HcsGetOperationResult(op, out))
        assert u32(call()) == RPC_E_DISCONNECTED and out[0] == ffi.NULL
        hr, text = wait(op)
        assert hr == S_OK and json.loads(text) == []


def test_fault_on_the_process_info_getters(fake) -> None:
    """HcsWaitForOperationResultAndProcessInfo / HcsGetOperationResultAndProcessInfo under a fault: the HRESULT,
    a zeroed HCS_PROCESS_INFORMATION and no document; the std handles stay with the operation for the next call."""
    from tests.fakes.rawhcs import INFINITE, close_info, doc, echo, read_all, wait_process_exit, wait_process_info

    system = create_system()
    handle = ffi.new("HCS_PROCESS *")
    with operation() as op:
        assert u32(lib.HcsCreateProcess(system, doc({"CommandLine": echo("x"), "CreateStdOutPipe": True}), op,
                                        ffi.NULL, handle)) == S_OK
        for function in ("HcsWaitForOperationResultAndProcessInfo", "HcsGetOperationResultAndProcessInfo"):
            assert wait(op)[0] == S_OK
            fake.inject_fault(function, RPC_E_DISCONNECTED)
            pi = ffi.new("HCS_PROCESS_INFORMATION *")
            pi.ProcessId = 7
            out = ffi.new("PWSTR *")
            hr = lib.HcsWaitForOperationResultAndProcessInfo(op, INFINITE, pi, out) if "Wait" in function \
                else lib.HcsGetOperationResultAndProcessInfo(op, pi, out)
            assert u32(hr) == RPC_E_DISCONNECTED and pi.ProcessId == 0 and pi.StdOutput == ffi.NULL
        hr, info, _ = wait_process_info(op)
        assert hr == S_OK and read_all(info["stdout"]).rstrip() == b"x"
        close_info(info)
    wait_process_exit(handle[0])
    lib.HcsCloseProcess(handle[0])
    terminate(system)
    lib.HcsCloseComputeSystem(system)


def test_faults_on_the_other_operation_functions(fake) -> None:
    """Functions whose documented failure is a value answer it (HcsGetOperationId: HCS_INVALID_OPERATION_ID,
    HcsGetComputeSystemFromOperation: NULL); HRESULT functions return the HRESULT and change nothing; functions
    that cannot fail (HcsClose*, HcsGetOperationContext, HcsGetOperationType) refuse the fault."""
    with operation(context=ffi.cast("void *", 5)) as op:
        fake.inject_fault("HcsGetOperationId", E_OUTOFMEMORY)
        assert lib.HcsGetOperationId(op) == HCS_INVALID_OPERATION_ID
        assert lib.HcsGetOperationId(op) != HCS_INVALID_OPERATION_ID
        fake.inject_fault("HcsSetOperationContext", 0x80070005)
        assert u32(lib.HcsSetOperationContext(op, ffi.cast("void *", 6))) == 0x80070005
        assert int(ffi.cast("intptr_t", lib.HcsGetOperationContext(op))) == 5
        fake.inject_fault("HcsCancelOperation", 0x80070005)
        assert u32(lib.HcsCancelOperation(op)) == 0x80070005
        assert u32(lib.HcsCancelOperation(op)) == 0x80004001  # E_NOTIMPL, as documented
    for function in ("HcsCloseOperation", "HcsCloseComputeSystem", "HcsCloseProcess", "HcsGetOperationContext",
                     "HcsGetOperationType"):
        with pytest.raises(ValueError, match="no way to report a failure"):
            fake.inject_fault(function, E_OUTOFMEMORY)


def test_minimum_duration_of_creates_is_on_by_default(fake) -> None:
    """Real HCS takes long to create a system (a silo or a VM worker process) or to start a process in it, and
    OperationCompletionSample.md relies on it (see test_fake_operations); the fake's creates take at least
    FAKEHCS_DEFAULT_CREATE_SYSTEM_MS (100 ms) and FAKEHCS_DEFAULT_CREATE_PROCESS_MS (10 ms); reset restores them."""
    for _ in range(2):
        t0 = time.monotonic()
        system = create_system(start=False)
        assert time.monotonic() - t0 >= 0.099
        assert system_call(lib.HcsStartComputeSystem, system)[0] == S_OK
        t0 = time.monotonic()
        proc, info = create_process(system, {"CommandLine": SLEEP_30})
        assert time.monotonic() - t0 >= 0.0099
        lib.HcsCloseProcess(proc)
        terminate(system)
        lib.HcsCloseComputeSystem(system)
        fake.set_minimum_duration("*", 0)
        fake.reset()


def test_minimum_duration_is_configurable_and_keeps_the_order(fake) -> None:
    """FakeHcsSetMinimumDuration(function, ms): its operations complete no earlier than ms after the call; later
    calls on the same system still complete after it (operations on one system run in order), other systems are
    not held up (the wait holds no fake thread)."""
    slow, other = create_system(start=False), create_system(start=False)
    # The bounds below leave a loaded 2-CPU machine seconds of slack; the order is checked directly.
    fake.set_minimum_duration("HcsStartComputeSystem", 2000)
    with operation() as start, operation() as query, operation() as elsewhere:
        t0 = time.monotonic()
        assert u32(lib.HcsStartComputeSystem(slow, start, ffi.NULL)) == S_OK
        assert time.monotonic() - t0 < 1.0  # the call itself returns at once
        assert u32(lib.HcsGetComputeSystemProperties(slow, query, ffi.NULL)) == S_OK
        assert u32(lib.HcsGetComputeSystemProperties(other, elsewhere, ffi.NULL)) == S_OK
        assert wait(elsewhere)[0] == S_OK
        assert wait(query, 0)[0] == HCS_E_OPERATION_TIMEOUT  # the other system's query did not wait for this one
        assert wait(start, 0)[0] == HCS_E_OPERATION_TIMEOUT
        hr, text = wait(query)
        assert hr == S_OK and json.loads(text)["State"] == "Running" and time.monotonic() - t0 >= 1.999
        assert wait(start)[0] == S_OK
    with pytest.raises(ValueError):
        fake.set_minimum_duration("HcsNoSuchFunction", 1)
    for s in (slow, other):
        terminate(s)
        lib.HcsCloseComputeSystem(s)


def test_latency(fake) -> None:
    fake.set_latency("HcsEnumerateComputeSystems", 1000)
    with operation() as op:
        t0 = time.monotonic()
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        assert wait(op, 0)[0] == HCS_E_OPERATION_TIMEOUT  # the call returns at once ...
        assert wait(op)[0] == S_OK
        assert time.monotonic() - t0 >= 0.999  # ... the operation completes later
    fake.set_latency("HcsEnumerateComputeSystems", 0)
    fake.set_latency("*", 150)
    with operation() as op:
        t0 = time.monotonic()
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        assert wait(op)[0] == S_OK and time.monotonic() - t0 >= 0.14


def test_counters_track_handles_strings_systems_processes(fake) -> None:
    base = fake.counters()
    assert all(base[k] == 0 for k in ("OpenOperations", "OpenSystemHandles", "OpenProcessHandles",
                                      "OutstandingStrings", "LiveSystems", "RunningProcesses"))
    system = create_system()
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    op = lib.HcsCreateOperation(ffi.NULL, ffi.NULL)
    assert u32(lib.HcsGetComputeSystemProperties(system, op, ffi.NULL)) == S_OK
    out = ffi.new("PWSTR *")
    assert u32(lib.HcsWaitForOperationResult(op, 0xFFFFFFFF, out)) == S_OK
    c = fake.counters()
    assert (c["OpenOperations"], c["OpenSystemHandles"], c["OpenProcessHandles"], c["OutstandingStrings"],
            c["LiveSystems"], c["RunningProcesses"]) == (1, 1, 1, 1, 1, 1)
    with pytest.raises(AssertionError, match="OpenOperations=1"):
        fake.assert_no_leaks(timeout=0.1)
    local_free(out[0])
    lib.HcsCloseOperation(op)
    lib.HcsCloseProcess(proc)
    terminate(system)
    lib.HcsCloseComputeSystem(system)
    fake.assert_no_leaks()
    assert fake.counters()["LiveSystems"] == 0 and fake.counters()["RunningProcesses"] == 0


def test_reset_forgets_everything_and_old_handles_are_harmless(fake) -> None:
    system = create_system()
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    op = lib.HcsCreateOperation(ffi.NULL, ffi.NULL)
    fake.reset()
    c = fake.counters()
    assert c["LiveSystems"] == 0 and c["RunningProcesses"] == 0 and c["OpenSystemHandles"] == 0
    lib.HcsCloseProcess(proc)
    lib.HcsCloseComputeSystem(system)
    lib.HcsCloseOperation(op)
    assert fake.counters()["OpenOperations"] == 0


def _run_child(body: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{os.path.join(REPO, 'src')!r}, {REPO!r}]
        from tests.fakes.rawhcs import *
        """) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(IS_WINDOWS, reason="on Windows kernel32's LocalFree frees result strings; the fake cannot see or diagnose the free")
def test_local_free_of_a_foreign_pointer_aborts(fake) -> None:
    """LocalFree only frees result strings the fake allocated; anything else aborts with a clear message."""
    proc = _run_child("""
        buf = ffi.new("WCHAR[]", 16)
        local_free(ffi.cast("HLOCAL", buf))
        print("no abort")
    """)
    assert proc.returncode == -signal.SIGABRT, (proc.returncode, proc.stdout, proc.stderr)
    assert "was not allocated by the fake HCS" in proc.stderr


@pytest.mark.skipif(IS_WINDOWS, reason="on Windows kernel32's LocalFree frees result strings; the fake cannot see or diagnose the free")
def test_local_free_twice_aborts(fake) -> None:
    proc = _run_child("""
        out = ffi.new("PWSTR *")
        assert lib.HcsGetServiceProperties(to_wide('{"PropertyTypes":["Basic"]}'), out) == 0
        local_free(out[0])
        local_free(out[0])
        print("no abort")
    """)
    assert proc.returncode == -signal.SIGABRT, (proc.returncode, proc.stdout, proc.stderr)
    assert "double free" in proc.stderr


def test_service_properties(fake) -> None:
    """HcsGetServiceProperties.md: synchronous; "Basic" -> BasicInformation {SupportedSchemaVersions}."""
    out = ffi.new("PWSTR *")
    assert u32(lib.HcsGetServiceProperties(to_wide('{"PropertyTypes":["Basic"]}'), out)) == S_OK
    from pyhcs._strings import take_wide

    props = json.loads(take_wide(out[0]))
    assert {"Major": 2, "Minor": 6} in props["Properties"][0]["SupportedSchemaVersions"]
    assert u32(lib.HcsGetServiceProperties(to_wide('{"PropertyTypes":["Nope"]}'), out)) == 0x80070057
    assert json.loads(take_wide(out[0]))["Error"] & 0xFFFFFFFF == 0x80070057
