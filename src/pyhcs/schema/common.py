"""Shared schema pieces: the ``Version`` document and the enums used by more than one area.

HCS documents are JSON; every TypedDict in :mod:`pyhcs.schema` describes one JSON object whose keys are the
schema's field names verbatim. Enums are strings on the wire and are modelled as ``Literal`` aliases.
Versions in docstrings ("2.1", "2.4", ...) are the schema version that introduced a type or field according
to Microsoft's HCS JSON schema reference.
"""

from typing import Dict, List

from typing_extensions import Literal, Required, TypedDict

__all__ = [
    "Guid",
    "DateTime",
    "ByteArray",
    "MacAddress",
    "Version",
    "SchemaVersion",
    "State",
    "SystemState",
    "SystemType",
    "OsType",
    "NotificationType",
    "PathType",
    "ModifyRequestType",
    "RequestType",
    "StateOverride",
    "StorageQoS",
    "HvSocketServiceConfig",
    "HvSocketSystemConfig",
    "RegistryHive",
    "RegistryValueType",
    "RegistryKey",
    "RegistryValue",
    "RegistryChanges",
]

Guid = str
"""A GUID string such as ``"7a9e3f1c-0000-4000-8000-000000000000"`` (schema type ``Guid``)."""

DateTime = str
"""An ISO 8601 date-time string (schema type ``DateTime``)."""

ByteArray = str
"""Base64-encoded bytes (schema types ``ByteArray``, ``NullableByteArray``, ``string_binary``)."""

MacAddress = str
"""A MAC address string, e.g. ``"00-15-5D-12-34-56"`` (schema type ``MacAddress``)."""


class Version(TypedDict, total=False):
    """A ``Major.Minor`` version (schema 2.0).

    Used as ``ComputeSystem.SchemaVersion``, ``HostedSystem.SchemaVersion``, ``LayerData.SchemaVersion``,
    ``VirtualMachine.Version`` (2.5) and in ``BasicInformation.SupportedSchemaVersions``. Different majors are
    incompatible; a lower minor is a compatible subset of a higher one.
    """

    Major: Required[int]
    Minor: Required[int]


SchemaVersion = Version
"""The ``Version`` struct under the name it has as a field of ``ComputeSystem`` (``"SchemaVersion"``)."""


State = Literal["Created", "Running", "Paused", "Stopped", "SavedAsTemplate", "Unknown"]
"""State of a compute system as reported in ``Properties.State`` (schema 2.1; enum ``State``)."""

SystemState = State
"""Alias of :data:`State`."""

SystemType = Literal["Container", "VirtualMachine"]
"""Kind of compute system, in ``Properties.SystemType`` and ``SystemQuery.Types`` (schema 2.1)."""

OsType = Literal["Unknown", "Windows", "Linux"]
"""Runtime OS of a compute system, ``Properties.RuntimeOsType`` (schema 2.1)."""

NotificationType = Literal["None", "GracefulExit", "ForcedExit", "UnexpectedExit", "Unknown"]
"""Exit type of a compute system, in ``SystemExitStatus.ExitType`` and ``Properties.ExitType`` (schema 2.1).

``GracefulExit``: guest shutdown or HcsShutDownComputeSystem; ``ForcedExit``: HcsTerminateComputeSystem.
"""

PathType = Literal["AbsolutePath", "VirtualSmbShareName"]
"""How ``Layer.Path`` / ``MappedDirectory.HostPath`` is interpreted (schema 2.1)."""

ModifyRequestType = Literal["Add", "Remove", "Update"]
"""Verb of a ``ModifySettingRequest`` / ``GuestModifySettingRequest`` (schema 2.0)."""

RequestType = ModifyRequestType
"""Alias of :data:`ModifyRequestType` (the field is called ``RequestType``)."""

StateOverride = Literal["Default", "Disabled", "Enabled"]
"""Tri-state used by ``NetworkAdapter.ConnectionState`` and ``KvpExchange`` (schema 2.4)."""


class StorageQoS(TypedDict, total=False):
    """Storage quality-of-service limits, relative to a storage volume (schema 2.0).

    Used by ``Storage.QoS`` (containers) and ``VirtualMachine.StorageQoS`` (2.1).
    """

    IopsMaximum: int
    BandwidthMaximum: int


class HvSocketServiceConfig(TypedDict, total=False):
    """Per-service Hyper-V socket ACLs: SDDL strings checked on bind/connect (schema 2.0)."""

    BindSecurityDescriptor: str
    ConnectSecurityDescriptor: str
    AllowWildcardBinds: bool


class HvSocketSystemConfig(TypedDict, total=False):
    """Hyper-V socket configuration of a container or VM (schema 2.0).

    ``ServiceTable`` maps a service GUID to its :class:`HvSocketServiceConfig`.
    """

    DefaultBindSecurityDescriptor: str
    DefaultConnectSecurityDescriptor: str
    ServiceTable: Dict[Guid, HvSocketServiceConfig]


RegistryHive = Literal["System", "Software", "Security", "Sam"]
"""Registry hive of a ``RegistryKey`` (schema 2.0)."""

RegistryValueType = Literal[
    "None", "String", "ExpandedString", "MultiString", "Binary", "DWord", "QWord", "CustomType"
]
"""Type of a ``RegistryValue`` (schema 2.0)."""


class RegistryKey(TypedDict, total=False):
    """A registry key in a guest hive (schema 2.0)."""

    Hive: RegistryHive
    Name: str
    Volatile: bool


class RegistryValue(TypedDict, total=False):
    """A registry value to write; exactly one of the ``*Value`` fields is set (schema 2.0).

    ``CustomType`` is used only with ``Type: "CustomType"``; the data is then in ``BinaryValue``.
    """

    Key: RegistryKey
    Name: str
    Type: RegistryValueType
    StringValue: str
    BinaryValue: ByteArray
    DWordValue: int
    QWordValue: int
    CustomType: int


class RegistryChanges(TypedDict, total=False):
    """Registry edits applied to a container or Windows guest at creation/boot (schema 2.0)."""

    AddValues: List[RegistryValue]
    DeleteKeys: List[RegistryKey]
