"""Completions of awaited calls queued by native code: HCS's threads never take the GIL.

Why: with the cffi trampoline (``_callbacks``) every completion makes an HCS thread take the GIL, run Python (read
the result, free it, close the operation, queue the call for its loop) and give the GIL back, and every FFI call
on either side hands the GIL over again. With many calls in flight most of an operation's time was those hand-offs
between the loop thread and HCS's threads, not Python (docs/performance.md). So, where it can, pyhcs gives HCS a
completion callback written in machine code instead. It runs on HCS's thread and:

1. reads the result (``HcsGetOperationResult`` into the call's node: HRESULT and result document);
2. closes the operation ("an operation can be closed from within a callback", HcsCloseOperation.md; the
   trampoline does the same);
3. pushes the node onto its loop's list (a lock-free stack: ``lock cmpxchg``);
4. if the list was empty, wakes the loop: one byte ``send`` to a socket the loop watches (``add_reader``).

The loop, woken once for everything pushed since, takes the whole list with one atomic exchange and settles each
call in completion order: copy the document, ``LocalFree`` it, parse, settle the future (``_AsyncCall._settle``).
No Python runs on HCS's threads, so the loop's own FFI calls find the GIL free.

Where: x86-64 POSIX (the System V calling convention) with an event loop that has ``add_reader`` (asyncio's
default loop there, uvloop). Elsewhere -- Windows, whose default ProactorEventLoop has no ``add_reader``; ARM64; or
with ``PYHCS_NATIVE_COMPLETIONS=0`` in the environment -- awaited calls use the cffi trampoline, with the same
results and lifetimes. (A Windows x64 version of the code and a SelectorEventLoop wake worked under Wine, but
Wine's ``select()`` on the loop's socket pairs hung past its timeout in one CI run of three; a Proactor-native wake
is the way to bring this to Windows, docs/performance.md.)

Lifetime (the rules of ``_callbacks`` hold: a context lives until its callback has run, a handle is never closed
by anyone but the completion):

- A node (64 bytes) is a call's callback context. It lives in never-freed memory (``_native.Arena``) and belongs
  to one call from ``HcsCreateOperation`` until a drain takes it off the list; the registry
  (``_callbacks.operations``) maps its address to the call's record, as it maps the trampoline's keys.
- A queue (its memory and its socket pair) is never freed and its sending end never closed: a completion may still
  arrive after its loop closed, or after the interpreter exited (the code then only writes memory and a socket).
  When a loop closes, pyhcs drains its queue until its last call has arrived (``_Orphans``, a pyhcs thread), then
  gives the queue to the next loop.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import threading
from typing import Any, Dict, List, Optional

from . import _callbacks, _native
from ._ffi import ffi, lib
from ._ffi.loader import local_free_function

_IS_WINDOWS = sys.platform == "win32"

#: Set to False (or ``PYHCS_NATIVE_COMPLETIONS=0`` in the environment) to await every call through the cffi
#: trampoline instead; read when a loop makes its first call.
enabled = os.environ.get("PYHCS_NATIVE_COMPLETIONS", "1") != "0"

# A node, in 8-byte words: the list link, the operation, its queue, its slot (index in the queue's tables), the
# HRESULT (32 bits), the result document, and the two HCS functions the code calls (per node, so calls started
# before a use_library() switch finish with the library that made them).
NODE_SIZE = 64
_NEXT, _OP, _QUEUE, _SLOT, _HR, _DOC, _GET_RESULT, _CLOSE = range(8)
# A queue, in 8-byte words, in one arena block of NODE_SIZE bytes: the list head, the socket to write to, the address
# of send(), the byte sent.
_HEAD, _WAKE, _SEND = range(3)

# void completed(HCS_OPERATION operation, node *context), then, at 0x60, node *take(queue *q): the whole list, the
# queue left empty. Assembled from the listings beside the bytes (GNU as, Intel syntax).
_TAKE = 0x60
_SYSTEM_V = bytes.fromhex("".join((
    # completed: rdi = operation, rsi = node
    "53",              # 00: push rbx
    "4154",            # 01: push r12
    "4883ec08",        # 03: sub rsp,0x8                    (16-byte aligned for the calls)
    "4889f3",          # 07: mov rbx,rsi                    rbx = node
    "4989fc",          # 0a: mov r12,rdi                    r12 = operation
    "48897b08",        # 0d: mov [rbx+0x8],rdi              node->op = operation
    "488d7328",        # 11: lea rsi,[rbx+0x28]
    "ff5330",          # 15: call [rbx+0x30]                HcsGetOperationResult(operation, &node->doc)
    "894320",          # 18: mov [rbx+0x20],eax             node->hr
    "4c89e7",          # 1b: mov rdi,r12
    "ff5338",          # 1e: call [rbx+0x38]                HcsCloseOperation(operation)
    "4c8b4310",        # 21: mov r8,[rbx+0x10]              r8 = queue
    "498b00",          # 25: mov rax,[r8]                   rax = head
    "488903",          # 28: mov [rbx],rax                  node->next = head
    "f0490fb118",      # 2b: lock cmpxchg [r8],rbx          head = node if head is still rax (else rax = head)
    "75f6",            # 30: jne 28
    "4883c408",        # 32: add rsp,0x8
    "415c",            # 36: pop r12
    "5b",              # 38: pop rbx
    "4885c0",          # 39: test rax,rax
    "7518",            # 3c: jne 56                         the list was not empty: the loop is already woken
    "418b7808",        # 3e: mov edi,[r8+0x8]               the socket
    "498d7018",        # 42: lea rsi,[r8+0x18]              the byte
    "ba01000000",      # 46: mov edx,0x1
    "b940400000",      # 4b: mov ecx,0x4040                 MSG_NOSIGNAL | MSG_DONTWAIT
    "498b4010",        # 50: mov rax,[r8+0x10]
    "ffe0",            # 54: jmp rax                        send(socket, &byte, 1, flags), returning to HCS
    "c3",              # 56: ret
    "90" * 9,          # 57: padding
    # take: rdi = queue
    "31c0",            # 60: xor eax,eax
    "488707",          # 62: xchg [rdi],rax                 (xchg with memory is atomic)
    "c3",              # 65: ret
)))

_string = ffi.string
_cast = ffi.cast
_NULL = ffi.NULL
_operation_items = _callbacks.operations._items


class _Code:
    """The completion callback and ``take``, in a page of their own (never freed), and the address of send()."""

    def __init__(self) -> None:
        import ctypes

        address = _native.code(_SYSTEM_V)
        self.completed = _cast("HCS_OPERATION_COMPLETION", address)
        self.take = _cast("uintptr_t(*)(uintptr_t)", address + _TAKE)
        self.send = ctypes.cast(ctypes.CDLL(None).send, ctypes.c_void_p).value
        self.arena = _native.Arena(NODE_SIZE)


_code: Any = None  # _Code once built, False where there is none
_lock = threading.Lock()


def _load() -> Any:
    global _code
    if _code is None:
        with _lock:
            if _code is None:
                try:
                    _code = _Code() if _native.x86_64() and not _IS_WINDOWS else False
                except (OSError, AttributeError, ValueError):  # no executable memory (a hardened host), no send()
                    _code = False
    return _code


class NativeQueue:
    """One event loop's completion list: its memory, its wake socket, and the nodes of its calls.

    A slot is a node and its views: ``free`` holds the slots no call uses; ``keys[slot]`` is the node's address as
    the ``void *`` context HCS calls back with (the registry key)."""

    def __init__(self, code: _Code) -> None:
        self.code = code
        self.address = code.arena.take()
        words = _cast("uintptr_t *", self.address)
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        # Both ends as bare descriptors, never closed: the native code may send until the process ends (a closed
        # and reused descriptor would receive the byte instead), and a socket object would be closed -- with a
        # ResourceWarning -- when the interpreter finalizes.
        self.fd = reader.detach()
        self._recv = functools.partial(os.read, self.fd)
        words[_WAKE] = writer.detach()
        words[_SEND] = code.send
        self.callback = code.completed
        self.nodes: List[Any] = []  # uintptr_t * per slot
        self.docs: List[Any] = []   # PWSTR * per slot (the node's document field)
        self.hrs: List[Any] = []    # int32_t * per slot (the node's HRESULT field)
        self.keys: List[Any] = []   # void * per slot
        self.by_address: Dict[int, int] = {}
        self.free: List[int] = []
        self.create: Any = None     # the HcsCreateOperation the nodes' functions belong to
        self._functions = (0, 0)
        self._stale: "set[int]" = set()  # slots in use whose functions belong to an earlier library
        self.loop: Any = None

    # -- the loop's thread -----------------------------------------------------------------------------------
    def grow(self) -> int:
        """A new slot (its node from the arena), taken at once."""
        address = self.code.arena.take()
        node = _cast("uintptr_t *", address)
        slot = len(self.nodes)
        node[_QUEUE] = self.address
        node[_SLOT] = slot
        node[_GET_RESULT], node[_CLOSE] = self._functions
        self.nodes.append(node)
        self.docs.append(_cast("PWSTR *", address + 8 * _DOC))
        self.hrs.append(_cast("int32_t *", address + 8 * _HR))
        self.keys.append(_cast("void *", address))
        self.by_address[address] = slot
        return slot

    def bind(self, create: Any) -> None:
        """Use the library *create* (``lib.HcsCreateOperation``) belongs to from now on (``use_library()``)."""
        self.create = create
        self._functions = (int(_cast("uintptr_t", lib.HcsGetOperationResult)),
                           int(_cast("uintptr_t", lib.HcsCloseOperation)))
        in_use = set(range(len(self.nodes))) - set(self.free)
        for slot in self.free:
            node = self.nodes[slot]
            node[_GET_RESULT], node[_CLOSE] = self._functions
        self._stale |= in_use

    def outstanding(self) -> int:
        """Calls started through this queue and not yet taken off its list."""
        return len(self.nodes) - len(self.free)

    def on_readable(self) -> None:
        """The loop's reader: settle every call whose completion has arrived."""
        self._clear_wake()
        self.settle(here=False)

    def _clear_wake(self) -> None:
        try:
            while len(self._recv(4096)) == 4096:
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:  # the reading end is gone (interpreter teardown); the list is still drained
            pass

    # -- any thread that owns the queue now: the loop's, or pyhcs's once the loop is gone -----------------------
    def settle(self, here: bool) -> None:
        """Take the list and settle every call on it, in completion order: on the loop (``record._settle``), or
        here when the loop is gone (``record._finish_here``)."""
        address = self.code.take(self.address)
        if not address:
            return
        by_address, nodes = self.by_address, self.nodes
        order = []
        while address:
            slot = by_address[address]
            order.append(slot)
            address = nodes[slot][_NEXT]
        order.reverse()
        docs, hrs, keys, free, items = self.docs, self.hrs, self.keys, self.free, _operation_items
        local_free = local_free_function()
        for slot in order:
            doc = docs[slot]
            p = doc[0]
            text: Any = None
            if p:  # a NULL cdata is false
                try:
                    text = _string(p)
                except BaseException as exc:  # noqa: BLE001 - goes to the awaiting task
                    text = exc
                local_free(p)
                doc[0] = _NULL
            record = items.get(keys[slot])
            try:
                if record is not None:
                    record.hr = hrs[slot][0]
                    record.text = text
                    if here:
                        record._finish_here()
                    else:
                        record._settle()
            except Exception as exc:  # noqa: BLE001
                if not here and self.loop is not None:
                    self.loop.call_exception_handler({"message": "pyhcs delivery failed", "exception": exc})
            finally:
                if self._stale and slot in self._stale:
                    self._stale.discard(slot)
                    node = nodes[slot]
                    node[_GET_RESULT], node[_CLOSE] = self._functions
                free.append(slot)


