"""`export --state` and `--cursor` on the SQLite store: exact, through the real CLI in real processes.

The store keeps an exact change order (migration 2: every write moves the ticket to a new sequence
number), so each run exports each ticket changed since the previous run's snapshot exactly once,
however many changes share one second. Nothing here freezes the clock: the changes are made as
fast as the backend makes them, hundreds a second, and right after a run.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest
from cli import TIXCLI, run_process

from tixcli.backends import sqlite as sqlite_backend
from tixcli.backends.sqlite import COMMENT_JSON_SQL, SQLiteBackend, _split_sql
from tixcli.backends.sqlite_schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from tixcli.config import Profile
from tixcli.model import NewTicket, Reply, to_iso, utcnow

ME = "me@example.com"


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))  # the CLI processes inherit it
    return path


@pytest.fixture
def backend(db_path):
    """The same store in this process: changes hundreds a second, without a process each."""
    opened = SQLiteBackend(Profile("default", "sqlite", {"path": str(db_path)}))
    yield opened
    opened.shutdown()


def make(backend, subject: str = "s", body: str = "b") -> str:
    return backend.create(NewTicket(subject=subject, body=body, author=ME, requester=ME)).ticket.id


def comment(backend, ticket_id: str, body: str) -> None:
    backend.reply(ticket_id, Reply(body=body, author=ME))


def export(*args: str) -> tuple[list[dict], str]:
    """`tixcli export ARGS` in a process: the tickets it wrote, and its stderr."""
    result = run_process("export", *args, timeout=120)
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.lines], result.err


def run_state(state: Path) -> list[dict]:
    tickets, err = export("--state", str(state))
    # an exact run reads only what changed: nothing re-read to be dropped as unchanged
    assert "unchanged" not in err, err
    return tickets


def ids(tickets: list[dict]) -> list[str]:
    return [t["id"] for t in tickets]


def position(state: Path) -> str:
    return json.loads(state.read_text())["position"]


def test_changes_in_the_same_second_are_each_exported_once_across_runs(backend, tmp_path):
    state = tmp_path / "export.state"
    made = [make(backend, f"ticket {i}") for i in range(400)]
    per_second = Counter(item.updated_at for item in backend.export())
    assert max(per_second.values()) >= 5  # a one-second watermark could not tell these apart
    first = run_state(state)
    assert sorted(ids(first), key=int) == made and len(first) == 400
    assert position(state).startswith("seq:")  # an exact position, not a time

    # One ticket's thread grows right after each run, 13 times: each run gives it once, whole.
    busy = made[7]
    for n in range(1, 14):
        comment(backend, busy, f"comment {n}")
        again = run_state(state)
        assert ids(again) == [busy], n
        assert [c["body"] for c in again[0]["comments"]] == ["b"] + [f"comment {k}" for k in range(1, n + 1)]

    # Many changes within a second, right after a run: 100 replies and 50 new tickets.
    changed = made[100:200]
    for ticket_id in changed:
        comment(backend, ticket_id, "more")
    new = [make(backend, f"new {i}") for i in range(50)]
    later = run_state(state)
    assert sorted(ids(later), key=int) == changed + new  # each once: 150 lines for 150 tickets
    for ticket in later:
        assert ticket == backend.get(ticket["id"]).to_dict()
    assert run_state(state) == []
    assert run_state(state) == []


def test_a_ticket_changed_during_a_run_comes_in_the_next_run(backend, tmp_path):
    state = tmp_path / "export.state"
    made = [make(backend, f"ticket {i}", body="x" * 3000) for i in range(1500)]
    proc = subprocess.Popen([str(TIXCLI), "export", "--state", str(state)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    head = [proc.stdout.readline() for _ in range(10)]  # the run is under way, its snapshot taken
    early, late = made[2], made[-1]  # one already written, one not yet
    comment(backend, early, "during the run")
    comment(backend, late, "during the run")
    rest = proc.stdout.read()
    assert proc.wait(60) == 0
    during = [json.loads(line) for line in [*head, *rest.splitlines()]]
    assert sorted(ids(during), key=int) == made
    assert all(len(t["comments"]) == 1 for t in during)  # the snapshot, not the changes after it
    after = run_state(state)
    assert ids(after) == [early, late]
    assert all(t["comments"][-1]["body"] == "during the run" for t in after)
    assert run_state(state) == []


def test_cursor_works_on_sqlite_and_resumes_exactly(backend):
    made = [make(backend, f"ticket {i}") for i in range(30)]
    everything, err = export()
    assert ids(everything) == made
    resume = [line for line in err.splitlines() if line.startswith("resume: --cursor=")]
    assert len(resume) == 1
    token = resume[0].split("=", 1)[1]

    changed = [made[3], made[20], make(backend, "new one")]
    comment(backend, made[3], "again")
    comment(backend, made[20], "again")
    after, err = export("--cursor", token)
    assert ids(after) == changed  # each change once, in the same second or not
    token = [line for line in err.splitlines() if line.startswith("resume: ")][0].split("=", 1)[1]
    assert export("--cursor", token)[0] == []

    # An item's cursor from the middle of an export: the rest of it, then what changed since.
    items = list(backend.export())
    middle = items[9]
    comment(backend, made[2], "before the cursor")
    comment(backend, made[25], "after the cursor")
    resumed, _ = export("--cursor", middle.cursor)
    rest = [i.ticket_id for i in items[10:] if i.ticket_id != made[25]]
    assert ids(resumed) == rest + [made[2], made[25]]
    assert resumed[-1]["comments"][-1]["body"] == "after the cursor"


@pytest.mark.parametrize("cursor", ["1", "seq:", "seq:x", "seq:5..3:id:1", "seq:1;DROP", "sëq:1", "seq:1..2"])
def test_a_malformed_cursor_is_refused_with_a_hint(backend, cursor):
    make(backend)
    result = run_process("export", "--cursor", cursor)
    assert result.code == 6, result.err
    assert "not an sqlite export cursor" in result.err and "hint: " in result.err
    assert result.out == ""


def test_a_cursor_ahead_of_the_store_is_refused(backend):
    make(backend)
    result = run_process("export", "--cursor", "seq:999999")
    assert result.code == 6 and "ahead of this store" in result.err and result.out == ""


def test_sigkill_in_the_middle_of_a_state_run_then_a_rerun_misses_nothing(backend, db_path, tmp_path):
    state = tmp_path / "export.state"
    assert backend.export_source().startswith("sqlite:")  # opens the store: the schema is there
    db = sqlite3.connect(db_path, isolation_level=None)
    now = to_iso(utcnow())
    with db:
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO tickets (subject, description, status, created_at, updated_at) VALUES (?,?,?,?,?)",
            [(f"t{i}", "x" * 2000, "open", now, now) for i in range(4000)],
        )
    assert len(run_state(state)) == 4000
    saved = state.read_bytes()
    with db:
        db.execute("BEGIN")
        db.execute("UPDATE tickets SET subject = subject || ' v2'")  # every ticket changes
    db.close()

    proc = subprocess.Popen([str(TIXCLI), "export", "--state", str(state)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    for _ in range(200):  # its output is a pipe nobody drains: it cannot finish before the kill
        assert proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    written = proc.stdout.read()  # what it wrote before the kill, a last line perhaps cut short
    killed = [json.loads(line) for line in written.splitlines()[:-1]]
    assert state.read_bytes() == saved  # the state stays the previous run's

    rerun = run_state(state)
    assert len(rerun) == 4000 and len(set(ids(rerun))) == 4000
    assert all(t["subject"].endswith(" v2") for t in rerun)
    twice = set(ids(killed)) & set(ids(rerun))
    assert twice <= set(ids(killed))  # repeated: only what the killed run had written
    assert run_state(state) == []


def test_due_automatic_closes_count_in_the_run(backend, db_path, tmp_path):
    state = tmp_path / "export.state"
    due, other = make(backend, "due"), make(backend, "other")
    backend.solve(due)
    assert {t["id"]: t["status"] for t in run_state(state)} == {due: "solved", other: "new"}
    db = sqlite3.connect(db_path, isolation_level=None)
    with db:
        db.execute("UPDATE tickets SET solved_at = ? WHERE id = ?", ("2020-01-01T00:00:00+00:00", due))
    db.close()
    # Another tixcli holds the write lock for a while as the run starts: the run waits for it (as
    # long as a write would), closes the due ticket, and then takes its snapshot.
    locker = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(2.0, lambda: locker.execute("ROLLBACK"))
    release.start()
    try:
        closed = run_state(state)
    finally:
        release.join()
        locker.close()
    assert [(t["id"], t["status"]) for t in closed] == [(due, "closed")]
    assert run_state(state) == []  # the close was in that run's snapshot: not again


def build_schema_1_store(path: Path) -> None:
    """A store as a tixcli of schema 1 left it: migration 1 only, tickets with threads."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    for statement in _split_sql(MIGRATIONS[0]):
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    # Twelve tickets changed in one second and the rest out of id order: the (updated_at, id) order
    # is the only one a schema-1 store knows.
    for i in range(1, 41):
        second = "2025-03-01T10:00:00+00:00" if i <= 12 else f"2025-02-{28 - i % 20:02d}T09:00:00+00:00"
        db.execute(
            "INSERT INTO tickets (id, subject, description, status, requester, tags, cc, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (i, f"old {i}", "body", "open", ME, '["a"]', "[]", "2025-01-01T00:00:00+00:00", second),
        )
        for k in range(i % 4 + 1):
            db.execute(
                "INSERT INTO comments (ticket_id, author, body, public, created_at) VALUES (?,?,?,?,?)",
                (i, ME, f"comment {k} of {i}", 1, second),
            )
        db.execute("INSERT INTO ticket_search (rowid, text) VALUES (?, ?)", (i, f"old {i}\nbody"))
    db.execute(COMMENT_JSON_SQL)
    db.execute("COMMIT")
    db.close()


