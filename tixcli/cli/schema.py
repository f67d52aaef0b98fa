"""`tixcli schema`: the JSON Schema of the ticket model, the public contract of --format json."""

from typing import Annotated

import typer

from tixcli.model import json_schema, write_result_schema
from tixcli.output import dumps_json

from .app import app


@app.command()
def schema(
    write_result: Annotated[
        bool,
        typer.Option(
            "--write-result",
            help="The schema of what write commands (create, reply, attach, solve, close, cc --add/--remove) "
            "print with --format json: the ticket's fields plus created and changed.",
        ),
    ] = False,
) -> None:
    """Print the JSON Schema of a ticket as `show --format json` prints it (or of a write result)."""
    print(dumps_json(write_result_schema() if write_result else json_schema()))
