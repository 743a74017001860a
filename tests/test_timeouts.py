"""One timeout rule for the whole library (issue 8, items 4 and 9).

Every ``timeout=`` is checked before anything reaches HCS: ``None`` waits as long as HCS takes, ``0`` does not
wait, a positive number waits that long (beyond HCS's DWORD of milliseconds, about 49.7 days, it means no limit);
bool, strings, NaN, negative numbers and infinity are refused with TypeError/ValueError, and nothing is started.
``run()``/``communicate()`` timeouts cover the whole call, as ``subprocess.run``'s does, and the error carries the
output read so far (``subprocess.TimeoutExpired``'s ``output``/``stderr``).
"""

from __future__ import annotations

import math
import time

import pytest

import pyhcs
from pyhcs import ComputeSystem
from pyhcs._timeouts import check, to_ms
from tests.support import IS_WINDOWS, container_document, sh, unique_id, win_sleep

BAD_TIMEOUTS = [
    (float("nan"), ValueError),
    (-1, ValueError),
    (-0.5, ValueError),
    (math.inf, ValueError),
    (-math.inf, ValueError),
    ("5", TypeError),
    (True, TypeError),
    (False, TypeError),
    ([1], TypeError),
]


@pytest.fixture
def system():
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as s:
        s.start(timeout=10)
        yield s


@pytest.mark.parametrize("timeout,error", BAD_TIMEOUTS)
def test_the_timeout_rule_refuses_bad_values(timeout, error) -> None:
    with pytest.raises(error):
        check(timeout)


def test_the_timeout_rule_for_good_values() -> None:
    assert check(None) is None
    assert check(0) == 0.0 and check(-0.0) == 0.0 and to_ms(check(0)) == 0
    assert to_ms(check(0.0001)) == 1  # a tiny timeout still waits, it does not become "do not wait"
    assert to_ms(check(2.5)) == 2500
    assert check(1e300) is None and check(10**400) is None  # longer than HCS can wait: no limit
    assert to_ms(None) == 0xFFFFFFFF


@pytest.mark.parametrize("timeout,error", BAD_TIMEOUTS)
def test_a_bad_timeout_starts_nothing(system, fake, timeout, error) -> None:
    """terminate(timeout=nan) used to raise ValueError after terminating the system, leaving its operation open."""
    calls = [
        lambda: system.terminate(timeout=timeout),
        lambda: system.properties(timeout=timeout),
        lambda: system.wait(timeout=timeout),
        lambda: system.run(sh("exit 0", "cmd /c exit 0"), timeout=timeout),
        lambda: ComputeSystem.create(unique_id(), container_document(), timeout=timeout),
        lambda: ComputeSystem.enumerate(timeout=timeout),
        lambda: system.begin("HcsGetComputeSystemProperties").wait(timeout),
    ]
    for call in calls:
        with pytest.raises(error):
            call()
    assert fake.wait_quiescent(5)
    assert system.state == "Running"
    counters = fake.counters()
    assert counters["OpenOperations"] == 0 and counters["LiveSystems"] == 1 and counters["RunningProcesses"] == 0


@pytest.mark.parametrize("timeout,error", BAD_TIMEOUTS)
def test_process_calls_check_the_timeout_first(system, fake, timeout, error) -> None:
    with system.create_process(sh("sleep 30", win_sleep(30)), timeout=10) as p:
        for call in (lambda: p.terminate(timeout=timeout), lambda: p.signal("CtrlC", timeout=timeout),
                     lambda: p.wait(timeout=timeout), lambda: p.communicate(timeout=timeout),
                     lambda: p.close_stdin(timeout=timeout), lambda: p.properties(timeout=timeout)):
            with pytest.raises(error):
                call()
        assert p.exit_code is None and not p.stdin.closed
        p.terminate(timeout=10)


def test_zero_means_do_not_wait(system) -> None:
    with system.create_process(sh("sleep 30", win_sleep(30)), stdin=False, timeout=10) as p:
        started = time.monotonic()
        with pytest.raises(pyhcs.HcsTimeoutError):
            p.wait(timeout=0)
        assert time.monotonic() - started < 0.5
        p.terminate(timeout=10)
        assert p.wait(timeout=10) is not None


# ------------------------------------------------------------------ 4. run()/communicate() cover the whole call
def test_run_timeout_covers_reading_the_output(system) -> None:
    """run("sleep 6", timeout=1) returned success after 6 s: the timeout was not applied while reading. (Timeouts
    here leave a loaded machine seconds to start the shell and print.)"""
    started = time.monotonic()
    with pytest.raises(pyhcs.HcsProcessTimeoutError) as info:
        system.run(sh("echo partial; echo oops >&2; sleep 30", win_sleep(30, before="partial")),
                   timeout=3)
    assert time.monotonic() - started < 15
    error = info.value
    assert isinstance(error, pyhcs.HcsTimeoutError) and isinstance(error, TimeoutError)
    assert error.stdout.strip() == b"partial" and error.output == error.stdout
    if not IS_WINDOWS:
        assert error.stderr.strip() == b"oops"
    assert error.timeout == 3 and "partial" in error.command_line
    assert error.function == "run" and error.system_id == system.id


def test_run_kills_the_process_that_ran_out_of_time(system) -> None:
    with pytest.raises(pyhcs.HcsProcessTimeoutError):
        system.run(sh("sleep 30", win_sleep(30)), timeout=0.3)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        listed = system.properties(["ProcessList"]).get("ProcessList") or []
        if not listed:
            break
        time.sleep(0.05)
    assert not listed


def test_communicate_timeout_keeps_the_output_and_can_be_repeated(system) -> None:
    """As subprocess.Popen.communicate: the process is not killed, and a second call loses nothing."""
    script = sh("echo first; sleep 4; echo second", win_sleep(4, before="first", after="second"))
    with system.create_process(script, timeout=10) as p:
        with pytest.raises(pyhcs.HcsProcessTimeoutError) as info:
            p.communicate(timeout=2)
        assert info.value.stdout.strip() == b"first"
        assert p.exit_code is None
        out, err = p.communicate(timeout=10)
        assert out.split() == [b"first", b"second"]
        assert p.exit_code == 0


def test_communicate_refuses_input_it_cannot_deliver(system) -> None:
    with system.create_process(sh("exit 0", "cmd /c exit 0"), stdin=False, timeout=10) as p:
        with pytest.raises(ValueError):
            p.communicate(b"lost")
        p.wait(timeout=10)


def test_run_timeout_includes_the_create(system, fake) -> None:
    fake.set_latency("HcsCreateProcess", 3000)
    started = time.monotonic()
    with pytest.raises(pyhcs.HcsProcessTimeoutError) as info:
        system.run(sh("echo never", "cmd /c echo never"), timeout=0.3)
    assert time.monotonic() - started < 2.5  # not the create's 3 s
    assert info.value.stdout == b""
    fake.set_latency("HcsCreateProcess", 0)
    assert pyhcs.operation.drain(10)
