"""The local store is private: folders tixcli creates are 0700 and store files 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli import run

from tixcli.backends.sqlite import SQLiteBackend
from tixcli.config import Profile
from tixcli.model import NewTicket


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_store_and_the_folders_made_for_it_are_private(tmp_path, usual_umask):
    store = tmp_path / "data" / "tixcli" / "tickets.db"
    backend = SQLiteBackend(Profile("t", "sqlite", {"path": str(store)}))
    backend.create(NewTicket(subject="s", body="b", author="me@example.com", requester="me@example.com"))
    try:
        # While a connection is open the WAL files exist: SQLite gives them the database's mode.
        wal, shm = Path(f"{store}-wal"), Path(f"{store}-shm")
        assert wal.exists() and shm.exists()
        assert (mode(store), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
        assert mode(store.parent) == 0o700 and mode(store.parent.parent) == 0o700
    finally:
        backend.shutdown()


def test_a_folder_that_existed_keeps_its_mode(tmp_path, usual_umask):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    store = folder / "tickets.db"
    assert run("create", "-s", "x", "-b", "y", env={"TIXCLI_DB": str(store)}).code == 0
    assert mode(folder) == 0o755
    assert mode(store) == 0o600


def test_a_store_others_can_read_is_warned_about_once_and_left_as_it_is(tmp_path, usual_umask):
    store = tmp_path / "tickets.db"
    env = {"TIXCLI_DB": str(store)}
    assert run("create", "-s", "x", "-b", "y", env=env).code == 0
    assert run("list", env=env).err == ""  # our own store: no warning
    store.chmod(0o644)
    result = run("list", env=env)
    assert result.code == 0
    assert result.err.count("warning:") == 1
    assert "can be read by other local users" in result.err and "chmod 600" in result.err
    assert mode(store) == 0o644  # never changes the mode of a file it did not create


def test_a_read_only_profile_never_creates_a_store(tmp_path):
    config = tmp_path / "config.yaml"
    store = tmp_path / "none" / "tickets.db"
    config.write_text(f"profiles:\n  default:\n    backend: sqlite\n    path: {store}\n    read_only: true\n")
    result = run("--config", str(config), "list")
    assert result.code == 9
    assert not store.exists()


def test_concurrent_first_use_creates_the_folder_once_without_errors(tmp_path, usual_umask):
    """Several processes creating the same missing folders and file at once: all succeed."""
    store = tmp_path / "a" / "b" / "tickets.db"
    tixcli = Path(sys.executable).with_name("tixcli")
    env = {**os.environ, "TIXCLI_DB": str(store)}
    procs = [
        subprocess.Popen([str(tixcli), "create", "-s", f"t{i}", "-b", "b"], env=env, stderr=subprocess.PIPE)
        for i in range(6)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    assert mode(store) == 0o600 and mode(store.parent) == 0o700
