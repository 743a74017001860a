"""Run a Markdown document as a reader follows it: in a fresh folder, in document order, write each file the
document shows and run each shell block and each Python program.

- A fenced block whose first line is ``# file: PATH`` (Python) or ``/* file: PATH */`` (C) is a file the reader
  creates: it is written to PATH under the folder.
- A ``sh`` block runs with bash (``-euo pipefail``) in the folder. Its ``pip install`` lines are replaced by the
  ``install`` command given (CI: the wheel just built) or dropped (pyhcs's own suite, where pyhcs is installed).
- Any other ``python`` block is a program: it runs with ``python -c``.

``python`` on the PATH is the interpreter given (the virtual environment under test). $TMPDIR is a private folder,
so a service started at its default endpoint is this run's own; one left running is stopped at the end.

Used by tests/test_docs.py (docs/testing.md against the development install) and tools/check_downstream.py (against
the built wheel in a fresh virtual environment).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", flags=re.S | re.M)
FILE_MARK = re.compile(r"^(?:#|/\*)\s*file:\s*(\S+?)\s*(?:\*/)?\s*$")


def steps(markdown: str) -> List[Tuple[str, str, str]]:
    """The document's steps in order: ("file", path, text), ("sh", "", script), ("python", "", code)."""
    out: List[Tuple[str, str, str]] = []
    for language, body in BLOCK.findall(markdown):
        first = body.splitlines()[0] if body.strip() else ""
        mark = FILE_MARK.match(first)
        if mark and language in ("python", "c"):
            out.append(("file", mark.group(1), body))
        elif language == "sh":
            out.append(("sh", "", body))
        elif language == "python":
            out.append(("python", "", body))
    return out


def _install_lines(script: str, install: Optional[str]) -> str:
    lines = []
    for line in script.splitlines():
        if re.match(r"\s*pip install\b", line):
            if install:
                lines.append(install)
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def run(markdown: Path, workdir: Path, python: Path, install: Optional[str] = None,
        env: Optional[Dict[str, str]] = None, timeout: float = 600) -> List[str]:
    """Follow *markdown* in *workdir* with *python*; returns the output of each step. Raises RuntimeError naming
    the step that failed, with its output."""
    bindir = str(Path(python).parent)
    base = dict(os.environ if env is None else env)
    tmp = Path(tempfile.mkdtemp(prefix="docs-", dir="/tmp" if os.path.isdir("/tmp") else None))
    base.update(PATH=os.pathsep.join([bindir, base.get("PATH", "")]), TMPDIR=str(tmp))
    outputs: List[str] = []
    try:
        for number, (kind, path, text) in enumerate(steps(markdown.read_text(encoding="utf-8")), 1):
            if kind == "file":
                target = workdir / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                continue
            if kind == "sh":
                cmd = ["bash", "-euo", "pipefail", "-c", _install_lines(text, install)]
            else:
                cmd = [str(python), "-c", text]
            proc = subprocess.run(cmd, cwd=workdir, env=base, capture_output=True, text=True, timeout=timeout)
            output = proc.stdout + proc.stderr
            outputs.append(output)
            if proc.returncode != 0:
                raise RuntimeError(f"{markdown.name}, step {number} ({kind}) failed with exit {proc.returncode}:\n"
                                   f"{text}\n--- output ---\n{output}")
    finally:
        # A service a failed step left running at this run's default endpoint.
        subprocess.run([str(python), "-m", "pyhcs.testing", "service", "stop"], cwd=workdir, env=base,
                       capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
    return outputs


if __name__ == "__main__":
    # python tools/doc_session.py DOC.md [PYTHON]: follow DOC.md in a fresh folder.
    with tempfile.TemporaryDirectory(prefix="doc-session-") as folder:
        for text in run(Path(sys.argv[1]), Path(folder), Path(sys.argv[2] if len(sys.argv) > 2 else sys.executable)):
            print(text, end="")
