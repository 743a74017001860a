"""The OCI runtime-spec JSON schemas (copied from runtime-spec, see README.md) as jsonschema validators."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
# The files refer to each other by relative name ("defs.json#/definitions/..."): registering each under one base
# URI lets those references resolve locally.
BASE_URI = "https://raw.githubusercontent.com/opencontainers/runtime-spec/6999a89a76a0329f440d5740497bedb9dd431297/schema/"


@lru_cache(maxsize=None)
def validator(name: str) -> Any:
    """A Draft 4 validator for schema/<name> (e.g. "state-schema.json") that resolves references locally.

    jsonschema 4.18+ resolves through the `referencing` registry; older versions (the Wine leg's, see
    tests/windows/run_wine.py) through a RefResolver store."""
    import jsonschema

    schemas = {BASE_URI + path.name: json.loads(path.read_text(encoding="utf-8"))
               for path in sorted(SCHEMA_DIR.glob("*.json"))}
    root = {"$ref": BASE_URI + name}
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4
    except ImportError:
        resolver = jsonschema.RefResolver(base_uri=BASE_URI, referrer=root, store=schemas)
        return jsonschema.Draft4Validator(root, resolver=resolver)
    registry = Registry().with_resources(
        [(uri, Resource.from_contents(contents, default_specification=DRAFT4)) for uri, contents in schemas.items()])
    return jsonschema.Draft4Validator(root, registry=registry)


def errors(name: str, document: Any) -> list:
    """Every schema violation of *document*, as "path: message" strings (empty when it is valid)."""
    out = []
    for error in validator(name).iter_errors(document):
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        out.append(f"{where}: {error.message}")
    return out
