"""JSM: edit (the issue's fields), reopen and solve/close with a full comment, and download
(attachment content, with the credentials rule against a media host on a second loopback host).

Everything runs over real HTTP against the JSM stand-in (tests/standins/jsm.py); the requests
each verb makes are counted and printed (README's per-command table).
"""

from __future__ import annotations

import json
import re

import pytest
import test_http_hardening
from harness import CUSTOMER, DEV, LEAD
from harness_jsm import JSM_TOKEN, backend_for, new_request
from standins.jsm import ACCOUNT_IDS

from tixcli.errors import AuthError, InvalidInputError, RefusedError, UnavailableError
from tixcli.model import FileUpload, Reply, TicketChange

ME = "agent@example.com"  # the profile's user, the stand-in's one agent (assignable)
EDIT = r"^/rest/api/3/issue/[^/]+$"
TRANSITIONS = r"^/rest/api/3/issue/[^/]+/transitions$"
CONTENT = r"^/rest/api/3/attachment/content/\d+$"
WRITES = ("POST", "PUT", "DELETE")
COUNTS: dict[str, int] = {}
tls_cert = test_http_hardening.tls_cert  # the fixture: a self-signed certificate for 127.0.0.1
# Same request types as the harness, plus one of General's issue type (Service Request).
TYPES = {"question": "General", "task": "Get IT help", "incident": "Technical", "default": "General"}


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    """Print the counts measured here for README's table (run with -s to see them)."""
    yield
    if COUNTS:
        print("\nJSM requests per command (edit, reopen, download):", json.dumps(COUNTS, indent=1))


@pytest.fixture
def server(jsm_harness):
    return jsm_harness.server


@pytest.fixture
def backend(jsm_harness):
    b = backend_for(jsm_harness, request_types=TYPES)
    yield b
    b.shutdown()


def fresh(jsm_harness):
    """A backend as a new command run gets it: nothing cached."""
    return backend_for(jsm_harness, request_types=TYPES)


def counted(server, call):
    before = server.count()
    result = call()
    return result, server.count() - before, server.requests[before:]


def bodies(requests, method, path):
    return [r.json for r in requests if r.method == method and re.search(path, r.path)]


def upload(tmp_path, name="build.log", data=b"line 1\nline 2\n"):
    f = tmp_path / name
    f.write_bytes(data)
    return FileUpload(f, name, len(data), "text/plain")


# -- edit ---------------------------------------------------------------------------------------


def test_edit_is_one_issue_edit_of_the_named_fields(jsm_harness, server, backend):
    key = backend.create(new_request(tags=["printer", "floor-2"], dedupe_key="ci-7")).ticket.id
    server.issues[key].labels.append("set-by-someone-else")  # meanwhile, in Jira
    change = TicketChange(subject="Printer on fire, 2nd floor", priority="high", assignee=ME)
    change.add_tags, change.remove_tags = ["urgent-fix"], ["floor-2"]
    b = fresh(jsm_harness)
    result, n, sent = counted(server, lambda: b.edit(key, change))
    assert result.changed is True
    assert bodies(sent, "PUT", EDIT) == [
        {
            "fields": {
                "summary": "Printer on fire, 2nd floor",
                "priority": {"name": "High"},
                "assignee": {"accountId": ACCOUNT_IDS[ME]},
            },
            "update": {"labels": [{"remove": "floor-2"}, {"add": "urgent-fix"}]},
        }
    ]
    issue = server.issues[key]
    assert (issue.summary, issue.priority, issue.assignee) == ("Printer on fire, 2nd floor", "High", ACCOUNT_IDS[ME])
    assert sorted(issue.labels) == ["printer", "set-by-someone-else", "tixcli-dedupe-ci-7", "urgent-fix"]
    ticket = result.ticket
    assert (ticket.subject, ticket.priority, ticket.assignee) == ("Printer on fire, 2nd floor", "high", ME)
    assert ticket.external_id == "ci-7" and "tixcli-dedupe-ci-7" not in ticket.tags
    assert ticket.requester == ME and ticket.type == "question" and ticket.status == "open"  # the rest stays
    assert not [r for r in sent if r.method in WRITES and not re.search(EDIT, r.path)]
    COUNTS["edit --subject --priority --assignee --add-tag --remove-tag"] = n
    assert n <= 7, [f"{r.method} {r.path}" for r in sent]  # get 3, user search 1, PUT 1, read back 2


