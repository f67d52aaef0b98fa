"""`export --state` on JSM (issue 11): requests per export, exactness, a killed run, show's equal.

The real CLI over real HTTP to the JSM stand-in on 127.0.0.1 (in-process, and as a subprocess for
the SIGKILL). Data is built in the stand-in's store (`seed_requests`, `add_comment`), not over
HTTP. Where minutes matter, the stand-in's clock is frozen and moved by the test, and the CLI's
clock (`tixcli.export_state.utcnow`: when a run began) reads the same clock: no real minutes pass.

Requests for a full export of N requests, each with few enough comments for the page to hold them
all and no files (the issue's minimum, from the page sizes):

    2 lookups (the service desk, the site's field list) + ceil(N / 100) search/jql pages

3 / 12 / 52 for 100 / 1,000 / 5,000 requests with 3 comments each (before: 1 + ceil(N / 100) + 2 N,
the request and its comments read apart for each: 202 / 2,011 / 10,051). A later run with k
changed requests: 3 lookups (those two and the account's time zone, for the JQL time) + ceil((k + m) / 100),
where m counts the requests changed within `export_overlap` (15 minutes) before the previous
run began, read again and dropped as unchanged. +1 per request with files or with more comments
than the page embeds (its comments read as `show` reads them).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import threading
from datetime import datetime, timedelta, timezone

import pytest
from cli import TIXCLI, run
from harness import CUSTOMER, DEV, LEAD
from harness_jsm import JSM_EMAIL, backend_for, new_request, write_jsm_config

from tixcli.model import FileUpload, Reply

ME = JSM_EMAIL
LOOKUPS = 2  # the service desk (its project key for the JQL), the field list (request type, participants)
PAGE = 100
T0 = datetime(2026, 11, 30, 10, 0, 20, tzinfo=timezone.utc)  # 20 s into a minute
LONG_AGO = T0 - timedelta(days=2)  # seeded requests: outside every overlap window


@pytest.fixture
def server(jsm_harness):
    return jsm_harness.server


@pytest.fixture
def backend(jsm_harness):
    b = backend_for(jsm_harness)
    yield b
    b.shutdown()


@pytest.fixture
def clock(server, monkeypatch):
    """The stand-in's clock frozen at T0, and the CLI's clock reading it: `advance` moves both."""
    server.set_clock(T0, frozen=True)
    monkeypatch.setattr(
        "tixcli.export_state.utcnow", lambda: datetime.fromtimestamp(server.now_ms() / 1000, tz=timezone.utc)
    )
    return server


def cli(harness, *args, config=None):
    return run("--config", str(config or harness.config_path), *args, env=harness.env)


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def ids(text: str) -> list[str]:
    return [t["id"] for t in lines(text)]


def shown(harness, key: str) -> dict:
    result = cli(harness, "show", key, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def state_run(harness, server, state, expect: int = 0, config=None):
    """One `export --state` run: (the tickets it wrote, requests it sent, stderr)."""
    before = server.count()
    result = cli(harness, "export", "--state", str(state), config=config)
    assert result.code == expect, result.err
    return lines(result.out), server.count() - before, result.err


def seed(server, n: int, **fields):
    fields.setdefault("reporter", CUSTOMER)
    fields.setdefault("created", LONG_AGO)
    fields.setdefault("updated", LONG_AGO)
    return server.seed_requests(n, **fields)


def change(server, key: str, body: str, public: bool = True) -> None:
    """A comment of the agent's, put in the stand-in's store as one over HTTP lands."""
    server.add_comment(key, body, public)


# -- requests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [100, 1_000, 5_000])
def test_a_full_export_is_a_search_page_per_100_requests(jsm_harness, server, tmp_path, n):
    seed(server, n, comments=3)
    found, sent, err = state_run(jsm_harness, server, tmp_path / "state")
    minimum = LOOKUPS + math.ceil(n / PAGE)
    assert minimum <= sent <= minimum * 1.1, f"{sent} requests, the minimum is {minimum}"
    assert f"exported {n} tickets, {sent} requests" in err
    assert [t["id"] for t in found] == [f"SUP-{i}" for i in range(1, n + 1)]
    assert all(len(t["comments"]) == 4 for t in found)  # the description, then the 3 comments
    assert [c["public"] for c in found[0]["comments"]] == [True, True, False, True]  # an internal note
    for t in found[:: max(1, n // 10)]:  # a sample: each as show gives it
        assert t == shown(jsm_harness, t["id"])


def test_a_later_run_reads_the_changed_requests_from_their_pages(jsm_harness, server, tmp_path):
    state = tmp_path / "state"
    seed(server, 1_000, comments=3)
    assert len(state_run(jsm_harness, server, state)[0]) == 1_000
    first = [f"SUP-{i}" for i in range(5, 1_000, 27)]  # 37 requests
    for key in first:
        change(server, key, f"news on {key}")
    found, sent, err = state_run(jsm_harness, server, state)
    minimum = LOOKUPS + 1 + math.ceil(len(first) / PAGE)  # + the account's time zone
    assert sorted(t["id"] for t in found) == sorted(first)
    assert sent <= minimum * 1.1, sent
    assert all(t["comments"][-1]["body"] == f"news on {t['id']}" for t in found)
    for t in found[::9]:
        assert t == shown(jsm_harness, t["id"])
    # 250 more: those of the 37 not changed again (changed within the overlap before this run
    # began) are read again and dropped.
    second = [f"SUP-{i}" for i in range(2, 1_000, 4)]
    for key in second:
        change(server, key, f"more on {key}")
    found, sent, err = state_run(jsm_harness, server, state)
    minimum = LOOKUPS + 1 + math.ceil((len(second) + len(set(first) - set(second))) / PAGE)
    assert sorted(t["id"] for t in found) == sorted(second)
    assert sent <= minimum * 1.1, sent
    assert f"{len(set(first) - set(second))} unchanged since the last run" in err
    assert state_run(jsm_harness, server, state)[0] == []


def test_each_exported_request_is_what_show_gives(jsm_harness, server, backend, tmp_path):
    """Requests of every shape: files on the opening message and on comments, internal notes, wiki
    text, more comments than a search page embeds, participants, each request type, solved and
    closed; pages cut short by a site that sends fewer than asked when many fields are asked for."""
    f = tmp_path / "trace.log"
    f.write_text("trace")
    upload = FileUpload(f, "trace.log", 5, "text/plain")
    png = tmp_path / "shot.png"
    png.write_bytes(b"\x89PNG....")
    image = FileUpload(png, "shot.png", 8, "image/png")
    keys = []
    kinds = ["question", "incident", "task"]
    for i in range(9):
        made = backend.create(
            new_request(
                subject=f"request {i}",
                body=f"line 1\n\n\nline *{i}* {{{{code}}}}\n",
                requester=CUSTOMER if i % 2 else ME,
                cc=[LEAD, DEV][: i % 3],
                type=kinds[i % 3],
                priority=["low", "normal", "high"][i % 3],
                tags=[f"t{i}"],
                dedupe_key=f"d{i}" if i % 4 == 0 else None,
                attachments=[upload, image] if i == 3 else [],
            )
        ).ticket.id
        keys.append(made)
    backend.reply(keys[1], Reply("internal *note*", ME, public=False))
    backend.reply(keys[1], Reply("see the log", ME, attachments=[upload]))
    backend.reply(keys[2], Reply("which one?", ME, status="pending"))
    backend.solve(keys[4], body="done")
    backend.close(keys[5])
    for j in range(24):  # more than the 20 a search page embeds
        change(server, keys[6], f"comment {j}\n\n\nwith [a link|http://x.example/{j}]", public=j % 5 != 0)
    seeded = [i.key for i in seed(server, 30, comments=3)]  # created long ago: exported first
    server.short_pages = 7  # many fields asked for: at most 7 a page
    wanted = {key: shown(jsm_harness, key) for key in [*seeded, *keys]}
    assert [c["public"] for c in wanted[keys[1]]["comments"]] == [True, False, True]
    assert wanted[keys[1]]["comments"][2]["attachments"][0]["filename"] == "trace.log"
    assert {a["filename"] for a in wanted[keys[3]]["comments"][0]["attachments"]} == {"trace.log", "shot.png"}
    assert len(wanted[keys[6]]["comments"]) == 25
    before = server.count()
    result = cli(jsm_harness, "export", "--state", str(tmp_path / "state"))
    assert result.code == 0, result.err
    exported = lines(result.out)
    assert [t["id"] for t in exported] == list(wanted)
    for t in exported:
        assert t == wanted[t["id"]], t["id"]
    sent = [f"{r.method} {r.path}" for r in server.requests[before:]]
    pages = math.ceil(len(wanted) / 7)
    comment_reads = sorted(p for p in sent if p.endswith("/comment"))
    # the comments of the requests with files (1, 3) and of the one with 25 comments (6)
    assert comment_reads == sorted(f"GET /rest/servicedeskapi/request/{keys[i]}/comment" for i in (1, 3, 6))
    assert sent.count("GET /rest/api/2/search/jql") == pages
    # the ratings of the solved (4) and the closed (5) one come in the pages' Satisfaction fields
    assert not [p for p in sent if p.endswith("/feedback")], sent
    assert len(sent) == LOOKUPS + pages + 3, sent


def test_a_state_of_another_service_desk_is_refused_before_anything_is_sent(jsm_harness, server, tmp_path):
    state = tmp_path / "state"
    seed(server, 3)
    assert len(state_run(jsm_harness, server, state)[0]) == 3
    other = tmp_path / "other.yaml"
    write_jsm_config(other, server, service_desk="2")
    before = server.count()
    result = cli(jsm_harness, "export", "--state", str(state), config=other)
    assert result.code == 6 and "belongs to another export" in result.err, result.err
    assert server.count() == before


# -- exactness ----------------------------------------------------------------------------------


def test_changes_in_the_same_second_and_minute_as_the_previous_run_are_each_exported_once(
    jsm_harness, clock, backend, tmp_path
):
    server, state = clock, tmp_path / "state"
    seed(server, 250, comments=3)
    touched: list[bool] = []

    def during_the_first_run(request, data):  # as page 2 is read: a change behind, one ahead
        if request.path.endswith("/search/jql") and request.query.get("nextPageToken") and not touched:
            touched.append(True)
            change(server, "SUP-1", "while page 2 was read")  # written already: the next run has it
            change(server, "SUP-240", "before its page was read")  # written as it is now: once
        return data

    server.tamper = during_the_first_run
    found, _, _ = state_run(jsm_harness, server, state)
    server.tamper = None
    assert len(found) == 250 and touched
    assert found[0]["comments"][-1]["body"] == "Comment 3 on SUP-1"  # read before the change
    assert found[239]["comments"][-1]["body"] == "before its page was read"
    # The same second as that run began (the clock has not moved), then the same minute.
    backend.reply("SUP-7", Reply("same second", ME))
    clock.advance(25)  # 10:00:45: still the minute the run began in
    backend.reply("SUP-8", Reply("same minute", ME, public=False))
    made = backend.create(new_request(subject="new, same minute")).ticket.id
    found, _, err = state_run(jsm_harness, server, state)
    assert sorted(t["id"] for t in found) == sorted(["SUP-1", "SUP-7", "SUP-8", made])
    assert "1 unchanged since the last run" in err  # SUP-240, read again in the overlap
    for t in found:
        assert t == shown(jsm_harness, t["id"])
    assert found[0]["comments"][-1]["body"] == "while page 2 was read"
    # Nothing changed: nothing written; then one change at the very moment of the run before.
    assert state_run(jsm_harness, server, state)[0] == []
    backend.reply("SUP-100", Reply("at once", ME))
    assert [t["id"] for t in state_run(jsm_harness, server, state)[0]] == ["SUP-100"]
    clock.advance(3600)  # an hour on: the state forgets what is out of the overlap
    assert state_run(jsm_harness, server, state)[0] == []
    saved = json.loads(state.read_text())
    assert saved["runs"] == 5 and saved["recent"] == {}


def test_a_change_the_index_shows_late_but_within_the_overlap_is_exported_once(jsm_harness, clock, backend, tmp_path):
    """The index lags 12 minutes, under the 15-minute overlap. A change made 11 minutes before a
    run is not in that run's search; the next run reads from 15 minutes before the previous one
    began and gets it. Beside it, runs with a 10-minute overlap (the old default; under the lag)
    lose it for good: the margin is what makes the runs exact."""
    server, state, narrow = clock, tmp_path / "state", tmp_path / "narrow"
    ten = tmp_path / "ten-minutes.yaml"
    write_jsm_config(ten, server, export_overlap_minutes=10)

    written: dict[str, dict] = {}  # what the 15-minute runs wrote last, by id

    def both() -> list[list[str]]:
        """A run on each state: the ids each wrote."""
        found = state_run(jsm_harness, server, state)[0]
        written.update({t["id"]: t for t in found})
        return [[t["id"] for t in found], [t["id"] for t in state_run(jsm_harness, server, narrow, config=ten)[0]]]

    seed(server, 20, comments=3)
    assert [len(found) for found in both()] == [20, 20]
    server.index_lag = 12 * 60
    clock.advance(60)
    backend.reply("SUP-3", Reply("late in the index", ME))  # searchable at T0 + 13 min
    clock.advance(11 * 60)  # T0 + 12 min: a run now does not see it
    assert both() == [[], []]
    backend.reply("SUP-4", Reply("the same minute as that run", ME))  # searchable at T0 + 24 min
    clock.advance(2 * 60)  # T0 + 14 min: SUP-3 is in the index, SUP-4 not yet
    assert both() == [["SUP-3"], []]  # 10 minutes before the run at T0 + 12 min: after SUP-3's change
    assert written["SUP-3"] == shown(jsm_harness, "SUP-3")
    clock.advance(11 * 60)  # T0 + 25 min: SUP-4 is in the index
    assert both() == [["SUP-4"], ["SUP-4"]]
    assert written["SUP-4"]["comments"][-1]["body"] == "the same minute as that run"
    assert both() == [[], []]


def test_a_run_stopped_by_the_rate_limit_goes_on_from_its_cursor(jsm_harness, server, backend, tmp_path):
    state = tmp_path / "state"
    seed(server, 250, comments=3)
    server.inject(status=429, retry_after=600, match=r"^GET /rest/api/[23]/search/jql\?.*nextPageToken", times=1)
    found, _, err = state_run(jsm_harness, server, state, expect=8)
    assert len(found) == 100 and "the next run goes on from there" in err
    assert json.loads(state.read_text())["position"]
    backend.reply("SUP-2", Reply("changed after it stopped", ME))
    found, _, _ = state_run(jsm_harness, server, state)
    assert [t["id"] for t in found] == [f"SUP-{i}" for i in range(101, 251)]
    found, _, _ = state_run(jsm_harness, server, state)
    assert [t["id"] for t in found] == ["SUP-2"]


# -- SIGKILL ------------------------------------------------------------------------------------


def killed_in_the_middle(jsm_harness, server, state, out, page: int) -> list[str]:
    """A real `tixcli export --state` process, its stdout to `out`, killed (SIGKILL) while the
    stand-in holds its answer to search page `page`: the ids of the complete lines it wrote."""
    reached, release = threading.Event(), threading.Event()
    seen = []

    def hold(request, data):
        if request.path.endswith("/search/jql"):
            seen.append(request)
            if len(seen) == page:
                reached.set()
                release.wait(60)
        return data

    config = state.parent / "slow.yaml"
    write_jsm_config(config, server, timeout=60)  # the process waits for the held page
    server.tamper = hold
    try:
        with open(out, "wb") as fh:
            proc = subprocess.Popen(
                [str(TIXCLI), "--config", str(config), "export", "--state", str(state), "--quiet"],
                stdout=fh,
                stderr=subprocess.PIPE,
                env={**os.environ, **jsm_harness.env},
            )
            try:
                assert reached.wait(60), proc.communicate(timeout=10)[1]
                proc.send_signal(signal.SIGKILL)
                assert proc.wait(10) == -signal.SIGKILL
            finally:
                release.set()
                if proc.poll() is None:
                    proc.kill()
                proc.communicate()
    finally:
        server.tamper = None
    data = out.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]  # a line the kill cut off is not one it wrote
    return [json.loads(line)["id"] for line in complete.splitlines()]


def test_a_run_killed_in_the_middle_then_run_again_misses_nothing(jsm_harness, server, tmp_path):
    state = tmp_path / "state"
    n = 600
    seed(server, n, comments=3, description=lambda i: f"request {i}: " + "a long description " * 200)
    everything = [f"SUP-{i}" for i in range(1, n + 1)]
    # The first run, killed as it reads page 5: 400 requests written, more than the 1 MiB the
    # output buffer holds, so some reached the file; no state was saved.
    killed = killed_in_the_middle(jsm_harness, server, state, tmp_path / "killed-1.jsonl", page=5)
    assert 0 < len(killed) <= 400 and killed == everything[: len(killed)]
    assert not state.exists()
    again = run_again(jsm_harness, state, tmp_path / "again-1.jsonl")
    assert again == everything  # nothing missing; what the killed run wrote, written twice
    saved = state.read_bytes()
    # A later run, killed in the middle: the state stays as it was; the run again writes each
    # changed request once.
    changed = everything[::4] + everything[1::4] + everything[2::8]  # 375 requests, 4 pages
    for key in changed:
        change(server, key, f"news on {key}")
    killed = killed_in_the_middle(jsm_harness, server, state, tmp_path / "killed-2.jsonl", page=4)
    assert 0 < len(killed) <= 300 and set(killed) <= set(changed) and len(set(killed)) == len(killed)
    assert state.read_bytes() == saved
    again = run_again(jsm_harness, state, tmp_path / "again-2.jsonl")
    assert sorted(again) == sorted(changed) and len(set(again)) == len(again)
    assert run_again(jsm_harness, state, tmp_path / "again-3.jsonl") == []


def run_again(jsm_harness, state, out) -> list[str]:
    config = state.parent / "slow.yaml"
    with open(out, "wb") as fh:
        done = subprocess.run(
            [str(TIXCLI), "--config", str(config), "export", "--state", str(state), "--quiet"],
            stdout=fh,
            stderr=subprocess.PIPE,
            env={**os.environ, **jsm_harness.env},
            timeout=120,
        )
    assert done.returncode == 0, done.stderr.decode()
    return ids(out.read_text())
