"""JSM's SLA clocks, escalations and ratings (issue 16), over HTTP against the JSM stand-in.

- SLA: the request's SLA metrics (expand=sla on show, the site's SLA fields in search pages) as
  clocks: a pause while the request waits for the customer, a breach, a met clock, a new
  resolution cycle on reopen; `list --breaching` / `--due-within` through JQL's SLA functions on
  the profile's `sla_fields`, and filtered by tixcli without them (also where no SLA field is
  readable: one /sla read per candidate).
- Escalations: an issue of the engineering project (ENG) linked to the request; its status is
  the stage; open, move on and back, close, and the refusals, through the CLI.
- Ratings: the request's feedback, from its reporter only (exit 7 for another account, nothing
  sent); good 5, bad 1, 1..5 as given; read from the issue's Satisfaction and Satisfaction date
  fields (show, list and export alike: no request per request), GET feedback only on a site
  without them or whose field list is not readable.
- Requests per command: show, escalate, rate, list --breaching.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from cli import run
from harness import CUSTOMER
from harness_jsm import JSM_EMAIL, JSM_TOKEN, backend_for, new_request, write_jsm_config

from tixcli.backends.jsm_workflow import (
    EscalationMap,
    SlaMap,
    csat_satisfaction,
    sla_clock,
    sla_clocks,
    sla_slug,
)
from tixcli.config import Profile
from tixcli.errors import ConfigError
from tixcli.model import ListQuery, Reply, parse_iso

ME = JSM_EMAIL
STAGES = ["submitted", "evaluation", "engineering", "verification", "resolved"]
COUNTS: dict[str, int] = {}  # requests per command, printed for README


@pytest.fixture
def server(jsm_harness):
    return jsm_harness.server


@pytest.fixture
def backend(jsm_harness):
    b = backend_for(jsm_harness)
    yield b
    b.shutdown()


def cli(harness, *args, config=None):
    return run("--config", str(config or harness.config_path), *args, env=harness.env)


def counted(server, call):
    before = server.count()
    result = call()
    return result, server.requests[before:]


def jqls(requests) -> list[str]:
    return [r.query["jql"][0] for r in requests if r.path.endswith("/search/jql")]


def listed(harness, *args, config=None) -> list[str]:
    result = cli(harness, "list", "--all", *args, "--format", "json", config=config)
    assert result.code == 0, result.err
    return [t["id"] for t in json.loads(result.out)]


def other_profile(harness, tmp_path, **overrides):
    path = tmp_path / "other.yaml"
    write_jsm_config(path, harness.server, **overrides)
    return path


# -- SLA clocks ------------------------------------------------------------------------------


def test_sla_clocks_pause_while_waiting_for_the_customer_breach_and_restart_on_reopen(server, backend):
    key = backend.create(new_request(requester=CUSTOMER, priority="urgent")).ticket.id  # Highest: 30m / 2h
    made = backend.get(key)
    assert set(made.sla) == {"first_reply", "resolution"}
    assert all(c["stage"] == "active" and c["met_at"] is None for c in made.sla.values())
    created = parse_iso(made.created_at)
    assert timedelta(minutes=119) < parse_iso(made.sla["resolution"]["target_at"]) - created <= timedelta(hours=2)
    assert parse_iso(made.sla["first_reply"]["target_at"]) - created <= timedelta(minutes=30)

    # the agent's public reply meets the first response; the request waits for the customer
    backend.reply(key, Reply("which one?", ME, status="pending"))
    waiting = backend.get(key)
    assert waiting.status == "pending"
    assert waiting.sla["resolution"] == {"target_at": None, "stage": "paused", "met_at": None, "breached_at": None}
    assert waiting.sla["first_reply"]["stage"] == "met" and waiting.sla["first_reply"]["met_at"]

    late = backend.create(new_request(subject="nobody answers", requester=CUSTOMER, priority="urgent")).ticket.id
    server.advance(3 * 3600)  # three hours: past both goals of the second one (the first is paused)
    breached = backend.get(late).sla
    for metric in ("first_reply", "resolution"):
        assert breached[metric]["stage"] == "breached" and breached[metric]["met_at"] is None
        assert breached[metric]["breached_at"] == breached[metric]["target_at"]
    assert backend.get(key).sla["resolution"]["stage"] == "paused"
    query = ListQuery(user=ME, scope="all", breaching=True)
    assert [t.id for t in backend.list_tickets(query)] == [late]

    backend.solve(late)  # resolved late: met, but breached
    solved = backend.get(late).sla["resolution"]
    assert solved["stage"] == "breached" and solved["met_at"] and solved["breached_at"] < solved["met_at"]
    assert backend.list_tickets(query) == []
    backend.reopen(late)  # a new resolution cycle, with the whole goal again
    again = backend.get(late).sla["resolution"]
    assert again["stage"] == "active" and again["met_at"] is None
    assert parse_iso(again["target_at"]) > parse_iso(solved["met_at"]) + timedelta(minutes=119)
    exported = {item.ticket.id: item.ticket for item in backend.export()}
    assert exported[late].sla == backend.get(late).sla and exported[key].sla == backend.get(key).sla


def test_list_breaching_asks_jql_with_sla_fields_and_filters_without(jsm_harness, server, tmp_path):
    b = backend_for(jsm_harness)
    calm = b.create(new_request(subject="calm", priority="low")).ticket.id
    late = b.create(new_request(subject="late", priority="urgent")).ticket.id
    done = b.create(new_request(subject="done", priority="urgent")).ticket.id
    b.solve(done)
    server.advance(3 * 3600)  # urgent goals (2h) passed, low ones (8h / 3d) not

    result, sent = counted(server, lambda: listed(jsm_harness, "--breaching"))
    assert result == [late]
    [jql] = jqls(sent)
    assert '"Time to resolution" = breached() AND "Time to resolution" != completed()' in jql
    assert '"Time to first response" = breached()' in jql
    COUNTS["list --breaching (sla_fields: JQL)"] = len(sent)
    assert len(sent) <= 3  # the field list, the desk, one search page

    plain = other_profile(jsm_harness, tmp_path, sla_fields=None)
    result, sent = counted(server, lambda: listed(jsm_harness, "--breaching", config=plain))
    assert result == [late]
    [jql] = jqls(sent)
    assert "breached()" not in jql and "statusCategory != Done" in jql  # a clock can breach only while ongoing
    COUNTS["list --breaching (no sla_fields: filtered here)"] = len(sent)
    assert len(sent) <= 3  # the SLAs come with the search page (the site's SLA fields)

    # a site whose field list is not readable: no SLA fields in the page, one /sla read per candidate
    server.inject(status=403, match=r"^GET /rest/api/3/field", times=100)
    result, sent = counted(server, lambda: listed(jsm_harness, "--breaching", config=plain))
    assert result == [late]
    reads = sorted(r.path for r in sent if r.path.endswith("/sla"))
    assert reads == sorted(f"/rest/servicedeskapi/request/{k}/sla" for k in (calm, late))  # not the done one
    server.faults.clear()

    assert (
        listed(jsm_harness, "--due-within", "1d") == [calm] == listed(jsm_harness, "--due-within", "1d", config=plain)
    )
    assert listed(jsm_harness, "--due-within", "1m") == [] == listed(jsm_harness, "--due-within", "1m", config=plain)


def test_a_self_filtered_listing_is_bounded(jsm_harness, server, tmp_path, monkeypatch):
    import tixcli.backends.jsm as jsm

    monkeypatch.setattr(jsm, "SCAN_MOST", 5)
    server.seed_requests(8)
    plain = other_profile(jsm_harness, tmp_path, sla_fields=None)
    result = cli(jsm_harness, "list", "--all", "--breaching", config=plain)
    assert result.code == 8 and "sla_fields" in result.err, result.err


def test_the_sla_mapping_without_a_server():
    slas = SlaMap(Profile("p", "jsm", {"sla_fields": {"first_reply": "Time to first reply"}}))
    assert slas.metric("Time to first reply") == "first_reply" and slas.metric("Time to resolution") == "resolution"
    assert (
        slas.metric("Time to close after résolution")
        == "time_to_close_after_resolution"
        == sla_slug("Time to close after résolution")
    )
    at = {"epochMillis": 1_900_000_000_000}
    assert sla_clock({"completedCycles": []}) is None  # not started: no clock
    assert sla_clock({"ongoingCycle": {"paused": True, "breached": False}})["stage"] == "paused"
    met = sla_clock(
        {"completedCycles": [{"startTime": at, "stopTime": at, "breached": False, "goalDuration": {"millis": 60000}}]}
    )
    assert met == {
        "target_at": "2030-03-17T17:47:40+00:00",
        "stage": "met",
        "met_at": met["met_at"],
        "breached_at": None,
    }
    late = sla_clock({"completedCycles": [{"stopTime": at, "breached": True}]})
    assert late["stage"] == "breached" and late["met_at"] and late["target_at"] is None  # no start: no target said
    assert sla_clocks([{"name": "Odd"}, "junk", {"name": "", "ongoingCycle": {}}], slas) is None  # type: ignore[list-item]
    with pytest.raises(ConfigError):
        SlaMap(Profile("p", "jsm", {"sla_fields": {"first reply": "x"}}))
    with pytest.raises(ConfigError):
        EscalationMap(Profile("p", "jsm", {"escalation": {"project": "eng"}}))
    with pytest.raises(ConfigError):
        EscalationMap(Profile("p", "jsm", {"escalation": {"project": "ENG", "stages": {"To Do": "Submitted!"}}}))


# -- escalations -----------------------------------------------------------------------------


def test_an_escalation_opens_moves_and_closes_through_the_cli(jsm_harness, server):
    key = cli(jsm_harness, "create", "--subject", "db2 lost rows", "--body", "since 9:00").out.strip()
    opened, sent = counted(
        server,
        lambda: cli(jsm_harness, "escalate", key, "--reason", "data loss on db2\nsee the logs", "--eta", "2030-01-31"),
    )
    assert opened.code == 0, opened.err
    assert opened.out.strip() == "ENG-1"
    COUNTS["escalate --reason"] = len(sent)
    [create] = [r for r in sent if r.method == "POST" and r.path == "/rest/api/2/issue"]
    assert create.json["fields"] == {
        "project": {"key": "ENG"},
        "issuetype": {"name": "Task"},
        "summary": "data loss on db2",
        "description": "data loss on db2\nsee the logs",
        "duedate": "2030-01-31",
    }
    [link] = [r.json for r in sent if r.path == "/rest/api/3/issueLink"]
    assert link == {"type": {"name": "Escalates"}, "inwardIssue": {"key": key}, "outwardIssue": {"key": "ENG-1"}}
    eng = server.eng_issues["ENG-1"]
    assert (eng.status, eng.duedate) == ("To Do", "2030-01-31")

    again = cli(jsm_harness, "escalate", key, "--reason", "a second one")
    assert again.code == 5 and "ENG-1" in again.err
    unknown = cli(jsm_harness, "escalate", key, "--stage", "nowhere")
    assert unknown.code == 6 and "engineering" in unknown.err
    bad_date = cli(jsm_harness, "escalate", key, "--stage", "engineering", "--eta", "soon")
    assert bad_date.code == 6

    moved, sent = counted(server, lambda: cli(jsm_harness, "escalate", key, "--stage", "engineering"))
    assert moved.code == 0, moved.err
    COUNTS["escalate --stage"] = len(sent)
    assert [r.json for r in sent if r.path == "/rest/api/3/issue/ENG-1/transitions" and r.method == "POST"] == [
        {"transition": {"id": "121"}}
    ]
    assert eng.status == "In progress"
    back = cli(jsm_harness, "escalate", key, "--stage", "evaluation", "--eta", "2030-02-28")
    assert back.code == 0, back.err
    assert (eng.status, eng.duedate) == ("Evaluation", "2030-02-28")
    same = cli(jsm_harness, "escalate", key, "--stage", "evaluation")
    assert same.code == 0 and "nothing to do" in same.err
    assert listed(jsm_harness, "--escalated") == [key]

    shown = json.loads(cli(jsm_harness, "show", key, "--format", "json").out)["escalation"]
    assert shown["id"] == "ENG-1" and shown["open"] and shown["eta"] == "2030-02-28"
    assert shown["reason"] == "data loss on db2\nsee the logs"
    assert [s["stage"] for s in shown["timeline"]] == ["submitted", "engineering", "evaluation"]

    done = cli(jsm_harness, "escalate", key, "--stage", "resolved", "--format", "json")
    assert done.code == 0 and json.loads(done.out)["escalation"]["open"] is False
    assert listed(jsm_harness, "--escalated") == []
    closed_one = cli(jsm_harness, "escalate", key, "--stage", "engineering")
    assert closed_one.code == 5 and "no open escalation" in closed_one.err
    history = json.loads(cli(jsm_harness, "history", key, "--format", "json").out)
    moves = [(e["old"], e["new"]) for e in history if e["change"] == "escalation"]
    assert moves == [
        (None, "submitted"),
        ("submitted", "engineering"),
        ("engineering", "evaluation"),
        ("evaluation", "resolved"),
    ]

    other = cli(jsm_harness, "create", "--subject", "fine", "--body", "b").out.strip()
    none_yet = cli(jsm_harness, "escalate", other, "--stage", "evaluation")
    assert none_yet.code == 5 and "no open escalation" in none_yet.err
    assert cli(jsm_harness, "close", other).code == 0
    before = server.count("POST")
    too_late = cli(jsm_harness, "escalate", other, "--reason", "too late")
    assert too_late.code == 5 and server.count("POST") == before


def test_escalations_need_the_engineering_project_in_the_profile(jsm_harness, server, tmp_path):
    key = cli(jsm_harness, "create", "--subject", "s", "--body", "b").out.strip()
    plain = other_profile(jsm_harness, tmp_path, escalation=None)
    before = server.count()
    refused = cli(jsm_harness, "escalate", key, "--reason", "why", config=plain)
    assert refused.code == 6 and "escalations" in refused.err
    assert cli(jsm_harness, "list", "--escalated", config=plain).code == 6
    assert server.count() == before


def test_an_unknown_link_type_says_the_engineering_issue_was_made(jsm_harness, server, tmp_path):
    key = cli(jsm_harness, "create", "--subject", "s", "--body", "b").out.strip()
    odd = other_profile(jsm_harness, tmp_path, escalation={"project": "ENG", "link_type": "Escalated to"})
    result = cli(jsm_harness, "escalate", key, "--reason", "why", config=odd)
    assert result.code == 4 and "ENG-1 was created but not linked" in result.err, (result.code, result.err)
    assert "ENG-1" in server.eng_issues and server.links == []


# -- ratings ---------------------------------------------------------------------------------


def test_a_rating_comes_from_the_reporter_only(jsm_harness, server, tmp_path):
    theirs = cli(jsm_harness, "create", "--subject", "s", "--body", "b", "--requester", CUSTOMER).out.strip()
    assert cli(jsm_harness, "solve", theirs).code == 0
    before = server.count("POST")
    refused = cli(jsm_harness, "rate", theirs, "good")
    assert refused.code == 7 and "reporter" in refused.err and CUSTOMER in refused.err, refused.err
    assert server.count("POST") == before  # refused before anything was sent

    # the reporter's own credentials (a customer account): the service takes it
    token = "customer-token"
    server.act_as(CUSTOMER, agent=False, token=token)
    customer = tmp_path / "customer.yaml"
    write_jsm_config(customer, server, email=CUSTOMER, token_env="CUSTOMER_TOKEN")
    rated = run("--config", str(customer), "rate", theirs, "4", "--comment", "quick", env={"CUSTOMER_TOKEN": token})
    assert rated.code == 0, rated.err
    assert server.issues[theirs].feedback == {"rating": 4, "comment": "quick"}


def test_ratings_are_stars_good_is_five_and_an_open_request_is_refused(jsm_harness, server):
    key = cli(jsm_harness, "create", "--subject", "mine", "--body", "b").out.strip()
    assert cli(jsm_harness, "rate", key, "good").code == 5  # not solved yet
    assert cli(jsm_harness, "solve", key).code == 0
    rated, sent = counted(
        server, lambda: cli(jsm_harness, "rate", key, "good", "--comment", "fast", "--format", "json")
    )
    assert rated.code == 0, rated.err
    COUNTS["rate"] = len(sent)
    satisfaction = json.loads(rated.out)["satisfaction"]
    assert (satisfaction["rating"], satisfaction["comment"]) == (5, "fast")
    assert rated_near(satisfaction["rated_at"], server.issues[key].feedback_at)  # the Satisfaction date
    assert not [r for r in sent if r.method == "GET" and r.path.endswith("/feedback")]
    [post] = [r.json for r in sent if r.method == "POST"]
    assert post == {"type": "csat", "rating": 5, "comment": {"body": "fast"}}
    assert cli(jsm_harness, "rate", key, "bad").code == 0
    assert server.issues[key].feedback == {"rating": 1, "comment": None}
    assert cli(jsm_harness, "rate", key, "6").code == 6
    assert cli(jsm_harness, "close", key).code == 0
    assert cli(jsm_harness, "rate", key, "3").code == 0  # JSM asks for feedback on closed requests too
    shown = json.loads(cli(jsm_harness, "show", key, "--format", "json").out)
    assert shown["status"] == "closed" and shown["satisfaction"]["rating"] == 3


# -- requests per command, and the spec --------------------------------------------------------


def test_requests_per_command(jsm_harness, server):
    key = cli(jsm_harness, "create", "--subject", "s", "--body", "b", "--priority", "urgent").out.strip()
    shown, sent = counted(server, lambda: cli(jsm_harness, "show", key))
    assert shown.code == 0 and "resolution" in shown.out
    COUNTS["show (open, SLAs embedded)"] = len(sent)
    assert len(sent) == 3, [r.path for r in sent]  # request (expand=sla), issue, comments
    assert cli(jsm_harness, "escalate", key, "--reason", "r").code == 0
    _, sent = counted(server, lambda: cli(jsm_harness, "show", key))
    COUNTS["show (escalated)"] = len(sent)
    assert len(sent) == 4  # + the engineering issue with its changelog
    assert cli(jsm_harness, "solve", key).code == 0
    _, sent = counted(server, lambda: cli(jsm_harness, "show", key))
    COUNTS["show (solved, escalated)"] = len(sent)
    assert len(sent) == 5  # + the field list (the Satisfaction fields, once a run), no GET feedback
    assert not [r for r in sent if r.path.endswith("/feedback")]
    # escalate: the request read as show reads it (4 with the engineering issue), the create and the
    # link (or the transitions and the transition), the request and the engineering issue read back
    assert COUNTS.get("escalate --reason", 8) <= 8 and COUNTS.get("escalate --stage", 9) <= 9
    assert COUNTS.get("rate", 6) <= 6
    print("\nJSM requests per command (issue 16):", json.dumps(COUNTS, indent=1))


def test_the_sla_and_feedback_exchanges_conform_to_the_spec(jsm_harness, server, backend):
    from standins.spec import get_checker

    key = backend.create(new_request(priority="high")).ticket.id
    backend.get(key)
    list(backend._paged(f"rest/servicedeskapi/request/{key}/sla", action="read"))
    backend.solve(key)
    backend.rate(key, 4, "ok")
    backend.get(key)
    sd = [ex for ex in server.exchanges if re.search(r"/(sla|feedback)$|/request/[^/]+$", ex.request.path)]
    assert {ex.request.path.rsplit("/", 1)[1] for ex in sd} >= {"sla", "feedback"}
    assert get_checker("jsm").problems(sd) == []
    assert JSM_TOKEN not in json.dumps([ex.response.json for ex in sd if ex.response.json is not None])


# -- ratings from the issue's Satisfaction fields ---------------------------------------------


def rated_near(rated_at, ms) -> bool:
    """rated_at is the Satisfaction date (ms since the epoch, as the stand-in keeps it)."""
    return rated_at is not None and abs(parse_iso(rated_at).timestamp() * 1000 - ms) < 1000


def rated_requests(jsm_harness):
    """Three requests of this account (their reporter, who rates them): one solved and rated 4
    with a comment, one closed and rated bad without one, one solved and not rated."""
    keys = []
    for subject in ("rated", "closed", "unrated"):
        keys.append(cli(jsm_harness, "create", "--subject", subject, "--body", "b").out.strip())
        assert cli(jsm_harness, "solve", keys[-1]).code == 0
    assert cli(jsm_harness, "close", keys[1]).code == 0
    for key, args in ((keys[0], ("4", "--comment", "quick")), (keys[1], ("bad",))):
        rated = cli(jsm_harness, "rate", key, *args)
        assert rated.code == 0, rated.err
    return keys


def listed_ratings(jsm_harness, server, *args):
    """list --format json (solved and closed ones), by id: (satisfactions, requests sent)."""
    out, sent = counted(
        server, lambda: cli(jsm_harness, "list", "--status", "solved,closed", *args, "--format", "json").out
    )
    return {t["id"]: t["satisfaction"] for t in json.loads(out)}, sent


def test_show_list_and_export_read_the_rating_from_the_satisfaction_fields(jsm_harness, server):
    keys = rated_requests(jsm_harness)
    shown, sent = counted(
        server, lambda: [json.loads(cli(jsm_harness, "show", k, "--format", "json").out) for k in keys]
    )
    assert [s["satisfaction"] and (s["satisfaction"]["rating"], s["satisfaction"]["comment"]) for s in shown] == [
        (4, "quick"),
        (1, None),
        None,
    ]
    for s, key in zip(shown[:2], keys, strict=False):
        assert rated_near(s["satisfaction"]["rated_at"], server.issues[key].feedback_at)
    # each show: the request, the field list (the Satisfaction fields' ids: the request is solved),
    # the issue with them, the comments; no GET feedback
    assert not [r for r in sent if r.path.endswith("/feedback")]
    assert len(sent) == 4 * len(keys), [r.path for r in sent]
    issue_reads = [r for r in sent if re.search(r"/rest/api/3/issue/[^/]+$", r.path)]
    assert all({"customfield_10030", "customfield_10031"} <= set(r.query["fields"][0].split(",")) for r in issue_reads)

    for scope in ("--mine", "--all"):  # the portal's request list and a search page; JQL
        by_id, sent = listed_ratings(jsm_harness, server, scope)
        assert [by_id[k] for k in keys] == [s["satisfaction"] for s in shown], scope
        assert not [r for r in sent if r.path.endswith("/feedback")], scope
        [search] = [r for r in sent if r.path.endswith("/search/jql")]
        assert {"customfield_10030", "customfield_10031"} <= set(search.query["fields"][0].split(","))
        COUNTS[f"list {scope} (3 rated or not)"] = len(sent)

    exported, sent = counted(server, lambda: cli(jsm_harness, "export", "--format", "jsonl"))
    assert exported.code == 0, exported.err
    by_id = {t["id"]: t for t in map(json.loads, exported.out.splitlines())}
    assert [by_id[k] for k in keys] == shown  # export equals show, the rating included
    assert not [r for r in sent if r.path.endswith("/feedback")]
    assert len(sent) == 3, [r.path for r in sent]  # the desk, the field list, one page
    COUNTS["export (3 solved or closed, 2 rated)"] = len(sent)
    print("\nJSM requests with ratings:", json.dumps({k: v for k, v in COUNTS.items() if "rated" in k}, indent=1))


def test_a_site_without_the_satisfaction_fields_reads_the_feedback(jsm_harness, server):
    keys = rated_requests(jsm_harness)
    server.csat_fields = False  # neither listed by GET /field nor given with the issue
    shown, sent = counted(
        server, lambda: [json.loads(cli(jsm_harness, "show", k, "--format", "json").out) for k in keys]
    )
    assert [s["satisfaction"] for s in shown] == [
        {"rating": 4, "comment": "quick", "rated_at": None},  # the endpoint gives no time
        {"rating": 1, "comment": None, "rated_at": None},
        None,
    ]
    feedback = sorted(r.path for r in sent if r.path.endswith("/feedback"))
    assert feedback == sorted(f"/rest/servicedeskapi/request/{k}/feedback" for k in keys)
    for scope in ("--mine", "--all"):
        by_id, sent = listed_ratings(jsm_harness, server, scope)
        assert [by_id[k] for k in keys] == [s["satisfaction"] for s in shown], scope
        assert len([r for r in sent if r.path.endswith("/feedback")]) == len(keys), scope
    exported, sent = counted(server, lambda: cli(jsm_harness, "export", "--format", "jsonl"))
    by_id = {t["id"]: t for t in map(json.loads, exported.out.splitlines())}
    assert [by_id[k] for k in keys] == shown  # one source on a site: export still equals show
    assert len([r for r in sent if r.path.endswith("/feedback")]) == len(keys)  # solved or closed: 1 each


def test_a_satisfaction_value_without_the_comment_leaves_it_null_in_show_and_export_alike(jsm_harness, server):
    keys = rated_requests(jsm_harness)
    server.csat_field_comment = False  # the Satisfaction field's value: the rating only
    shown = json.loads(cli(jsm_harness, "show", keys[0], "--format", "json").out)
    assert (shown["satisfaction"]["rating"], shown["satisfaction"]["comment"]) == (4, None)
    exported = cli(jsm_harness, "export", "--format", "jsonl")
    assert {t["id"]: t for t in map(json.loads, exported.out.splitlines())}[keys[0]] == shown


def test_the_satisfaction_fields_values():
    date = "2026-11-23T10:00:00.000+0000"
    at = "2026-11-23T10:00:00+00:00"
    assert csat_satisfaction({"rating": 4, "comment": {"body": "ok"}}, date)["rated_at"] == parse_iso(at).isoformat()
    assert csat_satisfaction({"rating": 4, "comment": {"body": "ok"}}, date) == csat_satisfaction(
        {"rating": 4, "comment": "ok"}, date
    )
    assert csat_satisfaction(5, None) == {"rating": 5, "comment": None, "rated_at": None}
    assert csat_satisfaction({"rating": 3}, "not a time") == {"rating": 3, "comment": None, "rated_at": None}
    for value in (None, {}, {"rating": 0}, {"rating": 6}, {"rating": True}, {"rating": "5"}, True, 4.0, [5]):
        assert csat_satisfaction(value, date) is None, value
