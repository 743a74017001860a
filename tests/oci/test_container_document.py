"""config.json -> ComputeSystem document (pyhcs.oci.container_document), rule by rule.

Sources: hcsshim internal/hcsoci/hcsdoc_wcow.go createWindowsContainerDocument (v2 Argon), resources_wcow.go,
create.go; internal/oci/uvm.go ParseAnnotations*; runtime-spec config.md and config-windows.md.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

import pytest

from pyhcs import oci
from pyhcs.oci import (
    ConflictError,
    FieldTypeError,
    FieldValueError,
    MissingFieldError,
    SpecError,
    UnsupportedError,
    container_document,
)
from tests.oci.samples import VOLUME, make_layers, windows_config
from tests.runtime_spec import errors as schema_errors


def doc(config: Dict[str, Any], **kw: Any) -> Dict[str, Any]:
    return container_document(config, owner="runhcs", **kw)


def problem(config: Dict[str, Any], **kw: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        container_document(config, **kw)
    return info.value


# -- the document's frame ---------------------------------------------------------------------------------------
def test_minimal_config_gives_a_v21_container_that_terminates_with_its_last_handle() -> None:
    d = doc(windows_config())
    assert d["Owner"] == "runhcs"
    assert d["SchemaVersion"] == {"Major": 2, "Minor": 1}
    assert d["ShouldTerminateOnLastHandleClosed"] is True
    assert set(d) == {"Owner", "SchemaVersion", "Container", "ShouldTerminateOnLastHandleClosed"}


def test_sample_configs_are_valid_for_the_runtime_spec_schema() -> None:
    assert schema_errors("config-schema.json", windows_config()) == []


def test_layer_folders_become_parent_layers_and_the_last_is_the_scratch() -> None:
    storage = doc(windows_config())["Container"]["Storage"]
    assert [layer["Path"] for layer in storage["Layers"]] == ["C:\\layers\\top", "C:\\layers\\base"]
    assert storage["Path"] == VOLUME


def test_layer_ids_are_stable_guids_of_the_folder_base_name() -> None:
    layers = doc(windows_config())["Container"]["Storage"]["Layers"]
    again = doc(windows_config(layers=["D:\\other\\top", "D:\\other\\base", "D:\\s"]))["Container"]["Storage"]["Layers"]
    assert [x["Id"] for x in layers] == [x["Id"] for x in again]  # hcsshim: NameToGuid(filepath.Base(path))
    assert layers[0]["Id"] != layers[1]["Id"]
    assert oci.layer_id("C:\\layers\\top\\") == layers[0]["Id"]


def test_a_custom_layer_id_function_is_used() -> None:
    layers = doc(windows_config(), layer_id=lambda p: "00000000-0000-0000-0000-00000000000" + str(len(p) % 10))
    assert all(x["Id"].startswith("00000000-") for x in layers["Container"]["Storage"]["Layers"])


def test_root_path_gets_its_trailing_backslash() -> None:
    config = windows_config(root={"path": VOLUME.rstrip("\\")})
    assert doc(config)["Container"]["Storage"]["Path"] == VOLUME


def test_hostname_becomes_guest_os_host_name() -> None:
    assert doc(windows_config(hostname="web1"))["Container"]["GuestOs"] == {"HostName": "web1"}


def test_wait_to_kill_service_timeout_is_always_raised() -> None:
    values = doc(windows_config())["Container"]["RegistryChanges"]["AddValues"]
    assert values == [{"Key": {"Hive": "System", "Name": "ControlSet001\\Control"},
                       "Name": "WaitToKillServiceTimeout", "Type": "String", "StringValue": "2147483647"}]


def test_relative_layer_folders_are_resolved_against_the_bundle(tmp_path: Any) -> None:
    config = windows_config(layers=["l1", "l0", "scratch"])
    layers = doc(config, bundle=str(tmp_path))["Container"]["Storage"]["Layers"]
    assert [x["Path"] for x in layers] == [os.path.join(str(tmp_path), "l1"), os.path.join(str(tmp_path), "l0")]


def test_layers_argument_replaces_null_layer_folders() -> None:
    config = windows_config()
    config["windows"]["layerFolders"] = None  # containerd writes this
    layers = doc(config, layers=["C:\\a", "C:\\b", "C:\\s"])["Container"]["Storage"]["Layers"]
    assert [x["Path"] for x in layers] == ["C:\\a", "C:\\b"]


# -- layers and root: what is wrong, precisely --------------------------------------------------------------------
def test_null_layer_folders_without_layers_is_a_missing_field() -> None:
    config = windows_config()
    config["windows"]["layerFolders"] = None
    err = problem(config)
    assert isinstance(err, MissingFieldError)
    assert err.path == "windows.layerFolders"
    assert "is null" in str(err)


def test_a_single_layer_folder_means_no_image_layer() -> None:
    err = problem(windows_config(layers=["C:\\scratch"]))
    assert isinstance(err, FieldValueError)
    assert "at least one image layer followed by the scratch folder (got 1 entry)" in str(err)


def test_repeated_layer_folders_are_refused() -> None:
    err = problem(windows_config(layers=["C:\\l", "C:\\l", "C:\\s"]))
    assert err.path == "windows.layerFolders[1]" and "repeats layerFolders[0]" in str(err)


def test_layer_folders_of_the_wrong_type_are_reported_at_their_index() -> None:
    err = problem(windows_config(layers=["C:\\l", 7, "C:\\s"]))  # type: ignore[list-item]
    assert isinstance(err, FieldTypeError) and err.path == "windows.layerFolders[1]"
    assert err.value == 7


def test_missing_root_is_required_for_process_isolation() -> None:
    config = windows_config()
    del config["root"]
    err = problem(config)
    assert isinstance(err, MissingFieldError) and err.path == "root"
    assert "REQUIRED for Windows Server containers" in str(err)


def test_root_path_must_be_a_volume_guid_path() -> None:
    err = problem(windows_config(root={"path": "C:\\rootfs"}))
    assert isinstance(err, FieldValueError) and err.path == "root.path"
    assert err.value == "C:\\rootfs" and "volume GUID path" in str(err)


def test_read_only_root_is_refused() -> None:
    err = problem(windows_config(root={"path": VOLUME, "readonly": True}))
    assert err.path == "root.readonly" and "MUST be omitted or false" in str(err)


def test_check_paths_finds_missing_layer_folders(tmp_path: Any) -> None:
    folders = make_layers(str(tmp_path))
    doc(windows_config(layers=folders), check_paths=True)
    os.rmdir(folders[2])
    err = problem(windows_config(layers=folders), check_paths=True)
    assert err.path == "windows.layerFolders[2]" and "(the scratch folder)" in str(err)


def test_check_paths_finds_misordered_layers_through_layerchain_json(tmp_path: Any) -> None:
    top, base, scratch = make_layers(str(tmp_path))
    err = problem(windows_config(layers=[base, top, scratch]), check_paths=True)
    assert err.path == "windows.layerFolders[0]" and "misordered" in str(err)


# -- resources and hcsshim's annotation overrides ---------------------------------------------------------------
def test_cpu_count_is_clamped_to_the_host_processors() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "resources": {"cpu": {"count": 64}}})
    assert doc(config, host_processor_count=4)["Container"]["Processor"] == {"Count": 4}
    config["windows"]["resources"]["cpu"]["count"] = 2
    assert doc(config, host_processor_count=4)["Container"]["Processor"] == {"Count": 2}


@pytest.mark.parametrize("spec, expected", [({"maximum": 5000}, {"Maximum": 5000}), ({"shares": 300}, {"Weight": 300})])
def test_cpu_maximum_and_shares_map_to_maximum_and_weight(spec: Dict[str, int], expected: Dict[str, int]) -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "resources": {"cpu": spec}})
    assert doc(config)["Container"]["Processor"] == expected


def test_cpu_limits_are_mutually_exclusive() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"],
                                     "resources": {"cpu": {"count": 2, "maximum": 5000}}})
    err = problem(config)
    assert isinstance(err, ConflictError) and err.path == "windows.resources.cpu"
    assert "count = 2" in str(err) and "maximum = 5000" in str(err)


def test_an_annotation_conflicting_with_the_spec_cpu_limit_is_a_conflict() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "resources": {"cpu": {"count": 2}}},
                            annotations={"io.microsoft.container.processor.limit": "2500"})
    assert isinstance(problem(config), ConflictError)


def test_processor_annotations_override_the_spec() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "resources": {"cpu": {"count": 2}}},
                            annotations={"io.microsoft.container.processor.count": "1"})
    assert doc(config, host_processor_count=8)["Container"]["Processor"] == {"Count": 1}


def test_a_zero_annotation_falls_back_to_the_spec() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "resources": {"cpu": {"shares": 9}}},
                            annotations={"io.microsoft.container.processor.weight": "0"})
    assert doc(config)["Container"]["Processor"] == {"Weight": 9}


def test_cpu_maximum_outside_1_to_10000_is_refused() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "resources": {"cpu": {"maximum": 20000}}})
    assert problem(config).path == "windows.resources.cpu.maximum"


def test_memory_limit_bytes_become_size_in_mb() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"],
                                     "resources": {"memory": {"limit": 3 * 1024 * 1024 + 5}}})
    assert doc(config)["Container"]["Memory"] == {"SizeInMB": 3}


def test_memory_limit_below_one_mib_is_refused_instead_of_dropped() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "resources": {"memory": {"limit": 4096}}})
    err = problem(config)
    assert err.path == "windows.resources.memory.limit" and "below 1 MiB" in str(err)


def test_memory_annotation_overrides_the_limit() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"],
                                     "resources": {"memory": {"limit": 2 ** 30}}},
                            annotations={"io.microsoft.container.memory.sizeinmb": "512"})
    assert doc(config)["Container"]["Memory"] == {"SizeInMB": 512}


def test_storage_iops_and_bps_become_storage_qos() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"],
                                     "resources": {"storage": {"iops": 50, "bps": 1000, "sandboxSize": 1}}},
                            annotations={"io.microsoft.container.storage.qos.iopsmaximum": "70"})
    assert doc(config)["Container"]["Storage"]["QoS"] == {"BandwidthMaximum": 1000, "IopsMaximum": 70}


@pytest.mark.parametrize("key, value", [
    ("io.microsoft.container.processor.count", "two"),
    ("io.microsoft.container.processor.count", "1.5"),
    ("io.microsoft.container.memory.sizeinmb", "-1"),
    ("io.microsoft.container.memory.sizeinmb", "+5"),  # ParseUint takes no sign
    ("io.microsoft.container.storage.qos.bandwidthmaximum", "99999999999"),
])
def test_unparsable_resource_annotations_are_errors(key: str, value: str) -> None:
    err = problem(windows_config(annotations={key: value}))
    assert isinstance(err, FieldValueError)
    assert err.path == f'annotations["{key}"]' and err.value == value


def test_cpu_affinity_is_not_supported_yet() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"],
                                     "resources": {"cpu": {"affinity": [{"mask": 3, "group": 0}]}}})
    assert isinstance(problem(config), UnsupportedError)


# -- network, credentials, devices, dumps -----------------------------------------------------------------------
NS = "168f3daf-efc6-4377-b20a-2c86764ba892"
EP = "7a010682-17e0-4455-a838-02e5d9655fe6"


def test_network_namespace_and_dns_settings() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "network": {
        "networkNamespace": NS, "allowUnqualifiedDNSQuery": True, "DNSSearchList": ["a.com", "b.com"],
        "networkSharedContainerName": "other"}})
    assert doc(config)["Container"]["Networking"] == {
        "Namespace": NS, "AllowUnqualifiedDnsQuery": True, "DnsSearchList": "a.com,b.com",
        "NetworkSharedContainerName": "other"}


def test_endpoint_list_becomes_network_adapters() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "network": {"endpointList": [EP]}})
    assert doc(config)["Container"]["Networking"] == {"NetworkAdapters": [EP]}


def test_namespace_override_wins() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "network": {"networkNamespace": NS}})
    other = "00000000-0000-0000-0000-000000000001"
    assert doc(config, network_namespace=other)["Container"]["Networking"]["Namespace"] == other


def test_namespace_with_endpoints_conflicts() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"],
                                     "network": {"networkNamespace": NS, "endpointList": [EP]}})
    assert isinstance(problem(config), ConflictError)


def test_string_credential_spec_is_accepted_and_its_guard_state_embedded() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "credentialSpec": '{"CmsPlugins":[]}'})
    assert oci.credential_spec(config) == '{"CmsPlugins":[]}'
    state = {"Cookie": "AAAA", "RpcEndpoint": "ccg", "Transport": "LRPC", "CredentialSpec": "{}"}
    assert doc(config, credential_guard=state)["Container"]["ContainerCredentialGuard"] == state
    assert "ContainerCredentialGuard" not in doc(config)["Container"]


def test_object_credential_spec_is_passed_as_its_json_text() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "credentialSpec": {"CmsPlugins": ["a"]}})
    assert json.loads(oci.credential_spec(config) or "") == {"CmsPlugins": ["a"]}


def test_gmsa_disabled_by_annotation_refuses_a_credential_spec() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "credentialSpec": "{}"},
                            annotations={"io.microsoft.container.wcow.gmsa.disable": "true"})
    assert isinstance(problem(config), ConflictError)


def test_devices_by_class_guid_and_location_path() -> None:
    guid = "5175d334-c371-4806-b3ba-71fd53c9258d"
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "devices": [
        {"id": guid, "idType": "class"}, {"id": guid, "idType": "vpci-class-guid"},
        {"id": "PCIROOT(0)#PCI(0100)", "idType": "vpci-location-path"}]})
    assert doc(config)["Container"]["AssignedDevices"] == [
        {"InterfaceClassGuid": guid}, {"InterfaceClassGuid": guid},
        {"Type": "DeviceInstance", "LocationPath": "PCIROOT(0)#PCI(0100)"}]


def test_unknown_device_id_type_is_refused() -> None:
    config = windows_config(windows={"layerFolders": ["C:\\a", "C:\\s"], "devices": [{"id": "x", "idType": "gpu"}]})
    assert problem(config).path == "windows.devices[0].idType"


def test_process_dump_annotations_add_wer_registry_values() -> None:
    config = windows_config(annotations={"io.microsoft.container.processdumplocation": "C:\\dumps\\{container_id}",
                                         "io.microsoft.wcow.processdumptype": "mini",
                                         "io.microsoft.wcow.processdumpcount": "3"})
    values = doc(config, container_id="c7")["Container"]["RegistryChanges"]["AddValues"]
    assert [(v["Name"], v.get("StringValue", v.get("DWordValue"))) for v in values[1:]] == [
        ("DumpFolder", "C:\\dumps\\c7"), ("DumpType", 1), ("DumpCount", 3)]


def test_bad_dump_type_is_refused() -> None:
    config = windows_config(annotations={"io.microsoft.container.processdumplocation": "C:\\d",
                                         "io.microsoft.wcow.processdumptype": "huge"})
    assert "mini" in str(problem(config))


# -- mounts ------------------------------------------------------------------------------------------------------
def test_mounts_become_mapped_directories_and_pipes(tmp_path: Any) -> None:
    config = windows_config(mounts=[
        {"destination": "C:\\data", "source": str(tmp_path), "options": ["RO"]},
        {"destination": "C:\\rw", "source": "rel", "type": "bind"},
        {"destination": "\\\\.\\pipe\\docker_engine", "source": "\\\\.\\pipe\\docker_engine"},
    ])
    container = doc(config, bundle="/bundle")["Container"]
    assert container["MappedDirectories"] == [
        {"HostPath": str(tmp_path), "ContainerPath": "C:\\data", "ReadOnly": True},
        {"HostPath": os.path.join("/bundle", "rel"), "ContainerPath": "C:\\rw"}]
    assert container["MappedPipes"] == [{"ContainerPipeName": "docker_engine", "HostPath": "\\\\.\\pipe\\docker_engine"}]


def test_mount_sources_are_resolved_through_symlinks_when_paths_are_checked(tmp_path: Any) -> None:
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    try:
        link.symlink_to(target)
    except (OSError, NotImplementedError):
        pytest.skip("symlinks are not available here")
    if not os.path.isdir(str(link)):
        pytest.skip("this filesystem does not follow the symlink it made (Wine)")
    config = windows_config(layers=make_layers(str(tmp_path)), mounts=[{"destination": "C:\\d", "source": str(link)}])
    assert doc(config, check_paths=True)["Container"]["MappedDirectories"][0]["HostPath"] == os.path.realpath(target)


@pytest.mark.parametrize("mount, path, text", [
    ({"destination": "C:\\d"}, "mounts[0].source", "is required"),
    ({"destination": "relative", "source": "/x"}, "mounts[0].destination", "absolute Windows path"),
    ({"destination": "C:\\d", "source": "\\\\server\\share"}, "mounts[0].source", "UNC"),
    ({"destination": "C:\\p", "source": "\\\\.\\pipe\\x"}, "mounts[0].destination", "named pipe"),
    ({"destination": "C:\\d", "source": "/x", "type": "virtual-disk"}, "mounts[0].type", "utility VM"),
])
def test_bad_mounts_are_reported(mount: Dict[str, Any], path: str, text: str) -> None:
    err = problem(windows_config(mounts=[mount]))
    assert err.path == path and text in str(err)


def test_nested_mount_destinations_conflict() -> None:
    config = windows_config(mounts=[{"destination": "C:\\data", "source": "/a"},
                                    {"destination": "c:/Data/sub", "source": "/b"}])
    err = problem(config)
    assert isinstance(err, ConflictError) and err.path == "mounts[1].destination"


def test_a_missing_mount_source_is_found_when_paths_are_checked(tmp_path: Any) -> None:
    config = windows_config(layers=make_layers(str(tmp_path)),
                            mounts=[{"destination": "C:\\d", "source": str(tmp_path / "nope")}])
    assert "does not exist" in str(problem(config, check_paths=True))


# -- isolation the bundle asks for ------------------------------------------------------------------------------
def test_a_hyperv_bundle_is_sent_to_hosted_container() -> None:
    """container_document builds process-isolated containers; a windows.hyperv one runs in a utility VM, whose
    document hosted_container builds."""
    config = windows_config()
    config["windows"]["hyperv"] = {"utilityVMPath": ""}
    err = problem(config)
    assert isinstance(err, UnsupportedError) and err.path == "windows.hyperv"
    assert "pyhcs.oci.hosted_container" in str(err)
    assert oci.isolation(config) == "hyperv"


def test_linux_containers_are_not_supported_yet() -> None:
    err = problem({"ociVersion": "1.1.0", "linux": {}, "root": {"path": "rootfs"}})
    assert isinstance(err, UnsupportedError) and err.path == "linux"
    assert "Linux containers" in str(err)


def test_host_process_containers_are_not_supported_yet() -> None:
    err = problem(windows_config(annotations={"microsoft.com/hostprocess-container": "true"}))
    assert isinstance(err, UnsupportedError)


def test_missing_windows_section_is_required() -> None:
    config = windows_config()
    del config["windows"]
    err = problem(config)
    assert isinstance(err, MissingFieldError) and err.path == "windows"


# -- the whole document at once ---------------------------------------------------------------------------------
def test_every_problem_is_reported_at_once_with_its_source() -> None:
    config = windows_config(ociVersion="one", root={"path": "C:\\x", "readonly": True},
                            process={"cwd": "relative", "args": []})
    config["windows"]["layerFolders"] = ["C:\\only"]
    err = problem(config)
    paths = [e.path for e in err.errors]
    assert paths == ["ociVersion", "root.readonly", "root.path", "windows.layerFolders", "process.cwd", "process.args"]
    assert str(err).startswith("config.json: ociVersion: must be a SemVer 2.0.0 version")
    assert err.one_line().count(";") == len(paths) - 2 and "5 more" in err.one_line()


def test_unknown_fields_and_annotations_are_ignored() -> None:
    # runtime-tools misc_props: MUST NOT error on unknown properties or annotation keys.
    config = windows_config(unknown="unknown", annotations={"org.example.unknown": "x"})
    doc(config)


def test_a_config_that_is_not_an_object_is_a_type_error() -> None:
    with pytest.raises(FieldTypeError):
        container_document([])  # type: ignore[arg-type]


def test_errors_are_value_errors() -> None:
    assert issubclass(SpecError, ValueError) and issubclass(oci.BundleError, ValueError)


# -- robustness: any JSON gives a document or a SpecError, never a crash ------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
FIELDS = [("ociVersion",), ("root",), ("root", "path"), ("root", "readonly"), ("process",), ("process", "args"),
          ("process", "env"), ("process", "cwd"), ("process", "terminal"), ("process", "consoleSize"), ("mounts",),
          ("windows",), ("windows", "layerFolders"), ("windows", "resources"), ("windows", "network"),
          ("windows", "devices"), ("windows", "credentialSpec"), ("windows", "hyperv"), ("annotations",),
          ("hostname",), ("linux",)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FIELDS), json_values), max_size=4))
def test_any_json_in_any_field_gives_a_document_or_a_spec_error(changes: Any) -> None:
    config = windows_config()
    for path, value in changes:
        target = config
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[path[-1]] = value
    try:
        result = container_document(config)
    except SpecError as exc:
        assert exc.errors and all(isinstance(e, SpecError) for e in exc.errors)
        str(exc)
        exc.one_line()
    else:
        json.dumps(result)  # a document HCS can be given
