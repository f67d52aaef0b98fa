"""What the contract suite and the CLI tests need from one backend under test.

Each backend's test module provides a fixture ``<name>_harness`` (see conftest.py) that
returns a fresh Harness: an empty store, or a stand-in server reset to its seed state.
tests/test_contract.py runs tixcli.testing.BackendContract on each through ``open()``, and
takes ``missing_id``, ``group`` and ``request_count()`` from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tixcli.config import Profile, load_config
from tixcli.registry import open_backend

# People every harness knows: the profile's own user, and customers who can be requesters
# and CC participants (the remote stand-ins seed them as users / customers).
CUSTOMER = "customer@example.com"
LEAD = "lead@example.com"
DEV = "dev@example.com"


@dataclass
class Harness:
    name: str  # the backend name: sqlite | zendesk | jsm
    config_path: Path  # a config.yaml whose default_profile is the profile under test
    env: dict[str, str] = field(default_factory=dict)  # env vars the CLI needs (tokens...)
    server: object | None = None  # the stand-in server (remote backends)
    missing_id: str = "999999"  # a well-formed id no ticket has
    group: str | None = "Support"  # a group the backend accepts on create; None: it takes none

    @property
    def profile(self) -> Profile:
        return load_config(self.config_path).profile()

    @property
    def user(self) -> str:
        return self.profile.user

    def open(self):
        """A new backend instance on the same store or server."""
        return open_backend(self.profile)

    def request_count(self) -> int | None:
        """HTTP requests the stand-in has received so far (None for local backends)."""
        return self.server.count() if self.server is not None else None
