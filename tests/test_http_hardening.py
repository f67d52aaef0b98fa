"""HttpClient against hostile or broken servers (issue 8), over real HTTP on loopback.

- credentials stay with the service: `request` refuses another origin (a link or a redirect);
  `download` follows redirects itself, to another host only over https (a TLS server with a
  certificate made here) and without Authorization or cookies;
- bounded memory: an answer past `max_response_bytes` is refused (peak RSS of the real CLI);
- bounded time: an answer trickled a byte at a time ends at the request's deadline;
- JSON nested 100,000 deep is a malformed answer, not a RecursionError.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests
from harness_zendesk import TOKEN, TOKEN_ENV, write_config
from standins.base import LoopbackServer

from tixcli.backends import http as http_module
from tixcli.backends.http import HttpClient
from tixcli.config import Profile
from tixcli.errors import UnavailableError

SECRET = "s3cret-token"
COOKIE = "sid=cookie-secret"


Server = LoopbackServer  # a host other than the profile's, answering as each test says


@pytest.fixture
def serve():
    started: list[Server] = []

    def start(answer, cert=None) -> Server:
        started.append(Server(answer, cert))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (trusted through REQUESTS_CA_BUNDLE in the tests)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def client(base: str, *, bearer: bool = False, **settings) -> HttpClient:
    """A client whose session carries credentials the way the backends' sessions do."""
    session = requests.Session()
    if bearer:
        session.headers["Authorization"] = f"Bearer {SECRET}"
    else:
        session.auth = ("agent@example.com/token", SECRET)
    session.cookies.set("sid", "cookie-secret")  # no domain: requests would send it anywhere
    settings = {"timeout": 5.0, "max_retry_wait": 1.0, "retry_budget": 0.0, **settings}
    return HttpClient(base, session=session, service="Test", **settings)


def send(h: BaseHTTPRequestHandler, body: bytes = b"{}", status: int = 200, **headers) -> None:
    h.send_response(status)
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}
    for name, value in headers.items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(body)


def redirect(location: str, status: int = 302):
    return lambda h: send(h, b"", status, Location=location)


def credentials(headers: dict) -> list[str]:
    """The credentials a request carried: its Authorization and Cookie headers."""
    return [name for name in ("authorization", "cookie") if name in headers]


# -- credentials stay with the service ------------------------------------------------------------


def test_request_refuses_an_absolute_url_of_another_origin_before_sending(serve):
    own = serve(lambda h: send(h))
    other = serve(lambda h: send(h))
    with pytest.raises(UnavailableError, match=r"another origin \(http://127\.0\.0\.1:\d+\)") as err:
        client(own.url).request("GET", other.url + "/api/v2/search.json?page=2")
    assert err.value.exit_status == 8
    assert other.seen == []


def test_request_does_not_follow_a_redirect_to_another_origin(serve):
    other = serve(lambda h: send(h, b'{"stolen": true}'))
    own = serve(redirect(other.url + "/collect"))
    with pytest.raises(UnavailableError, match="a redirect to another origin"):
        client(own.url).request("PUT", "/api/v2/tickets/1.json", json={"ticket": {"comment": {"body": "secret"}}})
    assert other.seen == []  # neither the credentials nor the ticket's text went there


def test_request_follows_a_redirect_within_its_own_origin_with_credentials(serve):
    def answer(h):
        if h.path.startswith("/old"):
            send(h, b"", 301, Location="/new")
        else:
            send(h, b'{"ok": 1}')

    own = serve(answer)
    http = client(own.url)
    assert http.decode(http.request("GET", "/old")) == {"ok": 1}
    assert [(path, credentials(h)) for path, h in own.seen] == [
        ("/old", ["authorization", "cookie"]),
        ("/new", ["authorization", "cookie"]),
    ]


@pytest.mark.parametrize("bearer", [False, True], ids=["basic", "bearer"])
def test_download_sends_credentials_only_to_its_own_origin(serve, tls_cert, monkeypatch, bearer):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_cert[0])
    files = serve(lambda h: send(h, b"file bytes", **{"Content-Type": "text/plain", "Set-Cookie": "media=1"}), tls_cert)
    own = serve(redirect(files.url + "/temporary/a.log?sig=1"))
    data = b"".join(client(own.url, bearer=bearer).download("/attachments/token/abc/?name=a.log", 1000))
    assert data == b"file bytes"
    assert credentials(own.seen[0][1]) == ["authorization", "cookie"]
    assert own.seen[0][1]["authorization"].startswith("Bearer" if bearer else "Basic")
    assert files.seen[0][0] == "/temporary/a.log?sig=1"
    assert credentials(files.seen[0][1]) == []  # no token, no cookie past the own origin


def test_download_refuses_plain_http_to_another_host(serve):
    files = serve(lambda h: send(h, b"file bytes"))
    own = serve(redirect(files.url + "/a.log"))
    with pytest.raises(UnavailableError, match=r"to http://127\.0\.0\.1:\d+ without https") as err:
        client(own.url).download("/attachments/1", 1000)
    assert err.value.exit_status == 8
    assert files.seen == []


def test_download_back_to_its_own_origin_keeps_credentials(serve, tls_cert, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_cert[0])
    own_url: list[str] = []
    hop = serve(lambda h: send(h, b"", 307, Location=own_url[0] + "/final"), tls_cert)

    def answer(h):
        if h.path == "/final":
            send(h, b"own bytes")
        else:
            send(h, b"", 302, Location=hop.url + "/hop")

    own = serve(answer)
    own_url.append(own.url)
    assert b"".join(client(own.url).download("/start", 100)) == b"own bytes"
    assert [(p, credentials(h)) for p, h in own.seen] == [
        ("/start", ["authorization", "cookie"]),
        ("/final", ["authorization", "cookie"]),
    ]
    assert credentials(hop.seen[0][1]) == []


