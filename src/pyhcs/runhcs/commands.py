"""The commands: create, start, run, exec, kill, delete, list, state, ps, pause, resume, resize-tty (and the
hidden shim). Each takes a :class:`Context` and raises CliError with runhcs's text, or ExitStatus.

The deliberate differences from runhcs and from the OCI runtime spec are listed in docs/cli.md ("Differences");
each is marked ``Choice:`` where it is made below.
"""

from __future__ import annotations

import copy
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Protocol, Tuple, Union

import pyhcs

from . import hcs, output
from .args import Parsed
from .channel import Channel
from .errors import INVALID_FORMAT, CliError, ExitStatus, container_is_stopped, not_found
from .platform import (
    fd_is_open,
    go_chdir_error,
    helper_interpreter,
    inheritable_handle,
    pipe,
    process_alive,
    process_token,
    spawn_detached,
)
from .signals import TERMINATE, InvalidSignal, windows_signal
from .state import Record, Store

if TYPE_CHECKING:
    from pyhcs import oci

    from .shim import ShimJob
    from .vmshim import VmJob

# pyhcs.oci and the helper's module load only for the commands that use them (create, run, exec, start, shim):
# state, list, kill and delete start faster (containerd runs them often; under Wine each module costs ~10 ms).

__all__ = ["Context", "Runtime", "Helper", "ProcessLauncher", "COMMANDS"]

SAFE_PIPE_PREFIX = "\\\\.\\pipe\\ProtectedPrefix\\Administrators\\"
#: The OCI runtime-spec version whose bundles and state this CLI speaks.
SPEC_VERSION = "1.3.0"
#: How long delete waits for a terminated compute system to report its exit.
TERMINATE_WAIT = 30.0
#: How long a kill that terminated the container's process waits for the container to stop.
KILL_WAIT = 10.0


class Helper(Protocol):
    """A started helper: its pid and process token (see platform.process_token), the handshake channel, and a
    way to wait for its exit code."""

    pid: int
    token: str
    channel: Channel

    def wait(self, timeout: Optional[float] = None) -> Optional[int]: ...


Launcher = Callable[["Context", str, Tuple[bool, bool, bool], str], Helper]
"""(context, container id, which of stdin/stdout/stderr to relay, --shim-log) -> a started helper."""
VmLauncher = Callable[["Context", str, str], Helper]
"""(context, id of the container that owns the VM, --vm-log) -> a started VM helper."""


@dataclass
class Runtime:
    """How helpers are started and recognised. The CLI uses processes; tests run helpers in threads."""

    launcher: Launcher
    alive: Callable[[int, str], bool] = process_alive
    vm_launcher: Optional[VmLauncher] = None  # None: ProcessVmLauncher
    lock_timeout: Optional[float] = None
    shutdown_timeout: Optional[float] = None


@dataclass
class Context:
    stdout: IO[bytes]
    stderr: IO[bytes]
    globals: Parsed
    store: Store
    runtime: Runtime
    cmd: Parsed = field(default_factory=lambda: Parsed({}, [], []))

    @property
    def owner(self) -> str:
        return str(self.globals["owner"])

    @property
    def args(self) -> List[str]:
        return self.cmd.args

    def write(self, text: str) -> None:
        self.stdout.write(text.encode("utf-8", "surrogatepass"))
        self.stdout.flush()

    def warn(self, text: str) -> None:
        self.stderr.write((text + "\n").encode("utf-8", "replace"))
        self.stderr.flush()


# -- helpers as processes ----------------------------------------------------------------------------------------
class _ProcessHelper:
    def __init__(self, popen: Any, channel: Channel) -> None:
        self.popen = popen
        self.pid: int = popen.pid
        self.token = process_token(popen.pid) or ""
        self.channel = channel

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        import subprocess

        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return int(code) if code >= 0 else 128 - int(code)  # killed by signal N: 128+N, as a shell reports


def _spawn_helper(ctx: Context, command: List[str], log_file: str, null_stdio: bool = False) -> Helper:
    """Start ``python -m pyhcs.runhcs <command...>`` detached (runhcs launchShim: its own executable) with the
    handshake pipes, logging to *log_file* when given."""
    to_child_r, to_child_w = pipe()
    to_parent_r, to_parent_w = pipe()
    interpreter, extra_env = helper_interpreter()
    argv = [interpreter, "-m", "pyhcs.runhcs", "--root", ctx.store.root]
    if log_file:
        argv += ["--log", log_file, "--log-format", str(ctx.globals["log-format"])]
        if ctx.globals["debug"]:
            argv.append("--debug")
    argv += [command[0], "--handshake-in", str(inheritable_handle(to_child_r)),
             "--handshake-out", str(inheritable_handle(to_parent_w))] + command[1:]
    try:
        env = dict(os.environ, **extra_env) if extra_env else None
        popen = spawn_detached(argv, (to_child_r, to_parent_w), env=env, null_stdio=null_stdio)
    except OSError as exc:
        for fd in (to_child_r, to_child_w, to_parent_r, to_parent_w):
            os.close(fd)
        raise CliError(f"cannot start the container's helper: {exc}") from None
    os.close(to_child_r)
    os.close(to_parent_w)
    return _ProcessHelper(popen, Channel(os.fdopen(to_parent_r, "rb", buffering=0),
                                         os.fdopen(to_child_w, "wb", buffering=0)))


