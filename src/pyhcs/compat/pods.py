"""The containerd/cri pod matrix: may a host run a pod of this container OS with this isolation?

The seed's table (MicrosoftDocs deploy-containers/containerd.md, 2018-2023 text, reproduced in docs/compat.md)
covers Windows Server 2019/1809 and Windows 10 1809 hosts. :func:`pod_support` answers every cell of it and
extends it to every host the same way hcsshim builds pods:

- no pods below build 17763 (the shim's ``createPod``: "pod support is not available on Windows versions previous
  to RS5 (17763)");
- Linux containers need Hyper-V isolation (a Linux utility VM, LCOW): true multi-container pods;
- a Hyper-V Windows pod boots one utility VM from the sandbox image and creates every workload inside it as a
  ``HostedSystem``, so the image must run Hyper-V isolated on the host (older-on-newer) and each workload's OS must
  match the utility VM's (:func:`pod_workload_verdict`). A utility VM older than 17763 (Windows Server 2016, 1709,
  1803 images) gives the seed's "Partial" pod: a single process-isolated container per utility VM;
- a process-isolated pod is one container compute system per workload sharing a network namespace: each image
  must run process-isolated on the host (:func:`~pyhcs.compat.isolation_verdict`: Windows 10 clients refuse, the
  rest is hcsshim's ``CheckHostAndContainerCompat``).
"""

from __future__ import annotations

from typing import Union

from typing_extensions import Literal

from .errors import PodSupportError
from .host import HostLike, as_host
from .isolation import Isolation, IsolationLike, as_isolation, isolation_verdict, process_isolation_builds
from .releases import RS5
from .verdict import PodSupport, PodVerdict, Rule, Verdict
from .version import OSVersion, VersionLike, as_version

__all__ = [
    "LINUX",
    "ContainerOS",
    "ContainerOSLike",
    "as_container_os",
    "pod_support",
    "check_pod_support",
    "pod_workload_verdict",
    "check_pod_workload",
]

LINUX: Literal["linux"] = "linux"
"""The container OS of Linux containers (LCOW), as OCI's ``os`` field spells it."""

ContainerOS = Union[OSVersion, Literal["linux"]]
"""An :class:`OSVersion` (a Windows container image) or :data:`LINUX`."""
ContainerOSLike = VersionLike
"""A :data:`~pyhcs.compat.VersionLike` or ``"linux"`` (any case)."""


def as_container_os(value: ContainerOSLike) -> ContainerOS:
    """``"linux"`` → :data:`LINUX`; anything else → :func:`~pyhcs.compat.as_version`."""
    if isinstance(value, str) and value.strip().lower() == LINUX:
        return LINUX
    return as_version(value)


def _os_text(value: ContainerOS) -> str:
    return "Linux" if isinstance(value, str) else str(value.build)


def pod_support(host: HostLike, container_os: ContainerOSLike, isolation: IsolationLike) -> PodVerdict:
    """The pod matrix cell for (*host*, *container_os*, *isolation*): supported, partial or unsupported, why."""
    h, os_, iso = as_host(host), as_container_os(container_os), as_isolation(isolation)
    hb = h.describe()
    if h.version.build_tuple < (10, 0, RS5):
        return PodVerdict(False, Rule.PODS_NEED_RS5,
                          f"pod support is not available on Windows versions previous to RS5 ({RS5}): host {hb}")
    if isinstance(os_, str):
        if iso is Isolation.HYPERV:
            return PodVerdict(True, Rule.POD_LINUX_HYPERV,
                              f"Linux containers with Hyper-V isolation: true multi-container pods in one Linux "
                              f"utility VM: host {hb}", support=PodSupport.SUPPORTED)
        return PodVerdict(False, Rule.POD_LINUX_HYPERV,
                          f"Linux containers need Hyper-V isolation (a Linux utility VM): host {hb}, container OS "
                          f"Linux, isolation process — use hyperv")
    verdict = isolation_verdict(h, os_, iso)
    if not verdict.allowed:
        return PodVerdict(False, verdict.rule, verdict.reason)
    if iso is Isolation.HYPERV and os_.build_tuple < (10, 0, RS5):
        return PodVerdict(True, Rule.POD_HYPERV_PARTIAL,
                          f"partial: a pod sandbox holding a single process-isolated container per utility VM, whose "
                          f"OS must match the utility VM's: host {hb}, utility VM {os_.build} (before {RS5})",
                          support=PodSupport.PARTIAL, max_workloads=1)
    if iso is Isolation.HYPERV:
        return PodVerdict(True, Rule.POD_HYPERV,
                          f"true multi-container pods if each workload container OS matches the utility VM's: host "
                          f"{hb}, utility VM {os_.build}", support=PodSupport.SUPPORTED)
    low, high = process_isolation_builds(h.version)
    span = str(low) if low == high else f"{low} to {high}"
    return PodVerdict(True, Rule.POD_PROCESS,
                      f"true multi-container pods (one process-isolated container per workload, sharing the pod's "
                      f"network namespace) if each workload container runs process-isolated on the host: host {hb} "
                      f"runs images of build {span}, sandbox image {os_.build}",
                      verdict.notes, support=PodSupport.SUPPORTED)