def test_edit_with_the_current_values_sends_no_write(server, backend):
    key = backend.create(new_request(priority="high")).ticket.id
    before = server.count()
    result = backend.edit(key, TicketChange(subject="Printer on fire", priority="high"))
    assert result.changed is False
    assert not [r for r in server.requests[before:] if r.method in WRITES]


def test_unassign_sends_a_null_assignee(jsm_harness, server, backend):
    key = backend.create(new_request()).ticket.id
    backend.edit(key, TicketChange(assignee=ME))
    assert server.issues[key].assignee == ACCOUNT_IDS[ME]
    result, n, sent = counted(server, lambda: fresh(jsm_harness).edit(key, TicketChange(unassign=True)))
    assert bodies(sent, "PUT", EDIT) == [{"fields": {"assignee": None}}]
    assert server.issues[key].assignee is None and result.ticket.assignee is None
    COUNTS["edit --unassign"] = n


def test_the_requester_is_the_reporter_by_account_id(server, backend):
    key = backend.create(new_request()).ticket.id
    result, _, sent = counted(server, lambda: backend.edit(key, TicketChange(requester=CUSTOMER)))
    assert bodies(sent, "PUT", EDIT) == [{"fields": {"reporter": {"accountId": ACCOUNT_IDS[CUSTOMER]}}}]
    assert server.issues[key].reporter == ACCOUNT_IDS[CUSTOMER] and result.ticket.requester == CUSTOMER


def test_the_requester_without_the_modify_reporter_permission_is_exit_7_naming_it(server, backend):
    key = backend.create(new_request()).ticket.id
    server.reporter_editable = False  # Jira: the field is then not on the edit screen (400)
    with pytest.raises(AuthError, match="requester") as err:
        backend.edit(key, TicketChange(requester=CUSTOMER, subject="new subject"))
    assert err.value.exit_status == 7 and "Modify Reporter" in (err.value.hint or "")
    issue = server.issues[key]
    assert issue.reporter == ACCOUNT_IDS[ME] and issue.summary == "Printer on fire"  # nothing applied


def test_a_403_on_the_edit_is_exit_7_naming_the_fields(jsm_harness, server, backend):
    key = backend.create(new_request()).ticket.id
    server.act_as(ME, agent=False, token=JSM_TOKEN)  # the account loses its agent licence
    with pytest.raises(AuthError, match=r"subject, priority of SUP-\d+.*403") as err:
        fresh(jsm_harness).edit(key, TicketChange(subject="mine now", priority="low"))
    assert err.value.exit_status == 7
    assert server.issues[key].summary == "Printer on fire"


def test_the_type_changes_to_a_request_type_of_the_same_issue_type(jsm_harness, server, backend):
    key = backend.create(new_request(type="question")).ticket.id  # General: a Service Request
    result, n, sent = counted(server, lambda: fresh(jsm_harness).edit(key, TicketChange(type="task")))
    assert bodies(sent, "PUT", EDIT) == [{"fields": {"customfield_10010": "13"}}]  # Get IT help
    assert server.issues[key].request_type_id == "13"
    assert (result.ticket.type, result.ticket.raw_type) == ("task", "Get IT help")
    COUNTS["edit --type"] = n


def test_a_type_of_another_issue_type_is_refused_naming_jsm_before_sending(server, backend):
    key = backend.create(new_request(type="question")).ticket.id
    before = server.count()
    with pytest.raises(InvalidInputError, match="Jira Service Management.*same issue type") as err:
        backend.edit(key, TicketChange(type="incident"))  # Technical: an Incident
    assert err.value.exit_status == 6
    assert not [r for r in server.requests[before:] if r.method in WRITES]
    assert server.issues[key].request_type_id == "10"


