"""config.json -> the ComputeSystem document of a process-isolated Windows Server container (HCS schema 2.1).

The mapping is hcsshim's (internal/hcsoci/hcsdoc_wcow.go createWindowsContainerDocument, resources_wcow.go,
create.go; internal/oci) for a "v2 Argon"; each rule below names the place it comes from. Everything is checked
before the document is returned, and every problem is reported with its JSON path (see :mod:`pyhcs.oci.errors`).

What the document does not carry, and why:

* Layers are not mounted here. ``root.path`` must already be the volume of the activated scratch layer (as
  containerd's snapshotter provides); hcsshim mounts them itself through vmcompute.dll's legacy layer API
  (ActivateLayer/PrepareLayer), which is not part of HCS's documented computecore/computestorage API.
* Network namespaces are not created: give ``networkNamespace`` (hcsshim creates one through HCN when only
  ``endpointList`` is given; pyhcs maps ``endpointList`` to ``Networking.NetworkAdapters``).
* A gMSA ``credentialSpec`` needs a Container Credential Guard instance from the HCS service first; pass its state
  as ``credential_guard`` (the CLI does this through ``pyhcs.modify_service_settings``).
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ._fields import Fields, Path, json_type
from .process import process_parameters
from .annotations import (
    CONTAINER_MEMORY_SIZE_IN_MB,
    CONTAINER_PROCESS_DUMP_LOCATION,
    CONTAINER_PROCESSOR_COUNT,
    CONTAINER_PROCESSOR_LIMIT,
    CONTAINER_PROCESSOR_WEIGHT,
    CONTAINER_STORAGE_QOS_BANDWIDTH_MAXIMUM,
    CONTAINER_STORAGE_QOS_IOPS_MAXIMUM,
    HOST_PROCESS_CONTAINER,
    WCOW_DISABLE_GMSA,
    WCOW_PROCESS_DUMP_COUNT,
    WCOW_PROCESS_DUMP_TYPE,
    parse_bool,
    parse_int,
)
from .errors import (
    SpecError,
    ConflictError,
    FieldTypeError,
    FieldValueError,
    MissingFieldError,
    UnsupportedError,
)

__all__ = [
    "Isolation",
    "HostedContainer",
    "UTILITY_VM_MEMORY_SIZE_IN_MB",
    "UTILITY_VM_PROCESSOR_COUNT",
    "container_document",
    "hosted_container",
    "credential_spec",
    "isolation",
    "layer_id",
    "validate_config",
]

Isolation = str
"""``"process"`` (Windows Server container), ``"hyperv"`` or ``"linux"``."""

SCHEMA_VERSION = {"Major": 2, "Minor": 1}  # hcsshim schemaversion.SchemaV21 for v2 Argon (create.go)
MIB = 1024 * 1024
INT32_MAX = 2 ** 31 - 1

# internal/hcsoci/hcsdoc_wcow.go: the volume GUID path of an activated scratch layer.
_VOLUME_GUID_PATH = re.compile(
    r"\\\\\?\\Volume\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}\\?\Z")
_GUID = re.compile(r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?\Z")
_PIPE_PREFIX = "\\\\.\\pipe\\"
_WINDOWS_ABSOLUTE = re.compile(r"[A-Za-z]:[\\/]")
# The namespace of layer_id's UUIDs: uuid5(NAMESPACE_URL, "pyhcs:oci:layer-id"), fixed forever.
_LAYER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "pyhcs:oci:layer-id")

R_CONFIG_ROOT = 'runtime-spec config.md "Root": on Windows, path MUST be a volume GUID path'
R_ROOT_REQUIRED = ('runtime-spec config.md "Root": REQUIRED for Windows Server containers; pyhcs does not activate '
                   'layers itself, so give the volume of the mounted scratch layer')
R_READONLY = 'runtime-spec config.md "Root": on Windows, readonly MUST be omitted or false'
R_LAYERS = ('runtime-spec config-windows.md "LayerFolders": ordered from topmost layer to base layer, the last '
            'entry being the scratch')
R_MOUNTS = 'runtime-spec config.md "Mounts" (Windows)'
R_CPU = ('runtime-spec config-windows.md "CPU": count, shares and maximum are mutually exclusive '
         '(hcsshim ConvertCPULimits)')
R_HYPERV = 'runtime-spec config-windows.md "HyperV"'
R_DEVICES = 'hcsshim internal/hcsoci parseAssignedDevices: idType class, vpci-class-guid or vpci-location-path'


def isolation(config: Mapping[str, Any]) -> Isolation:
    """How the bundle asks to be run (hcsshim internal/oci/util.go): ``linux`` present -> ``"linux"``;
    ``windows.hyperv`` present -> ``"hyperv"``; else ``"process"``. JSON null counts as absent."""
    if config.get("linux") is not None:
        return "linux"
    windows = config.get("windows")
    if isinstance(windows, dict) and windows.get("hyperv") is not None:
        return "hyperv"
    return "process"


def layer_id(path: str) -> str:
    """The ``Layer.Id`` GUID for a layer folder, derived from the folder's base name as hcsshim does
    (internal/wclayer LayerID: ``NameToGuid(filepath.Base(path))``).

    HCS's own NameToGuid lives in vmcompute.dll, outside the documented computecore API, and its algorithm is not
    published; pyhcs uses a name-based (version 5) UUID in a fixed namespace instead. The id only has to be stable
    for a given layer and distinct between layers; pass your own ``layer_id`` to :func:`container_document` (for
    example one calling vmcompute's NameToGuid) where it must equal the id a layer was prepared with."""
    return str(uuid.uuid5(_LAYER_NAMESPACE, _base_name(path)))


def _base_name(path: str) -> str:
    trimmed = path.rstrip("\\/")
    for sep in ("\\", "/"):
        trimmed = trimmed.rsplit(sep, 1)[-1]
    return trimmed or path


def credential_spec(config: Mapping[str, Any]) -> Optional[str]:
    """``windows.credentialSpec`` as the text a Container Credential Guard instance takes: a string as is
    (containerd and Docker write a string, and hcsshim only honours strings), an object (what the runtime-spec
    schema says) as its JSON text; None when absent."""
    windows = config.get("windows")
    if not isinstance(windows, dict):
        return None
    spec = windows.get("credentialSpec")
    if spec is None:
        return None
    if isinstance(spec, str):
        return spec or None
    import json

    return json.dumps(spec, separators=(",", ":"))


def _is_windows_absolute(path: str) -> bool:
    return bool(_WINDOWS_ABSOLUTE.match(path)) or path.startswith(("\\\\?\\", "\\\\.\\"))


def _host_join(bundle: Optional[str], path: str) -> str:
    """A host path made absolute against the bundle (runhcs createContainer: filepath.Join(cwd, f) when not
    absolute). Volume paths (``\\\\?\\``) stay as they are."""
    if bundle is None or path.startswith("\\\\") or os.path.isabs(path) or _is_windows_absolute(path):
        return path
    return os.path.join(bundle, path)


def _normalize_container_path(path: str) -> str:
    return path.replace("/", "\\").rstrip("\\").lower()


def validate_config(config: Mapping[str, Any], *, source: str = "config.json", **kwargs: Any) -> None:
    """Check *config* as :func:`container_document` does, without keeping the document."""
    container_document(config, source=source, **kwargs)


def container_document(
    config: Mapping[str, Any],
    *,
    owner: str = "pyhcs",
    container_id: Optional[str] = None,
    bundle: Optional[str] = None,
    layers: Optional[Sequence[str]] = None,
    layer_id: Callable[[str], str] = layer_id,
    host_processor_count: Optional[int] = None,
    network_namespace: Optional[str] = None,
    credential_guard: Optional[Mapping[str, Any]] = None,
    check_paths: bool = False,
    source: str = "config.json",
    hosted: bool = False,
) -> Dict[str, Any]:
    """The ComputeSystem document (a dict, see :class:`pyhcs.schema.ComputeSystem`) that runs the container
    *config* describes with process isolation. Raises a :class:`~pyhcs.oci.errors.SpecError` subclass listing
    every problem (``err.errors``) before anything else happens.

    owner: ``ComputeSystem.Owner`` (runhcs: ``--owner``, default "runhcs").
    container_id: substituted for ``{container_id}`` in a process dump location.
    bundle: the bundle directory, against which relative ``root.path``, ``windows.layerFolders`` and mount sources
    are made absolute (runhcs resolves them against the bundle it changed into).
    layers: layer folders (topmost first, scratch last) to use instead of ``windows.layerFolders`` -- for bundles
    that carry ``"layerFolders": null`` because the layers are passed another way (containerd).
    layer_id: folder path -> ``Layer.Id`` (default :func:`layer_id`).
    host_processor_count: processors a ``cpu.count`` is clamped to (hcsshim NormalizeProcessorCount; default
    ``os.cpu_count()``).
    network_namespace: overrides ``windows.network.networkNamespace`` (runhcs passes the namespace of the container
    named by ``networkSharedContainerName``).
    credential_guard: the ContainerCredentialGuardState to embed for a ``credentialSpec``.
    check_paths: also check the host: layer folders and mount sources exist, parents' ``layerchain.json`` agree
    with the order given, and mount sources are resolved through symlinks (hcsshim: HCS mis-resolves file paths
    through symlinks).
    hosted: check *config* for a container hosted in a utility VM instead (see :func:`hosted_container`, which
    is the way to ask for one): ``windows.hyperv`` is accepted, ``root`` is not used, and ``Storage.Layers``
    lists the host folders of the image layers, which the utility VM still has to be given.
    """
    f = Fields(source)
    if not isinstance(config, Mapping):
        f.fail(FieldTypeError, (), f"must be a JSON object, not {json_type(config)}", value=config)
        f.check()
    cfg = dict(config)

    kind = isolation(cfg)
    if kind == "linux":
        f.fail(UnsupportedError, ("linux",),
               "Linux containers (LCOW, a utility VM running a Linux guest) are not supported yet; only "
               "process-isolated Windows containers are", "hcsshim internal/oci IsLCOW")
    windows = f.get(cfg, "windows", (), "object", required=kind != "linux",
                    rule='runtime-spec config-windows.md: the "windows" section is REQUIRED for Windows containers')
    if kind == "hyperv" and not hosted:
        f.fail(UnsupportedError, ("windows", "hyperv"),
               "Hyper-V isolation runs the container in a utility VM: build its document with "
               "pyhcs.oci.hosted_container and create it in a pyhcs.pod.HypervPod (the runhcs CLI does both)",
               R_HYPERV, value=cfg["windows"]["hyperv"])
    if hosted and windows is not None:
        hyperv = f.get(windows, "hyperv", ("windows",), "object", null_ok=True)
        if hyperv:
            f.get(hyperv, "utilityVMPath", ("windows", "hyperv"), "string", null_ok=True)
    _check_oci_version(f, cfg)
    annotations = f.string_map(cfg, "annotations", (), rule='runtime-spec config.md "Annotations"')
    if parse_bool(f, annotations, HOST_PROCESS_CONTAINER):
        f.fail(UnsupportedError, ("annotations", HOST_PROCESS_CONTAINER),
               "host process (job object) containers are not supported yet", "hcsshim pkg/annotations",
               value=annotations[HOST_PROCESS_CONTAINER])

    container: Dict[str, Any] = {}
    hostname = f.get(cfg, "hostname", (), "string")
    if hostname:
        container["GuestOs"] = {"HostName": hostname}

    storage: Dict[str, Any] = {}
    container["Storage"] = storage
    resources = f.get(windows, "resources", ("windows",), "object", null_ok=True) if windows else None
    processor = _processor(f, windows, resources, annotations, host_processor_count)
    if processor:
        container["Processor"] = processor
    memory_mb = _memory(f, resources, annotations)
    if memory_mb:
        container["Memory"] = {"SizeInMB": memory_mb}
    qos = _storage_qos(f, resources, annotations)
    if qos:
        storage["QoS"] = qos
    if resources is not None:
        _unsupported_resources(f, resources)

    networking = _networking(f, windows, network_namespace)
    if networking is not None:
        container["Networking"] = networking

    spec_text = credential_spec(cfg)
    if windows is not None and windows.get("credentialSpec") is not None:
        value = windows["credentialSpec"]
        if not isinstance(value, (str, dict)):
            f.fail(FieldTypeError, ("windows", "credentialSpec"),
                   f"must be a JSON object or string, not {json_type(value)}", value=value)
    if spec_text and parse_bool(f, annotations, WCOW_DISABLE_GMSA):
        f.fail(ConflictError, ("windows", "credentialSpec"), "gMSA credentials are disabled by the annotation "
               f"{WCOW_DISABLE_GMSA}", "hcsshim internal/hcsoci validateContainerConfig")
    if spec_text and credential_guard is not None:
        container["ContainerCredentialGuard"] = dict(credential_guard)

    root_path = _root(f, cfg, "hyperv" if hosted else kind, bundle)
    if kind == "process" or hosted:
        parents = _layers(f, windows, layers, bundle, check_paths, layer_id)
        if parents is not None:
            storage["Layers"] = parents
        if root_path is not None:
            storage["Path"] = root_path

    mapped_dirs, mapped_pipes = _mounts(f, cfg, bundle, check_paths)
    if hosted and (mapped_dirs or mapped_pipes):
        f.fail(UnsupportedError, ("mounts",), "mounts into a container hosted in a utility VM (shared into the VM "
               "over VSMB first, as hcsshim does) are not supported yet", "hcsshim internal/hcsoci setupMounts",
               value=[m.get("destination") for m in cfg.get("mounts") or [] if isinstance(m, dict)])
    if mapped_dirs:
        container["MappedDirectories"] = mapped_dirs
    if mapped_pipes:
        container["MappedPipes"] = mapped_pipes

    devices = _devices(f, windows)
    if devices:
        container["AssignedDevices"] = devices

    container["RegistryChanges"] = {"AddValues": _registry_values(f, annotations, container_id)}

    if windows is not None:
        for key in ("servicing", "ignoreFlushesDuringBoot"):
            f.get(windows, key, ("windows",), "boolean", null_ok=True)

    if cfg.get("process") is not None:  # OPTIONAL at create, REQUIRED at start (config.md "Process")
        try:
            process_parameters(cfg["process"], source=source)
        except SpecError as exc:
            f.errors.extend(exc.errors)

    f.check()
    return {
        "Owner": owner,
        "SchemaVersion": dict(SCHEMA_VERSION),
        "Container": container,
        # hcsshim create.go (v2 Argon): HCS terminates the container when its last handle closes, so a runtime
        # that dies cannot leak a running container.
        "ShouldTerminateOnLastHandleClosed": True,
    }


# ----------------------------------------------------------------------------------------------------------------
def _check_oci_version(f: Fields, cfg: Dict[str, Any]) -> None:
    version = f.get(cfg, "ociVersion", (), "string", required=True,
                    rule='runtime-spec config.md "Specification version": REQUIRED')
    if version is not None and not re.match(
            r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
            r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?\Z", version):
        f.fail(FieldValueError, ("ociVersion",), "must be a SemVer 2.0.0 version such as 1.1.0",
               'runtime-spec config.md "Specification version"', value=version)


def _root(f: Fields, cfg: Dict[str, Any], kind: Isolation, bundle: Optional[str]) -> Optional[str]:
    root = f.get(cfg, "root", (), "object", null_ok=True)
    if kind != "process":
        return None
    if root is None:
        if cfg.get("root") is None:  # absent or null (a wrong type is already reported)
            f.fail(MissingFieldError, ("root",), "is required", R_ROOT_REQUIRED)
        return None
    if f.get(root, "readonly", ("root",), "boolean"):
        f.fail(FieldValueError, ("root", "readonly"), "read-only root filesystems are not supported for Windows "
               "containers", R_READONLY, value=True)
    path = f.get(root, "path", ("root",), "string", required=True, rule=R_CONFIG_ROOT)
    if path is None:
        return None
    if not _VOLUME_GUID_PATH.match(path):
        hint = ""
        if path and not path.startswith("\\\\?\\"):
            hint = " (this looks like a directory: mount the scratch layer and give its volume)"
        f.fail(FieldValueError, ("root", "path"), "must be a volume GUID path such as "
               "\\\\?\\Volume{ec84d99e-3f02-11e7-ac6c-00155d7682cf}\\" + hint, R_CONFIG_ROOT, value=path)
        return None
    return str(path) if path.endswith("\\") else str(path) + "\\"  # hcsshim adds it "to be nice to clients"


def _layers(f: Fields, windows: Optional[Dict[str, Any]], given: Optional[Sequence[str]], bundle: Optional[str],
            check_paths: bool, make_id: Callable[[str], str]) -> Optional[List[Dict[str, str]]]:
    path: Path = ("windows", "layerFolders")
    if given is not None:
        folders = list(given)
    else:
        read = f.strings(windows, "layerFolders", ("windows",), null_ok=True, rule=R_LAYERS)
        if read is not None:
            folders = read
        else:
            if windows is not None and windows.get("layerFolders") is None:  # absent or null
                how = "is null" if "layerFolders" in windows else "is missing"
                f.fail(MissingFieldError, path, f"{how}: a process-isolated container needs its image layers and a "
                       "scratch folder (pass them as `layers` when the bundle leaves them out)", R_LAYERS)
            return None
    if len(folders) < 2:
        f.fail(FieldValueError, path, "needs at least one image layer followed by the scratch folder (got "
               f"{len(folders)} entr{'y' if len(folders) == 1 else 'ies'})", R_LAYERS, value=folders)
        return None
    absolute = []
    seen: Dict[str, int] = {}
    for i, folder in enumerate(folders):
        if not folder:
            f.fail(FieldValueError, path + (i,), "must not be empty", R_LAYERS, value=folder)
            continue
        full = _host_join(bundle, folder)
        key = os.path.normcase(os.path.normpath(full)) if not full.startswith("\\\\") else full.lower()
        if key in seen:
            f.fail(FieldValueError, path + (i,), f"repeats layerFolders[{seen[key]}]", R_LAYERS, value=folder)
        seen[key] = i
        absolute.append(full)
        if check_paths and not os.path.isdir(full):
            f.fail(FieldValueError, path + (i,), "is not an existing directory" +
                   (" (the scratch folder)" if i == len(folders) - 1 else ""), R_LAYERS, value=folder)
    if len(absolute) != len(folders):
        return None
    parents = absolute[:-1]
    if check_paths:
        _check_layer_chains(f, absolute)
    return [{"Id": make_id(p), "Path": p} for p in parents]


def _check_layer_chains(f: Fields, folders: List[str]) -> None:
    """Each image layer folder written by HCS/containerd holds layerchain.json: the paths of its parents, topmost
    first (hcsshim internal/tools/uvmboot getLayerChain). A chain that disagrees with the order of layerFolders
    means the layers are misordered or from another image."""
    import json

    parents = folders[:-1]
    for i, folder in enumerate(parents):
        chain_file = os.path.join(folder, "layerchain.json")
        if not os.path.isfile(chain_file):
            continue
        try:
            with open(chain_file, encoding="utf-8") as fh:
                chain = json.load(fh)
        except (OSError, ValueError) as exc:
            f.fail(FieldValueError, ("windows", "layerFolders", i), f"has an unreadable layerchain.json ({exc})",
                   R_LAYERS, value=folder)
            continue
        expected = parents[i + 1:]
        if not isinstance(chain, list) or [_norm(c) for c in chain if isinstance(c, str)] != \
                [_norm(e) for e in expected]:
            f.fail(FieldValueError, ("windows", "layerFolders", i),
                   f"is misordered: its layerchain.json lists the parents {chain!r}, layerFolders gives "
                   f"{expected!r}", R_LAYERS, value=folder)


def _norm(path: str) -> str:
    return os.path.normcase(os.path.normpath(path)).replace("/", "\\").lower()


def _processor(f: Fields, windows: Optional[Dict[str, Any]], resources: Optional[Dict[str, Any]],
               annotations: Dict[str, str], host_count: Optional[int]) -> Dict[str, int]:
    cpu = f.get(resources, "cpu", ("windows", "resources"), "object", null_ok=True) if resources else None
    base: Path = ("windows", "resources", "cpu")
    spec_count = f.uint(cpu, "count", base, 64) if cpu else None
    spec_shares = f.uint(cpu, "shares", base, 16) if cpu else None
    spec_maximum = f.uint(cpu, "maximum", base, 16) if cpu else None
    values: Dict[str, Tuple[Optional[int], Path]] = {}
    for name, key, spec, spec_key in (("Count", CONTAINER_PROCESSOR_COUNT, spec_count, "count"),
                                      ("Maximum", CONTAINER_PROCESSOR_LIMIT, spec_maximum, "maximum"),
                                      ("Weight", CONTAINER_PROCESSOR_WEIGHT, spec_shares, "shares")):
        note = parse_int(f, annotations, key, 32, signed=True)
        if note is not None and note < 0:
            f.fail(FieldValueError, ("annotations", key), "must not be negative", "hcsshim pkg/annotations",
                   value=annotations[key])
            note = None
        if note:  # hcsshim ParseAnnotationsCPU*: a non-zero annotation wins over the spec
            values[name] = (note, ("annotations", key))
        elif spec:
            values[name] = (spec, base + (spec_key,))
    if len(values) > 1:
        found = " and ".join(f"{'/'.join(str(x) for x in p[-1:])} = {v}" for v, p in values.values())
        f.fail(ConflictError, base, f"count, maximum and shares are mutually exclusive; got {found}", R_CPU)
        return {}
    out: Dict[str, int] = {}
    for name, (value, where) in values.items():
        if value is None:
            continue
        if name == "Count":
            if value > INT32_MAX:
                f.fail(FieldValueError, where, "is larger than HCS accepts (int32)", R_CPU, value=value)
                continue
            limit = host_count if host_count is not None else (os.cpu_count() or 1)
            value = min(value, limit)  # hcsshim NormalizeProcessorCount
        elif name == "Maximum" and not 1 <= value <= 10000:
            f.fail(FieldValueError, where, "must be 1..10000 (percent of all processors x 100)",
                   'runtime-spec config-windows.md "CPU" maximum', value=value)
            continue
        elif name == "Weight" and not 1 <= value <= 10000:
            f.fail(FieldValueError, where, "must be 1..10000", 'runtime-spec config-windows.md "CPU" shares',
                   value=value)
            continue
        out[name] = value
    return out


def _memory(f: Fields, resources: Optional[Dict[str, Any]], annotations: Dict[str, str]) -> Optional[int]:
    note = parse_int(f, annotations, CONTAINER_MEMORY_SIZE_IN_MB, 64, signed=False)
    memory = f.get(resources, "memory", ("windows", "resources"), "object", null_ok=True) if resources else None
    limit = f.uint(memory, "limit", ("windows", "resources", "memory"), 64) if memory else None
    if note:
        return note
    if limit:
        if limit < MIB:
            # hcsshim divides by 1 MiB and silently drops a limit that rounds to 0 MB.
            f.fail(FieldValueError, ("windows", "resources", "memory", "limit"),
                   "is below 1 MiB; HCS takes whole megabytes (Memory.SizeInMB)",
                   'runtime-spec config-windows.md "Memory" limit (bytes)', value=limit)
            return None
        return limit // MIB
    return None


def _storage_qos(f: Fields, resources: Optional[Dict[str, Any]], annotations: Dict[str, str]) -> Dict[str, int]:
    storage = f.get(resources, "storage", ("windows", "resources"), "object", null_ok=True) if resources else None
    base: Path = ("windows", "resources", "storage")
    out: Dict[str, int] = {}
    for name, key, spec_key in (("BandwidthMaximum", CONTAINER_STORAGE_QOS_BANDWIDTH_MAXIMUM, "bps"),
                                ("IopsMaximum", CONTAINER_STORAGE_QOS_IOPS_MAXIMUM, "iops")):
        note = parse_int(f, annotations, key, 32, signed=True)
        spec = f.uint(storage, spec_key, base, 64) if storage else None
        if note is not None and note < 0:
            f.fail(FieldValueError, ("annotations", key), "must not be negative", "hcsshim pkg/annotations",
                   value=annotations[key])
            continue
        if note:
            out[name] = note
        elif spec:
            if spec > INT32_MAX:
                f.fail(FieldValueError, base + (spec_key,), "is larger than HCS accepts (StorageQoS is int32)",
                       'runtime-spec config-windows.md "Storage"', value=spec)
                continue
            out[name] = spec
    if storage is not None:
        f.uint(storage, "sandboxSize", base, 64)
    return out


def _unsupported_resources(f: Fields, resources: Dict[str, Any]) -> None:
    cpu = resources.get("cpu")
    if isinstance(cpu, dict) and cpu.get("affinity") not in (None, [], {}):
        f.fail(UnsupportedError, ("windows", "resources", "cpu", "affinity"),
               "CPU affinity is not supported yet (hcsshim applies it to the container's job object after "
               "creation, outside HCS)", "hcsshim internal/hcsoci/cpuaffinity.go", value=cpu["affinity"])


def _networking(f: Fields, windows: Optional[Dict[str, Any]], namespace_override: Optional[str]
                ) -> Optional[Dict[str, Any]]:
    if windows is None:
        return None
    network = f.get(windows, "network", ("windows",), "object", null_ok=True)
    if network is None:
        return None
    base: Path = ("windows", "network")
    out: Dict[str, Any] = {}
    endpoints = f.strings(network, "endpointList", base, null_ok=True)
    allow = f.get(network, "allowUnqualifiedDNSQuery", base, "boolean", null_ok=True)
    search = f.strings(network, "DNSSearchList", base, null_ok=True)
    shared = f.get(network, "networkSharedContainerName", base, "string", null_ok=True)
    namespace = f.get(network, "networkNamespace", base, "string", null_ok=True)
    rule = 'runtime-spec config-windows.md "Network"'
    if namespace and endpoints:
        f.fail(ConflictError, base + ("endpointList",), "must not be given with networkNamespace (\"if a network "
               "namespace is specified no other parameter must be specified\")", rule, value=endpoints)
    chosen = namespace_override or namespace
    if chosen:
        if not _GUID.match(chosen):
            f.fail(FieldValueError, base + ("networkNamespace",), "must be an HNS namespace GUID", rule, value=chosen)
        else:
            out["Namespace"] = chosen.strip("{}")
    if endpoints:
        for i, endpoint in enumerate(endpoints):
            if not _GUID.match(endpoint):
                f.fail(FieldValueError, base + ("endpointList", i), "must be an HNS endpoint GUID", rule,
                       value=endpoint)
        out["NetworkAdapters"] = [e.strip("{}") for e in endpoints]
    if allow:
        out["AllowUnqualifiedDnsQuery"] = True
    if search:
        out["DnsSearchList"] = ",".join(search)  # hcsshim: strings.Join(DNSSearchList, ",")
    if shared:
        out["NetworkSharedContainerName"] = shared
    return out


def _mounts(f: Fields, cfg: Dict[str, Any], bundle: Optional[str], check_paths: bool
            ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    mounts = f.get(cfg, "mounts", (), "array", null_ok=True)
    dirs: List[Dict[str, Any]] = []
    pipes: List[Dict[str, Any]] = []
    if not mounts:
        return dirs, pipes
    destinations: List[Tuple[str, int]] = []
    for i, mount in enumerate(mounts):
        base: Path = ("mounts", i)
        if not isinstance(mount, dict):
            f.fail(FieldTypeError, base, f"must be a JSON object, not {json_type(mount)}", value=mount)
            continue
        dest = f.get(mount, "destination", base, "string", required=True, rule=R_MOUNTS)
        src = f.get(mount, "source", base, "string", rule=R_MOUNTS)
        kind = f.get(mount, "type", base, "string", null_ok=True) or ""
        options = f.strings(mount, "options", base, null_ok=True) or []
        if dest is None:
            continue
        if not dest:
            f.fail(FieldValueError, base + ("destination",), "must not be empty", R_MOUNTS, value=dest)
            continue
        if not src:
            # hcsshim setupMounts: "a mount must have both source and a destination"
            f.fail(MissingFieldError if src is None else FieldValueError, base + ("source",),
                   "is required for a Windows mount (a host directory or named pipe)", R_MOUNTS,
                   **({} if src is None else {"value": src}))
            continue
        if kind in ("virtual-disk", "physical-disk", "extensible-virtual-disk"):
            f.fail(UnsupportedError, base + ("type",), "disk mounts need a utility VM (Hyper-V isolation), which is "
                   "not supported yet", "hcsshim internal/hcsoci setupMounts", value=kind)
            continue
        read_only = any(o.lower() == "ro" for o in options)  # hcsshim: strings.ToLower(o) == "ro"
        if src.startswith(_PIPE_PREFIX):
            if not dest.startswith(_PIPE_PREFIX):
                # hcsshim drops such a mount silently (createMountsConfig skips pipes, ParseNamedPipe wants both).
                f.fail(FieldValueError, base + ("destination",), "must be a named pipe path \\\\.\\pipe\\<name> "
                       "when the source is a named pipe", "hcsshim internal/uvm ParseNamedPipe", value=dest)
                continue
            pipes.append({"ContainerPipeName": dest[len(_PIPE_PREFIX):], "HostPath": src})
            continue
        if dest.startswith(_PIPE_PREFIX):
            f.fail(FieldValueError, base + ("source",), "must be a named pipe \\\\.\\pipe\\<name> when the "
                   "destination is a named pipe", "hcsshim internal/uvm ParseNamedPipe", value=src)
            continue
        if not _is_windows_absolute(dest):
            f.fail(FieldValueError, base + ("destination",), "must be an absolute Windows path such as C:\\data",
                   R_MOUNTS, value=dest)
            continue
        if src.startswith("\\\\") and not src.startswith(("\\\\?\\", "\\\\.\\")):
            f.fail(FieldValueError, base + ("source",), "UNC paths are not supported", R_MOUNTS, value=src)
            continue
        host = _host_join(bundle, src)
        if check_paths:
            if not os.path.exists(host):
                f.fail(FieldValueError, base + ("source",), "does not exist on the host", R_MOUNTS, value=src)
                continue
            host = os.path.realpath(host)  # hcsshim fs.ResolvePath: HCS mis-resolves file paths through symlinks
        normalized = _normalize_container_path(dest)
        for other, j in destinations:
            if normalized == other or normalized.startswith(other + "\\") or other.startswith(normalized + "\\"):
                f.fail(ConflictError, base + ("destination",), f"overlaps mounts[{j}].destination; one mount "
                       "destination MUST NOT be nested within another", R_MOUNTS, value=dest)
                break
        destinations.append((normalized, i))
        entry: Dict[str, Any] = {"HostPath": host, "ContainerPath": dest}
        if read_only:
            entry["ReadOnly"] = True
        dirs.append(entry)
    return dirs, pipes


def _devices(f: Fields, windows: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    devices = f.get(windows, "devices", ("windows",), "array", null_ok=True) if windows else None
    out: List[Dict[str, Any]] = []
    for i, device in enumerate(devices or []):
        base: Path = ("windows", "devices", i)
        if not isinstance(device, dict):
            f.fail(FieldTypeError, base, f"must be a JSON object, not {json_type(device)}", value=device)
            continue
        ident = f.get(device, "id", base, "string", required=True, rule=R_DEVICES)
        kind = f.get(device, "idType", base, "string", required=True, rule=R_DEVICES)
        if ident is None or kind is None:
            continue
        if kind == "vpci-location-path":
            out.append({"Type": "DeviceInstance", "LocationPath": ident})
        elif kind in ("class", "vpci-class-guid"):
            if not _GUID.match(ident):
                f.fail(FieldValueError, base + ("id",), "must be a device interface class GUID", R_DEVICES,
                       value=ident)
                continue
            out.append({"InterfaceClassGuid": ident.strip("{}")})
        else:
            f.fail(FieldValueError, base + ("idType",), "is not a supported device id type", R_DEVICES, value=kind)
    return out


def _registry_values(f: Fields, annotations: Dict[str, str], container_id: Optional[str]) -> List[Dict[str, Any]]:
    # hcsshim hcsdoc_wcow.go: servercore waits WaitToKillServiceTimeout (5 s) before killing a service on
    # shutdown; raising it lets a graceful container stop take the time the caller grants.
    values: List[Dict[str, Any]] = [{
        "Key": {"Hive": "System", "Name": "ControlSet001\\Control"},
        "Name": "WaitToKillServiceTimeout",
        "Type": "String",
        "StringValue": str(INT32_MAX),
    }]
    location = annotations.get(CONTAINER_PROCESS_DUMP_LOCATION)
    if not location:
        return values
    # hcsshim: a {container_id} (or {CONTAINER_ID}) suffix becomes the container's id.
    for suffix in ("{container_id}", "{CONTAINER_ID}"):
        if location.endswith(suffix) and container_id is not None:
            location = location[: -len(suffix)] + container_id
            break
    dump_type = {"": 2, "mini": 1, "full": 2}.get(annotations.get(WCOW_PROCESS_DUMP_TYPE, ""))
    if dump_type is None:
        f.fail(FieldValueError, ("annotations", WCOW_PROCESS_DUMP_TYPE), 'must be "mini" or "full"',
               "hcsshim hcsdoc_wcow.go parseDumpType", value=annotations[WCOW_PROCESS_DUMP_TYPE])
        dump_type = 2
    count = 10
    if annotations.get(WCOW_PROCESS_DUMP_COUNT):
        parsed = parse_int(f, annotations, WCOW_PROCESS_DUMP_COUNT, 32, signed=True)
        if parsed is not None and parsed <= 0:
            f.fail(FieldValueError, ("annotations", WCOW_PROCESS_DUMP_COUNT), "must be a positive number",
                   "hcsshim hcsdoc_wcow.go parseDumpCount", value=annotations[WCOW_PROCESS_DUMP_COUNT])
        elif parsed is not None:
            count = parsed
    key = {"Hive": "Software", "Name": "Microsoft\\Windows\\Windows Error Reporting\\LocalDumps"}
    values += [
        {"Key": dict(key), "Name": "DumpFolder", "Type": "String", "StringValue": location},
        {"Key": dict(key), "Name": "DumpType", "Type": "DWord", "DWordValue": dump_type},
        {"Key": dict(key), "Name": "DumpCount", "Type": "DWord", "DWordValue": count},
    ]
    return values


# ----------------------------------------------------------------------------------------------------------------
# containers hosted in a utility VM (Hyper-V isolation, pods, runhcs --host)

UTILITY_VM_MEMORY_SIZE_IN_MB = "io.microsoft.virtualmachine.computetopology.memory.sizeinmb"
"""The annotation that sizes a bundle's utility VM memory, in MB (hcsshim pkg/annotations); it wins over
``windows.resources.memory.limit``."""
UTILITY_VM_PROCESSOR_COUNT = "io.microsoft.virtualmachine.computetopology.processor.count"
"""The annotation that sets a bundle's utility VM processor count (hcsshim pkg/annotations); it wins over
``windows.resources.cpu.count``."""
SCRATCH_VHDX = "sandbox.vhdx"  # hcsshim: the scratch disk in the scratch layer folder (containerd's snapshotter)
_UVM_DEFAULT_MEMORY_MB = 1024  # hcsshim uvm.newDefaultOptions


@dataclass(frozen=True)
class HostedContainer:
    """What creating a container inside a utility VM takes, read from config.json (see :func:`hosted_container`).

    Hand ``container``, ``layers`` and ``scratch`` to :meth:`pyhcs.pod.HypervPod.add_workload`, which shares the
    layers into the VM, attaches the scratch and fills ``Storage``. The ``utility_vm_*`` values size the VM when
    this container's bundle is the one that creates it (runhcs: a ``windows.hyperv`` container or a pod sandbox)."""

    container: Dict[str, Any]
    """The ``Container`` document of ``HostedSystem``, without ``Storage.Layers`` / ``Storage.Path`` (guest paths
    the pod fills in)."""
    layers: List[str]
    """The image's read-only layer folders on the host, topmost first, base last (``windows.layerFolders``
    without the scratch folder)."""
    scratch_folder: str
    """The scratch layer folder (the last of ``windows.layerFolders``)."""
    utility_vm_memory_mb: int
    """The VM's memory: annotation ``io.microsoft.virtualmachine.computetopology.memory.sizeinmb``, else
    ``windows.resources.memory.limit`` in MiB, else 1024 (hcsshim internal/oci ParseAnnotationsMemory)."""
    utility_vm_processor_count: Optional[int]
    """The VM's processors: annotation ``io.microsoft.virtualmachine.computetopology.processor.count``, else
    ``windows.resources.cpu.count``, else None for hcsshim's default (ParseAnnotationsCPUCount)."""

    @property
    def scratch(self) -> str:
        """The container's scratch disk, ``<scratch folder>/sandbox.vhdx``, attached to the VM over SCSI."""
        return os.path.join(self.scratch_folder, SCRATCH_VHDX)

    @property
    def utility_vm_scratch(self) -> str:
        """The utility VM's own scratch disk when this bundle creates the VM: ``<scratch folder>/vm/sandbox.vhdx``
        (hcsshim internal/layers getVmbFSBootFiles: "vm" keeps it apart from the container's)."""
        return os.path.join(self.scratch_folder, "vm", SCRATCH_VHDX)


def hosted_container(
    config: Mapping[str, Any],
    *,
    owner: str = "pyhcs",
    container_id: Optional[str] = None,
    bundle: Optional[str] = None,
    layers: Optional[Sequence[str]] = None,
    layer_id: Callable[[str], str] = layer_id,
    host_processor_count: Optional[int] = None,
    network_namespace: Optional[str] = None,
    credential_guard: Optional[Mapping[str, Any]] = None,
    check_paths: bool = False,
    source: str = "config.json",
) -> HostedContainer:
    """*config* as a container hosted in a utility VM: a ``windows.hyperv`` bundle, a pod workload, or any Windows
    bundle placed in another container's VM (runhcs ``--host``). The arguments are :func:`container_document`'s.

    hcsshim's mapping (internal/hcsoci createWindowsContainerDocument with a HostingSystem, internal/layers
    mountHypervIsolatedWCIFSLayers): the same Container document as process isolation, except that the layers
    are shared into the VM and the scratch is ``sandbox.vhdx`` of the scratch folder, so ``root.path`` is not
    used. With *check_paths* the scratch disk must exist. Mounts are refused (not supported yet)."""
    document = container_document(config, owner=owner, container_id=container_id, bundle=bundle, layers=layers,
                                  layer_id=layer_id, host_processor_count=host_processor_count,
                                  network_namespace=network_namespace, credential_guard=credential_guard,
                                  check_paths=check_paths, source=source, hosted=True)
    container = document["Container"]
    storage = container.get("Storage") or {}
    parents = [entry["Path"] for entry in storage.pop("Layers", [])]
    if not storage:
        container.pop("Storage", None)
    cfg = dict(config)
    windows = cfg.get("windows") if isinstance(cfg.get("windows"), dict) else {}
    folders = list(layers) if layers is not None else list((windows or {}).get("layerFolders") or [])
    scratch_folder = _host_join(bundle, folders[-1])
    f = Fields(source)
    if check_paths and not os.path.isfile(os.path.join(scratch_folder, SCRATCH_VHDX)):
        f.fail(FieldValueError, ("windows", "layerFolders", len(folders) - 1),
               f"holds no {SCRATCH_VHDX}: a container hosted in a utility VM runs on the scratch disk of its scratch "
               "folder (containerd's snapshotter creates it)", "hcsshim internal/layers", value=folders[-1])
    annotations = {k: v for k, v in (cfg.get("annotations") or {}).items() if isinstance(v, str)}
    resources = (windows or {}).get("resources") if isinstance((windows or {}).get("resources"), dict) else {}
    memory = parse_int(f, annotations, UTILITY_VM_MEMORY_SIZE_IN_MB, 64, False)
    if not memory:
        limit = ((resources or {}).get("memory") or {}).get("limit")
        memory = int(limit) // MIB if isinstance(limit, int) and limit > 0 else None
    processors = parse_int(f, annotations, UTILITY_VM_PROCESSOR_COUNT, 32, True)
    if not processors or processors < 0:
        count = ((resources or {}).get("cpu") or {}).get("count")
        processors = int(count) if isinstance(count, int) and count > 0 else None
    f.check()
    return HostedContainer(container, parents, scratch_folder, memory or _UVM_DEFAULT_MEMORY_MB, processors)
