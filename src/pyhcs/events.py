"""Events of a compute system or process handle.

HCS allows one event callback per handle (a second registration fails with
HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET, HCSHResult.md), so each pyhcs handle registers exactly one -- through
the shared trampoline -- and fans events out to: the built-in exit waiter, user callbacks (run on the pyhcs event
thread, never an HCS thread), and async iterators. SystemExited carries a SystemExitStatus, ProcessExited a
ProcessStatus (HCS_EVENT.md); ServiceDisconnect means vmcompute went away, so every pending wait on the handle
fails with ``HcsServiceDisconnectedError``.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, List, Optional, Tuple, Union

from . import _callbacks, _delivery, _trace
from ._delivery import LoopDelivery, callback_thread, delivery_for, reject
from .enums import EventType
from .errors import HcsClosedError, HcsError, HcsServiceDisconnectedError

if TYPE_CHECKING:
    import asyncio
    from datetime import datetime

HCS_E_SERVICE_DISCONNECT = 0x8037011E
ERROR_INVALID_HANDLE_HRESULT = 0x80070006


_UNPARSED: Any = object()  # Event._data before the first read of Event.data


def _parse(raw: Optional[str]) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class Event:
    """One HCS event: its type, its EventData (``raw``; ``data`` parses it as JSON on first use), and whose it
    is. Parsing waits until someone reads ``data``: on the delivery path it would hold the GIL on HCS's thread."""

    __slots__ = ("type", "raw", "system_id", "process_id", "_data")

    def __init__(self, type: Union[EventType, int], raw: Optional[str], system_id: Optional[str],
                 process_id: Optional[int] = None) -> None:
        #: The EventType (an int for a type this pyhcs does not know).
        self.type = type
        #: EventData as HCS sent it (JSON text), or None.
        self.raw = raw
        #: The compute system the event is about.
        self.system_id = system_id
        #: The process the event is about (process events), else None.
        self.process_id = process_id
        self._data: Any = _UNPARSED

    @property
    def data(self) -> Any:
        """EventData parsed as JSON (SystemExitStatus, ProcessStatus, CrashReport ...); the raw text if it is not
        JSON; None when the event carries none."""
        data = self._data
        if data is _UNPARSED:
            data = self._data = _parse(self.raw)
        return data

    def __repr__(self) -> str:
        name = self.type.name if isinstance(self.type, EventType) else hex(self.type)
        return f"Event({name}, system_id={self.system_id!r}, process_id={self.process_id!r}, raw={self.raw!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.type, self.raw, self.system_id, self.process_id) == (
            other.type, other.raw, other.system_id, other.process_id)

    def __hash__(self) -> int:
        return hash((self.type, self.raw, self.system_id, self.process_id))


_EVENT_TYPES = {int(t): t for t in EventType}


def _event_type(value: int) -> Union[EventType, int]:
    value &= 0xFFFFFFFF
    return _EVENT_TYPES.get(value, value)


EventCallback = Callable[[Event], None]
_END = object()
_trace_enabled = _trace.enabled
_new_event = Event.__new__


def _log_failure(message: str, callback: Any) -> None:
    import logging

    logging.getLogger("pyhcs").exception(message, callback)
_now = time.time


