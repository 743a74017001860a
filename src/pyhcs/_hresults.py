"""The HRESULT and Win32 error tables behind :mod:`pyhcs.errors` (data only; the logic lives there).

Sources:

* HCS_E_* 0x80370100-0x8037011F, names and messages: Microsoft's HCS HRESULT reference,
  MicrosoftDocs/Virtualization-Documentation ``virtualization/api/hcs/Reference/HCSHResult.md``.
* HCS_E_* 0x80370120-0x80370121: Windows SDK 10.0.22621 ``winerror.h`` (seen through its ports in
  terrafx.interop.windows and the hcsshim/x-sys Go tables); the HCS reference page stops at 0x8037011F.
  mingw-w64's ``winerror.h`` defines none of the HCS_E_* codes, so pyhcs carries its own table.
* ERROR_VMCOMPUTE_* 0xC0370100-0xC0370113 (legacy vmcompute.dll forms): golang.org/x/sys ``zerrors_windows.go``
  and microsoft/hcsshim ``internal/hcs/v2/errors.go``.
* Win32 codes and the generic COM HRESULTs: ``winerror.h`` (values checked against mingw-w64's copy).
"""

from __future__ import annotations

import enum
from typing import Dict, Final, Mapping



class HResult(enum.IntEnum):
    """HRESULT values pyhcs knows by name, as unsigned 32-bit integers.

    Holds every HCS_E_* code, the legacy ERROR_VMCOMPUTE_* forms and the generic COM codes that HCS returns.
    Win32 errors wrapped by HRESULT_FROM_WIN32 (0x8007xxxx) are named through :class:`Win32Error` instead,
    except for the three that are better known by their E_* name (E_ACCESSDENIED, E_OUTOFMEMORY, E_INVALIDARG).
    0x80070006 (also E_HANDLE) is named ERROR_INVALID_HANDLE, the name hcsshim and the HCS facts use.
    """

    # Success codes.
    S_OK = 0x00000000
    S_FALSE = 0x00000001

    # Generic COM failures (FACILITY_NULL / FACILITY_WIN32).
    E_NOTIMPL = 0x80004001
    E_NOINTERFACE = 0x80004002
    E_POINTER = 0x80004003
    E_ABORT = 0x80004004
    E_FAIL = 0x80004005
    E_PENDING = 0x8000000A
    E_UNEXPECTED = 0x8000FFFF
    RPC_E_DISCONNECTED = 0x80010108
    E_ACCESSDENIED = 0x80070005
    E_OUTOFMEMORY = 0x8007000E
    E_INVALIDARG = 0x80070057

    # HCS_E_* (FACILITY_VIRTUALIZATION, 0x037). 0x80370103 and 0x80370104 are unassigned.
    HCS_E_TERMINATED_DURING_START = 0x80370100
    HCS_E_IMAGE_MISMATCH = 0x80370101
    HCS_E_HYPERV_NOT_INSTALLED = 0x80370102
    HCS_E_INVALID_STATE = 0x80370105
    HCS_E_UNEXPECTED_EXIT = 0x80370106
    HCS_E_TERMINATED = 0x80370107
    HCS_E_CONNECT_FAILED = 0x80370108
    HCS_E_CONNECTION_TIMEOUT = 0x80370109
    HCS_E_CONNECTION_CLOSED = 0x8037010A
    HCS_E_UNKNOWN_MESSAGE = 0x8037010B
    HCS_E_UNSUPPORTED_PROTOCOL_VERSION = 0x8037010C
    HCS_E_INVALID_JSON = 0x8037010D
    HCS_E_SYSTEM_NOT_FOUND = 0x8037010E
    HCS_E_SYSTEM_ALREADY_EXISTS = 0x8037010F
    HCS_E_SYSTEM_ALREADY_STOPPED = 0x80370110
    HCS_E_PROTOCOL_ERROR = 0x80370111
    HCS_E_INVALID_LAYER = 0x80370112
    HCS_E_WINDOWS_INSIDER_REQUIRED = 0x80370113
    HCS_E_SERVICE_NOT_AVAILABLE = 0x80370114
    HCS_E_OPERATION_NOT_STARTED = 0x80370115
    HCS_E_OPERATION_ALREADY_STARTED = 0x80370116
    HCS_E_OPERATION_PENDING = 0x80370117
    HCS_E_OPERATION_TIMEOUT = 0x80370118
    HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET = 0x80370119
    HCS_E_OPERATION_RESULT_ALLOCATION_FAILED = 0x8037011A
    HCS_E_ACCESS_DENIED = 0x8037011B
    HCS_E_GUEST_CRITICAL_ERROR = 0x8037011C
    HCS_E_PROCESS_INFO_NOT_AVAILABLE = 0x8037011D
    HCS_E_SERVICE_DISCONNECT = 0x8037011E
    HCS_E_PROCESS_ALREADY_STOPPED = 0x8037011F
    HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION = 0x80370120
    HCS_E_OPERATION_ALREADY_CANCELLED = 0x80370121

    # Legacy vmcompute.dll (HCS v1) forms. All but OPERATION_PENDING and TOO_MANY_NOTIFICATIONS mean the same as
    # the HCS_E_* code with the same low 16 bits and are normalised to it (see LEGACY_TO_HCS).
    ERROR_VMCOMPUTE_TERMINATED_DURING_START = 0xC0370100
    ERROR_VMCOMPUTE_IMAGE_MISMATCH = 0xC0370101
    ERROR_VMCOMPUTE_HYPERV_NOT_INSTALLED = 0xC0370102
    ERROR_VMCOMPUTE_OPERATION_PENDING = 0xC0370103
    ERROR_VMCOMPUTE_TOO_MANY_NOTIFICATIONS = 0xC0370104
    ERROR_VMCOMPUTE_INVALID_STATE = 0xC0370105
    ERROR_VMCOMPUTE_UNEXPECTED_EXIT = 0xC0370106
    ERROR_VMCOMPUTE_TERMINATED = 0xC0370107
    ERROR_VMCOMPUTE_CONNECT_FAILED = 0xC0370108
    ERROR_VMCOMPUTE_TIMEOUT = 0xC0370109
    ERROR_VMCOMPUTE_CONNECTION_CLOSED = 0xC037010A
    ERROR_VMCOMPUTE_UNKNOWN_MESSAGE = 0xC037010B
    ERROR_VMCOMPUTE_UNSUPPORTED_PROTOCOL_VERSION = 0xC037010C
    ERROR_VMCOMPUTE_INVALID_JSON = 0xC037010D
    ERROR_VMCOMPUTE_SYSTEM_NOT_FOUND = 0xC037010E
    ERROR_VMCOMPUTE_SYSTEM_ALREADY_EXISTS = 0xC037010F
    ERROR_VMCOMPUTE_SYSTEM_ALREADY_STOPPED = 0xC0370110
    ERROR_VMCOMPUTE_PROTOCOL_ERROR = 0xC0370111
    ERROR_VMCOMPUTE_INVALID_LAYER = 0xC0370112
    ERROR_VMCOMPUTE_WINDOWS_INSIDER_REQUIRED = 0xC0370113


