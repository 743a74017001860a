"""Process: one process in a compute system, through an HCS_PROCESS handle.

A process is described by ProcessParameters (SchemaReference.md): CommandLine, WorkingDirectory, Environment, User,
EmulateConsole (a pseudo console; its output arrives on stdout, StdErrPipe is ignored), CreateStd*Pipe and
ConsoleSize [height, width]. Its std handles are returned in HCS_PROCESS_INFORMATION and belong to the caller; pyhcs
wraps them at once as binary files (``stdin``, ``stdout``, ``stderr``). The exit code comes from the ProcessExited
event's ProcessStatus ("ExitCode is valid only if LastWaitResult is S_OK and Exited", HCS_EVENT.md).
"""

from __future__ import annotations

import threading
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union, cast

from . import _stdio
from ._ffi import ffi, lib
from ._strings import Document, document_arg, take_document
from .enums import GENERIC_ALL, EventOptions, EventType
from .errors import (
    HcsAccessDeniedError,
    HcsAlreadyStoppedError,
    HcsError,
    HcsNotFoundError,
    check_hresult,
)
from ._handle_owner import HandleOwner
from .operation import Operation, ProcessInfo, run, run_async

if TYPE_CHECKING:
    import asyncio

    from .schema import ProcessModifyRequest, ProcessParameters, ProcessStatus, SignalProcessOptions
    from .system import ComputeSystem

#: SignalProcessOptions.Signal names (Windows guests); an int is a Linux signal number (LCOW guests).
SIGNALS = ("CtrlC", "CtrlBreak", "CtrlClose", "CtrlLogOff", "CtrlShutdown")
HCS_E_OPERATION_TIMEOUT = 0x80370118

_NULL = ffi.NULL


def process_parameters(
    command_line: Optional[str] = None,
    *,
    document: Union["ProcessParameters", Mapping[str, Any], None] = None,
    working_directory: Optional[str] = None,
    environment: Optional[Mapping[str, str]] = None,
    user: Optional[str] = None,
    emulate_console: bool = False,
    console_size: Optional[Tuple[int, int]] = None,
    stdin: bool = True,
    stdout: bool = True,
    stderr: bool = True,
) -> Dict[str, Any]:
    """Build a ProcessParameters document from keyword arguments (or take *document* as it is).

    ``console_size`` is (height, width), the order of ProcessParameters.ConsoleSize."""
    if document is not None:
        if command_line is not None:
            raise TypeError("pass either command_line (with keyword arguments) or document, not both")
        if not isinstance(document, Mapping):
            raise TypeError(f"document must be a ProcessParameters mapping, not {type(document).__name__}")
        return dict(document)
    if not isinstance(command_line, str):
        raise TypeError("command_line must be a str")
    params: Dict[str, Any] = {"CommandLine": command_line}
    if working_directory is not None:
        if not isinstance(working_directory, str):
            raise TypeError("working_directory must be a str")
        params["WorkingDirectory"] = working_directory
    if environment is not None:
        if not isinstance(environment, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in environment.items()
        ):
            raise TypeError("environment must map str to str")
        if any(not k or "=" in k for k in environment):
            raise ValueError("environment variable names must be non-empty and contain no '='")
        params["Environment"] = dict(environment)
    if user is not None:
        params["User"] = user
    if emulate_console:
        params["EmulateConsole"] = True
    if console_size is not None:
        h, w = console_size
        for v in (h, w):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFF:
                raise ValueError(f"console size values must be integers in 0..65535, not {v!r}")
        params["ConsoleSize"] = [h, w]
    params["CreateStdInPipe"] = bool(stdin)
    params["CreateStdOutPipe"] = bool(stdout)
    params["CreateStdErrPipe"] = bool(stderr) and not emulate_console
    return params


def _signal_options(signal: Union[str, int, Mapping[str, Any]]) -> Document:
    if isinstance(signal, Mapping):
        return signal
    if isinstance(signal, bool):
        raise TypeError("signal must be a signal name, a signal number or SignalProcessOptions")
    if isinstance(signal, int):
        if not 0 < signal < 65:
            raise ValueError(f"signal number out of range: {signal}")
        return {"Signal": signal}
    if isinstance(signal, str):
        for name in SIGNALS:
            if name.lower() == signal.lower():
                return {"Signal": name}
        raise ValueError(f"unknown signal {signal!r}; expected one of {', '.join(SIGNALS)} or a number")
    raise TypeError("signal must be a signal name, a signal number or SignalProcessOptions")


