"""A client process of the fake HCS service, driven by the cross-process tests (tests/test_service*.py).

``Agent(service)`` starts ``python -m tests.service_agent`` with ``PYHCS_FAKE_SERVICE`` set to the service's endpoint:
a separate process that loads the fake (client mode) and runs one command per JSON line on its stdin, answering one
JSON line on its stdout. Commands name their objects (system and process handles, their std streams, event
recorders, background calls) so a test can play several clients step by step -- create here, open there, kill that
one. Everything goes through the raw C ABI (``pyhcs._ffi``, helpers of tests/fakes/rawhcs.py): these tests are about
the fake's behaviour, as tests/test_fake_*.py are.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------------- test side
class AgentError(RuntimeError):
    """A command failed in the agent (its traceback is in the message)."""


class Agent:
    """One client process of a fake HCS service."""

    def __init__(self, service: Any, name: str = "agent", log_dir: Optional[Path] = None,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.name = name
        environment = service.env(env)
        environment["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
        self._stderr = open(log_dir / f"{name}.stderr", "w+b") if log_dir else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.service_agent"], cwd=str(REPO), env=environment,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        self._lines: "queue.Queue[Optional[bytes]]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._next(120)
        self.pid = int(ready["ready"])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, timeout: float) -> Dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AgentError(f"{self.name}: no answer within {timeout} s") from None
        if line is None:
            raise AgentError(f"{self.name} exited ({self.proc.wait()}): {self.stderr()[-3000:]}")
        return json.loads(line)  # type: ignore[no-any-return]

    def __call__(self, cmd: str, **kwargs: Any) -> Any:
        """Runs a command (its arguments as keywords) and returns its value; waits at most 120 s for it."""
        self.send(cmd, **kwargs)
        return self.receive(120.0)

    def send(self, cmd: str, **kwargs: Any) -> None:
        """Starts a command without waiting for it (receive() gets its answer): several agents work at once."""
        assert self.proc.stdin is not None
        self._cmd = cmd
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kwargs}).encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 120.0) -> Any:
        reply = self._next(timeout)
        if "error" in reply:
            raise AgentError(f"{self.name} {self._cmd}: {reply['error']}")
        return reply["value"]

    def stderr(self) -> str:
        if self._stderr is subprocess.DEVNULL:
            return ""
        self._stderr.seek(0)  # type: ignore[union-attr]
        return self._stderr.read().decode(errors="replace")  # type: ignore[union-attr,no-any-return]

    def kill(self) -> None:
        """Ends the client abruptly (SIGKILL / TerminateProcess): nothing is closed by the client itself."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(60)

    def close(self) -> None:
        """Closes every handle and stream the agent holds, checks its own leak counters, and ends it."""
        if self.proc.poll() is None:
            try:
                self("exit")
            except AgentError:
                pass
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait(60)
        if self._stderr is not subprocess.DEVNULL:
            self._stderr.close()  # type: ignore[union-attr]

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------------- agent side
def _agent_main() -> None:  # noqa: C901 - one dispatcher, one command per branch
    from pyhcs.testing import FakeHcs
    from tests.fakes import rawhcs as R

    ffi, lib = R.ffi, R.lib
    fake = FakeHcs(os.environ["PYHCS_COMPUTECORE"])
    systems: Dict[str, Any] = {}
    processes: Dict[str, Any] = {}
    streams: Dict[str, Dict[str, Optional[int]]] = {}
    recorders: Dict[str, Any] = {}
    background: Dict[str, "queue.Queue[Any]"] = {}

    def handle(name: str) -> Any:
        return systems[name] if name in systems else processes[name]

    def watch(name: str) -> None:
        rec = R.EventRecorder()
        recorders[name] = rec
        if name in systems:
            hr = R.u32(lib.HcsSetComputeSystemCallback(systems[name], 0, ffi.NULL, rec.callback))
        else:
            hr = R.u32(lib.HcsSetProcessCallback(processes[name], 0, ffi.NULL, rec.callback))
        if hr != R.S_OK:
            raise RuntimeError(f"callback registration failed: {hr:#x}")

    def system_fn(fn: str) -> Callable[..., int]:
        if fn == "Modify":
            return lambda s, op, d: lib.HcsModifyComputeSystem(s, op, d, ffi.NULL)  # type: ignore[no-any-return]
        if fn == "GetProperties":
            return lib.HcsGetComputeSystemProperties  # type: ignore[no-any-return]
        return getattr(lib, f"Hcs{fn}ComputeSystem")  # type: ignore[no-any-return]

    def run_background(key: str, fn: Callable[[], Any]) -> None:
        q: "queue.Queue[Any]" = queue.Queue()
        background[key] = q

        def body() -> None:
            try:
                q.put({"value": fn()})
            except Exception:  # noqa: BLE001 - reported to the test
                q.put({"error": traceback.format_exc()})

        threading.Thread(target=body, daemon=True).start()

    def close_all() -> None:
        for s in streams.values():
            R.close_info(s)
        streams.clear()
        for p in list(processes.values()):
            lib.HcsCloseProcess(p)
        processes.clear()
        for s in list(systems.values()):
            lib.HcsCloseComputeSystem(s)
        systems.clear()

    def load(n_ops: int, systems_per_client: int, own: List[str], others: List[str], n_procs: int) -> Dict[str, Any]:
        """Behaviour 8: this client's share of the load test (see tests/test_service_load.py)."""
        t0 = time.monotonic()
        handles = [systems[n] for n in own + others]
        done = threading.Semaphore(0)
        completions: Dict[int, int] = {}
        lock = threading.Lock()

        @ffi.callback("HCS_OPERATION_COMPLETION")
        def completed(op: Any, ctx: Any) -> None:
            key = int(ffi.cast("uintptr_t", ctx))
            hr = lib.HcsGetOperationResult(op, ffi.NULL)
            lib.HcsCloseOperation(op)  # HcsCloseOperation.md: allowed inside the callback
            with lock:
                completions[key] = completions.get(key, 0) + 1
                if R.u32(hr) != R.S_OK:
                    completions[-key] = R.u32(hr)
            done.release()

        for i in range(1, n_ops + 1):  # every operation in flight at once
            op = lib.HcsCreateOperation(ffi.cast("void *", i), completed)
            hr = R.u32(lib.HcsGetComputeSystemProperties(handles[i % len(handles)], op, ffi.NULL))
            if hr != R.S_OK:
                raise RuntimeError(f"operation {i} failed to start: {hr:#x}")
        for _ in range(n_ops):
            if not done.acquire(timeout=120):
                raise RuntimeError(f"only {len(completions)} of {n_ops} completions arrived")
        t_ops = time.monotonic() - t0
        failures = {k: v for k, v in completions.items() if k < 0}
        if failures or sorted(completions) != list(range(1, n_ops + 1)) or set(completions.values()) != {1}:
            raise RuntimeError(f"completions lost or repeated: {len(completions)} distinct, failures {failures}")
        # processes: each with its own callback; ProcessExited exactly once per handle
        procs = []
        for k in range(n_procs):
            system = systems[own[k % len(own)]]
            proc, info = R.create_process(system, {"CommandLine": R.TRUE})
            rec = R.EventRecorder()
            assert R.u32(lib.HcsSetProcessCallback(proc, 0, ffi.NULL, rec.callback)) == R.S_OK
            procs.append((proc, info, rec))
        for proc, info, rec in procs:
            rec.wait_for(R.EV_PROCESS_EXITED, timeout=60)
        time.sleep(0.2)  # a duplicate would arrive within this
        dup = [len(rec.events) for _, _, rec in procs if len(rec.events) != 1]
        for proc, info, rec in procs:
            R.close_info(info)
            lib.HcsCloseProcess(proc)
        if dup:
            raise RuntimeError(f"process events not exactly once: {dup}")
        return {"ops_seconds": t_ops, "ops": n_ops, "process_events": n_procs, "seconds": time.monotonic() - t0}

    commands: Dict[str, Callable[..., Any]] = {}
    globals_commands = commands

    def command(fn: Callable[..., Any]) -> Callable[..., Any]:
        commands[fn.__name__] = fn
        return fn

    @command
    def create(name: str, id: str, doc: Any = None, start: bool = True, watch_events: bool = False) -> int:
        h = ffi.new("HCS_SYSTEM *")
        with R.operation() as op:
            hr = R.u32(lib.HcsCreateComputeSystem(R.to_wide(id), R.doc(doc or R.CONTAINER), op, ffi.NULL, h))
            if hr == R.S_OK:
                hr, _ = R.wait(op)
        if h[0] != ffi.NULL:
            systems[name] = h[0]
        if hr == R.S_OK:
            if watch_events:
                watch(name)
            if start:
                hr, _ = R.system_call(lib.HcsStartComputeSystem, systems[name])
        return hr

    @command
    def open(name: str, id: str, watch_events: bool = False) -> int:  # noqa: A001 - the HCS verb
        h = ffi.new("HCS_SYSTEM *")
        hr = R.u32(lib.HcsOpenComputeSystem(R.to_wide(id), R.GENERIC_ALL, h))
        if hr == R.S_OK:
            systems[name] = h[0]
            if watch_events:
                watch(name)
        return hr

    @command
    def watch_handle(name: str) -> None:
        watch(name)

    @command
    def events(name: str, count: int = 0, within: float = 10.0, settle: float = 0.0) -> List[List[Any]]:
        rec = recorders[name]
        with rec.cond:
            rec.cond.wait_for(lambda: len(rec.events) >= count, within)
        if settle:
            time.sleep(settle)  # anything extra (a duplicate) would arrive within this
        with rec.cond:
            return [[t, d] for t, d, _ in rec.events]

    @command
    def system(name: str, fn: str, options: Any = None) -> List[Any]:
        return list(R.system_call(system_fn(fn), systems[name], options))

    @command
    def system_async(key: str, name: str, fn: str, options: Any = None) -> None:
        sys_handle = systems[name]
        run_background(key, lambda: list(R.system_call(system_fn(fn), sys_handle, options)))

    @command
    def enumerate(query: Any = None) -> List[Any]:  # noqa: A001
        with R.operation() as op:
            hr = R.u32(lib.HcsEnumerateComputeSystems(R.doc(query), op))
            if hr != R.S_OK:
                return [hr, None]
            return list(R.wait(op))

    @command
    def wait_exit(name: str, timeout_ms: int = 10000) -> List[Any]:
        out = ffi.new("PWSTR *")
        hr = R.u32(lib.HcsWaitForComputeSystemExit(systems[name], timeout_ms, out))
        return [hr, R.take_wide(out[0])]

    @command
    def wait_exit_async(key: str, name: str, timeout_ms: int = 0xFFFFFFFF) -> None:
        sys_handle = systems[name]

        def body() -> List[Any]:
            out = ffi.new("PWSTR *")
            hr = R.u32(lib.HcsWaitForComputeSystemExit(sys_handle, timeout_ms, out))
            return [hr, R.take_wide(out[0])]

        run_background(key, body)

    @command
    def result(key: str, within: float = 30.0) -> Any:
        reply = background[key].get(timeout=within)
        del background[key]
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["value"]

    @command
    def close(name: str) -> None:
        if name in systems:
            lib.HcsCloseComputeSystem(systems.pop(name))
        else:
            if name in streams:
                R.close_info(streams.pop(name))
            lib.HcsCloseProcess(processes.pop(name))
        recorders.pop(name, None)

    @command
    def spawn(name: str, system: str, params: Dict[str, Any], watch_events: bool = False) -> List[Any]:
        proc = ffi.new("HCS_PROCESS *")
        with R.operation() as op:
            hr = R.u32(lib.HcsCreateProcess(systems[system], R.doc(params), op, ffi.NULL, proc))
            if hr != R.S_OK:
                return [hr, None]
            hr, info, _ = R.wait_process_info(op)
        if proc[0] != ffi.NULL:
            processes[name] = proc[0]
            streams[name] = info
            if watch_events:
                watch(name)
        return [hr, info["pid"]]

    @command
    def open_process(name: str, system: str, pid: int, watch_events: bool = False) -> int:
        h = ffi.new("HCS_PROCESS *")
        hr = R.u32(lib.HcsOpenProcess(systems[system], pid, R.GENERIC_ALL, h))
        if hr == R.S_OK:
            processes[name] = h[0]
            if watch_events:
                watch(name)
        return hr

    @command
    def process_info(name: str) -> List[Any]:
        """HcsGetProcessInfo: a fresh set of std handles for this process (this client's own)."""
        with R.operation() as op:
            hr = R.u32(lib.HcsGetProcessInfo(processes[name], op))
            if hr != R.S_OK:
                return [hr, None]
            hr, info, _ = R.wait_process_info(op)
        if name in streams:
            R.close_info(streams[name])
        streams[name] = info
        return [hr, info["pid"]]

    @command
    def streams_valid(name: str) -> Dict[str, bool]:
        """Whether each std stream the agent holds is an open descriptor of this process."""
        out = {}
        for k, fd in streams.get(name, {}).items():
            if k == "pid":
                continue
            try:
                out[k] = fd is not None and os.fstat(fd) is not None
            except OSError:
                out[k] = False
        return out

    @command
    def read(name: str, stream: str = "stdout") -> str:
        fd = streams[name][stream]
        data = R.read_all(fd)
        return base64.b64encode(data).decode()

    @command
    def write(name: str, data: str, close_after: bool = False) -> None:
        fd = streams[name]["stdin"]
        os.write(fd, base64.b64decode(data))
        if close_after:
            os.close(fd)
            streams[name]["stdin"] = None

    @command
    def process(name: str, fn: str, options: Any = None) -> List[Any]:
        funcs = {"Terminate": lib.HcsTerminateProcess, "Signal": lib.HcsSignalProcess,
                 "GetProperties": lib.HcsGetProcessProperties, "Modify": lib.HcsModifyProcess}
        return list(R.process_call(funcs[fn], processes[name], options))

    @command
    def process_wait(name: str, timeout_ms: int = 10000) -> List[Any]:
        out = ffi.new("PWSTR *")
        hr = R.u32(lib.HcsWaitForProcessExit(processes[name], timeout_ms, out))
        return [hr, R.take_wide(out[0])]

    @command
    def counters() -> Dict[str, int]:
        return fake.counters()

    @command
    def control(method: str, args: Optional[List[Any]] = None, kwargs: Optional[Dict[str, Any]] = None) -> Any:
        """A method of pyhcs.testing.FakeHcs, run in this client (in service mode it acts on the service)."""
        return getattr(fake, method)(*(args or []), **(kwargs or {}))

    @command
    def pid() -> int:
        return os.getpid()

    @command
    def load_phase(n_ops: int, systems_per_client: int, own: List[str], others: List[str], n_procs: int) -> Any:
        return load(n_ops, systems_per_client, own, others, n_procs)

    @command
    def batch(commands: List[Dict[str, Any]]) -> List[Any]:
        """Several commands in one round trip (each a dict with "cmd")."""
        out = []
        for c in commands:
            c = dict(c)
            out.append(globals_commands[c.pop("cmd")](**c))
        return out

    @command
    def all_events(count: int, within: float = 60.0, settle: float = 0.5) -> Dict[str, List[int]]:
        """Waits until every recorder has `count` events, then (after `settle`) returns each one's event types."""
        deadline = time.monotonic() + within
        for rec in recorders.values():
            with rec.cond:
                rec.cond.wait_for(lambda: len(rec.events) >= count, max(0.0, deadline - time.monotonic()))
        time.sleep(settle)
        return {name: [t for t, _, _ in rec.events] for name, rec in recorders.items()}

    @command
    def release() -> Dict[str, int]:
        close_all()
        fake.wait_quiescent(10)
        return fake.counters()

    @command
    def exit() -> None:  # noqa: A001
        close_all()
        fake.assert_no_leaks()

    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        msg = json.loads(line)
        name = msg.pop("cmd")
        try:
            value = commands[name](**msg)
            reply: Dict[str, Any] = {"value": value}
        except Exception:  # noqa: BLE001 - reported to the test
            reply = {"error": traceback.format_exc()}
        print(json.dumps(reply), flush=True)
        if name == "exit":
            break


if __name__ == "__main__":
    _agent_main()