class Win32Error(enum.IntEnum):
    """Win32 error codes (``GetLastError`` values) that HCS calls report, usually wrapped as 0x8007xxxx."""

    ERROR_SUCCESS = 0
    ERROR_INVALID_FUNCTION = 1
    ERROR_FILE_NOT_FOUND = 2
    ERROR_PATH_NOT_FOUND = 3
    ERROR_ACCESS_DENIED = 5
    ERROR_INVALID_HANDLE = 6
    ERROR_NOT_ENOUGH_MEMORY = 8
    ERROR_INVALID_DATA = 13
    ERROR_OUTOFMEMORY = 14
    ERROR_NOT_READY = 21
    ERROR_SHARING_VIOLATION = 32
    ERROR_HANDLE_EOF = 38
    ERROR_NOT_SUPPORTED = 50
    ERROR_DEV_NOT_EXIST = 55
    ERROR_FILE_EXISTS = 80
    ERROR_INVALID_PARAMETER = 87
    ERROR_BROKEN_PIPE = 109
    ERROR_DISK_FULL = 112
    ERROR_CALL_NOT_IMPLEMENTED = 120
    ERROR_SEM_TIMEOUT = 121
    ERROR_INSUFFICIENT_BUFFER = 122
    ERROR_INVALID_NAME = 123
    ERROR_MOD_NOT_FOUND = 126
    ERROR_PROC_NOT_FOUND = 127
    ERROR_DIR_NOT_EMPTY = 145
    ERROR_BAD_ARGUMENTS = 160
    ERROR_BUSY = 170
    ERROR_ALREADY_EXISTS = 183
    ERROR_BAD_EXE_FORMAT = 193
    ERROR_NO_DATA = 232
    ERROR_PIPE_NOT_CONNECTED = 233
    ERROR_MORE_DATA = 234
    WAIT_TIMEOUT = 258
    ERROR_INVALID_ADDRESS = 487
    ERROR_ELEVATION_REQUIRED = 740
    ERROR_OPERATION_ABORTED = 995
    ERROR_IO_PENDING = 997
    ERROR_SERVICE_ALREADY_RUNNING = 1056
    ERROR_SERVICE_DISABLED = 1058
    ERROR_SERVICE_DOES_NOT_EXIST = 1060
    ERROR_SERVICE_NOT_ACTIVE = 1062
    ERROR_SHUTDOWN_IN_PROGRESS = 1115
    ERROR_NOT_FOUND = 1168
    ERROR_CANCELLED = 1223
    ERROR_RETRY = 1237
    ERROR_NO_SYSTEM_RESOURCES = 1450
    ERROR_TIMEOUT = 1460
    RPC_S_SERVER_UNAVAILABLE = 1722
    RPC_S_CALL_FAILED = 1726
    ERROR_INVALID_OPERATION = 4317
    ERROR_INVALID_STATE = 5023


