"""tixcli.ci: each provider detected from its documented environment, hostile values bounded, and
the `--dedupe-key auto` key stable from the red run to the green one and accepted by every backend."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tixcli.backends.jsm_workflow import dedupe_key_of, dedupe_label
from tixcli.ci import (
    CI_VARIABLES,
    MAX_KEY_LENGTH,
    MAX_VALUE,
    CIContext,
    detect,
    github_output_text,
    normalize_dedupe_key,
)
from tixcli.errors import ExitStatus, InvalidInputError

SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
OTHER_SHA = "89e6c98d92887913cadf06b2adb97f26cde4849b"


@pytest.fixture(autouse=True)
def no_ci_environment(monkeypatch):
    """CI runners set CI=true (and their own variables): none of it may leak into these tests."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# -- realistic environments, as each provider documents them ----------------------------------------


def github_pull_request(**changes: str) -> dict[str, str]:
    # https://docs.github.com/en/actions/reference/workflows-and-actions/variables
    env = {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_REPOSITORY_OWNER": "acme",
        "GITHUB_RUN_ID": "1658821493",
        "GITHUB_RUN_NUMBER": "87",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_SHA": SHA,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REF": "refs/pull/42/merge",
        "GITHUB_REF_NAME": "42/merge",
        "GITHUB_REF_TYPE": "branch",
        "GITHUB_HEAD_REF": "feature/login",
        "GITHUB_BASE_REF": "main",
        "GITHUB_WORKFLOW": "CI",
        "GITHUB_JOB": "test",
        "GITHUB_ACTOR": "octocat",
        "RUNNER_OS": "Linux",
        "GITHUB_OUTPUT": "/home/runner/work/_temp/_runner_file_commands/set_output_a50ef383",
    }
    env.update(changes)
    return env


def github_push(**changes: str) -> dict[str, str]:
    env = github_pull_request(
        GITHUB_EVENT_NAME="push", GITHUB_REF="refs/heads/feature/login", GITHUB_REF_NAME="feature/login"
    )
    del env["GITHUB_HEAD_REF"], env["GITHUB_BASE_REF"]
    env.update(changes)
    return env


def gitlab_merge_request(**changes: str) -> dict[str, str]:
    # https://docs.gitlab.com/ci/variables/predefined_variables/ (a merge request pipeline: no
    # CI_COMMIT_BRANCH; CI_COMMIT_REF_NAME has been seen as the merge request's ref)
    env = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_SERVER_URL": "https://gitlab.com",
        "CI_PROJECT_PATH": "acme/shop",
        "CI_PROJECT_URL": "https://gitlab.com/acme/shop",
        "CI_PIPELINE_ID": "1254",
        "CI_PIPELINE_IID": "77",
        "CI_PIPELINE_URL": "https://gitlab.com/acme/shop/-/pipelines/1254",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_PIPELINE_NAME": "MR: Fix the login form",
        "CI_JOB_ID": "987654",
        "CI_JOB_NAME": "unit: [3.12]",
        "CI_JOB_STAGE": "test",
        "CI_JOB_URL": "https://gitlab.com/acme/shop/-/jobs/987654",
        "CI_COMMIT_SHA": SHA,
        "CI_COMMIT_REF_NAME": "refs/merge-requests/59/head",
        "CI_MERGE_REQUEST_IID": "59",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/login",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_JOB_TOKEN": "glcbt-64_abcdefghijklmnopqrstuv",
    }
    env.update(changes)
    return env


def jenkins_multibranch_pr(**changes: str) -> dict[str, str]:
    # https://www.jenkins.io/doc/book/pipeline/jenkinsfile/#using-environment-variables, env-vars.html
    env = {
        "CI": "true",
        "JENKINS_URL": "https://ci.example.com/",
        "JENKINS_HOME": "/var/jenkins_home",
        "BUILD_NUMBER": "7",
        "BUILD_ID": "7",
        "BUILD_URL": "https://ci.example.com/job/acme/job/shop/job/PR-24/7/",
        "JOB_NAME": "acme/shop/PR-24",
        "JOB_BASE_NAME": "PR-24",
        "BRANCH_NAME": "PR-24",
        "CHANGE_ID": "24",
        "CHANGE_BRANCH": "feature/login",
        "CHANGE_TARGET": "main",
        "STAGE_NAME": "Test",
        "GIT_COMMIT": SHA,
        "GIT_URL": "https://jenkins:s3cr3t-t0ken@github.com/acme/shop.git",
        "GIT_BRANCH": "PR-24",
    }
    env.update(changes)
    return env


