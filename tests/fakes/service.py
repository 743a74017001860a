#!/usr/bin/env python3
"""Start, stop and talk to the fake HCS service (``fakehcs-service``), the fake's vmcompute.exe.

One command each (run from the repository root; the first start builds the service):

    python3 tests/fakes/service.py start [--endpoint ENDPOINT]     # builds it if needed, starts it in the background
    python3 tests/fakes/service.py stop [--endpoint ENDPOINT]      # kills its processes; clients: ServiceDisconnect
    python3 tests/fakes/service.py status [--endpoint ENDPOINT]
    eval "$(python3 tests/fakes/service.py env)"                   # this shell's programs become its clients

A process is a client of the service when it loads the fake (``libfakehcs.so`` / ``computecore.dll``) with the
environment variable ``PYHCS_FAKE_SERVICE`` set to the service's endpoint: a Unix socket path on POSIX, a named pipe
(``\\\\.\\pipe\\NAME``, or just ``NAME``) on Windows. Without it the fake runs in process, as before.

From Python (tests, tools): ``start_service(endpoint=None) -> FakeService`` starts a private service and returns a
handle with ``.endpoint``, ``.env()`` (the environment for client processes), ``.control()`` (a ``ServiceControl``:
counters of every client, fault injection, reset, ... without becoming a client), ``.stop()`` and ``.kill()`` (a
crash). ``ServiceControl`` speaks the protocol of ``wire.h`` directly, so the fuzz tests use its framing helpers.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

HERE = Path(__file__).resolve().parent
IS_WINDOWS = sys.platform == "win32"
SERVICE_ENV = "PYHCS_FAKE_SERVICE"
EXECUTABLE_ENV = "PYHCS_FAKE_SERVICE_EXECUTABLE"

# ---------------------------------------------------------------------------------------------------- the protocol
# wire.h: a 16-byte header (u32 payload length, u16 kind, u16 handles, u64 id), little-endian, then the payload.
HEADER = struct.Struct("<IHHQ")
MAGIC = 0x53434846
VERSION = 1
MAX_PAYLOAD = 16 << 20
NULL_STRING = 0xFFFFFFFF
HELLO, WELCOME, REFUSED, REQUEST, REPLY, EVENT, NOTICE, NOTICE_ACK, COUNTERS_QUERY, COUNTERS = range(1, 11)
HELLO_CONTROL = 1
OP_FAULT_TAKE, OP_INJECT_FAULT, OP_SET_LATENCY, OP_GLOBAL_COUNTERS, OP_CLIENT_COUNTERS, OP_LIST_CLIENTS, OP_STOP = (
    range(100, 107))
# engine_calls.h ops used here
OP_SET_DISCONNECTED, OP_UNEXPECTED_EXIT, OP_RESET, OP_COUNTS = 24, 25, 27, 28
COUNTER_NAMES = ("OpenOperations", "OpenSystemHandles", "OpenProcessHandles", "OutstandingStrings", "LiveSystems",
                 "RunningProcesses", "CallbacksInFlight", "CallbacksDelivered")
LEAK_COUNTERS = ("OpenOperations", "OpenSystemHandles", "OpenProcessHandles", "OutstandingStrings")


def frame(kind: int, payload: bytes = b"", msg_id: int = 0, handles: int = 0) -> bytes:
    """One message: header + payload."""
    return HEADER.pack(len(payload), kind, handles, msg_id) + payload


def encode_string(s: Optional[str]) -> bytes:
    if s is None:
        return struct.pack("<I", NULL_STRING)
    b = s.encode()
    return struct.pack("<I", len(b)) + b


def encode_args(fmt: str, args: Sequence[Any]) -> bytes:
    """The inputs of a request in engine_calls.h notation (s/t string, U uint64, u uint32, i int32)."""
    inputs = fmt.split(">", 1)[0]
    if len(inputs) != len(args):
        raise ValueError(f"format {fmt!r} takes {len(inputs)} arguments, got {len(args)}")
    out = b""
    for code, value in zip(inputs, args):
        if code in "st":
            out += encode_string(value)
        elif code == "U":
            out += struct.pack("<Q", value)
        elif code == "u":
            out += struct.pack("<I", value)
        elif code == "i":
            out += struct.pack("<i", value)
        else:
            raise ValueError(f"unknown input code {code!r}")
    return out


def request(op: int, fmt: str, args: Sequence[Any], msg_id: int) -> bytes:
    return frame(REQUEST, struct.pack("<HH", op, 0) + encode_args(fmt, args), msg_id)


def hello(pid: Optional[int] = None, flags: int = HELLO_CONTROL,
          versions: Tuple[int, int] = (VERSION, VERSION)) -> bytes:
    return frame(HELLO, struct.pack("<IHHII", MAGIC, versions[0], versions[1], os.getpid() if pid is None else pid,
                                    flags))


class Reader:
    """Sequential reads from a payload."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        s = struct.Struct("<" + fmt)
        value = s.unpack_from(self.data, self.pos)
        self.pos += s.size
        return value[0] if len(value) == 1 else value

    def string(self) -> Optional[str]:
        n = self.take("I")
        if n == NULL_STRING:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s


