"""Test session setup: every test runs against the fake HCS (tests/fakes), never a real one.

- session: build ``libfakehcs.so`` (or take ``PYHCS_FAKE_LIBRARY`` / ``PYHCS_FAKE_STORAGE_LIBRARY``, e.g. the
  mingw-built DLLs under Wine) and point pyhcs at it before anything loads HCS; pin the host's OS version
  (``PYHCS_HOST_OS_VERSION``, read by pyhcs.compat and the fake alike) to the fake's default, Windows Server 2022;
- service mode (``pytest --fake-service`` or ``PYHCS_TEST_FAKE_SERVICE=1``): the session starts a private fake HCS
  service (tests/fakes/service.py) and the fake runs as its client (``PYHCS_FAKE_SERVICE``), so the whole suite runs
  across a process boundary, as pyhcs does against vmcompute.exe; a ``PYHCS_FAKE_SERVICE`` already set names a
  service to use instead;
- ``fake`` (autouse): resets the fake before each test and, after it, asserts that no handle is open and no result
  string is unfreed (in this process). Request it by name to use the control API (``fake.inject_fault(...)`` etc.);
- ``fake_service``: a private fake HCS service for the cross-process tests, stopped after the test
  (``tests/fakes/service.py start_service``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Tuple

import pytest

from tests.fakes.control import FakeHcs
from tests.fakes.service import FakeService, start_service


def _library_paths() -> Tuple[Path, Path]:
    core = os.environ.get("PYHCS_FAKE_LIBRARY")
    if core:
        return Path(core), Path(os.environ.get("PYHCS_FAKE_STORAGE_LIBRARY") or core)
    from tests.fakes.build import build_fake

    lib = build_fake()
    return lib, lib


_CORE, _STORAGE = _library_paths()
# One host for pyhcs.compat and the fake (which refuses images that do not fit it with 0xC0370101): the fake's own
# default, Windows Server 2022. Set before anything starts, so the session's service and every fake inherit it.
os.environ["PYHCS_HOST_OS_VERSION"] = "10.0.20348.2655 server"
# Before pyhcs loads anything: the loader reads these at first use.
os.environ["PYHCS_COMPUTECORE"] = str(_CORE)
os.environ["PYHCS_COMPUTESTORAGE"] = str(_STORAGE)

import pyhcs._ffi  # noqa: E402

pyhcs._ffi.use_library(_CORE, _STORAGE)
_FAKE = FakeHcs(_CORE)  # dlopen only: the fake initialises (and reads PYHCS_FAKE_SERVICE) at its first call
_SESSION_SERVICE: Optional[FakeService] = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fake-service", action="store_true", default=False,
                     help="run the suite in service mode: the fake HCS as a separate service process "
                          "(also PYHCS_TEST_FAKE_SERVICE=1)")


def pytest_configure(config: pytest.Config) -> None:
    global _SESSION_SERVICE
    wanted = config.getoption("--fake-service") or os.environ.get("PYHCS_TEST_FAKE_SERVICE", "") in ("1", "yes", "true")
    if wanted and not os.environ.get("PYHCS_FAKE_SERVICE"):
        # The service's environment is what processes without ProcessParameters.Environment inherit
        # (test_environment_replaces_and_working_directory looks for this variable).
        log = Path(tempfile.mkdtemp(prefix="fakehcs-session-")) / "fakehcs-service.log"
        _SESSION_SERVICE = start_service(log=log, env=dict(os.environ, FAKEHCS_TEST_INHERIT="yes"))
        os.environ["PYHCS_FAKE_SERVICE"] = _SESSION_SERVICE.endpoint
        os.environ["PYHCS_TEST_SESSION_SERVICE"] = _SESSION_SERVICE.endpoint


def pytest_report_header(config: pytest.Config) -> str:
    endpoint = os.environ.get("PYHCS_FAKE_SERVICE")
    where = f"client of the service at {endpoint}" if endpoint else "in process"
    if _SESSION_SERVICE is not None:
        where += f", its log: {_SESSION_SERVICE.log_path}"
    return f"fake HCS: {_CORE} ({where})"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_PASSED] = exitstatus == 0


_PASSED = pytest.StashKey[bool]()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _SESSION_SERVICE
    if _SESSION_SERVICE is not None:
        _SESSION_SERVICE.stop()
        if config.stash.get(_PASSED, False) and _SESSION_SERVICE.log_path is not None:
            shutil.rmtree(_SESSION_SERVICE.log_path.parent, ignore_errors=True)  # kept when something failed
        _SESSION_SERVICE = None


@pytest.fixture(scope="session")
def fake_library() -> Path:
    """Path of the fake computecore library in use."""
    return _CORE


@pytest.fixture(autouse=True)
def fake() -> Iterator[FakeHcs]:
    """The fake's control API; reset before the test, leak-checked after it."""
    _FAKE.reset()
    yield _FAKE
    try:
        _FAKE.assert_no_leaks()
    finally:
        _FAKE.reset()


@pytest.fixture
def fake_service(tmp_path: Path) -> Iterator[FakeService]:
    """A private fake HCS service for this test (its log in tmp_path); stopped, with a leak check of every client
    still connected, after the test."""
    service = start_service(log=tmp_path / "fakehcs-service.log")
    try:
        yield service
        if service.alive():
            with service.control() as ctl:
                ctl.assert_no_leaks()
    finally:
        service.stop()
