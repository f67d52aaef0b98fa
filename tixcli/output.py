"""Everything tixcli prints: tables for people, JSON/JSONL/CSV/YAML for scripts.

Data goes to stdout, messages to stderr. Text that came from tickets is stripped of control
characters and escape sequences before it reaches a terminal (a subject can hold `\\x1b]...`).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from typing import IO

from .model import TICKET_FIELDS, Ticket

READ_FORMATS = ("table", "json", "jsonl", "csv", "yaml")
WRITE_FORMATS = ("json", "jsonl", "yaml")

# ANSI/VT escape sequences (CSI, OSC, and two-character escapes), then other C0/C1 controls.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROLS_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: object, one_line: bool = False) -> str:
    """Make ticket text safe for a terminal."""
    if text is None:
        return ""
    value = _ESCAPES.sub("", str(text))
    if one_line:
        return _CONTROLS_ONE_LINE.sub(" ", value)
    return _CONTROLS.sub("", value)


def message(text: str) -> None:
    print(text, file=sys.stderr)


def dumps_json(data: object, pretty: bool = True) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2 if pretty else None)


def flat_row(data: dict) -> dict:
    """A ticket dict for CSV: list fields joined with `;`."""
    return {k: ";".join(v) if isinstance(v, list) else v for k, v in data.items()}


def write_csv(rows: Iterable[dict], fields: list[str], out: IO[str]) -> None:
    import csv

    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: clean(v) if isinstance(v, str) else v for k, v in flat_row(row).items()})


def print_tickets(tickets: list[Ticket], fmt: str, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    dicts = [t.to_dict(with_comments=False) for t in tickets]
    if fmt == "json":
        out.write(dumps_json(dicts) + "\n")
    elif fmt == "jsonl":
        for d in dicts:
            out.write(dumps_json(d, pretty=False) + "\n")
    elif fmt == "csv":
        write_csv(dicts, list(TICKET_FIELDS), out)
    elif fmt == "yaml":
        out.write(_yaml(dicts))
    else:
        if not tickets:
            message("no tickets")
            return
        from tabulate import tabulate

        rows = [
            [
                t.id,
                t.status,
                t.priority or "-",
                t.type or "-",
                (t.updated_at or "")[:16].replace("T", " "),
                clean(t.requester, one_line=True),
                _truncate(clean(t.subject, one_line=True), 60),
            ]
            for t in tickets
        ]
        headers = ["ID", "STATUS", "PRIORITY", "TYPE", "UPDATED", "REQUESTER", "SUBJECT"]
        out.write(tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True) + "\n")


def print_ticket(ticket: Ticket, fmt: str, out: IO[str] | None = None, extra: dict | None = None) -> None:
    """One ticket, with its thread when it was fetched."""
    out = out or sys.stdout
    data = ticket.to_dict()
    if extra:
        data.update(extra)
    if fmt in ("json", "jsonl"):
        out.write(dumps_json(data, pretty=fmt == "json") + "\n")
    elif fmt == "yaml":
        out.write(_yaml(data))
    elif fmt == "csv":
        write_csv([data], [*TICKET_FIELDS, *(extra or {})], out)
    else:
        out.write(_ticket_text(ticket))


def _ticket_text(t: Ticket) -> str:
    lines = [f"#{t.id}  {clean(t.subject, one_line=True)}"]
    fields = [
        (
            "status",
            t.status + (f" ({clean(t.raw_status, True)})" if t.raw_status and t.raw_status != t.status else ""),
        ),
        ("priority", t.priority),
        ("type", t.type),
        ("requester", t.requester),
        ("assignee", t.assignee),
        ("group", t.group),
        ("cc", ", ".join(t.cc)),
        ("tags", ", ".join(t.tags)),
        ("dedupe key", t.external_id),
        ("created", t.created_at),
        ("updated", t.updated_at),
        ("solved", t.solved_at),
        ("url", t.url),
    ]
    for name, value in fields:
        if value:
            lines.append(f"  {name + ':':<12}{clean(value, one_line=True)}")
    for c in t.comments or []:
        visibility = "" if c.public else " [internal]"
        lines.append("")
        lines.append(f"--- {clean(c.author, True) or 'unknown'} · {c.created_at or ''}{visibility}")
        lines.append(clean(c.body).rstrip())
        for a in c.attachments:
            size = f"{a.size:,} bytes" if a.size is not None else "size unknown"
            lines.append(f"  attachment: {clean(a.filename, True)} ({size})")
    return "\n".join(lines) + "\n"


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _yaml(data: object) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
