"""The Zendesk stand-in itself, over real HTTP, and the OpenAPI conformance checker.

Every exchange a test makes is checked against Zendesk's spec when the test ends (the ``api``
fixture); a test that sends non-conforming requests on purpose lists the problem kinds it
expects in ``api.ignore``.
"""

from __future__ import annotations

import base64
import time

import pytest
import requests
from standins.base import Exchange, Request, Response
from standins.spec import get_checker
from standins.zendesk import ZendeskStandIn

AGENT = "agent@example.com"
TOKEN = "zd-test-token-123"
TICKET_FIELDS = {
    "id", "url", "external_id", "type", "subject", "raw_subject", "description", "priority", "status",
    "requester_id", "submitter_id", "assignee_id", "group_id", "collaborator_ids", "email_cc_ids",
    "follower_ids", "tags", "created_at", "updated_at",
}  # fmt: skip
CLOSED_ERROR = {
    "error": "RecordInvalid",
    "description": "Record validation errors",
    "details": {"status": [{"description": "Status: closed prevents ticket update"}]},
}


@pytest.fixture(scope="module")
def server():
    s = ZendeskStandIn(agent_email=AGENT, token=TOKEN).start()
    yield s
    s.stop()


class Api:
    """requests against the stand-in, authenticated as the agent (API token)."""

    def __init__(self, server: ZendeskStandIn) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.auth = (f"{AGENT}/token", TOKEN)
        self.ignore: set[str] = set()  # problem kinds this test provokes on purpose

    def __getattr__(self, method):  # api.get(path, ...), api.post(...), api.put(...), api.delete(...)
        if method not in ("get", "post", "put", "delete"):
            raise AttributeError(method)
        return lambda path, **kw: self.session.request(method, self.server.url + path, timeout=5, **kw)

    def create(self, **ticket) -> dict:
        ticket.setdefault("subject", "Printer on fire")
        ticket.setdefault("comment", {"body": "The smoke is very colorful.", "public": True})
        r = self.post("/api/v2/tickets.json", json={"ticket": ticket})
        assert r.status_code == 201, r.text
        return r.json()["ticket"]

    def update(self, tid: int, expect: int = 200, **ticket) -> dict:
        r = self.put(f"/api/v2/tickets/{tid}.json", json={"ticket": ticket})
        assert r.status_code == expect, r.text
        return r.json()


@pytest.fixture
def api(server):
    """A client on a freshly reset server; the test's exchanges must conform to the spec."""
    server.reset()
    try:
        checker = get_checker("zendesk")
    except pytest.skip.Exception:  # no spec here (and not CI): the test runs, unchecked
        checker = None
    client = Api(server)
    yield client
    client.session.close()
    if checker is not None:
        checker.assert_conforms(server, ignore=client.ignore)


def user_id(server: ZendeskStandIn, email: str) -> int:
    uid = server.user_id(email)
    assert uid is not None
    return uid