def ProcessLauncher(ctx: Context, container_id: str, streams: Tuple[bool, bool, bool], shim_log: str) -> Helper:
    """Start ``python -m pyhcs.runhcs shim`` detached (runhcs launchShim: its own executable, ``shim``), with
    our stdio and the handshake pipes."""
    flags = [f"--{name}" for name, wanted in zip(("stdin", "stdout", "stderr"), streams) if wanted]
    return _spawn_helper(ctx, ["shim"] + flags + [container_id], shim_log)


def ProcessVmLauncher(ctx: Context, host_id: str, vm_log: str) -> Helper:
    """Start ``python -m pyhcs.runhcs vmshim <id>`` detached (runhcs startVMShim, logging to ``--vm-log``): the
    utility VM's helper. Its stdio is the null device: the VM outlives the container whose stdio create has."""
    return _spawn_helper(ctx, ["vmshim", host_id], vm_log, null_stdio=True)


# -- shared pieces ------------------------------------------------------------------------------------------------
def abs_path_or_pipe(value: str) -> str:
    """runhcs absPathOrEmpty: "" stays "", a \\\\.\\pipe\\ProtectedPrefix\\Administrators\\ path stays, others become
    absolute."""
    if not value or value.startswith(SAFE_PIPE_PREFIX):
        return value
    return os.path.abspath(value)


def std_streams(attached: bool) -> Tuple[bool, bool, bool]:
    """Which of our stdin/stdout/stderr the helper relays: those that exist (runhcs relays a stream only when the
    handle is there) -- except a terminal's input when the command does not wait for the process.

    Choice: runhcs relays its stdin whatever it is; from a terminal, after ``create``, ``run -d`` or ``exec -d``
    return, the helper and the shell would then both read the keyboard and the helper would take keystrokes meant
    for the shell. A terminal's input goes to the process only while the command waits for it (``run`` and
    ``exec`` without ``--detach``); pipes and files (go-runhcs, scripts) are relayed as runhcs does."""
    stdin = fd_is_open(0) and (attached or not _isatty(0))
    return stdin, fd_is_open(1), fd_is_open(2)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


@dataclass
class Inspection:
    record: Record
    alive: bool
    system: Optional[pyhcs.ComputeSystem]
    status: str

    @property
    def pid(self) -> int:
        """runhcs ContainerState.pid: the helper's pid while it runs, 0 once it has exited."""
        return int(self.record["shim"]["pid"]) if self.alive else 0


@contextmanager
def inspect(ctx: Context, record: Record, *, need_system: bool = True) -> Iterator[Inspection]:
    """The container's status now (and an open handle to its compute system while the block runs)."""
    shim = record.get("shim") or {}
    alive = bool(shim) and ctx.runtime.alive(int(shim.get("pid", 0)), str(shim.get("token", "")))
    system = hcs.open_system(record.id) if (alive and need_system) else None
    try:
        yield Inspection(record, alive, system, hcs.status_of(system, alive) if need_system else
                         ("running" if alive else "stopped"))
    finally:
        if system is not None:
            system.close()


@contextmanager
def not_stopped(ctx: Context, container_id: str) -> Iterator[Inspection]:
    """runhcs getContainer(id, notStopped=true): the record (or not found), and ``container is stopped`` when the
    helper has exited or HCS has no compute system.

    Choice: also when HCS reports the system ``Stopped`` while its helper is still recording the stop. runhcs then
    goes on to HCS and prints what HCS answers for a stopped system (an empty ps, an invalid-state error for
    pause), although ``state`` already says ``stopped``; pyhcs says what ``state`` says."""
    record = ctx.store.load(container_id)
    with inspect(ctx, record) as info:
        if info.system is None or info.status == "stopped":
            raise container_is_stopped()
        yield info


def state_document(info: Inspection) -> Dict[str, Any]:
    record = info.record
    return output.container_state(
        oci_version=str(record.get("ociVersion", "")), container_id=record.id, pid=info.pid, status=info.status,
        bundle=str(record.get("bundle", "")), rootfs=str(record.get("rootfs", "")),
        created_ns=int(record.get("created", 0)), annotations=record.get("annotations") or None,
        # Choice: runhcs always prints "" (it never reads the stored owner back); pyhcs prints the owner given
        # at create, the field's documented meaning.
        owner=str(record.get("owner", "")))


# -- create / run --------------------------------------------------------------------------------------------------
def _load_bundle(bundle_flag: str) -> oci.Bundle:
    from pyhcs import oci

    bundle = bundle_flag or os.getcwd()
    try:
        # runhcs chdirs into the bundle: its error is Go's "chdir <path>: <system message>".
        if not os.path.isdir(bundle):
            os.stat(os.path.join(bundle, "."))
    except OSError as exc:
        raise CliError(go_chdir_error(bundle_flag, exc)) from None
    try:
        return oci.load_bundle(bundle)
    except oci.BundleError as exc:
        raise CliError(str(exc)) from None


