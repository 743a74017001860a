"""Documented HCS behaviours as a pyhcs user meets them, through the public object layer.

Each test is the pyhcs side of a rule of the fake (tests/fakes/README.md, "Behaviour and sources"); the raw ABI side
is in tests/test_fake_*.py. Sources: Microsoft's virtualization/api/hcs docs (Reference/*.md, SchemaReference.md,
Tutorial.md, OperationCompletionSample.md) and hcsshim internal/hcs/v2.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import pyhcs
from pyhcs import ComputeSystem
from pyhcs.errors import HcsGuestConnectionError, HcsNotSupportedError
from tests.support import container_document, sh, unique_id, win_sleep

ROOT = Path(__file__).resolve().parent.parent
E_OUTOFMEMORY = 0x8007000E

# Tutorial.md's virtual machine (without its disk), with a guest connection.
VM = {
    "SchemaVersion": {"Major": 2, "Minor": 1},
    "Owner": "pyhcs-tests",
    "VirtualMachine": {
        "Chipset": {"Uefi": {}},
        "ComputeTopology": {"Memory": {"Backing": "Virtual", "SizeInMB": 2048}, "Processor": {"Count": 2}},
        "GuestConnection": {},
    },
}


# -- properties (issue 9, item 1) ------------------------------------------------------------------------------

def test_tutorial_memory_query_and_memory_modify() -> None:
    """Tutorial.md: {"PropertyTypes": ["Memory"]} on a running VM answers Properties.Memory
    (MemoryInformationForVm); its SizeInMB Update shows in the next query."""
    with ComputeSystem.create(unique_id(), VM, timeout=10) as system:
        system.start(timeout=10)
        memory = system.properties(["Memory"])["Memory"]
        assert memory["VirtualMachineMemory"]["AssignedMemory"] == 2048 * 256  # 4 KiB pages
        system.modify({"ResourcePath": "VirtualMachine/ComputeTopology/Memory/SizeInMB", "RequestType": "Update",
                       "Settings": 4096})
        assert system.properties(["Memory"])["Memory"]["VirtualMachineMemory"]["AssignedMemory"] == 4096 * 256
        info = system.properties(["GuestConnection", "SharedMemoryRegion"])
        assert info["GuestConnectionInfo"]["ProtocolVersion"] > 0 and info["SharedMemoryRegionInfo"] == []


def test_vm_property_types_on_a_container_raise_not_supported() -> None:
    """Memory, SharedMemoryRegion and GuestConnection describe a VM (SchemaReference.md); a container answers
    ERROR_NOT_SUPPORTED (README: choice), which pyhcs raises as HcsNotSupportedError with HCS's message."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        for property_type in ("Memory", "SharedMemoryRegion", "GuestConnection"):
            with pytest.raises(HcsNotSupportedError) as info:
                system.properties([property_type])
            assert property_type in (info.value.result_message or "")


def test_guest_connection_of_a_vm_not_running_raises_guest_connection_error() -> None:
    """VirtualMachine.GuestConnection: established during start (SchemaReference.md); before that there is none:
    HCS_E_CONNECT_FAILED -> HcsGuestConnectionError."""
    with ComputeSystem.create(unique_id(), VM, timeout=10) as system:
        with pytest.raises(HcsGuestConnectionError):
            system.properties(["GuestConnection"])


# -- errors in the operation, not the call (issue 9, item 2) -------------------------------------------------

def test_second_shutdown_and_terminate_answer_already_stopped(fake) -> None:
    """HcsShutDownComputeSystem.md "Operation Results": HCS_E_SYSTEM_ALREADY_STOPPED for a duplicate shutdown or
    terminate -- the operation's result (the call returns S_OK). pyhcs answers False, as hcsshim tolerates it (sync
    and async), and leaving the ``with`` block of a stopped system is quiet."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        assert system.terminate(timeout=10) is True
        assert system.shutdown(timeout=10) is False
        assert system.terminate() is False

        async def again() -> None:
            assert await system.terminate_async() is False
            assert await system.shutdown_async() is False

        asyncio.run(again())


def test_failed_create_raises_and_leaves_no_handle(fake) -> None:
    """HcsCreateComputeSystem.md "Operation Results": a duplicate id or an invalid document fails the create's
    operation (the call returns a handle); pyhcs raises the typed error and closes that handle (the fake's leak
    check), sync and async."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        with pytest.raises(pyhcs.HcsAlreadyExistsError):
            ComputeSystem.create(system.id, container_document(), timeout=10)
        with pytest.raises(pyhcs.HcsInvalidJsonError):
            ComputeSystem.create(unique_id(), {"SchemaVersion": {"Major": 2, "Minor": 1}}, timeout=10)

        async def create_async() -> None:
            with pytest.raises(pyhcs.HcsAlreadyExistsError):
                await ComputeSystem.create_async(system.id, container_document())

        asyncio.run(create_async())
        assert system.state == "Created"  # the existing system is untouched
    assert pyhcs.operation.drain(5) and fake.wait_quiescent(5)
    assert fake.counters()["OpenSystemHandles"] == 0