def check_pod_support(host: HostLike, container_os: ContainerOSLike, isolation: IsolationLike) -> PodVerdict:
    """:func:`pod_support`, raising :class:`PodSupportError` when the pod is unsupported (partial pods pass: see
    ``max_workloads``)."""
    verdict = pod_support(host, container_os, isolation)
    if not verdict.allowed:
        raise PodSupportError(verdict)
    return verdict


def pod_workload_verdict(host: HostLike, sandbox_os: ContainerOSLike, workload_os: ContainerOSLike,
                         isolation: IsolationLike) -> Verdict:
    """May a workload container of *workload_os* join a pod whose sandbox (utility VM) image is *sandbox_os*?

    Hyper-V pods: the workload runs inside the utility VM, so its major.minor.build must equal the sandbox's.
    Process pods: the workload must run process-isolated on the host. Linux pods take Linux workloads only."""
    h, sandbox, workload, iso = (as_host(host), as_container_os(sandbox_os), as_container_os(workload_os),
                                 as_isolation(isolation))
    if isinstance(sandbox, str) or isinstance(workload, str):
        if isinstance(sandbox, str) and isinstance(workload, str):
            if iso is Isolation.PROCESS:
                return Verdict(False, Rule.POD_LINUX_HYPERV,
                               f"Linux containers need Hyper-V isolation (a Linux utility VM): host {h.describe()}, "
                               f"workload Linux, isolation process — use hyperv")
            return Verdict(True, Rule.POD_WORKLOAD_MATCHES_UVM, "a Linux workload in a Linux pod's utility VM")
        return Verdict(False, Rule.POD_WORKLOAD_MATCHES_UVM,
                       f"a pod's containers share one OS: pod {_os_text(sandbox)}, workload {_os_text(workload)} — "
                       f"put this workload in a pod of its own")
    if iso is Isolation.PROCESS:
        return isolation_verdict(h, workload, Isolation.PROCESS)
    if workload.same_build(sandbox):
        return Verdict(True, Rule.POD_WORKLOAD_MATCHES_UVM,
                       f"the workload's build {workload.build} matches the utility VM's {sandbox.build}")
    return Verdict(False, Rule.POD_WORKLOAD_MATCHES_UVM,
                   f"a Hyper-V pod runs every workload inside its utility VM, so the workload's OS must match the "
                   f"utility VM's: utility VM {sandbox.build}, workload {workload.build} — use a {sandbox.build} image "
                   f"for this workload, or a pod of its own")


def check_pod_workload(host: HostLike, sandbox_os: ContainerOSLike, workload_os: ContainerOSLike,
                       isolation: IsolationLike) -> Verdict:
    """:func:`pod_workload_verdict`, raising :class:`PodSupportError` when refused."""
    verdict = pod_workload_verdict(host, sandbox_os, workload_os, isolation)
    if not verdict.allowed:
        raise PodSupportError(verdict)
    return verdict
