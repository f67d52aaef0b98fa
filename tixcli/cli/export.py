"""`tixcli export`: every ticket with its comments, streamed in constant memory."""

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated

import typer

from tixcli.errors import InvalidInputError, TixError
from tixcli.model import TICKET_FIELDS, parse_since
from tixcli.output import clean, flat_row, message

from .app import app, get_state

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
) -> None:
    """Export every ticket (all statuses, all requesters) with its comments."""
    state = get_state(ctx)
    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise InvalidInputError(f"unknown export format {fmt!r}", hint="use jsonl or csv")
    since_time = parse_since(since)
    backend = state.backend
    last_cursor: str | None = None
    with _destination(output) as out:
        write = _jsonl_writer(out) if fmt == "jsonl" else _csv_writer(out)
        count = 0
        try:
            for item in backend.export(since=since_time, cursor=cursor):
                write(item)
                count += 1
                if item.cursor is not None:
                    last_cursor = item.cursor
        except (TixError, KeyboardInterrupt):
            out.flush()
            if last_cursor:
                message(f"exported {count} tickets before the failure")
                message(f"resume: --cursor={last_cursor}")
            raise
    if output:
        message(f"exported {count} tickets to {output}")
    if last_cursor:
        message(f"resume: --cursor={last_cursor}")


@contextlib.contextmanager
def _destination(output: str | None) -> Iterator[IO[str]]:
    """stdout, or a temporary file beside OUTPUT renamed over it only when complete."""
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(output)
    folder = target.parent if str(target.parent) else Path(".")
    import tempfile

    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {output}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _jsonl_writer(out: IO[str]):
    try:
        import orjson

        def dump(data: dict) -> str:
            return orjson.dumps(data).decode()
    except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
        import json

        def dump(data: dict) -> str:
            return json.dumps(data, ensure_ascii=False)

    # Lines a backend gives as UTF-8 bytes (SQLite) go to the byte stream as they are: decoding
    # and re-encoding a gigabyte of JSON costs more than building it.
    binary = getattr(out, "buffer", None)
    out.flush()

    def write(item) -> None:
        line = item.json_line
        if line is None:
            line = dump(item.ticket.to_dict(with_comments=True))
        if binary is not None:
            binary.write(line if isinstance(line, bytes) else line.encode())  # no copy of a long line
            binary.write(b"\n")
        else:
            out.write((line.decode() if isinstance(line, bytes) else line) + "\n")

    return write


def _csv_writer(out: IO[str]):
    import csv

    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()

    def write(item) -> None:
        ticket = item.ticket
        row = flat_row(ticket.to_dict(with_comments=False))
        row["comment_count"] = len(ticket.comments or [])
        writer.writerow({k: clean(v) if isinstance(v, str) else v for k, v in row.items()})

    return write
