"""The Zendesk backend against a hostile or broken server (issue 8).

The stand-in's answers are rewritten on their way out (its `_dispatch` wrapped), over real HTTP:
paging links to another host, pages that never end, ids that are no ids, export ids huge or
negative. Each ends with exit 8 and one line, in a bounded number of requests, and nothing
reaches another host.
"""

from __future__ import annotations

import json
import threading
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cli import run
from harness_zendesk import AGENT
from standins.base import Response

import tixcli.backends.zendesk_export as zendesk_export
from tixcli.backends.zendesk import ZendeskBackend
from tixcli.config import Profile
from tixcli.errors import InvalidInputError, NotFoundError
from tixcli.model import NewTicket, Reply

pytestmark = pytest.mark.timeout(60)  # the old code paged some of these for ever


@pytest.fixture
def server(zendesk_harness):
    return zendesk_harness.server


@pytest.fixture
def other():
    """Another host (another port on loopback: another origin) that records what reaches it."""
    seen: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            seen.append((self.path, dict(self.headers)))
            body = b'{"results": [], "comments": [], "groups": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.seen = seen
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def rewrite(monkeypatch, server, path: str, change) -> None:
    """`change(body, request)` edits the JSON answer to requests whose path matches `path`."""
    original = server._dispatch

    def dispatch(request):
        response = original(request)
        if request.path.endswith(path) and isinstance(response.json, dict) and response.status == 200:
            change(response.json, request)
        return response

    monkeypatch.setattr(server, "_dispatch", dispatch)


def cli(harness, *args: str):
    return run("--config", str(harness.config_path), *args, env=harness.env)


