"""Running an HCS operation: the one choke point every HCS call that takes an HCS_OPERATION goes through.

HCS's contract (HcsCreateOperation.md, HcsWaitForOperationResult.md): a function that takes an operation and returns
S_OK has only *started*; the real result, and an optional JSON result document (a ResultError on failure), come
from waiting for the operation. The sequence is always: create operation -> call -> wait (or completion callback)
-> close, and failures go through ``errors.error_from_hresult`` with the function name and ids attached.

Never abandon an operation (hcsshim internal/hcs/v2/operation.go, internal/computecore/computecore.go): when a
synchronous wait times out, HcsCancelOperation is tried (documented to return E_NOTIMPL), the timeout is raised,
and the operation -- with its handle, the handles it uses and the buffers it was given -- is adopted by a background
thread that waits for HCS to finish before releasing anything. An awaited operation whose task is cancelled runs to
completion the same way, its context kept in the registry until its completion callback. When what pyhcs gave up on
would have produced an object (a system, a process), its owner disposes of that object once HCS delivers it
(``Operation._when_finished``), as hcsshim terminates a system whose create timed out.

Every HCS call is logged at DEBUG through the ``pyhcs`` logger (``_trace``): function, ids, HRESULT, duration.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Generator, List, NamedTuple, Optional, Sequence, Tuple

from . import _callbacks, _delivery, _timeouts, _trace
from ._delivery import LoopDelivery, delivery_for, every_delivery, reject, running_delivery, sweep_closed
from ._ffi import ffi, lib, local_free_function
from ._strings import parse_document, take_wide
from .enums import INFINITE, OperationType
from .errors import HcsError, error_from_hresult

if TYPE_CHECKING:
    import asyncio

    from ._handles import Lease

HCS_E_OPERATION_TIMEOUT = 0x80370118
HCS_E_OPERATION_PENDING = 0x80370117
E_OUTOFMEMORY = 0x8007000E

_NULL = ffi.NULL
_new = ffi.new
_cast = ffi.cast
_operations = _callbacks.operations
_operation_items = _callbacks.operations._items


_enabled = _trace.enabled
_now = _trace.now
_get_ident = threading.get_ident


def timeout_ms(timeout: Optional[float]) -> int:
    """HCS wait timeout in milliseconds for *timeout* seconds, by pyhcs's one timeout rule (``_timeouts``)."""
    return _timeouts.to_ms(_timeouts.check(timeout))


class RawProcessInfo(NamedTuple):
    """HCS_PROCESS_INFORMATION as HCS returned it: the process id and its std handles (None: not created). Handle
    values are Win32 HANDLEs on Windows and file descriptors elsewhere (the fake's convention); whoever takes them
    owns them (``Process`` turns them into files at once)."""

    process_id: int
    stdin: Optional[int]
    stdout: Optional[int]
    stderr: Optional[int]


def _handle_value(handle: Any) -> Optional[int]:
    if handle == _NULL:
        return None
    value = int(_cast("intptr_t", handle))
    return None if value == -1 else value  # INVALID_HANDLE_VALUE: stream not created (hcsshim v2/utils.go)


def _process_info(info: Any) -> RawProcessInfo:
    return RawProcessInfo(
        int(info.ProcessId), _handle_value(info.StdInput), _handle_value(info.StdOutput), _handle_value(info.StdError)
    )


def _discard_process_info(info: Optional[RawProcessInfo]) -> None:
    if info is not None:
        from ._stdio import close_handle

        for h in (info.stdin, info.stdout, info.stderr):
            if h is not None:
                close_handle(h)


def _collect(handle: Any, want_info: bool, wait_ms: Optional[int] = None,
             doc: Any = None) -> Tuple[int, Optional[str], Any]:
    """HCS's result of an operation: (HRESULT, result document text, HCS_PROCESS_INFORMATION or None).

    ``wait_ms`` None reads a finished operation (HcsGetOperationResult*), otherwise waits that long
    (HcsWaitForOperationResult*). The *AndProcessInfo forms serve CreateProcess / GetProcessInfo operations. The
    document is copied and LocalFree'd at once. ``doc``: a ``PWSTR *`` to read it into (a new one if None)."""
    if doc is None:
        doc = _new("PWSTR *")
    else:
        doc[0] = _NULL  # reused: never let a call that leaves it unset hand back the previous (freed) string
    info = _new("HCS_PROCESS_INFORMATION *") if want_info else None
    if wait_ms is None:
        if info is not None:
            hr = lib.HcsGetOperationResultAndProcessInfo(handle, info, doc)
        else:
            hr = lib.HcsGetOperationResult(handle, doc)
    elif info is not None:
        hr = lib.HcsWaitForOperationResultAndProcessInfo(handle, wait_ms, info, doc)
    else:
        hr = lib.HcsWaitForOperationResult(handle, wait_ms, doc)
    return hr, take_wide(doc[0]), info


