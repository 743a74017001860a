"""Small helpers shared by the object-layer tests."""

from __future__ import annotations

import itertools
import os
import sys
from typing import Any, Dict

_ids = itertools.count(1)
IS_WINDOWS = sys.platform == "win32"


def unique_id(prefix: str = "test") -> str:
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


def container_document(**extra: Any) -> Dict[str, Any]:
    """A minimal ComputeSystem document for a process-isolated container (SchemaReference.md: ComputeSystem)."""
    doc: Dict[str, Any] = {
        "SchemaVersion": {"Major": 2, "Minor": 1},
        "Owner": "pyhcs-tests",
        "Container": {"Storage": {"Layers": []}},
    }
    doc.update(extra)
    return doc


def sh(posix: str, windows: str) -> str:
    """A command line for the fake's shell: /bin/sh -c off Windows, cmd.exe under Wine."""
    return windows if IS_WINDOWS else posix


def win_sleep(seconds: float, before: str = "", after: str = "") -> str:
    """A Windows command line that prints *before*, sleeps *seconds*, then prints *after* (each on its own line,
    when given): Windows Python (this interpreter), not cmd with ``ping -n``. Under Wine, a ping ended in the middle
    of an echo can deadlock winedevice.exe (nsiproxy.sys's ICMP cancel against its completion), and mountmgr.sys
    lives in the same process: from then on every file query in the prefix (an fstat) hangs, pytest's own capture
    included. CI's Windows leg hung that way."""
    code = "import time"
    if before:
        code = f"print({before!r}, flush=True); " + code
    code += f"; time.sleep({seconds})"
    if after:
        code += f"; print({after!r})"
    return f'"{sys.executable}" -I -S -c "{code}"'


def under_wine() -> bool:
    """Whether this Windows process runs under Wine (its ntdll exports wine_get_version); False off Windows."""
    if sys.platform != "win32":
        return False
    import ctypes

    return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")  # type: ignore[attr-defined]


def retry_wine_create_process() -> None:
    """Under Wine, make this process's CreateProcess calls (subprocess, and so every process a test starts) try again
    when Wine fails one with ERROR_INTERNAL_ERROR (1359). A loaded machine sometimes gets that error when the new
    process cannot be set up, and CI runs the Windows legs beside the Linux ones. No process was created, and the
    handles meant for it are still open (subprocess closes them after CreateProcess returns or raises), so a retry
    starts exactly what the first call would have started. Real Windows gets no such retry."""
    import time
    import _winapi  # type: ignore[import-not-found]

    if not under_wine():
        return
    create = _winapi.CreateProcess
    if getattr(create, "retries_wine_1359", False):
        return

    def create_process(*args: Any) -> Any:
        for pause in (0.25, 0.5, 0.75):
            try:
                return create(*args)
            except OSError as exc:
                if getattr(exc, "winerror", None) != 1359:
                    raise
                time.sleep(pause)
        return create(*args)  # the last try: its error is the test's

    create_process.retries_wine_1359 = True  # type: ignore[attr-defined]
    _winapi.CreateProcess = create_process


def rewake_wine_proactor_loops(period: float = 0.05) -> None:
    """Under Wine, give every ProactorEventLoop (asyncio's default on Windows) a timer every *period* seconds, so
    that a lost self-pipe wakeup costs at most that long instead of the test.

    Why: under Wine, a ``call_soon_threadsafe`` from another thread now and then leaves the loop asleep in
    ``GetQueuedCompletionStatus`` with the callback in its ready queue: the byte it sends to the loop's self-pipe
    socket does not complete the loop's pending ``WSARecv``. Beside the Linux suite, 2 of 7 short Wine runs of 500
    awaited calls stalled for 2 s and more; in one, a watchdog thread found the loop asleep in
    ``IocpProactor._poll`` with a ready callback for 2 s, and its own second wakeup woke it. CI's Windows
    service-mode leg lost 60 s in test_many_operations_in_flight that way. asyncio's own code does this, not pyhcs's (which only calls
    ``call_soon_threadsafe``), and the Linux legs run without this timer, so a wakeup pyhcs itself failed to make
    still fails a test there. Real Windows gets no such timer."""
    import asyncio.windows_events as windows_events

    if not under_wine():
        return
    loop_class = windows_events.ProactorEventLoop
    run_forever = loop_class.run_forever
    if getattr(run_forever, "rewakes_under_wine", False):
        return

    def run_forever_rewoken(self: Any) -> None:
        timer: Any = None

        def tick() -> None:
            nonlocal timer
            timer = self.call_later(period, tick)

        timer = self.call_later(period, tick)
        try:
            run_forever(self)
        finally:
            timer.cancel()

    run_forever_rewoken.rewakes_under_wine = True  # type: ignore[attr-defined]
    loop_class.run_forever = run_forever_rewoken


def open_descriptor_count() -> int:
    """File descriptors (POSIX) or handles (Windows) open in this process.

    Windows: the entries of this process in NtQuerySystemInformation(SystemHandleInformation) -- Wine implements
    that one, while its GetProcessHandleCount always answers 0."""
    if not IS_WINDOWS:
        return len(os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"))
    import ctypes

    ntdll = ctypes.WinDLL("ntdll")  # type: ignore[attr-defined]
    pid = ctypes.WinDLL("kernel32").GetCurrentProcessId() & 0xFFFF  # type: ignore[attr-defined]
    size = 1 << 20
    while True:
        buf = ctypes.create_string_buffer(size)
        status = ntdll.NtQuerySystemInformation(16, buf, size, None) & 0xFFFFFFFF  # SystemHandleInformation
        if status != 0xC0000004:  # STATUS_INFO_LENGTH_MISMATCH: try a bigger buffer
            break
        size *= 2
    if status != 0:
        raise OSError(f"NtQuerySystemInformation failed: NTSTATUS 0x{status:08X}")
    # SYSTEM_HANDLE_INFORMATION (x64): ULONG NumberOfHandles (padded to 8), then 24-byte
    # SYSTEM_HANDLE_TABLE_ENTRY_INFO entries starting with USHORT UniqueProcessId.
    raw = buf.raw
    count = int.from_bytes(raw[0:4], "little")
    return sum(1 for i in range(count) if int.from_bytes(raw[8 + 24 * i:10 + 24 * i], "little") == pid)


def wait_for_trap(pid: int, signum: int, timeout: float = 10.0) -> None:
    """Wait until POSIX process *pid* catches or ignores *signum* (a shell has run its ``trap``): a signal sent
    before that would end the process instead. Reads SigCgt and SigIgn in /proc/<pid>/status."""
    import time

    status_path = f"/proc/{pid}/status"
    if not os.path.exists(status_path):
        raise AssertionError(f"process {pid} has no {status_path}: it is gone, or this system has no /proc")
    bit = 1 << (signum - 1)
    deadline = time.monotonic() + timeout
    while True:
        with open(status_path) as fh:
            masks = dict(line.split(":", 1) for line in fh if line.startswith(("SigCgt", "SigIgn")))
        if any(int(value.strip(), 16) & bit for value in masks.values()):
            return
        assert time.monotonic() < deadline, f"process {pid} has not trapped signal {signum} after {timeout} s"
        time.sleep(0.01)
