"""The ticket lifecycle every backend honours: new → open → pending/hold → solved → closed.

The SQLite store applies these rules itself; remote backends use them to refuse early (before
anything is sent) and to decide which status to ask the service for.
"""

from __future__ import annotations

from .errors import InvalidInputError, RefusedError
from .model import Reply

REPLY_STATUSES = ("open", "pending", "hold")


def closed_refusal(what: str, action: str) -> RefusedError:
    """The refusal of `action` on a closed ticket (`what`: "ticket 12"), also when a service refuses it."""
    return RefusedError(
        f"{what} is closed: {action} is not allowed", hint="a closed ticket is final; open a new ticket instead"
    )


def ensure_not_closed(ticket_id: str, status: str, action: str) -> None:
    if status == "closed":
        raise closed_refusal(f"ticket {ticket_id}", action)


def status_after_reply(ticket_id: str, current: str, reply: Reply, requester: str | None) -> str:
    """The status a ticket has after `reply` (raises if the ticket is closed)."""
    ensure_not_closed(ticket_id, current, "reply")
    if reply.status is not None and reply.status not in REPLY_STATUSES:
        raise InvalidInputError(f"reply cannot set status {reply.status!r}", hint="use open, pending or hold")
    if reply.status is not None:
        return reply.status  # asked for explicitly: applied with the comment, public or internal
    if not reply.public:
        return current  # an internal note on its own never changes the status
    if current in ("new", "solved"):
        return "open"  # the first public reply opens; a reply to a solved ticket reopens it
    if current == "pending" and requester and reply.author.lower() == requester.lower():
        return "open"  # the requester answered
    return current


def check_solve(ticket_id: str, current: str) -> None:
    ensure_not_closed(ticket_id, current, "solve")
    if current == "solved":
        raise RefusedError(f"ticket {ticket_id} is already solved")


def check_close(ticket_id: str, current: str) -> None:
    if current == "closed":
        raise RefusedError(f"ticket {ticket_id} is already closed")
