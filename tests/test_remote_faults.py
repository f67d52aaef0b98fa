"""The remote backends under faults, through the real CLI over real HTTP (issue 5).

Every test runs on Zendesk and on JSM against their stand-in servers, with faults injected in
the stand-in (tests/standins/base.py): 429 with and without Retry-After, 500/502/503, connection
resets (before and in the middle of an answer), answers that never come, malformed JSON, an HTML
sign-in page, 401, and pages that change while they are read. For each: the command ends with the
documented exit code, one `error:` line and within a bounded time; reads are retried with
backoff; a create is never duplicated; an interrupted export resumes without gaps or duplicates.

The profile's waits are kept small (FAST) so that the whole file runs in well under a minute.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cli import Result, run

import tixcli.backends.jsm as jsm_module
import tixcli.backends.zendesk_export as zendesk_export

# Small waits: a 1 s timeout (also where the timeout is what is tested: HANG_TIMEOUT; less lets a
# busy 2-core CI machine time out on a normal answer), single waits up to 1 s, 0.5 s of waiting
# per command (room for one backoff). Tests of successful
# retries give themselves a larger budget and a timeout no loaded CI machine reaches (RETRYING).
FAST = {"timeout": 1.0, "max_retry_wait": 1, "retry_budget": 0.5}
RETRYING = {"timeout": 3, "max_retry_wait": 1.5, "retry_budget": 2}
# HttpClient's backoff: 0.25 s, then doubling, each jittered by +-25 %.
MIN_BACKOFF = 0.25 * 0.75
HANG_TIMEOUT = 1.0
HANG = 4.0  # how long a hung answer sits: well past any timeout above
# A command that fails on every attempt: a few timeouts, waits within the budget, and slack.
BOUND = 4 * FAST["timeout"] + FAST["retry_budget"] + 1.5
STDERR_PREFIXES = ("error: ", "hint: ", "warning: ", "resume: ", "exported ")


@dataclass
class Timed:
    result: Result
    seconds: float

    @property
    def code(self) -> int:
        return self.result.code


class Remote:
    """One remote backend under test: its stand-in, a tmp copy of its config, the CLI on it."""

    def __init__(self, harness, tmp_path: Path) -> None:
        self.harness = harness
        self.name = harness.name
        self.server = harness.server
        self.config = tmp_path / "remote-config.yaml"
        self.configure()

    # -- configuration --
    def configure(self, **settings) -> None:
        """The harness's profile with FAST waits and `settings` (None removes a key)."""
        data = yaml.safe_load(self.harness.config_path.read_text())
        profile = data["profiles"][data["default_profile"]]
        for key, value in {**FAST, **settings}.items():
            if value is None:
                profile.pop(key, None)
            else:
                profile[key] = value
        self.config.write_text(yaml.safe_dump(data, sort_keys=False))

    @property
    def user(self) -> str:
        return self.harness.user

    def cli(self, *args: str, env: dict | None = None) -> Timed:
        started = time.monotonic()
        result = run("--config", str(self.config), *args, env={**self.harness.env, **(env or {})})
        return Timed(result, time.monotonic() - started)

    # -- server state --
    def seed(self, n: int, **fields) -> list[str]:
        """n tickets requested by the profile's user (so `list` shows them), oldest first."""
        if self.name == "zendesk":
            return [str(i) for i in self.server.seed_tickets(n, requester=self.user, **fields)]
        return [issue.key for issue in self.server.seed_requests(n, reporter=self.user, **fields)]

    def ticket_count(self) -> int:
        return self.server.ticket_count() if self.name == "zendesk" else self.server.issue_count()

    def touch(self, ticket_id: str) -> None:
        """Change a ticket on the server (as someone else would): it becomes the latest updated."""
        with self.server.lock:
            if self.name == "zendesk":
                ticket = self.server.tickets[int(ticket_id)]
                ticket["updated_at"] = self.server._stamp()
            else:
                self.server._touch(self.server.issues[ticket_id])

    def small_pages(self, monkeypatch, size: int) -> None:
        """Export (and JSM list) pages of `size` tickets, so a few tickets span several pages."""
        if self.name == "zendesk":
            monkeypatch.setattr(zendesk_export, "EXPORT_PAGE", size)
        else:
            monkeypatch.setattr(jsm_module, "PAGE", size)

    # -- request paths (regexes on "METHOD /path?query", as Fault.match takes them) --
    @property
    def create_post(self) -> str:
        return r"^POST /api/v2/tickets\.json" if self.name == "zendesk" else r"^POST /rest/servicedeskapi/request$"

    def comments_get(self, ticket_id: str) -> str:
        if self.name == "zendesk":
            return rf"^GET /api/v2/tickets/{ticket_id}/comments\.json"
        return rf"^GET /rest/servicedeskapi/request/{ticket_id}/comment"

    @property
    def export_next_page(self) -> str:
        if self.name == "zendesk":
            return r"^GET /api/v2/incremental/tickets/cursor\.json\?.*cursor="
        return r"^GET /rest/api/[23]/search/jql\?.*nextPageToken="

    def is_first_list_page(self, request) -> bool:
        if self.name == "zendesk":
            return request.path == "/api/v2/search.json" and request.arg("page", "1") == "1"
        if request.path == "/rest/servicedeskapi/request":  # `list --mine`: the portal's requests
            return request.arg("start", "0") == "0"
        return request.path == "/rest/api/3/search/jql" and not request.arg("nextPageToken")

    def is_export_page(self, request) -> bool:
        if self.name == "zendesk":
            return request.path == "/api/v2/incremental/tickets/cursor.json"
        return request.path in ("/rest/api/2/search/jql", "/rest/api/3/search/jql")

    def after_request(self, monkeypatch, predicate, action) -> list[int]:
        """Run `action()` on the server once each request matching `predicate` has been answered
        (before the answer leaves): the state changes between two pages of a paged read."""
        fired: list[int] = []
        original = self.server._dispatch

        def dispatch(request):
            response = original(request)
            if predicate(request):
                fired.append(1)
                action(len(fired))
            return response

        monkeypatch.setattr(self.server, "_dispatch", dispatch)
        return fired