def circleci_branch(**changes: str) -> dict[str, str]:
    # https://circleci.com/docs/reference/variables/
    env = {
        "CI": "true",
        "CIRCLECI": "true",
        "CIRCLE_BRANCH": "feature/login",
        "CIRCLE_BUILD_NUM": "123",
        "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/shop/123",
        "CIRCLE_JOB": "test",
        "CIRCLE_NODE_INDEX": "0",
        "CIRCLE_NODE_TOTAL": "1",
        "CIRCLE_PROJECT_USERNAME": "acme",
        "CIRCLE_PROJECT_REPONAME": "shop",
        "CIRCLE_PULL_REQUEST": "https://github.com/acme/shop/pull/42",
        "CIRCLE_REPOSITORY_URL": "git@github.com:acme/shop.git",
        "CIRCLE_SHA1": SHA,
        "CIRCLE_WORKFLOW_ID": "fda08377-fe7e-46b1-8992-3a7aaecac9c3",
    }
    env.update(changes)
    return env


def buildkite_pull_request(**changes: str) -> dict[str, str]:
    # https://buildkite.com/docs/pipelines/configure/environment-variables
    env = {
        "CI": "true",
        "BUILDKITE": "true",
        "BUILDKITE_BRANCH": "feature/login",
        "BUILDKITE_BUILD_ID": "4735ba57-80d0-46e2-8fa0-b28223a86586",
        "BUILDKITE_BUILD_NUMBER": "1514",
        "BUILDKITE_BUILD_URL": "https://buildkite.com/acme-inc/shop/builds/1514",
        "BUILDKITE_COMMIT": SHA,
        "BUILDKITE_JOB_ID": "e44f9784-e20e-4b93-a21d-f41fd5869db9",
        "BUILDKITE_LABEL": ":pytest: Tests",
        "BUILDKITE_STEP_KEY": "tests",
        "BUILDKITE_ORGANIZATION_SLUG": "acme-inc",
        "BUILDKITE_PIPELINE_NAME": "Shop",
        "BUILDKITE_PIPELINE_SLUG": "shop",
        "BUILDKITE_PULL_REQUEST": "42",
        "BUILDKITE_PULL_REQUEST_BASE_BRANCH": "main",
        "BUILDKITE_REPO": "git@github.com:acme-inc/shop.git",
        "BUILDKITE_RETRY_COUNT": "1",
        "BUILDKITE_AGENT_ACCESS_TOKEN": "83d544ccc223c157d2bf80d3f2a32982c32c3c0db8e3674820da5064783fb091",
    }
    env.update(changes)
    return env


def azure_pull_request(**changes: str) -> dict[str, str]:
    # https://learn.microsoft.com/en-us/azure/devops/pipelines/build/variables (as a script sees them)
    env = {
        "TF_BUILD": "True",
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/fabrikam/",
        "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI": "https://dev.azure.com/fabrikam/",
        "SYSTEM_TEAMPROJECT": "Fabrikam Fiber",
        "BUILD_BUILDID": "1430",
        "BUILD_BUILDNUMBER": "20240807.3",
        "BUILD_DEFINITIONNAME": "shop-ci",
        "BUILD_REASON": "PullRequest",
        "BUILD_REPOSITORY_NAME": "shop",
        "BUILD_REPOSITORY_URI": "https://dev.azure.com/fabrikam/_git/shop",
        "BUILD_SOURCEBRANCH": "refs/pull/17/merge",
        "BUILD_SOURCEBRANCHNAME": "merge",
        "BUILD_SOURCEVERSION": SHA,
        "SYSTEM_PULLREQUEST_PULLREQUESTID": "17",
        "SYSTEM_PULLREQUEST_SOURCEBRANCH": "refs/heads/users/raisa/new-feature",
        "SYSTEM_PULLREQUEST_TARGETBRANCH": "refs/heads/main",
        "SYSTEM_STAGENAME": "Test",
        "SYSTEM_STAGEDISPLAYNAME": "Test",
        "SYSTEM_JOBNAME": "unit",
        "SYSTEM_JOBDISPLAYNAME": "Unit linux",
        "AGENT_JOBNAME": "Unit linux",
        "SYSTEM_JOBATTEMPT": "1",
    }
    env.update(changes)
    return env


