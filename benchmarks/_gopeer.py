"""Build and drive ``go_peer/``: the HCS callback path as a Go program built the way hcsshim is built.

The peer is a cgo program (``benchmarks/go_peer``) linked against the very ``libfakehcs.so`` build the Python side
loads. It runs as **its own process**, as hcsshim's shim is its own process with its own computecore client, and
``run.py`` drives it over a pipe, one sample per command, interleaved with the Python and C variants of the same
run. Between samples the peer blocks on its stdin (idle), and while it measures, the benchmark process blocks on the
pipe (idle), so neither disturbs the other's figures; the Go runtime never enters the Python process.

Nothing is installed unless asked (``ensure_go(install=True)``: ``apt-get install golang-go``). Without a Go toolchain
the peer is reported as skipped with the reason. Builds are cached by a hash of every input (sources, headers, the
fake's path and bytes, ``go version``, the C compiler) under the temp folder, with ``GOCACHE``/``GOPATH`` there too
(nothing is written to ``$HOME``), and never touch the network (standard library only, ``GOPROXY=off``).
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import json
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCE_DIR = HERE / "go_peer"
DECL = ROOT / "src" / "pyhcs" / "_ffi" / "decl"
FAKES = ROOT / "tests" / "fakes"
HEADERS = [DECL / n for n in ("windows_types.h", "computedefs.h", "computecore.h", "kernel32.h")]
HEADERS.append(FAKES / "fakehcs_control.h")
CACHE = Path(tempfile.gettempdir()) / "pyhcs-benchmarks"
REPLY_TIMEOUT = 300.0  # seconds for one sample; the peer itself gives up on missing events after 120 s

DESIGN = ("cgo program in hcsshim's design: one exported completion callback and one exported event callback for "
          "the whole program, integer contexts in mutex-guarded maps, one buffered channel per operation and per "
          "system, result strings copied from UTF-16 and freed in the callback, json.Unmarshal into a struct by the "
          "waiting goroutine, a waitBackground goroutine per system; its own process, linked against the same fake "
          "build")


class GoUnavailable(RuntimeError):
    """No Go peer in this run; the message says why."""


def sources() -> List[Path]:
    return sorted(p for p in SOURCE_DIR.iterdir() if p.suffix in (".go", ".c", ".h", ".mod"))


def find_go() -> Optional[str]:
    """The ``go`` command: ``$GO``, then PATH, then Debian's golang-go locations (not always on PATH)."""
    env = os.environ.get("GO")
    if env:
        return env if os.access(env, os.X_OK) else None
    found = shutil.which("go")
    if found:
        return found
    for candidate in ["/usr/lib/go/bin/go", *sorted(glob.glob("/usr/lib/go-*/bin/go"), reverse=True)]:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def install_go() -> str:
    """``apt-get install golang-go`` (Debian's toolchain), only when the user asked for it (--install-go)."""
    apt = shutil.which("apt-get")
    if not apt:
        raise GoUnavailable("--install-go: no apt-get on this machine; install a Go toolchain (>= 1.19) yourself")
    cmd = [apt, "install", "-y", "--no-install-recommends", "golang-go"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:  # a stale package list is the usual reason: refresh it once and retry
        subprocess.run([apt, "update"], capture_output=True, text=True, env=env)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    go = find_go()
    if proc.returncode != 0 or not go:
        raise GoUnavailable(f"--install-go: `{' '.join(cmd)}` failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
    return go


def go_version(go: str) -> str:
    proc = subprocess.run([go, "version"], capture_output=True, text=True, env=_go_env(CACHE / "go"))
    if proc.returncode != 0:
        raise GoUnavailable(f"`{go} version` failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _go_env(cache: Path, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env.update({
        "GO111MODULE": "on",
        "GOFLAGS": "-mod=mod",  # go.mod names no dependency: nothing to download, nothing to verify
        "GOPROXY": "off",
        "GOSUMDB": "off",
        "GOTOOLCHAIN": "local",  # (Go >= 1.21) never fetch another toolchain
        "GOENV": "off",  # ignore the user's `go env -w` settings
        "GOCACHE": str(cache / "gocache"),
        "GOPATH": str(cache / "gopath"),
        "GOMODCACHE": str(cache / "gopath" / "pkg" / "mod"),
        "CGO_ENABLED": "1",
    })
    if extra:
        env.update(extra)
    return env


def build(fake_path: str, go: str) -> Path:
    """The peer binary for the fake at *fake_path* (built once per distinct input)."""
    fake = Path(fake_path).resolve()
    version = go_version(go)
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or "cc"
    h = hashlib.sha256()
    for p in [*sources(), *HEADERS]:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    h.update(str(fake).encode())
    h.update(fake.read_bytes())
    h.update(version.encode())
    h.update(cc.encode())
    out_dir = CACHE / ("gopeer-" + h.hexdigest()[:16])
    target = out_dir / "gopeer"
    if target.exists():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".gopeer.{os.getpid()}"
    env = _go_env(CACHE / "go", {
        "CC": cc,
        "CGO_CFLAGS": f"-O2 -I{DECL} -I{FAKES}",
        "CGO_LDFLAGS": f"{fake} -Wl,-rpath,{fake.parent}",
    })
    cmd = [go, "build", "-trimpath", "-o", str(tmp), "."]
    proc = subprocess.run(cmd, cwd=str(SOURCE_DIR), capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"building the Go peer failed ({' '.join(cmd)} in {SOURCE_DIR}):\n{proc.stderr}")
    os.replace(tmp, target)
    return target


class GoPeer:
    """The running peer process: ``timed(command)`` runs one sample and returns its nanoseconds."""

    def __init__(self, binary: Path, version: str, env: Optional[Mapping[str, str]] = None) -> None:
        self.binary = binary
        self.version = version
        self.proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=dict(os.environ, **(env or {})), text=True, bufsize=1)
        self.final: Optional[Dict[str, Any]] = None
        atexit.register(self._close_quietly)  # a run that fails half-way still leaves no process behind
        self.hello = self.command("hello")

    def command(self, line: str) -> Dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], REPLY_TIMEOUT)
        reply = self.proc.stdout.readline() if ready else ""
        if not reply:
            self.proc.kill()
            raise RuntimeError(f"Go peer: no answer to {line!r} (exit status {self.proc.poll()})")
        out: Dict[str, Any] = json.loads(reply)
        if "error" in out:
            raise RuntimeError(f"Go peer: {line!r}: {out['error']}")
        return out

    def timed(self, line: str) -> int:
        return int(self.command(line)["ns"])

    def close(self) -> Dict[str, Any]:
        """Closes every handle in the peer, returns its fake's counters (its leak check) and ends the process."""
        if self.final is None:
            try:
                self.final = self.command("quit")
            finally:
                if self.proc.stdin:
                    self.proc.stdin.close()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        return self.final

    def _close_quietly(self) -> None:
        if self.proc.poll() is None:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - exiting anyway
                self.proc.kill()

    def describe(self) -> Dict[str, Any]:
        return {"available": True, "reason": None, "binary": str(self.binary), "go_version": self.version,
                "gomaxprocs": self.hello.get("gomaxprocs"), "design": DESIGN}


