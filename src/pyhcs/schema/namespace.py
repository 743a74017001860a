"""Container namespace definitions (the ``ContainersDef_*`` family, schema 2.3).

These describe silo namespaces (job, file system, object manager, registry, devices...) and reach HCS
through ``Container.AdditionalDeviceNamespace``. Unlike the rest of the schema their JSON keys are lower-case
(sometimes snake_case), exactly as the reference spells them; the TypedDicts keep those keys verbatim.
"""

from typing import List

from typing_extensions import Literal, TypedDict

from .common import ByteArray, Guid

__all__ = [
    "FilesystemIsolationMode",
    "FilesystemNestingMode",
    "InterfaceClassType",
    "JobTerminationPolicy",
    "ObjectDirectoryShadow",
    "ObjectSymlinkScope",
    "ContainersDef_BatchedBinding",
    "FilesystemLayer",
    "FilesystemNamespace",
    "JobCpu",
    "JobMemory",
    "JobSystemRoot",
    "JobNamespace",
    "MountManagerMountPoint",
    "MountManagerNamespace",
    "NamedPipeSymlink",
    "NamedPipeNamespace",
    "ObjectSymlink",
    "ObjectDirectory",
    "ObjectNamespace",
    "RegistrySymlink",
    "RegistryRedirectionNode",
    "RegistryLayer",
    "RegistryMakeValue",
    "RegistryMakeKey",
    "RegistryDeleteKey",
    "RegistryHiveStack",
    "RegistryNamespace",
    "NetworkNamespace",
    "InterfaceClass",
    "DeviceCategory",
    "DeviceInstance",
    "DeviceNamespace",
    "DownlevelFixups",
    "DownlevelSku",
    "DownlevelNamespace",
    "HostFiles",
    "Namespace",
    "DeviceExtension",
    "ContainersDef_Device",
    "ContainersDef_Container",
]

FilesystemIsolationMode = Literal["hard", "soft"]
"""File system isolation of a ``FilesystemNamespace`` (schema 2.3)."""

FilesystemNestingMode = Literal["inner", "outer"]
"""File system nesting of a ``FilesystemNamespace`` (schema 2.3)."""

InterfaceClassType = Literal["Inherit", "DeviceInstance", "ClassGuid"]
"""How an ``InterfaceClass`` is applied; ordering-sensitive when merged (schema 2.3)."""

JobTerminationPolicy = Literal["PermanentQuiescent", "KillOnHandleClose"]
"""Termination policy of a ``JobNamespace`` (schema 2.3)."""

ObjectDirectoryShadow = Literal["false", "true", "ifexists"]
"""Shadowing of an object-manager directory (schema 2.3)."""

ObjectSymlinkScope = Literal["Local", "Global", "GlobalDropSilo"]
"""Scope of an ``ObjectSymlink`` (schema 2.3)."""


class ContainersDef_BatchedBinding(TypedDict, total=False):
    """A batched file-system binding (schema 2.3)."""

    filepath: str
    bindingroots: List[str]


class FilesystemLayer(TypedDict, total=False):
    """A layer of a ``FilesystemNamespace`` (schema 2.3)."""

    identifier: Guid
    path: str


class FilesystemNamespace(TypedDict, total=False):
    """File system namespace of a container (schema 2.3)."""

    path: str
    isolation: FilesystemIsolationMode
    nesting: FilesystemNestingMode
    layer: List[FilesystemLayer]
    bindings: List[ContainersDef_BatchedBinding]


class JobCpu(TypedDict, total=False):
    """CPU rate/weight of a ``JobNamespace`` (schema 2.3)."""

    rate: int
    weight: int


class JobMemory(TypedDict, total=False):
    """Memory limit of a ``JobNamespace`` (schema 2.3)."""

    limit: int


class JobSystemRoot(TypedDict, total=False):
    """System root of a ``JobNamespace`` (schema 2.3)."""

    path: str


class JobNamespace(TypedDict, total=False):
    """Job object settings of a container namespace (schema 2.3)."""

    cpu: JobCpu
    memory: JobMemory
    systemroot: JobSystemRoot
    terminationpolicy: JobTerminationPolicy
    threadimpersonation: bool


class MountManagerMountPoint(TypedDict, total=False):
    """A mount-manager mount point (schema 2.3)."""

    name: str
    path: str


class MountManagerNamespace(TypedDict, total=False):
    """Mount-manager namespace (schema 2.3)."""

    mount_point: List[MountManagerMountPoint]


class NamedPipeSymlink(TypedDict, total=False):
    """A named-pipe symlink (schema 2.3)."""

    name: str
    path: str


class NamedPipeNamespace(TypedDict, total=False):
    """Named-pipe namespace (schema 2.3)."""

    symlink: List[NamedPipeSymlink]


class ObjectSymlink(TypedDict, total=False):
    """An object-manager symbolic link (schema 2.3)."""

    name: str
    path: str
    scope: ObjectSymlinkScope
    pathtoclone: str
    access_mask: int


