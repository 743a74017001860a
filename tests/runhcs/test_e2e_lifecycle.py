"""A container's whole life through the CLI, every command its own process and every helper a detached process,
all clients of one fake HCS service (tests/runhcs/e2e.py).

Expected behaviour: go-runhcs-contract.md (hcsshim cmd/runhcs, pkg/go-runhcs) -- outputs byte for byte, the pid
file equal to ``state.pid`` (runtime-tools pidfile), ``run``/``exec`` exiting with the process's code; every
``state`` is checked against the runtime-spec state schema (tests/runtime_spec), and the deliberate differences
are docs/cli.md's "Differences".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runhcs.e2e import ProcessCli, exits_with, linux_leg, read_text, script_path, shell, sleeper, write_json
from tests.runhcs.support import make_bundle
from tests.support import IS_WINDOWS, win_sleep

pytestmark = pytest.mark.timeout(300)


def bundle(tmp_path: Path, name: str, process: object = None, **top: object) -> str:
    path = tmp_path / name
    path.mkdir(exist_ok=True)
    return make_bundle(str(path), process, **top)  # type: ignore[arg-type]


def crlf(data: bytes) -> bytes:
    """Output with Windows line ends made POSIX (cmd writes \\r\\n)."""
    return data.replace(b"\r\n", b"\n")


def test_create_start_pause_resume_kill_delete_each_a_separate_process(e2e: ProcessCli, tmp_path: Path) -> None:
    """The whole lifecycle; the commands take turns between the two entry points, the ``runhcs`` console script
    and ``python -m pyhcs.runhcs``, which therefore share one state store (the Windows embeddable Python of the
    Wine leg has no console-script launcher: there every command is ``python.exe -m pyhcs.runhcs``)."""
    if script_path() is not None:
        e2e.entry = "both"
    process = shell("echo started; sleep 60", win_sleep(60, before="started"))
    b = bundle(tmp_path, "b", process, annotations={"org.example.team": "cli"})
    pid_file = str(tmp_path / "c1.pid")

    # create -> created; the pid file holds the helper's pid, without a newline (runhcs createPidFile)
    created = e2e.ok("create", "--bundle", b, "--pid-file", pid_file, "c1")
    assert created.out == b""
    with open(pid_file, "rb") as fh:
        pid_text = fh.read()
    assert pid_text.isdigit(), pid_text
    state = e2e.state("c1")
    assert state == {"ociVersion": "1.1.0", "id": "c1", "pid": int(pid_text), "status": "created", "bundle": b,
                     "rootfs": state["rootfs"], "created": state["created"],
                     "annotations": {"org.example.team": "cli"}, "owner": "runhcs"}
    assert list(state) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "annotations",
                           "owner"]
    assert state["rootfs"].startswith("\\\\?\\Volume{")
    assert e2e.hcs_systems() == {"c1": "Created"}  # the compute system exists, not started (runhcs create)
    assert e2e.ok("ps", "--format=json", "c1").out == b"null\n"  # nothing runs before start

    # start -> running
    assert e2e.ok("start", "c1").out == b""
    assert e2e.wait_status("c1", "running")["pid"] == int(pid_text)
    pids = json.loads(e2e.ok("ps", "--format=json", "c1").out)
    assert len(pids) >= 1 and all(isinstance(p, int) for p in pids)
    listed = e2e.list_json()
    assert [(s["id"], s["status"], s["pid"]) for s in listed] == [("c1", "running", int(pid_text))]

    # pause -> paused (the one status beyond the schema's enum); start refuses, with the state's name
    e2e.ok("pause", "c1")
    assert e2e.state("c1")["status"] == "paused"
    assert e2e.hcs_systems() == {"c1": "Paused"}
    assert e2e.fails("start", "c1") == "cannot start a container in the 'paused' state"
    assert e2e.fails("delete", "c1") == "cannot delete container c1 that is not stopped: paused"
    # resume -> running
    e2e.ok("resume", "c1")
    assert e2e.state("c1")["status"] == "running"
    assert e2e.fails("start", "c1") == "cannot start an already running container"

    # kill -> stopped: a kill that terminates returns once the container is stopped (docs/cli.md); once the
    # helper has gone, pid is 0 (runhcs); a second kill changes nothing
    e2e.ok("kill", "c1", "KILL")
    assert e2e.state("c1")["status"] == "stopped"
    assert e2e.wait_for_no_clients() == []
    stopped = e2e.wait_status("c1", "stopped", pid=0)  # the helper's connection closes a moment before it is gone
    assert e2e.fails("kill", "c1", "KILL") == "container is stopped"
    assert e2e.fails("start", "c1") == "cannot start a container that has stopped"
    assert e2e.state("c1") == stopped

    # the container's stdout was create's own stdout, kept by the helper after create exited
    e2e.wait_for_no_clients()
    assert crlf(created.output_now()) == b"started\n"

    # delete -> gone, from the state store and from HCS
    e2e.ok("delete", "c1")
    assert e2e.fails("state", "c1") == "ID 'c1' was not found"
    assert e2e.ok("list", "--format=json").out == b"null\n"
    assert e2e.nothing_left()


def test_run_without_detach_relays_output_deletes_and_exits_with_the_process_code(e2e: ProcessCli,
                                                                                   tmp_path: Path) -> None:
    """runhcs run.go: create + start, wait for the helper, remove the container, exit with its code."""
    done = e2e("run", "-b", bundle(tmp_path, "b", exits_with(3, "hello")), "r1")
    assert (done.code, crlf(done.out), done.err) == (3, b"hello\n", b"")
    assert e2e.fails("state", "r1") == "ID 'r1' was not found"
    assert e2e.nothing_left()
    done = e2e("run", "-b", bundle(tmp_path, "b0", exits_with(0)), "r0")
    assert (done.code, done.err) == (0, b"")


def test_run_detached_returns_with_the_container_running(e2e: ProcessCli, tmp_path: Path) -> None:
    pid_file = str(tmp_path / "pid")
    e2e.ok("run", "-d", "--pid-file", pid_file, "-b", bundle(tmp_path, "b", sleeper()), "d1")
    state = e2e.state("d1")
    assert state["status"] == "running" and state["pid"] == int(read_text(pid_file))
    e2e.ok("kill", "d1", "")  # go-runhcs always sends the signal argument, empty for the default (CtrlShutdown)
    e2e.wait_status("d1", "stopped", pid=0)
    e2e.ok("delete", "d1")


def test_exec_with_a_command_line_and_with_a_process_file(e2e: ProcessCli, tmp_path: Path) -> None:
    """runhcs exec.go: a command line (the container's process with new args) or -p process.json; without
    --detach the CLI exits with the process's code; --pid-file holds the exec helper's pid."""
    e2e.ok("run", "-d", "-b", bundle(tmp_path, "b", sleeper()), "x1")
    if IS_WINDOWS:
        done = e2e("exec", "x1", "cmd", "/c", "echo from exec& exit 4")
    else:
        done = e2e("exec", "x1", "sh", "-c", "echo from exec; exit 4", "-d")  # trailing -d is sh's, not --detach
    assert (done.code, crlf(done.out), done.err) == (4, b"from exec\n", b"")

    spec = write_json(str(tmp_path / "process.json"), exits_with(5, "from file"))
    done = e2e("exec", "--process", spec, "x1")
    assert (done.code, crlf(done.out), done.err) == (5, b"from file\n", b"")

    pid_file = str(tmp_path / "exec.pid")
    e2e.ok("exec", "-p", spec, "--detach", "--pid-file", pid_file, "x1")
    text = read_text(pid_file)
    assert text.isdigit() and int(text) != e2e.state("x1")["pid"]  # the exec helper, not the init helper

    e2e.ok("kill", "x1", "KILL")
    e2e.wait_status("x1", "stopped")
    assert e2e.fails("exec", "x1", "whatever") == "container is stopped"
    e2e.ok("delete", "x1")


def test_state_and_list_of_several_containers(e2e: ProcessCli, tmp_path: Path) -> None:
    """list: every container of the root, each a runhcs ContainerState; table, json and -q."""
    assert e2e.ok("list", "--format=json").out == b"null\n"
    assert e2e.ok("list").out.split() == [b"ID", b"PID", b"STATUS", b"BUNDLE", b"CREATED", b"OWNER"]
    e2e.ok("create", "-b", bundle(tmp_path, "b1"), "a")
    e2e.ok("--owner", "containerd-runhcs-shim-v1", "run", "-d", "-b", bundle(tmp_path, "b2", sleeper()), "b")
    states = e2e.list_json()
    assert [(s["id"], s["status"], s["owner"]) for s in states] == [("a", "created", "runhcs"),
                                                                   ("b", "running", "containerd-runhcs-shim-v1")]
    assert states == [e2e.state("a"), e2e.state("b")]
    assert e2e.ok("list", "-q").out == b"a\nb\n"
    table = e2e.ok("list").out.decode().splitlines()
    assert [row.split()[:3] for row in table[1:]] == [["a", str(states[0]["pid"]), "created"],
                                                      ["b", str(states[1]["pid"]), "running"]]
    assert table[0].index("PID") == 12  # text/tabwriter: minwidth 12, padding 3


def test_the_helper_log_goes_to_shim_log(e2e: ProcessCli, tmp_path: Path) -> None:
    """--shim-log (go-runhcs CreateOpts.ShimLog): the helper's log, in --log-format."""
    log = str(tmp_path / "shim.log")
    e2e.ok("--debug", "--log-format", "json", "run", "-d", "--shim-log", log, "-b",
           bundle(tmp_path, "b", sleeper()), "l1")
    e2e.ok("kill", "l1", "KILL")
    e2e.wait_status("l1", "stopped")
    e2e.ok("delete", "l1")
    e2e.wait_for_no_clients()
    lines = [json.loads(line) for line in read_text(log).splitlines()]
    assert lines and all({"level", "msg", "time"} <= set(line) for line in lines), lines
    assert any("helper for l1" in line["msg"] for line in lines), lines


def test_a_relative_bundle_and_pid_file_are_taken_from_the_working_directory(e2e: ProcessCli,
                                                                            tmp_path: Path) -> None:
    """go-runhcs passes the bundle as given and the pid file made absolute; runhcs resolves the bundle against
    its working directory and reports it absolute."""
    b = bundle(tmp_path, "rel")
    e2e.ok("create", "--bundle", "rel", "--pid-file", "rel.pid", "r1", cwd=str(tmp_path))
    state = e2e.state("r1")
    assert state["bundle"] == b and os.path.isabs(state["bundle"])
    assert int(read_text(str(tmp_path / "rel.pid"))) == state["pid"]
    e2e.ok("delete", "r1")  # a created container: deleted without --force (runhcs; docs/cli.md)


@pytest.mark.skipif(IS_WINDOWS, reason="a pseudo terminal (pty) is POSIX")
def test_state_ends_its_line_on_a_terminal_only(e2e: ProcessCli, tmp_path: Path) -> None:
    """Piped, ``state`` is runhcs's bytes (no newline: go-runhcs and scripts); on a terminal it ends the line, so
    the prompt does not follow the closing brace (docs/cli.md, Differences)."""
    import pty

    e2e.ok("create", "-b", bundle(tmp_path, "b"), "t1")
    assert e2e.ok("state", "t1").out.endswith(b"\n}")
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(e2e.argv("state", "t1"), env=e2e.env, stdin=subprocess.DEVNULL, stdout=slave,
                              stderr=subprocess.PIPE, timeout=60)
        os.close(slave)
        data = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side has closed
                break
            if not chunk:
                break
            data += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0 and proc.stderr == b""
    assert data.endswith(b"}\r\n")  # the terminal turns \n into \r\n
    e2e.ok("delete", "t1")


def test_stdin_from_a_pipe_reaches_the_container(e2e: ProcessCli, tmp_path: Path) -> None:
    """go-runhcs's IO: create's stdin is relayed to the container's process by the helper after create exits;
    closing it ends the process's input (hcsshim CloseStdin)."""
    b = bundle(tmp_path, "b", shell("cat", "cmd /c more"))  # Wine's findstr ignores its stdin; its more copies it
    read_end, write_end = os.pipe()
    try:
        e2e.ok("create", "-b", b, "s1", stdin=read_end)
        os.close(read_end)
        read_end = -1
        e2e.ok("start", "s1")
        os.write(write_end, b"nothing\nhello there\n")
        os.close(write_end)
        write_end = -1
        e2e.wait_status("s1", "stopped")
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)
    e2e.wait_for_no_clients()
    assert crlf(e2e.history[0].output_now()) == b"nothing\nhello there\n"
    e2e.ok("delete", "s1")