def start(fake_path: str, install: bool = False, enabled: bool = True) -> Tuple[Optional[GoPeer], Dict[str, Any]]:
    """(peer, description); peer is None when Go is unavailable or disabled, and the description says why."""
    if not enabled:
        return None, {"available": False, "reason": "disabled by --no-go"}
    try:
        go = find_go()
        if go is None and os.environ.get("GO"):
            raise GoUnavailable(f"$GO is {os.environ['GO']!r}, which is not an executable")
        if go is None:
            if not install:
                raise GoUnavailable("no Go toolchain (install Debian's golang-go, or pass --install-go)")
            go = install_go()
        binary = build(fake_path, go)
        peer = GoPeer(binary, go_version(go))
    except GoUnavailable as exc:
        return None, {"available": False, "reason": str(exc)}
    return peer, peer.describe()


# ----------------------------------------------------------------------------------------------- run.py's hooks

def variants(peer: Optional[GoPeer], bench: str, **kw: int) -> List[Tuple[str, str, Callable[[], float]]]:
    """The Go variants of one benchmark (none without a peer), as run.py's Bench takes them (µs per operation)."""
    if peer is None:
        return []
    if bench == "sync":
        n = kw["n"]
        return [("go", "Go peer (hcsshim runOperation)", lambda: peer.timed(f"sync {n}") / 1e3 / n)]
    if bench == "async":
        n, k = kw["n"], kw["k"]
        out = [("go", "Go peer, a goroutine per call", lambda: peer.timed(f"async {n} {k} goroutines") / 1e3 / n)]
        if k > 1:
            out.append(("go_loop", "  diag: Go peer, start k then wait each",
                        lambda: peer.timed(f"async {n} {k} loop") / 1e3 / n))
        return out
    if bench == "system_events":
        n = kw["n"]
        return [("go", "Go peer: callback -> waitBackground", lambda: peer.timed(f"system_events {n}") / 1e3 / n)]
    return []


