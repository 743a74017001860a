"""pyhcs.oci: OCI runtime bundles -> HCS documents, for Windows Server containers: process-isolated
(:func:`container_document`) or hosted in a utility VM (:func:`hosted_container`, for :mod:`pyhcs.pod`).

Pure functions: nothing here calls HCS, so validators, linters and containerd-side tools can use it anywhere.

    bundle = pyhcs.oci.load_bundle("mybundle")                  # config.json, parsed
    document = pyhcs.oci.container_document(bundle.config, owner="me", bundle=bundle.path)
    params = pyhcs.oci.process_parameters(bundle.config["process"])
    with pyhcs.ComputeSystem.create("c1", document) as system:
        system.start()
        process = pyhcs.Process.create(system, document=params)

Every problem in a configuration is reported before anything runs, as a :class:`SpecError` subclass carrying the
JSON path, the value found and the rule broken (``err.errors`` lists all of them). Linux containers raise
:class:`UnsupportedError` (not supported yet); so does a ``windows.hyperv`` bundle given to
:func:`container_document` (use :func:`hosted_container`).
"""

from .argv import join_command_line, quote_argument, quote_program, split_command_line
from .annotations import sandbox_annotations
from .bundle import CONFIG_FILE, Bundle, load_bundle, load_json_file
from .errors import (
    BundleError,
    ConflictError,
    FieldTypeError,
    FieldValueError,
    MissingFieldError,
    OciError,
    SpecError,
    UnsupportedError,
)
from .process import command_line, process_parameters, validate_process
from .windows import (
    UTILITY_VM_MEMORY_SIZE_IN_MB,
    UTILITY_VM_PROCESSOR_COUNT,
    HostedContainer,
    container_document,
    credential_spec,
    hosted_container,
    isolation,
    layer_id,
    validate_config,
)

__all__ = [
    "Bundle",
    "HostedContainer",
    "BundleError",
    "CONFIG_FILE",
    "ConflictError",
    "FieldTypeError",
    "FieldValueError",
    "UTILITY_VM_MEMORY_SIZE_IN_MB",
    "UTILITY_VM_PROCESSOR_COUNT",
    "MissingFieldError",
    "OciError",
    "SpecError",
    "UnsupportedError",
    "command_line",
    "container_document",
    "credential_spec",
    "hosted_container",
    "isolation",
    "join_command_line",
    "layer_id",
    "load_bundle",
    "load_json_file",
    "process_parameters",
    "quote_argument",
    "quote_program",
    "sandbox_annotations",
    "split_command_line",
    "validate_config",
    "validate_process",
]
