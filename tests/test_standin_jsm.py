"""The JSM stand-in itself, over real HTTP: shapes, statuses, workflow, search, faults."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest
import requests
from standins.jsm import (
    ACCOUNT_IDS,
    AGENT_EMAIL,
    CUSTOMER_EMAIL,
    DEV_EMAIL,
    LEAD_EMAIL,
    JSMStandIn,
)
from standins.spec import get_checker

TOKEN = "jsm-test-token-456"
SD = "/rest/servicedeskapi"
API = "/rest/api/3"
JIRA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
CUSTOMER, LEAD, DEV = ACCOUNT_IDS[CUSTOMER_EMAIL], ACCOUNT_IDS[LEAD_EMAIL], ACCOUNT_IDS[DEV_EMAIL]


@pytest.fixture(scope="module")
def server():
    with JSMStandIn(email=AGENT_EMAIL, token=TOKEN, agent=True) as srv:
        yield srv


@pytest.fixture
def jsm(server):
    """The server reset; afterwards, every servicedeskapi answer it gave must match the spec."""
    server.reset()
    yield server
    sd = [ex for ex in server.exchanges if ex.request.path.startswith(SD)]
    # The tests send bad requests on purpose: check what the stand-in answered, not what it was sent.
    get_checker("jsm").assert_conforms(sd, ignore=("request", "security"))


class Client:
    def __init__(self, server: JSMStandIn, email: str = AGENT_EMAIL, token: str = TOKEN):
        self.server = server
        self.session = requests.Session()
        self.session.auth = (email, token)

    def act_as(self, email: str, agent: bool) -> None:
        """Become another account: the stand-in's credentials and ours follow."""
        self.server.act_as(email, agent=agent)
        self.session.auth = (email, self.server.token)

    def __getattr__(self, method):
        def call(path, **kwargs):
            kwargs.setdefault("timeout", 5)
            url = path if path.startswith("http") else self.server.url + path
            return self.session.request(method.upper(), url, **kwargs)

        return call


@pytest.fixture
def http(jsm):
    return Client(jsm)


