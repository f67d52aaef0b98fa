"""The embedded SQLite store: tixcli's default backend, no server needed.

Every command is one transaction; writes begin with BEGIN IMMEDIATE and wait on a busy
timeout, so a cron job and a CI job can write at the same time (in WAL mode a read that
upgrades to a write would fail at once instead of waiting).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import stat
import sys
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from tixcli.backends.base import Backend, ExportBatch, ExportItem, TicketState, TicketStream
from tixcli.backends.sqlite_schema import (
    APPLICATION_ID,
    MIGRATION_STEPS,
    MIGRATIONS,
    SCHEMA_VERSION,
    SLA_TARGET_ISO_SQL,
    SLA_TARGET_SQL,
)
from tixcli.backends.sqlite_search import document, index_text, match_query
from tixcli.config import Profile, default_db_path, warn
from tixcli.errors import ConfigError, InvalidInputError, NotFoundError, StoreError, UnavailableError
from tixcli.history import HistoryEvent
from tixcli.model import (
    PRIORITY_RANK,
    Attachment,
    Comment,
    FileUpload,
    ListQuery,
    NewTicket,
    Reply,
    Ticket,
    to_iso,
    utcnow,
)

# the column of each field `edit` may change (model.EDITABLE_FIELDS)
_EDIT_COLUMNS = {
    "subject": "subject",
    "priority": "priority",
    "type": "type",
    "group": "grp",
    "requester": "requester",
    "assignee": "assignee",
    "tags": "tags",
}
# attachment bytes are read this many at a time (download)
BLOB_CHUNK = 256 * 1024
# export fetches (and `export_batches` gives) this many rows at a time
EXPORT_CHUNK = 2000
TICKET_COLUMNS = (
    "id, subject, description, status, priority, type, requester, assignee, grp, tags, "
    "external_id, created_at, updated_at, solved_at, cc, channel, fields"
)
# A ticket's SLA clocks (migration 5), staged when read: the target is the cycle's start plus the
# policy's seconds for the ticket's priority (temp.sla_policy, filled from the profile when the
# store opens) plus the seconds it was paused. One rule, in SQL, for get, list, its filters and
# export alike.
# A clock's target is kept with it (migration 6, set on each write that moves it: _sla_targets);
# a paused clock keeps the target it had when it paused, to tell a breach before the pause.
SLA_STAGED = (
    "SELECT s.metric AS metric, s.met_at AS met_at, s.target_s AS target, s.target_at AS target_at, CASE "
    "WHEN s.met_at IS NOT NULL THEN CASE WHEN s.met_at > s.target_at THEN 'breached' ELSE 'met' END "
    "WHEN s.target_s < coalesce(unixepoch(s.paused_since), unixepoch('now')) THEN 'breached' "
    "WHEN s.paused_since IS NOT NULL THEN 'paused' ELSE 'active' END AS stage "
    "FROM ticket_sla s WHERE s.ticket_id = t.id"
)
SLA_JSON = (
    "(SELECT CASE WHEN count(*) THEN json_group_object(metric, json_object("
    "'target_at', CASE WHEN stage = 'paused' THEN NULL ELSE target_at END, "
    "'stage', stage, 'met_at', met_at, "
    "'breached_at', CASE WHEN stage = 'breached' THEN target_at END)) END "
    f"FROM ({SLA_STAGED}))"
)
# the ticket's latest escalation (ids CP-N)
ESCALATION_JSON = (
    "(SELECT json_object('id', 'CP-' || e.id, 'stage', e.stage, "
    "'open', json(CASE WHEN e.closed_at IS NULL THEN 'true' ELSE 'false' END), 'reason', e.reason, "
    "'eta', e.eta, 'timeline', json(e.timeline)) FROM escalations e WHERE e.ticket_id = t.id "
    "ORDER BY e.id DESC LIMIT 1)"
)
# every column a Ticket is made of (table alias t)
TICKET_SELECT = ", ".join(f"t.{c.strip()}" for c in TICKET_COLUMNS.split(",")) + (
    f", {SLA_JSON}, {ESCALATION_JSON}, t.satisfaction"
)
# Above this many matches a word is common: scanning tickets in sort order and probing the
# index beats collecting every match and sorting them (1M tickets: 17 ms instead of 600 ms).
DENSE_MATCHES = 50_000
# The public JSON of one comment (attachments included), stored with it when it is written.
COMMENT_JSON_SQL = """
UPDATE comments SET json = json_object(
    'id', CAST(id AS TEXT), 'author', author, 'body', body,
    'public', json(CASE WHEN public THEN 'true' ELSE 'false' END), 'created_at', created_at,
    'attachments', (
        SELECT json_group_array(json_object(
            'id', CAST(a.id AS TEXT), 'filename', a.filename, 'size', a.size,
            'content_type', a.content_type, 'sha256', a.sha256))
        FROM (SELECT id, filename, size, content_type, sha256 FROM attachments
              WHERE attachments.ticket_id = comments.ticket_id AND comment_id = comments.id ORDER BY id) AS a))
