"""The operating-system pieces of the CLI: where state lives by default, whether a helper process is still the one
we started, file locks, detached helper processes with inherited handles, and Go's error texts.

runhcs keeps state in the volatile registry key ``HKLM\\SOFTWARE\\Microsoft\\runhcs\\<root>``; pyhcs keeps it in a
directory (see :func:`default_root_base`) so the same code runs on Windows and on the Linux test host.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

IS_WINDOWS = sys.platform == "win32"

__all__ = [
    "IS_WINDOWS",
    "default_root_base",
    "resolve_root",
    "process_token",
    "process_alive",
    "FileLock",
    "spawn_detached",
    "helper_interpreter",
    "go_chdir_error",
    "inheritable_handle",
    "open_inherited",
]


# -- where state lives ----------------------------------------------------------------------------------------------
def default_root_base() -> str:
    """The directory under which a ``--root`` *name* (like runhcs's default ``default``) is kept.

    Windows: ``%ProgramData%\\pyhcs\\runhcs`` -- machine-wide like runhcs's HKLM key (HCS is machine-wide).
    Linux/POSIX: ``/run/pyhcs/runhcs`` for root (a tmpfs cleared at boot, like a volatile key); otherwise
    ``$XDG_RUNTIME_DIR/pyhcs/runhcs``, else ``<tmp>/pyhcs-<uid>/runhcs``."""
    if IS_WINDOWS:
        base = os.environ.get("ProgramData") or os.environ.get("ALLUSERSPROFILE") or "C:\\ProgramData"
        return os.path.join(base, "pyhcs", "runhcs")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and os.path.isdir("/run"):
        return "/run/pyhcs/runhcs"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and os.path.isdir(runtime_dir):
        return os.path.join(runtime_dir, "pyhcs", "runhcs")
    import tempfile

    return os.path.join(tempfile.gettempdir(), f"pyhcs-{os.getuid()}", "runhcs")


def resolve_root(value: str) -> str:
    """``--root``: a value with a path separator (or ``.``/``..``, or absolute) is a directory path, made absolute;
    any other value is a name under :func:`default_root_base` (runhcs: a registry key name, default "default")."""
    separators = ("/", "\\") if IS_WINDOWS else ("/",)
    if value in (".", "..") or os.path.isabs(value) or any(s in value for s in separators):
        return os.path.abspath(value)
    return os.path.join(default_root_base(), value)


# -- is the helper we recorded still running? ---------------------------------------------------------------------
def process_token(pid: int) -> Optional[str]:
    """Something that identifies process *pid* for its whole life and never again (its start time, and on Linux the
    boot id), so a recycled pid is not mistaken for our helper. None when no such process exists."""
    if IS_WINDOWS:
        return _windows_token(pid)
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
            with open("/proc/sys/kernel/random/boot_id", "rb") as fh:
                boot = fh.read().strip().decode()
        except OSError:
            return None
        # Field 3 is the state, field 22 the start time; the command name (field 2) may hold spaces and ")".
        fields = stat[stat.rindex(b")") + 2:].split()
        if fields[0] in (b"Z", b"X"):
            return None  # a zombie has exited
        return f"linux:{boot}:{int(fields[19])}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return f"pid:{pid}"


def process_alive(pid: int, token: str) -> bool:
    """Whether *pid* is still the process that had *token* (see process_token)."""
    if pid <= 0:
        return False
    return process_token(pid) == token


def _windows_token(pid: int) -> Optional[str]:
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    kernel32.GetProcessTimes.argtypes = [wintypes.HANDLE] + [ctypes.POINTER(wintypes.FILETIME)] * 4
    kernel32.WaitForSingleObject.argtypes = [wintypes.HANDLE, wintypes.DWORD]
    kernel32.WaitForSingleObject.restype = wintypes.DWORD
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    process_query_limited_information, synchronize = 0x1000, 0x00100000
    handle = kernel32.OpenProcess(process_query_limited_information | synchronize, False, pid)
    if not handle:
        return None
    try:
        if kernel32.WaitForSingleObject(handle, 0) == 0:  # WAIT_OBJECT_0: the process has exited
            return None
        times = [wintypes.FILETIME() for _ in range(4)]
        if not kernel32.GetProcessTimes(handle, *[ctypes.byref(t) for t in times]):
            return None
        created = (times[0].dwHighDateTime << 32) | times[0].dwLowDateTime
        return f"windows:{created}"
    finally:
        kernel32.CloseHandle(handle)


# -- file locks -----------------------------------------------------------------------------------------------------
class FileLock:
    """An exclusive lock on a file, held by this process until release() (or its death: the OS drops the locks of
    a dead process, so a command killed with SIGKILL never leaves a stale lock behind).

    POSIX: flock(2) on an open file, re-checked after locking so a lock file unlinked meanwhile (by delete) is not
    trusted. Windows: LockFileEx-style byte lock through msvcrt.locking, polled (msvcrt has no infinite wait)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: Optional[int] = None

    def acquire(self, timeout: Optional[float] = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
            except PermissionError:
                # Windows: the lock file is being deleted by the previous holder ("delete pending" refuses new
                # opens until its last handle closes): wait for it like for a held lock.
                if not IS_WINDOWS:
                    raise
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
                continue
            try:
                if self._try_lock(fd, block=deadline is None):
                    if IS_WINDOWS or self._same_file(fd):
                        self._fd = fd
                        return True
                    self._unlock(fd)  # the lock file was replaced while we waited: lock the new one
                    os.close(fd)
                    continue
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _same_file(self, fd: int) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        own = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)

    @staticmethod
    def _try_lock(fd: int, block: bool) -> bool:
        if IS_WINDOWS:
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
                return True
            except OSError:
                return False
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
            return True
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise

    @staticmethod
    def _unlock(fd: int) -> None:
        if IS_WINDOWS:
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            try:
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
            except OSError:
                pass
            return
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)

    def release(self, unlink: bool = False) -> None:
        """Release; with *unlink*, also remove the lock file (after delete, so lock files do not pile up).

        POSIX: unlink *before* unlocking, so a waiter that then gets the old file sees it is no longer the lock
        (acquire re-checks). Windows: a file cannot be removed while open, and an open waiter makes removal fail
        harmlessly; so close first, then try."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if unlink and not IS_WINDOWS:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        self._unlock(fd)
        os.close(fd)
        if unlink and IS_WINDOWS:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    @property
    def held(self) -> bool:
        return self._fd is not None


# -- files that are replaced while others read them ------------------------------------------------------------------
def read_file(path: str) -> bytes:
    """The whole file. On Windows it is opened with FILE_SHARE_DELETE (Python's open() does not share delete), so
    a writer can still replace it by rename while we read -- the POSIX behaviour the state store relies on."""
    if not IS_WINDOWS:
        with open(path, "rb") as fh:
            return fh.read()
    import ctypes
    import msvcrt
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.CreateFileW.restype = wintypes.HANDLE
    kernel32.CreateFileW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p,
                                     wintypes.DWORD, wintypes.DWORD, wintypes.HANDLE]
    generic_read, share_all, open_existing, normal = 0x80000000, 0x7, 3, 0x80
    handle = kernel32.CreateFileW(path, generic_read, share_all, None, open_existing, normal, None)
    if handle is None or handle == wintypes.HANDLE(-1).value:
        error = ctypes.get_last_error()  # type: ignore[attr-defined]
        raise OSError(None, ctypes.FormatError(error).strip(), path, error)  # type: ignore[attr-defined]
    fd = msvcrt.open_osfhandle(handle, os.O_RDONLY)  # type: ignore[attr-defined]
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def replace_file(source: str, target: str, timeout: float = 5.0) -> None:
    """os.replace, retried on Windows while another program holds *target* open without FILE_SHARE_DELETE (a
    reader of a pid file, a virus scanner): the rename then fails with access denied for a moment."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if not IS_WINDOWS or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


# -- helper processes ----------------------------------------------------------------------------------------------
def inheritable_handle(fd: int) -> int:
    """What a child is told to open for descriptor *fd*: the descriptor itself on POSIX, the Win32 HANDLE (made
    inheritable) on Windows."""
    if IS_WINDOWS:
        import msvcrt

        handle: int = msvcrt.get_osfhandle(fd)  # type: ignore[attr-defined]
        getattr(os, "set_handle_inheritable")(handle, True)  # Windows-only
        return handle
    os.set_inheritable(fd, True)
    return fd


def open_inherited(value: int, mode: str) -> IO[bytes]:
    """The file a parent passed as :func:`inheritable_handle` (``"rb"`` or ``"wb"``)."""
    if IS_WINDOWS:
        import msvcrt

        fd = msvcrt.open_osfhandle(value, os.O_RDONLY if "r" in mode else os.O_WRONLY)  # type: ignore[attr-defined]
    else:
        fd = value
    return os.fdopen(fd, mode, buffering=0)


def spawn_detached(argv: Sequence[str], pass_fds: Sequence[int], env: Optional[Dict[str, str]] = None,
                   null_stdio: bool = False) -> "subprocess.Popen[bytes]":
    """Start a helper that outlives us: it inherits our stdin/stdout/stderr (the container's stdio; the null
    device instead with *null_stdio*) and the descriptors in *pass_fds*, and nothing else. POSIX: a new session,
    so the terminal's SIGINT/SIGHUP and our process group's signals do not reach it. Windows: a new process group
    (Ctrl+C of our console does not reach it); the handles go through PROC_THREAD_ATTRIBUTE_HANDLE_LIST."""
    if IS_WINDOWS:
        handles = [inheritable_handle(fd) for fd in pass_fds]
        startupinfo = subprocess.STARTUPINFO()  # type: ignore[attr-defined]
        startupinfo.lpAttributeList = {"handle_list": handles}
        # With a handle list, only the handles in it are inherited: the standard handles are given explicitly
        # (subprocess adds them to the list and sets STARTF_USESTDHANDLES); a missing one becomes NUL.
        std: List[Any] = [fd if fd_is_open(fd) and not null_stdio else subprocess.DEVNULL for fd in (0, 1, 2)]
        return subprocess.Popen(list(argv), stdin=std[0], stdout=std[1], stderr=std[2], close_fds=True,
                                startupinfo=startupinfo, env=env,
                                creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)  # type: ignore[attr-defined]
    null: Any = subprocess.DEVNULL if null_stdio else None
    return subprocess.Popen(list(argv), close_fds=True, pass_fds=tuple(pass_fds), start_new_session=True, env=env,
                            stdin=null, stdout=null, stderr=null)


def helper_interpreter() -> Tuple[str, Dict[str, str]]:
    """The Python to start helpers with, and what to add to their environment.

    In a Windows virtual environment ``sys.executable`` is a redirector that starts the base interpreter as its
    child and waits for it: the pid create records (and the pid file holds) would be the redirector's, and killing
    it would leave the real helper running. Like multiprocessing (bpo-35797), start the base interpreter directly
    and tell it which environment it belongs to through ``__PYVENV_LAUNCHER__``."""
    base = str(getattr(sys, "_base_executable", "") or sys.executable)
    if IS_WINDOWS and os.path.normcase(base) != os.path.normcase(sys.executable) and os.path.isfile(base):
        return base, {"__PYVENV_LAUNCHER__": sys.executable}
    return sys.executable, {}


# -- Go's words for failures -------------------------------------------------------------------------------------------
_WIN32_TEXT = {
    2: "The system cannot find the file specified.",
    3: "The system cannot find the path specified.",
    5: "Access is denied.",
    123: "The filename, directory name, or volume label syntax is incorrect.",
    267: "The directory name is invalid.",
}


def go_error_text(exc: OSError) -> str:
    """The text Go's syscall.Errno.Error() gives for *exc*: the system message with its final period on Windows,
    the lower-case C library message on POSIX."""
    winerror = getattr(exc, "winerror", None)
    if winerror is not None:
        return _WIN32_TEXT.get(winerror, (exc.strerror or str(exc)).rstrip(".") + ".")
    if exc.errno is not None:
        text = os.strerror(exc.errno)
        return text[:1].lower() + text[1:]
    return str(exc)


def go_chdir_error(path: str, exc: OSError) -> str:
    """``chdir <path>: <system message>`` as runhcs reports a bundle it cannot enter (os.Chdir's PathError)."""
    return f"chdir {path}: {go_error_text(exc)}"


def fd_is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def close_quietly(files: List[Any]) -> None:
    for f in files:
        try:
            if isinstance(f, int):
                os.close(f)
            elif f is not None:
                f.close()
        except OSError:
            pass


def pipe() -> Tuple[int, int]:
    """A pipe whose ends are not inherited by children we do not hand them to."""
    r, w = os.pipe()
    os.set_inheritable(r, False)
    os.set_inheritable(w, False)
    return r, w
