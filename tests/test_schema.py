"""Tests for pyhcs.schema: TypedDict shapes, the mypy-checkability of real documents, and version helpers."""

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
import typing
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import typing_extensions

import pyhcs.schema as schema
from pyhcs.schema import namespace as namespace_module
from pyhcs.schema import versions

SRC = Path(__file__).resolve().parents[1] / "src"

PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")

# TypedDicts whose JSON keys are not PascalCase in Microsoft's schema (the ContainersDef_* namespace tree uses
# lower-case / snake_case keys).
NON_PASCAL_MODULES = {namespace_module.__name__}

# The only fields the schema treats as required; everything else is total=False.
REQUIRED_KEYS = {
    "Version": {"Major", "Minor"},
    "SchemaVersion": {"Major", "Minor"},
    "ResultError": {"Error"},
}


def _typeddicts() -> Iterator[Tuple[str, type]]:
    for name in schema.__all__:
        obj = getattr(schema, name)
        if isinstance(obj, type) and typing_extensions.is_typeddict(obj):
            yield name, obj


def _literal_aliases() -> Iterator[Tuple[str, object]]:
    for name in schema.__all__:
        obj = getattr(schema, name)
        if typing_extensions.get_origin(obj) is typing_extensions.Literal:
            yield name, obj


# ----------------------------------------------------------------------------------------------- shapes


def test_all_is_consistent() -> None:
    assert len(schema.__all__) == len(set(schema.__all__))
    for name in schema.__all__:
        assert hasattr(schema, name), name
    typeddicts = dict(_typeddicts())
    assert len(typeddicts) > 150
    assert len(dict(_literal_aliases())) > 40


@pytest.mark.parametrize("name,td", list(_typeddicts()), ids=[n for n, _ in _typeddicts()])
def test_typeddict_keys_and_annotations(name: str, td: type) -> None:
    hints = typing.get_type_hints(td, include_extras=True)
    assert set(hints) == set(td.__annotations__)
    if td.__module__ not in NON_PASCAL_MODULES:
        bad = [k for k in hints if not PASCAL.match(k)]
        assert not bad, f"{name}: non-PascalCase keys {bad}"
    assert td.__doc__ and td.__doc__.strip(), f"{name} has no docstring"
    required = set(td.__required_keys__)  # type: ignore[attr-defined]
    assert required == REQUIRED_KEYS.get(name, set()), f"{name}: required keys {required}"


@pytest.mark.parametrize("name,alias", list(_literal_aliases()), ids=[n for n, _ in _literal_aliases()])
def test_literal_aliases_are_strings(name: str, alias: object) -> None:
    args = typing_extensions.get_args(alias)
    assert args and all(isinstance(a, str) for a in args), name
    assert len(args) == len(set(args)), f"{name} has duplicate values"


def test_selected_literals_match_reference() -> None:
    get_args = typing_extensions.get_args
    assert get_args(schema.SystemState) == (
        "Created", "Running", "Paused", "Stopped", "SavedAsTemplate", "Unknown",
    )
    assert get_args(schema.SignalName) == ("CtrlC", "CtrlBreak", "CtrlClose", "CtrlLogOff", "CtrlShutdown")
    assert get_args(schema.RequestType) == ("Add", "Remove", "Update")
    assert get_args(schema.NotificationType) == ("None", "GracefulExit", "ForcedExit", "UnexpectedExit", "Unknown")
    assert get_args(schema.StdHandle) == ("StdIn", "StdOut", "StdErr", "All")
    assert get_args(schema.AttachmentType) == ("VirtualDisk", "Iso", "PassThru")
    assert get_args(schema.SaveType) == ("ToFile", "AsTemplate")
    assert get_args(schema.SystemType) == ("Container", "VirtualMachine")
    assert "Basic" in get_args(schema.GetPropertyType)
    assert "Statistics" in get_args(schema.PropertyType)


