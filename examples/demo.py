"""pyhcs demo: drive the fake HCS the way you would drive Windows' HCS.

Creates a compute system, starts it, runs a process and streams its output line by line, then shuts the system
down and prints its exit status. Runs on Linux against the fake HCS (pyhcs.testing), which is built on first use.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))  # run from a checkout without installing pyhcs

import pyhcs  # noqa: E402
from pyhcs.testing import use_fake  # noqa: E402

DOCUMENT = {
    "SchemaVersion": {"Major": 2, "Minor": 1},
    "Owner": "pyhcs-demo",
    "ShouldTerminateOnLastHandleClosed": True,
    "Container": {"GuestOs": {"HostName": "demo"}, "Storage": {"Layers": []}},
}
SCRIPT = "echo hello from $(hostname 2>/dev/null || echo the fake); for i in 1 2 3; do echo tick $i; sleep 0.2; done"


def main() -> int:
    use_fake()  # pyhcs.use_library(<the fake>), built on first use
    print("HCS schema versions:", ", ".join(f"{a}.{b}" for a, b in pyhcs.supported_schema_versions()))
    with pyhcs.ComputeSystem.create("pyhcs-demo", DOCUMENT, timeout=30) as system:
        print(f"created {system.id!r}: {system.state}")
        system.start(timeout=30)
        print(f"started: {system.state}")
        with system.create_process(SCRIPT, stdin=False) as process:
            print(f"process {process.pid} running; its output:")
            assert process.stdout is not None
            for line in process.stdout:
                print("   |", line.decode(errors="replace").rstrip())
            print(f"process exited with code {process.wait(timeout=30)}")
        code, out, _ = system.run("echo $((6 * 7))", timeout=30)
        print(f"run() -> exit {code}, stdout {out!r}")
        system.shutdown(timeout=30)
        status = system.wait(timeout=30)
        print(f"system exited: {status.get('ExitType')} (status {status.get('Status', 0)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
