"""Containers in utility VMs through the CLI: ``windows.hyperv`` bundles, pods (CRI, CRI-O and dockershim
annotations), ``--host``, and the version rules -- every command its own process against the fake HCS service
(tests/runhcs/e2e.py).

Expected behaviour: hcsshim cmd/runhcs (container.go createContainer / Remove, vm.go, kill.go) and
go-runhcs-contract.md row F16 for the texts; the fake's utility VMs are tests/fakes/README.md "Utility VMs and pods";
the image checks are pyhcs.compat's (docs/compat.md). The deliberate differences are docs/cli.md's.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import pytest

from tests.runhcs.e2e import ProcessCli, exits_with, kill_process, linux_leg, sleeper, wait_gone
from tests.support import IS_WINDOWS

pytestmark = pytest.mark.timeout(300)

HOST_BUILD = "10.0.20348.2655"  # the test session's host (tests/conftest.py): Windows Server 2022
NAMESPACE = "5f6a4d4e-3b3e-4c2a-9f7e-0c4b9b5e6a11"

# The three spellings runhcs reads (cmd/runhcs/container.go parseSandboxAnnotations).
SPELLINGS: Dict[str, Any] = {
    "cri": lambda kind, sandbox: {"io.kubernetes.cri.container-type": kind, "io.kubernetes.cri.sandbox-id": sandbox},
    "cri-o": lambda kind, sandbox: {"io.kubernetes.cri-o.ContainerType": kind,
                                    "io.kubernetes.cri-o.SandboxID": sandbox},
    "dockershim": lambda kind, sandbox: {"io.kubernetes.docker.type": "podsandbox" if kind == "sandbox" else kind,
                                         "io.kubernetes.sandbox.id": sandbox},
}


def layer(tmp_path: Path, name: str, version: Optional[str] = None, utility_vm: bool = False) -> str:
    """A layer folder; *version*: the image OS it declares (image-config.json, pyhcs.pod.IMAGE_CONFIG_FILE);
    *utility_vm*: a base layer with its utility VM image (UtilityVM\\Files, UtilityVM\\SystemTemplate.vhdx)."""
    folder = tmp_path / "layers" / name
    folder.mkdir(parents=True, exist_ok=True)
    if utility_vm:
        (folder / "UtilityVM" / "Files").mkdir(parents=True, exist_ok=True)
        (folder / "UtilityVM" / "SystemTemplate.vhdx").write_bytes(b"")  # the VM's scratch is copied from it
    if version is not None:
        (folder / "image-config.json").write_text(json.dumps({"os": "windows", "os.version": version}))
    return str(folder)


def make_bundle(tmp_path: Path, name: str, process: Any = None, *, hyperv: bool = True,
                version: str = HOST_BUILD, annotations: Optional[Dict[str, str]] = None,
                **windows: Any) -> str:
    """A bundle on a base image of *version* (with its UtilityVM) and a scratch folder holding sandbox.vhdx (as
    containerd's snapshotter makes it); ``windows.hyperv`` unless *hyperv* is false (then a process-isolated
    bundle with the scratch volume as root)."""
    from tests.oci.samples import VOLUME

    bundle = tmp_path / name
    scratch = bundle / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "sandbox.vhdx").write_bytes(b"")
    base = layer(tmp_path, f"base-{version}", version, utility_vm=True)
    config: Dict[str, Any] = {
        "ociVersion": "1.1.0",
        "process": process if process is not None else sleeper(),
        "windows": dict({"layerFolders": [base, str(scratch)]}, **windows),
    }
    if hyperv:
        config["windows"]["hyperv"] = {}
    else:
        config["root"] = {"path": VOLUME}
    if annotations:
        config["annotations"] = annotations
    (bundle / "config.json").write_text(json.dumps(config))
    return str(bundle)


def hcs_view(e2e: ProcessCli) -> Dict[str, Dict[str, Any]]:
    """Every compute system HCS knows, with its type and its hosting VM (enumerated by a client of its own)."""
    import subprocess
    import sys

    code = ("import json, pyhcs; print(json.dumps({p['Id']: {'State': p.get('State', ''), 'SystemType': "
            "p.get('SystemType'), 'HostingSystemId': p.get('HostingSystemId', '')} "
            "for p in pyhcs.ComputeSystem.enumerate()}))")
    proc = subprocess.run([sys.executable, "-c", code], env=e2e.env, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def settled_hcs_view(e2e: ProcessCli, ids: Sequence[str] = (), timeout: float = 30.0) -> Dict[str, Dict[str, Any]]:
    """hcs_view once it holds exactly *ids* (default: nothing), or as it is after *timeout*. A deleted container's
    stopped system stays listed until its helper, which notices the stop, has closed its handle (a stopped system
    lives while a handle is open: HCS_SYSTEM handles, HcsCloseComputeSystem.md)."""
    deadline = time.monotonic() + timeout
    view = hcs_view(e2e)
    while sorted(view) != sorted(ids) and time.monotonic() < deadline:
        time.sleep(0.1)
        view = hcs_view(e2e)
    return view


_WATCH = """
import json, sys, pyhcs
systems = [pyhcs.ComputeSystem.open(i) for i in sys.argv[1:]]
print("ready", flush=True)
ends = {}
for system in systems:
    system.wait(120)
    status = system.exit_status or {}
    ends[system.id] = {"at": system.exited_at.timestamp(), "type": status.get("ExitType", "")}
    system.close()
