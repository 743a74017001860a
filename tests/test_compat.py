"""pyhcs.compat: Windows versions, the host, isolation rules, schema versions, the containerd/cri pod matrix and image
versions — each behaviour with the document or source it comes from.

Sources: hcsshim ``osversion/{windowsbuilds.go,platform_compat_windows.go,platform_compat_windows_test.go}`` and
``internal/schemaversion``; MicrosoftDocs ``deploy-containers/version-compatibility.md`` and ``containerd.md``
(the seed's pod table); ``api/hcs/SchemaReference.md`` (Schema Version Map); OCI image-spec config.md.
docs/compat.md reproduces Microsoft's tables; the tests parse them there, so the docs and the code cannot drift.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from dataclasses import astuple
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyhcs import compat
from pyhcs.compat import (
    LINUX,
    CompatError,
    Host,
    HostVersionUnavailableError,
    IncompatibleError,
    InvalidImageConfigError,
    InvalidVersionError,
    Isolation,
    IsolationError,
    OSVersion,
    PodSupport,
    PodSupportError,
    Rule,
    SchemaVersionError,
    Sku,
)

ROOT = Path(__file__).resolve().parent.parent
COMPAT_MD = ROOT / "docs" / "compat.md"
DWORD = 2**32 - 1

dwords = st.integers(min_value=0, max_value=DWORD)
versions = st.builds(OSVersion, dwords, dwords, dwords, dwords)
container_builds = st.integers(min_value=14393, max_value=30000)


def server(build: int, revision: int = 0) -> Host:
    return Host(OSVersion(10, 0, build, revision))


def client(build: int, revision: int = 0) -> Host:
    return Host(OSVersion(10, 0, build, revision), Sku.CLIENT)


# ---------------------------------------------------------------------------------------------- docs tables
def markdown_table(first_header: str) -> List[List[str]]:
    """The body rows of the docs/compat.md table whose first header cell is *first_header*."""
    lines = COMPAT_MD.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_header:
            rows = []
            for body in lines[index + 2:]:
                if not body.startswith("|"):
                    break
                rows.append([c.strip() for c in body.strip().strip("|").split("|")])
            return rows
    raise AssertionError(f"docs/compat.md has no table starting with {first_header!r}")


def release_named(name: str) -> compat.Release:
    """A product name as the Microsoft tables write it ("Windows Server 2019/1809", "Windows Server 1709",
    "Windows 10 1809") → its entry in compat.RELEASES."""
    match = re.fullmatch(r"Windows Server (\w+)(?:/(\w+))?", name)
    if match:
        label, version = match.groups()
        found = [r for r in compat.RELEASES
                 if r.server and (r.server == f"Windows Server {label}" or (r.version == label and "version" in r.server))]
        assert len(found) == 1, name
        assert version is None or found[0].version == version, name
        return found[0]
    match = re.fullmatch(r"Windows (10|11) (\w+)", name)
    assert match, name
    found = [r for r in compat.RELEASES if r.client == f"Windows {match.group(1)}, version {match.group(2)}"]
    assert len(found) == 1, name
    return found[0]


# ================================================================================================ versions
class TestOSVersion:
    """version-compatibility.md: "four levels of versioning: major, minor, build and revision"."""

    @pytest.mark.parametrize("text, expected", [
        ("10.0.17763.1234", OSVersion(10, 0, 17763, 1234)),
        ("10.0.17763", OSVersion(10, 0, 17763, 0)),
        ("  10.0.20348.2655\n", OSVersion(10, 0, 20348, 2655)),
        ("6.3.9600.0", OSVersion(6, 3, 9600)),
        ("10.0.017763.01", OSVersion(10, 0, 17763, 1)),
        (f"{DWORD}.{DWORD}.{DWORD}.{DWORD}", OSVersion(DWORD, DWORD, DWORD, DWORD)),
    ])
    def test_parse_takes_three_or_four_decimal_parts(self, text: str, expected: OSVersion) -> None:
        assert OSVersion.parse(text) == expected

    @pytest.mark.parametrize("text", [
        "", " ", "10", "10.0", "10.0.", "10.0.x", "10.0.17763.1.2", "10..0.1", "v10.0.17763", "10.0.17763.",
        "1_0.0.17763", "+10.0.17763", "-10.0.17763", "10.0.\u0661\u0667", "10.0.17763 1234", "10,0,17763",
        f"10.0.{DWORD + 1}", f"10.0.17763.{DWORD + 1}",
    ])
    def test_parse_refuses_anything_else_with_a_typed_error(self, text: str) -> None:
        with pytest.raises(InvalidVersionError, match="is not a Windows version") as info:
            OSVersion.parse(text)
        assert isinstance(info.value, ValueError) and isinstance(info.value, CompatError)

    def test_parse_of_a_non_string_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match="is a str, not int"):
            OSVersion.parse(17763)  # type: ignore[arg-type]

    @pytest.mark.parametrize("fields", [(-1, 0, 1, 0), (10, 0, DWORD + 1, 0), (10, 0, 17763, -5)])
    def test_fields_are_dwords(self, fields: tuple) -> None:
        with pytest.raises(InvalidVersionError, match="must be 0 to 4294967295"):
            OSVersion(*fields)

    @pytest.mark.parametrize("fields", [(True, 0, 1, 0), (10.0, 0, 1, 0), (10, 0, "17763", 0), (10, 0, 1, None)])
    def test_fields_are_ints(self, fields: tuple) -> None:
        with pytest.raises(TypeError, match="must be an int"):
            OSVersion(*fields)

    @given(versions)
    def test_str_and_parse_round_trip(self, version: OSVersion) -> None:
        assert OSVersion.parse(str(version)) == version
        assert str(version).count(".") == 3

    @given(versions, versions)
    def test_order_is_numeric_by_major_minor_build_revision(self, a: OSVersion, b: OSVersion) -> None:
        assert (a < b) == (astuple(a) < astuple(b))
        assert (a == b) == (astuple(a) == astuple(b))
        assert (hash(a) == hash(b)) or a != b

    def test_order_is_not_textual(self) -> None:
        assert OSVersion.parse("10.0.9600") < OSVersion.parse("10.0.17763") < OSVersion.parse("10.0.17763.10")
        assert max(OSVersion.parse(t) for t in ("10.0.20348.100", "10.0.20348.99")).revision == 100

    def test_values_are_immutable(self) -> None:
        with pytest.raises(AttributeError):
            OSVersion(10, 0, 17763).build = 1  # type: ignore[misc]

    def test_same_build_ignores_the_revision(self) -> None:
        assert OSVersion(10, 0, 17763, 1).same_build(OSVersion(10, 0, 17763, 9999))
        assert not OSVersion(10, 0, 17763).same_build(OSVersion(10, 1, 17763))
        assert OSVersion(10, 0, 17763, 5).build_tuple == (10, 0, 17763)

    def test_release_names_the_build(self) -> None:
        assert OSVersion.parse("10.0.17763.1").release == compat.find_release(17763)
        assert OSVersion(10, 0, 26100).release.name == "Windows Server 2025 / Windows 11, version 24H2"
        assert OSVersion(10, 0, 12345).release is None
        assert OSVersion(6, 3, 14393).release is None  # only 10.0 builds are named

    @pytest.mark.parametrize("value, expected", [
        (17763, OSVersion(10, 0, 17763)), ("10.0.20348.5", OSVersion(10, 0, 20348, 5)),
        (OSVersion(10, 0, 1), OSVersion(10, 0, 1)),
    ])
    def test_as_version_takes_versions_text_and_bare_builds(self, value: compat.VersionLike,
                                                             expected: OSVersion) -> None:
        assert compat.as_version(value) == expected

    @pytest.mark.parametrize("value", [None, 17763.0, True, b"10.0.17763", (10, 0, 17763)])
    def test_as_version_refuses_other_types_with_type_error(self, value: object) -> None:
        with pytest.raises(TypeError, match="expected an OSVersion"):
            compat.as_version(value)  # type: ignore[arg-type]

    def test_a_negative_build_number_is_invalid(self) -> None:
        with pytest.raises(InvalidVersionError):
            compat.as_version(-1)


class TestReleases:
    """hcsshim osversion/windowsbuilds.go, plus Microsoft's release-information pages."""

    def test_build_constants_are_hcsshims(self) -> None:
        hcsshim = {"RS1": 14393, "LTSC2016": 14393, "RS2": 15063, "RS3": 16299, "RS4": 17134, "RS5": 17763,
                   "LTSC2019": 17763, "V19H1": 18362, "V19H2": 18363, "V20H1": 19041, "V20H2": 19042,
                   "V21H1": 19043, "V21H2_WIN10": 19044, "V21H2_SERVER": 20348, "LTSC2022": 20348,
                   "V21H2_WIN11": 22000, "V22H2_WIN10": 19045, "V22H2_WIN11": 22621, "V23H2_SERVER": 25398,
                   "V24H2": 26100, "LTSC2025": 26100}
        assert {name: getattr(compat, name) for name in hcsshim} == hcsshim
        # hcsshim has no constant for these two (Microsoft's Windows 11 release information)
        assert (compat.V23H2_WIN11, compat.V25H2_WIN11) == (22631, 26200)

    def test_stable_abi_ltsc_list_is_hcsshims_compatLTSCReleases(self) -> None:
        assert compat.STABLE_ABI_LTSC_BUILDS == (20348, 26100)

    def test_releases_are_ascending_and_unique(self) -> None:
        builds = [r.build for r in compat.RELEASES]
        assert builds == sorted(set(builds))

    def test_ltsc_releases(self) -> None:
        assert [r.build for r in compat.RELEASES if r.ltsc] == [14393, 17763, 20348, 26100]
        assert all(r.server and "Windows Server 20" in r.server for r in compat.RELEASES if r.ltsc)
        assert set(compat.STABLE_ABI_LTSC_BUILDS) <= {r.build for r in compat.RELEASES if r.ltsc}

    def test_every_release_has_a_product(self) -> None:
        assert all(r.server or r.client for r in compat.RELEASES)
        assert compat.find_release(19043).server is None  # hcsshim's "Windows Server 21H1" never existed

    def test_find_release(self) -> None:
        assert compat.find_release(20348).server == "Windows Server 2022"
        assert compat.find_release(1) is None
        with pytest.raises(TypeError):
            compat.find_release("17763")  # type: ignore[arg-type]

    def test_the_docs_release_table_is_compat_releases(self) -> None:
        rows = markdown_table("build")
        assert len(rows) == len(compat.RELEASES)
        for row, release in zip(rows, compat.RELEASES):
            build, version, server_name, client_name, ltsc, constants = row
            assert (int(build), version, server_name or None, client_name or None, ltsc == "yes") == \
                (release.build, release.version, release.server, release.client, release.ltsc)
            names = re.findall(r"`(\w+)`", constants)
            assert names and all(getattr(compat, n) == release.build for n in names)


