"""`tixcli list`: my tickets, or everyone's, filtered."""

from typing import Annotated

import typer

from tixcli.errors import InvalidInputError
from tixcli.model import (
    ACTIVE_STATUSES,
    STATUSES,
    TYPES,
    ListQuery,
    normalize_choice,
    normalize_priority,
    parse_since,
    validate_email,
)
from tixcli.output import print_tickets

from .app import CsvRawOption, app, check_read_format, check_utf8, get_state, read_format_option

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
        str, typer.Option("--status", help="A status, several with commas, 'active' or 'any'.")
    ] = "active",
    type_: Annotated[str | None, typer.Option("--type", "-t", help="question, incident, problem or task.")] = None,
    priority: Annotated[str | None, typer.Option("--priority", help="low, normal, high, urgent (or P1..P4).")] = None,
    requester: Annotated[
        str | None, typer.Option("--requester", help="Requested by this email (implies --all).")
    ] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="Assigned to this email (implies --all).")] = None,
    search: Annotated[
        str | None,
        typer.Option("--search", "-q", help="Words that must all appear (subject, description, comments)."),
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Updated since: ISO date or time, or 7d / 12h.")] = None,
    sort: Annotated[str, typer.Option("--sort", help="updated, created or priority.")] = "updated",
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many tickets.", min=1, max=100000)] = 50,
    fmt: Annotated[str | None, read_format_option()] = None,
    csv_raw: CsvRawOption = False,
) -> None:
    """List tickets: mine by default, --all for everyone's; active ones unless --status says otherwise."""
    state = get_state(ctx)
    output = check_read_format(fmt)
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
        requester=validate_email(requester) if requester else None,
        assignee=validate_email(assignee) if assignee else None,
        search=search.strip() if search else None,
        since=parse_since(since),
        sort=normalize_choice(sort, SORTS, "sort order"),
        limit=limit,
    )
    print_tickets(state.backend.list_tickets(query), output, csv_raw=csv_raw)
