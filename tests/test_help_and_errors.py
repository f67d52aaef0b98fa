"""Help and errors for the person at the terminal, without changing what a script sees.

- Every command's --help has examples (tixcli.cli.examples), each of which the real command line
  parses; arguments have help text; options with fixed values show them (`[json|jsonl|yaml]`),
  not TEXT, while the values stay tixcli's to check (a bad one keeps exit 6, not click's 2).
- One error style: `error: ...` and `hint: ...` on stderr, for usage errors (still exit 2, and
  click's "Did you mean" once) as for tixcli's own.
"""

from __future__ import annotations

import re
import shlex

import pytest
import typer.main
from cli import run, run_process

from tixcli.cli import app
from tixcli.cli.examples import EXAMPLES, GROUP
from tixcli.completion import Completing

COMMANDS = sorted(typer.main.get_command(app).commands)
FIXED = {"--status", "--priority", "--type", "--sort", "--format", "--color"}
PENDING: set[tuple[str, str]] = set()  # (command, option) not wired yet: none


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    return path


def help_of(command: str) -> str:
    result = run(command, "--help")
    assert result.code == 0, result.err
    return result.out


def section(text: str, name: str) -> list[str]:
    """The lines of a help section ("Arguments", "Options", "Examples")."""
    match = re.search(rf"(?ms)^{name}:\n(.*?)(?:\n\n|\Z)", text)
    return match.group(1).splitlines() if match else []


# -- examples --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_shows_examples(command):
    examples = section(help_of(command), "Examples")
    runs = [line.strip() for line in examples if line.strip().startswith("$ ")]
    assert runs, f"tixcli {command} --help has no example"
    assert any(f"tixcli {command}" in line for line in runs)
    assert all(line.startswith("  ") for line in examples)  # indented, as the other sections


def test_the_top_help_shows_examples_and_the_completion_options():
    top = run("--help")
    assert top.code == 0
    assert section(top.out, "Examples")
    assert "--show-completion [SHELL]" in top.out and "--install-completion [SHELL]" in top.out


def invocations(line: str) -> list[list[str]]:
    """The `tixcli ...` runs in an example's shell line (inside $(...), before | or >)."""
    return [shlex.split(found) for found in re.findall(r"\btixcli\b[^|>)]*", line)]


ALL_EXAMPLES = [(name, line) for name, examples in EXAMPLES.items() for _, line in examples]
ALL_EXAMPLES += [("", line) for _, line in GROUP]


@pytest.mark.parametrize(("command", "line"), ALL_EXAMPLES)
def test_every_example_parses(command, line):
    """Each example, with --help added, parses: an option that is gone makes it exit 2."""
    (args,) = invocations(line)
    assert args[0] == "tixcli" and (not command or args[1] == command)
    result = run(*args[1:], "--help")
    assert result.code == 0, (line, result.err)


def test_every_command_has_examples_and_no_example_is_of_a_command_that_is_gone():
    assert sorted(EXAMPLES) == COMMANDS


# -- arguments and fixed values --------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_arguments_have_help(command):
    text = help_of(command)
    params = typer.main.get_command(app).commands[command].params
    if not any(p.param_type_name == "argument" for p in params):
        return
    rows = [row for row in section(text, "Arguments") if row.startswith("  ") and not row.startswith("   ")]
    assert rows, text
    for row in rows:
        assert len(row.split(None, 1)) == 2, f"tixcli {command}: argument without help: {row!r}"


def fixed_options() -> list:
    cases = []
    for command in COMMANDS:
        for param in typer.main.get_command(app).commands[command].params:
            for opt in getattr(param, "opts", []):
                if opt in FIXED and param.param_type_name == "option":
                    marks = (
                        [pytest.mark.xfail(strict=True, reason="wired by hand")] if (command, opt) in PENDING else []
                    )
                    cases.append(pytest.param(command, opt, marks=marks, id=f"{command} {opt}"))
    return cases


