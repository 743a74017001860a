#!/usr/bin/env python3
"""Prototypes of the changes docs/performance.md proposes, measured against the current pyhcs and the raw floor.

    python benchmarks/prototypes.py [--rounds N]

Not part of pyhcs and not run by the tests: scratch implementations, built on pyhcs internals
(``ComputeSystem._lease``, ``pyhcs._delivery.delivery_for``), that keep pyhcs's semantics (handle lease, registry
of live contexts, HRESULT -> exception, parsed JSON result, coalesced per-loop delivery) and drop the costs the
profiles point at, so that each proposal comes with a measured expected gain:

- sync: ``operation.run`` without building an ``Operation`` (create -> call -> wait -> close inline);
- async: a ``*_async`` that returns an ``asyncio.Future`` (no coroutine, so ``gather`` creates no Task) completed by
  a lean trampoline (result, ``LocalFree``, close, release the lease on the HCS thread; parse on the loop).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from typing import Any, Dict, Optional, Tuple

import run as R

INFINITE = 0xFFFFFFFF


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--fake", metavar="LIBRARY")
    args = ap.parse_args()
    if args.fake:
        fake = args.fake
    else:
        from tests.fakes.build import build_fake

        fake = str(build_fake())
    env = R.Env(fake)

    import pyhcs
    from pyhcs._delivery import delivery_for
    from pyhcs._strings import parse_document, take_wide
    from pyhcs.errors import error_from_hresult

    ffi, L = env.ffi, env.raw
    from pyhcs._ffi import lib

    system = pyhcs.ComputeSystem.create(R.new_id("proto"), R.CONTAINER_DOC)
    system.start()
    lease = system._lease
    raw_system = lease.raw
    NULL = ffi.NULL

    # -- sync: the choke point without an Operation object (an Operation is still needed for a timeout) ----------
    def fast_properties() -> Any:
        lease.acquire()
        try:
            op = lib.HcsCreateOperation(NULL, NULL)
            doc = ffi.new("PWSTR *")
            try:
                hr = lib.HcsGetComputeSystemProperties(raw_system, op, NULL)
                if hr >= 0:
                    hr = lib.HcsWaitForOperationResult(op, INFINITE, doc)
            finally:
                lib.HcsCloseOperation(op)
            text = take_wide(doc[0])
        finally:
            lease.release()
        if hr < 0:
            raise error_from_hresult(hr, text, function="HcsGetComputeSystemProperties", system_id=system.id)
        return parse_document(text) or {}

    n_sync = 3000
    raw_sync = R.Bench("sync", "")

    def raw_loop() -> float:
        doc = ffi.new("PWSTR *")
        t0 = time.perf_counter_ns()
        for _ in range(n_sync):
            op = L.HcsCreateOperation(NULL, NULL)
            L.HcsGetComputeSystemProperties(raw_system, op, NULL)
            L.HcsWaitForOperationResult(op, INFINITE, doc)
            ffi.string(doc[0])
            L.LocalFree(doc[0])
            L.HcsCloseOperation(op)
        return (time.perf_counter_ns() - t0) / 1e3 / n_sync

    def timed(fn: Any) -> Any:
        def go() -> float:
            t0 = time.perf_counter_ns()
            for _ in range(n_sync):
                fn()
            return (time.perf_counter_ns() - t0) / 1e3 / n_sync
        return go

    raw_sync.run([("raw_cffi", "raw cffi", raw_loop), ("pyhcs", "pyhcs properties()", timed(system.properties)),
                  ("proto", "prototype: run() without Operation", timed(fast_properties))], args.rounds)

    # -- async: a future-returning call completed by a lean trampoline --------------------------------------------
    registry: Dict[int, Tuple["asyncio.Future[Any]", Any]] = {}
    keys = itertools.count(1)
    get_result, close, free, string, cast, new = (L.HcsGetOperationResult, L.HcsCloseOperation, L.LocalFree,
                                                  ffi.string, ffi.cast, ffi.new)

    def finish(fut: "asyncio.Future[Any]", hr: int, text: Optional[str]) -> None:  # on the loop
        if fut.done():
            return
        if hr < 0:
            fut.set_exception(error_from_hresult(hr, text, function="HcsGetComputeSystemProperties"))
        else:
            fut.set_result(json.loads(text) if text else {})

    def on_completion(op: Any, ctx: Any) -> None:  # on an HCS thread: C calls and a queue append, nothing more
        fut, delivery = registry.pop(int(cast("uintptr_t", ctx)))
        doc = new("PWSTR *")
        hr = get_result(op, doc)
        p = doc[0]
        text = None
        if p != NULL:
            text = string(p)
            free(p)
        close(op)
        lease.release()
        delivery.call(finish, fut, hr, text)

    trampoline = ffi.callback("HCS_OPERATION_COMPLETION", on_completion)

    def properties_future() -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        lease.acquire()
        key = next(keys)
        registry[key] = (fut, delivery_for(loop))
        hr = L.HcsGetComputeSystemProperties(raw_system, L.HcsCreateOperation(cast("void *", key), trampoline), NULL)
        if hr < 0:
            registry.pop(key)
            lease.release()
            raise error_from_hresult(hr, None, function="HcsGetComputeSystemProperties")
        return fut

    loop = asyncio.new_event_loop()
    raw = R.RawAsync(env, loop)
    out = ffi.new("HCS_SYSTEM *")
    assert L.HcsOpenComputeSystem(env.wide(system.id), 0x10000000, out) >= 0
    raw_h = out[0]
    benches = []
    for k in (100, 1000):
        n = 6000

        async def raw_run(k: int = k) -> float:
            t0 = time.perf_counter_ns()
            for _ in range(n // k):
                batch = []
                for _ in range(k):
                    key = next(keys)
                    fut = raw.futures[key] = loop.create_future()
                    L.HcsGetComputeSystemProperties(raw_h, L.HcsCreateOperation(cast("void *", key), raw.callback),
                                                    NULL)
                    batch.append(fut)
                for fut in batch:
                    await fut
            return (time.perf_counter_ns() - t0) / 1e3 / n

        async def gather_run(make: Any, k: int = k) -> float:
            t0 = time.perf_counter_ns()
            for _ in range(n // k):
                await asyncio.gather(*[make() for _ in range(k)])
            return (time.perf_counter_ns() - t0) / 1e3 / n

        b = R.Bench(f"async_{k}", "")
        b.run([("raw_cffi", "raw cffi", lambda: loop.run_until_complete(raw_run())),
               ("pyhcs", "pyhcs gather(properties_async())",
                lambda: loop.run_until_complete(gather_run(system.properties_async))),
               ("proto", "prototype: gather(future-returning call)",
                lambda: loop.run_until_complete(gather_run(properties_future)))], args.rounds)
        benches.append(b)
    loop.close()
    L.HcsCloseComputeSystem(raw_h)
    system.close()

    for title, b in [("sync round trip", raw_sync), ("async, 100 in flight", benches[0]),
                     ("async, 1000 in flight", benches[1])]:
        print(f"{title}:")
        for name, vals in b.samples.items():
            ratio = "" if name == "raw_cffi" else f"  {b.ratio(name, 'raw_cffi')['median']:.2f}x raw"
            print(f"  {b.labels[name]:<42} {R.summary(vals)['median']:7.1f} us/op{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
