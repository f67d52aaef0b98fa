"""The command line as people and scripts use it, on the default SQLite store (no config file)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from cli import TIXCLI, run, run_process

from tixcli.cli import app

COMMANDS = [
    "create",
    "list",
    "show",
    "history",
    "edit",
    "escalate",
    "rate",
    "reply",
    "solve",
    "reopen",
    "close",
    "attach",
    "cc",
    "download",
    "export",
    "schema",
    "backends",
]


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    return path


def make(*extra: str) -> str:
    result = run("create", "--subject", "Nightly build failed", "--body", "see log", *extra)
    assert result.code == 0, result.err
    return result.out.strip()


def test_the_newcomer_walkthrough_works_with_no_config(isolated_user_dirs, tmp_path):
    log = tmp_path / "build.log"
    log.write_text("boom\n")
    shot = tmp_path / "screenshot.png"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n")
    ticket_id = make("--priority", "high", "--type", "incident")
    assert ticket_id == "1"
    assert "Nightly build failed" in run("list").out
    assert "see log" in run("show", "1").out
    assert run("reply", "1", "--body", "retrying").out == ""
    assert run("attach", "1", str(log), str(shot)).code == 0
    assert run("cc", "1", "--add", "lead@example.com").code == 0
    assert run("cc", "1").lines == ["lead@example.com"]
    assert run("solve", "1").code == 0
    assert run("close", "1").code == 0
    lines = run("export", "--format", "jsonl").lines
    exported = json.loads(lines[0])
    assert exported["status"] == "closed"
    assert [c["body"] for c in exported["comments"]] == ["see log", "retrying", "Attached: build.log, screenshot.png"]
    assert (isolated_user_dirs / ".local/share/tixcli/tickets.db").exists()


def test_tixcli_db_overrides_the_store_location(store):
    make()
    assert store.exists()


def test_create_prints_only_the_id_and_json_on_request(store):
    first = run("create", "--subject", "s", "--body", "b")
    assert first.out == "1\n" and first.err == ""
    as_json = json.loads(run("create", "--subject", "s", "--body", "b", "--format", "json").out)
    assert as_json["id"] == "2" and as_json["created"] is True


def test_dedupe_key_from_the_cli_reports_created_false(store):
    one = make("--dedupe-key", "ci-main")
    again = run("create", "--subject", "x", "--body", "again", "--dedupe-key", "ci-main", "--format", "json")
    data = json.loads(again.out)
    assert data["id"] == one and data["created"] is False
    assert run("create", "--subject", "x", "--body", "again", "--dedupe-key", "ci-main").out.strip() == one


def test_write_commands_print_nothing_unless_asked(store):
    ticket_id = make()
    writes = (["reply", ticket_id, "--body", "r"], ["cc", ticket_id, "--add", "a@example.com"], ["solve", ticket_id])
    for args in writes:
        result = run(*args)
        assert (result.code, result.out) == (0, ""), args
    closed = json.loads(run("close", ticket_id, "--format", "json").out)
    assert closed["status"] == "closed"


def test_tixcli_format_sets_the_read_default_but_not_write_output(store, monkeypatch):
    ticket_id = make()
    monkeypatch.setenv("TIXCLI_FORMAT", "json")
    assert json.loads(run("list").out)[0]["id"] == ticket_id
    assert run("reply", ticket_id, "--body", "x").out == ""


def test_list_formats(store):
    make("--tag", "ci", "--tag", "nightly", "--cc", "lead@example.com")
    rows = list(csv.DictReader(io.StringIO(run("list", "--format", "csv").out)))
    assert rows[0]["tags"] == "ci;nightly" and rows[0]["cc"] == "lead@example.com"
    assert json.loads(run("list", "--format", "jsonl").out)["subject"] == "Nightly build failed"
    import yaml

    assert yaml.safe_load(run("list", "--format", "yaml").out)[0]["tags"] == ["ci", "nightly"]


def test_list_empty_exits_zero(store):
    result = run("list")
    assert result.code == 0 and result.out == ""
    assert run("list", "--format", "json").out.strip() == "[]"


def test_list_filters_from_the_command_line(store):
    make("--priority", "P1", "--type", "incident")
    q = make("--priority", "low", "--type", "question")
    run("solve", q)
    assert [t["id"] for t in json.loads(run("list", "-f", "json", "--status", "any", "--priority", "low").out)] == [q]
    assert json.loads(run("list", "-f", "json", "--type", "question").out) == []
    by_priority = json.loads(run("list", "-f", "json", "--status", "any", "--sort", "priority").out)
    assert [t["priority"] for t in by_priority] == ["urgent", "low"]
    assert len(json.loads(run("list", "-f", "json", "--since", "1d").out)) == 1


def test_export_csv_and_atomic_output_file(store, tmp_path):
    ticket_id = make()
    run("reply", ticket_id, "--body", "second")
    target = tmp_path / "out" / "history.csv"
    target.parent.mkdir()
    result = run("export", "--format", "csv", "--output", str(target))
    assert result.code == 0 and result.out == ""
    rows = list(csv.DictReader(target.open()))
    assert rows[0]["comment_count"] == "2"
    assert [p.name for p in target.parent.iterdir()] == ["history.csv"]  # no temporary file left


def test_schema_is_valid_json_schema_and_describes_show_output(store):
    import jsonschema

    schema = json.loads(run("schema").out)
    jsonschema.Draft202012Validator.check_schema(schema)
    ticket_id = make()
    jsonschema.validate(json.loads(run("show", ticket_id, "--format", "json").out), schema)


def test_terminal_output_strips_escape_sequences_from_ticket_text(store):
    ticket_id = make_with_subject("evil \x1b]8;;http://x\x07link\x1b[31m red")
    shown = run("show", ticket_id).out + run("list").out
    assert "\x1b" not in shown and "evil" in shown
    assert "\x1b" in json.loads(run("show", ticket_id, "-f", "json").out)["subject"]  # JSON keeps the data


def make_with_subject(subject: str) -> str:
    return run("create", "--subject", subject, "--body", "b").out.strip()


# -- exit codes and bad input: one line, a distinct code, nothing stored changes -------------


def snapshot() -> str:
    return run("export").out


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["show"], 2, "missing argument"),
        (["list", "--bogus"], 2, "no such option"),
        (["show", "999"], 4, "not found"),
        (["show", "abc"], 4, "not found"),
        (["reply", "1", "--body", "   "], 6, "empty"),
        (["reply", "1"], 6, "body is required"),
        (["reply", "1", "--body-file", "/nonexistent/file"], 6, "cannot read"),
        (["reply", "1", "--body", "x", "--status", "solved"], 6, "reply status"),
        (["reply", "1", "--body", "x", "--cc", "not-an-email"], 6, "invalid email"),
        (["cc", "1", "--add", "a@b"], 6, "invalid email"),
        (["create", "--subject", "s", "--body", "b", "--priority", "P9"], 6, "unknown priority"),
        (["create", "--subject", "s", "--body", "b", "--type", "bug"], 6, "unknown type"),
        (["create", "--subject", "", "--body", "b"], 6, "subject is empty"),
        (["list", "--status", "done"], 6, "unknown status"),
        (["list", "--since", "yesterday"], 6, "invalid date"),
        (["list", "--format", "xml"], 6, "unknown format"),
        (["list", "--search", "***"], 6, "letters or digits"),
        (["export", "--format", "xml"], 6, "unknown export format"),
        (["attach", "1", "/nonexistent.log"], 6, "no such file"),
    ],
)
def test_bad_input_gets_one_line_and_its_exit_code(store, args, code, text):
    make()
    before = snapshot()
    result = run(*args)
    assert result.code == code, result.err
    assert text in result.err
    assert "Traceback" not in result.err
    if code != 2:
        assert result.err.startswith("error: ") and len(result.err.strip().splitlines()) <= 2
    assert snapshot() == before


def test_lifecycle_refusals_exit_5_and_change_nothing(store):
    ticket_id = make()
    run("close", ticket_id)
    before = snapshot()
    for args in (
        ["reply", ticket_id, "--body", "x"],
        ["solve", ticket_id],
        ["cc", ticket_id, "--add", "a@example.com"],
        ["attach", ticket_id, __file__],
    ):
        result = run(*args)
        assert result.code == 5, (args, result.err)
        assert "closed" in result.err
    assert snapshot() == before


def test_solve_and_close_with_nothing_to_do_exit_0_and_say_so(store):
    """Nothing to do is not a refusal: exit 0, a note on stderr, changed: false, nothing written."""
    ticket_id = make()
    run("solve", ticket_id)
    before = snapshot()
    again = run("solve", ticket_id, "--format", "json")
    assert again.code == 0 and "already solved" in again.err
    assert json.loads(again.out)["changed"] is False and snapshot() == before
    run("close", ticket_id)
    before = snapshot()
    closed_again = run("close", ticket_id, "--format", "json")
    assert closed_again.code == 0 and "already closed" in closed_again.err
    assert json.loads(closed_again.out)["changed"] is False and snapshot() == before


def test_config_errors_exit_3(store, tmp_path, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles: [unclosed\n")
    assert run("--config", str(bad), "list").code == 3
    good = tmp_path / "good.yaml"
    good.write_text(
        "profiles:\n  zd:\n    backend: zendesk\n    url: https://x.zendesk.com\n    email: a@b.co\n"
        "    token_env: TIXCLI_TEST_UNSET_TOKEN\n"
    )
    monkeypatch.delenv("TIXCLI_TEST_UNSET_TOKEN", raising=False)
    unknown = run("--config", str(good), "-p", "nope", "list")
    assert unknown.code == 3 and "unknown profile" in unknown.err
    missing = run("--config", str(good), "list")
    assert missing.code == 3 and "TIXCLI_TEST_UNSET_TOKEN" in missing.err
    assert run("--config", str(tmp_path / "absent.yaml"), "list").code == 3


def test_an_unexpected_error_exits_1_with_one_line(store, monkeypatch):
    from tixcli.backends.sqlite import SQLiteBackend

    def explode(self, query):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(SQLiteBackend, "query", explode)
    result = run("list")
    assert result.code == 1 and "kaboom" in result.err and "Traceback" not in result.err
    debug = run("--debug", "list")
    assert debug.code == 1 and "Traceback" in debug.err


def test_corrupt_store_exits_9_and_is_left_untouched(store):
    store.write_bytes(b"this is not a database, just text" * 100)
    before = store.read_bytes()
    result = run("list")
    assert result.code == 9 and result.err.startswith("error: ")
    assert store.read_bytes() == before


# -- help, docs, start-up ------------------------------------------------------------------


def test_the_commands_are_exactly_the_documented_set():
    import typer.main

    group = typer.main.get_command(app)
    assert sorted(group.commands) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_in_the_readme(command):
    from pathlib import Path

    result = run(command, "--help")
    assert result.code == 0 and "Usage: tixcli " + command in result.out
    import typer.main

    assert typer.main.get_command(app).commands[command].help
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert f"tixcli {command}" in readme


def test_console_script_and_python_m_both_run(store):
    assert run_process("--version").out.startswith("tixcli ")
    proc = subprocess.run([sys.executable, "-m", "tixcli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("tixcli ")
    assert TIXCLI.exists()


CONSOLE_SCRIPT = """
import atexit, sys
loaded = lambda: sorted(m for m in sys.modules if m.startswith("tixcli.cli."))
atexit.register(lambda: print("MODULES", loaded(), file=sys.stderr))
sys.argv = ["tixcli", *sys.argv[1:]]
from tixcli.__main__ import main
main()
"""


@pytest.mark.parametrize(
    "command, modules",
    [
        (["list"], {"list_cmd", "show", "target"}),
        (["--profile", "default", "show", "1"], {"show", "target"}),
        (["schema"], {"schema"}),
    ],
)
def test_the_console_script_imports_only_the_command_it_runs(store, command, modules):
    """Each command module imports what its command needs (hashing, the editor, CI detection):
    a run of one command, as the console script runs it, pays for no other's."""
    proc = subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, *command], capture_output=True, text=True)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    loaded = {m.removeprefix("tixcli.cli.") for m in eval(line.removeprefix("MODULES "))}
    assert loaded - {"app", "commands", "examples"} == modules
    helped = subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, "--help"], capture_output=True, text=True)
    assert all(f" {c} " in helped.stdout for c in ("create", "export", "download", "history")), helped.stdout


def test_a_local_command_imports_no_remote_library(store):
    code = (
        "import sys\n"
        "from tixcli.__main__ import main\n"
        "main(['create', '--subject', 's', '--body', 'b'])\n"
        "main(['list'])\n"
        "heavy = sorted(m for m in ('requests', 'jira', 'zenpy', 'yaml', 'pydantic', 'rich') if m in sys.modules)\n"
        "print('IMPORTED', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "IMPORTED []" in proc.stderr, proc.stderr
