"""Lifetimes across the process boundary: interpreter exit with operations in flight, and handle release without
__del__ (the typing promise of the public API is tests/test_typing.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, fake_library: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
               PYHCS_COMPUTECORE=str(fake_library))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_interpreter_exit_waits_for_operations_in_flight(fake_library: Path) -> None:
    """A completion callback arriving after the interpreter is gone would never return to HCS; pyhcs waits for
    outstanding operations at exit."""
    result = run_python(
        """
        import asyncio, pyhcs
        from pyhcs.testing import FakeHcs
        fake = FakeHcs(pyhcs._ffi.library_path("computecore"))
        fake.reset()
        async def main():
            system = await pyhcs.ComputeSystem.create_async("exit-test", {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}})
            fake.set_latency("HcsStartComputeSystem", 300)
            task = asyncio.ensure_future(system.start_async())
            await asyncio.sleep(0.05)
            task.cancel()
            system.close()
            print("outstanding", pyhcs.operation.outstanding())
        asyncio.run(main())
        """,
        fake_library,
    )
    assert result.returncode == 0, result.stderr
    assert "outstanding 1" in result.stdout
    assert "Fatal" not in result.stderr and "Traceback" not in result.stderr


def test_timed_out_sync_operation_is_finished_before_exit(fake_library: Path) -> None:
    result = run_python(
        """
        import pyhcs
        from pyhcs.testing import FakeHcs
        fake = FakeHcs(pyhcs._ffi.library_path("computecore"))
        fake.reset()
        system = pyhcs.ComputeSystem.create("exit-sync", {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}})
        fake.set_latency("HcsStartComputeSystem", 300)
        try:
            system.start(timeout=0.01)
        except pyhcs.HcsTimeoutError:
            print("timed out")
        system.close()
        """,
        fake_library,
    )
    assert result.returncode == 0, result.stderr
    assert "timed out" in result.stdout and "Traceback" not in result.stderr


def test_an_unclosed_system_warns_and_is_closed_by_the_safety_net(fake) -> None:
    """close() and ``with`` release handles; __del__ is only a safety net that warns, like an unclosed file."""
    import gc
    import warnings

    import pyhcs

    system = pyhcs.ComputeSystem.create("unclosed", {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}})
    assert fake.counters()["OpenSystemHandles"] == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del system
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) and "unclosed" in str(w.message) for w in caught)
    assert fake.wait_quiescent(5)
    assert fake.counters()["OpenSystemHandles"] == 0


def test_closed_objects_do_not_warn(fake) -> None:
    import gc
    import warnings

    import pyhcs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pyhcs.ComputeSystem.create("closed", {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}}):
            pass
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_exit_never_unloads_hcs_under_its_own_threads(fake_library: Path) -> None:
    """cffi unloads a library when its object dies during finalization, while HCS's threads still run its code;
    that crashed one exit in six (SIGSEGV) until pyhcs pinned the library."""
    for _ in range(25):
        result = run_python("import pyhcs\nprint(len(pyhcs.ComputeSystem.enumerate()) >= 0)\n", fake_library)
        assert result.returncode == 0 and "True" in result.stdout, (result.returncode, result.stderr)


# Regressions found in review: each of these leaked a handle or lost a result before.
from tests.support import container_document, sh, unique_id  # noqa: E402

import pyhcs  # noqa: E402
from pyhcs import ComputeSystem  # noqa: E402


def _open_fds() -> "set[str]":
    return set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()


def test_an_awaited_operation_outliving_its_loop_still_releases_the_handle(fake) -> None:
    import asyncio

    system = ComputeSystem.create(unique_id(), container_document(), timeout=10)
    fake.set_latency("HcsStartComputeSystem", 300)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(system.start_async(), 0.05)

    asyncio.run(main())  # the loop is closed before HCS completes the start
    system.close()
    assert system._lease.wait_closed(5)


def test_failed_event_registration_closes_the_new_handle_only_after_the_create(fake) -> None:
    """Closing a handle while the call that created it is in flight breaks 'never abandon an in-flight call'."""
    fake.set_latency("HcsCreateComputeSystem", 300)
    fake.inject_fault("HcsSetComputeSystemCallback", 0x80070005, sync=True)
    with pytest.raises(pyhcs.HcsAccessDeniedError):
        ComputeSystem.create(unique_id(), container_document(), timeout=10)
    assert fake.counters()["OpenSystemHandles"] == 1  # the create is still running: its handle stays open
    assert pyhcs.operation.drain(5)
    assert fake.wait_quiescent(5)
    # The disposal terminates the system and closes the handle once that terminate lets go of it: from the
    # terminate's completion, on an HCS thread, so the close itself runs on pyhcs's closer thread, which neither
    # wait above covers. assert_no_leaks waits for it (and finds every other handle and string released too).
    fake.assert_no_leaks(5)
    assert fake.counters()["OpenSystemHandles"] == 0


@pytest.mark.skipif(sys.platform == "win32" or not os.path.isdir("/proc/self/fd"),
                    reason="counts file descriptors through /proc (under Wine that is the Linux host's)")
def test_failed_async_process_registration_leaks_no_std_handles(fake) -> None:
    import asyncio

    before = _open_fds()
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)

        async def main() -> None:
            fake.inject_fault("HcsSetProcessCallback", 0x80070005, sync=True)
            with pytest.raises(pyhcs.HcsAccessDeniedError):
                await system.create_process_async(sh("exit 0", "cmd /c exit 0"))
            await asyncio.sleep(0.3)

        asyncio.run(main())
    # The fake keeps its own copies of a process's pipes while the system lives; after it ends only a leak of
    # ours could remain.
    assert fake.wait_quiescent(5)
    assert _open_fds() <= before


def test_open_with_a_bad_exit_action_opens_nothing(fake) -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        with pytest.raises(ValueError):
            ComputeSystem.open(system.id, exit_action="kill")  # type: ignore[arg-type]
        assert fake.counters()["OpenSystemHandles"] == 1


def test_a_result_arriving_just_after_the_wait_timed_out_is_not_lost(fake, monkeypatch) -> None:
    """HcsWaitForOperationResult timed out, but the operation finished before pyhcs asked whether it still runs:
    its real result must be returned, not a timeout."""
    import time as _time

    from pyhcs.operation import Operation

    real = Operation._still_running

    def late(self: Operation) -> bool:
        _time.sleep(0.4)  # the operation completes meanwhile
        return real(self)

    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        fake.set_latency("HcsStartComputeSystem", 150)
        monkeypatch.setattr(Operation, "_still_running", late)
        system.start(timeout=0.05)
        monkeypatch.undo()
        assert system.state == "Running"