print(json.dumps(ends), flush=True)
"""


class ExitWatcher:
    """A client of its own holding handles to *ids*: how and when each system ended (SystemExitStatus ExitType,
    the moment of its exit notification)."""

    def __init__(self, e2e: ProcessCli, *ids: str) -> None:
        import subprocess
        import sys

        self.proc = subprocess.Popen([sys.executable, "-c", _WATCH, *ids], env=e2e.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "ready\n"

    def ends(self) -> Dict[str, Dict[str, Any]]:
        out, _ = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0
        return json.loads(out)  # type: ignore[no-any-return]


def record(e2e: ProcessCli, container_id: str) -> Dict[str, Any]:
    from pyhcs.runhcs.state import Store

    found = Store(e2e.root).get(container_id)
    assert found is not None
    return dict(found)


# ------------------------------------------------------------------------------------------------ windows.hyperv
def test_a_hyperv_bundle_lives_its_whole_lifecycle_in_a_utility_vm_of_its_own(e2e: ProcessCli,
                                                                              tmp_path: Path) -> None:
    """runhcs createContainer: a windows.hyperv container on an RS5+ host gets a utility VM "<id>@vm" (vm.go
    vmID) held by a VM helper, and is created inside it (HostingSystemId); delete removes the container, then
    the VM (container.go Remove)."""
    b = make_bundle(tmp_path, "hv")
    e2e.ok("create", "-b", b, "hv1")
    assert e2e.state("hv1")["status"] == "created"
    systems = hcs_view(e2e)
    assert systems == {
        "hv1@vm": {"State": "Running", "SystemType": "VirtualMachine", "HostingSystemId": ""},
        "hv1": {"State": "Created", "SystemType": "Container", "HostingSystemId": "hv1@vm"},
    }
    e2e.ok("start", "hv1")
    state = e2e.wait_status("hv1", "running")
    assert state["bundle"] == b and state["rootfs"] == ""  # Hyper-V: the scratch disk, not root.path
    assert json.loads(e2e.ok("ps", "--format=json", "hv1").out)  # processes run in the hosted container
    assert [s["id"] for s in e2e.list_json()] == ["hv1"]  # the VM is not a container
    command = ["cmd", "/c", "echo exec in the vm& exit 3"] if IS_WINDOWS else \
        ["sh", "-c", "echo exec in the vm; exit 3"]
    done = e2e("exec", "hv1", *command)
    assert (done.code, done.out.replace(b"\r\n", b"\n"), done.err) == (3, b"exec in the vm\n", b"")
    e2e.ok("pause", "hv1")
    assert e2e.state("hv1")["status"] == "paused"
    e2e.ok("resume", "hv1")
    # The guest of an RS5+ VM takes signals (GuestConnection SignalProcessSupported): names are checked.
    assert e2e.fails("kill", "hv1", "SIGKILL") == "invalid signal value"
    e2e.ok("kill", "hv1", "KILL")
    e2e.wait_status("hv1", "stopped", pid=0)
    assert hcs_view(e2e)["hv1@vm"]["State"] == "Running"  # the VM waits for delete (runhcs, "like kata")
    e2e.ok("delete", "hv1")
    assert e2e.nothing_left()  # every helper gone (each holds its container's handle until it notices the end)
    assert hcs_view(e2e) == {}


def test_run_without_detach_in_a_utility_vm_exits_with_the_process_code(e2e: ProcessCli, tmp_path: Path) -> None:
    """runhcs run: create + start, wait, delete (the VM too), exit with the container process's code."""
    b = make_bundle(tmp_path, "hv", exits_with(7, "in the vm"))
    done = e2e("run", "-b", b, "hv2")
    assert (done.code, done.out.replace(b"\r\n", b"\n"), done.err) == (7, b"in the vm\n", b"")
    assert hcs_view(e2e) == {} and e2e.list_json() == []
    assert e2e.nothing_left()


