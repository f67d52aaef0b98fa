"""SLA clocks, escalations and ratings on the local store, from the command line (the contract
covers the API on every backend that declares them)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cli import run


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    config = tmp_path / "cfg" / "tixcli" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(
        "profiles:\n"
        "  local:\n"
        "    backend: sqlite\n"
        f"    path: {tmp_path / 'tickets.db'}\n"
        "    user: agent@example.com\n"
        "    sla:\n"
        "      urgent: {first_reply: 15m, resolution: 1h}\n"
        "      default: {resolution: 3d}\n"
        "    escalation_stages: [submitted, evaluation, engineering, verification, resolved]\n"
    )
    return {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "TIXCLI_DB": "", "TIXCLI_USER": ""}


def create(env, *args: str) -> str:
    result = run("create", "-s", "VPN down", "--body", "since 9", "--requester", "cust@example.com", *args, env=env)
    assert result.code == 0, result.err
    return result.out.strip()


def show(env, tid: str) -> dict:
    result = run("show", tid, "--format", "json", env=env)
    assert result.code == 0, result.err
    return json.loads(result.out)


def listed(env, *args: str) -> list[str]:
    result = run("list", "--all", "--status", "any", "--format", "jsonl", *args, env=env)
    assert result.code == 0, result.err
    return [json.loads(line)["id"] for line in result.lines]


def age(tmp_path: Path, tid: str, seconds: int) -> None:
    """Move the ticket's clocks `seconds` into the past (as if that much time had gone by)."""
    db = sqlite3.connect(tmp_path / "tickets.db")
    iso = "strftime('%Y-%m-%dT%H:%M:%S+00:00', {}, 'unixepoch')"
    db.execute(
        f"UPDATE ticket_sla SET started_at = {iso.format('unixepoch(started_at) - ?1')}, "
        f"paused_since = CASE WHEN paused_since IS NULL THEN NULL "
        f"ELSE {iso.format('unixepoch(paused_since) - ?1')} END, "
        f"target_s = target_s - ?1, target_at = {iso.format('target_s - ?1')} WHERE ticket_id = ?2",
        (seconds, int(tid)),
    )
    db.commit()
    db.close()


def test_the_profiles_policy_sets_the_targets_by_priority(env):
    urgent = show(env, create(env, "--priority", "urgent"))
    plain = show(env, create(env))
    gap = {m: _seconds(urgent["sla"][m]["target_at"]) - _seconds(urgent["created_at"]) for m in urgent["sla"]}
    assert gap == {"first_reply": 15 * 60, "resolution": 3600}
    assert _seconds(plain["sla"]["resolution"]["target_at"]) - _seconds(plain["created_at"]) == 3 * 86400
    # the defaults the profile did not override: first reply for no priority in 4 hours
    assert _seconds(plain["sla"]["first_reply"]["target_at"]) - _seconds(plain["created_at"]) == 4 * 3600


def _seconds(iso: str) -> int:
    from tixcli.model import parse_iso

    return int(parse_iso(iso).timestamp())


def test_first_reply_pause_breach_and_a_new_cycle_on_reopen(env, tmp_path):
    tid = create(env, "--priority", "urgent")
    assert run("reply", tid, "--body", "internal", "--internal", env=env).code == 0
    assert show(env, tid)["sla"]["first_reply"]["stage"] == "active"  # an internal note is no reply
    assert run("reply", tid, "--body", "which VPN?", "--status", "pending", env=env).code == 0
    sla = show(env, tid)["sla"]
    assert sla["first_reply"]["stage"] == "met" and sla["first_reply"]["met_at"]
    assert sla["resolution"]["stage"] == "paused" and sla["resolution"]["target_at"] is None
    age(tmp_path, tid, 2 * 3600)  # two hours on hold do not count...
    assert run("reply", tid, "--body", "the office one, they say", "--status", "open", env=env).code == 0
    resumed = show(env, tid)["sla"]["resolution"]
    assert resumed["stage"] == "active"
    assert listed(env, "--breaching") == []
    assert listed(env, "--due-within", "2h") == [tid]
    age(tmp_path, tid, 2 * 3600)  # ...two hours open do
    breached = show(env, tid)["sla"]["resolution"]
    assert breached["stage"] == "breached" and breached["breached_at"] == breached["target_at"]
    assert listed(env, "--breaching") == [tid] and listed(env, "--due-within", "2h") == []
    assert run("solve", tid, env=env).code == 0
    solved = show(env, tid)["sla"]["resolution"]
    assert solved["stage"] == "breached" and solved["met_at"]  # met late
    assert listed(env, "--breaching") == []  # breached, but met since
    assert run("reopen", tid, env=env).code == 0
    cycle = show(env, tid)["sla"]["resolution"]
    assert cycle["stage"] == "active" and cycle["met_at"] is None  # a reopen starts a new cycle


