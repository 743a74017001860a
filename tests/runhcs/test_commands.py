"""The runhcs commands against the in-process fake HCS, helpers in threads (see tests/runhcs/support.py).

Expected texts and codes: go-runhcs-contract.md (hcsshim cmd/runhcs, pkg/go-runhcs); OCI choices: docs/cli.md
"Differences". Every state printed is checked against the runtime-spec state schema (tests/runtime_spec)."""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Iterator

import pytest

from tests.runhcs.support import Cli, ThreadLauncher, make_bundle, shell
from tests.runtime_spec import errors as schema_errors
from tests.support import IS_WINDOWS, win_sleep

SLEEP = shell("sleep 60", win_sleep(60))
EXIT_3 = shell("exit 3", "cmd /c exit 3")


@pytest.fixture
def launcher() -> ThreadLauncher:
    return ThreadLauncher()


@pytest.fixture
def cli(tmp_path: Any, launcher: ThreadLauncher, fake: Any) -> Iterator[Cli]:
    runner = Cli(str(tmp_path / "root"), launcher)
    yield runner
    runner.cleanup()


def bundle_at(tmp_path: Any, name: str = "bundle", process: Any = None, **top: Any) -> str:
    path = str(tmp_path / name)
    os.makedirs(path, exist_ok=True)
    return make_bundle(path, process, **top)


def checked_state(cli: Cli, container_id: str) -> Dict[str, Any]:
    state = cli.state(container_id)
    if state["status"] != "paused":  # the one status the spec's text allows beyond the schema's enum
        assert schema_errors("state-schema.json", state) == [], state
    return state


def wait_status(cli: Cli, container_id: str, status: str, timeout: float = 30) -> Dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = checked_state(cli, container_id)
        if state["status"] == status or time.monotonic() > deadline:
            assert state["status"] == status, state
            return state
        time.sleep(0.05)


# -- create / state ---------------------------------------------------------------------------------------------------
def test_create_gives_a_created_container_whose_state_pid_is_the_pid_file(cli: Cli, tmp_path: Any) -> None:
    bundle = bundle_at(tmp_path, annotations={"org.example/x": "1"})
    pid_file = str(tmp_path / "c1.pid")
    result = cli.ok("create", "--bundle", bundle, "--pid-file", pid_file, "c1")
    assert result.out == b""
    state = checked_state(cli, "c1")
    assert state["status"] == "created" and state["id"] == "c1"
    assert state["bundle"] == bundle and os.path.isabs(state["bundle"])
    assert state["pid"] == int(open(pid_file, "rb").read())  # runtime-tools pidfile: state.pid == pid file
    assert state["ociVersion"] == "1.1.0" and state["owner"] == "runhcs"
    assert state["annotations"] == {"org.example/x": "1"}
    assert list(state) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "annotations", "owner"]


def test_state_is_indented_json_without_a_trailing_newline(cli: Cli, tmp_path: Any) -> None:
    cli.ok("create", "-b", bundle_at(tmp_path), "c1")
    out = cli.ok("state", "c1").out
    assert out.startswith(b'{\n  "ociVersion": "1.1.0",\n  "id": "c1",\n') and out.endswith(b"\n}")


def test_owner_flag_is_recorded(cli: Cli, tmp_path: Any) -> None:
    cli.ok("--owner", "containerd-runhcs-shim-v1", "create", "-b", bundle_at(tmp_path), "c1")
    assert cli.state("c1")["owner"] == "containerd-runhcs-shim-v1"


def test_create_twice_is_already_exists(cli: Cli, tmp_path: Any) -> None:
    bundle = bundle_at(tmp_path)
    cli.ok("create", "-b", bundle, "c1")
    assert cli.fails("create", "-b", bundle, "c1") == "container c1 already exists"


def test_create_without_an_id_is_invalid_usage(cli: Cli, tmp_path: Any) -> None:
    assert cli.fails("create", "-b", bundle_at(tmp_path)) == "invalid command usage"


