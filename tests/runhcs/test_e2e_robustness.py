"""What real use does to a CLI whose state lives between processes: two commands racing on one container, a
command killed (SIGKILL; TerminateProcess on Windows) in the middle of its work, a helper killed while its container
runs, and bundles with every kind of bad input. Each command is its own process against the fake HCS service.

What must hold (issue 11; runhcs gets it from the registry's atomic values, pyhcs from its state store and the
create/commit handshake, docs/cli.md "State" and "The helper"): no torn or lost record -- a container is whole or
absent; no compute system without a container (checked through HCS: HcsEnumerateComputeSystems and the service's
counters); a dead helper means ``stopped``, and ``delete`` then removes what HCS still has.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest

from tests.runhcs.e2e import (ROUNDS, ProcessCli, kill_process, linux_leg, read_text, sleeper, thinned, wait_gone,
                              write_json)
from tests.runhcs.support import make_bundle

pytestmark = pytest.mark.timeout(300)


def bundle(tmp_path: Path, name: str = "b", process: Any = None, **top: Any) -> str:
    path = tmp_path / name
    path.mkdir(exist_ok=True)
    return make_bundle(str(path), process if process is not None else sleeper(), **top)


def race(e2e: ProcessCli, tmp_path: Path, *commands: List[str]) -> List[Tuple[int, str]]:
    """Start *commands* together; each one's (exit code, stderr line)."""
    outputs = []
    procs = []
    for i, argv in enumerate(commands):
        err = open(tmp_path / f"race-{time.monotonic_ns()}-{i}.err", "w+b")
        outputs.append(err)
        procs.append(e2e.popen(*argv, stderr=err))
    results = []
    for proc, err in zip(procs, outputs):
        proc.wait(120)
        err.seek(0)
        results.append((proc.returncode, err.read().decode().strip()))
        err.close()
    return results


def settle(e2e: ProcessCli, container_id: str) -> None:
    """Remove the container if it is there; then nothing of it may be left in HCS."""
    if e2e("state", container_id).code == 0:
        e2e.ok("delete", "--force", container_id)
    assert e2e.wait_for_no_clients() == []
    assert e2e.nothing_left()


def assert_whole_or_absent(e2e: ProcessCli, container_id: str) -> Dict[str, Any]:
    """The container's record is either absent (``ID ... was not found``) or loads and reports a valid state --
    never a corrupt record. The state, or {} when absent."""
    done = e2e("state", container_id)
    if done.code == 1:
        assert done.err == f"ID '{container_id}' was not found\n".encode(), done
        return {}
    assert done.code == 0 and done.err == b"", done
    state = done.json
    assert state["id"] == container_id
    return state  # type: ignore[no-any-return]


# -- two commands racing on one container ---------------------------------------------------------------------------
def test_start_racing_delete(e2e: ProcessCli, tmp_path: Path) -> None:
    """One wins: started (then delete refuses a running container) or deleted (then start finds no container)."""
    b = bundle(tmp_path)
    outcomes = set()
    for round_ in range(ROUNDS):
        cid = f"s{round_}"
        e2e.ok("create", "-b", b, cid)
        (start_code, start_err), (delete_code, delete_err) = race(e2e, tmp_path, ["start", cid], ["delete", cid])
        state = assert_whole_or_absent(e2e, cid)
        if start_code == 0:
            assert (delete_code, delete_err) == (1, f"cannot delete container {cid} that is not stopped: running")
            assert state["status"] == "running"
            outcomes.add("started")
        else:
            assert (start_code, start_err) == (1, f"ID '{cid}' was not found")
            assert delete_code == 0 and state == {}
            outcomes.add("deleted")
        settle(e2e, cid)
    assert outcomes  # which one wins is up to the scheduler; each outcome is whole


def test_kill_racing_delete_force(e2e: ProcessCli, tmp_path: Path) -> None:
    """kill first: the container stops, then delete --force removes it; delete --force first: kill finds no
    container. Either way nothing is left."""
    b = bundle(tmp_path)
    for round_ in range(ROUNDS):
        cid = f"k{round_}"
        e2e.ok("run", "-d", "-b", b, cid)
        (kill_code, kill_err), (delete_code, delete_err) = race(e2e, tmp_path, ["kill", cid, "KILL"],
                                                               ["delete", "--force", cid])
        assert (delete_code, delete_err) == (0, "")
        assert (kill_code, kill_err) in ((0, ""), (1, f"ID '{cid}' was not found"), (1, "container is stopped"))
        assert assert_whole_or_absent(e2e, cid) == {}
        settle(e2e, cid)