def test_show_on_a_terminal_says_due_in_and_breached_ago(env, tmp_path):
    from tixcli.model import utcnow
    from tixcli.sla import describe

    tid = create(env, "--priority", "urgent")
    sla = show(env, tid)["sla"]
    now = utcnow()
    assert describe("resolution", sla["resolution"], now) in ("resolution due in 1h", "resolution due in 59m")
    age(tmp_path, tid, 20 * 60 + 15 * 60)
    late = show(env, tid)["sla"]["first_reply"]
    assert describe("first_reply", late, utcnow()) == "first reply breached 20m ago"
    table = run("show", tid, env=env).out  # not a terminal: absolute
    assert "first reply breached (target 20" in table


def test_due_within_takes_durations_and_refuses_others(env):
    create(env, "--priority", "urgent")
    for bad in ("soon", "0m", "-5m", "2x"):
        result = run("list", "--due-within", bad, env=env)
        assert result.code == 6 and "invalid --due-within" in result.err


def test_escalate_from_the_command_line(env):
    tid = create(env)
    opened = run("escalate", tid, "--reason", "data loss", "--eta", "2030-01-31", env=env)
    assert opened.code == 0 and opened.out.strip().startswith("CP-")
    assert run("escalate", tid, "--reason", "again", env=env).code == 5
    assert run("escalate", tid, "--stage", "nonsense", env=env).code == 6
    assert "the stages: submitted, evaluation" in run("escalate", tid, "--stage", "nonsense", env=env).err
    assert run("escalate", tid, "--stage", "engineering", "--eta", "not-a-date", env=env).code == 6
    past = run("escalate", tid, "--stage", "engineering", "--eta", "2001-01-01", env=env)
    assert past.code == 0 and "has passed" in past.err
    escalation = show(env, tid)["escalation"]
    assert escalation["stage"] == "engineering" and escalation["eta"] == "2001-01-01"
    assert listed(env, "--escalated") == [tid]
    assert run("escalate", tid, env=env).code == 6  # neither --reason nor --stage
    other = create(env)
    assert run("escalate", other, "--stage", "evaluation", env=env).code == 5
    assert run("close", other, env=env).code == 0
    assert run("escalate", other, "--reason", "late", env=env).code == 5


def test_rate_from_the_command_line(env):
    tid = create(env)
    assert run("rate", tid, "good", env=env).code == 5  # not solved yet
    assert run("solve", tid, env=env).code == 0
    assert run("rate", tid, "great", env=env).code == 6
    assert run("rate", tid, "6", env=env).code == 6
    assert run("rate", tid, "5", "--comment", "quick and kind", env=env).code == 0
    assert show(env, tid)["satisfaction"]["rating"] == 5
    assert run("close", tid, env=env).code == 0
    assert run("rate", tid, "bad", env=env).code == 0  # after close too, on the local store
    ticket = show(env, tid)
    assert ticket["status"] == "closed" and ticket["satisfaction"]["rating"] == "bad"
    ratings = [
        (e["old"], e["new"])
        for e in json.loads(run("history", tid, "--format", "json", env=env).out)
        if e["change"] == "rating"
    ]
    assert ratings == [(None, 5), (5, "bad")]  # history keeps both


def test_a_store_of_schema_4_gets_clocks_for_its_tickets(env, tmp_path):
    from tixcli.backends.sqlite_schema import SCHEMA_VERSION

    tid = create(env, "--priority", "urgent")
    replied = create(env)
    assert run("reply", replied, "--body", "on it", env=env).code == 0
    db = sqlite3.connect(tmp_path / "tickets.db")  # back to what schema 4 had
    db.executescript(
        "DROP TABLE ticket_sla; DROP TABLE escalations; ALTER TABLE tickets DROP COLUMN satisfaction;"
        "PRAGMA user_version = 4;"
    )
    db.close()
    migrated = show(env, tid)  # the next command migrates
    db = sqlite3.connect(tmp_path / "tickets.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    assert migrated["sla"]["resolution"]["stage"] == "active"
    assert show(env, replied)["sla"]["first_reply"]["stage"] == "met"


@pytest.mark.parametrize(
    "setting, says",
    [
        ("    sla: {urgent: {resolution: soon}}\n", "invalid sla.urgent.resolution"),
        ("    sla: {p9: {resolution: 2h}}\n", "unknown priority"),
        ("    sla: {urgent: {lunch: 2h}}\n", "unknown metric"),
        ("    escalation_stages: submitted\n", "escalation_stages"),
        ("    escalation_stages: [a, a]\n", "escalation_stages"),
    ],
)
def test_a_bad_policy_or_stage_list_is_a_config_error(tmp_path, setting, says):
    config = tmp_path / "cfg" / "tixcli" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"profiles:\n  local:\n    backend: sqlite\n    path: {tmp_path / 't.db'}\n{setting}")
    result = run("list", env={"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "TIXCLI_DB": ""})
    assert result.code == 3 and says in result.err, result.err
