"""The local store under concurrency, crashes, broken files and full disks: nothing is lost."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli import run

from tixcli.backends.sqlite_schema import SCHEMA_VERSION

pytestmark = pytest.mark.slow


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


WORKER = r"""
import io, json, random, sys
from contextlib import redirect_stdout, redirect_stderr
from tixcli.__main__ import main

worker, creates = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(worker)
made, replies, failures = [], [], []
for i in range(creates):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["create", "--subject", f"w{worker} t{i}", "--body", f"body {worker}-{i}"])
    if code != 0:
        failures.append(err.getvalue())
        continue
    made.append(out.getvalue().strip())
    if i % 2:
        target = rng.choice(made)
        err = io.StringIO()
        with redirect_stderr(err):
            code = main(["reply", target, "--body", f"reply {worker}-{i}"])
        if code == 0:
            replies.append(target)
        else:
            failures.append(err.getvalue())
print(json.dumps({"made": made, "replies": replies, "failures": failures}))
"""


def test_eight_processes_writing_at_once_lose_nothing(tmp_path, monkeypatch):
    store = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(store))
    workers, creates = 8, 80  # 8 writers at once is the point; 80 each keeps them overlapping throughout
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(w), str(creates)], stdout=subprocess.PIPE, text=True)
        for w in range(workers)
    ]
    results = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    failures = [f for r in results for f in r["failures"]]
    assert failures == []  # no "database is locked" reached anyone
    made = [i for r in results for i in r["made"]]
    assert len(made) == workers * creates and len(set(made)) == len(made)
    db = sqlite3.connect(store)
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == workers * creates
    replies = sum(len(r["replies"]) for r in results)
    assert db.execute("SELECT count(*) FROM comments").fetchone()[0] == workers * creates + replies
    assert integrity(store) == "ok"


def test_sigkill_during_a_large_create_with_attachments_is_all_or_nothing(tmp_path, monkeypatch):
    store = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(store))
    files = []
    for i in range(5):
        f = tmp_path / f"big{i}.log"
        f.write_bytes(os.urandom(2_000_000))
        files.append(f)
    run("create", "--subject", "before", "--body", "exists")  # the store exists, with a ticket in it
    args = [str(Path(sys.executable).with_name("tixcli")), "create", "--subject", "big", "--body", "b"]
    for f in files:
        args += ["--attach", str(f)]
    rng = random.Random(7)
    for _ in range(6):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert integrity(store) == "ok"
    db = sqlite3.connect(store)
    for (ticket_id,) in db.execute("SELECT id FROM tickets WHERE subject = 'big'"):
        count = db.execute("SELECT count(*) FROM attachments WHERE ticket_id = ?", (ticket_id,)).fetchone()[0]
        assert count == 5  # never a ticket with some of its files
    assert (
        db.execute("SELECT count(*) FROM attachments WHERE ticket_id NOT IN (SELECT id FROM tickets)").fetchone()[0]
        == 0
    )
    assert json.loads(run("show", "1", "-f", "json").out)["subject"] == "before"


def test_sigkill_during_export_leaves_no_half_file_under_the_final_name(tmp_path, monkeypatch):
    store = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(store))
    db = sqlite3.connect(store)
    run("list")  # schema
    now = "2026-01-01T00:00:00+00:00"
    with db:
        db.executemany(
            "INSERT INTO tickets (subject, description, status, created_at, updated_at) VALUES (?,?,?,?,?)",
            [(f"t{i}", "x" * 200, "open", now, now) for i in range(60_000)],
        )
    target = tmp_path / "history.jsonl"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("tixcli")), "export", "--output", str(target)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(p.name.endswith(".part") for p in tmp_path.iterdir()):
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    assert integrity(store) == "ok"
    assert run("export", "--output", str(target)).code == 0
    assert sum(1 for _ in target.open()) == 60_000


def test_a_read_only_store_can_be_read_but_not_written(tmp_path):
    path = tmp_path / "tickets.db"
    config = tmp_path / "c.yaml"
    config.write_text(
        f"profiles:\n  ro:\n    backend: sqlite\n    path: {path}\n    read_only: true\n"
        f"  rw:\n    backend: sqlite\n    path: {path}\n"
    )
    assert run("--config", str(config), "-p", "rw", "create", "--subject", "s", "--body", "b").code == 0
    before = path.read_bytes()
    assert json.loads(run("--config", str(config), "-p", "ro", "list", "-f", "json").out)[0]["id"] == "1"
    result = run("--config", str(config), "-p", "ro", "reply", "1", "--body", "x")
    assert result.code == 9 and "read-only" in result.err
    assert path.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write a file whatever its mode")
def test_a_store_file_without_write_permission_is_read_only(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    run("create", "--subject", "s", "--body", "b")
    path.chmod(0o444)
    assert run("list").code == 0
    assert run("reply", "1", "--body", "x").code == 9


def test_a_full_disk_exits_9_and_keeps_the_store_intact(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    assert run("create", "--subject", "kept", "--body", "b").code == 0
    big = tmp_path / "big.log"
    big.write_bytes(os.urandom(3_000_000))
    limit = path.stat().st_size + 200_000

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("tixcli")),
            "create",
            "--subject",
            "s",
            "--body",
            "b",
            "--attach",
            str(big),
        ],
        preexec_fn=small_files,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 9, proc.stderr
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert integrity(path) == "ok"
    assert [t["subject"] for t in json.loads(run("list", "-f", "json").out)] == ["kept"]


def test_a_newer_schema_is_refused_even_for_reads(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    run("list")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    assert run("export").code == 9


def test_a_busy_store_waits_then_exits_8(tmp_path):
    path = tmp_path / "tickets.db"
    config = tmp_path / "c.yaml"
    config.write_text(f"profiles:\n  p:\n    backend: sqlite\n    path: {path}\n    busy_timeout: 0.5\n")
    assert run("--config", str(config), "create", "--subject", "s", "--body", "b").code == 0
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        result = run("--config", str(config), "reply", "1", "--body", "x")
        assert result.code == 8 and "busy" in result.err
        assert time.monotonic() - started >= 0.4
    finally:
        locker.execute("ROLLBACK")
    assert run("--config", str(config), "reply", "1", "--body", "x").code == 0


FIRST_USE_WORKER = r"""
import io, json, os, sys, time
from contextlib import redirect_stdout, redirect_stderr
from tixcli.__main__ import main