# ================================================================================================ the host
class TestHost:
    @pytest.mark.parametrize("text, expected", [
        ("10.0.20348.2655", server(20348, 2655)),
        ("10.0.17763.1 server", server(17763, 1)),
        ("10.0.22631.4317 client", client(22631, 4317)),
        ("  10.0.19045 CLIENT ", client(19045)),
        ("10.0.26100\tServer", server(26100)),
    ])
    def test_parse_is_a_version_and_an_optional_sku(self, text: str, expected: Host) -> None:
        assert Host.parse(text) == expected

    @pytest.mark.parametrize("text, message", [
        ("", "is not a host"), ("client", "is not a host"), ("10.0.17763 desktop", "'server' or 'client'"),
        ("10.0.17763 client extra", "is not a host"), ("10.0.17763.1.1 client", "is not a host"),
        ("10.0.17763,client", "is not a host"),
    ])
    def test_parse_refuses_anything_else(self, text: str, message: str) -> None:
        with pytest.raises(InvalidVersionError, match=message):
            Host.parse(text)

    @given(versions, st.sampled_from(list(Sku)))
    def test_str_is_the_environment_variable_form(self, version: OSVersion, sku: Sku) -> None:
        host = Host(version, sku)
        assert Host.parse(str(host)) == host

    def test_parse_of_a_non_string_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match="is a str, not bytes"):
            Host.parse(b"10.0.17763")  # type: ignore[arg-type]

    def test_sku_defaults_to_server(self) -> None:
        assert Host(OSVersion(10, 0, 17763)).sku is Sku.SERVER and str(Sku.CLIENT) == "client"

    def test_fields_are_typed(self) -> None:
        with pytest.raises(TypeError):
            Host("10.0.17763")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            Host(OSVersion(10, 0, 17763), "client")  # type: ignore[arg-type]

    @pytest.mark.parametrize("host, windows10", [
        (client(17763), True), (client(19045), True), (client(21999), True), (client(22000), False),
        (client(26100), False), (server(17763), False), (server(19041), False),
    ])
    def test_windows10_client_is_a_client_sku_below_22000(self, host: Host, windows10: bool) -> None:
        assert host.is_windows10_client is windows10

    def test_describe(self) -> None:
        assert (server(17763).describe(), client(19045).describe(), client(22631).describe()) == \
            ("17763", "19045 (Windows 10 client)", "22631 (Windows 11 client)")

    def test_as_host(self) -> None:
        assert compat.as_host(17763) == server(17763)
        assert compat.as_host("10.0.22000.1 client") == client(22000, 1)
        assert compat.as_host(OSVersion(10, 0, 1)) == server(1)
        host = client(1)
        assert compat.as_host(host) is host

    def test_the_environment_variable_decides(self) -> None:
        env = {"PYHCS_HOST_OS_VERSION": "10.0.22631.4317 client"}
        assert compat.host_os(environ=env) == client(22631, 4317)
        assert compat.HOST_OS_VERSION_ENV == "PYHCS_HOST_OS_VERSION"

    def test_host_os_reads_os_environ_by_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PYHCS_HOST_OS_VERSION", "10.0.20348.1")
        assert compat.host_os() == server(20348, 1)

    def test_a_malformed_variable_names_itself(self) -> None:
        with pytest.raises(InvalidVersionError, match=r"PYHCS_HOST_OS_VERSION='ltsc2022' is not a host: expected"):
            compat.host_os(environ={"PYHCS_HOST_OS_VERSION": "ltsc2022"})

    @pytest.mark.skipif(sys.platform == "win32", reason="Windows detects its version (tests/windows)")
    @pytest.mark.parametrize("env", [{}, {"PYHCS_HOST_OS_VERSION": ""}, {"PYHCS_HOST_OS_VERSION": "  "}])
    def test_off_windows_an_unset_or_empty_variable_is_a_clear_error(self, env: Dict[str, str]) -> None:
        with pytest.raises(HostVersionUnavailableError, match="set PYHCS_HOST_OS_VERSION") as info:
            compat.host_os(environ=env)
        assert isinstance(info.value, OSError)

    @pytest.mark.skipif(sys.platform == "win32", reason="Windows detects its version (tests/windows)")
    def test_detect_host_ignores_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PYHCS_HOST_OS_VERSION", "10.0.20348.1")
        with pytest.raises(HostVersionUnavailableError):
            compat.detect_host()