def test_nested_field_types() -> None:
    hints = typing.get_type_hints(schema.ComputeSystem)
    assert hints["VirtualMachine"] is schema.VirtualMachine
    assert hints["Container"] is schema.Container
    assert hints["SchemaVersion"] is schema.Version
    vm = typing.get_type_hints(schema.VirtualMachine)
    assert vm["ComputeTopology"] is schema.ComputeTopology is schema.Topology
    assert typing.get_type_hints(schema.Uefi)["BootThis"] is schema.BootThis is schema.UefiBootEntry
    assert typing.get_type_hints(schema.Scsi)["Attachments"] == Dict[str, schema.Attachment]
    # typing_extensions' get_type_hints strips Required/NotRequired the same way on every Python (3.9's typing does not)
    assert typing_extensions.get_type_hints(schema.ResultError)["Attribution"] == List[schema.AttributionRecord]


# ----------------------------------------------------------------------------------------------- names


REQUIRED_NAMES = """
ComputeSystem Container VirtualMachine Chipset Uefi ComputeTopology Devices Scsi Attachment ComPort
NetworkAdapter Plan9 VirtualSmb GuestState Storage Layer MappedDirectory MappedPipe Networking
ProcessParameters ProcessStatus ProcessDetails SignalProcessOptions ProcessModifyRequest ModifySettingRequest
SaveOptions System_PropertyQuery Properties Statistics SystemQuery SystemExitStatus ResultError ErrorEvent
AttributionRecord Service_PropertyQuery ServiceProperties BasicInformation SchemaVersion
""".split()

OTHER_NAMES = """
BootThis LinuxKernelDirect Topology VirtualMachine_Memory VirtualMachine_Processor Container_Memory
Container_Processor Plan9Share VirtualSmbShare RestoreState GuestConnection HvSocket VirtualMachine_HvSocket
ConsoleSize CloseHandle PauseOptions ShutdownOptions CrashOptions ProcessorStats MemoryStats StorageStats
EventData WorkerExit SystemExit OperationFailure GuestCrash VirtualDeviceFailure CrashReport Version
SystemState NotificationType SystemType PathType AttachmentType RequestType SaveType SignalName
ModifyOperation StdHandle PropertyType
""".split()


@pytest.mark.parametrize("name", REQUIRED_NAMES + OTHER_NAMES)
def test_required_names_exist(name: str) -> None:
    assert name in schema.__all__
    obj = getattr(schema, name)
    assert obj is not None


# ----------------------------------------------------------------------------------------------- versions


def test_schema_version_constants() -> None:
    assert versions.SCHEMA_V21 == {"Major": 2, "Minor": 1}
    assert versions.SCHEMA_V20 == {"Major": 2, "Minor": 0}
    assert versions.SCHEMA_V26 == {"Major": 2, "Minor": 6}
    assert versions.SCHEMA_V10 == {"Major": 1, "Minor": 0}
    assert schema.SCHEMA_V25 is versions.SCHEMA_V25


def test_supported_schema_versions_expands_minor_ranges() -> None:
    basic: schema.BasicInformation = {
        "SupportedSchemaVersions": [{"Major": 1, "Minor": 0}, {"Major": 2, "Minor": 3}]
    }
    assert versions.supported_schema_versions(basic) == [(1, 0), (2, 0), (2, 1), (2, 2), (2, 3)]
    assert versions.is_schema_version_supported(basic, {"Major": 2, "Minor": 1})
    assert versions.is_schema_version_supported(basic, (2, 3))
    assert not versions.is_schema_version_supported(basic, (2, 4))
    assert not versions.is_schema_version_supported(basic, (3, 0))
    assert versions.highest_supported_schema_version(basic) == {"Major": 2, "Minor": 3}
    assert versions.highest_supported_schema_version(basic, 3) is None


def test_supported_schema_versions_dedup_and_empty() -> None:
    basic: schema.BasicInformation = {
        "SupportedSchemaVersions": [{"Major": 2, "Minor": 5}, {"Major": 2, "Minor": 1}, {"Major": 2, "Minor": 5}]
    }
    assert versions.supported_schema_versions(basic) == [(2, m) for m in range(6)]
    assert versions.supported_schema_versions({}) == []
    assert versions.supported_schema_versions({"SupportedSchemaVersions": []}) == []
    with pytest.raises(ValueError):
        versions.supported_schema_versions({"SupportedSchemaVersions": [{"Major": 2, "Minor": -1}]})


