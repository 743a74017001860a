"""What is wrong with an OCI bundle, said precisely: where (the JSON path), what was found, and which rule it breaks.

runhcs reports a bad bundle as "unknown shim failure, exit code 1" or a Go type error; pyhcs.oci checks the whole
configuration before anything calls HCS and raises one of these. Every problem found is kept: the exception raised
is the first, and ``errors`` lists them all (so a tool can show every mistake at once).

    OciError (ValueError)
    ├── BundleError            the bundle cannot be read: no directory, no config.json, not JSON
    └── SpecError              one problem at one place of config.json / process.json
        ├── MissingFieldError  a required field is absent (or null)
        ├── FieldTypeError     a field has the wrong JSON type
        ├── FieldValueError    the type is right, the value is not
        ├── ConflictError      fields (or annotations) that exclude each other
        └── UnsupportedError   valid OCI that pyhcs cannot run yet (Hyper-V isolation, Linux containers, ...)
"""

from __future__ import annotations

import json
from typing import Any, List, Optional, Sequence

__all__ = [
    "OciError",
    "BundleError",
    "SpecError",
    "MissingFieldError",
    "FieldTypeError",
    "FieldValueError",
    "ConflictError",
    "UnsupportedError",
    "format_path",
]

_MISSING = object()


def format_path(parts: Sequence[Any]) -> str:
    """``("windows", "layerFolders", 2)`` -> ``windows.layerFolders[2]``; keys that are not identifiers are quoted
    (``annotations["io.microsoft.container.memory.sizeinmb"]``)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "a").isalnum() and part[:1].isalpha():
            out += ("." if out else "") + part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "(document)"


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class OciError(ValueError):
    """Base of every pyhcs.oci error (a ValueError: the input is wrong, not the system)."""


class BundleError(OciError):
    """The bundle (or a process.json) cannot be read at all."""

    def __init__(self, message: str, *, path: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        #: The file or directory concerned.
        self.path = path


class SpecError(OciError):
    """One problem in a configuration: ``path`` (JSON path, e.g. ``windows.layerFolders[0]``), ``value`` (what was
    found; ``has_value`` is False when the field is absent), ``problem`` (what is wrong) and ``rule`` (the
    specification or hcsshim rule, with its source). ``source`` names the file (``config.json``) when known.
    ``errors`` lists every problem found in the same document, this one first."""

    kind = "invalid"

    def __init__(self, path: Sequence[Any], problem: str, *, value: Any = _MISSING, rule: str = "",
                 source: str = "") -> None:
        self.path = format_path(path)
        self.path_parts = tuple(path)
        self.problem = problem
        self.has_value = value is not _MISSING
        self.value = None if value is _MISSING else value
        self.rule = rule
        self.source = source
        self.errors: List[SpecError] = [self]
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.source}: " if self.source else ""
        text = f"{where}{self.path}: {self.problem}"
        if self.has_value:
            text += f" (got {_show(self.value)})"
        if self.rule:
            text += f" [{self.rule}]"
        return text

    def with_source(self, source: str) -> "SpecError":
        self.source = source
        self.args = (self._text(),)
        return self

    def describe_all(self) -> str:
        """Every problem, one per line (the first is this one)."""
        return "\n".join(str(e) for e in self.errors)

    def one_line(self) -> str:
        """Every problem on one line (what the CLI prints): the first, then ``; and: ...`` for the others."""
        if len(self.errors) == 1:
            return str(self)
        rest = "; ".join(e._text_without_source() for e in self.errors[1:])
        return f"{self} ({len(self.errors) - 1} more: {rest})"

    def _text_without_source(self) -> str:
        saved, self.source = self.source, ""
        try:
            return self._text()
        finally:
            self.source = saved


class MissingFieldError(SpecError):
    """A required field is absent or null."""

    kind = "missing"


class FieldTypeError(SpecError):
    """A field has the wrong JSON type (e.g. a string where the schema wants an array)."""

    kind = "type"


class FieldValueError(SpecError):
    """A field has the right type and a value the rules forbid."""

    kind = "value"


class ConflictError(SpecError):
    """Fields or annotations that cannot be used together."""

    kind = "conflict"


class UnsupportedError(SpecError):
    """Valid OCI that pyhcs does not run yet (Hyper-V isolation, Linux containers, host process containers ...)."""

    kind = "unsupported"
