"""Which ticket a command works on: its ID argument, or `--dedupe-key KEY` in its place.

A CI job opens a ticket with `create --dedupe-key KEY` and, in the green run, solves "the open
ticket carrying KEY": every command that takes an ID takes the key instead. `--dedupe-key auto`
is the key `tixcli.ci` derives from the CI run (repository, workflow, job, branch).
"""

from typing import TYPE_CHECKING, Annotated

import click
import typer

from tixcli.completion import TICKET_ID
from tixcli.errors import InvalidInputError, NotFoundError
from tixcli.output import clean, dumps_json, message

from .app import check_text, check_ticket_id

if TYPE_CHECKING:
    from .app import State

# The ids a Tab offers: the local store's, most recently updated first (none for a remote profile).
OptionalTicketId = Annotated[
    str | None,
    typer.Argument(
        metavar="[ID]",
        help="The ticket's id (or --dedupe-key KEY).",
        callback=check_ticket_id,
        show_default=False,
        click_type=TICKET_ID,
    ),
]
# attach and download: with --dedupe-key the first value is a file or an attachment id, checked later
LooseTicketId = Annotated[
    str | None,
    typer.Argument(
        metavar="[ID]", help="The ticket's id (or --dedupe-key KEY).", show_default=False, click_type=TICKET_ID
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--dedupe-key",
        metavar="KEY",
        help="In place of ID: the non-closed ticket carrying this dedupe key ('auto': the key of this CI run).",
        show_default=False,
    ),
]


def dedupe_key_value(key: str) -> str:
    """A --dedupe-key value as given, or (`auto`) the key of the CI run this runs in (exit 6 outside CI)."""
    key = check_text(key, "dedupe key").strip()
    if key.lower() != "auto":
        return key
    from tixcli.ci import detect

    context = detect()
    if context is None:
        raise InvalidInputError(
            "--dedupe-key auto needs a CI run: no CI environment found",
            hint="run it in CI (CI=true and the provider's variables), or give the key itself",
        )
    return context.dedupe_key()


def no_open_ticket(key: str) -> str:
    return f"no open ticket with dedupe key {clean(key, one_line=True)}"


def target_ticket(state: "State", ticket_id: str | None, key: str | None, missing_ok: bool = False) -> str | None:
    """The id of the ticket ID or --dedupe-key names. No open ticket with the key: exit 4, or with
    `missing_ok` (solve, close: there is nothing to do) a note on stderr and None."""
    if ticket_id is not None and key is not None:
        raise InvalidInputError("give a ticket ID or --dedupe-key, not both")
    if ticket_id is not None:
        return ticket_id
    if key is None:
        raise click.UsageError("Missing argument 'ID' (or --dedupe-key KEY).")
    key = dedupe_key_value(key)
    found = state.backend.ticket_for_key(key)
    if found is not None:
        return found
    if missing_ok:
        message(no_open_ticket(key))
        return None
    raise NotFoundError(no_open_ticket(key), hint="`tixcli list --all` shows the open tickets")


def print_no_ticket(fmt: str | None) -> None:
    """The write result of solve/close when no open ticket carries the key: nothing changed."""
    if fmt in ("json", "jsonl"):
        print(dumps_json({"id": None, "created": None, "changed": False}, pretty=fmt == "json"))
    elif fmt == "yaml":
        print("id: null\ncreated: null\nchanged: false")


def shift_into(ticket_id: str | None, key: str | None, rest: list[str] | None) -> tuple[str | None, list[str]]:
    """With --dedupe-key, a first positional value is no ID but the first of the values after it
    (attach's files, download's attachment ids)."""
    values = list(rest or [])
    if key is not None and ticket_id is not None:
        return None, [ticket_id, *values]
    if ticket_id is not None:
        check_ticket_id(click.get_current_context(), ticket_id)
    return ticket_id, values
