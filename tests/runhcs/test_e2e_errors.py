"""Every failure case of the go-runhcs contract, each command its own process against the fake HCS service: the
exact stderr line (one line, nothing on stdout) and exit code.

Sources: go-runhcs-contract.md sections 2 and 3 (F1-F19), from hcsshim cmd/runhcs, internal/appargs,
internal/regstate and urfave/cli v1. Where pyhcs deliberately answers differently (kill of a created container,
start without a process) the case is in test_e2e_runtime_tools.py and docs/cli.md, "Differences".
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.runhcs.e2e import ProcessCli, edit_config, exits_with, linux_leg, shell, sleeper, write_json
from tests.runhcs.support import make_bundle
from tests.support import IS_WINDOWS

pytestmark = pytest.mark.timeout(300)

def bundle(tmp_path: Path, name: str = "b", process: object = None, **top: object) -> str:
    path = tmp_path / name
    path.mkdir(exist_ok=True)
    return make_bundle(str(path), process, **top)  # type: ignore[arg-type]


@linux_leg
def test_global_errors(e2e: ProcessCli) -> None:
    """Contract section 2 and checks 1-5 of section 5."""
    assert e2e.ok("list", "--format=json").out == b"null\n"  # check 1: a fresh root
    assert e2e.fails("frobnicate", code=3) == "No help topic for 'frobnicate'"  # urfave/cli: exit 3
    assert e2e.fails("--log-format", "xml", "list") == 'unknown log-format "xml"'
    done = e2e("--bogus", "list")
    assert (done.code, done.err) == (1, b"flag provided but not defined: -bogus\n")
    assert done.out.startswith(b"Incorrect Usage. flag provided but not defined: -bogus\n\nNAME:\n   runhcs")
    done = e2e("state", "--bogus", "c1")
    assert (done.code, done.err) == (1, b"flag provided but not defined: -bogus\n")
    assert done.out.startswith(b"Incorrect Usage: flag provided but not defined: -bogus\n\nNAME:\n   runhcs state")
    for argv, message in ((["create", "--bundle"], b"flag needs an argument: -bundle"),
                          (["resize-tty", "--pid", "x", "c1", "1", "1"],
                           b'invalid value "x" for flag -pid: parse error'),
                          (["delete", "--force=maybe", "c1"],
                           b'invalid boolean value "maybe" for -force: parse error')):
        done = e2e(*argv)
        assert (done.code, done.err) == (1, message + b"\n"), done
        assert done.out.startswith(b"Incorrect Usage: " + message + b"\n\nNAME:\n   runhcs " + argv[0].encode())


@linux_leg
def test_missing_or_extra_arguments_are_invalid_usage(e2e: ProcessCli) -> None:
    """F12 (internal/appargs): a missing or empty id, or anything extra; resize-tty's sizes are 1..65535."""
    for argv in (["state"], ["start"], ["delete"], ["kill"], ["pause"], ["resume"], ["ps"], ["exec"], ["create"],
                 ["run"], ["state", "a", "b"], ["delete", "a", "b"], ["kill", "a", "KILL", "x"], ["list", "x"],
                 ["resize-tty", "c1", "0", "10"], ["resize-tty", "c1", "10", "65536"], ["resize-tty", "c1", "10"],
                 ["resize-tty", "c1", "ten", "10"], ["state", ""], ["create", "--bundle", "b", ""]):
        assert e2e.fails(*argv) == "invalid command usage", argv


@linux_leg
def test_every_command_on_an_unknown_id(e2e: ProcessCli) -> None:
    """F4 (internal/regstate NotFoundError): every command, delete --force included."""
    for argv in (["state", "nope"], ["start", "nope"], ["delete", "nope"], ["delete", "--force", "nope"],
                 ["kill", "nope", "KILL"], ["kill", "nope", ""], ["exec", "nope", "x"], ["ps", "nope"],
                 ["pause", "nope"], ["resume", "nope"], ["resize-tty", "nope", "80", "25"]):
        assert e2e.fails(*argv) == "ID 'nope' was not found", argv


def test_create_errors(e2e: ProcessCli, tmp_path: Path) -> None:
    """F1 already exists, F2 no config.json, F3 no bundle directory (Go's chdir error), then pyhcs's precise
    configuration errors where runhcs says "unknown shim failure"."""
    good = bundle(tmp_path)
    e2e.ok("create", "-b", good, "c1")
    assert e2e.fails("create", "-b", good, "c1") == "container c1 already exists"
    assert e2e.fails("run", "-b", good, "c1") == "container c1 already exists"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert e2e.fails("create", "-b", str(empty), "c2") == "JSON specification file config.json not found"
    missing = str(tmp_path / "missing")
    text = e2e.fails("create", "-b", missing, "c2")
    if IS_WINDOWS:
        assert text == f"chdir {missing}: The system cannot find the file specified."
    else:
        assert text == f"chdir {missing}: no such file or directory"
    not_json = bundle(tmp_path, "nj")
    with open(os.path.join(not_json, "config.json"), "w") as fh:
        fh.write('{"ociVersion": "1.1.0",')
    assert e2e.fails("create", "-b", not_json, "c2").startswith("config.json is not valid JSON: ")
    bad_root = bundle(tmp_path, "br", root={"path": "C:\\rootfs"})
    assert e2e.fails("create", "-b", bad_root, "c2").startswith(
        "config.json: root.path: must be a volume GUID path such as \\\\?\\Volume{")
    assert [s["id"] for s in e2e.list_json()] == ["c1"]  # nothing recorded for the failures
    assert e2e.hcs_systems() == {"c1": "Created"}  # and nothing created in HCS


