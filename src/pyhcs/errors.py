"""The one place where an HRESULT (and an optional ResultError document) becomes a Python exception.

Every HCS function reports failure as an HRESULT; operations may add a **ResultError** JSON document
(``{"Error": int32, "ErrorMessage": str, "ErrorEvents": [...], "Attribution": [...]}``, SchemaReference.md).
:func:`error_from_hresult` normalises the code and picks the :class:`HcsError` subclass for it:

* signed int32 values (cffi returns HRESULT as a negative ``int``) are read as unsigned 32-bit;
* a bare Win32 error (``0 < code < 0x10000``) is wrapped as HRESULT_FROM_WIN32 (``0x8007xxxx``);
* the legacy vmcompute.dll ``ERROR_VMCOMPUTE_*`` forms (``0xC0370100``-``0xC0370113``) become the ``HCS_E_*``
  code with the same meaning, except OPERATION_PENDING (``0xC0370103``) and TOO_MANY_NOTIFICATIONS
  (``0xC0370104``), which exist only in HCS v1 and keep their value.

The tables (names, messages, sources) are in :mod:`pyhcs._hresults`.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Final, List, Mapping, Optional, Tuple, Type, Union


from ._hresults import (
    FACILITY_NAMES,
    HCS_E_CODES,
    HRESULT_MESSAGES,
    HRESULT_NAMES,
    LEGACY_TO_HCS,
    WIN32_MESSAGES,
    WIN32_NAMES,
    HResult,
    Win32Error,
)

ResultDocument = Union[str, Mapping[str, Any], None]
"""What HCS hands back next to a failure: the JSON text, an already parsed object, or nothing."""

_FACILITY_WIN32: Final = 0x80070000
_MAX_RAW_RESULT_IN_STR: Final = 200


# --------------------------------------------------------------------------------------------------------------
# Code arithmetic


def failed(hresult: int) -> bool:
    """FAILED(hr): the severity bit is set (negative as a signed int32)."""
    return bool(int(hresult) & 0x80000000)


def succeeded(hresult: int) -> bool:
    """SUCCEEDED(hr): S_OK, S_FALSE and every other non-negative HRESULT."""
    return not failed(hresult)


def hresult_from_win32(code: int) -> int:
    """HRESULT_FROM_WIN32: wrap a Win32 error as ``0x8007xxxx``; 0 and values that are already HRESULTs pass."""
    value = int(code) & 0xFFFFFFFF
    if value == 0 or value & 0x80000000:
        return value
    return (value & 0xFFFF) | _FACILITY_WIN32


def win32_from_hresult(hresult: int) -> Optional[int]:
    """The Win32 error wrapped in a ``0x8007xxxx`` HRESULT (or given bare), else ``None``."""
    value = normalize_hresult(hresult)
    if value & 0xFFFF0000 == _FACILITY_WIN32:
        return value & 0xFFFF
    return None


def normalize_hresult(hresult: int) -> int:
    """The unsigned 32-bit HRESULT pyhcs reports for *hresult*.

    Negative int32 → ``& 0xFFFFFFFF``; bare Win32 code (``0 < code < 0x10000``) → ``0x8007xxxx``; legacy
    ``0xC037xxxx`` with an HCS_E_* twin → ``0x8037xxxx``. Anything else is returned masked to 32 bits.
    Note the small positive values: ``1`` is read as ERROR_INVALID_FUNCTION here, not S_FALSE; use
    :func:`failed` / :func:`check_hresult` to decide whether a return value is an error at all.
    """
    value = int(hresult) & 0xFFFFFFFF
    if 0 < value < 0x10000:
        value = hresult_from_win32(value)
    return LEGACY_TO_HCS.get(value, value)


def hresult_name(hresult: int) -> Optional[str]:
    """The symbolic name (``HCS_E_OPERATION_TIMEOUT``, ``E_INVALIDARG``, ``ERROR_NOT_FOUND``...) or ``None``."""
    value = normalize_hresult(hresult)
    name = HRESULT_NAMES.get(value)
    if name is None:
        win32 = win32_from_hresult(value)
        if win32 is not None:
            name = WIN32_NAMES.get(win32)
    return name


def hresult_message(hresult: int) -> str:
    """A one-line description: the documented text when known, else the code taken apart."""
    value = normalize_hresult(hresult)
    message = HRESULT_MESSAGES.get(value)
    if message is not None:
        return message
    win32 = win32_from_hresult(value)
    if win32 is not None:
        known = WIN32_MESSAGES.get(win32)
        if known is not None:
            return known
        return f"Win32 error {win32} (HRESULT 0x{value:08X})"
    facility = (value >> 16) & 0x7FF
    facility_text = f"facility 0x{facility:03X}"
    facility_name = FACILITY_NAMES.get(facility)
    if facility_name is not None:
        facility_text += f" {facility_name}"
    kind = "HRESULT" if failed(value) else "success HRESULT"
    return f"{kind} 0x{value:08X} ({facility_text}, code 0x{value & 0xFFFF:04X})"


# --------------------------------------------------------------------------------------------------------------
# The ResultError document


def parse_result_document(document: ResultDocument) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """Split what HCS returned into ``(parsed JSON object, raw text)``; never raises.

    A JSON object string gives ``(dict, text)``; a mapping gives ``(dict copy, None)``; text that is not JSON,
    or JSON that is not an object (HCS returns arrays for enumerations), gives ``(None, text)``; empty text gives
    ``(None, None)``.
    """
    if document is None:
        return None, None
    if isinstance(document, str):
        if not document.strip():
            return None, None
        try:
            # HCS output is UTF-16 from the service; tolerate a BOM that survived the conversion.
            parsed = json.loads(document.lstrip("\ufeff"))
        except (ValueError, RecursionError):
            return None, document
        return (parsed if isinstance(parsed, dict) else None), document
    try:
        return dict(document), None
    except (TypeError, ValueError):
        return None, repr(document)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _dict_items(value: Any) -> List[Dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


# --------------------------------------------------------------------------------------------------------------
# Exceptions


class HcsError(Exception):
    """An HCS call failed. Carries the HRESULT, its symbolic name and message, the function, ids and the
    parsed ResultError document.

    ``hresult`` is normalised (see :func:`normalize_hresult`); ``original_hresult`` is the value as reported,
    unsigned. ``result`` is the ResultError object, or ``None`` when HCS sent none or sent something that is not a
    JSON object; ``result_text`` keeps the text as HCS sent it.
    """

    #: The code used when the exception is raised by pyhcs itself without one.
    default_hresult: int = HResult.E_FAIL

    hresult: int
    original_hresult: int
    message: str
    name: Optional[str]
    function: Optional[str]
    system_id: Optional[str]
    process_id: Optional[int]
    result: Optional[Dict[str, Any]]
    result_text: Optional[str]

    def __init__(
        self,
        hresult: Optional[int] = None,
        message: Optional[str] = None,
        *,
        name: Optional[str] = None,
        function: Optional[str] = None,
        system_id: Optional[str] = None,
        process_id: Optional[int] = None,
        result: ResultDocument = None,
    ) -> None:
        if hresult is None:
            hresult = self.default_hresult
        normalised = normalize_hresult(hresult)
        if message is None:
            message = hresult_message(normalised)
        # One positional argument only: OSError-based subclasses (TimeoutError, PermissionError) would read two
        # or more as (errno, strerror, ...) and change args and str().
        super().__init__(message)
        self.hresult = normalised
        self.original_hresult = int(hresult) & 0xFFFFFFFF
        self.message = message
        self.name = name if name is not None else hresult_name(normalised)
        self.function = function
        self.system_id = system_id
        self.process_id = process_id
        self.result, self.result_text = parse_result_document(result)

    # -- the ResultError document ------------------------------------------------------------------------------

    @property
    def win32_error(self) -> Optional[int]:
        """The Win32 error code when the HRESULT is HRESULT_FROM_WIN32(code), else ``None``."""
        return win32_from_hresult(self.hresult)

    @property
    def result_message(self) -> Optional[str]:
        """ResultError.ErrorMessage: HCS's own explanation, often naming the failing device or setting."""
        value = self.result.get("ErrorMessage") if self.result is not None else None
        return value if isinstance(value, str) and value else None

    @property
    def result_error(self) -> Optional[int]:
        """ResultError.Error: the HRESULT inside the document (unsigned), which can differ from ``hresult``."""
        value = self.result.get("Error") if self.result is not None else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value & 0xFFFFFFFF
        return None

    @property
    def error_events(self) -> List[Dict[str, Any]]:
        """ResultError.ErrorEvents: the ETW events HCS attached (``Message``, ``Provider``, ``EventId``, ...)."""
        return _dict_items(self.result.get("ErrorEvents")) if self.result is not None else []

    @property
    def attribution(self) -> List[Dict[str, Any]]:
        """ResultError.Attribution: AttributionRecords saying which component caused the failure."""
        return _dict_items(self.result.get("Attribution")) if self.result is not None else []

    # -- text ------------------------------------------------------------------------------------------------

    def __str__(self) -> str:
        text = self.message
        if self.function and not text.startswith(self.function):
            text = f"{self.function}: {text}"
        code = f"0x{self.hresult:08X}"
        if self.original_hresult != self.hresult:
            code += f" from 0x{self.original_hresult:08X}"
        if self.name is not None:
            text += f" ({self.name}, {code})"
        elif f"0x{self.hresult:08X}" not in self.message or self.original_hresult != self.hresult:
            text += f" ({code})"
        ids = []
        if self.system_id is not None:
            ids.append(f"system {self.system_id}")
        if self.process_id is not None:
            ids.append(f"process {self.process_id}")
        if ids:
            text += f" [{', '.join(ids)}]"
        detail = self.result_message
        if detail is None and self.result is None and self.result_text:
            detail = self.result_text
            if len(detail) > _MAX_RAW_RESULT_IN_STR:
                detail = detail[:_MAX_RAW_RESULT_IN_STR] + "..."
        if detail is not None and _one_line(detail) != self.message:
            text += f": {_one_line(detail)}"
        return _one_line(text)

    def describe(self) -> str:
        """``str(self)`` followed by one line per ErrorEvent and Attribution record (for logs and the CLI)."""
        lines = [str(self)]
        for event in self.error_events:
            extra = ", ".join(
                f"{key}={event[key]}" for key in ("Provider", "EventId", "Source") if event.get(key) not in (None, "")
            )
            line = f"  event: {_one_line(str(event.get('Message', '')))}"
            lines.append(f"{line} [{extra}]" if extra else line)
        for record in self.attribution:
            lines.append(f"  attribution: {json.dumps(record, sort_keys=True, default=str)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        fields = [f"hresult=0x{self.hresult:08X}", f"name={self.name!r}", f"message={self.message!r}"]
        for key in ("function", "system_id", "process_id"):
            value = getattr(self, key)
            if value is not None:
                fields.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(fields)})"

    # -- pickling ----------------------------------------------------------------------------------------------

    def __reduce__(self) -> Tuple[Any, ...]:
        # BaseException/OSError pickle as cls(*args) with args == (message,), which would land in ``hresult``.
        kwargs: Dict[str, Any] = {
            "name": self.name,
            "function": self.function,
            "system_id": self.system_id,
            "process_id": self.process_id,
            "result": self.result_text if self.result_text is not None else self.result,
        }
        return (_rebuild_error, (type(self), self.original_hresult, self.message, kwargs), self.__dict__.copy())


