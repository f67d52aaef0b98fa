"""JSM: a request's history (changelog, status history, comments), custom fields by name, the
group carried by a field, and `export --with-history` (issue 15).

Everything runs over real HTTP against the JSM stand-in (tests/standins/jsm.py), whose changelog
records every write it performs.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from cli import run
from harness import CUSTOMER, LEAD
from harness_jsm import JSM_EMAIL, JSM_TOKEN, backend_for, new_request, write_jsm_config
from standins.jsm import AUTOMATION_ID, AUTOMATION_NAME

from tixcli.backends.jsm import JSMBackend
from tixcli.config import Profile
from tixcli.errors import ConfigError, InvalidInputError, NotFoundError, UnavailableError
from tixcli.model import ListQuery, Reply, TicketChange

ME = JSM_EMAIL
FIELDS = {
    "service": "customfield_10050",  # text
    "department": "customfield_10051",  # select
    "products": "customfield_10052",  # multi-select
    "seats": "customfield_10053",  # number
    "renewal": "customfield_10054",  # date
}
CHANGELOG = r"^/rest/api/3/issue/[^/]+/changelog$"
CREATE = r"^/rest/servicedeskapi/request$"
EDIT = r"^/rest/api/3/issue/[^/]+$"
WRITES = ("POST", "PUT", "DELETE")
COUNTS: dict[str, int] = {}  # measured below, for the README


@pytest.fixture
def server(jsm_harness):
    return jsm_harness.server


@pytest.fixture
def backend(jsm_harness):
    b = backend_for(jsm_harness, fields=FIELDS)
    yield b
    b.shutdown()


@pytest.fixture
def config(jsm_harness, tmp_path):
    """A CLI config whose profile maps every field of the stand-in."""
    path = tmp_path / "fields.yaml"
    write_jsm_config(path, jsm_harness.server, fields=FIELDS)
    return path


new = new_request


def counted(server, call):
    """(result, requests the call sent, those requests)."""
    before = server.count()
    result = call()
    return result, server.count() - before, server.requests[before:]


def cli(harness, config, *args):
    return run("--config", str(config), *args, env=harness.env)


def writes(sent) -> list[str]:
    return [f"{r.method} {r.path}" for r in sent if r.method in WRITES]


def bodies(sent, method, path):
    return [r.json for r in sent if r.method == method and re.search(path, r.path)]


def platform(server):
    """A session on the stand-in's platform API as its agent (to act outside tixcli)."""
    session = requests.Session()
    session.auth = (ME, JSM_TOKEN)
    return lambda method, path, **kw: session.request(method, server.url + path, timeout=5, **kw)


def changes(events, kind):
    return [e for e in events if e.change == kind]


# -- history: the changelog, paged ---------------------------------------------------------------


def test_a_long_changelog_is_paged_at_100_and_read_in_full(server, backend):
    key = backend.create(new(subject="renamed often")).ticket.id
    server.add_changes(key, 250)
    fresh = backend_for_run(backend)
    events, n, sent = counted(server, lambda: fresh.ticket_history(key))
    subjects = changes(events, "subject")
    assert len(subjects) == 250 and subjects[-1].new == "renamed often #250"
    assert subjects[0].old == "renamed often" and events[0].change == "created" and events[0].new == "renamed often"
    pages = [r for r in sent if re.search(CHANGELOG, r.path)]
    assert [r.query["maxResults"] for r in pages] == [["100"]] * 3  # the most the docs allow
    assert [r.query["startAt"] for r in pages] == [["0"], ["100"], ["200"]]
    assert n == 1 + 3  # the issue (its embedded changelog: the newest 100 of 250), then 3 pages
    COUNTS["history (250 changes)"] = n


def test_a_changelog_the_issue_holds_whole_needs_no_more_requests(server, backend):
    key = backend.create(new()).ticket.id
    server.add_changes(key, 5)
    events, n, sent = counted(server, lambda: backend_for_run(backend).ticket_history(key))
    assert len(changes(events, "subject")) == 5
    assert not [r for r in sent if re.search(CHANGELOG, r.path)]
    assert n == 1  # the issue with its changelog and comments


def test_a_page_that_never_ends_stops_with_exit_8(server, backend):
    key = backend.create(new()).ticket.id
    server.add_changes(key, 150)
    server.embedded_changelog = 10
    server.stuck_paging = 50
    fresh = backend_for_run(backend)
    before = server.count()
    with pytest.raises(UnavailableError, match="page after page"):
        fresh.ticket_history(key)
    assert server.count() - before <= 5


