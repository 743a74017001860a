"""The fake HCS: event callbacks (raw pyhcs._ffi layer).

Sources: Reference/HcsSetComputeSystemCallback.md, HcsSetProcessCallback.md, HCS_EVENT.md, HCS_EVENT_TYPE.md,
HCS_EVENT_OPTIONS.md, EventCallbackSample.md, HCSHResult.md; hcsshim internal/hcs/v2/system.go, process.go and
notification.go (close unregisters and drains callbacks in flight; no callback fires past close).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from tests.fakes.rawhcs import (
    IS_WINDOWS,
    SLEEP_SHORT,
    TRUE,
    echo,
    EV_OPERATION_CALLBACK,
    EV_PROCESS_EXITED,
    EV_SYSTEM_EXITED,
    GENERIC_ALL,
    HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET,
    S_OK,
    EventRecorder,
    create_process,
    create_system,
    ffi,
    lib,
    operation,
    properties,
    result,
    running_system,
    system_call,
    to_wide,
    u32,
    wait_process_exit,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_second_callback_registration_is_already_set(fake) -> None:
    """HCSHResult.md: HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET "an event callback has already been registered
    on this handle"."""
    rec = EventRecorder()
    with running_system() as system:
        assert u32(lib.HcsSetComputeSystemCallback(system, 0, ffi.NULL, rec.callback)) == S_OK
        assert u32(lib.HcsSetComputeSystemCallback(system, 0, ffi.NULL, rec.callback)) == \
            HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET
        proc, info = create_process(system, {"CommandLine": TRUE})
        assert u32(lib.HcsSetProcessCallback(proc, 0, ffi.NULL, rec.callback)) == S_OK
        assert u32(lib.HcsSetProcessCallback(proc, 0, ffi.NULL, rec.callback)) == \
            HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET
        rec.wait_for(EV_PROCESS_EXITED)
        lib.HcsCloseProcess(proc)


def test_system_exited_reaches_every_open_handle(fake) -> None:
    """HCS_EVENT.md: SystemExited with SystemExitStatus {Status, ExitType}; delivered to every open handle of the
    system that has a callback, on an HCS thread."""
    system = create_system()
    system_id = properties(system)["Id"]
    other = ffi.new("HCS_SYSTEM *")
    assert u32(lib.HcsOpenComputeSystem(to_wide(system_id), GENERIC_ALL, other)) == S_OK
    recs = [EventRecorder(), EventRecorder()]
    assert u32(lib.HcsSetComputeSystemCallback(system, 0, ffi.NULL, recs[0].callback)) == S_OK
    assert u32(lib.HcsSetComputeSystemCallback(other[0], 0, ffi.NULL, recs[1].callback)) == S_OK
    assert system_call(lib.HcsShutDownComputeSystem, system)[0] == S_OK
    for rec in recs:
        (event,) = rec.wait_for(EV_SYSTEM_EXITED)
        status = json.loads(event[1])
        assert status["ExitType"] == "GracefulExit" and status["Status"] == 0
        assert rec.threads[0] != threading.get_ident()
    time.sleep(0.05)
    assert [len(r.events) for r in recs] == [1, 1]
    lib.HcsCloseComputeSystem(system)
    lib.HcsCloseComputeSystem(other[0])


def test_process_exited_exactly_once_for_many_processes(fake) -> None:
    """HCS_EVENT.md ProcessExited carries ProcessStatus; exactly once per process handle with a callback, after
    the process is reaped (its output is complete)."""
    with running_system() as system:
        rec = EventRecorder()
        procs = []
        for i in range(200):
            proc, info = create_process(system, {"CommandLine": echo(str(i)), "CreateStdOutPipe": True})
            assert u32(lib.HcsSetProcessCallback(proc, 0, ffi.cast("void *", i + 1), rec.callback)) == S_OK
            procs.append((proc, info))
        events = rec.wait_for(EV_PROCESS_EXITED, 200, timeout=30)
        for proc, info in procs:
            # the event came after the writer was gone: the pipe is at EOF without waiting
            data = os.read(info["stdout"], 100)
            assert os.read(info["stdout"], 100) == b""
            assert data.strip().isdigit()
            os.close(info["stdout"])
        statuses = [json.loads(e[1]) for e in events]
        assert sorted(s["ProcessId"] for s in statuses) == sorted(info["pid"] for _, info in procs)
        assert all(s["Exited"] and s["ExitCode"] == 0 for s in statuses)
        assert fake.wait_quiescent(5)
        time.sleep(0.05)
        assert len(rec.of(EV_PROCESS_EXITED)) == 200
        for proc, _ in procs:
            lib.HcsCloseProcess(proc)