@pytest.mark.parametrize(("command", "option"), fixed_options())
def test_fixed_values_are_shown_as_choices_and_completed(command, option):
    text = help_of(command)
    (row,) = [r for r in section(text, "Options") if re.match(rf"\s+(?:-\w, )?{re.escape(option)}\b", r)]
    metavar = row.split(option, 1)[1].split()[0]
    assert metavar.startswith("[") and "|" in metavar and "TEXT" not in row, row
    param = next(p for p in typer.main.get_command(app).commands[command].params if option in p.opts)
    assert isinstance(param.type, Completing)  # and the shell completes them (tests/test_completion.py)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["edit", "1", "--priority", "P9"], "unknown priority"),
        (["edit", "1", "--type", "bug"], "unknown type"),
        (["edit", "1", "--format", "xml"], "unknown format"),
        (["show", "1", "--format", "xml"], "unknown format"),
        (["cc", "1", "--format", "xml"], "unknown format"),
        (["export", "--format", "xml"], "unknown export format"),
        (["backends", "--format", "xml"], "unknown format"),
        (["schema", "nope"], "no schema named"),
        (["list", "--status", "done"], "unknown status"),
    ],
)
def test_a_value_outside_the_choices_is_still_tixclis_refusal_exit_6(store, args, text):
    assert run("create", "-s", "s", "--body", "b").code == 0
    result = run_process(*args)
    assert result.code == 6, result.err
    assert result.out == ""
    lines = result.err.splitlines()
    assert lines[0].startswith(f"error: {text}") and len(lines) == 2 and lines[1].startswith("hint: "), result.err


# -- one error style -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message", "where"),
    [
        (["show"], "error: missing argument 'ID' (or --dedupe-key KEY)", "tixcli show"),
        (["list", "--bogus"], "error: no such option '--bogus'", "tixcli list"),
        (
            ["list", "--limit", "many"],
            "error: invalid value for '--limit' / '-n': 'many' is not a valid integer",
            "tixcli list",
        ),
        (["list", "--format"], "error: option '--format' requires an argument", "tixcli list"),
        (["show", "1", "2"], "error: got unexpected extra argument (2)", "tixcli show"),
        (["lst"], "error: no such command 'lst'", "tixcli"),
        (["--profile"], "error: option '--profile' requires an argument", "tixcli"),
        (["--show-completion", "tcsh"], "error: invalid value for '--show-completion'", "tixcli"),
    ],
)
def test_usage_errors_speak_like_tixcli_and_exit_2(store, args, message, where):
    result = run_process(*args)
    assert result.code == 2
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 2, result.err
    assert lines[0].startswith(message), result.err
    assert lines[1] == f"hint: try '{where} --help'"
    assert "Usage:" not in result.err and "Error:" not in result.err and "Traceback" not in result.err


@pytest.mark.parametrize(("args", "suggestion"), [(["lst"], "'list'"), (["list", "--sortt", "x"], "'--sort'")])
def test_did_you_mean_comes_once(store, args, suggestion):
    result = run_process(*args)
    assert result.code == 2
    assert result.err.lower().count("did you mean") == 1, result.err
    assert suggestion in result.err.splitlines()[0]


def test_tixclis_own_errors_keep_their_style_and_codes(store):
    result = run_process("show", "999")
    assert result.code == 4
    assert result.err.startswith("error: ticket 999 not found"), result.err
    bad = run_process("list", "--status", "bogus")
    assert bad.code == 6
    assert bad.err.splitlines() == [
        "error: unknown status 'bogus'",
        "hint: use one of: new open pending hold solved closed active any",
    ]


def test_bare_tixcli_still_shows_the_help_and_exits_2():
    result = run_process()
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("Usage: tixcli [OPTIONS] COMMAND [ARGS]...") and "Commands:" in result.err


def test_help_is_on_stdout_and_exits_0():
    result = run_process("show", "--help")
    assert result.code == 0 and result.err == ""
    assert result.out.startswith("Usage: tixcli show [OPTIONS] [ID]")
    assert "[ID]  The ticket's id" in result.out
