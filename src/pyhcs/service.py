"""The HCS service itself: its properties, settings, and the file-access helpers of computecore.

These calls are synchronous in HCS (no HCS_OPERATION): the result document is returned directly and freed with
LocalFree (HcsGetServiceProperties.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Mapping, Optional, Sequence, Tuple, Union, cast

from . import _trace
from ._ffi import ffi, lib
from ._strings import Document, document_arg, take_document, to_wide
from .errors import check_hresult
if TYPE_CHECKING:
    from .schema import BasicInformation, ServiceProperties, Service_PropertyQuery

ServiceQuery = Union["Service_PropertyQuery", Sequence[str], Mapping[str, Any], str, None]


def _query(query: ServiceQuery) -> Document:
    if query is None or isinstance(query, (str, Mapping)):
        return cast(Document, query)
    types = list(query)
    if not all(isinstance(t, str) for t in types):
        raise TypeError("property types must be strings such as 'Basic'")
    return {"PropertyTypes": types}


def get_service_properties(query: ServiceQuery = ("Basic",)) -> "ServiceProperties":
    """HcsGetServiceProperties: ServiceProperties for a Service_PropertyQuery (or a list of property types:
    "Basic", "CpuGroup", "ProcessorTopology", "ContainerCredentialGuard", "QoSCapabilities")."""
    q = document_arg(_query(query), "Service_PropertyQuery")
    result = ffi.new("PWSTR *")
    hr = _trace.timed("HcsGetServiceProperties", lib.HcsGetServiceProperties, q, result)
    doc = take_document(result[0])
    check_hresult(hr, doc if hr < 0 else None, function="HcsGetServiceProperties")
    return cast("ServiceProperties", doc or {})


def basic_information() -> "BasicInformation":
    """The "Basic" service properties: the schema versions this host supports."""
    props = get_service_properties(["Basic"])
    entries = props.get("Properties") or [{}]
    return cast("BasicInformation", entries[0] if isinstance(entries[0], dict) else {})


def supported_schema_versions() -> List[Tuple[int, int]]:
    """Every (major, minor) schema version this host accepts (an entry A.X means A.0 .. A.X)."""
    from .schema.versions import supported_schema_versions as expand

    return expand(basic_information())


def modify_service_settings(settings: Union[Mapping[str, Any], str]) -> Any:
    """HcsModifyServiceSettings with a ModificationRequest (PropertyType "CpuGroup" | "ContainerCredentialGuard")."""
    s = document_arg(settings, "ModificationRequest")
    result = ffi.new("PWSTR *")
    hr = _trace.timed("HcsModifyServiceSettings", lib.HcsModifyServiceSettings, s, result)
    doc = take_document(result[0])
    check_hresult(hr, doc if hr < 0 else None, function="HcsModifyServiceSettings")
    return doc


def submit_wer_report(crash_report: Union[Mapping[str, Any], str]) -> None:
    """HcsSubmitWerReport: hand a CrashReport (from a SystemCrashReport event) to Windows Error Reporting."""
    s = document_arg(crash_report, "CrashReport")
    check_hresult(_trace.timed("HcsSubmitWerReport", lib.HcsSubmitWerReport, s), function="HcsSubmitWerReport")


def _path_call(function: str, *paths: Optional[str]) -> None:
    args = [to_wide(p, "path") for p in paths if p is not None]
    check_hresult(_trace.timed(function, getattr(lib, function), *args), function=function)


def create_empty_guest_state_file(path: str) -> None:
    """HcsCreateEmptyGuestStateFile: a new VMGS file for a VM's GuestState."""
    _path_call("HcsCreateEmptyGuestStateFile", path)


def create_empty_runtime_state_file(path: str) -> None:
    """HcsCreateEmptyRuntimeStateFile: a new VMRS file for a VM's runtime state."""
    _path_call("HcsCreateEmptyRuntimeStateFile", path)


def grant_vm_access(vm_id: str, path: str) -> None:
    """HcsGrantVmAccess: let the VM's worker process open *path*."""
    _path_call("HcsGrantVmAccess", vm_id, path)


def revoke_vm_access(vm_id: str, path: str) -> None:
    """HcsRevokeVmAccess: undo ``grant_vm_access``."""
    _path_call("HcsRevokeVmAccess", vm_id, path)


def grant_vm_group_access(path: str) -> None:
    """HcsGrantVmGroupAccess: let every VM worker process open *path*."""
    _path_call("HcsGrantVmGroupAccess", path)


def revoke_vm_group_access(path: str) -> None:
    """HcsRevokeVmGroupAccess: undo ``grant_vm_group_access``."""
    _path_call("HcsRevokeVmGroupAccess", path)
