"""ComputeSystem: one HCS compute system (a container or a VM) through an HCS_SYSTEM handle.

Compute systems are ephemeral (Overview.md): created, started, maybe paused/resumed/saved, then stopped; after
that a handle can only report the exit. States and the calls allowed in each are HCS's; pyhcs adds no state
machine of its own, so the errors you get (HCS_E_INVALID_STATE, HCS_E_SYSTEM_ALREADY_STOPPED ...) are HCS's.

Every call is available synchronously (``start(timeout=...)``) and for asyncio (``await start_async()``): the
same machinery (``operation.Operation``), completed by waiting or by the operation's completion callback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, List, Literal, Mapping, Optional, Sequence, Tuple, Union, cast

from ._ffi import ffi, lib
from ._handles import Lease
from ._strings import Document, document_arg, to_wide
from .enums import GENERIC_ALL, EventOptions, EventType
from .errors import HcsAlreadyStoppedError, HcsError, HcsInvalidStateError, check_hresult
from ._handle_owner import HandleOwner
from .operation import Operation, failed_future, run, run_async

if TYPE_CHECKING:
    import asyncio

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


def _check_exit_action(value: str) -> None:
    if value not in ("terminate", "shutdown", "leave"):
        raise ValueError(f"exit_action must be 'terminate', 'shutdown' or 'leave', not {value!r}")


class ComputeSystem(HandleOwner):
    """An open handle to an HCS compute system.

    Create one with ``ComputeSystem.create(id, document)`` (or ``create_async``), or open an existing one with
    ``ComputeSystem.open(id)``. Use it as a context manager: leaving the block applies ``exit_action`` to a
    system that has not exited ("terminate" by default for systems you created, "leave" for opened ones), then
    closes the handle. ``close()`` only closes the handle -- unless the system document set
    ShouldTerminateOnLastHandleClosed, in which case HCS terminates the system when its last handle closes."""

    def __init__(self, system_id: str, raw: Any, exit_action: ExitAction, event_options: EventOptions,
                 defer_close: Optional[Callable[[Callable[[], None]], None]] = None) -> None:
        _check_exit_action(exit_action)
        self.id = system_id
        self.exit_action: ExitAction = exit_action
        self._own(raw, f"compute system {system_id!r}", "HcsCloseComputeSystem", "HcsSetComputeSystemCallback",
                  EventType.SYSTEM_EXITED, event_options, defer_close, system_id)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("exited" if self._hub.exited else "open")
        return f"<ComputeSystem {self.id!r} {state}>"

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
        op.start(lambda h: lib.HcsCreateComputeSystem(idw, doc, h, _NULL, out), keep=(idw, doc))
        # The handle exists as soon as the call returns; register for events before the system can do anything.
        try:
            system = cls(system_id, out[0], exit_action, event_options, op.after_release)
        except BaseException:
            op.detach()
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
        """HcsCreateComputeSystem: create (not start) a compute system from a ComputeSystem document."""
        system, op = cls._begin_create(system_id, document, False, exit_action, event_options)
        try:
            op.wait(timeout)
        except BaseException:
            op.after_release(system.close)  # never close the handle while HCS may still use it
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
        """``create`` for asyncio: ``system = await ComputeSystem.create_async(id, document)``."""
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
        closes: List[Callable[[], None]] = []  # closes that must wait until HCS finished the create

        def created(_: Any, __: Any) -> "ComputeSystem":
            if isinstance(made[0], BaseException):
                raise made[0]
            return cast(ComputeSystem, made[0])

        def failed(_: BaseException) -> None:  # runs once the operation is over: HCS no longer uses the handle
            if made and isinstance(made[0], ComputeSystem):
                made[0].close()
            for close in closes:
                close()

        future = run_async("HcsCreateComputeSystem", lambda h: lib.HcsCreateComputeSystem(idw, doc, h, _NULL, out),
                           keep=(idw, doc), system_id=system_id, transform=created, on_error=failed)
        if out[0] != _NULL:
            # Settling runs on this loop after we return, so the system is registered for events before that.
            try:
                made.append(cls(system_id, out[0], exit_action, event_options, closes.append))
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
        hr = lib.HcsOpenComputeSystem(idw, GENERIC_ALL, out)  # requestedAccess "must be GENERIC_ALL"
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
        fn = getattr(lib, function)
        raw = self._lease.raw
        arg = document_arg(document, what)
        result, _ = run(function, lambda h: fn(raw, h, arg, *extra), keep=arg, leases=(self._lease,),
                        timeout=timeout, system_id=self.id)
        return result

    def _call_async(self, function: str, document: Document = None, what: str = "options",
                    extra: Tuple[Any, ...] = (), transform: Optional[Callable[[Any, Any], Any]] = None
                    ) -> "asyncio.Future[Any]":
        try:
            fn = getattr(lib, function)
            raw = self._lease.raw
            arg = document_arg(document, what)
        except BaseException as exc:  # noqa: BLE001 - surfaces at await
            return failed_future(exc)
        return run_async(function, lambda h: fn(raw, h, arg, *extra), keep=arg, leases=(self._lease,),
                         system_id=self.id, transform=transform or _none)

    def begin(self, function: str, document: Document = None) -> Operation:
        """Start ``function`` (e.g. "HcsStartComputeSystem") on this system and return its Operation (id, type,
        result) without waiting: ``op.wait(timeout)`` or ``await op``."""
        fn = getattr(lib, function)
        raw = self._lease.raw
        arg = document_arg(document)
        op = Operation(function, leases=(self._lease,), notify=True, system_id=self.id).keep_facts()
        return op.start(lambda h: fn(raw, h, arg), keep=arg)

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self, options: Document = None, *, timeout: Optional[float] = None) -> None:
        """HcsStartComputeSystem: Created -> Running."""
        self._call("HcsStartComputeSystem", options, timeout)

    def start_async(self, options: Document = None) -> "asyncio.Future[None]":
        return self._call_async("HcsStartComputeSystem", options)

    def shutdown(self, options: Document = None, *, timeout: Optional[float] = None) -> None:
        """HcsShutDownComputeSystem: ask the guest to shut down cleanly (SystemExited: GracefulExit)."""
        self._call("HcsShutDownComputeSystem", options, timeout)

    def shutdown_async(self, options: Document = None) -> "asyncio.Future[None]":
        return self._call_async("HcsShutDownComputeSystem", options)

    def terminate(self, options: Document = None, *, timeout: Optional[float] = None) -> None:
        """HcsTerminateComputeSystem: stop the system forcefully (SystemExited: ForcedExit)."""
        self._call("HcsTerminateComputeSystem", options, timeout)

    def terminate_async(self, options: Document = None) -> "asyncio.Future[None]":
        return self._call_async("HcsTerminateComputeSystem", options)

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
        try:
            q = _property_query(query)
        except BaseException as exc:  # noqa: BLE001
            return failed_future(exc)
        return self._call_async("HcsGetComputeSystemProperties", q, "System_PropertyQuery",
                                transform=lambda result, _: result or {})

    @property
    def state(self) -> str:
        """The system's State as HCS reports it now ("Created", "Running", "Paused", "Stopped" ...)."""
        return str(self.properties().get("State", "Unknown"))

    # -- exit and events -----------------------------------------------------------------------------------
    def wait(self, timeout: Optional[float] = None) -> "SystemExitStatus":
        """Wait for the SystemExited event; return its SystemExitStatus (Status, ExitType, Attribution).

        Raises HcsTimeoutError on timeout, HcsServiceDisconnectedError if HCS went away, HcsClosedError if the
        handle was closed meanwhile."""
        return cast("SystemExitStatus", self._hub.wait_exit(timeout, f"compute system {self.id!r}"))

    async def wait_async(self) -> "SystemExitStatus":
        return cast("SystemExitStatus", await self._hub.wait_exit_async())

    @property
    def exited(self) -> bool:
        """Whether the SystemExited event has arrived."""
        return self._hub.exited and self._hub.exit_data is not None

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
        """Run a process to completion: (exit_code, stdout, stderr), all output read before the exit is reported."""
        from .process import run_process

        return run_process(self, command_line, input=input, timeout=timeout, **kwargs)

    async def run_async(self, command_line: str, *, input: Optional[bytes] = None, **kwargs: Any) -> "CompletedProcess":
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
                except HcsAlreadyStoppedError:
                    return
                except HcsError:
                    pass  # fall back to terminate
            self.terminate(timeout=timeout)
        except (HcsAlreadyStoppedError, HcsInvalidStateError):
            pass  # already stopped (or never started and HCS refuses): nothing to end

    def __enter__(self) -> "ComputeSystem":
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._apply_exit_action(self.exit_action)
        finally:
            self.close()

    async def __aenter__(self) -> "ComputeSystem":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            if self.exit_action != "leave" and not self._closed and not self.exited:
                try:
                    if self.exit_action == "shutdown":
                        try:
                            await self.shutdown_async()
                            return
                        except HcsAlreadyStoppedError:
                            return
                        except HcsError:
                            pass
                    await self.terminate_async()
                except (HcsAlreadyStoppedError, HcsInvalidStateError):
                    pass
        finally:
            self.close()