# ================================================================================================ isolation
# hcsshim osversion/platform_compat_windows_test.go Test_PlatformCompat, every case
HCSSHIM_PLATFORM_COMPAT = [
    (17763, 17763, True), (17763, 20348, False), (20348, 17763, False), (20348, 20348, True),
    (22621, 17763, False), (22621, 20348, True), (26100, 20348, True), (20348, 26100, False),
    (20348, 22621, False), (26100, 22621, True),
]
# The inclusive image-build range of each host under CheckHostAndContainerCompat, at the boundary builds.
PROCESS_RANGES = [
    (14393, 14393, 14393), (17763, 17763, 17763), (19041, 19041, 19041), (20347, 20347, 20347),
    (20348, 20348, 20348), (20349, 20348, 20349), (22000, 20348, 22000), (22621, 20348, 22621),
    (25398, 20348, 25398), (26099, 20348, 26099), (26100, 20348, 26100), (26101, 26100, 26101),
    (26200, 26100, 26200),
]
PROBES = sorted({b for r in PROCESS_RANGES for b in r} | {b - 1 for r in PROCESS_RANGES for b in r} |
                {b + 1 for r in PROCESS_RANGES for b in r} | {r.build for r in compat.RELEASES})


class TestProcessIsolation:
    """hcsshim osversion/platform_compat_windows.go CheckHostAndContainerCompat, exactly."""

    @pytest.mark.parametrize("host, image, runs", HCSSHIM_PLATFORM_COMPAT)
    def test_hcsshims_own_cases(self, host: int, image: int, runs: bool) -> None:
        assert compat.process_isolation_compatible(host, image) is runs

    @pytest.mark.parametrize("host, low, high", PROCESS_RANGES)
    def test_each_host_runs_exactly_its_range(self, host: int, low: int, high: int) -> None:
        assert compat.process_isolation_builds(host) == (low, high)
        for image in PROBES:
            assert compat.process_isolation_compatible(host, image) is (low <= image <= high), (host, image)

    def test_an_ltsc_host_runs_the_previous_ltsc_because_the_comparison_is_strict(self) -> None:
        # hcsshim: "host.Build > compatLTSCReleases[i]" — 26100 itself takes 20348 as its floor
        assert compat.process_isolation_compatible(26100, 20348)
        assert not compat.process_isolation_compatible(26101, 20348)

    def test_major_and_minor_must_be_equal(self) -> None:
        assert not compat.process_isolation_compatible("10.0.17763", "6.3.17763")
        assert not compat.process_isolation_compatible("10.0.26100", "10.1.20348")
        assert compat.process_isolation_compatible("6.3.9600", "6.3.9600")

    @given(st.integers(0, DWORD), st.integers(0, DWORD))
    def test_revisions_never_matter(self, host_revision: int, image_revision: int) -> None:
        assert compat.process_isolation_compatible(OSVersion(10, 0, 17763, host_revision),
                                                   OSVersion(10, 0, 17763, image_revision))

    @given(container_builds, container_builds)
    def test_whatever_runs_process_isolated_also_runs_hyperv_isolated(self, host: int, image: int) -> None:
        if compat.process_isolation_compatible(host, image):
            assert compat.hyperv_isolation_compatible(host, image)


