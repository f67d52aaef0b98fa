"""`tixcli cc`: list, add and remove a ticket's CC participants."""

from typing import Annotated

import typer

from tixcli.completion import WRITE_FORMAT
from tixcli.model import validate_emails
from tixcli.output import clean, print_values, print_write_result

from .app import app, check_write_format, get_state
from .target import KeyOption, OptionalTicketId, target_ticket


@app.command()
def cc(
    ctx: typer.Context,
    ticket_id: OptionalTicketId = None,
    dedupe_key: KeyOption = None,
    add: Annotated[
        list[str] | None, typer.Option("--add", help="Add this email (repeatable).", show_default=False)
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="Remove this email (repeatable).", show_default=False)
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="The participants in this format; with --add/--remove, the resulting ticket.",
            show_default=False,
            click_type=WRITE_FORMAT,
        ),
    ] = None,
) -> None:
    """List, add or remove a ticket's CC participants (no option: print them, one email a line)."""
    state = get_state(ctx)
    to_add, to_remove = validate_emails(add or []), validate_emails(remove or [])
    output = check_write_format(fmt)
    backend = state.backend
    ticket_id = target_ticket(state, ticket_id, dedupe_key)
    assert ticket_id is not None
    if to_add or to_remove:
        # `changed` needs the participants before: read only when the result is printed.
        before = {e.lower() for e in backend.get(ticket_id).cc} if output else None
        backend.update_cc(ticket_id, to_add, to_remove)
        if output:
            ticket = backend.get(ticket_id)
            print_write_result(ticket, output, changed={e.lower() for e in ticket.cc} != before)
        return
    participants = backend.update_cc(ticket_id, [], [])
    if output:
        print_values(participants, output)
    else:
        for email in participants:
            print(clean(email, one_line=True))