def _shared_namespace(ctx: Context, config: Dict[str, Any]) -> Optional[str]:
    """runhcs: networkSharedContainerName names a container whose network namespace this one joins."""
    network = (config.get("windows") or {}).get("network") if isinstance(config.get("windows"), dict) else None
    name = network.get("networkSharedContainerName") if isinstance(network, dict) else None
    if not name or not isinstance(name, str):
        return None
    other = ctx.store.get(name)
    return str(other["netns"]) if other and other.get("netns") else None


@dataclass
class Placement:
    """Where a new container's compute system goes and what creates it.

    * process isolation on this host: ``document`` (a ``Container`` ComputeSystem document);
    * hosted in a utility VM (``windows.hyperv``, a pod of a Hyper-V sandbox, ``--host``): ``hosted`` (what
      pyhcs.oci read for the VM), ``host_id`` the container that owns the VM, ``new_vm`` when this container is
      that owner (its create starts the VM helper), else ``vm`` the owner's VM helper."""

    document: Optional[Dict[str, Any]] = None
    hosted: Optional[oci.HostedContainer] = None
    sandbox_id: str = ""
    network_namespace: str = ""
    host_id: str = ""
    new_vm: bool = False
    vm: Dict[str, Any] = field(default_factory=dict)
    image_os: Optional[str] = None


def _pod_and_host(ctx: Context, container_id: str, annotations: Dict[str, str], vm_isolated: bool
                  ) -> Tuple[str, bool, str]:
    """runhcs createContainer's pod and host rules (cmd/runhcs/container.go), with its error texts: the sandbox id
    (or ""), whether this container is the sandbox, and the id of the container whose VM it goes into (or "")."""
    from pyhcs import oci

    sandbox_id, is_sandbox = oci.sandbox_annotations(annotations)
    host_id = str(ctx.cmd["host"] or "")
    if is_sandbox:
        if sandbox_id != container_id:
            raise CliError("sandbox ID must match ID")
    elif sandbox_id:
        sandbox = ctx.store.load(sandbox_id)
        if sandbox.get("sandboxId") != sandbox_id:
            raise CliError(f"container {sandbox_id} is not a sandbox")
        sandbox_host = str(sandbox.get("hostId") or "")
        if not host_id:
            host_id = sandbox_host
        elif not sandbox_host:
            raise CliError(f"sandbox container {sandbox_id} is not running in a VM host, but host {host_id} was "
                           "specified")
        elif host_id != sandbox_host:
            raise CliError(f"sandbox container {sandbox_id} has a different host {sandbox_host} from the "
                           f"requested host {host_id}")
        if vm_isolated and not host_id:
            raise CliError(f"container {sandbox_id} is not a VM isolated sandbox")
    return sandbox_id, is_sandbox, host_id


def _refusal(exc: BaseException) -> CliError:
    return CliError(" ".join(str(exc).split()))


def _placement(ctx: Context, container_id: str, bundle: oci.Bundle) -> Placement:
    """The container's Placement, every check made before a helper starts: the pod and host rules, the bundle,
    and -- where the host's and the image's versions are known -- pyhcs.compat's isolation rules, so an image HCS
    would refuse with 0xC0370101 is refused here with the rule and both versions."""
    from pyhcs import compat, oci, pod

    from .vmshim import known_host

    config = bundle.config
    annotations = config.get("annotations") if isinstance(config.get("annotations"), dict) else {}
    vm_isolated = oci.isolation(config) == "hyperv"
    sandbox_id, is_sandbox, host_id = _pod_and_host(ctx, container_id, annotations or {}, vm_isolated)
    placement = Placement(sandbox_id=sandbox_id)
    host = known_host()
    if host_id:
        owner = ctx.store.load(host_id)
        if not owner.get("isHost"):
            raise CliError(f"host container {host_id} is not a VM host")
        placement.host_id = host_id
        placement.vm = dict(owner.get("vm") or {})
        vm_os = owner.get("imageOs")
    elif vm_isolated:
        # runhcs: a Hyper-V container (or a Hyper-V pod sandbox) gets a utility VM of its own, which it owns.
        if host is not None and host.version.build_tuple < (10, 0, compat.RS5):
            raise CliError(f"Hyper-V isolated containers need a host of build {compat.RS5} (Windows Server 2019) "
                           f"or later: host {host.version} (runhcs runs them there as schema 1.0 \"v1\" "
                           "containers, which pyhcs does not)")
        placement.host_id, placement.new_vm = container_id, True
        vm_os = None
    namespace = _shared_namespace(ctx, config)
    try:
        if placement.host_id:
            placement.hosted = oci.hosted_container(config, owner=ctx.owner, container_id=container_id,
                                                    bundle=bundle.path, check_paths=True,
                                                    network_namespace=namespace)
            layers = placement.hosted.layers
        else:
            placement.document = oci.container_document(config, owner=ctx.owner, container_id=container_id,
                                                        bundle=bundle.path, check_paths=True,
                                                        network_namespace=namespace)
            layers = [layer["Path"] for layer in placement.document["Container"]["Storage"].get("Layers") or []]
    except oci.SpecError as exc:
        raise CliError(exc.one_line()) from None
    if placement.new_vm:
        assert placement.hosted is not None
        _check_vm_image(placement.hosted)
    try:
        image_os = pod.declared_os_version(layers)
        placement.image_os = str(image_os) if image_os is not None else None
        if host is not None and image_os is not None:
            if placement.new_vm:
                compat.check_isolation(host, image_os, compat.Isolation.HYPERV)
                if is_sandbox:
                    compat.check_pod_support(host, image_os, compat.Isolation.HYPERV)
            elif placement.host_id:
                if vm_os:  # the workload runs inside the VM's guest: its build must be the VM's
                    compat.check_pod_workload(host, compat.as_version(str(vm_os)), image_os,
                                              compat.Isolation.HYPERV)
            else:
                compat.check_isolation(host, image_os, compat.Isolation.PROCESS)
    except compat.CompatError as exc:
        raise _refusal(exc) from None
    if placement.document is not None:
        network = placement.document["Container"].get("Networking") or {}
    else:
        assert placement.hosted is not None
        network = placement.hosted.container.get("Networking") or {}
    placement.network_namespace = str(network.get("Namespace", ""))
    return placement


