"""pyhcs.pod: Hyper-V and process-isolated pods through their whole lifecycle against the fake, sync and asyncio.

Sources: hcsshim cmd/containerd-shim-runhcs-v1 (pod.go: the utility VM ``<pod>@vm``, teardown), internal/uvm
(create_wcow.go prepareConfigDoc: the VM document; create.go CreateContainer: the HostedSystem document; start.go:
GuestConnection after Start; vsmb.go: layer shares), internal/layers (mountHypervIsolatedWCIFSLayers: VSMB layers,
SCSI scratch, combined layers), internal/vm/vmutils (sizes); the containerd/cri pod matrix and the isolation rules
of pyhcs.compat (docs/compat.md); /work/shared/reference/pods.md summarises them. The fake refuses images whose OS
does not fit with 0xC0370101 (tests/fakes/README.md "Utility VMs and pods"); the session's host is 10.0.20348
(PYHCS_HOST_OS_VERSION, tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

import pyhcs
from pyhcs import compat
from pyhcs.pod import (
    IMAGE_CONFIG_FILE,
    SCSI_CONTROLLER,
    HypervPod,
    PodConfigurationError,
    ProcessPod,
    declared_os_version,
    find_utility_vm_folder,
    utility_vm_document,
    utility_vm_id,
)
from tests.support import IS_WINDOWS, sh, unique_id, win_sleep

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "5f6a4d4e-3b3e-4c2a-9f7e-0c4b9b5e6a11"
ECHO = sh("echo {}", "cmd /c echo {}")
SLEEP = sh("exec sleep 30", win_sleep(30))
# A workload of a utility VM that stops: hcsshim reads ExitType UnexpectedExit as an unexpected exit (README).
HOSTED_EXIT = {"Status": 0x80370106 - (1 << 32), "ExitType": "UnexpectedExit",
               "Attribution": [{"SystemExit": {"Detail": "UnexpectedExit", "Initiator": "Internal"}}]}


class Images:
    """Layer folders of fake images: each declares its OS in image-config.json; base layers hold a UtilityVM."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def layer(self, name: str, version: Optional[str] = None, *, utility_vm: bool = False) -> str:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        if utility_vm:
            (folder / "UtilityVM" / "Files").mkdir(parents=True, exist_ok=True)
        if version is not None:
            (folder / IMAGE_CONFIG_FILE).write_text(json.dumps({"os": "windows", "os.version": version}))
        return str(folder)

    def base(self, version: str) -> str:
        """A Windows base layer of *version* (with its utility VM image)."""
        return self.layer(f"base-{version}", version, utility_vm=True)


@pytest.fixture
def images(tmp_path: Path) -> Images:
    return Images(tmp_path)


def echo(system: pyhcs.ComputeSystem, text: str) -> bytes:
    return system.run(ECHO.format(text), timeout=30).stdout.strip()


