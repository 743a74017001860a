"""The fake HCS: computestorage (layers are directories) and the file helpers of computecore.

Sources: Reference/HcsImportLayer.md, HcsExportLayer.md, HcsDestroyLayer.md, HcsInitializeWritableLayer.md,
HcsAttachLayerStorageFilter.md, HcsDetachLayerStorageFilter.md, HcsGetLayerVhdMountPath.md (LocalFree), hcsshim
computestorage/storage.go (LayerData); error codes are the fake's choices (tests/fakes/README.md).
"""

from __future__ import annotations

import os

from tests.fakes.rawhcs import (
    E_ALREADY_EXISTS,
    E_BUSY,
    E_FILE_NOT_FOUND,
    E_HANDLE,
    E_INVALIDARG,
    E_NOT_FOUND,
    E_PATH_NOT_FOUND,
    HCS_E_INVALID_JSON,
    S_OK,
    doc,
    ffi,
    lib,
    storage,
    take_wide,
    to_wide,
    u32,
)


def _w(path) -> object:
    return to_wide(str(path))


def test_import_export_destroy_layer(fake, tmp_path) -> None:
    src = tmp_path / "src"
    (src / "Files" / "sub").mkdir(parents=True)
    (src / "Files" / "sub" / "a.txt").write_text("hello")
    layer = tmp_path / "layer"
    assert u32(storage.HcsImportLayer(_w(layer), _w(src), doc({"Layers": []}))) == S_OK
    assert (layer / "Files" / "sub" / "a.txt").read_text() == "hello"
    assert u32(storage.HcsImportLayer(_w(layer), _w(src), ffi.NULL)) == E_ALREADY_EXISTS
    assert u32(storage.HcsImportLayer(_w(tmp_path / "l2"), _w(tmp_path / "missing"), ffi.NULL)) == E_PATH_NOT_FOUND
    assert u32(storage.HcsImportLayer(_w(tmp_path / "l3"), _w(src), doc("{bad"))) == HCS_E_INVALID_JSON
    out = tmp_path / "export"
    assert u32(storage.HcsExportLayer(_w(layer), _w(out), ffi.NULL, doc({"IsWritableLayer": False}))) == S_OK
    assert (out / "Files" / "sub" / "a.txt").read_text() == "hello"
    assert u32(storage.HcsDestroyLayer(_w(layer))) == S_OK
    assert not layer.exists()
    assert u32(storage.HcsDestroyLayer(_w(layer))) == E_PATH_NOT_FOUND
    assert u32(storage.HcsImportLayer(ffi.NULL, _w(src), ffi.NULL)) == E_INVALIDARG


def test_writable_layer_and_filters(fake, tmp_path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    rw = tmp_path / "rw"
    layer_data = {"SchemaVersion": {"Major": 2, "Minor": 1}, "Layers": [{"Id": "1", "Path": str(base)}]}
    assert u32(storage.HcsInitializeWritableLayer(_w(rw), doc(layer_data), ffi.NULL)) == S_OK
    assert rw.is_dir()
    bad = {"Layers": [{"Id": "1", "Path": str(tmp_path / "nope")}]}
    assert u32(storage.HcsInitializeWritableLayer(_w(tmp_path / "rw2"), doc(bad), ffi.NULL)) == E_PATH_NOT_FOUND
    assert u32(storage.HcsAttachLayerStorageFilter(_w(rw), doc(layer_data))) == S_OK
    assert u32(storage.HcsAttachLayerStorageFilter(_w(rw), doc(layer_data))) == E_ALREADY_EXISTS
    assert u32(storage.HcsDestroyLayer(_w(rw))) == E_BUSY
    assert u32(storage.HcsDetachLayerStorageFilter(_w(rw))) == S_OK
    assert u32(storage.HcsDetachLayerStorageFilter(_w(rw))) == E_NOT_FOUND
    assert u32(storage.HcsAttachOverlayFilter(_w(rw), doc(layer_data))) == S_OK
    assert u32(storage.HcsDetachOverlayFilter(_w(rw), doc(layer_data))) == S_OK
    assert u32(storage.HcsDestroyLayer(_w(rw))) == S_OK


def test_vhd_handle_functions(fake, tmp_path) -> None:
    vhd = tmp_path / "disk.vhdx"
    vhd.write_bytes(b"\0" * 16)
    fd = os.open(vhd, os.O_RDWR)
    try:
        handle = ffi.cast("HANDLE", fd)
        assert u32(storage.HcsFormatWritableLayerVhd(handle)) == S_OK
        out = ffi.new("PWSTR *")
        assert u32(storage.HcsGetLayerVhdMountPath(handle, out)) == S_OK
        path = take_wide(out[0])
        assert path.startswith("\\\\?\\Volume{") and path.endswith("}\\")
        base = tmp_path / "base"
        base.mkdir()
        assert u32(storage.HcsSetupBaseOSLayer(_w(base), handle, doc({"Type": "Container"}))) == S_OK
        assert u32(storage.HcsSetupBaseOSVolume(_w(base), _w(tmp_path), ffi.NULL)) == S_OK
    finally:
        os.close(fd)
    assert u32(storage.HcsFormatWritableLayerVhd(ffi.cast("HANDLE", 987654))) == E_HANDLE
    assert u32(storage.HcsGetLayerVhdMountPath(ffi.NULL, ffi.new("PWSTR *"))) == E_HANDLE


def test_legacy_writable_layer(fake, tmp_path) -> None:
    mount, folder, export = tmp_path / "mnt", tmp_path / "folder", tmp_path / "export"
    mount.mkdir()
    folder.mkdir()
    (folder / "f").write_text("x")
    assert u32(storage.HcsInitializeLegacyWritableLayer(_w(mount), _w(folder), doc({"Layers": []}), ffi.NULL)) == 0
    assert u32(storage.HcsExportLegacyWritableLayer(_w(mount), _w(folder), _w(export), doc({"Layers": []}))) == 0
    assert (export / "f").read_text() == "x"


def test_state_files_and_vm_access(fake, tmp_path) -> None:
    """HcsCreateEmptyGuestStateFile / RuntimeStateFile, HcsGrant/RevokeVmAccess (choice: the file must exist)."""
    gs = tmp_path / "vm.vmgs"
    assert u32(lib.HcsCreateEmptyGuestStateFile(_w(gs))) == S_OK and gs.exists()
    assert u32(lib.HcsCreateEmptyRuntimeStateFile(_w(tmp_path / "vm.vmrs"))) == S_OK
    assert u32(lib.HcsCreateEmptyGuestStateFile(_w(tmp_path / "no" / "x.vmgs"))) == E_PATH_NOT_FOUND
    assert u32(lib.HcsGrantVmAccess(to_wide("vm1"), _w(gs))) == S_OK
    assert u32(lib.HcsRevokeVmAccess(to_wide("vm1"), _w(gs))) == S_OK
    assert u32(lib.HcsGrantVmGroupAccess(_w(tmp_path / "missing"))) == E_FILE_NOT_FOUND
    assert u32(lib.HcsRevokeVmGroupAccess(_w(gs))) == S_OK
    assert u32(lib.HcsSubmitWerReport(doc({"SystemId": "x"}))) == S_OK


def test_storage_faults(fake, tmp_path) -> None:
    fake.inject_fault("HcsDestroyLayer", 0x80070005, 1)
    assert u32(storage.HcsDestroyLayer(_w(tmp_path))) == 0x80070005
    assert tmp_path.exists()
