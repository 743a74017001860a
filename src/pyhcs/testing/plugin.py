"""What the pytest fixtures of pyhcs.testing do (declared, inert, in the top-level ``_pyhcs_pytestplugin``).

Per pytest session: the fake is found or built and loaded into this process once, at the first test that asks for
``hcs_fake``; in service mode (``--hcs-fake-service`` or ``PYHCS_TEST_FAKE_SERVICE=1``) a private fake HCS service
is started first and the fake becomes its client. The service stops when the session ends; its log is removed
when every test passed and kept (and named in the summary) otherwise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, NoReturn, Optional

import pytest

from .build import fake_library
from .control import FakeHcs, check_leaks, use_fake
from .errors import FakeBuildError, LeakError
from .service import SERVICE_ENV, FakeService, start_service

#: Set to 1 (or yes, true) to run the session's ``hcs_fake`` as a client of a private fake HCS service.
SERVICE_MODE_ENV = "PYHCS_TEST_FAKE_SERVICE"
#: Set by the plugin to the endpoint of the service it started for the session (so tests can tell it from a
#: service someone else started, whose environment they do not know).
SESSION_SERVICE_ENV = "PYHCS_TEST_SESSION_SERVICE"


class _Session:
    def __init__(self) -> None:
        self.fake: Optional[FakeHcs] = None
        self.service: Optional[FakeService] = None
        self.error: Optional[BaseException] = None
        self.passed = False


_SESSION = pytest.StashKey[_Session]()


def _session(config: pytest.Config) -> _Session:
    state = config.stash.get(_SESSION, None)
    if state is None:
        state = config.stash[_SESSION] = _Session()
    return state


def service_mode_requested(config: pytest.Config) -> bool:
    """``--hcs-fake-service`` or ``PYHCS_TEST_FAKE_SERVICE=1``."""
    return bool(config.getoption("hcs_fake_service", False)) or (
        os.environ.get(SERVICE_MODE_ENV, "").lower() in ("1", "yes", "true"))


def library(config: pytest.Config) -> Path:
    """The fake's computecore library (``hcs_fake_library``)."""
    state = _session(config)
    return state.fake.path if state.fake is not None else fake_library()


def loaded_fake(config: pytest.Config) -> FakeHcs:
    """The fake loaded in this process for the session (loaded now if it is the first use)."""
    state = _session(config)
    if state.fake is not None:
        return state.fake
    if state.error is not None:  # a missing compiler fails every test that needs the fake, with the same message
        _fail(state.error)
    try:
        endpoint = None
        if service_mode_requested(config) and not os.environ.get(SERVICE_ENV):
            log = Path(tempfile.mkdtemp(prefix="fakehcs-session-")) / "fakehcs-service.log"
            state.service = start_service(log=log)
            endpoint = state.service.endpoint
            os.environ[SESSION_SERVICE_ENV] = endpoint
        # The fake reads PYHCS_FAKE_SERVICE at its first call: set before anything in the session calls HCS, and
        # inherited by the test's child processes, which become clients of the same service.
        state.fake = use_fake(endpoint)
    except FakeBuildError as exc:
        state.error = exc
    if state.fake is None:
        _fail(state.error)  # outside the except block: no "during handling" chain in the report
    return state.fake


def _fail(error: Optional[BaseException]) -> NoReturn:
    # The message says what is wrong and what to do (which handle leaked; which compiler to install); a traceback
    # through pyhcs.testing would only bury it.
    pytest.fail(f"{type(error).__name__}: {error}", pytrace=False)


def _check_leaks_wanted(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("hcs_fake")
    if marker is None:
        return True
    unknown = set(marker.kwargs) - {"check_leaks"}
    if unknown or marker.args:
        raise pytest.UsageError(f"@pytest.mark.hcs_fake takes only check_leaks=True|False, not "
                                f"{', '.join(map(repr, marker.args)) or ', '.join(sorted(unknown))}")
    return bool(marker.kwargs.get("check_leaks", True))


def hcs_fake(request: pytest.FixtureRequest) -> Iterator[FakeHcs]:
    """Reset the fake, hand it to the test, then check for leaks (unless the marker says not to) and reset it."""
    fake = loaded_fake(request.config)
    check = _check_leaks_wanted(request)
    fake.reset()
    leak: Optional[LeakError] = None
    try:
        yield fake
        if check:
            try:
                check_leaks(fake)
            except LeakError as exc:
                leak = exc
    finally:
        fake.reset()
    if leak is not None:
        _fail(leak)


def hcs_fake_service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeService]:
    """A private service for one test, its log in the test's tmp_path; leak check of the clients still connected."""
    check = _check_leaks_wanted(request)
    service: Optional[FakeService] = None
    try:
        service = start_service(log=tmp_path / "fakehcs-service.log")
    except FakeBuildError as exc:
        error: BaseException = exc
    if service is None:
        _fail(error)
    leak: Optional[LeakError] = None
    try:
        yield service
        if check and service.alive():
            with service.control() as ctl:
                try:
                    check_leaks(ctl)
                except LeakError as exc:
                    leak = exc
    finally:
        service.stop()
    if leak is not None:
        _fail(leak)


def session_finish(config: pytest.Config, exitstatus: int) -> None:
    _session(config).passed = exitstatus == 0


def terminal_summary(reporter: Any, config: pytest.Config) -> None:
    state = _session(config)
    if state.service is not None and not state.passed and state.service.log_path is not None:
        reporter.write_line(f"pyhcs.testing: the session's fake HCS service log is kept at {state.service.log_path}")


def unconfigure(config: pytest.Config) -> None:
    """Stop the session's service; remove its log unless something failed."""
    state = _session(config)
    service, state.service = state.service, None
    if service is None:
        return
    service.stop()
    if os.environ.get(SESSION_SERVICE_ENV) == service.endpoint:
        del os.environ[SESSION_SERVICE_ENV]
    if state.passed and service.log_path is not None:
        shutil.rmtree(service.log_path.parent, ignore_errors=True)
