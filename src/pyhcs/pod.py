"""pyhcs.pod: pods of Windows containers, as hcsshim's containerd shim builds them.

A pod is a sandbox holding several workload containers. Its shape depends on the isolation
(cmd/containerd-shim-runhcs-v1 pod.go, internal/uvm, internal/hcsoci):

* :class:`HypervPod` -- Hyper-V isolation: one utility VM, the compute system ``<pod>@vm`` booted from the sandbox
  image's ``UtilityVM`` folder (hcsshim ``internal/uvm/create_wcow.go``), and every workload a ``HostedSystem``
  created inside it (``HostingSystemId``, ``internal/uvm/create.go CreateContainer``). Workload layers reach the
  guest as VSMB shares, the workload's scratch disk over SCSI, combined in the guest (``internal/layers``).
  Tearing down ends the workloads, then the VM.
* :class:`ProcessPod` -- process isolation: each workload is a container compute system of its own on the host;
  "the same pod" means the same network namespace (``Container.Networking.Namespace``).

Before HCS is asked, every pod and workload is checked with :mod:`pyhcs.compat` (the containerd/cri pod matrix,
the isolation rules), so a Windows update or an image retag fails with the rule and both versions
(:class:`~pyhcs.compat.PodSupportError`, :class:`~pyhcs.compat.IsolationError`) instead of HCS's bare 0xC0370101.
An image's OS version comes from the ``os_version`` argument (a version, or the image's OCI config), else from its
layers: a layer folder may declare it in ``image-config.json`` (:data:`IMAGE_CONFIG_FILE`; the fake HCS reads the
same file). When an image's version is unknown the checks that need it are skipped and HCS decides. The host's is
:func:`pyhcs.compat.host_os` (off Windows: ``PYHCS_HOST_OS_VERSION``, without which checking pods is refused).

Everything is available synchronously and for asyncio (``*_async``, ``async with``). See docs/pods.md.
"""

from __future__ import annotations

import abc
import math
import os
import re
import shutil
import time
import uuid
from typing import TYPE_CHECKING, Any, Awaitable, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union, cast

import pyhcs
from pyhcs import compat
from pyhcs.compat import Isolation, OSVersion, PodSupportError, PodVerdict, Rule
from pyhcs.oci import layer_id
from pyhcs.service import grant_vm_access

if TYPE_CHECKING:
    from pyhcs.schema import ComputeSystem as ComputeSystemDocument
    from pyhcs.schema import Container, GuestConnectionInfo, ModifySettingRequest

__all__ = [
    "UTILITY_VM_SUFFIX",
    "IMAGE_CONFIG_FILE",
    "VSMB_GUEST_PREFIX",
    "SCSI_CONTROLLER",
    "OsVersionArg",
    "utility_vm_id",
    "declared_os_version",
    "find_utility_vm_folder",
    "utility_vm_document",
    "PodError",
    "PodConfigurationError",
    "Pod",
    "HypervPod",
    "ProcessPod",
]

UTILITY_VM_SUFFIX = "@vm"
"""A pod's utility VM is the compute system ``<pod id>@vm`` (hcsshim containerd-shim-runhcs-v1 pod.go, runhcs vm.go)."""

IMAGE_CONFIG_FILE = "image-config.json"
"""The file in a layer folder that declares its image's OS: the image's OCI config, or just its platform fields
(``{"os": "windows", "os.version": "10.0.17763.6054"}``), read by :func:`pyhcs.compat.image_os_version`. A pyhcs
convention (HCS reads the base layer itself); the fake HCS reads it to decide 0xC0370101."""

VSMB_GUEST_PREFIX = "\\\\?\\VMSMB\\VSMB-{dcc079ae-60ba-4d07-847c-3493609c0870}\\"
"""How the guest of a Windows utility VM names a VSMB share (hcsshim internal/uvm/vsmb.go vsmbSharePrefix)."""

SCSI_CONTROLLER = "df6d0690-79e5-55b6-a5ec-c1e2f77f580a"
"""The utility VM's SCSI controller 0 (hcsshim internal/protocol/guestrequest ScsiControllerGuids[0]); LUN 0 holds
the VM's own scratch disk."""

