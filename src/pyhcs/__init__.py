"""pyhcs: the Windows Host Compute Service (computecore.dll / computestorage.dll) from Python."""

from ._ffi import use_library
from .enums import EventOptions, EventType, OperationType
from .errors import HcsError

__version__ = "0.1.0"

__all__ = ["EventOptions", "EventType", "HcsError", "OperationType", "use_library", "__version__"]
