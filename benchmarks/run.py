#!/usr/bin/env python3
"""Benchmarks of the HCS callback path, as ratios against floors measured in the same run.

    python benchmarks/run.py [--quick] [--json PATH] [--profile] [--fake LIBRARY] [--mode both|in-process|service]
                             [--install-go | --no-go]

Every figure is measured in this one process, against one loaded fake HCS (tests/fakes), three ways where it
applies: pyhcs (the object layer), a raw cffi loop calling the same HCS functions with no pyhcs layer (the floor),
and a C driver linked against the same fake (benchmarks/c_driver.c, the physical floor); and, when a Go toolchain is
present, a Go peer built as hcsshim is built (benchmarks/go_peer, its own process against the same fake build, driven
sample by sample from here: see benchmarks/_gopeer.py). Variants run interleaved
(round r runs every variant, in an order rotated by r) and each figure is the median over rounds; ratios are the
median of the per-round paired ratios, so machine drift and noise cancel. Ratios are throughput ratios: >1 means
faster than the floor.

Timings are never judged here: the exit status is 0 whatever the figures (CI runs ``--quick`` as a smoke check);
the targets of docs/performance.md are reported as met/missed. By default the call-path benchmarks also run in
service mode (the fake HCS as a separate process, as vmcompute.exe is): same variants, same floors, all clients.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(HERE), str(ROOT), str(ROOT / "src")):
    if p not in sys.path:
        sys.path.insert(0, p)

import _cdriver  # noqa: E402
import _gopeer  # noqa: E402

INFINITE = 0xFFFFFFFF
CONTAINER_DOC = {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}}
CONTAINER_JSON = json.dumps(CONTAINER_DOC, separators=(",", ":"))
SLEEP_PARAMS = {"CommandLine": "exec sleep 600", "CreateStdInPipe": False, "CreateStdOutPipe": False,
                "CreateStdErrPipe": False}
ECHO_COMMAND = "echo hello"
ECHO_PARAMS = {"CommandLine": ECHO_COMMAND, "CreateStdInPipe": False, "CreateStdOutPipe": True,
               "CreateStdErrPipe": True}
EVENT_TIMEOUT = 60.0

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"bench-{prefix}-{os.getpid()}-{next(_ids)}"


# ----------------------------------------------------------------------------------------------- configuration

FULL = {
    "rounds": 11,
    "sync_n": 3000,
    "async": {1: 1500, 100: 6000, 1000: 6000},
    "system_events_n": 500,
    "process_events_n": 60,
    # An event sample is one burst of 500 exits, 5-7 ms of timed work on 2 vCPUs: its per-round paired ratios
    # scatter with a standard deviation of 0.2-0.3, so a median of 11 moved by about 0.09 between runs of the same
    # code. 31 rounds halve that (docs/performance.md, round four).
    "event_rounds": 31,
    "process_n": 40,
    "process_rounds": 7,
    "import_runs": 15,
    "rss_ops": 200_000,
}
QUICK = {
    "rounds": 3,
    "sync_n": 300,
    "async": {1: 200, 100: 600, 1000: 1000},
    "system_events_n": 30,
    "process_events_n": 6,
    "event_rounds": 2,
    "process_n": 5,
    "process_rounds": 2,
    "import_runs": 5,
    "rss_ops": 4_000,
}

TARGETS = [
    # (benchmark key, ratio name, minimum, description)
    ("sync_round_trip", "pyhcs/raw_cffi", 0.9, "pyhcs sync >= 0.9x raw cffi sync (throughput)"),
    ("async_100", "pyhcs/raw_cffi", 0.8, "pyhcs async, 100 in flight >= 0.8x coalesced raw cffi"),
    ("async_1000", "pyhcs/raw_cffi", 0.8, "pyhcs async, 1000 in flight >= 0.8x coalesced raw cffi"),
    ("system_events", "pyhcs_callback/raw_callback", 0.8, "system events into a callback >= 0.8x raw"),
    ("system_events", "pyhcs_inline/raw_callback", 0.8, "system events into an inline callback >= 0.8x raw"),
    ("system_events", "pyhcs_async/raw_async", 0.8, "system events into an async iterator >= 0.8x raw"),
    ("process_events", "pyhcs_callback/raw_callback", 0.8, "process-exit events into a callback >= 0.8x raw"),
    ("process_events", "pyhcs_inline/raw_callback", 0.8, "process-exit events into an inline callback >= 0.8x raw"),
    ("process_events", "pyhcs_async/raw_async", 0.8, "process-exit events into an async iterator >= 0.8x raw"),
]


# ----------------------------------------------------------------------------------------------- statistics

def summary(values: Sequence[float]) -> Dict[str, Any]:
    v = sorted(values)
    if len(v) >= 2:
        q = statistics.quantiles(v, n=4, method="inclusive")
        p25, p75 = q[0], q[2]
    else:
        p25 = p75 = v[0]
    med = statistics.median(v)
    return {
        "median": med,
        "p25": p25,
        "p75": p75,
        "min": v[0],
        "max": v[-1],
        "iqr_pct": (p75 - p25) / med * 100 if med else 0.0,
        "samples": list(values),
    }


class Bench:
    """One benchmark: named variants measured interleaved, each sample a time per operation (µs)."""

    def __init__(self, key: str, title: str, unit: str = "us/op") -> None:
        self.key = key
        self.title = title
        self.unit = unit
        self.samples: Dict[str, List[float]] = collections.OrderedDict()
        self.labels: Dict[str, str] = {}
        self.params: Dict[str, Any] = {}

    def run(self, variants: Sequence[Tuple[str, str, Callable[[], float]]], rounds: int, warmup: bool = True) -> None:
        for name, label, _ in variants:
            self.samples[name] = []
            self.labels[name] = label
        if warmup:
            for _, _, fn in variants:
                fn()
        for r in range(rounds):
            k = r % len(variants)
            for name, _, fn in list(variants[k:]) + list(variants[:k]):  # rotated: ABC, BCA, CAB ...
                self.samples[name].append(fn())

    def ratio(self, num: str, den: str) -> Dict[str, Any]:
        """Throughput ratio num/den (= time(den)/time(num)), paired per round."""
        pairs = [d / n for n, d in zip(self.samples[num], self.samples[den]) if n > 0]
        s = summary(pairs)
        del s["samples"], s["iqr_pct"]
        s["of_medians"] = statistics.median(self.samples[den]) / statistics.median(self.samples[num])
        return s

    def to_json(self, ratios: Sequence[Tuple[str, str]]) -> Dict[str, Any]:
        variants = {}
        for name, vals in self.samples.items():
            s = summary(vals)
            s["label"] = self.labels[name]
            s["ops_per_s"] = 1e6 / s["median"] if s["median"] > 0 else 0.0
            variants[name] = s
        return {
            "title": self.title,
            "unit": self.unit,
            "params": self.params,
            "variants": variants,
            "ratios": {f"{a}/{b}": self.ratio(a, b) for a, b in ratios},
        }


# ----------------------------------------------------------------------------------------------- the environment

class Env:
    """The fake, pyhcs bound to it, a raw cffi handle on the same library, the C driver and the fake's counters."""

    def __init__(self, fake_path: str) -> None:
        import pyhcs
        from pyhcs._ffi import ffi

        self.fake_path = fake_path
        pyhcs.use_library(fake_path)
        self.ffi = ffi
        self.raw = ffi.dlopen(fake_path)  # the same loaded object as pyhcs's (dlopen is refcounted)
        self.dffi, self.drv = _cdriver.load(fake_path)
        from pyhcs.testing import FakeHcs

        self.fake = FakeHcs(fake_path)  # the fake's control API (counters), same loaded library
        # Every variant measures the binding's own cost on the same fake; the fake's realistic minimum durations of
        # creates (tests/fakes/README.md, "Operations") would add the same floor to each and flatten the ratios.
        self.fake.set_minimum_duration("*", 0)
        self.go: Optional[_gopeer.GoPeer] = None  # the Go peer process, when a Go toolchain is present

    def counters(self) -> Dict[str, int]:
        return self.fake.counters()

    def wide(self, text: str) -> Any:
        from pyhcs._strings import to_wide

        return to_wide(text)

    # raw helpers (setup only: never timed)
    def raw_sync(self, call: Callable[[Any], int]) -> Optional[str]:
        ffi, L = self.ffi, self.raw
        op = L.HcsCreateOperation(ffi.NULL, ffi.NULL)
        doc = ffi.new("PWSTR *")
        try:
            hr = call(op)
            if hr >= 0:
                hr = L.HcsWaitForOperationResult(op, INFINITE, doc)
            text = None
            if doc[0] != ffi.NULL:
                text = ffi.string(doc[0])
                L.LocalFree(doc[0])
            if hr < 0:
                raise RuntimeError(f"HRESULT 0x{hr & 0xFFFFFFFF:08X}: {text}")
            return text
        finally:
            L.HcsCloseOperation(op)

    def raw_create_started(self, system_id: str) -> Any:
        ffi, L = self.ffi, self.raw
        out = ffi.new("HCS_SYSTEM *")
        idw, docw = self.wide(system_id), self.wide(CONTAINER_JSON)
        self.raw_sync(lambda op: L.HcsCreateComputeSystem(idw, docw, op, ffi.NULL, out))
        h = out[0]
        self.raw_sync(lambda op: L.HcsStartComputeSystem(h, op, ffi.NULL))
        return h

    def raw_create_process(self, system: Any, params: Dict[str, Any]) -> Tuple[Any, Any]:
        ffi, L = self.ffi, self.raw
        pw = self.wide(json.dumps(params))
        out = ffi.new("HCS_PROCESS *")
        info = ffi.new("HCS_PROCESS_INFORMATION *")
        doc = ffi.new("PWSTR *")
        op = L.HcsCreateOperation(ffi.NULL, ffi.NULL)
        hr = L.HcsCreateProcess(system, pw, op, ffi.NULL, out)
        if hr >= 0:
            hr = L.HcsWaitForOperationResultAndProcessInfo(op, INFINITE, info, doc)
        if doc[0] != ffi.NULL:
            L.LocalFree(doc[0])
        L.HcsCloseOperation(op)
        if hr < 0:
            raise RuntimeError(f"HcsCreateProcess: HRESULT 0x{hr & 0xFFFFFFFF:08X}")
        return out[0], info

    def c_ids(self, ids: Sequence[str]) -> Tuple[Any, List[Any]]:
        keep = [self.dffi.new("char[]", i.encode()) for i in ids]
        return self.dffi.new("const char *[]", keep), keep

    def trigger_exits(self, ids: Sequence[str]) -> None:
        """The one trigger of every event benchmark: the systems stop by themselves (from C, GIL released)."""
        arr, keep = self.c_ids(ids)
        found = self.drv.drv_trigger_exits(arr, len(ids))
        if found != len(ids):
            raise RuntimeError(f"FakeHcsSimulateUnexpectedExit found {found} of {len(ids)} systems")


