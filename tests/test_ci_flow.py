"""A CI job's view: a ticket found by its dedupe key, the run's context, redacted logs, stdin files.

Through the real CLI on every backend (SQLite file, both stand-ins over loopback HTTP), and
README's GitHub Actions step and GitLab CI job run as written with each provider's variables set
as its documentation says.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path

import yaml
from cli import TIXCLI, run

ROOT = Path(__file__).resolve().parent.parent
FAKE_GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
SHA = "3f786850e387550fdab836ed7e6dc881de23001b"


def github_env(tmp_path: Path, **over: str) -> dict[str, str]:
    """A push run of GitHub Actions, as its docs list the default variables."""
    output = tmp_path / "github_output"
    output.touch()
    return {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "9123456789",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_RUN_NUMBER": "42",
        "GITHUB_SHA": SHA,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_REF_TYPE": "branch",
        "GITHUB_HEAD_REF": "",
        "GITHUB_BASE_REF": "",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_WORKFLOW": "CI",
        "GITHUB_JOB": "test",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_OUTPUT": str(output),
        "RUNNER_OS": "Linux",
        **over,
    }


def gitlab_env(**over: str) -> dict[str, str]:
    """A branch pipeline's job on GitLab CI, as its predefined variables are documented."""
    return {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_SERVER_URL": "https://gitlab.example.com",
        "CI_PROJECT_PATH": "acme/shop",
        "CI_PROJECT_URL": "https://gitlab.example.com/acme/shop",
        "CI_PIPELINE_ID": "1001",
        "CI_PIPELINE_URL": "https://gitlab.example.com/acme/shop/-/pipelines/1001",
        "CI_JOB_ID": "5005",
        "CI_JOB_URL": "https://gitlab.example.com/acme/shop/-/jobs/5005",
        "CI_JOB_NAME": "test",
        "CI_JOB_STAGE": "test",
        "CI_COMMIT_SHA": SHA,
        "CI_COMMIT_REF_NAME": "main",
        "CI_COMMIT_BRANCH": "main",
        "CI_PIPELINE_SOURCE": "push",
        **over,
    }


def cli(harness, *args: str, env: dict[str, str] | None = None, stdin: bytes = b""):
    return run("--config", str(harness.config_path), *args, env={**harness.env, **(env or {})}, stdin=stdin)


