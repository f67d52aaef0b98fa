"""The JSM backend against a hostile or broken service (issue 8, "Hardening").

Each test makes the JSM stand-in (tests/standins/jsm.py) answer in a way a live site should
not — keys that climb out of their URL path, pages that never end, comment bodies built to make
a regex backtrack, endless error texts — or feeds the CLI ids that only look like issue keys,
and checks that tixcli ends with the documented exit code after a bounded number of requests.
"""

from __future__ import annotations

import time

import pytest
from cli import run
from harness_jsm import JSM_EMAIL

from tixcli.backends.jsm import JSMBackend
from tixcli.config import Profile
from tixcli.model import FileUpload, NewTicket, Reply

ME = JSM_EMAIL


@pytest.fixture
def server(jsm_harness):
    return jsm_harness.server


def backend_for(harness, **settings) -> JSMBackend:
    p = harness.profile
    return JSMBackend(Profile(p.name, p.backend, {**p.settings, **settings}, p.source))


@pytest.fixture
def backend(jsm_harness):
    b = backend_for(jsm_harness)
    yield b
    b.shutdown()


def new(subject="Printer on fire", body="It is really on fire", **kw) -> NewTicket:
    kw.setdefault("requester", ME)
    return NewTicket(subject=subject, body=body, author=ME, **kw)


def cli(harness, *args, env=None):
    return run("--config", str(harness.config_path), *args, env={**harness.env, **(env or {})})


def since(server, before: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests[before:]]


# -- comment bodies that make a regex backtrack ------------------------------------------------


def test_a_comment_of_32000_spaces_with_a_file_is_read_in_well_under_a_second(server, backend, tmp_path):
    """JSM appends `[^file]` to a comment with files; tixcli strips it. The old pattern ended in
    `\\s*$` and was tried at every space: about 10 s per such comment on the project's machine."""
    f = tmp_path / "a.log"
    f.write_text("log")
    upload = FileUpload(f, "a.log", 3, "text/plain")
    key = backend.create(new()).ticket.id
    body = "see below" + " " * 32_000 + "and the log"  # Jira's limit is 32,767 characters
    backend.reply(key, Reply(body, ME, attachments=[upload]))
    backend.reply(key, Reply(" " * 32_000 + "x", ME, attachments=[upload]))
    started = time.monotonic()
    ticket = backend.get(key)
    took = time.monotonic() - started
    assert [c.body for c in ticket.comments[1:]] == [body, " " * 32_000 + "x"]
    assert [a.filename for c in ticket.comments[1:] for a in c.attachments] == ["a.log", "a.log"]
    assert took < 1.0, f"show took {took:.2f} s"  # fixed: 0.01 s; the old pattern: 37 s
