"""How the CLI talks to its per-container helpers.

* The **handshake**: two anonymous pipes between a command (create, run, exec) and the helper it starts --
  length-prefixed JSON messages. The command sends the helper its job; the helper answers ``{"ok": true, ...}`` once
  it is ready or ``{"ok": false, "error": "<text>"}``, so the user sees the bundle or HCS error itself where runhcs
  says "unknown shim failure, exit code N" (hcsshim#2156). An init helper then waits for ``{"commit": true}``:
  if the command dies before recording the container, the pipe reaches end of file and the helper undoes
  everything instead of living on unknown to the store.
* The **control endpoint**: an init helper listens for ``start`` on an endpoint only it and the state store know
  (runhcs: the named pipe ``runhcs-shim-<guid>``): a Unix socket in Linux's abstract namespace, a named pipe
  ``\\\\.\\pipe\\pyhcs-runhcs-<guid>`` on Windows. Connections authenticate with a random key kept in the
  container's record (multiprocessing.connection's HMAC challenge), so only a caller that can read the state
  store can drive the helper.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import struct
import sys
import uuid
from typing import IO, Any, Dict, Optional, Tuple, Type, TypeVar

__all__ = ["Channel", "new_endpoint", "listen", "request", "MAX_MESSAGE"]

MAX_MESSAGE = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


class Channel:
    """Length-prefixed JSON messages over a reader and a writer (either may be None)."""

    def __init__(self, reader: Optional[IO[bytes]], writer: Optional[IO[bytes]]) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, message: Dict[str, Any]) -> None:
        """Raises OSError (BrokenPipeError) when the other side is gone."""
        if self.writer is None:
            raise BrokenPipeError("the channel has no writer")
        data = json.dumps(message, separators=(",", ":")).encode("utf-8", "surrogatepass")
        _write_all(self.writer, _HEADER.pack(len(data)) + data)

    def recv(self) -> Optional[Dict[str, Any]]:
        """The next message, or None at end of file (the other side closed or died)."""
        if self.reader is None:
            return None
        header = _read_exactly(self.reader, _HEADER.size)
        if header is None:
            return None
        (size,) = _HEADER.unpack(header)
        if size > MAX_MESSAGE:
            raise ValueError(f"handshake message too large ({size} bytes)")
        body = _read_exactly(self.reader, size)
        if body is None:
            return None
        value = json.loads(body.decode("utf-8", "surrogatepass"))
        if not isinstance(value, dict):
            raise ValueError("handshake message is not a JSON object")
        return value

    def close(self) -> None:
        for f in (self.reader, self.writer):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self.reader = self.writer = None


_J = TypeVar("_J", bound="JobMessage")


class JobMessage:
    """A helper's job as the first handshake message: ``{KEY: fields}``; unknown fields are ignored, so a helper
    and a newer command still understand each other. For dataclasses."""

    KEY = "job"
    WHAT = "a job"

    def to_message(self) -> Dict[str, Any]:
        return {self.KEY: dataclasses.asdict(self)}  # type: ignore[call-overload]

    @classmethod
    def from_message(cls: Type[_J], message: Dict[str, Any]) -> _J:
        job = message.get(cls.KEY)
        if not isinstance(job, dict):
            raise ValueError(f"the handshake did not start with {cls.WHAT}")
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in job.items() if k in known})


def refuse(handshake: Channel, text: str, logger: logging.Logger) -> int:
    """A helper's failure before it is ready: log *text*, send it as the handshake's error (the waiting command
    prints it), close the handshake; returns the helper's exit status, 1."""
    logger.error("%s", text)
    try:
        handshake.send({"ok": False, "error": text})
    except OSError:
        pass  # the command is gone (killed mid-create): nobody waits for the answer
    handshake.close()
    return 1


def accept(listener: Any, logger: logging.Logger) -> Any:
    """The next control connection a helper's listener authenticates; failed and refused ones (a stranger without
    the key) are logged and skipped."""
    while True:
        try:
            return listener.accept()
        except (OSError, EOFError) as exc:
            logger.warning("control connection failed: %s", exc)
        except Exception as exc:  # noqa: BLE001 - multiprocessing.AuthenticationError: a stranger
            logger.warning("control connection refused: %s", exc)


def _write_all(f: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    fd = f.fileno()
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exactly(f: IO[bytes], size: int) -> Optional[bytes]:
    chunks = []
    fd = f.fileno()
    while size:
        try:
            chunk = os.read(fd, size)
        except BrokenPipeError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


# -- the control endpoint -----------------------------------------------------------------------------------------
def new_endpoint() -> str:
    name = f"pyhcs-runhcs-{uuid.uuid4()}"
    if sys.platform == "win32":
        return "\\\\.\\pipe\\" + name
    if sys.platform.startswith("linux"):
        return "\0" + name  # abstract: no file to leave behind, no path-length limit
    import tempfile

    return os.path.join(tempfile.gettempdir(), name + ".sock")


def _family(endpoint: str) -> str:
    return "AF_PIPE" if endpoint.startswith("\\\\.\\pipe\\") else "AF_UNIX"


def listen(endpoint: str, authkey: bytes) -> Any:
    """A multiprocessing.connection.Listener on *endpoint*."""
    from multiprocessing.connection import Listener

    return Listener(endpoint, _family(endpoint), authkey=authkey)


def request(endpoint: str, authkey: bytes, message: Dict[str, Any]) -> Tuple[Optional[Dict[str, Any]], str]:
    """Send *message* to the helper listening on *endpoint* and return ``(reply, "")``, or ``(None, reason)`` when
    it cannot be reached or hangs up without answering."""
    from multiprocessing.connection import Client

    try:
        conn = Client(endpoint, _family(endpoint), authkey=authkey)
    except (OSError, EOFError) as exc:
        return None, f"cannot reach the container's helper ({exc.__class__.__name__}: {exc})"
    except Exception as exc:  # multiprocessing.AuthenticationError
        return None, f"the container's helper refused the connection ({exc})"
    try:
        conn.send_bytes(json.dumps(message).encode("utf-8"))
        data = conn.recv_bytes(MAX_MESSAGE)
    except (OSError, EOFError):
        return None, "the container's helper hung up without answering"
    finally:
        conn.close()
    value = json.loads(data.decode("utf-8"))
    return (value if isinstance(value, dict) else None), ""
