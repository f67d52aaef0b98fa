"""Turn file arguments into uploads, checking every limit before anything is stored or sent."""

from __future__ import annotations

import os
from pathlib import Path

from .config import AttachmentLimits
from .errors import InvalidInputError
from .model import FileUpload

# Types support teams attach that the mimetypes table may not know.
_EXTRA_TYPES = {"log": "text/plain", "har": "application/json", "tsv": "text/tab-separated-values"}


def prepare_uploads(paths: list[str], limits: AttachmentLimits) -> list[FileUpload]:
    if len(paths) > limits.max_files:
        raise InvalidInputError(
            f"too many attachments: {len(paths)} files (at most {limits.max_files} per comment)",
            hint="split them over several `tixcli attach` calls",
        )
    uploads, total = [], 0
    for raw in paths:
        path = Path(raw)
        upload = _inspect(path, limits)
        total += upload.size
        if total > limits.max_total_bytes:
            raise InvalidInputError(f"attachments too large: more than {limits.max_total_bytes:,} bytes in one comment")
        uploads.append(upload)
    return uploads


def _inspect(path: Path, limits: AttachmentLimits) -> FileUpload:
    try:
        if not path.is_file():
            reason = "is a directory" if path.is_dir() else "no such file"
            raise InvalidInputError(f"cannot attach {path}: {reason}")
        size = path.stat().st_size
        with path.open("rb"):  # unreadable files fail here, not halfway through a send
            pass
    except OSError as exc:
        raise InvalidInputError(f"cannot attach {path}: {exc.strerror or 'unreadable'}") from None
    name = os.path.basename(path)
    extension = path.suffix.lower().lstrip(".")
    if limits.allowed_types is not None and extension not in limits.allowed_types:
        raise InvalidInputError(
            f"cannot attach {name}: file type {extension or '(none)'!r} is not allowed",
            hint="allowed: " + " ".join(limits.allowed_types),
        )
    if limits.max_file_bytes is not None and size > limits.max_file_bytes:
        raise InvalidInputError(
            f"cannot attach {name}: {size:,} bytes is over the {limits.max_file_bytes:,}-byte limit per file"
        )
    import mimetypes

    content_type = mimetypes.guess_type(name)[0] or _EXTRA_TYPES.get(extension, "application/octet-stream")
    return FileUpload(path=path, filename=name, size=size, content_type=content_type)
