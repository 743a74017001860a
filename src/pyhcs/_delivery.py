"""Getting results from HCS threads to where users wait for them.

To asyncio: ``loop.call_soon_threadsafe`` costs a self-pipe write and a loop iteration, so wakeups are coalesced: one
wakeup drains everything queued since the previous one (measured twice the throughput of one wakeup per operation
with 100-1000 operations in flight, ../shared/reference/ffi-callback-path.md). A future that was cancelled meanwhile
is skipped, never an error. Operation completions travel as the operation's own record (``LoopDelivery.settle``):
the HCS thread reads the result, closes the operation and queues the record; the loop parses and settles in its
drained batch (``operation._AsyncCall``). Where native code completes awaited calls (``_completions``), the loop
watches that queue's socket itself and this delivery carries the rest (events, ``begin()`` operations).

To user callbacks: they run on one pyhcs thread, never on an HCS thread, so a callback may call any pyhcs method --
including ``close()``, which on an HCS thread would wait for the callback itself.
"""

from __future__ import annotations

import collections
import os
import queue
import threading
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Optional, Tuple


if TYPE_CHECKING:
    import asyncio

_get_ident = threading.get_ident


class LoopDelivery:
    """Runs functions on one event loop, many per wakeup."""

    __slots__ = ("loop", "_calls", "_completions", "_scheduled", "native")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # Awaited calls' completions queued by native code and watched by the loop (``_completions``): None until
        # the loop's first call arms it, False where the trampoline serves instead.
        self.native: Any = None
        self._calls: Deque[Tuple[Callable[..., None], Tuple[Any, ...]]] = collections.deque()
        # Operation completions, the bulk of the traffic, in their own queue: an item is the record itself
        # (``record._settle()`` on the loop), with no tuple to build or unpack.
        self._completions: Deque[Any] = collections.deque()
        self._scheduled = False

    def call(self, fn: Callable[..., None], *args: Any) -> None:
        """Queue ``fn(*args)`` to run on the loop (any thread). If the loop is closed, whatever is queued is handed
        to its owner (``_loop_gone``) instead, so nothing stays held."""
        self._calls.append((fn, args))
        if not self._scheduled:
            self._wake()

    def settle(self, record: Any) -> None:
        """Queue an operation completion (any thread, usually HCS's): ``record._settle()`` runs on the loop, or
        ``record._finish_here()`` if the loop is closed."""
        self._completions.append(record)
        if not self._scheduled:
            self._wake()

    def arm_native(self) -> Any:
        """On the loop's thread: the loop's native completion queue, or False (``_completions.arm``)."""
        from . import _completions

        self.native = _completions.arm(self.loop) or False
        return self.native

    def _wake(self) -> None:
        self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # loop closed: nobody is waiting any more
            self.abandon()

    def abandon(self) -> None:
        """The loop is closed (or the interpreter exits): hand every queued item to its owner, here (any thread).
        Items are popped one by one, so a producer racing with this hands its own item over itself (or this takes
        it), never neither."""
        self._scheduled = False
        completions = self._completions
        while True:
            try:
                record = completions.popleft()
            except IndexError:
                break
            try:
                record._finish_here()
            except Exception:  # noqa: BLE001 - the loop that could report it is gone; go on with the rest
                pass
        calls = self._calls
        while True:
            try:
                fn, args = calls.popleft()
            except IndexError:
                return
            try:
                gone = getattr(getattr(fn, "__self__", None), "_loop_gone", None)
                if gone is not None:
                    gone(*args)
            except Exception:  # noqa: BLE001
                pass

    def _drain(self) -> None:
        calls = self._calls
        completions = self._completions
        while True:
            while calls:
                fn, args = calls.popleft()
                try:
                    fn(*args)
                except Exception as exc:  # noqa: BLE001
                    self.loop.call_exception_handler({"message": "pyhcs delivery failed", "exception": exc})
            while completions:
                try:
                    completions.popleft()._settle()
                except Exception as exc:  # noqa: BLE001
                    self.loop.call_exception_handler({"message": "pyhcs delivery failed", "exception": exc})
            # Reset the flag only once both queues are empty, then look again: a producer that saw the flag still
            # set appended before this reset, so its item is seen below; one that sees it cleared wakes the loop.
            # Completions arriving while this drain runs are taken in the same drain, with no extra wakeup. The drain
            # ends: every item is an operation or event of this process, arriving no faster than HCS completes them.
            self._scheduled = False
            if not calls and not completions:
                return


