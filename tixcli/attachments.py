"""Turn file arguments into uploads, checking every limit before anything is stored or sent.

Each file is read here, once, and at most up to the limits plus one byte: a file that grows
while it is read, or one whose size `stat` does not tell (a FIFO, /dev/zero, a /proc file),
cannot exceed them. The bytes checked are the bytes sent (FileUpload.data).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .config import AttachmentLimits
from .errors import InvalidInputError
from .model import FileUpload

# Types support teams attach that the mimetypes table may not know.
_EXTRA_TYPES = {"log": "text/plain", "har": "application/json", "tsv": "text/tab-separated-values"}


def prepare_uploads(
    paths: list[str], limits: AttachmentLimits, generated: list[tuple[str, bytes]] | tuple = ()
) -> list[FileUpload]:
    """The files `paths` name, then the `generated` ones (name, bytes: a log tail, standard input),
    all checked against the limits together: count, type, size per file and in total."""
    count = len(paths) + len(generated)
    if count > limits.max_files:
        raise InvalidInputError(
            f"too many attachments: {count} files (at most {limits.max_files} per comment)",
            hint="split them over several `tixcli attach` calls",
        )
    uploads, total = [], 0
    for raw in paths:
        upload = _read(Path(raw), limits, room=limits.max_total_bytes - total)
        total += upload.size
        uploads.append(upload)
    for name, data in generated:
        upload = _from_bytes(name, data, limits, room=limits.max_total_bytes - total)
        total += upload.size
        uploads.append(upload)
    return uploads


def _check_type(name: str, limits: AttachmentLimits) -> str:
    extension = Path(name).suffix.lower().lstrip(".")
    if limits.allowed_types is not None and extension not in limits.allowed_types:
        raise InvalidInputError(
            f"cannot attach {name}: file type {extension or '(none)'!r} is not allowed",
            hint="allowed: " + " ".join(limits.allowed_types),
        )
    return extension


def _content_type(name: str, extension: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or _EXTRA_TYPES.get(extension, "application/octet-stream")


def _from_bytes(name: str, data: bytes, limits: AttachmentLimits, room: int) -> FileUpload:
    extension = _check_type(name, limits)
    if limits.max_file_bytes is not None and len(data) > limits.max_file_bytes:
        raise _too_large(name, len(data), limits)
    if len(data) > room:
        raise _too_large_in_total(limits)
    return FileUpload(
        path=Path(name), filename=name, size=len(data), content_type=_content_type(name, extension), data=data
    )


def _too_large_in_total(limits: AttachmentLimits) -> InvalidInputError:
    return InvalidInputError(f"attachments too large: more than {limits.max_total_bytes:,} bytes in one comment")


def _too_large(name: str, size: int | None, limits: AttachmentLimits) -> InvalidInputError:
    held = f"{size:,} bytes is" if size is not None else "it holds more than"
    return InvalidInputError(f"cannot attach {name}: {held} over the {limits.max_file_bytes:,}-byte limit per file")


def _read(path: Path, limits: AttachmentLimits, room: int) -> FileUpload:
    """One file, read at most up to what the limits leave for it, plus one byte to tell it is more."""
    name = os.path.basename(path)
    try:
        info = path.stat()  # never blocks, even on a FIFO
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError | NotADirectoryError)
        raise InvalidInputError(f"cannot attach {path}: {'no such file' if missing else exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InvalidInputError(f"cannot attach {path}: is a directory")
    extension = _check_type(name, limits)
    per_file = limits.max_file_bytes
    if stat.S_ISREG(info.st_mode):  # a size stat knows: refuse without reading
        if per_file is not None and info.st_size > per_file:
            raise _too_large(name, info.st_size, limits)
        if info.st_size > room:
            raise _too_large_in_total(limits)
    most = max(room, 0) if per_file is None else max(min(room, per_file), 0)
    try:
        with path.open("rb") as fh:
            data = fh.read(most + 1)
    except OSError as exc:
        raise InvalidInputError(f"cannot attach {path}: {exc.strerror or 'unreadable'}") from None
    if per_file is not None and len(data) > per_file:
        raise _too_large(name, None, limits)
    if len(data) > room:
        raise _too_large_in_total(limits)
    return FileUpload(path=path, filename=name, size=len(data), content_type=_content_type(name, extension), data=data)