# ---------------------------------------------------------------------------------------------------- Hyper-V
def test_a_hyperv_pod_with_two_workloads_through_its_whole_lifecycle(fake: Any, images: Images) -> None:
    """containerd-shim-runhcs-v1 pod.go: a Hyper-V pod is one utility VM "<pod>@vm" booted from the sandbox image
    (create_wcow.go), every workload a HostedSystem in it (uvm/create.go CreateContainer); its guest connection is
    read after Start (uvm/start.go); teardown ends the workloads, then the VM."""
    base = images.base("10.0.20348.2700")
    app = images.layer("app")
    pod_id = unique_id("pod")
    with HypervPod.create(pod_id, layers=[base], memory_mb=1023, timeout=60) as pod:
        assert pod.vm.id == pod.vm_id == utility_vm_id(pod_id) == pod_id + "@vm"
        props = pod.vm.properties()
        assert (props["SystemType"], props["State"], props["Owner"]) == ("VirtualMachine", "Running", "pyhcs")
        assert pod.os_version == compat.OSVersion(10, 0, 20348, 2700)
        assert pod.host == compat.host_os() and pod.support is not None
        assert pod.support.support is compat.PodSupport.SUPPORTED and pod.max_workloads is None
        assert pod.guest_connection["ProtocolVersion"] == 4
        assert pod.signal_process_supported and pod.namespace_add_supported

        web = pod.add_workload("web-" + pod_id, layers=[app, base], timeout=60)
        sidecar = pod.add_workload("sidecar-" + pod_id, layers=[base])
        assert list(pod.workloads) == [web.id, sidecar.id]
        for workload in (web, sidecar):
            props = workload.properties()
            assert (props["SystemType"], props["HostingSystemId"], props["State"]) == \
                ("Container", pod.vm.id, "Running")
        assert echo(web, "from-web") == b"from-web" and echo(sidecar, "from-sidecar") == b"from-sidecar"
        assert sorted(pod.hosted_system_ids()) == sorted([web.id, sidecar.id])

        pod.remove_workload(sidecar.id)
        assert sidecar.closed and list(pod.workloads) == [web.id]
        assert pod.hosted_system_ids() == [web.id]
        with pytest.raises(KeyError):
            pod.remove_workload(sidecar.id)
        again = pod.add_workload("sidecar-" + pod_id, layers=[base])  # the id is free again
        vm = pod.vm
    assert pod.closed and web.closed and again.closed and vm.closed
    with pytest.raises(pyhcs.HcsNotFoundError):
        pyhcs.ComputeSystem.open(utility_vm_id(pod_id))
    with pytest.raises(pyhcs.HcsClosedError):
        pod.add_workload("late", layers=[base])
    pod.close()  # idempotent


def test_a_hyperv_pod_through_its_whole_lifecycle_with_asyncio(fake: Any, images: Images) -> None:
    """The same lifecycle through the asyncio twins and ``async with``."""
    base = images.base("10.0.20348.2700")

    async def main() -> None:
        pod_id = unique_id("apod")
        async with await HypervPod.create_async(pod_id, layers=[base]) as pod:
            assert pod.signal_process_supported
            first, second = await asyncio.gather(pod.add_workload_async("a-" + pod_id, layers=[base]),
                                                 pod.add_workload_async("b-" + pod_id, layers=[base]))
            results = await asyncio.gather(first.run_async(ECHO.format("a")), second.run_async(ECHO.format("b")))
            assert [r.stdout.strip() for r in results] == [b"a", b"b"]
            assert sorted(pod.hosted_system_ids()) == sorted([first.id, second.id])
            await pod.remove_workload_async(first.id)
            assert list(pod.workloads) == [second.id] and first.closed
        assert pod.closed and second.closed and pod.vm.closed

    asyncio.run(main())


def test_the_utility_vm_document_is_hcsshims(images: Images, tmp_path: Path) -> None:
    """internal/uvm/create_wcow.go prepareCommonConfigDoc + prepareConfigDoc: schema 2.1, terminated with its last
    handle, StopOnReset, UEFI boot of \\EFI\\Microsoft\\Boot\\bootmgfw.efi from the VSMB share "os" (the base layer's
    UtilityVM\\Files), hvsockets bindable by SYSTEM and administrators, the scratch at SCSI 0:0 of controller
    df6d0690-...; memory rounded up to an even size (vmutils NormalizeMemorySize)."""
    base = images.base("10.0.17763.1")
    top = images.layer("top")
    assert find_utility_vm_folder([top, base]) == base
    with pytest.raises(PodConfigurationError, match="UtilityVM"):
        find_utility_vm_folder([top])
    files = os.path.join(base, "UtilityVM", "Files")
    doc: Dict[str, Any] = dict(utility_vm_document(files, owner="me", memory_mb=1023, processor_count=3,
                                                   scratch="C:\\vm\\sandbox.vhdx"))
    assert doc["SchemaVersion"] == {"Major": 2, "Minor": 1} and doc["ShouldTerminateOnLastHandleClosed"] is True
    vm = doc["VirtualMachine"]
    assert vm["StopOnReset"] is True
    assert vm["Chipset"] == {"Uefi": {"BootThis": {"DevicePath": "\\EFI\\Microsoft\\Boot\\bootmgfw.efi",
                                                   "DeviceType": "VmbFs"}}}
    assert vm["ComputeTopology"]["Memory"]["SizeInMB"] == 1024 and vm["ComputeTopology"]["Processor"]["Count"] == 3
    (share,) = vm["Devices"]["VirtualSmb"]["Shares"]
    assert share["Name"] == "os" and share["Path"] == files and share["Options"]["ReadOnly"] is True
    assert vm["Devices"]["HvSocket"]["HvSocketConfig"]["DefaultBindSecurityDescriptor"] == "D:P(A;;FA;;;SY)(A;;FA;;;BA)"
    assert vm["Devices"]["Scsi"] == {SCSI_CONTROLLER: {"Attachments": {"0": {"Path": "C:\\vm\\sandbox.vhdx",
                                                                            "Type": "VirtualDisk"}}}}
    for bad in (0, -1):
        with pytest.raises(ValueError):
            utility_vm_document(files, memory_mb=bad)
    with pytest.raises(TypeError):
        utility_vm_document(files, processor_count=True)


