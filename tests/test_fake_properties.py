"""The fake HCS: compute system property types and modify requests of virtual machines, raw pyhcs._ffi layer.

Sources: Reference/Tutorial.md (the Memory query and the SizeInMB modify of its VM), HcsGetComputeSystemProperties.md,
HcsModifyComputeSystem.md (the ResourcePath / RequestType table), SchemaReference.md (System_PropertyType,
Properties, MemoryInformationForVm, VmMemory, VirtualNodeInfo, SharedMemoryRegion(Info), GuestConnection(Info),
PropertyResponse); hcsshim internal/uvm/stats.go (AssignedMemory counts 4 KiB pages), internal/hcs/v2/errors.go
(IsNotSupported).
"""

from __future__ import annotations

import json

import pytest

from tests.fakes.rawhcs import (
    CONTAINER,
    E_INVALIDARG,
    E_NOT_SUPPORTED,
    HCS_E_CONNECT_FAILED,
    HCS_E_INVALID_JSON,
    S_OK,
    create_system,
    doc,
    ffi,
    lib,
    operation,
    properties,
    running_system,
    system_call,
    terminate,
    u32,
    wait,
)

E_ALREADY_EXISTS = 0x800700B7
E_NOT_FOUND = 0x80070490

# Tutorial.md's virtual machine, trimmed of the disk the fake does not need, with a guest connection and one
# shared memory region.
VM = {
    "SchemaVersion": {"Major": 2, "Minor": 1},
    "Owner": "fake-tests",
    "ShouldTerminateOnLastHandleClosed": True,
    "VirtualMachine": {
        "Chipset": {"Uefi": {}},
        "ComputeTopology": {"Memory": {"Backing": "Virtual", "SizeInMB": 2048}, "Processor": {"Count": 2}},
        "Devices": {"SharedMemory": {"Regions": [{"SectionName": "ring0", "StartOffset": 0, "Length": 65536}]}},
        "GuestConnection": {},
    },
}
VM_PROPERTY_TYPES = ("Memory", "SharedMemoryRegion", "GuestConnection")


def _query(system, query):
    with operation() as op:
        assert u32(lib.HcsGetComputeSystemProperties(system, op, doc(query))) == S_OK
        return wait(op)


def _modify(system, request):
    return system_call(lambda s, o, d: lib.HcsModifyComputeSystem(s, o, d, ffi.NULL), system, request)


def test_tutorial_memory_query_answers_memory_information_for_vm(fake) -> None:
    """Tutorial.md queries {"PropertyTypes": ["Memory"]} on its VM and expects a document: Properties.Memory is a
    MemoryInformationForVm {VirtualNodeCount, VirtualMachineMemory: VmMemory, VirtualNodes: [VirtualNodeInfo]};
    AssignedMemory counts 4 KiB pages (hcsshim internal/uvm/stats.go). Its SizeInMB modify (Update 4096) shows in
    the next query."""
    with running_system(VM) as system:
        props = properties(system, {"PropertyTypes": ["Memory"]})
        assert props["SystemType"] == "VirtualMachine"
        memory = props["Memory"]
        assert memory["VirtualNodeCount"] == 1
        vm = memory["VirtualMachineMemory"]
        assert set(vm) == {"AvailableMemory", "AvailableMemoryBuffer", "ReservedMemory", "AssignedMemory",
                           "SlpActive", "BalancingEnabled", "DmOperationInProgress"}
        assert vm["AssignedMemory"] == 2048 * 256
        (node,) = memory["VirtualNodes"]
        assert node == {"VirtualNodeIndex": 0, "PhysicalNodeNumber": 0, "VirtualProcessorCount": 2,
                        "MemoryUsageInPages": 2048 * 256}
        request = {"ResourcePath": "VirtualMachine/ComputeTopology/Memory/SizeInMB", "RequestType": "Update",
                   "Settings": 4096}
        assert _modify(system, request)[0] == S_OK
        assert properties(system, {"PropertyTypes": ["Memory"]})["Memory"][
            "VirtualMachineMemory"]["AssignedMemory"] == 4096 * 256
        hr, text = _modify(system, dict(request, Settings="4096"))
        assert hr == HCS_E_INVALID_JSON and json.loads(text)["ErrorMessage"]


def test_memory_is_assigned_only_while_the_vm_runs(fake) -> None:
    """choice (README): a created VM has no memory assigned yet, a stopped one none any more."""
    system = create_system(document=VM, start=False)
    assert properties(system, {"PropertyTypes": ["Memory"]})["Memory"]["VirtualMachineMemory"]["AssignedMemory"] == 0
    terminate(system)
    lib.HcsCloseComputeSystem(system)