@pytest.fixture(params=["zendesk", "jsm"])
def remote(request, tmp_path) -> Remote:
    return Remote(request.getfixturevalue(f"{request.param}_harness"), tmp_path)


# -- helpers -----------------------------------------------------------------------------------


def error_line(result: Result) -> str:
    """The one `error:` line of a failed command (asserting there is exactly one, no traceback)."""
    lines = [line for line in result.err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.err
    assert "Traceback" not in result.err and "unexpected" not in errors[0], result.err
    assert all(line.startswith(STDERR_PREFIXES) for line in lines), result.err
    return errors[0]


def ids_of(result: Result) -> list[str]:
    """Ticket ids in the output of `list --format json` or `export` (jsonl)."""
    text = result.out.strip()
    if text.startswith("["):
        return [t["id"] for t in json.loads(text)]
    return [json.loads(line)["id"] for line in text.splitlines() if line.strip()]


def resume_token(result: Result) -> str | None:
    found = re.findall(r"^resume: --cursor=(\S+)$", result.err, flags=re.M)
    return found[-1] if found else None


def command(remote: Remote, name: str, ticket_id: str) -> tuple[str, ...]:
    """The CLI arguments of one command on a ticket (the reads ask for JSON: comparable output)."""
    return {
        "show": ("show", ticket_id, "--format", "json"),
        "list": ("list", "--format", "json"),
        "export": ("export",),
        "create": ("create", "--subject", "Disk full", "--body", "df says 100%"),
        "reply": ("reply", ticket_id, "--body", "looking into it"),
    }[name]


READS = ["show", "list", "export"]
ALL = ["show", "list", "export", "create", "reply"]


def baseline(remote: Remote, args: tuple[str, ...]) -> tuple[Timed, int]:
    """The command without faults: its answer and how many requests it takes."""
    before = remote.server.count()
    timed = remote.cli(*args)
    assert timed.code == 0, timed.result.err
    return timed, remote.server.count() - before


def faulted(remote: Remote, args: tuple[str, ...]) -> tuple[Timed, int]:
    before = remote.server.count()
    timed = remote.cli(*args)
    return timed, remote.server.count() - before


# -- 429 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["show"])
def test_429_with_retry_after_waits_as_asked_then_succeeds(remote, name):
    remote.configure(**RETRYING)
    tid = remote.seed(3)[0]
    args = command(remote, name, tid)
    clean, requests = baseline(remote, args)
    remote.server.inject(kind="status", status=429, retry_after=1, match=r"^GET ", times=1)
    timed, sent = faulted(remote, args)
    assert timed.code == 0, timed.result.err
    assert timed.result.out == clean.result.out
    assert sent == requests + 1  # the 429, then the same request again
    assert 1.0 <= timed.seconds < 1.0 + 2


@pytest.mark.parametrize("name", READS)
def test_429_without_retry_after_is_retried_with_backoff(remote, name):
    remote.configure(**RETRYING)
    tid = remote.seed(3)[0]
    args = command(remote, name, tid)
    clean, requests = baseline(remote, args)
    remote.server.inject(kind="status", status=429, match=r"^GET ", times=1)
    timed, sent = faulted(remote, args)
    assert timed.code == 0, timed.result.err
    assert timed.result.out == clean.result.out
    assert sent == requests + 1
    assert MIN_BACKOFF <= timed.seconds < 3


def test_429_on_a_create_is_sent_again_and_makes_one_ticket(remote):
    """A 429 means the service did not process the request: repeating a create is safe."""
    remote.server.inject(kind="status", status=429, retry_after=0, match=remote.create_post, times=1)
    before = remote.server.count("POST")
    timed = remote.cli(*command(remote, "create", ""))
    assert timed.code == 0, timed.result.err
    assert remote.ticket_count() == 1
    assert remote.server.count("POST") - before == 2


@pytest.mark.parametrize("name", ALL)
def test_429_longer_than_max_retry_wait_exits_8_at_once_naming_the_wait(remote, name):
    tid = remote.seed(1)[0]
    remote.server.inject(kind="status", status=429, retry_after=30, times=1000)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 8
    message = error_line(timed.result)
    assert "rate limit" in message and "30 s" in message
    assert timed.seconds < 1.5  # 30 s > max_retry_wait: no waiting at all
    assert remote.ticket_count() == 1  # nothing was created


@pytest.mark.parametrize("name", ["create"])
def test_429_beyond_the_retry_budget_exits_8_once_the_budget_is_spent(remote, name):
    remote.configure(max_retry_wait=1, retry_budget=1.5)
    tid = remote.seed(1)[0]
    remote.server.inject(kind="status", status=429, retry_after=1, times=1000)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 8
    message = error_line(timed.result)
    assert "rate limit" in message and "wait 1 s" in message
    assert 1.0 <= timed.seconds < 1.0 + 1.5  # one wait of 1 s fits in 1.5 s, a second does not
    assert remote.ticket_count() == 1


# -- 5xx ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, status, times", [("show", 500, 1), ("show", 502, 1), ("show", 503, 2), ("list", 502, 1), ("export", 503, 1)]
)
def test_5xx_on_a_read_is_retried_with_backoff_and_succeeds(remote, name, status, times):
    remote.configure(**RETRYING)
    tid = remote.seed(3)[0]
    args = command(remote, name, tid)
    clean, requests = baseline(remote, args)
    remote.server.inject(kind="status", status=status, match=r"^GET ", times=times)
    timed, sent = faulted(remote, args)
    assert timed.code == 0, timed.result.err
    assert timed.result.out == clean.result.out
    assert sent == requests + times
    # Waited 0.25 s, then 0.5 s, ... (each +-25 %): the backoff doubles.
    assert MIN_BACKOFF * (2**times - 1) <= timed.seconds < 3


