"""What a user can receive is exported, documented and consistent (issue 8, items 13-15).

* every exception class pyhcs can raise is importable from ``pyhcs`` and described in docs/api.md (the
  HCS_E_CONNECT_FAILED fault of docs/testing.md produced an HcsGuestConnectionError nobody could import from
  pyhcs);
* HcsClosedError names the handle's ids and the call that found it closed;
* signalling or terminating something that already stopped is not an error, whatever the call: hcsshim treats
  HCS_E_PROCESS_ALREADY_STOPPED / ERROR_NOT_FOUND for a process and HCS_E_SYSTEM_ALREADY_STOPPED for a system as
  "already stopped" (internal/hcs/v2/process.go Signal/Kill, system.go Shutdown/Terminate).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import pyhcs
from pyhcs import ComputeSystem, errors
from tests.support import container_document, sh, unique_id, win_sleep

ROOT = Path(__file__).resolve().parent.parent


def _all_subclasses(cls: type) -> "set[type]":
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _all_subclasses(sub)
    return found


@pytest.fixture
def system():
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as s:
        s.start(timeout=10)
        yield s


# ----------------------------------------------------------------------------------------------- 13. exceptions
def test_every_exception_class_is_exported_from_pyhcs_and_documented() -> None:
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    classes = {c for c in _all_subclasses(errors.HcsError) if c.__module__ == "pyhcs.errors"}
    classes |= set(errors.ERROR_CLASSES.values()) | {errors.HcsError}
    for cls in classes:
        assert getattr(pyhcs, cls.__name__, None) is cls, f"{cls.__name__} is not exported from pyhcs"
        assert cls.__name__ in pyhcs.__all__
        assert f"`{cls.__name__}(" in api, f"{cls.__name__} is not in docs/api.md"


def test_the_testing_guide_fault_gives_an_exported_class(system, fake) -> None:
    fake.inject_fault("HcsPauseComputeSystem", 0x80370108)  # HCS_E_CONNECT_FAILED, as docs/testing.md shows
    with pytest.raises(pyhcs.HcsGuestConnectionError):
        system.pause(timeout=10)


# ------------------------------------------------------------------------------------ 14. closed error ids
def test_a_closed_process_error_names_the_call_and_the_ids(system) -> None:
    """It read "process None in 'r6' is closed", with process_id, system_id and function all None."""
    p = system.create_process(sh("sleep 30", win_sleep(30)), stdin=False, timeout=10)
    pid = p.pid
    p.close()
    with pytest.raises(pyhcs.HcsClosedError) as info:
        p.properties(timeout=10)
    error = info.value
    assert (error.function, error.system_id, error.process_id) == ("HcsGetProcessProperties", system.id, pid)
    assert f"process {pid}" in str(error) and "None" not in str(error)
    with system.open_process(pid) as again:
        again.terminate(timeout=10)


def test_a_closed_system_error_names_the_call_and_the_id() -> None:
    system = ComputeSystem.create(unique_id(), container_document(), timeout=10)
    system.close()
    with pytest.raises(pyhcs.HcsClosedError) as info:
        system.start(timeout=10)
    assert (info.value.function, info.value.system_id) == ("HcsStartComputeSystem", system.id)
    with ComputeSystem.open(system.id, exit_action="terminate"):
        pass


# ----------------------------------------------------------------------------- 15. stopping what has stopped
def test_signal_and_terminate_after_exit_both_answer_already_stopped(system) -> None:
    """signal() raised HcsNotFoundError while terminate() returned False."""
    with system.create_process(sh("exit 0", "cmd /c exit 0"), stdin=False, timeout=10) as p:
        p.wait(timeout=10)
        assert p.signal("CtrlC", timeout=10) is False
        assert p.terminate(timeout=10) is False

        async def main() -> None:
            assert await p.signal_async("CtrlC") is False
            assert await p.terminate_async() is False

        asyncio.run(main())


def test_signal_and_terminate_of_a_running_process_return_true(system) -> None:
    with system.create_process(sh("sleep 30", win_sleep(30)), stdin=False, timeout=10) as p:
        assert p.signal("CtrlShutdown", timeout=10) is True
        p.wait(timeout=10)
    with system.create_process(sh("sleep 30", win_sleep(30)), stdin=False, timeout=10) as p:
        assert p.terminate(timeout=10) is True


def test_stopping_a_stopped_system_answers_already_stopped() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        assert system.terminate(timeout=10) is True
        system.wait(timeout=10)
        assert system.terminate(timeout=10) is False
        assert system.shutdown(timeout=10) is False

        async def main() -> None:
            assert await system.terminate_async() is False
            assert await system.shutdown_async() is False

        asyncio.run(main())
