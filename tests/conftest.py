"""Shared fixtures: an isolated user directory for every test, and one harness per backend.

The contract suite (test_contract.py) runs against every backend whose harness module is
listed in BACKENDS; each harness module provides a fixture named ``<backend>_harness``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))  # so harness and stand-in modules import by name

# TIXCLI_TEST_BACKENDS=sqlite,zendesk limits the run to some backends (default: all of them).
_wanted = os.environ.get("TIXCLI_TEST_BACKENDS", "sqlite,zendesk,jsm").split(",")
BACKENDS = [name for name in _wanted if (TESTS / f"harness_{name.strip()}.py").exists()]
pytest_plugins = [f"harness_{name}" for name in BACKENDS]


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Point config, data and identity at a temporary folder: tests never see the real ones."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("TIXCLI_USER", "me@example.com")
    for var in ("TIXCLI_DB", "TIXCLI_PROFILE", "TIXCLI_CONFIG", "TIXCLI_FORMAT", "TIXCLI_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    # CI runners set CI=true and their own variables: a test sees a CI run only where it sets one.
    from tixcli.ci import CI_VARIABLES

    for var in {*CI_VARIABLES, "CI", "GITHUB_OUTPUT"}:
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(params=BACKENDS)
def harness(request):
    """The backend under test, fresh for each test (contract suite)."""
    return request.getfixturevalue(f"{request.param}_harness")
