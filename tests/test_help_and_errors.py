"""Errors for the person at the terminal, without changing what a script sees: one style,
`error: ...` and `hint: ...` on stderr, for usage errors (still exit 2, and click's "Did you
mean" once) as for tixcli's own (whose exit codes stay).
"""

from __future__ import annotations

import pytest
from cli import run, run_process


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    return path


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
