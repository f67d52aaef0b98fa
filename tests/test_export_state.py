"""`export --state FILE`: what the core owns, through the real CLI on a real SQLite file.

The state file's checks (corrupt, newer, another profile or store, unwritable), the lock, what a
failed run leaves, tombstones and csv, the summary and the progress line on a real terminal, and
README's crontab line run as written. Exactness per backend: the contract
(`test_state_export_gives_each_change_once_even_in_the_same_second`) and each backend's own
export-state tests.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli import TIXCLI, run, run_process

from tixcli.model import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A real SQLite store with three tickets (TIXCLI_DB; no config)."""
    db = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(db))
    for n in (1, 2, 3):
        assert run("create", "--subject", f"ticket {n}", "--body", f"body {n}").code == 0
    return db


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_first_run_exports_everything_then_only_what_changed(store, tmp_path):
    state = tmp_path / "state.json"
    first = run("export", "--state", str(state))
    assert first.code == 0, first.err
    assert [t["id"] for t in lines(first.out)] == ["1", "2", "3"]
    assert json.loads(state.read_text())["runs"] == 1
    assert re.search(r"exported 3 tickets, 0 requests, [0-9.]+ s", first.err), first.err
    assert run("reply", "2", "--body", "more").code == 0
    second = run("export", "--state", str(state))
    assert second.code == 0, second.err
    [changed] = lines(second.out)
    assert changed["id"] == "2" and [c["body"] for c in changed["comments"]] == ["body 2", "more"]
    assert run("export", "--state", str(state)).out == ""
    assert oct(state.stat().st_mode & 0o777) == "0o600"


def test_quiet_prints_nothing_on_stderr(store, tmp_path):
    result = run("export", "--state", str(tmp_path / "s.json"), "--quiet")
    assert result.code == 0 and result.err == "" and len(lines(result.out)) == 3


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not json at all", "not a tixcli export state"),
        (b'{"format": "something else"}', "not a tixcli export state"),
        (b'{"format": "tixcli export state", "version": 1, "profile": "default", "backend": "sqlite"', "corrupt"),
        (b'{"format": "tixcli export state", "version": 99}', "newer tixcli"),
        (b"\xff\xfe\x00garbage", "not a tixcli export state"),
    ],
)
def test_a_bad_state_file_is_refused_and_nothing_is_exported(store, tmp_path, content, says):
    state = tmp_path / "state.json"
    state.write_bytes(content)
    result = run("export", "--state", str(state))
    assert result.code == 6, result.err
    assert says in result.err and "hint:" in result.err
    assert result.out == ""
    assert state.read_bytes() == content, "a refused state is left as it was"


def test_a_state_of_another_profile_or_store_is_refused(store, tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    assert run("export", "--state", str(state)).code == 0
    saved = state.read_bytes()
    data = json.loads(saved)
    data["profile"] = "other"
    state.write_text(json.dumps(data))
    refused = run("export", "--state", str(state))
    assert refused.code == 6 and "belongs to another export" in refused.err and "profile other" in refused.err
    state.write_bytes(saved)
    monkeypatch.setenv("TIXCLI_DB", str(tmp_path / "another.db"))  # another store, same profile
    assert run("create", "--subject", "elsewhere", "--body", "x").code == 0
    other = run("export", "--state", str(state))
    assert other.code == 6 and "belongs to another export" in other.err, other.err
    assert other.out == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--cursor", "abc"],
        ["--since", "7d"],
    ],
)
def test_state_with_cursor_or_since_is_refused(store, tmp_path, args):
    result = run("export", "--state", str(tmp_path / "s.json"), *args)
    assert result.code == 6 and "--state cannot be combined" in result.err
    assert not (tmp_path / "s.json").exists()


def test_tombstones_are_jsonl_only(store, tmp_path):
    result = run("export", "--format", "csv", "--with-deleted")
    assert result.code == 6 and "--with-deleted needs --format jsonl" in result.err


def test_unwritable_state_or_output_is_refused_before_any_work(store, tmp_path):
    missing = run("export", "--state", str(tmp_path / "no" / "such" / "state.json"))
    assert missing.code == 6 and "does not exist" in missing.err and missing.out == ""
    folder = run("export", "--state", str(tmp_path))
    assert folder.code == 6 and "is a directory" in folder.err
    state = tmp_path / "s.json"
    bad_output = run("export", "--state", str(state), "--output", str(tmp_path / "nope" / "out.jsonl"))
    assert bad_output.code == 6 and "does not exist" in bad_output.err
    assert not state.exists(), "no state without a complete output"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        try:
            denied = run("export", "--state", str(locked / "s.json"))
            assert denied.code == 6 and "not writable" in denied.err
        finally:
            locked.chmod(0o700)


