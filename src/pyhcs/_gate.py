"""A native gate in front of each callback trampoline, closed when the interpreter exits.

Why: HCS calls back on its own threads whenever an operation completes or an event happens, and nothing in HCS lets
a client withdraw the completion callback of an operation already in flight (HcsCancelOperation "will always
return E_NOTIMPL"; hcsshim's notes: the callback may still fire after an early HcsCloseOperation). cffi's callback
code takes the GIL before anything else (PyGILState_Ensure), and after Py_Finalize that is a crash: a program that
exited with operations in flight died with SIGSEGV/SIGILL in 5 runs of 24 once the exit grace ran out (issue 8).
A check in Python comes too late -- the crash is inside PyGILState_Ensure -- so the check must run before cffi's
code: HCS is given the address of a tiny native stub that reads a flag and either jumps to cffi's trampoline
(arguments untouched: a tail jump) or returns at once. ``close()`` sets the flag; pyhcs does it last thing at exit
(``operation._at_exit``), after waiting for operations and closing its handles.

The stub is 19 bytes of x86-64 code, valid for the Windows x64 and System V calling conventions alike because it
touches only ``rax`` (volatile in both) and leaves the arguments where the caller put them. The code page is made
read+execute and the data page (flag, targets) stays read+write, so no page is ever writable and executable. On
other machines (ARM64, 32-bit) there is no stub: the trampolines are handed to HCS directly, and interpreter exit
instead waits for every operation whose completion would enter Python (``operation._at_exit``).
"""

from __future__ import annotations

import os
import struct
import sys
import threading
from typing import List, Optional

def _x86_64() -> bool:
    if struct.calcsize("P") != 8:
        return False
    if sys.platform == "win32":
        return "AMD64" in sys.version  # "[MSC v.1937 64 bit (AMD64)]"; ARM64 builds say ARM64
    return os.uname().machine.lower() in ("x86_64", "amd64")


def _stub(code_offset: int, flag_offset: int, target_offset: int) -> bytes:
    """mov rax,[rip+flag]; test rax,rax; jnz ret; jmp [rip+target]; ret -- offsets relative to the code page."""
    flag_disp = flag_offset - (code_offset + 7)
    target_disp = target_offset - (code_offset + 18)
    return (
        b"\x48\x8b\x05" + struct.pack("<i", flag_disp)      # mov rax, qword [rip + flag]
        + b"\x48\x85\xc0"                                    # test rax, rax
        + b"\x75\x06"                                        # jnz +6 (to ret)
        + b"\xff\x25" + struct.pack("<i", target_disp)      # jmp qword [rip + target]
        + b"\xc3"                                            # ret
    )


class _Pages:
    """Two adjacent pages: code (made read+execute once written) and data (read+write). Never freed: HCS may
    call a stub until the process ends."""

    def __init__(self) -> None:
        import ctypes

        self._ctypes = ctypes
        if sys.platform == "win32":
            self._page = 4096
            k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
            k32.VirtualAlloc.restype = ctypes.c_void_p
            k32.VirtualAlloc.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_uint32)
            k32.VirtualProtect.restype = ctypes.c_int
            k32.VirtualProtect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32,
                                           ctypes.POINTER(ctypes.c_uint32))
            k32.FlushInstructionCache.restype = ctypes.c_int
            k32.FlushInstructionCache.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
            k32.GetCurrentProcess.restype = ctypes.c_void_p
            self._k32 = k32
            address = k32.VirtualAlloc(None, 2 * self._page, 0x3000, 0x04)  # MEM_COMMIT|MEM_RESERVE, PAGE_READWRITE
            if not address:
                raise OSError(ctypes.get_last_error(), "VirtualAlloc failed")  # type: ignore[attr-defined]
            self.address = int(address)
        else:
            import mmap

            self._page = mmap.PAGESIZE
            # libc's mmap, not Python's mmap object: the object would unmap the pages when the interpreter
            # finalizes -- exactly when the stubs must stay (a callback would jump into unmapped memory).
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_long)
            address = libc.mmap(None, 2 * self._page, mmap.PROT_READ | mmap.PROT_WRITE,
                                mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
            if address in (None, ctypes.c_void_p(-1).value):
                err = ctypes.get_errno()
                raise OSError(err, f"mmap failed: {os.strerror(err)}")
            self.address = int(address)
            self._libc = libc
        self.data = self.address + self._page

    @property
    def data_offset(self) -> int:
        return self._page

    def write(self, address: int, data: bytes) -> None:
        self._ctypes.memmove(address, data, len(data))

    def seal_code(self) -> None:
        """Make the code page read+execute (never writable again)."""
        ctypes = self._ctypes
        if sys.platform == "win32":
            old = ctypes.c_uint32()
            if not self._k32.VirtualProtect(self.address, self._page, 0x20, ctypes.byref(old)):  # PAGE_EXECUTE_READ
                raise OSError(ctypes.get_last_error(), "VirtualProtect failed")  # type: ignore[attr-defined]
            self._k32.FlushInstructionCache(self._k32.GetCurrentProcess(), self.address, self._page)
        else:
            import mmap

            libc = self._libc
            libc.mprotect.restype = ctypes.c_int
            libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
            if libc.mprotect(self.address, self._page, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"mprotect failed: {os.strerror(err)}")


class Gates:
    """The gated entry points of the process: ``wrap(address)`` returns the address to give HCS instead."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: List[_Pages] = []  # never unmapped: HCS may call a stub until the process ends
        self.supported = _x86_64()
        self.closed = False

    def wrap(self, target: int) -> Optional[int]:
        """The address of a stub that jumps to *target* until the gates close; None when this machine has no stub
        (or no executable memory, as on a hardened host), in which case the caller hands *target* to HCS
        directly."""
        with self._lock:
            if not self.supported or self.closed:
                return None
            try:
                pages = _Pages()
                flag, slot = 0, 8  # offsets in the data page
                pages.write(pages.data + slot, struct.pack("<Q", target))
                pages.write(pages.address, _stub(0, pages.data_offset + flag, pages.data_offset + slot))
                pages.seal_code()
            except (OSError, ValueError, AttributeError):
                self.supported = False
                return None
            self._pages.append(pages)
            return pages.address

    def close(self) -> None:
        """Close every gate: from now on a callback returns at once without entering Python. One-way."""
        with self._lock:
            self.closed = True
            for pages in self._pages:
                pages.write(pages.data, struct.pack("<Q", 1))


gates = Gates()