class CompletedProcess(NamedTuple):
    """What ``ComputeSystem.run`` returns: (exit_code, stdout, stderr)."""

    exit_code: int
    stdout: bytes
    stderr: bytes


class Process(HandleOwner):
    """A process in a compute system. ``with`` closes the handle and the std files; the process itself keeps
    running unless you ``terminate()`` it."""

    stdin: Optional[IO[bytes]]
    stdout: Optional[IO[bytes]]
    stderr: Optional[IO[bytes]]

    def __init__(self, system: "ComputeSystem", raw: Any, process_id: Optional[int],
                 event_options: EventOptions = EventOptions.NONE,
                 defer_close: Optional[Callable[[Callable[[], None]], None]] = None) -> None:
        self.system = system
        self.pid = process_id or 0
        self.stdin = self.stdout = self.stderr = None
        self._streams: Optional[Tuple[Any, Any, Any]] = None
        self._stream_owned: List[Tuple[IO[bytes], Callable[[], None]]] = []
        self._own(raw, f"process {process_id} in {system.id!r}", "HcsCloseProcess", "HcsSetProcessCallback",
                  EventType.PROCESS_EXITED, event_options, defer_close, system.id, process_id)

    def __repr__(self) -> str:
        return f"<Process {self.pid} in {self.system.id!r}{' exited' if self.exit_code is not None else ''}>"

    # -- creating / opening --------------------------------------------------------------------------------
    @classmethod
    def _begin(cls, system: "ComputeSystem", command_line: Optional[str], notify: bool,
               kwargs: Dict[str, Any]) -> Tuple["Process", Operation]:
        event_options = kwargs.pop("event_options", EventOptions.NONE)
        params = process_parameters(command_line, **kwargs)
        arg = document_arg(params, "ProcessParameters")
        out = ffi.new("HCS_PROCESS *")
        sys_lease = system._handle_lease()
        raw_system = sys_lease.raw
        op = Operation("HcsCreateProcess", leases=(sys_lease,), process_info=True, notify=notify,
                       system_id=system.id)
        op.start(lambda h: lib.HcsCreateProcess(raw_system, arg, h, _NULL, out), keep=arg)
        try:
            process = cls(system, out[0], None, event_options, op.after_release)
        except BaseException:
            op.detach()
            raise
        return process, op

    def _attach(self, info: Optional[ProcessInfo]) -> None:
        if info is not None:
            self.pid = info.process_id
            self._hub._process_id = info.process_id
            self.stdin = _stdio.open_writer(info.stdin)
            self.stdout = _stdio.open_reader(info.stdout)
            self.stderr = _stdio.open_reader(info.stderr)
        self._check_exited()

    def _check_exited(self) -> None:
        # The process may have exited before its event callback was registered; HcsWaitForProcessExit with a
        # zero timeout tells without an operation (S_OK: exited, with its ProcessStatus).
        if self._hub.exited:
            return
        result = ffi.new("PWSTR *")
        raw = self._lease.acquire()
        try:
            hr = lib.HcsWaitForProcessExit(raw, 0, result)
        finally:
            self._lease.release()
        status = take_document(result[0])
        if hr >= 0 and isinstance(status, dict):
            self._hub.set_exit(status)

    @classmethod
    def create(cls, system: "ComputeSystem", command_line: Optional[str] = None, *,
               timeout: Optional[float] = None, **kwargs: Any) -> "Process":
        """HcsCreateProcess in a running system. Keyword arguments: see ``process_parameters`` (document,
        working_directory, environment, user, emulate_console, console_size, stdin, stdout, stderr) and
        ``event_options``."""
        process, op = cls._begin(system, command_line, False, kwargs)
        try:
            op.wait(timeout)
        except BaseException:
            op.after_release(process.close)
            raise
        process._attach(op.process_info)
        return process

    @classmethod
    async def create_async(cls, system: "ComputeSystem", command_line: Optional[str] = None,
                           **kwargs: Any) -> "Process":
        process, op = cls._begin(system, command_line, True, kwargs)
        try:
            await op
        except BaseException:
            op.after_release(process.close)
            op.detach()  # if the result already arrived (cancelled after it), its std handles have no owner
            raise
        process._attach(op.process_info)
        return process

    @classmethod
    def open(cls, system: "ComputeSystem", process_id: int) -> "Process":
        """HcsOpenProcess: a handle to process *process_id* of *system* (no std handles: HCS gives them only to
        the creator, or through HcsGetProcessInfo)."""
        if not isinstance(process_id, int) or not 0 <= process_id <= 0xFFFFFFFF:
            raise ValueError(f"process id must be a DWORD, not {process_id!r}")
        out = ffi.new("HCS_PROCESS *")
        lease = system._handle_lease()
        raw = lease.acquire()
        try:
            hr = lib.HcsOpenProcess(raw, process_id, GENERIC_ALL, out)
        finally:
            lease.release()
        check_hresult(hr, function="HcsOpenProcess", system_id=system.id, process_id=process_id)
        process = cls(system, out[0], process_id)
        process._check_exited()
        return process

    # -- the one way this class runs an operation ----------------------------------------------------------
    def _call(self, function: str, document: Document, timeout: Optional[float], what: str,
              with_document: bool = True, process_info: bool = False) -> Tuple[Any, Optional[ProcessInfo]]:
        fn = getattr(lib, function)
        raw = self._lease.raw
        arg = document_arg(document, what)
        call = (lambda h: fn(raw, h, arg)) if with_document else (lambda h: fn(raw, h))
        return run(function, call, keep=arg, leases=(self._lease,), timeout=timeout, process_info=process_info,
                   system_id=self.system.id, process_id=self.pid)

    async def _call_async(self, function: str, document: Document, what: str, with_document: bool = True) -> Any:
        fn = getattr(lib, function)
        raw = self._lease.raw
        arg = document_arg(document, what)
        call = (lambda h: fn(raw, h, arg)) if with_document else (lambda h: fn(raw, h))
        return await run_async(function, call, keep=arg, leases=(self._lease,), system_id=self.system.id,
                               process_id=self.pid)

    # -- control -------------------------------------------------------------------------------------------
    def signal(self, signal: Union[str, int, "SignalProcessOptions"], *, timeout: Optional[float] = None) -> None:
        """HcsSignalProcess: "CtrlC", "CtrlBreak", "CtrlClose", "CtrlLogOff", "CtrlShutdown" (Windows guests) or a
        signal number (Linux guests)."""
        self._call("HcsSignalProcess", _signal_options(signal), timeout, "SignalProcessOptions")

    async def signal_async(self, signal: Union[str, int, "SignalProcessOptions"]) -> None:
        await self._call_async("HcsSignalProcess", _signal_options(signal), "SignalProcessOptions")

    def _already_gone(self, exc: HcsError) -> bool:
        # A second terminate gives HCS_E_PROCESS_ALREADY_STOPPED, ERROR_NOT_FOUND or E_ACCESSDENIED
        # (hcsshim internal/hcs/v2/process.go Kill); none of them is the caller's problem.
        return isinstance(exc, (HcsAlreadyStoppedError, HcsNotFoundError, HcsAccessDeniedError))

    def terminate(self, *, timeout: Optional[float] = None) -> bool:
        """HcsTerminateProcess. Returns False (not an error) when the process had already exited."""
        try:
            self._call("HcsTerminateProcess", None, timeout, "options")
        except HcsError as exc:
            if self._already_gone(exc):
                return False
            raise
        return True

    async def terminate_async(self) -> bool:
        try:
            await self._call_async("HcsTerminateProcess", None, "options")
        except HcsError as exc:
            if self._already_gone(exc):
                return False
            raise
        return True

    def modify(self, request: Union["ProcessModifyRequest", Mapping[str, Any], str], *,
               timeout: Optional[float] = None) -> None:
        """HcsModifyProcess with a ProcessModifyRequest."""
        self._call("HcsModifyProcess", request, timeout, "ProcessModifyRequest")

    def resize_console(self, width: int, height: int, *, timeout: Optional[float] = None) -> None:
        """Resize the pseudo console of a process created with emulate_console."""
        for v in (width, height):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 < v <= 0xFFFF:
                raise ValueError(f"console width/height must be integers in 1..65535, not {v!r}")
        self.modify({"Operation": "ConsoleSize", "ConsoleSize": {"Height": height, "Width": width}}, timeout=timeout)

    async def resize_console_async(self, width: int, height: int) -> None:
        for v in (width, height):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 < v <= 0xFFFF:
                raise ValueError(f"console width/height must be integers in 1..65535, not {v!r}")
        await self._call_async("HcsModifyProcess", {"Operation": "ConsoleSize",
                                                    "ConsoleSize": {"Height": height, "Width": width}},
                               "ProcessModifyRequest")

    def close_stdin(self, *, timeout: Optional[float] = None) -> None:
        """Signal end of input: close our end of stdin and ask HCS to close the process's
        (ProcessModifyRequest CloseHandle StdIn, as hcsshim's CloseStdin)."""
        if self.stdin is not None and not self.stdin.closed:
            self.stdin.close()
        try:
            self.modify({"Operation": "CloseHandle", "CloseHandle": {"Handle": "StdIn"}}, timeout=timeout)
        except HcsError as exc:
            if not self._already_gone(exc) and self.exit_code is None:
                raise

    async def close_stdin_async(self) -> None:
        if self.stdin is not None and not self.stdin.closed:
            self.stdin.close()
        try:
            await self._call_async("HcsModifyProcess", {"Operation": "CloseHandle", "CloseHandle": {"Handle": "StdIn"}},
                                   "ProcessModifyRequest")
        except HcsError as exc:
            if not self._already_gone(exc) and self.exit_code is None:
                raise

    def properties(self, query: Document = None, *, timeout: Optional[float] = None) -> "ProcessStatus":
        """HcsGetProcessProperties: the ProcessStatus (ProcessId, Exited, ExitCode, LastWaitResult)."""
        result, _ = self._call("HcsGetProcessProperties", query, timeout, "property query")
        return cast("ProcessStatus", result or {})

    async def properties_async(self, query: Document = None) -> "ProcessStatus":
        result = await self._call_async("HcsGetProcessProperties", query, "property query")
        return cast("ProcessStatus", result or {})

    def process_info(self, *, timeout: Optional[float] = None) -> ProcessInfo:
        """HcsGetProcessInfo: a fresh set of std handles (yours to close) and the process id."""
        _, info = self._call("HcsGetProcessInfo", None, timeout, "", with_document=False, process_info=True)
        if info is None:
            raise HcsError(message="HcsGetProcessInfo returned no process information")
        return info

    # -- exit ----------------------------------------------------------------------------------------------
    @property
    def exit_code(self) -> Optional[int]:
        """The exit code once ProcessExited arrived (None before)."""
        status = self._hub.exit_data
        if not isinstance(status, dict):
            return None
        return _exit_code(status)

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait for ProcessExited and return the exit code (HcsTimeoutError on timeout)."""
        status = self._hub.wait_exit(timeout, f"process {self.pid}")
        return _exit_code(status)

    async def wait_async(self) -> int:
        return _exit_code(await self._hub.wait_exit_async())

    @property
    def exit_status(self) -> Optional["ProcessStatus"]:
        """The ProcessStatus of the ProcessExited event (None until it arrives)."""
        return cast(Optional["ProcessStatus"], self._hub.exit_data)

    # -- I/O -----------------------------------------------------------------------------------------------
    def communicate(self, input: Optional[bytes] = None, timeout: Optional[float] = None) -> Tuple[bytes, bytes]:
        """Write *input* to stdin (then close it), read stdout and stderr to EOF, wait for exit.

        stdout is read on the calling thread; stderr and a non-empty input get a helper thread each, so neither
        pipe can fill up and block the process while another is being served."""
        errors: List[BaseException] = []
        stderr_data: List[bytes] = []
        threads = []

        def read_stderr() -> None:
            try:
                stderr_data.append(_stdio.read_all(self.stderr))
            except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
                errors.append(exc)

        def feed_stdin() -> None:
            try:
                if input and self.stdin is not None:
                    self.stdin.write(input)
            except BrokenPipeError:
                pass
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                try:
                    self.close_stdin(timeout=timeout)
                except BaseException as exc:  # noqa: BLE001
                    errors.append(exc)

        if self.stderr is not None:
            threads.append(threading.Thread(target=read_stderr, name="pyhcs-stderr", daemon=True))
        if self.stdin is not None and not self.stdin.closed:
            if input:
                threads.append(threading.Thread(target=feed_stdin, name="pyhcs-stdin", daemon=True))
            else:
                self.close_stdin(timeout=timeout)
        for t in threads:
            t.start()
        stdout_data = _stdio.read_all(self.stdout)
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        self.wait(timeout)
        return stdout_data, stderr_data[0] if stderr_data else b""

    async def streams(self) -> Tuple[Optional[_stdio.StdinWriter], Optional[asyncio.StreamReader],
                                     Optional[asyncio.StreamReader]]:
        """asyncio streams over stdin/stdout/stderr (each None when that pipe was not created)."""
        if self._streams is None:
            w = _stdio.StdinWriter(self.stdin) if self.stdin is not None else None
            readers: List[Optional[asyncio.StreamReader]] = []
            for f in (self.stdout, self.stderr):
                if f is None:
                    readers.append(None)
                else:
                    reader, close = await _stdio.reader_stream(f)
                    readers.append(reader)
                    self._stream_owned.append((f, close))
            self._streams = (w, readers[0], readers[1])
        return self._streams

    # -- closing -------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the handle and the std files (idempotent); the process keeps running. Waiters get
        HcsClosedError."""
        if not self._mark_closed():
            return
        owned = {id(f) for f, _ in self._stream_owned}
        for f in (self.stdin, self.stdout, self.stderr):
            if f is not None and id(f) not in owned:
                try:
                    f.close()
                except OSError:
                    pass
        for _, close_stream in self._stream_owned:  # the asyncio streams own their files
            close_stream()
        self._close_handle(f"process {self.pid}")

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "Process":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


