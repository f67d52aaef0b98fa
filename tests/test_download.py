"""`tixcli download` through the real CLI on a real SQLite store (and once on each stand-in).

Hostile names and broken bytes are set up the way a customer or a broken server would leave
them: names through the backend's own API (SQLite stores the name it is given, as Zendesk and
JSM do), corrupt blobs by writing the store file directly with sqlite3.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from cli import TIXCLI, run, run_process

from tixcli.backends.sqlite import SQLiteBackend
from tixcli.config import load_config
from tixcli.model import FileUpload, Reply
from tixcli.registry import open_backend, register, unregister

BINARY = bytes(range(256)) * 1200 + b"\x00tail"  # 307 KB: many chunks, every byte value


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "tickets.db"
    monkeypatch.setenv("TIXCLI_DB", str(path))
    return path


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def make() -> str:
    result = run("create", "--subject", "Nightly build failed", "--body", "see log")
    assert result.code == 0, result.err
    return result.out.strip()


def attach_files(ticket_id: str, tmp_path: Path, files: dict[str, bytes]) -> list[str]:
    """Attach {name: bytes} through `tixcli attach`; returns the new attachments' ids in order."""
    src = tmp_path / f"src-{len(list(tmp_path.glob('src-*')))}"
    src.mkdir()
    paths = []
    for name, data in files.items():
        (src / name).write_bytes(data)
        paths.append(str(src / name))
    result = run("attach", ticket_id, *paths)
    assert result.code == 0, result.err
    return [a["id"] for a in attachments(ticket_id)][-len(files) :]


def attach_named(ticket_id: str, tmp_path: Path, named: list[tuple[str, bytes]]) -> list[str]:
    """Attachments with names no local file could have, through the backend's own API."""
    backend = open_backend(load_config(None).profile())
    uploads = [
        FileUpload(tmp_path / "unused", name, len(data), "application/octet-stream", data=data) for name, data in named
    ]
    backend.reply(ticket_id, Reply(body="files", author="me@example.com", attachments=uploads))
    return [a["id"] for a in attachments(ticket_id)][-len(named) :]


def attachments(ticket_id: str) -> list[dict]:
    shown = run("show", ticket_id, "--format", "json")
    assert shown.code == 0, shown.err
    return [a for c in json.loads(shown.out)["comments"] for a in c["attachments"]]


