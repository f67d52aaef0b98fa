"""The person at the terminal (issue 13): tables that fit, --columns, --no-headers, --plain, the
limit note, local times, colour — each seen through a real pseudo-terminal, the installed console
script as a real subprocess on a real SQLite store. And what a script sees (stdout not a
terminal) stays as it was: nothing cut, times as stored, no colour, no note.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import selectors
import sqlite3
import struct
import subprocess
import termios
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cli import TIXCLI, run, run_process

SGR = re.compile(r"\x1b\[[0-9;]*m")
WIDE = "打印机 每一页 都打印 两次 然后 在最后 一页 卡纸 每次 都是 这样 真的 很烦人 请帮忙"
LONG = "The printer on the third floor prints every page twice and then jams on the last one, every time"


@dataclass
class TtyResult:
    code: int
    out: str  # what the terminal received (stdout, and stderr when it is the terminal too), \r\n as \n
    err: str  # stderr when it was a pipe

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def plain(self) -> str:
        return SGR.sub("", self.out)


def run_tty(
    *args: str,
    env: dict[str, str | None] | None = None,
    rows: int = 24,
    cols: int = 80,
    stderr_tty: bool = True,
    stdout_tty: bool = True,
    keys: bytes | None = None,
    timeout: float = 60,
) -> TtyResult:
    """tixcli ARGS with stdin (and stdout, stderr) on a new pseudo-terminal of `rows` x `cols`,
        its controlling terminal; `keys` are typed once the terminal has shown something (and again each
    second while tixcli runs). Paging is
        off unless `env` sets TIXCLI_PAGER (None there: unset); an `env` value None unsets it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "PAGER", "LESS")}
    full_env.update({"TERM": "xterm-256color", "TIXCLI_PAGER": ""})
    for name, value in (env or {}).items():
        if value is None:
            full_env.pop(name, None)
        else:
            full_env[name] = value

    def controlling_terminal() -> None:  # runs in the child, after setsid (start_new_session)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [str(TIXCLI), *args],
        stdin=slave,
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=slave if stderr_tty else subprocess.PIPE,
        env=full_env,
        start_new_session=True,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    chunks = {"tty": bytearray(), "out": bytearray(), "err": bytearray()}
    sel = selectors.DefaultSelector()
    sel.register(master, selectors.EVENT_READ, "tty")
    if proc.stdout is not None:
        sel.register(proc.stdout, selectors.EVENT_READ, "out")
    if proc.stderr is not None:
        sel.register(proc.stderr, selectors.EVENT_READ, "err")
    deadline = time.monotonic() + timeout
    typed: float | None = None
    try:
        while sel.get_map():
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"tixcli {' '.join(args)} did not finish: {bytes(chunks['tty'])[-500:]!r}")
            for key, _ in sel.select(timeout=0.2):
                fd = key.fd if key.data == "tty" else key.fileobj.fileno()  # type: ignore[union-attr]
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: every writer of the terminal has closed it
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                chunks[key.data].extend(data)
                if keys is not None and key.data == "tty" and typed is None:
                    typed = time.monotonic()
                    os.write(master, keys)
            if keys is not None and typed is not None and time.monotonic() - typed > 1 and proc.poll() is None:
                typed = time.monotonic()  # not taken yet (a program that reads keys drops what came early)
                os.write(master, keys)
            if proc.poll() is not None and not sel.select(timeout=0.2):
                break
        code = proc.wait(timeout=10)
    finally:
        sel.close()
        os.close(master)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    tty = bytes(chunks["tty"] if stdout_tty else chunks["out"]).decode("utf-8", "replace").replace("\r\n", "\n")
    err = bytes(chunks["err"] if not stderr_tty else b"").decode("utf-8", "replace")
    if not stdout_tty and stderr_tty:
        err = bytes(chunks["tty"]).decode("utf-8", "replace").replace("\r\n", "\n")
    return TtyResult(code, tty, err)


def cells(text: str) -> int:
    """Cells a line takes on a terminal, counted independently of tixcli's own code."""
    total = 0
    for ch in SGR.sub("", text):
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    for var in ("COLUMNS", "LINES", "NO_COLOR", "TZ", "TIXCLI_PAGER", "PAGER", "TIXCLI_CSV_RAW"):
        monkeypatch.delenv(var, raising=False)
    return path


