"""Import every command module so each registers itself on the app, then give each its examples.

The import order is the order `tixcli --help` lists the commands in.
"""

# ruff: noqa: I001, F401
from . import create, list_cmd, show, history_cmd, edit, reply, status, reopen, cc, download, export, schema
from . import backends_cmd
from . import examples
from .app import app

examples.attach(app)
