"""boxctl's commands against the fake HCS in this process (the hcs_fake fixture of pyhcs.testing): after each test
the fixture fails it if boxctl left a handle open or a result string unfreed -- error paths included."""

import pytest

import boxctl

HCS_E_CONNECT_FAILED = 0x80370108


def test_run_prints_the_output_of_the_command_and_removes_the_box(hcs_fake, capsys) -> None:
    assert boxctl.main(["run", "demo", "--", "echo", "hello"]) == 0
    assert capsys.readouterr().out == "hello\n"
    assert hcs_fake.counters()["LiveSystems"] == 0


def test_run_exits_with_the_status_of_the_command(hcs_fake) -> None:
    assert boxctl.main(["run", "demo", "--", "exit", "3"]) == 3


def test_a_start_that_hcs_fails_is_reported_in_one_line_and_leaves_nothing(hcs_fake, capsys) -> None:
    hcs_fake.inject_fault("HcsStartComputeSystem", HCS_E_CONNECT_FAILED)
    assert boxctl.main(["run", "demo", "--", "echo", "hello"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("boxctl: ") and "HCS_E_CONNECT_FAILED" in err and err.count("\n") == 1
    assert hcs_fake.counters()["LiveSystems"] == 0  # the box that never started was removed


def test_a_create_that_hcs_refuses_at_once_is_reported(hcs_fake, capsys) -> None:
    hcs_fake.inject_fault("HcsCreateComputeSystem", 0x80070005, sync=True)  # E_ACCESSDENIED from the call itself
    assert boxctl.main(["create", "demo"]) == 1
    assert "E_ACCESSDENIED" in capsys.readouterr().err


def test_a_slow_hcs_is_a_timeout_not_a_hang(hcs_fake, capsys) -> None:
    hcs_fake.set_latency("HcsStartComputeSystem", 1500)
    assert boxctl.main(["--timeout", "0.3", "run", "demo", "--", "echo", "hello"]) == 1
    assert "boxctl: " in capsys.readouterr().err


def test_a_box_that_dies_on_its_own_is_gone_from_the_list(hcs_fake, capsys) -> None:
    assert boxctl.main(["create", "doomed"]) == 0
    hcs_fake.simulate_unexpected_exit("doomed")
    boxctl.main(["ls"])
    assert "Running" not in capsys.readouterr().out
    assert boxctl.main(["rm", "doomed"]) in (0, 1)  # a stopped box: terminate has nothing left to stop


@pytest.mark.parametrize("verb", ["exec", "rm"])
def test_a_box_that_does_not_exist_is_an_error(hcs_fake, capsys, verb) -> None:
    argv = [verb, "nobody"] + (["--", "true"] if verb == "exec" else [])
    assert boxctl.main(argv) == 1
    assert "boxctl: " in capsys.readouterr().err
