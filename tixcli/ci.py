"""The CI run a command is part of (`--ci`, `--dedupe-key auto`), read from the environment.

``detect()`` recognises GitHub Actions, GitLab CI, Jenkins, CircleCI, Buildkite and Azure Pipelines
from the variables each one documents (the URL is in a comment by each reader below), or a generic
CI that only sets ``CI=true``; with neither it returns None. Every value comes from the environment
and is treated as hostile: control and format characters are dropped, each value is bounded
(MAX_VALUE characters), and ``run_url`` is only ever an http(s) URL without credentials.

``CIContext.dedupe_key()`` is the ``--dedupe-key auto`` key. It is made of the repository, the
workflow (pipeline), the job and the branch (the pull or merge request's head branch where there is
one), so the red run and the green run that follows it compute the same key; the commit, the attempt
and the run URL are not part of it. Matrix legs (and parallel copies) that share a job name get the
same key: a workflow that runs a job over a matrix must name the legs apart (for example
``name: test (${{ matrix.python }})`` on GitHub, whose GITHUB_JOB is the job id, the same for every
leg) or pass its own ``--dedupe-key``. GitLab (``parallel:matrix``) and Buildkite (a matrix label)
already give each leg its own job name.

``normalize_dedupe_key()`` makes any key acceptable to every backend: the SQLite store (any text),
Zendesk's ``external_id`` and JSM, where the key becomes the label ``tixcli-dedupe-`` + the key with
every character outside ``[A-Za-z0-9.-]`` written as ``_XX`` per UTF-8 byte, at most 255 characters
(backends/jsm_workflow.py, ``dedupe_label``): a normalised key encodes to at most MAX_KEY_LENGTH
characters.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from .errors import InvalidInputError

MAX_VALUE = 300  # characters kept of any value read from the environment
MAX_URL = 2048  # a longer run URL is dropped, not cut (a cut URL points elsewhere)
# 255 characters for a Jira label, less the prefix "tixcli-dedupe-" (14) that dedupe_label adds.
MAX_KEY_LENGTH = 241
_HASH_LENGTH = 12  # hex digits of sha256 that end a cut key

PROVIDER_NAMES = {
    "github-actions": "GitHub Actions",
    "gitlab": "GitLab CI",
    "jenkins": "Jenkins",
    "circleci": "CircleCI",
    "buildkite": "Buildkite",
    "azure-pipelines": "Azure Pipelines",
    "ci": "CI",
}

CI_VARIABLES: tuple[str, ...] = (
    # generic
    "CI",
    # GitHub Actions
    "GITHUB_ACTIONS",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_SHA",
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "GITHUB_WORKFLOW",
    "GITHUB_JOB",
    # not read by detect(): the file `--ci` appends its outputs to (tests scrub it all the same)
    "GITHUB_OUTPUT",
    # GitLab CI
    "GITLAB_CI",
    "CI_JOB_URL",
    "CI_PIPELINE_URL",
    "CI_PROJECT_PATH",
    "CI_COMMIT_SHA",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_REF_NAME",
    "CI_JOB_NAME",
    # Jenkins
    "JENKINS_URL",
    "JENKINS_HOME",
    "BUILD_URL",
    "JOB_NAME",
    "STAGE_NAME",
    "GIT_URL",
    "GIT_COMMIT",
    "CHANGE_BRANCH",
    "BRANCH_NAME",
    "GIT_BRANCH",
    # CircleCI
    "CIRCLECI",
    "CIRCLE_BUILD_URL",
    "CIRCLE_PROJECT_USERNAME",
    "CIRCLE_PROJECT_REPONAME",
    "CIRCLE_REPOSITORY_URL",
    "CIRCLE_SHA1",
    "CIRCLE_BRANCH",
    "CIRCLE_JOB",
    # Buildkite
    "BUILDKITE",
    "BUILDKITE_BUILD_URL",
    "BUILDKITE_REPO",
    "BUILDKITE_COMMIT",
    "BUILDKITE_BRANCH",
    "BUILDKITE_PIPELINE_SLUG",
    "BUILDKITE_PIPELINE_NAME",
    "BUILDKITE_LABEL",
    "BUILDKITE_STEP_KEY",
    "BUILDKITE_RETRY_COUNT",
    # Azure Pipelines
    "TF_BUILD",
    "SYSTEM_COLLECTIONURI",
    "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI",
    "SYSTEM_TEAMPROJECT",
    "BUILD_BUILDID",
    "BUILD_REPOSITORY_NAME",
    "BUILD_SOURCEVERSION",
    "SYSTEM_PULLREQUEST_SOURCEBRANCH",
    "BUILD_SOURCEBRANCH",
    "BUILD_DEFINITIONNAME",
    "SYSTEM_STAGENAME",
    "SYSTEM_STAGEDISPLAYNAME",
    "SYSTEM_JOBDISPLAYNAME",
    "AGENT_JOBNAME",
    "SYSTEM_JOBNAME",
    "SYSTEM_JOBATTEMPT",
)


@dataclass(frozen=True)
class CIContext:
    """One CI run as its environment describes it; every field already cleaned and bounded."""

    provider: str  # a key of PROVIDER_NAMES
    run_url: str | None = None
    repository: str | None = None
    commit: str | None = None
    branch: str | None = None  # the pull/merge request's head (source) branch where there is one
    workflow: str | None = None  # workflow / pipeline name
    job: str | None = None
    attempt: str | None = None

    def body_block(self) -> str:
        """A short plain-text block to append to a comment body: only the lines that are known."""
        lines = ["---"]
        if self.run_url:
            lines.append(f"CI run: {self.run_url}")
        lines.append(f"Provider: {PROVIDER_NAMES.get(self.provider, self.provider)}")
        for label, value in (
            ("Repository", self.repository),
            ("Commit", self.commit),
            ("Branch", self.branch),
            ("Workflow", self.workflow),
            ("Job", self.job),
            ("Attempt", self.attempt),
        ):
            if value:
                lines.append(f"{label}: {value}")
        return "\n".join(lines)

    def tags(self) -> list[str]:
        return ["ci", self.provider]

    def dedupe_key(self) -> str:
        """The `--dedupe-key auto` key: repository, workflow, job and branch, normalised.

        Each part is reduced to ``[a-z0-9.-]`` with no leading, trailing or doubled ``-`` and the
        parts are joined with ``--``, so the join cannot be read two ways; an unknown part is empty.
        A part that loses letters it cannot spell in ASCII gets a short hash of itself, so two jobs
        named in another script stay apart. Raises InvalidInputError when no part is known (a
        generic ``CI=true`` run): one key for every failure would merge them all into one ticket."""
        parts = (self.repository, self.workflow, self.job, self.branch)
        if not any(parts):
            raise InvalidInputError(
                "--dedupe-key auto needs the run's repository, workflow, job or branch, "
                f"and the {PROVIDER_NAMES.get(self.provider, self.provider)} environment names none of them",
                hint="pass an explicit --dedupe-key",
            )
        return normalize_dedupe_key("--".join(_key_part(p) for p in parts))


def detect(env: Mapping[str, str] | None = None) -> CIContext | None:
    """The CI run described by `env` (default: os.environ); None when there is no CI at all."""
    if env is None:
        import os

        env = os.environ
    for flag, reader in _READERS:
        if _flag(env.get(flag)):
            return reader(env)
    if env.get("JENKINS_URL") or env.get("JENKINS_HOME"):  # Jenkins sets no flag variable of its own
        return _jenkins(env)
    if _flag(env.get("CI")):
        return CIContext(provider="ci")
    return None


# -- the providers -------------------------------------------------------------------------------


def _github(env: Mapping[str, str]) -> CIContext:
    # https://docs.github.com/en/actions/reference/workflows-and-actions/variables
    # (the run URL: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID, per that page)
    repository = _text(env.get("GITHUB_REPOSITORY"))
    run_id, attempt = _number(env.get("GITHUB_RUN_ID")), _number(env.get("GITHUB_RUN_ATTEMPT"))
    url = None
    if repository and run_id:
        server = (_text(env.get("GITHUB_SERVER_URL"), MAX_URL) or "https://github.com").rstrip("/")
        url = f"{server}/{repository}/actions/runs/{run_id}" + (f"/attempts/{attempt}" if attempt else "")
    return CIContext(
        provider="github-actions",
        run_url=_url(url),
        repository=repository,
        commit=_text(env.get("GITHUB_SHA")),
        # GITHUB_HEAD_REF is set on pull_request(_target) events only; GITHUB_REF_NAME is then "<n>/merge"
        branch=_branch(env.get("GITHUB_HEAD_REF")) or _branch(env.get("GITHUB_REF_NAME")),
        workflow=_text(env.get("GITHUB_WORKFLOW")),
        job=_text(env.get("GITHUB_JOB")),
        attempt=attempt,
    )


def _gitlab(env: Mapping[str, str]) -> CIContext:
    # https://docs.gitlab.com/ci/variables/predefined_variables/
    # No workflow: CI_PIPELINE_NAME (workflow:name) is often built from the commit or merge request
    # title, and would change the key from one run to the next; job names are unique in a pipeline.
    # No attempt: GitLab documents no retry counter.
    return CIContext(
        provider="gitlab",
        run_url=_url(env.get("CI_JOB_URL")) or _url(env.get("CI_PIPELINE_URL")),
        repository=_text(env.get("CI_PROJECT_PATH")),
        commit=_text(env.get("CI_COMMIT_SHA")),
        branch=_first_branch(
            env,
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
            "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME",
            "CI_COMMIT_BRANCH",
            "CI_COMMIT_REF_NAME",
        ),
        job=_text(env.get("CI_JOB_NAME")),
    )


def _jenkins(env: Mapping[str, str]) -> CIContext:
    # https://www.jenkins.io/doc/book/pipeline/jenkinsfile/#using-environment-variables and
    # ${JENKINS_URL}env-vars.html (BUILD_URL, JOB_NAME, BRANCH_NAME, CHANGE_BRANCH, STAGE_NAME);
    # GIT_URL, GIT_COMMIT, GIT_BRANCH: https://plugins.jenkins.io/git/#plugin-content-environment-variables
    job_name = _text(env.get("JOB_NAME"))
    branch_name = _text(env.get("BRANCH_NAME"))
    if job_name and branch_name and "/" in job_name:
        # A multibranch job is "<folder>/<project>/<branch>": the workflow is the project.
        job_name = job_name.rsplit("/", 1)[0]
    return CIContext(
        provider="jenkins",
        run_url=_url(env.get("BUILD_URL")),
        repository=_repository_from_url(env.get("GIT_URL")),
        commit=_text(env.get("GIT_COMMIT")),
        # CHANGE_BRANCH: a change request's source branch (BRANCH_NAME is then e.g. "PR-24")
        branch=_first_branch(env, "CHANGE_BRANCH", "BRANCH_NAME", "GIT_BRANCH"),
        workflow=job_name,
        job=_text(env.get("STAGE_NAME")),
    )


def _circleci(env: Mapping[str, str]) -> CIContext:
    # https://circleci.com/docs/reference/variables/
    # No workflow: CircleCI exposes only CIRCLE_WORKFLOW_ID, new for every run. No attempt either.
    user, name = _text(env.get("CIRCLE_PROJECT_USERNAME")), _text(env.get("CIRCLE_PROJECT_REPONAME"))
    repository = _text(f"{user}/{name}") if user and name else _repository_from_url(env.get("CIRCLE_REPOSITORY_URL"))
    return CIContext(
        provider="circleci",
        run_url=_url(env.get("CIRCLE_BUILD_URL")),
        repository=repository,
        commit=_text(env.get("CIRCLE_SHA1")),
        branch=_branch(env.get("CIRCLE_BRANCH")),
        job=_text(env.get("CIRCLE_JOB")),
    )


def _buildkite(env: Mapping[str, str]) -> CIContext:
    # https://buildkite.com/docs/pipelines/configure/environment-variables
    retries = _number(env.get("BUILDKITE_RETRY_COUNT"))  # "how many times this job has been retried"
    return CIContext(
        provider="buildkite",
        run_url=_url(env.get("BUILDKITE_BUILD_URL")),
        repository=_repository_from_url(env.get("BUILDKITE_REPO")),
        commit=_text(env.get("BUILDKITE_COMMIT")),
        branch=_branch(env.get("BUILDKITE_BRANCH")),  # a pull request build's head branch
        workflow=_text(env.get("BUILDKITE_PIPELINE_SLUG")) or _text(env.get("BUILDKITE_PIPELINE_NAME")),
        job=_text(env.get("BUILDKITE_LABEL")) or _text(env.get("BUILDKITE_STEP_KEY")),
        attempt=str(int(retries) + 1) if retries is not None else None,
    )


def _azure(env: Mapping[str, str]) -> CIContext:
    # https://learn.microsoft.com/en-us/azure/devops/pipelines/build/variables
    # (Build.BuildId is BUILD_BUILDID in a script's environment; the run's page is
    # <collection URI><project>/_build/results?buildId=<id>)
    collection = _text(env.get("SYSTEM_COLLECTIONURI"), MAX_URL) or _text(
        env.get("SYSTEM_TEAMFOUNDATIONCOLLECTIONURI"), MAX_URL
    )
    project, build_id = _text(env.get("SYSTEM_TEAMPROJECT")), _number(env.get("BUILD_BUILDID"))
    url = None
    if collection and project and build_id:
        url = f"{collection.rstrip('/')}/{quote(project, safe='')}/_build/results?buildId={build_id}"
    job = _text(env.get("SYSTEM_JOBDISPLAYNAME")) or _text(env.get("AGENT_JOBNAME")) or _text(env.get("SYSTEM_JOBNAME"))
    stage = _text(env.get("SYSTEM_STAGENAME"))
    if stage and stage != "__default":  # job names are unique within a stage only
        stage = _text(env.get("SYSTEM_STAGEDISPLAYNAME")) or stage
        job = _text(f"{stage} / {job}") if job else stage
    return CIContext(
        provider="azure-pipelines",
        run_url=_url(url),
        repository=_text(env.get("BUILD_REPOSITORY_NAME")),
        commit=_text(env.get("BUILD_SOURCEVERSION")),
        # Build.SourceBranchName is the last path segment only ("tools" for feature/tools): not used
        branch=_first_branch(env, "SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCH"),
        workflow=_text(env.get("BUILD_DEFINITIONNAME")),
        job=job,
        attempt=_number(env.get("SYSTEM_JOBATTEMPT")),
    )


_READERS = (
    ("GITHUB_ACTIONS", _github),
    ("GITLAB_CI", _gitlab),
    ("BUILDKITE", _buildkite),
    ("CIRCLECI", _circleci),
    ("TF_BUILD", _azure),  # "True"
)


# -- hostile values --------------------------------------------------------------------------------


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1", "yes")


def _text(value: str | None, limit: int = MAX_VALUE) -> str | None:
    """One line of printable text: whitespace becomes one space, control and format characters
    (Unicode category C: bidi overrides, zero-width, lone surrogates) and line separators go."""
    if value is None:
        return None
    out = []
    for ch in value[: limit * 4]:  # bounded before the per-character work
        if ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch)[0] not in "CZ":  # Zl/Zp line separators, other Z are spaces
            out.append(ch)
    text = " ".join("".join(out).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def _number(value: str | None) -> str | None:
    text = _text(value, 20)
    return str(int(text)) if text and text.isascii() and text.isdigit() else None


_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def _url(value: str | None) -> str | None:
    """An absolute http(s) URL of RFC 3986 characters only, with any user:password@ removed."""
    value = value.strip() if value else value
    if not value or len(value) > MAX_URL or not _URL_CHARS.fullmatch(value):
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def _branch(value: str | None) -> str | None:
    text = _text(value)
    for prefix in ("refs/heads/", "origin/"):
        if text and text.startswith(prefix):
            text = text[len(prefix) :] or None
    return text


def _first_branch(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        branch = _branch(env.get(name))
        if branch:
            return branch
    return None


_SCP_LIKE = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)(.+)")


def _repository_from_url(value: str | None) -> str | None:
    """The repository path of a clone URL (``git@host:org/repo.git``, ``https://host/org/repo.git``),
    never its credentials or host."""
    text = _text(value, MAX_URL)
    if not text:
        return None
    scp = _SCP_LIKE.fullmatch(text)
    if scp:
        path = scp.group(1)
    elif "://" in text:
        try:
            path = urlsplit(text).path
        except ValueError:
            return None
    else:
        path = text
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return _text(path)


# -- the dedupe key --------------------------------------------------------------------------------

_NOT_KEY_CHARS = re.compile(r"[^a-z0-9.]+")


def _key_part(value: str | None) -> str:
    """One part of the auto key: ``[a-z0-9.]`` words joined by single dashes."""
    if not value:
        return ""
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", value) if not unicodedata.combining(ch))
    slug = _NOT_KEY_CHARS.sub("-", folded.lower()).strip("-")
    if any(ch.isalnum() and not ch.isascii() for ch in folded):
        # letters ASCII cannot spell were dropped: keep two such names apart
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        slug = f"{slug}-{digest}" if slug else digest
    return slug


def _label_length(ch: str) -> int:
    """What one character of a key costs in a JSM label (dedupe_label: _XX per UTF-8 byte)."""
    return 1 if ch.isascii() and (ch.isalnum() or ch in ".-") else 3 * len(ch.encode())


def normalize_dedupe_key(key: str) -> str:
    """`key` as every backend accepts it, the same for the same key every time.

    NFKC, lowercase, whitespace runs to one ``-``, control and format characters (and lone
    surrogates, which no backend can store) dropped. A key that would encode to more than
    MAX_KEY_LENGTH label characters is cut and ends with ``-`` and a hash of the whole key, so two
    long keys that share their beginning stay distinct. Raises InvalidInputError when nothing is left."""
    text = unicodedata.normalize("NFKC", key)
    kept = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
        elif unicodedata.category(ch)[0] != "C":
            kept.append(ch)
    text = "-".join("".join(kept).lower().split())
    # lower() can produce what NFKC composes again (and the reverse): settle on a fixed point
    for _ in range(3):
        settled = unicodedata.normalize("NFKC", text).lower()
        if settled == text:
            break
        text = settled
    if not text:
        raise InvalidInputError("the dedupe key is empty once normalised")
    if sum(_label_length(ch) for ch in text) <= MAX_KEY_LENGTH:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]
    room, cut = MAX_KEY_LENGTH - _HASH_LENGTH - 1, 0
    for i, ch in enumerate(text):
        room -= _label_length(ch)
        if room < 0:
            break
        cut = i + 1
    return f"{text[:cut].rstrip('-')}-{digest}"


# -- GITHUB_OUTPUT ---------------------------------------------------------------------------------

_OUTPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def github_output_text(values: Mapping[str, str]) -> str:
    """Lines to append to the file $GITHUB_OUTPUT names: ``name=value``, or the documented
    ``name<<DELIMITER`` form with a random delimiter when a value holds a line break, so that no
    value can set another output.
    (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#setting-an-output-parameter)"""
    out = []
    for name, value in values.items():
        if not _OUTPUT_NAME.fullmatch(name):
            raise ValueError(f"not an output name: {name!r}")
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            out.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            out.append(f"{name}={value}\n")
    return "".join(out)