PROVIDER_ENVIRONMENTS = {
    "github-actions": github_pull_request,
    "gitlab": gitlab_merge_request,
    "jenkins": jenkins_multibranch_pr,
    "circleci": circleci_branch,
    "buildkite": buildkite_pull_request,
    "azure-pipelines": azure_pull_request,
}


# -- detection ----------------------------------------------------------------------------------------


def test_github_pull_request_run():
    ctx = detect(github_pull_request(GITHUB_RUN_ATTEMPT="2"))
    assert ctx == CIContext(
        provider="github-actions",
        run_url="https://github.com/acme/shop/actions/runs/1658821493/attempts/2",
        repository="acme/shop",
        commit=SHA,
        branch="feature/login",  # the pull request's head, not GITHUB_REF_NAME's "42/merge"
        workflow="CI",
        job="test",
        attempt="2",
    )


def test_github_push_run_uses_the_ref_name():
    ctx = detect(github_push())
    assert ctx is not None and ctx.branch == "feature/login"


def test_github_enterprise_server_url():
    ctx = detect(github_push(GITHUB_SERVER_URL="https://github.example.com/"))
    assert ctx is not None
    assert ctx.run_url == "https://github.example.com/acme/shop/actions/runs/1658821493/attempts/1"


def test_gitlab_merge_request_pipeline():
    ctx = detect(gitlab_merge_request())
    assert ctx == CIContext(
        provider="gitlab",
        run_url="https://gitlab.com/acme/shop/-/jobs/987654",
        repository="acme/shop",
        commit=SHA,
        branch="feature/login",  # the source branch, not CI_COMMIT_REF_NAME's merge request ref
        workflow=None,  # CI_PIPELINE_NAME carries the MR title here: not stable
        job="unit: [3.12]",
        attempt=None,
    )


def test_gitlab_branch_pipeline_and_the_pipeline_url_fallback():
    env = gitlab_merge_request(CI_COMMIT_BRANCH="main", CI_COMMIT_REF_NAME="main", CI_PIPELINE_SOURCE="push")
    del env["CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"], env["CI_JOB_URL"]
    ctx = detect(env)
    assert ctx is not None
    assert (ctx.branch, ctx.run_url) == ("main", "https://gitlab.com/acme/shop/-/pipelines/1254")


def test_jenkins_multibranch_pull_request():
    ctx = detect(jenkins_multibranch_pr())
    assert ctx == CIContext(
        provider="jenkins",
        run_url="https://ci.example.com/job/acme/job/shop/job/PR-24/7/",
        repository="acme/shop",  # from GIT_URL, without its credentials
        commit=SHA,
        branch="feature/login",  # CHANGE_BRANCH, not BRANCH_NAME's "PR-24"
        workflow="acme/shop",  # JOB_NAME without the branch job's own name
        job="Test",
        attempt=None,
    )
    assert "s3cr3t" not in ctx.body_block()


def test_jenkins_freestyle_job():
    env = {
        "JENKINS_URL": "https://ci.example.com/",
        "BUILD_URL": "https://ci.example.com/job/shop-nightly/15/",
        "JOB_NAME": "shop-nightly",
        "GIT_BRANCH": "origin/main",
        "GIT_URL": "git@github.com:acme/shop.git",
        "GIT_COMMIT": SHA,
    }
    ctx = detect(env)
    assert ctx is not None
    assert (ctx.provider, ctx.branch, ctx.workflow, ctx.repository) == ("jenkins", "main", "shop-nightly", "acme/shop")


def test_circleci():
    ctx = detect(circleci_branch())
    assert ctx == CIContext(
        provider="circleci",
        run_url="https://circleci.com/gh/acme/shop/123",
        repository="acme/shop",
        commit=SHA,
        branch="feature/login",
        workflow=None,  # only CIRCLE_WORKFLOW_ID, new every run
        job="test",
    )


def test_circleci_without_project_names_reads_the_repository_url():
    env = circleci_branch(CIRCLE_REPOSITORY_URL="https://gitlab.com/acme/shop.git")
    del env["CIRCLE_PROJECT_USERNAME"], env["CIRCLE_PROJECT_REPONAME"]
    ctx = detect(env)
    assert ctx is not None and ctx.repository == "acme/shop"


def test_buildkite_pull_request_retried():
    ctx = detect(buildkite_pull_request())
    assert ctx == CIContext(
        provider="buildkite",
        run_url="https://buildkite.com/acme-inc/shop/builds/1514",
        repository="acme-inc/shop",
        commit=SHA,
        branch="feature/login",
        workflow="shop",
        job=":pytest: Tests",
        attempt="2",  # retried once
    )


