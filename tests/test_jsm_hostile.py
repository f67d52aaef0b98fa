"""The JSM backend against a hostile or broken service (issue 8, "Hardening").

Each test makes the JSM stand-in (tests/standins/jsm.py) answer in a way a live site should
not — keys that climb out of their URL path, pages that never end, comment bodies built to make
a regex backtrack, endless error texts — or feeds the CLI ids that only look like issue keys,
and checks that tixcli ends with the documented exit code after a bounded number of requests.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from cli import run
from harness_jsm import JSM_EMAIL, backend_for, new_request, write_jsm_config

from tixcli.errors import NotFoundError
from tixcli.model import FileUpload, Reply

ME = JSM_EMAIL


@pytest.fixture
def server(jsm_harness):
    return jsm_harness.server


@pytest.fixture
def backend(jsm_harness):
    b = backend_for(jsm_harness)
    yield b
    b.shutdown()


new = new_request


def cli(harness, *args, env=None):
    return run("--config", str(harness.config_path), *args, env={**harness.env, **(env or {})})


def since(server, before: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests[before:]]


# -- comment bodies that make a regex backtrack ------------------------------------------------


def test_a_comment_of_32000_spaces_with_a_file_is_read_in_well_under_a_second(server, backend, tmp_path):
    """JSM appends `[^file]` to a comment with files; tixcli strips it. The old pattern ended in
    `\\s*$` and was tried at every space: about 10 s per such comment on the project's machine."""
    f = tmp_path / "a.log"
    f.write_text("log")
    upload = FileUpload(f, "a.log", 3, "text/plain")
    key = backend.create(new()).ticket.id
    body = "see below" + " " * 32_000 + "and the log"  # Jira's limit is 32,767 characters
    backend.reply(key, Reply(body, ME, attachments=[upload]))
    backend.reply(key, Reply(" " * 32_000 + "x", ME, attachments=[upload]))
    started = time.monotonic()
    ticket = backend.get(key)
    took = time.monotonic() - started
    assert [c.body for c in ticket.comments[1:]] == [body, " " * 32_000 + "x"]
    assert [a.filename for c in ticket.comments[1:] for a in c.attachments] == ["a.log", "a.log"]
    assert took < 1.0, f"show took {took:.2f} s"  # fixed: 0.01 s; the old pattern: 37 s


# -- ids that go into URL paths ------------------------------------------------------------------

# A key or id that climbs out of its path segment ("SUP-1/../../../../api/3/myself"): urljoin
# resolves the dots, and the credentials go to another endpoint of the site.


def test_a_key_a_user_types_in_another_script_is_not_found_and_nothing_is_sent(server, backend):
    """ "ſ".upper() is "S": the old check upper-cased before matching, and `show ſup-1` opened SUP-1.
    Other scripts' digits and letters never name an issue either. (The CLI's core now refuses
    non-ASCII ids too; the backend does not rely on it.)"""
    assert backend.create(new()).ticket.id == "SUP-1"
    before = server.count()
    for typed in ("ſup-1", "ſUP-1", "SUP-١", "ＳＵＰ-1", "SUP-1\u200b", "SUP-¹"):
        for call in (backend.get, backend.close, lambda k: backend.reply(k, Reply("hi", ME))):
            with pytest.raises(NotFoundError) as err:
                call(typed)
            assert "issue keys like SUP-12" in err.value.hint
    assert server.count() == before
    assert backend.get("sup-1").id == "SUP-1"


def test_a_service_desk_setting_in_other_digits_is_a_config_error_before_any_request(jsm_harness, server, tmp_path):
    """'²'.isdigit() is True: the old check sent GET /servicedesk/² (a 404, exit 4)."""
    config = tmp_path / "desk.yaml"
    for setting in ("²", "١", "S U P", "SUP/../1"):
        write_jsm_config(config, server, service_desk=setting)
        result = run("--config", str(config), "list", env=jsm_harness.env)
        assert result.code == 3 and "service_desk" in result.err, (setting, result.err)
    assert server.count() == 0


