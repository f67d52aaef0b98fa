"""Shell completion, run as the shells run it: the console script in a real subprocess with
click 8's protocol (`_TIXCLI_COMPLETE=bash_complete` / `zsh_complete`, COMP_WORDS, COMP_CWORD),
the script `--show-completion` prints sourced by a real bash, and Tab pressed in an interactive
bash on a pseudo-terminal.

What a Tab may do: offer fixed values, profile names and the local store's ticket ids (read-only:
the store is never created, migrated, auto-closed or otherwise touched; a remote profile makes no
network call); what it may never do: print on stderr or show a traceback.
"""

from __future__ import annotations

import hashlib
import os
import pty
import re
import select
import shutil
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from cli import TIXCLI, run

from tixcli.completion import MOST_IDS

BASH = shutil.which("bash")
ZSH = shutil.which("zsh")
# what the shell scripts need: tixcli on PATH
PATH = f"{TIXCLI.parent}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    return path


@dataclass
class Item:
    type: str
    value: str
    help: str | None = None


def complete(line: str, shell: str = "bash", env: dict[str, str] | None = None) -> list[Item]:
    """What `shell` gets for a Tab at the end of `line` (words split on spaces; a trailing
    space: a new, empty word), from a real tixcli process."""
    words = line.split(" ")
    proc = subprocess.run(
        [str(TIXCLI)],
        capture_output=True,
        timeout=60,
        env={
            **os.environ,
            **(env or {}),
            "_TIXCLI_COMPLETE": f"{shell}_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b"", proc.stderr  # never a word on the prompt
    out = proc.stdout.decode("utf-8")
    if shell == "bash":  # "type,value" lines
        return [Item(*row.split(",", 1)) for row in out.splitlines()]
    lines = out.splitlines()  # zsh: type, value, help ("_": none) triples
    assert len(lines) % 3 == 0, out
    return [
        Item(lines[i], lines[i + 1].replace("\\:", ":"), None if lines[i + 2] == "_" else lines[i + 2])
        for i in range(0, len(lines), 3)
    ]


def values(line: str, **kwargs) -> list[str]:
    items = complete(line, **kwargs)
    assert all(item.type == "plain" for item in items), items
    return [item.value for item in items]


def make(subject: str = "Nightly build failed") -> str:
    result = run("create", "--subject", subject, "--body", "see log")
    assert result.code == 0, result.err
    return result.out.strip()


def sql(path: Path, statement: str, *params) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        with db:
            return db.execute(statement, params).fetchall()
    finally:
        db.close()


def folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


# -- fixed values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tixcli edit 1 --priority ", ["low", "normal", "high", "urgent"]),
        ("tixcli edit 1 --priority h", ["high"]),
        ("tixcli edit 1 --priority H", ["high"]),
        ("tixcli edit 1 --type ", ["question", "incident", "problem", "task"]),
        ("tixcli edit 1 -t in", ["incident"]),
        ("tixcli edit 1 --format ", ["json", "jsonl", "yaml"]),
        ("tixcli solve 1 -f json", ["json", "jsonl"]),
        ("tixcli show 1 --format ", ["table", "json", "jsonl", "csv", "yaml"]),
        ("tixcli cc 1 --format y", ["yaml"]),
        ("tixcli export --format ", ["jsonl", "csv"]),
        ("tixcli backends --format ", ["table", "json"]),
        ("tixcli schema ", ["ticket", "write-result", "tombstone", "history-event"]),
        ("tixcli schema t", ["ticket", "tombstone"]),
        ("tixcli edit 1 --priority x", []),
    ],
)
def test_fixed_values_complete(line, expected):
    assert values(line) == expected


