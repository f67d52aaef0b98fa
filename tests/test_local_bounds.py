"""Input that does not end: bodies and attachments are read at most up to their limits.

A body is refused past the backend's `max_comment_chars` (counted in characters after UTF-8
decoding; at most 4 bytes a character plus one are read), an attachment past the attachment
limits, whatever `stat` says: /dev/zero, a FIFO, a /proc file, stdin that never ends.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from cli import TIXCLI, run

MEMORY_CAP = 1 << 30  # address space of the subprocess: the old unbounded reads die here (exit 1)
PEAK_RSS_LIMIT = 200 * 1024 * 1024  # measured 30-35 MB for the fixed reads of /dev/zero


def bounded_process(args: list[str], stdin=None, env: dict | None = None, timeout: float = 30, stdout=None):
    """The real tixcli as a subprocess under MEMORY_CAP: (exit code, seconds, peak RSS bytes, stderr);
    its output goes to `stdout` (a file) where given."""

    # A child forked from pytest starts with pytest's resident pages, and its peak RSS counts them
    # (200+ MB late in a full run), whatever tixcli itself reads. So a small interpreter sets the
    # cap, runs tixcli as its own child (a fork of a small process), and reports that child's peak.
    capped = (
        "import os, resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.execv(sys.argv[2], sys.argv[2:])\n"
        "_, status, usage = os.wait4(pid, 0)\n"
        "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
        "code = os.waitstatus_to_exitcode(status)\n"
        "sys.exit(code if code >= 0 else 128 - code)\n"
    )
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as peak:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", capped, peak.name, str(TIXCLI), *args],
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=stdout if stdout is not None else out,
            stderr=err,
            env={**os.environ, **(env or {})},
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
        measured = int(open(peak.name).read() or 0)  # noqa: SIM115 - read once, closed on exit
        return proc.returncode, elapsed, measured * 1024, err.read().decode("utf-8", "replace")


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


# -- 4. attachments ------------------------------------------------------------------------------


def test_attaching_dev_zero_exits_6_at_the_limit_quickly(store):
    # Fixed: ~0.3 s (11,000,001 bytes read). Before: refused as "no such file" (not a regular file).
    code, elapsed, peak, err = bounded_process(["attach", "1", "/dev/zero"])
    assert code == 6 and "more than 11,000,000 bytes" in err, err
    assert elapsed < 10 and peak < PEAK_RSS_LIMIT, (elapsed, peak)


def test_a_proc_file_whose_size_stat_does_not_tell_cannot_exceed_the_per_file_limit(store):
    # /proc files stat as 0 bytes; this one holds the process's environment (~100 KB here).
    # Before: the stat check passed and the whole file was stored past the limit.
    config = store / "config.yaml"
    config.write_text(
        f"profiles:\n  p:\n    backend: sqlite\n    path: {store / 'tickets.db'}\n"
        "    attachments: {max_file_bytes: 50000}\n"
    )
    env = {"TIXCLI_CONFIG": str(config), "TIXCLI_BIG": "x" * 100_000}
    code, _, _, err = bounded_process(["attach", "1", "/proc/self/environ"], env=env)
    assert code == 6 and "50,000-byte limit per file" in err, err
    assert len(json.loads(run("show", "1", "-f", "json").out)["comments"]) == 1


def feed_fifo(path, chunks, stop: threading.Event) -> threading.Thread:
    """A writer thread for the FIFO at `path`: waits (bounded) for a reader, writes, then closes."""

    def write() -> None:
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until a reader opens it
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                time.sleep(0.01)
                continue
            os.set_blocking(fd, True)
            try:
                for chunk in chunks:
                    if stop.is_set():
                        break
                    os.write(fd, chunk)
            except BrokenPipeError:
                pass  # the reader had enough
            finally:
                os.close(fd)
            return

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def endless(chunk: bytes):
    while True:
        yield chunk


def test_a_fifo_that_keeps_growing_exits_6_at_the_limit(store):
    fifo = store / "growing.log"
    os.mkfifo(fifo)
    stop = threading.Event()
    writer = feed_fifo(fifo, endless(b"log line\n" * 1000), stop)
    try:
        result = run("attach", "1", str(fifo))
    finally:
        stop.set()
        writer.join(timeout=30)
    assert result.code == 6 and "more than 11,000,000 bytes" in result.err, result.err
    assert len(json.loads(run("show", "1", "-f", "json").out)["comments"]) == 1


def test_a_fifo_within_the_limits_is_attached_whole(store):
    # Process substitution (`tixcli attach 1 <(zcat build.log.gz)`) names a FIFO; it is read once.
    fifo = store / "build.log"
    os.mkfifo(fifo)
    stop = threading.Event()
    data = [b"line %d\n" % i for i in range(10_000)]
    writer = feed_fifo(fifo, data, stop)
    try:
        result = run("attach", "1", str(fifo))
    finally:
        stop.set()
        writer.join(timeout=30)
    assert result.code == 0, result.err
    attachment = json.loads(run("show", "1", "-f", "json").out)["comments"][-1]["attachments"][0]
    assert attachment["filename"] == "build.log" and attachment["size"] == len(b"".join(data))
