"""`tixcli backends` and the registry: built-in backends, real third-party entry points (a
dist-info folder on PYTHONPATH), one whose dependency is missing, and run-time registration."""

from __future__ import annotations

import json
import textwrap

import pytest
from cli import run, run_process

from tixcli import registry
from tixcli.backends.base import CAPABILITIES, Backend, ExportItem
from tixcli.config import Setting
from tixcli.model import Ticket

PLUGIN = """
from tixcli.backends.base import Backend
from tixcli.config import HTTP_SETTINGS, Setting


class GoodBackend(Backend):
    name = "gooddesk"
    capabilities = frozenset({"attachments", "search"})
    settings = {**HTTP_SETTINGS, "region": Setting(str, "eu", "where the desk lives")}
    max_comment_chars = 12_345

    def get(self, ticket_id):
        raise NotImplementedError

    def export(self, since=None, cursor=None):
        return iter(())
"""


@pytest.fixture
def plugins(tmp_path):
    """A distribution `tixcli-testplugins` with three backends, installed on PYTHONPATH."""
    site = tmp_path / "site"
    dist = site / "tixcli_testplugins-1.2.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tixcli-testplugins\nVersion: 1.2\n"
        "Requires-Dist: tixcli\n"
        "Requires-Dist: Tixcli.Missing_Dep>=2.1\n"
        'Requires-Dist: tixcli-fancy-dep<3,>=1; extra == "fancy"\n'
    )
    (dist / "entry_points.txt").write_text(
        "[tixcli.backends]\n"
        "gooddesk = tp_good:GoodBackend\n"
        "brokendesk = tp_broken:BrokenBackend\n"
        "fancydesk = tp_fancy:FancyBackend\n"
        "ghostdesk = tp_ghost:GhostBackend\n"
    )
    (site / "tp_good.py").write_text(textwrap.dedent(PLUGIN))
    (site / "tp_broken.py").write_text("import tixcli_missing_dep  # not installed\n")
    (site / "tp_fancy.py").write_text("import tixcli_fancy_dep  # an optional dependency, not installed\n")
    # tp_ghost.py does not exist: the distribution is broken
    return {"PYTHONPATH": str(site)}


def by_name(result) -> dict:
    assert result.code == 0, result.err
    return {b["name"]: b for b in json.loads(result.out)["backends"]}


def test_built_in_backends_are_listed_with_capabilities_and_limits():
    result = run("backends", "--format", "json")
    data = json.loads(result.out)
    assert data["capabilities"] == CAPABILITIES
    found = {b["name"]: b for b in data["backends"]}
    assert {"sqlite", "zendesk", "jsm"} <= set(found)
    sqlite = found["sqlite"]
    assert sqlite["loads"] and sqlite["source"] == "built-in" and sqlite["distribution"] == "tixcli"
    assert "dedupe_guaranteed" in sqlite["capabilities"] and sqlite["max_comment_chars"] == 4_000_000
    assert found["jsm"]["max_comment_chars"] == 32_767 and "groups" not in found["jsm"]["capabilities"]
    assert sqlite["settings"]["busy_timeout"] == {
        "type": "number",
        "default": 60.0,
        "help": "seconds a write waits for another tixcli before exit 8",
    }
    assert "service_desk" in found["jsm"]["settings"] and "service_desk" not in sqlite["settings"]


def test_the_table_shows_each_backend_and_explains_the_capabilities():
    result = run("backends")
    assert result.code == 0, result.err
    lines = result.lines
    assert lines[0].split() == ["NAME", "FROM", "LOADS", "MAX", "COMMENT", "CAPABILITIES"]
    sqlite = next(line for line in lines if line.startswith("sqlite "))
    assert "ok" in sqlite and "4,000,000" in sqlite and "dedupe_guaranteed" in sqlite
    assert any(line.split()[:1] == ["export_cursor"] for line in lines)  # the legend


def test_an_unknown_format_is_invalid_input():
    assert run("backends", "--format", "csv").code == 6


