"""Arguments the CLI refuses itself, with one line and the documented exit code, before a
backend does any work: ticket ids outside ASCII, export targets that cannot be written, unknown
commands (with one suggestion)."""

from __future__ import annotations

import os
import stat

import pytest
from cli import run, run_process


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    return path


def make() -> str:
    result = run("create", "--subject", "Nightly build failed", "--body", "see log")
    assert result.code == 0, result.err
    return result.out.strip()


def snapshot() -> str:
    return run("export").out


# -- ticket ids: ASCII only, checked once for every command ----------------------------------

ODD_IDS = [
    "\u00b2",  # SUPERSCRIPT TWO: str.isdigit() accepts it, int() refuses it
    "\u0661",  # ARABIC-INDIC DIGIT ONE: int() reads it as 1
    "\uff11",  # FULLWIDTH DIGIT ONE: the same
]
ID_COMMANDS = [
    ["show"],
    ["reply", "{id}", "--body", "x"],
    ["attach", "{id}", __file__],
    ["cc"],
    ["cc", "{id}", "--add", "a@example.com"],
    ["solve"],
    ["close"],
]


@pytest.mark.parametrize("ticket_id", ODD_IDS, ids=ascii)
@pytest.mark.parametrize(
    "command", ID_COMMANDS, ids=lambda c: " ".join(a for a in c if a.isalpha() or a.startswith("--"))
)
def test_an_id_outside_ascii_letters_and_digits_is_no_ticket(store, command, ticket_id):
    make()
    before = snapshot()
    args = [a.format(id=ticket_id) for a in command]
    if "{id}" not in command:
        args.insert(1, ticket_id)
    result = run(*args)
    assert result.code == 4, (args, result.err)
    assert result.err.startswith("error: ticket ") and "not found" in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) <= 2
    assert all(ch.isascii() and ch.isprintable() for ch in result.err.replace("\n", ""))
    assert snapshot() == before


def test_other_scripts_digits_do_not_open_ticket_1(store):
    ticket_id = make()
    for odd in ("\u0661", "\uff11", "\u0967"):  # Arabic-Indic, fullwidth, Devanagari one
        result = run("show", odd)
        assert result.code == 4 and result.out == "", (ascii(odd), result.out)
        assert result.err == f"error: ticket {ascii(odd)} not found\n" + (
            "hint: a ticket id is ASCII letters, digits, '-' and '_' (at most 64)\n"
        )
    assert run("show", ticket_id).code == 0
    for other in ("SUP-12", "PROJ_2-7", "999"):  # well formed ids go on to the backend
        result = run("show", other)
        assert result.code == 4 and "not found" in result.err


# -- export --output: checked before any work --------------------------------------------------


def test_export_to_a_directory_is_refused_before_any_work(zendesk_harness, tmp_path):
    server = zendesk_harness.server
    config = str(zendesk_harness.config_path)
    assert run("--config", config, "create", "--subject", "s", "--body", "b", env=zendesk_harness.env).code == 0
    before = server.count()
    result = run("--config", config, "export", "--output", str(tmp_path), env=zendesk_harness.env)
    assert result.code == 6, result.err
    assert result.err == f"error: cannot write {tmp_path}: it is a directory\n" + (
        f"hint: name a file in it: --output {tmp_path}/export.jsonl\n"
    )
    assert server.count() == before  # not one request
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_export_to_a_missing_folder_is_refused_with_its_name(store, tmp_path):
    make()
    target = tmp_path / "no" / "such" / "history.jsonl"
    result = run("export", "--output", str(target))
    assert result.code == 6
    assert result.err == f"error: cannot write {target}: the folder {target.parent} does not exist\n"


def test_export_below_a_file_is_refused(store, tmp_path):
    make()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("export", "--output", str(blocker / "history.jsonl"))
    assert result.code == 6
    assert result.err == f"error: cannot write {blocker}/history.jsonl: {blocker} is not a folder\n"


def test_export_file_is_0600_whatever_the_umask(store, tmp_path):
    make()
    target = tmp_path / "history.jsonl"
    old = os.umask(0o277)  # would leave the owner without write permission
    try:
        result = run("export", "--output", str(target))
    finally:
        os.umask(old)
    assert result.code == 0, result.err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text().count("\n") == 1


# -- unknown commands ----------------------------------------------------------------------


def test_a_mistyped_command_gets_one_suggestion(store):
    result = run_process("lst")
    assert result.code == 2
    assert result.err == "error: no such command 'lst'. Did you mean 'list'?\nhint: try 'tixcli --help'\n"


# -- arguments that are not UTF-8 ----------------------------------------------------------

NOT_UTF8 = "a\udc9b"  # how Python hands over the byte 0x9b of a non-UTF-8 argument


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["create", "--subject", NOT_UTF8, "--body", "b"], "subject"),
        (["create", "--subject", "s", "--body", NOT_UTF8], "body"),
        (["create", "--subject", "s", "--body", "b", "--tag", NOT_UTF8], "tag"),
        (["create", "--subject", "s", "--body", "b", "--group", NOT_UTF8], "group"),
        (["create", "--subject", "s", "--body", "b", "--dedupe-key", NOT_UTF8], "dedupe key"),
        (["reply", "1", "--body", NOT_UTF8], "body"),
        (["list", "--search", NOT_UTF8], "--search text"),
    ],
)
def test_an_argument_that_is_not_utf8_is_invalid_input(store, args, what):
    make()
    before = snapshot()
    result = run(*args)
    assert result.code == 6, result.err
    assert result.err == f"error: the {what} is not valid UTF-8\n"
    assert snapshot() == before
