"""Zendesk's history, channel and custom fields (issue 15), against the Zendesk stand-in over HTTP:
who did each change (an agent, the requester, a trigger, an automation, the system), audits paged
100 at a time, custom field values converted by each field's type and refused (exit 6) naming the
field, hostile answers (exit 8), `list --channel/--field` paging on, `export --with-history` from
the ticket events for an admin and from the audits for an agent, and the requests each costs.
"""

from __future__ import annotations

import json

import pytest
from cli import run
from harness import CUSTOMER, DEV, LEAD
from harness_zendesk import AGENT, TOKEN, write_config
from standins.zendesk import SEEDED_FIELDS

import tixcli.backends.zendesk as zendesk
from tixcli.backends.zendesk import ZendeskBackend
from tixcli.config import Profile
from tixcli.errors import UnavailableError
from tixcli.model import CHANNELS, ListQuery, NewTicket, Reply, TicketChange

pytestmark = pytest.mark.timeout(120)

SERVICE, DEPARTMENT, PRODUCTS, VIP = (SEEDED_FIELDS[k] for k in ("service", "department", "products", "vip"))
SEATS, AMOUNT, RENEWAL = (SEEDED_FIELDS[k] for k in ("seats", "amount", "renewal"))
TRIGGER = "Escalate VIP tickets"
CLOSER = "Close ticket 4 days after status is set to solved"
NOTIFY = "Notify requester and CCs of comment update"


@pytest.fixture
def server(zendesk_harness):
    return zendesk_harness.server


def backend_for(harness, **settings) -> ZendeskBackend:
    """A fresh backend (one run: empty caches) mapping every seeded field."""
    p = harness.profile
    merged = {**p.settings, "fields": dict(SEEDED_FIELDS), **settings}
    return ZendeskBackend(Profile(p.name, p.backend, merged, p.source))


@pytest.fixture
def backend(zendesk_harness):
    b = backend_for(zendesk_harness)
    yield b
    b.shutdown()


@pytest.fixture
def config(zendesk_harness, tmp_path):
    """A config whose profile maps every seeded field (the harness's maps `service` only)."""
    path = tmp_path / "fields.yaml"
    mapping = "{" + ", ".join(f"{name}: {fid}" for name, fid in SEEDED_FIELDS.items()) + "}"
    write_config(path, zendesk_harness.server.url, fields=mapping)
    return path


def tix(zendesk_harness, config, *args: str):
    return run("--config", str(config), *args, env=zendesk_harness.env)


def new(subject="Printer on fire", body="It is really on fire", **kw) -> NewTicket:
    kw.setdefault("requester", AGENT)
    return NewTicket(subject=subject, body=body, author=AGENT, **kw)


def counted(server, call):
    """(result, requests the call sent, the requests themselves)."""
    before = server.count()
    result = call()
    return result, server.count() - before, server.requests[before:]


