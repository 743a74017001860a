"""The fake HCS as a shared service: one HCS for many client processes, as vmcompute.exe serves computecore.dll.

Each test starts a private fake HCS service (the ``fake_service`` fixture) and drives two or more real client
processes (``tests/service_agent.py``: each loads the fake with ``PYHCS_FAKE_SERVICE`` set) through the raw C ABI.

Sources: [DOC] MicrosoftDocs/Virtualization-Documentation virtualization/api/hcs (Reference/*.md, SchemaReference.md,
HCSHResult.md); [HS] microsoft/hcsshim internal/hcs/v2 and cmd/runhcs (every runhcs command is a separate process
that opens the container's compute system by id: HcsOpenComputeSystem); [RPC] learn.microsoft.com "Server Context
Run-down Routine" (a broken client connection runs down every context handle it opened).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from tests.fakes.rawhcs import (
    CONTAINER,
    E_NOT_FOUND,
    EV_PROCESS_EXITED,
    EV_SERVICE_DISCONNECT,
    EV_SYSTEM_EXITED,
    HCS_E_INVALID_STATE,
    HCS_E_OPERATION_TIMEOUT,
    HCS_E_SERVICE_DISCONNECT,
    HCS_E_SYSTEM_NOT_FOUND,
    HCS_E_UNEXPECTED_EXIT,
    IS_WINDOWS,
    S_OK,
    SLEEP_30,
    shell,
    unique_id,
)
from tests.fakes.service import FakeService, start_service
from tests.service_agent import Agent
from tests.support import wait_for_trap

EV_CRASH_INITIATED, EV_CRASH_REPORT = 0x2, 0x3
FLAGGED = dict(CONTAINER, ShouldTerminateOnLastHandleClosed=True)
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def clients(fake_service: FakeService, tmp_path: Path) -> Iterator[Callable[[str], Agent]]:
    """A factory of client processes of the test's service; each is closed (and leak-checked) after the test."""
    started: List[Agent] = []

    def new(name: str) -> Agent:
        agent = Agent(fake_service, name, log_dir=tmp_path)
        started.append(agent)
        return agent

    yield new
    for agent in started:
        agent.close()


def _status(text: str) -> dict:
    return json.loads(text)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------------- 1. systems
def test_a_system_created_by_one_client_is_opened_enumerated_and_driven_by_another(clients) -> None:
    """HcsOpenComputeSystem / HcsEnumerateComputeSystems see systems of every process [DOC]; runhcs's commands are
    separate processes that open the container by id [HS cmd/runhcs]."""
    a, b = clients("a"), clients("b")
    sid = unique_id("shared")
    assert a("create", name="s", id=sid) == S_OK
    assert b("open", name="s", id=sid) == S_OK
    hr, text = b("enumerate", query={"Ids": [sid]})
    assert hr == S_OK and [p["Id"] for p in json.loads(text)] == [sid]
    hr, text = b("system", name="s", fn="GetProperties")
    assert hr == S_OK and json.loads(text)["State"] == "Running"
    assert b("system", name="s", fn="Pause")[0] == S_OK
    assert json.loads(a("system", name="s", fn="GetProperties")[1])["State"] == "Paused"
    assert b("system", name="s", fn="Resume")[0] == S_OK
    assert json.loads(a("system", name="s", fn="GetProperties")[1])["State"] == "Running"
    assert b("system", name="s", fn="Modify",
             options={"ResourcePath": "Container/Memory/SizeInMB", "RequestType": "Update", "Settings": 512})[0] == S_OK
    assert b("system", name="s", fn="Terminate")[0] == S_OK
    hr, text = a("wait_exit", name="s")
    assert hr == S_OK and _status(text)["ExitType"] == "ForcedExit"
    assert a("system", name="s", fn="Start")[0] == HCS_E_INVALID_STATE  # ephemeral: stopped for everyone [DOC]