FinishedHook = Callable[[Optional[BaseException]], None]


class Operation:
    """One HCS_OPERATION tracking one HCS call: ``function``, ``system_id``, ``process_id``, the HCS operation
    ``id`` and ``type``, and its result.

    ``ComputeSystem.begin()`` returns one. Wait for it with ``wait(timeout)`` or ``await operation``; ``done()``
    tells whether HCS finished it and ``result`` gives the parsed result document (or raises the call's error).
    pyhcs closes the HCS handle when HCS is done with it."""

    __slots__ = (
        "function",
        "system_id",
        "process_id",
        "_handle",
        "_key",
        "_leases",
        "_keep",
        "_want_info",
        "_lock",
        "_outcome",
        "_waiters",
        "_done",
        "_disposed",
        "_adopted",
        "_process_info",
        "_id",
        "_type",
        "_after",
        "_hooks",
        "_orphan",
        "_t0",
    )

    def __init__(
        self,
        function: str,
        *,
        leases: Sequence["Lease"] = (),
        process_info: bool = False,
        notify: bool = False,
        system_id: Optional[str] = None,
        process_id: Optional[int] = None,
    ) -> None:
        #: The HCS function this operation tracks ("HcsStartComputeSystem" ...).
        self.function = function
        #: The compute system it acts on (None for calls such as HcsEnumerateComputeSystems).
        self.system_id = system_id
        #: The process it acts on, or None.
        self.process_id = process_id
        self._process_info: Optional[RawProcessInfo] = None
        self._want_info = process_info
        self._keep: Any = None
        self._lock = threading.Lock()
        self._after: Optional[List[Callable[[], None]]] = None
        self._hooks: Optional[List[FinishedHook]] = None
        self._orphan = False
        self._outcome: Optional[Tuple[Any, Optional[BaseException]]] = None
        self._waiters: Optional[List[Tuple[LoopDelivery, "asyncio.Future[Any]"]]] = None
        self._done: Optional[threading.Event] = None
        self._disposed = False
        self._adopted = False
        self._id: Optional[int] = None
        self._type: Optional[OperationType] = None
        self._t0: Optional[float] = _now() if _enabled() else None
        acquired: List["Lease"] = []
        try:
            for lease in leases:
                lease.acquire(function)
                acquired.append(lease)
        except BaseException:
            for lease in acquired:
                lease.release()
            raise
        self._leases = acquired
        self._handle = _NULL
        self._key = 0
        try:
            if notify:
                self._waiters = []
                self._key = _operations.add(self)
                handle = lib.HcsCreateOperation(self._key, _callbacks.operation_trampoline)
            else:
                handle = lib.HcsCreateOperation(_NULL, _NULL)
        except BaseException:
            self._dispose()
            raise
        if handle == _NULL:
            self._handle = _NULL
            self._dispose()
            raise error_from_hresult(E_OUTOFMEMORY, function="HcsCreateOperation")
        self._handle = handle

    # -- starting (pyhcs internals) ---------------------------------------------------------------------------
    def _start(self, call: Callable[[Any], int], keep: Any = None) -> "Operation":
        """Run ``call(operation_handle)`` (an HCS function); a failing HRESULT means nothing was started."""
        self._keep = keep  # input buffers stay alive until HCS is finished with the operation
        try:
            hr = call(self._handle)
        except BaseException:
            self._dispose()
            raise
        if hr < 0:
            # Nothing was started, but HCS may have put a ResultError on the operation (e.g. HCS_E_INVALID_JSON).
            text = _collect(self._handle, False)[1]
            self._dispose()
            if self._t0 is not None:
                _trace.call(self.function, hr, self._t0, self.system_id, self.process_id, "returned by the call")
            raise self._error(hr, text)
        return self

    def _detach(self) -> None:
        """Nobody will wait for this started operation: let pyhcs release it when HCS finishes it, and close the
        std handles it may produce, which nobody owns now."""
        discard = False
        with self._lock:
            if self._key:  # its completion callback releases it
                self._orphan = True
                discard = self._outcome is not None
            elif self._disposed or self._adopted:
                return
            else:
                self._adopted = True
                self._done = threading.Event()
                self._waiters = []
        if self._key:
            if discard:
                _discard_process_info(self._process_info)
                self._process_info = None
            return
        _reaper.adopt(self)

    def _when_finished(self, hook: FinishedHook) -> None:
        """Run ``hook(error)`` once HCS finished this operation and pyhcs released it: error None when the call
        succeeded, else its exception. Runs at once when that already happened. This is how an owner disposes
        of what a call it gave up on produced (a system whose create timed out, a process nobody awaited)."""
        with self._lock:
            outcome = self._outcome
            if outcome is None or not self._disposed:
                if self._hooks is None:
                    self._hooks = []
                self._hooks.append(hook)
                return
        hook(outcome[1])

    def _run_hooks(self) -> None:
        with self._lock:
            hooks, self._hooks = self._hooks, None
            outcome = self._outcome
        if hooks and outcome is not None:
            for hook in hooks:
                try:
                    hook(outcome[1])
                except Exception as exc:  # noqa: BLE001 - a disposal failing must not stop the others
                    _callbacks._report(exc)

    # -- facts --------------------------------------------------------------------------------------------
    def _keep_facts(self) -> "Operation":
        """Make ``id`` and ``type`` readable after pyhcs closed the operation (read just before closing)."""
        self._id = -1
        return self

    @property
    def id(self) -> Optional[int]:
        """HcsGetOperationId: HCS's id of this operation (kept after pyhcs closed the operation for operations
        from ``begin()``)."""
        with self._lock:
            if self._id in (None, -1) and not self._disposed:
                return int(lib.HcsGetOperationId(self._handle))
        return None if self._id == -1 else self._id

    @property
    def type(self) -> Optional[OperationType]:
        """HcsGetOperationType: the kind of call this operation tracks (``OperationType.START`` ...)."""
        with self._lock:
            if self._type is None and not self._disposed:
                return OperationType(lib.HcsGetOperationType(self._handle))
        return self._type

    def done(self) -> bool:
        """Whether HCS has finished the call (its result or error is available in ``result``)."""
        return self._outcome is not None

    @property
    def result(self) -> Any:
        """The parsed result document; raises the operation's error, or RuntimeError while it runs."""
        outcome = self._outcome
        if outcome is None:
            raise RuntimeError(f"{self.function} has not completed")
        if outcome[1] is not None:
            raise outcome[1]
        return outcome[0]

    # -- waiting (synchronous) ----------------------------------------------------------------------------
    def wait(self, timeout: Optional[float] = None) -> Any:
        """Wait for HCS to finish the call; return its parsed result document or raise its error.

        On timeout raises ``HcsTimeoutError``; the operation keeps running and is released when HCS finishes."""
        seconds = _timeouts.check(timeout)
        if self._key or self._adopted or self._disposed:
            return self._wait_event(seconds)
        hr, text, info = _collect(self._handle, self._want_info, _timeouts.to_ms(seconds))
        if (hr & 0xFFFFFFFF) == HCS_E_OPERATION_TIMEOUT:
            if self._still_running():
                self._abandon_wait(timeout)
            # It finished between the timed-out wait and the question: its real result is on the operation now.
            hr, text, info = _collect(self._handle, self._want_info)
        self._dispose()
        value, exc = self._outcome_from(hr, text, info)
        with self._lock:
            self._outcome = (value, exc)
        if self._t0 is not None:
            _trace.call(self.function, hr, self._t0, self.system_id, self.process_id)
        if self._hooks is not None:
            self._run_hooks()
        if exc is not None:
            raise exc
        return value

    def _still_running(self) -> bool:
        # A wait timeout and an operation that itself failed with HCS_E_OPERATION_TIMEOUT look alike: ask.
        hr: int = lib.HcsGetOperationResult(self._handle, _NULL)
        return (hr & 0xFFFFFFFF) == HCS_E_OPERATION_PENDING

    def _abandon_wait(self, timeout: Optional[float]) -> None:
        lib.HcsCancelOperation(self._handle)  # documented E_NOTIMPL; tried anyway, as hcsshim does
        self._done = threading.Event()
        self._waiters = []
        self._adopted = True
        if self._t0 is not None:
            _trace.call(self.function, HCS_E_OPERATION_TIMEOUT, self._t0, self.system_id, self.process_id,
                        "the wait timed out; HCS keeps running the operation")
        _reaper.adopt(self)
        raise error_from_hresult(
            HCS_E_OPERATION_TIMEOUT,
            {"Error": HCS_E_OPERATION_TIMEOUT - (1 << 32), "ErrorMessage": f"no result within {timeout} s; HCS keeps "
             "running the operation and pyhcs releases it when it ends"},
            function=self.function,
            system_id=self.system_id,
            process_id=self.process_id,
        )

    def _wait_event(self, seconds: Optional[float]) -> Any:
        if self._outcome is None:
            with self._lock:
                finished = self._outcome is not None
                if self._done is None:
                    self._done = threading.Event()
                done = self._done
            if not finished and not done.wait(seconds):
                raise error_from_hresult(
                    HCS_E_OPERATION_TIMEOUT, function=self.function, system_id=self.system_id,
                    process_id=self.process_id,
                )
        return self.result

    # -- waiting (asyncio) --------------------------------------------------------------------------------
    def __await__(self) -> Generator[Any, None, Any]:
        if self._outcome is None:
            if not self._key and not self._adopted:
                raise RuntimeError(f"{self.function}: this operation was started for synchronous waiting; use wait()")
            import asyncio

            loop = asyncio.get_event_loop()
            future: "asyncio.Future[Any]" = loop.create_future()
            with self._lock:  # _finish swaps _waiters out under this lock: decide and register atomically
                pending = self._outcome is None and self._waiters is not None
                if pending:
                    assert self._waiters is not None
                    self._waiters.append((delivery_for(loop), future))
            if pending:
                return (yield from future.__await__())
        return self.result

    # -- completion ---------------------------------------------------------------------------------------
    def _on_native_completion(self, operation: Any) -> None:
        # Operations from begin() and the creates (not the hot path: run_async uses _AsyncCall) take their result
        # on the HCS thread.
        hr, text, info = _collect(operation, self._want_info)
        self._dispose()  # "An operation can be closed from within a callback" (HcsCloseOperation.md)
        value, exc = self._outcome_from(hr, text, info)
        if self._t0 is not None:
            _trace.call(self.function, hr, self._t0, self.system_id, self.process_id)
        self._finish(value, exc)

    def _on_native_error(self, exc: BaseException) -> None:
        self._dispose()
        if self._outcome is None:
            self._finish(None, exc)

    def _loop_gone(self, future: "asyncio.Future[Any]", value: Any) -> None:
        """The loop awaiting this operation's result was closed first: nobody will take the std handles."""
        _discard_process_info(self._process_info)
        self._process_info = None

    def _finish(self, value: Any, exc: Optional[BaseException]) -> None:
        with self._lock:
            self._outcome = (value, exc)
            waiters, self._waiters = self._waiters, None
            done = self._done
            orphan = self._orphan
        if orphan:  # detached: nobody will take the std handles
            _discard_process_info(self._process_info)
            self._process_info = None
        if done is not None:
            done.set()
        if waiters:
            for delivery, future in waiters:
                if exc is None:
                    delivery.call(self._deliver_value, future, value)
                else:
                    delivery.call(reject, future, exc)
        if self._hooks is not None:
            self._run_hooks()

    def _deliver_value(self, future: "asyncio.Future[Any]", value: Any) -> None:
        if future.done():  # the awaiting task was cancelled: nobody will own the std handles
            _discard_process_info(self._process_info)
            self._process_info = None
        else:
            future.set_result(value)

    def _outcome_from(self, hr: int, text: Optional[str], info: Any) -> Tuple[Any, Optional[BaseException]]:
        if hr < 0:
            if info is not None:
                _discard_process_info(_process_info(info))
            return None, self._error(hr, text)
        if info is not None:
            self._process_info = _process_info(info)
        try:
            return parse_document(text), None
        except ValueError as exc:
            return None, exc

    def _error(self, hr: int, text: Optional[str]) -> HcsError:
        return error_from_hresult(hr, text, function=self.function, system_id=self.system_id, process_id=self.process_id)

    def _after_release(self, fn: Callable[[], None]) -> None:
        """Run *fn* once HCS is done with this operation and pyhcs has released it (at once if it already is)."""
        with self._lock:
            if not self._disposed:
                if self._after is None:
                    self._after = []
                self._after.append(fn)
                return
        fn()

    def _dispose(self) -> None:
        with self._lock:
            if self._disposed:
                return
            if self._id == -1 and self._handle != _NULL:  # _keep_facts(): read them while the handle is open
                self._id = int(lib.HcsGetOperationId(self._handle))
                self._type = OperationType(lib.HcsGetOperationType(self._handle))
            self._disposed = True
            after, self._after = self._after, None
        if self._handle != _NULL:
            lib.HcsCloseOperation(self._handle)
        if self._key:
            _operations.discard(self._key)
        self._release(after)

    def _release(self, after: Optional[List[Callable[[], None]]] = None) -> None:
        """Give back what the operation held, once HCS is done with it: buffers, handle leases, hooks."""
        if after is None and self._after is not None:  # hooks are rare: take the lock only when there are some
            with self._lock:
                after, self._after = self._after, None
        self._keep = None
        leases, self._leases = self._leases, []
        for lease in leases:
            lease.release()
        if after:
            for fn in after:
                fn()


