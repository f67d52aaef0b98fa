"""Everything tixcli prints: tables for people, JSON/JSONL/CSV/YAML for scripts.

Data goes to stdout, messages to stderr. Text that came from tickets or services is stripped of
control characters and escape sequences before it reaches a terminal (a subject can hold
`\\x1b]...`); bidi controls and C1 controls are shown as visible escapes (`\\u202e`), and JSON and
YAML carry them escaped. CSV cells a spreadsheet would run as a formula get a leading `'`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING

from .model import TICKET_FIELDS, Ticket

if TYPE_CHECKING:
    from .terminal import Display

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
    value = str(text)
    if value.isprintable():  # most text: no control, escape, C1 or bidi character (one C pass)
        return value
    value = _ESCAPES.sub("", value)
    value = _CONTROLS_ONE_LINE.sub(" ", value) if one_line else _CONTROLS.sub("", value)
    return _INVISIBLE.sub(_escape, value)


def escape_invisible(text: str) -> str:
    """JSON (or YAML double-quoted) text with C1 and bidi controls as \\uXXXX escapes."""
    if text.isascii():  # most text: nothing to look for
        return text
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


def reader_left() -> None:
    """stdout's reader has gone (`tixcli list | head`): what is still buffered for it goes to
    /dev/null, so that exiting does not fail on it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):  # not a file (captured in-process)
        pass


def dumps_json(data: object, pretty: bool = True) -> str:
    # UTF-8 as it is, except C1 and bidi controls: json escapes only C0 controls by itself.
    import json

    return escape_invisible(json.dumps(data, ensure_ascii=False, indent=2 if pretty else None))


def write_json_array(items: Iterable[object], out: IO[str]) -> None:
    """`dumps_json(list(items))` and a newline, byte for byte, written an item at a time: `[`, each
    item indented as json.dumps(indent=2) indents it inside the list, `]` (`[]` when empty)."""
    from json.encoder import encode_basestring  # json's own, in C: UTF-8 kept (ensure_ascii=False)

    first = True
    for item in items:
        out.write(("[\n  " if first else ",\n  ") + _pretty_item(item, encode_basestring))
        first = False
    out.write("[]\n" if first else "\n]\n")


def _pretty_item(item: object, quote: Callable[[str], str]) -> str:
    """dumps_json(item) one level down a list (each line after the first indented two spaces).

    A ticket's dict (strings, None, lists of strings) is written here as json.dumps(indent=2)
    writes it (its indenting encoder is pure Python, and slow); anything else by json itself."""
    if type(item) is dict and item:
        lines = []
        for key, value in item.items():
            if type(key) is not str:
                break
            if value is None:
                shown = "null"
            elif type(value) is str:
                shown = quote(value)
            elif type(value) is dict and not value:
                shown = "{}"
            elif type(value) is list and all(type(v) is str for v in value):
                shown = "[\n      " + ",\n      ".join(map(quote, value)) + "\n    ]" if value else "[]"
            else:
                break
            lines.append(f"    {quote(key)}: {shown}")
        else:
            return escape_invisible("{\n" + ",\n".join(lines) + "\n  }")
    return dumps_json(item).replace("\n", "\n  ")


def flat_row(data: dict) -> dict:
    """A ticket dict for CSV: list fields joined with `;`, custom fields as one JSON object."""
    return {
        k: ";".join(v) if isinstance(v, list) else fields_json(v) if isinstance(v, dict) else v for k, v in data.items()
    }


def fields_json(fields: dict) -> str:
    """Custom fields in a CSV cell: a JSON object, keys sorted (empty: nothing)."""
    import json

    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if fields else ""


def fields_text(fields: dict) -> str:
    """Custom fields in a table: `name=value` pairs (a list's values joined by commas)."""

    def shown(value: object) -> str:
        if isinstance(value, list):
            return ",".join(map(str, value))
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return ", ".join(f"{k}={shown(v)}" for k, v in fields.items())


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


def write_csv(rows: Iterable[dict], fields: list[str], out: IO[str], raw: bool = False, header: bool = True) -> None:
    """Dicts as CSV rows of `fields` (other keys ignored, missing ones empty), as csv.DictWriter."""
    cells = ([row.get(f, "") for f in fields] for row in (csv_row(r, raw) for r in rows))
    _write_csv_cells(cells, fields, out, header)


