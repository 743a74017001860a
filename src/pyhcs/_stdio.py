"""The std handles of an HCS process as Python file objects and asyncio streams.

HCS_PROCESS_INFORMATION's handles belong to the caller (hcsshim wraps and closes them: internal/hcs/v2/system.go
CreateProcess, utils.go makeOpenFiles). On Windows they are Win32 HANDLEs, turned into C runtime file descriptors
with ``msvcrt.open_osfhandle`` (the descriptor then owns the handle); elsewhere they are already file descriptors
(the fake's convention). Each is converted exactly once, at once, so closing the file closes the handle.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import IO, TYPE_CHECKING, Callable, Optional, Tuple

if TYPE_CHECKING:
    import asyncio

_IS_WINDOWS = sys.platform == "win32"


def handle_to_fd(handle: int, readable: bool) -> int:
    """A file descriptor owning *handle*."""
    if _IS_WINDOWS:
        import msvcrt

        return msvcrt.open_osfhandle(handle, os.O_RDONLY if readable else os.O_WRONLY)  # type: ignore[attr-defined,no-any-return]
    return handle


def close_handle(handle: int) -> None:
    """Close a std handle nobody will use (NULL-safe through the callers)."""
    try:
        os.close(handle_to_fd(handle, True))
    except OSError:
        pass


def open_reader(handle: Optional[int]) -> Optional[IO[bytes]]:
    if handle is None:
        return None
    return os.fdopen(handle_to_fd(handle, True), "rb")


def open_writer(handle: Optional[int]) -> Optional[IO[bytes]]:
    if handle is None:
        return None
    # Unbuffered: a write reaches the process without a flush the user could forget.
    return os.fdopen(handle_to_fd(handle, False), "wb", buffering=0)


async def reader_stream(file: IO[bytes]) -> "Tuple[asyncio.StreamReader, Callable[[], None]]":
    """An asyncio StreamReader fed from *file* (a pipe or pty end), and the function that stops it and closes
    *file*. The file then belongs to the stream: closing it directly while the loop still watches its descriptor
    would let a reused descriptor number confuse the loop."""
    import asyncio

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20, loop=loop)
    if not _IS_WINDOWS:
        try:
            protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
            transport, _ = await loop.connect_read_pipe(lambda: protocol, file)
        except (NotImplementedError, ValueError, OSError):
            pass
        else:
            def close_transport() -> None:
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                try:
                    if running is loop:
                        transport.close()  # closes *file* once the loop stops watching it
                    else:
                        loop.call_soon_threadsafe(transport.close)
                except RuntimeError:  # the loop is closed: nobody watches the descriptor any more
                    file.close()

            return reader, close_transport

    # Anonymous Win32 pipes are not overlapped, so the proactor cannot watch them: pump from a thread.
    def pump() -> None:
        try:
            while True:
                chunk = file.read1(65536) if hasattr(file, "read1") else file.read(65536)
                if not chunk:
                    break
                loop.call_soon_threadsafe(reader.feed_data, chunk)
        except (OSError, ValueError, RuntimeError):
            pass
        finally:
            try:
                loop.call_soon_threadsafe(reader.feed_eof)
            except RuntimeError:
                pass

    threading.Thread(target=pump, name="pyhcs-stdio", daemon=True).start()
    return reader, file.close


class StdinWriter:
    """Asynchronous writes to a process's stdin (writes run in a worker thread: pipes may block)."""

    def __init__(self, file: IO[bytes]) -> None:
        import asyncio

        self._file = file
        self._lock = asyncio.Lock()

    async def write(self, data: bytes) -> None:
        import asyncio

        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(None, self._file.write, data)

    async def close(self) -> None:
        import asyncio

        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(None, self._file.close)

    @property
    def closed(self) -> bool:
        return self._file.closed


def is_pty_eof(exc: BaseException) -> bool:
    """Reading a pty whose other side closed raises EIO on Linux; that is end of file."""
    return isinstance(exc, OSError) and getattr(exc, "errno", None) == 5


def read_all(file: Optional[IO[bytes]]) -> bytes:
    if file is None:
        return b""
    chunks = []
    try:
        while True:
            chunk = file.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        if not is_pty_eof(exc):
            raise
    return b"".join(chunks)
