"""The config file as an attack surface: who can change it, YAML aliases, and the type of every key.

All through the real CLI on real files. Tests run as root: "another user" is a chown to a
different uid (root may), and root bypasses permission checks, so only the modes and owners
tixcli reads are exercised, not the kernel's enforcement.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time

import pytest
from cli import TIXCLI, run

OTHER_UID = 4242  # a non-root uid that is not ours
DEAD_URL = "http://127.0.0.1:9"  # loopback, nothing listens: a remote command fails fast (exit 8)


def zendesk_config(folder, secret_line: str, mode: int = 0o600, extra: str = "") -> str:
    folder.mkdir(exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(
        extra + "profiles:\n  zd:\n    backend: zendesk\n"
        f"    url: {DEAD_URL}\n    email: a@example.com\n    {secret_line}\n"
        "    timeout: 1\n    max_retry_wait: 0\n    retry_budget: 0\n"
    )
    path.chmod(mode)
    return str(path)


SECRET_FORMS = [
    "token_env: ZT_TOKEN",
    "oauth_token_env: ZT_TOKEN",
    "token_keyring: tixcli-test",
    "token: inline-s3cret-value",
    "password_env: ZT_TOKEN",
]


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:") and "redirect the token" in line]


# -- 1. who can change the file ----------------------------------------------------------------


@pytest.mark.parametrize("secret_line", SECRET_FORMS, ids=lambda s: s.split(":")[0])
def test_a_config_others_can_write_is_warned_about_once_for_every_form_of_secret(tmp_path, secret_line):
    path = zendesk_config(tmp_path / "conf", secret_line, mode=0o666)
    result = run("--config", path, "list", env={"ZT_TOKEN": "zt-token-value"})
    assert len(warnings(result.err)) == 1, result.err
    assert "writable by group or others" in result.err and "chmod go-w" in result.err
    assert "inline-s3cret-value" not in result.err and "zt-token-value" not in result.err
    assert result.code not in (0, 1)  # the dead URL (8), or the keyring (3): not our concern here


@pytest.mark.parametrize("secret_line", SECRET_FORMS, ids=lambda s: s.split(":")[0])
def test_strict_permissions_refuses_a_config_others_can_write(tmp_path, secret_line):
    path = zendesk_config(tmp_path / "conf", secret_line, mode=0o620, extra="strict_permissions: true\n")
    result = run("--config", path, "list", env={"ZT_TOKEN": "zt-token-value"})
    assert result.code == 3 and "redirect the token" in result.err, result.err
    assert result.err.startswith("error: ") and len(result.err.strip().splitlines()) == 2


def test_a_folder_others_can_write_is_warned_about_but_a_sticky_one_is_not(tmp_path):
    folder = tmp_path / "shared"
    path = zendesk_config(folder, "token_env: ZT_TOKEN")
    folder.chmod(0o777)
    result = run("--config", path, "list", env={"ZT_TOKEN": "zt-token-value"})
    assert len(warnings(result.err)) == 1 and "its folder is writable" in result.err, result.err
    folder.chmod(0o1777)  # like /tmp: others cannot replace a file they do not own
    result = run("--config", path, "list", env={"ZT_TOKEN": "zt-token-value"})
    assert warnings(result.err) == [] and result.code == 8, result.err


def test_a_config_owned_by_another_non_root_user_is_warned_about(tmp_path):
    # The CI container case: root runs tixcli over a checkout owned by the host's uid.
    path = zendesk_config(tmp_path / "checkout", "token_env: ZT_TOKEN", mode=0o644)
    os.chown(path, OTHER_UID, -1)
    result = run("--config", path, "list", env={"ZT_TOKEN": "zt-token-value"})
    assert len(warnings(result.err)) == 1 and f"owned by uid {OTHER_UID}" in result.err, result.err
    assert "chown" in result.err
    os.chown(path, 0, -1)  # root-owned is fine for anyone
    assert warnings(run("--config", path, "list", env={"ZT_TOKEN": "x" * 8}).err) == []
    os.chown(path.rsplit("/", 1)[0], OTHER_UID, -1)  # ... and so is the folder's owner
    result = run("--config", path, "list", env={"ZT_TOKEN": "zt-token-value"})
    assert len(warnings(result.err)) == 1 and "its folder is owned" in result.err, result.err


def test_a_writable_config_is_warned_about_only_for_a_profile_that_names_a_secret(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        f"profiles:\n  p:\n    backend: sqlite\n    path: {tmp_path / 't.db'}\n"
        f"  zd:\n    backend: zendesk\n    url: {DEAD_URL}\n    email: a@example.com\n    token_env: ZT_TOKEN\n"
        "    timeout: 1\n    retry_budget: 0\n"
    )
    path.chmod(0o666)
    result = run("--config", str(path), "--profile", "p", "list")
    assert result.code == 0 and "warning" not in result.err, result.err
    result = run("--config", str(path), "--profile", "zd", "list", env={"ZT_TOKEN": "zt-token-value"})
    assert len(warnings(result.err)) == 1 and result.code == 8, result.err


def test_a_readable_and_writable_inline_secret_is_one_warning_line(tmp_path):
    path = zendesk_config(tmp_path / "conf", "token: inline-s3cret-value", mode=0o666)
    result = run("--config", path, "list")
    lines = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1 and "readable by group or others" in lines[0] and "redirect" in lines[0], result.err


# -- 2. YAML aliases and the type of every key --------------------------------------------------


def bounded_run(args: list[str], timeout: float = 20, memory: int = 1 << 30) -> tuple[int, float, str]:
    """The real tixcli in a subprocess with at most `memory` bytes of address space."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    start = time.monotonic()
    proc = subprocess.run(
        [str(TIXCLI), *args], capture_output=True, timeout=timeout, preexec_fn=limit, stdin=subprocess.DEVNULL
    )
    return proc.returncode, time.monotonic() - start, proc.stderr.decode("utf-8", "replace")