def test_bundle_errors_reach_the_user_precisely(cli: Cli, tmp_path: Any) -> None:
    empty = str(tmp_path / "empty")
    os.makedirs(empty)
    assert cli.fails("create", "-b", empty, "c1") == "JSON specification file config.json not found"
    missing = cli.fails("create", "-b", str(tmp_path / "nope"), "c1")
    assert missing.startswith(f"chdir {tmp_path / 'nope'}: ")
    hyperv = bundle_at(tmp_path, "hv")
    config = json.load(open(os.path.join(hyperv, "config.json")))
    config["windows"]["hyperv"] = {}
    json.dump(config, open(os.path.join(hyperv, "config.json"), "w"))
    assert "windows.layerFolders[2]: holds no sandbox.vhdx" in cli.fails("create", "-b", hyperv, "c1")
    bad = bundle_at(tmp_path, "bad", root={"path": "C:\\not-a-volume"})
    text = cli.fails("create", "-b", bad, "c1")
    assert text.startswith("config.json: root.path: must be a volume GUID path")
    assert cli("list", "-q").out == b""  # nothing was recorded


def test_an_hcs_error_at_create_reaches_the_user_and_leaves_nothing(cli: Cli, tmp_path: Any, fake: Any) -> None:
    fake.inject_fault("HcsCreateComputeSystem", 0x80370100, count=1)  # HCS_E_TERMINATED
    text = cli.fails("create", "-b", bundle_at(tmp_path), "c1")
    assert text.startswith("hcs::CreateComputeSystem c1: ")
    assert "unknown shim failure" not in text
    assert cli("list", "-q").out == b""


def test_a_helper_that_dies_before_answering_is_an_unknown_shim_failure(cli: Cli, tmp_path: Any,
                                                                        launcher: ThreadLauncher) -> None:
    def broken(handshake: Any, stdio: Any) -> int:
        handshake.close()
        return 7

    launcher.run_shim = broken
    assert cli.fails("create", "-b", bundle_at(tmp_path), "c1") == "unknown shim failure, exit code 7"
    assert cli("list", "-q").out == b""


# -- start / run ------------------------------------------------------------------------------------------------------
def test_start_runs_the_process_and_relays_its_output(cli: Cli, tmp_path: Any, launcher: ThreadLauncher) -> None:
    cli.ok("create", "-b", bundle_at(tmp_path), "c1")
    cli.ok("start", "c1")
    helper = launcher.helpers[-1]
    assert helper.wait(30) == 0
    assert helper.stdout.replace(b"\r\n", b"\n") == b"hello\n"
    state = wait_status(cli, "c1", "stopped")
    assert state["pid"] == 0  # runhcs: the helper's pid is 0 once it exited


def test_start_twice_and_start_after_stop(cli: Cli, tmp_path: Any, launcher: ThreadLauncher) -> None:
    cli.ok("create", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    cli.ok("start", "c1")
    assert checked_state(cli, "c1")["status"] == "running"
    assert cli.fails("start", "c1") == "cannot start an already running container"
    cli.ok("kill", "c1", "KILL")
    wait_status(cli, "c1", "stopped")
    assert cli.fails("start", "c1") == "cannot start a container that has stopped"


def test_start_of_a_paused_container_names_the_state(cli: Cli, tmp_path: Any) -> None:
    cli.ok("create", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    cli.ok("start", "c1")
    cli.ok("pause", "c1")
    assert cli.fails("start", "c1") == "cannot start a container in the 'paused' state"
    cli.ok("resume", "c1")


def test_start_without_a_process_is_an_error_and_changes_nothing(cli: Cli, tmp_path: Any) -> None:
    bundle = bundle_at(tmp_path)
    config = json.load(open(os.path.join(bundle, "config.json")))
    del config["process"]
    json.dump(config, open(os.path.join(bundle, "config.json"), "w"))
    cli.ok("create", "-b", bundle, "c1")
    assert "cannot start a container without a process" in cli.fails("start", "c1")
    assert checked_state(cli, "c1")["status"] == "created"


def test_start_of_an_unknown_container(cli: Cli) -> None:
    assert cli.fails("start", "nope") == "ID 'nope' was not found"


def test_run_waits_deletes_and_exits_with_the_process_exit_code(cli: Cli, tmp_path: Any) -> None:
    result = cli("run", "-b", bundle_at(tmp_path, process=EXIT_3), "c1")
    assert (result.code, result.out, result.err) == (3, b"", b"")
    assert cli.fails("state", "c1") == "ID 'c1' was not found"


def test_run_detached_returns_at_once(cli: Cli, tmp_path: Any) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    assert checked_state(cli, "c1")["status"] == "running"


# -- kill -------------------------------------------------------------------------------------------------------------
def test_kill_of_a_created_container_stops_it(cli: Cli, tmp_path: Any) -> None:
    cli.ok("create", "-b", bundle_at(tmp_path), "c1")
    cli.ok("kill", "c1", "KILL")  # OCI (runtime-tools kill): a created container can be killed; runhcs refuses
    wait_status(cli, "c1", "stopped")
    cli.ok("delete", "c1")


@pytest.mark.parametrize("signal", ["KILL", "9", "TERM", "CtrlC", ""])
def test_kill_stops_a_running_container(cli: Cli, tmp_path: Any, signal: str) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    cli.ok("kill", "c1", signal)
    wait_status(cli, "c1", "stopped")


def test_kill_with_a_sig_prefixed_name_is_invalid(cli: Cli, tmp_path: Any) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    assert cli.fails("kill", "c1", "SIGKILL") == "invalid signal value"
    assert checked_state(cli, "c1")["status"] == "running"


def test_kill_of_a_stopped_container_fails_and_changes_nothing(cli: Cli, tmp_path: Any,
                                                              launcher: ThreadLauncher) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path), "c1")
    launcher.helpers[-1].wait(30)
    before = wait_status(cli, "c1", "stopped")
    assert cli.fails("kill", "c1", "KILL") == "container is stopped"
    assert checked_state(cli, "c1") == before  # runtime-tools kill_no_effect


