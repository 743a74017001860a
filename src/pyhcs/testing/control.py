"""The fake HCS loaded in this process, and its control API (``FakeHcs*``, declared in ``fakehcs_control.h``).

``use_fake()`` points pyhcs at the fake and returns a ``FakeHcs``: reset it, make calls fail (``inject_fault``),
slow them down (``set_latency``, ``set_minimum_duration``), make a system stop by itself
(``simulate_unexpected_exit``) or the whole service vanish (``simulate_service_disconnect``), and read its counters
of open handles and unfreed result strings (``counters()``; ``check_leaks()`` asserts they are zero).

The declarations come from ``fakehcs_control.h`` itself (cffi ABI mode reads the header), so a control function
added to the fake is one C function, its line in the header and its method here.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union, cast

from typing_extensions import Protocol, TypedDict

from .build import HOST_OS_VERSION_ENV, control_header, fake_library, fake_storage_library, host_os_version
from .errors import LeakError

__all__ = ["LEAK_COUNTERS", "Counters", "FakeHcs", "check_leaks", "use_fake"]

PathLike = Union[str, "os.PathLike[str]"]


class Counters(TypedDict):
    """The fake's counters (``FAKEHCS_COUNTERS``). The first four must be zero after a test: every handle closed,
    every result string ``LocalFree``'d."""

    OpenOperations: int  #: HCS_OPERATION handles created and not closed
    OpenSystemHandles: int  #: HCS_SYSTEM handles created or opened and not closed
    OpenProcessHandles: int  #: HCS_PROCESS handles created or opened and not closed
    OutstandingStrings: int  #: result strings handed out and not yet LocalFree'd
    LiveSystems: int  #: compute systems the (service's) engine knows, in any state
    RunningProcesses: int  #: OS processes the fake started and has not reaped yet
    CallbacksInFlight: int  #: callbacks running right now
    CallbacksDelivered: int  #: callbacks invoked since the last reset


#: The counters a leak check requires to be zero (handles and result strings are the caller's to release).
LEAK_COUNTERS = ("OpenOperations", "OpenSystemHandles", "OpenProcessHandles", "OutstandingStrings")
COUNTER_NAMES = tuple(Counters.__annotations__)

FAULT_ASYNC = 0  # FAKEHCS_FAULT_ASYNC: the call returns S_OK and its operation completes with the HRESULT
FAULT_SYNC = 1  # FAKEHCS_FAULT_SYNC: the call itself returns the HRESULT

_ffi: Any = None


def _control_ffi() -> Any:
    """One cffi FFI declaring the control API, read from fakehcs_control.h (its preprocessor lines and the
    FAKEHCS_API export marker dropped: ABI mode needs only the prototypes and the struct)."""
    global _ffi
    if _ffi is None:
        import cffi

        text = control_header().read_text(encoding="utf-8")
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        ffi = cffi.FFI()
        ffi.cdef(re.sub(r"\bFAKEHCS_API\b", "", text))
        _ffi = ffi
    return _ffi


def _hr32(hr: int) -> int:
    """An HRESULT given as unsigned (0x8037...) or signed, as the int32 the C API takes."""
    hr &= 0xFFFFFFFF
    return hr - (1 << 32) if hr & 0x80000000 else hr


def _counters(struct: Any) -> Counters:
    return cast(Counters, {name: int(getattr(struct, name)) for name in COUNTER_NAMES})


