"""The errors of pyhcs.testing: the fake cannot be built, a leak was found, the fake HCS service misbehaved."""

from __future__ import annotations

from typing import Dict, Optional, Sequence

__all__ = ["CompilerNotFoundError", "FakeBuildError", "LeakError", "ServiceError"]


class FakeBuildError(RuntimeError):
    """The fake HCS could not be built (or found): the message says why, with the compiler's output if it ran."""

    def __init__(self, message: str, *, command: Optional[Sequence[str]] = None, output: str = "") -> None:
        super().__init__(message)
        #: The compiler command that failed (None when no compiler ran).
        self.command = list(command) if command is not None else None
        #: What the compiler printed.
        self.output = output


class CompilerNotFoundError(FakeBuildError):
    """There is nothing to build the fake with: no C compiler (the message says what to install), or a platform
    where pyhcs.testing does not compile it (Windows: pass prebuilt DLLs with ``PYHCS_FAKE_LIBRARY``)."""


class LeakError(AssertionError):
    """A leak check found HCS handles still open or result strings never ``LocalFree``'d.

    An ``AssertionError``, so pytest reports it as a failed check."""

    def __init__(self, message: str, leaks: Dict[str, int], counters: Dict[str, int]) -> None:
        super().__init__(message)
        #: The counters that are not zero (``OpenSystemHandles``, ...), with their values.
        self.leaks = leaks
        #: Every counter, as read when the check gave up.
        self.counters = counters


class ServiceError(RuntimeError):
    """The fake HCS service refused a request, could not be started, or cannot be reached."""