def test_without_the_request_type_field_the_type_is_refused(jsm_harness, server):
    key = fresh(jsm_harness).create(new_request()).ticket.id
    server.tamper = lambda request, data: [] if request.path.endswith("/field") else data
    before = server.count()
    with pytest.raises(InvalidInputError, match="Jira Service Management") as err:
        fresh(jsm_harness).edit(key, TicketChange(type="task"))
    assert err.value.exit_status == 6
    assert not [r for r in server.requests[before:] if r.method in WRITES]


def test_a_reserved_dedupe_label_is_not_a_tag(server, backend):
    key = backend.create(new_request()).ticket.id
    change = TicketChange()
    change.add_tags = ["tixcli-dedupe-other"]
    before = server.count()
    with pytest.raises(InvalidInputError, match="reserved"):
        backend.edit(key, change)
    assert not [r for r in server.requests[before:] if r.method in WRITES]


def test_an_unassignable_user_is_exit_6_with_jiras_text(server, backend):
    key = backend.create(new_request()).ticket.id
    with pytest.raises(InvalidInputError, match="cannot be assigned"):
        backend.edit(key, TicketChange(assignee=CUSTOMER))  # a customer is not an agent


def test_create_with_an_assignee_sets_it_in_the_edit_after_the_create(jsm_harness, server):
    new = new_request(priority="high")
    new.assignee = ME  # NewTicket.assignee (create --assignee); set here also where the model lacks it
    ticket, n, sent = counted(server, lambda: fresh(jsm_harness).create(new).ticket)
    assert bodies(sent, "PUT", EDIT) == [
        {"fields": {"priority": {"name": "High"}, "assignee": {"accountId": ACCOUNT_IDS[ME]}}}
    ]
    assert ticket.assignee == ME and server.issues[ticket.id].assignee == ACCOUNT_IDS[ME]
    COUNTS["create --assignee (+ --priority, type without the field)"] = n
    assert n == 7  # create's 5, the user search, the issue edit


def test_create_with_an_unknown_assignee_creates_nothing(jsm_harness, server):
    new = new_request()
    new.assignee = "nobody@example.com"
    with pytest.raises(InvalidInputError, match="nobody@example.com"):
        fresh(jsm_harness).create(new)
    assert server.issue_count() == 0


# -- reopen, and solve / close with a full comment ----------------------------------------------


def test_reopen_uses_the_configured_reopen_transition(jsm_harness, server, backend):
    key = backend.create(new_request()).ticket.id
    backend.solve(key)
    result, n, sent = counted(server, lambda: fresh(jsm_harness).reopen(key))
    assert result.changed is True and result.status == "open" and result.solved_at is None
    assert bodies(sent, "POST", TRANSITIONS) == [{"transition": {"id": "51"}}]  # "Reopen"
    assert not bodies(sent, "POST", r"/comment$")
    COUNTS["reopen"] = n
    assert n == 4


def test_reopen_from_pending_takes_the_next_configured_name(server, backend):
    key = backend.create(new_request()).ticket.id
    backend.reply(key, Reply("which printer?", ME, status="pending"))
    result, _, sent = counted(server, lambda: backend.reopen(key))
    assert result.status == "open" and server.issues[key].status == "Waiting for support"
    assert bodies(sent, "POST", TRANSITIONS) == [{"transition": {"id": "31"}}]  # "Back to support"


