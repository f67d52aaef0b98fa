"""`tixcli solve` and `tixcli close`: move a ticket along its lifecycle."""

import typer

from tixcli.output import clean, message, print_write_result

from .app import BodyOption, TicketId, WriteFormat, app, check_write_format, get_state, read_body


@app.command()
def solve(
    ctx: typer.Context,
    ticket_id: TicketId,
    body: BodyOption = None,
    fmt: WriteFormat = None,
) -> None:
    """Mark a ticket solved (from new, open, pending or hold), optionally with a last reply."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    text = read_body(body, None, required=False)
    result = state.backend.solve(ticket_id, body=text, author=state.profile.user)
    if not result.changed:
        message(f"ticket {clean(ticket_id)} is already solved: nothing to do")
    if output:
        print_write_result(result.ticket, output, changed=result.changed)


@app.command()
def close(
    ctx: typer.Context,
    ticket_id: TicketId,
    fmt: WriteFormat = None,
) -> None:
    """Close a ticket for good: a closed ticket takes no more replies or changes."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    result = state.backend.close(ticket_id)
    if not result.changed:
        message(f"ticket {clean(ticket_id)} is already closed: nothing to do")
    if output:
        print_write_result(result.ticket, output, changed=result.changed)