"""

# One ticket's public JSON (the field order of Ticket.to_dict) with its thread. SQLite builds the
# scalar fields and splices in the text it stored as JSON already (cc, tags, each comment), so
# 1M tickets export in seconds. The rtrim/ltrim drop the braces where the pieces join.
EXPORT_LINE = """rtrim(json_object(
    'id', CAST(t.id AS TEXT), 'backend', 'sqlite', 'subject', t.subject, 'description', t.description,
    'status', t.status, 'raw_status', t.status, 'priority', t.priority, 'type', t.type, 'raw_type', t.type,
    'requester', t.requester, 'assignee', t.assignee, 'group', t.grp, 'channel', t.channel
), '}') || ',"cc":' || t.cc || ',"tags":' || t.tags || ',"fields":' || t.fields || ',' || rtrim(ltrim(json_object(
    'external_id', t.external_id, 'created_at', t.created_at, 'updated_at', t.updated_at,
    'solved_at', t.solved_at
), '{'), '}') || ',"sla":' || coalesce(SLA_JSON, 'null') || ',"escalation":' || coalesce(ESCALATION_JSON, 'null')
|| ',"satisfaction":' || coalesce(t.satisfaction, 'null') || ',"url":null,"comments":[' || coalesce(
    (SELECT group_concat(json, ',') FROM (SELECT json FROM comments WHERE ticket_id = t.id ORDER BY id)), ''
) || ']}'""".replace("SLA_JSON", SLA_JSON).replace("ESCALATION_JSON", ESCALATION_JSON)
# Which tickets an export gives: those whose last change (ticket_changes, migration 2) lies in a
# window (:lo, :hi] of the change order, past ticket :after, in id order (the order the tickets
# and their comments are stored in: reading them in change order costs a full export about 1.4x
# the CPU). Two plans, one answer. DENSE walks the (ticket_id, seq) index and reads the tickets in the
# window front to back: a full export. SPARSE looks the window up by its seq range and reads
# only those tickets: an incremental export of a few changes in a big store.
EXPORT_DENSE = (
    "FROM ticket_changes c INDEXED BY ticket_changes_ticket CROSS JOIN tickets t ON t.id = c.ticket_id\n"
    "WHERE c.ticket_id > :after AND c.seq > :lo AND c.seq <= :hi"
)
EXPORT_SPARSE = (
    "FROM tickets t\nWHERE t.id IN (SELECT ticket_id FROM ticket_changes WHERE seq > :lo AND seq <= :hi) "
    "AND t.id > :after"
)
EXPORT_ORDER = {EXPORT_DENSE: "ORDER BY c.ticket_id", EXPORT_SPARSE: "ORDER BY t.id"}
# A window holding fewer changes than this share of the tickets (and at least SPARSE_MIN) is sparse.
SPARSE_SHARE, SPARSE_MIN = 64, 1000
# What a full export runs, as the sqlite3 shell can run it too (bench/bench.py: `.parameter set`).
EXPORT_SQL = f"SELECT {EXPORT_LINE}\n{EXPORT_DENSE}\n{EXPORT_ORDER[EXPORT_DENSE]}"
# export(): the line as UTF-8 bytes (a BLOB: nothing to decode and encode again), and what the
# core keeps of each ticket without parsing the line (its id and updated_at; the cursor is made
# from the id in Python: cheaper than SQLite's text, a million times over).
EXPORT_ROWS = f"SELECT CAST({EXPORT_LINE} AS BLOB), t.id, t.updated_at\n"
# export_batches(): EXPORT_CHUNK lines joined by SQLite into one blob, the last id (its cursor)
# and how many: Python touches a batch, not each ticket.
EXPORT_BULK = (
    "SELECT CAST(group_concat(line, char(10)) AS BLOB), max(id), count(*) FROM "
    f"(SELECT {EXPORT_LINE} AS line, t.id AS id\n"
)  # + plan, order, " LIMIT n)"
# A cursor: `seq:N` (the changes after N: an export's position), or `seq:LO..HI:id:ID` (an item's:
# the rest of the window (LO, HI] past ticket ID, then the changes after HI).
_CURSOR = re.compile(r"seq:([0-9]{1,18})(?:\.\.([0-9]{1,18}):id:([0-9]{1,18}))?")


class _Item(ExportItem):
    """An exported ticket, made positionally (ExportItem's keyword arguments cost over twice the
    time, a million times over). Sets every slot ExportItem.__init__ sets."""

    __slots__ = ()

    def __init__(self, line: bytes, cursor: str, ticket_id: str, updated_at: str) -> None:
        self._ticket = None
        self.cursor = cursor
        self.json_line = line
        self.tombstone = False
        self._ticket_id = ticket_id
        self._updated_at = updated_at


class SQLiteBackend(Backend):
    name = "sqlite"
    people = "name"  # the zero-config user is the login name
    capabilities = frozenset(
        {
            "internal_notes",
            "attachments",
            "cc",
            "groups",
            "search",
            "dedupe",
            "dedupe_guaranteed",
            "export_cursor",
            "edit",
            "assign",
            "download",
            "history",
            "channel",
            "set_channel",
            "custom_fields",
            "sla",
            "escalations",
            "satisfaction",
            "satisfaction_scale",
        }
    )
    rates_closed = True  # the portal's feedback button shows after close
    # the profile settings it reads (name -> tixcli.config.Setting), kept in a module of their own
    # so that the config is checked without importing this one
    from tixcli.backends.sqlite_settings import SETTINGS as settings

    max_comment_chars = 4_000_000  # tixcli's own bound for the local store: at most 16 MB of UTF-8

    def __init__(self, profile: Profile) -> None:
        super().__init__(profile)
        self.path = Path(os.environ.get("TIXCLI_DB") or profile.get("path") or default_db_path())
        self.path = self.path.expanduser()
        self.auto_close_days = profile.number("auto_close_days", 7)
        self.busy_timeout = profile.number("busy_timeout", 60)
        self._db: sqlite3.Connection | None = None
        self._writing = False
        self._store_id: str | None = None
        # the running export: its queries (for export_total), then its position
        self._export_plans: list[tuple[str, str, dict[str, Any]]] | None = None
        self._export_total: int | None = None
        self._export_position: str | None = None
        # the full-text index searched: the old one on a read-only store not yet migrated to it
        self._search_table = "ticket_words"

    # -- connection ---------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        # A read-only profile never creates anything: a missing store is an error there.
        created = not self.profile.get("read_only") and _private_store_file(self.path)
        read_only = bool(self.profile.get("read_only")) or (self.path.exists() and not os.access(self.path, os.W_OK))
        target = f"file:{quote(str(self.path))}?mode=ro" if read_only else str(self.path)
        try:
            db = sqlite3.connect(target, timeout=self.busy_timeout, isolation_level=None, uri=read_only)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from None
        with _store_errors(self.path):
            db.execute("PRAGMA foreign_keys = ON")
            version = self._check_identity(db)
            if not created:  # only a tixcli store is worth the warning; a foreign file is refused
                _warn_if_readable_by_others(self.path)
            if read_only:
                if LEGACY_READ_VERSION <= version < SCHEMA_VERSION:
                    self._read_as_it_is(db, version)
                elif version != SCHEMA_VERSION:
                    raise StoreError(f"the store {self.path} is read-only and needs a schema upgrade")
                self._install_policy(db)
                return db
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                try:
                    db.execute("PRAGMA journal_mode = WAL")
                except sqlite3.OperationalError:
                    pass  # a read-only store can still be read
            db.execute("PRAGMA synchronous = NORMAL")
            self._install_policy(db)  # before a migration: migration 6 sets targets by it
            if version != SCHEMA_VERSION:
                self._migrate(db)
        return db

    def _read_as_it_is(self, db: sqlite3.Connection, version: int) -> None:
        """A read-only store of an older schema (2 to 5), read as it is: the old search index (2),
        the columns and tables added since as their defaults or empty, through temporary views and
        tables (a temp object shadows the store's own for every query that names it)."""
        if version < 3:
            self._search_table = "ticket_search"
            warn(
                f"the store {self.path} is read-only and has the old search index: --search finds"
                " no CJK or Thai words and no prefixes until a writable tixcli upgrades it"
            )
        # the columns added since, as their defaults (a temp object shadows the store's own)
        added = [("'cli'", "channel", 4), ("'{}'", "fields", 4), ("NULL", "satisfaction", 5)]
        extra = ", ".join(f"{value} AS {name}" for value, name, since in added if version < since)
        if extra:
            db.execute(f"CREATE TEMP VIEW tickets AS SELECT *, {extra} FROM main.tickets")
        if version < 5:  # no clocks or escalations were kept yet
            db.execute(
                "CREATE TEMP TABLE ticket_sla (ticket_id, metric, started_at, paused_s, paused_since, met_at, "
                "target_s, target_at)"
            )
            db.execute(
                "CREATE TEMP TABLE escalations (id, ticket_id, stage, reason, eta, opened_at, closed_at, timeline)"
            )
        elif version < 6:  # clocks without their targets (set when a writable tixcli upgrades)
            db.execute(
                "CREATE TEMP VIEW ticket_sla AS SELECT *, NULL AS target_s, NULL AS target_at FROM main.ticket_sla"
            )

    def _install_policy(self, db: sqlite3.Connection) -> None:
        """The profile's SLA policy as a temporary table the writes set clocks' targets by."""
        from tixcli.sla import policy_from

        try:
            policy = policy_from(self.profile.get("sla"))
        except InvalidInputError as exc:
            raise ConfigError(f"profile {self.profile.name!r}: {exc.message}", hint=exc.hint) from None
        db.execute("CREATE TEMP TABLE IF NOT EXISTS sla_policy (priority TEXT, metric TEXT, seconds INTEGER)")
        db.execute("DELETE FROM temp.sla_policy")
        db.executemany(
            "INSERT INTO temp.sla_policy VALUES (?, ?, ?)",
            [
                (priority, metric, seconds)
                for priority, targets in policy.items()
                for metric, seconds in targets.items()
            ],
        )

    def _check_identity(self, db: sqlite3.Connection) -> int:
        """Refuse a file that is not a tixcli store, or one from a newer tixcli; returns its schema version.

        The three facts are read in one statement, i.e. one read transaction: read one by one,
        another process could commit the schema in between, and a new store would look foreign.
        """
        app_id, version, tables = db.execute(
            "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version),"
            " (SELECT count(*) FROM sqlite_master)"
        ).fetchone()
        if app_id == 0 and version == 0:
            if tables:
                raise StoreError(f"{self.path} is an SQLite file but not a tixcli store")
            return 0  # a new, empty file
        if app_id != APPLICATION_ID:
            raise StoreError(f"{self.path} is an SQLite file but not a tixcli store")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer tixcli (schema {version} > {SCHEMA_VERSION})",
                hint="upgrade tixcli",
            )
        return version

    def _migrate(self, db: sqlite3.Connection) -> None:
        marker = Path(f"{self.path}-migrating")
        with _migration_wait(self.path, marker, self.busy_timeout):
            db.execute("BEGIN IMMEDIATE")
        try:
            # Under the write lock, look again: another process may have migrated (or the file changed).
            version = self._check_identity(db)
            if version == SCHEMA_VERSION:
                db.execute("COMMIT")
                return
            with _marked(marker):  # tells the commands waiting meanwhile what they wait for
                progress = _MigrationProgress(version)
                for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                    for statement in _split_sql(script):
                        db.execute(statement)
                    if number in MIGRATION_STEPS:
                        MIGRATION_STEPS[number](db, progress)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")
                progress.finish()
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of the command or none of it (nested uses join the outer one)."""
        db = self.db
        if self._writing:
            yield db
            return
        with _store_errors(self.path):
            db.execute("BEGIN IMMEDIATE")
            self._writing = True
            try:
                self._auto_close(db)
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                self._writing = False

    def atomic(self) -> contextlib.AbstractContextManager[object]:
        """The core's look-then-write steps (dedupe, lifecycle checks) in one write transaction."""
        return self._write()

    @contextmanager
    def _read(self, close_wait: float = 1.0) -> Iterator[sqlite3.Connection]:
        """A read snapshot; applies due automatic closes first when the store is writable, waiting
        at most `close_wait` seconds for another tixcli's write lock."""
        db = self.db
        if self._writing:  # inside the core's atomic step: read what the transaction sees
            yield db
            return
        with _store_errors(self.path):
            self._auto_close_if_due(db, close_wait)
            db.execute("BEGIN")
            try:
                yield db
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")

    def shutdown(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- automatic close ------------------------------------------------------------------

    def _close_cutoff(self) -> str:
        return to_iso(utcnow() - timedelta(days=self.auto_close_days))

    def _auto_close(self, db: sqlite3.Connection) -> int:
        now, cutoff = to_iso(utcnow()), self._close_cutoff()
        due = [r[0] for r in db.execute("SELECT id FROM tickets WHERE status = 'solved' AND solved_at <= ?", (cutoff,))]
        for ticket_id in due:
            db.execute("UPDATE tickets SET status = 'closed', updated_at = ? WHERE id = ?", (now, ticket_id))
            self._history(
                db,
                ticket_id,
                "tixcli",
                "auto_close",
                {"from": "solved", "to": "closed", "after_days": self.auto_close_days},
            )
        return len(due)

    def _auto_close_if_due(self, db: sqlite3.Connection, wait: float = 1.0) -> None:
        # An indexed probe: reads pay for a write only when something is due.
        cutoff = self._close_cutoff()
        due = db.execute(
            "SELECT 1 FROM tickets WHERE status = 'solved' AND solved_at <= ? LIMIT 1", (cutoff,)
        ).fetchone()
        if not due:
            return
        # A read does not wait long for the write lock: the next command will close them.
        db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            db.execute("BEGIN IMMEDIATE")
            self._auto_close(db)
            db.execute("COMMIT")
        except sqlite3.OperationalError:
            if db.in_transaction:
                db.execute("ROLLBACK")  # read-only or busy store: the read goes on without it
        finally:
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    # -- reads ---------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        with self._read() as db:
            ticket = self._load(db, _int_id(ticket_id))
            ticket.comments = self._comments(db, [int(ticket.id)]).get(int(ticket.id), [])
            return ticket

    def state(self, ticket_id: str) -> TicketState:
        with self._read() as db:
            tid = _int_id(ticket_id)
            row = db.execute("SELECT status, requester FROM tickets WHERE id = ?", (tid,)).fetchone()
            if row is None:
                raise NotFoundError(f"ticket {tid} not found")
            return TicketState(row[0], row[1])

    query = Backend.list_from_stream  # the tickets query_stream gives, read into a list

    def query_stream(self, query: ListQuery) -> TicketStream:
        """The tickets of `query`, each made from its row as it is read, in one read snapshot kept
        open until the stream has been read to its end or is closed."""
        rows = self._query_rows(query)
        next(rows)  # opens the snapshot and starts the query: its errors come now, before any output
        return TicketStream(cast(Iterator[Ticket], rows))

    def _query_rows(self, query: ListQuery) -> Generator[Ticket | None, None, int | None]:
        """query_stream's rows: None once the query runs, then each ticket; returns how many match
        where `query.count` asks (counted in the same snapshot, after the last row)."""
        where: list[str] = []
        params: list[Any] = []
        if query.requester:
            where.append("t.requester = ?")
            params.append(query.requester)
        if query.assignee:
            where.append("t.assignee = ?")
            params.append(query.assignee)
        if query.statuses is not None:
            where.append(f"t.status IN ({','.join('?' * len(query.statuses))})")
            params.extend(query.statuses)
        for column, value in (("t.type", query.type), ("t.priority", query.priority)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if query.since:
            where.append("t.updated_at >= ?")
            params.append(to_iso(query.since))
        if query.created_since:
            where.append("t.created_at >= ?")
            params.append(to_iso(query.created_since))
        if query.group is not None:
            where.append("t.grp = ? COLLATE NOCASE")
            params.append(query.group)
        for tag in dict.fromkeys(query.tags):
            where.append("EXISTS (SELECT 1 FROM json_each(t.tags) WHERE value = ? COLLATE NOCASE)")
            params.append(tag)
        if query.channel is not None:
            where.append("t.channel = ?")
            params.append(query.channel)
        if query.breaching:
            where.append(f"EXISTS (SELECT 1 FROM ({SLA_STAGED}) WHERE stage = 'breached' AND met_at IS NULL)")
        if query.due_within is not None:
            where.append(
                f"EXISTS (SELECT 1 FROM ({SLA_STAGED}) WHERE stage = 'active' AND target <= unixepoch('now') + ?)"
            )
            params.append(int(query.due_within.total_seconds()))
        if query.escalated:
            where.append("EXISTS (SELECT 1 FROM escalations e WHERE e.ticket_id = t.id AND e.closed_at IS NULL)")
        for name, value in query.fields:  # the local store's fields are text
            where.append("EXISTS (SELECT 1 FROM json_each(t.fields) WHERE key = ? AND value = ? COLLATE NOCASE)")
            params.extend((name, value))
        order = {
            "updated": "t.updated_at DESC, t.id DESC",
            "created": "t.created_at DESC, t.id DESC",
            "priority": "t.priority_rank, t.updated_at DESC, t.id DESC",
        }[query.sort]
        if query.reverse:
            order = order.replace("DESC", "ASC").replace("priority_rank,", "priority_rank DESC,")
        with self._read() as db:
            if query.words:
                legacy = self._search_table != "ticket_words"
                match = fts_query(query.words) if legacy else match_query(query.words)
                where.append(self._search_clause(db, match))
                params.append(match)
            condition = " WHERE " + " AND ".join(where) if where else ""
            sql = f"SELECT {TICKET_SELECT} FROM tickets t{condition} ORDER BY {order} LIMIT ?"
            rows = db.execute(sql, [*params, query.limit])
            given = 0
            try:
                yield None
                for row in rows:
                    given += 1
                    yield self._ticket(row)
            finally:
                rows.close()
            if not query.count:
                return None
            if given < query.limit:  # fewer: they are all there is
                return given
            return db.execute(f"SELECT count(*) FROM tickets t{condition}", params).fetchone()[0]

    def _search_clause(self, db: sqlite3.Connection, match: str) -> str:
        """The cheaper of two plans, chosen by counting matches up to DENSE_MATCHES (a few ms)."""
        table = self._search_table
        count = db.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ? LIMIT ?)",
            (match, DENSE_MATCHES),
        ).fetchone()[0]
        if count >= DENSE_MATCHES:
            return f"EXISTS (SELECT 1 FROM {table} s WHERE s.rowid = t.id AND {table} MATCH ?)"
        return f"t.id IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)"

    def _export_rows(self, since: datetime | None, cursor: str | None, bulk: bool = False) -> Iterator[tuple[str, Any]]:
        """Every ticket as its public JSON, built by SQLite itself: fast, and constant memory;
        (cursor prefix, rows of (line, id, updated_at)) a chunk at a time.

        From one snapshot, whose last change N makes `export_position()` `seq:N`: an export from
        there gives exactly the changes after it. Each item's cursor resumes just after it, in a
        later snapshot: the rest of the tickets its export had to give that have not changed
        since, then everything that changed since (each ticket once, as it is now).
        Due automatic closes land before the snapshot: this waits for the write lock as long as a
        write would (then goes on without them: the close is a change the next export gives).
        """
        lo, hi, after = _parse_cursor(cursor) if cursor is not None else (0, None, 0)
        self._export_position = self._export_total = None
        with self._read(close_wait=self.busy_timeout) as db:
            (last,) = db.execute("SELECT coalesce(max(seq), 0) FROM ticket_changes").fetchone()
            if max(lo, hi or 0) > last:
                raise InvalidInputError(
                    f"the export cursor {str(cursor).strip()} is ahead of this store (its last change is seq:{last})",
                    hint="it comes from another store, or from a copy of this one restored from a backup: "
                    "export without it (a state file: move it away) to export everything",
                )
            # (lo, hi] past ticket `after`, then (hi, last] from the first ticket
            windows = [(lo, last, after)] if hi is None else [(lo, hi, after), (hi, last, 0)]
            extra, params = "", {}
            if since:
                params["since"] = to_iso(since)
                extra = " AND t.updated_at >= :since"
                # Where the tickets changed since then begin in the change order (through the
                # updated_at index): a recent --since reads a small window, not the whole store.
                (first,) = db.execute(
                    "SELECT min(c.seq) FROM tickets t CROSS JOIN ticket_changes c ON c.ticket_id = t.id "
                    "WHERE t.updated_at >= ?",
                    (params["since"],),
                ).fetchone()
                floor = first - 1 if first is not None else last
                windows = [(max(w_lo, floor), w_hi, w_after) for w_lo, w_hi, w_after in windows]
            plans = []
            for w_lo, w_hi, w_after in windows:
                if w_lo < w_hi:
                    plan = self._export_plan(db, w_lo, w_hi)
                    values = {**params, "lo": w_lo, "hi": w_hi, "after": w_after}
                    plans.append((plan + extra, EXPORT_ORDER[plan], values))
            self._export_plans = plans
            try:
                for plan, order, values in plans:
                    prefix = f"seq:{values['lo']}..{values['hi']}:id:"
                    if bulk:  # one query a batch, each going on past the last id of the one before
                        sql = f"{EXPORT_BULK}{plan}\n{order} LIMIT {EXPORT_CHUNK})"
                        while True:
                            blob, last_id, count = db.execute(sql, values).fetchone()
                            if not count:
                                break
                            yield prefix, (blob, last_id, count)
                            if count < EXPORT_CHUNK:
                                break
                            values = {**values, "after": last_id}
                        continue
                    rows = db.execute(f"{EXPORT_ROWS}{plan}\n{order}", values)
                    while chunk := rows.fetchmany(EXPORT_CHUNK):
                        yield prefix, chunk
            finally:
                self._export_plans = None
            self._export_position = f"seq:{last}"

    def export(self, since: datetime | None = None, cursor: str | None = None) -> Iterator[ExportItem]:
        """Every ticket as its public JSON, built by SQLite itself (see `_export_rows`)."""
        for prefix, chunk in self._export_rows(since, cursor):
            for line, number, updated_at in chunk:
                ticket_id = str(number)
                yield _Item(line, prefix + ticket_id, ticket_id, updated_at)

    export_batched = True

    def export_batches(self, since: datetime | None = None, cursor: str | None = None) -> Iterator[ExportBatch]:
        """`export` a few thousand lines at a time: what plain `tixcli export` writes."""
        for prefix, (blob, last_id, count) in self._export_rows(since, cursor, bulk=True):
            yield ExportBatch(blob, count, prefix + str(last_id))

    def _export_plan(self, db: sqlite3.Connection, lo: int, hi: int) -> str:
        """DENSE or SPARSE for the window (lo, hi]: counted up to a share of the tickets (a few ms)."""
        (top,) = db.execute("SELECT coalesce(max(id), 0) FROM tickets").fetchone()
        limit = max(SPARSE_MIN, top // SPARSE_SHARE)
        if hi - lo < limit:  # a window holds at most one change per seq
            return EXPORT_SPARSE
        (count,) = db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM ticket_changes WHERE seq > ? AND seq <= ? LIMIT ?)", (lo, hi, limit)
        ).fetchone()
        return EXPORT_SPARSE if count < limit else EXPORT_DENSE

    def export_position(self) -> str | None:
        """After an export that ran to its end: `seq:N`, N the last change its snapshot held."""
        return self._export_position

    @property
    def export_total(self) -> int | None:  # type: ignore[override]
        """The number of tickets the running export gives (counted when first asked: progress)."""
        if self._export_total is None and self._export_plans is not None:
            with _store_errors(self.path):
                self._export_total = sum(
                    self.db.execute(f"SELECT count(*) {plan}", values).fetchone()[0]
                    for plan, _, values in self._export_plans
                )
        return self._export_total

    def export_source(self) -> str:
        """`sqlite:<store id>`: the random id the store was given once (meta), wherever it is."""
        if self._store_id is None:
            with _store_errors(self.path):
                (self._store_id,) = self.db.execute("SELECT store_id FROM meta WHERE id = 1").fetchone()
        return f"{self.name}:{self._store_id}"

    # -- writes --------------------------------------------------------------------------

    def find_by_dedupe_key(self, key: str) -> list[str]:
        with self._read() as db:
            rows = db.execute("SELECT id FROM tickets WHERE external_id = ? AND status != 'closed' ORDER BY id", (key,))
            return [str(r[0]) for r in rows]

    def create_ticket(self, new: NewTicket) -> Ticket:
        with self._write() as db:
            now = to_iso(utcnow())
            cur = db.execute(
                "INSERT INTO tickets (subject, description, status, priority, type, requester, assignee, grp, tags, "
                "external_id, created_at, updated_at, priority_rank, channel, fields) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    new.subject,
                    new.body,
                    "new",
                    new.priority,
                    new.type,
                    new.requester,
                    new.assignee,
                    new.group,
                    json.dumps(new.tags),
                    new.dedupe_key,
                    now,
                    now,
                    PRIORITY_RANK[new.priority],
                    new.channel or "cli",
                    json.dumps({k: v for k, v in new.fields.items() if v is not None}, ensure_ascii=False),
                ),
            )
            ticket_id = cur.lastrowid
            assert ticket_id is not None
            db.execute(
                "INSERT INTO ticket_words (rowid, text) VALUES (?, ?)", (ticket_id, document((new.subject, new.body)))
            )
            self._add_comment(db, ticket_id, new.author, new.body, True, new.attachments, now, index=False)
            db.executemany(
                "INSERT INTO ticket_sla (ticket_id, metric, started_at) VALUES (?, ?, ?)",
                [(ticket_id, metric, now) for metric in ("first_reply", "resolution")],
            )
            self._sla_targets(db, ticket_id)
            self._history(
                db, ticket_id, new.author, "create", {"subject": new.subject, "channel": new.channel or "cli"}
            )
            self._change_cc(db, ticket_id, new.cc, actor=new.author)
            return self._load(db, ticket_id)

    def add_comment(self, ticket_id: str, reply: Reply, status: str) -> Ticket:
        with self._write() as db:
            tid = _int_id(ticket_id)
            current = self._status(db, tid)
            now = to_iso(utcnow())
            comment_id = self._add_comment(db, tid, reply.author, reply.body, reply.public, reply.attachments, now)
            self._sla_after_comment(db, tid, reply, now)
            self._sla_after_status(db, tid, current, status, now)
            self._history(db, tid, reply.author, "reply", _reply_detail(reply, comment_id))
            self._change_cc(db, tid, reply.cc, actor=reply.author)
            db.execute(
                "UPDATE tickets SET status = ?1, updated_at = ?2, "
                "solved_at = CASE WHEN ?1 IN ('solved', 'closed') THEN solved_at END WHERE id = ?3",
                (status, now, tid),
            )  # a reply that reopens a solved ticket leaves it without solved_at, as reopen does
            if status != current:
                self._history(db, tid, reply.author, "status", {"from": current, "to": status})
            return self._load(db, tid)

    def set_status(self, ticket_id: str, status: str, comment: Reply | None = None) -> Ticket:
        with self._write() as db:
            tid = _int_id(ticket_id)
            current = self._status(db, tid)
            now = to_iso(utcnow())
            actor = comment.author if comment else self.profile.user
            if comment:
                comment_id = self._add_comment(
                    db, tid, comment.author, comment.body, comment.public, comment.attachments, now
                )
                self._history(db, tid, actor, "reply", _reply_detail(comment, comment_id))
                self._change_cc(db, tid, comment.cc, actor=actor)
                self._sla_after_comment(db, tid, comment, now)
            self._sla_after_status(db, tid, current, status, now)
            # solved: stamped now; closed: kept (when it was solved); reopened: cleared
            db.execute(
                "UPDATE tickets SET status = ?1, updated_at = ?2, solved_at = CASE ?1 WHEN 'solved' THEN ?2 "
                "WHEN 'closed' THEN solved_at END WHERE id = ?3",
                (status, now, tid),
            )
            self._history(db, tid, actor, "status", {"from": current, "to": status})
            return self._load(db, tid)

    def update_fields(self, ticket_id: str, fields: dict[str, Any]) -> Ticket:
        """Set the fields the core named (it dropped the unchanged ones); one history row each."""
        with self._write() as db:
            tid = _int_id(ticket_id)
            old = self._load(db, tid)
            before = self._search_document(db, tid) if "subject" in fields else ""
            sets: list[str] = ["updated_at = ?"]
            params: list[Any] = [to_iso(utcnow())]
            for name, value in fields.items():
                if name == "fields":  # the custom fields named: set, or (None) removed
                    merged = {k: v for k, v in {**old.fields, **value}.items() if v is not None}
                    sets.append("fields = ?")
                    params.append(json.dumps(merged, ensure_ascii=False))
                    continue
                column = _EDIT_COLUMNS[name]  # KeyError: a field edit does not know (a bug in the core)
                sets.append(f"{column} = ?")
                params.append(json.dumps(list(value)) if name == "tags" else value)
                if name == "priority":
                    sets.append("priority_rank = ?")
                    params.append(PRIORITY_RANK[value])
            db.execute(f"UPDATE tickets SET {', '.join(sets)} WHERE id = ?", (*params, tid))
            if "subject" in fields:  # the search document holds the subject
                self._reindex(db, tid, before, self._search_document(db, tid))
            if "priority" in fields:  # the policy's targets follow the priority
                self._sla_targets(db, tid)
            for name, value in fields.items():
                if name == "fields":
                    for key, to in value.items():
                        self._history(
                            db, tid, self.profile.user, "field", {"field": key, "from": old.fields.get(key), "to": to}
                        )
                    continue
                self._history(
                    db, tid, self.profile.user, "edit", {"field": name, "from": getattr(old, name), "to": value}
                )
            return self._load(db, tid)

    def attachment_bytes(self, ticket_id: str, attachment: Attachment) -> Iterator[bytes]:
        """The stored blob, read in chunks (an attachment of another ticket is not found)."""
        tid = _int_id(ticket_id)
        row = None
        if attachment.id is not None and _ASCII_ID.fullmatch(attachment.id):
            with self._read() as db:
                row = db.execute(
                    "SELECT id, size FROM attachments WHERE id = ? AND ticket_id = ?", (int(attachment.id), tid)
                ).fetchone()
        if row is None:
            raise NotFoundError(f"ticket {tid} has no attachment {attachment.id!r}")
        return self._blob_chunks(row[0], row[1])

    def _blob_chunks(self, attachment_id: int, size: int) -> Iterator[bytes]:
        with _store_errors(self.path):
            if sys.version_info >= (3, 11):
                with self.db.blobopen("attachments", "data", attachment_id, readonly=True) as blob:
                    while chunk := blob.read(BLOB_CHUNK):
                        yield chunk
                return
            for offset in range(0, size, BLOB_CHUNK):  # Python 3.10: no incremental blob I/O
                (chunk,) = self.db.execute(
                    "SELECT substr(data, ?, ?) FROM attachments WHERE id = ?", (offset + 1, BLOB_CHUNK, attachment_id)
                ).fetchone()
                yield bytes(chunk)

    def change_cc(self, ticket_id: str, add: list[str], remove: list[str]) -> list[str]:
        with self._write() as db:
            tid = _int_id(ticket_id)
            self._status(db, tid)  # a missing ticket is "not found"
            self._change_cc(db, tid, add, remove, actor=self.profile.user)
            db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (to_iso(utcnow()), tid))
            return self._load(db, tid).cc

    # -- helpers -------------------------------------------------------------------------

    def _add_comment(
        self,
        db,
        tid: int,
        author: str,
        body: str,
        public: bool,
        files: list[FileUpload],
        now: str,
        index: bool = True,
    ) -> int:
        before = self._search_document(db, tid) if index else ""
        cur = db.execute(
            "INSERT INTO comments (ticket_id, author, body, public, created_at) VALUES (?,?,?,?,?)",
            (tid, author, body, int(public), now),
        )
        comment_id = cur.lastrowid
        if files:
            import hashlib
        for upload in files:
            data = upload.read()
            db.execute(
                "INSERT INTO attachments (comment_id, ticket_id, filename, size, content_type, sha256, data) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    comment_id,
                    tid,
                    upload.filename,
                    len(data),
                    upload.content_type,
                    hashlib.sha256(data).hexdigest(),
                    data,
                ),
            )
        db.execute(COMMENT_JSON_SQL + " WHERE id = ?", (comment_id,))
        if index:
            self._reindex(db, tid, before, before + "\n" + index_text(body))
        return comment_id

    def _search_document(self, db, tid: int) -> str:
        """The ticket's search document as the index holds it (sqlite_search.document)."""
        (subject,) = db.execute("SELECT subject FROM tickets WHERE id = ?", (tid,)).fetchone()
        bodies = [r[0] for r in db.execute("SELECT body FROM comments WHERE ticket_id = ? ORDER BY id", (tid,))]
        return document((subject, *bodies))

    def _reindex(self, db, tid: int, old: str, new: str) -> None:
        """Replace a ticket's search document: a contentless index forgets a document only when
        told the text it was indexed with."""
        db.execute("INSERT INTO ticket_words (ticket_words, rowid, text) VALUES ('delete', ?, ?)", (tid, old))
        db.execute("INSERT INTO ticket_words (rowid, text) VALUES (?, ?)", (tid, new))

    def _change_cc(self, db, tid: int, add: list[str], remove: Sequence[str] = (), actor: str | None = None) -> None:
        """Add and remove CCs; a change is one "cc" history row (the lists before and after)."""
        if not add and not remove:
            return
        (before,) = db.execute("SELECT cc FROM tickets WHERE id = ?", (tid,)).fetchone()
        db.executemany("INSERT OR IGNORE INTO ticket_cc (ticket_id, email) VALUES (?, ?)", [(tid, e) for e in add])
        db.executemany("DELETE FROM ticket_cc WHERE ticket_id = ? AND email = ?", [(tid, e) for e in remove])
        db.execute(
            "UPDATE tickets SET cc = (SELECT json_group_array(email) FROM "
            "(SELECT email FROM ticket_cc WHERE ticket_id = ?1 ORDER BY email)) WHERE id = ?1",
            (tid,),
        )
        (after,) = db.execute("SELECT cc FROM tickets WHERE id = ?", (tid,)).fetchone()
        if actor is not None and after != before:
            detail = {"add": list(add), "remove": list(remove), "from": json.loads(before), "to": json.loads(after)}
            self._history(db, tid, actor, "cc", detail)

    # -- SLA clocks, escalations, ratings -----------------------------------------------------

    def _sla_after_comment(self, db, tid: int, reply: Reply, now: str) -> None:
        """The first public comment from someone other than the requester meets the first reply."""
        if not reply.public:
            return
        db.execute(
            "UPDATE ticket_sla SET met_at = ?1 WHERE ticket_id = ?2 AND metric = 'first_reply' AND met_at IS NULL "
            "AND ?3 IS NOT (SELECT requester FROM tickets WHERE id = ?2)",
            (now, tid, reply.author),
        )

    def _sla_after_status(self, db, tid: int, old: str, new: str, now: str) -> None:
        """Pending and hold pause the running clocks; leaving them resumes them (the pause is
        added to the cycle); solving or closing meets the resolution; a reopen starts its next
        cycle."""
        paused = ("pending", "hold")
        if old == new:
            return
        if old in paused:
            db.execute(
                "UPDATE ticket_sla SET paused_s = paused_s + max(0, unixepoch(?1) - unixepoch(paused_since)), "
                "paused_since = NULL WHERE ticket_id = ?2 AND paused_since IS NOT NULL",
                (now, tid),
            )
        if new in paused:
            db.execute(
                "UPDATE ticket_sla SET paused_since = ? WHERE ticket_id = ? AND met_at IS NULL "
                "AND paused_since IS NULL",
                (now, tid),
            )
        if new in ("solved", "closed"):
            db.execute(
                "UPDATE ticket_sla SET met_at = ? WHERE ticket_id = ? AND metric = 'resolution' AND met_at IS NULL",
                (now, tid),
            )
        elif old in ("solved", "closed"):
            db.execute(
                "UPDATE ticket_sla SET started_at = ?, paused_s = 0, paused_since = NULL, met_at = NULL "
                "WHERE ticket_id = ? AND metric = 'resolution'",
                (now, tid),
            )
        self._sla_targets(db, tid)

    def _sla_targets(self, db, tid: int) -> None:
        """The ticket's clocks' targets by the profile's policy (after a start, pause, resume or a
        new priority: a read only compares them with the time)."""
        db.execute(SLA_TARGET_SQL + " WHERE s.ticket_id = ?", (tid,))
        db.execute(SLA_TARGET_ISO_SQL + " WHERE ticket_id = ?", (tid,))

    def escalation_stages(self) -> tuple[str, ...]:
        stages = self.profile.get("escalation_stages")
        return tuple(stages) if stages else super().escalation_stages()

    def open_escalation(self, ticket_id: str, reason: str, eta: str | None) -> Ticket:
        with self._write() as db:
            tid = _int_id(ticket_id)
            self._status(db, tid)
            now = to_iso(utcnow())
            stage = self.escalation_stages()[0]
            cur = db.execute(
                "INSERT INTO escalations (ticket_id, stage, reason, eta, opened_at, timeline) VALUES (?,?,?,?,?,?)",
                (tid, stage, reason, eta, now, json.dumps([{"stage": stage, "at": now}])),
            )
            detail = {"id": f"CP-{cur.lastrowid}", "from": None, "to": stage, "reason": reason, "eta": eta}
            self._history(db, tid, self.profile.user, "escalate", detail)
            db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (now, tid))
            return self._load(db, tid)

    def move_escalation(self, ticket_id: str, stage: str, eta: str | None) -> Ticket:
        with self._write() as db:
            tid = _int_id(ticket_id)
            row = db.execute(
                "SELECT id, stage, eta, timeline FROM escalations WHERE ticket_id = ? AND closed_at IS NULL", (tid,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"ticket {tid} has no open escalation")
            eid, old, old_eta, timeline = row
            now = to_iso(utcnow())
            steps = json.loads(timeline)
            if stage != old:
                steps.append({"stage": stage, "at": now})
            final = stage == self.escalation_stages()[-1]
            db.execute(
                "UPDATE escalations SET stage = ?, eta = ?, timeline = ?, closed_at = ? WHERE id = ?",
                (stage, eta if eta is not None else old_eta, json.dumps(steps), now if final else None, eid),
            )
            detail = {"id": f"CP-{eid}", "from": old, "to": stage, "eta": eta if eta is not None else old_eta}
            self._history(db, tid, self.profile.user, "escalate", detail)
            db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (now, tid))
            return self._load(db, tid)

    def set_rating(self, ticket_id: str, rating: str | int, comment: str | None) -> Ticket:
        with self._write() as db:
            tid = _int_id(ticket_id)
            (before,) = db.execute("SELECT satisfaction FROM tickets WHERE id = ?", (tid,)).fetchone()
            now = to_iso(utcnow())
            value = {"rating": rating, "comment": comment, "rated_at": now}
            # closed is final for the thread and the status, not for the rating (the portal's
            # feedback button shows after close): only this column and updated_at change
            db.execute(
                "UPDATE tickets SET satisfaction = ?, updated_at = ? WHERE id = ?",
                (json.dumps(value, ensure_ascii=False), now, tid),
            )
            old = json.loads(before)["rating"] if before else None
            self._history(db, tid, self.profile.user, "rate", {"from": old, "to": rating, "comment": comment})
            return self._load(db, tid)

    # -- history -------------------------------------------------------------------------

    def history(self, ticket_id: str) -> list[HistoryEvent]:
        return self.histories([ticket_id])[str(_int_id(ticket_id))]

    def histories(self, ticket_ids: list[str]) -> dict[str, list[HistoryEvent]]:
        """The history table's rows of each ticket (one query a chunk), as events."""
        wanted = sorted({_int_id(t) for t in ticket_ids})
        result: dict[str, list[HistoryEvent]] = {}
        with self._read() as db:
            for at in range(0, len(wanted), 500):
                chunk = wanted[at : at + 500]
                marks = ",".join("?" * len(chunk))
                requesters = dict(db.execute(f"SELECT id, requester FROM tickets WHERE id IN ({marks})", chunk))
                missing = [t for t in chunk if t not in requesters]
                if missing:
                    raise NotFoundError(f"ticket {missing[0]} not found")
                rows: dict[int, list[tuple]] = {t: [] for t in chunk}
                for row in db.execute(
                    f"SELECT ticket_id, at, actor, action, detail FROM history WHERE ticket_id IN ({marks}) "
                    "ORDER BY ticket_id, id",
                    chunk,
                ):
                    rows[row[0]].append(row[1:])
                for tid, found in rows.items():
                    result[str(tid)] = history_events(found, requesters[tid])
        return result

    def _history(self, db, tid: int, actor: str | None, action: str, detail: dict) -> None:
        db.execute(
            "INSERT INTO history (ticket_id, at, actor, action, detail) VALUES (?,?,?,?,?)",
            (tid, to_iso(utcnow()), actor, action, json.dumps(detail)),
        )

    def _status(self, db, tid: int) -> str:
        row = db.execute("SELECT status FROM tickets WHERE id = ?", (tid,)).fetchone()
        if row is None:
            raise NotFoundError(f"ticket {tid} not found")
        return row[0]

    def _load(self, db, tid: int) -> Ticket:
        row = db.execute(f"SELECT {TICKET_SELECT} FROM tickets t WHERE t.id = ?", (tid,)).fetchone()
        if row is None:
            raise NotFoundError(f"ticket {tid} not found")
        return self._ticket(row)

    def _ticket(self, row: tuple) -> Ticket:
        (
            tid,
            subject,
            description,
            status,
            priority,
            type_,
            requester,
            assignee,
            grp,
            tags,
            external_id,
            created_at,
            updated_at,
            solved_at,
            cc,
            channel,
            fields,
            sla,
            escalation,
            satisfaction,
        ) = row
        return Ticket(
            id=str(tid),
            backend=self.name,
            subject=subject,
            description=description,
            status=status,
            raw_status=status,
            priority=priority,
            type=type_,
            raw_type=type_,
            requester=requester,
            assignee=assignee,
            group=grp,
            channel=channel,
            cc=[] if cc == "[]" else json.loads(cc),  # most have none: no parser needed
            tags=[] if tags == "[]" else json.loads(tags),
            fields={} if fields == "{}" else json.loads(fields),
            sla=None if sla is None else json.loads(sla),
            escalation=None if escalation is None else json.loads(escalation),
            satisfaction=None if satisfaction is None else json.loads(satisfaction),
            external_id=external_id,
            created_at=created_at,
            updated_at=updated_at,
            solved_at=solved_at,
            url=None,
        )

    def _comments(self, db, ids: list[int]) -> dict[int, list[Comment]]:
        """The threads of a run of tickets, in two range queries (ids are ascending)."""
        result: dict[int, list[Comment]] = {}
        if not ids:
            return result
        lo, hi = min(ids), max(ids)
        wanted = set(ids)
        by_comment: dict[int, Comment] = {}
        for cid, tid, author, body, public, created_at in db.execute(
            "SELECT id, ticket_id, author, body, public, created_at FROM comments "
            "WHERE ticket_id BETWEEN ? AND ? ORDER BY ticket_id, id",
            (lo, hi),
        ):
            if tid in wanted:
                comment = Comment(str(cid), author, body, bool(public), created_at, [])
                by_comment[cid] = comment
                result.setdefault(tid, []).append(comment)
        for aid, cid, filename, size, ctype, sha in db.execute(
            "SELECT id, comment_id, filename, size, content_type, sha256 FROM attachments "
            "WHERE ticket_id BETWEEN ? AND ? ORDER BY id",
            (lo, hi),
        ):
            if cid in by_comment:
                by_comment[cid].attachments.append(Attachment(str(aid), filename, size, ctype, sha))
        return result


