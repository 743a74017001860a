"""config.json -> a container hosted in a utility VM (pyhcs.oci.hosted_container), rule by rule.

Sources: hcsshim internal/hcsoci createWindowsContainerDocument with a HostingSystem (the same Container document,
storage in the VM), internal/layers getVmbFSBootFiles / mountHypervIsolatedWCIFSLayers (the scratch sandbox.vhdx, the
VM's own scratch under "vm"), internal/oci/uvm.go ParseAnnotationsMemory / ParseAnnotationsCPUCount (the VM's size),
pkg/annotations (the annotation names).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict

import pytest

from pyhcs import oci
from pyhcs.oci import FieldValueError, SpecError, UnsupportedError, hosted_container
from tests.oci.samples import windows_config


def hyperv_config(**kw: Any) -> Dict[str, Any]:
    config = windows_config(**kw)
    config["windows"]["hyperv"] = {}
    config.pop("root", None)
    return config


def test_a_hyperv_bundle_gives_the_container_document_without_host_storage() -> None:
    hosted = hosted_container(hyperv_config(), owner="runhcs")
    assert hosted.layers == ["C:\\layers\\top", "C:\\layers\\base"]  # shared into the VM by the pod
    assert hosted.scratch_folder == "C:\\scratch"
    assert hosted.scratch == os.path.join(hosted.scratch_folder, "sandbox.vhdx")
    assert hosted.utility_vm_scratch == os.path.join(hosted.scratch_folder, "vm", "sandbox.vhdx")
    assert "Layers" not in (hosted.container.get("Storage") or {})
    assert "Path" not in (hosted.container.get("Storage") or {})
    assert (hosted.utility_vm_memory_mb, hosted.utility_vm_processor_count) == (1024, None)  # hcsshim defaults


def test_a_process_bundle_can_be_hosted_too_and_its_root_is_not_used() -> None:
    """runhcs --host places any Windows bundle in a VM: root.path (a host volume) plays no part there."""
    hosted = hosted_container(windows_config())
    assert hosted.layers == ["C:\\layers\\top", "C:\\layers\\base"]
    assert "Storage" not in hosted.container


def test_the_vm_size_comes_from_the_annotations_then_the_resources() -> None:
    config = hyperv_config()
    config["windows"]["resources"] = {"memory": {"limit": 2048 * 1024 * 1024}, "cpu": {"count": 3}}
    hosted = hosted_container(config, host_processor_count=8)
    assert (hosted.utility_vm_memory_mb, hosted.utility_vm_processor_count) == (2048, 3)
    config["annotations"] = {oci.UTILITY_VM_MEMORY_SIZE_IN_MB: "4096", oci.UTILITY_VM_PROCESSOR_COUNT: "4"}
    hosted = hosted_container(config, host_processor_count=8)
    assert (hosted.utility_vm_memory_mb, hosted.utility_vm_processor_count) == (4096, 4)
    config["annotations"] = {oci.UTILITY_VM_MEMORY_SIZE_IN_MB: "lots"}
    with pytest.raises(FieldValueError) as info:
        hosted_container(config)
    assert info.value.path == 'annotations["io.microsoft.virtualmachine.computetopology.memory.sizeinmb"]'


def test_the_scratch_disk_must_exist_when_paths_are_checked(tmp_path: Path) -> None:
    layers = []
    for name in ("base", "scratch"):
        (tmp_path / name).mkdir()
        layers.append(str(tmp_path / name))
    config = hyperv_config(layers=layers)
    with pytest.raises(FieldValueError) as info:
        hosted_container(config, check_paths=True)
    assert info.value.path == "windows.layerFolders[1]" and "holds no sandbox.vhdx" in str(info.value)
    (tmp_path / "scratch" / "sandbox.vhdx").write_bytes(b"")
    assert hosted_container(config, check_paths=True).layers == [layers[0]]


def test_mounts_are_refused_in_a_vm_and_every_other_rule_still_applies() -> None:
    config = hyperv_config()
    config["mounts"] = [{"source": "C:\\data", "destination": "C:\\data"}]
    with pytest.raises(UnsupportedError) as info:
        hosted_container(config)
    assert info.value.path == "mounts"
    config = hyperv_config()
    config["windows"]["layerFolders"] = ["C:\\only-scratch"]
    with pytest.raises(SpecError):
        hosted_container(config)
    config = hyperv_config()
    config["windows"]["hyperv"] = {"utilityVMPath": 5}
    with pytest.raises(SpecError) as err:
        hosted_container(config)
    assert err.value.path == "windows.hyperv.utilityVMPath"
