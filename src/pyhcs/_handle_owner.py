"""What ComputeSystem and Process share: an HCS handle leased to the calls that use it, its one event registration,
and closing both in the right order."""

from __future__ import annotations

import sys
import threading
import warnings
import weakref
from typing import Any, Callable, Optional, Tuple

from . import _callbacks, _trace
from ._ffi import lib
from ._handles import Lease
from .enums import EventOptions, EventType
from .errors import check_hresult
from .events import EventCallback, EventHub, EventStream


def _weak_identity(owner: "HandleOwner") -> Callable[[], Tuple[str, Optional[str], Optional[int]]]:
    # The lease outlives its owner until the native close (interrupted calls, exit): it must not keep the owner
    # alive, or an unclosed owner would never reach its safety-net finalizer.
    ref = weakref.ref(owner)
    fallback = owner._identity()

    def identity() -> Tuple[str, Optional[str], Optional[int]]:
        alive = ref()
        return alive._identity() if alive is not None else fallback

    return identity


class HandleOwner:
    """An open HCS_SYSTEM or HCS_PROCESS handle with its events."""

    _hub: EventHub
    _lease: Lease
    _closed: bool

    def _own(
        self,
        raw: Any,
        close_function: str,
        set_callback_function: str,
        exit_event: EventType,
        event_options: EventOptions,
        on_failure: Optional[Callable[["HandleOwner"], None]],
        system_id: Optional[str],
        process_id: Optional[int] = None,
    ) -> None:
        """Take ownership of *raw* and register the handle's one event callback (HCS allows one per handle).

        on_failure: when the handle came from a call still in flight (HcsCreateComputeSystem/HcsCreateProcess), a
        failure here must not close it before HCS is done with that call; ``on_failure(self)`` is called instead
        and disposes of the half-made object once HCS is done (``_dispose_unwanted``)."""
        self._hub = EventHub(exit_event, system_id, process_id)
        self._lease = Lease(raw, getattr(lib, close_function), _weak_identity(self), close_function)
        self._close_lock = threading.Lock()
        self._closed = False
        callback = self._hub.callback or _callbacks.event_trampoline
        t0 = _trace.now() if _trace.enabled() else None
        try:
            hr = getattr(lib, set_callback_function)(raw, int(event_options), self._hub.key, callback)
            if t0 is not None:
                _trace.call(set_callback_function, hr, t0, system_id, process_id)
            check_hresult(hr, function=set_callback_function, system_id=system_id, process_id=process_id)
        except BaseException:
            self._closed = True
            if on_failure is not None:
                on_failure(self)
            else:
                self._close_native()
            raise

    def _identity(self) -> Tuple[str, Optional[str], Optional[int]]:  # pragma: no cover - every owner defines it
        raise NotImplementedError

    def _dispose_unwanted(self, error: Optional[BaseException]) -> None:  # pragma: no cover - every owner defines it
        raise NotImplementedError

    def _close_native(self) -> None:
        # The native close runs once no call uses the handle; HcsClose* waits for an event callback in flight.
        self._lease.close(on_closed=self._hub.release)

    def _mark_closed(self) -> bool:
        """True for the first close() only."""
        with self._close_lock:
            if self._closed:
                return False
            self._closed = True
            return True

    def _close_handle(self, what: str) -> None:
        self._hub.closed(what)  # waiters get HcsClosedError at once
        self._close_native()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called (the native handle itself closes once no call is using it)."""
        return self._closed

    def on_event(self, callback: EventCallback, *, inline: bool = False) -> Callable[[], None]:
        """Call ``callback(event)`` for each event of this handle from now on. Returns a function that
        unsubscribes.

        Events that happened before the call are not replayed -- except the exit (SystemExited / ProcessExited):
        if it already arrived, the callback gets it at once, so a late subscriber never misses the end. By default
        callbacks run in order on the pyhcs event thread, so they may block and call any pyhcs method.
        ``inline=True`` runs the callback on an HCS thread instead (the one delivering the event, or, where pyhcs
        receives events natively, the one handing over every event delivered meanwhile) -- the fastest path, for
        callbacks that return quickly, since they hold up later events; closing the handle from there is still
        safe (pyhcs defers the native close to its closer thread, since HcsClose* waits for the callback in
        flight)."""
        return self._hub.subscribe(callback, inline)

    def events(self) -> EventStream:
        """``async for event in x.events()``: events from now on, ending after the exit event (SystemExited or
        ProcessExited), a service disconnect, or close(). As with ``on_event``, an exit that already happened is
        delivered (then the stream ends)."""
        return self._hub.stream()

    def close(self) -> None:  # pragma: no cover - every owner defines it
        raise NotImplementedError

    def __del__(self) -> None:
        # A safety net, not the release path (close() and ``with`` are): like an unclosed file, warn and close.
        if getattr(self, "_closed", True) or sys.is_finalizing():
            return
        warnings.warn(f"unclosed {self!r}: call close() or use 'with'", ResourceWarning, source=self)
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing can be reported from a finalizer
            pass