def test_the_history_of_an_unknown_request_is_not_found(backend):
    with pytest.raises(NotFoundError):
        backend.ticket_history("SUP-424242")


# -- history: statuses, people, automation -------------------------------------------------------


def test_statuses_are_normalised_through_the_profile_and_the_categories(jsm_harness, server):
    b = backend_for(jsm_harness, statuses={"hold": ["In progress"], "solved": ["Done-ish"]})
    key = b.create(new()).ticket.id
    api = platform(server)
    assert api("POST", f"/rest/api/3/issue/{key}/transitions", json={"transition": {"id": "21"}}).status_code == 204
    body = {"transition": {"id": "41"}, "fields": {"resolution": {"name": "Done"}}}
    assert api("POST", f"/rest/api/3/issue/{key}/transitions", json=body).status_code == 204
    fresh = backend_for(jsm_harness, statuses={"hold": ["In progress"], "solved": ["Done-ish"]})
    events, _, sent = counted(server, lambda: fresh.ticket_history(key))
    status = [(e.old, e.new, e.detail["from"], e.detail["to"]) for e in changes(events, "status")]
    # "In progress" is hold by the profile; "Resolved" no list names: its category (done) makes it solved
    assert status == [
        ("open", "hold", "Waiting for support", "In progress"),
        ("hold", "solved", "In progress", "Resolved"),
    ]
    assert [r.path for r in sent].count("/rest/api/3/status") == 1
    _, _, again = counted(server, lambda: fresh.ticket_history(key))
    assert "/rest/api/3/status" not in [r.path for r in again]  # once a run
    assert changes(events, "other")[0].detail == {"what": "resolution"} and changes(events, "other")[0].new == "Done"


def test_who_did_it_the_requester_an_agent_or_the_automation(jsm_harness, server, backend):
    made = backend.create(new(requester=CUSTOMER, priority="low", cc=[LEAD])).ticket
    backend.reply(made.id, Reply("on it", ME, status="pending"))  # the automation: to "Waiting for customer"
    server.act_as(CUSTOMER, agent=False)
    server.add_comment(made.id, "thanks, still broken")  # as the portal posts it; automation: back to support
    server.act_as(ME, agent=True)
    backend.update_cc(made.id, [], [LEAD])
    events = backend_for_run(backend).ticket_history(made.id)
    assert (events[0].change, events[0].actor, events[0].by, events[0].new) == (
        "created",
        CUSTOMER,
        "requester",
        "Printer on fire",
    )
    comments = [(e.actor, e.by, e.detail["public"]) for e in changes(events, "comment")]
    assert comments == [(ME, "agent", True), (CUSTOMER, "requester", True)]
    automatic = [e for e in events if e.by == "automatic"]
    assert [(e.change, e.actor, e.old, e.new) for e in automatic] == [
        ("status", AUTOMATION_NAME, "open", "pending"),
        ("status", AUTOMATION_NAME, "pending", "open"),
    ]
    assert [(e.old, e.new, e.by) for e in changes(events, "priority")] == [("normal", "low", "agent")]
    assert [(e.old, e.new) for e in changes(events, "cc")] == [([LEAD], [])]
    assert all(e.at for e in events) and [e.at for e in events] == sorted(e.at for e in events)


def test_tags_assignee_requester_type_and_files_in_the_history(server, backend, tmp_path):
    from tixcli.model import FileUpload

    key = backend.create(new(tags=["vpn"], dedupe_key="k-1")).ticket.id
    f = tmp_path / "a.log"
    f.write_text("log")
    backend.reply(key, Reply("log", ME, public=False, attachments=[FileUpload(f, "a.log", 3, "text/plain")]))
    backend.edit(key, TicketChange(add_tags=["dns"], remove_tags=["vpn"], assignee=ME, type="task"))
    backend.edit(key, TicketChange(requester=CUSTOMER))
    events = backend_for_run(backend).ticket_history(key)
    # the label carrying the dedupe key is no tag: the create's label edit shows only "vpn"
    assert [(e.old, e.new) for e in changes(events, "tags")] == [([], ["vpn"]), (["vpn"], ["dns"])]
    assert [(e.old, e.new) for e in changes(events, "assignee")] == [(None, ME)]
    assert [(e.old, e.new) for e in changes(events, "requester")] == [(ME, CUSTOMER)]
    assert [(e.old, e.new) for e in changes(events, "type")] == [("question", "task")]
    [attachment] = changes(events, "attachment")
    # the agent was the requester until the last edit: what it did before counts as the requester's
    assert attachment.new == "a.log" and attachment.detail["attachment_id"] and attachment.by == "requester"
    assert [e.detail["public"] for e in changes(events, "comment")] == [False]
    assert events[0].actor == ME and events[0].by == "requester"
    assert changes(events, "requester")[0].by == "requester"  # the change itself: by who was the requester