class TestHyperVIsolation:
    """version-compatibility.md: Hyper-V isolation runs older images on newer hosts, never newer on older."""

    @given(container_builds, container_builds)
    def test_older_or_equal_images_only(self, host: int, image: int) -> None:
        assert compat.hyperv_isolation_compatible(host, image) is (image <= host)

    def test_boundaries(self) -> None:
        assert compat.hyperv_isolation_compatible(17763, 17763)
        assert not compat.hyperv_isolation_compatible(17763, 17764)
        assert compat.hyperv_isolation_compatible("10.0.26100.1", "10.0.14393.9999")
        assert compat.hyperv_isolation_compatible("10.0.17763.1", "10.0.17763.9999")  # revision is not the build
        assert not compat.hyperv_isolation_compatible("10.0.26100", "10.1.0")


class TestIsolationVerdicts:
    def test_the_issues_example_message(self) -> None:
        verdict = compat.isolation_verdict(17763, 14393, "process")
        assert not verdict and verdict.rule is Rule.PROCESS_SAME_BUILD
        assert verdict.reason == ("process isolation needs the same build below 20348: host 17763, image 14393 — "
                                  "use Hyper-V isolation or a 17763 image")

    def test_a_newer_image_is_not_sent_to_hyperv(self) -> None:
        # Hyper-V cannot run a newer image either, so the advice differs from the older-image case.
        assert compat.isolation_verdict(17763, 20348, "process").reason == (
            "process isolation needs the same build below 20348: host 17763, image 20348 — use a 17763 image, or a "
            "host of build 20348 or later (Hyper-V isolation cannot run a newer image either)")

    def test_stable_abi_refusals_state_the_range(self) -> None:
        older = compat.isolation_verdict(26100, 17763, "process")
        assert older.rule is Rule.PROCESS_STABLE_ABI and older.reason == (
            "process isolation from build 20348 on runs images from the previous stable-ABI LTSC up to the host: "
            "host 26100 runs 20348 to 26100, image 17763 — use Hyper-V isolation or an image of build 20348 to 26100")
        newer = compat.isolation_verdict(20348, 26100, "process")
        assert newer.reason.endswith("host 20348 runs 20348, image 26100 — use an image of build 20348, or a host "
                                     "of build 26100 or later (Hyper-V isolation cannot run a newer image either)")

    def test_allowed_verdicts_say_why(self) -> None:
        assert compat.check_isolation(17763, "10.0.17763.5", "process").reason == \
            "process isolation: host 17763 and image 17763 have the same build"
        assert compat.check_isolation(26100, 20348, "process").reason == (
            "process isolation: host 26100 runs images of build 20348 to 26100 (stable ABI from the previous LTSC), "
            "image 20348")
        assert compat.check_isolation(26100, 14393, "hyperv").reason == \
            "Hyper-V isolation: image 14393 is not newer than host 26100"

    def test_major_minor_refusal_shows_full_versions(self) -> None:
        verdict = compat.isolation_verdict("10.0.17763.1", "6.3.17763.1", "process")
        assert verdict.rule is Rule.PROCESS_SAME_MAJOR_MINOR
        assert "host 10.0 (10.0.17763.1), image 6.3 (6.3.17763.1)" in verdict.reason
        hyperv = compat.isolation_verdict("10.0.26100", "10.1.100", "hyperv")
        assert "image 10.1.100 — use an image of build 10.0.26100 or earlier" in hyperv.reason

    def test_hyperv_refusal(self) -> None:
        verdict = compat.isolation_verdict(17763, 20348, Isolation.HYPERV)
        assert verdict.rule is Rule.HYPERV_OLDER_ON_NEWER and verdict.reason == (
            "Hyper-V isolation runs older images on newer hosts only: host 17763, image 20348 — use an image of build "
            "17763 or earlier, or a host of build 20348 or later")

    @pytest.mark.parametrize("isolation", ["process", "hyperv"])
    def test_containers_need_build_14393(self, isolation: str) -> None:
        verdict = compat.isolation_verdict(10586, 10586, isolation)
        assert verdict.rule is Rule.CONTAINERS_NEED_RS1 and not verdict
        assert verdict.reason == ("Windows containers need build 14393 (Windows Server 2016 / Windows 10 1607) or "
                                  "later: host 10.0.10586.0, image 10586")
        assert compat.isolation_verdict(14393, 14393, isolation)

    @pytest.mark.parametrize("build", [14393, 17763, 19041, 19045])
    def test_windows10_clients_refuse_process_isolation_even_for_the_same_build(self, build: int) -> None:
        verdict = compat.isolation_verdict(client(build), build, "process")
        assert verdict.rule is Rule.WINDOWS10_HYPERV_ONLY
        assert verdict.reason == (f"Windows 10 hosts run Windows containers with Hyper-V isolation only: host {build} "
                                  f"(Windows 10 client), image {build} — use Hyper-V isolation")
        assert compat.isolation_verdict(client(build), build, "hyperv")
        assert compat.isolation_verdict(server(build), build, "process")  # the same build on a server runs

    def test_windows10_refusal_of_a_newer_image_does_not_suggest_hyperv(self) -> None:
        assert compat.isolation_verdict(client(19045), 20348, "process").reason.endswith(
            "— use a Windows Server host of build 20348 or later (Hyper-V isolation cannot run an image newer than "
            "the host either)")

    def test_windows11_follows_hcsshims_rule_with_the_preview_note(self) -> None:
        verdict = compat.check_isolation(client(22000), 20348, "process")
        assert verdict.notes == ("process isolation on Windows 11 is a preview for developers "
                                 "(version-compatibility.md)",)
        assert not compat.isolation_verdict(client(22631), 26100, "process")
        assert compat.isolation_verdict(client(26100), 26100, "process")
        assert not compat.isolation_verdict(client(22631), 17763, "process")
        assert compat.check_isolation(server(20348), 20348, "process").notes == ()

    def test_windows_server_2016_revision_mismatch_is_allowed_with_a_note(self) -> None:
        verdict = compat.check_isolation(server(14393, 1914), OSVersion(10, 0, 14393, 1944), "process")
        assert verdict.rule is Rule.PROCESS_SAME_BUILD
        assert verdict.notes and "host 10.0.14393.1914, image 10.0.14393.1944" in verdict.notes[0]
        assert compat.check_isolation(server(14393, 1914), OSVersion(10, 0, 14393, 1914), "process").notes == ()
        assert compat.check_isolation(server(17763, 1), OSVersion(10, 0, 17763, 2), "process").notes == ()
        assert compat.check_isolation(server(14393, 1), OSVersion(10, 0, 14393, 2), "hyperv").notes == ()

    @given(st.builds(Host, st.builds(OSVersion, st.just(10), st.just(0), container_builds, dwords),
                     st.sampled_from(list(Sku))),
           container_builds, st.sampled_from(["process", "hyperv"]))
    def test_every_refusal_names_both_builds_and_check_raises_exactly_then(self, host: Host, image: int,
                                                                           isolation: str) -> None:
        verdict = compat.isolation_verdict(host, image, isolation)
        if verdict:
            assert compat.check_isolation(host, image, isolation) == verdict
            return
        assert f"host {host.version.build}" in verdict.reason and f"image {image}" in verdict.reason
        assert " — " in verdict.reason  # and what to do
        with pytest.raises(IsolationError) as info:
            compat.check_isolation(host, image, isolation)
        assert info.value.verdict == verdict and str(info.value) == verdict.reason

    def test_refusals_are_catchable_as_pyhcs_errors_and_as_value_error(self) -> None:
        for kind in (IsolationError, IncompatibleError, CompatError, ValueError):
            with pytest.raises(kind):
                compat.check_isolation(17763, 20348, "process")

    def test_isolation_spellings(self) -> None:
        assert compat.as_isolation("Process") is Isolation.PROCESS
        assert compat.as_isolation("HYPERV") is Isolation.HYPERV and str(Isolation.HYPERV) == "hyperv"
        with pytest.raises(InvalidVersionError, match="'process' or 'hyperv', not 'hyper-v'"):
            compat.as_isolation("hyper-v")
        with pytest.raises(TypeError):
            compat.as_isolation(None)  # type: ignore[arg-type]

    def test_every_rule_has_a_source(self) -> None:
        assert set(compat.RULE_SOURCES) == set(Rule)
        verdict = compat.isolation_verdict(17763, 17763, "process")
        assert "platform_compat_windows.go" in verdict.source

    MARKS = {"✅": True, "❌": False}

    @pytest.mark.parametrize("row", markdown_table("host"), ids=lambda row: f"{row[0]} | {row[1]}")
    def test_microsofts_compatibility_tables_row_by_row(self, row: List[str]) -> None:
        """version-compatibility.md's host tabs, reproduced in docs/compat.md, against isolation_verdict."""
        host_cell, image_cell, hyperv_mark, process_mark = row
        hosts_text = re.search(r"\(([^)]*)\)", host_cell).group(1)  # type: ignore[union-attr]
        sku = Sku.CLIENT if "client" in hosts_text else Sku.SERVER
        image_name, image_build = re.fullmatch(r"(.+) \((\d+)\)", image_cell).groups()  # type: ignore[union-attr]
        assert compat.find_release(int(image_build)).server == image_name  # type: ignore[union-attr]
        builds = [int(b) for b in re.findall(r"\d{5}", hosts_text)]
        assert builds
        for build in builds:
            host = Host(OSVersion(10, 0, build, 1000), sku)
            image = OSVersion(10, 0, int(image_build), 2000)
            assert bool(compat.isolation_verdict(host, image, "hyperv")) is self.MARKS[hyperv_mark], (host, image)
            assert bool(compat.isolation_verdict(host, image, "process")) is self.MARKS[process_mark], (host, image)

    def test_the_docs_table_covers_every_tab(self) -> None:
        hosts = {re.sub(r" \(.*", "", row[0]) for row in markdown_table("host")}
        assert {"Windows Server 2025", "Windows Server 2022", "Windows Server 2019", "Windows Server 2016",
                "Windows 10"} <= hosts and any(h.startswith("Windows 11") for h in hosts)


