"""`tixcli download`: a ticket's attachments into files (or one of them to stdout).

Attachment names come from customers and servers, so they never choose where a file goes: each
is reduced to a safe base name in the target folder. Every file is written to a new temporary
file beside its target (0600, O_EXCL), checked (the sha256 the backend knows, else the size) and
only then renamed into place, so a failed or interrupted download leaves no file under the final
name. At most the announced size plus one byte is read: a server sending more is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from tixcli.completion import DIR, FILE
from tixcli.errors import InvalidInputError, NotFoundError, TixError, UnavailableError
from tixcli.files import private_temporary_file
from tixcli.model import Attachment, Ticket
from tixcli.output import clean, message
from tixcli.terminal import is_terminal

from .app import app, get_state
from .target import KeyOption, LooseTicketId, shift_into, target_ticket

#: what is read of an attachment whose size the backend does not say
UNKNOWN_SIZE_LIMIT = 2 * 1024**3
#: the longest file name written, in UTF-8 bytes (most file systems take 255)
MAX_NAME_BYTES = 200

# Escape sequences (CSI, OSC, two-character escapes) are dropped whole: "a\x1b[2Jb" is "ab".
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


@app.command()
def download(
    ctx: typer.Context,
    ticket_id: LooseTicketId = None,
    attachment_ids: Annotated[
        list[str] | None,
        typer.Argument(metavar="[ATTACHMENT_ID]...", help="The attachments to get (default: all of the ticket's)."),
    ] = None,
    folder: Annotated[
        str | None,
        typer.Option(
            "--dir",
            "-d",
            help="Write the files into this folder (default: the current one).",
            show_default=False,
            click_type=DIR,
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the one attachment named to FILE, or - for stdout.",
            show_default=False,
            click_type=FILE,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that exist already.")] = False,
    dedupe_key: KeyOption = None,
) -> None:
    """Download a ticket's attachments (ids: `tixcli show ID`).

    Prints the path of each file written on stdout, one per line (nothing with `-o -`, where the
    bytes are the output). File names are the attachments' names reduced to a safe base name
    (no folders, no control characters, no leading dot); a name used twice gets -1, -2...
    An existing file is refused unless --force. Files are written 0600, each to a temporary
    name and renamed when complete and verified (sha256 where the backend knows it, else the
    size): a failed one leaves no file, the others stay, and the command exits 8.
    """
    state = get_state(ctx)
    ticket_id, positional = shift_into(ticket_id, dedupe_key, attachment_ids)
    ids = list(dict.fromkeys(positional))
    if output is not None:
        if len(ids) != 1:
            raise InvalidInputError(
                "--output takes exactly one attachment id", hint=f"tixcli download {ticket_id} ATTACHMENT_ID -o FILE"
            )
        if folder is not None:
            raise InvalidInputError("give --dir or --output, not both")
        if output == "-" and is_terminal(sys.stdout):
            raise InvalidInputError(
                "not writing an attachment's bytes to a terminal", hint="redirect stdout, or use --output FILE"
            )
    target_folder = Path(folder) if folder is not None else Path(".")
    if output is None or output != "-":
        _check_folder(Path(output).parent if output is not None else target_folder)

    backend = state.backend
    backend.require("download", "download")
    ticket_id = target_ticket(state, ticket_id, dedupe_key)
    assert ticket_id is not None
    attachments = _select(backend.get(ticket_id), ticket_id, ids)
    if not attachments:
        message(f"ticket {clean(ticket_id, True)} has no attachments")
        return

    if output == "-":
        _stream(backend, ticket_id, attachments[0])
        return
    if output is not None:
        plan = [(attachments[0], Path(output))]
    else:
        plan = list(zip(attachments, _targets(attachments, target_folder), strict=True))
    for _, target in plan:
        _check_target(target, force)

    failed: list[tuple[Attachment, Path, TixError]] = []
    for attachment, target in plan:
        try:
            _download_one(backend, ticket_id, attachment, target, force)
        except TixError as err:
            if len(plan) == 1:
                raise
            failed.append((attachment, target, err))
            message(f"error: {_describe(attachment)}: {clean(err.message, True)}")
            continue
        print(_shown(target), flush=True)
    if failed:
        names = ", ".join(_describe(a) for a, _, _ in failed)
        raise UnavailableError(
            f"{len(failed)} of {len(plan)} attachments not downloaded: {names}",
            hint="the others were written; rerun with the ids of the failed ones",
        )


# -- which attachments, and where they go -----------------------------------------------------


def _select(ticket: Ticket, ticket_id: str, ids: list[str]) -> list[Attachment]:
    """The attachments asked for, in the order given (all of the ticket's when none is named)."""
    found = [a for c in ticket.comments or [] for a in c.attachments]
    if not ids:
        return found
    by_id = {a.id: a for a in found if a.id is not None}
    missing = [i for i in ids if i not in by_id]
    if missing:
        shown = ", ".join(ascii(i) if not i.isascii() else clean(i, True) for i in missing)
        raise NotFoundError(
            f"ticket {clean(ticket_id, True)} has no attachment {shown}",
            hint=f"`tixcli show {clean(ticket_id, True)}` lists its attachments with their ids",
        )
    return [by_id[i] for i in ids]


def safe_name(filename: str | None, attachment_id: str | None) -> str:
    """A base name that cannot leave the folder or disturb a terminal; `attachment-ID` if none is left.

    Only the last part of a path (either slash) is kept; escape sequences, control and format
    characters (bidi controls included) are dropped; leading dots and spaces and trailing spaces
    go; a name over MAX_NAME_BYTES is shortened, keeping its extension.
    """
    name = _ESCAPES.sub("", filename or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
    name = name.lstrip(". \t").rstrip(" \t")
    if len(name.encode()) > MAX_NAME_BYTES:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext.encode()) <= 20 else ""
        stem = stem.encode()[: MAX_NAME_BYTES - len(ext.encode())].decode("utf-8", "ignore")
        name = stem + ext
    if name in ("", ".", ".."):
        fallback_id = _UNSAFE_ID.sub("", attachment_id or "")[:64]
        name = f"attachment-{fallback_id}" if fallback_id else "attachment"
    return name


def _targets(attachments: list[Attachment], folder: Path) -> list[Path]:
    """One path per attachment in `folder`; a name taken in this run gets -1, -2... before its extension."""
    taken: set[str] = set()
    paths = []
    for attachment in attachments:
        name = safe_name(attachment.filename, attachment.id)
        stem, ext = os.path.splitext(name)
        candidate, n = name, 0
        while candidate.casefold() in taken:  # case-insensitive file systems: A.log is a.log
            n += 1
            candidate = f"{stem}-{n}{ext}"
        taken.add(candidate.casefold())
        paths.append(folder / candidate)
    return paths


def _check_folder(folder: Path) -> None:
    shown = _shown(folder)
    if not folder.exists():
        raise InvalidInputError(f"cannot write into {shown}: no such folder", hint=f"create it first: mkdir -p {shown}")
    if not folder.is_dir():
        raise InvalidInputError(f"cannot write into {shown}: not a folder")


def _check_target(target: Path, force: bool) -> None:
    """Refuse, before anything is downloaded, a target that exists (unless --force) or is a folder."""
    if target.is_dir():
        raise InvalidInputError(f"cannot write {_shown(target)}: it is a folder")
    if os.path.lexists(target) and not force:
        raise InvalidInputError(f"{_shown(target)} exists already", hint="--force replaces it")


def _shown(path: Path) -> str:
    return clean(str(path), one_line=True)


def _describe(attachment: Attachment) -> str:
    return f"attachment {clean(attachment.id, True) or '?'} ({clean(attachment.filename, True)})"


# -- the bytes ----------------------------------------------------------------------------------


def _bounded(backend, ticket_id: str, attachment: Attachment) -> Iterator[bytes]:
    """The attachment's chunks, refused (exit 8) as soon as they pass its announced size."""
    limit = attachment.size if attachment.size is not None and attachment.size >= 0 else UNKNOWN_SIZE_LIMIT
    chunks = backend.attachment_bytes(ticket_id, attachment)
    total = 0
    try:
        for chunk in chunks:
            total += len(chunk)
            if total > limit:
                what = "its size" if attachment.size is not None else "the limit for an unknown size"
                raise UnavailableError(
                    f"{_describe(attachment)} is larger than {what} ({limit:,} bytes): stopped, nothing kept"
                )
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _verify(attachment: Attachment, digest: str, size: int) -> None:
    if attachment.sha256:
        if digest != attachment.sha256.strip().lower():
            raise UnavailableError(f"{_describe(attachment)}: the bytes do not match its sha256; nothing kept")
    elif attachment.size is not None and size != attachment.size:
        raise UnavailableError(
            f"{_describe(attachment)}: {size:,} bytes received, {attachment.size:,} announced; nothing kept"
        )


def _copy(backend, ticket_id: str, attachment: Attachment, out: BinaryIO) -> None:
    sha, size = hashlib.sha256(), 0
    for chunk in _bounded(backend, ticket_id, attachment):
        sha.update(chunk)
        size += len(chunk)
        out.write(chunk)
    out.flush()
    _verify(attachment, sha.hexdigest(), size)


def _stream(backend, ticket_id: str, attachment: Attachment) -> None:
    """`-o -`: the bytes to stdout as they come (verified at the end: exit 8 on a mismatch)."""
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)
    if out is None:
        raise InvalidInputError("stdout takes no bytes here", hint="use --output FILE")
    _copy(backend, ticket_id, attachment, out)


def _download_one(backend, ticket_id: str, attachment: Attachment, target: Path, force: bool) -> None:
    fd, tmp = private_temporary_file(target.parent, ".tixcli-download-", _shown(target))
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                _copy(backend, ticket_id, attachment, fh)
                os.fsync(fh.fileno())
        except OSError as exc:  # a full disk, a quota: the local side, not the backend
            raise InvalidInputError(f"cannot write {_shown(target)}: {exc.strerror or exc}") from None
        _publish(tmp, target, force)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _publish(tmp: Path, target: Path, force: bool) -> None:
    """Rename the complete file into place; without --force never over a file that appeared meanwhile."""
    try:
        if force:
            os.replace(tmp, target)
            return
        try:
            os.link(tmp, target)  # fails if the target exists: no race with another writer
        except FileExistsError:
            raise InvalidInputError(f"{_shown(target)} exists already", hint="--force replaces it") from None
        except OSError:  # a file system without hard links
            if os.path.lexists(target):
                raise InvalidInputError(f"{_shown(target)} exists already", hint="--force replaces it") from None
            os.replace(tmp, target)
            return
        os.unlink(tmp)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {_shown(target)}: {exc.strerror}") from None
