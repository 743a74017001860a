"""Logging of HCS calls and events at DEBUG, through the standard ``logging`` module (logger ``"pyhcs"``).

Each record says which HCS function ran, on which system/process, how it ended (HRESULT and its name) and how long
it took, e.g. ``HcsStartComputeSystem system='web' -> S_OK in 12.301 ms``; the same facts are attached as record
attributes (``hcs_function``, ``hcs_system_id``, ``hcs_process_id``, ``hcs_hresult``, ``hcs_duration``) for
structured handlers. Turn it on with ``logging.getLogger("pyhcs").setLevel(logging.DEBUG)`` (plus a handler).

Cost when DEBUG is off: one call to ``enabled()`` per HCS call -- an attribute and a dict lookup in the logger's
own level cache (~0.07 µs), no clock read, no formatting. ``import pyhcs`` does not import ``logging``: while the
program has not imported it, nothing can be enabled and ``enabled()`` is one ``sys.modules`` lookup.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Optional

DEBUG = 10
_logger: Any = None
_is_enabled_for: Any = None  # the pyhcs logger's bound isEnabledFor, once logging is imported
# The pyhcs logger's level cache (Logger._cache, CPython 3.7+): what isEnabledFor answers from once it has asked.
# Read directly, it saves a Python-level call per HCS call; logging clears it (never replaces it) whenever a level
# changes, and then isEnabledFor fills it again. An empty dict that is never filled where the attribute is missing.
_level_cache: "dict[int, bool]" = {}
now = time.perf_counter


def enabled() -> bool:
    """Whether HCS calls are logged now (the ``pyhcs`` logger is enabled for DEBUG)."""
    cached = _level_cache.get(DEBUG)
    if cached is False:  # the common answer, from the logger's own cache
        return False
    logger = _logger
    if logger is None:
        logging = sys.modules.get("logging")
        if logging is None:
            return False
        _bind(logging)
        logger = _logger
    return not logger.disabled and bool(_is_enabled_for(DEBUG))


def _bind(logging: Any) -> Any:
    global _logger, _is_enabled_for, _level_cache
    logger = logging.getLogger("pyhcs")
    _is_enabled_for = logger.isEnabledFor
    cache = getattr(logger, "_cache", None)
    _level_cache = cache if isinstance(cache, dict) else {}
    _logger = logger
    return _is_enabled_for


def _hresult_text(hresult: int) -> str:
    from .errors import hresult_name

    value = hresult & 0xFFFFFFFF
    name = "S_OK" if value == 0 else hresult_name(value)
    return f"{name} (0x{value:08X})" if name else f"0x{value:08X}"


def call(function: str, hresult: int, started: Optional[float], system_id: Optional[str] = None,
         process_id: Optional[int] = None, detail: str = "") -> None:
    """Log one finished HCS call (only call it when ``enabled()`` said so when the call started)."""
    logger = _logger
    if logger is None:
        return
    duration = None if started is None else now() - started
    ids = "".join(
        part for part in (f" system={system_id!r}" if system_id is not None else "",
                          f" process={process_id}" if process_id is not None else "")
    )
    took = "" if duration is None else f" in {duration * 1000:.3f} ms"
    logger.debug(
        "%s%s -> %s%s%s", function, ids, _hresult_text(hresult), took, f" ({detail})" if detail else "",
        extra={"hcs_function": function, "hcs_system_id": system_id, "hcs_process_id": process_id,
               "hcs_hresult": hresult & 0xFFFFFFFF, "hcs_duration": duration},
    )


def timed(function: str, fn: Any, *args: Any, system_id: Optional[str] = None,
          process_id: Optional[int] = None) -> int:
    """``fn(*args)`` -- an HCS function that returns its HRESULT directly (no operation) -- logged when enabled."""
    if not enabled():
        return int(fn(*args))
    started = now()
    hr = int(fn(*args))
    call(function, hr, started, system_id, process_id)
    return hr


def event(kind: str, system_id: Optional[str], process_id: Optional[int], raw: Optional[str]) -> None:
    """Log one event HCS delivered to a handle."""
    logger = _logger
    if logger is None:
        return
    ids = f" system={system_id!r}" + (f" process={process_id}" if process_id is not None else "")
    text = raw if raw is None or len(raw) <= 300 else raw[:300] + "..."
    logger.debug("event %s%s: %s", kind, ids, text,
                 extra={"hcs_event": kind, "hcs_system_id": system_id, "hcs_process_id": process_id})