# -- authentication and seed state --
def test_auth_token_and_oauth_accepted_anything_else_401(api, server):
    assert api.get("/api/v2/users/me.json").json()["user"]["email"] == AGENT
    bearer = requests.get(f"{server.url}/api/v2/users/me.json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200
    api.ignore.add("security")  # the unauthenticated call below has no credentials at all
    for auth in [(f"{AGENT}/token", "wrong"), (AGENT, TOKEN), ("other@example.com/token", TOKEN), None]:
        r = requests.get(f"{server.url}/api/v2/tickets.json", auth=auth)
        assert r.status_code == 401
        assert r.json() == {"error": "Couldn't authenticate you"}
    r = requests.get(f"{server.url}/api/v2/users/me.json", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_seeded_users_and_group(api, server):
    me = api.get("/api/v2/users/me.json").json()["user"]
    assert me["id"] == 1 and me["role"] == "admin"
    for email in ("customer@example.com", "lead@example.com", "dev@example.com"):
        found = api.get("/api/v2/users/search.json", params={"query": email}).json()["users"]
        assert [u["email"] for u in found] == [email]
        assert found[0]["role"] == "end-user"
    ids = ",".join(str(user_id(server, e)) for e in ("customer@example.com", "lead@example.com"))
    many = api.get("/api/v2/users/show_many.json", params={"ids": ids}).json()["users"]
    assert [u["email"] for u in many] == ["customer@example.com", "lead@example.com"]
    assert api.get("/api/v2/users/2.json").json()["user"]["name"] == "Customer"
    r = api.get("/api/v2/users/999.json")
    assert r.status_code == 404 and r.json() == {"error": "RecordNotFound", "description": "Not found"}
    assert [g["name"] for g in api.get("/api/v2/groups.json").json()["groups"]] == ["Support"]


def test_non_admin_agent(server):
    s = ZendeskStandIn(admin=False).start()
    try:
        auth = (f"{AGENT}/token", TOKEN)
        assert requests.get(f"{s.url}/api/v2/users/me.json", auth=auth).json()["user"]["role"] == "agent"
        r = requests.get(f"{s.url}/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}, auth=auth)
        assert r.status_code == 403
        s.admin = True  # a switch, restored by reset()
        s.reset()
        assert s.admin is False
    finally:
        s.stop()


# -- create and show --
def test_create_ticket_shape_and_new_requester(api, server):
    r = api.post(
        "/api/v2/tickets.json",
        json={
            "ticket": {
                "subject": "Printer on fire",
                "comment": {"body": "The smoke is very colorful.", "public": True},
                "requester": {"email": "New.Person@example.org", "name": "New Person"},
                "priority": "high",
                "type": "incident",
                "tags": ["Printer", "urgent_fix"],
                "external_id": "ext-1",
                "group_id": api.get("/api/v2/groups.json").json()["groups"][0]["id"],
                "email_ccs": [{"user_email": "lead@example.com", "action": "put"}],
            }
        },
    )
    assert r.status_code == 201
    t = r.json()["ticket"]
    assert TICKET_FIELDS <= set(t)
    assert r.headers["Location"].endswith(f"/api/v2/tickets/{t['id']}.json")
    assert t["status"] == "new" and t["assignee_id"] is None
    assert t["description"] == "The smoke is very colorful."
    assert t["tags"] == ["printer", "urgent_fix"]
    new_user = api.get(f"/api/v2/users/{t['requester_id']}.json").json()["user"]
    assert new_user["email"] == "new.person@example.org" and new_user["role"] == "end-user"
    assert t["submitter_id"] == 1
    assert t["email_cc_ids"] == [user_id(server, "lead@example.com")] == t["collaborator_ids"]
    assert t["created_at"].endswith("Z") and t["created_at"] == t["updated_at"]
    shown = api.get(f"/api/v2/tickets/{t['id']}.json").json()["ticket"]
    assert shown == t
    assert server.ticket_count() == 1 and server.tickets[t["id"]]["subject"] == "Printer on fire"


def test_create_with_assignee_is_open_and_needs_a_description(api):
    assert api.create(assignee_id=1)["status"] == "open"
    assert api.create(requester_id=2)["requester_id"] == 2
    r = api.post("/api/v2/tickets.json", json={"ticket": {"subject": "no body"}})
    assert r.status_code == 422 and "description" in r.json()["details"]
    r = api.post("/api/v2/tickets.json", json={"ticket": {"subject": "x", "comment": {"body": "y"}, "priority": "meh"}})
    assert r.status_code == 422 and "priority" in r.json()["details"]
    api.ignore.add("request")  # "meh" is not in the spec's priority enum: the checker says so too


def test_show_missing_ticket_is_404(api):
    r = api.get("/api/v2/tickets/12345.json")
    assert r.status_code == 404
    assert r.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_idempotency_key(api, server):
    body = {"ticket": {"subject": "Once", "comment": {"body": "only once", "public": True}}}
    first = api.post("/api/v2/tickets.json", json=body, headers={"Idempotency-Key": "key-1"})
    assert first.status_code == 201 and first.headers["x-idempotency-lookup"] == "miss"
    again = api.post("/api/v2/tickets.json", json=body, headers={"Idempotency-Key": "key-1"})
    assert again.status_code == 201 and again.headers["x-idempotency-lookup"] == "hit"
    assert again.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    assert server.ticket_count() == 1
    other = {"ticket": {"subject": "Other", "comment": {"body": "different", "public": True}}}
    r = api.post("/api/v2/tickets.json", json=other, headers={"Idempotency-Key": "key-1"})
    assert r.status_code == 400 and r.json()["error"] == "IdempotentRequestError"
    # After about two hours the key is forgotten.
    start = time.time()
    server.now = lambda: start + 2 * 3600 + 1
    later = api.post("/api/v2/tickets.json", json=body, headers={"Idempotency-Key": "key-1"})
    assert later.status_code == 201 and later.json()["ticket"]["id"] != first.json()["ticket"]["id"]
    assert server.ticket_count() == 2


# -- lists and paging --
def test_list_tickets_cursor_paging(api, server):
    server.seed_tickets(250, external_id=lambda i: f"ext-{i % 5}")
    seen, url, pages = [], "/api/v2/tickets.json?page[size]=100", 0
    while url:
        body = api.get(url.replace(server.url, "")).json()
        seen += [t["id"] for t in body["tickets"]]
        pages += 1
        url = body["links"]["next"]
        assert body["meta"]["has_more"] is bool(url)
        assert body["meta"]["after_cursor"]
    assert pages == 3 and seen == list(range(1, 251))
    newest = api.get("/api/v2/tickets.json", params={"page[size]": 2, "sort": "-id"}).json()
    assert [t["id"] for t in newest["tickets"]] == [250, 249]
    r = api.get("/api/v2/tickets.json", params={"page[size]": 101})
    assert r.status_code == 400
    by_external = api.get("/api/v2/tickets.json", params={"external_id": "ext-3"}).json()["tickets"]
    assert len(by_external) == 50 and {t["external_id"] for t in by_external} == {"ext-3"}


def test_list_tickets_offset_paging_and_show_many(api, server):
    server.seed_tickets(120)
    page1 = api.get("/api/v2/tickets.json").json()
    assert len(page1["tickets"]) == 100 and page1["count"] == 120 and page1["next_page"]
    page2 = api.get(page1["next_page"].replace(server.url, "")).json()
    assert [t["id"] for t in page2["tickets"]] == list(range(101, 121)) and page2["next_page"] is None
    many = api.get("/api/v2/tickets/show_many.json", params={"ids": "3,1,999", "include": "users"}).json()
    assert [t["id"] for t in many["tickets"]] == [3, 1]
    assert [u["id"] for u in many["users"]] == [1]


def test_requested_tickets_and_side_loads(api, server):
    customer = user_id(server, "customer@example.com")
    server.seed_tickets(3, requester="customer@example.com")
    server.seed_tickets(2)
    body = api.get(f"/api/v2/users/{customer}/tickets/requested.json", params={"page[size]": 2}).json()
    assert [t["id"] for t in body["tickets"]] == [1, 2] and body["meta"]["has_more"]
    rest = api.get(body["links"]["next"].replace(server.url, "")).json()
    assert [t["id"] for t in rest["tickets"]] == [3] and not rest["meta"]["has_more"]
    shown = api.get("/api/v2/tickets/1.json", params={"include": "users,groups,metric_sets,dates"}).json()
    assert {u["id"] for u in shown["users"]} == {1, customer}
    assert shown["metric_sets"][0]["ticket_id"] == 1 and "solved_at" in shown["ticket"]["dates"]
    assert api.get("/api/v2/users/999/tickets/requested.json").status_code == 404


# -- updates and the lifecycle rules --
def test_agent_comment_does_not_reopen_end_user_comment_does(api, server):
    t = api.create(requester_id=2, assignee_id=1)
    api.update(t["id"], status="pending", comment={"body": "Waiting for you", "public": True})
    after = api.update(t["id"], comment={"body": "agent note", "public": False})["ticket"]
    assert after["status"] == "pending"
    after = api.update(t["id"], comment={"body": "me again", "author_id": 2})["ticket"]
    assert after["status"] == "open"
    assert server.comments[t["id"]][-1]["public"] is True  # end users cannot write internal notes
    api.update(t["id"], status="solved")
    reopened = api.update(t["id"], status="open", comment={"body": "reopen", "public": True})["ticket"]
    assert reopened["status"] == "open"


def test_solve_assigns_the_agent_or_is_refused(api, server):
    t = api.create()
    solved = api.update(t["id"], status="solved", comment={"body": "fixed", "public": True})["ticket"]
    assert solved["status"] == "solved" and solved["assignee_id"] == 1
    assert server.tickets[t["id"]]["solved_at"] is not None
    metric = api.get(f"/api/v2/tickets/{t['id']}/metrics.json").json()["ticket_metric"]
    assert metric["solved_at"] is not None
    server.auto_assign_on_solve = False
    other = api.create()
    body = api.update(other["id"], expect=422, status="solved")
    assert "assignee" in body["details"]
    assert server.tickets[other["id"]]["status"] == "new"


def test_closed_ticket_refuses_every_update(api, server):
    t = api.create(assignee_id=1)
    api.update(t["id"], status="solved")
    server.close(t["id"])  # as the automation does
    assert api.update(t["id"], expect=422, comment={"body": "hello?", "public": True}) == CLOSED_ERROR
    assert api.update(t["id"], expect=422, status="open") == CLOSED_ERROR
    closed = api.update(api.create()["id"], status="closed")["ticket"]  # the API may close directly
    assert closed["status"] == "closed" and closed["assignee_id"] == 1
    assert server.tickets[closed["id"]]["solved_at"] is not None
    assert api.update(closed["id"], expect=422, priority="high") == CLOSED_ERROR


def test_updated_at_strictly_increases_within_one_second(api, server):
    frozen = int(time.time())
    server.now = lambda: frozen
    t = api.create()
    stamps = [t["updated_at"]]
    for word in ("one", "two"):
        stamps.append(api.update(t["id"], comment={"body": word, "public": True})["ticket"]["updated_at"])
    stamps.append(api.update(t["id"])["ticket"]["updated_at"])  # even an update that changes nothing
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    created = [c["created_at"] for c in api.get(f"/api/v2/tickets/{t['id']}/comments.json").json()["comments"]]
    assert created == sorted(created) and len(set(created)) == 3


def test_update_fields_ccs_and_priority(api, server):
    lead, dev = user_id(server, "lead@example.com"), user_id(server, "dev@example.com")
    t = api.create(priority="low")
    after = api.update(
        t["id"],
        priority="urgent",
        type="task",
        subject="New subject",
        email_ccs=[
            {"user_email": "lead@example.com", "action": "put"},
            {"user_email": "dev@example.com", "action": "put"},
            {"user_email": "someone.new@example.net", "user_name": "Someone", "action": "put"},
        ],
        additional_tags=["extra"],
    )["ticket"]
    newbie = user_id(server, "someone.new@example.net")
    assert after["email_cc_ids"] == [lead, dev, newbie]
    assert (after["priority"], after["type"], after["subject"]) == ("urgent", "task", "New subject")
    assert after["tags"] == ["extra"]
    after = api.update(t["id"], email_ccs=[{"user_email": "dev@example.com", "action": "delete"}])["ticket"]
    assert after["email_cc_ids"] == [lead, newbie]
    body = api.update(t["id"], expect=422, priority=None)  # priority cannot be reset to none
    assert "priority" in body["details"]
    assert api.update(t["id"], assignee_id=2, expect=422)["details"]["assignee"]  # not an agent


def test_comment_visibility_carries_over(api, server):
    t = api.create(comment={"body": "internal start", "public": False})
    api.update(t["id"], comment={"body": "no public flag"})
    api.update(t["id"], comment={"body": "explicitly public", "public": True})
    assert [c["public"] for c in server.comments[t["id"]]] == [False, False, True]


# -- comments, uploads, attachments --
def test_uploads_comments_and_attachments(api, server):
    r = api.post(
        "/api/v2/uploads.json",
        params={"filename": "log.txt"},
        data=b"line 1\n",
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 201
    token = r.json()["upload"]["token"]
    r = api.post(
        "/api/v2/uploads.json",
        params={"filename": "shot.png", "token": token},
        data=b"\x89PNG\r\n",
        headers={"Content-Type": "image/png"},
    )
    upload = r.json()["upload"]
    assert upload["token"] == token and [a["file_name"] for a in upload["attachments"]] == [
        "log.txt",
        "shot.png",
    ]
    t = api.create(comment={"body": "see attached", "public": True, "uploads": [token]})
    api.update(t["id"], comment={"body": "second", "public": False, "author_id": 1})
    api.update(t["id"], comment={"body": "third", "public": True})

    page = api.get(f"/api/v2/tickets/{t['id']}/comments.json", params={"page[size]": 2, "include": "users"}).json()
    assert [c["body"] for c in page["comments"]] == ["see attached", "second"] and page["meta"]["has_more"]
    assert [u["id"] for u in page["users"]] == [1]
    files = page["comments"][0]["attachments"]
    assert [(a["file_name"], a["size"], a["content_type"]) for a in files] == [
        ("log.txt", 7, "text/plain"),
        ("shot.png", 6, "image/png"),
    ]
    assert all(isinstance(a["id"], int) for a in files)
    assert requests.get(files[1]["content_url"]).content == b"\x89PNG\r\n"  # no credentials needed
    rest = api.get(page["links"]["next"].replace(server.url, "")).json()
    assert [c["body"] for c in rest["comments"]] == ["third"] and not rest["meta"]["has_more"]
    api.ignore.add("unknown-operation")  # the content URL is not an API operation

    r = api.post("/api/v2/uploads.json", params={"filename": "x.bin"}, data=b"x")
    other = r.json()["upload"]["token"]
    assert api.delete(f"/api/v2/uploads/{other}.json").status_code == 204
    assert api.delete(f"/api/v2/uploads/{other}.json").status_code == 404


# -- search --
def test_search_query_syntax(api, server):
    customer, lead = user_id(server, "customer@example.com"), user_id(server, "lead@example.com")
    a = api.create(subject="VPN broken", requester_id=customer, priority="high", type="incident")["id"]
    b = api.create(subject="Printer jam", requester_id=lead, assignee_id=1, priority="low", type="question")["id"]
    c = api.create(subject="Other", comment={"body": "The VPN client crashes", "public": True})["id"]
    api.update(c, comment={"body": "Internal: printer model XJ-9", "public": False})
    api.update(b, status="solved")

    def ids(query: str, **params) -> list[int]:
        r = api.get("/api/v2/search.json", params={"query": query, **params})
        assert r.status_code == 200, r.text
        assert all(x["result_type"] == "ticket" for x in r.json()["results"])
        return sorted(x["id"] for x in r.json()["results"])

    assert ids("type:ticket vpn") == [a, c]  # subject and comments, any case
    assert ids("type:ticket VPN crashes") == [c]  # every word is required
    assert ids('type:ticket "client crashes"') == [c] and ids('type:ticket "crashes client"') == []
    assert ids("type:ticket xj") == [c]  # internal notes are searched too
    assert ids("type:ticket print") == [b, c]  # a word matches the start of a word
    assert ids("type:ticket status<solved") == [a, c]
    assert ids("type:ticket status:solved") == [b]
    assert ids("type:ticket status:new status:solved") == [a, b, c]  # one field, several values: OR
    assert ids("type:ticket -status:solved") == [a, c]
    assert ids("type:ticket requester:customer@example.com") == [a]
    assert ids("type:ticket assignee:agent@example.com") == [b]
    assert ids("type:ticket assignee:none") == [a, c]
    assert ids("type:ticket ticket_type:question") == [b]
    assert ids("type:ticket priority:high") == [a]
    assert ids("type:ticket priority>=normal") == [a]
    assert ids("type:user customer") == []

    server.seed_tickets(1, subject="Old one", created_at="2019-05-01T10:00:00Z")
    assert ids("type:ticket updated<2020-01-01") == [4]
    assert ids("type:ticket created>2020-01-01") == [a, b, c]
    assert ids("type:ticket updated>=2019-05-01T10:00:00Z updated<2019-05-01T10:00:01Z") == [4]
    assert ids("type:ticket updated>1hours") == [a, b, c]

    newest = api.get("/api/v2/search.json", params={"query": "type:ticket order_by:updated_at sort:desc"})
    assert [x["id"] for x in newest.json()["results"]] == [b, c, a, 4]
    oldest = api.get("/api/v2/search.json", params={"query": "type:ticket order_by:created_at sort:asc"})
    assert [x["id"] for x in oldest.json()["results"]][0] == 4


def test_search_paging_limits(api, server):
    server.seed_tickets(1500, subject="bulk")
    page = api.get("/api/v2/search.json", params={"query": "type:ticket bulk", "per_page": 500}).json()
    assert len(page["results"]) == 100 and page["count"] == 1500 and page["next_page"]
    last = api.get("/api/v2/search.json", params={"query": "type:ticket bulk", "page": 10}).json()
    assert len(last["results"]) == 100 and last["next_page"] is None  # 1,000 results at most
    r = api.get("/api/v2/search.json", params={"query": "type:ticket bulk", "page": 11})
    assert r.status_code == 422
    r = api.get("/api/v2/search.json", params={"query": "type:ticket bulk", "page[size]": 10})
    assert r.status_code == 400 and r.json()["error"]["title"] == "Invalid attribute"
    assert api.get("/api/v2/search/count.json", params={"query": "bulk"}).json() == {"count": 1500}


def test_search_export_cursor(api, server):
    server.seed_tickets(30, subject="exported")
    params = {"query": "exported", "filter[type]": "ticket", "page[size]": 20}
    first = api.get("/api/v2/search/export.json", params=params).json()
    assert len(first["results"]) == 20 and first["meta"]["has_more"]
    second = api.get(first["links"]["next"].replace(server.url, "")).json()
    assert len(second["results"]) == 10 and not second["meta"]["has_more"] and second["links"]["next"] is None
    assert api.get("/api/v2/search/export.json", params={**params, "page[size]": 1001}).status_code == 400
    assert api.get("/api/v2/search/export.json", params={"query": "exported"}).status_code == 400


# -- incremental export --
def test_incremental_export(api, server):
    server.seed_tickets(25)
    server.mark_deleted(7)
    seen, params, pages = [], {"start_time": 0, "per_page": 10}, 0
    while True:
        body = api.get("/api/v2/incremental/tickets/cursor.json", params=params).json()
        seen += body["tickets"]
        pages += 1
        assert body["after_url"] and body["after_cursor"]  # set on the last page too
        if body["end_of_stream"]:
            break
        params = {"cursor": body["after_cursor"], "per_page": 10}
    assert pages == 3 and len(seen) == 25
    assert [t["status"] for t in seen if t["id"] == 7] == ["deleted"]
    assert seen[-1]["id"] == 7  # the deletion is its latest change
    # Polling later with the last cursor returns only what changed since.
    t = api.create()
    later = api.get(body["after_url"].replace(server.url, "")).json()
    assert [x["id"] for x in later["tickets"]] == [t["id"]] and later["end_of_stream"]
    assert api.get("/api/v2/incremental/tickets/cursor.json").status_code == 400  # start_time needed


def test_incremental_leaves_out_the_last_minute_when_asked(api, server):
    server.incremental_excludes_last_minute = True
    api.create()
    r = api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": int(time.time()) - 30})
    assert r.status_code == 400
    body = api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}).json()
    assert body["tickets"] == [] and body["end_of_stream"]
    start = time.time()
    server.now = lambda: start + 120
    assert len(api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}).json()["tickets"]) == 1


