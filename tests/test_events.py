"""Events: one registration per handle, fanned out to callbacks, iterators and waiters; closing races."""

from __future__ import annotations

import threading
import time

import pytest

import pyhcs
from pyhcs import ComputeSystem
from tests.support import container_document, unique_id, win_sleep


@pytest.fixture(autouse=True)
def _each_event_path(event_path: str) -> str:
    """Every test here runs twice: events received natively (x86-64 POSIX), and through the cffi trampoline."""
    return event_path


def test_callback_runs_on_pyhcs_thread_and_may_close() -> None:
    """User callbacks never run on an HCS thread: closing from one must not deadlock (HcsCloseComputeSystem waits for
    callbacks in flight)."""
    system = ComputeSystem.create(unique_id(), container_document(), timeout=10)
    system.start(timeout=10)
    got = threading.Event()
    threads = []

    def on_event(event: pyhcs.Event) -> None:
        threads.append(threading.current_thread().name)
        system.close()
        got.set()

    system.on_event(on_event)
    system.terminate(timeout=10)
    assert got.wait(10)
    assert threads == ["pyhcs-events"]
    assert system._lease.wait_closed(5)


def test_unsubscribe_stops_delivery() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        seen = []
        unsubscribe = system.on_event(seen.append)
        unsubscribe()
        system.terminate(timeout=10)
        system.wait(timeout=10)
        from pyhcs._delivery import callback_thread

        callback_thread().flush(5)
        assert seen == []


def test_service_disconnect_fails_every_wait(fake) -> None:
    system = ComputeSystem.create(unique_id(), container_document(), timeout=10)
    system.start(timeout=10)
    process = system.create_process("sleep 30" if not pyhcs._stdio._IS_WINDOWS else win_sleep(30),
                                    stdin=False, timeout=10)
    errors = []

    def wait(fn) -> None:
        try:
            fn(timeout=10)
        except pyhcs.HcsServiceDisconnectedError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wait, args=(fn,)) for fn in (system.wait, process.wait, system.wait)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    fake.simulate_service_disconnect()
    for t in threads:
        t.join(10)
    assert len(errors) == 3
    process.close()
    system.close()


def test_unexpected_exit_is_reported(fake) -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        fake.simulate_unexpected_exit(system.id, 0x80370106)
        status = system.wait(timeout=10)
        assert status["ExitType"] == "UnexpectedExit"


def test_close_racing_with_callbacks_in_flight(fake) -> None:
    """Close while exit events are being delivered, many times over: no deadlock, no crash, no leak."""
    # 2000 rounds race closes against callbacks; the fake's realistic create duration (100 ms) is beside the point.
    fake.set_minimum_duration("*", 0)
    for _ in range(2000):
        system = ComputeSystem.create(unique_id(), container_document(), timeout=10)
        system.start(timeout=10)
        system.on_event(lambda e: None)
        op = system.begin("HcsTerminateComputeSystem")
        system.close()
        op.wait(10)


def test_second_registration_on_a_handle_is_refused() -> None:
    """HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET: one callback per handle."""
    from pyhcs._ffi import ffi, lib

    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        cb = ffi.callback("HCS_EVENT_CALLBACK", lambda e, c: None)
        hr = lib.HcsSetComputeSystemCallback(system._lease.raw, 0, ffi.NULL, cb)
        assert hr & 0xFFFFFFFF == 0x80370119


def test_inline_callback_runs_on_the_hcs_thread_and_may_close_safely(fake) -> None:
    """HcsCloseComputeSystem from the handle's own callback deadlocks on Windows (the fake aborts); pyhcs hands the
    native close of an inline callback to its closer thread instead."""
    system = ComputeSystem.create(unique_id(), container_document(), timeout=10)
    system.start(timeout=10)
    seen = []
    done = threading.Event()

    def on_event(event: pyhcs.Event) -> None:
        seen.append((threading.current_thread().name, event.type))
        system.close()
        done.set()

    system.on_event(on_event, inline=True)
    system.terminate(timeout=10)
    assert done.wait(10)
    assert seen and seen[0][1] == pyhcs.EventType.SYSTEM_EXITED
    assert seen[0][0] not in ("pyhcs-events", threading.main_thread().name)
    assert system._lease.wait_closed(5)