# ================================================================================================ schema versions
class TestSchemaVersions:
    """hcsshim internal/schemaversion; SchemaReference.md "Schema Version Map"."""

    @pytest.mark.parametrize("build, expected", [(14393, (1, 0)), (17134, (1, 0)), (17762, (1, 0)),
                                                 (17763, (2, 1)), (20348, (2, 1)), (26100, (2, 1))])
    def test_default_is_hcsshims_determine_schema_version(self, build: int, expected: Tuple[int, int]) -> None:
        assert compat.default_schema_version(build) == {"Major": expected[0], "Minor": expected[1]}

    @pytest.mark.parametrize("build, expected", [
        (17762, (1, 0)), (17763, (2, 1)), (18361, (2, 1)), (18362, (2, 2)), (19040, (2, 2)), (19041, (2, 3)),
        (20347, (2, 3)), (20348, (2, 5)), (21999, (2, 5)), (22000, (2, 6)), (26100, (2, 6)),
    ])
    def test_highest_follows_the_version_map(self, build: int, expected: Tuple[int, int]) -> None:
        assert compat.highest_schema_version(build) == {"Major": expected[0], "Minor": expected[1]}

    def test_versions_for_a_build_start_with_1_0_and_are_contiguous(self) -> None:
        assert compat.schema_versions_for(17134) == [(1, 0)]
        assert compat.schema_versions_for(20348) == [(1, 0), (2, 0), (2, 1), (2, 2), (2, 3), (2, 4), (2, 5)]

    @pytest.mark.parametrize("schema, first", [((2, 0), 17763), ((2, 1), 17763), ((2, 2), 18362), ((2, 3), 19041),
                                               ((2, 4), 20348), ((2, 5), 20348), ((2, 6), 22000)])
    def test_each_minor_from_its_first_build(self, schema: Tuple[int, int], first: int) -> None:
        assert compat.check_schema_version(first, schema).rule is Rule.SCHEMA_VERSION_MAP
        refused = compat.schema_version_verdict(first - 1, schema)
        assert not refused and f"host {first - 1}" in refused.reason and f"needs build {first}" in refused.reason
        with pytest.raises(SchemaVersionError):
            compat.check_schema_version(first - 1, schema)

    def test_messages(self) -> None:
        assert compat.schema_version_verdict(17134, "2.1").reason == (
            "schema 2.1 needs build 17763 (Windows 10 1809 / Windows Server 2019) or later: host 17134 — use "
            "schema 1.0 (the HCS v1 API) or a host of build 17763 or later")
        assert compat.schema_version_verdict(17134, "2.1").rule is Rule.SCHEMA_V2_NEEDS_RS5
        assert compat.schema_version_verdict(20348, (2, 6)).reason == (
            "schema 2.6 needs build 22000 (Windows 11 21H2) or later: host 20348 — use schema 2.5 or earlier")

    def test_1_0_everywhere(self) -> None:
        assert compat.check_schema_version(14393, (1, 0)).rule is Rule.SCHEMA_V1
        assert compat.check_schema_version(26100, "1.0")

    @pytest.mark.parametrize("schema", ["2.7", (3, 0), (1, 1), {"Major": 2, "Minor": 99}])
    def test_versions_outside_the_map_are_refused_with_advice(self, schema: compat.SchemaVersionLike) -> None:
        verdict = compat.schema_version_verdict(26100, schema)
        assert verdict.rule is Rule.SCHEMA_UNKNOWN and "pyhcs.supported_schema_versions()" in verdict.reason

    @pytest.mark.parametrize("schema", ["2", "two.one", "2.1.0", {"Major": 2}, (2,), ("2", "x")])
    def test_malformed_schema_versions(self, schema: object) -> None:
        with pytest.raises(InvalidVersionError, match="is not a schema version"):
            compat.schema_version_verdict(20348, schema)  # type: ignore[arg-type]

    def test_wrong_type(self) -> None:
        with pytest.raises(TypeError):
            compat.schema_version_verdict(20348, 2.1)  # type: ignore[arg-type]

    def test_the_docs_table_is_the_version_map(self) -> None:
        from pyhcs.schema.versions import schema_version_to_windows_release

        documented = {}
        for schemas, first, release in markdown_table("schema"):
            for schema in schemas.split(", "):
                major, minor = map(int, schema.split("."))
                documented[(major, minor)] = (int(first), release)
        assert documented == {v: (r.build, r.name) for v, r in schema_version_to_windows_release.items()}


