"""The fake HCS: utility VMs, the containers they host, and images whose OS does not fit -- raw pyhcs._ffi layer.

Sources: SchemaReference.md (ComputeSystem.HostingSystemId "The hosting system must already have been created",
HostedSystem, VirtualSmbShare, GuestConnectionInfo, SystemExitStatus, ExitInitiator), HCSHResult.md
(HCS_E_IMAGE_MISMATCH "The container operating system does not match the host operating system"), hcsshim
internal/uvm (create_wcow.go prepareConfigDoc: the VSMB share "os"; create.go CreateContainer: the HostedSystem
document; start.go: GuestConnection after Start; vsmb.go: guest share paths; capabilities.go), internal/hcs/v2
system.go (ExitType UnexpectedExit), test/functional/uvm_properties_test.go (an RS5+ WCOW UVM's capabilities),
and pyhcs.compat, whose isolation rules the fake's refusals must agree with (README "Utility VMs and pods").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest

from pyhcs import compat
from tests.fakes.rawhcs import (
    CONTAINER,
    E_INVALIDARG,
    E_NOT_SUPPORTED,
    E_PATH_NOT_FOUND,
    EV_SYSTEM_EXITED,
    HCS_E_CONNECT_FAILED,
    HCS_E_INVALID_JSON,
    HCS_E_INVALID_STATE,
    HCS_E_SYSTEM_NOT_FOUND,
    HCS_E_UNEXPECTED_EXIT,
    S_OK,
    SLEEP_30,
    EventRecorder,
    create_system,
    doc,
    echo,
    ffi,
    lib,
    operation,
    properties,
    read_all,
    create_process,
    close_info,
    running_system,
    system_call,
    terminate,
    u32,
    unique_id,
    wait,
    wait_process_exit,
)
from pyhcs._strings import take_wide, to_wide

ERROR_VMCOMPUTE_IMAGE_MISMATCH = 0xC0370101
HCS_E_INVALID_LAYER = 0x80370112
E_ALREADY_EXISTS = 0x800700B7
E_NOT_FOUND = 0x80070490
VSMB = "\\\\?\\VMSMB\\VSMB-{dcc079ae-60ba-4d07-847c-3493609c0870}\\"
V21 = {"Major": 2, "Minor": 1}


# ---------------------------------------------------------------------------------------------------- helpers
def layer(root: Path, name: str, version: Optional[str] = None, *, utility_vm: bool = False,
          declaration: Any = None) -> str:
    """A layer folder; *version* declares its image's OS in image-config.json (or *declaration*, verbatim)."""
    folder = root / name
    folder.mkdir(parents=True)
    if utility_vm:
        (folder / "UtilityVM" / "Files").mkdir(parents=True)
    if version is not None:
        declaration = {"architecture": "amd64", "os": "windows", "os.version": version}
    if declaration is not None:
        text = declaration if isinstance(declaration, str) else json.dumps(declaration)
        (folder / "image-config.json").write_text(text)
    return str(folder)


def uvm_document(os_layer: Optional[str], **vm: Any) -> Dict[str, Any]:
    """A Windows utility VM as hcsshim's prepareConfigDoc writes it: booting from the VSMB share "os"."""
    shares = [] if os_layer is None else [{"Name": "os", "Path": os.path.join(os_layer, "UtilityVM", "Files")}]
    machine = {"StopOnReset": True,
               "Chipset": {"Uefi": {"BootThis": {"DevicePath": "\\EFI\\Microsoft\\Boot\\bootmgfw.efi",
                                                 "DeviceType": "VmbFs"}}},
               "ComputeTopology": {"Memory": {"SizeInMB": 1024}, "Processor": {"Count": 2}},
               "Devices": {"VirtualSmb": {"Shares": shares}}}
    machine.update(vm)
    return {"SchemaVersion": V21, "Owner": "fake-tests", "ShouldTerminateOnLastHandleClosed": True,
            "VirtualMachine": machine}


def hosted_document(host_id: str, layers: Tuple[str, ...] = ()) -> Dict[str, Any]:
    """hcsshim internal/uvm/create.go CreateContainer's document."""
    container: Dict[str, Any] = {"Storage": {"Layers": [{"Id": f"00000000-0000-0000-0000-{i:012d}", "Path": p}
                                                        for i, p in enumerate(layers)]}}
    return {"SchemaVersion": V21, "Owner": "fake-tests", "HostingSystemId": host_id,
            "ShouldTerminateOnLastHandleClosed": True, "HostedSystem": {"SchemaVersion": V21, "Container": container}}