def test_every_callback_in_every_client_receives_each_system_event_in_order_exactly_once(clients) -> None:
    """HCS_EVENT.md / EventCallbackSample.md: SystemCrashInitiated, SystemCrashReport, then SystemExited reach every
    handle with a callback -- here five handles in three processes, two of them in the same process."""
    a, b, c = clients("a"), clients("b"), clients("c")
    sid = unique_id("events")
    vm = {"SchemaVersion": {"Major": 2, "Minor": 1}, "VirtualMachine": {"Devices": {}}}
    assert a("create", name="s", id=sid, doc=vm, watch_events=True) == S_OK
    assert b("open", name="s", id=sid, watch_events=True) == S_OK
    assert b("open", name="s2", id=sid, watch_events=True) == S_OK
    assert c("open", name="s", id=sid, watch_events=True) == S_OK
    assert c("open", name="s2", id=sid, watch_events=True) == S_OK
    assert c("system", name="s2", fn="Crash")[0] == S_OK
    for agent, name in ((a, "s"), (b, "s"), (b, "s2"), (c, "s"), (c, "s2")):
        got = agent("events", name=name, count=3, settle=0.3)
        assert [t for t, _ in got] == [EV_CRASH_INITIATED, EV_CRASH_REPORT, EV_SYSTEM_EXITED], (agent.name, name, got)
        initiated, report, exited = (json.loads(d) for _, d in got)
        assert initiated["SystemId"] == report["SystemId"] == sid
        assert initiated["ActivityId"] == report["ActivityId"]
        assert exited["ExitType"] == "UnexpectedExit"


# ---------------------------------------------------------------------------------------------------- 2. lifetime
def test_should_terminate_on_last_handle_closed_counts_the_handles_of_every_client(clients, fake_service) -> None:
    """SchemaReference.md ComputeSystem.ShouldTerminateOnLastHandleClosed: the *last* handle, whichever process held
    it, terminates the system; until then it runs."""
    a, b = clients("a"), clients("b")
    sid = unique_id("last")
    assert a("create", name="s", id=sid, doc=FLAGGED) == S_OK
    assert a("spawn", name="p", system="s", params={"CommandLine": SLEEP_30})[0] == S_OK
    assert b("open", name="s", id=sid, watch_events=True) == S_OK
    a("close", name="p")
    a("close", name="s")  # not the last handle: b still holds one
    time.sleep(0.2)
    assert json.loads(b("system", name="s", fn="GetProperties")[1])["State"] == "Running"
    with fake_service.control() as ctl:
        assert ctl.counters()["RunningProcesses"] == 1
        b("close", name="s")  # the last one
        deadline = time.monotonic() + 10
        while ctl.counters()["LiveSystems"] and time.monotonic() < deadline:
            time.sleep(0.05)
        counters = ctl.counters()
    assert counters["LiveSystems"] == 0 and counters["RunningProcesses"] == 0
    assert a("open", name="again", id=sid) == HCS_E_SYSTEM_NOT_FOUND