def test_kill_of_an_unknown_container(cli: Cli) -> None:
    assert cli.fails("kill", "nope", "KILL") == "ID 'nope' was not found"


# -- delete -----------------------------------------------------------------------------------------------------------
def test_delete_of_a_running_container_needs_force(cli: Cli, tmp_path: Any) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    assert cli.fails("delete", "c1") == "cannot delete container c1 that is not stopped: running"
    assert checked_state(cli, "c1")["status"] == "running"  # no effect
    cli.ok("delete", "--force", "c1")
    assert cli.fails("state", "c1") == "ID 'c1' was not found"


def test_delete_of_a_created_container_succeeds_without_force(cli: Cli, tmp_path: Any) -> None:
    cli.ok("create", "-b", bundle_at(tmp_path), "c1")
    cli.ok("delete", "c1")  # runhcs and runc: killed, then removed
    assert cli.fails("state", "c1") == "ID 'c1' was not found"


def test_delete_of_an_unknown_container_fails_even_with_force(cli: Cli) -> None:
    assert cli.fails("delete", "--force", "nope") == "ID 'nope' was not found"


def test_delete_flag_after_the_id_is_reordered(cli: Cli, tmp_path: Any) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    cli.ok("delete", "c1", "-f")


# -- a helper that died -----------------------------------------------------------------------------------------------
def test_a_dead_helper_means_stopped_and_delete_cleans_up_the_system(cli: Cli, tmp_path: Any,
                                                                   launcher: ThreadLauncher) -> None:
    import pyhcs

    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    launcher.declare_dead(launcher.helpers[-1])
    state = checked_state(cli, "c1")
    assert (state["status"], state["pid"]) == ("stopped", 0)
    assert cli.fails("kill", "c1", "KILL") == "container is stopped"
    cli.ok("delete", "c1")  # stopped: no --force needed; the orphaned compute system is terminated
    try:
        system = pyhcs.ComputeSystem.open("c1")
    except pyhcs.HcsNotFoundError:
        return  # already forgotten: the helper's handle, the last one, is closed
    with system:  # HCS keeps a stopped system until its last handle closes (the helper thread's, here)
        assert system.wait(30)["ExitType"] in ("ForcedExit", "GracefulExit")


# -- pause / resume / ps / resize-tty --------------------------------------------------------------------------------
def test_pause_and_resume(cli: Cli, tmp_path: Any) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    cli.ok("pause", "c1")
    assert cli.state("c1")["status"] == "paused"
    cli.ok("resume", "c1")
    assert checked_state(cli, "c1")["status"] == "running"


