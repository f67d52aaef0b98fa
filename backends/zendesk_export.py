"""`export` on Zendesk: every ticket with its whole thread, streamed, resumable, and exact for
`export --state`.

With an admin token, two incremental exports (10 requests a minute between them: HttpClient
waits out their 429s within the export's own budget, `export_retry_budget`):

1. The ticket events since the start (`incremental/ticket_events` with `include=comment_events`:
   time-based, 1,000 a page, each page from the previous one's `end_time`) go first into a spool,
   a private temporary SQLite file deleted when it is closed: 100,000 tickets' comments never sit
   in memory. The last page's `end_time` is the horizon: every comment made up to then is in it
   (live Zendesk leaves out the last minute, and moves end_time on to account for it: a second
   it reports is complete).
2. Then the tickets (`incremental/tickets/cursor`, 1,000 a page, users, groups and metric sets
   side-loaded). A ticket's thread comes from the spool when the events hold all of it: the
   ticket was created at or after the events' start (a later run's start: older tickets have
   comments from before it), it last changed no later than the horizon (else it changed after
   the events were read), and the spool holds at least its `comment_count`. Every other ticket
   gets one comments call, as does each ticket of an agent's export. Comment authors the ticket
   pages did not side-load are looked up once per page (show_many, 100 a call).

Requests for a full export of N tickets with E ticket events (about one per change; a ticket
with 3 comments has 3) and U comment authors named on no ticket: ceil(N/1000) ticket pages,
ceil(E/1000) event pages and a few more (each event page starts again at the second the one
before ended in), ceil(U/100) lookups. A later run: the same for what changed since, plus one
comments call per changed ticket created before the previous run. An agent (403 on the
incremental exports) exports through the search export (cursor-paged, 1,000 a page) with one
comments call per ticket, and gets no position (`export --state` overlaps instead: the search
index lags by minutes).

Deleted tickets (the incremental export lists them with status `deleted`) come as tombstones.

`export --with-history` (the core's export_with_history sets `export_history` before the
export begins): an admin's export keeps every ticket event, as an audit, in the spool too, and
marks each ticket whose whole history the events hold (as for its thread: created at or after
the events' start, last changed by the horizon); `histories` reads those from the spool (the
spool stays open after the last ticket for the core's last chunk, closed at shutdown): no
request beyond the export's own but the look-up of people the tickets did not name (show_many,
100 a call). Every other ticket's history is its audits (one call a ticket, 100 audits a page),
as is every ticket's of an agent's export. The ticket events give a rule's id, not its title.

A ticket changed after this run wrote it comes again at the end of the stream. One run writes a
ticket once: the new version is left to the next run, which reads such tickets first, by id
(`r` in the position, show_many). From the first of them on, every resume token points just
before it, so that a resumed run sees it again (and repeats what followed it: a duplicate, never
a gap).

The resume token is base64 JSON holding everything needed to resume right after a ticket: the
mode, the `since` start, the cursor that fetched the ticket's page and how many of the page's
tickets were done (or the next page's cursor once a page is finished), and the events' start
(`e`). After the end of the stream, `export_position` is the same with the next page's cursor,
the horizon as the events' start (the next run reads from there) and the tickets left to it.

It uses only the backend's public interface (see ZendeskBackend's docstring): `read` (a GET
through the error table), `records`, `absorb` (side-loads into the caches), `resolve_people`,
`resolve_users`, `ticket_from`, `comments`, `comment_from`, `export_end`, `with_slas` and
`complete_escalation`.

SLA, escalations, ratings (issue 16): the incremental export and show_many side-load `slas`; an
agent's search export reads them with show_many (100 a request: ten a page of 1,000). An
escalated ticket costs two requests more (its problem ticket, its audits: the timeline).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tixcli.backends import remote
from tixcli.backends.base import ExportItem
from tixcli.backends.zendesk import audit_from_ticket_event
from tixcli.errors import AuthError, InvalidInputError, UnavailableError
from tixcli.model import from_epoch, parse_iso

if TYPE_CHECKING:
    from tixcli.backends.zendesk import ZendeskBackend

API = "/api/v2"
EXPORT_PAGE = 1000  # the largest page both ticket export endpoints allow
# Pages in a row that bring nothing not exported yet (tickets changed during the export come
# again at the end of the stream) before the export is taken for a server paging for ever.
STALE_PAGES = 10
CURSOR_MAX = 2048  # a page cursor goes into the resume token: a longer one is a malformed answer
INCREMENTAL, SEARCH = "incremental", "search"
COMMENT_EVENTS = ("Comment", "VoiceComment")  # the child events that are comments of the thread
LATEST_TIME = 2**40  # an epoch time past this (year 36812) is a malformed answer


def export(backend: ZendeskBackend, since: datetime | None, cursor: str | None) -> Iterator[ExportItem]:
    if cursor and since is not None:
        raise InvalidInputError("--since and --cursor cannot be combined: the cursor holds its own start")
    if cursor:
        state = decode_cursor(cursor)
    else:
        start = _start_time(since)
        state = {"m": None, "s": start, "c": None, "i": 0, "e": start}
    backend.export_end = None
    return _Export(backend, state).items()


class IdSet:
    """A set of numeric ticket ids (checked by service_id) that costs by how many there are and
    how dense they are, never by their magnitude.

    Zendesk numbers an account's tickets 1, 2, 3...: ids come in dense blocks of 65,536, kept as
    bitmaps (8 KB a block, 1M tickets about 125 KB). The first ids of a block, and ids in sparse
    blocks, are kept in a plain set: a hostile id like 10**19 costs one set entry, not 10**18 bytes.
    """

    BLOCK_BITS = 16
    DENSE = 64  # ids in a block before it gets a bitmap (64 set entries cost about half of one)

    def __init__(self) -> None:
        self.loose: set[int] = set()
        self.counts: dict[int, int] = {}
        self.bitmaps: dict[int, bytearray] = {}

    def add(self, ticket_id: str) -> bool:
        """Add the id; False when it was there already."""
        n = int(ticket_id)
        block, offset = n >> self.BLOCK_BITS, n & ((1 << self.BLOCK_BITS) - 1)
        bitmap = self.bitmaps.get(block)
        if n in self.loose:
            return False
        if bitmap is not None:
            byte, bit = divmod(offset, 8)
            if bitmap[byte] >> bit & 1:
                return False
            bitmap[byte] |= 1 << bit
            return True
        self.loose.add(n)
        count = self.counts.get(block, 0) + 1
        if count >= self.DENSE:
            self.counts.pop(block, None)
            self.bitmaps[block] = bytearray(1 << (self.BLOCK_BITS - 3))  # later ids of the block go here
        else:
            self.counts[block] = count
        return True


class Spool:
    """The export's scratch space on disk: a private temporary SQLite database (SQLite deletes
    it when the connection closes). It holds the comments read from the ticket events, the ids
    of those events (what a page brought that is new), and each written ticket's updated_at
    (whether a ticket that comes again changed). Ids are kept as text: Zendesk's go up to 20
    digits, past SQLite's integers."""

    CHUNK = 500  # ids per `IN (...)`: below every SQLite's limit on parameters

    def __init__(self) -> None:
        self.db = sqlite3.connect("", isolation_level=None)
        self.db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -8192;
            CREATE TABLE comments (key TEXT PRIMARY KEY, ticket TEXT NOT NULL, created TEXT NOT NULL,
                                   author TEXT, raw TEXT NOT NULL);
            CREATE INDEX comments_by_ticket ON comments (ticket, created, key);
            CREATE TABLE events (id TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TABLE written (ticket TEXT PRIMARY KEY, updated TEXT) WITHOUT ROWID;
            CREATE TABLE history (key TEXT PRIMARY KEY, ticket TEXT NOT NULL, created TEXT NOT NULL,
                                  raw TEXT NOT NULL);
            CREATE INDEX history_by_ticket ON history (ticket, created, key);
            CREATE TABLE whole (ticket TEXT PRIMARY KEY, requester TEXT) WITHOUT ROWID;
            """
        )
        self.db.execute("BEGIN")  # one transaction for the run: nothing is kept past it anyway

    def close(self) -> None:
        self.db.close()

    def add_events(self, event_ids: list[str], comments: list[tuple]) -> bool:
        """Keep a page of events; True when one of them was not there yet."""
        before = self.db.total_changes
        self.db.executemany("INSERT OR IGNORE INTO events VALUES (?)", [(i,) for i in event_ids])
        fresh = self.db.total_changes > before
        # A comment that comes again (the page boundary's second) replaces itself.
        self.db.executemany("INSERT OR REPLACE INTO comments VALUES (?, ?, ?, ?, ?)", comments)
        return fresh

    def add_history(self, audits: list[tuple]) -> None:
        """Keep a page of ticket events as audits (one that comes again replaces itself)."""
        self.db.executemany("INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?)", audits)

    def mark_whole(self, ticket: str, requester: int | None) -> None:
        """The events hold this ticket's whole history (`history` gives it)."""
        self.db.execute(
            "INSERT OR REPLACE INTO whole VALUES (?, ?)", (ticket, None if requester is None else str(requester))
        )

    def history(self, ticket: str) -> tuple[list[dict], int | None] | None:
        """A ticket's audits, oldest first, and its requester, where the events hold them all."""
        row = self.db.execute("SELECT requester FROM whole WHERE ticket = ?", (ticket,)).fetchone()
        if row is None:
            return None
        rows = self.db.execute("SELECT raw FROM history WHERE ticket = ? ORDER BY created, key", (ticket,))
        return [json.loads(raw) for (raw,) in rows], None if row[0] is None else int(row[0])

    def _chunks(self, ids: list[str]) -> Iterator[tuple[str, list[str]]]:
        for start in range(0, len(ids), self.CHUNK):
            chunk = ids[start : start + self.CHUNK]
            yield ",".join("?" * len(chunk)), chunk

    def counts(self, tickets: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for marks, chunk in self._chunks(tickets):
            query = f"SELECT ticket, COUNT(*) FROM comments WHERE ticket IN ({marks}) GROUP BY ticket"
            found.update(self.db.execute(query, chunk))
        return found

    def authors(self, tickets: list[str]) -> set[str]:
        found: set[str] = set()
        for marks, chunk in self._chunks(tickets):
            query = f"SELECT DISTINCT author FROM comments WHERE ticket IN ({marks}) AND author IS NOT NULL"
            found.update(row[0] for row in self.db.execute(query, chunk))
        return found

    def comments(self, ticket: str) -> Iterator[dict]:
        """The ticket's comments, oldest first (as its comments endpoint lists them)."""
        rows = self.db.execute("SELECT raw FROM comments WHERE ticket = ? ORDER BY created, key", (ticket,))
        for (raw,) in rows:
            yield json.loads(raw)

    def write(self, ticket: str, updated: str | None) -> None:
        """Record the version of a ticket the export writes."""
        self.db.execute("INSERT OR REPLACE INTO written VALUES (?, ?)", (ticket, updated))

    def rewrite(self, ticket: str, updated: str | None) -> bool:
        """A ticket that comes again: record this version; False when it is the one written."""
        row = self.db.execute("SELECT updated FROM written WHERE ticket = ?", (ticket,)).fetchone()
        if row is not None and row[0] == updated:
            return False
        self.write(ticket, updated)
        return True


class _Export:
    """One run of the export, from a fresh start or a resume token (see the module docstring)."""

    def __init__(self, backend: ZendeskBackend, state: dict) -> None:
        self.backend = backend
        self.mode: str | None = state["m"]
        self.start: int = state["s"]
        self.page_cursor: str | None = state["c"]
        self.skip: int = state["i"]
        self.last_id: int | None = state.get("t")
        # Where the events this run reads begin (None: no events, each thread by its own call:
        # a search export, or a token from before the events were read).
        self.events_from: int | None = state.get("e")
        # Tickets the previous run saw change after it had written them: read first, by id.
        self.redo: list[str] = [str(t) for t in state.get("r") or []]
        self.horizon: int | None = None  # the events are complete up to this time (epoch)
        self.latest = self.start  # the latest updated_at written (the next events' start without events)
        self.spool: Spool  # opened when the export begins, closed when it ends (or is dropped)
        self.seen = IdSet()
        # Tickets that came again, changed, after this run wrote them: the next run writes them
        # (export_position names them), never one ticket twice in a run. From the first of them
        # on, every resume token points just before it, so that a resumed run sees it again.
        self.deferred: dict[str, None] = {}
        self.anchor: str | None = None
        self.with_history = False  # keep the ticket events' history (module docstring): set as it begins

    def items(self) -> Iterator[ExportItem]:
        self.spool = Spool()
        # read now, not when the export was made: export_with_history wraps an export made before
        self.with_history = self.backend.export_history
        if self.with_history:
            self.backend.close_export_spool()  # an earlier export's, if any
            self.backend.export_spool = self.spool
        try:
            if self.mode in (None, INCREMENTAL) and self.events_from is not None:
                try:
                    self.horizon = self._read_events()
                    self.mode = INCREMENTAL
                except AuthError as exc:
                    if self.mode is not None or exc.status != 403:
                        raise
                    self.mode, self.events_from = SEARCH, None  # an agent's token: search export
            if self.redo:
                yield from self._redo()
            yield from self._pages()
        finally:
            if self.backend.export_spool is not self.spool:
                self.spool.close()  # else the backend closes it, after the core's last `histories`

    # -- the ticket events: every comment since events_from, into the spool ------------------

    def _read_events(self) -> int:
        """Read the events from `events_from` to the end of the stream; returns the horizon."""
        backend = self.backend
        since = self.events_from = _not_recent(self.events_from or 0)
        stale = 0
        while True:
            params = {"start_time": since, "include": "comment_events"}
            data = backend.read(f"{API}/incremental/ticket_events.json", params, action="export the ticket events")
            event_ids, comments, audits = [], [], []
            for event in backend.records(data, "ticket_events"):
                event_id = remote.service_id(event.get("id"), "Zendesk", "ticket event id")
                event_ids.append(event_id)
                tid = remote.service_id(event.get("ticket_id"), "Zendesk", "ticket id")
                for child in backend.records(event, "child_events"):
                    if child.get("event_type") in COMMENT_EVENTS and child.get("id") is not None:
                        comments.append(_spooled(tid, event, child))
                if self.with_history:
                    audit = audit_from_ticket_event(event)
                    if audit["created_at"] is None:
                        raise UnavailableError("Zendesk sent a ticket event without a time")
                    raw = json.dumps(audit, separators=(",", ":"))
                    audits.append((event_id.zfill(20), tid, audit["created_at"], raw))
            fresh = self.spool.add_events(event_ids, comments)
            self.spool.add_history(audits)
            end = _epoch(data.get("end_time"), "end_time")
            if end < since:
                raise UnavailableError("Zendesk sent ticket events that end before they begin")
            if data.get("end_of_stream"):
                return end
            stale = 0 if fresh else stale + 1
            if stale >= STALE_PAGES:
                raise UnavailableError(
                    "Zendesk sent ticket event pages that bring nothing new (paging for ever?); stopped"
                )
            # The next page starts at the second this one ended in (its events come again); a
            # page that was all one second held the whole second: go on from the next one.
            since = end if end > since else end + 1

    def _whole_in_spool(self, raw: dict) -> bool:
        """Whether the events read hold the ticket's whole thread (see the module docstring)."""
        if self.horizon is None or self.events_from is None or raw.get("status") == "deleted":
            return False
        created, updated = _time_of(raw.get("created_at")), _time_of(raw.get("updated_at"))
        return created is not None and updated is not None and self.events_from <= created and updated <= self.horizon

    def _from_spool(self, tickets: list[dict], ids: list[str]) -> set[str]:
        """The tickets of a page whose threads come from the spool; their authors looked up."""
        whole = {tid: raw for raw, tid in zip(tickets, ids, strict=True) if self._whole_in_spool(raw)}
        if not whole:
            return set()
        counts = self.spool.counts(list(whole))
        chosen = {tid for tid, raw in whole.items() if counts.get(tid, 0) >= max(1, _comment_count(raw))}
        self.backend.resolve_users(int(a) for a in self.spool.authors(sorted(chosen)))
        return chosen

    def _item(self, raw: dict, tid: str, updated: str | None, token: str, from_spool: set[str]) -> ExportItem:
        self.latest = max(self.latest, _time_of(raw.get("updated_at")) or 0)
        if raw.get("status") == "deleted":
            return ExportItem.deleted(tid, updated, token)
        if self.with_history and self._whole_in_spool(raw):
            requester = raw.get("requester_id")
            self.spool.mark_whole(
                tid, requester if isinstance(requester, int) and not isinstance(requester, bool) else None
            )
        backend = self.backend
        ticket = backend.ticket_from(raw)
        if tid in from_spool:
            ticket.comments = [backend.comment_from(c) for c in self.spool.comments(tid)]
        else:
            ticket.comments = backend.comments(tid, keep_urls=False)
        backend.complete_escalation(ticket, raw)  # an escalated ticket: its reason and timeline
        return ExportItem(ticket, token)

    # -- the tickets ------------------------------------------------------------------------

    def _redo(self) -> Iterator[ExportItem]:
        """The tickets the previous run left to this one (show_many, 100 a call), as they are now."""
        backend, ids = self.backend, self.redo
        for begin in range(0, len(ids), 100):
            chunk = ids[begin : begin + 100]
            params = {"ids": ",".join(chunk), "include": "users,groups,metric_sets,comment_count,slas"}
            data = backend.read(f"{API}/tickets/show_many.json", params, action="export the tickets")
            backend.absorb(data)
            records = backend.records(data, "tickets")
            found = {remote.service_id(r.get("id"), "Zendesk", "ticket id"): r for r in records}
            backend.resolve_people(found.values())
            from_spool = self._from_spool(list(found.values()), list(found))
            for k, tid in enumerate(chunk):
                rest = ids[begin + k + 1 :]
                token = self._token(self.mode or INCREMENTAL, self.page_cursor, self.skip, self.last_id, redo=rest)
                raw = found.get(tid)
                self.seen.add(tid)
                if raw is None:  # gone from the API: deleted since
                    self.spool.write(tid, None)
                    yield ExportItem.deleted(tid, None, token)
                    continue
                updated = remote.service_time(raw.get("updated_at"), "Zendesk")
                self.spool.write(tid, updated)
                yield self._item(raw, tid, updated, token, from_spool)

    def _pages(self) -> Iterator[ExportItem]:
        """Every ticket of the export from the state on, each once.

        The incremental export is ordered by updated_at: a ticket changed while we read comes
        again at the end of the stream; if it changed, the next run writes it (`deferred`). A
        page cursor seen again with nothing new, or STALE_PAGES pages in a row with nothing new,
        is a server paging for ever (exit 8).
        """
        backend = self.backend
        mode, start, page_cursor, skip, last_id = self.mode, self.start, self.page_cursor, self.skip, self.last_id
        since_iso = from_epoch(start) if start else None
        followed: set[str] = set()
        stale = 0
        while True:
            if mode in (None, INCREMENTAL):
                try:
                    data = _incremental_page(backend, start, page_cursor)
                    mode = INCREMENTAL
                except AuthError as exc:
                    if mode is not None or exc.status != 403:
                        raise
                    mode = SEARCH  # an agent's token: the incremental export is for admins
                    continue
                tickets = backend.records(data, "tickets")
                after = _cursor(data.get("after_cursor"))
                done = bool(data.get("end_of_stream")) or not after
            else:
                data = _search_page(backend, start, page_cursor)
                tickets = [r for r in backend.records(data, "results") if r.get("result_type", "ticket") == "ticket"]
                backend.with_slas(tickets)  # the search export gives no SLA: show_many, 100 a request
                meta = data.get("meta")
                meta = meta if isinstance(meta, dict) else {}
                after = _cursor(meta.get("after_cursor"))
                done = not meta.get("has_more") or not after
            backend.absorb(data)
            ids = [remote.service_id(raw.get("id"), "Zendesk", "ticket id") for raw in tickets]
            backend.resolve_people(tickets)  # the whole page's people at once
            begin = _resume_at(tickets, skip, last_id)
            from_spool = self._from_spool(tickets[begin:], ids[begin:]) if mode == INCREMENTAL else set()
            fresh = False
            for index in range(begin, len(tickets)):
                raw, tid = tickets[index], ids[index]
                updated = remote.service_time(raw.get("updated_at"), "Zendesk")
                if self.seen.add(tid):
                    self.spool.write(tid, updated)
                elif not self.spool.rewrite(tid, updated):
                    continue  # this very version was written earlier in this run
                else:
                    # Changed since this run wrote it: the next run writes it again. A resume
                    # from here on starts just before it, and sees it again.
                    fresh = True
                    self.deferred[tid] = None
                    if self.anchor is None:
                        before = int(ids[index - 1]) if index else None
                        self.anchor = self._token(mode, page_cursor, index, before)
                    continue
                fresh = True
                if since_iso and updated and updated < since_iso:
                    continue  # changed by the system only: its updated_at is older than `since`
                if self.anchor is not None:
                    token = self.anchor
                elif index + 1 == len(tickets) and after:
                    # The page is done: resume with the next page's cursor (at the end of the
                    # stream it still moves on, and asks only for what changes later).
                    token = self._token(mode, after, 0)
                else:
                    token = self._token(mode, page_cursor, index + 1, int(tid))
                yield self._item(raw, tid, updated, token, from_spool)
            if done:
                if mode == INCREMENTAL and after:
                    nxt = self.horizon if self.horizon is not None else self.latest
                    redo = [int(t) for t in self.deferred]
                    backend.export_end = encode_cursor(INCREMENTAL, start, after, 0, events_from=nxt, redo=redo)
                return
            assert after is not None  # not done: the answer gave the next page's cursor
            stale = 0 if fresh else stale + 1
            if not fresh and (after in followed or stale >= STALE_PAGES):
                raise UnavailableError("Zendesk sent export pages that bring nothing new (paging for ever?); stopped")
            followed.add(after)
            page_cursor, skip, last_id = after, 0, None

    def _token(
        self, mode: str, page_cursor: str | None, index: int, last_id: int | None = None, redo: list[str] | None = None
    ) -> str:
        events_from = self.events_from if mode == INCREMENTAL else None
        return encode_cursor(
            mode, self.start, page_cursor, index, last_id, events_from=events_from, redo=[int(t) for t in redo or []]
        )


def _spooled(tid: str, event: dict, child: dict) -> tuple:
    """A comment child event as a spool row (checked as the comments endpoint's would be)."""
    cid = remote.service_id(child["id"], "Zendesk", "comment id")
    created = remote.service_time(child.get("created_at") or event.get("created_at"), "Zendesk")
    if created is None:
        raise UnavailableError("Zendesk sent a ticket event without a time")
    author = child.get("author_id")
    author_id = None if author is None or author == -1 else remote.service_id(author, "Zendesk", "user id")
    return (cid.zfill(20), tid, created, author_id, json.dumps(child, separators=(",", ":")))


def _comment_count(raw: dict) -> int:
    """The ticket's comment_count where the page gave it (include=comment_count); else 0."""
    count = raw.get("comment_count")
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else 0


def _time_of(value: Any) -> int | None:
    """An answer's time as epoch seconds (None when absent; malformed: exit 8)."""
    iso = remote.service_time(value, "Zendesk")
    return None if iso is None else int(parse_iso(iso).timestamp())


def _epoch(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < LATEST_TIME:
        raise UnavailableError(f"Zendesk sent a malformed export {what}")
    return value


def _cursor(value) -> str | None:
    """A page cursor from the answer: printable ASCII, bounded (it goes into the resume token)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > CURSOR_MAX or not value.isascii() or not value.isprintable():
        raise UnavailableError("Zendesk sent a malformed export cursor")
    return value


def _resume_at(tickets: list[dict], skip: int, last_id) -> int:
    """Where a resumed page starts: just after the last ticket exported, found by id.

    A ticket changed meanwhile moves out of its page (to the end of the stream, where it comes
    again): the count alone would then skip one not yet seen. When the last ticket itself moved,
    start one earlier (a duplicate rather than a gap).
    """
    if last_id is None or skip == 0:
        return skip
    for index, raw in enumerate(tickets):
        if raw.get("id") == last_id:
            return index + 1
    return max(0, skip - 1)


def _not_recent(start: int) -> int:
    """The incremental exports refuse a start within the last minute (they leave that minute out)."""
    return max(0, min(start, int(time.time()) - 61))


def _incremental_page(backend: ZendeskBackend, start: int, page_cursor: str | None) -> dict:
    # comment_count: the spool must hold at least that many comments of a ticket (a check on
    # the events, which are time-based).
    params: dict = {"per_page": EXPORT_PAGE, "include": "users,groups,metric_sets,comment_count,slas"}
    if page_cursor:
        params["cursor"] = page_cursor
    else:
        params["start_time"] = _not_recent(start)
    return backend.read(f"{API}/incremental/tickets/cursor.json", params, action="export the tickets")


def _search_page(backend: ZendeskBackend, start: int, page_cursor: str | None) -> dict:
    # The search export takes the type in filter[type] (a `type:` term is an error) and needs
    # a query: every ticket updated since the start (the epoch by default).
    params: dict = {
        "query": "updated>=" + from_epoch(start).replace("+00:00", "Z"),
        "filter[type]": "ticket",
        "page[size]": EXPORT_PAGE,
        "include": "tickets(users,groups)",
    }
    if page_cursor:
        params["page[after]"] = page_cursor
    return backend.read(f"{API}/search/export.json", params, action="export the tickets")


def _start_time(since: datetime | None) -> int:
    return max(0, int(since.timestamp())) if since is not None else 0


def encode_cursor(
    mode: str,
    start: int,
    page_cursor: str | None,
    index: int,
    last_id=None,
    *,
    events_from: int | None = None,
    redo: list[int] | None = None,
) -> str:
    payload: dict[str, Any] = {"v": 1, "m": mode, "s": start, "c": page_cursor, "i": index}
    if last_id is not None:
        payload["t"] = last_id
    if events_from is not None:
        payload["e"] = events_from
    if redo:
        payload["r"] = redo
    return remote.encode_cursor(payload)


def decode_cursor(token: str) -> dict:
    bad = InvalidInputError(
        "invalid export cursor", hint="pass the token from a `resume: --cursor=TOKEN` line of a Zendesk export"
    )
    data = remote.decode_cursor(token.strip(), bad)
    if (
        data.get("v") != 1
        or data.get("m") not in (INCREMENTAL, SEARCH)
        or not _natural(data.get("s"))
        or not _natural(data.get("i"))
        or not (data.get("c") is None or isinstance(data.get("c"), str))
        or not (data.get("t") is None or _natural(data.get("t")))
        or not (data.get("e") is None or _natural(data.get("e")))
        or not (data.get("r") is None or (isinstance(data["r"], list) and all(_natural(t) for t in data["r"])))
    ):
        raise bad
    return data


def _natural(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**20