def dump(path: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    try:
        # the columns a schema-1 store has (later migrations add some: they must not change these)
        columns = {"tickets": [r[1] for r in db.execute("PRAGMA table_info(tickets)")][:16]}
        return {
            t: db.execute(f"SELECT {', '.join(columns.get(t, ['*']))} FROM {t} ORDER BY 1").fetchall()
            for t in ("tickets", "comments", "history")
        }
    finally:
        db.close()


def test_a_store_of_schema_1_is_migrated_keeping_every_ticket_and_exports_exactly(db_path, tmp_path):
    build_schema_1_store(db_path)
    before = dump(db_path)
    state = tmp_path / "export.state"
    first = run_state(state)  # the first command migrates the store
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    in_change_order = [r[0] for r in db.execute("SELECT ticket_id FROM ticket_changes ORDER BY seq")]
    by_time = [r[0] for r in db.execute("SELECT id FROM tickets ORDER BY updated_at, id")]
    assert in_change_order == by_time
    assert len({r[0] for r in db.execute("SELECT store_id FROM meta")}) == 1
    db.close()
    assert dump(db_path) == before  # every ticket, comment and history row as it was
    assert sorted(ids(first), key=int) == [str(i) for i in range(1, 41)]
    backend = SQLiteBackend(Profile("default", "sqlite", {"path": str(db_path)}))
    try:
        for ticket in first:
            assert ticket == backend.get(ticket["id"]).to_dict()
        comment(backend, "5", "after the upgrade")  # one of the twelve of one second
        comment(backend, "30", "after the upgrade")
    finally:
        backend.shutdown()
    assert ids(run_state(state)) == ["5", "30"]
    assert run_state(state) == []


def test_a_state_from_another_store_is_refused(tmp_path, monkeypatch):
    state = tmp_path / "export.state"
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    for path in (first, second):
        monkeypatch.setenv("TIXCLI_DB", str(path))
        assert run_process("create", "--subject", "s", "--body", "b").code == 0
    monkeypatch.setenv("TIXCLI_DB", str(first))
    assert len(run_state(state)) == 1
    saved = state.read_bytes()
    monkeypatch.setenv("TIXCLI_DB", str(second))  # the same profile, another store
    result = run_process("export", "--state", str(state))
    assert result.code == 6, result.err
    assert "belongs to another export" in result.err and result.out == ""
    assert state.read_bytes() == saved
    moved = tmp_path / "moved.db"
    first.rename(moved)  # the store's identity goes with it, not with its path
    monkeypatch.setenv("TIXCLI_DB", str(moved))
    assert run_state(state) == []


def test_a_read_only_store_exports_exactly(backend, db_path, tmp_path):
    state = tmp_path / "export.state"
    made = [make(backend) for _ in range(3)]
    config = tmp_path / "ro.yaml"
    config.write_text(f"profiles:\n  default:\n    backend: sqlite\n    path: {db_path}\n    read_only: true\n")
    result = run_process("--config", str(config), "export", "--state", str(state), env={"TIXCLI_DB": ""})
    assert result.code == 0, result.err
    assert [json.loads(line)["id"] for line in result.lines] == made
    comment(backend, made[1], "more")
    result = run_process("--config", str(config), "export", "--state", str(state), env={"TIXCLI_DB": ""})
    assert [json.loads(line)["id"] for line in result.lines] == [made[1]]


@pytest.mark.parametrize("plan", ["dense", "sparse"])
def test_both_plans_give_the_same_export(backend, monkeypatch, plan):
    """A window's plan is chosen by its size; each gives the same tickets in the same order."""
    made = [make(backend, f"ticket {i}") for i in range(40)]
    middle = list(backend.export())[14].cursor
    start = backend.export_position()
    for ticket_id in made[::7]:
        comment(backend, ticket_id, "more")
    before = {
        "all": [i.ticket_id for i in backend.export()],
        "after start": [i.ticket_id for i in backend.export(cursor=start)],
        "middle": [i.ticket_id for i in backend.export(cursor=middle)],
        "since": [i.ticket_id for i in backend.export(since=utcnow().replace(year=2000))],
    }
    if plan == "dense":
        monkeypatch.setattr(sqlite_backend, "SPARSE_MIN", 0)  # every window counts as large
        monkeypatch.setattr(sqlite_backend, "SPARSE_SHARE", 10**9)
    else:
        monkeypatch.setattr(sqlite_backend, "SPARSE_MIN", 10**9)  # every window counts as small
    chosen = {sqlite_backend.SQLiteBackend._export_plan(backend, backend.db, 0, 10**6)}
    assert chosen == {sqlite_backend.EXPORT_DENSE if plan == "dense" else sqlite_backend.EXPORT_SPARSE}
    assert [i.ticket_id for i in backend.export()] == before["all"] == made
    assert [i.ticket_id for i in backend.export(cursor=start)] == before["after start"] == made[::7]
    assert [i.ticket_id for i in backend.export(cursor=middle)] == before["middle"]
    assert before["middle"] == [t for t in made[15:] if t not in made[::7]] + made[::7]
    assert [i.ticket_id for i in backend.export(since=utcnow().replace(year=2000))] == before["since"] == made