def _rebuild_error(cls: Type[HcsError], hresult: int, message: str, kwargs: Dict[str, Any]) -> HcsError:
    return cls(hresult, message, **kwargs)


class HcsNotFoundError(HcsError, LookupError):
    """The compute system, process, file or element does not exist (HCS_E_SYSTEM_NOT_FOUND, ERROR_NOT_FOUND...).

    hcsshim reads ERROR_NOT_FOUND on a process as "already exited" as well as "never existed".
    """

    default_hresult = HResult.HCS_E_SYSTEM_NOT_FOUND


class HcsAlreadyExistsError(HcsError):
    """A compute system with that id, or the file, already exists."""

    default_hresult = HResult.HCS_E_SYSTEM_ALREADY_EXISTS


class HcsInvalidStateError(HcsError):
    """The request is not valid in the system's (or process's) current state."""

    default_hresult = HResult.HCS_E_INVALID_STATE


class HcsAlreadyStoppedError(HcsInvalidStateError):
    """The system is not running or the process has already exited (shutdown/terminate/kill came too late)."""

    default_hresult = HResult.HCS_E_SYSTEM_ALREADY_STOPPED


class HcsTimeoutError(HcsError, TimeoutError):
    """A wait ran out (HcsWaitForOperationResult's timeout, a guest that did not answer, WAIT_TIMEOUT)."""

    default_hresult = HResult.HCS_E_OPERATION_TIMEOUT