def test_reopen_with_an_internal_comment_files_and_ccs(jsm_harness, server, backend, tmp_path):
    key = backend.create(new_request()).ticket.id
    backend.solve(key)
    comment = Reply("reopening: see log", ME, public=False, cc=[LEAD], attachments=[upload(tmp_path)])
    result, n, sent = counted(server, lambda: fresh(jsm_harness).reopen(key, comment))
    assert result.status == "open"
    [attached] = bodies(sent, "POST", r"/request/[^/]+/attachment$")
    assert attached["public"] is False and attached["additionalComment"] == {"body": "reopening: see log"}
    assert bodies(sent, "POST", TRANSITIONS) == [{"transition": {"id": "51"}}]
    issue = server.issues[key]
    assert issue.comments[-1].public is False and issue.attachments[-1].filename == "build.log"
    assert ACCOUNT_IDS[LEAD] in issue.participants
    shown = backend.get(key)
    assert (shown.comments[-1].body, shown.comments[-1].public) == ("reopening: see log", False)
    assert [a.filename for a in shown.comments[-1].attachments] == ["build.log"] and LEAD in shown.cc
    COUNTS["reopen --internal --body --attach (1 file) --cc"] = n


def test_reopen_with_a_public_comment_and_a_site_rule_that_reopens_on_comment(jsm_harness, server, backend):
    key = backend.create(new_request()).ticket.id
    backend.solve(key)
    server.reopen_on_comment = True
    result, n, sent = counted(server, lambda: fresh(jsm_harness).reopen(key, Reply("still broken", ME)))
    assert result.status == "open"
    assert bodies(sent, "POST", r"/comment$") == [{"body": "still broken", "public": True}]
    assert not bodies(sent, "POST", TRANSITIONS)  # the site already reopened it
    COUNTS["reopen --body (a site rule reopened it)"] = n


def test_reopen_a_closed_request_is_refused_and_sends_nothing(server, backend):
    key = backend.create(new_request()).ticket.id
    backend.close(key)
    before = server.count()
    with pytest.raises(RefusedError):
        backend.reopen(key, Reply("again", ME))
    assert not [r for r in server.requests[before:] if r.method in WRITES]


def test_solve_with_an_internal_comment_files_and_ccs(jsm_harness, server, backend, tmp_path):
    key = backend.create(new_request()).ticket.id
    comment = Reply("fixed: new fuser", ME, public=False, cc=[DEV], attachments=[upload(tmp_path, "fix.txt")])
    result, n, sent = counted(server, lambda: fresh(jsm_harness).solve(key, comment=comment))
    assert result.status == "solved" and result.solved_at
    [transition] = bodies(sent, "POST", TRANSITIONS)
    assert transition == {"transition": {"id": "41"}, "fields": {"resolution": {"name": "Done"}}}
    issue = server.issues[key]
    assert (issue.status, issue.resolution) == ("Resolved", "Done")
    assert issue.comments[-1].public is False and issue.attachments[-1].filename == "fix.txt"
    assert ACCOUNT_IDS[DEV] in issue.participants
    COUNTS["solve --internal --body --attach (1 file) --cc"] = n


def test_close_with_a_public_comment(jsm_harness, server, backend):
    key = backend.create(new_request()).ticket.id
    result, n, sent = counted(server, lambda: fresh(jsm_harness).close(key, Reply("closing: duplicate", ME)))
    assert result.status == "closed"
    assert bodies(sent, "POST", r"/comment$") == [{"body": "closing: duplicate", "public": True}]
    assert bodies(sent, "POST", TRANSITIONS) == [{"transition": {"id": "61"}}]  # "Close request"
    assert server.issues[key].comments[-1].body == "closing: duplicate"
    COUNTS["close --body"] = n


# -- download -----------------------------------------------------------------------------------

DATA = b"\x00binary\xffbytes\n" * 1000


def attached(backend, tmp_path, data=DATA):
    key = backend.create(new_request(attachments=[upload(tmp_path, "dump.bin", data)])).ticket.id
    [attachment] = [a for c in backend.get(key).comments for a in c.attachments]
    return key, attachment


