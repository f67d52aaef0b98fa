"""HTTP plumbing shared by the remote backends: timeouts, bounded retries, error mapping.

- Every request has a timeout (the profile's `timeout`).
- 429: the service did not process the request, so any method is retried after Retry-After,
  unless the wait is longer than `max_retry_wait` or the command's `retry_budget` is spent.
- 5xx and dropped connections: retried with backoff only when the request is safe to repeat
  (reads, or a create that carries an idempotency key); a blind retry could duplicate a ticket.
- Errors become tixcli errors: 401/403 and HTML sign-in pages → AuthError (exit 7), 404 →
  NotFoundError, rate limits, 5xx, timeouts and malformed JSON → UnavailableError (exit 8).
  No message ever carries a request header, so a token cannot leak through one.
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests

from tixcli.errors import AuthError, NotFoundError, RateLimitedError, UnavailableError

if TYPE_CHECKING:
    from tixcli.config import Profile

log = logging.getLogger("tixcli.http")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})


class HttpClient:
    """One service's base URL, session and retry budget (one per command run)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        max_retry_wait: float = 60.0,
        retry_budget: float = 120.0,
        session: requests.Session | None = None,
        service: str = "service",
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        # host[:port] for messages: never the user:password a URL may carry before the host
        self.host = urlsplit(base_url).netloc.rpartition("@")[2]
        self.timeout = timeout
        self.max_retry_wait = max_retry_wait
        self.retry_budget = retry_budget
        self.session = session or requests.Session()
        self.service = service
        self.sleep = time.sleep  # tests may replace it
        self.request_count = 0
        self._waited = 0.0

    @classmethod
    def for_profile(cls, profile: Profile, base_url: str, *, session: Any, service: str) -> HttpClient:
        """A client bounded by the profile's `timeout`, `max_retry_wait` and `retry_budget`."""
        return cls(
            base_url,
            timeout=profile.timeout,
            max_retry_wait=profile.max_retry_wait,
            retry_budget=profile.retry_budget,
            session=session,
            service=service,
        )

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else urljoin(self.base_url, path.lstrip("/"))

    def same_origin(self, url: str, what: str = "a paging link") -> str:
        """`url` (absolute, or relative to the base URL) when it points at the profile's own origin.

        A link a server sends (next page) is followed with our credentials only when its scheme,
        host and port equal the base URL's; anything else is a hostile or broken answer (exit 8).
        """
        absolute = urljoin(self.base_url, url)
        if _origin(absolute) != _origin(self.base_url):
            parts = urlsplit(absolute)
            where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
            raise UnavailableError(f"{self.service} sent {what} to another origin ({clean_host(where)}); not followed")
        return absolute

    def request(self, method: str, path: str, *, retry_safe: bool | None = None, **kwargs: Any) -> requests.Response:
        """Send with retries; returns any response below 400 and 4xx the caller must judge.

        401/403/404/429/5xx and transport failures raise tixcli errors.
        """
        method = method.upper()
        if retry_safe is None:
            retry_safe = method in SAFE_METHODS
        kwargs.setdefault("timeout", self.timeout)
        url = self.url(path)
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                self.request_count += 1
                response = self.session.request(method, url, **kwargs)
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                # ChunkedEncodingError: the answer was cut short, i.e. the connection dropped mid-body.
                kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                log.debug("%s %s: %s after %.2fs", method, _path_only(url), kind, time.monotonic() - started)
                if retry_safe and self._backoff(attempt):
                    continue
                raise UnavailableError(f"cannot reach {self.service} at {self.host}: {kind}") from None
            except requests.RequestException as exc:
                raise UnavailableError(f"request to {self.service} failed: {type(exc).__name__}") from None
            log.debug(
                "%s %s -> %s (%.2fs)",
                method,
                _path_only(url),
                response.status_code,
                time.monotonic() - started,
            )
            status = response.status_code
            if status == 429:
                wait = _retry_after(response)
                if self._may_wait(wait if wait is not None else self._backoff_delay(attempt)):
                    continue
                asked = f"it asked to wait {wait:g} s" if wait is not None else "no Retry-After given"
                raise RateLimitedError(
                    f"{self.service} rate limit: gave up after {attempt} attempts ({asked})",
                    retry_after=wait,
                    hint="try again later, or raise max_retry_wait / retry_budget in the profile",
                )
            if status in RETRY_STATUSES:
                if retry_safe and self._backoff(attempt, _retry_after(response)):
                    continue
                raise UnavailableError(f"{self.service} answered HTTP {status}")
            if status == 401:
                raise AuthError(
                    f"{self.service} rejected the credentials (HTTP 401)",
                    hint="check the profile's email and the token its token_env names",
                    status=401,
                )
            if status == 403:
                raise AuthError(f"{self.service} denied permission (HTTP 403)", status=403)
            if status == 404:
                raise NotFoundError(f"not found on {self.service}: {_path_only(url)}")
            if status < 400 and _looks_like_html(response):
                raise AuthError(
                    f"{self.service} answered with a web page instead of JSON (sign-in expired?)",
                    hint="check the url and sign in again",
                )
            return response

    def decode(self, response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise UnavailableError(
                f"{self.service} sent a malformed answer (HTTP {response.status_code}, not JSON)"
            ) from None

    # -- waiting --
    def _backoff_delay(self, attempt: int) -> float:
        return min(8.0, 0.25 * 2 ** (attempt - 1)) * (0.75 + random.random() / 2)

    def _backoff(self, attempt: int, retry_after: float | None = None) -> bool:
        if attempt >= 5:
            return False
        return self._may_wait(retry_after if retry_after is not None else self._backoff_delay(attempt))

    def _may_wait(self, seconds: float) -> bool:
        if seconds > self.max_retry_wait or self._waited + seconds > self.retry_budget:
            return False
        self._waited += seconds
        log.debug("waiting %.2fs before retrying", seconds)
        self.sleep(seconds)
        return True


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: treat as unknown


def _looks_like_html(response: requests.Response) -> bool:
    ctype = response.headers.get("Content-Type", "").lower()
    if "html" in ctype:
        return True
    head = response.content[:64].lstrip().lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1  # a malformed port never equals ours
    scheme = parts.scheme.lower()
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def clean_host(host: str) -> str:
    """A host from a server's answer, safe to print: printable ASCII, bounded."""
    return "".join(ch if " " < ch < "\x7f" else "?" for ch in host[:100])


def _path_only(url: str) -> str:
    """A URL for messages and logs: path only, no query (queries may carry emails or text)."""
    return urlsplit(url).path
