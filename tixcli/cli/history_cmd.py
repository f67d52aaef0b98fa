"""`tixcli history`: every change to a ticket, oldest first."""

from __future__ import annotations

import sys
from typing import IO, Annotated, Any

import typer

from tixcli.history import EVENT_FIELDS
from tixcli.output import clean, dumps_json, fields_json, local_time, message, write_csv, write_json_array

from .app import CsvRawOption, app, check_read_format, get_state, read_format_option
from .target import KeyOption, OptionalTicketId, target_ticket

TABLE = ("WHEN", "BY", "ACTOR", "CHANGE", "FROM", "TO")


@app.command()
def history(
    ctx: typer.Context,
    ticket_id: OptionalTicketId = None,
    dedupe_key: KeyOption = None,
    fmt: Annotated[str | None, read_format_option()] = None,
    csv_raw: CsvRawOption = False,
) -> None:
    """Every change to a ticket, oldest first: when, who (an agent, the requester, or automatic), what, from, to."""
    state = get_state(ctx)
    output = check_read_format(fmt)
    ticket_id = target_ticket(state, ticket_id, dedupe_key)
    assert ticket_id is not None
    backend = state.backend
    events = [e.to_dict(ticket_id, backend.name) for e in backend.ticket_history(ticket_id)]
    out = sys.stdout
    if output == "json":
        write_json_array(events, out)
    elif output == "jsonl":
        for event in events:
            out.write(dumps_json(event, pretty=False) + "\n")
    elif output == "csv":
        write_csv((_csv_event(e) for e in events), list(EVENT_FIELDS), out, raw=csv_raw)
    elif output == "yaml":
        from tixcli.output import _yaml

        out.write(_yaml(events))
    elif not events:
        message(f"ticket {clean(ticket_id, one_line=True)} has no recorded history")
    else:
        write_history_table(events, out, local=out.isatty())


def _csv_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event as a CSV row: old, new and detail as JSON where they are not plain text."""
    row = dict(event)
    for key in ("old", "new", "detail"):
        value = row[key]
        if isinstance(value, dict):
            row[key] = fields_json(value)
        elif isinstance(value, (list, bool, int, float)):
            import json

            row[key] = json.dumps(value, ensure_ascii=False)
    return row


def shown(value: Any) -> str:
    """A value in the table: lists joined by commas, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def change_name(event: dict[str, Any]) -> str:
    if event["change"] == "field":
        return f"field {event['field']}"
    if event["change"] == "comment":
        detail = event["detail"]
        kind = "comment" if detail.get("public", True) else "internal note"
        return f"{kind} {detail['comment_id']}" if detail.get("comment_id") else kind
    return event["change"]


def write_history_table(events: list[dict[str, Any]], out: IO[str], local: bool = False) -> None:
    """Columns padded to their widest cell, times local on a terminal (as `list`)."""
    rows = []
    for e in events:
        when = (local_time(e["at"]) if local else None) or ((e["at"] or "")[:16].replace("T", " "), "")
        cells = [f"{when[0]} {when[1]}".strip(), e["by"] or "", e["actor"] or "", change_name(e)]
        cells += [shown(e["old"]), shown(e["new"])]
        rows.append([clean(c, one_line=True).strip() for c in cells])
    from tixcli.terminal import text_width

    widths = [max(len(h), *(text_width(r[i]) for r in rows)) for i, h in enumerate(TABLE)]
    for cells in [list(TABLE), *rows]:
        padded = (c + " " * (w - text_width(c)) for c, w in zip(cells, widths, strict=True))
        out.write("  ".join(padded).rstrip() + "\n")
