"""pyhcs.compat: Windows versions, isolation rules, schema versions and the containerd/cri pod matrix.

Pure functions over versions and documents — nothing here calls HCS — so validators, linters and schedulers can
answer "will this image run on that host?" before anything fails with 0xC0370101. Each rule names its source
(Microsoft's version-compatibility and containerd pages, hcsshim's ``osversion`` and ``internal/schemaversion``);
every check comes in two forms, ``*_verdict`` (returns a :class:`Verdict` with the reason) and ``check_*`` (raises
an :class:`IncompatibleError` whose message states the rule and both versions). See docs/compat.md.
"""

from .errors import (
    CompatError,
    HostVersionUnavailableError,
    IncompatibleError,
    InvalidImageConfigError,
    InvalidVersionError,
    IsolationError,
    PodSupportError,
    SchemaVersionError,
)
from .host import HOST_OS_VERSION_ENV, Host, HostLike, Sku, as_host, detect_host, host_os
from .image import ImageConfig, image_container_os, image_os_version
from .isolation import (
    Isolation,
    IsolationLike,
    as_isolation,
    check_isolation,
    hyperv_isolation_compatible,
    isolation_verdict,
    process_isolation_builds,
    process_isolation_compatible,
)
from .pods import (
    LINUX,
    ContainerOS,
    ContainerOSLike,
    as_container_os,
    check_pod_support,
    check_pod_workload,
    pod_support,
    pod_workload_verdict,
)
from .releases import (
    FIRST_CONTAINER_BUILD,
    FIRST_WINDOWS11_BUILD,
    LTSC2016,
    LTSC2019,
    LTSC2022,
    LTSC2025,
    RELEASES,
    RS1,
    RS2,
    RS3,
    RS4,
    RS5,
    STABLE_ABI_LTSC_BUILDS,
    V19H1,
    V19H2,
    V20H1,
    V20H2,
    V21H1,
    V21H2_SERVER,
    V21H2_WIN10,
    V21H2_WIN11,
    V22H2_WIN10,
    V22H2_WIN11,
    V23H2_SERVER,
    V23H2_WIN11,
    V24H2,
    V25H2_WIN11,
    Release,
    find_release,
)
from .schema_versions import (
    SchemaVersionLike,
    check_schema_version,
    default_schema_version,
    highest_schema_version,
    schema_version_verdict,
    schema_versions_for,
)
from .verdict import RULE_SOURCES, PodSupport, PodVerdict, Rule, Verdict
from .version import OSVersion, VersionLike, as_version

__all__ = [
    # versions and releases
    "OSVersion",
    "VersionLike",
    "as_version",
    "Release",
    "RELEASES",
    "find_release",
    "RS1",
    "LTSC2016",
    "RS2",
    "RS3",
    "RS4",
    "RS5",
    "LTSC2019",
    "V19H1",
    "V19H2",
    "V20H1",
    "V20H2",
    "V21H1",
    "V21H2_WIN10",
    "V21H2_SERVER",
    "LTSC2022",
    "V21H2_WIN11",
    "V22H2_WIN10",
    "V22H2_WIN11",
    "V23H2_WIN11",
    "V23H2_SERVER",
    "V24H2",
    "LTSC2025",
    "V25H2_WIN11",
    "STABLE_ABI_LTSC_BUILDS",
    "FIRST_CONTAINER_BUILD",
    "FIRST_WINDOWS11_BUILD",
    # the host
    "Sku",
    "Host",
    "HostLike",
    "as_host",
    "HOST_OS_VERSION_ENV",
    "host_os",
    "detect_host",
    # isolation
    "Isolation",
    "IsolationLike",
    "as_isolation",
    "process_isolation_compatible",
    "process_isolation_builds",
    "hyperv_isolation_compatible",
    "isolation_verdict",
    "check_isolation",
    # schema versions
    "SchemaVersionLike",
    "schema_versions_for",
    "default_schema_version",
    "highest_schema_version",
    "schema_version_verdict",
    "check_schema_version",
    # pods
    "LINUX",
    "ContainerOS",
    "ContainerOSLike",
    "as_container_os",
    "pod_support",
    "check_pod_support",
    "pod_workload_verdict",
    "check_pod_workload",
    # images
    "ImageConfig",
    "image_os_version",
    "image_container_os",
    # verdicts and errors
    "Rule",
    "RULE_SOURCES",
    "Verdict",
    "PodSupport",
    "PodVerdict",
    "CompatError",
    "InvalidVersionError",
    "InvalidImageConfigError",
    "HostVersionUnavailableError",
    "IncompatibleError",
    "IsolationError",
    "SchemaVersionError",
    "PodSupportError",
]
