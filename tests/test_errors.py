"""pyhcs.errors: HRESULT (+ ResultError document) -> exception.

Codes and texts: Microsoft's HCSHResult.md (0x80370100-0x8037011F), SDK 10.0.22621 winerror.h (0x120, 0x121),
ERROR_VMCOMPUTE_* from golang.org/x/sys and hcsshim internal/hcs/v2/errors.go. Needs no HCS library.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, Dict, Tuple, Type

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyhcs import errors
from pyhcs.errors import (
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
    HcsServiceDisconnectedError,
    HcsTerminatedError,
    HcsTimeoutError,
    HcsUnavailableError,
    HcsUnexpectedExitError,
    HResult,
    check_hresult,
    error_from_hresult,
    failed,
    hresult_from_win32,
    hresult_message,
    hresult_name,
    normalize_hresult,
    succeeded,
    win32_from_hresult,
)


def signed32(value: int) -> int:
    """What cffi hands back for an HRESULT return value."""
    return value - (1 << 32) if value & 0x80000000 else value


# The whole HCS_E_* table as the spec for pyhcs: code -> (name, class users catch).
HCS_E_TABLE: Dict[int, Tuple[str, Type[HcsError]]] = {
    0x80370100: ("HCS_E_TERMINATED_DURING_START", HcsUnexpectedExitError),
    0x80370101: ("HCS_E_IMAGE_MISMATCH", HcsImageMismatchError),
    0x80370102: ("HCS_E_HYPERV_NOT_INSTALLED", HcsUnavailableError),
    0x80370105: ("HCS_E_INVALID_STATE", HcsInvalidStateError),
    0x80370106: ("HCS_E_UNEXPECTED_EXIT", HcsUnexpectedExitError),
    0x80370107: ("HCS_E_TERMINATED", HcsTerminatedError),
    0x80370108: ("HCS_E_CONNECT_FAILED", HcsGuestConnectionError),
    0x80370109: ("HCS_E_CONNECTION_TIMEOUT", HcsTimeoutError),
    0x8037010A: ("HCS_E_CONNECTION_CLOSED", HcsGuestConnectionError),
    0x8037010B: ("HCS_E_UNKNOWN_MESSAGE", HcsNotSupportedError),
    0x8037010C: ("HCS_E_UNSUPPORTED_PROTOCOL_VERSION", HcsGuestConnectionError),
    0x8037010D: ("HCS_E_INVALID_JSON", HcsInvalidJsonError),
    0x8037010E: ("HCS_E_SYSTEM_NOT_FOUND", HcsNotFoundError),
    0x8037010F: ("HCS_E_SYSTEM_ALREADY_EXISTS", HcsAlreadyExistsError),
    0x80370110: ("HCS_E_SYSTEM_ALREADY_STOPPED", HcsAlreadyStoppedError),
    0x80370111: ("HCS_E_PROTOCOL_ERROR", HcsGuestConnectionError),
    0x80370112: ("HCS_E_INVALID_LAYER", HcsError),
    0x80370113: ("HCS_E_WINDOWS_INSIDER_REQUIRED", HcsError),
    0x80370114: ("HCS_E_SERVICE_NOT_AVAILABLE", HcsUnavailableError),
    0x80370115: ("HCS_E_OPERATION_NOT_STARTED", HcsOperationNotStartedError),
    0x80370116: ("HCS_E_OPERATION_ALREADY_STARTED", HcsOperationAlreadyStartedError),
    0x80370117: ("HCS_E_OPERATION_PENDING", HcsOperationPendingError),
    0x80370118: ("HCS_E_OPERATION_TIMEOUT", HcsTimeoutError),
    0x80370119: ("HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET", HcsCallbackAlreadySetError),
    0x8037011A: ("HCS_E_OPERATION_RESULT_ALLOCATION_FAILED", HcsError),
    0x8037011B: ("HCS_E_ACCESS_DENIED", HcsAccessDeniedError),
    0x8037011C: ("HCS_E_GUEST_CRITICAL_ERROR", HcsUnexpectedExitError),
    0x8037011D: ("HCS_E_PROCESS_INFO_NOT_AVAILABLE", HcsError),
    0x8037011E: ("HCS_E_SERVICE_DISCONNECT", HcsServiceDisconnectedError),
    0x8037011F: ("HCS_E_PROCESS_ALREADY_STOPPED", HcsAlreadyStoppedError),
    0x80370120: ("HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION", HcsNotSupportedError),
    0x80370121: ("HCS_E_OPERATION_ALREADY_CANCELLED", HcsCancelledError),
}

RESULT_ERROR = {
    "Error": signed32(0x8037010D),
    "ErrorMessage": "The VirtualMachine.Devices.Scsi\ndocument is invalid",
    "ErrorEvents": [
        {
            "Message": "Unknown field 'Foo'",
            "Provider": "17103E3F-3C6E-4677-BB17-3B267EB5BE57",
            "EventId": 12,
            "Source": "x",
        },
        "not an event",
    ],
    "Attribution": [{"SystemExit": {"Detail": "HostCrash"}}],
}


# -- the HCS_E_* table ----------------------------------------------------------------------------------------


def test_table_has_exactly_the_32_hcs_e_codes() -> None:
    assert len(HCS_E_TABLE) == 32
    assert sorted(int(code) for code in errors.HCS_E_CODES) == sorted(HCS_E_TABLE)
    # 0x103 and 0x104 are unassigned in the v2 range (HCSHResult.md).
    assert hresult_name(0x80370103) is None and hresult_name(0x80370104) is None


@pytest.mark.parametrize("code", sorted(HCS_E_TABLE), ids=lambda c: f"0x{c:08X}")
def test_every_hcs_e_code_has_name_message_constant_and_class(code: int) -> None:
    name, cls = HCS_E_TABLE[code]
    assert hresult_name(code) == name
    message = hresult_message(code)
    assert message and "0x" not in message  # the documented text, not the fallback
    assert getattr(errors, name) == code and name in errors.__all__
    err = error_from_hresult(code)
    assert type(err) is cls
    assert (err.hresult, err.original_hresult, err.name, err.message) == (code, code, name, message)
    assert type(error_from_hresult(signed32(code))) is cls


def test_documented_texts() -> None:
    assert hresult_message(HResult.HCS_E_OPERATION_TIMEOUT) == "The operation did not complete in time"
    assert hresult_message(0x80370121) == "The operation has already been cancelled"
    assert hresult_message(0x80370120) == "The virtual machine or container is not configured to perform the operation"
    # A third-party header got this one wrong (hcs-facts.md section 5.10); the SDK value is 0x80370118.
    assert errors.HCS_E_OPERATION_TIMEOUT == 0x80370118


def test_every_named_value_is_a_module_constant_and_exported() -> None:
    for enum_cls in (errors.HResult, errors.Win32Error):
        for member in enum_cls:
            assert getattr(errors, member.name) == member.value, member.name
            assert member.name in errors.__all__
    assert errors.ERROR_NOT_FOUND == 1168 and errors.E_INVALIDARG == 0x80070057
    for name in errors.__all__:
        assert hasattr(errors, name), name


# -- legacy 0xC037xxxx forms ----------------------------------------------------------------------------------


LEGACY_WITH_V2_TWIN = [c & 0xFFFF for c in range(0xC0370100, 0xC0370114) if c not in (0xC0370103, 0xC0370104)]


@pytest.mark.parametrize("low", LEGACY_WITH_V2_TWIN)
def test_legacy_vmcompute_form_means_the_hcs_e_code(low: int) -> None:
    legacy, modern = 0xC0370000 | low, 0x80370000 | low
    assert normalize_hresult(legacy) == modern
    err = error_from_hresult(signed32(legacy))
    assert type(err) is type(error_from_hresult(modern))
    assert err.name == hresult_name(modern) and err.hresult == modern
    assert err.original_hresult == legacy
    assert f"0x{legacy:08X}" in str(err)


def test_v1_only_legacy_codes_keep_their_value() -> None:
    pending = error_from_hresult(0xC0370103)
    assert isinstance(pending, HcsOperationPendingError)
    assert (pending.hresult, pending.name) == (0xC0370103, "ERROR_VMCOMPUTE_OPERATION_PENDING")
    too_many = error_from_hresult(0xC0370104)
    assert type(too_many) is HcsError and too_many.name == "ERROR_VMCOMPUTE_TOO_MANY_NOTIFICATIONS"
    # Other 0xC037xxxx codes (VID, VNET...) are not part of the HCS range and stay untouched.
    assert normalize_hresult(0xC0370200) == 0xC0370200


# -- Win32 and COM codes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, name, cls",
    [
        (0x80070057, "E_INVALIDARG", HcsInvalidArgumentError),
        (0x80070490, "ERROR_NOT_FOUND", HcsNotFoundError),
        (0x80070005, "E_ACCESSDENIED", HcsAccessDeniedError),
        (0x80070006, "ERROR_INVALID_HANDLE", HcsClosedError),
        (0x8007007F, "ERROR_PROC_NOT_FOUND", HcsFunctionNotFoundError),
        (0x80004001, "E_NOTIMPL", HcsNotImplementedError),
        (0x8007000D, "ERROR_INVALID_DATA", HcsInvalidArgumentError),
        (0x80070032, "ERROR_NOT_SUPPORTED", HcsNotSupportedError),
        (0x80070002, "ERROR_FILE_NOT_FOUND", HcsNotFoundError),
        (0x80070003, "ERROR_PATH_NOT_FOUND", HcsNotFoundError),
        (0x800700B7, "ERROR_ALREADY_EXISTS", HcsAlreadyExistsError),
        (0x8007000E, "E_OUTOFMEMORY", HcsError),
        (0x80004005, "E_FAIL", HcsError),
        (0x80004003, "E_POINTER", HcsInvalidArgumentError),
        (0x8000FFFF, "E_UNEXPECTED", HcsError),
        (0x80004004, "E_ABORT", HcsCancelledError),
        (0x80070102, "WAIT_TIMEOUT", HcsTimeoutError),
        (0x800705B4, "ERROR_TIMEOUT", HcsTimeoutError),
        (0x800700A0, "ERROR_BAD_ARGUMENTS", HcsInvalidArgumentError),
        (0x800706BA, "RPC_S_SERVER_UNAVAILABLE", HcsServiceDisconnectedError),
        (0x8007007E, "ERROR_MOD_NOT_FOUND", HcsUnavailableError),
    ],
)
def test_common_codes(code: int, name: str, cls: Type[HcsError]) -> None:
    for form in (code, signed32(code)):
        err = error_from_hresult(form)
        assert type(err) is cls and err.name == name and err.hresult == code
    win32 = win32_from_hresult(code)
    if win32 is not None:
        # A bare Win32 code means the same as its HRESULT_FROM_WIN32 form.
        bare = error_from_hresult(win32)
        assert type(bare) is cls and bare.hresult == code and bare.original_hresult == win32
        assert bare.win32_error == win32


def test_hresult_from_win32_round_trip() -> None:
    for win32 in (1, 5, 6, 87, 127, 1168, 1460, 0xFFFF):
        hr = hresult_from_win32(win32)
        assert hr == 0x80070000 | win32
        assert win32_from_hresult(hr) == win32
        assert win32_from_hresult(signed32(hr)) == win32
    assert hresult_from_win32(errors.ERROR_NOT_FOUND) == 0x80070490
    # HRESULT_FROM_WIN32 leaves 0 and values that are already HRESULTs alone.
    assert hresult_from_win32(0) == 0
    assert hresult_from_win32(0x80370118) == 0x80370118
    assert hresult_from_win32(signed32(0x80370118)) == 0x80370118
    assert win32_from_hresult(0x80370118) is None


def test_negative_int32_from_cffi() -> None:
    assert normalize_hresult(-2147024809) == 0x80070057  # E_INVALIDARG as a C HRESULT
    assert normalize_hresult(-1) == 0xFFFFFFFF
    assert normalize_hresult(-(2**31)) == 0x80000000
    err = error_from_hresult(signed32(0x80370118), function="HcsWaitForOperationResult")
    assert isinstance(err, HcsTimeoutError) and err.original_hresult == 0x80370118


def test_unknown_codes_are_readable() -> None:
    err = error_from_hresult(0x8123ABCD)
    assert type(err) is HcsError and err.name is None
    assert "0x8123ABCD" in str(err) and "facility 0x123" in str(err) and "0xABCD" in str(err)
    assert str(err).count("0x8123ABCD") == 1
    assert "FACILITY_VIRTUALIZATION" in hresult_message(0x80370555)
    wrapped = error_from_hresult(0x80071234)
    assert "Win32 error 4660" in str(wrapped) and wrapped.win32_error == 0x1234


# -- FAILED / SUCCEEDED / check_hresult --------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 1, 0x12345, 0x7FFFFFFF])
def test_check_hresult_passes_success_codes(code: int) -> None:
    assert succeeded(code) and not failed(code)
    check_hresult(code, "not json", function="HcsStartComputeSystem")


def test_check_hresult_raises_the_mapped_class() -> None:
    with pytest.raises(HcsAlreadyStoppedError) as info:
        check_hresult(signed32(0x8037011F), function="HcsTerminateProcess", system_id="vm", process_id=7)
    assert (info.value.function, info.value.system_id, info.value.process_id) == ("HcsTerminateProcess", "vm", 7)
    assert failed(-1) and failed(0x80000000)


# -- the ResultError document -------------------------------------------------------------------------------


def test_result_error_parsed_from_json_text() -> None:
    text = json.dumps(RESULT_ERROR)
    err = error_from_hresult(0x8037010D, text, function="HcsCreateComputeSystem", system_id="vm1")
    assert err.result == RESULT_ERROR and err.result_text == text
    assert err.result_message == RESULT_ERROR["ErrorMessage"]
    assert err.result_error == 0x8037010D
    assert err.error_events == [RESULT_ERROR["ErrorEvents"][0]]  # type: ignore[index]
    assert err.attribution == RESULT_ERROR["Attribution"]
    described = err.describe().splitlines()
    assert described[0] == str(err)
    assert "Unknown field 'Foo'" in described[1] and "EventId=12" in described[1]
    assert "HostCrash" in described[2]


def test_result_error_from_mapping_and_with_missing_fields() -> None:
    err = error_from_hresult(0x80004005, {"Error": 5})
    assert err.result == {"Error": 5} and err.result_text is None
    assert err.result_message is None and err.error_events == [] and err.attribution == []
    assert err.result_error == 5
    wrong_types = {"ErrorMessage": 3, "ErrorEvents": {}, "Attribution": "x", "Error": True}
    typed_wrong = error_from_hresult(0x80004005, wrong_types)
    assert typed_wrong.result_message is None and typed_wrong.error_events == [] and typed_wrong.attribution == []
    assert typed_wrong.result_error is None


@pytest.mark.parametrize(
    "document", ["{broken", "[1, 2]", '"just a string"', "42", "null", "\ufeff not json", "[" * 100000]
)
def test_result_that_is_not_a_json_object_is_kept_as_text(document: str) -> None:
    err = error_from_hresult(0x80004005, document)
    assert err.result is None and err.result_text == document
    assert err.error_events == [] and err.attribution == [] and err.result_message is None
    assert "\n" not in str(err) and len(str(err)) < 400


def test_bom_and_empty_results() -> None:
    assert error_from_hresult(0x80004005, '\ufeff{"ErrorMessage": "x"}').result_message == "x"
    for empty in ("", "   ", None):
        err = error_from_hresult(0x80004005, empty)
        assert err.result is None and err.result_text is None


# -- str(), repr() ------------------------------------------------------------------------------------------


def test_str_is_one_line_with_everything_known() -> None:
    err = error_from_hresult(
        signed32(0x8037010D),
        json.dumps(RESULT_ERROR),
        function="HcsCreateComputeSystem",
        system_id="vm1",
        process_id=42,
    )
    text = str(err)
    assert "\n" not in text
    for part in (
        "HcsCreateComputeSystem",
        "The virtual machine or container JSON document is invalid",
        "HCS_E_INVALID_JSON",
        "0x8037010D",
        "vm1",
        "42",
        "The VirtualMachine.Devices.Scsi document is invalid",
    ):
        assert part in text
    assert text.startswith("HcsCreateComputeSystem: ")
    assert "HCS_E_INVALID_JSON" in repr(err) and "HcsInvalidJsonError(" in repr(err)


def test_explicit_message_and_defaults() -> None:
    closed = HcsClosedError(message="ComputeSystem 'vm1' is closed")
    assert closed.hresult == 0x80070006 and closed.name == "ERROR_INVALID_HANDLE"
    assert str(closed) == "ComputeSystem 'vm1' is closed (ERROR_INVALID_HANDLE, 0x80070006)"
    missing = HcsFunctionNotFoundError(0x8007007F, "HcsFoo is not exported by x.dll", function="HcsFoo")
    assert str(missing).startswith("HcsFoo is not exported") and missing.function == "HcsFoo"
    assert HcsError().hresult == 0x80004005
    assert HcsTimeoutError().name == "HCS_E_OPERATION_TIMEOUT"


# -- builtin bases, OSError quirks, pickling ------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, builtin",
    [
        (0x80370118, TimeoutError),
        (0x80370109, TimeoutError),
        (0x8037011B, PermissionError),
        (0x80070005, PermissionError),
        (0x8037010D, ValueError),
        (0x80070057, ValueError),
        (0x8037010E, LookupError),
        (0x80070490, LookupError),
        (0x80004001, NotImplementedError),
        (0x80070006, ValueError),
    ],
)
def test_builtin_bases(code: int, builtin: Type[BaseException]) -> None:
    err = error_from_hresult(code, function="HcsX")
    assert isinstance(err, builtin) and isinstance(err, HcsError)
    with pytest.raises(builtin):
        check_hresult(code)


def test_oserror_subclasses_keep_args_and_str() -> None:
    for code in (0x80370118, 0x8037011B):
        err = error_from_hresult(code, '{"ErrorMessage": "detail"}', function="HcsF", system_id="s", process_id=1)
        assert isinstance(err, OSError)
        assert err.args == (err.message,)
        assert err.errno is None and err.strerror is None
        assert "[Errno" not in str(err) and str(err).startswith("HcsF: ") and str(err).endswith(": detail")


def _roundtrip(err: HcsError) -> HcsError:
    clone = pickle.loads(pickle.dumps(err, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(clone, HcsError)
    return clone


@pytest.mark.parametrize("code", sorted(HCS_E_TABLE) + [0xC0370109, 5, 0x80070006, 0x8123ABCD, 0x8007007F])
def test_pickle_round_trip(code: int) -> None:
    err = error_from_hresult(code, json.dumps(RESULT_ERROR), function="HcsF", system_id="vm1", process_id=9)
    clone = _roundtrip(err)
    assert type(clone) is type(err)
    assert str(clone) == str(err) and repr(clone) == repr(err) and clone.args == err.args
    for attr in ("hresult", "original_hresult", "name", "message", "function", "system_id", "process_id", "result"):
        assert getattr(clone, attr) == getattr(err, attr), attr


def test_pickle_keeps_custom_fields() -> None:
    err = HcsFunctionNotFoundError(0x8007007F, "HcsFoo is missing", name="ERROR_PROC_NOT_FOUND", function="HcsFoo")
    err.extra = "kept"  # type: ignore[attr-defined]
    clone = _roundtrip(err)
    assert (clone.message, clone.function, getattr(clone, "extra")) == ("HcsFoo is missing", "HcsFoo", "kept")
    raw = _roundtrip(error_from_hresult(0x80004005, "{broken"))
    assert raw.result is None and raw.result_text == "{broken"
    mapped = _roundtrip(error_from_hresult(0x80004005, {"ErrorMessage": "m"}))
    assert mapped.result == {"ErrorMessage": "m"}


# -- properties over every input --------------------------------------------------------------------------


@given(st.integers(min_value=-(2**31), max_value=2**32 - 1))
def test_error_from_any_int(code: int) -> None:
    err = error_from_hresult(code)
    assert isinstance(err, HcsError)
    assert err.hresult == normalize_hresult(code)
    assert 0 <= err.hresult <= 0xFFFFFFFF and err.original_hresult == code & 0xFFFFFFFF
    assert err.name == hresult_name(code)
    text = str(err)
    assert text and "\n" not in text and f"0x{err.hresult:08X}" in text
    assert type(_roundtrip(err)) is type(err)


@given(st.integers(min_value=-(2**31), max_value=2**32 - 1))
def test_check_hresult_raises_only_when_failed(code: int) -> None:
    if failed(code):
        with pytest.raises(HcsError):
            check_hresult(code)
    else:
        check_hresult(code)


@given(st.one_of(st.none(), st.text(), st.dictionaries(st.text(), st.integers() | st.text() | st.none())))
def test_any_result_document_is_accepted(document: Any) -> None:
    err = error_from_hresult(0x80370118, document, function="HcsWaitForOperationResult")
    assert "\n" not in str(err)
    assert err.result is None or isinstance(err.result, dict)
    assert isinstance(err.error_events, list) and isinstance(err.attribution, list)
