"""Lifetime of a native HCS_SYSTEM / HCS_PROCESS handle.

Rules from hcsshim's history that this file enforces:
- never close a handle while another thread is inside a call using it (an abandoned in-flight call whose handles
  closed "has been observed to crash the shim with EXCEPTION_ACCESS_VIOLATION inside computecore.dll",
  hcsshim internal/computecore/computecore.go). Every call holds a lease; ``close()`` only marks the handle, and the
  native close runs when the last lease is returned.
- never close a handle from its own callback: HcsCloseComputeSystem / HcsCloseProcess wait for callbacks in flight
  (hcsshim internal/hcs/v2/system.go, process.go), so closing from an HCS thread can deadlock. A close that would
  run on an HCS callback thread is handed to the closer thread instead.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Optional, Tuple

from . import _callbacks, _trace
from .errors import HcsClosedError

ERROR_INVALID_HANDLE_HRESULT = 0x80070006

#: What a lease's owner is, asked when an error must name it: (description, system id, process id). A function,
#: because a process learns its pid only after HcsCreateProcess completed.
Identity = Callable[[], Tuple[str, Optional[str], Optional[int]]]

# Every lease whose native handle is still open: interpreter exit closes them (``_exit``), since HcsClose* is HCS's
# own guarantee that no event callback of that handle runs afterwards.
_open: "set[Lease]" = set()


class Lease:
    """A counted native handle: ``acquire()``/``release()`` around each use; ``close()`` once.

    Counting takes no lock. Every asynchronous call acquires and releases a lease, and a lock acquire+release pair
    on each side cost 0.4-1.2 µs of GIL-held time per operation (docs/performance.md); instead the count is the
    length of a list, and ``list.append`` / ``list.pop`` are each one atomic step under the GIL (and under the
    per-object locks of free-threaded builds). Correctness rests on the order of the steps, not on a lock:

    - ``acquire`` counts itself first and only then looks at ``_closing``; if it sees a close it uncounts
      itself and, if it was the last, runs the close it may have held up;
    - ``close`` sets ``_closing`` first and only then looks at the count;
    - ``release`` uncounts and runs the close when it sees ``_closing`` with nobody counted.

    Whatever the interleaving, a user counted before ``close`` saw the count keeps the handle open until its
    release, and the native close runs once every counted user is gone. It may be requested from several places at
    once (a release and an acquire that backed out); a one-shot claim (``list.pop`` of a one-element list) lets
    exactly one of them run it."""

    __slots__ = ("raw", "_closer", "_close_name", "_identity", "_users", "_closing", "_close_claim",
                 "_native_claim", "_closed", "_on_closed", "__weakref__")

    def __init__(self, raw: Any, closer: Callable[[Any], None], identity: Identity,
                 close_name: str = "close") -> None:
        self.raw = raw
        self._closer = closer
        self._close_name = close_name
        self._identity = identity
        self._users: "list[None]" = []  # one entry per call using the handle now
        self._closing = False
        self._close_claim: "list[None]" = [None]  # popped by the first close()
        self._native_claim: "list[None]" = [None]  # popped by whoever runs the native close
        self._closed = threading.Event()
        self._on_closed: Optional[Callable[[], None]] = None
        _open.add(self)

    @property
    def closing(self) -> bool:
        return self._closing

    def closed_error(self, function: Optional[str] = None) -> HcsClosedError:
        """The error for using this handle after close(), naming the handle, its ids and the call."""
        what, system_id, process_id = self._identity()
        return HcsClosedError(ERROR_INVALID_HANDLE_HRESULT, f"{what} is closed", name="ERROR_INVALID_HANDLE",
                              function=function, system_id=system_id, process_id=process_id)

    def acquire(self, function: Optional[str] = None) -> Any:
        """Count one more user of the handle; HcsClosedError (naming *function*) once close() was called."""
        users = self._users
        users.append(None)
        if self._closing:
            users.pop()
            if not users:
                self._close_native_once()
            raise self.closed_error(function)
        return self.raw

    def release(self) -> None:
        users = self._users
        users.pop()
        if self._closing and not users:
            self._close_native_once()

    def close(self, on_closed: Optional[Callable[[], None]] = None) -> None:
        """Mark closed (idempotent); the native handle closes once no call is using it. *on_closed* runs after."""
        try:
            self._close_claim.pop()
        except IndexError:  # closed before
            return
        self._on_closed = on_closed  # before _closing: whoever sees _closing runs the close with this
        self._closing = True
        if self._users:
            # Some users may be asynchronous calls whose completion was queued for an event loop that was closed
            # before it ran them (asyncio.run() closes its loop as soon as the main coroutine returns): nothing
            # would ever return their lease, and this close would wait forever. Release those now.
            from ._delivery import sweep_closed

            sweep_closed()
        if not self._users:
            self._close_native_once()

    def _close_native_once(self) -> None:
        try:
            self._native_claim.pop()
        except IndexError:  # another thread runs (or ran) it
            return
        self._native_close()

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        return self._closed.wait(timeout)

    def _native_close(self) -> None:
        if _callbacks.in_hcs_callback():
            _closer_thread().submit(self._do_close)
        else:
            self._do_close()

    def _do_close(self) -> None:
        if self._closed.is_set():
            return
        t0 = _trace.now() if _trace.enabled() else None
        try:
            self._closer(self.raw)
        finally:
            if t0 is not None:
                _, system_id, process_id = self._identity()
                _trace.call(self._close_name, 0, t0, system_id, process_id)
            self._closed.set()
            _open.discard(self)
            cb, self._on_closed = self._on_closed, None
            if cb is not None:
                cb()


def open_leases() -> "list[Lease]":
    """Every lease whose native handle is not closed yet."""
    return list(_open)


class _CloserThread:
    """Runs native closes that were requested on an HCS callback thread. A daemon (it never ends by itself), so
    interpreter exit flushes it (``flush``) rather than dropping the closes still queued."""

    def __init__(self) -> None:
        self._queue: "queue.SimpleQueue[Callable[[], None]]" = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="pyhcs-closer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def flush(self, timeout: Optional[float]) -> bool:
        """Wait until everything queued so far has run; False if that took longer than *timeout*."""
        done = threading.Event()
        self._queue.put(done.set)
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            fn = self._queue.get()
            try:
                fn()
            except BaseException:  # noqa: BLE001 - a failing close must not kill the closer
                import traceback

                traceback.print_exc()


_closer: Optional[_CloserThread] = None
_closer_lock = threading.Lock()


def flush_closes(timeout: Optional[float]) -> bool:
    """Run the closes queued on the closer thread (interpreter exit); True when none is left."""
    closer = _closer
    return True if closer is None else closer.flush(timeout)


def _closer_thread() -> _CloserThread:
    global _closer
    with _closer_lock:
        if _closer is None:
            _closer = _CloserThread()
        return _closer
