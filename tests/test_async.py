"""The asyncio API: the same operations completed through HCS's completion callback (a native thread) into the
event loop with coalesced wakeups."""

from __future__ import annotations

import asyncio

import pytest

import pyhcs
from pyhcs import ComputeSystem
from tests.support import container_document, sh, unique_id, win_sleep


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_lifecycle_async() -> None:
    async def main() -> None:
        async with await ComputeSystem.create_async(unique_id(), container_document()) as system:
            await system.start_async()
            assert (await system.properties_async())["State"] == "Running"
            await system.pause_async()
            await system.resume_async()
            await system.shutdown_async()
            assert (await system.wait_async())["ExitType"] == "GracefulExit"

    run(main())


def test_many_operations_in_flight() -> None:
    async def main() -> None:
        async with await ComputeSystem.create_async(unique_id(), container_document()) as system:
            await system.start_async()
            results = await asyncio.gather(*(system.properties_async() for _ in range(500)))
            assert all(r["State"] == "Running" for r in results)

    run(main())


def test_errors_arrive_typed_through_the_callback() -> None:
    async def main() -> None:
        async with await ComputeSystem.create_async(unique_id(), container_document()) as system:
            with pytest.raises(pyhcs.HcsInvalidStateError) as info:
                await system.pause_async()
            assert info.value.function == "HcsPauseComputeSystem"
        with pytest.raises(pyhcs.HcsInvalidJsonError):
            await ComputeSystem.create_async(unique_id(), "[broken")

    run(main())


def test_cancelled_await_leaves_the_operation_to_finish(fake) -> None:
    """A cancelled task must not crash the callback, leak the operation or close handles HCS still uses."""
    async def main() -> None:
        system = await ComputeSystem.create_async(unique_id(), container_document())
        fake.set_latency("HcsStartComputeSystem", 200)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(system.start_async(), 0.02)
        assert pyhcs.operation.outstanding() >= 1
        system.close()
        await asyncio.sleep(0.5)
        assert pyhcs.operation.outstanding() == 0

    run(main())
    assert fake.wait_quiescent(5)


def test_process_streams_and_run_async() -> None:
    async def main() -> None:
        async with await ComputeSystem.create_async(unique_id(), container_document()) as system:
            await system.start_async()
            results = await asyncio.gather(*(system.run_async(sh(f"echo {i}", f"cmd /c echo {i}")) for i in range(20)))
            assert [r.stdout.strip() for r in results] == [str(i).encode() for i in range(20)]
            r = await system.run_async(sh("cat", "cmd /c more"), input=b"abc\n")
            assert r.stdout.strip() == b"abc" and r.exit_code == 0
            process = await system.create_process_async(sh("echo one; echo two", "cmd /c \"echo one& echo two\""),
                                                        stdin=False)
            async with process:
                _, stdout, _ = await process.streams()
                lines = [line.strip() async for line in stdout]
                assert lines == [b"one", b"two"]
                assert await process.wait_async() == 0

    run(main())


def test_event_stream_ends_after_system_exit() -> None:
    async def main() -> None:
        async with await ComputeSystem.create_async(unique_id(), container_document()) as system:
            await system.start_async()
            async with system.events() as events:
                await system.terminate_async()
                seen = [e async for e in events]
            assert [e.type for e in seen] == [pyhcs.EventType.SYSTEM_EXITED]
            assert seen[0].data["ExitType"] == "ForcedExit"

    run(main())


def test_service_disconnect_fails_async_waits(fake) -> None:
    async def main() -> None:
        system = await ComputeSystem.create_async(unique_id(), container_document())
        try:
            await system.start_async()
            waiter = asyncio.ensure_future(system.wait_async())
            await asyncio.sleep(0.05)
            fake.simulate_service_disconnect()
            with pytest.raises(pyhcs.HcsServiceDisconnectedError):
                await waiter
        finally:
            system.close()

    run(main())


def test_an_exception_while_taking_the_result_reaches_the_waiter(monkeypatch) -> None:
    """The loop takes the result of a completed operation (HcsGetOperationResult) in its drained batch: an exception
    there must not be swallowed (the waiter would hang); it is delivered to the await, and the operation is still
    closed (the fake's leak check)."""
    from pyhcs import _completions
    from pyhcs._ffi import lib

    monkeypatch.setattr(_completions, "enabled", False)  # the trampoline's path (test_completions: the native one)

    def broken(handle, doc):
        raise RuntimeError("boom taking the result")

    async def main() -> None:
        async with await ComputeSystem.create_async(unique_id(), container_document()) as system:
            monkeypatch.setitem(lib.__dict__, "HcsGetOperationResult", broken)
            try:
                with pytest.raises(RuntimeError, match="boom"):
                    await asyncio.wait_for(system.start_async(), 10)
            finally:
                monkeypatch.undo()
            assert pyhcs.operation.outstanding() == 0

    run(main())


