"""The helper as a process (the hidden ``runhcs shim`` command), started as create starts it: detached, with the
handshake on inherited handles (descriptors on POSIX, Win32 HANDLEs through PROC_THREAD_ATTRIBUTE_HANDLE_LIST on
Windows). Each process here has its own in-process fake HCS; the commands and helpers as clients of one HCS
service are tests/runhcs/test_e2e_*.py."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Optional, Tuple

from pyhcs.runhcs.channel import Channel
from pyhcs.runhcs.shim import ShimJob, new_authkey

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src"))


def env() -> dict:
    return dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))


def spawn_helper(root: str, container_id: str) -> Tuple["subprocess.Popen[bytes]", Channel]:
    """`runhcs shim` started as create starts it, the test holding create's ends of the handshake."""
    from pyhcs.runhcs.platform import inheritable_handle, pipe, spawn_detached

    to_child_r, to_child_w = pipe()
    to_parent_r, to_parent_w = pipe()
    argv = [sys.executable, "-m", "pyhcs.runhcs", "--root", root, "shim",
            "--handshake-in", str(inheritable_handle(to_child_r)),
            "--handshake-out", str(inheritable_handle(to_parent_w)), "--stdout", container_id]
    popen = spawn_detached(argv, (to_child_r, to_parent_w), env=env())
    os.close(to_child_r)
    os.close(to_parent_w)
    return popen, Channel(os.fdopen(to_parent_r, "rb", buffering=0), os.fdopen(to_child_w, "wb", buffering=0))


def helper_job(root: str, document: Optional[dict] = None) -> ShimJob:
    from pyhcs import oci
    from tests.oci.samples import VOLUME

    if document is None:
        document = oci.container_document({"ociVersion": "1.1.0", "root": {"path": VOLUME},
                                           "windows": {"layerFolders": ["C:\\l", "C:\\s"]}})
    return ShimJob(container_id="h1", root=root, document=document, process=None, stdin=False, stdout=True,
                   stderr=False, authkey=new_authkey())


def test_a_helper_whose_create_vanishes_before_the_commit_exits(tmp_path: Any) -> None:
    popen, channel = spawn_helper(str(tmp_path), "h1")
    try:
        channel.send(helper_job(str(tmp_path)).to_message())
        reply = channel.recv()
        assert reply is not None and reply["ok"] is True
        channel.close()  # as if create had been killed here
        assert popen.wait(60) == 1
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


def test_a_helper_reports_hcs_errors_through_the_handshake(tmp_path: Any) -> None:
    popen, channel = spawn_helper(str(tmp_path), "h1")
    try:
        bad = {"SchemaVersion": {"Major": 2, "Minor": 1}, "Owner": "x"}  # neither Container nor VirtualMachine
        channel.send(helper_job(str(tmp_path), bad).to_message())
        reply = channel.recv()
        assert reply is not None and reply["ok"] is False
        assert reply["error"].startswith("hcs::CreateComputeSystem h1: ")
        assert popen.wait(60) == 1
    finally:
        channel.close()
        if popen.poll() is None:
            popen.kill()
            popen.wait()


def test_a_windows_venv_starts_helpers_with_its_base_interpreter(monkeypatch: Any, tmp_path: Any) -> None:
    """In a Windows venv sys.executable is a redirector that runs the base interpreter as its child: the pid file
    would name the redirector, and killing it would leave the helper running. Helpers start the base interpreter
    with __PYVENV_LAUNCHER__, as multiprocessing does (bpo-35797)."""
    from pyhcs.runhcs import platform

    base = tmp_path / "base-python.exe"
    base.write_bytes(b"")
    monkeypatch.setattr(platform, "IS_WINDOWS", True)
    monkeypatch.setattr(sys, "_base_executable", str(base), raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "Scripts" / "python.exe"))
    assert platform.helper_interpreter() == (str(base), {"__PYVENV_LAUNCHER__": sys.executable})
    monkeypatch.setattr(sys, "_base_executable", sys.executable, raising=False)
    assert platform.helper_interpreter() == (sys.executable, {})
    monkeypatch.setattr(platform, "IS_WINDOWS", False)
    monkeypatch.setattr(sys, "_base_executable", str(base), raising=False)
    assert platform.helper_interpreter() == (sys.executable, {})  # POSIX venvs run the interpreter itself
