"""pyhcs.testing: test your own HCS tools against pyhcs's fake HCS, on any machine with a C compiler.

The fake HCS is a C library exporting the same ABI as ``computecore.dll`` and ``computestorage.dll``, following
Microsoft's documented behaviour, with compute systems whose processes are real OS processes. Its sources ship with
pyhcs and are compiled on first use into a per-user cache (``fake_library()``).

- In pytest (the plugin is registered when pyhcs is installed, and does nothing until a test asks for one of its
  fixtures): ``hcs_fake`` (the fake in this process, reset before and leak-checked after the test),
  ``hcs_fake_service`` (a private fake HCS service for tests that run several processes), ``hcs_fake_library``.
- In any Python program: ``use_fake()`` points pyhcs at the fake and returns its control API (``FakeHcs``);
  ``start_service()`` starts a fake HCS service; ``check_leaks()`` asserts that nothing was left open.
- From any other language: ``python -m pyhcs.testing library`` prints the library's path (dlopen it), ``python -m
  pyhcs.testing env`` the environment variables that make a pyhcs program use it.

docs/testing.md is the guide.
"""

from .build import cache_root, fake_environment, fake_library, fake_storage_library, service_executable
from .control import LEAK_COUNTERS, Counters, FakeHcs, check_leaks, use_fake
from .errors import CompilerNotFoundError, FakeBuildError, LeakError, ServiceError
from .service import FakeService, ServiceControl, default_endpoint, new_endpoint, start_service

__all__ = [
    "LEAK_COUNTERS",
    "CompilerNotFoundError",
    "Counters",
    "FakeBuildError",
    "FakeHcs",
    "FakeService",
    "LeakError",
    "ServiceControl",
    "ServiceError",
    "cache_root",
    "check_leaks",
    "default_endpoint",
    "fake_environment",
    "fake_library",
    "fake_storage_library",
    "new_endpoint",
    "service_executable",
    "start_service",
    "use_fake",
]
