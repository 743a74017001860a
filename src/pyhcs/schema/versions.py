"""Schema version helpers: constants, host support expansion and the version -> Windows release table.

Every HCS document names the schema it is written against (``"SchemaVersion": {"Major": 2, "Minor": 1}``).
A host reports what it accepts through HcsGetServiceProperties ``{"PropertyTypes": ["Basic"]}``, which returns
a :class:`~pyhcs.schema.properties.BasicInformation`. Each reported entry A.X means A.0 through A.X are all
supported.
"""

from typing import Iterable, List, Mapping, NamedTuple, Optional, Set, Tuple, Union

from .common import Version
from .properties import BasicInformation

__all__ = [
    "SCHEMA_V10",
    "SCHEMA_V20",
    "SCHEMA_V21",
    "SCHEMA_V22",
    "SCHEMA_V23",
    "SCHEMA_V24",
    "SCHEMA_V25",
    "SCHEMA_V26",
    "LATEST_DOCUMENTED_SCHEMA",
    "WindowsRelease",
    "schema_version_to_windows_release",
    "make_version",
    "version_tuple",
    "expand_schema_versions",
    "supported_schema_versions",
    "is_schema_version_supported",
    "highest_supported_schema_version",
]

VersionLike = Union[Version, Tuple[int, int]]


def make_version(major: int, minor: int) -> Version:
    """Return a new ``{"Major": major, "Minor": minor}`` document."""
    return {"Major": major, "Minor": minor}


SCHEMA_V10: Version = make_version(1, 0)
"""Schema 1.0: the legacy (v1, vmcompute.dll) configuration format, still used by hcsshim for some containers."""
SCHEMA_V20: Version = make_version(2, 0)
SCHEMA_V21: Version = make_version(2, 1)
"""Schema 2.1, the version Microsoft's samples use; the first release of the v2 (computecore) API."""
SCHEMA_V22: Version = make_version(2, 2)
SCHEMA_V23: Version = make_version(2, 3)
SCHEMA_V24: Version = make_version(2, 4)
SCHEMA_V25: Version = make_version(2, 5)
SCHEMA_V26: Version = make_version(2, 6)
LATEST_DOCUMENTED_SCHEMA: Version = SCHEMA_V26
"""The newest schema version described by SchemaReference.md."""


class WindowsRelease(NamedTuple):
    """The Windows release that introduced a schema version."""

    name: str
    """Human-readable release name."""
    build: int
    """OS build number (the third part of 10.0.<build>)."""


schema_version_to_windows_release: Mapping[Tuple[int, int], WindowsRelease] = {
    (2, 0): WindowsRelease("Windows 10 1809 / Windows Server 2019", 17763),
    (2, 1): WindowsRelease("Windows 10 1809 / Windows Server 2019", 17763),
    (2, 2): WindowsRelease("Windows 10 1903", 18362),
    (2, 3): WindowsRelease("Windows 10 2004", 19041),
    (2, 4): WindowsRelease("Windows Server 2022", 20348),
    (2, 5): WindowsRelease("Windows Server 2022", 20348),
    (2, 6): WindowsRelease("Windows 11 21H2", 22000),
}
"""Schema version (major, minor) -> first Windows release/SDK with it, per SchemaReference.md's version map."""


def version_tuple(version: VersionLike) -> Tuple[int, int]:
    """``{"Major": 2, "Minor": 1}`` (or ``(2, 1)``) -> ``(2, 1)``."""
    if isinstance(version, tuple):
        return (int(version[0]), int(version[1]))
    return (int(version["Major"]), int(version["Minor"]))


def expand_schema_versions(versions: Iterable[VersionLike]) -> List[Tuple[int, int]]:
    """Expand reported entries: each A.X becomes A.0 .. A.X. Result is sorted and de-duplicated."""
    out: Set[Tuple[int, int]] = set()
    for v in versions:
        major, minor = version_tuple(v)
        if major < 0 or minor < 0:
            raise ValueError(f"invalid schema version {major}.{minor}")
        out.update((major, m) for m in range(minor + 1))
    return sorted(out)


def supported_schema_versions(basic: BasicInformation) -> List[Tuple[int, int]]:
    """All (major, minor) schema versions a host supports, from its ``"Basic"`` service property.

    >>> supported_schema_versions({"SupportedSchemaVersions": [{"Major": 1, "Minor": 0},
    ...                                                       {"Major": 2, "Minor": 3}]})
    [(1, 0), (2, 0), (2, 1), (2, 2), (2, 3)]
    """
    return expand_schema_versions(basic.get("SupportedSchemaVersions", []))


def is_schema_version_supported(basic: BasicInformation, version: VersionLike) -> bool:
    """True if the host described by *basic* accepts documents of schema *version*."""
    return version_tuple(version) in supported_schema_versions(basic)


def highest_supported_schema_version(basic: BasicInformation, major: int = 2) -> Optional[Version]:
    """The highest supported ``major.X`` as a ``Version`` document, or ``None`` if that major is absent."""
    minors = [mi for ma, mi in supported_schema_versions(basic) if ma == major]
    return make_version(major, max(minors)) if minors else None
