"""Events received by native code (``pyhcs._native_events``, x86-64 POSIX): HCS threads push and return, one of
them at a time drains into Python. What must hold: nothing lost or doubled in a burst, a handle's events in order,
a closed handle's events never reaching the handle that reuses its node, the trampoline taking over when the native
code cannot copy an event, and nothing left registered once handles are closed."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Dict, List

import pytest

import pyhcs
from pyhcs import ComputeSystem, _callbacks, _native_events
from tests.support import container_document, unique_id

pytestmark = pytest.mark.skipif(_native_events.receiver() is None,
                                reason="pyhcs receives events natively on x86-64 POSIX only")


def _started(n: int) -> List[ComputeSystem]:
    systems = []
    for _ in range(n):
        s = ComputeSystem.create(unique_id(), container_document(), timeout=10)
        s.start(timeout=10)
        systems.append(s)
    return systems


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def test_a_burst_of_crashes_reaches_every_listener_once_and_in_order_per_handle(fake) -> None:
    """100 systems crash at once: three events each (SystemCrashInitiated, SystemCrashReport, SystemExited;
    HCS_EVENT.md), pushed by several HCS threads while one of them drains. Every callback, inline callback and
    stream gets each system's three events exactly once, in that order."""
    expected = [pyhcs.EventType.SYSTEM_CRASH_INITIATED, pyhcs.EventType.SYSTEM_CRASH_REPORT,
                pyhcs.EventType.SYSTEM_EXITED]
    systems = _started(100)
    try:
        lock = threading.Lock()
        by_callback: Dict[str, list] = {s.id: [] for s in systems}
        by_inline: Dict[str, list] = {s.id: [] for s in systems}
        inline_threads = set()

        def on_event(event: pyhcs.Event) -> None:
            with lock:
                by_callback[event.system_id or ""].append(event.type)

        def on_inline(event: pyhcs.Event) -> None:
            with lock:
                by_inline[event.system_id or ""].append(event.type)
                inline_threads.add(threading.current_thread().name)

        for s in systems:
            s.on_event(on_event)
            s.on_event(on_inline, inline=True)

        async def main() -> Dict[str, list]:
            streams = {s.id: s.events() for s in systems}
            await asyncio.gather(*(s.crash_async() for s in systems))
            return {sid: [e.type async for e in stream] for sid, stream in streams.items()}

        streamed = asyncio.run(asyncio.wait_for(main(), 60))
        assert _wait_for(lambda: all(len(v) == 3 for v in by_callback.values()))
        assert all(v == expected for v in by_callback.values())
        assert all(v == expected for v in by_inline.values())
        assert all(v == expected for v in streamed.values())
        # Inline callbacks ran on HCS's threads (the draining one), never on pyhcs's own.
        assert inline_threads and not any(n.startswith("pyhcs") for n in inline_threads)
    finally:
        for s in systems:
            s.close()


def test_a_closed_handles_events_never_reach_the_handle_that_reuses_its_node(fake) -> None:
    """While one HCS thread is held up draining (in a slow inline callback), other systems' unexpected exits are
    pushed and wait on the list; those systems are closed (their callbacks returned: the close does not wait) and
    new systems are created. The waiting exits still reach the closed systems' hubs, never a new system's, and
    once everything is drained the registry holds only live handles and the nodes serve new handles."""
    fake.set_minimum_duration("*", 0)
    hubs = _native_events.receiver()._hubs  # the drain's index of the same hubs, by node address
    baseline, hubs_baseline = len(_callbacks.events), len(hubs)
    blocker = _started(1)[0]
    old = _started(40)
    go = threading.Event()
    draining = threading.Event()

    def hold_up(event: pyhcs.Event) -> None:
        if event.type == pyhcs.EventType.SYSTEM_EXITED:
            draining.set()
            go.wait(10)

    old_seen: List[str] = []
    blocker.on_event(hold_up, inline=True)
    for s in old:
        s.on_event(lambda event: old_seen.append(event.system_id or ""), inline=True)
    old_keys = {int(pyhcs._ffi.ffi.cast("uintptr_t", s._hub.key)) for s in old}
    new: List[ComputeSystem] = []
    try:
        delivered = fake.counters()["CallbacksDelivered"]
        fake.simulate_unexpected_exit(blocker.id)
        assert draining.wait(10)
        for s in old:
            fake.simulate_unexpected_exit(s.id)
        # The exits are pushed by the other HCS threads (each native callback returns at once) and wait behind the
        # held-up drain; the blocker's own callback has not returned yet.
        assert _wait_for(lambda: fake.counters()["CallbacksDelivered"] >= delivered + len(old)), fake.counters()
        for s in old:
            s.close()
        new_seen: Dict[str, list] = {}
        for _ in range(40):
            s = ComputeSystem.create(unique_id(), container_document(), timeout=10)
            new_seen[s.id] = []
            s.on_event(lambda event, sid=s.id: new_seen[sid].append(event.type), inline=True)
            new.append(s)
        go.set()
        assert _wait_for(lambda: len(old_seen) == len(old)), f"{len(old_seen)} of {len(old)} waiting exits arrived"
        assert _wait_for(lambda: len(_callbacks.events) == baseline + 1 + len(new))
        assert len(hubs) == hubs_baseline + 1 + len(new)
        assert all(v == [] for v in new_seen.values()), "a closed system's event reached a new system"
        assert sorted(old_seen) == sorted(s.id for s in old)
    finally:
        go.set()
        for s in new:
            s.close()
        blocker.close()
    assert _wait_for(lambda: len(_callbacks.events) == baseline)
    assert len(hubs) == hubs_baseline
    # The nodes are free again: new handles get them, not fresh memory.
    freed = old_keys | {int(pyhcs._ffi.ffi.cast("uintptr_t", s._hub.key)) for s in new + [blocker]}
    again = [ComputeSystem.create(unique_id(), container_document(), timeout=10) for _ in range(40)]
    try:
        keys = {int(pyhcs._ffi.ffi.cast("uintptr_t", s._hub.key)) for s in again}
        assert keys <= freed
    finally:
        for s in again:
            s.close()


