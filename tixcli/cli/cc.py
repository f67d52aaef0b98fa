"""`tixcli cc`: list, add and remove a ticket's CC participants."""

from typing import Annotated

import typer

from tixcli.errors import InvalidInputError
from tixcli.model import validate_emails
from tixcli.output import clean, dumps_json, print_ticket

from .app import TicketId, app, get_state


@app.command()
def cc(
    ctx: typer.Context,
    ticket_id: TicketId,
    add: Annotated[
        list[str] | None, typer.Option("--add", help="Add this email (repeatable).", show_default=False)
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="Remove this email (repeatable).", show_default=False)
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="json: print the participants (or the ticket) as JSON."),
    ] = None,
) -> None:
    """List, add or remove a ticket's CC participants (no option: print them, one email a line)."""
    state = get_state(ctx)
    to_add, to_remove = validate_emails(add or []), validate_emails(remove or [])
    if fmt is not None and fmt.lower() != "json":
        raise InvalidInputError(f"unknown format {fmt!r}", hint="cc prints plain lines, or json")
    backend = state.backend
    participants = backend.update_cc(ticket_id, to_add, to_remove)
    if to_add or to_remove:
        if fmt:
            print_ticket(backend.get(ticket_id), "json")
        return
    if fmt:
        print(dumps_json(participants))
    else:
        for email in participants:
            print(clean(email, one_line=True))
