"""Write docs/api.md from the public API's signatures and docstrings (tests check it is up to date and complete).

    python tools/gen_api_docs.py

What is public: every name in ``pyhcs.__all__``, ``pyhcs.service`` / ``pyhcs.storage``, and the ``__all__`` of the
library modules ``pyhcs.oci``, ``pyhcs.compat``, ``pyhcs.pod`` and ``pyhcs.testing``. For a class: its
methods, properties and attributes whose names do not start with ``_`` (plus the context-manager and async-iterator
protocols it implements), inherited ones included. Attributes are described by ``#:`` comments in the source (the
Sphinx convention), before ``self.name = ...`` or a class-level annotation; tuple fields likewise. Nothing private
is listed, and ``public_members`` is what the tests use to require a description for every entry.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import re
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import pyhcs  # noqa: E402
from pyhcs import service, storage  # noqa: E402

HEADER = """# pyhcs API reference

Generated from the docstrings by `python tools/gen_api_docs.py`; `tests/test_docs.py` fails when it is stale or
when a public name lacks a description. Schema documents (`pyhcs.schema`) are TypedDicts named as Microsoft's HCS
schema reference. Every exception pyhcs raises for HCS is an `HcsError` subclass listed under Errors; bad arguments
raise `TypeError`/`ValueError` before anything reaches HCS, and file objects raise `OSError` as files do.
"""

#: Protocol methods listed when a class defines them (everything else starting with "_" is private).
PROTOCOLS = ("__enter__", "__aenter__", "__await__", "__aiter__")
#: What a protocol method means, when it has no docstring of its own.
PROTOCOL_TEXT = {
    "__enter__": "``with`` support: leaving the block closes it.",
    "__aenter__": "``async with`` support: leaving the block closes it.",
    "__await__": "``await`` support.",
    "__aiter__": "``async for`` support.",
}
#: Members of tuple and object that say nothing about pyhcs.
_SKIP = {"count", "index"}


def _doc(obj: Any) -> str:
    return (inspect.getdoc(obj) or "").strip()  # inherited when an override has none of its own


def _summary(obj: Any, name: str = "") -> str:
    text = _doc(obj).split("\n\n")[0].replace("\n", " ")
    if not text and name.endswith("_async"):
        text = f"``{name[:-6]}`` for asyncio (completed through the operation callback)."
    if not text and name in PROTOCOL_TEXT:
        text = PROTOCOL_TEXT[name]
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
            text += " = " + (default.name if isinstance(default, enum.Enum) else
                             default.__name__ if inspect.isroutine(default) else repr(default))
        parts.append(text)
    ret = "" if sig.return_annotation is sig.empty else " -> " + _ann(sig.return_annotation)
    return "(" + ", ".join(parts) + ")" + ret


_ATTRIBUTE = re.compile(r"^\s*(?:self\.)?([A-Za-z]\w*)\s*(?::[^=]+)?(?:=.*)?$")


def attribute_docs(cls: type) -> Dict[str, str]:
    """``#:`` comments of *cls* and its bases: attribute name -> description."""
    found: Dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        comment: List[str] = []
        for line in source.splitlines():
            stripped = line.strip()
            if stripped.startswith("#:"):
                comment.append(stripped[2:].strip())
                continue
            if comment:
                match = _ATTRIBUTE.match(line)
                if match and not match.group(1).startswith("_"):
                    found[match.group(1)] = " ".join(comment)
            comment = []
    return found


