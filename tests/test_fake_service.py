"""The fake HCS: service-wide functions (properties, settings, saved-state processor requirements), raw ABI.

Sources: Reference/HcsGetServiceProperties.md (GetPropertyType -> document table), HcsModifyServiceSettings.md,
ServiceSample.md, HcsGetProcessorCompatibilityFromSavedState.md; SchemaReference.md (ServiceProperties,
BasicInformation, CpuGroupConfigurations, ProcessorTopology, ContainerCredentialGuardSystemInfo, QoSCapabilities,
ModificationRequest, HostProcessorModificationRequest, ContainerCredentialGuardOperationRequest,
VmProcessorRequirements); hcsshim internal/cpugroup, internal/credentials, internal/processorinfo.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional, Tuple

import pytest

from tests.fakes.rawhcs import (
    E_FILE_NOT_FOUND,
    E_INVALIDARG,
    HCS_E_INVALID_JSON,
    S_OK,
    doc,
    ffi,
    lib,
    take_wide,
    to_wide,
    u32,
)

E_ALREADY_EXISTS = 0x800700B7
E_NOT_FOUND = 0x80070490
GROUP = "7f1c0c3e-1d2b-4c5a-9e8f-0a1b2c3d4e5f"

PROCESSOR_FEATURES = {"Sse3", "LahfSahf", "Ssse3", "Sse4_1", "Sse4_2", "Sse4A", "Xop", "Popcnt", "Cmpxchg16B",
                      "Altmovcr8", "Lzcnt", "Misalignsse", "MmxExt", "Amd3Dnow", "ExtAmd3Dnow", "Page1Gb", "AmdAes",
                      "Pclmulqdq", "Pcid", "Fma4", "F16C", "Rdrand"}  # SchemaReference.md ProcessorFeature (part)
XSAVE_FEATURES = {"Xsave", "Xsave_Opt", "Avx", "Avx2", "Fma", "Mpx", "Avx512", "Avx512Dq", "Avx512Cd", "Avx512Bw",
                  "Avx512Vl", "Xsave_Comp"}  # SchemaReference.md XsaveProcessorFeature (part)


def service_properties(query: Any) -> Tuple[int, Optional[Any]]:
    out = ffi.new("PWSTR *")
    hr = u32(lib.HcsGetServiceProperties(doc(query), out))
    text = take_wide(out[0])
    return hr, json.loads(text) if text else None


def modify(settings: Any) -> Tuple[int, Optional[Any]]:
    out = ffi.new("PWSTR *")
    hr = u32(lib.HcsModifyServiceSettings(doc(settings), out))
    text = take_wide(out[0])
    return hr, json.loads(text) if text else None


def cpu_group(operation: str, **details: Any) -> Any:
    return {"PropertyType": "CpuGroup", "Settings": {"Operation": operation, "OperationDetails": details}}


def ccg(operation: str, **details: Any) -> Any:
    return {"PropertyType": "ContainerCredentialGuard", "Settings": {"Operation": operation,
                                                                     "OperationDetails": details}}


def test_basic_properties_are_wrapped_in_properties(fake) -> None:
    """ServiceProperties {Properties: [...]}: "an array corresponding to the requested property types"; Basic is a
    BasicInformation {SupportedSchemaVersions} (an entry A.X means A.0 .. A.X)."""
    hr, props = service_properties({"PropertyTypes": ["Basic"]})
    assert hr == S_OK and props == {"Properties": [{"SupportedSchemaVersions": [{"Major": 1, "Minor": 0},
                                                                               {"Major": 2, "Minor": 6}]}]}


def test_every_documented_service_property_type_has_its_document(fake) -> None:
    """HcsGetServiceProperties.md: CpuGroup -> CpuGroupConfigurations, ProcessorTopology -> ProcessorTopology,
    ContainerCredentialGuard -> ContainerCredentialGuardSystemInfo, QoSCapabilities -> QoSCapabilities, in the order
    requested."""
    hr, props = service_properties({"PropertyTypes": ["CpuGroup", "ProcessorTopology", "ContainerCredentialGuard",
                                                      "QoSCapabilities", "Basic"]})
    assert hr == S_OK
    groups, topology, credential_guard, qos, basic = props["Properties"]
    assert groups == {"CpuGroups": []}
    assert credential_guard == {"Instances": []}
    assert qos == {"ProcessorQoSSupported": True}
    assert "SupportedSchemaVersions" in basic
    # hcsshim internal/processorinfo relies on it for the host's logical processor count
    assert topology["LogicalProcessorCount"] == len(topology["LogicalProcessors"]) == (os.cpu_count() or 1)
    for i, lp in enumerate(topology["LogicalProcessors"]):
        assert lp["LpIndex"] == i and {"NodeNumber", "PackageId", "CoreId", "RootVpIndex"} <= set(lp)


def test_property_queries_answer_each_type_on_its_own(fake) -> None:
    """Service_PropertyQuery.PropertyQueries (2.5) -> ServiceProperties.PropertyResponses {type: {Response} or
    {Error}}; an unknown PropertyTypes entry fails the call with E_INVALIDARG and a ResultError."""
    hr, props = service_properties({"PropertyQueries": {"QoSCapabilities": {}, "Nope": {}}})
    assert hr == S_OK and props["Properties"] == []
    assert props["PropertyResponses"]["QoSCapabilities"] == {"Response": {"ProcessorQoSSupported": True}}
    assert props["PropertyResponses"]["Nope"]["Error"]["Error"] & 0xFFFFFFFF == E_INVALIDARG
    hr, err = service_properties({"PropertyTypes": ["Memory"]})
    assert hr == E_INVALIDARG and err["Error"] & 0xFFFFFFFF == E_INVALIDARG


def test_cpu_groups_created_through_settings_show_in_the_properties(fake) -> None:
    """HcsModifyServiceSettings with a HostProcessorModificationRequest (ServiceSample.md; hcsshim
    internal/cpugroup Create / GetCPUGroupConfig (GroupId compared case-insensitively) / Delete): CreateGroup,
    SetProperty and DeleteGroup change the CpuGroup service property."""
    assert modify(cpu_group("CreateGroup", GroupId=GROUP, LogicalProcessorCount=1, LogicalProcessors=[0])) == (0, None)
    assert modify(cpu_group("SetProperty", GroupId=GROUP.upper(), PropertyCode=1, PropertyValue=5000)) == (0, None)
    assert modify(cpu_group("SetProperty", GroupId=GROUP, PropertyCode=1, PropertyValue=7000)) == (0, None)
    (group,) = service_properties({"PropertyTypes": ["CpuGroup"]})[1]["Properties"][0]["CpuGroups"]
    assert group["GroupId"] == GROUP
    assert group["Affinity"] == {"LogicalProcessorCount": 1, "LogicalProcessors": [0]}
    assert group["GroupProperties"] == [{"PropertyCode": 1, "PropertyValue": 7000}]
    assert group["HypervisorGroupId"] > 0
    hr, err = modify(cpu_group("CreateGroup", GroupId=GROUP, LogicalProcessorCount=1, LogicalProcessors=[0]))
    assert hr == E_ALREADY_EXISTS and err["Error"] & 0xFFFFFFFF == E_ALREADY_EXISTS
    assert modify(cpu_group("DeleteGroup", GroupId=GROUP)) == (0, None)
    assert service_properties({"PropertyTypes": ["CpuGroup"]})[1]["Properties"] == [{"CpuGroups": []}]
    assert modify(cpu_group("DeleteGroup", GroupId=GROUP))[0] == E_NOT_FOUND


@pytest.mark.parametrize("settings, expected", [
    (cpu_group("CreateGroup", GroupId="GUID", LogicalProcessorCount=1, LogicalProcessors=[0]), HCS_E_INVALID_JSON),
    (cpu_group("CreateGroup", GroupId=GROUP, LogicalProcessorCount=2, LogicalProcessors=[0]), E_INVALIDARG),
    (cpu_group("CreateGroup", GroupId=GROUP, LogicalProcessorCount=1, LogicalProcessors=[100000]), E_INVALIDARG),
    (cpu_group("Explode", GroupId=GROUP), HCS_E_INVALID_JSON),
    (ccg("Explode", Id="c1"), HCS_E_INVALID_JSON),
    ({"PropertyType": "CpuGroup", "Settings": {}}, HCS_E_INVALID_JSON),
    ({"PropertyType": "Memory", "Settings": {}}, E_INVALIDARG),
    ("{nope", HCS_E_INVALID_JSON),
])
def test_malformed_service_settings_fail_with_a_result_error(fake, settings, expected) -> None:
    """HcsModifyServiceSettings.md: on failure result "can optionally receive an error JSON document represented by
    a ResultError" (the fake always gives one). ServiceSample.md's literal "GUID" is not a Guid."""
    hr, err = modify(settings)
    assert hr == expected and err["Error"] & 0xFFFFFFFF == expected and err["ErrorMessage"]