def test_schema_version_to_windows_release() -> None:
    table = versions.schema_version_to_windows_release
    assert table[(2, 0)].build == table[(2, 1)].build == 17763
    assert table[(2, 2)].build == 18362
    assert table[(2, 3)].build == 19041
    assert table[(2, 4)].build == table[(2, 5)].build == 20348
    assert table[(2, 6)].build == 22000
    assert "Server 2022" in table[(2, 5)].name
    assert versions.version_tuple(versions.LATEST_DOCUMENTED_SCHEMA) == max(table)


# ----------------------------------------------------------------------------------------------- mypy

GOOD_SNIPPET = '''
from typing import List

from pyhcs.schema import (
    SCHEMA_V21,
    AttributionRecord,
    BasicInformation,
    ComputeSystem,
    Container,
    ModifySettingRequest,
    PauseOptions,
    ProcessModifyRequest,
    ProcessParameters,
    ProcessStatus,
    Properties,
    ResultError,
    SaveOptions,
    Service_PropertyQuery,
    SignalProcessOptions,
    SystemExitStatus,
    SystemQuery,
    System_PropertyQuery,
    Version,
)

# Tutorial.md: the virtual machine document.
vm: ComputeSystem = {
    "SchemaVersion": {"Major": 2, "Minor": 1},
    "Owner": "Sample",
    "ShouldTerminateOnLastHandleClosed": True,
    "VirtualMachine": {
        "Chipset": {
            "Uefi": {
                "BootThis": {"DevicePath": "Primary disk", "DiskNumber": 0, "DeviceType": "ScsiDrive"}
            }
        },
        "ComputeTopology": {"Memory": {"Backing": "Virtual", "SizeInMB": 2048}, "Processor": {"Count": 2}},
        "Devices": {
            "Scsi": {
                "Primary disk": {
                    "Attachments": {"0": {"Type": "VirtualDisk", "Path": "c:\\\\HCS_Test\\\\utilityvm.vhdx"}}
                }
            }
        },
    },
}

# A Linux utility VM in the style hcsshim builds.
uvm: ComputeSystem = {
    "Owner": "pyhcs",
    "SchemaVersion": SCHEMA_V21,
    "VirtualMachine": {
        "StopOnReset": True,
        "Chipset": {
            "LinuxKernelDirect": {"KernelFilePath": "C:\\\\k\\\\vmlinux", "InitRdPath": "C:\\\\k\\\\initrd.img",
                                  "KernelCmdLine": "console=ttyS0"}
        },
        "ComputeTopology": {
            "Memory": {"SizeInMB": 1024, "AllowOvercommit": True, "EnableDeferredCommit": True},
            "Processor": {"Count": 2, "ExposeVirtualizationExtensions": False},
        },
        "Devices": {
            "ComPorts": {"0": {"NamedPipe": "\\\\\\\\.\\\\pipe\\\\com1"}},
            "HvSocket": {"HvSocketConfig": {"DefaultBindSecurityDescriptor": "D:P(A;;FA;;;SY)"}},
            "Plan9": {"Shares": [{"Name": "share", "AccessName": "share", "Path": "C:\\\\data", "Port": 564}]},
            "VirtualSmb": {"Shares": [{"Name": "os", "Path": "C:\\\\os", "Options": {"ReadOnly": True}}]},
            "NetworkAdapters": {"eth0": {"EndpointId": "00000000-0000-0000-0000-000000000001",
                                         "MacAddress": "00-15-5D-12-34-56"}},
        },
        "GuestState": {"GuestStateFilePath": "", "RuntimeStateFilePath": ""},
        "GuestConnection": {"UseVsock": True, "UseConnectedSuspend": True},
    },
}

# A process-isolated Windows container.
container_doc: Container = {
    "GuestOs": {"HostName": "c1"},
    "Storage": {
        "Layers": [{"Id": "8b2ad8a0-0000-0000-0000-000000000000", "Path": "C:\\\\layers\\\\base",
                    "PathType": "AbsolutePath"}],
        "Path": "\\\\\\\\?\\\\Volume{00000000-0000-0000-0000-000000000000}\\\\",
    },
    "MappedDirectories": [{"HostPath": "C:\\\\src", "ContainerPath": "C:\\\\dst", "ReadOnly": True}],
    "MappedPipes": [{"ContainerPipeName": "docker_engine", "HostPath": "\\\\\\\\.\\\\pipe\\\\docker_engine"}],
    "Networking": {"AllowUnqualifiedDnsQuery": True, "Namespace": "00000000-0000-0000-0000-000000000002"},
    "Processor": {"Count": 2},
    "Memory": {"SizeInMB": 512},
}
container: ComputeSystem = {"Owner": "pyhcs", "SchemaVersion": {"Major": 2, "Minor": 1}, "Container": container_doc}

process: ProcessParameters = {
    "CommandLine": "cmd.exe /c echo hello",
    "WorkingDirectory": "C:\\\\",
    "Environment": {"PATH": "C:\\\\Windows\\\\System32"},
    "EmulateConsole": False,
    "CreateStdInPipe": True,
    "CreateStdOutPipe": True,
    "CreateStdErrPipe": True,
    "ConsoleSize": [25, 80],
}

scsi_attach: ModifySettingRequest = {
    "ResourcePath": "VirtualMachine/Devices/Scsi/Primary disk/Attachments/1",
    "RequestType": "Add",
    "Settings": {"Type": "VirtualDisk", "Path": "C:\\\\HCS_Test\\\\data.vhdx", "ReadOnly": False},
}
memory_update: ModifySettingRequest = {
    "ResourcePath": "VirtualMachine/ComputeTopology/Memory/SizeInMB",
    "RequestType": "Update",
    "Settings": 4096,
}

pause: PauseOptions = {"SuspensionLevel": "Suspend", "HostedNotification": {"Reason": "Save"}}
save: SaveOptions = {"SaveType": "ToFile", "SaveStateFilePath": "c:\\\\HCS_Test\\\\save.vmrs"}
query: System_PropertyQuery = {"PropertyTypes": ["Memory", "Statistics"]}
enum_query: SystemQuery = {"Types": ["VirtualMachine"], "Owners": ["pyhcs"]}
service_query: Service_PropertyQuery = {"PropertyTypes": ["Basic"]}
signal: SignalProcessOptions = {"Signal": "CtrlC"}
close_stdin: ProcessModifyRequest = {"Operation": "CloseHandle", "CloseHandle": {"Handle": "StdIn"}}
resize: ProcessModifyRequest = {"Operation": "ConsoleSize", "ConsoleSize": {"Height": 40, "Width": 120}}
version: Version = {"Major": 2, "Minor": 6}
basic: BasicInformation = {"SupportedSchemaVersions": [{"Major": 2, "Minor": 5}]}

record: AttributionRecord = {"SystemExit": {"Detail": "Terminate", "Initiator": "Client"}}
error: ResultError = {
    "Error": -2143878907,
    "ErrorMessage": "The virtual machine or container exited unexpectedly.",
    "ErrorEvents": [{"Message": "x", "EventId": 1, "Data": [{"Type": "String", "Value": "v"}]}],
    "Attribution": [record, {"WorkerExit": {"ExitCode": 0, "Type": "Stopped", "Initiator": "GuestOS"}}],
}
exit_status: SystemExitStatus = {"Status": 0, "ExitType": "GracefulExit", "Attribution": [record]}
status: ProcessStatus = {"ProcessId": 42, "Exited": True, "ExitCode": 0, "LastWaitResult": 0}
props: Properties = {"Id": "vm1", "SystemType": "VirtualMachine", "State": "Running",
                     "Statistics": {"Uptime100ns": 10, "Processor": {"TotalRuntime100ns": 5}}}
ids: List[str] = [p for p in [props.get("Id")] if p is not None]
'''