def _write_csv_cells(rows: Iterable[list], fields: Iterable[str], out: IO[str], header: bool) -> None:
    import csv

    writer = csv.writer(out, lineterminator="\n")  # what csv.DictWriter writes through
    if header:
        writer.writerow(list(fields))
    writer.writerows(rows)


def _csv_ticket_cells(tickets: Iterable[Ticket], fields: tuple[str, ...], raw: bool) -> Iterator[list]:
    """Each ticket's CSV cells as csv_row gives them for its dict, from the attributes CSV shows."""
    for t in tickets:
        cells = [getattr(t, f) for f in fields]
        for i, value in enumerate(cells):
            if value is None:
                continue
            if type(value) is str and value.isprintable() and not value.startswith(_FORMULA_STARTS):
                continue  # most cells: nothing to clean, no formula (csv_cell would give it back)
            if isinstance(value, (list, tuple)):
                value = ";".join(value)
            elif isinstance(value, dict):
                value = fields_json(value)
            cells[i] = csv_cell(value, raw)
        yield cells


# -- tables -----------------------------------------------------------------------------------

# What `list` shows by default (the time column follows --sort: CREATED for `--sort created`).
TABLE_COLUMNS = ("id", "status", "priority", "type", "updated_at", "requester", "subject")
# A table header is the field's name in capitals, except for these.
TABLE_HEADERS = {"created_at": "CREATED", "updated_at": "UPDATED", "solved_at": "SOLVED"}
# --columns takes the table's names for the times too.
COLUMN_ALIASES = {"created": "created_at", "updated": "updated_at", "solved": "solved_at"}
# On a terminal these columns take the width the others leave, cut with `…`; the others keep theirs.
FREE_COLUMNS = ("subject", "description")
TIME_COLUMNS = ("created_at", "updated_at", "solved_at")
# Columns shown as "-" when empty (as the table always has).
_DASHED = ("priority", "type")
# Cleaned text holds no C0 control: this one joins a local time to its zone inside a table cell.
_ZONE = "\x1f"
_MIN_FREE = 10

# SGR colours (only on a terminal, or with --color always).
STATUS_COLORS = {"new": "33", "open": "31", "pending": "34", "hold": "35", "solved": "32", "closed": "2"}
PRIORITY_COLORS = {"urgent": "1;31", "high": "33", "low": "2"}


def table_columns(sort: str = "updated") -> tuple[str, ...]:
    """The default table's columns: the time shown is the one the rows are sorted by."""
    if sort == "created":
        return tuple("created_at" if c == "updated_at" else c for c in TABLE_COLUMNS)
    return TABLE_COLUMNS


def parse_columns(value: str) -> tuple[str, ...]:
    """`--columns id,status,subject`: fields of the model (the table's CREATED / UPDATED / SOLVED
    names too), in that order, each once; anything else is refused (exit 6) with the fields."""
    from .errors import InvalidInputError

    hint = "columns are the fields of a ticket: " + ", ".join(TICKET_FIELDS) + " (or created, updated, solved)"
    chosen: list[str] = []
    for part in value.split(","):
        name = part.strip().lower()
        if not name:
            continue
        name = COLUMN_ALIASES.get(name, name)
        if name not in TICKET_FIELDS:
            raise InvalidInputError(f"unknown column {clean(part.strip(), one_line=True)!r}", hint=hint)
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InvalidInputError("--columns is empty", hint=hint)
    return tuple(chosen)


def paint(text: str, code: str | None) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if code and text else text


def local_time(value: str | None) -> tuple[str, str] | None:
    """A stored ISO 8601 time as "YYYY-MM-DD HH:MM" in the local zone (TZ honoured), and the
    zone's name; None when it is not a time."""
    if not value:
        return None
    from .errors import TixError
    from .model import parse_iso

    try:
        when = parse_iso(str(value)).astimezone()
        zone = when.tzname() or when.strftime("%z")
        return when.strftime("%Y-%m-%d %H:%M"), clean(zone, one_line=True)
    except (TixError, ValueError, OverflowError, OSError):
        return None


