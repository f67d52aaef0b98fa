"""What `create`, `reply` and `solve` add for a CI job: `--ci`, `--attach-log`, `--attach-stdin`.

- `--ci`: the run's context (tixcli.ci) as a short block under the body, the tags `ci` and the
  provider on a new ticket, and where `$GITHUB_OUTPUT` is set, `ticket-id`, `ticket-url` and
  `created` appended to it for the next steps.
- `--attach-log FILE [--log-lines N]`: the last N lines as NAME.log, secrets redacted first.
- `--attach-stdin NAME`: standard input as a file named NAME.
Both count against the attachment limits with the --attach files.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tixcli import completion as completing
from tixcli.errors import InvalidInputError, TixError
from tixcli.output import clean, message
from tixcli.terminal import is_terminal

if TYPE_CHECKING:
    from tixcli.ci import CIContext
    from tixcli.model import Ticket

    from .app import State

CiOption = Annotated[
    bool,
    typer.Option(
        "--ci",
        help="Add the CI run's context (run URL, repository, commit, branch, job, attempt) to the body and the "
        "tags ci and the provider to a new ticket; append ticket-id, ticket-url, created to $GITHUB_OUTPUT.",
    ),
]
AttachLogOption = Annotated[
    str | None,
    typer.Option(
        "--attach-log",
        metavar="FILE",
        help="Attach the last --log-lines lines of FILE as NAME.log, secrets redacted first.",
        show_default=False,
        click_type=completing.FILE,
    ),
]
LogLinesOption = Annotated[int, typer.Option("--log-lines", metavar="N", help="Lines of --attach-log to attach.")]
AttachStdinOption = Annotated[
    str | None,
    typer.Option(
        "--attach-stdin", metavar="NAME", help="Attach standard input as a file named NAME.", show_default=False
    ),
]
DEFAULT_LOG_LINES = 200
STDIN_MOST = 64 * 1024 * 1024  # read at most this (the attachment limits are checked on what was read)


def ci_context(enabled: bool) -> CIContext | None:
    """The CI run's context with --ci; exit 6 when there is no CI at all."""
    if not enabled:
        return None
    from tixcli.ci import detect

    context = detect()
    if context is None:
        raise InvalidInputError(
            "--ci needs a CI run: no CI environment found (no provider's variables, CI is not true)",
            hint="drop --ci outside CI",
        )
    return context


def with_context(body: str | None, context: CIContext | None, fallback: str) -> str | None:
    """The body with the run's block under it (`fallback` when there is no body)."""
    if context is None:
        return body
    return f"{body if body is not None else fallback}\n\n{context.body_block()}"


def generated_files(
    state: State, attach_log: str | None, log_lines: int, attach_stdin: str | None, body_file: str | None
) -> list[tuple[str, bytes]]:
    """The files --attach-log and --attach-stdin make, read and cleaned before anything is sent."""
    files: list[tuple[str, bytes]] = []
    if log_lines < 1:
        raise InvalidInputError(f"--log-lines must be at least 1, not {log_lines}")
    if attach_log is not None:
        from tixcli.redact import log_tail, redact

        tail = log_tail(attach_log, log_lines)
        secret = _profile_secret(state)
        result = redact(tail, secrets=[secret] if secret else [])
        name = _safe_name(Path(attach_log).stem or "log") + ".log"
        message(f"{name}: redacted {result.count} secret{'s' if result.count != 1 else ''}")
        files.append((name, result.text.encode("utf-8")))
    if attach_stdin is not None:
        name = _safe_name(attach_stdin)
        if body_file == "-":
            raise InvalidInputError("--attach-stdin and --body-file - both read standard input: give one")
        if sys.stdin is None or is_terminal(sys.stdin):
            raise InvalidInputError("--attach-stdin reads standard input, and it is a terminal", hint="pipe it in")
        data = sys.stdin.buffer.read(STDIN_MOST + 1)
        if len(data) > STDIN_MOST:
            raise InvalidInputError(f"cannot attach {name}: standard input holds more than {STDIN_MOST:,} bytes")
        files.append((name, data))
    return files


def write_github_output(context: CIContext | None, ticket: Ticket | None, created: bool) -> None:
    """With --ci, where $GITHUB_OUTPUT is set: ticket-id=, ticket-url=, created= for the next steps."""
    target = os.environ.get("GITHUB_OUTPUT")
    if context is None or not target:
        return
    values = {
        "ticket-id": ticket.id if ticket is not None else "",
        "ticket-url": (ticket.url or "") if ticket is not None else "",
        "created": "true" if created else "false",
    }
    # One line each: a value with a newline would write other outputs (a server chose the url).
    text = "".join(f"{key}={_one_line(value)}\n" for key, value in values.items())
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise InvalidInputError(f"cannot write $GITHUB_OUTPUT ({target}): {exc.strerror}") from None


def _one_line(value: str) -> str:
    return "".join(ch for ch in clean(value, one_line=True) if ch.isprintable())[:2048]


def _safe_name(name: str) -> str:
    """A file name for a generated attachment: a base name, printable, no leading dot."""
    base = os.path.basename(name.replace("\\", "/")).strip()
    base = "".join(ch for ch in base if ch.isprintable()).lstrip(".")
    if not base:
        raise InvalidInputError(f"{clean(name, one_line=True)!r} is no file name")
    return base[:200]


def _profile_secret(state: State) -> str | None:
    """The profile's own token (redacted from logs), where it has one."""
    try:
        secret = state.profile.secret("token", required=False)
    except TixError:  # a keyring that cannot answer: the env and pattern rules still apply
        return None
    return secret.reveal() if secret is not None else None
