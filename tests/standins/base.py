"""A small stateful HTTP server framework the vendor stand-ins build on.

It records every request and response (to count requests and to check them against the
vendors' OpenAPI specs) and injects faults: error statuses, 429 with or without Retry-After,
a connection reset, a response that never comes, malformed JSON, an HTML sign-in page.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str  # without the query string, percent-decoding left to the handler
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self):
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()


@dataclass
class Response:
    status: int = 200
    json: object = None
    body: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if self.body is not None:
            return self.body
        if self.json is None:
            return b""
        return json.dumps(self.json).encode()


class HTTPError(Exception):
    """Raise from a handler to answer with an error response."""

    def __init__(self, status: int, json_body: object = None, headers: dict | None = None):
        super().__init__(status)
        self.response = Response(status=status, json=json_body, headers=headers or {})


@dataclass
class Fault:
    """One injected fault. `match` is a regex searched in "METHOD /path?query"."""

    kind: str = "status"  # status | reset | reset_mid_body | hang | malformed | html | trickle
    status: int = 500
    match: str | None = None
    times: int = 1  # how many matching requests it hits
    retry_after: float | None = None  # for 429/503
    delay: float = 30.0  # for hang: how long to sit before closing
    body: bytes | None = None
    interval: float = 0.2  # for trickle: seconds between the bytes of the real answer's body


@dataclass
class Exchange:
    request: Request
    response: Response | None  # None when a fault dropped the connection


Route = tuple[str, re.Pattern, Callable[..., Response]]


class StandInServer:
    """Subclasses register routes with `self.route(METHOD, regex, handler)` in `setup_routes`."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.exchanges: list[Exchange] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.setup_routes()
        self.reset_state()

    # -- to override --
    def setup_routes(self) -> None:
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def authenticate(self, request: Request) -> Response | None:
        """Return an error response when the request is not authenticated."""
        return None

    # -- lifecycle --
    def route(self, method: str, pattern: str, handler: Callable[..., Response]) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StandInServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm
                # and the client's delayed ACK hold each keep-alive response for ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def handle(self) -> None:
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):
                    pass  # the client dropped the connection (as it does past a size limit)

            def _handle(self) -> None:
                server._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> StandInServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        with self.lock:
            self.exchanges.clear()
            self.faults.clear()
            self.reset_state()

    # -- faults and counting --
    def inject(self, kind: str = "status", **kwargs) -> Fault:
        fault = Fault(kind=kind, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests arrived (optionally: with this method, path matching regex)."""
        with self.lock:
            return sum(
                1
                for ex in self.exchanges
                if (method is None or ex.request.method == method)
                and (path is None or re.search(path, ex.request.path))
            )

    @property
    def requests(self) -> list[Request]:
        with self.lock:
            return [ex.request for ex in self.exchanges]

    # -- the request loop --
    def _take_fault(self, request: Request) -> Fault | None:
        target = f"{request.method} {request.path}"
        if request.query:
            target += "?" + "&".join(f"{k}={v}" for k, vs in request.query.items() for v in vs)
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and (fault.match is None or re.search(fault.match, target)):
                    fault.times -= 1
                    return fault
        return None

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        request = Request(
            method=h.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
        )
        exchange = Exchange(request, None)
        with self.lock:
            self.exchanges.append(exchange)
        fault = self._take_fault(request)
        if fault and fault.kind == "reset":
            _reset_connection(h)
            return
        if fault and fault.kind == "hang":
            time.sleep(fault.delay)
            _reset_connection(h)
            return
        response = self._fault_response(fault) if fault else None
        if response is None:
            response = self._dispatch(request)
        exchange.response = response
        if fault and fault.kind == "reset_mid_body":
            self._send(h, response, truncate=True)
            return
        if fault and fault.kind == "trickle":
            self._send(h, response, trickle=fault.interval)
            return
        self._send(h, response)

    def _fault_response(self, fault: Fault) -> Response | None:
        if fault.kind == "status":
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(
                    int(fault.retry_after) if float(fault.retry_after).is_integer() else fault.retry_after
                )
            if fault.status == 429:
                return Response(
                    429, body=fault.body or b"Too Many Requests", content_type="text/plain", headers=headers
                )
            if fault.body is not None:  # a vendor-shaped error body, given by the test
                return Response(fault.status, body=fault.body, headers=headers)
            return Response(fault.status, json={"error": "injected fault"}, headers=headers)
        if fault.kind == "malformed":
            return Response(200, body=fault.body or b'{"tickets": [', content_type="application/json")
        if fault.kind == "html":
            page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Log in</body></html>"
            return Response(200, body=fault.body or page, content_type="text/html; charset=utf-8")
        return None  # reset_mid_body / trickle: serve the real answer, cut short / a byte at a time

    def _dispatch(self, request: Request) -> Response:
        denied = self.authenticate(request)
        if denied is not None:
            return denied
        path_matched = False
        for method, pattern, handler in self.routes:
            m = pattern.match(request.path)
            if not m:
                continue
            path_matched = True
            if method != request.method:
                continue
            try:
                with self.lock:
                    return handler(request, **m.groupdict())
            except HTTPError as err:
                return err.response
            except Exception:
                # A bug in a stand-in must show as a 500 with its traceback: left uncaught, it drops
                # the connection, which a client sees (and retries) as a network fault.
                traceback.print_exc()
                return Response(500, json={"error": "StandInError", "description": traceback.format_exc()})
        return self.not_found(request, path_matched)

    def not_found(self, request: Request, path_matched: bool) -> Response:
        if path_matched:
            return Response(405, json={"error": "method not allowed"})
        return Response(404, json={"error": "not found"})

    def _send(
        self, h: BaseHTTPRequestHandler, response: Response, truncate: bool = False, trickle: float | None = None
    ) -> None:
        payload = response.payload()
        try:
            h.send_response(response.status)
            if payload or response.status not in (204, 304):
                h.send_header("Content-Type", response.content_type)
            for name, value in response.headers.items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            if truncate:
                h.wfile.write(payload[: max(1, len(payload) // 2)])
                h.wfile.flush()
                _reset_connection(h)
                return
            if trickle is not None:  # one byte at a time, each within any per-read timeout
                h.wfile.flush()
                for i in range(len(payload)):
                    time.sleep(trickle)
                    h.wfile.write(payload[i : i + 1])
                    h.wfile.flush()
                return
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _reset_connection(h: BaseHTTPRequestHandler) -> None:
    """Drop the connection with a TCP reset (SO_LINGER 0) instead of an orderly close."""
    try:
        import struct

        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
    except OSError:
        pass
    h.close_connection = True


class LoopbackServer:
    """A small server on 127.0.0.1 (HTTPS when given a certificate and key file) that hands every
    GET, POST and PUT to `answer(handler)` and records each request as (path with query, headers
    with lower-case names) in `seen`: for hosts other than the stand-in's own."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], None], cert: tuple[str, str] | None = None):
        self.answer = answer
        self.seen: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):
                    pass  # the client dropped the connection (as it does past a limit)

            def do_GET(self) -> None:
                server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                try:
                    server.answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_POST = do_PUT = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*cert)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FileHost(LoopbackServer):
    """The second host attachment content redirects to (Zendesk's temporary URLs, Atlassian's
    media host): it serves the files published on it, found by their token anywhere in the path,
    and `seen` proves no credentials reach it."""

    def __init__(self, cert: tuple[str, str] | None = None) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}  # token -> (bytes, content type)
        super().__init__(self._serve, cert)

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        found = next((self.files[t] for t in path.split("/") if t in self.files), None)
        body, kind = found if found else (b'{"error": "not found"}', "application/json")
        handler.send_response(200 if found else 404)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def add(self, content: bytes, content_type: str) -> str:
        """Publish `content` under a fresh token (as live temporary links); returns the token."""
        token = secrets.token_hex(16)
        self.files[token] = (content, content_type)
        return token