def test_incremental_ticket_events(api):
    t = api.create()
    api.update(t["id"], status="pending", comment={"body": "please confirm", "public": True})
    plain = api.get("/api/v2/incremental/ticket_events.json", params={"start_time": 0}).json()
    assert [e["ticket_id"] for e in plain["ticket_events"]] == [t["id"], t["id"]] and plain["end_of_stream"]
    kinds = {c["event_type"] for e in plain["ticket_events"] for c in e["child_events"]}
    assert "Comment" not in kinds
    full = api.get("/api/v2/incremental/ticket_events.json", params={"start_time": 0, "include": "comment_events"})
    bodies = [
        c["body"] for e in full.json()["ticket_events"] for c in e["child_events"] if c["event_type"] == "Comment"
    ]
    assert bodies == ["The smoke is very colorful.", "please confirm"]


def events_page(api, start, **params) -> dict:
    params = {"start_time": start, "include": "comment_events", **params}
    r = api.get("/api/v2/incremental/ticket_events.json", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_ticket_events_page_by_time_and_repeat_the_last_second(api, server):
    base = 1_600_000_000
    server.freeze(base + 10_000)
    ids = server.seed_tickets(5, created_at=lambda i: base + 10 * i)
    server.seed_comments(ids, 2, body=lambda i, j: f"t{i} c{j}", at=lambda i, j: base + 10 * i + 1 + j)
    server.ticket_events_per_page = 4  # 15 events, one a second
    seen, start, pages = [], 0, 0
    while True:
        body = events_page(api, start)
        pages += 1
        events = body["ticket_events"]
        assert body["count"] == len(events) and body["end_time"] == events[-1]["timestamp"]
        assert body["next_page"].endswith(f"?start_time={body['end_time']}&include=comment_events")
        seen += [e["id"] for e in events]
        if body["end_of_stream"]:
            break
        assert len(events) == 4
        start = body["end_time"]
    assert pages == 5  # 4 new, then 3 new and the last second again each page
    assert len(seen) == 15 + 4 and len(set(seen)) == 15
    comment = [c for e in events for c in e["child_events"] if c["event_type"] == "Comment"][-1]
    assert comment == {
        "id": comment["id"], "via": comment["via"], "via_reference_id": None, "type": "Comment",
        "author_id": server.agent_id, "body": "t4 c1", "html_body": comment["html_body"], "public": True,
        "attachments": [], "audit_id": events[-1]["id"], "created_at": "2020-09-13T12:27:22Z",
        "event_type": "Comment",
    }  # fmt: skip
    assert server.tickets[ids[4]]["updated_at"] == base + 42
    assert [c["body"] for c in api.get(f"/api/v2/tickets/{ids[4]}/comments.json").json()["comments"]] == [
        f"Description of seeded ticket {ids[4]}", "t4 c0", "t4 c1",
    ]  # fmt: skip


def test_a_ticket_events_page_never_ends_inside_a_second(api, server):
    server.ticket_events_per_page = 3
    server.seed_tickets(7)  # seven create audits in one second
    body = events_page(api, 0)
    assert len(body["ticket_events"]) == 7 and body["end_of_stream"]
    later = server.seed_tickets(1, created_at=body["end_time"] + 5)
    again = events_page(api, body["end_time"])  # the whole second again, and not the end
    assert len(again["ticket_events"]) == 7 and not again["end_of_stream"]
    assert again["end_time"] == body["end_time"]  # a client goes on from the second after
    rest = events_page(api, body["end_time"] + 1)
    assert [e["ticket_id"] for e in rest["ticket_events"]] == later and rest["end_of_stream"]


def test_ticket_events_are_for_admins_rate_limited_and_not_in_the_future(api, server):
    clock = server.freeze(2_000_000_000)  # later than the stamps reset() gave
    server.seed_tickets(1)
    assert events_page(api, int(clock.at))["end_of_stream"]
    r = api.get("/api/v2/incremental/ticket_events.json", params={"start_time": int(clock.at) + 5})
    assert r.status_code == 400
    api.ignore.add("request")  # start_time is required
    r = api.get("/api/v2/incremental/ticket_events.json")
    assert r.status_code == 400
    server.rate_limit_incremental = True
    for _ in range(5):
        events_page(api, 0)
        api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0})
    r = api.get("/api/v2/incremental/ticket_events.json", params={"start_time": 0})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 60  # one limit for both
    clock.advance(60)
    events_page(api, 0)
    server.admin = False
    assert api.get("/api/v2/incremental/ticket_events.json", params={"start_time": 0}).status_code == 403