def test_container_credential_guard_instances(fake) -> None:
    """hcsshim internal/credentials: AddInstance {Id, CredentialSpec, Transport LRPC | HvSocket}, then find the
    instance by Id in the ContainerCredentialGuard property (ContainerCredentialGuardInstance {Id, CredentialGuard
    {Cookie, RpcEndpoint, Transport, CredentialSpec}, HvSocketConfig}); RemoveInstance when the container goes."""
    spec = json.dumps({"CmsPlugins": ["ActiveDirectory"], "DomainJoinConfig": {"DnsName": "contoso.com"}})
    assert modify(ccg("AddInstance", Id="c1", CredentialSpec=spec, Transport="LRPC")) == (0, None)
    assert modify(ccg("AddInstance", Id="c2", CredentialSpec=spec, Transport="HvSocket")) == (0, None)
    instances = service_properties({"PropertyTypes": ["ContainerCredentialGuard"]})[1]["Properties"][0]["Instances"]
    assert [i["Id"] for i in instances] == ["c1", "c2"]
    first, second = instances
    assert first["CredentialGuard"]["Transport"] == "LRPC" and first["CredentialGuard"]["CredentialSpec"] == spec
    assert first["CredentialGuard"]["Cookie"] and first["CredentialGuard"]["RpcEndpoint"]
    assert first["CredentialGuard"]["Cookie"] != second["CredentialGuard"]["Cookie"]
    assert "HvSocketConfig" not in first and second["HvSocketConfig"]["ServiceId"]
    assert modify(ccg("AddInstance", Id="c1", CredentialSpec=spec, Transport="LRPC"))[0] == E_ALREADY_EXISTS
    assert modify(ccg("AddInstance", Id="c3", CredentialSpec=spec, Transport="Pigeon"))[0] == HCS_E_INVALID_JSON
    assert modify(ccg("RemoveInstance", Id="c1")) == (0, None)
    assert modify(ccg("RemoveInstance", Id="c1"))[0] == E_NOT_FOUND
    instances = service_properties({"PropertyTypes": ["ContainerCredentialGuard"]})[1]["Properties"][0]["Instances"]
    assert [i["Id"] for i in instances] == ["c2"]