_OUTPUT_CODES = {"U": "Q", "n": "i", "L": "q"}


class ServiceError(RuntimeError):
    """The service refused a request or cannot be reached."""


class _Pipe:
    """A byte stream to the endpoint: a Unix socket, or a named pipe opened as a file on Windows."""

    def __init__(self, endpoint: str, timeout: float) -> None:
        self._sock: Optional[socket.socket] = None
        self._fd: Optional[int] = None
        if IS_WINDOWS:
            name = endpoint if endpoint.lower().startswith(("\\\\.\\pipe\\", "\\\\?\\pipe\\")) else (
                "\\\\.\\pipe\\" + endpoint)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    self._fd = os.open(name, os.O_RDWR | getattr(os, "O_BINARY", 0))
                    break
                except OSError as exc:
                    # ERROR_PIPE_BUSY (231): every instance is taken for a moment.
                    if getattr(exc, "winerror", None) != 231 or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
        else:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.settimeout(timeout)
            self._sock.connect(endpoint)

    def send(self, data: bytes) -> None:
        if self._sock is not None:
            self._sock.sendall(data)
        else:
            assert self._fd is not None
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]

    def recv_exact(self, n: int) -> bytes:
        chunks = []
        while n > 0:
            if self._sock is not None:
                chunk = self._sock.recv(n)
            else:
                assert self._fd is not None
                chunk = os.read(self._fd, n)
            if not chunk:
                raise EOFError("the fake HCS service closed the connection")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        elif self._fd is not None:
            os.close(self._fd)
        self._sock = self._fd = None


