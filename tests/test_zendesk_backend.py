"""What is specific to the Zendesk backend: requests per command, idempotent create, rate limits,
error mapping, the export's paging and resume, and conformance to Zendesk's OpenAPI spec.

Everything runs over real HTTP against the Zendesk stand-in (tests/standins/zendesk.py).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from cli import run
from harness import CUSTOMER, DEV, LEAD
from harness_zendesk import AGENT, TOKEN, TOKEN_ENV, write_config

import tixcli.backends.zendesk_export as zendesk_export
from tixcli.backends.zendesk import ZendeskBackend, zendesk_base_url
from tixcli.config import Profile
from tixcli.errors import (
    AuthError,
    ConfigError,
    InvalidInputError,
    RateLimitedError,
    RefusedError,
)
from tixcli.model import FileUpload, ListQuery, NewTicket, Reply, from_epoch


@pytest.fixture
def server(zendesk_harness):
    return zendesk_harness.server


def backend_for(harness, **settings) -> ZendeskBackend:
    """A fresh backend (empty caches) on the harness's profile, with settings overridden."""
    p = harness.profile
    return ZendeskBackend(Profile(p.name, p.backend, {**p.settings, **settings}, p.source))


@pytest.fixture
def backend(zendesk_harness):
    b = backend_for(zendesk_harness)
    yield b
    b.shutdown()


def new(subject="Printer on fire", body="It is really on fire", **kw) -> NewTicket:
    kw.setdefault("requester", AGENT)
    return NewTicket(subject=subject, body=body, author=AGENT, **kw)


def counted(server, call):
    """(result, requests the call sent, the requests themselves)."""
    before = server.count()
    result = call()
    return result, server.count() - before, server.requests[before:]


def upload_file(tmp_path, name: str, data: bytes, ctype: str = "text/plain") -> FileUpload:
    path = tmp_path / name.replace("/", "_")
    path.write_bytes(data)
    return FileUpload(path=path, filename=name, size=len(data), content_type=ctype)


# -- requests per command ------------------------------------------------------------------


def test_list_limit_50_on_10000_tickets_takes_at_most_two_requests(server, backend):
    server.seed_tickets(10_000, requester=AGENT)
    tickets, n, sent = counted(server, lambda: backend.list_tickets(ListQuery(user=AGENT, limit=50)))
    assert len(tickets) == 50
    assert [t.id for t in tickets] == [str(i) for i in range(10_000, 9_950, -1)]  # newest first
    assert n <= 2
    assert sent[0].path == "/api/v2/search.json" and sent[0].arg("per_page") == "50"


def test_list_pages_through_search_until_the_limit(server, backend):
    server.seed_tickets(250, requester=AGENT)
    tickets, n, sent = counted(server, lambda: backend.list_tickets(ListQuery(user=AGENT, limit=150)))
    assert len({t.id for t in tickets}) == 150
    assert [r.arg("page", "1") for r in sent if r.path == "/api/v2/search.json"] == ["1", "2"]


def test_show_of_a_thread_by_three_people_takes_two_requests(zendesk_harness, server, backend):
    (tid,) = server.seed_tickets(1, requester=CUSTOMER, email_ccs=[DEV])
    backend.reply(str(tid), Reply(body="me too", author=CUSTOMER))
    backend.reply(str(tid), Reply(body="looking", author=LEAD, public=False))
    fresh = backend_for(zendesk_harness)  # nothing cached
    ticket, n, sent = counted(server, lambda: fresh.get(str(tid)))
    assert n == 2, [r.path for r in sent]
    assert [c.author for c in ticket.comments] == [AGENT, CUSTOMER, LEAD]
    assert ticket.requester == CUSTOMER and ticket.cc == [DEV]
    assert ticket.url.endswith(f"/agent/tickets/{tid}")