def test_a_customer_account_reads_the_status_history_and_the_comments(jsm_harness, server, backend, tmp_path):
    from standins.spec import get_checker

    from tixcli.model import FileUpload

    made = backend.create(new(requester=CUSTOMER)).ticket
    backend.reply(made.id, Reply("on it", ME))
    backend.solve(made.id)
    server.act_as(CUSTOMER, agent=False)
    customer = backend_for(jsm_harness, email=CUSTOMER)
    f = tmp_path / "b.txt"
    f.write_text("b")
    customer.reply(made.id, Reply("files", CUSTOMER, attachments=[FileUpload(f, "b.txt", 1, "text/plain")]))
    fresh = backend_for(jsm_harness, email=CUSTOMER)
    before = len(server.exchanges)
    events, n, sent = counted(server, lambda: fresh.ticket_history(made.id))
    assert n == 4  # the platform (403: a customer), the request, its status history, its comments
    assert [r.path.rsplit("/", 1)[-1] for r in sent[1:]] == [made.id, "status", "comment"]
    COUNTS["history (a customer account)"] = n
    status = [(e.old, e.new, e.by) for e in changes(events, "status")]
    assert status[0] == ("open", "pending", None) and status[-1][1] in ("open", "solved")
    assert ("pending", "open", None) in status or ("solved", "open", None) in status
    assert [e.new for e in changes(events, "attachment")] == ["b.txt"]
    assert [e.by for e in changes(events, "comment")] == ["agent", "requester"]
    sd = [ex for ex in server.exchanges[before:] if ex.request.path.startswith("/rest/servicedeskapi")]
    assert sd and get_checker("jsm").problems(sd) == []


def test_history_through_the_cli(jsm_harness, server, config):
    created = cli(jsm_harness, config, "create", "--subject", "CLI history", "--body", "b", "--field", "seats=3")
    assert created.code == 0, created.err
    key = created.out.strip()
    assert cli(jsm_harness, config, "edit", key, "--field", "seats=4", "--priority", "high").code == 0
    shown = cli(jsm_harness, config, "history", key, "--format", "json")
    assert shown.code == 0, shown.err
    events = json.loads(shown.out)
    assert [(e["change"], e["field"], e["old"], e["new"]) for e in events if e["change"] in ("field", "priority")] == [
        ("field", "seats", None, 3),
        ("priority", None, "normal", "high"),  # one edit: the system field's item first, as Jira's
        ("field", "seats", 3, 4),
    ]
    assert all(e["ticket_id"] == key and e["backend"] == "jsm" for e in events)
    table = cli(jsm_harness, config, "history", key)
    assert table.code == 0 and "field seats" in table.out and "agent@example.com" in table.out


# -- history: what a hostile site sends ------------------------------------------------------------


def _tamper_changelog(server, change):
    """Rewrite the embedded changelog of GET issue answers with `change(histories)`."""

    def tamper(request, data):
        if re.match(r"^/rest/api/2/issue/[^/]+$", request.path) and isinstance(data, dict) and "changelog" in data:
            change(data["changelog"])
        return data

    server.tamper = tamper