def container_document(layers: Tuple[str, ...]) -> Dict[str, Any]:
    return {"SchemaVersion": V21, "Owner": "fake-tests",
            "Container": {"Storage": {"Layers": [{"Id": "00000000-0000-0000-0000-000000000001", "Path": p}
                                                 for p in layers]}}}


def create(document: Any, system_id: Optional[str] = None) -> Tuple[int, Optional[str], Any]:
    """HcsCreateComputeSystem to completion: (the operation's result, its document, the handle -- close it)."""
    handle = ffi.new("HCS_SYSTEM *")
    with operation() as op:
        assert u32(lib.HcsCreateComputeSystem(to_wide(system_id or unique_id()), doc(document), op, ffi.NULL,
                                              handle)) == S_OK
        hr, text = wait(op)
    return hr, text, handle[0]


def create_fails(document: Any) -> Tuple[int, Dict[str, Any]]:
    """A create whose operation fails: (its HRESULT, the ResultError); the handle names no system."""
    hr, text, handle = create(document)
    try:
        assert hr != S_OK, "the create succeeded"
        assert text is not None
        error = json.loads(text)
        assert error["Error"] & 0xFFFFFFFF == hr and error["ErrorMessage"]
        assert system_call(lib.HcsTerminateComputeSystem, handle)[0] == HCS_E_SYSTEM_NOT_FOUND
        return hr, error
    finally:
        lib.HcsCloseComputeSystem(handle)


def modify(system: Any, request: Any) -> Tuple[int, Optional[str]]:
    return system_call(lambda s, o, d: lib.HcsModifyComputeSystem(s, o, d, ffi.NULL), system, request)


@pytest.fixture
def quick(fake: Any) -> Any:
    """Creates complete as soon as their work is done (the matrix makes hundreds)."""
    fake.set_minimum_duration("*", 0)
    return fake


# ---------------------------------------------------------------------------------------------------- hosting
def test_a_running_utility_vm_hosts_containers_whose_processes_are_real(fake: Any, tmp_path: Path) -> None:
    """SchemaReference.md ComputeSystem: HostedSystem is "the compute system that will be launched inside of the system
    identified by HostingSystemId"; hcsshim internal/uvm/create.go CreateContainer. The hosted container is a
    Container (Properties.SystemType) with HostingSystemId, of its host's OS; its processes run as before."""
    vm_id = unique_id("pod") + "@vm"
    hr, text, vm = create(uvm_document(layer(tmp_path, "base", "10.0.20348.1", utility_vm=True)), vm_id)
    assert hr == S_OK, text
    assert system_call(lib.HcsStartComputeSystem, vm)[0] == S_OK
    assert properties(vm)["SystemType"] == "VirtualMachine"
    hosted_id = unique_id("workload")
    system = create_system(hosted_id, hosted_document(vm_id))
    try:
        props = properties(system)
        assert (props["SystemType"], props["HostingSystemId"], props["RuntimeOsType"], props["State"]) == \
            ("Container", vm_id, "Windows", "Running")
        process, info = create_process(system, {"CommandLine": echo("hosted"), "CreateStdOutPipe": True})
        assert read_all(info["stdout"]).strip() == b"hosted"
        assert wait_process_exit(process)["ExitCode"] == 0
        close_info(info)
        lib.HcsCloseProcess(process)
        (listed,) = _enumerate({"Ids": [hosted_id]})
        assert listed["HostingSystemId"] == vm_id
    finally:
        terminate(system)
        lib.HcsCloseComputeSystem(system)
        terminate(vm)
        lib.HcsCloseComputeSystem(vm)


def _enumerate(query: Any) -> Any:
    with operation() as op:
        assert u32(lib.HcsEnumerateComputeSystems(doc(query), op)) == S_OK
        hr, text = wait(op)
        assert hr == S_OK
        return json.loads(text or "[]")


