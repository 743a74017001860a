"""``--log`` / ``--log-format`` / ``--debug``: runhcs logs with logrus, and containerd's shim reads its JSON lines.

Formats (github.com/sirupsen/logrus, TextFormatter without a terminal and JSONFormatter):

    text:  time="2024-05-01T10:00:00.123456789Z" level=info msg="container created" id=c1
    json:  {"id":"c1","level":"info","msg":"container created","time":"2024-05-01T10:00:00.123456789Z"}

The level is ``info`` unless ``--debug``; the log goes to the file or named pipe ``--log`` names (runhcs's default
``nul``, the null device, means no log). The pyhcs object layer's own records (logger ``pyhcs``) go to the same
place, so ``--debug`` shows the HCS calls too.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from typing import IO, Any, Dict, Optional

from .errors import CliError
from .platform import IS_WINDOWS, go_error_text

__all__ = ["Logging", "LogrusTextFormatter", "LogrusJsonFormatter", "NULL_NAMES"]

#: --log values that mean "no log": runhcs's default "nul" is Windows' null device, on every platform here.
NULL_NAMES = {"nul", "NUL", os.devnull}
_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning", logging.ERROR: "error",
           logging.CRITICAL: "fatal"}
_BARE = re.compile(r"[A-Za-z0-9\-._/@^+]+\Z")  # logrus needsQuoting: these need no quotes


def _timestamp(created: float) -> str:
    ns = int(created * 1_000_000_000)
    seconds, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def _fields(record: logging.LogRecord) -> Dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class LogrusTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [f"time={_quote(_timestamp(record.created))}", f"level={_LEVELS.get(record.levelno, 'info')}",
                 f"msg={_quote(record.getMessage())}"]
        for key in sorted(_fields(record)):
            parts.append(f"{key}={_quote(str(_fields(record)[key]))}")
        if record.exc_info:
            parts.append(f"error={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


class LogrusJsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: Dict[str, Any] = _fields(record)
        data.update(level=_LEVELS.get(record.levelno, "info"), msg=record.getMessage(),
                    time=_timestamp(record.created))
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def _quote(text: str) -> str:
    if text and _BARE.match(text):
        return text
    return json.dumps(text, ensure_ascii=False)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes each record with one write (a named pipe reader sees whole lines)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8", "replace")
            stream: IO[bytes] = self.stream
            stream.write(line)
            stream.flush()
        except Exception:  # noqa: BLE001 - logging must never take the command down
            self.handleError(record)


class Logging:
    """The ``pyhcs`` loggers pointed at ``--log`` for one command, and put back as they were afterwards (the CLI
    also runs inside test processes and tools)."""

    def __init__(self) -> None:
        self.root = logging.getLogger("pyhcs")
        self._saved = (self.root.level, self.root.propagate, list(self.root.handlers))
        self.handler: Optional[logging.Handler] = None
        # Until --log is known, and when it is the null device: never Python's last-resort stderr handler, whose
        # lines would reach go-runhcs's parser.
        self.root.handlers = [logging.NullHandler()]
        self.root.propagate = False

    def setup(self, path: str, log_format: str, debug: bool) -> None:
        """Point the loggers at *path* in *log_format*. The log format is checked first (runhcs: ``unknown
        log-format "<v>"``)."""
        if log_format not in ("text", "json"):
            raise CliError(f'unknown log-format "{log_format}"')
        self.root.setLevel(logging.DEBUG if debug else logging.INFO)
        if not path or path in NULL_NAMES or (IS_WINDOWS and path.lower() == "nul"):
            return
        try:
            stream = open(path, "ab", buffering=0)  # O_APPEND|O_CREAT|O_WRONLY, like runhcs's os.OpenFile
        except OSError as exc:
            raise CliError(f"open {path}: {go_error_text(exc)}") from None
        handler = _Handler(stream)
        handler.setFormatter(LogrusJsonFormatter() if log_format == "json" else LogrusTextFormatter())
        self.root.handlers = [handler]
        self.handler = handler

    def close(self) -> None:
        level, propagate, handlers = self._saved
        self.root.setLevel(level)
        self.root.propagate = propagate
        self.root.handlers = handlers
        if self.handler is not None:
            self.handler.close()
            stream = getattr(self.handler, "stream", None)
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
            self.handler = None
