"""The errors of :mod:`pyhcs.compat`: one root, a ValueError for every bad input or refused combination.

Every refusal carries the :class:`~pyhcs.compat.verdict.Verdict` that explains it, so code that catches the error
can still report the rule, its source and both versions. The same verdicts are available without exceptions
(``*_verdict`` functions) for tools that only want to report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .verdict import Verdict

__all__ = [
    "CompatError",
    "InvalidVersionError",
    "InvalidImageConfigError",
    "HostVersionUnavailableError",
    "IncompatibleError",
    "IsolationError",
    "SchemaVersionError",
    "PodSupportError",
]


class CompatError(Exception):
    """Root of every error raised by :mod:`pyhcs.compat`."""


class InvalidVersionError(CompatError, ValueError):
    """Text or a value that is not a Windows version (``major.minor.build[.revision]``), isolation or SKU."""


class InvalidImageConfigError(CompatError, ValueError):
    """An OCI image config (or index platform) that is not a JSON object or whose ``os`` fields are unusable."""


class HostVersionUnavailableError(CompatError, OSError):
    """The host's version cannot be known: not Windows and ``PYHCS_HOST_OS_VERSION`` unset, or Windows refused
    to tell (RtlGetVersion failed)."""


class IncompatibleError(CompatError, ValueError):
    """A refused combination. ``str()`` states the rule and both versions; :attr:`verdict` has the details."""

    verdict: "Verdict"

    def __init__(self, verdict: "Verdict") -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


class IsolationError(IncompatibleError):
    """An image that cannot run on a host with the requested isolation (process or Hyper-V).

    HCS itself fails the create with 0xC0370101, "The operating system of the container does not match the
    operating system of the host"; this error says which rule and what to do before HCS is called."""


class SchemaVersionError(IncompatibleError):
    """A schema version the host's build does not accept (SchemaReference.md's version map, hcsshim's
    internal/schemaversion)."""


class PodSupportError(IncompatibleError):
    """A pod (or a workload in a pod) that containerd/cri and hcsshim do not support on this host."""