def test_a_hosted_system_needs_a_running_windows_virtual_machine(fake: Any) -> None:
    """SchemaReference.md HostingSystemId: "The hosting system must already have been created"; hcsshim creates
    hosted containers only in a started utility VM. The failures are the create operation's, with a ResultError
    (HcsCreateComputeSystem.md "Operation Results"). choice of codes: no such system HCS_E_SYSTEM_NOT_FOUND, a
    container or a Linux VM ERROR_NOT_SUPPORTED, a VM that does not run (created, paused, stopped)
    HCS_E_INVALID_STATE."""
    hr, error = create_fails(hosted_document("no-such-vm@vm"))
    assert hr == HCS_E_SYSTEM_NOT_FOUND and "no-such-vm@vm" in error["ErrorMessage"]

    container_id = unique_id("argon")
    hr, _, handle = create(CONTAINER, container_id)
    assert hr == S_OK
    assert system_call(lib.HcsStartComputeSystem, handle)[0] == S_OK
    hr, error = create_fails(hosted_document(container_id))
    assert hr == E_NOT_SUPPORTED and "Container" in error["ErrorMessage"]
    terminate(handle)
    lib.HcsCloseComputeSystem(handle)

    linux_id = unique_id("lcow")
    hr, _, linux = create(uvm_document(None, Chipset={"LinuxKernelDirect": {"KernelFilePath": "vmlinux"}}), linux_id)
    assert hr == S_OK and system_call(lib.HcsStartComputeSystem, linux)[0] == S_OK
    assert create_fails(hosted_document(linux_id))[0] == E_NOT_SUPPORTED
    terminate(linux)
    lib.HcsCloseComputeSystem(linux)

    vm_id = unique_id("pod") + "@vm"
    hr, _, vm = create(uvm_document(None), vm_id)
    assert hr == S_OK
    hr, error = create_fails(hosted_document(vm_id))
    assert hr == HCS_E_INVALID_STATE and "Created" in error["ErrorMessage"]
    assert system_call(lib.HcsStartComputeSystem, vm)[0] == S_OK
    assert system_call(lib.HcsPauseComputeSystem, vm)[0] == S_OK
    assert create_fails(hosted_document(vm_id))[0] == HCS_E_INVALID_STATE
    terminate(vm)
    assert create_fails(hosted_document(vm_id))[0] == HCS_E_INVALID_STATE
    lib.HcsCloseComputeSystem(vm)


def test_hosted_system_documents_are_checked(fake: Any) -> None:
    """SchemaReference.md ComputeSystem / HostedSystem {SchemaVersion, Container}. choice: a HostedSystem without
    HostingSystemId, without a Container, or with a schema outside 2.0-2.6, and a HostingSystemId on a Container or
    VirtualMachine, are HCS_E_INVALID_JSON."""
    base = hosted_document("somewhere@vm")
    without_host = {k: v for k, v in base.items() if k != "HostingSystemId"}
    assert create_fails(without_host)[0] == HCS_E_INVALID_JSON
    assert create_fails(dict(base, HostedSystem={"SchemaVersion": V21}))[0] == HCS_E_INVALID_JSON
    assert create_fails(dict(base, HostedSystem={"SchemaVersion": {"Major": 1, "Minor": 0},
                                                 "Container": {}}))[0] == HCS_E_INVALID_JSON
    assert create_fails(dict(base, HostedSystem="container"))[0] == HCS_E_INVALID_JSON
    hr, error = create_fails(dict(CONTAINER, HostingSystemId="somewhere@vm"))
    assert hr == HCS_E_INVALID_JSON and "HostedSystem" in error["ErrorMessage"]


# ---------------------------------------------------------------------------------------------------- the VM's end
def _exit_status(system: Any) -> Dict[str, Any]:
    out = ffi.new("PWSTR *")
    assert u32(lib.HcsWaitForComputeSystemExit(system, 10000, out)) == S_OK
    text = take_wide(out[0])
    assert text is not None
    return json.loads(text)  # type: ignore[no-any-return]


HOSTED_EXIT = {"Status": HCS_E_UNEXPECTED_EXIT - (1 << 32), "ExitType": "UnexpectedExit",
               "Attribution": [{"SystemExit": {"Detail": "UnexpectedExit", "Initiator": "Internal"}}]}


