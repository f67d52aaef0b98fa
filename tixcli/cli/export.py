"""`tixcli export`: every ticket with its comments, streamed in constant memory."""

import contextlib
import io
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, cast

import typer

from tixcli.backends.base import Backend, ExportBatch
from tixcli.completion import FILE, FORMAT_HELP, choices
from tixcli.errors import InvalidInputError, RateLimitedError, TixError, UnavailableError
from tixcli.export_state import ExportState, StateFile, StateRun
from tixcli.files import private_temporary_file
from tixcli.model import TICKET_FIELDS, parse_since
from tixcli.output import clean, csv_row, escape_invisible_utf8, message, reader_left
from tixcli.terminal import is_terminal

from .app import CsvRawOption, app, get_state

EXPORT_FORMATS = ("jsonl", "csv")
EXPORT_FORMAT = choices(EXPORT_FORMATS, FORMAT_HELP)
CSV_FIELDS = [*TICKET_FIELDS, "comment_count"]


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="One ticket a line, as JSON or CSV.", click_type=EXPORT_FORMAT)
    ] = "jsonl",
    since: Annotated[
        str | None, typer.Option("--since", help="Only tickets updated since: ISO date or time, or 7d / 12h.")
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file (atomically: a temporary file, then a rename).",
            click_type=FILE,
        ),
    ] = None,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Resume an export from the token its `resume:` line gave.")
    ] = None,
    state_file: Annotated[
        str | None,
        typer.Option(
            "--state",
            click_type=FILE,
            help="Keep where this export got to in FILE: the first run exports everything, each later run "
            "each ticket changed since the previous one, once (for cron).",
        ),
    ] = None,
    with_deleted: Annotated[
        bool, typer.Option("--with-deleted", help="A tombstone line for each deleted ticket (jsonl only).")
    ] = False,
    with_history: Annotated[
        bool,
        typer.Option(
            "--with-history", help="Each ticket's history (as `tixcli history` gives it) in its line (jsonl)."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary on stderr.")] = False,
    csv_raw: CsvRawOption = False,
) -> None:
    """Export every ticket (all statuses, all requesters) with its comments."""
    state = get_state(ctx)
    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise InvalidInputError(f"unknown export format {fmt!r}", hint="use jsonl or csv")
    if with_deleted and fmt != "jsonl":
        raise InvalidInputError("--with-deleted needs --format jsonl", hint="a tombstone has no csv row")
    if with_history and fmt != "jsonl":
        raise InvalidInputError("--with-history needs --format jsonl", hint="a history has no csv column")
    if state_file is not None and (cursor is not None or since is not None):
        raise InvalidInputError(
            "--state cannot be combined with --cursor or --since", hint="the state file says where to go on from"
        )
    since_time = parse_since(since)
    store = StateFile(state_file) if state_file is not None else None
    if store is not None:
        store.check_writable()
    if output is not None:
        check_output(output)
    with contextlib.ExitStack() as stack:
        if store is not None:
            stack.enter_context(store.locked())
        backend = state.backend
        run: StateRun | None = None
        bulk: Iterator[ExportBatch] | None = None
        if store is not None:
            previous = store.load(state.profile.name, backend)
            run = StateRun(backend, previous, ExportState(state.profile.name, backend.name, backend.export_source()))
            items = run.items()
        else:
            # jsonl from a backend that builds lines in bulk (SQLite): many tickets a write
            in_bulk = fmt == "jsonl" and not with_history
            bulk = backend.export_tickets_in_bulk(since=since_time, cursor=cursor) if in_bulk else None
            items = iter(()) if bulk is not None else backend.export_tickets(since=since_time, cursor=cursor)
        if with_history:
            items = backend.export_with_history(items)
        progress = Progress(backend, enabled=not quiet and is_terminal(sys.stderr))
        counts = Counts()
        stopped: TixError | None = None
        last_cursor: str | None = None
        try:
            with contextlib.closing(_Closing(items, bulk)), _destination(output) as out:
                write = _jsonl_writer(out, backend.name) if fmt == "jsonl" else _csv_writer(out, csv_raw)
                # The loop runs once per ticket (a million on the benchmark store): the common case
                # — a backend's ready JSON line in UTF-8 — is written here without a call per item.
                put = out.write if fmt == "jsonl" else None
                tick = progress.tick if progress.enabled else None
                try:
                    for batch in bulk or ():
                        if not batch.count:
                            continue
                        chunk = batch.data
                        put(chunk if chunk.isascii() else escape_invisible_utf8(chunk))  # type: ignore[misc]
                        put(b"\n")  # type: ignore[misc]
                        counts.tickets += batch.count
                        if batch.cursor is not None:
                            last_cursor = batch.cursor
                        if tick is not None:
                            tick(counts.tickets)
                    for item in items:
                        line = item.json_line
                        if put is not None and line.__class__ is bytes and not item.tombstone:
                            put(line if line.isascii() else escape_invisible_utf8(line))
                            put(b"\n")
                            counts.tickets += 1
                        elif item.tombstone:
                            counts.deleted += 1
                            if not with_deleted:
                                continue
                            write(item)
                        else:
                            counts.tickets += 1
                            write(item)
                        cursor_after = item.cursor
                        if cursor_after is not None:
                            last_cursor = cursor_after
                        if tick is not None:
                            tick(counts.tickets + counts.deleted)
                except RateLimitedError as exc:
                    if run is None:
                        raise
                    stopped = exc  # the output so far is kept, and the state says where it got to
        except BrokenPipeError:
            # the reader left (`tixcli export | head`): not an error for a plain export; a state
            # run's output is not all there, so its state is not saved and it says so
            progress.clear()
            reader_left()
            if run is not None:
                raise UnavailableError(
                    "the output's reader left before the end: the state was not saved",
                    hint="the next run exports the same changes again",
                ) from None
            return
        except (TixError, KeyboardInterrupt):
            progress.clear()
            if store is None and last_cursor:
                message(f"exported {counts.tickets} tickets before the failure")
                message(f"resume: --cursor={clean(last_cursor, one_line=True)}")
            raise
        progress.clear()
        if store is not None and run is not None:
            store.save(run.stopped() if stopped is not None else run.finished())
        if not quiet:
            _summary(counts, run, backend, output, progress.elapsed())
        if store is None and not quiet:
            # After a complete run: where the next export goes on from (only what changes later),
            # where the backend can say; else just after the last ticket written.
            position = backend.export_position() if backend.supports("export_cursor") else None
            if position or last_cursor:
                message(f"resume: --cursor={clean(position or last_cursor or '', one_line=True)}")
        if stopped is not None:
            raise UnavailableError(
                f"stopped after {counts.tickets} tickets: {stopped.message}",
                hint="the state says where it got to: the next run goes on from there "
                "(export_retry_budget in the profile sets how long an export may wait)",
            )


class _Closing:
    """Closes the export's generators when the run ends however it ends, while the store is open
    (left to the garbage collector, they would close after it)."""

    def __init__(self, *streams: object) -> None:
        self.streams = streams

    def close(self) -> None:
        for stream in self.streams:
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()


class Counts:
    __slots__ = ("deleted", "tickets")

    def __init__(self) -> None:
        self.tickets = 0
        self.deleted = 0


class Progress:
    """A line on stderr (a terminal only), rewritten at most twice a second."""

    INTERVAL = 0.5

    def __init__(self, backend: Backend, enabled: bool) -> None:
        self.backend = backend
        self.enabled = enabled
        self.started = time.monotonic()
        self.next_at = self.started + self.INTERVAL
        self.shown = False

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def tick(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now < self.next_at:
            return
        self.next_at = now + self.INTERVAL
        rate = done / max(now - self.started, 1e-9)
        text = f"exported {done:,} tickets ({rate:,.0f}/s)"
        total = self.backend.export_total
        if total and total >= done:
            eta = (total - done) / rate if rate > 0 else 0
            text += f", {done:,} of {total:,}, ETA {_duration(eta)}"
        sys.stderr.write("\r\x1b[K" + text)
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _summary(counts: Counts, run: StateRun | None, backend: Backend, output: str | None, seconds: float) -> None:
    parts = [f"exported {counts.tickets} tickets"]
    if output:
        parts[0] += f" to {clean(output, one_line=True)}"
    if counts.deleted:
        parts.append(f"{counts.deleted} deleted")
    if run is not None and run.unchanged:
        parts.append(f"{run.unchanged} unchanged since the last run")
    parts.append(f"{backend.request_count} requests")
    parts.append(f"{seconds:.1f} s")
    message(", ".join(parts))


def check_output(output: str) -> None:
    target = Path(output)
    folder = target.parent if str(target.parent) else Path(".")
    _check_target(output, target, folder)


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


# Export writes through its own buffer: with PYTHONUNBUFFERED=1 (many CI runners) stdout makes a
# write() call per line otherwise, and a million tickets cost two million system calls.
EXPORT_BUFFER = 1 << 20


@contextlib.contextmanager
def _destination(output: str | None) -> Iterator[IO[bytes]]:
    """stdout, or a temporary file beside OUTPUT renamed over it only when complete; either way
    a byte stream with a large buffer, flushed at the end."""
    if output is None:
        sys.stdout.flush()
        try:
            raw = io.FileIO(sys.stdout.fileno(), "w", closefd=False)
        except (AttributeError, OSError, ValueError):  # not a file (captured in-process)
            yield cast(IO[bytes], _TextBytes(sys.stdout))
            sys.stdout.flush()
            return
        out = io.BufferedWriter(raw, EXPORT_BUFFER)
        try:
            yield out
        finally:
            try:
                out.flush()
            except BrokenPipeError:
                raise
            finally:
                # the writer's close would close nothing (closefd=False) but must not run twice
                with contextlib.suppress(Exception):
                    out.detach()
        return
    target = Path(output)  # checked by check_output before any work
    folder = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = private_temporary_file(folder, f".{target.name}.", output)
    try:
        with os.fdopen(fd, "wb", buffering=EXPORT_BUFFER) as fh:
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


class _TextBytes(io.RawIOBase):
    """A text stream taking UTF-8 bytes (stdout replaced by a test harness)."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)


def _jsonl_writer(out: IO[bytes], backend_name: str):
    try:
        import orjson

        def dump(data: dict) -> bytes:
            return orjson.dumps(data)
    except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
        import json

        def dump(data: dict) -> bytes:
            return json.dumps(data, ensure_ascii=False).encode()

    def write(item) -> None:
        if item.tombstone:
            line = dump(item.tombstone_dict(backend_name))
        else:
            line = item.json_line
            if line is None:
                line = dump(item.ticket.to_dict(with_comments=True))
            elif isinstance(line, str):
                line = line.encode()
        # C1 and bidi controls as \uXXXX escapes, like every JSON tixcli prints (a scan, no copy
        # of a line that holds none). Lines a backend gives as UTF-8 bytes (SQLite) go out as they
        # are: decoding and re-encoding a gigabyte of JSON costs more than building it.
        out.write(escape_invisible_utf8(line))
        out.write(b"\n")

    return write


def _csv_writer(out: IO[bytes], raw: bool = False):
    import csv

    class Utf8:  # what csv writes (str) as UTF-8 to the byte stream
        @staticmethod
        def write(chunk: str) -> None:
            out.write(chunk.encode())

    writer = csv.DictWriter(Utf8(), fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()

    def write(item) -> None:
        ticket = item.ticket
        row = ticket.to_dict(with_comments=False)
        row["comment_count"] = len(ticket.comments or [])
        writer.writerow(csv_row(row, raw))

    return write