def _reply_detail(reply: Reply, comment_id: int) -> dict[str, Any]:
    return {
        "public": reply.public,
        "comment_id": str(comment_id),
        "attachments": [f.filename for f in reply.attachments],
    }


# The history table's one vocabulary of actions (`detail` is JSON):
#   create      {subject, channel}                    -> created
#   reply       {public, comment_id, attachments}     -> comment (+ one attachment event a file)
#   status      {from, to}                            -> status
#   auto_close  {from, to, after_days}, actor tixcli  -> status, by automatic
#   edit        {field, from, to}                     -> subject, priority, type, group, ...
#   field       {field, from, to}                     -> field (a custom field)
#   cc          {add, remove, from, to}               -> cc (from/to: the lists; before schema 4 none)


def history_events(rows: list[tuple], requester: str | None) -> list[HistoryEvent]:
    """A ticket's history rows (at, actor, action, detail JSON) as events.

    Who: the requester (as they were then: an edit of the requester moves it), "automatic" for
    tixcli's own automatic close, an agent for everyone else. Rows written before tixcli recorded
    old values (edits, CCs before schema 4) have `old` null.
    """
    # the first requester: the "from" of the first requester edit, if there was one
    current = requester
    for _, _, action, detail in rows:
        data = _detail(detail)
        if action == "edit" and data.get("field") == "requester":
            current = data.get("from")
            break
    events: list[HistoryEvent] = []
    for at, actor, action, detail in rows:
        data = _detail(detail)
        by = "automatic" if action == "auto_close" else "requester" if actor and actor == current else "agent"
        if action == "edit":
            name = str(data.get("field"))
            change = (
                name if name in ("subject", "priority", "type", "group", "requester", "assignee", "tags") else "other"
            )
            events.append(HistoryEvent(at, change, actor, by, old=data.get("from"), new=data.get("to")))
            if name == "requester":
                current = data.get("to")
        elif action == "field":
            events.append(
                HistoryEvent(
                    at, "field", actor, by, field=str(data.get("field")), old=data.get("from"), new=data.get("to")
                )
            )
        elif action == "create":
            detail_out = {"channel": data["channel"]} if data.get("channel") else {}
            events.append(HistoryEvent(at, "created", actor, by, new=data.get("subject"), detail=detail_out))
        elif action == "reply":
            comment: dict[str, Any] = {k: data[k] for k in ("comment_id", "public") if k in data}
            events.append(HistoryEvent(at, "comment", actor, by, detail=comment))
            for name in data.get("attachments") or []:
                events.append(
                    HistoryEvent(at, "attachment", actor, by, new=name, detail={"comment_id": data.get("comment_id")})
                )
        elif action == "cc":
            extra: dict[str, Any] = {k: data[k] for k in ("add", "remove") if k in data}
            events.append(HistoryEvent(at, "cc", actor, by, old=data.get("from"), new=data.get("to"), detail=extra))
        elif action == "escalate":
            extra = {k: data[k] for k in ("id", "reason", "eta") if k in data}
            events.append(
                HistoryEvent(at, "escalation", actor, by, old=data.get("from"), new=data.get("to"), detail=extra)
            )
        elif action == "rate":
            note = {"comment": data.get("comment")}
            events.append(HistoryEvent(at, "rating", actor, by, old=data.get("from"), new=data.get("to"), detail=note))
        elif action in ("status", "auto_close"):
            closing = {"after_days": data["after_days"]} if "after_days" in data else {}
            events.append(
                HistoryEvent(at, "status", actor, by, old=data.get("from"), new=data.get("to"), detail=closing)
            )
        else:
            events.append(HistoryEvent(at, "other", actor, by, detail={"action": action, **data}))
    return events