def show(harness, *args: str) -> dict:
    result = cli(harness, "show", *args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


# -- a ticket found by its key ----------------------------------------------------------------


def test_every_id_argument_takes_a_dedupe_key(harness, tmp_path):
    made = cli(harness, "create", "--subject", "build broke", "--body", "red", "--dedupe-key", "ci:main")
    assert made.code == 0, made.err
    ticket_id = made.out.strip()
    again = cli(harness, "create", "--subject", "build broke", "--body", "red again", "--dedupe-key", "ci:main")
    assert again.code == 0 and again.out.strip() == ticket_id
    assert f"added to #{ticket_id}: open ticket with dedupe key ci:main" in again.err
    key = ["--dedupe-key", "ci:main"]
    assert show(harness, *key)["id"] == ticket_id
    assert cli(harness, "reply", *key, "--body", "third").code == 0
    log = tmp_path / "build.log"
    log.write_text("failed\n")
    attached = cli(harness, "attach", *key, str(log))
    assert attached.code == 0, attached.err
    edited = cli(harness, "edit", *key, "--priority", "high")
    assert edited.code == 0, edited.err
    listed = cli(harness, "cc", *key)
    assert listed.code == 0, listed.err
    thread = show(harness, *key)
    assert thread["priority"] == "high"
    assert [c["body"] for c in thread["comments"]][:3] == ["red", "red again", "third"]
    (tmp_path / "out").mkdir()
    downloaded = cli(harness, "download", *key, "--dir", str(tmp_path / "out"))
    assert downloaded.code == 0, downloaded.err
    assert (tmp_path / "out" / "build.log").read_text() == "failed\n"
    assert cli(harness, "solve", *key, "--body", "green").code == 0
    assert cli(harness, "reopen", *key, "--body", "red once more").code == 0
    closed = cli(harness, "close", *key, "--format", "json")
    assert closed.code == 0, closed.err
    assert json.loads(closed.out)["id"] == ticket_id and json.loads(closed.out)["status"] == "closed"


def test_a_key_no_open_ticket_carries(harness):
    for verb in ("solve", "close"):
        result = cli(harness, verb, "--dedupe-key", "never-used", "--format", "json")
        assert result.code == 0, result.err
        assert "no open ticket with dedupe key never-used" in result.err
        assert json.loads(result.out) == {"id": None, "created": None, "changed": False}
    for args in (["show"], ["reply", "--body", "x"], ["edit", "--priority", "low"], ["cc"], ["reopen"], ["download"]):
        result = cli(harness, args[0], "--dedupe-key", "never-used", *args[1:])
        assert result.code == 4, (args, result.err)
        assert "no open ticket with dedupe key never-used" in result.err


def test_id_and_key_together_or_neither(harness):
    both = cli(harness, "show", "1", "--dedupe-key", "k")
    assert both.code == 6 and "not both" in both.err
    neither = cli(harness, "show")
    assert neither.code == 2 and "--dedupe-key" in neither.err


def test_several_open_tickets_with_one_key_are_named(zendesk_harness):
    server = zendesk_harness.server
    first, second = server.seed_tickets(2, external_id="shared-key")
    result = cli(zendesk_harness, "solve", "--dedupe-key", "shared-key")
    assert result.code == 6, result.err
    assert f"2 open tickets carry dedupe key 'shared-key': {first}, {second}" in result.err


# -- the run's context --------------------------------------------------------------------------


def test_ci_adds_the_run_block_tags_and_github_outputs(harness, tmp_path):
    env = github_env(tmp_path)
    made = cli(harness, "create", "--ci", "--dedupe-key", "auto", "--subject", "CI failed", "--body", "red", env=env)
    assert made.code == 0, made.err
    ticket = show(harness, made.out.strip())
    assert {"ci", "github-actions"} <= set(ticket["tags"])
    body = ticket["comments"][0]["body"]
    assert body.startswith("red\n\n")
    assert "https://github.com/acme/shop/actions/runs/9123456789" in body and SHA in body
    assert "Branch: main" in body and "Job: test" in body
    outputs = Path(env["GITHUB_OUTPUT"]).read_text().splitlines()
    assert outputs[0] == f"ticket-id={ticket['id']}" and outputs[2] == "created=true"
    assert outputs[1] == f"ticket-url={ticket['url'] or ''}"
    # The green run (a new attempt and commit) finds the same ticket by the same auto key.
    green = github_env(tmp_path, GITHUB_RUN_ID="9123456790", GITHUB_RUN_ATTEMPT="2", GITHUB_SHA="a" * 40)
    solved = cli(harness, "solve", "--ci", "--dedupe-key", "auto", "--format", "json", env=green)
    assert solved.code == 0, solved.err
    assert json.loads(solved.out)["id"] == ticket["id"] and json.loads(solved.out)["status"] == "solved"
    last = show(harness, ticket["id"])["comments"][-1]["body"]
    assert last.startswith("The CI job passes again.") and "runs/9123456790" in last
    assert Path(green["GITHUB_OUTPUT"]).read_text().splitlines()[-1] == "created=false"


def test_ci_and_auto_need_a_ci_run(sqlite_harness):
    no_ci = cli(sqlite_harness, "create", "--ci", "--subject", "s", "--body", "b")
    assert no_ci.code == 6 and "--ci needs a CI run" in no_ci.err
    auto = cli(sqlite_harness, "solve", "--dedupe-key", "auto")
    assert auto.code == 6 and "needs a CI run" in auto.err
    generic = cli(sqlite_harness, "create", "--dedupe-key", "auto", "--subject", "s", "--body", "b", env={"CI": "true"})
    assert generic.code == 6, generic.err
    assert run("--config", str(sqlite_harness.config_path), "list", "--all").out.strip() == ""


# -- logs and standard input ----------------------------------------------------------------------


def test_attach_log_redacts_and_keeps_the_tail(sqlite_harness, tmp_path):
    log = tmp_path / "build.txt"
    lines = [f"step {n}" for n in range(500)]
    lines[-3] = f"git clone https://x-access-token:{FAKE_GITHUB_TOKEN}@github.com/acme/shop"
    lines[-2] = "Authorization: Bearer abcdef0123456789abcdef"
    lines[-1] = "deploying with s3cr3t-value-from-env"
    log.write_bytes("\n".join(lines).encode() + b"\nbad byte: \xff\n")
    env = {"DEPLOY_TOKEN": "s3cr3t-value-from-env"}
    made = cli(
        sqlite_harness, "create", "-s", "s", "--body", "b", "--attach-log", str(log), "--log-lines", "50", env=env
    )
    assert made.code == 0, made.err
    assert re.search(r"build\.log: redacted [1-9][0-9]* secrets", made.err), made.err
    out = tmp_path / "out"
    out.mkdir()
    assert cli(sqlite_harness, "download", made.out.strip(), "--dir", str(out)).code == 0
    text = (out / "build.log").read_text(encoding="utf-8")
    assert len(text.splitlines()) == 50 and text.splitlines()[0] == "step 451"  # 500 lines + 1: the last 50
    assert FAKE_GITHUB_TOKEN not in text and "abcdef0123456789abcdef" not in text
    assert "s3cr3t-value-from-env" not in text and "\ufffd" in text


def test_log_options_are_checked_before_anything_is_sent(sqlite_harness, tmp_path):
    log = tmp_path / "a.log"
    log.write_text("x\n")
    zero = cli(sqlite_harness, "create", "-s", "s", "--body", "b", "--attach-log", str(log), "--log-lines", "0")
    assert zero.code == 6 and "--log-lines" in zero.err
    missing = cli(sqlite_harness, "create", "-s", "s", "--body", "b", "--attach-log", str(tmp_path / "nope.log"))
    assert missing.code == 6
    config = sqlite_harness.config_path
    config.write_text(config.read_text() + "    attachments:\n      allowed_types: [png, txt]\n")
    refused = cli(sqlite_harness, "create", "-s", "s", "--body", "b", "--attach-log", str(log))
    assert refused.code == 6 and "'log' is not allowed" in refused.err
    assert run("--config", str(config), "list", "--all").out.strip() == "", "nothing was stored"


def test_attach_stdin(sqlite_harness, tmp_path):
    made = cli(sqlite_harness, "create", "-s", "s", "--body", "b", "--attach-stdin", "report.html", stdin=b"<p>hi</p>")
    assert made.code == 0, made.err
    [comment] = show(sqlite_harness, made.out.strip())["comments"]
    assert [(a["filename"], a["size"]) for a in comment["attachments"]] == [("report.html", 9)]
    both = cli(sqlite_harness, "reply", "1", "--body-file", "-", "--attach-stdin", "x.txt", stdin=b"text")
    assert both.code == 6 and "both read standard input" in both.err


def test_attach_stdin_refuses_a_terminal(sqlite_harness):
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [str(TIXCLI), "--config", str(sqlite_harness.config_path), "create", "-s", "s", "--body", "b"]
            + ["--attach-stdin", "x.txt"],
            stdin=slave,
            capture_output=True,
            timeout=60,
            env=os.environ,
        )
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 6 and b"is a terminal" in proc.stderr, proc.stderr


