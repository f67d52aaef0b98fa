"""The one ticket model every backend is normalised to.

The JSON field names produced by ``to_dict`` are a public contract: scripts read them.
Absent values are None (JSON null), never omitted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, overload

from .errors import InvalidInputError

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
ACTIVE_STATUSES = ("new", "open", "pending", "hold")
PRIORITIES = ("low", "normal", "high", "urgent")
TYPES = ("question", "incident", "problem", "task")
#: how a ticket came in; a service's own channel names are mapped onto these ("other" otherwise)
CHANNELS = ("email", "web", "portal", "chat", "messaging", "phone", "sms", "social", "mobile", "api", "cli", "other")
#: the version of the JSON a ticket prints as (`tixcli schema`): 2 added channel and fields,
#: 3 sla, escalation and satisfaction
SCHEMA_VERSION = 3
PRIORITY_ALIASES = {"p1": "urgent", "p2": "high", "p3": "normal", "p4": "low"}
# Order used by `list --sort priority` (most urgent first).
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3, None: 4}

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


@dataclass
class Attachment:
    id: str | None
    filename: str
    size: int | None
    content_type: str | None
    sha256: str | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "filename": self.filename,
            "size": self.size,
            "content_type": self.content_type,
            "sha256": self.sha256,
        }


@dataclass
class Comment:
    id: str | None
    author: str | None
    body: str
    public: bool
    created_at: str | None
    attachments: list[Attachment] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "author": self.author,
            "body": self.body,
            "public": self.public,
            "created_at": self.created_at,
            "attachments": [a.to_dict() for a in self.attachments],
        }


@dataclass
class Ticket:
    id: str
    backend: str
    subject: str
    description: str | None = None
    status: str = "new"
    raw_status: str | None = None
    priority: str | None = None
    type: str | None = None
    raw_type: str | None = None
    requester: str | None = None
    assignee: str | None = None
    group: str | None = None
    #: how it came in (one of CHANNELS), None where the service does not say
    channel: str | None = None
    cc: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    #: custom fields by the names the profile gives them (SQLite: any name): text, number,
    #: boolean, date (YYYY-MM-DD) or a list of option values (multi-select)
    fields: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    solved_at: str | None = None
    #: SLA clocks by metric (tixcli.sla.clock); None where the service keeps none for the ticket
    sla: dict[str, dict[str, Any]] | None = None
    #: the ticket's escalation: id, stage, open, reason, eta, timeline [{stage, at}]; None: none
    escalation: dict[str, Any] | None = None
    #: the requester's rating: {rating: good|bad|1..5, comment, rated_at}; None: not rated
    satisfaction: dict[str, Any] | None = None
    url: str | None = None
    # None = the thread was not fetched (list); a list = the thread (show, export).
    comments: list[Comment] | None = None

    def to_dict(self, with_comments: bool | None = None) -> dict:
        """The public JSON shape; comments are included when they were fetched."""
        data: dict[str, Any] = {
            "id": self.id,
            "backend": self.backend,
            "subject": self.subject,
            "description": self.description,
            "status": self.status,
            "raw_status": self.raw_status,
            "priority": self.priority,
            "type": self.type,
            "raw_type": self.raw_type,
            "requester": self.requester,
            "assignee": self.assignee,
            "group": self.group,
            "channel": self.channel,
            "cc": list(self.cc),
            "tags": list(self.tags),
            "fields": dict(self.fields),
            "external_id": self.external_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "solved_at": self.solved_at,
            "sla": None if self.sla is None else {k: dict(v) for k, v in self.sla.items()},
            "escalation": None if self.escalation is None else dict(self.escalation),
            "satisfaction": None if self.satisfaction is None else dict(self.satisfaction),
            "url": self.url,
        }
        if with_comments is None:
            with_comments = self.comments is not None
        if with_comments:
            data["comments"] = [c.to_dict() for c in (self.comments or [])]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Ticket:
        """The inverse of to_dict (comments included when present)."""
        fields: dict[str, Any] = {k: data.get(k) for k in TICKET_FIELDS}
        fields["cc"] = list(fields["cc"] or [])
        fields["tags"] = list(fields["tags"] or [])
        fields["fields"] = dict(fields["fields"] or {})
        comments = data.get("comments")
        if comments is not None:
            comments = [
                Comment(
                    id=c.get("id"),
                    author=c.get("author"),
                    body=c.get("body") or "",
                    public=bool(c.get("public")),
                    created_at=c.get("created_at"),
                    attachments=[Attachment(**a) for a in c.get("attachments") or []],
                )
                for c in comments
            ]
        return cls(**fields, comments=comments)


TICKET_FIELDS = tuple(Ticket("", "", "").to_dict(with_comments=False))


# --- requests a backend receives (already validated by the core) -------------------------


@dataclass
class FileUpload:
    """A local file to attach, checked against the limits before anything is sent.

    `data` holds the bytes that were checked (attachments.prepare_uploads reads each file once,
    bounded by the limits), so what is sent is what was checked even if the file changes.
    """

    path: Path
    filename: str
    size: int
    content_type: str
    data: bytes | None = field(default=None, repr=False)

    def read(self) -> bytes:
        """The file's bytes; InvalidInputError when it cannot be read, or holds more than `size` bytes."""
        if self.data is not None:
            return self.data
        try:
            with self.path.open("rb") as fh:
                data = fh.read(self.size + 1)  # never more than was checked, whatever the file does
        except OSError as exc:
            raise InvalidInputError(f"cannot read {self.path}: {exc.strerror}") from None
        if len(data) > self.size:
            raise InvalidInputError(f"cannot attach {self.filename}: it grew since its size was checked")
        return data


