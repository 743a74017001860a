"""Finding and loading computecore / computestorage, with symbols bound lazily.

On Windows the DLLs come from the system directory only, by full path, so a DLL planted in the current folder or on
PATH is never picked up. ``LocalFree`` comes from kernel32 (a KnownDLL). Anywhere, an explicit override
(``use_library()`` or the ``PYHCS_COMPUTECORE`` / ``PYHCS_COMPUTESTORAGE`` environment variables) points at another
library exporting the same ABI -- this is how the fake HCS in ``tests/fakes`` is loaded. Off Windows, ``LocalFree``
is taken from the overriding computecore library, so result strings go back to the allocator that made them.

The overrides are a trust boundary: whatever library they name runs inside the process with its privileges (HCS
callers are administrators). So the environment variables must hold absolute paths -- a bare or relative name
would be looked up through the DLL search order (the application's folder, the current directory, PATH) or the
dynamic loader's path, where anyone who can write a file could plant one. ``use_library()`` is the program's own
choice: a relative path is made absolute at once (the current directory at the time of the call), a bare name is
left to the platform's library search.

Symbols are resolved at first use, never at import: an older Windows build that lacks an export (for example
``HcsCreateOperationWithNotifications``) only fails when that function is called, with ``HcsFunctionNotFoundError``
naming it -- the same contract as hcsshim's lazily bound ``computecore.go``.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, Dict, List, Optional, Union

from ..errors import HcsFunctionNotFoundError, HcsUnavailableError
from ._cffi_hcs import ffi

ENV_COMPUTECORE = "PYHCS_COMPUTECORE"
ENV_COMPUTESTORAGE = "PYHCS_COMPUTESTORAGE"
ERROR_PROC_NOT_FOUND_HRESULT = 0x8007007F
ERROR_MOD_NOT_FOUND_HRESULT = 0x8007007E

_IS_WINDOWS = sys.platform == "win32"
_lock = threading.RLock()
_overrides: Dict[str, Optional[str]] = {"computecore": None, "computestorage": None}
_loaded: Dict[str, Any] = {}
# Every library ever loaded stays referenced: a native thread may still be running code of a library the user has
# switched away from (callbacks in flight), and cffi would dlclose it when its object is collected.
_keepalive: List[Any] = []

PathLike = Union[str, "os.PathLike[str]"]


def use_library(computecore: Optional[PathLike], storage: Optional[PathLike] = None) -> None:
    """Load HCS from *computecore* (and computestorage from *storage*, default: the same file) instead of the
    system's DLLs. ``None`` goes back to the default. Affects calls made after it; call it before creating
    handles, since a handle belongs to the library that made it. A relative path is made absolute now; a bare
    file name is looked up by the platform's library search. The library runs with the program's privileges:
    name only files you trust."""
    with _lock:
        core = _pinned_path(computecore) if computecore is not None else None
        stor = _pinned_path(storage) if storage is not None else core
        _overrides["computecore"] = core
        _overrides["computestorage"] = stor
        _loaded.clear()
        for lazy in (lib, storage_lib):
            lazy._forget()


def _pinned_path(path: PathLike) -> str:
    # Loading is lazy: a relative path is resolved now, so a later chdir cannot change which file loads. A bare
    # name (no folder) is the caller's explicit request for the platform's library search.
    text = os.fspath(path)
    return os.path.abspath(text) if os.path.dirname(text) else text


def library_path(kind: str) -> str:
    """The file that is (or would be) loaded for *kind* ('computecore' or 'computestorage')."""
    override = _overrides[kind]
    if override is None:
        name = ENV_COMPUTECORE if kind == "computecore" else ENV_COMPUTESTORAGE
        env = os.environ.get(name)
        if not env and kind == "computestorage":
            name, env = ENV_COMPUTECORE, os.environ.get(ENV_COMPUTECORE)
        if env and not os.path.isabs(env):
            raise HcsUnavailableError(
                ERROR_MOD_NOT_FOUND_HRESULT,
                f"{name} must be an absolute path, not {env!r}: a relative name would be searched for in the "
                "application folder, the current directory and PATH, where another library could be planted",
                name="ERROR_MOD_NOT_FOUND",
            )
        override = env or None
    if override is not None:
        return override
    if _IS_WINDOWS:
        return os.path.join(_system_directory(), kind + ".dll")
    raise HcsUnavailableError(
        ERROR_MOD_NOT_FOUND_HRESULT,
        f"HCS ({kind}.dll) exists only on Windows; to run against another library exporting the HCS ABI "
        f"(such as the pyhcs fake), set {ENV_COMPUTECORE} or call pyhcs.use_library(path)",
        name="ERROR_MOD_NOT_FOUND",
    )


def _system_directory() -> str:
    buf = ffi.new("WCHAR[]", 520)
    n = _kernel32().GetSystemDirectoryW(buf, 520)
    if n == 0 or n >= 520:
        raise HcsUnavailableError(ERROR_MOD_NOT_FOUND_HRESULT, "GetSystemDirectoryW failed")
    return str(ffi.string(buf, n))


def _kernel32() -> Any:
    k32 = _loaded.get("kernel32")
    if k32 is None:
        k32 = ffi.dlopen("kernel32.dll")  # a KnownDLL: always the one in the system directory
        _loaded["kernel32"] = k32
        _keepalive.append(k32)
    return k32


def load(kind: str) -> Any:
    """The cffi library object for *kind*, loading it on first use."""
    dl = _loaded.get(kind)
    if dl is not None:
        return dl
    with _lock:
        dl = _loaded.get(kind)
        if dl is None:
            path = library_path(kind)
            try:
                dl = _dlopen_pinned(path)
            except OSError as exc:
                raise HcsUnavailableError(
                    ERROR_MOD_NOT_FOUND_HRESULT,
                    f"cannot load {kind} from {path!r}: {exc}",
                    name="ERROR_MOD_NOT_FOUND",
                ) from exc
            _loaded[kind] = dl
            _keepalive.append(dl)
        return dl


def _dlopen_pinned(path: str) -> Any:
    """Load *path* so that it is never unloaded.

    HCS (and the fake) run threads inside the library that call back into Python until the process ends. cffi
    unloads a library when its object is collected -- at the latest while the interpreter finalizes -- and a
    thread then executing its code crashes (seen: SIGSEGV at exit, one run in six). RTLD_NODELETE keeps it mapped
    on POSIX; on Windows a ctypes load adds a module reference nothing ever releases."""
    if _IS_WINDOWS:
        dl = ffi.dlopen(path)
        import ctypes

        _keepalive.append(ctypes.WinDLL(path))  # type: ignore[attr-defined]
        return dl
    return ffi.dlopen(path, ffi.RTLD_NOW | getattr(ffi, "RTLD_NODELETE", 0))


class LazyLibrary:
    """Attribute access returns the bound C function, resolved and cached at first use."""

    def __init__(self, kind: str, header: str) -> None:
        self._kind = kind
        self._header = header
        self._declared: "Optional[frozenset[str]]" = None

    @property
    def _names(self) -> "frozenset[str]":
        if self._declared is None:
            self._declared = _declared(self._header)
        return self._declared

    def _forget(self) -> None:
        for name in [n for n in self.__dict__ if not n.startswith("_")]:
            del self.__dict__[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._names:
            raise AttributeError(f"{self._kind} declares no function {name!r}")
        dl = load(self._kind)
        try:
            fn = getattr(dl, name)
        except (AttributeError, ffi.error):  # cffi raises ffi.error for a declared symbol the library lacks
            raise HcsFunctionNotFoundError(
                ERROR_PROC_NOT_FOUND_HRESULT,
                f"{name} is not exported by {library_path(self._kind)} (needs a newer Windows build)",
                name="ERROR_PROC_NOT_FOUND",
                function=name,
            ) from None
        self.__dict__[name] = fn
        return fn

    def has(self, name: str) -> bool:
        """Whether the loaded library exports *name* (loads the library)."""
        try:
            getattr(self, name)
        except HcsFunctionNotFoundError:
            return False
        return True

    def __dir__(self) -> List[str]:
        return sorted(self._names)


def _declared(header: str) -> "frozenset[str]":
    import re

    with open(os.path.join(os.path.dirname(__file__), "decl", header), encoding="ascii") as f:
        text = f.read()
    return frozenset(re.findall(r"WINAPI\s+(\w+)\s*\(", text))


lib = LazyLibrary("computecore", "computecore.h")
storage_lib = LazyLibrary("computestorage", "computestorage.h")


def _local_free_function() -> Any:
    if _IS_WINDOWS:
        return _kernel32().LocalFree
    dl = load("computecore")
    try:
        return dl.LocalFree
    except (AttributeError, ffi.error):
        raise HcsFunctionNotFoundError(
            ERROR_PROC_NOT_FOUND_HRESULT,
            f"LocalFree is not exported by {library_path('computecore')}; off Windows the HCS library must "
            "export the LocalFree that frees its result strings",
            name="ERROR_PROC_NOT_FOUND",
            function="LocalFree",
        ) from None


def local_free(ptr: Any) -> None:
    """Free a result string returned by HCS (NULL is ignored)."""
    if ptr == ffi.NULL:
        return
    local_free_function()(ptr)


def local_free_function() -> Any:
    """The bound LocalFree itself (callers freeing many strings in a row fetch it once)."""
    free = _loaded.get("LocalFree")
    if free is None:
        with _lock:
            free = _local_free_function()
            _loaded["LocalFree"] = free
    return free
