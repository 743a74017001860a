"""Which HCS schema versions a host's build accepts, and the one to write documents in.

- hcsshim ``internal/schemaversion.DetermineSchemaVersion``: schema 2.1 from build 17763 (RS5), 1.0 before; 2.x is
  refused below 17763 (``IsSupported``). 1.0 is the legacy HCS v1 document format (vmcompute.dll); the
  computecore API pyhcs binds takes 2.x documents.
- SchemaReference.md's "Schema Version Map" says in which release each 2.x minor appeared (2.0/2.1: 17763,
  2.2: 18362, 2.3: 19041, 2.4/2.5: 20348, 2.6: 22000); :data:`pyhcs.schema.versions.schema_version_to_windows_release`
  holds that map and is used here.

This is the static answer from the build number. A running host tells the truth itself, including minors newer
than the map documents: ``pyhcs.supported_schema_versions()`` (HcsGetServiceProperties "Basic").
"""

from __future__ import annotations

import re
from typing import List, Mapping, Tuple, Union

from ..schema.common import Version
from ..schema.versions import make_version, schema_version_to_windows_release, version_tuple
from .errors import InvalidVersionError, SchemaVersionError
from .host import HostLike, as_host
from .releases import RS5
from .verdict import Rule, Verdict

__all__ = [
    "SchemaVersionLike",
    "schema_versions_for",
    "default_schema_version",
    "highest_schema_version",
    "schema_version_verdict",
    "check_schema_version",
]

SchemaVersionLike = Union[Version, Tuple[int, int], str]
"""``{"Major": 2, "Minor": 1}``, ``(2, 1)`` or ``"2.1"``."""

_FIRST_BUILD: Mapping[Tuple[int, int], int] = {v: r.build for v, r in schema_version_to_windows_release.items()}


def _schema_tuple(version: SchemaVersionLike) -> Tuple[int, int]:
    if isinstance(version, str):
        match = re.fullmatch(r"([0-9]+)\.([0-9]+)", version.strip())
        if match is None:
            raise InvalidVersionError(f"{version!r} is not a schema version: expected major.minor, e.g. 2.1")
        return (int(match.group(1)), int(match.group(2)))
    if isinstance(version, tuple) or isinstance(version, dict):
        try:
            major, minor = version_tuple(version)
        except (KeyError, TypeError, ValueError, IndexError):
            raise InvalidVersionError(f"{version!r} is not a schema version: expected {{'Major': int, 'Minor': int}} "
                                      f"or (major, minor)") from None
        return (major, minor)
    raise TypeError(f"a schema version is a Version dict, a (major, minor) tuple or a str, not {type(version).__name__}")


def schema_versions_for(host: HostLike) -> List[Tuple[int, int]]:
    """Every (major, minor) the version map says a host of this build accepts: (1, 0), then 2.0 up to the newest
    minor released at or before the host's build (none below 17763)."""
    h = as_host(host).version.build_tuple
    return [(1, 0)] + sorted(v for v, build in _FIRST_BUILD.items() if h >= (10, 0, build))


def default_schema_version(host: HostLike) -> Version:
    """hcsshim's choice for a new document: ``{"Major": 2, "Minor": 1}`` from build 17763 on, else 1.0."""
    return make_version(2, 1) if as_host(host).version.build_tuple >= (10, 0, RS5) else make_version(1, 0)


def highest_schema_version(host: HostLike) -> Version:
    """The newest schema version the version map documents for this build (1.0 below 17763)."""
    major, minor = schema_versions_for(host)[-1]
    return make_version(major, minor)


def schema_version_verdict(host: HostLike, version: SchemaVersionLike) -> Verdict:
    """Does a host of this build accept documents of schema *version*? Without raising."""
    h = as_host(host)
    wanted = _schema_tuple(version)
    text = f"{wanted[0]}.{wanted[1]}"
    if wanted == (1, 0):
        return Verdict(True, Rule.SCHEMA_V1,
                       f"schema 1.0 (the HCS v1 document format) is accepted on every build: host {h.describe()}")
    first = _FIRST_BUILD.get(wanted)
    if first is None:
        known = ", ".join(f"{a}.{b}" for a, b in sorted(_FIRST_BUILD))
        return Verdict(False, Rule.SCHEMA_UNKNOWN,
                       f"schema {text} is not in SchemaReference.md's version map (1.0, {known}): host "
                       f"{h.describe()} — ask the running host with pyhcs.supported_schema_versions()")
    release = schema_version_to_windows_release[wanted]
    if h.version.build_tuple >= (10, 0, first):
        return Verdict(True, Rule.SCHEMA_VERSION_MAP,
                       f"schema {text} appeared in build {first} ({release.name}): host {h.describe()}")
    if h.version.build_tuple < (10, 0, RS5):
        return Verdict(False, Rule.SCHEMA_V2_NEEDS_RS5,
                       f"schema {text} needs build {first} ({release.name}) or later: host {h.describe()} — "
                       f"use schema 1.0 (the HCS v1 API) or a host of build {first} or later")
    best = highest_schema_version(h)
    return Verdict(False, Rule.SCHEMA_VERSION_MAP,
                   f"schema {text} needs build {first} ({release.name}) or later: host {h.describe()} — use schema "
                   f"{best['Major']}.{best['Minor']} or earlier")


def check_schema_version(host: HostLike, version: SchemaVersionLike) -> Verdict:
    """:func:`schema_version_verdict`, raising :class:`SchemaVersionError` when refused."""
    verdict = schema_version_verdict(host, version)
    if not verdict.allowed:
        raise SchemaVersionError(verdict)
    return verdict
