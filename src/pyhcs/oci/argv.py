"""Windows command lines: joining an argv so that ``CommandLineToArgvW`` gives it back, and that parser itself.

HCS takes one ``CommandLine`` string (ProcessParameters); a Windows program splits it again, almost always with
``CommandLineToArgvW`` (shell32) or the C runtime's equivalent. The OCI ``process.args`` array must therefore be
escaped by those rules (runtime-spec config.md: "the runtime will fall back to escaping and concatenating fields
from args"). The rules (Microsoft's CommandLineToArgvW page and "Parsing C++ command-line arguments"; Wine's
shell32 implements the same):

* The first argument, the program name, is special: if it starts with ``"`` it runs to the next ``"`` and
  backslashes mean nothing; otherwise it runs to the first space or tab. So a program name can never contain
  ``"``, and is quoted (as is) when it contains a space or tab or is empty.
* Every other argument: arguments are separated by spaces and tabs outside quotes; ``"`` toggles quoting;
  ``2n`` backslashes followed by ``"`` give ``n`` backslashes and the quote toggles; ``2n+1`` backslashes followed
  by ``"`` give ``n`` backslashes and a literal ``"``; backslashes not followed by ``"`` are literal. Inside a
  quoted part, ``""`` gives a literal ``"`` and ends the quoted part (the pre-2008 rule CommandLineToArgvW keeps;
  the 2008+ C runtime continues the quoted part instead). :func:`join_command_line` never produces ``""`` inside
  a quoted part, so its output splits the same way under both.

hcsshim uses Go's ``windows.EscapeArg`` for every argument, including the first, which loses a trailing
backslash of a quoted program name (``"C:\\my dir\\"`` is parsed back as ``C:\\my dir\\\\``); pyhcs applies the
program-name rule.
"""

from __future__ import annotations

from typing import List, Sequence

from .errors import FieldValueError

__all__ = ["join_command_line", "quote_argument", "quote_program", "split_command_line"]

_BLANKS = " \t"


def quote_program(name: str) -> str:
    """The program name (argv[0]) as CommandLineToArgvW reads it back: quoted as is when it is empty or holds a
    space or tab. ValueError when it holds ``"`` (no spelling of such a name survives the program-name rule) or
    NUL."""
    if '"' in name:
        raise ValueError(f'a program name cannot contain a double quote: CommandLineToArgvW ends it there ({name!r})')
    if "\x00" in name:
        raise ValueError(f"a command line cannot contain NUL ({name!r})")
    if not name or any(c in _BLANKS for c in name):
        return f'"{name}"'
    return name


def quote_argument(arg: str) -> str:
    """One argument after the program name, escaped so CommandLineToArgvW returns exactly *arg*."""
    if "\x00" in arg:
        raise ValueError(f"a command line cannot contain NUL ({arg!r})")
    if arg and not any(c in _BLANKS or c == '"' for c in arg):
        return arg  # backslashes not followed by a quote are literal
    out = ['"']
    backslashes = 0
    for c in arg:
        if c == "\\":
            backslashes += 1
            continue
        if c == '"':
            out.append("\\" * (2 * backslashes + 1) + '"')  # each backslash escaped, then the escaped quote
        else:
            out.append("\\" * backslashes + c)
        backslashes = 0
    out.append("\\" * (2 * backslashes) + '"')  # backslashes before the closing quote are doubled
    return "".join(out)


def join_command_line(args: Sequence[str]) -> str:
    """The command line whose CommandLineToArgvW split is *args* (at least one element, the program name)."""
    if isinstance(args, str) or not args:
        raise ValueError("args must be a non-empty sequence of strings")
    return " ".join([quote_program(args[0])] + [quote_argument(a) for a in args[1:]])


def split_command_line(command_line: str) -> List[str]:
    """CommandLineToArgvW: split *command_line* into argv by the rules above.

    Unlike the Win32 function, an empty command line gives ``[""]`` (CommandLineToArgvW would substitute the path
    of the calling executable)."""
    s = command_line
    n = len(s)
    i = 0
    argv: List[str] = []
    # The program name.
    if s.startswith('"'):
        end = s.find('"', 1)
        if end < 0:
            argv.append(s[1:])
            i = n
        else:
            argv.append(s[1:end])
            i = end + 1
    else:
        while i < n and s[i] not in _BLANKS:
            i += 1
        argv.append(s[:i])
    # The other arguments.
    while i < n and s[i] in _BLANKS:
        i += 1
    current: List[str] = []
    in_quotes = False
    started = i < n
    while i < n:
        c = s[i]
        if c in _BLANKS and not in_quotes:
            argv.append("".join(current))
            current = []
            while i < n and s[i] in _BLANKS:
                i += 1
            started = i < n
            continue
        if c == "\\":
            j = i
            while j < n and s[j] == "\\":
                j += 1
            count = j - i
            if j < n and s[j] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    i = j + 1
                else:
                    i = j  # the quote is handled below as a delimiter
            else:
                current.append("\\" * count)
                i = j
            continue
        if c == '"':
            if in_quotes and i + 1 < n and s[i + 1] == '"':
                current.append('"')  # "" inside quotes: a literal quote, and the quoted part ends
                in_quotes = False
                i += 2
                continue
            in_quotes = not in_quotes
            i += 1
            continue
        current.append(c)
        i += 1
    if started:
        argv.append("".join(current))
    return argv


def command_line_from_args(args: Sequence[str], path: Sequence[object]) -> str:
    """join_command_line for process.args, with the JSON path in the error."""
    try:
        return join_command_line(args)
    except ValueError as exc:
        raise FieldValueError(list(path), str(exc), value=list(args),
                              rule="a Windows command line is split again by CommandLineToArgvW") from None
