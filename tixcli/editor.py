"""`create -e` and `reply -e`: write the text in the user's editor, on the terminal.

The editor is `$VISUAL`, else `$EDITOR`, else `vi` (split like a shell word list, so
`VISUAL="code --wait"` works), run on a private temporary file holding a template, with its
standard input, output and error on `/dev/tty`: tixcli's own stdout may be a pipe
(`ID=$(tixcli create -e)`). Everything from the scissors line down is ignored, so Markdown
`#` headings above it are sent as they are; the guidance lives below it.

An empty text, an editor that exits non-zero (`:cq` in vi), is killed, or cannot be run, and no
terminal at all: InvalidInputError (exit 6), before anything is sent. The temporary folder and
everything in it (the file, an editor's swap or backup files) are deleted in every case.
"""

from __future__ import annotations

import os
import sys

from .errors import InvalidInputError

SCISSORS = "# ---- >8 ----"
#: the most an edited file is read (the backend's comment limit is checked on the text afterwards)
MOST_BYTES = 64 * 1024 * 1024
#: lines of the last comment quoted under the scissors line of a reply's template
QUOTED_LINES = 40

_GUIDANCE = (
    "# Do not change or remove the line above: everything from it down is ignored,\n"
    "# everything above it is sent (Markdown # headings too).\n"
)


def editor_command() -> list[str]:
    """$VISUAL, else $EDITOR, else vi, as a command line (an empty variable counts as unset)."""
    import shlex

    for var in ("VISUAL", "EDITOR"):
        value = os.environ.get(var, "")
        if value.strip():
            try:
                words = shlex.split(value)
            except ValueError as exc:
                raise InvalidInputError(f"${var} is not a valid command line: {exc}") from None
            if words:
                return words
    if os.environ.get("TERM") == "dumb":
        raise InvalidInputError("no editor: $VISUAL and $EDITOR are unset and this terminal cannot run vi (TERM=dumb)")
    return ["vi"]


def edit(template: str, name: str = "TIXCLI.md") -> str:
    """Run the editor on `template` and give back the text above the scissors line, at its end
    no blank lines or trailing space; an empty one is refused (exit 6)."""
    import shutil
    import tempfile

    command = editor_command()
    tty = _open_terminal()
    folder = None
    try:
        try:
            folder = tempfile.mkdtemp(prefix="tixcli-")  # 0700: only this user sees the text
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(template)
        except OSError as exc:
            where = tempfile.gettempdir()
            raise InvalidInputError(f"cannot write the editor's file in {where}: {exc.strerror}") from None
        _run(command, path, tty)
        raw = _read_back(path)
    finally:
        os.close(tty)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    text = above_scissors(raw)
    if not text.strip():
        raise InvalidInputError("the text from the editor is empty: nothing sent")
    return text


def above_scissors(raw: str) -> str:
    """The text above the first scissors line, without trailing blank lines and space (CRLF read as LF)."""
    lines = raw.replace("\r\n", "\n").split("\n")
    for n, line in enumerate(lines):
        if line.rstrip() == SCISSORS:
            lines = lines[:n]
            break
    return "\n".join(lines).rstrip()


def new_ticket_template(subject: str | None) -> str:
    return (
        f"{subject or ''}\n\n{SCISSORS}\n{_GUIDANCE}"
        "#\n"
        "# The first line is the subject; after a blank line, the text.\n"
        "# An empty text, or leaving the editor with an error (:cq in vi), creates nothing.\n"
    )


def split_new_ticket(text: str) -> tuple[str, str]:
    """The subject (the first line) and the body (the lines after it, leading blank lines dropped)."""
    first, _, rest = text.partition("\n")
    subject = first.strip()
    if not subject:
        raise InvalidInputError("the subject is empty (write it on the first line): nothing created")
    lines = rest.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    body = "\n".join(lines).rstrip()
    if not body:
        raise InvalidInputError("the body is empty (write it under the subject, after a blank line): nothing created")
    return subject, body