class ObjectDirectory(TypedDict, total=False):
    """An object-manager directory; may nest (schema 2.3)."""

    name: str
    clonesd: str
    shadow: ObjectDirectoryShadow
    symlink: List[ObjectSymlink]
    objdir: List["ObjectDirectory"]


class ObjectNamespace(TypedDict, total=False):
    """Object-manager namespace (schema 2.3)."""

    shadow: ObjectDirectoryShadow
    symlink: List[ObjectSymlink]
    objdir: List[ObjectDirectory]


class RegistrySymlink(TypedDict, total=False):
    """A registry symlink (schema 2.3)."""

    key: str
    target: str


class RegistryRedirectionNode(TypedDict, total=False):
    """A registry redirection node (schema 2.3)."""

    containerpath: str
    hostpath: str
    hivestack: str
    access_mask: int
    trustedhive: bool
    exitnode: bool


class RegistryLayer(TypedDict, total=False):
    """A layer of a registry hive stack (schema 2.3).

    ``fileaccesstoken`` refers to a token handle and is meant for in-memory use only.
    """

    hosthive: str
    filepath: str
    identifier: Guid
    readonly: bool
    immutable: bool
    inherittrustclass: bool
    trustedhive: bool
    writethrough: bool
    fileaccesstoken: int


class RegistryMakeValue(TypedDict, total=False):
    """A registry value created in a hive stack (schema 2.3)."""

    name: str
    data_multistring: str
    data_dword: int
    data_string: str
    data_binary: ByteArray


class RegistryMakeKey(TypedDict, total=False):
    """A registry key created in a hive stack; may nest (schema 2.3)."""

    name: str
    clonesd: str
    mkkey: List["RegistryMakeKey"]
    mkvalue: List[RegistryMakeValue]
    volatile: bool


class RegistryDeleteKey(TypedDict, total=False):
    """A registry key deleted from a hive stack (schema 2.3)."""

    name: str


class RegistryHiveStack(TypedDict, total=False):
    """A stack of registry hive layers (schema 2.3)."""

    hive: str
    layer: List[RegistryLayer]
    mkkey: List[RegistryMakeKey]
    delkey: List[RegistryDeleteKey]


class RegistryNamespace(TypedDict, total=False):
    """Registry namespace (schema 2.3)."""

    symlink: List[RegistrySymlink]
    redirectionnode: List[RegistryRedirectionNode]
    hivestack: List[RegistryHiveStack]


class NetworkNamespace(TypedDict, total=False):
    """Network namespace: the network compartment (schema 2.3)."""

    compartment: str


class InterfaceClass(TypedDict, total=False):
    """A device interface class exposed to a container (schema 2.3)."""

    type: InterfaceClassType
    identifier: Guid
    recurse: bool


class DeviceCategory(TypedDict, total=False):
    """A named group of device interface classes (schema 2.3)."""

    name: str
    interface_class: List[InterfaceClass]


class DeviceInstance(TypedDict, total=False):
    """A single device instance exposed to a container (schema 2.3)."""

    id: str
    location_path: str
    port_name: str
    interface_class: List[InterfaceClass]


class DeviceNamespace(TypedDict, total=False):
    """Device namespace of a container (schema 2.3)."""

    requires_driverstore: bool
    device_category: List[DeviceCategory]
    device_instance: List[DeviceInstance]


class DownlevelFixups(TypedDict, total=False):
    """Per-build file fix-ups for a down-level SKU (schema 2.3)."""

    build_number: int
    lcu: int
    file: List[str]


class DownlevelSku(TypedDict, total=False):
    """A down-level SKU and its fix-ups (schema 2.3)."""

    name: str
    fixups: List[DownlevelFixups]


class DownlevelNamespace(TypedDict, total=False):
    """Down-level image namespace (schema 2.3; present in the 2.3-era reference, dropped from the current one)."""

    base_image_path: str
    sandbox_path: str
    sku: List[DownlevelSku]


class HostFiles(TypedDict, total=False):
    """Host files projected into the container (schema 2.3; ``optionalfile`` only in the 2.3-era reference)."""

    base_image_path: str
    sandbox_path: str
    file: List[str]
    optionalfile: List[str]


class Namespace(TypedDict, total=False):
    """A container namespace definition (schema 2.3)."""

    job: JobNamespace
    filesystem: FilesystemNamespace
    mountmgr: MountManagerNamespace
    namedpipe: NamedPipeNamespace
    ob: ObjectNamespace
    registry: RegistryNamespace
    network: NetworkNamespace
    device: DeviceNamespace
    downlevel: DownlevelNamespace
    hostfiles: HostFiles


class DeviceExtension(TypedDict, total=False):
    """Namespace additions merged in when a device category is assigned (schema 2.3)."""

    device_category: DeviceCategory
    namespace: Namespace


class ContainersDef_Device(TypedDict, total=False):
    """Device extensions for device assignment; ``Container.AdditionalDeviceNamespace`` (schema 2.3)."""

    device_extension: List[DeviceExtension]


class ContainersDef_Container(TypedDict, total=False):
    """A container namespace definition wrapper (schema 2.3)."""

    namespace: Namespace