@pytest.mark.skipif(IS_WINDOWS, reason="a pseudo terminal (pty) is POSIX")
def test_a_detached_container_leaves_the_terminal_s_input_to_the_shell(e2e: ProcessCli, tmp_path: Path) -> None:
    """Choice (docs/cli.md): after run -d (or create, exec -d) from a terminal, the helper does not read the
    terminal -- runhcs's shim would, and take keystrokes meant for the shell."""
    import pty
    import select

    master, slave = pty.openpty()
    try:
        e2e.ok("run", "-d", "-b", bundle(tmp_path, "b", sleeper()), "t1", stdin=slave)
        os.write(master, b"typed into the shell\n")
        ready, _, _ = select.select([slave], [], [], 5)
        os.set_blocking(slave, False)  # a helper reading it too could take the line between select and read
        try:
            line = os.read(slave, 100) if ready else b""
        except BlockingIOError:
            line = b""
        assert line == b"typed into the shell\n", "the helper took the terminal's input"
    finally:
        os.close(master)
        os.close(slave)
    e2e.ok("delete", "--force", "t1")


def test_a_root_name_lives_in_the_platform_s_default_location(e2e: ProcessCli, tmp_path: Path) -> None:
    """--root is a name under the platform's location (runhcs: a registry key under HKLM\\SOFTWARE\\Microsoft\\runhcs)
    or a path: Windows %ProgramData%\\pyhcs\\runhcs\\<name>; Linux /run/pyhcs/runhcs/<name> as root, else
    $XDG_RUNTIME_DIR/pyhcs/runhcs/<name> (docs/cli.md, State). Without --root the name is "default"."""
    import shutil
    import uuid

    from pyhcs.runhcs.state import encode_id

    name = f"pyhcs-test-{uuid.uuid4().hex[:12]}"
    as_root = not IS_WINDOWS and os.geteuid() == 0
    env = {"ProgramData": str(tmp_path)} if IS_WINDOWS else {"XDG_RUNTIME_DIR": str(tmp_path)}
    base = "/run/pyhcs/runhcs" if as_root else os.path.join(str(tmp_path), "pyhcs", "runhcs")
    b = bundle(tmp_path, "b")
    try:
        e2e.ok("--root", name, "create", "-b", b, "n1", root=False, env=env)
        assert os.path.isfile(os.path.join(base, name, encode_id("n1") + ".json"))
        assert e2e.ok("--root", name, "state", "n1", root=False, env=env).json["status"] == "created"
        assert e2e.fails("state", "n1") == "ID 'n1' was not found"  # another root: another namespace
        e2e.ok("--root", name, "delete", "n1", root=False, env=env)
        if not as_root:  # the default root of a root user is machine-wide: leave it alone
            e2e.ok("create", "-b", b, "n2", root=False, env=env)
            assert os.path.isfile(os.path.join(base, "default", encode_id("n2") + ".json"))
            e2e.ok("delete", "n2", root=False, env=env)
    finally:
        shutil.rmtree(os.path.join(base, name), ignore_errors=True)