# ================================================================================================ pods
HOSTS_OF_THE_SEED = {"Windows Server 2019/1809": Sku.SERVER, "Windows 10 1809": Sku.CLIENT}


def seed_matrix() -> Tuple[Dict[Tuple[str, object, str], PodSupport], List[Host], List[object], str]:
    """docs/compat.md's copy of the containerd/cri table → {(host name, container OS, isolation): support}."""
    rows = markdown_table("Host OS")
    cells: Dict[Tuple[str, object, str], PodSupport] = {}
    hosts: List[Host] = []
    host_names: List[str] = []
    containers: List[object] = []
    for host_cell, container_cell, isolation_cell, support_cell in rows:
        if host_cell:
            host_names = host_cell.split(", ")
            hosts = []
            for name in host_names:
                release = release_named(name)
                hosts.append(Host(OSVersion(10, 0, release.build), HOSTS_OF_THE_SEED[name]))
        support = {"Yes": PodSupport.SUPPORTED, "Partial": PodSupport.PARTIAL}[support_cell.split("—")[0]]
        for container_name in container_cell.split(", "):
            container = LINUX if container_name == "Linux" else release_named(container_name).build
            containers.append(container)
            for isolation, starred in re.findall(r"`(\w+)`(\*?)", isolation_cell):
                for name, host in zip(host_names, hosts):
                    # footnote "*": Windows 10 hosts only support Hyper-V isolation
                    cells[(name, container, isolation)] = \
                        PodSupport.UNSUPPORTED if starred and host.is_windows10_client else support
    footnote = next(line for line in COMPAT_MD.read_text(encoding="utf-8").splitlines() if line.startswith("\\*"))
    return cells, hosts, containers, footnote


class TestSeedPodMatrix:
    """MicrosoftDocs deploy-containers/containerd.md's containerd/cri table, cell by cell, parsed from the docs."""

    def test_the_table_is_the_seeds(self) -> None:
        cells, hosts, containers, footnote = seed_matrix()
        assert hosts == [server(17763), client(17763)]
        assert containers == [LINUX, 17763, 14393, 16299, 17134]
        assert footnote == "\\*Windows 10 hosts only support Hyper-V isolation"
        assert len(cells) == 2 * (1 + 2 + 3)  # both hosts, each row's OS x its listed isolations

    def test_every_cell_of_the_table_and_every_cell_it_leaves_out(self) -> None:
        cells, hosts, containers, _ = seed_matrix()
        checked = 0
        for host_name, host in zip(HOSTS_OF_THE_SEED, hosts):
            for container in containers:
                for isolation in ("process", "hyperv"):
                    expected = cells.get((host_name, container, isolation), PodSupport.UNSUPPORTED)
                    verdict = compat.pod_support(host, container, isolation)  # type: ignore[arg-type]
                    assert verdict.support is expected, (host_name, container, isolation, verdict.reason)
                    assert verdict.allowed is (expected is not PodSupport.UNSUPPORTED)
                    assert verdict.max_workloads == (1 if expected is PodSupport.PARTIAL else None)
                    checked += 1
        assert checked == 20

    def test_reasons_in_the_tables_words(self) -> None:
        ws2019 = server(17763)
        assert compat.pod_support(ws2019, "linux", "hyperv").reason == (
            "Linux containers with Hyper-V isolation: true multi-container pods in one Linux utility VM: host 17763")
        assert compat.pod_support(ws2019, 17763, "hyperv").reason == (
            "true multi-container pods if each workload container OS matches the utility VM's: host 17763, "
            "utility VM 17763")
        assert compat.pod_support(ws2019, 16299, "hyperv").reason == (
            "partial: a pod sandbox holding a single process-isolated container per utility VM, whose OS must match "
            "the utility VM's: host 17763, utility VM 16299 (before 17763)")
        assert compat.pod_support(client(17763), 17763, "process").rule is Rule.WINDOWS10_HYPERV_ONLY
        assert compat.pod_support(ws2019, "linux", "process").reason == (
            "Linux containers need Hyper-V isolation (a Linux utility VM): host 17763, container OS Linux, isolation "
            "process — use hyperv")