def one_error(result) -> str:
    lines = [line for line in result.err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.err, result.err
    return errors[0]


def rewrite(monkeypatch, server, path: str, change) -> None:
    """`change(body, request)` edits the JSON answer to requests whose path matches `path`."""
    original = server._dispatch

    def dispatch(request):
        response = original(request)
        if path in request.path and isinstance(response.json, dict) and response.status == 200:
            change(response.json, request)
        return response

    monkeypatch.setattr(server, "_dispatch", dispatch)


# -- history: who did what ------------------------------------------------------------------


def test_history_says_whether_an_agent_the_requester_a_trigger_or_an_automation_did_it(server, backend):
    server.notify_on_comment = True  # the default trigger's email after each public comment
    ticket = backend.create(new(subject="VIP down", requester=CUSTOMER, priority="low", cc=[LEAD])).ticket
    tid = int(ticket.id)
    backend.reply(ticket.id, Reply(body="any news?", author=CUSTOMER))  # the requester
    backend.reply(ticket.id, Reply(body="me too", author=LEAD))  # an end user, not the requester
    server.apply_rule(tid, TRIGGER, priority="urgent")  # a trigger, within that update
    backend.update_cc(ticket.id, [DEV], [])
    backend.edit(ticket.id, TicketChange(priority="high"))
    backend.solve(ticket.id)
    server.close(tid)  # the account's automation
    events = backend.ticket_history(ticket.id)

    created = events[0]
    assert (created.change, created.actor, created.by, created.new) == ("created", AGENT, "agent", "VIP down")
    assert created.detail["channel"] == "api"
    comments = [(e.actor, e.by) for e in events if e.change == "comment"]
    assert comments == [(AGENT, "agent"), (CUSTOMER, "requester"), (LEAD, None)]
    priorities = [(e.old, e.new, e.actor, e.by) for e in events if e.change == "priority"]
    assert priorities == [("low", "urgent", TRIGGER, "automatic"), ("urgent", "high", AGENT, "agent")]
    rule = next(e for e in events if e.change == "priority")
    assert rule.detail["rule"] == TRIGGER and rule.detail["rule_type"] == "trigger"
    notices = [e for e in events if e.change == "notification" and e.actor == NOTIFY]
    assert notices and all(e.by == "automatic" and e.detail["rule_type"] == "trigger" for e in notices)
    assert CUSTOMER in notices[0].detail["recipients"] and LEAD in notices[0].detail["recipients"]
    cc = next(e for e in events if e.change == "cc")
    assert (cc.old, cc.new, cc.by) == ([LEAD], [DEV, LEAD], "agent")
    closed = [e for e in events if e.change == "status"][-1]
    assert (closed.old, closed.new, closed.actor, closed.by) == ("solved", "closed", CLOSER, "automatic")
    assert closed.detail["rule_type"] == "automation"
    assignee = next(e for e in events if e.change == "assignee")  # Zendesk assigned the solver
    assert (assignee.old, assignee.new) == (None, AGENT)
    assert next(e for e in events if e.change == "group").new == "Support"


def test_history_of_a_requester_changed_on_the_way_counts_each_as_they_were(server, backend):
    ticket = backend.create(new(requester=CUSTOMER)).ticket
    backend.reply(ticket.id, Reply(body="first", author=CUSTOMER))
    backend.edit(ticket.id, TicketChange(requester=LEAD))
    backend.reply(ticket.id, Reply(body="second", author=CUSTOMER))
    backend.reply(ticket.id, Reply(body="third", author=LEAD))
    events = backend.ticket_history(ticket.id)
    assert [(e.actor, e.by) for e in events if e.change == "comment"][1:] == [
        (CUSTOMER, "requester"),
        (CUSTOMER, None),
        (LEAD, "requester"),
    ]
    assert [(e.old, e.new) for e in events if e.change == "requester"] == [(CUSTOMER, LEAD)]


def test_history_pages_the_audits_a_hundred_at_a_time_with_their_authors(zendesk_harness, server):
    (tid,) = server.seed_tickets(1, requester=CUSTOMER)
    server.seed_comments([tid], 250, author=CUSTOMER)  # an audit each
    b = backend_for(zendesk_harness)
    events, n, sent = counted(server, lambda: b.ticket_history(str(tid)))
    audits = [r for r in sent if r.path == f"/api/v2/tickets/{tid}/audits.json"]
    assert n == len(audits) == 3, [r.path for r in sent]  # 251 audits: 100, 100, 51; no user look-up
    assert {r.arg("page[size]") for r in audits} == {"100"} and {r.arg("include") for r in audits} == {"users"}
    comments = [e for e in events if e.change == "comment"]
    assert len(comments) == 251 and all(e.by == "requester" for e in comments[1:])
    assert len({e.detail["comment_id"] for e in comments}) == 251


def test_history_from_the_command_line_and_an_unknown_ticket(zendesk_harness, server, config):
    (tid,) = server.seed_tickets(1, requester=CUSTOMER, subject="Seeded")
    server.close(tid)
    result = tix(zendesk_harness, config, "history", str(tid), "--format", "json")
    assert result.code == 0, result.err
    events = json.loads(result.out)
    assert [e["change"] for e in events] == ["created", "comment", "status"]
    assert events[-1]["by"] == "automatic" and events[-1]["actor"] == CLOSER
    missing = tix(zendesk_harness, config, "history", "424242")
    assert missing.code == 4 and "424242" in one_error(missing)


# -- history: hostile audits ----------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body["audits"][0].update(events="not a list"),
        lambda body: body["audits"][0].update(events=[{"type": "Notification", "id": i} for i in range(3000)]),
        lambda body: body["audits"][0]["events"].append(
            {"type": "Change", "id": 1, "field_name": "subject", "previous_value": "a", "value": "x" * 100_000}
        ),
        lambda body: body["audits"][0]["events"].append(
            {"type": "Change", "id": 1, "field_name": "tags", "previous_value": [], "value": {"a": 1}}
        ),
        lambda body: body["audits"][0].update(created_at="yesterday"),
        lambda body: body["audits"][0].update(via="web"),
    ],
    ids=["events-not-a-list", "3000-events", "huge-subject", "tags-an-object", "bad-time", "via-not-an-object"],
)
def test_a_malformed_audit_is_exit_8_in_one_line(zendesk_harness, server, config, monkeypatch, change):
    (tid,) = server.seed_tickets(1)
    rewrite(monkeypatch, server, "/audits", lambda body, request: change(body))
    result = tix(zendesk_harness, config, "history", str(tid))
    assert result.code == 8
    assert "Zendesk" in one_error(result)