@pytest.mark.parametrize("name", ALL)
def test_a_persistent_503_exits_8_within_the_retry_budget(remote, name):
    tid = remote.seed(1)[0]
    remote.server.inject(kind="status", status=503, times=1000)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 8
    assert "503" in error_line(timed.result)
    assert timed.seconds < BOUND
    assert remote.ticket_count() == 1


# -- dropped connections and answers that never come ---------------------------------------------


@pytest.mark.parametrize("kind", ["reset", "reset_mid_body"])
@pytest.mark.parametrize("name", READS)
def test_a_dropped_connection_on_a_read_is_retried_and_succeeds(remote, name, kind):
    remote.configure(**RETRYING)
    tid = remote.seed(3)[0]
    args = command(remote, name, tid)
    clean, requests = baseline(remote, args)
    remote.server.inject(kind=kind, match=r"^GET ", times=1)
    timed, sent = faulted(remote, args)
    assert timed.code == 0, timed.result.err
    assert timed.result.out == clean.result.out
    assert sent == requests + 1
    assert timed.seconds < 3


@pytest.mark.parametrize("name, kind", [("show", "reset"), ("list", "reset_mid_body"), ("reply", "reset_mid_body")])
def test_a_connection_dropped_every_time_exits_8(remote, name, kind):
    tid = remote.seed(1)[0]
    remote.server.inject(kind=kind, times=1000)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 8
    assert "cannot reach" in error_line(timed.result)
    assert timed.seconds < BOUND


