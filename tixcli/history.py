"""A ticket's history: every change to it, in one shape whatever the backend (`tixcli history`).

An event says when, who (`actor`: an email, a name, or the rule or automation that acted), whether
an agent, the requester or something automatic did it (`by`), what changed (`change`, one of
CHANGES; `field` names the custom field of a "field" change), and the value before and after
(`old`, `new`: null where the source does not say). `detail` holds what a change has besides
(a comment's id and visibility, the files added, a notification's recipients, the rule's name).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

#: what a change can be
CHANGES = (
    "created",  # the ticket was opened (new: its subject)
    "status",
    "priority",
    "type",
    "group",
    "assignee",
    "requester",
    "subject",
    "tags",  # old/new: the whole list
    "cc",  # old/new: the whole list
    "channel",
    "field",  # a custom field (`field` names it)
    "comment",  # a comment added (detail: comment_id, public)
    "attachment",  # a file added (new: its name; detail: comment_id)
    "notification",  # a message sent about the ticket (detail: recipients, via)
    "escalation",  # an escalation opened or moved (old/new: its stage; detail: id, reason, eta)
    "rating",  # the requester's rating (old/new: the rating; detail: comment)
    "other",  # anything the source records that none of the above says (detail: what)
)
#: who did it
ACTORS = ("agent", "requester", "automatic")
#: the keys of an event's JSON, in order (`tixcli schema history-event`)
EVENT_FIELDS = ("ticket_id", "backend", "at", "actor", "by", "change", "field", "old", "new", "detail")


@dataclass
class HistoryEvent:
    at: str | None
    change: str
    actor: str | None = None
    by: str | None = None  # one of ACTORS, or None where the source does not say
    field: str | None = None
    old: Any = None
    new: Any = None
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.change not in CHANGES:
            raise ValueError(f"unknown history change {self.change!r}")  # a backend's bug
        if self.by is not None and self.by not in ACTORS:
            raise ValueError(f"unknown history actor kind {self.by!r}")

    def to_dict(self, ticket_id: str, backend: str) -> dict[str, Any]:
        return {
            "ticket_id": ticket_id,
            "backend": backend,
            "at": self.at,
            "actor": self.actor,
            "by": self.by,
            "change": self.change,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "detail": dict(self.detail),
        }


def oldest_first(events: list[HistoryEvent]) -> list[HistoryEvent]:
    """Events by time, the source's order kept among those of one time (an audit's changes)."""
    return sorted(events, key=lambda e: e.at or "")


def history_schema() -> dict:
    """The JSON Schema of one history event (`tixcli schema history-event`)."""
    value = {"description": "a string, number, boolean, list of strings, or null"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tixcli.invalid/schema/2/history-event.json",
        "title": "tixcli history event (schema 2)",
        "description": "One change to a ticket, as `tixcli history --format json` and "
        "`export --with-history` print it.",
        "type": "object",
        "required": list(EVENT_FIELDS),
        "additionalProperties": False,
        "properties": {
            "ticket_id": {"type": "string"},
            "backend": {"type": "string"},
            "at": {"type": ["string", "null"], "format": "date-time"},
            "actor": {"type": ["string", "null"], "description": "who: an email, a name, or a rule's name"},
            "by": {"enum": [*ACTORS, None], "description": "an agent, the requester, or automatic (a rule)"},
            "change": {"enum": list(CHANGES)},
            "field": {"type": ["string", "null"], "description": "the custom field of a `field` change"},
            "old": value,
            "new": value,
            "detail": {"type": "object"},
        },
    }
