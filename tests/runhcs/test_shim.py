"""The per-container helper (pyhcs.runhcs.shim.run_shim) driven through its function interface against the
in-process fake: the handshake, start over the control endpoint, stdio relays, shutdown, the recorded exit.
runhcs: cmd/runhcs/shim.go; the handshake's commit step is pyhcs's (see the module docstring)."""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Iterator, Optional

import pytest

import pyhcs
from pyhcs import oci
from pyhcs.runhcs import hcs
from pyhcs.runhcs.channel import Channel
from pyhcs.runhcs.shim import ShimJob, Stdio, new_authkey, run_shim, start_request
from pyhcs.runhcs.state import Store
from tests.oci.samples import VOLUME
from tests.runhcs.support import shell
from tests.support import IS_WINDOWS


class Harness:
    """A helper in a thread, the test on the other end of its handshake and stdio pipes."""

    def __init__(self, job: ShimJob, stdin: bool = False) -> None:
        a, b = os.pipe(), os.pipe()
        self.channel = Channel(os.fdopen(b[0], "rb", buffering=0), os.fdopen(a[1], "wb", buffering=0))
        helper_side = Channel(os.fdopen(a[0], "rb", buffering=0), os.fdopen(b[1], "wb", buffering=0))
        self.stdin_w: Optional[int] = None
        stdio = Stdio()
        if stdin:
            r, self.stdin_w = os.pipe()
            stdio.stdin = os.fdopen(r, "rb", buffering=0)
        out_r, out_w = os.pipe()
        stdio.stdout = os.fdopen(out_w, "wb", buffering=0)
        self.out = bytearray()
        self.code: Optional[int] = None

        def collect() -> None:
            while True:
                chunk = os.read(out_r, 4096)
                if not chunk:
                    break
                self.out += chunk
            os.close(out_r)

        def run() -> None:
            try:
                self.code = run_shim(helper_side, stdio)
            finally:
                for f in (stdio.stdout, stdio.stdin):
                    if f is not None:
                        f.close()

        self.collector = threading.Thread(target=collect, daemon=True)
        self.collector.start()
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.channel.send(job.to_message())

    def ready(self) -> Dict[str, Any]:
        reply = self.channel.recv()
        assert reply is not None
        return reply

    def finish(self, timeout: float = 30) -> int:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the helper did not finish"
        self.collector.join(10)
        self.channel.close()
        if self.stdin_w is not None:
            os.close(self.stdin_w)
        assert self.code is not None
        return self.code


def document() -> Dict[str, Any]:
    return oci.container_document({"ociVersion": "1.1.0", "root": {"path": VOLUME},
                                   "windows": {"layerFolders": ["C:\\l", "C:\\s"]}}, owner="test")


def init_job(tmp_path: Any, process: Optional[Dict[str, Any]] = None, container_id: str = "c1") -> ShimJob:
    store = Store(str(tmp_path))
    with store.locked(container_id):
        store.create({"id": container_id})
    return ShimJob(container_id=container_id, root=str(tmp_path), document=document(),
                   process=process or shell("echo hi", "cmd /c echo hi"), stdin=False, stdout=True, stderr=False,
                   authkey=new_authkey(), shutdown_timeout=10)


@pytest.fixture
def cleanup() -> Iterator[list]:
    harnesses: list = []
    yield harnesses
    for h in harnesses:
        if h.thread.is_alive():
            h.channel.close()
            h.finish(60)


def test_an_init_helper_creates_the_system_and_waits_for_its_commit_and_start(tmp_path: Any, cleanup: list) -> None:
    job = init_job(tmp_path)
    h = Harness(job)
    cleanup.append(h)
    reply = h.ready()
    assert reply["ok"] is True and reply["endpoint"]
    with pyhcs.ComputeSystem.open("c1") as system:
        assert system.state == "Created"  # created, not started, until start
        h.channel.send({"commit": True})
        answer = start_request(reply["endpoint"], job.authkey)
        assert answer["ok"] is True and isinstance(answer["pid"], int)
        assert h.finish() == 0
        assert bytes(h.out).replace(b"\r\n", b"\n") == b"hi\n"
        # runhcs: after the init process exits the helper shuts the system down
        assert system.wait(10)["ExitType"] == "GracefulExit"
    assert Store(str(tmp_path)).load("c1")["exit"]["code"] == 0


def test_the_helper_exits_with_the_process_exit_code(tmp_path: Any, cleanup: list) -> None:
    job = init_job(tmp_path, shell("exit 42", "cmd /c exit 42"))
    h = Harness(job)
    cleanup.append(h)
    reply = h.ready()
    h.channel.send({"commit": True})
    assert start_request(reply["endpoint"], job.authkey)["ok"]
    assert h.finish() == 42
    assert Store(str(tmp_path)).load("c1")["exit"]["code"] == 42


def test_without_a_commit_the_helper_removes_the_system(tmp_path: Any, cleanup: list) -> None:
    h = Harness(init_job(tmp_path))
    cleanup.append(h)
    assert h.ready()["ok"]
    h.channel.close()  # create died before recording the container
    assert h.finish() == 1
    with pytest.raises(pyhcs.HcsNotFoundError):
        pyhcs.ComputeSystem.open("c1").close()


def test_an_hcs_error_is_sent_back_verbatim(tmp_path: Any, cleanup: list, fake: Any) -> None:
    fake.inject_fault("HcsCreateComputeSystem", 0x80370100, count=1)
    h = Harness(init_job(tmp_path))
    cleanup.append(h)
    reply = h.ready()
    assert reply["ok"] is False and reply["error"].startswith("hcs::CreateComputeSystem c1: ")
    assert h.finish() == 1


