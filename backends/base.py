"""The protocol every backend implements.

A backend is constructed from its profile and must not touch the network (or create files)
in ``__init__``: ``--help`` and configuration errors never reach a service.  Every method
raises only tixcli errors (``tixcli.errors``); anything else is a bug.

Input has already been validated by the core (emails, enums, attachment limits); backends
enforce the lifecycle (``tixcli.lifecycle``) and map the service's answers to ``Ticket``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass

from tixcli.config import Profile
from tixcli.model import ListQuery, NewTicket, Reply, Ticket


@dataclass
class CreateResult:
    ticket: Ticket
    created: bool  # False when --dedupe-key matched an existing ticket


class ExportItem:
    """One exported ticket (with comments), and where to resume after it.

    `cursor`: a token that resumes the export just after this ticket, where the backend pages
    with a cursor (printed as `resume: --cursor=TOKEN`); None otherwise.
    A backend that can serialise faster than Python (SQLite's json functions) gives `json_line`,
    the ticket's public JSON (str, or UTF-8 bytes); `ticket` is then built from it only if asked.
    """

    __slots__ = ("_ticket", "cursor", "json_line")

    def __init__(self, ticket: Ticket | None = None, cursor: str | None = None, json_line: str | bytes | None = None):
        if ticket is None and json_line is None:
            raise ValueError("an ExportItem needs a ticket or its json_line")
        self._ticket = ticket
        self.cursor = cursor
        self.json_line = json_line

    @property
    def ticket(self) -> Ticket:
        if self._ticket is None:
            import json

            self._ticket = Ticket.from_dict(json.loads(self.json_line))
        return self._ticket


class Backend(abc.ABC):
    """Base of all backends (built-in and third-party, registered as entry points)."""

    #: the profile's `backend:` value, also the `backend` field of every ticket
    name: str = ""
    #: the Python package whose absence means the backend cannot load (install hint)
    requires: tuple[str, ...] = ()
    max_comment_chars: int = 1_000_000  # the longest comment (body) in characters; refused before sending

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    # -- reads --
    @abc.abstractmethod
    def get(self, ticket_id: str) -> Ticket:
        """One ticket with its comments (the thread, oldest first) and CCs."""

    @abc.abstractmethod
    def list(self, query: ListQuery) -> list[Ticket]:
        """Tickets matching the query, sorted, at most `query.limit`, without comments."""

    @abc.abstractmethod
    def export(self, since=None, cursor: str | None = None) -> Iterator[ExportItem]:
        """Every ticket (all statuses and requesters) with its comments, streamed.

        `since` (a datetime) filters on updated_at; `cursor` resumes a previous export.
        """

    # -- writes --
    @abc.abstractmethod
    def create(self, new: NewTicket) -> CreateResult:
        """Create a ticket, or with `dedupe_key` add to the non-closed ticket carrying it."""

    @abc.abstractmethod
    def reply(self, ticket_id: str, reply: Reply) -> Ticket:
        """Add a comment (with attachments and CCs) and apply the lifecycle."""

    @abc.abstractmethod
    def solve(self, ticket_id: str, body: str | None = None, author: str | None = None) -> Ticket:
        """Solve from new/open/pending/hold (RefusedError otherwise)."""

    @abc.abstractmethod
    def close(self, ticket_id: str) -> Ticket:
        """Close from any status but closed (RefusedError otherwise)."""

    @abc.abstractmethod
    def update_cc(self, ticket_id: str, add: list[str], remove: list[str]) -> list[str]:
        """Change the participants and return them (no change: just return them)."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""
