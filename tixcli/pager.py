"""Long output through a pager, on a terminal only.

The pager is `TIXCLI_PAGER`, else `PAGER` (a command with its arguments, split as a shell would
split words, never run through a shell; set but empty: no pager), else `less -FRX`. Output is
paged only when stdout is a terminal, paging is not turned off (`--no-pager`) and the text takes
more lines than the terminal has; otherwise it is written as it is. A pager the user quits early
(`q` in less) is no error: what it did not read is dropped and tixcli exits 0.
"""

from __future__ import annotations

import os
import re
import sys
from typing import IO

from . import terminal

DEFAULT_PAGER = ("less", "-FRX")
# Our own SGR colour sequences: they take no cells (ticket text holds no escapes once cleaned).
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def pager_command() -> tuple[list[str] | None, str | None]:
    """The pager's argv and the variable it came from (None: the default); argv None: no pager."""
    for name in ("TIXCLI_PAGER", "PAGER"):
        if name in os.environ:
            value = os.environ[name]
            if not value.strip():
                return None, name
            import shlex

            try:
                argv = shlex.split(value)
            except ValueError:
                from .output import message

                message(f"warning: ${name} is not a command line (unbalanced quotes); not paging")
                return None, name
            return (argv or None), name
    return list(DEFAULT_PAGER), None


def rows_needed(text: str, columns: int, most: int) -> int:
    """The terminal rows `text` takes at `columns` cells a row (long lines wrap), counted up to
    `most + 1` (past that, how many more does not matter)."""
    rows = 0
    columns = max(1, columns)
    start, end_of_text = 0, len(text)
    while start < end_of_text and rows <= most:
        end = text.find("\n", start)
        if end < 0:
            end = end_of_text
        line = text[start:end]
        visible = _SGR.sub("", line) if "\x1b" in line else line
        rows += max(1, -(-terminal.text_width(visible) // columns))
        start = end + 1
    return rows


def should_page(text: str, out: IO[str], enabled: bool = True) -> bool:
    if not enabled or not terminal.is_terminal(out):
        return False
    lines = terminal.height(out)
    return rows_needed(text, terminal.width(out), lines) >= lines


def write(text: str, out: IO[str] | None = None, enabled: bool = True) -> None:
    """`text` to `out` (stdout): through the pager when `should_page`, else directly."""
    out = out if out is not None else sys.stdout
    if should_page(text, out, enabled):
        argv, source = pager_command()
        if argv is not None and _page(text, argv, source, out):
            return
    out.write(text)
    out.flush()


def _page(text: str, argv: list[str], source: str | None, out: IO[str]) -> bool:
    """Run the pager on `text`; False when it could not be started (then the text is written)."""
    import signal
    import subprocess

    env = dict(os.environ)
    env.setdefault("LESS", "FRX")  # as git and gh do: a bare `less` in $PAGER keeps colours, quits when short
    env.setdefault("LV", "-c")
    out.flush()
    sys.stderr.flush()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, env=env)
    except OSError as exc:
        if source is not None:  # the user's own pager: say why it was not used
            from .output import clean, message

            name = clean(argv[0], True)
            message(f"warning: cannot run the pager from ${source} ({name}: {exc.strerror}); not paging")
        return False
    encoding = getattr(out, "encoding", None) or "utf-8"
    data = text.encode(encoding, errors="replace")
    # Ctrl-C belongs to the pager while it runs (less uses it to stop a search): tixcli waits.
    in_main = _main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
    try:
        assert proc.stdin is not None
        try:
            view = memoryview(data)
            for start in range(0, len(data), 65_536):
                proc.stdin.write(view[start : start + 65_536])
            proc.stdin.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the user quit the pager before reading it all
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass
        proc.wait()
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    return True


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
