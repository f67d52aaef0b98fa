"""The protocol every backend implements, and the flow the core runs on top of it.

The core owns the flow: the lifecycle checks around reply, solve and close, dedupe-then-reply,
what "mine" means and how search words are split live here, once. A backend implements small
primitives — read one ticket, query, create one, add a comment with the status the core chose,
set a status, change CCs, find the open tickets carrying a dedupe key — and declares in
``capabilities`` what its code supports; the core checks those before anything is sent.

The protocol grows the way keyring's does: a new verb is a method with a default that raises
NotSupportedError (exit 6, naming the backend and the capability), so a backend written before
it keeps working, and nothing is ever ignored silently. A backend written against the first
protocol (``list``, ``create``, ``reply``, ``solve``, ``close``, ``update_cc`` overridden as a
whole) still works: its overrides win over the flow, and ``list`` is kept as a deprecated alias.

A backend is constructed from its profile and must not touch the network (or create files)
in ``__init__``: ``--help`` and configuration errors never reach a service. Every method raises
only tixcli errors (``tixcli.errors``); anything else is a bug.
"""

from __future__ import annotations

import abc
import builtins
import contextlib
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from tixcli.config import Profile
from tixcli.errors import InvalidInputError, NotFoundError, NotSupportedError, RefusedError
from tixcli.history import HistoryEvent, oldest_first
from tixcli.lifecycle import ensure_not_closed, status_after_reply
from tixcli.model import Attachment, ListQuery, NewTicket, Reply, Ticket, TicketChange

# What a backend's code may support; `Backend.capabilities` names the ones it does. The core
# checks them before sending anything (exit 6 otherwise). What depends on the account rather than
# the code (Zendesk's incremental export needs an admin token) can still fail at run time (exit 7).
CAPABILITIES: dict[str, str] = {
    "internal_notes": "reply --internal: comments only agents see",
    "attachments": "files on create, reply and attach",
    "cc": "CC participants (create/reply --cc, cc --add/--remove)",
    "groups": "create --group",
    "search": "list --search",
    "dedupe": "create --dedupe-key adds to the open ticket carrying the key",
    "dedupe_guaranteed": "the dedupe key holds under concurrent creates (a unique index)",
    "export_cursor": "export --cursor resumes just after the last ticket written",
    "edit": "change a ticket's fields (subject, priority, type, group, tags)",
    "assign": "set or clear a ticket's assignee",
    "download": "read an attachment's bytes",
    "history": "tixcli history: every change to a ticket, who made it and the values before and after",
    "channel": "how a ticket came in (its channel field; list --channel)",
    "set_channel": "create --channel: the channel a ticket is recorded as coming in through",
    "custom_fields": "custom fields by name (create/edit/list --field NAME=VALUE)",
    "sla": "SLA clocks on tickets (the sla field; list --breaching / --due-within)",
    "escalations": "tixcli escalate: an escalation with its own id, stages and a timeline (list --escalated)",
    "satisfaction": "tixcli rate ID good|bad: the requester's rating once the ticket is solved",
    "satisfaction_scale": "tixcli rate ID 1..5: ratings as numbers",
}


@dataclass
class CreateResult:
    ticket: Ticket
    created: bool  # False when --dedupe-key matched an existing ticket


@dataclass
class WriteResult:
    """A write verb's outcome: the ticket after it, and whether anything changed.

    `changed` is False when there was nothing to do (solve on a solved ticket, an edit to the
    values it has): exit 0, not a refusal. Attribute reads fall through to the ticket, so code
    written when solve and close returned a Ticket (`backend.solve(id).status`) keeps working.
    """

    ticket: Ticket
    changed: bool = True

    def __getattr__(self, name: str):
        if name == "ticket":  # not set yet (copy/pickle): no recursion
            raise AttributeError(name)
        return getattr(self.ticket, name)


@dataclass(frozen=True)
class TicketState:
    """What the lifecycle needs to know about a ticket before changing it."""

    status: str
    requester: str | None


