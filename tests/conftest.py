"""Test session setup: every test runs against the fake HCS (tests/fakes), never a real one, through the same pytest
plugin pyhcs ships to its users (pyhcs.testing; docs/testing.md).

- ``fake`` (autouse): the plugin's ``hcs_fake`` for every test -- the fake loaded in this process, reset before the
  test and, after it, checked that no handle is open and no result string unfreed. Request it by name to use the
  control API (``fake.inject_fault(...)`` etc.);
- ``fake_service``: the plugin's ``hcs_fake_service``, a private fake HCS service for the cross-process tests;
- ``fake_library``: the plugin's ``hcs_fake_library``;
- ``--fake-service`` (the plugin's ``--hcs-fake-service``, or ``PYHCS_TEST_FAKE_SERVICE=1``): the whole suite runs
  as a client of a private fake HCS service, as pyhcs does against vmcompute.exe;
- ``PYHCS_FAKE_LIBRARY`` / ``PYHCS_FAKE_STORAGE_LIBRARY`` name prebuilt libraries instead of building the fake
  (the mingw-built DLLs under Wine).
- ``PYHCS_HOST_OS_VERSION`` is pinned for the session to the fake's default host, Windows Server 2022: pyhcs.compat
  and the fake (which refuses images that do not fit it with 0xC0370101) read the same variable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pyhcs.testing import FakeHcs, FakeService

# The plugin is registered by pyhcs's entry point when pyhcs is installed (pip install -e .); the Wine leg imports
# pyhcs from the checkout without installing it, so the suite loads the plugin itself then. pytester runs the
# plugin's own tests (tests/test_testing_plugin.py) in pytest sessions of their own.
pytest_plugins = ["pytester"] + ([] if "_pyhcs_pytestplugin" in sys.modules else ["_pyhcs_pytestplugin"])

# The session's fake HCS service inherits this environment; test_environment_replaces_and_working_directory looks
# for the variable in the processes it starts without an Environment of their own.
os.environ.setdefault("FAKEHCS_TEST_INHERIT", "yes")
# One host for pyhcs.compat and the fake (which refuses images that do not fit it with 0xC0370101): the fake's own
# default, Windows Server 2022. Set before anything starts, so the session's service and every fake inherit it.
os.environ["PYHCS_HOST_OS_VERSION"] = "10.0.20348.2655 server"

if sys.platform == "win32":
    from tests.support import retry_wine_create_process, rewake_wine_proactor_loops

    retry_wine_create_process()  # Wine's occasional CreateProcess ERROR_INTERNAL_ERROR under load
    rewake_wine_proactor_loops()  # Wine's occasional lost self-pipe wakeup of asyncio's ProactorEventLoop


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fake-service", action="store_true", default=False, dest="hcs_fake_service",
                     help="run the suite in service mode: the fake HCS as a separate service process "
                          "(the same as --hcs-fake-service, or PYHCS_TEST_FAKE_SERVICE=1)")


def pytest_report_header(config: pytest.Config) -> str:
    from pyhcs.testing import fake_library
    from pyhcs.testing.plugin import service_mode_requested

    endpoint = os.environ.get("PYHCS_FAKE_SERVICE")
    if endpoint:
        where = f"client of the service at {endpoint}"
    elif service_mode_requested(config):
        where = "client of a fake HCS service started for the session"
    else:
        where = "in process"
    return f"fake HCS: {fake_library()} ({where})"


@pytest.fixture(scope="session")
def fake_library(hcs_fake_library: Path) -> Path:
    """Path of the fake computecore library in use."""
    return hcs_fake_library


@pytest.fixture(autouse=True)
def fake(hcs_fake: FakeHcs) -> FakeHcs:
    """The fake's control API; reset before the test, leak-checked after it (the plugin's hcs_fake)."""
    return hcs_fake


@pytest.fixture(params=["native", "trampoline"])
def completion_path(request, monkeypatch) -> str:
    """Run the test with awaited calls completed by native code (``pyhcs._completions``), then through the cffi
    trampoline; the native run is skipped where pyhcs writes no native code (Windows, machines other than x86-64)."""
    from pyhcs import _completions, _native

    if request.param == "native" and (not _native.x86_64() or sys.platform == "win32"):
        pytest.skip("pyhcs writes native completion code for x86-64 POSIX only")
    monkeypatch.setattr(_completions, "enabled", request.param == "native")
    return str(request.param)


@pytest.fixture(params=["native", "trampoline"])
def event_path(request, monkeypatch) -> str:
    """Run the test with handles created to receive events through native code (``pyhcs._native_events``), then
    through the cffi trampoline; the native run is skipped where pyhcs writes no native code (Windows, machines
    other than x86-64), where every handle uses the trampoline."""
    from pyhcs import _native_events

    if request.param == "native":
        if _native_events.receiver() is None:
            pytest.skip("pyhcs receives events natively on x86-64 POSIX only")
    else:
        monkeypatch.setattr(_native_events, "receiver", lambda: None)
    return str(request.param)


@pytest.fixture
def fake_service(hcs_fake_service: FakeService) -> FakeService:
    """A private fake HCS service for this test (the plugin's hcs_fake_service)."""
    return hcs_fake_service