def c_time(ns: int, what: str) -> int:
    if ns < 0:
        raise RuntimeError(f"C driver {what} failed: 0x{-ns & 0xFFFFFFFF:08X}")
    return ns


# ----------------------------------------------------------------------------------------------- 1. sync round trip

def bench_sync(env: Env, cfg: Dict[str, Any]) -> Bench:
    import pyhcs

    ffi, L = env.ffi, env.raw
    n = cfg["sync_n"]
    system = pyhcs.ComputeSystem.create(new_id("sync"), CONTAINER_DOC)
    system.start()
    out = ffi.new("HCS_SYSTEM *")
    hr = L.HcsOpenComputeSystem(env.wide(system.id), 0x10000000, out)  # GENERIC_ALL
    assert hr >= 0, hex(hr)
    raw_h = out[0]

    def c_driver() -> float:
        return c_time(env.drv.drv_sync(raw_h, n), "drv_sync") / 1e3 / n

    def raw_cffi() -> float:
        create, get, wait, close = (L.HcsCreateOperation, L.HcsGetComputeSystemProperties,
                                    L.HcsWaitForOperationResult, L.HcsCloseOperation)
        free, string, NULL = L.LocalFree, ffi.string, ffi.NULL
        doc = ffi.new("PWSTR *")
        h = raw_h
        t0 = time.perf_counter_ns()
        for _ in range(n):
            op = create(NULL, NULL)
            get(h, op, NULL)
            wait(op, INFINITE, doc)
            p = doc[0]
            if p != NULL:
                string(p)
                free(p)
            close(op)
        return (time.perf_counter_ns() - t0) / 1e3 / n

    def raw_cffi_json() -> float:
        """Diagnostic: the raw loop plus json.loads of the result (pyhcs returns the parsed document)."""
        create, get, wait, close = (L.HcsCreateOperation, L.HcsGetComputeSystemProperties,
                                    L.HcsWaitForOperationResult, L.HcsCloseOperation)
        free, string, NULL, loads = L.LocalFree, ffi.string, ffi.NULL, json.loads
        doc = ffi.new("PWSTR *")
        h = raw_h
        t0 = time.perf_counter_ns()
        for _ in range(n):
            op = create(NULL, NULL)
            get(h, op, NULL)
            wait(op, INFINITE, doc)
            p = doc[0]
            if p != NULL:
                loads(string(p))
                free(p)
            close(op)
        return (time.perf_counter_ns() - t0) / 1e3 / n

    def pyhcs_sync() -> float:
        props = system.properties
        t0 = time.perf_counter_ns()
        for _ in range(n):
            props()
        return (time.perf_counter_ns() - t0) / 1e3 / n

    b = Bench("sync_round_trip", "1. sync round trip: create op -> get properties -> wait -> close")
    b.params = {"ops_per_sample": n, "rounds": cfg["rounds"]}
    try:
        b.run([("c", "C driver", c_driver), ("raw_cffi", "raw cffi loop", raw_cffi),
               ("pyhcs", "pyhcs system.properties()", pyhcs_sync),
               ("raw_cffi_json", "  diag: raw cffi + json.loads(result)", raw_cffi_json)]
              + _gopeer.variants(env.go, "sync", n=n), cfg["rounds"])
    finally:
        L.HcsCloseComputeSystem(raw_h)
        with system:
            pass
    return b


# ----------------------------------------------------------------------------------------------- 2. async