def _detail(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def fts_query(words: tuple[str, ...] | list[str]) -> str:
    """Search words → a query of the old index (schema 2, read-only stores): each word required,
    quoted (no operator)."""
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words)


_ASCII_ID = re.compile(r"[0-9]{1,18}")


def _parse_cursor(cursor: str) -> tuple[int, int | None, int]:
    """An export cursor → (lo, hi or None, after): see _CURSOR."""
    match = _CURSOR.fullmatch(str(cursor).strip())
    if match is None or (match.group(2) is not None and int(match.group(2)) < int(match.group(1))):
        shown = str(cursor)[:60].encode("ascii", "backslashreplace").decode()
        raise InvalidInputError(
            f"not an sqlite export cursor: {shown!r}",
            hint="give the token a `resume: --cursor=...` line printed (seq:N, or seq:N..M:id:K)",
        )
    lo, hi, after = match.groups()
    return int(lo), None if hi is None else int(hi), int(after or 0)


def _int_id(ticket_id: str) -> int:
    text = str(ticket_id).strip().lstrip("#")
    if not _ASCII_ID.fullmatch(text):  # str.isdigit() takes '²' and '١' too
        raise NotFoundError(f"ticket {ticket_id!r} not found", hint="sqlite ticket ids are numbers")
    return int(text)