def test_a_second_run_on_the_same_state_exits_8_at_once(store, tmp_path):
    state = tmp_path / "state.json"
    lock = tmp_path / "state.json.lock"
    # Another run holds the lock: a real process holding flock on the lock file.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        started = time.monotonic()
        busy = run_process("export", "--state", str(state))
        took = time.monotonic() - started
        assert busy.code == 8, busy.err
        assert f"another export holds {state}" in busy.err
        assert busy.out == "" and not state.exists()
        assert took < 30, "it does not wait for the lock"
    finally:
        holder.kill()
        holder.wait()
    assert run("export", "--state", str(state)).code == 0, "the lock is free again once its holder is gone"


def test_a_run_whose_output_fails_leaves_the_previous_state(store, tmp_path):
    state = tmp_path / "state.json"
    assert run("export", "--state", str(state)).code == 0
    before = state.read_bytes()
    assert run("reply", "1", "--body", "changed").code == 0
    # stdout closes at once (a reader that went away): the run fails and keeps the old state.
    proc = subprocess.run(
        f"{shlex.quote(str(TIXCLI))} export --state {shlex.quote(str(state))} | true",
        shell=True,
        capture_output=True,
        env=os.environ,
        timeout=60,
    )
    assert proc.returncode == 0  # the pipeline's status is `true`'s
    assert state.read_bytes() == before, proc.stderr
    again = run("export", "--state", str(state))
    assert [t["id"] for t in lines(again.out)] == ["1"], "the change is exported by the next run"


def test_output_is_complete_before_the_state_moves(store, tmp_path):
    state, out = tmp_path / "state.json", tmp_path / "out.jsonl"
    result = run("export", "--state", str(state), "--output", str(out))
    assert result.code == 0 and result.out == ""
    assert [t["id"] for t in lines(out.read_text())] == ["1", "2", "3"]
    assert f"exported 3 tickets to {out}" in result.err
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert leftovers == []


def test_csv_runs_take_a_state_too(store, tmp_path):
    state = tmp_path / "state.json"
    first = run("export", "--state", str(state), "--format", "csv")
    assert first.code == 0 and len(first.out.splitlines()) == 4  # header + 3
    assert run("reply", "3", "--body", "x").code == 0
    second = run("export", "--state", str(state), "--format", "csv")
    assert second.out.splitlines()[1].startswith("3,"), second.out


def test_schema_names_the_tombstone():
    result = run("schema", "tombstone")
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["required"] == ["id", "backend", "deleted", "deleted_at"]
    assert run("schema", "--list").out.split("\n")[0].startswith("ticket\t")
    assert json.loads(run("schema").out)["title"] == f"tixcli ticket (schema {SCHEMA_VERSION})"
    assert json.loads(run("schema", "write-result").out)["title"] == f"tixcli write result (schema {SCHEMA_VERSION})"
    assert json.loads(run("schema", "--write-result").out)["title"] == f"tixcli write result (schema {SCHEMA_VERSION})"
    unknown = run("schema", "nope")
    assert unknown.code == 6 and "tombstone" in unknown.err