def test_azure_pipelines_pull_request():
    ctx = detect(azure_pull_request(SYSTEM_JOBATTEMPT="3"))
    assert ctx == CIContext(
        provider="azure-pipelines",
        run_url="https://dev.azure.com/fabrikam/Fabrikam%20Fiber/_build/results?buildId=1430",
        repository="shop",
        commit=SHA,
        branch="users/raisa/new-feature",  # the PR's source, not refs/pull/17/merge nor "new-feature"
        workflow="shop-ci",
        job="Test / Unit linux",
        attempt="3",
    )


def test_azure_single_stage_pipeline_and_branch_build():
    env = azure_pull_request(SYSTEM_STAGENAME="__default", BUILD_SOURCEBRANCH="refs/heads/main")
    del env["SYSTEM_PULLREQUEST_SOURCEBRANCH"], env["SYSTEM_STAGEDISPLAYNAME"]
    ctx = detect(env)
    assert ctx is not None and (ctx.job, ctx.branch) == ("Unit linux", "main")


def test_generic_ci_true():
    ctx = detect({"CI": "true"})
    assert ctx == CIContext(provider="ci")
    assert ctx.tags() == ["ci", "ci"]
    assert ctx.body_block() == "---\nProvider: CI"


@pytest.mark.parametrize("env", [{}, {"CI": "false"}, {"CI": ""}, {"GITHUB_ACTIONS": "false"}, {"HOME": "/root"}])
def test_no_ci_at_all(env):
    assert detect(env) is None


def test_detect_reads_os_environ_by_default(monkeypatch):
    assert detect() is None
    for name, value in buildkite_pull_request().items():
        monkeypatch.setenv(name, value)
    ctx = detect()
    assert ctx is not None and ctx.provider == "buildkite"


class Recording(Mapping[str, str]):
    """A mapping that notes every name asked of it."""

    def __init__(self, data: dict[str, str]) -> None:
        self.data, self.asked = data, set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self.data[name]

    def get(self, name, default=None):
        self.asked.add(name)
        return self.data.get(name, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("detect() must not list the environment")

    def __len__(self) -> int:
        return len(self.data)


@pytest.mark.parametrize("provider", [*PROVIDER_ENVIRONMENTS, "none", "generic"])
def test_every_variable_detect_reads_is_in_CI_VARIABLES(provider):
    if provider == "none":
        data: dict[str, str] = {}
    elif provider == "generic":
        data = {"CI": "true"}
    else:
        data = PROVIDER_ENVIRONMENTS[provider]()
    env = Recording(data)
    detect(env)
    assert env.asked, "nothing was read"
    assert env.asked <= set(CI_VARIABLES), env.asked - set(CI_VARIABLES)


def test_CI_VARIABLES_holds_the_flags_and_GITHUB_OUTPUT():
    flags = {"CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "CIRCLECI", "BUILDKITE", "TF_BUILD"}
    assert flags <= set(CI_VARIABLES)
    assert "GITHUB_OUTPUT" in CI_VARIABLES
    assert len(CI_VARIABLES) == len(set(CI_VARIABLES))


@pytest.mark.parametrize("provider", PROVIDER_ENVIRONMENTS)
def test_each_provider_is_detected_with_its_tags(provider):
    ctx = detect(PROVIDER_ENVIRONMENTS[provider]())
    assert ctx is not None and ctx.provider == provider
    assert ctx.tags() == ["ci", provider]


# -- the body block --------------------------------------------------------------------------------


def test_body_block_has_only_the_known_lines():
    ctx = detect(github_pull_request())
    assert ctx is not None
    assert ctx.body_block() == (
        "---\n"
        "CI run: https://github.com/acme/shop/actions/runs/1658821493/attempts/1\n"
        "Provider: GitHub Actions\n"
        "Repository: acme/shop\n"
        f"Commit: {SHA}\n"
        "Branch: feature/login\n"
        "Workflow: CI\n"
        "Job: test\n"
        "Attempt: 1"
    )
    circle = detect(circleci_branch())
    assert circle is not None
    block = circle.body_block()
    assert "Workflow:" not in block and "Attempt:" not in block and "None" not in block


# -- hostile values ---------------------------------------------------------------------------------


def test_values_lose_control_characters_and_are_bounded():
    hostile = github_pull_request(
        GITHUB_HEAD_REF="feat\x1b[31m\r\nInjected: yes\u202e\u200b\x00",
        GITHUB_JOB="j" * 10_000,
        GITHUB_WORKFLOW="\t  CI \n\n build  ",
        GITHUB_SHA="\ud800" + SHA,
    )
    ctx = detect(hostile)
    assert ctx is not None
    assert ctx.branch == "feat[31m Injected: yes"
    assert ctx.workflow == "CI build"
    assert ctx.commit == SHA
    assert ctx.job is not None and len(ctx.job) <= MAX_VALUE and ctx.job.endswith("…")
    block = ctx.body_block()
    assert len(block.splitlines()) == 9
    assert not any(ch < " " and ch != "\n" for ch in block) and "\u202e" not in block


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://ci.example.com/job/1",
        "https://ci.example.com/job 1",
        "https://ci.example.com/job/1\nInjected: yes",
        "//ci.example.com/job/1",
        "https://",
        "https://ci.example.com/" + "a" * 5000,
        "https://ci.example.com/<script>",
        "https://[::1",
    ],
)
def test_run_url_is_only_ever_http(url):
    ctx = detect({"JENKINS_URL": "https://ci.example.com/", "BUILD_URL": url})
    assert ctx is not None and ctx.run_url is None


