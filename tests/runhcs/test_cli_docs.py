"""docs/cli.md's Python examples run as pasted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
BLOCKS = re.findall(r"```python\n(.*?)```", CLI_DOC.read_text(encoding="utf-8"), flags=re.S)


def test_there_are_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_cli_doc_example_runs(index: int, capsys: Any) -> None:
    exec(compile(BLOCKS[index], f"docs/cli.md example {index + 1}", "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out.splitlines()[0] == 'cmd /c "echo hello"'


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def short_tmp() -> Any:
    """A private $TMPDIR short enough for the service's socket path: the service falls back to /tmp for a longer
    one (a socket path has at most 107 bytes), where a session of another test run could already listen."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="doc-", dir="/tmp" if os.path.isdir("/tmp") else None))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def pasted(block: str, tmpdir: Path) -> str:
    """Run a shell session as a reader pastes it into bash at the repository root (no ``set -e``: a pasted session
    goes on after a failing command), with no PYHCS_ variable of ours and a private $TMPDIR (so the service's
    default endpoint is its own); its stdout, once it succeeded with nothing on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYHCS_")}
    env["TMPDIR"] = str(tmpdir)
    proc = subprocess.run(["bash", "-uc", block + "\necho \"last exit: $?\"\n"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell session (the README says so)")
def test_readme_runhcs_session_runs_as_pasted(short_tmp: Path) -> None:
    """README "The runhcs command line": start the fake service, write a bundle, run, state, list, exec, kill,
    delete, stop -- pasted into bash from the repository root (no ``set -e``: a pasted session goes on after the
    exec's exit code 3). Run with a private $TMPDIR, so the service's default endpoint is its own."""
    from tests.runhcs.conftest import in_service_mode

    if in_service_mode():
        pytest.skip("service-mode run: the README session starts its own service and ran in this leg's "
                    "in-process run")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The runhcs command line", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    if not (ROOT / ".venv" / "bin" / "runhcs").exists():
        pytest.skip("the README's session uses the quick start's .venv")
    out = pasted(block, short_tmp)
    assert "listening on" in out and "hello from the container\n" in out
    state = json.loads(out[out.index("{\n"):out.index("\n}") + 2])
    assert (state["id"], state["status"], state["owner"]) == ("demo1", "running", "runhcs")
    table = out[out.index("ID          PID"):].splitlines()
    assert table[1].split()[:3] == ["demo1", str(state["pid"]), "running"]
    assert "from exec\nexec exit code: 3\n" in out
    assert out.rstrip().endswith("stopped\nlast exit: 0"), out
    assert not any(p.name.startswith("fakehcs-service") and p.suffix == ".sock" for p in short_tmp.iterdir())


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell session (the docs say so)")
def test_cli_doc_hyperv_pod_session_runs_as_pasted(short_tmp: Path) -> None:
    """docs/cli.md "Hyper-V isolation, pods and --host": a sandbox and a workload in one utility VM, listed,
    enumerated, torn down -- pasted into bash from the repository root, with a private $TMPDIR (its own service)."""
    from tests.runhcs.conftest import in_service_mode

    if in_service_mode():
        pytest.skip("service-mode run: the session starts its own service and ran in this leg's in-process run")
    section = CLI_DOC.read_text(encoding="utf-8").split("## Hyper-V isolation, pods and --host", 1)[1]
    (block,) = re.findall(r"```sh\n(.*?)```", section.split("\n## ", 1)[0], flags=re.S)
    if not (ROOT / ".venv" / "bin" / "runhcs").exists():
        pytest.skip("the session uses the quick start's .venv")
    out = pasted(block, short_tmp)
    assert "hello from the pod\n" in out
    table = out[out.index("ID          PID"):].splitlines()
    assert [row.split()[:3][::2] for row in table[1:3]] == [["pod1", "running"], ["web1", "running"]]
    assert sorted(line for line in out.splitlines() if "@vm" in line) == [
        "pod1 Container pod1@vm", "pod1@vm VirtualMachine -", "web1 Container pod1@vm"]
    assert '  "status": "stopped",\n' in out and out.rstrip().endswith("stopped\nlast exit: 0"), out
