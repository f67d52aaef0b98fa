"""Keep secrets out of every output: a wrapper that never prints, and a redaction filter.

Every secret tixcli reads is registered here; the error handler and the debug log pass all
text they print through ``redact`` so a token cannot leak through a library's message.
"""

from __future__ import annotations

import base64

_known: set[str] = set()


class Secret:
    """A credential: str() and repr() never show it; `.reveal()` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


def register(value: str | None) -> None:
    """Remember a secret (and the forms it takes in headers) so `redact` can hide it."""
    if not value or len(value) < 4:
        return
    _known.add(value)


def register_basic_auth(user: str, secret: str) -> None:
    """A Basic header carries base64(user:secret): hide that form too."""
    register(base64.b64encode(f"{user}:{secret}".encode()).decode())
    register(base64.b64encode(f"{user}/token:{secret}".encode()).decode())


def redact(text: str) -> str:
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "********")
    return text