def test_callbacks_must_be_callable() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        with pytest.raises(TypeError):
            system.on_event("not callable")  # type: ignore[arg-type]


def test_crash_events_reach_callbacks_and_streams_in_order() -> None:
    """HCS_EVENT.md / EventCallbackSample.md: a guest crash is reported as SystemCrashInitiated, SystemCrashReport
    (EventData: a CrashReport, SchemaReference.md#CrashReport) and then SystemExited; pyhcs hands each to
    ``on_event`` callbacks and to ``async for`` over ``system.events()``, in order."""
    import asyncio

    expected = [pyhcs.EventType.SYSTEM_CRASH_INITIATED, pyhcs.EventType.SYSTEM_CRASH_REPORT,
                pyhcs.EventType.SYSTEM_EXITED]
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        seen: list = []
        done = threading.Event()

        def on_event(event: pyhcs.Event) -> None:
            seen.append(event)
            if event.type == pyhcs.EventType.SYSTEM_EXITED:
                done.set()

        system.on_event(on_event)

        async def main() -> list:
            async with system.events() as events:
                await system.crash_async()
                return [e async for e in events]

        streamed = asyncio.run(main())
        assert done.wait(10)
        assert [e.type for e in seen] == expected
        assert [e.type for e in streamed] == expected
        for events in (seen, streamed):
            report = events[1].data
            assert isinstance(report, dict)
            assert report["SystemId"] == system.id
            assert report["ActivityId"] == events[0].data["ActivityId"]
            assert len(report["CrashParameters"]) == 5
            assert events[2].data["ExitType"] == "UnexpectedExit"
        assert system.wait(timeout=10)["ExitType"] == "UnexpectedExit"


def test_a_late_subscriber_still_gets_the_exit(fake) -> None:
    """on_event() said "every event of this handle", yet events before the call were lost. Decided and documented:
    events from the call on, except the exit, which is delivered at once to a subscriber that came too late --
    the one event a program must never miss (the fake, like HCS, reports an exit once per handle)."""
    import asyncio

    from pyhcs._delivery import callback_thread

    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        with system.create_process("exit 3" if not pyhcs._stdio._IS_WINDOWS else "cmd /c exit 3", stdin=False,
                                   timeout=10) as p:
            p.wait(timeout=10)
            seen: list = []
            p.on_event(seen.append)
            callback_thread().flush(5)
            assert [e.type for e in seen] == [pyhcs.EventType.PROCESS_EXITED]
            assert seen[0].data["ExitCode"] == 3 and seen[0].process_id == p.pid

            async def stream() -> list:
                return [event async for event in p.events()]

            late = asyncio.run(stream())
            assert [e.type for e in late] == [pyhcs.EventType.PROCESS_EXITED]
        system.terminate(timeout=10)
        system.wait(timeout=10)
        after: list = []
        system.on_event(after.append)
        callback_thread().flush(5)
        assert [e.type for e in after] == [pyhcs.EventType.SYSTEM_EXITED]


def test_every_listener_gets_the_exit_exactly_once_however_pyhcs_learnt_it() -> None:
    """pyhcs may learn an exit before its event (HcsWaitForProcessExit right after the create, when the process
    ended before the callback was registered); the event HCS still delivers must not reach anyone twice -- not the
    early subscriber, not the late one who was handed the recorded exit, not an event stream."""
    import asyncio
    import json

    from pyhcs._delivery import callback_thread
    from pyhcs.events import EventHub

    status = {"ProcessId": 7, "Exited": True, "ExitCode": 0, "LastWaitResult": 0}
    hub = EventHub(pyhcs.EventType.PROCESS_EXITED, "system", 7)
    try:
        early: list = []
        hub.subscribe(early.append)

        async def main() -> None:
            stream = hub.stream()
            assert hub.set_exit(status) is True
            late: list = []
            hub.subscribe(late.append)
            hub._on_native_event(int(pyhcs.EventType.PROCESS_EXITED), json.dumps(status), None)  # HCS's own
            assert [e.type async for e in stream] == [pyhcs.EventType.PROCESS_EXITED]
            callback_thread().flush(5)
            assert [e.data for e in early] == [status] and [e.data for e in late] == [status]

        asyncio.run(main())
        assert hub.native_exit_events == 1
    finally:
        hub.release()