# ------------------------------------------------------------------------------------------------------------ pods
@pytest.mark.parametrize("spelling", [pytest.param("cri"), pytest.param("cri-o", marks=linux_leg),
                                      pytest.param("dockershim", marks=linux_leg)])
def test_a_hyperv_pod_sandbox_and_two_workloads_share_one_utility_vm(e2e: ProcessCli, tmp_path: Path,
                                                                     spelling: str) -> None:
    """runhcs createContainer: the sandbox (container-type sandbox, its own id as sandbox id) owns the VM; a
    workload naming the sandbox goes into the sandbox's VM (its HostID) -- whatever its own isolation says.
    Deleting a workload leaves the rest; deleting the sandbox ends every container in the VM, then the VM."""
    annotate = SPELLINGS[spelling]
    e2e.ok("run", "-d", "-b", make_bundle(tmp_path, "sb", annotations=annotate("sandbox", "pod1")), "pod1")
    for name, hyperv in (("w1", True), ("w2", False)):
        e2e.ok("run", "-d", "-b", make_bundle(tmp_path, name, hyperv=hyperv,
                                              annotations=annotate("container", "pod1")), name)
    systems = hcs_view(e2e)
    assert sorted(systems) == ["pod1", "pod1@vm", "w1", "w2"]
    assert [systems[i]["HostingSystemId"] for i in ("pod1", "w1", "w2")] == ["pod1@vm"] * 3
    assert {s["status"] for s in e2e.list_json()} == {"running"}

    e2e.ok("delete", "--force", "w1")
    assert sorted(settled_hcs_view(e2e, ["pod1", "pod1@vm", "w2"])) == ["pod1", "pod1@vm", "w2"]
    assert e2e.state("w2")["status"] == "running"

    watcher = ExitWatcher(e2e, "w2", "pod1@vm")
    e2e.ok("delete", "--force", "pod1")
    ends = watcher.ends()
    # The workload was terminated before its VM went: a workload ended by its VM's end exits UnexpectedExit. (The
    # times the watcher recorded cannot show the order: HCS does not order events across handles, each handle's
    # events come on their own thread, and CI under Wine once saw them recorded the other way round.)
    assert ends["w2"]["type"] == "ForcedExit", ends
    assert ends["pod1@vm"]["type"] in ("ForcedExit", "GracefulExit"), ends
    # Every system is gone once the helpers that held them have noticed (a stopped system lives while a handle is
    # open: HCS_SYSTEM handles, HcsCloseComputeSystem.md).
    assert settled_hcs_view(e2e) == {}
    e2e.wait_status("w2", "stopped", pid=0)  # its record waits for delete
    e2e.ok("delete", "w2")
    assert e2e.nothing_left()


@linux_leg
def test_a_process_isolated_pod_shares_a_network_namespace_and_no_vm(e2e: ProcessCli, tmp_path: Path) -> None:
    """A process-isolated sandbox has no VM host: its workloads are containers on the host, one pod by their
    network namespace (hcsshim: Container.Networking.Namespace); a Hyper-V workload cannot join it (F16)."""
    cri = SPELLINGS["cri"]
    network = {"network": {"networkNamespace": NAMESPACE}}
    e2e.ok("run", "-d", "-b", make_bundle(tmp_path, "sb", hyperv=False, annotations=cri("sandbox", "ppod"),
                                          **network), "ppod")
    for name in ("p1", "p2"):
        e2e.ok("run", "-d", "-b", make_bundle(tmp_path, name, hyperv=False, annotations=cri("container", "ppod"),
                                              **network), name)
    systems = hcs_view(e2e)
    assert sorted(systems) == ["p1", "p2", "ppod"]
    assert {s["HostingSystemId"] for s in systems.values()} == {""}
    assert {record(e2e, i)["netns"] for i in ("ppod", "p1", "p2")} == {NAMESPACE}
    assert record(e2e, "p1")["sandboxId"] == "ppod" and not record(e2e, "ppod")["isHost"]
    assert e2e.fails("create", "-b", make_bundle(tmp_path, "hv", annotations=cri("container", "ppod")), "p3") == \
        "container ppod is not a VM isolated sandbox"
    for name in ("p2", "p1", "ppod"):
        e2e.ok("delete", "--force", name)
    assert e2e.nothing_left()


