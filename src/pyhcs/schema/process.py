"""Process documents: HcsCreateProcess input, HcsSignalProcess / HcsModifyProcess options and process
status/details returned by HCS."""

from typing import Dict, List, Union

from typing_extensions import Literal, TypedDict

from .common import DateTime

__all__ = [
    "ProcessSignal",
    "SignalName",
    "ModifyOperation",
    "StdHandle",
    "ProcessParameters",
    "ProcessStatus",
    "ProcessDetails",
    "SignalProcessOptions",
    "ConsoleSize",
    "CloseHandle",
    "ProcessModifyRequest",
]

ProcessSignal = Literal["CtrlC", "CtrlBreak", "CtrlClose", "CtrlLogOff", "CtrlShutdown"]
"""Console control event sent by HcsSignalProcess to a Windows process (schema 2.1)."""

SignalName = ProcessSignal
"""Alias of :data:`ProcessSignal`."""

ModifyOperation = Literal["ConsoleSize", "CloseHandle"]
"""Operation of a ``ProcessModifyRequest`` (schema 2.0)."""

StdHandle = Literal["StdIn", "StdOut", "StdErr", "All"]
"""Standard handle closed by a ``CloseHandle`` request (schema 2.0; ``All`` 2.1)."""


class ProcessParameters(TypedDict, total=False):
    """The document passed to HcsCreateProcess (schema 2.0).

    ``CommandArgs`` is an alternative to ``CommandLine`` supported only by the Linux GCS. ``ConsoleSize`` is
    ``[height, width]``. ``EmulateConsole`` creates a pseudo console (stderr then goes to stdout).
    """

    ApplicationName: str
    CommandLine: str
    CommandArgs: List[str]
    User: str
    WorkingDirectory: str
    Environment: Dict[str, str]
    RestrictedToken: bool
    EmulateConsole: bool
    CreateStdInPipe: bool
    CreateStdOutPipe: bool
    CreateStdErrPipe: bool
    ConsoleSize: List[int]
    UseExistingLogin: bool
    UseLegacyConsole: bool


class ProcessStatus(TypedDict, total=False):
    """Process exit status: the EventData of an HcsEventProcessExited event (schema 2.1).

    ``ExitCode`` is valid only when ``Exited`` is true and ``LastWaitResult`` is S_OK (0).
    """

    ProcessId: int
    Exited: bool
    ExitCode: int
    LastWaitResult: int


class ProcessDetails(TypedDict, total=False):
    """One entry of ``Properties.ProcessList``: a process running in a container (schema 2.1)."""

    ProcessId: int
    ImageName: str
    CreateTimestamp: DateTime
    UserTime100ns: int
    KernelTime100ns: int
    MemoryCommitBytes: int
    MemoryWorkingSetPrivateBytes: int
    MemoryWorkingSetSharedBytes: int


class SignalProcessOptions(TypedDict, total=False):
    """Options of HcsSignalProcess (schema 2.1).

    Windows processes take a :data:`ProcessSignal` name; for Linux guests (LCOW) hcsshim sends the numeric
    signal instead, hence ``int`` is accepted too.
    """

    Signal: Union[ProcessSignal, int]


class ConsoleSize(TypedDict, total=False):
    """New console size for a ``ProcessModifyRequest`` with ``Operation: "ConsoleSize"`` (schema 2.0)."""

    Height: int
    Width: int


class CloseHandle(TypedDict, total=False):
    """Which standard handle to close, for ``Operation: "CloseHandle"`` (schema 2.0)."""

    Handle: StdHandle


class ProcessModifyRequest(TypedDict, total=False):
    """The document passed to HcsModifyProcess: resize the console or close a std handle (schema 2.0).

    E.g. closing stdin: ``{"Operation": "CloseHandle", "CloseHandle": {"Handle": "StdIn"}}``.
    """

    Operation: ModifyOperation
    ConsoleSize: ConsoleSize
    CloseHandle: CloseHandle
