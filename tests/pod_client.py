"""A client process of the fake HCS service playing one side of a shared pod (tests/test_pod.py).

``python -m tests.pod_client owner|joiner <pod id> <base layer>``, with ``PYHCS_FAKE_SERVICE`` naming the service:

* owner: creates the Hyper-V pod (its utility VM ``<pod>@vm``) and says ``{"created": <vm id>}``; on the line
  ``terminate`` it lists the systems hosted in its VM, terminates the VM and says so, then tears the pod down.
* joiner: opens the pod, adds a workload, runs a process in it and says what it saw; then waits for the workload to
  end (the owner terminates the VM) and says ``{"exit": <SystemExitStatus>}``.

One JSON line per answer on stdout; errors go to stderr with a non-zero exit.
"""

from __future__ import annotations

import json
import sys

from pyhcs.pod import HypervPod


def say(value: object) -> None:
    print(json.dumps(value), flush=True)


def owner(pod_id: str, base: str) -> None:
    with HypervPod.create(pod_id, layers=[base], timeout=60) as pod:
        say({"created": pod.vm.id})
        if sys.stdin.readline().strip() != "terminate":
            raise SystemExit("expected 'terminate'")
        hosted = pod.hosted_system_ids(timeout=30)
        pod.vm.terminate(timeout=30)
        say({"hosted": hosted, "terminated": True})


def joiner(pod_id: str, base: str) -> None:
    command = "cmd /c echo from-joiner" if sys.platform == "win32" else "echo from-joiner"
    with HypervPod.open(pod_id, timeout=60) as pod:
        workload = pod.add_workload(f"{pod_id}-joiner", layers=[base], timeout=60)
        output = workload.run(command, timeout=30).stdout.decode().strip()
        say({"workload": workload.id, "output": output, "hosting": workload.properties()["HostingSystemId"],
             "signals": pod.signal_process_supported})
        say({"exit": workload.wait(timeout=60)})


if __name__ == "__main__":
    role, pod_id, base = sys.argv[1:4]
    {"owner": owner, "joiner": joiner}[role](pod_id, base)