def test_hostile_history_values_are_bounded_and_checked(server, backend):
    key = backend.create(new()).ticket.id
    server.add_changes(key, 1)

    def change(page):
        item = page["histories"][0]["items"][0]
        item["fromString"] = "x" * 1_000_000
        item["toString"] = "bell\x07 and \x1b[31m escape"
        page["histories"][0]["author"] = {"accountId": "a" * 10_000, "displayName": "y" * 50_000}
        page["histories"].append({"id": "1", "created": "2026-01-01T00:00:00.000+0000", "items": [{"field": 7}]})
        page["histories"].append({"id": "2", "items": [{"field": "labels", "toString": "a " * 10_000}]})
        page["total"] = len(page["histories"])

    _tamper_changelog(server, change)
    events = backend_for_run(backend).ticket_history(key)
    [subject] = changes(events, "subject")
    assert len(subject.old) == 1_000 and subject.old.endswith("…") and len(subject.actor) == 1_000
    assert subject.by == "agent"
    [tags] = changes(events, "tags")
    assert len(tags.new) == 100
    assert [e.change for e in events].count("other") == 1  # the item whose field is no text
    shown = json.dumps([e.to_dict(key, "jsm") for e in events])
    assert len(shown) < 20_000


@pytest.mark.parametrize(
    "change",
    [
        lambda page: page["histories"].append({"id": "9", "created": "not a time", "items": []}),
        lambda page: page["histories"].append({"id": "9", "created": "2026-01-01T00:00:00.000+0000", "items": "x"}),
        lambda page: page.update(histories=["not an object"], total=1),
    ],
)
def test_a_malformed_changelog_is_exit_8(server, backend, change):
    key = backend.create(new()).ticket.id
    server.add_changes(key, 1)

    def grow(page):
        change(page)
        page["total"] = len(page["histories"])

    _tamper_changelog(server, grow)
    with pytest.raises(UnavailableError, match="malformed"):
        backend_for_run(backend).ticket_history(key)


def test_an_embedded_changelog_that_says_less_than_it_holds_is_read_from_its_endpoint(server, backend):
    key = backend.create(new()).ticket.id
    server.add_changes(key, 3)
    _tamper_changelog(server, lambda page: page.update(total=99))  # "more follow": read them all
    events, _, sent = counted(server, lambda: backend_for_run(backend).ticket_history(key))
    assert len(changes(events, "subject")) == 3
    assert len([r for r in sent if re.search(CHANGELOG, r.path)]) == 1


def test_hostile_custom_field_values_are_bounded(server, backend):
    key = backend.create(new()).ticket.id

    def tamper(request, data):
        if request.path == f"/rest/api/3/issue/{key}" and isinstance(data, dict):
            data["fields"]["customfield_10050"] = "s" * 100_000
            data["fields"]["customfield_10052"] = [{"value": f"o{i}"} for i in range(10_000)]
            data["fields"]["customfield_10053"] = 1e308  # no number a field holds
            data["fields"]["customfield_10054"] = {"nested": {"deeper": [1, 2]}}
        return data

    server.tamper = tamper
    ticket = backend.get(key)
    assert len(ticket.fields["service"]) == 32_767
    assert len(ticket.fields["products"]) == 100
    assert "seats" not in ticket.fields and "renewal" not in ticket.fields


# -- custom fields: conversion, refusals, request counts -------------------------------------------


def test_a_text_number_date_select_and_multi_select_go_as_each_field_takes_them(server, backend):
    server.form_fields["11"] = ("customfield_10051",)  # Technical's form has Department
    values = backend.custom_fields(
        {
            "service": "hosting",
            "department": "billing",
            "products": "vps, DNS,vps",
            "seats": "5",
            "renewal": "2027-01-31",
        }
    )
    assert values == {
        "service": "hosting",
        "department": "billing",
        "products": ["vps", "DNS"],
        "seats": 5,
        "renewal": "2027-01-31",
    }
    made, n, sent = counted(server, lambda: backend.create(new(type="incident", fields=values)).ticket)
    [create] = bodies(sent, "POST", CREATE)
    assert create["requestFieldValues"]["customfield_10051"] == {"value": "Billing"}  # the option's spelling
    [edit] = bodies(sent, "PUT", EDIT)
    assert edit["fields"] == {
        "customfield_10050": "hosting",
        "customfield_10052": [{"value": "VPS"}, {"value": "DNS"}],  # checked with the create metadata
        "customfield_10053": 5,
        "customfield_10054": "2027-01-31",
    }
    assert made.fields == {
        "service": "hosting",
        "department": "Billing",
        "products": ["VPS", "DNS"],
        "seats": 5,
        "renewal": "2027-01-31",
    }
    assert backend.get(made.id).fields == made.fields
    COUNTS["create --field (5 fields, one on the form)"] = n
    from standins.spec import get_checker  # the servicedeskapi's part: the create, the form's fields

    sd = [ex for ex in server.exchanges if ex.request.path.startswith("/rest/servicedeskapi")]
    assert any(ex.request.path.endswith("/requesttype/11/field") for ex in sd)
    assert get_checker("jsm").problems(sd) == []
    # edit: only the changed ones; a cleared multi-select is an empty list
    cleared = backend.custom_fields({"products": None, "seats": "2.5"})
    result, _, sent = counted(server, lambda: backend.edit(made.id, TicketChange(fields=cleared)))
    assert bodies(sent, "PUT", EDIT) == [{"fields": {"customfield_10052": [], "customfield_10053": 2.5}}]
    assert result.ticket.fields == {
        "service": "hosting",
        "department": "Billing",
        "seats": 2.5,
        "renewal": "2027-01-31",
    }


