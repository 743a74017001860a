"""The lifetime rules of the fast callback path (issue 13), each a promise the optimisations must keep.

An awaited call's completion callback reads the result, frees the string and closes the operation on HCS's thread
("an operation can be closed from within a callback", HcsCloseOperation.md), then queues the call for its event
loop, which returns the handle's lease and settles the future in its next batch. So the operation is released as
soon as HCS completes it, whether or not the loop runs; every queued completion must still be released when its
loop is closed first or never runs again; a handle's lease is counted without a lock and must never close under a call; an
event stream must never miss an event pushed while its consumer goes to sleep.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, List

import pytest

import pyhcs
from pyhcs import ComputeSystem
from tests.support import container_document, unique_id


def _start_calls(system: ComputeSystem, loop: asyncio.AbstractEventLoop, fake: Any, count: int) -> List[Any]:
    """Start *count* awaited calls on *loop*, then let HCS complete them all while the loop does not run: the
    completions are queued for it, unread."""
    fake.set_latency("HcsGetComputeSystemProperties", 50)  # completes after run_until_complete has returned

    async def start() -> List[Any]:
        return [system.properties_async() for _ in range(count)]

    futures = loop.run_until_complete(start())
    assert fake.wait_quiescent(10)
    fake.set_latency("HcsGetComputeSystemProperties", 0)
    assert not any(f.done() for f in futures)
    return futures


def test_the_completion_callback_releases_the_operation_and_the_loop_the_lease(fake, completion_path) -> None:
    """The completion callback closes the operation on HCS's thread (allowed inside the callback,
    HcsCloseOperation.md), so HCS holds no operation once the call is complete; the call itself -- its registry
    entry and the system handle's lease -- stays with pyhcs until the loop has settled the future. The result
    document is copied and freed there too by the trampoline, and by the loop when native code completes the call
    (no Python runs on HCS's thread then)."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        loop = asyncio.new_event_loop()
        try:
            futures = _start_calls(system, loop, fake, 20)
            counters = fake.counters()
            assert counters["OpenOperations"] == 0  # closed by the callbacks, though the loop has not run
            native = completion_path == "native" and pyhcs._delivery.delivery_for(loop).native
            assert counters["OutstandingStrings"] == (20 if native else 0)
            assert pyhcs.operation.outstanding() == 20  # not settled yet: the loop has not run
            results = loop.run_until_complete(asyncio.gather(*futures))
            assert all(r["State"] == "Running" for r in results)
            assert pyhcs.operation.outstanding() == 0
            assert fake.counters()["OutstandingStrings"] == 0
        finally:
            loop.close()


def test_completions_queued_for_a_loop_closed_before_it_ran_them_are_released(fake) -> None:
    """loop.close() drops the wakeup pyhcs scheduled for the completions it queued: nothing would ever return the
    system handle's lease those calls hold (their operations were closed by their callbacks). pyhcs notices the closed loop when it next
    looks (a new loop, ``operation.outstanding()``/``drain()``, or exit) and releases them there."""
    system = ComputeSystem.create(unique_id(), container_document(), timeout=10)
    system.start(timeout=10)
    loop = asyncio.new_event_loop()
    _start_calls(system, loop, fake, 20)
    loop.close()
    assert pyhcs.operation.drain(5)
    assert fake.counters()["OpenOperations"] == 0
    system.close()  # its lease was returned: the native close runs now
    assert system._lease.wait_closed(5)


def test_a_new_loop_releases_what_a_closed_one_left_behind(fake) -> None:
    system = ComputeSystem.create(unique_id(), container_document(), timeout=10)
    system.start(timeout=10)
    loop = asyncio.new_event_loop()
    _start_calls(system, loop, fake, 5)
    loop.close()

    async def again() -> Any:
        return await system.properties_async()  # a new loop: pyhcs sweeps the closed one first

    assert asyncio.run(again())["State"] == "Running"
    assert fake.counters()["OpenOperations"] == 0
    system.close()
    assert system._lease.wait_closed(5)


def test_a_completion_arriving_after_its_loop_closed_is_released_on_the_hcs_thread(fake) -> None:
    """Then there is no loop to hand it to: the HCS thread reads the result and closes the operation itself
    (allowed inside the callback), and the lease goes back; the system handle's native close, if it is the last
    user, moves to pyhcs's closer thread (never close a handle from its own callback)."""
    system = ComputeSystem.create(unique_id(), container_document(), timeout=10)
    system.start(timeout=10)
    fake.set_latency("HcsGetComputeSystemProperties", 200)

    async def main() -> None:
        system.properties_async()  # never awaited: asyncio.run closes the loop long before HCS completes it

    asyncio.run(main())
    system.close()  # the call still holds the lease: the native close waits for it
    assert not system._lease.wait_closed(0.05)
    assert system._lease.wait_closed(5)
    assert pyhcs.operation.drain(5)


def test_loops_in_two_threads_each_get_their_own_results(fake) -> None:
    """pyhcs caches the running loop per thread (asyncio.get_running_loop() costs a system call on 3.11); with a
    loop in each of two threads, each call must still settle on the loop that made it."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        errors: List[BaseException] = []

        def worker() -> None:
            async def main() -> None:
                for _ in range(30):
                    assert (await system.properties_async())["Id"] == system.id
                    await asyncio.sleep(0)

            try:
                for _ in range(3):  # a new loop each time, in the same thread
                    asyncio.run(main())
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors


def test_a_lease_never_closes_under_a_call_and_closes_exactly_once() -> None:
    """Lease counting takes no lock: threads acquiring and releasing while another closes must never see the
    native close run while one of them holds the handle, and the close must run once, after the last release."""
    from pyhcs._handles import Lease

    inside = [0]
    inside_lock = threading.Lock()
    closes: List[int] = []

    def closer(raw: Any) -> None:
        with inside_lock:
            closes.append(inside[0])

    for _ in range(20):
        closes.clear()
        lease = Lease(object(), closer, lambda: ("test handle", None, None))
        start = threading.Barrier(5)

        def user() -> None:
            start.wait()
            while True:
                try:
                    lease.acquire("test")
                except pyhcs.HcsClosedError:
                    return
                with inside_lock:
                    inside[0] += 1
                with inside_lock:
                    inside[0] -= 1
                lease.release()

        threads = [threading.Thread(target=user) for _ in range(4)]
        for t in threads:
            t.start()
        start.wait()
        lease.close()
        for t in threads:
            t.join(10)
        assert lease.wait_closed(5)
        assert closes == [0]  # once, with nobody inside


def test_an_event_stream_never_misses_an_event_pushed_while_it_goes_to_sleep() -> None:
    """Events are appended on HCS's threads while the consumer checks, finds nothing and waits: whatever the
    interleaving, every event arrives, in order, and the stream ends after the final one."""
    from pyhcs.events import Event, EventHub

    hub = EventHub(pyhcs.EventType.SYSTEM_EXITED, "stream-race")
    try:
        async def main() -> List[int]:
            stream = hub.stream()

            def producer() -> None:
                for i in range(2000):
                    stream._push(Event(pyhcs.EventType.SYSTEM_RDP_ENHANCED_MODE_STATE_CHANGED, str(i), "s"),
                                 final=(i == 1999))

            t = threading.Thread(target=producer)
            t.start()
            seen = [int(event.raw) async for event in stream]
            t.join()
            return seen

        assert asyncio.run(asyncio.wait_for(main(), 30)) == list(range(2000))
    finally:
        hub.release()


@pytest.mark.parametrize("inline", [False, True])
def test_an_exit_reaches_each_listener_once_when_many_handles_exit_together(inline: bool, event_path: str) -> None:
    """The exit is the hot event (many systems stop together); it is recorded and delivered in one pass on HCS's
    thread, and every listener -- callback, inline callback, stream -- still gets each exit exactly once."""
    systems = [ComputeSystem.create(unique_id(), container_document(), timeout=10) for _ in range(20)]
    try:
        seen: List[str] = []
        lock = threading.Lock()
        done = threading.Event()

        def on_event(event: pyhcs.Event) -> None:
            if event.type == pyhcs.EventType.SYSTEM_EXITED:
                with lock:
                    seen.append(event.system_id or "")
                    if len(seen) == len(systems):
                        done.set()

        for s in systems:
            s.start(timeout=10)
            s.on_event(on_event, inline=inline)

        async def main() -> List[str]:
            streams = [s.events() for s in systems]
            for s in systems:
                s.terminate_async()
            out = []
            for stream in streams:
                out += [e.system_id or "" async for e in stream]
            return out

        streamed = asyncio.run(asyncio.wait_for(main(), 30))
        assert done.wait(10)
        assert sorted(seen) == sorted(s.id for s in systems)
        assert sorted(streamed) == sorted(s.id for s in systems)
    finally:
        for s in systems:
            s.close()
