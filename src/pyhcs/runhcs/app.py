"""The command table (names, flags, positional rules), help texts, and the run of one command line with runhcs's
exit codes: 0 ok, 1 any error (one line on stderr), 3 unknown command, and for run/exec without --detach the
container process's exit code."""

from __future__ import annotations

import logging
import sys
from typing import IO, Callable, List, Optional, Sequence

import pyhcs

from . import commands
from . import log as logsetup
from .args import (
    Command,
    Flag,
    integer,
    non_empty_string,
    optional,
    parse_flags,
    reorder_args,
    rest,
    string,
    validate_positionals,
)
from .errors import CliError, ExitStatus, UsageError
from .output import tabwriter
from .platform import resolve_root
from .state import Store

__all__ = ["main", "APP_FLAGS", "COMMAND_TABLE"]

log = logging.getLogger("pyhcs.runhcs")

NAME = "runhcs"
USAGE = "Open Container Initiative runtime for Windows containers, on the Host Compute Service (pyhcs)"
DESCRIPTION = """pyhcs's runhcs runs OCI bundles as Windows Server containers through HCS -- process-isolated, or
in a utility VM (windows.hyperv, pods, --host) -- with the commands, flags, outputs and exit codes of
Microsoft's runhcs. A bundle is a directory holding
config.json. `runhcs help <command>` describes a command; pyhcs's docs/cli.md lists each
difference from runhcs and from the OCI runtime spec.

    runhcs run [-b bundle] <container-id>"""

HELP = Flag(("help", "h"), "bool", "show help")
VERSION = Flag(("version", "v"), "bool", "print the version")

APP_FLAGS = [
    Flag(("debug",), "bool", "enable debug output for logging"),
    Flag(("log",), "string", "set the log file path or named pipe where internal debug information is written",
         default="nul"),
    Flag(("log-format",), "string", "set the format used by logs ('text' (default), or 'json')", default="text"),
    Flag(("owner",), "string", "compute system owner", default="runhcs"),
    Flag(("root",), "string", "state directory: a name under the default location, or a path", default="default"),
]

_ID_USAGE = "<container-id>"
_CREATE_FLAGS = [
    Flag(("bundle", "b"), "string", "path to the root of the bundle directory, defaults to the current directory"),
    Flag(("pid-file",), "string", "specify the file to write the process id to"),
    Flag(("shim-log",), "string", "path to the log file or named pipe for the launched shim process"),
    Flag(("vm-log",), "string", "path to the log file or named pipe for the launched VM shim process"),
    Flag(("vm-console",), "string", "path to the pipe for the VM's console (Linux utility VMs: accepted, unused)"),
    Flag(("host",), "string", "host container whose VM this container should run in"),
]
_ARG_ID = [non_empty_string]

