"""Import every command module so each registers itself on the app, in help order."""

from . import cc, create, export, list_cmd, reply, schema, show, status  # noqa: F401