@dataclass
class NewTicket:
    subject: str
    body: str
    author: str
    requester: str
    type: str | None = None
    priority: str | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    attachments: list[FileUpload] = field(default_factory=list)
    dedupe_key: str | None = None
    assignee: str | None = None  # needs the "assign" capability
    channel: str | None = None  # needs "set_channel"; None: the backend's own (SQLite: cli)
    #: custom fields, values as `Backend.field_values` converted them (needs "custom_fields")
    fields: dict[str, Any] = field(default_factory=dict)

    def as_reply(self) -> Reply:
        """The create as a public reply: what `--dedupe-key` adds to the ticket it matched."""
        return Reply(body=self.body, author=self.author, cc=self.cc, attachments=self.attachments)


@dataclass
class Reply:
    body: str
    author: str
    public: bool = True
    status: str | None = None  # explicit --status open|pending|hold
    cc: list[str] = field(default_factory=list)
    attachments: list[FileUpload] = field(default_factory=list)


#: the fields `edit` may change, in the order the write is described
EDITABLE_FIELDS = ("subject", "priority", "type", "group", "requester", "assignee", "tags", "fields")


@dataclass
class TicketChange:
    """What `tixcli edit` asks for: None = leave as is; tags as additions and removals."""

    subject: str | None = None
    priority: str | None = None
    type: str | None = None
    group: str | None = None
    requester: str | None = None
    assignee: str | None = None
    unassign: bool = False
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    #: custom fields to set (None: clear), values as `Backend.field_values` converted them
    fields: dict[str, Any] = field(default_factory=dict)

    def check(self) -> TicketChange:
        """Refuse a change that names nothing or contradicts itself (exit 6); tags normalised."""
        if self.assignee is not None and self.unassign:
            raise InvalidInputError("give --assignee or --unassign, not both")
        self.add_tags = [normalize_tag(t) for t in self.add_tags]
        self.remove_tags = [normalize_tag(t) for t in self.remove_tags]
        both = sorted(set(self.add_tags) & set(self.remove_tags))
        if both:
            raise InvalidInputError(f"tag {both[0]!r} is both added and removed")
        named = [self.subject, self.priority, self.type, self.group, self.requester, self.assignee]
        if all(v is None for v in named) and not (self.unassign or self.add_tags or self.remove_tags or self.fields):
            raise InvalidInputError(
                "edit needs a change",
                hint="--subject, --priority, --type, --group, --requester, --assignee/"
                "--unassign, --add-tag, --remove-tag, --field",
            )
        return self

    def delta(self, current: Ticket) -> dict[str, Any]:
        """The fields that differ from `current` (field → new value); {} when nothing would change."""
        wanted: dict[str, Any] = {
            "subject": self.subject,
            "priority": self.priority,
            "type": self.type,
            "group": self.group,
            "requester": self.requester,
            "assignee": None if self.unassign else self.assignee,
        }
        fields = {
            k: v
            for k, v in wanted.items()
            if (v is not None or (k == "assignee" and self.unassign)) and v != getattr(current, k)
        }
        if self.add_tags or self.remove_tags:
            tags = [t for t in current.tags if t not in self.remove_tags]
            tags += [t for t in dict.fromkeys(self.add_tags) if t not in tags]
            if tags != list(current.tags):
                fields["tags"] = tags
        changed = {k: v for k, v in self.fields.items() if current.fields.get(k) != v}
        if changed:
            fields["fields"] = changed  # only the custom fields that change; None clears one
        return fields