def test_audit_pages_that_never_end_or_lead_elsewhere_are_not_followed(zendesk_harness, server, config, monkeypatch):
    (tid,) = server.seed_tickets(1)

    def again(body, request):  # the same page for ever
        body["meta"]["has_more"] = True
        body["links"]["next"] = f"{server.url}{request.path}?page%5Bsize%5D=100"  # the first page again

    rewrite(monkeypatch, server, "/audits", again)
    before = server.count()
    result = tix(zendesk_harness, config, "history", str(tid))
    assert result.code == 8 and "nothing new" in one_error(result)
    assert server.count() - before <= 3

    def elsewhere(body, request):
        body["meta"]["has_more"] = True
        body["links"]["next"] = "http://127.0.0.2:9/api/v2/tickets/1/audits.json"

    rewrite(monkeypatch, server, "/audits", elsewhere)
    result = tix(zendesk_harness, config, "history", str(tid))
    assert result.code == 8 and "another origin" in one_error(result)


# -- custom fields: converted by type, refused by name ---------------------------------------


def test_each_field_type_is_converted_sent_as_custom_fields_and_read_back(zendesk_harness, server, config):
    args = ["--field", "service=hosting", "--field", "department=billing", "--field", "products=Hosting, DOMAINS"]
    args += ["--field", "vip=yes", "--field", "seats=12", "--field", "amount=3.50", "--field", "renewal=2026-03-01"]
    before = server.count()
    created = tix(zendesk_harness, config, "create", "--subject", "fields", "--body", "b", *args)
    assert created.code == 0, created.err
    sent = server.requests[before:]
    assert [r.path for r in sent] == [
        "/api/v2/ticket_fields/show_many.json",  # every mapped field's type, in one request
        "/api/v2/tickets.json",
        "/api/v2/users/show_many.json",  # the requester
    ]
    post = sent[1].json["ticket"]["custom_fields"]
    assert {f["id"]: f["value"] for f in post} == {
        SERVICE: "hosting",
        DEPARTMENT: "dept_billing",  # an option by its name (case aside) or its tag: the tag is sent
        PRODUCTS: ["hosting", "domains"],
        VIP: True,
        SEATS: 12,
        AMOUNT: 3.5,
        RENEWAL: "2026-03-01",
    }
    shown = json.loads(tix(zendesk_harness, config, "show", created.out.strip(), "--format", "json").out)
    assert shown["fields"] == {
        "service": "hosting",
        "department": "dept_billing",
        "products": ["hosting", "domains"],
        "vip": True,
        "seats": 12,  # the stand-in gives numbers back as text, as the Tickets API's example does
        "amount": 3.5,
        "renewal": "2026-03-01",
    }
    assert shown["channel"] == "api"


@pytest.mark.parametrize(
    ("assignment", "named", "hint"),
    [
        ("seats=many", "'seats' (Seats) takes a whole number", None),
        ("seats=1.5", "'seats' (Seats) takes a whole number", None),
        ("amount=1,5", "'amount' (Amount) takes a number", None),
        ("renewal=2026-02-30", "'renewal' (Renewal date) takes a date", "YYYY-MM-DD"),
        ("renewal=tomorrow", "'renewal' (Renewal date) takes a date", "YYYY-MM-DD"),
        ("vip=maybe", "'vip' (Priority customer) takes true or false", "yes/no"),
        ("department=sales", "'department' (Department) has no such option", "Billing (dept_billing)"),
        ("products=hosting,nope", "'products' (Products) has no such option", "Domains (domains)"),
        ("products=,", "'products' (Products) takes one of its options", None),
    ],
)
def test_a_value_its_field_refuses_is_exit_6_naming_the_field_before_any_write(
    zendesk_harness, server, config, assignment, named, hint
):
    before = server.count()
    result = tix(zendesk_harness, config, "create", "--subject", "s", "--body", "b", "--field", assignment)
    assert result.code == 6
    assert named in one_error(result)
    if hint:
        assert hint in result.err
    assert [r.path for r in server.requests[before:]] == ["/api/v2/ticket_fields/show_many.json"]
    assert server.ticket_count() == 0