# Loops that pyhcs delivered to, with their delivery. A plain dict rather than a WeakKeyDictionary: the delivery
# refers to its loop, which would keep a weak key alive forever anyway; closed loops are swept out instead
# (``sweep_closed``) -- whenever a new loop appears, when pyhcs waits for operations, and at exit.
_deliveries: Dict[Any, LoopDelivery] = {}
_deliveries_lock = threading.Lock()
_last: Optional[LoopDelivery] = None  # the most recent loop's delivery: saves the dict lookup


def delivery_for(loop: asyncio.AbstractEventLoop) -> LoopDelivery:
    global _last
    last = _last
    if last is not None and last.loop is loop:
        return last
    d = _deliveries.get(loop)
    if d is None:
        sweep_closed()
        with _deliveries_lock:
            d = _deliveries.get(loop)
            if d is None:
                d = _deliveries[loop] = LoopDelivery(loop)
    _last = d
    return d


def sweep_closed() -> None:
    """Forget the deliveries of closed loops, handing what they still hold to its owners. A loop closed between
    scheduling a wakeup and running it (``loop.close()`` drops its pending callbacks) would otherwise keep those
    completions -- their operation handles and leases -- forever."""
    global _last
    with _deliveries_lock:
        closed = [d for loop, d in _deliveries.items() if loop.is_closed()]
        for d in closed:
            del _deliveries[d.loop]
        if _last is not None and _last.loop.is_closed():
            _last = None
    for d in closed:
        d.abandon()
        native, d.native = d.native, False  # this sweep alone took d out of _deliveries: it alone retires the queue
        if native:
            from . import _completions

            _completions.retire(native)  # calls still in flight are finished by pyhcs's thread as they arrive


def every_delivery() -> "list[LoopDelivery]":
    with _deliveries_lock:
        return list(_deliveries.values())


# The delivery of the loop running in this thread, cached: ``asyncio.get_running_loop()`` makes a getpid() system
# call on every call on CPython <= 3.11 (it checks the loop was not inherited across fork), one per asynchronous
# call (docs/performance.md). A cached loop is still this thread's running loop while its ``_thread_id`` (set by
# BaseEventLoop.run_forever for exactly the time it runs, cleared when it stops) is this thread: asyncio refuses to
# run a second loop in a thread while one runs. Loops without that attribute (other implementations) are never
# cached, and a forked child forgets the cache, as asyncio forgets its running loop there.
_current: Optional[LoopDelivery] = None


def running_delivery() -> LoopDelivery:
    """The delivery of the event loop running in this thread; RuntimeError (asyncio's) when none runs."""
    d = _current
    if d is not None and d.loop._thread_id == _get_ident():  # type: ignore[attr-defined]
        return d
    return _running_delivery_slow()


def _running_delivery_slow() -> LoopDelivery:
    global _current
    import asyncio

    loop = asyncio.get_running_loop()
    d = delivery_for(loop)
    if getattr(loop, "_thread_id", None) == _get_ident():
        _current = d
    return d


def _forget_current() -> None:
    global _current, _last
    _current = _last = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_current)


def reject(future: "asyncio.Future[Any]", exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class CallbackThread:
    """The pyhcs thread that runs user event callbacks, in order.

    ``put((fn, arg))`` queues ``fn(arg)`` from any thread: one C-level ``SimpleQueue.put`` of a pair, which wakes
    the thread only when it is waiting (the hot path of on_event() delivery, on HCS's thread)."""

    def __init__(self) -> None:
        self._queue: "queue.SimpleQueue[Optional[Tuple[Callable[[Any], None], Any]]]" = queue.SimpleQueue()
        self.put = self._queue.put
        self._thread = threading.Thread(target=self._run, name="pyhcs-events", daemon=True)
        self._thread.start()
        self.ident = self._thread.ident

    def call(self, fn: Callable[..., None], *args: Any) -> None:
        if len(args) == 1:
            self._queue.put((fn, args[0]))
        else:
            self._queue.put((_apply, (fn, args)))

    def _run(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                return
            fn, arg = item
            try:
                fn(arg)
            except Exception:  # noqa: BLE001 - a user's callback failing must not stop the others
                import logging

                logging.getLogger("pyhcs").exception("pyhcs event callback %r failed", fn)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything queued so far has run (not from the callback thread itself)."""
        if threading.get_ident() == self.ident:
            return True
        done = threading.Event()
        self._queue.put((_apply, (done.set, ())))
        return done.wait(timeout)


def _apply(call: Tuple[Callable[..., None], Tuple[Any, ...]]) -> None:
    fn, args = call
    fn(*args)


_callback_thread: Optional[CallbackThread] = None
_callback_lock = threading.Lock()


def callback_thread() -> CallbackThread:
    global _callback_thread
    if _callback_thread is None:
        with _callback_lock:
            if _callback_thread is None:
                _callback_thread = CallbackThread()
    return _callback_thread
