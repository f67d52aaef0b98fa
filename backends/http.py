"""HTTP plumbing shared by the remote backends: timeouts, bounded retries, error mapping.

- Every request has a deadline (the profile's `timeout`): from connecting to the last byte of the
  answer, not just per socket read, so an answer trickled a byte at a time ends in time too (the
  connection is shut when the deadline passes).
- Every answer is read as a stream and refused past `max_response_bytes` (32 MiB by default, far
  above the largest real page): a huge answer costs neither unbounded memory nor time (exit 8).
- JSON is parsed with a depth limit (orjson's 1,024): a deeply nested answer is malformed (exit 8).
- 429: the service did not process the request, so any method is retried after Retry-After,
  unless the wait is longer than `max_retry_wait` or the command's `retry_budget` is spent.
- 5xx and dropped connections: retried with backoff only when the request is safe to repeat
  (reads, or a create that carries an idempotency key); a blind retry could duplicate a ticket.
- Credentials stay with the service: `request` sends only to the profile's own origin (scheme,
  host and port) and follows redirects only there; a link or redirect elsewhere is exit 8.
  `download` is the one way to another host: https only, without Authorization or cookies.
- Errors become tixcli errors: 401/403 and HTML sign-in pages → AuthError (exit 7), 404 →
  NotFoundError, rate limits, 5xx, timeouts and malformed JSON → UnavailableError (exit 8).
  The other 4xx answers are handed back: `remote.RemoteBackend.refusal` is the one table that
  judges them (409, 400, 422...). No message ever carries a request header, so a token cannot
  leak through one.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from tixcli.errors import AuthError, NotFoundError, RateLimitedError, UnavailableError

if TYPE_CHECKING:
    from tixcli.config import Profile

log = logging.getLogger("tixcli.http")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # default `max_response_bytes`: a JSON answer larger is refused
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


class HttpClient:
    """One service's base URL, session and retry budget (one per command run)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        max_retry_wait: float = 60.0,
        retry_budget: float = 120.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        session: requests.Session | None = None,
        service: str = "service",
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        # host[:port] for messages: never the user:password a URL may carry before the host
        self.host = urlsplit(base_url).netloc.rpartition("@")[2]
        self.timeout = timeout
        self.max_retry_wait = max_retry_wait
        self.retry_budget = retry_budget
        self.max_response_bytes = max_response_bytes
        self.session = session or requests.Session()
        _bound_sessions(self.session)
        self.service = service
        self.sleep = time.sleep  # tests may replace it
        self.request_count = 0
        self._waited = 0.0

    @classmethod
    def for_profile(cls, profile: Profile, base_url: str, *, session: Any, service: str) -> HttpClient:
        """A client bounded by the profile's `timeout`, `max_retry_wait`, `retry_budget` and
        `max_response_bytes`."""
        return cls(
            base_url,
            timeout=profile.timeout,
            max_retry_wait=profile.max_retry_wait,
            retry_budget=profile.retry_budget,
            max_response_bytes=max(1, int(profile.number("max_response_bytes", MAX_RESPONSE_BYTES))),
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
        if not self._own(absolute):
            raise UnavailableError(f"{self.service} sent {what} to another origin ({_where(absolute)}); not followed")
        return absolute

    def _own(self, url: str) -> bool:
        return _origin(url) == _origin(self.base_url)

    def request(self, method: str, path: str, *, retry_safe: bool | None = None, **kwargs: Any) -> requests.Response:
        """Send with retries; returns any response below 400 and 4xx the caller must judge.

        Only to the profile's own origin: an absolute URL elsewhere, or a redirect elsewhere, is
        exit 8 (the session carries the credentials). The answer's body is read in full, within
        `max_response_bytes` and the request's deadline. 401/403/404/429/5xx and transport
        failures raise tixcli errors.
        """
        method = method.upper()
        if retry_safe is None:
            retry_safe = method in SAFE_METHODS
        url = self.url(path)
        if not self._own(url):
            self.same_origin(url, "a link")  # raises: never our credentials to another origin
        timeout = kwargs.pop("timeout", self.timeout)
        kwargs.pop("allow_redirects", None)  # redirects are followed here, to our own origin only
        kwargs.pop("stream", None)
        attempt = redirects = 0
        while True:
            attempt += 1
            started = time.monotonic()
            self.request_count += 1
            deadline = _Deadline(timeout)
            try:
                response = self._send(self.session, method, url, deadline, kwargs)
                if response.status_code not in REDIRECT_STATUSES:
                    self._read_all(response, deadline)
            except _Transport as exc:
                log.debug("%s %s: %s after %.2fs", method, _path_only(url), exc.kind, time.monotonic() - started)
                if retry_safe and self._backoff(attempt):
                    continue
                raise UnavailableError(f"cannot reach {self.service} at {self.host}: {exc.kind}") from None
            finally:
                deadline.cancel()
            log.debug("%s %s -> %s (%.2fs)", method, _path_only(url), response.status_code, time.monotonic() - started)
            status = response.status_code
            if status in REDIRECT_STATUSES:
                response.close()
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise UnavailableError(f"{self.service} redirected more than {MAX_REDIRECTS} times")
                url = self.same_origin(response.headers.get("Location") or "", "a redirect")
                if status == 303 or (status in (301, 302) and method not in SAFE_METHODS):
                    method = "GET"
                    kwargs = {k: v for k, v in kwargs.items() if k not in ("json", "data", "files")}
                attempt -= 1
                continue
            if self._judge(response, attempt, retry_safe, url):
                continue
            # zenpy and error readers parse it too: depth-limited. Replacing the method on this one
            # response is the point, which mypy refuses in general.
            response.json = _safe_json(response)  # type: ignore[method-assign]
            return response

    def download(self, path_or_url: str, max_bytes: int, *, timeout: float | None = None) -> Iterator[bytes]:
        """The bytes at a link (attachment content), as chunks, at most `max_bytes` of them.

        The profile's credentials (the session's auth, headers and cookies) go only to its own
        origin. Redirects are followed here, at most MAX_REDIRECTS: to another origin only over
        https, from a fresh session without Authorization or cookies; back to the own origin with
        them. The whole download, redirects and body, is bounded by `timeout` (the profile's by
        default). The request is made before returning; the body is read as the caller iterates.
        """
        url = urljoin(self.base_url, path_or_url)
        deadline = _Deadline(self.timeout if timeout is None else timeout)
        foreign: requests.Session | None = None
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                own = self._own(url)
                if own:
                    session, extra = self.session, {}
                else:
                    if urlsplit(url).scheme.lower() != "https":
                        raise UnavailableError(
                            f"{self.service} sent a download link to {_where(url)} without https; not followed"
                        )
                    if foreign is None:
                        foreign = requests.Session()
                        foreign.headers["User-Agent"] = (
                            _header(self.session, "User-Agent") or foreign.headers["User-Agent"]
                        )
                        _bound_sessions(foreign)
                    foreign.cookies.clear()  # a foreign host's cookies do not travel either
                    session, extra = foreign, {"auth": _no_credentials}
                self.request_count += 1
                try:
                    response = self._send(session, "GET", url, deadline, extra)
                except _Transport as exc:
                    raise UnavailableError(f"cannot download from {_where(url)}: {exc.kind}") from None
                status = response.status_code
                log.debug("GET %s -> %s (download)", _path_only(url), status)
                if status in REDIRECT_STATUSES:
                    response.close()
                    url = urljoin(url, response.headers.get("Location") or "")
                    continue
                if not own and status >= 300:
                    response.close()
                    raise UnavailableError(f"the download host {_where(url)} answered HTTP {status}")
                if own:
                    self._judge(response, MAX_REDIRECTS, False, url, head_only=True)
                    if status >= 300:
                        response.close()
                        raise UnavailableError(f"{self.service} answered HTTP {status} to a download")
                size = _content_length(response)
                if size is not None and size > max_bytes:
                    response.close()
                    raise UnavailableError(f"the download is larger than {_size(max_bytes)} ({_size(size)}); not read")
                return self._chunks(response, max_bytes, deadline, url)
            raise UnavailableError(f"{self.service} download redirected more than {MAX_REDIRECTS} times")
        except BaseException:
            deadline.cancel()
            if foreign is not None:
                foreign.close()
            raise

    def _chunks(self, response, max_bytes: int, deadline: _Deadline, url: str) -> Iterator[bytes]:
        total = 0
        try:
            for chunk in _body(response, deadline):
                total += len(chunk)
                if total > max_bytes:
                    raise UnavailableError(f"the download is larger than {_size(max_bytes)}; stopped")
                yield chunk
        except _Transport as exc:
            raise UnavailableError(f"cannot download from {_where(url)}: {exc.kind}") from None
        finally:
            deadline.cancel()
            response.close()

    def decode(self, response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return _loads(response.content)
        except ValueError:
            raise UnavailableError(
                f"{self.service} sent a malformed answer (HTTP {response.status_code}, not JSON)"
            ) from None

    # -- one exchange --
    def _send(self, session, method: str, url: str, deadline: _Deadline, kwargs: dict) -> requests.Response:
        """One request with its headers read (the body left to read), within `deadline`."""
        _current.deadline = deadline
        try:
            remaining = max(0.001, deadline.remaining())
            return session.request(method, url, timeout=remaining, allow_redirects=False, stream=True, **kwargs)
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # ChunkedEncodingError: the answer was cut short, i.e. the connection dropped mid-body.
            timed_out = deadline.fired or isinstance(exc, requests.Timeout)
            raise _Transport("timed out" if timed_out else "connection failed") from None
        except requests.RequestException as exc:
            if deadline.fired:
                raise _Transport("timed out") from None
            raise UnavailableError(f"request to {self.service} failed: {type(exc).__name__}") from None
        finally:
            _current.deadline = None

    def _read_all(self, response: requests.Response, deadline: _Deadline) -> None:
        """Read the whole body into `response.content`, refusing more than max_response_bytes."""
        cap = self.max_response_bytes
        size = _content_length(response)
        if size is not None and size > cap:
            response.close()
            raise self._too_large(size)
        chunks: list[bytes] = []
        total = 0
        for chunk in _body(response, deadline):
            total += len(chunk)
            if total > cap:
                response.close()
                raise self._too_large(None)
            chunks.append(chunk)
        response._content = b"".join(chunks)
        # requests declares _content_consumed on Response; types-requests leaves it out
        response._content_consumed = True  # type: ignore[attr-defined]

    def _too_large(self, size: int | None) -> UnavailableError:
        got = f" ({_size(size)})" if size is not None else ""
        return UnavailableError(
            f"{self.service} sent an answer larger than {_size(self.max_response_bytes)}{got}; not read",
            hint="raise max_response_bytes in the profile if this answer is expected",
        )

    def _judge(self, response, attempt: int, retry_safe: bool, url: str, head_only: bool = False) -> bool:
        """True to retry; raises the tixcli error an answer means; False to hand it back."""
        status = response.status_code
        if status == 429:
            wait = _retry_after(response)
            if not head_only and self._may_wait(wait if wait is not None else self._backoff_delay(attempt)):
                return True
            asked = f"it asked to wait {wait:g} s" if wait is not None else "no Retry-After given"
            raise RateLimitedError(
                f"{self.service} rate limit: gave up after {attempt} attempts ({asked})",
                retry_after=wait,
                hint="try again later, or raise max_retry_wait / retry_budget in the profile",
            )
        if status in RETRY_STATUSES:
            if retry_safe and self._backoff(attempt, _retry_after(response)):
                return True
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
        if status < 400 and not head_only and _looks_like_html(response):
            raise AuthError(
                f"{self.service} answered with a web page instead of JSON (sign-in expired?)",
                hint="check the url and sign in again",
            )
        return False

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


# -- the deadline of one request ------------------------------------------------------------------


class _Transport(Exception):
    """A request that failed in transport: `kind` is "timed out" or "connection failed"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


_current = threading.local()  # the deadline of the request this thread is sending


class _Deadline:
    """Shuts the connection of one request down when its time is up.

    requests' timeout bounds each socket read, so an answer trickled a byte at a time would last
    for ever; this bounds the whole exchange. The connection is learned from the pool (_Pool)."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.fired = False
        self._conn = None
        self._done = False
        self._lock = threading.Lock()
        self._arm(seconds)

    def _arm(self, seconds: float) -> None:
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def attach(self, conn) -> None:
        with self._lock:
            self._conn = conn

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock = getattr(self._conn, "sock", None)
            if sock is None:
                self._arm(0.05)  # still connecting (bounded by the connect timeout): look again
                return
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also under TLS
            except OSError:
                pass

    def cancel(self) -> None:
        with self._lock:
            self._done = True
            self._conn = None
            self._timer.cancel()

    def check(self) -> None:
        if self.fired or self.remaining() < 0:
            self.fired = True
            raise _Transport("timed out")


class _Watched:
    """A connection pool that tells the sending thread's `_Deadline` which connection it uses."""

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.attach(conn)
        return conn


class _Pool(_Watched, HTTPConnectionPool):
    pass


class _TLSPool(_Watched, HTTPSConnectionPool):
    pass


_POOLS = {"http": _Pool, "https": _TLSPool}


def _bound_sessions(session: Any) -> None:
    """Let `_Deadline` find each request's connection: the session's adapters use `_Pool`.

    `session` is a requests.Session, or a wrapper holding one in `_session` (the jira library's).
    """
    target = session if isinstance(session, requests.Session) else getattr(session, "_session", None)
    if not isinstance(target, requests.Session):
        return  # no deadline past the socket timeouts; the body is still checked between chunks
    for adapter in target.adapters.values():
        if isinstance(adapter, HTTPAdapter) and hasattr(adapter, "poolmanager"):
            adapter.poolmanager.pool_classes_by_scheme = _POOLS
            adapter.poolmanager.clear()


def _body(response: requests.Response, deadline: _Deadline) -> Iterator[bytes]:
    """The body's chunks; a connection failure or the deadline passing is `_Transport`."""
    try:
        for chunk in response.iter_content(CHUNK):
            deadline.check()
            yield chunk
    except (requests.RequestException, OSError):
        response.close()
        raise _Transport("timed out" if deadline.fired or deadline.remaining() < 0 else "connection failed") from None
    deadline.check()


def _no_credentials(prepared):
    """requests auth for another host: no Authorization or Cookie header (nor .netrc's)."""
    prepared.headers.pop("Authorization", None)
    prepared.headers.pop("Cookie", None)
    return prepared


def _header(session: Any, name: str) -> str | None:
    target = session if isinstance(session, requests.Session) else getattr(session, "_session", None)
    return getattr(target, "headers", {}).get(name) if target is not None else None


# -- JSON --------------------------------------------------------------------------------------


def _loads(data: bytes) -> Any:
    """JSON with a depth limit (orjson: 1,024); anything malformed or too deep is a ValueError."""
    try:
        return orjson.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def _safe_json(response: requests.Response):
    def json(**_kwargs):
        try:
            return _loads(response.content)
        except ValueError as exc:
            raise requests.exceptions.JSONDecodeError(str(exc)[:100], "", 0) from None

    return json


# -- small helpers ----------------------------------------------------------------------------


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: treat as unknown


def _content_length(response: requests.Response) -> int | None:
    value = (response.headers.get("Content-Length") or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 20 else None


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n} bytes"


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


def _where(url: str) -> str:
    """scheme://host[:port] of a URL from a server, safe to print."""
    parts = urlsplit(url)
    return clean_host(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}")


def clean_host(host: str) -> str:
    """A host from a server's answer, safe to print: printable ASCII, bounded."""
    return "".join(ch if " " < ch < "\x7f" else "?" for ch in host[:100])


def _path_only(url: str) -> str:
    """A URL for messages and logs: path only, no query (queries may carry emails or text)."""
    return urlsplit(url).path
