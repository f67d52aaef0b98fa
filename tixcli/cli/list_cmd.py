"""`tixcli list`: my tickets, or everyone's, filtered."""

import io
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Annotated

import typer
from click.core import ParameterSource

from tixcli import completion as completing
from tixcli.errors import InvalidInputError
from tixcli.model import (
    ACTIVE_STATUSES,
    CHANNELS,
    STATUSES,
    TYPES,
    ListQuery,
    Ticket,
    normalize_choice,
    normalize_priority,
    normalize_tag,
    parse_field_assignments,
    parse_since,
)
from tixcli.output import message, parse_columns, print_tickets, reader_left
from tixcli.sla import parse_duration

from .app import (
    ChannelOption,
    CsvRawOption,
    FieldOption,
    PriorityOption,
    TypeOption,
    app,
    check_read_format,
    check_text,
    check_utf8,
    get_state,
    read_format_option,
)
from .show import ColorOption, NoPagerOption

SORTS = ("updated", "created", "priority")


def parse_statuses(value: str) -> tuple[str, ...] | None:
    """`active` (not solved/closed), `any`, or statuses separated by commas."""
    v = value.strip().lower()
    if v == "any":
        return None
    if v == "active":
        return ACTIVE_STATUSES
    statuses = tuple(s.strip() for s in v.split(",") if s.strip())
    for s in statuses:
        normalize_choice(s, (*STATUSES, "active", "any"), "status")
    if not statuses:
        raise InvalidInputError("--status is empty")
    return statuses


