"""Getting results from HCS threads to where users wait for them.

To asyncio: ``loop.call_soon_threadsafe`` costs a self-pipe write and a loop iteration, so wakeups are coalesced: one
wakeup drains everything queued since the previous one (measured twice the throughput of one wakeup per operation
with 100-1000 operations in flight, ../shared/reference/ffi-callback-path.md). A future that was cancelled meanwhile
is skipped, never an error.

To user callbacks: they run on one pyhcs thread, never on an HCS thread, so a callback may call any pyhcs method --
including ``close()``, which on an HCS thread would wait for the callback itself.
"""

from __future__ import annotations

import collections
import queue
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Deque, Optional, Tuple

if TYPE_CHECKING:
    import asyncio



class LoopDelivery:
    """Runs functions on one event loop, many per wakeup."""

    __slots__ = ("loop", "_pending", "_scheduled", "__weakref__")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._pending: Deque[Tuple[Callable[..., None], Tuple[Any, ...]]] = collections.deque()
        self._scheduled = False

    def call(self, fn: Callable[..., None], *args: Any) -> bool:
        """Queue ``fn(*args)`` to run on the loop (any thread). False when the loop is closed: then nothing was
        queued, and whatever was still queued is handed to its owner's ``_loop_gone`` so nothing stays held."""
        self._pending.append((fn, args))
        if not self._scheduled:
            self._scheduled = True
            try:
                self.loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # loop closed: nobody is waiting any more
                self._scheduled = False
                stuck = list(self._pending)
                self._pending.clear()
                for stuck_fn, stuck_args in stuck[:-1]:
                    gone = getattr(getattr(stuck_fn, "__self__", None), "_loop_gone", None)
                    if gone is not None:
                        gone(*stuck_args)
                return False
        return True

    def _drain(self) -> None:
        self._scheduled = False
        pending = self._pending
        while pending:
            fn, args = pending.popleft()
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001
                self.loop.call_exception_handler({"message": "pyhcs delivery failed", "exception": exc})


_deliveries: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopDelivery]" = weakref.WeakKeyDictionary()
_deliveries_lock = threading.Lock()


_last: Optional[LoopDelivery] = None  # the most recent loop's delivery: a weak-dict lookup per call costs ~0.3 µs


def delivery_for(loop: asyncio.AbstractEventLoop) -> LoopDelivery:
    global _last
    last = _last
    if last is not None and last.loop is loop:
        return last
    d = _deliveries.get(loop)
    if d is None:
        with _deliveries_lock:
            d = _deliveries.get(loop)
            if d is None:
                d = _deliveries[loop] = LoopDelivery(loop)
    _last = d
    return d


def reject(future: "asyncio.Future[Any]", exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class CallbackThread:
    """The pyhcs thread that runs user event callbacks, in order."""

    def __init__(self) -> None:
        self._queue: "queue.SimpleQueue[Optional[Tuple[Callable[..., None], Tuple[Any, ...]]]]" = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="pyhcs-events", daemon=True)
        self._thread.start()
        self.ident = self._thread.ident

    def call(self, fn: Callable[..., None], *args: Any) -> None:
        self._queue.put((fn, args))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - a user's callback failing must not stop the others
                import logging

                logging.getLogger("pyhcs").exception("pyhcs event callback %r failed", fn)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything queued so far has run (not from the callback thread itself)."""
        if threading.get_ident() == self.ident:
            return True
        done = threading.Event()
        self._queue.put((done.set, ()))
        return done.wait(timeout)


_callback_thread: Optional[CallbackThread] = None
_callback_lock = threading.Lock()


def callback_thread() -> CallbackThread:
    global _callback_thread
    if _callback_thread is None:
        with _callback_lock:
            if _callback_thread is None:
                _callback_thread = CallbackThread()
    return _callback_thread