folder, rounds, worker = sys.argv[1], int(sys.argv[2]), int(sys.argv[5])
start, step = float(sys.argv[3]), float(sys.argv[4])
failures = []
for r in range(rounds):
    os.environ["TIXCLI_DB"] = os.path.join(folder, str(r), "tickets.db")
    while time.time() < start + r * step:  # every worker begins round r at the same moment
        pass
    args = ["list", "--all"] if worker % 2 else ["create", "--subject", f"w{worker}", "--body", "b"]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(args)
    if code != 0:
        failures.append(f"round {r}: exit {code}: {err.getvalue().strip()}")
print(json.dumps(failures))
"""


def test_many_processes_starting_on_a_new_store_at_once_all_succeed(tmp_path):
    """The first use of a store by 8 processes at the same moment, 40 times over: 0 failures.

    Before the identity check read its three facts in one transaction, about 1 command in 130
    failed with "is an SQLite file but not a tixcli store" while another committed the schema.
    """
    workers, rounds, step = 8, 40, 0.25
    start = time.time() + 3  # time for every worker to start and import tixcli
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_USE_WORKER, str(tmp_path), str(rounds), str(start), str(step), str(w)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    failures = [f for p in procs for f in json.loads(p.communicate(timeout=300)[0])]
    assert failures == []
    for r in range(rounds):
        db = sqlite3.connect(tmp_path / str(r) / "tickets.db")
        assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == workers // 2
        db.close()
