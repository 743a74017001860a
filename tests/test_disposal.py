"""When pyhcs gives up on a call whose result is an object, it disposes of that object when HCS delivers it
(issue 8, item 10).

hcsshim terminates a compute system whose create timed out (internal/hcs/system.go CreateComputeSystem), since
nothing else can reach it: its id stays taken and, for a container, its resources held. pyhcs does the same for a
timed-out ``create``, a cancelled ``create_async``, a failed event registration after a successful create, and for
processes (a cancelled ``run_async`` / ``create_process_async``, a timed-out ``create_process``). ``exit_action=
"leave"`` keeps a system: the caller asked for systems to outlive their handles.
"""

from __future__ import annotations

import asyncio
import time

import pytest

import pyhcs
from pyhcs import ComputeSystem
from tests.support import container_document, sh, unique_id, win_sleep

LONG = sh("sleep 30", win_sleep(30))


def settle(fake, counter: str, expected: int = 0, timeout: float = 10) -> int:
    assert pyhcs.operation.drain(timeout)
    deadline = time.monotonic() + timeout
    while True:
        fake.wait_quiescent(timeout)
        value = fake.counters()[counter]
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def test_a_timed_out_create_disposes_of_the_system(fake) -> None:
    system_id = unique_id()
    fake.set_latency("HcsCreateComputeSystem", 300)
    with pytest.raises(pyhcs.HcsTimeoutError):
        ComputeSystem.create(system_id, container_document(), timeout=0.05)
    fake.set_latency("HcsCreateComputeSystem", 0)
    assert settle(fake, "LiveSystems") == 0
    with ComputeSystem.create(system_id, container_document(), timeout=10):  # the id is free again
        pass


def test_cancelled_create_async_disposes_of_every_system(fake) -> None:
    """300 cancelled create_async calls used to leave 300 systems in HCS."""
    ids = [unique_id() for _ in range(50)]

    async def main() -> None:
        fake.set_latency("HcsCreateComputeSystem", 20)
        tasks = [asyncio.ensure_future(ComputeSystem.create_async(i, container_document())) for i in ids]
        await asyncio.sleep(0.01)
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, ComputeSystem):  # finished before the cancel: the caller got it, and ends it
                async with result:
                    pass
        while pyhcs.operation.outstanding():
            await asyncio.sleep(0.02)

    asyncio.run(main())
    fake.set_latency("HcsCreateComputeSystem", 0)
    assert settle(fake, "LiveSystems") == 0
    with ComputeSystem.create(ids[0], container_document(), timeout=10):
        pass


def test_a_cancelled_create_async_with_exit_action_leave_keeps_the_system(fake) -> None:
    system_id = unique_id()

    async def main() -> None:
        fake.set_latency("HcsCreateComputeSystem", 200)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ComputeSystem.create_async(system_id, container_document(), exit_action="leave"),
                                   0.02)
        while pyhcs.operation.outstanding():
            await asyncio.sleep(0.02)

    asyncio.run(main())
    assert settle(fake, "OpenSystemHandles") == 0
    with ComputeSystem.open(system_id, exit_action="terminate") as system:
        assert system.state == "Created"


def test_a_failed_event_registration_disposes_of_the_created_system(fake) -> None:
    system_id = unique_id()
    fake.inject_fault("HcsSetComputeSystemCallback", 0x80070005, sync=True)
    with pytest.raises(pyhcs.HcsAccessDeniedError):
        ComputeSystem.create(system_id, container_document(), timeout=10)
    assert settle(fake, "LiveSystems") == 0


def test_a_cancelled_run_async_terminates_its_process(fake) -> None:
    """The process kept running with nothing left to stop it."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)

        async def main() -> None:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(system.run_async(LONG), 0.3)

        asyncio.run(main())
        assert settle(fake, "RunningProcesses") == 0


def test_a_run_async_cancelled_during_the_create_terminates_the_process_when_it_arrives(fake) -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        fake.set_latency("HcsCreateProcess", 200)

        async def main() -> None:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(system.run_async(LONG), 0.02)
            while pyhcs.operation.outstanding():
                await asyncio.sleep(0.02)

        asyncio.run(main())
        fake.set_latency("HcsCreateProcess", 0)
        assert settle(fake, "RunningProcesses") == 0
        assert settle(fake, "OpenProcessHandles") == 0


def test_a_timed_out_create_process_terminates_the_process(fake) -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        fake.set_latency("HcsCreateProcess", 200)
        with pytest.raises(pyhcs.HcsTimeoutError):
            system.create_process(LONG, timeout=0.02)
        fake.set_latency("HcsCreateProcess", 0)
        assert settle(fake, "RunningProcesses") == 0
        assert settle(fake, "OpenProcessHandles") == 0