@linux_leg
def test_a_credential_spec_gets_a_credential_guard_instance_visible_to_every_client(e2e: ProcessCli,
                                                                                     tmp_path: Path) -> None:
    """gMSA: the helper adds a Container Credential Guard instance (HcsModifyServiceSettings), finds its state in
    the ContainerCredentialGuard service property and puts it in the container's document (hcsshim
    internal/credentials); the instance is host-wide -- another process sees it -- and goes with the container."""
    b = bundle(tmp_path, "b", sleeper())
    with open(os.path.join(b, "config.json")) as fh:
        config = json.load(fh)
    config["windows"]["credentialSpec"] = '{"CmsPlugins":["ActiveDirectory"]}'
    write_json(os.path.join(b, "config.json"), config)
    code = ("import json, pyhcs; (info,) = pyhcs.get_service_properties(['ContainerCredentialGuard'])['Properties'];"
            "info = json.loads(info) if isinstance(info, str) else info;"
            "print(json.dumps([i['Id'] for i in info.get('Instances') or []]))")

    def instances() -> list:
        proc = subprocess.run([sys.executable, "-c", code], env=e2e.env, capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    e2e.ok("run", "-d", "-b", b, "g1")
    assert instances() == ["g1"]
    e2e.ok("delete", "--force", "g1")
    assert e2e.nothing_left() and instances() == []