def _check_vm_image(hosted: oci.HostedContainer) -> None:
    """What the utility VM boots from, checked before it is asked for: an image layer with a UtilityVM folder, and
    the VM's scratch disk or the image's template to make it from (hcsshim internal/layers getVmbFSBootFiles)."""
    from pyhcs import pod

    try:
        folder = pod.find_utility_vm_folder(hosted.layers)
    except pod.PodConfigurationError:
        raise CliError("config.json: windows.layerFolders: no image layer holds a UtilityVM folder: a Hyper-V "
                       "isolated container boots a utility VM from its base image's UtilityVM\\Files") from None
    template = os.path.join(folder, "UtilityVM", "SystemTemplate.vhdx")
    if not os.path.exists(hosted.utility_vm_scratch) and not os.path.isfile(template):
        raise CliError(f"the utility VM's scratch disk {hosted.utility_vm_scratch} does not exist and the image has "
                       f"no {template} to make it from")


def _start_vm_helper(ctx: Context, container_id: str, placement: Placement) -> Tuple[Helper, Dict[str, Any]]:
    """Start the VM helper of a container that gets a utility VM of its own; its record entry."""
    from .shim import new_authkey
    from .vmshim import VmJob

    hosted = placement.hosted
    assert hosted is not None
    os.makedirs(os.path.dirname(hosted.utility_vm_scratch), exist_ok=True)
    job = VmJob(host_id=container_id, layers=hosted.layers, scratch=hosted.utility_vm_scratch,
                memory_mb=hosted.utility_vm_memory_mb, processor_count=hosted.utility_vm_processor_count,
                owner=ctx.owner, os_version=placement.image_os, authkey=new_authkey())
    launcher = ctx.runtime.vm_launcher or ProcessVmLauncher
    helper = launcher(ctx, container_id, abs_path_or_pipe(ctx.cmd["vm-log"]))
    reply = _handshake(helper, job)
    return helper, {"pid": helper.pid, "token": helper.token, "endpoint": reply["endpoint"],
                    "authkey": job.authkey}


def create_container(ctx: Context, container_id: str) -> Tuple[Record, Helper]:
    """create: check the bundle, start the init helper (and, for a container that gets a utility VM, the VM
    helper first), record the container. Returns the record and the helper (``run`` waits for it)."""
    from pyhcs import oci

    from .shim import ShimJob, new_authkey

    flags = ctx.cmd
    pid_file = abs_path_or_pipe(flags["pid-file"])
    shim_log = abs_path_or_pipe(flags["shim-log"])
    bundle = _load_bundle(flags["bundle"])
    config = bundle.config
    annotations = config.get("annotations") if isinstance(config.get("annotations"), dict) else {}
    placement = _placement(ctx, container_id, bundle)
    # run without --detach waits for the process (create has no --detach flag)
    streams = std_streams(attached="detach" in ctx.cmd.values and not ctx.cmd["detach"])
    root = config.get("root") if isinstance(config.get("root"), dict) else {}
    job = ShimJob(container_id=container_id, root=ctx.store.root, document=placement.document,
                  process=config.get("process"), stdin=streams[0], stdout=streams[1], stderr=streams[2],
                  authkey=new_authkey(), credential_spec=oci.credential_spec(config))
    if placement.hosted is not None:
        job.hosted = {"container": placement.hosted.container, "layers": placement.hosted.layers,
                      "scratch": placement.hosted.scratch, "osVersion": placement.image_os}
    if ctx.runtime.shutdown_timeout is not None:
        job.shutdown_timeout = ctx.runtime.shutdown_timeout
    with ctx.store.locked(container_id, ctx.runtime.lock_timeout):
        if ctx.store.exists(container_id):
            raise CliError(f"container {container_id} already exists")
        vm_helper: Optional[Helper] = None
        vm: Dict[str, Any] = placement.vm
        if placement.new_vm:
            vm_helper, vm = _start_vm_helper(ctx, container_id, placement)
        elif placement.host_id and not (vm and ctx.runtime.alive(int(vm.get("pid", 0)), str(vm.get("token", "")))):
            raise CliError(f"VM {placement.host_id} cannot be contacted")  # runhcs noVMError
        if placement.host_id:
            job.vm_endpoint, job.vm_authkey = str(vm["endpoint"]), str(vm["authkey"])
        try:
            helper = ctx.runtime.launcher(ctx, container_id, streams, shim_log)
            reply = _handshake(helper, job)
        except BaseException:
            if vm_helper is not None:
                vm_helper.channel.close()  # no commit: the VM helper tears its VM down
            raise
        record = {
            "id": container_id, "owner": ctx.owner, "bundle": bundle.path, "rootfs": (root or {}).get("path", ""),
            "created": time.time_ns(), "ociVersion": config.get("ociVersion", ""), "annotations": annotations or {},
            "spec": config, "sandboxId": placement.sandbox_id, "netns": placement.network_namespace,
            "hostId": placement.host_id, "isHost": placement.new_vm, "imageOs": placement.image_os,
            "shim": {"pid": helper.pid, "token": helper.token, "endpoint": reply["endpoint"],
                     "authkey": job.authkey},
        }
        if placement.new_vm:
            record["vm"] = vm
        try:
            saved = ctx.store.create(record)
        except BaseException:
            helper.channel.close()  # the helper sees no commit and removes the compute system
            if vm_helper is not None:
                vm_helper.channel.close()
            raise
        try:
            if pid_file:
                output.write_pid_file(pid_file, helper.pid)
            helper.channel.send({"commit": True})
            if vm_helper is not None:
                vm_helper.channel.send({"commit": True})
        except OSError as exc:
            ctx.store.remove(container_id)
            helper.channel.close()
            if vm_helper is not None:
                vm_helper.channel.close()
            if isinstance(exc, BrokenPipeError):
                raise CliError(f"unknown shim failure, exit code {helper.wait(10)}") from None
            raise CliError(f"writing the pid file {pid_file}: {exc.strerror or exc}") from None
        helper.channel.close()
        if vm_helper is not None:
            vm_helper.channel.close()
        return saved, helper