def _private_store_file(path: Path) -> bool:
    """Create the store's folders (0700) and file (0600) whatever the umask; True if we made the file.

    SQLite gives the -wal and -shm files the mode of the database file, so they stay private too.
    A folder or file that already exists keeps its mode: tixcli changes only what it created.
    """
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    try:
        for created in reversed(missing):
            try:
                os.mkdir(created, 0o700)
            except FileExistsError:
                continue  # another tixcli made it at the same moment
            os.chmod(created, 0o700)  # the umask may have taken bits off
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        if path.exists():
            return False
        raise StoreError(f"cannot create the store {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return True


def _warn_if_readable_by_others(path: Path) -> None:
    """An existing store that group or others can read: say so (once: a run opens the store once)."""
    readable = []
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = candidate.stat().st_mode
        except OSError:
            continue
        if mode & 0o044:
            readable.append(f"{candidate.name} ({stat.filemode(mode)})")
    if readable:
        warn(
            f"the store {path} can be read by other local users: {', '.join(readable)}; "
            f"fix: chmod 600 '{path}'*  (and chmod 700 its folder)"
        )


def _prefixed(columns: str) -> str:
    return ", ".join(f"t.{c.strip()}" for c in columns.split(","))


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (sqlite3.executescript would commit on its own)."""
    statements, buf = [], []
    for line in script.splitlines(keepends=True):
        buf.append(line)
        if sqlite3.complete_statement("".join(buf)):
            statements.append("".join(buf).strip())
            buf = []
    return [s for s in statements if s]


@contextmanager
def _store_errors(path: Path) -> Iterator[None]:
    """SQLite's errors → tixcli's: busy → exit 8, unusable store → exit 9."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise UnavailableError(
                f"the store {path} stayed busy (locked by another tixcli) and the wait ran out",
                hint="try again; raise busy_timeout in the profile if this keeps happening",
            ) from None
        if "readonly" in text or "read-only" in text:
            raise StoreError(f"the store {path} is read-only") from None
        if "disk is full" in text or "disk i/o" in text:
            raise StoreError(f"cannot write the store {path}: disk full or I/O error") from None
        if "unable to open" in text:
            raise StoreError(f"cannot open the store {path}") from None
        raise StoreError(f"store error in {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:  # not a database, malformed image, ...
        raise StoreError(
            f"the store {path} is unusable: {exc}", hint="move it aside; tixcli will start a new one"
        ) from None


# The oldest schema a read-only store is read at as it is (2: the change order of `export --state`;
# its old search index and the columns added since stand in, see _read_as_it_is).
LEGACY_READ_VERSION = 2
# Below this many tickets an upgrade is quick: no progress line.
PROGRESS_FROM = 20_000


class _MigrationProgress:
    """`progress(done, total)` of a migration's Python step: one line on stderr, rewritten in
    place, when stderr is a terminal and the store is big enough for it to matter."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.shown = False
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.tty or total < PROGRESS_FROM:
            return
        self.shown = True
        sys.stderr.write(
            f"\rtixcli: upgrading the store (schema {self.version} to {SCHEMA_VERSION}), search index:"
            f" {done:,} of {total:,} tickets ({100 * done // max(total, 1)}%)\x1b[K"
        )
        sys.stderr.flush()

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


@contextmanager
def _marked(marker: Path) -> Iterator[None]:
    """A file beside the store naming the process that migrates it, for as long as it does."""
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"{os.getpid()} {to_iso(utcnow())}\n")
    except OSError:
        pass  # only a hint for the others: the migration goes on without it
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            marker.unlink()


def _migrator(marker: Path) -> tuple[int, str] | None:
    """The live process a migration marker names, and since when; None if there is none."""
    try:
        pid_text, since = marker.read_text().split()[:2]
        pid = int(pid_text)
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None  # no marker, a stale one (the process is gone), or not ours to read
    return pid, since


@contextmanager
def _migration_wait(path: Path, marker: Path, timeout: float) -> Iterator[None]:
    """Waiting for the write lock to migrate: say what is waited for when another tixcli is
    migrating the store, and when the wait runs out, exit 8 saying so."""
    running = _migrator(marker)
    if running is not None and sys.stderr.isatty():
        warn(f"another tixcli (pid {running[0]}) is upgrading the store {path}: waiting up to {timeout:g} s")
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" not in text and "busy" not in text:
            raise
        running = _migrator(marker)
        if running is not None:
            raise UnavailableError(
                f"the store {path} is being upgraded by another tixcli (pid {running[0]}, since {running[1]})"
                f" and the wait of {timeout:g} s ran out",
                hint="a big store's upgrade takes minutes, once: try again when it has finished",
            ) from None
        raise UnavailableError(
            f"the store {path} stayed busy (locked by another tixcli) and the wait ran out",
            hint="try again; raise busy_timeout in the profile if this keeps happening",
        ) from None
