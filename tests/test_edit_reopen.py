"""`tixcli edit`, `tixcli reopen`, `create --assignee` and the comment options of solve, close and
reopen, through the real CLI on a real SQLite store (no config file)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from cli import run, run_process


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    return path


def make(*extra: str) -> str:
    result = run("create", "--subject", "Nightly build failed", "--body", "see log", *extra)
    assert result.code == 0, result.err
    return result.out.strip()


def show(ticket_id: str) -> dict:
    result = run("show", ticket_id, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def listed(*args: str) -> list[str]:
    result = run("list", "--format", "json", *args)
    assert result.code == 0, result.err
    return [t["id"] for t in json.loads(result.out)]


def snapshot() -> str:
    return run("export").out


def write(*args: str) -> dict:
    result = run(*args, "--format", "json")
    assert result.code == 0, (args, result.err)
    return json.loads(result.out)


# -- edit ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field", "expected"),
    [
        (["--subject", "  Deploy broke on arm64 "], "subject", "Deploy broke on arm64"),
        (["--priority", "P1"], "priority", "urgent"),
        (["--type", "Incident"], "type", "incident"),
        (["--group", "Platform"], "group", "Platform"),
        (["--requester", "Customer@Example.com"], "requester", "customer@example.com"),
        (["--assignee", "Dev@Example.com"], "assignee", "dev@example.com"),
        (["--add-tag", "arm64", "--remove-tag", "ci"], "tags", ["nightly", "arm64"]),
    ],
)
def test_edit_changes_the_named_field_and_nothing_else(store, args, field, expected):
    ticket_id = make("--priority", "low", "--type", "question", "--tag", "ci", "--tag", "nightly", "--group", "Ops")
    before = show(ticket_id)
    result = run("edit", ticket_id, *args, "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["changed"] is True and data["created"] is None
    assert data[field] == expected
    after = show(ticket_id)
    assert after[field] == expected
    moved = {field, "updated_at", "raw_type" if field == "type" else field}  # SQLite's raw_type is its type
    if field == "priority":
        moved.add("sla")  # the targets follow the priority (the policy's)
    others = {k: v for k, v in before.items() if k not in moved}
    assert {k: after[k] for k in others} == others, "edit changed a field it was not asked to"
    assert result.out.count('"changed"') == 1 and result.err == ""


def test_edit_with_the_values_the_ticket_has_exits_0_and_changes_nothing(store):
    ticket_id = make("--priority", "high", "--type", "incident", "--tag", "ci", "--assignee", "dev@example.com")
    before = snapshot()
    same = run(
        "edit",
        ticket_id,
        "--subject",
        "Nightly build failed",
        "--priority",
        "P2",
        "--type",
        "INCIDENT",
        "--assignee",
        "dev@example.com",
        "--add-tag",
        "ci",
        "--remove-tag",
        "absent",
        "--format",
        "json",
    )
    assert same.code == 0, same.err
    assert json.loads(same.out)["changed"] is False
    assert "nothing to do" in same.err
    assert snapshot() == before
    plain = run("edit", ticket_id, "--priority", "high")
    assert (plain.code, plain.out) == (0, "") and "nothing to do" in plain.err


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        ([], 6, "edit needs a change"),
        (["--assignee", "dev@example.com", "--unassign"], 6, "not both"),
        (["--add-tag", "x", "--remove-tag", "x"], 6, "both added and removed"),
        (["--add-tag", "two words"], 6, "invalid tag"),
        # the local store's people are names (the zero-config user is the login name), not only emails
        (["--assignee", "bad\x1bname"], 6, "invalid assignee"),
        (["--requester", "  "], 6, "invalid requester"),
        (["--priority", "P9"], 6, "unknown priority"),
        (["--type", "bug"], 6, "unknown type"),
        (["--subject", "   "], 6, "subject is empty"),
        (["--subject", "one\ntwo"], 6, "one line"),
        (["--group", ""], 6, "group is empty"),
        (["--format", "xml", "--subject", "x"], 6, "unknown format"),
    ],
)
def test_edit_refuses_bad_input_with_exit_6_and_changes_nothing(store, args, code, text):
    ticket_id = make()
    before = snapshot()
    result = run("edit", ticket_id, *args)
    assert result.code == code, result.err
    assert text in result.err and result.err.startswith("error: ")
    assert snapshot() == before


def test_edit_of_a_closed_ticket_exits_5_and_of_an_unknown_one_4(store):
    ticket_id = make()
    run("close", ticket_id)
    before = snapshot()
    refused = run("edit", ticket_id, "--subject", "too late")
    assert refused.code == 5 and "closed" in refused.err
    assert run("edit", "999", "--subject", "x").code == 4
    assert run("edit", "١", "--subject", "x").code == 4
    assert snapshot() == before


def test_create_assignee_and_edit_assign_unassign_drive_list_assignee(store):
    mine = make("--assignee", "Dev@Example.com")
    other = make()
    assert show(mine)["assignee"] == "dev@example.com"
    assert listed("--assignee", "dev@example.com") == [mine]
    assert write("edit", other, "--assignee", "dev@example.com")["assignee"] == "dev@example.com"
    assert sorted(listed("--assignee", "dev@example.com")) == sorted([mine, other])
    unassigned = write("edit", mine, "--unassign")
    assert unassigned["assignee"] is None and unassigned["changed"] is True
    assert listed("--assignee", "dev@example.com") == [other]
    assert write("edit", mine, "--unassign")["changed"] is False
    assert run("create", "--subject", "s", "--body", "b", "--assignee", "no\tbody").code == 6


def test_edit_subject_keeps_search_right(store):
    ticket_id = make()
    run("reply", ticket_id, "--body", "zebra stripes")
    assert listed("--search", "nightly") == [ticket_id]
    write("edit", ticket_id, "--subject", "Arm64 deploy broke")
    assert listed("--search", "nightly") == []
    assert listed("--search", "arm64 deploy") == [ticket_id]
    assert listed("--search", "zebra log") == [ticket_id]  # the thread is still in the document
    write("edit", ticket_id, "--subject", "Ünïcode «subject»")
    assert listed("--search", "unicode subject zebra") == [ticket_id]
    assert listed("--search", "arm64") == []


def test_edit_writes_one_history_row_per_field_with_old_and_new_values(store):
    ticket_id = make("--priority", "low", "--tag", "ci")
    write("edit", ticket_id, "--priority", "urgent", "--add-tag", "arm64", "--subject", "New subject")
    with sqlite3.connect(store) as db:
        rows = db.execute(
            "SELECT detail FROM history WHERE ticket_id = ? AND action = 'edit' ORDER BY id", (int(ticket_id),)
        ).fetchall()
        rank = db.execute("SELECT priority_rank FROM tickets WHERE id = ?", (int(ticket_id),)).fetchone()[0]
    details = sorted((d["field"], d["from"], d["to"]) for d in (json.loads(r[0]) for r in rows))
    assert details == [
        ("priority", "low", "urgent"),
        ("subject", "Nightly build failed", "New subject"),
        ("tags", ["ci"], ["ci", "arm64"]),
    ]
    assert rank == 0  # list --sort priority follows the edit
    low = make("--priority", "low")
    assert listed("--sort", "priority") == [ticket_id, low]


def test_edit_end_to_end_as_a_process(store):
    ticket_id = make()
    result = run_process("edit", ticket_id, "--priority", "urgent", "--format", "json", env={"TIXCLI_DB": str(store)})
    assert result.code == 0, result.err
    assert json.loads(result.out)["priority"] == "urgent"
    again = run_process("edit", ticket_id, "--priority", "urgent", env={"TIXCLI_DB": str(store)})
    assert again.code == 0 and "nothing to do" in again.err


# -- reopen --------------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["solved", "pending", "hold"])
def test_reopen_brings_a_ticket_back_to_open(store, start):
    ticket_id = make()
    if start == "solved":
        run("solve", ticket_id)
        assert show(ticket_id)["solved_at"] is not None
    else:
        assert run("reply", ticket_id, "--body", "waiting", "--status", start).code == 0
    before = show(ticket_id)
    result = run("reopen", ticket_id)
    assert (result.code, result.out, result.err) == (0, "", "")
    after = show(ticket_id)
    assert after["status"] == "open" and after["solved_at"] is None
    assert len(after["comments"]) == len(before["comments"])
    assert listed("--status", "open") == [ticket_id]


def test_reopen_with_a_comment_public_internal_or_from_stdin(store):
    ticket_id = make()
    run("solve", ticket_id)
    data = write("reopen", ticket_id, "--body", "reopening quietly", "--internal")
    assert (data["changed"], data["status"]) == (True, "open")
    run("solve", ticket_id)
    piped = run("reopen", ticket_id, "--body-file", "-", stdin=b"still failing\n")
    assert piped.code == 0, piped.err
    comments = show(ticket_id)["comments"]
    assert [(c["body"], c["public"]) for c in comments[1:]] == [
        ("reopening quietly", False),
        ("still failing\n", True),
    ]


def test_reopen_of_an_open_or_new_ticket_exits_0_and_of_a_closed_one_5(store):
    ticket_id = make()
    before = snapshot()
    new = run("reopen", ticket_id, "--format", "json")
    assert new.code == 0 and "already new" in new.err and json.loads(new.out)["changed"] is False
    run("reply", ticket_id, "--body", "on it")
    before = snapshot()
    opened = run("reopen", ticket_id, "--format", "json")
    assert opened.code == 0 and "already open" in opened.err and json.loads(opened.out)["changed"] is False
    assert snapshot() == before
    run("close", ticket_id)
    before = snapshot()
    for args in (["reopen", ticket_id], ["reopen", ticket_id, "--body", "please"]):
        refused = run(*args)
        assert refused.code == 5 and "closed" in refused.err, args
    assert snapshot() == before
    assert run("reopen", "999").code == 4


# -- the comment options of solve, close and reopen ----------------------------------------


def test_solve_with_an_internal_comment_files_and_ccs(store, tmp_path):
    log = tmp_path / "fix.diff"
    log.write_bytes(b"+ok\n")
    ticket_id = make()
    result = run(
        "solve", ticket_id, "--body", "patched", "--internal", "--attach", str(log), "--cc", "Lead@Example.com"
    )
    assert result.code == 0, result.err
    shown = show(ticket_id)
    last = shown["comments"][-1]
    assert shown["status"] == "solved" and shown["cc"] == ["lead@example.com"]
    assert (last["body"], last["public"]) == ("patched", False)
    assert [(a["filename"], a["size"]) for a in last["attachments"]] == [("fix.diff", 4)]


def test_solve_with_a_comment_on_a_solved_ticket_adds_it(store):
    ticket_id = make()
    run("solve", ticket_id)
    data = write("solve", ticket_id, "--body", "one more thing")
    assert (data["changed"], data["status"]) == (True, "solved")
    assert show(ticket_id)["comments"][-1]["body"] == "one more thing"


def test_solve_close_and_reopen_with_files_only_get_an_attached_text(store, tmp_path):
    log = tmp_path / "build.log"
    log.write_text("boom\n")
    ticket_id = make()
    assert run("close", ticket_id, "--attach", str(log)).code == 0
    last = show(ticket_id)["comments"][-1]
    assert last["body"] == "Attached: build.log" and last["public"] is True
    assert show(ticket_id)["status"] == "closed"


@pytest.mark.parametrize("verb", ["solve", "close", "reopen"])
def test_comment_options_without_a_comment_are_refused(store, verb):
    ticket_id = make()
    before = snapshot()
    for args, text in (
        (["--internal"], "--internal goes with a comment"),
        (["--cc", "lead@example.com"], "--cc goes with a comment"),
        (["--body", "x", "--body-file", "-"], "not both"),
        (["--body", "   "], "empty"),
        (["--body", "x", "--cc", "nope"], "invalid email"),
        (["--body", "x", "--attach", "/nonexistent.log"], "no such file"),
    ):
        result = run(verb, ticket_id, *args)
        assert result.code == 6 and text in result.err, (verb, args, result.err)
    assert snapshot() == before


def test_close_with_a_comment_on_a_closed_ticket_exits_5(store):
    ticket_id = make()
    run("close", ticket_id)
    before = snapshot()
    assert run("close", ticket_id, "--body", "late").code == 5
    assert run("solve", ticket_id, "--body", "late").code == 5
    assert snapshot() == before