def test_names_the_profile_does_not_map_and_fields_the_account_lacks(zendesk_harness, server, config, tmp_path):
    before = server.count()
    result = tix(zendesk_harness, config, "create", "--subject", "s", "--body", "b", "--field", "colour=red")
    assert result.code == 6 and "colour" in one_error(result) and "service, department" in result.err
    assert server.count() == before  # refused before anything is sent
    ghost = tmp_path / "ghost.yaml"
    write_config(ghost, server.url, fields="{ghost: 99999999}")
    result = run(
        "--config", str(ghost), "create", "-s", "s", "--body", "b", "--field", "ghost=x", env=zendesk_harness.env
    )
    assert result.code == 3 and "99999999" in one_error(result)
    assert server.ticket_count() == 0


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ("{service: abc}", "not a ticket field id"),
        ("{service: -4}", "not a ticket field id"),
        ("{service: true}", "not a ticket field id"),
        ('{"": 12}', "not a non-empty string"),
        ('{"a=b": 12}', "no '='"),
        ("{service: 12, other: 12}", "maps both"),
        ("[service]", "must be a mapping"),
    ],
)
def test_the_profiles_fields_are_checked_when_it_loads(zendesk_harness, server, tmp_path, fields, problem):
    path = tmp_path / "bad.yaml"
    write_config(path, server.url, fields=fields)
    result = run("--config", str(path), "list", env=zendesk_harness.env)
    assert result.code == 3 and "fields" in one_error(result) and problem in result.err
    assert server.count() == 0


def test_edit_sends_only_the_changed_fields_and_clears_one(zendesk_harness, server, config):
    tid = tix(zendesk_harness, config, "create", "-s", "s", "--body", "b", "--field", "department=billing").out.strip()
    before = server.count()
    edited = tix(zendesk_harness, config, "edit", tid, "--field", "department=Commercial", "--field", "service=")
    assert edited.code == 0, edited.err
    sent = server.requests[before:]
    assert [r.method for r in sent] == ["GET", "GET", "GET", "PUT"]  # field types, ticket, comments
    assert sent[-1].json["ticket"] == {"custom_fields": [{"id": DEPARTMENT, "value": "dept_commercial"}]}
    cleared = tix(zendesk_harness, config, "edit", tid, "--field", "department=")
    assert cleared.code == 0, cleared.err
    assert server.requests[-1].json["ticket"] == {"custom_fields": [{"id": DEPARTMENT, "value": None}]}
    events = json.loads(tix(zendesk_harness, config, "history", tid, "--format", "json").out)
    assert [(e["field"], e["old"], e["new"]) for e in events if e["change"] == "field"] == [
        ("department", "dept_billing", "dept_commercial"),
        ("department", "dept_commercial", None),
    ]
    shown = json.loads(tix(zendesk_harness, config, "show", tid, "--format", "json").out)
    assert shown["fields"]["department"] is None and "dept_commercial" not in shown["tags"]


# -- custom fields and channel: hostile values from the server --------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [{"id": SERVICE, "value": "x" * 70_000}],
        [{"id": SERVICE, "value": {"nested": True}}],
        [{"id": PRODUCTS, "value": [1, 2]}],
        [{"id": PRODUCTS, "value": ["x"] * 5000}],
        [{"id": RENEWAL, "value": "20260301"}],  # a number as text in a date field: its type is read
        [{"id": SEATS, "value": "1.5"}],  # a number, but not a whole one, in an integer field
        [{"id": str(SERVICE), "value": "id as text"}],
        "not a list",
    ],
    ids=["huge", "object", "list-of-numbers", "5000-options", "date-a-number", "not-whole", "id-text", "not-a-list"],
)
def test_a_hostile_custom_field_value_is_exit_8(zendesk_harness, server, config, monkeypatch, values):
    (tid,) = server.seed_tickets(1)
    rewrite(
        monkeypatch, server, f"/tickets/{tid}.json", lambda body, request: body["ticket"].update(custom_fields=values)
    )
    result = tix(zendesk_harness, config, "show", str(tid))
    assert result.code == 8 and "Zendesk" in one_error(result)


