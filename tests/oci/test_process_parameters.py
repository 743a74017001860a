"""OCI process -> ProcessParameters (pyhcs.oci.process_parameters).

Sources: hcsshim internal/cmd/cmd.go Start (Windows host); runtime-spec config.md "Process".
"""

from __future__ import annotations

from typing import Any, Dict

import pytest

from pyhcs.oci import FieldTypeError, FieldValueError, MissingFieldError, SpecError, command_line, process_parameters


def params(process: Dict[str, Any], **kw: Any) -> Dict[str, Any]:
    return process_parameters(process, **kw)


def test_args_are_escaped_into_the_command_line() -> None:
    p = params({"args": ["cmd", "/c", "echo a b"], "cwd": "C:\\"})
    assert p == {"CommandLine": 'cmd /c "echo a b"', "WorkingDirectory": "C:\\",
                 "CreateStdInPipe": True, "CreateStdOutPipe": True, "CreateStdErrPipe": True}


def test_command_line_wins_over_args() -> None:
    p = params({"args": ["ignored"], "commandLine": "cmd /c ver", "cwd": "C:\\"})
    assert p["CommandLine"] == "cmd /c ver"
    assert command_line({"commandLine": "x y", "cwd": "C:\\"}) == "x y"


def test_an_empty_command_line_falls_back_to_args() -> None:
    assert params({"args": ["a"], "commandLine": "", "cwd": "C:\\"})["CommandLine"] == "a"


def test_env_is_split_at_the_first_equals_and_empty_values_are_dropped() -> None:
    p = params({"args": ["a"], "cwd": "C:\\", "env": ["PATH=C:\\x;C:\\y", "EQ=a=b", "EMPTY="]})
    assert p["Environment"] == {"PATH": "C:\\x;C:\\y", "EQ": "a=b"}


def test_env_entries_without_a_name_are_refused() -> None:
    with pytest.raises(FieldValueError) as info:
        params({"args": ["a"], "cwd": "C:\\", "env": ["A=1", "novalue"]})
    assert info.value.path == "process.env[1]" and info.value.value == "novalue"


def test_terminal_emulates_a_console_sized_height_first_and_merges_stderr() -> None:
    p = params({"args": ["a"], "cwd": "C:\\", "terminal": True, "consoleSize": {"height": 25, "width": 80}})
    assert p["EmulateConsole"] is True and p["ConsoleSize"] == [25, 80]
    assert p["CreateStdErrPipe"] is False


def test_console_size_is_ignored_without_a_terminal() -> None:
    # config.md: runtimes MUST ignore consoleSize if terminal is false or unset.
    assert "ConsoleSize" not in params({"args": ["a"], "cwd": "C:\\", "consoleSize": {"height": 1, "width": 2}})


def test_user_name_becomes_user() -> None:
    assert params({"args": ["a"], "cwd": "C:\\", "user": {"username": "ContainerAdministrator"}})["User"] == \
        "ContainerAdministrator"


def test_unix_user_ids_are_ignored_on_windows() -> None:
    assert "User" not in params({"args": ["a"], "cwd": "C:\\", "user": {"uid": 0, "gid": 0}})


def test_streams_not_relayed_get_no_pipe() -> None:
    p = params({"args": ["a"], "cwd": "C:\\"}, stdin=False, stderr=False)
    assert (p["CreateStdInPipe"], p["CreateStdOutPipe"], p["CreateStdErrPipe"]) == (False, True, False)


@pytest.mark.parametrize("cwd", ["C:\\", "d:/work", "\\\\?\\C:\\x", "/unix/style"])
def test_absolute_working_directories(cwd: str) -> None:
    assert params({"args": ["a"], "cwd": cwd})["WorkingDirectory"] == cwd


@pytest.mark.parametrize("process, cls, path", [
    ({"args": ["a"]}, MissingFieldError, "process.cwd"),
    ({"args": ["a"], "cwd": "relative"}, FieldValueError, "process.cwd"),
    ({"cwd": "C:\\"}, MissingFieldError, "process.args"),
    ({"args": [], "cwd": "C:\\"}, MissingFieldError, "process.args"),
    ({"args": "cmd", "cwd": "C:\\"}, FieldTypeError, "process.args"),
    ({"args": ["a", 1], "cwd": "C:\\"}, FieldTypeError, "process.args[1]"),
    ({"args": ["a"], "cwd": "C:\\", "terminal": "yes"}, FieldTypeError, "process.terminal"),
    ({"args": ["a"], "cwd": "C:\\", "consoleSize": {"height": 70000, "width": 1}, "terminal": True},
     FieldValueError, "process.consoleSize.height"),
    ({"commandLine": "a\x00b", "cwd": "C:\\"}, FieldValueError, "process.commandLine"),
])
def test_bad_processes_are_reported_at_their_field(process: Dict[str, Any], cls: type, path: str) -> None:
    with pytest.raises(SpecError) as info:
        params(process)
    assert type(info.value) is cls and info.value.path == path


def test_a_process_json_locates_errors_in_its_own_file() -> None:
    with pytest.raises(SpecError) as info:
        process_parameters({"args": ["a"]}, path=(), source="process.json")
    assert str(info.value).startswith("process.json: cwd: is required")


def test_no_process_is_a_missing_field() -> None:
    with pytest.raises(MissingFieldError, match="process: is required"):
        params(None)  # type: ignore[arg-type]
