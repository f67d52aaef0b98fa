"""Typed settings: each backend declares the keys a profile may hold; the selected profile is
checked against its backend's declaration at load, the other profiles only warned about."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli import run

from tixcli import registry
from tixcli.backends.base import Backend
from tixcli.config import HTTP_SETTINGS, SHARED_SETTINGS, Profile, Setting, load_config

EXAMPLE = Path(__file__).parents[1] / "config.example.yaml"


def write(tmp_path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def sqlite_profile(tmp_path, *lines: str, name: str = "p") -> str:
    return f"  {name}:\n    backend: sqlite\n    path: {tmp_path / 't.db'}\n" + "".join(f"    {x}\n" for x in lines)


JSM = "  j:\n    backend: jsm\n    url: https://x.atlassian.net\n    email: a@example.com\n    service_desk: SUP\n"


def test_an_unknown_key_in_the_selected_profile_is_refused_with_a_suggestion(tmp_path):
    path = write(tmp_path, "profiles:\n" + sqlite_profile(tmp_path, "busy_timout: 5"))
    result = run("--config", path, "list")
    assert result.code == 3, result.err
    first = result.err.splitlines()[0]
    assert first.startswith("error: ") and "'busy_timout'" in first and "profile 'p'" in first
    assert "did you mean 'busy_timeout'?" in first
    assert "busy_timeout" in result.err.splitlines()[1]  # the hint lists what an sqlite profile takes


def test_a_far_off_key_gets_no_suggestion(tmp_path):
    path = write(tmp_path, "profiles:\n" + sqlite_profile(tmp_path, "colour: blue"))
    result = run("--config", path, "list")
    assert result.code == 3 and "'colour'" in result.err and "did you mean" not in result.err, result.err


def test_a_key_of_another_backend_is_unknown_here(tmp_path):
    # read_only on a remote profile was ignored silently: writes went through.
    path = write(tmp_path, "profiles:\n" + JSM.replace("service_desk: SUP", "service_desk: SUP\n    read_only: true"))
    result = run("--config", path, "reply", "SUP-1", "--body", "x")
    assert result.code == 3 and "'read_only'" in result.err and "backend jsm" in result.err, result.err
    path = write(tmp_path, "profiles:\n" + sqlite_profile(tmp_path, "service_desk: SUP"))
    assert run("--config", path, "list").code == 3


def test_a_top_level_key_inside_a_profile_says_where_it_belongs(tmp_path):
    path = write(tmp_path, "profiles:\n" + sqlite_profile(tmp_path, "strict_permissions: true"))
    result = run("--config", path, "list")
    assert result.code == 3 and "top level" in result.err, result.err


def test_an_unknown_attachment_limit_is_refused_too(tmp_path):
    path = write(tmp_path, "profiles:\n" + sqlite_profile(tmp_path, "attachments: {max_file: 5}"))
    result = run("--config", path, "list")
    assert result.code == 3 and "'max_file'" in result.err and "did you mean 'max_files'" in result.err, result.err


def test_a_declared_key_of_the_wrong_type_is_refused(tmp_path):
    path = write(tmp_path, "profiles:\n" + JSM + '    max_response_bytes: "1000"\n')
    result = run("--config", path, "list")
    assert result.code == 3 and "profiles.j.max_response_bytes must be a whole number" in result.err, result.err


def test_unknown_keys_in_other_profiles_are_one_warning_and_load_no_remote_library(tmp_path):
    text = (
        "default_profile: p\nprofiles:\n"
        + sqlite_profile(tmp_path)
        + JSM
        + "    timout: 5\n    colour: blue\n"
        + "  z:\n    backend: zendesk\n    subdomain: acme\n    read_only: true\n"
    )
    path = write(tmp_path, text)
    code = (
        "import sys\n"
        "from tixcli.__main__ import main\n"
        f"code = main(['--config', {path!r}, 'list'])\n"
        "heavy = sorted(m for m in ('requests', 'jira', 'zenpy') if m in sys.modules)\n"
        "print('RESULT', code, heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "RESULT 0 []" in proc.stderr, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, proc.stderr
    assert "j.timout (did you mean 'timeout'?)" in warnings[0] and "j.colour" in warnings[0]
    assert "z.read_only" in warnings[0]


def test_other_profiles_with_known_keys_give_no_warning():
    result = run("--config", str(EXAMPLE), "--profile", "local", "--version")  # --version: no profile loaded
    assert result.code == 0
    config = load_config(EXAMPLE)
    for name in config.profiles:
        config.profile(name)  # none refused


def test_config_example_loads_every_profile_without_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("TIXCLI_DB", str(tmp_path / "t.db"))
    result = run("--config", str(EXAMPLE), "--profile", "local", "list")
    assert result.code == 0 and "warning" not in result.err, result.err


def test_each_built_in_class_declares_the_settings_read_cheaply():
    from tixcli.backends import jsm_settings, sqlite_settings, zendesk_settings
    from tixcli.backends.jsm import JSMBackend
    from tixcli.backends.sqlite import SQLiteBackend
    from tixcli.backends.zendesk import ZendeskBackend

    assert SQLiteBackend.settings is sqlite_settings.SETTINGS
    assert ZendeskBackend.settings is zendesk_settings.SETTINGS
    assert JSMBackend.settings is jsm_settings.SETTINGS
    assert registry.backend_settings("jsm") == {**SHARED_SETTINGS, **JSMBackend.settings}


def test_declared_defaults_are_the_ones_the_code_applies(tmp_path):
    from tixcli.backends.sqlite import SQLiteBackend

    profile = Profile("p", "zendesk", {})
    assert profile.timeout == HTTP_SETTINGS["timeout"].default
    assert profile.max_retry_wait == HTTP_SETTINGS["max_retry_wait"].default
    assert profile.retry_budget == HTTP_SETTINGS["retry_budget"].default
    from tixcli.backends.http import MAX_RESPONSE_BYTES

    assert MAX_RESPONSE_BYTES == HTTP_SETTINGS["max_response_bytes"].default
    store = SQLiteBackend(Profile("p", "sqlite", {"path": str(tmp_path / "t.db")}))
    assert store.auto_close_days == SQLiteBackend.settings["auto_close_days"].default
    assert store.busy_timeout == SQLiteBackend.settings["busy_timeout"].default


def test_profile_setting_gives_the_value_or_the_declared_default(tmp_path):
    path = write(tmp_path, "profiles:\n" + JSM + "    timeout: 5\n")
    profile = load_config(path).profile("j")
    assert profile.setting("timeout") == 5
    assert profile.setting("resolution") == "Done"
    with pytest.raises(ValueError):
        profile.setting("path")  # not a jsm setting: a bug in whoever asks


class Undeclared(Backend):
    """A backend written before settings were declared: its keys are not checked."""

    name = "undeclared"

    def get(self, ticket_id):
        raise NotImplementedError

    def export(self, since=None, cursor=None):
        return iter(())


class Declared(Undeclared):
    name = "declared"
    settings = {"region": Setting(str, "eu", "where the service lives")}


@pytest.fixture
def registered():
    registry.register("undeclared", Undeclared)
    registry.register("declared", Declared)
    yield
    registry.unregister("undeclared")
    registry.unregister("declared")


def test_a_backend_that_declares_nothing_takes_any_key_but_shared_keys_are_typed(tmp_path, registered):
    path = write(tmp_path, "profiles:\n  u:\n    backend: undeclared\n    anything: 1\n")
    assert load_config(path).profile("u").get("anything") == 1
    path = write(tmp_path, "profiles:\n  u:\n    backend: undeclared\n    user: [a, b]\n")
    assert run("--config", path, "list").code == 3


def test_a_registered_backend_declaration_is_enforced(tmp_path, registered):
    path = write(tmp_path, "profiles:\n  d:\n    backend: declared\n    regoin: us\n")
    result = run("--config", path, "list")
    assert result.code == 3 and "did you mean 'region'" in result.err, result.err
    path = write(tmp_path, "profiles:\n  d:\n    backend: declared\n    region: 5\n")
    result = run("--config", path, "list")
    assert result.code == 3 and "profiles.d.region must be a string" in result.err, result.err
    path = write(tmp_path, "profiles:\n  d:\n    backend: declared\n    region: us\n")
    assert load_config(path).profile("d").setting("region") == "us"


def test_a_setting_of_an_unsupported_type_is_a_bug_in_the_declaration():
    with pytest.raises(ValueError):
        Setting(tuple, None, "no tuple type")
