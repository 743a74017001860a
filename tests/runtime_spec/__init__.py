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
    """A Draft 4 validator for schema/<name> (e.g. "state-schema.json") that resolves references locally."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((BASE_URI + path.name, Resource.from_contents(contents, default_specification=DRAFT4)))
    registry = Registry().with_resources(resources)
    return jsonschema.Draft4Validator({"$ref": BASE_URI + name}, registry=registry)


def errors(name: str, document: Any) -> list:
    """Every schema violation of *document*, as "path: message" strings (empty when it is valid)."""
    out = []
    for error in validator(name).iter_errors(document):
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        out.append(f"{where}: {error.message}")
    return out
