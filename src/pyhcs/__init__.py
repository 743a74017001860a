"""pyhcs: the Windows Host Compute Service (computecore.dll / computestorage.dll) from Python.

The layers: ``pyhcs._ffi`` mirrors the C API (cffi); ``ComputeSystem``, ``Process``, ``Operation`` and the
events, errors and schema documents are the object layer; ``pyhcs.cli`` is a runhcs-compatible command line.
"""

from ._ffi import use_library
from .enums import EventOptions, EventType, OperationType
from .errors import (
    HcsAccessDeniedError,
    HcsAlreadyExistsError,
    HcsAlreadyStoppedError,
    HcsCallbackAlreadySetError,
    HcsCancelledError,
    HcsClosedError,
    HcsError,
    HcsFunctionNotFoundError,
    HcsGuestConnectionError,
    HcsImageMismatchError,
    HcsInvalidArgumentError,
    HcsInvalidJsonError,
    HcsInvalidStateError,
    HcsNotFoundError,
    HcsNotImplementedError,
    HcsNotSupportedError,
    HcsOperationAlreadyStartedError,
    HcsOperationNotStartedError,
    HcsOperationPendingError,
    HcsProcessTimeoutError,
    HcsServiceDisconnectedError,
    HcsTerminatedError,
    HcsTimeoutError,
    HcsUnavailableError,
    HcsUnexpectedExitError,
)
from .events import Event, EventStream
from .operation import Operation
from .process import CompletedProcess, ConsoleSize, Process, ProcessInfo, process_parameters
from ._stdio import StdinWriter
from .service import (
    basic_information,
    get_service_properties,
    modify_service_settings,
    supported_schema_versions,
)
from .system import ComputeSystem

__version__ = "0.1.0"

__all__ = [
    "CompletedProcess",
    "ComputeSystem",
    "ConsoleSize",
    "Event",
    "EventOptions",
    "EventStream",
    "EventType",
    "HcsAccessDeniedError",
    "HcsAlreadyExistsError",
    "HcsAlreadyStoppedError",
    "HcsCallbackAlreadySetError",
    "HcsCancelledError",
    "HcsClosedError",
    "HcsError",
    "HcsFunctionNotFoundError",
    "HcsGuestConnectionError",
    "HcsImageMismatchError",
    "HcsInvalidArgumentError",
    "HcsInvalidJsonError",
    "HcsInvalidStateError",
    "HcsNotFoundError",
    "HcsNotImplementedError",
    "HcsNotSupportedError",
    "HcsOperationAlreadyStartedError",
    "HcsOperationNotStartedError",
    "HcsOperationPendingError",
    "HcsProcessTimeoutError",
    "HcsServiceDisconnectedError",
    "HcsTerminatedError",
    "HcsTimeoutError",
    "HcsUnavailableError",
    "HcsUnexpectedExitError",
    "Operation",
    "OperationType",
    "Process",
    "ProcessInfo",
    "StdinWriter",
    "basic_information",
    "get_service_properties",
    "modify_service_settings",
    "process_parameters",
    "supported_schema_versions",
    "use_library",
    "__version__",
]