def test_hostile_field_metadata_and_via_are_exit_8(zendesk_harness, server, config, monkeypatch):
    def options(body, request):
        for field in body["ticket_fields"]:
            field["custom_field_options"] = [{"name": 1, "value": None}]

    rewrite(monkeypatch, server, "/ticket_fields", options)
    result = tix(zendesk_harness, config, "create", "-s", "s", "--body", "b", "--field", "department=billing")
    assert result.code == 8 and "option" in one_error(result)
    (tid,) = server.seed_tickets(1, channel={"channel": ["email"]})
    assert tix(zendesk_harness, config, "show", str(tid)).code == 8
    with server.lock:
        server.tickets[tid]["via"] = {"channel": "x" * 10_000}  # a long name: just not a channel tixcli knows
    shown = json.loads(tix(zendesk_harness, config, "show", str(tid), "--format", "json").out)
    assert shown["channel"] == "other"


# -- channel --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("via", "channel"),
    [
        ("web", "web"),
        ("email", "email"),
        ("mail", "email"),
        ("chat", "chat"),
        ("native_messaging", "messaging"),
        ("voice", "phone"),
        ("api", "api"),
        ("mobile_sdk", "mobile"),
        ("twitter", "social"),
        ("facebook", "social"),
        ("sms", "sms"),
        ("sample_ticket", "other"),
        (4, "email"),  # a via id
        (None, None),
    ],
)
def test_via_channel_maps_onto_tixclis_channels(server, backend, via, channel):
    (tid,) = server.seed_tickets(1, channel={"channel": via} if via is not None else {})
    assert backend.get(str(tid)).channel == channel
    assert channel is None or channel in CHANNELS


def test_list_channel_and_field_check_each_result_and_page_on(server, backend, monkeypatch):
    monkeypatch.setattr(zendesk, "SEARCH_PAGE", 5)
    email = server.seed_tickets(1, channel="email", created_at=1_700_000_000)  # the oldest: the last page
    billing = server.seed_tickets(
        1, custom_fields=[{"id": DEPARTMENT, "value": "dept_billing"}], created_at=1_700_000_100
    )
    server.seed_tickets(12, created_at=lambda i: 1_700_001_000 + i)
    query = ListQuery(user=AGENT, scope="all", statuses=None, limit=1)
    found, n, sent = counted(server, lambda: backend.list_tickets(replace_query(query, channel="email")))
    assert [t.id for t in found] == [str(email[0])]
    assert len([r for r in sent if r.path == "/api/v2/search.json"]) == 3  # 14 results, 5 a page
    assert "via" not in sent[0].arg("query")
    fields = backend.custom_fields({"department": "Billing"})  # by the option's name
    found = backend.list_tickets(replace_query(query, fields=tuple(fields.items())))
    assert [t.id for t in found] == [str(billing[0])]
    assert backend.list_tickets(replace_query(query, channel="phone", limit=50)) == []


def replace_query(query: ListQuery, **changes) -> ListQuery:
    from dataclasses import replace

    return replace(query, **changes)


def test_create_channel_is_refused_before_anything_is_sent(zendesk_harness, server, config):
    before = server.count()
    result = tix(zendesk_harness, config, "create", "-s", "s", "--body", "b", "--channel", "phone")
    assert result.code == 6 and "--channel" in one_error(result)
    assert server.count() == before


# -- requests per command ---------------------------------------------------------------------


