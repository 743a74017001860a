"""The fake HCS service (``fakehcs-service``): one fake HCS shared by many processes, as ``vmcompute.exe`` is.

A process is a client of the service when it loads the fake with ``PYHCS_FAKE_SERVICE`` set to the service's
endpoint (a Unix socket path on POSIX; a named pipe ``\\\\.\\pipe\\NAME``, or just ``NAME``, on Windows): compute
systems one client creates are opened, watched and stopped by the others, a client that dies has its handles
closed, and the control API acts on every client.

``start_service()`` starts a private service and returns a ``FakeService``: ``.env()`` is the environment of a
client process, ``.control()`` a ``ServiceControl`` (faults, latency, reset, counters of every client) for a process
that is not itself a client, ``.stop()`` and ``.kill()`` (a crash, as far as its clients can tell).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Tuple, Union, cast

from . import _wire as W
from .build import HOST_OS_VERSION_ENV, IS_WINDOWS, fake_library, fake_storage_library, host_os_version, service_executable
from .control import COUNTER_NAMES, Counters, _hr32, check_leaks
from .errors import ServiceError

__all__ = ["SERVICE_ENV", "FakeService", "ServiceControl", "default_endpoint", "new_endpoint", "start_service"]

#: The environment variable naming the endpoint of the service the fake in a process is a client of.
SERVICE_ENV = "PYHCS_FAKE_SERVICE"

PathLike = Union[str, "os.PathLike[str]"]


class ServiceControl:
    """A control connection to a fake HCS service: the control API for every client at once, from a process that
    is not itself a client (it holds no handles and receives no events). A context manager; ``close()`` ends it."""

    def __init__(self, endpoint: str, timeout: float = 30.0) -> None:
        #: The service's endpoint.
        self.endpoint = endpoint
        self._pipe = W.Pipe(endpoint, timeout)
        self._ids = 1
        try:
            self._pipe.send(W.hello())
            kind, _, payload = self.receive()
            if kind != W.WELCOME:
                raise ServiceError(f"the service at {endpoint} refused the connection: {payload!r}")
            r = W.Reader(payload)
            magic, version, _, service_pid, instance = r.take("IHHIQ")
            if magic != W.MAGIC:
                raise ServiceError(f"{endpoint} does not speak the fake HCS protocol")
        except BaseException:
            self._pipe.close()
            raise
        #: The protocol version the service speaks.
        self.version: int = version
        #: The service's process id.
        self.service_pid: int = service_pid
        #: The service's instance number (a restarted service has a new one).
        self.instance: int = instance

    # -- framing (pyhcs's protocol tests use these to send what a well-behaved client never would)
    def send(self, data: bytes) -> None:
        """Send raw bytes (a framed message) to the service."""
        self._pipe.send(data)

    def receive(self) -> Tuple[int, int, bytes]:
        """One message from the service: (kind, id, payload)."""
        length, kind, _handles, msg_id = W.HEADER.unpack(self._pipe.recv_exact(W.HEADER.size))
        if length > W.MAX_PAYLOAD:
            raise ServiceError(f"oversized message ({length} bytes)")
        return kind, msg_id, self._pipe.recv_exact(length)

    def call(self, op: int, fmt: str, *args: Any) -> Tuple[int, List[Any]]:
        """Run request *op* (arguments and outputs in engine_calls.h notation); returns (return value, outputs)."""
        msg_id = self._ids
        self._ids += 1
        self.send(W.request(op, fmt, args, msg_id))
        while True:
            kind, got_id, payload = self.receive()
            if kind == W.REPLY and got_id == msg_id:
                break
        r = W.Reader(payload)
        status = r.take("i")
        message = r.string()
        if status != 0:
            raise ServiceError(f"request {op} rejected: 0x{status & 0xFFFFFFFF:08X} {message}")
        ret = int(r.take("q"))
        outputs: List[Any] = []
        for code in fmt.split(">", 1)[1] if ">" in fmt else "":
            if code == "S":
                outputs.append(r.string())
            elif code in W.OUTPUT_CODES:
                outputs.append(r.take(W.OUTPUT_CODES[code]))
            else:
                raise ValueError(f"unsupported output code {code!r}")
        return ret, outputs

    def close(self) -> None:
        """End the control connection (the service and its clients are unaffected)."""
        self._pipe.close()

    def __enter__(self) -> "ServiceControl":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the control API (FakeHcs's, acting on the whole service)
    def reset(self) -> None:
        """Reset the whole service: its processes killed, its systems forgotten, faults and latency cleared.
        Clients' handles become unknown (calls on them fail; closing them is harmless)."""
        self.call(W.OP_RESET, "")

    def inject_fault(self, function: str, hresult: int, count: int = 1, *, sync: bool = False) -> None:
        """The next *count* calls of *function*, in any client, fail with *hresult* (see
        ``FakeHcs.inject_fault``)."""
        ret, _ = self.call(W.OP_INJECT_FAULT, "tiuu", function, _hr32(hresult), count, 1 if sync else 0)
        if ret == -2:
            raise ValueError(f"{function} has no way to report a failure; the fake cannot inject one")
        if ret != 0:
            raise ValueError(f"the fake HCS exports no function named {function!r}")

    def set_latency(self, function: str, ms: int) -> None:
        """Delay the completion of *function*'s operations in every client by *ms* milliseconds (``"*"``: every
        function; 0 clears)."""
        ret, _ = self.call(W.OP_SET_LATENCY, "tu", function, ms)
        if ret != 0:
            raise ValueError(f"the fake HCS exports no function named {function!r}")

    def simulate_service_disconnect(self) -> None:
        """Every client receives ServiceDisconnect; their calls fail with HCS_E_SERVICE_DISCONNECT until
        ``reset()``."""
        self.call(W.OP_SET_DISCONNECTED, "i", 1)

    def simulate_unexpected_exit(self, system_id: str, status: int = 0x80370106) -> None:
        """The compute system *system_id* stops by itself (SystemExited, ExitType "UnexpectedExit", *status*).
        Raises ``LookupError`` when the service has no such system."""
        ret, _ = self.call(W.OP_UNEXPECTED_EXIT, "ti", system_id, _hr32(status))
        if ret != 0:
            raise LookupError(f"no running compute system {system_id!r} in the fake HCS service")

    def counters(self, pid: Optional[int] = None) -> Counters:
        """Every client's counters summed, with the service's systems and processes (*pid* None), or the counters
        of the client *pid* (``LookupError`` if it is not connected)."""
        if pid is None:
            _, values = self.call(W.OP_GLOBAL_COUNTERS, ">LLLLLLLL")
        else:
            ret, values = self.call(W.OP_CLIENT_COUNTERS, "u>LLLLLLLL", pid)
            if ret != 0:
                raise LookupError(f"no client with process id {pid} is connected")
        return cast(Counters, dict(zip(COUNTER_NAMES, (int(v) for v in values))))

    def global_counters(self) -> Counters:
        """Every client's counters summed (``counters()``)."""
        return self.counters()

    def client_counters(self, pid: int) -> Counters:
        """The counters of the client process *pid* (``LookupError`` if it is not connected)."""
        return self.counters(pid)

    def clients(self) -> List[int]:
        """Process ids of the connected clients."""
        _, (text,) = self.call(W.OP_LIST_CLIENTS, ">S")
        return [int(pid) for pid in json.loads(text)]

    def assert_no_leaks(self, timeout: float = 5.0) -> None:
        """``check_leaks(self, timeout)``: no handle open and no result string unfreed in any connected client."""
        check_leaks(self, timeout)

    def stop(self) -> None:
        """Ask the service to stop (it kills its processes; clients receive ServiceDisconnect) and wait until its
        connection ends."""
        msg_id = self._ids
        self._ids += 1
        self.send(W.request(W.OP_STOP, "", (), msg_id))
        try:
            while True:
                self.receive()
        except (EOFError, OSError):
            pass
        self.close()