class HcsProcessTimeoutError(HcsTimeoutError):
    """``run()`` or ``communicate()`` ran out of time (the timeout covers the whole call, as in
    ``subprocess.run``).

    ``stdout`` and ``stderr`` hold the output read until then (``output`` is ``stdout``, as on
    ``subprocess.TimeoutExpired``), ``timeout`` the limit in seconds and ``command_line`` the command.
    ``run()`` killed the process; ``communicate()`` leaves it running and may be called again -- nothing read
    is lost."""

    stdout: bytes
    stderr: bytes
    timeout: Optional[float]
    command_line: Optional[str]

    def __init__(self, hresult: Optional[int] = None, message: Optional[str] = None, *, stdout: bytes = b"",
                 stderr: bytes = b"", timeout: Optional[float] = None, command_line: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(hresult, message, **kwargs)
        self.stdout = stdout
        self.stderr = stderr
        self.timeout = timeout
        self.command_line = command_line

    @property
    def output(self) -> bytes:
        """The same as ``stdout`` (``subprocess.TimeoutExpired``'s name)."""
        return self.stdout


class HcsAccessDeniedError(HcsError, PermissionError):
    """HCS needs an administrator or a member of the Hyper-V Administrators group (https://aka.ms/hcsadmin)."""

    default_hresult = HResult.HCS_E_ACCESS_DENIED


class HcsServiceDisconnectedError(HcsError):
    """The Host Compute Service (vmcompute) crashed, stopped or cannot be reached over RPC."""

    default_hresult = HResult.HCS_E_SERVICE_DISCONNECT


class HcsGuestConnectionError(HcsError):
    """The host could not talk to the VM or container (connect failed, connection closed, protocol error)."""

    default_hresult = HResult.HCS_E_CONNECT_FAILED


class HcsInvalidArgumentError(HcsError, ValueError):
    """An argument or request document was rejected (E_INVALIDARG, ERROR_INVALID_DATA, ERROR_BAD_ARGUMENTS)."""

    default_hresult = HResult.E_INVALIDARG


class HcsInvalidJsonError(HcsInvalidArgumentError):
    """The JSON document sent to HCS is invalid for this schema version."""

    default_hresult = HResult.HCS_E_INVALID_JSON


class HcsNotSupportedError(HcsError):
    """This Windows build, or this system's configuration, does not support the request."""

    default_hresult = hresult_from_win32(Win32Error.ERROR_NOT_SUPPORTED)


class HcsNotImplementedError(HcsNotSupportedError, NotImplementedError):
    """E_NOTIMPL: HcsCancelOperation, for one, is documented to always return it."""

    default_hresult = HResult.E_NOTIMPL


class HcsFunctionNotFoundError(HcsNotSupportedError):
    """The loaded computecore/computestorage does not export the function (older Windows build)."""

    default_hresult = hresult_from_win32(Win32Error.ERROR_PROC_NOT_FOUND)


class HcsOperationPendingError(HcsError):
    """The operation has not finished (HcsGetOperationResult on a running operation; v1's OPERATION_PENDING)."""

    default_hresult = HResult.HCS_E_OPERATION_PENDING


class HcsOperationNotStartedError(HcsError):
    """The operation handle was never passed to an HCS function, so it has no result."""

    default_hresult = HResult.HCS_E_OPERATION_NOT_STARTED


class HcsOperationAlreadyStartedError(HcsError):
    """The operation handle is still tracking another call; wait for it before reusing the handle."""

    default_hresult = HResult.HCS_E_OPERATION_ALREADY_STARTED


class HcsCancelledError(HcsError):
    """The operation was cancelled or aborted."""

    default_hresult = HResult.HCS_E_OPERATION_ALREADY_CANCELLED


class HcsCallbackAlreadySetError(HcsError):
    """An event callback is already registered on the handle, or the operation has its own callback while the
    handle delivers operation completions (HcsEventOptionEnableOperationCallbacks)."""

    default_hresult = HResult.HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET


class HcsUnexpectedExitError(HcsError):
    """The VM or container exited unexpectedly (while starting, on its own, or after a guest critical error)."""

    default_hresult = HResult.HCS_E_UNEXPECTED_EXIT


class HcsTerminatedError(HcsError):
    """The VM or container was forcefully terminated."""

    default_hresult = HResult.HCS_E_TERMINATED


class HcsImageMismatchError(HcsError):
    """The container image's OS does not fit where it would run (HCS_E_IMAGE_MISMATCH, vmcompute's 0xC0370101: "The
    container operating system does not match the host operating system"): process isolation on a host of another
    build, a Hyper-V image newer than the host, a workload whose build differs from its utility VM's.
    :mod:`pyhcs.compat` states the rule (``isolation_verdict``, ``pod_workload_verdict``)."""

    default_hresult = HResult.HCS_E_IMAGE_MISMATCH


class HcsUnavailableError(HcsError):
    """No HCS library could be loaded (not Windows, Hyper-V/containers feature missing, or a bad override)."""

    default_hresult = hresult_from_win32(Win32Error.ERROR_MOD_NOT_FOUND)


class HcsClosedError(HcsError, ValueError):
    """The handle was closed (by pyhcs, or HCS reports ERROR_INVALID_HANDLE). A ValueError, like I/O on a
    closed file."""

    default_hresult = hresult_from_win32(Win32Error.ERROR_INVALID_HANDLE)


def _w(code: int) -> int:
    return hresult_from_win32(code)


_H = HResult
_W = Win32Error

#: Normalised HRESULT -> the exception class error_from_hresult raises for it. Unlisted codes give HcsError.
ERROR_CLASSES: Final[Mapping[int, Type[HcsError]]] = {
    _H.HCS_E_TERMINATED_DURING_START: HcsUnexpectedExitError,
    _H.HCS_E_IMAGE_MISMATCH: HcsImageMismatchError,
    _H.HCS_E_HYPERV_NOT_INSTALLED: HcsUnavailableError,
    _H.HCS_E_INVALID_STATE: HcsInvalidStateError,
    _H.HCS_E_UNEXPECTED_EXIT: HcsUnexpectedExitError,
    _H.HCS_E_TERMINATED: HcsTerminatedError,
    _H.HCS_E_CONNECT_FAILED: HcsGuestConnectionError,
    _H.HCS_E_CONNECTION_TIMEOUT: HcsTimeoutError,
    _H.HCS_E_CONNECTION_CLOSED: HcsGuestConnectionError,
    # hcsshim treats UNKNOWN_MESSAGE as "the guest does not support this request".
    _H.HCS_E_UNKNOWN_MESSAGE: HcsNotSupportedError,
    _H.HCS_E_UNSUPPORTED_PROTOCOL_VERSION: HcsGuestConnectionError,
    _H.HCS_E_INVALID_JSON: HcsInvalidJsonError,
    _H.HCS_E_SYSTEM_NOT_FOUND: HcsNotFoundError,
    _H.HCS_E_SYSTEM_ALREADY_EXISTS: HcsAlreadyExistsError,
    _H.HCS_E_SYSTEM_ALREADY_STOPPED: HcsAlreadyStoppedError,
    _H.HCS_E_PROTOCOL_ERROR: HcsGuestConnectionError,
    _H.HCS_E_INVALID_LAYER: HcsError,
    _H.HCS_E_WINDOWS_INSIDER_REQUIRED: HcsError,
    _H.HCS_E_SERVICE_NOT_AVAILABLE: HcsUnavailableError,
    _H.HCS_E_OPERATION_NOT_STARTED: HcsOperationNotStartedError,
    _H.HCS_E_OPERATION_ALREADY_STARTED: HcsOperationAlreadyStartedError,
    _H.HCS_E_OPERATION_PENDING: HcsOperationPendingError,
    _H.HCS_E_OPERATION_TIMEOUT: HcsTimeoutError,
    _H.HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET: HcsCallbackAlreadySetError,
    _H.HCS_E_OPERATION_RESULT_ALLOCATION_FAILED: HcsError,
    _H.HCS_E_ACCESS_DENIED: HcsAccessDeniedError,
    _H.HCS_E_GUEST_CRITICAL_ERROR: HcsUnexpectedExitError,
    _H.HCS_E_PROCESS_INFO_NOT_AVAILABLE: HcsError,
    _H.HCS_E_SERVICE_DISCONNECT: HcsServiceDisconnectedError,
    _H.HCS_E_PROCESS_ALREADY_STOPPED: HcsAlreadyStoppedError,
    _H.HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION: HcsNotSupportedError,
    _H.HCS_E_OPERATION_ALREADY_CANCELLED: HcsCancelledError,
    # v1 only: "completes through the callback".
    _H.ERROR_VMCOMPUTE_OPERATION_PENDING: HcsOperationPendingError,
    # Generic COM codes.
    _H.E_NOTIMPL: HcsNotImplementedError,
    _H.E_POINTER: HcsInvalidArgumentError,
    _H.E_ABORT: HcsCancelledError,
    _H.E_PENDING: HcsOperationPendingError,
    _H.RPC_E_DISCONNECTED: HcsServiceDisconnectedError,
    _H.E_ACCESSDENIED: HcsAccessDeniedError,
    _H.E_INVALIDARG: HcsInvalidArgumentError,
    # HRESULT_FROM_WIN32(...).
    _w(_W.ERROR_FILE_NOT_FOUND): HcsNotFoundError,
    _w(_W.ERROR_PATH_NOT_FOUND): HcsNotFoundError,
    _w(_W.ERROR_NOT_FOUND): HcsNotFoundError,
    _w(_W.ERROR_ALREADY_EXISTS): HcsAlreadyExistsError,
    _w(_W.ERROR_FILE_EXISTS): HcsAlreadyExistsError,
    _w(_W.ERROR_INVALID_STATE): HcsInvalidStateError,
    _w(_W.WAIT_TIMEOUT): HcsTimeoutError,
    _w(_W.ERROR_TIMEOUT): HcsTimeoutError,
    _w(_W.ERROR_SEM_TIMEOUT): HcsTimeoutError,
    _w(_W.ERROR_ELEVATION_REQUIRED): HcsAccessDeniedError,
    _w(_W.RPC_S_SERVER_UNAVAILABLE): HcsServiceDisconnectedError,
    _w(_W.RPC_S_CALL_FAILED): HcsServiceDisconnectedError,
    _w(_W.ERROR_BAD_ARGUMENTS): HcsInvalidArgumentError,
    _w(_W.ERROR_INVALID_DATA): HcsInvalidArgumentError,
    _w(_W.ERROR_INVALID_NAME): HcsInvalidArgumentError,
    _w(_W.ERROR_NOT_SUPPORTED): HcsNotSupportedError,
    _w(_W.ERROR_CALL_NOT_IMPLEMENTED): HcsNotImplementedError,
    _w(_W.ERROR_PROC_NOT_FOUND): HcsFunctionNotFoundError,
    _w(_W.ERROR_IO_PENDING): HcsOperationPendingError,
    _w(_W.ERROR_CANCELLED): HcsCancelledError,
    _w(_W.ERROR_OPERATION_ABORTED): HcsCancelledError,
    _w(_W.ERROR_MOD_NOT_FOUND): HcsUnavailableError,
    _w(_W.ERROR_SERVICE_DISABLED): HcsUnavailableError,
    _w(_W.ERROR_SERVICE_DOES_NOT_EXIST): HcsUnavailableError,
    _w(_W.ERROR_SERVICE_NOT_ACTIVE): HcsUnavailableError,
    _w(_W.ERROR_INVALID_HANDLE): HcsClosedError,
}


def error_class_for(hresult: int) -> Type[HcsError]:
    """The :class:`HcsError` subclass that :func:`error_from_hresult` uses for *hresult*."""
    return ERROR_CLASSES.get(normalize_hresult(hresult), HcsError)


def error_from_hresult(
    hresult: int,
    result: ResultDocument = None,
    *,
    function: Optional[str] = None,
    system_id: Optional[str] = None,
    process_id: Optional[int] = None,
) -> HcsError:
    """Build (not raise) the exception for *hresult* and the optional ResultError document.

    Accepts any int: signed or unsigned HRESULTs, bare Win32 codes, legacy ``0xC037xxxx`` codes. *result* may be
    JSON text, a parsed mapping or ``None``; unparsable text is kept in ``result_text``. Never raises.
    """
    cls = error_class_for(hresult)
    return cls(hresult, function=function, system_id=system_id, process_id=process_id, result=result)


def check_hresult(
    hresult: int,
    result: ResultDocument = None,
    *,
    function: Optional[str] = None,
    system_id: Optional[str] = None,
    process_id: Optional[int] = None,
) -> None:
    """Raise the matching :class:`HcsError` when *hresult* is FAILED; S_OK, S_FALSE and other non-negative values
    (including bare Win32 codes) pass silently."""
    if failed(hresult):
        raise error_from_hresult(hresult, result, function=function, system_id=system_id, process_id=process_id)


# --------------------------------------------------------------------------------------------------------------
# Constants: every HResult member (HRESULT values) and every Win32Error member (bare Win32 codes).

S_OK: Final[int] = HResult.S_OK
S_FALSE: Final[int] = HResult.S_FALSE
E_NOTIMPL: Final[int] = HResult.E_NOTIMPL
E_NOINTERFACE: Final[int] = HResult.E_NOINTERFACE
E_POINTER: Final[int] = HResult.E_POINTER
E_ABORT: Final[int] = HResult.E_ABORT
E_FAIL: Final[int] = HResult.E_FAIL
E_PENDING: Final[int] = HResult.E_PENDING
E_UNEXPECTED: Final[int] = HResult.E_UNEXPECTED
RPC_E_DISCONNECTED: Final[int] = HResult.RPC_E_DISCONNECTED
E_ACCESSDENIED: Final[int] = HResult.E_ACCESSDENIED
E_OUTOFMEMORY: Final[int] = HResult.E_OUTOFMEMORY
E_INVALIDARG: Final[int] = HResult.E_INVALIDARG
HCS_E_TERMINATED_DURING_START: Final[int] = HResult.HCS_E_TERMINATED_DURING_START
HCS_E_IMAGE_MISMATCH: Final[int] = HResult.HCS_E_IMAGE_MISMATCH
HCS_E_HYPERV_NOT_INSTALLED: Final[int] = HResult.HCS_E_HYPERV_NOT_INSTALLED
HCS_E_INVALID_STATE: Final[int] = HResult.HCS_E_INVALID_STATE
HCS_E_UNEXPECTED_EXIT: Final[int] = HResult.HCS_E_UNEXPECTED_EXIT
HCS_E_TERMINATED: Final[int] = HResult.HCS_E_TERMINATED
HCS_E_CONNECT_FAILED: Final[int] = HResult.HCS_E_CONNECT_FAILED
HCS_E_CONNECTION_TIMEOUT: Final[int] = HResult.HCS_E_CONNECTION_TIMEOUT
HCS_E_CONNECTION_CLOSED: Final[int] = HResult.HCS_E_CONNECTION_CLOSED
HCS_E_UNKNOWN_MESSAGE: Final[int] = HResult.HCS_E_UNKNOWN_MESSAGE
HCS_E_UNSUPPORTED_PROTOCOL_VERSION: Final[int] = HResult.HCS_E_UNSUPPORTED_PROTOCOL_VERSION
HCS_E_INVALID_JSON: Final[int] = HResult.HCS_E_INVALID_JSON
HCS_E_SYSTEM_NOT_FOUND: Final[int] = HResult.HCS_E_SYSTEM_NOT_FOUND
HCS_E_SYSTEM_ALREADY_EXISTS: Final[int] = HResult.HCS_E_SYSTEM_ALREADY_EXISTS
HCS_E_SYSTEM_ALREADY_STOPPED: Final[int] = HResult.HCS_E_SYSTEM_ALREADY_STOPPED
HCS_E_PROTOCOL_ERROR: Final[int] = HResult.HCS_E_PROTOCOL_ERROR
HCS_E_INVALID_LAYER: Final[int] = HResult.HCS_E_INVALID_LAYER
HCS_E_WINDOWS_INSIDER_REQUIRED: Final[int] = HResult.HCS_E_WINDOWS_INSIDER_REQUIRED
HCS_E_SERVICE_NOT_AVAILABLE: Final[int] = HResult.HCS_E_SERVICE_NOT_AVAILABLE
HCS_E_OPERATION_NOT_STARTED: Final[int] = HResult.HCS_E_OPERATION_NOT_STARTED
HCS_E_OPERATION_ALREADY_STARTED: Final[int] = HResult.HCS_E_OPERATION_ALREADY_STARTED
HCS_E_OPERATION_PENDING: Final[int] = HResult.HCS_E_OPERATION_PENDING
HCS_E_OPERATION_TIMEOUT: Final[int] = HResult.HCS_E_OPERATION_TIMEOUT
HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET: Final[int] = HResult.HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET
HCS_E_OPERATION_RESULT_ALLOCATION_FAILED: Final[int] = HResult.HCS_E_OPERATION_RESULT_ALLOCATION_FAILED
HCS_E_ACCESS_DENIED: Final[int] = HResult.HCS_E_ACCESS_DENIED
HCS_E_GUEST_CRITICAL_ERROR: Final[int] = HResult.HCS_E_GUEST_CRITICAL_ERROR
HCS_E_PROCESS_INFO_NOT_AVAILABLE: Final[int] = HResult.HCS_E_PROCESS_INFO_NOT_AVAILABLE
HCS_E_SERVICE_DISCONNECT: Final[int] = HResult.HCS_E_SERVICE_DISCONNECT
HCS_E_PROCESS_ALREADY_STOPPED: Final[int] = HResult.HCS_E_PROCESS_ALREADY_STOPPED
HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION: Final[int] = HResult.HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION
HCS_E_OPERATION_ALREADY_CANCELLED: Final[int] = HResult.HCS_E_OPERATION_ALREADY_CANCELLED
ERROR_VMCOMPUTE_TERMINATED_DURING_START: Final[int] = HResult.ERROR_VMCOMPUTE_TERMINATED_DURING_START
ERROR_VMCOMPUTE_IMAGE_MISMATCH: Final[int] = HResult.ERROR_VMCOMPUTE_IMAGE_MISMATCH
ERROR_VMCOMPUTE_HYPERV_NOT_INSTALLED: Final[int] = HResult.ERROR_VMCOMPUTE_HYPERV_NOT_INSTALLED
ERROR_VMCOMPUTE_OPERATION_PENDING: Final[int] = HResult.ERROR_VMCOMPUTE_OPERATION_PENDING
ERROR_VMCOMPUTE_TOO_MANY_NOTIFICATIONS: Final[int] = HResult.ERROR_VMCOMPUTE_TOO_MANY_NOTIFICATIONS
ERROR_VMCOMPUTE_INVALID_STATE: Final[int] = HResult.ERROR_VMCOMPUTE_INVALID_STATE
ERROR_VMCOMPUTE_UNEXPECTED_EXIT: Final[int] = HResult.ERROR_VMCOMPUTE_UNEXPECTED_EXIT
ERROR_VMCOMPUTE_TERMINATED: Final[int] = HResult.ERROR_VMCOMPUTE_TERMINATED
ERROR_VMCOMPUTE_CONNECT_FAILED: Final[int] = HResult.ERROR_VMCOMPUTE_CONNECT_FAILED
ERROR_VMCOMPUTE_TIMEOUT: Final[int] = HResult.ERROR_VMCOMPUTE_TIMEOUT
ERROR_VMCOMPUTE_CONNECTION_CLOSED: Final[int] = HResult.ERROR_VMCOMPUTE_CONNECTION_CLOSED
ERROR_VMCOMPUTE_UNKNOWN_MESSAGE: Final[int] = HResult.ERROR_VMCOMPUTE_UNKNOWN_MESSAGE
ERROR_VMCOMPUTE_UNSUPPORTED_PROTOCOL_VERSION: Final[int] = HResult.ERROR_VMCOMPUTE_UNSUPPORTED_PROTOCOL_VERSION
ERROR_VMCOMPUTE_INVALID_JSON: Final[int] = HResult.ERROR_VMCOMPUTE_INVALID_JSON
ERROR_VMCOMPUTE_SYSTEM_NOT_FOUND: Final[int] = HResult.ERROR_VMCOMPUTE_SYSTEM_NOT_FOUND
ERROR_VMCOMPUTE_SYSTEM_ALREADY_EXISTS: Final[int] = HResult.ERROR_VMCOMPUTE_SYSTEM_ALREADY_EXISTS
ERROR_VMCOMPUTE_SYSTEM_ALREADY_STOPPED: Final[int] = HResult.ERROR_VMCOMPUTE_SYSTEM_ALREADY_STOPPED
ERROR_VMCOMPUTE_PROTOCOL_ERROR: Final[int] = HResult.ERROR_VMCOMPUTE_PROTOCOL_ERROR
ERROR_VMCOMPUTE_INVALID_LAYER: Final[int] = HResult.ERROR_VMCOMPUTE_INVALID_LAYER
ERROR_VMCOMPUTE_WINDOWS_INSIDER_REQUIRED: Final[int] = HResult.ERROR_VMCOMPUTE_WINDOWS_INSIDER_REQUIRED
ERROR_SUCCESS: Final[int] = Win32Error.ERROR_SUCCESS
ERROR_INVALID_FUNCTION: Final[int] = Win32Error.ERROR_INVALID_FUNCTION
ERROR_FILE_NOT_FOUND: Final[int] = Win32Error.ERROR_FILE_NOT_FOUND
ERROR_PATH_NOT_FOUND: Final[int] = Win32Error.ERROR_PATH_NOT_FOUND
ERROR_ACCESS_DENIED: Final[int] = Win32Error.ERROR_ACCESS_DENIED
ERROR_INVALID_HANDLE: Final[int] = Win32Error.ERROR_INVALID_HANDLE
ERROR_NOT_ENOUGH_MEMORY: Final[int] = Win32Error.ERROR_NOT_ENOUGH_MEMORY
ERROR_INVALID_DATA: Final[int] = Win32Error.ERROR_INVALID_DATA
ERROR_OUTOFMEMORY: Final[int] = Win32Error.ERROR_OUTOFMEMORY
ERROR_NOT_READY: Final[int] = Win32Error.ERROR_NOT_READY
ERROR_SHARING_VIOLATION: Final[int] = Win32Error.ERROR_SHARING_VIOLATION
ERROR_HANDLE_EOF: Final[int] = Win32Error.ERROR_HANDLE_EOF
ERROR_NOT_SUPPORTED: Final[int] = Win32Error.ERROR_NOT_SUPPORTED
ERROR_DEV_NOT_EXIST: Final[int] = Win32Error.ERROR_DEV_NOT_EXIST
ERROR_FILE_EXISTS: Final[int] = Win32Error.ERROR_FILE_EXISTS
ERROR_INVALID_PARAMETER: Final[int] = Win32Error.ERROR_INVALID_PARAMETER
ERROR_BROKEN_PIPE: Final[int] = Win32Error.ERROR_BROKEN_PIPE
ERROR_DISK_FULL: Final[int] = Win32Error.ERROR_DISK_FULL
ERROR_CALL_NOT_IMPLEMENTED: Final[int] = Win32Error.ERROR_CALL_NOT_IMPLEMENTED
ERROR_SEM_TIMEOUT: Final[int] = Win32Error.ERROR_SEM_TIMEOUT
ERROR_INSUFFICIENT_BUFFER: Final[int] = Win32Error.ERROR_INSUFFICIENT_BUFFER
ERROR_INVALID_NAME: Final[int] = Win32Error.ERROR_INVALID_NAME
ERROR_MOD_NOT_FOUND: Final[int] = Win32Error.ERROR_MOD_NOT_FOUND
ERROR_PROC_NOT_FOUND: Final[int] = Win32Error.ERROR_PROC_NOT_FOUND
ERROR_DIR_NOT_EMPTY: Final[int] = Win32Error.ERROR_DIR_NOT_EMPTY
ERROR_BAD_ARGUMENTS: Final[int] = Win32Error.ERROR_BAD_ARGUMENTS
ERROR_BUSY: Final[int] = Win32Error.ERROR_BUSY
ERROR_ALREADY_EXISTS: Final[int] = Win32Error.ERROR_ALREADY_EXISTS
ERROR_BAD_EXE_FORMAT: Final[int] = Win32Error.ERROR_BAD_EXE_FORMAT
ERROR_NO_DATA: Final[int] = Win32Error.ERROR_NO_DATA
ERROR_PIPE_NOT_CONNECTED: Final[int] = Win32Error.ERROR_PIPE_NOT_CONNECTED
ERROR_MORE_DATA: Final[int] = Win32Error.ERROR_MORE_DATA
WAIT_TIMEOUT: Final[int] = Win32Error.WAIT_TIMEOUT
ERROR_INVALID_ADDRESS: Final[int] = Win32Error.ERROR_INVALID_ADDRESS
ERROR_ELEVATION_REQUIRED: Final[int] = Win32Error.ERROR_ELEVATION_REQUIRED
ERROR_OPERATION_ABORTED: Final[int] = Win32Error.ERROR_OPERATION_ABORTED
ERROR_IO_PENDING: Final[int] = Win32Error.ERROR_IO_PENDING
ERROR_SERVICE_ALREADY_RUNNING: Final[int] = Win32Error.ERROR_SERVICE_ALREADY_RUNNING
ERROR_SERVICE_DISABLED: Final[int] = Win32Error.ERROR_SERVICE_DISABLED
ERROR_SERVICE_DOES_NOT_EXIST: Final[int] = Win32Error.ERROR_SERVICE_DOES_NOT_EXIST
ERROR_SERVICE_NOT_ACTIVE: Final[int] = Win32Error.ERROR_SERVICE_NOT_ACTIVE
ERROR_SHUTDOWN_IN_PROGRESS: Final[int] = Win32Error.ERROR_SHUTDOWN_IN_PROGRESS
ERROR_NOT_FOUND: Final[int] = Win32Error.ERROR_NOT_FOUND
ERROR_CANCELLED: Final[int] = Win32Error.ERROR_CANCELLED
ERROR_RETRY: Final[int] = Win32Error.ERROR_RETRY
ERROR_NO_SYSTEM_RESOURCES: Final[int] = Win32Error.ERROR_NO_SYSTEM_RESOURCES
ERROR_TIMEOUT: Final[int] = Win32Error.ERROR_TIMEOUT
RPC_S_SERVER_UNAVAILABLE: Final[int] = Win32Error.RPC_S_SERVER_UNAVAILABLE
RPC_S_CALL_FAILED: Final[int] = Win32Error.RPC_S_CALL_FAILED
ERROR_INVALID_OPERATION: Final[int] = Win32Error.ERROR_INVALID_OPERATION
ERROR_INVALID_STATE: Final[int] = Win32Error.ERROR_INVALID_STATE


__all__ = [
    # functions
    "check_hresult",
    "error_class_for",
    "error_from_hresult",
    "failed",
    "hresult_from_win32",
    "hresult_message",
    "hresult_name",
    "normalize_hresult",
    "parse_result_document",
    "succeeded",
    "win32_from_hresult",
    # tables and types
    "ERROR_CLASSES",
    "HCS_E_CODES",
    "HResult",
    "ResultDocument",
    "Win32Error",
    # exceptions
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
]
__all__ += [member.name for member in HResult]
__all__ += [member.name for member in Win32Error]