# Every line marked "# BAD" must produce at least one mypy error; no other line may.
BAD_SNIPPET = '''
from pyhcs.schema import (
    Attachment, ComputeSystem, Container, ProcessParameters, ProcessModifyRequest, Properties, ResultError,
    SignalProcessOptions, System_PropertyQuery, Version, VirtualMachine,
)

a: Attachment = {"Type": "VirtualDisc", "Path": "x.vhdx"}  # BAD misspelled Literal
p: ProcessParameters = {"CommandLine": "cmd", "CreateStdInPipe": "yes"}  # BAD wrong value type
p2: ProcessParameters = {"CommandLine": ["cmd", "/c"]}  # BAD list for str
v: Version = {"Major": 2}  # BAD missing required Minor
e: ResultError = {"ErrorMessage": "no HRESULT"}  # BAD missing required Error
cs: ComputeSystem = {"Ownr": "typo"}  # BAD unknown key
s: SignalProcessOptions = {"Signal": "CtrlQ"}  # BAD not a ProcessSignal
c: Container = {"Memory": {"SizeInMB": "1024"}}  # BAD str for int
vm: VirtualMachine = {"ComputeTopology": {"Processor": {"Count": 2.5}}}  # BAD float for int
q: System_PropertyQuery = {"PropertyTypes": ["Memory", "Statistic"]}  # BAD misspelled property type
m: ProcessModifyRequest = {"Operation": "CloseHandle", "CloseHandle": {"Handle": "Stdin"}}  # BAD wrong case
props: Properties = {"State": "running"}  # BAD wrong case
ok: Version = {"Major": 2, "Minor": 1}
'''