def test_request_counts_of_history_show_and_create_with_fields(zendesk_harness, server):
    counts = {}

    def measure(name, call):
        b = backend_for(zendesk_harness)
        result, counts[name], _ = counted(server, lambda: call(b))
        b.shutdown()
        return result

    text = measure("create --field service=x", lambda b: b.create(new(fields=b.custom_fields({"service": "x"}))))
    number = measure("create --field seats=3", lambda b: b.create(new(fields=b.custom_fields({"seats": "3"}))))
    measure("show (a text field)", lambda b: b.get(text.ticket.id))
    measure("show (a number field)", lambda b: b.get(number.ticket.id))
    measure("list --field service=x", lambda b: b.list_tickets(ListQuery(user=AGENT, fields=(("service", "x"),))))
    measure(
        "edit --field service=y",
        lambda b: b.edit(text.ticket.id, TicketChange(fields=b.custom_fields({"service": "y"}))),
    )
    measure("reply", lambda b: b.reply(text.ticket.id, Reply(body="hi", author=CUSTOMER)))
    plain = backend_for(zendesk_harness).create(new(requester=CUSTOMER)).ticket
    measure("history (created, no more)", lambda b: b.ticket_history(plain.id))
    measure("history", lambda b: b.ticket_history(text.ticket.id))
    measure("history (after a solve)", lambda b: (b.solve(number.ticket.id), b.ticket_history(number.ticket.id)))
    assert counts == {
        "create --field service=x": 3,  # field types (show_many), POST, users (the requester)
        "create --field seats=3": 3,
        "show (a text field)": 2,  # the ticket, its comments: a text value needs no field type
        "show (a number field)": 3,  # and the field types once: "3" could be text or a number
        "list --field service=x": 3,  # field types, search (checked here), groups
        "edit --field service=y": 4,  # field types, ticket, comments, PUT
        "reply": 3,  # user search (the author), ticket, PUT
        "history (created, no more)": 1,  # the audits: their author side-loaded, first values not needed
        "history": 2,  # audits (their authors side-loaded: the agent, the customer), the field types
        "history (after a solve)": 5,  # ticket, PUT, groups; audits, the field types
    }, counts


def test_export_with_history_reads_the_ticket_events_for_an_admin_and_audits_for_an_agent(zendesk_harness, server):
    seeded = server.seed_tickets(250, requester=CUSTOMER)  # the core asks histories 200 at a time
    b = backend_for(zendesk_harness)
    made = b.create(new(requester=CUSTOMER, fields=b.custom_fields({"department": "billing"}))).ticket
    b.reply(made.id, Reply(body="from the customer", author=CUSTOMER))
    server.apply_rule(int(made.id), TRIGGER, priority="urgent")
    b.edit(made.id, TicketChange(fields=b.custom_fields({"department": "Commercial"})))  # a field's change
    b.solve(made.id)
    server.close(int(made.id))
    expected = {tid: [(e.change, e.by) for e in b.ticket_history(tid)] for tid in (made.id, str(seeded[0]))}
    b.shutdown()

    def export(admin: bool):
        server.admin = admin
        plain = backend_for(zendesk_harness)
        _, bare, _ = counted(server, lambda: list(plain.export_tickets()))
        plain.shutdown()
        full = backend_for(zendesk_harness)
        items, n, sent = counted(server, lambda: list(full.export_with_history(full.export_tickets())))
        full.shutdown()
        lines = {d["id"]: d for d in (json.loads(i.json_line) for i in items)}
        return lines, bare, n, sent

    lines, bare, n, sent = export(admin=True)
    assert len(lines) == 251
    assert sum(1 for r in sent if r.path.endswith("/audits.json")) == 0
    assert n == bare + 1, [r.path for r in sent]  # the ticket events, the tickets; the field types (a change)
    for tid, changes in expected.items():
        assert [(e["change"], e["by"]) for e in lines[tid]["history"]] == changes
    closing = lines[made.id]["history"][-1]
    assert (closing["change"], closing["by"], closing["new"]) == ("status", "automatic", "closed")
    assert closing["detail"]["rule_id"]  # the ticket events name the rule by id only

    lines, bare, n, sent = export(admin=False)
    assert len(lines) == 251
    assert sum(1 for r in sent if r.path.endswith("/audits.json")) == 251  # one a ticket
    assert n == bare + 251 + 1, [r.path for r in sent][:10]  # and the field types once
    for tid, changes in expected.items():
        assert [(e["change"], e["by"]) for e in lines[tid]["history"]] == changes
    assert lines[made.id]["history"][-1]["actor"] == CLOSER  # the audits name it


