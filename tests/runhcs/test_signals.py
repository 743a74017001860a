"""runhcs kill's signal argument for Windows containers (hcsshim internal/signals ValidateSigstrWCOW with signals
supported, RS5+ process isolation)."""

from __future__ import annotations

import pytest

from pyhcs.runhcs.signals import TERMINATE, InvalidSignal, windows_signal


@pytest.mark.parametrize("text, signal", [
    ("", "CtrlShutdown"), ("CtrlC", "CtrlC"), ("ctrlbreak", "CtrlBreak"), ("CTRLCLOSE", "CtrlClose"),
    ("CtrlLogOff", "CtrlLogOff"), ("CtrlShutdown", "CtrlShutdown"), ("TERM", "CtrlShutdown"), ("term", "CtrlShutdown"),
    ("0", "CtrlC"), ("1", "CtrlBreak"), ("2", "CtrlClose"), ("5", "CtrlLogOff"), ("6", "CtrlShutdown"),
    ("15", "CtrlShutdown"), ("+15", "CtrlShutdown"), ("KILL", TERMINATE), ("kill", TERMINATE), ("9", TERMINATE),
])
def test_the_wcow_signal_table(text: str, signal: object) -> None:
    assert windows_signal(text) == signal


@pytest.mark.parametrize("text", ["SIGKILL", "SIGTERM", "INT", "3", "-9", "99", "CtrlX", "9.0", " 9"])
def test_everything_else_is_an_invalid_signal_value(text: str) -> None:
    with pytest.raises(InvalidSignal, match="^invalid signal value$"):
        windows_signal(text)
