"""What every check returns: allowed or not, which rule decided, in words, and where the rule comes from.

Each rule is a :class:`Rule` member; :data:`RULE_SOURCES` names the document or code each one is taken from, so a
report can cite it (``verdict.source``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

__all__ = ["Rule", "RULE_SOURCES", "Verdict", "PodSupport", "PodVerdict"]

_VERSION_COMPAT = "MicrosoftDocs virtualization/windowscontainers/deploy-containers/version-compatibility.md"
_CONTAINERD_MD = "MicrosoftDocs virtualization/windowscontainers/deploy-containers/containerd.md (containerd/cri matrix)"
_HCSSHIM_COMPAT = "hcsshim osversion/platform_compat_windows.go CheckHostAndContainerCompat"


class Rule(str, enum.Enum):
    """The rules :mod:`pyhcs.compat` applies; the value is a stable id for logs and reports."""

    CONTAINERS_NEED_RS1 = "containers-need-14393"
    WINDOWS10_HYPERV_ONLY = "windows10-hyperv-only"
    PROCESS_SAME_MAJOR_MINOR = "process-same-major-minor"
    PROCESS_SAME_BUILD = "process-same-build-below-20348"
    PROCESS_STABLE_ABI = "process-stable-abi-range"
    HYPERV_OLDER_ON_NEWER = "hyperv-older-on-newer"
    SCHEMA_V1 = "schema-1.0-everywhere"
    SCHEMA_V2_NEEDS_RS5 = "schema-2-needs-17763"
    SCHEMA_VERSION_MAP = "schema-version-map"
    SCHEMA_UNKNOWN = "schema-unknown"
    PODS_NEED_RS5 = "pods-need-17763"
    POD_LINUX_HYPERV = "pod-linux-needs-hyperv"
    POD_HYPERV = "pod-hyperv"
    POD_HYPERV_PARTIAL = "pod-hyperv-partial"
    POD_PROCESS = "pod-process"
    POD_WORKLOAD_MATCHES_UVM = "pod-workload-matches-utility-vm"

    def __str__(self) -> str:
        return self.value

    @property
    def source(self) -> str:
        return RULE_SOURCES[self]


RULE_SOURCES: Dict[Rule, str] = {
    Rule.CONTAINERS_NEED_RS1: _VERSION_COMPAT + " (Windows Server 2016 / Windows 10 1607 were the first)",
    Rule.WINDOWS10_HYPERV_ONLY: _VERSION_COMPAT + " (Windows 10 host table); " + _CONTAINERD_MD + " footnote",
    Rule.PROCESS_SAME_MAJOR_MINOR: _HCSSHIM_COMPAT,
    Rule.PROCESS_SAME_BUILD: _HCSSHIM_COMPAT + "; " + _VERSION_COMPAT,
    Rule.PROCESS_STABLE_ABI: _HCSSHIM_COMPAT + " (compatLTSCReleases 20348, 26100); " + _VERSION_COMPAT,
    Rule.HYPERV_OLDER_ON_NEWER: _VERSION_COMPAT + " (host OS compatibility tables)",
    Rule.SCHEMA_V1: "hcsshim internal/schemaversion IsSupported (1.0 is always supported)",
    Rule.SCHEMA_V2_NEEDS_RS5: "hcsshim internal/schemaversion DetermineSchemaVersion / IsSupported",
    Rule.SCHEMA_VERSION_MAP: "MicrosoftDocs virtualization/api/hcs/SchemaReference.md (Schema Version Map)",
    Rule.SCHEMA_UNKNOWN: "MicrosoftDocs virtualization/api/hcs/SchemaReference.md (Schema Version Map)",
    Rule.PODS_NEED_RS5: "hcsshim cmd/containerd-shim-runhcs-v1/service_internal.go createPod; " + _CONTAINERD_MD,
    Rule.POD_LINUX_HYPERV: _CONTAINERD_MD,
    Rule.POD_HYPERV: _CONTAINERD_MD,
    Rule.POD_HYPERV_PARTIAL: _CONTAINERD_MD,
    Rule.POD_PROCESS: _CONTAINERD_MD + "; " + _HCSSHIM_COMPAT,
    Rule.POD_WORKLOAD_MATCHES_UVM: _CONTAINERD_MD + "; hcsshim internal/uvm/create.go (HostedSystem in the UVM)",
}
"""Where each :class:`Rule` comes from: the Microsoft document or hcsshim source that states it."""


@dataclass(frozen=True)
class Verdict:
    """The answer of a check. True when allowed; :attr:`reason` says why in one sentence with both versions."""

    allowed: bool
    rule: Rule
    reason: str
    notes: Tuple[str, ...] = ()
    """Caveats that do not refuse (e.g. the Windows Server 2016 revision rule, Windows 11's preview status)."""

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def source(self) -> str:
        """Where :attr:`rule` comes from (a Microsoft document or hcsshim source file)."""
        return self.rule.source

    def __str__(self) -> str:
        return self.reason


class PodSupport(str, enum.Enum):
    """The seed's "Pod Support?" column: Yes, Partial, or (outside the table) no."""

    SUPPORTED = "supported"
    PARTIAL = "partial"
    UNSUPPORTED = "unsupported"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class PodVerdict(Verdict):
    """A :class:`Verdict` for a pod: :attr:`support` level and, for partial pods, :attr:`max_workloads` (1)."""

    support: PodSupport = PodSupport.UNSUPPORTED
    max_workloads: Optional[int] = None
    """How many workload containers the pod can hold (``None``: no limit from these rules)."""

    def __post_init__(self) -> None:
        if self.allowed != (self.support is not PodSupport.UNSUPPORTED):
            raise ValueError("PodVerdict.allowed must be False exactly when support is UNSUPPORTED")
