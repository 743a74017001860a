"""Property queries and their results: HcsGetComputeSystemProperties, HcsEnumerateComputeSystems and
HcsGetServiceProperties."""

from typing import Any, Dict, List

from typing_extensions import Literal, TypedDict

from .common import (
    ByteArray,
    DateTime,
    Guid,
    HvSocketServiceConfig,
    NotificationType,
    OsType,
    State,
    SystemType,
    Version,
)
from .compute_system import ContainerCredentialGuardState
from .process import ProcessDetails
from .results import ResultError
from .virtual_machine import ProcessorFeature, XsaveProcessorFeature

__all__ = [
    # compute-system queries
    "System_PropertyType",
    "PropertyType",
    "System_PropertyQuery",
    "SystemQuery",
    "ProcessorStats",
    "MemoryStats",
    "StorageStats",
    "Statistics",
    "VmMemory",
    "VirtualNodeInfo",
    "MemoryInformationForVm",
    "SharedMemoryRegionInfo",
    "GuestConnectionInfo",
    "PropertyResponse",
    "Properties",
    "ComputeSystemProperties",
    "IntegrationComponentOperationalState",
    "IntegrationComponentOperatingStateReason",
    "IntegrationComponentStatus",
    "KvpSource",
    "KvpQuery",
    "ConsoleImageQuery",
    "ConsoleImage",
    # service queries
    "GetPropertyType",
    "Service_PropertyQuery",
    "ServiceProperties",
    "BasicInformation",
    "CpuGroupAffinity",
    "CpuGroupProperty",
    "CpuGroupConfig",
    "CpuGroupConfigurations",
    "SubnodeType",
    "Subnode",
    "LogicalProcessor",
    "ProcessorTopology",
    "QoSCapabilities",
    "ContainerCredentialGuardHvSocketServiceConfig",
    "ContainerCredentialGuardInstance",
    "ContainerCredentialGuardSystemInfo",
    "NonArchitecturalCoreSharing",
    "ProcessorCapabilitiesInfo",
    "VmProcessorRequirements",
]

System_PropertyType = Literal[
    "Memory",
    "Statistics",
    "ProcessList",
    "TerminateOnLastHandleClosed",
    "SharedMemoryRegion",
    "GuestConnection",
    # Not in SchemaReference.md; used by hcsshim (internal/hcs/schema2/property_type.go).
    "GuestMemory",
    "ICHeartbeatStatus",
    "ProcessorTopology",
    "CpuGroup",
    "SystemGUID",
]
"""A property requested from HcsGetComputeSystemProperties (schema 2.1).

The first six are documented; the rest are used by hcsshim against current hosts.
"""

PropertyType = System_PropertyType
"""Alias of :data:`System_PropertyType`."""


class System_PropertyQuery(TypedDict, total=False):
    """The query passed to HcsGetComputeSystemProperties (schema 2.1).

    With no query only the basic properties are returned. ``Queries`` (2.5) maps a property name to its query
    object; answers come back in ``Properties.PropertyResponses``.
    """

    PropertyTypes: List[System_PropertyType]
    Queries: Dict[str, Any]


class SystemQuery(TypedDict, total=False):
    """Filter for HcsEnumerateComputeSystems (schema 2.1); ``{}`` matches every system."""

    Ids: List[str]
    Names: List[str]
    Types: List[SystemType]
    Owners: List[str]


class ProcessorStats(TypedDict, total=False):
    """CPU runtime statistics in 100 ns units, ``Statistics.Processor`` (schema 2.1)."""

    TotalRuntime100ns: int
    RuntimeUser100ns: int
    RuntimeKernel100ns: int


class MemoryStats(TypedDict, total=False):
    """Memory statistics in bytes, ``Statistics.Memory`` (schema 2.1)."""

    MemoryUsageCommitBytes: int
    MemoryUsageCommitPeakBytes: int
    MemoryUsagePrivateWorkingSetBytes: int


class StorageStats(TypedDict, total=False):
    """Storage I/O statistics, ``Statistics.Storage`` (schema 2.1)."""

    ReadCountNormalized: int
    ReadSizeBytes: int
    WriteCountNormalized: int
    WriteSizeBytes: int


class Statistics(TypedDict, total=False):
    """Runtime statistics, returned in ``Properties.Statistics`` for ``"Statistics"`` queries (schema 2.1)."""

    Timestamp: DateTime
    ContainerStartTime: DateTime
    Uptime100ns: int
    Processor: ProcessorStats
    Memory: MemoryStats
    Storage: StorageStats


class VmMemory(TypedDict, total=False):
    """Memory state of a VM, ``MemoryInformationForVm.VirtualMachineMemory`` (schema 2.1)."""

    AvailableMemory: int
    AvailableMemoryBuffer: int
    ReservedMemory: int
    AssignedMemory: int
    SlpActive: bool
    BalancingEnabled: bool
    DmOperationInProgress: bool