def one_error(result) -> str:
    lines = [line for line in result.err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.err, result.err
    return errors[0]


def requests_to(server, fragment: str) -> int:
    return sum(1 for r in server.requests if fragment in r.path)


# -- credentials stay with the service ------------------------------------------------------------


def test_list_does_not_follow_a_next_page_to_another_host(zendesk_harness, server, monkeypatch, other):
    server.seed_tickets(150, requester=AGENT)
    rewrite(monkeypatch, server, "/search.json", lambda body, r: body.update(next_page=other.url + "/steal?page=2"))
    result = cli(zendesk_harness, "list", "--all", "--limit", "150")
    assert result.code == 8
    assert f"another origin ({other.url})" in one_error(result)
    assert other.seen == []


def test_show_does_not_follow_a_comments_link_to_another_host(zendesk_harness, server, monkeypatch, other):
    (tid,) = server.seed_tickets(1, requester=AGENT)

    def elsewhere(body, request):
        body["meta"]["has_more"] = True
        body["links"]["next"] = other.url + "/api/v2/tickets/1/comments.json?page[after]=x"

    rewrite(monkeypatch, server, "/comments.json", elsewhere)
    result = cli(zendesk_harness, "show", str(tid))
    assert result.code == 8
    assert f"another origin ({other.url})" in one_error(result)
    assert other.seen == []


def test_groups_paging_does_not_follow_a_link_to_another_host(zendesk_harness, server, monkeypatch, other):
    """Groups were paged by zenpy, which follows any next_page."""
    rewrite(monkeypatch, server, "/groups.json", lambda body, r: body.update(next_page=other.url + "/groups?page=2"))
    result = cli(zendesk_harness, "create", "--subject", "s", "--body", "b", "--group", "Nope")
    assert result.code == 8
    assert f"another origin ({other.url})" in one_error(result)
    assert other.seen == []
    assert server.ticket_count() == 0


# -- pages that never end -------------------------------------------------------------------------


@pytest.mark.parametrize("links", ["same", "new"])
def test_comment_pages_that_never_end_exit_8_in_bounded_requests(zendesk_harness, server, monkeypatch, links):
    (tid,) = server.seed_tickets(1, requester=AGENT)
    count = [0]

    def forever(body, request):
        count[0] += 1
        body["meta"]["has_more"] = True
        suffix = "" if links == "same" else f"&n={count[0]}"  # new links, the same comments
        body["links"]["next"] = f"{server.url}/api/v2/tickets/{tid}/comments.json?page[size]=100{suffix}"

    rewrite(monkeypatch, server, "/comments.json", forever)
    result = cli(zendesk_harness, "show", str(tid))
    assert result.code == 8
    assert "bring nothing new" in one_error(result)
    assert requests_to(server, "/comments.json") <= 3


def test_search_pages_that_never_end_exit_8_in_bounded_requests(zendesk_harness, server, monkeypatch):
    server.seed_tickets(5, requester=AGENT)
    rewrite(
        monkeypatch,
        server,
        "/search.json",
        lambda body, r: body.update(next_page=server._link(r)),  # this very page, again
    )
    result = cli(zendesk_harness, "list", "--all", "--limit", "150")
    assert result.code == 8
    assert "bring nothing new" in one_error(result)
    assert requests_to(server, "/search.json") <= 3  # the old code asked 200 times (1,000 results)


@pytest.mark.parametrize("cursors", ["same", "new"])
def test_export_pages_that_never_end_exit_8_in_bounded_requests(zendesk_harness, server, monkeypatch, cursors):
    server.seed_tickets(3, requester=AGENT)
    original = server._dispatch
    first: list[dict] = []

    def dispatch(request):
        if not request.path.endswith("/incremental/tickets/cursor.json"):
            return original(request)
        if request.arg("cursor"):  # every later page: the first one again, never the end
            response = Response(200, json=json.loads(json.dumps(first[0])))
        else:
            response = original(request)
            first.append(response.json)
        response.json["end_of_stream"] = False
        response.json["after_cursor"] = "c1" if cursors == "same" else f"c{server.count()}"
        return response

    monkeypatch.setattr(server, "_dispatch", dispatch)
    result = cli(zendesk_harness, "export")
    assert result.code == 8, result.err
    assert "bring nothing new" in one_error(result)
    pages = requests_to(server, "/incremental/tickets/cursor.json")
    assert pages <= (3 if cursors == "same" else zendesk_export.STALE_PAGES + 2)
    assert len(result.out.splitlines()) == 3  # each ticket once, before it stopped


# -- ids that are no ids ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [10**30, -5, "12abc", "1\x1b]8;;https://evil.example\x07x", True, 1.5])
def test_export_with_malformed_or_huge_ticket_ids_exits_8(zendesk_harness, server, monkeypatch, bad):
    server.seed_tickets(2, requester=AGENT)
    rewrite(monkeypatch, server, "/incremental/tickets/cursor.json", lambda body, r: body["tickets"][0].update(id=bad))
    result = cli(zendesk_harness, "export")
    assert result.code == 8, result.err  # the old code: MemoryError / IndexError (exit 1), or on
    assert "malformed ticket id" in one_error(result)
    assert "\x1b" not in result.out + result.err


def test_export_of_a_20_digit_ticket_id_costs_no_memory_by_its_magnitude(zendesk_harness, server, monkeypatch):
    """The old id bitmap allocated a bit per number up to the id: 10**19 is 1.25 EB."""
    server.seed_tickets(2, requester=AGENT)
    huge = str(10**19)
    original = server._dispatch

    def dispatch(request):
        request.path = request.path.replace(f"/tickets/{huge}/", "/tickets/1/")
        response = original(request)
        if request.path.endswith("/incremental/tickets/cursor.json") and response.status == 200:
            response.json["tickets"][0]["id"] = int(huge)
        return response

    monkeypatch.setattr(server, "_dispatch", dispatch)
    tracemalloc.start()
    try:
        result = cli(zendesk_harness, "export")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.code == 0, result.err
    assert [json.loads(line)["id"] for line in result.out.splitlines()] == [huge, "2"]
    assert peak < 50 * 2**20


def test_the_id_set_is_small_for_dense_and_for_sparse_ids():
    ids = zendesk_export.IdSet()
    tracemalloc.start()
    try:
        assert all(ids.add(str(n)) for n in range(1, 200_001))  # an account's tickets 1..200,000
        dense = tracemalloc.get_traced_memory()[0]
        assert all(ids.add(str(n * 10**14)) for n in range(1, 1001))  # sparse, up to 10**17
        sparse = tracemalloc.get_traced_memory()[0] - dense
    finally:
        tracemalloc.stop()
    assert not ids.add("150000") and not ids.add(str(500 * 10**14)) and not ids.add("1")
    assert ids.add("200001") and ids.add(str(10**19))
    assert dense < 200_000  # a bit each, and the first 64 ids of each block
    assert sparse < 1000 * 300


@pytest.mark.parametrize(
    "where, bad",
    [
        ("ticket", "1\x1b[2J"),
        ("ticket", "../../users/1"),
        ("comment", "7\x1b]8;;https://evil.example\x07"),
        ("attachment", -1),
        ("author", "1 OR 1=1"),
        ("user", "9" * 25),
    ],
)
def test_show_with_a_malformed_id_in_the_answer_exits_8(zendesk_harness, server, monkeypatch, where, bad):
    (tid,) = server.seed_tickets(1, requester=AGENT)
    backend = ZendeskBackend(zendesk_harness.profile)
    backend.reply(str(tid), Reply(body="see file", author=AGENT))
    backend.shutdown()

    def spoil_ticket(body, request):
        body["ticket"]["id"] = bad

    def spoil_comments(body, request):
        comment = body["comments"][0]
        if where == "comment":
            comment["id"] = bad
        elif where == "attachment":
            comment["attachments"] = [{"id": bad, "file_name": "a.log", "size": 1}]
        elif where == "author":
            comment["author_id"] = bad
        elif where == "user":
            body["users"][0]["id"] = bad

    if where == "ticket":
        rewrite(monkeypatch, server, f"/tickets/{tid}.json", spoil_ticket)
    else:
        rewrite(monkeypatch, server, "/comments.json", spoil_comments)
    result = cli(zendesk_harness, "show", str(tid), "--format", "json")
    assert result.code == 8, (result.code, result.out, result.err)
    assert "malformed" in one_error(result)
    assert "\x1b" not in result.out + result.err and result.out == ""


def test_a_listed_ticket_id_with_escapes_exits_8(zendesk_harness, server, monkeypatch):
    server.seed_tickets(3, requester=AGENT)
    rewrite(monkeypatch, server, "/search.json", lambda body, r: body["results"][1].update(id="2\x1b[2J\x1b[H"))
    result = cli(zendesk_harness, "list", "--all", "--format", "json")
    assert result.code == 8
    assert "malformed ticket id" in one_error(result)
    assert "\x1b" not in result.out + result.err


# -- user-given ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["\u00b2", "\u0661", "1\u0661", "\uff11"])
def test_a_ticket_id_of_non_ascii_digits_is_not_found_without_a_request(zendesk_harness, server, text):
    server.seed_tickets(1, requester=AGENT)  # ticket 1: '١' (Arabic-Indic one) must not reach it
    backend = ZendeskBackend(zendesk_harness.profile)
    before = server.count()
    with pytest.raises(NotFoundError):
        backend.get(text)
    assert server.count() == before


# -- error texts from the service are bounded ----------------------------------------------------


def test_a_hint_listing_the_services_group_names_is_bounded(zendesk_harness, server, monkeypatch):
    names = [f"group-{i}-" + "x" * 200 for i in range(100)]
    rewrite(
        monkeypatch,
        server,
        "/groups.json",
        lambda body, r: body.update(groups=[{"id": i + 1, "name": n} for i, n in enumerate(names)]),
    )
    p = zendesk_harness.profile
    backend = ZendeskBackend(Profile(p.name, p.backend, dict(p.settings), p.source))
    with pytest.raises(InvalidInputError) as err:
        backend.create(NewTicket(subject="s", body="b", author=AGENT, requester=AGENT, group="Nope"))
    assert len(err.value.hint) <= 320 and "group-0-" in err.value.hint
    assert server.count("POST") == 0


def test_an_export_cursor_that_repeats_with_new_tickets_is_followed(zendesk_harness, server, monkeypatch):
    """A repeated cursor is paging for ever only when its page brings nothing new (a time-based
    cursor can repeat while new tickets keep coming)."""
    monkeypatch.setattr(zendesk_export, "EXPORT_PAGE", 3)
    ids = [str(i) for i in server.seed_tickets(7, requester=AGENT)]
    original = server._dispatch
    real: list[str] = []

    def dispatch(request):
        export = request.path.endswith("/incremental/tickets/cursor.json")
        if export and request.arg("cursor") == "same":
            request.query["cursor"] = [real.pop(0)]
        response = original(request)
        if export and response.status == 200:
            real.append(response.json["after_cursor"])
            response.json["after_cursor"] = "same"
        return response

    monkeypatch.setattr(server, "_dispatch", dispatch)
    result = cli(zendesk_harness, "export")
    assert result.code == 0, result.err
    assert [json.loads(line)["id"] for line in result.out.splitlines()] == ids
