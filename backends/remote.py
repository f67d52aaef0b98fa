"""What the remote backends share beyond HTTP (``http.py``): the base class `RemoteBackend`
(the lazy client, the one table that turns the 4xx answers HttpClient leaves to us into tixcli
errors, the JSON shape checks), the opaque `export` resume cursor, and reading times and ids
out of a service's answers.

The 4xx table (`RemoteBackend.refusal`; HttpClient has already turned 401/403 into exit 7, 404
into exit 4, 429 beyond the budget, 5xx and transport failures into exit 8):

=======  ===============================================  ======================  ====
status   when                                             error                   exit
=======  ===============================================  ======================  ====
(any)    the vendor hook `vendor_refusal` recognises the  what it returns         5/6
         answer (Zendesk: "closed prevents ticket
         update", solve without an assignee)
400      the request's input was refused                  InvalidInputError       6
422      the request's input was refused (validation)     InvalidInputError       6
413      the request is larger than the service takes     InvalidInputError       6
409      on a write to an existing ticket: a conflict     RefusedError            5
         with the ticket's state (changed meanwhile,
         an update collision, a state that forbids it)
409      anywhere else (a read, a create, an upload)      UnavailableError        8
410      the API was removed                              UnavailableError        8
other    405, 406, 412, 415, ...: nothing the user can    UnavailableError        8
         change
=======  ===============================================  ======================  ====

The message carries the service's own error text (the vendor hook `error_text` extracts it
from the body, never from headers), cut to MESSAGE_MAX characters.

A subclass gives `service` (the name in messages), `open_session()` (a requests-like session
with the credentials), optionally `base_url`, `connected(http)` (to build a vendor library on
the client), `error_text(body)` and `vendor_refusal(...)`.

A cursor is a JSON object in unpadded URL-safe base64: one word for the shell, and opaque to
the user. Each backend decides what the object holds and checks its fields after decoding.
"""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING, Any

from tixcli.backends.base import Backend
from tixcli.config import Profile
from tixcli.errors import InvalidInputError, RefusedError, TixError, UnavailableError
from tixcli.model import from_epoch, to_iso

if TYPE_CHECKING:
    import requests

    from tixcli.backends.http import HttpClient

MESSAGE_MAX = 300  # the longest text from a service that goes into an error message or hint
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RemoteBackend(Backend):
    """Base of the backends that talk to a service over HTTP (see the module docstring)."""

    #: the service's name in messages ("Zendesk", "JSM")
    service: str = "service"

    def __init__(self, profile: Profile) -> None:
        super().__init__(profile)
        self._http: HttpClient | None = None  # made on first use: the constructor never touches the network

    # -- connection: hooks ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The service's origin (override for vendor rules); read after `open_session`."""
        return self.profile.base_url()

    def open_session(self) -> Any:
        """A session (``requests.Session``-like: `request`, `headers`, `close`) carrying the
        credentials; called once, on first use."""
        raise NotImplementedError

    def connected(self, http: HttpClient) -> None:  # noqa: B027 - optional hook
        """Called once the client exists (build a vendor library on it here)."""

    # -- connection -------------------------------------------------------------------------

    @property
    def http(self) -> HttpClient:
        """The one HttpClient of this run, created from the profile on first use."""
        if self._http is None:
            from tixcli.backends.http import HttpClient

            session = self.open_session()
            self._http = HttpClient.for_profile(self.profile, self.base_url, session=session, service=self.service)
            self.connected(self._http)
        return self._http

    @property
    def request_count(self) -> int:
        return self._http.request_count if self._http is not None else 0

    def export_source(self) -> str:
        """The service's origin: a state file is refused by another site or account."""
        return f"{self.name}:{self.base_url}"

    def export_tickets(self, since=None, cursor: str | None = None):
        """An export waits out rate limits longer than one command (`export_retry_budget`): a
        long export at a vendor's 10 requests a minute would spend `retry_budget` in minutes."""
        budget = float(self.profile.number("export_retry_budget", 3600.0))
        self.http.retry_budget = max(self.http.retry_budget, budget)
        return super().export_tickets(since=since, cursor=cursor)

    def shutdown(self) -> None:
        if self._http is not None:
            close = getattr(self._http.session, "close", None)
            if close is not None:
                close()
        self._http = None

    # -- requests ---------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        ticket: str | None = None,
        retry_safe: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """One request: its decoded JSON answer (None when empty), or the error its 4xx means.

        `action` names it in messages ("search", "reply"); `ticket` is the ticket it writes to or
        reads, if any (a 409 on a write to it is a conflict with its state: exit 5).
        """
        response = self.http.request(method, path, retry_safe=retry_safe, **kwargs)
        return self.answer(response, action=action, ticket=ticket, write=method.upper() not in READ_METHODS)

    def read(self, path: str, params: dict | None = None, *, action: str, ticket: str | None = None) -> dict:
        """A GET whose answer must be a JSON object."""
        return self.json_object(self.call("GET", path, params=params, action=action, ticket=ticket))

    def answer(
        self, response: requests.Response, *, action: str, ticket: str | None = None, write: bool = False
    ) -> Any:
        """The decoded JSON of an answer HttpClient handed back, or the error its 4xx means."""
        if response.status_code >= 400:
            raise self.refusal(response.status_code, error_body(response), action=action, ticket=ticket, write=write)
        return self.http.decode(response)

    # -- the error table --------------------------------------------------------------------

    def error_text(self, body: Any) -> str:
        """The human-readable error text of a vendor's error body ('' when there is none)."""
        return ""

    def vendor_refusal(
        self, status: int, body: Any, text: str, *, action: str, ticket: str | None, write: bool
    ) -> TixError | None:
        """A vendor's own reading of an error answer, before the table (None: use the table)."""
        return None

    def refusal(
        self, status: int, body: Any, *, action: str, ticket: str | None = None, write: bool = False
    ) -> TixError:
        """The tixcli error a 4xx answer means (the table in the module docstring)."""
        text = bounded(self.error_text(body))
        special = self.vendor_refusal(status, body, text, action=action, ticket=ticket, write=write)
        if special is not None:
            return special
        return http_refusal(self.service, status, text, action=action, ticket=ticket, write=write)

    # -- the shapes of answers --------------------------------------------------------------

    def json_object(self, value: Any) -> dict:
        return json_object(value, self.service)

    def json_array(self, value: Any) -> list[dict]:
        return json_array(value, self.service)

    def records(self, data: Any, key: str) -> list[dict]:
        return records(data, key, self.service)

    def need(self, data: Any, key: str) -> Any:
        return need(data, key, self.service)

    def record(self, data: Any, key: str) -> dict:
        return record(data, key, self.service)