def _exit_code(status: Any) -> int:
    if not isinstance(status, dict):
        raise HcsError(message=f"ProcessExited carried no ProcessStatus: {status!r}")
    code = status.get("ExitCode")
    if status.get("LastWaitResult", 0) not in (0, None) or code is None:
        raise HcsError(
            int(status.get("LastWaitResult") or 0x80004005) & 0xFFFFFFFF,
            f"the process exit code is not known (ProcessStatus {status})",
        )
    return int(code) & 0xFFFFFFFF


def run_process(system: "ComputeSystem", command_line: str, *, input: Optional[bytes] = None,
                timeout: Optional[float] = None, **kwargs: Any) -> CompletedProcess:
    kwargs.setdefault("stdin", input is not None)
    with Process.create(system, command_line, timeout=timeout, **kwargs) as process:
        try:
            out, err = process.communicate(input, timeout)
        except BaseException:
            process.terminate()
            raise
        code = process.wait(0)
        return CompletedProcess(code, out, err)


async def run_process_async(system: "ComputeSystem", command_line: str, *, input: Optional[bytes] = None,
                            **kwargs: Any) -> CompletedProcess:
    kwargs.setdefault("stdin", input is not None)
    process = await Process.create_async(system, command_line, **kwargs)
    try:
        stdin, stdout, stderr = await process.streams()

        async def feed() -> None:
            if stdin is not None:
                if input:
                    try:
                        await stdin.write(input)
                    except BrokenPipeError:
                        pass
                await stdin.close()
                await process.close_stdin_async()

        async def drain(r: Optional[asyncio.StreamReader]) -> bytes:
            if r is None:
                return b""
            try:
                return await r.read()
            except OSError as exc:
                if _stdio.is_pty_eof(exc):
                    return b""
                raise

        try:
            import asyncio

            _, out, err = await asyncio.gather(feed(), drain(stdout), drain(stderr))
            code = await process.wait_async()
        except BaseException:
            await process.terminate_async()
            raise
        return CompletedProcess(code, out, err)
    finally:
        process.close()
