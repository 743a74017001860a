#!/usr/bin/env python3
"""Start, stop and talk to the fake HCS service: ``python3 tests/fakes/service.py start|stop|status|env
[--endpoint E] [--foreground]``, the same as ``python -m pyhcs.testing service ...``.

A thin wrapper over ``pyhcs.testing`` (src/pyhcs/testing/service.py: ``start_service``, ``FakeService``,
``ServiceControl``; src/pyhcs/testing/_wire.py: the protocol's framing helpers, which pyhcs's protocol tests use to
send malformed messages), kept so the command and the imports of branches written before pyhcs.testing keep
working. New code: ``from pyhcs.testing import start_service``.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

if __name__ == "__main__":  # run as a script from a checkout: import pyhcs from it
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src"))

from pyhcs.testing._wire import *  # noqa: E402,F401,F403 - the framing helpers of the protocol tests
from pyhcs.testing._wire import Pipe as _Pipe  # noqa: E402,F401
from pyhcs.testing.build import ENV_SERVICE_EXECUTABLE as EXECUTABLE_ENV  # noqa: E402,F401
from pyhcs.testing.build import service_executable  # noqa: E402,F401
from pyhcs.testing.control import COUNTER_NAMES, LEAK_COUNTERS  # noqa: E402,F401
from pyhcs.testing.errors import ServiceError  # noqa: E402,F401
from pyhcs.testing.service import (  # noqa: E402,F401
    SERVICE_ENV,
    FakeService,
    ServiceControl,
    default_endpoint,
    new_endpoint,
    start_service,
)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from pyhcs.testing.__main__ import main as testing_main

    return testing_main(["service", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
