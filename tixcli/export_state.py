"""`export --state FILE`: each run exports what changed since the previous one, once.

The state file says where the previous run ended. Two ways to go on from there:

- exact: the backend gave a position (`Backend.export_position`: SQLite's change sequence,
  Zendesk's incremental cursor); the run is `export(cursor=position)`.
- overlap: the backend cannot be exact (Zendesk's search export lags by minutes, JQL compares
  minutes). The run reads `export(since=previous start - export_overlap)` and drops each ticket
  the state says it wrote already with the same content: a digest of its line, kept for every
  ticket changed within the overlap of the previous run's start. Nothing is missed as long as the
  service's index catches up within the overlap; nothing is written twice unless it changed.

The state is written atomically (a temporary file, fsync, rename) and only after the output is
complete, so a killed or failed run leaves the previous state: a re-run has no gap, and repeats
at most what the killed run had written. The one early stop that saves its progress is the
export's wait budget for rate limits running out: the output so far is kept and the state says
where it got to (exact: the last ticket's cursor; overlap: the tickets written join the digests).

A lock beside the state (`FILE.lock`) keeps two runs off one state file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tixcli.backends.base import Backend, ExportItem
from tixcli.errors import InvalidInputError, UnavailableError
from tixcli.files import private_temporary_file
from tixcli.model import parse_iso, to_iso, utcnow

STATE_FORMAT = "tixcli export state"
STATE_VERSION = 1
STATE_MAX_BYTES = 256 * 1024 * 1024  # a state holds a digest per recently changed ticket: never this much
DIGEST_CHARS = 32  # 128 bits of sha256: two different lines never share one in practice


def digest(item: ExportItem) -> str:
    """The digest of the line a ticket is written as (what decides whether it changed)."""
    line = item.json_line
    if line is None:
        import orjson

        line = orjson.dumps(item.ticket.to_dict(with_comments=True))
    elif isinstance(line, str):
        line = line.encode()
    return hashlib.sha256(line).hexdigest()[:DIGEST_CHARS]


@dataclass
class ExportState:
    profile: str
    backend: str
    source: str
    #: exact runs: the backend's token for `export(cursor=...)`; None: overlap runs
    position: str | None = None
    #: when the previous run began (ISO 8601 UTC): an overlap run reads from here minus the overlap
    started_at: str | None = None
    #: ticket id -> [digest, updated_at] of the tickets written that changed near the end
    recent: dict[str, list[Any]] = field(default_factory=dict)
    runs: int = 0

    def to_bytes(self) -> bytes:
        data = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "profile": self.profile,
            "backend": self.backend,
            "source": self.source,
            "position": self.position,
            "started_at": self.started_at,
            "runs": self.runs,
            "saved_at": to_iso(utcnow()),
            "recent": self.recent,
        }
        return json.dumps(data, ensure_ascii=True, sort_keys=False).encode() + b"\n"


class StateFile:
    """One state file: checked before any work, locked for the run, replaced atomically."""

    def __init__(self, path: str) -> None:
        self.name = path
        self.path = Path(path)
        self.folder = self.path.parent if str(self.path.parent) else Path(".")
        self._lock_fd: int | None = None

    def check_writable(self) -> None:
        """Refuse (exit 6) a state that cannot be written, before anything is exported."""
        if self.path.is_dir():
            raise InvalidInputError(f"cannot use {self.name} as the export state: it is a directory")
        if not self.folder.is_dir():
            raise InvalidInputError(
                f"cannot write the export state {self.name}: the folder {self.folder} does not exist"
            )
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise InvalidInputError(f"cannot write the export state {self.name}: {self.folder} is not writable")
        if self.path.exists() and not os.access(self.path, os.R_OK):
            raise InvalidInputError(f"cannot read the export state {self.name}: permission denied")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold `FILE.lock` for the run; another run holding it: exit 8 at once."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(
                lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o600
            )
        except OSError as exc:
            raise InvalidInputError(f"cannot lock the export state {self.name}: {exc.strerror}") from None
        try:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - not POSIX: no lock
                fcntl = None  # type: ignore[assignment]
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield
        except BlockingIOError:
            raise UnavailableError(
                f"another export holds {self.name}", hint=f"wait for it to finish (its lock is {lock_path.name})"
            ) from None
        finally:
            os.close(fd)  # closing releases the lock

    def load(self, profile: str, backend: Backend) -> ExportState | None:
        """The previous run's state; None when there is none yet (the first run exports everything)."""
        source = backend.export_source()
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(STATE_MAX_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InvalidInputError(f"cannot read the export state {self.name}: {exc.strerror}") from None
        hint = f"move {self.name} away to export everything again"
        try:
            if len(raw) > STATE_MAX_BYTES:
                raise ValueError("too large")
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
                raise ValueError("not an export state")
        except ValueError:
            raise InvalidInputError(f"{self.name} is not a tixcli export state (corrupt?)", hint=hint) from None
        version = data.get("version")
        if not isinstance(version, int) or version < 1:
            raise InvalidInputError(f"{self.name} is not a tixcli export state (corrupt?)", hint=hint)
        if version > STATE_VERSION:
            raise InvalidInputError(
                f"{self.name} was written by a newer tixcli (state version {version}; this one reads {STATE_VERSION})",
                hint="upgrade tixcli, or " + hint,
            )
        theirs = (data.get("profile"), data.get("backend"), data.get("source"))
        if theirs != (profile, backend.name, source):
            raise InvalidInputError(
                f"{self.name} belongs to another export (profile {_printable(theirs[0])}, "
                f"{_printable(theirs[1])} at {_printable(theirs[2])})",
                hint="give each profile its own state file, or " + hint,
            )
        state = ExportState(profile, backend.name, source)
        try:
            state.position = _optional_str(data.get("position"))
            state.started_at = _optional_str(data.get("started_at"))
            if state.started_at is not None:
                parse_iso(state.started_at)
            recent = data.get("recent") or {}
            if not isinstance(recent, dict):
                raise ValueError("recent")
            for value in recent.values():
                if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
                    raise ValueError("recent entry")
                if value[1] is not None and not isinstance(value[1], str):
                    raise ValueError("recent time")
            state.recent = recent
            runs = data.get("runs", 0)
            if not isinstance(runs, int) or runs < 0:
                raise ValueError("runs")
            state.runs = runs
        except (ValueError, InvalidInputError):
            raise InvalidInputError(f"{self.name} is not a tixcli export state (corrupt?)", hint=hint) from None
        return state

    def save(self, state: ExportState) -> None:
        """Replace the state atomically: a private temporary file, flushed to disk, renamed."""
        fd, tmp_name = private_temporary_file(self.folder, f".{self.path.name}.", self.name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(state.to_bytes())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        with contextlib.suppress(OSError):  # the rename itself survives a crash once the folder is synced
            folder_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(folder_fd)
            finally:
                os.close(folder_fd)


class StateRun:
    """One `--state` run over a backend: the items to write, and the state to save after them."""

    def __init__(self, backend: Backend, previous: ExportState | None, new: ExportState) -> None:
        self.backend = backend
        self.previous = previous
        self.new = new
        self.started = utcnow()
        # The next run re-reads from this run's start minus the overlap: keep what it will see.
        self.keep_from = to_iso(self.started - backend.export_overlap)
        self.exact = bool(previous and previous.position)
        # A run that may have to save where it got to without a cursor keeps every digest.
        self.keep_all = not self.exact and (previous is not None or not backend.supports("export_cursor"))
        self.written = 0
        self.deleted = 0
        self.unchanged = 0  # re-read in the overlap, and the same as what the state says was written
        self.last_cursor: str | None = None
        self._recent: dict[str, list[Any]] = {}
        self._all: dict[str, list[Any]] = {}

    def since(self) -> datetime | None:
        """Where an overlap run starts reading (None: the first run, everything)."""
        if self.previous is None or self.previous.started_at is None:
            return None
        return parse_iso(self.previous.started_at) - self.backend.export_overlap

    def items(self) -> Iterator[ExportItem]:
        """What to write, in the backend's order: each ticket changed since the previous run once."""
        previous = self.previous
        if previous is not None and previous.position:
            stream = self.backend.export_tickets(cursor=previous.position)
        else:
            stream = self.backend.export_tickets(since=self.since())
        known = previous.recent if previous is not None and not self.exact else {}
        for item in stream:
            key = item.ticket_id
            recent = (item.updated_at or "") >= self.keep_from
            mark: str | None = None
            if key in known or recent or self.keep_all:
                mark = "deleted" if item.tombstone else digest(item)
                if known.get(key, [None])[0] == mark:
                    self.unchanged += 1
                    continue
            yield item
            if item.tombstone:
                self.deleted += 1
            else:
                self.written += 1
            if item.cursor is not None:
                self.last_cursor = item.cursor
            if mark is not None:
                if recent:
                    self._recent[key] = [mark, item.updated_at]
                if self.keep_all:
                    self._all[key] = [mark, item.updated_at]

    def finished(self) -> ExportState:
        """The state after a run that went to its end."""
        previous, state = self.previous, self.new
        state.position = self.backend.export_position() if self.backend.supports("export_cursor") else None
        # A run that finished what a stopped run began counts from when that one began.
        begun = previous.started_at if previous is not None and previous.position and previous.started_at else None
        state.started_at = begun if begun and state.position is None else to_iso(self.started)
        kept = {k: v for k, v in (previous.recent if previous else {}).items() if (v[1] or "") >= self.keep_from}
        state.recent = {**kept, **self._recent}
        state.runs = (previous.runs if previous else 0) + 1
        return state

    def stopped(self) -> ExportState:
        """The state after a run the rate-limit budget stopped: where it got to."""
        previous, state = self.previous, self.new
        state.runs = (previous.runs if previous else 0) + 1
        if self.exact:
            assert previous is not None
            state.position = self.last_cursor or previous.position
            state.started_at, state.recent = previous.started_at, dict(previous.recent)
        elif not self.keep_all:
            # A first run on a backend that pages with a cursor: go on just after the last ticket.
            state.position = self.last_cursor  # None when nothing was written: a first run again
            state.started_at = to_iso(self.started) if self.last_cursor else None
            state.recent = dict(self._recent)
        else:
            # Overlap: read the same window again next time, and drop everything written so far.
            state.position = None
            state.started_at = previous.started_at if previous is not None else None
            state.recent = {**(previous.recent if previous else {}), **self._all}
        return state


def _optional_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(repr(value))


def _printable(value: Any) -> str:
    from tixcli.output import clean

    return clean(str(value), one_line=True)[:200]