def create(*args: str) -> str:
    result = run("create", *args)  # in-process: the setup, not what is tested
    assert result.code == 0, result.err
    return result.out.strip()


def set_times(store: Path, ticket_id: str, **times: str) -> None:
    db = sqlite3.connect(store)
    with db:
        for column, value in times.items():
            db.execute(f"UPDATE tickets SET {column} = ? WHERE id = ?", (value, int(ticket_id)))
    db.close()


@pytest.fixture
def tickets(store):
    """Three tickets of the kinds a table holds: long subject, wide characters, short one."""
    ids = [
        create("--subject", LONG, "--body", "first", "--priority", "urgent", "--type", "incident"),
        create(
            "--subject",
            "打印机 每一页 都打印 两次 然后 在最后 一页 卡纸 每次 都是 这样 真的 很烦人 请帮忙",
            "--body",
            "b",
        ),
        create("--subject", "VPN down", "--body", "c", "--priority", "low"),
    ]
    set_times(store, ids[0], created_at="2024-01-10T08:00:00+00:00", updated_at="2024-01-15T09:30:00+00:00")
    set_times(store, ids[1], created_at="2024-01-11T08:00:00+00:00", updated_at="2024-01-14T10:45:00+00:00")
    set_times(store, ids[2], created_at="2024-01-12T08:00:00+00:00", updated_at="2024-01-13T23:59:00+00:00")
    return ids


# -- tables that fit ---------------------------------------------------------------------------


@pytest.mark.parametrize("cols", [80, 100, 120])
def test_a_table_on_a_terminal_fits_its_width_and_cuts_only_the_subject(tickets, cols):
    shown = run_tty("list", cols=cols, env={"TZ": "UTC0"})
    assert shown.code == 0, shown.out
    lines = SGR.sub("", shown.out).splitlines()
    assert lines[0].split()[:3] == ["ID", "STATUS", "PRIORITY"]
    assert all(cells(line) <= cols for line in lines), [cells(line) for line in lines]
    printer = next(line for line in lines if line.startswith(tickets[0] + " "))
    assert printer.endswith("…") and LONG not in printer
    assert "me@example.com" in printer and "urgent" in printer and "incident" in printer  # kept whole
    assert LONG.startswith(printer.split("  ")[-1].strip()[:-1].rstrip())  # the start of the subject, cut
    assert next(line for line in lines if line.startswith(tickets[2] + " ")).endswith("VPN down")  # fits: uncut
    # every row's subject starts in the same cell: the columns line up, wide characters counted twice
    starts = {
        cells(line[: line.index(s)]) for line in lines for s in ("SUBJECT", "The printer", "打印机", "VPN") if s in line
    }
    assert len(starts) == 1, starts


def test_columns_from_the_environment_win_over_the_terminal_size(tickets):
    shown = run_tty("list", cols=120, env={"COLUMNS": "90"})
    assert max(cells(line) for line in shown.plain.splitlines()) == 90  # the cut subject fills the row
    narrow = run_tty("list", "--columns", "id,status,subject", cols=50).plain.splitlines()
    assert max(cells(line) for line in narrow) == 50
    wide = run_tty("list", cols=200)
    assert LONG in wide.plain and "…" not in wide.plain  # room for all of it: nothing cut


def test_a_terminal_too_narrow_for_the_other_columns_still_shows_ten_cells_of_subject(tickets):
    lines = run_tty("list", cols=50, env={"TZ": "UTC0"}).plain.splitlines()
    header = lines[0]
    start = header.index("SUBJECT")
    printer = next(line for line in lines if line.startswith(tickets[0] + " "))
    assert printer[start:] == LONG[:9] + "…"  # the other columns keep their width: the rows wrap


def test_wide_characters_are_cut_on_a_cell_boundary(tickets):
    shown = run_tty("list", "--columns", "id,subject", cols=30)
    row = next(line for line in shown.plain.splitlines() if line.startswith(tickets[1] + " "))
    assert cells(row) <= 30 and row.endswith("…")
    assert "\ufffd" not in row


def test_not_on_a_terminal_nothing_is_cut_whatever_columns_says(tickets):
    for env in ({}, {"COLUMNS": "40"}):
        piped = run_process("list", env=env)
        assert piped.code == 0
        assert LONG in piped.out and "…" not in piped.out
        assert "\x1b" not in piped.out and piped.err == ""


