"""The person at the terminal: `create -e` and `reply -e` in an editor, `--body-file -` on a terminal.

Each run is a real subprocess of the installed console script in a new session whose controlling
terminal is a real pseudo-terminal (nothing mocks isatty), on a real SQLite store (TIXCLI_DB).
The editors are real scripts: a Python stand-in that records what it was run on (the template,
the file's mode, whether its stdin/stdout/stderr are terminals) and writes a given text into the
file, or exits 1.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli import TIXCLI, run
from conftest import BACKENDS

SCISSORS = "# ---- >8 ----"
HANG_GUARD = 60  # seconds before a run that waits forever fails the test (never a timing assert)

# EDIT_TEXT is what the editor saves: @TEMPLATE@ is the template it was given, @FIRST@ its first
# line, @REST@ what follows that line, @TYPED@ a line it reads from its standard input.
EDITOR = """#!{python}
import json, os, signal, stat, sys

path = sys.argv[-1]
with open(path, encoding="utf-8") as fh:
    template = fh.read()
first, _, rest = template.partition("\\n")
if os.environ.get("EDIT_IGNORE_INT"):  # like vi: Ctrl-C is the editor's own business
    signal.signal(signal.SIGINT, signal.SIG_IGN)
os.write(2, b"[editor on stderr]")
os.write(1, b"[editor on stdout]")
typed = sys.stdin.readline().rstrip("\\n") if "@TYPED@" in os.environ.get("EDIT_TEXT", "") else ""
record = {{
    "args": sys.argv[1:],
    "path": path,
    "template": template,
    "mode": stat.S_IMODE(os.stat(path).st_mode),
    "folder_mode": stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode),
    "terminals": [os.isatty(fd) for fd in (0, 1, 2)],
}}
with open(os.environ["EDIT_RECORD"], "w", encoding="utf-8") as fh:
    json.dump(record, fh)
text = os.environ.get("EDIT_TEXT", "@TEMPLATE@")
for mark, value in (("@TEMPLATE@", template), ("@FIRST@", first), ("@REST@", rest), ("@TYPED@", typed)):
    text = text.replace(mark, value)
with open(path, "w", encoding="utf-8") as fh:
    fh.write(text)