def create(http, summary="Printer on fire", request_type="10", **values):
    body = {
        "serviceDeskId": "1",
        "requestTypeId": request_type,
        "requestFieldValues": {"summary": summary, **values},
    }
    r = http.post(SD + "/request", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def search(http, jql, **body):
    r = http.post(API + "/search/jql", json={"jql": jql, "fields": ["summary"], **body})
    assert r.status_code == 200, r.text
    return r.json()


def keys(result):
    return [i["key"] for i in result["issues"]]


# --- service desks and request types --------------------------------------------------------


def test_service_desks_and_request_types(http):
    desks = http.get(SD + "/servicedesk").json()
    assert desks["values"][0]["id"] == "1" and desks["values"][0]["projectKey"] == "SUP"
    assert desks["isLastPage"] is True and desks["size"] == 1
    assert http.get(SD + "/servicedesk/SUP").json()["id"] == "1"  # a project key works too
    r = http.get(SD + "/servicedesk/99")
    assert r.status_code == 404 and "errorMessage" in r.json() and "i18nErrorMessage" in r.json()
    types = http.get(SD + "/servicedesk/1/requesttype").json()["values"]
    assert [(t["id"], t["name"]) for t in types] == [
        ("10", "General"),
        ("11", "Technical"),
        ("12", "Report a bug"),
        ("13", "Get IT help"),
    ]
    fields = http.get(SD + "/servicedesk/1/requesttype/11/field").json()
    assert [f["fieldId"] for f in fields["requestTypeFields"]] == ["summary", "description", "priority"]
    assert {v["label"] for v in fields["requestTypeFields"][2]["validValues"]} >= {"High", "Low"}


# --- creating and reading requests ----------------------------------------------------------


def test_create_request_shape_and_state(jsm, http):
    body = create(http, "Printer on fire", "11", description="Smoke *everywhere*", priority={"name": "High"})
    assert body["issueKey"] == "SUP-1" and isinstance(body["issueId"], str)
    assert body["serviceDeskId"] == "1" and body["requestTypeId"] == "11"
    assert body["reporter"]["accountId"] == ACCOUNT_IDS[AGENT_EMAIL]
    assert set(body["createdDate"]) == {"iso8601", "jira", "friendly", "epochMillis"}
    assert JIRA_TIME.match(body["createdDate"]["jira"])
    assert body["currentStatus"]["status"] == "Waiting for support"
    assert body["currentStatus"]["statusCategory"] == "NEW"
    values = {v["fieldId"]: v["value"] for v in body["requestFieldValues"]}
    assert values["summary"] == "Printer on fire" and values["priority"]["name"] == "High"
    assert body["_links"]["web"].endswith("/servicedesk/customer/portal/1/SUP-1")
    issue = jsm.issues["SUP-1"]
    assert issue.priority == "High" and issue.description == "Smoke *everywhere*"
    assert jsm.issue_count() == 1
    got = http.get(SD + "/request/SUP-1", params={"expand": "participant,status,requestType"}).json()
    assert got["issueKey"] == "SUP-1" and got["requestType"]["name"] == "Technical"
    assert got["participants"]["values"] == [] and got["status"]["values"][0]["status"] == "Waiting for support"
    assert http.get(SD + f"/request/{body['issueId']}").json()["issueKey"] == "SUP-1"  # by id too


def test_create_request_on_behalf_with_participants(jsm, http):
    body = {
        "serviceDeskId": "1",
        "requestTypeId": "10",
        "raiseOnBehalfOf": CUSTOMER,
        "requestParticipants": [LEAD, DEV],
        "requestFieldValues": {"summary": "VPN down"},
    }
    r = http.post(SD + "/request", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["reporter"]["emailAddress"] == CUSTOMER_EMAIL
    assert jsm.issues["SUP-1"].participants == [LEAD, DEV]
    r = http.post(SD + "/request", json={**body, "raiseOnBehalfOf": CUSTOMER_EMAIL})
    assert r.status_code == 400  # an accountId, not an email


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"serviceDeskId": 1}, "serviceDeskId"),  # ids are strings
        ({"requestTypeId": 10}, "requestTypeId"),
        ({"requestTypeId": "99"}, "does not exist"),
        ({"requestFieldValues": {"summary": "x", "labels": ["a"]}}, "labels"),  # not on General
        ({"requestFieldValues": {"summary": " "}}, "summary"),
        ({"requestParticipants": ["nobody"]}, "nobody"),
    ],
)
def test_create_request_rejects(http, change, fragment):
    body = {"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {"summary": "ok"}, **change}
    r = http.post(SD + "/request", json=body)
    assert r.status_code == 400
    assert fragment.lower() in r.json()["errorMessage"].lower()


def test_labels_on_bug_type_and_follow_up_label_call(jsm, http):
    create(http, "Crash", "12", labels=["tix-abc"])
    assert jsm.issues["SUP-1"].labels == ["tix-abc"]
    create(http, "Question")
    # General takes no labels: add one with the platform API, twice (deduplicated).
    for _ in range(2):
        r = http.put(API + "/issue/SUP-2", json={"update": {"labels": [{"add": "tix-key1"}]}})
        assert r.status_code == 204, r.text
    assert jsm.issues["SUP-2"].labels == ["tix-key1"]
    r = http.put(API + "/issue/SUP-2", json={"fields": {"labels": ["a", "b"]}})
    assert r.status_code == 204 and jsm.issues["SUP-2"].labels == ["a", "b"]
    r = http.put(API + "/issue/SUP-2", json={"fields": {"labels": ["has space"]}})
    assert r.status_code == 400 and "labels" in r.json()["errors"]
    r = http.put(API + "/issue/SUP-2", data="{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_unknown_request_is_404(http):
    r = http.get(SD + "/request/SUP-404")
    assert r.status_code == 404 and r.json()["errorMessage"]
    r = http.get(API + "/issue/SUP-404")
    assert r.status_code == 404 and r.json()["errorMessages"]


# --- listing requests -----------------------------------------------------------------------


def test_list_requests_ownership_status_type_and_paging(jsm, http):
    jsm.seed_requests(3, reporter=CUSTOMER_EMAIL, summary="Customer {i}")
    jsm.seed_requests(2, reporter=LEAD_EMAIL, summary="Lead {i}", request_type="Technical")
    jsm.seed_requests(1, reporter=DEV_EMAIL, summary="Dev closed", status="Closed")
    jsm.seed_requests(1, reporter=DEV_EMAIL, summary="Dev shared", participants=[CUSTOMER_EMAIL])
    mine = create(http, "Agent's own")["issueKey"]

    def listed(**params):
        r = http.get(SD + "/request", params=params)
        assert r.status_code == 200, r.text
        return [v["requestFieldValues"][0]["value"] for v in r.json()["values"]]

    assert listed() == ["Agent's own"]  # default: owned + participated + organisations
    assert listed(requestOwnership="OWNED_REQUESTS") == ["Agent's own"]
    assert len(listed(requestOwnership="ALL_REQUESTS")) == 8
    assert listed(requestOwnership="ALL_REQUESTS", requestStatus="CLOSED_REQUESTS") == ["Dev closed"]
    assert len(listed(requestOwnership="ALL_REQUESTS", requestStatus="OPEN_REQUESTS")) == 7
    assert listed(requestOwnership="ALL_REQUESTS", serviceDeskId="1", requestTypeId="11") == [
        "Lead 1",
        "Lead 0",
    ]
    r = http.get(SD + "/request", params={"requestOwnership": "ALL_REQUESTS", "requestTypeId": "11"})
    assert r.status_code == 400  # requestTypeId needs serviceDeskId
    assert listed(requestOwnership="ALL_REQUESTS", searchTerm="lead") == ["Lead 1", "Lead 0"]

    # A customer sees their own, their organisation's (Acme: customer + lead) and participated requests.
    http.act_as(CUSTOMER_EMAIL, agent=False)
    assert sorted(listed()) == ["Customer 0", "Customer 1", "Customer 2", "Dev shared", "Lead 0", "Lead 1"]
    assert listed(requestOwnership="PARTICIPATED_REQUESTS") == ["Dev shared"]
    org = ["Customer 0", "Customer 1", "Customer 2", "Lead 0", "Lead 1"]  # shared with Acme
    assert sorted(listed(requestOwnership="ORGANIZATION", organizationId="1")) == org
    assert http.get(SD + f"/request/{mine}").status_code == 404  # not theirs

    # Paging: start/limit, isLastPage, _links.next keeps the filters.
    http.act_as(AGENT_EMAIL, agent=True)
    page = http.get(SD + "/request", params={"requestOwnership": "ALL_REQUESTS", "limit": 3}).json()
    assert (page["size"], page["start"], page["limit"], page["isLastPage"]) == (3, 0, 3, False)
    assert "requestOwnership=ALL_REQUESTS" in page["_links"]["next"]
    seen = []
    while True:
        seen += [v["issueKey"] for v in page["values"]]
        if page["isLastPage"]:
            break
        page = http.get(page["_links"]["next"]).json()
    assert len(seen) == len(set(seen)) == 8


def test_search_term_matches_the_summary_only(jsm, http):
    jsm.seed_requests(1, summary="Keyboard broken", description="printer too")
    jsm.seed_requests(1, summary="Printer jam")
    found = http.get(SD + "/request", params={"requestOwnership": "ALL_REQUESTS", "searchTerm": "printer"}).json()
    assert [v["issueKey"] for v in found["values"]] == ["SUP-2"]


# --- comments -------------------------------------------------------------------------------


def test_comments_public_and_internal(jsm, http):
    create(http)
    r = http.post(SD + "/request/SUP-1/comment", json={"body": "no visibility"})
    assert r.status_code == 400 and "public" in r.json()["errorMessage"]
    r = http.post(SD + "/request/SUP-1/comment", json={"body": "Hello there", "public": True})
    assert r.status_code == 201, r.text
    comment = r.json()
    assert comment["public"] is True and comment["author"]["accountId"] == ACCOUNT_IDS[AGENT_EMAIL]
    assert http.post(SD + "/request/SUP-1/comment", json={"body": "note", "public": False}).status_code == 201

    def bodies(**params):
        return [c["body"] for c in http.get(SD + "/request/SUP-1/comment", params=params).json()["values"]]

    assert bodies() == ["Hello there", "note"]
    assert bodies(internal="false") == ["Hello there"]
    assert bodies(public="false") == ["note"]
    page = http.get(SD + "/request/SUP-1/comment", params={"limit": 1, "start": 1}).json()
    assert page["values"][0]["body"] == "note" and page["isLastPage"] and page["_links"]["prev"]
    assert [c.public for c in jsm.comments["SUP-1"]] == [True, False]

    http.act_as(CUSTOMER_EMAIL, agent=False)
    jsm.issues["SUP-1"].participants.append(CUSTOMER)
    assert bodies() == ["Hello there"]  # customers get public comments only
    r = http.post(SD + "/request/SUP-1/comment", json={"body": "psst", "public": False})
    assert r.status_code == 403


def test_comment_automation(jsm, http):
    jsm.seed_requests(1, reporter=CUSTOMER_EMAIL)

    def status():
        return jsm.issues["SUP-1"].status

    http.post(SD + "/request/SUP-1/comment", json={"body": "internal", "public": False})
    assert status() == "Waiting for support"  # internal notes trigger nothing
    http.post(SD + "/request/SUP-1/comment", json={"body": "What model?", "public": True})
    assert status() == "Waiting for customer"  # an agent replied
    http.act_as(CUSTOMER_EMAIL, agent=False)
    assert http.post(SD + "/request/SUP-1/comment", json={"body": "HP", "public": True}).status_code == 201
    assert status() == "Waiting for support"  # the customer answered
    http.act_as(AGENT_EMAIL, agent=True)
    resolve(http, "SUP-1")
    http.post(SD + "/request/SUP-1/comment", json={"body": "one more thing", "public": True})
    assert status() == "Resolved"  # no reopen on comment by default
    jsm.reopen_on_comment = True
    http.post(SD + "/request/SUP-1/comment", json={"body": "and another", "public": True})
    assert status() == "Waiting for support" and jsm.issues["SUP-1"].resolution is None
    history = http.get(SD + "/request/SUP-1/status").json()["values"]
    assert [h["status"] for h in history][:3] == ["Waiting for support", "Resolved", "Waiting for support"]


# --- participants ---------------------------------------------------------------------------


def test_participants_with_colon_account_ids(jsm, http):
    create(http)
    r = http.get(API + "/user/search", params={"query": LEAD_EMAIL})
    assert r.url.endswith("query=lead%40example.com")
    lead = r.json()[0]["accountId"]
    assert ":" in lead and lead == LEAD
    r = http.post(SD + "/request/SUP-1/participant", json={"accountIds": [lead, CUSTOMER]})
    assert r.status_code == 200 and [u["accountId"] for u in r.json()["values"]] == [lead, CUSTOMER]
    assert http.post(SD + "/request/SUP-1/participant", json={"accountIds": [lead]}).json()["size"] == 2
    r = http.delete(SD + "/request/SUP-1/participant", json={"accountIds": [lead]})
    assert r.status_code == 200 and [u["accountId"] for u in r.json()["values"]] == [CUSTOMER]
    assert http.get(SD + "/request/SUP-1/participant").json()["values"][0]["emailAddress"] == CUSTOMER_EMAIL
    r = http.post(SD + "/request/SUP-1/participant", json={"accountIds": ["qm:no:such"]})
    assert r.status_code == 400
    # JQL on a ':' id (quoted) and the user lookup by accountId (percent-encoded).
    assert keys(search(http, f'"Request participants" = "{CUSTOMER}"')) == ["SUP-1"]
    r = http.get(API + f"/user?accountId={quote(lead, safe='')}")
    assert r.status_code == 200 and r.json()["emailAddress"] == LEAD_EMAIL


# --- attachments ----------------------------------------------------------------------------


def upload(http, name="log.txt", data=b"line 1\r\nline 2\x00\xff", ctype="text/plain", **headers):
    headers = {"X-Atlassian-Token": "no-check", **headers}
    return http.post(SD + "/servicedesk/1/attachTemporaryFile", files={"file": (name, data, ctype)}, headers=headers)


def test_attach_temporary_file_and_attachment(jsm, http):
    create(http)
    r = upload(http)
    assert r.status_code == 201, r.text
    temp = r.json()["temporaryAttachments"][0]
    assert temp["fileName"] == "log.txt" and temp["temporaryAttachmentId"].startswith("temp")
    r = http.post(SD + "/request/SUP-1/attachment", json={"temporaryAttachmentIds": [temp["temporaryAttachmentId"]]})
    assert r.status_code == 400  # public is required
    body = {
        "temporaryAttachmentIds": [temp["temporaryAttachmentId"]],
        "public": True,
        "additionalComment": {"body": "Logs attached."},
    }
    r = http.post(SD + "/request/SUP-1/attachment", json=body)
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["attachments"]["values"][0]["filename"] == "log.txt"
    assert result["attachments"]["values"][0]["size"] == 16
    assert result["comment"]["body"].startswith("Logs attached.") and "[^log.txt]" in result["comment"]["body"]
    listed = http.get(SD + "/request/SUP-1/attachment").json()
    assert listed["size"] == 1 and listed["values"][0]["mimeType"] == "text/plain"
    content = http.get(listed["values"][0]["_links"]["content"])
    assert content.content == b"line 1\r\nline 2\x00\xff"
    comments = http.get(SD + "/request/SUP-1/comment", params={"expand": "attachment"}).json()["values"]
    assert comments[0]["attachments"]["values"][0]["filename"] == "log.txt"
    assert jsm.attachments["SUP-1"][0].content == b"line 1\r\nline 2\x00\xff"
    # A temporary file is used once.
    assert http.post(SD + "/request/SUP-1/attachment", json=body).status_code == 400


def test_attach_temporary_file_needs_xsrf_header_and_multipart(http):
    r = http.post(SD + "/servicedesk/1/attachTemporaryFile", files={"file": ("a.txt", b"x", "text/plain")})
    assert r.status_code == 403 and r.json()["errorMessage"] == "XSRF check failed"
    # The jira library's session default: a JSON content type on a multipart body.
    r = http.post(
        SD + "/servicedesk/1/attachTemporaryFile",
        data=b"x",
        headers={"Content-Type": "application/json", "X-Atlassian-Token": "no-check"},
    )
    assert r.status_code == 415
    r = upload(http, name="a.txt")
    assert r.status_code == 201
    r = http.post(
        SD + "/servicedesk/1/attachTemporaryFile",
        files={"upload": ("a.txt", b"x")},
        headers={"X-Atlassian-Token": "no-check"},
    )
    assert r.status_code == 400  # the part must be named "file"


# --- transitions ----------------------------------------------------------------------------


def resolve(http, key):
    r = http.post(
        API + f"/issue/{key}/transitions",
        json={"transition": {"id": "41"}, "fields": {"resolution": {"name": "Done"}}},
    )
    assert r.status_code == 204, r.text


def test_platform_transitions_and_resolution(jsm, http):
    create(http)
    transitions = http.get(API + "/issue/SUP-1/transitions", params={"expand": "transitions.fields"}).json()
    by_name = {t["name"]: t for t in transitions["transitions"]}
    assert set(by_name) == {
        "Respond to customer",
        "Start progress",
        "Resolve this issue",
        "Close request",
        "Cancel request",
    }
    assert by_name["Resolve this issue"]["fields"]["resolution"]["required"] is True
    assert by_name["Close request"]["fields"] == {}
    assert by_name["Resolve this issue"]["to"]["statusCategory"]["key"] == "done"
    r = http.post(API + "/issue/SUP-1/transitions", json={"transition": {"id": "41"}})
    assert r.status_code == 400 and "resolution" in r.json()["errors"]
    resolve(http, "SUP-1")
    issue = jsm.issues["SUP-1"]
    assert (issue.status, issue.resolution) == ("Resolved", "Done")
    names = [t["name"] for t in http.get(API + "/issue/SUP-1/transitions").json()["transitions"]]
    assert names == ["Back to support", "Reopen", "Close request"]
    r = http.post(
        API + "/issue/SUP-1/transitions",
        json={"transition": {"id": "51"}, "fields": {"resolution": {"name": "Done"}}},
    )
    assert r.status_code == 400  # Reopen takes no resolution
    assert http.post(API + "/issue/SUP-1/transitions", json={"transition": {"id": "51"}}).status_code == 204
    assert (issue.status, issue.resolution) == ("Waiting for support", None)
    r = http.post(API + "/issue/SUP-1/transitions", json={"transition": {"id": "61"}})
    assert r.status_code == 204 and (issue.status, issue.resolution) == ("Closed", "Done")
    fields = http.get(API + "/issue/SUP-1", params={"fields": "status,resolution,resolutiondate"}).json()["fields"]
    assert fields["status"]["name"] == "Closed" and fields["status"]["statusCategory"]["key"] == "done"
    assert fields["resolution"]["name"] == "Done" and JIRA_TIME.match(fields["resolutiondate"])


def test_closed_is_final(jsm, http):
    jsm.seed_requests(1, status="Closed")
    upload_id = upload(http).json()["temporaryAttachments"][0]["temporaryAttachmentId"]
    assert http.get(API + "/issue/SUP-1/transitions").json()["transitions"] == []
    assert http.get(SD + "/request/SUP-1/transition").json()["values"] == []
    r = http.post(API + "/issue/SUP-1/transitions", json={"transition": {"id": "51"}})
    assert r.status_code == 400 and r.json()["errorMessages"]
    assert http.post(SD + "/request/SUP-1/transition", json={"id": "51"}).status_code == 400
    assert http.post(SD + "/request/SUP-1/comment", json={"body": "hi", "public": True}).status_code == 403
    assert http.post(SD + "/request/SUP-1/participant", json={"accountIds": [LEAD]}).status_code == 403
    assert http.delete(SD + "/request/SUP-1/participant", json={"accountIds": [LEAD]}).status_code == 403
    r = http.post(SD + "/request/SUP-1/attachment", json={"temporaryAttachmentIds": [upload_id], "public": True})
    assert r.status_code == 403
    assert http.put(API + "/issue/SUP-1", json={"update": {"labels": [{"add": "x"}]}}).status_code == 400
    assert jsm.issues["SUP-1"].comments == [] and jsm.issues["SUP-1"].labels == []


def test_customer_transitions(jsm, http):
    create(http)
    listed = http.get(SD + "/request/SUP-1/transition").json()
    assert [(t["id"], t["name"]) for t in listed["values"]] == [
        ("61", "Close request"),
        ("71", "Cancel request"),
    ]
    assert http.post(SD + "/request/SUP-1/transition", json={"id": 71}).status_code == 400  # a string id
    resolve(http, "SUP-1")
    r = http.post(SD + "/request/SUP-1/transition", json={"id": "51", "additionalComment": {"body": "Not fixed"}})
    assert r.status_code == 204
    assert jsm.issues["SUP-1"].status == "Waiting for support"
    assert jsm.comments["SUP-1"][-1].body == "Not fixed"


def test_status_history_and_sla(jsm, http):
    create(http)
    resolve(http, "SUP-1")
    history = http.get(SD + "/request/SUP-1/status").json()
    assert [h["status"] for h in history["values"]] == ["Resolved", "Waiting for support"]
    assert history["values"][0]["statusCategory"] == "DONE"
    sla = http.get(SD + "/request/SUP-1/sla").json()["values"][0]
    assert sla["name"] == "Time to resolution" and sla["completedCycles"][0]["breached"] is False
    http.act_as(CUSTOMER_EMAIL, agent=False)
    jsm.issues["SUP-1"].participants.append(CUSTOMER)
    assert http.get(SD + "/request/SUP-1/sla").status_code == 403  # agents only


def test_a_tour_conforms_to_the_spec_both_ways(jsm, http):
    """Well-formed calls to every servicedeskapi endpoint: requests and answers match the spec."""
    create(http, "Tour", "11", description="d", priority={"name": "Low"})
    http.post(SD + "/request/SUP-1/comment", json={"body": "Hello", "public": True})
    http.post(SD + "/request/SUP-1/participant", json={"accountIds": [LEAD, CUSTOMER]})
    http.delete(SD + "/request/SUP-1/participant", json={"accountIds": [LEAD]})
    temp = upload(http, "shot.png", b"\x89PNG", "image/png").json()["temporaryAttachments"][0]
    http.post(
        SD + "/request/SUP-1/attachment",
        json={
            "temporaryAttachmentIds": [temp["temporaryAttachmentId"]],
            "public": False,
            "additionalComment": {"body": "see"},
        },
    )
    everything = "participant,status,sla,requestType,serviceDesk,attachment,action,comment"
    for path, params in [
        ("/servicedesk", {"start": 0, "limit": 10}),
        ("/servicedesk/1", {}),
        ("/servicedesk/1/requesttype", {}),
        ("/servicedesk/1/requesttype/11", {}),
        ("/servicedesk/1/requesttype/11/field", {}),
        (
            "/request",
            {
                "requestOwnership": "ALL_REQUESTS",
                "requestStatus": "OPEN_REQUESTS",
                "serviceDeskId": 1,
                "requestTypeId": 11,
                "searchTerm": "tour",
                "expand": everything,
                "limit": 5,
            },
        ),
        ("/request/SUP-1", {"expand": everything}),
        ("/request/SUP-1/comment", {"expand": "attachment", "public": "true"}),
        ("/request/SUP-1/participant", {}),
        ("/request/SUP-1/attachment", {}),
        ("/request/SUP-1/transition", {}),
        ("/request/SUP-1/status", {}),
        ("/request/SUP-1/sla", {}),
    ]:
        assert http.get(SD + path, params=params).status_code == 200, path
    assert (
        http.post(SD + "/request/SUP-1/transition", json={"id": "71", "additionalComment": {"body": "x"}}).status_code
        == 204
    )
    problems = get_checker("jsm").problems([ex for ex in jsm.exchanges if ex.request.path.startswith(SD)])
    # The spec's attachTemporaryFile body schema is a plain binary string, which a parsed multipart
    # body never matches: a spec flaw, not a wrong request.
    problems = [p for p in problems if not (p.kind == "request" and "attachTemporaryFile" in p)]
    assert problems == []


# --- JQL search -----------------------------------------------------------------------------


def test_search_pages_with_next_page_token(jsm, http):
    jsm.seed_requests(120)
    result = search(http, "project = SUP ORDER BY created ASC", maxResults=50)
    assert "total" not in result and result["isLast"] is False and len(result["issues"]) == 50
    assert result["issues"][0]["key"] == "SUP-1" and result["issues"][0]["fields"]["summary"] == "Seeded request 0"
    found = keys(result)
    while not result["isLast"]:
        result = search(
            http, "project = SUP ORDER BY created ASC", maxResults=50, nextPageToken=result["nextPageToken"]
        )
        found += keys(result)
    assert "nextPageToken" not in result
    assert found == [f"SUP-{n}" for n in range(1, 121)]
    # The GET form; without fields an issue is just its id.
    r = http.get(API + "/search/jql", params={"jql": "project = SUP", "maxResults": 2})
    assert r.status_code == 200 and r.json()["issues"] == [{"id": "10120"}, {"id": "10119"}]
    # A token belongs to its query.
    r = http.post(
        API + "/search/jql",
        json={
            "jql": "project = SUP AND labels = x",
            "nextPageToken": search(http, "project = SUP", maxResults=1)["nextPageToken"],
        },
    )
    assert r.status_code == 400
    # Pages are smaller when fields are asked for; id-only pages go up to 5000.
    assert len(search(http, "project = SUP", maxResults=1000)["issues"]) == 100
    r = http.post(API + "/search/jql", json={"jql": "project = SUP", "maxResults": 1000})
    assert len(r.json()["issues"]) == 120 and r.json()["isLast"] is True


def test_search_embeds_the_newest_comments_with_the_real_total(jsm, http):
    [issue] = jsm.seed_requests(1, reporter=CUSTOMER_EMAIL, description="Line 1\n\nline *2*", comments=3)
    create_comment = SD + f"/request/{issue.key}/comment"
    assert http.post(create_comment, json={"body": "a {{wiki}}\n\ntext", "public": False}).status_code == 201

    def comment_field(v, **params):
        r = http.get(f"/rest/api/{v}/search/jql", params={"jql": "project = SUP", "fields": "comment,description"})
        assert r.status_code == 200, r.text
        return r.json()["issues"][0]["fields"]

    v2 = comment_field("2")
    page = v2["comment"]
    assert (page["startAt"], page["maxResults"], page["total"], len(page["comments"])) == (0, 4, 4, 4)
    assert v2["description"] == "Line 1\n\nline *2*"  # v2: wiki text, as written
    assert [c["jsdPublic"] for c in page["comments"]] == [True, False, True, False]
    assert page["comments"][-1]["body"] == "a {{wiki}}\n\ntext"
    assert [c["author"]["emailAddress"] for c in page["comments"][:2]] == [CUSTOMER_EMAIL, AGENT_EMAIL]
    v3 = comment_field("3")
    assert v3["description"]["type"] == "doc" and v3["comment"]["comments"][-1]["body"]["type"] == "doc"
    # More comments than the field embeds: the newest, and a total that says so.
    jsm.embedded_comments = 3
    page = comment_field("2")["comment"]
    assert (page["startAt"], page["maxResults"], page["total"]) == (1, 3, 4)
    assert [c["body"] for c in page["comments"]][-1] == "a {{wiki}}\n\ntext"
    assert page["comments"][0]["body"] == f"Comment 2 on {issue.key}"
    issue_field = http.get(API + f"/issue/{issue.key}", params={"fields": "comment"}).json()["fields"]["comment"]
    assert issue_field["total"] == 4 and len(issue_field["comments"]) == 3


def test_short_pages_when_many_fields_are_asked_for(jsm, http):
    jsm.seed_requests(10)
    jsm.short_pages = 3
    many = ["summary", "description", "status", "reporter", "created", "updated", "labels", "comment"]
    found, token, pages = [], None, 0
    while True:
        result = search(http, "project = SUP ORDER BY created ASC", fields=many, maxResults=100, nextPageToken=token)
        pages += 1
        assert len(result["issues"]) <= 3
        found += keys(result)
        if result["isLast"]:
            break
        token = result["nextPageToken"]
    assert found == [f"SUP-{n}" for n in range(1, 11)] and pages == 4
    assert len(search(http, "project = SUP", fields=["summary"], maxResults=100)["issues"]) == 10  # few fields


def test_search_clauses(jsm, http):
    t0 = "2026-11-23T10:00:00+00:00"
    jsm.set_clock(t0)
    jsm.seed_requests(
        1,
        summary="Printer jam",
        description="paper stuck",
        labels=["hw", "tix-1"],
        priority="High",
        request_type="Technical",
        created=t0,
        updated="2026-11-23T10:05:00+00:00",
    )
    jsm.seed_requests(
        1,
        summary="VPN down",
        reporter=LEAD_EMAIL,
        status="Waiting for customer",
        assignee=AGENT_EMAIL,
        created="2026-11-23T11:00:00+00:00",
        priority="Highest",
    )
    jsm.seed_requests(1, summary="Old thing", status="Resolved", priority="Low", created="2026-11-20T09:00:00+00:00")
    jsm.issues["SUP-3"].comments.clear()
    cases = {
        'project = SUP AND status = "Waiting for support"': ["SUP-1"],
        'status in ("Waiting for customer", Resolved)': ["SUP-2", "SUP-3"],
        "statusCategory = Done": ["SUP-3"],
        "statusCategory != Done AND labels = hw": ["SUP-1"],
        'labels = "tix-1"': ["SUP-1"],
        "labels is EMPTY": ["SUP-2", "SUP-3"],
        'text ~ "PAPER printer"': ["SUP-1"],  # all words, any case, over summary and description
        'text ~ "printer vpn"': [],
        'text ~ "the printer"': ["SUP-1"],  # stop words are ignored
        'text ~ "pri*"': ["SUP-1"],
        'summary ~ "paper"': [],
        f'reporter = "{LEAD}"': ["SUP-2"],
        f'reporter in ("{LEAD}", "{CUSTOMER}")': ["SUP-1", "SUP-2", "SUP-3"],
        "assignee is EMPTY": ["SUP-1", "SUP-3"],
        "assignee = currentUser()": ["SUP-2"],
        "priority = High": ["SUP-1"],
        '"Request Type" = Technical': ["SUP-1"],
        "issuetype = Incident": ["SUP-1"],
        'updated >= "2026-11-23 10:05"': ["SUP-1", "SUP-2"],
        'updated > "2026-11-23 10:05" AND updated < "2026-11-23 12:00"': ["SUP-2"],
        'created < "2026-11-21"': ["SUP-3"],
        "created >= -1d": ["SUP-1", "SUP-2"],
        "resolution = Unresolved": ["SUP-1", "SUP-2"],
        "key in (SUP-1, SUP-3)": ["SUP-1", "SUP-3"],
        "project = SUP AND (priority = Low OR priority = Highest)": ["SUP-2", "SUP-3"],
        "project = SUP AND NOT labels = hw": ["SUP-2", "SUP-3"],
        "labels != hw": [],  # != never matches an empty field
        "assignee != currentUser()": [],
        "assignee != EMPTY": ["SUP-2"],
    }
    for jql, expected in cases.items():
        assert sorted(keys(search(http, jql))) == expected, jql
    assert keys(search(http, "project = SUP ORDER BY priority DESC")) == ["SUP-2", "SUP-1", "SUP-3"]
    assert keys(search(http, "project = SUP ORDER BY created")) == ["SUP-3", "SUP-1", "SUP-2"]
    assert keys(search(http, "project = SUP ORDER BY updated DESC")) == ["SUP-2", "SUP-1", "SUP-3"]
    http.post(SD + "/request/SUP-3/comment", json={"body": "Toner ordered", "public": False})
    assert keys(search(http, 'text ~ "toner"')) == ["SUP-3"]  # comments are searched too


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("", "Unbounded"),
        ("ORDER BY created DESC", "Unbounded"),
        ("foo = bar", "Field 'foo' does not exist"),
        ('status = "Nope"', "The value 'Nope' does not exist for the field 'status'"),
        ("reporter = someone@example.com", "reserved JQL character"),
        ("project = SUP AND", "Error in the JQL Query"),
        ('summary = "x"', "not supported"),
        ('updated >= "yesterday"', "Date value 'yesterday'"),
    ],
)
def test_search_errors(http, jql, message):
    r = http.post(API + "/search/jql", json={"jql": jql})
    assert r.status_code == 400
    assert message in r.json()["errorMessages"][0]


