"""Process: one process in a compute system, through an HCS_PROCESS handle.

A process is described by ProcessParameters (SchemaReference.md): CommandLine, WorkingDirectory, Environment, User,
EmulateConsole (a pseudo console; its output arrives on stdout, StdErrPipe is ignored), CreateStd*Pipe and
ConsoleSize [height, width]. Its std handles are returned in HCS_PROCESS_INFORMATION and belong to the caller; pyhcs
wraps them at once as binary files (``stdin``, ``stdout``, ``stderr``, see ``_stdio``). The exit code comes from the
ProcessExited event's ProcessStatus ("ExitCode is valid only if LastWaitResult is S_OK and Exited", HCS_EVENT.md).
"""

from __future__ import annotations

import os
import threading
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Tuple,
    Union,
    cast,
)

from . import _stdio, _timeouts, _trace
from ._ffi import ffi, lib
from ._handle_owner import HandleOwner
from ._strings import Document, document_arg, take_document
from .enums import GENERIC_ALL, EventOptions, EventType
from .errors import (
    HcsAccessDeniedError,
    HcsAlreadyStoppedError,
    HcsClosedError,
    HcsError,
    HcsNotFoundError,
    HcsProcessTimeoutError,
    HcsTimeoutError,
    check_hresult,
)
from .operation import Operation, RawProcessInfo, fire_and_forget, run, run_async

if TYPE_CHECKING:
    import asyncio
    from datetime import datetime

    from ._stdio import StdinWriter
    from .schema import ProcessModifyRequest, ProcessParameters, ProcessStatus, SignalProcessOptions
    from .system import ComputeSystem

#: SignalProcessOptions.Signal names (Windows guests); an int is a Linux signal number (LCOW guests).
SIGNALS = ("CtrlC", "CtrlBreak", "CtrlClose", "CtrlLogOff", "CtrlShutdown")
HCS_E_OPERATION_TIMEOUT = 0x80370118
ERROR_INVALID_HANDLE_HRESULT = 0x80070006
#: After ``run()`` killed a process that ran out of time, how long it waits for the rest of the output.
KILL_GRACE_SECONDS = 2.0

_NULL = ffi.NULL
_CLOSE_STDIN_REQUEST = {"Operation": "CloseHandle", "CloseHandle": {"Handle": "StdIn"}}


class ConsoleSize(NamedTuple):
    """The size of a pseudo console in character cells, by name: ``ConsoleSize(width=120, height=30)``.

    HCS's own order is [height, width] (ProcessParameters.ConsoleSize) while terminals say columns x lines; pyhcs
    takes sizes only by name -- a ``ConsoleSize``, an ``os.terminal_size`` (``os.get_terminal_size()``) or a
    ``{"Width": w, "Height": h}`` mapping -- so the order cannot be got wrong."""

    #: Columns.
    width: int
    #: Lines.
    height: int


def _console_size(value: Any, minimum: int) -> ConsoleSize:
    if isinstance(value, ConsoleSize):
        width, height = value.width, value.height
    elif isinstance(value, os.terminal_size):
        width, height = value.columns, value.lines
    elif isinstance(value, Mapping) and set(value) == {"Width", "Height"}:
        width, height = value["Width"], value["Height"]
    else:
        raise TypeError(
            "console_size must be pyhcs.ConsoleSize(width=..., height=...), os.terminal_size or "
            f"{{'Width': w, 'Height': h}}, not {value!r} (a bare pair is refused: HCS orders it [height, width], "
            "terminals width x height)"
        )
    for name, v in (("width", width), ("height", height)):
        if not isinstance(v, int) or isinstance(v, bool) or not minimum <= v <= 0xFFFF:
            raise ValueError(f"console {name} must be an integer in {minimum}..65535, not {v!r}")
    return ConsoleSize(width, height)


def _no_nul(value: str, what: str) -> str:
    # json.dumps would send a NUL as \\u0000; HCS hands strings to Win32 as C strings, which end there ("echo a\\0;
    # rm -rf x" would run "echo a" only). Ids and documents are refused the same way (_strings.to_wide).
    if "\x00" in value:
        raise ValueError(f"{what} contains an embedded NUL character at index {value.index(chr(0))}")
    return value