# ------------------------------------------------------------------------------------------------------------ --host
def test_host_places_a_container_in_another_containers_vm(e2e: ProcessCli, tmp_path: Path) -> None:
    """runhcs --host <id>: a container (here a process-isolated bundle) created in the VM of container <id>,
    which must own one (IsHost)."""
    e2e.ok("run", "-d", "-b", make_bundle(tmp_path, "h"), "vmhost")
    e2e.ok("run", "-d", "--host", "vmhost", "-b", make_bundle(tmp_path, "g", hyperv=False), "guest")
    systems = hcs_view(e2e)
    assert systems["guest"]["HostingSystemId"] == "vmhost@vm" and "guest@vm" not in systems
    assert record(e2e, "guest")["hostId"] == "vmhost" and not record(e2e, "guest")["isHost"]
    e2e.ok("kill", "guest", "CtrlC")
    e2e.wait_status("guest", "stopped")
    e2e.ok("delete", "guest")
    assert sorted(settled_hcs_view(e2e, ["vmhost", "vmhost@vm"])) == ["vmhost", "vmhost@vm"]
    e2e.ok("delete", "--force", "vmhost")
    assert e2e.nothing_left()


# ------------------------------------------------------------------------------------------------------------ F16
@linux_leg
def test_every_pod_and_host_error_has_runhcss_text_and_exit_code_1(e2e: ProcessCli, tmp_path: Path) -> None:
    """go-runhcs-contract.md F16 (cmd/runhcs/container.go createContainer), checked before anything starts."""
    cri = SPELLINGS["cri"]
    e2e.ok("create", "-b", make_bundle(tmp_path, "vmhost"), "vmhost")
    e2e.ok("create", "-b", make_bundle(tmp_path, "other"), "other")
    e2e.ok("create", "-b", make_bundle(tmp_path, "hvpod", annotations=cri("sandbox", "hvpod")), "hvpod")
    e2e.ok("create", "-b", make_bundle(tmp_path, "plain", hyperv=False), "plain")
    e2e.ok("create", "-b", make_bundle(tmp_path, "ppod", hyperv=False, annotations=cri("sandbox", "ppod")), "ppod")
    before = sorted(hcs_view(e2e))

    cases = [
        (["-b", make_bundle(tmp_path, "a", annotations=cri("sandbox", "elsewhere"))], "x1",
         "sandbox ID must match ID"),
        (["-b", make_bundle(tmp_path, "b", annotations=cri("container", "plain"))], "x2",
         "container plain is not a sandbox"),
        (["--host", "plain", "-b", make_bundle(tmp_path, "c")], "x3", "host container plain is not a VM host"),
        (["--host", "other", "-b", make_bundle(tmp_path, "d", annotations=cri("container", "hvpod"))], "x4",
         "sandbox container hvpod has a different host hvpod from the requested host other"),
        (["-b", make_bundle(tmp_path, "e", annotations=cri("container", "ppod"))], "x5",
         "container ppod is not a VM isolated sandbox"),
        (["--host", "vmhost", "-b", make_bundle(tmp_path, "f", annotations=cri("container", "ppod"))], "x6",
         "sandbox container ppod is not running in a VM host, but host vmhost was specified"),
        (["--host", "nosuch", "-b", make_bundle(tmp_path, "g")], "x7", "ID 'nosuch' was not found"),
        (["-b", make_bundle(tmp_path, "h", annotations=cri("container", "nosuch"))], "x8",
         "ID 'nosuch' was not found"),
    ]
    for flags, container_id, text in cases:
        assert e2e.fails("create", *flags, container_id) == text, (flags, text)
        assert e2e.fails("run", "-d", *flags, container_id) == text, (flags, text)
    assert sorted(hcs_view(e2e)) == before  # nothing reached HCS
    assert [s["id"] for s in e2e.list_json()] == ["hvpod", "other", "plain", "ppod", "vmhost"]


