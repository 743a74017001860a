"""Events received by native code: of the HCS threads delivering events at one moment, one at a time takes the GIL.

Why: with the cffi trampoline (``_callbacks``) every event makes the HCS thread that delivers it take the GIL, run
pyhcs's fan-out and give the GIL back. When many handles get events at once (a host shutting down, a pod whose
systems all exit), HCS delivers them on several threads at the same time, and those threads spend much of their
time handing the GIL to each other (``perf``: a quarter of all samples in the kernel's task switch and wakeup
paths; docs/performance.md). So, where it can, pyhcs gives HCS an event callback written in machine code instead.
It runs on HCS's thread and:

1. copies ``EventData`` (HCS owns it only for the duration of the callback, HCS_EVENT.md) into a block from the C
   library's ``malloc``, with the event's type and the handle's node;
2. pushes the block onto one list (a lock-free stack: ``lock cmpxchg``);
3. unless another HCS thread is already draining the list, becomes the drainer (a flag, ``lock cmpxchg``) and
   calls into Python, which takes the whole list with one atomic exchange and, in arrival order, hands each event
   to its handle's ``EventHub`` -- the fan-out the trampoline runs -- until the list stays empty.

The other HCS threads push and return without the GIL, so a burst costs one GIL acquisition per batch instead of
one per event, and the work still runs on HCS's threads, between deliveries, with no thread of pyhcs's to wake.
(A pyhcs thread draining the list instead was measured slower on two vCPUs: it waited for a CPU until the burst was
over; docs/performance.md.) ``inline=True`` callbacks run on the draining HCS thread. A handle's events are
delivered one at a time and in order (HCS does not deliver its next event before the callback returns, and the list
keeps push order). If ``malloc`` fails, the native code calls the trampoline instead, as elsewhere.

Where: x86-64 POSIX (the System V calling convention). Elsewhere -- Windows, ARM64, or with
``PYHCS_NATIVE_EVENTS=0`` in the environment -- every handle uses the cffi trampoline.

Lifetime (the rules of ``_callbacks`` hold):

- A node (32 bytes: the list, the trampoline, ``malloc``) is one handle's callback context, from its registration
  until ``HcsClose*`` has returned. It lives in never-freed memory (``_native.Arena``), and the events registry
  (``_callbacks.events``, which the trampoline fallback reads) maps its address to the handle's hub; so does the
  receiver's own index by integer address (``Receiver._hubs``, which the drain reads without making a cdata per
  event). Both entries are made in ``node()`` and dropped together in ``_forget()``.
- A handle's close waits for the callback HCS is running for it, but not for a drain another HCS thread runs: its
  events may still be on the list, or being handed over, when the close returns. So a hub is forgotten (registry
  entry, listeners, node) at once only when the list is empty and nobody drains; otherwise by the drainer, after
  the next batch it takes.
- The list and the code are never freed. The drainer is reached through the gate (``_gate``): after interpreter
  exit the code only pushes.
"""

from __future__ import annotations

import codecs
import os
import sys
import threading
from typing import Any, Dict, List, Optional, Tuple

from . import _callbacks, _native
from ._ffi import ffi

_IS_WINDOWS = sys.platform == "win32"

#: Set to False (or ``PYHCS_NATIVE_EVENTS=0`` in the environment) to receive every event through the cffi
#: trampoline instead; read when the first handle registers its callback.
enabled = os.environ.get("PYHCS_NATIVE_EVENTS", "1") != "0"

# A node, in 8-byte words: the list (its address), the trampoline (the fallback), malloc.
NODE_SIZE = 32
_LIST, _FALLBACK, _MALLOC = range(3)
# The list, one block of NODE_SIZE bytes, in 8-byte words: its head, the drainer flag (1 while an HCS thread drains),
# the drainer (``void drain(void)``, behind the gate).
_HEAD, _DRAINING, _DRAINER = range(3)
# An event block, in 8-byte words: the list link, the node, the event's type (low 32 bits) and whether it had
# EventData (high 32 bits), the length of the text in UTF-16 units; then the text and a terminating 0.
_NEXT, _NODE, _TYPE_AND_DATA, _LENGTH = range(4)
_TEXT = 32

