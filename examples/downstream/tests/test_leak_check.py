"""The plugin's leak check is real: a test that leaves an HCS handle open fails, and the report names the leak."""

from pathlib import Path

LEAKY = Path(__file__).resolve().parent.parent / "leaky" / "test_forgets_a_handle.py"


def test_a_test_that_leaves_a_handle_open_is_reported(pytester) -> None:
    pytester.makepyfile(test_forgets_a_handle=LEAKY.read_text())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)  # the test body passes; the fixture's teardown fails it
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_forgets_to_close_its_system*",
        "*LeakError: fake HCS leak check failed in this process: OpenSystemHandles=1*",
    ])


def test_the_leak_check_can_be_turned_off_for_one_test(pytester) -> None:
    pytester.makepyfile(test_forgets_a_handle="import pytest\n" + LEAKY.read_text().replace(
        "def test_forgets", "@pytest.mark.hcs_fake(check_leaks=False)\ndef test_forgets"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
