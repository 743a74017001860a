"""The native callbacks of HCS, one trampoline per callback type, and the registry of their live contexts.

HCS calls back on its own threads with the ``void *context`` we registered. That context is an integer key into a
registry, never a pointer to a Python object that may be collected (cffi's pitfall: a dangling ``new_handle`` is a
fatal "from_handle() points to garbage"). Each context stays in its registry until its last callback has run.
The trampolines (created once, never freed) never let an exception escape into C: they hand it to the context,
so the waiter sees it instead of hanging.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Dict, Optional, Protocol

from ._ffi import ffi

# Threads HCS has called us on. They are HCS's own (a pool serving callbacks), never threads that run user code,
# so "am I on one of them" is "am I inside an HCS callback" -- a set lookup instead of a thread-local counter on
# every callback.
_hcs_threads: "set[int]" = set()
_get_ident = threading.get_ident


def in_hcs_callback() -> bool:
    """True on a thread that HCS calls back on (closing a handle there could wait for the callback itself)."""
    return _get_ident() in _hcs_threads


class OperationContext(Protocol):
    def _on_native_completion(self, operation: Any) -> None: ...

    def _on_native_error(self, exc: BaseException) -> None: ...


class EventContext(Protocol):
    def _on_native_event(self, event_type: int, event_data: Optional[str], operation: Any) -> None: ...


class Registry:
    """Integer keys for live callback contexts (dict operations are atomic under the GIL)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: Dict[int, Any] = {}
        self._keys = itertools.count(1)

    def add(self, context: Any) -> int:
        key = next(self._keys)
        self._items[key] = context
        return key

    def get(self, key: int) -> Any:
        return self._items.get(key)

    def discard(self, key: int) -> None:
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
    _hcs_threads.add(_get_ident())
    target = None
    try:
        target = _operation_items.get(int(_cast("uintptr_t", context)))
        if target is not None:
            target._on_native_completion(operation)
    except BaseException as exc:  # noqa: BLE001 - must not unwind into C
        if target is not None:
            target._on_native_error(exc)
        else:
            _report(exc)


def _on_event(event: Any, context: Any) -> None:
    _hcs_threads.add(_get_ident())
    try:
        target = _event_items.get(int(_cast("uintptr_t", context)))
        if target is not None:
            data = event.EventData
            target._on_native_event(event.Type, None if data == _NULL else _string(data), event.Operation)
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


def context_pointer(key: int) -> Any:
    """The ``void *`` that carries *key* through HCS."""
    return _cast("void *", key)
