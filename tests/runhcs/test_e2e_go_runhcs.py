"""A go-runhcs client can drive pyhcs's runhcs: the same scenario run by two clients shaped like hcsshim's
pkg/go-runhcs -- tests/runhcs/gorunhcs.py (Python, every platform) and tests/runhcs/go_client (Go, with os/exec
and encoding/json, when a Go toolchain is present) -- each as its own process, in a containerd shim's place.

The scenario (gorunhcs.scenario, go_client/main.go) is hcsshim's e2e matrix test -- create with the caller's
pipes, a pid file and a shim log; start; wait for the pid file's process and read its exit code; the relayed
"Hello World!" -- followed by every other go-runhcs call on a running container. Contract: go-runhcs-contract.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.runhcs.e2e import ProcessCli, entry_command, exits_with, script_path, shell, sleeper, write_json
from tests.runhcs.support import make_bundle
from tests.support import IS_WINDOWS

pytestmark = pytest.mark.timeout(300)
GO_SOURCES = Path(__file__).resolve().parent / "go_client"
NL = "\r\n" if IS_WINDOWS else "\n"


def settings(e2e: ProcessCli, tmp_path: Path) -> Dict[str, str]:
    """The bundles and files of the scenario, as GORUNHCS_* variables."""
    def bundle(name: str, process: Any) -> str:
        (tmp_path / name).mkdir()
        return make_bundle(str(tmp_path / name), process)

    work = tmp_path / "work"
    work.mkdir()
    return {
        "GORUNHCS_WORK": str(work),
        "GORUNHCS_ROOT": e2e.root,
        "GORUNHCS_LOG": str(work / "runhcs.log"),
        "GORUNHCS_HELLO": bundle("hello", shell("echo Hello World!", "cmd /c echo Hello World!")),
        "GORUNHCS_SLEEPER": bundle("sleeper", sleeper()),
        "GORUNHCS_EXEC": write_json(str(tmp_path / "exec.json"), exits_with(0, "from exec")),
        "GORUNHCS_EXIT4": write_json(str(tmp_path / "exit4.json"), exits_with(4)),
    }


def check_report(report: Dict[str, Any], root: str, log: str) -> None:
    assert report["list_before"] == []  # "null" unmarshals to an empty list (upstream Test_List_NoContainers)
    assert report["created"] == {"status": "created", "pid_is_pid_file": True, "owner": "containerd-runhcs-shim-v1"}
    assert report["hello_exit"] == 0  # the helper exits with the container process's exit code
    assert report["hello_io_closed"] is True  # the pipes reached end of file: nothing else holds them
    assert (report["hello_stdout"], report["hello_stderr"]) == (f"Hello World!{NL}", "")
    assert report["hello_stopped"] == {"status": "stopped", "pid": 0}
    assert report["running"] == "running"
    assert report["ps"] and all(isinstance(p, int) for p in report["ps"])
    assert [list(row) for row in report["list"]] == [["busy", "running", True, True]]
    assert report["exec_stdout"] == f"from exec{NL}"
    assert report["exec_detached_exit"] == 4
    assert report["paused"] == "paused"
    assert "hcs::Process::ResizeConsole busy:" in report["resize_tty"] or report["resize_tty"] == "ok"
    assert report["kill_sigkill"].endswith(": invalid signal value\n")
    assert report["busy_exited"] is True and report["busy_stopped"] == "stopped"
    assert report["kill_stopped"].endswith(": container is stopped\n")
    assert report["state_deleted"].endswith(": ID 'busy' was not found\n")
    assert report["list_after"] == []
    globals_ = ["--debug", "--log", log, "--log-format", "json", "--owner", "containerd-runhcs-shim-v1",
                "--root", root]
    argv: List[List[str]] = report["argv"]
    assert all(call[:len(globals_)] == globals_ for call in argv)  # go-runhcs's order, before the command
    calls = [call[len(globals_):] for call in argv]
    assert calls[0] == ["list", "--format=json"]
    assert calls[1][:3] == ["create", "--bundle", os.environ.get("GORUNHCS_HELLO", calls[1][2])]
    assert calls[1][3] == "--pid-file" and os.path.isabs(calls[1][4]) and calls[1][5] == "--shim-log"
    assert calls[1][-1] == "hello"
    assert ["kill", "busy", ""] in calls  # the empty signal argument is sent
    assert ["ps", "--format=json", "busy"] in calls and ["delete", "--force", "hello"] in calls
    assert any(c[:2] == ["exec", "--process"] and c[3] == "--detach" and c[4] == "--pid-file" for c in calls)


def test_a_go_runhcs_shaped_client_drives_every_call(e2e: ProcessCli, tmp_path: Path) -> None:
    env = dict(e2e.env, **settings(e2e, tmp_path), GORUNHCS_COMMAND=json.dumps(entry_command(e2e.entry)))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env["PYTHONPATH"]])
    report_path = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "tests.runhcs.gorunhcs", str(report_path)], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=240, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    check_report(json.loads(report_path.read_text()), e2e.root, env["GORUNHCS_LOG"])
    log = [json.loads(line) for line in Path(env["GORUNHCS_LOG"]).read_text().splitlines()]
    assert log and all(line["level"] in ("debug", "info", "warning", "error") for line in log)


def find_go() -> str:
    found = shutil.which("go") or next((p for p in ("/usr/lib/go/bin/go", "/usr/local/go/bin/go")
                                        if os.access(p, os.X_OK)), "")
    return found


def build_go_client(go: str) -> Path:
    """go build of tests/runhcs/go_client, cached by a hash of its sources and the toolchain, offline."""
    version = subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout
    digest = hashlib.sha256(version.encode())
    for source in sorted(GO_SOURCES.iterdir()):
        digest.update(source.name.encode() + source.read_bytes())
    cache = Path(tempfile.gettempdir()) / "pyhcs-tests-go"
    exe = cache / f"goclient-{digest.hexdigest()[:16]}"
    if not exe.exists():
        cache.mkdir(exist_ok=True)
        env = dict(os.environ, GOCACHE=str(cache / "gocache"), GOPATH=str(cache / "gopath"), GOPROXY="off",
                   GOFLAGS="-mod=mod", CGO_ENABLED="0")
        tmp = exe.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run([go, "build", "-o", str(tmp), "."], cwd=GO_SOURCES, env=env, check=True, timeout=300,
                       capture_output=True)
        os.replace(tmp, exe)
    return exe


@pytest.mark.skipif(IS_WINDOWS, reason="the Wine leg has no Windows Go toolchain; the Python client above runs there")
def test_a_go_client_with_os_exec_and_encoding_json_drives_every_call(e2e: ProcessCli, tmp_path: Path) -> None:
    go = find_go()
    if not go:
        pytest.skip("no Go toolchain (go on PATH or /usr/lib/go/bin/go)")
    script = script_path()
    if script is None:
        pytest.skip("the Go client finds the runhcs console script on PATH, as go-runhcs finds runhcs.exe")
    exe = build_go_client(go)
    env = dict(e2e.env, **settings(e2e, tmp_path))
    env["PATH"] = os.pathsep.join([os.path.dirname(script), env.get("PATH", "")])
    report_path = tmp_path / "report.json"
    proc = subprocess.run([str(exe), str(report_path)], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=240, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    check_report(json.loads(report_path.read_text()), e2e.root, env["GORUNHCS_LOG"])
