"""`export --state` on Zendesk, through the real CLI over real HTTP to the stand-in on 127.0.0.1.

Requests counted for full exports of 100, 1,000 and 5,000 tickets with 3 comments each, admin
and agent, next to the least the endpoints' page sizes allow; a later run; changes in the same
second as the previous run; a run killed mid-way (a real process, SIGKILL) and its re-run;
tombstones; a 429 storm longer than the export's wait budget. Time is the stand-in's clock or a
small Retry-After: no test waits real minutes, and none asserts a duration.

The least requests, from the page sizes (T tickets, E ticket events, U comment authors named on
no ticket, k changed tickets created before the previous run):

    admin:  ceil(T / 1000) + event_pages(E) + ceil(U / 100) + k
    agent:  ceil(T / 1000) + T                       (search export pages, one comments call each)

`event_pages(E)` is 1 for E <= 1000, else 1 + ceil((E - 1000) / 999): the events are time-based,
each page starts at the second the one before ended in, so that second's events (one here) come
again. An admin's export is measured within 10% of it; an agent's adds the one request that finds
out it is not an admin (403).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from cli import TIXCLI, run
from harness_zendesk import TOKEN, TOKEN_ENV, write_config

COMMENTS = 3  # per ticket: the description and two more


@pytest.fixture
def server(zendesk_harness):
    return zendesk_harness.server


class Tix:
    """tixcli on a Zendesk profile of the stand-in, with a state file."""

    def __init__(self, server, tmp_path) -> None:
        self.server = server
        self.tmp = tmp_path
        self.config = tmp_path / "config.yaml"
        self.state = tmp_path / "state.json"
        self.env = {TOKEN_ENV: TOKEN}
        self.configure()

    def configure(self, **settings) -> None:
        write_config(self.config, self.server.url, **settings)

    def __call__(self, *args: str):
        return run("--config", str(self.config), *args, env=self.env)

    def export(self, *args: str, code: int = 0):
        """One `export --state` run: (its tickets, in order, and the requests it sent)."""
        before = self.server.count()
        result = self("export", "--state", str(self.state), *args)
        assert result.code == code, result.err
        return lines(result.out), self.server.count() - before, result

    def position(self):
        return json.loads(self.state.read_text())["position"]


@pytest.fixture
def tix(server, tmp_path) -> Tix:
    return Tix(server, tmp_path)


def lines(text: str) -> list[dict]:
    """The complete JSON lines of an output (a killed run may end in the middle of one)."""
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            assert line is text.splitlines()[-1], "only the last line may be cut"
    return out


def seed(server, n: int, *, authors: int = 0, body: str = "", hours_ago: float = 2) -> list[str]:
    """n tickets with COMMENTS comments each, every event in a second of its own, in the past.

    The comments after the first are by `authors` users no ticket names (looked up by the
    export); 0: by the agent, whom the ticket pages side-load."""
    base = int(server.now() - hours_ago * 3600) - COMMENTS * n
    people = [server.add_user(f"author{k}@example.com") for k in range(authors)]
    text = {"description": body + "description"} if body else {}
    ids = server.seed_tickets(n, created_at=lambda i: base + COMMENTS * i, **text)
    server.seed_comments(
        ids,
        COMMENTS - 1,
        at=lambda i, j: base + COMMENTS * i + 1 + j,
        author=(lambda i, j: people[((COMMENTS - 1) * i + j) % authors]) if authors else None,
        body=(lambda i, j: f"{body}comment {j + 2}") if body else None,
    )
    return [str(t) for t in ids]


def event_pages(events: int, per_page: int = 1000, repeated: int = 1) -> int:
    return 1 if events <= per_page else 1 + math.ceil((events - per_page) / (per_page - repeated))


def admin_least(tickets: int, events: int, authors: int = 0, thread_calls: int = 0) -> int:
    return max(1, math.ceil(tickets / 1000)) + event_pages(events) + math.ceil(authors / 100) + thread_calls


def ids_of(tickets: list[dict]) -> list[str]:
    return [t["id"] for t in tickets]


TICKET_PAGES = r"^GET /api/v2/incremental/tickets/cursor\.json"


class FromTheSecondTicketPage:
    """Inject a fault on the ticket pages once the next run's first one is answered (a later
    run's first page has a cursor too: a regex cannot tell it from the second)."""

    def __init__(self, monkeypatch, server, **fault) -> None:
        self.server, self.fault, self.injected = server, fault, None
        self.original = server._dispatch
        monkeypatch.setattr(server, "_dispatch", self.dispatch)

    def dispatch(self, request):
        response = self.original(request)
        if request.path.endswith("/incremental/tickets/cursor.json") and self.injected is None:
            self.injected = self.server.inject(match=TICKET_PAGES, **self.fault)
        return response

    def off(self) -> None:
        self.server._dispatch = self.original
        self.server.faults.clear()


