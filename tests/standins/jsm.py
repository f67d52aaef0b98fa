"""A stand-in for Jira Service Management Cloud on 127.0.0.1.

It answers the JSM "Service Desk Public REST API" (/rest/servicedeskapi, shapes from the OpenAPI
spec in /work/shared/specs) and the slice of the Jira platform REST API tixcli needs (/rest/api/2|3:
enhanced JQL search, issues, transitions, users), with the live behaviour recorded in
/work/shared/api-notes.md:

- Basic auth with `email:token`; `agent=False` makes the account a customer (portal-only) user.
- A JSM workflow whose transitions are not named like tixcli's verbs; "Resolve this issue" needs
  `fields.resolution` on the platform endpoint; Closed is final.
- Default automation: a customer's public comment moves "Waiting for customer" to "Waiting for
  support", an agent's the other way; no reopen on comment unless `reopen_on_comment`.
- An eventually consistent search index: changes reach JQL search `index_lag` seconds later,
  except for issues named in `reconcileIssues`.
- A clock tests can set (`set_clock`, `advance`); `updated` strictly increases on every change.
- The `comment` field of an issue (search results and `GET /issue`) embeds at most
  `embedded_comments` comments (default 20), the newest, with `startAt`, `maxResults` and the real
  `total`, so a client can tell it got a part (live Jira caps the embedded list and drops the oldest;
  the cap is not documented). v2 gives comment bodies and the description as wiki text, v3 as
  Atlassian Documents; each comment carries `jsdPublic` (false: internal).
- `search/jql` answers at most 100 issues a page when fields are asked for (5000 for ids only);
  `short_pages = N` makes a search asking for many fields (`HEAVY_FIELDS` or more, or `*all`)
  answer at most N a page, as the docs warn Jira may ("fewer items per page where a large number
  of fields are requested"): the next page token then goes on from what was sent.
- `GET /rest/api/3/issue/{key}?expand=transitions` lists the transitions available from the
  issue's status, as the transitions endpoint does (Jira documents the expand); with
  `transitions.fields` also each one's screen fields (documented for the transitions endpoint;
  a `tamper` can take them, or the whole list, out of the issue's answer).

- `GET /rest/api/3/attachment/content/{id}` answers 303 to a second loopback host, the media host
  (`media`, plain http; `serve_media_over_https(cert)` makes it https), as live Jira redirects to
  its media service; with `redirect=false` it answers the bytes itself. `media_redirect_always`
  makes it redirect even then (a site or proxy that ignores the parameter), for the tests of the
  credentials rule. The media host records what it was sent (`media.seen`).
- `PUT /rest/api/3/issue/{key}` sets summary, labels, priority, assignee, reporter (without the
  Modify Reporter permission, `reporter_editable = False`, the field is not on the edit screen:
  400 naming it, as Jira answers) and the request type field (`customfield_10010`, the request
  type id; only to a request type of the same issue type, else 400).

- Custom fields (`CUSTOM_FIELDS`, listed by GET /rest/api/3/field with their schemas): a text
  field "Service", a select "Department", a multi-select "Products", a number "Seats" and a date
  "Renewal"; no request form has them unless a test puts them there (`form_fields`, request
  type id -> the custom fields its form adds); those a form lacks are set by an issue edit.
  Values are checked as Jira does (400 naming the field id); GET
  .../issue/createmeta/{project}/issuetypes/{id} lists the options; JQL takes `cf[NNNNN]` (`~`
  for text, `=`/`in` for the rest).
- The changelog: every write the stand-in performs records an entry (author, created, items with
  from/to and fromString/toString, as Jira's), the automation's under the "Automation for Jira"
  app account (accountType "app"). GET .../issue/{key}/changelog pages it (100 the most);
  `expand=changelog` on an issue or a search embeds the newest `embedded_changelog` entries
  (default 100) with the real `total`. GET /rest/api/3/status lists the statuses.

- SLAs (issue 16): "Time to resolution" and "Time to first response" per request, goals per
  priority (SLA_GOALS, calendar time), computed from the status history when asked: a cycle
  starts at creation, pauses while "Waiting for customer" (no breachTime then), completes on a
  done status (the first response also on the first public reply of an agent who is not the
  reporter); a reopen starts a new resolution cycle. GET .../sla and `expand=sla` give them
  (agents only), as do the site's SLA fields (customfield_10021, customfield_10020, listed by GET
  /field with the custom type com.atlassian.servicedesk:sd-sla-field) in issue reads and searches;
  JQL takes the SLA functions on them (`"Time to resolution" = breached()`, `!= completed()`,
  `running()`, `paused()`, `everBreached()`, `<= remaining("2h")`, `elapsed(...)`).
- CSAT feedback: GET/POST/DELETE .../request/{key}/feedback; POST from the reporter only (403
  otherwise), once the request is in a done status, 1..5; a new one replaces the last. As Jira
  does, the feedback sets the issue's "Satisfaction" field (customfield_10030, custom type
  com.atlassian.servicedesk:sd-request-feedback) and its "Satisfaction date" (customfield_10031,
  ...:sd-request-feedback-date, the time it was given), both listed by GET /field and given in
  issue reads and searches. Atlassian does not document the Satisfaction field's value: here it
  is {"self": the feedback endpoint, "rating": 1..5, "comment": {"body"}} (the comment where one
  was given). `csat_fields = False` makes a site without the two fields (not listed, not
  given); `csat_field_comment = False` one whose Satisfaction value carries the rating only.
- An engineering project ENG (a software project: no requests) for escalations: POST
  /rest/api/{2,3}/issue makes its issues (summary, description, duedate), POST .../issueLink links
  them (LINK_TYPES; an unknown type is a 404), `issuelinks` on both issues; a global transition
  into each status of its workflow (To Do, Evaluation, In progress, In Review, Done); their
  changelogs as the requests'.

For the hardening tests, a broken or hostile site: `stuck_paging = N` (the next N list and
search pages repeat the first page and say more follows, with the same nextPageToken; a client
that never notices stops after N), and `tamper(request, data)`, a function that may rewrite any
JSON answer before it is sent.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

from .base import FileHost as FileHostBase
from .base import HTTPError, Request, Response, StandInServer

# --- seed data ------------------------------------------------------------------------------

PROJECT_ID, PROJECT_KEY, PROJECT_NAME = "10000", "SUP", "Support"
SERVICE_DESK_ID = "1"

AGENT_EMAIL = "agent@example.com"
CUSTOMER_EMAIL = "customer@example.com"
LEAD_EMAIL = "lead@example.com"
DEV_EMAIL = "dev@example.com"
# Cloud account ids; several contain ':' and must be percent-encoded in paths and queries.
ACCOUNT_IDS = {
    AGENT_EMAIL: "557058:f1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b",
    CUSTOMER_EMAIL: "qm:9c8b7a6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d:6c1e0a2b3d4f5a6b7c8d9e0f",
    LEAD_EMAIL: "qm:9c8b7a6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d:6c1e0a2b3d4f5a6b7c8d9e10",
    DEV_EMAIL: "5b10ac8d82e05b22cc7d4ef5",
}
ORGANIZATION_ID = "1"  # "Acme": customer and lead belong to it, dev does not
# The account Jira's automation rules act as (an app: accountType "app", no email).
AUTOMATION_ID = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"
AUTOMATION_NAME = "Automation for Jira"

# status category key -> (id, name, colour); the servicedeskapi upper-cases the key.
CATEGORIES = {
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
# status name -> (id, category key)
STATUSES = {
    "Waiting for support": ("10001", "new"),
    "Waiting for customer": ("10002", "indeterminate"),
    "In progress": ("3", "indeterminate"),
    "Resolved": ("10003", "done"),
    "Closed": ("6", "done"),
    "Canceled": ("10004", "done"),
    # the engineering project's workflow (escalations): To Do, Evaluation, In progress, In Review, Done
    "To Do": ("10010", "new"),
    "Evaluation": ("10011", "indeterminate"),
    "In Review": ("10012", "indeterminate"),
    "Done": ("10013", "done"),
}
INITIAL_STATUS = "Waiting for support"
PRIORITIES = {"1": "Highest", "2": "High", "3": "Medium", "4": "Low", "5": "Lowest"}
DEFAULT_PRIORITY = "Medium"
RESOLUTIONS = {
    "10000": "Done",
    "10001": "Won't Do",
    "10002": "Duplicate",
    "10003": "Declined",
    "10004": "Cannot Reproduce",
}


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to: str
    sources: tuple[str, ...] | None  # None: a global transition, from every status but Closed
    needs_resolution: bool = False  # its screen has a required Resolution field
    customer: bool = False  # also offered by the servicedeskapi (customer transitions)
    resolution: str | None = None  # set by a post function when none is set yet


_OPEN = ("Waiting for support", "Waiting for customer", "In progress")
TRANSITIONS = (
    Transition("11", "Respond to customer", "Waiting for customer", ("Waiting for support", "In progress")),
    Transition("21", "Start progress", "In progress", ("Waiting for support", "Waiting for customer")),
    Transition("31", "Back to support", "Waiting for support", ("Waiting for customer", "In progress", "Resolved")),
    Transition("41", "Resolve this issue", "Resolved", _OPEN, needs_resolution=True),
    Transition("51", "Reopen", "Waiting for support", ("Resolved",), customer=True),
    Transition("61", "Close request", "Closed", None, customer=True, resolution="Done"),
    Transition("71", "Cancel request", "Canceled", _OPEN, customer=True, resolution="Won't Do"),
)


# The engineering workflow: a global transition into every status, named after it (Jira's
# "all statuses can transition to this one"), so an issue can move on and back.
ENG_TRANSITIONS = (
    Transition("101", "To Do", "To Do", None),
    Transition("111", "Evaluation", "Evaluation", None),
    Transition("121", "In Progress", "In progress", None),
    Transition("131", "In Review", "In Review", None),
    Transition("141", "Done", "Done", None, resolution="Done"),
)


@dataclass(frozen=True)
class RequestType:
    id: str
    name: str
    issue_type_id: str
    issue_type: str
    fields: tuple[str, ...]  # fields it accepts in requestFieldValues


REQUEST_TYPES = {
    "10": RequestType("10", "General", "10100", "Service Request", ("summary", "description")),
    "11": RequestType("11", "Technical", "10101", "Incident", ("summary", "description", "priority")),
    "12": RequestType("12", "Report a bug", "10102", "Bug", ("summary", "description", "labels")),
    # A second request type of the "Service Request" issue type: a request's type can be changed
    # only to one of the same issue type (another issue type needs a move of the issue).
    "13": RequestType("13", "Get IT help", "10100", "Service Request", ("summary", "description")),
}
REQUEST_TYPE_FIELD = "customfield_10010"  # the site's "Request Type" field (com.atlassian.servicedesk:vp-origin)
FIELD_LABELS = {
    "summary": "Summary",
    "description": "Description",
    "priority": "Priority",
    "labels": "Labels",
}


@dataclass(frozen=True)
class CustomField:
    id: str  # customfield_NNNNN
    name: str
    kind: str  # text | select | multiselect | number | date
    options: tuple[str, ...] = ()  # a select's option values; their ids are OPTION_IDS

    @property
    def number(self) -> int:
        return int(self.id.removeprefix("customfield_"))

    def option_id(self, value: str) -> str:
        return str(self.number * 10 + self.options.index(value))


_CUSTOM_TYPES = {
    "text": ("string", None, "textfield"),
    "select": ("option", None, "select"),
    "multiselect": ("array", "option", "multiselect"),
    "number": ("number", None, "float"),
    "date": ("date", None, "datepicker"),
}
CUSTOM_FIELDS = {
    f.id: f
    for f in (
        CustomField("customfield_10050", "Service", "text"),
        CustomField("customfield_10051", "Department", "select", ("Commercial", "Technical", "Billing")),
        CustomField("customfield_10052", "Products", "multiselect", ("VPS", "Dedicated", "DNS", "Email")),
        CustomField("customfield_10053", "Seats", "number"),
        CustomField("customfield_10054", "Renewal", "date"),
    )
}
FIELD_LABELS.update({f.id: f.name for f in CUSTOM_FIELDS.values()})
TEXT_FIELD_MAX = 255  # a single-line text field
CHANGELOG_MAX = 100  # GET .../changelog: maxResults defaults to and is capped at 100
EMBEDDED_CHANGELOG = 100  # what expand=changelog embeds (the newest; `total` says how many there are)

EMBEDDED_COMMENTS = 20  # the newest comments an issue's `comment` field embeds (the rest: total)
HEAVY_FIELDS = 8  # a search asking for this many fields is one `short_pages` cuts short
# The SLA metrics (id, name, the site's SLA field) and their goals per priority in minutes
# (calendar time); both pause while the request waits for the customer.
SLA_METRICS = (  # as a site lists them: resolution first
    ("1", "Time to resolution", "customfield_10021"),
    ("2", "Time to first response", "customfield_10020"),
)
SLA_GOALS = {  # priority -> (first response, resolution) in minutes
    "Highest": (30, 120),
    "High": (60, 480),
    "Medium": (240, 1440),
    "Low": (480, 4320),
    "Lowest": (480, 4320),
}
SLA_PAUSED = ("Waiting for customer",)
SLA_FIELD = "com.atlassian.servicedesk:sd-sla-field"
# The CSAT feedback's fields on the issue (set when the reporter gives feedback).
SATISFACTION_FIELD = "customfield_10030"  # com.atlassian.servicedesk:sd-request-feedback
SATISFACTION_DATE_FIELD = "customfield_10031"  # com.atlassian.servicedesk:sd-request-feedback-date
CSAT_TYPE = "com.atlassian.servicedesk:sd-request-feedback"
CSAT_DATE_TYPE = "com.atlassian.servicedesk:sd-request-feedback-date"
# The engineering project escalations go to (a software project: no servicedeskapi requests).
ENG_ID, ENG_KEY, ENG_NAME = "10200", "ENG", "Engineering"
ENG_ISSUE_TYPES = {"10300": "Task", "10301": "Bug"}
ENG_INITIAL = "To Do"
# Issue link types: name -> (inward, outward) descriptions.
LINK_TYPES = {
    "10000": ("Escalates", "is escalated by", "escalates"),
    "10001": ("Relates", "relates to", "relates to"),
    "10002": ("Blocks", "is blocked by", "blocks"),
}
FAR_PAST = -(2**62)


# --- state ----------------------------------------------------------------------------------


@dataclass
class User:
    account_id: str
    email: str
    display_name: str
    agent: bool = False  # a licensed agent; customers are portal-only accounts
    organizations: set[str] = field(default_factory=set)
    app: bool = False  # an app's account (Jira's automation): accountType "app", no email


@dataclass
class Attachment:
    id: str
    filename: str
    mime_type: str
    content: bytes
    author: str  # accountId
    created: int  # epoch ms
    public: bool = True


@dataclass
class Comment:
    id: str
    author: str  # accountId
    body: str  # wiki markup, as the servicedeskapi takes it
    public: bool
    created: int
    attachment_ids: list[str] = field(default_factory=list)


@dataclass
class Issue:
    id: int
    key: str
    request_type_id: str
    summary: str
    description: str | None
    reporter: str  # accountId
    created: int  # epoch ms
    updated: int
    status: str = INITIAL_STATUS
    status_history: list[tuple[str, int]] = field(default_factory=list)  # oldest first
    priority: str = DEFAULT_PRIORITY
    labels: list[str] = field(default_factory=list)
    assignee: str | None = None
    participants: list[str] = field(default_factory=list)
    organizations: list[str] = field(default_factory=list)
    resolution: str | None = None
    resolutiondate: int | None = None
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    custom: dict[str, object] = field(default_factory=dict)  # field id -> text, option(s), number, date
    changelog: list[dict] = field(default_factory=list)  # {id, author, created, items}, oldest first
    feedback: dict | None = None  # the reporter's CSAT feedback: {rating, comment}
    feedback_at: int | None = None  # when it was given (epoch ms): the Satisfaction date field
    # What JQL search sees: (visible from epoch ms, searchable snapshot), oldest first.
    index_log: list[tuple[int, dict]] = field(default_factory=list, repr=False)

    @property
    def request_type(self) -> RequestType:
        return REQUEST_TYPES[self.request_type_id]

    @property
    def category(self) -> str:
        return STATUSES[self.status][1]


@dataclass
class EngIssue:
    """An issue of the engineering project (escalations): a platform issue, not a request."""

    id: int
    key: str
    issue_type: str
    summary: str
    description: str | None
    reporter: str
    created: int
    updated: int
    status: str = ENG_INITIAL
    duedate: str | None = None
    resolution: str | None = None
    changelog: list[dict] = field(default_factory=list)


# --- formatting -----------------------------------------------------------------------------


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def jira_time(ms: int | None) -> str | None:
    """Jira's timestamp format: 2026-11-23T10:00:00.000+0000."""
    if ms is None:
        return None
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def date_dto(ms: int) -> dict:
    d = _dt(ms)
    return {
        "iso8601": d.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "jira": jira_time(ms),
        "friendly": d.strftime("%d/%b/%y %I:%M %p"),
        "epochMillis": ms,
    }


def to_adf(text: str | None) -> dict | None:
    """Plain text as an Atlassian Document: a paragraph per blank-line block, hard breaks inside."""
    if not text:
        return None
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        content: list[dict] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def from_adf(node) -> str:
    if isinstance(node, list):
        return "".join(from_adf(n) for n in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return node.get("text", "")
    if kind == "hardBreak":
        return "\n"
    inner = from_adf(node.get("content", []))
    if kind == "doc":
        return "\n\n".join(from_adf(child) for child in node.get("content", []))
    return inner


_WORD = re.compile(r"\w+")
# Lucene's English stop words: Jira's text search ignores them in the query.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with".split()
)


def _words(text: str | None) -> set[str]:
    return set(_WORD.findall((text or "").lower()))


# --- the media host -------------------------------------------------------------------------