@linux_leg
def test_start_errors_name_the_state(e2e: ProcessCli, tmp_path: Path) -> None:
    """F5, F6, F7 (cmd/runhcs/start.go)."""
    e2e.ok("run", "-d", "-b", bundle(tmp_path, process=sleeper()), "c1")
    assert e2e.fails("start", "c1") == "cannot start an already running container"
    e2e.ok("pause", "c1")
    assert e2e.fails("start", "c1") == "cannot start a container in the 'paused' state"
    e2e.ok("resume", "c1")
    e2e.ok("kill", "c1", "KILL")
    e2e.wait_status("c1", "stopped")
    assert e2e.fails("start", "c1") == "cannot start a container that has stopped"


@linux_leg
def test_delete_refuses_running_and_paused_containers_without_force(e2e: ProcessCli, tmp_path: Path) -> None:
    """F8 (cmd/runhcs/delete.go); --force terminates them."""
    e2e.ok("run", "-d", "-b", bundle(tmp_path, process=sleeper()), "c1")
    assert e2e.fails("delete", "c1") == "cannot delete container c1 that is not stopped: running"
    assert e2e.state("c1")["status"] == "running"  # no effect
    e2e.ok("pause", "c1")
    assert e2e.fails("delete", "c1") == "cannot delete container c1 that is not stopped: paused"
    e2e.ok("delete", "--force", "c1")
    assert e2e.fails("state", "c1") == "ID 'c1' was not found"
    assert e2e.nothing_left()


@linux_leg
def test_commands_on_a_stopped_container_say_it_is_stopped(e2e: ProcessCli, tmp_path: Path) -> None:
    """F9 and F10: kill, exec, ps, pause, resume, resize-tty of a stopped container."""
    e2e.ok("run", "-d", "-b", bundle(tmp_path, process=exits_with(0)), "c1")
    e2e.wait_status("c1", "stopped")
    for argv in (["kill", "c1", "KILL"], ["kill", "c1", ""], ["kill", "c1", "SIGFOO"], ["exec", "c1", "x"],
                 ["ps", "c1"], ["pause", "c1"], ["resume", "c1"], ["resize-tty", "c1", "80", "25"]):
        assert e2e.fails(*argv) == "container is stopped", argv
    e2e.ok("delete", "c1")


@linux_leg
def test_exec_of_a_container_that_is_not_running(e2e: ProcessCli, tmp_path: Path) -> None:
    """F9: exec needs a running container (a created one has no process yet)."""
    e2e.ok("create", "-b", bundle(tmp_path, process=sleeper()), "c1")
    assert e2e.fails("exec", "c1", "x") == "container is stopped"
    e2e.ok("start", "c1")
    e2e.ok("pause", "c1")
    assert e2e.fails("exec", "c1", "x") == "container is stopped"  # runhcs: status != running
    e2e.ok("resume", "c1")


@linux_leg
def test_signal_and_format_errors(e2e: ProcessCli, tmp_path: Path) -> None:
    """F11 (internal/signals: no SIG prefix on Windows), F15 (list.go, ps.go)."""
    e2e.ok("run", "-d", "-b", bundle(tmp_path, process=sleeper()), "c1")
    for signal in ("SIGKILL", "SIGTERM", "SIGFOO", "3", "-1", "CTRL_C"):
        assert e2e.fails("kill", "c1", signal) == "invalid signal value", signal
    assert e2e.state("c1")["status"] == "running"
    assert e2e.fails("list", "--format=yaml") == "invalid format option"
    assert e2e.fails("list", "-f", "table2") == "invalid format option"
    assert e2e.fails("ps", "--format=table", "c1") == "invalid format option"


@linux_leg
def test_exec_process_errors(e2e: ProcessCli, tmp_path: Path) -> None:
    """F13, F14 (cmd/runhcs/exec.go validateProcessSpec), then pyhcs's precise process errors."""
    e2e.ok("run", "-d", "-b", bundle(tmp_path, process=sleeper()), "c1")
    assert e2e.fails("exec", "c1") == "process args cannot be empty"
    spec = str(tmp_path / "p.json")
    for process, text in (({"args": ["a"]}, "cwd property must not be empty"),
                          ({"args": ["a"], "cwd": "relative"}, "cwd must be an absolute path"),
                          ({"cwd": "C:\\"}, "args must not be empty")):
        write_json(spec, process)
        assert e2e.fails("exec", "-p", spec, "c1") == text
    write_json(spec, {"args": ["a"], "cwd": "C:\\", "env": ["NOVALUE"]})
    assert e2e.fails("exec", "-p", spec, "c1") == \
        "p.json: env[0]: must be NAME=VALUE (got \"NOVALUE\") [runtime-spec config.md \"Process\" env]"
    assert e2e.fails("exec", "-p", str(tmp_path / "absent.json"), "c1") == "absent.json not found"
    assert e2e.state("c1")["status"] == "running"