def old_table(rows: list[dict], time_field: str = "updated_at") -> str:
    """The table as tixcli printed it before issue 13 (tabulate, plain), less the 60-cell cut."""
    from tabulate import tabulate

    from tixcli.output import clean

    body = [
        [
            clean(t["id"], one_line=True),
            clean(t["status"], one_line=True),
            clean(t["priority"], one_line=True) or "-",
            clean(t["type"], one_line=True) or "-",
            clean((t[time_field] or "")[:16].replace("T", " "), one_line=True),
            clean(t["requester"], one_line=True),
            clean(t["subject"], one_line=True),
        ]
        for t in rows
    ]
    header = "CREATED" if time_field == "created_at" else "UPDATED"
    headers = ["ID", "STATUS", "PRIORITY", "TYPE", header, "REQUESTER", "SUBJECT"]
    return tabulate(body, headers=headers, tablefmt="plain", disable_numparse=True) + "\n"


def test_a_piped_table_is_byte_for_byte_the_old_one_but_for_the_cut(store):
    create("--subject", "  Ünïcödé sübject with ‘quotes’ — and a long tail " * 3, "--body", "x", "--priority", "p2")
    create("--subject", "=1+1 \x1b[31mred\x1b[0m tab\there", "--body", "x", "--type", "question")
    create("--subject", "s", "--body", "x", "--requester", "someone.with.a.long.address@example.com")
    rows = json.loads(run_process("list", "--all", "-f", "json").out)
    assert run_process("list", "--all").out == old_table(rows)
    assert run_process("list", "--all", "--sort", "created").out == old_table(
        json.loads(run_process("list", "--all", "--sort", "created", "-f", "json").out), "created_at"
    )


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "yaml"])
def test_scripts_formats_are_the_same_on_a_terminal_as_in_a_pipe(tickets, fmt):
    piped = run_process("list", "-f", fmt, "--limit", "10")
    shown = run_tty("list", "-f", fmt, "--limit", "10", rows=200, env={"TZ": "JST-9"})
    assert shown.out == piped.out  # no colour, no cut, times in UTC as stored
    one = run_tty("show", tickets[0], "-f", fmt, rows=200, env={"TZ": "JST-9"})
    assert one.out == run_process("show", tickets[0], "-f", fmt).out


# -- --columns, --no-headers, --plain --------------------------------------------------------------


def test_columns_pick_the_fields_of_every_format(tickets):
    table = run_process("list", "--columns", "id, Subject,created,tags,id")
    assert table.lines[0].split() == ["ID", "SUBJECT", "CREATED", "TAGS"]
    assert table.lines[1].split()[0] == tickets[0]
    data = json.loads(run_process("list", "--columns", "id,subject,created_at", "-f", "json").out)
    assert [list(d) for d in data] == [["id", "subject", "created_at"]] * 3
    assert data[0]["created_at"] == "2024-01-10T08:00:00+00:00"
    line = json.loads(run_process("list", "--columns", "status,id", "-f", "jsonl").lines[0])
    assert list(line) == ["status", "id"]
    assert list(yaml.safe_load(run_process("list", "--columns", "url,id", "-f", "yaml").out)[0]) == ["url", "id"]
    csv_out = run_process("list", "--columns", "id,priority", "-f", "csv")
    assert csv_out.lines == ["id,priority", f"{tickets[0]},urgent", f"{tickets[1]},", f"{tickets[2]},low"]
    headless = run_process("list", "--columns", "id,priority", "-f", "csv", "--no-headers")
    assert headless.lines == csv_out.lines[1:]


def test_an_unknown_column_exits_6_and_lists_the_fields(store):
    result = run_process("list", "--columns", "id,colour")
    assert result.code == 6 and result.out == ""
    assert "unknown column 'colour'" in result.err
    for field in ("id", "subject", "requester", "external_id", "updated_at", "url"):
        assert field in result.err
    assert run_process("list", "--columns", " , ").code == 6


def test_no_headers_drops_the_header_line(tickets):
    with_header = run_process("list")
    headless = run_process("list", "--no-headers")
    # the same rows; the columns as wide as their cells (a header no longer widens them)
    assert [line.split() for line in headless.lines] == [line.split() for line in with_header.lines[1:]]
    assert headless.lines[0].startswith(f"{tickets[0]}  new  urgent  incident  2024-01-15 09:30")
    on_tty = run_tty("list", "--no-headers").plain.splitlines()
    assert on_tty[0].startswith(tickets[0] + " ") and not any(line.startswith("ID ") for line in on_tty)
    assert run_process("list", "--no-headers", "-f", "json").code == 6


