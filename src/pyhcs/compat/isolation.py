"""Which container images a host can run, with process or Hyper-V isolation.

The rules, in the order they are applied (each names its source in :data:`~pyhcs.compat.RULE_SOURCES`):

1. Windows containers need build 14393 or later (version-compatibility.md: Windows Server 2016 and Windows 10
   1607 were the first releases to run them).
2. Process isolation on a Windows 10 client host is refused: Windows 10 runs Windows containers with Hyper-V
   isolation only (version-compatibility.md's Windows 10 table; the containerd/cri matrix's footnote). Windows 11
   clients follow rule 3 (Windows Server 2022 images from Windows 11 21H2, 2025 images from 24H2).
3. Process isolation is exactly hcsshim's ``osversion.CheckHostAndContainerCompat``: the same major.minor; a host
   below 20348 needs the same build; a host at or after 20348 runs images from the newest stable-ABI LTSC build
   (20348, 26100) *strictly below* the host build, or 20348 itself, up to the host build. So 20348 runs 20348;
   22621 and 26100 run 20348 .. host; a future 26200 runs 26100 .. 26200. Revisions never matter to the rule
   (since 1809 they may differ); Windows Server 2016's own revision rule is reported as a note.
4. Hyper-V isolation runs an image whose major.minor.build is not newer than the host's (older-on-newer,
   version-compatibility.md), on any SKU.
"""

from __future__ import annotations

import enum
from typing import List, Tuple, Union

from .errors import InvalidVersionError, IsolationError
from .host import Host, HostLike, as_host
from .releases import FIRST_CONTAINER_BUILD, LTSC2016, LTSC2022, STABLE_ABI_LTSC_BUILDS
from .verdict import Rule, Verdict
from .version import OSVersion, VersionLike, as_version

__all__ = [
    "Isolation",
    "IsolationLike",
    "as_isolation",
    "process_isolation_compatible",
    "process_isolation_builds",
    "hyperv_isolation_compatible",
    "isolation_verdict",
    "check_isolation",
]


class Isolation(str, enum.Enum):
    """How a Windows container is isolated; the values are the containerd/runhcs spellings."""

    PROCESS = "process"
    """Shares the host kernel (an "Argon" container, a ``Container`` compute system on the host)."""
    HYPERV = "hyperv"
    """Runs in its own utility VM (a ``HostedSystem`` in a ``VirtualMachine``; OCI ``windows.hyperv``)."""

    def __str__(self) -> str:
        return self.value


IsolationLike = Union[Isolation, str]
"""An :class:`Isolation` or its OCI / containerd spelling (``"process"``, ``"hyperv"``)."""


def as_isolation(value: IsolationLike) -> Isolation:
    """``Isolation.PROCESS`` / ``"process"`` / ``"hyperv"`` (any case) → :class:`Isolation`."""
    if isinstance(value, Isolation):
        return value
    if isinstance(value, str):
        try:
            return Isolation(value.lower())
        except ValueError:
            pass
        raise InvalidVersionError(f"isolation is 'process' or 'hyperv', not {value!r}")
    raise TypeError(f"isolation is an Isolation or a str, not {type(value).__name__}")


def _stable_abi_floor(host_build: int) -> int:
    # hcsshim walks compatLTSCReleases from the newest down and takes the first build *strictly* below the host;
    # with none (the host is 20348 itself) the floor is LTSC2022.
    for ltsc in reversed(STABLE_ABI_LTSC_BUILDS):
        if host_build > ltsc:
            return ltsc
    return LTSC2022


def process_isolation_builds(host: VersionLike) -> Tuple[int, int]:
    """``(oldest, newest)`` image build the host runs process-isolated (inclusive), for a host of the same
    major.minor: ``(17763, 17763)`` for 17763, ``(20348, 26100)`` for 26100."""
    h = as_version(host)
    if h.build < LTSC2022:
        return (h.build, h.build)
    return (_stable_abi_floor(h.build), h.build)


def process_isolation_compatible(host: VersionLike, image: VersionLike) -> bool:
    """hcsshim's ``osversion.CheckHostAndContainerCompat(host, ctr)``, exactly: versions only, no SKU rules."""
    h, c = as_version(host), as_version(image)
    if (h.major, h.minor) != (c.major, c.minor):
        return False
    low, high = process_isolation_builds(h)
    return low <= c.build <= high


def hyperv_isolation_compatible(host: VersionLike, image: VersionLike) -> bool:
    """Hyper-V isolation runs older images on newer hosts only: ``image.major.minor.build <= host's``."""
    return as_version(image).build_tuple <= as_version(host).build_tuple


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low} to {high}"


def _builds(host: OSVersion, image: OSVersion) -> Tuple[str, str]:
    """The two builds as messages show them: bare build numbers, or major.minor.build when major.minor differ."""
    if (host.major, host.minor) == (image.major, image.minor):
        return str(host.build), str(image.build)
    return (f"{host.major}.{host.minor}.{host.build}", f"{image.major}.{image.minor}.{image.build}")