def test_an_event_the_native_code_cannot_copy_goes_through_the_trampoline(fake) -> None:
    """If malloc fails, the native callback hands the event to the cffi trampoline, which delivers it on the HCS
    thread as on every other platform: the event still arrives, with its data."""
    from pyhcs import _native
    from pyhcs._ffi import ffi

    no_memory = _native.code(bytes.fromhex("31c0c3"))  # xor eax,eax; ret: a malloc that always fails
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        node = ffi.cast("uintptr_t *", system._hub.key)
        saved = node[2]  # the node's malloc (_native_events._MALLOC)
        node[2] = no_memory
        try:
            seen = []
            done = threading.Event()

            def on_event(event: pyhcs.Event) -> None:
                seen.append((event.type, event.data))
                done.set()

            system.on_event(on_event, inline=True)
            assert system.terminate(timeout=10)
            assert done.wait(10)
            assert seen[0][0] == pyhcs.EventType.SYSTEM_EXITED and seen[0][1]["ExitType"] == "ForcedExit"
        finally:
            node[2] = saved


def test_a_handle_closed_from_an_inline_callback_during_a_burst_closes(fake) -> None:
    """An inline callback runs on the HCS thread that drains for everyone: closing its own handle there (or any
    other) is handed to pyhcs's closer thread, and the drain goes on."""
    systems = _started(40)
    closed = threading.Event()
    count = [0]
    lock = threading.Lock()

    def close_on_exit(system: ComputeSystem):
        def on_event(event: pyhcs.Event) -> None:
            if event.type == pyhcs.EventType.SYSTEM_EXITED:
                system.close()
                with lock:
                    count[0] += 1
                    if count[0] == len(systems):
                        closed.set()
        return on_event

    for s in systems:
        s.on_event(close_on_exit(s), inline=True)
    for s in systems:
        fake.simulate_unexpected_exit(s.id)
    assert closed.wait(20)
    assert all(s._lease.wait_closed(10) for s in systems)


def test_a_drain_that_fails_keeps_draining(fake, monkeypatch, capsys) -> None:
    """An exception inside a drain (it runs on an HCS thread, and must not unwind into C) is reported, and the
    drainer goes on: the flag it holds is not left set, so later events still arrive."""
    receiver = _native_events.receiver()
    assert receiver is not None
    hand_over = receiver._hand_over
    failures = []

    def fail_once(first: int) -> None:
        if not failures:
            failures.append(first)
            raise MemoryError("injected")
        hand_over(first)

    monkeypatch.setattr(receiver, "_hand_over", fail_once)
    first, second = _started(2)
    try:
        arrived = threading.Event()
        second.on_event(lambda event: arrived.set(), inline=True)
        fake.simulate_unexpected_exit(first.id)  # its batch is the one that fails
        assert _wait_for(lambda: bool(failures))
        fake.simulate_unexpected_exit(second.id)
        assert arrived.wait(10), "the drain stopped after a failure"
        assert "MemoryError: injected" in capsys.readouterr().err
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("text", [None, "", "{}", '{"Status":0,"Detail":"caf\u00e9 \u6f22\u5b57 \U0001f600"}',
                                  "lone \ud800 surrogate \udfff", "x" * 70000])
def test_event_data_arrives_as_the_trampoline_would_decode_it(text) -> None:
    """The drain reads each pushed block's text straight from memory (``_native_events._memory``): what arrives is
    what ``ffi.string`` makes of HCS's EventData -- NULL as None, the empty string, characters beyond the BMP (a
    surrogate pair in UTF-16), unpaired surrogates kept, and a text longer than 64 KiB."""
    from pyhcs._ffi import ffi
    from pyhcs.events import EventHub

    receiver = _native_events.receiver()
    hub = EventHub(pyhcs.EventType.SYSTEM_EXITED, "native-text")
    seen: List[object] = []
    hub.subscribe(lambda event: seen.append((event.type, event.raw)), inline=True)
    data = ffi.NULL if text is None else ffi.new("char16_t[]", text)
    expected = None if text is None else ffi.string(data)
    event = ffi.new("HCS_EVENT *")
    try:
        for event_type in (pyhcs.EventType.SYSTEM_CRASH_INITIATED, pyhcs.EventType.SYSTEM_EXITED):
            event.Type = int(event_type)
            event.EventData = data
            receiver.callback(event, hub.key)  # this thread drains, as an HCS thread would (unless one already does)
        assert _wait_for(lambda: len(seen) == 2)
        assert seen == [(pyhcs.EventType.SYSTEM_CRASH_INITIATED, expected), (pyhcs.EventType.SYSTEM_EXITED, expected)]
    finally:
        hub.release()