@app.command("list")
def list_tickets(
    ctx: typer.Context,
    all_: Annotated[
        bool, typer.Option("--all/--mine", help="Every ticket the account may see, or only my own (default).")
    ] = False,
    status: Annotated[
        str,
        typer.Option(
            "--status", help="A status, several with commas, 'active' or 'any'.", click_type=completing.STATUS_LIST
        ),
    ] = "active",
    type_: TypeOption = None,
    priority: PriorityOption = None,
    requester: Annotated[
        str | None,
        typer.Option(
            "--requester", help="Requested by this person: an email (a name on the local store); implies --all."
        ),
    ] = None,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="Assigned to this person (as --requester); implies --all.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Carrying this tag (repeatable: all of them).", show_default=False)
    ] = None,
    group: Annotated[str | None, typer.Option("--group", help="In this group or team.", show_default=False)] = None,
    channel: ChannelOption = None,
    field: FieldOption = None,
    breaching: Annotated[bool, typer.Option("--breaching", help="An SLA clock breached and not yet met.")] = False,
    due_within: Annotated[
        str | None,
        typer.Option(
            "--due-within", metavar="DURATION", help="An SLA clock due within 30m, 2h, 1d...", show_default=False
        ),
    ] = None,
    escalated: Annotated[bool, typer.Option("--escalated", help="With an open escalation.")] = False,
    search: Annotated[
        str | None,
        typer.Option("--search", "-q", help="Words that must all appear (subject, description, comments)."),
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Updated since: ISO date or time, or 7d / 12h.")] = None,
    created_since: Annotated[
        str | None, typer.Option("--created-since", help="Created since: ISO date or time, or 7d / 12h.")
    ] = None,
    sort: Annotated[
        str, typer.Option("--sort", help="updated, created or priority.", click_type=completing.SORT)
    ] = "updated",
    reverse: Annotated[
        bool, typer.Option("--reverse", help="The sort order turned round (--sort created --reverse: oldest first).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many tickets.", min=1, max=100000)] = 50,
    fmt: Annotated[str | None, read_format_option()] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="Fields to show, with commas (id,status,subject,...); with json, jsonl, csv, yaml: the keys.",
            show_default=False,
            click_type=completing.COLUMNS,
        ),
    ] = None,
    no_headers: Annotated[bool, typer.Option("--no-headers", help="No header line (table and csv).")] = False,
    plain: Annotated[
        bool,
        typer.Option("--plain", help="Tab-separated, one ticket a line, no header, nothing cut (for cut and awk)."),
    ] = False,
    color: ColorOption = "auto",
    no_pager: NoPagerOption = False,
    csv_raw: CsvRawOption = False,
) -> None:
    """List tickets: mine by default, --all for everyone's; active ones unless --status says otherwise."""
    from tixcli import terminal

    state = get_state(ctx)
    output = check_read_format(fmt)
    if plain and output != "table":
        if ctx.get_parameter_source("fmt") in (ParameterSource.COMMANDLINE, ParameterSource.PROMPT):
            raise InvalidInputError(f"--plain is a format of its own: not with --format {fmt}")
        output = "table"  # --plain wins over $TIXCLI_FORMAT
    if no_headers and output not in ("table", "csv"):
        raise InvalidInputError(f"--no-headers goes with the table or csv, not --format {output}")
    chosen = parse_columns(columns) if columns is not None else None
    display = terminal.display_for(color)
    if search is not None and not search.strip():
        raise InvalidInputError("--search is empty")
    if search is not None and "\x00" in search:
        raise InvalidInputError("--search contains a NUL byte")
    if search is not None:
        check_utf8(search, "--search text")
    query = ListQuery(
        user=state.profile.user,
        scope="all" if (all_ or requester or assignee) else "mine",
        statuses=parse_statuses(status),
        type=normalize_choice(type_, TYPES, "type"),
        priority=normalize_priority(priority),
        requester=state.backend.person(requester, "requester") if requester else None,
        assignee=state.backend.person(assignee, "assignee") if assignee else None,
        search=search.strip() if search else None,
        since=parse_since(since),
        tags=tuple(normalize_tag(check_utf8(t, "tag")) for t in tag or []),
        group=check_text(group, "group").strip() if group is not None else None,
        created_since=parse_since(created_since),
        sort=normalize_choice(sort, SORTS, "sort order"),
        reverse=reverse,
        channel=normalize_choice(channel, CHANNELS, "channel"),
        fields=list_fields(state.backend, field or []),
        breaching=breaching,
        due_within=timedelta(seconds=parse_duration(due_within, "--due-within")) if due_within is not None else None,
        escalated=escalated,
        limit=limit,
    )
    if query.group == "":
        raise InvalidInputError("--group is empty")
    # A person at a terminal is told when --limit cut the list: how many match where the backend
    # can count cheaply, and one ticket more is asked for to know where it cannot (stderr not a
    # terminal: the query is exactly as asked). The tickets are written as the backend reads them
    # (SQLite: from its cursor, in one read snapshot), so memory stays small whatever --limit
    # says; the stream is closed (the snapshot ended) once the output is written, or when writing
    # it fails (a closed pipe: `| head`).
    tell = terminal.is_terminal(sys.stderr)
    stream = state.backend.stream_tickets(replace(query, limit=limit + 1, count=True) if tell else query)
    given = 0

    def first(tickets: Iterable[Ticket]) -> Iterator[Ticket]:
        """The first `limit` tickets; what comes after is read (one at most) and counted."""
        nonlocal given
        for ticket in tickets:
            given += 1
            if given <= limit:
                yield ticket

    paging = display.terminal and not no_pager  # a person's output is held, to page it when long
    held = io.StringIO() if paging else None
    try:
        with stream:
            print_tickets(
                first(stream),
                output,
                held if held is not None else sys.stdout,
                csv_raw=csv_raw,
                columns=chosen,
                headers=not no_headers,
                plain=plain,
                display=None if plain else display,
                sort=query.sort,
            )
        if held is None:
            sys.stdout.flush()  # a reader that left (`| head`) shows here at the latest, not at exit
    except BrokenPipeError:
        reader_left()  # not an error (exit 0); the stream is closed already
        return
    total = stream.total  # a backend that knows how many match may say so (known once read)
    shown = min(given, limit)
    more = given > limit or (isinstance(total, int) and total > shown)
    if held is not None:
        from tixcli import pager

        pager.write(held.getvalue())
    if tell and more:
        message(limit_note(shown, total if isinstance(total, int) else None))


def limit_note(shown: int, total: int | None) -> str:
    """What a person is told on stderr when --limit cut the list."""
    if total is not None and total > shown:
        return f"{shown:,} of {total:,} shown; --limit N shows more"
    return f"{shown:,} shown; there are more: --limit N shows more"


def list_fields(backend, values: list[str]) -> tuple[tuple[str, object], ...]:
    """`list --field NAME=VALUE`: each field's wanted value, converted as the field takes it."""
    texts = parse_field_assignments(values, "--field")
    empty = [name for name, text in texts.items() if text is None]
    if empty:
        raise InvalidInputError(f"--field {empty[0]}= has no value to look for", hint="--field NAME=VALUE")
    return tuple(backend.custom_fields(texts, "list --field").items())