def _process_verdict(host: Host, image: OSVersion) -> Verdict:
    hv, hb, ib = host.version, host.describe(), image.build
    if (hv.major, hv.minor) != (image.major, image.minor):
        return Verdict(False, Rule.PROCESS_SAME_MAJOR_MINOR,
                       f"process isolation needs the same major.minor version: host {hv.major}.{hv.minor} ({hv}), "
                       f"image {image.major}.{image.minor} ({image}) — use an image built for {hv.major}.{hv.minor}")
    newer = image.build > hv.build
    if hv.build < LTSC2022:
        if image.build == hv.build:
            return Verdict(True, Rule.PROCESS_SAME_BUILD,
                           f"process isolation: host {hb} and image {ib} have the same build")
        hint = (f"use a {hv.build} image, or a host of build {ib} or later (Hyper-V isolation cannot run a newer "
                f"image either)" if newer else f"use Hyper-V isolation or a {hv.build} image")
        return Verdict(False, Rule.PROCESS_SAME_BUILD,
                       f"process isolation needs the same build below {LTSC2022}: host {hb}, image {ib} — {hint}")
    low, high = process_isolation_builds(hv)
    if low <= image.build <= high:
        return Verdict(True, Rule.PROCESS_STABLE_ABI,
                       f"process isolation: host {hb} runs images of build {_span(low, high)} (stable ABI from "
                       f"the previous LTSC), image {ib}")
    hint = (f"use an image of build {_span(low, high)}, or a host of build {ib} or later (Hyper-V isolation cannot "
            f"run a newer image either)" if newer else
            f"use Hyper-V isolation or an image of build {_span(low, high)}")
    return Verdict(False, Rule.PROCESS_STABLE_ABI,
                   f"process isolation from build {LTSC2022} on runs images from the previous stable-ABI LTSC up to "
                   f"the host: host {hb} runs {_span(low, high)}, image {ib} — {hint}")


def _notes(host: Host, image: OSVersion, isolation: Isolation) -> Tuple[str, ...]:
    notes: List[str] = []
    if isolation is Isolation.PROCESS and host.version.build == image.build == LTSC2016 \
            and host.version.revision != image.revision:
        notes.append(f"Windows Server 2016 images may not start when their revision differs from the host's: host "
                     f"{host.version}, image {image} — use the image of the host's cumulative update "
                     f"(version-compatibility.md, Windows Server 2016 restrictions)")
    if isolation is Isolation.PROCESS and host.is_client:
        notes.append("process isolation on Windows 11 is a preview for developers (version-compatibility.md)")
    return tuple(notes)


def isolation_verdict(host: HostLike, image: VersionLike, isolation: IsolationLike) -> Verdict:
    """Can *host* run *image* with *isolation*? The answer, the deciding rule and the reason, without raising."""
    h, img, iso = as_host(host), as_version(image), as_isolation(isolation)
    if h.version.build_tuple < (10, 0, FIRST_CONTAINER_BUILD):
        verdict = Verdict(False, Rule.CONTAINERS_NEED_RS1,
                          f"Windows containers need build {FIRST_CONTAINER_BUILD} (Windows Server 2016 / Windows 10 "
                          f"1607) or later: host {h.version}, image {img.build}")
    elif iso is Isolation.HYPERV:
        if hyperv_isolation_compatible(h.version, img):
            verdict = Verdict(True, Rule.HYPERV_OLDER_ON_NEWER,
                              f"Hyper-V isolation: image {img.build} is not newer than host {h.describe()}")
        else:
            host_text, image_text = _builds(h.version, img)
            verdict = Verdict(False, Rule.HYPERV_OLDER_ON_NEWER,
                              f"Hyper-V isolation runs older images on newer hosts only: host {h.describe()}, image "
                              f"{image_text} — use an image of build {host_text} or earlier, or a host of build "
                              f"{image_text} or later")
    elif h.is_windows10_client:
        hint = ("use Hyper-V isolation" if hyperv_isolation_compatible(h.version, img) else
                f"use a Windows Server host of build {img.build} or later (Hyper-V isolation cannot run an image "
                f"newer than the host either)")
        verdict = Verdict(False, Rule.WINDOWS10_HYPERV_ONLY,
                          f"Windows 10 hosts run Windows containers with Hyper-V isolation only: host {h.describe()}, "
                          f"image {img.build} — {hint}")
    else:
        verdict = _process_verdict(h, img)
    if verdict.allowed:
        notes = _notes(h, img, iso)
        if notes:
            verdict = Verdict(verdict.allowed, verdict.rule, verdict.reason, notes)
    return verdict


def check_isolation(host: HostLike, image: VersionLike, isolation: IsolationLike) -> Verdict:
    """:func:`isolation_verdict`, raising :class:`IsolationError` when the combination is refused."""
    verdict = isolation_verdict(host, image, isolation)
    if not verdict.allowed:
        raise IsolationError(verdict)
    return verdict
