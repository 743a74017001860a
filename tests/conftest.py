"""Test session setup: every test runs against the fake HCS (tests/fakes), never a real one.

- session: build ``libfakehcs.so`` (or take ``PYHCS_FAKE_LIBRARY`` / ``PYHCS_FAKE_STORAGE_LIBRARY``, e.g. the
  mingw-built DLLs under Wine) and point pyhcs at it before anything loads HCS;
- ``fake`` (autouse): resets the fake before each test and, after it, asserts that no handle is open and no result
  string is unfreed. Request it by name to use the control API (``fake.inject_fault(...)`` etc.).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from tests.fakes.control import FakeHcs


def _library_paths() -> Tuple[Path, Path]:
    core = os.environ.get("PYHCS_FAKE_LIBRARY")
    if core:
        return Path(core), Path(os.environ.get("PYHCS_FAKE_STORAGE_LIBRARY") or core)
    from tests.fakes.build import build_fake

    lib = build_fake()
    return lib, lib


_CORE, _STORAGE = _library_paths()
# Before pyhcs loads anything: the loader reads these at first use.
os.environ["PYHCS_COMPUTECORE"] = str(_CORE)
os.environ["PYHCS_COMPUTESTORAGE"] = str(_STORAGE)

import pyhcs._ffi  # noqa: E402

pyhcs._ffi.use_library(_CORE, _STORAGE)
_FAKE = FakeHcs(_CORE)


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