def test_shared_memory_regions_from_the_document_and_modify_requests(fake) -> None:
    """Property type SharedMemoryRegion answers Properties.SharedMemoryRegionInfo: [{SectionName,
    GuestPhysicalAddress}] for the regions of VirtualMachine.Devices.SharedMemory and those added through
    ResourcePath "VirtualMachine/Devices/SharedMemory/Regions" (HcsModifyComputeSystem.md)."""
    path = "VirtualMachine/Devices/SharedMemory/Regions"
    with running_system(VM) as system:
        (ring0,) = properties(system, {"PropertyTypes": ["SharedMemoryRegion"]})["SharedMemoryRegionInfo"]
        assert ring0["SectionName"] == "ring0" and ring0["GuestPhysicalAddress"] > 0
        added = {"SectionName": "ring1", "StartOffset": 0, "Length": 4096}
        assert _modify(system, {"ResourcePath": path, "RequestType": "Add", "Settings": added})[0] == S_OK
        regions = properties(system, {"PropertyTypes": ["SharedMemoryRegion"]})["SharedMemoryRegionInfo"]
        assert [r["SectionName"] for r in regions] == ["ring0", "ring1"]
        assert regions[1]["GuestPhysicalAddress"] >= ring0["GuestPhysicalAddress"] + 65536
        assert _modify(system, {"ResourcePath": path, "RequestType": "Add", "Settings": added})[0] == E_ALREADY_EXISTS
        assert _modify(system, {"ResourcePath": path, "RequestType": "Remove",
                                "Settings": {"SectionName": "ring0"}})[0] == S_OK
        regions = properties(system, {"PropertyTypes": ["SharedMemoryRegion"]})["SharedMemoryRegionInfo"]
        assert [r["SectionName"] for r in regions] == ["ring1"]
        assert _modify(system, {"ResourcePath": path, "RequestType": "Remove",
                                "Settings": {"SectionName": "ring0"}})[0] == E_NOT_FOUND


def test_guest_connection_info_while_the_guest_connection_exists(fake) -> None:
    """Property type GuestConnection answers Properties.GuestConnectionInfo {SupportedSchemaVersions,
    ProtocolVersion, GuestDefinedCapabilities}; SchemaReference.md VirtualMachine.GuestConnection: the connection
    is established during start. choice: without it (not configured, not running) HCS_E_CONNECT_FAILED."""
    system = create_system(document=VM, start=False)
    assert _query(system, {"PropertyTypes": ["GuestConnection"]})[0] == HCS_E_CONNECT_FAILED
    assert system_call(lib.HcsStartComputeSystem, system)[0] == S_OK
    info = properties(system, {"PropertyTypes": ["GuestConnection"]})["GuestConnectionInfo"]
    assert {"Major": 2, "Minor": 6} in info["SupportedSchemaVersions"]
    assert isinstance(info["ProtocolVersion"], int) and isinstance(info["GuestDefinedCapabilities"], dict)
    terminate(system)
    lib.HcsCloseComputeSystem(system)
    no_connection = dict(VM, VirtualMachine={k: v for k, v in VM["VirtualMachine"].items() if k != "GuestConnection"})
    with running_system(no_connection) as system:
        hr, text = _query(system, {"PropertyTypes": ["GuestConnection"]})
        assert hr == HCS_E_CONNECT_FAILED and "GuestConnection" in json.loads(text)["ErrorMessage"]


@pytest.mark.parametrize("property_type", VM_PROPERTY_TYPES)
def test_vm_property_types_on_a_container_are_not_supported(fake, property_type) -> None:
    """Memory, SharedMemoryRegion and GuestConnection describe a virtual machine (SchemaReference.md); choice: a
    container answers ERROR_NOT_SUPPORTED (hcsshim IsNotSupported), with a ResultError naming the type."""
    with running_system(CONTAINER) as system:
        hr, text = _query(system, {"PropertyTypes": [property_type]})
        assert hr == E_NOT_SUPPORTED and property_type in json.loads(text)["ErrorMessage"]


def test_queries_answer_each_type_on_its_own(fake) -> None:
    """System_PropertyQuery.Queries (2.5) -> Properties.PropertyResponses {type: PropertyResponse {Error,
    Response}}: one type's error does not fail the others."""
    with running_system(CONTAINER) as system:
        props = properties(system, {"Queries": {"Memory": {}, "ProcessList": {}, "Nope": {}}})
        responses = props["PropertyResponses"]
        assert responses["Memory"]["Error"]["Error"] & 0xFFFFFFFF == E_NOT_SUPPORTED
        assert responses["Nope"]["Error"]["Error"] & 0xFFFFFFFF == E_INVALIDARG
        assert responses["ProcessList"]["Response"] == []
    with running_system(VM) as system:
        responses = properties(system, {"Queries": {"Memory": {}, "GuestConnection": {}}})["PropertyResponses"]
        assert responses["Memory"]["Response"]["VirtualMachineMemory"]["AssignedMemory"] == 2048 * 256
        assert responses["GuestConnection"]["Response"]["ProtocolVersion"] > 0