def test_two_starts_start_the_container_once(e2e: ProcessCli, tmp_path: Path) -> None:
    b = bundle(tmp_path)
    for round_ in range(ROUNDS):
        cid = f"t{round_}"
        e2e.ok("create", "-b", b, cid)
        results = sorted(race(e2e, tmp_path, ["start", cid], ["start", cid]))
        assert results == [(0, ""), (1, "cannot start an already running container")]
        assert len(json.loads(e2e.ok("ps", cid).out)) == 1  # one init process
        settle(e2e, cid)


def test_two_creates_of_one_id_make_one_container(e2e: ProcessCli, tmp_path: Path) -> None:
    b = bundle(tmp_path)
    for round_ in range(ROUNDS):
        cid = f"c{round_}"
        results = sorted(race(e2e, tmp_path, ["create", "-b", b, cid], ["create", "-b", b, cid]))
        assert results == [(0, ""), (1, f"container {cid} already exists")]
        assert e2e.state(cid)["status"] == "created"
        assert e2e.hcs_systems() == {cid: "Created"}
        settle(e2e, cid)


# -- commands killed half way ----------------------------------------------------------------------------------------
def killed_at(e2e: ProcessCli, argv: List[str], delays: List[float]) -> Callable[[int], None]:
    """A function that runs *argv* (``{}`` in it becomes the round's index) and kills it after delays[round]."""
    def run(round_: int) -> None:
        proc = e2e.popen(*[a.format(round_) for a in argv])
        time.sleep(delays[round_])
        proc.kill()
        proc.wait(60)
    return run


def duration(e2e: ProcessCli, *argv: str) -> float:
    started = time.monotonic()
    e2e.ok(*argv)
    return time.monotonic() - started


def test_create_killed_at_any_moment_leaves_a_whole_container_or_nothing(e2e: ProcessCli, tmp_path: Path) -> None:
    """A create killed before it recorded the container leaves no record; its helper, seeing no commit, removes the
    compute system it created and exits. Killed after recording, the container is whole (created, or stopped when
    the helper got no commit) and delete removes it."""
    b = bundle(tmp_path)
    whole = duration(e2e, "create", "-b", b, "probe")
    settle(e2e, "probe")
    fractions = thinned([0.1, 0.4, 0.7, 0.95])
    kill = killed_at(e2e, ["create", "-b", b, "c{}"], [f * whole for f in fractions])
    seen = set()
    for round_ in range(len(fractions)):
        cid = f"c{round_}"
        kill(round_)
        state = assert_whole_or_absent(e2e, cid)
        seen.add(state.get("status", "absent"))
        if not state:
            assert e2e.wait_for_no_clients() == []  # the helper, if one started, has gone
        settle(e2e, cid)
    assert "absent" in seen, seen


def test_start_killed_at_any_moment_leaves_a_container_that_works(e2e: ProcessCli, tmp_path: Path) -> None:
    """A start killed before or after the helper started the process: the container is created or running, and
    every command works on it -- kill finds the init process, which the helper recorded itself."""
    b = bundle(tmp_path)
    e2e.ok("create", "-b", b, "probe")
    whole = duration(e2e, "start", "probe")
    settle(e2e, "probe")
    fractions = thinned([0.2, 0.6, 1.0])
    kill = killed_at(e2e, ["start", "s{}"], [f * whole for f in fractions])
    for round_ in range(len(fractions)):
        cid = f"s{round_}"
        e2e.ok("create", "-b", b, cid)
        kill(round_)
        state = assert_whole_or_absent(e2e, cid)
        assert state["status"] in ("created", "running"), state
        if state["status"] == "created":
            e2e.ok("start", cid)
        e2e.ok("kill", cid, "KILL")
        e2e.wait_status(cid, "stopped")
        settle(e2e, cid)