def test_export_with_history_since_reads_the_audits_of_tickets_older_than_the_events(zendesk_harness, server):
    old = server.seed_tickets(2, created_at=1_600_000_000, updated_at=1_600_000_000)
    server.seed_comments(old[:1], 1, at=lambda i, j: 1_700_000_000)  # changed after --since
    b = backend_for(zendesk_harness)
    from datetime import datetime, timezone

    items = list(b.export_with_history(b.export_tickets(since=datetime.fromtimestamp(1_650_000_000, timezone.utc))))
    b.shutdown()
    lines = [json.loads(i.json_line) for i in items]
    assert [d["id"] for d in lines] == [str(old[0])]
    assert [e["change"] for e in lines[0]["history"]] == ["created", "comment", "comment"]
    assert server.count("GET", r"/audits") == 1  # its events began before --since: its audits


def test_a_ticket_deleted_while_its_export_runs_gets_no_history_and_the_export_goes_on(zendesk_harness, server):
    server.admin = False  # audits a ticket
    ids = server.seed_tickets(3)
    server.inject(kind="status", status=404, match=rf"^GET /api/v2/tickets/{ids[1]}/audits", times=1)
    b = backend_for(zendesk_harness)
    lines = [json.loads(i.json_line) for i in b.export_with_history(b.export_tickets())]
    b.shutdown()
    assert [len(d["history"]) for d in lines] == [2, 0, 2]  # created and its comment; none


def test_the_spool_is_closed_when_the_backend_shuts_down(zendesk_harness, server):
    server.seed_tickets(3)
    b = backend_for(zendesk_harness)
    list(b.export_with_history(b.export_tickets()))
    spool = b.export_spool
    assert spool is not None
    b.shutdown()
    assert b.export_spool is None
    with pytest.raises(Exception):  # noqa: B017 - sqlite3.ProgrammingError: closed
        spool.db.execute("SELECT 1")


def test_field_value_conversion_by_type_unit():
    meta = zendesk.FieldMeta(1, "multiselect", "Products", (("Hosting", "hosting"), ("E-mail", "email_service")))
    assert zendesk.field_value(meta, "products", "e-mail, hosting, E-MAIL") == ["email_service", "hosting"]
    assert zendesk.server_value(meta, "products", "hosting email_service", history=True) == ["hosting", "email_service"]
    check = zendesk.FieldMeta(2, "checkbox", "VIP")
    assert [zendesk.field_value(check, "vip", t) for t in ("TRUE", "no", "1", "0")] == [True, False, True, False]
    assert zendesk.server_value(check, "vip", "1", history=True) is True
    assert zendesk.server_value(zendesk.FieldMeta(3, "decimal", "Amount"), "amount", "2") == 2.0
    assert zendesk.server_value(None, "x", "") is None and zendesk.server_value(None, "x", []) is None
    with pytest.raises(UnavailableError):
        zendesk.server_value(zendesk.FieldMeta(4, "integer", "Seats"), "seats", True)
    assert set(zendesk.VIA_CHANNELS.values()) | set(zendesk.VIA_IDS.values()) <= set(CHANNELS)


def test_stand_in_audits_and_fields_conform_to_the_spec(zendesk_harness, server, backend):
    from standins.spec import get_checker

    checker = get_checker("zendesk")  # skips without the spec, fails under CI
    server.notify_on_comment = True
    ticket = backend.create(new(requester=CUSTOMER, fields=backend.custom_fields({"products": "hosting"}))).ticket
    backend.reply(ticket.id, Reply(body="x", author=CUSTOMER))
    server.apply_rule(int(ticket.id), TRIGGER, priority="high")
    backend.edit(ticket.id, TicketChange(fields=backend.custom_fields({"vip": "yes", "seats": "4"})))
    backend.ticket_history(ticket.id)
    list(backend.export_with_history(backend.export_tickets()))
    assert server.count("GET", "/audits") == 1 and server.count("GET", "/ticket_fields/show_many") == 1
    import requests

    auth = (f"{AGENT}/token", TOKEN)
    for path in ("/api/v2/ticket_fields.json", f"/api/v2/ticket_fields/{DEPARTMENT}.json"):  # the others
        assert requests.get(server.url + path, auth=auth, timeout=5).status_code == 200
    offset = requests.get(f"{server.url}/api/v2/tickets/{ticket.id}/audits.json", auth=auth, timeout=5).json()
    assert len(offset["audits"]) == 3 and offset["next_page"] is None  # offset paging, the default
    checker.assert_conforms(server)
