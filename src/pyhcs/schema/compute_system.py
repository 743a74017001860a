"""The ``ComputeSystem`` document given to HcsCreateComputeSystem, and the container half of it.

A compute system is exactly one of: a ``Container`` (Windows Server container, process-isolated), a
``VirtualMachine`` (see :mod:`pyhcs.schema.virtual_machine`), or a ``HostedSystem`` launched inside the
existing system named by ``HostingSystemId``.
"""

from typing import Any, List

from typing_extensions import Literal, TypedDict

from .common import (
    ByteArray,
    Guid,
    HvSocketSystemConfig,
    PathType,
    RegistryChanges,
    StorageQoS,
    Version,
)
from .namespace import ContainersDef_Device
from .virtual_machine import VirtualMachine

__all__ = [
    "CacheMode",
    "MappedPipePathType",
    "DeviceType",
    "ContainerCredentialGuardTransport",
    "GuestOs",
    "Layer",
    "Storage",
    "MappedDirectory",
    "MappedPipe",
    "Container_Memory",
    "Container_Processor",
    "Container_HvSocket",
    "HvSocket",
    "Networking",
    "ContainerCredentialGuardState",
    "Device",
    "Container",
    "HostedSystem",
    "ComputeSystem",
]

CacheMode = Literal["Unspecified", "Disabled", "Enabled", "Private", "PrivateAllowSharing"]
"""Caching of a container ``Layer`` (schema 2.0); ``Unspecified`` means the default (``Enabled``)."""

MappedPipePathType = Literal["AbsolutePath", "VirtualSmbPipeName"]
"""How ``MappedPipe.HostPath`` is interpreted (schema 2.1)."""

DeviceType = Literal["ClassGuid", "DeviceInstance", "GpuMirror"]
"""Kind of device assigned to a container, ``Device.Type`` (schema 2.2)."""

ContainerCredentialGuardTransport = Literal["LRPC", "HvSocket"]
"""Transport of a Container Credential Guard instance (schema 2.1)."""


class GuestOs(TypedDict, total=False):
    """Guest OS settings of a container: its host name (schema 2.0)."""

    HostName: str


class Layer(TypedDict, total=False):
    """One read-only parent layer of a container's storage (schema 2.0).

    Also used by ``LayerData`` and ``CombinedLayers``. ``PathType`` is 2.1.
    """

    Id: Guid
    Path: str
    PathType: PathType
    Cache: CacheMode


class Storage(TypedDict, total=False):
    """Container storage: the parent ``Layers`` (ordered, topmost first) and the scratch ``Path`` (schema 2.0)."""

    Layers: List[Layer]
    Path: str
    QoS: StorageQoS


class MappedDirectory(TypedDict, total=False):
    """A host directory mapped into the container (schema 2.0).

    ``HostPathType`` 2.1, ``SupportCloudFiles`` 2.3.
    """

    HostPath: str
    HostPathType: PathType
    ContainerPath: str
    ReadOnly: bool
    SupportCloudFiles: bool


class MappedPipe(TypedDict, total=False):
    """A host named pipe mapped into the container (schema 2.0; ``HostPathType`` 2.1)."""

    ContainerPipeName: str
    HostPath: str
    HostPathType: MappedPipePathType


class Container_Memory(TypedDict, total=False):
    """Memory limit of a container, ``Container.Memory`` (schema 2.0; ``SizeInMB`` 2.1)."""

    SizeInMB: int


class Container_Processor(TypedDict, total=False):
    """CPU limits of a container, ``Container.Processor`` (schema 2.0).

    ``Count``, ``Weight`` (0..10000) and ``Maximum`` (percent x 100) are mutually exclusive.
    """

    Count: int
    Weight: int
    Maximum: int


class Container_HvSocket(TypedDict, total=False):
    """Hyper-V socket settings of a container, ``Container.HvSocket`` (schema 2.0)."""

    Config: HvSocketSystemConfig
    EnablePowerShellDirect: bool


HvSocket = Container_HvSocket
"""Alias of :class:`Container_HvSocket` under hcsshim's name for it (the VM one is ``HvSocket2``)."""


class Networking(TypedDict, total=False):
    """Network configuration of a container (schema 2.0).

    ``Namespace`` is an HNS namespace GUID on Windows (a string on Linux); ``NetworkAdapters`` lists HNS
    endpoint GUIDs. ``DnsSearchList`` is a comma-separated string.
    """

    AllowUnqualifiedDnsQuery: bool
    DnsSearchList: str
    NetworkSharedContainerName: str
    Namespace: str
    NetworkAdapters: List[Guid]


class ContainerCredentialGuardState(TypedDict, total=False):
    """Credential Guard (gMSA) state forwarded to a container (schema 2.1)."""

    Cookie: ByteArray
    RpcEndpoint: str
    Transport: ContainerCredentialGuardTransport
    CredentialSpec: str


class Device(TypedDict, total=False):
    """A host device assigned to a container (schema 2.1; ``Type``/``LocationPath`` 2.2).

    ``InterfaceClassGuid`` is used with ``Type: "ClassGuid"``; ``LocationPath`` with ``"DeviceInstance"``.
    """

    Type: DeviceType
    InterfaceClassGuid: Guid
    LocationPath: str


class Container(TypedDict, total=False):
    """Configuration of a Windows Server container, ``ComputeSystem.Container`` (schema 2.0).

    ``ContainerCredentialGuard`` and ``AssignedDevices`` are 2.1; ``AdditionalDeviceNamespace`` 2.3.
    """

    GuestOs: GuestOs
    Storage: Storage
    MappedDirectories: List[MappedDirectory]
    MappedPipes: List[MappedPipe]
    Memory: Container_Memory
    Processor: Container_Processor
    Networking: Networking
    HvSocket: Container_HvSocket
    ContainerCredentialGuard: ContainerCredentialGuardState
    RegistryChanges: RegistryChanges
    AssignedDevices: List[Device]
    AdditionalDeviceNamespace: ContainersDef_Device


class HostedSystem(TypedDict, total=False):
    """A container hosted inside another compute system (e.g. a utility VM), with its own schema version
    (schema 2.0). Passed as ``ComputeSystem.HostedSystem``."""

    SchemaVersion: Version
    Container: Container


class ComputeSystem(TypedDict, total=False):
    """The document passed to HcsCreateComputeSystem (schema 2.0).

    Set exactly one of ``Container``, ``VirtualMachine`` or ``HostedSystem`` (the last together with
    ``HostingSystemId``). With ``ShouldTerminateOnLastHandleClosed`` the system is terminated when its last
    HCS_SYSTEM handle closes. ``HostedSystem`` is schema "Any"; :class:`HostedSystem` describes its usual shape.
    """

    Owner: str
    SchemaVersion: Version
    HostingSystemId: str
    HostedSystem: Any
    Container: Container
    VirtualMachine: VirtualMachine
    ShouldTerminateOnLastHandleClosed: bool