def test_search_index_lag_and_reconcile(jsm, http):
    jsm.index_lag = 30
    created = create(http, "Fresh request")
    assert keys(search(http, "project = SUP")) == []  # not indexed yet
    found = search(http, "project = SUP", reconcileIssues=[int(created["issueId"])])
    assert keys(found) == ["SUP-1"]
    r = http.get(
        API + "/search/jql",
        params={"jql": "project = SUP", "reconcileIssues": created["issueId"], "fields": "summary"},
    )
    assert keys(r.json()) == ["SUP-1"]
    r = http.post(API + "/search/jql", json={"jql": "project = SUP", "reconcileIssues": ["SUP-1"]})
    assert r.status_code == 400  # ids, not keys
    jsm.advance(30)
    assert keys(search(http, "project = SUP")) == ["SUP-1"]
    # Updates lag too: the index still has the old labels.
    assert http.put(API + "/issue/SUP-1", json={"update": {"labels": [{"add": "tix-k"}]}}).status_code == 204
    assert keys(search(http, "labels = tix-k")) == []
    assert keys(search(http, "labels = tix-k", reconcileIssues=[int(created["issueId"])])) == ["SUP-1"]
    jsm.advance(30)
    assert keys(search(http, "labels = tix-k")) == ["SUP-1"]