def test_process_exited_once_per_handle_including_opened_ones(fake) -> None:
    with running_system() as system:
        proc, info = create_process(system, {"CommandLine": SLEEP_SHORT})
        other = ffi.new("HCS_PROCESS *")
        assert u32(lib.HcsOpenProcess(system, info["pid"], GENERIC_ALL, other)) == S_OK
        recs = [EventRecorder(), EventRecorder()]
        assert u32(lib.HcsSetProcessCallback(proc, 0, ffi.NULL, recs[0].callback)) == S_OK
        assert u32(lib.HcsSetProcessCallback(other[0], 0, ffi.NULL, recs[1].callback)) == S_OK
        for rec in recs:
            rec.wait_for(EV_PROCESS_EXITED)
        time.sleep(0.05)
        assert [len(r.events) for r in recs] == [1, 1]
        # choice: a callback registered after the exit still receives ProcessExited once
        late = EventRecorder()
        third = ffi.new("HCS_PROCESS *")
        lib.HcsCloseProcess(other[0])
        proc2, info2 = create_process(system, {"CommandLine": TRUE})
        wait_process_exit(proc2)
        assert u32(lib.HcsSetProcessCallback(proc2, 0, ffi.NULL, late.callback)) == S_OK
        late.wait_for(EV_PROCESS_EXITED)
        del third
        lib.HcsCloseProcess(proc)
        lib.HcsCloseProcess(proc2)


def test_operation_callbacks_option(fake) -> None:
    """HCS_EVENT_OPTIONS.md HcsEventOptionEnableOperationCallbacks: completed operations on the handle arrive as
    HcsEventOperationCallback with event->Operation set; an operation with its own callback then fails with
    HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET."""
    rec = EventRecorder()
    with running_system() as system:
        assert u32(lib.HcsSetComputeSystemCallback(system, 1, ffi.NULL, rec.callback)) == S_OK
        with operation() as op:
            assert u32(lib.HcsGetComputeSystemProperties(system, op, ffi.NULL)) == S_OK
            (event,) = rec.wait_for(EV_OPERATION_CALLBACK)
            assert event[2] == op and event[1] is None
            assert result(op)[0] == S_OK

        @ffi.callback("HCS_OPERATION_COMPLETION")
        def own(op, ctx):
            pass

        with operation(own) as op:
            assert u32(lib.HcsGetComputeSystemProperties(system, op, ffi.NULL)) == \
                HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET
            assert result(op)[0] == 0x80370115  # nothing was started


def test_close_waits_for_a_callback_in_flight(fake) -> None:
    """HcsCloseComputeSystem unregisters the callback and waits for a callback in flight (hcsshim v2/system.go;
    WSL PR #41269), and no callback fires after close returns."""
    entered, finished = threading.Event(), threading.Event()

    def slow(etype, data, op):
        entered.set()
        time.sleep(0.5)
        finished.set()

    rec = EventRecorder(slow)
    system = create_system()
    assert u32(lib.HcsSetComputeSystemCallback(system, 0, ffi.NULL, rec.callback)) == S_OK
    assert system_call(lib.HcsTerminateComputeSystem, system)[0] == S_OK
    assert entered.wait(5)
    closed_at = {}

    def closer():
        lib.HcsCloseComputeSystem(system)
        closed_at["finished_before_close_returned"] = finished.is_set()

    t = threading.Thread(target=closer)
    t.start()
    t.join(5)
    assert closed_at == {"finished_before_close_returned": True}


def test_no_callback_after_close(fake) -> None:
    rec = EventRecorder()
    with running_system() as system:
        proc, info = create_process(system, {"CommandLine": SLEEP_SHORT})
        assert u32(lib.HcsSetProcessCallback(proc, 0, ffi.NULL, rec.callback)) == S_OK
        lib.HcsCloseProcess(proc)
        time.sleep(0.4)
        assert rec.events == []


def _run_child(body: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent(f"""
        import sys, json, threading, time
        sys.path[:0] = [{os.path.join(REPO, 'src')!r}, {REPO!r}]
        from tests.fakes.rawhcs import *
        """) + textwrap.dedent(body)
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)


def test_closing_a_handle_from_its_own_callback_aborts_loudly(fake, fake_library) -> None:
    """Closing a handle inside its own callback deadlocks on Windows (close waits for the callback); the fake
    prints a message naming the mistake and aborts instead of hanging."""
    proc = _run_child("""
        box = {}
        def on_event(etype, data, op):
            lib.HcsCloseComputeSystem(box["system"])
        rec = EventRecorder(on_event)
        box["system"] = s = create_system()
        lib.HcsSetComputeSystemCallback(s, 0, ffi.NULL, rec.callback)
        lib.HcsTerminateComputeSystem(s, lib.HcsCreateOperation(ffi.NULL, ffi.NULL), ffi.NULL)
        time.sleep(10)
        print("no abort")
    """)
    # abort(): SIGABRT off Windows; exit code 3 from the C runtime on Windows
    assert proc.returncode == (3 if IS_WINDOWS else -signal.SIGABRT), (proc.returncode, proc.stdout, proc.stderr)
    assert "HcsCloseComputeSystem was called from inside the event callback" in proc.stderr
    assert "deadlock" in proc.stderr


