"""`tixcli escalate`: open a ticket's escalation, or move it through its stages."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from tixcli.errors import InvalidInputError
from tixcli.output import clean, message, print_write_result

from .app import WriteFormat, app, check_text, check_write_format, get_state
from .target import KeyOption, OptionalTicketId, target_ticket


def parse_eta(value: str | None) -> str | None:
    """`--eta`: a date (YYYY-MM-DD, or an ISO 8601 time whose date is taken); a past one is
    allowed with a warning (an estimate that slipped is still worth recording)."""
    if value is None:
        return None
    text = value.strip()
    try:
        day = date.fromisoformat(text[:10])
        if len(text) > 10:
            from tixcli.model import parse_iso

            day = parse_iso(text).date()
    except (ValueError, InvalidInputError):
        raise InvalidInputError(f"invalid date {value!r}", hint="--eta 2026-12-24 (a date: YYYY-MM-DD)") from None
    if day < date.today():
        message(f"warning: the estimated date {day.isoformat()} has passed")
    return day.isoformat()


@app.command()
def escalate(
    ctx: typer.Context,
    ticket_id: OptionalTicketId = None,
    dedupe_key: KeyOption = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Open an escalation, saying why.", show_default=False)
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option(
            "--stage", help="Move the open escalation to this stage (the last one closes it).", show_default=False
        ),
    ] = None,
    eta: Annotated[
        str | None, typer.Option("--eta", help="The estimated resolution date (not a promise).", show_default=False)
    ] = None,
    fmt: WriteFormat = None,
) -> None:
    """Escalate a ticket (--reason) or move its escalation to a stage (--stage); show gives the timeline."""
    state = get_state(ctx)
    output = check_write_format(fmt)
    if (reason is None) == (stage is None):
        raise InvalidInputError("give --reason TEXT (to open an escalation) or --stage STAGE (to move it)")
    reason_text = check_text(reason, "reason").strip() if reason is not None else None
    stage_name = stage.strip().lower() if stage is not None else None
    when = parse_eta(eta)
    ticket_id = target_ticket(state, ticket_id, dedupe_key)
    assert ticket_id is not None
    result = state.backend.escalate(ticket_id, reason=reason_text, stage=stage_name, eta=when)
    escalation = result.ticket.escalation or {}
    if not result.changed:
        message(f"escalation {clean(escalation.get('id'), one_line=True)} is already at {stage_name}: nothing to do")
    elif reason_text is not None and not output:
        print(clean(escalation.get("id") or "", one_line=True))  # the new escalation's id, for scripts
    if output:
        print_write_result(result.ticket, output, changed=result.changed)
