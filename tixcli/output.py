"""Everything tixcli prints: tables for people, JSON/JSONL/CSV/YAML for scripts.

Data goes to stdout, messages to stderr. Text that came from tickets or services is stripped of
control characters and escape sequences before it reaches a terminal (a subject can hold
`\\x1b]...`); bidi controls and C1 controls are shown as visible escapes (`\\u202e`), and JSON and
YAML carry them escaped. CSV cells a spreadsheet would run as a formula get a leading `'`.
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
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROLS_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]")
# Characters shown as a visible escape (\u202e) on a terminal and escaped in JSON and YAML: C1
# controls, and the bidi controls that reorder what a line appears to say.
_INVISIBLE = re.compile("[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# The same characters in UTF-8 (each sequence starts with a lead byte, so a match is never inside
# another character), for JSON lines that are written as bytes.
_INVISIBLE_UTF8 = re.compile(rb"\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
# A CSV cell starting with one of these is run as a formula by spreadsheets.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _escape(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04x}"


def _escape_utf8(match: re.Match) -> bytes:
    return b"\\u%04x" % ord(match.group().decode())


def clean(text: object, one_line: bool = False) -> str:
    """Make ticket (or service) text safe for a terminal."""
    if text is None:
        return ""
    value = _ESCAPES.sub("", str(text))
    value = _CONTROLS_ONE_LINE.sub(" ", value) if one_line else _CONTROLS.sub("", value)
    return _INVISIBLE.sub(_escape, value)


def escape_invisible(text: str) -> str:
    """JSON (or YAML double-quoted) text with C1 and bidi controls as \\uXXXX escapes."""
    return _INVISIBLE.sub(_escape, text)


def escape_invisible_utf8(line: bytes) -> bytes:
    """escape_invisible for a JSON line in UTF-8 (fast when there is nothing to escape)."""
    if line.isascii():  # most lines: one fast pass, no regex
        return line
    if b"\xc2" in line or b"\xe2" in line or b"\xd8" in line:  # the lead bytes of those characters
        return _INVISIBLE_UTF8.sub(_escape_utf8, line)
    return line


def message(text: str) -> None:
    print(text, file=sys.stderr)


def dumps_json(data: object, pretty: bool = True) -> str:
    # UTF-8 as it is, except C1 and bidi controls: json escapes only C0 controls by itself.
    return escape_invisible(json.dumps(data, ensure_ascii=False, indent=2 if pretty else None))


def flat_row(data: dict) -> dict:
    """A ticket dict for CSV: list fields joined with `;`."""
    return {k: ";".join(v) if isinstance(v, list) else v for k, v in data.items()}


def csv_cell(value: object, raw: bool = False) -> object:
    """A CSV cell: cleaned text; unless raw, a leading `'` where a spreadsheet would see a formula."""
    if not isinstance(value, str):
        return value
    value = clean(value)
    if not raw and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(row: dict, raw: bool = False) -> dict:
    return {k: csv_cell(v, raw) for k, v in flat_row(row).items()}


def write_csv(rows: Iterable[dict], fields: list[str], out: IO[str], raw: bool = False) -> None:
    import csv

    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(csv_row(row, raw))


def print_tickets(tickets: list[Ticket], fmt: str, out: IO[str] | None = None, csv_raw: bool = False) -> None:
    out = out or sys.stdout
    dicts = [t.to_dict(with_comments=False) for t in tickets]
    if fmt == "json":
        out.write(dumps_json(dicts) + "\n")
    elif fmt == "jsonl":
        for d in dicts:
            out.write(dumps_json(d, pretty=False) + "\n")
    elif fmt == "csv":
        write_csv(dicts, list(TICKET_FIELDS), out, raw=csv_raw)
    elif fmt == "yaml":
        out.write(_yaml(dicts))
    else:
        if not tickets:
            message("no tickets")
            return
        from tabulate import tabulate

        rows = [
            [
                clean(t.id, one_line=True),
                clean(t.status, one_line=True),
                clean(t.priority, one_line=True) or "-",
                clean(t.type, one_line=True) or "-",
                clean((t.updated_at or "")[:16].replace("T", " "), one_line=True),
                clean(t.requester, one_line=True),
                _truncate(clean(t.subject, one_line=True), 60),
            ]
            for t in tickets
        ]
        headers = ["ID", "STATUS", "PRIORITY", "TYPE", "UPDATED", "REQUESTER", "SUBJECT"]
        out.write(tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True) + "\n")


def print_ticket(
    ticket: Ticket, fmt: str, out: IO[str] | None = None, extra: dict | None = None, csv_raw: bool = False
) -> None:
    """One ticket, with its thread when it was fetched.

    CSV: one header and one row, the columns of `list --format csv` then `comment_count` and
    `comments` (the thread as one JSON array, the shape of `show --format json`).
    """
    out = out or sys.stdout
    data = ticket.to_dict()
    if extra:
        data.update(extra)
    if fmt in ("json", "jsonl"):
        out.write(dumps_json(data, pretty=fmt == "json") + "\n")
    elif fmt == "yaml":
        out.write(_yaml(data))
    elif fmt == "csv":
        comments = data.pop("comments", None)
        if comments is not None:
            data["comment_count"] = len(comments)
            data["comments"] = dumps_json(comments, pretty=False)
        fields = [*TICKET_FIELDS, *(extra or {}), *(["comment_count", "comments"] if comments is not None else [])]
        write_csv([data], fields, out, raw=csv_raw)
    else:
        out.write(_ticket_text(ticket))


def print_write_result(
    ticket: Ticket, fmt: str, created: bool | None = None, changed: bool = True, out: IO[str] | None = None
) -> None:
    """What every write command prints with --format json|jsonl|yaml: the resulting ticket's fields,
    then `created` (create only; else null) and `changed` (`tixcli schema --write-result`)."""
    print_ticket(ticket, fmt, out, extra={"created": created, "changed": changed})


def print_values(values: list, fmt: str, out: IO[str] | None = None) -> None:
    """A list of plain values (cc's participants) as json (one array), jsonl (one a line) or yaml."""
    out = out or sys.stdout
    if fmt == "json":
        out.write(dumps_json(values) + "\n")
    elif fmt == "jsonl":
        for value in values:
            out.write(dumps_json(value, pretty=False) + "\n")
    else:
        out.write(_yaml(values))


def _ticket_text(t: Ticket) -> str:
    lines = [f"#{clean(t.id, True)}  {clean(t.subject, one_line=True)}"]
    fields = [
        (
            "status",
            t.status + (f" ({t.raw_status})" if t.raw_status and t.raw_status != t.status else ""),
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
        lines.append(f"--- {clean(c.author, True) or 'unknown'} · {clean(c.created_at, True)}{visibility}")
        lines.append(clean(c.body).rstrip())
        for a in c.attachments:  # the id is what `tixcli download ID ATTACHMENT_ID` takes
            size = f"{a.size:,} bytes" if a.size is not None else "size unknown"
            where = f" [id {clean(a.id, True)}]" if a.id is not None else ""
            lines.append(f"  attachment: {clean(a.filename, True)} ({size}){where}")
    return "\n".join(lines) + "\n"


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _yaml(data: object) -> str:
    """YAML, UTF-8 as it is; a string holding C1 or bidi controls is double-quoted with escapes."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        if _INVISIBLE.search(value):
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
        return dumper.represent_str(value)

    Dumper.add_representer(str, represent_str)
    text = yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True)
    # PyYAML escapes C1 controls in a double-quoted scalar but writes bidi controls as they are;
    # every string holding one is double-quoted (above), so a \\uXXXX escape is valid wherever one is.
    return escape_invisible(text)
