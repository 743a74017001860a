"""Lifetimes across the process boundary: interpreter exit with operations in flight, handle release without
__del__, and the typing promise of the public API."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, fake_library: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
               PYHCS_COMPUTECORE=str(fake_library))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_interpreter_exit_waits_for_operations_in_flight(fake_library: Path) -> None:
    """A completion callback arriving after the interpreter is gone would never return to HCS; pyhcs waits for
    outstanding operations at exit."""
    result = run_python(
        """
        import asyncio, pyhcs
        from tests.fakes.control import FakeHcs
        fake = FakeHcs(pyhcs._ffi.library_path("computecore"))
        fake.reset()
        async def main():
            system = await pyhcs.ComputeSystem.create_async("exit-test", {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}})
            fake.set_latency("HcsStartComputeSystem", 300)
            task = asyncio.ensure_future(system.start_async())
            await asyncio.sleep(0.05)
            task.cancel()
            system.close()
            print("outstanding", pyhcs.operation.outstanding())
        asyncio.run(main())
        """,
        fake_library,
    )
    assert result.returncode == 0, result.stderr
    assert "outstanding 1" in result.stdout
    assert "Fatal" not in result.stderr and "Traceback" not in result.stderr


def test_timed_out_sync_operation_is_finished_before_exit(fake_library: Path) -> None:
    result = run_python(
        """
        import pyhcs
        from tests.fakes.control import FakeHcs
        fake = FakeHcs(pyhcs._ffi.library_path("computecore"))
        fake.reset()
        system = pyhcs.ComputeSystem.create("exit-sync", {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}})
        fake.set_latency("HcsStartComputeSystem", 300)
        try:
            system.start(timeout=0.01)
        except pyhcs.HcsTimeoutError:
            print("timed out")
        system.close()
        """,
        fake_library,
    )
    assert result.returncode == 0, result.stderr
    assert "timed out" in result.stdout and "Traceback" not in result.stderr


def test_an_unclosed_system_warns_and_is_closed_by_the_safety_net(fake) -> None:
    """close() and ``with`` release handles; __del__ is only a safety net that warns, like an unclosed file."""
    import gc
    import warnings

    import pyhcs

    system = pyhcs.ComputeSystem.create("unclosed", {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}})
    assert fake.counters()["OpenSystemHandles"] == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del system
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) and "unclosed" in str(w.message) for w in caught)
    assert fake.wait_quiescent(5)
    assert fake.counters()["OpenSystemHandles"] == 0


def test_closed_objects_do_not_warn(fake) -> None:
    import gc
    import warnings

    import pyhcs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pyhcs.ComputeSystem.create("closed", {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}}):
            pass
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_public_api_is_mypy_clean(tmp_path: Path) -> None:
    mypy = pytest.importorskip("mypy.api")
    out, err, status = mypy.run(["--strict", "--cache-dir", str(tmp_path / "cache"), "--config-file",
                                 str(ROOT / "pyproject.toml"), str(ROOT / "src" / "pyhcs")])
    assert status == 0, out + err


def test_exit_never_unloads_hcs_under_its_own_threads(fake_library: Path) -> None:
    """cffi unloads a library when its object dies during finalization, while HCS's threads still run its code;
    that crashed one exit in six (SIGSEGV) until pyhcs pinned the library."""
    for _ in range(25):
        result = run_python("import pyhcs\nprint(len(pyhcs.ComputeSystem.enumerate()) >= 0)\n", fake_library)
        assert result.returncode == 0 and "True" in result.stdout, (result.returncode, result.stderr)
