"""The one place where strings cross the HCS boundary.

HCS takes and returns UTF-16 (``PCWSTR`` / ``PWSTR``). Inputs become NUL-terminated UTF-16LE buffers; text that HCS
could never see intact (an embedded NUL would truncate it, an unpaired surrogate has no UTF-16 form HCS accepts) is
rejected with ``ValueError`` before any FFI call. Strings HCS returns are copied and freed with ``LocalFree`` at once
(the HCS reference pages: "The caller is responsible for releasing the returned string using LocalFree").
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Optional, Union

from ._ffi import ffi, local_free

#: A JSON document as pyhcs accepts it: a mapping (serialised for you), a JSON string, or None (NULL).
Document = Union[Mapping[str, Any], str, None]

_NULL = ffi.NULL
# A JSON-escaped NUL (an odd number of backslashes before u0000): json.dumps writes "\u0000" for a NUL in any
# string, and HCS would cut that string there when it hands it to Win32. Compiled on first need (import time).
_ESCAPED_NUL_PATTERN = r"(?<!\\)(?:\\\\)*\\u0000"


def to_wide(text: str, what: str = "string") -> Any:
    """A ``WCHAR[]`` holding *text* as NUL-terminated UTF-16LE."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str, not {type(text).__name__}")
    if "\x00" in text:
        raise ValueError(f"{what} contains an embedded NUL character at index {text.index(chr(0))}")
    try:
        data = text.encode("utf-16-le")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{what} contains an unpaired surrogate at index {exc.start}; it has no UTF-16 form") from None
    buf = ffi.new("WCHAR[]", len(data) // 2 + 1)
    ffi.memmove(buf, data, len(data))
    return buf


def to_wide_or_null(text: Optional[str], what: str = "string") -> Any:
    """Like ``to_wide``; ``None`` becomes NULL."""
    return _NULL if text is None else to_wide(text, what)


def take_wide(ptr: Any) -> Optional[str]:
    """Copy an HCS-allocated ``PWSTR`` into a str and ``LocalFree`` it; NULL gives None."""
    if ptr == _NULL:
        return None
    try:
        return str(ffi.string(ptr))
    finally:
        local_free(ptr)


def dump_document(document: Document, what: str = "document") -> Optional[str]:
    """The JSON text HCS receives for *document* (None stays None)."""
    if document is None or isinstance(document, str):
        return document
    if not isinstance(document, Mapping):
        raise TypeError(f"{what} must be a mapping, a JSON string or None, not {type(document).__name__}")
    try:
        text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply to be serialised as JSON") from None
    except (TypeError, ValueError) as exc:  # a value JSON cannot hold (an object, NaN): the document's type is wrong
        raise TypeError(f"{what} cannot be serialised to JSON: {exc}") from None
    if "\\u0000" in text and re.search(_ESCAPED_NUL_PATTERN, text):
        raise ValueError(f"{what} contains a string with an embedded NUL character (HCS would cut it there)")
    return text


def document_arg(document: Document, what: str = "document") -> Any:
    """A ``PCWSTR`` (or NULL) holding *document* as JSON."""
    return to_wide_or_null(dump_document(document, what), what)


# json.loads(text) is three Python-level calls (loads -> JSONDecoder.decode -> raw_decode) around the C scanner;
# every asynchronous result goes through here on the event loop's thread, so the scanner is called directly. It
# parses exactly what json.loads parses when the document neither starts nor ends with whitespace (HCS's never do);
# anything else -- whitespace, a byte-order mark, an error -- goes to json.loads, for its result or its error.
_scan_once = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]


def parse_document(text: Optional[str]) -> Any:
    """Parse a JSON document returned by HCS; None or an empty string give None."""
    if not text:
        return None
    try:
        value, end = _scan_once(text, 0)
        if end == len(text):
            return value
    except (StopIteration, ValueError, RecursionError):
        pass
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("HCS returned a document nested too deeply to parse") from None
    except ValueError as exc:
        excerpt = text if len(text) <= 200 else text[:200] + "..."
        raise ValueError(f"HCS returned a document that is not JSON ({exc}): {excerpt!r}") from None


def take_document(ptr: Any) -> Any:
    """Copy, ``LocalFree`` and parse an HCS result document."""
    return parse_document(take_wide(ptr))