class RawAsync:
    """The raw cffi floor of asyncio completion: one ffi.callback, an integer context, coalesced loop wakeups
    (the completion thread queues, one call_soon_threadsafe drains everything queued since the last wakeup)."""

    def __init__(self, env: Env, loop: asyncio.AbstractEventLoop) -> None:
        self.env = env
        self.loop = loop
        self.futures: Dict[int, "asyncio.Future[Any]"] = {}
        self.pending: "collections.deque[Tuple[int, int, Optional[str]]]" = collections.deque()
        self.scheduled = False
        ffi, L = env.ffi, env.raw
        get_result, close, free, string, cast, new, NULL = (L.HcsGetOperationResult, L.HcsCloseOperation,
                                                            L.LocalFree, ffi.string, ffi.cast, ffi.new, ffi.NULL)
        pending, call_soon = self.pending, loop.call_soon_threadsafe
        drain = self._drain

        def on_completion(op: Any, ctx: Any) -> None:
            doc = new("PWSTR *")
            hr = get_result(op, doc)
            p = doc[0]
            text = None
            if p != NULL:
                text = string(p)
                free(p)
            close(op)
            pending.append((int(cast("uintptr_t", ctx)), hr, text))
            if not self.scheduled:
                self.scheduled = True
                call_soon(drain)

        self.callback = ffi.callback("HCS_OPERATION_COMPLETION", on_completion)  # kept referenced by self

    def _drain(self) -> None:
        self.scheduled = False
        pending, futures = self.pending, self.futures
        while pending:
            key, hr, text = pending.popleft()
            fut = futures.pop(key)
            if not fut.done():
                fut.set_result((hr, text))


def bench_async(env: Env, cfg: Dict[str, Any]) -> List[Bench]:
    import pyhcs

    ffi, L = env.ffi, env.raw
    system = pyhcs.ComputeSystem.create(new_id("async"), CONTAINER_DOC)
    system.start()
    out = ffi.new("HCS_SYSTEM *")
    assert L.HcsOpenComputeSystem(env.wide(system.id), 0x10000000, out) >= 0
    raw_h = out[0]
    loop = asyncio.new_event_loop()
    raw = RawAsync(env, loop)
    keys = itertools.count(1)
    benches = []
    # A second loop whose calls complete through the cffi trampoline (pyhcs._completions off when its first call
    # arms it): what the native completion code is worth, in the same rounds.
    from pyhcs import _completions

    tloop = asyncio.new_event_loop()
    saved, _completions.enabled = _completions.enabled, False
    try:
        async def arm() -> None:
            await system.properties_async()

        tloop.run_until_complete(arm())
    finally:
        _completions.enabled = saved

    try:
        for k, n in cfg["async"].items():
            def c_driver(n: int = n, k: int = k) -> float:
                return c_time(env.drv.drv_async(raw_h, n, k), "drv_async") / 1e3 / n

            async def raw_run(n: int, k: int) -> float:
                create, get, cast, NULL = L.HcsCreateOperation, L.HcsGetComputeSystemProperties, ffi.cast, ffi.NULL
                cb, futures, h = raw.callback, raw.futures, raw_h
                new_future = loop.create_future
                t0 = time.perf_counter_ns()
                left = n
                while left:
                    m = min(k, left)
                    batch = []
                    for _ in range(m):
                        key = next(keys)
                        fut = futures[key] = new_future()
                        op = create(cast("void *", key), cb)
                        hr = get(h, op, NULL)
                        if hr < 0:
                            raise RuntimeError(hex(hr))
                        batch.append(fut)
                    for fut in batch:
                        await fut
                    left -= m
                return (time.perf_counter_ns() - t0) / 1e3 / n

            async def pyhcs_run(n: int, k: int) -> float:
                # The same shape as the raw floor: start k operations, then await each (properties_async returns a
                # future, so no Task is needed).
                props = system.properties_async
                t0 = time.perf_counter_ns()
                left = n
                while left:
                    m = min(k, left)
                    for fut in [props() for _ in range(m)]:
                        await fut
                    left -= m
                return (time.perf_counter_ns() - t0) / 1e3 / n

            async def pyhcs_gather_run(n: int, k: int) -> float:
                props = system.properties_async
                gather = asyncio.gather
                t0 = time.perf_counter_ns()
                left = n
                while left:
                    m = min(k, left)
                    await gather(*[props() for _ in range(m)])
                    left -= m
                return (time.perf_counter_ns() - t0) / 1e3 / n

            async def raw_task_run(n: int, k: int) -> float:
                create, get, cast, NULL = L.HcsCreateOperation, L.HcsGetComputeSystemProperties, ffi.cast, ffi.NULL
                cb, futures, h = raw.callback, raw.futures, raw_h
                new_future = loop.create_future

                async def one() -> Any:
                    key = next(keys)
                    fut = futures[key] = new_future()
                    hr = get(h, create(cast("void *", key), cb), NULL)
                    if hr < 0:
                        raise RuntimeError(hex(hr))
                    return await fut

                t0 = time.perf_counter_ns()
                left = n
                while left:
                    m = min(k, left)
                    await asyncio.gather(*[one() for _ in range(m)])
                    left -= m
                return (time.perf_counter_ns() - t0) / 1e3 / n

            async def pyhcs_begin_run(n: int, k: int) -> float:
                begin = system.begin
                t0 = time.perf_counter_ns()
                left = n
                while left:
                    m = min(k, left)
                    ops = [begin("HcsGetComputeSystemProperties") for _ in range(m)]
                    for op in ops:
                        await op
                    left -= m
                return (time.perf_counter_ns() - t0) / 1e3 / n

            def raw_cffi(n: int = n, k: int = k) -> float:
                return loop.run_until_complete(raw_run(n, k))

            def raw_cffi_task(n: int = n, k: int = k) -> float:
                return loop.run_until_complete(raw_task_run(n, k))

            def pyhcs_begin(n: int = n, k: int = k) -> float:
                return loop.run_until_complete(pyhcs_begin_run(n, k))

            def pyhcs_async(n: int = n, k: int = k) -> float:
                return loop.run_until_complete(pyhcs_run(n, k))

            def pyhcs_gather(n: int = n, k: int = k) -> float:
                return loop.run_until_complete(pyhcs_gather_run(n, k))

            def pyhcs_trampoline(n: int = n, k: int = k) -> float:
                return tloop.run_until_complete(pyhcs_run(n, k))

            b = Bench(f"async_{k}", f"2. async get-properties, {k} in flight (asyncio)")
            b.params = {"in_flight": k, "ops_per_sample": n, "rounds": cfg["rounds"]}
            variants = [("c", "C driver (condvar)", c_driver), ("raw_cffi", "raw cffi, coalesced wakeups", raw_cffi),
                        ("pyhcs", "pyhcs await properties_async()", pyhcs_async)]
            if k > 1:  # diagnostics: what a Task per operation costs, with and without pyhcs
                variants += [("pyhcs_gather", "  diag: pyhcs asyncio.gather(properties_async() x k)", pyhcs_gather),
                             ("raw_cffi_task", "  diag: raw cffi + a Task per op (gather)", raw_cffi_task),
                             ("pyhcs_begin", "  diag: pyhcs begin() ops awaited, no Task", pyhcs_begin),
                             ("pyhcs_trampoline", "  diag: pyhcs, completions through the cffi trampoline",
                              pyhcs_trampoline)]
            variants += _gopeer.variants(env.go, "async", n=n, k=k)
            b.run(variants, cfg["rounds"])
            benches.append(b)
    finally:
        loop.close()
        tloop.close()
        L.HcsCloseComputeSystem(raw_h)
        with system:
            pass
    return benches