class FakeHcs:
    """The control API of the fake HCS library at *path* (default: ``fake_library()``), as loaded in this process.

    Loading the same file pyhcs loaded gives the same fake (the dynamic loader returns the library already in the
    process). In service mode (``PYHCS_FAKE_SERVICE`` set when the library made its first call) the library is a
    client of the fake HCS service: reset, faults, latency, disconnect and unexpected exit act on the service, hence
    on every client; ``counters()`` are this process's, ``global_counters()`` every client's."""

    def __init__(self, path: Optional[PathLike] = None, storage_path: Optional[PathLike] = None) -> None:
        #: The computecore library this object controls.
        self.path = Path(path) if path is not None else fake_library()
        #: The computestorage library that goes with it (the same file on POSIX).
        self.storage_path = Path(storage_path) if storage_path is not None else (
            self.path if path is not None else fake_storage_library())
        ffi = _control_ffi()
        # RTLD_NODELETE, as pyhcs's own loader: cffi unloads a library it opened when the interpreter finalizes, while
        # the fake's threads may still run its code (a crash at exit, about one run in sixty, when nothing else --
        # pyhcs -- kept the library loaded). Off POSIX the flag does not exist and Windows keeps the DLL referenced.
        self._lib: Any = ffi.dlopen(str(self.path), ffi.RTLD_NOW | getattr(ffi, "RTLD_NODELETE", 0))

    def __repr__(self) -> str:
        return f"<FakeHcs {str(self.path)!r}>"

    def env(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """An environment for a child process that loads this fake: *base* (default: ours) with
        ``PYHCS_COMPUTECORE`` and ``PYHCS_COMPUTESTORAGE`` set. In process mode the child has a fake of its own;
        use a service (``start_service``) to share one between processes."""
        env = dict(os.environ if base is None else base)
        env["PYHCS_COMPUTECORE"] = str(self.path)
        env["PYHCS_COMPUTESTORAGE"] = str(self.storage_path)
        return env

    def reset(self) -> None:
        """Terminate every process, forget every system, clear faults, latency and a simulated disconnect, restore
        the default minimum durations and zero the counters. Handles still open become unknown; closing them is
        harmless."""
        self._lib.FakeHcsReset()

    def inject_fault(self, function: str, hresult: int, count: int = 1, *, sync: bool = False) -> None:
        """The next *count* calls of *function* (an exported name, e.g. ``"HcsStartComputeSystem"``) fail with
        *hresult*.

        A function that starts an operation: when *sync*, the call returns *hresult* and nothing starts; otherwise
        the call returns S_OK and its operation completes with *hresult* without doing the work. Any other function
        that returns an HRESULT (``HcsWaitForOperationResult`` included) returns *hresult* and changes nothing.
        ``HcsCreateOperation`` returns NULL, its documented allocation failure. Raises ``ValueError`` for an
        unknown name and for functions that cannot report a failure (``HcsClose*``, ``HcsGetOperationContext``,
        ``HcsGetOperationType``)."""
        rc = self._lib.FakeHcsInjectFault(function.encode(), _hr32(hresult), count, FAULT_SYNC if sync else FAULT_ASYNC)
        if rc == -2:
            raise ValueError(f"{function} has no way to report a failure; the fake cannot inject one")
        if rc != 0:
            raise ValueError(f"the fake HCS exports no function named {function!r}")

    def set_latency(self, function: str, ms: int) -> None:
        """Delay the completion of *function*'s operations by *ms* milliseconds (``"*"``: every function; 0
        clears). Functions without an operation are delayed in the call."""
        if self._lib.FakeHcsSetLatency(function.encode(), ms) != 0:
            raise ValueError(f"the fake HCS exports no function named {function!r}")

    def set_minimum_duration(self, function: str, ms: int) -> None:
        """Operations of *function* complete no earlier than *ms* milliseconds after the call (``"*"``: every
        function; 0: as soon as their work is done). On by default for the calls that create a handle --
        ``HcsCreateComputeSystem`` 100 ms, ``HcsCreateProcess`` 10 ms -- as real HCS never creates faster;
        ``reset()`` restores the defaults. In service mode it applies to this process's operations."""
        if self._lib.FakeHcsSetMinimumDuration(function.encode(), ms) != 0:
            raise ValueError(f"the fake HCS exports no function named {function!r}")

    def set_host_os_version(self, version: Optional[str]) -> None:
        """The host the fake checks container images against (0xC0370101 when one does not fit), in
        ``PYHCS_HOST_OS_VERSION``'s format: ``"10.0.17763.1234"``, ``"10.0.22631.1 client"``. ``None`` goes back to
        that variable of the engine's process (the service's in service mode) or the default, as ``reset()`` does.
        ValueError for text that is not a host."""
        ffi = _control_ffi()
        rc = self._lib.FakeHcsSetHostOsVersion(ffi.NULL if version is None else version.encode())
        if rc == -1:
            raise ValueError(f"{version!r} is not a host: expected '<major>.<minor>.<build>[.<revision>] "
                             f"[server|client]'")
        if rc != 0:
            raise ConnectionError("the fake HCS service cannot be reached")

    def host_os_version(self) -> str:
        """The host the fake checks images against, e.g. ``"10.0.20348.2655 server"`` (always with its SKU)."""
        ffi = _control_ffi()
        buffer = ffi.new("char[]", 128)
        n = self._lib.FakeHcsGetHostOsVersion(buffer, 128)
        if n < 0:
            raise ConnectionError("the fake HCS service cannot be reached")
        return str(ffi.string(buffer, n).decode())

    def simulate_service_disconnect(self) -> None:
        """The HCS service "crashes": every callback receives ServiceDisconnect, operations in flight fail with
        HCS_E_SERVICE_DISCONNECT, and so does every later call until ``reset()``."""
        self._lib.FakeHcsSimulateServiceDisconnect()

    def simulate_unexpected_exit(self, system_id: str, status: int = 0x80370106) -> None:
        """The compute system *system_id* stops by itself: its processes are killed and SystemExited carries
        ExitType "UnexpectedExit" and *status*. Raises ``LookupError`` when no such system exists."""
        if self._lib.FakeHcsSimulateUnexpectedExit(system_id.encode(), _hr32(status)) != 0:
            raise LookupError(f"no running compute system {system_id!r} in the fake HCS")

    def counters(self) -> Counters:
        """This process's open handles, unfreed strings and callbacks, with the (service's) ``LiveSystems`` and
        ``RunningProcesses``."""
        c = _control_ffi().new("FAKEHCS_COUNTERS *")
        self._lib.FakeHcsGetCounters(c)
        return _counters(c)

    def global_counters(self) -> Counters:
        """Every client's counters summed (service mode); in process, the same as ``counters()``."""
        c = _control_ffi().new("FAKEHCS_COUNTERS *")
        self._lib.FakeHcsGetGlobalCounters(c)
        return _counters(c)

    def client_counters(self, pid: int) -> Counters:
        """The counters of the client process *pid* (``LookupError`` when no such client is connected)."""
        c = _control_ffi().new("FAKEHCS_COUNTERS *")
        if self._lib.FakeHcsGetClientCounters(pid, c) != 0:
            raise LookupError(f"no client with process id {pid} uses the fake HCS")
        return _counters(c)

    def clients(self) -> List[int]:
        """Process ids of the service's clients (in process: this process)."""
        capacity = 256
        while True:
            pids = _control_ffi().new("uint32_t[]", capacity)
            n = int(self._lib.FakeHcsListClients(pids, capacity))
            if n < 0:
                raise ConnectionError("the fake HCS service cannot be reached")
            if n <= capacity:
                return [int(pids[i]) for i in range(n)]
            capacity = n

    def service_status(self) -> str:
        """``"in-process"``, ``"connected"`` (a client of the fake HCS service), or ``"unreachable"`` (HCS calls fail
        with HCS_E_SERVICE_DISCONNECT until the service answers again)."""
        return {0: "in-process", 1: "connected"}.get(int(self._lib.FakeHcsServiceStatus()), "unreachable")

    def wait_quiescent(self, timeout: float = 5.0) -> bool:
        """Wait until no operation work, engine event or callback is queued or running; False on timeout."""
        return bool(self._lib.FakeHcsWaitIdle(int(timeout * 1000)))

    def assert_no_leaks(self, timeout: float = 5.0) -> None:
        """``check_leaks(self, timeout)``: no handle open and no result string unfreed in this process."""
        check_leaks(self, timeout)


class _CounterSource(Protocol):
    def counters(self) -> Counters: ...


def check_leaks(fake: _CounterSource, timeout: float = 5.0) -> None:
    """Raise ``LeakError`` (an ``AssertionError``) unless no HCS handle is open and no result string is unfreed.

    *fake* is a ``FakeHcs`` (this process's handles and strings) or a ``ServiceControl`` (every client of a fake
    HCS service). Callbacks and process reaping finish on the fake's own threads, so the check waits up to
    *timeout* seconds for the counters to settle before it fails."""
    deadline = time.monotonic() + timeout
    wait = getattr(fake, "wait_quiescent", None)
    while True:
        if wait is not None:
            wait(max(0.0, deadline - time.monotonic()))
        counters = cast(Mapping[str, int], fake.counters())
        leaks = {name: int(counters[name]) for name in LEAK_COUNTERS if counters[name]}
        if not leaks or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if leaks:
        details = ", ".join(f"{name}={value}" for name, value in leaks.items())
        where = "in the fake HCS service's clients" if wait is None else "in this process"
        raise LeakError(
            f"fake HCS leak check failed {where}: {details} (every HCS_OPERATION, HCS_SYSTEM and HCS_PROCESS handle "
            f"must be closed and every result string LocalFree'd; all counters: {dict(counters)})",
            leaks, dict(counters),
        )


def use_fake(service: Optional[str] = None) -> FakeHcs:
    """Build (or find) the fake, make pyhcs use it and return its control API.

    Calls ``pyhcs.use_library`` with the fake's libraries and sets ``PYHCS_COMPUTECORE`` and
    ``PYHCS_COMPUTESTORAGE`` in ``os.environ``, so child processes started afterwards load it too. With *service*
    (an endpoint, see ``start_service``) it also sets ``PYHCS_FAKE_SERVICE``: the fake in this process -- and in
    its children -- is a client of that service. The fake reads ``PYHCS_FAKE_SERVICE`` at its first call in a
    process, so pass *service* before anything in the process has called HCS. ``PYHCS_HOST_OS_VERSION`` is set
    to the fake's default host when unset, so ``pyhcs.compat`` and the fake agree on the host."""
    import pyhcs

    core, storage = fake_library(), fake_storage_library()
    os.environ["PYHCS_COMPUTECORE"] = str(core)
    os.environ["PYHCS_COMPUTESTORAGE"] = str(storage)
    os.environ[HOST_OS_VERSION_ENV] = host_os_version()  # pyhcs.compat and the fake agree on the host
    if service:
        os.environ["PYHCS_FAKE_SERVICE"] = service
    pyhcs.use_library(core, storage)
    return FakeHcs(core, storage)
