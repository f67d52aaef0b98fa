"""Zendesk edit, assign, reopen and download (issue 10), over real HTTP against the stand-in.

- edit is one ticket update (PUT /api/v2/tickets/{id}) carrying only the fields named; people go
  by id (looked up by email), the group by id (by name), tags as the whole new list; Zendesk's
  one side effect: a new ticket that gets an assignee becomes open;
- reopen, solve and close send the status with the whole comment (public or internal, uploads,
  CCs) in one update;
- download reads the attachment's content_url on the account's own host, which answers with a
  302 to a temporary URL on another host (a second loopback server, over TLS); the credentials
  never reach that host.
"""

from __future__ import annotations

import base64
import json

import pytest
from cli import run
from harness import CUSTOMER, DEV, LEAD
from harness_zendesk import AGENT, TOKEN
from standins.zendesk import FileHost
from test_http_hardening import tls_cert  # noqa: F401 - a fixture: a self-signed cert for 127.0.0.1
from test_zendesk_backend import backend_for, counted, new, upload_file

from tixcli.errors import InvalidInputError, NotFoundError, RefusedError, UnavailableError
from tixcli.model import Reply, TicketChange

WRITES = ("POST", "PUT", "DELETE")


@pytest.fixture
def server(zendesk_harness):
    return zendesk_harness.server


@pytest.fixture
def backend(zendesk_harness):
    b = backend_for(zendesk_harness)
    yield b
    b.shutdown()


@pytest.fixture
def fresh(zendesk_harness):
    """A new backend per call (empty caches: what one command run starts from)."""
    made = []

    def make():
        made.append(backend_for(zendesk_harness))
        return made[-1]

    yield make
    for b in made:
        b.shutdown()