def billion_laughs(tmp_path) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines += ["profiles:", "  local:", "    backend: sqlite", f"    path: {tmp_path / 't.db'}", "    user: *i"]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    # Before: 9**9 "lol"s turned into one string, about 14 s and more than 1 GB (exit 1 under the cap).
    # Now ~0.3 s for the whole process (its start included); 5 s allows far more than 10x that.
    code, elapsed, err = bounded_run(["--config", billion_laughs(tmp_path), "list"])
    assert code == 3 and "aliases" in err, err
    assert elapsed < 5, elapsed


def test_any_alias_or_merge_key_is_refused(tmp_path):
    path = tmp_path / "config.yaml"
    for text in (
        "profiles:\n  p: {backend: sqlite, user: &me me@example.com, email: *me}\n",
        "base: &base {backend: sqlite}\nprofiles:\n  p:\n    <<: *base\n",
    ):
        path.write_text(text)
        result = run("--config", str(path), "list")
        assert result.code == 3 and "aliases" in result.err and "(line " in result.err, result.err


def test_config_from_an_endless_file_is_refused_with_bounded_memory():
    code, elapsed, err = bounded_run(["--config", "/dev/zero", "list"])
    assert code == 3 and "larger than" in err, err
    assert elapsed < 10, elapsed


