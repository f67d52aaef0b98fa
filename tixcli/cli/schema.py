"""`tixcli schema [NAME]`: the JSON Schemas of what tixcli prints, the public contract of its JSON."""

from typing import Annotated

import typer

from tixcli.completion import choices
from tixcli.errors import InvalidInputError
from tixcli.history import history_schema
from tixcli.model import json_schema, tombstone_schema, write_result_schema
from tixcli.output import dumps_json

from .app import app

SCHEMAS = {
    "ticket": (json_schema, "a ticket as `show --format json` and `export` print it"),
    "write-result": (write_result_schema, "what write commands print with --format json: a ticket + created, changed"),
    "tombstone": (tombstone_schema, "the line `export --with-deleted` writes for a deleted ticket"),
    "history-event": (history_schema, "one change to a ticket, as `history` and `export --with-history` print it"),
}


@app.command()
def schema(
    name: Annotated[
        str,
        typer.Argument(
            help="ticket (the default), write-result, tombstone or history-event.",
            metavar="[NAME]",
            show_default=False,
            click_type=choices(SCHEMAS, {key: what for key, (_, what) in SCHEMAS.items()}),
        ),
    ] = "ticket",
    write_result: Annotated[
        bool, typer.Option("--write-result", help="The same as `tixcli schema write-result`.", hidden=True)
    ] = False,
    list_names: Annotated[bool, typer.Option("--list", help="The schemas there are, one a line.")] = False,
) -> None:
    """Print the JSON Schema of a ticket as `show --format json` prints it, or of NAME."""
    if list_names:
        for key, (_, what) in SCHEMAS.items():
            print(f"{key}\t{what}")
        return
    key = "write-result" if write_result else name.lower().replace("_", "-").replace(" ", "-")
    if key not in SCHEMAS:
        raise InvalidInputError(f"no schema named {name!r}", hint="one of: " + ", ".join(SCHEMAS))
    print(dumps_json(SCHEMAS[key][0]()))