def test_pause_of_a_created_container_is_an_hcs_error(cli: Cli, tmp_path: Any) -> None:
    cli.ok("create", "-b", bundle_at(tmp_path), "c1")
    assert cli.fails("pause", "c1").startswith("hcs::System::Pause c1: ")


@pytest.mark.parametrize("command", ["pause", "resume", "ps"])
def test_commands_on_a_stopped_container(cli: Cli, tmp_path: Any, launcher: ThreadLauncher, command: str) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path), "c1")
    launcher.helpers[-1].wait(30)
    wait_status(cli, "c1", "stopped")
    assert cli.fails(command, "c1") == "container is stopped"


def test_a_stopped_system_whose_helper_still_runs_is_stopped_for_every_command(cli: Cli, tmp_path: Any,
                                                                                 launcher: ThreadLauncher) -> None:
    """HCS reports the system Stopped before its helper has recorded the stop and exited: ``state`` says
    ``stopped`` (with the helper's pid, runhcs's ContainerState.pid) and ps and resize-tty say ``container is
    stopped``, as they do once the helper has gone (docs/cli.md "Differences": runhcs prints HCS's error here)."""
    import pyhcs
    from pyhcs.runhcs.state import Store

    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    helper = launcher.helpers[-1]
    with Store(cli.root).locked("c1"):  # the helper waits for this lock to record the stop
        with pyhcs.ComputeSystem.open("c1", exit_action="leave") as system:
            system.terminate()
            system.wait(30)
        state = checked_state(cli, "c1")
        assert state["status"] == "stopped" and state["pid"] != 0, state
        assert helper.thread.is_alive()  # blocked on the lock
        assert cli.fails("ps", "c1") == "container is stopped"
        assert cli.fails("resize-tty", "c1", "80", "25") == "container is stopped"
    helper.wait(30)
    assert wait_status(cli, "c1", "stopped")["pid"] == 0
    for command in ("ps", "pause", "resume", "kill"):
        assert cli.fails(command, "c1") == "container is stopped", command


def test_ps_lists_process_ids_as_json(cli: Cli, tmp_path: Any) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    out = cli.ok("ps", "--format=json", "c1").out
    assert out.endswith(b"\n") and not out.endswith(b"\n\n")
    pids = json.loads(out)
    assert isinstance(pids, list) and pids and all(isinstance(p, int) for p in pids)
    assert cli.fails("ps", "--format", "table", "c1") == "invalid format option"


def test_ps_of_a_created_container_is_null(cli: Cli, tmp_path: Any) -> None:
    cli.ok("create", "-b", bundle_at(tmp_path), "c1")
    assert cli.ok("ps", "c1").out == b"null\n"


def test_resize_tty_of_a_terminal_process(cli: Cli, tmp_path: Any) -> None:
    if IS_WINDOWS:
        pytest.skip("the Windows fake has no pseudo console")
    process = dict(SLEEP, terminal=True, consoleSize={"height": 24, "width": 80})
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=process), "c1")
    cli.ok("resize-tty", "c1", "100", "40")
    assert cli.fails("resize-tty", "c1", "0", "40") == "invalid command usage"
    assert cli.fails("resize-tty", "--pid", "12345", "c1", "10", "10") == \
        "state 'pid-12345' is not present for ID 'c1'"


def test_resize_tty_of_a_process_without_terminal_is_an_hcs_error(cli: Cli, tmp_path: Any) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    assert cli.fails("resize-tty", "c1", "100", "40").startswith("hcs::Process::ResizeConsole c1:")


# -- exec -------------------------------------------------------------------------------------------------------------
def test_exec_with_a_command_line_exits_with_its_code(cli: Cli, tmp_path: Any, launcher: ThreadLauncher) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    if IS_WINDOWS:
        result = cli("exec", "c1", "cmd", "/c", "exit 4")
    else:
        result = cli("exec", "c1", "sh", "-c", "echo out; exit 4")
        assert launcher.helpers[-1].stdout == b"out\n"
    assert (result.code, result.out, result.err) == (4, b"", b"")