class ExportItem:
    """One exported ticket (with comments), or the tombstone of a deleted one, and where to
    resume after it.

    `cursor`: a token that resumes the export just after this ticket, where the backend pages
    with a cursor (printed as `resume: --cursor=TOKEN`, kept by `export --state` when a run stops
    early); None otherwise.
    A backend that can serialise faster than Python (SQLite's json functions) gives `json_line`,
    the ticket's public JSON (str, or UTF-8 bytes); `ticket` is then built from it only if asked.
    It then also gives `ticket_id` and `updated_at` (what `export --state` keeps of each ticket),
    so that nothing has to parse the line.
    `tombstone`: the ticket was deleted (Zendesk); `ticket_id` names it and `updated_at` says when,
    where known. The core counts tombstones and writes them only with `--with-deleted`.
    """

    __slots__ = ("_ticket", "cursor", "json_line", "tombstone", "_ticket_id", "_updated_at")

    def __init__(
        self,
        ticket: Ticket | None = None,
        cursor: str | None = None,
        json_line: str | bytes | None = None,
        *,
        ticket_id: str | None = None,
        updated_at: str | None = None,
        tombstone: bool = False,
    ):
        if ticket is None and json_line is None and not (tombstone and ticket_id):
            raise ValueError("an ExportItem needs a ticket, its json_line, or (a tombstone) its id")
        self._ticket = ticket
        self.cursor = cursor
        self.json_line = json_line
        self.tombstone = tombstone
        self._ticket_id = ticket_id
        self._updated_at = updated_at

    @classmethod
    def deleted(cls, ticket_id: str, deleted_at: str | None = None, cursor: str | None = None) -> ExportItem:
        """The tombstone of a deleted ticket."""
        return cls(cursor=cursor, ticket_id=ticket_id, updated_at=deleted_at, tombstone=True)

    @property
    def ticket(self) -> Ticket:
        if self._ticket is None:
            import json

            if self.json_line is None:
                raise ValueError("a tombstone has no ticket")
            self._ticket = Ticket.from_dict(json.loads(self.json_line))
        return self._ticket

    @property
    def ticket_id(self) -> str:
        if self._ticket_id is None:
            self._ticket_id = self.ticket.id
        return self._ticket_id

    @property
    def updated_at(self) -> str | None:
        if self._updated_at is None and not self.tombstone:
            self._updated_at = self.ticket.updated_at
        return self._updated_at

    def tombstone_dict(self, backend: str) -> dict[str, Any]:
        """The line `export --with-deleted` writes for a deleted ticket (`tixcli schema tombstone`)."""
        return {"id": self.ticket_id, "backend": backend, "deleted": True, "deleted_at": self.updated_at}


class TicketList(builtins.list):
    """What `list_tickets` returns: the tickets, and how many match in all where the backend said
    (`total`; None: not known). A backend's `query` may return one with `total` set."""

    total: int | None = None


class TicketStream:
    """What `stream_tickets` (and a backend's `query_stream`) gives: the tickets of a listing, read
    as they are iterated (once), and `total`, how many match in all where the backend says (None:
    not known).

    `tickets` may be a generator that keeps a read open (SQLite's snapshot) and returns the total
    when it ends (`return n`): `total` is then known once the tickets have been read to their end.
    `close` (and the generator's own close) runs when the stream is closed: use it in a `with`, so
    that an error or a closed pipe in the middle ends the read too; reading to the end ends it.
    """

    def __init__(
        self,
        tickets: Iterable[Ticket] = (),
        total: int | None = None,
        close: Callable[[], object] | None = None,
    ) -> None:
        self._tickets: Iterator[Ticket] = iter(tickets)
        self.total = total
        self._close = close

    def __iter__(self) -> Iterator[Ticket]:
        # a generator's return value (any other iterator's: None) is the count it made at the end
        total = yield from cast("Generator[Ticket, None, object]", self._tickets)
        if isinstance(total, int):
            self.total = total

    def close(self) -> None:
        closing = getattr(self._tickets, "close", None)
        if closing is not None:
            closing()  # a generator: its `with` and `finally` blocks run now
        self._tickets = iter(())
        if self._close is not None:
            close, self._close = self._close, None
            close()

    def __enter__(self) -> TicketStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _at_most(stream: TicketStream, limit: int) -> Generator[Ticket, None, int | None]:
    """At most `limit` tickets of `stream` (a backend that gives more is not read further), then
    its total where that is at least what it gave (list_tickets' checks, for a stream)."""
    given = 0
    with stream:
        for ticket in stream:
            if given >= limit:
                break
            given += 1
            yield ticket
        total = stream.total
    return total if isinstance(total, int) and total >= given else None


