"""The command line: one small module per command, all registered on one Typer app."""

from . import commands  # noqa: F401  (registers the commands)
from .app import app

__all__ = ["app"]
