"""Windows command lines (pyhcs.oci.argv): an OCI args array joined so that CommandLineToArgvW returns it unchanged.

Rules: Microsoft's CommandLineToArgvW reference and "Parsing C++ command-line arguments"; Wine's shell32 follows the
same. The last test compares with the real shell32.CommandLineToArgvW and runs on Windows (the Wine leg).
"""

from __future__ import annotations

import ctypes
import sys
from typing import List

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pyhcs.oci import FieldValueError, join_command_line, process_parameters, quote_argument, split_command_line

# Arguments without NUL (a command line is a C string) and without lone surrogates (not UTF-16 text); quotes,
# backslashes and blanks are over-represented because they are where escaping goes wrong.
tricky = st.sampled_from(['"', "\\", " ", "\t", "a", "é", "\\\\", '\\"', '""'])
arg_text = st.lists(st.one_of(tricky, st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                                                      blacklist_characters="\x00"), max_size=4)),
                    max_size=8).map("".join)
program_text = arg_text.filter(lambda s: '"' not in s)
argvs = st.builds(lambda p, rest: [p] + rest, program_text, st.lists(arg_text, max_size=6))


@given(argvs)
@example(["C:\\Program Files\\tool\\", "a b\\", "\\\\server\\share\\", ""])
@example(["prog", 'say "hi"', 'ends with \\"', "\\\\\\\"", "\t"])
def test_split_of_join_is_the_original_argv(argv: List[str]) -> None:
    assert split_command_line(join_command_line(argv)) == argv


@pytest.mark.parametrize("argv, line", [
    (["cmd", "/c", "echo hi"], 'cmd /c "echo hi"'),
    (["a"], "a"),
    (["C:\\Program Files\\x.exe", "-v"], '"C:\\Program Files\\x.exe" -v'),
    (["C:\\dir with space\\", "x"], '"C:\\dir with space\\" x'),  # the program name keeps its backslash as is
    (["p", ""], 'p ""'),
    (["p", 'a"b'], 'p "a\\"b"'),
    (["p", "a\\"], "p a\\"),  # a backslash not before a quote stays literal, no quoting needed
    (["p", "a b\\"], 'p "a b\\\\"'),  # ... but it is doubled before the closing quote
    (["p", "\\\\server\\share"], "p \\\\server\\share"),
])
def test_known_command_lines(argv: List[str], line: str) -> None:
    assert join_command_line(argv) == line
    assert split_command_line(line) == argv


@pytest.mark.parametrize("line, argv", [
    ('"a b" c', ["a b", "c"]),
    ('p a\\\\"b c" d', ["p", "a\\b c", "d"]),  # 2n backslashes + quote: n backslashes, the quote opens
    ('p \\\\\\"b', ["p", '\\"b']),  # 2n+1: n backslashes and a literal quote
    ('p "a""b" c', ["p", 'a"b c']),  # "" inside quotes: a literal quote that ends the quoted part (the next
    #                                   quote opens a new one)
    ('p """a b"""', ["p", '"a', 'b"']),
    ('"prog"x y', ["prog", "x", "y"]),  # the program name ends at its closing quote
    (" a", ["", "a"]),  # a leading blank: an empty program name
    ('"unterminated', ["unterminated"]),
    ("p a\t\tb  ", ["p", "a", "b"]),
])
def test_parser_follows_commandlinetoargvw(line: str, argv: List[str]) -> None:
    assert split_command_line(line) == argv


def test_a_program_name_with_a_quote_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="program name cannot contain a double quote"):
        join_command_line(['my"prog', "x"])


def test_nul_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        quote_argument("a\x00b")


def test_process_args_that_cannot_be_escaped_are_a_field_error() -> None:
    with pytest.raises(FieldValueError) as info:
        process_parameters({"cwd": "C:\\", "args": ['a"b']})
    assert info.value.path == "process.args"
    assert "double quote" in str(info.value)


@pytest.mark.skipif(sys.platform != "win32", reason="shell32.CommandLineToArgvW exists only on Windows (Wine leg)")
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(argv=argvs, line=arg_text)
@example(argv=["C:\\Program Files\\tool\\", 'a"b', "c d\\", ""], line='p "a""b" c')
def test_join_and_split_agree_with_the_real_commandlinetoargvw(argv: List[str], line: str) -> None:
    """Windows: the escaped argv round-trips through shell32, and our parser splits any line as shell32 does."""
    assert _shell32_split(join_command_line(argv)) == argv
    if line and not line[0].isspace():  # Windows substitutes the executable's path for an empty line
        assert split_command_line(line) == _shell32_split(line)


def _shell32_split(line: str) -> List[str]:
    from ctypes import wintypes

    shell32 = ctypes.WinDLL("shell32")  # type: ignore[attr-defined]
    kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
    shell32.CommandLineToArgvW.restype = ctypes.POINTER(wintypes.LPWSTR)
    shell32.CommandLineToArgvW.argtypes = [wintypes.LPCWSTR, ctypes.POINTER(ctypes.c_int)]
    kernel32.LocalFree.argtypes = [ctypes.c_void_p]
    count = ctypes.c_int()
    argv = shell32.CommandLineToArgvW(line, ctypes.byref(count))
    assert argv, "CommandLineToArgvW failed"
    try:
        return [argv[i] for i in range(count.value)]
    finally:
        kernel32.LocalFree(ctypes.cast(argv, ctypes.c_void_p))