# The options of list, show, create and reply are wired in their own modules (other hands):
# each should take the type tixcli.completion names here. Remove a mark once it is wired.


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("tixcli list --sort ", ["updated", "created", "priority"]),
        pytest.param(
            "tixcli list --status ",
            ["active", "any", "new", "open", "pending", "hold", "solved", "closed"],
        ),
        pytest.param("tixcli list --status open,p", ["open,pending"]),
        pytest.param("tixcli list --priority u", ["urgent"]),
        pytest.param("tixcli list --type ", ["question", "incident", "problem", "task"]),
        pytest.param("tixcli list --color ", ["auto", "always", "never"]),
        pytest.param("tixcli show 1 --color a", ["auto", "always"]),
        pytest.param("tixcli list --columns id,st", ["id,status"]),
        pytest.param("tixcli create --type t", ["task"]),
        pytest.param("tixcli create --priority ", ["low", "normal", "high", "urgent"]),
        pytest.param("tixcli reply 1 --status ", ["open", "pending", "hold"]),
        ("tixcli list --format j", ["json", "jsonl"]),  # the shared --format of app.py
    ],
)
def test_fixed_values_of_list_show_create_and_reply(line, expected):
    assert values(line) == expected


def test_zsh_gets_the_values_with_their_descriptions():
    items = complete("tixcli show 1 --format ", shell="zsh")
    assert [i.value for i in items] == ["table", "json", "jsonl", "csv", "yaml"]
    assert all(i.type == "plain" and i.help for i in items)
    assert {i.value: i.help for i in complete("tixcli edit 1 --priority u", shell="zsh")} == {"urgent": "P1"}


def test_fish_gets_the_values_too():
    proc = subprocess.run(
        [str(TIXCLI)],
        capture_output=True,
        timeout=60,
        env={
            **os.environ,
            "_TIXCLI_COMPLETE": "fish_complete",
            "COMP_WORDS": "tixcli edit 1 --priority h",
            "COMP_CWORD": "h",
        },
    )
    assert proc.returncode == 0 and proc.stderr == b""
    # in the form the installed click's fish script reads (click 8.5: "plain,high\tP2"; 8.4:
    # type, value and help on lines of their own)
    from click.shell_completion import CompletionItem, FishComplete

    fish = FishComplete(click.Command("tixcli"), {}, "tixcli", "_TIXCLI_COMPLETE")
    assert proc.stdout.decode() == fish.format_completion(CompletionItem("high", help="P2")) + "\n"


def test_commands_and_options_still_complete():
    assert values("tixcli sh") == ["show"]
    assert "--priority" in values("tixcli edit 1 --pr")
    assert values("tixcli --prof") == ["--profile"]


def test_paths_are_left_to_the_shell():
    assert complete("tixcli reply 1 --body-file ") == [Item("file", "")]
    assert complete("tixcli create -s x --attach bu") == [Item("file", "bu")]
    assert complete("tixcli export -o ") == [Item("file", "")]
    assert complete("tixcli download 1 --dir ") == [Item("dir", "")]
    assert complete("tixcli --config ") == [Item("file", "")]


def test_a_tab_after_version_offers_commands_not_the_version():
    offered = values("tixcli --version ")
    assert "show" in offered and not any("tixcli" in value for value in offered)


# -- ticket ids from the local store ---------------------------------------------------------------


def test_ids_come_most_recently_updated_first_with_their_subjects(store):
    first, second, third = make("Printer on fire"), make("VPN drops"), make("Disk full")
    for ticket_id, when in ((first, "2030-01-03"), (second, "2030-01-01"), (third, "2030-01-02")):
        sql(store, "UPDATE tickets SET updated_at = ? WHERE id = ?", when + "T00:00:00+00:00", int(ticket_id))
    assert values("tixcli show ") == [first, third, second]
    zsh = complete("tixcli show ", shell="zsh")
    assert [(i.value, i.help) for i in zsh] == [(first, "Printer on fire"), (third, "Disk full"), (second, "VPN drops")]