COMMAND_TABLE: List[Command] = [
    Command("create", "create a container", _ID_USAGE, "Create a container from the bundle's config.json, ready "
            "to be started.", _CREATE_FLAGS, _ARG_ID, action=commands.cmd_create),
    Command("create-scratch", "create a scratch vhdx (Linux containers: not supported yet)", "",
            flags=[Flag(("destpath",), "string", "Required: describes the destination vhd path"),
                   Flag(("sizeGB",), "int", "optional: The size in GB of the scratch file to create", default=0),
                   Flag(("cache-path",), "string", "optional: The path to an existing scratch.vhdx to copy"),
                   Flag(("use-virtual-memory",), "bool", "optional: back the UVM with virtual memory")],
            positionals=[], action=commands.cmd_create_scratch),
    Command("delete", "delete any resources held by the container", _ID_USAGE,
            flags=[Flag(("force", "f"), "bool", "forcibly deletes the container if it is still running")],
            positionals=_ARG_ID, action=commands.cmd_delete),
    Command("exec", "execute new process inside the container",
            "<container-id> <command> [command options]  || -p process.json <container-id>",
            flags=[Flag(("cwd",), "string", "current working directory in the container"),
                   Flag(("env", "e"), "strings", "set environment variables"),
                   Flag(("tty", "t"), "bool", "allocate a pseudo-TTY"),
                   Flag(("user", "u"), "string", "user name to run the process as"),
                   Flag(("process", "p"), "string", "path to the process.json"),
                   Flag(("detach", "d"), "bool", "detach from the container's process"),
                   Flag(("pid-file",), "string", "specify the file to write the process id to"),
                   Flag(("shim-log",), "string", "path to the log file or named pipe for the launched shim process")],
            positionals=[non_empty_string, rest(string)], skip_arg_reorder=True, action=commands.cmd_exec),
    Command("kill", "send a signal (default: CtrlShutdown) to the container's init process", "<container-id> "
            "[signal]", "Signals: CtrlC, CtrlBreak, CtrlClose, CtrlLogOff, CtrlShutdown, TERM, KILL or their "
            "numbers 0, 1, 2, 5, 6, 15, 9 (no SIG prefix).", [], [non_empty_string, optional(string)],
            action=commands.cmd_kill),
    Command("list", "lists containers started by runhcs with the given root", "",
            flags=[Flag(("format", "f"), "string", "select one of: table or json", default="table"),
                   Flag(("quiet", "q"), "bool", "display only container IDs")],
            positionals=[], action=commands.cmd_list),
    Command("pause", "pause suspends all processes inside the container", _ID_USAGE, positionals=_ARG_ID,
            action=commands.cmd_pause),
    Command("prepare-disk", "prepare a disk for a Linux utility VM (not supported yet)", "",
            flags=[Flag(("destpath",), "string", "Required: describes the destination disk path")],
            positionals=[], action=commands.cmd_prepare_disk),
    Command("ps", "ps displays the processes running inside a container", "<container-id> [ps options]",
            flags=[Flag(("format", "f"), "string", "select one of: table or json", default="json")],
            positionals=_ARG_ID, skip_arg_reorder=True, action=commands.cmd_ps),
    Command("resize-tty", "resize-tty updates the terminal size for a container process",
            "<container-id> <width> <height>",
            flags=[Flag(("pid", "p"), "int", "the process pid (defaults to init pid)")],
            positionals=[non_empty_string, integer(1, 65535), integer(1, 65535)], action=commands.cmd_resize_tty),
    Command("resume", "resumes all processes that have been previously paused", _ID_USAGE, positionals=_ARG_ID,
            action=commands.cmd_resume),
    Command("run", "create and run a container", _ID_USAGE, "Create a container from the bundle and start it; "
            "without --detach, wait for it, delete it and exit with its exit code.",
            _CREATE_FLAGS + [Flag(("detach", "d"), "bool", "detach from the container's process")], _ARG_ID,
            action=commands.cmd_run),
    Command("shim", "launch the process and proxy stdio (do not call it outside of runhcs)", _ID_USAGE,
            flags=[Flag(("handshake-in",), "int", hidden=True), Flag(("handshake-out",), "int", hidden=True),
                   Flag(("stdin",), "bool", hidden=True), Flag(("stdout",), "bool", hidden=True),
                   Flag(("stderr",), "bool", hidden=True)],
            positionals=_ARG_ID, hidden=True, action=commands.cmd_shim),
    Command("vmshim", "launch a VM and containers inside it (do not call it outside of runhcs)", _ID_USAGE,
            flags=[Flag(("handshake-in",), "int", hidden=True), Flag(("handshake-out",), "int", hidden=True)],
            positionals=_ARG_ID, hidden=True, action=commands.cmd_vmshim),
    Command("start", "executes the user defined process in a created container", _ID_USAGE, positionals=_ARG_ID,
            action=commands.cmd_start),
    Command("state", "output the state of a container", _ID_USAGE, positionals=_ARG_ID,
            action=commands.cmd_state),
]
_HELP_COMMAND = Command("help", "Shows a list of commands or help for one command", "[command]")
_ALIASES = {"h": "help"}


def _by_name(name: str) -> Optional[Command]:
    name = _ALIASES.get(name, name)
    if name == "help":
        return _HELP_COMMAND
    for command in COMMAND_TABLE:
        if command.name == name:
            return command
    return None


