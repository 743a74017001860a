"""Command-line parsing with runhcs's behaviour: urfave/cli v1 on top of Go's ``flag`` package.

What callers (go-runhcs, containerd, scripts) rely on, from hcsshim's vendored urfave/cli v1.22 (app.go,
command.go, help.go) and Go's flag package:

* Global flags come before the command; the command's flags before its positionals -- except that urfave/cli
  *reorders* the arguments of most commands, moving the command's known flags (and the value after a flag without
  ``=``) in front, so ``state <id> --help`` or ``delete <id> --force`` work too. ``exec`` and ``ps`` skip the
  reordering (their trailing arguments are the process's own).
* ``-f``, ``--f``, ``-flag value``, ``--flag=value``; boolean flags take no separate value (``--d=false`` works);
  ``--`` ends the flags; a lone ``-`` is a positional. Both spellings of one flag at once is an error.
* Errors: ``flag provided but not defined: -x``, ``flag needs an argument: -x``, ``bad flag syntax: ---x``,
  ``invalid boolean value "x" for -d: parse error``, ``invalid value "x" for flag -pid: parse error``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .errors import INVALID_USAGE, CliError, UsageError

__all__ = [
    "Flag",
    "Command",
    "Parsed",
    "parse_flags",
    "reorder_args",
    "Positional",
    "validate_positionals",
    "go_quote",
]


@dataclass
class Flag:
    """One flag. ``names``: long name first, then short aliases (urfave "bundle, b"). ``kind``: bool, string, int
    or strings (repeatable). ``default`` is shown in help when it is not empty."""

    names: Tuple[str, ...]
    kind: str = "string"
    usage: str = ""
    default: Any = None
    hidden: bool = False

    @property
    def name(self) -> str:
        return self.names[0]

    def initial(self) -> Any:
        if self.kind == "bool":
            return False
        if self.kind == "strings":
            return []
        if self.kind == "int":
            return self.default if self.default is not None else 0
        return self.default if self.default is not None else ""

    def help_line(self) -> str:
        """urfave/cli's flag description: ``--bundle value, -b value<TAB>usage (default: "x")``."""
        placeholder = "" if self.kind == "bool" else " value"
        spelled = ", ".join(("-" if len(n) == 1 else "--") + n + placeholder for n in self.names)
        default = ""
        if self.kind in ("string",) and self.default:
            default = f' (default: "{self.default}")'
        elif self.kind == "int":
            default = f" (default: {self.initial()})"
        return f"{spelled}\t{(self.usage + default).strip()}"


@dataclass
class Command:
    name: str
    usage: str
    args_usage: str = ""
    description: str = ""
    flags: List[Flag] = field(default_factory=list)
    positionals: Sequence["Positional"] = ()
    skip_arg_reorder: bool = False
    hidden: bool = False
    action: Optional[Callable[..., Any]] = None


@dataclass
class Parsed:
    values: Dict[str, Any]
    args: List[str]
    set_names: List[str]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def is_set(self, name: str) -> bool:
        return name in self.set_names


_GO_INT = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]*|[1-9][0-9_]*)\Z")


