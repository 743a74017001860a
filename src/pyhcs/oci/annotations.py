"""The hcsshim annotations that change a process-isolated container's HCS document.

hcsshim (pkg/annotations/annotations.go) lets an annotation override the matching ``windows.resources`` value,
because CRI has no field for some of them. Each is read as hcsshim reads it (internal/oci/uvm.go
``ParseAnnotations*``: base-10, the Go width given here); a value of 0 means "not set" and falls back to the spec.
Where hcsshim logs "annotation value could not be parsed" and carries on, pyhcs reports the annotation as an error:
a resource limit you asked for and did not get is worse than a refusal.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

from ._fields import Fields
from .errors import FieldValueError

__all__ = [
    "CONTAINER_PROCESSOR_COUNT",
    "CONTAINER_PROCESSOR_LIMIT",
    "CONTAINER_PROCESSOR_WEIGHT",
    "CONTAINER_MEMORY_SIZE_IN_MB",
    "CONTAINER_STORAGE_QOS_BANDWIDTH_MAXIMUM",
    "CONTAINER_STORAGE_QOS_IOPS_MAXIMUM",
    "CONTAINER_PROCESS_DUMP_LOCATION",
    "WCOW_PROCESS_DUMP_TYPE",
    "WCOW_PROCESS_DUMP_COUNT",
    "WCOW_DISABLE_GMSA",
    "HOST_PROCESS_CONTAINER",
    "KUBERNETES_CONTAINER_TYPE",
    "KUBERNETES_SANDBOX_ID",
    "sandbox_annotations",
]

CONTAINER_PROCESSOR_COUNT = "io.microsoft.container.processor.count"
CONTAINER_PROCESSOR_LIMIT = "io.microsoft.container.processor.limit"
CONTAINER_PROCESSOR_WEIGHT = "io.microsoft.container.processor.weight"
CONTAINER_MEMORY_SIZE_IN_MB = "io.microsoft.container.memory.sizeinmb"
CONTAINER_STORAGE_QOS_BANDWIDTH_MAXIMUM = "io.microsoft.container.storage.qos.bandwidthmaximum"
CONTAINER_STORAGE_QOS_IOPS_MAXIMUM = "io.microsoft.container.storage.qos.iopsmaximum"
CONTAINER_PROCESS_DUMP_LOCATION = "io.microsoft.container.processdumplocation"
WCOW_PROCESS_DUMP_TYPE = "io.microsoft.wcow.processdumptype"
WCOW_PROCESS_DUMP_COUNT = "io.microsoft.wcow.processdumpcount"
WCOW_DISABLE_GMSA = "io.microsoft.container.wcow.gmsa.disable"
HOST_PROCESS_CONTAINER = "microsoft.com/hostprocess-container"
KUBERNETES_CONTAINER_TYPE = "io.kubernetes.cri.container-type"
KUBERNETES_SANDBOX_ID = "io.kubernetes.cri.sandbox-id"

_SIGNED = re.compile(r"[+-]?[0-9]+\Z")
_UNSIGNED = re.compile(r"[0-9]+\Z")
# Go strconv.ParseBool.
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_RULE = "hcsshim pkg/annotations"


def parse_int(fields: Fields, annotations: Dict[str, str], key: str, bits: int, signed: bool) -> Optional[int]:
    """The annotation as Go's strconv.Parse(U)Int(v, 10, bits) reads it; None when absent, recorded when bad."""
    if key not in annotations:
        return None
    text = annotations[key]
    pattern = _SIGNED if signed else _UNSIGNED
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    if not pattern.match(text) or not low <= int(text) <= high:
        kind = f"int{bits}" if signed else f"uint{bits}"
        fields.fail(FieldValueError, ("annotations", key), f"must be a base-10 {kind} ({low}..{high})", _RULE,
                    value=text)
        return None
    return int(text)


def parse_bool(fields: Fields, annotations: Dict[str, str], key: str) -> Optional[bool]:
    """The annotation as Go's strconv.ParseBool reads it."""
    if key not in annotations:
        return None
    text = annotations[key]
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    fields.fail(FieldValueError, ("annotations", key), "must be a boolean (true/false, 1/0, t/f)", _RULE, value=text)
    return None


def sandbox_annotations(annotations: Dict[str, str]) -> Tuple[str, bool]:
    """The pod a container belongs to, as runhcs reads it (cmd/runhcs/container.go parseSandboxAnnotations):
    ``(sandbox id, is the sandbox itself)``; ``("", False)`` for a container outside any pod. CRI, CRI-O and
    dockershim spell the annotations differently."""
    kind = annotations.get(KUBERNETES_CONTAINER_TYPE, "")
    sandbox = ""
    if kind:
        sandbox = annotations.get(KUBERNETES_SANDBOX_ID, "")
    else:
        kind = annotations.get("io.kubernetes.cri-o.ContainerType", "")
        if kind:
            sandbox = annotations.get("io.kubernetes.cri-o.SandboxID", "")
        else:
            kind = annotations.get("io.kubernetes.docker.type", "")
            if kind:
                sandbox = annotations.get("io.kubernetes.sandbox.id", "")
                if kind == "podsandbox":
                    kind = "sandbox"
    if kind == "container":
        return sandbox, False
    if kind == "sandbox":
        return sandbox, True
    return "", False
