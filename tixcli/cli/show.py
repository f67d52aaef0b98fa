"""`tixcli show`: one ticket with its whole thread."""

from typing import Annotated

import typer

from tixcli import completion as completing
from tixcli.errors import InvalidInputError
from tixcli.output import print_ticket

from .app import CsvRawOption, app, check_read_format, get_state, read_format_option
from .target import KeyOption, OptionalTicketId, target_ticket

ColorOption = Annotated[
    str,
    typer.Option(
        "--color",
        help="Colour status and priority: auto (on a terminal, unless NO_COLOR is set), always or never.",
        click_type=completing.COLOR,
    ),
]
NoPagerOption = Annotated[
    bool,
    typer.Option(
        "--no-pager",
        help="Never page: output longer than the terminal goes through $TIXCLI_PAGER, $PAGER or less -FRX.",
    ),
]


@app.command()
def show(
    ctx: typer.Context,
    ticket_id: OptionalTicketId = None,
    dedupe_key: KeyOption = None,
    fmt: Annotated[str | None, read_format_option()] = None,
    comments: Annotated[
        int | None,
        typer.Option(
            "--comments",
            metavar="N",
            help="Only the last N comments (the description, the first one, always shows).",
            show_default=False,
        ),
    ] = None,
    color: ColorOption = "auto",
    no_pager: NoPagerOption = False,
    csv_raw: CsvRawOption = False,
) -> None:
    """Show a ticket with its comments, attachments and CCs (csv: one row, the thread as JSON in `comments`)."""
    from tixcli import terminal

    state = get_state(ctx)
    output = check_read_format(fmt)
    if comments is not None and comments < 1:
        raise InvalidInputError(f"--comments {comments}: show at least one comment", hint="--comments 1 or more")
    display = terminal.display_for(color)
    ticket_id = target_ticket(state, ticket_id, dedupe_key)
    assert ticket_id is not None
    ticket = state.backend.get(ticket_id)
    hidden = 0
    thread = ticket.comments
    if comments is not None and thread is not None and len(thread) > comments + 1:
        # the first comment is the description (every backend opens the thread with it)
        hidden = len(thread) - 1 - comments
        ticket.comments = [thread[0], *thread[-comments:]]
    if display.terminal and not no_pager:  # held, to page it when it is longer than the terminal
        import io

        from tixcli import pager

        buffer = io.StringIO()
        print_ticket(ticket, output, buffer, csv_raw=csv_raw, display=display, hidden_comments=hidden)
        pager.write(buffer.getvalue())
    else:
        print_ticket(ticket, output, csv_raw=csv_raw, display=display, hidden_comments=hidden)
