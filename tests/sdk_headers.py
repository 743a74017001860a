"""Locating (and on Debian, installing) the Windows SDK HCS headers shipped by mingw-w64-common."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

CANDIDATES = (
    Path("/usr/share/mingw-w64/include"),
    Path("/usr/x86_64-w64-mingw32/include"),
    Path("/usr/include/mingw-w64"),
)
HEADERS = ("computedefs.h", "computecore.h", "computestorage.h")


def find() -> Optional[Path]:
    extra = os.environ.get("PYHCS_SDK_INCLUDE")
    for folder in ([Path(extra)] if extra else []) + list(CANDIDATES):
        if all((folder / h).is_file() for h in HEADERS):
            return folder
    return None


def ensure() -> "tuple[Optional[Path], str]":
    """The folder holding the SDK headers, installing mingw-w64-common with apt when possible.

    Returns (folder, reason-if-missing)."""
    folder = find()
    if folder is not None:
        return folder, ""
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "the SDK headers need Debian's mingw-w64-common and apt-get is not available here"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return None, "the SDK headers need Debian's mingw-w64-common (apt-get install mingw-w64-common, as root)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [apt, "install", "-y", "-qq", "--no-install-recommends", "mingw-w64-common"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run([apt, "update", "-qq"], env=env, capture_output=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            return None, "apt-get install mingw-w64-common failed: " + result.stderr.strip()[-500:]
    folder = find()
    return folder, "" if folder else "mingw-w64-common installed but its HCS headers were not found"
