"""What is specific to the JSM backend: requests per command, a create that is never sent twice,
the workflow (transition names, resolution, reopen, closed is final), account ids with `:`,
error mapping, export resume, and conformance to the Service Desk API spec.

Everything runs over real HTTP against the JSM stand-in (tests/standins/jsm.py).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from cli import run
from harness import CUSTOMER, DEV, LEAD
from harness_jsm import JSM_EMAIL, JSM_TOKEN, backend_for, new_request
from standins.jsm import ACCOUNT_IDS

from tixcli.backends.jsm import JSMBackend
from tixcli.backends.jsm_workflow import (
    Transition,
    Workflow,
    dedupe_key_of,
    dedupe_label,
    jql_string,
    jql_text_terms,
)
from tixcli.config import Profile
from tixcli.errors import (
    AuthError,
    ConfigError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    RefusedError,
    UnavailableError,
)
from tixcli.model import FileUpload, ListQuery, Reply

ME = JSM_EMAIL
CREATE = r"^/rest/servicedeskapi/request$"
TRANSITIONS = r"^/rest/api/3/issue/[^/]+/transitions$"
WRITES = ("POST", "PUT", "DELETE")


@pytest.fixture
def server(jsm_harness):
    return jsm_harness.server


@pytest.fixture
def backend(jsm_harness):
    b = backend_for(jsm_harness)
    yield b
    b.shutdown()


new = new_request


def counted(server, call):
    """(result, requests the call sent, those requests)."""
    before = server.count()
    result = call()
    return result, server.count() - before, server.requests[before:]


def bodies(requests, method, path):
    return [r.json for r in requests if r.method == method and re.search(path, r.path)]


def cli(harness, *args, env=None, stdin=b""):
    return run("--config", str(harness.config_path), *args, env={**harness.env, **(env or {})}, stdin=stdin)


# -- requests per command --------------------------------------------------------------------

COUNTS: dict[str, int] = {}  # measured below, reported in README


def test_list_limit_50_on_10000_requests_takes_at_most_two_requests(jsm_harness, server):
    server.seed_requests(10_000, reporter=ME)
    server.seed_requests(100, reporter=CUSTOMER)
    for scope in ("mine", "all"):
        b = backend_for(jsm_harness, service_desk="SUP" if scope == "all" else "1")
        query = ListQuery(user=ME, scope=scope, limit=50)
        tickets, n, sent = counted(server, lambda b=b, query=query: b.list_tickets(query))
        assert len(tickets) == 50
        assert n <= 3, [r.path for r in sent]
        COUNTS[f"list --{scope} --limit 50 (10,000 requests)"] = n
    b = backend_for(jsm_harness)
    tickets, n, _ = counted(server, lambda: b.list_tickets(ListQuery(user=ME, limit=50)))
    assert n <= 2 and all(t.requester == ME and t.updated_at for t in tickets)


def test_request_counts_per_command(jsm_harness, server, tmp_path):
    def measure(name, call, most):
        b = backend_for(jsm_harness)  # a new run: nothing cached
        result, n, sent = counted(server, lambda: call(b))
        assert n <= most, (name, [f"{r.method} {r.path}" for r in sent])
        COUNTS[name] = n
        return result

    key = measure("create", lambda b: b.create(new()).ticket.id, 5)
    measure(
        "create --priority high (type without the field) --cc", lambda b: b.create(new(priority="high", cc=[LEAD])), 7
    )
    measure("show", lambda b: b.get(key), 3)
    measure("reply --internal", lambda b: b.reply(key, Reply("note", ME, public=False)), 4)
    measure("reply --status pending", lambda b: b.reply(key, Reply("which one?", ME, status="pending")), 4)
    measure("reply (requester answers: back to support)", lambda b: b.reply(key, Reply("this one", ME)), 7)
    measure("cc (list)", lambda b: b.update_cc(key, [], []), 1)
    measure("cc --add", lambda b: b.update_cc(key, [DEV], []), 3)
    f = tmp_path / "a.log"
    f.write_text("log")
    upload = FileUpload(f, "a.log", 3, "text/plain")
    measure("attach (1 file)", lambda b: b.reply(key, Reply("log", ME, status="pending", attachments=[upload])), 5)
    # state() reads the status with the transitions available from it: solve and close need no
    # second read (5 before), nor a transition after a reply when automation left the status (8);
    # the read-back asks for the rating's fields only where this run read the field list (no
    # GET feedback, no field list: `show` gives the rating)
    measure("solve", lambda b: b.solve(key), 4)
    measure("reply to solved (reopen)", lambda b: b.reply(key, Reply("still broken", ME)), 7)
    measure("close", lambda b: b.close(key), 4)
    print("\nJSM requests per command:", json.dumps(COUNTS, indent=1))


# -- create: sent once ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503},
        {"kind": "status", "status": 502},
        {"kind": "reset"},
        {"kind": "hang", "delay": 1},
    ],
)
def test_a_create_that_may_have_failed_is_never_sent_again(jsm_harness, server, fault):
    backend = backend_for(jsm_harness, timeout=0.3)
    backend.create(new(subject="warm-up"))  # request types looked up, connection open
    server.inject(match=r"^POST /rest/servicedeskapi/request$", **fault)
    with pytest.raises(UnavailableError) as err:
        backend.create(new())
    assert server.count("POST", CREATE) == 2  # the warm-up, and the failed one: no retry
    assert server.issue_count() == 1
    assert JSM_TOKEN not in err.value.message and "Authorization" not in err.value.message


def test_a_create_answered_429_is_repeated_once_and_makes_one_request(server, backend):
    server.inject(match=r"^POST /rest/servicedeskapi/request$", status=429, retry_after=0)
    result = backend.create(new())
    assert server.count("POST", CREATE) == 2 and server.issue_count() == 1
    assert result.created and result.ticket.id == "SUP-1"


def test_the_library_session_never_retries(backend):
    assert backend.http.session is not None  # builds the client
    assert backend._jira._session.max_retries == 0


# -- the workflow -----------------------------------------------------------------------------


def test_solve_and_close_use_the_configured_transitions_and_the_resolution(server, backend):
    key = backend.create(new()).ticket.id
    solved, _, sent = counted(server, lambda: backend.solve(key))
    assert solved.status == "solved" and solved.raw_status == "Resolved" and solved.solved_at
    [body] = bodies(sent, "POST", TRANSITIONS)
    assert body == {"transition": {"id": "41"}, "fields": {"resolution": {"name": "Done"}}}  # ids are strings
    closed, _, sent = counted(server, lambda: backend.close(key))
    assert closed.status == "closed" and closed.raw_status == "Closed"
    assert bodies(sent, "POST", TRANSITIONS) == [{"transition": {"id": "61"}}]  # Close takes no resolution


def test_transition_names_and_resolution_come_from_the_profile(jsm_harness, server):
    b = backend_for(jsm_harness, transitions={"close": "Cancel request"}, resolution="Won't Do")
    key = b.create(new()).ticket.id
    assert b.close(key).raw_status == "Canceled"
    assert b.get(key).status == "closed"
    key2 = b.create(new()).ticket.id
    _, _, sent = counted(server, lambda: b.solve(key2))
    assert bodies(sent, "POST", TRANSITIONS)[0]["fields"] == {"resolution": {"name": "Won't Do"}}


def test_a_missing_transition_is_refused_naming_the_available_ones(jsm_harness, server):
    b = backend_for(jsm_harness, transitions={"solve": "Mark as done"})
    key = b.create(new()).ticket.id
    with pytest.raises(RefusedError) as err:
        b.solve(key)
    assert "'Mark as done'" in err.value.message and "'Resolve this issue'" in err.value.message
    assert "transitions.solve" in err.value.hint
    assert server.count("POST", TRANSITIONS) == 0


def test_without_configured_names_the_standard_workflow_names_work(jsm_harness, server):
    b = backend_for(jsm_harness, transitions=None)
    key = b.create(new()).ticket.id
    assert b.solve(key).status == "solved"
    assert b.reply(key, Reply("again", ME)).status == "open"
    assert b.close(key).status == "closed"


def test_reply_to_resolved_reopens_with_the_reopen_transition(server, backend):
    key = backend.create(new()).ticket.id
    backend.solve(key)
    ticket, _, sent = counted(server, lambda: backend.reply(key, Reply("still broken", ME)))
    assert ticket.status == "open" and ticket.raw_status == "Waiting for support" and ticket.solved_at is None
    assert bodies(sent, "POST", TRANSITIONS) == [{"transition": {"id": "51"}}]  # "Reopen"


@pytest.mark.parametrize("start, status, transition", [("solved", "open", "51"), ("open", "pending", "11")])
def test_an_internal_note_with_a_status_makes_the_transition(jsm_harness, server, backend, start, status, transition):
    """`reply --internal --status S`: the core now gives S for internal notes too; the JSM reply
    made a transition only after a public comment, and dropped --status silently."""
    key = backend.create(new()).ticket.id
    if start == "solved":
        backend.solve(key)
    before = server.count()
    result = cli(jsm_harness, "reply", key, "--internal", "--body", "note", "--status", status)
    assert result.code == 0, result.err
    sent = server.requests[before:]
    assert bodies(sent, "POST", r"/request/[^/]+/comment$") == [{"body": "note", "public": False}]
    assert bodies(sent, "POST", TRANSITIONS) == [{"transition": {"id": transition}}]  # Reopen / Respond to customer
    assert len(sent) == 7  # as a public reply that needs a transition
    shown = backend.get(key)
    assert shown.status == status and shown.comments[-1].public is False


def test_a_site_rule_that_reopens_on_comment_is_tolerated(server, backend):
    key = backend.create(new(requester=CUSTOMER)).ticket.id
    backend.solve(key)
    server.reopen_on_comment = True
    server.act_as(CUSTOMER, agent=False, token=JSM_TOKEN)  # a customer's comment: no agent automation
    b = JSMBackend(Profile("jsm", "jsm", {**backend.profile.settings, "email": CUSTOMER}))
    ticket, _, sent = counted(server, lambda: b.reply(key, Reply("still broken", CUSTOMER)))
    assert ticket.status == "open"
    assert not bodies(sent, "POST", r"/transition")  # the site already reopened it


def test_a_status_the_workflow_lacks_is_refused_before_the_comment(server, jsm_harness):
    b = backend_for(jsm_harness)
    key = b.create(new()).ticket.id
    with pytest.raises(RefusedError, match="hold"):
        b.reply(key, Reply("parked", ME, status="hold"))
    assert server.count("POST", r"/comment$") == 0
    b = backend_for(jsm_harness, statuses={"hold": ["In progress"]}, transitions={"hold": "Start progress"})
    held = b.reply(key, Reply("parked", ME, status="hold"))
    assert held.status == "hold" and held.raw_status == "In progress"


def test_a_reply_whose_status_no_transition_reaches_is_refused_before_the_comment(jsm_harness, server, backend):
    """`reply --status pending` on a resolved request: Resolved has no "Respond to customer". The
    comment was posted first and the reply then exited 5; now the transition is looked up first."""
    key = backend.create(new()).ticket.id
    backend.solve(key)
    comments = len(server.issues[key].comments)
    before = server.count()
    result = cli(jsm_harness, "reply", key, "--body", "which one?", "--status", "pending")
    assert result.code == 5 and "'Respond to customer'" in result.err and "'Reopen'" in result.err, result.err
    sent = server.requests[before:]
    assert [r for r in sent if r.method in WRITES] == [], [f"{r.method} {r.path}" for r in sent]
    assert len(sent) == 1  # the status with its transitions: nothing read twice
    assert len(server.issues[key].comments) == comments and backend.get(key).status == "solved"


def without(*names):
    """A `tamper`: the issue's answer (GET /rest/api/3/issue/KEY) without `names`: "transitions"
    (a site that ignores the expand), or "fields" of each transition (it leaves out their screens)."""

    def rewrite(request, data):
        if request.method == "GET" and re.fullmatch(r"/rest/api/3/issue/[^/]+", request.path):
            for name in names:
                data.pop(name, None)
                for t in data.get("transitions") or []:
                    t.pop(name, None)
        return data

    return rewrite


def test_an_issue_answer_without_transition_screens_reads_them_before_solving(server, backend):
    key = backend.create(new()).ticket.id
    server.tamper = without("fields")
    solved, n, sent = counted(server, lambda: backend.solve(key))
    assert solved.status == "solved"
    assert bodies(sent, "POST", TRANSITIONS) == [
        {"transition": {"id": "41"}, "fields": {"resolution": {"name": "Done"}}}
    ]
    assert n == 5  # the screen from the transitions endpoint: one request more than with it


def test_an_issue_answer_without_transitions_reads_them_when_needed(server, backend):
    key = backend.create(new()).ticket.id
    backend.solve(key)
    server.tamper = without("transitions")
    reopened, _, sent = counted(server, lambda: backend.reply(key, Reply("still broken", ME)))
    assert reopened.status == "open" and bodies(sent, "POST", TRANSITIONS) == [{"transition": {"id": "51"}}]
    backend.solve(key)
    before = server.count()
    with pytest.raises(RefusedError):  # refused on what the transitions endpoint says, before the comment
        backend.reply(key, Reply("which one?", ME, status="pending"))
    assert not [r for r in server.requests[before:] if r.method in WRITES]


def test_dedupe_adds_to_the_oldest_open_request_carrying_the_key(server, backend):
    """Two runs at the same moment can both create a request with one key (best-effort): later
    runs add to the oldest open one, as on the other backends, and skip a closed one."""
    first = backend.create(new(subject="first", dedupe_key="k")).ticket.id
    second = backend.create(new(subject="second", tags=[dedupe_label("k")])).ticket.id  # the racing run's
    assert backend.create(new(body="again", dedupe_key="k")).ticket.id == first
    backend.close(first)
    assert backend.create(new(body="and again", dedupe_key="k")).ticket.id == second


def test_a_customer_account_lists_all_through_the_portal_requests(server, backend):
    mine = backend.create(new(requester=CUSTOMER)).ticket.id  # an agent raises it for the customer
    for_lead = backend.create(new(requester=LEAD)).ticket.id  # same organisation as the customer
    backend.create(new(requester=DEV))  # not in the organisation
    server.act_as(CUSTOMER, agent=False, token=JSM_TOKEN)
    customer = JSMBackend(Profile("jsm", "jsm", {**backend.profile.settings, "email": CUSTOMER}))
    assert {t.id for t in customer.list_tickets(ListQuery(user=CUSTOMER, scope="all"))} == {mine, for_lead}
    assert [t.id for t in customer.list_tickets(ListQuery(user=CUSTOMER))] == [mine]
    with pytest.raises(AuthError):
        customer.list_tickets(ListQuery(user=CUSTOMER, scope="all", search="fire"))  # needs JQL search
    shown = customer.get(mine)
    assert shown.requester == CUSTOMER and shown.priority is None  # no platform fields for a customer
    assert customer.reply(mine, Reply("thanks", CUSTOMER)).status == "open"


def test_reply_sends_public_every_time(server, backend):
    key = backend.create(new()).ticket.id
    _, _, sent = counted(server, lambda: backend.reply(key, Reply("internal", ME, public=False)))
    _, _, sent2 = counted(server, lambda: backend.reply(key, Reply("public", ME)))
    comment = r"/request/[^/]+/comment$"
    assert bodies(sent, "POST", comment) == [{"body": "internal", "public": False}]
    assert bodies(sent2, "POST", comment) == [{"body": "public", "public": True}]


def test_a_closed_request_is_final_and_nothing_is_sent(server, backend, tmp_path):
    key = backend.create(new()).ticket.id
    backend.close(key)
    f = tmp_path / "a.txt"
    f.write_text("x")
    before = server.count()
    for call in (
        lambda: backend.reply(key, Reply("hello", ME)),
        lambda: backend.reply(key, Reply("file", ME, attachments=[FileUpload(f, "a.txt", 1, "text/plain")])),
        lambda: backend.update_cc(key, [LEAD], []),
        lambda: backend.solve(key),
    ):
        with pytest.raises(RefusedError):
            call()
    assert backend.close(key).changed is False  # nothing to do: not a refusal, nothing sent
    assert not [r for r in server.requests[before:] if r.method in WRITES]
    assert backend.get(key).status == "closed"


def test_exit_5_through_the_cli_for_a_closed_request(jsm_harness):
    key = cli(jsm_harness, "create", "--subject", "s", "--body", "b").out.strip()
    assert cli(jsm_harness, "close", key).code == 0
    refused = cli(jsm_harness, "reply", key, "--body", "hello")
    assert refused.code == 5 and "closed" in refused.err


# -- people -----------------------------------------------------------------------------------


def test_participants_are_account_ids_with_colons_sent_as_is(server, backend):
    assert ":" in ACCOUNT_IDS[CUSTOMER] and ":" in ACCOUNT_IDS[LEAD]
    result, _, sent = counted(server, lambda: backend.create(new(requester=CUSTOMER, cc=[LEAD])))
    [body] = bodies(sent, "POST", CREATE)
    assert body["raiseOnBehalfOf"] == ACCOUNT_IDS[CUSTOMER]
    assert body["requestParticipants"] == [ACCOUNT_IDS[LEAD]]
    assert body["serviceDeskId"] == "1" and body["requestTypeId"] == "10"
    assert result.ticket.requester == CUSTOMER and result.ticket.cc == [LEAD]
    key = result.ticket.id
    cc, _, sent = counted(server, lambda: backend.update_cc(key, [DEV], [LEAD]))
    assert cc == [DEV]
    assert bodies(sent, "DELETE", r"/participant$") == [{"accountIds": [ACCOUNT_IDS[LEAD]]}]
    searches = [r for r in sent if r.path == "/rest/api/3/user/search"]
    assert all("username" not in r.query for r in searches)
    # a customer as requester, lead and dev by account id with and without ':'
    listed = backend.list_tickets(ListQuery(user=ME, scope="all", requester=CUSTOMER))
    assert [t.id for t in listed] == [key]


def test_an_unknown_email_is_invalid_input_before_the_create(server, backend):
    with pytest.raises(InvalidInputError, match="nobody@example.com"):
        backend.create(new(cc=["nobody@example.com"]))
    assert server.count("POST", CREATE) == 0


# -- search -----------------------------------------------------------------------------------


def test_the_removed_search_endpoint_is_never_called(server, backend):
    key = backend.create(new(dedupe_key="k")).ticket.id
    backend.create(new(dedupe_key="k"))
    backend.list_tickets(ListQuery(user=ME, scope="all", search="fire", statuses=None, sort="priority"))
    backend.list_tickets(ListQuery(user=ME, since=datetime.now(timezone.utc) - timedelta(hours=1)))
    list(backend.export())
    backend.get(key)
    assert server.count(None, r"^/rest/api/[23]/search$") == 0
    assert server.count("GET", r"^/rest/api/3/search/jql$") >= 4
    assert server.count("GET", r"^/rest/api/2/search/jql$") == 1  # export: v2 (wiki text)


def test_search_words_are_escaped_not_operators(server, backend):
    a = backend.create(new(subject="C++ build [nightly] fails", body="exit code: -1")).ticket.id
    backend.create(new(subject="other", body="nothing"))
    assert [t.id for t in backend.list_tickets(ListQuery(user=ME, search="c++ [nightly]"))] == [a]
    assert backend.list_tickets(ListQuery(user=ME, search='"quoted" OR nothing')) == []
    with pytest.raises(InvalidInputError):
        backend.list_tickets(ListQuery(user=ME, search="the a"))


def test_dedupe_finds_a_request_this_run_created_despite_the_index_lag(server, backend):
    server.index_lag = 60  # search sees nothing for a minute, except reconcileIssues
    first = backend.create(new(dedupe_key="ci nightly/#1")).ticket
    assert first.external_id == "ci nightly/#1"
    again = backend.create(new(body="again", dedupe_key="ci nightly/#1"))
    assert again.created is False and again.ticket.id == first.id
    searches = [r for r in server.requests if r.path == "/rest/api/3/search/jql"]
    assert searches[-1].query["reconcileIssues"] == [str(server.issues[first.id].id)]


# -- errors ---------------------------------------------------------------------------------


def test_a_wrong_token_exits_7_and_never_shows_it(jsm_harness):
    result = cli(jsm_harness, "list", env={"JSM_TEST_TOKEN": "wrong-token-value"})
    assert result.code == 7 and "401" in result.err
    basic = base64.b64encode(f"{ME}:wrong-token-value".encode()).decode()
    assert "wrong-token-value" not in result.err and basic not in result.err


def test_401_is_an_auth_error(jsm_harness, monkeypatch):
    monkeypatch.setenv("JSM_TEST_TOKEN", "not-the-token")
    with pytest.raises(AuthError):
        backend_for(jsm_harness).get("SUP-1")


def test_429_beyond_the_budget_exits_8(jsm_harness, server):
    server.inject(status=429, retry_after=30, times=5)  # longer than max_retry_wait (1 s)
    result = cli(jsm_harness, "list")
    assert result.code == 8 and "rate limit" in result.err and "30" in result.err


def test_429_within_the_budget_is_retried(server, backend):
    server.inject(status=429, retry_after=0, times=2)
    assert backend.list_tickets(ListQuery(user=ME)) == []


def test_429_on_every_try_is_a_rate_limit_error(server, backend):
    server.inject(status=429, retry_after=1, times=100)
    with pytest.raises(RateLimitedError):
        backend.get("SUP-1")


def test_server_errors_never_show_headers_or_library_text(server, backend):
    key = backend.create(new()).ticket.id
    server.inject(match=r"^POST .*/comment$", status=500)
    with pytest.raises(UnavailableError) as err:
        backend.reply(key, Reply("hello", ME))
    text = err.value.message + (err.value.hint or "")
    assert "JiraError" not in text and "headers" not in text and JSM_TOKEN not in text


def sd_error(message: str) -> bytes:
    """A servicedeskapi error body (ErrorResponse)."""
    return json.dumps({"errorMessage": message, "i18nErrorMessage": {"i18nKey": "sd.error", "parameters": []}}).encode()


def test_4xx_answers_follow_the_remote_backends_table(jsm_harness, server, backend, tmp_path):
    """RemoteBackend's one table (backends/remote.py) with JSM's error texts: a 409 on a write to
    a request is a conflict with its state (exit 5); a 409 elsewhere (an upload) and a 410 are
    exit 8; 400, 422 and 413 are invalid input (exit 6). Before, any 409 was exit 5 and a 413 exit 8."""
    key = backend.create(new()).ticket.id
    log = tmp_path / "a.log"
    log.write_text("log")
    cases = [
        (r"^POST /rest/servicedeskapi/request/[^/]+/comment$", 409, ["reply", key, "--body", "b"], 5),
        (r"^POST /rest/servicedeskapi/request/[^/]+/participant$", 409, ["cc", key, "--add", LEAD], 5),
        (r"^POST /rest/servicedeskapi/servicedesk/1/attachTemporaryFile$", 409, ["attach", key, str(log)], 8),
        (r"^POST /rest/servicedeskapi/servicedesk/1/attachTemporaryFile$", 413, ["attach", key, str(log)], 6),
        (r"^POST /rest/servicedeskapi/request/[^/]+/comment$", 400, ["reply", key, "--body", "b"], 6),
        (r"^POST /rest/servicedeskapi/request/[^/]+/comment$", 422, ["reply", key, "--body", "b"], 6),
        (r"^GET /rest/servicedeskapi/request/[^/]+$", 410, ["show", key], 8),
    ]
    for match, status, command, code in cases:
        server.faults.clear()
        server.inject(match=match, status=status, body=sd_error(f"told {status}"))
        result = cli(jsm_harness, *command)
        assert result.code == code, (status, command, result.err)
        [error, *_] = result.err.splitlines()
        assert f"told {status}" in error and "Jira Service Management" in error, error
        if code == 5:
            assert key in error and "conflicts with" in error, error
    assert server.issues[key].comments == [] and server.issues[key].participants == []


def test_a_platform_error_text_is_shown_and_bounded(server, backend):
    key = backend.create(new()).ticket.id
    body = {"errorMessages": ["Transition failed", "N" * 5_000], "errors": {"resolution": "Resolution is required."}}
    server.inject(match=r"^POST /rest/api/3/issue/[^/]+/transitions$", status=400, body=json.dumps(body).encode())
    with pytest.raises(InvalidInputError) as err:
        backend.solve(key)
    assert err.value.message.startswith("Jira Service Management refused to make the transition: Transition failed")
    assert len(err.value.message) < 400


def test_an_answer_of_the_wrong_shape_is_exit_8_not_a_crash(jsm_harness, server):
    server.inject(kind="malformed", match=r"^GET /rest/servicedeskapi/request/", body=b"[]")
    result = cli(jsm_harness, "show", "SUP-1")
    assert result.code == 8 and "malformed" in result.err
    server.inject(kind="malformed", match=r"^GET /rest/servicedeskapi/request/", body=b'{"issueKey": ')
    assert cli(jsm_harness, "show", "SUP-1").code == 8
    server.inject(kind="html")
    assert cli(jsm_harness, "list").code == 7  # a sign-in page


def test_unknown_and_malformed_ids_are_not_found(backend):
    with pytest.raises(NotFoundError):
        backend.get("SUP-999999")
    with pytest.raises(NotFoundError) as err:
        backend.get("12; DROP")
    assert "issue keys" in err.value.hint


def test_the_constructor_touches_nothing_and_a_missing_token_is_a_config_error(jsm_harness, server, monkeypatch):
    monkeypatch.delenv("JSM_TEST_TOKEN")
    b = backend_for(jsm_harness)
    assert server.count() == 0
    with pytest.raises(ConfigError, match="JSM_TEST_TOKEN"):
        b.get("SUP-1")
    assert server.count() == 0


def test_a_service_desk_key_is_resolved_once_per_run(jsm_harness, server):
    b = backend_for(jsm_harness, service_desk="SUP")
    key = b.create(new()).ticket.id
    b.list_tickets(ListQuery(user=ME))
    b.list_tickets(ListQuery(user=ME, scope="all"))
    b.get(key)
    assert server.count("GET", r"^/rest/servicedeskapi/servicedesk$") == 1
    with pytest.raises(ConfigError, match="NOPE"):
        backend_for(jsm_harness, service_desk="NOPE").list_tickets(ListQuery(user=ME))


# -- export -----------------------------------------------------------------------------------


def test_export_resumes_from_a_cursor_without_gaps_or_duplicates(server, backend):
    server.seed_requests(250, reporter=CUSTOMER)
    seen, cursor = [], None
    for item in backend.export():
        seen.append(item.ticket.id)
        cursor = item.cursor
        if len(seen) == 130:
            break
    rest = [item.ticket.id for item in backend_for_cursor(backend).export(cursor=cursor)]
    assert len(seen) + len(rest) == 250
    assert sorted(seen + rest, key=lambda k: int(k.split("-")[1])) == [f"SUP-{i}" for i in range(1, 251)]


def backend_for_cursor(backend):
    return JSMBackend(backend.profile)  # a new run


@pytest.mark.parametrize("field_list", ["readable", "denied"])
def test_export_gives_exactly_what_show_gives_for_each_request(jsm_harness, server, backend, tmp_path, field_list):
    """Export was once built from the v3 search result alone: its description was the lossy
    Atlassian Document ("line 1\n\nline 3"), and without the site's field list the request type and
    the participants were missing. Now it reads v2 pages (wiki text, as the servicedeskapi gives it)
    with the request type and participants fields and the embedded comments; a request with files
    has its comments read as `show` reads them (which comment a file came with), and without the
    field list each request is read as `show` reads it."""
    f = tmp_path / "trace.log"
    f.write_text("trace")
    upload = FileUpload(f, "trace.log", 5, "text/plain")
    described = "line 1\n\n\nline 3\n"
    key = backend.create(
        new(body=described, requester=CUSTOMER, cc=[LEAD], type="incident", priority="high", tags=["ops"])
    ).ticket.id
    backend.reply(key, Reply("internal", ME, public=False, attachments=[upload]))
    backend.reply(key, Reply("public", ME, cc=[DEV]))
    other = backend.create(new(subject="plain", attachments=[upload])).ticket.id
    backend.solve(other)
    talk = backend.create(new(subject="no files", body="a\n\n\nb", requester=CUSTOMER, cc=[DEV])).ticket.id
    backend.reply(talk, Reply("internal *wiki* {{code}}", ME, public=False))
    backend.reply(talk, Reply("public\n\n\nreply", ME))
    if field_list == "denied":  # a site whose field list this account may not read
        server.inject(status=403, match=r"^GET /rest/api/3/field", times=100)
    shown = [json.loads(cli(jsm_harness, "show", k, "--format", "json").out) for k in (key, other, talk)]
    assert shown[0]["type"] == "incident" and shown[0]["raw_type"] == "Technical"
    assert shown[0]["cc"] == [DEV, LEAD] and shown[0]["description"] == described
    assert [c["public"] for c in shown[2]["comments"]] == [True, False, True]
    before = server.count()
    exported = cli(jsm_harness, "export")
    assert exported.code == 0, exported.err
    assert [json.loads(line) for line in exported.out.splitlines()] == shown
    sent = [f"{r.method} {r.path}" for r in server.requests[before:]]
    if field_list == "readable":  # the desk, the field list, one page, the comments of the 2 with files
        assert sent == [  # the SLAs and the solved one's rating come in the page's SLA and Satisfaction fields
            "GET /rest/servicedeskapi/servicedesk/1",
            "GET /rest/api/3/field",
            "GET /rest/api/2/search/jql",
            f"GET /rest/servicedeskapi/request/{key}/comment",
            f"GET /rest/servicedeskapi/request/{other}/comment",
        ]
    else:  # the desk, the field list (denied), one page, then each request and its comments, and the
        # solved one's rating from GET feedback (no Satisfaction field known), as show reads it then
        assert len(sent) == 3 + 2 * len(shown) + 1, sent
        assert f"GET /rest/servicedeskapi/request/{other}/feedback" in sent


def test_export_since_and_a_bad_cursor(server, backend):
    old = datetime.now(timezone.utc) - timedelta(days=10)
    server.seed_requests(3, reporter=CUSTOMER, created=old, updated=old)
    recent = backend.create(new()).ticket.id
    assert [i.ticket.id for i in backend.export(since=datetime.now(timezone.utc) - timedelta(days=1))] == [recent]
    with pytest.raises(InvalidInputError):
        list(backend.export(cursor="not-a-cursor"))


def test_cli_export_prints_a_resume_line_that_resumes(jsm_harness, server):
    server.seed_requests(150, reporter=CUSTOMER)
    server.inject(match=r"^GET /rest/api/2/search/jql\?.*nextPageToken", status=500, times=10)
    failed = cli(jsm_harness, "export")
    assert failed.code == 8
    first = [json.loads(line)["id"] for line in failed.out.splitlines()]
    assert len(first) == 100
    cursor = re.search(r"--cursor=(\S+)", failed.err).group(1)
    server.faults.clear()
    resumed = cli(jsm_harness, "export", "--cursor", cursor)
    assert resumed.code == 0, resumed.err
    rest = [json.loads(line)["id"] for line in resumed.out.splitlines()]
    assert len(rest) == 50 and not set(first) & set(rest)


# -- the command line against the stand-in --------------------------------------------------------


def test_cli_commands_against_the_stand_in(jsm_harness, tmp_path):
    key = cli(
        jsm_harness,
        "create",
        "--subject",
        "Disk full",
        "--body",
        "df says 100%",
        "--type",
        "incident",
        "--priority",
        "high",
        "--cc",
        LEAD,
    ).out.strip()
    assert re.fullmatch(r"SUP-\d+", key)
    log = tmp_path / "df.txt"
    log.write_text("/dev/sda1 100%\n")
    assert cli(jsm_harness, "attach", key, str(log)).code == 0
    assert cli(jsm_harness, "cc", key, "--add", DEV).code == 0
    assert cli(jsm_harness, "reply", key, "--body", "cleaning up", "--status", "pending").code == 0
    shown = json.loads(cli(jsm_harness, "show", key, "--format", "json").out)
    assert shown["type"] == "incident" and shown["raw_type"] == "Technical" and shown["priority"] == "high"
    assert shown["status"] == "pending" and shown["raw_status"] == "Waiting for customer"
    assert shown["cc"] == sorted([LEAD, DEV]) and shown["url"].endswith(f"/portal/1/{key}")
    assert shown["comments"][1]["attachments"][0]["filename"] == "df.txt"
    assert shown["comments"][1]["body"] == "Attached: df.txt"
    assert cli(jsm_harness, "solve", key).code == 0
    assert cli(jsm_harness, "close", key).code == 0
    listed = json.loads(cli(jsm_harness, "list", "--status", "closed", "--format", "json").out)
    assert [t["id"] for t in listed] == [key]


# -- the spec -----------------------------------------------------------------------------------

# openapi-core parses a multipart body into an object, and the spec declares attachTemporaryFile's
# body as a binary string: its check cannot pass for any client. What is sent is checked by hand.
MULTIPART_SCHEMA = re.compile(r"attachTemporaryFile -> 201: <root>: \{.*\} is not of type 'string'")


def test_every_exchange_conforms_to_the_spec(jsm_harness, server, backend, tmp_path):
    from standins.spec import get_checker

    checker = get_checker("jsm")
    b = backend_for(jsm_harness, service_desk="SUP")
    key = b.create(new(requester=CUSTOMER, cc=[LEAD], type="incident", priority="urgent", dedupe_key="d")).ticket.id
    b.create(new(tags=["ops"], dedupe_key="d"))
    f = tmp_path / "trace.log"
    f.write_text("trace")
    b.reply(key, Reply("see log", ME, attachments=[FileUpload(f, "trace.log", 5, "text/plain")]))
    b.reply(key, Reply("internal", ME, public=False))
    b.update_cc(key, [DEV], [LEAD])
    b.update_cc(key, [], [])
    b.get(key)
    b.list_tickets(ListQuery(user=ME, type="question", statuses=None))
    b.list_tickets(ListQuery(user=ME, scope="all", search="log"))
    b.solve(key, body="done")
    b.reply(key, Reply("reopen", ME))
    b.close(key)
    list(b.export())
    problems = [
        p for p in checker.problems(server.exchanges, ignore=("unknown-operation",)) if not MULTIPART_SCHEMA.search(p)
    ]
    assert problems == []
    [upload] = [r for r in server.requests if r.path.endswith("/attachTemporaryFile")]
    assert upload.content_type == "multipart/form-data" and upload.headers["x-atlassian-token"] == "no-check"
    assert b'name="file"; filename="trace.log"' in upload.body
    sd = [ex for ex in server.exchanges if ex.request.path.startswith("/rest/servicedeskapi")]
    assert len(sd) > 20


# -- the mapping, without a server --------------------------------------------------------------


def profile(**settings) -> Profile:
    return Profile("t", "jsm", {"url": "https://x.atlassian.net", "email": ME, "service_desk": "1", **settings})


def test_status_mapping_defaults_and_overrides():
    w = Workflow(profile())
    assert w.status("Waiting for support", "NEW") == "open"
    assert w.status("waiting for customer") == "pending"
    assert w.status("Resolved", "DONE") == "solved"
    assert w.status("Canceled", "done") == "closed"
    assert w.status("Done", "DONE") == "solved"  # the category fallback
    assert w.status("In progress", "indeterminate") == "open"
    w = Workflow(profile(statuses={"hold": ["Escalated"], "closed": "Closed"}))
    assert w.status("Escalated") == "hold" and w.status("Canceled", "DONE") == "solved"
    with pytest.raises(ConfigError):
        Workflow(profile(statuses={"archived": ["X"]}))
    with pytest.raises(ConfigError):
        Workflow(profile(transitions={"escalate": "X"}))


def test_jql_for_status_sets():
    w = Workflow(profile())
    assert w.jql_statuses(None) is None
    assert w.jql_statuses(("closed",)) == 'status in ("Closed", "Canceled")'
    solved = w.jql_statuses(("solved",))
    assert '"Resolved"' in solved and "statusCategory = Done" in solved


def test_transition_picking_by_target_status_when_no_name_matches():
    w = Workflow(profile())
    done = Transition("7", "Finish", to_name="Resolved", to_category="done", platform=True)
    assert w.pick("solve", "SUP-1", [Transition("1", "Other", "Open", "new", platform=True), done]) is done
    configured = Workflow(profile(transitions={"solve": "Resolve this issue"}))
    with pytest.raises(RefusedError, match="'Finish'"):
        configured.pick("solve", "SUP-1", [done])


def test_jql_strings_and_text_terms_are_escaped():
    assert jql_string('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'
    words = ListQuery(user=ME, search="C++ the [x] OR").resolved().words
    assert jql_text_terms(words) == ['text ~ "C\\\\+\\\\+"', 'text ~ "\\\\[x\\\\]"']


@pytest.mark.parametrize("key", ["ci-nightly", "ci nightly/#1", "Ünïcode_key", "a_5f_b"])
def test_dedupe_labels_round_trip_without_spaces(key):
    label = dedupe_label(key)
    assert not re.search(r"\s", label) and dedupe_key_of(label) == key
    assert dedupe_key_of("ops") is None