def http_refusal(
    service: str, status: int, text: str, *, action: str, ticket: str | None = None, write: bool = False
) -> TixError:
    """The table of the module docstring, for the answers no vendor hook recognised."""
    detail = f": {text}" if text else ""
    if status == 409 and write and ticket is not None:
        return RefusedError(
            f"{service} refused the change to ticket {ticket}: it conflicts with the ticket's current state "
            f"(HTTP 409){detail}",
            hint=f"the ticket changed meanwhile: read it again (tixcli show {ticket}) and retry",
        )
    if status in (400, 422):
        return InvalidInputError(f"{service} refused to {action}: {text or f'HTTP {status}'}")
    if status == 413:
        return InvalidInputError(f"{service} refused to {action}: the request is too large (HTTP 413){detail}")
    if status == 410:
        return UnavailableError(f"{service}: this API was removed (HTTP 410){detail}")
    return UnavailableError(f"{service} answered HTTP {status} to {action}{detail}")


def error_body(response: Any) -> Any:
    """The parsed JSON body of an error answer, or None (never its headers)."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


def bounded(text: str) -> str:
    """Text from the service cut to MESSAGE_MAX characters for an error message or hint."""
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def json_object(value: Any, service: str) -> dict:
    """An answer that must be a JSON object; anything else is a malformed answer (exit 8)."""
    if not isinstance(value, dict):
        raise UnavailableError(f"{service} sent a malformed answer (not a JSON object)")
    return value


def json_array(value: Any, service: str) -> list[dict]:
    """An answer that must be a JSON array of objects; anything else is exit 8."""
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise UnavailableError(f"{service} sent a malformed answer (not a JSON array of objects)")
    return value


def records(data: Any, key: str, service: str) -> list[dict]:
    """The list of objects under `key` of an answer ([] when absent); anything else there is exit 8."""
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise UnavailableError(f"{service} sent a malformed answer ({key} is not a list of objects)")
    return value


def need(data: Any, key: str, service: str) -> Any:
    """A value the service must send: its absence is a malformed answer (exit 8), not a bug."""
    value = data.get(key) if isinstance(data, dict) else None
    if value is None or value == "":
        raise UnavailableError(f"{service} sent a malformed answer (no {key!r})")
    return value


def record(data: Any, key: str, service: str) -> dict:
    """The object under `key` that must carry an `id` (a ticket in an answer): else exit 8."""
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, dict) or value.get("id") is None:
        raise UnavailableError(f"{service} sent a malformed answer (no {key!r})")
    return value


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
