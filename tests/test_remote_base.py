"""RemoteBackend (backends/remote.py): the one 4xx table of the remote backends, its vendor hooks,
the JSON shape checks and the lazy client, over real HTTP against the Zendesk stand-in.

The 409 comes from where Zendesk documents one on a ticket write: a safe update
(`safe_update` with an `updated_stamp`) of a ticket that changed since it was read answers
409 UpdateConflict ("Protecting against ticket update collisions").
"""

from __future__ import annotations

import json

import pytest
import requests
from cli import run
from harness import CUSTOMER
from harness_zendesk import AGENT, TOKEN
from standins.zendesk import CLOSED_ERROR

from tixcli.backends.remote import RemoteBackend, http_refusal
from tixcli.backends.zendesk import ZendeskBackend
from tixcli.config import Profile
from tixcli.errors import ExitStatus, InvalidInputError, RefusedError, UnavailableError
from tixcli.model import FileUpload, ListQuery, NewTicket, Reply

CONFLICT = {
    "error": "UpdateConflict",
    "description": "Safe Update prevented the update due to outdated ticket data. "
    "Please fetch the latest ticket data and try again.",
}


@pytest.fixture
def server(zendesk_harness):
    return zendesk_harness.server


@pytest.fixture
def backend(zendesk_harness):
    b = ZendeskBackend(zendesk_harness.profile)
    yield b
    b.shutdown()


class PlainBackend(RemoteBackend):
    """A remote backend with no vendor hooks: the bare table (as a new vendor starts)."""

    name = "plain"
    service = "Plain"

    def open_session(self):
        self.sessions = getattr(self, "sessions", 0) + 1
        session = requests.Session()
        session.auth = (f"{self.profile.get('email')}/token", self.profile.secret("token").reveal())
        return session

    def get(self, ticket_id):  # the abstract reads: not needed here
        raise NotImplementedError

    def export(self, since=None, cursor=None):
        raise NotImplementedError


@pytest.fixture
def plain(zendesk_harness):
    b = PlainBackend(zendesk_harness.profile)
    yield b
    b.shutdown()


def new_ticket(server) -> str:
    (tid,) = server.seed_tickets(1, requester=CUSTOMER)
    return str(tid)


def stale_safe_update(tid: str, **fields) -> dict:
    return {"ticket": {"comment": {"body": "late", "public": True}, "safe_update": True,
                       "updated_stamp": "2001-01-01T00:00:00Z", **fields}}  # fmt: skip


# -- 409 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("safe", [True, False])  # "A value of false has the same effect as true"
def test_a_409_on_a_ticket_write_is_a_conflict_with_its_state_exit_5(server, backend, safe):
    tid = new_ticket(server)
    body = stale_safe_update(tid, safe_update=safe)
    with pytest.raises(RefusedError) as err:
        backend.call("PUT", f"/api/v2/tickets/{tid}.json", json=body, action="reply", ticket=tid)
    assert err.value.exit_status == ExitStatus.REFUSED == 5
    assert f"ticket {tid}" in err.value.message and "HTTP 409" in err.value.message
    assert "Safe Update prevented the update" in err.value.message  # Zendesk's own text, via its hook
    assert f"tixcli show {tid}" in err.value.hint
    assert [c["body"] for c in server.comments[int(tid)]][-1] != "late"  # nothing was written


def test_a_safe_update_with_the_current_stamp_goes_through(server, backend):
    """The stand-in's 409 is the documented one: an up-to-date stamp is no conflict."""
    tid = new_ticket(server)
    stamp = backend.read(f"/api/v2/tickets/{tid}.json", action="read")["ticket"]["updated_at"]
    body = stale_safe_update(tid, updated_stamp=stamp)
    backend.call("PUT", f"/api/v2/tickets/{tid}.json", json=body, action="reply", ticket=tid)
    assert server.comments[int(tid)][-1]["body"] == "late"


def test_the_409_table_holds_without_vendor_hooks(server, plain):
    tid = new_ticket(server)
    with pytest.raises(RefusedError, match="HTTP 409"):
        plain.call("PUT", f"/api/v2/tickets/{tid}.json", json=stale_safe_update(tid), action="reply", ticket=tid)


def test_a_409_to_a_reply_through_zenpy_exits_5(server, backend):
    """The comment is one zenpy update: its 409 goes through the same table."""
    tid = new_ticket(server)
    server.inject(kind="status", status=409, match=r"^PUT /api/v2/tickets/", body=json.dumps(CONFLICT).encode())
    with pytest.raises(RefusedError, match=f"ticket {tid}.*HTTP 409"):
        backend.reply(tid, Reply(body="x", author=AGENT))


def test_cli_reply_answered_409_exits_5_with_one_error_line(zendesk_harness, server):
    tid = new_ticket(server)
    server.inject(kind="status", status=409, match=r"^PUT /api/v2/tickets/", body=json.dumps(CONFLICT).encode())
    result = run("--config", str(zendesk_harness.config_path), "reply", tid, "--body", "x", env=zendesk_harness.env)
    assert result.code == 5, result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "HTTP 409" in errors[0] and "Traceback" not in result.err