def test_run_url_loses_its_credentials():
    ctx = detect({"JENKINS_URL": "x", "BUILD_URL": "HTTPS://admin:hunter2@ci.example.com/job/1/"})
    assert ctx is not None and ctx.run_url == "https://ci.example.com/job/1/"


def test_a_hostile_repository_never_makes_a_bad_github_url():
    ctx = detect(github_push(GITHUB_REPOSITORY='acme/shop"><img src=x>'))
    assert ctx is not None and ctx.run_url is None


def test_numbers_must_be_numbers():
    ctx = detect(github_push(GITHUB_RUN_ATTEMPT="2; DROP TABLE", GITHUB_RUN_ID="٣٤"))
    assert ctx is not None and ctx.attempt is None and ctx.run_url is None
    kite = detect(buildkite_pull_request(BUILDKITE_RETRY_COUNT="-1"))
    assert kite is not None and kite.attempt is None


# -- the dedupe key ---------------------------------------------------------------------------------


def auto_key(env: dict[str, str]) -> str:
    ctx = detect(env)
    assert ctx is not None
    return ctx.dedupe_key()


@pytest.mark.parametrize("provider", PROVIDER_ENVIRONMENTS)
def test_dedupe_key_is_the_same_in_the_green_run(provider):
    make = PROVIDER_ENVIRONMENTS[provider]
    red = make()
    # the green run: another commit, another run, a retry
    green = {
        **red,
        **{k: OTHER_SHA for k in red if k.endswith(("SHA", "SHA1", "COMMIT", "SOURCEVERSION"))},
        **{k: "3" for k in red if k.endswith(("ATTEMPT", "RETRY_COUNT"))},
        **{k: "99999" for k in red if k.endswith(("RUN_ID", "BUILDID", "BUILD_NUM", "BUILD_NUMBER", "JOB_ID"))},
    }
    for url in ("BUILD_URL", "CI_JOB_URL", "CIRCLE_BUILD_URL", "BUILDKITE_BUILD_URL"):
        if url in green:
            green[url] = green[url].rstrip("/") + "9/"
    assert green != red
    assert auto_key(red) == auto_key(green)
    assert detect(red) != detect(green)  # the context itself did change


def test_dedupe_key_reads_like_its_parts():
    assert auto_key(github_pull_request()) == "acme-shop--ci--test--feature-login"
    assert auto_key(gitlab_merge_request()) == "acme-shop----unit-3.12--feature-login"


def test_dedupe_key_red_pull_request_run_and_green_push_run_of_the_same_branch():
    assert auto_key(github_pull_request()) == auto_key(github_push())


@pytest.mark.parametrize(
    "change",
    [
        {"GITHUB_JOB": "lint"},
        {"GITHUB_HEAD_REF": "feature/logout"},
        {"GITHUB_REPOSITORY": "acme/shop-admin"},
        {"GITHUB_WORKFLOW": "Nightly"},
    ],
)
def test_dedupe_key_differs_across_jobs_branches_repositories_workflows(change):
    assert auto_key(github_pull_request()) != auto_key(github_pull_request(**change))


