"""Import the command modules so each registers itself on the app, then give each its examples.

The import order is the order `tixcli --help` lists the commands in. When the console script
knows which command it runs (`tixcli.startup.COMMAND`), only that command's module is imported:
the others' imports (hashing, the editor, CI detection, export state...) are not paid for.
"""

# ruff: noqa: I001, F401
import importlib

from tixcli import startup

from . import examples
from .app import app

# each command's module, in `tixcli --help` order
MODULES = {
    "create": "create",
    "list": "list_cmd",
    "show": "show",
    "history": "history_cmd",
    "edit": "edit",
    "reply": "reply",
    "attach": "reply",
    "solve": "status",
    "close": "status",
    "reopen": "reopen",
    "escalate": "escalate",
    "rate": "rate",
    "cc": "cc",
    "download": "download",
    "export": "export",
    "schema": "schema",
    "backends": "backends_cmd",
}


def load(command: str | None = None) -> None:
    """Register `command`'s module (None or an unknown name: every command)."""
    modules = [MODULES[command]] if command in MODULES else list(dict.fromkeys(MODULES.values()))
    for module in modules:
        importlib.import_module(f"{__package__}.{module}")
    examples.attach(app)


def load_all() -> None:
    """Every command (a usage error's message names the commands there are)."""
    load(None)


load(startup.COMMAND)