# -- README's CI examples, as written -------------------------------------------------------------


def readme_yaml_blocks() -> list[object]:
    text = (ROOT / "README.md").read_text()
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def github_steps() -> dict[str, str]:
    for block in readme_yaml_blocks():
        if isinstance(block, dict) and "steps" in block:
            return {step["if"]: step["run"] for step in block["steps"] if "if" in step}
    raise AssertionError("README has no GitHub Actions steps")


def gitlab_after_script() -> list[str]:
    for block in readme_yaml_blocks():
        if isinstance(block, dict):
            for job in block.values():
                if isinstance(job, dict) and "after_script" in job:
                    return job["after_script"]
    raise AssertionError("README has no GitLab CI job with after_script")


def backend_env(harness) -> dict[str, str]:
    """What the job's `env:` gives tixcli: the profile (TIXCLI_CONFIG) and its token."""
    return {"TIXCLI_CONFIG": str(harness.config_path), **harness.env}


def run_step(script: str, env: dict[str, str], cwd: Path, shell: list[str]) -> subprocess.CompletedProcess:
    base = {"PATH": f"{TIXCLI.parent}:/usr/bin:/bin", "HOME": os.environ["HOME"], "LANG": "C.UTF-8"}
    return subprocess.run([*shell, script], env={**base, **env}, cwd=cwd, capture_output=True, timeout=120)


def check_ci_ticket(harness, provider: str, failures: int) -> dict:
    listed = cli(harness, "list", "--all", "--status", "any", "--format", "json")
    assert listed.code == 0, listed.err
    tickets = json.loads(listed.out)
    assert len(tickets) == 1, "one ticket for every failure of the job"
    ticket = show(harness, tickets[0]["id"])
    assert {"ci", provider} <= set(ticket["tags"])
    assert ticket["status"] == "solved"
    bodies = [c["body"] for c in ticket["comments"]]
    assert sum("failed" in b for b in bodies) >= failures
    logs = [a for c in ticket["comments"] for a in c["attachments"] if a["filename"] == "build.log"]
    assert len(logs) == failures
    return ticket


def test_readme_github_actions_steps_run_as_written(harness, tmp_path):
    steps = github_steps()
    (tmp_path / "build.log").write_text(f"FAIL test_checkout\ntoken {FAKE_GITHUB_TOKEN}\n")
    shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]  # GitHub's `run` on Linux
    for attempt in ("1", "2"):
        env = {**github_env(tmp_path, GITHUB_RUN_ATTEMPT=attempt), **backend_env(harness)}
        red = run_step(steps["failure()"], env, tmp_path, shell)
        assert red.returncode == 0, red.stderr
    outputs = (tmp_path / "github_output").read_text()
    assert outputs.count("created=true") == 1 and outputs.count("created=false") == 1
    green_env = {**github_env(tmp_path, GITHUB_RUN_ID="9123456799", GITHUB_SHA="b" * 40), **backend_env(harness)}
    green = run_step(steps["success()"], green_env, tmp_path, shell)
    assert green.returncode == 0, green.stderr
    check_ci_ticket(harness, "github-actions", failures=2)


def test_readme_gitlab_job_runs_as_written(harness, tmp_path):
    [script] = gitlab_after_script()
    (tmp_path / "build.log").write_text("FAIL test_checkout\n")
    shell = ["sh", "-c"]
    red = run_step(script, {**gitlab_env(CI_JOB_STATUS="failed"), **backend_env(harness)}, tmp_path, shell)
    assert red.returncode == 0, red.stderr
    green_env = {**gitlab_env(CI_JOB_STATUS="success", CI_JOB_ID="5006", CI_COMMIT_SHA="c" * 40)}
    green = run_step(script, {**green_env, **backend_env(harness)}, tmp_path, shell)
    assert green.returncode == 0, green.stderr
    check_ci_ticket(harness, "gitlab", failures=1)