def test_plain_is_one_ticket_a_line_separated_by_tabs_for_cut_and_awk(tickets):
    plain = run_process("list", "--plain")
    assert plain.code == 0
    rows = [line.split("\t") for line in plain.lines]
    assert [r[0] for r in rows] == tickets
    assert rows[0] == [tickets[0], "new", "urgent", "incident", "2024-01-15T09:30:00+00:00", "me@example.com", LONG]
    assert rows[1][2:4] == ["", ""]  # no priority, no type: empty fields, not "-"
    picked = run_process("list", "--plain", "--columns", "subject,id,tags")
    assert picked.lines[0] == f"{LONG}\t{tickets[0]}\t"
    cut = subprocess.run(
        f"{TIXCLI} list --plain | cut -f1,7", shell=True, capture_output=True, text=True, env=dict(os.environ)
    )
    assert cut.stdout.splitlines()[0] == f"{tickets[0]}\t{LONG}"
    # the same on a terminal: nothing cut, no colour, no header, times in UTC
    shown = run_tty("list", "--plain", cols=40, env={"TZ": "JST-9"})
    assert shown.out.splitlines() == plain.lines
    # --plain wins over $TIXCLI_FORMAT, not over an explicit --format
    assert run_process("list", "--plain", env={"TIXCLI_FORMAT": "json"}).out == plain.out
    assert run_process("list", "--plain", "-f", "json").code == 6


def test_plain_fields_never_hold_a_tab_or_a_line_break(store):
    ticket = create("--subject", "one two", "--body", "x", "--tag", "a", "--tag", "b")
    db = sqlite3.connect(store)  # what a service may send: a tab and line breaks in a subject
    with db:
        db.execute("UPDATE tickets SET subject = ?, assignee = ? WHERE id = ?", ("one\ttwo\nthree\r", "x\ty", ticket))
    db.close()
    line = run_process("list", "--plain", "--columns", "subject,tags,assignee").out
    assert line == "one two three \ta,b\tx y\n"


# -- the limit note -----------------------------------------------------------------------------


def test_a_terminal_is_told_when_the_limit_cut_the_list(tickets):
    cut = run_tty("list", "--limit", "2")
    assert cut.code == 0
    assert cut.lines[-1] == "2 of 3 shown; --limit N shows more"  # SQLite counts the matches
    assert len([line for line in cut.lines if line.startswith(tuple(t + " " for t in tickets))]) == 3  # + the note
    assert "shown" not in run_tty("list", "--limit", "3").out  # exactly all of them
    assert "shown" not in run_tty("list").out
    # the note is stderr's: stdout piped, stderr still the terminal
    piped_out = run_tty("list", "--limit", "1", "-f", "json", stdout_tty=False)
    assert len(json.loads(piped_out.out)) == 1 and "1 of 3 shown" in piped_out.err


def test_a_script_is_not_told_anything_about_the_limit(tickets):
    result = run_process("list", "--limit", "2")
    assert result.code == 0 and result.err == ""
    assert len(result.lines) == 3
    on_tty = run_tty("list", "--limit", "2", stderr_tty=False)  # 2>file: no note there either
    assert on_tty.err == "" and "there are more" not in on_tty.out


def test_the_note_counts_the_total_where_the_backend_gives_one():
    from tixcli.cli.list_cmd import limit_note

    assert limit_note(50, 61) == "50 of 61 shown; --limit N shows more"
    assert limit_note(50, None) == "50 shown; there are more: --limit N shows more"


# -- times in the local zone --------------------------------------------------------------------


def test_times_on_a_terminal_are_local_with_their_zone(tickets):
    shown = run_tty("list", env={"TZ": "JST-9"})
    lines = shown.plain.splitlines()
    assert "UPDATED (JST)" in lines[0]
    assert "2024-01-15 18:30" in next(line for line in lines if line.startswith(tickets[0] + " "))
    assert "2024-01-14 08:59" in next(line for line in lines if line.startswith(tickets[2] + " "))  # the next day
    other = run_tty("list", env={"TZ": "EST5"}).plain
    assert "UPDATED (EST)" in other and "2024-01-15 04:30" in other
    piped = run_process("list", env={"TZ": "JST-9"})
    assert "2024-01-15 09:30" in piped.out and "JST" not in piped.out  # a script sees the stored UTC


