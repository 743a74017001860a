"""The pytest plugin of pyhcs.testing (entry point ``pyhcs`` in the ``pytest11`` group; ``-p no:pyhcs`` disables it).

Registered whenever pyhcs is installed, so it must cost nothing to the projects that never use it: this module
imports only pytest and the standard library, defines no autouse fixture, builds nothing, and adds one
command-line option and one marker. pyhcs, cffi and the fake are loaded the first time a test requests one of the
fixtures below; their work is in ``pyhcs.testing.plugin``. (It is a top-level module, not ``pyhcs.testing.plugin``
itself, because importing anything under ``pyhcs`` runs ``pyhcs/__init__.py``, which loads cffi: the same reason
hypothesis registers its plugin as the top-level ``_hypothesis_pytestplugin``.)

Fixtures:

- ``hcs_fake``: the fake HCS loaded in this process (pyhcs uses it; so do child processes, through
  ``PYHCS_COMPUTECORE``), reset before the test; after it, the test fails at teardown if an HCS handle is still
  open or a result string was never freed. Its value is the control API, a ``pyhcs.testing.FakeHcs``.
- ``hcs_fake_service``: a private fake HCS service for this test (a ``pyhcs.testing.FakeService``): run client
  processes with ``env=hcs_fake_service.env()``; the service is stopped after the test, once every client still
  connected has been checked for leaks.
- ``hcs_fake_library``: the path of the fake computecore library (built on first use), for tools that load it
  themselves.

``@pytest.mark.hcs_fake(check_leaks=False)`` turns the leak check off for a test (or a module, with ``pytestmark``).
``--hcs-fake-service`` (or ``PYHCS_TEST_FAKE_SERVICE=1``) runs the ``hcs_fake`` of the whole session as a client of
a private fake HCS service started for the session, so every test also crosses a process boundary, as pyhcs does
against vmcompute.exe; a ``PYHCS_FAKE_SERVICE`` already set names a running service to use instead.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Iterator, List

import pytest

if TYPE_CHECKING:  # the plugin must not import pyhcs before a fixture is used
    from pathlib import Path

    from pyhcs.testing import FakeHcs, FakeService


def _impl() -> Any:
    from pyhcs.testing import plugin

    return plugin


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pyhcs", "pyhcs.testing (the fake HCS)")
    group.addoption("--hcs-fake-service", action="store_true", default=False, dest="hcs_fake_service",
                    help="hcs_fake runs as a client of a private fake HCS service started for the session "
                         "(also PYHCS_TEST_FAKE_SERVICE=1)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hcs_fake(check_leaks=True): configure pyhcs.testing's hcs_fake and "
                                       "hcs_fake_service fixtures; check_leaks=False skips their leak check")


def pytest_report_header(config: pytest.Config) -> List[str]:
    if config.getoption("hcs_fake_service", False):
        return ["pyhcs.testing: hcs_fake is a client of a fake HCS service started for this session"]
    return []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    plugin = sys.modules.get("pyhcs.testing.plugin")
    if plugin is not None:
        plugin.session_finish(session.config, exitstatus)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    plugin = sys.modules.get("pyhcs.testing.plugin")
    if plugin is not None:
        plugin.terminal_summary(terminalreporter, config)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = sys.modules.get("pyhcs.testing.plugin")
    if plugin is not None:
        plugin.unconfigure(config)


@pytest.fixture(scope="session")
def hcs_fake_library(request: pytest.FixtureRequest) -> "Path":
    """Path of the fake HCS computecore library (pyhcs.testing.fake_library(): built on first use, cached)."""
    path: "Path" = _impl().library(request.config)
    return path


@pytest.fixture
def hcs_fake(request: pytest.FixtureRequest) -> "Iterator[FakeHcs]":
    """The fake HCS in this process (a pyhcs.testing.FakeHcs): reset before the test, leak-checked after it."""
    yield from _impl().hcs_fake(request)


@pytest.fixture
def hcs_fake_service(request: pytest.FixtureRequest, tmp_path: "Path") -> "Iterator[FakeService]":
    """A private fake HCS service for this test (a pyhcs.testing.FakeService; clients: env=service.env()); its
    clients are leak-checked and it is stopped after the test."""
    yield from _impl().hcs_fake_service(request, tmp_path)