def test_a_killed_client_has_its_handles_closed_by_the_service(clients, fake_service) -> None:
    """A client killed with its handles open: the service closes them as the RPC run-down of its context handles
    would [RPC] -- its systems created with ShouldTerminateOnLastHandleClosed terminate [DOC SchemaReference], the
    others live on and can be opened again (a system outlives its creator)."""
    a, b = clients("a"), clients("b")
    flagged, plain = unique_id("flagged"), unique_id("plain")
    assert a("create", name="f", id=flagged, doc=FLAGGED) == S_OK
    assert a("create", name="p", id=plain) == S_OK
    assert a("spawn", name="fp", system="f", params={"CommandLine": SLEEP_30})[0] == S_OK
    hr, pid = a("spawn", name="pp", system="p", params={"CommandLine": SLEEP_30})
    assert hr == S_OK
    assert b("open", name="watcher", id=flagged, watch_events=False) == S_OK
    b("close", name="watcher")  # a's handle is the only one left on the flagged system
    with fake_service.control() as ctl:
        assert a.pid in ctl.clients()
        a.kill()
        deadline = time.monotonic() + 10
        while (a.pid in ctl.clients() or ctl.counters()["LiveSystems"] != 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert a.pid not in ctl.clients()
        counters = ctl.counters()
    assert counters["LiveSystems"] == 1 and counters["RunningProcesses"] == 1  # only the plain system's process
    assert b("open", name="f", id=flagged) == HCS_E_SYSTEM_NOT_FOUND  # terminated, and forgotten with its handle
    assert b("open", name="p", id=plain, watch_events=True) == S_OK
    assert json.loads(b("system", name="p", fn="GetProperties")[1])["State"] == "Running"
    assert b("open_process", name="pp", system="p", pid=pid) == S_OK  # its process survived its creator too
    assert b("system", name="p", fn="Terminate")[0] == S_OK
    assert [t for t, _ in b("events", name="p", count=1)] == [EV_SYSTEM_EXITED]


# ---------------------------------------------------------------------------------------------------- 3. processes
def test_std_handles_are_delivered_into_the_client_that_asked(clients) -> None:
    """HCS_PROCESS_INFORMATION's handles are the caller's own [HS v2/utils.go makeOpenFiles closes them]: they are
    passed into the calling process (SCM_RIGHTS on POSIX, DuplicateHandle on Windows) and work there; every
    HcsGetProcessInfo, in any client, hands out a fresh set [HS StdioLegacy]."""
    a, b = clients("a"), clients("b")
    sid = unique_id("stdio")
    assert a("create", name="s", id=sid) == S_OK
    cat = shell("exec cat", "cmd /c more")
    hr, pid = a("spawn", name="p", system="s", params={"CommandLine": cat, "CreateStdInPipe": True,
                                                         "CreateStdOutPipe": True, "CreateStdErrPipe": True})
    assert hr == S_OK and pid > 0
    assert a("streams_valid", name="p") == {"stdin": True, "stdout": True, "stderr": True}
    assert b("open", name="s", id=sid) == S_OK
    assert b("open_process", name="p", system="s", pid=pid) == S_OK
    assert b("process_info", name="p") == [S_OK, pid]
    assert b("streams_valid", name="p") == {"stdin": True, "stdout": True, "stderr": True}
    import base64

    a("write", name="p", data=base64.b64encode(b"ping\n").decode(), close_after=True)
    # The child sees end-of-input once every copy of stdin is closed: a's, b's, and the fake's own
    # (hcsshim CloseStdin: close the local handle and send CloseHandle StdIn).
    b("close", name="p")
    assert a("process", name="p", fn="Modify", options={"Operation": "CloseHandle",
                                                        "CloseHandle": {"Handle": "StdIn"}})[0] == S_OK
    out = base64.b64decode(a("read", name="p")).replace(b"\r\n", b"\n")
    assert out == b"ping\n"
    assert a("process_wait", name="p")[0] == S_OK


def test_a_process_is_opened_by_pid_from_another_client_and_its_exit_reaches_every_client(clients) -> None:
    """HcsOpenProcess by pid works from another process [DOC HcsOpenProcess]; ProcessExited reaches every process
    handle with a callback exactly once [DOC HCS_EVENT]; the exit status is readable through any handle after the
    exit."""
    a, b, c = clients("a"), clients("b"), clients("c")
    sid = unique_id("pexit")
    assert a("create", name="s", id=sid) == S_OK
    hr, pid = a("spawn", name="p", system="s", params={"CommandLine": SLEEP_30}, watch_events=True)
    assert hr == S_OK
    for agent in (b, c):
        assert agent("open", name="s", id=sid) == S_OK
        assert agent("open_process", name="p", system="s", pid=pid, watch_events=True) == S_OK
    assert c("open_process", name="p2", system="s", pid=pid, watch_events=True) == S_OK
    assert b("process", name="p", fn="Terminate")[0] == S_OK
    for agent, name in ((a, "p"), (b, "p"), (c, "p"), (c, "p2")):
        got = agent("events", name=name, count=1, settle=0.3)
        assert [t for t, _ in got] == [EV_PROCESS_EXITED], (agent.name, name, got)
        status = json.loads(got[0][1])
        assert status["Exited"] and status["ExitCode"] == 128 + 9 and status["ProcessId"] == pid
        hr, text = agent("process", name=name, fn="GetProperties")
        assert hr == S_OK and json.loads(text)["ExitCode"] == 128 + 9
    # After the exit the pid names no process: HRESULT_FROM_WIN32(ERROR_NOT_FOUND) [HS v2/errors.go]
    assert c("open_process", name="late", system="s", pid=pid) == E_NOT_FOUND


# ---------------------------------------------------------------------------------------------------- 4. operations
def test_operations_waits_timeouts_and_results_behave_as_in_process(clients, fake_service) -> None:
    """A wait that expires gives HCS_E_OPERATION_TIMEOUT and a later one the result [DOC HcsWaitForComputeSystemExit,
    HCSHResult.md]; documents are the same whichever client reads them. (The whole suite also runs in service mode:
    .ci/run, ``pytest --fake-service``.)"""
    a, b = clients("a"), clients("b")
    sid = unique_id("ops")
    assert a("create", name="s", id=sid) == S_OK
    assert b("open", name="s", id=sid) == S_OK
    assert a("system", name="s", fn="GetProperties") == b("system", name="s", fn="GetProperties")
    assert b("wait_exit", name="s", timeout_ms=200) == [HCS_E_OPERATION_TIMEOUT, None]
    b("wait_exit_async", key="w", name="s")  # INFINITE, in b, on the service
    with fake_service.control() as ctl:
        ctl.set_latency("HcsTerminateComputeSystem", 300)
        t0 = time.monotonic()
        assert a("system", name="s", fn="Terminate")[0] == S_OK
        assert time.monotonic() - t0 >= 0.25
        ctl.set_latency("HcsTerminateComputeSystem", 0)
    hr, text = b("result", key="w")
    assert hr == S_OK and _status(text)["ExitType"] == "ForcedExit"
    assert a("wait_exit", name="s") == b("wait_exit", name="s")


# ---------------------------------------------------------------------------------------------------- 5. service death
def _service_loss(clients, fake_service: FakeService, stop: Callable[[FakeService], None]) -> None:
    a, b = clients("a"), clients("b")
    sid = unique_id("loss")
    assert a("create", name="s", id=sid, watch_events=True) == S_OK
    # A process that ignores SIGTERM: the shutdown below stays in the service for its 2 s grace period.
    hr, pid = a("spawn", name="p", system="s", params={"CommandLine": shell("trap '' TERM; exec sleep 30", SLEEP_30)},
                watch_events=True)
    assert hr == S_OK
    assert b("open", name="s", id=sid, watch_events=True) == S_OK
    a("wait_exit_async", key="wait", name="s")
    if not IS_WINDOWS:
        wait_for_trap(pid, signal.SIGTERM)  # else the shutdown would end it at once
    if IS_WINDOWS:  # no signal to ignore there: the operation waits in the client instead
        with fake_service.control() as ctl:
            ctl.set_latency("HcsShutDownComputeSystem", 2000)
    a("system_async", key="op", name="s", fn="ShutDown")
    time.sleep(0.3)
    t0 = time.monotonic()
    stop(fake_service)
    # Every callback in every client learns promptly (HCS_EVENT_TYPE.md ServiceDisconnect) ...
    for agent, name in ((a, "s"), (a, "p"), (b, "s")):
        got = agent("events", name=name, count=1, within=10)
        assert [t for t, _ in got] == [EV_SERVICE_DISCONNECT], (agent.name, name, got)
    # ... and every pending wait and operation fails with HCS_E_SERVICE_DISCONNECT (HCSHResult.md).
    assert a("result", key="wait")[0] == HCS_E_SERVICE_DISCONNECT
    assert a("result", key="op")[0] == HCS_E_SERVICE_DISCONNECT
    assert time.monotonic() - t0 < 10
    # Later calls fail with it until a service is back ...
    assert a("enumerate")[0] == HCS_E_SERVICE_DISCONNECT
    assert b("system", name="s", fn="GetProperties")[0] == HCS_E_SERVICE_DISCONNECT
    # ... the processes of the lost service are gone with it ...
    if not IS_WINDOWS:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"process {pid} of the lost service still runs")
    # ... and a new service at the same endpoint starts empty (as after a vmcompute restart).
    restarted = start_service(fake_service.endpoint, log=fake_service.log_path)
    try:
        hr, text = a("enumerate")
        assert hr == S_OK and json.loads(text) == []
        assert a("system", name="s", fn="GetProperties")[0] == HCS_E_SERVICE_DISCONNECT  # a handle of the old one
        assert b("create", name="new", id=sid) == S_OK  # the id is free again
        assert b("system", name="new", fn="Terminate")[0] == S_OK
        a.close()
        b.close()
        with restarted.control() as ctl:
            ctl.assert_no_leaks()
            assert ctl.counters()["LiveSystems"] == 0
    finally:
        restarted.stop()


