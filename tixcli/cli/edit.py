"""`tixcli edit`: change a ticket's fields (subject, priority, type, group, requester, assignee, tags)."""

from typing import Annotated

import typer

from tixcli.errors import InvalidInputError
from tixcli.model import TYPES, TicketChange, normalize_choice, normalize_priority, parse_field_assignments
from tixcli.output import clean, message, print_write_result

from .app import (
    FieldOption,
    PriorityOption,
    TypeOption,
    WriteFormat,
    app,
    check_text,
    check_utf8,
    check_write_format,
    get_state,
)
from .target import KeyOption, OptionalTicketId, target_ticket


@app.command()
def edit(
    ctx: typer.Context,
    ticket_id: OptionalTicketId = None,
    dedupe_key: KeyOption = None,
    subject: Annotated[
        str | None, typer.Option("--subject", "-s", help="A new one-line summary.", show_default=False)
    ] = None,
    priority: PriorityOption = None,
    type_: TypeOption = None,
    group: Annotated[str | None, typer.Option("--group", help="Group or team.", show_default=False)] = None,
    requester: Annotated[
        str | None,
        typer.Option(
            "--requester",
            help="The person the ticket is on behalf of (an email; a name on the local store).",
            show_default=False,
        ),
    ] = None,
    assignee: Annotated[
        str | None,
        typer.Option(
            "--assignee", help="Assign to this person (an email; a name on the local store).", show_default=False
        ),
    ] = None,
    unassign: Annotated[bool, typer.Option("--unassign", help="Leave the ticket without an assignee.")] = False,
    add_tag: Annotated[
        list[str] | None, typer.Option("--add-tag", help="Add a tag (repeatable).", show_default=False)
    ] = None,
    remove_tag: Annotated[
        list[str] | None, typer.Option("--remove-tag", help="Remove a tag (repeatable).", show_default=False)
    ] = None,
    field: FieldOption = None,
    fmt: WriteFormat = None,
) -> None:
    """Change a ticket's fields; only what is named changes (values it has already: nothing to do)."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    if subject is not None:
        subject = check_text(subject, "subject").strip()
        if "\n" in subject:
            raise InvalidInputError("the subject must be one line")
    change = TicketChange(
        subject=subject,
        priority=normalize_priority(priority),
        type=normalize_choice(type_, TYPES, "type"),
        group=check_text(group, "group").strip() if group is not None else None,
        requester=state.backend.person(requester, "requester") if requester is not None else None,
        assignee=state.backend.person(assignee, "assignee") if assignee is not None else None,
        unassign=unassign,
        add_tags=[check_utf8(t, "tag") for t in add_tag or []],
        remove_tags=[check_utf8(t, "tag") for t in remove_tag or []],
        fields=state.backend.custom_fields(parse_field_assignments(field or []), "edit --field"),
    )
    ticket_id = target_ticket(state, ticket_id, dedupe_key)
    assert ticket_id is not None
    result = state.backend.edit(ticket_id, change)
    if not result.changed:
        message(f"ticket {clean(ticket_id, one_line=True)} already has these values: nothing to do")
    if output:
        print_write_result(result.ticket, output, changed=result.changed)
