"""Credentials stay secret, and what a server sends cannot reach the terminal or the file system
as anything but inert text (issue 5, "Security").

A recognisable token is set through the environment, the stand-ins are made to accept it, and
every command runs, with and without --debug, against a stand-in that succeeds and that fails in
every way the fault tests use (401, 403, 429, 5xx, malformed JSON, an HTML page, resets, an answer
that never comes), plus a server and a library that echo the request's headers in their errors.
The token must appear nowhere in stdout or stderr: in plain, as the Basic header's base64 of
`email:token` or `email/token:token`, or as `Bearer token`.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import requests
import yaml
from cli import run, run_process
from harness import LEAD

import tixcli.secrets as secrets_module

SECRET = "tok-SECRET-zz9-plural-z-alpha"
OAUTH_ENV = "TIXCLI_TEST_OAUTH"
# No retries: every failing command ends at once (what is retried is tested in
# test_remote_faults.py; here only what is printed matters). A short timeout only for `hang`.
QUICK = {"timeout": 3, "max_retry_wait": 0, "retry_budget": 0}
HANG_TIMEOUT = 0.15
ESC_SUBJECT = "Invoice \x1b]8;;https://evil.example/\x07click me\x1b]8;;\x07 \x1b[2J\x1b[31mred\x9b1mC1"
ESC_BODY = "Hello\x1b[2J\x1b[H\nsecond line \x1b]0;window title\x07 done\x07\x1bc"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Secured:
    """A remote profile whose token is SECRET (the stand-in accepts it), and the CLI on it."""

    def __init__(self, variant: str, harness, tmp_path: Path, monkeypatch) -> None:
        self.variant = variant
        self.harness = harness
        self.server = harness.server
        self.name = harness.name
        self.monkeypatch = monkeypatch
        monkeypatch.setattr(self.server, "token", SECRET)  # restored after the test
        data = yaml.safe_load(harness.config_path.read_text())
        self.profile = data["profiles"][data["default_profile"]]
        self.profile.update(QUICK)
        self.email = self.profile["email"]
        if variant == "zendesk-oauth":  # an OAuth token, sent as `Authorization: Bearer ...`
            self.profile.pop("token_env")
            self.profile["oauth_token_env"] = OAUTH_ENV
            self.env = {OAUTH_ENV: SECRET}
        else:
            self.env = {self.profile["token_env"]: SECRET}
        self.data = data
        self.config = tmp_path / "secured.yaml"
        self.write()
        # Every run starts with no secret known to the redaction filter, as a new process does.
        monkeypatch.setattr(secrets_module, "_known", set())

    def write(self) -> None:
        self.config.write_text(yaml.safe_dump(self.data, sort_keys=False))
        self.config.chmod(0o600)

    def cli(self, *args: str):
        secrets_module._known.clear()
        return run("--config", str(self.config), *args, env=self.env)

    def seed(self, n: int = 1, **fields) -> list[str]:
        if self.name == "zendesk":
            return [str(i) for i in self.server.seed_tickets(n, **fields)]
        return [issue.key for issue in self.server.seed_requests(n, **fields)]

    @property
    def forms(self) -> dict[str, str]:
        """Every form the token takes on the wire (base64 with and without its padding)."""
        forms = {"plain": SECRET, "bearer": f"Bearer {SECRET}"}
        for label, text in (("basic", f"{self.email}:{SECRET}"), ("basic-token", f"{self.email}/token:{SECRET}")):
            forms[label] = b64(text)
            forms[label + "-unpadded"] = b64(text).rstrip("=")
        return forms

    def assert_secret_kept(self, result, what: str) -> None:
        for label, form in self.forms.items():
            assert form not in result.out, f"{what}: the token ({label}) is in stdout"
            assert form not in result.err, f"{what}: the token ({label}) is in stderr"

    def auth_header(self) -> str:
        """The Authorization header the stand-in accepts (for the test's own direct requests)."""
        if self.name == "zendesk":
            return "Basic " + b64(f"{self.server.agent_email}/token:{SECRET}")
        return "Basic " + b64(f"{self.server.email}:{SECRET}")


VARIANTS = ["zendesk", "zendesk-oauth", "jsm"]


@pytest.fixture(params=VARIANTS)
def secured(request, tmp_path, monkeypatch) -> Secured:
    backend = request.param.split("-")[0]
    return Secured(request.param, request.getfixturevalue(f"{backend}_harness"), tmp_path, monkeypatch)


READ_COMMANDS = ("list", "show", "export")


def every_command(s: Secured, tmp_path: Path, writes_only: bool = False) -> list[tuple[str, ...]]:
    """One run of every command, on fresh tickets."""
    first, second = s.seed(2)
    attachment = tmp_path / "build.log"
    attachment.write_text("log line\n")
    commands = [
        ("create", "--subject", "Disk full", "--body", "df says 100%"),
        ("list", "--all"),
        ("show", first),
        ("reply", first, "--body", "looking into it"),
        ("attach", first, str(attachment)),
        ("cc", first, "--add", LEAD),
        ("solve", first),
        ("close", second),
        ("export",),
    ]
    return [c for c in commands if not (writes_only and c[0] in READ_COMMANDS)]


# Each fault on every request; ("writes", ...) only on POST/PUT/DELETE, so that the write commands
# fail where they write (after their reads succeeded).
ECHO = {  # each vendor's error shape, quoting the Authorization header it was sent
    "zendesk": '{"error": "RecordInvalid", "description": "Invalid header: %s"}',
    "jsm": '{"errorMessages": ["Invalid header: %s"], "errors": {"authorization": "%s"}}',
}
FAULTS = {
    "success": None,
    "401": {"kind": "status", "status": 401},
    "403": {"kind": "status", "status": 403},
    "429": {"kind": "status", "status": 429, "retry_after": 30},
    "429-no-retry-after": {"kind": "status", "status": 429},
    "500": {"kind": "status", "status": 500},
    "503": {"kind": "status", "status": 503, "retry_after": 1},
    "malformed": {"kind": "malformed"},
    "html": {"kind": "html"},
    "reset": {"kind": "reset"},
    "reset_mid_body": {"kind": "reset_mid_body"},
    "timeout": {"kind": "hang", "delay": 0.5},
    "echo-422": "echo",  # an error body that quotes the credentials back
}
SCOPES = {"all": None, "writes": r"^(POST|PUT|DELETE) "}
# The OAuth variant differs only in the header: a few of the faults are enough for it.
OAUTH_FAULTS = ("success", "401", "500", "malformed", "reset", "echo-422")
CASES = [
    pytest.param(variant, fault, marks=[pytest.mark.slow] if fault == "timeout" else [], id=f"{variant}-{fault}")
    for variant in VARIANTS
    for fault in FAULTS
    if variant != "zendesk-oauth" or fault in OAUTH_FAULTS
]


@pytest.mark.parametrize("secured, fault", CASES, indirect=["secured"])
def test_no_command_prints_the_token_whatever_the_server_does(secured, tmp_path, fault):
    s = secured
    spec = FAULTS[fault]
    if fault == "timeout":
        s.profile["timeout"] = HANG_TIMEOUT
        s.write()
    ran = 0
    for scope, match in SCOPES.items():
        if spec is None and scope == "writes":
            continue
        # Without and with --debug; where only the writes fail, with --debug (the most output).
        for debug in ((), ("--debug",)) if scope == "all" else (("--debug",),):
            for args in every_command(s, tmp_path, writes_only=scope == "writes"):  # fresh tickets
                s.server.faults.clear()
                if spec == "echo":
                    body = ECHO[s.name].replace("%s", s.auth_header()).encode()
                    s.server.inject(kind="status", status=422, body=body, match=match, times=1000)
                elif spec is not None:
                    s.server.inject(match=match, times=1000, **spec)
                result = s.cli(*debug, *args)
                what = f"{fault}/{scope}: tixcli {' '.join(debug + args)} -> {result.code}"
                s.assert_secret_kept(result, what)
                if spec is None:
                    assert result.code == 0, (what, result.err)
                elif scope == "all":
                    assert result.code in (3, 4, 5, 6, 7, 8), (what, result.err)
                    assert "Traceback" in result.err if debug else "Traceback" not in result.err, what
                ran += 1
    assert ran >= 18


def test_a_library_error_that_carries_the_headers_does_not_show_them(secured, tmp_path, monkeypatch):
    """A library exception whose text holds the request headers (as JIRAError's does)."""
    s = secured
    tid = s.seed(1)[0]

    def send(adapter, request, **kwargs):
        raise RuntimeError(f"cannot send {request.method} {request.url} headers={dict(request.headers)}")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    for args in (("show", tid), ("reply", tid, "--body", "x"), ("create", "--subject", "s", "--body", "b")):
        for debug in ((), ("--debug",)):
            result = s.cli(*debug, *args)
            assert result.code != 0
            s.assert_secret_kept(result, f"library error: {' '.join(debug + args)}")


@pytest.mark.parametrize("failing", [False, True], ids=["success", "401"])
def test_debug_output_of_a_real_process_holds_no_token(secured, failing):
    """The same, as the installed console script in a new process (nothing registered before)."""
    s = secured
    tid = s.seed(1)[0]
    if failing:
        s.server.inject(kind="status", status=401, times=1000)
    result = run_process("--config", str(s.config), "--debug", "show", tid, env=s.env, timeout=30)
    assert result.code == (7 if failing else 0), result.err
    assert "debug:" in result.err
    s.assert_secret_kept(result, "subprocess --debug show")


# -- configuration ------------------------------------------------------------------------------


def inline(s: Secured, mode: int, strict: bool = False) -> None:
    """The token written into the config file itself (`token:`), with this file mode."""
    for key in ("token_env", "oauth_token_env"):
        s.profile.pop(key, None)
    s.profile["token"] = SECRET
    if strict:
        s.data["strict_permissions"] = True
    s.write()
    s.config.chmod(mode)


@pytest.mark.parametrize("variant", ["zendesk", "jsm"])
def test_an_inline_token_in_a_readable_config_file_is_warned_about_or_refused(variant, tmp_path, monkeypatch, request):
    s = Secured(variant, request.getfixturevalue(f"{variant}_harness"), tmp_path, monkeypatch)
    tid = s.seed(1)[0]
    monkeypatch.delenv(s.harness.profile.settings["token_env"], raising=False)

    inline(s, 0o600)
    private = s.cli("show", tid)
    assert private.code == 0, private.err
    assert "warning" not in private.err

    for mode in (0o644, 0o640, 0o604):
        inline(s, mode)
        readable = s.cli("show", tid)
        assert readable.code == 0, readable.err
        warning = [line for line in readable.err.splitlines() if line.startswith("warning: ")]
        assert len(warning) == 1 and "readable by group or others" in warning[0], readable.err
        s.assert_secret_kept(readable, f"inline token, mode {mode:o}")

    before = s.server.count()
    inline(s, 0o644, strict=True)
    refused = s.cli("show", tid)
    assert refused.code == 3
    assert refused.err.startswith("error: ") and "readable by group or others" in refused.err
    assert "chmod 600" in refused.err
    assert s.server.count() == before  # refused before any request
    s.assert_secret_kept(refused, "strict_permissions")


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://10.0.0.7:8080",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "http://user:pw-9f8e7d@example.com",
    ],
)
def test_a_plain_http_url_off_loopback_exits_3_before_any_request(secured, url):
    s = secured
    s.profile["url"] = url
    s.write()
    for args in (("list",), ("show", "1" if s.name == "zendesk" else "SUP-1")):
        result = s.cli("--debug", *args)
        assert result.code == 3, result.err
        errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "https" in errors[0]
        assert "pw-9f8e7d" not in result.err
        s.assert_secret_kept(result, url)


