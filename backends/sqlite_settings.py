"""The settings of an SQLite profile (SQLiteBackend.settings), importable on their own."""

from tixcli.config import Setting

SETTINGS = {
    "path": Setting(str, None, "the store file (default $XDG_DATA_HOME/tixcli/tickets.db; TIXCLI_DB overrides)"),
    "read_only": Setting(bool, False, "open the store read-only: writes exit 9, no file is ever created"),
    "auto_close_days": Setting(float, 7.0, "solved tickets close by themselves after this many days"),
    "busy_timeout": Setting(float, 60.0, "seconds a write waits for another tixcli before exit 8"),
    "sla": Setting(dict, None, "SLA targets per priority: {urgent: {first_reply: 30m, resolution: 2h}, ...}"),
    "escalation_stages": Setting(list, None, "an escalation's stages, first to last (default: submitted ... resolved)"),
}