def test_dedupe_key_parts_are_joined_unambiguously():
    one = CIContext(provider="ci", repository="a-b", job="c")
    two = CIContext(provider="ci", repository="a", job="b-c")
    three = CIContext(provider="ci", repository="a", workflow="b", job="c")
    assert len({one.dedupe_key(), two.dedupe_key(), three.dedupe_key()}) == 3
    assert CIContext(provider="ci", job="x").dedupe_key() != CIContext(provider="ci", branch="x").dedupe_key()


def test_matrix_legs_sharing_a_job_name_share_the_key():
    # documented in tixcli.ci: GITHUB_JOB is the job id, the same for every leg of a matrix
    assert auto_key(github_pull_request(RUNNER_OS="Linux")) == auto_key(github_pull_request(RUNNER_OS="Windows"))
    # GitLab's parallel:matrix names each leg
    assert auto_key(gitlab_merge_request()) != auto_key(gitlab_merge_request(CI_JOB_NAME="unit: [3.13]"))


def test_dedupe_key_keeps_names_in_other_scripts_apart():
    one = CIContext(provider="ci", repository="acme/shop", job="テスト")
    two = CIContext(provider="ci", repository="acme/shop", job="ビルド")
    assert one.dedupe_key() != two.dedupe_key()
    assert CIContext(provider="ci", job="Café").dedupe_key() == "----cafe--"


def test_dedupe_key_is_lowercase_and_always_a_valid_jsm_label():
    huge = "Ω/ß " * 200
    for ctx in (
        detect(github_pull_request()),
        detect(azure_pull_request()),
        CIContext(provider="ci", repository=huge, workflow=huge, job=huge, branch=huge),
        CIContext(provider="ci", repository="A" * 300, workflow="B" * 300, job="C" * 300, branch="D" * 300),
    ):
        assert ctx is not None
        key = ctx.dedupe_key()
        assert key == key.lower()
        label = dedupe_label(key)  # raises InvalidInputError past 255 characters
        assert len(label) <= 255 and dedupe_key_of(label) == key


def test_dedupe_key_without_any_part_is_refused():
    with pytest.raises(InvalidInputError) as info:
        CIContext(provider="ci").dedupe_key()
    assert info.value.exit_status == ExitStatus.INVALID_INPUT


def test_normalize_dedupe_key():
    assert normalize_dedupe_key("  Deploy  Failed\ton PROD ") == "deploy-failed-on-prod"
    assert normalize_dedupe_key("ＡＢＣ\u200b\x00") == "abc"
    assert normalize_dedupe_key("build:main/#42") == "build:main/#42"
    with pytest.raises(InvalidInputError):
        normalize_dedupe_key(" \x00\u200b ")


def test_long_keys_are_cut_and_stay_distinct():
    first, second = "x" * 400 + "-first", "x" * 400 + "-second"
    a, b = normalize_dedupe_key(first), normalize_dedupe_key(second)
    assert a != b
    assert a.startswith("x" * 200) and len(a) == MAX_KEY_LENGTH
    assert normalize_dedupe_key(first) == a  # stable
    wide = normalize_dedupe_key("é" * 300)  # 6 label characters each
    assert len(dedupe_label(wide)) <= 255
    assert normalize_dedupe_key("x" * MAX_KEY_LENGTH) == "x" * MAX_KEY_LENGTH


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=400))
def test_normalized_keys_are_stable_and_every_backend_takes_them(text):
    try:
        key = normalize_dedupe_key(text)
    except InvalidInputError:
        return
    assert normalize_dedupe_key(key) == key
    assert key.lower() == key
    assert key.strip() == key and "\x00" not in key
    key.encode("utf-8")  # no lone surrogates: SQLite and the HTTP backends store UTF-8
    label = dedupe_label(key)
    assert len(label) <= 255 and dedupe_key_of(label) == key


# -- GITHUB_OUTPUT ----------------------------------------------------------------------------------


def test_github_output_text():
    assert github_output_text({"ticket-id": "42", "ticket-url": "", "created": "true"}) == (
        "ticket-id=42\nticket-url=\ncreated=true\n"
    )
    text = github_output_text({"ticket-id": "42\ncreated=false"})
    first, value, delimiter = text.splitlines()[:3]
    assert first.startswith("ticket-id<<ghadelimiter_") and value == "42"
    assert text.splitlines()[3] == first.split("<<")[1] and delimiter == "created=false"
    with pytest.raises(ValueError):
        github_output_text({"bad name": "x"})
