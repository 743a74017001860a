"""The fake HCS: HCS_OPERATION behaviour, through the raw pyhcs._ffi layer.

Sources: virtualization/api/hcs/Reference/HcsCreateOperation.md, HcsWaitForOperationResult.md,
HcsGetOperationResult.md, HcsGetOperationResultAndProcessInfo.md, HcsCloseOperation.md, HcsCancelOperation.md,
HcsGetOperationType.md, HcsGetOperationId.md, OperationCompletionSample.md, Tutorial.md, HCSHResult.md.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.fakes.rawhcs import (
    CONTAINER,
    E_HANDLE,
    E_INVALIDARG,
    E_NOTIMPL,
    HCS_E_OPERATION_ALREADY_STARTED,
    HCS_E_OPERATION_NOT_STARTED,
    HCS_E_OPERATION_PENDING,
    HCS_E_OPERATION_TIMEOUT,
    INFINITE,
    S_OK,
    create_system,
    doc,
    ffi,
    lib,
    operation,
    result,
    running_system,
    terminate,
    to_wide,
    u32,
    unique_id,
    wait,
)

HcsOperationTypeNone = -1
HcsOperationTypeEnumerate = 0
HcsOperationTypeStart = 2
HcsOperationTypeGetProperties = 9


def test_completion_callback_runs_on_a_fake_thread_not_the_callers(fake) -> None:
    """AsyncModel: S_OK only means started; the callback runs on an HCS thread (the samples block the caller)."""
    done = threading.Event()
    seen = {}

    @ffi.callback("HCS_OPERATION_COMPLETION")
    def cb(op, context):
        seen["thread"] = threading.get_ident()
        seen["context"] = int(ffi.cast("intptr_t", context))
        seen["hr"], seen["doc"] = result(op)
        done.set()

    with operation(cb, ffi.cast("void *", 1234)) as op:
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        assert done.wait(5)
    assert seen["thread"] != threading.get_ident()
    assert seen["context"] == 1234
    assert seen["hr"] == S_OK and json.loads(seen["doc"]) == []


def test_wait_with_timeout_returns_operation_timeout(fake) -> None:
    """HcsWaitForOperationResult.md + HCSHResult.md: an expired wait gives HCS_E_OPERATION_TIMEOUT (0x80370118)."""
    fake.set_latency("HcsEnumerateComputeSystems", 300)
    with operation() as op:
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        hr, text = wait(op, 20)
        assert hr == HCS_E_OPERATION_TIMEOUT and text is None
        hr, text = wait(op, INFINITE)  # INFINITE is allowed (the samples use it)
        assert hr == S_OK and text == "[]"


def test_get_result_while_running_is_pending(fake) -> None:
    """HcsGetOperationResult.md: HCS_E_OPERATION_PENDING while the operation is still running."""
    fake.set_latency("HcsEnumerateComputeSystems", 200)
    with operation() as op:
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        assert result(op) == (HCS_E_OPERATION_PENDING, None)
        assert wait(op)[0] == S_OK


def test_never_used_operation_is_not_started(fake) -> None:
    """HcsGetOperationResult.md / HcsWaitForOperationResult.md: HCS_E_OPERATION_NOT_STARTED before use."""
    with operation() as op:
        assert result(op) == (HCS_E_OPERATION_NOT_STARTED, None)
        assert wait(op, 0) == (HCS_E_OPERATION_NOT_STARTED, None)
        assert lib.HcsGetOperationType(op) == HcsOperationTypeNone


def test_reusing_a_running_operation_is_already_started(fake) -> None:
    """HCSHResult.md HCS_E_OPERATION_ALREADY_STARTED "The operation is already running"."""
    fake.set_latency("HcsEnumerateComputeSystems", 200)
    with operation() as op:
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == HCS_E_OPERATION_ALREADY_STARTED
        assert wait(op)[0] == S_OK


def test_reuse_after_completion_like_the_tutorial(fake) -> None:
    """Tutorial.md reuses one operation for Create, Start, GetProperties and Terminate."""
    system = ffi.new("HCS_SYSTEM *")
    with operation() as op:
        assert u32(lib.HcsCreateComputeSystem(to_wide(unique_id()), doc(CONTAINER), op, ffi.NULL, system)) == S_OK
        assert wait(op)[0] == S_OK
        assert u32(lib.HcsStartComputeSystem(system[0], op, ffi.NULL)) == S_OK
        assert wait(op)[0] == S_OK
        assert lib.HcsGetOperationType(op) == HcsOperationTypeStart
        assert u32(lib.HcsGetComputeSystemProperties(system[0], op, ffi.NULL)) == S_OK
        hr, text = wait(op)
        assert hr == S_OK and json.loads(text)["State"] == "Running"
        assert lib.HcsGetOperationType(op) == HcsOperationTypeGetProperties
        assert u32(lib.HcsTerminateComputeSystem(system[0], op, ffi.NULL)) == S_OK
        assert wait(op)[0] == S_OK
    lib.HcsCloseComputeSystem(system[0])


def test_close_operation_inside_its_own_callback(fake) -> None:
    """HcsCloseOperation.md: "An operation can be closed from within a callback" (OperationCompletionSample.md)."""
    done = threading.Event()
    seen = {}

    @ffi.callback("HCS_OPERATION_COMPLETION")
    def cb(op, context):
        seen["hr"], seen["doc"] = result(op)
        lib.HcsCloseOperation(op)
        done.set()

    op = lib.HcsCreateOperation(ffi.NULL, cb)
    assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
    assert done.wait(5)
    assert seen["hr"] == S_OK
    assert fake.wait_quiescent(5)
    assert fake.counters()["OpenOperations"] == 0


def test_close_operation_while_in_flight_is_safe(fake) -> None:
    """hcsshim v2/operation.go submitOperation: closing in flight is safe; HCS continues and discards the result.
    The fake's choice: the completion callback still runs (so the context must stay alive)."""
    fired = threading.Event()

    @ffi.callback("HCS_OPERATION_COMPLETION")
    def cb(op, context):
        fired.set()

    fake.set_latency("HcsStartComputeSystem", 200)
    system = create_system(start=False)
    op = lib.HcsCreateOperation(ffi.NULL, cb)
    assert u32(lib.HcsStartComputeSystem(system, op, ffi.NULL)) == S_OK
    lib.HcsCloseOperation(op)
    assert fired.wait(5)
    # the work itself was done
    with operation() as op2:
        assert u32(lib.HcsGetComputeSystemProperties(system, op2, ffi.NULL)) == S_OK
        assert json.loads(wait(op2)[1])["State"] == "Running"
    terminate(system)
    lib.HcsCloseComputeSystem(system)