def new_endpoint(name: Optional[str] = None) -> str:
    """A private endpoint (a fresh name unless *name* is given): a socket in the temporary folder (POSIX; short,
    for the 107-byte limit of socket paths) or a named pipe (Windows)."""
    name = name or f"{os.getpid()}-{secrets.token_hex(4)}"
    if IS_WINDOWS:
        return f"\\\\.\\pipe\\fakehcs-{name}"
    # $TMPDIR when it is short enough for a socket path (at most 107 bytes), else /tmp.
    tmpdir = os.environ.get("TMPDIR", "")
    base = Path(tmpdir) if tmpdir and len(tmpdir) < 60 and Path(tmpdir).is_dir() else Path("/tmp")
    return str(base / f"fakehcs-{name}.sock")


def default_endpoint() -> str:
    """The endpoint of ``python -m pyhcs.testing service start`` without ``--endpoint``: one per user."""
    user = str(os.getuid()) if hasattr(os, "getuid") else (os.environ.get("USERNAME") or "user")
    return new_endpoint(f"service-{user}")


class FakeService:
    """A running fake HCS service. Stop it with ``stop()``, or use it as a context manager."""

    def __init__(self, endpoint: str, process: "Optional[subprocess.Popen[bytes]]", pid: int,
                 log_path: Optional[Path]) -> None:
        #: Where clients reach it (the value of ``PYHCS_FAKE_SERVICE``).
        self.endpoint = endpoint
        #: The service process, when this process started it.
        self.process = process
        #: The service's process id.
        self.pid = pid
        #: Its log (what it writes to stderr).
        self.log_path = log_path

    def __repr__(self) -> str:
        return f"<FakeService pid={self.pid} endpoint={self.endpoint!r}>"

    def env(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """The environment of a client process: *base* (default: ours) with ``PYHCS_FAKE_SERVICE`` set to this
        service, and ``PYHCS_COMPUTECORE`` / ``PYHCS_COMPUTESTORAGE`` naming the fake, so pyhcs in that process
        loads the fake as a client of this service."""
        env = dict(os.environ if base is None else base)
        env[SERVICE_ENV] = self.endpoint
        env[HOST_OS_VERSION_ENV] = host_os_version(env)
        env["PYHCS_COMPUTECORE"] = str(fake_library())
        env["PYHCS_COMPUTESTORAGE"] = str(fake_storage_library())
        return env

    def control(self, timeout: float = 30.0) -> ServiceControl:
        """A new control connection (close it, or use it in a ``with`` block)."""
        return ServiceControl(self.endpoint, timeout)

    def alive(self) -> bool:
        """Whether the service still runs (answers, when this process did not start it)."""
        if self.process is not None:
            return self.process.poll() is None
        try:
            with self.control(timeout=2):
                return True
        except (OSError, EOFError, ServiceError):
            return False

    def log(self) -> str:
        """The service's log so far ("" if there is none)."""
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the service (its compute systems' processes are killed; clients receive ServiceDisconnect)."""
        if self.process is not None and self.process.poll() is not None:
            return
        try:
            with self.control(timeout=5) as ctl:
                ctl.stop()
        except (OSError, EOFError, ServiceError):
            pass
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """End the service abruptly (SIGKILL / TerminateProcess): a crash, as far as its clients can tell."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(30)
        else:
            os.kill(self.pid, getattr(signal, "SIGKILL", signal.SIGTERM))

    def __enter__(self) -> "FakeService":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_service(endpoint: Optional[str] = None, *, executable: Optional[PathLike] = None,
                  log: Optional[PathLike] = None, exit_with_parent: bool = True, detach: bool = False,
                  env: Optional[Dict[str, str]] = None, timeout: float = 60.0) -> FakeService:
    """Start ``fakehcs-service`` at *endpoint* (default: a fresh private one) and return once it listens.

    *executable*: default ``service_executable()`` (built on first use). *exit_with_parent*: the service stops
    when this process ends, so a test run that dies leaves nothing behind. *detach*: the service outlives this
    process, in a session of its own. *env*: the service's environment (default: ours), which the processes it
    runs inherit when ``ProcessParameters`` has no ``Environment``. Its log (stderr) goes to *log* (default: a file
    beside a POSIX endpoint, or in the temporary folder). Raises ``ServiceError`` if it does not start."""
    endpoint = endpoint or new_endpoint()
    exe = Path(executable) if executable else service_executable()
    if log:
        log_path = Path(log)
    elif not IS_WINDOWS and endpoint.endswith(".sock"):
        log_path = Path(endpoint[:-len(".sock")] + ".log")
    else:
        log_path = Path(tempfile.gettempdir()) / (endpoint.replace("\\", "/").rsplit("/", 1)[-1] + ".log")
    cmd = [str(exe), endpoint]
    if exit_with_parent and not detach:
        cmd += ["--exit-with-pid", str(os.getpid())]
    kwargs: Dict[str, Any] = {}
    if detach:
        if IS_WINDOWS:
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) | 0x00000008  # DETACHED
        else:
            kwargs["start_new_session"] = True
    child_env = dict(os.environ if env is None else env)
    child_env.pop(SERVICE_ENV, None)  # the service is not a client of another one
    child_env[HOST_OS_VERSION_ENV] = host_os_version(child_env)  # the engine's host, as its clients see it
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file,
                                env=child_env, **kwargs)
    stdout = cast(IO[bytes], proc.stdout)
    line: List[bytes] = []
    reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line or b"listening on" not in line[0]:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        raise ServiceError(f"fakehcs-service did not start at {endpoint} (exit {proc.returncode}): "
                           f"{(line[0] if line else b'').decode(errors='replace')}{text[-2000:]}")
    stdout.close()
    return FakeService(endpoint, proc, proc.pid, log_path)
