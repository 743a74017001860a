"""The fake HCS service's protocol (``wire.h``), as far as a control connection needs it: framing, argument
encoding, payload reading, and the byte stream to an endpoint (a Unix socket, or a named pipe on Windows).

Private to pyhcs.testing (``ServiceControl`` speaks it); pyhcs's own protocol tests use these helpers to send
malformed messages.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys
import time
from typing import Any, Optional, Sequence, Tuple

IS_WINDOWS = sys.platform == "win32"

# wire.h: a 16-byte header (u32 payload length, u16 kind, u16 handles, u64 id), little-endian, then the payload.
HEADER = struct.Struct("<IHHQ")
MAGIC = 0x53434846
VERSION = 1
MAX_PAYLOAD = 16 << 20
NULL_STRING = 0xFFFFFFFF
HELLO, WELCOME, REFUSED, REQUEST, REPLY, EVENT, NOTICE, NOTICE_ACK, COUNTERS_QUERY, COUNTERS = range(1, 11)
HELLO_CONTROL = 1
OP_FAULT_TAKE, OP_INJECT_FAULT, OP_SET_LATENCY, OP_GLOBAL_COUNTERS, OP_CLIENT_COUNTERS, OP_LIST_CLIENTS, OP_STOP = (
    range(100, 107))
# engine_calls.h ops used here
OP_SET_DISCONNECTED, OP_UNEXPECTED_EXIT, OP_RESET, OP_COUNTS = 24, 25, 27, 28


def frame(kind: int, payload: bytes = b"", msg_id: int = 0, handles: int = 0) -> bytes:
    """One message: header + payload."""
    return HEADER.pack(len(payload), kind, handles, msg_id) + payload


def encode_string(s: Optional[str]) -> bytes:
    if s is None:
        return struct.pack("<I", NULL_STRING)
    b = s.encode()
    return struct.pack("<I", len(b)) + b


def encode_args(fmt: str, args: Sequence[Any]) -> bytes:
    """The inputs of a request in engine_calls.h notation (s/t string, U uint64, u uint32, i int32)."""
    inputs = fmt.split(">", 1)[0]
    if len(inputs) != len(args):
        raise ValueError(f"format {fmt!r} takes {len(inputs)} arguments, got {len(args)}")
    out = b""
    for code, value in zip(inputs, args):
        if code in "st":
            out += encode_string(value)
        elif code == "U":
            out += struct.pack("<Q", value)
        elif code == "u":
            out += struct.pack("<I", value)
        elif code == "i":
            out += struct.pack("<i", value)
        else:
            raise ValueError(f"unknown input code {code!r}")
    return out


def request(op: int, fmt: str, args: Sequence[Any], msg_id: int) -> bytes:
    return frame(REQUEST, struct.pack("<HH", op, 0) + encode_args(fmt, args), msg_id)


def hello(pid: Optional[int] = None, flags: int = HELLO_CONTROL,
          versions: Tuple[int, int] = (VERSION, VERSION)) -> bytes:
    return frame(HELLO, struct.pack("<IHHII", MAGIC, versions[0], versions[1], os.getpid() if pid is None else pid,
                                    flags))


class Reader:
    """Sequential reads from a payload."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        s = struct.Struct("<" + fmt)
        value = s.unpack_from(self.data, self.pos)
        self.pos += s.size
        return value[0] if len(value) == 1 else value

    def string(self) -> Optional[str]:
        n = self.take("I")
        if n == NULL_STRING:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s


#: Output codes of engine_calls.h formats and their struct formats.
OUTPUT_CODES = {"U": "Q", "n": "i", "L": "q"}


class Pipe:
    """A byte stream to the endpoint: a Unix socket, or a named pipe opened as a file on Windows."""

    def __init__(self, endpoint: str, timeout: float) -> None:
        self._sock: Optional[socket.socket] = None
        self._fd: Optional[int] = None
        if IS_WINDOWS:
            name = endpoint if endpoint.lower().startswith(("\\\\.\\pipe\\", "\\\\?\\pipe\\")) else (
                "\\\\.\\pipe\\" + endpoint)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    self._fd = os.open(name, os.O_RDWR | getattr(os, "O_BINARY", 0))
                    break
                except OSError as exc:
                    # ERROR_PIPE_BUSY (231): every instance is taken for a moment. os.open goes through the C
                    # runtime, whose errno table has no entry for it: it arrives as EINVAL, without a winerror.
                    busy = getattr(exc, "winerror", None) == 231 or exc.errno == errno.EINVAL
                    if not busy or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(endpoint)
            except BaseException:
                sock.close()
                raise
            self._sock = sock

    def send(self, data: bytes) -> None:
        if self._sock is not None:
            self._sock.sendall(data)
        else:
            assert self._fd is not None
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]

    def recv_exact(self, n: int) -> bytes:
        chunks = []
        while n > 0:
            if self._sock is not None:
                chunk = self._sock.recv(n)
            else:
                assert self._fd is not None
                chunk = os.read(self._fd, n)
            if not chunk:
                raise EOFError("the fake HCS service closed the connection")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        elif self._fd is not None:
            os.close(self._fd)
        self._sock = self._fd = None