def normalize_tag(value: str) -> str:
    """A tag as every backend stores it: no whitespace inside, not empty (exit 6 otherwise)."""
    tag = value.strip()
    if not tag or any(ch.isspace() for ch in tag) or "\x00" in tag:
        raise InvalidInputError(f"invalid tag {value!r}", hint="a tag is one word: no spaces inside")
    return tag


@dataclass
class ListQuery:
    user: str
    scope: str = "mine"  # "mine" | "all"
    statuses: tuple[str, ...] | None = ACTIVE_STATUSES  # None = any status
    type: str | None = None
    priority: str | None = None
    requester: str | None = None
    assignee: str | None = None
    search: str | None = None
    since: datetime | None = None  # on updated_at
    #: every one of these tags must be on the ticket
    tags: tuple[str, ...] = ()
    group: str | None = None
    created_since: datetime | None = None  # on created_at
    sort: str = "updated"  # updated | created | priority
    #: the sort order turned round (`--sort created --reverse`: the oldest first)
    reverse: bool = False
    channel: str | None = None
    #: custom fields that must have these values (a multi-select: hold this one among its values)
    fields: tuple[tuple[str, Any], ...] = ()
    #: an SLA clock breached and not yet met
    breaching: bool = False
    #: a running SLA clock due before now + this
    due_within: timedelta | None = None
    #: an open escalation
    escalated: bool = False
    limit: int = 50
    #: also say how many tickets match in all, where the backend can tell cheaply (`TicketList.total`)
    count: bool = False
    #: the words of `search` every ticket must contain (set by `resolved`, the core's one split)
    words: tuple[str, ...] = ()

    def resolved(self) -> ListQuery:
        """The query as backends receive it: "mine" made explicit, search split into words.

        "Mine" means the profile's user is the requester, unless a requester or an assignee is
        asked for. A search word is a run of non-space characters holding a letter or a digit.
        """
        requester = self.requester
        if self.scope == "mine" and not (self.requester or self.assignee):
            requester = self.user
        words = tuple(w for w in (self.search or "").split() if any(ch.isalnum() for ch in w))
        if self.search is not None and not words:
            raise InvalidInputError("--search needs at least one word with letters or digits")
        return replace(self, requester=requester, words=words)

    def matches(self, ticket: Ticket) -> bool:
        """Whether `ticket` passes every filter but the search words: what a backend checks
        itself where the service's query cannot say it all (the service's answer is then paged
        on until `limit` tickets match, never cut short)."""
        if self.statuses is not None and ticket.status not in self.statuses:
            return False
        for wanted, value in ((self.requester, ticket.requester), (self.assignee, ticket.assignee)):
            if wanted is not None and (value or "").casefold() != wanted.casefold():
                return False
        if self.type is not None and ticket.type != self.type:
            return False
        if self.priority is not None and ticket.priority != self.priority:
            return False
        if self.group is not None and (ticket.group or "").casefold() != self.group.casefold():
            return False
        if self.tags and not set(t.casefold() for t in self.tags) <= set(t.casefold() for t in ticket.tags):
            return False
        if self.channel is not None and ticket.channel != self.channel:
            return False
        for name, wanted in self.fields:
            if not field_matches(ticket.fields.get(name), wanted):
                return False
        if self.breaching or self.due_within is not None or self.escalated:
            from . import sla

            if self.breaching and not sla.breaching(ticket.sla):
                return False
            if self.due_within is not None and not sla.due_within(ticket.sla, utcnow(), self.due_within):
                return False
            if self.escalated and not (ticket.escalation or {}).get("open"):
                return False
        for bound, stamp in ((self.since, ticket.updated_at), (self.created_since, ticket.created_at)):
            if bound is not None and (not stamp or parse_iso(stamp) < bound):
                return False
        return True