@pytest.fixture(scope="module")
def mypy_results(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Dict[int, List[str]]]:
    """Run mypy --strict once over both snippets; return {file stem: {line: [messages]}}."""
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not importable; cannot type-check the sample documents")
    tmp = tmp_path_factory.mktemp("schema_mypy")
    (tmp / "good_docs.py").write_text(textwrap.dedent(GOOD_SNIPPET))
    (tmp / "bad_docs.py").write_text(textwrap.dedent(BAD_SNIPPET))
    config = tmp / "mypy.ini"
    config.write_text("[mypy]\n")
    env = dict(os.environ, MYPYPATH=str(SRC))
    proc = subprocess.run(
        [
            sys.executable, "-m", "mypy",
            "--config-file", str(config),
            "--strict",
            "--follow-imports=silent",
            "--cache-dir", str(tmp / ".mypy_cache"),
            "--show-error-codes",
            "--no-error-summary",
            "--hide-error-context",
            "good_docs.py", "bad_docs.py",
        ],
        cwd=str(tmp), env=env, capture_output=True, text=True, timeout=600,
    )
    results: Dict[str, Dict[int, List[str]]] = {"good_docs": {}, "bad_docs": {}}
    pattern = re.compile(r"^(good_docs|bad_docs)\.py:(\d+): (error|note): (.*)$")
    for line in proc.stdout.splitlines():
        match = pattern.match(line)
        if match and match.group(3) == "error":
            results[match.group(1)].setdefault(int(match.group(2)), []).append(match.group(4))
        elif not match and "error" in line:
            pytest.fail(f"unexpected mypy output: {line}\n{proc.stdout}\n{proc.stderr}")
    if proc.returncode not in (0, 1):
        pytest.fail(f"mypy crashed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return results


def test_microsoft_sample_documents_pass_mypy_strict(mypy_results: Dict[str, Dict[int, List[str]]]) -> None:
    assert mypy_results["good_docs"] == {}


def test_wrong_documents_fail_mypy(mypy_results: Dict[str, Dict[int, List[str]]]) -> None:
    lines = textwrap.dedent(BAD_SNIPPET).splitlines()
    bad_lines = {i for i, text in enumerate(lines, start=1) if "# BAD" in text}
    errors = mypy_results["bad_docs"]
    assert len(bad_lines) >= 10
    missing = sorted(n for n in bad_lines if n not in errors)
    assert not missing, "mypy accepted: " + "; ".join(lines[n - 1] for n in missing)
    unexpected = sorted(n for n in errors if n not in bad_lines)
    assert not unexpected, {n: errors[n] for n in unexpected}