def run(
    function: str,
    call: Callable[[Any], int],
    *,
    keep: Any = None,
    leases: Sequence["Lease"] = (),
    timeout: Optional[float] = None,
    process_info: bool = False,
    system_id: Optional[str] = None,
    process_id: Optional[int] = None,
) -> Tuple[Any, Optional[RawProcessInfo]]:
    """Create an operation, start ``call`` with it, wait, close: the synchronous path.

    Returns (parsed result document, process info or None). The timeout is checked before anything starts.
    Without a timeout nothing can be abandoned, so the common case runs inline with no Operation object (the sync
    benchmark's hot path)."""
    if timeout is not None:
        timeout = _timeouts.check(timeout)
    if timeout is not None or process_info:
        op = Operation(function, leases=leases, process_info=process_info, system_id=system_id,
                       process_id=process_id)
        op._start(call, keep)
        return op.wait(timeout), op._process_info
    t0 = _now() if _enabled() else None
    acquired: List["Lease"] = []
    try:
        for lease in leases:
            lease.acquire(function)
            acquired.append(lease)
        handle = lib.HcsCreateOperation(_NULL, _NULL)
        if handle == _NULL:
            raise error_from_hresult(E_OUTOFMEMORY, function="HcsCreateOperation")
        try:
            hr = call(handle)
            if hr >= 0:
                hr, text, _ = _collect(handle, False, INFINITE)
            else:  # not started; HCS may still have left a ResultError on the operation
                text = _collect(handle, False)[1]
        finally:
            lib.HcsCloseOperation(handle)
    finally:
        for lease in acquired:
            lease.release()
    if t0 is not None:
        _trace.call(function, hr, t0, system_id, process_id)
    if hr < 0:
        raise error_from_hresult(hr, text, function=function, system_id=system_id, process_id=process_id)
    return parse_document(text), None


