"""boxctl: run commands in throwaway Windows containers, through pyhcs.

    boxctl run NAME -- COMMAND...     create a container, run COMMAND in it, print its output, remove it
    boxctl create NAME                create and start a container that outlives this command
    boxctl exec NAME -- COMMAND...    run COMMAND in a running container
    boxctl rm NAME                    stop and remove a container
    boxctl ls                         list the containers

The exit status is the command's (run, exec), 0 otherwise, or 1 with a one-line message when HCS refuses.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Sequence

import pyhcs

OWNER = "boxctl"


def container_document(name: str) -> dict:
    return {"SchemaVersion": {"Major": 2, "Minor": 1}, "Owner": OWNER, "Container": {"GuestOs": {"HostName": name}}}


def _run_in(system: pyhcs.ComputeSystem, command: List[str], timeout: float) -> int:
    result = system.run(" ".join(command), timeout=timeout)
    sys.stdout.write(result.stdout.decode(errors="replace"))
    sys.stderr.write(result.stderr.decode(errors="replace"))
    return result.exit_code


def run(name: str, command: List[str], timeout: float) -> int:
    # Leaving the block terminates the box (exit_action "terminate"), whether the command ran or start failed.
    with pyhcs.ComputeSystem.create(name, container_document(name), timeout=timeout) as system:
        system.start(timeout=timeout)
        return _run_in(system, command, timeout)


def create(name: str, timeout: float) -> int:
    with pyhcs.ComputeSystem.create(name, container_document(name), timeout=timeout) as system:
        system.start(timeout=timeout)
        system.exit_action = "leave"  # started: it outlives this command; had start failed, it is terminated
    return 0


def exec_(name: str, command: List[str], timeout: float) -> int:
    with pyhcs.ComputeSystem.open(name) as system:
        return _run_in(system, command, timeout)


def remove(name: str, timeout: float) -> int:
    with pyhcs.ComputeSystem.open(name) as system:
        system.terminate(timeout=timeout)
    return 0


def list_boxes() -> int:
    for entry in pyhcs.ComputeSystem.enumerate():
        if entry.get("Owner") == OWNER:
            print(f"{entry['Id']}\t{entry.get('State', '?')}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="boxctl", description="Run commands in throwaway Windows containers.")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds each HCS call may take")
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("run", "exec"):
        p = sub.add_parser(verb)
        p.add_argument("name")
        p.add_argument("command", nargs=argparse.REMAINDER)
    for verb in ("create", "rm"):
        sub.add_parser(verb).add_argument("name")
    sub.add_parser("ls")
    args = parser.parse_args(argv)
    command = [c for c in getattr(args, "command", []) if c != "--"] if args.verb in ("run", "exec") else []
    if args.verb in ("run", "exec") and not command:
        parser.error(f"{args.verb}: which command?")
    try:
        if args.verb == "run":
            return run(args.name, command, args.timeout)
        if args.verb == "exec":
            return exec_(args.name, command, args.timeout)
        if args.verb == "create":
            return create(args.name, args.timeout)
        if args.verb == "rm":
            return remove(args.name, args.timeout)
        return list_boxes()
    except pyhcs.HcsError as exc:
        print(f"boxctl: {exc}", file=sys.stderr)
        return 1