def test_an_exception_on_the_hcs_thread_reaches_the_waiter(monkeypatch) -> None:
    """The completion callback runs on an HCS thread and only queues the operation for its loop; if even that fails,
    the exception must not unwind into HCS nor be lost: the operation is finished there (result read, handle closed,
    lease returned) and the await raises it."""
    from pyhcs import _completions, _delivery

    monkeypatch.setattr(_completions, "enabled", False)  # only the trampoline runs Python on HCS's thread

    def broken(self, record):
        raise RuntimeError("boom on the HCS thread")

    async def main() -> None:
        async with await ComputeSystem.create_async(unique_id(), container_document()) as system:
            monkeypatch.setattr(_delivery.LoopDelivery, "settle", broken)
            try:
                with pytest.raises(RuntimeError, match="boom on the HCS thread"):
                    await asyncio.wait_for(system.start_async(), 10)
            finally:
                monkeypatch.undo()
            assert pyhcs.operation.outstanding() == 0
            assert (await system.properties_async())["State"] == "Running"  # HCS did start it; the lease was returned

    run(main())


def test_cancelled_futures_are_ignored_by_the_delivery() -> None:
    async def main() -> None:
        async with await ComputeSystem.create_async(unique_id(), container_document()) as system:
            await system.start_async()
            futures = [system.properties_async() for _ in range(200)]
            for f in futures[::2]:
                f.cancel()
            results = await asyncio.gather(*futures[1::2])
            assert all(r["State"] == "Running" for r in results)
            await asyncio.sleep(0.1)
            assert pyhcs.operation.outstanding() == 0

    run(main())


def test_every_async_method_reaches_hcs() -> None:
    """Each *_async twin runs the same HCS call as its synchronous form."""
    async def main() -> None:
        system_id = unique_id()
        async with await ComputeSystem.create_async(system_id, container_document()) as system:
            assert [p["Id"] for p in await ComputeSystem.enumerate_async({"Ids": [system_id]})] == [system_id]
            await system.start_async()
            await system.modify_async({"ResourcePath": "Container/Memory", "RequestType": "Update",
                                       "Settings": {"SizeInMB": 256}})
            await system.pause_async()
            await system.save_async({"SaveType": "ToFile", "SaveStateFilePath": "/tmp/pyhcs-async-save.vmrs"})
            await system.resume_async()
            process = await system.create_process_async(sh("sleep 5", win_sleep(5)),
                                                        stdin=False)
            async with process:
                status = await process.properties_async()
                assert status["ProcessId"] == process.pid and not status["Exited"]
                if not pyhcs._stdio._IS_WINDOWS:
                    await process.signal_async("CtrlShutdown")
                    assert await process.wait_async() != 0
                    assert await process.terminate_async() is False
                else:
                    assert await process.terminate_async() is True
                    await process.wait_async()
            console = await system.create_process_async(sh("sleep 5", win_sleep(5)),
                                                        emulate_console=True)
            async with console:
                await console.resize_console_async(width=100, height=40)
                await console.close_stdin_async()
                await console.terminate_async()
                await console.wait_async()
            await system.crash_async()
            assert (await system.wait_async())["ExitType"] in ("UnexpectedExit", "ForcedExit")

    run(main())


def test_async_argument_errors_surface_at_await() -> None:
    async def main() -> None:
        future = ComputeSystem.create_async(unique_id(), None)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await future
        async with await ComputeSystem.create_async(unique_id(), container_document()) as system:
            with pytest.raises(TypeError):
                await system.modify_async(None)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await system.properties_async(42)  # type: ignore[arg-type]

    run(main())


def test_closing_a_process_with_live_streams_hands_its_files_to_the_streams() -> None:
    """The loop watches the pipes of streams(): closing the files under it could let a reused descriptor number
    confuse the loop. close() stops the streams, which close their files."""
    async def main() -> None:
        async with await ComputeSystem.create_async(unique_id(), container_document()) as system:
            await system.start_async()
            for _ in range(20):
                process = await system.create_process_async(
                    sh("echo start; sleep 5", win_sleep(5, before="start")), stdin=False)
                _, stdout, _ = await process.streams()
                assert (await stdout.readline()).strip() == b"start"
                assert await process.streams() == await process.streams()  # one set of streams per process
                await process.terminate_async()
                process.close()  # before the stream saw EOF
                await asyncio.sleep(0)
            r = await system.run_async(sh("echo after", "cmd /c echo after"))
            assert r.stdout.strip() == b"after"

    run(main())
