"""The state store (pyhcs.runhcs.state): atomic records, one lock per container, with real processes racing and
being killed. runhcs's equivalent is a volatile registry key per container (hcsshim internal/regstate)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyhcs.runhcs.errors import CliError
from pyhcs.runhcs.platform import FileLock, process_alive, process_token, resolve_root, default_root_base
from pyhcs.runhcs.state import Store, decode_id, encode_id
from tests.support import IS_WINDOWS

ROUNDS = 4 if IS_WINDOWS else 12  # a Windows Python starts slowly under Wine


def worker(code: str, *args: str) -> "subprocess.Popen[bytes]":
    """A Python process running *code* with pyhcs importable (argv: the extra *args*)."""
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env = dict(os.environ, PYTHONPATH=os.path.abspath(src) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# -- names ------------------------------------------------------------------------------------------------------------
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_any_id_is_one_safe_file_name_and_decodes_back(container_id: str) -> None:
    name = encode_id(container_id)
    assert set(name[2:]) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-%ABCDEF")
    assert decode_id(name) == container_id


def test_ids_that_differ_only_in_case_or_are_reserved_windows_names_stay_distinct() -> None:
    assert encode_id("CON") != encode_id("con")
    assert encode_id("CON").startswith("c-")  # never a bare device name on Windows
    assert decode_id("c-%41") == "A" and decode_id("not-ours") is None and decode_id("c-%4") is None


def test_a_root_name_lives_under_the_default_location_and_a_path_is_a_path(tmp_path: Any) -> None:
    assert resolve_root("default") == os.path.join(default_root_base(), "default")
    assert resolve_root(str(tmp_path)) == str(tmp_path)
    assert resolve_root("./x") == os.path.abspath("x")


# -- records -----------------------------------------------------------------------------------------------------------
def test_records_are_created_once_loaded_updated_and_removed(tmp_path: Any) -> None:
    store = Store(str(tmp_path / "root"))
    assert store.ids() == []
    with store.locked("c1"):
        store.create({"id": "c1", "bundle": "/b"})
        with pytest.raises(CliError, match="^container c1 already exists$"):
            store.create({"id": "c1"})
    assert store.load("c1")["bundle"] == "/b"
    assert store.update("c1", exit={"code": 3})
    assert store.load("c1")["exit"] == {"code": 3}
    assert store.ids() == ["c1"]
    store.remove("c1")
    with pytest.raises(CliError, match="^ID 'c1' was not found$"):
        store.load("c1")
    assert not store.update("c1", x=1)


def test_a_damaged_record_is_reported_with_its_path(tmp_path: Any) -> None:
    store = Store(str(tmp_path))
    with open(os.path.join(str(tmp_path), encode_id("c1") + ".json"), "w") as fh:
        fh.write('{"id": "c1", "forma')
    with pytest.raises(CliError, match="state record of c1 .* is corrupt"):
        store.load("c1")


def test_no_lock_files_remain_after_a_container_is_removed(tmp_path: Any) -> None:
    store = Store(str(tmp_path))
    with store.locked("gone"):
        store.create({"id": "gone"})
    with store.locked("gone"):
        store.remove("gone")
    if not IS_WINDOWS:  # an open file cannot be removed on Windows; a waiter may hold it
        assert os.listdir(str(tmp_path)) == []


# -- locks and crashes, with real processes ----------------------------------------------------------------------------
INCREMENT = """
    import sys
    from pyhcs.runhcs.state import Store
    store = Store(sys.argv[1])
    for _ in range(int(sys.argv[2])):
        with store.locked("c1"):
            record = store.load("c1")
            record["count"] += 1
            store.save(record)
"""


def test_concurrent_commands_on_one_container_serialise(tmp_path: Any) -> None:
    store = Store(str(tmp_path))
    with store.locked("c1"):
        store.create({"id": "c1", "count": 0})
    procs = [worker(INCREMENT, str(tmp_path), "25") for _ in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert store.load("c1")["count"] == 75  # no update lost: each read-modify-write ran alone


HOLD_LOCK = """
    import sys, time
    from pyhcs.runhcs.state import Store
    store = Store(sys.argv[1])
    with store.locked("c1"):
        print("locked", flush=True)
        time.sleep(600)
"""


def test_a_lock_held_by_a_killed_process_is_free_again(tmp_path: Any) -> None:
    holder = worker(HOLD_LOCK, str(tmp_path))
    assert holder.stdout is not None and holder.stdout.readline() == b"locked" + os.linesep.encode()
    lock = FileLock(os.path.join(str(tmp_path), encode_id("c1") + ".lock"))
    assert not lock.acquire(timeout=0.2)  # really held
    holder.kill()  # SIGKILL / TerminateProcess: no cleanup runs
    holder.wait(30)
    started = time.monotonic()
    assert lock.acquire(timeout=30)
    assert time.monotonic() - started < 10
    lock.release()
    holder.stdout.close()
    assert holder.stderr is not None
    holder.stderr.close()


REWRITE = """
    import sys
    from pyhcs.runhcs.state import Store
    store = Store(sys.argv[1])
    n = 0
    print("go", flush=True)
    while True:
        n += 1
        with store.locked("c1"):
            record = store.load("c1")
            record["n"] = n
            record["payload"] = "x" * (200000 + n % 7919)  # big enough that a write takes several syscalls
            store.save(record)
"""


def test_a_writer_killed_mid_write_never_leaves_a_torn_record(tmp_path: Any) -> None:
    store = Store(str(tmp_path))
    with store.locked("c1"):
        store.create({"id": "c1", "n": 0, "payload": ""})
    for i in range(ROUNDS):
        writer = worker(REWRITE, str(tmp_path))
        assert writer.stdout is not None
        writer.stdout.readline()
        time.sleep(0.05 + 0.03 * (i % 5))
        writer.kill()
        writer.wait(30)
        writer.stdout.close()
        assert writer.stderr is not None
        writer.stderr.close()
        record = store.load("c1")  # always a whole record: the old one or a new one
        assert len(record["payload"]) in (0, 200000 + record["n"] % 7919)
        assert record["n"] >= 0
    assert store.ids() == ["c1"]  # temp files of killed writers are not records


# -- is the helper still ours? -----------------------------------------------------------------------------------------
def test_process_token_identifies_a_live_process_and_not_a_finished_one() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        token = process_token(child.pid)
        assert token is not None and process_alive(child.pid, token)
        assert not process_alive(child.pid, token + "0")  # another process with this pid
    finally:
        child.kill()
    if not IS_WINDOWS:  # a zombie (not yet reaped) already counts as gone; SIGKILL makes one soon, not at once
        deadline = time.monotonic() + 10
        while process_alive(child.pid, token) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not process_alive(child.pid, token)
    child.wait()
    assert not process_alive(child.pid, token)
    assert process_token(os.getpid()) is not None