_H = HResult
_W = Win32Error

HRESULT_MESSAGES: Final[Mapping[int, str]] = {
    _H.S_OK: "The operation completed successfully",
    _H.S_FALSE: "The operation completed successfully (S_FALSE)",
    _H.E_NOTIMPL: "Not implemented",
    _H.E_NOINTERFACE: "No such interface supported",
    _H.E_POINTER: "Invalid pointer",
    _H.E_ABORT: "The operation was aborted",
    _H.E_FAIL: "Unspecified failure",
    _H.E_PENDING: "The data necessary to complete this operation is not yet available",
    _H.E_UNEXPECTED: "Unexpected failure",
    _H.RPC_E_DISCONNECTED: "The object invoked has disconnected from its clients",
    _H.E_ACCESSDENIED: "Access is denied",
    _H.E_OUTOFMEMORY: "Not enough memory resources are available to complete this operation",
    _H.E_INVALIDARG: "The parameter is incorrect",
    # The documented HCS_E_* text (HCSHResult.md; 0x120/0x121 from the SDK's winerror.h).
    _H.HCS_E_TERMINATED_DURING_START: "The virtual machine or container exited unexpectedly while starting",
    _H.HCS_E_IMAGE_MISMATCH: "The container operating system does not match the host operating system",
    _H.HCS_E_HYPERV_NOT_INSTALLED: (
        "The virtual machine could not be started because a required feature is not installed"
    ),
    _H.HCS_E_INVALID_STATE: "The requested virtual machine or container operation is not valid in the current state",
    _H.HCS_E_UNEXPECTED_EXIT: "The virtual machine or container exited unexpectedly",
    _H.HCS_E_TERMINATED: "The virtual machine or container was forcefully exited",
    _H.HCS_E_CONNECT_FAILED: "A connection could not be established with the container or virtual machine",
    _H.HCS_E_CONNECTION_TIMEOUT: (
        "The operation timed out because a response was not received from the virtual machine or container"
    ),
    _H.HCS_E_CONNECTION_CLOSED: "The connection with the virtual machine or container was closed",
    _H.HCS_E_UNKNOWN_MESSAGE: "An unknown internal message was received by the virtual machine or container",
    _H.HCS_E_UNSUPPORTED_PROTOCOL_VERSION: (
        "The virtual machine or container does not support an available version of the communication protocol "
        "with the host"
    ),
    _H.HCS_E_INVALID_JSON: "The virtual machine or container JSON document is invalid",
    _H.HCS_E_SYSTEM_NOT_FOUND: "A virtual machine or container with the specified identifier does not exist",
    _H.HCS_E_SYSTEM_ALREADY_EXISTS: "A virtual machine or container with the specified identifier already exists",
    _H.HCS_E_SYSTEM_ALREADY_STOPPED: "The virtual machine or container with the specified identifier is not running",
    _H.HCS_E_PROTOCOL_ERROR: (
        "A communication protocol error has occurred between the virtual machine or container and the host"
    ),
    _H.HCS_E_INVALID_LAYER: "The container image contains a layer with an unrecognized format",
    _H.HCS_E_WINDOWS_INSIDER_REQUIRED: "To use this container image, you must join the Windows Insider Program",
    _H.HCS_E_SERVICE_NOT_AVAILABLE: "The operation could not be started because a required feature is not installed",
    _H.HCS_E_OPERATION_NOT_STARTED: "The operation has not started",
    _H.HCS_E_OPERATION_ALREADY_STARTED: "The operation is already running",
    _H.HCS_E_OPERATION_PENDING: "The operation is still running",
    _H.HCS_E_OPERATION_TIMEOUT: "The operation did not complete in time",
    _H.HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET: "An event callback has already been registered on this handle",
    _H.HCS_E_OPERATION_RESULT_ALLOCATION_FAILED: "Not enough memory available to return the result of the operation",
    _H.HCS_E_ACCESS_DENIED: (
        "Insufficient privileges. Only administrators or users that are members of the Hyper-V Administrators "
        "user group are permitted to access virtual machines or containers (see https://aka.ms/hcsadmin)"
    ),
    _H.HCS_E_GUEST_CRITICAL_ERROR: (
        "The virtual machine or container reported a critical error and was stopped or restarted"
    ),
    _H.HCS_E_PROCESS_INFO_NOT_AVAILABLE: "The process information is not available",
    _H.HCS_E_SERVICE_DISCONNECT: "The host compute system service has disconnected unexpectedly",
    _H.HCS_E_PROCESS_ALREADY_STOPPED: "The process has already exited",
    _H.HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION: (
        "The virtual machine or container is not configured to perform the operation"
    ),
    _H.HCS_E_OPERATION_ALREADY_CANCELLED: "The operation has already been cancelled",
    # The two legacy codes with no HCS_E_* twin; the others take the HCS_E_* text after normalisation.
    _H.ERROR_VMCOMPUTE_OPERATION_PENDING: (
        "The operation is pending; vmcompute.dll (HCS v1) reports its completion through the registered callback"
    ),
    _H.ERROR_VMCOMPUTE_TOO_MANY_NOTIFICATIONS: "Too many notifications are pending (vmcompute.dll, HCS v1)",
}

