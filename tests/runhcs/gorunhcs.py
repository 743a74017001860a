"""A client that drives the CLI exactly as go-runhcs (hcsshim pkg/go-runhcs) does, to show that containerd's
runhcs client library can drive pyhcs's runhcs.

What is go-runhcs's, reproduced here (go-runhcs-contract.md sections 0-1):

* global flags first, in the order ``--debug --log <abs|pipe> --log-format --owner --root``, each only when set;
* ``create --bundle <bundle as given> [--pid-file <abs>] [--shim-log <abs|pipe>] [--vm-log ...] [--vm-console ...]
  <id>``; ``exec --process <file as given> [--detach] [--pid-file <abs>] [--shim-log ...] <id>``;
  ``kill <id> <signal>`` with the signal always present, ``""`` for the default; ``delete [--force] <id>``;
  ``ps --format=json <id>``; ``list --format=json``; ``resize-tty [--pid N] <id> <w> <h>``;
* three ways of collecting results: stdout and stderr **combined** (``state``, ``ps`` and every command without
  IO -- the JSON of state and ps is parsed from the combined bytes), stdout **only** with stderr discarded
  (``list``), or the caller's IO for create and exec (the pipes' write ends closed in the client right after the
  command starts, so they reach end of file when the last holder, the helper, exits); success is exit status 0;
* the container's exit code read by waiting on the process whose pid the pid file holds (as hcsshim's e2e matrix
  test and containerd's runhcs shim v1 do: ``os.FindProcess(pid).Wait()``). On Linux that process is not our
  child; :func:`become_subreaper` makes orphans our children, as a Windows process handle makes any process
  waitable.

``python -m tests.runhcs.gorunhcs REPORT.json`` runs :func:`scenario` as a separate client process (a
containerd shim's place) with the settings in the environment (``GORUNHCS_*``) and writes what it saw;
tests/runhcs/go_client is the same client in Go.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

SAFE_PIPE_PREFIX = "\\\\.\\pipe\\ProtectedPrefix\\Administrators\\"
IS_WINDOWS = sys.platform == "win32"


class RunhcsError(RuntimeError):
    """What go-runhcs returns: ``<argv0> did not terminate sucessfully[: <combined output>]`` (sic)."""


class IO:
    """go-runc's pipe IO as hcsshim's e2e test builds it: stdout and stderr pipes read into buffers."""

    def __init__(self) -> None:
        self._out_r, self.out_w = os.pipe()
        self._err_r, self.err_w = os.pipe()
        self.stdout = bytearray()
        self.stderr = bytearray()
        self._threads = [threading.Thread(target=self._copy, args=(self._out_r, self.stdout), daemon=True),
                         threading.Thread(target=self._copy, args=(self._err_r, self.stderr), daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _copy(fd: int, into: bytearray) -> None:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            into += chunk
        os.close(fd)

    def close_after_start(self) -> None:
        for fd in (self.out_w, self.err_w):
            os.close(fd)

    def wait(self, timeout: float = 60) -> bool:
        """Until both pipes reach end of file (every holder -- the helper -- is gone)."""
        for t in self._threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self._threads)


@dataclass
class ContainerState:
    """runhcs's ContainerState (hcsshim internal/runhcs/container.go), as go-runhcs unmarshals it."""

    ociVersion: str
    id: str
    pid: int
    status: str
    bundle: str
    rootfs: str
    created: str
    owner: str
    annotations: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Dict[str, Any]) -> "ContainerState":
        return cls(**value)