def test_ids_complete_by_their_first_digits(store):
    for _ in range(12):
        make()
    assert sorted(values("tixcli show 1"), key=int) == ["1", "10", "11", "12"]
    assert values("tixcli show 12") == ["12"]
    assert values("tixcli show 13") == []
    assert values("tixcli show 0") == []
    assert values("tixcli show x") == []


def test_each_command_offers_the_tickets_it_can_act_on(store):
    new, solved, closed, pending = make("new one"), make("solved one"), make("closed one"), make("pending one")
    run("solve", solved)
    run("close", closed)
    assert run("reply", pending, "--body", "waiting", "--status", "pending").code == 0
    assert sorted(values("tixcli show ")) == sorted([new, solved, closed, pending])
    assert sorted(values("tixcli solve ")) == sorted([new, pending])
    assert sorted(values("tixcli reopen ")) == sorted([solved, pending])
    assert sorted(values("tixcli reply ")) == sorted([new, solved, pending])
    assert sorted(values("tixcli close ")) == sorted([new, solved, pending])
    assert sorted(values("tixcli download ")) == sorted([new, solved, closed, pending])
    # with --dedupe-key the key names the ticket: attach's first value is a file, download's an attachment
    assert complete("tixcli attach --dedupe-key k ") == [Item("file", "")]
    assert complete("tixcli download --dedupe-key k ") == []


def test_at_most_a_few_hundred_ids_the_latest(store):
    make()
    rows = [
        (f"ticket {n}", "open", "2030-01-01T00:00:00+00:00", f"2030-01-01T00:{n // 60:02d}:{n % 60:02d}+00:00")
        for n in range(MOST_IDS + 50)
    ]
    db = sqlite3.connect(store)
    with db:
        db.executemany("INSERT INTO tickets (subject, status, created_at, updated_at) VALUES (?,?,?,?)", rows)
    db.close()
    offered = values("tixcli show ")
    assert len(offered) == MOST_IDS
    newest = [
        str(i) for (i,) in sql(store, "SELECT id FROM tickets ORDER BY updated_at DESC, id DESC LIMIT ?", MOST_IDS)
    ]
    assert offered == newest


def test_subjects_are_cleaned_for_the_shell(store):
    ticket_id = make()
    nasty = "Build \x1b[31mred\x1b[0m\nsecond line\x1b]0;pwned\x07\ttab " + "x" * 200
    sql(store, "UPDATE tickets SET subject = ? WHERE id = ?", nasty, int(ticket_id))
    (item,) = complete("tixcli show ", shell="zsh")
    assert item.value == ticket_id
    assert item.help is not None and item.help.startswith("Build red second line")
    assert "\x1b" not in item.help and "\x07" not in item.help and "\t" not in item.help and "pwned" not in item.help
    assert len(item.help) <= 60 and item.help.endswith("…")


def test_no_store_no_ids_and_nothing_created(tmp_path):
    missing = tmp_path / "not" / "there" / "tickets.db"
    assert values("tixcli show ", env={"TIXCLI_DB": str(missing)}) == []
    assert not missing.parent.parent.exists()
    # the default store, under XDG_DATA_HOME, is not created either
    data = Path(os.environ["XDG_DATA_HOME"])
    assert values("tixcli show ") == []
    assert not (data / "tixcli").exists()


def test_completing_changes_nothing_in_the_store(store):
    """No auto-close, no migration, no -wal or -shm left behind: the folder is byte for byte
    what it was (a ticket solved 30 days ago stays solved until a real command runs)."""
    ticket_id = make()
    run("solve", ticket_id)
    sql(store, "UPDATE tickets SET solved_at = '2000-01-01T00:00:00+00:00' WHERE id = ?", int(ticket_id))
    (version,) = sql(store, "PRAGMA user_version")[0]
    sql(store, f"PRAGMA user_version = {version - 1}")  # a store an older tixcli wrote: completion does not migrate
    before = folder_state(store.parent)
    assert values("tixcli reopen ") == [ticket_id]
    assert values("tixcli show 1") == [ticket_id]
    assert folder_state(store.parent) == before
    assert sql(store, "SELECT status FROM tickets WHERE id = ?", int(ticket_id)) == [("solved",)]