def test_a_service_crash_reaches_every_callback_wait_and_operation_of_every_client(clients, fake_service) -> None:
    """The service dies (killed): ServiceDisconnect to every callback, HCS_E_SERVICE_DISCONNECT for every pending
    wait and operation, and for later calls until a service is back; a new service starts empty. hcsshim
    (v2/notification.go) ends every wait with ErrUnexpectedProcessAbort on ServiceDisconnect."""
    _service_loss(clients, fake_service, lambda s: s.kill())


def test_a_stopped_service_is_a_disconnect_too(clients, fake_service) -> None:
    """HCS_EVENT_TYPE.md HcsEventServiceDisconnect: "the service crashed or was stopped" -- a stop gives the same."""
    _service_loss(clients, fake_service, lambda s: s.stop())


# ---------------------------------------------------------------------------------------------------- 6. control
def test_the_control_api_of_any_client_acts_on_the_service(clients, fake_service) -> None:
    """FakeHcsInjectFault / SetLatency / SimulateUnexpectedExit / Reset called in one client act on the service,
    hence on every client; the injected fault is in effect in the other client as soon as the call returns."""
    a, b = clients("a"), clients("b")
    sid = unique_id("ctl")
    assert b("create", name="s", id=sid, start=False, watch_events=True) == S_OK
    a("control", method="inject_fault", args=["HcsStartComputeSystem", HCS_E_UNEXPECTED_EXIT], kwargs={"sync": True})
    assert b("system", name="s", fn="Start")[0] == HCS_E_UNEXPECTED_EXIT  # taken by b ...
    assert b("system", name="s", fn="Start")[0] == S_OK  # ... once, for every client
    a("control", method="set_latency", args=["HcsGetComputeSystemProperties", 300])
    t0 = time.monotonic()
    assert b("system", name="s", fn="GetProperties")[0] == S_OK
    assert time.monotonic() - t0 >= 0.25
    a("control", method="set_latency", args=["HcsGetComputeSystemProperties", 0])
    a("control", method="simulate_unexpected_exit", args=[sid, HCS_E_UNEXPECTED_EXIT])
    (t, data), = b("events", name="s", count=1)
    assert t == EV_SYSTEM_EXITED and _status(data)["ExitType"] == "UnexpectedExit"
    b("control", method="reset")  # the whole service: a's view is empty too
    assert json.loads(a("enumerate")[1]) == []
    b("close", name="s")


