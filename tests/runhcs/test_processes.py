"""The CLI as real processes: every command its own process, the helper detached with create's stdio and inherited
handshake handles, commands racing and killed with SIGKILL (TerminateProcess on Windows).

Until the fake HCS runs as a shared service, each process has its own in-process fake, so a compute system a
helper creates is invisible to the other commands. These tests therefore check only what holds either way: exit
codes and texts, the state store, pid files, helper lifetimes, and states of containers whose helper is gone.
The full lifecycle across processes needs the service and is tested with it."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from typing import Any, List, Optional, Tuple

import pytest

from pyhcs.runhcs.channel import Channel
from pyhcs.runhcs.platform import process_alive, process_token
from pyhcs.runhcs.shim import ShimJob, new_authkey
from pyhcs.runhcs.state import Store
from tests.runhcs.support import make_bundle
from tests.runtime_spec import errors as schema_errors
from tests.support import IS_WINDOWS

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src"))
TIMEOUT = 120


def env() -> dict:
    return dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))


def runhcs(root: str, *argv: str, timeout: float = TIMEOUT) -> "subprocess.CompletedProcess[bytes]":
    return subprocess.run([sys.executable, "-m", "pyhcs.runhcs", "--root", root, *argv], env=env(),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def wait_gone(pid: int, token: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid, token):
            return True
        time.sleep(0.05)
    return False


def kill_pid(pid: int) -> None:
    if IS_WINDOWS:
        subprocess.run(["taskkill", "/F", "/PID", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


# -- go-runhcs's ready-to-code checks (go-runhcs-contract.md section 5) ----------------------------------------------
def test_list_on_a_fresh_root_is_null(tmp_path: Any) -> None:
    done = runhcs(str(tmp_path / "root"), "list", "--format=json")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"null\n", b"")


def test_state_of_an_unknown_id(tmp_path: Any) -> None:
    done = runhcs(str(tmp_path), "state", "nope")
    assert (done.returncode, done.stdout, done.stderr) == (1, b"", b"ID 'nope' was not found\n")


def test_state_without_an_id(tmp_path: Any) -> None:
    done = runhcs(str(tmp_path), "state")
    assert (done.returncode, done.stderr) == (1, b"invalid command usage\n")


def test_unknown_command_exits_3(tmp_path: Any) -> None:
    done = runhcs(str(tmp_path), "frobnicate")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"", b"No help topic for 'frobnicate'\n")


def test_bad_log_format(tmp_path: Any) -> None:
    done = runhcs(str(tmp_path), "--log-format", "xml", "list")
    assert (done.returncode, done.stderr) == (1, b'unknown log-format "xml"\n')


@pytest.mark.skipif(IS_WINDOWS, reason="console scripts are tested through pip on Windows")
def test_the_console_script_is_runhcs(tmp_path: Any) -> None:
    script = os.path.join(os.path.dirname(sys.executable), "runhcs")
    if not os.path.exists(script):
        pytest.skip("pyhcs is not installed with its console script here")
    done = subprocess.run([script, "--root", str(tmp_path), "list", "-q"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=TIMEOUT)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


# -- create and its detached helper ---------------------------------------------------------------------------------------
def start_create(root: str, bundle: str, container_id: str, *extra: str, output: Any = subprocess.PIPE
                 ) -> "subprocess.Popen[bytes]":
    """create as a child process. Its stdout/stderr become the container's (the helper keeps them open), so a test
    that does not wait for the helper's end passes files as *output*."""
    return subprocess.Popen([sys.executable, "-m", "pyhcs.runhcs", "--root", root, "create", "--bundle", bundle,
                             *extra, container_id], env=env(), stdin=subprocess.DEVNULL, stdout=output,
                            stderr=output)


def test_create_leaves_a_detached_helper_holding_its_stdio_and_a_dead_helper_means_stopped(tmp_path: Any) -> None:
    root, bundle = str(tmp_path / "root"), make_bundle(str(tmp_path / "bundle"))
    pid_file = str(tmp_path / "pid")
    create = start_create(root, bundle, "c1", "--pid-file", pid_file)
    try:
        assert create.wait(TIMEOUT) == 0  # create returns once the helper is ready ...
        assert create.stderr is not None and create.stderr.read(0) == b""
        record = Store(root).load("c1")
        pid = int(open(pid_file, "rb").read())
        assert pid == record["shim"]["pid"] and pid != create.pid
        assert process_alive(pid, record["shim"]["token"])  # ... and the helper outlives it
        assert record["bundle"] == bundle and record["owner"] == "runhcs"
    finally:
        kill_pid(int(open(pid_file, "rb").read()) if os.path.exists(pid_file) else 0)
    assert wait_gone(pid, record["shim"]["token"])
    # The container's stdout was create's: it stays open while the helper lives, and ends with it.
    assert create.stdout is not None and create.stdout.read() == b""
    create.stdout.close()
    create.stderr.close()
    done = runhcs(root, "state", "c1")
    assert done.returncode == 0 and done.stderr == b""
    state = json.loads(done.stdout)
    assert (state["status"], state["pid"]) == ("stopped", 0)
    assert schema_errors("state-schema.json", state) == []
    done = runhcs(root, "delete", "c1")
    assert (done.returncode, done.stderr) == (0, b"")
    assert runhcs(root, "state", "c1").stderr == b"ID 'c1' was not found\n"


def test_bundle_errors_are_reported_by_create_itself(tmp_path: Any) -> None:
    bundle = make_bundle(str(tmp_path / "bundle"), root={"path": "C:\\rootfs"})
    done = runhcs(str(tmp_path / "root"), "create", "-b", bundle, "c1")
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.startswith(b"config.json: root.path: must be a volume GUID path")
    assert Store(str(tmp_path / "root")).ids() == []