@pytest.mark.parametrize("how", ["terminate", "shutdown", "crash", "unexpected exit", "last handle closed"])
def test_hosted_systems_end_when_their_utility_vm_stops(fake: Any, how: str) -> None:
    """Whatever stops a utility VM ends the containers in its guest, each with its own SystemExited: ExitType
    UnexpectedExit (hcsshim v2/system.go reads it as ErrVmcomputeUnexpectedExit), Status HCS_E_UNEXPECTED_EXIT,
    Attribution SystemExit {Detail UnexpectedExit, Initiator Internal} (SchemaReference.md ExitInitiator: "Initiated
    internally ... by the virtual machine or HCS"); their processes are gone. choice: the Status; README."""
    vm_id = unique_id("pod") + "@vm"
    hr, text, vm = create(uvm_document(None), vm_id)
    assert hr == S_OK, text
    assert system_call(lib.HcsStartComputeSystem, vm)[0] == S_OK
    recorder = EventRecorder()
    hosted = [create_system(unique_id("workload"), hosted_document(vm_id)) for _ in range(2)]
    for system in hosted:
        assert u32(lib.HcsSetComputeSystemCallback(system, 0, ffi.NULL, recorder.callback)) == S_OK
    process, info = create_process(hosted[0], {"CommandLine": SLEEP_30})
    close_info(info)
    if how == "terminate":
        terminate(vm)
    elif how == "shutdown":
        assert system_call(lib.HcsShutDownComputeSystem, vm)[0] == S_OK
    elif how == "crash":
        assert system_call(lib.HcsCrashComputeSystem, vm)[0] == S_OK
    elif how == "unexpected exit":
        fake.simulate_unexpected_exit(vm_id)
    else:
        lib.HcsCloseComputeSystem(vm)  # ShouldTerminateOnLastHandleClosed
    events = recorder.wait_for(EV_SYSTEM_EXITED, 2)
    assert [json.loads(data) for _, data, _ in events] == [HOSTED_EXIT, HOSTED_EXIT]
    for system in hosted:
        assert _exit_status(system) == HOSTED_EXIT
        assert properties(system)["State"] == "Stopped"
    assert wait_process_exit(process)["Exited"] is True
    lib.HcsCloseProcess(process)
    for system in hosted:
        lib.HcsCloseComputeSystem(system)
    if how != "last handle closed":
        lib.HcsCloseComputeSystem(vm)


def test_a_hosted_system_being_created_when_its_vm_stops_is_not_created(fake: Any) -> None:
    """The create operation of a HostedSystem completes after its VM stopped: it fails (no running host,
    HCS_E_INVALID_STATE) and names no system."""
    fake.set_minimum_duration("HcsCreateComputeSystem", 0)
    vm_id = unique_id("pod") + "@vm"
    hr, _, vm = create(uvm_document(None), vm_id)
    assert hr == S_OK and system_call(lib.HcsStartComputeSystem, vm)[0] == S_OK
    fake.set_minimum_duration("HcsCreateComputeSystem", 500)
    handle = ffi.new("HCS_SYSTEM *")
    with operation() as op:
        assert u32(lib.HcsCreateComputeSystem(to_wide(unique_id("late")), doc(hosted_document(vm_id)), op, ffi.NULL,
                                              handle)) == S_OK
        terminate(vm)
        hr, text = wait(op)
    assert hr == HCS_E_INVALID_STATE and text is not None and vm_id in json.loads(text)["ErrorMessage"]
    lib.HcsCloseComputeSystem(handle[0])
    lib.HcsCloseComputeSystem(vm)


# ---------------------------------------------------------------------------------------------------- images
def test_a_process_isolated_image_of_another_build_fails_with_image_mismatch(quick: Any, tmp_path: Path) -> None:
    """HCSHResult.md HCS_E_IMAGE_MISMATCH "The container operating system does not match the host operating system",
    as vmcompute reports it (0xC0370101, ERROR_VMCOMPUTE_IMAGE_MISMATCH): the create operation's result with a
    ResultError naming the rule. The image's build is declared by its base layer (the last of Storage.Layers; README:
    image-config.json). Host: 10.0.20348 (the session's PYHCS_HOST_OS_VERSION)."""
    app = layer(tmp_path, "app")
    old = layer(tmp_path, "old", "10.0.17763.6054")
    hr, error = create_fails(container_document((app, old)))
    assert hr == ERROR_VMCOMPUTE_IMAGE_MISMATCH
    assert "does not match the host operating system" in error["ErrorMessage"]
    assert "process-stable-abi-range" in error["ErrorMessage"] and "17763" in error["ErrorMessage"]
    good = layer(tmp_path, "good", "10.0.20348.2700")
    system = create_system(document=container_document((app, good)))
    terminate(system)
    lib.HcsCloseComputeSystem(system)
    # Undeclared images are not checked (choice): containers without layers, layers without image-config.json.
    system = create_system(document=container_document((app,)))
    terminate(system)
    lib.HcsCloseComputeSystem(system)


