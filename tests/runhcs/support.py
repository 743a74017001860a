"""Running the CLI inside the test process against the in-process fake HCS.

Every CLI command is its own process in real use, and the helpers outlive them; until the fake runs as a shared
service (one HCS for many processes), the commands run here through ``pyhcs.runhcs.app.main`` and each helper runs
``pyhcs.runhcs.shim.run_shim`` in a thread (:class:`ThreadLauncher`) -- the same code, with the handshake over
real pipes and the control endpoint over a real socket / named pipe. What this cannot show (detached processes,
inherited handles, HCS shared between processes) is covered by tests/runhcs/test_processes.py.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from pyhcs.runhcs.app import main
from pyhcs.runhcs.channel import Channel
from pyhcs.runhcs.commands import Context, Runtime
from pyhcs.runhcs.platform import process_alive
from pyhcs.runhcs.shim import Stdio, run_shim
from tests.oci.samples import VOLUME
from tests.support import IS_WINDOWS

_tokens = itertools.count(1)


def shell(posix: str, windows: str) -> Dict[str, Any]:
    """An OCI process running a shell command: /bin/sh -c under the POSIX fake (which runs CommandLine with sh),
    cmd.exe under Wine."""
    if IS_WINDOWS:
        return {"commandLine": windows, "cwd": "C:\\"}
    return {"commandLine": posix, "cwd": "/"}


def make_bundle(directory: str, process: Optional[Dict[str, Any]] = None, **top: Any) -> str:
    """A bundle in *directory*: real layer folders (two image layers and a scratch), the scratch volume as root,
    *process* (default: echo hello), and *top* merged into config.json."""
    layers = []
    for name in ("layer-top", "layer-base", "scratch"):
        path = os.path.join(directory, name)
        os.makedirs(path, exist_ok=True)
        layers.append(path)
    config: Dict[str, Any] = {
        "ociVersion": "1.1.0",
        "process": process if process is not None else shell("echo hello", "cmd /c echo hello"),
        "root": {"path": VOLUME},
        "windows": {"layerFolders": layers},
    }
    config.update(top)
    if config.get("process") is None:
        config.pop("process", None)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as fh:
        json.dump(config, fh)
    return directory


class ThreadHelper:
    """A helper running in a thread, its container stdio on pipes the test reads."""

    def __init__(self, launcher: "ThreadLauncher", streams: Tuple[bool, bool, bool]) -> None:
        self.pid = os.getpid()
        self.token = f"thread:{next(_tokens)}"
        self.code: Optional[int] = None
        to_child = os.pipe()
        to_parent = os.pipe()
        self.channel = Channel(os.fdopen(to_parent[0], "rb", buffering=0), os.fdopen(to_child[1], "wb", buffering=0))
        child = Channel(os.fdopen(to_child[0], "rb", buffering=0), os.fdopen(to_parent[1], "wb", buffering=0))
        self.stdin_w: Optional[int] = None
        stdio = Stdio()
        if streams[0]:
            r, self.stdin_w = os.pipe()
            stdio.stdin = os.fdopen(r, "rb", buffering=0)
        self.output: Dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self._collectors: List[threading.Thread] = []
        for name, wanted in (("stdout", streams[1]), ("stderr", streams[2])):
            if wanted:
                r, w = os.pipe()
                setattr(stdio, name, os.fdopen(w, "wb", buffering=0))
                t = threading.Thread(target=self._collect, args=(r, name), daemon=True)
                t.start()
                self._collectors.append(t)
        launcher.live.add(self.token)

        def run() -> None:
            try:
                self.code = launcher.run_shim(child, stdio)
            finally:
                launcher.live.discard(self.token)
                for f in (stdio.stdout, stdio.stderr, stdio.stdin):
                    if f is not None:
                        f.close()

        self.thread = threading.Thread(target=run, name=f"helper-{self.token}", daemon=True)
        self.thread.start()

    def _collect(self, fd: int, name: str) -> None:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self.output[name] += chunk
        os.close(fd)

    def close_stdin(self) -> None:
        if self.stdin_w is not None:
            os.close(self.stdin_w)
            self.stdin_w = None

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        self.thread.join(timeout)
        if self.thread.is_alive():
            return None
        for t in self._collectors:
            t.join(10)
        return self.code

    @property
    def stdout(self) -> bytes:
        return bytes(self.output["stdout"])


class ThreadLauncher:
    """Runtime.launcher that runs helpers in threads; Runtime.alive that knows which of them still run."""

    def __init__(self, stdin: bool = False) -> None:
        self.live: set = set()
        self.helpers: List[ThreadHelper] = []
        self.stdin = stdin
        #: The helper's body (tests replace it to simulate a helper that misbehaves).
        self.run_shim: Callable[[Channel, Stdio], int] = run_shim

    def __call__(self, ctx: Context, container_id: str, streams: Tuple[bool, bool, bool], shim_log: str
                 ) -> ThreadHelper:
        helper = ThreadHelper(self, (self.stdin and streams[0], streams[1], streams[2]))
        if not self.stdin:
            helper.close_stdin()
        self.helpers.append(helper)
        return helper

    def alive(self, pid: int, token: str) -> bool:
        if token.startswith("thread:"):
            return token in self.live
        return process_alive(pid, token)

    def declare_dead(self, helper: ThreadHelper) -> None:
        """As if the helper process had been killed: its pid no longer names it (the thread runs on)."""
        self.live.discard(helper.token)


@dataclass
class Result:
    code: int
    out: bytes
    err: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """``runhcs --root <root> ...`` run in this process."""

    def __init__(self, root: str, launcher: ThreadLauncher) -> None:
        self.root = root
        self.launcher = launcher
        self.runtime = Runtime(launcher=launcher, alive=launcher.alive, shutdown_timeout=10.0)

    def __call__(self, *argv: str) -> Result:
        out, err = io.BytesIO(), io.BytesIO()
        code = main(["--root", self.root, *argv], stdout=out, stderr=err, runtime=self.runtime)
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, *argv: str) -> Result:
        result = self(*argv)
        assert result.code == 0, (argv, result)
        assert result.err == b"", (argv, result)
        return result

    def fails(self, *argv: str, code: int = 1) -> str:
        """The single stderr line of a failing command (stdout must stay empty)."""
        result = self(*argv)
        assert result.code == code, (argv, result)
        assert result.out == b"", (argv, result)
        text = result.err.decode()
        assert text.endswith("\n") and text.count("\n") == 1, (argv, result)
        return text[:-1]

    def state(self, container_id: str) -> Dict[str, Any]:
        return self.ok("state", container_id).json  # type: ignore[no-any-return]

    def cleanup(self) -> None:
        """Remove every container left and wait for the helpers (before the fake checks for leaked handles)."""
        for line in self("list", "-q").out.decode().split():
            self("delete", "--force", line)
        for helper in self.launcher.helpers:
            helper.close_stdin()
            if helper.wait(60) is None:
                raise AssertionError(f"helper {helper.token} did not finish")
