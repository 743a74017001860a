"""The enumerations of ComputeDefs.h as Python enums (values identical to the SDK; tests check them against the
cffi declarations). Values above INT_MAX (event groups, notification flags) are kept unsigned, as the C ABI passes
them bit for bit."""

from __future__ import annotations

import enum


class OperationType(enum.IntEnum):
    """HCS_OPERATION_TYPE: which function an operation tracks (``None`` until the operation is used)."""

    NONE = -1
    ENUMERATE = 0
    CREATE = 1
    START = 2
    SHUTDOWN = 3
    PAUSE = 4
    RESUME = 5
    SAVE = 6
    TERMINATE = 7
    MODIFY = 8
    GET_PROPERTIES = 9
    CREATE_PROCESS = 10
    SIGNAL_PROCESS = 11
    GET_PROCESS_INFO = 12
    GET_PROCESS_PROPERTIES = 13
    MODIFY_PROCESS = 14
    CRASH = 15
    RESERVED1 = 16
    RESERVED2 = 17
    RESERVED3 = 18
    LIVE_MIGRATION = 19


class EventType(enum.IntEnum):
    """HCS_EVENT_TYPE: what an event callback reports."""

    INVALID = 0x00000000
    SYSTEM_EXITED = 0x00000001
    SYSTEM_CRASH_INITIATED = 0x00000002
    SYSTEM_CRASH_REPORT = 0x00000003
    SYSTEM_RDP_ENHANCED_MODE_STATE_CHANGED = 0x00000004
    SYSTEM_SILO_JOB_CREATED = 0x00000005
    SYSTEM_GUEST_CONNECTION_CLOSED = 0x00000006
    PROCESS_EXITED = 0x00010000
    OPERATION_CALLBACK = 0x01000000
    SERVICE_DISCONNECT = 0x02000000
    GROUP_VM_LIFECYCLE = 0x80000002
    GROUP_LIVE_MIGRATION = 0x80000003
    GROUP_OPERATION_INFO = 0xC0000001


class EventOptions(enum.IntFlag):
    """HCS_EVENT_OPTIONS: extra event groups requested when registering an event callback."""

    NONE = 0x00000000
    ENABLE_OPERATION_CALLBACKS = 0x00000001
    ENABLE_VM_LIFECYCLE = 0x00000002
    ENABLE_LIVE_MIGRATION_EVENTS = 0x00000004


class OperationOptions(enum.IntFlag):
    """HCS_OPERATION_OPTIONS: events an operation created with notifications reports."""

    NONE = 0x00000000
    PROGRESS_UPDATE = 0x00000001
    RESERVED1 = 0x00000002


class ResourceType(enum.IntEnum):
    """HCS_RESOURCE_TYPE: kinds of handle HcsAddResourceToOperation attaches to an operation."""

    NONE = 0
    FILE = 1
    JOB = 2
    COM_OBJECT = 3
    SOCKET = 4


class NotificationFlags(enum.IntFlag):
    """HCS_NOTIFICATION_FLAGS (legacy v1 callbacks)."""

    SUCCESS = 0x00000000
    FAILURE = 0x80000000


class Notifications(enum.IntEnum):
    """HCS_NOTIFICATIONS (legacy v1 callbacks). SYSTEM_SHUTDOWN_COMPLETED is an alias of SYSTEM_SHUTDOWN_FAILED:
    the SDK gives both the value 0x0A."""

    INVALID = 0x00000000
    SYSTEM_EXITED = 0x00000001
    SYSTEM_CREATE_COMPLETED = 0x00000002
    SYSTEM_START_COMPLETED = 0x00000003
    SYSTEM_PAUSE_COMPLETED = 0x00000004
    SYSTEM_RESUME_COMPLETED = 0x00000005
    SYSTEM_CRASH_REPORT = 0x00000006
    SYSTEM_SILO_JOB_CREATED = 0x00000007
    SYSTEM_SAVE_COMPLETED = 0x00000008
    SYSTEM_RDP_ENHANCED_MODE_STATE_CHANGED = 0x00000009
    SYSTEM_SHUTDOWN_FAILED = 0x0000000A
    SYSTEM_SHUTDOWN_COMPLETED = 0x0000000A
    SYSTEM_GET_PROPERTIES_COMPLETED = 0x0000000B
    SYSTEM_MODIFY_COMPLETED = 0x0000000C
    SYSTEM_CRASH_INITIATED = 0x0000000D
    SYSTEM_GUEST_CONNECTION_CLOSED = 0x0000000E
    SYSTEM_OPERATION_COMPLETION = 0x0000000F
    SYSTEM_PASS_THRU = 0x00000010
    OPERATION_PROGRESS_UPDATE = 0x00000100
    PROCESS_EXITED = 0x00010000
    SERVICE_DISCONNECT = 0x01000000
    FLAGS_RESERVED = 0xF0000000


class CreateOptions(enum.IntEnum):
    """HCS_CREATE_OPTIONS: version tag of the options struct of HcsCreateComputeSystemInNamespace."""

    V1 = 0x00010000


#: HCS_INVALID_OPERATION_ID: what HcsGetOperationId returns for an invalid operation.
INVALID_OPERATION_ID = 0xFFFFFFFFFFFFFFFF
#: INFINITE timeout of the HCS wait functions.
INFINITE = 0xFFFFFFFF
#: GENERIC_ALL: the only access HcsOpenComputeSystem / HcsOpenProcess accept.
GENERIC_ALL = 0x10000000

#: Enum class -> (C enum name, prefix of its C constants), for the tests that compare with the declarations.
C_ENUMS = {
    OperationType: ("HCS_OPERATION_TYPE", "HcsOperationType"),
    EventType: ("HCS_EVENT_TYPE", "HcsEvent"),
    EventOptions: ("HCS_EVENT_OPTIONS", "HcsEventOption"),
    OperationOptions: ("HCS_OPERATION_OPTIONS", "HcsOperationOption"),
    ResourceType: ("HCS_RESOURCE_TYPE", "HcsResourceType"),
    NotificationFlags: ("HCS_NOTIFICATION_FLAGS", "HcsNotificationFlag"),
    Notifications: ("HCS_NOTIFICATIONS", "HcsNotification"),
    CreateOptions: ("HCS_CREATE_OPTIONS", "HcsCreateOptions"),
}
