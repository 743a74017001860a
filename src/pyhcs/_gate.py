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

import struct
import threading
from typing import List, Optional

from ._native import Pages, x86_64


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


class Gates:
    """The gated entry points of the process: ``wrap(address)`` returns the address to give HCS instead."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: List[Pages] = []  # never unmapped: HCS may call a stub until the process ends
        self.supported = x86_64()
        self.closed = False

    def wrap(self, target: int) -> Optional[int]:
        """The address of a stub that jumps to *target* until the gates close; None when this machine has no stub
        (or no executable memory, as on a hardened host), in which case the caller hands *target* to HCS
        directly."""
        with self._lock:
            if not self.supported or self.closed:
                return None
            try:
                pages = Pages()
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