_SCSI_MOUNT_FORMAT = "c:\\mounts\\scsi\\m{}"  # hcsshim internal/guestpath WCOWGlobalScsiMountPrefixFmt
_BOOT_FILE = "\\EFI\\Microsoft\\Boot\\bootmgfw.efi"  # hcsshim wclayer.BootDirRelativePath + bootmgfw.efi
_SCRATCH_TEMPLATE = "SystemTemplate.vhdx"  # hcsshim wclayer.UtilityVMScratchVhd
_HV_SOCKET_SDDL = "D:P(A;;FA;;;SY)(A;;FA;;;BA)"  # administrators and SYSTEM bind hvsockets (create_wcow.go)
_LUNS_PER_CONTROLLER = 64  # fixed by Hyper-V (hcsshim internal/uvm/start.go)
_SCHEMA = {"Major": 2, "Minor": 1}  # hcsshim schemaversion.SchemaV21 for the VM and its hosted systems
_TWICE = "give the workload's {} either as {}= or in {}, not both"
_GUID = re.compile(r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?")

OsVersionArg = Union[compat.VersionLike, Mapping[str, Any], None]
"""An image's OS version: an :class:`~pyhcs.compat.OSVersion`, its text, a build number, the image's OCI config
(or platform object), or ``None`` to read the layers' :data:`IMAGE_CONFIG_FILE`."""


class PodError(Exception):
    """Root of the errors :mod:`pyhcs.pod` raises itself (version refusals are :mod:`pyhcs.compat`'s)."""


class PodConfigurationError(PodError, ValueError):
    """Arguments that cannot make a pod or workload: no utility VM image in the layers, a workload id already in
    the pod, storage or networking given twice. Raised before anything reaches HCS."""


def utility_vm_id(pod_id: str) -> str:
    """``"<pod id>@vm"``: the compute system id of a pod's utility VM."""
    return pod_id + UTILITY_VM_SUFFIX


# ---------------------------------------------------------------------------------------------------------------
# images and documents (pure)


def declared_os_version(layers: Sequence[str]) -> Optional[OSVersion]:
    """The OS version the layer folders declare (topmost first, base last; the declaration nearest the base wins),
    or None. Each declaration is an :data:`IMAGE_CONFIG_FILE`; a malformed one raises
    :class:`~pyhcs.compat.InvalidImageConfigError` or :class:`~pyhcs.compat.InvalidVersionError`."""
    for folder in reversed(list(layers)):
        path = os.path.join(folder, IMAGE_CONFIG_FILE)
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError:
            continue
        try:
            version = compat.image_os_version(text)
        except compat.CompatError as error:
            raise type(error)(f"{path}: {error}") from None
        if version is not None:
            return version
    return None


def _image_version(os_version: OsVersionArg, layers: Sequence[str]) -> Optional[OSVersion]:
    if os_version is None:
        return declared_os_version(layers)
    if isinstance(os_version, Mapping):
        version = compat.image_os_version(os_version)
        if version is None:
            raise PodConfigurationError("the image config given as os_version names no Windows os.version")
        return version
    return compat.as_version(os_version)


def find_utility_vm_folder(layers: Sequence[str]) -> str:
    """The uppermost layer folder holding a ``UtilityVM`` folder (hcsshim internal/uvmfolder LocateUVMFolder):
    the utility VM boots from its ``UtilityVM\\Files``. PodConfigurationError when no layer has one."""
    for folder in layers:
        if os.path.isdir(os.path.join(folder, "UtilityVM")):
            return folder
    raise PodConfigurationError(f"no layer holds a UtilityVM folder (the utility VM image of a Windows base layer): "
                                f"{list(layers)!r}")


def utility_vm_document(
    os_files_path: str,
    *,
    owner: str = "pyhcs",
    memory_mb: int = 1024,
    processor_count: int = 2,
    scratch: Optional[str] = None,
) -> "ComputeSystemDocument":
    """The ComputeSystem document of a Windows utility VM, as hcsshim's ``prepareConfigDoc`` writes it
    (internal/uvm/create_wcow.go): schema 2.1, terminated when its last handle closes, booting
    ``\\EFI\\Microsoft\\Boot\\bootmgfw.efi`` from the VSMB share ``os`` (*os_files_path*, a base layer's
    ``UtilityVM\\Files``), hvsockets bindable by administrators and SYSTEM, and *scratch* (the VM's scratch VHDX)
    at SCSI 0:0. *memory_mb* is rounded up to an even number (hcsshim NormalizeMemorySize: 2 MB alignment)."""
    for name, value in (("memory_mb", memory_mb), ("processor_count", processor_count)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{name} must be positive, not {value}")
    devices: Dict[str, Any] = {
        "HvSocket": {"HvSocketConfig": {"DefaultBindSecurityDescriptor": _HV_SOCKET_SDDL}},
        "VirtualSmb": {
            "DirectFileMappingInMB": 1024,
            "Shares": [{"Name": "os", "Path": os_files_path, "Options": _vsmb_options()}],
        },
    }
    if scratch is not None:
        devices["Scsi"] = {SCSI_CONTROLLER: {"Attachments": {"0": {"Path": scratch, "Type": "VirtualDisk"}}}}
    document = {
        "Owner": owner,
        "SchemaVersion": dict(_SCHEMA),
        "ShouldTerminateOnLastHandleClosed": True,
        "VirtualMachine": {
            "StopOnReset": True,
            "Chipset": {"Uefi": {"BootThis": {"DevicePath": _BOOT_FILE, "DeviceType": "VmbFs"}}},
            "ComputeTopology": {
                # hcsshim's defaults: overcommitted (virtual) memory with hot hints, no deferred commit.
                "Memory": {"SizeInMB": (memory_mb + 1) & ~1, "AllowOvercommit": True, "EnableHotHint": True,
                           "EnableDeferredCommit": False},
                "Processor": {"Count": processor_count},
            },
            "Devices": devices,
        },
    }
    return cast("ComputeSystemDocument", document)


def _vsmb_options() -> Dict[str, bool]:
    # hcsshim DefaultVSMBOptions(readOnly=true) + TakeBackupPrivilege, for the boot share and every layer share.
    return {"ReadOnly": True, "ShareRead": True, "CacheIo": True, "PseudoOplocks": True, "TakeBackupPrivilege": True}


def _default_processor_count() -> int:
    # hcsshim vmutils.DefaultProcessorCountForUVM: 2, or 1 on a single-processor host.
    return 1 if (os.cpu_count() or 1) == 1 else 2


def _host_processor_count() -> Optional[int]:
    """The host's logical processors as HCS reports them (hcsshim NormalizeProcessorCount asks HCS, not the OS)."""
    try:
        props = pyhcs.get_service_properties(["ProcessorTopology"])
    except pyhcs.HcsError:
        return None
    for entry in props.get("Properties", []) or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("LogicalProcessorCount"), int):
            return int(entry["LogicalProcessorCount"])
    return None


def _container_document(container: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    if container is None:
        return {}
    if not isinstance(container, Mapping):
        raise TypeError(f"container must be a Container document (a mapping), not {type(container).__name__}")
    return {key: (dict(value) if isinstance(value, Mapping) else value) for key, value in container.items()}


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not value or "\x00" in value:
        raise PodConfigurationError(f"{what} must be a non-empty string without NUL characters, not {value!r}")
    return value


def _check_layers(layers: Sequence[str], what: str) -> List[str]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"{what} is a sequence of layer folders (topmost first), not {type(layers).__name__}")
    for folder in layers:
        if not isinstance(folder, str) or not folder:
            raise TypeError(f"{what} holds layer folder paths (non-empty str), not {folder!r}")
    return list(layers)


class _Deadline:
    """One timeout for a whole pod call: what is left of it goes to each HCS call (rule: docs/guide.md
    "Timeouts": None waits as long as HCS takes, 0 does not wait, bool/NaN/negative/infinite are refused)."""

    def __init__(self, timeout: Optional[float]) -> None:
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
            if timeout != timeout or timeout < 0 or timeout == math.inf:
                raise ValueError(f"timeout must be a finite number of seconds >= 0 (or None), not {timeout!r}")
        self._end = None if timeout is None else time.monotonic() + float(timeout)

    def left(self) -> Optional[float]:
        return None if self._end is None else max(0.0, self._end - time.monotonic())


# ---------------------------------------------------------------------------------------------------------------
# the steps that prepare a workload's storage in a utility VM (each with its undo)

_Request = Dict[str, Any]
_SHARES_PATH = "VirtualMachine/Devices/VirtualSmb/Shares"


class _Step:
    """One HcsModifyComputeSystem on the utility VM (or a grant of VM access to a file) and the request that undoes
    it."""

    def __init__(self, do: Optional[_Request], undo: Optional[_Request], grant: Optional[str] = None) -> None:
        self.do, self.undo, self.grant = do, undo, grant


class _Storage:
    """A Hyper-V workload's storage in its pod's VM (internal/layers mountHypervIsolatedWCIFSLayers): VSMB shares of
    its read-only layers -- one share per host folder, shared between the workloads of a pod and removed with its
    last user, as hcsshim counts references -- the scratch disk's SCSI LUN and guest mount, the combined layers."""

    def __init__(self) -> None:
        self.steps: List[_Step] = []        # in order: new shares, then grant, SCSI, mount, combined layers
        self.layers: List[Dict[str, str]] = []
        self.share_names: List[str] = []    # the shares it uses (one reference each)
        self.new_shares: Dict[str, str] = {}  # share name -> host folder, for the shares it adds
        self.root: Optional[str] = None
        self.lun: Optional[int] = None


class Pod(abc.ABC):
    """What both pod kinds share: the id, the host and sandbox versions they were checked against, and the
    workloads (by id), which the pod owns: their handles close with the pod.

    Leaving a ``with`` / ``async with`` block tears the pod down: every workload is terminated and closed (the last
    added first), then the pod's own resources go. Use a pod from one thread or one event loop: its bookkeeping is
    not locked."""

    isolation: Isolation
    """``Isolation.HYPERV`` or ``Isolation.PROCESS``."""

    def __init__(self, pod_id: str, host: Optional[compat.Host], os_version: Optional[OSVersion],
                 support: Optional[PodVerdict], owner: str, check: bool) -> None:
        self.id = pod_id
        #: The host the versions are checked against (None only with ``check`` off when it cannot be known).
        self.host = host
        #: The sandbox image's OS version (the utility VM's, for a Hyper-V pod); None when unknown.
        self.os_version = os_version
        #: The pod matrix's verdict for this pod (None when the versions needed for it are unknown).
        self.support = support
        #: ``Owner`` of the compute systems the pod creates.
        self.owner = owner
        #: Whether versions are checked with pyhcs.compat before HCS is asked.
        self.check = check
        self._workloads: Dict[str, pyhcs.ComputeSystem] = {}
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._workloads)} workload(s)"
        return f"<{type(self).__name__} {self.id!r} {state}>"

    # -- workloads ---------------------------------------------------------------------------------------------
    @property
    def workloads(self) -> Mapping[str, pyhcs.ComputeSystem]:
        """The workloads this object added and has not removed, by id, in the order they were added."""
        return dict(self._workloads)

    @property
    def max_workloads(self) -> Optional[int]:
        """How many workloads the pod may hold: 1 for a partial pod (a utility VM older than 17763, the seed's
        "Partial" row), else None."""
        if self.support is not None:
            return self.support.max_workloads
        if self.isolation is Isolation.HYPERV and self.os_version is not None and \
                self.os_version.build_tuple < (10, 0, compat.RS5):
            return 1
        return None

    @property
    def closed(self) -> bool:
        """True once ``close()`` has run: the pod's compute systems are gone and its handles closed."""
        return self._closed

    def _ensure_open(self) -> None:
        if self._closed:
            raise pyhcs.HcsClosedError(message=f"pod {self.id!r} is closed")

    def _admit(self, workload_id: str, workload_os: Optional[OSVersion]) -> None:
        """The checks before a workload reaches HCS: a new id, room in a partial pod, and pyhcs.compat's
        pod_workload rule."""
        self._ensure_open()
        if workload_id in self._workloads:
            raise PodConfigurationError(f"pod {self.id!r} already has a workload {workload_id!r}")
        limit = self.max_workloads
        if limit is not None and len(self._workloads) >= limit:
            sandbox = self.os_version.build if self.os_version is not None else "unknown"
            raise PodSupportError(PodVerdict(
                False, Rule.POD_HYPERV_PARTIAL,
                f"a partial pod holds a single workload container per utility VM: utility VM {sandbox} (before "
                f"{compat.RS5}) already runs {next(iter(self._workloads))!r} — put {workload_id!r} in a pod of its "
                f"own, or use a utility VM of build {compat.RS5} or later"))
        if self.check and workload_os is not None:
            sandbox_os = self.os_version if self.os_version is not None else (
                self.host.version if self.host is not None and self.isolation is Isolation.PROCESS else None)
            if sandbox_os is not None:
                host: compat.HostLike = self.host if self.host is not None else sandbox_os
                compat.check_pod_workload(host, sandbox_os, workload_os, self.isolation)
            elif self.host is not None:
                compat.check_isolation(self.host, workload_os, self.isolation)

    def _check_workload_args(self, workload_id: str, layers: Sequence[str], os_version: OsVersionArg,
                             timeout: Optional[float]) -> Tuple[List[str], Optional[OSVersion], _Deadline]:
        _check_id(workload_id, "workload_id")
        folders = _check_layers(layers, "layers")
        deadline = _Deadline(timeout)
        workload_os = _image_version(os_version, folders)
        self._admit(workload_id, workload_os)
        return folders, workload_os, deadline

    @abc.abstractmethod
    def add_workload(self, workload_id: str, container: Optional[Union["Container", Mapping[str, Any]]] = None, *,
                     layers: Sequence[str] = (), scratch: Optional[str] = None, os_version: OsVersionArg = None,
                     start: bool = True, timeout: Optional[float] = None) -> pyhcs.ComputeSystem:
        """Create a workload container in the pod (and start it unless *start* is false); returns its compute
        system, which the pod owns.

        *container* is its ``Container`` document (``pyhcs.schema.Container``); *layers* its read-only layer
        folders (topmost first, base last) and *scratch* its writable storage -- see the subclasses for what each
        becomes. *os_version* is the image's OS version (see :data:`OsVersionArg`); with ``check`` on, a workload
        the pod cannot run is refused before HCS is called (:class:`~pyhcs.compat.PodSupportError`,
        :class:`~pyhcs.compat.IsolationError`). *timeout* covers the whole call."""

    @abc.abstractmethod
    async def add_workload_async(self, workload_id: str,
                                 container: Optional[Union["Container", Mapping[str, Any]]] = None, *,
                                 layers: Sequence[str] = (), scratch: Optional[str] = None,
                                 os_version: OsVersionArg = None, start: bool = True) -> pyhcs.ComputeSystem:
        """``add_workload`` for asyncio (use ``asyncio.wait_for`` for a timeout)."""

    @abc.abstractmethod
    def remove_workload(self, workload_id: str, *, timeout: Optional[float] = None) -> None:
        """Terminate the workload (unless it has exited), close its handle and release what the pod set up for it.
        KeyError when the pod has no such workload."""

    @abc.abstractmethod
    async def remove_workload_async(self, workload_id: str) -> None:
        """``remove_workload`` for asyncio."""

    def _own(self, workload_id: str, system: pyhcs.ComputeSystem, start: bool,
             deadline: "_Deadline") -> pyhcs.ComputeSystem:
        """Take ownership of a created workload and start it if asked; a failed start removes it again."""
        self._workloads[workload_id] = system
        if start:
            try:
                system.start(timeout=deadline.left())
            except BaseException:
                _quietly(lambda: self.remove_workload(workload_id))
                raise
        return system

    async def _own_async(self, workload_id: str, system: pyhcs.ComputeSystem, start: bool) -> pyhcs.ComputeSystem:
        self._workloads[workload_id] = system
        if start:
            try:
                await system.start_async()
            except BaseException:
                # The removal must finish even when the awaiting task is being cancelled.
                await _shielded(_quietly_async(self.remove_workload_async(workload_id)))
                raise
        return system

    def _take(self, workload_id: str) -> pyhcs.ComputeSystem:
        self._ensure_open()
        try:
            return self._workloads.pop(workload_id)
        except KeyError:
            raise KeyError(f"pod {self.id!r} has no workload {workload_id!r}") from None

    @staticmethod
    def _end(system: pyhcs.ComputeSystem, deadline: _Deadline) -> None:
        try:
            if not system.closed and not system.exited:
                system.terminate(timeout=deadline.left())
        finally:
            system.close()

    @staticmethod
    async def _end_async(system: pyhcs.ComputeSystem) -> None:
        try:
            if not system.closed and not system.exited:
                await system.terminate_async()
        finally:
            system.close()

    # -- teardown ----------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def close(self, *, timeout: Optional[float] = None) -> None:
        """Tear the pod down: every workload (the last added first), then the pod's own resources. Idempotent."""

    @abc.abstractmethod
    async def close_async(self) -> None:
        """``close`` for asyncio."""

    def __enter__(self) -> "Pod":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "Pod":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close_async()


