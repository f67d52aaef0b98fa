"""The local store's search: words in every script, prefixes, nothing the user types is an FTS5
operator, an index that stays exact through every write, and the move of an older store to it.

Everything runs against a real store file, through the real CLI (in-process where speed matters,
a real subprocess or pseudo-terminal where the process boundary is the point)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli import TIXCLI, run, run_process

from tixcli.backends.sqlite import COMMENT_JSON_SQL, _split_sql
from tixcli.backends.sqlite_schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, SEARCH_DOCUMENT_SQL
from tixcli.backends.sqlite_search import TOKENIZE, document

TICKETS = {
    "zh": ("服务器无法启动", "数据库连接超时，请帮忙"),
    "ja": ("日本語のテスト", "プリンターが動きません。印刷できない"),
    "ko": ("한국어를 배워요", "로그인이 안 됩니다"),
    "th": ("สวัสดีครับ ระบบล่ม", "ภาษาไทย ไม่มีการเว้นวรรค"),
    "fr": ("Mon résumé est prêt", "Le café est fermé"),
    "en": ("Paper jammed in tray 2", "The printer keeps jamming"),
    "de": ("Straße gesperrt", "Überweisung fehlgeschlagen"),
    "fullwidth": ("ＶＰＮ ｔｉｍｅｏｕｔ", "ﾌﾟﾘﾝﾀｰ"),
    "ops": ("NEAR OR NOT AND text:x", "col^umn -minus +plus (paren) {brace}"),
}


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The zero-config store: no config file, the login name as the user."""
    return {"TIXCLI_DB": str(tmp_path / "tickets.db"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


@pytest.fixture
def made(env) -> dict[str, str]:
    ids = {}
    for name, (subject, body) in TICKETS.items():
        result = run("create", "-s", subject, "--body", body, "--format", "json", env=env)
        assert result.code == 0, result.err
        ids[name] = json.loads(result.out)["id"]
    return ids


def found(env: dict[str, str], *words: str) -> set[str]:
    result = run("list", "--all", "--status", "any", "--format", "jsonl", "--search", " ".join(words), env=env)
    assert result.code == 0, result.err
    return {json.loads(line)["id"] for line in result.lines}


@pytest.mark.parametrize(
    "words, names",
    [
        # Chinese: words of two characters and more, anywhere inside a run without spaces
        (["数据库"], {"zh"}),
        (["超时"], {"zh"}),
        (["启动"], {"zh"}),
        (["服务器", "超时"], {"zh"}),
        # Japanese: kanji, hiragana, katakana, mixed; one character finds every ticket holding it
        (["日本語"], {"ja"}),
        (["日本"], {"ja"}),
        (["テスト"], {"ja"}),
        (["印刷"], {"ja"}),
        (["動き"], {"ja"}),
        (["語"], {"ja"}),
        # half-width katakana and full-width Latin find their usual forms, and back
        (["プリンター"], {"ja", "fullwidth"}),
        (["vpn"], {"fullwidth"}),
        (["ＴＩＭＥＯＵＴ"], {"fullwidth"}),
        # Korean: a word with its particle attached is found by the word
        (["한국어"], {"ko"}),
        (["로그인"], {"ko"}),
        # Thai: no spaces between words
        (["ระบบ"], {"th"}),
        (["ภาษา"], {"th"}),
        (["ไทย"], {"th"}),
        (["ครับ"], {"th"}),
        # accented Latin with and without its accents
        (["resume"], {"fr"}),
        (["résumé"], {"fr"}),
        (["CAFE"], {"fr"}),
        (["uberweisung"], {"de"}),
        (["straße"], {"de"}),
        # prefixes: `*` at the end of a word
        (["jam*"], {"en"}),
        (["jam"], set()),
        (["JAMM*", "tray"], {"en"}),
        (["überw*"], {"de"}),
        (["résu*"], {"fr"}),
        # words that are in no ticket
        (["数据", "jam*"], set()),
        (["日本語", "テスト", "absent"], set()),
    ],
)
def test_search_finds_words_in_every_script(env, made, words, names):
    assert found(env, *words) == {made[n] for n in names}


@pytest.mark.parametrize(
    "text, names",
    [
        ("NEAR", {"ops"}),
        ("OR", {"ops"}),
        ("NOT", {"ops"}),
        ("text:x", {"ops"}),  # not a column filter
        ("col^umn", {"ops"}),  # not an initial-token query
        ("-minus", {"ops"}),
        ('"paren"', {"ops"}),
        ("(paren)", {"ops"}),
        ("{brace}", {"ops"}),
        ("ja*m", set()),  # `*` inside a word is a character, not a wildcard
        ("*jam", set()),  # nor at the start: this is the word "jam", which no ticket has
        ("jam**", {"en"}),
        ("NEAR(jammed", set()),
        ("jammed OR café", set()),  # OR is a word here: every word must be found
    ],
)
def test_nothing_typed_is_an_fts5_operator(env, made, text, names):
    assert found(env, text) == {made[n] for n in names}


def index_terms(path: Path) -> list[tuple]:
    """Every (term, ticket, position) the store's index holds."""
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE VIRTUAL TABLE temp.words_now USING fts5vocab(main, ticket_words, 'instance')")
        return db.execute("SELECT term, doc, offset FROM temp.words_now ORDER BY 1, 2, 3").fetchall()
    finally:
        db.close()


def rebuilt_terms(path: Path) -> list[tuple]:
    """The index a fresh build from the tables would hold."""
    db = sqlite3.connect(path)
    try:
        db.create_function("tix_document", 2, lambda s, b: document((s, b)), deterministic=True)
        db.execute(f"CREATE VIRTUAL TABLE temp.fresh USING fts5(text, content = '', tokenize = \"{TOKENIZE}\")")
        db.execute(f"INSERT INTO temp.fresh (rowid, text) SELECT t.id, {SEARCH_DOCUMENT_SQL} FROM tickets t")
        db.execute("CREATE VIRTUAL TABLE temp.fresh_words USING fts5vocab(temp, fresh, 'instance')")
        return db.execute("SELECT term, doc, offset FROM temp.fresh_words ORDER BY 1, 2, 3").fetchall()
    finally:
        db.close()


def test_the_index_stays_exact_through_replies_and_subject_edits(env, made, tmp_path):
    """The index keeps no copy of the text: each write tells it what it had indexed. A wrong word
    there would leave stale terms (found by words no longer in the ticket) or lose words."""
    zh, en = made["zh"], made["en"]
    assert run("reply", zh, "--body", "重启后恢复正常 rebooted", env=env).code == 0
    assert run("reply", en, "--body", "Drucker repariert", "--internal", env=env).code == 0
    assert run("edit", zh, "--subject", "磁盘已满 disk full", env=env).code == 0
    assert run("edit", en, "--subject", "Tray two fixed", env=env).code == 0
    assert run("solve", en, "--body", "カートリッジ交換済み", env=env).code == 0
    assert found(env, "恢复") == {zh}
    assert found(env, "rebooted", "磁盘") == {zh}
    assert found(env, "服务器") == set()  # the old subject is gone from the index
    assert found(env, "数据库") == {zh}  # the description stays
    assert found(env, "jammed") == set() and found(env, "jamming") == {en}
    assert found(env, "Drucker", "交換") == {en}
    assert index_terms(tmp_path / "tickets.db") == rebuilt_terms(tmp_path / "tickets.db")


def test_the_login_name_works_as_requester_and_assignee_on_the_local_store(env, monkeypatch):
    """No config: the user is the login name, and `--requester` / `--assignee` take it."""
    import getpass

    monkeypatch.delenv("TIXCLI_USER")
    me = getpass.getuser()
    made = {}
    for name in ("en", "fr"):
        created = run("create", "-s", TICKETS[name][0], "--body", TICKETS[name][1], "--format", "json", env=env)
        assert created.code == 0 and json.loads(created.out)["requester"] == me
        made[name] = json.loads(created.out)["id"]
    mine = run("list", "--requester", me, "--format", "jsonl", env=env)
    assert mine.code == 0, mine.err
    assert {json.loads(line)["id"] for line in mine.lines} == set(made.values())
    assert run("edit", made["en"], "--assignee", "Grace Hopper", env=env).code == 0
    theirs = run("list", "--assignee", "Grace Hopper", "--format", "jsonl", env=env)
    assert [json.loads(line)["id"] for line in theirs.lines] == [made["en"]]
    refused = run("list", "--requester", "bad\x07name", env=env)
    assert refused.code == 6 and "invalid requester" in refused.err


# == moving an older store to the new index ====================================================


def build_schema_2_store(path: Path, tickets: int, extra: dict[int, tuple[str, str]] | None = None) -> None:
    """A store as the tixcli of schema 2 left it: its search index with a copy of the text."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    for script in MIGRATIONS[:2]:
        for statement in _split_sql(script):
            db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 2")
    texts = {i: (f"ticket {i} printer", f"body {i} jammed") for i in range(1, tickets + 1)}
    texts.update(extra or {})
    db.executemany(
        "INSERT INTO tickets (id, subject, description, status, requester, created_at, updated_at) "
        "VALUES (?,?,?,'open','me@example.com','2025-01-01T00:00:00+00:00','2025-01-01T00:00:00+00:00')",
        [(i, s, b) for i, (s, b) in texts.items()],
    )
    db.executemany(
        "INSERT INTO comments (ticket_id, author, body, public, created_at) "
        "VALUES (?, 'me@example.com', ?, 1, '2025-01-01T00:00:00+00:00')",
        [(i, b) for i, (_, b) in texts.items()],
    )
    db.executemany(
        "INSERT INTO ticket_search (rowid, text) VALUES (?, ?)", [(i, f"{s}\n{b}") for i, (s, b) in texts.items()]
    )
    db.execute(COMMENT_JSON_SQL)
    db.execute("COMMIT")
    db.close()


OLD_COLUMNS = (
    "id, subject, description, status, priority, type, requester, assignee, grp, tags, cc, external_id, "
    "created_at, updated_at, solved_at, priority_rank"
)


def schema_of(path: Path) -> tuple[int, set[str]]:
    db = sqlite3.connect(path)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return db.execute("PRAGMA user_version").fetchone()[0], tables
    finally:
        db.close()


def test_a_schema_2_store_moves_to_the_new_index_keeping_every_ticket(env, tmp_path):
    path = tmp_path / "tickets.db"
    build_schema_2_store(path, 30, {31: ("日本語のテスト", "résumé attached")})
    db = sqlite3.connect(path)
    before = db.execute(f"SELECT {OLD_COLUMNS} FROM tickets ORDER BY id").fetchall()
    old_index = "SELECT count(*) FROM ticket_search WHERE ticket_search MATCH ?"
    assert db.execute(old_index, ("jammed",)).fetchone() == (30,)
    assert db.execute(old_index, ('"日本"',)).fetchone() == (0,)  # what the old index could not do
    db.close()
    assert found(env, "日本") == {"31"}  # the first command migrates
    version, tables = schema_of(path)
    assert version == SCHEMA_VERSION and "ticket_words" in tables
    assert not any(t.startswith("ticket_search") for t in tables)  # the copy of the text is gone
    assert found(env, "jammed") == {str(i) for i in range(1, 31)}
    assert found(env, "resume", "テスト") == {"31"}
    db = sqlite3.connect(path)
    assert db.execute(f"SELECT {OLD_COLUMNS} FROM tickets ORDER BY id").fetchall() == before
    db.close()
    assert index_terms(path) == rebuilt_terms(path)
    assert not Path(f"{path}-migrating").exists()


def test_a_read_only_store_keeps_its_old_index_and_says_so(tmp_path):
    path = tmp_path / "tickets.db"
    build_schema_2_store(path, 5, {6: ("résumé ready", "jammed printer")})
    config = tmp_path / "cfg" / "tixcli" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"profiles:\n  ro:\n    backend: sqlite\n    path: {path}\n    read_only: true\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "TIXCLI_PROFILE": "ro", "TIXCLI_DB": ""}
    result = run("list", "--all", "--search", "resume", "--format", "jsonl", env=env)
    assert result.code == 0, result.err
    assert [json.loads(line)["id"] for line in result.lines] == ["6"]
    assert "read-only and has the old search index" in result.err
    assert run("list", "--all", "--search", "jam*", "--format", "jsonl", env=env).out == ""  # no prefixes there
    assert schema_of(path)[0] == 2  # nothing was changed


HOLD_MIGRATION = """
import sys, time
from tixcli.backends import sqlite_schema
from tixcli.backends.sqlite import SQLiteBackend
from tixcli.config import Profile

fill = sqlite_schema.MIGRATION_STEPS[3]

def slow_fill(db, progress):
    fill(db, progress)
    print("holding", flush=True)
    time.sleep(120)

sqlite_schema.MIGRATION_STEPS[3] = slow_fill
SQLiteBackend(Profile("held", "sqlite", {"path": sys.argv[1]})).db
"""


def test_commands_wait_for_a_running_migration_then_exit_8_saying_so(tmp_path):
    path = tmp_path / "tickets.db"
    build_schema_2_store(path, 50)
    config = tmp_path / "cfg" / "tixcli" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"profiles:\n  local:\n    backend: sqlite\n    path: {path}\n    busy_timeout: 1\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "TIXCLI_DB": ""}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_MIGRATION, str(path)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"holding\n"
        waited = run_process("list", "--all", env=env)
        assert waited.code == 8, waited.err
        assert f"being upgraded by another tixcli (pid {holder.pid}" in waited.err
        assert "try again when it has finished" in waited.err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert schema_of(path)[0] == 2  # the killed migration left nothing half done
    after = run_process("list", "--all", "--search", "jam*", "--format", "jsonl", env=env)
    assert after.code == 0, after.err
    assert len(after.lines) == 50 and schema_of(path)[0] == SCHEMA_VERSION
    assert not Path(f"{path}-migrating").exists()


def test_the_move_shows_its_progress_on_a_terminal_only(tmp_path):
    path = tmp_path / "tickets.db"
    build_schema_2_store(path, 20_000)
    env = {**os.environ, "TIXCLI_DB": str(path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "COLUMNS": "200"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: tixcli on the pseudo-terminal
        os.execve(str(TIXCLI), [str(TIXCLI), "list", "--all", "--limit", "1", "--no-pager"], env)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    _, status = os.waitpid(pid, 0)
    text = output.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert f"upgrading the store (schema 2 to {SCHEMA_VERSION}), search index: 0 of 20,000 tickets" in text
    assert "20,000 of 20,000 tickets (100%)" in text
    # not on a terminal: nothing said
    other = tmp_path / "other.db"
    build_schema_2_store(other, 20_000)
    quiet = run_process("list", "--all", "--limit", "1", env={"TIXCLI_DB": str(other)})
    assert quiet.code == 0 and "upgrading" not in quiet.err