# -- requests for a full export, and for a later run -------------------------------------------


# 2,500: three ticket pages and several event pages (3 comments a ticket), a third of 5,000's time
@pytest.mark.parametrize("n", [100, 1000, 2500])
def test_an_admin_full_export_costs_pages_not_tickets(tix, server, n):
    authors = 150
    ids = seed(server, n, authors=authors)
    tickets, sent, result = tix.export()
    assert ids_of(tickets) == ids
    assert all(len(t["comments"]) == COMMENTS for t in tickets)
    least = admin_least(n, COMMENTS * n, authors)
    assert least <= sent <= least * 1.1, (sent, least)  # measured: 4 / 7 / 23 (2 / 5 / 21 without authors)
    assert sent * 20 < n  # the old export: a comments call per ticket (101 / 1,001 / 5,005)
    assert f"exported {n} tickets" in result.err and f"{sent} requests" in result.err
    assert server.count("GET", r"/tickets/\d+/comments") == 0
    assert server.count("GET", "/users/show_many") == math.ceil(authors / 100)
    for ticket in (tickets[0], tickets[n // 2], tickets[-1]):  # as `show --format json` gives it
        assert ticket == json.loads(tix("show", ticket["id"], "--format", "json").out)
    assert tix.position() is not None  # exact: the next run goes on from the incremental cursor


# one request a ticket by design: 1,000 proves the count (5,000 cost the suite 30-50 s)
@pytest.mark.parametrize("n", [100, 1000])
def test_an_agent_full_export_reads_each_thread(tix, server, n):
    server.admin = False
    ids = seed(server, n)
    tickets, sent, _ = tix.export()
    assert ids_of(tickets) == ids
    assert all(len(t["comments"]) == COMMENTS for t in tickets)
    # the pages, a thread a ticket, and the SLAs the search export does not give (show_many, 100 a call)
    least = math.ceil(n / 1000) + n + math.ceil(n / 100)
    assert sent == least + 1  # the 403 that says it is an agent's token
    assert sent <= least * 1.1
    assert server.count("GET", "/incremental/") == 1
    assert tix.position() is None  # overlap runs: the search index lags


def test_a_later_run_reads_what_changed_and_one_thread_per_older_ticket(tix, server):
    ids = seed(server, 1000, authors=20)
    first, _, _ = tix.export()
    assert len(first) == 1000
    changed = ids[100:140]
    server.seed_comments([int(t) for t in changed], 1, body="later", author="dev@example.com")
    made = seed(server, 25, hours_ago=0.5)
    tickets, sent, result = tix.export()
    assert ids_of(tickets) == made + changed  # by updated_at: the new ones changed half an hour ago
    events = len(changed) + COMMENTS * len(made)
    least = admin_least(len(tickets), events, thread_calls=len(changed))
    assert least <= sent <= least * 1.1, (sent, least)  # measured: 1 + 1 + 40 = 42
    assert f"exported {len(tickets)} tickets" in result.err
    for ticket in (tickets[0], tickets[-1]):
        assert ticket == json.loads(tix("show", ticket["id"], "--format", "json").out)
    assert tix.export()[:2] == ([], 2)  # nothing changed: one page of each export, nothing written


# -- exactness ----------------------------------------------------------------------------------


def test_changes_in_the_same_second_as_the_previous_run_are_exported_once(tix, server):
    server.freeze()  # the stand-in's clock stands still: every change below lands in one second
    ids = seed(server, 3, hours_ago=0)
    assert ids_of(tix.export()[0]) == ids
    assert tix.position() is not None  # exact runs, from the incremental cursor
    assert tix.export()[:2] == ([], 2)  # nothing changed: a page of events, a page of tickets
    assert tix("reply", ids[0], "--body", "one more, at once").code == 0
    made = tix("create", "--subject", "new", "--body", "at once").out.strip()
    tickets, _, _ = tix.export()
    assert ids_of(tickets) == [ids[0], made]
    assert tickets[0]["comments"][-1]["body"] == "one more, at once"
    assert tickets[0] == json.loads(tix("show", ids[0], "--format", "json").out)
    for text in ("first change", "second change, same second"):
        assert tix("reply", ids[1], "--body", text).code == 0
    tickets, _, _ = tix.export()
    assert ids_of(tickets) == [ids[1]]
    assert [c["body"] for c in tickets[0]["comments"]][-2:] == ["first change", "second change, same second"]
    assert tix.export()[0] == []
    assert json.loads(tix.state.read_text())["runs"] == 5


def test_a_ticket_changed_during_a_run_is_exported_by_the_next_one(tix, server, monkeypatch):
    ids = seed(server, 2500)  # three ticket pages
    original = server._dispatch
    done: list[bool] = []

    def dispatch(request):
        response = original(request)
        if request.path.endswith("/tickets/cursor.json") and request.arg("cursor") and not done:
            done.append(True)  # once: after the second page, ticket 1 (written already) changes
            server.seed_comments([int(ids[0])], 1, body="meanwhile")
        return response

    monkeypatch.setattr(server, "_dispatch", dispatch)
    tickets, _, _ = tix.export()
    assert done and ids_of(tickets) == ids  # once each in a run
    tickets, _, _ = tix.export()
    assert ids_of(tickets) == [ids[0]] and tickets[0]["comments"][-1]["body"] == "meanwhile"
    assert tix.export()[0] == []


def test_an_agents_runs_overlap_and_drop_what_they_wrote(tix, server):
    server.admin = False
    ids = seed(server, 5)
    assert ids_of(tix.export()[0]) == ids
    began = datetime.fromisoformat(json.loads(tix.state.read_text())["started_at"])
    assert tix("reply", ids[2], "--body", "changed").code == 0
    tickets, _, _ = tix.export()
    assert ids_of(tickets) == [ids[2]]  # the overlap re-read it; the others are older than it
    # 15 minutes before the previous run began: the search index lags "up to a few minutes".
    since = (began - timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
    search = [r for r in server.requests if r.path == "/api/v2/search/export.json"]
    assert len(search) == 2 and search[-1].arg("query") == f"updated>={since}"
    assert tix.export()[0] == []


# -- a run killed mid-way ----------------------------------------------------------------------


@pytest.mark.parametrize("killed", ["first run", "later run"])
def test_a_killed_run_leaves_the_state_and_its_rerun_misses_nothing(tix, server, tmp_path, monkeypatch, killed):
    ids = seed(server, 2500, body="x" * 1000)  # 3 ticket pages of about 3 MB
    expected = ids
    if killed == "later run":
        assert len(tix.export("--quiet")[0]) == len(ids)
        expected = ids[::2]
        server.seed_comments([int(t) for t in expected], 1, body="x" * 1000 + "later")
    saved = tix.state.read_bytes() if tix.state.exists() else None
    fault = FromTheSecondTicketPage(monkeypatch, server, kind="hang", delay=20, times=1)
    before = server.count("GET", "/incremental/tickets/cursor")
    out = tmp_path / "killed.jsonl"
    with open(out, "wb") as fh:
        proc = subprocess.Popen(
            [str(TIXCLI), "--config", str(tix.config), "export", "--state", str(tix.state)],
            stdout=fh,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **tix.env},
        )
        try:
            deadline = time.monotonic() + 120
            while server.count("GET", "/incremental/tickets/cursor") < before + 2:  # it waits on page 2
                assert proc.poll() is None and time.monotonic() < deadline, "the export did not get to page 2"
                time.sleep(0.02)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (tix.state.read_bytes() if tix.state.exists() else None) == saved  # the state is untouched
    written = ids_of(lines(out.read_text()))
    assert 0 < len(written) < len(expected)  # it wrote part of page 1, then died
    fault.off()
    again, _, _ = tix.export()
    assert ids_of(again) == expected  # the re-run: everything since the last finished run
    duplicates = {t for t, count in Counter(written + ids_of(again)).items() if count > 1}
    assert duplicates <= set(written)  # repeats only what the killed run wrote
    assert tix.export()[0] == []


# -- deleted tickets -----------------------------------------------------------------------------


def test_deleted_tickets_are_counted_and_written_as_tombstones_with_deleted(tix, server):
    ids = seed(server, 6)
    server.mark_deleted(int(ids[1]))
    server.mark_deleted(int(ids[4]))
    out, _, result = tix.export("--with-deleted")
    gone = [line for line in out if line.get("deleted")]
    assert ids_of([line for line in out if not line.get("deleted")]) == [ids[0], ids[2], ids[3], ids[5]]
    assert [g["id"] for g in gone] == [ids[1], ids[4]]
    assert all(set(g) == {"id", "backend", "deleted", "deleted_at"} and g["backend"] == "zendesk" for g in gone)
    assert all(g["deleted_at"] for g in gone)
    assert "exported 4 tickets, 2 deleted" in result.err
    server.mark_deleted(int(ids[0]))
    out, _, result = tix.export()  # without --with-deleted: counted, not written
    assert out == [] and "exported 0 tickets, 1 deleted" in result.err


# -- rate limits -------------------------------------------------------------------------------


def test_a_429_storm_longer_than_the_export_budget_stops_with_exit_8_and_the_state_where_it_got(
    tix, server, monkeypatch
):
    ids = seed(server, 2500)
    # Waits of 0.05 s: a command's retry_budget allows none, the export's budget 0.2 s four.
    tix.configure(max_retry_wait=1, retry_budget=0.01, export_retry_budget=0.2)
    storm = FromTheSecondTicketPage(monkeypatch, server, status=429, retry_after=0.05, times=3)
    tickets, _, _ = tix.export()  # a storm within the budget is waited out
    assert ids_of(tickets) == ids and storm.injected and storm.injected.times == 0
    storm.off()
    changed = ids[::2]
    server.seed_comments([int(t) for t in changed], 1, body="later")
    storm = FromTheSecondTicketPage(monkeypatch, server, status=429, retry_after=0.05, times=1000)
    before = server.count("GET", "/incremental/tickets/cursor")
    first, _, result = tix.export(code=8)
    assert "stopped after 1000 tickets" in result.err and "rate limit" in result.err
    assert 3 <= server.count("GET", "/incremental/tickets/cursor") - before - 1 <= 10  # the export's budget
    assert ids_of(first) == changed[:1000]
    assert json.loads(tix.state.read_text())["runs"] == 2  # saved where it got to
    storm.off()
    rest, _, _ = tix.export()
    assert ids_of(rest) == changed[1000:]  # no gap, nothing twice
    assert rest[-1]["comments"][-1]["body"] == "later"
    assert tix.export()[0] == []


def test_the_stand_in_clock_rate_limits_an_export_without_real_minutes(tix, server, monkeypatch):
    """10 incremental requests a minute: the waits go by on the stand-in's clock."""
    from tixcli.backends.http import HttpClient

    clock = server.freeze()
    server.rate_limit_incremental = True
    waited: list[float] = []
    init = HttpClient.__init__

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)

        def sleep(seconds: float) -> None:
            waited.append(seconds)
            clock.advance(seconds)

        self.sleep = sleep

    monkeypatch.setattr(HttpClient, "__init__", patched)
    tix.configure(max_retry_wait=60, export_retry_budget=600)
    ids = seed(server, 3000)  # 3 ticket pages and 10 event pages: 13 incremental requests
    tickets, _, _ = tix.export()
    assert ids_of(tickets) == ids
    assert server.count("GET", "/incremental/") > 13  # some answered 429
    assert 60 <= sum(waited) <= 120  # a minute's wait past the 10th request, on the stand-in's clock
