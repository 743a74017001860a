"""The CLI's one door to HCS: the public pyhcs object layer, with runhcs's words for what goes wrong.

Everything the commands and the helper ask of HCS goes through here, so a change of the object layer's API touches
one file. Errors become runhcs's ``<op> <id>: <message>`` lines (hcsshim internal/hcs/errors.go SystemError,
ProcessError) with hcsshim's operation names.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional

import pyhcs

from .errors import CliError

__all__ = [
    "HcsError",
    "error_text",
    "system_error",
    "process_error",
    "open_system",
    "status_of",
    "process_ids",
    "add_credential_guard",
    "remove_credential_guard",
]

HcsError = pyhcs.HcsError

# HCS's State -> runhcs status (cmd/runhcs/container.go Status).
_STATUS = {"": "created", "Created": "created", "Running": "running", "Paused": "paused", "Stopped": "stopped"}


def error_text(exc: BaseException) -> str:
    """HCS's message for *exc*, with the symbolic HRESULT and HCS's own ResultError explanation when it gave one."""
    if not isinstance(exc, pyhcs.HcsError):
        return str(exc)
    text = exc.message
    if exc.name:
        text += f" ({exc.name}, 0x{exc.hresult:08X})"
    detail = exc.result_message
    if detail and detail != exc.message:
        text += f": {' '.join(detail.split())}"
    return text


def system_error(operation: str, system_id: str, exc: BaseException) -> CliError:
    """``hcs::System::Start <id>: <message>`` (hcsshim SystemError)."""
    return CliError(f"{operation} {system_id}: {error_text(exc)}")


def process_error(operation: str, system_id: str, pid: int, exc: BaseException) -> CliError:
    """``hcs::Process::Kill <id>:<pid>: <message>`` (hcsshim ProcessError)."""
    return CliError(f"{operation} {system_id}:{pid}: {error_text(exc)}")


def open_system(system_id: str) -> Optional[pyhcs.ComputeSystem]:
    """A handle to the compute system, None when HCS has none by that id (runhcs getContainer: not found is not an
    error, the container is then stopped). The handle leaves the system alone when closed."""
    try:
        return pyhcs.ComputeSystem.open(system_id, exit_action="leave")
    except pyhcs.HcsNotFoundError:
        return None
    except pyhcs.HcsError as exc:
        raise system_error("hcs::OpenComputeSystem", system_id, exc) from None


def status_of(system: Optional[pyhcs.ComputeSystem], helper_alive: bool) -> str:
    """The container status runhcs reports (cmd/runhcs/container.go Status), with one deliberate change:

    * no compute system, or its helper is gone -> ``stopped``;
    * HCS State ``Created`` (or empty) -> ``created``, ``Running`` -> ``running``, ``Paused`` -> ``paused``,
      ``Stopped`` -> ``stopped``;
    * a state HCS cannot report (the query fails with HCS_E_INVALID_STATE, or State is Unknown/SavedAsTemplate):
      runhcs says ``unknown``, which the OCI state schema rejects; the system is then being torn down, so pyhcs says
      ``stopped``.
    """
    if system is None or not helper_alive:
        return "stopped"
    try:
        state = system.properties().get("State", "")
    except (pyhcs.HcsInvalidStateError, pyhcs.HcsNotFoundError):
        return "stopped"
    except pyhcs.HcsError as exc:
        raise system_error("hcs::System::Properties", system.id, exc) from None
    return _STATUS.get(str(state), "stopped")


def process_ids(system: pyhcs.ComputeSystem) -> List[int]:
    """The ids of the processes running in the system (Properties ProcessList), as ``runhcs ps`` prints them."""
    try:
        props = system.properties(["ProcessList"])
    except pyhcs.HcsError as exc:
        raise system_error("hcs::System::Properties", system.id, exc) from None
    return [int(p.get("ProcessId", 0)) for p in props.get("ProcessList") or []]


def add_credential_guard(container_id: str, credential_spec: str) -> Dict[str, Any]:
    """A Container Credential Guard instance for a gMSA credential spec (hcsshim internal/credentials
    CreateCredentialGuard): add it through HcsModifyServiceSettings, then find its state among the service's
    ContainerCredentialGuard properties. The state goes into the container document."""
    request = {"PropertyType": "ContainerCredentialGuard", "Settings": {
        "Operation": "AddInstance",
        "OperationDetails": {"Id": container_id, "CredentialSpec": credential_spec, "Transport": "LRPC"}}}
    try:
        pyhcs.modify_service_settings(request)
    except pyhcs.HcsError as exc:
        raise CliError(f"failed to generate container credential guard instance: {error_text(exc)}") from None
    try:
        props = pyhcs.get_service_properties(["ContainerCredentialGuard"])
    except pyhcs.HcsError as exc:
        remove_credential_guard(container_id)
        raise CliError(f"failed to retrieve container credential guard instances: {error_text(exc)}") from None
    entries = props.get("Properties") or []
    info: Any = entries[0] if len(entries) == 1 else None
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except ValueError:
            info = None
    for instance in (info or {}).get("Instances") or [] if isinstance(info, Mapping) else []:
        if isinstance(instance, Mapping) and instance.get("Id") == container_id:
            return dict(instance.get("CredentialGuard") or {})
    remove_credential_guard(container_id)
    raise CliError(f"failed to find credential guard instance with container ID {container_id}")


def remove_credential_guard(container_id: str) -> None:
    request = {"PropertyType": "ContainerCredentialGuard", "Settings": {
        "Operation": "RemoveInstance", "OperationDetails": {"Id": container_id}}}
    try:
        pyhcs.modify_service_settings(request)
    except pyhcs.HcsError:
        pass  # best effort, as hcsshim's resource release
