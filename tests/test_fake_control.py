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


def test_latency(fake) -> None:
    fake.set_latency("HcsEnumerateComputeSystems", 200)
    with operation() as op:
        t0 = time.monotonic()
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        assert time.monotonic() - t0 < 0.1  # the call returns at once ...
        assert wait(op)[0] == S_OK
        assert time.monotonic() - t0 >= 0.19  # ... the operation completes later
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