class EventHub:
    """The single HCS event registration of one handle, and everything listening to it."""

    def __init__(self, exit_event: EventType, system_id: Optional[str], process_id: Optional[int] = None) -> None:
        from . import _native_events  # at the first handle, not at import pyhcs (it loads _native)

        receiver = _native_events.receiver()
        self._receiver = receiver
        if receiver is not None:  # HCS gets pyhcs's native event code (x86-64 POSIX)
            self.key = receiver.node(self)
            #: The HCS_EVENT_CALLBACK to register with ``key``; None: the cffi trampoline.
            self.callback: Any = receiver.callback
        else:
            self.key = _callbacks.events.add(self)
            self.callback = None
        self._exit_type = exit_event
        self._system_id = system_id
        self._process_id = process_id
        self._lock = threading.Lock()
        self._callbacks: List[EventCallback] = []  # run on the pyhcs event thread
        self._inline: List[EventCallback] = []  # run on an HCS thread (subscribe(inline=True))
        self._streams: List["EventStream"] = []
        self._exit_data: Any = None
        self._exit_time: Optional[float] = None
        self._exited = False  # set under _lock; _exit_event exists only once a thread waits synchronously
        self._exit_event: Optional[threading.Event] = None
        self._failure: Optional[HcsError] = None
        self._exit_waiters: List[Tuple[LoopDelivery, "asyncio.Future[Any]"]] = []
        #: How many exit events HCS delivered to this handle (HCS reports an exit once per handle).
        self.native_exit_events = 0

    # -- fed by HCS ----------------------------------------------------------------------------------------
    def _on_native_event(self, event_type: int, event_data: Optional[str], operation: Any = None) -> None:
        # On HCS's thread, holding the GIL every other pyhcs thread waits for: the Event is built in place (no
        # __init__ frame) and the exit, the hot event, takes the shortest way.
        etype: Union[EventType, int, None] = _EVENT_TYPES.get(event_type)
        if etype is None:
            etype = _event_type(event_type)
        event = _new_event(Event)
        event.type = etype
        event.raw = event_data
        event.system_id = self._system_id
        event.process_id = self._process_id
        event._data = _UNPARSED
        if _trace_enabled():
            _trace.event(getattr(etype, "name", hex(event_type)), self._system_id, self._process_id, event_data)
        if etype is self._exit_type:
            self._on_exit_event(event, True)
            return
        if etype is EventType.SERVICE_DISCONNECT:
            self.fail(
                HcsServiceDisconnectedError(
                    HCS_E_SERVICE_DISCONNECT,
                    "the HCS service disconnected (vmcompute stopped or crashed); this handle gets no more events",
                    name="HCS_E_SERVICE_DISCONNECT",
                    system_id=self._system_id,
                    process_id=self._process_id,
                ),
                event,
            )
            return
        self._fan_out(event, final=False)

    def _on_exit_event(self, event: Event, native: bool = True) -> bool:
        # The hot event: record the exit and take every listener under one lock acquisition, then deliver without
        # another call layer (this runs on HCS's thread, holding the GIL). Listeners get the exit exactly once:
        # HCS reports it once per handle, but pyhcs may have learnt it first (set_exit), and a late subscriber was
        # handed the recorded one already.
        with self._lock:
            if native:
                self.native_exit_events += 1
            if self._exit_data is not None:  # recorded before (set_exit): every listener has had it
                return False
            first = not self._exited  # False once the handle was closed or the service disconnected
            if first:
                self._exit_data = event
                self._exit_time = _now()
                self._exited = True
                waiters = self._exit_waiters
                if waiters:
                    self._exit_waiters = []
                exit_event = self._exit_event
            callbacks = self._callbacks
            inline = self._inline
            streams = self._streams
            if streams:
                self._streams = []
        if first:
            if exit_event is not None:
                exit_event.set()
            for delivery, future in waiters:
                delivery.call(self._resolve_exit, future)
        self._deliver(event, callbacks, inline, streams, True)
        return first

    def _fan_out(self, event: Event, final: bool) -> None:
        with self._lock:
            callbacks = self._callbacks
            inline = self._inline
            streams = self._streams
            if final:
                self._streams = []
        self._deliver(event, callbacks, inline, streams, final)

    @staticmethod
    def _deliver(event: Event, callbacks: List[EventCallback], inline: List[EventCallback],
                 streams: List["EventStream"], final: bool) -> None:
        for cb in inline:
            try:
                cb(event)
            except Exception:  # noqa: BLE001 - a user's callback failing must not reach HCS
                _log_failure("pyhcs inline event callback %r failed", cb)
        if callbacks:
            put = (_delivery._callback_thread or callback_thread()).put  # (fn, one argument): no tuple of args
            for cb in callbacks:
                put((cb, event))
        for stream in streams:
            stream._push(event, final)

    # -- exit ----------------------------------------------------------------------------------------------
    def set_exit(self, data: Any) -> bool:
        """Record the exit learnt without an event (HcsWaitForProcessExit: the process ended before its callback
        was registered) and tell every listener, as the event would have; False if an exit was already recorded
        (an exit is reported exactly once)."""
        if isinstance(data, Event):
            event = data
        else:
            event = Event(self._exit_type, json.dumps(data), self._system_id, self._process_id)
            event._data = data
        return self._on_exit_event(event, native=False)

    def _resolve_exit(self, future: "asyncio.Future[Any]") -> None:
        if not future.done():
            future.set_result(self.exit_data)

    @property
    def exited(self) -> bool:
        """Whether waiting is over: the exit arrived, the handle was closed or the service disconnected."""
        return self._exited

    @property
    def has_exit(self) -> bool:
        """Whether the exit itself (SystemExited / ProcessExited) was recorded."""
        return self._exit_data is not None

    def exit_time(self) -> "Optional[datetime]":
        """When the exit was recorded (pyhcs's clock, UTC), or None."""
        from datetime import datetime, timezone

        stamp = self._exit_time
        return None if stamp is None else datetime.fromtimestamp(stamp, timezone.utc)

    @property
    def exit_data(self) -> Any:
        """The exit document (SystemExitStatus / ProcessStatus), parsed on first use."""
        data = self._exit_data
        return data.data if isinstance(data, Event) else data

    def fail(self, error: HcsError, event: Optional[Event] = None) -> None:
        """Fail every pending and future wait with *error* (service disconnect, handle closed); end the streams."""
        with self._lock:
            if self._failure is None:
                self._failure = error
            waiters, self._exit_waiters = self._exit_waiters, []
            streams, self._streams = self._streams, []
            callbacks = self._callbacks + self._inline
            self._exited = True
            exit_event = self._exit_event
        if exit_event is not None:
            exit_event.set()
        for delivery, future in waiters:
            delivery.call(reject, future, error)
        if event is not None and callbacks:
            thread = callback_thread()
            for cb in callbacks:
                thread.call(cb, event)
        for stream in streams:
            if event is not None:
                stream._push(event, True)
            else:
                stream._push(_END)

    def wait_exit(self, timeout: Optional[float], what: str) -> Any:
        """Wait for the exit (*timeout*: seconds already checked by ``_timeouts.check``, None: no limit)."""
        with self._lock:
            exited = self._exited
            if not exited and self._exit_event is None:
                self._exit_event = threading.Event()
            event = self._exit_event
        if not exited and event is not None and not event.wait(timeout):
            from .errors import error_from_hresult

            raise error_from_hresult(
                0x80370118,
                {"Error": 0x80370118 - (1 << 32), "ErrorMessage": f"{what} did not exit within {timeout} s"},
                function="wait",
                system_id=self._system_id,
                process_id=self._process_id,
            )
        return self._exit_result()

    def _exit_result(self) -> Any:
        if self._exit_data is None and self._failure is not None:
            raise self._failure
        return self.exit_data

    async def wait_exit_async(self) -> Any:

        import asyncio

        loop = asyncio.get_running_loop()
        future: "asyncio.Future[Any]" = loop.create_future()
        with self._lock:
            if not self._exited:
                self._exit_waiters.append((delivery_for(loop), future))
                pending = True
            else:
                pending = False
        if pending:
            return await future
        return self._exit_result()

    # -- listeners -----------------------------------------------------------------------------------------
    def exit_event(self) -> Optional[Event]:
        """The exit event if it arrived (rebuilt from the document when the exit was learnt without an event)."""
        data = self._exit_data
        if data is None:
            return None
        if isinstance(data, Event):
            if data.process_id is None and self._process_id is not None:  # it came before the create completed
                return Event(data.type, data.raw, data.system_id, self._process_id)
            return data
        return Event(self._exit_type, json.dumps(data), self._system_id, self._process_id)

    def subscribe(self, callback: EventCallback, inline: bool = False) -> Callable[[], None]:
        if not callable(callback):
            raise TypeError("an event callback must be callable")
        with self._lock:  # copy on write: _fan_out reads the lists without copying them
            if inline:
                self._inline = self._inline + [callback]
            else:
                self._callbacks = self._callbacks + [callback]
            late = self._exit_data is not None
        if late:  # the exit already happened: a late subscriber still gets it (on the event thread)
            exit_event = self.exit_event()
            if exit_event is not None:
                callback_thread().call(callback, exit_event)

        def unsubscribe() -> None:
            with self._lock:
                self._callbacks = [c for c in self._callbacks if c is not callback]
                self._inline = [c for c in self._inline if c is not callback]

        return unsubscribe

    def stream(self) -> "EventStream":

        import asyncio

        loop = asyncio.get_running_loop()
        stream = EventStream(self, delivery_for(loop))
        with self._lock:
            ended = self._failure is not None or self._exited
            if not ended:
                self._streams = self._streams + [stream]
        if ended:
            exit_event = self.exit_event()
            if exit_event is not None:
                stream._push(exit_event, True)
            else:
                stream._push(_END)
        return stream

    def _remove_stream(self, stream: "EventStream") -> None:
        with self._lock:
            if stream in self._streams:
                self._streams = [s for s in self._streams if s is not stream]

    def closed(self, what: str) -> None:
        """The handle is closing: wake every waiter with a clear 'closed' error."""
        self.fail(
            HcsClosedError(
                ERROR_INVALID_HANDLE_HRESULT, f"{what} was closed", name="ERROR_INVALID_HANDLE", function="wait",
                system_id=self._system_id, process_id=self._process_id,
            )
        )

    def release(self) -> None:
        """HcsClose* returned, so HCS calls this context no more: forget the registry entry and the listeners -- at
        once, or, where events are received natively, once the events HCS delivered before the close have been
        handed over (``_native_events``)."""
        if self._receiver is not None:
            self._receiver.retire(self)
        else:
            self._forget()

    def _forget(self) -> None:
        _callbacks.events.discard(self.key)
        with self._lock:
            self._callbacks = []
            self._inline = []