def public_members(cls: type) -> List[Tuple[str, str, str]]:
    """(name, kind, rendered line) for every public member of *cls*, inherited ones included."""
    members: Dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):
        if klass.__module__ == "builtins":
            continue  # tuple's, dict's ... own methods (documented by Python, and worded per Python version)
        members.update(vars(klass))
    attrs = attribute_docs(cls)
    fields = getattr(cls, "_fields", ())
    out: List[Tuple[str, str, str]] = []
    for name in fields:
        out.append((name, "field", f"- `{name}` (field): {attrs.get(name, '')}"))
    def is_data(value: Any) -> bool:  # a slot, a class-level annotation with a default: data, not behaviour
        return not callable(value) and not isinstance(value, property)

    for name in sorted(n for n in set(attrs) - set(fields) if n not in members or is_data(members[n])):
        if not name.isupper():
            out.append((name, "attribute", f"- `{name}` (attribute): {attrs[name]}"))
    for name, value in members.items():
        if name in fields or name in _SKIP or (name.startswith("_") and name not in PROTOCOLS):
            continue
        if is_data(value) and not name.isupper():
            continue  # listed above (or an undocumented slot, which the tests catch through attribute_docs)
        target = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
        if isinstance(value, property):
            out.append((name, "property", f"- `{name}` (property): {_summary(value)}"))
        elif callable(target) and not isinstance(target, type):
            first = _summary(target, name)
            prefix = "async " if inspect.iscoroutinefunction(target) else ""
            out.append((name, "method", f"- `{prefix}{name}{_sig(target)}`: {first}"))
        elif not callable(target) and not name.startswith("_") and name.isupper():
            out.append((name, "constant", f"- `{name}` = `{value!r}`: {attrs.get(name, '')}"))
    return out


def describe_class(name: str, cls: type) -> List[str]:
    bases = [b.__name__ for b in cls.__bases__ if b not in (object, tuple)]
    title = f"## `{name}`" + (f" ({', '.join(bases)})" if bases and bases != ["HandleOwner"] else "")
    return [title, "", _doc(cls), ""] + [line for _, _, line in public_members(cls)] + [""]


def describe_function(name: str, fn: Any) -> List[str]:
    return [f"- `{name}{_sig(fn)}`: {_summary(fn, name)}"]


#: Classes in the order the reference shows them; every other class in pyhcs.__all__ follows.
CLASS_ORDER = ("ComputeSystem", "Process", "ProcessInfo", "CompletedProcess", "ConsoleSize", "StdinWriter",
               "Operation", "Event", "EventStream")


def public_classes() -> List[str]:
    names = [n for n in pyhcs.__all__ if inspect.isclass(getattr(pyhcs, n))]
    rest = [n for n in names if n not in CLASS_ORDER and not issubclass(getattr(pyhcs, n), (BaseException, enum.Enum))]
    return list(CLASS_ORDER) + sorted(rest)


#: The library modules built on the object layer, in the order the reference shows them.
LIBRARY_MODULES = ("pyhcs.oci", "pyhcs.compat", "pyhcs.pod", "pyhcs.testing")


