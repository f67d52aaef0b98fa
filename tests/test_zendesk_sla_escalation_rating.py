"""Zendesk's SLA clocks, escalations and satisfaction ratings (issue 16), against the stand-in over
HTTP: the SLA policy metrics mapped onto tixcli's clocks (a breach by the stand-in's clock),
`list --breaching` paging on, an escalation as a linked problem ticket opened, moved and closed
through the CLI with its refusals (exit 5, 6), the agent-token rating refusal (exit 7), and the
requests `show`, `escalate`, `rate` and `list --breaching` cost.
"""

from __future__ import annotations

import json
import time

import pytest
from cli import run
from harness import CUSTOMER
from harness_zendesk import write_config

import tixcli.backends.zendesk as zendesk
from tixcli.model import from_epoch

pytestmark = pytest.mark.timeout(120)

HOUR = 3600


@pytest.fixture
def server(zendesk_harness):
    return zendesk_harness.server


def tix(harness, *args: str, config=None):
    return run("--config", str(config or harness.config_path), *args, env=harness.env)


def shown(harness, tid: str) -> dict:
    result = tix(harness, "show", tid, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def made(harness, *args: str) -> str:
    result = tix(harness, "create", "--subject", "Payments down", "--body", "all of them", *args)
    assert result.code == 0, result.err
    return result.out.strip()


def counted(server, call):
    before = server.count()
    result = call()
    return result, server.count() - before


def error_of(result) -> str:
    lines = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


# -- SLA ------------------------------------------------------------------------------------------


def test_policy_metrics_map_onto_clocks_and_a_breach_is_dated_at_its_target(zendesk_harness, server):
    created = int(time.time()) - 3 * HOUR  # three hours ago: both urgent targets have passed
    late = str(server.seed_tickets(1, priority="urgent", created_at=created, updated_at=created)[0])
    fresh = made(zendesk_harness, "--priority", "urgent")

    sla = shown(zendesk_harness, late)["sla"]
    assert set(sla) == {"first_reply", "resolution"}
    first, resolution = sla["first_reply"], sla["resolution"]
    assert first["stage"] == resolution["stage"] == "breached"
    assert first["target_at"] == first["breached_at"] == from_epoch(created + 30 * 60)
    assert resolution["target_at"] == resolution["breached_at"] == from_epoch(created + 2 * HOUR)
    assert first["met_at"] is None  # Zendesk's slas say no time of meeting
    running = shown(zendesk_harness, fresh)["sla"]
    assert {c["stage"] for c in running.values()} == {"active"}
    assert all(c["breached_at"] is None and c["met_at"] is None for c in running.values())

    # a public reply meets the first reply (breached before: the stage says met now), a solve the rest
    assert tix(zendesk_harness, "reply", late, "--body", "on it").code == 0
    assert shown(zendesk_harness, late)["sla"]["first_reply"]["stage"] == "met"
    assert tix(zendesk_harness, "solve", late).code == 0
    after = shown(zendesk_harness, late)["sla"]
    assert {c["stage"] for c in after.values()} == {"met"}
    # no policy for the priority (or none at all): null, not an error
    low = made(zendesk_harness, "--priority", "low")
    assert shown(zendesk_harness, low)["sla"] is None


def test_agent_work_time_is_the_resolution_where_the_policy_has_no_full_resolution(zendesk_harness, server):
    server.set_sla_policy({"high": {"agent_work_time": 60, "next_reply_time": 45}})
    tid = made(zendesk_harness, "--priority", "high")
    sla = shown(zendesk_harness, tid)["sla"]
    assert set(sla) == {"resolution", "next_reply_time"}  # the others under their own names
    assert sla["resolution"]["stage"] == "active"
    assert tix(zendesk_harness, "reply", tid, "--body", "waiting on you", "--status", "pending").code == 0
    paused = shown(zendesk_harness, tid)["sla"]["resolution"]
    assert paused == {"target_at": None, "stage": "paused", "met_at": None, "breached_at": None}


def test_list_breaching_pages_on_through_the_search_and_reads_slas_a_page_at_once(zendesk_harness, server, monkeypatch):
    monkeypatch.setattr(zendesk, "SEARCH_PAGE", 5)
    old, now = int(time.time()) - 5 * HOUR, int(time.time())
    # newest first: 7 on time, then 3 breached (urgent, five hours old)
    late = server.seed_tickets(3, priority="urgent", created_at=old, updated_at=old)
    fresh = server.seed_tickets(7, priority="urgent", created_at=now, updated_at=now)
    result, sent = counted(server, lambda: tix(zendesk_harness, "list", "--all", "--breaching", "--format", "json"))
    assert result.code == 0, result.err
    found = [t["id"] for t in json.loads(result.out)]
    assert sorted(found, key=int) == [str(i) for i in late]
    # two search pages of 5, a show_many with include=slas for each, the people once (users/show_many)
    assert sent == 5, [ex.request.path for ex in server.exchanges[-sent:]]
    assert server.count("GET", "/tickets/show_many") == 2
    # the on-time ones' first reply is due in 30 minutes
    due = tix(zendesk_harness, "list", "--all", "--due-within", "10m", "--format", "json")
    assert json.loads(due.out) == []
    soon = tix(zendesk_harness, "list", "--all", "--due-within", "1h", "--limit", "2", "--format", "json")
    assert [t["id"] for t in json.loads(soon.out)] == [str(i) for i in fresh[::-1][:2]]


# -- escalations ----------------------------------------------------------------------------------


def test_an_escalation_is_a_linked_problem_ticket_moved_by_its_stage_tag(zendesk_harness, server):
    tid = made(zendesk_harness, "--type", "question")
    opened, sent = counted(server, lambda: tix(zendesk_harness, "escalate", tid, "--reason", "data loss on db2"))
    assert opened.code == 0, opened.err
    pid = opened.out.strip()
    assert sent == 4  # the core's read (ticket, comments), the problem ticket, the update
    problem, ticket = server.tickets[int(pid)], server.tickets[int(tid)]
    assert problem["type"] == "problem" and problem["description"] == "data loss on db2"
    assert ticket["type"] == "incident" and ticket["problem_id"] == int(pid)
    assert "tixcli_escalation_submitted" in ticket["tags"]

    moved, sent = counted(
        server, lambda: tix(zendesk_harness, "escalate", tid, "--stage", "engineering", "--eta", "2030-01-31")
    )
    assert moved.code == 0, moved.err
    assert sent == 5  # ticket, comments, problem ticket, audits (the timeline), the update
    data, sent = counted(server, lambda: shown(zendesk_harness, tid))
    assert sent == 4  # an escalated ticket: its problem ticket and audits besides ticket and comments
    escalation = data["escalation"]
    assert escalation["id"] == pid and escalation["open"] and escalation["reason"] == "data loss on db2"
    assert (escalation["stage"], escalation["eta"]) == ("engineering", "2030-01-31")
    assert [s["stage"] for s in escalation["timeline"]] == ["submitted", "engineering"]
    listed = tix(zendesk_harness, "list", "--all", "--escalated", "--format", "json")
    assert [t["id"] for t in json.loads(listed.out)] == [tid]

    # refusals: a second --reason (5), a stage no profile names (6, listing them)
    again = tix(zendesk_harness, "escalate", tid, "--reason", "another")
    assert again.code == 5 and pid in error_of(again)
    unknown = tix(zendesk_harness, "escalate", tid, "--stage", "bogus")
    assert unknown.code == 6 and "verification" in unknown.err
    assert tix(zendesk_harness, "escalate", tid, "--stage", "resolved").code == 0
    done = shown(zendesk_harness, tid)["escalation"]
    assert not done["open"] and [s["stage"] for s in done["timeline"]] == ["submitted", "engineering", "resolved"]
    assert json.loads(tix(zendesk_harness, "list", "--all", "--escalated", "--format", "json").out) == []
    history = json.loads(tix(zendesk_harness, "history", tid, "--format", "json").out)
    moves = [(e["old"], e["new"]) for e in history if e["change"] == "escalation"]
    assert moves == [(None, "submitted"), ("submitted", "engineering"), ("engineering", "resolved")]

    # a new escalation after that one closed: a new problem ticket and a new timeline
    reopened = tix(zendesk_harness, "escalate", tid, "--reason", "back again")
    assert reopened.code == 0 and reopened.out.strip() not in ("", pid)
    fresh = shown(zendesk_harness, tid)["escalation"]
    assert [s["stage"] for s in fresh["timeline"]] == ["submitted"] and fresh["eta"] is None

    other = made(zendesk_harness)
    none_open = tix(zendesk_harness, "escalate", other, "--stage", "evaluation")
    assert none_open.code == 5 and "no open escalation" in error_of(none_open)
    server.close(int(other))
    closed = tix(zendesk_harness, "escalate", other, "--reason", "too late")
    assert closed.code == 5


def test_profile_stages_are_the_tags(zendesk_harness, server, tmp_path):
    config = tmp_path / "stages.yaml"
    write_config(config, server.url, escalation_stages="[triage, fixing, done]")
    tid = made(zendesk_harness)
    assert tix(zendesk_harness, "escalate", tid, "--reason", "x", config=config).code == 0
    refused = tix(zendesk_harness, "escalate", tid, "--stage", "engineering", config=config)
    assert refused.code == 6 and "triage, fixing, done" in refused.err
    assert tix(zendesk_harness, "escalate", tid, "--stage", "done", config=config).code == 0
    assert "tixcli_escalation_done" in server.tickets[int(tid)]["tags"]
    assert "tixcli_escalation_triage" not in server.tickets[int(tid)]["tags"]


# -- satisfaction ---------------------------------------------------------------------------------


def test_an_agents_token_cannot_rate_exit_7(zendesk_harness, server, tmp_path):
    config = tmp_path / "agent.yaml"
    write_config(config, server.url)  # no rate_as_requester: the agent's own credentials
    tid = made(zendesk_harness, "--requester", CUSTOMER)
    open_one = tix(zendesk_harness, "rate", tid, "good", config=config)
    assert open_one.code == 5  # not solved yet: refused before anything is sent
    assert tix(zendesk_harness, "solve", tid).code == 0
    refused = tix(zendesk_harness, "rate", tid, "good", config=config)
    assert refused.code == 7
    assert "requester" in error_of(refused) and "credentials" in error_of(refused)
    assert server.tickets[int(tid)]["satisfaction"] is None
    number = tix(zendesk_harness, "rate", tid, "4", config=config)
    assert number.code == 6  # Zendesk takes good or bad


def test_a_rating_as_the_requester_is_read_back_and_costs_three_requests(zendesk_harness, server):
    tid = made(zendesk_harness, "--requester", CUSTOMER)
    assert shown(zendesk_harness, tid)["satisfaction"] is None  # unoffered
    assert tix(zendesk_harness, "solve", tid).code == 0
    result, sent = counted(server, lambda: tix(zendesk_harness, "rate", tid, "bad", "--comment", "slow"))
    assert result.code == 0, result.err
    assert sent == 3  # the status, the rating (as the requester), the ticket again
    rating = [ex.request for ex in server.exchanges if "satisfaction_rating" in ex.request.path][-1]
    assert rating.headers["authorization"] != [ex.request for ex in server.exchanges][0].headers["authorization"]
    assert shown(zendesk_harness, tid)["satisfaction"] == {"rating": "bad", "comment": "slow", "rated_at": None}
    assert tix(zendesk_harness, "rate", tid, "good").code == 0
    history = json.loads(tix(zendesk_harness, "history", tid, "--format", "json").out)
    rated = [(e["old"], e["new"], e["by"]) for e in history if e["change"] == "rating"]
    assert rated == [(None, "bad", "requester"), ("bad", "good", "requester")]
    server.close(int(tid))
    closed = tix(zendesk_harness, "rate", tid, "good")
    assert closed.code == 5  # rates_closed: Zendesk takes no rating once closed


def test_show_of_a_ticket_not_escalated_costs_two_requests(zendesk_harness, server):
    tid = made(zendesk_harness, "--priority", "urgent")
    data, sent = counted(server, lambda: shown(zendesk_harness, tid))
    assert sent == 2 and data["sla"] and data["escalation"] is None
    assert "slas" in [ex.request for ex in server.exchanges][-2].query.get("include", [""])[0]
