"""The benchmark suite runs (``benchmarks/run.py --quick``) and reports every figure.

A smoke check only: timings on a shared CI machine mean nothing, so this never asserts one. It asserts that each
benchmark ran every variant, that every ratio is a positive number, and that the JSON carries the machine
description, import time, RSS and leak figures docs/performance.md reports. Where a Go toolchain is present the Go
peer (benchmarks/go_peer) must have been built and run, with its pyhcs/Go ratios; where none is, the run must say
the peer was skipped and why.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"
sys.path.insert(0, str(ROOT / "benchmarks"))
import _gopeer  # noqa: E402

HAVE_GO = _gopeer.find_go() is not None

# The C driver and the RSS figure are POSIX (a .so built with cc, /proc/self/status).
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the benchmark suite runs on POSIX only")

EXPECTED = {
    "sync_round_trip": {"c", "raw_cffi", "pyhcs", "raw_cffi_json"},
    "async_1": {"c", "raw_cffi", "pyhcs"},
    "async_100": {"c", "raw_cffi", "pyhcs", "pyhcs_gather", "raw_cffi_task", "pyhcs_begin",
                  "pyhcs_trampoline"},
    "async_1000": {"c", "raw_cffi", "pyhcs", "pyhcs_gather", "raw_cffi_task", "pyhcs_begin",
                   "pyhcs_trampoline"},
    "system_events": {"c", "raw_callback", "pyhcs_callback", "pyhcs_inline", "raw_async", "pyhcs_async",
                      "raw_callback_hop", "pyhcs_inline_trampoline"},
    "process_events": {"c", "raw_callback", "pyhcs_callback", "pyhcs_inline", "raw_async", "pyhcs_async",
                       "raw_callback_hop", "pyhcs_inline_trampoline"},
    "process_round_trip": {"c", "raw_cffi", "pyhcs", "pyhcs_run"},
}
# The Go peer's variants and ratios (docs/performance.md, "The Go peer"), present whenever Go is.
GO_VARIANTS = {
    "sync_round_trip": {"go"},
    "async_1": {"go"},
    "async_100": {"go", "go_loop"},
    "async_1000": {"go", "go_loop"},
    "system_events": {"go"},
}
GO_RATIOS = {
    "sync_round_trip": {"pyhcs/go", "go/c"},
    "async_1": {"pyhcs/go", "go/c"},
    "async_100": {"pyhcs/go", "pyhcs/go_loop", "go/c"},
    "async_1000": {"pyhcs/go", "pyhcs/go_loop", "go/c"},
    "system_events": {"pyhcs_callback/go", "pyhcs_inline/go", "pyhcs_async/go", "go/c"},
}
TARGET_RATIOS = {
    "sync_round_trip": "pyhcs/raw_cffi",
    "async_100": "pyhcs/raw_cffi",
    "async_1000": "pyhcs/raw_cffi",
    "system_events": "pyhcs_callback/raw_callback",
    "process_events": "pyhcs_async/raw_async",
}


def positive(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, fake_library: Path) -> Any:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    env = dict(os.environ)
    env.pop("PYHCS_COMPUTECORE", None)  # the benchmark picks its library itself (--fake)
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--json", str(out), "--fake", str(fake_library)],
        cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"benchmarks/run.py --quick failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert "targets:" in proc.stdout  # the readable table was printed
    return json.loads(out.read_text())


@pytest.mark.timeout(900)
def test_quick_run_reports_every_benchmark_and_variant(report: Any) -> None:
    assert report["config"]["quick"] is True
    assert set(report["benchmarks"]) == set(EXPECTED)
    for key, variants in EXPECTED.items():
        b = report["benchmarks"][key]
        expected = variants | (GO_VARIANTS.get(key, set()) if HAVE_GO else set())
        assert set(b["variants"]) == expected, key
        for name, v in b["variants"].items():
            for stat in ("median", "p25", "p75", "min", "max", "ops_per_s"):
                assert positive(v[stat]), (key, name, stat, v[stat])
            assert v["samples"] and all(positive(s) for s in v["samples"]), (key, name)


@pytest.mark.timeout(900)
def test_quick_run_ratios_are_positive_numbers(report: Any) -> None:
    for key, b in report["benchmarks"].items():
        assert b["ratios"], key
        for name, r in b["ratios"].items():
            assert positive(r["median"]) and positive(r["min"]) and positive(r["max"]), (key, name, r)
    for key, ratio in TARGET_RATIOS.items():
        assert ratio in report["benchmarks"][key]["ratios"], (key, ratio)


@pytest.mark.timeout(900)
def test_quick_run_reports_machine_import_rss_and_leaks(report: Any) -> None:
    m = report["machine"]
    for field in ("platform", "cpu", "cpus", "python", "cffi"):
        assert m[field], field
    imp = report["import"]
    assert positive(imp["pyhcs_ms"]["median"]) and isinstance(imp["cffi_ms"]["median"], float)
    assert positive(imp["pyhcs_no_bytecode_ms"]["median"])  # the diagnostic: every module compiled on import
    assert positive(imp["pyhcs_cpu_ms"]["median"])  # the child's CPU time: immune to waiting for a busy machine
    assert imp["importtime_us"]["pyhcs"] > 0
    rss = report["rss"]
    assert rss["operations"] > 0 and positive(rss["rss_before_kb"]) and positive(rss["rss_after_kb"])
    assert isinstance(rss["rss_growth_kb"], int)
    # leak figures are reported (not judged here: the object-layer tests own leak correctness)
    assert isinstance(report["leaks"]["open_handles"], int)
    assert {t["description"] for t in report["targets"]} and all(isinstance(t["met"], bool) for t in report["targets"])


@pytest.mark.timeout(900)
def test_quick_run_reports_service_mode_figures_with_the_same_floors(report: Any) -> None:
    """Real HCS calls cross a process boundary (RPC to vmcompute): the call-path benchmarks run again with the fake
    as a service process, every variant (pyhcs, raw cffi, C driver) its client, with the same ratios."""
    svc = report["service"]
    assert set(svc["benchmarks"]) == set(EXPECTED)
    for key, variants in EXPECTED.items():
        b = svc["benchmarks"][key]
        # the Go peer runs in service mode too (a client of the same service), when Go is present
        assert set(b["variants"]) == variants | (GO_VARIANTS.get(key, set()) if HAVE_GO else set()), key
        assert all(positive(v["median"]) for v in b["variants"].values()), key
        assert set(b["ratios"]) == set(report["benchmarks"][key]["ratios"]), key
        assert all(positive(r["median"]) for r in b["ratios"].values()), key
    assert isinstance(svc["leaks"]["open_handles"], int) and svc["transport"]


@pytest.mark.timeout(900)
def test_quick_run_compares_with_the_go_peer_when_go_is_present(report: Any) -> None:
    go = report["go_peer"]
    if not HAVE_GO:
        assert go["available"] is False and go["reason"]
        assert not any("go" in b["variants"] for b in report["benchmarks"].values())
        return
    assert go["available"] is True, go
    assert go["go_version"].startswith("go version") and positive(go["gomaxprocs"])
    for key, ratios in GO_RATIOS.items():
        assert ratios <= set(report["benchmarks"][key]["ratios"]), key
    # its own leak check: every handle and result string of the peer's fake released before it exited
    counters = go["final"]["counters"]
    assert go["final"]["idle"] is True
    assert [counters[k] for k in ("OpenOperations", "OpenSystemHandles", "OpenProcessHandles",
                                  "OutstandingStrings", "LiveSystems")] == [0, 0, 0, 0, 0], counters
    assert "terminate_error" not in go["final"]
    descriptions = {t["description"] for t in report["targets"]}
    assert {d for _, _, _, d in _gopeer.TARGETS} <= descriptions


def test_without_a_go_toolchain_the_peer_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch,
                                                                    fake_library: Path) -> None:
    monkeypatch.setenv("GO", str(ROOT / "no-such-go"))
    peer, info = _gopeer.start(str(fake_library), install=True)  # a wrong $GO is reported, never installed over
    assert peer is None
    assert info == {"available": False, "reason": f"$GO is {str(ROOT / 'no-such-go')!r}, which is not an executable"}
    monkeypatch.setattr(_gopeer, "find_go", lambda: None)
    monkeypatch.delenv("GO")
    peer, info = _gopeer.start(str(fake_library))
    assert peer is None
    assert info == {"available": False,
                    "reason": "no Go toolchain (install Debian's golang-go, or pass --install-go)"}
    peer, info = _gopeer.start(str(fake_library), enabled=False)
    assert peer is None and info["reason"] == "disabled by --no-go"
