"""Our declarations against the Windows SDK headers (Debian's mingw-w64-common ships an older SDK's copy) and the
nine newer SDK functions quoted in the foundation issue. Libvirt's test_api_coverage is the model: a function
left undeclared, a changed parameter or a wrong enum value fails here."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List, Tuple

import cffi
import pytest

import pyhcs.enums
from pyhcs._ffi import build_ffi, ffi, lib, storage_lib
from tests import sdk_headers

DECL = Path(build_ffi.__file__).parent / "decl"

# The newer SDK functions the mingw-w64 copy lacks, exactly as the issue quotes them.
NEWER_SIGNATURES = """
HCS_OPERATION WINAPI HcsCreateOperationWithNotifications(HCS_OPERATION_OPTIONS eventTypes, const void* context, HCS_EVENT_CALLBACK callback);
HRESULT WINAPI HcsAddResourceToOperation(HCS_OPERATION operation, HCS_RESOURCE_TYPE type, PCWSTR uri, HANDLE handle);
HRESULT WINAPI HcsGetOperationProperties(HCS_OPERATION operation, PCWSTR options, PWSTR* resultDocument);
HRESULT WINAPI HcsInitializeLiveMigrationOnSource(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HRESULT WINAPI HcsStartLiveMigrationOnSource(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HRESULT WINAPI HcsStartLiveMigrationTransfer(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HRESULT WINAPI HcsFinalizeLiveMigration(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HRESULT WINAPI HcsAttachOverlayFilter(PCWSTR VolumeMountPoint, PCWSTR LayerData);
HRESULT WINAPI HcsDetachOverlayFilter(PCWSTR VolumeMountPoint, PCWSTR LayerData);
"""
NEWER_STORAGE = {"HcsAttachOverlayFilter", "HcsDetachOverlayFilter"}
# New enum values of the newest SDK (issue text), per C enum.
NEWER_ENUM_VALUES = {
    "HCS_OPERATION_TYPE": {
        "HcsOperationTypeReserved1": 16,
        "HcsOperationTypeReserved2": 17,
        "HcsOperationTypeReserved3": 18,
        "HcsOperationTypeLiveMigration": 19,
    },
    "HCS_EVENT_TYPE": {
        "HcsEventGroupVmLifecycle": 0x80000002,
        "HcsEventGroupLiveMigration": 0x80000003,
        "HcsEventGroupOperationInfo": 0xC0000001,
    },
    "HCS_EVENT_OPTIONS": {"HcsEventOptionEnableVmLifecycle": 2, "HcsEventOptionEnableLiveMigrationEvents": 4},
    "HCS_OPERATION_OPTIONS": {
        "HcsOperationOptionNone": 0,
        "HcsOperationOptionProgressUpdate": 1,
        "HcsOperationOptionReserved1": 2,
    },
    "HCS_RESOURCE_TYPE": {
        "HcsResourceTypeNone": 0,
        "HcsResourceTypeFile": 1,
        "HcsResourceTypeJob": 2,
        "HcsResourceTypeComObject": 3,
        "HcsResourceTypeSocket": 4,
    },
    "HCS_NOTIFICATIONS": {"HcsNotificationOperationProgressUpdate": 0x100},
}

Signature = Tuple[str, str, Tuple[Tuple[str, str], ...]]


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _norm_type(t: str) -> str:
    t = re.sub(r"\s+", " ", t.strip())
    t = re.sub(r"\s*\*\s*", "*", t)
    return t


def parse_functions(text: str) -> "Dict[str, Signature]":
    """name -> (return type, name, ((param type, param name), ...)) from header text, whitespace-normalised."""
    out: Dict[str, Signature] = {}
    order: List[str] = []
    for m in re.finditer(r"([\w \*]+?)\s*\bWINAPI\s+(\w+)\s*\(([^)]*)\)\s*;", _strip_comments(text)):
        ret, name, params = _norm_type(m.group(1)), m.group(2), m.group(3).strip()
        plist = []
        if params and params != "void":
            for p in params.split(","):
                pm = re.match(r"(.*?)(\w+)\s*$", p.strip(), flags=re.S)
                assert pm is not None, p
                plist.append((_norm_type(pm.group(1)), pm.group(2)))
        out[name] = (ret, name, tuple(plist))
        order.append(name)
    out["__order__"] = ("", "", tuple((n, "") for n in order))  # type: ignore[assignment]
    return out


def parse_enums(text: str) -> "Dict[str, Dict[str, int]]":
    enums: Dict[str, Dict[str, int]] = {}
    for m in re.finditer(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", _strip_comments(text), flags=re.S):
        members: Dict[str, int] = {}
        for item in m.group(2).split(","):
            item = item.strip()
            if not item:
                continue
            k, v = (s.strip() for s in item.split("="))
            members[k] = int(v, 0)
        enums[m.group(3)] = members
    return enums


def parse_structs(text: str) -> "Dict[str, List[Tuple[str, str]]]":
    out = {}
    for m in re.finditer(r"typedef\s+struct\s*\w*\s*\{(.*?)\}\s*(\w+)\s*;", _strip_comments(text), flags=re.S):
        fields = []
        for f in m.group(1).split(";"):
            f = f.strip()
            if f:
                fm = re.match(r"(.*?)(\w+)$", f, flags=re.S)
                assert fm is not None
                fields.append((_norm_type(fm.group(1)), fm.group(2)))
        out[m.group(2)] = fields
    return out


def sdk_to_ours(text: str) -> str:
    """Spell an SDK header the way our cffi-readable copy does (see the note atop decl/computedefs.h)."""
    text = re.sub(r"DECLARE_HANDLE\((\w+)\);", r"typedef struct \1__ *\1;", text)
    text = re.sub(r"\bCALLBACK\b", "WINAPI", text)
    text = re.sub(r"^\s*DEFINE_ENUM_FLAG_OPERATORS\(\w+\);", "", text, flags=re.M)
    text = text.replace("(UINT64)(-1)", "0xFFFFFFFFFFFFFFFF")
    return text


@pytest.fixture(scope="module")
def sdk() -> Path:
    folder, reason = sdk_headers.ensure()
    if folder is None:
        if os.environ.get("CI"):
            pytest.fail("CI must compare with the SDK headers: " + reason)
        pytest.skip(reason)
    return folder


def ours(name: str) -> str:
    return (DECL / name).read_text(encoding="ascii")


@pytest.mark.parametrize("header, ours_name", [("computecore.h", "computecore.h"), ("computestorage.h", "computestorage.h")])
def test_every_sdk_function_is_declared_with_identical_signature(sdk: Path, header: str, ours_name: str) -> None:
    theirs = parse_functions(sdk_to_ours((sdk / header).read_text()))
    mine = parse_functions(ours(ours_name))
    names = [n for n in theirs if n != "__order__"]
    assert len(names) == {"computecore.h": 52, "computestorage.h": 12}[header]
    for name in names:
        assert mine.get(name) == theirs[name], f"{name} differs from the SDK header"


@pytest.mark.parametrize("header", ["computecore.h", "computestorage.h"])
def test_functions_keep_the_sdk_order(sdk: Path, header: str) -> None:
    theirs = [n for n, _ in parse_functions(sdk_to_ours((sdk / header).read_text()))["__order__"][2]]
    mine = [n for n, _ in parse_functions(ours(header))["__order__"][2]]
    assert [n for n in mine if n in theirs] == theirs


def test_newer_sdk_functions_are_declared_exactly_as_the_issue_quotes_them() -> None:
    newer = parse_functions(NEWER_SIGNATURES)
    core = parse_functions(ours("computecore.h"))
    storage = parse_functions(ours("computestorage.h"))
    for name, sig in newer.items():
        if name == "__order__":
            continue
        target = storage if name in NEWER_STORAGE else core
        assert target.get(name) == sig, name
    assert len(core) - 1 == 59 and len(storage) - 1 == 14


def test_enum_values_match_the_sdk_plus_exactly_the_newer_values(sdk: Path) -> None:
    theirs = parse_enums(sdk_to_ours((sdk / "computedefs.h").read_text()))
    mine = parse_enums(ours("computedefs.h"))
    assert set(mine) == set(theirs) | {"HCS_OPERATION_OPTIONS", "HCS_RESOURCE_TYPE"}
    for enum_name, members in mine.items():
        expected = dict(theirs.get(enum_name, {}))
        expected.update(NEWER_ENUM_VALUES.get(enum_name, {}))
        assert members == expected, enum_name


def test_structs_and_handles_match_the_sdk(sdk: Path) -> None:
    text = sdk_to_ours((sdk / "computedefs.h").read_text())
    assert parse_structs(ours("computedefs.h")) == parse_structs(text)
    handles = re.findall(r"typedef struct (\w+)__ \*\1;", text)
    mine_text = _strip_comments(ours("computedefs.h"))
    assert handles == re.findall(r"typedef struct (\w+)__ \*\1;", mine_text)
    callbacks = re.findall(r"typedef void \(WINAPI \*(\w+)\)\(([^)]*)\)", text)
    mine = re.findall(r"typedef void \(WINAPI \*(\w+)\)\(([^)]*)\)", mine_text)
    assert [(n, _norm_type(p)) for n, p in mine] == [(n, _norm_type(p)) for n, p in callbacks]


def _cffi_declarations(text: str) -> "Dict[str, str]":
    f = cffi.FFI()
    f.cdef(re.sub(r"/\*.*?\*/", "", ours("windows_types.h"), flags=re.S) + text)
    decls = f._parser._declarations  # the parsed C types: compares after typedef resolution
    return {k: v[0]._get_c_name() for k, v in decls.items() if k.startswith("function ")}


def test_cffi_sees_the_same_c_types_as_the_sdk(sdk: Path) -> None:
    """Textual equality above could hide a typedef mismatch; this compares the types cffi resolves."""
    defs = sdk_to_ours((sdk / "computedefs.h").read_text())
    defs = re.sub(r"#\w+[^\n]*", "", defs)

    def body(header: str) -> str:
        t = sdk_to_ours((sdk / header).read_text())
        t = re.sub(r"#\w+[^\n]*", "", t)
        return re.sub(r'extern "C" \{|^\}', "", t, flags=re.M)

    theirs = _cffi_declarations(defs + body("computecore.h") + body("computestorage.h"))
    mine = _cffi_declarations(ours("computedefs.h") + ours("computecore.h") + ours("computestorage.h"))
    for name, ctype in theirs.items():
        assert mine[name] == ctype, name
    assert len(mine) == 73


def test_generated_module_is_up_to_date(tmp_path: Path) -> None:
    """_cffi_hcs.py is generated from decl/*.h; regenerate with `python -m pyhcs._ffi.build_ffi`."""
    generated = build_ffi.generate(tmp_path)
    committed = Path(build_ffi.__file__).parent / "_cffi_hcs.py"
    assert generated.read_text() == committed.read_text(), "run: python -m pyhcs._ffi.build_ffi"


def test_strings_are_utf16_everywhere() -> None:
    assert ffi.sizeof("WCHAR") == 2
    assert ffi.typeof("WCHAR") is ffi.typeof("char16_t")
    assert ffi.typeof("PWSTR") is ffi.typeof("char16_t *")
    assert ffi.sizeof("HRESULT") == 4 and ffi.sizeof("DWORD") == 4 and ffi.sizeof("UINT64") == 8


def test_struct_layouts_match_the_windows_x64_abi() -> None:
    assert ffi.sizeof("HCS_PROCESS_INFORMATION") == 8 + 3 * ffi.sizeof("void *")
    assert ffi.offsetof("HCS_PROCESS_INFORMATION", "StdInput") == 8
    assert ffi.offsetof("HCS_EVENT", "EventData") == ffi.sizeof("void *")
    assert ffi.sizeof("HCS_EVENT_TYPE") == 4 and ffi.sizeof("HCS_OPERATION_TYPE") == 4


def test_enum_values_above_int_max_round_trip() -> None:
    event = ffi.new("HCS_EVENT *")
    for value in (0x80000002, 0x80000003, 0xC0000001):
        event.Type = value
        assert event.Type == value
        assert pyhcs.enums.EventType(event.Type).value == value
    n = ffi.new("HCS_NOTIFICATIONS *", 0xF0000000)
    assert n[0] == 0xF0000000


def test_python_enums_equal_the_c_enums() -> None:
    c = parse_enums(ours("computedefs.h"))
    for cls, (cname, _prefix) in pyhcs.enums.C_ENUMS.items():
        assert sorted({int(m) for m in cls.__members__.values()}) == sorted(set(c[cname].values())), cls
        assert len(cls.__members__) == len(c[cname]), cls


def test_every_declared_function_is_reachable_through_the_lazy_libraries() -> None:
    core = {n for n in parse_functions(ours("computecore.h")) if n != "__order__"}
    stor = {n for n in parse_functions(ours("computestorage.h")) if n != "__order__"}
    assert set(dir(lib)) == core and set(dir(storage_lib)) == stor
