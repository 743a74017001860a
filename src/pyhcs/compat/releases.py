"""The named Windows releases that matter to containers, by build number.

Sources: hcsshim ``osversion/windowsbuilds.go`` (the constants hcsshim and containerd compare against) and
Microsoft's release-information pages it cites (Windows Server, Windows 10, Windows 11). Two builds hcsshim does
not name are added from those pages: 22631 (Windows 11 23H2) and 26200 (Windows 11 25H2). hcsshim describes 19043
as "Windows Server 21H1"; no such Windows Server release exists (the server semi-annual channel ended with 20H2),
so here 19043 is Windows 10 21H1 only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

__all__ = [
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
]

RS1 = 14393
"""1607 "Redstone 1": Windows Server 2016 (LTSC) and Windows 10 1607; the first release with Windows containers."""
LTSC2016 = RS1
"""Windows Server 2016: build 14393 (:data:`RS1`)."""
RS2 = 15063
"""1703: Windows 10 only."""
RS3 = 16299
"""1709: Windows Server, version 1709 (semi-annual channel) and Windows 10 1709."""
RS4 = 17134
"""1803: Windows Server, version 1803 (semi-annual channel) and Windows 10 1803."""
RS5 = 17763
"""1809 "Redstone 5": Windows Server 2019 (LTSC) and Windows 10 1809; schema 2.x and pods start here."""
LTSC2019 = RS5
"""Windows Server 2019: build 17763 (:data:`RS5`)."""
V19H1 = 18362
"""1903: Windows Server, version 1903 (semi-annual channel) and Windows 10 1903."""
V19H2 = 18363
"""1909: Windows Server, version 1909 (semi-annual channel) and Windows 10 1909."""
V20H1 = 19041
"""2004: Windows Server, version 2004 (semi-annual channel) and Windows 10 2004."""
V20H2 = 19042
"""20H2: Windows Server, version 20H2 (the last semi-annual channel release) and Windows 10 20H2."""
V21H1 = 19043
"""21H1: Windows 10 only."""
V21H2_WIN10 = 19044
"""21H2: Windows 10 (November 2021 Update)."""
V21H2_SERVER = 20348
"""21H2: Windows Server 2022 (LTSC); the first stable-ABI release (process isolation across builds starts here)."""
LTSC2022 = V21H2_SERVER
"""Windows Server 2022: build 20348 (:data:`V21H2_SERVER`)."""
V21H2_WIN11 = 22000
"""21H2: Windows 11 (original release)."""
V22H2_WIN10 = 19045
"""22H2: Windows 10 (2022 Update), the last Windows 10 release."""
V22H2_WIN11 = 22621
"""22H2: Windows 11 (2022 Update)."""
V23H2_WIN11 = 22631
"""23H2: Windows 11 (2023 Update)."""
V23H2_SERVER = 25398
"""23H2: Windows Server, version 23H2 (annual channel)."""
V24H2 = 26100
"""24H2: Windows Server 2025 (LTSC) and Windows 11 24H2."""
LTSC2025 = V24H2
"""Windows Server 2025: build 26100 (:data:`V24H2`)."""
V25H2_WIN11 = 26200
"""25H2: Windows 11 (2025 Update)."""

STABLE_ABI_LTSC_BUILDS: Tuple[int, ...] = (LTSC2022, LTSC2025)
"""hcsshim's ``compatLTSCReleases`` (osversion/platform_compat_windows.go): the stable-ABI LTSC releases, ascending.
A host of build 20348 or later runs process-isolated images from the last of these below it up to its own build."""
FIRST_CONTAINER_BUILD = RS1
"""version-compatibility.md: Windows Server 2016 and Windows 10 1607 were the first releases to run containers."""
FIRST_WINDOWS11_BUILD = V21H2_WIN11
"""Client builds below this are Windows 10, which runs Windows containers with Hyper-V isolation only."""


@dataclass(frozen=True)
class Release:
    """One Windows build and the products released on it."""

    build: int
    version: str
    """The version name as Microsoft writes it: "1809", "21H2", "24H2"."""
    server: Optional[str] = None
    """The Windows Server product on this build, or ``None`` (client-only builds have no server container images)."""
    client: Optional[str] = None
    """The Windows client product on this build, or ``None``."""
    ltsc: bool = False
    """A Windows Server long-term servicing channel release (ltsc2016, ltsc2019, ltsc2022, ltsc2025)."""

    @property
    def name(self) -> str:
        """``"Windows Server 2019 / Windows 10, version 1809"``: every product on this build."""
        return " / ".join(n for n in (self.server, self.client) if n)


RELEASES: Tuple[Release, ...] = (
    Release(RS1, "1607", "Windows Server 2016", "Windows 10, version 1607", ltsc=True),
    Release(RS2, "1703", None, "Windows 10, version 1703"),
    Release(RS3, "1709", "Windows Server, version 1709", "Windows 10, version 1709"),
    Release(RS4, "1803", "Windows Server, version 1803", "Windows 10, version 1803"),
    Release(RS5, "1809", "Windows Server 2019", "Windows 10, version 1809", ltsc=True),
    Release(V19H1, "1903", "Windows Server, version 1903", "Windows 10, version 1903"),
    Release(V19H2, "1909", "Windows Server, version 1909", "Windows 10, version 1909"),
    Release(V20H1, "2004", "Windows Server, version 2004", "Windows 10, version 2004"),
    Release(V20H2, "20H2", "Windows Server, version 20H2", "Windows 10, version 20H2"),
    Release(V21H1, "21H1", None, "Windows 10, version 21H1"),
    Release(V21H2_WIN10, "21H2", None, "Windows 10, version 21H2"),
    Release(V22H2_WIN10, "22H2", None, "Windows 10, version 22H2"),
    Release(V21H2_SERVER, "21H2", "Windows Server 2022", None, ltsc=True),
    Release(V21H2_WIN11, "21H2", None, "Windows 11, version 21H2"),
    Release(V22H2_WIN11, "22H2", None, "Windows 11, version 22H2"),
    Release(V23H2_WIN11, "23H2", None, "Windows 11, version 23H2"),
    Release(V23H2_SERVER, "23H2", "Windows Server, version 23H2", None),
    Release(V24H2, "24H2", "Windows Server 2025", "Windows 11, version 24H2", ltsc=True),
    Release(V25H2_WIN11, "25H2", None, "Windows 11, version 25H2"),
)
"""Every named release, ascending by build."""

_BY_BUILD: Dict[int, Release] = {r.build: r for r in RELEASES}


def find_release(build: int) -> Optional[Release]:
    """The named release of a build number (``17763`` → Windows Server 2019 / Windows 10 1809), or ``None``."""
    if isinstance(build, bool) or not isinstance(build, int):
        raise TypeError(f"a build number is an int, not {type(build).__name__}")
    return _BY_BUILD.get(build)
