"""``runhcs kill``'s signal argument for Windows containers (hcsshim internal/signals ValidateSigstrWCOW).

Windows has no POSIX signals; HCS delivers console control events (HcsSignalProcess with SignalProcessOptions).
Names are matched case-insensitively and **without** a ``SIG`` prefix (``SIGTERM`` is invalid); numbers are the
CTRL_*_EVENT values plus Docker's Unix 9 and 15:

    CTRLC 0   CTRLBREAK 1   CTRLCLOSE 2   CTRLLOGOFF 5   CTRLSHUTDOWN 6   TERM 15 (-> CtrlShutdown)   KILL 9

``KILL`` (and a process with a terminal, whose console would swallow the event) terminates the process instead;
an empty signal means CtrlShutdown.
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = ["InvalidSignal", "TERMINATE", "windows_signal"]

#: What windows_signal returns for KILL: terminate the process (HcsTerminateProcess), no event.
TERMINATE = None

_BY_NAME = {
    "CTRLC": "CtrlC",
    "CTRLBREAK": "CtrlBreak",
    "CTRLCLOSE": "CtrlClose",
    "CTRLLOGOFF": "CtrlLogOff",
    "CTRLSHUTDOWN": "CtrlShutdown",
    "TERM": "CtrlShutdown",  # SIGTERM is most like CtrlShutdown
}
_BY_NUMBER = {0: "CtrlC", 1: "CtrlBreak", 2: "CtrlClose", 5: "CtrlLogOff", 6: "CtrlShutdown", 15: "CtrlShutdown"}
# Go strconv.Atoi: optional sign, decimal digits.
_ATOI = re.compile(r"[+-]?[0-9]+\Z")


class InvalidSignal(ValueError):
    """runhcs's ``invalid signal value``."""

    def __init__(self) -> None:
        super().__init__("invalid signal value")


def windows_signal(text: str) -> Optional[str]:
    """The HCS signal name ("CtrlC" ... "CtrlShutdown") for *text*, or TERMINATE (None) for KILL / 9.

    Raises InvalidSignal for anything else, including ``SIGKILL``-style names."""
    if text == "":
        return "CtrlShutdown"
    if _ATOI.match(text):
        number = int(text)
        if number == 9:
            return TERMINATE
        if number in _BY_NUMBER:
            return _BY_NUMBER[number]
        raise InvalidSignal()
    name = text.upper()
    if name == "KILL":
        return TERMINATE
    if name in _BY_NAME:
        return _BY_NAME[name]
    raise InvalidSignal()
