"""`tixcli reply` and `tixcli attach`: add to a ticket's thread."""

from typing import Annotated

import click
import typer

from tixcli import completion as completing
from tixcli import editor as editing
from tixcli.attachments import prepare_uploads
from tixcli.lifecycle import REPLY_STATUSES
from tixcli.model import Reply, normalize_choice, validate_emails
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
    with_context,
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
    use_editor: Annotated[
        bool,
        typer.Option(
            "--editor",
            "-e",
            help="Write the text in $VISUAL (else $EDITOR, else vi) on the terminal, the ticket and its last "
            "comment quoted below the scissors line (one more read of the ticket).",
        ),
    ] = False,
    attach: AttachOption = None,
    cc: CcOption = None,
    internal: Annotated[
        bool, typer.Option("--internal", help="An internal note: not public; the status changes only with --status.")
    ] = False,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Set the status with the reply: open, pending or hold.", click_type=completing.REPLY_STATUS
        ),
    ] = None,
    ci: CiOption = False,
    attach_log: AttachLogOption = None,
    log_lines: LogLinesOption = DEFAULT_LOG_LINES,
    attach_stdin: AttachStdinOption = None,
    fmt: WriteFormat = None,
) -> None:
    """Reply to a ticket (a public reply to a solved ticket reopens it).

    -e opens your editor on the terminal for the text. Without -e, --body or --body-file is
    required: tixcli never prompts.
    """
    state = get_state(ctx)
    output = check_write_format(fmt)
    context = ci_context(ci)
    editing.check_sources(use_editor, body, body_file)
    generated = generated_files(state, attach_log, log_lines, attach_stdin, body_file)
    if use_editor:
        reply_in_editor(ctx, ticket_id, dedupe_key, internal, attach, cc, status, generated, output, context)
        return
    if editing.reads_terminal(body, body_file):
        state.backend  # noqa: B018 - a config or store error comes before the notice, not after
        editing.stdin_notice()
    new_reply = build_comment(state, body, body_file, internal, attach, cc, generated=generated, context=context)
    assert new_reply is not None  # a body is required
    new_reply.status = normalize_choice(status, REPLY_STATUSES, "reply status")
    send_reply(ctx, ticket_id, dedupe_key, new_reply, output, context)


def reply_in_editor(
    ctx: typer.Context,
    ticket_id: str | None,
    key: str | None,
    internal: bool,
    attach: list[str] | None,
    cc: list[str] | None,
    status: str | None,
    generated: list[tuple[str, bytes]],
    output: str | None,
    context,
) -> None:
    """`reply -e`: every option checked, the files read and the ticket read (its subject and last
    comment for the template) before the editor opens; its text is the reply."""
    state = get_state(ctx)
    profile = state.profile
    reply_status = normalize_choice(status, REPLY_STATUSES, "reply status")
    emails = validate_emails(cc or [])
    uploads = prepare_uploads(attach or [], profile.attachment_limits(), generated)
    target = target_ticket(state, ticket_id, key)
    assert target is not None
    ticket = state.backend.get(target)
    written = editing.edit(editing.reply_template(ticket), "REPLY.md")
    text = with_context(read_body(written, None, state=state), context, "")
    assert text is not None
    new_reply = Reply(
        body=text, author=profile.user, public=not internal, status=reply_status, cc=emails, attachments=uploads
    )
    send_reply(ctx, target, None, new_reply, output, context)


@app.command()
def attach(
    ctx: typer.Context,
    ticket_id: LooseTicketId = None,
    files: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="FILE...", help="Files to attach (at most 5).", show_default=False, click_type=completing.FILE
        ),
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
