"""Long `show` and `list` output through a pager (issue 13), on a real pseudo-terminal: the pager is
$TIXCLI_PAGER, else $PAGER (its arguments split, empty: none), else `less -FRX`; only on a
terminal, only when the output is longer than the terminal, never with --no-pager; a pager quit
early is no error. The pagers here are real programs: a recording script, and less itself.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path

import pytest
from cli import run, run_process
from test_terminal_output import SGR, run_tty

RECORDER = """\
import json, os, sys
data = sys.stdin.buffer.read()
record = {"argv": sys.argv[1:], "size": len(data), "LESS": os.environ.get("LESS"), "tty": os.isatty(1)}
with open(os.environ["PAGER_RECORD"], "w") as fh:
    json.dump(record, fh)
with open(os.environ["PAGER_RECORD"] + ".txt", "wb") as fh:
    fh.write(data)
print(f"PAGER GOT {len(data)} BYTES")
"""
# Reads a little, then leaves, as a person pressing q on the first page does.
QUITTER = """\
import sys
sys.stdin.buffer.read(100)
print("PAGER QUIT EARLY")
"""


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    for var in ("COLUMNS", "LINES", "NO_COLOR", "TIXCLI_PAGER", "PAGER", "LESS"):
        monkeypatch.delenv(var, raising=False)
    return path


@pytest.fixture
def recorder(tmp_path) -> tuple[str, Path]:
    script = tmp_path / "pager.py"
    script.write_text(RECORDER)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}", tmp_path / "record.json"


def paged(record: Path) -> dict | None:
    """What the recording pager got (None: it never ran), with the text as `text`."""
    if not record.exists():
        return None
    data = json.loads(record.read_text())
    data["text"] = Path(str(record) + ".txt").read_bytes().decode()
    return data


def create(*args: str) -> str:
    result = run("create", *args)
    assert result.code == 0, result.err
    return result.out.strip()


@pytest.fixture
def long_ticket(store) -> str:
    """A ticket with 40 replies: its `show` is some 170 lines (show_lines)."""
    ticket = create("--subject", "forty replies", "--body", "the description")
    for n in range(1, 41):
        assert run("reply", ticket, "--body", f"reply {n}\nsecond line").code == 0
    return ticket


def test_a_show_longer_than_the_terminal_goes_through_the_pager(long_ticket, recorder):
    command, record = recorder
    shown = run_tty("show", long_ticket, env={"TIXCLI_PAGER": command, "PAGER_RECORD": str(record)})
    assert shown.code == 0
    got = paged(record)
    assert got is not None and got["tty"] is True  # the pager writes to the terminal itself
    text = SGR.sub("", got["text"])
    assert text.startswith(f"#{long_ticket}  forty replies\n") and "reply 40\nsecond line\n" in text
    assert text == SGR.sub("", run_tty("show", long_ticket, "--no-pager", rows=500).out)  # all of it, as it is
    assert got["size"] == len(got["text"].encode())
    assert f"PAGER GOT {got['size']} BYTES" in shown.out and "reply 40" not in shown.out  # all of it to the pager


def test_tixcli_pager_wins_and_pager_keeps_its_arguments(long_ticket, recorder):
    command, record = recorder
    env = {"PAGER": f"{command} --flag 'two words'", "PAGER_RECORD": str(record), "TIXCLI_PAGER": None}
    assert run_tty("show", long_ticket, env=env).code == 0
    got = paged(record)
    assert got is not None and got["argv"] == ["--flag", "two words"]
    assert got["LESS"] == "FRX"  # set for the pager when the user has no $LESS
    record.unlink()
    both = {**env, "TIXCLI_PAGER": f"{command} mine", "LESS": "-S"}
    assert run_tty("show", long_ticket, env=both).code == 0
    got = paged(record)
    assert got is not None and got["argv"] == ["mine"] and got["LESS"] == "-S"


@pytest.mark.parametrize(
    "pagers",
    [{"TIXCLI_PAGER": "", "PAGER": "use"}, {"TIXCLI_PAGER": None, "PAGER": ""}, {"TIXCLI_PAGER": "  "}],
    ids=["empty TIXCLI_PAGER", "empty PAGER", "blank TIXCLI_PAGER"],
)
def test_an_empty_pager_variable_means_no_pager(long_ticket, recorder, pagers):
    command, record = recorder
    env = {k: (command if v == "use" else v) for k, v in pagers.items()}
    shown = run_tty("show", long_ticket, env={**env, "PAGER_RECORD": str(record)})
    assert shown.code == 0 and paged(record) is None
    assert "reply 40\nsecond line" in shown.out  # printed as it is


def test_output_that_fits_the_terminal_is_not_paged(store, recorder):
    command, record = recorder
    ticket = create("--subject", "short", "--body", "one line")
    env = {"TIXCLI_PAGER": command, "PAGER_RECORD": str(record)}
    shown = run_tty("show", ticket, env=env)
    assert shown.code == 0 and paged(record) is None and "one line" in shown.out
    assert run_tty("list", env=env).code == 0 and paged(record) is None
    # the same ticket on a terminal of 5 lines is longer than it
    assert run_tty("show", ticket, rows=5, env=env).code == 0 and paged(record) is not None


def test_a_long_list_is_paged_and_the_limit_note_follows_the_pager(store, recorder):
    command, record = recorder
    for n in range(31):
        create("--subject", f"ticket {n}", "--body", "b")
    shown = run_tty("list", "--limit", "30", env={"TIXCLI_PAGER": command, "PAGER_RECORD": str(record)})
    assert shown.code == 0
    got = paged(record)
    assert got is not None and len(got["text"].splitlines()) == 31  # the header and 30 rows
    assert SGR.sub("", got["text"]).splitlines()[0].split()[:2] == ["ID", "STATUS"]
    note = "30 of 31 shown; --limit N shows more"
    assert note not in got["text"]  # stderr's, not the pager's
    assert shown.out.index("PAGER GOT") < shown.out.index(note)  # tixcli waited for the pager


def show_lines(ticket: str) -> int:
    """How many lines `show` prints for the ticket, run in this process (never paged here)."""
    lines = len(run("show", ticket).lines)
    assert lines > 160  # longer than any terminal the tests give
    return lines


def test_never_a_pager_when_stdout_is_not_a_terminal(long_ticket, recorder):
    command, record = recorder
    env = {"TIXCLI_PAGER": command, "PAGER_RECORD": str(record)}
    piped = run_process("show", long_ticket, env=env)
    assert piped.code == 0 and paged(record) is None
    assert len(piped.lines) == show_lines(long_ticket)
    stderr_only = run_tty("show", long_ticket, env=env, stdout_tty=False)  # stderr a terminal, stdout a pipe
    assert stderr_only.code == 0 and paged(record) is None
    assert len(stderr_only.out.splitlines()) == show_lines(long_ticket)


def test_no_pager_prints_directly(long_ticket, recorder):
    command, record = recorder
    env = {"TIXCLI_PAGER": command, "PAGER_RECORD": str(record)}
    shown = run_tty("show", long_ticket, "--no-pager", rows=24, env=env)
    assert shown.code == 0 and paged(record) is None
    assert len(SGR.sub("", shown.out).splitlines()) == show_lines(long_ticket)
    assert run_tty("list", "--no-pager", rows=2, env=env).code == 0 and paged(record) is None


def test_the_default_pager_is_less_with_frx(long_ticket, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_less = bin_dir / "less"
    fake_less.write_text(f"#!{sys.executable}\n" + RECORDER)
    fake_less.chmod(0o755)
    record = tmp_path / "less.json"
    path = f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin"
    env = {"PATH": path, "PAGER_RECORD": str(record), "TIXCLI_PAGER": None, "PAGER": None}
    assert run_tty("show", long_ticket, env=env).code == 0
    got = paged(record)
    assert got is not None and got["argv"] == ["-FRX"]


def test_a_pager_quit_early_is_no_error(store, tmp_path):
    ticket = create("--subject", "a big one", "--body", "word " * 100_000)  # 500 KB: more than a pipe holds
    quitter = tmp_path / "quit.py"
    quitter.write_text(QUITTER)
    shown = run_tty("show", ticket, env={"TIXCLI_PAGER": f"{shlex.quote(sys.executable)} {shlex.quote(str(quitter))}"})
    assert shown.code == 0, shown.out[-2000:]
    assert "PAGER QUIT EARLY" in shown.out
    assert "Traceback" not in shown.out and "error" not in shown.out.lower()
    assert "word word" not in shown.out  # nothing printed past the pager


@pytest.mark.skipif(shutil.which("less") is None, reason="less is not installed")
def test_quitting_the_real_less_on_its_first_page(store):
    ticket = create("--subject", "a big one", "--body", "line\n" * 50_000)
    shown = run_tty("show", ticket, env={"TIXCLI_PAGER": None, "PAGER": None}, keys=b"q")
    assert shown.code == 0, shown.out[-2000:]
    assert "Traceback" not in shown.out and "error" not in shown.out.lower()
    assert "a big one" in shown.out  # less showed the first page
    assert shown.out.count("line\n") < 1000  # and not the 50,000 lines


def test_a_pager_that_cannot_start_is_said_and_the_output_printed(long_ticket):
    shown = run_tty("show", long_ticket, env={"TIXCLI_PAGER": "/nonexistent/pager -x"})
    assert shown.code == 0
    assert "warning: cannot run the pager from $TIXCLI_PAGER (/nonexistent/pager" in shown.out
    assert "reply 40\nsecond line" in shown.out
    unbalanced = run_tty("show", long_ticket, env={"TIXCLI_PAGER": "less 'oops"})
    assert unbalanced.code == 0 and "not a command line" in unbalanced.out and "reply 40" in unbalanced.out


def test_pager_rows_count_wrapped_lines_and_ignore_colour():
    from tixcli.pager import rows_needed

    assert rows_needed("a\nb\n", 80, 24) == 2
    assert rows_needed("x" * 81 + "\n", 80, 24) == 2  # a line wider than the terminal takes two rows
    assert rows_needed("漢" * 41 + "\n", 80, 24) == 2  # 82 cells
    assert rows_needed("\x1b[33m" + "x" * 80 + "\x1b[0m\n", 80, 24) == 1
    assert rows_needed("\n" * 1000, 80, 24) == 25  # counted only as far as it matters