def test_http_on_loopback_is_allowed(secured):
    s = secured
    s.profile["url"] = s.server.url.replace("127.0.0.1", "localhost")
    s.write()
    tid = s.seed(1)[0]
    result = s.cli("show", tid)
    assert result.code == 0, result.err


# -- what the server sends stays inert ---------------------------------------------------------


def test_escape_sequences_from_the_server_never_reach_the_terminal(secured):
    s = secured
    if s.name == "zendesk":
        tid = s.seed(1, subject=ESC_SUBJECT, description=ESC_BODY)[0]
    else:
        tid = s.seed(1, summary=ESC_SUBJECT, description=ESC_BODY)[0]
    for args in (("show", tid), ("list", "--all"), ("list", "--all", "--format", "csv"), ("export", "--format", "csv")):
        result = s.cli(*args)
        assert result.code == 0, result.err
        text = result.out + result.err
        for char in ("\x1b", "\x07", "\x9b"):
            assert char not in text, f"{args}: {char!r} reached the terminal"
        assert "click me" in result.out and "red" in result.out  # the text itself is kept
    shown = s.cli("show", tid, "--format", "json")
    data = json.loads(shown.out)
    assert data["subject"] == ESC_SUBJECT  # the data keeps every character
    assert data["comments"][0]["body"].rstrip() == ESC_BODY
    listed = json.loads(s.cli("list", "--all", "--format", "json").out)
    assert [t["subject"] for t in listed if t["id"] == tid] == [ESC_SUBJECT]


