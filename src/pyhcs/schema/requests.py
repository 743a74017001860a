"""Request and option documents: HcsModifyComputeSystem, Save/Pause/ShutDown/Crash options, guest modify
requests and HcsModifyServiceSettings requests."""

from typing import Any, List

from typing_extensions import Literal, TypedDict

from .common import Guid, ModifyRequestType
from .compute_system import ContainerCredentialGuardTransport, Layer

__all__ = [
    # compute-system requests
    "ModifySettingRequest",
    "SaveType",
    "SaveOptions",
    "PauseSuspensionLevel",
    "PauseReason",
    "PauseNotification",
    "PauseOptions",
    "ShutdownMechanism",
    "ShutdownType",
    "ShutdownOptions",
    "CrashType",
    "CrashOptions",
    "ProcessorLimits",
    "IdleProcessorsRequest",
    # guest requests
    "ModifyResourceType",
    "GuestModifySettingRequest",
    "CombinedLayers",
    "MappedVirtualDisk",
    "CimMount",
    "HvSocketAddress",
    "RegistryFlushState",
    # service requests
    "ModifyPropertyType",
    "ModificationRequest",
    "ModifyServiceOperation",
    "HostProcessorModificationRequest",
    "CreateGroupOperation",
    "DeleteGroupOperation",
    "SetPropertyOperation",
    "SystemProcessorModificationRequest",
    "ContainerCredentialGuardModifyOperation",
    "ContainerCredentialGuardOperationRequest",
    "ContainerCredentialGuardAddInstanceRequest",
    "ContainerCredentialGuardRemoveInstanceRequest",
]


class ModifySettingRequest(TypedDict, total=False):
    """The document passed to HcsModifyComputeSystem (schema 2.0; ``ResourcePath``/``GuestRequest`` 2.1).

    ``ResourcePath`` selects the setting, e.g. ``"VirtualMachine/Devices/Scsi/<controller>/Attachments/<lun>"``
    (Settings: ``Attachment``) or ``"VirtualMachine/ComputeTopology/Memory/SizeInMB"`` (Settings: int).
    ``Settings`` is schema "Any"; HcsModifyComputeSystem.md tables the type per path. ``GuestRequest`` carries
    a request for the guest (e.g. a :class:`GuestModifySettingRequest`).
    """

    ResourcePath: str
    RequestType: ModifyRequestType
    Settings: Any
    GuestRequest: Any


SaveType = Literal["ToFile", "AsTemplate"]
"""``ToFile`` saves memory and device state; ``AsTemplate`` prepares a template to clone from (schema 2.1)."""


class SaveOptions(TypedDict, total=False):
    """Options of HcsSaveComputeSystem (schema 2.1)."""

    SaveType: SaveType
    SaveStateFilePath: str


PauseSuspensionLevel = Literal["Suspend", "MemoryLow", "MemoryMedium", "MemoryHigh"]
"""How deeply HcsPauseComputeSystem suspends the system (schema 2.0)."""

PauseReason = Literal["None", "Save", "Template"]
"""Pause reason told to components in the VM (schema 2.1)."""


class PauseNotification(TypedDict, total=False):
    """Notification sent to components in the VM when it is paused (schema 2.1)."""

    Reason: PauseReason


class PauseOptions(TypedDict, total=False):
    """Options of HcsPauseComputeSystem (schema 2.0; ``HostedNotification`` 2.1)."""

    SuspensionLevel: PauseSuspensionLevel
    HostedNotification: PauseNotification


ShutdownMechanism = Literal["GuestConnection", "IntegrationService"]
"""How a shutdown is delivered to the guest (schema 2.5)."""

ShutdownType = Literal["Shutdown", "Hibernate", "Reboot"]
"""Kind of shutdown operation (schema 2.5)."""


class ShutdownOptions(TypedDict, total=False):
    """Options of HcsShutDownComputeSystem (schema 2.5; documented as "must be NULL" on older hosts)."""

    Mechanism: ShutdownMechanism
    Type: ShutdownType
    Force: bool
    Reason: str


CrashType = Literal["CrashGuest"]
"""How HcsCrashComputeSystem crashes the system (schema 2.3)."""


class CrashOptions(TypedDict, total=False):
    """Options of HcsCrashComputeSystem (schema 2.3)."""

    Type: CrashType


class ProcessorLimits(TypedDict, total=False):
    """Settings to update the processor scheduling limits of a running VM (schema 2.4)."""

    Limit: int
    Weight: int
    Reservation: int
    MaximumFrequencyMHz: int


class IdleProcessorsRequest(TypedDict, total=False):
    """Settings of ``"VirtualMachine/ComputeTopology/Processor/IdledProcessors"`` updates (schema 2.3)."""

    IdleProcessorCount: int


