"""Python access to the fake HCS's test control API (``fakehcs_control.h``).

``FakeHcs(path)`` opens the same ``libfakehcs.so`` that pyhcs loads (dlopen returns the one loaded instance) with
its own small cffi ABI-mode declaration of the ``FakeHcs*`` functions. In service mode (``PYHCS_FAKE_SERVICE``) the
library is a client of the fake HCS service: reset, faults, latency, disconnect and unexpected exit act on the
service (every client); ``counters()`` are this process's, ``global_counters()`` every client's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Dict, List, Union

import cffi

_CDEF = """
typedef struct FAKEHCS_COUNTERS {
    int64_t OpenOperations;
    int64_t OpenSystemHandles;
    int64_t OpenProcessHandles;
    int64_t OutstandingStrings;
    int64_t LiveSystems;
    int64_t RunningProcesses;
    int64_t CallbacksInFlight;
    int64_t CallbacksDelivered;
} FAKEHCS_COUNTERS;
void FakeHcsReset(void);
int FakeHcsInjectFault(const char *function, int32_t hr, uint32_t count, uint32_t flags);
int FakeHcsSetLatency(const char *function, uint32_t milliseconds);
int FakeHcsSetMinimumDuration(const char *function, uint32_t milliseconds);
void FakeHcsSimulateServiceDisconnect(void);
int FakeHcsSimulateUnexpectedExit(const char *systemId, int32_t status);
void FakeHcsGetCounters(FAKEHCS_COUNTERS *counters);
int FakeHcsWaitIdle(uint32_t timeout_ms);
void FakeHcsGetGlobalCounters(FAKEHCS_COUNTERS *counters);
int FakeHcsGetClientCounters(uint32_t pid, FAKEHCS_COUNTERS *counters);
int FakeHcsListClients(uint32_t *pids, int capacity);
int FakeHcsServiceStatus(void);
int FakeHcsSetHostOsVersion(const char *version);
int FakeHcsGetHostOsVersion(char *buffer, uint32_t size);
"""

FAULT_ASYNC = 0
FAULT_SYNC = 1

_ffi = cffi.FFI()
_ffi.cdef(_CDEF)

#: Counters that must be zero after a test (handles and result strings are the caller's to release).
LEAK_COUNTERS = ("OpenOperations", "OpenSystemHandles", "OpenProcessHandles", "OutstandingStrings")


def _hr32(hr: int) -> int:
    """An HRESULT given as unsigned (0x8037...) or signed, as the int32 the C API takes."""
    hr &= 0xFFFFFFFF
    return hr - (1 << 32) if hr & 0x80000000 else hr


class FakeHcs:
    """The control API of one loaded fake HCS library."""

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        self.path = Path(path)
        self._lib: Any = _ffi.dlopen(str(self.path))

    def reset(self) -> None:
        """Terminate every process, forget every system, clear faults/latency/disconnect, zero the counters."""
        self._lib.FakeHcsReset()

    def inject_fault(self, function: str, hresult: int, count: int = 1, *, sync: bool = False) -> None:
        """The next *count* calls of *function* fail with *hresult*.

        A function that starts an operation: synchronously (the call returns *hresult*, nothing starts) when
        *sync*, else the call returns S_OK and its operation completes with *hresult*. Any other function that
        returns an HRESULT -- HcsWaitForOperationResult, HcsGetOperationResult and their *AndProcessInfo forms
        included -- returns *hresult* and changes nothing (the operation keeps running; a later wait sees its real
        result). HcsCreateOperation and HcsCreateOperationWithNotifications return NULL, their documented
        allocation failure (HcsCreateOperation.md); HcsGetOperationId returns HCS_INVALID_OPERATION_ID and
        HcsGetComputeSystemFromOperation / HcsGetProcessFromOperation return NULL (*hresult* is unused for those).
        Raises ValueError for an unknown name and for functions that cannot report a failure (HcsClose*,
        HcsGetOperationContext, HcsGetOperationType)."""
        rc = self._lib.FakeHcsInjectFault(function.encode(), _hr32(hresult), count, FAULT_SYNC if sync else FAULT_ASYNC)
        if rc == -2:
            raise ValueError(f"{function} has no way to report a failure; the fake cannot inject one")
        if rc != 0:
            raise ValueError(f"the fake HCS exports no function named {function!r}")

    def set_latency(self, function: str, ms: int) -> None:
        """Delay completion of *function*'s operations by *ms* ("*": every function; 0 clears)."""
        if self._lib.FakeHcsSetLatency(function.encode(), ms) != 0:
            raise ValueError(f"the fake HCS exports no function named {function!r}")

    def set_minimum_duration(self, function: str, ms: int) -> None:
        """Operations of *function* complete no earlier than *ms* after the call ("*": every function; 0: as soon
        as their work is done). On by default for the calls that create a handle -- HcsCreateComputeSystem(InNamespace)
        100 ms, HcsCreateProcess 10 ms -- as real HCS takes at least that long, which OperationCompletionSample.md's
        register-after-create pattern relies on; ``reset()`` restores the defaults."""
        if self._lib.FakeHcsSetMinimumDuration(function.encode(), ms) != 0:
            raise ValueError(f"the fake HCS exports no function named {function!r}")

    def simulate_service_disconnect(self) -> None:
        """The service "crashes": ServiceDisconnect events, in-flight operations fail, later calls fail."""
        self._lib.FakeHcsSimulateServiceDisconnect()

    def simulate_unexpected_exit(self, system_id: str, status: int = 0x80370106) -> None:
        """The system stops by itself (SystemExited with ExitType "UnexpectedExit" and *status*)."""
        if self._lib.FakeHcsSimulateUnexpectedExit(system_id.encode(), _hr32(status)) != 0:
            raise LookupError(f"no running compute system {system_id!r} in the fake HCS")

    def counters(self) -> Dict[str, int]:
        """This process's handles, strings and callbacks, with the (service's) LiveSystems and RunningProcesses."""
        c = _ffi.new("FAKEHCS_COUNTERS *")
        self._lib.FakeHcsGetCounters(c)
        return {name: int(getattr(c, name)) for name in dir(c)}

    def global_counters(self) -> Dict[str, int]:
        """Every client's counters summed (service mode); in process, the same as counters()."""
        c = _ffi.new("FAKEHCS_COUNTERS *")
        self._lib.FakeHcsGetGlobalCounters(c)
        return {name: int(getattr(c, name)) for name in dir(c)}

    def client_counters(self, pid: int) -> Dict[str, int]:
        """The counters of the client process `pid` (LookupError when no such client is connected)."""
        c = _ffi.new("FAKEHCS_COUNTERS *")
        if self._lib.FakeHcsGetClientCounters(pid, c) != 0:
            raise LookupError(f"no client with process id {pid} uses the fake HCS")
        return {name: int(getattr(c, name)) for name in dir(c)}

    def clients(self) -> List[int]:
        """Process ids of the service's clients (in process: this process)."""
        pids = _ffi.new("uint32_t[]", 256)
        n = self._lib.FakeHcsListClients(pids, 256)
        if n < 0:
            raise ConnectionError("the fake HCS service cannot be reached")
        return [int(pids[i]) for i in range(min(n, 256))]

    def service_status(self) -> str:
        """"in-process", "connected" (service mode), or "unreachable" (calls fail with HCS_E_SERVICE_DISCONNECT)."""
        return {0: "in-process", 1: "connected"}.get(int(self._lib.FakeHcsServiceStatus()), "unreachable")

    def set_host_os_version(self, version: Union[str, None]) -> None:
        """The host the fake checks container images against (0xC0370101 when one does not fit), in
        ``PYHCS_HOST_OS_VERSION``'s format: ``"10.0.17763.1234"``, ``"10.0.22631.1 client"``. ``None`` goes back to
        that variable of the engine's process (the service's in service mode) or the default, as ``reset()`` does.
        ValueError for text that is not a host."""
        rc = self._lib.FakeHcsSetHostOsVersion(_ffi.NULL if version is None else version.encode())
        if rc == -1:
            raise ValueError(f"{version!r} is not a host: expected '<major>.<minor>.<build>[.<revision>] "
                             f"[server|client]'")
        if rc != 0:
            raise ConnectionError("the fake HCS service cannot be reached")

    def host_os_version(self) -> str:
        """The host the fake checks images against, e.g. ``"10.0.20348.2655 server"`` (always with its SKU)."""
        buffer = _ffi.new("char[]", 128)
        n = self._lib.FakeHcsGetHostOsVersion(buffer, 128)
        if n < 0:
            raise ConnectionError("the fake HCS service cannot be reached")
        return _ffi.string(buffer, n).decode()

    def wait_quiescent(self, timeout: float = 5.0) -> bool:
        """Wait until no operation work, engine event or callback is queued or running."""
        return bool(self._lib.FakeHcsWaitIdle(int(timeout * 1000)))

    def assert_no_leaks(self, timeout: float = 5.0) -> None:
        """After letting callbacks and reaping settle, assert no handle is open and no result string is unfreed."""
        deadline = time.monotonic() + timeout
        while True:
            self.wait_quiescent(max(0.0, deadline - time.monotonic()))
            counters = self.counters()
            leaks = {name: counters[name] for name in LEAK_COUNTERS if counters[name] != 0}
            if not leaks or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        if leaks:
            details = ", ".join(f"{name}={value}" for name, value in leaks.items())
            raise AssertionError(
                f"fake HCS leak check failed: {details} (every HCS_OPERATION/HCS_SYSTEM/HCS_PROCESS handle must be "
                f"closed and every result string LocalFree'd; all counters: {counters})"
            )