sys.exit(int(os.environ.get("EDIT_STATUS", "0")))
"""


@dataclass
class Ran:
    code: int
    out: str
    err: str
    screen: str  # what reached the terminal (the editor's output, echoed keys)


@pytest.fixture
def world(tmp_path):
    """A store, a private TMPDIR, and the stand-in editor in a folder whose name has a space."""
    folder = tmp_path / "my editors"
    folder.mkdir()
    editor = folder / "ed.py"
    editor.write_text(EDITOR.format(python=sys.executable))
    editor.chmod(0o755)
    (tmp_path / "tmp").mkdir()
    return World(tmp_path, editor)


class World:
    def __init__(self, root: Path, editor: Path) -> None:
        self.root = root
        self.editor = editor
        self.db = root / "tickets.db"
        self.record = root / "record.json"
        self.tmp = root / "tmp"

    def env(self, **over: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("VISUAL", "EDITOR", "TERM")}
        env.update(TIXCLI_DB=str(self.db), EDIT_RECORD=str(self.record), TMPDIR=str(self.tmp), TERM="xterm")
        env["VISUAL"] = f"'{self.editor}' --wait"  # shlex-split: a path with a space, then an argument
        env.update(over)
        return env

    def edited(self) -> dict | None:
        """What the editor recorded, or None when it never ran."""
        return json.loads(self.record.read_text()) if self.record.exists() else None

    def tickets(self) -> list[dict]:
        found = run("list", "--all", "--format", "json", env={"TIXCLI_DB": str(self.db)})
        assert found.code == 0, found.err
        return json.loads(found.out)

    def show(self, ticket_id: str) -> dict:
        found = run("show", ticket_id, "--format", "json", env={"TIXCLI_DB": str(self.db)})
        assert found.code == 0, found.err
        return json.loads(found.out)

    def make(self, subject: str = "Printer on fire", body: str = "It smokes.") -> str:
        made = run("create", "-s", subject, "--body", body, env={"TIXCLI_DB": str(self.db)})
        assert made.code == 0, made.err
        return made.out.strip()


def on_terminal(
    args: list[str],
    env: dict[str, str],
    *,
    stdin: bytes | None = None,
    typed: bytes = b"",
    wait_for: bytes | None = None,
    on_screen: bytes | None = None,
    command: list[str] | None = None,
) -> Ran:
    """tixcli ARGS in a new session with a pseudo-terminal as its controlling terminal (what
    /dev/tty opens); stdout and stderr pipes, stdin the terminal or a pipe holding `stdin`.
    `typed` is written to the terminal, after `wait_for` has appeared on stderr, or `on_screen` on
    the terminal, when given."""
    master, slave = pty.openpty()
    name = os.ttyname(slave)

    def take_terminal() -> None:  # a session leader's first open of a terminal makes it its own
        os.close(os.open(name, os.O_RDWR))

    proc = subprocess.Popen(
        command or [str(TIXCLI), *args],
        stdin=slave if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        preexec_fn=take_terminal,
    )
    os.close(slave)
    screen = bytearray()
    changed = threading.Condition()

    def read_screen() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every process holding the terminal is gone
                chunk = b""
            with changed:
                screen.extend(chunk)
                changed.notify_all()
            if not chunk:
                return

    reader = threading.Thread(target=read_screen, daemon=True)
    reader.start()
    early = b""
    try:
        if wait_for is not None:
            assert proc.stderr is not None
            while wait_for not in early:
                ready, _, _ = select.select([proc.stderr], [], [], HANG_GUARD)
                assert ready, f"no {wait_for!r} on stderr; so far {early!r}"
                chunk = os.read(proc.stderr.fileno(), 4096)
                assert chunk, f"stderr closed before {wait_for!r}: {early!r}"
                early += chunk
        if on_screen is not None:
            with changed:
                shown = changed.wait_for(lambda: on_screen in screen or not reader.is_alive(), HANG_GUARD)
            assert shown and on_screen in screen, f"no {on_screen!r} on the terminal: {bytes(screen)!r}"
        if typed:
            os.write(master, typed)
        out, err = proc.communicate(input=stdin, timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(HANG_GUARD)
        os.close(master)
    return Ran(proc.returncode, out.decode(), (early + err).decode(), bytes(screen).decode("utf-8", "replace"))


def no_terminal(args: list[str], env: dict[str, str]) -> Ran:
    """tixcli in a new session with no controlling terminal at all: /dev/tty cannot open."""
    proc = subprocess.run(
        [str(TIXCLI), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        start_new_session=True,
        timeout=HANG_GUARD,
    )
    return Ran(proc.returncode, proc.stdout.decode(), proc.stderr.decode(), "")


def left_nothing_behind(world: World) -> None:
    record = world.edited()
    if record is not None:
        assert not os.path.exists(record["path"]) and not os.path.exists(os.path.dirname(record["path"]))
    assert list(world.tmp.iterdir()) == []


# -- create -e ----------------------------------------------------------------------------------


def test_id_from_a_command_substitution_with_the_editor_on_the_terminal(world):
    """`ID=$(tixcli create -e)`: stdout is the shell's pipe, the editor talks to the terminal."""
    env = world.env(EDIT_TEXT="Printer on fire\n\n@TYPED@\n@TEMPLATE@")
    script = f'ID=$("{TIXCLI}" create -e) && echo "made:$ID"'
    ran = on_terminal([], env, typed=b"It smokes since Monday.\n", command=["sh", "-c", script])
    assert ran.code == 0, ran.err
    assert ran.out == "made:1\n"
    assert ran.err == ""
    record = world.edited()
    assert record["terminals"] == [True, True, True]
    assert record["args"][0] == "--wait"  # $VISUAL split like a shell word list
    assert record["mode"] == 0o600 and record["folder_mode"] == 0o700
    assert "[editor on stdout]" in ran.screen and "[editor on stderr]" in ran.screen
    assert record["template"].startswith("\n\n" + SCISSORS + "\n")  # no -s: an empty first line
    [ticket] = world.tickets()
    assert ticket["subject"] == "Printer on fire"
    assert world.show("1")["comments"][0]["body"] == "It smokes since Monday."
    left_nothing_behind(world)