def test_workload_layers_and_scratch_reach_the_utility_vm(fake: Any, images: Images, tmp_path: Path) -> None:
    """internal/layers mountHypervIsolatedWCIFSLayers: each read-only layer is a VSMB share of the VM (the container
    names it by its guest path, vsmb.go vsmbSharePrefix), the scratch VHDX is granted to the VM and attached over
    SCSI; one share per host folder, removed with its last user. The fake reads the workload's image through the
    share: a layer of the wrong build is refused with 0xC0370101 when pyhcs's own check is off."""
    base = images.base("10.0.20348.1")
    scratch = tmp_path / "sandbox.vhdx"
    scratch.write_bytes(b"")
    with HypervPod.create(unique_id("pod"), layers=[base], scratch=None) as pod:
        workload = pod.add_workload(unique_id("w"), layers=[base], scratch=str(scratch))
        assert echo(workload, "ok") == b"ok"
        pod.check = False
        with pytest.raises(pyhcs.HcsImageMismatchError) as info:
            pod.add_workload(unique_id("w"), layers=[images.layer("old", "10.0.17763.1")])
        assert info.value.original_hresult == 0xC0370101 and info.value.result_message
        assert "17763" in info.value.result_message and pod.vm.id in info.value.result_message
        assert list(pod.workloads) == [workload.id]


def test_a_missing_utility_vm_scratch_is_copied_from_the_image_template(fake: Any, images: Images,
                                                                       tmp_path: Path) -> None:
    """internal/layers getVmbFSBootFiles: the VM's scratch is UtilityVM\\SystemTemplate.vhdx copied when missing;
    then the VM is granted access to it (create_wcow.go GrantVmAccess)."""
    base = images.base("10.0.20348.1")
    Path(base, "UtilityVM", "SystemTemplate.vhdx").write_bytes(b"template")
    scratch = tmp_path / "vm" / "sandbox.vhdx"
    scratch.parent.mkdir()
    with HypervPod.create(unique_id("pod"), layers=[base], scratch=str(scratch)):
        assert scratch.read_bytes() == b"template"


def test_a_partial_pod_holds_a_single_workload(fake: Any, images: Images) -> None:
    """The seed's "Partial" row: a utility VM of Windows Server 2016/1709/1803 (before 17763) holds a single
    process-isolated container per utility VM; pyhcs.compat.pod_support says max_workloads 1. The VM's guest
    predates RS5: no signals, no namespace hot-add (uvm/capabilities.go)."""
    base = images.base("10.0.17134.1")
    with HypervPod.create(unique_id("pod"), layers=[base]) as pod:
        assert pod.support is not None and pod.support.support is compat.PodSupport.PARTIAL
        assert pod.max_workloads == 1
        assert not pod.signal_process_supported and not pod.namespace_add_supported
        first = pod.add_workload(unique_id("only"), layers=[base])
        with pytest.raises(compat.PodSupportError) as info:
            pod.add_workload(unique_id("second"), layers=[base])
        assert info.value.verdict.rule is compat.Rule.POD_HYPERV_PARTIAL
        assert "17134" in str(info.value) and first.id in str(info.value)
        pod.remove_workload(first.id)
        pod.add_workload(unique_id("replacement"), layers=[base])


