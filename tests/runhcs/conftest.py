"""Fixtures of the CLI tests.

The end-to-end tests run every command as its own process against one fake HCS service (``cli_service``), as
runhcs's commands all talk to vmcompute.exe. That service is started here and only here, so moving to
``pyhcs.testing`` (issue 12) is an edit of this file.

Service mode (``pytest --fake-service``): the end-to-end tests are skipped there. They start their own service
in every run, so the in-process run of the same leg has already run them against a service; running them twice
per leg would only double their time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.runhcs.e2e import ProcessCli


def in_service_mode() -> bool:
    """Whether this pytest session runs the suite through its own fake HCS service (``--fake-service``)."""
    return bool(os.environ.get("PYHCS_TEST_SESSION_SERVICE"))


@pytest.fixture(scope="session")
def cli_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One fake HCS service (``fakehcs-service``; ``fakehcs-service.exe`` under Wine) for every end-to-end CLI test
    of the session. Each test leaves it as it found it: no compute system, no process, no client (checked)."""
    if in_service_mode():
        pytest.skip("service-mode run: the CLI end-to-end tests start their own fake HCS service and ran in this "
                    "leg's in-process run (tests/runhcs/conftest.py)")
    from tests.fakes.service import start_service

    folder = tmp_path_factory.mktemp("cli-service")
    service = start_service(log=folder / "fakehcs-service.log")
    service.pycache = str(folder / "pycache")  # type: ignore[attr-defined]
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def e2e(cli_service: object, tmp_path: Path) -> Iterator[ProcessCli]:
    """``runhcs --root <tmp>/root ...``, each call its own process, against ``cli_service``. After the test every
    container left is deleted, and the test fails if a helper, a compute system, a container process or an HCS
    handle outlives that."""
    cli = ProcessCli(cli_service, str(tmp_path / "root"), str(tmp_path), pycache=getattr(cli_service, "pycache"))
    try:
        yield cli
    finally:
        cli.cleanup()