def test_malformed_process_parameters_raise_from_the_operation(fake) -> None:
    """HcsCreateProcess: malformed ProcessParameters fail the operation (HCS_E_INVALID_JSON); pyhcs raises
    HcsInvalidJsonError and closes the process handle the call returned."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        with pytest.raises(pyhcs.HcsInvalidJsonError):
            system.create_process(document={"CommandLine": sh("exit 0", "cmd /c exit 0"),
                                            "ConsoleSize": [1]})
        assert system.run(sh("exit 0", "cmd /c exit 0")).exit_code == 0


# -- std handles (issue 9, item 4) ------------------------------------------------------------------------------

def test_streams_not_requested_are_none_not_handle_minus_one() -> None:
    """HCS returns INVALID_HANDLE_VALUE for std streams that were not requested (hcsshim v2/utils.go); pyhcs maps
    it to None -- never a descriptor -1 -- in Process.stdin/stdout/stderr and process_info()."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        with system.create_process(sh("sleep 30", win_sleep(30)), stdin=False,
                                   stderr=False) as process:
            assert process.stdin is None and process.stderr is None and process.stdout is not None
            with process.process_info() as info:
                assert info.stdin is None and info.stderr is None and info.stdout is not None
                assert info.stdout.fileno() >= 0
            process.terminate()
        with system.create_process(sh("exit 0", "cmd /c exit 0"), stdin=False, stdout=False,
                                   stderr=False) as quiet:
            assert (quiet.stdin, quiet.stdout, quiet.stderr) == (None, None, None)
            quiet.wait(10)


# -- modify (issue 9, item 5) ----------------------------------------------------------------------------------

def test_modify_rejects_a_request_type_the_resource_does_not_take() -> None:
    """HcsModifyComputeSystem.md: ResourcePath VirtualMachine/ComputeTopology/Gpu takes "Only Update",
    FlexibleIov "Only Add": anything else is HcsNotSupportedError (ERROR_NOT_SUPPORTED) naming what is accepted."""
    with ComputeSystem.create(unique_id(), VM, timeout=10) as system:
        system.start(timeout=10)
        with pytest.raises(HcsNotSupportedError) as info:
            system.modify({"ResourcePath": "VirtualMachine/ComputeTopology/Gpu", "RequestType": "Add"})
        assert "Update" in (info.value.result_message or "")
        system.modify({"ResourcePath": "VirtualMachine/ComputeTopology/Gpu", "RequestType": "Update",
                       "Settings": {}})
        with pytest.raises(HcsNotSupportedError):
            system.modify({"ResourcePath": "VirtualMachine/Devices/FlexibleIov/nic", "RequestType": "Remove"})


# -- crash attribution (issue 9, item 6) -----------------------------------------------------------------------