class _AsyncCall:
    """One HCS call awaited through an asyncio future: the record of ``run_async``, the hot path of the async API.

    ``Operation`` serves every way of waiting (synchronous waits with timeouts, ``begin()``, hooks, adoption) and
    guards its state with a lock; this record serves one way only, so it needs no lock: it is made on the loop's
    thread; HCS's completion callback takes the result, frees the string and closes the operation ("an operation
    can be closed from within a callback", HcsCloseOperation.md), then queues the record for its loop; the loop, in
    the batch of its next wakeup, returns the handle's lease, parses the document and settles the future
    (``_settle``), with no FFI call. (Reading the result on the loop instead was measured slower: every FFI call
    on the loop releases the GIL to a waiting completion thread, and the loop thread is the one every operation
    waits for; docs/performance.md.)

    Where the loop can watch a socket (x86-64, a loop with ``add_reader``), HCS is given pyhcs's native completion
    code instead (``_completions``): it reads the result and closes the operation on HCS's thread without Python,
    and the loop copies and frees the document in its batch before ``_settle``; ``queue`` and ``slot`` name the
    call's node there.

    Lifetime: the registry entry (the callback's context) lives from before ``HcsCreateOperation`` until the record
    is settled, so the completion callback always finds it. Taking it out (``dict.pop``, one atomic step) is the
    claim: exactly one of the loop (``_settle``) or a fallback (``_finish_here``: the loop was closed first, or the
    interpreter is exiting) returns the lease and runs ``on_error``. The operation handle is closed by the
    completion callback alone, so nothing else ever touches it after the call started."""

    __slots__ = ("function", "system_id", "process_id", "key", "lease", "keep", "future", "transform",
                 "on_error", "delivery", "t0", "hr", "text", "queue", "slot")

    function: str
    system_id: Optional[str]
    process_id: Optional[int]
    key: Any  # its registry key, the ``void *`` context HCS calls back with
    lease: Optional["Lease"]
    keep: Any
    future: "asyncio.Future[Any]"
    transform: Optional[Callable[[Any, Any], Any]]
    on_error: Optional[Callable[[BaseException], None]]
    delivery: "LoopDelivery"
    t0: Optional[float]
    hr: int  # HCS's result, set by the completion callback
    text: Any  # the result document (str or None), or the exception that reading it raised
    queue: Any  # the loop's native completion queue (``_completions``), or None: the cffi trampoline
    slot: int  # the call's node in that queue

    # -- HCS thread ----------------------------------------------------------------------------------------
    def _on_native_completion(self, operation: Any) -> None:
        try:
            doc = _new("PWSTR *")
            self.hr = lib.HcsGetOperationResult(operation, doc)
            p = doc[0]
            if p:  # a NULL cdata is false
                try:
                    self.text = _string(p)
                finally:
                    (_local_free or _bind_local_free())(p)
            else:
                self.text = None
        except BaseException as exc:  # noqa: BLE001 - goes to the awaiting task; the operation is still closed
            self.hr = 0
            self.text = exc
        lib.HcsCloseOperation(operation)
        self.delivery.settle(self)

    def _on_native_error(self, exc: BaseException) -> None:
        # Queueing failed on the HCS thread (the trampoline caught it): finish here, and tell the awaiting task.
        self._finish_here(exc)
        try:
            self.delivery.call(reject, self.future, exc)
        except Exception:  # noqa: BLE001 - the trampoline must return to HCS
            pass

    # -- the loop ------------------------------------------------------------------------------------------
    def _settle(self) -> None:
        """Return the lease, parse the result and settle the future: on the loop, in its drained batch."""
        key = self.key
        if _pop_operation(key, None) is None:  # claimed by _finish_here (interpreter exit)
            return
        if self.queue is None:  # (a native queue recycles its node itself, once off the list)
            _free_keys.append(key)  # HCS calls back once per operation, and it is closed: the key can serve another
        self.keep = None
        lease = self.lease
        if lease is not None:
            lease.release()
        future = self.future
        hr = self.hr
        text = self.text
        if self.t0 is not None:
            _trace.call(self.function, hr, self.t0, self.system_id, self.process_id)
        if hr < 0:
            self._fail(future, self._error(hr, text))
            return
        try:
            if text.__class__ is not str and text is not None:
                raise text
            value = parse_document(text)
            if self.transform is not None and not future.done():
                value = self.transform(value, None)
        except BaseException as exc:  # noqa: BLE001 - goes to the awaiting task
            self._fail(future, exc)
            return
        if not future.done():
            future.set_result(value)
        elif self.on_error is not None:  # cancelled meanwhile: the call succeeded and nobody takes its result
            self.on_error(_cancelled())

    def _fail(self, future: "asyncio.Future[Any]", exc: BaseException) -> None:
        if self.on_error is not None:
            self.on_error(exc)
        if not future.done():
            future.set_exception(exc)

    # -- anywhere ------------------------------------------------------------------------------------------
    def _finish_here(self, error: Optional[BaseException] = None) -> None:
        """Release the call on this thread, when the loop cannot: it was closed before the completion ran there,
        or the interpreter is exiting (the operation itself was closed by the completion callback). Nobody can be
        told of the result, so what the call held is given back and its ``on_error`` runs, as for a cancelled
        await."""
        if _pop_operation(self.key, None) is None:  # claimed by the loop
            return
        self._release()
        if error is None:
            text = getattr(self, "text", None)
            if isinstance(text, BaseException):
                error = text
            elif getattr(self, "hr", 0) < 0:
                error = self._error(self.hr, text)
        if self.on_error is not None:
            try:
                self.on_error(error if error is not None else _cancelled())
            except Exception:  # noqa: BLE001 - no one to report to
                pass

    def _release(self) -> None:
        self.keep = None
        lease, self.lease = self.lease, None
        if lease is not None:
            lease.release()

    def _error(self, hr: int, text: Optional[str]) -> HcsError:
        return error_from_hresult(hr, text, function=self.function, system_id=self.system_id,
                                  process_id=self.process_id)


