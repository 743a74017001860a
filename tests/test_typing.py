"""The public API is promised ``mypy --strict`` clean (``py.typed``): the package itself, and a program written
against it -- so the annotations users see are the ones that hold. pyproject.toml's test extra names this file.

mypy is a host-side tool: the Wine leg does not install it (its Windows wheels are compiled), and these tests skip
themselves when it is missing.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

USER_PROGRAM = '''
import asyncio
import os
from typing import List, Optional

import pyhcs
from pyhcs.schema import ComputeSystem as ComputeSystemDocument


def main() -> int:
    document: ComputeSystemDocument = {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}}
    with pyhcs.ComputeSystem.create("typed", document, timeout=10) as system:
        system.start(timeout=10)
        result: pyhcs.CompletedProcess = system.run("echo hi", timeout=10)
        code: int = result.exit_code
        out: bytes = result.stdout
        stopped: bool = system.terminate(timeout=10)
        with system.create_process("cat", console_size=pyhcs.ConsoleSize(width=80, height=24)) as process:
            pid: int = process.pid
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(b"x")
            process.stdin.close()
            data: bytes = process.stdout.read()
            delivered: bool = process.signal("CtrlC")
            process.resize_console(width=100, height=30)
            with process.process_info() as info:
                handle: Optional[int] = info.stdout.fileno() if info.stdout is not None else None
            exit_code: int = process.wait(timeout=10)
        try:
            system.run("sleep 30", timeout=0.1)
        except pyhcs.HcsProcessTimeoutError as exc:
            partial: bytes = exc.stdout + exc.stderr + exc.output
        started = system.started_at
        uptime = system.uptime
        op: pyhcs.Operation = system.begin("HcsGetComputeSystemProperties")
        op.wait(1.5)
    return code + len(out) + pid + exit_code + int(stopped) + int(delivered) + len(data)


async def amain() -> None:
    system = await pyhcs.ComputeSystem.create_async("typed-async", {"SchemaVersion": {"Major": 2, "Minor": 1}})
    async with system:
        stopped: bool = await system.terminate_async()
        process = await system.create_process_async("cat")
        async with process:
            stdin, stdout, stderr = await process.streams()
            assert stdin is not None and stdout is not None
            stdin.write(b"x")
            await stdin.drain()
            stdin.close()
            await stdin.wait_closed()
            lines: List[bytes] = [line async for line in stdout]
        async for event in system.events():
            kind: object = event.type


if __name__ == "__main__":
    asyncio.run(amain())
    main()
'''


def _mypy(tmp_path: Path, *paths: str) -> "tuple[str, int]":
    mypy = pytest.importorskip("mypy.api")
    out, err, status = mypy.run(["--strict", "--cache-dir", str(tmp_path / "cache"), "--config-file",
                                 str(ROOT / "pyproject.toml"), *paths])
    return out + err, status


def test_the_package_is_mypy_strict_clean(tmp_path: Path) -> None:
    output, status = _mypy(tmp_path, str(ROOT / "src" / "pyhcs"))
    assert status == 0, output


def test_a_program_written_against_the_public_api_type_checks(tmp_path: Path) -> None:
    program = tmp_path / "user_program.py"
    program.write_text(textwrap.dedent(USER_PROGRAM), encoding="utf-8")
    output, status = _mypy(tmp_path, str(program))
    assert status == 0, output


def test_the_annotations_catch_the_mistakes_they_exist_for(tmp_path: Path) -> None:
    """resize_console takes keywords (the order cannot be got wrong), StdinWriter.write is not a coroutine."""
    program = tmp_path / "mistakes.py"
    program.write_text(textwrap.dedent('''
        import pyhcs

        async def wrong(process: pyhcs.Process, writer: pyhcs.StdinWriter) -> None:
            process.resize_console(100, 30)
            await writer.write(b"x")
    '''), encoding="utf-8")
    output, status = _mypy(tmp_path, str(program))
    assert status != 0
    assert "resize_console" in output and "Too many positional arguments" in output
    assert "mistakes.py:6: error" in output and '"write" of "StdinWriter"' in output, output
