"""`tixcli schema`: the JSON Schema of the ticket model, the public contract of --format json."""

from tixcli.model import json_schema
from tixcli.output import dumps_json

from .app import app


@app.command()
def schema() -> None:
    """Print the JSON Schema of a ticket as `show --format json` prints it."""
    print(dumps_json(json_schema()))
