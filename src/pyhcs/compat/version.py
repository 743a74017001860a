"""Windows OS versions as values: ``major.minor.build.revision``.

Windows reports four numbers (version-compatibility.md, "Build number"): 10.0.17763.1234 is major 10, minor 0,
build 17763 (changes only with a new release of Windows) and revision 1234 (the update build revision, UBR, which
moves with every cumulative update). Each is a DWORD in OSVERSIONINFOEXW, so each is 0 .. 2**32-1 here.
OCI image configs carry the same form as ``os.version`` (image-spec config.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple, Union

from .errors import InvalidVersionError

if TYPE_CHECKING:
    from .releases import Release

__all__ = ["OSVersion", "VersionLike", "as_version"]

_DWORD_MAX = 0xFFFFFFFF
# ASCII digits only: int() would also take "1_000", "+5" and non-ASCII digits, none of which Windows writes.
_VERSION_RE = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")
_FORMAT_HINT = "expected major.minor.build[.revision] in decimal, e.g. 10.0.17763.1234"


@dataclass(frozen=True, order=True)
class OSVersion:
    """A Windows version. Ordered numerically by (major, minor, build, revision); immutable and hashable.

    >>> OSVersion.parse("10.0.17763.1234") < OSVersion(10, 0, 20348)
    True
    """

    major: int
    minor: int
    build: int
    revision: int = 0
    """The update build revision (UBR); 0 when unknown."""

    def __post_init__(self) -> None:
        for field in ("major", "minor", "build", "revision"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"OSVersion.{field} must be an int, not {type(value).__name__}")
            if not 0 <= value <= _DWORD_MAX:
                raise InvalidVersionError(f"OSVersion.{field} must be 0 to {_DWORD_MAX} (a DWORD), not {value}")

    @classmethod
    def parse(cls, text: str) -> "OSVersion":
        """``"10.0.17763"`` or ``"10.0.17763.1234"`` (surrounding whitespace ignored) → OSVersion.

        Raises :class:`InvalidVersionError` for any other text, TypeError for a non-str."""
        if not isinstance(text, str):
            raise TypeError(f"a Windows version to parse is a str, not {type(text).__name__}")
        match = _VERSION_RE.fullmatch(text.strip())
        if match is None:
            raise InvalidVersionError(f"{text!r} is not a Windows version: {_FORMAT_HINT}")
        major, minor, build, revision = match.groups()
        try:
            return cls(int(major), int(minor), int(build), int(revision or 0))
        except InvalidVersionError as error:
            raise InvalidVersionError(f"{text!r} is not a Windows version: {error}") from None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}.{self.revision}"

    @property
    def build_tuple(self) -> Tuple[int, int, int]:
        """``(major, minor, build)``: what every isolation rule compares (revisions may differ since 1809)."""
        return (self.major, self.minor, self.build)

    def same_build(self, other: "OSVersion") -> bool:
        """Equal major, minor and build (the revision is ignored)."""
        return self.build_tuple == other.build_tuple

    @property
    def release(self) -> Optional["Release"]:
        """The named Windows release of this build (``None`` for builds not in :data:`~pyhcs.compat.RELEASES`)."""
        from .releases import find_release

        return find_release(self.build) if (self.major, self.minor) == (10, 0) else None


VersionLike = Union[OSVersion, str, int]
"""An :class:`OSVersion`, its text (``"10.0.17763.1234"``), or a bare build number (``17763`` meaning 10.0.17763.0:
every Windows release that runs containers is 10.0)."""


def as_version(value: VersionLike) -> OSVersion:
    """Turn a :data:`VersionLike` into an :class:`OSVersion`; a wrong type is a TypeError, bad text or a negative
    build an :class:`InvalidVersionError`."""
    if isinstance(value, OSVersion):
        return value
    if isinstance(value, str):
        return OSVersion.parse(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return OSVersion(10, 0, value)
    raise TypeError(f"expected an OSVersion, a version string or a build number, not {type(value).__name__}")