def arm(loop: Any) -> Optional[NativeQueue]:
    """A queue for *loop* (on its thread), watched with ``add_reader``; None when this machine, this loop or the
    settings do not allow it (the caller uses the trampoline)."""
    if not enabled:
        return None
    code = _load()
    if not code:
        return None
    queue = _pool.pop() if _pool else None
    if queue is None:
        try:
            queue = NativeQueue(code)
        except OSError:  # no socket pair (descriptor limit): this loop uses the trampoline
            return None
    try:
        loop.add_reader(queue.fd, queue.on_readable)
    except (NotImplementedError, AttributeError, ValueError, OSError):  # ProactorEventLoop; a closed loop
        _pool.append(queue)
        return None
    queue.loop = loop
    return queue


def retire(queue: NativeQueue) -> None:
    """*queue*'s loop is closed: settle what arrived; if calls are still in flight, pyhcs's thread waits for them;
    then the queue serves another loop."""
    queue.loop = None
    queue.settle(here=True)
    if queue.outstanding():
        _orphans.add(queue)
    else:
        _pool.append(queue)


def settle_orphans() -> None:
    """Settle, here, whatever arrived for queues whose loop is gone (interpreter exit)."""
    _orphans.settle_all()


class _Orphans:
    """Queues of closed loops with calls still in flight, drained by one pyhcs thread until their last call has
    arrived (a call holds its handle's lease until then). The thread ends when none is left."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: List[NativeQueue] = []
        self._thread: Optional[threading.Thread] = None

    def add(self, queue: NativeQueue) -> None:
        with self._lock:
            self._queues.append(queue)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pyhcs-orphans", daemon=True)
                self._thread.start()

    def settle_all(self) -> bool:
        """One pass; True while queues are left."""
        with self._lock:
            queues = list(self._queues)
        done = []
        for queue in queues:
            queue._clear_wake()
            queue.settle(here=True)
            if not queue.outstanding():
                done.append(queue)
        with self._lock:
            for queue in done:
                if queue in self._queues:
                    self._queues.remove(queue)
                    _pool.append(queue)
            left = bool(self._queues)
            if not left:
                self._thread = None
            return left

    def _run(self) -> None:
        import select

        while True:
            with self._lock:
                readers = [q.fd for q in self._queues]
            try:
                select.select(readers, [], [], 0.05)
            except (OSError, ValueError):  # a reader closed at interpreter teardown
                pass
            if not self.settle_all():
                return


_pool: List[NativeQueue] = []
_orphans = _Orphans()


def _forget_after_fork() -> None:
    # The child shares the parent's sockets; its loops make new queues (HCS handles do not survive a fork anyway).
    global _orphans
    _pool.clear()
    _orphans = _Orphans()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