def _resolve_host(host: Optional[compat.HostLike], check: bool) -> Optional[compat.Host]:
    """*host*, or the host pyhcs runs on (PYHCS_HOST_OS_VERSION, else Windows' own version). Off Windows without the
    variable it cannot be known: with *check* that is pyhcs.compat's HostVersionUnavailableError (which says what to
    set) rather than a silent guess; without, None."""
    if host is not None:
        return compat.as_host(host)
    try:
        return compat.host_os()
    except compat.HostVersionUnavailableError:
        if check:
            raise
        return None


# ---------------------------------------------------------------------------------------------------------------
# Hyper-V pods


class HypervPod(Pod):
    """A Hyper-V isolated Windows pod: the utility VM ``<pod>@vm`` and its workloads, HostedSystems created in it.

    Create one with :meth:`create` (or :meth:`create_async`), or attach to one another process created with
    :meth:`open`. ``vm`` is the VM's :class:`~pyhcs.ComputeSystem`; ``guest_connection`` what its guest compute
    service reported after start (``GuestConnectionInfo``). When the VM stops -- torn down, crashed, or exited on
    its own -- HCS ends every workload in it."""

    isolation = Isolation.HYPERV

    def __init__(self, pod_id: str, vm: pyhcs.ComputeSystem, guest_connection: "GuestConnectionInfo",
                 host: Optional[compat.Host], os_version: Optional[OSVersion], support: Optional[PodVerdict],
                 owner: str, check: bool, owns_vm: bool) -> None:
        super().__init__(pod_id, host, os_version, support, owner, check)
        #: The utility VM's compute system.
        self.vm = vm
        #: GuestConnectionInfo {SupportedSchemaVersions, ProtocolVersion, GuestDefinedCapabilities} of the VM.
        self.guest_connection = guest_connection
        self._owns_vm = owns_vm
        self._storage: Dict[str, _Storage] = {}
        self._share_of: Dict[str, str] = {}   # host folder -> the VSMB share name it is shared as
        self._share_users: Dict[str, int] = {}  # share name -> workloads using it
        self._luns: Set[int] = set()
        self._mounts = 0

    @property
    def vm_id(self) -> str:
        """``<pod id>@vm``."""
        return self.vm.id

    def _capability(self, name: str) -> bool:
        caps = self.guest_connection.get("GuestDefinedCapabilities") or {}
        return bool(caps.get(name, False)) if isinstance(caps, Mapping) else False

    @property
    def signal_process_supported(self) -> bool:
        """GuestDefinedCapabilities.SignalProcessSupported: the guest takes HcsSignalProcess (RS5+ guests; hcsshim
        internal/uvm/capabilities.go, runhcs kill.go)."""
        return self._capability("SignalProcessSupported")

    @property
    def namespace_add_supported(self) -> bool:
        """GuestDefinedCapabilities.NamespaceAddRequestSupported: the guest takes a network namespace hot-add
        (hcsshim internal/uvm/network.go)."""
        return self._capability("NamespaceAddRequestSupported")

    # -- creating ----------------------------------------------------------------------------------------------
    @classmethod
    def _plan(cls, pod_id: str, layers: Sequence[str], scratch: Optional[str], os_version: OsVersionArg,
              memory_mb: int, processor_count: Optional[int], owner: str, host: Optional[compat.HostLike],
              check: bool) -> Tuple["ComputeSystemDocument", Optional[compat.Host], Optional[OSVersion],
                                    Optional[PodVerdict]]:
        _check_id(pod_id, "pod_id")
        _check_id(owner, "owner")
        folders = _check_layers(layers, "layers")
        if not folders:
            raise PodConfigurationError("a Hyper-V pod needs its sandbox image's layers (topmost first): the utility "
                                        "VM boots from the UtilityVM folder of one of them")
        uvm_folder = find_utility_vm_folder(folders)
        resolved_host = _resolve_host(host, check)
        image_os = _image_version(os_version, folders)
        support: Optional[PodVerdict] = None
        if resolved_host is not None and image_os is not None:
            support = compat.pod_support(resolved_host, image_os, Isolation.HYPERV)
        if check:
            if support is not None and not support.allowed:
                raise PodSupportError(support)
            if support is None and resolved_host is not None:
                compat.check_pod_support(resolved_host, resolved_host.version, Isolation.HYPERV)
        if processor_count is None:
            processor_count = _default_processor_count()
        host_count = _host_processor_count()
        if host_count is not None and isinstance(processor_count, int) and not isinstance(processor_count, bool) \
                and processor_count > host_count > 0:
            processor_count = host_count  # hcsshim NormalizeProcessorCount: downgraded to the host's processors
        _check_scratch(scratch, "the utility VM's scratch VHDX")
        document = utility_vm_document(os.path.join(uvm_folder, "UtilityVM", "Files"), owner=owner,
                                       memory_mb=memory_mb, processor_count=processor_count, scratch=scratch)
        return document, resolved_host, image_os, support

    @staticmethod
    def _prepare_scratch(vm_id: str, layers: Sequence[str], scratch: Optional[str]) -> None:
        """hcsshim internal/layers getVmbFSBootFiles: a missing scratch is copied from the image's
        UtilityVM\\SystemTemplate.vhdx; then the VM is granted access to it (create_wcow.go GrantVmAccess)."""
        if scratch is None:
            return
        if not os.path.exists(scratch):
            template = os.path.join(find_utility_vm_folder(layers), "UtilityVM", _SCRATCH_TEMPLATE)
            if os.path.isfile(template):
                shutil.copyfile(template, scratch)
        grant_vm_access(vm_id, scratch)

    @classmethod
    def create(
        cls,
        pod_id: str,
        *,
        layers: Sequence[str],
        scratch: Optional[str] = None,
        os_version: OsVersionArg = None,
        memory_mb: int = 1024,
        processor_count: Optional[int] = None,
        owner: str = "pyhcs",
        host: Optional[compat.HostLike] = None,
        check: bool = True,
        timeout: Optional[float] = None,
    ) -> "HypervPod":
        """Create and start the pod's utility VM ``<pod_id>@vm``.

        *layers*: the sandbox image's read-only layer folders, topmost first; the VM boots from the uppermost one
        holding a ``UtilityVM`` folder. *scratch*: the VM's scratch VHDX (copied from
        ``UtilityVM\\SystemTemplate.vhdx`` when missing; HCS needs one on Windows). *os_version*: the sandbox
        image's version (else its layers' :data:`IMAGE_CONFIG_FILE`). *memory_mb* / *processor_count*: the VM's
        size (hcsshim's defaults: 1024 MB, 2 processors, at most the host's). *host*: the host to check against
        (default: :func:`pyhcs.compat.host_os`). With *check*, a pod the host cannot run raises
        :class:`~pyhcs.compat.PodSupportError` before HCS is called. *timeout* covers the whole call."""
        deadline = _Deadline(timeout)
        document, resolved_host, image_os, support = cls._plan(pod_id, layers, scratch, os_version, memory_mb,
                                                               processor_count, owner, host, check)
        vm_id = utility_vm_id(pod_id)
        cls._prepare_scratch(vm_id, layers, scratch)
        vm = pyhcs.ComputeSystem.create(vm_id, document, timeout=deadline.left())
        try:
            vm.start(timeout=deadline.left())
            info = vm.properties(["GuestConnection"], timeout=deadline.left()).get("GuestConnectionInfo") or {}
        except BaseException:
            Pod._end(vm, _Deadline(None))
            raise
        return cls(pod_id, vm, info, resolved_host, image_os, support, owner, check, True)

    @classmethod
    async def create_async(
        cls,
        pod_id: str,
        *,
        layers: Sequence[str],
        scratch: Optional[str] = None,
        os_version: OsVersionArg = None,
        memory_mb: int = 1024,
        processor_count: Optional[int] = None,
        owner: str = "pyhcs",
        host: Optional[compat.HostLike] = None,
        check: bool = True,
    ) -> "HypervPod":
        """``create`` for asyncio: ``async with await HypervPod.create_async(...) as pod``."""
        document, resolved_host, image_os, support = cls._plan(pod_id, layers, scratch, os_version, memory_mb,
                                                               processor_count, owner, host, check)
        vm_id = utility_vm_id(pod_id)
        cls._prepare_scratch(vm_id, layers, scratch)
        vm = await pyhcs.ComputeSystem.create_async(vm_id, document)
        try:
            await vm.start_async()
            info = (await vm.properties_async(["GuestConnection"])).get("GuestConnectionInfo") or {}
        except BaseException:
            await _shielded(Pod._end_async(vm))
            raise
        return cls(pod_id, vm, info, resolved_host, image_os, support, owner, check, True)

    @classmethod
    def open(cls, pod_id: str, *, os_version: OsVersionArg = None, owner: str = "pyhcs",
             host: Optional[compat.HostLike] = None, check: bool = True,
             timeout: Optional[float] = None) -> "HypervPod":
        """Attach to a pod whose utility VM another process (or object) created: opens ``<pod_id>@vm`` and asks its
        guest connection. Workloads added through this object are this object's; closing it removes them and
        closes the VM's handle without stopping the VM. HCS does not report a VM's OS version: give *os_version*
        (a version or the sandbox image's config) for the workload checks."""
        _check_id(pod_id, "pod_id")
        deadline = _Deadline(timeout)
        image_os = _image_version(os_version, ())
        resolved_host = _resolve_host(host, check)
        support = compat.pod_support(resolved_host, image_os, Isolation.HYPERV) \
            if resolved_host is not None and image_os is not None else None
        vm = pyhcs.ComputeSystem.open(utility_vm_id(pod_id))
        try:
            info = vm.properties(["GuestConnection"], timeout=deadline.left()).get("GuestConnectionInfo") or {}
        except BaseException:
            vm.close()
            raise
        return cls(pod_id, vm, info, resolved_host, image_os, support, owner, check, False)

    def hosted_system_ids(self, *, timeout: Optional[float] = None) -> List[str]:
        """The ids of every compute system HCS runs in this pod's VM (HostingSystemId), whoever created them."""
        return [str(p.get("Id")) for p in pyhcs.ComputeSystem.enumerate(timeout=timeout)
                if p.get("HostingSystemId") == self.vm.id]

    # -- workloads ---------------------------------------------------------------------------------------------
    def _new_share_name(self) -> str:
        # hcsshim names shares "s<counter>"; the random part keeps two Pod objects on one VM (two processes) apart.
        return "s" + uuid.uuid4().hex[:12]

    def _storage_plan(self, workload_id: str, layers: List[str], scratch: Optional[str]) -> _Storage:
        """What to ask of the VM before the workload is created (internal/layers mountHypervIsolatedWCIFSLayers):
        a VSMB share per read-only layer (DefaultVSMBOptions(true) + TakeBackupPrivilege), the scratch VHDX at a
        free LUN of controller 0 mounted at c:\\mounts\\scsi\\m<n>, and the layers combined onto it."""
        plan = _Storage()
        for folder in layers:
            name = self._share_of.get(folder) or next(
                (n for n, f in plan.new_shares.items() if f == folder), None)
            if name is None:
                name = self._new_share_name()
                plan.new_shares[name] = folder
                plan.steps.append(_Step(
                    {"ResourcePath": _SHARES_PATH, "RequestType": "Add",
                     "Settings": {"Name": name, "Path": folder, "Options": _vsmb_options()}},
                    _share_removal(name)))
            if name not in plan.share_names:
                plan.share_names.append(name)
            plan.layers.append({"Id": layer_id(folder), "Path": VSMB_GUEST_PREFIX + name})
        if scratch is not None:
            lun = next((n for n in range(1, _LUNS_PER_CONTROLLER) if n not in self._luns), None)
            if lun is None:
                raise PodConfigurationError(f"utility VM {self.vm.id!r} has no free SCSI LUN for {workload_id!r}")
            self._mounts += 1
            root = _SCSI_MOUNT_FORMAT.format(self._mounts)
            attachment = f"VirtualMachine/Devices/Scsi/{SCSI_CONTROLLER}/Attachments/{lun}"
            # hcsshim's SCSI manager grants the VM access to a disk before attaching it.
            plan.steps.append(_Step(None, None, grant=scratch))
            plan.steps.append(_Step(
                {"ResourcePath": attachment, "RequestType": "Add",
                 "Settings": {"Path": scratch, "Type": "VirtualDisk"}},
                {"ResourcePath": attachment, "RequestType": "Remove"}))
            mount = {"ContainerPath": root, "Lun": lun}
            plan.steps.append(_Step(
                {"GuestRequest": {"ResourceType": "MappedVirtualDisk", "RequestType": "Add", "Settings": mount}},
                {"GuestRequest": {"ResourceType": "MappedVirtualDisk", "RequestType": "Remove", "Settings": mount}}))
            if plan.layers:
                combined = {"ContainerRootPath": root, "Layers": plan.layers}
                plan.steps.append(_Step(
                    {"GuestRequest": {"ResourceType": "CombinedLayers", "RequestType": "Add", "Settings": combined}},
                    {"GuestRequest": {"ResourceType": "CombinedLayers", "RequestType": "Remove",
                                      "Settings": {"ContainerRootPath": root}}}))
            plan.root, plan.lun = root, lun
            self._luns.add(lun)
        return plan

    def _workload_document(self, container: Optional[Mapping[str, Any]], plan: _Storage) -> "ComputeSystemDocument":
        inner = _container_document(container)
        storage = dict(inner.get("Storage") or {})
        if plan.layers:
            if storage.get("Layers"):
                raise PodConfigurationError(_TWICE.format("layers", "layers", "Container.Storage.Layers"))
            storage["Layers"] = plan.layers
        if plan.root is not None:
            if storage.get("Path"):
                raise PodConfigurationError(_TWICE.format("scratch", "scratch", "Container.Storage.Path"))
            storage["Path"] = plan.root
        if storage:
            inner["Storage"] = storage
        # hcsshim internal/uvm/create.go CreateContainer.
        document = {
            "Owner": self.owner,
            "SchemaVersion": dict(_SCHEMA),
            "HostingSystemId": self.vm.id,
            "ShouldTerminateOnLastHandleClosed": True,
            "HostedSystem": {"SchemaVersion": dict(_SCHEMA), "Container": inner},
        }
        return cast("ComputeSystemDocument", document)

    def _commit(self, workload_id: str, plan: _Storage) -> None:
        for name, folder in plan.new_shares.items():
            self._share_of.setdefault(folder, name)
        for name in plan.share_names:
            self._share_users[name] = self._share_users.get(name, 0) + 1
        self._storage[workload_id] = plan

    def _abandon(self, plan: _Storage) -> None:
        """A plan whose steps were undone (or never run): its LUN is free again."""
        if plan.lun is not None:
            self._luns.discard(plan.lun)

    def _release(self, plan: _Storage) -> List[_Request]:
        """The requests that undo a removed workload's storage, in order: combined layers, guest mount, SCSI disk,
        then the shares no other workload uses any more."""
        undo = [step.undo for step in reversed(plan.steps)
                if step.undo is not None and not (step.do or {}).get("ResourcePath") == _SHARES_PATH]
        for name in plan.share_names:
            users = self._share_users.get(name, 0) - 1
            if users > 0:
                self._share_users[name] = users
                continue
            self._share_users.pop(name, None)
            for folder in [f for f, n in self._share_of.items() if n == name]:
                del self._share_of[folder]
            undo.append(_share_removal(name))
        self._abandon(plan)
        return undo

    def add_workload(self, workload_id: str, container: Optional[Union["Container", Mapping[str, Any]]] = None, *,
                     layers: Sequence[str] = (), scratch: Optional[str] = None, os_version: OsVersionArg = None,
                     start: bool = True, timeout: Optional[float] = None) -> pyhcs.ComputeSystem:
        """Create a workload in the utility VM: ``HcsCreateComputeSystem(workload_id, {HostingSystemId: "<pod>@vm",
        HostedSystem: {Container}})``, then start it unless *start* is false.

        *layers* (host folders, topmost first) are shared into the VM over VSMB and become the container's
        ``Storage.Layers`` (guest paths); *scratch* (the container's scratch VHDX on the host) is attached over SCSI,
        mounted in the guest with the layers combined onto it, and becomes ``Storage.Path``. Without them the
        *container* document is used as given (its storage must then be guest paths). The workload's OS must match
        the VM's (:func:`pyhcs.compat.pod_workload_verdict`); a partial pod takes one workload."""
        folders, _, deadline = self._check_workload_args(workload_id, layers, os_version, timeout)
        _check_scratch(scratch, "the workload's scratch VHDX")
        plan = self._storage_plan(workload_id, folders, scratch)
        done: List[_Step] = []
        try:
            document = self._workload_document(container, plan)
            for step in plan.steps:
                self._run_step(step, deadline)
                done.append(step)
            system = pyhcs.ComputeSystem.create(workload_id, document, timeout=deadline.left())
        except BaseException:
            try:
                self._run_undo([step.undo for step in reversed(done) if step.undo is not None], deadline)
            finally:
                self._abandon(plan)
            raise
        self._commit(workload_id, plan)
        return self._own(workload_id, system, start, deadline)

    async def add_workload_async(self, workload_id: str,
                                 container: Optional[Union["Container", Mapping[str, Any]]] = None, *,
                                 layers: Sequence[str] = (), scratch: Optional[str] = None,
                                 os_version: OsVersionArg = None, start: bool = True) -> pyhcs.ComputeSystem:
        """``add_workload`` for asyncio. If the awaiting task is cancelled, what was set up is undone."""
        folders, _, _ = self._check_workload_args(workload_id, layers, os_version, None)
        _check_scratch(scratch, "the workload's scratch VHDX")
        plan = self._storage_plan(workload_id, folders, scratch)
        done: List[_Step] = []
        try:
            document = self._workload_document(container, plan)
            for step in plan.steps:
                await self._run_step_async(step)
                done.append(step)
            system = await pyhcs.ComputeSystem.create_async(workload_id, document)
        except BaseException:
            try:
                await _shielded(self._run_undo_async([step.undo for step in reversed(done) if step.undo is not None]))
            finally:
                self._abandon(plan)
            raise
        self._commit(workload_id, plan)
        return await self._own_async(workload_id, system, start)

    def _run_step(self, step: _Step, deadline: _Deadline) -> None:
        if step.grant is not None:
            grant_vm_access(self.vm.id, step.grant)
        if step.do is not None:
            self.vm.modify(cast("ModifySettingRequest", step.do), timeout=deadline.left())

    async def _run_step_async(self, step: _Step) -> None:
        if step.grant is not None:
            grant_vm_access(self.vm.id, step.grant)
        if step.do is not None:
            await self.vm.modify_async(cast("ModifySettingRequest", step.do))

    def _vm_gone(self) -> bool:
        return self.vm.closed or self.vm.exited

    def _vm_stopped(self, error: pyhcs.HcsError) -> bool:
        """Whether *error* only says the VM has stopped: HCS refuses a modify of a Stopped system
        (HCS_E_INVALID_STATE) before its SystemExited event reaches this process -- another client may have
        terminated the VM a moment ago."""
        if self._vm_gone():
            return True
        if not isinstance(error, pyhcs.HcsInvalidStateError):
            return False
        try:
            return self.vm.state == "Stopped"
        except pyhcs.HcsError:
            return self._vm_gone()

    def _run_undo(self, requests: Sequence[_Request], deadline: _Deadline) -> None:
        """Run the undo *requests* in order. Nothing is left to undo in a VM that has stopped (hcsshim treats that
        as released, PR #2743); otherwise the first failure is raised after the rest were tried."""
        first: Optional[BaseException] = None
        for request in requests:
            if self._vm_gone():
                return
            try:
                self.vm.modify(cast("ModifySettingRequest", request), timeout=deadline.left())
            except pyhcs.HcsError as error:
                if self._vm_stopped(error):
                    return
                if first is None:
                    first = error
        if first is not None:
            raise first

    async def _run_undo_async(self, requests: Sequence[_Request]) -> None:
        first: Optional[BaseException] = None
        for request in requests:
            if self._vm_gone():
                return
            try:
                await self.vm.modify_async(cast("ModifySettingRequest", request))
            except pyhcs.HcsError as error:
                if self._vm_stopped(error):  # one quick synchronous query, only on this failure path
                    return
                if first is None:
                    first = error
        if first is not None:
            raise first

    def remove_workload(self, workload_id: str, *, timeout: Optional[float] = None) -> None:
        """Terminate the workload, close its handle, then undo its storage in the VM (combined layers, guest mount,
        SCSI disk, the VSMB shares no other workload uses) -- nothing to undo once the VM has stopped."""
        deadline = _Deadline(timeout)
        system = self._take(workload_id)
        plan = self._storage.pop(workload_id, None)
        try:
            self._end(system, deadline)
        finally:
            if plan is not None:
                self._run_undo(self._release(plan), deadline)

    async def remove_workload_async(self, workload_id: str) -> None:
        system = self._take(workload_id)
        plan = self._storage.pop(workload_id, None)
        try:
            await self._end_async(system)
        finally:
            if plan is not None:
                await self._run_undo_async(self._release(plan))

    # -- teardown ----------------------------------------------------------------------------------------------
    def close(self, *, timeout: Optional[float] = None) -> None:
        """Terminate and close every workload (the last added first), then terminate the utility VM. A pod from
        :meth:`open` leaves the VM running: it undoes what it set up in the VM and closes its handle. Idempotent."""
        if self._closed:
            return
        deadline = _Deadline(timeout)
        first: Optional[BaseException] = None
        try:
            for workload_id in reversed(list(self._workloads)):
                try:
                    if self._owns_vm:
                        # The VM's end takes the storage with it; only the workload itself is ended first.
                        self._storage.pop(workload_id, None)
                        self._end(self._workloads.pop(workload_id), deadline)
                    else:
                        self.remove_workload(workload_id, timeout=deadline.left())
                except pyhcs.HcsError as error:
                    first = first or error
        finally:
            self._workloads.clear()
            self._closed = True
            if self._owns_vm:
                self._end(self.vm, deadline)
            else:
                self.vm.close()
        if first is not None and not self._owns_vm:
            raise first

    async def close_async(self) -> None:
        if self._closed:
            return
        first: Optional[BaseException] = None
        try:
            for workload_id in reversed(list(self._workloads)):
                try:
                    if self._owns_vm:
                        self._storage.pop(workload_id, None)
                        await self._end_async(self._workloads.pop(workload_id))
                    else:
                        await self.remove_workload_async(workload_id)
                except pyhcs.HcsError as error:
                    first = first or error
        finally:
            self._workloads.clear()
            self._closed = True
            if self._owns_vm:
                await _shielded(self._end_async(self.vm))
            else:
                self.vm.close()
        if first is not None and not self._owns_vm:
            raise first

    def __enter__(self) -> "HypervPod":
        return self

    async def __aenter__(self) -> "HypervPod":
        return self