class Runhcs:
    """go-runhcs's ``Runhcs`` (Debug, Log, LogFormat, Owner, Root) over an executable (``runhcs.exe`` on Windows;
    here any argv prefix)."""

    def __init__(self, command: Sequence[str], *, debug: bool = False, log: str = "", log_format: str = "",
                 owner: str = "", root: str = "", env: Optional[Dict[str, str]] = None) -> None:
        self.command = list(command)
        self.debug, self.log, self.log_format, self.owner, self.root = debug, log, log_format, owner, root
        self.env = dict(os.environ if env is None else env)
        self.calls: List[List[str]] = []

    def args(self) -> List[str]:
        out = []
        if self.debug:
            out.append("--debug")
        if self.log:
            out += ["--log", self.log if self.log.startswith(SAFE_PIPE_PREFIX) else os.path.abspath(self.log)]
        if self.log_format:
            out += ["--log-format", self.log_format]
        if self.owner:
            out += ["--owner", self.owner]
        if self.root:
            out += ["--root", self.root]
        return out

    def _argv(self, args: Sequence[str]) -> List[str]:
        argv = self.command + self.args() + list(args)
        self.calls.append(argv)
        return argv

    def _output(self, args: Sequence[str], combined: bool) -> bytes:
        """cmdOutput: stdout (and stderr when *combined*) into one buffer; exit status 0 or an error."""
        proc = subprocess.run(self._argv(args), env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT if combined else subprocess.DEVNULL, timeout=300)
        if proc.returncode != 0:
            message = f"{self.command[0]} did not terminate sucessfully"
            raise RunhcsError(message + (f": {proc.stdout.decode(errors='replace')}" if combined else ""))
        return proc.stdout

    def _run_or_error(self, args: Sequence[str]) -> None:
        self._output(args, combined=True)

    def _with_io(self, args: Sequence[str], io: IO) -> int:
        """Run with the caller's IO: the child's stdout/stderr are the pipes, closed here right after it starts."""
        proc = subprocess.Popen(self._argv(args), env=self.env, stdin=subprocess.DEVNULL, stdout=io.out_w,
                                stderr=io.err_w)
        io.close_after_start()
        return proc.wait(300)

    @staticmethod
    def _abs_or_pipe(value: str) -> str:
        return value if value.startswith(SAFE_PIPE_PREFIX) else os.path.abspath(value)

    # -- the methods ------------------------------------------------------------------------------------------------
    def create(self, container_id: str, bundle: str, *, io: Optional[IO] = None, pid_file: str = "",
               shim_log: str = "", vm_log: str = "", vm_console: str = "") -> None:
        args = ["create", "--bundle", bundle]
        if pid_file:
            args += ["--pid-file", os.path.abspath(pid_file)]
        if shim_log:
            args += ["--shim-log", self._abs_or_pipe(shim_log)]
        if vm_log:
            args += ["--vm-log", self._abs_or_pipe(vm_log)]
        if vm_console:
            args += ["--vm-console", vm_console]
        args.append(container_id)
        if io is None:
            self._run_or_error(args)
        elif self._with_io(args, io) != 0:
            raise RunhcsError(f"{self.command[0]} did not terminate sucessfully")

    def start(self, container_id: str) -> None:
        self._run_or_error(["start", container_id])

    def exec(self, container_id: str, process_file: str, *, io: Optional[IO] = None, detach: bool = False,
             pid_file: str = "", shim_log: str = "") -> None:
        args = ["exec", "--process", process_file]
        if detach:
            args.append("--detach")
        if pid_file:
            args += ["--pid-file", os.path.abspath(pid_file)]
        if shim_log:
            args += ["--shim-log", self._abs_or_pipe(shim_log)]
        args.append(container_id)
        if io is None:
            self._run_or_error(args)
        elif self._with_io(args, io) != 0:
            raise RunhcsError(f"{self.command[0]} did not terminate sucessfully")

    def kill(self, container_id: str, signal: str) -> None:
        self._run_or_error(["kill", container_id, signal])

    def delete(self, container_id: str, force: bool = False) -> None:
        self._run_or_error(["delete"] + (["--force"] if force else []) + [container_id])

    def pause(self, container_id: str) -> None:
        self._run_or_error(["pause", container_id])

    def resume(self, container_id: str) -> None:
        self._run_or_error(["resume", container_id])

    def resize_tty(self, container_id: str, width: int, height: int, pid: Optional[int] = None) -> None:
        args = ["resize-tty"] + (["--pid", str(pid)] if pid else []) + [container_id, str(width), str(height)]
        self._run_or_error(args)

    def state(self, container_id: str) -> ContainerState:
        return ContainerState.from_json(json.loads(self._output(["state", container_id], combined=True)))

    def list(self) -> List[ContainerState]:
        return [ContainerState.from_json(s) for s in json.loads(self._output(["list", "--format=json"], False))
                or []]

    def ps(self, container_id: str) -> List[int]:
        return list(json.loads(self._output(["ps", "--format=json", container_id], combined=True)) or [])


# -- waiting for a process that is not our child ---------------------------------------------------------------------
def become_subreaper() -> None:
    """Linux: orphaned descendants (the helpers create and exec leave behind) become our children, so we can wait
    for them and read their exit status (prctl PR_SET_CHILD_SUBREAPER)."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def wait_pid(pid: int, timeout: float = 120) -> int:
    """The exit code of process *pid* (os.FindProcess(pid).Wait() in Go)."""
    if IS_WINDOWS:
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32.OpenProcess.restype = ctypes.c_void_p
        handle = kernel32.OpenProcess(0x1000 | 0x00100000, False, pid)  # QUERY_LIMITED_INFORMATION | SYNCHRONIZE
        if not handle:
            raise OSError(f"OpenProcess({pid}) failed: {ctypes.get_last_error()}")  # type: ignore[attr-defined]
        try:
            if kernel32.WaitForSingleObject(ctypes.c_void_p(handle), int(timeout * 1000)) != 0:
                raise TimeoutError(f"process {pid} did not exit within {timeout} s")
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(ctypes.c_void_p(handle), ctypes.byref(code))
            return int(code.value)
        finally:
            kernel32.CloseHandle(ctypes.c_void_p(handle))
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} did not exit within {timeout} s")
        time.sleep(0.02)


def read_pid_file(path: str) -> int:
    """strconv.Atoi of the whole file: a trailing newline would be an error, as in hcsshim's readPidFile."""
    with open(path, "rb") as fh:
        text = fh.read().decode("ascii")
    if not text.isdigit():
        raise ValueError(f"pidfile failed to parse pid: {text!r}")
    return int(text)