# ----------------------------------------------------------------------------------------------- 3. events

class EventSink:
    """Counts events of one type from a foreign thread; records when the last expected one arrived."""

    def __init__(self, want: int) -> None:
        self.want = want
        self.seen = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.t_last = 0

    def hit(self) -> None:
        with self.lock:
            self.seen += 1
            if self.seen == self.want:
                self.t_last = time.perf_counter_ns()
                self.done.set()

    def wait(self, t0: int) -> float:
        if not self.done.wait(EVENT_TIMEOUT):
            raise RuntimeError(f"only {self.seen} of {self.want} events arrived")
        return (self.t_last - t0) / 1e3 / self.want


class RawEvents:
    """The raw cffi floor of event delivery: one ffi.callback reading the event's type and data."""

    def __init__(self, env: Env, event_type: int) -> None:
        ffi = env.ffi
        self.sinks: Dict[int, Any] = {}
        string, cast, NULL, sinks = ffi.string, ffi.cast, ffi.NULL, self.sinks

        def on_event(event: Any, ctx: Any) -> None:
            if event.Type == event_type:
                data = event.EventData
                text = string(data) if data != NULL else None
                sinks[int(cast("uintptr_t", ctx))](text)

        self.callback = ffi.callback("HCS_EVENT_CALLBACK", on_event)


