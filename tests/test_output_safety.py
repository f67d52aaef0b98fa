"""What tixcli prints is safe to open: CSV cells no spreadsheet runs as a formula, and no text a
ticket or a service sent that rewrites a terminal (escape sequences) or reorders what a line
appears to say (bidi controls) — shown as visible escapes on a terminal, escaped in JSON and YAML.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import yaml
from cli import run

BIDI = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
ISOLATE = "\u2066"  # LEFT-TO-RIGHT ISOLATE
C1 = "\u0090"  # DEVICE CONTROL STRING (a C1 control)
# OSC-8 hyperlink, clear screen, cursor home: what a hostile service message can hold.
HOSTILE = "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07 \x1b[2J\x1b[H"
# Raw characters that must never reach stdout/stderr as they are.
UNSAFE = re.compile("[\x1b\x07\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    monkeypatch.delenv("TIXCLI_CSV_RAW", raising=False)
    return path


def create(*args: str) -> str:
    result = run("create", *args)
    assert result.code == 0, result.err
    return result.out.strip()


# -- CSV formula injection ----------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_cells_a_spreadsheet_would_run_get_a_leading_quote(store, formula):
    ticket_id = create("--subject", f"{formula} subject", "--body", f"{formula} body", "--tag", "@tag")
    shown = csv_rows(run("list", "--format", "csv").out)
    exported = csv_rows(run("export", "--format", "csv").out)
    one = csv_rows(run("show", ticket_id, "--format", "csv").out)
    for rows in (shown, exported, one):
        assert len(rows) == 1
        row = rows[0]
        for field in ("subject", "description"):
            assert row[field].startswith("'"), (field, row[field])
            assert row[field][1:2] in ("=", "+", "-", "@", "\t"), row[field]
        assert row["tags"] == "'@tag"
        assert row["id"] == ticket_id and row["status"] == "new"  # ordinary cells are untouched


def test_csv_raw_option_and_env_turn_the_guard_off(store):
    ticket_id = create("--subject", "=1+1", "--body", "-x")
    for env, extra in (({}, ["--csv-raw"]), ({"TIXCLI_CSV_RAW": "1"}, [])):
        for args in (["list"], ["export"], ["show", ticket_id]):
            result = run(*args, "--format", "csv", *extra, env=env)
            assert result.code == 0, (args, env, result.err)
            row = csv_rows(result.out)[0]
            assert (row["subject"], row["description"]) == ("=1+1", "-x"), (args, env)
    assert csv_rows(run("list", "--format", "csv", env={"TIXCLI_CSV_RAW": "0"}).out)[0]["subject"] == "'=1+1"


def test_csv_guard_applies_after_escape_sequences_are_stripped(store):
    create("--subject", "\x1b[0m=cmd|'/c calc'!A1", "--body", "b")
    assert csv_rows(run("list", "--format", "csv").out)[0]["subject"] == "'=cmd|'/c calc'!A1"


# -- show --format csv ----------------------------------------------------------------------


def test_show_csv_is_one_row_with_the_thread_as_json(store):
    ticket_id = create("--subject", "Nightly build failed", "--body", "see log", "--cc", "lead@example.com")
    assert run("reply", ticket_id, "--body", "=retrying").code == 0
    result = run("show", ticket_id, "--format", "csv")
    assert result.code == 0, result.err
    header = result.out.splitlines()[0].split(",")
    assert header[-2:] == ["comment_count", "comments"]
    assert header[:-2] == run("list", "--format", "csv").out.splitlines()[0].split(",")  # list's columns
    (row,) = csv_rows(result.out)
    assert row["subject"] == "Nightly build failed" and row["cc"] == "lead@example.com"
    assert row["comment_count"] == "2"
    shown = json.loads(run("show", ticket_id, "--format", "json").out)
    assert json.loads(row["comments"]) == shown["comments"]  # the thread, exactly as in JSON


# -- terminal, JSON and YAML ----------------------------------------------------------------


def hostile_ticket(tmp_path, monkeypatch) -> str:
    """A ticket whose subject, tag, author, requester and attachment name hold bidi and C1 controls."""
    monkeypatch.setenv("TIXCLI_USER", f"me{BIDI}@example.com")
    name = tmp_path / f"invoice{BIDI}txt.exe"
    name.write_bytes(b"x")
    ticket_id = create("--subject", f"pay {BIDI}now{C1} {HOSTILE}", "--body", f"body {ISOLATE}x", "--tag", f"t{BIDI}")
    assert run("attach", ticket_id, str(name)).code == 0
    return ticket_id


def test_table_and_plain_text_show_bidi_and_c1_controls_as_visible_escapes(store, tmp_path, monkeypatch):
    ticket_id = hostile_ticket(tmp_path, monkeypatch)
    shown = run("show", ticket_id).out
    listed = run("list").out
    for text in (shown, listed):
        assert not UNSAFE.search(text), ascii(text)
        assert "pay \\u202enow\\u0090" in text
        assert "me\\u202e@example.com" in text  # the requester (list) and the comments' author (show)
    assert "attachment: invoice\\u202etxt.exe (1 bytes)" in shown
    assert "body \\u2066x" in shown and "t\\u202e" in shown


def test_json_and_yaml_carry_bidi_and_c1_controls_escaped(store, tmp_path, monkeypatch):
    ticket_id = hostile_ticket(tmp_path, monkeypatch)
    outputs = {
        "show json": run("show", ticket_id, "--format", "json").out,
        "list jsonl": run("list", "--format", "jsonl").out,
        "export": run("export").out,
        "show yaml": run("show", ticket_id, "--format", "yaml").out,
        "list yaml": run("list", "--format", "yaml").out,
    }
    for name, text in outputs.items():
        assert not UNSAFE.search(text), (name, ascii(text))
        assert "\\u202e" in text, name
    # ... and the data is all there: parsing gives back the very characters.
    subject = f"pay {BIDI}now{C1} {HOSTILE}"
    assert json.loads(outputs["show json"])["subject"] == subject
    assert json.loads(outputs["list jsonl"])["subject"] == subject
    assert json.loads(outputs["export"])["comments"][1]["attachments"][0]["filename"] == f"invoice{BIDI}txt.exe"
    assert yaml.safe_load(outputs["show yaml"])["subject"] == subject
    assert yaml.safe_load(outputs["list yaml"])[0]["tags"] == [f"t{BIDI}"]


# -- remote services: user names, CC lists and error text -----------------------------------


def remote(harness, *args: str):
    return run("--config", str(harness.config_path), *args, env=harness.env)


def test_zendesk_cc_emails_and_authors_from_the_service_are_cleaned(zendesk_harness):
    server = zendesk_harness.server
    ticket_id = remote(zendesk_harness, "create", "--subject", "s", "--body", "b").out.strip()
    uid = server.add_user(f"lead{BIDI}{C1}@example.com", name=f"Lead {HOSTILE}")
    with server.lock:
        server.tickets[int(ticket_id)]["email_cc_ids"].append(uid)
    for args in (["cc", ticket_id], ["show", ticket_id], ["cc", ticket_id, "--format", "json"]):
        result = remote(zendesk_harness, *args)
        assert result.code == 0, result.err
        assert not UNSAFE.search(result.out), (args, ascii(result.out))
        assert "lead\\u202e\\u0090@example.com" in result.out, args


def test_zendesk_422_description_reaches_stderr_cleaned(zendesk_harness):
    body = json.dumps({"error": "RecordInvalid", "description": f"Record validation errors {HOSTILE}{BIDI}"})
    zendesk_harness.server.inject(kind="status", status=422, match=r"^POST /api/v2/tickets", body=body.encode())
    result = remote(zendesk_harness, "create", "--subject", "s", "--body", "b")
    assert result.code == 6, result.err
    assert not UNSAFE.search(result.err), ascii(result.err)
    assert "Record validation errors click" in result.err and "\\u202e" in result.err
    assert len(result.err.strip().splitlines()) <= 2


def test_jsm_400_message_reaches_stderr_cleaned(jsm_harness):
    body = json.dumps({"errorMessage": f"bad field {HOSTILE}{BIDI}\nsecond line"})
    jsm_harness.server.inject(status=400, match=r"^POST /rest/servicedeskapi/request$", body=body.encode())
    result = remote(jsm_harness, "create", "--subject", "s", "--body", "b")
    assert result.code == 6, result.err
    assert not UNSAFE.search(result.err), ascii(result.err)
    assert "bad field click" in result.err and "\\u202e" in result.err
    assert len(result.err.strip().splitlines()) <= 2  # one error line (and a hint at most)