def test_service_state_lives_until_the_service_goes(fake) -> None:
    """hcsshim internal/credentials: instances "persist unless vmcompute.exe exits or they are removed"; the fake's
    service "exits" at FakeHcsReset."""
    assert modify(cpu_group("CreateGroup", GroupId=GROUP, LogicalProcessorCount=1, LogicalProcessors=[0]))[0] == 0
    fake.reset()
    assert service_properties({"PropertyTypes": ["CpuGroup"]})[1]["Properties"] == [{"CpuGroups": []}]


def test_processor_compatibility_from_saved_state_is_vm_processor_requirements(fake, tmp_path) -> None:
    """HcsGetProcessorCompatibilityFromSavedState.md: ProcessorFeaturesString (_Outptr_opt_) receives a
    VmProcessorRequirements {ProcessorFeatures, XsaveProcessorFeatures, CacheLineFlushSize,
    ImplementedPhysicalAddressBits, NonArchitecturalCoreSharing} (LocalFree); NULL only checks the file."""
    vmrs = tmp_path / "vm.vmrs"
    assert u32(lib.HcsCreateEmptyRuntimeStateFile(to_wide(str(vmrs)))) == S_OK
    out = ffi.new("PCWSTR *")
    assert u32(lib.HcsGetProcessorCompatibilityFromSavedState(to_wide(str(vmrs)), out)) == S_OK
    requirements = json.loads(take_wide(ffi.cast("PWSTR", out[0])))
    assert set(requirements) == {"ProcessorFeatures", "XsaveProcessorFeatures", "CacheLineFlushSize",
                                 "ImplementedPhysicalAddressBits", "NonArchitecturalCoreSharing"}
    assert set(requirements["ProcessorFeatures"]) <= PROCESSOR_FEATURES and requirements["ProcessorFeatures"]
    assert set(requirements["XsaveProcessorFeatures"]) <= XSAVE_FEATURES
    assert requirements["NonArchitecturalCoreSharing"] in ("Unreported", "Off", "On")
    assert u32(lib.HcsGetProcessorCompatibilityFromSavedState(to_wide(str(vmrs)), ffi.NULL)) == S_OK
    assert u32(lib.HcsGetProcessorCompatibilityFromSavedState(to_wide(str(tmp_path / "no.vmrs")), ffi.NULL)) == \
        E_FILE_NOT_FOUND
    assert u32(lib.HcsGetProcessorCompatibilityFromSavedState(to_wide(str(tmp_path / "no.vmrs")), out)) == \
        E_FILE_NOT_FOUND
    assert out[0] == ffi.NULL
