"""Files tixcli writes beside their final name: private from the first byte, renamed when complete."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import InvalidInputError

# O_EXCL refuses an existing name, a symlink included; O_NOFOLLOW says so again where it exists.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def private_temporary_file(folder: Path, prefix: str, shown: str) -> tuple[int, Path]:
    """A new file `folder/PREFIX<random>.part`, mode 0600 whatever the umask: (fd, path).

    `shown` names the final target in errors (InvalidInputError, exit 6).
    """
    for _ in range(100):
        path = folder / f"{prefix}{os.urandom(6).hex()}.part"
        try:
            fd = os.open(path, _NEW_FILE, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise InvalidInputError(f"cannot write {shown}: {exc.strerror}") from None
        try:
            os.fchmod(fd, 0o600)  # the umask can only take bits away: 0o600 exactly
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        return fd, path
    raise InvalidInputError(f"cannot write {shown}: no free temporary name in {folder}")