def reply_template(ticket) -> str:
    """An empty text above the scissors line; under it, the ticket and its last comment, quoted."""
    from .output import clean

    lines = [
        "",
        "",
        SCISSORS,
        _GUIDANCE.rstrip("\n"),
        "# An empty text, or leaving the editor with an error (:cq in vi), sends nothing.",
        "#",
        f"# Reply to #{clean(ticket.id, one_line=True)} ({clean(ticket.status, one_line=True)}): "
        + clean(ticket.subject, one_line=True),
    ]
    comments = ticket.comments or []
    if comments:
        last = comments[-1]
        who = clean(last.author or "someone", one_line=True)
        when = f" at {clean(last.created_at, one_line=True)}" if last.created_at else ""
        kind = "" if last.public else " (internal note)"
        lines += ["#", f"# The last comment{kind}, by {who}{when}:", "#"]
        quoted = clean(last.body).rstrip().split("\n")
        lines += [f"# > {line}".rstrip() for line in quoted[:QUOTED_LINES]]
        if len(quoted) > QUOTED_LINES:
            lines.append(f"# > [{len(quoted) - QUOTED_LINES:,} more lines]")
    return "\n".join(lines) + "\n"


# -- what create and reply check before they read a body -----------------------------------------


def check_sources(editor: bool, body: str | None, body_file: str | None) -> None:
    """-e gives the text: not with --body/--body-file. Without any of them the body is missing (exit 6:
    tixcli never prompts), with a hint naming -e."""
    if editor and (body is not None or body_file is not None):
        given = "--body" if body is not None else "--body-file"
        raise InvalidInputError(f"-e/--editor and {given} both give the text: give one")
    if not editor and body is None and body_file is None:
        raise InvalidInputError(
            "a body is required: --body TEXT or --body-file PATH",
            hint="or write it in an editor: -e (--editor) opens $VISUAL, else $EDITOR, else vi",
        )


def reads_terminal(body: str | None, body_file: str | None) -> bool:
    """Whether `--body-file -` (and no --body) reads standard input, and it is a terminal."""
    return body is None and body_file == "-" and sys.stdin is not None and _is_terminal(sys.stdin)


def stdin_notice() -> None:
    """One line on stderr before a terminal is read: a blank screen that waits is no riddle."""
    print("reading the body from standard input until Ctrl-D", file=sys.stderr, flush=True)


# -- the terminal and the editor's run ----------------------------------------------------------


def _open_terminal() -> int:
    try:
        return os.open("/dev/tty", os.O_RDWR)
    except OSError as exc:
        raise InvalidInputError(
            f"-e/--editor needs a terminal: cannot open /dev/tty ({exc.strerror})",
            hint="give the text with --body TEXT or --body-file PATH",
        ) from None


def _run(command: list[str], path: str, tty: int) -> None:
    import signal
    import subprocess
    import threading

    shown = os.path.basename(command[0])
    # The terminal's Ctrl-C and Ctrl-\ go to the whole foreground group: they are the editor's to
    # handle (vi cancels a command), not a reason for tixcli to leave the editor behind. A handler
    # that does nothing, not SIG_IGN: the editor starts with the default one (exec resets handlers).
    caught = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGQUIT):
            caught.append((sig, signal.signal(sig, _nothing)))
    try:
        try:
            proc = subprocess.Popen([*command, path], stdin=tty, stdout=tty, stderr=tty)
        except OSError as exc:
            missing = isinstance(exc, FileNotFoundError)
            raise InvalidInputError(
                f"cannot run the editor {shown}: {'not found' if missing else exc.strerror}",
                hint="set $VISUAL or $EDITOR to an editor on your PATH",
            ) from None
        status = proc.wait()
    finally:
        for sig, previous in caught:
            signal.signal(sig, previous)
    if status < 0:
        raise InvalidInputError(f"the editor {shown} was killed by signal {-status}: nothing sent")
    if status > 0:
        raise InvalidInputError(f"the editor {shown} exited with status {status}: nothing sent")


def _nothing(signum, frame) -> None:
    pass


def _read_back(path: str) -> str:
    try:
        with open(path, "rb") as fh:  # by name: an editor may have replaced the file
            raw = fh.read(MOST_BYTES + 1)
    except FileNotFoundError:
        return ""  # the editor removed it: no text
    except OSError as exc:
        raise InvalidInputError(f"cannot read the edited text: {exc.strerror}") from None
    if len(raw) > MOST_BYTES:
        raise InvalidInputError(f"the edited text holds more than {MOST_BYTES:,} bytes", hint="attach it as a file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError("the text from the editor is not valid UTF-8: nothing sent") from None


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