# HcsModifyComputeSystem.md's table: the RequestTypes each ResourcePath accepts.
MODIFY_TABLE = [
    ("VirtualMachine/ComputeTopology/Processor/IdledProcessors", {"Update"}),
    ("VirtualMachine/Devices/FlexibleIov/nic0", {"Add"}),
    ("VirtualMachine/ComputeTopology/Gpu", {"Update"}),
    ("VirtualMachine/Devices/MappedPipes/pipe0", {"Add", "Remove"}),
    ("VirtualMachine/Devices/VirtualPMem/Devices/0", {"Add", "Remove"}),
    ("VirtualMachine/Devices/VirtualPMem/Devices/0/Mappings/3", {"Add", "Remove"}),
    ("VirtualMachine/Devices/VirtualPci/3f2b7a18-0c5e-4f3a-9d6e-1a2b3c4d5e6f", {"Add", "Remove"}),
    ("VirtualMachine/ComputeTopology/Processor/CpuGroup", {"Add", "Remove", "Update"}),
    ("VirtualMachine/Devices/Scsi/primary/Attachments/1", {"Add", "Remove", "Update"}),
    ("VirtualMachine/Devices/NetworkAdapters/nic1", {"Add", "Remove", "Update"}),
    ("VirtualMachine/Devices/Plan9/Shares", {"Add", "Remove", "Update"}),
    ("VirtualMachine/Devices/VirtualSmb/Shares", {"Add", "Remove", "Update"}),
    ("VirtualMachine/Devices/ComPorts/1", {"Add", "Remove", "Update"}),
    ("VirtualMachine/ComputeTopology/Processor/CpuFrequencyPowerCap", {"Add", "Remove", "Update"}),
]


@pytest.mark.parametrize("path, allowed", MODIFY_TABLE, ids=[p for p, _ in MODIFY_TABLE])
def test_modify_enforces_the_request_types_of_the_resource_table(fake, path, allowed) -> None:
    """HcsModifyComputeSystem.md, "Remarks": the valid RequestType per ResourcePath (e.g. Gpu "Only Update",
    FlexibleIov "Only Add"). Any other RequestType fails the operation (the call returns S_OK; Tutorial.md reads
    modify failures from the operation) with ERROR_NOT_SUPPORTED and a ResultError naming what is accepted."""
    with running_system(VM) as system:
        for request_type in ("Add", "Remove", "Update"):
            request = {"ResourcePath": path, "RequestType": request_type}
            if path.endswith("SizeInMB"):
                request["Settings"] = 1024
            hr, text = _modify(system, request)
            if request_type in allowed:
                assert hr == S_OK, (request_type, text)
            else:
                assert hr == E_NOT_SUPPORTED, (request_type, hr)
                message = json.loads(text)["ErrorMessage"]
                assert path in message and all(a in message for a in allowed)


def test_modify_checks_the_shape_of_table_paths(fake) -> None:
    """HcsModifyComputeSystem.md: <UnsignedInt> segments are unsigned integers, a COM port number is "not larger
    than 1", MappedPipes "Settings should be empty"; a ResourcePath outside the table (hcsshim uses more, e.g.
    .../Processor/Limits) accepts any RequestType; RequestType must be Add, Remove or Update."""
    with running_system(VM) as system:
        assert _modify(system, {"ResourcePath": "VirtualMachine/Devices/ComPorts/2", "RequestType": "Add"})[0] == \
            E_INVALIDARG
        assert _modify(system, {"ResourcePath": "VirtualMachine/Devices/Scsi/primary/Attachments/x",
                                "RequestType": "Add"})[0] == E_INVALIDARG
        assert _modify(system, {"ResourcePath": "VirtualMachine/Devices/MappedPipes/p", "RequestType": "Add",
                                "Settings": {"Path": "x"}})[0] == HCS_E_INVALID_JSON
        assert _modify(system, {"ResourcePath": "VirtualMachine/ComputeTopology/Processor/Limits",
                                "RequestType": "Update", "Settings": {"Limit": 5000}})[0] == S_OK
        assert _modify(system, {"ResourcePath": "VirtualMachine/ComputeTopology/Gpu",
                                "RequestType": "Replace"})[0] == E_INVALIDARG
        assert _modify(system, {"GuestRequest": {"ResourceType": "Network", "RequestType": "Add"}})[0] == S_OK


def test_modify_without_a_request_fails_the_call(fake) -> None:
    """configuration is _In_ (HcsModifyComputeSystem.md): NULL is the caller's error, reported by the call; the
    operation is not started."""
    with running_system(VM) as system:
        with operation() as op:
            assert u32(lib.HcsModifyComputeSystem(system, op, ffi.NULL, ffi.NULL)) == E_INVALIDARG
            assert u32(lib.HcsGetOperationResult(op, ffi.NULL)) == 0x80370115  # HCS_E_OPERATION_NOT_STARTED
