"""ComputeSystem against the fake HCS: lifecycle, properties, errors, closing, context-manager exit policy."""

from __future__ import annotations

import threading

import pytest

import pyhcs
from pyhcs import ComputeSystem
from tests.support import container_document, unique_id


def test_create_start_properties_shutdown_wait() -> None:
    """Tutorial.md's sequence: create -> start -> properties -> shutdown; the exit arrives as SystemExited."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        assert system.state == "Created"
        system.start(timeout=10)
        props = system.properties()
        assert props["Id"] == system.id and props["State"] == "Running"
        assert props["SystemType"] == "Container"
        system.shutdown(timeout=10)
        status = system.wait(timeout=10)
        assert status["ExitType"] == "GracefulExit"
        assert system.exited and system.exit_status == status


def test_terminate_reports_forced_exit() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        system.terminate(timeout=10)
        assert system.wait(timeout=10)["ExitType"] == "ForcedExit"


def test_pause_and_resume_change_state() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        system.pause(timeout=10)
        assert system.state == "Paused"
        system.resume(timeout=10)
        assert system.state == "Running"


def test_illegal_transition_raises_invalid_state() -> None:
    """HCS_E_INVALID_STATE: 'The requested virtual machine or container operation is not valid in the current state'."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        with pytest.raises(pyhcs.HcsInvalidStateError) as info:
            system.pause(timeout=10)
        assert info.value.function == "HcsPauseComputeSystem"
        assert info.value.system_id == system.id


def test_duplicate_id_raises_already_exists() -> None:
    system_id = unique_id()
    with ComputeSystem.create(system_id, container_document(), timeout=10):
        with pytest.raises(pyhcs.HcsAlreadyExistsError) as info:
            ComputeSystem.create(system_id, container_document(), timeout=10)
        assert info.value.name == "HCS_E_SYSTEM_ALREADY_EXISTS"


def test_invalid_json_document_raises_invalid_json_with_result_error() -> None:
    with pytest.raises(pyhcs.HcsInvalidJsonError) as info:
        ComputeSystem.create(unique_id(), "{not json", timeout=10)
    assert info.value.result is not None and "Error" in info.value.result


def test_open_unknown_system_raises_not_found() -> None:
    with pytest.raises(pyhcs.HcsNotFoundError) as info:
        ComputeSystem.open(unique_id("missing"))
    assert info.value.name == "HCS_E_SYSTEM_NOT_FOUND"


def test_open_gives_a_second_handle_that_sees_the_exit() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        with ComputeSystem.open(system.id) as other:
            assert other.exit_action == "leave"
            assert other.properties()["State"] == "Running"
            system.terminate(timeout=10)
            assert other.wait(timeout=10)["ExitType"] == "ForcedExit"


def test_enumerate_filters_by_id_and_owner() -> None:
    a, b = unique_id("enum"), unique_id("enum")
    with ComputeSystem.create(a, container_document(Owner="alpha"), timeout=10), \
            ComputeSystem.create(b, container_document(Owner="beta"), timeout=10):
        ids = {p["Id"] for p in ComputeSystem.enumerate()}
        assert {a, b} <= ids
        assert [p["Id"] for p in ComputeSystem.enumerate({"Ids": [a]})] == [a]
        assert [p["Id"] for p in ComputeSystem.enumerate({"Owners": ["beta"]}) if p["Id"] in (a, b)] == [b]


def test_properties_query_list_is_a_property_query() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        props = system.properties(["Statistics", "ProcessList"])
        assert "Statistics" in props and isinstance(props.get("ProcessList", []), list)


def test_save_and_modify_and_crash_reach_hcs() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        system.pause(timeout=10)
        system.save({"SaveType": "ToFile", "SaveStateFilePath": "/tmp/pyhcs-save.vmrs"}, timeout=10)
        system.resume(timeout=10)
        system.modify({"ResourcePath": "Container/Memory", "RequestType": "Update",
                       "Settings": {"SizeInMB": 512}}, timeout=10)
        system.crash(timeout=10)
        assert system.wait(timeout=10)["ExitType"] in ("UnexpectedExit", "ForcedExit")