def test_old_search_is_gone(http):
    for path in ("/rest/api/2/search", "/rest/api/3/search"):
        assert http.get(path, params={"jql": "project = SUP"}).status_code == 410
        r = http.post(path, json={"jql": "project = SUP"})
        assert r.status_code == 410 and "search/jql" in r.json()["errorMessages"][0]


# --- platform issue, users, site ------------------------------------------------------------


def test_get_issue_fields(jsm, http):
    create(http, "Printer", "11", description="Line one\nline two\n\nSecond paragraph", priority={"name": "Low"})
    fields = http.get(
        API + "/issue/SUP-1",
        params={"fields": "summary,description,labels,priority,status,reporter,assignee,created,updated"},
    ).json()["fields"]
    assert set(fields) == {
        "summary",
        "description",
        "labels",
        "priority",
        "status",
        "reporter",
        "assignee",
        "created",
        "updated",
    }
    assert fields["description"]["type"] == "doc" and len(fields["description"]["content"]) == 2
    assert fields["priority"]["name"] == "Low" and fields["assignee"] is None
    assert fields["status"]["statusCategory"]["key"] == "new"
    assert JIRA_TIME.match(fields["created"]) and JIRA_TIME.match(fields["updated"])
    v2 = http.get("/rest/api/2/issue/SUP-1", params={"fields": "description"}).json()["fields"]
    assert v2["description"].startswith("Line one\nline two")
    r = http.put(API + "/issue/SUP-1", json={"fields": {"description": "plain text"}})
    assert r.status_code == 400  # v3 wants ADF
    r = http.put(API + "/issue/SUP-1/assignee", json={"accountId": ACCOUNT_IDS[AGENT_EMAIL]})
    assert r.status_code == 204 and jsm.issues["SUP-1"].assignee == ACCOUNT_IDS[AGENT_EMAIL]
    assert http.put(API + "/issue/SUP-1/assignee", json={"accountId": CUSTOMER}).status_code == 400


