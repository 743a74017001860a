"""pyhcs.testing's pytest plugin, as a downstream project meets it (docs/testing.md): each test runs a pytest
session of its own in a separate process (pytester), where the plugin is registered by pyhcs's pytest11 entry point.

The plugin is registered for every project that installs pyhcs, so it must be inert until a test asks for one of its
fixtures; then hcs_fake resets the fake before the test and fails the test that leaves a handle open or a result
string unfreed, hcs_fake_service gives a private service and checks its clients, and a missing compiler is one clear
error. CI repeats the downstream side from the built wheel in a fresh virtual environment (tools/check_downstream.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform == "win32",
    reason="the Wine leg runs pyhcs from the checkout, not installed (no entry point); the plugin runs the whole "
           "suite there through tests/conftest.py")

DOCUMENT = '{"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}}'


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester whose sessions start from a plain environment: no service of this suite, no fake preselected."""
    for name in ("PYHCS_FAKE_SERVICE", "PYHCS_TEST_SESSION_SERVICE", "PYHCS_TEST_FAKE_SERVICE",
                 "PYHCS_COMPUTECORE", "PYHCS_COMPUTESTORAGE"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=240)


def test_the_plugin_is_registered_and_inert_for_a_project_that_does_not_use_it(pytester: pytest.Pytester) -> None:
    """Registered through the entry point, it imports neither pyhcs nor cffi and builds nothing until a fixture is
    requested; it adds no autouse fixture."""
    pytester.makepyfile(test_unrelated="""
        import sys

        def test_nothing_to_do_with_hcs(request):
            assert request.config.pluginmanager.has_plugin("pyhcs")
            assert "hcs_fake" not in request.fixturenames
            assert [m for m in ("pyhcs", "cffi", "_cffi_backend") if m in sys.modules] == []
    """)
    run(pytester).assert_outcomes(passed=1)
    run(pytester, "-p", "no:pyhcs").assert_outcomes(passed=0, failed=1)  # the first assert: it is really there


def test_hcs_fake_loads_the_fake_resets_it_and_gives_children_the_same_library(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_first=f"""
        import os, subprocess, sys
        import pyhcs

        def test_first(hcs_fake):
            assert hcs_fake.counters()["LiveSystems"] == 0
            with pyhcs.ComputeSystem.create("first", {DOCUMENT}) as system:
                system.start()
                assert system.run("echo hello", timeout=30).stdout == b"hello\\n"
            assert os.environ["PYHCS_COMPUTECORE"] == str(hcs_fake.path)
            child = subprocess.run([sys.executable, "-c", "import pyhcs; print(pyhcs.supported_schema_versions())"],
                                   capture_output=True, text=True, check=True)
            assert "(2, 6)" in child.stdout

        def test_starts_from_a_reset_fake(hcs_fake):
            system = pyhcs.ComputeSystem.create("left-running", {DOCUMENT}, exit_action="leave")
            system.start()
            system.close()  # the handle is closed, the system lives on ...

        def test_after_it(hcs_fake):
            assert hcs_fake.counters()["LiveSystems"] == 0  # ... until the next test's reset
    """)
    run(pytester).assert_outcomes(passed=3)


def test_a_leaked_handle_fails_the_test_at_teardown_naming_the_leak(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaks=f"""
        import pyhcs
        KEPT = []

        def test_forgets_to_close(hcs_fake):
            KEPT.append(pyhcs.ComputeSystem.create("forgotten", {DOCUMENT}))

        def test_the_next_test_is_clean(hcs_fake):
            assert hcs_fake.counters()["OpenSystemHandles"] == 0
    """)
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_forgets_to_close*",
                                 "*LeakError: fake HCS leak check failed in this process: OpenSystemHandles=1*"])


def test_the_marker_turns_the_leak_check_off_and_rejects_what_it_does_not_know(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked=f"""
        import pytest
        import pyhcs
        KEPT = []

        @pytest.mark.hcs_fake(check_leaks=False)
        def test_abandons_on_purpose(hcs_fake):
            KEPT.append(pyhcs.ComputeSystem.create("abandoned", {DOCUMENT}))

        @pytest.mark.hcs_fake(leaks=False)
        def test_misspelt(hcs_fake):
            pass
    """)
    result = run(pytester, "--strict-markers")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*hcs_fake takes only check_leaks=True|False, not leaks*"])


def test_hcs_fake_service_shares_one_hcs_between_processes_and_checks_its_clients(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_service=f"""
        import subprocess, sys

        CREATE = ('import pyhcs\\n'
                  'system = pyhcs.ComputeSystem.create("shared", {DOCUMENT}, exit_action="leave")\\n'
                  'system.start()\\n'
                  'system.close()\\n')
        HOLD = ('import sys, pyhcs\\n'
                'system = pyhcs.ComputeSystem.create("held", {DOCUMENT}, exit_action="leave")\\n'
                'print("ready", flush=True)\\n'
                'sys.stdin.read()\\n')

        def test_two_processes(hcs_fake_service):
            subprocess.run([sys.executable, "-c", CREATE], env=hcs_fake_service.env(), check=True, timeout=60)
            with hcs_fake_service.control() as service:
                assert service.counters()["LiveSystems"] == 1  # it outlived the process that created it

        def test_a_client_still_holding_a_handle_is_a_leak(hcs_fake_service):
            test_a_client_still_holding_a_handle_is_a_leak.client = client = subprocess.Popen(
                [sys.executable, "-c", HOLD], env=hcs_fake_service.env(), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True)
            assert client.stdout.readline() == "ready\\n"
            with hcs_fake_service.control() as service:
                assert service.clients() == [client.pid]
    """)
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_a_client_still_holding_a_handle_is_a_leak*",
                                 "*LeakError: fake HCS leak check failed in the fake HCS service's clients: "
                                 "OpenSystemHandles=1*"])