def module_constant_docs(module: Any) -> Dict[str, str]:
    """Descriptions of module-level names in *module* and its submodules: name -> description, from a ``#:``
    comment before the assignment or a string right after it (an attribute docstring, PEP 257)."""
    found: Dict[str, str] = {}
    for part in [module] + [sys.modules[m] for m in sorted(sys.modules) if m.startswith(module.__name__ + ".")]:
        try:
            source = inspect.getsource(part)
        except (OSError, TypeError):
            continue
        lines = source.splitlines()
        body = ast.parse(source).body
        for index, node in enumerate(body):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if not names:
                continue
            comment: List[str] = []
            row = node.lineno - 2
            while row >= 0 and lines[row].startswith("#:"):
                comment.insert(0, lines[row][2:].strip())
                row -= 1
            after = body[index + 1] if index + 1 < len(body) else None
            if (not comment and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                comment = [inspect.cleandoc(after.value.value).split("\n\n")[0].replace("\n", " ")]
            if comment:
                for name in names:
                    found.setdefault(name, " ".join(comment))
    return found


def library_entries(module_name: str) -> List[Tuple[str, str, List[str]]]:
    """(name, kind, lines) for every name of the library module's ``__all__``; kind is class, error, function,
    alias or constant. An empty description shows as a line ending in ``:``, which the tests refuse."""
    module = importlib.import_module(module_name)
    constants = module_constant_docs(module)
    out: List[Tuple[str, str, List[str]]] = []
    for name in module.__all__:
        value = getattr(module, name)
        qualified = f"{module_name}.{name}"
        if inspect.isclass(value) and issubclass(value, BaseException):
            bases = ", ".join(b.__name__ for b in value.__bases__)
            out.append((name, "error", [f"- `{qualified}({bases})`: {_summary(value)}"]))
        elif inspect.isclass(value) and issubclass(value, enum.Enum):
            members = ", ".join(value.__members__)
            out.append((name, "class", [f"- `{qualified}` (enum: {members}): {_summary(value)}"]))
        elif inspect.isclass(value) and value.__module__.startswith("pyhcs"):
            lines = describe_class(qualified, value)
            lines[0] = "#" + lines[0]
            out.append((name, "class", lines))
        elif inspect.isfunction(value):
            out.append((name, "function", describe_function(qualified, value)))
        elif name in constants and not (isinstance(value, (str, int, float, tuple, frozenset, type(None)))
                                        or type(value).__module__.startswith("pyhcs")):
            out.append((name, "alias", [f"- `{qualified}` (type alias): {constants[name]}"]))
        else:
            shown = repr(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            out.append((name, "constant", [f"- `{qualified}` = `{shown}`: {constants.get(name, '')}"]))
    return out


def render_library(module_name: str) -> List[str]:
    module = importlib.import_module(module_name)
    lines = ["", f"## `{module_name}`", "", _doc(module).split("\n\n")[0].replace("\n", " "), ""]
    entries = library_entries(module_name)
    for title, kinds in (("Functions", ("function",)), ("Constants and type aliases", ("constant", "alias")),
                         ("Errors", ("error",))):
        chosen = [line for _, kind, body in entries if kind in kinds for line in body]
        if chosen:
            lines += [f"**{title}**", ""] + chosen + [""]
    for _, kind, body in entries:
        if kind == "class":
            lines += body if len(body) > 1 else body + [""]
    return lines


def render() -> str:
    lines = [HEADER]
    for name in public_classes():
        lines += describe_class(name, getattr(pyhcs, name))
    lines += ["## Functions", ""]
    for name in sorted(n for n in pyhcs.__all__ if inspect.isfunction(getattr(pyhcs, n))):
        lines += describe_function(f"pyhcs.{name}", getattr(pyhcs, name))
    lines += [f"- `pyhcs.__version__`: the version of this package ({pyhcs.__version__!r})."]
    for title, module in (("pyhcs.service", service), ("pyhcs.storage", storage)):
        lines += ["", f"## `{title}`", "", _doc(module).split("\n\n")[0].replace("\n", " "), ""]
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and fn.__module__ == module.__name__:
                lines += describe_function(f"{title.split('.')[1]}.{name}", fn)
    for module_name in LIBRARY_MODULES:
        lines += render_library(module_name)
    lines += ["", "## Errors", "",
              "Every class below is importable from `pyhcs`; `pyhcs.errors.ERROR_CLASSES` maps each HRESULT to its "
              "class.", ""]
    for name in sorted(n for n in pyhcs.__all__ if n.startswith("Hcs")):
        cls = getattr(pyhcs, name)
        bases = ", ".join(b.__name__ for b in cls.__bases__)
        lines += [f"- `{name}({bases})`: {_summary(cls)}"]
    lines += ["", "## Enums", ""]
    for name in sorted(n for n in pyhcs.__all__ if inspect.isclass(getattr(pyhcs, n))
                       and issubclass(getattr(pyhcs, n), enum.Enum)):
        cls = getattr(pyhcs, name)
        lines += [f"- `{name}`: {_summary(cls)} " + ", ".join(f"{k}={int(m):#x}" for k, m in cls.__members__.items())]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    (ROOT / "docs" / "api.md").write_text(render(), encoding="utf-8")
    print("wrote docs/api.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