@pytest.mark.parametrize("how", ["terminate", "crash", "unexpected exit"])
def test_workloads_end_when_the_utility_vm_stops(fake: Any, images: Images, how: str) -> None:
    """When the VM stops, HCS ends the workloads in its guest (README: ExitType UnexpectedExit, Status
    HCS_E_UNEXPECTED_EXIT, Initiator Internal); their processes end; the pod still tears down cleanly."""
    base = images.base("10.0.20348.1")
    with HypervPod.create(unique_id("pod"), layers=[base]) as pod:
        workloads = [pod.add_workload(unique_id("w"), layers=[base]) for _ in range(2)]
        process = workloads[0].create_process(SLEEP, stdin=False, stdout=False, stderr=False)
        if how == "terminate":
            pod.vm.terminate(timeout=30)
        elif how == "crash":
            pod.vm.crash(timeout=30)
        else:
            fake.simulate_unexpected_exit(pod.vm.id)
        for workload in workloads:
            assert workload.wait(timeout=30) == HOSTED_EXIT
        process.wait(timeout=30)
        process.close()
        pod.vm.wait(timeout=30)
        with pytest.raises(pyhcs.HcsInvalidStateError):  # the VM does not run: HCS refuses new workloads
            pod.add_workload(unique_id("late"), layers=[base])
    assert all(w.closed for w in workloads)


# ---------------------------------------------------------------------------------------------------- process pods
def test_a_process_pod_with_two_workloads_through_its_whole_lifecycle(fake: Any, images: Images) -> None:
    """A process-isolated pod is one container compute system per workload on the host, "the same pod" meaning the
    same HCN namespace (Container.Networking.Namespace; containerd WithWindowsNetworkNamespace)."""
    base = images.base("10.0.20348.2700")
    app = images.layer("app")
    pod = ProcessPod.create(unique_id("ppod"), network_namespace=NAMESPACE, os_version="10.0.20348.2700")
    with pod:
        assert pod.support is not None and pod.support.rule is compat.Rule.POD_PROCESS
        document = dict(pod.workload_document({"GuestOs": {"HostName": "web"}}, layers=[app, base]))
        container = document["Container"]
        assert container["Networking"] == {"Namespace": NAMESPACE}
        assert [layer["Path"] for layer in container["Storage"]["Layers"]] == [app, base]
        assert document["ShouldTerminateOnLastHandleClosed"] is True and "HostingSystemId" not in document
        web = pod.add_workload(unique_id("web"), {"GuestOs": {"HostName": "web"}}, layers=[app, base])
        worker = pod.add_workload(unique_id("worker"), layers=[base], start=False)
        assert worker.state == "Created"
        worker.start(timeout=30)
        assert echo(web, "web") == b"web" and echo(worker, "worker") == b"worker"
        for workload in (web, worker):
            props = workload.properties()
            assert props["SystemType"] == "Container" and "HostingSystemId" not in props
        pod.remove_workload(worker.id)
        assert list(pod.workloads) == [web.id]
    assert pod.closed and web.closed and worker.closed
    with pytest.raises(pyhcs.HcsNotFoundError):
        pyhcs.ComputeSystem.open(web.id)