def test_delete_killed_at_any_moment_leaves_the_container_or_removes_it_whole(e2e: ProcessCli,
                                                                               tmp_path: Path) -> None:
    """delete terminates the compute system, then removes the record: killed before the end, the record is there
    and another delete finishes the work; never a record without a container or a system without a record."""
    b = bundle(tmp_path)
    e2e.ok("run", "-d", "-b", b, "probe")
    whole = duration(e2e, "delete", "--force", "probe")
    settle(e2e, "probe")
    fractions = thinned([0.2, 0.6, 1.0])
    kill = killed_at(e2e, ["delete", "--force", "d{}"], [f * whole for f in fractions])
    for round_ in range(len(fractions)):
        cid = f"d{round_}"
        e2e.ok("run", "-d", "-b", b, cid)
        kill(round_)
        state = assert_whole_or_absent(e2e, cid)
        if not state:
            assert e2e.nothing_left()
        settle(e2e, cid)


# -- a helper killed -------------------------------------------------------------------------------------------------
def test_a_helper_killed_while_its_container_runs(e2e: ProcessCli, tmp_path: Path) -> None:
    """The helper held the compute system's only handle; HCS terminates a system created with
    ShouldTerminateOnLastHandleClosed when that handle goes (the service runs its handles down). The CLI sees the
    helper gone: stopped, pid 0; delete needs no --force and leaves nothing."""
    pid_file = str(tmp_path / "pid")
    e2e.ok("run", "-d", "--pid-file", pid_file, "-b", bundle(tmp_path), "c1")
    helper = int(read_text(pid_file))
    assert e2e.hcs_systems() == {"c1": "Running"}
    kill_process(helper)
    assert wait_gone(helper)
    state = e2e.state("c1")
    assert (state["status"], state["pid"]) == ("stopped", 0)
    assert e2e.fails("kill", "c1", "KILL") == "container is stopped"
    assert e2e.fails("exec", "c1", "x") == "container is stopped"
    e2e.ok("delete", "c1")
    assert e2e.wait_for_no_clients() == []
    assert e2e.nothing_left()
    assert e2e.counters()["RunningProcesses"] == 0


def test_delete_cleans_up_a_system_that_outlived_its_helper(e2e: ProcessCli, tmp_path: Path) -> None:
    """When another client still holds the system (here an exec helper), it runs on after the init helper died:
    the container is stopped for the CLI, and delete terminates what HCS still runs."""
    e2e.ok("run", "-d", "-b", bundle(tmp_path), "c1")
    helper = e2e.state("c1")["pid"]
    exec_pid = str(tmp_path / "exec.pid")
    e2e.ok("exec", "-d", "--pid-file", exec_pid, "-p",
           write_json(str(tmp_path / "p.json"), sleeper()), "c1")
    kill_process(helper)
    assert wait_gone(helper)
    assert e2e.state("c1")["status"] == "stopped"
    assert e2e.hcs_systems() == {"c1": "Running"}  # the exec helper's handle keeps it
    e2e.ok("delete", "c1")
    assert wait_gone(int(read_text(exec_pid)))  # its process was terminated with the system
    assert e2e.wait_for_no_clients() == []
    assert e2e.nothing_left()


def test_a_record_removed_by_hand_ends_its_waiting_helper_and_its_system(e2e: ProcessCli, tmp_path: Path) -> None:
    """A helper waiting for start notices within a few seconds that its container's record is gone (removed by
    hand, or deleted by a CLI that could not see the system) and removes its compute system instead of waiting
    forever."""
    from pyhcs.runhcs.state import encode_id

    e2e.ok("create", "-b", bundle(tmp_path), "c1")
    assert e2e.hcs_systems() == {"c1": "Created"}
    os.remove(os.path.join(e2e.root, encode_id("c1") + ".json"))
    assert e2e.wait_for_no_clients(timeout=30) == []
    assert e2e.nothing_left()


def test_a_helper_killed_before_it_answers_is_an_unknown_shim_failure(e2e: ProcessCli, tmp_path: Path) -> None:
    """runhcs's words when the helper dies without saying why (hcsshim#2156), with its exit status; nothing is
    recorded and the system it was creating goes with it."""
    with e2e.service.control() as ctl:
        ctl.set_latency("HcsCreateComputeSystem", 5000)
    try:
        err = open(tmp_path / "create.err", "w+b")
        create = e2e.popen("create", "-b", bundle(tmp_path), "c1", stderr=err)
        helper = wait_for_helper(e2e, create.pid)
        kill_process(helper)
        create.wait(60)
        err.seek(0)
        text = err.read().decode()
        err.close()
    finally:
        with e2e.service.control() as ctl:
            ctl.set_latency("HcsCreateComputeSystem", 0)
    # 137: a shell's 128 + SIGKILL on POSIX; on Windows the code kill_process gives TerminateProcess
    assert (create.returncode, text) == (1, "unknown shim failure, exit code 137\n")
    assert assert_whole_or_absent(e2e, "c1") == {}
    assert e2e.wait_for_no_clients() == []
    assert e2e.nothing_left()


