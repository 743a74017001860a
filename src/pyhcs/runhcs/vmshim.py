"""The VM helper (runhcs calls it the vmshim): the process that owns a utility VM between CLI commands.

runhcs's design (cmd/runhcs/vm.go, container.go), which pyhcs keeps: a container whose bundle asks for Hyper-V
isolation (``windows.hyperv``) -- or a pod sandbox that does -- gets a utility VM ``<id>@vm``, created and held by
a detached helper; that container and every container later placed in the VM (pod workloads through their
annotations, any container through ``--host <id>``) are created by asking this helper, which keeps the VM's
bookkeeping (the VSMB shares of their layers, the SCSI LUNs of their scratch disks) in one place. The helper ends
when the VM stops; deleting the container that owns the VM asks it to tear everything down.

Here the helper is a :class:`pyhcs.pod.HypervPod` served over an authenticated control endpoint (requests
``create``, ``remove``, ``shutdown``):

* ``create`` adds a workload (``HostingSystemId`` + ``HostedSystem``, not started) and keeps its handle; a thread
  waits for the workload to stop and then releases what the VM holds for it (hcsshim: the vmshim waits on each
  container it created, and delete unmounts its resources).
* ``shutdown`` ends every workload (the last created first), then the VM (hcsshim pod teardown order).
* The VM's handle is the helper's: the VM document has ``ShouldTerminateOnLastHandleClosed``, so a helper that
  dies takes its VM with it, and HCS ends every container in the VM.

Difference from runhcs: the container's own helper (not ``create``) sends ``create``, so a ``create`` killed half
way leaves nothing (the container helper terminates the workload when ``create`` never commits; this helper then
releases it). The VM helper likewise tears the VM down when ``create`` never commits it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import pyhcs
from pyhcs import compat, pod

from . import hcs
from .channel import MAX_MESSAGE, Channel, JobMessage, accept, listen, new_endpoint, refuse, request

__all__ = ["VmJob", "run_vmshim", "vm_request"]

log = logging.getLogger("pyhcs.runhcs.vmshim")


@dataclass
class VmJob(JobMessage):
    """What a VM helper is asked to do (the handshake's first message)."""

    KEY = "vmjob"  # not a field (no annotation): a container helper's handshake cannot pass for a VM helper's
    WHAT = "a VM job"

    host_id: str  # the container that owns the VM; the VM is <host_id>@vm
    layers: List[str] = field(default_factory=list)  # the image's read-only layers, topmost first
    scratch: Optional[str] = None  # the VM's scratch disk
    memory_mb: int = 1024
    processor_count: Optional[int] = None
    owner: str = "runhcs"
    os_version: Optional[str] = None  # the image's OS version, when its layers declare it
    authkey: str = ""



def vm_request(vm: Dict[str, Any], message: Dict[str, Any]) -> Tuple[Optional[Dict[str, Any]], str]:
    """Send *message* to the VM helper a host record's ``vm`` entry names."""
    return request(str(vm.get("endpoint", "")), bytes.fromhex(str(vm.get("authkey", ""))), message)


def known_host() -> Optional[compat.Host]:
    """The host's version, or None when it cannot be known (off Windows without PYHCS_HOST_OS_VERSION): then the
    version checks are HCS's."""
    try:
        return compat.host_os()
    except compat.HostVersionUnavailableError:
        return None


def refusal_text(exc: BaseException) -> str:
    """One line for a pod or compat refusal."""
    return " ".join(str(exc).split())


def run_vmshim(handshake: Channel) -> int:
    """Be the VM helper: read the job, create and start the VM, serve requests until the VM stops."""
    try:
        message = handshake.recv()
        if message is None:
            return 1
        job = VmJob.from_message(message)
    except (OSError, ValueError) as exc:
        log.error("bad handshake: %s", exc)
        return 1
    vm_id = pod.utility_vm_id(job.host_id)
    host = known_host()
    try:
        the_pod = pod.HypervPod.create(job.host_id, layers=job.layers, scratch=job.scratch,
                                       os_version=job.os_version, memory_mb=job.memory_mb,
                                       processor_count=job.processor_count, owner=job.owner, host=host,
                                       check=host is not None)
    except (compat.CompatError, pod.PodError) as exc:
        return _fail(handshake, refusal_text(exc))
    except pyhcs.HcsError as exc:
        return _fail(handshake, str(hcs.system_error("hcs::CreateComputeSystem", vm_id, exc)))
    except OSError as exc:  # the VM's scratch could not be prepared
        return _fail(handshake, f"preparing the utility VM {vm_id}: {exc}")
    return _VmHelper(job, the_pod, handshake).run()


def _fail(handshake: Channel, text: str) -> int:
    return refuse(handshake, text, log)


class _VmHelper:
    def __init__(self, job: VmJob, the_pod: pod.HypervPod, handshake: Channel) -> None:
        self.job = job
        self.pod = the_pod
        self.handshake = handshake
        self.endpoint = new_endpoint()
        self.authkey = bytes.fromhex(job.authkey)

    def _post(self, message: Dict[str, Any]) -> None:
        """A request to ourselves, from a watcher thread: the pod is used from the serving thread only."""
        request(self.endpoint, self.authkey, message)

    def run(self) -> int:
        try:
            try:
                listener = listen(self.endpoint, self.authkey)
            except OSError as exc:
                return _fail(self.handshake, f"cannot listen on {self.endpoint!r}: {exc}")
            try:
                try:
                    self.handshake.send({"ok": True, "endpoint": self.endpoint,
                                         "signalProcessSupported": self.pod.signal_process_supported})
                except OSError:
                    return 1
                threading.Thread(target=self._await_commit, name="commit", daemon=True).start()
                threading.Thread(target=self._watch_vm, name="vm-exit", daemon=True).start()
                self._serve(listener)
            finally:
                listener.close()
            return 0
        finally:
            try:
                self.pod.close()
            except pyhcs.HcsError as exc:
                log.warning("tearing the utility VM down: %s", hcs.error_text(exc))

    def _await_commit(self) -> None:
        # The container's helper may already ask us to create its container before create commits: requests are
        # served meanwhile. No commit (create failed or was killed): the VM goes.
        try:
            commit = self.handshake.recv()
        except (OSError, ValueError):
            commit = None
        self.handshake.close()
        if not commit or not commit.get("commit"):
            log.warning("no commit from create: removing the utility VM")
            self._post({"op": "shutdown"})

    def _watch_vm(self) -> None:
        try:
            self.pod.vm.wait()
        except pyhcs.HcsError:
            pass
        self._post({"op": "vm-exited"})

    def _watch_workload(self, system: pyhcs.ComputeSystem) -> None:
        try:
            system.wait()
        except pyhcs.HcsError:
            return  # closed: removed already
        self._post({"op": "remove", "id": system.id})

    def _serve(self, listener: Any) -> None:
        while True:
            conn = accept(listener, log)
            with conn:
                try:
                    message = json.loads(conn.recv_bytes(MAX_MESSAGE).decode("utf-8"))
                except (OSError, EOFError, ValueError):
                    continue
                op = message.get("op") if isinstance(message, dict) else None
                if op == "create":
                    _reply(conn, self._create(message))
                elif op == "remove":
                    self._remove(str(message.get("id", "")))
                    _reply(conn, {"ok": True})
                elif op in ("shutdown", "vm-exited"):
                    if op == "shutdown":
                        self._shutdown()
                    _reply(conn, {"ok": True})
                    return
                else:
                    _reply(conn, {"ok": False, "error": f"unknown request {op!r}"})

    def _create(self, message: Dict[str, Any]) -> Dict[str, Any]:
        container_id = str(message.get("id", ""))
        try:
            system = self.pod.add_workload(container_id, message.get("container") or {},
                                           layers=list(message.get("layers") or []),
                                           scratch=message.get("scratch"), os_version=message.get("osVersion"),
                                           start=False)
        except (compat.CompatError, pod.PodError) as exc:
            return {"ok": False, "error": refusal_text(exc)}
        except pyhcs.HcsError as exc:
            return {"ok": False, "error": str(hcs.system_error("hcs::CreateComputeSystem", container_id, exc))}
        threading.Thread(target=self._watch_workload, args=(system,), name=f"workload-{container_id}",
                         daemon=True).start()
        return {"ok": True}

    def _remove(self, container_id: str) -> None:
        if container_id not in self.pod.workloads:
            return
        try:
            self.pod.remove_workload(container_id)
        except pyhcs.HcsError as exc:
            log.warning("releasing %s in the utility VM: %s", container_id, hcs.error_text(exc))

    def _shutdown(self) -> None:
        """Every container in the VM (the last created first), then the VM."""
        try:
            self.pod.close()
        except pyhcs.HcsError as exc:
            log.warning("tearing the utility VM down: %s", hcs.error_text(exc))


def _reply(conn: Any, message: Dict[str, Any]) -> None:
    try:
        conn.send_bytes(json.dumps(message).encode("utf-8"))
    except (OSError, EOFError):
        pass


def process_main(handshake_in: int, handshake_out: int) -> int:
    """The hidden ``vmshim`` command: the handshake arrives on the inherited handles; stdio is the null device."""
    from .platform import open_inherited

    handshake = Channel(open_inherited(handshake_in, "rb"), open_inherited(handshake_out, "wb"))
    return run_vmshim(handshake)
