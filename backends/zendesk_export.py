"""`export` on Zendesk: every ticket with its comments, streamed and resumable.

With an admin token: the cursor-based incremental ticket export (1,000 tickets a page, 10
requests a minute: HttpClient waits on its 429s within the profile's budget).  An agent gets 403
there and exports through the search export instead (cursor-paged, 1,000 a page).  Comments come
from each ticket's comments.  Tickets with status `deleted` (incremental export only) are skipped
and counted on stderr.

The resume token is base64 JSON holding everything needed to resume right after a ticket: the
mode, the `since` start, the cursor that fetched the ticket's page and how many of the page's
tickets were done (or the next page's cursor once a page is finished).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from tixcli.backends import remote
from tixcli.backends.base import ExportItem
from tixcli.backends.zendesk import people_ids
from tixcli.config import warn
from tixcli.errors import AuthError, InvalidInputError
from tixcli.model import from_epoch

if TYPE_CHECKING:
    from tixcli.backends.zendesk import ZendeskBackend

API = "/api/v2"
EXPORT_PAGE = 1000  # the largest page both export endpoints allow
INCREMENTAL, SEARCH = "incremental", "search"


def export(backend: ZendeskBackend, since: datetime | None, cursor: str | None) -> Iterator[ExportItem]:
    if cursor and since is not None:
        raise InvalidInputError("--since and --cursor cannot be combined: the cursor holds its own start")
    state = decode_cursor(cursor) if cursor else {"m": None, "s": _start_time(since), "c": None, "i": 0}
    skipped = 0
    # The incremental export is ordered by updated_at: a ticket changed while we read comes again
    # at the end of the stream. Write each ticket once per run (its version when first reached).
    exported = IdBitmap()
    try:
        for item in _pages(backend, state):
            if item is None:
                skipped += 1
            elif exported.add(item.ticket.id):
                yield item
    finally:
        if skipped:
            warn(f"skipped {skipped} deleted tickets")


class IdBitmap:
    """A set of numeric ticket ids in one bit each: 1M tickets cost 125 KB, not a 60 MB set."""

    def __init__(self) -> None:
        self.bits = bytearray()

    def add(self, ticket_id: str) -> bool:
        """Add the id; False when it was there already."""
        n = int(ticket_id)
        byte, bit = divmod(n, 8)
        if byte >= len(self.bits):
            self.bits.extend(bytes(max(byte + 1 - len(self.bits), len(self.bits))))
        if self.bits[byte] >> bit & 1:
            return False
        self.bits[byte] |= 1 << bit
        return True


def _pages(backend: ZendeskBackend, state: dict) -> Iterator[ExportItem | None]:
    mode, start, page_cursor, skip, last_id = state["m"], state["s"], state["c"], state["i"], state.get("t")
    since_iso = from_epoch(start) if start else None
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
            tickets = data.get("tickets") or []
            after = data.get("after_cursor")
            done = bool(data.get("end_of_stream")) or not after
        else:
            data = _search_page(backend, start, page_cursor)
            tickets = [r for r in data.get("results") or [] if r.get("result_type", "ticket") == "ticket"]
            meta = data.get("meta") or {}
            after = meta.get("after_cursor")
            done = not meta.get("has_more") or not after
        backend._remember(data)
        backend._resolve(people_ids(tickets))  # the whole page's people at once
        for index in range(_resume_at(tickets, skip, last_id), len(tickets)):
            raw = tickets[index]
            if index + 1 == len(tickets) and after:
                # The page is done: resume with the next page's cursor (at the end of the stream
                # it still moves on, and asks only for what changes later).
                token = encode_cursor(mode, start, after, 0)
            else:
                token = encode_cursor(mode, start, page_cursor, index + 1, raw.get("id"))
            if raw.get("status") == "deleted":
                yield None
                continue
            if since_iso and raw.get("updated_at") and remote.service_time(raw["updated_at"], "Zendesk") < since_iso:
                continue  # changed by the system only: its updated_at is older than `since`
            ticket = backend._ticket(raw)
            ticket.comments = backend.comments(raw["id"])
            yield ExportItem(ticket, token)
        if done:
            return
        page_cursor, skip, last_id = after, 0, None


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
    return backend._get(f"{API}/incremental/tickets/cursor.json", params, "export the tickets")


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
    return backend._get(f"{API}/search/export.json", params, "export the tickets")


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