class ServiceControl:
    """A control connection to a fake HCS service: the FakeHcs* control API for every client at once, from a process
    that is not itself a client (it receives no events and holds no handles)."""

    def __init__(self, endpoint: str, timeout: float = 30.0) -> None:
        self.endpoint = endpoint
        self._pipe = _Pipe(endpoint, timeout)
        self._ids = 1
        self._pipe.send(hello())
        kind, _, payload = self.receive()
        if kind != WELCOME:
            raise ServiceError(f"the service at {endpoint} refused the connection: {payload!r}")
        r = Reader(payload)
        magic, self.version, _, self.service_pid, self.instance = r.take("IHHIQ")
        if magic != MAGIC:
            raise ServiceError(f"{endpoint} does not speak the fake HCS protocol")

    # -- framing
    def send(self, data: bytes) -> None:
        self._pipe.send(data)

    def receive(self) -> Tuple[int, int, bytes]:
        """One message: (kind, id, payload)."""
        length, kind, handles, msg_id = HEADER.unpack(self._pipe.recv_exact(HEADER.size))
        if length > MAX_PAYLOAD:
            raise ServiceError(f"oversized message ({length} bytes)")
        return kind, msg_id, self._pipe.recv_exact(length)

    def call(self, op: int, fmt: str, *args: Any) -> Tuple[int, List[Any]]:
        """Runs request `op` (arguments and outputs in engine_calls.h notation); returns (return value, outputs)."""
        msg_id = self._ids
        self._ids += 1
        self.send(request(op, fmt, args, msg_id))
        while True:
            kind, got_id, payload = self.receive()
            if kind == REPLY and got_id == msg_id:
                break
        r = Reader(payload)
        status = r.take("i")
        message = r.string()
        if status != 0:
            raise ServiceError(f"request {op} rejected: 0x{status & 0xFFFFFFFF:08X} {message}")
        ret = r.take("q")
        outputs: List[Any] = []
        for code in fmt.split(">", 1)[1] if ">" in fmt else "":
            if code == "S":
                outputs.append(r.string())
            elif code in _OUTPUT_CODES:
                outputs.append(r.take(_OUTPUT_CODES[code]))
            else:
                raise ValueError(f"unsupported output code {code!r}")
        return ret, outputs

    def close(self) -> None:
        self._pipe.close()

    def __enter__(self) -> "ServiceControl":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the control API
    def reset(self) -> None:
        """FakeHcsReset for the whole service: processes killed, systems forgotten, faults and latency cleared."""
        self.call(OP_RESET, "")

    def inject_fault(self, function: str, hresult: int, count: int = 1, *, sync: bool = False) -> None:
        """The next `count` calls of `function`, in any client, fail with `hresult` (see FakeHcs.inject_fault)."""
        hr = hresult & 0xFFFFFFFF
        hr = hr - (1 << 32) if hr & 0x80000000 else hr
        ret, _ = self.call(OP_INJECT_FAULT, "tiuu", function, hr, count, 1 if sync else 0)
        if ret != 0:
            raise ValueError(f"the fake HCS exports no function named {function!r}")

    def set_latency(self, function: str, ms: int) -> None:
        ret, _ = self.call(OP_SET_LATENCY, "tu", function, ms)
        if ret != 0:
            raise ValueError(f"the fake HCS exports no function named {function!r}")

    def simulate_service_disconnect(self) -> None:
        """Every client receives ServiceDisconnect; later calls fail until reset (FakeHcsSimulateServiceDisconnect)."""
        self.call(OP_SET_DISCONNECTED, "i", 1)

    def simulate_unexpected_exit(self, system_id: str, status: int = 0x80370106) -> None:
        hr = status & 0xFFFFFFFF
        ret, _ = self.call(OP_UNEXPECTED_EXIT, "ti", system_id, hr - (1 << 32) if hr & 0x80000000 else hr)
        if ret != 0:
            raise LookupError(f"no running compute system {system_id!r} in the fake HCS service")

    def counters(self, pid: Optional[int] = None) -> Dict[str, int]:
        """Every client's counters summed with the service's (pid None), or one client's (LookupError if none)."""
        if pid is None:
            _, values = self.call(OP_GLOBAL_COUNTERS, ">LLLLLLLL")
        else:
            ret, values = self.call(OP_CLIENT_COUNTERS, "u>LLLLLLLL", pid)
            if ret != 0:
                raise LookupError(f"no client with process id {pid} is connected")
        return dict(zip(COUNTER_NAMES, values))

    def clients(self) -> List[int]:
        """Process ids of the connected clients."""
        _, (text,) = self.call(OP_LIST_CLIENTS, ">S")
        return list(json.loads(text))

    def assert_no_leaks(self, timeout: float = 5.0) -> None:
        """No handle open and no result string unfreed in any client (waits up to `timeout` for them to settle)."""
        deadline = time.monotonic() + timeout
        while True:
            counters = self.counters()
            leaks = {k: counters[k] for k in LEAK_COUNTERS if counters[k]}
            if not leaks or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if leaks:
            raise AssertionError(f"fake HCS service leak check failed: {leaks} (all counters: {counters})")

    def stop(self) -> None:
        """Asks the service to stop (it kills its processes) and waits until its connection ends."""
        msg_id = self._ids
        self._ids += 1
        self.send(request(OP_STOP, "", (), msg_id))
        try:
            while True:
                self.receive()
        except (EOFError, OSError):
            pass
        self.close()


