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
    HcsClosedError,
    HcsError,
    HcsFunctionNotFoundError,
    HcsInvalidArgumentError,
    HcsInvalidJsonError,
    HcsInvalidStateError,
    HcsNotFoundError,
    HcsNotImplementedError,
    HcsServiceDisconnectedError,
    HcsTimeoutError,
    HcsUnavailableError,
)
from .events import Event, EventStream
from .operation import Operation, ProcessInfo
from .process import CompletedProcess, Process, process_parameters
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
    "Event",
    "EventOptions",
    "EventStream",
    "EventType",
    "HcsAccessDeniedError",
    "HcsAlreadyExistsError",
    "HcsAlreadyStoppedError",
    "HcsCallbackAlreadySetError",
    "HcsClosedError",
    "HcsError",
    "HcsFunctionNotFoundError",
    "HcsInvalidArgumentError",
    "HcsInvalidJsonError",
    "HcsInvalidStateError",
    "HcsNotFoundError",
    "HcsNotImplementedError",
    "HcsServiceDisconnectedError",
    "HcsTimeoutError",
    "HcsUnavailableError",
    "Operation",
    "OperationType",
    "Process",
    "ProcessInfo",
    "basic_information",
    "get_service_properties",
    "modify_service_settings",
    "process_parameters",
    "supported_schema_versions",
    "use_library",
    "__version__",
]