def test_users_myself_and_server_info(http):
    r = http.get(API + "/user/search", params={"query": CUSTOMER_EMAIL})
    assert [u["accountId"] for u in r.json()] == [CUSTOMER]
    assert r.json()[0]["accountType"] == "customer"
    r = http.get(API + "/user/search", params={"username": "customer"})
    assert r.status_code == 400 and "username" in r.json()["errorMessages"][0]
    me = http.get(API + "/myself").json()
    assert me["emailAddress"] == AGENT_EMAIL and me["accountType"] == "atlassian"
    info = requests.get(http.server.url + "/rest/api/2/serverInfo", timeout=5).json()  # anonymous
    assert info["deploymentType"] == "Cloud"


def test_updated_strictly_increases_even_within_a_second(jsm, http):
    jsm.set_clock("2026-11-23T10:00:00+00:00", frozen=True)
    create(http)
    stamps = [jsm.issues["SUP-1"].updated]
    for i in range(3):
        http.post(SD + "/request/SUP-1/comment", json={"body": f"c{i}", "public": False})
        stamps.append(jsm.issues["SUP-1"].updated)
    assert stamps == sorted(set(stamps))
    updated = http.get(API + "/issue/SUP-1", params={"fields": "updated"}).json()["fields"]["updated"]
    assert updated.startswith("2026-11-23T10:00:00.0") and JIRA_TIME.match(updated)