def test_request_counts_per_command(zendesk_harness, server, tmp_path):
    """The HTTP requests each command sends, from a fresh backend (one command = one run)."""
    counts = {}

    def measure(name, call):
        b = backend_for(zendesk_harness)
        result, counts[name], _ = counted(server, lambda: call(b))
        b.shutdown()
        return result

    tid = measure("create", lambda b: b.create(new())).ticket.id
    measure("create --cc --group", lambda b: b.create(new(cc=[LEAD], group="Support")))
    measure("list", lambda b: b.list_tickets(ListQuery(user=AGENT)))
    measure("show", lambda b: b.get(tid))
    measure("reply", lambda b: b.reply(tid, Reply(body="hi", author=AGENT)))
    files = [upload_file(tmp_path, "a.log", b"a"), upload_file(tmp_path, "b.log", b"b")]
    measure("attach (2 files)", lambda b: b.reply(tid, Reply(body="files", author=AGENT, attachments=files)))
    measure("cc --add", lambda b: b.update_cc(tid, [DEV], []))
    measure("cc (list)", lambda b: b.update_cc(tid, [], []))
    measure("solve", lambda b: b.solve(tid))
    measure("close", lambda b: b.close(tid))
    measure("create --dedupe-key (new)", lambda b: b.create(new(dedupe_key="k")))
    measure("create --dedupe-key (match)", lambda b: b.create(new(body="again", dedupe_key="k")))
    assert counts == {
        "create": 2,  # POST, users (requester) by id
        "create --cc --group": 3,  # groups, POST, users
        "list": 3,  # search, users, groups (search side-loads neither on the stand-in)
        "show": 2,  # ticket with users/groups/metrics side-loaded, comments with authors
        "reply": 2,  # ticket (status, requester), PUT
        "attach (2 files)": 4,  # ticket, 2 uploads under one token, PUT
        "cc --add": 3,  # ticket, PUT, users (the new CC)
        "cc (list)": 1,  # the ticket alone, not its comments
        "solve": 3,  # ticket, PUT, groups (Zendesk assigned the solver and their group)
        "close": 2,  # ticket, PUT
        "create --dedupe-key (new)": 3,  # external_id look-up, POST, users
        "create --dedupe-key (match)": 2,  # external_id look-up (the ticket it reads serves the reply), PUT
    }, counts


# -- create: idempotency key ----------------------------------------------------------------


@pytest.mark.parametrize("fault", ["reset", "reset_mid_body", "503"])
def test_a_retried_create_makes_exactly_one_ticket(server, backend, fault):
    if fault == "503":
        server.inject(kind="status", status=503, match=r"^POST /api/v2/tickets", times=1)
    else:  # reset_mid_body: the ticket is made, its answer is lost
        server.inject(kind=fault, match=r"^POST /api/v2/tickets", times=1)
    result = backend.create(new(subject="once"))
    posts = [r for r in server.requests if r.method == "POST" and r.path == "/api/v2/tickets.json"]
    assert len(posts) == 2
    keys = {r.headers.get("idempotency-key") for r in posts}
    assert len(keys) == 1 and None not in keys
    assert server.ticket_count() == 1
    assert result.created and result.ticket.subject == "once"


def test_each_create_has_its_own_idempotency_key(server, backend):
    backend.create(new(subject="one"))
    backend.create(new(subject="two"))
    keys = [r.headers.get("idempotency-key") for r in server.requests if r.method == "POST"]
    assert len(set(keys)) == 2 and server.ticket_count() == 2


def test_dedupe_key_is_looked_up_by_external_id_not_search(server, backend):
    first = backend.create(new(dedupe_key="ci nightly/#1")).ticket
    again, n, sent = counted(server, lambda: backend.create(new(body="again", dedupe_key="ci nightly/#1")))
    assert again.created is False and again.ticket.id == first.id
    lookup = sent[0]
    assert lookup.path == "/api/v2/tickets.json" and lookup.arg("external_id") == "ci nightly/#1"
    assert server.count("GET", r"/search") == 0
    assert server.tickets[int(first.id)]["external_id"] == "ci nightly/#1"


def test_dedupe_adds_to_the_oldest_open_ticket_carrying_the_key(server, backend):
    first = backend.create(new(dedupe_key="nightly")).ticket
    second = backend.create(new(subject="twin")).ticket
    with server.lock:  # two tickets with one key: two runs raced within the same second
        server.tickets[int(second.id)]["external_id"] = "nightly"
    result = backend.create(new(body="again", dedupe_key="nightly"))
    assert result.created is False and result.ticket.id == first.id
    assert backend.get(first.id).comments[-1].body == "again"
    server.close(int(first.id))  # a closed ticket no longer carries the key for dedupe
    assert backend.create(new(body="third", dedupe_key="nightly")).ticket.id == second.id


