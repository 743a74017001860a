"""pyhcs.storage and the file helpers of pyhcs.service over the fake's computestorage (layers are folders)."""

from __future__ import annotations

import os

import pytest

import pyhcs
from pyhcs import service, storage
from tests.support import IS_WINDOWS


def test_layer_round_trip(tmp_path) -> None:
    src = tmp_path / "src"
    (src / "Files").mkdir(parents=True)
    (src / "Files" / "a.txt").write_text("layer")
    layer = tmp_path / "layer"
    storage.import_layer(str(layer), str(src), {"Layers": []})
    with pytest.raises(pyhcs.HcsAlreadyExistsError) as info:
        storage.import_layer(str(layer), str(src), {"Layers": []})
    assert info.value.function == "HcsImportLayer"
    storage.export_layer(str(layer), str(tmp_path / "out"), {"Layers": []}, {"IsWritableLayer": False})
    assert (tmp_path / "out" / "Files" / "a.txt").read_text() == "layer"
    storage.destroy_layer(str(layer))
    with pytest.raises(pyhcs.HcsNotFoundError):
        storage.destroy_layer(str(layer))


def test_writable_layer_and_filters(tmp_path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    data = {"SchemaVersion": {"Major": 2, "Minor": 1}, "Layers": [{"Id": "1", "Path": str(base)}]}
    rw = str(tmp_path / "rw")
    storage.initialize_writable_layer(rw, data)
    storage.attach_layer_storage_filter(rw, data)
    storage.detach_layer_storage_filter(rw)
    storage.attach_overlay_filter(rw, data)
    storage.detach_overlay_filter(rw, data)
    storage.destroy_layer(rw)
    with pytest.raises(pyhcs.HcsInvalidJsonError):
        storage.initialize_writable_layer(str(tmp_path / "rw2"), "{bad")


def test_vhd_functions(tmp_path) -> None:
    vhd = tmp_path / "disk.vhdx"
    vhd.write_bytes(b"\0" * 16)
    fd = os.open(vhd, os.O_RDWR)
    # The VHD handle: a Win32 HANDLE on Windows, the file descriptor itself off Windows (the fake's convention).
    if IS_WINDOWS:
        import msvcrt

        handle = msvcrt.get_osfhandle(fd)
    else:
        handle = fd
    try:
        storage.format_writable_layer_vhd(handle)
        path = storage.get_layer_vhd_mount_path(handle)
        assert path is not None and path.startswith("\\\\?\\Volume{")
    finally:
        os.close(fd)
    with pytest.raises(TypeError):
        storage.format_writable_layer_vhd("not a handle")  # type: ignore[arg-type]


def test_state_files_and_access(tmp_path) -> None:
    gs = str(tmp_path / "vm.vmgs")
    service.create_empty_guest_state_file(gs)
    service.create_empty_runtime_state_file(str(tmp_path / "vm.vmrs"))
    service.grant_vm_access("vm1", gs)
    service.revoke_vm_access("vm1", gs)
    with pytest.raises(pyhcs.HcsNotFoundError):
        service.grant_vm_group_access(str(tmp_path / "missing"))
    with pytest.raises(ValueError):
        service.grant_vm_group_access("bad\x00path")


def test_service_settings_and_wer(tmp_path) -> None:
    """HcsModifyServiceSettings with a ModificationRequest (SchemaReference.md): a CPU group created through it shows
    in the CpuGroup service property (hcsshim internal/cpugroup) until deleted; a malformed request is an error."""
    group = "7f1c0c3e-1d2b-4c5a-9e8f-0a1b2c3d4e5f"
    service.modify_service_settings({"PropertyType": "CpuGroup", "Settings": {
        "Operation": "CreateGroup",
        "OperationDetails": {"GroupId": group, "LogicalProcessorCount": 1, "LogicalProcessors": [0]}}})
    groups = service.get_service_properties(["CpuGroup"])["Properties"][0]["CpuGroups"]
    assert [g["GroupId"] for g in groups] == [group]
    service.modify_service_settings({"PropertyType": "CpuGroup", "Settings": {
        "Operation": "DeleteGroup", "OperationDetails": {"GroupId": group}}})
    assert service.get_service_properties(["CpuGroup"])["Properties"] == [{"CpuGroups": []}]
    with pytest.raises(pyhcs.HcsError):
        service.modify_service_settings({"PropertyType": "CpuGroup", "Settings": {}})
    service.submit_wer_report({"SystemId": "x"})