def test_exec_with_a_process_file_and_a_pid_file(cli: Cli, tmp_path: Any, launcher: ThreadLauncher) -> None:
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    spec = str(tmp_path / "process.json")
    json.dump(shell("exit 5", "cmd /c exit 5"), open(spec, "w"))
    pid_file = str(tmp_path / "exec.pid")
    cli.ok("exec", "--detach", "--process", spec, "--pid-file", pid_file, "c1")
    helper = launcher.helpers[-1]
    assert int(open(pid_file).read()) == helper.pid
    assert helper.wait(30) == 5


def test_exec_errors_use_runhcs_words(cli: Cli, tmp_path: Any) -> None:
    cli.ok("create", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    assert cli.fails("exec", "c1", "x") == "container is stopped"  # created is not running
    cli.ok("start", "c1")
    assert cli.fails("exec", "c1") == "process args cannot be empty"
    spec = str(tmp_path / "p.json")
    for process, text in (({"args": ["a"]}, "cwd property must not be empty"),
                          ({"args": ["a"], "cwd": "rel"}, "cwd must be an absolute path"),
                          ({"cwd": "C:\\"}, "args must not be empty")):
        json.dump(process, open(spec, "w"))
        assert cli.fails("exec", "-p", spec, "c1") == text
    json.dump({"args": ["a"], "cwd": "C:\\", "env": ["bad"]}, open(spec, "w"))
    assert cli.fails("exec", "-p", spec, "c1").startswith("p.json: env[0]: must be NAME=VALUE")
    assert cli.fails("exec", "nope", "x") == "ID 'nope' was not found"


def test_exec_flags_after_the_id_belong_to_the_command(cli: Cli, tmp_path: Any, launcher: ThreadLauncher) -> None:
    if IS_WINDOWS:
        pytest.skip("uses sh")
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, process=SLEEP), "c1")
    result = cli("exec", "c1", "sh", "-c", "exit 6", "-d")  # -d is sh's argument, not --detach
    assert result.code == 6  # waited for the process: not detached


# -- list -------------------------------------------------------------------------------------------------------------
def test_list_formats(cli: Cli, tmp_path: Any) -> None:
    assert cli.ok("list", "--format=json").out == b"null\n"
    cli.ok("create", "-b", bundle_at(tmp_path, "b1"), "c1")
    cli.ok("run", "-d", "-b", bundle_at(tmp_path, "b2", process=SLEEP), "c2")
    states = cli.ok("list", "--format=json").json
    assert [s["id"] for s in states] == ["c1", "c2"]
    assert [s["status"] for s in states] == ["created", "running"]
    for state in states:
        assert schema_errors("state-schema.json", state) == []
    assert b"\n" not in cli.ok("list", "--format=json").out[:-1]  # compact, one newline
    assert cli.ok("list", "-q").out == b"c1\nc2\n"
    table = cli.ok("list").out.decode().splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert table[1].split()[0] == "c1" and table[2].split()[2] == "running"
    assert cli.fails("list", "--format=yaml") == "invalid format option"
    assert cli.fails("list", "extra") == "invalid command usage"


# -- global behaviour -------------------------------------------------------------------------------------------------
def test_unknown_command_exits_3(cli: Cli) -> None:
    assert cli.fails("frobnicate", code=3) == "No help topic for 'frobnicate'"


def test_unknown_flag_prints_usage_on_stdout_and_the_error_on_stderr(cli: Cli) -> None:
    result = cli("state", "-x", "c1")
    assert result.code == 1 and result.err == b"flag provided but not defined: -x\n"
    assert result.out.startswith(b"Incorrect Usage: flag provided but not defined: -x\n\nNAME:\n   runhcs state")


def test_unknown_global_flag(cli: Cli) -> None:
    result = cli("--nope", "list")
    assert result.code == 1 and result.err == b"flag provided but not defined: -nope\n"
    assert result.out.startswith(b"Incorrect Usage. flag provided but not defined: -nope\n\nNAME:")


def test_unknown_log_format(cli: Cli) -> None:
    assert cli.fails("--log-format", "xml", "list") == 'unknown log-format "xml"'


def test_version_and_help(cli: Cli) -> None:
    assert cli.ok("--version").out.startswith(b"runhcs version ")
    assert b"COMMANDS:" in cli.ok("--help").out and b"shim" not in cli.ok("--help").out
    assert cli.ok("help", "kill").out.startswith(b"NAME:\n   runhcs kill - ")
    assert cli.ok("delete", "--help").out.startswith(b"NAME:\n   runhcs delete")


