"""What only the SQLite store does: its file, schema, automatic close, history, search, concurrency."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cli import run

from tixcli.backends.sqlite import SQLiteBackend, fts_query
from tixcli.backends.sqlite_schema import SCHEMA_VERSION
from tixcli.config import Profile
from tixcli.errors import StoreError
from tixcli.model import ListQuery, NewTicket, to_iso, utcnow


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    return path


def create(subject="s", body="b", *extra) -> str:
    result = run("create", "--subject", subject, "--body", body, *extra)
    assert result.code == 0, result.err
    return result.out.strip()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_store_uses_wal_foreign_keys_and_a_schema_version(db_path):
    create()
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_every_change_is_recorded_in_the_history(db_path):
    ticket_id = create()
    run("reply", ticket_id, "--body", "r")
    run("cc", ticket_id, "--add", "lead@example.com")
    run("solve", ticket_id)
    db = sqlite3.connect(db_path)
    actions = [r[0] for r in db.execute("SELECT action FROM history WHERE ticket_id = ? ORDER BY id", (ticket_id,))]
    assert actions == ["create", "reply", "status", "cc", "status"]
    detail = json.loads(db.execute("SELECT detail FROM history ORDER BY id DESC LIMIT 1").fetchone()[0])
    assert detail == {"from": "open", "to": "solved"}


def age_solved(db_path: Path, ticket_id: str, days: float) -> None:
    db = sqlite3.connect(db_path)
    with db:
        solved_at = to_iso(utcnow() - timedelta(days=days))
        db.execute("UPDATE tickets SET solved_at = ? WHERE id = ?", (solved_at, ticket_id))
    db.close()


def test_a_solved_ticket_closes_itself_after_seven_days(db_path):
    old, recent = create(), create()
    run("solve", old)
    run("solve", recent)
    age_solved(db_path, old, 7.01)
    age_solved(db_path, recent, 6.9)
    statuses = {t["id"]: t["status"] for t in json.loads(run("list", "--status", "any", "-f", "json").out)}
    assert statuses == {old: "closed", recent: "solved"}
    db = sqlite3.connect(db_path)
    rows = db.execute("SELECT ticket_id, actor, action FROM history WHERE action = 'auto_close'").fetchall()
    assert rows == [(int(old), "tixcli", "auto_close")]
    assert run("reply", old, "--body", "too late").code == 5


def test_auto_close_days_comes_from_the_profile(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"profiles:\n  p:\n    backend: sqlite\n    path: {tmp_path / 'x.db'}\n    auto_close_days: 1\n")
    ticket_id = run("--config", str(config), "create", "--subject", "s", "--body", "b").out.strip()
    run("--config", str(config), "solve", ticket_id)
    age_solved(tmp_path / "x.db", ticket_id, 1.5)
    assert json.loads(run("--config", str(config), "show", ticket_id, "-f", "json").out)["status"] == "closed"


def test_reads_on_a_read_only_store_do_not_fail_on_due_closes(db_path):
    ticket_id = create()
    run("solve", ticket_id)
    age_solved(db_path, ticket_id, 30)
    backend = SQLiteBackend(Profile("p", "sqlite", {"path": str(db_path)}))
    # A connection that cannot write: the probe finds a due ticket, the close fails, the read goes on.
    backend._db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
    backend._install_policy(backend._db)  # what opening the store does besides (a temp table)
    assert backend.get(ticket_id).status == "solved"
    backend.shutdown()


def test_a_store_from_a_newer_tixcli_is_refused_and_not_changed(db_path):
    create()
    db = sqlite3.connect(db_path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = sha(db_path)
    result = run("list")
    assert result.code == 9 and "newer tixcli" in result.err
    assert sha(db_path) == before


def test_a_foreign_sqlite_file_is_refused_and_not_changed(db_path):
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE songs (title TEXT)")
    db.commit()
    db.close()
    before = sha(db_path)
    result = run("create", "--subject", "s", "--body", "b")
    assert result.code == 9 and "not a tixcli store" in result.err
    assert sha(db_path) == before


def test_open_refuses_garbage_with_store_error(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    backend = SQLiteBackend(Profile("p", "sqlite", {"path": str(path)}))
    with pytest.raises(StoreError):
        backend.list_tickets(ListQuery(user="me"))


@pytest.mark.parametrize(
    "words", ['"unbalanced', "AND OR NOT", "NEAR(a b)", "col:value", "a* -b ^c", "it's", "(x)", "ünïcödé"]
)
def test_search_words_are_never_fts_syntax(db_path, words):
    create("ünïcödé AND things", "body with it's NEAR(a b) col:value")
    result = run("list", "--search", words, "-f", "json")
    assert result.code == 0, result.err
    assert isinstance(json.loads(result.out), list)


def test_fts_query_quotes_every_word():
    assert fts_query(ListQuery(user="u", search='say "hi" NOT').resolved().words) == '"say" AND """hi""" AND "NOT"'


def test_search_matches_case_and_accents_insensitively(db_path):
    ticket_id = create("Café crashed", "Résumé upload")
    assert [t["id"] for t in json.loads(run("list", "--search", "CAFE resume", "-f", "json").out)] == [ticket_id]


def test_attachments_are_stored_with_their_sha256(db_path, tmp_path):
    f = tmp_path / "data.csv"
    f.write_bytes(b"a,b\n1,2\n")
    ticket_id = create("s", "b", "--attach", str(f))
    attachment = json.loads(run("show", ticket_id, "-f", "json").out)["comments"][0]["attachments"][0]
    assert attachment["sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert attachment["content_type"] == "text/csv"
    stored = (
        sqlite3.connect(f"file:{tmp_path / 'tickets.db'}?mode=ro", uri=True)
        .execute("SELECT data FROM attachments")
        .fetchone()[0]
    )
    assert stored == b"a,b\n1,2\n"


def test_profile_attachment_limits(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        f"profiles:\n  p:\n    backend: sqlite\n    path: {tmp_path / 'x.db'}\n"
        "    attachments:\n      max_file_bytes: 10\n      allowed_types: [txt, log]\n"
    )
    big, exe, ok = tmp_path / "big.txt", tmp_path / "tool.exe", tmp_path / "ok.log"
    big.write_bytes(b"x" * 11)
    exe.write_bytes(b"MZ")
    ok.write_bytes(b"fine")
    base = ["--config", str(config), "create", "--subject", "s", "--body", "b", "--attach"]
    assert run(*base, str(big)).code == 6
    assert "not allowed" in run(*base, str(exe)).err
    assert run(*base, str(ok)).code == 0
    assert run("--config", str(config), "list", "--status", "any", "-f", "json").out.count('"id"') == 1


def test_total_attachment_size_per_comment(tmp_path, db_path):
    files = []
    for i in range(3):
        f = tmp_path / f"part{i}.log"
        with f.open("wb") as fh:
            fh.truncate(4_000_000)
        files.append(str(f))
    result = run("create", "--subject", "s", "--body", "b", *sum((["--attach", f] for f in files), []))
    assert result.code == 6 and "11,000,000" in result.err
    assert run("list", "--status", "any").out == ""


def test_concurrent_creates_with_one_dedupe_key_make_one_ticket(db_path):
    script = (
        "from tixcli.__main__ import main\n"
        "import sys\n"
        "for i in range(10):\n"
        "    main(['create', '--subject', 'flaky', '--body', f'run {sys.argv[1]}-{i}', '--dedupe-key', 'ci-flaky'])\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)], stdout=subprocess.PIPE) for n in range(4)]
    outputs = [p.communicate(timeout=120)[0].decode().split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert {i for out in outputs for i in out} == {"1"}
    shown = json.loads(run("show", "1", "-f", "json").out)
    assert len(shown["comments"]) == 40


def test_list_mine_uses_the_profile_user(db_path, monkeypatch):
    backend = SQLiteBackend(Profile("p", "sqlite", {"path": str(db_path)}))
    backend.create(NewTicket(subject="a", body="b", author="x@example.com", requester="x@example.com"))
    monkeypatch.setenv("TIXCLI_USER", "x@example.com")
    assert len(json.loads(run("list", "-f", "json").out)) == 1
    monkeypatch.setenv("TIXCLI_USER", "y@example.com")
    assert json.loads(run("list", "-f", "json").out) == []
    backend.shutdown()


def test_common_and_rare_words_give_the_same_answer_whichever_plan_runs(db_path, monkeypatch):
    import tixcli.backends.sqlite as sqlite_backend

    for i in range(12):
        create(f"printer {i}", "toner" if i % 3 else "toner jam")
    expected = json.loads(run("list", "--search", "toner jam", "-f", "json", "--sort", "created").out)
    assert len(expected) == 4
    monkeypatch.setattr(sqlite_backend, "DENSE_MATCHES", 2)  # every word now counts as common
    dense = json.loads(run("list", "--search", "toner jam", "-f", "json", "--sort", "created").out)
    assert [t["id"] for t in dense] == [t["id"] for t in expected]
    assert json.loads(run("list", "--search", "toner absent", "-f", "json").out) == []


def test_a_read_does_not_wait_long_on_a_busy_store_for_due_closes(db_path):
    import time

    ticket_id = create()
    run("solve", ticket_id)
    age_solved(db_path, ticket_id, 30)
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another tixcli is writing
    try:
        started = time.monotonic()
        shown = run("show", ticket_id, "-f", "json")
        assert shown.code == 0 and json.loads(shown.out)["status"] == "solved"
        assert time.monotonic() - started < 5  # not the 60 s busy timeout of writes
    finally:
        locker.execute("ROLLBACK")
    assert json.loads(run("show", ticket_id, "-f", "json").out)["status"] == "closed"
