"""Interpreter exit while HCS still works (issue 8, items 7, 8 and 12's closer thread).

HCS calls back on its own threads whenever it finishes an operation, and nothing withdraws the callback of an
operation in flight (HcsCancelOperation.md: "will always return E_NOTIMPL"). A callback that reaches Python after
the interpreter finalized crashes the process; pyhcs waits a bounded grace, closes its handles (HcsClose* waits
for a callback in flight and no event callback follows, hcsshim internal/hcs/v2/system.go), then closes native
gates so later completions return without entering Python.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """
import asyncio, os, sys, threading, time
import pyhcs
from tests.fakes.control import FakeHcs
fake = FakeHcs(pyhcs._ffi.library_path("computecore"))
fake.reset()
DOC = {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}}
"""


def run_python(code: str, fake_library: Path, timeout: float = 60, before: str = "") -> "subprocess.CompletedProcess[str]":
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
               PYHCS_COMPUTECORE=str(fake_library))
    source = textwrap.dedent(before) + PRELUDE + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", source], env=env, capture_output=True, text=True, timeout=timeout)


def test_exit_with_completions_still_arriving_never_crashes(fake_library: Path) -> None:
    """200 properties_async and 5 run_async in flight, HCS completing one every few ms, and an exit that does not
    wait for them: once the grace ran out the completions entered a finalizing interpreter (SIGSEGV/SIGILL in 5 of
    24 runs with the 10 s grace; nearly every run with a short one)."""
    code = """
        pyhcs.operation.EXIT_GRACE_SECONDS = 0.3
        async def main():
            system = await pyhcs.ComputeSystem.create_async("exit-crash", DOC)
            await system.start_async()
            fake.set_latency("HcsGetComputeSystemProperties", 7)
            fake.set_latency("HcsCreateProcess", 300)
            for _ in range(200):
                asyncio.ensure_future(system.properties_async())
            for _ in range(5):
                asyncio.ensure_future(system.run_async("sleep 0.2; echo x"))
            await asyncio.sleep(0.01)
            print("leaving", flush=True)
        asyncio.new_event_loop().run_until_complete(main())
    """
    for _ in range(6):
        started = time.monotonic()
        result = run_python(code, fake_library)
        assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
        assert "leaving" in result.stdout and "Fatal" not in result.stderr
        assert time.monotonic() - started < 15  # the grace, then the bounded close, then out


def test_exit_is_bounded_however_long_hcs_takes(fake_library: Path) -> None:
    code = """
        pyhcs.operation.EXIT_GRACE_SECONDS = 0.5
        async def main():
            system = await pyhcs.ComputeSystem.create_async("exit-slow", DOC)
            fake.set_latency("HcsGetComputeSystemProperties", 60_000)
            asyncio.ensure_future(system.properties_async())
            await asyncio.sleep(0.05)
            print("leaving", flush=True)
        asyncio.new_event_loop().run_until_complete(main())
    """
    started = time.monotonic()
    result = run_python(code, fake_library)
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.monotonic() - started < 10


def test_many_timed_out_calls_share_one_reaper_and_exit_promptly(fake_library: Path) -> None:
    """1,500 properties(timeout=0.001) left 1,451 reaper threads, and the process was alive 40 s later."""
    code = """
        system = pyhcs.ComputeSystem.create("exit-reaper", DOC)
        system.start()
        fake.set_latency("HcsGetComputeSystemProperties", 10)  # queued behind each other: ~3 s of work in all
        timeouts = 0
        for _ in range(300):
            try:
                system.properties(timeout=0.001)
            except pyhcs.HcsTimeoutError:
                timeouts += 1
        print("timeouts", timeouts, "threads", threading.active_count(), flush=True)
    """
    started = time.monotonic()
    result = run_python(code, fake_library)
    assert result.returncode == 0, result.stderr[-2000:]
    words = result.stdout.split()
    timeouts, threads = int(words[words.index("timeouts") + 1]), int(words[words.index("threads") + 1])
    assert timeouts > 250
    assert threads <= 3, result.stdout  # the main thread, one reaper (and perhaps the closer)
    assert time.monotonic() - started < 15


def test_exit_runs_the_closes_queued_on_the_closer_thread(fake_library: Path) -> None:
    """A close requested on an HCS thread runs on pyhcs's closer thread, a daemon: exit must let it finish
    rather than drop it."""
    before = """
        import atexit  # registered before pyhcs is imported: runs after pyhcs's own exit handler
        atexit.register(lambda: print("open system handles at exit:", fake.counters()["OpenSystemHandles"]))
    """
    code = """
        from pyhcs._ffi import lib
        real_close = lib.HcsCloseComputeSystem
        def slow_close(handle):
            time.sleep(0.3)
            real_close(handle)
        lib.__dict__["HcsCloseComputeSystem"] = slow_close
        system = pyhcs.ComputeSystem.create("exit-closer", DOC)
        system.start()
        system.on_event(lambda event: system.close(), inline=True)  # runs on the HCS thread: close is deferred
        system.terminate()
        time.sleep(0.1)
        print("leaving", flush=True)
    """
    result = run_python(code, fake_library, before=before)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "open system handles at exit: 0" in result.stdout, result.stdout


def pyhcs_exit_grace() -> float:
    import pyhcs.operation

    return pyhcs.operation.EXIT_GRACE_SECONDS


def test_exit_releases_completions_queued_for_a_loop_that_never_runs_again(fake_library: Path) -> None:
    """An awaited call's completion is queued for its event loop, which reads the result and closes the operation.
    A program that stops running its loop (without closing it) and exits leaves them queued: exit reads and closes
    them itself rather than waiting out its grace for operations that are in fact finished."""
    before = """
        import atexit  # registered before pyhcs is imported: runs after pyhcs's own exit handler
        atexit.register(lambda: print("open operations at exit:", fake.counters()["OpenOperations"], flush=True))
    """
    code = """
        system = pyhcs.ComputeSystem.create("exit-queued", DOC)
        system.start()
        fake.set_latency("HcsGetComputeSystemProperties", 20)
        loop = asyncio.new_event_loop()
        async def start():
            return [system.properties_async() for _ in range(50)]
        futures = loop.run_until_complete(start())
        fake.wait_quiescent(10)
        print("completed, unread:", sum(not f.done() for f in futures), flush=True)
    """
    started = time.monotonic()
    result = run_python(code, fake_library, before=before)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "completed, unread: 50" in result.stdout
    assert "open operations at exit: 0" in result.stdout, result.stdout
    assert time.monotonic() - started < pyhcs_exit_grace() - 2  # released at once, not after the grace


@pytest.mark.skipif(not __import__("pyhcs._gate", fromlist=["gates"]).gates.supported,
                    reason="no native gate on this machine (x86-64 only); exit waits for the operations instead")
def test_a_closed_gate_keeps_completions_out_of_python(fake) -> None:
    """The gate (pyhcs._gate) is what makes a late completion harmless: once closed, HCS's call returns at once.
    Exercised in a child process, since closing it is one-way."""
    code = """
        from pyhcs import _completions, _gate
        _completions.enabled = False  # the gate guards the trampoline (native completions never enter Python)
        pyhcs.operation.EXIT_GRACE_SECONDS = 0.2  # the refused operation never completes: do not wait for it
        async def main():
            system = await pyhcs.ComputeSystem.create_async("gate", DOC)
            await system.start_async()
            assert (await system.properties_async())["State"] == "Running"
            _gate.gates.close()
            try:
                await asyncio.wait_for(system.properties_async(), 0.5)
            except asyncio.TimeoutError:
                print("refused")
        asyncio.run(main())
    """
    result = run_python(code, fake.path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused" in result.stdout