# ---------------------------------------------------------------------------------------------------------------
# process-isolated pods


class ProcessPod(Pod):
    """A process-isolated Windows pod: workload containers on the host sharing one network namespace.

    No compute system stands for the pod itself (hcsshim's shim runs a "pause" container as the sandbox task; add
    one as a workload if you want it): what makes the containers one pod is ``Container.Networking.Namespace``, the
    HCN namespace GUID *network_namespace* (create it with HCN first). Every workload must run process-isolated on
    the host (:func:`pyhcs.compat.isolation_verdict`)."""

    isolation = Isolation.PROCESS

    def __init__(self, pod_id: str, network_namespace: Optional[str], host: Optional[compat.Host],
                 os_version: Optional[OSVersion], support: Optional[PodVerdict], owner: str, check: bool) -> None:
        super().__init__(pod_id, host, os_version, support, owner, check)
        #: The HCN namespace GUID every workload joins (None: none is set; the workloads get HCS's default).
        self.network_namespace = network_namespace

    @classmethod
    def create(cls, pod_id: str, *, network_namespace: Optional[str] = None, os_version: OsVersionArg = None,
               owner: str = "pyhcs", host: Optional[compat.HostLike] = None, check: bool = True) -> "ProcessPod":
        """A process pod: nothing is created in HCS until workloads are added. *os_version* is the sandbox image's
        (optional); with *check*, a pod the host cannot run -- a host before 17763, a Windows 10 client, an image
        outside the host's process-isolation range -- raises :class:`~pyhcs.compat.PodSupportError` now."""
        _check_id(pod_id, "pod_id")
        _check_id(owner, "owner")
        if network_namespace is not None:
            if not isinstance(network_namespace, str):
                raise TypeError(f"network_namespace is an HCN namespace GUID (str), not "
                                f"{type(network_namespace).__name__}")
            if not _GUID.fullmatch(network_namespace):
                raise PodConfigurationError(f"network_namespace must be an HCN namespace GUID, not "
                                            f"{network_namespace!r}")
        resolved_host = _resolve_host(host, check)
        image_os = _image_version(os_version, ())
        support: Optional[PodVerdict] = None
        if resolved_host is not None:
            support = compat.pod_support(resolved_host, image_os if image_os is not None else resolved_host.version,
                                         Isolation.PROCESS)
            if check and not support.allowed:
                raise PodSupportError(support)
        return cls(pod_id, network_namespace, resolved_host, image_os, support, owner, check)

    @classmethod
    async def create_async(cls, pod_id: str, *, network_namespace: Optional[str] = None,
                           os_version: OsVersionArg = None, owner: str = "pyhcs",
                           host: Optional[compat.HostLike] = None, check: bool = True) -> "ProcessPod":
        """``create`` for asyncio (it makes no HCS call; here for symmetry with :meth:`HypervPod.create_async`)."""
        return cls.create(pod_id, network_namespace=network_namespace, os_version=os_version, owner=owner,
                          host=host, check=check)

    def workload_document(self, container: Optional[Union["Container", Mapping[str, Any]]] = None, *,
                          layers: Sequence[str] = (), scratch: Optional[str] = None) -> "ComputeSystemDocument":
        """The ComputeSystem document :meth:`add_workload` creates for these arguments (nothing is created): schema
        2.1, terminated when its last handle closes, the pod's ``Owner``, and the *container* with the pod's
        network namespace and the given storage."""
        return self._document(container, _check_layers(layers, "layers"), scratch)

    def _document(self, container: Optional[Mapping[str, Any]], layers: List[str],
                  scratch: Optional[str]) -> "ComputeSystemDocument":
        inner = _container_document(container)
        storage = dict(inner.get("Storage") or {})
        if layers:
            if storage.get("Layers"):
                raise PodConfigurationError(_TWICE.format("layers", "layers", "Container.Storage.Layers"))
            storage["Layers"] = [{"Id": layer_id(folder), "Path": folder} for folder in layers]
        if scratch is not None:
            _check_scratch(scratch, "the workload's mounted scratch volume")
            if storage.get("Path"):
                raise PodConfigurationError(_TWICE.format("scratch", "scratch", "Container.Storage.Path"))
            storage["Path"] = scratch
        if storage:
            inner["Storage"] = storage
        if self.network_namespace is not None:
            networking = dict(inner.get("Networking") or {})
            given = networking.get("Namespace")
            if given and str(given).strip("{}").lower() != self.network_namespace.strip("{}").lower():
                raise PodConfigurationError(f"the workload's Networking.Namespace {given!r} is not the pod's "
                                            f"{self.network_namespace!r}")
            networking["Namespace"] = self.network_namespace
            inner["Networking"] = networking
        document = {
            "Owner": self.owner,
            "SchemaVersion": dict(_SCHEMA),
            "ShouldTerminateOnLastHandleClosed": True,
            "Container": inner,
        }
        return cast("ComputeSystemDocument", document)

    def add_workload(self, workload_id: str, container: Optional[Union["Container", Mapping[str, Any]]] = None, *,
                     layers: Sequence[str] = (), scratch: Optional[str] = None, os_version: OsVersionArg = None,
                     start: bool = True, timeout: Optional[float] = None) -> pyhcs.ComputeSystem:
        """Create a workload container on the host in the pod's network namespace (``Container.Networking.Namespace``),
        then start it unless *start* is false. *layers* (topmost first) become ``Storage.Layers`` and *scratch* (the
        activated scratch volume, as containerd's snapshotter mounts it) ``Storage.Path``: pyhcs does not mount
        layers. The image must run process-isolated on the host."""
        folders, _, deadline = self._check_workload_args(workload_id, layers, os_version, timeout)
        document = self._document(container, folders, scratch)
        system = pyhcs.ComputeSystem.create(workload_id, document, timeout=deadline.left())
        return self._own(workload_id, system, start, deadline)

    async def add_workload_async(self, workload_id: str,
                                 container: Optional[Union["Container", Mapping[str, Any]]] = None, *,
                                 layers: Sequence[str] = (), scratch: Optional[str] = None,
                                 os_version: OsVersionArg = None, start: bool = True) -> pyhcs.ComputeSystem:
        folders, _, _ = self._check_workload_args(workload_id, layers, os_version, None)
        document = self._document(container, folders, scratch)
        system = await pyhcs.ComputeSystem.create_async(workload_id, document)
        return await self._own_async(workload_id, system, start)

    def remove_workload(self, workload_id: str, *, timeout: Optional[float] = None) -> None:
        self._end(self._take(workload_id), _Deadline(timeout))

    async def remove_workload_async(self, workload_id: str) -> None:
        await self._end_async(self._take(workload_id))

    def close(self, *, timeout: Optional[float] = None) -> None:
        """Terminate and close every workload, the last added first. Idempotent."""
        if self._closed:
            return
        deadline = _Deadline(timeout)
        try:
            for workload_id in reversed(list(self._workloads)):
                self._end(self._workloads.pop(workload_id), deadline)
        finally:
            for system in self._workloads.values():
                system.close()
            self._workloads.clear()
            self._closed = True

    async def close_async(self) -> None:
        if self._closed:
            return
        try:
            for workload_id in reversed(list(self._workloads)):
                await self._end_async(self._workloads.pop(workload_id))
        finally:
            for system in self._workloads.values():
                system.close()
            self._workloads.clear()
            self._closed = True

    def __enter__(self) -> "ProcessPod":
        return self

    async def __aenter__(self) -> "ProcessPod":
        return self


async def _shielded(awaitable: Awaitable[Any]) -> None:
    """Run cleanup to its end even when the task awaiting it is being cancelled."""
    import asyncio

    task = asyncio.ensure_future(awaitable)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


def _share_removal(name: str) -> _Request:
    return {"ResourcePath": _SHARES_PATH, "RequestType": "Remove", "Settings": {"Name": name}}


def _check_scratch(scratch: Optional[str], what: str) -> None:
    if scratch is not None and (not isinstance(scratch, str) or not scratch):
        raise TypeError(f"scratch is the path of {what} (a non-empty str), not {scratch!r}")


def _quietly(cleanup: Any) -> None:
    """Cleanup after a failure: its own HCS errors must not hide the failure being raised."""
    try:
        cleanup()
    except pyhcs.HcsError:
        pass


async def _quietly_async(cleanup: Awaitable[Any]) -> None:
    try:
        await cleanup
    except pyhcs.HcsError:
        pass
