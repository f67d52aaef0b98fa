"""The Zendesk backend under test: the Zendesk stand-in server on loopback, reset for each test."""

from __future__ import annotations

import pytest
from harness import Harness
from standins.zendesk import SEEDED_FIELDS, ZendeskStandIn

AGENT = "agent@example.com"
TOKEN = "zd-test-token-123"
TOKEN_ENV = "ZENDESK_TEST_TOKEN"
#: the custom fields the harness profile maps: the contract's text field (`service`)
FIELDS = f"{{service: {SEEDED_FIELDS['service']}}}"
#: the account's SLA policy (minutes, calendar hours): the contract's `sla_priority` is urgent
SLA_POLICY = {
    "urgent": {"first_reply_time": 30, "full_resolution_time": 120},
    "high": {"first_reply_time": 60, "full_resolution_time": 480},
}


def write_config(path, url: str, **settings) -> None:
    """A config.yaml whose default profile is a Zendesk profile on `url` (small waits: fast tests)."""
    values = {
        "backend": "zendesk",
        "url": url,
        "email": AGENT,
        "token_env": TOKEN_ENV,
        "timeout": 5,
        "max_retry_wait": 2,
        "retry_budget": 4,
        "export_retry_budget": 8,
        **settings,
    }
    lines = ["default_profile: zd", "profiles:", "  zd:"]
    lines += [f"    {key}: {value}" for key, value in values.items() if value is not None]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def zendesk_server():
    server = ZendeskStandIn(agent_email=AGENT, token=TOKEN, admin=True).start()
    yield server
    server.stop()


@pytest.fixture
def zendesk_harness(zendesk_server, tmp_path, monkeypatch):
    zendesk_server.reset()
    zendesk_server.set_sla_policy(SLA_POLICY)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    config = tmp_path / "config.yaml"
    # ratings are sent as the ticket's requester (their email with the API token)
    write_config(config, zendesk_server.url, fields=FIELDS, rate_as_requester="true")
    return Harness(name="zendesk", config_path=config, env={TOKEN_ENV: TOKEN}, server=zendesk_server)