def test_a_busy_store_completes_nothing_and_quietly(store):
    make()
    holder = sqlite3.connect(store, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE tickets SET subject = 'changing'")
        assert values("tixcli show ") == []  # (complete() checks stderr is empty)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert values("tixcli show ") == ["1"]


def test_a_file_that_is_not_a_tixcli_store_completes_nothing(tmp_path):
    other = tmp_path / "other.db"
    sql(other, "CREATE TABLE tickets (id INTEGER PRIMARY KEY, subject TEXT, updated_at TEXT, status TEXT)")
    sql(other, "INSERT INTO tickets VALUES (7, 'not ours', '2030', 'open')")
    assert values("tixcli show ", env={"TIXCLI_DB": str(other)}) == []
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not sqlite at all" * 100)
    assert values("tixcli show ", env={"TIXCLI_DB": str(garbage)}) == []


def write_config(path: Path, **profiles: dict) -> Path:
    lines = ["profiles:"]
    for name, settings in profiles.items():
        lines.append(f"  {name}:")
        lines += [f"    {key}: {value}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def test_ids_follow_profile_and_config_as_the_command_would(tmp_path, monkeypatch):
    monkeypatch.delenv("TIXCLI_DB", raising=False)
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    config = write_config(
        tmp_path / "config.yaml", one={"backend": "sqlite", "path": one}, two={"backend": "sqlite", "path": two}
    )
    for name, count in (("one", 1), ("two", 3)):
        for _ in range(count):
            assert run("--config", str(config), "--profile", name, "create", "-s", "s", "--body", "b").code == 0
    assert values(f"tixcli --config {config} --profile one show ") == ["1"]
    assert sorted(values(f"tixcli --config {config} -p two show ")) == ["1", "2", "3"]
    assert sorted(values("tixcli show ", env={"TIXCLI_CONFIG": str(config), "TIXCLI_PROFILE": "two"})) == [
        "1",
        "2",
        "3",
    ]
    # TIXCLI_DB overrides a profile's path, for completion as for the command
    assert values(f"tixcli --config {config} -p two show ", env={"TIXCLI_DB": str(one)}) == ["1"]


def test_the_store_is_the_one_the_backend_opens(tmp_path, monkeypatch):
    """completion.local_store finds the store as SQLiteBackend does (it does not import it)."""
    import click

    from tixcli import completion
    from tixcli.backends.sqlite import SQLiteBackend
    from tixcli.config import load_config

    config = write_config(
        tmp_path / "c.yaml", p={"backend": "sqlite", "path": "~/stores/x.db"}, d={"backend": "sqlite"}
    )
    for env_db in (None, tmp_path / "env.db"):
        if env_db is None:
            monkeypatch.delenv("TIXCLI_DB", raising=False)
        else:
            monkeypatch.setenv("TIXCLI_DB", str(env_db))
        for name in ("p", "d"):
            expected = SQLiteBackend(load_config(config).profile(name)).path
            expected.parent.mkdir(parents=True, exist_ok=True)
            expected.touch()
            ctx = click.Context(click.Command("tixcli"))
            ctx.params = {"config": str(config), "profile": name}
            assert completion.local_store(ctx) == expected
            if env_db is not None:
                assert expected == env_db


def test_a_remote_profile_completes_no_ids_and_makes_no_call(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        config = write_config(
            tmp_path / "config.yaml",
            zd={"backend": "zendesk", "url": f"http://127.0.0.1:{port}", "email": "a@example.com", "token": "t" * 20},
        )
        env = {"TIXCLI_CONFIG": str(config), "TIXCLI_PROFILE": "zd"}
        assert values("tixcli show ", env=env) == []
        assert values("tixcli reply ", env=env) == []
        with pytest.raises(socket.timeout):
            listener.accept()  # nobody called
    finally:
        listener.close()


def test_profiles_complete_with_their_backends(tmp_path):
    config = write_config(
        tmp_path / "config.yaml",
        local={"backend": "sqlite"},
        support={"backend": "zendesk", "url": "https://x.zendesk.com", "email": "a@example.com", "token_env": "T"},
        desk={"backend": "jsm", "url": "https://x.atlassian.net", "email": "a@example.com", "token_env": "T"},
    )
    assert values(f"tixcli --config {config} --profile ") == ["local", "support", "desk"]
    assert values("tixcli -p s", env={"TIXCLI_CONFIG": str(config)}) == ["support"]
    zsh = complete(f"tixcli --config {config} --profile ", shell="zsh")
    assert {i.value: i.help for i in zsh} == {"local": "sqlite", "support": "zendesk", "desk": "jsm"}


def test_a_broken_config_completes_nothing_and_quietly(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("profiles: [unclosed\n")
    assert values("tixcli --profile ", env={"TIXCLI_CONFIG": str(bad)}) == []
    assert values("tixcli show ", env={"TIXCLI_CONFIG": str(bad)}) == []
    assert values("tixcli show ", env={"TIXCLI_CONFIG": str(tmp_path / "missing.yaml")}) == []


def test_typer_style_requests_of_older_scripts_still_answer():
    """`--install-completion` used to write Typer's script (`_TIXCLI_COMPLETE=complete_bash`)."""
    proc = subprocess.run(
        [str(TIXCLI)],
        capture_output=True,
        timeout=60,
        env={
            **os.environ,
            "_TIXCLI_COMPLETE": "complete_bash",
            "COMP_WORDS": "tixcli edit 1 --type ",
            "COMP_CWORD": "4",
        },
    )
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout.decode().split() == ["question", "incident", "problem", "task"]


# -- the scripts, in real shells ---------------------------------------------------------------------

needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def bash(script: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    assert BASH is not None
    return subprocess.run(
        [BASH, "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "PATH": PATH},
    )


@needs_bash
def test_the_bash_script_registers_and_completes(store):
    make("Printer on fire")
    script = run("--show-completion", "bash")
    assert script.code == 0 and "_TIXCLI_COMPLETE=bash_complete" in script.out
    done = bash(
        'eval "$(tixcli --show-completion bash)"\n'
        "complete -p tixcli\n"
        'COMP_WORDS=(tixcli edit 1 --priority ""); COMP_CWORD=4; _tixcli_completion tixcli\n'
        'printf "priority:%s\\n" "${COMPREPLY[@]}"\n'
        'COMPREPLY=(); COMP_WORDS=(tixcli show ""); COMP_CWORD=2; _tixcli_completion tixcli\n'
        'printf "id:%s\\n" "${COMPREPLY[@]}"\n'
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "complete -o nosort -F _tixcli_completion tixcli"
    assert [x for x in lines if x.startswith("priority:")] == [
        f"priority:{p}" for p in ("low", "normal", "high", "urgent")
    ]
    assert [x for x in lines if x.startswith("id:")] == ["id:1"]


@needs_bash
def test_install_completion_for_bash_writes_the_script_and_one_rc_line(isolated_user_dirs):
    home = isolated_user_dirs
    first = run("--install-completion", "bash")
    assert first.code == 0, first.err
    again = run("--install-completion", "bash")
    assert again.code == 0
    script = home / ".bash_completions" / "tixcli.sh"
    assert script.read_text() == run("--show-completion", "bash").out
    assert (home / ".bashrc").read_text().splitlines().count(f"source '{script}'") == 1
    done = bash(f"source {home / '.bashrc'}; complete -p tixcli")
    assert done.stdout.strip() == "complete -o nosort -F _tixcli_completion tixcli", done.stderr


@pytest.mark.skipif(ZSH is None, reason="zsh is not installed")
def test_the_zsh_script_registers():
    assert ZSH is not None
    done = subprocess.run(
        [
            ZSH,
            "-f",
            "-c",
            'autoload -Uz compinit; compinit -u; eval "$(tixcli --show-completion zsh)"; print -r -- "$_comps[tixcli]"',
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": PATH},
    )
    assert done.stdout.strip() == "_tixcli_completion", done.stderr


def test_show_completion_names_its_shells():
    for shell, marker in (("bash", "bash_complete"), ("zsh", "zsh_complete"), ("fish", "fish_complete")):
        result = run("--show-completion", shell)
        assert result.code == 0 and marker in result.out
    bad = run("--show-completion", "tcsh")
    assert bad.code == 2 and bad.err.startswith("error: ") and "bash, zsh or fish" in bad.err


class Terminal:
    """An interactive bash on a pseudo-terminal, completion loaded: type, press Tab, read."""

    PROMPT = b"READY> "

    def __init__(self, cwd: Path) -> None:
        assert BASH is not None
        master, slave = pty.openpty()
        self.fd = master
        self.proc = subprocess.Popen(
            [BASH, "--norc", "--noprofile", "-i"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            start_new_session=True,
            env={**os.environ, "PATH": PATH, "PS1": self.PROMPT.decode(), "TERM": "dumb", "INPUTRC": "/dev/null"},
        )
        os.close(slave)
        self.read_until(re.escape(self.PROMPT))
        self.send(
            'eval "$(tixcli --show-completion bash)"; bind "set show-all-if-ambiguous on"; '
            'bind "set completion-query-items 0"; bind "set page-completions off"\n'
        )
        self.read_until(re.escape(self.PROMPT))

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def read_until(self, marker: bytes, deadline: float = 30) -> bytes:
        seen, end = b"", time.monotonic() + deadline
        while not re.search(marker, seen) and time.monotonic() < end:
            if select.select([self.fd], [], [], 0.2)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
        return seen

    def tab(self, line: str) -> tuple[bytes, str]:
        """Type `line` and press Tab: what bash showed, and the line as it completed it (then put
        after an `echo`, which prints it: keystrokes only, so nothing races)."""
        self.send(line + "\t" + "\x01echo @@ \n")  # ^A: to the start of the line
        shown = self.read_until(rb"(?m)^@@ .*\r?\n" + re.escape(self.PROMPT))
        found = re.findall(rb"(?m)^@@ (.*?)\r?$", shown)
        assert found, shown
        return shown, found[-1].decode()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self.fd)


@pytest.fixture
def terminal(tmp_path):
    term = Terminal(tmp_path)
    yield term
    term.close()


@needs_bash
def test_tab_in_a_real_bash_lists_values_and_completes_ids_and_files(store, tmp_path, terminal):
    for subject in ("Printer on fire", "VPN drops", "Disk full"):
        make(subject)
    (tmp_path / "build.log").write_text("boom\n")
    shown, line = terminal.tab("tixcli edit 1 --priority ")
    assert re.search(rb"low\s+normal\s+high\s+urgent", shown) and line == "tixcli edit 1 --priority", shown
    assert terminal.tab("tixcli edit 1 --priority ur")[1] == "tixcli edit 1 --priority urgent"
    assert terminal.tab("tixcli edit 1 --type pro")[1] == "tixcli edit 1 --type problem"
    assert terminal.tab("tixcli reply 2 --body-file bu")[1] == "tixcli reply 2 --body-file build.log"
    assert terminal.tab("tixcli list --so")[1] == "tixcli list --sort"
    shown, _ = terminal.tab("tixcli show ")
    assert re.search(rb"3\s+2\s+1", shown), shown  # the most recently updated first (ties: the newest)
    for _ in range(7):
        make()
    assert run("solve", "1").code == 0
    assert terminal.tab("tixcli solve 1")[1] == "tixcli solve 10"  # 1 is solved already: 10 is the one