def test_the_declaration_nearest_the_base_layer_decides(quick: Any, tmp_path: Path) -> None:
    """hcsshim orders layers topmost first, base last (internal/uvmfolder LocateUVMFolder); the base layer is the
    image's OS. choice: the declaration nearest the base wins."""
    top = layer(tmp_path, "top", "10.0.17763.1")
    base = layer(tmp_path, "base", "10.0.20348.1")
    system = create_system(document=container_document((top, base)))
    terminate(system)
    lib.HcsCloseComputeSystem(system)
    assert create_fails(container_document((base, top)))[0] == ERROR_VMCOMPUTE_IMAGE_MISMATCH


@pytest.mark.parametrize("declaration, declared", [
    ({"os": "windows", "os.version": "10.0.17763.1"}, True),
    ({"digest": "sha256:00", "platform": {"os": "windows", "os.version": "10.0.17763.1"}}, True),
    ({"os": "Windows", "os.version": "10.0.17763"}, True),
    ({"os": "linux", "os.version": "10.0.17763.1"}, False),
    ({"os": "windows"}, False),
    ({"os": "windows", "os.version": None}, False),
    ({"architecture": "amd64"}, False),
    ({"OS.Version": "10.0.17763.1"}, False),
])
def test_declarations_are_read_as_pyhcs_compat_reads_image_configs(quick: Any, tmp_path: Path, declaration: Any,
                                                                    declared: bool) -> None:
    """image-config.json is an OCI image config, platform object or index descriptor, read with
    pyhcs.compat.image_os_version's semantics (os not windows: no Windows version; keys match exactly)."""
    assert (compat.image_os_version(declaration) is not None) == declared
    folder = layer(tmp_path, "base", declaration=declaration)
    hr, _, handle = create(container_document((folder,)))
    assert hr == (ERROR_VMCOMPUTE_IMAGE_MISMATCH if declared else S_OK)
    if hr == S_OK:
        terminate(handle)
    lib.HcsCloseComputeSystem(handle)


@pytest.mark.parametrize("text", ["{", "[]", '{"os": 1}', '{"os": "windows", "os.version": "10.0"}',
                                  '{"os": "windows", "os.version": 17763}'])
def test_a_malformed_declaration_is_an_invalid_layer(quick: Any, tmp_path: Path, text: str) -> None:
    """HCSHResult.md HCS_E_INVALID_LAYER "The container image contains a layer with an unrecognized format" (choice:
    for a declaration pyhcs.compat would refuse with InvalidImageConfigError or InvalidVersionError)."""
    with pytest.raises(compat.CompatError):
        compat.image_os_version(text)
    hr, error = create_fails(container_document((layer(tmp_path, "base", declaration=text),)))
    assert hr == HCS_E_INVALID_LAYER and "image-config.json" in error["ErrorMessage"]


HOSTS = ["10.0.14393.1 server", "10.0.17763.1 server", "10.0.19045.1 client", "10.0.20348.1 server",
         "10.0.22631.1 client", "10.0.25398.1 server", "10.0.26100.1 server", "10.0.26100.1 client",
         "10.0.26200.1 client"]
IMAGES = ["10.0.14393.5", "10.0.17763.9", "10.0.19041.2", "10.0.20348.3", "10.0.22621.1", "10.0.25398.4",
          "10.0.26100.7", "10.0.26200.1"]


def test_the_fakes_refusals_agree_with_pyhcs_compat_over_a_matrix_of_builds(quick: Any, tmp_path: Path) -> None:
    """Every (host, image, isolation) of the matrix: the fake refuses a process-isolated container and a utility VM's
    boot image (Hyper-V) with 0xC0370101 exactly when pyhcs.compat.isolation_verdict refuses it."""
    folders = {image: layer(tmp_path, f"img-{image}", image, utility_vm=True) for image in IMAGES}
    try:
        for host in HOSTS:
            quick.set_host_os_version(host)
            assert quick.host_os_version() == host
            for image, folder in folders.items():
                for isolation, document in (("process", container_document((folder,))),
                                            ("hyperv", uvm_document(folder))):
                    expected = compat.isolation_verdict(host, image, isolation).allowed
                    hr, text, handle = create(document)
                    assert hr == (S_OK if expected else ERROR_VMCOMPUTE_IMAGE_MISMATCH), (host, image, isolation, text)
                    if hr == S_OK:
                        terminate(handle)
                    lib.HcsCloseComputeSystem(handle)
    finally:
        quick.set_host_os_version(None)