def test_cancel_is_not_implemented(fake) -> None:
    """HcsCancelOperation.md: "not currently implemented and will always return E_NOTIMPL"."""
    with operation() as op:
        assert u32(lib.HcsCancelOperation(op)) == E_NOTIMPL


def test_operation_ids_are_unique_and_increasing(fake) -> None:
    """HcsGetOperationId.md: an id per operation; HCS_INVALID_OPERATION_ID for an invalid handle."""
    with operation() as a, operation() as b:
        ia, ib = lib.HcsGetOperationId(a), lib.HcsGetOperationId(b)
        assert ib > ia
    assert lib.HcsGetOperationId(ffi.cast("HCS_OPERATION", 0x7)) == 0xFFFFFFFFFFFFFFFF


def test_context_getter_and_setter(fake) -> None:
    """HcsGetOperationContext.md / HcsSetOperationContext.md."""
    with operation(context=ffi.cast("void *", 7)) as op:
        assert int(ffi.cast("intptr_t", lib.HcsGetOperationContext(op))) == 7
        assert u32(lib.HcsSetOperationContext(op, ffi.cast("void *", 9))) == S_OK
        assert int(ffi.cast("intptr_t", lib.HcsGetOperationContext(op))) == 9


def test_system_and_process_from_operation(fake) -> None:
    """HcsGetComputeSystemFromOperation.md: NULL while the operation is not active; else the tracked system."""
    with running_system() as system, operation() as op:
        assert lib.HcsGetComputeSystemFromOperation(op) == ffi.NULL
        assert u32(lib.HcsGetComputeSystemProperties(system, op, ffi.NULL)) == S_OK
        assert lib.HcsGetComputeSystemFromOperation(op) == system
        assert lib.HcsGetProcessFromOperation(op) == ffi.NULL
        assert wait(op)[0] == S_OK


def test_process_info_variants_reject_other_operations(fake) -> None:
    """HcsGetOperationResultAndProcessInfo.md: E_INVALIDARG unless CreateProcess or GetProcessInfo."""
    with operation() as op:
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        pi = ffi.new("HCS_PROCESS_INFORMATION *")
        out = ffi.new("PWSTR *")
        assert u32(lib.HcsWaitForOperationResultAndProcessInfo(op, INFINITE, pi, out)) == E_INVALIDARG
        assert u32(lib.HcsGetOperationResultAndProcessInfo(op, pi, out)) == E_INVALIDARG
        assert out[0] == ffi.NULL
        assert wait(op)[0] == S_OK


def test_invalid_operation_handle(fake) -> None:
    """A closed/unknown handle is recognised: E_HANDLE (ERROR_INVALID_HANDLE), never a crash."""
    op = lib.HcsCreateOperation(ffi.NULL, ffi.NULL)
    lib.HcsCloseOperation(op)
    assert result(op)[0] == E_HANDLE
    lib.HcsCloseOperation(op)  # a second close is harmless
    assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == E_HANDLE
    assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, ffi.NULL)) == E_INVALIDARG


