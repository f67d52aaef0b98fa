"""tixcli: one command line for support tickets on every ticket system a team uses."""

__version__ = "0.1.0"