class MediaHost(FileHostBase):
    """The second host attachment content redirects to (live: api.media.atlassian.com)."""

    def publish(self, content: bytes, mime_type: str) -> str:
        """A URL on this host serving `content` (a fresh token each time, as live media links)."""
        token = self.add(content, mime_type)
        return f"{self.url}/file/{token}?client=tixcli-standin&token={token[:8]}"


# --- the server -----------------------------------------------------------------------------


class JSMStandIn(StandInServer):
    """JSM Cloud over HTTP. Start with `.start()` or as a context manager; `.url` is the site.

    For tests: `issues` (key -> Issue), `comments` / `attachments` (key -> list), `users`
    (accountId -> User), `issue_count()`, `seed_requests(n, **fields)`, `act_as(email)`,
    `set_clock()` / `advance()`, and the switches `index_lag`, `reopen_on_comment`, `stuck_paging`,
    `embedded_comments`, `short_pages` and `tamper` (see the module docstring).
    `reset()` restores the seed state, the constructor's identity and the default switches.
    """

    def __init__(self, email: str = AGENT_EMAIL, token: str = "jsm-test-token-456", agent: bool = True):
        self._identity = (email, token, agent)
        self.email, self.token, self.agent = email, token, agent
        self.index_lag = 0.0  # seconds before a change is visible to JQL search
        self.reopen_on_comment = False  # a site rule: a public comment reopens a Resolved request
        self.stuck_paging = 0  # a broken site: the next N pages repeat the first and say more follows
        self.embedded_comments = EMBEDDED_COMMENTS  # the most comments an issue's `comment` field holds
        self.short_pages: int | None = None  # a search asking for many fields answers at most N a page
        self.tamper: Callable[[Request, object], object] | None = None  # rewrites JSON answers
        self.reporter_editable = True  # the account has the Modify Reporter permission
        self.media_redirect_always = False  # attachment content redirects even with redirect=false
        self.embedded_changelog = EMBEDDED_CHANGELOG  # the most entries expand=changelog embeds
        self.form_fields: dict[str, tuple[str, ...]] = {}  # request type id -> custom fields on its form
        self.csat_fields = True  # the site has the Satisfaction and Satisfaction date fields
        self.csat_field_comment = True  # the Satisfaction field's value carries the feedback's comment
        self._clock_offset_ms = 0
        self._frozen_at: int | None = None
        self.media: MediaHost | None = None  # plain http, started with the server
        self._media_http: MediaHost | None = None
        self._media_https: MediaHost | None = None
        super().__init__()

    def start(self) -> JSMStandIn:
        super().start()
        self._media_http = self.media = MediaHost()
        # base.py writes a response's headers and body in two sends: without TCP_NODELAY every
        # keep-alive request then waits ~40 ms (Nagle's algorithm against delayed ACKs).
        self._httpd.RequestHandlerClass.disable_nagle_algorithm = True
        return self

    # -- state -------------------------------------------------------------------------------

    def stop(self) -> None:
        for host in (self._media_http, self._media_https):
            if host is not None:
                host.stop()
        self.media = self._media_http = self._media_https = None
        super().stop()

    def serve_media_over_https(self, cert: tuple[str, str]) -> MediaHost:
        """Make the media host an https one with this certificate (until `reset`)."""
        if self._media_https is None:
            self._media_https = MediaHost(cert)
        self.media = self._media_https
        return self.media

    def reset_state(self) -> None:
        self.email, self.token, self.agent = self._identity
        self.index_lag = 0.0
        self.reopen_on_comment = False
        self.stuck_paging = 0
        self.embedded_comments = EMBEDDED_COMMENTS
        self.short_pages = None
        self.tamper = None
        self.reporter_editable = True
        self.media_redirect_always = False
        self.embedded_changelog = EMBEDDED_CHANGELOG
        self.form_fields = {}
        self.csat_fields = True
        self.csat_field_comment = True
        if getattr(self, "_media_http", None) is not None:
            self.media = self._media_http
            self.media.seen.clear()
        if getattr(self, "_media_https", None) is not None:
            self._media_https.seen.clear()
        self._clock_offset_ms = 0
        self._frozen_at = None
        self._last_tick = 0
        self.users: dict[str, User] = {}  # accountId -> User
        self.issues: dict[str, Issue] = {}  # key -> Issue
        self._by_id: dict[int, Issue] = {}
        self.temporary_attachments: dict[str, dict] = {}
        self.eng_issues: dict[str, EngIssue] = {}  # key -> the engineering project's issues
        self.links: list[dict] = []  # issue links: {id, type (id), inward (key), outward (key)}
        self._eng_numbers = itertools.count(1)
        self._link_ids = itertools.count(40000)
        self._ids = itertools.count(10001)
        self._numbers = itertools.count(1)
        self._comment_ids = itertools.count(10000)
        self._attachment_ids = itertools.count(20000)
        self._change_ids = itertools.count(30000)
        names = {
            AGENT_EMAIL: "Ada Agent",
            CUSTOMER_EMAIL: "Carla Customer",
            LEAD_EMAIL: "Lee Lead",
            DEV_EMAIL: "Dev Eloper",
        }
        for email, name in names.items():
            orgs = {ORGANIZATION_ID} if email in (CUSTOMER_EMAIL, LEAD_EMAIL) else set()
            self.add_user(email, name, agent=email == AGENT_EMAIL, account_id=ACCOUNT_IDS[email], organizations=orgs)
        self.users[AUTOMATION_ID] = User(AUTOMATION_ID, "", AUTOMATION_NAME, app=True)
        self._ensure_me()

    @property
    def comments(self) -> dict[str, list[Comment]]:
        return {key: issue.comments for key, issue in self.issues.items()}

    @property
    def attachments(self) -> dict[str, list[Attachment]]:
        return {key: issue.attachments for key, issue in self.issues.items()}

    def issue_count(self) -> int:
        return len(self.issues)

    def add_user(
        self,
        email: str,
        display_name: str | None = None,
        agent: bool = False,
        account_id: str | None = None,
        organizations: Iterable[str] = (),
    ) -> User:
        account_id = account_id or "qm:" + str(uuid.uuid5(uuid.NAMESPACE_URL, email))
        user = User(account_id, email, display_name or email.split("@")[0].title(), agent, set(organizations))
        self.users[account_id] = user
        return user

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email and u.email.lower() == email.lower()), None)

    def account_id(self, email: str) -> str:
        user = self.user_by_email(email)
        assert user is not None, f"no user {email}"
        return user.account_id

    def act_as(self, email: str, agent: bool | None = None, token: str | None = None) -> User:
        """Make `email` (and `token`) the valid credentials; `agent` defaults to the account's role."""
        with self.lock:
            known = self.user_by_email(email)
            self.email = email
            self.agent = agent if agent is not None else bool(known and known.agent)
            if token is not None:
                self.token = token
            return self._ensure_me()

    def _ensure_me(self) -> User:
        me = self.user_by_email(self.email) or self.add_user(self.email)
        me.agent = self.agent
        return me

    @property
    def me(self) -> User:
        return self._ensure_me()

    # -- clock -------------------------------------------------------------------------------

    def now_ms(self) -> int:
        if self._frozen_at is not None:
            return self._frozen_at
        return int(time.time() * 1000) + self._clock_offset_ms

    def set_clock(self, when: datetime | str | int, frozen: bool = False) -> None:
        """Move the clock to `when` (it keeps running from there unless frozen)."""
        target = _to_ms(when)
        with self.lock:
            self._frozen_at = target if frozen else None
            self._clock_offset_ms = target - int(time.time() * 1000)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self._clock_offset_ms += int(seconds * 1000)
            if self._frozen_at is not None:
                self._frozen_at += int(seconds * 1000)

    def _tick(self) -> int:
        """Now, but strictly after every earlier change (Jira's `updated` never ties here)."""
        self._last_tick = max(self.now_ms(), self._last_tick + 1)
        return self._last_tick

    # -- issues ------------------------------------------------------------------------------

    def _new_issue(
        self,
        request_type_id: str,
        summary: str,
        reporter: str,
        *,
        description=None,
        priority=None,
        labels=(),
        participants=(),
        created: int | None = None,
    ) -> Issue:
        created = self._tick() if created is None else created
        self._last_tick = max(self._last_tick, created)
        number = next(self._numbers)
        issue = Issue(
            id=next(self._ids),
            key=f"{PROJECT_KEY}-{number}",
            request_type_id=request_type_id,
            summary=summary,
            description=description or None,
            reporter=reporter,
            created=created,
            updated=created,
            priority=priority or DEFAULT_PRIORITY,
            labels=list(dict.fromkeys(labels)),
            participants=list(dict.fromkeys(p for p in participants if p != reporter)),
            organizations=sorted(self.users[reporter].organizations),
        )
        issue.status_history.append((INITIAL_STATUS, created))
        self.issues[issue.key] = issue
        self._by_id[issue.id] = issue
        return issue

    def seed_requests(self, n: int, **fields) -> list[Issue]:
        """Create `n` requests directly (no HTTP), already indexed for search.

        Fields: summary (str.format'ed with i), description, status, labels, priority,
        request_type (name or id), reporter / assignee (email or accountId), participants,
        created / updated (datetime, ISO string or epoch ms), comments (a number: that many
        comments, a millisecond apart after `created`, by the reporter and an agent in turn, the
        2nd, 6th, 10th... an internal note of the agent's; or a list of bodies or (body, public)).
        A callable value is called with i. By default requests are created one second apart,
        ending now; `updated` is at least the last comment's time.
        """
        with self.lock:
            now = self.now_ms()
            start = max(now - n * 1000, self._last_tick + 1)
            made = []
            for i in range(n):
                values = {k: (v(i) if callable(v) else v) for k, v in fields.items()}
                summary = str(values.get("summary", "Seeded request {i}")).format(i=i)
                rtype = self._request_type_named(str(values.get("request_type", "10")))
                created = _to_ms(values["created"]) if "created" in values else start + i * 1000
                issue = self._new_issue(
                    rtype.id,
                    summary,
                    self._account(values.get("reporter", CUSTOMER_EMAIL)),
                    description=values.get("description"),
                    priority=values.get("priority"),
                    labels=values.get("labels", ()),
                    created=created,
                    participants=[self._account(p) for p in values.get("participants", ())],
                )
                if values.get("assignee"):
                    issue.assignee = self._account(values["assignee"])
                status = values.get("status", INITIAL_STATUS)
                if status not in STATUSES or values.get("priority", DEFAULT_PRIORITY) not in PRIORITIES.values():
                    raise ValueError(f"unknown status {status!r} or priority {values.get('priority')!r}")
                if status != INITIAL_STATUS:
                    issue.status = status
                    issue.status_history.append((status, created))
                    if STATUSES[status][1] == "done":
                        issue.resolution = values.get("resolution", "Done")
                        issue.resolutiondate = created
                issue.updated = _to_ms(values["updated"]) if "updated" in values else created
                self._seed_comments(issue, values.get("comments", 0))
                self._last_tick = max(self._last_tick, issue.updated)
                issue.index_log = [(FAR_PAST, self._snapshot(issue))]
                made.append(issue)
            return made

    def _seed_comments(self, issue: Issue, comments) -> None:
        if isinstance(comments, int):
            comments = [None] * comments
        agent = self.account_id(AGENT_EMAIL)
        for j, given in enumerate(comments):
            author = issue.reporter if j % 2 == 0 else agent
            if isinstance(given, (tuple, list)):
                body, public = given
                author = author if public else agent  # customers post public comments only
            else:
                body, public = given, j % 4 != 1
            body = body if body is not None else f"Comment {j + 1} on {issue.key}"
            when = issue.created + j + 1
            issue.comments.append(Comment(str(next(self._comment_ids)), author, body, public, when))
            issue.updated = max(issue.updated, when)

    def add_comment(self, key: str, body: str, public: bool = True) -> Comment:
        """A comment of the current account put straight into the store (no HTTP), as one sent over
        HTTP lands: the automation runs, `updated` moves and the change is queued for the index."""
        with self.lock:
            return self._add_comment(self.issues[key], body, public)

    def _account(self, who) -> str:
        if isinstance(who, User):
            return who.account_id
        if who in self.users:
            return who
        user = self.user_by_email(who)
        if user is None:
            raise ValueError(f"unknown user {who!r}")
        return user.account_id

    def _request_type_named(self, name_or_id: str) -> RequestType:
        for rtype in REQUEST_TYPES.values():
            if name_or_id in (rtype.id, rtype.name):
                return rtype
        raise ValueError(f"unknown request type {name_or_id!r}")

    def _touch(self, issue: Issue) -> None:
        """Record a change: bump `updated` and queue it for the search index."""
        issue.updated = self._tick()
        self._reindex(issue)

    def _reindex(self, issue: Issue) -> None:
        now = self.now_ms()
        entry = (now + int(self.index_lag * 1000), self._snapshot(issue))
        if self.index_lag <= 0:
            issue.index_log = [entry]
            return
        visible = [e for e in issue.index_log if e[0] <= now][-1:]  # served until the new one lands
        issue.index_log = visible + [e for e in issue.index_log if e[0] > now] + [entry]

    def _indexed(self, issue: Issue, now: int) -> dict | None:
        found = None
        for visible_from, snap in issue.index_log:
            if visible_from <= now:
                found = snap
        return found

    def _snapshot(self, issue: Issue) -> dict:
        """The searchable fields of an issue, as the index holds them."""
        return {
            "id": issue.id,
            "key": issue.key,
            "number": int(issue.key.split("-")[1]),
            "project": PROJECT_KEY,
            "summary": issue.summary,
            "description": issue.description or "",
            "comment": "\n".join(c.body for c in issue.comments),
            "status": issue.status,
            "statusCategory": issue.category,
            "priority": issue.priority,
            "requesttype": issue.request_type_id,
            "issuetype": issue.request_type.issue_type,
            "resolution": issue.resolution,
            "reporter": issue.reporter,
            "assignee": issue.assignee,
            "labels": frozenset(issue.labels),
            "participants": frozenset(issue.participants),
            "created": issue.created,
            "updated": issue.updated,
            "resolutiondate": issue.resolutiondate,
            **{fid: _searchable(issue.custom.get(fid)) for fid in CUSTOM_FIELDS},
        }

    def _set_status(self, issue: Issue, status: str, author: str | None = None) -> dict:
        """Move the issue to `status` (by `author`, the current account by default): the changelog
        entry it records, to which a resolution change is added."""
        old = issue.status
        issue.status = status
        issue.status_history.append((status, self._tick()))
        item = _item("status", "status", STATUSES[old][0], old, STATUSES[status][0], status)
        return self._log(issue, [item], author)

    def _transition(self, issue: Issue, transition: Transition, resolution: str | None = None) -> None:
        before = issue.resolution
        entry = self._set_status(issue, transition.to)
        if STATUSES[transition.to][1] == "done":
            issue.resolution = resolution or issue.resolution or transition.resolution
            issue.resolutiondate = issue.resolutiondate or self.now_ms()
        else:
            issue.resolution = issue.resolutiondate = None
        if issue.resolution != before:
            ids = {name: rid for rid, name in RESOLUTIONS.items()}
            entry["items"].append(
                _item(
                    "resolution",
                    "resolution",
                    ids.get(before or ""),
                    before,
                    ids.get(issue.resolution or ""),
                    issue.resolution,
                )
            )
        self._touch(issue)

    # -- the changelog ---------------------------------------------------------------------

    def _log(self, issue: Issue | EngIssue, items: list[dict], author: str | None = None) -> dict:
        """Record a change of `issue` (by `author`, the current account by default)."""
        entry = {
            "id": str(next(self._change_ids)),
            "author": author if author is not None else self.me.account_id,
            "created": self._last_tick or self.now_ms(),
            "items": items,
        }
        issue.changelog.append(entry)
        return entry

    def add_changes(self, key: str, n: int, author: str | None = None) -> None:
        """`n` summary changes of a request put straight into its changelog (no HTTP)."""
        with self.lock:
            issue = self.issues[key]
            for i in range(n):
                old, issue.summary = issue.summary, f"{issue.summary.split(' #')[0]} #{i + 1}"
                self._tick()
                self._log(issue, [_item("summary", "summary", None, old, None, issue.summary)], author)
            self._touch(issue)

    def _changelog_json(self, entry: dict) -> dict:
        data = {"id": entry["id"], "created": jira_time(entry["created"]), "items": [dict(i) for i in entry["items"]]}
        if entry["author"] is not None:
            data["author"] = self._user_json(entry["author"])
        return data

    def _embedded_changelog(self, issue: Issue | EngIssue) -> dict:
        """An issue's `changelog` with expand=changelog: the newest entries, and how many there are."""
        total = len(issue.changelog)
        kept = issue.changelog[max(0, total - self.embedded_changelog) :] if self.embedded_changelog > 0 else []
        return {
            "startAt": total - len(kept),
            "maxResults": len(kept),
            "total": total,
            "histories": [self._changelog_json(e) for e in kept],
        }

    def _custom_change(self, cf: CustomField, old, new) -> dict:
        """A changelog item of a custom field, as Jira writes it per type."""

        def ids(value):
            if cf.kind == "select":
                return cf.option_id(value) if value is not None else None
            if cf.kind == "multiselect":
                return "[" + ", ".join(cf.option_id(v) for v in value) + "]" if value else None
            if cf.kind == "date":
                return value
            return None

        def shown(value):
            if value is None or value == []:
                return None
            if cf.kind == "multiselect":
                return ",".join(value)
            if cf.kind == "number":
                return str(int(value)) if float(value).is_integer() else str(value)
            if cf.kind == "date":
                return datetime.strptime(value, "%Y-%m-%d").strftime("%d/%b/%y")
            return str(value)

        return {
            "field": cf.name,
            "fieldtype": "custom",
            "fieldId": cf.id,
            "from": ids(old),
            "fromString": shown(old),
            "to": ids(new),
            "toString": shown(new),
        }

    def _available(self, issue: Issue) -> list[Transition]:
        if issue.status == "Closed":
            return []  # Closed is final
        return [
            t
            for t in TRANSITIONS
            if (t.sources is None and t.to != issue.status) or (t.sources is not None and issue.status in t.sources)
        ]

    def _add_comment(self, issue: Issue, body: str, public: bool, automate: bool = True) -> Comment:
        me = self.me
        comment = Comment(str(next(self._comment_ids)), me.account_id, body, public, self._tick())
        issue.comments.append(comment)
        if automate and public:
            # The default JSM automation rules, keyed on who commented (Automation for Jira acts).
            if not me.agent and issue.status == "Waiting for customer":
                self._set_status(issue, "Waiting for support", AUTOMATION_ID)
            elif me.agent and issue.status == "Waiting for support":
                self._set_status(issue, "Waiting for customer", AUTOMATION_ID)
            elif issue.status == "Resolved" and self.reopen_on_comment:
                self._set_status(issue, "Waiting for support", AUTOMATION_ID)
                issue.resolution = issue.resolutiondate = None
        self._touch(issue)
        return comment

    # -- permissions -------------------------------------------------------------------------

    def _can_view(self, issue: Issue, user: User) -> bool:
        if user.agent:
            return True
        return (
            issue.reporter == user.account_id
            or user.account_id in issue.participants
            or bool(user.organizations & set(issue.organizations))
        )

    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header and request.method == "GET" and request.path.endswith("/serverInfo"):
            return None  # serverInfo answers anonymous callers
        expected = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if header == expected:
            return None
        message = "Client must be authenticated to access this resource."
        if _is_sd(request):
            body = _sd_body(message, "sd.auth.required")
        else:
            body = {"errorMessages": [message], "errors": {}}
        return Response(
            401,
            json=body,
            headers={
                "WWW-Authenticate": 'Basic realm="protected-area"',
                "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
            },
        )

    def _dispatch(self, request: Request) -> Response:
        response = super()._dispatch(request)
        if self.tamper is not None and response.json is not None:
            response.json = self.tamper(request, response.json)
        return response

    def not_found(self, request: Request, path_matched: bool) -> Response:
        status = 405 if path_matched else 404
        message = "Method Not Allowed" if path_matched else "null for uri: " + request.path
        if _is_sd(request):
            return Response(status, json=_sd_body(message))
        return Response(status, json={"errorMessages": [message], "errors": {}})

    def _agent_only(self) -> None:
        if not self.me.agent:
            raise _jira_error(403, "You do not have permission to perform this operation.")

    # -- routes ------------------------------------------------------------------------------

    def setup_routes(self) -> None:
        sd = "/rest/servicedeskapi"
        req = sd + r"/request/(?P<key>[^/]+)"
        desk = sd + r"/servicedesk/(?P<desk>[^/]+)"
        api = r"/rest/api/(?P<v>[23])"
        routes = [
            ("GET", sd + "/info", self.sd_info),
            ("GET", sd + "/servicedesk", self.list_service_desks),
            ("GET", desk, self.get_service_desk),
            ("GET", desk + "/requesttype", self.list_request_types),
            ("GET", sd + "/requesttype", self.list_request_types),
            ("GET", desk + r"/requesttype/(?P<rtype>[^/]+)", self.get_request_type),
            ("GET", desk + r"/requesttype/(?P<rtype>[^/]+)/field", self.get_request_type_fields),
            ("POST", desk + "/attachTemporaryFile", self.attach_temporary_file),
            ("POST", sd + "/request", self.create_request),
            ("GET", sd + "/request", self.list_requests),
            ("GET", req, self.get_request),
            ("GET", req + "/comment", self.list_comments),
            ("POST", req + "/comment", self.create_comment),
            ("GET", req + r"/comment/(?P<comment_id>[^/]+)", self.get_comment),
            ("GET", req + "/participant", self.list_participants),
            ("POST", req + "/participant", self.add_participants),
            ("DELETE", req + "/participant", self.remove_participants),
            ("GET", req + "/attachment", self.list_attachments),
            ("POST", req + "/attachment", self.create_attachments),
            ("GET", req + "/transition", self.list_customer_transitions),
            ("POST", req + "/transition", self.perform_customer_transition),
            ("GET", req + "/status", self.list_statuses),
            ("GET", req + "/sla", self.list_slas),
            ("GET", req + "/feedback", self.get_feedback),
            ("POST", req + "/feedback", self.post_feedback),
            ("DELETE", req + "/feedback", self.delete_feedback),
            # platform
            ("GET", api + "/search", self.removed_search),
            ("POST", api + "/search", self.removed_search),
            ("GET", api + "/search/jql", self.search_get),
            ("POST", api + "/search/jql", self.search_post),
            ("POST", api + "/search/approximate-count", self.approximate_count),
            ("POST", api + "/issue", self.create_issue),
            ("POST", api + "/issueLink", self.create_issue_link),
            ("GET", api + "/issueLinkType", self.list_link_types),
            ("GET", api + r"/issue/(?P<key>[^/]+)", self.get_issue),
            ("PUT", api + r"/issue/(?P<key>[^/]+)", self.edit_issue),
            ("PUT", api + r"/issue/(?P<key>[^/]+)/assignee", self.assign_issue),
            ("GET", api + r"/issue/(?P<key>[^/]+)/transitions", self.get_transitions),
            ("POST", api + r"/issue/(?P<key>[^/]+)/transitions", self.do_transition),
            ("GET", api + r"/attachment/content/(?P<att>\d+)", self.attachment_content),
            (
                "GET",
                r"/servicedesk/customershim/secure/attachment/(?P<att>\d+)/[^/]*",
                self.attachment_content,
            ),
            ("GET", api + "/user/search", self.user_search),
            ("GET", api + "/user", self.get_user),
            ("GET", api + "/user/bulk", self.bulk_users),
            ("GET", api + "/myself", self.myself),
            ("GET", api + "/serverInfo", self.server_info),
            ("GET", api + "/field", self.list_fields),
            ("GET", api + "/status", self.list_statuses_platform),
            ("GET", api + r"/issue/(?P<key>[^/]+)/changelog", self.get_changelog),
            ("GET", api + r"/issue/createmeta/(?P<project>[^/]+)/issuetypes/(?P<issuetype>[^/]+)", self.create_meta),
        ]
        for method, pattern, handler in routes:
            self.route(method, pattern, handler)

    # -- servicedeskapi: desks and request types ---------------------------------------------

    def sd_info(self, request: Request) -> Response:
        return Response(
            json={
                "version": "10.1.0",
                "platformVersion": "1001.0.0",
                "buildDate": date_dto(0),
                "buildChangeSet": "stand-in",
                "isLicensedForUse": True,
                "_links": {"self": self.url + "/rest/servicedeskapi/info"},
            }
        )

    def _desk(self, desk: str) -> dict:
        # The docs allow a project id or key in place of the service desk id.
        if desk not in (SERVICE_DESK_ID, PROJECT_ID, PROJECT_KEY):
            raise _sd_error(404, f"The service desk with ID {desk} does not exist.", "sd.servicedesk.error.notfound")
        return {
            "id": SERVICE_DESK_ID,
            "projectId": PROJECT_ID,
            "projectName": PROJECT_NAME,
            "projectKey": PROJECT_KEY,
            "_links": {"self": f"{self.url}/rest/servicedeskapi/servicedesk/{SERVICE_DESK_ID}"},
        }

    def list_service_desks(self, request: Request) -> Response:
        return Response(json=self._page(request, [self._desk(SERVICE_DESK_ID)], lambda d: d, default_limit=100))

    def get_service_desk(self, request: Request, desk: str) -> Response:
        return Response(json=self._desk(desk))

    def _request_type_dto(self, rtype: RequestType) -> dict:
        base = f"{self.url}/rest/servicedeskapi/servicedesk/{SERVICE_DESK_ID}/requesttype/{rtype.id}"
        return {
            "_expands": [],
            "id": rtype.id,
            "_links": {"self": base},
            "name": rtype.name,
            "description": rtype.name,
            "helpText": "",
            "issueTypeId": rtype.issue_type_id,
            "serviceDeskId": SERVICE_DESK_ID,
            "groupIds": ["1"],
            "icon": {"id": "10500", "_links": {"iconUrls": {"48x48": f"{self.url}/icons/{rtype.id}.png"}}},
        }

    def _form(self, rtype: RequestType) -> tuple[str, ...]:
        """The fields a request type's form takes: its own, and the custom fields a test added."""
        return (*rtype.fields, *self.form_fields.get(rtype.id, ()))

    def _request_type(self, rtype_id: str) -> RequestType:
        rtype = REQUEST_TYPES.get(rtype_id)
        if rtype is None:
            raise _sd_error(404, f"The request type {rtype_id} does not exist.", "sd.requesttype.error.notfound")
        return rtype

    def list_request_types(self, request: Request, desk: str | None = None) -> Response:
        if desk is not None:
            self._desk(desk)
        query = (request.arg("searchQuery") or "").lower()
        types = [t for t in REQUEST_TYPES.values() if query in t.name.lower()]
        return Response(json=self._page(request, types, self._request_type_dto, default_limit=100))

    def get_request_type(self, request: Request, desk: str, rtype: str) -> Response:
        self._desk(desk)
        return Response(json=self._request_type_dto(self._request_type(rtype)))

    def get_request_type_fields(self, request: Request, desk: str, rtype: str) -> Response:
        self._desk(desk)
        fields = []
        for name in self._form(self._request_type(rtype)):
            if name in CUSTOM_FIELDS:
                cf = CUSTOM_FIELDS[name]
                fields.append(
                    {
                        "fieldId": name,
                        "name": cf.name,
                        "description": "",
                        "required": False,
                        "defaultValues": [],
                        "validValues": [{"value": cf.option_id(o), "label": o, "children": []} for o in cf.options],
                        "jiraSchema": _custom_schema(cf),
                    }
                )
                continue
            schema = {
                "summary": {"type": "string", "system": "summary"},
                "description": {"type": "string", "system": "description"},
                "priority": {"type": "priority", "system": "priority"},
                "labels": {"type": "array", "items": "string", "system": "labels"},
            }[name]
            valid = (
                [{"value": pid, "label": pname, "children": []} for pid, pname in PRIORITIES.items()]
                if name == "priority"
                else []
            )
            fields.append(
                {
                    "fieldId": name,
                    "name": FIELD_LABELS[name],
                    "description": "",
                    "required": name == "summary",
                    "defaultValues": [],
                    "validValues": valid,
                    "jiraSchema": schema,
                }
            )
        return Response(
            json={
                "requestTypeFields": fields,
                "canRaiseOnBehalfOf": self.me.agent,
                "canAddRequestParticipants": True,
            }
        )

    # -- servicedeskapi: requests ------------------------------------------------------------

    def _issue_for(self, key: str, sd: bool = True) -> Issue:
        issue = self.issues.get(key.upper())
        if issue is None and key.isdigit():
            issue = self._by_id.get(int(key))
        if issue is None or not self._can_view(issue, self.me):
            if sd:
                raise _sd_error(
                    404,
                    "Issue does not exist or you do not have permission to see it.",
                    "sd.request.error.notfound",
                )
            raise _jira_error(404, "Issue does not exist or you do not have permission to see it.")
        return issue

    def _user_dto(self, account_id: str) -> dict:
        user = self.users[account_id]
        jira_rest = f"{self.url}/rest/api/2/user?accountId={quote(account_id, safe='')}"
        return {
            "accountId": account_id,
            "emailAddress": user.email,
            "displayName": user.display_name,
            "active": True,
            "timeZone": "UTC",
            "_links": {"jiraRest": jira_rest, "avatarUrls": _avatars(account_id), "self": jira_rest},
        }

    def _status_dto(self, status: str, when: int) -> dict:
        return {"status": status, "statusCategory": STATUSES[status][1].upper(), "statusDate": date_dto(when)}

    def _field_values(self, issue: Issue) -> list[dict]:
        values = []
        for name in self._form(issue.request_type):
            if name == "summary":
                value = issue.summary
            elif name == "description":
                value = issue.description
            elif name == "priority":
                value = self._priority_json(issue.priority)
            elif name in CUSTOM_FIELDS:
                value = self._custom_json(issue, name)
            else:
                value = list(issue.labels)
            if value not in (None, []):
                values.append({"fieldId": name, "label": FIELD_LABELS[name], "value": value})
        return values

    def _request_dto(self, issue: Issue, expand: set[str]) -> dict:
        me = self.me
        dto = {
            "_expands": [
                "participant",
                "status",
                "sla",
                "requestType",
                "serviceDesk",
                "attachment",
                "action",
                "comment",
            ],
            "issueId": str(issue.id),
            "issueKey": issue.key,
            "requestTypeId": issue.request_type_id,
            "serviceDeskId": SERVICE_DESK_ID,
            "createdDate": date_dto(issue.created),
            "reporter": self._user_dto(issue.reporter),
            "requestFieldValues": self._field_values(issue),
            "currentStatus": self._status_dto(issue.status, issue.status_history[-1][1]),
            "_links": {
                "jiraRest": f"{self.url}/rest/api/2/issue/{issue.id}",
                "web": f"{self.url}/servicedesk/customer/portal/{SERVICE_DESK_ID}/{issue.key}",
                "self": f"{self.url}/rest/servicedeskapi/request/{issue.id}",
            },
        }
        base = f"/rest/servicedeskapi/request/{issue.id}"
        if "participant" in expand:
            dto["participants"] = self._paged(issue.participants, self._user_dto, base + "/participant")
        if "status" in expand:
            dto["status"] = self._paged(self._history(issue), lambda s: self._status_dto(*s), base + "/status")
        if "sla" in expand and me.agent:
            dto["sla"] = self._paged(self._slas(issue), lambda s: s, base + "/sla")
        if "requestType" in expand:
            dto["requestType"] = self._request_type_dto(issue.request_type)
        if "serviceDesk" in expand:
            dto["serviceDesk"] = self._desk(SERVICE_DESK_ID)
        if "attachment" in expand:
            dto["attachments"] = self._paged(
                self._visible_attachments(issue), self._attachment_dto, base + "/attachment"
            )
        if "comment" in expand:
            dto["comments"] = self._paged(
                self._visible_comments(issue), lambda c: self._comment_dto(issue, c), base + "/comment"
            )
        if "action" in expand:
            allowed = {"allowed": issue.status != "Closed"}
            dto["actions"] = {
                "addAttachment": allowed,
                "addComment": allowed,
                "addParticipant": allowed,
                "removeParticipant": allowed,
            }
        return dto

    def create_request(self, request: Request) -> Response:
        body = _json_body(request, sd=True)
        for name in ("serviceDeskId", "requestTypeId"):
            if not isinstance(body.get(name), str):  # the spec (and api-notes): ids are strings
                raise _sd_error(400, f"'{name}' must be a string.", "sd.request.create.error.invalid")
        self._desk(body["serviceDeskId"])
        rtype = REQUEST_TYPES.get(body["requestTypeId"])
        if rtype is None:
            raise _sd_error(
                400,
                f"The request type {body['requestTypeId']} does not exist in this service desk.",
                "sd.request.create.error.requesttype",
            )
        values = body.get("requestFieldValues")
        if not isinstance(values, dict):
            raise _sd_error(400, "requestFieldValues is required.", "sd.request.create.error.fields")
        # Only the request type's own fields are accepted (labels only on "Report a bug").
        unknown = sorted(set(values) - set(self._form(rtype)))
        if unknown:
            raise _sd_error(
                400,
                f"Field(s) {', '.join(unknown)} are not valid for the request type '{rtype.name}'.",
                "sd.request.create.error.fields.invalid",
            )
        summary = values.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise _sd_error(400, "Summary: You must specify a summary of the issue.", "sd.request.create.error.summary")
        description = values.get("description")
        if description is not None and not isinstance(description, str):
            raise _sd_error(400, "Description: must be a string.", "sd.request.create.error.description")
        priority = self._priority_from(values["priority"], sd=True) if "priority" in values else None
        labels = _check_labels(values.get("labels", []), sd=True)
        custom = {fid: self._custom_from(fid, values[fid], sd=True) for fid in CUSTOM_FIELDS if fid in values}
        me = self.me
        reporter = me.account_id
        on_behalf = body.get("raiseOnBehalfOf")
        if on_behalf not in (None, reporter):
            if not me.agent:
                raise _sd_error(
                    403,
                    "You do not have permission to raise requests on behalf of other customers.",
                    "sd.request.create.error.onbehalf",
                )
            if on_behalf not in self.users:  # an accountId, not an email
                raise _sd_error(400, f"The user '{on_behalf}' does not exist.", "sd.request.create.error.onbehalf")
            reporter = on_behalf
        participants = body.get("requestParticipants") or []
        self._check_accounts(participants)
        issue = self._new_issue(
            rtype.id,
            summary.strip(),
            reporter,
            description=description,
            priority=priority,
            labels=labels,
            participants=participants,
        )
        issue.custom = {fid: v for fid, v in custom.items() if v not in (None, [])}
        self._reindex(issue)
        return Response(201, json=self._request_dto(issue, set()))

    def list_requests(self, request: Request) -> Response:
        me = self.me
        ownership = set(_multi(request, "requestOwnership")) or {
            "OWNED_REQUESTS",
            "PARTICIPATED_REQUESTS",
            "ALL_ORGANIZATIONS",
        }
        valid = {
            "OWNED_REQUESTS",
            "PARTICIPATED_REQUESTS",
            "ORGANIZATION",
            "ALL_ORGANIZATIONS",
            "APPROVER",
            "ALL_REQUESTS",
        }
        if ownership - valid:
            raise _sd_error(
                400,
                f"Invalid requestOwnership: {', '.join(sorted(ownership - valid))}",
                "sd.request.error.ownership",
            )
        status = request.arg("requestStatus", "ALL_REQUESTS")
        if status not in ("OPEN_REQUESTS", "CLOSED_REQUESTS", "ALL_REQUESTS"):
            raise _sd_error(400, f"Invalid requestStatus: {status}", "sd.request.error.status")
        desk = request.arg("serviceDeskId")
        rtype = request.arg("requestTypeId")
        if rtype is not None and desk is None:
            raise _sd_error(
                400,
                "The serviceDeskId must be provided with the requestTypeId.",
                "sd.request.error.requesttype.servicedesk",
            )
        if desk is not None:
            self._desk(desk)
        org_id = request.arg("organizationId")
        orgs = me.organizations if org_id is None else me.organizations & {org_id}
        term = request.arg("searchTerm") or ""
        term_matches = _text_matcher(term) if term.strip() else None

        def wanted(issue: Issue) -> bool:
            if not self._can_view(issue, me):
                return False
            mine = (
                "ALL_REQUESTS" in ownership
                or ("OWNED_REQUESTS" in ownership and issue.reporter == me.account_id)
                or ("PARTICIPATED_REQUESTS" in ownership and me.account_id in issue.participants)
                or bool(ownership & {"ORGANIZATION", "ALL_ORGANIZATIONS"} and orgs & set(issue.organizations))
            )
            if not mine:
                return False
            done = issue.category == "done"
            if (status == "OPEN_REQUESTS" and done) or (status == "CLOSED_REQUESTS" and not done):
                return False
            if rtype is not None and issue.request_type_id != rtype:
                return False
            return term_matches is None or term_matches(issue.summary)  # the summary only (api-notes)

        found = sorted((i for i in self.issues.values() if wanted(i)), key=lambda i: i.created, reverse=True)
        expand = set(_multi(request, "expand"))
        return Response(json=self._page(request, found, lambda i: self._request_dto(i, expand)))

    def get_request(self, request: Request, key: str) -> Response:
        return Response(json=self._request_dto(self._issue_for(key), set(_multi(request, "expand"))))

    # -- servicedeskapi: comments ------------------------------------------------------------

    def _comment_dto(self, issue: Issue, comment: Comment, expand: Iterable[str] = ()) -> dict:
        dto = {
            "_expands": ["attachment", "renderedBody"],
            "id": comment.id,
            "body": comment.body,
            "public": comment.public,
            "author": self._user_dto(comment.author),
            "created": date_dto(comment.created),
            "_links": {"self": f"{self.url}/rest/servicedeskapi/request/{issue.id}/comment/{comment.id}"},
        }
        if "attachment" in expand:
            atts = [a for a in issue.attachments if a.id in comment.attachment_ids]
            dto["attachments"] = self._paged(
                atts,
                self._attachment_dto,
                f"/rest/servicedeskapi/request/{issue.id}/comment/{comment.id}/attachment",
            )
        if "renderedBody" in expand:
            dto["renderedBody"] = {"html": "".join(f"<p>{_html(p)}</p>" for p in comment.body.split("\n\n"))}
        return dto

    def _visible_comments(self, issue: Issue) -> list[Comment]:
        return [c for c in issue.comments if c.public or self.me.agent]

    def list_comments(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        public = _bool_arg(request, "public", True)
        internal = _bool_arg(request, "internal", True)
        comments = [c for c in self._visible_comments(issue) if (c.public and public) or (not c.public and internal)]
        expand = set(_multi(request, "expand"))
        return Response(json=self._page(request, comments, lambda c: self._comment_dto(issue, c, expand)))

    def get_comment(self, request: Request, key: str, comment_id: str) -> Response:
        issue = self._issue_for(key)
        comment = next((c for c in self._visible_comments(issue) if c.id == comment_id), None)
        if comment is None:
            raise _sd_error(404, "The comment does not exist.", "sd.comment.error.notfound")
        return Response(json=self._comment_dto(issue, comment, set(_multi(request, "expand"))))

    def _refuse_if_closed(self, issue: Issue, action: str) -> None:
        # Closed's workflow properties take the permissions away: a permission failure (403).
        if issue.status == "Closed":
            raise _sd_error(403, f"You cannot {action} a closed request.", "sd.request.error.closed")

    def create_comment(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        body = _json_body(request, sd=True)
        text, public = body.get("body"), body.get("public")
        if not isinstance(public, bool):
            raise _sd_error(400, "'public' is required.", "sd.comment.error.public.required")
        if not isinstance(text, str) or not text.strip():
            raise _sd_error(400, "The comment body cannot be empty.", "sd.comment.error.empty")
        self._refuse_if_closed(issue, "comment on")
        if not public and not self.me.agent:
            raise _sd_error(403, "Customers can only add public comments.", "sd.comment.error.internal")
        comment = self._add_comment(issue, text, public)
        return Response(201, json=self._comment_dto(issue, comment))

    # -- servicedeskapi: participants --------------------------------------------------------

    def _check_accounts(self, ids) -> None:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _sd_error(400, "Account ids must be a list of strings.", "sd.participant.error.invalid")
        unknown = [i for i in ids if i not in self.users]
        if unknown:
            raise _sd_error(
                400,
                f"The following users do not exist: {', '.join(unknown)}",
                "sd.participant.error.user.notfound",
            )

    def _log_participants(self, issue: Issue, before: list[str]) -> None:
        def ids(people):
            return "[" + ", ".join(people) + "]" if people else None

        def names(people):
            return ", ".join(self.users[p].display_name for p in people) or None

        after = issue.participants
        item = _item("Request participants", "customfield_10001", ids(before), names(before), ids(after), names(after))
        item["fieldtype"] = "custom"
        self._tick()
        self._log(issue, [item])

    def list_participants(self, request: Request, key: str) -> Response:
        return Response(json=self._page(request, self._issue_for(key).participants, self._user_dto))

    def _participant_ids(self, request: Request) -> list[str]:
        body = _json_body(request, sd=True)
        ids = list(body.get("accountIds") or []) + list(body.get("usernames") or [])
        if not ids:
            raise _sd_error(400, "No participants were given.", "sd.participant.error.empty")
        self._check_accounts(ids)
        return ids

    def add_participants(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        ids = self._participant_ids(request)
        self._refuse_if_closed(issue, "change participants of")
        new = [i for i in dict.fromkeys(ids) if i not in issue.participants and i != issue.reporter]
        if new:
            before = list(issue.participants)
            issue.participants.extend(new)
            self._log_participants(issue, before)
            self._touch(issue)
        return Response(json=self._page(request, issue.participants, self._user_dto))

    def remove_participants(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        ids = set(self._participant_ids(request))
        self._refuse_if_closed(issue, "change participants of")
        if ids & set(issue.participants):
            before = list(issue.participants)
            issue.participants = [p for p in issue.participants if p not in ids]
            self._log_participants(issue, before)
            self._touch(issue)
        return Response(json=self._page(request, issue.participants, self._user_dto))

    # -- servicedeskapi: attachments ---------------------------------------------------------

    def attach_temporary_file(self, request: Request, desk: str) -> Response:
        self._desk(desk)
        # A JSON body never reaches the XSRF check (it only guards form-like content types).
        if request.content_type != "multipart/form-data":
            raise HTTPError(415, _sd_body("Unsupported Media Type: expected multipart/form-data."))
        if request.headers.get("x-atlassian-token", "").lower() != "no-check":
            raise _sd_error(403, "XSRF check failed", "xsrf.check.failed")
        try:
            parts = _multipart(request)
        except ValueError as err:
            raise _sd_error(400, f"Malformed multipart body: {err}", "sd.attachment.error.multipart") from None
        files = [p for p in parts if p["name"] == "file" and p["filename"] is not None]
        if not files:
            raise _sd_error(400, "No file was found in the 'file' part.", "sd.attachment.error.nofile")
        made = []
        for part in files:
            temp_id = "temp" + str(uuid.uuid4().int)[:19]
            self.temporary_attachments[temp_id] = {
                "filename": part["filename"],
                "content": part["content"],
                "author": self.me.account_id,
                "mime_type": part["content_type"] or "application/octet-stream",
            }
            made.append({"temporaryAttachmentId": temp_id, "fileName": part["filename"]})
        return Response(201, json={"temporaryAttachments": made})

    def _attachment_dto(self, att: Attachment) -> dict:
        links = {
            "jiraRest": f"{self.url}/rest/api/2/attachment/{att.id}",
            "content": f"{self.url}/servicedesk/customershim/secure/attachment/{att.id}/" + quote(att.filename),
        }
        if att.mime_type.startswith("image/"):
            links["thumbnail"] = f"{self.url}/servicedesk/customershim/secure/thumbnail/{att.id}/_thumb_{att.id}.png"
        return {
            "filename": att.filename,
            "author": self._user_dto(att.author),
            "created": date_dto(att.created),
            "size": len(att.content),
            "mimeType": att.mime_type,
            "_links": links,
        }

    def _visible_attachments(self, issue: Issue) -> list[Attachment]:
        return [a for a in issue.attachments if a.public or self.me.agent]

    def create_attachments(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        body = _json_body(request, sd=True)
        temp_ids, public = body.get("temporaryAttachmentIds"), body.get("public")
        if not isinstance(public, bool):
            raise _sd_error(400, "'public' is required.", "sd.attachment.error.public.required")
        if not isinstance(temp_ids, list) or not temp_ids:
            raise _sd_error(400, "temporaryAttachmentIds is required.", "sd.attachment.error.empty")
        missing = [t for t in temp_ids if t not in self.temporary_attachments]
        if missing:
            raise _sd_error(
                400,
                f"Temporary attachment(s) not found: {', '.join(map(str, missing))}",
                "sd.attachment.error.temporary.notfound",
            )
        self._refuse_if_closed(issue, "add attachments to")
        if not public and not self.me.agent:
            raise _sd_error(403, "Customers can only add public attachments.", "sd.attachment.error.internal")
        extra = body.get("additionalComment") or {}
        made = []
        for temp_id in temp_ids:
            temp = self.temporary_attachments.pop(temp_id)
            made.append(
                Attachment(
                    str(next(self._attachment_ids)),
                    temp["filename"],
                    temp["mime_type"],
                    temp["content"],
                    self.me.account_id,
                    self._tick(),
                    public,
                )
            )
        issue.attachments.extend(made)
        self._log(issue, [_item("Attachment", "attachment", None, None, a.id, a.filename) for a in made])
        # JSM records the upload as a comment that links the files (after any additional text).
        refs = " ".join(
            f"!{a.filename}|thumbnail!" if a.mime_type.startswith("image/") else f"[^{a.filename}]" for a in made
        )
        text = f"{extra['body']}\n\n{refs}" if isinstance(extra, dict) and extra.get("body") else refs
        comment = self._add_comment(issue, text, public)
        comment.attachment_ids = [a.id for a in made]
        return Response(
            201,
            json={
                "comment": self._comment_dto(issue, comment),
                "attachments": self._paged(
                    made, self._attachment_dto, f"/rest/servicedeskapi/request/{issue.id}/attachment"
                ),
            },
        )

    def list_attachments(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        return Response(json=self._page(request, self._visible_attachments(issue), self._attachment_dto))

    def attachment_content(self, request: Request, att: str, v: str | None = None) -> Response:
        for issue in self.issues.values():
            for a in issue.attachments:
                if a.id == att and self._can_view(issue, self.me) and (a.public or self.me.agent):
                    # Live Jira answers 303 to its media host unless redirect=false (the platform
                    # endpoint; the customer portal's link serves the bytes itself).
                    redirect = v is not None and request.arg("redirect", "true").lower() != "false"
                    if self.media is not None and (redirect or (v is not None and self.media_redirect_always)):
                        return Response(303, headers={"Location": self.media.publish(a.content, a.mime_type)})
                    return Response(body=a.content, content_type=a.mime_type)
        raise _jira_error(404, "The attachment does not exist.")

    # -- servicedeskapi: transitions, status, SLA --------------------------------------------

    def _customer_transitions(self, issue: Issue) -> list[Transition]:
        # Only the request type's customer transitions are offered here, agents included.
        return [t for t in self._available(issue) if t.customer]

    def list_customer_transitions(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        return Response(
            json=self._page(
                request,
                self._customer_transitions(issue),
                lambda t: {"id": t.id, "name": t.name},
                default_limit=100,
            )
        )

    def perform_customer_transition(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        body = _json_body(request, sd=True)
        tid = body.get("id")
        if not isinstance(tid, str):
            raise _sd_error(400, "The transition 'id' is required and must be a string.", "sd.transition.error.id")
        transition = next((t for t in self._customer_transitions(issue) if t.id == tid), None)
        if transition is None:
            raise _sd_error(400, f"The transition {tid} is not valid for this request.", "sd.transition.error.invalid")
        extra = body.get("additionalComment")
        if isinstance(extra, dict) and extra.get("body"):
            self._add_comment(issue, extra["body"], True, automate=False)
        self._transition(issue, transition)
        return Response(204)

    def _history(self, issue: Issue) -> list[tuple[str, int]]:
        return list(reversed(issue.status_history))  # most recent first

    def list_statuses(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        return Response(json=self._page(request, self._history(issue), lambda s: self._status_dto(*s)))

    def _slas(self, issue: Issue) -> list[dict]:
        """The request's SLA metrics (SLA_METRICS), each with its completed cycles and its
        ongoing one, from the status history and the comments, with the goals of its priority."""
        first_goal, resolution_goal = SLA_GOALS[issue.priority]
        reply = next(
            (
                c.created
                for c in issue.comments
                if c.public and c.author != issue.reporter and self.users[c.author].agent
            ),
            None,
        )
        found = []
        for (sid, name, _), goal, stop, again in (
            (SLA_METRICS[0], resolution_goal, None, True),
            (SLA_METRICS[1], first_goal, reply, False),
        ):
            completed, ongoing = self._cycles(issue, goal * 60000, stop, again)
            sla: dict = {
                "id": sid,
                "name": name,
                "completedCycles": completed,
                "_links": {"self": f"{self.url}/rest/servicedeskapi/request/{issue.id}/sla/{sid}"},
            }
            if ongoing is not None:
                sla["ongoingCycle"] = ongoing
            found.append(sla)
        return found

    def _cycles(self, issue: Issue, goal: int, stop: int | None, again: bool) -> tuple[list[dict], dict | None]:
        """A metric's cycles: one starts at creation (and with `again`, each time the request
        leaves a done status), runs except while waiting for the customer, and completes when the
        request reaches a done status, or at `stop` (the first agent's public reply)."""
        now = self.now_ms()
        completed: list[dict] = []
        cycle: dict | None = None  # {start, elapsed, since (running since; None: paused)}

        def finish(at: int) -> None:
            nonlocal cycle
            assert cycle is not None
            if cycle["since"] is not None:
                cycle["elapsed"] += at - cycle["since"]
            elapsed = cycle["elapsed"]
            completed.append(
                {
                    "startTime": date_dto(cycle["start"]),
                    "stopTime": date_dto(at),
                    "breached": elapsed > goal,
                    "goalDuration": _duration(goal),
                    "elapsedTime": _duration(elapsed),
                    "remainingTime": _duration(goal - elapsed),
                }
            )
            cycle = None

        for status, at in issue.status_history:
            if stop is not None and at > stop:
                break
            done = STATUSES[status][1] == "done"
            if cycle is None:
                if not done and (again or not completed):
                    cycle = {"start": at, "elapsed": 0, "since": None if status in SLA_PAUSED else at}
                continue
            if done:
                finish(at)
                continue
            if cycle["since"] is not None:
                cycle["elapsed"] += at - cycle["since"]
            cycle["since"] = None if status in SLA_PAUSED else at
        if cycle is not None and stop is not None:
            finish(stop)
        if cycle is None:
            return completed, None
        elapsed = cycle["elapsed"] + (now - cycle["since"] if cycle["since"] is not None else 0)
        ongoing = {
            "startTime": date_dto(cycle["start"]),
            "breached": elapsed > goal,
            "paused": cycle["since"] is None,
            "withinCalendarHours": False,
            "goalDuration": _duration(goal),
            "elapsedTime": _duration(elapsed),
            "remainingTime": _duration(goal - elapsed),
        }
        if cycle["since"] is not None:  # no breach time while paused
            ongoing["breachTime"] = date_dto(now + goal - elapsed)
        return completed, ongoing

    def list_slas(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        if not self.me.agent:
            raise _sd_error(403, "Only agents can view SLA information.", "sd.sla.error.permission")
        return Response(json=self._page(request, self._slas(issue), lambda s: s))

    # -- servicedeskapi: CSAT feedback ---------------------------------------------------

    def _feedback_dto(self, feedback: dict) -> dict:
        dto: dict = {"type": "csat", "rating": feedback["rating"]}
        if feedback.get("comment") is not None:
            dto["comment"] = {"body": feedback["comment"]}
        return dto

    def _satisfaction_json(self, issue: Issue) -> dict | None:
        """The issue's Satisfaction field (None without feedback): see the module docstring."""
        if issue.feedback is None:
            return None
        value: dict = {
            "self": f"{self.url}/rest/servicedeskapi/request/{issue.id}/feedback",
            "rating": issue.feedback["rating"],
        }
        if self.csat_field_comment and issue.feedback.get("comment") is not None:
            value["comment"] = {"body": issue.feedback["comment"]}
        return value

    def get_feedback(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        if issue.feedback is None:
            raise _sd_error(404, "No feedback has been given for this request.", "sd.feedback.error.notfound")
        return Response(json=self._feedback_dto(issue.feedback))

    def post_feedback(self, request: Request, key: str) -> Response:
        """The reporter's rating (1..5) and comment, once the request is resolved (a done
        status: resolved or closed); a new one replaces the one given before."""
        issue = self._issue_for(key)
        body = _json_body(request, sd=True)
        if issue.reporter != self.me.account_id:
            raise _sd_error(403, "Only the reporter of the request can give feedback.", "sd.feedback.error.permission")
        rating = body.get("rating")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise _sd_error(400, "The rating must be an integer between 1 and 5.", "sd.feedback.error.rating")
        if body.get("type", "csat") != "csat":
            raise _sd_error(400, "Only csat feedback is supported.", "sd.feedback.error.type")
        comment = body.get("comment")
        if comment is not None and not (isinstance(comment, dict) and isinstance(comment.get("body", ""), str)):
            raise _sd_error(400, "The comment must be an object with a body.", "sd.feedback.error.comment")
        if issue.category != "done":
            raise _sd_error(400, "Feedback can be given once the request is resolved.", "sd.feedback.error.status")
        issue.feedback = {"rating": rating, "comment": (comment or {}).get("body") or None}
        issue.feedback_at = self._tick()  # and the issue's Satisfaction fields with it
        self._touch(issue)
        return Response(201, json=self._feedback_dto(issue.feedback))

    def delete_feedback(self, request: Request, key: str) -> Response:
        issue = self._issue_for(key)
        if issue.reporter != self.me.account_id:
            raise _sd_error(
                403, "Only the reporter of the request can remove feedback.", "sd.feedback.error.permission"
            )
        issue.feedback = None
        issue.feedback_at = None
        self._touch(issue)
        return Response(204)

    # -- paging ------------------------------------------------------------------------------

    def _paged(
        self,
        items: list,
        render: Callable,
        path: str,
        start: int = 0,
        limit: int = 50,
        query: dict | None = None,
        stuck: bool = False,
    ) -> dict:
        page = items[start : start + limit]
        is_last = start + len(page) >= len(items) and not stuck
        links = {"base": self.url + "/rest/servicedeskapi", "context": ""}
        extra = {k: v for k, v in (query or {}).items() if k not in ("start", "limit")}

        def link(at: int) -> str:
            return f"{self.url}{path}?" + urlencode({**extra, "start": at, "limit": limit}, doseq=True)

        if not is_last:
            links["next"] = link(start + limit)
        if start > 0:
            links["prev"] = link(max(0, start - limit))
        return {
            "_expands": [],
            "size": len(page),
            "start": start,
            "limit": limit,
            "isLastPage": is_last,
            "values": [render(x) for x in page],
            "_links": links,
        }

    def _page(self, request: Request, items: list, render: Callable, default_limit: int = 50) -> dict:
        start = _int_arg(request, "start", 0, sd=True)
        limit = min(_int_arg(request, "limit", default_limit, sd=True), 100)  # larger pages are clipped
        if start < 0 or limit < 1:
            raise _sd_error(400, "start must be >= 0 and limit >= 1.", "sd.paging.error")
        stuck = self.stuck_paging > 0
        if stuck:
            self.stuck_paging -= 1
            start = 0  # the first page again, whatever was asked
        return self._paged(items, render, request.path, start, limit, request.query, stuck=stuck)

    # -- platform: users and site ------------------------------------------------------------

    def _user_json(self, account_id: str | None) -> dict | None:
        if account_id is None:
            return None
        user = self.users[account_id]
        return {
            "self": f"{self.url}/rest/api/3/user?accountId={quote(account_id, safe='')}",
            "accountId": account_id,
            "accountType": "app" if user.app else "atlassian" if user.agent else "customer",
            "emailAddress": user.email,
            "avatarUrls": _avatars(account_id),
            "displayName": user.display_name,
            "active": True,
            "timeZone": "UTC",
            "locale": "en_US",
        }

    def user_search(self, request: Request, v: str) -> Response:
        if "username" in request.query:
            raise _jira_error(400, "The query parameter 'username' is not supported in GDPR strict mode.")
        query, account = request.arg("query"), request.arg("accountId")
        if query is None and account is None:
            raise _jira_error(400, "One of 'query' or 'accountId' query parameters must be provided.")
        if not self.me.agent:
            return Response(json=[])  # callers without Browse users get empty results
        q = (query or "").lower()
        found = [
            u
            for u in self.users.values()
            if (account is None or u.account_id == account)
            and (not q or u.email.lower().startswith(q) or any(w.startswith(q) for w in u.display_name.lower().split()))
        ]
        start, limit = _int_arg(request, "startAt", 0), _int_arg(request, "maxResults", 50)
        return Response(json=[self._user_json(u.account_id) for u in found[start : start + limit]])

    def get_user(self, request: Request, v: str) -> Response:
        if "username" in request.query or "key" in request.query:
            raise _jira_error(400, "The query parameter 'username' is not supported in GDPR strict mode.")
        account = request.arg("accountId")
        if account not in self.users:
            raise _jira_error(404, "Specified user does not exist or you do not have required permissions")
        return Response(json=self._user_json(account))

    def bulk_users(self, request: Request, v: str) -> Response:
        """GET /rest/api/{2,3}/user/bulk?accountId=A&accountId=B: those users, paged."""
        self._agent_only()
        wanted = request.query.get("accountId") or []
        if not wanted:
            raise _jira_error(400, "At least one accountId is required.")
        start, limit = _int_arg(request, "startAt", 0), min(_int_arg(request, "maxResults", 10), 200)
        found = [a for a in wanted if a in self.users][start : start + limit]
        return Response(
            json={
                "maxResults": limit,
                "startAt": start,
                "total": len(found),
                "isLast": True,
                "values": [self._user_json(a) for a in found],
            }
        )

    def myself(self, request: Request, v: str) -> Response:
        me = self.me
        data = self._user_json(me.account_id)
        data["groups"] = {"size": 1, "items": []}
        data["applicationRoles"] = {"size": 1 if me.agent else 0, "items": []}
        return Response(json=data)

    def server_info(self, request: Request, v: str) -> Response:
        return Response(
            json={
                "baseUrl": self.url,
                "displayUrl": self.url,
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100288,
                "buildDate": "2026-11-20T00:00:00.000+0000",
                "serverTime": jira_time(self.now_ms()),
                "scmInfo": "stand-in",
                "serverTitle": "Jira",
                "defaultLocale": {"locale": "en_US"},
                "serverTimeZone": "Etc/UTC",
            }
        )

    def list_fields(self, request: Request, v: str) -> Response:
        def f(fid, name, clauses, schema, custom=False):
            return {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": custom,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": clauses,
                "schema": schema,
            }

        return Response(
            json=[
                f("summary", "Summary", ["summary"], {"type": "string", "system": "summary"}),
                f("description", "Description", ["description"], {"type": "string", "system": "description"}),
                f("labels", "Labels", ["labels"], {"type": "array", "items": "string", "system": "labels"}),
                f("priority", "Priority", ["priority"], {"type": "priority", "system": "priority"}),
                f("status", "Status", ["status"], {"type": "status", "system": "status"}),
                f("reporter", "Reporter", ["reporter"], {"type": "user", "system": "reporter"}),
                f("assignee", "Assignee", ["assignee"], {"type": "user", "system": "assignee"}),
                f(
                    "created",
                    "Created",
                    ["created", "createdDate"],
                    {"type": "datetime", "system": "created"},
                ),
                f(
                    "updated",
                    "Updated",
                    ["updated", "updatedDate"],
                    {"type": "datetime", "system": "updated"},
                ),
                f("resolution", "Resolution", ["resolution"], {"type": "resolution", "system": "resolution"}),
                f(
                    "resolutiondate",
                    "Resolved",
                    ["resolutiondate", "resolved"],
                    {"type": "datetime", "system": "resolutiondate"},
                ),
                f(
                    "issuetype",
                    "Issue Type",
                    ["issuetype", "type"],
                    {"type": "issuetype", "system": "issuetype"},
                ),
                f("comment", "Comment", ["comment"], {"type": "comments-page", "system": "comment"}),
                f(
                    "customfield_10010",
                    "Request Type",
                    ["cf[10010]", "Request Type", "Customer Request Type"],
                    {
                        "type": "sd-customerrequesttype",
                        "custom": "com.atlassian.servicedesk:vp-origin",
                        "customId": 10010,
                    },
                    True,
                ),
                f(
                    "customfield_10001",
                    "Request participants",
                    ["cf[10001]", "Request participants"],
                    {
                        "type": "array",
                        "items": "user",
                        "custom": "com.atlassian.servicedesk:sd-request-participants",
                        "customId": 10001,
                    },
                    True,
                ),
                *(
                    f(cf.id, cf.name, [f"cf[{cf.number}]", cf.name], _custom_schema(cf), True)
                    for cf in CUSTOM_FIELDS.values()
                ),
                *(
                    f(
                        fid,
                        name,
                        [f"cf[{fid.removeprefix('customfield_')}]", name],
                        {"type": "sd-servicelevelagreement", "custom": SLA_FIELD, "customId": int(fid[12:])},
                        True,
                    )
                    for _, name, fid in SLA_METRICS
                ),
                f(
                    "issuelinks",
                    "Linked Issues",
                    ["issueLink"],
                    {"type": "array", "items": "issuelinks", "system": "issuelinks"},
                ),
                f("duedate", "Due date", ["due", "duedate"], {"type": "date", "system": "duedate"}),
                *(
                    [
                        f(
                            SATISFACTION_FIELD,
                            "Satisfaction",
                            ["cf[10030]", "Satisfaction"],
                            {"type": "sd-feedback", "custom": CSAT_TYPE, "customId": 10030},
                            True,
                        ),
                        f(
                            SATISFACTION_DATE_FIELD,
                            "Satisfaction date",
                            ["cf[10031]", "Satisfaction date"],
                            {"type": "datetime", "custom": CSAT_DATE_TYPE, "customId": 10031},
                            True,
                        ),
                    ]
                    if self.csat_fields
                    else []
                ),
            ]
        )

    def list_statuses_platform(self, request: Request, v: str) -> Response:
        """GET /rest/api/{2,3}/status: every status of the active workflows, with its category."""
        return Response(json=[self._status_json(name) for name in STATUSES])

    def create_meta(self, request: Request, v: str, project: str, issuetype: str) -> Response:
        """The create screen's fields of an issue type, with a select's allowedValues (paged)."""
        self._agent_only()
        if project not in (PROJECT_KEY, PROJECT_ID):
            raise _jira_error(404, f"No project could be found with key '{project}'.")
        if issuetype not in {r.issue_type_id for r in REQUEST_TYPES.values()}:
            raise _jira_error(404, f"Issue type with id '{issuetype}' does not exist.")
        fields = [
            {"fieldId": n, "key": n, "name": FIELD_LABELS[n], "required": n == "summary", "operations": ["set"]}
            for n in ("summary", "description", "priority", "labels")
        ]
        for cf in CUSTOM_FIELDS.values():
            meta = {"fieldId": cf.id, "key": cf.id, "name": cf.name, "required": False, "schema": _custom_schema(cf)}
            if cf.options:
                meta["allowedValues"] = [
                    {
                        "self": f"{self.url}/rest/api/3/customFieldOption/{cf.option_id(o)}",
                        "value": o,
                        "id": cf.option_id(o),
                    }
                    for o in cf.options
                ]
            fields.append(meta)
        start, limit = _int_arg(request, "startAt", 0), min(_int_arg(request, "maxResults", 50), 200)
        page = fields[start : start + limit]
        return Response(json={"startAt": start, "maxResults": limit, "total": len(fields), "fields": page})

    def get_changelog(self, request: Request, v: str, key: str) -> Response:
        """GET .../issue/{key}/changelog: the entries oldest first, at most 100 a page."""
        self._agent_only()
        issue = self._eng_for(key) or self._issue_for(key, sd=False)
        start = _int_arg(request, "startAt", 0)
        limit = min(_int_arg(request, "maxResults", CHANGELOG_MAX), CHANGELOG_MAX)
        if start < 0 or limit < 1:
            raise _jira_error(400, "startAt must be >= 0 and maxResults >= 1.")
        stuck = self.stuck_paging > 0
        if stuck:
            self.stuck_paging -= 1
            start = 0
        page = issue.changelog[start : start + limit]
        is_last = start + len(page) >= len(issue.changelog) and not stuck
        base = f"{self.url}/rest/api/{v}/issue/{issue.id}/changelog"
        data = {
            "self": f"{base}?startAt={start}&maxResults={limit}",
            "maxResults": limit,
            "startAt": start,
            "total": len(issue.changelog),
            "isLast": is_last,
            "values": [self._changelog_json(e) for e in page],
        }
        if not is_last:
            data["nextPage"] = f"{base}?startAt={start + limit}&maxResults={limit}"
        return Response(json=data)

    # -- platform: issues --------------------------------------------------------------------

    def _priority_json(self, name: str) -> dict:
        pid = next(k for k, v in PRIORITIES.items() if v == name)
        return {
            "self": f"{self.url}/rest/api/3/priority/{pid}",
            "iconUrl": f"{self.url}/images/priority{pid}.svg",
            "name": name,
            "id": pid,
        }

    def _priority_from(self, value, sd: bool = False) -> str:
        if isinstance(value, dict):
            if value.get("name") in PRIORITIES.values():
                return value["name"]
            if value.get("id") in PRIORITIES:
                return PRIORITIES[value["id"]]
        message = f"Priority: the value {json.dumps(value)} is not a valid priority (give {{'name': ...}})."
        if sd:
            raise _sd_error(400, message, "sd.request.create.error.priority")
        raise _jira_error(400, errors={"priority": "Specify the Priority (id or name) in the correct format"})

    def _status_json(self, name: str) -> dict:
        sid, cat = STATUSES[name]
        cid, cname, colour = CATEGORIES[cat]
        return {
            "self": f"{self.url}/rest/api/3/status/{sid}",
            "description": "",
            "iconUrl": "",
            "name": name,
            "id": sid,
            "statusCategory": {
                "self": f"{self.url}/rest/api/3/statuscategory/{cid}",
                "id": cid,
                "key": cat,
                "colorName": colour,
                "name": cname,
            },
        }

    def _resolution_json(self, name: str | None) -> dict | None:
        if name is None:
            return None
        rid = next(k for k, v in RESOLUTIONS.items() if v == name)
        return {"self": f"{self.url}/rest/api/3/resolution/{rid}", "id": rid, "description": "", "name": name}

    def _issue_fields(self, issue: Issue, wanted: set[str], v: str) -> dict:
        adf = v == "3"  # v3 speaks Atlassian Document Format, v2 plain text / wiki markup

        def comments() -> dict:
            total = len(issue.comments)
            embedded = issue.comments[max(0, total - self.embedded_comments) :] if self.embedded_comments > 0 else []
            items = [
                {
                    "self": f"{self.url}/rest/api/{v}/issue/{issue.id}/comment/{c.id}",
                    "id": c.id,
                    "author": self._user_json(c.author),
                    "updateAuthor": self._user_json(c.author),
                    "body": to_adf(c.body) if adf else c.body,
                    "created": jira_time(c.created),
                    "updated": jira_time(c.created),
                    "jsdPublic": c.public,
                }
                for c in embedded
            ]
            return {
                "comments": items,
                "self": f"{self.url}/rest/api/{v}/issue/{issue.id}/comment",
                "maxResults": len(items),
                "total": total,
                "startAt": total - len(items),
            }

        rtype = issue.request_type
        builders: dict[str, Callable[[], object]] = {
            "summary": lambda: issue.summary,
            "description": lambda: to_adf(issue.description) if adf else issue.description,
            "labels": lambda: list(issue.labels),
            "priority": lambda: self._priority_json(issue.priority),
            "status": lambda: self._status_json(issue.status),
            "statuscategorychangedate": lambda: jira_time(issue.status_history[-1][1]),
            "reporter": lambda: self._user_json(issue.reporter),
            "creator": lambda: self._user_json(issue.reporter),
            "assignee": lambda: self._user_json(issue.assignee),
            "created": lambda: jira_time(issue.created),
            "updated": lambda: jira_time(issue.updated),
            "resolution": lambda: self._resolution_json(issue.resolution),
            "resolutiondate": lambda: jira_time(issue.resolutiondate),
            "issuetype": lambda: {
                "self": f"{self.url}/rest/api/3/issuetype/{rtype.issue_type_id}",
                "id": rtype.issue_type_id,
                "name": rtype.issue_type,
                "subtask": False,
            },
            "project": lambda: {
                "self": f"{self.url}/rest/api/3/project/{PROJECT_ID}",
                "id": PROJECT_ID,
                "key": PROJECT_KEY,
                "name": PROJECT_NAME,
                "projectTypeKey": "service_desk",
            },
            "comment": comments,
            "attachment": lambda: [
                {
                    "self": f"{self.url}/rest/api/3/attachment/{a.id}",
                    "id": a.id,
                    "filename": a.filename,
                    "author": self._user_json(a.author),
                    "created": jira_time(a.created),
                    "size": len(a.content),
                    "mimeType": a.mime_type,
                    "content": f"{self.url}/rest/api/{v}/attachment/content/{a.id}",
                }
                for a in issue.attachments
            ],
            "customfield_10010": lambda: {
                "_links": {"web": f"{self.url}/servicedesk/customer/portal/1/{issue.key}"},
                "requestType": self._request_type_dto(rtype),
                "currentStatus": self._status_dto(issue.status, issue.status_history[-1][1]),
            },
            "customfield_10001": lambda: [self._user_json(p) for p in issue.participants],
            **{fid: (lambda fid=fid: self._custom_json(issue, fid)) for fid in CUSTOM_FIELDS},
            "issuelinks": lambda: self._links_json(issue.key, v),
            # the SLA fields hold each metric as the SLA endpoint gives it (agents only)
            **{
                fid: (
                    lambda i=i: (
                        {**self._slas(issue)[i], "slaDisplayFormat": "NEW_SLA_FORMAT"} if self.me.agent else None
                    )
                )
                for i, (_, _, fid) in enumerate(SLA_METRICS)
            },
            # the CSAT feedback's fields, where the site has them
            **(
                {
                    SATISFACTION_FIELD: lambda: self._satisfaction_json(issue),
                    SATISFACTION_DATE_FIELD: lambda: jira_time(issue.feedback_at) if issue.feedback else None,
                }
                if self.csat_fields
                else {}
            ),
        }
        names = set(builders) if wanted & {"*all", "*navigable"} else wanted
        names -= {w[1:] for w in wanted if w.startswith("-")}
        return {name: builders[name]() for name in builders if name in names}  # unknown names are ignored

    def _issue_json(self, issue: Issue, wanted: set[str], v: str) -> dict:
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": str(issue.id),
            "self": f"{self.url}/rest/api/{v}/issue/{issue.id}",
            "key": issue.key,
            "fields": self._issue_fields(issue, wanted, v),
        }

    def get_issue(self, request: Request, v: str, key: str) -> Response:
        self._agent_only()
        eng = self._eng_for(key)
        if eng is not None:
            return self._get_eng_issue(request, v, eng)
        issue = self._issue_for(key, sd=False)
        wanted = set(_multi(request, "fields")) or {"*all"}
        data = self._issue_json(issue, wanted, v)
        expand = set(_multi(request, "expand"))
        if expand & {"transitions", "transitions.fields"}:  # as GET .../transitions answers
            with_fields = "transitions.fields" in expand
            data["transitions"] = [self._transition_json(t, with_fields) for t in self._available(issue)]
        if "changelog" in expand:
            data["changelog"] = self._embedded_changelog(issue)
        return Response(json=data)

    def edit_issue(self, request: Request, v: str, key: str) -> Response:
        self._agent_only()
        eng = self._eng_for(key)
        if eng is not None:
            return self._edit_eng_issue(request, v, eng)
        issue = self._issue_for(key, sd=False)
        body = _json_body(request, sd=False)
        fields, update = body.get("fields") or {}, body.get("update") or {}
        editable = {"summary", "description", "labels", "priority", "assignee", REQUEST_TYPE_FIELD, *CUSTOM_FIELDS}
        if self.reporter_editable:  # Modify Reporter permission: the field is on the edit screen
            editable.add("reporter")
        bad = sorted((set(fields) | set(update)) - editable)
        if issue.status == "Closed":  # jira.issue.editable = false: nothing is on the edit screen
            bad = sorted(set(fields) | set(update))
        if bad:
            raise _jira_error(
                400,
                errors={f: f"Field '{f}' cannot be set. It is not on the appropriate screen, or unknown." for f in bad},
            )
        labels = list(issue.labels)
        if "labels" in fields:
            labels = _check_labels(fields["labels"])
        for op in update.get("labels", []):
            if "set" in op:
                labels = _check_labels(op["set"])
            elif "add" in op:
                labels += _check_labels([op["add"]])
            elif "remove" in op:
                labels = [x for x in labels if x != op["remove"]]
        for op in update.get("summary", []):
            if "set" in op:
                fields["summary"] = op["set"]
        if "summary" in fields and (not isinstance(fields["summary"], str) or not fields["summary"].strip()):
            raise _jira_error(400, errors={"summary": "You must specify a summary of the issue."})
        if "description" in fields:
            value = fields["description"]
            if v == "3" and value is not None and not isinstance(value, dict):
                raise _jira_error(
                    400,
                    errors={
                        "description": "Operation value must be an Atlassian Document "
                        "(see the Atlassian Document Format)"
                    },
                )
        priority = self._priority_from(fields["priority"]) if "priority" in fields else issue.priority
        if "assignee" in fields:
            self._check_assignee(fields["assignee"])
        reporter = None
        if "reporter" in fields:
            value = fields["reporter"]
            reporter = value.get("accountId") if isinstance(value, dict) else None
            if reporter not in self.users:
                raise _jira_error(400, errors={"reporter": f"The reporter specified is not a user: {reporter}"})
        rtype = None
        if REQUEST_TYPE_FIELD in fields:
            rtype = self._edited_request_type(issue, fields[REQUEST_TYPE_FIELD])
        custom = {fid: self._custom_from(fid, fields[fid], sd=False) for fid in CUSTOM_FIELDS if fid in fields}
        # Everything validated: apply, and record what changed.
        before = _edited(issue)
        old_type = issue.request_type
        issue.labels = list(dict.fromkeys(labels))
        issue.priority = priority
        if "summary" in fields:
            issue.summary = fields["summary"].strip()
        if "description" in fields:
            value = fields["description"]
            issue.description = (from_adf(value) if isinstance(value, dict) else value) or None
        if "assignee" in fields:
            issue.assignee = (fields["assignee"] or {}).get("accountId")
        if reporter is not None:
            issue.reporter = reporter
        if rtype is not None:
            issue.request_type_id = rtype.id
        items = self._edit_items(issue, before, old_type)
        for fid, value in custom.items():
            old = issue.custom.get(fid)
            if value in (None, []):
                issue.custom.pop(fid, None)
            else:
                issue.custom[fid] = value
            if old != issue.custom.get(fid):
                items.append(self._custom_change(CUSTOM_FIELDS[fid], old, issue.custom.get(fid)))
        if items:
            self._tick()
            self._log(issue, items)
        self._touch(issue)
        return Response(204)

    def _edit_items(self, issue: Issue, before: tuple, old_type: RequestType) -> list[dict]:
        """The changelog items of an issue edit: each system field whose value changed since
        `before` (what `_edited` took)."""
        summary, description, labels, priority, assignee, reporter = before
        items = []
        if summary != issue.summary:
            items.append(_item("summary", "summary", None, summary, None, issue.summary))
        if description != issue.description:
            items.append(_item("description", "description", None, description, None, issue.description))
        if labels != issue.labels:
            items.append(
                _item("labels", "labels", None, " ".join(labels) or None, None, " ".join(issue.labels) or None)
            )
        if priority != issue.priority:
            ids = {name: pid for pid, name in PRIORITIES.items()}
            items.append(_item("priority", "priority", ids[priority], priority, ids[issue.priority], issue.priority))
        for name, old, new in (("assignee", assignee, issue.assignee), ("reporter", reporter, issue.reporter)):
            if old != new:
                shown = (self.users[old].display_name if old else None, self.users[new].display_name if new else None)
                items.append(_item(name, name, old, shown[0], new, shown[1]))
        if old_type.id != issue.request_type_id:
            item = _item(
                "Customer Request Type",
                REQUEST_TYPE_FIELD,
                old_type.id,
                old_type.name,
                issue.request_type_id,
                issue.request_type.name,
            )
            item["fieldtype"] = "custom"
            items.append(item)
        return items

    def _custom_from(self, fid: str, value, sd: bool):
        """The value a custom field takes from an edit or a create (Jira's shapes), else 400
        naming the field: text, {"value"|"id"} for a select, a list of them for a multi-select,
        a number, YYYY-MM-DD; None (or []) clears."""
        cf = CUSTOM_FIELDS[fid]

        def fail(message: str) -> HTTPError:
            return (
                _sd_error(400, f"{fid}: {message}", "sd.request.create.error.field")
                if sd
                else _jira_error(400, errors={fid: message})
            )

        def option(v) -> str:
            if isinstance(v, dict) and isinstance(v.get("value"), str) and v["value"] in cf.options:
                return v["value"]
            if isinstance(v, dict) and isinstance(v.get("id"), str):
                found = [o for o in cf.options if cf.option_id(o) == v["id"]]
                if found:
                    return found[0]
                raise fail(f"Option id '{v['id']}' is not valid")
            if isinstance(v, dict) and isinstance(v.get("value"), str):
                raise fail(f"Option value '{v['value']}' is not valid")
            raise fail("Specify a valid value (an object with 'value' or 'id')")

        if value is None:
            return None
        if cf.kind == "text":
            if not isinstance(value, str):
                raise fail("Operation value must be a string")
            if len(value) > TEXT_FIELD_MAX:
                raise fail(
                    f"The entered text is too long. It exceeds the allowed limit of {TEXT_FIELD_MAX} characters."
                )
            return value or None
        if cf.kind == "select":
            return option(value)
        if cf.kind == "multiselect":
            if not isinstance(value, list):
                raise fail("Specify the value for a multi-select as an array of objects")
            return list(dict.fromkeys(option(v) for v in value))
        if cf.kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail("Operation value must be a number")
            return float(value)
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            raise fail("Date value is invalid. Use the format 'yyyy-MM-dd'.")
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            raise fail("Date value is invalid. Use the format 'yyyy-MM-dd'.") from None
        return value

    def _custom_json(self, issue: Issue, fid: str):
        """A custom field's value as the platform API gives it."""
        cf, value = CUSTOM_FIELDS[fid], issue.custom.get(fid)
        if value is None:
            return None

        def option(v: str) -> dict:
            oid = cf.option_id(v)
            return {"self": f"{self.url}/rest/api/3/customFieldOption/{oid}", "value": v, "id": oid}

        if cf.kind == "select":
            return option(str(value))
        if cf.kind == "multiselect":
            return [option(v) for v in value]  # type: ignore[union-attr]
        return value

    def _edited_request_type(self, issue: Issue, value) -> RequestType:
        """The request type an edit sets: its id as a string (Cloud); only one of the issue's
        own issue type (JSM offers no other: changing the issue type is a move)."""
        rtype = REQUEST_TYPES.get(value) if isinstance(value, str) else None
        if rtype is None:
            raise _jira_error(400, errors={REQUEST_TYPE_FIELD: f"Request type '{value}' does not exist."})
        if rtype.issue_type_id != issue.request_type.issue_type_id:
            raise _jira_error(
                400,
                errors={
                    REQUEST_TYPE_FIELD: f"The request type '{rtype.name}' is not valid for the issue type "
                    f"'{issue.request_type.issue_type}'."
                },
            )
        return rtype

    def _check_assignee(self, value) -> None:
        if value is None or (isinstance(value, dict) and value.get("accountId") is None):
            return
        account = value.get("accountId") if isinstance(value, dict) else None
        user = self.users.get(account)
        if user is None or not user.agent:
            raise _jira_error(400, errors={"assignee": f"User '{account}' cannot be assigned issues."})

    def assign_issue(self, request: Request, v: str, key: str) -> Response:
        self._agent_only()
        issue = self._issue_for(key, sd=False)
        body = _json_body(request, sd=False)
        if issue.status == "Closed":
            raise _jira_error(
                400,
                errors={"assignee": "Field 'assignee' cannot be set. It is not on the appropriate screen, or unknown."},
            )
        self._check_assignee(body)
        before = _edited(issue)
        issue.assignee = body.get("accountId")
        items = self._edit_items(issue, before, issue.request_type)
        if items:
            self._tick()
            self._log(issue, items)
        self._touch(issue)
        return Response(204)

    def _transition_json(self, t: Transition, with_fields: bool) -> dict:
        data = {
            "id": t.id,
            "name": t.name,
            "to": self._status_json(t.to),
            "hasScreen": t.needs_resolution,
            "isGlobal": t.sources is None,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }
        if with_fields:
            data["fields"] = {}
            if t.needs_resolution:
                data["fields"]["resolution"] = {
                    "required": True,
                    "schema": {"type": "resolution", "system": "resolution"},
                    "name": "Resolution",
                    "key": "resolution",
                    "hasDefaultValue": False,
                    "operations": ["set"],
                    "allowedValues": [self._resolution_json(n) for n in RESOLUTIONS.values()],
                }
        return data

    def get_transitions(self, request: Request, v: str, key: str) -> Response:
        self._agent_only()
        eng = self._eng_for(key)
        if eng is not None:
            with_fields = "transitions.fields" in _multi(request, "expand")
            items = [self._transition_json(t, with_fields) for t in ENG_TRANSITIONS if t.to != eng.status]
            return Response(json={"expand": "transitions", "transitions": items})
        issue = self._issue_for(key, sd=False)
        with_fields = "transitions.fields" in _multi(request, "expand")
        only = request.arg("transitionId")
        items = [self._transition_json(t, with_fields) for t in self._available(issue) if only in (None, t.id)]
        return Response(json={"expand": "transitions", "transitions": items})

    def do_transition(self, request: Request, v: str, key: str) -> Response:
        self._agent_only()
        eng = self._eng_for(key)
        if eng is not None:
            return self._eng_transition(request, eng)
        issue = self._issue_for(key, sd=False)
        body = _json_body(request, sd=False)
        tid = (body.get("transition") or {}).get("id")
        if tid is None:
            raise _jira_error(400, "Missing 'transition' identifier")
        transition = next((t for t in self._available(issue) if t.id == str(tid)), None)
        if transition is None:
            raise _jira_error(400, f"Transition id '{tid}' is not valid for this issue.")
        fields = body.get("fields") or {}
        on_screen = {"resolution"} if transition.needs_resolution else set()
        bad = sorted(set(fields) - on_screen)
        if bad:  # e.g. a resolution sent to Close or Reopen
            raise _jira_error(
                400,
                errors={f: f"Field '{f}' cannot be set. It is not on the appropriate screen, or unknown." for f in bad},
            )
        resolution = None
        if transition.needs_resolution:
            value = fields.get("resolution")
            if value is None:
                raise _jira_error(400, errors={"resolution": "Resolution is required."})
            resolution = _resolution_from(value)
        comments = [op["add"] for op in (body.get("update") or {}).get("comment", []) if "add" in op]
        for add in comments:
            text = from_adf(add.get("body")) if isinstance(add.get("body"), dict) else add.get("body")
            internal = any(
                p.get("key") == "sd.public.comment" and (p.get("value") or {}).get("internal")
                for p in add.get("properties", [])
            )
            if text:
                self._add_comment(issue, text, not internal, automate=False)
        self._transition(issue, transition, resolution)
        return Response(204)

    # -- platform: the engineering project and issue links (escalations) -------------------

    def _eng_for(self, key: str) -> EngIssue | None:
        found = self.eng_issues.get(key.upper())
        if found is None and key.isdigit():
            found = next((e for e in self.eng_issues.values() if e.id == int(key)), None)
        return found

    def _any_issue(self, ref) -> Issue | EngIssue | None:
        """The issue a link names by {key} or {id}."""
        if not isinstance(ref, dict):
            return None
        text = str(ref.get("key") or ref.get("id") or "")
        if not text:
            return None
        found = self._eng_for(text)
        if found is not None:
            return found
        issue = self.issues.get(text.upper()) or (self._by_id.get(int(text)) if text.isdigit() else None)
        return issue

    def _link_ref(self, key: str, v: str) -> dict:
        """The other end of a link as an issue's `issuelinks` shows it (key, id, a few fields)."""
        other = self._eng_for(key) or self.issues[key]
        return {
            "id": str(other.id),
            "key": other.key,
            "self": f"{self.url}/rest/api/{v}/issue/{other.id}",
            "fields": {"summary": other.summary, "status": self._status_json(other.status)},
        }

    def _links_json(self, key: str, v: str) -> list[dict]:
        found = []
        for link in self.links:
            if key not in (link["inward"], link["outward"]):
                continue
            name, inward, outward = LINK_TYPES[link["type"]]
            data = {
                "id": link["id"],
                "self": f"{self.url}/rest/api/{v}/issueLink/{link['id']}",
                "type": {
                    "id": link["type"],
                    "name": name,
                    "inward": inward,
                    "outward": outward,
                    "self": f"{self.url}/rest/api/{v}/issueLinkType/{link['type']}",
                },
            }
            if link["inward"] == key:  # this issue is the inward one: the other is outward
                data["outwardIssue"] = self._link_ref(link["outward"], v)
            else:
                data["inwardIssue"] = self._link_ref(link["inward"], v)
            found.append(data)
        return found

    def list_link_types(self, request: Request, v: str) -> Response:
        return Response(
            json={
                "issueLinkTypes": [
                    {
                        "id": lid,
                        "name": n,
                        "inward": i,
                        "outward": o,
                        "self": f"{self.url}/rest/api/{v}/issueLinkType/{lid}",
                    }
                    for lid, (n, i, o) in LINK_TYPES.items()
                ]
            }
        )

    def create_issue(self, request: Request, v: str) -> Response:
        """POST /rest/api/{2,3}/issue: an issue of the engineering project (a service project's
        requests are made through the servicedeskapi here). v3 takes the description as an
        Atlassian Document, v2 as text; `duedate` is YYYY-MM-DD."""
        self._agent_only()
        body = _json_body(request, sd=False)
        fields = body.get("fields")
        if not isinstance(fields, dict):
            raise _jira_error(400, "The 'fields' object is required.")
        project = fields.get("project") if isinstance(fields.get("project"), dict) else {}
        if str(project.get("key") or project.get("id") or "") not in (ENG_KEY, ENG_ID):
            raise _jira_error(400, errors={"project": "Specify a valid project ID or key"})
        kind = fields.get("issuetype") if isinstance(fields.get("issuetype"), dict) else {}
        issue_type = next(
            (
                n
                for i, n in ENG_ISSUE_TYPES.items()
                if str(kind.get("id")) == i or str(kind.get("name")).lower() == n.lower()
            ),
            None,
        )
        if issue_type is None:
            raise _jira_error(400, errors={"issuetype": "Specify an issue type"})
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise _jira_error(400, errors={"summary": "You must specify a summary of the issue."})
        if len(summary) > TEXT_FIELD_MAX:
            raise _jira_error(400, errors={"summary": "Summary must be less than 255 characters."})
        description = self._eng_description(fields.get("description"), v)
        due = self._eng_due(fields.get("duedate"))
        unknown = sorted(set(fields) - {"project", "issuetype", "summary", "description", "duedate"})
        if unknown:
            raise _jira_error(
                400,
                errors={
                    f: f"Field '{f}' cannot be set. It is not on the appropriate screen, or unknown." for f in unknown
                },
            )
        now = self._tick()
        eng = EngIssue(
            id=next(self._ids),
            key=f"{ENG_KEY}-{next(self._eng_numbers)}",
            issue_type=issue_type,
            summary=summary.strip(),
            description=description,
            reporter=self.me.account_id,
            created=now,
            updated=now,
            duedate=due,
        )
        self.eng_issues[eng.key] = eng
        return Response(
            201, json={"id": str(eng.id), "key": eng.key, "self": f"{self.url}/rest/api/{v}/issue/{eng.id}"}
        )

    def _eng_description(self, value, v: str) -> str | None:
        if value is None:
            return None
        if v == "3" and not isinstance(value, dict):
            raise _jira_error(
                400,
                errors={
                    "description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                },
            )
        text = from_adf(value) if isinstance(value, dict) else value
        if not isinstance(text, str):
            raise _jira_error(400, errors={"description": "The description must be text."})
        return text or None

    def _eng_due(self, value) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            raise _jira_error(400, errors={"duedate": "Error parsing date string: " + str(value)[:40]})
        return value

    def create_issue_link(self, request: Request, v: str) -> Response:
        """POST /rest/api/{2,3}/issueLink: {type: {name|id}, inwardIssue: {key}, outwardIssue: {key}}."""
        self._agent_only()
        body = _json_body(request, sd=False)
        kind = body.get("type") if isinstance(body.get("type"), dict) else {}
        type_id = next(
            (lid for lid, (n, _, _) in LINK_TYPES.items() if str(kind.get("id")) == lid or str(kind.get("name")) == n),
            None,
        )
        if type_id is None:
            raise _jira_error(404, f"No issue link type with name '{kind.get('name')}' found.")
        inward, outward = self._any_issue(body.get("inwardIssue")), self._any_issue(body.get("outwardIssue"))
        if inward is None or outward is None:
            raise _jira_error(404, "Issue Does Not Exist")
        link = {"id": str(next(self._link_ids)), "type": type_id, "inward": inward.key, "outward": outward.key}
        self.links.append(link)
        name, inward_text, outward_text = LINK_TYPES[type_id]
        for this, other, text in ((inward, outward, outward_text), (outward, inward, inward_text)):
            self._tick()
            item = _item("Link", "issuelinks", None, None, other.key, f"This issue {text} {other.key}")
            entry = {
                "id": str(next(self._change_ids)),
                "author": self.me.account_id,
                "created": self._last_tick,
                "items": [item],
            }
            this.changelog.append(entry)
            if isinstance(this, Issue):
                self._touch(this)
            else:
                this.updated = self._last_tick
        return Response(201)

    def _eng_fields(self, eng: EngIssue, wanted: set[str], v: str) -> dict:
        builders: dict[str, Callable[[], object]] = {
            "summary": lambda: eng.summary,
            "description": lambda: to_adf(eng.description) if v == "3" else eng.description,
            "status": lambda: self._status_json(eng.status),
            "duedate": lambda: eng.duedate,
            "created": lambda: jira_time(eng.created),
            "updated": lambda: jira_time(eng.updated),
            "reporter": lambda: self._user_json(eng.reporter),
            "resolution": lambda: self._resolution_json(eng.resolution),
            "issuetype": lambda: {
                "id": next(i for i, n in ENG_ISSUE_TYPES.items() if n == eng.issue_type),
                "name": eng.issue_type,
                "subtask": False,
            },
            "project": lambda: {"id": ENG_ID, "key": ENG_KEY, "name": ENG_NAME, "projectTypeKey": "software"},
            "issuelinks": lambda: self._links_json(eng.key, v),
        }
        names = set(builders) if wanted & {"*all", "*navigable"} else wanted
        return {name: builders[name]() for name in builders if name in names}

    def _get_eng_issue(self, request: Request, v: str, eng: EngIssue) -> Response:
        wanted = set(_multi(request, "fields")) or {"*all"}
        data = {
            "id": str(eng.id),
            "self": f"{self.url}/rest/api/{v}/issue/{eng.id}",
            "key": eng.key,
            "fields": self._eng_fields(eng, wanted, v),
        }
        expand = set(_multi(request, "expand"))
        if expand & {"transitions", "transitions.fields"}:
            with_fields = "transitions.fields" in expand
            data["transitions"] = [self._transition_json(t, with_fields) for t in ENG_TRANSITIONS if t.to != eng.status]
        if "changelog" in expand:
            data["changelog"] = self._embedded_changelog(eng)
        return Response(json=data)

    def _edit_eng_issue(self, request: Request, v: str, eng: EngIssue) -> Response:
        body = _json_body(request, sd=False)
        fields = body.get("fields") or {}
        bad = sorted(set(fields) - {"summary", "description", "duedate"} | set(body.get("update") or {}))
        if bad:
            raise _jira_error(
                400,
                errors={f: f"Field '{f}' cannot be set. It is not on the appropriate screen, or unknown." for f in bad},
            )
        items = []
        if "duedate" in fields:
            due = self._eng_due(fields["duedate"])
            if due != eng.duedate:
                items.append(_item("duedate", "duedate", eng.duedate, eng.duedate, due, due))
                eng.duedate = due
        if "summary" in fields:
            if not isinstance(fields["summary"], str) or not fields["summary"].strip():
                raise _jira_error(400, errors={"summary": "You must specify a summary of the issue."})
            if fields["summary"].strip() != eng.summary:
                items.append(_item("summary", "summary", None, eng.summary, None, fields["summary"].strip()))
                eng.summary = fields["summary"].strip()
        if "description" in fields:
            text = self._eng_description(fields["description"], v)
            if text != eng.description:
                items.append(_item("description", "description", None, eng.description, None, text))
                eng.description = text
        if items:
            self._tick()
            self._log(eng, items)
            eng.updated = self._last_tick
        return Response(204)

    def _eng_transition(self, request: Request, eng: EngIssue) -> Response:
        body = _json_body(request, sd=False)
        tid = (body.get("transition") or {}).get("id")
        transition = next((t for t in ENG_TRANSITIONS if t.id == str(tid) and t.to != eng.status), None)
        if transition is None:
            raise _jira_error(400, f"Transition id '{tid}' is not valid for this issue.")
        if body.get("fields"):
            raise _jira_error(
                400,
                errors={
                    f: f"Field '{f}' cannot be set. It is not on the appropriate screen, or unknown."
                    for f in body["fields"]
                },
            )
        old = eng.status
        eng.status = transition.to
        eng.updated = self._tick()
        items = [_item("status", "status", STATUSES[old][0], old, STATUSES[eng.status][0], eng.status)]
        resolution = transition.resolution if STATUSES[eng.status][1] == "done" else None
        if resolution != eng.resolution:
            ids = {name: rid for rid, name in RESOLUTIONS.items()}
            items.append(
                _item(
                    "resolution",
                    "resolution",
                    ids.get(eng.resolution or ""),
                    eng.resolution,
                    ids.get(resolution or ""),
                    resolution,
                )
            )
            eng.resolution = resolution
        self._log(eng, items)
        return Response(204)

    # -- platform: search --------------------------------------------------------------------

    def removed_search(self, request: Request, v: str) -> Response:
        return Response(
            410,
            json={
                "errorMessages": [
                    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                    "A full migration guideline is available at "
                    "https://developer.atlassian.com/changelog/#CHANGE-2046"
                ],
                "errors": {},
            },
        )

    def search_get(self, request: Request, v: str) -> Response:
        params = {
            "jql": request.arg("jql", ""),
            "nextPageToken": request.arg("nextPageToken"),
            "maxResults": _int_arg(request, "maxResults", 50),
            "fields": _multi(request, "fields"),
            "reconcileIssues": _multi(request, "reconcileIssues"),
            "expand": request.arg("expand"),
        }
        return self._search(params, v)

    def search_post(self, request: Request, v: str) -> Response:
        body = _json_body(request, sd=False)
        fields = body.get("fields") or []
        if not isinstance(fields, list):
            raise _jira_error(400, "'fields' must be an array of strings.")
        max_results = body.get("maxResults", 50)
        if not isinstance(max_results, int):
            raise _jira_error(400, "'maxResults' must be an integer.")
        return self._search(
            {
                "jql": body.get("jql") or "",
                "nextPageToken": body.get("nextPageToken"),
                "maxResults": max_results,
                "fields": fields,
                "reconcileIssues": body.get("reconcileIssues") or [],
                "expand": body.get("expand"),
            },
            v,
        )

    def _search(self, params: dict, v: str) -> Response:
        self._agent_only()
        jql = params["jql"]
        predicate, order = JQL(self).compile(jql)
        if predicate is None:
            raise _jira_error(
                400,
                "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
            )
        reconcile = set()
        for value in params["reconcileIssues"]:
            if isinstance(value, bool) or not str(value).isdigit():  # issue ids, not keys
                raise _jira_error(400, f"reconcileIssues takes issue ids (integers), got {value!r}.")
            reconcile.add(int(value))
        if len(reconcile) > 50:
            raise _jira_error(400, "reconcileIssues accepts at most 50 issue ids.")
        now = self.now_ms()
        rows = []
        for issue in self.issues.values():
            view = self._snapshot(issue) if issue.id in reconcile else self._indexed(issue, now)
            if view is not None and predicate(view):
                rows.append((issue, view))
        rows.sort(key=lambda r: r[1]["id"], reverse=True)  # ties keep a stable, newest-first order
        for key_fn, descending in reversed(order):
            rows.sort(key=lambda r, f=key_fn: f(r[1]), reverse=descending)
        fingerprint = hashlib.sha1(jql.encode()).hexdigest()[:12]
        offset = 0
        if params["nextPageToken"]:
            offset = _read_token(params["nextPageToken"], fingerprint)
        wanted = {f.strip() for f in params["fields"] if f.strip()} or {"id"}
        # The docs: fewer items per page when fields are asked for; the most (5000) for id/key only.
        cap = 5000 if wanted <= {"id", "key"} else 100
        heavy = len(wanted - {"id", "key"}) >= HEAVY_FIELDS or bool(wanted & {"*all", "*navigable"})
        if self.short_pages is not None and heavy:
            cap = min(cap, self.short_pages)
        if params["maxResults"] < 0:
            raise _jira_error(400, "maxResults must not be negative.")
        limit = max(1, min(params["maxResults"], cap))
        stuck = self.stuck_paging > 0
        if stuck:
            self.stuck_paging -= 1
            offset = 0  # the first page again, and the same token
        page = rows[offset : offset + limit]
        is_last = offset + len(page) >= len(rows) and not stuck
        issues = [
            {"id": str(i.id)} if wanted == {"id"} else self._issue_json(i, wanted - {"id", "key"}, v) for i, _ in page
        ]
        if "changelog" in [e.strip() for e in str(params.get("expand") or "").split(",")]:
            for data, (issue, _) in zip(issues, page, strict=True):
                data["changelog"] = self._embedded_changelog(issue)
        data: dict = {"issues": issues, "isLast": is_last}
        if not is_last:  # absent on the last page (JRACLOUD-92184)
            data["nextPageToken"] = _make_token(0 if stuck else offset + len(page), fingerprint)
        return Response(json=data)

    def approximate_count(self, request: Request, v: str) -> Response:
        self._agent_only()
        body = _json_body(request, sd=False)
        predicate, _ = JQL(self).compile(body.get("jql") or "")
        if predicate is None:
            raise _jira_error(400, "Unbounded JQL queries are not allowed here.")
        now = self.now_ms()
        views = (self._indexed(i, now) for i in self.issues.values())
        return Response(json={"count": sum(1 for s in views if s is not None and predicate(s))})


# --- JQL ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|>=|<=|!~|=|~|>|<)
                        |(?P<punct>[(),])|(?P<word>[^\s"'=!<>~(),]+))""",
    re.X,
)
_RESERVED = set("@[]{}|&;?+^$#%*/")  # in an unquoted word these need quoting
_KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}
# clause name (lower case) -> canonical field
_FIELDS = {
    "project": "project",
    "status": "status",
    "statuscategory": "statusCategory",
    "labels": "labels",
    "text": "text",
    "summary": "summary",
    "description": "description",
    "comment": "comment",
    "reporter": "reporter",
    "assignee": "assignee",
    "priority": "priority",
    "request type": "requesttype",
    "customer request type": "requesttype",
    "cf[10010]": "requesttype",
    "issuetype": "issuetype",
    "type": "issuetype",
    "created": "created",
    "createddate": "created",
    "updated": "updated",
    "updateddate": "updated",
    "resolved": "resolutiondate",
    "resolutiondate": "resolutiondate",
    "resolution": "resolution",
    "key": "key",
    "issuekey": "key",
    "id": "key",
    "request participants": "participants",
    "cf[10001]": "participants",
    **{f"cf[{cf.number}]": cf.id for cf in CUSTOM_FIELDS.values()},
    **{cf.name.lower(): cf.id for cf in CUSTOM_FIELDS.values()},
    # the SLA fields: JQL's SLA functions (breached(), remaining("2h")...) on them
    **{name.lower(): f"sla:{sid}" for sid, name, _ in SLA_METRICS},
    **{f"cf[{fid.removeprefix('customfield_')}]": f"sla:{sid}" for sid, _, fid in SLA_METRICS},
}
_TEXT = {"text", "summary", "description", "comment"}
_DATES = {"created", "updated", "resolutiondate"}
_SETS = {"labels", "participants"}
_PRIORITY_RANK = {name: -int(pid) for pid, name in PRIORITIES.items()}  # DESC = Highest first


class JQLError(Exception):
    def __init__(self, message: str, syntax: bool = True):
        super().__init__(message)
        self.syntax = syntax


class JQL:
    """A small JQL compiler: clauses joined by AND / OR / NOT and parentheses, then ORDER BY.

    Compiles to a predicate over an index snapshot (see JSMStandIn._snapshot) and sort keys.
    Errors answer 400 with Jira's messages.
    """

    def __init__(self, server: JSMStandIn):
        self.server = server
        self.tokens: list[tuple[str, str]] = []
        self.pos = 0

    def compile(self, text: str):
        try:
            self.tokens = self._tokenize(text)
            predicate = None
            if self.tokens and not self._at_keyword("order"):
                predicate = self._or()
            order = self._order_by() if self._at_keyword("order") else []
            if self.pos < len(self.tokens):
                raise JQLError(f"Expecting either 'OR' or 'AND' but got '{self.tokens[self.pos][1]}'.")
            return predicate, order
        except JQLError as err:
            raise _jira_error(400, f"Error in the JQL Query: {err}" if err.syntax else str(err)) from None

    # tokens
    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise JQLError(f"The character '{text[pos]}' is not valid here.")
            kind = m.lastgroup
            value = m.group(kind)
            if kind == "str":
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            elif kind == "word":  # a custom field's clause, cf[10050], is the one word with brackets
                bad = (
                    None
                    if re.fullmatch(r"cf\[[0-9]+\]", value, re.I)
                    else next((c for c in value if c in _RESERVED), None)
                )
                if bad:
                    raise JQLError(
                        f"The character '{bad}' is a reserved JQL character. You must enclose it in a "
                        f"string or use the escape '\\u{ord(bad):04x}' instead."
                    )
            tokens.append((kind, value))
            pos = m.end()
        return tokens

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise JQLError("The JQL query ended unexpectedly.")
        self.pos += 1
        return token

    def _at_keyword(self, word: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "word" and token[1].lower() == word

    def _expect(self, kind: str, value: str) -> None:
        token = self._next()
        if token[0] != kind or token[1].lower() != value:
            raise JQLError(f"Expecting '{value}' but got '{token[1]}'.")

    # boolean structure
    def _or(self):
        parts = [self._and()]
        while self._at_keyword("or"):
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda s: any(p(s) for p in parts))

    def _and(self):
        parts = [self._not()]
        while self._at_keyword("and"):
            self.pos += 1
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda s: all(p(s) for p in parts))

    def _not(self):
        if self._at_keyword("not"):
            self.pos += 1
            inner = self._not()
            return lambda s: not inner(s)
        if self._peek() == ("punct", "("):
            self.pos += 1
            inner = self._or()
            self._expect("punct", ")")
            return inner
        return self._clause()

    # clauses
    def _clause(self):
        kind, name = self._next()
        if kind not in ("word", "str") or name.lower() in _KEYWORDS:
            raise JQLError(f"Expecting a field name but got '{name}'.")
        fld = _FIELDS.get(name.lower())
        if fld is None:
            raise JQLError(f"Field '{name}' does not exist or you do not have permission to view it.", False)
        op, raw = self._value(self._operator())
        return self._predicate(fld, name, op, raw)

    def _operator(self) -> str:
        kind, value = self._next()
        if kind == "op":
            return value
        low = value.lower()
        if kind == "word" and low in ("in", "is"):
            return low
        if kind == "word" and low == "not":
            self._expect("word", "in")
            return "not in"
        raise JQLError(f"Expecting operator but got '{value}'.")

    def _value(self, op: str):
        if op == "is" and self._at_keyword("not"):
            self.pos += 1
            op = "is not"
        if op in ("in", "not in"):
            self._expect("punct", "(")
            values = [self._single()]
            while self._peek() == ("punct", ","):
                self.pos += 1
                values.append(self._single())
            self._expect("punct", ")")
            return (op, values)
        return (op, self._single())

    def _single(self):
        kind, value = self._next()
        if kind == "word" and value.lower() in ("empty", "null"):
            return ("empty", None)
        if kind == "word" and self._peek() == ("punct", "("):
            self.pos += 1
            if self._peek() != ("punct", ")"):  # one argument: remaining("2h")
                arg_kind, arg = self._next()
                if arg_kind not in ("word", "str"):
                    raise JQLError(f"Expecting a value but got '{arg}'.")
                self._expect("punct", ")")
                return ("func", f"{value.lower()}({arg})")
            self._expect("punct", ")")
            return ("func", value.lower())
        if kind not in ("word", "str"):
            raise JQLError(f"Expecting a value but got '{value}'.")
        return (kind, value)

    def _predicate(self, fld: str, name: str, op: str, raw):
        if fld.startswith("sla:"):
            return self._sla_predicate(fld.removeprefix("sla:"), name, op, raw)
        if fld in CUSTOM_FIELDS:
            return self._custom_predicate(CUSTOM_FIELDS[fld], name, op, raw)
        if op in ("is", "is not"):
            if raw[0] != "empty":
                raise JQLError(f"The operator '{op.upper()}' only supports EMPTY or NULL.")
            empty = (lambda s: not s[fld]) if fld in _SETS else (lambda s: s[fld] in (None, ""))
            return empty if op == "is" else (lambda s: not empty(s))
        if fld in _TEXT:
            if op not in ("~", "!~"):
                raise JQLError(f"The operator '{op}' is not supported by the '{name}' field.")
            match = _text_matcher(raw[1])
            fields = ("summary", "description", "comment") if fld == "text" else (fld,)

            def hit(s: dict) -> bool:  # `text` is one document: its words may come from any field
                return match("\n".join(s[f] for f in fields))

            return hit if op == "~" else (lambda s: not hit(s))
        if fld in _DATES:
            return self._date_predicate(fld, name, op, raw)
        if op in ("~", "!~", ">", ">=", "<", "<=") and fld != "key":
            raise JQLError(f"The operator '{op}' is not supported by the '{name}' field.")
        values = [self._resolve(fld, name, v) for v in (raw if isinstance(raw, list) else [raw])]
        if fld == "key" and op in (">", ">=", "<", "<="):
            number = int(values[0].split("-")[1])
            cmp = {">": number.__lt__, ">=": number.__le__, "<": number.__gt__, "<=": number.__ge__}[op]
            return lambda s: cmp(s["number"])
        wanted = set(values)

        def hit(s: dict) -> bool:
            if fld in _SETS:  # labels = x: has x; labels = EMPTY: has none
                return bool(s[fld] & wanted) or (None in wanted and not s[fld])
            return s[fld] in wanted

        def miss(s: dict) -> bool:  # != and NOT IN never match an empty field (Jira's JQL docs)
            return not hit(s) and (bool(s[fld]) or None in wanted)

        return hit if op in ("=", "in") else miss

    def _sla_predicate(self, sid: str, name: str, op: str, raw):
        """JSM's SLA conditions on the SLA's last cycle, computed when the search runs:
        `= / != breached() everBreached() completed() running() paused()`, and
        `< <= > >= remaining("2h") / elapsed("2h")` on an ongoing cycle only. An SLA without a
        cycle matches neither."""
        server = self.server
        if raw[0] != "func":
            raise JQLError(
                f"The SLA field '{name}' takes an SLA function, such as breached() or remaining(\"2h\").", False
            )
        text = raw[1]

        def record(s: dict) -> dict | None:
            issue = server._by_id.get(s["id"])
            if issue is None:
                return None
            sla = next((x for x in server._slas(issue) if x["id"] == sid), None)
            if sla is None or (not sla["completedCycles"] and "ongoingCycle" not in sla):
                return None
            return sla

        if op in ("=", "!="):
            states = {
                "breached": lambda r: (r.get("ongoingCycle") or r["completedCycles"][-1])["breached"],
                "everbreached": lambda r: any(
                    c["breached"] for c in [*r["completedCycles"], r.get("ongoingCycle") or {}] if c
                ),
                "completed": lambda r: "ongoingCycle" not in r,
                "running": lambda r: "ongoingCycle" in r and not r["ongoingCycle"]["paused"],
                "paused": lambda r: "ongoingCycle" in r and r["ongoingCycle"]["paused"],
            }
            if text not in states:
                raise JQLError(f"Unable to find JQL function '{text}()'.")
            test = states[text]

            def state(s: dict) -> bool:
                r = record(s)
                return r is not None and bool(test(r)) == (op == "=")

            return state
        m = re.fullmatch(r"(remaining|elapsed)\((\d+)([wdhm])\)", text)
        if op not in ("<", "<=", ">", ">=") or m is None:
            raise JQLError(f"The operator '{op}' is not supported with '{text}' on the SLA field '{name}'.", False)
        bound = int(m.group(2)) * _UNITS[m.group(3)]
        what = "remainingTime" if m.group(1) == "remaining" else "elapsedTime"
        cmp = {"<": int.__lt__, "<=": int.__le__, ">": int.__gt__, ">=": int.__ge__}[op]

        def duration(s: dict) -> bool:
            r = record(s)
            ongoing = (r or {}).get("ongoingCycle")
            return ongoing is not None and cmp(ongoing[what]["millis"], bound)

        return duration

    def _custom_predicate(self, cf: CustomField, name: str, op: str, raw):
        """A clause on a custom field: `~` for text (no `=`, as Jira), `=`/`!=`/`in` for a select,
        a multi-select (holds the option), a number and a date; `is EMPTY`."""
        fid = cf.id
        if op in ("is", "is not"):
            if raw[0] != "empty":
                raise JQLError(f"The operator '{op.upper()}' only supports EMPTY or NULL.")
            return (lambda s: not s[fid]) if op == "is" else (lambda s: bool(s[fid]))
        if cf.kind == "text":
            if op not in ("~", "!~"):
                raise JQLError(f"The operator '{op}' is not supported by the '{name}' field.")
            match = _text_matcher(raw[1])
            return (lambda s: match(s[fid] or "")) if op == "~" else (lambda s: not match(s[fid] or ""))
        if op in ("~", "!~") or (cf.kind in ("select", "multiselect") and op not in ("=", "!=", "in", "not in")):
            raise JQLError(f"The operator '{op}' is not supported by the '{name}' field.")
        texts = [v[1] for v in (raw if isinstance(raw, list) else [raw]) if v[0] in ("word", "str")]
        if cf.kind in ("select", "multiselect"):
            wanted = set()
            for text in texts:
                found = next((o for o in cf.options if text.lower() in (o.lower(), cf.option_id(o))), None)
                if found is None:
                    raise JQLError(f"The option '{text}' for field '{name}' does not exist.", False)
                wanted.add(found)

            def hit(s: dict) -> bool:
                return bool(s[fid] & wanted) if isinstance(s[fid], frozenset) else s[fid] in wanted

            return hit if op in ("=", "in") else (lambda s: bool(s[fid]) and not hit(s))
        if cf.kind == "number":
            try:
                values = [float(t) for t in texts]
            except ValueError:
                raise JQLError(f"The value '{texts[0]}' is not a number for the field '{name}'.", False) from None
        else:
            for t in texts:
                if not re.fullmatch(r"\d{4}[-/]\d\d[-/]\d\d", t):
                    raise JQLError(f"Date value '{t}' for field '{name}' is invalid.", False)
            values = [t.replace("/", "-") for t in texts]
        tests = {
            "=": lambda x: x in values,
            "in": lambda x: x in values,
            "!=": lambda x: x not in values,
            "not in": lambda x: x not in values,
            ">": lambda x: x > values[0],
            ">=": lambda x: x >= values[0],
            "<": lambda x: x < values[0],
            "<=": lambda x: x <= values[0],
        }
        test = tests[op]
        return lambda s: s[fid] is not None and test(s[fid])

    def _resolve(self, fld: str, name: str, value):
        """The canonical value a clause compares with (400 for values that do not exist)."""
        kind, text = value
        server = self.server
        if kind == "empty":
            return None
        if kind == "func":
            if text == "currentuser" and fld in ("reporter", "assignee", "participants"):
                return server.me.account_id
            raise JQLError(f"Unable to find JQL function '{text}()'.")
        low = text.lower()
        found = None
        if fld == "project":
            found = PROJECT_KEY if low in (PROJECT_KEY.lower(), PROJECT_ID, PROJECT_NAME.lower()) else None
        elif fld == "status":
            found = next((s for s, (sid, _) in STATUSES.items() if low in (s.lower(), sid)), None)
        elif fld == "statusCategory":
            found = next((k for k, (cid, cname, _) in CATEGORIES.items() if low in (k, cname.lower(), str(cid))), None)
        elif fld == "priority":
            found = next((p for pid, p in PRIORITIES.items() if low in (p.lower(), pid)), None)
        elif fld == "requesttype":
            found = next((r.id for r in REQUEST_TYPES.values() if low in (r.name.lower(), r.id)), None)
        elif fld == "issuetype":
            found = next(
                (r.issue_type for r in REQUEST_TYPES.values() if low in (r.issue_type.lower(), r.issue_type_id)),
                None,
            )
        elif fld == "resolution":
            if low == "unresolved":
                return None
            found = next((r for rid, r in RESOLUTIONS.items() if low in (r.lower(), rid)), None)
        elif fld == "key":
            issue = server.issues.get(text.upper()) or (server._by_id.get(int(text)) if text.isdigit() else None)
            if issue is None:
                raise JQLError(f"An issue with key '{text}' does not exist for field '{name}'.", False)
            return issue.key
        elif fld in ("reporter", "assignee", "participants"):
            user = server.users.get(text) or server.user_by_email(text)
            found = user.account_id if user else None
        elif fld == "labels":
            return text
        if found is None:
            raise JQLError(f"The value '{text}' does not exist for the field '{name}'.", False)
        return found

    def _date_predicate(self, fld: str, name: str, op: str, raw):
        if op in ("in", "not in"):
            bounds = [_jql_date(v, name, self.server.now_ms()) for v in raw]

            def hit(s: dict) -> bool:
                return s[fld] is not None and any(lo <= s[fld] < lo + span for lo, span in bounds)

            return hit if op == "in" else (lambda s: not hit(s))
        if op not in ("=", "!=", ">", ">=", "<", "<="):
            raise JQLError(f"The operator '{op}' is not supported by the '{name}' field.")
        at, span = _jql_date(raw, name, self.server.now_ms())
        tests = {
            "=": lambda t: at <= t < at + span,
            "!=": lambda t: not at <= t < at + span,
            ">": lambda t: t > at,
            ">=": lambda t: t >= at,
            "<": lambda t: t < at,
            "<=": lambda t: t <= at,
        }
        test = tests[op]
        return lambda s: s[fld] is not None and test(s[fld])

    def _order_by(self) -> list[tuple[Callable, bool]]:
        self._expect("word", "order")
        self._expect("word", "by")
        order = []
        while True:
            kind, name = self._next()
            fld = _FIELDS.get(name.lower())
            if fld is None:
                raise JQLError(f"Field '{name}' does not exist or you do not have permission to view it.", False)
            if fld in _TEXT - {"summary"} or fld in _SETS:
                raise JQLError(f"Field '{name}' does not support sorting.", False)
            descending = False
            if self._at_keyword("asc") or self._at_keyword("desc"):
                descending = self._next()[1].lower() == "desc"
            order.append((_sort_key(fld), descending))
            if self._peek() != ("punct", ","):
                return order
            self.pos += 1


def _sort_key(fld: str) -> Callable[[dict], object]:
    if fld == "priority":
        return lambda s: _PRIORITY_RANK[s["priority"]]
    if fld == "key":
        return lambda s: s["number"]
    if fld == "summary":
        return lambda s: s["summary"].lower()
    # Empty values (no assignee, no resolution date) sort after every value.
    return lambda s: (s[fld] is None, s[fld] or 0) if fld in _DATES else (s[fld] is None, s[fld] or "")


def _text_matcher(term: str) -> Callable[[str], bool]:
    """Jira's `~`: every word must occur (stop words ignored, `*` and `?` wildcards, "phrases")."""
    term = term.strip()
    if len(term) > 1 and term.startswith('"') and term.endswith('"'):
        phrase = " ".join(_WORD.findall(term.lower()))
        return lambda text: phrase in " ".join(_WORD.findall((text or "").lower()))
    words = [w for w in re.findall(r"[\w*?]+", term.lower()) if w not in STOP_WORDS]
    patterns = [
        re.compile("^" + re.escape(w).replace(r"\*", r"\w*").replace(r"\?", r"\w") + "$")
        if ("*" in w or "?" in w)
        else w
        for w in words
    ]

    def match(text: str) -> bool:
        if not words:
            return False
        have = _words(text)
        return all((p in have) if isinstance(p, str) else any(p.match(h) for h in have) for p in patterns)

    return match


_RELATIVE = re.compile(r"^([+-]?)(\d+)([wdhm])$")
_UNITS = {"w": 7 * 86400000, "d": 86400000, "h": 3600000, "m": 60000}


def _jql_date(value, name: str, now: int) -> tuple[int, int]:
    """A JQL date value as (start epoch ms, precision ms); the user's time zone is UTC."""
    kind, text = value
    if kind == "func":
        if text == "now":
            return now, 60000
        if text in ("startofday", "endofday"):
            day = now - now % 86400000
            return (day, 86400000) if text == "startofday" else (day + 86400000 - 1, 1)
        raise JQLError(f"Unable to find JQL function '{text}()'.")
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return now + sign * int(m.group(2)) * _UNITS[m.group(3)], 60000
    for fmt, span in (
        ("%Y-%m-%d %H:%M", 60000),
        ("%Y/%m/%d %H:%M", 60000),
        ("%Y-%m-%d", 86400000),
        ("%Y/%m/%d", 86400000),
    ):
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp() * 1000), span
        except ValueError:
            continue
    raise JQLError(
        f"Date value '{text}' for field '{name}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
        "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
    )


# --- helpers --------------------------------------------------------------------------------


def _edited(issue: Issue) -> tuple:
    """The system fields an edit may change, to compare with after it (`_edit_items`)."""
    return (issue.summary, issue.description, list(issue.labels), issue.priority, issue.assignee, issue.reporter)


def _searchable(value):
    """A custom field's value as the index holds it: a multi-select as a set."""
    return frozenset(value) if isinstance(value, list) else value


def _custom_schema(cf: CustomField) -> dict:
    kind, items, custom = _CUSTOM_TYPES[cf.kind]
    schema = {
        "type": kind,
        "custom": f"com.atlassian.jira.plugin.system.customfieldtypes:{custom}",
        "customId": cf.number,
    }
    if items:
        schema["items"] = items
    return schema


def _item(name: str, field_id: str, old, old_text, new, new_text) -> dict:
    """One item of a changelog entry, as Jira writes it (from/to: ids, *String: what it shows)."""
    return {
        "field": name,
        "fieldtype": "jira",
        "fieldId": field_id,
        "from": old,
        "fromString": old_text,
        "to": new,
        "toString": new_text,
    }


def _is_sd(request: Request) -> bool:
    return request.path.startswith("/rest/servicedeskapi")


def _sd_body(message: str, key: str = "sd.error") -> dict:
    return {"errorMessage": message, "i18nErrorMessage": {"i18nKey": key, "parameters": []}}


def _sd_error(status: int, message: str, key: str = "sd.error") -> HTTPError:
    """The servicedeskapi's error shape (ErrorResponse in the spec)."""
    return HTTPError(status, _sd_body(message, key))


def _jira_error(status: int, *messages: str, errors: dict | None = None) -> HTTPError:
    """The platform API's error shape."""
    return HTTPError(status, {"errorMessages": list(messages), "errors": errors or {}})


def _json_body(request: Request, sd: bool) -> dict:
    def fail(status: int, message: str) -> HTTPError:
        return _sd_error(status, message) if sd else _jira_error(status, message)

    if request.content_type != "application/json":
        raise fail(415, f"Unsupported Media Type: '{request.content_type}' (send application/json).")
    body = request.json
    if not isinstance(body, dict):
        raise fail(400, "The request body is not a JSON object.")
    return body


def _multi(request: Request, name: str) -> list[str]:
    """A multi-valued query parameter: repeated and/or comma-separated."""
    return [v.strip() for raw in request.query.get(name, []) for v in raw.split(",") if v.strip()]


def _int_arg(request: Request, name: str, default: int, sd: bool = False) -> int:
    value = request.arg(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        if sd:
            raise _sd_error(400, f"'{name}' must be an integer.", "sd.paging.error") from None
        raise _jira_error(400, f"'{name}' must be an integer.") from None


def _bool_arg(request: Request, name: str, default: bool) -> bool:
    value = request.arg(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise _sd_error(400, f"'{name}' must be true or false.")
    return value.lower() == "true"


def _check_labels(labels, sd: bool = False) -> list[str]:
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        message = "Labels must be a list of non-empty strings."
        raise _sd_error(400, message) if sd else _jira_error(400, errors={"labels": message})
    for label in labels:
        if re.search(r"\s", label) or len(label) > 255:
            message = f"The label '{label}' contains spaces which is invalid."
            raise _sd_error(400, message) if sd else _jira_error(400, errors={"labels": message})
    return list(labels)


def _resolution_from(value) -> str:
    if isinstance(value, dict):
        if value.get("name") in RESOLUTIONS.values():
            return value["name"]
        if str(value.get("id")) in RESOLUTIONS:
            return RESOLUTIONS[str(value["id"])]
    raise _jira_error(400, errors={"resolution": "Could not find valid 'id' or 'name' in resolution object."})


def _make_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, fingerprint: str) -> int:
    """A page token is bound to its query: replaying it with another JQL is a 400."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["q"] == fingerprint and isinstance(data["o"], int) and data["o"] >= 0:
            return data["o"]
    except (ValueError, KeyError, TypeError):
        pass
    raise _jira_error(400, "The provided next page token is invalid or expired.")


def _multipart(request: Request) -> list[dict]:
    """The parts of a multipart/form-data body: name, filename, content_type, content."""
    m = re.search(r'boundary="?([^";]+)"?', request.headers.get("content-type", ""))
    if not m:
        raise ValueError("no boundary")
    delimiter = b"--" + m.group(1).encode()
    chunks = request.body.split(delimiter)
    if len(chunks) < 3:
        raise ValueError("no parts")
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a part without headers")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        parts.append(
            {
                "name": name.group(1) if name else None,
                "filename": filename.group(1) if filename else None,
                "content_type": headers.get("content-type"),
                "content": content.removesuffix(b"\r\n"),
            }
        )
    return parts


def _avatars(account_id: str) -> dict:
    digest = hashlib.md5(account_id.encode()).hexdigest()
    return {
        size: f"https://avatar-cdn.example.com/{digest}?s={size.split('x')[0]}"
        for size in ("48x48", "24x24", "16x16", "32x32")
    }


def _duration(ms: int) -> dict:
    minutes = int(ms / 60000)
    return {"millis": ms, "friendly": f"{minutes // 60}h {minutes % 60}m"}


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")


def _to_ms(when: datetime | str | int | float) -> int:
    if isinstance(when, (int, float)):
        return int(when)
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


__all__ = [
    "ACCOUNT_IDS",
    "AGENT_EMAIL",
    "CUSTOMER_EMAIL",
    "DEV_EMAIL",
    "JSMStandIn",
    "LEAD_EMAIL",
    "ORGANIZATION_ID",
    "PRIORITIES",
    "REQUEST_TYPES",
    "SERVICE_DESK_ID",
    "STATUSES",
    "TRANSITIONS",
]
