"""The per-container helper (runhcs calls it the shim): the process that owns a container's HCS objects between
CLI commands.

runhcs's design (cmd/runhcs/shim.go, container.go), which pyhcs keeps:

* ``create`` starts an **init helper**, detached, with the container's stdio = create's own stdin/stdout/stderr
  (they must stay usable after create exits: go-runhcs reads the container's output from them). ``exec`` starts
  one **exec helper** per process.
* The init helper creates the compute system (HcsCreateComputeSystem, not started), listens on its control
  endpoint and reports ready over the handshake; create records the container and commits. ``start`` asks the
  helper to start: it starts the system, creates the container's process with std pipes, answers with the
  process id, and relays stdio. When the process exits, the helper shuts the system down (5 minutes' grace, as
  runhcs, then terminate), records the exit in the state store and exits with the process's exit code.
* An exec helper opens the system, creates its process, answers with its id, relays, and exits with its code.

Differences from runhcs, and why:

* The helper, not ``create``, calls HcsCreateComputeSystem, and reports its errors through the handshake: the user
  sees HCS's words, and a create killed half way leaves nothing (the helper undoes its work when the handshake
  ends without a commit; the system has ShouldTerminateOnLastHandleClosed).
* ``start`` does not start the compute system itself; the helper does, so ``start`` needs no HCS handle.

:func:`run_shim` is the whole helper as a function of its job, its stdio files and its handshake channel; the
``shim`` command (:func:`shim_main`) runs it as a process, and tests run it in a thread against the in-process
fake.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

import pyhcs
from pyhcs import oci

from . import hcs
from .channel import Channel, JobMessage, accept, listen, new_endpoint, refuse, request
from .state import Record, Store

__all__ = ["ShimJob", "Stdio", "run_shim", "SHUTDOWN_TIMEOUT", "start_request"]

log = logging.getLogger("pyhcs.runhcs.shim")

#: runhcs shim.go: "Shutdown the container, waiting 5 minutes before terminating it forcefully."
SHUTDOWN_TIMEOUT = 300.0
#: How long output still arriving after the process exited is relayed (background children may hold the pipes).
DRAIN_TIMEOUT = 10.0
#: How long the helper waits for the container's lock to record the exit.
RECORD_TIMEOUT = 30.0
#: How often a helper waiting for ``start`` checks that its container's record is still there.
RECORD_POLL = 2.0


@dataclass
class ShimJob(JobMessage):
    """What a helper is asked to do (sent as the handshake's first message)."""

    container_id: str
    root: str
    exec: bool = False
    document: Optional[Dict[str, Any]] = None  # init: the ComputeSystem document
    process: Optional[Dict[str, Any]] = None  # the OCI process (init: config.json's; exec: the exec'd one)
    stdin: bool = True
    stdout: bool = True
    stderr: bool = True
    authkey: str = ""  # hex; init: the control endpoint's key
    credential_spec: Optional[str] = None
    shutdown_timeout: float = SHUTDOWN_TIMEOUT
    # init, in a utility VM: the VM helper to ask for the compute system, and what it needs (vmshim "create")
    vm_endpoint: str = ""
    vm_authkey: str = ""
    hosted: Optional[Dict[str, Any]] = None



@dataclass
class Stdio:
    """The files the container's process is relayed to and from (None: not relayed)."""

    stdin: Optional[IO[bytes]] = None
    stdout: Optional[IO[bytes]] = None
    stderr: Optional[IO[bytes]] = None
    threads: List[threading.Thread] = field(default_factory=list)


def new_authkey() -> str:
    return secrets.token_hex(32)


def start_request(endpoint: str, authkey: str) -> Dict[str, Any]:
    """What ``start`` does: ask the init helper to start the container. Returns the helper's reply
    (``{"ok": true, "pid": <HCS pid>}`` or ``{"ok": false, "error": "..."}``)."""
    reply, reason = request(endpoint, bytes.fromhex(authkey), {"op": "start"})
    if reply is None:
        return {"ok": False, "error": reason}
    return reply


# -- the helper ----------------------------------------------------------------------------------------------------
def run_shim(handshake: Channel, stdio: Stdio) -> int:
    """Be the helper: read the job from *handshake*, do it, return the exit code to exit with."""
    try:
        message = handshake.recv()
        if message is None:
            return 1
        job = ShimJob.from_message(message)
    except (OSError, ValueError) as exc:
        log.error("bad handshake: %s", exc)
        return 1
    log.debug("helper for %s (%s) started", job.container_id, "exec" if job.exec else "init")
    if job.exec:
        return _ExecHelper(job, handshake, stdio).run()
    return _InitHelper(job, handshake, stdio).run()


def _fail(handshake: Channel, text: str) -> int:
    return refuse(handshake, text, log)


class _Helper:
    def __init__(self, job: ShimJob, handshake: Channel, stdio: Stdio) -> None:
        self.job = job
        self.handshake = handshake
        self.stdio = stdio
        self.system: Optional[pyhcs.ComputeSystem] = None
        self.process: Optional[pyhcs.Process] = None

    def parameters(self) -> Dict[str, Any]:
        return oci.process_parameters(self.job.process, stdin=self.stdio.stdin is not None,
                                      stdout=self.stdio.stdout is not None,
                                      stderr=self.stdio.stderr is not None)

    def create_process(self) -> pyhcs.Process:
        assert self.system is not None
        return pyhcs.Process.create(self.system, document=self.parameters())

    def handshake_done(self) -> None:
        self.handshake.close()

    def record_in_background(self, change: Callable[[Record], None]) -> threading.Thread:
        """Apply *change* to the container's record once its lock is free, without holding up the relays.

        The command that asked for the process (start, run, exec) records its HCS pid too, but it may be killed
        between our answer and its write; kill and resize-tty need the pid, so the helper -- which outlives that
        command -- records it as well (runhcs's shim writes it to the registry itself). The command holds the lock
        while it waits for our answer, so this waits for the command to be done."""
        def record() -> None:
            if not Store(self.job.root).amend(self.job.container_id, change, lock_timeout=RECORD_TIMEOUT):
                log.info("the container's record is gone or busy; process %s not recorded", self.job.container_id)

        thread = threading.Thread(target=record, name="record-pid", daemon=True)
        thread.start()
        return thread

    def relay_and_wait(self, process: pyhcs.Process) -> int:
        """Copy stdio between the process and our files until it exits; its exit code."""
        threads = []
        for source, target, name in ((process.stdout, self.stdio.stdout, "stdout"),
                                     (process.stderr, self.stdio.stderr, "stderr")):
            if source is not None and target is not None:
                t = threading.Thread(target=_pump, args=(source, target), name=f"relay-{name}", daemon=True)
                t.start()
                threads.append(t)
        if process.stdin is not None and self.stdio.stdin is not None:
            t = threading.Thread(target=_feed, args=(self.stdio.stdin, process), name="relay-stdin", daemon=True)
            t.start()
            self.stdio.threads.append(t)
        try:
            code = process.wait()
        except pyhcs.HcsError as exc:
            log.error("waiting for process %d: %s", process.pid, hcs.error_text(exc))
            code = 255
        deadline = time.monotonic() + DRAIN_TIMEOUT
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        log.debug("process %d exited with %d", process.pid, code)
        return code


class _ExecHelper(_Helper):
    def run(self) -> int:
        job = self.job
        try:
            self.system = pyhcs.ComputeSystem.open(job.container_id, exit_action="leave")
        except pyhcs.HcsNotFoundError:
            return _fail(self.handshake, "container is stopped")
        except pyhcs.HcsError as exc:
            return _fail(self.handshake, str(hcs.system_error("hcs::OpenComputeSystem", job.container_id, exc)))
        try:
            try:
                process = self.create_process()
            except oci.SpecError as exc:
                return _fail(self.handshake, exc.one_line())
            except pyhcs.HcsError as exc:
                return _fail(self.handshake, str(hcs.system_error("hcs::System::CreateProcess",
                                                                   job.container_id, exc)))
            with process:
                try:
                    self.handshake.send({"ok": True, "pid": process.pid})
                except OSError:
                    # exec died before hearing from us: the process runs on, as a detached exec would.
                    log.warning("exec went away before the handshake completed")
                self.handshake_done()
                helper_pid, hcs_pid = str(os.getpid()), process.pid

                def add_exec(record: Record) -> None:
                    record["execs"] = dict(record.get("execs") or {}, **{helper_pid: hcs_pid})

                recorder = self.record_in_background(add_exec)
                code = self.relay_and_wait(process)
                recorder.join(RECORD_TIMEOUT)
                return code
        finally:
            self.system.close()


class _InitHelper(_Helper):
    def run(self) -> int:
        job = self.job
        guard = False
        document = dict(job.document or {})
        try:
            if job.credential_spec:
                try:
                    state = hcs.add_credential_guard(job.container_id, job.credential_spec)
                except Exception as exc:  # noqa: BLE001 - reported verbatim
                    return _fail(self.handshake, str(exc))
                guard = True
                document.setdefault("Container", {})["ContainerCredentialGuard"] = state
            if job.vm_endpoint:
                failure = self._create_in_vm(document.get("Container", {}).get("ContainerCredentialGuard"))
                if failure is not None:
                    return _fail(self.handshake, failure)
                return self._serve()
            try:
                # The handle terminates the system when it closes (exit_action) -- and HCS does too if we die
                # (ShouldTerminateOnLastHandleClosed).
                self.system = pyhcs.ComputeSystem.create(job.container_id, document, exit_action="terminate")
            except pyhcs.HcsError as exc:
                return _fail(self.handshake, str(hcs.system_error("hcs::CreateComputeSystem", job.container_id,
                                                                   exc)))
            return self._serve()
        finally:
            if self.system is not None:
                self.system.close()
            if guard:
                hcs.remove_credential_guard(job.container_id)

    def _create_in_vm(self, credential_guard: Optional[Dict[str, Any]]) -> Optional[str]:
        """A container in a utility VM: the VM's helper creates it (it keeps the VM's shares and disks), then we
        open it -- with the same exit action as a system we create: our end, or a create that never commits,
        terminates it, and the VM helper then releases what the VM held for it. None, or what went wrong."""
        job = self.job
        hosted = dict(job.hosted or {})
        if credential_guard:
            hosted["container"] = dict(hosted.get("container") or {}, ContainerCredentialGuard=credential_guard)
        reply, reason = request(job.vm_endpoint, bytes.fromhex(job.vm_authkey),
                                dict(hosted, op="create", id=job.container_id))
        if reply is None:
            return f"VM of {job.container_id} cannot be contacted: {reason}"
        if not reply.get("ok"):
            return str(reply.get("error") or "the VM's helper did not create the container")
        try:
            self.system = pyhcs.ComputeSystem.open(job.container_id, exit_action="terminate")
        except pyhcs.HcsError as exc:
            return str(hcs.system_error("hcs::OpenComputeSystem", job.container_id, exc))
        return None

    def _serve(self) -> int:
        job = self.job
        system = self.system
        assert system is not None
        endpoint = new_endpoint()
        try:
            listener = listen(endpoint, bytes.fromhex(job.authkey))
        except OSError as exc:
            self._terminate()
            return _fail(self.handshake, f"cannot listen on {endpoint!r}: {exc}")
        try:
            try:
                self.handshake.send({"ok": True, "endpoint": endpoint})
                commit = self.handshake.recv()
            except (OSError, ValueError):
                commit = None
            if not commit or not commit.get("commit"):
                # create went away (or gave up) before recording the container: undo.
                log.warning("no commit from create: removing the compute system")
                self._terminate()
                self.handshake.close()
                return 1
            self.handshake_done()
            process = self._wait_for_start(listener, endpoint)
        finally:
            listener.close()
        if process is None:
            self._record_exit(None)
            return 1
        init_pid = process.pid
        recorder = self.record_in_background(lambda record: record.update(initPid=init_pid))
        with process:
            code = self.relay_and_wait(process)
        self._shutdown()
        recorder.join(RECORD_TIMEOUT)
        self._record_exit(code)
        return code

    def _wait_for_start(self, listener: Any, endpoint: str) -> Optional[pyhcs.Process]:
        """Serve the control endpoint until ``start`` succeeds, or the system exits first (kill or delete of a
        created container): the started process, or None."""
        system = self.system
        assert system is not None
        authkey = bytes.fromhex(self.job.authkey)

        def watch_exit() -> None:
            try:
                system.wait()
            except pyhcs.HcsError:
                pass  # closed or disconnected: the helper is ending anyway
            request(endpoint, authkey, {"op": "exited"})

        done = threading.Event()

        def watch_record() -> None:
            # A container deleted behind HCS's back (its record removed by hand, or a delete that could not see
            # the system: a CLI that is not a client of the same HCS) must not leave us waiting for a start that
            # can never come.
            store = Store(self.job.root)
            while not done.wait(RECORD_POLL):
                try:
                    record = store.get(self.job.container_id)
                except Exception:  # noqa: BLE001 - unreadable for now (a damaged record): ask again later
                    continue
                if record is None or (record.get("shim") or {}).get("endpoint") not in (None, endpoint):
                    log.warning("the container's record is gone: removing the compute system")
                    request(endpoint, authkey, {"op": "exited"})
                    return

        watcher = threading.Thread(target=watch_exit, name="system-exit", daemon=True)
        watcher.start()
        threading.Thread(target=watch_record, name="record-watch", daemon=True).start()
        try:
            return self._serve_control(listener)
        finally:
            done.set()

    def _serve_control(self, listener: Any) -> Optional[pyhcs.Process]:
        while True:
            conn = accept(listener, log)
            with conn:
                try:
                    op = _loads(conn.recv_bytes(4096)).get("op")
                except (OSError, EOFError, ValueError):
                    continue
                if op == "exited":
                    _reply(conn, {"ok": True})
                    return None
                if op != "start":
                    _reply(conn, {"ok": False, "error": f"unknown request {op!r}"})
                    continue
                reply, process = self._start()
                _reply(conn, reply)
                if process is not None or not reply.get("ok"):
                    return process

    def _start(self) -> Tuple[Dict[str, Any], Optional[pyhcs.Process]]:
        system = self.system
        assert system is not None
        try:
            system.start()
        except pyhcs.HcsError as exc:
            self._terminate()  # runhcs: terminateOnFailure
            return {"ok": False, "error": str(hcs.system_error("hcs::System::Start", system.id, exc))}, None
        try:
            process = self.create_process()
        except oci.SpecError as exc:
            self._terminate()
            return {"ok": False, "error": exc.one_line()}, None
        except pyhcs.HcsError as exc:
            self._terminate()
            return {"ok": False, "error": str(hcs.system_error("hcs::System::CreateProcess", system.id, exc))}, None
        return {"ok": True, "pid": process.pid}, process

    def _terminate(self) -> None:
        system = self.system
        if system is None:
            return
        try:
            system.terminate()
        except (pyhcs.HcsAlreadyStoppedError, pyhcs.HcsInvalidStateError, pyhcs.HcsNotFoundError):
            pass
        except pyhcs.HcsError as exc:
            log.error("terminate: %s", hcs.error_text(exc))
            return
        try:
            system.wait(30)
        except pyhcs.HcsError:
            pass

    def _shutdown(self) -> None:
        """runhcs: Shutdown, wait up to the grace period for the exit, then Terminate."""
        system = self.system
        assert system is not None
        if system.exited:
            return
        timeout = self.job.shutdown_timeout
        try:
            system.shutdown(timeout=timeout)
        except pyhcs.HcsAlreadyStoppedError:
            return
        except pyhcs.HcsError as exc:
            log.info("shutdown: %s; terminating", hcs.error_text(exc))
            self._terminate()
            return
        try:
            system.wait(timeout)
        except pyhcs.HcsTimeoutError:
            log.warning("the container did not stop within %g s: terminating", timeout)
            self._terminate()
        except pyhcs.HcsError:
            pass

    def _record_exit(self, code: Optional[int]) -> None:
        store = Store(self.job.root)
        try:
            recorded = store.update(self.job.container_id, lock_timeout=RECORD_TIMEOUT,
                                    exit={"code": code, "time": time.time_ns()})
        except OSError as exc:  # the root went away, a full disk: the exit code still reaches our parent
            log.warning("recording the exit: %s", exc)
            return
        if not recorded:
            log.info("the container's record is gone (deleted) or busy; exit %s not recorded", code)


# -- stdio relays ------------------------------------------------------------------------------------------------
def _pump(source: IO[bytes], target: IO[bytes]) -> None:
    """Copy until end of file. When our side stops accepting (the reader went away), keep draining the process's
    pipe so it never blocks on a full pipe."""
    src = source.fileno()
    dst: Optional[int] = target.fileno()
    while True:
        try:
            chunk = os.read(src, 65536)
        except OSError as exc:
            if exc.errno != 5:  # EIO: the other end of a pseudo terminal closed, i.e. end of file
                log.debug("relay read: %s", exc)
            break
        if not chunk:
            break
        view = memoryview(chunk)
        while dst is not None and view:
            try:
                view = view[os.write(dst, view):]
            except OSError as exc:
                log.debug("relay write: %s; discarding further output", exc)
                dst = None


def _feed(source: IO[bytes], process: pyhcs.Process) -> None:
    """Our stdin -> the process's; at our end of file, close its stdin (both ends, as hcsshim CloseStdin)."""
    src = source.fileno()
    stdin = process.stdin
    try:
        while stdin is not None:
            try:
                chunk = os.read(src, 65536)
            except OSError:
                break
            if not chunk:
                break
            try:
                stdin.write(chunk)
            except (OSError, ValueError):
                return
        try:
            process.close_stdin()
        except (pyhcs.HcsError, OSError, ValueError):
            pass
    except Exception as exc:  # noqa: BLE001 - a relay thread must not die noisily on a closing process
        log.debug("stdin relay: %s", exc)


def _loads(data: bytes) -> Dict[str, Any]:
    import json

    value = json.loads(data.decode("utf-8"))
    return value if isinstance(value, dict) else {}


def _reply(conn: Any, message: Dict[str, Any]) -> None:
    import json

    try:
        conn.send_bytes(json.dumps(message).encode("utf-8"))
    except (OSError, EOFError):
        pass


# -- the helper as a process (the hidden ``shim`` command) ---------------------------------------------------------
def process_main(handshake_in: int, handshake_out: int, streams: Tuple[bool, bool, bool]) -> int:
    """The ``shim`` command: the handshake arrives on the inherited *handshake_in*/*handshake_out* (descriptors, or
    Win32 handles on Windows); the container's stdio is our own stdin/stdout/stderr for each stream *streams*
    selects. Private duplicates of those are taken for the relays and the originals pointed at the null device,
    so nothing else this process prints (a warning, a library's message) can reach the container's streams."""
    from .platform import fd_is_open, open_inherited

    files: List[Optional[IO[bytes]]] = []
    for fd, wanted in zip((0, 1, 2), streams):
        if wanted and fd_is_open(fd):
            dup = os.dup(fd)
            files.append(os.fdopen(dup, "rb" if fd == 0 else "wb", buffering=0))
        else:
            files.append(None)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        try:
            os.dup2(null, fd)
        except OSError:
            pass
    os.close(null)
    handshake = Channel(open_inherited(handshake_in, "rb"), open_inherited(handshake_out, "wb"))
    return run_shim(handshake, Stdio(files[0], files[1], files[2]))