_new_call = _AsyncCall.__new__
_pop_operation = _operation_items.pop
_string = ffi.string
_local_free: Any = None  # LocalFree, bound at the first completion (pyhcs binds HCS lazily)


def _bind_local_free() -> Any:
    global _local_free
    _local_free = local_free_function()
    return _local_free


# Registry keys (``void *`` contexts) of finished asynchronous operations, for the next ones: HCS calls an
# operation's completion callback once, and that callback closed the operation before the loop took the entry out,
# so nothing can come back with its key. Reusing it saves making a pointer object per call (ffi.cast, ~0.15 µs).
_free_keys: List[Any] = []


def _cancelled() -> BaseException:
    import asyncio

    return asyncio.CancelledError()


def run_async(
    function: str,
    call: Callable[[Any], int],
    *,
    keep: Any = None,
    lease: Optional["Lease"] = None,
    system_id: Optional[str] = None,
    process_id: Optional[int] = None,
    transform: Optional[Callable[[Any, Any], Any]] = None,
    on_error: Optional[Callable[[BaseException], None]] = None,
) -> "asyncio.Future[Any]":
    """``run`` for asyncio: a future settled on the running loop through the operation's completion callback
    (``_AsyncCall``); ``call(operation_handle)`` starts the HCS call. *lease*: the handle the call uses, held until
    HCS is done with it. ``transform(document, None)`` turns the parsed result into the future's value;
    ``on_error`` runs on the loop when the call failed (with its error) or the future was cancelled before the
    result came (with CancelledError: the call succeeded and nobody takes its result). Failures to start are
    delivered through the future too, so errors always surface at ``await``."""
    return run_async_on(function, _call_with_handle, call, keep, (), lease, system_id, process_id, transform,
                        on_error)