# --- auth, customers, faults ----------------------------------------------------------------


def test_bad_credentials_are_401(jsm):
    wrong = Client(jsm, token="wrong")
    r = wrong.get(API + "/myself")
    assert r.status_code == 401 and r.json()["errorMessages"]
    r = wrong.get(SD + "/servicedesk")
    assert r.status_code == 401 and r.json()["errorMessage"]
    assert requests.get(jsm.url + SD + "/request", timeout=5).status_code == 401


def test_customer_only_account(server):
    with JSMStandIn(email=CUSTOMER_EMAIL, token="cust-token", agent=False) as srv:
        http = Client(srv, CUSTOMER_EMAIL, "cust-token")
        srv.seed_requests(1, reporter=DEV_EMAIL, summary="Not mine")
        assert create(http, "Mine")["reporter"]["accountId"] == CUSTOMER
        assert http.post(API + "/search/jql", json={"jql": "project = SUP"}).status_code == 403
        assert http.get(API + "/issue/SUP-2").status_code == 403
        assert http.get(SD + "/request/SUP-1").status_code == 404
        values = http.get(SD + "/request", params={"requestOwnership": "ALL_REQUESTS"}).json()["values"]
        assert [v["issueKey"] for v in values] == ["SUP-2"]
        assert http.get(API + "/user/search", params={"query": LEAD_EMAIL}).json() == []