def _handshake(helper: Helper, job: Union[ShimJob, VmJob]) -> Dict[str, Any]:
    """Send the job; the helper's ready reply, or its error as a CliError (runhcs GetErrorFromPipe)."""
    try:
        helper.channel.send(job.to_message())
        reply = helper.channel.recv()
    except (OSError, ValueError):
        reply = None
    if reply is None:
        helper.channel.close()
        # runhcs's words when the helper dies without telling why (hcsshim#2156).
        raise CliError(f"unknown shim failure, exit code {helper.wait(30)}")
    if not reply.get("ok"):
        helper.channel.close()
        helper.wait(30)
        raise CliError(str(reply.get("error") or "unknown shim failure"))
    return reply


def cmd_create(ctx: Context) -> None:
    create_container(ctx, ctx.args[0])


def _start(ctx: Context, record: Record) -> None:
    """start, the container's lock held."""
    with inspect(ctx, record) as info:
        status = info.status
    if status == "created":
        spec = record.get("spec") or {}
        if spec.get("process") is None:
            # Choice (OCI): config.md: process "is REQUIRED when start is called", runtime.md: start MUST
            # generate an error when it is not set. runhcs starts the system and runs nothing.
            raise CliError("cannot start a container without a process: config.json has no \"process\" "
                           "(runtime-spec config.md: process is REQUIRED when start is called)")
        from .shim import start_request

        shim = record["shim"]
        reply = start_request(str(shim["endpoint"]), str(shim["authkey"]))
        if not reply.get("ok"):
            raise CliError(str(reply.get("error") or "the container's helper did not start it"))
        record["initPid"] = int(reply["pid"])
        ctx.store.save(record)
    elif status == "stopped":
        raise CliError("cannot start a container that has stopped")
    elif status == "running":
        raise CliError("cannot start an already running container")
    else:
        raise CliError(f"cannot start a container in the '{status}' state")


def cmd_start(ctx: Context) -> None:
    container_id = ctx.args[0]
    with ctx.store.locked(container_id, ctx.runtime.lock_timeout, existing=True):
        _start(ctx, ctx.store.load(container_id))


def cmd_run(ctx: Context) -> None:
    container_id = ctx.args[0]
    record, helper = create_container(ctx, container_id)
    with ctx.store.locked(container_id, ctx.runtime.lock_timeout, existing=True):
        current = ctx.store.get(container_id)
        if current is None:
            raise not_found(container_id)
        _start(ctx, current)
    if ctx.cmd["detach"]:
        return
    code = helper.wait()
    # runhcs run: wait for the helper, remove the container, exit with the process's code.
    with ctx.store.locked(container_id, ctx.runtime.lock_timeout, existing=True):
        current = ctx.store.get(container_id)
        if current is not None:
            _remove(ctx, current)
    raise ExitStatus(code if code is not None else 1)


