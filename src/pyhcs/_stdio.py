"""The std handles of an HCS process as Python file objects and asyncio streams.

HCS_PROCESS_INFORMATION's handles belong to the caller (hcsshim wraps and closes them: internal/hcs/v2/system.go
CreateProcess, utils.go makeOpenFiles). On Windows they are Win32 HANDLEs, turned into C runtime file descriptors
with ``msvcrt.open_osfhandle`` (the descriptor then owns the handle); elsewhere they are already file descriptors
(the fake's convention). Each is converted exactly once, at once, so closing the file closes the handle.

What these files add to plain ``os.fdopen`` files, each for a failure seen in real programs (issue 8):

* **End of a console is end of file.** A process created with ``emulate_console`` talks through a pseudo terminal;
  once its side is gone, Linux fails the read with EIO *after* the buffered output. The readers (``read()``,
  ``communicate()``, ``run()``, the asyncio stream) return that output and then end of file, as for a pipe.
* **close() never hangs and wakes the threads using the file.** A thread blocked reading (or writing) is woken with
  the closing error, and the descriptor is closed by the last thread to leave it -- never under a read in flight
  (a buffered file's close would otherwise wait for that read, and a descriptor closed under it could be reused).
  On POSIX the wait is a ``poll`` on the descriptor and a private wake-up pipe (made only when a read or write
  has to wait). On Windows anonymous pipes cannot be polled: a blocked thread is woken with CancelSynchronousIo.
* **Closing stdin gives the process end of file.** hcsshim's StdioLegacy: closing the returned handle alone does
  not close the pipe HCS holds; CloseStdin closes the local end *and* sends ProcessModifyRequest CloseHandle StdIn
  (internal/hcs/v2/process.go). The stdin file's close() does both; the request is fire-and-forget, so close()
  never blocks on HCS and works from any thread.
"""

from __future__ import annotations

import errno
import io
import os
import sys
import threading
from typing import IO, TYPE_CHECKING, Any, Callable, List, Optional, Set, Tuple, Union, cast

if TYPE_CHECKING:
    import asyncio

_IS_WINDOWS = sys.platform == "win32"
_CHUNK = 65536


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


def is_pty_eof(exc: BaseException) -> bool:
    """Reading a pty whose other side closed raises EIO on Linux; that is end of file."""
    return isinstance(exc, OSError) and getattr(exc, "errno", None) == errno.EIO