def test_download_follows_at_most_five_redirects(serve):
    own = serve(lambda h: send(h, b"", 302, Location=f"/loop{len(own.seen)}"))
    with pytest.raises(UnavailableError, match="more than 5 times"):
        client(own.url).download("/start", 100)
    assert len(own.seen) == 6


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_download_stops_past_max_bytes(serve, declared):
    def answer(h):
        h.send_response(200)
        if declared:
            h.send_header("Content-Length", str(10 * 2**20))
        else:
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for _ in range(10 * 16):
            chunk = b"x" * 65536
            h.wfile.write(chunk if declared else b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if not declared:
            h.wfile.write(b"0\r\n\r\n")

    own = serve(answer)
    with pytest.raises(UnavailableError, match="larger than 1 MiB") as err:
        b"".join(client(own.url).download("/big", 2**20))
    assert err.value.exit_status == 8


# -- bounded memory --------------------------------------------------------------------------------


def test_max_response_bytes_is_a_profile_setting():
    profile = Profile("p", "zendesk", {"max_response_bytes": 1000})
    assert HttpClient.for_profile(profile, "https://x.example", session=None, service="Z").max_response_bytes == 1000
    default = HttpClient.for_profile(Profile("p", "zendesk", {}), "https://x.example", session=None, service="Z")
    assert default.max_response_bytes == http_module.MAX_RESPONSE_BYTES == 32 * 2**20


def test_an_answer_past_max_response_bytes_is_refused(serve):
    own = serve(lambda h: send(h, b" " * 100_000 + b"{}"))
    with pytest.raises(UnavailableError, match="larger than 50000 bytes") as err:
        client(own.url, max_response_bytes=50_000).request("GET", "/api/v2/tickets.json")
    assert err.value.exit_status == 8


HUGE = 200 * 2**20  # 200 MB of JSON whitespace, then {}: valid JSON, read in full by the old code

MEASURE = textwrap.dedent(
    """
    import resource, subprocess, sys
    proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(proc.returncode, round(peak_mb), repr(proc.stderr))
    """
)


def test_a_200_mb_answer_exits_8_with_bounded_memory_through_the_cli(serve, tmp_path):
    """The real CLI (a subprocess: its own peak RSS) against a server answering 200 MB."""

    def answer(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")  # no length to refuse up front: read and cap
        h.end_headers()
        chunk = b" " * 2**20
        for _ in range(HUGE // len(chunk)):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        h.wfile.write(b"2\r\n{}\r\n0\r\n\r\n")

    own = serve(answer)
    config = tmp_path / "config.yaml"
    write_config(config, own.url, timeout=60, retry_budget=0)
    tixcli = Path(sys.executable).with_name("tixcli")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tixcli), "--config", str(config), "show", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, TOKEN_ENV: TOKEN},
    )
    seconds = time.monotonic() - started
    code, peak_mb, stderr = proc.stdout.split(" ", 2)
    print(f"peak RSS {peak_mb} MB, {seconds:.1f} s")
    assert code == "8", stderr
    assert "larger than 32 MiB" in stderr
    # The interpreter with requests and zenpy is ~50 MB; the capped answer adds at most 2 x 32 MiB.
    # The old code read all of it: over 400 MB.
    assert int(peak_mb) < 150


# -- bounded time ---------------------------------------------------------------------------------


def trickle(h, head: bytes, body: bytes, stop: threading.Event) -> None:
    h.wfile.write(head)
    h.wfile.flush()
    for byte in body:
        if stop.wait(0.2):
            return
        h.wfile.write(bytes([byte]))
        h.wfile.flush()


@pytest.fixture
def stop():
    event = threading.Event()
    yield event
    event.set()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["body", "headers"])
def test_an_answer_trickled_a_byte_at_a_time_ends_at_the_deadline(serve, stop, where):
    if where == "body":
        head, body = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n", b" " * 10000
    else:  # a header line that never ends (http.client takes up to 64 KB per line)
        head, body = b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a" * 60000
    own = serve(lambda h: trickle(h, head, body, stop))
    http = client(own.url, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="timed out") as err:
        http.request("GET", "/api/v2/tickets/1.json")
    seconds = time.monotonic() - started
    print(f"ended after {seconds:.2f} s")
    assert err.value.exit_status == 8
    assert 1.0 <= seconds < 10  # ~1 s; the old code waited for every byte (2,000 s / 3 hours)


@pytest.mark.timeout(60)
def test_a_trickled_answer_is_retried_within_the_retry_budget_then_exits_8(serve, stop):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
    own = serve(lambda h: trickle(h, head, b" " * 10000, stop))
    http = client(own.url, timeout=1.0, retry_budget=0.5)
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="timed out"):
        http.request("GET", "/api/v2/tickets/1.json")
    seconds = time.monotonic() - started
    assert len(own.seen) == 2  # one retry fits in the budget (0.25 s backoff), a second does not
    assert 2.0 <= seconds < 20


# -- malformed JSON ------------------------------------------------------------------------------


def test_json_nested_100000_deep_is_a_malformed_answer(serve):
    own = serve(lambda h: send(h, b"[" * 100_000 + b"]" * 100_000))
    http = client(own.url)
    response = http.request("GET", "/api/v2/tickets/1.json")
    with pytest.raises(UnavailableError, match="malformed answer") as err:
        http.decode(response)
    assert err.value.exit_status == 8
    with pytest.raises(ValueError):  # what zenpy and the backends' error readers call
        response.json()