class EventStream:
    """``async for event in stream``: the events of one handle, ending after the exit event, a service
    disconnect, or close."""

    # Events are appended on HCS's thread to a deque the loop reads (deque.append/popleft are atomic), and the loop
    # is told at most once per batch (_wake): no asyncio.Queue, whose put and get are several Python calls each and
    # a coroutine per get. A consumer finds an event already there without suspending.

    def __init__(self, hub: EventHub, delivery: LoopDelivery) -> None:
        self._hub = hub
        self._delivery = delivery
        self._items: Deque[Any] = collections.deque()  # events (and _END), appended on any thread
        self._waiter: Optional["asyncio.Future[None]"] = None  # what __anext__ awaits while _items is empty (loop)
        self._wake_pending = False
        self._ended = False

    def _push(self, item: Any, final: bool = False) -> None:  # any thread
        items = self._items
        items.append(item)
        if final:
            items.append(_END)
        # The consumer may be about to wait (it checked _items before this append): always have the loop look,
        # unless a look is already scheduled -- that one runs after this append and sees it.
        if not self._wake_pending:
            self._wake_pending = True
            self._delivery.call(self._wake)

    def _wake(self) -> None:  # on the loop
        self._wake_pending = False  # before looking: a push after this line schedules another look
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> "EventStream":
        return self

    async def __anext__(self) -> Event:
        items = self._items
        while not items:
            if self._ended:
                raise StopAsyncIteration
            waiter = self._waiter = self._delivery.loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        if self._ended:
            raise StopAsyncIteration
        item = items.popleft()
        if item is _END:
            self._ended = True
            self._hub._remove_stream(self)
            raise StopAsyncIteration
        return item  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Stop listening (what ``async with`` does on exit); the stream then ends."""
        self._ended = True
        self._hub._remove_stream(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():  # a consumer waiting in another task ends too
            waiter.set_result(None)

    async def __aenter__(self) -> "EventStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