def _call_with_handle(call: Callable[[Any], int], handle: Any, keep: Any) -> int:
    return call(handle)


def run_async_on(
    function: str,
    fn: Callable[..., int],
    target: Any,
    document: Any,
    extra: Tuple[Any, ...],
    lease: Optional["Lease"],
    system_id: Optional[str],
    process_id: Optional[int] = None,
    transform: Optional[Callable[[Any, Any], Any]] = None,
    on_error: Optional[Callable[[BaseException], None]] = None,
) -> "asyncio.Future[Any]":
    """``run_async`` for the shape of every system and process call, ``fn(target, operation, document, *extra)``
    (HcsGetComputeSystemProperties(system, operation, query) ...): the same, without a closure per call. A closure
    is five objects the garbage collector tracks (function, cells, tuple); with 1,000 calls in flight they survive
    into older generations and make collections costlier (docs/performance.md). *document* is kept alive until HCS
    is finished with the operation."""
    delivery = _delivery._current  # running_delivery(), inlined: this runs once per asynchronous call
    if delivery is None or delivery.loop._thread_id != _get_ident():  # type: ignore[attr-defined]
        delivery = running_delivery()
    future: "asyncio.Future[Any]" = delivery.loop.create_future()
    # Filled in place rather than through __init__ (a call and a frame fewer).
    record = _new_call(_AsyncCall)
    record.function = function
    record.system_id = system_id
    record.process_id = process_id
    record.keep = document  # input buffers stay alive until HCS is finished with the operation
    record.future = future
    record.transform = transform
    record.on_error = on_error
    record.delivery = delivery
    record.t0 = _now() if _enabled() else None
    record.lease = None
    record.key = None
    record.queue = None
    handle = _NULL
    try:
        if lease is not None:
            lease.acquire(function)
            record.lease = lease
        native = delivery.native
        if native is None:
            native = delivery.arm_native()
        if native:  # completions queued by native code, no GIL on HCS's threads (``_completions``)
            create = lib.HcsCreateOperation
            if create is not native.create:
                native.bind(create)
            slot = native.free.pop() if native.free else native.grow()
            key = native.keys[slot]
            _operation_items[key] = record
            record.key = key
            record.queue = native
            record.slot = slot
            handle = create(key, native.callback)
        else:
            key = _free_keys.pop() if _free_keys else _operations.new_key()
            _operation_items[key] = record
            record.key = key
            handle = lib.HcsCreateOperation(key, _callbacks.operation_trampoline)
        if handle == _NULL:
            raise error_from_hresult(E_OUTOFMEMORY, function="HcsCreateOperation")
        hr = fn(target, handle, document, *extra) if extra else fn(target, handle, document)
        if hr < 0:  # nothing was started, but HCS may have put a ResultError on the operation
            text = _collect(handle, False)[1]
            if record.t0 is not None:
                _trace.call(function, hr, record.t0, system_id, process_id, "returned by the call")
            raise record._error(hr, text)
    except BaseException as exc:  # noqa: BLE001 - reported at await like every other failure
        # Nothing was started, so no completion will come: undo here.
        if record.key is not None and _pop_operation(record.key, None) is not None:
            if record.queue is None:
                _free_keys.append(record.key)
            else:
                record.queue.free.append(record.slot)
        if handle != _NULL:
            lib.HcsCloseOperation(handle)
        record._release()
        if on_error is not None:
            on_error(exc)
        future.set_exception(exc)
    return future


