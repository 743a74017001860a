"""Documents of the computestorage.dll layer functions (HcsImportLayer, HcsAttachLayerStorageFilter,
HcsSetupBaseOSLayer, HcsExportLayer, ...)."""

from typing import List

from typing_extensions import Literal, TypedDict

from .common import Version
from .compute_system import Layer

__all__ = [
    "LayerFilterType",
    "LayerData",
    "OsLayerType",
    "OsLayerOptions",
    "ExportLayerOptions",
]

LayerFilterType = Literal["WCIFS", "UnionFS"]
"""Storage filter of ``LayerData.FilterType``; from hcsshim's computestorage package, not SchemaReference.md."""


class LayerData(TypedDict, total=False):
    """Parent layers passed to the layer storage functions (schema 2.1).

    ``FilterType`` is used by hcsshim (not in SchemaReference.md).
    """

    SchemaVersion: Version
    Layers: List[Layer]
    FilterType: LayerFilterType


OsLayerType = Literal["Container", "Vm"]
"""Whether a base OS layer is set up for containers or for a utility VM (schema 2.1)."""


class OsLayerOptions(TypedDict, total=False):
    """Options of HcsSetupBaseOSLayer / HcsSetupBaseOSVolume (schema 2.1; ``SkipUpdateBcdForBoot`` 2.5)."""

    Type: OsLayerType
    DisableCiCacheOptimization: bool
    SkipUpdateBcdForBoot: bool


class ExportLayerOptions(TypedDict, total=False):
    """Options of HcsExportLayer (schema 2.1)."""

    IsWritableLayer: bool