def test_rows_in_different_zones_each_carry_theirs(tickets, store):
    set_times(store, tickets[1], updated_at="2024-07-14T10:45:00+00:00")  # summer time
    shown = run_tty("list", env={"TZ": "CET-1CEST,M3.5.0,M10.5.0/3"}).plain.splitlines()
    assert "UPDATED (" not in shown[0]
    assert "2024-07-14 12:45 CEST" in next(line for line in shown if line.startswith(tickets[1] + " "))
    assert "2024-01-15 10:30 CET" in next(line for line in shown if line.startswith(tickets[0] + " "))


def test_sort_created_shows_the_created_column(tickets):
    for out in (
        run_tty("list", "--sort", "created", env={"TZ": "UTC0"}).plain,
        run_process("list", "--sort", "created").out,
    ):
        header = out.splitlines()[0]
        assert "CREATED" in header and "UPDATED" not in header
        assert "2024-01-12 08:00" in out.splitlines()[1]
    assert "UPDATED" in run_process("list", "--sort", "priority").lines[0]


def test_show_on_a_terminal_gives_local_times_and_a_script_the_stored_ones(tickets):
    shown = run_tty("show", tickets[0], rows=100, env={"TZ": "JST-9"}).plain
    assert re.search(r"updated:\s+2024-01-15 18:30 JST", shown)
    assert re.search(r"created:\s+2024-01-10 17:00 JST", shown)
    assert re.search(r"--- me@example\.com · \d{4}-\d\d-\d\d \d\d:\d\d JST", shown)
    piped = run_process("show", tickets[0], env={"TZ": "JST-9"}).out
    assert "updated:    2024-01-15T09:30:00+00:00" in piped and "JST" not in piped


# -- colour ---------------------------------------------------------------------------------------


def test_status_and_priority_are_coloured_on_a_terminal_only(tickets):
    shown = run_tty("list").out
    assert "\x1b[33mnew\x1b[0m" in shown and "\x1b[1;31murgent\x1b[0m" in shown and "\x1b[2mlow\x1b[0m" in shown
    one = run_tty("show", tickets[0], rows=100).out
    assert "\x1b[33mnew\x1b[0m" in one and "\x1b[1;31murgent\x1b[0m" in one
    for args, env in (
        (["--color", "never"], {}),
        ([], {"NO_COLOR": "1"}),
        ([], {"TERM": "dumb"}),
    ):
        assert "\x1b" not in run_tty("list", *args, env=env).out, (args, env)
        assert "\x1b" not in run_tty("show", tickets[0], *args, rows=100, env=env).out, (args, env)
    assert "\x1b[" in run_tty("list", env={"NO_COLOR": ""}).out  # empty NO_COLOR: not set
    assert "\x1b[" in run_tty("list", "--color", "always", env={"NO_COLOR": "1"}).out  # the flag wins


def test_no_colour_when_stdout_is_not_a_terminal(tickets):
    assert "\x1b" not in run_process("list").out
    assert "\x1b" not in run_process("show", tickets[0]).out
    on_tty_err = run_tty("list", stdout_tty=False)  # stderr a terminal, stdout a pipe
    assert "\x1b" not in on_tty_err.out
    # --color always is the one way to colour into a pipe (`| less -R`)
    assert "\x1b[33mnew\x1b[0m" in run_process("list", "--color", "always").out
    bad = run_process("list", "--color", "sometimes")
    assert bad.code == 6 and "auto always never" in bad.err


def test_colour_never_lets_a_tickets_escape_sequences_through(store):
    hostile = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b31m \u202eevil 漢字" * 4
    ticket = create("--subject", hostile, "--body", hostile, "--priority", "high")
    for out in (run_tty("list").out, run_tty("show", ticket, rows=100).out, run_tty("list", "--plain").out):
        assert not re.search("\x07|\x9b|\u202e", out)
        assert "\\u202eevil" in out  # the bidi control shown as a visible escape
        assert set(SGR.findall(out)) <= {"\x1b[33m", "\x1b[0m"}  # only tixcli's own: new, high
        assert SGR.sub("", out).count("\x1b") == 0