class VirtualNodeInfo(TypedDict, total=False):
    """One virtual NUMA node of a VM (schema 2.1)."""

    VirtualNodeIndex: int
    PhysicalNodeNumber: int
    VirtualProcessorCount: int
    MemoryUsageInPages: int


class MemoryInformationForVm(TypedDict, total=False):
    """VM memory information, ``Properties.Memory`` for ``"Memory"`` queries (schema 2.1)."""

    VirtualNodeCount: int
    VirtualMachineMemory: VmMemory
    VirtualNodes: List[VirtualNodeInfo]


class SharedMemoryRegionInfo(TypedDict, total=False):
    """Where a shared-memory section landed in guest physical memory (schema 2.1)."""

    SectionName: str
    GuestPhysicalAddress: int


class GuestConnectionInfo(TypedDict, total=False):
    """Guest (GCS) capabilities, ``Properties.GuestConnectionInfo`` (schema 2.1).

    Each ``SupportedSchemaVersions`` entry x.y means x.0 through x.y.
    """

    SupportedSchemaVersions: List[Version]
    ProtocolVersion: int
    GuestDefinedCapabilities: Any


class PropertyResponse(TypedDict, total=False):
    """Answer to one named property query: an ``Error`` or a ``Response`` (schema 2.5)."""

    Error: ResultError
    Response: Any


class Properties(TypedDict, total=False):
    """Properties of a compute system (schema 2.1).

    Result of HcsGetComputeSystemProperties (``Id`` and ``SystemType`` are always present), and the element
    type of the HcsEnumerateComputeSystems result array. ``PropertyResponses`` is 2.5.
    """

    Id: str
    SystemType: SystemType
    RuntimeOsType: OsType
    Name: str
    Owner: str
    RuntimeId: Guid
    RuntimeTemplateId: str
    State: State
    Stopped: bool
    ExitType: NotificationType
    Memory: MemoryInformationForVm
    Statistics: Statistics
    ProcessList: List[ProcessDetails]
    TerminateOnLastHandleClosed: bool
    HostingSystemId: str
    SharedMemoryRegionInfo: List[SharedMemoryRegionInfo]
    GuestConnectionInfo: GuestConnectionInfo
    PropertyResponses: Dict[str, PropertyResponse]


class ComputeSystemProperties(TypedDict, total=False):
    """Basic properties of a compute system (schema 2.5)."""

    Id: str
    Name: str
    SystemType: SystemType
    State: State
    Owner: str
    RuntimeId: Guid
    RuntimeOsType: OsType
    HostingSystemId: str
    IsDummy: bool
    ObRoot: str
    RuntimeTemplateId: str


IntegrationComponentOperationalState = Literal[
    "Unknown", "Degraded", "Dormant", "Error", "LostCommunication", "NonRecoverableError", "NoContact", "Ok"
]
"""Operational state of an integration component (schema 2.5)."""

IntegrationComponentOperatingStateReason = Literal[
    "Unknown",
    "AppsInCriticalState",
    "CommunicationTimedOut",
    "FailedCommunication",
    "HealthyApps",
    "ProtocolMismatch",
]
"""Reason for an integration component's state (schema 2.5)."""


class IntegrationComponentStatus(TypedDict, total=False):
    """Status of an integration component such as the heartbeat (schema 2.5)."""

    IsEnabled: bool
    State: IntegrationComponentOperationalState
    Reason: IntegrationComponentOperatingStateReason


KvpSource = Literal["KvpSetByHost", "KvpSetByGuest", "GuestOSInfo"]
"""Which key-value pool a ``KvpQuery`` reads (schema 2.5)."""


class KvpQuery(TypedDict, total=False):
    """Query of the key-value exchange integration component (schema 2.5)."""

    Source: KvpSource
    Keys: List[str]


class ConsoleImageQuery(TypedDict, total=False):
    """Request for a screenshot of the VM console (schema 2.5).

    ``Flags`` 0x1 returns DMTF OctetString data (4-byte big-endian length prefix).
    """

    Width: int
    Height: int
    Flags: int


class ConsoleImage(TypedDict, total=False):
    """A VM console screenshot, base64-encoded (schema 2.5)."""

    Image: ByteArray


# --------------------------------------------------------------------------------------------- service

GetPropertyType = Literal["Basic", "CpuGroup", "ProcessorTopology", "ContainerCredentialGuard", "QoSCapabilities"]
"""A property requested from HcsGetServiceProperties (schema 2.1)."""


