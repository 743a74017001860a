"""Container layer storage (computestorage.dll): import, export, create and attach the layers a container's
Storage section names.

These functions are synchronous in HCS. ``layer_data`` is a LayerData document (SchemaVersion, Layers[{Id, Path,
PathType}], FilterType); options documents are OsLayerOptions / ExportLayerOptions (hcsshim
internal/computestorage). VHD arguments are Win32 HANDLEs of an open virtual disk (an ``int``).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

from . import _trace
from ._ffi import ffi, storage_lib
from ._strings import Document, document_arg, take_wide, to_wide
from .errors import check_hresult

LayerDataArg = Union[Mapping[str, Any], str]


def _path(value: str, what: str) -> Any:
    return to_wide(value, what)


def _handle(value: int) -> Any:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("a VHD handle must be an int (a Win32 HANDLE value)")
    return ffi.cast("HANDLE", value)


def _call(function: str, *args: Any) -> None:
    """Call computestorage's *function* (synchronous: it returns its HRESULT) and raise its error."""
    check_hresult(_trace.timed(function, getattr(storage_lib, function), *args), function=function)


def import_layer(layer_path: str, source_folder: str, layer_data: LayerDataArg) -> None:
    """HcsImportLayer: make *layer_path* a container layer from an exported layer in *source_folder*."""
    _call(
        "HcsImportLayer",
        _path(layer_path, "layer path"), _path(source_folder, "source folder"), document_arg(layer_data, "LayerData"))


def export_layer(layer_path: str, export_folder: str, layer_data: LayerDataArg, options: Document = None) -> None:
    """HcsExportLayer: write the layer at *layer_path* (with its parents in *layer_data*) to *export_folder*."""
    _call(
        "HcsExportLayer",
        _path(layer_path, "layer path"), _path(export_folder, "export folder"), document_arg(layer_data, "LayerData"),
        document_arg(options, "ExportLayerOptions"))


def export_legacy_writable_layer(mount_path: str, folder_path: str, export_folder: str,
                                 layer_data: LayerDataArg) -> None:
    """HcsExportLegacyWritableLayer: export a legacy (pre-1809) writable layer."""
    _call(
        "HcsExportLegacyWritableLayer",
        _path(mount_path, "mount path"), _path(folder_path, "folder path"), _path(export_folder, "export folder"),
        document_arg(layer_data, "LayerData"))


def destroy_layer(layer_path: str) -> None:
    """HcsDestroyLayer: delete a layer and its files."""
    _call("HcsDestroyLayer", _path(layer_path, "layer path"))


def setup_base_os_layer(layer_path: str, vhd_handle: int, options: Document) -> None:
    """HcsSetupBaseOSLayer: set up a base OS layer on a VHD (OsLayerOptions)."""
    _call(
        "HcsSetupBaseOSLayer",
        _path(layer_path, "layer path"), _handle(vhd_handle), document_arg(options, "OsLayerOptions"))


def setup_base_os_volume(layer_path: str, volume_path: str, options: Document) -> None:
    """HcsSetupBaseOSVolume: set up a base OS layer on a mounted volume."""
    _call(
        "HcsSetupBaseOSVolume",
        _path(layer_path, "layer path"), _path(volume_path, "volume path"), document_arg(options, "OsLayerOptions"))


def initialize_writable_layer(layer_path: str, layer_data: LayerDataArg, options: Document = None) -> None:
    """HcsInitializeWritableLayer: create the writable (scratch) layer of a container."""
    _call(
        "HcsInitializeWritableLayer",
        _path(layer_path, "layer path"), document_arg(layer_data, "LayerData"), document_arg(options, "options"))


def initialize_legacy_writable_layer(mount_path: str, folder_path: str, layer_data: LayerDataArg,
                                     options: Document = None) -> None:
    """HcsInitializeLegacyWritableLayer: the pre-1809 form of initialize_writable_layer."""
    _call(
        "HcsInitializeLegacyWritableLayer",
        _path(mount_path, "mount path"), _path(folder_path, "folder path"), document_arg(layer_data, "LayerData"),
        document_arg(options, "options"))


def attach_layer_storage_filter(layer_path: str, layer_data: LayerDataArg) -> None:
    """HcsAttachLayerStorageFilter: set up the layer filter so the layer can be used (e.g. mounted on the host)."""
    _call(
        "HcsAttachLayerStorageFilter",
        _path(layer_path, "layer path"), document_arg(layer_data, "LayerData"))


def detach_layer_storage_filter(layer_path: str) -> None:
    """HcsDetachLayerStorageFilter: undo attach_layer_storage_filter."""
    _call("HcsDetachLayerStorageFilter", _path(layer_path, "layer path"))


def attach_overlay_filter(volume_mount_point: str, layer_data: LayerDataArg) -> None:
    """HcsAttachOverlayFilter (newer Windows): overlay the layers of *layer_data* on a volume."""
    _call(
        "HcsAttachOverlayFilter",
        _path(volume_mount_point, "volume mount point"), document_arg(layer_data, "LayerData"))


def detach_overlay_filter(volume_mount_point: str, layer_data: LayerDataArg) -> None:
    """HcsDetachOverlayFilter (newer Windows): undo attach_overlay_filter."""
    _call(
        "HcsDetachOverlayFilter",
        _path(volume_mount_point, "volume mount point"), document_arg(layer_data, "LayerData"))


def format_writable_layer_vhd(vhd_handle: int) -> None:
    """HcsFormatWritableLayerVhd: format a VHD as a writable layer."""
    _call("HcsFormatWritableLayerVhd", _handle(vhd_handle))


def get_layer_vhd_mount_path(vhd_handle: int) -> Optional[str]:
    """HcsGetLayerVhdMountPath: where the layer VHD is mounted (the string is LocalFree'd for you)."""
    out = ffi.new("PWSTR *")
    hr = _trace.timed("HcsGetLayerVhdMountPath", storage_lib.HcsGetLayerVhdMountPath, _handle(vhd_handle), out)
    path = take_wide(out[0])
    check_hresult(hr, function="HcsGetLayerVhdMountPath")
    return path