WIN32_MESSAGES: Final[Mapping[int, str]] = {
    _W.ERROR_SUCCESS: "The operation completed successfully",
    _W.ERROR_INVALID_FUNCTION: "Incorrect function",
    _W.ERROR_FILE_NOT_FOUND: "The system cannot find the file specified",
    _W.ERROR_PATH_NOT_FOUND: "The system cannot find the path specified",
    _W.ERROR_ACCESS_DENIED: "Access is denied",
    _W.ERROR_INVALID_HANDLE: "The handle is invalid",
    _W.ERROR_NOT_ENOUGH_MEMORY: "Not enough memory resources are available to process this command",
    _W.ERROR_INVALID_DATA: "The data is invalid",
    _W.ERROR_OUTOFMEMORY: "Not enough memory resources are available to complete this operation",
    _W.ERROR_NOT_READY: "The device is not ready",
    _W.ERROR_SHARING_VIOLATION: "The file is in use by another process",
    _W.ERROR_HANDLE_EOF: "Reached the end of the file",
    _W.ERROR_NOT_SUPPORTED: "The request is not supported",
    _W.ERROR_DEV_NOT_EXIST: "The specified network resource or device is no longer available",
    _W.ERROR_FILE_EXISTS: "The file exists",
    _W.ERROR_INVALID_PARAMETER: "The parameter is incorrect",
    _W.ERROR_BROKEN_PIPE: "The pipe has been ended",
    _W.ERROR_DISK_FULL: "There is not enough space on the disk",
    _W.ERROR_CALL_NOT_IMPLEMENTED: "This function is not supported on this system",
    _W.ERROR_SEM_TIMEOUT: "The semaphore timeout period has expired",
    _W.ERROR_INSUFFICIENT_BUFFER: "The data area passed to a system call is too small",
    _W.ERROR_INVALID_NAME: "The filename, directory name, or volume label syntax is incorrect",
    _W.ERROR_MOD_NOT_FOUND: "The specified module could not be found",
    _W.ERROR_PROC_NOT_FOUND: "The specified procedure could not be found",
    _W.ERROR_DIR_NOT_EMPTY: "The directory is not empty",
    _W.ERROR_BAD_ARGUMENTS: "One or more arguments are not correct",
    _W.ERROR_BUSY: "The requested resource is in use",
    _W.ERROR_ALREADY_EXISTS: "Cannot create a file when that file already exists",
    _W.ERROR_BAD_EXE_FORMAT: "The file is not a valid application for this OS platform",
    _W.ERROR_NO_DATA: "The pipe is being closed",
    _W.ERROR_PIPE_NOT_CONNECTED: "No process is on the other end of the pipe",
    _W.ERROR_MORE_DATA: "More data is available",
    _W.WAIT_TIMEOUT: "The wait operation timed out",
    _W.ERROR_INVALID_ADDRESS: "Attempt to access invalid address",
    _W.ERROR_ELEVATION_REQUIRED: "The requested operation requires elevation",
    _W.ERROR_OPERATION_ABORTED: "The I/O operation has been aborted because of either a thread exit or an "
    "application request",
    _W.ERROR_IO_PENDING: "Overlapped I/O operation is in progress",
    _W.ERROR_SERVICE_ALREADY_RUNNING: "An instance of the service is already running",
    _W.ERROR_SERVICE_DISABLED: "The service cannot be started because it is disabled",
    _W.ERROR_SERVICE_DOES_NOT_EXIST: "The specified service does not exist as an installed service",
    _W.ERROR_SERVICE_NOT_ACTIVE: "The service has not been started",
    _W.ERROR_SHUTDOWN_IN_PROGRESS: "A system shutdown is in progress",
    _W.ERROR_NOT_FOUND: "Element not found",
    _W.ERROR_CANCELLED: "The operation was canceled by the user",
    _W.ERROR_RETRY: "The operation could not be completed. A retry should be performed",
    _W.ERROR_NO_SYSTEM_RESOURCES: "Insufficient system resources exist to complete the requested service",
    _W.ERROR_TIMEOUT: "This operation returned because the timeout period expired",
    _W.RPC_S_SERVER_UNAVAILABLE: "The RPC server is unavailable",
    _W.RPC_S_CALL_FAILED: "The remote procedure call failed",
    _W.ERROR_INVALID_OPERATION: "The operation identifier is not valid",
    _W.ERROR_INVALID_STATE: "The group or resource is not in the correct state to perform the requested operation",
}