class RawAsyncEvents:
    """Raw cffi event delivery into asyncio with coalesced wakeups, one future per handle."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: "collections.deque[Tuple[asyncio.Future[Any], Any]]" = collections.deque()
        self.scheduled = False

    def deliver(self, fut: "asyncio.Future[Any]", value: Any) -> None:  # any thread
        self.pending.append((fut, value))
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self.scheduled = False
        while self.pending:
            fut, value = self.pending.popleft()
            if not fut.done():
                fut.set_result(value)


def bench_events(env: Env, cfg: Dict[str, Any], kind: str) -> Bench:
    """kind 'system': n systems each get SystemExited; kind 'process': n processes of one system get
    ProcessExited. Setup (create, start, spawn, register) is untimed; the timed part is trigger -> last event."""
    import pyhcs
    from pyhcs import EventType

    ffi, L = env.ffi, env.raw
    etype = int(EventType.SYSTEM_EXITED if kind == "system" else EventType.PROCESS_EXITED)
    n = cfg["system_events_n" if kind == "system" else "process_events_n"]
    raw_events = RawEvents(env, etype)
    loop = asyncio.new_event_loop()
    ctx_keys = itertools.count(1)
    sleep_params_w = env.wide(json.dumps(SLEEP_PARAMS))

    # -- setup/teardown of the event sources, raw and pyhcs
    def raw_setup(register: Callable[[Any], int]) -> Tuple[List[str], Callable[[], None]]:
        handles: List[Tuple[str, Any]] = []
        if kind == "system":
            ids = [new_id("sysev") for _ in range(n)]
            for i in ids:
                h = env.raw_create_started(i)
                handles.append(("s", h))
                assert L.HcsSetComputeSystemCallback(h, 0, ffi.cast("void *", register(h)), raw_events.callback) >= 0
        else:
            ids = [new_id("procev")]
            sh = env.raw_create_started(ids[0])
            handles.append(("s", sh))
            for _ in range(n):
                ph, _info = env.raw_create_process(sh, SLEEP_PARAMS)
                handles.append(("p", ph))
                assert L.HcsSetProcessCallback(ph, 0, ffi.cast("void *", register(ph)), raw_events.callback) >= 0

        def close() -> None:
            for what, h in reversed(handles):
                (L.HcsCloseProcess if what == "p" else L.HcsCloseComputeSystem)(h)

        return ids, close

    def pyhcs_setup(trampoline: bool = False) -> Tuple[List[str], List[Any], Callable[[], None]]:
        """*trampoline*: the handles get their events through the cffi trampoline instead of pyhcs's native event
        code (a handle's choice is made when it registers its callback: ``pyhcs._native_events``)."""
        import pyhcs._native_events as native_events

        receiver = native_events.receiver
        if trampoline:
            native_events.receiver = lambda: None  # type: ignore[assignment]
        try:
            return _pyhcs_setup()
        finally:
            native_events.receiver = receiver  # type: ignore[assignment]

    def _pyhcs_setup() -> Tuple[List[str], List[Any], Callable[[], None]]:
        if kind == "system":
            systems = []
            for _ in range(n):
                s = pyhcs.ComputeSystem.create(new_id("sysev"), CONTAINER_DOC)
                s.start()
                systems.append(s)
            sources = systems
            closers = systems
        else:
            s = pyhcs.ComputeSystem.create(new_id("procev"), CONTAINER_DOC)
            s.start()
            systems = [s]
            sources = [s.create_process(document=SLEEP_PARAMS) for _ in range(n)]
            closers = sources + systems

        def close() -> None:
            for c in closers:
                c.close()

        return [s.id for s in systems], sources, close

    # -- variants
    def c_driver() -> float:
        if kind == "system":
            ids = [new_id("sysev") for _ in range(n)]
            arr, keep = env.c_ids(ids)
            ns = env.drv.drv_system_events(arr, n)
        else:
            ns = env.drv.drv_process_events(env.dffi.new("char[]", new_id("procev").encode()),
                                            env.dffi.cast("const char16_t *", sleep_params_w), n)
        return c_time(ns, f"{kind} events") / 1e3 / n

    def raw_callback() -> float:
        sink = EventSink(n)
        keys: List[int] = []

        def register(h: Any) -> int:
            key = next(ctx_keys)
            raw_events.sinks[key] = lambda text: sink.hit()
            keys.append(key)
            return key

        ids, close = raw_setup(register)
        try:
            t0 = time.perf_counter_ns()
            env.trigger_exits(ids)
            return sink.wait(t0)
        finally:
            close()
            for key in keys:
                raw_events.sinks.pop(key, None)

    def raw_callback_hop() -> float:
        """Diagnostic: the raw callback hands each event to one Python thread (what pyhcs's event thread does)."""
        import queue

        sink = EventSink(n)
        q: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        keys: List[int] = []

        def consumer() -> None:
            while True:
                item = q.get()
                if item is None:
                    return
                item()

        thread = threading.Thread(target=consumer, daemon=True)
        thread.start()

        def register(h: Any) -> int:
            key = next(ctx_keys)
            raw_events.sinks[key] = lambda text: q.put(sink.hit)
            keys.append(key)
            return key

        ids, close = raw_setup(register)
        try:
            t0 = time.perf_counter_ns()
            env.trigger_exits(ids)
            return sink.wait(t0)
        finally:
            q.put(None)
            thread.join()
            close()
            for key in keys:
                raw_events.sinks.pop(key, None)

    def pyhcs_callback(inline: bool = False, trampoline: bool = False) -> float:
        sink = EventSink(n)
        ids, sources, close = pyhcs_setup(trampoline)

        def on_event(event: Any) -> None:
            if event.type == etype:
                sink.hit()

        for s in sources:
            s.on_event(on_event, inline=inline)
        try:
            t0 = time.perf_counter_ns()
            env.trigger_exits(ids)
            return sink.wait(t0)
        finally:
            close()

    def raw_async() -> float:
        delivery = RawAsyncEvents(loop)
        futures: List["asyncio.Future[Any]"] = []
        keys: List[int] = []

        def register(h: Any) -> int:
            key = next(ctx_keys)
            fut = loop.create_future()
            futures.append(fut)
            raw_events.sinks[key] = lambda text, fut=fut: delivery.deliver(fut, text)
            keys.append(key)
            return key

        ids, close = raw_setup(register)

        async def main() -> float:
            t0 = time.perf_counter_ns()
            env.trigger_exits(ids)
            for fut in futures:
                await fut
            return (time.perf_counter_ns() - t0) / 1e3 / n

        try:
            return loop.run_until_complete(asyncio.wait_for(main(), EVENT_TIMEOUT))
        finally:
            close()
            for key in keys:
                raw_events.sinks.pop(key, None)

    def pyhcs_async() -> float:
        ids, sources, close = pyhcs_setup()

        async def main() -> float:
            streams = [s.events() for s in sources]
            t0 = time.perf_counter_ns()
            env.trigger_exits(ids)
            for stream in streams:  # one consumer draining each handle's iterator in turn (events queue meanwhile)
                async for event in stream:
                    if event.type == etype:
                        break
            return (time.perf_counter_ns() - t0) / 1e3 / n

        try:
            return loop.run_until_complete(asyncio.wait_for(main(), EVENT_TIMEOUT))
        finally:
            close()

    title = ("3a. system events: SystemExited of n systems" if kind == "system"
             else "3b. process-exit events: ProcessExited of n processes")
    b = Bench(f"{kind}_events", title)
    b.params = {"events_per_sample": n, "rounds": cfg["event_rounds"],
                "trigger": "FakeHcsSimulateUnexpectedExit from C; time from trigger to the last event"}
    try:
        b.run([("c", "C driver callback", c_driver),
               ("raw_callback", "raw cffi callback", raw_callback),
               ("pyhcs_callback", "pyhcs on_event() callback (event thread)", pyhcs_callback),
               ("pyhcs_inline", "pyhcs on_event(inline=True) callback", lambda: pyhcs_callback(True)),
               ("raw_async", "raw cffi -> asyncio future", raw_async),
               ("pyhcs_async", "pyhcs async for ... events()", pyhcs_async),
               ("raw_callback_hop", "  diag: raw callback -> a Python thread", raw_callback_hop),
               ("pyhcs_inline_trampoline", "  diag: pyhcs inline callback, events through the cffi trampoline",
                lambda: pyhcs_callback(True, True))]
              + (_gopeer.variants(env.go, "system_events", n=n) if kind == "system" else []),
              cfg["event_rounds"])
    finally:
        loop.close()
    return b


# ----------------------------------------------------------------------------------------------- 4. processes

def bench_processes(env: Env, cfg: Dict[str, Any]) -> Bench:
    import pyhcs

    ffi, L = env.ffi, env.raw
    n = cfg["process_n"]
    system = pyhcs.ComputeSystem.create(new_id("proc"), CONTAINER_DOC)
    system.start()
    out = ffi.new("HCS_SYSTEM *")
    assert L.HcsOpenComputeSystem(env.wide(system.id), 0x10000000, out) >= 0
    raw_h = out[0]
    params_w = env.wide(json.dumps(ECHO_PARAMS))

    def c_driver() -> float:
        return c_time(env.drv.drv_process_round_trip(raw_h, env.dffi.cast("const char16_t *", params_w), n),
                      "process round trip") / 1e3 / n

    def raw_cffi() -> float:
        create_op, create, wait_info, close_op = (L.HcsCreateOperation, L.HcsCreateProcess,
                                                  L.HcsWaitForOperationResultAndProcessInfo, L.HcsCloseOperation)
        wait_exit, close_proc, free, NULL, new, cast = (L.HcsWaitForProcessExit, L.HcsCloseProcess, L.LocalFree,
                                                        ffi.NULL, ffi.new, ffi.cast)
        t0 = time.perf_counter_ns()
        for _ in range(n):
            proc = new("HCS_PROCESS *")
            info = new("HCS_PROCESS_INFORMATION *")
            doc = new("PWSTR *")
            op = create_op(NULL, NULL)
            hr = create(raw_h, params_w, op, NULL, proc)
            if hr >= 0:
                hr = wait_info(op, INFINITE, info, doc)
            if doc[0] != NULL:
                free(doc[0])
            close_op(op)
            if hr < 0:
                raise RuntimeError(hex(hr))
            fds = [int(cast("intptr_t", h)) for h in (info.StdOutput, info.StdError)]
            for fd in fds:
                while os.read(fd, 65536):
                    pass
                os.close(fd)
            hr = wait_exit(proc[0], INFINITE, doc)
            if doc[0] != NULL:
                ffi.string(doc[0])
                free(doc[0])
            close_proc(proc[0])
        return (time.perf_counter_ns() - t0) / 1e3 / n

    def pyhcs_create() -> float:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            with system.create_process(ECHO_COMMAND, stdin=False) as p:
                assert p.stdout is not None and p.stderr is not None
                p.stdout.read()
                p.stderr.read()
                p.wait()
        return (time.perf_counter_ns() - t0) / 1e3 / n

    def pyhcs_run() -> float:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            system.run(ECHO_COMMAND)
        return (time.perf_counter_ns() - t0) / 1e3 / n

    b = Bench("process_round_trip", "4. process: create -> read stdout to EOF -> wait exit (`echo hello`)")
    b.params = {"processes_per_sample": n, "rounds": cfg["process_rounds"], "command": ECHO_COMMAND}
    try:
        b.run([("c", "C driver", c_driver), ("raw_cffi", "raw cffi", raw_cffi),
               ("pyhcs", "pyhcs create_process+read+wait", pyhcs_create),
               ("pyhcs_run", "pyhcs system.run()", pyhcs_run)], cfg["process_rounds"])
    finally:
        L.HcsCloseComputeSystem(raw_h)
        with system:
            pass
    return b


# ----------------------------------------------------------------------------------------------- 5. import, RSS

def bench_import(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """Import time in fresh interpreters. The headline is measured with bytecode cached, as a user who installed the
    wheel has it (pip compiles .pyc files at install time); in a PYTHONDONTWRITEBYTECODE=1 environment (some
    development and CI shells set it) every pyhcs module would otherwise be compiled on every import, which costs
    about as much as the import itself. The cache goes to a private PYTHONPYCACHEPREFIX, so the source tree is never
    written; the figure without bytecode is kept as a diagnostic."""
    import resource
    import shutil
    import tempfile

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.pop("PYTHONSTARTUP", None)
    no_bytecode = dict(env, PYTHONDONTWRITEBYTECODE="1")
    no_bytecode.pop("PYTHONPYCACHEPREFIX", None)
    prefix = tempfile.mkdtemp(prefix="pyhcs-bench-pyc-")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = prefix
    cases = {"pass": ("pass", env), "cffi": ("import cffi", env), "pyhcs": ("import pyhcs", env),
             "pass_no_bytecode": ("pass", no_bytecode), "pyhcs_no_bytecode": ("import pyhcs", no_bytecode)}
    times: Dict[str, List[float]] = {k: [] for k in cases}
    cpu: Dict[str, List[float]] = {k: [] for k in cases}

    def once(code: str, env: Dict[str, str], key: Optional[str] = None) -> float:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        wall = (time.perf_counter() - t0) * 1e3
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if key is not None:  # the child's own CPU time: what waiting for a busy machine's CPUs does not inflate
            cpu[key].append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1e3)
        return wall

    try:
        for k, (code, e) in cases.items():  # warm the file cache and the bytecode cache
            once(code, e)
        for r in range(cfg["import_runs"]):
            order = list(cases.items())
            k0 = r % len(order)
            for k, (code, e) in order[k0:] + order[:k0]:
                times[k].append(once(code, e, k))
        base = statistics.median(times["pass"])
        base_no_bytecode = statistics.median(times["pass_no_bytecode"])
        details = _import_details(cfg, env, times, base, base_no_bytecode)
        details["pyhcs_cpu_ms"] = summary([t - statistics.median(cpu["pass"]) for t in cpu["pyhcs"]])
        return details
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def _import_details(cfg: Dict[str, Any], env: Dict[str, str], times: Dict[str, List[float]], base: float,
                    base_no_bytecode: float) -> Dict[str, Any]:
    # -X importtime: the interpreter's own account (less noisy than wall clock), and where pyhcs's time goes
    def importtime(module: str) -> Tuple[int, List[Tuple[int, str]]]:
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], env=env,
                              capture_output=True, text=True, check=True)
        trace: List[Tuple[int, str]] = []
        own = 0
        for line in proc.stderr.splitlines():
            parts = line.split("|")
            if len(parts) != 3 or not parts[1].strip().isdigit():
                continue
            trace.append((int(parts[1]), parts[2].rstrip()))
            if parts[2].strip() == module:
                own = int(parts[1])
        return own, trace

    cumulative: Dict[str, List[int]] = {"pyhcs": [], "cffi": []}
    rows: List[Tuple[int, str]] = []
    for _ in range(max(3, cfg["import_runs"] // 3)):
        for module in cumulative:
            own, trace = importtime(module)
            cumulative[module].append(own)
            if module == "pyhcs":
                rows = trace
    # the biggest cumulative imports below pyhcs (the last block of the trace, after site's own imports)
    top = []
    for i, (us, name) in enumerate(reversed(rows)):
        if i and not name.startswith("  "):  # the previous top-level import: pyhcs's block is over
            break
        top.append((us, name))
    top.sort(reverse=True)
    modules_loaded = subprocess.run(
        [sys.executable, "-c", "import sys; b=set(sys.modules); import pyhcs; "
         "print(','.join(sorted(m for m in set(sys.modules)-b if not m.startswith('pyhcs'))))"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    return {
        "unit": "ms",
        "method": "wall clock of `python -c CODE` in fresh subprocesses minus `python -c pass`, medians of "
                  f"{cfg['import_runs']} interleaved runs, bytecode cached in a private PYTHONPYCACHEPREFIX",
        "interpreter_ms": summary(times["pass"]),
        "cffi_ms": summary([t - base for t in times["cffi"]]),
        "pyhcs_ms": summary([t - base for t in times["pyhcs"]]),
        "pyhcs_no_bytecode_ms": summary([t - base_no_bytecode for t in times["pyhcs_no_bytecode"]]),
        # host CPU speed drifts up to 2x from minute to minute on a shared VM; interpreter start-up is fixed work,
        # so this ratio moves much less than the milliseconds do
        "pyhcs_over_interpreter": statistics.median(times["pyhcs"]) / base - 1.0,
        "pyhcs_over_cffi_importtime": statistics.median(cumulative["pyhcs"]) / max(1, statistics.median(cumulative["cffi"])),
        "importtime_us": {m: statistics.median(v) for m, v in cumulative.items()},
        "importtime_top_cumulative_us": [{"us": us, "module": m.strip()} for us, m in top[:8]],
        "non_pyhcs_modules_imported": modules_loaded.split(",") if modules_loaded else [],
    }


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bench_rss(env: Env, cfg: Dict[str, Any]) -> Dict[str, Any]:
    import pyhcs
    from pyhcs import _callbacks, operation

    total = cfg["rss_ops"]
    sync_ops = total // 2
    async_ops = total - sync_ops
    batch = 100
    system = pyhcs.ComputeSystem.create(new_id("rss"), CONTAINER_DOC)
    system.start()
    loop = asyncio.new_event_loop()

    async def run_async(count: int) -> None:
        left = count
        while left:
            m = min(batch, left)
            await asyncio.gather(*[system.properties_async() for _ in range(m)])
            left -= m

    def run(sync_count: int, async_count: int) -> None:
        for _ in range(sync_count):
            system.properties()
        loop.run_until_complete(run_async(async_count))

    t0 = time.perf_counter()
    run(2000, 2000)  # warm-up: lazily bound functions, allocator arenas, asyncio internals
    gc.collect()
    before = rss_kb()
    run(sync_ops, async_ops)
    gc.collect()
    after = rss_kb()
    elapsed = time.perf_counter() - t0
    counters_open = env.counters()
    registry = {"operations": len(_callbacks.operations), "events": len(_callbacks.events),
                "outstanding_operations": operation.outstanding()}
    with system:
        pass
    loop.close()
    gc.collect()
    counters_closed = env.counters()
    return {
        "operations": total,
        "sync_operations": sync_ops,
        "async_operations": async_ops,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "rss_growth_kb": after - before,
        "seconds": elapsed,
        "fake_counters_system_open": counters_open,
        "fake_counters_after_close": counters_closed,
        "pyhcs_registries_after": registry,
    }


def leak_check(env: Env) -> Dict[str, Any]:
    from pyhcs import _callbacks, operation

    gc.collect()
    operation.drain(5.0)
    deadline = time.monotonic() + 5.0
    env.fake.wait_quiescent(5.0)
    c = env.counters()
    while (c["CallbacksInFlight"] or c["RunningProcesses"]) and time.monotonic() < deadline:
        time.sleep(0.01)
        c = env.counters()
    keys = ("OpenOperations", "OpenSystemHandles", "OpenProcessHandles", "OutstandingStrings")
    return {
        "fake_counters": c,
        "open_handles": sum(c[k] for k in keys),
        "pyhcs_operation_registry": len(_callbacks.operations),
        "pyhcs_event_registry": len(_callbacks.events),
    }


# ----------------------------------------------------------------------------------------------- machine, report

def machine() -> Dict[str, Any]:
    import cffi

    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cc = subprocess.run([_cdriver.compiler(), "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except Exception:  # noqa: BLE001
        cc = "?"
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu or platform.processor(),
        "cpus": os.cpu_count(),
        "memory_mb": mem_kb // 1024,
        "python": platform.python_implementation() + " " + platform.python_version(),
        "cffi": cffi.__version__,
        "cc": cc,
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "switch_interval_s": sys.getswitchinterval(),
    }


RATIOS = {
    "sync_round_trip": [("pyhcs", "raw_cffi"), ("pyhcs", "c"), ("raw_cffi", "c"), ("pyhcs", "raw_cffi_json")],
    "async": [("pyhcs", "raw_cffi"), ("pyhcs", "c"), ("raw_cffi", "c")],
    "async_diag": [("pyhcs_gather", "raw_cffi_task"), ("pyhcs_begin", "raw_cffi"), ("pyhcs", "pyhcs_trampoline")],
    "events": [("pyhcs_callback", "raw_callback"), ("pyhcs_inline", "raw_callback"), ("pyhcs_async", "raw_async"),
               ("pyhcs_callback", "c"),
               ("raw_callback", "c"), ("raw_async", "c"), ("pyhcs_callback", "raw_callback_hop"),
               ("pyhcs_inline", "pyhcs_inline_trampoline")],
    "process_round_trip": [("pyhcs", "raw_cffi"), ("pyhcs_run", "raw_cffi"), ("pyhcs", "c"), ("raw_cffi", "c")],
}


def ratio_spec(key: str) -> List[Tuple[str, str]]:
    if key == "async_1":
        return RATIOS["async"]
    if key.startswith("async_"):
        return RATIOS["async"] + RATIOS["async_diag"]
    if key.endswith("_events"):
        return RATIOS["events"]
    return RATIOS[key]


def fmt(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table(result: Dict[str, Any]) -> str:
    lines = []
    m = result["machine"]
    lines.append(f"pyhcs benchmarks ({'quick' if result['config']['quick'] else 'full'}) -- {m['cpu']}, {m['cpus']} "
                 f"CPUs, {m['python']}, cffi {m['cffi']}")
    lines.append("time per operation: median over interleaved rounds [p25-p75]; ratio = throughput vs floor, "
                 "median of per-round pairs")
    if result["config"]["quick"]:
        lines.append("QUICK MODE: a smoke check; the counts are too small for these figures to be judged")
    for key, b in result["benchmarks"].items():
        lines.append("")
        lines.append(f"{b['title']}  ({', '.join(f'{k}={v}' for k, v in b['params'].items() if k != 'trigger')})")
        lines.append(f"  {'variant':<40} {'us/op':>9} {'[p25 - p75]':>17} {'ops/s':>10}")
        for name, v in b["variants"].items():
            lines.append(f"  {v['label']:<40} {fmt(v['median']):>9} {'[' + fmt(v['p25']) + ' - ' + fmt(v['p75']) + ']':>17}"
                         f" {fmt(v['ops_per_s']):>10}")
        rs = "  ".join(f"{k} {r['median']:.2f}x" for k, r in b["ratios"].items())
        lines.append(f"  ratios: {rs}")
    imp = result["import"]
    lines.append("")
    lines.append(f"5a. import time (fresh interpreters, minus `python -c pass` = {fmt(imp['interpreter_ms']['median'])} "
                 f"ms): import pyhcs {fmt(imp['pyhcs_ms']['median'])} ms [{fmt(imp['pyhcs_ms']['p25'])} - "
                 f"{fmt(imp['pyhcs_ms']['p75'])}] (CPU time {fmt(imp['pyhcs_cpu_ms']['median'])} ms), import cffi "
                 f"{fmt(imp['cffi_ms']['median'])} ms; without bytecode (every module compiled): "
                 f"{fmt(imp['pyhcs_no_bytecode_ms']['median'])} ms")
    top = ", ".join(f"{t['module']} {t['us'] / 1000:.1f}" for t in imp["importtime_top_cumulative_us"][1:6])
    lines.append(f"    -X importtime: pyhcs {imp['importtime_us']['pyhcs'] / 1000:.1f} ms, cffi "
                 f"{imp['importtime_us']['cffi'] / 1000:.1f} ms; inside pyhcs (cumulative ms): {top}")
    rss = result["rss"]
    lines.append(f"5b. RSS over {rss['operations']:,} operations ({rss['sync_operations']:,} sync + "
                 f"{rss['async_operations']:,} async): {rss['rss_before_kb']:,} kB -> {rss['rss_after_kb']:,} kB "
                 f"(growth {rss['rss_growth_kb']:+,} kB) in {rss['seconds']:.1f} s")
    lk = result["leaks"]
    lines.append(f"    leaked at the end: {lk['open_handles']} open handles/strings in the fake "
                 f"({', '.join(f'{k}={v}' for k, v in lk['fake_counters'].items())})")
    lines.append(_gopeer.summary_line(result.get("go_peer")))
    lines.append("")
    lines.append("targets:")
    for t in result["targets"]:
        lines.append(f"  [{'met' if t['met'] else 'MISSED':>6}] {t['description']}: {t['value']:.3g}"
                     f"{' ' + t.get('unit', 'x') if t.get('unit') else 'x'}")
    return "\n".join(lines)


def targets(result: Dict[str, Any]) -> List[Dict[str, Any]]:
    out = []
    for key, ratio, minimum, desc in TARGETS + _gopeer.TARGETS:
        b = result["benchmarks"].get(key)
        if b is None or ratio not in b["ratios"]:
            continue
        v = b["ratios"][ratio]["median"]
        out.append({"description": desc, "benchmark": key, "ratio": ratio, "value": v, "minimum": minimum,
                    "met": v >= minimum})
    imp = result["import"]["pyhcs_ms"]["median"]
    out.append({"description": "import pyhcs <= 50 ms", "value": imp, "maximum": 50.0, "met": imp <= 50.0,
                "unit": "ms"})
    rss = result["rss"]
    growth_mb = rss["rss_growth_kb"] / 1024
    out.append({"description": f"RSS growth <= 1 MB over {rss['operations']:,} operations", "value": growth_mb,
                "maximum": 1.0, "met": growth_mb <= 1.0, "unit": "MB"})
    lk = result["leaks"]
    out.append({"description": "zero leaked handles (fake counters at the end)", "value": lk["open_handles"],
                "maximum": 0, "met": lk["open_handles"] == 0 and lk["pyhcs_operation_registry"] == 0,
                "unit": "handles"})
    return out


# ----------------------------------------------------------------------------------------------- profiling

def profile(env: Env, cfg: Dict[str, Any], top: int = 25) -> str:
    """cProfile of the pyhcs sync and async (100 in flight) paths: where the time above the floor goes."""
    import cProfile
    import io
    import pstats

    import pyhcs

    system = pyhcs.ComputeSystem.create(new_id("prof"), CONTAINER_DOC)
    system.start()
    out = io.StringIO()
    n = max(cfg["sync_n"], 2000)
    loop = asyncio.new_event_loop()

    async def many() -> None:
        for _ in range(n // 100):
            await asyncio.gather(*[system.properties_async() for _ in range(100)])

    try:
        for what, fn in (("sync properties()", lambda: [system.properties() for _ in range(n)]),
                         ("async properties_async() x100 in flight", lambda: loop.run_until_complete(many()))):
            fn()
            pr = cProfile.Profile()
            pr.enable()
            fn()
            pr.disable()
            out.write(f"\n==== cProfile: {what}, {n} ops (main thread; callbacks run on fake threads) ====\n")
            pstats.Stats(pr, stream=out).sort_stats("tottime").print_stats(top)
    finally:
        loop.close()
        with system:
            pass
    return out.getvalue()


# ----------------------------------------------------------------------------------------------- service mode
# Real HCS calls cross a process boundary (RPC to vmcompute.exe). The same benchmarks, with the same floors, are
# measured a second time with the fake HCS as a service process (pyhcs.testing.start_service): a child run.py loads the
# fake with PYHCS_FAKE_SERVICE set, so pyhcs, the raw cffi loop and the C driver are all clients of the service and
# every ratio compares like with like. The in-process run itself never uses a service.

SERVICE_BENCHES = "sync,async,events,process"


def run_service_mode(quick: bool, fake_path: str) -> Dict[str, Any]:
    """Starts a private fake HCS service, runs the call-path benchmarks against it in a child process, stops it."""
    import tempfile

    from pyhcs.testing import start_service

    with tempfile.TemporaryDirectory() as tmp, start_service(log=Path(tmp) / "service.log") as service:
        out = Path(tmp) / "service.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--fake", fake_path, "--only", SERVICE_BENCHES,
               "--json", str(out), "--in-service"] + (["--quick"] if quick else [])
        proc = subprocess.run(cmd, env=service.env(), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"service-mode benchmarks failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
                               f"\n{service.log()[-2000:]}")
        child = json.loads(out.read_text())
        with service.control() as ctl:
            counters = ctl.counters()
    return {"endpoint": service.endpoint, "transport": "named pipe" if sys.platform == "win32" else "Unix socket",
            "benchmarks": child["benchmarks"], "leaks": child["leaks"], "service_counters_at_end": counters,
            "seconds": child["seconds"]}


def service_table(result: Dict[str, Any]) -> str:
    svc = result["service"]
    lines = ["", f"SERVICE MODE: the same, with the fake HCS as a service process ({svc['transport']}; pyhcs, the raw "
                 "cffi loop and the C driver are all its clients)"]
    for key, b in svc["benchmarks"].items():
        lines.append("")
        lines.append(f"{b['title']}  ({', '.join(f'{k}={v}' for k, v in b['params'].items() if k != 'trigger')})")
        lines.append(f"  {'variant':<40} {'us/op':>9} {'[p25 - p75]':>17} {'ops/s':>10}")
        for name, v in b["variants"].items():
            lines.append(f"  {v['label']:<40} {fmt(v['median']):>9} {'[' + fmt(v['p25']) + ' - ' + fmt(v['p75']) + ']':>17}"
                         f" {fmt(v['ops_per_s']):>10}")
        lines.append("  ratios: " + "  ".join(f"{k} {r['median']:.2f}x" for k, r in b["ratios"].items()))
        local = result["benchmarks"].get(key)
        if local:
            cost = ", ".join(f"{name} {svc_v['median'] / local['variants'][name]['median']:.1f}x"
                             for name, svc_v in b["variants"].items()
                             if name in ("c", "raw_cffi", "pyhcs") and name in local["variants"])
            lines.append(f"  time per op in service mode / in process: {cost}")
    lk = svc["leaks"]
    lines.append(f"  leaked at the end: {lk['open_handles']} open handles/strings in the client; service: "
                 f"{svc['service_counters_at_end']['LiveSystems']} systems, "
                 f"{svc['service_counters_at_end']['RunningProcesses']} processes")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- main

def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="small counts: a smoke check for CI (~10 s)")
    ap.add_argument("--json", metavar="PATH", help="write every figure to PATH")
    ap.add_argument("--profile", action="store_true", help="also print cProfile of the pyhcs sync and async paths")
    ap.add_argument("--fake", metavar="LIBRARY", help="use this fake HCS .so instead of pyhcs.testing.fake_library()")
    ap.add_argument("--only", metavar="NAMES", help="comma list of: sync,async,events,process,import,rss")
    ap.add_argument("--mode", choices=("both", "in-process", "service"), default="both",
                    help="in-process: the fake loaded in this process; service: the call-path benchmarks again with "
                         "the fake HCS as a service process (default: both)")
    ap.add_argument("--in-service", action="store_true", help=argparse.SUPPRESS)  # the service-mode child
    ap.add_argument("--install-go", action="store_true",
                    help="apt-get install golang-go when no Go toolchain is found (never done otherwise)")
    ap.add_argument("--no-go", action="store_true", help="skip the Go peer even when Go is present")
    args = ap.parse_args(argv)
    if not args.in_service:
        os.environ.pop("PYHCS_FAKE_SERVICE", None)  # in process means in process (the service run is a child)

    cfg: Dict[str, Any] = dict(QUICK if args.quick else FULL)
    only = set(args.only.split(",")) if args.only else {"sync", "async", "events", "process", "import", "rss"}
    started = time.perf_counter()
    if args.fake:
        fake_path = os.path.abspath(args.fake)
    else:
        from pyhcs.testing import fake_library

        fake_path = str(fake_library())
    env = Env(fake_path)
    print(f"fake: {fake_path}\nC driver: {_cdriver.build(fake_path)}", file=sys.stderr)
    env.go, go_info = _gopeer.start(fake_path, install=args.install_go, enabled=not args.no_go)
    print(f"Go peer: {go_info.get('binary') or 'skipped: ' + str(go_info['reason'])}", file=sys.stderr)

    result: Dict[str, Any] = {
        "schema": 1,
        "machine": machine(),
        "config": {"quick": args.quick, **{k: v for k, v in cfg.items() if k != "async"},
                   "async": {str(k): v for k, v in cfg["async"].items()}},
        "fake": fake_path,
        "go_peer": go_info,
        "benchmarks": {},
    }

    def step(name: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        print(f"-- {name} ...", file=sys.stderr, flush=True)
        value = fn()
        print(f"   {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
        return value

    if args.mode == "service":
        only = set()
    benches: List[Bench] = []
    if "sync" in only:
        benches.append(step("sync", lambda: bench_sync(env, cfg)))
    if "async" in only:
        benches.extend(step("async", lambda: bench_async(env, cfg)))
    if "events" in only:
        benches.append(step("system events", lambda: bench_events(env, cfg, "system")))
        benches.append(step("process events", lambda: bench_events(env, cfg, "process")))
    if "process" in only:
        benches.append(step("processes", lambda: bench_processes(env, cfg)))
    for b in benches:
        result["benchmarks"][b.key] = b.to_json(ratio_spec(b.key) + _gopeer.ratio_spec(b.key, list(b.samples)))
    result["import"] = step("import", lambda: bench_import(cfg)) if "import" in only else None
    result["rss"] = step("rss", lambda: bench_rss(env, cfg)) if "rss" in only else None
    result["leaks"] = leak_check(env)
    if args.mode != "in-process" and not args.in_service:
        result["service"] = step("service mode", lambda: run_service_mode(args.quick, fake_path))
    if env.go is not None:
        result["go_peer"]["final"] = env.go.close()  # its own fake's counters after closing everything
    if result["import"] is not None and result["rss"] is not None:
        result["targets"] = targets(result)
    else:
        result["targets"] = []
    result["seconds"] = time.perf_counter() - started

    if result["import"] is not None and result["rss"] is not None:
        print(table(result))
    elif not args.in_service:
        print(json.dumps(result["benchmarks"], indent=1)[:20000])
    if "service" in result:
        print(service_table(result))
    if args.profile:
        print(profile(env, cfg))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        print(f"wrote {args.json}", file=sys.stderr)
    print(f"total {result['seconds']:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
