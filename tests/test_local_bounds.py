"""Input that does not end: bodies and attachments are read at most up to their limits.

A body is refused past the backend's `max_comment_chars` (counted in characters after UTF-8
decoding; at most 4 bytes a character plus one are read), an attachment past the attachment
limits, whatever `stat` says: /dev/zero, a FIFO, a /proc file, stdin that never ends.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
import threading
import time

import pytest
from cli import TIXCLI, run

MEMORY_CAP = 1 << 30  # address space of the subprocess: the old unbounded reads die here (exit 1)
PEAK_RSS_LIMIT = 200 * 1024 * 1024  # measured 30-35 MB for the fixed reads of /dev/zero


def bounded_process(args: list[str], stdin=None, env: dict | None = None, timeout: float = 30):
    """The real tixcli as a subprocess under MEMORY_CAP: (exit code, seconds, peak RSS bytes, stderr)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            [str(TIXCLI), *args],
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
            preexec_fn=limit,
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS, not all children's
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - start
        err.seek(0)
        return proc.returncode, elapsed, usage.ru_maxrss * 1024, err.read().decode("utf-8", "replace")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TIXCLI_DB", str(tmp_path / "tickets.db"))
    assert run("create", "--subject", "first", "--body", "seed").code == 0
    return tmp_path


# -- 3. bodies -----------------------------------------------------------------------------------


def test_a_body_file_that_never_ends_exits_6_quickly_with_bounded_memory(store):
    # Fixed: ~0.3 s and ~35 MB peak (16 MB read: SQLite's 4,000,000 characters of UTF-8, plus one byte).
    # Before: read /dev/zero until memory ran out (exit 1 under the cap).
    code, elapsed, peak, err = bounded_process(["create", "--subject", "zero", "--body-file", "/dev/zero"])
    assert code == 6 and "longer than 4,000,000 characters" in err, err
    assert elapsed < 10 and peak < PEAK_RSS_LIMIT, (elapsed, peak)


def test_endless_stdin_as_a_body_exits_6_quickly_with_bounded_memory(store):
    with open("/dev/zero", "rb") as zero:
        code, elapsed, peak, err = bounded_process(["reply", "1", "--body-file", "-"], stdin=zero)
    assert code == 6 and "longer than" in err, err
    assert elapsed < 10 and peak < PEAK_RSS_LIMIT, (elapsed, peak)
    assert len(json.loads(run("show", "1", "-f", "json").out)["comments"]) == 1  # nothing was added


def test_each_backend_takes_a_body_of_exactly_its_limit_and_refuses_one_more_before_sending(harness, tmp_path):
    from tixcli.registry import load_backend_class

    limit = load_backend_class(harness.name).max_comment_chars
    assert limit == {"sqlite": 4_000_000, "zendesk": 65_536, "jsm": 32_767}[harness.name]
    env = {"TIXCLI_CONFIG": str(harness.config_path), **harness.env}
    # Four-byte characters: the limit counts characters after decoding, not bytes.
    body = tmp_path / "body.txt"
    body.write_text("😀" * (limit - 1) + "x", encoding="utf-8")
    created = run("create", "--subject", "at the limit", "--body-file", str(body), env=env)
    assert created.code == 0, created.err
    ticket_id = created.out.strip()
    before = harness.request_count()
    body.write_text("😀" * limit + "x", encoding="utf-8")
    small = tmp_path / "small.txt"
    small.write_text("a small file\n")
    for args in (
        ["reply", ticket_id, "--body-file", str(body)],
        ["create", "--subject", "over", "--body-file", str(body)],
        ["reply", ticket_id, "--body", "y" * (limit + 1)],
        ["solve", ticket_id, "--body", "y" * (limit + 1)],
        ["attach", ticket_id, str(small), "--body", "y" * (limit + 1)],
    ):
        result = run(*args, env=env)
        assert result.code == 6 and f"longer than {limit:,} characters" in result.err, (args[0], result.err)
    assert harness.request_count() == before  # refused before anything was sent
    comments = json.loads(run("show", ticket_id, "-f", "json", env=env).out)["comments"]
    assert [len(c["body"]) for c in comments] == [limit]
