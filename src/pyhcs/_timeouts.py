"""The one timeout rule of pyhcs: every ``timeout=`` argument, every ``wait(timeout)``, checked before any HCS call.

A timeout is a number of seconds (``int`` or ``float``, or any real number that is not a ``bool``):

* ``None`` -- no limit: wait as long as HCS takes;
* ``0`` -- do not wait: take the result if it is already there, else time out at once (a started call keeps
  running and pyhcs releases it when HCS finishes it);
* a positive number -- wait at most that long; values beyond what HCS can express (``0xFFFFFFFE`` ms, about 49.7
  days) mean no limit, as ``None`` does.

Rejected with a clear error *before* anything is started, so a bad argument never leaves an operation or a process
behind: ``bool`` and non-numbers (``"5"``) raise ``TypeError``; NaN, negative values and infinity raise
``ValueError`` (an infinite wait is spelled ``None``).
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

#: INFINITE: HcsWaitForOperationResult and friends wait as long as it takes.
INFINITE = 0xFFFFFFFF
#: The longest finite wait a DWORD of milliseconds can hold (INFINITE itself means "no limit").
MAX_FINITE_MS = 0xFFFFFFFE
_MAX_FINITE_SECONDS = MAX_FINITE_MS / 1000.0


def check(timeout: Any, what: str = "timeout") -> Optional[float]:
    """*timeout* validated and normalised: None for "no limit", else seconds as a float (0 allowed)."""
    if timeout is None:
        return None
    cls = type(timeout)
    if cls is not float and cls is not int:  # the common cases skip the slower checks
        if isinstance(timeout, bool) or not _is_real(timeout):
            raise TypeError(f"{what} must be a number of seconds or None, not {cls.__name__} {timeout!r}")
    try:
        seconds = float(timeout)
    except OverflowError:  # an int too large for a float: longer than HCS can wait
        return None
    if seconds != seconds:
        raise ValueError(f"{what} must be a number of seconds or None, not NaN")
    if seconds < 0:
        raise ValueError(f"{what} must be >= 0 seconds (or None for no limit), not {timeout!r}")
    if seconds == math.inf:
        raise ValueError(f"{what} must be finite; use None to wait without a limit")
    if seconds > _MAX_FINITE_SECONDS:
        return None
    return seconds + 0.0  # -0.0 is 0


def _is_real(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Real)


def to_ms(seconds: Optional[float]) -> int:
    """HCS's DWORD milliseconds for a value returned by :func:`check` (None: INFINITE). Rounds up, so a small
    positive timeout never becomes "do not wait"."""
    if seconds is None:
        return INFINITE
    ms = math.ceil(seconds * 1000.0)
    return ms if ms <= MAX_FINITE_MS else INFINITE


class Deadline:
    """One timeout spread over several steps (create, write input, read output, wait for the exit): each step gets
    what is left, so the whole call ends on time, as ``subprocess.run(timeout=...)`` does."""

    __slots__ = ("timeout", "_end")

    def __init__(self, timeout: Optional[float]) -> None:
        self.timeout = timeout
        self._end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> Optional[float]:
        """Seconds left (never negative), or None without a limit."""
        if self._end is None:
            return None
        return max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return self._end is not None and time.monotonic() >= self._end