def test_a_system_that_exits_before_start_ends_the_helper(tmp_path: Any, cleanup: list) -> None:
    job = init_job(tmp_path)
    h = Harness(job)
    cleanup.append(h)
    reply = h.ready()
    h.channel.send({"commit": True})
    with pyhcs.ComputeSystem.open("c1") as system:
        system.terminate()  # what kill / delete of a created container does
    assert h.finish() == 1
    assert start_request(reply["endpoint"], job.authkey)["ok"] is False  # nobody listens any more


def test_a_wrong_key_is_refused_and_the_helper_keeps_serving(tmp_path: Any, cleanup: list) -> None:
    job = init_job(tmp_path)
    h = Harness(job)
    cleanup.append(h)
    reply = h.ready()
    h.channel.send({"commit": True})
    refused = start_request(reply["endpoint"], new_authkey())
    assert refused["ok"] is False
    assert start_request(reply["endpoint"], job.authkey)["ok"] is True
    assert h.finish() == 0


def test_a_start_that_fails_reports_hcs_words_and_stops_the_container(tmp_path: Any, cleanup: list,
                                                                       fake: Any) -> None:
    job = init_job(tmp_path)
    h = Harness(job)
    cleanup.append(h)
    reply = h.ready()
    h.channel.send({"commit": True})
    fake.inject_fault("HcsStartComputeSystem", 0x80370105, count=1)  # HCS_E_INVALID_STATE
    answer = start_request(reply["endpoint"], job.authkey)
    assert answer["ok"] is False and answer["error"].startswith("hcs::System::Start c1: ")
    assert h.finish() == 1


@pytest.mark.skipif(IS_WINDOWS, reason="uses cat")
def test_stdin_is_relayed_and_its_end_closes_the_process_stdin(tmp_path: Any, cleanup: list) -> None:
    job = init_job(tmp_path, shell("cat", "findstr x"))
    job.stdin = True
    h = Harness(job, stdin=True)
    cleanup.append(h)
    reply = h.ready()
    h.channel.send({"commit": True})
    assert start_request(reply["endpoint"], job.authkey)["ok"]
    assert h.stdin_w is not None
    os.write(h.stdin_w, b"through the helper\n")
    os.close(h.stdin_w)
    h.stdin_w = None
    assert h.finish() == 0
    assert bytes(h.out) == b"through the helper\n"


def test_an_exec_helper_runs_one_process_in_the_running_system(tmp_path: Any, cleanup: list) -> None:
    with pyhcs.ComputeSystem.create("c1", document()) as system:
        system.start()
        job = ShimJob(container_id="c1", root=str(tmp_path), exec=True,
                      process=shell("echo exec; exit 3", "cmd /c echo exec& exit 3"), stdin=False, stderr=False)
        h = Harness(job)
        cleanup.append(h)
        reply = h.ready()
        assert reply["ok"] and isinstance(reply["pid"], int)
        assert h.finish() == 3
        assert bytes(h.out).replace(b"\r\n", b"\n").strip() == b"exec"
        assert system.state == "Running"  # an exec'd process's end leaves the container alone


def test_an_exec_helper_for_a_missing_container_says_it_is_stopped(tmp_path: Any, cleanup: list) -> None:
    job = ShimJob(container_id="nope", root=str(tmp_path), exec=True, process=shell("true", "cmd /c ver"))
    h = Harness(job)
    cleanup.append(h)
    assert h.ready() == {"ok": False, "error": "container is stopped"}
    assert h.finish() == 1


# -- HCS state -> container status (cmd/runhcs/container.go Status) ---------------------------------------------------
def test_status_follows_the_hcs_state() -> None:
    with pyhcs.ComputeSystem.create("s1", document()) as system:
        assert hcs.status_of(system, True) == "created"
        assert hcs.status_of(system, False) == "stopped"  # the helper is gone
        system.start()
        assert hcs.status_of(system, True) == "running"
        system.pause()
        assert hcs.status_of(system, True) == "paused"
        system.resume()
        system.terminate()
        system.wait(10)
        assert hcs.status_of(system, True) == "stopped"
    assert hcs.status_of(None, True) == "stopped"


class _Unknowable:
    id = "s2"

    def __init__(self, state: Any) -> None:
        self._state = state

    def properties(self) -> Dict[str, Any]:
        if isinstance(self._state, Exception):
            raise self._state
        return {"State": self._state}


@pytest.mark.parametrize("state", [pyhcs.HcsInvalidStateError(0x8037010F), "Unknown", "SavedAsTemplate"])
def test_a_state_hcs_cannot_report_is_stopped_not_unknown(state: Any) -> None:
    # runhcs prints "unknown", which the runtime-spec state schema rejects.
    assert hcs.status_of(_Unknowable(state), True) == "stopped"  # type: ignore[arg-type]


def test_other_hcs_errors_of_the_query_are_reported_with_the_operation() -> None:
    with pytest.raises(Exception, match="^hcs::System::Properties s2: "):
        hcs.status_of(_Unknowable(pyhcs.HcsAccessDeniedError()), True)  # type: ignore[arg-type]


def test_shim_job_round_trips_through_the_handshake() -> None:
    job = ShimJob(container_id="c", root="/r", document={"a": 1}, process={"cwd": "/"}, authkey="ab")
    assert ShimJob.from_message(job.to_message()) == job
    with pytest.raises(ValueError):
        ShimJob.from_message({"nope": 1})