# void received(const HCS_EVENT *event, node *context); HCS_EVENT is {HCS_EVENT_TYPE Type; PCWSTR EventData;
# HCS_OPERATION Operation} (offsets 0, 8, 16). Then the drainer's helpers: at 0xa0, block *take(list *l): the whole
# list, the list left empty; at 0xb0, int release(list *l): stop draining, and start again (1) if a block was
# pushed meanwhile and no other thread took over; at 0xe0, int acquire(list *l): become the drainer (1) unless
# another thread is; at 0x100, void free_all(block *first, void (*free)(void *)): free every block of a taken list.
# Assembled from the listing beside the bytes (GNU as, Intel syntax).
_TAKE, _RELEASE, _ACQUIRE, _FREE_ALL = 0xA0, 0xB0, 0xE0, 0x100
_SYSTEM_V = bytes.fromhex("".join((
    # received: rdi = event, rsi = node
    "53",                  # 00: push rbx
    "4154",                # 01: push r12
    "4155",                # 03: push r13                      (16-byte aligned for the calls)
    "4889fb",              # 05: mov rbx,rdi                   rbx = event
    "4989f4",              # 08: mov r12,rsi                   r12 = node
    "488b5708",            # 0b: mov rdx,[rdi+0x8]             rdx = EventData
    "31c9",                # 0f: xor ecx,ecx                   rcx = its length
    "4885d2",              # 11: test rdx,rdx
    "740c",                # 14: je 22
    "66833c4a00",          # 16: cmp word [rdx+rcx*2],0x0
    "7405",                # 1b: je 22
    "48ffc1",              # 1d: inc rcx
    "ebf4",                # 20: jmp 16
    "4989cd",              # 22: mov r13,rcx                   r13 = length
    "488d3c4d22000000",    # 25: lea rdi,[rcx*2+0x22]          32 bytes, the text, its 0
    "41ff542410",          # 2d: call [r12+0x10]               malloc
    "4885c0",              # 32: test rax,rax
    "745b",                # 35: je 92                         no memory: the trampoline
    "4c896008",            # 37: mov [rax+0x8],r12             block->node
    "8b0b",                # 3b: mov ecx,[rbx]
    "894810",              # 3d: mov [rax+0x10],ecx            block->type = event->Type
    "4c896818",            # 40: mov [rax+0x18],r13            block->length
    "488b7308",            # 44: mov rsi,[rbx+0x8]
    "488d7820",            # 48: lea rdi,[rax+0x20]            rdi = block->text
    "31d2",                # 4c: xor edx,edx
    "4885f6",              # 4e: test rsi,rsi
    "7408",                # 51: je 5b
    "ffc2",                # 53: inc edx
    "4c89e9",              # 55: mov rcx,r13
    "66f3a5",              # 58: rep movsw                     copy the text
    "895014",              # 5b: mov [rax+0x14],edx            block->has_data
    "66c7070000",          # 5e: mov word [rdi],0x0            its 0
    "4d8b2c24",            # 63: mov r13,[r12]                 r13 = list
    "4889c1",              # 67: mov rcx,rax                   rcx = block
    "498b4500",            # 6a: mov rax,[r13]                 rax = head
    "488901",              # 6e: mov [rcx],rax                 block->next = head
    "f0490fb14d00",        # 71: lock cmpxchg [r13],rcx        head = block if head is still rax (else rax = head)
    "75f5",                # 77: jne 6e
    "31c0",                # 79: xor eax,eax
    "b901000000",          # 7b: mov ecx,0x1
    "f0490fb14d08",        # 80: lock cmpxchg [r13+0x8],rcx    draining = 1 if it was 0
    "7504",                # 86: jne 8c                        another thread drains: it takes this block too
    "41ff5510",            # 88: call [r13+0x10]               drain() (Python, through the gate)
    "415d",                # 8c: pop r13
    "415c",                # 8e: pop r12
    "5b",                  # 90: pop rbx
    "c3",                  # 91: ret
    "4889df",              # 92: mov rdi,rbx
    "4c89e6",              # 95: mov rsi,r12
    "415d",                # 98: pop r13
    "415c",                # 9a: pop r12
    "5b",                  # 9c: pop rbx
    "ff6608",              # 9d: jmp [rsi+0x8]                 trampoline(event, node), returning to HCS
    # take: rdi = list
    "31c0",                # a0: xor eax,eax
    "488707",              # a2: xchg [rdi],rax                (xchg with memory is atomic)
    "c3",                  # a5: ret
    "90" * 10,             # a6: padding
    # release: rdi = list
    "31c0",                # b0: xor eax,eax
    "48874708",            # b2: xchg [rdi+0x8],rax            draining = 0 (a full barrier before the next read)
    "488b07",              # b6: mov rax,[rdi]
    "4885c0",              # b9: test rax,rax
    "7415",                # bc: je d3                         nothing pushed since the last take: done
    "31c0",                # be: xor eax,eax
    "b901000000",          # c0: mov ecx,0x1
    "f0480fb14f08",        # c5: lock cmpxchg [rdi+0x8],rcx    draining = 1 if it is still 0
    "7506",                # cb: jne d3                        a pushing thread became the drainer
    "b801000000",          # cd: mov eax,0x1
    "c3",                  # d2: ret
    "31c0",                # d3: xor eax,eax
    "c3",                  # d5: ret
    "90" * 10,             # d6: padding
    # acquire: rdi = list
    "31c0",                # e0: xor eax,eax
    "b901000000",          # e2: mov ecx,0x1
    "f0480fb14f08",        # e7: lock cmpxchg [rdi+0x8],rcx
    "0f94c0",              # ed: sete al
    "0fb6c0",              # f0: movzx eax,al
    "c3",                  # f3: ret
    "90" * 12,             # f4: padding
    # free_all: rdi = the first block of a taken list, rsi = free
    "53",                  # 100: push rbx
    "4154",                # 101: push r12
    "4155",                # 103: push r13                     (16-byte aligned for the calls)
    "4889fb",              # 105: mov rbx,rdi
    "4989f4",              # 108: mov r12,rsi
    "4885db",              # 10b: test rbx,rbx
    "740b",                # 10e: je 11b
    "4889df",              # 110: mov rdi,rbx
    "488b1b",              # 113: mov rbx,[rbx]                the next block, before this one is freed
    "41ffd4",              # 116: call r12                     free(block)
    "ebf0",                # 119: jmp 10b
    "415d",                # 11b: pop r13
    "415c",                # 11d: pop r12
    "5b",                  # 11f: pop rbx
    "c3",                  # 120: ret
)))