def field_matches(value: Any, wanted: Any) -> bool:
    """Whether a custom field's value is `wanted`: equal (text without regard to case), or for a
    multi-select, holding each wanted option."""

    def norm(v: Any) -> Any:
        return v.casefold() if isinstance(v, str) else v

    if isinstance(value, list):
        wanted_all = wanted if isinstance(wanted, list) else [wanted]
        return all(norm(w) in [norm(v) for v in value] for w in wanted_all)
    return norm(value) == norm(wanted)


def parse_field_assignments(values: Iterable[str], option: str = "--field") -> dict[str, str | None]:
    """`--field NAME=VALUE` (repeatable) → {name: text}; `NAME=` clears (None). No `=`: exit 6."""
    parsed: dict[str, str | None] = {}
    for raw in values:
        name, eq, value = raw.partition("=")
        name = name.strip()
        if not eq or not name:
            raise InvalidInputError(f"{option} takes NAME=VALUE, not {raw!r}", hint=f"{option} service=hosting")
        if any(unicodedata.category(ch)[0] == "C" for ch in name + value):
            raise InvalidInputError(f"{option} {name!r}: control characters are not allowed")
        parsed[name] = value.strip() if value.strip() else None
    return parsed


def sort_tickets(tickets: Iterable[Ticket], sort: str, reverse: bool = False) -> list[Ticket]:
    """`list`'s order on every backend: the latest first (ids break ties), or by priority (the
    most urgent first, then the latest); `reverse` turns the whole order round."""

    def by_time(t: Ticket) -> tuple:
        stamp = t.created_at if sort == "created" else t.updated_at
        return (stamp or "", _id_key(t.id))

    ordered = sorted(tickets, key=by_time, reverse=True)
    if sort == "priority":
        ordered.sort(key=lambda t: PRIORITY_RANK.get(t.priority, 4))
    if reverse:
        ordered.reverse()
    return ordered


def _id_key(ticket_id: str) -> tuple:
    """Ids in number order where they are numbers (Zendesk, SQLite), else by project and number
    (JSM's KEY-12), else as text."""
    head, _, tail = ticket_id.rpartition("-")
    if tail.isdigit() and tail.isascii():
        return (head, int(tail), "")
    return (ticket_id, -1, ticket_id)


# --- normalisation helpers shared by every backend ----------------------------------------