def corrupt(store: Path, attachment_id: str, **columns) -> None:
    """Change an attachment's row in the store file itself (what a damaged store or a lying server gives)."""
    with sqlite3.connect(store) as db:
        sets = ", ".join(f"{k} = ?" for k in columns)
        db.execute(f"UPDATE attachments SET {sets} WHERE id = ?", (*columns.values(), int(attachment_id)))
    db.close()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def download_bytes(*args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    """tixcli download as a subprocess with stdout kept as bytes."""
    return subprocess.run([str(TIXCLI), "download", *args], stdout=stdout, stderr=subprocess.PIPE, timeout=60)


# -- what is written, and where ----------------------------------------------------------------


def test_every_attachment_lands_in_dir_with_its_bytes_0600_and_its_path_on_stdout(store, tmp_path, out):
    ticket_id = make()
    attach_files(ticket_id, tmp_path, {"build.log": b"boom\n", "core.bin": BINARY})
    old = os.umask(0)  # the mode must not depend on the umask
    try:
        result = run("download", ticket_id, "--dir", str(out))
    finally:
        os.umask(old)
    assert result.code == 0, result.err
    assert result.lines == [str(out / "build.log"), str(out / "core.bin")]
    assert (out / "build.log").read_bytes() == b"boom\n"
    assert (out / "core.bin").read_bytes() == BINARY
    for name in ("build.log", "core.bin"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    assert listing(out) == ["build.log", "core.bin"]  # no temporary file left


def test_without_dir_files_go_to_the_current_folder_and_ids_pick_some(store, tmp_path, out, monkeypatch):
    ticket_id = make()
    first, second, third = attach_files(ticket_id, tmp_path, {"a.txt": b"A", "b.txt": b"B", "c.txt": b"C"})
    monkeypatch.chdir(out)
    result = run("download", ticket_id, third, first)
    assert result.code == 0, result.err
    assert result.lines == ["c.txt", "a.txt"]  # in the order asked
    assert listing(out) == ["a.txt", "c.txt"]
    assert (out / "c.txt").read_bytes() == b"C"


def test_output_writes_the_one_attachment_to_that_file(store, tmp_path, out):
    ticket_id = make()
    (aid,) = attach_files(ticket_id, tmp_path, {"core.bin": BINARY})
    target = out / "renamed.dat"
    result = run("download", ticket_id, aid, "--output", str(target))
    assert result.code == 0, result.err
    assert result.lines == [str(target)]
    assert target.read_bytes() == BINARY
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert listing(out) == ["renamed.dat"]


@pytest.mark.parametrize("ids", [[], ["ONE", "TWO"]], ids=["no id", "two ids"])
def test_output_takes_exactly_one_attachment_id(store, tmp_path, out, ids):
    ticket_id = make()
    one, two = attach_files(ticket_id, tmp_path, {"a.txt": b"A", "b.txt": b"B"})
    given = [{"ONE": one, "TWO": two}[i] for i in ids]
    result = run("download", ticket_id, *given, "-o", str(out / "x"))
    assert result.code == 6, result.err
    assert "exactly one" in result.err
    assert listing(out) == []


def test_an_attachment_not_on_the_ticket_is_not_found_and_nothing_is_written(store, tmp_path, out):
    ticket_id, other = make(), make()
    (mine,) = attach_files(ticket_id, tmp_path, {"a.txt": b"A"})
    (theirs,) = attach_files(other, tmp_path, {"secret.txt": b"S"})
    for ids in ([theirs], ["999999"], [mine, "999999"]):
        result = run("download", ticket_id, *ids, "--dir", str(out))
        assert result.code == 4, (ids, result.err)
        assert "no attachment" in result.err
    assert listing(out) == []
    assert run("download", "999999", "--dir", str(out)).code == 4  # no such ticket


def test_a_ticket_without_attachments_writes_nothing_and_says_so(store, out):
    ticket_id = make()
    result = run("download", ticket_id, "--dir", str(out))
    assert (result.code, result.out) == (0, "")
    assert "no attachments" in result.err
    assert listing(out) == []


def test_a_missing_folder_is_refused_before_anything_is_read(store, tmp_path):
    ticket_id = make()
    attach_files(ticket_id, tmp_path, {"a.txt": b"A"})
    result = run("download", ticket_id, "--dir", str(tmp_path / "nope"))
    assert result.code == 6 and "no such folder" in result.err
    assert not (tmp_path / "nope").exists()


# -- names from customers ------------------------------------------------------------------------

HOSTILE = [
    ("../../etc/passwd", "passwd"),
    ("/abs/name", "name"),
    ("..\\..\\boot.ini", "boot.ini"),
    (".bashrc", "bashrc"),
    ("a\x1b[2Jb", "ab"),
    ("in\x07voice\r\n.pdf", "invoice.pdf"),
    ("invoice\u202etxt.exe", "invoicetxt.exe"),
    ("", "attachment-{id}"),
    ("..", "attachment-{id}"),
    (".", "attachment-{id}"),
    ("dir/", "attachment-{id}"),
    ("x" * 300 + ".log", "x" * 196 + ".log"),
]


@pytest.mark.parametrize("name, expected", HOSTILE, ids=[ascii(n)[:30] for n, _ in HOSTILE])
def test_hostile_names_become_a_safe_base_name_in_the_folder(store, tmp_path, monkeypatch, name, expected):
    ticket_id = make()
    (aid,) = attach_named(ticket_id, tmp_path, [(name, b"payload")])
    work = tmp_path / "deep" / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    before = {p for p in tmp_path.rglob("*")}
    result = run("download", ticket_id)
    assert result.code == 0, result.err
    wanted = expected.format(id=aid)
    assert result.lines == [wanted]
    assert listing(work) == [wanted]
    assert (work / wanted).read_bytes() == b"payload"
    assert {p for p in tmp_path.rglob("*")} - before == {work / wanted}  # nothing anywhere else


def test_show_lists_each_attachment_with_its_id_name_and_size_cleaned(store, tmp_path):
    ticket_id = make()
    aid, bid = attach_named(ticket_id, tmp_path, [("a\x1b[2Jb.log", b"x" * 14), ("build.log", b"y" * 2048)])
    shown = run("show", ticket_id)
    assert shown.code == 0, shown.err
    assert f"  attachment: ab.log (14 bytes) [id {aid}]" in shown.lines
    assert f"  attachment: build.log (2,048 bytes) [id {bid}]" in shown.lines
    assert "\x1b" not in shown.out


def test_names_used_twice_in_one_run_get_a_numbered_suffix(store, tmp_path, out):
    ticket_id = make()
    attach_named(ticket_id, tmp_path, [("a.log", b"1"), ("a.log", b"2"), ("sub/a.log", b"3"), ("A.LOG", b"4")])
    result = run("download", ticket_id, "--dir", str(out))
    assert result.code == 0, result.err
    names = ["a.log", "a-1.log", "a-2.log", "A-3.LOG"]
    assert result.lines == [str(out / n) for n in names]
    assert [(out / n).read_bytes() for n in names] == [b"1", b"2", b"3", b"4"]


def test_an_existing_file_is_refused_unless_force(store, tmp_path, out):
    ticket_id = make()
    attach_files(ticket_id, tmp_path, {"a.txt": b"new A", "b.txt": b"new B"})
    (out / "b.txt").write_bytes(b"mine")
    refused = run("download", ticket_id, "--dir", str(out))
    assert refused.code == 6 and "exists" in refused.err and refused.out == ""
    assert listing(out) == ["b.txt"]  # refused before anything was written
    assert (out / "b.txt").read_bytes() == b"mine"
    forced = run("download", ticket_id, "--dir", str(out), "--force")
    assert forced.code == 0, forced.err
    assert (out / "a.txt").read_bytes() == b"new A" and (out / "b.txt").read_bytes() == b"new B"
    assert stat.S_IMODE((out / "b.txt").stat().st_mode) == 0o600


def test_a_symlink_in_the_way_is_refused_and_with_force_replaced_not_followed(store, tmp_path, out):
    ticket_id = make()
    (aid,) = attach_files(ticket_id, tmp_path, {"a.txt": b"from the ticket"})
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    (out / "a.txt").symlink_to(victim)
    assert run("download", ticket_id, "--dir", str(out)).code == 6
    assert run("download", ticket_id, aid, "-o", str(out / "a.txt")).code == 6
    assert run("download", ticket_id, "--dir", str(out), "--force").code == 0
    assert victim.read_bytes() == b"keep me"
    assert not (out / "a.txt").is_symlink() and (out / "a.txt").read_bytes() == b"from the ticket"


# -- stdout ----------------------------------------------------------------------------------------


def test_output_dash_streams_the_bytes_to_a_pipe(store, tmp_path):
    ticket_id = make()
    (aid,) = attach_files(ticket_id, tmp_path, {"core.bin": BINARY})
    done = download_bytes(ticket_id, aid, "-o", "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout == BINARY


def test_output_dash_is_refused_when_stdout_is_a_terminal(store, tmp_path):
    ticket_id = make()
    (aid,) = attach_files(ticket_id, tmp_path, {"secret.bin": b"\x1b]0;pwned\x07 payload"})
    master, slave = pty.openpty()
    try:
        done = download_bytes(ticket_id, aid, "-o", "-", stdout=slave)
        os.close(slave)
        slave = -1
        shown = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert done.returncode == 6, done.stderr
    assert b"terminal" in done.stderr
    assert b"payload" not in shown


# -- bytes that are not what was announced ---------------------------------------------------------


def test_a_sha256_mismatch_exits_8_and_leaves_no_file(store, tmp_path, out):
    ticket_id = make()
    (aid,) = attach_files(ticket_id, tmp_path, {"build.log": b"the real log"})
    corrupt(store, aid, data=b"the fake log")  # same size: only the sha256 can tell
    for args in (["--dir", str(out)], [aid, "-o", str(out / "x.log")]):
        result = run("download", ticket_id, *args)
        assert result.code == 8, result.err
        assert "sha256" in result.err and result.out == ""
        assert listing(out) == []
    piped = download_bytes(ticket_id, aid, "-o", "-")
    assert piped.returncode == 8 and b"sha256" in piped.stderr


def test_without_a_sha256_the_size_is_checked(store, tmp_path, out):
    ticket_id = make()
    (aid,) = attach_files(ticket_id, tmp_path, {"build.log": b"the real log"})
    corrupt(store, aid, sha256="", data=b"short")
    result = run("download", ticket_id, "--dir", str(out))
    assert result.code == 8 and "announced" in result.err
    assert listing(out) == []


def test_when_one_of_several_fails_the_others_stay_and_it_is_named(store, tmp_path, out):
    ticket_id = make()
    ids = attach_files(ticket_id, tmp_path, {"a.txt": b"A", "b.txt": b"B", "c.txt": b"C"})
    corrupt(store, ids[1], data=b"X")
    result = run("download", ticket_id, "--dir", str(out))
    assert result.code == 8, result.err
    assert result.lines == [str(out / "a.txt"), str(out / "c.txt")]
    assert listing(out) == ["a.txt", "c.txt"]
    assert (out / "a.txt").read_bytes() == b"A" and (out / "c.txt").read_bytes() == b"C"
    assert f"attachment {ids[1]} (b.txt)" in result.err and "1 of 3" in result.err


class EndlessBackend(SQLiteBackend):
    """The SQLite store behind a hostile server: every attachment's bytes never end."""

    name = "endless"
    sent = 0

    def attachment_bytes(self, ticket_id, attachment):
        for _ in range(4096):  # 256 MB at most, so a broken bound fails the test instead of hanging
            EndlessBackend.sent += 65536
            yield b"z" * 65536


@pytest.fixture
def endless(tmp_path, store):
    register("endless", EndlessBackend)
    EndlessBackend.sent = 0
    config = tmp_path / "endless.yaml"
    config.write_text(f"default_profile: e\nprofiles:\n  e:\n    backend: endless\n    path: {store}\n")
    yield config
    unregister("endless")


def test_reading_stops_just_past_the_announced_size(store, tmp_path, out, endless):
    ticket_id = make()
    (aid,) = attach_files(ticket_id, tmp_path, {"small.log": b"14 bytes here."})
    result = run("--config", str(endless), "download", ticket_id, "--dir", str(out))
    assert result.code == 8, result.err
    assert "larger than its size" in result.err
    assert EndlessBackend.sent <= 65536  # the first chunk already passed 14 bytes: nothing more read
    assert listing(out) == []


def test_a_backend_without_download_is_refused_with_exit_6(store, tmp_path, out):
    class NoDownload(SQLiteBackend):
        name = "nodownload"
        capabilities = SQLiteBackend.capabilities - {"download"}

    ticket_id = make()
    attach_files(ticket_id, tmp_path, {"a.txt": b"A"})
    config = tmp_path / "nodl.yaml"
    config.write_text(f"default_profile: n\nprofiles:\n  n:\n    backend: nodownload\n    path: {store}\n")
    register("nodownload", NoDownload)
    try:
        result = run("--config", str(config), "download", ticket_id, "--dir", str(out))
    finally:
        unregister("nodownload")
    assert result.code == 6 and "download" in result.err
    assert listing(out) == []


def test_download_as_a_subprocess_end_to_end(store, tmp_path, out):
    ticket_id = make()
    attach_files(ticket_id, tmp_path, {"build.log": b"boom\n"})
    result = run_process("download", ticket_id, "--dir", str(out))
    assert result.code == 0, result.err
    assert result.lines == [str(out / "build.log")]
    assert hashlib.sha256((out / "build.log").read_bytes()).hexdigest() == attachments(ticket_id)[0]["sha256"]


# -- the remote backends (stand-ins on loopback) ---------------------------------------------------


def remote(harness, *args):
    return run("--config", str(harness.config_path), *args, env=harness.env)


@pytest.mark.parametrize("backend", ["zendesk", "jsm"])
def test_download_returns_the_bytes_attached_on_the_remote_backends(request, backend, tmp_path, out):
    harness = request.getfixturevalue(f"{backend}_harness")
    src = tmp_path / "core.bin"
    src.write_bytes(BINARY)
    created = remote(harness, "create", "--subject", "with a file", "--body", "see attached", "--attach", str(src))
    assert created.code == 0, created.err
    ticket_id = created.out.strip()
    result = remote(harness, "download", ticket_id, "--dir", str(out))
    assert result.code == 0, result.err
    assert result.lines == [str(out / "core.bin")]
    assert (out / "core.bin").read_bytes() == BINARY
    assert stat.S_IMODE((out / "core.bin").stat().st_mode) == 0o600
