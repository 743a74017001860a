"""``python -m pyhcs.testing``: the fake HCS for programs that are not Python or do not use pytest.

    python -m pyhcs.testing library               # builds the fake if needed; prints libfakehcs.so's path
    python -m pyhcs.testing storage-library       # the computestorage library (the same file on POSIX)
    python -m pyhcs.testing service-executable    # fakehcs-service's path
    eval "$(python -m pyhcs.testing env)"         # PYHCS_COMPUTECORE / PYHCS_COMPUTESTORAGE for this shell
    python -m pyhcs.testing service start         # a fake HCS service in the background (one per user)
    eval "$(python -m pyhcs.testing service env)" # ... and PYHCS_FAKE_SERVICE: this shell's programs are its clients
    python -m pyhcs.testing service status        # its pid, clients, systems and processes
    python -m pyhcs.testing service stop          # ends its processes; every client gets ServiceDisconnect
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Dict, List, Optional, Sequence

from .build import fake_environment, fake_library, fake_storage_library, service_executable
from .errors import FakeBuildError, ServiceError
from .service import ServiceControl, default_endpoint, start_service


def _exports(env: Dict[str, str]) -> str:
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items())


def _service(command: str, endpoint: str, foreground: bool) -> int:
    if command == "env":
        print(_exports(fake_environment(endpoint)))
        return 0
    if command == "start":
        if foreground:
            exe = str(service_executable())
            os.execv(exe, [exe, endpoint])
        try:
            with ServiceControl(endpoint, timeout=2) as running:
                print(f"a fake HCS service (pid {running.service_pid}) already listens on {endpoint}")
                return 0
        except (OSError, EOFError, ServiceError):
            pass
        service = start_service(endpoint, detach=True, exit_with_parent=False)
        print(f"fake HCS service (pid {service.pid}) listening on {endpoint}; log: {service.log_path}")
        print('its clients: programs run with (eval "$(python -m pyhcs.testing service env)")')
        return 0
    try:
        ctl = ServiceControl(endpoint, timeout=5)
    except (OSError, EOFError, ServiceError):
        print(f"no fake HCS service answers at {endpoint}", file=sys.stderr)
        return 1
    if command == "status":
        with ctl:
            counters = ctl.counters()
            clients = ctl.clients()
        print(f"fake HCS service pid {ctl.service_pid} at {endpoint} (protocol {ctl.version}); clients {clients}; "
              f"{counters['LiveSystems']} compute systems, {counters['RunningProcesses']} processes running")
        return 0
    pid = ctl.service_pid
    ctl.stop()
    print(f"the fake HCS service at {endpoint} (pid {pid}) stopped")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyhcs.testing",
                                     description="The fake HCS of pyhcs.testing, for any program.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("library", "print the fake computecore library's path (building it if needed)"),
                       ("storage-library", "print the fake computestorage library's path"),
                       ("service-executable", "print the fake HCS service executable's path"),
                       ("env", "print sh export lines that make pyhcs programs load the fake")):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("-v", "--verbose", action="store_true", help="show the compiler commands")
    service = sub.add_parser("service", help="start, stop or query a fake HCS service",
                             description="Start, stop or query a fake HCS service (fakehcs-service).")
    service.add_argument("action", choices=("start", "stop", "status", "env"))
    service.add_argument("--endpoint", default=None, help=f"socket path / pipe name (default: {default_endpoint()})")
    service.add_argument("--foreground", action="store_true", help="start: run in this terminal until Ctrl-C")
    args = parser.parse_args(argv)
    try:
        if args.command == "service":
            return _service(args.action, args.endpoint or default_endpoint(), args.foreground)
        if args.command == "env":
            fake_library(args.verbose)
            print(_exports(fake_environment()))
            return 0
        finder = {"library": fake_library, "storage-library": fake_storage_library,
                  "service-executable": service_executable}[args.command]
        print(finder(args.verbose))
        return 0
    except (FakeBuildError, ServiceError) as exc:
        print(f"python -m pyhcs.testing: {exc}", file=sys.stderr)
        return 1


def _run(argv: List[str]) -> int:
    return main(argv[1:])


if __name__ == "__main__":
    sys.exit(_run(sys.argv))