def test_a_process_pod_through_its_whole_lifecycle_with_asyncio(fake: Any, images: Images) -> None:
    base = images.base("10.0.20348.2700")

    async def main() -> None:
        async with await ProcessPod.create_async(unique_id("appod"), network_namespace=NAMESPACE) as pod:
            workloads = await asyncio.gather(*(pod.add_workload_async(unique_id(f"w{i}"), layers=[base])
                                               for i in range(2)))
            outputs = await asyncio.gather(*(w.run_async(ECHO.format(w.id)) for w in workloads))
            assert [o.stdout.strip().decode() for o in outputs] == [w.id for w in workloads]
            await pod.remove_workload_async(workloads[0].id)
            assert list(pod.workloads) == [workloads[1].id]
        assert pod.closed and all(w.closed for w in workloads)

    asyncio.run(main())


def test_process_pod_arguments_are_checked_before_hcs(fake: Any, images: Images) -> None:
    """Bad input is refused before anything is created: a namespace that is not a GUID, a workload id twice, a
    namespace or storage given twice."""
    with pytest.raises(PodConfigurationError):
        ProcessPod.create("p", network_namespace="not-a-guid")
    with pytest.raises(TypeError):
        ProcessPod.create("p", network_namespace=42)  # type: ignore[arg-type]
    base = images.base("10.0.20348.1")
    with ProcessPod.create(unique_id("ppod"), network_namespace=NAMESPACE) as pod:
        with pytest.raises(PodConfigurationError, match="Namespace"):
            pod.workload_document({"Networking": {"Namespace": "00000000-0000-0000-0000-000000000000"}})
        with pytest.raises(PodConfigurationError, match="layers"):
            pod.workload_document({"Storage": {"Layers": [{"Id": "x", "Path": base}]}}, layers=[base])
        with pytest.raises(TypeError):
            pod.workload_document(layers=base)  # type: ignore[arg-type]
        workload = pod.add_workload(unique_id("w"))
        with pytest.raises(PodConfigurationError, match="already has"):
            pod.add_workload(workload.id)
        with pytest.raises(TypeError):
            pod.add_workload(unique_id("w"), timeout="soon")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            pod.add_workload(unique_id("w"), timeout=-1)
        assert list(pod.workloads) == [workload.id]


# ---------------------------------------------------------------------------------------------------- versions
def test_a_hyperv_image_newer_than_the_host_is_refused_with_the_rule_before_hcs(fake: Any, images: Images) -> None:
    """version-compatibility.md: Hyper-V isolation runs older images on newer hosts only. pyhcs.pod says so before
    HCS is called (PodSupportError, rule hyperv-older-on-newer, both builds); with its check off, the fake refuses
    the utility VM's boot image with 0xC0370101 as HCS does, and nothing is left behind."""
    newer = images.base("10.0.26100.1")
    pod_id = unique_id("pod")
    with pytest.raises(compat.PodSupportError) as info:
        HypervPod.create(pod_id, layers=[newer])
    assert info.value.verdict.rule is compat.Rule.HYPERV_OLDER_ON_NEWER
    assert "host 20348" in str(info.value) and "26100" in str(info.value)
    assert pyhcs.ComputeSystem.enumerate({"Ids": [utility_vm_id(pod_id)]}) == []
    with pytest.raises(pyhcs.HcsImageMismatchError) as mismatch:
        HypervPod.create(pod_id, layers=[newer], check=False)
    assert mismatch.value.original_hresult == 0xC0370101 and "hyperv-older-on-newer" in str(mismatch.value)
    assert pyhcs.ComputeSystem.enumerate({"Ids": [utility_vm_id(pod_id)]}) == []


def test_a_hyperv_workload_of_another_build_is_refused_with_the_rule(fake: Any, images: Images) -> None:
    """The seed's matrix: "if each workload container OS matches the utility VM OS" (pyhcs.compat
    pod-workload-matches-utility-vm). The check happens before anything is shared into the VM."""
    base = images.base("10.0.20348.1")
    old = images.layer("old", "10.0.17763.6054")
    with HypervPod.create(unique_id("pod"), layers=[base]) as pod:
        with pytest.raises(compat.PodSupportError) as info:
            pod.add_workload(unique_id("w"), layers=[old])
        assert info.value.verdict.rule is compat.Rule.POD_WORKLOAD_MATCHES_UVM
        assert "utility VM 20348, workload 17763" in str(info.value)
        with pytest.raises(compat.PodSupportError):
            pod.add_workload(unique_id("w"), os_version={"os": "windows", "os.version": "10.0.26100.1"})
        assert pod.workloads == {} and pod.hosted_system_ids() == []