def test_show_many_users_takes_at_most_100_ids(api, server):
    made = [server.add_user(f"u{n}@example.com") for n in range(120)]
    users = api.get("/api/v2/users/show_many.json", params={"ids": ",".join(map(str, made))}).json()["users"]
    assert [u["id"] for u in users] == made[:100]


def test_incremental_rate_limit(api, server):
    server.rate_limit_incremental = True
    clock = [1_700_000_000.0]
    server.now = lambda: clock[0]
    for _ in range(10):
        assert api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}).status_code == 200
        clock[0] += 1
    r = api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0})
    assert r.status_code == 429 and r.headers["Content-Type"].startswith("text/plain")
    assert int(r.headers["Retry-After"]) == 50
    clock[0] += 50
    assert api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}).status_code == 200


def test_injected_faults(api, server):
    server.inject(status=429, retry_after=7, match=r"GET /api/v2/tickets/")
    r = api.get("/api/v2/tickets/1.json")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7" and r.text == "Too Many Requests"
    assert server.count("GET", r"/api/v2/tickets/") == 1


# -- helpers for tests --
def test_seed_ten_thousand_is_fast(server):
    server.reset()
    start = time.perf_counter()
    ids = server.seed_tickets(10_000, status=lambda i: ("open", "pending", "solved")[i % 3], priority="normal")
    elapsed = time.perf_counter() - start
    assert len(ids) == 10_000 and server.ticket_count() == 10_000
    assert elapsed < 1.5, f"seeding took {elapsed:.2f} s"
    assert server.tickets[3]["assignee_id"] == 1  # solved needs an assignee
    with pytest.raises(TypeError):
        server.seed_tickets(1, colour="red")
    server.reset()


