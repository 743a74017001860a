"""Reading an OCI bundle (a directory holding config.json, runtime-spec bundle.md) and process.json files."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, NamedTuple

from .errors import BundleError

__all__ = ["Bundle", "CONFIG_FILE", "load_bundle", "load_json_file"]

CONFIG_FILE = "config.json"
"""The bundle's configuration file, at its root (runtime-spec bundle.md)."""


class Bundle(NamedTuple):
    """A bundle read from disk: its absolute ``path`` and parsed ``config`` (config.json)."""

    #: The bundle directory, absolute.
    path: str
    #: config.json, parsed (not yet validated: see ``validate_config``).
    config: Dict[str, Any]

    @property
    def config_path(self) -> str:
        """The path of the bundle's config.json."""
        return os.path.join(self.path, CONFIG_FILE)


def load_json_file(path: str, what: str) -> Dict[str, Any]:
    """Parse the JSON object in *path*; BundleError naming *what* (e.g. ``config.json``) and the line and column
    of a syntax error."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise BundleError(f"{what} not found", path=path) from None
    except IsADirectoryError:
        raise BundleError(f"{what} is a directory, not a file", path=path) from None
    except OSError as exc:
        raise BundleError(f"cannot read {what}: {exc.strerror or exc}", path=path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{what} is not UTF-8 text (byte {exc.start})", path=path) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                          path=path) from None
    except RecursionError:
        raise BundleError(f"{what} is nested too deeply to be a configuration", path=path) from None
    if not isinstance(value, dict):
        raise BundleError(f"{what} must hold a JSON object, not {type(value).__name__}", path=path)
    return value


def load_bundle(path: str) -> Bundle:
    """Read the bundle at *path* (made absolute). BundleError when the directory or its config.json is missing or
    config.json is not a JSON object; the content is checked by :func:`pyhcs.oci.container_document`."""
    full = os.path.abspath(path)
    if not os.path.isdir(full):
        what = "does not exist" if not os.path.exists(full) else "is not a directory"
        raise BundleError(f"bundle {path} {what}", path=full)
    config = os.path.join(full, CONFIG_FILE)
    if not os.path.isfile(config):
        # runhcs's words (cmd/runhcs/spec.go), which tools match on.
        raise BundleError(f"JSON specification file {CONFIG_FILE} not found", path=config)
    return Bundle(full, load_json_file(config, CONFIG_FILE))