def test_create_with_a_field_costs_what_a_create_costs_plus_the_lookups(jsm_harness, server):
    fresh = backend_for(jsm_harness, fields=FIELDS)  # a new run: nothing cached
    _, plain, _ = counted(server, lambda: fresh.create(new()))
    fresh = backend_for(jsm_harness, fields=FIELDS)
    values = fresh.custom_fields({"service": "hosting"})
    _, n, sent = counted(server, lambda: fresh.create(new(fields=values)))
    assert n == plain + 1  # the issue edit that sets a field the form lacks
    COUNTS["create --field service=hosting (+ the field list, once)"] = n + 1


@pytest.mark.parametrize(
    ("field", "why"),
    [
        ("seats=five", "field 'seats': 'five' is not a number"),
        ("renewal=2027-13-01", "field 'renewal': '2027-13-01' is not a date"),
        ("renewal=31/01/2027", "is not a date"),
        ("department=Sales", "field 'department' has no option 'Sales'"),
        ("products=VPS,Mainframe", "field 'products' has no option 'Mainframe'"),
        ("service=" + "x" * 256, "field 'service': a value holds at most 255 characters"),
        ("nonesuch=1", "the profile maps no custom field named 'nonesuch'"),
        ("seats", "--field takes NAME=VALUE"),
    ],
)
def test_a_value_a_field_cannot_take_is_exit_6_before_anything_is_written(jsm_harness, server, config, field, why):
    before = server.count()
    result = cli(jsm_harness, config, "create", "--subject", "s", "--body", "b", "--field", field)
    assert result.code == 6, result.err
    assert why in result.err
    assert writes(server.requests[before:]) == []
    if field.startswith("nonesuch"):
        assert "it maps: service, department, products, seats, renewal" in result.err


def test_edit_refuses_an_option_the_field_lacks_before_sending(server, backend, jsm_harness, config):
    key = backend.create(new()).ticket.id
    before = server.count()
    result = cli(jsm_harness, config, "edit", key, "--field", "department=Sales")
    assert result.code == 6 and "field 'department' has no option 'Sales'" in result.err
    assert "Commercial" in result.err and writes(server.requests[before:]) == []


def test_a_value_the_site_refuses_is_exit_6_naming_the_field(server, backend, jsm_harness, config):
    key = backend.create(new()).ticket.id
    server.inject(match=r"^GET /rest/api/3/issue/createmeta/", status=403)  # no options to check with
    result = cli(jsm_harness, config, "edit", key, "--field", "department=Sales")
    assert result.code == 6, result.err
    assert "field 'department' (customfield_10051)" in result.err and "Option value 'Sales' is not valid" in result.err


def test_a_mapped_id_the_site_lacks_is_a_configuration_error(jsm_harness):
    b = backend_for(jsm_harness, fields={"service": "customfield_99999"})
    with pytest.raises(ConfigError, match="fields.service is customfield_99999"):
        b.custom_fields({"service": "x"})


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        (["service"], "must map names to custom field ids"),
        ({"service": "cf_10050"}, "must be a custom field id like customfield_10050"),
        ({"service": "customfield_10050", "other": "10050"}, "maps customfield_10050 to more than one name"),
        ({"a=b": "customfield_10050"}, "invalid name"),
        ({"service": True}, "must be a custom field id"),
    ],
)
def test_the_fields_setting_is_checked_when_the_profile_loads(jsm_harness, fields, why):
    with pytest.raises(ConfigError, match=re.escape(why)):
        backend_for(jsm_harness, fields=fields)


