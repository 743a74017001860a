"""Write docs/api.md from the public API's signatures and docstrings (tests check it is up to date).

    python tools/gen_api_docs.py
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import pyhcs  # noqa: E402
from pyhcs import service, storage  # noqa: E402

HEADER = """# pyhcs API reference

Generated from the docstrings by `python tools/gen_api_docs.py`; `tests/test_docs.py` fails when it is stale.
Schema documents (`pyhcs.schema`) are TypedDicts named as Microsoft's HCS schema reference; errors are listed in
`pyhcs.errors` (every `HcsError` subclass maps HRESULTs to a case you can catch).
"""


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def _summary(obj: Any, name: str = "") -> str:
    text = _doc(obj).split("\n\n")[0].replace("\n", " ")
    if not text and name.endswith("_async"):
        text = f"``{name[:-6]}`` for asyncio (completed through the operation callback)."
    return text


def _ann(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return text.replace("'", "").replace('"', "")


def _sig(obj: Any) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    parts = []
    star_done = False
    for p in sig.parameters.values():
        if p.name in ("self", "cls"):
            continue
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        text = ("*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else "") + p.name
        if p.kind is p.VAR_POSITIONAL:
            star_done = True
        if p.annotation is not p.empty:
            text += ": " + _ann(p.annotation)
        if p.default is not p.empty:
            default = p.default
            text += " = " + (default.name if hasattr(default, "name") and hasattr(default, "value") else repr(default))
        parts.append(text)
    ret = "" if sig.return_annotation is sig.empty else " -> " + _ann(sig.return_annotation)
    return "(" + ", ".join(parts) + ")" + ret


def describe_class(name: str, cls: type) -> List[str]:
    out = [f"## `{name}`", "", _doc(cls), ""]
    members: dict = {}
    for klass in reversed(cls.__mro__[:-1]):  # inherited members too (ComputeSystem and Process share a base)
        members.update(vars(klass))
    for attr, value in members.items():
        if attr.startswith("_") and attr not in ("__enter__", "__aenter__"):
            continue
        if attr.startswith("__"):
            continue
        target = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
        if isinstance(value, property):
            out += [f"- `{attr}` (property): {_summary(value)}"]
        elif callable(target):
            first = _summary(target, attr)
            prefix = "async " if inspect.iscoroutinefunction(target) else ""
            out += [f"- `{prefix}{attr}{_sig(target)}`" + (f": {first}" if first else "")]
    return out + [""]


def describe_function(name: str, fn: Any) -> List[str]:
    first = _summary(fn, name)
    return [f"- `{name}{_sig(fn)}`" + (f": {first}" if first else "")]


def render() -> str:
    lines = [HEADER]
    for name in ("ComputeSystem", "Process", "Operation", "Event", "EventStream", "ProcessInfo", "CompletedProcess"):
        lines += describe_class(name, getattr(pyhcs, name))
    lines += ["## Functions", ""]
    for name in ("use_library", "get_service_properties", "basic_information", "supported_schema_versions",
                 "modify_service_settings", "process_parameters"):
        lines += describe_function(f"pyhcs.{name}", getattr(pyhcs, name))
    lines += ["", "## `pyhcs.service`", ""]
    for name, fn in inspect.getmembers(service, inspect.isfunction):
        if not name.startswith("_") and fn.__module__ == service.__name__:
            lines += describe_function(f"service.{name}", fn)
    lines += ["", "## `pyhcs.storage`", ""]
    for name, fn in inspect.getmembers(storage, inspect.isfunction):
        if not name.startswith("_") and fn.__module__ == storage.__name__:
            lines += describe_function(f"storage.{name}", fn)
    lines += ["", "## Errors", ""]
    for name in sorted(n for n in pyhcs.__all__ if n.startswith("Hcs")):
        cls = getattr(pyhcs, name)
        bases = ", ".join(b.__name__ for b in cls.__bases__)
        lines += [f"- `{name}({bases})`: {_summary(cls)}"]
    lines += ["", "## Enums", ""]
    for name in ("OperationType", "EventType", "EventOptions"):
        cls = getattr(pyhcs, name)
        lines += [f"- `{name}`: " + ", ".join(f"{k}={int(m):#x}" for k, m in cls.__members__.items())]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    (ROOT / "docs" / "api.md").write_text(render(), encoding="utf-8")
    print("wrote docs/api.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
