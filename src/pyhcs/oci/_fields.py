"""Typed access to a parsed JSON configuration that records every problem with its JSON path.

Reading a field through :class:`Fields` never raises for bad input: it records a SpecError and returns None, so one
pass over config.json finds every mistake; :meth:`Fields.check` raises the first with all of them attached.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Type, Union

from .errors import FieldTypeError, FieldValueError, MissingFieldError, SpecError

Path = Tuple[Union[str, int], ...]

_JSON_TYPES: Dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_type(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()  # JSON has one number type: 2.0 is an integer
    return isinstance(value, _JSON_TYPES[kind])


class Fields:
    """Collects the problems of one document (``source`` names it in messages, e.g. ``config.json``)."""

    def __init__(self, source: str = "") -> None:
        self.source = source
        self.errors: List[SpecError] = []

    def add(self, error: SpecError) -> None:
        if self.source and not error.source:
            error.with_source(self.source)
        self.errors.append(error)

    def fail(self, cls: Type[SpecError], path: Sequence[Any], problem: str, rule: str = "", **kw: Any) -> None:
        self.add(cls(path, problem, rule=rule, source=self.source, **kw))

    def check(self) -> None:
        """Raise the first problem (with ``errors`` listing all of them), if any."""
        if self.errors:
            first = self.errors[0]
            first.errors = list(self.errors)
            raise first

    def get(self, obj: Optional[Dict[str, Any]], key: str, path: Path, kind: str, *, required: bool = False,
            rule: str = "", null_ok: bool = False) -> Any:
        """``obj[key]`` if it has JSON type *kind*; None (and a recorded problem when it is wrong or required but
        missing) otherwise. ``null_ok``: a JSON null reads as absent (real bundles write ``"layerFolders": null``)."""
        if obj is None:
            if required:
                self.fail(MissingFieldError, path + (key,), "is required", rule)
            return None
        if key not in obj or (obj[key] is None and (null_ok or required)):
            if required:
                how = "is required" if key not in obj else "is required and must not be null"
                self.fail(MissingFieldError, path + (key,), how, rule)
            return None
        value = obj[key]
        if value is None:
            return None if null_ok else self._wrong(value, path + (key,), kind, rule)
        if not is_type(value, kind):
            return self._wrong(value, path + (key,), kind, rule)
        if kind == "integer" and isinstance(value, float):
            return int(value)
        return value

    def _wrong(self, value: Any, path: Path, kind: str, rule: str) -> None:
        self.fail(FieldTypeError, path, f"must be a JSON {kind}, not {json_type(value)}", rule, value=value)
        return None

    def uint(self, obj: Optional[Dict[str, Any]], key: str, path: Path, bits: int, rule: str = "") -> Optional[int]:
        """An unsigned integer of *bits* bits (runtime-spec defs.json uint16/uint32/uint64)."""
        value = self.get(obj, key, path, "integer", rule=rule)
        if value is None:
            return None
        if not 0 <= value < 2 ** bits:
            self.fail(FieldValueError, path + (key,), f"must be an integer in 0..{2 ** bits - 1} (uint{bits})",
                      rule, value=value)
            return None
        return int(value)

    def strings(self, obj: Optional[Dict[str, Any]], key: str, path: Path, *, required: bool = False,
                rule: str = "", null_ok: bool = False) -> Optional[List[str]]:
        """An array of strings; a wrong element is reported at its index."""
        items = self.get(obj, key, path, "array", required=required, rule=rule, null_ok=null_ok)
        if items is None:
            return None
        good = True
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.fail(FieldTypeError, path + (key, i), f"must be a JSON string, not {json_type(item)}", rule,
                          value=item)
                good = False
        return list(items) if good else None

    def string_map(self, obj: Optional[Dict[str, Any]], key: str, path: Path, rule: str = "") -> Dict[str, str]:
        """An object whose values are strings (annotations); bad entries are reported and skipped."""
        items = self.get(obj, key, path, "object", rule=rule, null_ok=True)
        if items is None:
            return {}
        out: Dict[str, str] = {}
        for k, v in items.items():
            if not isinstance(v, str):
                self.fail(FieldTypeError, path + (key, k), f"must be a JSON string, not {json_type(v)}", rule, value=v)
            else:
                out[k] = v
        return out