# -- exec -----------------------------------------------------------------------------------------------------------
def _exec_process(ctx: Context, record: Record) -> Tuple[Dict[str, Any], str]:
    """The process to exec (and the file name errors are reported against): from -p, or the container's process
    with the command line's args and --cwd/--env/--tty/--user (runhcs getProcessSpec)."""
    from pyhcs import oci

    path = ctx.cmd["process"]
    if path:
        try:
            spec = oci.load_json_file(path, os.path.basename(path))
        except oci.BundleError as exc:
            raise CliError(str(exc)) from None
        # runhcs validateProcessSpec, its words first.
        cwd = spec.get("cwd")
        if not cwd:
            raise CliError("cwd property must not be empty")
        if not isinstance(cwd, str) or not (os.path.isabs(cwd) or cwd.startswith("/") or
                                            (len(cwd) > 2 and cwd[1] == ":" and cwd[2] in "\\/")):
            raise CliError("cwd must be an absolute path")
        if not spec.get("args") and not spec.get("commandLine"):
            raise CliError("args must not be empty")
        return spec, os.path.basename(path)
    if len(ctx.args) == 1:
        raise CliError("process args cannot be empty")
    base = (record.get("spec") or {}).get("process")
    spec = copy.deepcopy(base) if isinstance(base, dict) else {}
    spec["args"] = ctx.args[1:]
    # Choice: the command line given to exec replaces the container's commandLine too (runhcs keeps a
    # commandLine from config.json, which then wins over the args you typed).
    spec.pop("commandLine", None)
    if ctx.cmd["cwd"]:
        spec["cwd"] = ctx.cmd["cwd"]
    spec["env"] = list(spec.get("env") or []) + list(ctx.cmd["env"])
    if ctx.cmd.is_set("tty"):
        spec["terminal"] = bool(ctx.cmd["tty"])
    if ctx.cmd["user"]:
        user = spec.get("user") if isinstance(spec.get("user"), dict) else {}
        spec["user"] = dict(user or {}, username=ctx.cmd["user"])
    return spec, "config.json"


def cmd_exec(ctx: Context) -> None:
    from pyhcs import oci

    from .shim import ShimJob

    container_id = ctx.args[0]
    pid_file = abs_path_or_pipe(ctx.cmd["pid-file"])
    shim_log = abs_path_or_pipe(ctx.cmd["shim-log"])
    with ctx.store.locked(container_id, ctx.runtime.lock_timeout, existing=True):
        record = ctx.store.load(container_id)
        with inspect(ctx, record) as info:
            if info.status != "running":
                raise container_is_stopped()
        spec, source = _exec_process(ctx, record)
        streams = std_streams(attached=not ctx.cmd["detach"])
        try:  # every problem before a helper starts
            oci.process_parameters(spec, path=() if ctx.cmd["process"] else ("process",), source=source,
                                   stdin=streams[0], stdout=streams[1], stderr=streams[2])
        except oci.SpecError as exc:
            raise CliError(exc.one_line()) from None
        job = ShimJob(container_id=container_id, root=ctx.store.root, exec=True, process=spec,
                      stdin=streams[0], stdout=streams[1], stderr=streams[2])
        helper = ctx.runtime.launcher(ctx, container_id, streams, shim_log)
        reply = _handshake(helper, job)
        execs = dict(record.get("execs") or {})
        execs[str(helper.pid)] = int(reply["pid"])
        record["execs"] = execs
        ctx.store.save(record)
        if pid_file:
            output.write_pid_file(pid_file, helper.pid)
    if not ctx.cmd["detach"]:
        code = helper.wait()
        raise ExitStatus(code if code is not None else 1)


# -- kill / delete ----------------------------------------------------------------------------------------------------
def _terminate_system(system: pyhcs.ComputeSystem) -> None:
    try:
        system.terminate()
    except (pyhcs.HcsAlreadyStoppedError, pyhcs.HcsInvalidStateError, pyhcs.HcsNotFoundError):
        pass
    except pyhcs.HcsError as exc:
        raise hcs.system_error("hcs::System::Terminate", system.id, exc) from None
    try:
        system.wait(TERMINATE_WAIT)
    except pyhcs.HcsError:
        pass


def cmd_kill(ctx: Context) -> None:
    container_id = ctx.args[0]
    signal = ctx.args[1] if len(ctx.args) > 1 else ""
    with ctx.store.locked(container_id, ctx.runtime.lock_timeout, existing=True):
        terminated = _kill(ctx, container_id, signal)
    if terminated:
        # Choice: a kill that terminates returns once the container is stopped (runhcs returns at once, while its
        # shim is still shutting the system down), so `kill <id> KILL && delete <id>` works as a script expects.
        # The wait is outside the lock: the helper takes it to record the exit.
        system = hcs.open_system(container_id)
        if system is not None:
            with system:
                try:
                    system.wait(KILL_WAIT)
                except pyhcs.HcsError:
                    pass  # still stopping after KILL_WAIT (or gone): the kill itself is done