def _table_cell(ticket: Ticket, field: str, local: bool) -> str:
    value = getattr(ticket, field)
    if field in TIME_COLUMNS:
        if local:
            shown = local_time(value)
            if shown is not None:
                return shown[0] + _ZONE + shown[1]
        return clean((value or "")[:16].replace("T", " "), one_line=True).strip()
    if isinstance(value, list):
        return clean(", ".join(value), one_line=True).strip()
    if field in _SUMMARISED:
        return clean(_SUMMARISED[field](value), one_line=True).strip()
    if isinstance(value, dict):
        return clean(fields_text(value), one_line=True).strip()
    text = clean(value, one_line=True).strip()
    return text or ("-" if field in _DASHED else "")


# a table's cell of the fields that are records: what a person reads of them
_SUMMARISED: dict[str, Callable[[dict | None], str]] = {
    "sla": lambda sla: _sla_text(sla, True, lambda v: v),
    "escalation": lambda e: f"{e.get('id')} {e.get('stage')}" if e else "",
    "satisfaction": lambda r: str(r.get("rating")) if r else "",
}


def _plain_cell(ticket: Ticket, field: str) -> str:
    value = getattr(ticket, field)
    if isinstance(value, list):
        return clean(",".join(value), one_line=True)
    if isinstance(value, dict):
        return clean(fields_json(value), one_line=True)
    return clean(value, one_line=True)


def write_plain(tickets: Iterable[Ticket], columns: tuple[str, ...], out: IO[str]) -> None:
    """`--plain`: one ticket a line, its fields separated by tabs, no header, nothing cut, the
    values as JSON has them (times in ISO 8601 UTC, lists joined with `,`, null as empty)."""
    for t in tickets:
        out.write("\t".join(_plain_cell(t, c) for c in columns) + "\n")