# -- help text (urfave/cli's templates, our words) -------------------------------------------------------------------
def app_help() -> str:
    description = "\n".join(("   " + line if line else "") for line in DESCRIPTION.split("\n")).lstrip()
    version = _version_text().replace("\n", "\n   ")
    lines = [f"NAME:\n   {NAME} - {USAGE}\n", "USAGE:\n   runhcs [global options] command [command options] "
             "[arguments...]\n", f"VERSION:\n   {version}\n", f"DESCRIPTION:\n   {description}\n", "COMMANDS:"]
    for command in COMMAND_TABLE + [_HELP_COMMAND]:
        if not command.hidden:
            names = command.name + (", h" if command is _HELP_COMMAND else "")
            lines.append(f"   {names}\t{command.usage}")
    lines.append("\nGLOBAL OPTIONS:")
    for flag in APP_FLAGS + [HELP, VERSION]:
        lines.append(f"   {flag.help_line()}")
    return tabwriter("\n".join(lines) + "\n", 1, 8, 2)


def command_help(command: Command) -> str:
    text = f"NAME:\n   runhcs {command.name} - {command.usage}\n\nUSAGE:\n   runhcs {command.name}"
    visible = [f for f in command.flags if not f.hidden] + [HELP]
    text += " [command options]" if visible else ""
    text += f" {command.args_usage or '[arguments...]'}\n"
    if command.description:
        text += f"\nDESCRIPTION:\n   {command.description}\n"
    text += "\nOPTIONS:\n" + "".join(f"   {f.help_line()}\n" for f in visible)
    return tabwriter(text, 1, 8, 2)


def _version_text() -> str:
    return f"{pyhcs.__version__} (pyhcs)\nspec: {commands.SPEC_VERSION}"


# -- running a command line ------------------------------------------------------------------------------------------
def main(argv: Optional[Sequence[str]] = None, *, stdout: Optional[IO[bytes]] = None,
         stderr: Optional[IO[bytes]] = None, runtime: Optional[commands.Runtime] = None) -> int:
    """Run ``runhcs <argv>``; the exit status. *stdout*/*stderr* (binary) default to the process's; *runtime*
    lets tests run the helpers in threads."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = stdout if stdout is not None else sys.stdout.buffer
    err = stderr if stderr is not None else sys.stderr.buffer
    logs = logsetup.Logging()

    def fail(message: str, code: int) -> int:
        if message:
            log.error("%s", message)
            err.write((message + "\n").encode("utf-8", "replace"))
            err.flush()
        return code

    def say(text: str) -> None:
        out.write(text.encode("utf-8", "replace"))
        out.flush()

    try:
        try:
            globals_ = parse_flags(APP_FLAGS + [HELP, VERSION], args)
        except UsageError as exc:
            say(f"Incorrect Usage. {exc.message}\n\n" + app_help())
            return fail(exc.message, 1)
        if globals_["help"]:
            say(app_help())
            return 0
        if globals_["version"]:
            say(f"{NAME} version {_version_text()}\n")
            return 0
        logs.setup(str(globals_["log"]), str(globals_["log-format"]), bool(globals_["debug"]))
        rest_args = globals_.args
        if not rest_args:
            say(app_help())
            return 0
        name = rest_args[0]
        command = _by_name(name)
        if command is None:
            return fail(f"No help topic for '{name}'", 3)  # urfave/cli helpCommand: exit 3
        if command is _HELP_COMMAND:
            return _help(rest_args[1:], say, fail)
        ctx = commands.Context(stdout=out, stderr=err, globals=globals_,
                               store=Store(resolve_root(str(globals_["root"]))),
                               runtime=runtime or commands.Runtime(launcher=commands.ProcessLauncher))
        flags = command.flags + [HELP]
        command_args = rest_args[1:]
        if not command.skip_arg_reorder:
            command_args = reorder_args(flags, command_args)
        try:
            ctx.cmd = parse_flags(flags, command_args)
        except UsageError as exc:
            say(f"Incorrect Usage: {exc.message}\n\n" + command_help(command))
            return fail(exc.message, 1)
        if ctx.cmd["help"]:
            say(command_help(command))
            return 0
        validate_positionals(command.positionals, ctx.cmd.args)
        log.debug("runhcs %s", " ".join(args))
        if command.action is None:
            return 0
        command.action(ctx)
        return 0
    except ExitStatus as exc:
        return exc.code
    except CliError as exc:
        return fail(exc.message, exc.code)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    finally:
        logs.close()


def _help(args: List[str], say: Callable[[str], None], fail: Callable[[str, int], int]) -> int:
    """``runhcs help [command]``."""
    if not args:
        say(app_help())
        return 0
    command = _by_name(args[0])
    if command is None:
        return fail(f"No help topic for '{args[0]}'", 3)
    say(command_help(command))
    return 0
