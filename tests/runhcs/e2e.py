"""Running the CLI end to end: every command its own process, every helper a detached process, all of them clients
of one fake HCS service (the ``cli_service`` fixture, tests/runhcs/conftest.py) -- as runhcs's commands and shims
are all clients of vmcompute.exe.

:class:`ProcessCli` runs ``runhcs --root <root> ...`` through one of two entry points: ``script`` (the ``runhcs``
console script pip installs beside the interpreter) or ``module`` (``python -m pyhcs.runhcs``; the only one on
the Windows embeddable Python the Wine leg uses, which has no console-script launcher). A command's stdout and
stderr go to files, not pipes: ``create``, ``run -d`` and ``exec -d`` hand them to a helper that outlives the
command, so a pipe would not reach end of file before the container ends (runhcs behaves the same).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import pytest

from tests.runtime_spec import errors as schema_errors
from tests.support import IS_WINDOWS, win_sleep

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src"))
#: Seconds a single CLI command may take (a create under Wine starts two Windows Python processes).
COMMAND_TIMEOUT = 120.0
#: How long the container processes of the tests sleep; they are always killed long before.
SLEEP = 60


#: Marks an end-to-end test whose Windows code paths (helper start, inherited handles, named pipes, locks, paths)
#: other tests already exercise under Wine: the Linux leg runs it, the Wine leg skips it (a CLI command costs about
#: 0.5 s there, against 0.07 s on Linux). PYHCS_TEST_ALL_CLI=1 runs it under Wine too.
linux_leg = pytest.mark.skipif(
    IS_WINDOWS and os.environ.get("PYHCS_TEST_ALL_CLI") != "1",
    reason="platform-independent CLI behaviour, run by the Linux leg (PYHCS_TEST_ALL_CLI=1 runs it here too)")
#: Rounds of the race and kill tests: fewer under Wine, where each costs several seconds.
ROUNDS = 1 if IS_WINDOWS else 2


def thinned(values: List[float]) -> List[float]:
    """The moments at which the kill tests kill a command: every other one under Wine."""
    return values[::2] if IS_WINDOWS else values


def shell(posix: str, windows: str) -> Dict[str, Any]:
    """An OCI process running a shell command line: ``/bin/sh -c`` under the POSIX fake, ``cmd`` under Wine."""
    if IS_WINDOWS:
        return {"commandLine": windows, "cwd": "C:\\"}
    return {"commandLine": posix, "cwd": "/"}


def sleeper() -> Dict[str, Any]:
    """A container process that keeps running until killed."""
    return shell(f"sleep {SLEEP}", win_sleep(SLEEP))


def exits_with(code: int, output: str = "") -> Dict[str, Any]:
    """A container process that prints *output* (if any) and exits with *code*."""
    if output:
        return shell(f"echo {output}; exit {code}", f"cmd /c \"echo {output}& exit {code}\"")
    return shell(f"exit {code}", f"cmd /c exit {code}")


def script_path() -> Optional[str]:
    """The ``runhcs`` console script installed beside this interpreter, or None (not installed with pip, or the
    Windows embeddable Python: it has no Scripts folder and no launcher)."""
    folder = os.path.dirname(sys.executable)
    names = ["runhcs.exe", os.path.join("Scripts", "runhcs.exe")] if IS_WINDOWS else ["runhcs"]
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def entry_command(entry: str) -> List[str]:
    if entry == "script":
        path = script_path()
        if path is None:
            raise LookupError("the runhcs console script is not installed beside " + sys.executable)
        return [path]
    return [sys.executable, "-m", "pyhcs.runhcs"]


def check_state(state: Dict[str, Any]) -> None:
    """*state* satisfies the runtime-spec state schema. ``paused`` is the one status the spec's text lets a runtime
    add beyond the schema's enum (docs/cli.md, Differences): such a state must satisfy everything else."""
    checked = dict(state, status="running") if state.get("status") == "paused" else state
    problems = schema_errors("state-schema.json", checked)
    assert problems == [], (state, problems)


@dataclass
class Result:
    argv: List[str]
    code: int
    out: bytes
    err: bytes
    out_path: str = ""
    err_path: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    def output_now(self) -> bytes:
        """The command's stdout file as it is now: a helper that inherited it (the container's stdout) may have
        written to it after the command exited."""
        with open(self.out_path, "rb") as fh:
            return fh.read()