def _kill(ctx: Context, container_id: str, signal: str) -> bool:
    """kill, the container's lock held; whether it terminated the init process (or the created system)."""
    with not_stopped(ctx, container_id) as info:
        system = info.system
        assert system is not None
        supported = _signals_supported(info.record)
        try:
            hcs_signal = windows_signal(signal) if supported else TERMINATE
        except InvalidSignal as exc:
            if info.status not in ("running", "created"):
                raise container_is_stopped() from None
            raise CliError(str(exc)) from None
        if info.status == "created":
            # Choice (OCI): runtime.md kill / runtime-tools "kill" expect a created container to stop. runhcs
            # refuses ("container is stopped": there is no process yet); pyhcs terminates the compute system.
            _terminate_system(system)
            return False
        if info.status != "running":
            raise container_is_stopped()
        pid = int(info.record.get("initPid") or 0)
        try:
            process = system.open_process(pid)
        except (pyhcs.HcsNotFoundError, pyhcs.HcsAlreadyStoppedError):
            raise container_is_stopped() from None
        except pyhcs.HcsError as exc:
            raise hcs.system_error("hcs::System::OpenProcess", container_id, exc) from None
        with process:
            spec_process = (info.record.get("spec") or {}).get("process") or {}
            # runhcs: KILL terminates; so does any signal to a process with a terminal (its console would
            # swallow the control event).
            terminate = hcs_signal is TERMINATE or bool(spec_process.get("terminal"))
            try:
                if terminate or hcs_signal is None:
                    process.terminate()
                else:
                    process.signal(hcs_signal)
            except (pyhcs.HcsNotFoundError, pyhcs.HcsAlreadyStoppedError):
                raise container_is_stopped() from None
            except pyhcs.HcsError as exc:
                op = "hcs::Process::Kill" if terminate else "hcs::Process::Signal"
                raise hcs.process_error(op, container_id, pid, exc) from None
        return terminate


def _signals_supported(record: Record) -> bool:
    """runhcs kill: a container in a utility VM takes signals when the VM's guest says so
    (GuestConnectionInfo.GuestDefinedCapabilities.SignalProcessSupported); a process-isolated one always does
    (pyhcs runs on RS5 and later). Without signals every kill terminates, whatever signal was named."""
    host_id = str(record.get("hostId") or "")
    if not host_id:
        return True
    from pyhcs import pod

    vm = hcs.open_system(pod.utility_vm_id(host_id))
    if vm is None:
        return False
    with vm:
        try:
            info = vm.properties(["GuestConnection"]).get("GuestConnectionInfo") or {}
        except pyhcs.HcsError:
            return False  # runhcs: a failed query means no signals
    capabilities = info.get("GuestDefinedCapabilities") or {}
    return bool(capabilities.get("SignalProcessSupported")) if isinstance(capabilities, dict) else False


def _remove(ctx: Context, record: Record) -> None:
    """Terminate whatever is left of the compute system (an orphan too: its helper died) and drop the record. A
    container in a utility VM: its VM helper releases what the VM held for it. The owner of a utility VM: then
    every other container in the VM, then the VM (runhcs Remove: "delay tearing down the VM until the owning
    container is removed")."""
    system = hcs.open_system(record.id)
    if system is not None:
        with system:
            _terminate_system(system)
    host_id = str(record.get("hostId") or "")
    if record.get("isHost"):
        _remove_vm(ctx, record)
    elif host_id:
        owner = ctx.store.get(host_id)
        vm: Dict[str, Any] = dict(owner.get("vm") or {}) if owner is not None else {}
        if vm and ctx.runtime.alive(int(vm.get("pid", 0)), str(vm.get("token", ""))):
            from .vmshim import vm_request

            vm_request(vm, {"op": "remove", "id": record.id})  # best effort: it also notices the stop itself
    ctx.store.remove(record.id)


def _remove_vm(ctx: Context, record: Record) -> None:
    """Tear down the utility VM a container owns: through its helper (the containers in it, the last created
    first, then the VM), and whatever is left -- its helper died -- directly, in the same order."""
    from pyhcs import pod

    from .vmshim import vm_request

    vm = record.get("vm") or {}
    if vm and ctx.runtime.alive(int(vm.get("pid", 0)), str(vm.get("token", ""))):
        vm_request(vm, {"op": "shutdown"})
    vm_id = pod.utility_vm_id(record.id)
    try:
        hosted = [str(p.get("Id")) for p in pyhcs.ComputeSystem.enumerate() if p.get("HostingSystemId") == vm_id]
    except pyhcs.HcsError as exc:
        raise hcs.system_error("hcs::EnumerateComputeSystems", vm_id, exc) from None
    for system_id in hosted:
        system = hcs.open_system(system_id)
        if system is not None:
            with system:
                _terminate_system(system)
    system = hcs.open_system(vm_id)
    if system is not None:
        with system:
            _terminate_system(system)


def cmd_delete(ctx: Context) -> None:
    container_id = ctx.args[0]
    force = bool(ctx.cmd["force"])
    with ctx.store.locked(container_id, ctx.runtime.lock_timeout, existing=True):
        # runhcs: an unknown id fails even with --force.
        record = ctx.store.load(container_id)
        with inspect(ctx, record) as info:
            status = info.status
        if status not in ("stopped", "created") and not force:
            # Choice (runhcs, runc): a created container is deleted without --force (runtime-spec says delete of
            # a container that is not stopped MUST fail; containerd relies on deleting created containers).
            raise CliError(f"cannot delete container {container_id} that is not stopped: {status}")
        _remove(ctx, record)


