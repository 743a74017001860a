"""An image's OS version, read the way containerd and hcsshim read it: the ``os.version`` field.

OCI image-spec (config.md and image-index.md) gives both an image config and an image-index platform the same two
fields: ``os`` (``"windows"``, ``"linux"``) and ``os.version`` ("implementation-defined, e.g. ``10.0.14393.1066``
on ``windows``"). containerd's platform matcher compares a Windows ``os.version`` with the host using hcsshim's
``CheckHostAndContainerCompat`` (containerd/platforms ``platform_windows_compat.go``); Docker image configs use the
same key.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Union

from .errors import InvalidImageConfigError, InvalidVersionError
from .pods import LINUX, ContainerOS
from .version import OSVersion

__all__ = ["ImageConfig", "image_os_version", "image_container_os"]

ImageConfig = Union[Mapping[str, Any], str, bytes]
"""An image config, an image-index platform object or a descriptor holding one under ``"platform"``; parsed, or
as JSON text."""


def _platform(config: ImageConfig) -> Mapping[str, Any]:
    if isinstance(config, (str, bytes, bytearray)):
        try:
            config = json.loads(config)
        except (ValueError, RecursionError) as error:
            raise InvalidImageConfigError(f"the image config is not valid JSON: {error}") from None
    if not isinstance(config, Mapping):
        raise InvalidImageConfigError(f"an image config is a JSON object, not {type(config).__name__}")
    # An image-index descriptor ({"mediaType", "digest", "platform": {...}}) keeps the fields one level down.
    platform = config.get("platform")
    if "os" not in config and "os.version" not in config and isinstance(platform, Mapping):
        return platform
    return config


def _os(platform: Mapping[str, Any]) -> Optional[str]:
    value = platform.get("os")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidImageConfigError(f"the image config's os must be a string, not {type(value).__name__}")
    return value.lower()


def image_os_version(config: ImageConfig) -> Optional[OSVersion]:
    """The Windows version in ``os.version``; ``None`` when the field is absent or null, or ``os`` is not windows
    (another OS's ``os.version`` is not a Windows version). A malformed version is an :class:`InvalidVersionError`."""
    platform = _platform(config)
    os_name = _os(platform)
    if os_name is not None and os_name != "windows":
        return None
    value = platform.get("os.version")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidVersionError(f"the image config's os.version must be a string, not {type(value).__name__}")
    try:
        return OSVersion.parse(value)
    except InvalidVersionError as error:
        raise InvalidVersionError(f"the image config's os.version: {error}") from None


def image_container_os(config: ImageConfig) -> ContainerOS:
    """What :func:`~pyhcs.compat.pod_support` and the isolation checks take: :data:`~pyhcs.compat.LINUX` for a
    Linux image, the :class:`OSVersion` of a Windows image (which must then carry ``os.version``)."""
    platform = _platform(config)
    os_name = _os(platform)
    if os_name == LINUX:
        return LINUX
    if os_name != "windows":
        raise InvalidImageConfigError(
            f"the image config's os is {platform.get('os')!r}: expected 'windows' or 'linux'")
    version = image_os_version(platform)
    if version is None:
        raise InvalidImageConfigError("a Windows image config without os.version: its build (and so which hosts "
                                      "can run it) is unknown")
    return version