# --------------------------------------------------------------------------------------------------- versions
@linux_leg
def test_image_os_mismatches_are_refused_with_the_rule_before_hcs(e2e: ProcessCli, tmp_path: Path) -> None:
    """The image's OS (declared by its layers) against the host's (PYHCS_HOST_OS_VERSION) and the VM's, with
    pyhcs.compat's words -- HCS would fail with 0xC0370101 and no reason (compat.md)."""
    cri = SPELLINGS["cri"]
    assert e2e.fails("create", "-b", make_bundle(tmp_path, "p", hyperv=False, version="10.0.17763.100"), "p1") == \
        ("process isolation from build 20348 on runs images from the previous stable-ABI LTSC up to the host: "
         "host 20348 runs 20348, image 17763 — use Hyper-V isolation or an image of build 20348")
    newer = e2e.fails("create", "-b", make_bundle(tmp_path, "n", version="10.0.26100.1"), "n1")
    assert newer == ("Hyper-V isolation runs older images on newer hosts only: host 20348, image 26100 — use an "
                     "image of build 20348 or earlier, or a host of build 26100 or later")
    e2e.ok("create", "-b", make_bundle(tmp_path, "sb", annotations=cri("sandbox", "pod")), "pod")
    other = e2e.fails("create", "-b", make_bundle(tmp_path, "w", version="10.0.17763.100",
                                                  annotations=cri("container", "pod")), "w1")
    assert other.startswith("a Hyper-V pod runs every workload inside its utility VM, so the workload's OS must "
                            "match the utility VM's: utility VM 20348, workload 17763"), other
    assert sorted(hcs_view(e2e)) == ["pod", "pod@vm"]  # the refusals reached no HCS


@linux_leg
def test_a_vm_without_signal_support_terminates_on_every_kill(e2e: ProcessCli, tmp_path: Path) -> None:
    """runhcs kill.go: in a VM whose guest does not take signals (GuestConnection: no SignalProcessSupported, a
    pre-RS5 guest in the fake) any signal string is accepted and the process is terminated."""
    e2e.ok("run", "-d", "-b", make_bundle(tmp_path, "old", version="10.0.17134.1"), "old")
    e2e.ok("kill", "old", "NOT-A-SIGNAL")
    e2e.wait_status("old", "stopped")
    e2e.ok("delete", "old")
    assert e2e.nothing_left()


# ------------------------------------------------------------------------------------------------ robustness
def test_a_vm_helper_killed_while_its_vm_runs(e2e: ProcessCli, tmp_path: Path) -> None:
    """The VM's document has ShouldTerminateOnLastHandleClosed and only its helper holds it: a helper killed
    (SIGKILL / TerminateProcess) takes the VM down, HCS ends the containers in it, their helpers record the
    stop, and delete cleans up what is left."""
    cri = SPELLINGS["cri"]
    e2e.ok("run", "-d", "-b", make_bundle(tmp_path, "sb", annotations=cri("sandbox", "kp")), "kp")
    e2e.ok("run", "-d", "-b", make_bundle(tmp_path, "w", annotations=cri("container", "kp")), "kw")
    vm_helper = int(record(e2e, "kp")["vm"]["pid"])
    kill_process(vm_helper)
    assert wait_gone(vm_helper)
    for container_id in ("kp", "kw"):
        e2e.wait_status(container_id, "stopped", pid=0)  # the helper exits once it has recorded the stop
    assert e2e.fails("create", "--host", "kp", "-b", make_bundle(tmp_path, "late", hyperv=False), "late") == \
        "VM kp cannot be contacted"
    e2e.ok("delete", "kw")
    e2e.ok("delete", "kp")
    assert e2e.nothing_left()  # every helper gone (each holds its container's handle until it notices the end)
    assert hcs_view(e2e) == {}


@linux_leg
def test_a_create_that_fails_in_the_vm_leaves_nothing(e2e: ProcessCli, tmp_path: Path) -> None:
    """A bundle whose scratch disk is missing is refused before the VM starts; one HCS refuses inside the VM
    (here: the VM's scratch cannot be granted, the fake's ERROR_FILE_NOT_FOUND) leaves no VM and no helper."""
    b = make_bundle(tmp_path, "noscratch")
    os.remove(os.path.join(b, "scratch", "sandbox.vhdx"))
    text = e2e.fails("create", "-b", b, "ns")
    assert text.startswith("config.json: windows.layerFolders[1]: holds no sandbox.vhdx"), text
    assert hcs_view(e2e) == {} and e2e.list_json() == []
    assert e2e.nothing_left()