def test_crash_exit_is_attributed_to_a_guest_crash_with_its_parameters() -> None:
    """SchemaReference.md: SystemExitStatus.Attribution [AttributionRecord {GuestCrash {CrashParameters}}]."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        system.crash(timeout=10)
        status = system.wait(timeout=10)
        assert status["ExitType"] == "UnexpectedExit"
        (record,) = status["Attribution"]
        parameters = record["GuestCrash"]["CrashParameters"]
        assert len(parameters) == 5 and all(isinstance(p, int) for p in parameters)


# -- service properties (issue 9, item 7) ----------------------------------------------------------------------

def test_service_properties_of_every_documented_type() -> None:
    """HcsGetServiceProperties.md: CpuGroup, ProcessorTopology, ContainerCredentialGuard, QoSCapabilities each
    answer their document; a Container Credential Guard instance added with modify_service_settings shows in the
    next query (hcsshim internal/credentials) until removed."""
    props = pyhcs.get_service_properties(["ProcessorTopology", "QoSCapabilities", "CpuGroup",
                                          "ContainerCredentialGuard"])["Properties"]
    topology, qos, groups, ccg = props
    assert topology["LogicalProcessorCount"] == len(topology["LogicalProcessors"]) >= 1
    assert qos == {"ProcessorQoSSupported": True} and groups == {"CpuGroups": []} and ccg == {"Instances": []}
    request = {"PropertyType": "ContainerCredentialGuard", "Settings": {
        "Operation": "AddInstance", "OperationDetails": {"Id": "c1", "CredentialSpec": "{}", "Transport": "LRPC"}}}
    pyhcs.modify_service_settings(request)
    try:
        (instance,) = pyhcs.get_service_properties(["ContainerCredentialGuard"])["Properties"][0]["Instances"]
        assert instance["Id"] == "c1" and instance["CredentialGuard"]["Transport"] == "LRPC"
        with pytest.raises(pyhcs.HcsAlreadyExistsError):
            pyhcs.modify_service_settings(request)
    finally:
        pyhcs.modify_service_settings({"PropertyType": "ContainerCredentialGuard", "Settings": {
            "Operation": "RemoveInstance", "OperationDetails": {"Id": "c1"}}})


# -- realistic create durations (issue 9, item 8) --------------------------------------------------------------

def test_creates_take_a_realistic_minimum_time(fake) -> None:
    """OperationCompletionSample.md registers the new system's callback after HcsCreateComputeSystem returns and
    relies on the create outlasting that; the fake's creates take at least 100 ms (systems) and 10 ms (processes)
    by default, and pyhcs's create (which registers right after the call) copes, sync and async."""
    t0 = time.monotonic()
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        assert time.monotonic() - t0 >= 0.099
        system.start(timeout=10)
        t0 = time.monotonic()
        with system.create_process(sh("exit 0", "cmd /c exit 0")) as process:
            assert time.monotonic() - t0 >= 0.0099
            process.wait(10)

    async def create_async() -> float:
        t0 = time.monotonic()
        system = await ComputeSystem.create_async(unique_id(), container_document())
        elapsed = time.monotonic() - t0
        system.close()
        return elapsed

    assert asyncio.run(create_async()) >= 0.099


# -- descriptors of finished processes (issue 8, item 6) -------------------------------------------------------

_MANY_RUNS = """
try:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
except ImportError:  # Windows: no descriptor limit to lower; the handle count below still tells
    pass
import pyhcs
from tests.support import container_document, open_descriptor_count as open_descriptors, sh, unique_id

with pyhcs.ComputeSystem.create(unique_id(), container_document(), timeout=30) as system:
    system.start(timeout=30)
    for i in range(300):
        done = system.run(sh("echo hi", "cmd /c echo hi"), timeout=30)
        assert done.exit_code == 0 and done.stdout.strip() == b"hi", (i, done)
        if i == 9:
            first = open_descriptors()
    last = open_descriptors()
print("descriptors", first, last)
"""


def test_a_long_lived_system_runs_any_number_of_processes() -> None:
    """HCS keeps its side of a process's pipes in the service and releases them with the process; the in-process
    fake must not make the caller pay for them: 300 ``run()`` calls on one system under a 256-descriptor limit all
    succeed and the descriptor count stays flat (it grew by 2 per process before)."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_MANY_RUNS)], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    first, last = (int(v) for v in proc.stdout.split("descriptors")[1].split())
    assert last - first <= 4, (first, last)


# -- HcsCreateOperation failure (issue 8, item 12) -------------------------------------------------------------

def test_create_operation_failure_is_a_typed_error_and_leaks_nothing(fake) -> None:
    """HcsCreateOperation.md: NULL "if resources required for the operation couldn't be allocated"; every pyhcs
    call that needs an operation raises HcsError (E_OUTOFMEMORY, function HcsCreateOperation), starts nothing and
    leaks nothing (the fake's leak check), sync and async."""
    with ComputeSystem.create(unique_id(), container_document(), timeout=10) as system:
        system.start(timeout=10)
        for call in (lambda: system.properties(), lambda: system.properties(timeout=5),
                     lambda: system.run(sh("exit 0", "cmd /c exit 0")),
                     lambda: ComputeSystem.create(unique_id(), container_document(), timeout=5)):
            fake.inject_fault("HcsCreateOperation", E_OUTOFMEMORY)
            with pytest.raises(pyhcs.HcsError) as info:
                call()
            assert info.value.hresult == E_OUTOFMEMORY and info.value.function == "HcsCreateOperation"

        async def async_calls() -> None:
            for make in (system.properties_async, system.pause_async,
                         lambda: ComputeSystem.create_async(unique_id(), container_document())):
                fake.inject_fault("HcsCreateOperation", E_OUTOFMEMORY)
                with pytest.raises(pyhcs.HcsError) as info:
                    await make()
                assert info.value.hresult == E_OUTOFMEMORY and info.value.function == "HcsCreateOperation"

        asyncio.run(async_calls())
        assert system.state == "Running"  # nothing was started: the pause never happened
        assert fake.counters()["LiveSystems"] == 1
