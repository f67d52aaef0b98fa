"""`tixcli reply` and `tixcli attach`: add to a ticket's thread."""

from typing import Annotated

import typer

from tixcli.attachments import prepare_uploads
from tixcli.lifecycle import REPLY_STATUSES
from tixcli.model import Reply, normalize_choice
from tixcli.output import print_write_result

from .app import (
    AttachOption,
    BodyFileOption,
    BodyOption,
    CcOption,
    TicketId,
    WriteFormat,
    app,
    build_comment,
    check_write_format,
    get_state,
    read_body,
)


def send_reply(ctx: typer.Context, ticket_id: str, reply: Reply, fmt: str | None) -> None:
    ticket = get_state(ctx).backend.reply(ticket_id, reply)
    if fmt:
        print_write_result(ticket, fmt, changed=True)


@app.command()
def reply(
    ctx: typer.Context,
    ticket_id: TicketId,
    body: BodyOption = None,
    body_file: BodyFileOption = None,
    attach: AttachOption = None,
    cc: CcOption = None,
    internal: Annotated[
        bool, typer.Option("--internal", help="An internal note: not public; the status changes only with --status.")
    ] = False,
    status: Annotated[
        str | None, typer.Option("--status", help="Set the status with the reply: open, pending or hold.")
    ] = None,
    fmt: WriteFormat = None,
) -> None:
    """Reply to a ticket (a public reply to a solved ticket reopens it)."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    new_reply = build_comment(state, body, body_file, internal, attach, cc)
    assert new_reply is not None  # a body is required
    new_reply.status = normalize_choice(status, REPLY_STATUSES, "reply status")
    send_reply(ctx, ticket_id, new_reply, output)


@app.command()
def attach(
    ctx: typer.Context,
    ticket_id: TicketId,
    files: Annotated[list[str], typer.Argument(metavar="FILE...", help="Files to attach (at most 5).")],
    body: BodyOption = None,
    internal: Annotated[bool, typer.Option("--internal", help="Attach in an internal note.")] = False,
    fmt: WriteFormat = None,
) -> None:
    """Attach files to a ticket in one comment (its text: --body, else "Attached: NAMES")."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    profile = state.profile
    uploads = prepare_uploads(files, profile.attachment_limits())
    text = read_body(body, None, required=False) or "Attached: " + ", ".join(u.filename for u in uploads)
    send_reply(
        ctx,
        ticket_id,
        Reply(body=text, author=profile.user, public=not internal, attachments=uploads),
        output,
    )
