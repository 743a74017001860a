"""What runhcs prints, byte for byte: Go's JSON encoding, RFC 3339 times, text/tabwriter tables, pid files.

runhcs is Go: ``state`` prints ``json.MarshalIndent(cs, "", "  ")`` with no newline, ``list --format=json`` and
``ps`` print ``json.NewEncoder(os.Stdout).Encode(v)`` (compact, one newline, ``null`` for an empty list), ``list``
prints a ``text/tabwriter`` table (minwidth 12, tabwidth 1, padding 3, spaces). go-runhcs parses these outputs, so
they are reproduced exactly, including Go's escaping of ``<``, ``>`` and ``&`` in strings.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .platform import replace_file

__all__ = [
    "container_state",
    "go_json",
    "list_table",
    "rfc3339nano",
    "tabwriter",
    "write_pid_file",
]

# encoding/json HTMLEscape and the JavaScript line separators (Go's encodeState.string).
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _go_escape(text: str) -> str:
    for char, escape in _GO_ESCAPES.items():
        text = text.replace(char, escape)
    return text


def go_json(value: Any, indent: Optional[str] = None) -> str:
    """``value`` as Go's encoding/json writes it: ``json.Marshal`` (compact) or ``json.MarshalIndent(v, "", indent)``.

    Key order is the caller's (a Go struct's field order); maps are emitted in sorted key order by the caller.
    Non-ASCII text stays UTF-8, and ``<``, ``>``, ``&``, U+2028 and U+2029 are escaped as Go does."""
    if indent is None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        # Empty arrays and objects print as [] and {} in both encoders.
        text = json.dumps(value, ensure_ascii=False, indent=indent, separators=(",", ": "))
    # Escapes apply inside strings only; json.dumps never emits these characters outside strings. Go writes
    # U+FFFD for text that is not valid UTF-8 (here: lone surrogates from undecodable argv bytes).
    return _LONE_SURROGATE.sub("\ufffd", _go_escape(text))


def rfc3339nano(ns: int) -> str:
    """A UTC time in nanoseconds since the epoch as Go's time.RFC3339Nano: fraction without trailing zeros (and
    without the dot when zero), ``Z`` for UTC."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        base += "." + f"{frac:09d}".rstrip("0")
    return base + "Z"


def container_state(*, oci_version: str, container_id: str, pid: int, status: str, bundle: str, rootfs: str,
                    created_ns: int, annotations: Optional[Mapping[str, str]], owner: str) -> Dict[str, Any]:
    """runhcs's ContainerState (internal/runhcs/container.go) with its field order; ``annotations`` is omitted
    when empty (Go ``omitempty``) and sorted (Go encodes maps by sorted key)."""
    state: Dict[str, Any] = {
        "ociVersion": oci_version,
        "id": container_id,
        "pid": pid,
        "status": status,
        "bundle": bundle,
        "rootfs": rootfs,
        "created": rfc3339nano(created_ns),
    }
    if annotations:
        state["annotations"] = {k: annotations[k] for k in sorted(annotations)}
    state["owner"] = owner
    return state


def tabwriter(text: str, minwidth: int, tabwidth: int, padding: int) -> str:
    """Go's text/tabwriter with padchar ' ' and no flags: tab-terminated cells are aligned in column blocks
    (consecutive lines that have a cell in that column), each padded to max(minwidth, widest + padding); the text
    after the last tab of a line is not aligned. *tabwidth* only matters for tab padding, unused here."""
    del tabwidth
    lines: List[List[str]] = [line.split("\t") for line in text.split("\n")]
    trailing_newline = text.endswith("\n")
    if trailing_newline:
        lines.pop()
    out: List[str] = []
    widths: List[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            parts = []
            for j, cell in enumerate(cells):
                parts.append(cell)
                if j < len(widths) and j < len(cells) - 1:
                    parts.append(" " * (widths[j] - len(cell)))
            out.append("".join(parts))

    def format_block(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            format_block(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    format_block(0, len(lines))
    return "\n".join(out) + ("\n" if trailing_newline else "")


def list_table(states: Sequence[Mapping[str, Any]]) -> str:
    """``runhcs list``'s table: ID PID STATUS BUNDLE CREATED OWNER (tabwriter minwidth 12, padding 3)."""
    rows = ["ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n"]
    for s in states:
        rows.append(f"{s['id']}\t{s['pid']}\t{s['status']}\t{s['bundle']}\t{s['created']}\t{s['owner']}\n")
    return tabwriter("".join(rows), 12, 1, 3)


def write_pid_file(path: str, pid: int) -> None:
    """Write *pid* to *path* atomically with no newline (runhcs createPidFile: a temporary file next to it, then a
    rename), so a reader never sees a partial number."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    try:
        try:
            os.write(fd, str(pid).encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        replace_file(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