def write_table(
    tickets: Iterable[Ticket],
    columns: tuple[str, ...],
    out: IO[str],
    display: Display | None = None,
    headers: bool = True,
) -> int:
    """The table people read: columns padded to their widest cell (and header) and separated by
    two spaces, lines without trailing spaces.

    Not on a terminal (`display.width` None) nothing is cut and the times are as stored; the rows
    are kept as one string each while the widths are measured (100,000 rows: some 20 MB). On a
    terminal the table fits its width: the free columns (subject, description) take what the
    others leave and are cut with `…`; times are local with their zone (in the header when every
    row has the same one); status and priority are coloured when `display.color`. Returns the
    number of rows: none writes nothing, not even the header.
    """
    from .terminal import Display, cut, text_width

    display = display or Display()
    local = display.terminal
    n = len(columns)
    names = [TABLE_HEADERS.get(c, c.upper()) for c in columns]
    time_at = [i for i, c in enumerate(columns) if c in TIME_COLUMNS]
    zones: list[set[str]] = [set() for _ in columns]
    rows: list[str] = []
    # Off a terminal a cell is shown as it is made (no zone to settle): measured in this pass.
    measured = [0] * n
    for t in tickets:
        cells = [_table_cell(t, c, local) for c in columns]
        if local:
            for i in time_at:
                if _ZONE in cells[i]:
                    zones[i].add(cells[i].split(_ZONE, 1)[1])
        else:
            for i, cell in enumerate(cells):
                w = text_width(cell)
                if w > measured[i]:
                    measured[i] = w
        rows.append("\t".join(cells))
    if not rows:
        return 0
    # a zone every time in the column shares goes to the header; else each time carries its own
    one_zone = [len(z) == 1 and next(iter(z)) != "" for z in zones]
    for i in time_at:
        if one_zone[i]:
            names[i] += f" ({next(iter(zones[i]))})"

    def shown(cells: list[str]) -> list[str]:
        for i in time_at:
            if _ZONE in cells[i]:
                when, zone = cells[i].split(_ZONE, 1)
                cells[i] = when if one_zone[i] else f"{when} {zone}".rstrip()
        return cells

    if headers:
        extra = 0 if local else 2  # tabulate's padding of a header, kept off a terminal
        widths = [text_width(h) + extra for h in names]
    else:
        widths = [0] * n
    if not local:
        widths = [max(w, m) for w, m in zip(widths, measured, strict=True)]
    else:
        for row in rows:
            for i, cell in enumerate(shown(row.split("\t"))):
                w = text_width(cell)
                if w > widths[i]:
                    widths[i] = w
    limits: list[int | None] = [None] * n
    if display.width is not None:
        free = [i for i, c in enumerate(columns) if c in FREE_COLUMNS]
        if free:
            room = display.width - sum(w for i, w in enumerate(widths) if i not in free) - 2 * (n - 1)
            left = len(free)
            for i in sorted(free, key=lambda i: widths[i]):
                share = max(room // left, _MIN_FREE)
                if widths[i] > share:
                    widths[i] = limits[i] = share
                room -= widths[i]
                left -= 1
    colors = [STATUS_COLORS if c == "status" else PRIORITY_COLORS if c == "priority" else None for c in columns]
    if not display.color:
        colors = [None] * n

    def line(cells: list[str], painted: bool) -> str:
        parts = []
        for i, cell in enumerate(cells):
            limit = limits[i]
            if limit is not None:
                cell = cut(cell, limit)
            gap = widths[i] - text_width(cell)
            palette = colors[i] if painted else None
            if palette is not None:
                cell = paint(cell, palette.get(cell))
            parts.append(cell + " " * gap if gap > 0 else cell)
        return "  ".join(parts).rstrip()

    if headers:
        out.write(line(names, False) + "\n")
    for row in rows:
        out.write(line(shown(row.split("\t")), True) + "\n")
    return len(rows)


def ticket_dicts(tickets: Iterable[Ticket], columns: tuple[str, ...] | None = None) -> Iterator[dict]:
    """Each ticket's public dict (`to_dict` without comments), or only the keys `columns` names
    (built from those attributes alone: a ticket's fields are its attributes of the same names)."""
    if columns is None:
        for t in tickets:
            yield t.to_dict(with_comments=False)
        return
    lists = frozenset(c for c in columns if c in ("cc", "tags"))  # to_dict gives copies of these
    for t in tickets:
        yield {c: list(getattr(t, c)) if c in lists else getattr(t, c) for c in columns}


def print_tickets(
    tickets: Iterable[Ticket],
    fmt: str,
    out: IO[str] | None = None,
    csv_raw: bool = False,
    *,
    columns: tuple[str, ...] | None = None,
    headers: bool = True,
    plain: bool = False,
    display: Display | None = None,
    sort: str = "updated",
) -> None:
    """Tickets in `fmt`. `columns` (--columns) picks the fields: the table's columns, CSV's, or
    the keys of JSON, JSONL and YAML (None: the table's default, every field elsewhere);
    `headers` False drops the table's and CSV's header; `plain` is --plain (tab-separated).

    `tickets` is read once, as it is written: JSON, JSONL, CSV and --plain hold one ticket at a
    time, the table one string a row (it measures its columns first), YAML the whole list."""
    out = out or sys.stdout
    if fmt == "json":
        write_json_array(ticket_dicts(tickets, columns), out)
    elif fmt == "jsonl":
        import json

        line = json.JSONEncoder(ensure_ascii=False).encode  # what dumps_json(d, pretty=False) runs
        write = out.write
        for d in ticket_dicts(tickets, columns):
            write(escape_invisible(line(d)) + "\n")
    elif fmt == "csv":
        fields = columns or TICKET_FIELDS
        _write_csv_cells(_csv_ticket_cells(tickets, fields, csv_raw), fields, out, headers)
    elif fmt == "yaml":
        out.write(_yaml(list(ticket_dicts(tickets, columns))))
    elif plain:
        write_plain(tickets, columns or table_columns(sort), out)
    elif not write_table(tickets, columns or table_columns(sort), out, display, headers=headers):
        message("no tickets")


def print_ticket(
    ticket: Ticket,
    fmt: str,
    out: IO[str] | None = None,
    extra: dict | None = None,
    csv_raw: bool = False,
    *,
    display: Display | None = None,
    hidden_comments: int = 0,
) -> None:
    """One ticket, with its thread when it was fetched.

    CSV: one header and one row, the columns of `list --format csv` then `comment_count` and
    `comments` (the thread as one JSON array, the shape of `show --format json`). The text on a
    terminal (`display`): times local with their zone, status and priority coloured where asked;
    `hidden_comments` says how many comments after the first one `show --comments N` left out.
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
        out.write(_ticket_text(ticket, display, hidden_comments))


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


def _sla_text(sla: dict | None, relative: bool, when: Callable[[str | None], str | None]) -> str:
    """The clocks for a person: relative on a terminal ("resolution due in 1h 12m"), else absolute."""
    if not sla:
        return ""
    from .model import utcnow
    from .sla import describe

    now = utcnow()
    parts = []
    for metric, c in sla.items():
        if relative:
            parts.append(describe(metric, c, now))
        else:
            target = when(c.get("target_at")) or "-"
            parts.append(f"{metric.replace('_', ' ')} {c.get('stage')} (target {target})")
    return "; ".join(parts)


def _escalation_text(escalation: dict | None, when: Callable[[str | None], str | None]) -> str:
    if not escalation:
        return ""
    steps = " → ".join(f"{s.get('stage')} {when(s.get('at')) or ''}".strip() for s in escalation.get("timeline") or [])
    state = "" if escalation.get("open") else " (closed)"
    eta = f", eta {escalation['eta']} (not guaranteed)" if escalation.get("eta") else ""
    return f"{escalation.get('id')} {escalation.get('stage')}{state}{eta}: {escalation.get('reason') or ''} [{steps}]"


def _rating_text(satisfaction: dict | None) -> str:
    if not satisfaction:
        return ""
    comment = f" — {satisfaction['comment']}" if satisfaction.get("comment") else ""
    return f"{satisfaction.get('rating')}{comment}"


def _ticket_text(t: Ticket, display: Display | None = None, hidden_comments: int = 0) -> str:
    local = display is not None and display.terminal
    color = display is not None and display.color

    def when(value: str | None) -> str | None:
        if local:
            shown = local_time(value)
            if shown is not None:
                return f"{shown[0]} {shown[1]}".rstrip()
        return value

    status = clean(t.status, one_line=True)
    if color:
        status = paint(status, STATUS_COLORS.get(status))
    if t.raw_status and t.raw_status != t.status:
        status += f" ({clean(t.raw_status, one_line=True)})"
    priority = clean(t.priority, one_line=True)
    if color:
        priority = paint(priority, PRIORITY_COLORS.get(priority))
    lines = [f"#{clean(t.id, True)}  {clean(t.subject, one_line=True)}"]
    fields = [
        ("status", status),
        ("priority", priority),
        ("type", t.type),
        ("requester", t.requester),
        ("assignee", t.assignee),
        ("group", t.group),
        ("channel", t.channel),
        ("cc", ", ".join(t.cc)),
        ("tags", ", ".join(t.tags)),
        ("fields", fields_text(t.fields)),
        ("dedupe key", t.external_id),
        ("created", when(t.created_at)),
        ("updated", when(t.updated_at)),
        ("solved", when(t.solved_at)),
        ("sla", _sla_text(t.sla, local, when)),
        ("escalation", _escalation_text(t.escalation, when)),
        ("rating", _rating_text(t.satisfaction)),
        ("url", t.url),
    ]
    for name, value in fields:
        if value:
            text = value if name in ("status", "priority") else clean(value, one_line=True)  # already cleaned
            lines.append(f"  {name + ':':<12}{text}")
    for n, c in enumerate(t.comments or []):
        if n == 1 and hidden_comments > 0:
            lines.append("")
            earlier = "comment" if hidden_comments == 1 else "comments"
            lines.append(f"... {hidden_comments:,} earlier {earlier} not shown (--comments N shows the last N)")
        visibility = "" if c.public else " [internal]"
        lines.append("")
        lines.append(f"--- {clean(c.author, True) or 'unknown'} · {clean(when(c.created_at), True)}{visibility}")
        lines.append(clean(c.body).rstrip())
        for a in c.attachments:  # the id is what `tixcli download ID ATTACHMENT_ID` takes
            size = f"{a.size:,} bytes" if a.size is not None else "size unknown"
            where = f" [id {clean(a.id, True)}]" if a.id is not None else ""
            lines.append(f"  attachment: {clean(a.filename, True)} ({size}){where}")
    return "\n".join(lines) + "\n"


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
