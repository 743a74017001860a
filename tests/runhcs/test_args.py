"""Argument parsing as runhcs does it: urfave/cli v1 over Go's flag package (hcsshim vendor/github.com/urfave/cli
command.go reorderArgs, context.go normalizeFlags; Go flag.FlagSet.Parse; internal/appargs)."""

from __future__ import annotations

import pytest

from pyhcs.runhcs.args import (
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
from pyhcs.runhcs.errors import CliError, UsageError

FLAGS = [Flag(("bundle", "b")), Flag(("detach", "d"), "bool"), Flag(("pid",), "int"),
         Flag(("env", "e"), "strings"), Flag(("help", "h"), "bool")]


@pytest.mark.parametrize("argv", [["--bundle", "B", "id"], ["-bundle", "B", "id"], ["--bundle=B", "id"],
                                  ["-b", "B", "id"], ["-b=B", "id"]])
def test_every_go_spelling_of_a_string_flag(argv: list) -> None:
    parsed = parse_flags(FLAGS, argv)
    assert parsed["bundle"] == "B" and parsed.args == ["id"]
    assert parsed.is_set("bundle")


def test_bool_flags_take_no_separate_value_but_accept_equals() -> None:
    assert parse_flags(FLAGS, ["-d", "id"])["detach"] is True
    parsed = parse_flags(FLAGS, ["--detach=false", "id"])
    assert parsed["detach"] is False and parsed.args == ["id"]
    assert parse_flags(FLAGS, ["-d=1"])["detach"] is True


def test_flags_stop_at_the_first_positional_and_at_double_dash() -> None:
    assert parse_flags(FLAGS, ["id", "-d"]).args == ["id", "-d"]
    parsed = parse_flags(FLAGS, ["-d", "--", "-b", "x"])
    assert parsed.args == ["-b", "x"] and parsed["bundle"] == ""
    assert parse_flags(FLAGS, ["-", "x"]).args == ["-", "x"]  # a lone dash is a positional


def test_repeatable_flags_collect_their_values() -> None:
    assert parse_flags(FLAGS, ["-e", "A=1", "-e", "B=2"])["env"] == ["A=1", "B=2"]


def test_int_flags_parse_like_strconv_base_0() -> None:
    assert parse_flags(FLAGS, ["--pid", "0x10"])["pid"] == 16
    assert parse_flags(FLAGS, ["--pid", "010"])["pid"] == 8
    assert parse_flags(FLAGS, ["--pid=-7"])["pid"] == -7


@pytest.mark.parametrize("argv, message", [
    (["-x"], "flag provided but not defined: -x"),
    (["--nope=1"], "flag provided but not defined: -nope"),
    (["---b"], "bad flag syntax: ---b"),
    (["-=x"], "bad flag syntax: -=x"),
    (["--bundle"], "flag needs an argument: -bundle"),
    (["--detach=maybe"], 'invalid boolean value "maybe" for -detach: parse error'),
    (["--pid", "abc"], 'invalid value "abc" for flag -pid: parse error'),
    (["--pid", "99999999999999999999"], 'invalid value "99999999999999999999" for flag -pid: value out of range'),
    (["--bundle", "a", "-b", "b"], "Cannot use two forms of the same flag: b bundle"),
])
def test_go_flag_errors(argv: list, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_flags(FLAGS, argv)
    assert info.value.message == message


def test_reordering_moves_known_flags_in_front_of_positionals() -> None:
    assert reorder_args(FLAGS, ["id", "--force-unknown", "-d"]) == ["-d", "id", "--force-unknown"]
    assert reorder_args(FLAGS, ["id", "-b", "B"]) == ["-b", "B", "id"]
    assert reorder_args(FLAGS, ["id", "-b=B", "x"]) == ["-b=B", "id", "x"]
    # a value is only taken when it is not itself a flag
    assert reorder_args(FLAGS, ["id", "-b", "-d"]) == ["-b", "-d", "id"]
    # after --, nothing moves
    assert reorder_args(FLAGS, ["id", "--", "-d"]) == ["--", "id", "-d"]


def test_an_unknown_flag_after_the_id_becomes_a_positional() -> None:
    parsed = parse_flags(FLAGS, reorder_args(FLAGS, ["id", "-x"]))
    assert parsed.args == ["id", "-x"]


# -- positional validation (internal/appargs) -----------------------------------------------------------------------
def test_an_id_is_required_and_must_not_be_empty() -> None:
    validate_positionals([non_empty_string], ["c1"])
    for args in ([], [""], ["a", "b"]):
        with pytest.raises(CliError, match="^invalid command usage$"):
            validate_positionals([non_empty_string], args)


def test_kill_accepts_an_empty_signal_argument() -> None:
    validate_positionals([non_empty_string, optional(string)], ["c1", ""])
    validate_positionals([non_empty_string, optional(string)], ["c1"])
    with pytest.raises(CliError):
        validate_positionals([non_empty_string, optional(string)], ["c1", "KILL", "extra"])


def test_exec_takes_any_number_of_command_arguments() -> None:
    validate_positionals([non_empty_string, rest(string)], ["c1", "cmd", "/c", "dir"])


@pytest.mark.parametrize("value, ok", [("1", True), ("65535", True), ("0", False), ("65536", False),
                                       ("-1", False), ("x", False), ("0x10", False)])
def test_resize_dimensions_are_decimal_1_to_65535(value: str, ok: bool) -> None:
    validators = [non_empty_string, integer(1, 65535), integer(1, 65535)]
    if ok:
        validate_positionals(validators, ["c1", value, "10"])
    else:
        with pytest.raises(CliError):
            validate_positionals(validators, ["c1", value, "10"])