def test_list_sends_the_cores_resolved_query_and_adds_no_mine_of_its_own(server, backend):
    backend.list_tickets(ListQuery(user=AGENT, search='timeout "night ly" -- ++'))
    sent = [r for r in server.requests if r.path == "/api/v2/search.json"][-1].arg("query")
    assert sent == f'type:ticket requester:{AGENT} status<solved "timeout" "night" "ly"'
    # The primitive takes the query as the core resolved it: "mine" is already its requester.
    backend.query(ListQuery(user=AGENT, scope="mine", statuses=None, words=("x",)))
    sent = [r for r in server.requests if r.path == "/api/v2/search.json"][-1].arg("query")
    assert sent == 'type:ticket "x"'


def test_create_sends_group_ccs_tags_and_an_unknown_group_is_refused_before_posting(server, backend):
    ticket = backend.create(new(group="support", cc=[LEAD, DEV], tags=["build"], type="task")).ticket
    assert ticket.group == "Support" and ticket.cc == [DEV, LEAD] and ticket.tags == ["build"]
    assert ticket.type == "task" and ticket.raw_type == "task" and ticket.priority is None
    with pytest.raises(InvalidInputError, match="no Zendesk group"):
        backend.create(new(group="Nope"))
    assert server.ticket_count() == 1


# -- rate limits and errors ------------------------------------------------------------------


def test_429_is_retried_after_retry_after_within_the_budget(server, backend):
    ticket = backend.create(new()).ticket
    waits: list[float] = []
    backend.http.sleep = waits.append
    server.inject(kind="status", status=429, retry_after=1, match=r"^GET /api/v2/tickets/\d+", times=2)
    assert backend.get(ticket.id).id == ticket.id
    assert waits == [1.0, 1.0]


def test_429_on_a_zenpy_call_is_bounded_too(server, backend):
    ticket = backend.create(new()).ticket
    backend.http.sleep = lambda s: None
    server.inject(kind="status", status=429, retry_after=100, match=r"^PUT ", times=1)
    with pytest.raises(RateLimitedError) as err:  # zenpy alone would sleep 100 s
        backend.reply(ticket.id, Reply(body="x", author=AGENT))
    assert err.value.retry_after == 100 and err.value.exit_status == 8


def test_429_beyond_the_budget_exits_8_with_the_wait_asked(zendesk_harness, server):
    tid = server.seed_tickets(1)[0]
    server.inject(kind="status", status=429, retry_after=30, times=10)
    result = run("--config", str(zendesk_harness.config_path), "show", str(tid), env=zendesk_harness.env)
    assert result.code == 8
    assert "30" in result.err and len(result.err.strip().splitlines()) <= 2


def test_wrong_token_exits_7_and_never_shows_the_token(zendesk_harness, server):
    wrong = "wrong-token-0123456789"
    env = {TOKEN_ENV: wrong}
    result = run("--config", str(zendesk_harness.config_path), "--debug", "list", env=env)
    assert result.code == 7
    encoded = base64.b64encode(f"{AGENT}/token:{wrong}".encode()).decode()
    for secret in (wrong, encoded, TOKEN):
        assert secret not in result.out and secret not in result.err