def test_log_file_gets_logrus_json_lines(cli: Cli, tmp_path: Any) -> None:
    log = str(tmp_path / "runhcs.log")
    cli.fails("--log", log, "--log-format", "json", "state", "nope")
    line = json.loads(open(log).read().splitlines()[-1])
    assert line["level"] == "error" and line["msg"] == "ID 'nope' was not found" and "time" in line


def test_create_scratch_is_lcow_only(cli: Cli) -> None:
    assert cli.fails("create-scratch") == "'destpath' is required"
    assert "not supported yet" in cli.fails("create-scratch", "--destpath", "x.vhdx", "--sizeGB", "5")


# -- pods, shared networks, gMSA ---------------------------------------------------------------------------------------
def test_pod_annotations_are_checked_as_runhcs_does(cli: Cli, tmp_path: Any) -> None:
    sandbox = {"io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "pod1"}
    assert cli.fails("create", "-b", bundle_at(tmp_path, "a", annotations=sandbox), "other") == \
        "sandbox ID must match ID"
    cli.ok("create", "-b", bundle_at(tmp_path, "b"), "plain")
    member = {"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "plain"}
    assert cli.fails("create", "-b", bundle_at(tmp_path, "c", annotations=member), "w1") == \
        "container plain is not a sandbox"
    member["io.kubernetes.cri.sandbox-id"] = "missing"
    assert cli.fails("create", "-b", bundle_at(tmp_path, "d", annotations=member), "w2") == \
        "ID 'missing' was not found"
    cli.ok("create", "-b", bundle_at(tmp_path, "e", annotations=sandbox), "pod1")
    member["io.kubernetes.cri.sandbox-id"] = "pod1"
    cli.ok("create", "-b", bundle_at(tmp_path, "f", annotations=member), "w3")


def test_a_shared_network_container_lends_its_namespace(cli: Cli, tmp_path: Any) -> None:
    from pyhcs.runhcs.state import Store

    ns = "168f3daf-efc6-4377-b20a-2c86764ba892"
    layers = ["layer-top", "layer-base", "scratch"]

    def windows(network: Dict[str, Any], name: str) -> Dict[str, Any]:
        return {"layerFolders": [str(tmp_path / name / layer) for layer in layers], "network": network}

    cli.ok("create", "-b", bundle_at(tmp_path, "n1", windows=windows({"networkNamespace": ns}, "n1")), "net")
    cli.ok("create", "-b", bundle_at(tmp_path, "n2", windows=windows({"networkSharedContainerName": "net"}, "n2")),
           "joiner")
    assert Store(cli.root).load("joiner")["netns"] == ns


def test_a_credential_spec_gets_a_credential_guard_instance_for_the_container_s_life(cli: Cli, tmp_path: Any,
                                                                                    fake: Any) -> None:
    """hcsshim internal/credentials CreateCredentialGuard: AddInstance through HcsModifyServiceSettings, then the
    instance's state found by container id among the ContainerCredentialGuard service properties (and put in the
    container's document); the instance is removed when the container goes."""
    import pyhcs

    def instances() -> list:
        (info,) = pyhcs.get_service_properties(["ContainerCredentialGuard"])["Properties"]
        info = json.loads(info) if isinstance(info, str) else info
        return [i["Id"] for i in info.get("Instances") or []]

    bundle = bundle_at(tmp_path)
    config = json.load(open(os.path.join(bundle, "config.json")))
    config["windows"]["credentialSpec"] = '{"CmsPlugins":["ActiveDirectory"]}'
    json.dump(config, open(os.path.join(bundle, "config.json"), "w"))
    cli.ok("create", "-b", bundle, "c1")
    assert instances() == ["c1"]
    cli.ok("delete", "c1")
    cli.launcher.helpers[-1].wait(30)
    assert instances() == []
    fake.inject_fault("HcsModifyServiceSettings", 0x80070005)  # E_ACCESSDENIED
    text = cli.fails("create", "-b", bundle, "c2")
    assert text.startswith("failed to generate container credential guard instance: "), text
    assert cli("list", "-q").out == b"" and instances() == []
