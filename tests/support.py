"""Small helpers shared by the object-layer tests."""

from __future__ import annotations

import itertools
import os
import sys
from typing import Any, Dict

_ids = itertools.count(1)
IS_WINDOWS = sys.platform == "win32"


def unique_id(prefix: str = "test") -> str:
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


def container_document(**extra: Any) -> Dict[str, Any]:
    """A minimal ComputeSystem document for a process-isolated container (SchemaReference.md: ComputeSystem)."""
    doc: Dict[str, Any] = {
        "SchemaVersion": {"Major": 2, "Minor": 1},
        "Owner": "pyhcs-tests",
        "Container": {"Storage": {"Layers": []}},
    }
    doc.update(extra)
    return doc


def sh(posix: str, windows: str) -> str:
    """A command line for the fake's shell: /bin/sh -c off Windows, cmd.exe under Wine."""
    return windows if IS_WINDOWS else posix