# -- show --comments N ----------------------------------------------------------------------------


def test_show_comments_n_gives_the_description_and_the_last_n(store):
    ticket = create("--subject", "many replies", "--body", "the description")
    for n in range(1, 41):
        assert run("reply", ticket, "--body", f"reply number {n}").code == 0
    text = run_process("show", ticket, "--comments", "3").out
    assert "the description" in text
    assert "... 37 earlier comments not shown" in text
    assert [n for n in range(1, 41) if f"reply number {n}\n" in text] == [38, 39, 40]
    data = json.loads(run_process("show", ticket, "--comments", "2", "-f", "json").out)
    assert [c["body"] for c in data["comments"]] == ["the description", "reply number 39", "reply number 40"]
    everything = run_process("show", ticket, "--comments", "40").out
    assert everything == run_process("show", ticket).out and "earlier" not in everything
    for bad in ("0", "-1"):
        refused = run_process("show", ticket, "--comments", bad)
        assert refused.code == 6 and refused.out == "", bad


# -- bounds -------------------------------------------------------------------------------------------


def peak_rss(args: list[str], env: dict[str, str], stdout: Path | None = None) -> tuple[int, str]:
    """The peak resident memory (bytes) of tixcli ARGS with stdout to the file `stdout` (else
    /dev/null), and what it wrote on stderr."""
    code = (
        "import resource, subprocess, sys\n"
        "out = open(sys.argv[1], 'wb') if sys.argv[1] else subprocess.DEVNULL\n"
        "p = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.PIPE)\n"
        "sys.stderr.buffer.write(p.stderr)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code, str(stdout or ""), str(TIXCLI), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    status, kib = done.stdout.split()
    assert status == "0", done.stderr
    return int(kib) * 1024, done.stderr


@pytest.mark.slow
def test_a_piped_table_of_100000_rows_stays_within_bounds(store):
    create("--subject", "seed", "--body", "b")
    db = sqlite3.connect(store)
    with db:
        db.execute(
            "INSERT INTO tickets (subject, description, status, priority, type, requester, tags, cc, "
            "created_at, updated_at, priority_rank) "
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
            "SELECT 'Subject ' || i || ' about a printer that will not print anything at all, not even a test page', "
            "'d', 'open', 'normal', 'incident', 'user' || (i % 5000) || '@example.com', '[]', '[]', "
            "printf('2024-01-01T00:%02d:00+00:00', i % 60), printf('2024-02-01T00:%02d:00+00:00', i % 60), 2 FROM n"
        )
    db.close()
    args = ["list", "--all", "--status", "any", "--limit", "100000"]
    env = {"TIXCLI_DB": str(store)}
    plain, _ = peak_rss([*args, "--plain"], env)  # streams: one ticket at a time
    written = store.parent / "table.txt"
    table, err = peak_rss(args, env, stdout=written)  # (the table measured and read in one run)
    # the table keeps one string a row (about 170 bytes) while it measures the columns
    assert table - plain < 40 * 1024 * 1024, (table, plain)
    lines = written.read_text().splitlines()
    assert len(lines) == 100_001 and err == ""  # the header and 100,000 rows
    assert lines[2].endswith("not even a test page")  # nothing cut


@pytest.mark.parametrize(("backend", "note"), [("zendesk", "2 of 3 shown"), ("jsm", "2 shown; there are more")])
def test_the_limit_note_counts_where_the_service_says_how_many(request, backend, note):
    """Zendesk's search answer holds the count of every match; JSM's search/jql holds none."""
    harness = request.getfixturevalue(f"{backend}_harness")
    config = str(harness.config_path)
    for n in range(3):
        made = run("--config", config, "create", "--subject", f"s{n}", "--body", "b", env=harness.env)
        assert made.code == 0, made.err
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [str(TIXCLI), "--config", config, "list", "--all", "--limit", "2", "-f", "json"],
            stdout=subprocess.PIPE,
            stderr=slave,
            env={**os.environ, **harness.env},
            timeout=60,
        )
        os.close(slave)
        err = os.read(master, 4096).decode()
    finally:
        os.close(master)
    assert proc.returncode == 0 and len(json.loads(proc.stdout)) == 2
    assert note in err, err
