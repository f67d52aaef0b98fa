"""The SQLite backend under test: a real store file in a temporary folder."""

from __future__ import annotations

import pytest
from harness import Harness


@pytest.fixture
def sqlite_harness(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "default_profile: local\n"
        "profiles:\n"
        "  local:\n"
        "    backend: sqlite\n"
        f"    path: {tmp_path / 'tickets.db'}\n"
        "    user: me@example.com\n"
    )
    return Harness(name="sqlite", config_path=config)