def test_download_reads_the_bytes_from_the_site_itself(jsm_harness, server, backend, tmp_path):
    key, attachment = attached(backend, tmp_path)
    b = fresh(jsm_harness)
    before = server.count()
    found, chunks = b.download(key, attachment.id)
    data = b"".join(chunks)
    assert data == DATA and found.size == len(DATA) and found.filename == "dump.bin"
    sent = server.exchanges[before:]
    [content] = [ex for ex in sent if re.search(CONTENT, ex.request.path)]
    assert content.request.query == {"redirect": ["false"]} and content.response.status == 200
    assert content.request.headers["authorization"].startswith("Basic ")
    assert server.media.seen == []
    COUNTS["download (1 attachment)"] = len(sent)
    assert len(sent) == 4  # the request, the issue, the comments; the bytes


def test_without_redirect_false_the_site_redirects_to_its_media_host(server, backend, tmp_path):
    """The stand-in does what live Jira does: 303 to another host (checked with the client's own
    download, which follows it: the media host here is plain http, so it is refused)."""
    key, attachment = attached(backend, tmp_path)
    with pytest.raises(UnavailableError, match="without https"):
        b"".join(backend.http.download(f"rest/api/3/attachment/content/{attachment.id}", len(DATA)))
    [ex] = [ex for ex in server.exchanges if re.search(CONTENT, ex.request.path)]
    assert ex.response.status == 303 and ex.response.headers["Location"].startswith(server.media.url)
    assert server.media.seen == []


def test_a_redirect_to_another_host_over_plain_http_is_refused_exit_8(server, backend, tmp_path):
    key, attachment = attached(backend, tmp_path)
    server.media_redirect_always = True  # a site (or a proxy) that redirects anyway
    with pytest.raises(UnavailableError, match=r"127\.0\.0\.1:\d+ without https") as err:
        _, chunks = backend.download(key, attachment.id)
        b"".join(chunks)
    assert err.value.exit_status == 8
    assert server.media.seen == []  # nothing, so no credentials, went there


def test_a_redirect_to_an_https_media_host_gets_the_bytes_without_credentials(
    server,
    backend,
    tmp_path,
    tls_cert,
    monkeypatch,
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_cert[0])
    media = server.serve_media_over_https(tls_cert)
    key, attachment = attached(backend, tmp_path)
    server.media_redirect_always = True
    _, chunks = backend.download(key, attachment.id)
    assert b"".join(chunks) == DATA
    [(path, headers)] = media.seen
    assert path.startswith("/file/") and "authorization" not in headers and "cookie" not in headers
    [content] = [r for r in server.requests if re.search(CONTENT, r.path)]
    assert content.headers["authorization"].startswith("Basic ")  # the own origin had them


def test_a_download_larger_than_the_attachments_size_is_refused(server, backend, tmp_path):
    key, attachment = attached(backend, tmp_path)

    def shrink(request, data):
        def walk(node):
            if isinstance(node, dict):
                if "filename" in node and "size" in node:
                    node["size"] = 10
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(data)
        return data

    server.tamper = shrink  # the site says 10 bytes; the content is 15,000
    with pytest.raises(UnavailableError, match="larger than") as err:
        _, chunks = backend.download(key, attachment.id)
        b"".join(chunks)
    assert err.value.exit_status == 8


def test_an_internal_attachment_of_another_request_is_not_found(server, backend, tmp_path):
    from tixcli.errors import NotFoundError

    _, attachment = attached(backend, tmp_path)
    other = backend.create(new_request()).ticket.id
    with pytest.raises(NotFoundError):
        backend.download(other, attachment.id)  # not on this request


def test_every_exchange_conforms_to_the_spec(jsm_harness, server, backend, tmp_path):
    from standins.spec import get_checker

    key = backend.create(new_request(tags=["a"])).ticket.id
    backend.edit(key, TicketChange(subject="edited", assignee=ME, requester=CUSTOMER, add_tags=["b"]))
    backend.solve(key, comment=Reply("done", ME, public=False, cc=[DEV], attachments=[upload(tmp_path)]))
    backend.reopen(key, Reply("again", ME))
    backend.close(key, Reply("bye", ME))
    problems = get_checker("jsm").problems(server.exchanges, ignore=("unknown-operation",))
    assert [p for p in problems if "multipart" not in p] == []
