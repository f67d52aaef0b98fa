"""`tixcli create`: open a ticket (or, with --dedupe-key, add to the open one)."""

from typing import Annotated

import click
import typer

from tixcli import editor as editing
from tixcli.attachments import prepare_uploads
from tixcli.errors import InvalidInputError
from tixcli.model import (
    CHANNELS,
    TYPES,
    NewTicket,
    normalize_choice,
    normalize_priority,
    parse_field_assignments,
    validate_emails,
)
from tixcli.output import clean, message, print_write_result

from .app import (
    AttachOption,
    BodyFileOption,
    BodyOption,
    CcOption,
    ChannelOption,
    FieldOption,
    PriorityOption,
    TypeOption,
    WriteFormat,
    app,
    check_text,
    check_utf8,
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
from .target import dedupe_key_value


@app.command()
def create(
    ctx: typer.Context,
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject", "-s", help="One-line summary (required; with -e, the editor's first line).", show_default=False
        ),
    ] = None,
    body: BodyOption = None,
    body_file: BodyFileOption = None,
    use_editor: Annotated[
        bool,
        typer.Option(
            "--editor",
            "-e",
            help="Write the subject and the text in $VISUAL (else $EDITOR, else vi) on the terminal: "
            "the subject on the first line (-s fills it in), the text after a blank line.",
        ),
    ] = False,
    type_: TypeOption = None,
    priority: PriorityOption = None,
    group: Annotated[str | None, typer.Option("--group", help="Group or team.", show_default=False)] = None,
    requester: Annotated[
        str | None,
        typer.Option(
            "--requester",
            help="Open on behalf of this person (an email; a name on the local store).",
            show_default=False,
        ),
    ] = None,
    assignee: Annotated[
        str | None,
        typer.Option(
            "--assignee",
            help="Assign the ticket to this person (an email; a name on the local store).",
            show_default=False,
        ),
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).", show_default=False)] = None,
    field: FieldOption = None,
    channel: ChannelOption = None,
    cc: CcOption = None,
    attach: AttachOption = None,
    dedupe_key: Annotated[
        str | None,
        typer.Option(
            "--dedupe-key",
            help="Reuse the open ticket with this key instead of opening another ('auto': the key of this CI run).",
            show_default=False,
        ),
    ] = None,
    ci: CiOption = False,
    attach_log: AttachLogOption = None,
    log_lines: LogLinesOption = DEFAULT_LOG_LINES,
    attach_stdin: AttachStdinOption = None,
    fmt: WriteFormat = None,
) -> None:
    """Open a ticket and print its id (with --dedupe-key: reuse the open one carrying the key).

    -e opens your editor on the terminal for the subject and the text, even with stdout captured:
    ID=$(tixcli create -e). Without -e, --body or --body-file is required: tixcli never prompts.
    """
    state = get_state(ctx)
    if subject is None and not use_editor:
        param = next(p for p in ctx.command.params if p.name == "subject")
        raise click.MissingParameter(ctx=ctx, param=param)
    output = check_write_format(fmt)
    if subject is not None:
        subject = check_text(subject, "subject").strip()
        if "\n" in subject:
            raise InvalidInputError("the subject must be one line")
    context = ci_context(ci)
    editing.check_sources(use_editor, body, body_file)
    text = None
    if not use_editor:
        if editing.reads_terminal(body, body_file):
            state.backend  # noqa: B018 - a config or store error comes before the notice, not after
            editing.stdin_notice()
        text = with_context(read_body(body, body_file), context, "")
    if dedupe_key is not None:
        dedupe_key = dedupe_key_value(dedupe_key)
    tags = [check_text(t, "tag").strip() for t in tag or []]
    if context is not None:
        tags += [t for t in context.tags() if t not in tags]
    profile = state.profile
    generated = generated_files(state, attach_log, log_lines, attach_stdin, body_file)
    # everything else is checked (and the files read) before the editor opens: a mistake in an
    # option never costs the text written
    requester_email = state.backend.person(requester, "requester") if requester else profile.user
    assignee_email = state.backend.person(assignee, "assignee") if assignee is not None else None
    type_value = normalize_choice(type_, TYPES, "type")
    priority_value = normalize_priority(priority)
    group_value = check_utf8(group, "group") if group is not None else None
    cc_emails = validate_emails(cc or [])
    channel_value = normalize_choice(channel, CHANNELS, "channel")
    texts = {k: v for k, v in parse_field_assignments(field or []).items() if v is not None}
    field_values = state.backend.custom_fields(texts, "create --field")
    uploads = prepare_uploads(attach or [], profile.attachment_limits(), generated)
    if use_editor:
        subject, written = editing.split_new_ticket(editing.edit(editing.new_ticket_template(subject), "TICKET.md"))
        subject = check_text(subject, "subject")
        text = with_context(read_body(written, None, state=state), context, "")
    assert subject is not None and text is not None  # -s or the editor; a body is required
    new = NewTicket(
        subject=subject,
        body=text,
        author=profile.user,
        requester=requester_email,
        assignee=assignee_email,
        type=type_value,
        priority=priority_value,
        group=group_value,
        tags=tags,
        cc=cc_emails,
        attachments=uploads,
        dedupe_key=dedupe_key,
        channel=channel_value,
        fields=field_values,
    )
    result = state.backend.create(new)
    if not result.created:
        message(
            f"added to #{clean(result.ticket.id, one_line=True)}: open ticket with dedupe key "
            f"{clean(dedupe_key or '', one_line=True)}"
        )
    write_github_output(context, result.ticket, result.created)
    if output:
        print_write_result(result.ticket, output, created=result.created, changed=True)
    else:
        print(clean(result.ticket.id, one_line=True))