#: Legacy ERROR_VMCOMPUTE_* code -> the HCS_E_* code with the same meaning. OPERATION_PENDING (0xC0370103, the
#: v1 "completes through the callback" result) and TOO_MANY_NOTIFICATIONS (0xC0370104) have no v2 twin: the
#: HCS_E_* range leaves 0x103/0x104 unassigned, so they stay as they are.
LEGACY_TO_HCS: Final[Mapping[int, int]] = {
    legacy: (legacy & 0x0000FFFF) | 0x80370000
    for legacy in range(0xC0370100, 0xC0370114)
    if legacy not in (_H.ERROR_VMCOMPUTE_OPERATION_PENDING, _H.ERROR_VMCOMPUTE_TOO_MANY_NOTIFICATIONS)
}

#: HRESULT facility numbers worth naming in the message of an otherwise unknown code.
FACILITY_NAMES: Final[Mapping[int, str]] = {
    0x000: "FACILITY_NULL",
    0x001: "FACILITY_RPC",
    0x002: "FACILITY_DISPATCH",
    0x003: "FACILITY_STORAGE",
    0x004: "FACILITY_ITF",
    0x007: "FACILITY_WIN32",
    0x008: "FACILITY_WINDOWS",
    0x00A: "FACILITY_CONTROL",
    0x035: "FACILITY_HYPERVISOR",
    0x037: "FACILITY_VIRTUALIZATION",
}

#: Every HCS_E_* code (32 of them), in numeric order.
HCS_E_CODES: Final = tuple(sorted(m for m in HResult if m.name.startswith("HCS_E_")))

#: HRESULT -> name: the E_* names win over the Win32 name they wrap (0x80070057 is E_INVALIDARG).
HRESULT_NAMES: Final[Dict[int, str]] = {int(m): m.name for m in HResult}
WIN32_NAMES: Final[Dict[int, str]] = {int(m): m.name for m in Win32Error}