def test_subject_prefilled_from_s_and_markdown_headings_above_the_scissors_kept(world):
    body = "# What happened\n\nIt smokes.\n\n## Since when\n\nMonday."
    env = world.env(EDIT_TEXT=f"@FIRST@\n\n{body}\n\n\n{SCISSORS}\nthis is not sent\n# nor this\n")
    ran = on_terminal(["create", "-e", "-s", "Printer on fire", "--priority", "high"], env)
    assert ran.code == 0, ran.err
    assert ran.out == "1\n"
    assert world.edited()["template"].startswith("Printer on fire\n\n" + SCISSORS + "\n")
    ticket = world.show("1")
    assert ticket["subject"] == "Printer on fire" and ticket["priority"] == "high"
    assert ticket["comments"][0]["body"] == body
    left_nothing_behind(world)


def test_the_template_kept_as_it_is_leaves_the_guidance_out(world):
    env = world.env(EDIT_TEXT="@FIRST@\n\nThe text.\n@REST@")
    ran = on_terminal(["create", "-e", "-s", "Subject"], env)
    assert ran.code == 0, ran.err
    assert world.show("1")["comments"][0]["body"] == "The text."


@pytest.mark.parametrize(
    ("args", "saved", "status", "said"),
    [
        (["-s", "Subject"], "@TEMPLATE@", "0", "the body is empty"),  # the subject only
        ([], "@TEMPLATE@", "0", "the text from the editor is empty"),  # the template untouched
        ([], "", "0", "the text from the editor is empty"),
        ([], "\n\nA body under no subject\n", "0", "the subject is empty"),
        (["-s", "Subject"], "@FIRST@\n\nA whole text\n", "1", "exited with status 1"),  # :cq
    ],
    ids=["no-body", "untouched", "emptied", "no-subject", "editor-fails"],
)
def test_nothing_is_created_from_an_empty_or_abandoned_edit(world, args, saved, status, said):
    ran = on_terminal(["create", "-e", *args], world.env(EDIT_TEXT=saved, EDIT_STATUS=status))
    assert world.edited() is not None  # the editor did run
    assert ran.code == 6, ran.err
    assert said in ran.err and "nothing" in ran.err
    assert ran.out == ""
    assert not world.db.exists() or world.tickets() == []
    left_nothing_behind(world)


def test_an_editor_not_found_and_an_unusable_visual(world):
    ran = on_terminal(["create", "-e", "-s", "x"], world.env(VISUAL=str(world.root / "no-such-editor")))
    assert ran.code == 6 and "cannot run the editor no-such-editor: not found" in ran.err, ran.err
    bad = on_terminal(["create", "-e", "-s", "x"], world.env(VISUAL="'unclosed"))
    assert bad.code == 6 and "$VISUAL is not a valid command line" in bad.err, bad.err
    assert world.edited() is None
    assert not world.db.exists() or world.tickets() == []
    left_nothing_behind(world)


