"""`tixcli export`: every ticket with its comments, streamed in constant memory."""

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated

import typer

from tixcli.errors import InvalidInputError, TixError
from tixcli.files import private_temporary_file
from tixcli.model import TICKET_FIELDS, parse_since
from tixcli.output import clean, csv_row, escape_invisible_utf8, message

from .app import CsvRawOption, app, get_state

EXPORT_FORMATS = ("jsonl", "csv")
CSV_FIELDS = [*TICKET_FIELDS, "comment_count"]


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl (one ticket per line) or csv.")] = "jsonl",
    since: Annotated[
        str | None, typer.Option("--since", help="Only tickets updated since: ISO date or time, or 7d / 12h.")
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Write to this file (atomically: a temporary file, then a rename)."),
    ] = None,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Resume an export from the token its `resume:` line gave.")
    ] = None,
    csv_raw: CsvRawOption = False,
) -> None:
    """Export every ticket (all statuses, all requesters) with its comments."""
    state = get_state(ctx)
    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise InvalidInputError(f"unknown export format {fmt!r}", hint="use jsonl or csv")
    since_time = parse_since(since)
    last_cursor: str | None = None
    # The output file is checked (and its temporary file made) before the backend does any work.
    with _destination(output) as out:
        backend = state.backend
        write = _jsonl_writer(out) if fmt == "jsonl" else _csv_writer(out, csv_raw)
        count = 0
        try:
            for item in backend.export_tickets(since=since_time, cursor=cursor):
                write(item)
                count += 1
                if item.cursor is not None:
                    last_cursor = item.cursor
        except (TixError, KeyboardInterrupt):
            out.flush()
            if last_cursor:
                message(f"exported {count} tickets before the failure")
                message(f"resume: --cursor={clean(last_cursor, one_line=True)}")
            raise
    if output:
        message(f"exported {count} tickets to {clean(output, one_line=True)}")
    if last_cursor:
        message(f"resume: --cursor={clean(last_cursor, one_line=True)}")


def _check_target(output: str, target: Path, folder: Path) -> None:
    """Refuse an output that cannot be written before any work: a folder, a missing folder..."""
    if target.is_dir():
        raise InvalidInputError(
            f"cannot write {output}: it is a directory", hint=f"name a file in it: --output {output}/export.jsonl"
        )
    if not folder.exists():
        raise InvalidInputError(f"cannot write {output}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise InvalidInputError(f"cannot write {output}: {folder} is not a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise InvalidInputError(f"cannot write {output}: permission denied")


@contextlib.contextmanager
def _destination(output: str | None) -> Iterator[IO[str]]:
    """stdout, or a temporary file beside OUTPUT renamed over it only when complete."""
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(output)
    folder = target.parent if str(target.parent) else Path(".")
    _check_target(output, target, folder)
    fd, tmp_name = private_temporary_file(folder, f".{target.name}.", output)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.replace(tmp_name, target)
        except OSError as exc:
            raise InvalidInputError(f"cannot write {output}: {exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _jsonl_writer(out: IO[str]):
    try:
        import orjson

        def dump(data: dict) -> bytes:
            return orjson.dumps(data)
    except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
        import json

        def dump(data: dict) -> bytes:
            return json.dumps(data, ensure_ascii=False).encode()

    # Lines a backend gives as UTF-8 bytes (SQLite) go to the byte stream as they are: decoding
    # and re-encoding a gigabyte of JSON costs more than building it.
    binary = getattr(out, "buffer", None)
    out.flush()

    def write(item) -> None:
        line = item.json_line
        if line is None:
            line = dump(item.ticket.to_dict(with_comments=True))
        elif isinstance(line, str):
            line = line.encode()
        # C1 and bidi controls as \uXXXX escapes, like every JSON tixcli prints (a scan, no copy
        # of a line that holds none).
        line = escape_invisible_utf8(line)
        if binary is not None:
            binary.write(line)
            binary.write(b"\n")
        else:
            out.write(line.decode() + "\n")

    return write


def _csv_writer(out: IO[str], raw: bool = False):
    import csv

    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()

    def write(item) -> None:
        ticket = item.ticket
        row = ticket.to_dict(with_comments=False)
        row["comment_count"] = len(ticket.comments or [])
        writer.writerow(csv_row(row, raw))

    return write