def test_counters_are_read_per_client_and_for_the_whole_service(clients, fake_service) -> None:
    """FakeHcsGetCounters gives a client's own handles/strings/callbacks (with the service's systems and
    processes); FakeHcsGetGlobalCounters / ServiceControl.counters() sums every client; per client by pid."""
    a, b = clients("a"), clients("b")
    sid = unique_id("count")
    assert a("create", name="s", id=sid) == S_OK
    assert b("open", name="s", id=sid) == S_OK
    assert b("open", name="s2", id=sid) == S_OK
    assert b("spawn", name="p", system="s", params={"CommandLine": SLEEP_30})[0] == S_OK
    ca, cb = a("counters"), b("counters")
    assert (ca["OpenSystemHandles"], cb["OpenSystemHandles"], cb["OpenProcessHandles"]) == (1, 2, 1)
    assert ca["LiveSystems"] == cb["LiveSystems"] == 1 and ca["RunningProcesses"] == 1
    with fake_service.control() as ctl:
        assert sorted(ctl.clients()) == sorted([a.pid, b.pid])
        total = ctl.counters()
        assert (total["OpenSystemHandles"], total["OpenProcessHandles"]) == (3, 1)
        assert ctl.counters(pid=b.pid)["OpenSystemHandles"] == 2
        assert a("control", method="global_counters")["OpenSystemHandles"] == 3
        assert a("control", method="client_counters", args=[b.pid])["OpenSystemHandles"] == 2
        with pytest.raises(LookupError):
            ctl.counters(pid=1)
        b("release")
        a("release")
        ctl.assert_no_leaks()