def climb(field: str, where: str):
    """A `tamper` for the stand-in: `field` of the answers to paths matching `where` (and of
    every object in their `values` / `issues`) becomes a key or id climbing out of its path."""

    def rewrite(request, data):
        if not re.search(where, f"{request.method} {request.path}"):
            return data
        items = [data, *(data.get("values") or []), *(data.get("issues") or [])] if isinstance(data, dict) else data
        for item in items:
            if isinstance(item, dict) and field in item:
                item[field] = f"{item[field]}/../../../../api/3/myself"
        return data

    return rewrite


def test_a_created_key_that_climbs_out_of_its_path_is_exit_8_and_never_followed(jsm_harness, server):
    server.tamper = climb("issueKey", r"^POST /rest/servicedeskapi/request$")
    before = server.count()
    # --priority on a type whose form lacks it: an issue edit (PUT) follows the create
    result = cli(jsm_harness, "create", "--subject", "s", "--body", "b", "--priority", "high")
    assert result.code == 8 and "malformed issue key" in result.err, result.err
    sent = since(server, before)
    assert sent[-1] == "POST /rest/servicedeskapi/request", sent  # nothing after the create


@pytest.mark.parametrize("command", [["export"], ["create", "--subject", "s", "--body", "b", "--dedupe-key", "k"]])
def test_keys_from_search_that_climb_out_of_their_path_are_exit_8(jsm_harness, server, backend, command):
    backend.create(new(dedupe_key="k"))
    server.tamper = climb("key", r"^GET /rest/api/[23]/search/jql$")
    before = server.count()
    result = cli(jsm_harness, *command)
    assert result.code == 8 and "malformed issue key" in result.err, result.err
    sent = since(server, before)
    assert re.fullmatch(r"GET /rest/api/[23]/search/jql", sent[-1]), sent  # no request with the key in its path


@pytest.mark.parametrize(
    "where",
    [r"^GET /rest/servicedeskapi/servicedesk$", r"^GET /rest/servicedeskapi/servicedesk/[^/]+/requesttype$"],
    ids=["service desk id", "request type id"],
)
def test_desk_and_request_type_ids_that_climb_out_of_their_path_are_exit_8(jsm_harness, server, tmp_path, where):
    config = tmp_path / "by-key.yaml"
    write_jsm_config(config, server, service_desk="SUP")  # the desk id then comes from the service
    server.tamper = climb("id", where)
    result = run("--config", str(config), "create", "--subject", "s", "--body", "b", env=jsm_harness.env)
    assert result.code == 8 and "malformed" in result.err, result.err
    assert not [p for p in since(server, 0) if "myself" in p or "/../" in p]
    assert server.issue_count() == 0


def test_a_comment_id_that_is_not_a_number_is_exit_8(jsm_harness, server, backend):
    key = backend.create(new()).ticket.id
    backend.reply(key, Reply("hello", ME))
    server.tamper = climb("id", r"^GET /rest/servicedeskapi/request/[^/]+/comment$")
    result = cli(jsm_harness, "show", key)
    assert result.code == 8 and "malformed comment id" in result.err, result.err


# -- pages that never end -----------------------------------------------------------------------

STUCK = 30  # pages the stand-in repeats: a client that never notices reads them all, then stops


def test_a_comment_list_that_repeats_its_page_forever_is_exit_8_after_two_pages(jsm_harness, server, backend):
    key = backend.create(new()).ticket.id
    backend.reply(key, Reply("hello", ME))
    server.stuck_paging = STUCK
    before = server.count()
    result = cli(jsm_harness, "show", key)
    assert result.code == 8 and "nothing new" in result.err, result.err
    assert server.count("GET", r"/comment$") <= 2 and server.count() - before <= 5, since(server, before)


