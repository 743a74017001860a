"""Result and event documents: the ``ResultError`` error document with its attribution records, the
``SystemExitStatus`` of HcsEventSystemExited, crash reports and operation information."""

from typing import List

from typing_extensions import Literal, NotRequired, Required, TypedDict

from .common import DateTime, Guid, NotificationType

__all__ = [
    "EventDataType",
    "EventData",
    "ErrorEvent",
    "ExitInitiator",
    "WorkerExitType",
    "WorkerExitDetail",
    "WorkerExit",
    "GuestCrash",
    "TripleFault",
    "InjectNonMaskableInterrupt",
    "OperationFailureDetail",
    "OperationFailure",
    "SystemExitDetail",
    "SystemExit",
    "VirtualDeviceFailureDetail",
    "VirtualDeviceFailure",
    "AttributionRecord",
    "ResultError",
    "SystemExitStatus",
    "WindowsCrashPhase",
    "WindowsCrashReport",
    "CrashReport",
    "OperationType",
    "OperationFailureInfo",
    "OperationInfo",
    "OperationProgress",
    "OperationNotificationInfo",
]

EventDataType = Literal[
    "Empty", "String", "AnsiString", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64",
    "UInt64", "Single", "Double", "Boolean", "Binary", "Guid",
]
"""Type of an ``EventData`` element, after EVT_VARIANT_TYPE (schema 2.1)."""


class EventData(TypedDict, total=False):
    """One typed value of an ``ErrorEvent``; the value is always rendered as a string (schema 2.1)."""

    Type: EventDataType
    Value: str


class ErrorEvent(TypedDict, total=False):
    """An ETW event describing an error, in ``ResultError.ErrorEvents`` (schema 2.1)."""

    Message: str
    StackTrace: str
    Provider: Guid
    EventId: int
    Flags: int
    Source: str
    Data: List[EventData]


ExitInitiator = Literal["None", "GuestOS", "Client", "Internal", "Unknown"]
"""Who initiated an exit (schema 2.4)."""

WorkerExitType = Literal[
    "None",
    "InitializationFailed",
    "Stopped",
    "Saved",
    "StoppedOnReset",
    "UnexpectedStop",
    "ResetFailed",
    "UnrecoverableError",
]
"""How the VM worker process exited (schema 2.4)."""

WorkerExitDetail = Literal[
    "Invalid", "PowerOff", "PowerOffCritical", "Reset", "GuestCrash", "GuestFirmwareCrash", "TripleFault",
    "DeviceFatalApicRequest", "DeviceFatalMsrRequest", "DeviceFatalException", "DeviceFatalError",
    "DeviceMachineCheck", "EmulatorError", "VidTerminate", "ProcessUnexpectedExit", "InitializationFailure",
    "InitializationStartTimeout", "ColdStartFailure", "ResetStartFailure", "FastRestoreStartFailure",
    "RestoreStartFailure", "FastSavePreservePartition", "FastSavePreservePartitionHandleTransfer", "FastSave",
    "CloneTemplate", "Save", "Migrate", "MigrateFailure", "CannotReferenceVm", "MgotUnregister",
    "FastSavePreservePartitionHandleTransferStorage", "FastSavePreservePartitionHandleTransferNetworking",
    "FastSavePreservePartitionHandleTransferStorageAndNetworking", "FastSavePreservePartitionHsr",
    "FastSavePreservePartitionWithHandleTransfer", "FastSaveWithHandleTransfer",
]
"""Detailed reason for a VM stop; informational only (schema 2.4, some values 2.5)."""


class WorkerExit(TypedDict, total=False):
    """Attribution: the VM worker process exited (schema 2.4)."""

    ExitCode: int
    Type: WorkerExitType
    Detail: WorkerExitDetail
    Initiator: ExitInitiator


class GuestCrash(TypedDict, total=False):
    """Attribution: the guest OS crashed; ``CrashParameters`` as reported by the guest (schema 2.4)."""

    CrashParameters: List[int]


class TripleFault(TypedDict, total=False):
    """Attribution: the guest triple-faulted (schema 2.4)."""

    ErrorType: int


class InjectNonMaskableInterrupt(TypedDict, total=False):
    """Attribution: an NMI was injected by the host; empty object ``{}`` (schema 2.4)."""


OperationFailureDetail = Literal[
    "Invalid", "CreateInternalError", "ConstructStateError", "RuntimeOsTypeMismatch", "Construct", "Start",
    "Pause", "Resume", "Shutdown", "Terminate", "Save", "GetProperties", "Modify", "Crash", "GuestCrash",
    "LifecycleNotify", "ExecuteProcess", "GetProcessInfo", "WaitForProcess", "SignalProcess", "ModifyProcess",
    "PrepareForHosting", "RegisterHostedSystem", "UnregisterHostedSystem", "PrepareForClone",
    "GetCloneTemplate",
]
"""Which operation failed, mostly named after the HCS API call (schema 2.4)."""


class OperationFailure(TypedDict, total=False):
    """Attribution: an HCS operation failed (schema 2.4)."""

    Detail: OperationFailureDetail


