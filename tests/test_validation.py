"""Bad arguments get a clear, typed error before anything reaches HCS (issue 8, items 11, 12 and 16).

HCS hands strings to Win32 as NUL-terminated C strings, so a NUL inside a command line or an environment value
would silently cut it (``run("echo visible\\x00; echo hidden")`` ran only the first part); ids and text documents
were already refused the same way. ConsoleSize is [height, width] in HCS (SchemaReference.md ProcessParameters)
but width x height for terminals, so pyhcs takes a console size only by name.
"""

from __future__ import annotations

import os

import pytest

import pyhcs
from pyhcs import ComputeSystem, ConsoleSize, process_parameters
from tests.support import IS_WINDOWS, container_document, sh, unique_id, win_sleep


@pytest.fixture
def system():
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as s:
        s.start(timeout=10)
        yield s


# ---------------------------------------------------------------------------------------------- 11. NUL
@pytest.mark.parametrize("kwargs", [
    {"command_line": "echo visible\x00; echo hidden"},
    {"command_line": "echo", "environment": {"A": "x\x00y"}},
    {"command_line": "echo", "environment": {"A\x00B": "x"}},
    {"command_line": "echo", "working_directory": "/tmp\x00/etc"},
    {"command_line": "echo", "user": "root\x00"},
])
def test_an_embedded_nul_is_refused_before_hcs(system, fake, kwargs) -> None:
    command_line = kwargs.pop("command_line")
    with pytest.raises(ValueError, match="NUL"):
        system.run(command_line, timeout=10, **kwargs)
    assert fake.counters()["RunningProcesses"] == 0


def test_an_embedded_nul_in_a_document_mapping_is_refused(system) -> None:
    with pytest.raises(ValueError, match="NUL"):
        system.create_process(document={"CommandLine": "echo a\x00b"}, timeout=10)
    with pytest.raises(ValueError, match="NUL"):
        system.modify({"ResourcePath": "Container/Memory\x00", "RequestType": "Update"}, timeout=10)


def test_a_backslash_u0000_in_text_is_not_a_nul(system) -> None:
    code, out, _ = system.run(sh("printf '%s' '\\u0000'", "cmd /c echo \\u0000"), timeout=10)
    assert code == 0 and b"u0000" in out


# --------------------------------------------------------------------------------- 12. smaller input errors
def test_a_deeply_nested_document_is_a_value_error(system) -> None:
    """json.dumps raised RecursionError for a 5,000-deep document. Under Python's recursion limit pyhcs refuses it
    itself; where a test runner raised the limit, HCS's parser refuses it (HcsInvalidJsonError, a ValueError too)."""
    import sys

    deep: list = []
    node = deep
    for _ in range(5000):
        node.append([])
        node = node[0]
    with pytest.raises(ValueError) as info:
        system.modify({"ResourcePath": "Container/Memory", "RequestType": "Update", "Settings": deep}, timeout=10)
    if sys.getrecursionlimit() < 5000:
        assert "nested too deeply" in str(info.value)


@pytest.mark.parametrize("name", ["NoSuchFn", "__class__", "HcsCloseComputeSystem", "HcsCreateProcess", "_lease"])
def test_begin_accepts_only_operation_functions(system, fake, name) -> None:
    """begin("NoSuchFn") gave AttributeError and begin("__class__") TypeError."""
    with pytest.raises(ValueError, match="begin"):
        system.begin(name)
    assert fake.counters()["OpenOperations"] == 0


def test_begin_runs_every_operation_function(system) -> None:
    assert system.begin("HcsGetComputeSystemProperties").wait(10)["State"] == "Running"
    op = system.begin("HcsModifyComputeSystem", {"ResourcePath": "Container/Memory", "RequestType": "Update",
                                                 "Settings": {"SizeInMB": 256}})
    op.wait(10)
    assert op.type == pyhcs.OperationType.MODIFY and op.id is not None


# ------------------------------------------------------------------------------------------- 16. console size
def test_console_size_is_taken_by_name_only() -> None:
    """console_size was (height, width) and resize_console (width, height): neither said so."""
    assert process_parameters("x", console_size=ConsoleSize(width=120, height=30))["ConsoleSize"] == [30, 120]
    assert process_parameters("x", console_size=os.terminal_size((120, 30)))["ConsoleSize"] == [30, 120]
    assert process_parameters("x", console_size={"Width": 120, "Height": 30})["ConsoleSize"] == [30, 120]
    for ambiguous in ((30, 120), [30, 120], (1,), (1, 2, 3)):
        with pytest.raises(TypeError, match="ConsoleSize"):
            process_parameters("x", console_size=ambiguous)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="width"):
        process_parameters("x", console_size=ConsoleSize(width=70000, height=1))


def test_resize_console_takes_width_and_height_by_keyword(system) -> None:
    with system.create_process(sh("sleep 30", win_sleep(30)), emulate_console=True,
                               timeout=10) as p:
        with pytest.raises(TypeError):
            p.resize_console(100, 30)  # type: ignore[misc]
        with pytest.raises(ValueError):
            p.resize_console(width=0, height=30)
        p.resize_console(width=100, height=30, timeout=10)
        p.terminate(timeout=10)


@pytest.mark.skipif(IS_WINDOWS, reason="stty reads the Linux pseudo terminal's size")
def test_console_size_reaches_the_console_in_hcs_order(system) -> None:
    with system.create_process("stty size", emulate_console=True, console_size=ConsoleSize(width=100, height=40),
                               timeout=10) as p:
        assert p.stdout.read().split() == [b"40", b"100"]  # stty prints rows columns


def test_run_refuses_input_it_cannot_deliver_before_creating_anything(system, fake) -> None:
    for bad, error in (("text", TypeError), (b"data", ValueError)):
        with pytest.raises(error):
            system.run(sh("cat", "cmd /c more"), input=bad, stdin=bad == "text", timeout=10)
    with system.create_process(sh("cat", "cmd /c more"), timeout=10) as p:
        p.stdin.close()
        with pytest.raises(ValueError, match="closed"):
            p.communicate(b"lost", timeout=10)
        p.wait(timeout=10)
    assert fake.counters()["RunningProcesses"] == 0