# --------------------------------------------------------------------------------------------- guest

ModifyResourceType = Literal[
    "Memory",
    "MappedDirectory",
    "MappedPipe",
    "MappedVirtualDisk",
    "CombinedLayers",
    "NetworkNamespace",
    "CimMount",
]
"""Resource addressed by a ``GuestModifySettingRequest`` (schema 2.0; ``NetworkNamespace`` 2.1,
``CimMount`` 2.3)."""


class GuestModifySettingRequest(TypedDict, total=False):
    """A modify request forwarded to the guest, in ``ModifySettingRequest.GuestRequest`` (schema 2.1)."""

    ResourceType: ModifyResourceType
    RequestType: ModifyRequestType
    Settings: Any


class CombinedLayers(TypedDict, total=False):
    """Guest request to combine layers (with ``ScratchPath`` on Linux) at ``ContainerRootPath``
    (schema 2.0)."""

    Layers: List[Layer]
    ScratchPath: str
    ContainerRootPath: str


class MappedVirtualDisk(TypedDict, total=False):
    """Guest request to mount the SCSI disk at ``Lun`` at ``ContainerPath`` (schema 2.1)."""

    ContainerPath: str
    Lun: int


class CimMount(TypedDict, total=False):
    """Guest request to mount a CimFS image (schema 2.3; ``MountFlags`` 2.5, passed to CimMountImage)."""

    ImagePath: str
    FileSystemName: str
    VolumeGuid: Guid
    MountFlags: int


class HvSocketAddress(TypedDict, total=False):
    """Hyper-V socket addresses applied by the GCS each time a VM starts or restores (schema 2.1)."""

    LocalAddress: Guid
    ParentAddress: Guid


class RegistryFlushState(TypedDict, total=False):
    """Whether registry flushes of a Windows container's hives are honoured (schema 2.1)."""

    Enabled: bool


# --------------------------------------------------------------------------------------------- service

ModifyPropertyType = Literal["CpuGroup", "ContainerCredentialGuard"]
"""Service property changed by HcsModifyServiceSettings (schema 2.1)."""


class ModificationRequest(TypedDict, total=False):
    """The document passed to HcsModifyServiceSettings; one property per call (schema 2.1).

    ``Settings`` is a :class:`HostProcessorModificationRequest` for ``"CpuGroup"`` and a
    :class:`ContainerCredentialGuardOperationRequest` for ``"ContainerCredentialGuard"``.
    """

    PropertyType: ModifyPropertyType
    Settings: Any


ModifyServiceOperation = Literal["CreateGroup", "DeleteGroup", "SetProperty"]
"""Host CPU-group operation (schema 2.1)."""


class HostProcessorModificationRequest(TypedDict, total=False):
    """Host CPU-group modification; ``OperationDetails`` is a Create/Delete/SetProperty operation
    (schema 2.1)."""

    Operation: ModifyServiceOperation
    OperationDetails: Any


class CreateGroupOperation(TypedDict, total=False):
    """Create a host CPU group from the given logical processors (schema 2.1)."""

    GroupId: Guid
    LogicalProcessorCount: int
    LogicalProcessors: List[int]


class DeleteGroupOperation(TypedDict, total=False):
    """Delete a host CPU group (schema 2.1)."""

    GroupId: Guid


class SetPropertyOperation(TypedDict, total=False):
    """Set a property (e.g. the cap) of a host CPU group (schema 2.1)."""

    GroupId: Guid
    PropertyCode: int
    PropertyValue: int


class SystemProcessorModificationRequest(TypedDict, total=False):
    """Move a compute system to a CPU group (schema 2.1)."""

    GroupId: Guid


ContainerCredentialGuardModifyOperation = Literal["AddInstance", "RemoveInstance"]
"""Container Credential Guard service operation (schema 2.1)."""


class ContainerCredentialGuardOperationRequest(TypedDict, total=False):
    """Container Credential Guard service request; ``OperationDetails`` is an Add/Remove instance request
    (schema 2.1)."""

    Operation: ContainerCredentialGuardModifyOperation
    OperationDetails: Any


class ContainerCredentialGuardAddInstanceRequest(TypedDict, total=False):
    """Add a Container Credential Guard instance; ``CredentialSpec`` is a JSON string (schema 2.1)."""

    Id: str
    CredentialSpec: str
    Transport: ContainerCredentialGuardTransport


class ContainerCredentialGuardRemoveInstanceRequest(TypedDict, total=False):
    """Remove a running Container Credential Guard instance (schema 2.1)."""

    Id: str
