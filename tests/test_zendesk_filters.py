"""`list --tag/--group/--created-since/--reverse` on Zendesk: what the Search API is asked, what
tixcli checks itself, and the requests that costs (against the Zendesk stand-in, over HTTP).

Zendesk OR's several values of one search keyword ("tags:a tags:b" finds a ticket with either),
so of several tags one is sent and every one is checked on the results: the backend reads on,
page after page, until `limit` tickets match.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import requests
from harness_zendesk import AGENT, TOKEN

import tixcli.backends.zendesk as zendesk
from tixcli.backends.zendesk import ZendeskBackend
from tixcli.config import Profile
from tixcli.model import ListQuery

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def server(zendesk_harness):
    return zendesk_harness.server


@pytest.fixture
def backend(zendesk_harness):
    p = zendesk_harness.profile
    b = ZendeskBackend(Profile(p.name, p.backend, dict(p.settings), p.source))
    yield b
    b.shutdown()


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(zendesk, "SEARCH_PAGE", 3, raising=False)  # not there before it was lowerable


def counted(server, call):
    """(result, requests the call sent, the requests themselves)."""
    before = server.count()
    result = call()
    return result, server.count() - before, server.requests[before:]


def searches(sent) -> list:
    return [r for r in sent if r.path == "/api/v2/search.json"]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def add_group(server, name: str) -> int:
    with server.lock:
        gid = max(server.groups) + 1
        stamp = server._stamp()
        server.groups[gid] = {"id": gid, "name": name, "default": False, "created_at": stamp, "updated_at": stamp}
    return gid


def ids(tickets) -> list[str]:
    return [t.id for t in tickets]


# -- the stand-in's search, as Zendesk documents it --------------------------------------------


def stand_in_search(server, query: str, **params) -> list[int]:
    r = requests.get(
        f"{server.url}/api/v2/search.json",
        params={"query": query, **params},
        auth=(f"{AGENT}/token", TOKEN),
        timeout=5,
    )
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["results"]]


def test_the_stand_in_searches_tags_groups_created_and_sorts_ascending(server):
    level2 = add_group(server, "Level 2")
    support = next(g for g, v in server.groups.items() if v["name"] == "Support")
    a, b, c = server.seed_tickets(3, tags=lambda i: [["vpn", "keep"], ["vpn"], ["billing"]][i])
    with server.lock:
        server.tickets[a]["group_id"], server.tickets[b]["group_id"] = level2, support
        for n, tid in enumerate((a, b, c)):
            server.tickets[tid]["created_at"] = int(at(n).timestamp())
    assert stand_in_search(server, "type:ticket tags:vpn") == [a, b]
    # one keyword twice: either value (OR), as Zendesk documents; tag: and tags: are one keyword
    assert stand_in_search(server, "type:ticket tags:keep tags:billing") == [a, c]
    assert stand_in_search(server, "type:ticket tag:keep tags:billing") == [a, c]
    assert stand_in_search(server, "type:ticket tags:VPN -tags:keep") == [b]
    assert stand_in_search(server, 'type:ticket group:"Level 2"') == [a]  # a name, quoted with its space
    assert stand_in_search(server, f"type:ticket group:{support}") == [b]  # or an id
    assert stand_in_search(server, "type:ticket group:support") == [b]
    assert stand_in_search(server, "type:ticket created>=" + at(1).strftime("%Y-%m-%dT%H:%M:%SZ")) == [b, c]
    newest = stand_in_search(server, "type:ticket", sort_by="created_at", sort_order="desc")
    assert newest == [c, b, a]
    assert stand_in_search(server, "type:ticket", sort_by="created_at", sort_order="asc") == [a, b, c]


# -- what is sent ------------------------------------------------------------------------------


def test_each_filter_is_a_search_term_and_reverse_is_sort_order_asc(server, backend):
    add_group(server, "Level 2")

    def sent(**kw):
        _, _, reqs = counted(server, lambda: backend.list_tickets(ListQuery(user=AGENT, scope="all", **kw)))
        return searches(reqs)[-1]

    assert sent(tags=("vpn",)).arg("query") == "type:ticket status<solved tags:vpn"
    # several tags: the first is asked for (Zendesk would OR them), each one is checked here
    assert sent(tags=("vpn", "keep")).arg("query") == "type:ticket status<solved tags:vpn"
    assert sent(group="Support").arg("query") == "type:ticket status<solved group:Support"
    assert sent(group="Level 2").arg("query") == 'type:ticket status<solved group:"Level 2"'
    assert sent(group="360001").arg("query") == "type:ticket status<solved group:360001"
    cut = datetime(2024, 3, 1, 12, 0, 30, tzinfo=timezone.utc)
    assert sent(created_since=cut).arg("query") == "type:ticket status<solved created>=2024-03-01T12:00:30Z"
    # Zendesk's times are whole seconds: a bound inside a second is the next one (exact)
    late = cut + timedelta(microseconds=250_000)
    assert sent(created_since=late).arg("query").endswith("created>=2024-03-01T12:00:31Z")
    assert sent(since=late).arg("query").endswith("updated>=2024-03-01T12:00:31Z")
    plain = sent()
    assert (plain.arg("sort_by"), plain.arg("sort_order")) == ("updated_at", "desc")
    for sort, field in (("updated", "updated_at"), ("created", "created_at"), ("priority", "priority")):
        turned = sent(sort=sort, reverse=True)
        assert (turned.arg("sort_by"), turned.arg("sort_order")) == (field, "asc")


def test_a_tag_no_search_term_can_hold_is_checked_here_only(server, backend):
    wanted, other = server.seed_tickets(2, tags=lambda i: [["c++", "vpn"], ["c"]][i])
    query = ListQuery(user=AGENT, scope="all", tags=("c++",))
    assert zendesk.sent_tag(query.tags) is None and zendesk.checked_here(query) is not None
    assert "tags:" not in zendesk.search_query(query)
    assert ids(backend.list_tickets(query)) == [str(wanted)]
    assert ids(backend.list_tickets(ListQuery(user=AGENT, scope="all", tags=("c++", "vpn")))) == [str(wanted)]
    assert zendesk.search_query(ListQuery(user=AGENT, tags=("c*", "vpn"))).endswith("tags:vpn")  # no wildcard sent


def test_a_group_name_with_a_double_quote_is_searched_by_its_id(server, backend):
    gid = add_group(server, 'The "A" team')
    (tid,) = server.seed_tickets(1)
    with server.lock:
        server.tickets[tid]["group_id"] = gid
    server.seed_tickets(2)
    found, _, sent = counted(server, lambda: backend.list_tickets(ListQuery(user=AGENT, group='the "a" TEAM')))
    assert ids(found) == [str(tid)]
    assert searches(sent)[-1].arg("query").endswith(f"group:{gid}")


# -- several tags: paging on until the limit matches ------------------------------------------


def test_several_tags_page_on_until_the_limit_matches(server, backend, small_pages):
    """The two tickets carrying both tags are the oldest; ten newer ones carry one of them."""
    wanted = server.seed_tickets(2, tags=["vpn", "keep"], created_at=lambda i: at(i), updated_at=lambda i: at(i))
    server.seed_tickets(10, tags=["vpn"], created_at=lambda i: at(10 + i), updated_at=lambda i: at(10 + i))
    server.seed_tickets(5, tags=["keep"], created_at=lambda i: at(30 + i), updated_at=lambda i: at(30 + i))
    query = ListQuery(user=AGENT, tags=("vpn", "keep"), limit=2)
    found, n, sent = counted(server, lambda: backend.list_tickets(query))
    assert ids(found) == [str(wanted[1]), str(wanted[0])]
    # 12 tickets carry vpn, 3 a page: 4 pages, and one look-up of the people on them (the
    # stand-in's search side-loads no users)
    assert n == 5 and len(searches(sent)) == 4, [r.path for r in sent]
    assert [r.arg("page", "1") for r in searches(sent)] == ["1", "2", "3", "4"]
    assert searches(sent)[0].arg("per_page") == "3"
    assert searches(sent)[0].arg("query") == "type:ticket requester:agent@example.com status<solved tags:vpn"
    assert found.total == 2  # every result was read: the count is known

    turned = replace(query, limit=1, sort="created", reverse=True)
    oldest, n, sent = counted(server, lambda: backend.list_tickets(turned))
    assert ids(oldest) == [str(wanted[0])]
    assert n == 1 and searches(sent)[0].arg("sort_order") == "asc"  # the oldest first: page one holds it


def test_several_tags_stop_reading_once_the_limit_matched_and_the_total_is_then_unknown(server, backend, small_pages):
    server.seed_tickets(10, tags=["vpn"], created_at=lambda i: at(i), updated_at=lambda i: at(i))
    wanted = server.seed_tickets(
        3, tags=["vpn", "keep"], created_at=lambda i: at(20 + i), updated_at=lambda i: at(20 + i)
    )
    found, n, _ = counted(
        server, lambda: backend.list_tickets(ListQuery(user=AGENT, tags=("keep", "vpn"), limit=2, count=True))
    )
    assert ids(found) == [str(wanted[2]), str(wanted[1])]
    assert n == 2  # keep: 3 tickets, one page (and the people on them)
    found, n, _ = counted(
        server, lambda: backend.list_tickets(ListQuery(user=AGENT, tags=("vpn", "keep"), limit=2, count=True))
    )
    assert ids(found) == [str(wanted[2]), str(wanted[1])]
    assert n == 1 and found.total is None  # vpn: 13 tickets, more pages unread: how many match is not known
    found = backend.list_tickets(ListQuery(user=AGENT, tags=("vpn", "keep"), limit=10, count=True))
    assert len(found) == 3 and found.total == 3
    found = backend.list_tickets(ListQuery(user=AGENT, tags=("keep", "vpn"), limit=1, count=True))
    assert ids(found) == [str(wanted[2])] and found.total == 3  # the one page held all three


def test_one_tag_is_the_search_alone_with_pages_no_bigger_than_the_limit(server, backend, small_pages):
    vpn = server.seed_tickets(5, tags=["vpn"], updated_at=lambda i: at(i))
    server.seed_tickets(3, tags=["other"], updated_at=lambda i: at(10 + i))
    found, n, sent = counted(server, lambda: backend.list_tickets(ListQuery(user=AGENT, tags=("vpn",), limit=2)))
    assert ids(found) == [str(vpn[4]), str(vpn[3])] and n == 2  # one page, and the people on it
    assert searches(sent)[0].arg("per_page") == "2" and found.total == 5  # the search's own count
