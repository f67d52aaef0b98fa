"""Configuration: profiles, identity, secrets and the checks that protect them."""

from __future__ import annotations

import pytest
from cli import run

from tixcli.config import load_config
from tixcli.errors import ConfigError
from tixcli.secrets import Secret, redact


def write(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    path.chmod(mode)
    return path


ZENDESK = "profiles:\n  zd:\n    backend: zendesk\n    url: {url}\n    email: a@example.com\n    token: {token}\n"


def test_no_config_means_the_sqlite_default(isolated_user_dirs):
    profile = load_config().profile()
    assert (profile.name, profile.backend) == ("default", "sqlite")


def test_profile_selection_order(tmp_path, monkeypatch):
    path = write(tmp_path, "default_profile: b\nprofiles:\n  a: {backend: sqlite}\n  b: {backend: sqlite}\n")
    config = load_config(path)
    assert config.profile().name == "b"
    monkeypatch.setenv("TIXCLI_PROFILE", "a")
    assert config.profile().name == "a"
    assert config.profile("b").name == "b"


def test_identity_comes_from_user_then_email_then_environment(tmp_path, monkeypatch):
    path = write(
        tmp_path,
        "profiles:\n  a: {backend: sqlite, user: u@example.com}\n  b: {backend: sqlite}\n"
        "  c: {backend: zendesk, email: agent@example.com}\n",
    )
    config = load_config(path)
    monkeypatch.setenv("TIXCLI_USER", "env@example.com")
    assert [config.profile(n).user for n in "abc"] == ["u@example.com", "env@example.com", "agent@example.com"]


def test_an_inline_secret_in_a_group_readable_file_is_warned_about(tmp_path, capsys):
    path = write(tmp_path, ZENDESK.format(url="https://x.example.com", token="inline-secret-1"), mode=0o644)
    load_config(path).profile("zd")
    err = capsys.readouterr().err
    assert "readable by group or others" in err and "inline-secret-1" not in err


def test_strict_permissions_refuses_it(tmp_path):
    text = "strict_permissions: true\n" + ZENDESK.format(url="https://x.example.com", token="t0k3n-value")
    path = write(tmp_path, text, mode=0o640)
    with pytest.raises(ConfigError):
        load_config(path).profile("zd")
    path.chmod(0o600)
    assert load_config(path).profile("zd").backend == "zendesk"


def test_remote_urls_must_be_https_except_on_loopback(tmp_path):
    for url, ok in [
        ("http://example.com", False),
        ("ftp://example.com", False),
        ("https://example.com", True),
        ("https://user:pass@example.com", False),
        ("https://token@example.com", False),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:9", True),
        ("http://[::1]:9", True),
    ]:
        profile = load_config(write(tmp_path, ZENDESK.format(url=url, token="x" * 8))).profile("zd")
        if ok:
            assert profile.base_url() == url
        else:
            with pytest.raises(ConfigError):
                profile.base_url()


def test_an_http_url_is_a_config_error_on_the_command_line(tmp_path):
    path = write(tmp_path, ZENDESK.format(url="http://example.com", token="x" * 8))
    result = run("--config", str(path), "list")
    assert result.code == 3 and "https" in result.err


def test_secrets_are_masked_in_repr_and_redacted_from_text():
    secret = Secret("sup3r-s3cret-value")
    assert "sup3r" not in repr(secret) and "sup3r" not in str(secret) and "sup3r" not in f"{secret}"
    assert redact("header: sup3r-s3cret-value!") == "header: ********!"


def test_token_from_the_keyring(tmp_path, monkeypatch):
    keyring = pytest.importorskip("keyring")
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1
        store = {("tixcli-test", "a@example.com"): "from-the-keyring"}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    keyring.set_keyring(MemoryKeyring())
    path = write(
        tmp_path,
        "profiles:\n  zd:\n    backend: zendesk\n    url: https://x.example.com\n"
        "    email: a@example.com\n    token_keyring: tixcli-test\n",
    )
    assert load_config(path).profile("zd").secret().reveal() == "from-the-keyring"
    path2 = write(
        tmp_path, "profiles:\n  zd:\n    backend: zendesk\n    email: b@example.com\n    token_keyring: tixcli-test\n"
    )
    with pytest.raises(ConfigError):
        load_config(path2).profile("zd").secret()


def test_config_example_documents_valid_profiles_for_every_backend(monkeypatch):
    from pathlib import Path

    from tixcli.backends.jsm_workflow import Workflow
    from tixcli.registry import open_backend

    example = Path(__file__).parents[1] / "config.example.yaml"
    config = load_config(example)
    assert {p["backend"] for p in config.profiles.values()} == {"sqlite", "zendesk", "jsm"}
    for name in config.profiles:
        backend = open_backend(config.profile(name))  # constructors never touch the network
        assert backend.name == config.profile(name).backend
    Workflow(config.profile("jsm"))
    assert config.profile("local").attachment_limits().allowed_types[-1] == "har"