class Service_PropertyQuery(TypedDict, total=False):
    """The query passed to HcsGetServiceProperties (schema 2.1).

    ``{"PropertyTypes": ["Basic"]}`` returns a :class:`BasicInformation`. ``PropertyQueries`` (2.5) maps a
    property name to its query object (e.g. ``{"ProcessorCapabilities": {}}``).
    """

    PropertyTypes: List[GetPropertyType]
    PropertyQueries: Dict[str, Any]


class ServiceProperties(TypedDict, total=False):
    """Result of HcsGetServiceProperties (schema 2.1).

    ``Properties`` has one entry per requested ``PropertyTypes`` item, in order (e.g. a
    :class:`BasicInformation` for ``"Basic"``). ``PropertyResponses`` (2.5) answers ``PropertyQueries``.
    """

    Properties: List[Any]
    PropertyResponses: Dict[str, PropertyResponse]


class BasicInformation(TypedDict, total=False):
    """Schema versions supported by the host, the ``"Basic"`` service property (schema 2.1).

    An entry A.X means every version A.0 through A.X is supported; see
    :func:`pyhcs.schema.versions.supported_schema_versions`.
    """

    SupportedSchemaVersions: List[Version]


class CpuGroupAffinity(TypedDict, total=False):
    """Logical processors of a CPU group (schema 2.1)."""

    LogicalProcessorCount: int
    LogicalProcessors: List[int]


class CpuGroupProperty(TypedDict, total=False):
    """A property code/value of a CPU group (schema 2.1)."""

    PropertyCode: int
    PropertyValue: int


class CpuGroupConfig(TypedDict, total=False):
    """One host CPU group (schema 2.1; ``HypervisorGroupId`` 2.5)."""

    GroupId: Guid
    Affinity: CpuGroupAffinity
    GroupProperties: List[CpuGroupProperty]
    HypervisorGroupId: int


class CpuGroupConfigurations(TypedDict, total=False):
    """The ``"CpuGroup"`` service property: all host CPU groups (schema 2.1)."""

    CpuGroups: List[CpuGroupConfig]


SubnodeType = Literal["Any", "Socket", "Cluster", "L3"]
"""Kind of processor sub-node (schema 2.4)."""


class Subnode(TypedDict, total=False):
    """A processor sub-node a logical processor belongs to (schema 2.4)."""

    Type: SubnodeType
    Id: int


class LogicalProcessor(TypedDict, total=False):
    """One host logical processor (schema 2.1; ``Subnodes`` 2.4)."""

    LpIndex: int
    NodeNumber: int
    PackageId: int
    CoreId: int
    RootVpIndex: int
    Subnodes: List[Subnode]


class ProcessorTopology(TypedDict, total=False):
    """The ``"ProcessorTopology"`` service property (schema 2.1)."""

    LogicalProcessorCount: int
    LogicalProcessors: List[LogicalProcessor]


class QoSCapabilities(TypedDict, total=False):
    """The ``"QoSCapabilities"`` service property (schema 2.1)."""

    ProcessorQoSSupported: bool


class ContainerCredentialGuardHvSocketServiceConfig(TypedDict, total=False):
    """HvSocket service settings of a Container Credential Guard instance (schema 2.1)."""

    ServiceId: Guid
    ServiceConfig: HvSocketServiceConfig


class ContainerCredentialGuardInstance(TypedDict, total=False):
    """A running Container Credential Guard instance (schema 2.1)."""

    Id: str
    CredentialGuard: ContainerCredentialGuardState
    HvSocketConfig: ContainerCredentialGuardHvSocketServiceConfig


class ContainerCredentialGuardSystemInfo(TypedDict, total=False):
    """The ``"ContainerCredentialGuard"`` service property (schema 2.1)."""

    Instances: List[ContainerCredentialGuardInstance]


NonArchitecturalCoreSharing = Literal["Unreported", "Off", "On"]
"""Non-architectural core sharing (SMT) reporting (schema 2.5)."""


class ProcessorCapabilitiesInfo(TypedDict, total=False):
    """Host processor feature capabilities (schema 2.5)."""

    ProcessorFeatures: List[ProcessorFeature]
    XsaveProcessorFeatures: List[XsaveProcessorFeature]
    CacheLineFlushSize: int
    ImplementedPhysicalAddressBits: int
    NonArchitecturalCoreSharing: NonArchitecturalCoreSharing


class VmProcessorRequirements(TypedDict, total=False):
    """Processor features a VM (or saved state) requires (schema 2.5)."""

    ProcessorFeatures: List[ProcessorFeature]
    XsaveProcessorFeatures: List[XsaveProcessorFeature]
    CacheLineFlushSize: int
    ImplementedPhysicalAddressBits: int
    NonArchitecturalCoreSharing: NonArchitecturalCoreSharing