# -- queries ----------------------------------------------------------------------------------------------------------
def cmd_state(ctx: Context) -> None:
    record = ctx.store.load(ctx.args[0])
    with inspect(ctx, record) as info:
        document = state_document(info)
    text = output.go_json(document, indent="  ")  # runhcs: MarshalIndent, no newline
    if _is_terminal(ctx.stdout):
        # Choice: on a terminal, end the line so the prompt (or the next command's output) starts on its own line;
        # piped or redirected -- go-runhcs, scripts -- the bytes are runhcs's.
        text += "\n"
    ctx.write(text)


def _is_terminal(stream: IO[bytes]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def cmd_list(ctx: Context) -> None:
    states = []
    for container_id in ctx.store.ids():
        try:
            record = ctx.store.load(container_id)
        except CliError as exc:
            ctx.warn(f"reading state for {container_id}: {exc.message}")
            continue
        try:
            with inspect(ctx, record) as info:
                states.append(state_document(info))
        except CliError as exc:
            ctx.warn(f"reading status for {container_id}: {exc.message}")
    if ctx.cmd["quiet"]:
        ctx.write("".join(f"{s['id']}\n" for s in states))
        return
    fmt = ctx.cmd["format"]
    if fmt == "table":
        ctx.write(output.list_table(states))
    elif fmt == "json":
        ctx.write(output.go_json(states or None) + "\n")  # Go encodes an empty (nil) slice as null
    else:
        raise CliError(INVALID_FORMAT)


def cmd_ps(ctx: Context) -> None:
    with not_stopped(ctx, ctx.args[0]) as info:
        assert info.system is not None
        pids = hcs.process_ids(info.system)
    if ctx.cmd["format"] != "json":
        raise CliError(INVALID_FORMAT)
    ctx.write(output.go_json(pids or None) + "\n")


def _pause_resume(ctx: Context, operation: str) -> None:
    container_id = ctx.args[0]
    with ctx.store.locked(container_id, ctx.runtime.lock_timeout, existing=True):
        with not_stopped(ctx, container_id) as info:
            system = info.system
            assert system is not None
            try:
                system.pause() if operation == "Pause" else system.resume()
            except pyhcs.HcsError as exc:
                raise hcs.system_error(f"hcs::System::{operation}", container_id, exc) from None


def cmd_pause(ctx: Context) -> None:
    _pause_resume(ctx, "Pause")


def cmd_resume(ctx: Context) -> None:
    _pause_resume(ctx, "Resume")


def cmd_resize_tty(ctx: Context) -> None:
    container_id, width, height = ctx.args[0], int(ctx.args[1]), int(ctx.args[2])
    with not_stopped(ctx, container_id) as info:
        system = info.system
        assert system is not None
        helper_pid = int(ctx.cmd["pid"])
        if helper_pid == 0:
            pid = info.record.get("initPid")
            key = "pid"
        else:
            # --pid names an exec helper (the pid its --pid-file holds), mapped to its process's HCS pid.
            pid = (info.record.get("execs") or {}).get(str(helper_pid))
            key = f"pid-{helper_pid}"
        if pid is None:
            raise CliError(f"state '{key}' is not present for ID '{container_id}'")  # runhcs regstate NoStateError
        try:
            process = system.open_process(int(pid))
        except pyhcs.HcsError as exc:
            raise hcs.system_error("hcs::System::OpenProcess", container_id, exc) from None
        with process:
            try:
                process.resize_console(width=width, height=height)
            except pyhcs.HcsError as exc:
                raise hcs.process_error("hcs::Process::ResizeConsole", container_id, int(pid), exc) from None


def cmd_create_scratch(ctx: Context) -> None:
    if not ctx.cmd["destpath"]:
        raise CliError("'destpath' is required")
    raise CliError("create-scratch formats a scratch disk inside a Linux utility VM (LCOW): "
                   "Linux containers are not supported yet")


def cmd_prepare_disk(ctx: Context) -> None:
    if not ctx.cmd["destpath"]:
        raise CliError("'destpath' is required")
    raise CliError("prepare-disk formats a disk inside a Linux utility VM (LCOW): Linux containers are not "
                   "supported yet")


def cmd_vmshim(ctx: Context) -> None:
    from .vmshim import process_main

    raise ExitStatus(process_main(int(ctx.cmd["handshake-in"]), int(ctx.cmd["handshake-out"])))


def cmd_shim(ctx: Context) -> None:
    from .shim import process_main

    flags = ctx.cmd
    code = process_main(int(flags["handshake-in"]), int(flags["handshake-out"]),
                        (bool(flags["stdin"]), bool(flags["stdout"]), bool(flags["stderr"])))
    raise ExitStatus(code)


COMMANDS: Dict[str, Callable[[Context], None]] = {
    "create": cmd_create,
    "create-scratch": cmd_create_scratch,
    "delete": cmd_delete,
    "exec": cmd_exec,
    "kill": cmd_kill,
    "list": cmd_list,
    "pause": cmd_pause,
    "prepare-disk": cmd_prepare_disk,
    "ps": cmd_ps,
    "resize-tty": cmd_resize_tty,
    "resume": cmd_resume,
    "run": cmd_run,
    "shim": cmd_shim,
    "start": cmd_start,
    "state": cmd_state,
    "vmshim": cmd_vmshim,
}