def test_third_party_entry_points_load_or_say_what_to_install(plugins):
    found = by_name(run_process("backends", "--format", "json", env=plugins))
    good = found["gooddesk"]
    assert good["loads"] and good["error"] is None
    assert (good["source"], good["distribution"], good["version"]) == ("entry point", "tixcli-testplugins", "1.2")
    assert good["capabilities"] == ["attachments", "search"] and good["max_comment_chars"] == 12_345
    assert good["settings"]["region"]["default"] == "eu" and "timeout" in good["settings"]
    broken = found["brokendesk"]
    assert not broken["loads"] and "'tixcli_missing_dep'" in broken["error"]
    assert broken["hint"] == "pip install 'Tixcli.Missing_Dep>=2.1'"  # from Requires-Dist, normalised match
    fancy = found["fancydesk"]
    assert not fancy["loads"] and fancy["hint"] == "pip install 'tixcli-testplugins[fancy]'"
    ghost = found["ghostdesk"]
    assert not ghost["loads"] and "tp_ghost is missing" in ghost["error"]
    assert ghost["hint"] == "pip install --force-reinstall 'tixcli-testplugins'"
    assert found["sqlite"]["loads"]  # the built-ins are still there


def test_the_table_shows_the_install_hint(plugins):
    result = run_process("backends", env=plugins)
    assert result.code == 0, result.err
    broken = next(line for line in result.lines if line.startswith("brokendesk "))
    assert "no: " in broken and "pip install 'Tixcli.Missing_Dep>=2.1'" in broken
    good = next(line for line in result.lines if line.startswith("gooddesk "))
    assert "tixcli-testplugins 1.2" in good and " ok " in good and "12,345" in good


def test_a_profile_on_a_backend_that_cannot_load_is_a_config_error_with_the_hint(plugins, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("profiles:\n  b:\n    backend: brokendesk\n")
    result = run_process("--config", str(config), "list", env=plugins)
    assert result.code == 3, result.err
    assert "needs the Python package 'tixcli_missing_dep'" in result.err
    assert "hint: pip install 'Tixcli.Missing_Dep>=2.1'" in result.err


def test_a_third_party_profile_is_checked_against_its_declared_settings(plugins, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("profiles:\n  g:\n    backend: gooddesk\n    regoin: us\n")
    result = run_process("--config", str(config), "list", env=plugins)
    assert result.code == 3 and "did you mean 'region'" in result.err, result.err


class MemoryBackend(Backend):
    """A backend a library registers at run time: one ticket, in memory."""

    name = "memdesk"
    capabilities = frozenset({"cc"})
    settings = {"greeting": Setting(str, "hello", "what the one ticket says")}
    max_comment_chars = 99

    def _ticket(self) -> Ticket:
        subject = str(self.profile.setting("greeting"))
        return Ticket(id="1", backend="memdesk", subject=subject, status="open", requester=self.profile.user)

    def get(self, ticket_id):
        return self._ticket()

    def export(self, since=None, cursor=None):
        yield ExportItem(self._ticket())

    def query(self, query):
        return [self._ticket()]


@pytest.fixture
def memdesk():
    registry.register("memdesk", MemoryBackend)
    yield
    registry.unregister("memdesk")


def test_a_backend_registered_at_run_time_is_opened_and_listed(memdesk, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("profiles:\n  m:\n    backend: memdesk\n    greeting: from memory\n")
    result = run("--config", str(config), "list", "--format", "json")
    assert result.code == 0, result.err
    assert [t["subject"] for t in json.loads(result.out)] == ["from memory"]
    found = by_name(run("backends", "--format", "json"))
    assert found["memdesk"]["source"] == "registered" and found["memdesk"]["loads"]
    assert found["memdesk"]["max_comment_chars"] == 99 and found["memdesk"]["capabilities"] == ["cc"]
    assert found["memdesk"]["target"] == f"{__name__}:MemoryBackend"
    assert "memdesk" in registry.available_backends()


def test_registration_takes_precedence_and_can_be_undone(memdesk):
    registry.register("sqlite", MemoryBackend)
    try:
        assert registry.load_backend_class("sqlite") is MemoryBackend
    finally:
        registry.unregister("sqlite")
    assert registry.load_backend_class("sqlite").__name__ == "SQLiteBackend"
    registry.unregister("memdesk")
    assert "memdesk" not in registry.available_backends()
    assert run("backends").code == 0


def test_only_backend_classes_can_be_registered():
    with pytest.raises(TypeError):
        registry.register("nope", dict)
    with pytest.raises(ValueError):
        registry.register("bad name", MemoryBackend)