def wait_for_helper(e2e: ProcessCli, create_pid: int, timeout: float = 60) -> int:
    """The pid of the helper *create_pid* started, once it is a client of the service."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        others = [pid for pid in e2e.clients() if pid != create_pid]
        if others:
            return others[0]
        time.sleep(0.02)
    raise AssertionError("the helper never connected to the fake HCS service")


# -- bad bundles -------------------------------------------------------------------------------------------------------
BAD_CONFIGS: List[Tuple[str, Callable[[Dict[str, Any], str], None], str]] = [
    ("no layerFolders", lambda c, d: c["windows"].pop("layerFolders"),
     "config.json: windows.layerFolders: is missing: a process-isolated container needs its image layers and a "
     "scratch folder"),
    ("null layerFolders", lambda c, d: c["windows"].update(layerFolders=None),
     "config.json: windows.layerFolders: is null:"),
    ("only a scratch folder", lambda c, d: c["windows"].update(layerFolders=c["windows"]["layerFolders"][-1:]),
     "config.json: windows.layerFolders: needs at least one image layer followed by the scratch folder (got 1 "
     "entry)"),
    ("a layer folder that does not exist", lambda c, d: c["windows"]["layerFolders"].insert(0, d + "/nope"),
     "config.json: windows.layerFolders[0]: is not an existing directory"),
    ("no scratch folder on disk", lambda c, d: c["windows"]["layerFolders"].append(d + "/no-scratch"),
     "config.json: windows.layerFolders[3]: is not an existing directory (the scratch folder)"),
    ("a repeated layer", lambda c, d: c["windows"]["layerFolders"].insert(1, c["windows"]["layerFolders"][0]),
     "config.json: windows.layerFolders[1]: repeats layerFolders[0]"),
    ("layerFolders not strings", lambda c, d: c["windows"].update(layerFolders=[1, 2]),
     "config.json: windows.layerFolders[0]: must be a JSON string, not integer (got 1)"),
    ("no windows section", lambda c, d: c.pop("windows"), "config.json: windows: is required"),
    ("no root", lambda c, d: c.pop("root"), "config.json: root: is required"),
    ("root.path a directory", lambda c, d: c["root"].update(path="C:\\rootfs"),
     "config.json: root.path: must be a volume GUID path"),
    ("read-only root", lambda c, d: c["root"].update(readonly=True),
     "config.json: root.readonly: read-only root filesystems are not supported for Windows containers"),
    ("no ociVersion", lambda c, d: c.pop("ociVersion"), "config.json: ociVersion: is required"),
    ("cwd relative", lambda c, d: c["process"].update(cwd="relative"),
     "config.json: process.cwd: must be an absolute path"),
    ("no args and no commandLine", lambda c, d: (c["process"].pop("commandLine"), c["process"].pop("args", None)),
     "config.json: process.args: must not be empty when there is no commandLine"),
    ("env without =", lambda c, d: c["process"].update(env=["JUSTANAME"]),
     "config.json: process.env[0]: must be NAME=VALUE"),
    ("process not an object", lambda c, d: c.update(process="cmd"),
     "config.json: process: must be a JSON object, not string"),
    ("CPU limits that exclude each other",
     lambda c, d: c["windows"].update(resources={"cpu": {"count": 2, "shares": 100}}),
     "config.json: windows.resources.cpu: count, maximum and shares are mutually exclusive"),
    ("memory limit under 1 MiB", lambda c, d: c["windows"].update(resources={"memory": {"limit": 1000}}),
     "config.json: windows.resources.memory.limit: is below 1 MiB"),
    ("a resource annotation that is not a number",
     lambda c, d: c.update(annotations={"io.microsoft.container.memory.sizeinmb": "lots"}),
     'config.json: annotations["io.microsoft.container.memory.sizeinmb"]:'),
    ("a mount without source", lambda c, d: c.update(mounts=[{"destination": "C:\\data"}]),
     "config.json: mounts[0].source: is required for a Windows mount"),
    ("a mount source that does not exist",
     lambda c, d: c.update(mounts=[{"destination": "C:\\data", "source": d + "/absent"}]),
     "config.json: mounts[0].source: does not exist on the host"),
    ("nested mount destinations", lambda c, d: c.update(mounts=[{"destination": "C:\\data", "source": d},
                                                                {"destination": "C:\\data\\x", "source": d}]),
     "config.json: mounts[1].destination: overlaps mounts[0].destination"),
    ("a network namespace that is not a GUID",
     lambda c, d: c["windows"].update(network={"networkNamespace": "ns1"}),
     "config.json: windows.network.networkNamespace: must be an HNS namespace GUID"),
    ("hostname not a string", lambda c, d: c.update(hostname=7),
     "config.json: hostname: must be a JSON string, not integer (got 7)"),
]


@linux_leg
def test_every_kind_of_bad_bundle_gets_a_precise_error_and_changes_nothing(e2e: ProcessCli, tmp_path: Path) -> None:
    """pyhcs.oci checks the whole configuration before anything runs (runhcs users get "unknown shim failure");
    each problem is named by its JSON path, the value found and the rule. Nothing is recorded, nothing created."""
    base = bundle(tmp_path, "base")
    with open(os.path.join(base, "config.json")) as fh:
        good = json.load(fh)
    failures = []
    for i, (what, change, expected) in enumerate(BAD_CONFIGS):
        config = json.loads(json.dumps(good))
        change(config, base)
        write_json(os.path.join(base, "config.json"), config)
        done = e2e("create", "-b", base, f"bad{i}")
        line = done.err.decode()
        if not (done.code == 1 and done.out == b"" and line.count("\n") == 1 and line.startswith(expected)):
            failures.append(f"{what}: exit {done.code}: {line!r}")
    assert not failures, "\n".join(failures)
    for content, expected in ((b"[1, 2]", "config.json must hold a JSON object, not list"),
                              (b"\xff\xfe{\x00}\x00", "config.json is not UTF-8 text"),
                              (b"", "config.json is not valid JSON: Expecting value at line 1 column 1"),
                              (b'{"ociVersion": "1.1.0"}} ', "config.json is not valid JSON: Extra data at line 1")):
        with open(os.path.join(base, "config.json"), "wb") as fh:
            fh.write(content)
        assert e2e.fails("create", "-b", base, "bad").startswith(expected), content
    os.remove(os.path.join(base, "config.json"))
    os.mkdir(os.path.join(base, "config.json"))
    assert e2e.fails("create", "-b", base, "bad") == "JSON specification file config.json not found"
    assert e2e.list_json() == [] and e2e.nothing_left()
    assert not os.path.exists(e2e.root) or not [n for n in os.listdir(e2e.root) if n.endswith(".json")]


def test_a_damaged_record_is_reported_not_guessed(e2e: ProcessCli, tmp_path: Path) -> None:
    """Records are replaced atomically, so a damaged one was damaged from outside: commands say where it is; list
    reports it on stderr and lists the others."""
    e2e.ok("create", "-b", bundle(tmp_path), "ok")
    e2e.ok("create", "-b", bundle(tmp_path, "b2"), "broken")
    from pyhcs.runhcs.state import encode_id

    path = os.path.join(e2e.root, encode_id("broken") + ".json")
    helper = e2e.state("broken")["pid"]
    with open(path, "wb") as fh:
        fh.write(b'{"format": 1, "id": "bro')
    text = e2e.fails("state", "broken")
    assert text.startswith(f"the state record of broken ({path}) is corrupt: ")
    done = e2e("list", "--format=json")
    assert done.code == 0 and [s["id"] for s in json.loads(done.out)] == ["ok"]
    assert done.err.decode().startswith("reading state for broken: the state record of broken")
    kill_process(helper)  # what an administrator would do before removing the record by hand
    wait_gone(helper)
    os.remove(path)


def test_no_temporary_files_are_left_in_the_root(e2e: ProcessCli, tmp_path: Path) -> None:
    e2e.ok("run", "-d", "--pid-file", str(tmp_path / "pid"), "-b", bundle(tmp_path), "c1")
    e2e.ok("kill", "c1", "KILL")
    e2e.wait_status("c1", "stopped")
    e2e.ok("delete", "c1")
    e2e.wait_for_no_clients()
    assert sorted(os.listdir(e2e.root)) == []
    assert sorted(os.listdir(tmp_path)) == sorted(["b", "out", "pid", "root"])
