"""ComputeSystem: one HCS compute system (a container or a VM) through an HCS_SYSTEM handle.

Compute systems are ephemeral (Overview.md): created, started, maybe paused/resumed/saved, then stopped; after
that a handle can only report the exit. States and the calls allowed in each are HCS's; pyhcs adds no state
machine of its own, so the errors you get (HCS_E_INVALID_STATE, HCS_E_SYSTEM_ALREADY_STOPPED ...) are HCS's.

Every call is available synchronously (``start(timeout=...)``) and for asyncio (``await start_async()``): the
same machinery (``operation.Operation``), completed by waiting or by the operation's completion callback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, List, Literal, Mapping, Optional, Sequence, Tuple, Union, cast

from . import _timeouts, _trace
from ._ffi import ffi, lib
from ._handles import Lease
from ._strings import Document, document_arg, to_wide
from .enums import GENERIC_ALL, EventOptions, EventType
from .errors import HcsAlreadyStoppedError, HcsError, HcsInvalidStateError, check_hresult
from ._handle_owner import HandleOwner
from .operation import Operation, failed_future, fire_and_forget, run, run_async, run_async_on

if TYPE_CHECKING:
    import asyncio
    from datetime import datetime, timedelta

    from .process import CompletedProcess, Process
    from .schema import (
        ComputeSystem as ComputeSystemDocument,
        ModifySettingRequest,
        Properties,
        SystemExitStatus,
        SystemQuery,
        System_PropertyQuery,
    )

#: What leaving a ``with`` block (or ``close(exit_action=...)``) does to a system that is still running.
ExitAction = Literal["terminate", "shutdown", "leave"]
PropertyQuery = Union["System_PropertyQuery", Sequence[str], Mapping[str, Any], str, None]

_NULL = ffi.NULL


def _property_query(query: PropertyQuery) -> Document:
    if query is None or isinstance(query, (str, Mapping)):
        return cast(Document, query)
    if isinstance(query, Sequence):
        types = list(query)
        if not all(isinstance(t, str) for t in types):
            raise TypeError("property types must be strings such as 'Statistics' or 'ProcessList'")
        return {"PropertyTypes": types}
    raise TypeError(f"query must be a System_PropertyQuery, a list of property types or None, not {type(query).__name__}")


def _none(result: Any, info: Any) -> None:
    return None


def _true(result: Any, info: Any) -> bool:
    return True


def _or_empty(result: Any, info: Any) -> Any:
    return result or {}


def _already_stopped_is(inner: "asyncio.Future[Any]", value: Any) -> "asyncio.Future[Any]":
    """*inner*, except that HcsAlreadyStoppedError becomes the result *value* (shutdown/terminate of a stopped
    system is not an error, as in hcsshim)."""
    outer: "asyncio.Future[Any]" = inner.get_loop().create_future()

    def settle(done: "asyncio.Future[Any]") -> None:
        if outer.done():
            return
        if done.cancelled():
            outer.cancel()
            return
        exc = done.exception()
        if exc is None:
            outer.set_result(done.result())
        elif isinstance(exc, HcsAlreadyStoppedError):
            outer.set_result(value)
        else:
            outer.set_exception(exc)

    inner.add_done_callback(settle)
    return outer


def _check_exit_action(value: str) -> None:
    if value not in ("terminate", "shutdown", "leave"):
        raise ValueError(f"exit_action must be 'terminate', 'shutdown' or 'leave', not {value!r}")


#: What ``begin()`` starts: the HCS functions that take (HCS_SYSTEM, HCS_OPERATION, options document).
BEGIN_FUNCTIONS = frozenset({
    "HcsStartComputeSystem", "HcsShutDownComputeSystem", "HcsTerminateComputeSystem", "HcsCrashComputeSystem",
    "HcsPauseComputeSystem", "HcsResumeComputeSystem", "HcsSaveComputeSystem", "HcsGetComputeSystemProperties",
    "HcsModifyComputeSystem", "HcsInitializeLiveMigrationOnSource", "HcsStartLiveMigrationOnSource",
    "HcsStartLiveMigrationTransfer", "HcsFinalizeLiveMigration",
})


class ComputeSystem(HandleOwner):
    """An open handle to an HCS compute system.

    Create one with ``ComputeSystem.create(id, document)`` (or ``create_async``), or open an existing one with
    ``ComputeSystem.open(id)``. Use it as a context manager: leaving the block applies ``exit_action`` to a
    system that has not exited ("terminate" by default for systems you created, "leave" for opened ones), then
    closes the handle. ``close()`` only closes the handle -- unless the system document set
    ShouldTerminateOnLastHandleClosed, in which case HCS terminates the system when its last handle closes."""

    def __init__(self, system_id: str, raw: Any, exit_action: ExitAction, event_options: EventOptions,
                 on_failure: Optional[Callable[[HandleOwner], None]] = None) -> None:
        _check_exit_action(exit_action)
        #: The compute system's id (the name HCS knows it by).
        self.id = system_id
        #: What leaving a ``with`` block does to a system that has not exited: "terminate", "shutdown" or "leave".
        self.exit_action: ExitAction = exit_action
        self._own(raw, "HcsCloseComputeSystem", "HcsSetComputeSystemCallback", EventType.SYSTEM_EXITED,
                  event_options, on_failure, system_id)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("exited" if self._hub.has_exit else "open")
        return f"<ComputeSystem {self.id!r} {state}>"

    def _identity(self) -> Tuple[str, Optional[str], Optional[int]]:
        return f"compute system {self.id!r}", self.id, None

    def _dispose_unwanted(self, error: Optional[BaseException]) -> None:
        """pyhcs gave up on the create that made this handle (timed out, cancelled, or its event registration
        failed) and HCS has now finished it. When the create succeeded, nobody else holds the system: unless
        exit_action is "leave" it is terminated (a never-started system cannot shut down), as hcsshim terminates
        a system whose create timed out. Then the handle closes."""
        if error is None and self.exit_action != "leave":
            raw = self._lease.raw
            fire_and_forget("HcsTerminateComputeSystem", lambda h: lib.HcsTerminateComputeSystem(raw, h, _NULL),
                            leases=(self._lease,), system_id=self.id)
        self._closed = True
        self._hub.closed(self._identity()[0])
        self._close_native()

    # -- getting a handle ----------------------------------------------------------------------------------
    @classmethod
    def _begin_create(
        cls, system_id: str, document: Union["ComputeSystemDocument", Mapping[str, Any], str], notify: bool,
        exit_action: ExitAction, event_options: EventOptions,
    ) -> Tuple["ComputeSystem", Operation]:
        _check_exit_action(exit_action)
        idw = to_wide(system_id, "system id")
        if document is None:
            raise TypeError("a compute system needs a ComputeSystem document")
        doc = document_arg(document, "ComputeSystem document")
        out = ffi.new("HCS_SYSTEM *")
        op = Operation("HcsCreateComputeSystem", notify=notify, system_id=system_id)
        op._start(lambda h: lib.HcsCreateComputeSystem(idw, doc, h, _NULL, out), keep=(idw, doc))
        # The handle exists as soon as the call returns; register for events before the system can do anything.
        try:
            system = cls(system_id, out[0], exit_action, event_options,
                         lambda half_made: op._when_finished(half_made._dispose_unwanted))
        except BaseException:
            op._detach()
            raise
        return system, op

    @classmethod
    def create(
        cls,
        system_id: str,
        document: Union["ComputeSystemDocument", Mapping[str, Any], str],
        *,
        timeout: Optional[float] = None,
        exit_action: ExitAction = "terminate",
        event_options: EventOptions = EventOptions.NONE,
    ) -> "ComputeSystem":
        """HcsCreateComputeSystem: create (not start) a compute system from a ComputeSystem document.

        If the create times out, HCS finishes it later; pyhcs then disposes of the system nobody can reach
        (terminated unless exit_action is "leave") -- never closing the handle while HCS still uses it."""
        seconds = _timeouts.check(timeout)
        system, op = cls._begin_create(system_id, document, False, exit_action, event_options)
        try:
            op.wait(seconds)
        except BaseException:
            op._when_finished(system._dispose_unwanted)
            raise
        return system

    @classmethod
    def create_async(
        cls,
        system_id: str,
        document: Union["ComputeSystemDocument", Mapping[str, Any], str],
        *,
        exit_action: ExitAction = "terminate",
        event_options: EventOptions = EventOptions.NONE,
    ) -> "asyncio.Future[ComputeSystem]":
        """``create`` for asyncio: ``system = await ComputeSystem.create_async(id, document)``. If the awaiting task
        is cancelled, the system HCS creates anyway is disposed of when it arrives (as after a create timeout)."""
        try:
            _check_exit_action(exit_action)
            idw = to_wide(system_id, "system id")
            if document is None:
                raise TypeError("a compute system needs a ComputeSystem document")
            doc = document_arg(document, "ComputeSystem document")
        except BaseException as exc:  # noqa: BLE001 - surfaces at await
            return failed_future(exc)
        out = ffi.new("HCS_SYSTEM *")
        made: List[Any] = []  # the ComputeSystem, or the error registering its events
        half_made: List[HandleOwner] = []  # a system whose event registration failed: disposed of with the rest
        created_ok: List[bool] = []

        def created(_: Any, __: Any) -> "ComputeSystem":
            created_ok.append(True)
            if isinstance(made[0], BaseException):
                raise made[0]
            return cast(ComputeSystem, made[0])

        def failed(exc: BaseException) -> None:  # runs once the operation is over: HCS no longer uses the handle
            import asyncio

            # CancelledError: the create succeeded but nobody awaits it; so does an error raised by ``created``.
            error = None if created_ok or isinstance(exc, asyncio.CancelledError) else exc
            for owner in half_made + [m for m in made if isinstance(m, ComputeSystem)]:
                owner._dispose_unwanted(error)

        future = run_async("HcsCreateComputeSystem", lambda h: lib.HcsCreateComputeSystem(idw, doc, h, _NULL, out),
                           keep=(idw, doc), system_id=system_id, transform=created, on_error=failed)
        if out[0] != _NULL:
            # Settling runs on this loop after we return, so the system is registered for events before that.
            try:
                made.append(cls(system_id, out[0], exit_action, event_options, half_made.append))
            except BaseException as exc:  # noqa: BLE001
                made.append(exc)
        return future

    @classmethod
    def open(
        cls, system_id: str, *, exit_action: ExitAction = "leave", event_options: EventOptions = EventOptions.NONE
    ) -> "ComputeSystem":
        """HcsOpenComputeSystem: a new handle to an existing system (HCS_E_SYSTEM_NOT_FOUND if there is none)."""
        _check_exit_action(exit_action)
        idw = to_wide(system_id, "system id")
        out = ffi.new("HCS_SYSTEM *")
        # requestedAccess "must be GENERIC_ALL" (HcsOpenComputeSystem.md)
        hr = _trace.timed("HcsOpenComputeSystem", lib.HcsOpenComputeSystem, idw, GENERIC_ALL, out, system_id=system_id)
        check_hresult(hr, function="HcsOpenComputeSystem", system_id=system_id)
        return cls(system_id, out[0], exit_action, event_options)

    @staticmethod
    def enumerate(query: Union["SystemQuery", Mapping[str, Any], str, None] = None, *,
                  timeout: Optional[float] = None) -> List["Properties"]:
        """HcsEnumerateComputeSystems: the Properties of every system matching a SystemQuery (Ids, Names, Types,
        Owners)."""
        q = document_arg(query, "SystemQuery")
        result, _ = run("HcsEnumerateComputeSystems", lambda h: lib.HcsEnumerateComputeSystems(q, h), keep=q,
                        timeout=timeout)
        return list(result or [])

    @staticmethod
    def enumerate_async(
        query: Union["SystemQuery", Mapping[str, Any], str, None] = None
    ) -> "asyncio.Future[List[Properties]]":
        try:
            q = document_arg(query, "SystemQuery")
        except BaseException as exc:  # noqa: BLE001
            return failed_future(exc)
        return run_async("HcsEnumerateComputeSystems", lambda h: lib.HcsEnumerateComputeSystems(q, h), keep=q,
                         transform=lambda result, _: list(result or []))

    # -- the one way this class runs an operation ----------------------------------------------------------
    def _call(self, function: str, document: Document = None, timeout: Optional[float] = None, what: str = "options",
              extra: Tuple[Any, ...] = ()) -> Any:
        timeout = _timeouts.check(timeout)
        fn = getattr(lib, function)
        raw = self._lease.raw
        arg = document_arg(document, what)
        result, _ = run(function, lambda h: fn(raw, h, arg, *extra), keep=arg, leases=(self._lease,),
                        timeout=timeout, system_id=self.id)
        return result

    def _call_async(self, function: str, document: Document = None, what: str = "options",
                    extra: Tuple[Any, ...] = (), transform: Optional[Callable[[Any, Any], Any]] = None,
                    stopped: Any = None) -> "asyncio.Future[Any]":
        try:
            fn = getattr(lib, function)
            raw = self._lease.raw
            arg = _NULL if document is None else document_arg(document, what)  # None: the common case, no call
        except BaseException as exc:  # noqa: BLE001 - surfaces at await
            return failed_future(exc)
        future = run_async_on(function, fn, raw, arg, extra, self._lease, self.id, None, transform or _none)
        if stopped is None:
            return future
        return _already_stopped_is(future, stopped)

    def begin(self, function: str, document: Document = None) -> Operation:
        """Start ``function`` (e.g. "HcsStartComputeSystem") on this system and return its Operation (id, type,
        result) without waiting: ``op.wait(timeout)`` or ``await op``. *function* is one of the HCS functions that
        take a system, an operation and an options document (``BEGIN_FUNCTIONS``); anything else is a
        ValueError."""
        if not isinstance(function, str):
            raise TypeError(f"function must be the name of an HCS function, not {type(function).__name__}")
        if function not in BEGIN_FUNCTIONS:
            raise ValueError(f"begin() starts one of {', '.join(sorted(BEGIN_FUNCTIONS))}; not {function!r}")
        fn = getattr(lib, function)
        raw = self._lease.raw
        arg = document_arg(document)
        extra = (_NULL,) if function == "HcsModifyComputeSystem" else ()  # its identity HANDLE
        op = Operation(function, leases=(self._lease,), notify=True, system_id=self.id)._keep_facts()
        return op._start(lambda h: fn(raw, h, arg, *extra), keep=arg)

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self, options: Document = None, *, timeout: Optional[float] = None) -> None:
        """HcsStartComputeSystem: Created -> Running."""
        self._call("HcsStartComputeSystem", options, timeout)

    def start_async(self, options: Document = None) -> "asyncio.Future[None]":
        return self._call_async("HcsStartComputeSystem", options)

    def shutdown(self, options: Document = None, *, timeout: Optional[float] = None) -> bool:
        """HcsShutDownComputeSystem: ask the guest to shut down cleanly (SystemExited: GracefulExit). Returns
        True, or False (not an error) when the system had already stopped (HCS_E_SYSTEM_ALREADY_STOPPED, which
        hcsshim tolerates too)."""
        try:
            self._call("HcsShutDownComputeSystem", options, timeout)
        except HcsAlreadyStoppedError:
            return False
        return True

    def shutdown_async(self, options: Document = None) -> "asyncio.Future[bool]":
        return self._call_async("HcsShutDownComputeSystem", options, transform=_true, stopped=False)

    def terminate(self, options: Document = None, *, timeout: Optional[float] = None) -> bool:
        """HcsTerminateComputeSystem: stop the system forcefully (SystemExited: ForcedExit). Returns True, or
        False (not an error) when the system had already stopped."""
        try:
            self._call("HcsTerminateComputeSystem", options, timeout)
        except HcsAlreadyStoppedError:
            return False
        return True

    def terminate_async(self, options: Document = None) -> "asyncio.Future[bool]":
        return self._call_async("HcsTerminateComputeSystem", options, transform=_true, stopped=False)

    def pause(self, options: Document = None, *, timeout: Optional[float] = None) -> None:
        """HcsPauseComputeSystem: Running -> Paused (PauseOptions optional)."""
        self._call("HcsPauseComputeSystem", options, timeout)

    def pause_async(self, options: Document = None) -> "asyncio.Future[None]":
        return self._call_async("HcsPauseComputeSystem", options)

    def resume(self, options: Document = None, *, timeout: Optional[float] = None) -> None:
        """HcsResumeComputeSystem: Paused -> Running."""
        self._call("HcsResumeComputeSystem", options, timeout)

    def resume_async(self, options: Document = None) -> "asyncio.Future[None]":
        return self._call_async("HcsResumeComputeSystem", options)

    def save(self, options: Document = None, *, timeout: Optional[float] = None) -> None:
        """HcsSaveComputeSystem: save the system's state (SaveOptions: SaveType, SaveStateFilePath)."""
        self._call("HcsSaveComputeSystem", options, timeout, "SaveOptions")

    def save_async(self, options: Document = None) -> "asyncio.Future[None]":
        return self._call_async("HcsSaveComputeSystem", options, "SaveOptions")

    def crash(self, options: Document = None, *, timeout: Optional[float] = None) -> None:
        """HcsCrashComputeSystem: make the guest crash (for crash-dump testing; CrashOptions)."""
        self._call("HcsCrashComputeSystem", options, timeout, "CrashOptions")

    def crash_async(self, options: Document = None) -> "asyncio.Future[None]":
        return self._call_async("HcsCrashComputeSystem", options, "CrashOptions")

    def modify(self, request: Union["ModifySettingRequest", Mapping[str, Any], str], *,
               timeout: Optional[float] = None) -> None:
        """HcsModifyComputeSystem: add/remove/update a resource (ModifySettingRequest)."""
        if request is None:
            raise TypeError("modify needs a ModifySettingRequest")
        self._call("HcsModifyComputeSystem", request, timeout, "ModifySettingRequest", (_NULL,))

    def modify_async(self, request: Union["ModifySettingRequest", Mapping[str, Any], str]) -> "asyncio.Future[None]":
        if request is None:
            return failed_future(TypeError("modify needs a ModifySettingRequest"))
        return self._call_async("HcsModifyComputeSystem", request, "ModifySettingRequest", (_NULL,))

    def properties(self, query: PropertyQuery = None, *, timeout: Optional[float] = None) -> "Properties":
        """HcsGetComputeSystemProperties: Properties (Id, SystemType, State ... plus what *query* asks for:
        a System_PropertyQuery or a list of property types such as ["Statistics", "ProcessList"])."""
        return cast("Properties", self._call("HcsGetComputeSystemProperties", _property_query(query), timeout,
                                             "System_PropertyQuery") or {})

    def properties_async(self, query: PropertyQuery = None) -> "asyncio.Future[Properties]":
        if query is None:  # the common call, straight to the choke point (the async benchmark's hot path)
            lease = self._lease
            return run_async_on("HcsGetComputeSystemProperties", lib.HcsGetComputeSystemProperties, lease.raw, _NULL,
                                (), lease, self.id, None, _or_empty)
        try:
            q = _property_query(query)
        except BaseException as exc:  # noqa: BLE001
            return failed_future(exc)
        return self._call_async("HcsGetComputeSystemProperties", q, "System_PropertyQuery", transform=_or_empty)

    @property
    def state(self) -> str:
        """The system's State as HCS reports it now ("Created", "Running", "Paused", "Stopped" ...)."""
        return str(self.properties().get("State", "Unknown"))

    @property
    def started_at(self) -> Optional[datetime]:
        """When the system started, as HCS reports it now (Statistics.ContainerStartTime); None when HCS does not
        report it."""
        from ._times import parse_timestamp  # datetime is imported only by programs that ask for times

        stats = self.properties(["Statistics"]).get("Statistics") or {}
        return parse_timestamp(stats.get("ContainerStartTime"))

    @property
    def uptime(self) -> Optional[timedelta]:
        """How long the system has been running, as HCS reports it now (Statistics.Uptime100ns); None when HCS
        does not report it."""
        from ._times import duration_100ns

        stats = self.properties(["Statistics"]).get("Statistics") or {}
        return duration_100ns(stats.get("Uptime100ns"))

    @property
    def exited_at(self) -> Optional[datetime]:
        """When pyhcs learnt of the exit (the SystemExited event; HCS reports no stop time), in UTC; None
        before."""
        return self._hub.exit_time()

    # -- exit and events -----------------------------------------------------------------------------------
    def wait(self, timeout: Optional[float] = None) -> "SystemExitStatus":
        """Wait for the SystemExited event; return its SystemExitStatus (Status, ExitType, Attribution).

        Raises HcsTimeoutError on timeout, HcsServiceDisconnectedError if HCS went away, HcsClosedError if the
        handle was closed meanwhile."""
        return cast("SystemExitStatus", self._hub.wait_exit(_timeouts.check(timeout), f"compute system {self.id!r}"))

    async def wait_async(self) -> "SystemExitStatus":
        return cast("SystemExitStatus", await self._hub.wait_exit_async())

    @property
    def exited(self) -> bool:
        """Whether the SystemExited event has arrived."""
        return self._hub.has_exit

    @property
    def exit_status(self) -> Optional["SystemExitStatus"]:
        """The SystemExitStatus of the SystemExited event (None until it arrives)."""
        return cast(Optional["SystemExitStatus"], self._hub.exit_data)

    # -- processes -----------------------------------------------------------------------------------------
    def create_process(self, command_line: Optional[str] = None, **kwargs: Any) -> "Process":
        """HcsCreateProcess: see ``pyhcs.process.Process.create`` for the arguments."""
        from .process import Process

        return Process.create(self, command_line, **kwargs)

    async def create_process_async(self, command_line: Optional[str] = None, **kwargs: Any) -> "Process":
        """``create_process`` for asyncio."""
        from .process import Process

        return await Process.create_async(self, command_line, **kwargs)

    def open_process(self, process_id: int) -> "Process":
        """HcsOpenProcess: a handle to a process already running in this system."""
        from .process import Process

        return Process.open(self, process_id)

    def run(self, command_line: str, *, input: Optional[bytes] = None, timeout: Optional[float] = None,
            **kwargs: Any) -> "CompletedProcess":
        """Run a process to completion: ``CompletedProcess(exit_code, stdout, stderr)``, all output read before the
        exit is reported. Keyword arguments as for ``create_process`` (stdin is created only when *input* is
        given). *timeout* covers the whole call, as in ``subprocess.run``: when it runs out the process is
        terminated and ``HcsProcessTimeoutError`` carries the output read until then."""
        from .process import run_process

        return run_process(self, command_line, input=input, timeout=timeout, **kwargs)

    async def run_async(self, command_line: str, *, input: Optional[bytes] = None, **kwargs: Any) -> "CompletedProcess":
        """``run`` for asyncio; for a timeout use ``asyncio.wait_for``. When the awaiting task is cancelled the
        process is terminated (as soon as HCS delivers it, if the create was still running)."""
        from .process import run_process_async

        return await run_process_async(self, command_line, input=input, **kwargs)

    # -- closing -------------------------------------------------------------------------------------------
    def _handle_lease(self) -> Lease:
        """The lease on this system's handle (processes use it while HcsCreateProcess / HcsOpenProcess run)."""
        return self._lease

    def close(self) -> None:
        """Close the handle (idempotent). Waiters get HcsClosedError at once; the native handle closes when no
        call is using it, and HcsCloseComputeSystem waits for an event callback in flight."""
        if self._mark_closed():
            self._close_handle(f"compute system {self.id!r}")

    def _apply_exit_action(self, action: ExitAction, timeout: Optional[float] = None) -> None:
        if action == "leave" or self._closed or self.exited:
            return
        try:
            if action == "shutdown":
                try:
                    self.shutdown(timeout=timeout)
                    return
                except HcsError:
                    pass  # fall back to terminate
            self.terminate(timeout=timeout)
        except HcsInvalidStateError:
            pass  # never started and HCS refuses: nothing to end

    def __enter__(self) -> "ComputeSystem":
        """``with`` support: leaving the block applies ``exit_action`` to a system that has not exited, then
        closes the handle."""
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._apply_exit_action(self.exit_action)
        finally:
            self.close()

    async def __aenter__(self) -> "ComputeSystem":
        """``async with`` support: as ``with``, with the asyncio twins of shutdown/terminate."""
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            if self.exit_action != "leave" and not self._closed and not self.exited:
                try:
                    if self.exit_action == "shutdown":
                        try:
                            await self.shutdown_async()
                            return
                        except HcsError:
                            pass
                    await self.terminate_async()
                except HcsInvalidStateError:
                    pass
        finally:
            self.close()
