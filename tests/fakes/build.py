"""Build the fake HCS: ``python3 tests/fakes/build.py`` prints the library's path (``--service``: the service
executable's; ``-v``: show the compiler commands).

A thin wrapper over ``pyhcs.testing`` (``fake_library()``, ``service_executable()``), which compiles these sources
into the per-user cache (pyhcs/testing/build.py says where and how); kept so the command and the imports of branches
written before pyhcs.testing keep working. New code: ``from pyhcs.testing import fake_library``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script from a checkout: import pyhcs from it
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src"))

from pyhcs.testing.build import fake_library, service_executable  # noqa: E402


def build_fake(verbose: bool = False) -> Path:
    """The fake computecore library (``pyhcs.testing.fake_library``)."""
    return fake_library(verbose)


def build_service(verbose: bool = False) -> Path:
    """The fake HCS service executable (``pyhcs.testing.service_executable``)."""
    return service_executable(verbose)


if __name__ == "__main__":
    verbose = "-v" in sys.argv[1:]
    print(build_service(verbose) if "--service" in sys.argv[1:] else build_fake(verbose))
