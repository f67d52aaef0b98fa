"""`tixcli rate`: the requester's rating of the support received, once the ticket is solved."""

from __future__ import annotations

from typing import Annotated

import typer

from tixcli.errors import InvalidInputError
from tixcli.output import print_write_result
from tixcli.sla import parse_rating

from .app import WriteFormat, app, check_text, check_write_format, get_state
from .target import KeyOption, LooseTicketId, shift_into, target_ticket


@app.command()
def rate(
    ctx: typer.Context,
    ticket_id: LooseTicketId = None,
    rating: Annotated[
        str | None,
        typer.Argument(metavar="RATING", help="good or bad; 1..5 where the backend takes numbers.", show_default=False),
    ] = None,
    dedupe_key: KeyOption = None,
    comment: Annotated[
        str | None, typer.Option("--comment", help="A word on the support received.", show_default=False)
    ] = None,
    fmt: WriteFormat = None,
) -> None:
    """Rate the support a solved ticket received (again: the new rating replaces the old one)."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    backend = state.backend
    ticket_id, values = shift_into(ticket_id, dedupe_key, [rating] if rating is not None else [])
    if len(values) != 1:
        raise InvalidInputError("rate takes one rating", hint="tixcli rate ID good (or bad, or 1..5)")
    value = parse_rating(values[0], backend.supports("satisfaction_scale"))
    note = check_text(comment, "comment").strip() if comment is not None else None
    ticket_id = target_ticket(state, ticket_id, dedupe_key)
    assert ticket_id is not None
    result = backend.rate(ticket_id, value, note)
    if output:
        print_write_result(result.ticket, output, changed=result.changed)
