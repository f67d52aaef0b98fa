"""The JSM backend under test: the stateful JSM stand-in server on loopback (one per session)."""

from __future__ import annotations

import pytest
from harness import Harness
from standins.jsm import JSMStandIn

from tixcli.backends.jsm import JSMBackend
from tixcli.config import Profile
from tixcli.model import NewTicket

JSM_EMAIL = "agent@example.com"
JSM_TOKEN = "jsm-test-token-456"


@pytest.fixture(scope="session")
def jsm_server():
    server = JSMStandIn(email=JSM_EMAIL, token=JSM_TOKEN, agent=True).start()
    yield server
    server.stop()


def write_jsm_config(path, server, **overrides) -> None:
    """A config.yaml whose default profile is a JSM profile on the stand-in."""
    import yaml

    profile = {
        "backend": "jsm",
        "url": server.url,
        "email": JSM_EMAIL,
        "token_env": "JSM_TEST_TOKEN",
        "service_desk": "1",
        # task: a request type of General's issue type (JSM changes a type only within one)
        "request_types": {"question": "General", "incident": "Technical", "task": "Get IT help", "default": "General"},
        "transitions": {
            "solve": "Resolve this issue",
            "close": "Close request",
            "reopen": ["Reopen", "Back to support"],
            "pending": "Respond to customer",
        },
        # the contract's custom text field (BackendContract.custom_field) is the stand-in's "Service"
        "fields": {"service": "customfield_10050"},
        # the stand-in's SLA fields (JQL's SLA functions) and its engineering project (escalations)
        "sla_fields": {"first_reply": "Time to first response", "resolution": "Time to resolution"},
        "escalation": {
            "project": "ENG",
            "link_type": "Escalates",
            "stages": {
                "To Do": "submitted",
                "Evaluation": "evaluation",
                "In Progress": "engineering",
                "In Review": "verification",
                "Done": "resolved",
            },
        },
        "timeout": 2,
        "max_retry_wait": 1,
        "retry_budget": 2,
        "export_retry_budget": 6,
        **overrides,
    }
    path.write_text(yaml.safe_dump({"default_profile": "jsm", "profiles": {"jsm": profile}}, sort_keys=False))


@pytest.fixture
def jsm_harness(jsm_server, tmp_path, monkeypatch):
    jsm_server.reset()
    monkeypatch.setenv("JSM_TEST_TOKEN", JSM_TOKEN)
    config = tmp_path / "config.yaml"
    write_jsm_config(config, jsm_server)
    return Harness(
        name="jsm",
        config_path=config,
        env={"JSM_TEST_TOKEN": JSM_TOKEN},
        server=jsm_server,
        missing_id="SUP-999999",
        group=None,  # JSM has no group on create (refused with exit 6)
    )


def backend_for(harness, **settings) -> JSMBackend:
    """A fresh backend (empty per-run caches) on the harness's profile, settings overridden."""
    p = harness.profile
    return JSMBackend(Profile(p.name, p.backend, {**p.settings, **settings}, p.source))


def new_request(subject="Printer on fire", body="It is really on fire", **kw) -> NewTicket:
    """A NewTicket from the profile's own user (the requester unless given)."""
    kw.setdefault("requester", JSM_EMAIL)
    return NewTicket(subject=subject, body=body, author=JSM_EMAIL, **kw)