HOSTILE_NAMES = ["../../etc/passwd", "/abs/name", "\x1b[2Jclear.txt"]


def attach_on_server(s: Secured, ticket_id: str, names: list[str]) -> None:
    """Attach files under these exact names, through the vendor API, as another client would."""
    headers = {"Authorization": s.auth_header()}
    url = s.server.url
    if s.name == "zendesk":
        token = None
        for name in names:
            params = {"filename": name, **({"token": token} if token else {})}
            answer = requests.post(
                f"{url}/api/v2/uploads.json",
                params=params,
                data=b"root:x:0:0",
                headers={**headers, "Content-Type": "text/plain"},
                timeout=5,
            )
            assert answer.status_code == 201, answer.text
            token = answer.json()["upload"]["token"]
        comment = {"body": "files", "public": True, "uploads": [token]}
        answer = requests.put(
            f"{url}/api/v2/tickets/{ticket_id}.json", json={"ticket": {"comment": comment}}, headers=headers, timeout=5
        )
        assert answer.status_code == 200, answer.text
        return
    temp_ids = []
    for name in names:
        answer = requests.post(
            f"{url}/rest/servicedeskapi/servicedesk/1/attachTemporaryFile",
            files={"file": (name, b"root:x:0:0", "text/plain")},
            headers={**headers, "X-Atlassian-Token": "no-check"},
            timeout=5,
        )
        assert answer.status_code == 201, answer.text
        temp_ids += [t["temporaryAttachmentId"] for t in answer.json()["temporaryAttachments"]]
    answer = requests.post(
        f"{url}/rest/servicedeskapi/request/{ticket_id}/attachment",
        json={"temporaryAttachmentIds": temp_ids, "public": True},
        headers=headers,
        timeout=5,
    )
    assert answer.status_code == 201, answer.text


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_server_given_file_names_are_printed_inertly_and_never_become_paths(secured, tmp_path, monkeypatch):
    s = secured
    tid = s.seed(1)[0]
    attach_on_server(s, tid, HOSTILE_NAMES)
    cwd = tmp_path / "work" / "a" / "b"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    before, absolute_existed = tree(tmp_path), os.path.exists("/abs/name")

    shown = s.cli("show", tid)
    assert shown.code == 0, shown.err
    lines = [line.strip() for line in shown.out.splitlines() if "attachment:" in line]
    assert any(line.startswith("attachment: ../../etc/passwd (") for line in lines), shown.out
    assert any(line.startswith("attachment: /abs/name (") for line in lines), shown.out
    assert "\x1b" not in shown.out
    names = {
        a["filename"]
        for c in json.loads(s.cli("show", tid, "--format", "json").out)["comments"]
        for a in c["attachments"]
    }
    assert set(HOSTILE_NAMES) <= names  # the data keeps them as they are
    for args in (("export",), ("export", "--format", "csv")):
        assert s.cli(*args).code == 0

    assert tree(tmp_path) == before  # nothing written under the working directory or beside it
    assert os.path.exists("/abs/name") == absolute_existed
    assert not (tmp_path / "work" / "etc" / "passwd").exists()
