"""The contract every backend must honour, written once and run against each of them.

Backends join through their harness fixture (conftest.py); what only one backend does is
tested in its own test module.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
from cli import run
from harness import CUSTOMER, DEV, LEAD

from tixcli.errors import NotFoundError, RefusedError
from tixcli.model import TICKET_FIELDS, ListQuery, NewTicket, Reply, json_schema

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


@pytest.fixture
def backend(harness):
    backend = harness.open()
    yield backend
    backend.shutdown()


def new(harness, subject="Printer on fire", body="It is really on fire", **kw) -> NewTicket:
    kw.setdefault("requester", harness.user)
    return NewTicket(subject=subject, body=body, author=harness.user, **kw)


def reply(harness, body="noted", **kw) -> Reply:
    return Reply(body=body, author=harness.user, **kw)


def query(harness, **kw) -> ListQuery:
    return ListQuery(user=harness.user, **kw)


def ids(tickets) -> list[str]:
    return [t.id for t in tickets]


# -- create and get ------------------------------------------------------------------------


def test_create_then_get_returns_the_normalised_ticket(harness, backend):
    result = backend.create(new(harness, priority="high", type="incident", tags=["build"]))
    assert result.created is True
    ticket = backend.get(result.ticket.id)
    assert ticket.id == result.ticket.id and isinstance(ticket.id, str)
    assert ticket.backend == harness.name
    assert ticket.subject == "Printer on fire"
    assert ticket.description == "It is really on fire"
    assert ticket.status in ("new", "open")
    assert ticket.priority == "high"
    assert ticket.type == "incident"
    assert ticket.requester == harness.user
    assert ISO.match(ticket.created_at) and ISO.match(ticket.updated_at)
    assert ticket.solved_at is None
    assert [c.body for c in ticket.comments] == ["It is really on fire"]
    assert ticket.comments[0].public is True


def test_ticket_json_has_every_field_and_matches_the_published_schema(harness, backend):
    ticket = backend.get(backend.create(new(harness)).ticket.id)
    data = json.loads(json.dumps(ticket.to_dict()))
    assert list(data)[: len(TICKET_FIELDS)] == list(TICKET_FIELDS)
    jsonschema.validate(data, json_schema())
    listed = backend.list_tickets(query(harness))[0].to_dict()
    assert "comments" not in listed
    jsonschema.validate(listed, json_schema())


def test_tags_and_group_are_kept_through_create_reply_and_list(harness, backend):
    group = {"group": harness.group} if harness.group else {}
    made = backend.create(new(harness, tags=["build", "nightly"], priority="low", type="incident", **group)).ticket
    backend.reply(made.id, reply(harness, body="still here"))
    shown = backend.get(made.id)
    listed = backend.list_tickets(query(harness))[0]
    for ticket in (made, shown, listed):
        assert sorted(ticket.tags) == ["build", "nightly"]
        assert ticket.group == harness.group
        assert (ticket.priority, ticket.type) == ("low", "incident")


def test_a_reply_moves_updated_at_and_nothing_else(harness, backend):
    made = backend.create(new(harness, tags=["keep"], priority="high", type="incident")).ticket
    before = backend.get(made.id)
    time.sleep(1.1)  # services stamp times in whole seconds
    backend.reply(made.id, reply(harness, body="later"))
    after = backend.get(made.id)
    assert after.updated_at > before.updated_at
    assert after.created_at == before.created_at
    unchanged = ("subject", "description", "priority", "type", "requester", "assignee", "group", "tags", "cc")
    assert {f: getattr(after, f) for f in unchanged} == {f: getattr(before, f) for f in unchanged}


def test_get_unknown_ticket_is_not_found(harness, backend):
    with pytest.raises(NotFoundError):
        backend.get(harness.missing_id)


# -- list ----------------------------------------------------------------------------------


def test_list_mine_shows_only_my_tickets_and_all_shows_everyones(harness, backend):
    mine = backend.create(new(harness, subject="mine")).ticket
    theirs = backend.create(new(harness, subject="theirs", requester=CUSTOMER)).ticket
    assert ids(backend.list_tickets(query(harness, scope="mine"))) == [mine.id]
    assert set(ids(backend.list_tickets(query(harness, scope="all")))) == {mine.id, theirs.id}
    by_requester = backend.list_tickets(query(harness, scope="all", requester=CUSTOMER))
    assert ids(by_requester) == [theirs.id]
    assert by_requester[0].requester == CUSTOMER


def test_list_filters_by_status(harness, backend):
    active = backend.create(new(harness, subject="active one")).ticket
    solved = backend.create(new(harness, subject="solved one")).ticket
    backend.solve(solved.id)
    assert ids(backend.list_tickets(query(harness))) == [active.id]
    assert ids(backend.list_tickets(query(harness, statuses=("solved",)))) == [solved.id]
    assert set(ids(backend.list_tickets(query(harness, statuses=None)))) == {active.id, solved.id}


def test_list_filters_by_type_and_priority(harness, backend):
    incident = backend.create(new(harness, subject="down", type="incident", priority="urgent")).ticket
    question = backend.create(new(harness, subject="how", type="question", priority="low")).ticket
    assert ids(backend.list_tickets(query(harness, type="incident"))) == [incident.id]
    assert ids(backend.list_tickets(query(harness, type="question"))) == [question.id]
    assert ids(backend.list_tickets(query(harness, priority="urgent"))) == [incident.id]


def test_list_search_requires_every_word_anywhere_in_the_thread(harness, backend):
    a = backend.create(new(harness, subject="Database timeout", body="the nightly job")).ticket
    b = backend.create(new(harness, subject="Login page", body="timeout on login")).ticket
    backend.reply(b.id, reply(harness, body="Zebra stripes appear"))
    assert set(ids(backend.list_tickets(query(harness, search="timeout")))) == {a.id, b.id}
    assert ids(backend.list_tickets(query(harness, search="TIMEOUT nightly"))) == [a.id]
    assert ids(backend.list_tickets(query(harness, search="zebra login"))) == [b.id]
    assert backend.list_tickets(query(harness, search="timeout absentword")) == []


def test_list_limit_and_sort(harness, backend):
    made = [backend.create(new(harness, subject=f"ticket {i}")).ticket.id for i in range(3)]
    newest_first = ids(backend.list_tickets(query(harness, sort="created")))
    assert newest_first == list(reversed(made))
    assert ids(backend.list_tickets(query(harness, sort="created", limit=2))) == list(reversed(made))[:2]


def test_list_sort_priority_puts_the_most_urgent_first(harness, backend):
    made = {}
    for priority in ("low", "urgent", "normal", "high"):
        made[priority] = backend.create(new(harness, subject=f"{priority} one", priority=priority)).ticket.id
    order = ids(backend.list_tickets(query(harness, sort="priority")))
    assert order == [made[p] for p in ("urgent", "high", "normal", "low")]
    assert ids(backend.list_tickets(query(harness, sort="priority", limit=2))) == [made["urgent"], made["high"]]


def test_list_since_filters_on_updated(harness, backend):
    backend.create(new(harness))
    future = datetime.now(timezone.utc) + timedelta(days=1)
    past = datetime.now(timezone.utc) - timedelta(days=1)
    assert backend.list_tickets(query(harness, since=future)) == []
    assert len(backend.list_tickets(query(harness, since=past))) == 1


# -- replies and the lifecycle -------------------------------------------------------------


def test_public_reply_opens_a_new_ticket_and_an_internal_note_changes_nothing(harness, backend):
    ticket = backend.create(new(harness)).ticket
    noted = backend.reply(ticket.id, reply(harness, body="internal only", public=False))
    assert noted.status == ticket.status
    replied = backend.reply(ticket.id, reply(harness, body="on it"))
    assert replied.status == "open"
    thread = backend.get(ticket.id).comments
    assert [(c.body, c.public) for c in thread[1:]] == [("internal only", False), ("on it", True)]


def test_an_internal_note_with_an_explicit_status_applies_it(harness, backend):
    ticket = backend.create(new(harness)).ticket
    backend.solve(ticket.id)
    noted = backend.reply(ticket.id, reply(harness, body="reopening quietly", public=False, status="open"))
    assert noted.status == "open"
    shown = backend.get(ticket.id)
    assert shown.status == "open"
    assert (shown.comments[-1].body, shown.comments[-1].public) == ("reopening quietly", False)


def test_reply_to_a_solved_ticket_reopens_it(harness, backend):
    ticket = backend.create(new(harness)).ticket
    backend.solve(ticket.id)
    assert backend.reply(ticket.id, reply(harness, body="still broken")).status == "open"
    assert backend.get(ticket.id).status == "open"


def test_reply_can_set_pending_and_the_requesters_answer_opens_it(harness, backend):
    ticket = backend.create(new(harness)).ticket
    assert backend.reply(ticket.id, reply(harness, body="which printer?", status="pending")).status == "pending"
    # the profile's user is the requester here, so this is the requester's answer
    assert backend.reply(ticket.id, reply(harness, body="the big one")).status == "open"


def test_solve_and_close_follow_the_lifecycle(harness, backend):
    ticket = backend.create(new(harness)).ticket
    solved = backend.solve(ticket.id, body="fixed the toner")
    assert solved.status == "solved" and ISO.match(solved.solved_at)
    assert backend.get(ticket.id).comments[-1].body == "fixed the toner"
    with pytest.raises(RefusedError):
        backend.solve(ticket.id)
    assert backend.close(ticket.id).status == "closed"
    with pytest.raises(RefusedError):
        backend.close(ticket.id)


def test_a_closed_ticket_is_final_but_still_readable(harness, backend):
    ticket = backend.create(new(harness)).ticket
    backend.close(ticket.id)
    with pytest.raises(RefusedError):
        backend.reply(ticket.id, reply(harness))
    with pytest.raises(RefusedError):
        backend.update_cc(ticket.id, [LEAD], [])
    with pytest.raises(RefusedError):
        backend.solve(ticket.id)
    shown = backend.get(ticket.id)
    assert shown.status == "closed" and len(shown.comments) == 1
    assert ids(backend.list_tickets(query(harness, statuses=("closed",)))) == [ticket.id]


# -- attachments and CCs -------------------------------------------------------------------


def test_reply_with_attachments(harness, backend, tmp_path):
    from tixcli.attachments import prepare_uploads
    from tixcli.config import AttachmentLimits

    log = tmp_path / "build.log"
    log.write_bytes(b"line 1\nline 2\n")
    png = tmp_path / "screen.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    uploads = prepare_uploads([str(log), str(png)], AttachmentLimits())
    ticket = backend.create(new(harness)).ticket
    backend.reply(ticket.id, reply(harness, body="logs attached", attachments=uploads))
    comment = backend.get(ticket.id).comments[-1]
    assert comment.body == "logs attached"
    got = {a.filename: a for a in comment.attachments}
    assert set(got) == {"build.log", "screen.png"}
    assert got["build.log"].size == 14 and got["screen.png"].size == 264
    assert got["screen.png"].content_type == "image/png"


def test_cc_add_list_remove(harness, backend):
    ticket = backend.create(new(harness, cc=[LEAD])).ticket
    assert backend.get(ticket.id).cc == [LEAD]
    assert sorted(backend.update_cc(ticket.id, [DEV], [])) == sorted([LEAD, DEV])
    assert backend.update_cc(ticket.id, [], [LEAD]) == [DEV]
    assert backend.update_cc(ticket.id, [], []) == [DEV]
    backend.reply(ticket.id, reply(harness, cc=[CUSTOMER]))
    assert sorted(backend.get(ticket.id).cc) == sorted([DEV, CUSTOMER])


# -- dedupe key ------------------------------------------------------------------------------


def test_dedupe_key_adds_to_the_open_ticket_instead_of_opening_another(harness, backend):
    first = backend.create(new(harness, body="build 1 failed", dedupe_key="ci-nightly")).ticket
    again = backend.create(new(harness, body="build 2 failed", dedupe_key="ci-nightly"))
    assert again.created is False and again.ticket.id == first.id
    assert [c.body for c in backend.get(first.id).comments] == ["build 1 failed", "build 2 failed"]
    assert backend.get(first.id).external_id == "ci-nightly"
    assert len(backend.list_tickets(query(harness, statuses=None))) == 1


def test_dedupe_key_reopens_a_solved_ticket_and_skips_a_closed_one(harness, backend):
    first = backend.create(new(harness, dedupe_key="ci-deploy")).ticket
    backend.solve(first.id)
    again = backend.create(new(harness, body="failed again", dedupe_key="ci-deploy"))
    assert again.ticket.id == first.id and again.ticket.status == "open"
    backend.close(first.id)
    fresh = backend.create(new(harness, body="and again", dedupe_key="ci-deploy"))
    assert fresh.created is True and fresh.ticket.id != first.id


# -- export --------------------------------------------------------------------------------


def test_export_streams_every_ticket_with_comments(harness, backend):
    a = backend.create(new(harness, subject="a")).ticket
    b = backend.create(new(harness, subject="b", requester=CUSTOMER)).ticket
    backend.reply(b.id, reply(harness, body="second"))
    backend.close(a.id)
    exported = {item.ticket.id: item.ticket for item in backend.export()}
    assert set(exported) == {a.id, b.id}
    assert exported[a.id].status == "closed"
    assert [c.body for c in exported[b.id].comments] == ["It is really on fire", "second"]
    future = datetime.now(timezone.utc) + timedelta(days=1)
    assert list(backend.export(since=future)) == []


def test_export_gives_each_ticket_exactly_as_show_does(harness, backend, tmp_path):
    from tixcli.attachments import prepare_uploads
    from tixcli.config import AttachmentLimits

    log = tmp_path / "build.log"
    log.write_bytes(b"failed\n")
    group = {"group": harness.group} if harness.group else {}
    a = backend.create(
        new(harness, subject="full", priority="high", type="incident", tags=["x", "y"], cc=[LEAD], **group)
    ).ticket
    backend.reply(a.id, reply(harness, body="with a file", attachments=prepare_uploads([str(log)], AttachmentLimits())))
    backend.reply(a.id, reply(harness, body="note", public=False))
    b = backend.create(new(harness, subject="plain", requester=CUSTOMER)).ticket
    backend.solve(b.id, body="done")
    exported = {item.ticket.id: item.ticket.to_dict() for item in backend.export()}
    assert set(exported) == {a.id, b.id}
    for ticket_id in (a.id, b.id):
        assert exported[ticket_id] == backend.get(ticket_id).to_dict()


# -- through the command line: limits are checked before anything is sent -------------------


def cli(harness, *args, stdin=b""):
    return run("--config", str(harness.config_path), *args, env=harness.env, stdin=stdin)


def test_cli_round_trip(harness):
    created = cli(harness, "create", "--subject", "CLI made", "--body", "from the shell", "--priority", "P1")
    assert created.code == 0, created.err
    ticket_id = created.out.strip()
    assert cli(harness, "reply", ticket_id, "--body-file", "-", stdin=b"via stdin").code == 0
    shown = json.loads(cli(harness, "show", ticket_id, "--format", "json").out)
    assert shown["priority"] == "urgent" and shown["comments"][-1]["body"] == "via stdin"
    listed = json.loads(cli(harness, "list", "--format", "json").out)
    assert [t["id"] for t in listed] == [ticket_id]


def test_cli_refuses_attachment_limits_before_sending_anything(harness, tmp_path):
    ticket_id = cli(harness, "create", "--subject", "s", "--body", "b").out.strip()
    files = []
    for i in range(6):
        f = tmp_path / f"f{i}.txt"
        f.write_text("x")
        files.append(str(f))
    before = harness.request_count()
    too_many = cli(harness, "attach", ticket_id, *files)
    missing = cli(harness, "attach", ticket_id, str(tmp_path / "nope.log"))
    assert too_many.code == 6 and "at most 5" in too_many.err
    assert missing.code == 6 and "nope.log" in missing.err
    assert harness.request_count() == before
    assert len(harness.open().get(ticket_id).comments) == 1