def test_a_bare_number_names_a_custom_field(jsm_harness):
    b = backend_for(jsm_harness, fields={"service": 10050})
    assert b.fieldmap.ids == {"service": "customfield_10050"} and b.field_names() == ("service",)


# -- list --field ----------------------------------------------------------------------------------


def test_list_field_asks_jql_and_checks_each_value_exactly(server, backend):
    made = {}
    for name, service, products in (
        ("exact", "hosting", "VPS,DNS"),
        ("longer", "hosting plus", "VPS"),
        ("other", "billing", "Email"),
    ):
        values = backend.custom_fields({"service": service, "products": products})
        made[name] = backend.create(new(subject=name, fields=values)).ticket.id

    def listed(**fields):
        query = ListQuery(user=ME, scope="all", fields=tuple(backend.custom_fields(fields).items()))
        found, _, sent = counted(server, lambda: backend.list_tickets(query))
        return [t.id for t in found], sent

    found, sent = listed(service="Hosting")
    assert found == [made["exact"]]  # JQL's `~` finds both; the exact value is checked here
    [search] = [r for r in sent if r.path.endswith("/search/jql")]
    assert 'cf[10050] ~ "\\"Hosting\\""' in search.query["jql"][0]
    found, sent = listed(products="VPS")
    assert sorted(found) == sorted([made["exact"], made["longer"]])
    assert 'cf[10052] = "VPS"' in [r for r in sent if r.path.endswith("/search/jql")][0].query["jql"][0]
    assert listed(products="VPS,DNS")[0] == [made["exact"]]
    assert listed(service="nothing like it")[0] == []


def test_list_field_through_the_cli_and_an_option_jql_refuses(jsm_harness, server, backend, config):
    values = backend.custom_fields({"department": "Technical", "seats": "12"})
    key = backend.create(new(fields=values)).ticket.id
    result = cli(jsm_harness, config, "list", "--all", "--field", "seats=12", "--format", "json")
    assert result.code == 0, result.err
    assert [t["id"] for t in json.loads(result.out)] == [key]
    assert json.loads(result.out)[0]["fields"] == {"department": "Technical", "seats": 12}
    refused = cli(jsm_harness, config, "list", "--all", "--field", "department=Sales")
    assert refused.code == 6 and "field 'department' (cf[10051])" in refused.err


# -- the group carried by a field ------------------------------------------------------------------


def test_a_field_mapped_as_group_carries_create_edit_list_and_history(jsm_harness, server):
    plain = backend_for(jsm_harness)
    assert "groups" not in plain.capabilities and "groups" not in JSMBackend.capabilities
    b = backend_for(jsm_harness, fields={"group": "customfield_10051", "service": "customfield_10050"})
    assert "groups" in b.capabilities and b.field_names() == ("service",)
    made = b.create(new(group="billing")).ticket
    assert made.group == "Billing" and made.fields == {}
    other = b.create(new(subject="elsewhere", group="Commercial")).ticket
    query = ListQuery(user=ME, scope="all", group="BILLING")
    assert [t.id for t in b.list_tickets(query)] == [made.id]
    assert b.edit(made.id, TicketChange(group="Technical")).ticket.group == "Technical"
    assert [t.id for t in b.list_tickets(ListQuery(user=ME, scope="all", group="technical"))] == [made.id]
    assert b.get(other.id).group == "Commercial"
    events = backend_for(jsm_harness, fields={"group": "customfield_10051"}).ticket_history(made.id)
    assert [(e.old, e.new) for e in changes(events, "group")] == [(None, "Billing"), ("Billing", "Technical")]
    assert not changes(events, "field")


def test_group_through_the_cli_with_and_without_the_mapping(jsm_harness, server, tmp_path):
    grouped = tmp_path / "grouped.yaml"
    write_jsm_config(grouped, server, fields={"group": "customfield_10051"})
    made = run(
        "--config", str(grouped), "create", "--subject", "s", "--body", "b", "--group", "Billing", env=jsm_harness.env
    )
    assert made.code == 0, made.err
    shown = run("--config", str(grouped), "show", made.out.strip(), "--format", "json", env=jsm_harness.env)
    assert json.loads(shown.out)["group"] == "Billing"
    bad = run(
        "--config", str(grouped), "create", "--subject", "s", "--body", "b", "--group", "Sales", env=jsm_harness.env
    )
    assert bad.code == 6 and "has no option 'Sales'" in bad.err
    before = server.count()
    refused = run(
        "--config",
        str(jsm_harness.config_path),
        "create",
        "--subject",
        "s",
        "--body",
        "b",
        "--group",
        "Billing",
        env=jsm_harness.env,
    )
    assert refused.code == 6 and "groups" in refused.err and server.count() == before