class TestPodSupport:
    @pytest.mark.parametrize("build", [14393, 16299, 17134, 17762])
    @pytest.mark.parametrize("container", [LINUX, 14393, 17134])
    @pytest.mark.parametrize("isolation", ["process", "hyperv"])
    def test_no_pods_before_rs5(self, build: int, container: object, isolation: str) -> None:
        verdict = compat.pod_support(server(build), container, isolation)  # type: ignore[arg-type]
        assert verdict.support is PodSupport.UNSUPPORTED and verdict.rule is Rule.PODS_NEED_RS5
        # the shim's createPod text (cmd/containerd-shim-runhcs-v1/service_internal.go)
        assert verdict.reason.startswith("pod support is not available on Windows versions previous to RS5 (17763)")

    @pytest.mark.parametrize("host, image, support, rule", [
        (server(20348), 20348, PodSupport.SUPPORTED, Rule.POD_HYPERV),
        (server(26100), 17763, PodSupport.SUPPORTED, Rule.POD_HYPERV),
        (server(26100), 14393, PodSupport.PARTIAL, Rule.POD_HYPERV_PARTIAL),
        (server(17763), 20348, PodSupport.UNSUPPORTED, Rule.HYPERV_OLDER_ON_NEWER),
        (client(19045), 17763, PodSupport.SUPPORTED, Rule.POD_HYPERV),
        (client(19045), 20348, PodSupport.UNSUPPORTED, Rule.HYPERV_OLDER_ON_NEWER),
    ])
    def test_hyperv_pods_on_every_host(self, host: Host, image: int, support: PodSupport, rule: Rule) -> None:
        verdict = compat.pod_support(host, image, "hyperv")
        assert (verdict.support, verdict.rule) == (support, rule)

    @pytest.mark.parametrize("host, image, support, rule", [
        (server(20348), 20348, PodSupport.SUPPORTED, Rule.POD_PROCESS),
        (server(26100), 20348, PodSupport.SUPPORTED, Rule.POD_PROCESS),
        (server(20348), 17763, PodSupport.UNSUPPORTED, Rule.PROCESS_STABLE_ABI),
        (server(19041), 17763, PodSupport.UNSUPPORTED, Rule.PROCESS_SAME_BUILD),
        (client(22631), 20348, PodSupport.SUPPORTED, Rule.POD_PROCESS),
        (client(19041), 19041, PodSupport.UNSUPPORTED, Rule.WINDOWS10_HYPERV_ONLY),
    ])
    def test_process_pods_follow_the_isolation_rules(self, host: Host, image: int, support: PodSupport,
                                                     rule: Rule) -> None:
        verdict = compat.pod_support(host, image, "process")
        assert (verdict.support, verdict.rule) == (support, rule)

    def test_process_pod_verdict_keeps_isolation_notes(self) -> None:
        assert compat.pod_support(client(22631), 20348, "process").notes

    @given(container_builds, container_builds)
    def test_a_windows_hyperv_pod_exists_exactly_when_the_image_runs_hyperv_isolated(self, host: int,
                                                                                     image: int) -> None:
        verdict = compat.pod_support(host, image, "hyperv")
        expected = host >= 17763 and compat.hyperv_isolation_compatible(host, image)
        assert verdict.allowed is expected
        if expected:
            assert verdict.support is (PodSupport.SUPPORTED if image >= 17763 else PodSupport.PARTIAL)

    def test_check_pod_support_raises_for_unsupported_only(self) -> None:
        assert compat.check_pod_support(server(17763), 14393, "hyperv").support is PodSupport.PARTIAL
        with pytest.raises(PodSupportError, match="previous to RS5") as info:
            compat.check_pod_support(server(17134), 17134, "hyperv")
        assert isinstance(info.value, ValueError) and info.value.verdict.support is PodSupport.UNSUPPORTED

    def test_container_os_spellings(self) -> None:
        assert compat.as_container_os(" Linux ") == LINUX
        assert compat.as_container_os("10.0.17763.1") == OSVersion(10, 0, 17763, 1)
        with pytest.raises(InvalidVersionError):
            compat.as_container_os("windows")

    def test_pod_verdict_is_consistent(self) -> None:
        with pytest.raises(ValueError):
            compat.PodVerdict(True, Rule.POD_HYPERV, "x", support=PodSupport.UNSUPPORTED)