def test_a_process_workload_of_another_build_is_refused_with_the_rule(fake: Any, images: Images) -> None:
    """hcsshim CheckHostAndContainerCompat via pyhcs.compat: a 17763 image on a 20348 host, process-isolated. With
    the check off, the fake refuses it with 0xC0370101 (HcsImageMismatchError)."""
    old = images.layer("old", "10.0.17763.1")
    with ProcessPod.create(unique_id("ppod")) as pod:
        with pytest.raises(compat.IncompatibleError) as info:
            pod.add_workload(unique_id("w"), layers=[old])
        assert info.value.verdict.rule is compat.Rule.PROCESS_STABLE_ABI
        assert "host 20348" in str(info.value) and "image 17763" in str(info.value)
        pod.check = False
        with pytest.raises(pyhcs.HcsImageMismatchError):
            pod.add_workload(unique_id("w"), layers=[old])
        assert pod.workloads == {}


@pytest.mark.parametrize("host, isolation, rule", [
    ("10.0.17134.1", "process", compat.Rule.PODS_NEED_RS5),
    ("10.0.17134.1", "hyperv", compat.Rule.PODS_NEED_RS5),
    ("10.0.19045.1 client", "process", compat.Rule.WINDOWS10_HYPERV_ONLY),
])
def test_pods_the_host_cannot_run_are_refused_at_creation(fake: Any, images: Images, host: str, isolation: str,
                                                          rule: compat.Rule) -> None:
    """createPod: "pod support is not available on Windows versions previous to RS5 (17763)"; the seed's footnote:
    Windows 10 hosts support Hyper-V isolation only. Nothing reaches HCS."""
    base = images.base("10.0.17134.1")
    with pytest.raises(compat.PodSupportError) as info:
        if isolation == "hyperv":
            HypervPod.create(unique_id("pod"), layers=[base], host=host)
        else:
            ProcessPod.create(unique_id("pod"), host=host)
    assert info.value.verdict.rule is rule
    assert pyhcs.ComputeSystem.enumerate() == []


def test_declared_versions_and_the_os_version_argument(images: Images) -> None:
    """An image's version: the os_version argument (a version or an OCI image config), else the declaration nearest
    the base layer (image-config.json), else unknown -- then the checks that need it are skipped and HCS decides."""
    top = images.layer("top", "10.0.17763.1")
    base = images.layer("base", "10.0.20348.7")
    plain = images.layer("plain")
    assert declared_os_version([top, base]) == compat.OSVersion(10, 0, 20348, 7)
    assert declared_os_version([base, top]) == compat.OSVersion(10, 0, 17763, 1)
    assert declared_os_version([plain]) is None
    Path(plain, IMAGE_CONFIG_FILE).write_text('{"os": "windows", "os.version": "ten"}')
    with pytest.raises(compat.InvalidVersionError, match=IMAGE_CONFIG_FILE):
        declared_os_version([plain])


@pytest.mark.skipif(IS_WINDOWS, reason="Windows always knows its own version (RtlGetVersion)")
def test_an_unknown_host_is_not_guessed(fake: Any, images: Images, monkeypatch: pytest.MonkeyPatch) -> None:
    """Off Windows the host is PYHCS_HOST_OS_VERSION (pyhcs.compat.host_os); without it, checking a pod raises
    HostVersionUnavailableError, which says what to set. With the checks off, HCS decides."""
    monkeypatch.delenv("PYHCS_HOST_OS_VERSION")
    base = images.base("10.0.20348.1")
    with pytest.raises(compat.HostVersionUnavailableError, match="PYHCS_HOST_OS_VERSION"):
        HypervPod.create(unique_id("pod"), layers=[base])
    with pytest.raises(compat.HostVersionUnavailableError):
        ProcessPod.create(unique_id("pod"))
    with HypervPod.create(unique_id("pod"), layers=[base], check=False) as pod:
        assert pod.host is None and pod.support is None
        pod.add_workload(unique_id("w"), layers=[base])
    with ProcessPod.create(unique_id("pod"), host="10.0.20348.1") as process_pod:
        assert process_pod.host == compat.Host.parse("10.0.20348.1")