class ProcessCli:
    """``runhcs --root <root> ...`` as separate processes, clients of *service*."""

    def __init__(self, service: Any, root: str, workdir: str, entry: Optional[str] = None,
                 pycache: Optional[str] = None) -> None:
        self.service = service
        self.root = root
        self.workdir = workdir
        self.entry = entry or ("script" if script_path() else "module")
        self.env = service.env()
        # The checkout's pyhcs, whatever is installed (the Windows embeddable Python reads its ._pth instead).
        self.env["PYTHONPATH"] = os.pathsep.join([SRC] + [p for p in [os.environ.get("PYTHONPATH")] if p])
        if pycache:
            # Compiled modules, as an installed pyhcs has them, kept out of the checkout: without them every
            # command would compile pyhcs again (PYTHONDONTWRITEBYTECODE), doubling its start-up time.
            self.env.pop("PYTHONDONTWRITEBYTECODE", None)
            self.env["PYTHONPYCACHEPREFIX"] = pycache
        self._outputs = itertools.count(1)
        self._turns = itertools.count()
        self.history: List[Result] = []

    # -- running commands ------------------------------------------------------------------------------------------
    def argv(self, *args: str, entry: Optional[str] = None, root: bool = True) -> List[str]:
        entry = entry or self.entry
        if entry == "both":  # take turns: each command through the other entry point
            entry = ("script", "module")[next(self._turns) % 2]
        return entry_command(entry) + (["--root", self.root] if root else []) + list(args)

    def output_files(self) -> tuple:
        n = next(self._outputs)
        folder = os.path.join(self.workdir, "out")
        os.makedirs(folder, exist_ok=True)
        return (os.path.join(folder, f"{n}.stdout"), os.path.join(folder, f"{n}.stderr"))

    def __call__(self, *args: str, entry: Optional[str] = None, root: bool = True, stdin: Any = None,
                 timeout: float = COMMAND_TIMEOUT, cwd: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None) -> Result:
        argv = self.argv(*args, entry=entry, root=root)
        out_path, err_path = self.output_files()
        with open(out_path, "w+b") as out, open(err_path, "w+b") as err:
            proc = subprocess.run(argv, env=dict(self.env, **(env or {})),
                                  stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                  stdout=out, stderr=err, timeout=timeout, cwd=cwd or self.workdir)
            out.seek(0)
            err.seek(0)
            result = Result(argv, proc.returncode, out.read(), err.read(), out_path, err_path)
        self.history.append(result)
        return result

    def popen(self, *args: str, stdout: Any = None, stderr: Any = None, stdin: Any = subprocess.DEVNULL
              ) -> "subprocess.Popen[bytes]":
        """A command started and left running (to race it, or to kill it)."""
        return subprocess.Popen(self.argv(*args), env=self.env, stdin=stdin,
                                stdout=stdout if stdout is not None else subprocess.DEVNULL,
                                stderr=stderr if stderr is not None else subprocess.DEVNULL, cwd=self.workdir)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        """A command that must succeed with nothing on stderr."""
        result = self(*args, **kwargs)
        assert (result.code, result.err) == (0, b""), result
        return result

    def fails(self, *args: str, code: int = 1, **kwargs: Any) -> str:
        """A command that must fail with *code*, nothing on stdout and one line on stderr: that line."""
        result = self(*args, **kwargs)
        assert result.code == code and result.out == b"", result
        text = result.err.decode("utf-8")
        assert text.endswith("\n") and text.count("\n") == 1, result
        return text[:-1]

    # -- state ---------------------------------------------------------------------------------------------------------
    def state(self, container_id: str) -> Dict[str, Any]:
        """``state <id>``: 2-space indented JSON, no trailing newline, valid against the runtime-spec schema."""
        result = self.ok("state", container_id)
        assert not result.out.endswith(b"\n") and result.out.startswith(b"{\n  \"ociVersion\": "), result
        state = result.json
        check_state(state)
        return state  # type: ignore[no-any-return]

    def wait_status(self, container_id: str, status: str, timeout: float = 60.0, *,
                    pid: Optional[int] = None) -> Dict[str, Any]:
        """Poll ``state`` until it reports ``status`` (and, when given, ``pid``). A container is ``stopped`` as soon
        as HCS says so, while its helper (whose pid ``state`` prints until it exits) may still be recording the
        stop: a test of the pid after a stop passes ``pid=0`` to wait for the helper to exit."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(container_id)
            if state["status"] == status and (pid is None or state["pid"] == pid):
                return state
            assert time.monotonic() < deadline, \
                f"{container_id} is still {state['status']} with pid {state['pid']}, not {status}" + \
                ("" if pid is None else f" with pid {pid}")
            time.sleep(0.1)

    def list_json(self) -> List[Dict[str, Any]]:
        result = self.ok("list", "--format=json")
        assert result.out.endswith(b"\n") and b"\n" not in result.out[:-1], result
        states = result.json or []
        for state in states:
            check_state(state)
        return states  # type: ignore[no-any-return]

    # -- the service ---------------------------------------------------------------------------------------------------
    def counters(self) -> Dict[str, int]:
        """The service's counters (LiveSystems, RunningProcesses, every client's handles)."""
        with self.service.control() as ctl:
            return dict(ctl.counters())

    def clients(self) -> List[int]:
        with self.service.control() as ctl:
            return list(ctl.clients())

    def hcs_systems(self) -> Dict[str, str]:
        """Every compute system HCS knows, id -> State, asked by a client process of its own
        (HcsEnumerateComputeSystems)."""
        code = ("import json, pyhcs; print(json.dumps({p['Id']: p.get('State', '') "
                "for p in pyhcs.ComputeSystem.enumerate()}))")
        proc = subprocess.run([sys.executable, "-c", code], env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=COMMAND_TIMEOUT)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    def nothing_left(self, timeout: float = 60.0) -> bool:
        """Once every command and helper has gone: no compute system and no process left in HCS (the service's
        counters: no client process needed). True, or an AssertionError saying what is left."""
        deadline = time.monotonic() + timeout
        clients = self.wait_for_no_clients(timeout)
        # A client leaves the service's list when it is seen dead, a moment before the service has closed what it
        # held (server.c: the dead flag, then the clean-up): the counters settle after the list does.
        counters = self.counters()
        while (counters["LiveSystems"] or counters["RunningProcesses"]) and time.monotonic() < deadline:
            time.sleep(0.05)
            counters = self.counters()
        assert not clients and counters["LiveSystems"] == 0 and counters["RunningProcesses"] == 0, \
            f"left in HCS: clients {clients}, {counters}"
        return True

    def helper_pids(self) -> List[int]:
        """The pids of the helpers the state store names (init helpers and exec helpers)."""
        from pyhcs.runhcs.state import Store

        store = Store(self.root)
        pids = []
        for container_id in store.ids():
            record = store.get(container_id) or {}
            pids.append(int((record.get("shim") or {}).get("pid", 0)))
            pids.extend(int(p) for p in (record.get("execs") or {}))
        return [p for p in pids if p > 0]

    def wait_for_no_clients(self, timeout: float = 60.0) -> List[int]:
        """Wait until no process is a client of the service (every command and helper has exited); the clients
        left after *timeout*."""
        deadline = time.monotonic() + timeout
        while True:
            clients = self.clients()
            if not clients or time.monotonic() > deadline:
                return clients
            time.sleep(0.05)

    def cleanup(self) -> None:
        """Delete every container left; then no helper may still run and the service must hold nothing."""
        helpers = self.helper_pids()
        for container_id in self("list", "-q").out.decode().split():
            self("delete", "--force", container_id)
        stray = self.wait_for_no_clients()
        counters = self.counters()
        for pid in stray + helpers:
            kill_process(pid)  # so one failure does not cascade into the next tests
        with self.service.control() as ctl:
            leaks = {k: counters[k] for k in ("OpenOperations", "OpenSystemHandles", "OpenProcessHandles",
                                              "OutstandingStrings") if counters[k]}
            ctl.reset()
        assert not stray, f"processes still connected to the fake HCS after every container was deleted: {stray}"
        assert counters["LiveSystems"] == 0 and counters["RunningProcesses"] == 0, \
            f"compute systems or processes outlived their containers: {counters}"
        assert not leaks, f"HCS handles or strings leaked: {leaks}"


def kill_process(pid: int) -> None:
    """SIGKILL / TerminateProcess, as a crash or an OOM killer would end it."""
    if pid <= 0:
        return
    if IS_WINDOWS:
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32.OpenProcess.restype = ctypes.c_void_p
        handle = kernel32.OpenProcess(0x0001 | 0x00100000, False, pid)  # PROCESS_TERMINATE | SYNCHRONIZE
        if handle:
            kernel32.TerminateProcess(ctypes.c_void_p(handle), 137)
            kernel32.WaitForSingleObject(ctypes.c_void_p(handle), 10000)
            kernel32.CloseHandle(ctypes.c_void_p(handle))
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_gone(pid: int, timeout: float = 60.0) -> bool:
    """Whether process *pid* has ended within *timeout* (a zombie counts as ended)."""
    from pyhcs.runhcs.platform import process_token

    deadline = time.monotonic() + timeout
    while process_token(pid) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def read_text(path: str) -> str:
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8", "replace")


def write_json(path: str, value: Any) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(value, fh)
    return path


def edit_config(bundle: str, **changes: Any) -> None:
    """Set (or, with None, remove) top-level fields of the bundle's config.json."""
    path = os.path.join(bundle, "config.json")
    with open(path, encoding="utf-8") as fh:
        config = json.load(fh)
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    write_json(path, config)