# -- the conformance checker --
def exchange(method: str, path: str, status: int, body, query=None, headers=None) -> Exchange:
    auth = "Basic " + base64.b64encode(f"{AGENT}/token:{TOKEN}".encode()).decode()
    request = Request(method, path, query or {}, {"host": "127.0.0.1:1", "authorization": auth, **(headers or {})}, b"")
    return Exchange(request, Response(status, json=body))


def test_checker_reports_wrong_shapes():
    checker = get_checker("zendesk")
    good = {"ticket": {"id": 1, "status": "open", "subject": "s", "tags": []}}
    assert checker.check_exchange(exchange("GET", "/api/v2/tickets/1.json", 200, good)) == []
    wrong = {"ticket": {"id": "1", "status": "open", "subject": "s", "tags": []}}
    problems = checker.check_exchange(exchange("GET", "/api/v2/tickets/1.json", 200, wrong))
    assert [p.kind for p in problems] == ["response"] and "ticket.id" in problems[0]
    nameless = {"user": {"id": 1, "email": "a@b.c"}}  # "name" is required for users
    assert [p.kind for p in checker.check_exchange(exchange("GET", "/api/v2/users/1.json", 200, nameless))] == [
        "response"
    ]
    with pytest.raises(AssertionError, match="ticket.id"):
        checker.assert_conforms([exchange("GET", "/api/v2/tickets/1.json", 200, wrong)])