# ---------------------------------------------------------------------------------------------------- the process
def service_executable() -> Path:
    """The fakehcs-service executable: $PYHCS_FAKE_SERVICE_EXECUTABLE; else beside the fake DLLs the Windows leg
    uses ($PYHCS_FAKE_LIBRARY); else built from tests/fakes (POSIX)."""
    explicit = os.environ.get(EXECUTABLE_ENV)
    if explicit:
        return Path(explicit)
    library = os.environ.get("PYHCS_FAKE_LIBRARY")
    if library:
        beside = Path(library).parent / ("fakehcs-service.exe" if IS_WINDOWS else "fakehcs-service")
        if beside.is_file():
            return beside
    if IS_WINDOWS:
        raise FileNotFoundError("fakehcs-service.exe not found: build it with tests/fakes/build_windows.py and set "
                                f"{EXECUTABLE_ENV} (tests/windows/run_wine.py does both)")
    sys.path.insert(0, str(HERE.parent.parent))
    from tests.fakes.build import build_service

    return build_service()


def new_endpoint(name: Optional[str] = None) -> str:
    """A private endpoint (a fresh name unless `name` is given): a socket in the temporary folder (POSIX; short, for
    the 107-byte limit of socket paths) or a named pipe (Windows)."""
    name = name or f"{os.getpid()}-{secrets.token_hex(4)}"
    if IS_WINDOWS:
        return f"\\\\.\\pipe\\fakehcs-{name}"
    # $TMPDIR when it is short enough for a socket path (at most 107 bytes), else /tmp.
    tmpdir = os.environ.get("TMPDIR", "")
    base = Path(tmpdir) if tmpdir and len(tmpdir) < 60 and Path(tmpdir).is_dir() else Path("/tmp")
    return str(base / f"fakehcs-{name}.sock")


def default_endpoint() -> str:
    """The endpoint of `service.py start` without --endpoint: one per user (POSIX: in $TMPDIR, or /tmp)."""
    user = str(os.getuid()) if hasattr(os, "getuid") else (os.environ.get("USERNAME") or "user")
    return new_endpoint(f"service-{user}")


