"""One shape for what every write command prints with --format json|jsonl|yaml: the resulting
ticket's fields plus `created` and `changed`, validated against `tixcli schema --write-result`."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from cli import run

WRITE_FORMATS = ["json", "jsonl", "yaml"]


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TIXCLI_DB", str(tmp_path / "tickets.db"))
    return tmp_path


@pytest.fixture(scope="module")
def validator():
    result = run("schema", "--write-result")
    assert result.code == 0, result.err
    schema = json.loads(result.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def parse(out: str, fmt: str) -> dict:
    if fmt == "json":
        return json.loads(out)
    if fmt == "jsonl":
        lines = out.splitlines()
        assert len(lines) == 1, out
        return json.loads(lines[0])
    return yaml.safe_load(out)


def new_ticket() -> str:
    result = run("create", "--subject", "Nightly build failed", "--body", "see log")
    assert result.code == 0, result.err
    return result.out.strip()


def write(validator, fmt: str, *args: str, env: dict | None = None) -> dict:
    result = run(*args, "--format", fmt, env=env)
    assert result.code == 0, (args, result.err)
    data = parse(result.out, fmt)
    errors = [e.message for e in validator.iter_errors(data)]
    assert errors == [], (args, errors)
    return data


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
def test_every_write_command_prints_the_documented_shape(store, validator, fmt):
    log = store / "build.log"
    log.write_text("boom\n")
    ticket_id = new_ticket()
    created = write(validator, fmt, "create", "--subject", "s", "--body", "b", "--dedupe-key", "k")
    assert created["created"] is True and created["changed"] is True
    again = write(validator, fmt, "create", "--subject", "s", "--body", "again", "--dedupe-key", "k")
    assert again["id"] == created["id"] and again["created"] is False and again["changed"] is True
    steps = [
        ["reply", ticket_id, "--body", "retrying"],
        ["reply", ticket_id, "--body", "note", "--internal", "--status", "hold"],
        ["attach", ticket_id, str(log)],
        ["cc", ticket_id, "--add", "lead@example.com"],
        ["cc", ticket_id, "--remove", "lead@example.com"],
        ["solve", ticket_id, "--body", "fixed"],
        ["close", ticket_id],
    ]
    for args in steps:
        data = write(validator, fmt, *args)
        assert data["id"] == ticket_id and data["created"] is None and data["changed"] is True, args
    assert data["status"] == "closed"


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
def test_cc_with_nothing_to_change_reports_changed_false(store, validator, fmt):
    ticket_id = new_ticket()
    assert write(validator, fmt, "cc", ticket_id, "--add", "lead@example.com")["changed"] is True
    same = write(validator, fmt, "cc", ticket_id, "--add", "LEAD@example.com")
    assert same["changed"] is False and same["cc"] == ["lead@example.com"]
    absent = write(validator, fmt, "cc", ticket_id, "--remove", "nobody@example.com")
    assert absent["changed"] is False


def test_the_write_result_is_the_ticket_plus_created_and_changed(store):
    """Backward compatible: a script reading `create --format json`'s id (or any ticket field) still can."""
    ticket = json.loads(run("schema").out)
    result = json.loads(run("schema", "--write-result").out)
    assert result["properties"] == {**ticket["properties"], **result["properties"]}
    assert set(result["properties"]) - set(ticket["properties"]) == {"created", "changed"}
    assert result["required"] == [*ticket["required"], "created", "changed"]
    assert result["additionalProperties"] is False
    data = json.loads(run("create", "--subject", "s", "--body", "b", "--format", "json").out)
    assert data["id"] == "1" and data["subject"] == "s"
    shown = json.loads(run("show", "1", "--format", "json").out)
    shown.pop("comments")  # the thread is there only when the backend read it back (optional in both)
    assert {k: v for k, v in data.items() if k not in ("created", "changed", "comments")} == shown


def test_a_ticket_alone_does_not_validate_as_a_write_result(store, validator):
    new_ticket()
    shown = json.loads(run("show", "1", "--format", "json").out)
    assert not validator.is_valid(shown)  # created and changed are required
    assert validator.is_valid({**shown, "created": None, "changed": True})
    assert not validator.is_valid({**shown, "created": None, "changed": None})


def test_cc_lists_participants_in_every_write_format(store):
    ticket_id = new_ticket()
    run("cc", ticket_id, "--add", "a@example.com", "--add", "b@example.com")
    both = ["a@example.com", "b@example.com"]
    assert json.loads(run("cc", ticket_id, "--format", "json").out) == both
    assert [json.loads(x) for x in run("cc", ticket_id, "--format", "jsonl").lines] == both
    assert yaml.safe_load(run("cc", ticket_id, "--format", "yaml").out) == both
    assert run("cc", ticket_id, "--format", "csv").code == 6


def test_write_commands_refuse_a_read_only_format(store):
    ticket_id = new_ticket()
    writes = (["reply", ticket_id, "--body", "x"], ["solve", ticket_id], ["cc", ticket_id, "--add", "a@example.com"])
    for args in writes:
        assert run(*args, "--format", "table").code == 6, args


def test_every_backend_prints_the_same_shape(harness, validator, tmp_path):
    """The same commands through the CLI on each backend (stand-in servers for the remote ones)."""
    log = tmp_path / "build.log"
    log.write_text("boom\n")

    def cli(*args: str) -> dict:
        return write(validator, "json", "--config", str(harness.config_path), *args, env=harness.env)

    created = cli("create", "--subject", "Printer on fire", "--body", "really")
    assert created["created"] is True and created["changed"] is True and created["backend"] == harness.name
    ticket_id = created["id"]
    for args in (
        ["reply", ticket_id, "--body", "retrying"],
        ["attach", ticket_id, str(log)],
        ["cc", ticket_id, "--add", "lead@example.com"],
        ["solve", ticket_id],
        ["close", ticket_id],
    ):
        data = cli(*args)
        assert (data["id"], data["created"], data["changed"]) == (ticket_id, None, True), args