def test_injected_429_and_request_counting(jsm, http):
    jsm.inject(status=429, retry_after=2, match=r"POST /rest/servicedeskapi/request$")
    r = http.post(
        SD + "/request",
        json={"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {"summary": "x"}},
    )
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert jsm.issue_count() == 0  # nothing was created
    create(http)
    assert jsm.count("POST", r"/request$") == 2 and jsm.issue_count() == 1


def test_seed_is_fast(jsm, http):
    started = time.monotonic()
    jsm.seed_requests(10_000, labels=lambda i: ["even"] if i % 2 == 0 else [])
    assert time.monotonic() - started < 3
    assert jsm.issue_count() == 10_000
    r = http.post(API + "/search/jql", json={"jql": "labels = even", "maxResults": 5000})
    assert len(r.json()["issues"]) == 5000 and r.json()["isLast"] is True


def test_jira_library_sees_a_cloud_site(jsm):
    jira = pytest.importorskip("jira")
    client = jira.JIRA(server=jsm.url, basic_auth=(AGENT_EMAIL, TOKEN), max_retries=0)
    assert client._is_cloud
    jsm.seed_requests(3)
    found = client.enhanced_search_issues("project = SUP ORDER BY key ASC", maxResults=2, fields="summary")
    assert [i.key for i in found] == ["SUP-1", "SUP-2"]
    assert client.myself()["accountId"] == ACCOUNT_IDS[AGENT_EMAIL]