_cast = ffi.cast
_event_items = _callbacks.events._items
_report = _callbacks._report  # how the trampolines report what must not unwind into C
_decode = codecs.utf_16_le_decode


def _memory() -> Tuple[memoryview, memoryview]:
    """The process's memory from address 8 up (cffi refuses a NULL base), as bytes and as 8-byte words: the drain
    reads a block at address *a* as ``words[(a >> 3) - 1 + i]`` and its text as a slice of bytes, with no cdata
    made per block (copy and hub lookup measured 0.8 us per event against 1.2 with two casts and ``ffi.string``).
    Reads only blocks the native code wrote and has handed over, as the casts did."""
    memory = memoryview(ffi.buffer(_cast("char *", 8), (1 << 62) - 8))
    return memory, memory.cast("Q")


class Receiver:
    """The native event callback, its list, and the drain that HCS's threads run in turn (one per process)."""

    def __init__(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None)
        address = _native.code(_SYSTEM_V)
        #: The HCS_EVENT_CALLBACK to give HCS, with a node (``node()``) as its context.
        self.callback = _cast("HCS_EVENT_CALLBACK", address)
        self._take = _cast("uintptr_t(*)(uintptr_t)", address + _TAKE)
        self._release = _cast("int(*)(uintptr_t)", address + _RELEASE)
        self._acquire = _cast("int(*)(uintptr_t)", address + _ACQUIRE)
        self._free_all = _cast("void(*)(uintptr_t, uintptr_t)", address + _FREE_ALL)
        self._malloc = ctypes.cast(libc.malloc, ctypes.c_void_p).value
        self._free = ctypes.cast(libc.free, ctypes.c_void_p).value
        self._arena = _native.Arena(NODE_SIZE)
        self._list = self._arena.take()
        self._words = _cast("uintptr_t *", self._list)
        # The drainer, a cffi callback kept for the life of the process, reached through the gate: after interpreter
        # exit the native code's call returns at once (and the flag stays set: later events are only pushed).
        self._drainer = ffi.callback("void(void)", self._drain)
        self._words[_DRAINER] = int(_cast("uintptr_t", _callbacks._gated(self._drainer, "void(*)(void)")))
        self._memory, self._memory_words = _memory()
        self._lock = threading.Lock()
        self._hubs: Dict[int, Any] = {}  # node address -> hub (the drain's lookup; _event_items is the trampoline's)
        self._free_nodes: List[int] = []
        self._retiring: List[Any] = []  # hubs whose handle is closed, forgotten by the drainer after its next take

    # -- any thread ----------------------------------------------------------------------------------------
    def node(self, hub: Any) -> Any:
        """A node for *hub*, registered as its callback context; returns the ``void *`` key to give HCS."""
        from ._callbacks import event_trampoline

        with self._lock:
            address = self._free_nodes.pop() if self._free_nodes else self._arena.take()
        words = _cast("uintptr_t *", address)
        words[_LIST] = self._list
        words[_FALLBACK] = int(_cast("uintptr_t", event_trampoline))
        words[_MALLOC] = self._malloc
        key = _cast("void *", address)
        _event_items[key] = hub
        self._hubs[address] = hub
        return key

    def retire(self, hub: Any) -> None:
        """*hub*'s handle is closed (HCS calls its context no more, and every event of it has been pushed): forget
        it now if every pushed event has been handed over, else leave it to the drainer."""
        with self._lock:
            words = self._words
            if words[_DRAINING] or words[_HEAD]:
                self._retiring.append(hub)
                return
        self._forget(hub)

    def _forget(self, hub: Any) -> None:
        address = int(_cast("uintptr_t", hub.key))
        self._hubs.pop(address, None)
        hub._forget()
        with self._lock:
            self._free_nodes.append(address)

    # -- an HCS thread, the drainer ------------------------------------------------------------------------
    def _drain(self) -> None:
        lst = self._list
        while True:
            try:
                if not self._drain_once(lst):
                    return
            except BaseException as exc:  # noqa: BLE001 - must not unwind into C, nor stop draining: the flag is
                _report(exc)              # still set, and returning now would leave every later event on the list

    def _drain_once(self, lst: int) -> bool:
        """One batch; False once this thread has stopped draining."""
        with self._lock:
            retiring, self._retiring = self._retiring, []
        first = self._take(lst)
        if first:
            self._hand_over(first)
        for hub in retiring:  # every event pushed before its close is handed over by now
            self._forget(hub)
        if first or retiring:
            return True
        if self._release(lst):
            return True
        # Stopped draining. A hub retired while this thread was between its last take and the release saw the flag
        # still set and was left for a drainer: if one is waiting, drain again (or leave it to the thread that took
        # over).
        with self._lock:
            waiting = bool(self._retiring)
        return waiting and bool(self._acquire(lst))

    def _hand_over(self, first: int) -> None:
        """Copy every block of a taken list, free them in one call (one FFI call per batch: each releases the GIL),
        then hand the events over in arrival order."""
        words, memory, decode = self._memory_words, self._memory, _decode
        events = []
        address = first
        try:
            while address:
                i = (address >> 3) - 1  # the block's first word in ``words``
                type_and_data = words[i + _TYPE_AND_DATA]
                if type_and_data >> 32:
                    start = address + _TEXT - 8  # the text's first byte in ``memory``
                    text: Optional[str] = decode(memory[start:start + 2 * words[i + _LENGTH]], "surrogatepass")[0]
                else:
                    text = None
                events.append((words[i + _NODE], type_and_data & 0xFFFFFFFF, text))
                address = words[i + _NEXT]
        finally:
            self._free_all(first, self._free)
        events.reverse()
        hubs = self._hubs
        for node, event_type, text in events:
            hub = hubs.get(node)
            if hub is not None:
                try:
                    hub._on_native_event(event_type, text)
                except BaseException as exc:  # noqa: BLE001 - the hub reports its listeners' failures itself
                    _report(exc)


_receiver: Any = None  # the Receiver once built, False where there is none
_lock = threading.Lock()


def receiver() -> Optional[Receiver]:
    """The process's receiver, built at first use; None where events go through the trampoline."""
    global _receiver
    if _receiver is None:
        with _lock:
            if _receiver is None:
                try:
                    ok = enabled and not _IS_WINDOWS and _native.x86_64()
                    _receiver = Receiver() if ok else False
                except (OSError, AttributeError, ValueError, RuntimeError):  # no executable memory
                    _receiver = False
    return _receiver or None


def _forget_after_fork() -> None:
    # HCS handles do not survive a fork; the child's handles get a list of their own (a drain the parent ran at the
    # fork would leave the child's flag set forever).
    global _receiver
    _receiver = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
