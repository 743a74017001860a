"""The documentation cannot rot: every fenced Python example in README.md and docs/*.md runs as pasted, and the API
reference is generated, complete and free of private names (issue 8, items 18 and 19).

Each example runs in a fresh interpreter, from an empty folder outside the repository, against the fake HCS named
by ``PYHCS_COMPUTECORE`` -- as a reader who pasted it would run it. An example that needs Windows says so on its
first line (``# Windows only: <why>``) and is skipped elsewhere with that reason. A block whose first line is
``# file: PATH`` is a file the reader saves, not a program: docs/testing.md is followed as a whole, files, shell
commands and programs in order, in a fresh project folder (tools/doc_session.py; CI does the same against the
built wheel in a fresh virtual environment, tools/check_downstream.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Tuple

import pytest

import pyhcs
from tests.support import IS_WINDOWS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCES = [ROOT / "README.md"] + sorted(DOCS.glob("*.md"))
#: Documents whose examples use POSIX shell command lines (the fake on Linux runs /bin/sh -c), or build the Linux
#: fake, and say so in their text.
POSIX_DOCUMENTS = {
    "guide.md": "the guide's examples run against the fake on Linux (its text says so): /bin/sh command lines",
    "testing.md": "pyhcs.testing compiles the Linux fake; under Wine the suite loads the mingw-built DLLs",
}


def python_blocks(path: Path) -> List[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def examples() -> List[Tuple[str, str]]:
    return [(f"{path.relative_to(ROOT).as_posix()}#{i + 1}", code)
            for path in SOURCES for i, code in enumerate(python_blocks(path))
            if not code.startswith("# file:")]


@pytest.mark.parametrize("name,code", examples(), ids=[name for name, _ in examples()])
def test_every_documented_example_runs_as_pasted(name: str, code: str, tmp_path: Path, fake) -> None:
    first = code.lstrip().splitlines()[0] if code.strip() else ""
    if first.startswith("# Windows only") and not IS_WINDOWS:
        pytest.skip(first.lstrip("# "))
    document = name.split("#")[0].split("/")[-1]
    if IS_WINDOWS and document in POSIX_DOCUMENTS:
        pytest.skip(POSIX_DOCUMENTS[document])
    env = dict(fake.env(), PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(IS_WINDOWS, reason=POSIX_DOCUMENTS["testing.md"])
def test_testing_guide_runs_as_a_reader_follows_it() -> None:
    """docs/testing.md, as a new project follows it: its test files pass under the plugin's fixtures (the leak check
    included), its C program compiles and loads the fake, its shell sessions (the service included) run. Here
    against the development install; CI repeats it against the built wheel in a fresh virtual environment."""
    project = Path(tempfile.mkdtemp(prefix="testing-guide-", dir="/tmp"))  # outside the repository
    try:
        outputs = _tool("doc_session").run(DOCS / "testing.md", project, Path(sys.executable))
    finally:
        shutil.rmtree(project, ignore_errors=True)
    text = "".join(outputs)
    assert "result strings not freed: 0" in text and "b'hello from another process\\n'" in text, text
    assert " passed" in text and " failed" not in text and " error" not in text, text


def test_the_quick_start_is_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert len([line for line in block.splitlines() if line.strip()]) == 2


# ---------------------------------------------------------------------------------------------- API reference
def _generator():
    return _tool("gen_api_docs")


def test_api_reference_is_up_to_date() -> None:
    """docs/api.md is generated from the docstrings: regenerate with `python tools/gen_api_docs.py`."""
    assert (DOCS / "api.md").read_text(encoding="utf-8") == _generator().render()


def test_api_reference_names_every_public_name() -> None:
    """system.id, process.pid and the std files were missing; every name of pyhcs.__all__ must be there."""
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    for name in pyhcs.__all__:
        assert f"`{name}" in api or f"`pyhcs.{name}" in api, f"{name} is not in docs/api.md"
    for attribute in ("`id` (attribute)", "`pid` (attribute)", "`stdin` (attribute)", "`stdout` (attribute)",
                      "`stderr` (attribute)", "`exit_code` (field)", "`process_id` (field)", "`type` (attribute)"):
        assert attribute in api, attribute


def test_every_public_member_has_a_description() -> None:
    """`closed` had an empty description, ProcessInfo showed tuple's index/count instead of its fields."""
    gen = _generator()
    missing = []
    for name in gen.public_classes():
        for member, kind, line in gen.public_members(getattr(pyhcs, name)):
            if line.rstrip().endswith(":") or line.rstrip().endswith("`"):
                missing.append(f"{name}.{member} ({kind})")
            assert member not in ("index", "count"), f"{name} lists tuple's {member}"
        cls = getattr(pyhcs, name)
        documented = gen.attribute_docs(cls)
        for klass in cls.__mro__:
            for slot in getattr(klass, "__slots__", ()):
                if not slot.startswith("_") and slot not in documented:
                    missing.append(f"{name}.{slot} (slot without a #: comment)")
    assert not missing, f"no description: {missing}"


def test_the_api_reference_lists_nothing_private() -> None:
    """Operation's plumbing (future, start, detach, keep_facts, after_release) was listed as public."""
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    listed = re.findall(r"^- `(?:async )?(\w+)", api, flags=re.M)
    private = [n for n in listed if n.startswith("_") and n not in ("__enter__", "__aenter__", "__await__",
                                                                       "__aiter__")]
    assert not private, private
    section = api.split("## `Operation`", 1)[1].split("\n## ", 1)[0]
    for plumbing in ("future(", "start(", "detach(", "keep_facts(", "after_release("):
        assert f"`{plumbing}" not in section, plumbing


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
