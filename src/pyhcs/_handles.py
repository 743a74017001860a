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
from typing import Any, Callable, Optional

from . import _callbacks
from .errors import HcsClosedError

ERROR_INVALID_HANDLE_HRESULT = 0x80070006


class Lease:
    """A counted native handle: ``acquire()``/``release()`` around each use; ``close()`` once."""

    __slots__ = ("raw", "_closer", "_what", "_lock", "_users", "_closing", "_closed", "_on_closed")

    def __init__(self, raw: Any, closer: Callable[[Any], None], what: str) -> None:
        self.raw = raw
        self._closer = closer
        self._what = what
        self._lock = threading.Lock()
        self._users = 0
        self._closing = False
        self._closed = threading.Event()
        self._on_closed: Optional[Callable[[], None]] = None

    @property
    def closing(self) -> bool:
        return self._closing

    def acquire(self) -> Any:
        with self._lock:
            if self._closing:
                raise HcsClosedError(ERROR_INVALID_HANDLE_HRESULT, f"{self._what} is closed", name="ERROR_INVALID_HANDLE")
            self._users += 1
            return self.raw

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            run = self._closing and self._users == 0 and not self._closed.is_set()
        if run:
            self._native_close()

    def close(self, on_closed: Optional[Callable[[], None]] = None) -> None:
        """Mark closed (idempotent); the native handle closes once no call is using it. *on_closed* runs after."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._on_closed = on_closed
            run = self._users == 0
        if run:
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
        try:
            self._closer(self.raw)
        finally:
            self._closed.set()
            cb, self._on_closed = self._on_closed, None
            if cb is not None:
                cb()


class _CloserThread:
    """Runs native closes that were requested on an HCS callback thread."""

    def __init__(self) -> None:
        self._queue: "queue.SimpleQueue[Callable[[], None]]" = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="pyhcs-closer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

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


def _closer_thread() -> _CloserThread:
    global _closer
    with _closer_lock:
        if _closer is None:
            _closer = _CloserThread()
        return _closer
