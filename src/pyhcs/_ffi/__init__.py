"""The C mirror: cffi declarations of ComputeDefs.h / ComputeCore.h / ComputeStorage.h and the library loader.

``ffi`` holds every declaration (generated out-of-line from ``decl/*.h`` by ``build_ffi.py``); ``lib`` and
``storage_lib`` bind computecore and computestorage functions lazily; ``local_free`` frees HCS result strings.
Nothing here adds behaviour: the object layer (``pyhcs.system``, ``pyhcs.process`` ...) builds on it.
"""

from ._cffi_hcs import ffi
from .loader import (
    ENV_COMPUTECORE,
    ENV_COMPUTESTORAGE,
    LazyLibrary,
    lib,
    library_path,
    local_free,
    local_free_function,
    storage_lib,
    use_library,
)

storage = storage_lib

__all__ = [
    "ENV_COMPUTECORE",
    "ENV_COMPUTESTORAGE",
    "LazyLibrary",
    "ffi",
    "lib",
    "library_path",
    "local_free",
    "local_free_function",
    "storage",
    "storage_lib",
    "use_library",
]
