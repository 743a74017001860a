"""The state store: one record per container under a root directory, written atomically, one lock per container.

Layout of a root (``--root``; see :func:`pyhcs.runhcs.platform.resolve_root`)::

    <root>/c-<key>.json    the container's record (JSON), replaced atomically: temp file, fsync, rename
    <root>/c-<key>.lock    its lock: every command that reads-then-writes a container holds it
    <root>/.tmp-*          a writer's temp file (a writer killed mid-write leaves one; never read, swept later)

``<key>`` is the container id with every character outside ``a-z 0-9 _ -`` written ``%XX`` (UTF-8), so any id
is one file name on every filesystem -- including case-insensitive NTFS and Windows' reserved names, hence the
``c-`` prefix. A reader never sees a torn record: a record exists completely or not at all. A command killed while
holding a lock loses it with its process (the OS drops it), so there is nothing stale to recover by hand.

runhcs's registry store has the same shape (HKLM\\SOFTWARE\\Microsoft\\runhcs\\<root>\\<id> with values state,
shim, pid, pid-<shim pid>); the record's fields are described in :class:`Record`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .errors import CliError, already_exists, not_found
from .platform import IS_WINDOWS, FileLock, read_file, replace_file

__all__ = ["Record", "Store", "encode_id", "decode_id"]

RECORD_FORMAT = 1
_SAFE = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
_TMP_PREFIX = ".tmp-"
_STALE_TMP_SECONDS = 3600


def encode_id(container_id: str) -> str:
    out = []
    for ch in container_id:
        if ch in _SAFE:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
    return "c-" + "".join(out)


def decode_id(name: str) -> Optional[str]:
    """The id a record file name stands for (None for a name the store did not write)."""
    if not name.startswith("c-"):
        return None
    body = name[2:]
    raw = bytearray()
    i = 0
    try:
        while i < len(body):
            if body[i] == "%":
                raw.append(int(body[i + 1:i + 3], 16))
                i += 3
            else:
                raw.extend(body[i].encode("ascii"))
                i += 1
        decoded = raw.decode("utf-8", "surrogatepass")
    except (ValueError, UnicodeError):
        return None
    return decoded if encode_id(decoded) == name else None


class Record(Dict[str, Any]):
    """A container's record (a JSON object). Fields:

    ``id``, ``owner`` (--owner at create), ``bundle`` (absolute), ``rootfs``, ``created`` (ns since the epoch,
    UTC), ``ociVersion``, ``annotations``, ``spec`` (config.json as read), ``sandboxId``, ``netns``;
    ``shim``: the init helper ``{"pid", "token", "endpoint", "authkey"}`` (token: see platform.process_token);
    ``initPid``: the HCS pid of the container's process once started; ``execs``: ``{"<helper pid>": hcs pid}``
    for exec helpers (runhcs's pid-<shim pid> values); ``exit``: ``{"code", "time"}`` once the init process
    exited (written by the helper)."""

    @property
    def id(self) -> str:
        return str(self["id"])


class Store:
    """The records under one root directory."""

    def __init__(self, root: str) -> None:
        self.root = root

    # -- paths ----------------------------------------------------------------------------------------------------
    def _record_path(self, container_id: str) -> str:
        return os.path.join(self.root, encode_id(container_id) + ".json")

    def _lock_path(self, container_id: str) -> str:
        return os.path.join(self.root, encode_id(container_id) + ".lock")

    def _ensure_root(self) -> None:
        os.makedirs(self.root, mode=0o700, exist_ok=True)

    # -- locking ----------------------------------------------------------------------------------------------------
    @contextmanager
    def locked(self, container_id: str, timeout: Optional[float] = None, *, existing: bool = False
               ) -> Iterator[None]:
        """Hold *container_id*'s lock for the block: commands on one container run one after another. With
        *existing* (commands on a container that must exist), a root that does not exist is runhcs's ``ID '<id>' was
        not found`` and is not created."""
        if existing and not os.path.isdir(self.root):
            raise not_found(container_id)
        self._ensure_root()
        lock = FileLock(self._lock_path(container_id))
        if not lock.acquire(timeout):
            raise CliError(f"container {container_id} is locked by another command (waited {timeout:g} s)")
        try:
            yield
        finally:
            lock.release(unlink=not os.path.exists(self._record_path(container_id)))

    # -- records ----------------------------------------------------------------------------------------------------
    def exists(self, container_id: str) -> bool:
        return os.path.exists(self._record_path(container_id))

    def load(self, container_id: str) -> Record:
        """The record, or runhcs's ``ID '<id>' was not found``."""
        record = self.get(container_id)
        if record is None:
            raise not_found(container_id)
        return record

    def get(self, container_id: str) -> Optional[Record]:
        try:
            data = read_file(self._record_path(container_id))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CliError(f"reading state for {container_id}: {exc.strerror or exc}") from None
        try:
            value = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            # Records are replaced atomically, so this is damage from outside (an editor, a full disk before
            # pyhcs wrote it): say where it is rather than guess.
            raise CliError(f"the state record of {container_id} ({self._record_path(container_id)}) is corrupt: "
                           f"{exc}") from None
        if not isinstance(value, dict) or value.get("format") != RECORD_FORMAT:
            raise CliError(f"the state record of {container_id} ({self._record_path(container_id)}) has an "
                           "unknown format")
        return Record(value)

    def create(self, record: Dict[str, Any]) -> Record:
        """Write a new record (the caller holds the lock): runhcs's ``container <id> already exists`` if there is
        one."""
        container_id = record["id"]
        if self.exists(container_id):
            raise already_exists(container_id)
        full = Record(record)
        full["format"] = RECORD_FORMAT
        self._write(container_id, full)
        return full

    def save(self, record: Record) -> None:
        """Replace the record (the caller holds the lock and loaded it under that lock)."""
        record["format"] = RECORD_FORMAT
        self._write(record.id, record)

    def update(self, container_id: str, lock_timeout: Optional[float] = None, **fields: Any) -> bool:
        """Under the lock: set *fields* on the record; False when the record is gone (deleted meanwhile) or the lock
        could not be had within *lock_timeout*."""
        return self.amend(container_id, lambda record: record.update(fields), lock_timeout)

    def amend(self, container_id: str, change: Callable[[Record], None], lock_timeout: Optional[float] = None
              ) -> bool:
        """Under the lock: apply *change* to the record and save it; False when the record is gone (deleted
        meanwhile) or the lock could not be had within *lock_timeout*."""
        try:
            with self.locked(container_id, lock_timeout, existing=True):
                record = self.get(container_id)
                if record is None:
                    return False
                change(record)
                self.save(record)
                return True
        except CliError:
            return False

    def remove(self, container_id: str) -> None:
        try:
            os.unlink(self._record_path(container_id))
        except FileNotFoundError:
            pass

    def ids(self) -> List[str]:
        """Every container id with a record, sorted."""
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            if name.endswith(".json"):
                decoded = decode_id(name[:-5])
                if decoded is not None:
                    out.append(decoded)
        self._sweep_temp_files(names)
        return sorted(out)

    # -- atomic writes ------------------------------------------------------------------------------------------------
    def _write(self, container_id: str, record: Dict[str, Any]) -> None:
        self._ensure_root()
        data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
        tmp = os.path.join(self.root, f"{_TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)  # the data is on disk before the name points at it
            finally:
                os.close(fd)
            replace_file(tmp, self._record_path(container_id))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self._sync_directory()

    def _sync_directory(self) -> None:
        if IS_WINDOWS:
            return  # NTFS journals the rename; directories cannot be opened for fsync
        try:
            fd = os.open(self.root, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _sweep_temp_files(self, names: List[str]) -> None:
        """Temp files of writers that died mid-write are never read; remove them once clearly abandoned."""
        now = time.time()
        for name in names:
            if not name.startswith(_TMP_PREFIX):
                continue
            path = os.path.join(self.root, name)
            try:
                if now - os.stat(path).st_mtime > _STALE_TMP_SECONDS:
                    os.unlink(path)
            except OSError:
                pass


def record_times(record: Record) -> Tuple[int, Optional[int]]:
    """(created ns, exit time ns or None)."""
    exit_info = record.get("exit") or {}
    return int(record.get("created", 0)), exit_info.get("time")
