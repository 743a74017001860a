"""OCI ``process`` (config.json's, or a process.json given to exec) -> HCS ProcessParameters.

hcsshim internal/cmd/cmd.go Start (Windows host): CommandLine = ``commandLine`` or the escaped ``args``; User =
``user.username``; WorkingDirectory = ``cwd``; EmulateConsole = ``terminal``; Environment = ``env`` split at the
first ``=`` with empty values dropped (a Windows environment block cannot hold an empty variable);
ConsoleSize = ``[height, width]``; CreateStd*Pipe for each stream the caller relays.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional, Sequence

from ._fields import Fields, Path, json_type
from .argv import join_command_line
from .errors import FieldTypeError, FieldValueError, MissingFieldError

__all__ = ["process_parameters", "validate_process", "command_line"]

R_PROCESS = 'runtime-spec config.md "Process"'
R_ARGS = ('runtime-spec config.md "Process": args is OPTIONAL on Windows, and commandLine is REQUIRED if args is '
          'omitted')
R_CWD = 'runtime-spec config.md "Process": cwd is REQUIRED and MUST be an absolute path'
_WINDOWS_ABSOLUTE = re.compile(r"([A-Za-z]:[\\/]|\\\\)")


def command_line(process: Mapping[str, Any]) -> str:
    """The CommandLine HCS runs for *process*: ``commandLine`` when set and not empty, else ``args`` joined by
    Windows' rules (:func:`pyhcs.oci.argv.join_command_line`). Raises SpecError when neither is usable."""
    params = process_parameters(process)
    return str(params["CommandLine"])


def validate_process(process: Any, *, path: Sequence[Any] = ("process",), source: str = "config.json") -> None:
    """Check *process* as :func:`process_parameters` does."""
    process_parameters(process, path=path, source=source)


def process_parameters(
    process: Any,
    *,
    stdin: bool = True,
    stdout: bool = True,
    stderr: bool = True,
    path: Sequence[Any] = ("process",),
    source: str = "config.json",
) -> Dict[str, Any]:
    """The ProcessParameters document for OCI *process*; *stdin*/*stdout*/*stderr* say which std pipes HCS should
    create (with ``terminal`` there is no separate stderr: the console merges it into stdout). Raises a
    :class:`~pyhcs.oci.errors.SpecError` listing every problem; *path* and *source* locate them in messages
    (``process`` of ``config.json`` by default; ``()`` of ``process.json`` for exec)."""
    f = Fields(source)
    base: Path = tuple(path)
    if not isinstance(process, Mapping):
        if process is None:
            f.fail(MissingFieldError, base, "is required to run a process", R_PROCESS)
        else:
            f.fail(FieldTypeError, base, f"must be a JSON object, not {json_type(process)}", R_PROCESS, value=process)
        f.check()
    p = dict(process)

    terminal = bool(f.get(p, "terminal", base, "boolean", null_ok=True))
    console_size = None
    size = f.get(p, "consoleSize", base, "object", null_ok=True)
    if size is not None:
        height = f.uint(size, "height", base + ("consoleSize",), 32)
        width = f.uint(size, "width", base + ("consoleSize",), 32)
        for key, dimension in (("height", height), ("width", width)):
            if key not in size:
                f.fail(MissingFieldError, base + ("consoleSize", key), "is required", R_PROCESS)
            elif dimension is not None and dimension > 0xFFFF:
                f.fail(FieldValueError, base + ("consoleSize", key), "must be 0..65535 (a console dimension)",
                       R_PROCESS, value=dimension)
        # config.md: "Runtimes MUST ignore consoleSize if terminal is false or unset" (hcsshim passes it anyway).
        if terminal and height is not None and width is not None and max(height, width) <= 0xFFFF:
            console_size = [height, width]

    cwd = f.get(p, "cwd", base, "string", required=True, rule=R_CWD)
    if cwd is not None and not (_WINDOWS_ABSOLUTE.match(cwd) or cwd.startswith("/")):
        # runhcs validateProcessSpec also accepts "/..." (a Unix-style path written by Linux-side tools).
        f.fail(FieldValueError, base + ("cwd",), "must be an absolute path such as C:\\", R_CWD, value=cwd)

    before = len(f.errors)
    args = f.strings(p, "args", base, null_ok=True, rule=R_ARGS)
    args_reported = len(f.errors) > before
    given_line = f.get(p, "commandLine", base, "string", null_ok=True, rule=R_ARGS)
    line: Optional[str] = None
    if given_line:
        if "\x00" in given_line:
            f.fail(FieldValueError, base + ("commandLine",), "must not contain NUL", R_ARGS, value=given_line)
        else:
            line = given_line
    elif args:
        try:
            line = join_command_line(args)
        except ValueError as exc:
            f.fail(FieldValueError, base + ("args",), str(exc),
                   "the command line is split again with CommandLineToArgvW", value=args)
    elif not args_reported:
        f.fail(MissingFieldError, base + ("args",), "must not be empty when there is no commandLine", R_ARGS)

    environment: Dict[str, str] = {}
    env = f.strings(p, "env", base, null_ok=True)
    for i, entry in enumerate(env or []):
        name, sep, value = entry.partition("=")
        if not sep or not name:
            f.fail(FieldValueError, base + ("env", i), "must be NAME=VALUE", 'runtime-spec config.md "Process" env',
                   value=entry)
        elif "\x00" in entry:
            f.fail(FieldValueError, base + ("env", i), "must not contain NUL", 'runtime-spec config.md "Process"',
                   value=entry)
        elif value:
            environment[name] = value

    user = f.get(p, "user", base, "object", null_ok=True)
    username = f.get(user, "username", base + ("user",), "string", null_ok=True) if user else None

    f.check()
    params: Dict[str, Any] = {"CommandLine": line}
    if username:
        params["User"] = username
    if cwd:
        params["WorkingDirectory"] = cwd
    if environment:  # hcsshim: Environment is omitempty, so an empty map is not sent
        params["Environment"] = environment
    if terminal:
        params["EmulateConsole"] = True
    params["CreateStdInPipe"] = bool(stdin)
    params["CreateStdOutPipe"] = bool(stdout)
    params["CreateStdErrPipe"] = bool(stderr) and not terminal
    if console_size is not None:
        params["ConsoleSize"] = console_size
    return params
