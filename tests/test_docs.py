"""The examples in docs/ are executed, so the documentation cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import IS_WINDOWS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(path: Path):
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.skipif(IS_WINDOWS, reason="the guide's examples use POSIX shell command lines")
@pytest.mark.parametrize("index", range(len(python_blocks(DOCS / "guide.md"))))
def test_guide_example_runs(index: int, capsys) -> None:
    code = python_blocks(DOCS / "guide.md")[index]
    exec(compile(code, f"docs/guide.md example {index + 1}", "exec"), {"__name__": "__docs__"})


def test_api_reference_is_up_to_date() -> None:
    """docs/api.md is generated from the docstrings: regenerate with `python tools/gen_api_docs.py`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_api_docs", DOCS.parent / "tools" / "gen_api_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (DOCS / "api.md").read_text(encoding="utf-8") == module.render()


@pytest.mark.skipif(IS_WINDOWS, reason="a POSIX shell session")
def test_readme_service_session_runs_as_pasted() -> None:
    """README "The fake HCS as a service": start, env, a system created by one process and used by another, stop.
    Run in a private $TMPDIR, so its default endpoint is its own."""
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The fake HCS as a service", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    if not (DOCS.parent / ".venv" / "bin" / "python").exists():
        pytest.skip("the README's session uses the quick start's .venv")
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="readme") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYHCS_")}
        env["TMPDIR"] = tmp
        proc = subprocess.run(["bash", "-euc", block], cwd=DOCS.parent, env=env, capture_output=True, text=True,
                              timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stdout=b'hello from another process\\n'" in proc.stdout, proc.stdout
    assert "stopped" in proc.stdout
