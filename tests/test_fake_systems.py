"""The fake HCS: compute systems (create/open/enumerate/state machine/properties/exit), raw pyhcs._ffi layer.

Sources: Reference/HcsCreateComputeSystem.md, HcsOpenComputeSystem.md, HcsEnumerateComputeSystems.md,
HcsGetComputeSystemProperties.md, HcsWaitForComputeSystemExit.md, HCSHResult.md, SchemaReference.md (ComputeSystem,
Properties, SystemExitStatus, ResultError), Overview.md (systems are ephemeral), hcsshim internal/hcs/v2/system.go.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.fakes.rawhcs import (
    IS_WINDOWS,
    SLEEP_30,
    CONTAINER,
    E_INVALIDARG,
    GENERIC_ALL,
    HCS_E_INVALID_JSON,
    HCS_E_INVALID_STATE,
    HCS_E_OPERATION_TIMEOUT,
    HCS_E_SYSTEM_ALREADY_EXISTS,
    HCS_E_SYSTEM_ALREADY_STOPPED,
    HCS_E_SYSTEM_NOT_FOUND,
    S_OK,
    create_process,
    create_system,
    doc,
    ffi,
    lib,
    operation,
    properties,
    result,
    running_system,
    system_call,
    take_wide,
    terminate,
    to_wide,
    u32,
    unique_id,
    wait,
    wait_process_exit,
    close_info,
)
from tests.support import wait_for_trap


def _create(system_id: str, document, op):
    handle = ffi.new("HCS_SYSTEM *")
    hr = u32(lib.HcsCreateComputeSystem(to_wide(system_id), doc(document), op, ffi.NULL, handle))
    return hr, handle[0]


def _create_fails_in_the_operation(document, system_id=None):
    """HcsCreateComputeSystem.md "Operation Results": the call returns S_OK (and a handle, which names no system);
    the operation fails with a ResultError. Returns (hr, ResultError)."""
    system_id = system_id or unique_id()
    with operation() as op:
        hr, handle = _create(system_id, document, op)
        assert hr == S_OK and handle != ffi.NULL
        hr, text = wait(op)
        err = json.loads(text)
        assert err["Error"] & 0xFFFFFFFF == hr and err["ErrorMessage"]
        assert result(op) == (hr, text)
        # The handle names no system: calls on it fail with HCS_E_SYSTEM_NOT_FOUND, in their operation.
        assert system_call(lib.HcsTerminateComputeSystem, handle)[0] == HCS_E_SYSTEM_NOT_FOUND
        lib.HcsCloseComputeSystem(handle)
    return hr, err


def test_invalid_json_fails_the_operation_with_result_error(fake) -> None:
    """HCSHResult.md HCS_E_INVALID_JSON, reported as the operation's result with a ResultError {Error,
    ErrorMessage} document (HcsCreateComputeSystem.md "Operation Results": "if something went wrong when creating
    the compute system"; real HCS answers Tutorial.md's invalid configuration in the operation's ResultError,
    MicrosoftDocs/Virtualization-Documentation issue #1702)."""
    hr, _ = _create_fails_in_the_operation('{"Container": {')
    assert hr == HCS_E_INVALID_JSON


def test_document_without_container_or_vm_is_rejected(fake) -> None:
    """SchemaReference.md ComputeSystem: exactly one of Container, VirtualMachine, HostedSystem."""
    hr, err = _create_fails_in_the_operation({"SchemaVersion": {"Major": 2, "Minor": 1}})
    assert hr == HCS_E_INVALID_JSON and "exactly one" in err["ErrorMessage"]
    assert _create_fails_in_the_operation({"Container": {}, "VirtualMachine": {}})[0] == HCS_E_INVALID_JSON


def test_duplicate_id_is_already_exists_in_the_operation(fake) -> None:
    """HCSHResult.md HCS_E_SYSTEM_ALREADY_EXISTS, as the create operation's result; the existing system is
    untouched."""
    system_id = unique_id()
    system = create_system(system_id, start=False)
    assert _create_fails_in_the_operation(CONTAINER, system_id)[0] == HCS_E_SYSTEM_ALREADY_EXISTS
    assert properties(system)["State"] == "Created"
    terminate(system)
    lib.HcsCloseComputeSystem(system)


def test_missing_required_create_arguments_fail_the_call(fake) -> None:
    """id and configuration are _In_ (HcsCreateComputeSystem.md), securityDescriptor "must be NULL": the caller's
    errors, reported by the call; nothing starts and no handle is returned."""
    handle = ffi.new("HCS_SYSTEM *")
    with operation() as op:
        for args in ((to_wide(unique_id()), ffi.NULL, op, ffi.NULL, handle),
                     (ffi.NULL, doc(CONTAINER), op, ffi.NULL, handle),
                     (to_wide(""), doc(CONTAINER), op, ffi.NULL, handle),
                     (to_wide(unique_id()), doc(CONTAINER), op, ffi.cast("SECURITY_DESCRIPTOR *", 0x1000), handle)):
            assert u32(lib.HcsCreateComputeSystem(*args)) == E_INVALIDARG
            assert handle[0] == ffi.NULL
        assert result(op)[0] == 0x80370115  # HCS_E_OPERATION_NOT_STARTED


def test_open_unknown_system_is_not_found(fake) -> None:
    """HCSHResult.md HCS_E_SYSTEM_NOT_FOUND; HcsOpenComputeSystem.md requestedAccess must be GENERIC_ALL."""
    handle = ffi.new("HCS_SYSTEM *")
    assert u32(lib.HcsOpenComputeSystem(to_wide("no-such-system"), GENERIC_ALL, handle)) == HCS_E_SYSTEM_NOT_FOUND
    assert handle[0] == ffi.NULL
    with running_system() as system:
        system_id = properties(system)["Id"]
        assert u32(lib.HcsOpenComputeSystem(to_wide(system_id), 0, handle)) == E_INVALIDARG
        assert u32(lib.HcsOpenComputeSystem(to_wide(system_id), GENERIC_ALL, handle)) == S_OK
        assert properties(handle[0])["State"] == "Running"
        lib.HcsCloseComputeSystem(handle[0])


def test_state_machine(fake) -> None:
    """States Created/Running/Paused/Stopped; illegal transitions give HCS_E_INVALID_STATE (HCSHResult.md);
    shutdown/terminate of a stopped system: the call returns S_OK and the *operation* fails with
    HCS_E_SYSTEM_ALREADY_STOPPED (HcsShutDownComputeSystem.md "Operation Results": "duplicate shutdown or
    terminate for same compute system"; hcsshim v2/system.go Shutdown/Terminate tolerate it either way)."""
    system = create_system(start=False)
    assert properties(system)["State"] == "Created"
    assert system_call(lib.HcsPauseComputeSystem, system)[0] == HCS_E_INVALID_STATE
    assert system_call(lib.HcsResumeComputeSystem, system)[0] == HCS_E_INVALID_STATE
    assert system_call(lib.HcsStartComputeSystem, system)[0] == S_OK
    assert properties(system)["State"] == "Running"
    assert system_call(lib.HcsStartComputeSystem, system)[0] == HCS_E_INVALID_STATE
    assert system_call(lib.HcsResumeComputeSystem, system)[0] == HCS_E_INVALID_STATE
    assert system_call(lib.HcsPauseComputeSystem, system)[0] == S_OK
    assert properties(system)["State"] == "Paused"
    assert system_call(lib.HcsPauseComputeSystem, system)[0] == HCS_E_INVALID_STATE
    assert system_call(lib.HcsResumeComputeSystem, system)[0] == S_OK
    assert properties(system)["State"] == "Running"
    hr, text = system_call(lib.HcsShutDownComputeSystem, system)
    assert hr == S_OK
    props = properties(system)
    assert props["State"] == "Stopped" and props["Stopped"] is True and props["ExitType"] == "GracefulExit"
    for fn in (lib.HcsShutDownComputeSystem, lib.HcsTerminateComputeSystem):
        with operation() as op:
            assert u32(fn(system, op, ffi.NULL)) == S_OK
            hr, text = wait(op)
            assert hr == HCS_E_SYSTEM_ALREADY_STOPPED
            assert json.loads(text)["Error"] & 0xFFFFFFFF == HCS_E_SYSTEM_ALREADY_STOPPED
    assert system_call(lib.HcsStartComputeSystem, system)[0] == HCS_E_INVALID_STATE  # ephemeral (Overview.md)
    lib.HcsCloseComputeSystem(system)


def test_terminate_is_forced_exit_and_wait_for_exit(fake) -> None:
    """HcsWaitForComputeSystemExit.md: SystemExitStatus {Status, ExitType}; timeout -> HCS_E_OPERATION_TIMEOUT."""
    system = create_system()
    out = ffi.new("PWSTR *")
    assert u32(lib.HcsWaitForComputeSystemExit(system, 30, out)) == HCS_E_OPERATION_TIMEOUT
    assert out[0] == ffi.NULL
    assert system_call(lib.HcsTerminateComputeSystem, system)[0] == S_OK
    assert u32(lib.HcsWaitForComputeSystemExit(system, 0xFFFFFFFF, out)) == S_OK
    status = json.loads(take_wide(out[0]))
    assert status["Status"] == 0 and status["ExitType"] == "ForcedExit"
    assert status["Attribution"][0]["SystemExit"]["Detail"] == "Terminate"
    lib.HcsCloseComputeSystem(system)


def test_enumerate_with_system_query(fake) -> None:
    """HcsEnumerateComputeSystems.md: SystemQuery {Ids, Names, Types, Owners} -> JSON array of Properties."""
    a = create_system(document=dict(CONTAINER, Owner="alice"), start=False)
    b = create_system(document=dict(CONTAINER, Owner="bob"), start=False)
    ida, idb = properties(a)["Id"], properties(b)["Id"]

    def enum(query):
        with operation() as op:
            assert u32(lib.HcsEnumerateComputeSystems(doc(query), op)) == S_OK
            hr, text = wait(op)
            assert hr == S_OK
            return {p["Id"] for p in json.loads(text)}

    assert enum(None) == {ida, idb}
    assert enum("{}") == {ida, idb}
    assert enum({"Owners": ["alice"]}) == {ida}
    assert enum({"Ids": [idb]}) == {idb}
    assert enum({"Types": ["VirtualMachine"]}) == set()
    assert enum({"Types": ["Container"], "Owners": ["bob"]}) == {idb}
    with operation() as op:
        assert u32(lib.HcsEnumerateComputeSystems(doc("{bad"), op)) == S_OK
        assert wait(op)[0] == HCS_E_INVALID_JSON
    for s in (a, b):
        terminate(s)
        lib.HcsCloseComputeSystem(s)


def test_properties_process_list_and_statistics(fake) -> None:
    """SchemaReference.md Properties: Id, SystemType, State...; PropertyTypes ProcessList and Statistics built
    from the real child processes."""
    with running_system() as system:
        proc, info = create_process(system, {"CommandLine": SLEEP_30})
        props = properties(system, {"PropertyTypes": ["ProcessList", "Statistics"]})
        assert props["SystemType"] == "Container" and props["Owner"] == "fake-tests"
        assert props["RuntimeOsType"] in ("Windows", "Linux")
        pids = [p["ProcessId"] for p in props["ProcessList"]]
        assert info["pid"] in pids
        entry = props["ProcessList"][pids.index(info["pid"])]
        assert entry["ImageName"] in (("python.exe",) if IS_WINDOWS else ("sleep", "sh")) and entry["MemoryCommitBytes"] > 0
        stats = props["Statistics"]
        assert stats["Memory"]["MemoryUsageCommitBytes"] > 0 and "Processor" in stats and stats["Uptime100ns"] >= 0
        with operation() as op:
            assert u32(lib.HcsGetComputeSystemProperties(system, op, doc({"PropertyTypes": ["GuestConnection"]}))) == 0
            assert wait(op)[0] == 0x80070032  # ERROR_NOT_SUPPORTED (choice)
        lib.HcsCloseProcess(proc)


def test_should_terminate_on_last_handle_closed(fake) -> None:
    """SchemaReference.md ComputeSystem.ShouldTerminateOnLastHandleClosed: closing the last handle terminates."""
    system_id = unique_id()
    system = create_system(system_id, dict(CONTAINER, ShouldTerminateOnLastHandleClosed=True))
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    lib.HcsCloseProcess(proc)
    other = ffi.new("HCS_SYSTEM *")
    assert u32(lib.HcsOpenComputeSystem(to_wide(system_id), GENERIC_ALL, other)) == S_OK
    lib.HcsCloseComputeSystem(system)
    assert properties(other[0])["State"] == "Running"  # one handle left
    lib.HcsCloseComputeSystem(other[0])
    assert u32(lib.HcsOpenComputeSystem(to_wide(system_id), GENERIC_ALL, other)) == HCS_E_SYSTEM_NOT_FOUND
    time.sleep(0.05)
    assert not os.path.exists(f"/proc/{info['pid']}") or open(f"/proc/{info['pid']}/stat").read().split()[2] == "Z"


def test_created_system_survives_handle_close_and_can_be_reopened(fake) -> None:
    """Without ShouldTerminateOnLastHandleClosed a system outlives its handles (HcsOpenComputeSystem finds it);
    a stopped system is gone once its last handle is closed (Overview.md: systems are ephemeral)."""
    system_id = unique_id()
    lib.HcsCloseComputeSystem(create_system(system_id))
    handle = ffi.new("HCS_SYSTEM *")
    assert u32(lib.HcsOpenComputeSystem(to_wide(system_id), GENERIC_ALL, handle)) == S_OK
    terminate(handle[0])
    lib.HcsCloseComputeSystem(handle[0])
    assert u32(lib.HcsOpenComputeSystem(to_wide(system_id), GENERIC_ALL, handle)) == HCS_E_SYSTEM_NOT_FOUND


def test_save_modify_crash(fake) -> None:
    """HcsSaveComputeSystem (choice: needs Paused), HcsModifyComputeSystem (ModifySettingRequest),
    HcsCrashComputeSystem (exit type UnexpectedExit)."""
    with running_system() as system:
        assert system_call(lib.HcsSaveComputeSystem, system, {"SaveType": "ToFile"})[0] == HCS_E_INVALID_STATE
        assert system_call(lib.HcsPauseComputeSystem, system)[0] == S_OK
        assert system_call(lib.HcsSaveComputeSystem, system, {"SaveType": "ToFile"})[0] == S_OK
        assert system_call(lib.HcsResumeComputeSystem, system)[0] == S_OK
        request = {"ResourcePath": "VirtualMachine/Devices/Scsi/0/Attachments/1", "RequestType": "Add", "Settings": {}}
        assert system_call(lambda s, o, d: lib.HcsModifyComputeSystem(s, o, d, ffi.NULL), system, request)[0] == S_OK
        assert system_call(lambda s, o, d: lib.HcsModifyComputeSystem(s, o, d, ffi.NULL), system, "{x")[0] == \
            HCS_E_INVALID_JSON
        assert system_call(lib.HcsCrashComputeSystem, system)[0] == S_OK
        props = properties(system)
        assert props["State"] == "Stopped" and props["ExitType"] == "UnexpectedExit"


def test_namespaces_are_separate_id_spaces(fake) -> None:
    """*InNamespace variants (choice: a namespace is a separate id space)."""
    system_id = unique_id()
    plain = create_system(system_id, start=False)
    handle = ffi.new("HCS_SYSTEM *")
    with operation() as op:
        assert u32(lib.HcsCreateComputeSystemInNamespace(to_wide("ns1"), to_wide(system_id), doc(CONTAINER), op,
                                                         ffi.NULL, handle)) == S_OK
        assert wait(op)[0] == S_OK
        assert u32(lib.HcsEnumerateComputeSystemsInNamespace(to_wide("ns1"), ffi.NULL, op)) == S_OK
        assert [p["Id"] for p in json.loads(wait(op)[1])] == [system_id]
    other = ffi.new("HCS_SYSTEM *")
    assert u32(lib.HcsOpenComputeSystemInNamespace(to_wide("ns2"), to_wide(system_id), GENERIC_ALL, other)) == \
        HCS_E_SYSTEM_NOT_FOUND
    for s in (plain, handle[0]):
        terminate(s)
        lib.HcsCloseComputeSystem(s)


def test_processes_end_when_system_shuts_down(fake) -> None:
    """Shutdown (SIGTERM, grace, SIGKILL) and terminate end the system's processes."""
    system = create_system()
    proc, info = create_process(system, {"CommandLine": SLEEP_30})
    assert system_call(lib.HcsShutDownComputeSystem, system)[0] == S_OK
    status = wait_process_exit(proc, 5000)
    assert status["Exited"] is True
    close_info(info)
    lib.HcsCloseProcess(proc)
    lib.HcsCloseComputeSystem(system)


def test_create_in_namespace_with_create_options_callback(fake) -> None:
    """HcsCreateComputeSystemInNamespace with HCS_CREATE_OPTIONS_1: its Callback/CallbackOptions are registered
    on the new handle (ComputeDefs.h HCS_CREATE_OPTIONS_1)."""
    from tests.fakes.rawhcs import EV_OPERATION_CALLBACK, EV_SYSTEM_EXITED, EventRecorder

    rec = EventRecorder()
    opts = ffi.new("HCS_CREATE_OPTIONS_1 *")
    opts.Version = 0x00010000
    opts.CallbackOptions = 1  # HcsEventOptionEnableOperationCallbacks
    opts.Callback = rec.callback
    handle = ffi.new("HCS_SYSTEM *")
    with operation() as op:
        assert u32(lib.HcsCreateComputeSystemInNamespace(to_wide("nsx"), to_wide(unique_id()), doc(CONTAINER), op,
                                                         ffi.cast("HCS_CREATE_OPTIONS *", opts), handle)) == S_OK
        (event,) = rec.wait_for(EV_OPERATION_CALLBACK)
        assert event[2] == op and result(op)[0] == S_OK
        assert u32(lib.HcsTerminateComputeSystem(handle[0], op, ffi.NULL)) == S_OK
        rec.wait_for(EV_SYSTEM_EXITED)
        assert wait(op)[0] == S_OK
    bad = ffi.new("HCS_CREATE_OPTIONS *", 5)
    with operation() as op:
        other = ffi.new("HCS_SYSTEM *")
        assert u32(lib.HcsCreateComputeSystemInNamespace(ffi.NULL, to_wide(unique_id()), doc(CONTAINER), op, bad,
                                                         other)) == E_INVALIDARG
    lib.HcsCloseComputeSystem(handle[0])


def test_live_migration_is_not_configured(fake) -> None:
    """choice: the fake's systems are never configured for live migration (HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION,
    SDK winerror.h)."""
    with running_system() as system:
        for fn in (lib.HcsInitializeLiveMigrationOnSource, lib.HcsStartLiveMigrationOnSource,
                   lib.HcsStartLiveMigrationTransfer, lib.HcsFinalizeLiveMigration):
            hr, text = system_call(fn, system)
            assert hr == 0x80370120 and json.loads(text)["Error"] & 0xFFFFFFFF == 0x80370120


def test_async_create_fault_leaves_no_system(fake) -> None:
    """An asynchronous fault on create: the call returns a handle, the operation fails, no system exists."""
    fake.inject_fault("HcsCreateComputeSystem", 0x80370108)
    system_id = unique_id()
    with operation() as op:
        hr, handle = _create(system_id, CONTAINER, op)
        assert hr == S_OK and handle != ffi.NULL
        assert wait(op)[0] == 0x80370108
        assert u32(lib.HcsStartComputeSystem(handle, op, ffi.NULL)) == S_OK
        assert wait(op)[0] == HCS_E_SYSTEM_NOT_FOUND
    other = ffi.new("HCS_SYSTEM *")
    assert u32(lib.HcsOpenComputeSystem(to_wide(system_id), GENERIC_ALL, other)) == HCS_E_SYSTEM_NOT_FOUND
    lib.HcsCloseComputeSystem(handle)


@pytest.mark.skipif(IS_WINDOWS, reason="trap: on Windows a process cannot handle the fake's console control delivery")
def test_shutdown_is_sigterm_then_sigkill_after_grace(fake) -> None:
    """Shutdown: SIGTERM to every process group (a process may exit cleanly), SIGKILL after the grace period
    (choice: 2 s); SystemExited/ExitType GracefulExit either way."""
    system = create_system()
    polite, polite_info = create_process(system, {"CommandLine": "trap 'echo bye; exit 0' TERM; sleep 30 & wait",
                                                  "CreateStdOutPipe": True})
    stubborn, stubborn_info = create_process(system, {"CommandLine": "trap '' TERM; while :; do sleep 0.05; done"})
    for info in (polite_info, stubborn_info):
        wait_for_trap(info["pid"], signal.SIGTERM)
    t0 = time.monotonic()
    assert system_call(lib.HcsShutDownComputeSystem, system)[0] == S_OK
    elapsed = time.monotonic() - t0
    from tests.fakes.rawhcs import read_all

    assert read_all(polite_info["stdout"]) == b"bye\n"
    assert wait_process_exit(polite)["ExitCode"] == 0
    assert wait_process_exit(stubborn)["ExitCode"] == 128 + 9
    assert 1.5 <= elapsed < 6, elapsed
    assert properties(system)["ExitType"] == "GracefulExit"
    close_info(polite_info)
    for h in (polite, stubborn):
        lib.HcsCloseProcess(h)
    lib.HcsCloseComputeSystem(system)
