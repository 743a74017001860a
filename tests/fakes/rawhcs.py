"""Helpers for the fake-HCS behaviour tests (tests/test_fake_*.py): thin wrappers over the raw pyhcs._ffi layer.

Everything here calls the C ABI directly (``lib.Hcs*``); nothing uses pyhcs's object layer.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from pyhcs._ffi import ffi, lib, local_free, storage  # noqa: F401 - re-exported for the tests of the fake
from pyhcs._strings import take_wide, to_wide
from tests.support import win_sleep

IS_WINDOWS = sys.platform == "win32"


def service_mode() -> bool:
    """The fake runs as a client of a fake HCS service (PYHCS_FAKE_SERVICE): processes are the service's children
    and inherit its environment."""
    return bool(os.environ.get("PYHCS_FAKE_SERVICE"))


def shell(posix: str, windows: str) -> str:
    """A CommandLine for the fake: /bin/sh -c syntax off Windows, a Windows command line (cmd.exe) on Windows."""
    return windows if IS_WINDOWS else posix


# Command lines the behaviour tests share. cmd.exe has no sleep: ping waits about 1 s between its echoes.
# exec: no shell between the fake and sleep, whose fork would leave a window where a signal sent right after the start
# is taken by the shell's handler in the child before it execs (the signal would then be lost).
SLEEP_30 = shell("exec sleep 30", win_sleep(30))
SLEEP_SHORT = shell("sleep 0.3", win_sleep(1))
TRUE = shell("true", "cmd /c exit 0")


def echo(text: str) -> str:
    return shell(f"echo {text}", f"cmd /c echo {text}")


INFINITE = 0xFFFFFFFF
GENERIC_ALL = 0x10000000
S_OK = 0
E_NOTIMPL = 0x80004001
E_HANDLE = 0x80070006
E_INVALIDARG = 0x80070057
E_NOT_FOUND = 0x80070490  # HRESULT_FROM_WIN32(ERROR_NOT_FOUND)
E_PATH_NOT_FOUND = 0x80070003
E_FILE_NOT_FOUND = 0x80070002
E_ALREADY_EXISTS = 0x800700B7
E_BUSY = 0x800700AA
E_NOT_SUPPORTED = 0x80070032
HCS_E_INVALID_STATE = 0x80370105
HCS_E_UNEXPECTED_EXIT = 0x80370106
HCS_E_CONNECT_FAILED = 0x80370108
HCS_E_INVALID_JSON = 0x8037010D
HCS_E_SYSTEM_NOT_FOUND = 0x8037010E
HCS_E_SYSTEM_ALREADY_EXISTS = 0x8037010F
HCS_E_SYSTEM_ALREADY_STOPPED = 0x80370110
HCS_E_OPERATION_NOT_STARTED = 0x80370115
HCS_E_OPERATION_ALREADY_STARTED = 0x80370116
HCS_E_OPERATION_PENDING = 0x80370117
HCS_E_OPERATION_TIMEOUT = 0x80370118
HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET = 0x80370119
HCS_E_SERVICE_DISCONNECT = 0x8037011E
HCS_E_PROCESS_ALREADY_STOPPED = 0x8037011F

# HCS_EVENT_TYPE
EV_SYSTEM_EXITED = 0x00000001
EV_PROCESS_EXITED = 0x00010000
EV_OPERATION_CALLBACK = 0x01000000
EV_SERVICE_DISCONNECT = 0x02000000

_ids = itertools.count(1)

CONTAINER: Dict[str, Any] = {
    "SchemaVersion": {"Major": 2, "Minor": 1},
    "Owner": "fake-tests",
    "Container": {"Storage": {"Layers": []}},
}


def u32(hr: int) -> int:
    return hr & 0xFFFFFFFF


def unique_id(prefix: str = "fake") -> str:
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


def doc(value: Any) -> Any:
    """A PCWSTR holding value (a str is passed as is, anything else as JSON; None is NULL)."""
    if value is None:
        return ffi.NULL
    return to_wide(value if isinstance(value, str) else json.dumps(value))


@contextlib.contextmanager
def operation(callback: Any = ffi.NULL, context: Any = ffi.NULL) -> Iterator[Any]:
    op = lib.HcsCreateOperation(context, callback)
    assert op != ffi.NULL
    try:
        yield op
    finally:
        lib.HcsCloseOperation(op)


def wait(op: Any, timeout: int = INFINITE) -> Tuple[int, Optional[str]]:
    out = ffi.new("PWSTR *")
    hr = lib.HcsWaitForOperationResult(op, timeout, out)
    return u32(hr), take_wide(out[0])


def result(op: Any) -> Tuple[int, Optional[str]]:
    out = ffi.new("PWSTR *")
    hr = lib.HcsGetOperationResult(op, out)
    return u32(hr), take_wide(out[0])


def close_handle(h: Any) -> None:
    fd = fd_of(h)
    if fd is not None:
        os.close(fd)


INVALID_HANDLE_VALUE = -1  # (HANDLE)-1: a std stream that was not requested (hcsshim v2/utils.go makeOpenFiles)


def handle_value(h: Any) -> int:
    return int(ffi.cast("intptr_t", h))


def fd_of(h: Any) -> Optional[int]:
    """A caller-owned std handle as a file descriptor: the fd itself off Windows; on Windows the HANDLE wrapped by
    msvcrt.open_osfhandle (the descriptor then owns the handle). None for a stream that was not created: HCS
    gives INVALID_HANDLE_VALUE for those (and NULL where there is no process information at all)."""
    if h == ffi.NULL:
        return None
    value = handle_value(h)
    if value == INVALID_HANDLE_VALUE:
        return None
    if IS_WINDOWS:
        import msvcrt

        return msvcrt.open_osfhandle(value, 0)  # type: ignore[attr-defined,no-any-return]
    return value


def wait_process_info(op: Any, timeout: int = INFINITE) -> Tuple[int, Dict[str, Any], Optional[str]]:
    """HcsWaitForOperationResultAndProcessInfo -> (hr, {pid, stdin, stdout, stderr fds or None}, doc)."""
    pi = ffi.new("HCS_PROCESS_INFORMATION *")
    out = ffi.new("PWSTR *")
    hr = lib.HcsWaitForOperationResultAndProcessInfo(op, timeout, pi, out)
    info = {"pid": pi.ProcessId, "stdin": fd_of(pi.StdInput), "stdout": fd_of(pi.StdOutput),
            "stderr": fd_of(pi.StdError)}
    return u32(hr), info, take_wide(out[0])


def close_info(info: Dict[str, Any]) -> None:
    for k in ("stdin", "stdout", "stderr"):
        if info.get(k) is not None:
            os.close(info[k])
            info[k] = None


def create_system(system_id: Optional[str] = None, document: Any = None, *, start: bool = True) -> Any:
    """Create (and start) a compute system; returns its HCS_SYSTEM (the caller closes it)."""
    system_id = system_id or unique_id()
    handle = ffi.new("HCS_SYSTEM *")
    with operation() as op:
        hr = lib.HcsCreateComputeSystem(to_wide(system_id), doc(document or CONTAINER), op, ffi.NULL, handle)
        assert u32(hr) == S_OK, hex(u32(hr))
        hr, text = wait(op)
        assert hr == S_OK, (hex(hr), text)
        if start:
            assert u32(lib.HcsStartComputeSystem(handle[0], op, ffi.NULL)) == S_OK
            hr, text = wait(op)
            assert hr == S_OK, (hex(hr), text)
    return handle[0]


def system_call(fn: Callable[..., int], system: Any, options: Any = None) -> Tuple[int, Optional[str]]:
    """Run a system function (Start/ShutDown/...) to completion: (call hr or result hr, result doc)."""
    with operation() as op:
        hr = u32(fn(system, op, doc(options)))
        if hr != S_OK:
            _, text = result(op)
            return hr, text
        return wait(op)


def properties(system: Any, query: Any = None) -> Dict[str, Any]:
    with operation() as op:
        assert u32(lib.HcsGetComputeSystemProperties(system, op, doc(query))) == S_OK
        hr, text = wait(op)
        assert hr == S_OK, (hex(hr), text)
        assert text is not None
        return json.loads(text)


def terminate(system: Any) -> None:
    hr, _ = system_call(lib.HcsTerminateComputeSystem, system)
    assert hr in (S_OK, HCS_E_SYSTEM_ALREADY_STOPPED), hex(hr)


@contextlib.contextmanager
def running_system(document: Any = None) -> Iterator[Any]:
    system = create_system(document=document)
    try:
        yield system
    finally:
        terminate(system)
        lib.HcsCloseComputeSystem(system)


def create_process(system: Any, params: Dict[str, Any]) -> Tuple[Any, Dict[str, Any]]:
    """HcsCreateProcess to completion: (HCS_PROCESS, info with fds). The caller closes both."""
    proc = ffi.new("HCS_PROCESS *")
    with operation() as op:
        hr = u32(lib.HcsCreateProcess(system, doc(params), op, ffi.NULL, proc))
        assert hr == S_OK, hex(hr)
        hr, info, text = wait_process_info(op)
        assert hr == S_OK, (hex(hr), text)
    return proc[0], info


def process_call(fn: Callable[..., int], process: Any, options: Any = None) -> Tuple[int, Optional[str]]:
    with operation() as op:
        hr = u32(fn(process, op, doc(options)))
        if hr != S_OK:
            return hr, None
        return wait(op)


def wait_process_exit(process: Any, timeout: int = 10000) -> Dict[str, Any]:
    out = ffi.new("PWSTR *")
    hr = u32(lib.HcsWaitForProcessExit(process, timeout, out))
    text = take_wide(out[0])
    assert hr == S_OK, hex(hr)
    assert text is not None
    return json.loads(text)


def read_all(fd: int) -> bytes:
    chunks: List[bytes] = []
    while True:
        try:
            b = os.read(fd, 65536)
        except OSError:  # EIO on a pty whose slave side is gone
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


class EventRecorder:
    """An HCS_EVENT_CALLBACK that records (type, data, operation) and lets tests wait for events."""

    def __init__(self, on_event: Optional[Callable[[int, Optional[str], Any], None]] = None) -> None:
        self.events: List[Tuple[int, Optional[str], Any]] = []
        self.threads: List[int] = []
        self.cond = threading.Condition()
        self._on_event = on_event
        self.callback = ffi.callback("HCS_EVENT_CALLBACK", self._cb)

    def _cb(self, event: Any, context: Any) -> None:
        data = None if event.EventData == ffi.NULL else ffi.string(event.EventData)
        etype = int(ffi.cast("uint32_t", event.Type))
        with self.cond:
            self.events.append((etype, data, event.Operation))
            self.threads.append(threading.get_ident())
            self.cond.notify_all()
        if self._on_event is not None:
            self._on_event(etype, data, event.Operation)

    def wait_for(self, etype: int, count: int = 1, timeout: float = 10.0) -> List[Tuple[int, Optional[str], Any]]:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.of(etype)) >= count, timeout)
            assert ok, f"expected {count} events of type {etype:#x}, got {self.events}"
            return self.of(etype)

    def of(self, etype: int) -> List[Tuple[int, Optional[str], Any]]:
        return [e for e in self.events if e[0] == etype]
