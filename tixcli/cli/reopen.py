"""`tixcli reopen`: a solved, pending or on-hold ticket back to open."""

import typer

from .app import (
    AttachOption,
    BodyFileOption,
    BodyOption,
    CcOption,
    InternalOption,
    WriteFormat,
    app,
    build_comment,
    check_write_format,
    get_state,
)
from .status import report_status_change
from .target import KeyOption, OptionalTicketId, target_ticket


@app.command()
def reopen(
    ctx: typer.Context,
    ticket_id: OptionalTicketId = None,
    dedupe_key: KeyOption = None,
    body: BodyOption = None,
    body_file: BodyFileOption = None,
    internal: InternalOption = False,
    attach: AttachOption = None,
    cc: CcOption = None,
    fmt: WriteFormat = None,
) -> None:
    """Reopen a solved, pending or on-hold ticket, optionally with a comment (a closed one is final)."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    comment = build_comment(state, body, body_file, internal, attach, cc, required=False)
    ticket_id = target_ticket(state, ticket_id, dedupe_key)
    assert ticket_id is not None
    result = state.backend.reopen(ticket_id, comment=comment)
    report_status_change(ticket_id, result, output, f"is already {result.ticket.status}")