def fire_and_forget(
    function: str,
    call: Callable[[Any], int],
    *,
    keep: Any = None,
    leases: Sequence["Lease"] = (),
    system_id: Optional[str] = None,
    process_id: Optional[int] = None,
) -> bool:
    """Start a call nobody waits for (disposing of something pyhcs gave up on): its completion callback releases
    it, whatever the outcome. Never blocks on HCS and never raises; False when it could not be started (the
    handle is closed, HCS refused it)."""
    try:
        op = Operation(function, leases=leases, notify=True, system_id=system_id, process_id=process_id)
        op._start(call, keep)
    except Exception:  # noqa: BLE001 - best effort by definition; the error is in the DEBUG log
        return False
    op._detach()
    return True


def failed_future(exc: BaseException) -> "asyncio.Future[Any]":
    """A future already failed with *exc* (argument errors of the async API surface at await)."""
    future: "asyncio.Future[Any]" = running_delivery().loop.create_future()
    future.set_exception(exc)
    return future


class _Reaper:
    """One thread owns every operation whose synchronous wait timed out, until HCS finishes it.

    Such an operation has no completion callback (the sync path waits with HcsWaitForOperationResult), so the
    reaper polls them all with HcsGetOperationResult -- every millisecond at first, backing off to every 50 ms --
    and releases each as it finishes. One thread whatever the number (1,500 timed-out calls once made 1,451
    threads, and an exit that took minutes); it ends when nothing is left and starts again on the next timeout."""

    MAX_INTERVAL = 0.05

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ops: List[Operation] = []
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def adopt(self, op: Operation) -> None:
        with self._lock:
            self._ops.append(op)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pyhcs-reaper", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        interval = 0.001
        while True:
            with self._lock:
                ops = list(self._ops)
                if not ops:
                    self._thread = None
                    return
            finished = [op for op in ops if not op._still_running()]
            if finished:
                for op in finished:
                    self._finish(op)
                # Only now do they stop counting as pending: drain() (and interpreter exit) must not see zero while
                # a finished operation's release -- closing the handle it created, say -- is still running.
                gone = set(map(id, finished))
                with self._lock:
                    self._ops = [op for op in self._ops if id(op) not in gone]
                interval = 0.001
                continue
            self._wake.wait(interval)
            if self._wake.is_set():
                self._wake.clear()
                interval = 0.001
            else:
                interval = min(interval * 2, self.MAX_INTERVAL)

    @staticmethod
    def _finish(op: Operation) -> None:
        try:
            hr, text, info = _collect(op._handle, op._want_info)
            op._dispose()
            value, exc = op._outcome_from(hr, text, info)
            _discard_process_info(op._process_info)  # the caller already gave up on this call
            op._process_info = None
            op._finish(value, exc)
        except BaseException as exc:  # noqa: BLE001 - the reaper must outlive one failing release
            _callbacks._report(exc)

    def pending(self) -> int:
        with self._lock:
            return len(self._ops)


