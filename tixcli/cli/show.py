"""`tixcli show`: one ticket with its whole thread."""

from typing import Annotated

import typer

from tixcli.output import print_ticket

from .app import app, check_read_format, get_state, read_format_option


@app.command()
def show(
    ctx: typer.Context,
    ticket_id: Annotated[str, typer.Argument(metavar="ID", help="The ticket's id.")],
    fmt: Annotated[str | None, read_format_option()] = None,
) -> None:
    """Show a ticket with its comments, attachments and CCs."""
    state = get_state(ctx)
    output = check_read_format(fmt)
    print_ticket(state.backend.get(ticket_id), output)