def test_hosted_images_must_fit_their_utility_vm(quick: Any, tmp_path: Path) -> None:
    """A hosted container runs process-isolated in its VM's guest, a Windows Server of the VM's build: the fake
    refuses it as pyhcs.compat.isolation_verdict(<the VM's build>, image, "process") does. The layers are guest
    paths of the VM's VSMB shares (hcsshim vsmb.go vsmbSharePrefix), added by HcsModifyComputeSystem."""
    uvm_builds = ["10.0.17134.1", "10.0.17763.1", "10.0.20348.1"]
    images = {image: layer(tmp_path, f"img-{image}", image) for image in ["10.0.17134.2", "10.0.17763.5",
                                                                          "10.0.20348.9"]}
    quick.set_host_os_version("10.0.26100.1")
    try:
        for uvm in uvm_builds:
            vm_id = unique_id("pod") + "@vm"
            hr, text, vm = create(uvm_document(layer(tmp_path, f"uvm-{uvm}-{vm_id}", uvm, utility_vm=True)), vm_id)
            assert hr == S_OK, text
            assert system_call(lib.HcsStartComputeSystem, vm)[0] == S_OK
            for n, (image, folder) in enumerate(images.items()):
                share = f"s{n}"
                assert modify(vm, {"ResourcePath": "VirtualMachine/Devices/VirtualSmb/Shares", "RequestType": "Add",
                                   "Settings": {"Name": share, "Path": folder}})[0] == S_OK
                expected = compat.isolation_verdict(compat.Host.parse(uvm), image, "process").allowed
                hr, text, handle = create(hosted_document(vm_id, (VSMB + share,)))
                assert hr == (S_OK if expected else ERROR_VMCOMPUTE_IMAGE_MISMATCH), (uvm, image, text)
                if hr == S_OK:
                    terminate(handle)
                else:
                    assert vm_id in json.loads(text or "{}")["ErrorMessage"]
                lib.HcsCloseComputeSystem(handle)
            terminate(vm)
            lib.HcsCloseComputeSystem(vm)
    finally:
        quick.set_host_os_version(None)


def test_vsmb_shares_are_modelled(quick: Any, tmp_path: Path) -> None:
    """"VirtualMachine/Devices/VirtualSmb/Shares" (HcsModifyComputeSystem.md; hcsshim vsmb.go): Add {Name, Path},
    Remove {Name}. choice: a Name the VM has -> ERROR_ALREADY_EXISTS, one it lacks -> ERROR_NOT_FOUND, a Path that does
    not exist -> ERROR_PATH_NOT_FOUND; a hosted layer naming a share the VM lacks fails the create with
    ERROR_PATH_NOT_FOUND."""
    path = "VirtualMachine/Devices/VirtualSmb/Shares"
    folder = layer(tmp_path, "app")
    vm_id = unique_id("pod") + "@vm"
    hr, _, vm = create(uvm_document(None), vm_id)
    assert hr == S_OK and system_call(lib.HcsStartComputeSystem, vm)[0] == S_OK
    add = {"ResourcePath": path, "RequestType": "Add", "Settings": {"Name": "s1", "Path": folder}}
    assert modify(vm, add)[0] == S_OK
    assert modify(vm, add)[0] == E_ALREADY_EXISTS
    assert modify(vm, dict(add, Settings={"Name": "s2", "Path": str(tmp_path / "missing")}))[0] == E_PATH_NOT_FOUND
    system = create_system(document=hosted_document(vm_id, (VSMB + "s1",)))
    terminate(system)
    lib.HcsCloseComputeSystem(system)
    assert modify(vm, {"ResourcePath": path, "RequestType": "Remove", "Settings": {"Name": "s1"}})[0] == S_OK
    assert modify(vm, {"ResourcePath": path, "RequestType": "Remove", "Settings": {"Name": "s1"}})[0] == E_NOT_FOUND
    hr, error = create_fails(hosted_document(vm_id, (VSMB + "s1",)))
    assert hr == E_PATH_NOT_FOUND and "s1" in error["ErrorMessage"]
    terminate(vm)
    lib.HcsCloseComputeSystem(vm)