def test_callback_may_wait_for_another_operation(fake) -> None:
    """Callbacks are delivered by a dispatcher separate from the workers, so a callback can block on another op."""
    done = threading.Event()
    seen = {}
    fake.set_latency("HcsEnumerateComputeSystems", 100)
    other = lib.HcsCreateOperation(ffi.NULL, ffi.NULL)

    @ffi.callback("HCS_OPERATION_COMPLETION")
    def cb(op, context):
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, other)) == S_OK
        seen["other"] = wait(other, 5000)
        done.set()

    with operation(cb) as op:
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        assert done.wait(10)
    lib.HcsCloseOperation(other)
    assert seen["other"] == (S_OK, "[]")


def test_operations_on_one_system_run_in_submission_order(fake) -> None:
    """Operations on one system execute in the order they were submitted (start is slow, pause comes after)."""
    fake.set_latency("HcsStartComputeSystem", 200)
    system = create_system(start=False)
    with operation() as start, operation() as pause:
        assert u32(lib.HcsStartComputeSystem(system, start, ffi.NULL)) == S_OK
        assert u32(lib.HcsPauseComputeSystem(system, pause, ffi.NULL)) == S_OK
        assert wait(pause)[0] == S_OK  # would be HCS_E_INVALID_STATE if it overtook the start
        assert wait(start)[0] == S_OK
    terminate(system)
    lib.HcsCloseComputeSystem(system)


def test_operation_with_notifications_and_properties(fake) -> None:
    """HcsCreateOperationWithNotifications / HcsGetOperationProperties (choice: completion arrives as
    HcsEventOperationCallback; properties are OperationInfo-shaped)."""
    done = threading.Event()
    seen = {}

    @ffi.callback("HCS_EVENT_CALLBACK")
    def cb(event, context):
        seen["type"] = int(ffi.cast("uint32_t", event.Type))
        seen["op"] = event.Operation
        done.set()

    op = lib.HcsCreateOperationWithNotifications(0, ffi.NULL, cb)
    assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
    assert done.wait(5)
    assert seen["type"] == 0x01000000 and seen["op"] == op
    out = ffi.new("PWSTR *")
    assert u32(lib.HcsGetOperationProperties(op, ffi.NULL, out)) == S_OK
    from pyhcs._strings import take_wide

    info = json.loads(take_wide(out[0]))
    assert info["Operation"] == "Enumerate" and "EndTimestamp" in info
    assert u32(lib.HcsAddResourceToOperation(op, 1, to_wide("file://x"), ffi.NULL)) == S_OK
    assert u32(lib.HcsAddResourceToOperation(op, 0, to_wide("file://x"), ffi.NULL)) == E_INVALIDARG
    lib.HcsCloseOperation(op)


def test_wait_timeout_then_completion_is_still_observable(fake) -> None:
    """After a timed-out wait the operation keeps running (hcsshim calls HcsCancelOperation and ignores E_NOTIMPL)."""
    fake.set_latency("HcsEnumerateComputeSystems", 150)
    with operation() as op:
        assert u32(lib.HcsEnumerateComputeSystems(ffi.NULL, op)) == S_OK
        t0 = time.monotonic()
        assert wait(op, 10)[0] == HCS_E_OPERATION_TIMEOUT
        assert u32(lib.HcsCancelOperation(op)) == E_NOTIMPL
        assert wait(op)[0] == S_OK
        assert time.monotonic() - t0 >= 0.1
        assert lib.HcsGetOperationType(op) == HcsOperationTypeEnumerate


@pytest.mark.parametrize("gap", [0.0, 0.05])
def test_operation_completion_sample_event_callback_pattern(fake, gap) -> None:
    """OperationCompletionSample.md, "Use event callback's operation completion": create with an operation that has
    no callback, then register the new system's event callback with HcsEventOptionEnableOperationCallbacks and wait
    for the create's completion through it (HcsEventOperationCallback, event->Operation the create's). It works on
    real HCS because a create takes far longer than the registration; the fake's creates take a realistic minimum
    time (100 ms by default) for the same reason -- also with the sample's caller pausing 50 ms in between."""
    from tests.fakes.rawhcs import EV_OPERATION_CALLBACK, EventRecorder

    for _ in range(5):
        rec = EventRecorder()
        handle = ffi.new("HCS_SYSTEM *")
        op = lib.HcsCreateOperation(ffi.NULL, ffi.NULL)
        assert u32(lib.HcsCreateComputeSystem(to_wide(unique_id()), doc(CONTAINER), op, ffi.NULL, handle)) == S_OK
        time.sleep(gap)
        assert u32(lib.HcsSetComputeSystemCallback(handle[0], 1, ffi.NULL, rec.callback)) == S_OK
        (event,) = rec.wait_for(EV_OPERATION_CALLBACK, timeout=5)
        assert event[2] == op and lib.HcsGetOperationType(op) == 1  # HcsOperationTypeCreate
        assert result(op)[0] == S_OK
        lib.HcsCloseOperation(op)
        terminate(handle[0])
        lib.HcsCloseComputeSystem(handle[0])