def ratio_spec(key: str, variant_names: Sequence[str]) -> List[Tuple[str, str]]:
    """pyhcs/Go (and Go/C) ratios for the benchmarks that have a Go variant."""
    if "go" not in variant_names:
        return []
    if key.endswith("_events"):
        out = [("pyhcs_callback", "go"), ("pyhcs_inline", "go"), ("pyhcs_async", "go")]
    else:
        out = [("pyhcs", "go")]
        if "go_loop" in variant_names:
            out.append(("pyhcs", "go_loop"))
    return out + [("go", "c")]


TARGETS = [
    ("async_100", "pyhcs/go", 1.0, "pyhcs async, 100 in flight >= 1.0x the Go peer"),
    ("async_1000", "pyhcs/go", 1.0, "pyhcs async, 1000 in flight >= 1.0x the Go peer"),
]


def summary_line(info: Optional[Dict[str, Any]]) -> str:
    """One line of run.py's table: the peer's toolchain and its own leak check, or why it was skipped."""
    if not info or not info.get("available"):
        return f"    Go peer: skipped ({(info or {}).get('reason', 'not started')})"
    final = info.get("final") or {}
    c = final.get("counters") or {}
    keys = ("OpenOperations", "OpenSystemHandles", "OpenProcessHandles", "OutstandingStrings")
    leaked = sum(int(c.get(k, 0)) for k in keys) if c else "?"
    return (f"    Go peer: {info.get('go_version')}, GOMAXPROCS={info.get('gomaxprocs')}, own process; "
            f"leaked at the end in its fake: {leaked}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python benchmarks/_gopeer.py [--fake LIB] [COMMAND ...]``: build the peer (and the fake) and print the
    binary's path, or run the given peer commands (e.g. ``"async 6000 100"``) and print their answers."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--fake", metavar="LIBRARY", help="the fake HCS .so (default: pyhcs.testing.fake_library())")
    ap.add_argument("--install-go", action="store_true", help="apt-get install golang-go when Go is missing")
    ap.add_argument("commands", nargs="*", help="peer commands: sync N | async N K [goroutines|loop] | "
                                                "system_events N")
    args = ap.parse_args(argv)
    if args.fake:
        fake = os.path.abspath(args.fake)
    else:
        sys.path.insert(0, str(ROOT / "src"))
        from pyhcs.testing import fake_library

        fake = str(fake_library())
    peer, info = start(fake, install=args.install_go)
    if peer is None:
        print(f"Go peer skipped: {info['reason']}", file=sys.stderr)
        return 1
    print(peer.binary)
    for command in args.commands:
        reply = peer.command(command)
        words = command.split()
        n = int(words[1]) if len(words) > 1 and words[1].isdigit() else 1
        print(f"{command}: {reply['ns'] / 1e3 / n:.2f} us/op" if "ns" in reply else f"{command}: {reply}")
    print(json.dumps(peer.close()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