def test_fault_injection_surfaces_as_typed_error_with_function_name(fake) -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        fake.inject_fault("HcsStartComputeSystem", 0x80370108)  # HCS_E_CONNECT_FAILED
        with pytest.raises(pyhcs.HcsError) as info:
            system.start(timeout=10)
        assert info.value.hresult == 0x80370108 and info.value.function == "HcsStartComputeSystem"
        fake.inject_fault("HcsStartComputeSystem", 0x80370105, sync=True)
        with pytest.raises(pyhcs.HcsInvalidStateError):
            system.start(timeout=10)
        system.start(timeout=10)  # the faults are used up


def test_timeout_raises_and_never_abandons_the_operation(fake) -> None:
    """hcsshim: an abandoned in-flight call whose handles close crashed computecore.dll. pyhcs raises the timeout but
    keeps the operation and the system handle alive until HCS finishes it."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        fake.set_latency("HcsStartComputeSystem", 3000)  # the checks below run well inside it, even under load
        with pytest.raises(pyhcs.HcsTimeoutError) as info:
            system.start(timeout=0.05)
        assert isinstance(info.value, TimeoutError)
        assert pyhcs.operation.outstanding() == 1
        system.close()  # must not close the native handle while the start is in flight
        assert fake.counters()["OpenSystemHandles"] == 1
        assert pyhcs.operation.drain(10)
    assert fake.wait_quiescent(5)


def test_close_is_idempotent_and_wakes_waiters_with_closed_error() -> None:
    system = ComputeSystem.create(unique_id(), container_document(), timeout=10)
    system.start(timeout=10)
    errors = []

    def waiter() -> None:
        try:
            system.wait(timeout=10)
        except pyhcs.HcsClosedError as exc:
            errors.append(exc)

    t = threading.Thread(target=waiter)
    t.start()
    system.close()
    system.close()
    t.join(5)
    assert len(errors) == 1 and "closed" in str(errors[0])
    with pytest.raises(pyhcs.HcsClosedError):
        system.start(timeout=10)
    # The system itself is left as it was: close() only closes the handle.
    with ComputeSystem.open(system.id, exit_action="terminate") as again:
        assert again.properties()["State"] == "Running"


@pytest.mark.parametrize("action, expected", [("terminate", "ForcedExit"), ("shutdown", "GracefulExit")])
def test_leaving_the_block_applies_the_exit_action(action: str, expected: str) -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10, exit_action=action) as system:
        system.start(timeout=10)
        watcher = ComputeSystem.open(system.id)
    try:
        assert watcher.wait(timeout=10)["ExitType"] == expected
    finally:
        watcher.close()


def test_exit_action_leave_keeps_the_system_running() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10, exit_action="leave") as system:
        system.start(timeout=10)
    with ComputeSystem.open(system.id, exit_action="terminate") as again:
        assert again.state == "Running"


def test_bad_exit_action_is_rejected_before_any_call(fake) -> None:
    with pytest.raises(ValueError):
        ComputeSystem.create(unique_id(), container_document(), exit_action="explode")  # type: ignore[arg-type]
    assert fake.counters()["LiveSystems"] == 0


def test_should_terminate_on_last_handle_closed() -> None:
    """ComputeSystem.ShouldTerminateOnLastHandleClosed: closing the last handle terminates the system."""
    system_id = unique_id()
    system = ComputeSystem.create(system_id, container_document(ShouldTerminateOnLastHandleClosed=True), timeout=10,
                                  exit_action="leave")
    system.start(timeout=10)
    system.close()
    assert system._lease.wait_closed(5)
    assert all(p["Id"] != system_id or p.get("State") == "Stopped" for p in ComputeSystem.enumerate())


def test_many_threads_share_one_system() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        failures = []

        def worker() -> None:
            try:
                for _ in range(50):
                    assert system.properties(timeout=10)["State"] == "Running"
            except BaseException as exc:  # noqa: BLE001
                failures.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not failures


def test_begin_exposes_the_operation() -> None:
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        op = system.begin("HcsStartComputeSystem")
        assert op.type == pyhcs.OperationType.START
        assert isinstance(op.id, int)
        op.wait(10)
        assert op.done()
        assert system.state == "Running"


def test_service_properties_report_schema_versions() -> None:
    versions = pyhcs.supported_schema_versions()
    assert (2, 1) in versions
    assert "Properties" in pyhcs.get_service_properties(["Basic"])
