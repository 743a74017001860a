"""docs/cli.md's Python examples run as pasted."""

from __future__ import annotations

import re
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