def test_401_is_an_auth_error(zendesk_harness, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    with pytest.raises(AuthError):
        backend_for(zendesk_harness).get("1")


def test_oauth_token_is_sent_as_bearer(zendesk_harness, server, monkeypatch):
    monkeypatch.setenv("ZD_OAUTH", TOKEN)
    b = backend_for(zendesk_harness, token_env=None, oauth_token_env="ZD_OAUTH")
    b.create(new())
    assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {TOKEN}"}


def test_reply_to_a_closed_ticket_is_refused_before_anything_is_sent(server, backend, tmp_path):
    ticket = backend.create(new()).ticket
    server.close(int(ticket.id))  # as the account's automation does
    files = [upload_file(tmp_path, "a.log", b"a")]
    _, n, sent = counted(
        server,
        lambda: pytest.raises(RefusedError, backend.reply, ticket.id, Reply(body="x", author=AGENT, attachments=files)),
    )
    assert [r.method for r in sent] == ["GET"]


def test_422_closed_from_the_server_is_refused(server, backend):
    """The core's steps of a reply, with the ticket closed between the read and the update."""
    ticket = backend.create(new()).ticket
    assert backend.state(ticket.id).status == "new"
    server.close(int(ticket.id))  # closed between our read and our update
    with pytest.raises(RefusedError, match="closed"):
        backend.add_comment(ticket.id, Reply(body="x", author=AGENT), "open")
    assert server.count("PUT") == 1


def test_solve_refused_for_lack_of_an_assignee_says_why(server, backend):
    server.auto_assign_on_solve = False
    ticket = backend.create(new()).ticket
    with pytest.raises(RefusedError) as err:
        backend.solve(ticket.id)
    assert "assignee" in err.value.message and "assign" in err.value.hint


def test_solve_sets_solved_at_and_show_reads_it_back(server, backend):
    ticket = backend.create(new()).ticket
    solved = backend.solve(ticket.id)
    assert solved.status == "solved" and solved.solved_at and solved.assignee == AGENT
    assert backend_for_same(backend).get(ticket.id).solved_at == solved.solved_at


def backend_for_same(backend: ZendeskBackend) -> ZendeskBackend:
    return ZendeskBackend(backend.profile)


# -- what is sent --------------------------------------------------------------------------


def test_replies_send_public_every_time_and_reopen_explicitly(server, backend):
    ticket = backend.create(new(requester=CUSTOMER)).ticket
    backend.solve(ticket.id)
    backend.reply(ticket.id, Reply(body="note", author=AGENT, public=False))
    backend.reply(ticket.id, Reply(body="back on it", author=AGENT))
    puts = [r.json["ticket"] for r in server.requests if r.method == "PUT"]
    note, reopen = puts[1], puts[2]
    assert note["comment"] == {"body": "note", "public": False} and "status" not in note
    assert reopen["comment"]["public"] is True and reopen["status"] == "open"
    assert backend.get(ticket.id).status == "open"


@pytest.mark.parametrize("status", ["open", "pending", "hold"])
def test_an_internal_note_with_a_status_sends_both_in_one_update(server, backend, status):
    """`reply --internal --status X` on a solved ticket: the private comment and the status go in
    one PUT (an agent's comment alone would leave the ticket solved)."""
    ticket = backend.create(new(requester=CUSTOMER)).ticket
    backend.solve(ticket.id)
    before = len([r for r in server.requests if r.method == "PUT"])
    result = backend.reply(ticket.id, Reply(body="internal", author=AGENT, public=False, status=status))
    puts = [r.json["ticket"] for r in server.requests if r.method == "PUT"][before:]
    assert puts == [{"comment": {"body": "internal", "public": False}, "status": status}]
    assert result.status == status and backend.get(ticket.id).status == status
    assert backend.get(ticket.id).comments[-1].public is False


def test_attachments_go_under_one_upload_token_then_one_comment(server, backend, tmp_path):
    ticket = backend.create(new()).ticket
    files = [
        upload_file(tmp_path, "build & test.log", b"line 1\n"),
        upload_file(tmp_path, "shot.png", b"\x89PNG\r\n\x1a\n", "image/png"),
    ]
    backend.reply(ticket.id, Reply(body="files", author=AGENT, attachments=files))
    uploads = [r for r in server.requests if r.path == "/api/v2/uploads.json"]
    assert [r.arg("filename") for r in uploads] == ["build & test.log", "shot.png"]
    assert uploads[0].arg("token") is None and uploads[1].arg("token")
    assert [r.content_type for r in uploads] == ["text/plain", "image/png"]
    put = [r for r in server.requests if r.method == "PUT"][-1].json["ticket"]
    assert put["comment"]["uploads"] == [uploads[1].arg("token")]
    got = backend.get(ticket.id).comments[-1].attachments
    assert [(a.filename, a.size, a.content_type) for a in got] == [
        ("build & test.log", 7, "text/plain"),
        ("shot.png", 8, "image/png"),
    ]


def test_cc_changes_are_email_ccs_put_and_delete(server, backend):
    ticket = backend.create(new(cc=[LEAD])).ticket
    assert backend.update_cc(ticket.id, [DEV], [LEAD]) == [DEV]
    put = [r for r in server.requests if r.method == "PUT"][-1].json["ticket"]
    assert put == {"email_ccs": [{"user_email": DEV, "action": "put"}, {"user_email": LEAD, "action": "delete"}]}


def test_a_reply_by_another_user_is_posted_as_them(server, backend):
    ticket = backend.create(new(requester=CUSTOMER)).ticket
    backend.reply(ticket.id, Reply(body="from the customer", author=CUSTOMER))
    put = [r for r in server.requests if r.method == "PUT"][-1].json["ticket"]
    assert put["comment"]["author_id"] == server.user_id(CUSTOMER)
    assert backend.get(ticket.id).comments[-1].author == CUSTOMER


def test_custom_or_unknown_values_keep_their_raw_form(server, backend):
    (tid,) = server.seed_tickets(1)
    server.tickets[tid]["type"] = None
    ticket = backend.get(str(tid))
    assert ticket.type is None and ticket.raw_type is None and ticket.priority is None
    assert ticket.raw_status == ticket.status == "new"


# -- export --------------------------------------------------------------------------------


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(zendesk_export, "EXPORT_PAGE", 3)


def export_ids(backend, **kw) -> list[str]:
    return [item.ticket.id for item in backend.export(**kw)]


def test_incremental_export_pages_and_resumes_without_gaps_or_duplicates(server, backend, small_pages):
    ids = [str(i) for i in server.seed_tickets(10)]
    items = list(backend.export())
    assert [i.ticket.id for i in items] == ids
    assert all(i.ticket.comments and i.ticket.comments[0].body for i in items)
    assert server.count("GET", r"/incremental/tickets/cursor") == 4  # 3 + 3 + 3 + 1, then end_of_stream
    assert server.count("GET", r"/search") == 0
    for k, item in enumerate(items):  # resume right after every ticket, mid-page and at page ends
        assert export_ids(backend_for_same(backend), cursor=item.cursor) == ids[k + 1 :]


def test_a_resumed_export_leaves_no_gap_when_an_exported_ticket_changed(server, backend, small_pages):
    ids = [str(i) for i in server.seed_tickets(10)]  # pages: 1-3, 4-6, 7-9, 10
    items = list(backend.export())
    after_5 = items[4].cursor  # mid-page: 4 and 5 of the page 4-6 are done
    backend.reply("4", Reply(body="changed", author=AGENT))  # 4 moves to the end of the stream
    resumed = export_ids(backend_for_same(backend), cursor=after_5)
    assert resumed == ids[5:] + ["4"]


def test_an_error_answer_to_a_read_is_an_error_not_an_empty_result(server, backend):
    server.inject(kind="status", status=400, match=r"^GET /api/v2/search", times=1)
    with pytest.raises(InvalidInputError, match="Zendesk refused to search"):
        backend.list_tickets(ListQuery(user=AGENT))


def test_export_gives_deleted_tickets_as_tombstones(server, backend, capsys):
    ids = server.seed_tickets(6)
    server.mark_deleted(ids[1])
    server.mark_deleted(ids[4])
    items = list(backend.export())
    assert [i.ticket.id for i in items if not i.tombstone] == [str(i) for i in ids if i not in (ids[1], ids[4])]
    gone = [i for i in items if i.tombstone]
    assert [i.ticket_id for i in gone] == [str(ids[1]), str(ids[4])]  # their deletion: their last change
    assert [i.updated_at for i in gone] == [from_epoch(server.tickets[t]["updated_at"]) for t in (ids[1], ids[4])]
    assert all(i.cursor for i in gone)
    assert capsys.readouterr().err == ""  # the core counts them


def test_an_agent_token_exports_through_search_export(server, backend, small_pages):
    server.admin = False
    ids = [str(i) for i in server.seed_tickets(7)]
    items = list(backend.export())
    assert [i.ticket.id for i in items] == ids
    assert server.count("GET", r"/incremental/") == 1  # the 403 that chose the search export
    exports = [r for r in server.requests if r.path == "/api/v2/search/export.json"]
    assert len(exports) == 3 and {r.arg("filter[type]") for r in exports} == {"ticket"}
    for k, item in enumerate(items):
        assert export_ids(backend_for_same(backend), cursor=item.cursor) == ids[k + 1 :]
    assert server.count("GET", r"/incremental/") == 1  # a search cursor resumes in search mode


def test_export_since_filters_on_updated(server, backend):
    server.seed_tickets(3, updated_at="2020-01-01T00:00:00Z", created_at="2020-01-01T00:00:00Z")
    recent = [str(i) for i in server.seed_tickets(2)]
    since = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert export_ids(backend, since=since) == recent
    start = [r.arg("start_time") for r in server.requests if "incremental" in r.path]
    assert start[-1] == str(int(since.timestamp()))


def test_export_honours_the_incremental_rate_limit(zendesk_harness, server, monkeypatch):
    monkeypatch.setattr(zendesk_export, "EXPORT_PAGE", 1)
    ids = [str(i) for i in server.seed_tickets(12)]
    clock = [server.now()]
    server.now = lambda: clock[0]
    server.rate_limit_incremental = True
    b = backend_for(zendesk_harness, max_retry_wait=60, retry_budget=300)
    waits: list[float] = []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    b.http.sleep = sleep
    assert export_ids(b) == ids
    assert waits and all(0 < w <= 60 for w in waits)
    assert server.count("GET", r"/incremental/") > 12  # some answered 429, then retried


# -- export: threads from the ticket events (admin) ----------------------------------------------


def comment_calls(server) -> int:
    return server.count("GET", r"^/api/v2/tickets/\d+/comments")


def after_each(monkeypatch, server, path: str, action) -> None:
    """Run `action(request)` once each request to `path` has been answered (before the answer leaves)."""
    original = server._dispatch

    def dispatch(request):
        response = original(request)
        if request.path.endswith(path):
            action(request)
        return response

    monkeypatch.setattr(server, "_dispatch", dispatch)


def test_an_admin_export_takes_each_thread_from_the_ticket_events_as_show_gives_it(server, backend, tmp_path):
    a = backend.create(new(requester=CUSTOMER, cc=[LEAD])).ticket
    backend.reply(a.id, Reply(body="see the log", author=AGENT, attachments=[upload_file(tmp_path, "a.log", b"boom")]))
    backend.reply(a.id, Reply(body="internal", author=AGENT, public=False))
    backend.reply(a.id, Reply(body="from the lead", author=LEAD))
    b = backend.create(new(subject="second")).ticket
    server.seed_comments([int(b.id)], 2, author=DEV)  # an author the ticket names nowhere
    before = server.count()
    items = list(backend_for_same(backend).export())
    sent = server.requests[before:]
    assert comment_calls(server) == 0
    assert [r.path for r in sent] == [
        "/api/v2/incremental/ticket_events.json",
        "/api/v2/incremental/tickets/cursor.json",
        "/api/v2/users/show_many.json",  # DEV, named on no ticket
    ]
    assert sent[0].arg("include") == "comment_events" and sent[0].arg("start_time") == "0"
    for item in items:
        assert item.ticket.to_dict() == backend.get(item.ticket.id).to_dict()
    assert [len(i.ticket.comments) for i in items] == [4, 3]
    assert items[0].ticket.comments[1].attachments[0].filename == "a.log"


def test_a_ticket_changed_after_the_events_were_read_gets_its_own_comments_call(server, backend, monkeypatch):
    ids = server.seed_tickets(3)

    def change(request):
        if not hasattr(change, "done"):
            change.done = True
            server.seed_comments([ids[1]], 1, body="after the events")

    after_each(monkeypatch, server, "/incremental/ticket_events.json", change)
    items = list(backend.export())
    assert comment_calls(server) == 1
    assert [c.body for c in items[-1].ticket.comments][-1] == "after the events"  # it moved to the end
    assert [i.ticket.id for i in items] == [str(ids[0]), str(ids[2]), str(ids[1])]


def test_events_that_miss_a_comment_leave_that_thread_to_its_comments_call(server, backend, monkeypatch):
    ids = server.seed_tickets(3)
    server.seed_comments(ids, 1)
    lost = server.comments[ids[2]][1]["id"]
    original = server._dispatch

    def dispatch(request):
        response = original(request)
        if request.path.endswith("/incremental/ticket_events.json"):
            for event in response.json["ticket_events"]:
                event["child_events"] = [c for c in event["child_events"] if c.get("id") != lost]
        return response

    monkeypatch.setattr(server, "_dispatch", dispatch)
    items = list(backend.export())
    assert comment_calls(server) == 1 and server.count("GET", rf"/tickets/{ids[2]}/comments") == 1
    assert [len(i.ticket.comments) for i in items] == [2, 2, 2]  # comment_count said 2


def test_event_pages_of_one_second_go_on_from_the_next_second(server, backend):
    server.ticket_events_per_page = 3
    first = server.seed_tickets(7)  # one second: a page of 7, asked twice
    later = server.seed_tickets(2, created_at=server.tickets[first[0]]["created_at"] + 5)
    items = list(backend.export())
    assert [i.ticket.id for i in items] == [str(t) for t in first + later]
    assert server.count("GET", "/incremental/ticket_events") == 3 and comment_calls(server) == 0


def test_the_position_after_the_end_gives_what_changed_with_new_threads_from_the_events(server, backend):
    hour_ago = int(server.now()) - 3600
    ids = server.seed_tickets(4, created_at=lambda i: hour_ago + i)
    assert [i.ticket.id for i in backend.export()] == [str(t) for t in ids]
    position = backend.export_position()
    assert position and zendesk_export.decode_cursor(position)["e"] >= server.tickets[ids[-1]]["updated_at"]
    assert list(backend_for_same(backend).export(cursor=position)) == []
    backend.reply(str(ids[1]), Reply(body="a change", author=AGENT))
    made = backend.create(new(subject="new since")).ticket
    backend.reply(made.id, Reply(body="and more", author=LEAD))
    before = comment_calls(server)
    later = backend_for_same(backend)
    items = list(later.export(cursor=position))
    assert [i.ticket.id for i in items] == [str(ids[1]), made.id]
    assert comment_calls(server) - before == 1  # the old ticket's; the new one's thread is in the events
    for item in items:
        assert item.ticket.to_dict() == backend.get(item.ticket.id).to_dict()
    assert later.export_position() != position


def test_a_ticket_changed_during_the_export_is_written_once_and_again_by_the_next_run(
    server, backend, small_pages, monkeypatch
):
    ids = server.seed_tickets(7)  # pages 1-3, 4-6, 7
    pages = []

    def change(request):
        pages.append(request)
        if len(pages) == 2:  # after the second page: ticket 1, written already, changes; 8 is new
            server.seed_comments([ids[0]], 1, body="meanwhile")
            ids.extend(server.seed_tickets(1))

    after_each(monkeypatch, server, "/incremental/tickets/cursor.json", change)
    items = list(backend.export())
    assert [i.ticket.id for i in items] == [str(t) for t in ids]  # 1 came again, before 8: not twice
    assert [c.body for c in items[0].ticket.comments][-1] != "meanwhile"
    # From ticket 1's second coming on, a resume token points just before it.
    assert items[-1].cursor == items[-2].cursor
    resumed = backend_for_same(backend).export(cursor=items[-1].cursor)
    assert [i.ticket.id for i in resumed] == [str(ids[0]), str(ids[7])]
    position = backend.export_position()
    assert zendesk_export.decode_cursor(position)["r"] == [ids[0]]
    again = list(backend_for_same(backend).export(cursor=position))
    assert [i.ticket.id for i in again] == [str(ids[0])]
    assert again[0].ticket.comments[-1].body == "meanwhile"
    assert server.count("GET", "/tickets/show_many") == 1


def test_a_cursor_from_before_the_events_resumes_with_a_comments_call_each(server, backend, small_pages):
    ids = [str(i) for i in server.seed_tickets(5)]
    old = zendesk_export.encode_cursor("incremental", 0, None, 2, int(ids[1]))  # no "e": no events
    assert [i.ticket.id for i in backend.export(cursor=old)] == ids[2:]
    assert server.count("GET", "/incremental/ticket_events") == 0 and comment_calls(server) == 3


def test_an_agent_export_has_no_position(server, backend):
    server.admin = False
    server.seed_tickets(2)
    assert len(list(backend.export())) == 2
    assert backend.export_position() is None
    assert backend.export_overlap.total_seconds() == 15 * 60


def test_a_bad_cursor_is_invalid_input(backend):
    with pytest.raises(InvalidInputError):
        list(backend.export(cursor="not-a-cursor"))
    forged = base64.urlsafe_b64encode(json.dumps({"v": 1, "m": "x"}).encode()).decode()
    with pytest.raises(InvalidInputError):
        list(backend.export(cursor=forged))


def test_cli_export_prints_a_resume_line_that_resumes(zendesk_harness, server, small_pages):
    ids = [str(i) for i in server.seed_tickets(5)]
    cfg = str(zendesk_harness.config_path)
    first = run("--config", cfg, "export", "--format", "jsonl", env=zendesk_harness.env)
    assert first.code == 0, first.err
    assert [json.loads(line)["id"] for line in first.lines] == ids
    resume = [line for line in first.err.splitlines() if line.startswith("resume: --cursor=")]
    assert resume
    server.seed_tickets(2)
    again = run("--config", cfg, "export", resume[-1].split(" ", 1)[1], env=zendesk_harness.env)
    assert again.code == 0, again.err
    assert [json.loads(line)["id"] for line in again.lines] == ["6", "7"]


# -- configuration ---------------------------------------------------------------------------


def test_base_url_from_subdomain_or_url():
    assert zendesk_base_url(Profile("p", "zendesk", {"subdomain": "acme"})) == "https://acme.zendesk.com"
    url = Profile("p", "zendesk", {"url": "https://support.example.com/agent/"})
    assert zendesk_base_url(url) == "https://support.example.com"
    local = Profile("p", "zendesk", {"url": "http://localhost:8080"})
    assert zendesk_base_url(local) == "http://127.0.0.1:8080"
    for bad in ({"url": "http://support.example.com"}, {"subdomain": "no/pe"}, {}):
        with pytest.raises(ConfigError):
            zendesk_base_url(Profile("p", "zendesk", bad))


def test_the_constructor_touches_nothing(server, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    ZendeskBackend(Profile("p", "zendesk", {"url": server.url, "token_env": TOKEN_ENV}))
    assert server.count() == 0


def test_a_missing_token_is_a_config_error(zendesk_harness, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(ConfigError, match=TOKEN_ENV):
        backend_for(zendesk_harness).get("1")


def test_cli_commands_against_the_stand_in(tmp_path, server, monkeypatch):
    cfg = tmp_path / "config.yaml"
    write_config(cfg, server.url)
    env = {TOKEN_ENV: TOKEN}

    def tix(*args):
        result = run("--config", str(cfg), *args, env=env)
        assert result.code == 0, (args, result.err)
        return result.out

    (tmp_path / "log.txt").write_text("boom\n")
    tid = tix("create", "--subject", "From the CLI", "--body", "hello", "--cc", LEAD).strip()
    tix("reply", tid, "--body", "more")
    tix("attach", tid, str(tmp_path / "log.txt"))
    tix("cc", tid, "--add", DEV)
    tix("solve", tid)
    shown = json.loads(tix("show", tid, "--format", "json"))
    assert shown["status"] == "solved" and shown["cc"] == [DEV, LEAD]
    assert [a["filename"] for a in shown["comments"][2]["attachments"]] == ["log.txt"]
    listed = json.loads(tix("list", "--all", "--status", "solved", "--format", "json"))
    assert [t["id"] for t in listed] == [tid]


# -- conformance to Zendesk's OpenAPI spec ------------------------------------------------------


def test_every_exchange_conforms_to_the_spec(zendesk_harness, server, backend, tmp_path, small_pages):
    from standins.spec import get_checker

    checker = get_checker("zendesk")  # skips without the spec, fails under CI
    server.seed_tickets(4, requester=CUSTOMER)
    files = [upload_file(tmp_path, "a b.txt", b"abc"), upload_file(tmp_path, "c.log", b"defg")]
    ticket = backend.create(
        new(requester=CUSTOMER, cc=[LEAD], group="Support", tags=["x"], priority="high", type="incident",
            attachments=files, dedupe_key="k1")
    ).ticket  # fmt: skip
    backend.create(new(body="again", dedupe_key="k1"))
    backend.list_tickets(ListQuery(user=AGENT, scope="all", search="again", statuses=("open", "solved")))
    backend.reply(ticket.id, Reply(body="r", author=AGENT, status="pending", attachments=files))
    backend.reply(ticket.id, Reply(body="r2", author=LEAD, public=False))
    backend.update_cc(ticket.id, [DEV], [LEAD])
    backend.solve(ticket.id, body="done")
    backend.get(ticket.id)
    list(backend.export())
    redo = zendesk_export.encode_cursor("incremental", 0, None, 0, events_from=0, redo=[int(ticket.id)])
    list(backend_for(zendesk_harness).export(cursor=redo))  # a ticket the run before left: show_many
    assert server.count("GET", "/tickets/show_many") == 1 and server.count("GET", "/ticket_events") == 2
    server.admin = False
    list(backend_for(zendesk_harness).export())
    server.close(int(ticket.id))
    with pytest.raises(RefusedError):
        backend.reply(ticket.id, Reply(body="x", author=AGENT))
    server.inject(kind="status", status=429, retry_after=0, times=1)
    backend.get(ticket.id)
    checker.assert_conforms(server)