def _run_in_pty(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, bytes, bytes]:
    """tixcli with stderr on a real pseudo-terminal (stdout a pipe): (status, stdout, terminal bytes)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(TIXCLI), *args], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out = proc.stdout.read() if proc.stdout else b""
    os.close(master)
    return proc.wait(timeout=timeout), out, seen


def test_progress_line_on_a_terminal_only(zendesk_harness, tmp_path):
    server = zendesk_harness.server
    for n in range(3):
        created = run("--config", str(zendesk_harness.config_path), "create", "--subject", f"s{n}", "--body", "b")
        assert created.code == 0, created.err
    # The first answer is a 429 with Retry-After: 1, so the export runs past the progress interval.
    server.inject(kind="status", status=429, retry_after=1, match=r"^GET ", times=1)
    env = {**os.environ, **zendesk_harness.env}
    args = ["--config", str(zendesk_harness.config_path), "export", "--state", str(tmp_path / "s.json")]
    status, out, terminal = _run_in_pty(args, env)
    assert status == 0, terminal
    assert len(lines(out.decode())) == 3
    text = terminal.decode("utf-8", "replace")
    assert re.search(r"\r\x1b\[Kexported [0-9,]+ tickets \([0-9,]+/s\)", text), text
    assert re.search(r"exported 3 tickets, [0-9]+ requests", text), text
    # stderr a pipe: no progress line, the summary only
    server.inject(kind="status", status=429, retry_after=1, match=r"^GET ", times=1)
    assert run("--config", str(zendesk_harness.config_path), "reply", "1", "--body", "x").code == 0
    piped = subprocess.run([str(TIXCLI), *args], capture_output=True, env=env, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert b"\r" not in piped.stderr and b"\x1b" not in piped.stderr
    quiet = _run_in_pty([*args, "--quiet"], env)
    assert quiet[0] == 0 and quiet[2] == b"", quiet[2]


def _crontab_line() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.findall(
        r"^([0-9*/,\- ]+ [0-9*/,\- ]+ [0-9*/,\- ]+ [0-9*/,\- ]+ [0-9*/,\- ]+) (.*tixcli export .*)$", readme, re.M
    )
    assert len(found) == 1, "README has one crontab line for the nightly export"
    return found[0][1]


def cron_command(line: str) -> str:
    """What cron runs for a crontab command: an unescaped % ends the command (the rest is stdin),
    and \\% is a literal %."""
    assert re.search(r"(?<!\\)%", line) is None, "every % in the crontab line is escaped"
    return line.replace("\\%", "%")


def test_readme_crontab_line_runs_as_written_on_sqlite(store, tmp_path):
    command = cron_command(_crontab_line())
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": f"{TIXCLI.parent}:/usr/bin:/bin", "TIXCLI_DB": str(store), "LANG": "C.UTF-8"}
    first = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, timeout=120)
    assert first.returncode == 0, first.stderr
    exports = sorted(home.rglob("*.jsonl"))
    assert len(exports) == 1, list(home.rglob("*"))
    assert [t["id"] for t in lines(exports[0].read_text())] == ["1", "2", "3"]
    assert run("reply", "2", "--body", "overnight").code == 0
    exports[0].rename(exports[0].with_name("yesterday.jsonl.old"))
    second = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr
    [tonight] = sorted(home.rglob("*.jsonl"))
    assert [t["id"] for t in lines(tonight.read_text())] == ["2"]


@pytest.mark.parametrize("backend", ["zendesk", "jsm"])
def test_readme_crontab_line_runs_as_written_on_the_stand_ins(backend, request, tmp_path):
    harness = request.getfixturevalue(f"{backend}_harness")
    config = harness.config_path
    for n in range(2):
        assert run("--config", str(config), "create", "--subject", f"s{n}", "--body", "b", env=harness.env).code == 0
    command = cron_command(_crontab_line())
    home = tmp_path / "home"
    (home / ".config" / "tixcli").mkdir(parents=True)
    (home / ".config" / "tixcli" / "config.yaml").write_text(config.read_text())
    env = {"HOME": str(home), "PATH": f"{TIXCLI.parent}:/usr/bin:/bin", "LANG": "C.UTF-8", **harness.env}
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    first = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, timeout=120)
    assert first.returncode == 0, first.stderr
    [exported] = sorted(home.rglob("*.jsonl"))
    assert len(lines(exported.read_text())) == 2
    exported.unlink()
    second = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr
    [again] = sorted(home.rglob("*.jsonl"))
    assert lines(again.read_text()) == [], "nothing changed overnight: nothing exported"


def test_bulk_export_writes_exactly_the_items_export_gives(store, monkeypatch):
    """Plain jsonl export on SQLite takes tickets in bulk (export_batches): the same bytes, the
    same order, and resume lines that go on exactly, as the one-by-one items give."""
    from tixcli.backends import sqlite as sqlite_backend
    from tixcli.config import Profile
    from tixcli.registry import open_backend

    for n in range(4, 12):
        assert run("create", "--subject", f"ticket {n}", "--body", f"body {n} \u202e").code == 0
    monkeypatch.setattr(sqlite_backend, "EXPORT_CHUNK", 3)  # several batches
    backend = open_backend(Profile("default", "sqlite", {}))
    try:
        items = list(backend.export())
        expected = b"".join(item.json_line + b"\n" for item in items)
    finally:
        backend.shutdown()
    exported = run("export")
    assert exported.code == 0, exported.err
    assert exported.out == expected.decode().replace("\u202e", "\\u202e"), "bidi controls escaped, as item by item"
    assert len(lines(exported.out)) == 11
    # a resume from the middle (a batch's cursor) goes on just after that batch's last ticket
    batches = list(open_backend(Profile("default", "sqlite", {})).export_batches())
    assert [b.count for b in batches] == [3, 3, 3, 2] and all(b.data.count(b"\n") == b.count - 1 for b in batches)
    rest = run("export", "--cursor", batches[1].cursor)
    assert [t["id"] for t in lines(rest.out)] == [str(n) for n in range(7, 12)]


def test_a_reader_that_leaves_ends_the_export_cleanly(store, tmp_path):
    """`tixcli export | head -1`: exit 0 and nothing on stderr (no traceback of a generator closed
    after its store); with --state, exit 8 and no state saved (the output is not all there)."""
    from tixcli.backends.sqlite import SQLiteBackend
    from tixcli.config import Profile
    from tixcli.model import NewTicket

    backend = SQLiteBackend(Profile("default", "sqlite", {"path": os.environ["TIXCLI_DB"]}))
    for i in range(60):  # some 1.2 MB of JSON: far more than a pipe holds
        backend.create(
            NewTicket(subject=f"ticket {i}", body="x" * 20_000, author="me@example.com", requester="me@example.com")
        )
    backend.shutdown()
    state = tmp_path / "export.state"
    for args, code in ((["export"], 0), (["export", "--format", "csv"], 0), (["export", "--state", str(state)], 8)):
        proc = subprocess.Popen([str(TIXCLI), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.read(100)
        proc.stdout.close()  # the reader leaves
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == code, err
        assert b"Traceback" not in err and b"Exception ignored" not in err
        if code:
            assert b"the state was not saved" in err
    assert not state.exists()
    assert run("export", "--state", str(state), "-o", str(tmp_path / "all.jsonl")).code == 0  # and then it works