def test_a_409_anywhere_but_a_ticket_write_exits_8(server, backend, tmp_path):
    tid = new_ticket(server)
    path = tmp_path / "a.log"
    path.write_bytes(b"a")
    files = [FileUpload(path=path, filename="a.log", size=1, content_type="text/plain")]
    server.inject(kind="status", status=409, match=r"^POST /api/v2/uploads", body=json.dumps(CONFLICT).encode())
    with pytest.raises(UnavailableError, match="HTTP 409") as err:  # an upload: no ticket's state
        backend.reply(tid, Reply(body="x", author=AGENT, attachments=files))
    assert err.value.exit_status == 8
    server.inject(kind="status", status=409, match=r"^GET /api/v2/tickets/", body=json.dumps(CONFLICT).encode())
    with pytest.raises(UnavailableError, match="HTTP 409"):  # a read
        backend.get(tid)
    server.inject(kind="status", status=409, match=r"^POST /api/v2/tickets", body=json.dumps(CONFLICT).encode())
    with pytest.raises(UnavailableError, match="HTTP 409"):  # a create: there is no ticket yet
        backend.create(NewTicket(subject="s", body="b", author=AGENT, requester=AGENT))


# -- 400 / 422 and the vendor hook ------------------------------------------------------------


def test_400_and_422_are_invalid_input_exit_6_with_the_services_text(server, backend):
    tid = new_ticket(server)
    with pytest.raises(InvalidInputError) as err:  # the stand-in validates the priority (422)
        backend.call("PUT", f"/api/v2/tickets/{tid}.json", json={"ticket": {"priority": "bogus"}},
                     action="change the priority", ticket=tid)  # fmt: skip
    assert err.value.exit_status == 6
    reason = "Record validation errors; Priority: bogus is not valid"
    assert err.value.message == f"Zendesk refused to change the priority: {reason}"
    server.inject(kind="status", status=400, match=r"^GET /api/v2/search", body=b'{"error": "InvalidValue"}')
    with pytest.raises(InvalidInputError, match="Zendesk refused to search: InvalidValue"):
        backend.list_tickets(ListQuery(user=AGENT))


def test_the_vendor_hook_reads_a_closed_ticket_422_as_a_refusal(server, backend, plain):
    tid = new_ticket(server)
    server.close(int(tid))
    comment = {"ticket": {"comment": {"body": "x", "public": True}}}
    with pytest.raises(RefusedError, match=f"ticket {tid} is closed"):  # Zendesk's hook: exit 5
        backend.call("PUT", f"/api/v2/tickets/{tid}.json", json=comment, action="reply", ticket=tid)
    with pytest.raises(InvalidInputError, match="HTTP 422"):  # no hook, no text: the table's 422
        plain.call("PUT", f"/api/v2/tickets/{tid}.json", json=comment, action="reply", ticket=tid)
    assert CLOSED_ERROR["details"]["status"][0]["description"] == "Status: closed prevents ticket update"


def test_error_text_from_the_service_is_bounded(server, backend):
    server.inject(kind="status", status=422, match=r"^GET /api/v2/search",
                  body=json.dumps({"description": "x" * 10_000}).encode())  # fmt: skip
    with pytest.raises(InvalidInputError) as err:
        backend.list_tickets(ListQuery(user=AGENT))
    assert len(err.value.message) < 360


@pytest.mark.parametrize(
    ("status", "write", "ticket", "error", "code"),
    [
        (400, False, None, InvalidInputError, 6),
        (422, True, "7", InvalidInputError, 6),
        (413, True, "7", InvalidInputError, 6),
        (409, True, "7", RefusedError, 5),
        (409, False, "7", UnavailableError, 8),  # a read of the ticket
        (409, True, None, UnavailableError, 8),  # a write to no ticket (create, upload)
        (410, False, None, UnavailableError, 8),
        (405, True, "7", UnavailableError, 8),
        (415, True, "7", UnavailableError, 8),
    ],
)
def test_the_table(status, write, ticket, error, code):
    got = http_refusal("Svc", status, "why", action="do it", ticket=ticket, write=write)
    assert type(got) is error and got.exit_status == code
    assert "why" in got.message


# -- the shapes of answers and the client ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "not a JSON object"),
        (b'{"ticket": "12"}', "no 'ticket'"),
        (b'{"ticket": {"subject": "no id"}}', "no 'ticket'"),
        (b'{"ticket": {"id": 1}, "users": {"id": 1}}', "users is not a list of objects"),
    ],
)
def test_malformed_shapes_exit_8(server, backend, body, message):
    tid = new_ticket(server)
    server.inject(kind="malformed", match=r"^GET /api/v2/tickets/\d+", body=body)
    with pytest.raises(UnavailableError, match=message) as err:
        backend.get(tid)
    assert err.value.exit_status == 8 and err.value.message.startswith("Zendesk sent a malformed answer")


def test_shape_checks_name_the_service(plain):
    with pytest.raises(UnavailableError, match="^Plain sent a malformed answer .not a JSON array"):
        plain.json_array([{"a": 1}, 2])
    with pytest.raises(UnavailableError, match="no 'key'"):
        plain.need({"key": ""}, "key")
    assert plain.records({}, "x") == [] and plain.need({"k": 0}, "k") == 0


def test_the_client_is_made_once_on_first_use_from_the_profile(zendesk_harness, server, monkeypatch):
    monkeypatch.delenv("ZENDESK_TEST_TOKEN")
    p = zendesk_harness.profile
    b = PlainBackend(Profile(p.name, p.backend, {**p.settings, "token": TOKEN, "token_env": None, "timeout": 3}))
    assert server.count() == 0 and b._http is None  # the constructor touches nothing
    assert b.read("/api/v2/users/me.json", action="read me")["user"]["email"] == AGENT
    b.read("/api/v2/users/me.json", action="read me")
    assert b.sessions == 1 and b.http.timeout == 3 and b.http.service == "Plain"
    b.shutdown()