@pytest.mark.parametrize("name", ["show", "list"])
def test_an_answer_that_never_comes_once_is_retried_after_the_timeout(remote, name):
    remote.configure(**{**RETRYING, "timeout": HANG_TIMEOUT})
    tid = remote.seed(3)[0]
    args = command(remote, name, tid)
    clean, requests = baseline(remote, args)
    remote.server.inject(kind="hang", delay=HANG, match=r"^GET ", times=1)
    timed, sent = faulted(remote, args)
    assert timed.code == 0, timed.result.err
    assert timed.result.out == clean.result.out
    assert sent == requests + 1
    assert HANG_TIMEOUT <= timed.seconds < HANG_TIMEOUT + 2


@pytest.mark.parametrize("name", ["show", "create"])
def test_an_answer_that_never_comes_exits_8_in_bounded_time(remote, name):
    remote.configure(timeout=HANG_TIMEOUT)
    tid = remote.seed(1)[0]
    remote.server.inject(kind="hang", delay=HANG, times=1000)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 8
    assert "timed out" in error_line(timed.result)
    assert HANG_TIMEOUT <= timed.seconds < BOUND
    assert remote.ticket_count() == 1


@pytest.mark.parametrize("name", ["show", "list", "create"])
def test_an_answer_trickled_a_byte_at_a_time_exits_8_at_the_deadline(remote, name):
    """Each byte comes within the timeout, the whole answer does not: the timeout is a deadline
    for the whole exchange. ~1 s per attempt here; the old code waited for every byte (minutes)."""
    remote.configure(timeout=HANG_TIMEOUT)
    tid = remote.seed(1)[0]
    remote.server.inject(kind="trickle", interval=0.2, times=1000)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 8, timed.result.err
    assert "timed out" in error_line(timed.result)
    assert HANG_TIMEOUT <= timed.seconds < 10 * BOUND
    assert remote.ticket_count() <= 2  # a create's answer trickled: made once, never twice


@pytest.mark.parametrize("name", ["show", "list"])
def test_json_nested_100000_deep_exits_8(remote, name):
    tid = remote.seed(1)[0]
    remote.server.inject(kind="malformed", body=b"[" * 100_000 + b"]" * 100_000, times=1000)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 8, timed.result.err  # the old code: RecursionError, exit 1
    assert "malformed" in error_line(timed.result)


@pytest.mark.parametrize("name", ["show", "list"])
def test_an_answer_past_max_response_bytes_exits_8(remote, name):
    remote.configure(max_response_bytes=100_000)
    tid = remote.seed(1)[0]
    remote.server.inject(kind="malformed", body=b" " * 200_000 + b"{}", times=1000)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 8, timed.result.err
    assert "larger than 100000 bytes" in error_line(timed.result)


# -- nonsense and sign-in pages ----------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_malformed_json_exits_8(remote, name):
    tid = remote.seed(1)[0]
    remote.server.inject(kind="malformed", times=1000)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 8
    assert "malformed" in error_line(timed.result)
    assert timed.seconds < BOUND


@pytest.mark.parametrize("name", ["show", "list"])
def test_well_formed_json_with_malformed_times_exits_8(remote, monkeypatch, name):
    """A service's nonsense time is its fault (exit 8, one line), never a raw Python error."""
    tid = remote.seed(1)[0]
    time_keys = {"created_at", "updated_at", "created", "updated", "iso8601", "jira", "epochMillis"}

    def spoil(value):
        if isinstance(value, dict):
            return {k: ("13/45/2026 noon" if k in time_keys else spoil(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [spoil(v) for v in value]
        return value

    original = remote.server._dispatch

    def dispatch(request):
        response = original(request)
        if response.json is not None and response.status == 200:
            response.json = spoil(response.json)
        return response

    monkeypatch.setattr(remote.server, "_dispatch", dispatch)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 8, timed.result.err
    assert "malformed time" in error_line(timed.result)


@pytest.mark.parametrize("name", ALL)
def test_a_200_html_sign_in_page_exits_7(remote, name):
    tid = remote.seed(1)[0]
    remote.server.inject(kind="html", times=1000)
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 7
    assert "web page" in error_line(timed.result)
    assert timed.seconds < 1.5


@pytest.mark.parametrize("name", ALL)
def test_401_exits_7_without_retrying(remote, name):
    tid = remote.seed(1)[0]
    remote.server.inject(kind="status", status=401, times=1000)
    before = remote.server.count()
    timed = remote.cli(*command(remote, name, tid))
    assert timed.code == 7
    assert "401" in error_line(timed.result)
    assert remote.server.count() - before == 1 and timed.seconds < 1.5


# -- a create is never duplicated -------------------------------------------------------------


@pytest.mark.parametrize("times", [1, 1000], ids=["once", "always"])
@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503},
        {"kind": "status", "status": 502},
        {"kind": "reset"},
        {"kind": "reset_mid_body"},  # the ticket is made, its answer is lost
        {"kind": "hang", "delay": 2},  # the answer never comes (the stand-in makes no ticket)
    ],
    ids=["503", "502", "reset", "reset_mid_body", "hang"],
)
def test_a_create_under_faults_makes_at_most_one_ticket(remote, fault, times):
    if times == 1:  # room for one retry where one is safe (an idempotency key)
        remote.configure(max_retry_wait=1, retry_budget=1)
    remote.server.inject(match=remote.create_post, times=times, **fault)
    timed = remote.cli(*command(remote, "create", ""))
    count = remote.ticket_count()
    assert count <= 1
    if timed.code == 0:
        assert count == 1
        shown = remote.cli("show", timed.result.out.strip(), "--format", "json")
        assert shown.code == 0 and json.loads(shown.result.out)["subject"] == "Disk full"
    else:
        assert timed.code == 8
        error_line(timed.result)
    assert timed.seconds < BOUND + 1