# ---------------------------------------------------------------------------------------------------- GuestConnection
@pytest.mark.parametrize("build, schema, rs5", [("10.0.20348.1", {"Major": 2, "Minor": 5}, True),
                                                ("10.0.17763.1", {"Major": 2, "Minor": 1}, True),
                                                ("10.0.17134.1", {"Major": 1, "Minor": 0}, False)])
def test_a_running_utility_vm_reports_its_guest_connection(quick: Any, tmp_path: Path, build: str,
                                                           schema: Dict[str, int], rs5: bool) -> None:
    """hcsshim internal/uvm/start.go queries PropertyTypes ["GuestConnection"] of a WCOW UVM right after Start,
    without configuring VirtualMachine.GuestConnection: GuestConnectionInfo {SupportedSchemaVersions (the build's,
    SchemaReference.md's version map), ProtocolVersion 4 (hcsshim gcs protocolVersion), GuestDefinedCapabilities
    (NamespaceAddRequestSupported and SignalProcessSupported from RS5 on: uvm_properties_test.go,
    capabilities.go)}. Before start and after stop there is no connection (choice: HCS_E_CONNECT_FAILED)."""
    vm = create_system(document=uvm_document(layer(tmp_path, "base", build, utility_vm=True)), start=False)
    query = {"PropertyTypes": ["GuestConnection"]}
    with operation() as op:
        assert u32(lib.HcsGetComputeSystemProperties(vm, op, doc(query))) == S_OK
        assert wait(op)[0] == HCS_E_CONNECT_FAILED
    assert system_call(lib.HcsStartComputeSystem, vm)[0] == S_OK
    info = properties(vm, query)["GuestConnectionInfo"]
    assert info["SupportedSchemaVersions"] == [schema] and info["ProtocolVersion"] == 4
    capabilities = info["GuestDefinedCapabilities"]
    assert capabilities.get("NamespaceAddRequestSupported", False) is rs5
    assert capabilities.get("SignalProcessSupported", False) is rs5
    terminate(vm)
    with operation() as op:
        assert u32(lib.HcsGetComputeSystemProperties(vm, op, doc(query))) == S_OK
        assert wait(op)[0] == HCS_E_CONNECT_FAILED
    lib.HcsCloseComputeSystem(vm)


# ---------------------------------------------------------------------------------------------------- the host
def test_the_fake_and_pyhcs_compat_share_the_host(fake: Any) -> None:
    """PYHCS_HOST_OS_VERSION names the host for pyhcs.compat.host_os() and the fake alike (the session pins it);
    FakeHcsSetHostOsVersion changes the fake's, FakeHcsReset goes back to the variable. Bad text: ValueError (-1)."""
    assert compat.Host.parse(fake.host_os_version()) == compat.host_os()
    fake.set_host_os_version("10.0.17763.1 client")
    assert fake.host_os_version() == "10.0.17763.1 client"
    fake.set_host_os_version("  10.0.26100.2314  ")
    assert fake.host_os_version() == "10.0.26100.2314 server"
    for bad in ("ltsc2022", "10.0", "10.0.17763.1 desktop", "10.0.17763.1 server x", "10.0.99999999999"):
        with pytest.raises(ValueError):
            fake.set_host_os_version(bad)
        with pytest.raises(compat.InvalidVersionError):
            compat.Host.parse(bad)
    assert fake.host_os_version() == "10.0.26100.2314 server"
    fake.reset()
    assert compat.Host.parse(fake.host_os_version()) == compat.host_os()


def test_without_the_variable_the_fake_assumes_windows_server_2022(fake: Any, fake_library: Path) -> None:
    """README: PYHCS_HOST_OS_VERSION unset (or blank) -> 10.0.20348.2655 server; an invalid value is reported on
    stderr and the default used."""
    # os._exit: nothing else holds the library, and cffi would unload it at interpreter exit under the fake's threads.
    script = ("import os, sys; from tests.fakes.control import FakeHcs; "
              "print(FakeHcs(sys.argv[1]).host_os_version(), flush=True); sys.stderr.flush(); os._exit(0)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYHCS_HOST_OS_VERSION", "PYHCS_FAKE_SERVICE")}
    root = Path(__file__).resolve().parent.parent
    for value, stderr in ((None, ""), ("  ", ""), ("ltsc2022", "is not a host")):
        child = dict(env) if value is None else dict(env, PYHCS_HOST_OS_VERSION=value)
        result = subprocess.run([sys.executable, "-c", script, str(fake_library)], env=child, cwd=root,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "10.0.20348.2655 server"
        assert stderr in result.stderr
