"""The native callbacks of HCS, one trampoline per callback type, and the registry of their live contexts.

HCS calls back on its own threads with the ``void *context`` we registered. That context is an integer key into a
registry, never a pointer to a Python object that may be collected (cffi's pitfall: a dangling ``new_handle`` is a
fatal "from_handle() points to garbage"). Each context stays in its registry until its last callback has run.
The trampolines (created once, never freed) never let an exception escape into C: they hand it to the context,
so the waiter sees it instead of hanging. Awaited calls may instead be completed by native code that never enters
Python (``_completions``); their contexts live in the same operations registry.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Dict, Optional, Protocol

from ._ffi import ffi

def in_hcs_callback() -> bool:
    """True on a thread that HCS may be calling back on (closing a handle there could wait for the callback
    itself): any thread Python did not start. HCS calls back on its own threads, which Python knows only as
    "dummy" threads; asking here, when a close is about to run, costs nothing on the callback path (registering
    each callback's thread cost ~0.07 µs per callback). Other foreign threads are counted too, which only means a
    close requested there runs on pyhcs's closer thread."""
    return isinstance(threading.current_thread(), threading._DummyThread)


class OperationContext(Protocol):
    def _on_native_completion(self, operation: Any) -> None: ...

    def _on_native_error(self, exc: BaseException) -> None: ...


class EventContext(Protocol):
    def _on_native_event(self, event_type: int, event_data: Optional[str]) -> None: ...


class Registry:
    """Live callback contexts under integer keys (dict operations are atomic under the GIL).

    The key is kept as the ``void *`` cdata that HCS carries back: cffi pointers hash and compare by address, so
    the trampoline looks up the ``context`` argument it receives as it is, without converting it to an int
    (``int(ffi.cast("uintptr_t", context))`` costs ~0.35 µs per callback)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: Dict[Any, Any] = {}
        self._keys = itertools.count(1)

    def add(self, context: Any) -> Any:
        """Register *context*; returns its key, the ``void *`` to give HCS as the callback context."""
        key = self.new_key()
        self._items[key] = context
        return key

    def new_key(self) -> Any:
        """A key never handed out before (``void *``)."""
        return _cast("void *", next(self._keys))

    def get(self, key: Any) -> Any:
        return self._items.get(key)

    def discard(self, key: Any) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)

    def snapshot(self) -> "list[Any]":
        return list(self._items.values())


operations = Registry("operation completions")
events = Registry("event callbacks")
_operation_items = operations._items
_event_items = events._items

_cast = ffi.cast
_string = ffi.string
_NULL = ffi.NULL


def _report(exc: BaseException) -> None:
    import traceback

    traceback.print_exception(type(exc), exc, exc.__traceback__)


def _on_operation_completion(operation: Any, context: Any) -> None:
    target = None
    try:
        target = _operation_items.get(context)
        if target is not None:
            target._on_native_completion(operation)
    except BaseException as exc:  # noqa: BLE001 - must not unwind into C
        if target is not None:
            target._on_native_error(exc)
        else:
            _report(exc)


def _on_event(event: Any, context: Any) -> None:
    try:
        target = _event_items.get(context)
        if target is not None:
            # EventData is HCS's only for the duration of the callback: copied here, parsed later (Event.data).
            # event.Operation is not read: nothing in pyhcs uses it (a field read costs ~0.08 µs per event).
            data = event.EventData
            target._on_native_event(event.Type, _string(data) if data else None)  # a NULL cdata is false
    except BaseException as exc:  # noqa: BLE001 - must not unwind into C; the context reports its own failures
        _report(exc)


# The cffi callbacks live as long as the module (i.e. the process). HCS is given them through a native gate
# (``_gate``), which interpreter exit closes so that a late callback never enters a finalized interpreter.
_operation_callback = ffi.callback("HCS_OPERATION_COMPLETION", _on_operation_completion)
_event_callback = ffi.callback("HCS_EVENT_CALLBACK", _on_event)
_trampolines_lock = threading.Lock()


def _gated(callback: Any, ctype: str) -> Any:
    from ._gate import gates

    address = gates.wrap(int(_cast("uintptr_t", callback)))
    return callback if address is None else _cast(ctype, address)


def __getattr__(name: str) -> Any:
    """``operation_trampoline`` (HCS_OPERATION_COMPLETION) and ``event_trampoline`` (HCS_EVENT_CALLBACK), the one
    function pointer of each callback type that pyhcs gives HCS; built at first use (module ``__getattr__``, PEP
    562), so ``import pyhcs`` does not pay for the gate, and a plain global afterwards."""
    if name not in ("operation_trampoline", "event_trampoline"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _trampolines_lock:
        value = globals().get(name)
        if value is None:
            if name == "operation_trampoline":
                value = _gated(_operation_callback, "HCS_OPERATION_COMPLETION")
            else:
                value = _gated(_event_callback, "HCS_EVENT_CALLBACK")
            globals()[name] = value
    return value