def process_parameters(
    command_line: Optional[str] = None,
    *,
    document: Union["ProcessParameters", Mapping[str, Any], None] = None,
    working_directory: Optional[str] = None,
    environment: Optional[Mapping[str, str]] = None,
    user: Optional[str] = None,
    emulate_console: bool = False,
    console_size: Union[ConsoleSize, "os.terminal_size", Mapping[str, int], None] = None,
    stdin: bool = True,
    stdout: bool = True,
    stderr: bool = True,
) -> Dict[str, Any]:
    """Build a ProcessParameters document from keyword arguments (or take *document* as it is).

    ``console_size`` is given by name: ``ConsoleSize(width=..., height=...)`` or ``os.get_terminal_size()``. Text
    with an embedded NUL is refused with ValueError (HCS would cut the string there)."""
    if document is not None:
        if command_line is not None:
            raise TypeError("pass either command_line (with keyword arguments) or document, not both")
        if not isinstance(document, Mapping):
            raise TypeError(f"document must be a ProcessParameters mapping, not {type(document).__name__}")
        return dict(document)
    if not isinstance(command_line, str):
        raise TypeError(f"command_line must be a str, not {type(command_line).__name__}")
    params: Dict[str, Any] = {"CommandLine": _no_nul(command_line, "command_line")}
    if working_directory is not None:
        if not isinstance(working_directory, str):
            raise TypeError("working_directory must be a str")
        params["WorkingDirectory"] = _no_nul(working_directory, "working_directory")
    if environment is not None:
        if not isinstance(environment, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in environment.items()
        ):
            raise TypeError("environment must map str to str")
        if any(not k or "=" in k for k in environment):
            raise ValueError("environment variable names must be non-empty and contain no '='")
        for k, v in environment.items():
            _no_nul(k, "an environment variable name")
            _no_nul(v, f"environment variable {k!r}")
        params["Environment"] = dict(environment)
    if user is not None:
        if not isinstance(user, str):
            raise TypeError("user must be a str")
        params["User"] = _no_nul(user, "user")
    if emulate_console:
        params["EmulateConsole"] = True
    if console_size is not None:
        size = _console_size(console_size, 0)
        params["ConsoleSize"] = [size.height, size.width]  # HCS's order (SchemaReference.md ProcessParameters)
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
    """What ``ComputeSystem.run`` returns: ``exit_code``, ``stdout`` and ``stderr`` (bytes; everything the
    process wrote, read to end of file before the exit was reported). Unpacks as a tuple."""

    #: The process's exit code (ProcessStatus.ExitCode).
    exit_code: int
    #: Everything it wrote to stdout (a console's output, with ``emulate_console``).
    stdout: bytes
    #: Everything it wrote to stderr (empty with ``emulate_console``: the console merges it into stdout).
    stderr: bytes


class ProcessInfo(NamedTuple):
    """What ``Process.process_info()`` returns (HcsGetProcessInfo): ``process_id`` and a fresh set of the
    process's std handles as binary files (``stdin`` writable, ``stdout``/``stderr`` readable; None for a stream
    the process does not have). The files are yours: close them (``with info:`` closes all three). Closing this
    ``stdin`` closes only this copy; ``Process.close_stdin()`` ends the process's input."""

    #: The process id in its compute system.
    process_id: int
    #: A writable binary file on the process's stdin, or None.
    stdin: Optional[IO[bytes]]
    #: A readable binary file on its stdout, or None.
    stdout: Optional[IO[bytes]]
    #: A readable binary file on its stderr, or None.
    stderr: Optional[IO[bytes]]

    def close(self) -> None:
        """Close the three files."""
        for f in (self.stdin, self.stdout, self.stderr):
            if f is not None:
                f.close()

    def __enter__(self) -> "ProcessInfo":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Communication:
    """The state of ``communicate()``: helper threads reading stdout/stderr and writing the input, and what they
    got so far -- kept on the process, so a call that timed out can be repeated without losing output."""

    def __init__(self, process: "Process", input: Optional[bytes], stdout_on_caller: bool) -> None:
        self.stdout: List[bytes] = []
        self.stderr: List[bytes] = []
        self.errors: List[BaseException] = []
        self.threads: List[threading.Thread] = []
        self.stdout_on_caller = stdout_on_caller and process.stdout is not None
        self.process = process
        if process.stderr is not None:
            self._thread(self._read, process.stderr, self.stderr, "pyhcs-stderr")
        if process.stdout is not None and not self.stdout_on_caller:
            self._thread(self._read, process.stdout, self.stdout, "pyhcs-stdout")
        if process.stdin is not None and not process.stdin.closed:
            if input:
                self._thread(self._feed, process.stdin, input, "pyhcs-stdin")
            else:
                process._close_stdin_quietly()

    def _thread(self, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=args[:-1], name=args[-1], daemon=True)
        self.threads.append(t)
        t.start()

    def _read(self, file: IO[bytes], into: List[bytes]) -> None:
        read = getattr(file, "read1", file.read)
        try:
            while True:
                chunk = read(65536)
                if not chunk:
                    return
                into.append(chunk)
        except Exception as exc:  # noqa: BLE001 - re-raised on the calling thread
            if not _stdio.is_pty_eof(exc):
                self.errors.append(exc)

    def _feed(self, file: IO[bytes], data: bytes) -> None:
        try:
            file.write(data)
        except BrokenPipeError:
            pass  # the process stopped reading: what it did read is its business, as in subprocess
        except Exception as exc:  # noqa: BLE001
            if not isinstance(exc, ValueError) or not file.closed:
                self.errors.append(exc)
        finally:
            self.process._close_stdin_quietly()

    def join(self, deadline: _timeouts.Deadline) -> bool:
        """Wait for the helpers until *deadline*; True when all are done."""
        if self.stdout_on_caller:
            # A KeyboardInterrupt goes straight up; a later call carries on reading where this one stopped.
            self._read(cast(IO[bytes], self.process.stdout), self.stdout)
            self.stdout_on_caller = False
        for t in self.threads:
            t.join(deadline.remaining())
            if t.is_alive():
                return False
        return True

    def output(self) -> Tuple[bytes, bytes]:
        return b"".join(self.stdout), b"".join(self.stderr)