def test_deeply_nested_yaml_is_a_config_error(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("profiles: " + "[" * 50_000 + "]" * 50_000 + "\n")
    result = run("--config", str(path), "list")
    assert result.code == 3 and result.err.startswith("error: "), result.err


SQLITE_TYPES = [
    ("user", "[a@example.com, b@example.com]", "profiles.p.user must be a string"),
    ("path", "5", "profiles.p.path must be a string"),
    ("read_only", '"no"', "profiles.p.read_only must be true or false"),  # "no" was truthy: read-only
    ("auto_close_days", "yes", "profiles.p.auto_close_days must be a number"),
    ("busy_timeout", '"60"', "profiles.p.busy_timeout must be a number"),
    ("busy_timeout", ".nan", "profiles.p.busy_timeout must be a finite number"),
    ("timeout", "-1", "profiles.p.timeout must not be negative"),
    ("attachments", "[5]", "profiles.p.attachments must be a mapping"),
    ("attachments", '{max_files: "5"}', "profiles.p.attachments.max_files must be a whole number"),
    ("attachments", "{max_total_bytes: 1.5}", "profiles.p.attachments.max_total_bytes must be a whole number"),
    ("attachments", "{max_file_bytes: true}", "profiles.p.attachments.max_file_bytes must be a whole number"),
    ("attachments", "{max_total_bytes: 1e12}", "profiles.p.attachments.max_total_bytes must be a whole number"),
    ("attachments", "{max_file_bytes: 9000000000}", "profiles.p.attachments.max_file_bytes must be at most"),
    ("attachments", "{allowed_types: [1, 2]}", "profiles.p.attachments.allowed_types must be a list"),
    ("attachments", "{allowed_types: [" + "x" * 100 + "]}", "profiles.p.attachments.allowed_types must be a list"),
    ("attachments", "{allowed_types: {log: 1}}", "profiles.p.attachments.allowed_types must be a list"),
    ("token_env", "[ZT_TOKEN]", "profiles.p.token_env must be a string"),
    ("url", "[https://x.example.com]", "profiles.p.url must be a string"),
    ("service_desk", "[SUP]", "profiles.p.service_desk must be a string or a number"),
    ("statuses", "[Resolved]", "profiles.p.statuses must be a mapping"),
]


# Keys only a remote backend declares (an SQLite profile refuses them as unknown settings).
REMOTE_KEYS = {"timeout": "zendesk", "token_env": "zendesk", "url": "zendesk", "service_desk": "jsm", "statuses": "jsm"}


@pytest.mark.parametrize(("key", "value", "message"), SQLITE_TYPES, ids=lambda v: str(v)[:30])
def test_a_known_key_of_the_wrong_type_is_one_line_naming_it(tmp_path, key, value, message):
    path = tmp_path / "config.yaml"
    backend = REMOTE_KEYS.get(key, "sqlite")
    first = f"path: {tmp_path / 't.db'}" if backend == "sqlite" else "email: a@example.com"
    path.write_text(f"profiles:\n  p:\n    backend: {backend}\n    {first}\n    {key}: {value}\n")
    result = run("--config", str(path), "list")
    assert result.code == 3 and message in result.err, result.err
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("error: ") and len(lines) <= 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default_profile: [p]\n", "default_profile must be a string"),
        ('strict_permissions: "false"\n', "strict_permissions must be true or false"),  # was truthy
    ],
)
def test_top_level_keys_are_checked_too(tmp_path, text, message):
    path = tmp_path / "config.yaml"
    path.write_text(text + f"profiles:\n  p:\n    backend: sqlite\n    path: {tmp_path / 't.db'}\n")
    result = run("--config", str(path), "list")
    assert result.code == 3 and message in result.err, result.err


def test_a_secret_of_the_wrong_type_is_named_but_never_shown(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("profiles:\n  zd:\n    backend: zendesk\n    url: https://x.example.com\n    token: [s3cr3t-v4]\n")
    path.chmod(0o600)
    result = run("--config", str(path), "list")
    assert result.code == 3 and "profiles.zd.token must be a string" in result.err, result.err
    assert "s3cr3t-v4" not in result.err


def test_valid_values_of_every_checked_type_load_and_a_quoted_number_does_not(tmp_path):
    path = tmp_path / "config.yaml"
    text = (
        "default_profile: p\nstrict_permissions: false\nprofiles:\n  p:\n    backend: sqlite\n"
        f"    path: {tmp_path / 't.db'}\n    user: me@example.com\n    read_only: false\n"
        "    auto_close_days: 7\n    busy_timeout: 0.5\n    email:\n"
        "    attachments: {max_files: 2, max_total_bytes: 1000, max_file_bytes: null, allowed_types: log txt}\n"
    )
    path.write_text(text)
    assert run("--config", str(path), "list").code == 0
    path.write_text(text.replace("busy_timeout: 0.5", 'busy_timeout: "0.5"'))
    result = run("--config", str(path), "list")
    assert result.code == 3 and "profiles.p.busy_timeout must be a number, not a string" in result.err, result.err
