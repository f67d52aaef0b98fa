"""`list` streams (issue 14): json, jsonl, csv and --plain hold one ticket at a time whatever
--limit says, a table one string a row; the SQLite backend makes each ticket from its cursor row
inside one read snapshot, which ends when the output is written, fails, or its reader leaves.

What is printed stays byte for byte what it was; the memory is tixcli's own peak RSS, measured
by the small capped interpreter of test_local_bounds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from unittest import mock

import pytest
from cli import TIXCLI, run
from test_local_bounds import bounded_process

from tixcli.backends.sqlite import SQLiteBackend
from tixcli.config import Profile
from tixcli.model import TICKET_FIELDS, ListQuery, NewTicket, Ticket
from tixcli.output import csv_row, dumps_json

# 100,000 tickets of small text (a 90-character subject, a one-letter description): the size the
# issue names. Before list streamed it held every ticket (and every dict, and for json the whole
# document, built by json's pure-Python indenting encoder) before writing anything: on this store
# it peaked at 528 MB in json, 186 MB in jsonl and csv and 148 MB as a table; streaming, 26 MB
# (the table, one string a row: 47 MB). Half as many tickets would need bounds of half the
# growth, within the noise of a shared machine; the store is built once (SQL inserts, 2-3 s).
TICKETS = 100_000
BOUNDS_MB = {"json": 50, "jsonl": 50, "csv": 50, "table": 100}
LIST_ALL = ["list", "--all", "--status", "any", "--limit", str(TICKETS)]


@pytest.fixture(scope="module")
def big_store(tmp_path_factory) -> Path:
    """A store of TICKETS tickets made by SQL inserts (one in ten with tags and a CC)."""
    path = tmp_path_factory.mktemp("big") / "tickets.db"
    with mock.patch.dict(os.environ, {"TIXCLI_DB": str(path)}):
        backend = SQLiteBackend(Profile("test", "sqlite", {"path": str(path)}))
        backend.create(NewTicket(subject="seed", body="b", author="me@example.com", requester="me@example.com"))
        backend.shutdown()
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "INSERT INTO tickets (subject, description, status, priority, type, requester, tags, cc, "
            "created_at, updated_at, priority_rank) "
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {TICKETS - 1}) "
            "SELECT 'Subject ' || i || ' about a printer that will not print anything at all, not even a test page', "
            "'d', 'open', 'normal', 'incident', 'user' || (i % 5000) || '@example.com', "
            """CASE WHEN i % 10 = 0 THEN '["printer","floor-3"]' ELSE '[]' END, """
            """CASE WHEN i % 10 = 0 THEN '["boss@example.com"]' ELSE '[]' END, """
            "printf('2024-01-01T00:%02d:00+00:00', i % 60), printf('2024-02-01T00:%02d:00+00:00', i % 60), 2 FROM n"
        )
    db.close()
    return path


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table"])
def test_list_of_100000_tickets_stays_small_in_every_format(big_store, fmt):
    with tempfile.TemporaryFile() as out:
        code, elapsed, peak, err = bounded_process(
            [*LIST_ALL, "--format", fmt], env={"TIXCLI_DB": str(big_store)}, timeout=120, stdout=out
        )
        out.seek(0)
        data = out.read()
    assert code == 0 and err == "", err
    assert peak < BOUNDS_MB[fmt] * 1024 * 1024, (fmt, peak // (1024 * 1024))
    if fmt == "json":  # every ticket written, as one array
        assert data.startswith(b"[\n  {\n") and data.endswith(b"\n  }\n]\n")
        assert data.count(b"\n  {\n") == TICKETS
    else:
        assert data.count(b"\n") == TICKETS + (fmt != "jsonl")  # csv and the table: a header
    if fmt == "table":
        assert data.splitlines()[2].endswith(b"not even a test page")  # nothing cut


def old_output(tickets: list[Ticket], fmt: str, columns: tuple[str, ...] | None, raw: bool = False) -> str:
    """What list printed before it streamed: every dict built, then written in one go."""
    dicts = [t.to_dict(with_comments=False) for t in tickets]
    if columns is not None:
        dicts = [{k: d[k] for k in columns} for d in dicts]
    if fmt == "json":
        return dumps_json(dicts) + "\n"
    if fmt == "jsonl":
        return "".join(dumps_json(d, pretty=False) + "\n" for d in dicts)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns or TICKET_FIELDS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for d in dicts:
        writer.writerow(csv_row(d, raw))
    return out.getvalue()


HOSTILE = [
    "plain subject",
    '"quotes", commas, and a \\ backslash',
    "=1+1 formula",
    "-dash +plus @at",
    "tab\there and a\nline break",
    "\x1b[31mred\x1b[0m and \x1b]0;title\x07 escapes",
    "bidi \u202egnp.exe and a C1 \u0085 control",
    "Ünïcödé — 打印机 每一页 😀",
    "\u2028 line separator and \u00a0 no-break space",
]


def test_every_format_prints_byte_for_byte_what_it_did(tmp_path, monkeypatch):
    monkeypatch.setenv("TIXCLI_DB", str(tmp_path / "tickets.db"))
    for n, subject in enumerate(HOSTILE):
        one_line = subject.replace("\n", " ").replace("\u2028", " ")  # the body keeps its breaks
        args = ["create", "--subject", one_line, "--body", f"body {subject}", "--priority", "high" if n % 2 else "low"]
        if n % 3 == 0:
            args += ["--cc", f"cc{n}@example.com", "--cc", "other@example.com"]
        if n % 4 == 0:
            args += ["--tag", "printer", "--tag", "floor-3"]
        assert run(*args).code == 0
    backend = SQLiteBackend(Profile("test", "sqlite", {"path": str(tmp_path / "tickets.db")}))
    tickets = backend.list_tickets(ListQuery(user="me@example.com", scope="all", statuses=None, limit=100))
    backend.shutdown()
    assert len(tickets) == len(HOSTILE)
    for columns in (None, ("id", "cc", "subject", "tags"), ("description",)):
        chosen = ["--columns", ",".join(columns)] if columns else []
        for fmt in ("json", "jsonl", "csv"):
            shown = run("list", "--all", "--status", "any", "-f", fmt, *chosen)
            assert shown.code == 0 and shown.out == old_output(tickets, fmt, columns), (fmt, columns)
        raw = run("list", "--all", "--status", "any", "-f", "csv", "--csv-raw", *chosen)
        assert raw.out == old_output(tickets, "csv", columns, raw=True)
    expected = {"json": "[]\n", "jsonl": "", "csv": ",".join(TICKET_FIELDS) + "\n", "yaml": "[]\n"}
    for fmt, nothing_found in expected.items():  # nothing at all: as before
        empty = run("list", "--status", "closed", "-f", fmt)
        assert empty.code == 0 and empty.out == nothing_found, fmt
    nothing = run("list", "--status", "closed")
    assert nothing.out == "" and nothing.err == "no tickets\n"


def test_a_format_builds_only_what_it_prints(tmp_path, monkeypatch):
    monkeypatch.setenv("TIXCLI_DB", str(tmp_path / "tickets.db"))
    assert run("create", "--subject", "printer", "--body", "b").code == 0

    def no_dict(self, with_comments=None):
        raise AssertionError("to_dict called")

    monkeypatch.setattr(Ticket, "to_dict", no_dict)
    for args in (["list"], ["list", "--plain"], ["list", "-f", "csv"], ["list", "-f", "json", "--columns", "id,tags"]):
        result = run(*args)
        assert result.code == 0 and "1" in result.out, (args, result.err)
    assert json.loads(run("list", "-f", "jsonl", "--columns", "id,tags").out) == {"id": "1", "tags": []}


# -- the read snapshot ----------------------------------------------------------------------------


def open_store(path: Path) -> SQLiteBackend:
    return SQLiteBackend(Profile("test", "sqlite", {"path": str(path), "user": "me@example.com"}))


def test_the_snapshot_stays_open_while_the_tickets_are_read_and_ends_however_reading_ends(tmp_path, monkeypatch):
    monkeypatch.setenv("TIXCLI_DB", str(tmp_path / "tickets.db"))
    backend = open_store(tmp_path / "tickets.db")
    for n in range(5):
        backend.create(NewTicket(subject=f"t{n}", body="b", author="me@example.com", requester="me@example.com"))
    query = ListQuery(user="me@example.com", limit=3, count=True)

    def write_now() -> None:  # would fail ("within a transaction") were the snapshot still open
        backend.create(NewTicket(subject="after", body="b", author="me@example.com", requester="me@example.com"))

    stream = backend.stream_tickets(query)
    assert backend.db.in_transaction  # opened (and the query run) before the first ticket is asked for
    with stream:
        assert [t.subject for t in stream] == ["t4", "t3", "t2"]
    assert stream.total == 5 and not backend.db.in_transaction
    write_now()

    with backend.stream_tickets(query) as stream:  # left in the middle
        next(iter(stream))
    assert not backend.db.in_transaction
    write_now()

    with pytest.raises(ValueError), backend.stream_tickets(query) as stream:  # an error in the middle
        for _ in stream:
            raise ValueError("the output failed")
    assert not backend.db.in_transaction
    write_now()

    backend.stream_tickets(query).close()  # never read
    assert not backend.db.in_transaction
    listed = backend.list_tickets(query)  # the list as before
    assert type(listed).__name__ == "TicketList" and len(listed) == 3 and listed.total == 8
    backend.shutdown()


def test_a_backend_that_changes_query_is_listed_through_it(tmp_path, monkeypatch):
    """A subclass overriding `query` (not the stream) is not gone round: list asks its query."""
    monkeypatch.setenv("TIXCLI_DB", str(tmp_path / "tickets.db"))

    class OldestFirst(SQLiteBackend):
        def query(self, query):
            return sorted(super().query(query), key=lambda t: int(t.id))

    backend = OldestFirst(Profile("test", "sqlite", {"path": str(tmp_path / "tickets.db")}))
    for n in range(3):
        backend.create(NewTicket(subject=f"t{n}", body="b", author="me@example.com", requester="me@example.com"))
    with backend.stream_tickets(ListQuery(user="me@example.com", limit=10)) as stream:
        assert [t.subject for t in stream] == ["t0", "t1", "t2"]
    backend.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "table"])
def test_a_reader_that_leaves_ends_the_read_exit_0_and_the_store_is_free_at_once(big_store, fmt):
    # jsonl leaves in the middle of the read; the table (read first, then written) while writing
    # 20,000 rows (2 MB: far more than a pipe holds)
    limit = TICKETS if fmt == "jsonl" else 20_000
    proc = subprocess.Popen(
        [str(TIXCLI), "list", "--all", "--status", "any", "--limit", str(limit), "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TIXCLI_DB": str(big_store)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()  # `| head -1`: one line, then the reader is gone
    proc.stdout.close()
    started = time.monotonic()
    try:
        code = proc.wait(timeout=60)
    finally:
        err = proc.stderr.read().decode()
        proc.stderr.close()
    assert code == 0 and err == "", (code, err)  # before: exit 1 (click's broken pipe)
    if fmt == "jsonl":  # it stopped at the first write that failed: the rest was not read
        assert time.monotonic() - started < 10
    db = sqlite3.connect(big_store, timeout=0)  # no wait: any lock left would fail at once
    try:
        assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # no reader holds a snapshot
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE tickets SET subject = subject WHERE id = 1")
        db.execute("ROLLBACK")
    finally:
        db.close()
