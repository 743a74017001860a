"""Native code and memory that outlive the interpreter.

HCS calls back on its own threads until the process ends, whatever Python does: at interpreter exit Python frees its
objects (a cffi buffer, an ``mmap`` object) while a late callback may still run. So what a callback's native code
touches -- its code, and the memory it writes -- comes from here: pages mapped with the C library's ``mmap`` or
VirtualAlloc, never unmapped. Code pages are written once and then made read+execute; no page is ever writable and
executable.

Users: the gate in front of each cffi trampoline (``_gate``) and the native completion queue of asynchronous calls
(``_completions``).
"""

from __future__ import annotations

import os
import struct
import sys
import threading
from typing import Any, List, Optional

_IS_WINDOWS = sys.platform == "win32"


def x86_64() -> bool:
    """Whether this interpreter runs x86-64 code (the only machine pyhcs writes code for)."""
    if struct.calcsize("P") != 8:
        return False
    if _IS_WINDOWS:
        return "AMD64" in sys.version  # "[MSC v.1937 64 bit (AMD64)]"; ARM64 builds say ARM64
    return os.uname().machine.lower() in ("x86_64", "amd64")


class _System:
    """The C library's (or kernel32's) memory functions, bound once through ctypes."""

    _instance: Optional["_System"] = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        import ctypes

        self.ctypes = ctypes
        if _IS_WINDOWS:
            self.page = 4096
            k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
            k32.VirtualAlloc.restype = ctypes.c_void_p
            k32.VirtualAlloc.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_uint32)
            k32.VirtualProtect.restype = ctypes.c_int
            k32.VirtualProtect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32,
                                           ctypes.POINTER(ctypes.c_uint32))
            k32.FlushInstructionCache.restype = ctypes.c_int
            k32.FlushInstructionCache.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
            k32.GetCurrentProcess.restype = ctypes.c_void_p
            self.k32 = k32
        else:
            import mmap

            self.page = mmap.PAGESIZE
            # libc's mmap, not Python's mmap object: the object would unmap the pages when the interpreter
            # finalizes -- exactly when the stubs must stay (a callback would jump into unmapped memory).
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_long)
            libc.mprotect.restype = ctypes.c_int
            libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
            self.libc = libc

    @classmethod
    def get(cls) -> "_System":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def map(self, size: int) -> int:
        """*size* bytes of zeroed read+write memory, never freed."""
        ctypes = self.ctypes
        if _IS_WINDOWS:
            address = self.k32.VirtualAlloc(None, size, 0x3000, 0x04)  # MEM_COMMIT|MEM_RESERVE, PAGE_READWRITE
            if not address:
                raise OSError(ctypes.get_last_error(), "VirtualAlloc failed")
            return int(address)
        import mmap

        address = self.libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                                 -1, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            err = ctypes.get_errno()
            raise OSError(err, f"mmap failed: {os.strerror(err)}")
        return int(address)

    def make_executable(self, address: int, size: int) -> None:
        """Make written code read+execute (never writable again)."""
        ctypes = self.ctypes
        if _IS_WINDOWS:
            old = ctypes.c_uint32()
            if not self.k32.VirtualProtect(address, size, 0x20, ctypes.byref(old)):  # PAGE_EXECUTE_READ
                raise OSError(ctypes.get_last_error(), "VirtualProtect failed")
            self.k32.FlushInstructionCache(self.k32.GetCurrentProcess(), address, size)
            return
        import mmap

        if self.libc.mprotect(address, size, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mprotect failed: {os.strerror(err)}")

    def write(self, address: int, data: bytes) -> None:
        self.ctypes.memmove(address, data, len(data))


class Pages:
    """Two adjacent pages: code (made read+execute once written) and data (read+write), so code can address its
    data relative to itself. Never freed: HCS may call a stub until the process ends."""

    def __init__(self) -> None:
        self._system = _System.get()
        self._page = self._system.page
        self.address = self._system.map(2 * self._page)
        self.data = self.address + self._page

    @property
    def data_offset(self) -> int:
        return self._page

    def write(self, address: int, data: bytes) -> None:
        self._system.write(address, data)

    def seal_code(self) -> None:
        """Make the code page read+execute (never writable again)."""
        self._system.make_executable(self.address, self._page)


def code(data: bytes) -> int:
    """The address of *data* as read+execute code in a page of its own (never freed)."""
    pages = Pages()
    pages.write(pages.address, data)
    pages.seal_code()
    return pages.address


class Arena:
    """Fixed-size blocks of never-freed read+write memory, handed out one by one (their users recycle them; nothing
    is ever returned). A block is aligned to its size, a power of two from 16 to 4096 bytes."""

    CHUNK = 64 * 1024

    def __init__(self, block: int) -> None:
        if block & (block - 1) or not 16 <= block <= 4096:
            raise ValueError("block must be a power of two from 16 to 4096")
        self.block = block
        self._lock = threading.Lock()
        self._next = 0
        self._end = 0
        self._chunks: List[Any] = []  # the addresses of every chunk mapped, for debugging

    def take(self) -> int:
        """The address of a fresh zeroed block."""
        with self._lock:
            if self._next >= self._end:
                base = _System.get().map(self.CHUNK)
                self._chunks.append(base)
                self._next, self._end = base, base + self.CHUNK
            address = self._next
            self._next += self.block
            return address