@pytest.fixture
def file_host(server, tls_cert, monkeypatch):  # noqa: F811 - the imported fixture
    """Content URLs redirect to a second loopback server over TLS (its certificate trusted)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_cert[0])
    host = FileHost(tls_cert)
    server.file_host = host
    yield host
    server.file_host = None
    host.stop()


def make_agent(server, email: str) -> int:
    with server.lock:
        uid = server.user_id(email)
        server.users[uid]["role"] = "agent"
    return uid


def puts(sent) -> list[dict]:
    """The bodies of the ticket updates among the requests sent."""
    return [r.json["ticket"] for r in sent if r.method == "PUT"]


def writes(sent) -> list[str]:
    return [f"{r.method} {r.path}" for r in sent if r.method in WRITES]


# -- edit ------------------------------------------------------------------------------------


def test_edit_sends_the_named_fields_in_one_update_and_keeps_the_rest(server, backend):
    lead = make_agent(server, LEAD)
    ticket = backend.create(new(requester=AGENT, cc=[DEV], tags=["printer"], priority="low", type="question")).ticket
    assert ticket.status == "new"
    change = TicketChange(
        subject="Printer on fire again",
        priority="urgent",
        type="incident",
        group="Support",
        requester=CUSTOMER,
        assignee=LEAD,
        add_tags=["fire"],
        remove_tags=["printer"],
    )
    result, _, sent = counted(server, lambda: backend.edit(ticket.id, change))
    assert result.changed is True
    (body,) = puts(sent)
    customer = server.user_id(CUSTOMER)
    group = next(iter(server.groups))
    assert body == {
        "subject": "Printer on fire again",
        "priority": "urgent",
        "type": "incident",
        "group_id": group,
        "requester_id": customer,
        "assignee_id": lead,
        "tags": ["fire"],
    }
    assert writes(sent) == [f"PUT /api/v2/tickets/{ticket.id}.json"]
    stored = server.tickets[int(ticket.id)]
    assert (stored["subject"], stored["priority"], stored["type"]) == ("Printer on fire again", "urgent", "incident")
    assert (stored["requester_id"], stored["assignee_id"], stored["group_id"]) == (customer, lead, group)
    assert stored["tags"] == ["fire"]
    shown = backend.get(ticket.id)
    assert (shown.requester, shown.assignee, shown.group, shown.tags) == (CUSTOMER, LEAD, "Support", ["fire"])
    # the documented side effect: a new ticket that gets an assignee is open; nothing else moved
    assert shown.status == result.status == "open"
    assert shown.cc == [DEV] and shown.description == ticket.description
    assert [c.body for c in shown.comments] == [ticket.description]


def test_edit_of_one_field_sends_that_field_only(server, backend):
    ticket = backend.create(new(tags=["a"], priority="high")).ticket
    _, _, sent = counted(server, lambda: backend.edit(ticket.id, TicketChange(subject="Renamed")))
    assert puts(sent) == [{"subject": "Renamed"}]
    shown = backend.get(ticket.id)
    assert (shown.subject, shown.priority, shown.tags, shown.status) == ("Renamed", "high", ["a"], "new")


def test_unassign_sends_null_and_clears_the_assignee(server, backend):
    lead = make_agent(server, LEAD)
    ticket = backend.create(new()).ticket
    backend.edit(ticket.id, TicketChange(assignee=LEAD))
    assert server.tickets[int(ticket.id)]["assignee_id"] == lead
    result, _, sent = counted(server, lambda: backend.edit(ticket.id, TicketChange(unassign=True)))
    assert puts(sent) == [{"assignee_id": None}]
    assert server.tickets[int(ticket.id)]["assignee_id"] is None
    assert result.assignee is None and backend.get(ticket.id).assignee is None
    assert result.status == "open"  # assigned once, a ticket never returns to new


def test_an_edit_is_retried_after_a_503_as_it_sets_absolute_values(server, backend):
    ticket = backend.create(new()).ticket
    server.inject(kind="status", status=503, match=r"^PUT /api/v2/tickets/", times=1)
    result, _, sent = counted(server, lambda: backend.edit(ticket.id, TicketChange(subject="Renamed")))
    assert puts(sent) == [{"subject": "Renamed"}, {"subject": "Renamed"}]
    assert result.subject == "Renamed" and len(server.audits[int(ticket.id)]) == 2  # create + one update


def test_a_requester_who_is_not_a_user_yet_becomes_one_as_on_create(server, backend):
    ticket = backend.create(new()).ticket
    newcomer = "newcomer@example.com"
    assert server.user_id(newcomer) is None
    result, _, sent = counted(server, lambda: backend.edit(ticket.id, TicketChange(requester=newcomer)))
    assert puts(sent) == [{"requester": {"email": newcomer, "name": "newcomer"}}]
    assert server.tickets[int(ticket.id)]["requester_id"] == server.user_id(newcomer)
    assert result.requester == newcomer


def test_an_unknown_assignee_is_refused_before_the_update(server, backend):
    ticket = backend.create(new()).ticket
    with pytest.raises(InvalidInputError, match="nobody@example.com"):
        backend.edit(ticket.id, TicketChange(assignee="nobody@example.com"))
    assert not [r for r in server.requests if r.method == "PUT"]
    assert server.tickets[int(ticket.id)]["assignee_id"] is None


def test_an_assignee_who_is_not_an_agent_is_zendesks_422(server, backend):
    ticket = backend.create(new()).ticket
    with pytest.raises(InvalidInputError, match="not an agent"):
        backend.edit(ticket.id, TicketChange(assignee=CUSTOMER))
    assert server.tickets[int(ticket.id)]["assignee_id"] is None


def test_an_unknown_group_is_refused_before_the_update(server, backend):
    ticket = backend.create(new()).ticket
    with pytest.raises(InvalidInputError, match="no Zendesk group named 'Nope'"):
        backend.edit(ticket.id, TicketChange(group="Nope"))
    assert not [r for r in server.requests if r.method == "PUT"]


def test_an_edit_to_the_current_values_sends_no_update(server, backend):
    ticket = backend.create(new(tags=["a"], priority="high")).ticket
    result, _, sent = counted(
        server, lambda: backend.edit(ticket.id, TicketChange(priority="high", requester=AGENT, add_tags=["a"]))
    )
    assert result.changed is False and writes(sent) == []


def test_an_update_to_a_ticket_closed_meanwhile_is_refused(server, backend):
    ticket = backend.create(new()).ticket
    server.close(int(ticket.id))
    with pytest.raises(RefusedError, match="closed"):
        backend.update_fields(ticket.id, {"subject": "late"})  # Zendesk's 422: closed is final
    assert server.tickets[int(ticket.id)]["subject"] == "Printer on fire"


def test_create_with_an_assignee_sends_it_and_the_ticket_is_open(server, backend):
    lead = make_agent(server, LEAD)
    result, _, sent = counted(server, lambda: backend.create(new(assignee=LEAD)))
    (post,) = [r.json["ticket"] for r in sent if r.method == "POST"]
    assert post["assignee_id"] == lead
    assert (result.ticket.assignee, result.ticket.status) == (LEAD, "open")
    assert server.tickets[int(result.ticket.id)]["assignee_id"] == lead


# -- reopen, and solve / close with a whole comment ------------------------------------------


@pytest.mark.parametrize("public", [True, False])
def test_reopen_sends_the_status_with_the_whole_comment_in_one_update(server, backend, tmp_path, public):
    ticket = backend.create(new()).ticket
    backend.solve(ticket.id)
    files = [upload_file(tmp_path, "trace.log", b"trace")]
    comment = Reply(body="it is back", author=AGENT, public=public, cc=[LEAD], attachments=files)
    result, _, sent = counted(server, lambda: backend.reopen(ticket.id, comment))
    assert result.changed is True and result.status == "open"
    assert writes(sent) == ["POST /api/v2/uploads.json", f"PUT /api/v2/tickets/{ticket.id}.json"]
    (body,) = puts(sent)
    assert body["status"] == "open"
    assert (body["comment"]["body"], body["comment"]["public"], len(body["comment"]["uploads"])) == (
        "it is back",
        public,
        1,
    )
    assert body["email_ccs"] == [{"user_email": LEAD, "action": "put"}]
    shown = backend.get(ticket.id)
    last = shown.comments[-1]
    assert (shown.status, shown.cc, last.body, last.public) == ("open", [LEAD], "it is back", public)
    assert [a.filename for a in last.attachments] == ["trace.log"]


def test_reopen_without_a_comment_and_on_an_open_ticket(server, backend):
    ticket = backend.create(new()).ticket
    backend.reply(ticket.id, Reply(body="waiting on you", author=AGENT, status="pending"))
    result, _, sent = counted(server, lambda: backend.reopen(ticket.id))
    assert puts(sent) == [{"status": "open"}] and result.status == "open"
    again, _, sent = counted(server, lambda: backend.reopen(ticket.id))
    assert again.changed is False and writes(sent) == []


@pytest.mark.parametrize("verb", ["solve", "close"])
def test_solve_and_close_send_the_whole_comment_in_one_update(server, backend, tmp_path, verb):
    ticket = backend.create(new()).ticket
    files = [upload_file(tmp_path, "fix.diff", b"+fix")]
    comment = Reply(body="root cause: toner", author=AGENT, public=False, cc=[DEV], attachments=files)
    call = (lambda: backend.solve(ticket.id, comment=comment)) if verb == "solve" else (
        lambda: backend.close(ticket.id, comment=comment)
    )  # fmt: skip
    result, _, sent = counted(server, call)
    assert writes(sent) == ["POST /api/v2/uploads.json", f"PUT /api/v2/tickets/{ticket.id}.json"]
    (body,) = puts(sent)
    assert body["status"] == {"solve": "solved", "close": "closed"}[verb]
    assert body["comment"]["public"] is False and body["email_ccs"] == [{"user_email": DEV, "action": "put"}]
    shown = backend.get(ticket.id)
    last = shown.comments[-1]
    assert (shown.status, result.status) == (body["status"], body["status"])
    assert (last.body, last.public) == ("root cause: toner", False)
    assert [a.filename for a in last.attachments] == ["fix.diff"]
    assert shown.cc == [DEV]


# -- download --------------------------------------------------------------------------------


def attached(backend, tmp_path, data: bytes = b"log line\n" * 100, name: str = "build.log"):
    ticket = backend.create(new(attachments=[upload_file(tmp_path, name, data)])).ticket
    return ticket, backend.get(ticket.id).comments[0].attachments[0]


def test_download_follows_the_redirect_to_the_file_host_without_credentials(server, backend, tmp_path, file_host):
    server.private_attachments = True  # the content URL itself needs the credentials (secure downloads)
    data = bytes(range(256)) * 1000
    ticket, attachment = attached(backend, tmp_path, data, "dump.bin")
    before = server.count()
    meta, chunks = backend.download(ticket.id, attachment.id)
    assert b"".join(chunks) == data and (meta.filename, meta.size) == ("dump.bin", len(data))
    sent = server.requests[before:]
    content = [r for r in sent if r.path.startswith("/attachments/token/")]
    assert len(content) == 1
    own = base64.b64encode(f"{AGENT}/token:{TOKEN}".encode()).decode()
    assert content[0].headers.get("authorization") == f"Basic {own}"  # to its own host: with them
    ((path, headers),) = file_host.seen  # the temporary URL, fetched once
    assert path.startswith("/files/") and path.endswith("/dump.bin")
    assert "authorization" not in headers and "cookie" not in headers
    assert TOKEN not in repr(headers)


def test_download_from_the_own_host_when_it_serves_the_bytes(server, fresh, tmp_path):
    data = b"same host bytes"
    ticket, attachment = attached(fresh(), tmp_path, data)
    got, n, sent = counted(server, lambda: b"".join(fresh().download(ticket.id, attachment.id)[1]))
    assert got == data
    assert n == 3 and sent[-1].path.startswith("/attachments/token/")  # ticket, comments, content_url


def test_download_refuses_a_file_host_without_https(server, backend, tmp_path):
    host = FileHost()  # plain http on another port: another origin
    server.file_host = host
    try:
        ticket, attachment = attached(backend, tmp_path)
        with pytest.raises(UnavailableError, match="without https"):
            backend.download(ticket.id, attachment.id)
        assert host.seen == []  # not a byte was asked of it
    finally:
        server.file_host = None
        host.stop()


def test_download_reads_at_most_the_attachments_size(server, backend, tmp_path, file_host):
    ticket, attachment = attached(backend, tmp_path, b"12345")
    with server.lock:  # the host serves more than Zendesk said the file holds
        server.attachments[int(attachment.id)]["data"] = b"12345" * 1000
    with pytest.raises(UnavailableError, match="larger than 5 bytes"):
        b"".join(backend.attachment_bytes(ticket.id, attachment))


def test_download_of_an_attachment_not_read_in_this_run_asks_show_attachment(server, fresh, tmp_path):
    ticket, attachment = attached(fresh(), tmp_path, b"abc")
    _, n, sent = counted(server, lambda: b"".join(fresh().attachment_bytes(ticket.id, attachment)))
    assert [r.path for r in sent] == [
        f"/api/v2/attachments/{attachment.id}.json",
        sent[1].path,
    ] and sent[1].path.startswith("/attachments/token/")


def test_download_of_an_id_not_on_the_ticket_is_not_found(server, backend, tmp_path):
    ticket, attachment = attached(backend, tmp_path)
    other = backend.create(new()).ticket
    with pytest.raises(NotFoundError):
        backend.download(other.id, attachment.id)
    with pytest.raises(NotFoundError):
        backend.download(ticket.id, "x/../1")


def test_a_malformed_content_url_is_a_malformed_answer(server, fresh, tmp_path, monkeypatch):
    ticket, attachment = attached(fresh(), tmp_path)
    original = server._attachment_json
    monkeypatch.setattr(server, "_attachment_json", lambda a: {**original(a), "content_url": {"href": "x"}})
    with pytest.raises(UnavailableError, match="content_url"):
        fresh().download(ticket.id, attachment.id)


def test_edit_reopen_and_download_through_the_cli(zendesk_harness, server, tmp_path, file_host):
    def tix(*args):
        result = run("--config", str(zendesk_harness.config_path), *args, env=zendesk_harness.env)
        assert result.code == 0, (args, result.err)
        return result.out

    make_agent(server, LEAD)
    (tmp_path / "crash.log").write_bytes(b"segfault at 0x0\n")
    tid = tix("create", "--subject", "Crash", "--body", "see log", "--attach", str(tmp_path / "crash.log")).strip()
    edited = json.loads(tix("edit", tid, "--assignee", LEAD, "--add-tag", "crash", "--format", "json"))
    assert (edited["assignee"], edited["tags"], edited["status"], edited["changed"]) == (LEAD, ["crash"], "open", True)
    tix("solve", tid)
    tix("reopen", tid, "--body", "still crashing", "--internal", "--cc", DEV)
    shown = json.loads(tix("show", tid, "--format", "json"))
    assert (shown["status"], shown["cc"], shown["comments"][-1]["public"]) == ("open", [DEV], False)
    aid = shown["comments"][0]["attachments"][0]["id"]
    out = tmp_path / "out"
    out.mkdir()
    tix("download", tid, aid, "--dir", str(out))
    assert (out / "crash.log").read_bytes() == b"segfault at 0x0\n"
    assert len(file_host.seen) == 1 and "authorization" not in file_host.seen[0][1]


# -- requests per command, and the spec ------------------------------------------------------


def test_request_counts_of_edit_reopen_and_download(server, fresh, tmp_path, file_host):
    """The HTTP requests each command sends from a fresh backend (one command = one run)."""
    make_agent(server, LEAD)
    ticket, attachment = attached(fresh(), tmp_path)
    counts = {}

    def measure(name, call):
        before_files = len(file_host.seen)
        _, n, _ = counted(server, lambda: call(fresh()))
        counts[name] = (n, len(file_host.seen) - before_files)

    tid = ticket.id
    measure("edit --subject", lambda b: b.edit(tid, TicketChange(subject="s2")))
    measure("edit --assignee", lambda b: b.edit(tid, TicketChange(assignee=LEAD)))
    measure("edit --group", lambda b: b.edit(tid, TicketChange(group="Support", add_tags=["t"])))
    measure("solve", lambda b: b.solve(tid))
    measure("reopen", lambda b: b.reopen(tid))
    b = fresh()
    b.solve(tid)
    measure("reopen --body", lambda b: b.reopen(tid, Reply(body="again", author=AGENT)))
    measure("download", lambda b: b"".join(b.download(tid, attachment.id)[1]))
    b.solve(tid)
    files = [upload_file(tmp_path, "more.log", b"more")]
    full = Reply(body="again", author=AGENT, public=False, cc=[DEV], attachments=files)
    measure("reopen --internal --attach --cc", lambda b: b.reopen(tid, full))
    measure("create --assignee", lambda b: b.create(new(assignee=LEAD)))
    assert counts == {
        "edit --subject": (3, 0),  # ticket, comments (the core reads the ticket), PUT
        "edit --assignee": (4, 0),  # ticket, comments, user search (the assignee), PUT
        "edit --group": (4, 0),  # ticket, comments, groups (name -> id), PUT
        "solve": (2, 0),  # ticket, PUT (assigned already: no new people)
        "reopen": (2, 0),  # ticket (status), PUT
        "reopen --body": (2, 0),  # ticket, PUT with the comment
        "download": (3, 1),  # ticket, comments, content_url (302); the temporary URL on the file host
        "reopen --internal --attach --cc": (4, 0),  # ticket, upload, PUT, users (the new CC)
        "create --assignee": (3, 0),  # user search (the assignee), POST, users (the requester)
    }, counts


def test_every_exchange_conforms_to_the_spec(server, backend, tmp_path, file_host):
    from standins.spec import get_checker

    checker = get_checker("zendesk")  # skips without the spec, fails under CI
    make_agent(server, LEAD)
    ticket, attachment = attached(backend, tmp_path)
    backend.edit(
        ticket.id,
        TicketChange(subject="s", priority="urgent", type="task", group="Support", requester=CUSTOMER, assignee=LEAD),
    )
    backend.edit(ticket.id, TicketChange(unassign=True, add_tags=["x"]))
    backend.edit(ticket.id, TicketChange(requester="newcomer@example.com"))
    files = [upload_file(tmp_path, "a.txt", b"a")]
    backend.solve(ticket.id, comment=Reply(body="s", author=AGENT, public=False, cc=[DEV], attachments=files))
    backend.reopen(ticket.id, Reply(body="o", author=AGENT, cc=[LEAD], attachments=files))
    b"".join(backend.download(ticket.id, attachment.id)[1])
    other = type(backend)(backend.profile)
    b"".join(other.attachment_bytes(ticket.id, attachment))  # not read in this run: Show Attachment
    other.shutdown()
    # content URLs are not API operations (the spec has none); everything else is checked
    api = [ex for ex in server.exchanges if not ex.request.path.startswith("/attachments/token/")]
    assert len(api) < len(server.exchanges)
    checker.assert_conforms(api)