class FakeService:
    """A running fake HCS service. Stop it with ``stop()`` (or use it as a context manager)."""

    def __init__(self, endpoint: str, process: Optional["subprocess.Popen[bytes]"], pid: int,
                 log_path: Optional[Path]) -> None:
        self.endpoint = endpoint
        self.process = process
        self.pid = pid
        self.log_path = log_path

    def __repr__(self) -> str:
        return f"<FakeService pid={self.pid} endpoint={self.endpoint!r}>"

    def env(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """An environment for a client process: `base` (default: ours) with PYHCS_FAKE_SERVICE set."""
        env = dict(os.environ if base is None else base)
        env[SERVICE_ENV] = self.endpoint
        return env

    def control(self, timeout: float = 30.0) -> ServiceControl:
        return ServiceControl(self.endpoint, timeout)

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        try:
            with self.control(timeout=2):
                return True
        except OSError:
            return False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        """Stops the service (its compute systems' processes are killed; clients receive ServiceDisconnect)."""
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
        """Ends the service abruptly (SIGKILL / TerminateProcess): a crash, as far as its clients can tell."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(30)
        else:
            os.kill(self.pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)

    def __enter__(self) -> "FakeService":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_service(endpoint: Optional[str] = None, *, executable: Optional[Union[str, Path]] = None,
                  log: Optional[Union[str, Path]] = None, exit_with_parent: bool = True, detach: bool = False,
                  env: Optional[Dict[str, str]] = None, timeout: float = 60.0) -> FakeService:
    """Starts ``fakehcs-service`` at `endpoint` (default: a fresh private one) and returns once it listens.

    `exit_with_parent`: the service stops when this process ends (a test run that dies leaves nothing behind).
    `detach`: the service outlives this process, in its own session (``service.py start``). Its log (stderr) goes
    to `log` (default: a file beside a POSIX endpoint, or in the temporary folder)."""
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
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | 0x00000008  # DETACHED_PROCESS
        else:
            kwargs["start_new_session"] = True
    # The service's environment is what its processes inherit when ProcessParameters has no Environment.
    child_env = dict(os.environ if env is None else env)
    child_env.pop(SERVICE_ENV, None)
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file, env=child_env,
                                **kwargs)
    assert proc.stdout is not None
    line: List[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore
    reader.start()
    reader.join(timeout)
    if not line or b"listening on" not in line[0]:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        raise ServiceError(f"fakehcs-service did not start at {endpoint} (exit {proc.returncode}): "
                           f"{(line[0] if line else b'').decode(errors='replace')}{text[-2000:]}")
    proc.stdout.close()
    return FakeService(endpoint, proc, proc.pid, log_path)


# ---------------------------------------------------------------------------------------------------- the commands
def _exports(endpoint: str) -> List[str]:
    """Shell lines that make a program a client of the service at `endpoint` (POSIX sh syntax)."""
    lines = [f"export {SERVICE_ENV}={endpoint}"]
    if not IS_WINDOWS:
        sys.path.insert(0, str(HERE.parent.parent))
        from tests.fakes.build import build_fake

        lib = build_fake()
        lines += [f"export PYHCS_COMPUTECORE={lib}", f"export PYHCS_COMPUTESTORAGE={lib}"]
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Start, stop or query the fake HCS service (fakehcs-service).")
    parser.add_argument("command", choices=("start", "stop", "status", "env"))
    parser.add_argument("--endpoint", default=None, help=f"socket path / pipe name (default: {default_endpoint()})")
    parser.add_argument("--foreground", action="store_true", help="start: run in this terminal until Ctrl-C")
    args = parser.parse_args(argv)
    endpoint = args.endpoint or default_endpoint()
    if args.command == "env":
        print("\n".join(_exports(endpoint)))
        return 0
    if args.command == "start":
        if args.foreground:
            os.execv(str(service_executable()), [str(service_executable()), endpoint])
        try:
            with ServiceControl(endpoint, timeout=2) as running:
                print(f"a fake HCS service (pid {running.service_pid}) already listens on {endpoint}")
                return 0
        except (OSError, EOFError, ServiceError):
            pass
        service = start_service(endpoint, detach=True, exit_with_parent=False)
        print(f"fake HCS service (pid {service.pid}) listening on {endpoint}; log: {service.log_path}")
        print("a program is its client with (eval \"$(python3 tests/fakes/service.py env)\"):")
        for line in _exports(endpoint):
            print(f"  {line}")
        return 0
    try:
        ctl = ServiceControl(endpoint, timeout=5)
    except OSError:
        print(f"no fake HCS service answers at {endpoint}", file=sys.stderr)
        return 1
    if args.command == "status":
        with ctl:
            counters = ctl.counters()
            clients = ctl.clients()
        print(f"fake HCS service pid {ctl.service_pid} at {endpoint} (protocol {ctl.version}); clients {clients}; "
              f"{counters['LiveSystems']} compute systems, {counters['RunningProcesses']} processes running")
        return 0
    pid = ctl.service_pid
    ctl.stop()
    print(f"the fake HCS service at {endpoint} (pid {pid}) stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