def test_two_creates_racing_for_one_id(tmp_path: Any) -> None:
    root, bundle = str(tmp_path / "root"), make_bundle(str(tmp_path / "bundle"))
    outputs = [open(str(tmp_path / f"create{i}.out"), "w+b") for i in range(2)]
    creates = [start_create(root, bundle, "c1", output=out) for out in outputs]
    results: List[Tuple[int, bytes]] = []
    try:
        for p, out in zip(creates, outputs):
            p.wait(TIMEOUT)
            out.seek(0)
            results.append((p.returncode, out.read()))
        assert sorted(results) == [(0, b""), (1, b"container c1 already exists\n")]
    finally:
        record = Store(root).get("c1")
        if record:
            kill_pid(record["shim"]["pid"])
            wait_gone(record["shim"]["pid"], record["shim"]["token"])
        for out in outputs:
            out.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds stray helpers through /proc")
def test_create_killed_at_any_moment_leaves_a_whole_record_or_nothing(tmp_path: Any) -> None:
    root, bundle = str(tmp_path / "root"), make_bundle(str(tmp_path / "bundle"))
    store = Store(root)
    rng = random.Random(7)
    for round_ in range(8):
        container_id = f"c{round_}"
        create = start_create(root, bundle, container_id, output=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 0.6))
        create.kill()
        create.wait(30)
        record = store.get(container_id)  # never torn: loads, or is absent
        helpers = _helpers_of(root, container_id)
        if record is None:
            # A helper that never got its commit undoes its work and exits.
            for pid in helpers:
                assert wait_gone(pid, process_token(pid) or "", 30), f"stray helper {pid}"
        else:
            kill_pid(record["shim"]["pid"])
            wait_gone(record["shim"]["pid"], record["shim"]["token"])
            done = runhcs(root, "delete", "--force", container_id)
            assert done.returncode == 0, done.stderr
    assert store.ids() == []


def _helpers_of(root: str, container_id: str) -> List[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if b"shim" in argv and root.encode() in argv and container_id.encode() in argv:
            found.append(int(entry))
    return found


def test_delete_killed_at_any_moment_leaves_the_record_whole_or_gone(tmp_path: Any) -> None:
    root = str(tmp_path / "root")
    store = Store(root)
    rng = random.Random(11)
    for round_ in range(3 if IS_WINDOWS else 6):
        container_id = f"d{round_}"
        with store.locked(container_id):
            store.create({"id": container_id, "shim": {"pid": 0, "token": ""}, "spec": {}, "bundle": "/b",
                          "created": 0, "ociVersion": "1.1.0", "owner": "x"})
        delete = subprocess.Popen([sys.executable, "-m", "pyhcs.runhcs", "--root", root, "delete", container_id],
                                  env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 1.0))
        delete.kill()
        delete.wait(30)
        if store.get(container_id) is not None:  # killed before it removed the record: still whole, still there
            done = runhcs(root, "delete", container_id)
            assert done.returncode == 0, done.stderr
        assert runhcs(root, "state", container_id).stderr == f"ID '{container_id}' was not found\n".encode()


# -- the helper process itself --------------------------------------------------------------------------------------------
def spawn_helper(root: str, container_id: str) -> Tuple["subprocess.Popen[bytes]", Channel]:
    """`runhcs shim` started as create starts it, the test holding create's ends of the handshake."""
    from pyhcs.runhcs.platform import inheritable_handle, pipe, spawn_detached

    to_child_r, to_child_w = pipe()
    to_parent_r, to_parent_w = pipe()
    argv = [sys.executable, "-m", "pyhcs.runhcs", "--root", root, "shim",
            "--handshake-in", str(inheritable_handle(to_child_r)),
            "--handshake-out", str(inheritable_handle(to_parent_w)), "--stdout", container_id]
    popen = spawn_detached(argv, (to_child_r, to_parent_w), env=env())
    os.close(to_child_r)
    os.close(to_parent_w)
    return popen, Channel(os.fdopen(to_parent_r, "rb", buffering=0), os.fdopen(to_child_w, "wb", buffering=0))


def helper_job(root: str, document: Optional[dict] = None) -> ShimJob:
    from pyhcs import oci
    from tests.oci.samples import VOLUME

    if document is None:
        document = oci.container_document({"ociVersion": "1.1.0", "root": {"path": VOLUME},
                                           "windows": {"layerFolders": ["C:\\l", "C:\\s"]}})
    return ShimJob(container_id="h1", root=root, document=document, process=None, stdin=False, stdout=True,
                   stderr=False, authkey=new_authkey())


def test_a_helper_whose_create_vanishes_before_the_commit_exits(tmp_path: Any) -> None:
    popen, channel = spawn_helper(str(tmp_path), "h1")
    try:
        channel.send(helper_job(str(tmp_path)).to_message())
        reply = channel.recv()
        assert reply is not None and reply["ok"] is True
        channel.close()  # as if create had been killed here
        assert popen.wait(60) == 1
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


def test_a_helper_reports_hcs_errors_through_the_handshake(tmp_path: Any) -> None:
    popen, channel = spawn_helper(str(tmp_path), "h1")
    try:
        bad = {"SchemaVersion": {"Major": 2, "Minor": 1}, "Owner": "x"}  # neither Container nor VirtualMachine
        channel.send(helper_job(str(tmp_path), bad).to_message())
        reply = channel.recv()
        assert reply is not None and reply["ok"] is False
        assert reply["error"].startswith("hcs::CreateComputeSystem h1: ")
        assert popen.wait(60) == 1
    finally:
        channel.close()
        if popen.poll() is None:
            popen.kill()
            popen.wait()
