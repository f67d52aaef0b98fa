"""The settings of a Zendesk profile (ZendeskBackend.settings), importable without zenpy."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from tixcli.config import HTTP_SETTINGS, Setting, secret_settings

MAX_FIELD_ID = 10**20  # Zendesk ids are at most 20 digits (remote.service_id)
MAX_FIELD_NAME = 100


@dataclass(frozen=True)
class FieldMapSetting(Setting):
    """`fields: {name: ticket field id}`: checked when the profile is loaded (exit 3), so that a
    typo never reaches Zendesk: each name a non-empty string `--field NAME=VALUE` can say (no `=`,
    no control characters, no spaces at its ends), each id a positive whole number, no id twice."""

    def problem(self, value: Any) -> str | None:
        base = super().problem(value)
        if base is not None:
            return base
        seen: dict[int, str] = {}
        for name, field_id in value.items():
            if not isinstance(name, str) or not name.strip():
                return "has a field name that is not a non-empty string"
            shown = repr(name[:40])
            bad_char = any(unicodedata.category(ch)[0] == "C" for ch in name)
            if "=" in name or bad_char or name != name.strip() or len(name) > MAX_FIELD_NAME:
                return f"field name {shown} must be a word --field NAME=VALUE can give (no '=', no control characters)"
            if isinstance(field_id, bool) or not isinstance(field_id, int) or not 0 < field_id < MAX_FIELD_ID:
                return f"maps {shown} to something that is not a ticket field id (a positive whole number)"
            if field_id in seen:
                return f"maps both {seen[field_id]!r} and {shown} to ticket field {field_id}"
            seen[field_id] = name
        return None


SETTINGS = {
    "subdomain": Setting(str, None, "https://SUBDOMAIN.zendesk.com (or give url)"),
    **HTTP_SETTINGS,
    **secret_settings("token", "API token (Basic auth with email)"),
    **secret_settings("oauth_token", "OAuth token (Bearer; instead of token)"),
    "fields": FieldMapSetting(dict, None, "custom fields by name: name -> ticket field id (--field NAME=VALUE)"),
    "escalation_stages": Setting(
        list, None, "an escalation's stages, first to last (kept as tags tixcli_escalation_STAGE; default: 5)"
    ),
    "rate_as_requester": Setting(
        bool, False, "send `tixcli rate` as the ticket's requester: their email with the API token"
    ),
}