def test_unknown_versions_skip_the_checks_and_hcs_decides(fake: Any, images: Images) -> None:
    """Without declarations or os_version pyhcs.pod cannot know the builds; the fake checks nothing undeclared."""
    base = images.layer("base", utility_vm=True)
    with HypervPod.create(unique_id("pod"), layers=[base]) as pod:
        assert pod.os_version is None and pod.support is None and pod.max_workloads is None
        assert echo(pod.add_workload(unique_id("w"), layers=[base]), "x") == b"x"


# ---------------------------------------------------------------------------------------------------- processes
def test_one_process_creates_the_pod_and_another_adds_a_workload(fake_service: Any, images: Images,
                                                                  tmp_path: Path) -> None:
    """As with vmcompute.exe, a pod's VM created by one client is visible to every other (tests/fakes/README.md
    "Service mode"): a second process opens "<pod>@vm", adds a workload and runs a process in it; the first sees it
    hosted in its VM; when the first terminates the VM, the second's workload ends with the documented status."""
    base = images.base("10.0.20348.1")
    pod_id = unique_id("shared")
    env = fake_service.env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])

    def client(role: str) -> "subprocess.Popen[str]":
        return subprocess.Popen([sys.executable, "-m", "tests.pod_client", role, pod_id, base], cwd=str(ROOT),
                                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=open(tmp_path / f"{role}.stderr", "w"), text=True)

    def line(proc: "subprocess.Popen[str]") -> Any:
        assert proc.stdout is not None
        text = proc.stdout.readline()
        assert text, (tmp_path / "owner.stderr").read_text() + (tmp_path / "joiner.stderr").read_text()
        return json.loads(text)

    owner = client("owner")
    joiner: Optional["subprocess.Popen[str]"] = None
    try:
        assert line(owner) == {"created": utility_vm_id(pod_id)}
        joiner = client("joiner")
        joined = line(joiner)
        assert joined["output"] == "from-joiner" and joined["hosting"] == utility_vm_id(pod_id)
        assert joined["signals"] is True
        owner.stdin.write("terminate\n")  # type: ignore[union-attr]
        owner.stdin.flush()  # type: ignore[union-attr]
        assert line(owner) == {"hosted": [joined["workload"]], "terminated": True}
        assert line(joiner) == {"exit": HOSTED_EXIT}
        for proc in (owner, joiner):
            assert proc.wait(timeout=60) == 0
    finally:
        for proc in (owner, joiner):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_an_opened_pod_leaves_the_vm_running(fake: Any, images: Images) -> None:
    """HypervPod.open attaches to a VM it did not create: closing it removes its own workloads (and what it shared
    into the VM) and closes its handle, the VM runs on for its owner."""
    base = images.base("10.0.20348.1")
    with HypervPod.create(unique_id("pod"), layers=[base]) as owner:
        with pytest.raises(pyhcs.HcsNotFoundError):
            HypervPod.open(unique_id("no-such-pod"))
        joined = HypervPod.open(owner.id, os_version="10.0.20348.1")
        assert joined.vm_id == owner.vm_id and joined.signal_process_supported
        workload = joined.add_workload(unique_id("w"), layers=[base])
        assert owner.hosted_system_ids() == [workload.id]
        with pytest.raises(compat.PodSupportError):
            joined.add_workload(unique_id("w"), os_version="10.0.17763.1")
        joined.close()
        assert workload.closed and joined.vm.closed
        assert owner.vm.state == "Running" and owner.hosted_system_ids() == []
