"""`tixcli history`, `--channel` and `--field` from the command line, on a real local store (the
remote backends have their own files; the contract covers the API on all three)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest
from cli import run

from tixcli.history import EVENT_FIELDS


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"TIXCLI_DB": str(tmp_path / "tickets.db"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


def create(env, *args: str) -> dict:
    result = run(
        "create", "-s", "Phone call: VPN down", "--body", "the caller's notes", *args, "--format", "json", env=env
    )
    assert result.code == 0, result.err
    return json.loads(result.out)


def history(env, ticket_id: str, fmt: str = "json") -> list[dict]:
    result = run("history", ticket_id, "--format", fmt, env=env)
    assert result.code == 0, result.err
    return json.loads(result.out) if fmt == "json" else result.out


def test_history_of_a_ticket_from_the_command_line(env, tmp_path):
    made = create(env, "--requester", "caller@example.com", "--priority", "low")
    tid = made["id"]
    log = tmp_path / "vpn.log"
    log.write_text("tunnel down\n")
    assert run("reply", tid, "--body", "restarting the tunnel", "--attach", str(log), env=env).code == 0
    assert run("reply", tid, "--body", "customer called back", "--internal", env=env).code == 0
    assert run("edit", tid, "--priority", "urgent", "--add-tag", "vpn", "--field", "service=vpn", env=env).code == 0
    assert run("cc", tid, "--add", "lead@example.com", env=env).code == 0
    assert run("solve", tid, env=env).code == 0
    events = history(env, tid)
    assert [tuple(e) for e in events] == [EVENT_FIELDS] * len(events)
    changes = [(e["change"], e["field"], e["old"], e["new"]) for e in events]
    assert changes[0] == ("created", None, None, "Phone call: VPN down")
    assert ("attachment", None, None, "vpn.log") in changes
    assert ("priority", None, "low", "urgent") in changes
    assert ("tags", None, [], ["vpn"]) in changes
    assert ("field", "service", None, "vpn") in changes
    assert ("cc", None, [], ["lead@example.com"]) in changes
    assert changes[-1] == ("status", None, "open", "solved")
    comments = [e for e in events if e["change"] == "comment"]
    assert [c["detail"]["public"] for c in comments] == [True, False]
    assert {e["by"] for e in events} == {"agent"}  # me@example.com, not the requester
    assert all(e["ticket_id"] == tid and e["backend"] == "sqlite" for e in events)
    # the other formats carry the same events
    lines = history(env, tid, "jsonl").splitlines()
    assert [json.loads(line) for line in lines] == events
    rows = list(csv.DictReader(io.StringIO(history(env, tid, "csv"))))
    assert [r["change"] for r in rows] == [e["change"] for e in events]
    assert json.loads(next(r for r in rows if r["change"] == "tags")["new"]) == ["vpn"]
    table = history(env, tid, "table")
    assert table.splitlines()[0].split() == ["WHEN", "BY", "ACTOR", "CHANGE", "FROM", "TO"]
    assert "internal note" in table and "field service" in table


def test_the_requester_and_automatic_closes_are_told_apart(env, tmp_path):
    mine = {**env, "TIXCLI_USER": "caller@example.com"}
    tid = create(mine)["id"]  # the customer opens it: the requester
    assert run("solve", tid, env=env).code == 0  # an agent solves it
    # seven days pass: the store closes the solved ticket by itself
    db = sqlite3.connect(tmp_path / "tickets.db")
    db.execute("UPDATE tickets SET solved_at = '2020-01-01T00:00:00+00:00' WHERE id = ?", (tid,))
    db.commit()
    db.close()
    assert run("show", tid, env=mine).code == 0  # a read applies the due close
    events = history(env, tid)
    assert events[0]["by"] == "requester" and events[0]["actor"] == "caller@example.com"
    assert [e["by"] for e in events if e["change"] == "status"][0] == "agent"
    closing = events[-1]
    assert (closing["change"], closing["old"], closing["new"], closing["by"]) == (
        "status",
        "solved",
        "closed",
        "automatic",
    )
    assert closing["detail"] == {"after_days": 7}


def test_rows_written_before_old_values_were_recorded_have_null_old_values(env, tmp_path):
    tid = create(env)["id"]
    db = sqlite3.connect(tmp_path / "tickets.db")
    db.execute(  # what a tixcli before schema 4 wrote for `cc --add`
        "INSERT INTO history (ticket_id, at, actor, action, detail) VALUES (?, '2026-01-01T00:00:00+00:00', "
        "'me@example.com', 'cc', '{\"add\": [\"a@example.com\"], \"remove\": []}')",
        (tid,),
    )
    db.commit()
    db.close()
    cc = next(e for e in history(env, tid) if e["change"] == "cc")
    assert (cc["old"], cc["new"], cc["detail"]) == (None, None, {"add": ["a@example.com"], "remove": []})


def test_channel_on_create_and_list(env):
    phoned = create(env, "--channel", "phone")["id"]
    typed = create(env)["id"]
    assert json.loads(run("show", phoned, "--format", "json", env=env).out)["channel"] == "phone"
    assert json.loads(run("show", typed, "--format", "json", env=env).out)["channel"] == "cli"
    listed = run("list", "--channel", "phone", "--format", "jsonl", env=env)
    assert [json.loads(line)["id"] for line in listed.lines] == [phoned]
    table = run("list", "--columns", "id,channel", "--plain", env=env)
    assert sorted(table.lines) == sorted([f"{phoned}\tphone", f"{typed}\tcli"])
    refused = run("create", "-s", "x", "--body", "y", "--channel", "pigeon", env=env)
    assert refused.code == 6 and "unknown channel" in refused.err


def test_custom_fields_on_the_local_store(env):
    tid = create(env, "--field", "service=hosting", "--field", "department=billing")["id"]
    other = create(env, "--field", "service=mail")["id"]
    shown = json.loads(run("show", tid, "--format", "json", env=env).out)
    assert shown["fields"] == {"service": "hosting", "department": "billing"}
    found = run("list", "--field", "service=HOSTING", "--format", "jsonl", env=env)
    assert [json.loads(line)["id"] for line in found.lines] == [tid]
    assert run("edit", tid, "--field", "department=", env=env).code == 0  # NAME= clears
    assert json.loads(run("show", tid, "--format", "json", env=env).out)["fields"] == {"service": "hosting"}
    rows = list(csv.DictReader(io.StringIO(run("list", "--format", "csv", env=env).out)))
    assert {r["id"]: json.loads(r["fields"]) for r in rows} == {tid: {"service": "hosting"}, other: {"service": "mail"}}
    for bad, text in ((["--field", "service"], "takes NAME=VALUE"), (["--field", "=x"], "takes NAME=VALUE")):
        result = run("edit", tid, *bad, env=env)
        assert result.code == 6 and text in result.err
    assert run("list", "--field", "service=", env=env).code == 6
    exported = [json.loads(line) for line in run("export", env=env).lines]
    assert {d["id"]: d["fields"] for d in exported} == {tid: {"service": "hosting"}, other: {"service": "mail"}}


def test_export_with_history(env):
    tid = create(env)["id"]
    assert run("edit", tid, "--priority", "high", env=env).code == 0
    result = run("export", "--with-history", env=env)
    assert result.code == 0, result.err
    (line,) = [json.loads(line) for line in result.lines]
    assert line["history"] == history(env, tid)
    assert line["fields"] == {} and line["channel"] == "cli"
    refused = run("export", "--with-history", "--format", "csv", env=env)
    assert refused.code == 6 and "jsonl" in refused.err
