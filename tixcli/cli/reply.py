"""`tixcli reply` and `tixcli attach`: add to a ticket's thread."""

from typing import Annotated

import click
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
    WriteFormat,
    app,
    build_comment,
    check_write_format,
    get_state,
    read_body,
)
from .ci_options import (
    DEFAULT_LOG_LINES,
    AttachLogOption,
    AttachStdinOption,
    CiOption,
    LogLinesOption,
    ci_context,
    generated_files,
    write_github_output,
)
from .target import KeyOption, LooseTicketId, OptionalTicketId, shift_into, target_ticket


def send_reply(
    ctx: typer.Context, ticket_id: str | None, key: str | None, reply: Reply, fmt: str | None, context=None
) -> None:
    state = get_state(ctx)
    target = target_ticket(state, ticket_id, key)
    assert target is not None
    ticket = state.backend.reply(target, reply)
    write_github_output(context, ticket, False)
    if fmt:
        print_write_result(ticket, fmt, changed=True)


@app.command()
def reply(
    ctx: typer.Context,
    ticket_id: OptionalTicketId = None,
    dedupe_key: KeyOption = None,
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
    ci: CiOption = False,
    attach_log: AttachLogOption = None,
    log_lines: LogLinesOption = DEFAULT_LOG_LINES,
    attach_stdin: AttachStdinOption = None,
    fmt: WriteFormat = None,
) -> None:
    """Reply to a ticket (a public reply to a solved ticket reopens it)."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    context = ci_context(ci)
    generated = generated_files(state, attach_log, log_lines, attach_stdin, body_file)
    new_reply = build_comment(state, body, body_file, internal, attach, cc, generated=generated, context=context)
    assert new_reply is not None  # a body is required
    new_reply.status = normalize_choice(status, REPLY_STATUSES, "reply status")
    send_reply(ctx, ticket_id, dedupe_key, new_reply, output, context)


@app.command()
def attach(
    ctx: typer.Context,
    ticket_id: LooseTicketId = None,
    files: Annotated[
        list[str] | None, typer.Argument(metavar="FILE...", help="Files to attach (at most 5).", show_default=False)
    ] = None,
    dedupe_key: KeyOption = None,
    body: BodyOption = None,
    internal: Annotated[bool, typer.Option("--internal", help="Attach in an internal note.")] = False,
    fmt: WriteFormat = None,
) -> None:
    """Attach files to a ticket in one comment (its text: --body, else "Attached: NAMES")."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    profile = state.profile
    ticket_id, paths = shift_into(ticket_id, dedupe_key, files)
    if not paths:
        raise click.UsageError("Missing argument 'FILE...'.")
    uploads = prepare_uploads(paths, profile.attachment_limits())
    text = read_body(body, None, required=False) or "Attached: " + ", ".join(u.filename for u in uploads)
    send_reply(
        ctx,
        ticket_id,
        dedupe_key,
        Reply(body=text, author=profile.user, public=not internal, attachments=uploads),
        output,
    )