def test_service_mode_makes_hcs_fake_a_client_of_a_session_service(pytester: pytest.Pytester) -> None:
    """--hcs-fake-service: the session's hcs_fake is a client of a service started at its first use and stopped at
    the end; the service's log is removed when everything passed and kept (and named) when something failed."""
    pytester.makepyfile(test_mode="""
        import os

        def test_connected(hcs_fake):
            assert hcs_fake.service_status() == "connected"
            print("LOG", os.environ["PYHCS_TEST_SESSION_SERVICE"])

        def test_fails_when_asked(hcs_fake):
            assert not os.environ.get("FAIL_ONE")
    """)
    passed = run(pytester, "--hcs-fake-service", "-s")
    passed.assert_outcomes(passed=2)
    passed.stdout.fnmatch_lines(["*hcs_fake is a client of a fake HCS service started for this session*"])
    endpoint = re.search(r"LOG (\S+)", passed.stdout.str()).group(1)  # type: ignore[union-attr]
    assert not os.path.exists(endpoint)
    failed = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], cwd=pytester.path,
                            env=dict(os.environ, PYHCS_TEST_FAKE_SERVICE="1", FAIL_ONE="1"),
                            capture_output=True, text=True, timeout=240)
    assert failed.returncode == 1, failed.stdout
    kept = [line for line in failed.stdout.splitlines() if "fake HCS service log is kept at" in line]
    assert kept and Path(kept[0].rsplit(" ", 1)[1]).is_file(), failed.stdout


def test_a_missing_compiler_is_one_clear_error_for_every_test_that_needs_the_fake(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CC", "no-such-compiler")
    monkeypatch.setenv("PYHCS_FAKE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("PYHCS_FAKE_LIBRARY", raising=False)
    pytester.makepyfile(test_needs_the_fake="""
        def test_one(hcs_fake):
            pass

        def test_two(hcs_fake):
            pass

        def test_without_the_fake():
            pass
    """)
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*CompilerNotFoundError: pyhcs.testing builds the fake HCS from C on first use "
                                 "and needs a C compiler, but 'no-such-compiler' was not found*"])


def test_the_command_line_prints_paths_and_environments_and_reports_errors_without_a_traceback(
        fake_library: Path, tmp_path: Path) -> None:
    def cli(*args: str, **env: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run([sys.executable, "-m", "pyhcs.testing", *args], capture_output=True, text=True,
                              env=dict(os.environ, **env), timeout=120)

    library = cli("library")
    assert library.returncode == 0 and Path(library.stdout.strip()).is_file()
    exports = cli("env").stdout
    assert f"export PYHCS_COMPUTECORE={library.stdout.strip()}" in exports and "PYHCS_COMPUTESTORAGE=" in exports
    assert Path(cli("service-executable").stdout.strip()).is_file()
    broken = cli("library", CC="no-such-compiler", PYHCS_FAKE_CACHE=str(tmp_path), PYHCS_FAKE_LIBRARY="")
    assert broken.returncode == 1 and "needs a C compiler" in broken.stderr and "Traceback" not in broken.stderr
    endpoint = str(tmp_path / "svc.sock") if len(str(tmp_path)) < 80 else f"/tmp/pyhcs-cli-{os.getpid()}.sock"
    assert cli("service", "start", "--endpoint", endpoint).returncode == 0
    try:
        status = cli("service", "status", "--endpoint", endpoint)
        assert status.returncode == 0 and "0 compute systems" in status.stdout
        assert f"export PYHCS_FAKE_SERVICE={endpoint}" in cli("service", "env", "--endpoint", endpoint).stdout
    finally:
        assert cli("service", "stop", "--endpoint", endpoint).returncode == 0
    assert cli("service", "status", "--endpoint", endpoint).returncode == 1


def test_use_fake_and_check_leaks_work_without_pytest(fake_library: Path) -> None:
    code = textwrap.dedent(f"""
        import pyhcs
        from pyhcs.testing import LeakError, check_leaks, use_fake
        fake = use_fake()
        fake.reset()
        system = pyhcs.ComputeSystem.create("script", {DOCUMENT})
        try:
            check_leaks(fake, timeout=0.5)
        except LeakError as exc:
            print("leaks", exc.leaks)
        system.close()
        check_leaks(fake)
        print("clean")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYHCS_COMPUTE")}
    env.pop("PYHCS_FAKE_SERVICE", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "leaks {'OpenSystemHandles': 1}\nclean\n"
