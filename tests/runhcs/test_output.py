"""Byte-exact outputs (runhcs is Go): encoding/json, time.RFC3339Nano, text/tabwriter, pid files.

Expected bytes are what Go produces for the same values (encoding/json escapes <, >, & and U+2028/9; tabwriter
pads tab-terminated cells in column blocks; RFC3339Nano trims trailing zeros of the fraction)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from pyhcs.runhcs.platform import read_file
from pyhcs.runhcs.output import container_state, go_json, list_table, rfc3339nano, tabwriter, write_pid_file
from tests.runtime_spec import errors as schema_errors
from tests.support import IS_WINDOWS


def test_go_json_compact_and_html_escaped() -> None:
    assert go_json({"b": "<a&b>", "a": [1, None]}) == '{"b":"\\u003ca\\u0026b\\u003e","a":[1,null]}'
    assert go_json(None) == "null"
    assert go_json("é\u2028") == '"é\\u2028"'


def test_go_json_indent_matches_marshal_indent() -> None:
    assert go_json({"a": 1, "b": {"c": []}}, indent="  ") == '{\n  "a": 1,\n  "b": {\n    "c": []\n  }\n}'


def test_lone_surrogates_become_replacement_characters() -> None:
    assert go_json("a\udcff") == '"a\ufffd"'


@pytest.mark.parametrize("ns, text", [
    (0, "1970-01-01T00:00:00Z"),
    (1_700_000_000_123_000_000, "2023-11-14T22:13:20.123Z"),
    (1_700_000_000_000_000_001, "2023-11-14T22:13:20.000000001Z"),
])
def test_rfc3339nano(ns: int, text: str) -> None:
    assert rfc3339nano(ns) == text


def test_container_state_has_runhcs_field_order_and_omits_empty_annotations() -> None:
    state = container_state(oci_version="1.1.0", container_id="c1", pid=42, status="created", bundle="/b",
                            rootfs="r", created_ns=0, annotations={}, owner="me")
    assert list(state) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"]
    with_notes = container_state(oci_version="1.1.0", container_id="c1", pid=0, status="stopped", bundle="/b",
                                 rootfs="", created_ns=0, annotations={"z": "1", "a": "2"}, owner="")
    assert list(with_notes)[-2:] == ["annotations", "owner"] and list(with_notes["annotations"]) == ["a", "z"]
    assert schema_errors("state-schema.json", with_notes) == []


def test_tabwriter_pads_columns_like_go() -> None:
    # Go: tabwriter.NewWriter(w, 12, 1, 3, ' ', 0) over these lines.
    text = "ID\tPID\tSTATUS\nverylongidentifier\t1\trunning\n"
    # column widths: max(12, 18 + 3) = 21, max(12, 3 + 3) = 12; the last cell is not padded
    assert tabwriter(text, 12, 1, 3) == ("ID" + " " * 19 + "PID" + " " * 9 + "STATUS\n"
                                         "verylongidentifier" + " " * 3 + "1" + " " * 11 + "running\n")


def test_tabwriter_column_blocks_end_at_a_line_without_the_column() -> None:
    text = "a\tb\tc\nlonger\td\nx\n1\t2\n"
    assert tabwriter(text, 1, 8, 2) == "a       b  c\nlonger  d\nx\n1  2\n"


def test_list_table_with_an_empty_owner_ends_with_padding() -> None:
    table = list_table([{"id": "c1", "pid": 7, "status": "running", "bundle": "/bundles/one",
                         "created": "2023-11-14T22:13:20.123Z", "owner": ""}])
    # widths: 12, 12, 12, max(12, 12 + 3) = 15, max(12, 24 + 3) = 27; OWNER is the unaligned last cell
    assert table.splitlines() == [
        "ID" + " " * 10 + "PID" + " " * 9 + "STATUS" + " " * 6 + "BUNDLE" + " " * 9 + "CREATED" + " " * 20 + "OWNER",
        "c1" + " " * 10 + "7" + " " * 11 + "running" + " " * 5 + "/bundles/one   " + "2023-11-14T22:13:20.123Z   ",
    ]


def test_pid_file_is_written_atomically_without_newline(tmp_path: Any) -> None:
    path = str(tmp_path / "pid")
    write_pid_file(path, 1234)
    assert open(path, "rb").read() == b"1234"
    write_pid_file(path, 99)  # replaced, never appended
    assert open(path, "rb").read() == b"99"
    assert os.listdir(tmp_path) == ["pid"]


def test_pid_file_readers_never_see_a_partial_value(tmp_path: Any) -> None:
    path = str(tmp_path / "pid")
    write_pid_file(path, 1)
    stop = threading.Event()
    seen = set()

    def read() -> None:
        # As Go (containerd) reads: sharing delete on Windows. Wine still refuses a rename over a file that is
        # open at that instant, and the writer retries; the pause lets it in between two reads.
        while not stop.is_set():
            seen.add(read_file(path))
            if IS_WINDOWS:
                time.sleep(0.001)

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(100 if IS_WINDOWS else 300):
        write_pid_file(path, 1234567)
        write_pid_file(path, 1)
    stop.set()
    reader.join()
    assert seen <= {b"1", b"1234567"}