def test_an_hcs_failure_is_reported_with_the_operation_and_leaves_nothing(e2e: ProcessCli, tmp_path: Path) -> None:
    """F19 (hcsshim SystemError ``<op> <id>: <message>``): HcsCreateComputeSystem failing in the helper reaches
    create's user verbatim, and no record or compute system is left."""
    with e2e.service.control() as ctl:
        ctl.inject_fault("HcsCreateComputeSystem", 0x80370100)  # HCS_E_TERMINATED, in whichever client calls
    text = e2e.fails("create", "-b", bundle(tmp_path), "c1")
    assert text.startswith("hcs::CreateComputeSystem c1: "), text
    assert "HCS_E_TERMINATED" in text and "unknown shim failure" not in text
    assert e2e.list_json() == [] and e2e.nothing_left()
    with e2e.service.control() as ctl:
        ctl.inject_fault("HcsStartComputeSystem", 0x80370100)
    e2e.ok("create", "-b", bundle(tmp_path), "c2")
    text = e2e.fails("start", "c2")
    assert text.startswith("hcs::System::Start c2: "), text
    e2e.wait_status("c2", "stopped")  # runhcs terminates a system whose start failed


@linux_leg
def test_pod_annotations(e2e: ProcessCli, tmp_path: Path) -> None:
    """F16 (cmd/runhcs/container.go createContainer)."""
    sandbox = {"io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "pod1"}
    assert e2e.fails("create", "-b", bundle(tmp_path, "a", annotations=sandbox), "other") == \
        "sandbox ID must match ID"
    e2e.ok("create", "-b", bundle(tmp_path, "b"), "plain")
    member = {"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "plain"}
    assert e2e.fails("create", "-b", bundle(tmp_path, "c", annotations=member), "w1") == \
        "container plain is not a sandbox"


@linux_leg
def test_unsupported_isolation_is_a_clear_error(e2e: ProcessCli, tmp_path: Path) -> None:
    """Linux containers and LCOW disk commands: "not supported yet", saying what is. A Hyper-V bundle that has
    no utility VM image says what is missing (Hyper-V containers: tests/runhcs/test_e2e_hyperv.py)."""
    hyperv = bundle(tmp_path, "hv")
    with open(os.path.join(hyperv, "config.json")) as fh:
        config = json.load(fh)
    config["windows"]["hyperv"] = {}
    write_json(os.path.join(hyperv, "config.json"), config)
    assert e2e.fails("create", "-b", hyperv, "c1").startswith(
        "config.json: windows.layerFolders[2]: holds no sandbox.vhdx")
    open(os.path.join(hyperv, "scratch", "sandbox.vhdx"), "wb").close()
    assert e2e.fails("create", "-b", hyperv, "c1") == (
        "config.json: windows.layerFolders: no image layer holds a UtilityVM folder: a Hyper-V isolated container "
        "boots a utility VM from its base image's UtilityVM\\Files")
    linux = bundle(tmp_path, "lx")
    edit_config(linux, linux={})
    assert e2e.fails("create", "-b", linux, "c1").startswith(
        "config.json: linux: Linux containers (LCOW, a utility VM running a Linux guest) are not supported yet")
    assert e2e.fails("create", "--host", "vm1", "-b", bundle(tmp_path, "h"), "c1") == "ID 'vm1' was not found"
    assert e2e.fails("create-scratch") == "'destpath' is required"
    assert "not supported yet" in e2e.fails("create-scratch", "--destpath", "s.vhdx", "--sizeGB", "1")
    assert e2e.list_json() == []


@linux_leg
def test_start_without_a_process_is_refused_and_changes_nothing(e2e: ProcessCli, tmp_path: Path) -> None:
    """pyhcs's choice (runtime-spec config.md: process is REQUIRED when start is called; runtime.md start MUST
    error); runhcs starts the system and runs nothing (docs/cli.md, Differences)."""
    b = bundle(tmp_path)
    edit_config(b, process=None)
    e2e.ok("create", "-b", b, "c1")
    assert e2e.fails("start", "c1").startswith("cannot start a container without a process: ")
    assert e2e.state("c1")["status"] == "created"
    assert e2e.hcs_systems() == {"c1": "Created"}


@linux_leg
def test_errors_keep_stderr_to_one_line_even_for_many_problems(e2e: ProcessCli, tmp_path: Path) -> None:
    """One line on stderr (containerd logs it as one message); every problem of the bundle is in it."""
    b = bundle(tmp_path, root={"path": "rel", "readonly": True},
               process=dict(shell("x", "x"), cwd="relative", env=["A"]))
    text = e2e.fails("create", "-b", b, "c1")
    for where in ("root.readonly", "root.path", "process.cwd", "process.env[0]"):
        assert where in text, (where, text)