# -- the scenario both clients run -----------------------------------------------------------------------------------
def scenario(r: Runhcs, work: str, hello_bundle: str, sleeper_bundle: str, exec_process: str,
             exit4_process: str) -> Dict[str, Any]:
    """hcsshim's e2e matrix test (create with IO, pid file, shim log; start; wait for the pid file's process;
    the relayed output), then every other go-runhcs call on a running container. Returns what was seen."""
    report: Dict[str, Any] = {"list_before": [s.id for s in r.list()]}

    # 1. runhcs_e2e_matrix_test.go testWindows
    io = IO()
    r.create("hello", hello_bundle, io=io, pid_file=os.path.join(work, "pid-file.txt"),
             shim_log=os.path.join(work, "shim-log.txt"))
    pid = read_pid_file(os.path.join(work, "pid-file.txt"))
    created = r.state("hello")
    report["created"] = {"status": created.status, "pid_is_pid_file": created.pid == pid, "owner": created.owner}
    r.start("hello")
    report["hello_exit"] = wait_pid(pid)
    report["hello_io_closed"] = io.wait()
    report["hello_stdout"] = bytes(io.stdout).decode(errors="replace")
    report["hello_stderr"] = bytes(io.stderr).decode(errors="replace")
    stopped = r.state("hello")
    report["hello_stopped"] = {"status": stopped.status, "pid": stopped.pid}
    r.delete("hello", force=True)

    # 2. the other calls, on a running container
    io = IO()
    r.create("busy", sleeper_bundle, io=io, pid_file=os.path.join(work, "busy.pid"))
    busy_pid = read_pid_file(os.path.join(work, "busy.pid"))
    r.start("busy")
    report["running"] = r.state("busy").status
    report["ps"] = r.ps("busy")
    report["list"] = [(s.id, s.status, s.pid == busy_pid, s.created.endswith("Z")) for s in r.list()]
    exec_io = IO()
    r.exec("busy", exec_process, io=exec_io)
    exec_io.wait()
    report["exec_stdout"] = bytes(exec_io.stdout).decode(errors="replace")
    exec_io = IO()
    r.exec("busy", exit4_process, io=exec_io, detach=True, pid_file=os.path.join(work, "exec.pid"))
    report["exec_detached_exit"] = wait_pid(read_pid_file(os.path.join(work, "exec.pid")))
    exec_io.wait()
    r.pause("busy")
    report["paused"] = r.state("busy").status
    r.resume("busy")
    try:
        r.resize_tty("busy", 80, 25)
        report["resize_tty"] = "ok"
    except RunhcsError as exc:
        report["resize_tty"] = str(exc)
    try:
        r.kill("busy", "SIGKILL")
        report["kill_sigkill"] = "ok"
    except RunhcsError as exc:
        report["kill_sigkill"] = str(exc)
    r.kill("busy", "")  # go-runhcs sends the empty signal: CtrlShutdown
    report["busy_exited"] = wait_pid(busy_pid) is not None
    io.wait()
    report["busy_stopped"] = r.state("busy").status
    try:
        r.kill("busy", "")
        report["kill_stopped"] = "ok"
    except RunhcsError as exc:
        report["kill_stopped"] = str(exc)
    r.delete("busy")
    try:
        r.state("busy")
        report["state_deleted"] = "ok"
    except RunhcsError as exc:
        report["state_deleted"] = str(exc)
    report["list_after"] = [s.id for s in r.list()]
    report["argv"] = [call[len(r.command):] for call in r.calls]
    return report


def main() -> int:
    """``python -m tests.runhcs.gorunhcs REPORT``: the scenario as its own process; settings from GORUNHCS_*."""
    env = os.environ
    become_subreaper()
    r = Runhcs(json.loads(env["GORUNHCS_COMMAND"]), debug=True, log=env["GORUNHCS_LOG"], log_format="json",
               owner="containerd-runhcs-shim-v1", root=env["GORUNHCS_ROOT"])
    report = scenario(r, env["GORUNHCS_WORK"], env["GORUNHCS_HELLO"], env["GORUNHCS_SLEEPER"],
                      env["GORUNHCS_EXEC"], env["GORUNHCS_EXIT4"])
    with open(sys.argv[1], "w", encoding="utf-8") as fh:
        json.dump(report, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