EV_SYSTEM_CRASH_INITIATED = 0x00000002
EV_SYSTEM_CRASH_REPORT = 0x00000003


def test_crash_delivers_initiated_report_exited_once_per_handle(fake) -> None:
    """HCS_EVENT.md: SystemCrashInitiated and SystemCrashReport carry a CrashReport (SchemaReference.md#CrashReport:
    SystemId, ActivityId, CrashParameters = bug check code + 4 values, in both events; Status 2.4); then
    SystemExited (UnexpectedExit). EventCallbackSample.md: initiated, then reported, then exited; the report can be
    passed to HcsSubmitWerReport. Every open handle of the system with a callback gets each event exactly once; the
    exit's GuestCrash attribution carries the crash parameters (SchemaReference.md GuestCrash)."""
    system = create_system()
    system_id = properties(system)["Id"]
    other = ffi.new("HCS_SYSTEM *")
    assert u32(lib.HcsOpenComputeSystem(to_wide(system_id), GENERIC_ALL, other)) == S_OK
    quiet = ffi.new("HCS_SYSTEM *")   # no callback: gets nothing, must not disturb the others
    assert u32(lib.HcsOpenComputeSystem(to_wide(system_id), GENERIC_ALL, quiet)) == S_OK
    recs = [EventRecorder(), EventRecorder()]
    assert u32(lib.HcsSetComputeSystemCallback(system, 0, ffi.NULL, recs[0].callback)) == S_OK
    assert u32(lib.HcsSetComputeSystemCallback(other[0], 0, ffi.NULL, recs[1].callback)) == S_OK
    assert system_call(lib.HcsCrashComputeSystem, system)[0] == S_OK
    for rec in recs:
        rec.wait_for(EV_SYSTEM_EXITED)
    fake.wait_quiescent()
    for rec in recs:
        assert [e[0] for e in rec.events] == [EV_SYSTEM_CRASH_INITIATED, EV_SYSTEM_CRASH_REPORT, EV_SYSTEM_EXITED]
        initiated, report, exited = (json.loads(e[1]) for e in rec.events)
        for crash in (initiated, report):
            assert crash["SystemId"] == system_id
            assert len(crash["CrashParameters"]) == 5
            assert all(isinstance(v, int) and v >= 0 for v in crash["CrashParameters"])
        assert initiated["ActivityId"] == report["ActivityId"]
        assert report["Status"] == 0
        # WindowsCrashInfo: "only if the GuestCrashReporting device has been configured" -- a container has none.
        assert "WindowsCrashInfo" not in initiated and "WindowsCrashInfo" not in report
        assert exited["ExitType"] == "UnexpectedExit"
        # SchemaReference.md AttributionRecord.GuestCrash is a GuestCrash {CrashParameters}: the guest's values,
        # the same as its CrashReport events
        assert exited["Attribution"] == [{"GuestCrash": {"CrashParameters": initiated["CrashParameters"]}}]
        assert rec.threads[0] != threading.get_ident()
        # the report is HcsSubmitWerReport's input
        assert u32(lib.HcsSubmitWerReport(to_wide(rec.events[1][1]))) == S_OK
    for h in (system, other[0], quiet[0]):
        lib.HcsCloseComputeSystem(h)


def test_crash_report_has_windows_crash_info_with_guest_crash_reporting(fake) -> None:
    """SchemaReference.md#CrashReport: WindowsCrashInfo (WindowsCrashReport) is present only in SystemCrashReport
    and only with Devices.GuestCrashReporting configured on a Windows guest."""
    vm = {
        "SchemaVersion": {"Major": 2, "Minor": 1},
        "Owner": "fake-tests",
        "VirtualMachine": {"Devices": {"GuestCrashReporting": {
            "WindowsCrashSettings": {"DumpFileName": "C:\\dumps\\vm.dmp", "MaxDumpSize": 1 << 30}}}},
    }
    rec = EventRecorder()
    system = create_system(document=vm)
    assert u32(lib.HcsSetComputeSystemCallback(system, 0, ffi.NULL, rec.callback)) == S_OK
    assert system_call(lib.HcsCrashComputeSystem, system)[0] == S_OK
    rec.wait_for(EV_SYSTEM_EXITED)
    (initiated,) = rec.of(EV_SYSTEM_CRASH_INITIATED)
    (report,) = rec.of(EV_SYSTEM_CRASH_REPORT)
    assert "WindowsCrashInfo" not in json.loads(initiated[1])
    info = json.loads(report[1])["WindowsCrashInfo"]
    assert info["DumpFile"] == "C:\\dumps\\vm.dmp" and info["FinalPhase"] == "Complete"
    assert {"OsMajorVersion", "OsMinorVersion", "OsBuildNumber", "OsServicePackMajorVersion",
            "OsServicePackMinorVersion", "OsSuiteMask", "OsProductType", "Status"} <= set(info)
    lib.HcsCloseComputeSystem(system)
