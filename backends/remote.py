"""What the remote backends share beyond HTTP (``http.py``): the opaque `export` resume cursor.

A cursor is a JSON object in unpadded URL-safe base64: one word for the shell, and opaque to
the user. Each backend decides what the object holds and checks its fields after decoding.
"""

from __future__ import annotations

import base64
import json

from tixcli.errors import TixError


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