class Process(HandleOwner):
    """A process in a compute system: ``pid``, its ``system``, its std files (``stdin``, ``stdout``,
    ``stderr``: binary files, None for a stream not requested) and its exit.

    ``with`` closes the handle and the std files (closing stdin gives the process end of input); the process
    itself keeps running unless you ``terminate()`` it."""

    #: stdin as an unbuffered binary file (``write`` sends everything at once; ``close`` ends the process's
    #: input), or None when created with ``stdin=False``.
    stdin: Optional[IO[bytes]]
    #: stdout as a binary file (``read()`` to end of file, ``readline()``, ``read1()``), or None.
    stdout: Optional[IO[bytes]]
    #: stderr as a binary file, or None (always None with ``emulate_console``: the console merges it into
    #: stdout).
    stderr: Optional[IO[bytes]]

    def __init__(self, system: "ComputeSystem", raw: Any, process_id: Optional[int],
                 event_options: EventOptions = EventOptions.NONE,
                 on_failure: Optional[Callable[[HandleOwner], None]] = None) -> None:
        #: The compute system this process runs in.
        self.system = system
        #: The process id in its compute system (0 until HcsCreateProcess completed).
        self.pid = process_id or 0
        self.stdin = self.stdout = self.stderr = None
        self._streams: Optional[Tuple[Any, Any, Any]] = None
        self._stream_owned: List[Tuple[IO[bytes], Callable[[], None]]] = []
        self._communication: Optional[_Communication] = None
        self._stdin_close_sent = False
        self._started_at: Optional[datetime] = None
        self._own(raw, "HcsCloseProcess", "HcsSetProcessCallback", EventType.PROCESS_EXITED, event_options,
                  on_failure, system.id, process_id)

    def __repr__(self) -> str:
        return f"<Process {self.pid} in {self.system.id!r}{' exited' if self.exit_code is not None else ''}>"

    def _identity(self) -> Tuple[str, Optional[str], Optional[int]]:
        pid = self.pid or None
        return (f"process {pid} in {self.system.id!r}" if pid else f"a new process in {self.system.id!r}",
                self.system.id, pid)

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
        op._start(lambda h: lib.HcsCreateProcess(raw_system, arg, h, _NULL, out), keep=arg)
        try:
            process = cls(system, out[0], None, event_options,
                          lambda half_made: op._when_finished(half_made._dispose_unwanted))
        except BaseException:
            op._detach()
            raise
        return process, op

    def _attach(self, info: Optional[RawProcessInfo]) -> None:
        if info is not None:
            self.pid = info.process_id
            self._hub._process_id = info.process_id
            try:
                self.stdin = _stdio.open_writer(info.stdin, self._stdin_closed)
                self.stdout = _stdio.open_reader(info.stdout)
                self.stderr = _stdio.open_reader(info.stderr)
            except BaseException:
                for f in (self.stdin, self.stdout, self.stderr):
                    _stdio.interrupt(f, ValueError("closed"))
                for handle, f in ((info.stdin, self.stdin), (info.stdout, self.stdout), (info.stderr, self.stderr)):
                    if handle is not None and f is None:
                        _stdio.close_handle(handle)
                raise
        self._check_exited()

    def _check_exited(self) -> None:
        # The process may have exited before its event callback was registered; HcsWaitForProcessExit with a
        # zero timeout tells without an operation (S_OK: exited, with its ProcessStatus).
        if self._hub.exited:
            return
        result = ffi.new("PWSTR *")
        raw = self._lease.acquire("HcsWaitForProcessExit")
        try:
            hr = lib.HcsWaitForProcessExit(raw, 0, result)
        finally:
            self._lease.release()
        status = take_document(result[0])
        if hr >= 0 and isinstance(status, dict):
            self._hub.set_exit(status)

    def _dispose_unwanted(self, error: Optional[BaseException]) -> None:
        """pyhcs gave up on the create that made this handle (timed out, cancelled, or its event registration
        failed) and HCS has now finished it. Nobody else can reach the process, so when the create succeeded it is
        terminated; then the handle closes. (Its std handles were closed with the operation.)"""
        if error is None:
            self._terminate_quietly()
        self._force_close()

    def _force_close(self) -> None:
        self._closed = True
        self._hub.closed(self._identity()[0])
        self._close_native()

    @classmethod
    def create(cls, system: "ComputeSystem", command_line: Optional[str] = None, *,
               timeout: Optional[float] = None, **kwargs: Any) -> "Process":
        """HcsCreateProcess in a running system. Keyword arguments: see ``process_parameters`` (document,
        working_directory, environment, user, emulate_console, console_size, stdin, stdout, stderr) and
        ``event_options``. If the create times out, HCS finishes it later and pyhcs terminates the process
        then: nobody could reach it."""
        seconds = _timeouts.check(timeout)
        process, op = cls._begin(system, command_line, False, kwargs)
        try:
            op.wait(seconds)
        except BaseException:
            op._when_finished(process._dispose_unwanted)
            raise
        process._attach_or_close(op._process_info)
        return process

    @classmethod
    async def create_async(cls, system: "ComputeSystem", command_line: Optional[str] = None,
                           **kwargs: Any) -> "Process":
        """``create`` for asyncio. If the awaiting task is cancelled, the process HCS creates anyway is
        terminated when it arrives (nobody could reach it)."""
        process, op = cls._begin(system, command_line, True, kwargs)
        try:
            await op
        except BaseException:
            op._when_finished(process._dispose_unwanted)
            op._detach()  # if the result already arrived (cancelled after it), its std handles have no owner
            raise
        process._attach_or_close(op._process_info)
        return process

    def _attach_or_close(self, info: Optional[RawProcessInfo]) -> None:
        try:
            self._attach(info)
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, system: "ComputeSystem", process_id: int) -> "Process":
        """HcsOpenProcess: a handle to process *process_id* of *system* (no std handles: HCS gives them only to
        the creator, or through HcsGetProcessInfo)."""
        if not isinstance(process_id, int) or isinstance(process_id, bool) or not 0 <= process_id <= 0xFFFFFFFF:
            raise ValueError(f"process id must be a DWORD, not {process_id!r}")
        out = ffi.new("HCS_PROCESS *")
        lease = system._handle_lease()
        raw = lease.acquire("HcsOpenProcess")
        try:
            hr = _trace.timed("HcsOpenProcess", lib.HcsOpenProcess, raw, process_id, GENERIC_ALL, out,
                              system_id=system.id, process_id=process_id)
        finally:
            lease.release()
        check_hresult(hr, function="HcsOpenProcess", system_id=system.id, process_id=process_id)
        process = cls(system, out[0], process_id)
        process._check_exited()
        return process

    # -- the one way this class runs an operation ----------------------------------------------------------
    def _call(self, function: str, document: Document, timeout: Optional[float], what: str,
              with_document: bool = True, process_info: bool = False) -> Tuple[Any, Optional[RawProcessInfo]]:
        seconds = _timeouts.check(timeout)
        fn = getattr(lib, function)
        raw = self._lease.raw
        arg = document_arg(document, what)
        call = (lambda h: fn(raw, h, arg)) if with_document else (lambda h: fn(raw, h))
        return run(function, call, keep=arg, leases=(self._lease,), timeout=seconds, process_info=process_info,
                   system_id=self.system.id, process_id=self.pid)

    async def _call_async(self, function: str, document: Document, what: str, with_document: bool = True) -> Any:
        fn = getattr(lib, function)
        raw = self._lease.raw
        arg = document_arg(document, what)
        call = (lambda h: fn(raw, h, arg)) if with_document else (lambda h: fn(raw, h))
        return await run_async(function, call, keep=arg, lease=self._lease, system_id=self.system.id,
                               process_id=self.pid)

    # -- control -------------------------------------------------------------------------------------------
    def _already_gone(self, exc: HcsError) -> bool:
        # Signalling or terminating a process that has exited gives HCS_E_PROCESS_ALREADY_STOPPED, ERROR_NOT_FOUND
        # or E_ACCESSDENIED (hcsshim internal/hcs/v2/process.go Signal/Kill treat all three as "already stopped").
        return isinstance(exc, (HcsAlreadyStoppedError, HcsNotFoundError, HcsAccessDeniedError))

    def signal(self, signal: Union[str, int, "SignalProcessOptions"], *, timeout: Optional[float] = None) -> bool:
        """HcsSignalProcess: "CtrlC", "CtrlBreak", "CtrlClose", "CtrlLogOff", "CtrlShutdown" (Windows guests) or a
        signal number (Linux guests). Returns True when delivered, False (not an error) when the process had
        already exited -- hcsshim's answer, the same as ``terminate()``."""
        options = _signal_options(signal)
        try:
            self._call("HcsSignalProcess", options, timeout, "SignalProcessOptions")
        except HcsError as exc:
            if self._already_gone(exc):
                return False
            raise
        return True

    async def signal_async(self, signal: Union[str, int, "SignalProcessOptions"]) -> bool:
        """``signal`` for asyncio."""
        options = _signal_options(signal)
        try:
            await self._call_async("HcsSignalProcess", options, "SignalProcessOptions")
        except HcsError as exc:
            if self._already_gone(exc):
                return False
            raise
        return True

    def terminate(self, *, timeout: Optional[float] = None) -> bool:
        """HcsTerminateProcess. Returns True when this call ended the process, False (not an error) when it had
        already exited."""
        try:
            self._call("HcsTerminateProcess", None, timeout, "options")
        except HcsError as exc:
            if self._already_gone(exc):
                return False
            raise
        return True

    async def terminate_async(self) -> bool:
        """``terminate`` for asyncio."""
        try:
            await self._call_async("HcsTerminateProcess", None, "options")
        except HcsError as exc:
            if self._already_gone(exc):
                return False
            raise
        return True

    def _terminate_quietly(self) -> None:
        """Terminate without waiting (disposing of a process nobody can reach, or a cancelled ``run_async``)."""
        if self._hub.has_exit:
            return
        raw = self._lease.raw
        fire_and_forget("HcsTerminateProcess", lambda h: lib.HcsTerminateProcess(raw, h, _NULL),
                        leases=(self._lease,), system_id=self.system.id, process_id=self.pid or None)

    def modify(self, request: Union["ProcessModifyRequest", Mapping[str, Any], str], *,
               timeout: Optional[float] = None) -> None:
        """HcsModifyProcess with a ProcessModifyRequest."""
        if request is None:
            raise TypeError("modify needs a ProcessModifyRequest")
        self._call("HcsModifyProcess", request, timeout, "ProcessModifyRequest")

    async def modify_async(self, request: Union["ProcessModifyRequest", Mapping[str, Any], str]) -> None:
        """``modify`` for asyncio."""
        if request is None:
            raise TypeError("modify needs a ProcessModifyRequest")
        await self._call_async("HcsModifyProcess", request, "ProcessModifyRequest")

    def resize_console(self, *, width: int, height: int, timeout: Optional[float] = None) -> None:
        """Resize the pseudo console of a process created with ``emulate_console`` (keywords only: HCS orders
        the size [height, width], terminals width x height)."""
        size = _console_size(ConsoleSize(width, height), 1)
        self.modify({"Operation": "ConsoleSize", "ConsoleSize": {"Height": size.height, "Width": size.width}},
                    timeout=timeout)

    async def resize_console_async(self, *, width: int, height: int) -> None:
        """``resize_console`` for asyncio."""
        size = _console_size(ConsoleSize(width, height), 1)
        await self._call_async("HcsModifyProcess", {"Operation": "ConsoleSize",
                                                    "ConsoleSize": {"Height": size.height, "Width": size.width}},
                               "ProcessModifyRequest")

    # -- stdin ---------------------------------------------------------------------------------------------
    def _stdin_closed(self) -> None:
        """The stdin file was closed (by the user, communicate, the asyncio writer or close()): ask HCS to close
        its end too -- without waiting, since close() must not block, and not once the process is gone."""
        if self._stdin_close_sent or self._hub.has_exit:
            return
        self._stdin_close_sent = True
        raw = self._lease.raw
        # hcsshim's CloseStdin request; the buffer lives until HCS is done with the operation (keep=).
        request = document_arg(_CLOSE_STDIN_REQUEST, "ProcessModifyRequest")
        fire_and_forget("HcsModifyProcess", lambda h: lib.HcsModifyProcess(raw, h, request),
                        keep=request, leases=(self._lease,), system_id=self.system.id, process_id=self.pid)

    def _close_stdin_quietly(self) -> None:
        stdin = self.stdin
        if stdin is not None:
            stdin.close()  # runs _stdin_closed once

    def _take_stdin(self) -> bool:
        """Close our end of stdin without the automatic request; True when the request is still to be sent."""
        stdin = self.stdin
        if stdin is not None and not stdin.closed:
            hook = getattr(stdin, "_on_close", None)
            if hook is not None:
                stdin._on_close = None  # type: ignore[attr-defined]
            stdin.close()
        if self._stdin_close_sent:
            return False
        self._stdin_close_sent = True
        return True

    def close_stdin(self, *, timeout: Optional[float] = None) -> None:
        """End the process's input and wait until HCS confirmed: close our end of stdin and send
        ProcessModifyRequest CloseHandle StdIn (hcsshim's CloseStdin). ``stdin.close()`` does the same without
        waiting. Nothing happens once stdin was closed or the process exited."""
        seconds = _timeouts.check(timeout)
        if not self._take_stdin() or self._hub.has_exit:
            return
        try:
            self.modify(_CLOSE_STDIN_REQUEST, timeout=seconds)
        except HcsError as exc:
            if not self._already_gone(exc) and self.exit_code is None:
                raise

    async def close_stdin_async(self) -> None:
        """``close_stdin`` for asyncio (sends what the stream writer still holds first)."""
        writer = self._streams[0] if self._streams is not None else None
        if writer is not None:
            writer.close()
            await writer.wait_closed()
        if not self._take_stdin() or self._hub.has_exit:
            return
        try:
            await self._call_async("HcsModifyProcess", _CLOSE_STDIN_REQUEST, "ProcessModifyRequest")
        except HcsError as exc:
            if not self._already_gone(exc) and self.exit_code is None:
                raise

    # -- queries -------------------------------------------------------------------------------------------
    def properties(self, query: Document = None, *, timeout: Optional[float] = None) -> "ProcessStatus":
        """HcsGetProcessProperties: the ProcessStatus (ProcessId, Exited, ExitCode, LastWaitResult)."""
        result, _ = self._call("HcsGetProcessProperties", query, timeout, "property query")
        return cast("ProcessStatus", result or {})

    async def properties_async(self, query: Document = None) -> "ProcessStatus":
        """``properties`` for asyncio."""
        result = await self._call_async("HcsGetProcessProperties", query, "property query")
        return cast("ProcessStatus", result or {})

    def process_info(self, *, timeout: Optional[float] = None) -> ProcessInfo:
        """HcsGetProcessInfo: the process id and a fresh set of its std handles, as files that are yours to close
        (``with process.process_info() as info: info.stdout.read()``)."""
        _, raw = self._call("HcsGetProcessInfo", None, timeout, "", with_document=False, process_info=True)
        if raw is None:
            raise HcsError(message="HcsGetProcessInfo returned no process information", function="HcsGetProcessInfo",
                           system_id=self.system.id, process_id=self.pid)
        return _process_info_files(raw)

    @property
    def started_at(self) -> Optional[datetime]:
        """When the process started (ProcessDetails.CreateTimestamp from the system's ProcessList, asked once and
        remembered); None when HCS does not list the process (it has exited)."""
        from ._times import parse_timestamp  # datetime is imported only by programs that ask for times

        if self._started_at is None and not self._hub.has_exit:
            for entry in self.system.properties(["ProcessList"]).get("ProcessList") or []:
                if isinstance(entry, dict) and entry.get("ProcessId") == self.pid:
                    self._started_at = parse_timestamp(entry.get("CreateTimestamp"))
                    break
        return self._started_at

    @property
    def exited_at(self) -> Optional[datetime]:
        """When pyhcs learnt of the exit (the ProcessExited event; HCS reports no exit time), in UTC; None before."""
        return self._hub.exit_time()

    # -- exit ----------------------------------------------------------------------------------------------
    @property
    def exit_code(self) -> Optional[int]:
        """The exit code once ProcessExited arrived (None before)."""
        status = self._hub.exit_data
        if not isinstance(status, dict):
            return None
        return _exit_code(status)

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait for ProcessExited and return the exit code (HcsTimeoutError on timeout, HcsClosedError when the
        handle is closed meanwhile)."""
        status = self._hub.wait_exit(_timeouts.check(timeout), f"process {self.pid}")
        return _exit_code(status)

    async def wait_async(self) -> int:
        """``wait`` for asyncio."""
        return _exit_code(await self._hub.wait_exit_async())

    @property
    def exit_status(self) -> Optional["ProcessStatus"]:
        """The ProcessStatus of the ProcessExited event (None until it arrives)."""
        return cast(Optional["ProcessStatus"], self._hub.exit_data)

    # -- I/O -----------------------------------------------------------------------------------------------
    def communicate(self, input: Optional[bytes] = None, timeout: Optional[float] = None) -> Tuple[bytes, bytes]:
        """Write *input* to stdin and close it, read stdout and stderr to end of file, wait for the exit; return
        (stdout, stderr), as ``subprocess.Popen.communicate``.

        *timeout* covers the whole call. When it runs out, ``HcsProcessTimeoutError`` carries the output read so
        far; the process keeps running, and calling ``communicate()`` again continues where it stopped (without
        new input). stdin is closed even without *input* (the process gets end of file). Each pipe is served by
        its own thread, so none can fill up and block the process while another is being served."""
        seconds = _timeouts.check(timeout)
        if input is not None and not isinstance(input, (bytes, bytearray, memoryview)):
            raise TypeError(f"input must be bytes-like, not {type(input).__name__}")
        comm = self._communication
        if comm is None:
            if input and self.stdin is None:
                raise ValueError("input was given but the process has no stdin (create it with stdin=True)")
            if input and self.stdin is not None and self.stdin.closed:
                raise ValueError("input was given but stdin is already closed")
            comm = self._communication = _Communication(self, bytes(input) if input else None, seconds is None)
        elif input:
            raise ValueError("input can only be given to the first communicate() call")
        deadline = _timeouts.Deadline(seconds)
        if not comm.join(deadline):
            raise self._timed_out(comm, seconds, "did not finish")
        if comm.errors:
            raise comm.errors[0]
        try:
            self.wait(deadline.remaining())
        except HcsTimeoutError:
            raise self._timed_out(comm, seconds, "closed its output but did not exit") from None
        return comm.output()

    def _timed_out(self, comm: _Communication, seconds: Optional[float], what: str,
                   killed: bool = False) -> HcsProcessTimeoutError:
        out, err = comm.output()
        return HcsProcessTimeoutError(
            HCS_E_OPERATION_TIMEOUT,
            f"process {self.pid} {what} within {seconds} s" + ("; it was terminated" if killed else ""),
            stdout=out, stderr=err, timeout=seconds, command_line=None, function="communicate",
            system_id=self.system.id, process_id=self.pid,
        )

    async def streams(self) -> Tuple[Optional["StdinWriter"], Optional["asyncio.StreamReader"],
                                     Optional["asyncio.StreamReader"]]:
        """asyncio streams over stdin/stdout/stderr (each None when that pipe was not created): a
        ``StreamWriter``-shaped stdin (``write``, ``await drain()``, ``close()``, ``await wait_closed()``) and
        two ``asyncio.StreamReader``. The files then belong to the streams."""
        if self._streams is None:
            w = _stdio.StdinWriter(self.stdin) if self.stdin is not None else None
            readers: List[Optional["asyncio.StreamReader"]] = []
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
        """Close the handle and the std files (idempotent, any thread, returns at once). Threads waiting on the
        process -- in ``wait()``, or reading or writing its files -- get HcsClosedError. Closing stdin gives the
        process end of input; the process itself keeps running."""
        if not self._mark_closed():
            return
        what, system_id, process_id = self._identity()
        error = HcsClosedError(ERROR_INVALID_HANDLE_HRESULT, f"{what} was closed", name="ERROR_INVALID_HANDLE",
                               system_id=system_id, process_id=process_id)
        self._hub.closed(what)  # wait() and wait_async() waiters first: they may be what the readers wait for
        owned = {id(f) for f, _ in self._stream_owned}
        for f in (self.stdin, self.stdout, self.stderr):
            if f is not None and id(f) not in owned:
                _stdio.interrupt(f, error)
        if self._streams is not None and self._streams[0] is not None:
            self._streams[0]._abort(error)
        for _, close_stream in self._stream_owned:  # the asyncio streams own their files
            close_stream()
        self._close_native()

    def __enter__(self) -> "Process":
        """``with`` support: leaving the block closes the handle and the std files (the process keeps
        running)."""
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "Process":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


def _process_info_files(raw: RawProcessInfo) -> ProcessInfo:
    files: List[Optional[IO[bytes]]] = []
    try:
        files.append(_stdio.open_writer(raw.stdin))
        files.append(_stdio.open_reader(raw.stdout))
        files.append(_stdio.open_reader(raw.stderr))
    except BaseException:
        for f in files:
            if f is not None:
                f.close()
        for handle in (raw.stdin, raw.stdout, raw.stderr)[len(files):]:
            if handle is not None:
                _stdio.close_handle(handle)
        raise
    return ProcessInfo(raw.process_id, files[0], files[1], files[2])


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


def _check_input(input: Optional[bytes], kwargs: Dict[str, Any]) -> None:
    # Before the process exists: afterwards a bad input would leave a process to clean up.
    if input is not None and not isinstance(input, (bytes, bytearray, memoryview)):
        raise TypeError(f"input must be bytes-like, not {type(input).__name__}")
    if input and kwargs.get("stdin") is False:
        raise ValueError("input was given with stdin=False")


def run_process(system: "ComputeSystem", command_line: str, *, input: Optional[bytes] = None,
                timeout: Optional[float] = None, **kwargs: Any) -> CompletedProcess:
    """``ComputeSystem.run``: *timeout* covers the whole call (create, input, output, exit); when it runs out the
    process is terminated and HcsProcessTimeoutError carries the output read until then."""
    seconds = _timeouts.check(timeout)
    _check_input(input, kwargs)
    deadline = _timeouts.Deadline(seconds)
    kwargs.setdefault("stdin", input is not None)
    try:
        process = Process.create(system, command_line, timeout=deadline.remaining(), **kwargs)
    except HcsTimeoutError as exc:
        raise HcsProcessTimeoutError(
            HCS_E_OPERATION_TIMEOUT, f"{command_line!r} was not even created within {seconds} s", timeout=seconds,
            command_line=command_line, function="run", system_id=system.id,
        ) from exc
    with process:
        try:
            out, err = process.communicate(input, deadline.remaining())
        except HcsProcessTimeoutError as exc:
            # As subprocess.run: kill it, then collect what it wrote before dying (bounded: a grandchild may
            # hold the pipes open).
            try:
                process.terminate(timeout=KILL_GRACE_SECONDS)
            except HcsError:
                pass
            comm = process._communication
            if comm is not None:
                comm.join(_timeouts.Deadline(KILL_GRACE_SECONDS))
                exc.stdout, exc.stderr = comm.output()
            exc.command_line = command_line
            exc.timeout = seconds
            exc.function = "run"
            exc.message = f"{command_line!r} did not finish within {seconds} s; it was terminated"
            exc.args = (exc.message,)
            raise
        except BaseException:
            process._terminate_quietly()
            raise
        code = process.wait(0)
        return CompletedProcess(code, out, err)


async def run_process_async(system: "ComputeSystem", command_line: str, *, input: Optional[bytes] = None,
                            **kwargs: Any) -> CompletedProcess:
    """``ComputeSystem.run_async``: use ``asyncio.wait_for`` for a timeout. If the task is cancelled, the process
    is terminated (at once, or as soon as HCS delivers it when the create was still running)."""
    import asyncio

    _check_input(input, kwargs)
    kwargs.setdefault("stdin", input is not None)
    process = await Process.create_async(system, command_line, **kwargs)
    try:
        stdin, stdout, stderr = await process.streams()

        async def feed() -> None:
            if stdin is not None:
                if input:
                    stdin.write(input)
                    try:
                        await stdin.drain()
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                stdin.close()
                await stdin.wait_closed()

        async def drain(r: Optional[asyncio.StreamReader]) -> bytes:
            return b"" if r is None else await r.read()

        try:
            _, out, err = await asyncio.gather(feed(), drain(stdout), drain(stderr))
            code = await process.wait_async()
        except BaseException:
            # Never await here: a cancelled task could be cancelled again while it awaits the terminate.
            process._terminate_quietly()
            raise
        return CompletedProcess(code, out, err)
    finally:
        process.close()
