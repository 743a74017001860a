"""The string boundary: str -> NUL-terminated UTF-16LE in, HCS-allocated PWSTR -> copy -> LocalFree out."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyhcs._ffi import ffi, lib
from pyhcs._strings import (
    document_arg,
    dump_document,
    parse_document,
    take_document,
    take_wide,
    to_wide,
    to_wide_or_null,
)

valid_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@given(valid_text)
def test_to_wide_round_trips_as_nul_terminated_utf16le(text: str) -> None:
    buf = to_wide(text)
    units = len(text.encode("utf-16-le")) // 2
    assert ffi.sizeof(buf) == 2 * (units + 1)
    assert bytes(ffi.buffer(buf))[: 2 * units] == text.encode("utf-16-le")
    assert buf[units] == "\x00"
    assert ffi.string(buf) == text


def test_non_bmp_characters_become_surrogate_pairs() -> None:
    buf = to_wide("\U0001F600")
    assert ffi.sizeof(buf) == 6 and ffi.string(buf) == "\U0001F600"


@pytest.mark.parametrize("bad", ["a\x00b", "\x00"])
def test_embedded_nul_is_rejected_before_any_call(bad: str) -> None:
    with pytest.raises(ValueError, match="NUL"):
        to_wide(bad, "system id")


@pytest.mark.parametrize("bad", ["\ud800", "x\udfff", "\udc00\ud800"])
def test_unpaired_surrogates_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="surrogate"):
        to_wide(bad)


def test_non_str_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        to_wide(b"bytes")  # type: ignore[arg-type]
    assert to_wide_or_null(None) == ffi.NULL


def test_take_wide_copies_then_frees_and_is_null_safe(fake) -> None:
    """HcsGetServiceProperties returns a string the caller frees with LocalFree; the fake counts it."""
    assert take_wide(ffi.NULL) is None
    out = ffi.new("PWSTR *")
    assert lib.HcsGetServiceProperties(to_wide('{"PropertyTypes":["Basic"]}'), out) >= 0
    assert fake.counters()["OutstandingStrings"] == 1
    text = take_wide(out[0])
    assert fake.counters()["OutstandingStrings"] == 0
    assert "SupportedSchemaVersions" in text


def test_take_document_parses(fake) -> None:
    out = ffi.new("PWSTR *")
    assert lib.HcsGetServiceProperties(to_wide('{"PropertyTypes":["Basic"]}'), out) >= 0
    doc = take_document(out[0])
    assert isinstance(doc["Properties"], list)


_TEXT = st.text().filter(lambda t: "\x00" not in t)  # an embedded NUL is refused (next test)


@given(st.dictionaries(_TEXT, st.integers() | _TEXT | st.booleans() | st.none(), max_size=5))
def test_documents_accept_mappings_and_strings(doc) -> None:
    text = dump_document(doc)
    assert json.loads(text) == doc
    assert dump_document(text) == text
    assert dump_document(None) is None
    assert ffi.string(document_arg(doc)) == text


def test_bad_documents_are_typed_errors() -> None:
    with pytest.raises(TypeError):
        dump_document([1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        dump_document({"a": object()})
    with pytest.raises(TypeError):
        dump_document({"a": float("nan")})
    with pytest.raises(ValueError, match="not JSON"):
        parse_document("{broken")
    assert parse_document("") is None and parse_document(None) is None
