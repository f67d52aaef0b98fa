"""What the remote backends share beyond HTTP (``http.py``): the opaque `export` resume cursor,
and reading times out of a service's answers.

A cursor is a JSON object in unpadded URL-safe base64: one word for the shell, and opaque to
the user. Each backend decides what the object holds and checks its fields after decoding.
"""

from __future__ import annotations

import base64
import json
import re

from tixcli.errors import InvalidInputError, TixError, UnavailableError
from tixcli.model import from_epoch, to_iso


def encode_cursor(payload: dict) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, invalid: TixError) -> dict:
    """The object `encode_cursor` wrote into `token`; `invalid` is raised for anything else."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:  # binascii.Error, a non-ASCII token, bad JSON or UTF-8: all ValueErrors
        raise invalid from None
    if not isinstance(data, dict):
        raise invalid
    return data


def service_time(value, service: str, epoch_divisor: float | None = None) -> str | None:
    """A time from a service's answer as tixcli's ISO 8601 (None when absent).

    A malformed one is the service's fault: exit 8 with one line, never a raw Python error.
    `epoch_divisor`: the value is a number of epoch units (1000 for milliseconds).
    """
    if value is None or value == "":
        return None
    try:
        if epoch_divisor is not None:
            return from_epoch(float(value) / epoch_divisor)
        if not isinstance(value, str):
            raise TypeError(value)
        return to_iso(value)
    except (TypeError, ValueError, OverflowError, OSError, InvalidInputError):
        raise UnavailableError(f"{service} sent a malformed time: {str(value)[:40]!r}") from None


# Ids that go into a URL path. A Zendesk id is decimal digits; a JSM key is PROJECT-123.
_ZENDESK_ID = re.compile(r"[0-9]{1,20}")
_JSM_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,254}-[0-9]{1,20}")


def service_id(value, service: str, what: str = "id") -> str:
    """A numeric id from a service's answer (ticket, comment, attachment, user), as text.

    Anything but 1-20 ASCII digits is a malformed answer (exit 8): it would go into a URL path.
    """
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _ZENDESK_ID.fullmatch(text):
        raise UnavailableError(f"{service} sent a malformed {what}: {_shown(value)}")
    return text


def service_key(value, service: str, what: str = "issue key") -> str:
    """A Jira issue key from a service's answer (PROJECT-123); anything else is exit 8."""
    if not isinstance(value, str) or not _JSM_KEY.fullmatch(value):
        raise UnavailableError(f"{service} sent a malformed {what}: {_shown(value)}")
    return value


def _shown(value) -> str:
    """A bounded, printable rendering of a hostile value for an error message."""
    text = repr(value)[:40]
    return "".join(ch if " " <= ch < "\x7f" else "?" for ch in text)