class _PipeEnd(io.RawIOBase):
    """One end of a std pipe (or a pty): the descriptor, the threads using it, and how to wake them."""

    def __init__(self, fd: int, on_close: Optional[Callable[[], None]] = None) -> None:
        super().__init__()
        self._fd = fd
        self._state = threading.Lock()
        self._busy = 0
        self._busy_threads: Set[int] = set()
        self._error: Optional[BaseException] = None  # what a woken (or later) user gets
        self._fd_closed = False
        self._wake: Optional[Tuple[int, int]] = None
        self._on_close = on_close

    # -- io.RawIOBase ------------------------------------------------------------------------------------------
    def fileno(self) -> int:
        if self._fd_closed:
            raise ValueError("I/O operation on closed file")
        return self._fd

    @property
    def name(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return not self._fd_closed and os.isatty(self._fd)

    def close(self) -> None:
        """Close the file (idempotent, any thread, never blocks): threads blocked in a read or write are woken
        with ValueError, and the descriptor closes when the last of them has left."""
        self.interrupt(ValueError("I/O operation on closed file"))

    def interrupt(self, error: BaseException) -> None:
        """Close the file, waking the threads inside it with *error* (pyhcs uses HcsClosedError when the
        process is closed)."""
        with self._state:
            first = self._error is None
            if first:
                self._error = error
            busy = self._busy
            wake = self._wake
            threads = list(self._busy_threads)
        if not first:
            return
        super().close()  # closed from now on, for every caller
        if busy:
            if wake is not None:
                try:
                    os.write(wake[1], b"x")
                except OSError:
                    pass
            if _IS_WINDOWS:
                _cancel_synchronous_io(threads, lambda: self._busy > 0)
        else:
            self._close_fd()
        hook, self._on_close = self._on_close, None
        if hook is not None:
            hook()

    # -- the protocol every read and write follows ------------------------------------------------------------
    def _enter(self) -> None:
        with self._state:
            if self._error is not None:
                raise self._error
            self._busy += 1
            if _IS_WINDOWS:
                self._busy_threads.add(threading.get_native_id())

    def _leave(self) -> None:
        with self._state:
            self._busy -= 1
            if _IS_WINDOWS:
                self._busy_threads.discard(threading.get_native_id())
            last = self._busy == 0 and self._error is not None
        if last:
            self._close_fd()

    def _close_fd(self) -> None:
        with self._state:
            if self._fd_closed:
                return
            self._fd_closed = True
            wake, self._wake = self._wake, None
        try:
            os.close(self._fd)
        except OSError:
            pass
        if wake is not None:
            for fd in wake:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _wait(self, event: int) -> None:
        """Block until the descriptor is ready for *event* (POLLIN/POLLOUT) or the file is closed (raises)."""
        import select

        p = select.poll()
        p.register(self._fd, event)
        if p.poll(0):
            return
        with self._state:
            if self._error is not None:
                raise self._error
            if self._wake is None:
                r, w = os.pipe()
                os.set_blocking(w, False)
                self._wake = (r, w)
            wake_r = self._wake[0]
        p.register(wake_r, select.POLLIN)
        p.poll()
        if self._error is not None:
            raise self._error

    def _raise_if_closed(self) -> None:
        error = self._error
        if error is not None:
            raise error


class PipeReader(_PipeEnd):
    """The read end of a process's stdout or stderr (or its console)."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        # A pty's end reads as EIO once the process side closed; a pipe never fails with EIO.
        self._eio_is_eof = not _IS_WINDOWS and os.isatty(fd)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._enter()
        try:
            view = memoryview(buffer).cast("B")
            if not _IS_WINDOWS:
                self._wait(_POLLIN)
            try:
                if _IS_WINDOWS:
                    data = os.read(self._fd, len(view))
                    n = len(data)
                    view[:n] = data
                else:
                    n = os.readv(self._fd, [view])  # straight into the caller's buffer
            except OSError as exc:
                self._raise_if_closed()
                if self._eio_is_eof and exc.errno == errno.EIO:
                    return 0
                raise
            self._raise_if_closed()
            return n
        finally:
            self._leave()

    def readall(self) -> bytes:
        """Everything up to end of file (a console's EIO included)."""
        chunks: List[bytes] = []
        while True:
            chunk = self.read(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


class PipeWriter(_PipeEnd):
    """The write end of a process's stdin, unbuffered: ``write`` sends everything before it returns."""

    mode = "wb"

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        self._enter()
        try:
            done = 0
            while done < total:
                if not _IS_WINDOWS:
                    self._wait(_POLLOUT)
                    # After POLLOUT a pipe takes PIPE_BUF bytes without blocking; more could block uninterruptibly.
                    end = min(total, done + _PIPE_BUF)
                else:
                    end = total
                try:
                    done += os.write(self._fd, view[done:end])
                except OSError as exc:
                    self._raise_if_closed()
                    if _IS_WINDOWS and exc.errno == errno.EINVAL and not isinstance(exc, BrokenPipeError):
                        # The C runtime reports a pipe whose reader is gone (ERROR_NO_DATA) as EINVAL; it is what
                        # POSIX calls EPIPE, and what subprocess and asyncio users catch.
                        raise BrokenPipeError(errno.EPIPE, "Broken pipe: the process closed its stdin") from exc
                    raise
                self._raise_if_closed()
            return total
        finally:
            self._leave()


if not _IS_WINDOWS:
    import select as _select

    _POLLIN = _select.POLLIN
    _POLLOUT = _select.POLLOUT
    _PIPE_BUF = getattr(_select, "PIPE_BUF", 512)
else:  # pragma: no cover - Windows
    _POLLIN = _POLLOUT = 0
    _PIPE_BUF = 1 << 30


def _cancel_synchronous_io(threads: List[int], still_busy: Callable[[], bool]) -> None:
    """Wake Windows threads blocked in ReadFile/WriteFile on an anonymous pipe (which cannot be polled)."""
    import ctypes
    import time

    k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    k32.OpenThread.restype = ctypes.c_void_p
    k32.OpenThread.argtypes = (ctypes.c_uint32, ctypes.c_int, ctypes.c_uint32)
    k32.CancelSynchronousIo.argtypes = (ctypes.c_void_p,)
    k32.CloseHandle.argtypes = (ctypes.c_void_p,)
    # A thread may be between "entered" and ReadFile when the first cancel lands: try again for a short while.
    for _ in range(20):
        for tid in threads:
            handle = k32.OpenThread(0x0001, 0, tid)  # THREAD_TERMINATE: the right CancelSynchronousIo needs
            if handle:
                k32.CancelSynchronousIo(handle)
                k32.CloseHandle(handle)
        if not still_busy():
            return
        time.sleep(0.005)


class ProcessOutput(io.BufferedReader):
    """A process's stdout or stderr: a buffered binary reader whose close() never waits for a read in flight."""

    raw: PipeReader

    def close(self) -> None:
        raw = self.raw
        raw.close()
        if not raw._busy:  # else the reader thread holds the buffer's lock; the raw file closes the descriptor
            super().close()

    def interrupt(self, error: BaseException) -> None:
        """Close, waking readers in other threads with *error*."""
        self.raw.interrupt(error)
        self.close()


def open_reader(handle: Optional[int]) -> Optional[IO[bytes]]:
    if handle is None:
        return None
    return cast(IO[bytes], ProcessOutput(PipeReader(handle_to_fd(handle, True)), _CHUNK))


def open_writer(handle: Optional[int], on_close: Optional[Callable[[], None]] = None) -> Optional[IO[bytes]]:
    """stdin as an unbuffered binary file (a write reaches the process without a flush the user could forget);
    *on_close* runs once when it is closed (Process sends CloseHandle StdIn from there)."""
    if handle is None:
        return None
    return cast(IO[bytes], PipeWriter(handle_to_fd(handle, False), on_close))


def interrupt(file: Optional[IO[bytes]], error: BaseException) -> None:
    """Close *file*, waking the threads using it with *error* (plain files are just closed)."""
    if file is None:
        return
    stop = getattr(file, "interrupt", None)
    try:
        if stop is not None:
            stop(error)
        else:
            file.close()
    except (OSError, ValueError):
        pass


def read_all(file: Optional[IO[bytes]]) -> bytes:
    if file is None:
        return b""
    chunks = []
    try:
        while True:
            chunk = file.read(_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        if not is_pty_eof(exc):
            raise
    return b"".join(chunks)


# -- asyncio -------------------------------------------------------------------------------------------------


def _reader_protocol(reader: "asyncio.StreamReader", loop: "asyncio.AbstractEventLoop") -> "asyncio.Protocol":
    import asyncio

    class ConsoleAwareProtocol(asyncio.StreamReaderProtocol):
        def connection_lost(self, exc: Optional[Exception]) -> None:
            # The read pipe transport reports a pty's EIO as a lost connection; it is end of file, after the data.
            super().connection_lost(None if exc is not None and is_pty_eof(exc) else exc)

    return ConsoleAwareProtocol(reader, loop=loop)


async def reader_stream(file: IO[bytes]) -> "Tuple[asyncio.StreamReader, Callable[[], None]]":
    """An asyncio StreamReader fed from *file* (a pipe or pty end), and the function that stops it and closes
    *file*. The file then belongs to the stream: closing it directly while the loop still watches its descriptor
    would let a reused descriptor number confuse the loop."""
    import asyncio

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20, loop=loop)
    if not _IS_WINDOWS:
        try:
            protocol = _reader_protocol(reader, loop)
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
                chunk = file.read1(_CHUNK) if hasattr(file, "read1") else file.read(_CHUNK)
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
    """A process's stdin for asyncio, shaped like ``asyncio.StreamWriter``.

    ``write(data)`` (not a coroutine) queues bytes; ``await drain()`` waits while more than 64 KiB are queued and
    raises the write error if there was one (``BrokenPipeError`` once the process stopped reading); ``close()``
    (not a coroutine) sends what is queued, then closes stdin -- the process gets end of file (our end closes and
    HCS is asked to close its end, as hcsshim's CloseStdin does); ``await wait_closed()`` waits for that;
    ``write_eof()`` is ``close()``; ``is_closing()``, ``can_write_eof()``, ``writelines()`` and
    ``get_extra_info("pipe")`` behave as on a StreamWriter. The writes run on one pyhcs thread per writer, since
    anonymous pipes may block (and on Windows cannot be watched by the event loop)."""

    #: ``drain()`` waits while more than this many bytes are queued ...
    HIGH_WATER = 64 * 1024
    #: ... until no more than this many are left.
    LOW_WATER = 16 * 1024

    def __init__(self, file: IO[bytes]) -> None:
        import asyncio
        import queue

        self._file = file
        self._loop = asyncio.get_running_loop()
        self._queue: "queue.SimpleQueue[Optional[bytes]]" = queue.SimpleQueue()
        self._pending = 0
        self._error: Optional[BaseException] = None
        self._closing = False
        self._closed: "asyncio.Future[None]" = self._loop.create_future()
        self._drainers: List["asyncio.Future[None]"] = []
        self._thread: Optional[threading.Thread] = None

    # -- StreamWriter's surface ----------------------------------------------------------------------------
    def write(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Queue *data* for the process (returns at once; ``await drain()`` to wait for room). ValueError after
        ``close()``; after a write error the data is dropped and ``drain()`` raises the error."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        if self._closing:
            raise ValueError("write to a closed stdin")
        if not data or self._error is not None:
            return  # a failed pipe drops data; drain() reports the error, as on a StreamWriter
        chunk = bytes(data)
        self._pending += len(chunk)
        self._ensure_thread()
        self._queue.put(chunk)

    def writelines(self, data: "List[bytes]") -> None:
        """``write`` each item."""
        for chunk in data:
            self.write(chunk)

    async def drain(self) -> None:
        """Wait until the queue is below ``LOW_WATER`` when it was above ``HIGH_WATER``; raise the write error
        if one happened (``BrokenPipeError`` once the process stopped reading)."""
        if self._error is not None:
            raise self._error
        if self._pending <= self.HIGH_WATER:
            return
        waiter: "asyncio.Future[None]" = self._loop.create_future()
        self._drainers.append(waiter)
        await waiter
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Send what is queued, then close stdin: the process gets end of input. Returns at once; ``await
        wait_closed()`` to wait for it."""
        if self._closing:
            return
        self._closing = True
        if self._thread is None:
            self._close_file()
            if not self._closed.done():
                self._closed.set_result(None)
        else:
            self._queue.put(None)

    def write_eof(self) -> None:
        """Send what is queued, then end the process's input (on a pipe that is ``close()``)."""
        self.close()

    def can_write_eof(self) -> bool:
        """True: a pipe can end its input."""
        return True

    def is_closing(self) -> bool:
        """Whether ``close()`` (or ``write_eof()``) was called."""
        return self._closing

    async def wait_closed(self) -> None:
        """Wait until stdin is closed (after ``close()``); a process that stopped reading does not make it fail."""
        import asyncio

        await asyncio.shield(self._closed)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``"pipe"``: the stdin file underneath; anything else: *default*."""
        return {"pipe": self._file}.get(name, default)

    @property
    def closed(self) -> bool:
        """Whether stdin is closed (the writes queued before ``close()`` were sent)."""
        return self._closed.done()

    def _abort(self, error: BaseException) -> None:
        """``Process.close()`` (any thread): close stdin now, waking a blocked write with *error*, and let the
        writer thread end; what is still queued is dropped."""
        interrupt(self._file, error)
        self._closing = True
        if self._thread is not None:
            self._queue.put(None)
        else:
            self._call(self._finished)

    # -- the writer thread -----------------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pyhcs-stdin", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        failed: Optional[BaseException] = None
        while True:
            chunk = self._queue.get()
            if chunk is None:
                break
            if failed is None:
                try:
                    self._file.write(chunk)
                except (OSError, ValueError) as exc:
                    failed = exc
            self._call(self._written, len(chunk), failed)
        self._close_file()
        self._call(self._finished)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: nobody is waiting
            pass

    def _written(self, n: int, error: Optional[BaseException]) -> None:
        self._pending -= n
        if error is not None and self._error is None:
            self._error = error if isinstance(error, OSError) else BrokenPipeError(str(error))
        if self._pending <= self.LOW_WATER or self._error is not None:
            drainers, self._drainers = self._drainers, []
            for waiter in drainers:
                if not waiter.done():
                    waiter.set_result(None)

    def _finished(self) -> None:
        self._written(0, None)
        if not self._closed.done():
            self._closed.set_result(None)

    def _close_file(self) -> None:
        try:
            self._file.close()
        except (OSError, ValueError):
            pass
