"""Behaviour 8 of the fake HCS service: many clients, many concurrent operations and events.

Eight client processes each create their own compute systems and open everyone else's, with an event callback on
every handle; each then keeps 1,000 operations in flight at once (completion callbacks) and runs processes (one
ProcessExited per process handle); finally each terminates its own systems, so every handle in every client
receives exactly one SystemExited. Nothing may be lost or delivered twice [DOC HCS_EVENT.md, HCS_OPERATION_COMPLETION
.md], and every handle and result string is released at the end, in every client and in the service.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.fakes.rawhcs import EV_SYSTEM_EXITED, S_OK, unique_id
from tests.fakes.service import FakeService
from tests.service_agent import Agent

# Under Wine a Windows process costs far more to start (about 50 ms): fewer processes per client there.
CLIENTS, OPS, OWN, PROCS = (8, 1000, 5, 10) if sys.platform == "win32" else (8, 1000, 5, 40)


@pytest.mark.timeout(600)
def test_many_clients_with_many_operations_and_events_lose_and_repeat_nothing(fake_service: FakeService,
                                                                             tmp_path: Path) -> None:
    t0 = time.monotonic()
    agents = [Agent(fake_service, f"client{i}", log_dir=tmp_path) for i in range(CLIENTS)]
    try:
        ids = {i: [unique_id(f"load{i}") for _ in range(OWN)] for i in range(CLIENTS)}
        own = {i: [f"own{k}" for k in range(OWN)] for i in range(CLIENTS)}
        others = {i: [f"c{j}s{k}" for j in range(CLIENTS) if j != i for k in range(OWN)] for i in range(CLIENTS)}
        for i, a in enumerate(agents):
            a.send("batch", commands=[{"cmd": "create", "name": n, "id": sid, "watch_events": True}
                                      for n, sid in zip(own[i], ids[i])])
        for a in agents:
            assert set(a.receive()) == {S_OK}
        for i, a in enumerate(agents):
            a.send("batch", commands=[{"cmd": "open", "name": f"c{j}s{k}", "id": ids[j][k], "watch_events": True}
                                      for j in range(CLIENTS) if j != i for k in range(OWN)])
        for a in agents:
            assert set(a.receive()) == {S_OK}
        t_setup = time.monotonic() - t0
        t1 = time.monotonic()
        for i, a in enumerate(agents):  # all clients at once
            a.send("load_phase", n_ops=OPS, systems_per_client=OWN, own=own[i], others=others[i], n_procs=PROCS)
        stats = [a.receive(timeout=400) for a in agents]
        t_load = time.monotonic() - t1
        for i, a in enumerate(agents):
            a.send("batch", commands=[{"cmd": "system", "name": n, "fn": "Terminate"} for n in own[i]])
        for a in agents:
            assert [hr for hr, _ in a.receive()] == [S_OK] * OWN
        for a in agents:
            a.send("all_events", count=1)
        for a in agents:
            got = a.receive()
            assert len(got) == CLIENTS * OWN
            wrong = {name: types for name, types in got.items() if types != [EV_SYSTEM_EXITED]}
            assert not wrong, f"{a.name}: SystemExited not exactly once per handle: {wrong}"
        for a in agents:
            counters = a("release")
            assert all(counters[k] == 0 for k in ("OpenOperations", "OpenSystemHandles", "OpenProcessHandles",
                                                    "OutstandingStrings")), counters
        with fake_service.control() as ctl:
            ctl.assert_no_leaks()
            final = ctl.counters()
        assert final["LiveSystems"] == 0 and final["RunningProcesses"] == 0, final
        events = CLIENTS * (OPS + PROCS + CLIENTS * OWN)
        total = time.monotonic() - t0
        print(f"\nload: {CLIENTS} clients x {OPS} operations in flight (+{PROCS} processes each, "
              f"{CLIENTS * OWN} watched systems each): {CLIENTS * OPS} operations and "
              f"{max(s['ops_seconds'] for s in stats):.2f} s for the slowest client's operations "
              f"({CLIENTS * OPS / max(s['ops_seconds'] for s in stats):,.0f} ops/s), load phase {t_load:.2f} s, "
              f"{events} callbacks delivered exactly once ({CLIENTS * OPS} completions, {CLIENTS * PROCS} "
              f"ProcessExited, {CLIENTS * CLIENTS * OWN} SystemExited), setup {t_setup:.1f} s, total {total:.1f} s; "
              f"0 leaked handles or strings")
    finally:
        for a in agents:
            a.close()
