"""`tixcli show`: one ticket with its whole thread."""

from typing import Annotated

import typer

from tixcli.output import print_ticket

from .app import CsvRawOption, app, check_read_format, get_state, read_format_option
from .target import KeyOption, OptionalTicketId, target_ticket


@app.command()
def show(
    ctx: typer.Context,
    ticket_id: OptionalTicketId = None,
    dedupe_key: KeyOption = None,
    fmt: Annotated[str | None, read_format_option()] = None,
    csv_raw: CsvRawOption = False,
) -> None:
    """Show a ticket with its comments, attachments and CCs (csv: one row, the thread as JSON in `comments`)."""
    state = get_state(ctx)
    output = check_read_format(fmt)
    ticket = target_ticket(state, ticket_id, dedupe_key)
    assert ticket is not None
    print_ticket(state.backend.get(ticket), output, csv_raw=csv_raw)