def test_checker_problem_kinds_and_allowances():
    checker = get_checker("zendesk")
    unknown = checker.check_exchange(exchange("GET", "/api/v2/no_such_thing.json", 404, {"error": "x"}))
    assert [p.kind for p in unknown] == ["unknown-operation"]
    assert checker.problems([exchange("GET", "/nope", 404, {})], ignore=["unknown-operation"]) == []
    bad_param = exchange("GET", "/api/v2/tickets/abc.json", 404, {"error": "RecordNotFound"})
    assert "request" in [p.kind for p in checker.check_exchange(bad_param)]
    no_auth = Exchange(Request("GET", "/api/v2/tickets.json", {}, {"host": "h"}, b""), None)
    assert [p.kind for p in checker.check_exchange(no_auth)] == ["security"]
    odd_error = exchange("GET", "/api/v2/tickets/1.json", 404, {"message": "gone"})
    assert [p.kind for p in checker.check_exchange(odd_error)] == ["undocumented-status"]
    # Deleted tickets carry status "deleted" in the incremental export (docs), nowhere else.
    deleted = {"tickets": [{"id": 1, "status": "deleted"}], "end_of_stream": True}
    ok = exchange("GET", "/api/v2/incremental/tickets/cursor.json", 200, deleted, query={"start_time": ["0"]})
    assert checker.check_exchange(ok) == []
    shown = exchange("GET", "/api/v2/tickets/1.json", 200, {"ticket": {"id": 1, "status": "deleted"}})
    assert [p.kind for p in checker.check_exchange(shown)] == ["response"]


def test_checker_is_built_once_and_jsm_loads():
    assert get_checker("zendesk") is get_checker("zendesk")
    jsm = get_checker("jsm")
    platform = exchange("GET", "/rest/api/3/search/jql", 200, {"issues": []})
    assert [p.kind for p in jsm.check_exchange(platform)] == ["unknown-operation"]
    info = exchange("GET", "/rest/servicedeskapi/info", 200, {"version": "5.0", "platformVersion": "1"})
    assert jsm.check_exchange(info) == []


def test_checker_without_specs_skips_or_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("TIXCLI_SPECS_DIR", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="missing"):
        get_checker("zendesk")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="missing"):
        get_checker("jsm")