@pytest.mark.parametrize("scope", ["mine", "all"], ids=["/request", "search/jql"])
def test_a_list_whose_pages_never_end_is_exit_8_after_two_pages(jsm_harness, server, scope):
    keys = [i.key for i in server.seed_requests(3, reporter=ME)]
    args, path = (["--all"], "/search/jql") if scope == "all" else ([], "/servicedeskapi/request")
    server.stuck_paging = STUCK
    before = server.count()
    result = cli(jsm_harness, "list", *args, "--format", "json")
    assert result.code == 8 and "nothing new" in result.err, result.err
    assert len([r for r in since(server, before) if r.endswith(path)]) == 2, since(server, before)
    # --limit within the first page: the list stops there, whatever the pages say
    server.stuck_paging = STUCK
    before = server.count()
    limited = cli(jsm_harness, "list", *args, "--limit", "2", "--format", "json")
    assert limited.code == 0, limited.err
    assert [t["id"] for t in json.loads(limited.out)] == keys[::-1][:2]
    assert len([r for r in since(server, before) if r.endswith(path)]) == 1


def test_an_export_whose_search_token_repeats_is_exit_8_without_duplicates(jsm_harness, server):
    keys = [i.key for i in server.seed_requests(3, reporter=ME)]
    server.stuck_paging = STUCK
    before = server.count()
    result = cli(jsm_harness, "export")
    assert result.code == 8 and "nothing new" in result.err, result.err
    assert [json.loads(line)["id"] for line in result.out.splitlines()] == keys
    assert server.count("GET", r"/search/jql$") == 2 and server.count() - before <= 2 + 3 * 3, since(server, before)


# -- options JSM cannot honour ------------------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["--dedupe-key", "k"]])
def test_create_with_a_group_is_refused_with_exit_6_before_anything_is_sent(jsm_harness, server, extra):
    """The backend never read --group: the request was made and the group dropped silently. Now
    JSM lacks the "groups" capability and the core refuses it, naming the backend."""
    before = server.count()
    result = cli(jsm_harness, "create", "--subject", "s", "--body", "b", "--group", "Second line", *extra)
    assert result.code == 6 and "--group" in result.err and "jsm" in result.err, result.err
    assert "'groups'" in result.err, result.err  # the capability, not an error of the backend's own
    assert server.count() == before and server.issue_count() == 0


# -- error texts built from what the service sent ---------------------------------------------

LONG = "N" * 5_000
# Where transitions come from: the issue expanded with them (what `state` reads), or their endpoint.
TRANSITIONS = r"^GET /rest/api/3/issue/[^/]+(/transitions)?$"


def renamed(where: str, *path: str):
    """A `tamper`: in answers to paths matching `where`, the "name" of every object found by
    following `path` (keys; "*" for each item of a list) becomes 5,000 characters long."""

    def walk(node, rest):
        if not rest:
            if isinstance(node, dict) and "name" in node:
                node["name"] = f"{node['name']} {LONG}"
            return
        step, rest = rest[0], rest[1:]
        for child in (node if isinstance(node, list) else []) if step == "*" else [(node or {}).get(step)]:
            walk(child, rest)

    def rewrite(request, data):
        if re.search(where, f"{request.method} {request.path}"):
            walk(data, path)
        return data

    return rewrite


@pytest.mark.parametrize(
    "where, path, command, code",
    [
        (r"/requesttype$", ("values", "*"), ["create", "--subject", "s", "--body", "b", "--type", "task"], 3),
        (TRANSITIONS, ("transitions", "*"), ["close", "KEY"], 5),
        (TRANSITIONS, ("transitions", "*", "fields", "resolution", "allowedValues", "*"), ["solve", "KEY"], 3),
    ],
    ids=["request types", "transitions", "resolutions"],
)
def test_names_the_service_sends_are_bounded_in_errors(jsm_harness, server, tmp_path, where, path, command, code):
    config = tmp_path / "names.yaml"
    write_jsm_config(
        config,
        server,
        request_types={"task": "No such type", "default": "General"},
        transitions={"close": "Shut it"},
        resolution="No such resolution",
    )
    key = run("--config", str(config), "create", "--subject", "s", "--body", "b", env=jsm_harness.env).out.strip()
    server.tamper = renamed(where, *path)
    result = run("--config", str(config), *[key if a == "KEY" else a for a in command], env=jsm_harness.env)
    assert result.code == code, result.err
    [error, *_] = result.err.splitlines()
    assert error.startswith("error: ") and "NNNNNNNNNN" in error
    assert len(error) < 500, len(error)