def test_visual_before_editor_before_vi(world, tmp_path):
    failing = tmp_path / "failing-editor"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(0o755)
    saved = "Subject\n\nBody"
    # $VISUAL wins over $EDITOR
    ran = on_terminal(["create", "-e"], world.env(EDITOR=str(failing), EDIT_TEXT=saved))
    assert ran.code == 0, ran.err
    # an empty $VISUAL counts as unset: $EDITOR
    ran = on_terminal(["create", "-e"], world.env(VISUAL="", EDITOR=str(failing)))
    assert ran.code == 6 and "the editor failing-editor exited with status 3" in ran.err, ran.err
    # neither: vi, found on PATH
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "vi").symlink_to(world.editor)
    env = world.env(EDIT_TEXT=saved, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    del env["VISUAL"]
    ran = on_terminal(["create", "-e"], env)
    assert ran.code == 0, ran.err
    assert [t["subject"] for t in world.tickets()] == ["Subject", "Subject"]
    # neither, on a dumb terminal: vi is not run
    env["TERM"] = "dumb"
    world.record.unlink()
    ran = on_terminal(["create", "-e"], env)
    assert ran.code == 6 and "TERM=dumb" in ran.err, ran.err
    assert world.edited() is None


def test_ctrl_c_in_the_editor_is_the_editor_s(world):
    """Ctrl-C on the terminal reaches the whole foreground group: an editor that handles it (vi)
    goes on, and so does tixcli; an editor it kills sends nothing."""
    env = world.env(EDIT_TEXT="Subject\n\n@TYPED@", EDIT_IGNORE_INT="1")
    ran = on_terminal(["create", "-e"], env, on_screen=b"[editor on stdout]", typed=b"\x03still here\n")
    assert ran.code == 0, ran.err
    assert world.show("1")["comments"][0]["body"] == "still here"
    env = world.env(EDIT_TEXT="Subject\n\n@TYPED@")
    killed = on_terminal(["create", "-e"], env, on_screen=b"[editor on stdout]", typed=b"\x03")
    assert killed.code == 6 and "the editor ed.py was killed by signal 2: nothing sent" in killed.err, killed.err
    assert len(world.tickets()) == 1
    left_nothing_behind(world)


def test_no_terminal_at_all(world):
    """No controlling terminal (a cron job, a CI step): exit 6 before any editor runs."""
    ran = no_terminal(["create", "-e", "-s", "Subject"], world.env(EDIT_TEXT="Subject\n\nBody"))
    assert ran.code == 6
    assert "needs a terminal: cannot open /dev/tty" in ran.err and "--body" in ran.err
    assert ran.out == ""
    assert world.edited() is None
    assert not world.db.exists() or world.tickets() == []
    reply = no_terminal(["reply", world.make(), "-e"], world.env(EDIT_TEXT="Body"))
    assert reply.code == 6 and "needs a terminal" in reply.err
    assert len(world.show("1")["comments"]) == 1


def test_a_mistake_in_another_option_is_refused_before_the_editor_opens(world):
    for args in (
        ["create", "-e", "--cc", "not-an-email"],
        ["create", "-e", "--attach", str(world.root / "missing.log")],
        ["create", "-e", "--priority", "whenever"],
        ["reply", "1", "-e", "--status", "solved"],
        ["reply", "77", "-e"],  # no such ticket: exit 4
    ):
        ran = on_terminal(args, world.env(EDIT_TEXT="Subject\n\nBody"))
        assert ran.code in (4, 6), (args, ran.err)
        assert world.edited() is None, args


@pytest.mark.parametrize("given", [["--body", "b"], ["--body-file", "-"]])
@pytest.mark.parametrize("command", [["create", "-s", "s"], ["reply", "1"]])
def test_e_with_a_body_option_is_refused(world, command, given):
    ran = on_terminal([*command, "-e", *given], world.env())
    assert ran.code == 6 and "both give the text" in ran.err, ran.err
    assert world.edited() is None


def test_without_e_a_missing_body_is_refused_with_a_hint_naming_e(world):
    """`create -s x` on a terminal: no prompt, exit 6, and the hint says how to get an editor."""
    for args in (["create", "-s", "x"], ["reply", "1"]):
        ran = on_terminal(args, world.env())
        assert ran.code == 6, ran.err
        lines = ran.err.splitlines()
        assert lines[0] == "error: a body is required: --body TEXT or --body-file PATH"
        assert lines[1].startswith("hint: ") and "-e (--editor)" in lines[1]
        assert world.edited() is None
    missing = on_terminal(["create", "--body", "b"], world.env())
    assert missing.code == 2 and "'--subject'" in missing.err, missing.err  # a usage error, as before


# -- reply -e -------------------------------------------------------------------------------------


def test_reply_in_the_editor_with_the_ticket_and_its_last_comment_below_the_scissors(world):
    ticket_id = world.make("Printer on fire", "It smokes.\n\x1b[31mred\x1b[0m and more")
    env = world.env(EDIT_TEXT=f"# Fixed\n\nNew toner.\n@TEMPLATE@\n{SCISSORS}\n")
    ran = on_terminal(["reply", ticket_id, "-e", "--status", "pending"], env)
    assert ran.code == 0, ran.err
    assert ran.out == ""
    template = world.edited()["template"]
    above, _, below = template.partition(SCISSORS)
    assert above.strip() == ""
    assert f"Reply to #{ticket_id} (new): Printer on fire" in below
    assert "# > It smokes.\n# > red and more\n" in below  # quoted, escape sequences removed
    ticket = world.show(ticket_id)
    assert ticket["status"] == "pending"
    assert [c["body"] for c in ticket["comments"]][1] == "# Fixed\n\nNew toner."
    left_nothing_behind(world)


def test_reply_with_a_dedupe_key_and_an_empty_edit(world):
    made = run("create", "-s", "Deploy broke", "-b", "log", "--dedupe-key", "k1", env={"TIXCLI_DB": str(world.db)})
    assert made.code == 0, made.err
    # stdin is the file to attach; the editor still gets the terminal
    args = ["reply", "--dedupe-key", "k1", "-e", "--attach-stdin", "report.txt"]
    ran = on_terminal(args, world.env(EDIT_TEXT="Retried."), stdin=b"the report")
    assert ran.code == 0, ran.err
    record = world.edited()
    assert "Reply to #1 " in record["template"] and record["terminals"] == [True, True, True]
    empty = on_terminal(["reply", "1", "-e"], world.env(EDIT_TEXT="@TEMPLATE@"))
    assert empty.code == 6 and "empty" in empty.err
    comments = world.show("1")["comments"]
    assert [c["body"] for c in comments] == ["log", "Retried."]
    assert [a["filename"] for a in comments[1]["attachments"]] == ["report.txt"]
    left_nothing_behind(world)


# -- --body-file - on a terminal -------------------------------------------------------------------

NOTICE = "reading the body from standard input until Ctrl-D"


@pytest.mark.parametrize("command", [["create", "-s", "Typed"], ["reply", "1"]])
def test_body_file_dash_on_a_terminal_says_it_reads_until_ctrl_d(world, command):
    world.make()
    # the notice is on stderr before anything is typed; then a line and Ctrl-D end the body
    typed = b"first line\nsecond line\n\x04"
    ran = on_terminal([*command, "--body-file", "-"], world.env(), typed=typed, wait_for=b"Ctrl-D")
    assert ran.code == 0, ran.err
    assert ran.err == NOTICE + "\n"
    bodies = [c["body"] for t in world.tickets() for c in world.show(t["id"])["comments"]]
    assert "first line\nsecond line\n" in bodies


@pytest.mark.parametrize("command", [["create", "-s", "Piped"], ["reply", "1"]])
def test_body_file_dash_from_a_pipe_says_nothing(world, command):
    """What a script sees does not change: stdin a pipe, not a word on stderr."""
    world.make()
    proc = subprocess.run(
        [str(TIXCLI), *command, "--body-file", "-"],
        input=b"piped text",
        capture_output=True,
        env=world.env(),
        timeout=HANG_GUARD,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    assert proc.stdout == (b"2\n" if command[0] == "create" else b"")
    bodies = [c["body"] for t in world.tickets() for c in world.show(t["id"])["comments"]]
    assert "piped text" in bodies


# -- the one more read of reply -e, on the remote backends ------------------------------------------


@pytest.mark.parametrize("backend", ["zendesk", "jsm"])
def test_reply_e_costs_one_more_read_of_the_ticket(world, request, backend):
    """`reply -e` reads the ticket for its template: the requests of `show` (Zendesk 2, JSM 3) on
    top of `reply`'s, before the editor opens."""
    if backend not in BACKENDS:
        pytest.skip(f"{backend} is not under test (TIXCLI_TEST_BACKENDS)")
    harness = request.getfixturevalue(f"{backend}_harness")
    config = ["--config", str(harness.config_path)]
    made = run(*config, "create", "-s", "Printer on fire", "--body", "It smokes.", env=harness.env)
    assert made.code == 0, made.err
    ticket_id = made.out.strip()

    def requests(call) -> int:
        before = harness.request_count()
        call()
        return harness.request_count() - before

    def cli(*args: str) -> None:
        assert run(*config, *args, env=harness.env).code == 0

    show = requests(lambda: cli("show", ticket_id))
    assert show == {"zendesk": 2, "jsm": 3}[backend]  # README's table
    plain = requests(lambda: cli("reply", ticket_id, "--body", "first"))
    env = {**world.env(EDIT_TEXT="second"), **harness.env}

    def edited() -> None:
        ran = on_terminal([*config, "reply", ticket_id, "-e"], env)
        assert ran.code == 0, ran.err

    with_editor = requests(edited)
    assert with_editor == plain + show
    assert "Printer on fire" in world.edited()["template"]