# -- pages that change while they are read -------------------------------------------------------


@pytest.mark.parametrize("scope", ["--all", "--mine"])
def test_list_while_tickets_are_created_and_updated_between_pages(remote, monkeypatch, scope):
    ids = remote.seed(160)
    limit = 150  # two pages (100 + 50)

    def meanwhile(n):
        if n == 1:  # after the first page: 10 new tickets, two changed ones jump to the top
            remote.seed(10)
            remote.touch(ids[0])
            remote.touch(ids[5])

    fired = remote.after_request(monkeypatch, remote.is_first_list_page, meanwhile)
    timed = remote.cli("list", scope, "--limit", str(limit), "--format", "json")
    assert timed.code == 0, timed.result.err
    assert fired, "the list did not page"
    listed = ids_of(timed.result)
    duplicates = sorted({i for i in listed if listed.count(i) > 1})
    assert not duplicates, f"listed twice: {duplicates}"
    assert len(listed) == limit


def test_export_while_tickets_are_created_and_updated_between_pages(remote, monkeypatch):
    remote.small_pages(monkeypatch, 4)
    ids = remote.seed(10)

    def meanwhile(n):
        if n == 2:  # after the second page: a new ticket, an exported one and a pending one change
            remote.seed(1)
            remote.touch(ids[0])
            remote.touch(ids[8])

    fired = remote.after_request(monkeypatch, remote.is_export_page, meanwhile)
    timed = remote.cli("export")
    assert timed.code == 0, timed.result.err
    assert len(fired) >= 3
    exported = ids_of(timed.result)
    duplicates = sorted({i for i in exported if exported.count(i) > 1})
    assert not duplicates, f"exported twice: {duplicates}"
    assert set(ids) <= set(exported)  # every ticket there at the start, changed or not


# -- an interrupted export resumes ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["503", "reset_mid_body"])
@pytest.mark.parametrize("where", ["next_page", "a_ticket"])
def test_an_export_cut_by_a_persistent_fault_resumes_without_gaps_or_duplicates(remote, monkeypatch, where, kind):
    remote.small_pages(monkeypatch, 3)
    if where == "a_ticket":  # make the export read each ticket's comments, where the fault waits
        if remote.name == "zendesk":
            remote.server.admin = False  # an admin's export takes the threads from the ticket events
        else:
            remote.server.embedded_comments = 0  # the search pages hold no comments: one call each
    ids = remote.seed(8, **({"comments": 1} if remote.name == "jsm" else {}))
    match = remote.export_next_page if where == "next_page" else remote.comments_get(ids[4])
    fault = {"kind": "status", "status": 503} if kind == "503" else {"kind": "reset_mid_body"}
    remote.server.inject(match=match, times=1000, **fault)
    first = remote.cli("export")
    assert first.code == 8
    error_line(first.result)
    assert first.seconds < BOUND
    token = resume_token(first.result)
    assert token, first.result.err
    got_first = ids_of(first.result)
    assert got_first == ids[: len(got_first)] and 0 < len(got_first) < len(ids)

    remote.server.faults.clear()
    second = remote.cli("export", "--cursor", token)
    assert second.code == 0, second.result.err
    got_second = ids_of(second.result)
    both = got_first + got_second
    assert sorted(both) == sorted(ids) and len(set(both)) == len(both), (got_first, got_second)
