"""Reading bundles and process.json files (pyhcs.oci.load_bundle, load_json_file): precise BundleErrors."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from pyhcs.oci import BundleError, load_bundle, load_json_file


def test_bundle_path_is_made_absolute_and_config_parsed(tmp_path: Any, monkeypatch: Any) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"ociVersion": "1.1.0"}))
    monkeypatch.chdir(tmp_path.parent)
    bundle = load_bundle(tmp_path.name)
    assert bundle.path == str(tmp_path) and bundle.config == {"ociVersion": "1.1.0"}
    assert bundle.config_path == os.path.join(str(tmp_path), "config.json")


def test_missing_config_json_uses_runhcs_words(tmp_path: Any) -> None:
    with pytest.raises(BundleError, match="^JSON specification file config.json not found$"):
        load_bundle(str(tmp_path))


def test_missing_bundle_directory(tmp_path: Any) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(str(tmp_path / "nope"))


def test_invalid_json_names_line_and_column(tmp_path: Any) -> None:
    (tmp_path / "config.json").write_text('{\n  "ociVersion": "1.1.0",\n  oops\n}')
    with pytest.raises(BundleError, match="config.json is not valid JSON: .* at line 3 column 3"):
        load_bundle(str(tmp_path))


def test_json_that_is_not_an_object(tmp_path: Any) -> None:
    path = tmp_path / "process.json"
    path.write_text("[1, 2]")
    with pytest.raises(BundleError, match="process.json must hold a JSON object, not list"):
        load_json_file(str(path), "process.json")


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Any) -> None:
    (tmp_path / "config.json").write_bytes(b"\xef\xbb\xbf{}")
    assert load_bundle(str(tmp_path)).config == {}


def test_text_that_is_not_utf8(tmp_path: Any) -> None:
    (tmp_path / "config.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(BundleError, match="not UTF-8"):
        load_bundle(str(tmp_path))
