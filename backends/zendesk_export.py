"""`export` on Zendesk: every ticket with its comments, streamed and resumable.

With an admin token: the cursor-based incremental ticket export (1,000 tickets a page, 10
requests a minute: HttpClient waits on its 429s within the profile's budget).  An agent gets 403
there and exports through the search export instead (cursor-paged, 1,000 a page).  Comments come
from each ticket's comments.  Tickets with status `deleted` (incremental export only) are skipped
and counted on stderr.

The resume token is base64 JSON holding everything needed to resume right after a ticket: the
mode, the `since` start, the cursor that fetched the ticket's page and how many of the page's
tickets were done (or the next page's cursor once a page is finished).

It uses only the backend's public interface (see ZendeskBackend's docstring): `read` (a GET
through the error table), `records`, `absorb` (side-loads into the caches), `resolve_people`,
`ticket_from` and `comments`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from tixcli.backends import remote
from tixcli.backends.base import ExportItem
from tixcli.config import warn
from tixcli.errors import AuthError, InvalidInputError, UnavailableError
from tixcli.model import from_epoch

if TYPE_CHECKING:
    from tixcli.backends.zendesk import ZendeskBackend

API = "/api/v2"
EXPORT_PAGE = 1000  # the largest page both export endpoints allow
# Pages in a row that bring no ticket not exported yet (tickets changed during the export come
# again at the end of the stream) before the export is taken for a server paging for ever.
STALE_PAGES = 10
CURSOR_MAX = 2048  # a page cursor goes into the resume token: a longer one is a malformed answer
INCREMENTAL, SEARCH = "incremental", "search"


def export(backend: ZendeskBackend, since: datetime | None, cursor: str | None) -> Iterator[ExportItem]:
    if cursor and since is not None:
        raise InvalidInputError("--since and --cursor cannot be combined: the cursor holds its own start")
    state = decode_cursor(cursor) if cursor else {"m": None, "s": _start_time(since), "c": None, "i": 0}
    skipped = 0
    try:
        for item in _pages(backend, state):
            if item is None:
                skipped += 1
            else:
                yield item
    finally:
        if skipped:
            warn(f"skipped {skipped} deleted tickets")


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


def _pages(backend: ZendeskBackend, state: dict) -> Iterator[ExportItem | None]:
    """Every ticket of the export from `state` on, each once (None for a deleted one).

    The incremental export is ordered by updated_at: a ticket changed while we read comes again
    at the end of the stream. Each ticket is written once per run (its version when first
    reached); a page cursor seen again with nothing new, or STALE_PAGES pages in a row with
    nothing new, is a server paging for ever (exit 8).
    """
    mode, start, page_cursor, skip, last_id = state["m"], state["s"], state["c"], state["i"], state.get("t")
    since_iso = from_epoch(start) if start else None
    seen = IdSet()
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
            meta = data.get("meta")
            meta = meta if isinstance(meta, dict) else {}
            after = _cursor(meta.get("after_cursor"))
            done = not meta.get("has_more") or not after
        backend.absorb(data)
        ids = [remote.service_id(raw.get("id"), "Zendesk", "ticket id") for raw in tickets]
        backend.resolve_people(tickets)  # the whole page's people at once
        fresh = False
        for index in range(_resume_at(tickets, skip, last_id), len(tickets)):
            raw, tid = tickets[index], ids[index]
            if index + 1 == len(tickets) and after:
                # The page is done: resume with the next page's cursor (at the end of the stream
                # it still moves on, and asks only for what changes later).
                token = encode_cursor(mode, start, after, 0)
            else:
                token = encode_cursor(mode, start, page_cursor, index + 1, int(tid))
            if not seen.add(tid):
                continue  # written earlier in this run (changed since: it came again)
            fresh = True
            if raw.get("status") == "deleted":
                yield None
                continue
            if since_iso and raw.get("updated_at"):
                updated = remote.service_time(raw["updated_at"], "Zendesk")
                assert updated is not None  # a value that is not a time is exit 8, never None
                if updated < since_iso:
                    continue  # changed by the system only: its updated_at is older than `since`
            ticket = backend.ticket_from(raw)
            ticket.comments = backend.comments(tid)
            yield ExportItem(ticket, token)
        if done:
            return
        assert after is not None  # not done: the answer gave the next page's cursor
        stale = 0 if fresh else stale + 1
        if not fresh and (after in followed or stale >= STALE_PAGES):
            raise UnavailableError("Zendesk sent export pages that bring nothing new (paging for ever?); stopped")
        followed.add(after)
        page_cursor, skip, last_id = after, 0, None


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


def _incremental_page(backend: ZendeskBackend, start: int, page_cursor: str | None) -> dict:
    params: dict = {"per_page": EXPORT_PAGE, "include": "users,groups,metric_sets"}
    if page_cursor:
        params["cursor"] = page_cursor
    else:
        # The incremental export refuses a start within the last minute (it leaves that minute out).
        params["start_time"] = max(0, min(start, int(time.time()) - 61))
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


def encode_cursor(mode: str, start: int, page_cursor: str | None, index: int, last_id=None) -> str:
    payload = {"v": 1, "m": mode, "s": start, "c": page_cursor, "i": index}
    if last_id is not None:
        payload["t"] = last_id
    return remote.encode_cursor(payload)


def decode_cursor(token: str) -> dict:
    bad = InvalidInputError(
        "invalid export cursor", hint="pass the token from a `resume: --cursor=TOKEN` line of a Zendesk export"
    )
    data = remote.decode_cursor(token.strip(), bad)
    if (
        data.get("v") != 1
        or data.get("m") not in (INCREMENTAL, SEARCH)
        or not isinstance(data.get("s"), int)
        or not isinstance(data.get("i"), int)
        or data["i"] < 0
        or not (data.get("c") is None or isinstance(data.get("c"), str))
        or not (data.get("t") is None or isinstance(data.get("t"), int))
    ):
        raise bad
    return data