def go_quote(text: str) -> str:
    """Go's %q for the printable text a command line holds."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _parse_go_int(text: str) -> int:
    """strconv.ParseInt(text, 0, 64): base prefixes 0x, 0b, 0o and a leading 0 (octal); underscores only between
    digits after a prefix."""
    if not _GO_INT.match(text) or "__" in text or text.endswith("_") or (
            "_" in text and not re.match(r"[+-]?0[xXbBoO]?", text)):
        raise ValueError(text)
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-").replace("_", "")
    if body[:2] in ("0x", "0X"):
        value = int(body[2:], 16)
    elif body[:2] in ("0b", "0B"):
        value = int(body[2:], 2)
    elif body[:2] in ("0o", "0O"):
        value = int(body[2:], 8)
    elif len(body) > 1 and body[0] == "0":
        value = int(body[1:], 8)
    else:
        value = int(body)
    value *= sign
    if not -(2 ** 63) <= value < 2 ** 63:
        raise OverflowError(text)
    return value


# Go strconv.ParseBool.
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def _lookup(flags: Sequence[Flag], name: str) -> Optional[Flag]:
    for f in flags:
        if name in f.names:
            return f
    return None


def parse_flags(flags: Sequence[Flag], args: Sequence[str]) -> Parsed:
    """Go's flag.FlagSet.Parse over *flags*: flags until the first positional (or ``--``); then urfave's check that
    no flag was given under two of its names. Raises UsageError with Go's message."""
    values = {f.name: f.initial() for f in flags}
    set_names: List[str] = []  # the spellings used, in order
    i = 0
    args = list(args)
    while i < len(args):
        s = args[i]
        if len(s) < 2 or s[0] != "-":
            break
        minuses = 2 if s[1] == "-" else 1
        if minuses == 2 and len(s) == 2:
            i += 1
            break
        name = s[minuses:]
        if not name or name[0] in "-=":
            raise UsageError(f"bad flag syntax: {s}")
        i += 1
        value: Optional[str] = None
        if "=" in name[1:]:
            name, value = name.split("=", 1)
        flag = _lookup(flags, name)
        if flag is None:
            raise UsageError(f"flag provided but not defined: -{name}")
        if flag.kind == "bool":
            if value is None:
                values[flag.name] = True
            elif value in _BOOLS:
                values[flag.name] = _BOOLS[value]
            else:
                raise UsageError(f"invalid boolean value {go_quote(value)} for -{name}: parse error")
        else:
            if value is None:
                if i >= len(args):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = args[i]
                i += 1
            if flag.kind == "int":
                try:
                    values[flag.name] = _parse_go_int(value)
                except OverflowError:
                    raise UsageError(f"invalid value {go_quote(value)} for flag -{name}: value out of range") from None
                except ValueError:
                    raise UsageError(f"invalid value {go_quote(value)} for flag -{name}: parse error") from None
            elif flag.kind == "strings":
                values[flag.name] = values[flag.name] + [value]
            else:
                values[flag.name] = value
        set_names.append(name)
    # urfave/cli normalizeFlags: "Cannot use two forms of the same flag: f force".
    for f in flags:
        used = [n for n in f.names if n in set_names]
        if len(set(used)) > 1:
            spellings = " ".join(sorted(set(used), key=f.names.index, reverse=True))
            raise UsageError(f"Cannot use two forms of the same flag: {spellings}")
    canonical = [f.name for f in flags if any(n in set_names for n in f.names)]
    return Parsed(values, args[i:], canonical)


def reorder_args(flags: Sequence[Flag], args: Sequence[str]) -> List[str]:
    """urfave/cli v1 reorderArgs: the command's known flags (and the argument after one written without ``=``,
    unless that argument is itself a flag) move in front of the other arguments; everything after ``--`` stays put
    after a leading ``--``."""
    reordered: List[str] = []
    remaining: List[str] = []
    value_may_follow = False
    for i, arg in enumerate(args):
        if value_may_follow and not _is_flag(flags, arg):
            value_may_follow = False
            reordered.append(arg)
        elif arg == "--":
            remaining = ["--"] + remaining + list(args[i + 1:])
            break
        elif _is_flag(flags, arg):
            reordered.append(arg)
            value_may_follow = "=" not in arg
        else:
            remaining.append(arg)
    return reordered + remaining


def _is_flag(flags: Sequence[Flag], arg: str) -> bool:
    if arg in ("-", "--") or not arg.startswith("-"):
        return False
    name = arg[2:] if arg.startswith("--") else arg[1:]
    name = name.split("=")[0]
    return _lookup(flags, name) is not None


# -- positional arguments (hcsshim internal/appargs) -------------------------------------------------------------
Positional = Callable[[List[str]], int]
"""Consumes arguments from the front: how many it took, or -1 when they are invalid."""


def string(args: List[str]) -> int:
    return 1 if args else -1


def non_empty_string(args: List[str]) -> int:
    return 1 if args and args[0] != "" else -1


def integer(low: int, high: int) -> Positional:
    def check(args: List[str]) -> int:
        if not args:
            return -1
        try:
            value = _parse_go_int_base10(args[0])
        except ValueError:
            return -1
        return 1 if low <= value <= high else -1
    return check


def _parse_go_int_base10(text: str) -> int:
    if not re.match(r"[+-]?[0-9]+\Z", text):
        raise ValueError(text)
    return int(text)


def optional(validator: Positional) -> Positional:
    def check(args: List[str]) -> int:
        return 0 if not args else validator(args)
    return check


def rest(validator: Positional) -> Positional:
    def check(args: List[str]) -> int:
        count = len(args)
        while args:
            n = validator(args)
            if n < 0:
                return n
            args = args[n:]
        return count
    return check


def validate_positionals(validators: Sequence[Positional], args: Sequence[str]) -> None:
    """appargs.Validate: each validator consumes its arguments; a failure or anything left over is
    ``invalid command usage``."""
    remaining = list(args)
    for validator in validators:
        consumed = validator(remaining)
        if consumed < 0:
            raise CliError(INVALID_USAGE)
        remaining = remaining[consumed:]
    if remaining:
        raise CliError(INVALID_USAGE)