_reaper = _Reaper()

#: How long interpreter exit waits for HCS to finish operations still in flight (seconds); see ``pyhcs._exit``.
EXIT_GRACE_SECONDS = 10.0


def outstanding() -> int:
    """Operations pyhcs has not released yet: in flight in HCS, or completed and queued for a loop that has not
    settled them yet (awaited ones, and those adopted after a timed-out wait)."""
    sweep_closed()
    return len(_operations) + _reaper.pending()


def in_flight() -> int:
    """Operations pyhcs holds that HCS has not finished yet, once ``finish_completed()`` released the others."""
    return len(_operations) + _reaper.pending()


def drain(timeout: float) -> bool:
    """Wait until no operation is outstanding, at most *timeout* seconds; True if none is left."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while outstanding():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.02)
    return True


def finish_completed() -> None:
    """Interpreter exit: no event loop runs any more, so release here every completion still queued for one (return
    the lease, run ``on_error``; the completion callback closed the operation already)."""
    sweep_closed()
    for delivery in every_delivery():
        delivery.abandon()
        if delivery.native:  # the loop is not closed, but no loop runs any more: settle its arrived calls here
            delivery.native.settle(here=True)
    if "pyhcs._completions" in sys.modules:
        from . import _completions

        _completions.settle_orphans()


def drain_at_exit(timeout: float) -> bool:
    """Interpreter exit: wait until HCS has delivered every completion, at most *timeout* seconds, releasing the
    completed ones meanwhile; True if none is left in flight."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        finish_completed()
        if not in_flight():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.02)


from . import _exit  # noqa: E402,F401 - registers the interpreter-exit sequence (it imports this module)
