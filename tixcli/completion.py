"""Shell completion: fixed values, profile names, and the ticket ids of the local store.

The shells run tixcli with `_TIXCLI_COMPLETE` set, in click 8's protocol: `bash_complete`,
`zsh_complete` or `fish_complete` with `COMP_WORDS` and `COMP_CWORD` (the scripts that
`tixcli --show-completion SHELL` prints, `bash_source` and the like, set them). `__main__` hands
such a run to `respond` before anything else.

An option whose values the shell should complete takes one of the parameter types below as its
`click_type` (Typer deprecates `shell_complete=`): the value stays the string it was, checked by
tixcli as before (a bad `--status` is still exit 6, not click's usage error), and `--help` shows
the choices (`[low|normal|high|urgent]`). The `complete_*` functions behind them take click's
`shell_complete` arguments (ctx, param, incomplete).

Completing only reads: ticket ids come from the SQLite store of the profile the command would
use, opened read-only (never created, migrated or auto-closed), at most `MOST_IDS` of them, the
most recently updated first, each with its subject (cleaned) as the description zsh and fish
show. Remote profiles complete no ids (no network from a Tab). Anything that goes wrong, a
missing or busy store included, completes nothing, silently: a shell's prompt is no place for
a traceback.

This module loads with every command (options refer to its types), so it imports only what is
loaded anyway; sqlite3, the config and the scripts load when a shell asks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from tixcli.model import ACTIVE_STATUSES, PRIORITIES, STATUSES, TYPES

COMPLETE_VAR = "_TIXCLI_COMPLETE"
PROG_NAME = "tixcli"
SHELLS = ("bash", "zsh", "fish")
#: the most ticket ids one Tab offers
MOST_IDS = 200
#: seconds a completion waits for a store another tixcli holds locked
BUSY_WAIT = 0.2
#: the longest subject shown beside an id
SUBJECT_CHARS = 60

Complete = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


class Completing(click.types.StringParamType):
    """A string parameter (converted exactly as click's STRING) whose values `complete` completes,
    shown in help as `metavar` (default: TEXT)."""

    def __init__(self, complete: Complete, metavar: str | None = None) -> None:
        self.complete = complete
        self.metavar = metavar

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str | None:
        return self.metavar

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        try:
            return self.complete(ctx, param, incomplete)
        except Exception:  # completion must never break the shell's prompt
            return []

    def __repr__(self) -> str:
        return f"Completing({getattr(self.complete, '__name__', self.complete)!r})"


def choice_items(
    values: Iterable[str], incomplete: str, helps: Mapping[str, str] | None = None, several: bool = False
) -> list[CompletionItem]:
    """`values` that start with `incomplete` (any case). `several`: a comma-separated list, the
    last part completed after the ones before it ("open,pe" -> "open,pending")."""
    helps = helps or {}
    done, _, part = incomplete.rpartition(",") if several else ("", "", incomplete)
    before = [v for v in done.split(",") if v] if done else []
    prefix = done + "," if done else ""
    part = part.lower()
    return [
        CompletionItem(prefix + value, help=helps.get(value))
        for value in values
        if value.startswith(part) and value not in before
    ]


def choices(
    values: Iterable[str], helps: Mapping[str, str] | None = None, several: bool = False, metavar: str | None = None
) -> Completing:
    """A string parameter offering fixed `values` (help shows `[a|b|c]`, or `metavar`); tixcli
    still checks the value itself, so a wrong one keeps its exit code."""
    values = tuple(values)

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        return choice_items(values, incomplete, helps, several)

    complete.__name__ = "complete_" + "_".join(values[:2])
    shown = "|".join(values)
    return Completing(complete, metavar or f"[{shown}]")


# -- the fixed values ------------------------------------------------------------------------

STATUS_HELP = {
    "active": "new, open, pending or hold (the default)",
    "any": "every status",
    "solved": "closes by itself after a while",
    "closed": "final",
}
FORMAT_HELP = {
    "table": "aligned columns for a person",
    "json": "one JSON document",
    "jsonl": "one JSON object a line",
    "csv": "a header, then a row a ticket",
    "yaml": "YAML",
}
COLORS = ("auto", "always", "never")
COLOR_HELP = {"auto": "on a terminal only (the default)", "always": "even into a pipe", "never": "no colour"}
PRIORITY_HELP = {"urgent": "P1", "high": "P2", "normal": "P3", "low": "P4"}


def complete_status(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`list --status`: statuses, several with commas, or active / any."""
    if "," in incomplete:  # active and any stand alone
        return choice_items(STATUSES, incomplete, STATUS_HELP, several=True)
    return choice_items(("active", "any", *STATUSES), incomplete, STATUS_HELP)


def complete_reply_status(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`reply --status`: the statuses a reply may set."""
    from tixcli.lifecycle import REPLY_STATUSES

    return choice_items(REPLY_STATUSES, incomplete)


def complete_priority(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return choice_items(PRIORITIES, incomplete, PRIORITY_HELP)


def complete_type(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return choice_items(TYPES, incomplete)


def complete_sort(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`list --sort`: its orders."""
    from tixcli.cli.list_cmd import SORTS

    return choice_items(SORTS, incomplete)


def complete_read_format(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`--format` of list and show."""
    from tixcli.output import READ_FORMATS

    return choice_items(READ_FORMATS, incomplete, FORMAT_HELP)


def complete_write_format(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`--format` of the commands that change a ticket."""
    from tixcli.output import WRITE_FORMATS

    return choice_items(WRITE_FORMATS, incomplete, FORMAT_HELP)


def complete_color(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return choice_items(COLORS, incomplete, COLOR_HELP)


def complete_columns(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`list --columns`: a ticket's fields, several with commas ("id,st" -> "id,status")."""
    from tixcli.model import TICKET_FIELDS

    return choice_items(TICKET_FIELDS, incomplete, several=True)


def complete_file(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """A path: the shell completes file names itself."""
    return [CompletionItem(incomplete, type="file")]


def complete_dir(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(incomplete, type="dir")]


# -- profiles and ticket ids -----------------------------------------------------------------


def _root_option(ctx: click.Context, name: str) -> str | None:
    return ctx.find_root().params.get(name)


def complete_profile(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`--profile`: the profiles of the config file (--config, $TIXCLI_CONFIG or the default)."""
    from tixcli.config import load_config

    config = load_config(_root_option(ctx, "config"))
    items = []
    for name, settings in config.profiles.items():
        name = str(name)
        if name.startswith(incomplete) and _plain_word(name):
            backend = settings.get("backend") if isinstance(settings, dict) else None
            items.append(CompletionItem(name, help=_one_line(backend) if isinstance(backend, str) else None))
    return items


# Which tickets a command can act on (None: any); a Tab offers only those.
_ID_STATUSES: dict[str, tuple[str, ...] | None] = {
    "solve": ACTIVE_STATUSES,
    "reopen": ("solved", "pending", "hold"),
    "close": ("new", "open", "pending", "hold", "solved"),
    "reply": ("new", "open", "pending", "hold", "solved"),
    "attach": ("new", "open", "pending", "hold", "solved"),
    "edit": ("new", "open", "pending", "hold", "solved"),
}


def complete_ticket_id(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """A ticket id of the local store, with its subject; for remote profiles, nothing."""
    if ctx.params.get("dedupe_key") is not None:  # the key names the ticket: attach's first value is a file
        return complete_file(ctx, param, incomplete) if ctx.command.name == "attach" else []
    store = local_store(ctx)
    if store is None or not (incomplete == "" or (incomplete.isdigit() and not incomplete.startswith("0"))):
        return []
    statuses = _ID_STATUSES.get(ctx.command.name or "")
    return [
        CompletionItem(str(ticket_id), help=_one_line(subject) or None)
        for ticket_id, subject in recent_tickets(store, incomplete, statuses)
    ]


def local_store(ctx: click.Context) -> Path | None:
    """The SQLite store the command would open (--profile, --config, TIXCLI_DB), if it exists;
    None for a remote profile."""
    from tixcli.config import default_db_path, load_config

    profile = load_config(_root_option(ctx, "config")).profile(_root_option(ctx, "profile"))
    if profile.backend != "sqlite":
        return None
    # as SQLiteBackend.__init__ finds it (tests/test_completion.py checks they agree)
    path = Path(os.environ.get("TIXCLI_DB") or profile.get("path") or default_db_path()).expanduser()
    return path if path.is_file() else None


def recent_tickets(
    path: Path, prefix: str, statuses: tuple[str, ...] | None, most: int = MOST_IDS
) -> list[tuple[int, str]]:
    """(id, subject) of the tickets whose id starts with `prefix` (digits), the most recently
    updated first; the store opened read-only, never created nor changed."""
    import sqlite3
    from urllib.parse import quote

    from tixcli.backends.sqlite_schema import APPLICATION_ID

    # Read-only; and while no connection has the store open (no -wal, no -journal beside it),
    # immutable too: a read-only connection would create a -wal and -shm it cannot remove.
    quiet = not any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    uri = f"file:{quote(str(path))}?mode=ro" + ("&immutable=1" if quiet else "")
    db = sqlite3.connect(uri, uri=True, timeout=BUSY_WAIT, isolation_level=None)
    try:
        (app_id,) = db.execute("SELECT application_id FROM pragma_application_id").fetchone()
        if app_id != APPLICATION_ID:  # not a tixcli store
            return []
        where: list[str] = []
        values: list[object] = []
        if statuses is not None:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            values += statuses
        if prefix:
            # the ids that start with the digits: [p, p+1), [10p, 10p+10), ... up to the largest id
            (largest,) = db.execute("SELECT max(id) FROM tickets").fetchone()
            low, width, ranges = int(prefix), 1, []
            while largest is not None and low <= largest:
                ranges.append("id BETWEEN ? AND ?")
                values += [low, low + width - 1]
                low, width = low * 10, width * 10
            if not ranges:
                return []
            where.append(f"({' OR '.join(ranges)})")
        sql = "SELECT id, subject FROM tickets"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = db.execute(f"{sql} ORDER BY updated_at DESC, id DESC LIMIT ?", [*values, most]).fetchall()
    finally:
        db.close()
    return [(int(ticket_id), subject if isinstance(subject, str) else "") for ticket_id, subject in rows]


def _one_line(text: str | None) -> str:
    """A description as a shell shows it: one line of visible characters, not too long."""
    if not text:
        return ""
    from tixcli.output import clean

    text = " ".join(clean(text, one_line=True).split())
    return text if len(text) <= SUBJECT_CHARS else text[: SUBJECT_CHARS - 1].rstrip() + "…"


def _plain_word(value: str) -> bool:
    """A value a shell takes as one word as it is (no spaces, quotes or control characters)."""
    return bool(value) and value.isprintable() and not any(c in value for c in " \t'\"\\$`;&|<>()*?[]{}!#~")


# -- the parameter types options use -----------------------------------------------------------

STATUS_LIST = Completing(complete_status, "[active|any|new|open|pending|hold|solved|closed]")
REPLY_STATUS = Completing(complete_reply_status, "[open|pending|hold]")
PRIORITY = Completing(complete_priority, "[" + "|".join(PRIORITIES) + "]")
TICKET_TYPE = Completing(complete_type, "[" + "|".join(TYPES) + "]")
SORT = Completing(complete_sort, "[updated|created|priority]")
READ_FORMAT = Completing(complete_read_format, "[table|json|jsonl|csv|yaml]")
WRITE_FORMAT = Completing(complete_write_format, "[json|jsonl|yaml]")
COLOR = Completing(complete_color, "[" + "|".join(COLORS) + "]")
COLUMNS = Completing(complete_columns, "FIELD,...")
FILE = Completing(complete_file, "FILE")
DIR = Completing(complete_dir, "DIR")
PROFILE = Completing(complete_profile, "NAME")
TICKET_ID = Completing(complete_ticket_id)


# -- the shells' side ------------------------------------------------------------------------


def respond(instruction: str) -> int | None:
    """Answer a shell's request (`$_TIXCLI_COMPLETE`): print the completions, or the script.

    None: an instruction in Typer's order (`complete_bash`, from a script `--install-completion`
    wrote before tixcli spoke click's protocol), which Typer answers as it did.
    """
    shell, _, action = instruction.partition("_")
    if shell in ("complete", "source"):
        from typer.completion import completion_init

        completion_init()  # Typer's classes, for Typer's scripts
        return None
    if shell not in SHELLS or action not in ("complete", "source"):
        return 1
    if action == "source":
        print(script(shell), end="")
        return 0
    import contextlib
    import io

    answer = ""
    with contextlib.redirect_stderr(io.StringIO()):  # config warnings and the like: not on the prompt
        try:
            answer = _shell_class(shell)(_command(), {}, PROG_NAME, COMPLETE_VAR).complete()
        except Exception:
            answer = ""
    if answer:
        sys.stdout.write(answer + "\n")
    return 0


def _command() -> click.Command:
    import typer.main

    from tixcli.cli import app

    return typer.main.get_command(app)


def _shell_class(shell: str) -> type[click.shell_completion.ShellComplete]:
    # click's own classes: Typer registers its own under the same names
    return {
        "bash": click.shell_completion.BashComplete,
        "zsh": click.shell_completion.ZshComplete,
        "fish": click.shell_completion.FishComplete,
    }[shell]


def script(shell: str) -> str:
    """The completion script of `shell` (bash, zsh or fish)."""
    cls = _shell_class(shell)
    return cls(_command(), {}, PROG_NAME, COMPLETE_VAR).source()


def detect_shell() -> str | None:
    """The shell tixcli runs under (its parent process, else $SHELL), if it is one of SHELLS."""
    name = None
    try:
        import shellingham  # type: ignore[import-untyped]

        name = shellingham.detect_shell()[0]
    except Exception:
        name = None
    if name not in SHELLS:
        name = os.path.basename(os.environ.get("SHELL", ""))
    return name if name in SHELLS else None


def chosen_shell(value: str, param: click.Parameter | None = None) -> str:
    """The shell --show-completion / --install-completion name (`auto`: the one running tixcli)."""
    shell = detect_shell() if value in ("", "auto") else value.lower()
    if shell is None:
        raise click.BadParameter("cannot tell which shell this is: name it (bash, zsh or fish)", param=param)
    if shell not in SHELLS:
        raise click.BadParameter(f"no completion for {value!r}: bash, zsh or fish", param=param)
    return shell


def install(shell: str) -> tuple[str, list[str]]:
    """Write the script where `shell` loads it from (where Typer's --install-completion put it)
    and the line that loads it into the shell's rc file; (script path, lines added)."""
    home = Path.home()
    added: list[str] = []
    if shell == "bash":
        target = home / ".bash_completions" / f"{PROG_NAME}.sh"
        _add_line(home / ".bashrc", f"source '{target}'", added)
    elif shell == "zsh":
        target = home / ".zfunc" / f"_{PROG_NAME}"
        _add_line(home / ".zshrc", "fpath+=~/.zfunc; autoload -Uz compinit; compinit", added)
    else:
        target = home / ".config" / "fish" / "completions" / f"{PROG_NAME}.fish"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(script(shell))
    return str(target), added


def _add_line(rc: Path, line: str, added: list[str]) -> None:
    text = rc.read_text() if rc.is_file() else ""
    if line not in text.splitlines():
        with rc.open("a") as fh:
            fh.write(("" if not text or text.endswith("\n") else "\n") + line + "\n")
        added.append(f"{rc}: {line}")