# -- export --with-history -------------------------------------------------------------------------


def test_export_with_history_reads_the_changelogs_from_the_search_pages(jsm_harness, server, tmp_path):
    server.seed_requests(250, comments=3)
    for key in ("SUP-1", "SUP-120", "SUP-250"):
        server.add_changes(key, 2)
    server.add_changes("SUP-7", 150)  # more than a page embeds: its changelog endpoint, 2 pages
    out = tmp_path / "out.jsonl"
    before = server.count()
    result = run(
        "--config", str(jsm_harness.config_path), "export", "--with-history", "-o", str(out), env=jsm_harness.env
    )
    assert result.code == 0, result.err
    sent = server.requests[before:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 250
    by_key = {line["id"]: line for line in lines}
    assert [e["change"] for e in by_key["SUP-1"]["history"]] == [
        "created",
        "comment",
        "comment",
        "comment",
        "subject",
        "subject",
    ]
    assert len(by_key["SUP-7"]["history"]) == 1 + 3 + 150
    searches = [r for r in sent if r.path.endswith("/search/jql")]
    assert len(searches) == 3 and all(r.query["expand"] == ["changelog"] for r in searches)
    assert [r.path for r in sent if re.search(CHANGELOG, r.path)] == ["/rest/api/3/issue/SUP-7/changelog"] * 2
    assert len(sent) == 3 + 2 + 2  # 3 pages, SUP-7's changelog, the service desk and the field list
    COUNTS["export --with-history (250 requests, one with 150 changes)"] = len(sent)
    # each line is the request as `show` gives it, and its history as `history` gives it
    fresh = backend_for(jsm_harness)
    assert [e.change for e in fresh.ticket_history("SUP-7")] == [e["change"] for e in by_key["SUP-7"]["history"]]
    line = {k: v for k, v in by_key["SUP-120"].items() if k != "history"}
    assert line == fresh.get("SUP-120").to_dict()


def test_export_without_history_asks_for_no_changelog(jsm_harness, server):
    server.seed_requests(3)
    b = backend_for(jsm_harness)
    _, _, sent = counted(server, lambda: list(b.export()))
    assert all("expand" not in r.query for r in sent if r.path.endswith("/search/jql"))


# -- helpers -----------------------------------------------------------------------------------------


def backend_for_run(backend: JSMBackend) -> JSMBackend:
    """Another backend on the same profile: a new run, nothing cached."""
    p = backend.profile
    return JSMBackend(Profile(p.name, p.backend, dict(p.settings), p.source))


def test_print_counts():
    print("\nJSM requests (issue 15):", json.dumps(COUNTS, indent=1))


def test_automation_account_is_an_app(server):
    user = server.users[AUTOMATION_ID]
    assert user.app and not user.email


def test_field_value_conversion_without_a_server():
    from tixcli.backends.jsm_workflow import field_kind, field_value, wire_value

    assert field_kind({"type": "array", "items": "option", "custom": "x:multicheckboxes"}) == "options"
    assert field_kind({"type": "string", "custom": "x:textarea"}) == "textarea"
    assert field_kind({"type": "user"}) == "unsupported"
    assert field_value("number", "1e3", "n") == 1000 and field_value("number", "0.25", "n") == 0.25
    assert field_value("datetime", "2027-01-31T12:00:00Z", "d") == "2027-01-31T12:00:00+00:00"
    assert wire_value("datetime", "2027-01-31T12:00:00+00:00") == "2027-01-31T12:00:00.000+0000"
    assert wire_value("textarea", "two\nlines")["type"] == "doc" and wire_value("textarea", "x", adf=False) == "x"
    assert wire_value("option", None) is None and wire_value("options", None) == []
    with pytest.raises(InvalidInputError, match="cannot set"):
        field_value("unsupported", "x", "owner")
    for bad in ("nan", "inf", "1e400"):
        with pytest.raises(InvalidInputError, match="number"):
            field_value("number", bad, "n")
