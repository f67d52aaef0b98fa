"""`tixcli create`: open a ticket (or, with --dedupe-key, add to the open one)."""

from typing import Annotated

import typer

from tixcli.attachments import prepare_uploads
from tixcli.errors import InvalidInputError
from tixcli.model import (
    TYPES,
    NewTicket,
    normalize_choice,
    normalize_priority,
    validate_email,
    validate_emails,
)
from tixcli.output import clean, message, print_write_result

from .app import (
    AttachOption,
    BodyFileOption,
    BodyOption,
    CcOption,
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
    subject: Annotated[str, typer.Option("--subject", "-s", help="One-line summary.", show_default=False)],
    body: BodyOption = None,
    body_file: BodyFileOption = None,
    type_: Annotated[
        str | None,
        typer.Option("--type", "-t", help="question, incident, problem or task.", show_default=False),
    ] = None,
    priority: Annotated[
        str | None,
        typer.Option("--priority", help="low, normal, high, urgent (or P1..P4).", show_default=False),
    ] = None,
    group: Annotated[str | None, typer.Option("--group", help="Group or team.", show_default=False)] = None,
    requester: Annotated[
        str | None, typer.Option("--requester", help="Open on behalf of this email.", show_default=False)
    ] = None,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="Assign the ticket to this email.", show_default=False)
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).", show_default=False)] = None,
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
    """Open a ticket and print its id (with --dedupe-key: reuse the open one carrying the key)."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    subject = check_text(subject, "subject")
    if "\n" in subject.strip():
        raise InvalidInputError("the subject must be one line")
    context = ci_context(ci)
    text = with_context(read_body(body, body_file), context, "")
    assert text is not None  # a body is required
    if dedupe_key is not None:
        dedupe_key = dedupe_key_value(dedupe_key)
    tags = [check_text(t, "tag").strip() for t in tag or []]
    if context is not None:
        tags += [t for t in context.tags() if t not in tags]
    profile = state.profile
    generated = generated_files(state, attach_log, log_lines, attach_stdin, body_file)
    new = NewTicket(
        subject=subject.strip(),
        body=text,
        author=profile.user,
        requester=validate_email(requester) if requester else profile.user,
        assignee=validate_email(assignee) if assignee is not None else None,
        type=normalize_choice(type_, TYPES, "type"),
        priority=normalize_priority(priority),
        group=check_utf8(group, "group") if group is not None else None,
        tags=tags,
        cc=validate_emails(cc or []),
        attachments=prepare_uploads(attach or [], profile.attachment_limits(), generated),
        dedupe_key=dedupe_key,
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
