"""What hcsshim users also get (issue 8, "also wanted"): start/exit times and uptime where HCS reports them, and
every HCS call logged at DEBUG through ``logging`` -- function, ids, HRESULT, duration.

HCS reports Statistics.ContainerStartTime / Uptime100ns for a system and ProcessDetails.CreateTimestamp in its
ProcessList (SchemaReference.md; hcsshim schema2 Statistics, ProcessDetails); it reports no stop time, so
``exited_at`` is when pyhcs learnt of the exit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

import pyhcs
import pyhcs.storage
from pyhcs import ComputeSystem
from pyhcs._times import duration_100ns, parse_timestamp
from tests.support import container_document, sh, unique_id, win_sleep


def test_hcs_timestamps_parse_to_aware_datetimes() -> None:
    assert parse_timestamp("2024-05-01T12:30:45.1234567Z") == datetime(2024, 5, 1, 12, 30, 45, 123456,
                                                                         tzinfo=timezone.utc)
    assert parse_timestamp("2024-05-01T12:30:45+02:00").utcoffset() == timedelta(hours=2)
    for unset in ("0001-01-01T00:00:00Z", "1601-01-01T00:00:00Z", "", None, "yesterday", 5):
        assert parse_timestamp(unset) is None
    assert duration_100ns(10_000_000) == timedelta(seconds=1)
    assert duration_100ns(-1) is None and duration_100ns(True) is None


def test_a_system_reports_when_it_started_its_uptime_and_when_it_exited() -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        time.sleep(0.05)
        started = system.started_at
        assert started is not None and before <= started <= datetime.now(timezone.utc)
        assert system.uptime is not None and system.uptime >= timedelta(milliseconds=40)
        assert system.exited_at is None
        system.terminate(timeout=10)
        system.wait(timeout=10)
        assert before <= system.exited_at <= datetime.now(timezone.utc)


def test_a_process_reports_when_it_started_and_when_it_exited() -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        with system.create_process(sh("sleep 30", win_sleep(30)), stdin=False,
                                   timeout=10) as p:
            assert p.exited_at is None
            started = p.started_at
            assert started is not None and before <= started <= datetime.now(timezone.utc)
            p.terminate(timeout=10)
            p.wait(timeout=10)
            assert p.exited_at is not None and p.exited_at >= started
            assert p.started_at == started  # remembered: HCS no longer lists an exited process


def test_hcs_calls_are_logged_at_debug(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="pyhcs")
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start()
        with pytest.raises(pyhcs.HcsInvalidStateError):
            system.resume()

        async def main() -> None:
            await system.properties_async()

        asyncio.run(main())
    records = [r for r in caplog.records if r.name == "pyhcs" and getattr(r, "hcs_function", None)]
    by_function = {r.hcs_function: r for r in records}
    for function in ("HcsCreateComputeSystem", "HcsSetComputeSystemCallback", "HcsStartComputeSystem",
                     "HcsResumeComputeSystem", "HcsGetComputeSystemProperties", "HcsTerminateComputeSystem",
                     "HcsCloseComputeSystem"):
        assert function in by_function, (function, [r.getMessage() for r in records])
    start = by_function["HcsStartComputeSystem"]
    assert start.levelno == logging.DEBUG and start.hcs_system_id == system.id and start.hcs_hresult == 0
    assert start.hcs_duration is not None and start.hcs_duration >= 0
    assert f"system={system.id!r}" in start.getMessage() and "S_OK" in start.getMessage()
    resume = by_function["HcsResumeComputeSystem"]
    assert resume.hcs_hresult == 0x80370105 and "HCS_E_INVALID_STATE" in resume.getMessage()


def test_nothing_is_logged_when_debug_is_off(caplog) -> None:
    caplog.set_level(logging.INFO, logger="pyhcs")
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
    assert not [r for r in caplog.records if r.name == "pyhcs"]


def test_calls_without_an_operation_are_logged_too(caplog, tmp_path) -> None:
    """HcsOpen*, the service's and computestorage's functions return their HRESULT directly; they are HCS calls
    all the same."""
    caplog.set_level(logging.DEBUG, logger="pyhcs")
    pyhcs.get_service_properties()
    with pytest.raises(pyhcs.HcsNotFoundError):
        ComputeSystem.open("no-such-system")
    with pytest.raises(pyhcs.HcsError):
        pyhcs.storage.destroy_layer(str(tmp_path / "missing"))
    logged = {getattr(r, "hcs_function", None): r for r in caplog.records}
    assert logged["HcsGetServiceProperties"].hcs_hresult == 0
    assert logged["HcsOpenComputeSystem"].hcs_system_id == "no-such-system"
    assert logged["HcsOpenComputeSystem"].hcs_hresult == 0x8037010E
    assert logged["HcsDestroyLayer"].hcs_hresult >= 0x80000000
