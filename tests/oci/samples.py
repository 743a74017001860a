"""Sample OCI configurations for process-isolated Windows containers, as the tests and the runtime-tools port use."""

from __future__ import annotations

import copy
import os
from typing import Any, Dict, List, Optional

VOLUME = "\\\\?\\Volume{ec84d99e-3f02-11e7-ac6c-00155d7682cf}\\"


def windows_config(layers: Optional[List[str]] = None, **top: Any) -> Dict[str, Any]:
    """A minimal valid config.json for a Windows Server container: two image layers and a scratch folder, the
    scratch volume as root, and `cmd /c echo hello` as the process."""
    config: Dict[str, Any] = {
        "ociVersion": "1.1.0",
        "process": {"args": ["cmd", "/c", "echo hello"], "cwd": "C:\\"},
        "root": {"path": VOLUME},
        "windows": {"layerFolders": layers or ["C:\\layers\\top", "C:\\layers\\base", "C:\\scratch"]},
    }
    config.update(copy.deepcopy(top))
    return config


def make_layers(tmp: str, chain: bool = True) -> List[str]:
    """Real layer folders under *tmp* (top, base, scratch), with layerchain.json files as HCS writes them."""
    import json

    folders = [os.path.join(tmp, name) for name in ("top", "base", "scratch")]
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
    if chain:
        with open(os.path.join(folders[0], "layerchain.json"), "w") as fh:
            json.dump([folders[1]], fh)
        with open(os.path.join(folders[1], "layerchain.json"), "w") as fh:
            json.dump([], fh)
    return folders
