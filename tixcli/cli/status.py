"""`tixcli solve` and `tixcli close`: move a ticket along its lifecycle (`reopen`: reopen.py).

Each takes the comment options of `reply` (--body, --body-file, --internal, --attach, --cc); the
comment goes in with the change. Nothing to do (solve on a solved ticket, close on a closed one)
is not a refusal: exit 0, a note on stderr, `changed: false`.
"""

from typing import TYPE_CHECKING

import typer

from tixcli.output import clean, message, print_write_result

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
from .target import KeyOption, OptionalTicketId, print_no_ticket, target_ticket

if TYPE_CHECKING:  # the backends load lazily, not for --help
    from tixcli.backends.base import WriteResult


def report_status_change(ticket_id: str, result: "WriteResult", output: str | None, nothing_to_do: str) -> None:
    """The write result on request, and a note on stderr when there was nothing to do."""
    if not result.changed:
        message(f"ticket {clean(ticket_id, one_line=True)} {nothing_to_do}: nothing to do")
    if output:
        print_write_result(result.ticket, output, changed=result.changed)


@app.command()
def solve(
    ctx: typer.Context,
    ticket_id: OptionalTicketId = None,
    dedupe_key: KeyOption = None,
    body: BodyOption = None,
    body_file: BodyFileOption = None,
    internal: InternalOption = False,
    attach: AttachOption = None,
    cc: CcOption = None,
    ci: CiOption = False,
    attach_log: AttachLogOption = None,
    log_lines: LogLinesOption = DEFAULT_LOG_LINES,
    attach_stdin: AttachStdinOption = None,
    fmt: WriteFormat = None,
) -> None:
    """Mark a ticket solved (from new, open, pending or hold), optionally with a last comment."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    context = ci_context(ci)
    generated = generated_files(state, attach_log, log_lines, attach_stdin, body_file)
    comment = build_comment(
        state,
        body,
        body_file,
        internal,
        attach,
        cc,
        required=False,
        generated=generated,
        context=context,
        fallback="The CI job passes again.",
    )
    ticket_id = target_ticket(state, ticket_id, dedupe_key, missing_ok=True)
    if ticket_id is None:  # no open ticket carries the key: nothing to solve
        write_github_output(context, None, False)
        print_no_ticket(output)
        return
    result = state.backend.solve(ticket_id, comment=comment)
    write_github_output(context, result.ticket, False)
    report_status_change(ticket_id, result, output, "is already solved")


@app.command()
def close(
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
    """Close a ticket for good: a closed ticket takes no more replies or changes."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    comment = build_comment(state, body, body_file, internal, attach, cc, required=False)
    ticket_id = target_ticket(state, ticket_id, dedupe_key, missing_ok=True)
    if ticket_id is None:  # no open ticket carries the key: nothing to close
        print_no_ticket(output)
        return
    result = state.backend.close(ticket_id, comment=comment)
    report_status_change(ticket_id, result, output, "is already closed")