class TestPodWorkloads:
    """containerd.md: "if each workload container OS matches the utility VM OS"."""

    def test_hyperv_workload_must_match_the_utility_vm_build(self) -> None:
        assert compat.check_pod_workload(26100, "10.0.20348.1", "10.0.20348.2900", "hyperv")
        verdict = compat.pod_workload_verdict(26100, 20348, 26100, "hyperv")
        assert verdict.rule is Rule.POD_WORKLOAD_MATCHES_UVM and verdict.reason == (
            "a Hyper-V pod runs every workload inside its utility VM, so the workload's OS must match the utility "
            "VM's: utility VM 20348, workload 26100 — use a 20348 image for this workload, or a pod of its own")
        # older than the utility VM is refused too: the workload shares the guest kernel, not the host's
        assert not compat.pod_workload_verdict(26100, 20348, 17763, "hyperv")
        with pytest.raises(PodSupportError):
            compat.check_pod_workload(26100, 20348, 17763, "hyperv")

    def test_process_workload_must_run_on_the_host(self) -> None:
        assert compat.pod_workload_verdict(26100, 26100, 20348, "process")
        verdict = compat.pod_workload_verdict(26100, 26100, 17763, "process")
        assert verdict.rule is Rule.PROCESS_STABLE_ABI and not verdict

    def test_linux_pods_take_linux_workloads(self) -> None:
        assert compat.pod_workload_verdict(17763, "linux", "linux", "hyperv")
        assert not compat.pod_workload_verdict(17763, "linux", "linux", "process")
        mixed = compat.pod_workload_verdict(17763, "linux", 17763, "hyperv")
        assert not mixed and mixed.reason == ("a pod's containers share one OS: pod Linux, workload 17763 — put this "
                                              "workload in a pod of its own")
        assert not compat.pod_workload_verdict(17763, 17763, "linux", "hyperv")


# ================================================================================================ images
class TestImageOSVersion:
    """OCI image-spec config.md / image-index.md: os.version, "e.g. 10.0.14393.1066 on windows"."""

    CONFIG = {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.6054",
              "rootfs": {"type": "layers", "diff_ids": []}}

    def test_reads_os_version_from_a_config(self) -> None:
        assert compat.image_os_version(self.CONFIG) == OSVersion(10, 0, 17763, 6054)

    def test_reads_json_text_and_bytes(self) -> None:
        import json

        text = json.dumps(self.CONFIG)
        assert compat.image_os_version(text) == compat.image_os_version(text.encode()) == OSVersion(10, 0, 17763, 6054)

    def test_reads_an_index_descriptors_platform(self) -> None:
        descriptor = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:0", "size": 1,
                      "platform": {"architecture": "amd64", "os": "windows", "os.version": "10.0.20348.2700"}}
        assert compat.image_os_version(descriptor) == OSVersion(10, 0, 20348, 2700)

    @pytest.mark.parametrize("config", [{"os": "windows"}, {"os": "windows", "os.version": None},
                                        {"os": "linux", "os.version": "5.15.0"}, {"os": "Linux"}, {}])
    def test_none_when_absent_or_not_windows(self, config: dict) -> None:
        assert compat.image_os_version(config) is None

    @pytest.mark.parametrize("config", [{"os": "windows", "os.version": "10.0"},
                                        {"os": "windows", "os.version": 17763},
                                        {"os.version": "ltsc2019"}])
    def test_a_malformed_os_version_is_invalid(self, config: dict) -> None:
        with pytest.raises(InvalidVersionError, match="os.version"):
            compat.image_os_version(config)

    @pytest.mark.parametrize("config, message", [
        ("{not json", "not valid JSON"), ("[1, 2]", "a JSON object, not list"), (b"\xff", "not valid JSON"),
        ({"os": 7}, "os must be a string"), (42, "a JSON object, not int"),
    ])
    def test_unusable_configs(self, config: object, message: str) -> None:
        with pytest.raises(InvalidImageConfigError, match=message) as info:
            compat.image_os_version(config)  # type: ignore[arg-type]
        assert isinstance(info.value, ValueError)

    def test_container_os_for_the_pod_matrix(self) -> None:
        assert compat.image_container_os(self.CONFIG) == OSVersion(10, 0, 17763, 6054)
        assert compat.image_container_os({"os": "linux", "architecture": "arm64"}) == LINUX
        with pytest.raises(InvalidImageConfigError, match="without os.version"):
            compat.image_container_os({"os": "windows"})
        with pytest.raises(InvalidImageConfigError, match="expected 'windows' or 'linux'"):
            compat.image_container_os({"os": "freebsd"})
        with pytest.raises(InvalidImageConfigError):
            compat.image_container_os({})

    def test_an_image_config_answers_the_host_question(self) -> None:
        image = compat.image_os_version(self.CONFIG)
        assert image is not None
        assert compat.isolation_verdict(server(17763, 1), image, "process")
        assert not compat.isolation_verdict(server(20348, 1), image, "process")


# ================================================================================================ the module
class TestPublicSurface:
    def test_all_is_complete_and_resolves(self) -> None:
        import importlib

        for name in compat.__all__:
            assert hasattr(compat, name), name
        assert len(set(compat.__all__)) == len(compat.__all__)
        for module in ("errors", "version", "releases", "host", "verdict", "isolation", "schema_versions", "pods",
                       "image"):
            sub = importlib.import_module(f"pyhcs.compat.{module}")
            assert set(sub.__all__) <= set(compat.__all__), module

    def test_compat_is_not_a_top_level_export(self) -> None:
        import pyhcs

        assert not set(compat.__all__) & set(pyhcs.__all__)

    def test_imports_only_the_public_object_layer(self) -> None:
        """ARCHITECTURE.md: library modules import pyhcs / pyhcs.schema, never pyhcs._*."""
        for path in (ROOT / "src" / "pyhcs" / "compat").glob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"from \.\._|import pyhcs\._|from pyhcs\._", text), path.name


# ================================================================================================ the docs
def python_blocks() -> List[str]:
    return re.findall(r"```python\n(.*?)```", COMPAT_MD.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_docs_example_runs_and_prints_what_it_says(index: int) -> None:
    """Every example in docs/compat.md runs as pasted; its output is the ``# `` comment lines beneath the prints."""
    code = python_blocks()[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"docs/compat.md example {index + 1}", "exec"), {"__name__": "__docs__"})
    expected = " ".join(line[2:] for line in code.splitlines() if line.startswith("# "))
    assert " ".join(out.getvalue().split()) == " ".join(expected.split())


def test_docs_name_every_rule() -> None:
    text = COMPAT_MD.read_text(encoding="utf-8")
    assert not [rule.value for rule in Rule if f"`{rule.value}`" not in text]


def test_readme_points_to_the_compat_docs() -> None:
    assert "docs/compat.md" in (ROOT / "README.md").read_text(encoding="utf-8")