def test_a_simulated_disconnect_reaches_every_client_until_reset(clients) -> None:
    """FakeHcsSimulateServiceDisconnect in one client: every client's callbacks get ServiceDisconnect and their calls
    fail with HCS_E_SERVICE_DISCONNECT until FakeHcsReset (fakehcs_control.h)."""
    a, b = clients("a"), clients("b")
    sid = unique_id("sim")
    assert b("create", name="s", id=sid, watch_events=True) == S_OK
    a("control", method="simulate_service_disconnect")
    assert [t for t, _ in b("events", name="s", count=1)] == [EV_SERVICE_DISCONNECT]
    assert b("system", name="s", fn="GetProperties")[0] == HCS_E_SERVICE_DISCONNECT
    assert a("enumerate")[0] == HCS_E_SERVICE_DISCONNECT
    b("close", name="s")  # closing still works
    a("control", method="reset")
    assert b("enumerate")[0] == S_OK


def test_a_process_that_is_not_a_client_drives_the_control_api_of_every_client(clients, fake_service) -> None:
    """tests.fakes.service.ServiceControl (a control connection: no handles, no events) injects faults, simulates
    an unexpected exit and a service disconnect, resets, and reads the counters -- for tools and test harnesses that
    load no fake themselves."""
    a, b = clients("a"), clients("b")
    sid = unique_id("ctlconn")
    assert a("create", name="s", id=sid, start=False, watch_events=True) == S_OK
    with fake_service.control() as ctl:
        ctl.inject_fault("HcsStartComputeSystem", HCS_E_UNEXPECTED_EXIT)  # asynchronous: the operation fails
        assert a("system", name="s", fn="Start")[0] == HCS_E_UNEXPECTED_EXIT
        assert a("system", name="s", fn="Start")[0] == S_OK
        with pytest.raises(ValueError):
            ctl.inject_fault("HcsNoSuchFunction", HCS_E_UNEXPECTED_EXIT)
        ctl.simulate_unexpected_exit(sid)
        assert [t for t, _ in a("events", name="s", count=1)] == [EV_SYSTEM_EXITED]
        with pytest.raises(LookupError):
            ctl.simulate_unexpected_exit(sid)  # no longer running
        assert b("open", name="s", id=sid, watch_events=True) == S_OK  # the exit event arrives once (README choice)
        ctl.simulate_service_disconnect()
        assert [t for t, _ in b("events", name="s", count=2)] == [EV_SYSTEM_EXITED, EV_SERVICE_DISCONNECT]
        assert b("enumerate")[0] == HCS_E_SERVICE_DISCONNECT
        ctl.reset()
        assert b("enumerate") == [S_OK, "[]"]
        assert ctl.counters()["OpenSystemHandles"] == 2  # reset forgets systems; the clients' handles stay theirs
        a("close", name="s")
        b("close", name="s")
        ctl.assert_no_leaks()