def _defined_by(cls: type, name: str) -> type:
    return next(klass for klass in cls.__mro__ if name in vars(klass))


class ExportBatch:
    """Many exported tickets at once: `data`, their public JSON lines in UTF-8 joined by newlines
    (none after the last), `count` of them, and where to resume after the last (`cursor`): the
    bulk form of ExportItem, for a backend that builds lines faster than the core could take them
    one by one (`Backend.export_batches`)."""

    __slots__ = ("count", "cursor", "data")

    def __init__(self, data: bytes, count: int, cursor: str | None = None) -> None:
        self.data = data
        self.count = count
        self.cursor = cursor


class Backend(abc.ABC):
    """Base of all backends (built-in and third-party, registered as entry points)."""

    #: the profile's `backend:` value, also the `backend` field of every ticket
    name: str = ""
    #: the Python package whose absence means the backend cannot load (install hint)
    requires: tuple[str, ...] = ()
    max_comment_chars: int = 1_000_000  # the longest comment (body) in characters; refused before sending
    #: what this backend's code supports (keys of CAPABILITIES); the core checks before sending
    capabilities: frozenset[str] = frozenset()

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    #: what the backend's people are: "email" (remote services), or "name" (any non-empty name
    #: without control characters: the local store, where the zero-config user is the login name)
    people: str = "email"

    def person(self, value: str, what: str = "email address") -> str:
        """A person given on the command line (requester, assignee), checked as this backend's
        people look (exit 6 otherwise)."""
        from tixcli.model import validate_email, validate_name

        return validate_name(value, what) if self.people == "name" else validate_email(value)

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def require(self, capability: str, what: str | None = None) -> None:
        """Refuse (exit 6) what this backend does not support, before anything is sent."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}")  # a bug in the caller
        if not self.supports(capability):
            raise NotSupportedError(self.name, capability, what)

    # == the mandatory core: reads ============================================================

    @abc.abstractmethod
    def get(self, ticket_id: str) -> Ticket:
        """One ticket with its comments (the thread, oldest first) and CCs."""

    @abc.abstractmethod
    def export(self, since=None, cursor: str | None = None) -> Iterator[ExportItem]:
        """Every ticket (all statuses and requesters) with its comments, streamed.

        `since` (a datetime) filters on updated_at; `cursor` resumes a previous export (only
        asked of a backend with the "export_cursor" capability). Each ticket exported must equal
        what `get` gives for it.
        """

    #: whether `export_batches` is implemented (plain `export` then takes tickets in bulk)
    export_batched: bool = False

    def export_batches(self, since=None, cursor: str | None = None) -> Iterator[ExportBatch]:
        """The tickets `export` gives, in the same order, many lines at a time (optional: see
        `export_batched`). No tombstones: a backend that has them does not batch."""
        raise NotSupportedError(self.name, "export", "exporting in bulk")

    def export_position(self) -> str | None:
        """After an `export` ran to its end: a token from which `export(cursor=...)` gives exactly
        the tickets changed since (what `export --state` keeps), or None where the backend cannot
        be exact (an index that lags, times of minute resolution): `export --state` then asks for
        `export(since=...)` from `export_overlap` before its previous run, and drops what it had
        written already. Needs the "export_cursor" capability."""
        return None

    #: how far back an inexact `export --state` run reads before the previous run began (see
    #: `export_position`): longer than the service's index lag and any clock skew
    export_overlap: timedelta = timedelta(minutes=10)
    #: the number of tickets the running export will give, where the backend knows it (progress)
    export_total: int | None = None

    def export_source(self) -> str:
        """What an `export --state` file is bound to besides the profile: the service's origin, the
        store's identity (a state from another one is refused). Must not need the network."""
        return f"{self.name}:{self.profile.name}"

    @property
    def request_count(self) -> int:
        """Requests sent to a service by this run so far (0 for a local backend)."""
        return 0

    # == primitives: what a backend implements ===============================================

    def query(self, query: ListQuery) -> list[Ticket]:
        """Tickets matching the resolved query, sorted, at most `query.limit`, without comments.

        `query.requester` is already set for "mine" and `query.words` holds the search words
        (every one required). A backend of the first protocol overrides `list` instead.
        """
        if type(self).list is not Backend.list:
            return type(self).list(self, query)
        raise NotSupportedError(self.name, "list", "listing tickets")

    def query_stream(self, query: ListQuery) -> TicketStream:
        """`query`'s tickets made as they are read, for output that streams (optional: `list` then
        holds one ticket at a time, not all of them). The stream's `total` is `query`'s count
        where `query.count` asks; a read it keeps open ends when the stream ends or is closed.
        A backend implementing it sets `query = Backend.list_from_stream`. Default: `query`'s list."""
        found = self.query(query)
        return TicketStream(found, total=getattr(found, "total", None))

    def list_from_stream(self, query: ListQuery) -> TicketList:
        """`query` of a backend whose listing is its `query_stream` (`query = Backend.list_from_stream`
        in its class): the stream read into a list, with its total."""
        if type(self).query_stream is Backend.query_stream:
            raise TypeError(f"{type(self).__name__} lists from a stream but has no query_stream")
        with self.query_stream(query) as stream:
            found = TicketList(stream)
            found.total = stream.total
        return found

    def state(self, ticket_id: str) -> TicketState:
        """The status and requester of one ticket (override with something cheaper than `get`)."""
        ticket = self.get(ticket_id)
        return TicketState(ticket.status, ticket.requester)

    def create_ticket(self, new: NewTicket) -> Ticket:
        """Create one ticket from `new` (status new or open), carrying `new.dedupe_key` if given."""
        raise NotSupportedError(self.name, "create", "creating tickets")

    def add_comment(self, ticket_id: str, reply: Reply, status: str) -> Ticket:
        """Add `reply` (with its attachments and CCs) and leave the ticket in `status`."""
        raise NotSupportedError(self.name, "reply", "replies")

    def set_status(self, ticket_id: str, status: str, comment: Reply | None = None) -> Ticket:
        """Move the ticket to "solved", "closed" or (reopen) "open", with `comment` first where given
        (public or internal, with its attachments and CCs, as in `add_comment`)."""
        raise NotSupportedError(self.name, status, f"setting a ticket {status}")

    def change_cc(self, ticket_id: str, add: list[str], remove: list[str]) -> list[str]:
        """Add and remove CC participants; returns them all."""
        raise NotSupportedError(self.name, "cc", "changing CCs")

    def list_cc(self, ticket_id: str) -> list[str]:
        """The CC participants of one ticket (override with something cheaper than `get`)."""
        return self.get(ticket_id).cc

    def update_fields(self, ticket_id: str, fields: dict[str, Any]) -> Ticket:
        """Set the named fields (keys of EDITABLE_FIELDS; "tags" is the whole new list, "assignee"
        None unassigns) and nothing else; the core has dropped the values equal to the current."""
        raise NotSupportedError(self.name, "edit", "edit")

    def attachment_bytes(self, ticket_id: str, attachment: Attachment) -> Iterator[bytes]:
        """The bytes of one attachment of the ticket, in chunks (bounded by its size where known)."""
        raise NotSupportedError(self.name, "download", "download")

    def find_by_dedupe_key(self, key: str) -> list[str]:
        """The ids of the non-closed tickets carrying dedupe key `key` (oldest first)."""
        raise NotSupportedError(self.name, "dedupe", "--dedupe-key")

    #: set by the core's `export_with_history` before the export begins: a backend that can bring
    #: each ticket's history with its export pages (Zendesk's ticket events, JSM's changelogs) reads
    #: it when its export starts, and answers `histories` from what the pages held
    export_history: bool = False
    #: whether a closed ticket can still be rated (the portal shows its feedback button after close)
    rates_closed: bool = False

    def escalation_stages(self) -> tuple[str, ...]:
        """The stages an escalation moves through, first to last (the profile's, else the default)."""
        from tixcli.sla import DEFAULT_STAGES

        return DEFAULT_STAGES

    def open_escalation(self, ticket_id: str, reason: str, eta: str | None) -> Ticket:
        """Open the ticket's escalation at the first stage ("escalations" capability)."""
        raise NotSupportedError(self.name, "escalations", "escalate")

    def move_escalation(self, ticket_id: str, stage: str, eta: str | None) -> Ticket:
        """Move the ticket's open escalation to `stage` (and its eta, where given); the last
        stage closes it."""
        raise NotSupportedError(self.name, "escalations", "escalate")

    def rating_value(self, rating: str | int) -> str | int:
        """The rating as this backend keeps and gives it back (a service of 1..5 stars may keep
        `good` as 5); default: as given."""
        return rating

    def set_rating(self, ticket_id: str, rating: str | int, comment: str | None) -> Ticket:
        """Record (or replace) the requester's rating ("satisfaction" capability)."""
        raise NotSupportedError(self.name, "satisfaction", "rate")

    def history(self, ticket_id: str) -> list[HistoryEvent]:
        """Every change to one ticket ("history" capability); the core orders them."""
        raise NotSupportedError(self.name, "history", "history")

    def histories(self, ticket_ids: builtins.list[str]) -> dict[str, builtins.list[HistoryEvent]]:
        """The histories of many tickets (`export --with-history`); override with fewer requests."""
        return {tid: self.history(tid) for tid in ticket_ids}

    def field_names(self) -> tuple[str, ...] | None:
        """The custom fields' names this profile maps (None: any name, as the local store takes)."""
        return None

    def field_values(self, texts: dict[str, str | None]) -> dict[str, Any]:
        """`--field` texts (names already checked) as the values the fields take, by each field's
        type (number, date, checkbox, option...); a value a field rejects: InvalidInputError naming
        it. None clears a field. Default: the texts as they are."""
        return dict(texts)

    def atomic(self) -> contextlib.AbstractContextManager[object]:
        """A context in which the core's look-then-write steps happen as one (default: none).

        A backend that declares "dedupe_guaranteed" makes it a transaction, so two creates with
        one key cannot both miss the open ticket.
        """
        return contextlib.nullcontext()

    # == the flow: the core's rules, in terms of the primitives ==============================

    def escalate(
        self, ticket_id: str, reason: str | None = None, stage: str | None = None, eta: str | None = None
    ) -> WriteResult:
        """Open an escalation (`reason`) or move the open one (`stage`), with the lifecycle's rules:
        one open escalation a ticket, none on a closed ticket, stages as the backend names them."""
        self.require("escalations", "escalate")
        if (reason is None) == (stage is None):
            raise InvalidInputError("escalate takes --reason (to open one) or --stage (to move it)")
        stages = self.escalation_stages()
        if stage is not None and stage not in stages:
            raise InvalidInputError(f"unknown escalation stage {stage!r}", hint="the stages: " + ", ".join(stages))
        with self.atomic():
            current = self.get(ticket_id)
            ensure_not_closed(ticket_id, current.status, "escalate")
            open_one = current.escalation if (current.escalation or {}).get("open") else None
            if reason is not None:
                if open_one is not None:
                    raise RefusedError(
                        f"ticket {ticket_id} has an open escalation already ({open_one.get('id')})",
                        hint="move it with --stage STAGE",
                    )
                return WriteResult(self.open_escalation(ticket_id, reason, eta))
            if open_one is None:
                raise RefusedError(f"ticket {ticket_id} has no open escalation", hint="open one with --reason TEXT")
            if open_one.get("stage") == stage and (eta is None or eta == open_one.get("eta")):
                return WriteResult(current, changed=False)
            assert stage is not None
            return WriteResult(self.move_escalation(ticket_id, stage, eta))

    def rate(self, ticket_id: str, rating: str | int, comment: str | None = None) -> WriteResult:
        """The requester's rating, once the ticket is solved (and closed where the service allows)."""
        if isinstance(rating, int):
            self.require("satisfaction_scale", "rate 1..5")
        self.require("satisfaction", "rate")
        with self.atomic():
            status = self.state(ticket_id).status
            if status == "closed" and not self.rates_closed:
                raise RefusedError(f"ticket {ticket_id} is closed: {self.name} takes no rating after that")
            if status not in ("solved", "closed"):
                raise RefusedError(
                    f"ticket {ticket_id} is {status}: a rating comes once it is solved", hint="tixcli solve ID first"
                )
            return WriteResult(self.set_rating(ticket_id, rating, comment))

    def ticket_history(self, ticket_id: str) -> builtins.list[HistoryEvent]:
        """`tixcli history`: every change to the ticket, oldest first."""
        self.require("history", "history")
        return oldest_first(self.history(ticket_id))

    def custom_fields(self, texts: dict[str, str | None], what: str = "--field") -> dict[str, Any]:
        """`--field NAME=VALUE` texts → the fields' values: a name the profile does not map, or a
        value its field rejects, exit 6 (naming what it does map)."""
        if not texts:
            return {}
        self.require("custom_fields", what)
        known = self.field_names()
        if known is not None:
            unknown = [n for n in texts if n not in known]
            if unknown:
                from tixcli.output import clean

                raise InvalidInputError(
                    f"the profile maps no custom field named {clean(unknown[0], one_line=True)!r}",
                    hint=("it maps: " + ", ".join(known)) if known else "map names under fields: in the profile",
                )
        return self.field_values(texts)

    def list_tickets(self, query: ListQuery) -> TicketList:
        """Tickets matching `query` (see `query`); the one listing the CLI calls."""
        self._check_list_query(query)
        resolved = query.resolved()
        found = self.query(resolved)
        result = TicketList(found[: resolved.limit])
        total = getattr(found, "total", None)
        result.total = total if isinstance(total, int) and total >= len(result) else None
        return result

    def stream_tickets(self, query: ListQuery) -> TicketStream:
        """The tickets `list_tickets` gives, read as they are written out (close the stream, or
        use it in a `with`; its `total` is known once it has been read to the end).

        A backend streams when its `query` is `Backend.list_from_stream` (its listing is its
        `query_stream`) and nothing below its `query_stream` changes `list_tickets` or the old
        `list`: a subclass that overrides `query` gets the list `list_tickets` makes through it
        (as does every backend without a stream: remote services page with bounds of their own)."""
        if not self._streams():
            found = self.list_tickets(query)
            return TicketStream(found, total=getattr(found, "total", None))
        self._check_list_query(query)
        resolved = query.resolved()
        stream = self.query_stream(resolved)
        return TicketStream(_at_most(stream, resolved.limit), close=stream.close)  # closed even if never read

    def _streams(self) -> bool:
        """Whether this backend's `query_stream` gives its listing (see `stream_tickets`)."""
        cls = type(self)
        if getattr(cls, "query", None) is not Backend.list_from_stream:
            return False
        owner = _defined_by(cls, "query_stream")
        return all(issubclass(owner, _defined_by(cls, name)) for name in ("list_tickets", "list"))

    def _check_list_query(self, query: ListQuery) -> None:
        """What `list_tickets` refuses before asking anything (exit 6), for `stream_tickets`."""
        if query.search is not None:
            self.require("search", "list --search")
        if query.group is not None:
            self.require("groups", "list --group")
        if query.channel is not None:
            self.require("channel", "list --channel")
        if query.fields:
            self.require("custom_fields", "list --field")
        if query.breaching or query.due_within is not None:
            self.require("sla", "list --breaching / --due-within")
        if query.escalated:
            self.require("escalations", "list --escalated")

    def export_tickets(self, since=None, cursor: str | None = None) -> Iterator[ExportItem]:
        """`export`, after the core's check that a cursor is something this backend pages with."""
        if cursor is not None:
            self.require("export_cursor", "export --cursor")
        return self.export(since=since, cursor=cursor)

    def export_tickets_in_bulk(self, since=None, cursor: str | None = None) -> Iterator[ExportBatch] | None:
        """`export_batches` after the same check; None where the backend does not batch."""
        if not self.export_batched:
            return None
        if cursor is not None:
            self.require("export_cursor", "export --cursor")
        return self.export_batches(since=since, cursor=cursor)

    def export_with_history(self, items: Iterator[ExportItem], chunk: int = 200) -> Iterator[ExportItem]:
        """`export --with-history`: each exported ticket with its history under "history" (the
        events as `history --format json` gives them), asked `chunk` tickets at a time of
        `histories` (a backend answers a chunk with as few requests as it can). Tombstones pass."""
        self.require("history", "export --with-history")  # now, not when the first item is asked for
        self.export_history = True  # `items` has not begun: a backend's export reads this as it starts
        return self._with_history(items, chunk)

    def _with_history(self, items: Iterator[ExportItem], chunk: int) -> Iterator[ExportItem]:
        held: builtins.list[ExportItem] = []

        def flush() -> Iterator[ExportItem]:
            tickets = [i for i in held if not i.tombstone]
            found = self.histories([i.ticket_id for i in tickets]) if tickets else {}
            for item in held:
                if item.tombstone:
                    yield item
                    continue
                data = item.ticket.to_dict(with_comments=True)
                events = oldest_first(found.get(item.ticket_id, []))
                data["history"] = [e.to_dict(item.ticket_id, self.name) for e in events]
                yield ExportItem(
                    cursor=item.cursor, json_line=_dumps(data), ticket_id=item.ticket_id, updated_at=item.updated_at
                )
            held.clear()

        for item in items:
            held.append(item)
            if len(held) >= chunk:
                yield from flush()
        yield from flush()

    def ticket_for_key(self, key: str) -> str | None:
        """The non-closed ticket carrying dedupe key `key` (what `--dedupe-key` names in place of
        an id); None when there is none. More than one (Zendesk's external_id and JSM's labels are
        not unique): InvalidInputError naming them."""
        self.require("dedupe", "--dedupe-key")
        found = self.find_by_dedupe_key(key)
        if len(found) > 1:
            from tixcli.output import clean

            shown = ", ".join(clean(t, one_line=True) for t in found[:10]) + (", ..." if len(found) > 10 else "")
            raise InvalidInputError(
                f"{len(found)} open tickets carry dedupe key {clean(key, one_line=True)!r}: {shown}",
                hint="name one by its id",
            )
        return found[0] if found else None

    def create(self, new: NewTicket) -> CreateResult:
        """Create a ticket, or with `dedupe_key` add to the non-closed ticket carrying it."""
        self._check_new(new)
        if not new.dedupe_key:
            return CreateResult(self.create_ticket(new), created=True)
        self.require("dedupe", "--dedupe-key")
        with self.atomic():
            found = self.find_by_dedupe_key(new.dedupe_key)
            if not found:
                return CreateResult(self.create_ticket(new), created=True)
            return CreateResult(self.reply(found[0], new.as_reply()), created=False)

    def reply(self, ticket_id: str, reply: Reply) -> Ticket:
        """Add a comment (with attachments and CCs) and apply the lifecycle."""
        self._check_reply(reply)
        with self.atomic():
            state = self.state(ticket_id)
            target = status_after_reply(ticket_id, state.status, reply, state.requester)  # refuses closed
            return self.add_comment(ticket_id, reply, target)

    def solve(
        self, ticket_id: str, body: str | None = None, author: str | None = None, comment: Reply | None = None
    ) -> WriteResult:
        """Solve from new/open/pending/hold; on a solved ticket nothing changes (a comment is still
        added); closed: RefusedError. `comment` (or the older `body`/`author`) goes in first."""
        if comment is None and body:
            comment = Reply(body=body, author=author or self.profile.user)
        if comment is not None:
            self._check_reply(comment)
        with self.atomic():
            state = self.state(ticket_id)
            ensure_not_closed(ticket_id, state.status, "solve")
            if state.status == "solved":
                if comment is None:
                    return WriteResult(self.get(ticket_id), changed=False)
                return WriteResult(self.add_comment(ticket_id, comment, "solved"))
            return WriteResult(self.set_status(ticket_id, "solved", comment))

    def close(self, ticket_id: str, comment: Reply | None = None) -> WriteResult:
        """Close from any status; on a closed ticket nothing changes (a comment is refused)."""
        if comment is not None:
            self._check_reply(comment)
        with self.atomic():
            if self.state(ticket_id).status == "closed":
                if comment is not None:
                    ensure_not_closed(ticket_id, "closed", "a comment")
                return WriteResult(self.get(ticket_id), changed=False)
            return WriteResult(self.set_status(ticket_id, "closed", comment))

    def reopen(self, ticket_id: str, comment: Reply | None = None) -> WriteResult:
        """Solved, pending or hold → open; new or open: nothing to do; closed: RefusedError."""
        if comment is not None:
            self._check_reply(comment)
        with self.atomic():
            status = self.state(ticket_id).status
            ensure_not_closed(ticket_id, status, "reopen")
            if status in ("new", "open"):
                if comment is None:
                    return WriteResult(self.get(ticket_id), changed=False)
                return WriteResult(self.add_comment(ticket_id, comment, status))
            return WriteResult(self.set_status(ticket_id, "open", comment))

    def edit(self, ticket_id: str, change: TicketChange) -> WriteResult:
        """Change the fields `change` names; values equal to the current ones: changed False."""
        change.check()
        if change.group is not None:
            self.require("groups", "edit --group")
        if change.assignee is not None or change.unassign:
            self.require("assign", "--assignee / --unassign")
        if change.fields:
            self.require("custom_fields", "edit --field")
        if any(v is not None for v in (change.subject, change.priority, change.type, change.requester)) or (
            change.add_tags or change.remove_tags
        ):
            self.require("edit", "edit")
        with self.atomic():
            current = self.get(ticket_id)
            ensure_not_closed(ticket_id, current.status, "edit")
            fields = change.delta(current)
            if not fields:
                return WriteResult(current, changed=False)
            return WriteResult(self.update_fields(ticket_id, fields))

    def download(self, ticket_id: str, attachment_id: str) -> tuple[Attachment, Iterator[bytes]]:
        """One attachment of the ticket and its bytes (NotFoundError if it is not on the ticket)."""
        self.require("download", "download")
        ticket = self.get(ticket_id)
        for comment in ticket.comments or []:
            for attachment in comment.attachments:
                if attachment.id == attachment_id:
                    return attachment, self.attachment_bytes(ticket_id, attachment)
        raise NotFoundError(f"ticket {ticket_id} has no attachment {attachment_id!r}")

    def update_cc(self, ticket_id: str, add: list[str], remove: list[str]) -> list[str]:
        """Change the participants and return them (no change: just return them)."""
        if not add and not remove:
            return self.list_cc(ticket_id)
        self.require("cc", "changing CCs")
        with self.atomic():
            ensure_not_closed(ticket_id, self.state(ticket_id).status, "changing CCs")
            return self.change_cc(ticket_id, add, remove)

    def _check_new(self, new: NewTicket) -> None:
        if new.channel:
            self.require("set_channel", "create --channel")
        if new.fields:
            self.require("custom_fields", "create --field")
        if new.group:
            self.require("groups", "create --group")
        if new.assignee:
            self.require("assign", "create --assignee")
        if new.cc:
            self.require("cc", "create --cc")
        if new.attachments:
            self.require("attachments", "create --attach")

    def _check_reply(self, reply: Reply) -> None:
        if not reply.public:
            self.require("internal_notes", "internal notes (--internal)")
        if reply.cc:
            self.require("cc", "reply --cc")
        if reply.attachments:
            self.require("attachments", "attachments")

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""

    # Last in the class: below this line, `list` in the class body would mean this method.
    def list(self, query: ListQuery) -> builtins.list[Ticket]:
        """Deprecated alias of `list_tickets` (it shadowed the builtin); kept for old callers."""
        warnings.warn("Backend.list is deprecated: call list_tickets", DeprecationWarning, stacklevel=2)
        return self.list_tickets(query)


def _dumps(data: dict) -> bytes:
    """A line of JSON in UTF-8, as export writes them."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency
        import json

        return json.dumps(data, ensure_ascii=False).encode()
    return orjson.dumps(data)