def normalize_priority(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip().lower()
    v = PRIORITY_ALIASES.get(v, v)
    if v not in PRIORITIES:
        raise InvalidInputError(f"unknown priority {value!r}", hint="use one of: low normal high urgent (or P1..P4)")
    return v


@overload
def normalize_choice(value: str, choices: Iterable[str], what: str) -> str: ...
@overload
def normalize_choice(value: str | None, choices: Iterable[str], what: str) -> str | None: ...
def normalize_choice(value: str | None, choices: Iterable[str], what: str) -> str | None:
    if value is None:
        return None
    v = value.strip().lower()
    choices = tuple(choices)
    if v not in choices:
        raise InvalidInputError(f"unknown {what} {value!r}", hint="use one of: " + " ".join(choices))
    return v


def validate_email(value: str) -> str:
    v = value.strip()
    if len(v) > 254 or not _EMAIL.match(v):
        raise InvalidInputError(f"invalid email address {value!r}")
    return v.lower()


def validate_name(value: str, what: str = "name") -> str:
    """A person on a backend whose people are names (the local store: the login name works):
    not empty, no control characters, at most 254 characters; an email is lowercased as
    `validate_email` does, so both spellings find the same tickets."""
    v = value.strip()
    if not v or len(v) > 254 or any(unicodedata.category(ch)[0] == "C" for ch in v):
        raise InvalidInputError(
            f"invalid {what} {value!r}", hint="a name or an email: not empty, no control characters"
        )
    return v.lower() if _EMAIL.match(v) else v


def validate_emails(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for v in values:
        email = validate_email(v)
        if email not in seen:
            seen.append(email)
    return seen


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@overload
def to_iso(value: datetime | str) -> str: ...
@overload
def to_iso(value: None) -> None: ...
@overload
def to_iso(value: datetime | str | None) -> str | None: ...
def to_iso(value: datetime | str | None) -> str | None:
    """ISO 8601 with seconds and +00:00, the only time format tixcli prints."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_iso(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def from_epoch(seconds: float) -> str:
    """Seconds since the Unix epoch (as services send them) in tixcli's ISO 8601."""
    return to_iso(datetime.fromtimestamp(seconds, tz=timezone.utc))


def parse_iso(value: str) -> datetime:
    v = value.strip()
    if v.endswith("Z") or v.endswith("z"):
        v = v[:-1] + "+00:00"
    # Jira writes offsets as +0000.
    m = re.match(r"^(.*[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)([+-]\d\d)(\d\d)$", v)
    if m:
        v = f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise InvalidInputError(
            f"invalid date or time {value!r}", hint="use ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """`--since`: an ISO 8601 date or time, or a relative `7d` / `12h` / `30m`."""
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d{1,6})\s*([dhm])\s*", value)
    if m:
        amount, unit = int(m.group(1)), m.group(2)
        delta = {"d": timedelta(days=amount), "h": timedelta(hours=amount), "m": timedelta(minutes=amount)}[unit]
        return (now or utcnow()) - delta
    return parse_iso(value)


def json_schema() -> dict:
    """The JSON Schema of a ticket as `show --format json` prints it."""
    nullable_str = {"type": ["string", "null"]}
    attachment = {
        "type": "object",
        "required": ["id", "filename", "size", "content_type", "sha256"],
        "properties": {
            "id": nullable_str,
            "filename": {"type": "string"},
            "size": {"type": ["integer", "null"], "minimum": 0},
            "content_type": nullable_str,
            "sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
        },
        "additionalProperties": False,
    }
    comment = {
        "type": "object",
        "required": ["id", "author", "body", "public", "created_at", "attachments"],
        "properties": {
            "id": nullable_str,
            "author": nullable_str,
            "body": {"type": "string"},
            "public": {"type": "boolean"},
            "created_at": {"type": ["string", "null"], "format": "date-time"},
            "attachments": {"type": "array", "items": {"$ref": "#/$defs/attachment"}},
        },
        "additionalProperties": False,
    }
    time = {"type": ["string", "null"], "format": "date-time"}
    props = {
        "id": {"type": "string", "description": "decimal integer on SQLite and Zendesk, issue key on JSM"},
        "backend": {"type": "string"},
        "subject": {"type": "string"},
        "description": nullable_str,
        "status": {"enum": list(STATUSES)},
        "raw_status": nullable_str,
        "priority": {"enum": [*PRIORITIES, None]},
        "type": {"enum": [*TYPES, None]},
        "raw_type": nullable_str,
        "requester": nullable_str,
        "assignee": nullable_str,
        "group": nullable_str,
        "channel": {
            "enum": [*CHANNELS, None],
            "description": "how the ticket came in; null where the service does not say (schema 2)",
        },
        "cc": {"type": "array", "items": {"type": "string"}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "fields": {
            "type": "object",
            "description": "custom fields by the profile's names: string, number, boolean, date (YYYY-MM-DD), "
            "or a list of strings (multi-select) (schema 2)",
            "additionalProperties": {"type": ["string", "number", "boolean", "array", "null"]},
        },
        "external_id": nullable_str,
        "created_at": time,
        "updated_at": time,
        "solved_at": time,
        "sla": {
            "type": ["object", "null"],
            "description": "SLA clocks by metric (first_reply, resolution, and the service's others); null where the "
            "service keeps none for the ticket (schema 3)",
            "additionalProperties": {
                "type": "object",
                "required": ["target_at", "stage", "met_at", "breached_at"],
                "properties": {
                    "target_at": {**time, "description": "when the clock runs out; null while paused"},
                    "stage": {"enum": ["active", "paused", "met", "breached"]},
                    "met_at": time,
                    "breached_at": time,
                },
                "additionalProperties": False,
            },
        },
        "escalation": {
            "type": ["object", "null"],
            "description": "the ticket's escalation; null where it has none (schema 3)",
            "required": ["id", "stage", "open", "reason", "eta", "timeline"],
            "properties": {
                "id": {"type": "string"},
                "stage": {"type": "string"},
                "open": {"type": "boolean"},
                "reason": nullable_str,
                "eta": {
                    "type": ["string", "null"],
                    "description": "estimated resolution date (YYYY-MM-DD), not promised",
                },
                "timeline": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["stage", "at"],
                        "properties": {"stage": {"type": "string"}, "at": time},
                    },
                },
            },
        },
        "satisfaction": {
            "type": ["object", "null"],
            "description": "the requester's rating after the ticket was solved; null: not rated (schema 3)",
            "required": ["rating", "comment", "rated_at"],
            "properties": {
                "rating": {
                    "type": ["string", "integer"],
                    "description": "good, bad, or 1..5 where the service takes numbers",
                },
                "comment": nullable_str,
                "rated_at": time,
            },
        },
        "url": nullable_str,
        "comments": {"type": "array", "items": {"$ref": "#/$defs/comment"}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://tixcli.invalid/schema/{SCHEMA_VERSION}/ticket.json",
        "title": f"tixcli ticket (schema {SCHEMA_VERSION})",
        "type": "object",
        "required": list(TICKET_FIELDS),
        "properties": props,
        "additionalProperties": False,
        "$defs": {"attachment": attachment, "comment": comment},
    }


# What every write command (create, reply, attach, solve, close, cc --add/--remove) prints with
# --format json|jsonl|yaml: the resulting ticket's fields (as `show --format json`), plus these.
WRITE_RESULT_FIELDS = ("created", "changed")


def write_result_schema() -> dict:
    """The JSON Schema of what a write command prints with --format json (`tixcli schema --write-result`)."""
    ticket = json_schema()
    props = {
        **ticket["properties"],
        "created": {
            "type": ["boolean", "null"],
            "description": "create: true when a ticket was opened, false when --dedupe-key added to the open "
            "ticket carrying the key; null for every other command",
        },
        "changed": {
            "type": "boolean",
            "description": "whether the command changed the ticket (false: nothing to do, such as cc --add of "
            "someone already in CC)",
        },
    }
    return {
        **ticket,
        "$id": f"https://tixcli.invalid/schema/{SCHEMA_VERSION}/write-result.json",
        "title": f"tixcli write result (schema {SCHEMA_VERSION})",
        "description": "The ticket a write command leaves (the fields of a ticket), with created and changed.",
        "required": [*TICKET_FIELDS, *WRITE_RESULT_FIELDS],
        "properties": props,
    }


def tombstone_schema() -> dict:
    """The JSON Schema of the line `export --with-deleted` writes for a deleted ticket."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://tixcli.invalid/schema/{SCHEMA_VERSION}/tombstone.json",
        "title": f"tixcli tombstone (schema {SCHEMA_VERSION})",
        "description": "A ticket deleted on the service (Zendesk): `export --with-deleted` writes one line "
        "each, in jsonl only. Tell it from a ticket by `deleted`.",
        "type": "object",
        "required": ["id", "backend", "deleted", "deleted_at"],
        "properties": {
            "id": {"type": "string"},
            "backend": {"type": "string"},
            "deleted": {"const": True},
            "deleted_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "when it was deleted, where the service says (its last update)",
            },
        },
        "additionalProperties": False,
    }
