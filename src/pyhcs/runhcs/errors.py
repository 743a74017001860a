"""The CLI's failures and their exit codes, with runhcs's exact texts (hcsshim cmd/runhcs, internal/appargs,
internal/regstate, urfave/cli v1): go-runhcs users see these strings in containerd's logs and scripts match them."""

from __future__ import annotations

__all__ = [
    "CliError",
    "UsageError",
    "ExitStatus",
    "already_exists",
    "not_found",
    "container_is_stopped",
    "INVALID_USAGE",
    "INVALID_FORMAT",
]

INVALID_USAGE = "invalid command usage"  # internal/appargs ErrInvalidUsage
INVALID_FORMAT = "invalid format option"  # cmd/runhcs list.go, ps.go


class CliError(Exception):
    """A failure printed as one line on stderr (``message``), exit status ``code`` (1 unless stated)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(CliError):
    """A flag parse error: urfave/cli prints ``Incorrect Usage: <message>`` and the help on stdout first."""


class ExitStatus(Exception):
    """Leave with *code* and print nothing (run/exec without --detach: the container process's exit code)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def already_exists(container_id: str) -> CliError:
    return CliError(f"container {container_id} already exists")  # internal/regstate errExist


def not_found(container_id: str) -> CliError:
    return CliError(f"ID '{container_id}' was not found")  # internal/regstate NotFoundError


def container_is_stopped() -> CliError:
    return CliError("container is stopped")  # cmd/runhcs errContainerStopped
