"""`list --tag/--created-since/--reverse` on JSM: the JQL sent, what tixcli checks itself, and
the requests that costs (against the JSM stand-in, over HTTP). `--group` is refused by the core
(JSM declares no groups).

JQL compares `created` and `updated` in whole minutes of the account's time zone: the clause is
the minute the bound falls in, and the seconds are checked on each issue (`ListQuery.matches`),
reading on page after page until `limit` requests match.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from harness import CUSTOMER
from harness_jsm import JSM_EMAIL, backend_for, new_request

import tixcli.backends.jsm as jsm
from tixcli.backends.jsm_workflow import dedupe_label
from tixcli.errors import NotSupportedError
from tixcli.model import ListQuery

ME = JSM_EMAIL
SEARCH = r"^/rest/api/3/search/jql$"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def server(jsm_harness):
    return jsm_harness.server


@pytest.fixture
def backend(jsm_harness):
    b = backend_for(jsm_harness)
    yield b
    b.shutdown()


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(jsm, "SEARCH_PAGE", 2, raising=False)  # not there before it was lowerable


def counted(server, call):
    """(result, requests the call sent, those requests)."""
    before = server.count()
    result = call()
    return result, server.count() - before, server.requests[before:]


def searches(sent) -> list:
    return [r for r in sent if r.path == "/rest/api/3/search/jql"]


def jql_of(server, call) -> str:
    _, _, sent = counted(server, call)
    return searches(sent)[-1].arg("jql")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ids(tickets) -> list[str]:
    return [t.id for t in tickets]


# -- the JQL ---------------------------------------------------------------------------------


def test_each_filter_is_a_jql_clause_and_reverse_orders_ascending(server, backend):
    server.seed_requests(1)

    def jql(**kw) -> str:
        return jql_of(server, lambda: backend.list_tickets(ListQuery(user=ME, scope="all", statuses=None, **kw)))

    assert jql(tags=("vpn",)) == 'project = "SUP" AND labels = "vpn" ORDER BY updated DESC, key DESC'
    # every tag required: one clause each, AND'ed (Atlassian: several "=" with AND)
    assert jql(tags=("vpn", "urgent-fix")).startswith('project = "SUP" AND labels = "vpn" AND labels = "urgent-fix"')
    assert 'labels = "say\\"hi\\""' in jql(tags=('say"hi"',))  # a JQL string, escaped
    cut = datetime(2024, 3, 1, 12, 0, 45, tzinfo=timezone.utc)
    assert 'created >= "2024-03-01 12:00" ORDER BY' in jql(created_since=cut)  # the minute it falls in
    assert 'updated >= "2024-03-01 12:00" AND created >= "2024-03-01 11:59"' in jql(
        since=cut, created_since=cut - timedelta(seconds=60)
    )
    assert jql().endswith("ORDER BY updated DESC, key DESC")
    assert jql(reverse=True).endswith("ORDER BY updated ASC, key ASC")
    assert jql(sort="created", reverse=True).endswith("ORDER BY created ASC, key ASC")
    assert jql(sort="priority").endswith("ORDER BY priority DESC, updated DESC, key DESC")
    assert jql(sort="priority", reverse=True).endswith("ORDER BY priority ASC, updated ASC, key ASC")


def test_created_since_is_read_in_the_accounts_time_zone(server, backend, monkeypatch):
    from zoneinfo import ZoneInfo

    server.seed_requests(1)
    monkeypatch.setattr(backend, "_tz", ZoneInfo("Europe/Berlin"))  # as /myself would say
    cut = datetime(2024, 3, 1, 12, 0, 45, tzinfo=timezone.utc)
    jql = jql_of(server, lambda: backend.list_tickets(ListQuery(user=ME, scope="all", created_since=cut)))
    assert 'created >= "2024-03-01 13:00"' in jql


def test_the_portal_request_list_answers_no_query_with_a_new_filter(server, backend):
    plain = ListQuery(user=ME)
    assert backend._requests_api_answers(plain, mine=True)
    for change in (
        {"tags": ("vpn",)},
        {"group": "Support"},
        {"created_since": T0},
        {"reverse": True},
    ):
        assert not backend._requests_api_answers(replace(plain, **change), mine=True), change
    (mine,) = server.seed_requests(1, reporter=ME, labels=["vpn"])
    server.seed_requests(1, reporter=ME)
    found, _, sent = counted(server, lambda: backend.list_tickets(ListQuery(user=ME, tags=("vpn",))))
    assert ids(found) == [mine.key]
    assert not [r for r in sent if r.path == "/rest/servicedeskapi/request"]  # JQL, not /request
    assert "reporter = currentUser()" in searches(sent)[-1].arg("jql")


def test_group_is_refused_before_anything_is_sent(server, backend):
    before = server.count()
    with pytest.raises(NotSupportedError):
        backend.list_tickets(ListQuery(user=ME, group="Support"))
    assert server.count() == before


def test_tags_need_every_label_and_the_dedupe_label_is_no_tag(server, backend):
    both, one, _ = server.seed_requests(3, labels=lambda i: [["vpn", "keep"], ["vpn"], ["keep"]][i])
    query = ListQuery(user=ME, scope="all")
    assert ids(backend.list_tickets(replace(query, tags=("vpn",)))) == [one.key, both.key]
    assert ids(backend.list_tickets(replace(query, tags=("keep", "vpn")))) == [both.key]
    dedupe = backend.create(new_request(dedupe_key="k1")).ticket
    label = dedupe_label("k1")
    assert dedupe.external_id == "k1" and label not in dedupe.tags
    assert backend.list_tickets(replace(query, tags=(label,))) == []  # a key, not a tag


# -- the seconds: paging on until the limit matches --------------------------------------------


def test_created_since_checks_the_seconds_and_pages_on_until_the_limit_matches(server, backend, small_pages):
    """Six requests created in the cut's minute but before it were updated after the two created
    after it: JQL's minute lets them all through, sorted first; they are dropped here."""
    cut = at(30)
    server.seed_requests(3, reporter=CUSTOMER, created=lambda i: at(-90 + i), updated=lambda i: at(900 + i))
    noise = server.seed_requests(6, reporter=CUSTOMER, created=lambda i: at(5 + i), updated=lambda i: at(600 + i))
    wanted = server.seed_requests(2, reporter=CUSTOMER, created=lambda i: at(40 + i), updated=lambda i: at(40 + i))
    query = ListQuery(user=ME, scope="all", created_since=cut, limit=2)
    found, n, sent = counted(server, lambda: backend.list_tickets(query))
    assert ids(found) == [wanted[1].key, wanted[0].key]
    pages = searches(sent)
    assert 'created >= "2024-03-01 12:00"' in pages[0].arg("jql")
    # 6 too early in the minute, then the 2: 2 a page, 4 pages; and the service desk, the field
    # list and the account's time zone, read once each
    assert len(pages) == 4 and [p.arg("maxResults") for p in pages] == ["2"] * 4
    assert n == 7, [r.path for r in sent]
    assert all(t.created_at >= "2024-03-01T12:00:30+00:00" for t in found)

    oldest, n, sent = counted(server, lambda: backend.list_tickets(replace(query, sort="created", reverse=True)))
    assert ids(oldest) == [wanted[0].key, wanted[1].key]
    assert searches(sent)[0].arg("jql").endswith("ORDER BY created ASC, key ASC")
    assert len(searches(sent)) == 4 and n == 4  # the 6 in the minute come first by creation too
    assert len(noise) == 6


def test_since_checks_the_seconds_too(server, backend, small_pages):
    cut = at(30)
    early = server.seed_requests(5, reporter=CUSTOMER, created=at(-600), updated=lambda i: at(1 + i))
    late = server.seed_requests(1, reporter=CUSTOMER, created=at(-600), updated=at(45))
    query = ListQuery(user=ME, scope="all", since=cut, sort="updated", reverse=True, limit=1)
    found, _, sent = counted(server, lambda: backend.list_tickets(query))
    assert ids(found) == [late[0].key]  # the five updated earlier in the minute come first, ascending
    assert len(searches(sent)) == 3 and len(early) == 5