SystemExitDetail = Literal[
    "Invalid", "HcsApiFatalError", "ServiceStop", "Shutdown", "Terminate", "UnexpectedExit"
]
"""Why a compute system exited (schema 2.4)."""


class SystemExit(TypedDict, total=False):
    """Attribution: the compute system exited, and who initiated it (schema 2.4)."""

    Detail: SystemExitDetail
    Initiator: ExitInitiator


VirtualDeviceFailureDetail = Literal[
    "None", "Create", "Initialize", "StartReservingResources", "FinishReservingResources",
    "FreeReservedResources", "SaveReservedResources", "PowerOnCold", "PowerOnRestore", "PowerOff", "Save",
    "Resume", "Pause", "EnableOptimizations", "StartDisableOptimizations", "FinishDisableOptimizations",
    "Reset", "PostReset", "Teardown", "SaveCompatibilityInfo", "MetricRestore", "MetricEnumerate",
    "MetricEnumerateForSave", "MetricReset", "MetricEnable", "MetricDisable",
]
"""Phase in which a virtual device failed; informational only (schema 2.4)."""


class VirtualDeviceFailure(TypedDict, total=False):
    """Attribution: a virtual device failed (schema 2.4)."""

    Detail: VirtualDeviceFailureDetail
    Name: str
    DeviceId: Guid
    InstanceId: Guid


class AttributionRecord(TypedDict, total=False):
    """One cause of an error or exit; normally exactly one field is set (schema 2.4).

    Found in ``ResultError.Attribution`` and ``SystemExitStatus.Attribution``.
    """

    WorkerExit: WorkerExit
    GuestCrash: GuestCrash
    TripleFault: TripleFault
    InjectNonMaskableInterrupt: InjectNonMaskableInterrupt
    OperationFailure: OperationFailure
    SystemExit: SystemExit
    VirtualDeviceFailure: VirtualDeviceFailure


class ResultError(TypedDict):
    """Extended error information returned by HCS as an operation's result document (schema 2.1).

    ``Error`` is the HRESULT as a signed 32-bit int (mask with ``0xFFFFFFFF`` to compare with HCS_E_*
    constants). ``ErrorEvents`` and ``Attribution`` are 2.4.
    """

    Error: Required[int]
    ErrorMessage: NotRequired[str]
    ErrorEvents: NotRequired[List[ErrorEvent]]
    Attribution: NotRequired[List[AttributionRecord]]


class SystemExitStatus(TypedDict, total=False):
    """EventData of an HcsEventSystemExited event (schema 2.1).

    ``Status`` is the exit HRESULT; ``ExitType`` 2.2; ``Attribution`` 2.4.
    """

    Status: int
    ExitType: NotificationType
    Attribution: List[AttributionRecord]


WindowsCrashPhase = Literal["Inactive", "CrashValues", "Starting", "Started", "Writing", "Complete"]
"""Progress of a Windows guest memory dump (schema 2.1)."""


class WindowsCrashReport(TypedDict, total=False):
    """Windows-specific part of a ``CrashReport`` (schema 2.1).

    ``DumpFile`` is valid only when ``FinalPhase`` is ``"Complete"``.
    """

    DumpFile: str
    OsMajorVersion: int
    OsMinorVersion: int
    OsBuildNumber: int
    OsServicePackMajorVersion: int
    OsServicePackMinorVersion: int
    OsSuiteMask: int
    OsProductType: int
    Status: int
    FinalPhase: WindowsCrashPhase


class CrashReport(TypedDict, total=False):
    """Guest crash information (schema 2.1).

    EventData of HcsEventSystemCrashInitiated / HcsEventSystemCrashReport, and the input of
    HcsSubmitWerReport. ``CrashParameters`` (bug check code + 4 parameters) and ``CrashLog`` are 2.3;
    ``Status``, ``PreOSId`` and ``CrashStackUnavailable`` 2.4.
    """

    SystemId: str
    ActivityId: Guid
    WindowsCrashInfo: WindowsCrashReport
    CrashParameters: List[int]
    CrashLog: str
    Status: int
    PreOSId: int
    CrashStackUnavailable: bool


OperationType = Literal[
    "None", "Construct", "Start", "Pause", "Resume", "Shutdown", "Terminate", "Save", "GetProperties",
    "Modify", "Crash", "ExecuteProcess", "GetProcessInfo", "SignalProcess", "ModifyProcess",
    "CancelOperation",
]
"""Kind of operation in an ``OperationInfo``, named after the HCS API call (schema 2.6)."""


class OperationFailureInfo(TypedDict, total=False):
    """Failure of an operation: its HRESULT (schema 2.6)."""

    Result: int


class OperationInfo(TypedDict, total=False):
    """Information about an operation on a compute system; no ``FailureInfo`` means success (schema 2.6)."""

    Operation: OperationType
    StartTimestamp: DateTime
    EndTimestamp: DateTime
    FailureInfo: OperationFailureInfo


class OperationProgress(TypedDict, total=False):
    """Progress of an operation; the reference lists it (with the 2.6 operation types) as an empty object."""


class OperationNotificationInfo(TypedDict, total=False):
    """Payload of an operation notification; the reference lists it (with the 2.6 operation types) as an
    empty object."""
