"""Jira Service Management (Cloud) backend: a service desk's requests as tixcli tickets.

Transport: a `RemoteBackend` (backends/remote.py: the lazy client, the one 4xx table, the JSON
shape checks). The `jira` library's client, built without a network call (`get_server_info=False`),
supplies the authenticated session (auth, headers, connection pool, TLS settings). Every call
goes through tixcli's HttpClient on that session, past the library's retry loop and JIRAError
(`max_retries=0`, and `requests.Session.request` on its session), because:
- the library's session retries POST on 429/503, which could duplicate a request: a create is
  sent once (`retry_safe=False`; HttpClient repeats only a 429, which the service did not process);
- a JIRAError's text carries the request headers (the Basic credentials): no library exception or
  text reaches the user, only tixcli errors built from a response body;
- the library covers little of /rest/servicedeskapi, sends request type and transition ids as
  numbers, and calls the removed JQL search when it does not know it is on Cloud.

Mapping: ticket ids are issue keys ("SUP-12"); people are emails (participants are accountIds,
looked up once per email per run); the description opens the thread as its first comment, as
on the other backends; `--dedupe-key` is a label (best-effort, see `create_ticket`). Statuses and
transitions: `jsm_workflow`.

SLA clocks, escalations and ratings (issue 16): a request's SLA metrics come with `show`'s read
(`expand=sla`) and with search pages (the site's SLA fields); an escalation is a linked issue of
the profile's engineering project (`escalation:`; mapping in `jsm_workflow.EscalationMap`); a
rating is the request's CSAT feedback, which JSM takes from the reporter only (POST .../feedback)
and keeps in the issue's "Satisfaction" and "Satisfaction date" fields. Those are read like the
SLA fields: found in the site's field list (once a run) and asked for in search pages (list,
export: no request per request) and in `show`'s issue read (the field list read first where the
request is solved or closed and the run has not read it). That is the one source of a rating on
a site, so export equals show: the comment comes from the Satisfaction value where it carries
one, else null, everywhere (Atlassian does not document that value: see
`jsm_workflow.csat_satisfaction`); rated_at is the Satisfaction date. GET .../feedback (1 request
per solved or closed request, no time: rated_at null) only where the field list is not readable,
the site has no Satisfaction field, or the platform issue is not (a customer account). A write's
read-back (solve, close, reply...) asks for the fields only where the run knows them already.

The core (`Backend`) runs the flow and the lifecycle rules; this module implements its primitives.
`state` reads the platform issue's status with the transitions available from it, kept for the
write that follows in the same command: a reply whose target status no transition reaches is
refused before its comment is sent, and solve/close need no second read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import requests
from jira import JIRA

from tixcli.backends.base import ExportItem, TicketState
from tixcli.backends.jsm_workflow import (
    GROUP_FIELD,
    ITEMS_MAX,
    TEXTAREA_MAX,
    VERB_FOR,
    EscalationMap,
    FieldMap,
    PriorityMap,
    SlaMap,
    Transition,
    TypeMap,
    Workflow,
    clause_name,
    csat_rating,
    csat_satisfaction,
    dedupe_key_of,
    dedupe_label,
    field_kind,
    field_value,
    jql_list,
    jql_phrase,
    jql_string,
    jql_text_terms,
    listed,
    option_value,
    sla_clocks,
    wire_value,
)
from tixcli.backends.remote import (
    RemoteBackend,
    decode_cursor,
    encode_cursor,
    json_array,
    json_object,
    need,
    service_id,
    service_key,
    service_time,
)
from tixcli.config import Profile
from tixcli.errors import (
    AuthError,
    ConfigError,
    InvalidInputError,
    NotFoundError,
    RefusedError,
    UnavailableError,
)
from tixcli.history import HistoryEvent
from tixcli.model import (
    ACTIVE_STATUSES,
    STATUSES,
    Attachment,
    Comment,
    FileUpload,
    ListQuery,
    NewTicket,
    Reply,
    Ticket,
    parse_iso,
    to_iso,
)

SD = "rest/servicedeskapi"
API = "rest/api/3"
API2 = "rest/api/2"  # wiki text for rich-text fields (description, comment bodies): what the servicedeskapi gives
SERVICE = "Jira Service Management"
PAGE = 100  # the largest page of the servicedeskapi, and of search/jql when fields are asked for
SEARCH_PAGE = PAGE  # issues a `list` search page asks for (tests lower it)
# What the servicedeskapi request lacks, read from the platform issue; and a search result's fields.
EXTRA_FIELDS = ("priority", "labels", "assignee", "updated", "resolutiondate")
SEARCH_FIELDS = ("summary", "description", "status", "reporter", "created", "attachment", *EXTRA_FIELDS)
# What an export reads of each request from its search page (v2), with the site's request type and
# participants fields: the request as `show` gives it, comments included (see `export`).
EXPORT_FIELDS = (*SEARCH_FIELDS, "comment")
# `export --state` on JSM re-reads this far before the previous run began (`export_overlap`): JQL
# compares `updated` in whole minutes (the query is floored to the minute and the seconds filtered
# here, which costs no margin), and the search index is eventually consistent: a change reaches
# JQL seconds later, minutes when the site is busy. Nothing is missed while the index lag plus
# how far this machine's clock runs ahead of the site's stays within 15 minutes (a run's start is
# this machine's time, `updated` the site's); more needs `export_overlap_minutes` in the profile.
# What is read again and unchanged is dropped by the state.
EXPORT_OVERLAP_MINUTES = 15.0
# What a user may name: an issue key in ASCII (checked before upper-casing: "ſ".upper() is "S").
ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,19}")
# `service_desk` in the profile: a numeric id, or a project key (ASCII only: "²".isdigit() is True).
DESK_ID = re.compile(r"[0-9]{1,20}")
PROJECT_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,254}")
# The custom fields holding a request's type and participants (their ids differ per site).
REQUEST_TYPE_FIELD = "com.atlassian.servicedesk:vp-origin"
PARTICIPANTS_FIELD = "com.atlassian.servicedesk:sd-request-participants"
SLA_FIELD = "com.atlassian.servicedesk:sd-sla-field"  # an SLA metric's field: its cycles, as /sla gives them
# The CSAT rating's fields (their ids differ per site): "Satisfaction" and "Satisfaction date".
SATISFACTION_FIELD = "com.atlassian.servicedesk:sd-request-feedback"
SATISFACTION_DATE_FIELD = "com.atlassian.servicedesk:sd-request-feedback-date"
# `list --breaching/--due-within/--escalated` that tixcli filters itself examines at most this many
# requests (search pages of 100; where the site's SLA fields are not readable, one /sla read each).
SCAN_MOST = 500
# The engineering issue of an escalation as read (REST v2: the description as text).
ESCALATION_FIELDS = ("summary", "description", "status", "duedate", "created", "reporter")
# JSM's feedback is 1..5 stars: good and bad as the ends of that scale.
RATING_STARS = {"good": 5, "bad": 1}
RATED = ("solved", "closed")  # the statuses a request has a rating in (JSM asks once it is resolved)
# GET issue?expand=: the transitions available from its status, with their screen fields. Jira
# documents `transitions` for the issue and `transitions.fields` for the transitions endpoint;
# where the issue's answer lacks the fields, they are read from that endpoint before use.
TRANSITIONS_EXPAND = "transitions,transitions.fields"
# History (see `history`): what the issue read gives besides its changelog (expand=changelog).
HISTORY_FIELDS = ("summary", "status", "reporter", "assignee", "created", "comment")
CHANGELOG_PAGE = 100  # GET /issue/{key}/changelog: maxResults defaults to 100, the most it allows
CHANGELOG_MOST = 100_000  # changes of one request read at most (a site that never ends: exit 8)
HISTORY_TEXT = 1_000  # the longest text a history event keeps of a value (a description...)
HISTORY_ITEMS = ITEMS_MAX  # the most values of a list (tags, CCs) it keeps
USERS_BULK = 50  # account ids a GET /user/bulk names (a long URL answers 414: JRACLOUD-78790)
# The account Jira's automation acts as (its accountType is "app"; sites rename it rarely).
AUTOMATION_NAMES = frozenset({"automation for jira", "automation"})
# Jira's time format (2026-01-31T12:00:00.000+0000): a custom field holding one is a date-time.
JIRA_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})"
)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class _Record:
    """What a request's history is made of, as read (see `history`): when it was made, its
    reporter and subject now, the changelog entries (None: still to read), the comments (the
    platform's or the servicedeskapi's shape) and, where the platform is not readable (a
    customer account), the request's status history in place of the changelog."""

    key: str
    created: str | None
    moment: datetime  # `created` to the millisecond, for the order of what followed
    reporter: dict | None
    summary: str | None
    changelog: list[dict] | None
    comments: list[dict]
    statuses: list[dict] | None = None
    links: list | None = None  # its issue links (an escalation's engineering issue), where read


@dataclass
class _State:
    """What `state` read of one request, kept for the write that follows in the same command."""

    key: str
    status: str  # tixcli's
    raw_status: str | None
    requester: str | None
    transitions: list[Transition] | None  # from that status; None: not read yet (customer accounts)


class _LibrarySession:
    """The jira library's authenticated session without its retry loop and JIRAError."""

    def __init__(self, session: requests.Session) -> None:
        self._session = session

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        return requests.Session.request(self._session, method, url, **kwargs)


class JSMBackend(RemoteBackend):
    name = "jsm"
    service = SERVICE
    capabilities = frozenset(
        {
            "internal_notes",
            "attachments",
            "cc",
            "search",
            "dedupe",
            "export_cursor",
            "edit",
            "assign",
            "download",
            "history",
            "custom_fields",
            "sla",
            "satisfaction",
            "satisfaction_scale",
        }
    )
    # JSM asks for feedback once a request has a resolution (resolved and closed alike)
    rates_closed = True
    # the profile settings it reads (name -> tixcli.config.Setting), kept in a module of their own
    # so that the config is checked without importing this one
    from tixcli.backends.jsm_settings import SETTINGS as settings

    max_comment_chars = 32_767  # Jira: a text field (description, comment) holds at most 32,767 characters
    requires = ("jira",)

    def __init__(self, profile: Profile) -> None:
        super().__init__(profile)
        self.url = profile.base_url()
        self.login = str(profile.require("email")).strip()  # as configured: the secret filter knows it
        self.email = self.login.lower()
        self.desk_setting = str(profile.require("service_desk")).strip()
        self.desk_is_id = bool(DESK_ID.fullmatch(self.desk_setting))
        if not (self.desk_is_id or PROJECT_KEY.fullmatch(self.desk_setting)):
            raise ConfigError(
                f"profile {profile.name!r}: service_desk must be a service desk id or a project key",
                hint="for example service_desk: 1, or service_desk: SUP",
            )
        self.workflow = Workflow(profile)
        self.types = TypeMap(profile)
        self.priorities = PriorityMap(profile)
        self.fieldmap = FieldMap(profile)
        self.slas = SlaMap(profile)
        self.escalations = EscalationMap(profile)
        if self.fieldmap.group_id:  # a field carries the group: create/edit/list --group use it
            self.capabilities = self.capabilities | {"groups"}
        if self.escalations.configured:  # an engineering project to escalate to
            self.capabilities = self.capabilities | {"escalations"}
        self._jira: JIRA | None = None
        # Looked up at most once per run.
        self._desk: dict | None = None
        self._request_types: list[dict] | None = None
        self._type_fields: dict[str, set[str]] = {}
        self._account_ids: dict[str, str] = {}
        self._custom: dict[str, dict | None] | None = None
        self._field_meta: dict[str, dict] = {}  # the mapped fields as the site's field list has them
        self._fields_read = False  # whether that list was read (else values go as text)
        self._type_options: dict[str, dict[str, list[str]]] = {}  # request type -> field -> options
        self._create_options: dict[str, dict[str, list[str]]] = {}  # issue type -> field -> options
        self._categories: dict[str, str] = {}  # status name (lower case) -> its category, as seen
        self._statuses_read = False
        self._people: dict[str, str] = {}  # accountId -> email, as seen in answers
        self._sla_fields: dict[str, str] = {}  # the site's SLA fields: id -> name (from the field list)
        self._csat: dict[str, str] = {}  # "rating"/"date" -> the site's Satisfaction (date) field id
        self._eng: dict[str, dict] = {}  # engineering issues read this run (key -> issue with its changelog)
        self._escalation_of: dict[str, str | None] = {}  # request -> its escalation's issue key, as last read
        self._scanned = 0  # requests a self-filtered listing examined (SCAN_MOST)
        self._looked_up: set[str] = set()  # accounts GET /user/bulk was asked for
        self._export_records: dict[str, _Record] = {}  # what export read for histories()
        self._tz = None
        self._created_ids: list[str] = []  # issues this run created: search may not see them yet
        self._platform_denied = False  # a customer-only account: the platform issue answers 403
        self._state: _State | None = None  # what `state` read, until the next write
        # What the last read of each request said (labels, request type): an edit changes labels
        # relative to them and checks a new request type against the request's issue type.
        self._read: dict[str, tuple[list[str], dict]] = {}
        minutes = profile.number("export_overlap_minutes", EXPORT_OVERLAP_MINUTES)
        self.export_overlap = timedelta(minutes=minutes)

    def export_source(self) -> str:
        """The site and the service desk: a state file of another site or desk is refused. (The
        desk as configured: an id and the project key of the same desk are two sources.)"""
        desk = self.desk_setting if self.desk_is_id else self.desk_setting.upper()
        return f"{self.name}:{self.url}/servicedesk/{desk}"

    # -- transport ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.url

    def open_session(self) -> _LibrarySession:
        """The jira library's authenticated session (built without a network call)."""
        token = self.profile.secret("token")
        assert token is not None  # required: a missing token raised ConfigError
        self._jira = JIRA(
            server=self.url,
            basic_auth=(self.login, token.reveal()),
            get_server_info=False,  # no network call until a command needs one
            max_retries=0,  # HttpClient retries; the library must never repeat a POST
            timeout=self.profile.timeout,
            logging=False,
            options={"check_update": False},
        )
        return _LibrarySession(self._jira._session)

    def shutdown(self) -> None:
        if self._jira is not None:
            self._jira.close()
        self._jira = None
        super().shutdown()

    def error_text(self, body) -> str:
        """The error text of a servicedeskapi body (`errorMessage`) or a platform one
        (`errorMessages`, `errors`): RemoteBackend's hook, cut to 300 characters there."""
        if not isinstance(body, dict):
            return ""
        messages = [str(body["errorMessage"])] if body.get("errorMessage") else []
        listed = body.get("errorMessages") or []
        messages += [str(m) for m in (listed if isinstance(listed, list) else [listed])]
        if isinstance(body.get("errors"), dict):
            messages += [f"{k}: {v}" for k, v in body["errors"].items()]
        return "; ".join(messages)

    def _call(self, method: str, path: str, *, action: str, ticket: str | None = None, retry_safe=None, **kwargs):
        """One request: the JSON answer, or the tixcli error RemoteBackend's table gives its 4xx
        (`ticket`: the request it reads or writes; a 409 on a write to it is exit 5)."""
        if method != "GET":
            self._state = None  # a write makes what `state` read stale
        return self.call(method, path, action=action, ticket=ticket, retry_safe=retry_safe, **kwargs)

    def _get(self, path: str, *, action: str, ticket: str | None = None, **params: Any) -> dict:
        """A GET whose answer is a JSON object."""
        params = {k: v for k, v in params.items() if v is not None}
        return _object(self._call("GET", path, action=action, ticket=ticket, params=params) or {})

    def _paged(self, path: str, *, action: str, ticket: str | None = None, **params: Any) -> Iterator[dict]:
        """Every value of a servicedeskapi list (start / limit / isLastPage), each once.

        A page that says more follows but brings nothing new would be asked for forever: exit 8.
        """
        start = 0
        seen: set[str] = set()
        while True:
            page = self._get(path, action=action, ticket=ticket, start=start, limit=PAGE, **params)
            values = _array(page.get("values") or [])
            fresh = False
            for value in values:
                identity = _identity(value)
                if identity not in seen:
                    seen.add(identity)
                    fresh = True
                    yield value
            if page.get("isLastPage", True) or not values:
                return
            if not fresh:
                raise _endless(path)
            start += len(values)

    # -- the service desk, request types, users, fields (once per run) ---------------------

    def _service_desk(self) -> dict:
        """The profile's service desk, {"id", "projectKey", ...}: `service_desk` is an id or a key."""
        if self._desk is None:
            wanted = self.desk_setting
            desk: dict | None
            if self.desk_is_id:
                desk = self._get(f"{SD}/servicedesk/{wanted}", action="read the service desk")
            else:
                desk = next(
                    (
                        d
                        for d in self._paged(f"{SD}/servicedesk", action="list the service desks")
                        if str(d.get("projectKey")).upper() == wanted.upper()
                    ),
                    None,
                )
                if desk is None:
                    raise ConfigError(
                        f"no service desk with project key {wanted!r} is visible to {self.email}",
                        hint="set service_desk to the service desk's id or project key",
                    )
            service_id(_need(desk, "id"), SERVICE, "service desk id")  # it goes into URL paths
            self._desk = desk
        return self._desk

    def _desk_id(self) -> str:
        return self.desk_setting if self.desk_is_id else str(self._service_desk()["id"])

    def _project_key(self) -> str:
        return _need(self._service_desk(), "projectKey") if self.desk_is_id else self.desk_setting.upper()

    def _request_type(self, type_: str | None) -> dict:
        name = self.types.name_for(type_)
        if not name:
            raise ConfigError(
                f"profile {self.profile.name!r} maps no request type to type {type_ or 'default'!r}",
                hint="add request_types.default (a request type name) to the profile",
            )
        if self._request_types is None:
            self._request_types = list(
                self._paged(f"{SD}/servicedesk/{self._desk_id()}/requesttype", action="list the request types")
            )
        for rt in self._request_types:
            if str(rt.get("name", "")).lower() == name.lower() or str(rt.get("id")) == name:
                return rt
        available = listed(rt.get("name") for rt in self._request_types)
        raise ConfigError(
            f"no request type {name!r} in service desk {self.desk_setting} (available: {available})",
            hint="fix request_types in the profile",
        )

    def _form_fields(self, request_type_id: str) -> set[str]:
        """The field ids a request type's form takes in `requestFieldValues`."""
        service_id(request_type_id, SERVICE, "request type id")  # it goes into the URL path
        if request_type_id not in self._type_fields:
            path = f"{SD}/servicedesk/{self._desk_id()}/requesttype/{request_type_id}/field"
            meta = self._get(path, action="read the request type's fields")
            fields = _array(meta.get("requestTypeFields") or [])
            self._type_fields[request_type_id] = {str(f.get("fieldId")) for f in fields if f.get("fieldId")}
            # a select's options (validValues: {value: the option's id, label: its value})
            self._type_options[request_type_id] = {
                str(f["fieldId"]): _option_labels(f.get("validValues"), "label")
                for f in fields
                if f.get("fieldId") in self.fieldmap.names
            }
        return self._type_fields[request_type_id]

    def _issue_type_options(self, request_type: dict) -> dict[str, list[str]]:
        """The options of the mapped select fields when an issue of the request type's issue type
        is made (create metadata), for the fields its request form lacks: read once per issue type
        and run, {} where the account may not read it (the site then checks the values)."""
        issue_type = service_id(_need(request_type, "issueTypeId"), SERVICE, "issue type id")  # into the path
        if issue_type not in self._create_options:
            found: dict[str, list[str]] = {}
            path = f"{API}/issue/createmeta/{quote(self._project_key(), safe='')}/issuetypes/{issue_type}"
            start = 0
            try:
                while True:
                    page = self._get(path, action="read the create metadata", startAt=start, maxResults=CHANGELOG_PAGE)
                    values = _array(page.get("fields") or page.get("results") or [])
                    for f in values:
                        if f.get("fieldId") in self.fieldmap.names:
                            found[str(f["fieldId"])] = _option_labels(f.get("allowedValues"), "value")
                    start += len(values)
                    total = page.get("total")
                    if not values or not isinstance(total, int) or start >= total or start >= CHANGELOG_MOST:
                        break
            except (AuthError, NotFoundError):
                found = {}
            self._create_options[issue_type] = found
        return self._create_options[issue_type]

    def _account_id(self, email: str) -> str:
        """The accountId of a user or customer, by email (user search), cached per run."""
        email = email.strip().lower()
        if email not in self._account_ids:
            users = _array(
                self._call("GET", f"{API}/user/search", action="look up a user", params={"query": email}) or []
            )
            exact = [u for u in users if str(u.get("emailAddress") or "").lower() == email]
            if not exact and len(users) == 1 and not users[0].get("emailAddress"):
                exact = users  # the site hides emails; the search found this one account
            if not exact:
                raise InvalidInputError(
                    f"no Jira user or customer has the email {email}",
                    hint="add them as a customer of the service desk first (that needs admin rights)",
                )
            self._account_ids[email] = str(_need(exact[0], "accountId"))
        return self._account_ids[email]

    def _custom_fields(self) -> dict[str, dict | None]:
        """The site's request type and participants fields ({"id", "clauseNames"...} or None);
        the fields the profile maps are kept too (their schemas: `_kind`)."""
        if self._custom is None:
            found: dict[str, dict | None] = {"request_type": None, "participants": None}
            try:
                for f in _array(self._call("GET", f"{API}/field", action="list the fields") or []):
                    custom = _dict(f.get("schema")).get("custom")
                    if custom == REQUEST_TYPE_FIELD:
                        found["request_type"] = f
                    elif custom == PARTICIPANTS_FIELD:
                        found["participants"] = f
                    elif custom == SLA_FIELD and isinstance(f.get("id"), str) and isinstance(f.get("name"), str):
                        self._sla_fields[f["id"]] = f["name"]
                    elif custom in (SATISFACTION_FIELD, SATISFACTION_DATE_FIELD) and isinstance(f.get("id"), str):
                        self._csat.setdefault("rating" if custom == SATISFACTION_FIELD else "date", f["id"])
                    if isinstance(f.get("id"), str) and f["id"] in self.fieldmap.names:
                        self._field_meta[f["id"]] = f
                self._fields_read = True
            except (AuthError, NotFoundError):
                pass  # no field list: search results then lack the type and CCs
            self._custom = found
        return self._custom

    # -- custom fields (`fields:` in the profile) -----------------------------------------

    def field_names(self) -> tuple[str, ...]:
        return tuple(self.fieldmap.custom)

    def field_values(self, texts: dict[str, str | None]) -> dict[str, Any]:
        """Each `--field` text converted by its field's schema in the site's field list (one
        request a run): text, number, date, date-time, an option, options from a comma list."""
        return {name: field_value(self._kind(self.fieldmap.ids[name]), text, name) for name, text in texts.items()}

    def _kind(self, field_id: str) -> str:
        """What the field holds (`jsm_workflow.field_kind`); a mapped id the site's field list
        lacks is a configuration error. Without a readable list, values go as text and the site
        checks them."""
        self._custom_fields()
        meta = self._field_meta.get(field_id)
        if meta is not None:
            return field_kind(meta.get("schema"))
        if not self._fields_read:
            return "text"
        name = self.fieldmap.names[field_id]
        raise ConfigError(
            f"profile {self.profile.name!r}: fields.{name} is {field_id}, which {SERVICE} does not show to "
            f"{self.email}",
            hint="check the id in Jira's custom field settings (or GET /rest/api/3/field)",
        )

    def _mapped_ids(self) -> tuple[str, ...]:
        """The fields to ask for in every read: the mapped ones, the group's included."""
        return tuple(self.fieldmap.ids.values())

    def _custom_values(self, fields: dict, form: dict | None = None) -> tuple[dict[str, Any], str | None]:
        """(Ticket.fields, Ticket.group) from the platform fields, or for a customer account the
        request form's values. Values are read by their shape (no schema needed: `show` reads
        no field list): text, numbers, an option's value, lists of them, Jira times as ISO."""
        values: dict[str, Any] = {}
        group = None
        for name, fid in self.fieldmap.ids.items():
            raw = fields.get(fid) if fid in fields else (form or {}).get(fid)
            value = _read_field(raw)
            if value is None:
                continue
            if name == GROUP_FIELD:
                group = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            else:
                values[name] = value
        return values, group

    def _group_value(self, group: str) -> tuple[str, Any]:
        """The field carrying the group and the value a group name makes of it (the core refuses
        --group unless the profile maps that field: the "groups" capability)."""
        group_id = self.fieldmap.group_id
        if group_id is None:  # a bug in the caller
            raise InvalidInputError(f"{SERVICE} has no groups unless the profile maps fields.group")
        return group_id, field_value(self._kind(group_id), group, GROUP_FIELD)

    def _checked_options(self, request_type: dict, field_id: str, value: Any, on_form: bool) -> Any:
        """A select's value checked against its options before anything is sent (the form's, or
        the create metadata's for a field the form lacks), in the option's own spelling; where
        neither says, as given (the site checks it)."""
        name = self.fieldmap.names[field_id]
        if on_form:
            self._form_fields(str(request_type["id"]))
            allowed = self._type_options.get(str(request_type["id"]), {}).get(field_id)
        else:
            allowed = self._issue_type_options(request_type).get(field_id)
        if not allowed:
            return value
        fixed = []
        for wanted in value if isinstance(value, list) else [value]:
            option = option_value(allowed, str(wanted))
            if option is None:
                raise InvalidInputError(
                    f"field {name!r} has no option {str(wanted)[:60]!r}", hint=f"its options: {listed(allowed)}"
                )
            fixed.append(option)
        return fixed if isinstance(value, list) else fixed[0]

    def _field_refusal(self, exc: InvalidInputError, note: str = "") -> InvalidInputError:
        """The site's refusal of a value (it names the field's id or JQL clause) naming the field
        as the profile does."""
        message = exc.message
        for fid, name in self.fieldmap.names.items():
            for spelled in (fid, clause_name(fid)):
                if spelled in message:
                    message = message.replace(spelled, f"field {name!r} ({spelled})")
        if message == exc.message and not note:
            return exc
        return InvalidInputError(message + note, hint=exc.hint)

    def _timezone(self):
        """The account's time zone: JQL reads "yyyy-MM-dd HH:mm" in it."""
        if self._tz is None:
            self._tz = timezone.utc
            try:
                name = self._get(f"{API}/myself", action="read the account").get("timeZone")
                if name:
                    from zoneinfo import ZoneInfo

                    self._tz = ZoneInfo(name)
            except (AuthError, NotFoundError, ValueError, KeyError):
                pass
        return self._tz

    # -- reads ----------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        return self._with_thread(_issue_key(ticket_id))

    def _with_thread(self, key: str, fields: dict | None = None) -> Ticket:
        """A request and its thread: what `show` prints, and what `export` writes for each request."""
        ticket, request, _ = self._load_request(key, fields)
        attachments = [_attachment(a) for a in (request.get("attachments") or {}).get("values") or []]
        ticket.comments = self._thread(ticket, attachments)
        return ticket

    def _load(self, key: str, rating: str = "known") -> Ticket:
        """A write's read-back (see `_load_request` for `rating`)."""
        return self._load_request(key, rating=rating)[0]

    def _load_request(
        self, key: str, fields: dict | None = None, transitions: bool = False, rating: str = "read"
    ) -> tuple[Ticket, dict, list[Transition] | None]:
        """A request without its thread: the servicedeskapi request plus the platform fields
        (EXTRA_FIELDS; read here unless given, as export has them from its search), and with
        `transitions` those available from its status (None where the platform is not readable).

        The rating of a solved or closed request (`_rate_of`), by `rating`: "read" (show, and
        `rate`'s read-back) asks for the site's Satisfaction fields with the issue, reading the
        field list first where this run has not (1 request a run, only for a solved or closed
        request); "known" (a write's read-back) asks for them only where the field list was read
        already (no request more: else no rating); "none" (a read a write goes on from) not at all."""
        request = self._get(
            f"{SD}/request/{_seg(key)}",
            action="read the request",
            ticket=key,
            expand="participant,requestType,attachment,sla",  # the SLAs (agents): no request more
        )
        available = None
        asked = bool(self._csat_ids()) if fields is not None else False  # export asks for them in its pages
        if fields is None and not self._platform_denied:
            if rating == "read" and self._rated_status(request):
                self._custom_fields()  # the Satisfaction fields' ids: once a run
            csat = self._csat_ids() if rating != "none" else ()
            try:
                issue = self._get(
                    f"{API}/issue/{_seg(key)}",
                    action="read the issue",
                    ticket=key,
                    fields=",".join((*EXTRA_FIELDS, *self._mapped_ids(), *self._link_field(), *csat)),
                    expand=TRANSITIONS_EXPAND if transitions else None,
                )
            except AuthError as exc:  # a customer-only account cannot read the platform issue
                self._platform_denied = exc.status == 403
            except NotFoundError:
                pass
            else:
                fields = issue.get("fields")
                available = _platform_transitions(issue) if transitions else None
                asked = bool(csat)
        labels, request_type = (fields or {}).get("labels"), request.get("requestType")
        self._read[key] = (
            [str(x) for x in labels] if isinstance(labels, list) else [],
            request_type if isinstance(request_type, dict) else {},
        )
        ticket = self._ticket_from_request(request, fields)
        self._complete(ticket, self._request_slas(key, request), fields, rating, asked)
        return ticket, request, available

    def _rated_status(self, request: dict) -> bool:
        """Whether a servicedeskapi request is solved or closed (JSM asks for feedback then)."""
        status = _dict(request.get("currentStatus"))
        return self.workflow.status(status.get("status"), status.get("statusCategory")) in RATED

    # -- SLA clocks, escalations, feedback (issue 16) ----------------------------------------

    def _link_field(self) -> tuple[str, ...]:
        """The field to read with a request where escalations are configured: its issue links."""
        return ("issuelinks",) if self.escalations.configured else ()

    def _sla_field_ids(self) -> tuple[str, ...]:
        """The site's SLA fields (known once the field list was read): a search result's SLAs."""
        return tuple(self._sla_fields)

    def _complete(
        self, ticket: Ticket, slas: list[dict] | None, fields: dict | None, rating: str = "read", asked: bool = False
    ) -> Ticket:
        """Add what a request's own read does not say: its SLA clocks (from `slas`, the SLA
        records), its escalation (the linked engineering issue: 1 read per run and issue, only
        where a link of the profile's type exists) and, once solved or closed, its rating (from
        the platform `fields`, where they were `asked` with the Satisfaction fields; see
        `_rate_of` and `_load_request` for `rating`)."""
        ticket.sla = sla_clocks(slas, self.slas) if slas else None
        issuelinks = (fields or {}).get("issuelinks")
        if self.escalations.configured and issuelinks is not None:
            ticket.escalation = self._escalation(ticket.id, issuelinks)
        if rating != "none":
            self._rate_of(ticket, fields if asked else None, fallback=rating == "read")
        return ticket

    def _csat_ids(self) -> tuple[str, ...]:
        """The site's Satisfaction and Satisfaction date fields (known once the field list was
        read, and only where the site has the Satisfaction field): a read's rating."""
        if "rating" not in self._csat:
            return ()
        return (self._csat["rating"], *([self._csat["date"]] if "date" in self._csat else []))

    def _request_slas(self, key: str, request: dict) -> list[dict] | None:
        """The SLA records of a request read with expand=sla (agents only: None otherwise); the
        rest of them from GET .../sla where the embedded page does not hold them all."""
        page = request.get("sla")
        if not isinstance(page, dict):
            return None
        values = _array(page.get("values") or [])
        if page.get("isLastPage", True):
            return values
        return list(self._paged(f"{SD}/request/{_seg(key)}/sla", action="read the SLAs", ticket=key))

    def _issue_slas(self, fields: dict) -> list[dict] | None:
        """A search result's SLA records, from the site's SLA fields (None where none is known)."""
        if not self._sla_fields:
            return None
        return [v for fid in self._sla_fields if isinstance(v := fields.get(fid), dict)]

    def _read_slas(self, key: str) -> list[dict] | None:
        """GET .../sla (1 request per 100 metrics): where a search gave no SLA fields."""
        try:
            return list(self._paged(f"{SD}/request/{_seg(key)}/sla", action="read the SLAs", ticket=key))
        except AuthError:
            return None  # customers see no SLAs

    def _escalation(self, key: str, issuelinks: Any) -> dict[str, Any] | None:
        eng_key = self.escalations.linked_key(issuelinks)
        self._escalation_of[key] = eng_key
        if eng_key is None:
            return None
        issue = self._eng_issue(eng_key)
        return self.escalations.escalation(issue) if issue is not None else None

    def _eng_issue(self, eng_key: str) -> dict | None:
        """The engineering issue (REST v2) with its whole changelog, read once a run (a write to
        it forgets it); None where this account cannot read it."""
        if eng_key not in self._eng:
            try:
                issue = self._get(
                    f"{API2}/issue/{_seg(eng_key)}",
                    action="read the escalation",
                    fields=",".join(ESCALATION_FIELDS),
                    expand="changelog",
                )
            except (AuthError, NotFoundError):
                return None
            page = issue.get("changelog")
            histories = page.get("histories") if isinstance(page, dict) else None
            total = page.get("total") if isinstance(page, dict) else None
            if not isinstance(histories, list) or not isinstance(total, int) or len(histories) < total:
                issue["changelog"] = {"histories": self._changelog(eng_key)}
            self._eng[eng_key] = issue
        return self._eng[eng_key]

    def _feedback(self, key: str) -> dict[str, Any] | None:
        """The request's CSAT feedback (GET .../feedback: 1 request), where no Satisfaction field
        can be read (see `_rate_of`): {rating 1..5, comment, rated_at (the endpoint gives no
        time: null)}; None where none was given (404)."""
        try:
            answer = self._get(f"{SD}/request/{_seg(key)}/feedback", action="read the feedback", ticket=key)
        except (NotFoundError, AuthError):
            return None
        rating = csat_rating(answer.get("rating"))
        if rating is None:
            return None
        comment = _dict(answer.get("comment")).get("body")
        return {
            "rating": rating,
            "comment": comment if isinstance(comment, str) and comment else None,
            "rated_at": None,
        }

    def escalation_stages(self) -> tuple[str, ...]:
        return self.escalations.stages if self.escalations.configured else super().escalation_stages()

    def rating_value(self, rating: str | int) -> str | int:
        """JSM keeps stars: good is 5, bad is 1; a number as given."""
        return RATING_STARS[rating] if isinstance(rating, str) else rating

    def open_escalation(self, ticket_id: str, reason: str, eta: str | None) -> Ticket:
        """An issue of the engineering project (REST v2: the reason as text, its first line as the
        summary, the eta as the due date), then the link to the request: 2 requests, then the
        request read back."""
        key = _issue_key(ticket_id)
        esc = self.escalations
        fields: dict[str, Any] = {
            "project": {"key": esc.project},
            "issuetype": {"name": esc.issue_type},
            "summary": esc.summary(reason),
            "description": reason,
        }
        if eta:
            fields["duedate"] = eta
        created = self._call(
            "POST", f"{API2}/issue", action="open the escalation", json={"fields": fields}, retry_safe=False
        )
        eng_key = service_key(_need(_object(created), "key"), SERVICE)
        link = {"type": {"name": esc.link_type}, "inwardIssue": {"key": key}, "outwardIssue": {"key": eng_key}}
        try:
            self._call(
                "POST", f"{API}/issueLink", action="link the escalation", ticket=key, json=link, retry_safe=False
            )
        except (NotFoundError, InvalidInputError) as exc:
            raise type(exc)(
                f"{exc.message} ({eng_key} was created but not linked to {key})",
                hint=f"check escalation.link_type in the profile, then link {eng_key} to {key} in Jira",
            ) from None
        self._eng.pop(eng_key, None)
        return self._load(key)

    def move_escalation(self, ticket_id: str, stage: str, eta: str | None) -> Ticket:
        """The engineering issue's transition to the status mapped to `stage` (its transitions
        read first: 1 + 1 requests; none leading there: exit 5), its due date set with `eta`
        (1 more), then the request read back."""
        key = _issue_key(ticket_id)
        eng_key = self._escalation_of.get(key)
        if eng_key is None:
            self._load_request(key, rating="none")
            eng_key = self._escalation_of.get(key)
        if eng_key is None:
            raise RefusedError(f"ticket {key} has no open escalation", hint="open one with --reason TEXT")
        current = self._eng_issue(eng_key)
        status = _dict(_dict((current or {}).get("fields")).get("status")).get("name")
        if self.escalations.stage(status) != stage:
            data = self._get(f"{API}/issue/{_seg(eng_key)}/transitions", action="read the escalation's transitions")
            transitions = _platform_transitions(data, endpoint=True) or []
            wanted = self.escalations.status_for[stage].lower()
            leading = [t for t in transitions if self.escalations.stage(t.to_name) == stage]
            chosen = next((t for t in leading if str(t.to_name).lower() == wanted), leading[0] if leading else None)
            if chosen is None:
                raise RefusedError(
                    f"escalation {eng_key}: no transition to {self.escalations.status_for[stage]!r} ({stage}) from "
                    f"{status!r} (available: {listed(t.name for t in transitions)})",
                    hint="map the engineering workflow's statuses under escalation.stages",
                )
            body = {"transition": {"id": chosen.id}}
            self._call(
                "POST", f"{API}/issue/{_seg(eng_key)}/transitions", action="move the escalation", ticket=key, json=body
            )
        if eta is not None:
            self._call(
                "PUT",
                f"{API2}/issue/{_seg(eng_key)}",
                action="set the escalation's date",
                ticket=key,
                json={"fields": {"duedate": eta}},
                retry_safe=True,
            )
        self._eng.pop(eng_key, None)
        return self._load(key)

    def set_rating(self, ticket_id: str, rating: str | int, comment: str | None) -> Ticket:
        """POST .../feedback (1..5 stars; good 5, bad 1; a new rating replaces the last), which JSM
        takes from the request's reporter only: another account is refused before sending (exit
        7), as is the service's 403; then the request read back as `show` reads it, its rating
        from the Satisfaction fields (the field list once a run), else from GET feedback."""
        key = _issue_key(ticket_id)
        known = self._state_for_write(key)
        if known.requester and known.requester != self.email:
            raise self._not_the_reporter(key, known.requester)
        body: dict[str, Any] = {"type": "csat", "rating": self.rating_value(rating)}
        if comment:
            body["comment"] = {"body": comment}
        try:
            self._call(
                "POST", f"{SD}/request/{_seg(key)}/feedback", action="rate", ticket=key, json=body, retry_safe=True
            )
        except AuthError as exc:
            if exc.status != 403:
                raise
            raise self._not_the_reporter(key, known.requester) from None
        return self._load(key, rating="read")

    def _not_the_reporter(self, key: str, reporter: str | None) -> AuthError:
        return AuthError(
            f"{SERVICE} takes the rating of {key} from its reporter ({reporter or 'another account'}), "
            f"not from {self.email}",
            hint="rate with the reporter's credentials (a profile with their email and API token)",
            status=403,
        )

    def state(self, ticket_id: str) -> TicketState:
        """Status and requester in one request (the platform issue, for agents), with the
        transitions available from that status, kept for the write that follows."""
        self._state = self._read_state(_issue_key(ticket_id))
        return TicketState(self._state.status, self._state.requester)

    def _read_state(self, key: str) -> _State:
        if not self._platform_denied:
            try:
                issue = self._get(
                    f"{API}/issue/{_seg(key)}",
                    action="read the issue",
                    ticket=key,
                    fields="status,reporter",
                    expand=TRANSITIONS_EXPAND,
                )
            except AuthError as exc:
                if exc.status != 403:  # bad credentials: the same on the servicedeskapi
                    raise
                self._platform_denied = True  # a customer: the servicedeskapi request says it
            except NotFoundError:
                pass  # hidden from the platform, perhaps: the servicedeskapi says whether it exists
            else:
                fields = _object(issue.get("fields") or {})
                status = fields.get("status") or {}
                name, category = status.get("name"), (status.get("statusCategory") or {}).get("key")
                return _State(
                    key,
                    self.workflow.status(name, category),
                    name,
                    _email(fields.get("reporter")),
                    _platform_transitions(issue),
                )
        request = self._get(f"{SD}/request/{_seg(key)}", action="read the request", ticket=key)
        current = request.get("currentStatus") or {}
        name = current.get("status")
        status = self.workflow.status(name, current.get("statusCategory"))
        return _State(key, status, name, _email(request.get("reporter")), None)

    def _state_for_write(self, key: str) -> _State:
        """What `state` just read of `key` (taken: used once), else read now."""
        known, self._state = self._state, None
        return known if known is not None and known.key == key else self._read_state(key)

    def _available(self, known: _State) -> list[Transition]:
        if known.transitions is None:
            known.transitions = self._transitions(known.key)
        return known.transitions

    def _thread(self, ticket: Ticket, attachments: list[Attachment], raw: list | None = None) -> list[Comment]:
        """The description as the first comment, then the comments (with their attachments);
        `raw` receives the comments as the service sent them (for the history of an export)."""
        found = list(
            self._paged(
                f"{SD}/request/{_seg(ticket.id)}/comment",
                action="read the comments",
                ticket=ticket.id,
                expand="attachment",
            )
        )
        if raw is not None:
            raw.extend(found)
        return _with_opening(ticket, [_comment(c) for c in found], attachments)

    def _thread_from_page(self, ticket: Ticket, fields: dict, raw: list | None = None) -> list[Comment]:
        """The thread of a search result: its embedded comments (v2: wiki text, `jsdPublic`),
        unless the page did not hold all of them, or the request has files. Which comment a file
        came with only the servicedeskapi says (the platform lists the issue's files apart from its
        comments): those requests are read as `show` reads them, one call."""
        attachments = [_attachment(a) for a in _array(fields.get("attachment") or [])]
        page = fields.get("comment")
        if attachments or not isinstance(page, dict) or not _holds_every_comment(page):
            return self._thread(ticket, attachments, raw)
        found = _array(page["comments"])
        if raw is not None:
            raw.extend(found)
        return _with_opening(ticket, [_platform_comment(c) for c in found], attachments)

    def query(self, query: ListQuery) -> list[Ticket]:
        """The resolved query: "mine" is `requester` = the profile's email, and with no other
        filter the portal's own request list answers it; everything else is JQL."""
        if query.limit <= 0:
            return []
        self._scanned = 0
        mine = bool(query.requester) and str(query.requester).lower() == self.email
        if mine and self._requests_api_answers(query, mine=True):
            return self._list_requests(query, ("OWNED_REQUESTS",))
        try:
            return list(self._search(self._jql(query), query.limit, _checked_here(query)))
        except InvalidInputError as exc:  # JQL refused a field's value (an option it lacks...)
            raise self._field_refusal(exc) from None
        except AuthError:
            # A customer-only account cannot search: --all is then the portal's "all requests"
            # (its own, those it participates in, its organisations'), where /request can say it.
            if query.requester or not self._requests_api_answers(query):
                raise
            return self._list_requests(query, ("OWNED_REQUESTS", "PARTICIPATED_REQUESTS", "ALL_ORGANIZATIONS"))

    def _requests_api_answers(self, query: ListQuery, mine: bool = False) -> bool:
        """Whether /request (the portal's request list) expresses the query's filters and order:
        its status, request type and ownership, newest activity first, nothing else."""
        other_requester = query.requester and not mine
        unsaid = (
            query.priority,
            other_requester,
            query.assignee,
            query.words,
            query.since,
            query.tags,
            query.group,
            query.created_since,
            query.reverse,
            query.fields,
            query.breaching,
            query.due_within,
            query.escalated,
        )
        return (
            _request_status(query.statuses) is not None
            and not any(unsaid)
            and query.sort == "updated"  # /request is ordered by latest activity
        )

    def _list_requests(self, query: ListQuery, ownership: tuple[str, ...]) -> list[Ticket]:
        params: dict[str, Any] = {
            "requestOwnership": list(ownership),
            "requestStatus": _request_status(query.statuses),
            "serviceDeskId": self._desk_id(),
            "expand": "participant,requestType,sla",
        }
        if query.type:
            params["requestTypeId"] = str(self._request_type(query.type)["id"])
        by_key: dict[str, dict] = {}  # offset pages shift when requests change while we read
        start = 0
        while len(by_key) < query.limit:
            limit = min(PAGE, query.limit - len(by_key))
            page = self._get(f"{SD}/request", action="list requests", start=start, limit=limit, **params)
            values = _array(page.get("values") or [])
            start += len(values)
            had = len(by_key)
            for request in values:
                by_key.setdefault(_key_of(request, "issueKey"), request)
            if page.get("isLastPage", True) or not values:
                break
            if len(by_key) == had:
                raise _endless(f"{SD}/request")
        found = list(by_key.values())[: query.limit]
        if found and any(self._rated_status(r) for r in found) and not self._platform_denied:
            self._custom_fields()  # the Satisfaction fields' ids for the ratings: once a run
        # One search adds what /request lacks (priority, labels, updated, the rating...) to a whole page.
        extra: dict[str, dict] = {}
        csat = self._csat_ids()
        for i in range(0, len(found), PAGE):
            keys = [_key_of(r, "issueKey") for r in found[i : i + PAGE]]
            try:
                wanted = (*EXTRA_FIELDS, *self._mapped_ids(), *self._link_field(), *csat)
                issues, _ = self._search_page(f"key in ({jql_list(keys)})", wanted, len(keys))
            except (AuthError, NotFoundError):
                break  # a customer-only account cannot search
            extra.update({_key_of(issue, "key"): issue.get("fields") or {} for issue in issues})
        tickets = []
        for r in found:
            fields = extra.get(r["issueKey"])
            ticket = self._ticket_from_request(r, fields)
            slas = self._request_slas(ticket.id, r)
            tickets.append(self._complete(ticket, slas, fields, "read", asked=fields is not None and bool(csat)))
        return tickets

    def _jql(self, query: ListQuery) -> str:
        clauses = [f"project = {jql_string(self._project_key())}"]
        if query.requester:  # "mine" too: the core set it to the profile's user
            clauses.append(self._user_clause("reporter", query.requester))
        if query.assignee:
            clauses.append(self._user_clause("assignee", query.assignee))
        statuses = self.workflow.jql_statuses(query.statuses)
        if statuses:
            clauses.append(statuses)
        if query.type:
            field = self._custom_fields()["request_type"]
            names = [n for n in (field or {}).get("clauseNames") or [] if not n.lower().startswith("cf[")]
            clause_name = names[0] if names else "Request Type"
            clauses.append(f"{jql_string(clause_name)} = {jql_string(self._request_type(query.type)['name'])}")
        if query.priority:
            jira_priority = self.priorities.jira_name(query.priority)
            if jira_priority is None:
                raise ConfigError(
                    f"no JSM priority is mapped to {query.priority!r}", hint="map it under priorities: in the profile"
                )
            clauses.append(f"priority = {jql_string(jira_priority)}")
        # labels = x: the issue has label x; one clause per tag, AND'ed (every tag is required)
        clauses += [f"labels = {jql_string(tag)}" for tag in query.tags]
        for name, wanted in query.fields:  # each value checked here too (_checked_here)
            clauses += self._field_clauses(self.fieldmap.ids[name], wanted)
        if query.group is not None:
            clauses += self._field_clauses(*self._group_value(query.group))
        if query.since:
            clauses.append(f"updated >= {jql_string(self._jql_time(query.since))}")
        if query.created_since:
            clauses.append(f"created >= {jql_string(self._jql_time(query.created_since))}")
        clauses += self._sla_clauses(query)
        if query.words:
            terms = jql_text_terms(query.words)
            if not terms:
                raise InvalidInputError("--search needs at least one word that is not a stop word ('the', 'a'...)")
            clauses.extend(terms)
        keys = {
            "updated": ("updated", "key"),
            "created": ("created", "key"),
            "priority": ("priority", "updated", "key"),
        }
        way = "ASC" if query.reverse else "DESC"  # --reverse turns the whole order round
        order = ", ".join(f"{key} {way}" for key in keys[query.sort])
        return " AND ".join(clauses) + f" ORDER BY {order}"

    def _sla_clauses(self, query: ListQuery) -> list[str]:
        """`--breaching` / `--due-within`: JQL's SLA functions on the profile's `sla_fields`
        (breached() and not completed(); running(), not breached() and <= remaining()), each
        clock checked here again; without them only the requests not done (a clock that can be
        breaching or due is an ongoing one), whose clocks tixcli checks (`_checked_here`)."""
        clauses = []
        if query.breaching:
            clauses.append(self.slas.breaching_jql() or "statusCategory != Done")
        if query.due_within is not None:
            clauses.append(self.slas.due_jql(int(query.due_within.total_seconds())) or "statusCategory != Done")
        return list(dict.fromkeys(clauses))

    def _field_clauses(self, field_id: str, wanted: Any) -> list[str]:
        """JQL selecting the issues whose custom field holds `wanted` (a value as `field_values`
        gives it): `~` a phrase for text (JQL has no `=` for it), `=` for the rest, one clause
        per option of a multi-select; what JQL says loosely is checked on the answer."""
        clause, kind = clause_name(field_id), self._kind(field_id)
        if wanted is None:
            return [f"{clause} is EMPTY"]
        if kind in ("text", "textarea"):
            return [f"{clause} ~ {jql_phrase(str(wanted))}"]
        if kind == "number":
            number = format(wanted, "f").rstrip("0").rstrip(".") if isinstance(wanted, float) else str(wanted)
            return [f"{clause} = {number}"]
        if kind == "datetime":  # JQL compares minutes: that minute, the seconds checked here
            minute = parse_iso(str(wanted)).replace(second=0)
            return [
                f"{clause} >= {jql_string(self._jql_time(minute))}",
                f"{clause} <= {jql_string(self._jql_time(minute + timedelta(minutes=1)))}",
            ]
        return [f"{clause} = {jql_string(str(v))}" for v in (wanted if isinstance(wanted, list) else [wanted])]

    def _user_clause(self, field: str, email: str) -> str:
        if email.lower() == self.email:
            return f"{field} = currentUser()"
        return f"{field} = {jql_string(self._account_id(email))}"

    def _jql_time(self, since: datetime) -> str:
        """JQL compares minutes in the account's time zone: floor, then filter the seconds here."""
        return since.astimezone(self._timezone()).strftime("%Y-%m-%d %H:%M")

    def _search_page(
        self,
        jql: str,
        fields,
        max_results: int = PAGE,
        token: str | None = None,
        reconcile=(),
        api: str = API,
        expand: str | None = None,
    ) -> tuple[list[dict], str | None]:
        """One page of /rest/api/3/search/jql (`api`: or v2's): (issues, the next page's token or None)."""
        params: dict[str, Any] = {
            "jql": jql,
            "fields": ",".join(fields),
            "maxResults": max_results,
            "nextPageToken": token,
            "expand": expand,
        }
        if reconcile:
            params["reconcileIssues"] = ",".join(reconcile)
        page = self._get(f"{api}/search/jql", action="search", **params)
        issues = page.get("issues") or []
        next_token = page.get("nextPageToken")
        if page.get("isLast", next_token is None) or not issues:
            next_token = None
        return issues, next_token

    def _search(self, jql: str, limit: int, check: ListQuery | None = None) -> Iterator[Ticket]:
        """The first `limit` issues the JQL finds that also pass `check` (what JQL cannot say,
        `_checked_here`), page after page until that many matched or the search has no more."""
        fields = self._search_fields()
        token, count = None, 0
        seen: set[str] = set()  # pages can shift when issues change while we read: no id twice
        followed: set[str] = set()
        while True:
            # checked here: whole pages (a page that fills the limit may hold some that fail)
            size = SEARCH_PAGE if check is not None else min(SEARCH_PAGE, limit - count)
            issues, token = self._search_page(jql, fields, max(1, min(size, PAGE)), token)
            fresh = False
            for issue in issues:
                key = _key_of(issue, "key")
                if key in seen:
                    continue
                seen.add(key)
                fresh = True
                ticket = self._ticket_from_issue(issue, fallback=False)
                if check is not None:
                    if check.breaching or check.due_within is not None or check.escalated:
                        self._scan(ticket)
                    if not check.matches(ticket):
                        continue
                if not self._csat_ids():  # no Satisfaction field: its feedback, once it is listed
                    self._rate_of(ticket, None)
                yield ticket
                count += 1
                if count >= limit:
                    return
            if token is None:
                return
            _follow(token, followed, fresh)

    def _scan(self, ticket: Ticket) -> None:
        """One more request a self-filtered listing examines (at most SCAN_MOST, then exit 8
        naming the setting that lets JQL answer); its SLAs read where no SLA field gave them."""
        self._scanned += 1
        if self._scanned > SCAN_MOST:
            raise UnavailableError(
                f"list examined {SCAN_MOST} requests for SLA clocks or escalations and stopped",
                hint="name the site's SLA fields under sla_fields: in the profile (JQL then selects them), "
                "or narrow the listing (--status, --since, --priority)",
            )
        if ticket.sla is None and not self._sla_fields:
            slas = self._read_slas(ticket.id)
            ticket.sla = sla_clocks(slas, self.slas) if slas else None

    def _search_fields(self) -> tuple[str, ...]:
        custom = [f["id"] for f in self._custom_fields().values() if f]
        return (
            *SEARCH_FIELDS,
            *custom,
            *self._mapped_ids(),
            *self._sla_field_ids(),
            *self._link_field(),
            *self._csat_ids(),
        )

    def export(self, since: datetime | None = None, cursor: str | None = None) -> Iterator[ExportItem]:
        """Every request of the service desk with its thread, oldest first, from search pages.

        One `search/jql` (REST v2) page per 100 requests (or as many as the site sends: it may send
        fewer when many fields are asked for) with every field `show` prints, comments included.
        A request is built from its page, exactly as `show` gives it: v2 gives the description and
        comment bodies as wiki text, as the servicedeskapi does; `jsdPublic` says internal; the
        request type, its portal link and the participants come from the site's fields. One more
        call reads a request's comments where its page did not hold them all, or where it has
        files (see `_thread_from_page`). Requests: 2 lookups (the service desk, the field list;
        +1 with `since`, the account's time zone) + ceil(N / 100) pages + 1 per request with
        files or more comments than the page embeds.

        Where the site's field list is not readable (no request type or participants fields to
        ask for), each request is read as `show` reads it instead: 2 calls per request.

        A cursor is (the page's nextPageToken, the position on that page, since): resuming asks
        for that page again and skips what was already exported.

        With --with-history (`export_with_history`) the pages carry each request's changelog too
        (`expand=changelog`), and what `histories` needs is kept from them: no request more,
        except the changelog of a request whose page did not hold all of it (1 per 100 changes),
        and once a run the site's statuses (see `history`).
        """
        if cursor is not None:
            token, done, since_iso = _decode_cursor(cursor)
            since = datetime.fromisoformat(since_iso) if since_iso else None
        else:
            token, done, since_iso = None, -1, to_iso(since) if since else None
        jql = f"project = {jql_string(self._project_key())}"
        if since:
            jql += f" AND updated >= {jql_string(self._jql_time(since))}"
        jql += " ORDER BY created ASC, key ASC"  # stable while requests change during the export
        custom = [f["id"] for f in self._custom_fields().values() if f and f.get("id")]
        from_pages = len(custom) == 2
        extra = (*self._mapped_ids(), *self._sla_field_ids(), *self._link_field(), *self._csat_ids())
        plain = (*EXTRA_FIELDS, *self._mapped_ids(), *self._csat_ids())
        fields = (*EXPORT_FIELDS, *custom, *extra) if from_pages else plain
        since_cut = to_iso(since) if since else None
        seen: set[str] = set()
        followed: set[str] = {token} if token else set()
        with_history = self.export_history and from_pages  # the core's export --with-history
        while True:
            expand = "changelog" if with_history else None
            issues, next_token = self._search_page(jql, fields, PAGE, token, api=API2, expand=expand)
            fresh = False
            for index, issue in enumerate(_array(issues)):
                key = _key_of(issue, "key")
                if key in seen:
                    continue
                seen.add(key)
                fresh = True
                if index <= done:
                    continue
                values = _object(issue.get("fields") or {})
                if _before(service_time(values.get("updated"), SERVICE), since_cut):
                    continue
                if from_pages:
                    ticket = self._ticket_from_issue(issue)
                    raw: list | None = [] if with_history else None
                    ticket.comments = self._thread_from_page(ticket, values, raw)
                    if raw is not None:
                        self._export_records[key] = self._record(key, issue, raw)
                else:
                    ticket = self._with_thread(key, values)
                yield ExportItem(
                    ticket, _encode_cursor(token, index, since_iso), ticket_id=key, updated_at=ticket.updated_at
                )
            if next_token is None:
                return
            _follow(next_token, followed, fresh)
            token, done = next_token, -1

    # -- history --------------------------------------------------------------------------

    def history(self, ticket_id: str) -> list[HistoryEvent]:
        """The request's creation (by its reporter), its changelog and its comments, oldest first.

        One request: the issue (REST v2) with its changelog (`expand=changelog`) and comments;
        more only where that answer does not hold them all (the changelog endpoint, 100 changes a
        page, the most it allows; the comments, 100 a page); once a run, the site's field list
        where the changelog changes a mapped field (its kind), and the site's statuses (GET
        /status: their categories) where a status the changelog names is in no list of the
        profile and was not seen as a current status; +1 per 50 people a change names by id
        (assignee, reporter, participants) whose emails the run has not seen (GET /user/bulk).
        A customer account, which cannot read the platform issue (403), gets the request (its
        reporter and creation), its status history and its comments: 4 requests.
        """
        key = _issue_key(ticket_id)
        record = self._history_record(key)
        self._resolve(self._accounts_named([record]))
        return self._events(record)

    def histories(self, ticket_ids: list[str]) -> dict[str, list[HistoryEvent]]:
        """The histories of an export's requests from what its pages held (see `export`); a
        request it did not keep (read one by one where the site's field list is not readable)
        costs what `history` does."""
        result: dict[str, list[HistoryEvent]] = {}
        kept: dict[str, _Record] = {}
        for ticket_id in ticket_ids:
            key = _issue_key(ticket_id)
            record = self._export_records.pop(key, None)
            if record is None:
                result[ticket_id] = self.history(key)
                continue
            if record.changelog is None:
                record.changelog = self._changelog(key)
            kept[ticket_id] = record
        self._resolve(self._accounts_named(list(kept.values())))  # the people of the chunk at once
        result.update({ticket_id: self._events(record) for ticket_id, record in kept.items()})
        return result

    def _history_record(self, key: str) -> _Record:
        if not self._platform_denied:
            participants = (self._custom or {}).get("participants") or {}  # its people's emails, if known
            wanted = [
                *HISTORY_FIELDS,
                *([participants["id"]] if participants.get("id") else []),
                *self._link_field(),
            ]
            try:
                issue = self._get(
                    f"{API2}/issue/{_seg(key)}",
                    action="read the history",
                    ticket=key,
                    fields=",".join(wanted),
                    expand="changelog",
                )
            except AuthError as exc:
                if exc.status != 403:
                    raise
                self._platform_denied = True  # a customer: the servicedeskapi's history
            except NotFoundError:
                pass  # hidden from the platform, perhaps: the servicedeskapi says whether it exists
            else:
                fields = _object(issue.get("fields") or {})
                page = fields.get("comment")
                comments = _array(page["comments"]) if isinstance(page, dict) and _holds_every_comment(page) else None
                if comments is None:
                    comments = list(
                        self._paged(f"{SD}/request/{_seg(key)}/comment", action="read the comments", ticket=key)
                    )
                record = self._record(key, issue, comments)
                if record.changelog is None:
                    record.changelog = self._changelog(key)
                return record
        request = self._get(f"{SD}/request/{_seg(key)}", action="read the request", ticket=key)
        statuses = list(self._paged(f"{SD}/request/{_seg(key)}/status", action="read the status history", ticket=key))
        comments = list(
            self._paged(
                f"{SD}/request/{_seg(key)}/comment", action="read the comments", ticket=key, expand="attachment"
            )
        )
        values = {v.get("fieldId"): v.get("value") for v in _array(request.get("requestFieldValues") or [])}
        created = request.get("createdDate") if isinstance(request.get("createdDate"), dict) else None
        return _Record(
            key,
            _date(created),
            _moment(created) or EPOCH,
            _user(request.get("reporter")),
            _history_text(values.get("summary")),
            None,
            comments,
            statuses,
        )

    def _record(self, key: str, issue: dict, comments: list[dict]) -> _Record:
        """A platform issue (with expand=changelog) and its comments as a history's record; its
        changelog None where the issue did not hold all of it (read it with `_changelog`)."""
        fields = _object(issue.get("fields") or {})
        for value in fields.values():  # the people it names (assignee, participants...): their emails
            for user in value if isinstance(value, list) else [value]:
                self._learn(user)
        status = _dict(fields.get("status"))
        category = _dict(status.get("statusCategory")).get("key")
        if isinstance(status.get("name"), str) and isinstance(category, str):
            self._categories[status["name"].lower()] = category.lower()
        page = issue.get("changelog")
        changelog = None
        if isinstance(page, dict) and isinstance(page.get("histories"), list):
            total, start, histories = page.get("total"), page.get("startAt", 0), _array(page["histories"])
            if isinstance(total, int) and not isinstance(total, bool) and start == 0 and len(histories) >= total:
                changelog = histories
        return _Record(
            key,
            service_time(fields.get("created"), SERVICE),
            _moment(fields.get("created")) or EPOCH,
            _user(fields.get("reporter")),
            _history_text(fields.get("summary")),
            changelog,
            comments,
            links=fields.get("issuelinks") if isinstance(fields.get("issuelinks"), list) else None,
        )

    def _changelog(self, key: str) -> list[dict]:
        """Every change of the issue, oldest first: GET .../changelog, 100 a page (the most)."""
        entries: list[dict] = []
        seen: set[str] = set()
        start = 0
        while True:
            page = self._get(
                f"{API}/issue/{_seg(key)}/changelog",
                action="read the changelog",
                ticket=key,
                startAt=start,
                maxResults=CHANGELOG_PAGE,
            )
            values = _array(page.get("values") or [])
            fresh = [v for v in values if _identity(v) not in seen]
            seen.update(_identity(v) for v in fresh)
            entries += fresh
            if page.get("isLast", True) or not values:
                return entries
            if not fresh or len(entries) >= CHANGELOG_MOST:
                raise _endless(f"{API}/issue/{key}/changelog")
            start += len(values)

    def _events(self, record: _Record) -> list[HistoryEvent]:
        """A record as events: "created" first (by the original reporter, with the original
        subject), then the changelog's changes and the comments in the order they happened."""
        for user in [record.reporter, *(c.get("author") for c in record.comments)]:
            self._learn(user)
        entries = []
        for entry in record.changelog or []:
            self._learn(entry.get("author"))
            items = _array(entry.get("items") or [])
            entries.append((_moment(entry.get("created")) or record.moment, entry, items))
        entries.sort(key=lambda e: e[0])
        all_items = [i for _, _, items in entries for i in items]
        reporter = _account(record.reporter)
        first_reporter = next((i for i in all_items if self._item_field(i) == "reporter"), None)
        first_summary = next((i for i in all_items if self._item_field(i) == "summary"), None)
        requester = _account({"accountId": first_reporter.get("from")}) if first_reporter else reporter
        if first_reporter:
            opener = self._known(requester) or _history_text(first_reporter.get("fromString"))
        else:
            opener = self._actor(record.reporter)
        subject = _history_text(first_summary.get("fromString")) if first_summary else record.summary
        events = [HistoryEvent(record.created, "created", opener, "requester", new=subject)]
        timeline: list[tuple[datetime, int, Any]] = [(moment, 1, (entry, items)) for moment, entry, items in entries]
        for comment in record.comments:
            created = comment.get("created")
            moment = _moment(created) or record.moment
            timeline.append((moment, 2, comment))
        if record.statuses is not None:  # no changelog: the status history (newest first)
            previous = None
            for status in reversed(record.statuses):
                name = status.get("status") if isinstance(status.get("status"), str) else None
                category = status.get("statusCategory") if isinstance(status.get("statusCategory"), str) else None
                date_dto = status.get("statusDate") if isinstance(status.get("statusDate"), dict) else None
                if name and category:
                    self._categories[name.lower()] = category.lower()
                if previous is not None:
                    timeline.append((_moment(date_dto) or record.moment, 0, (previous, name, _date(date_dto))))
                previous = name
        timeline.sort(key=lambda t: (t[0], t[1]))
        for _, kind, payload in timeline:
            if kind == 0:
                old, new, at = payload
                detail = {"from": old, "to": new}
                events.append(
                    HistoryEvent(
                        at, "status", None, None, old=self._status_of(old), new=self._status_of(new), detail=detail
                    )
                )
            elif kind == 2:
                events += self._comment_events(payload, requester, with_files=record.changelog is None)
            else:
                entry, items = payload
                author = entry.get("author") if isinstance(entry.get("author"), dict) else None
                at = service_time(entry.get("created"), SERVICE)
                actor, by = self._actor(author), _by(author, requester)
                for item in items:
                    event = self._item_event(item, at, actor, by)
                    if event is not None:
                        events.append(event)
                    if self._item_field(item) == "reporter":
                        requester = _account({"accountId": item.get("to")})
        return events + self._escalation_events(record)

    def _escalation_events(self, record: _Record) -> list[HistoryEvent]:
        """The escalation's steps (its engineering issue: its creation at the first stage, then
        each status change mapped to a stage) as "escalation" events (1 read where linked)."""
        if not self.escalations.configured or record.links is None:
            return []
        eng_key = self.escalations.linked_key(record.links)
        issue = self._eng_issue(eng_key) if eng_key else None
        if issue is None:
            return []
        escalation = self.escalations.escalation(issue)
        fields = _dict(issue.get("fields"))
        detail = {"id": escalation["id"], "reason": _history_text(escalation["reason"]), "eta": escalation["eta"]}
        opener = self._actor(_user(fields.get("reporter")))  # who opened it; the moves' authors are not kept
        events: list[HistoryEvent] = []
        previous = None
        for step in escalation["timeline"]:
            actor = opener if previous is None else None
            events.append(
                HistoryEvent(step["at"], "escalation", actor, "agent", old=previous, new=step["stage"], detail=detail)
            )
            previous = step["stage"]
        return events

    def _comment_events(self, comment: dict, requester: str | None, with_files: bool) -> list[HistoryEvent]:
        """A comment (the platform's or the servicedeskapi's shape) as its event, and where the
        changelog is not read (a customer), an event for each file it brought."""
        author = comment.get("author") if isinstance(comment.get("author"), dict) else None
        created = comment.get("created")
        at = _date(created) if isinstance(created, dict) else service_time(created, SERVICE)
        comment_id = service_id(comment["id"], SERVICE, "comment id") if comment.get("id") is not None else None
        public = comment["public"] if isinstance(comment.get("public"), bool) else comment.get("jsdPublic") is not False
        actor, by = self._actor(author), _by(author, requester)
        events = [HistoryEvent(at, "comment", actor, by, detail={"comment_id": comment_id, "public": public})]
        files = (
            (comment.get("attachments") or {}).get("values") if isinstance(comment.get("attachments"), dict) else None
        )
        for attachment in _array(files or []) if with_files else []:
            name = _history_text(attachment.get("filename"))
            events.append(HistoryEvent(at, "attachment", actor, by, new=name, detail={"comment_id": comment_id}))
        return events

    def _item_field(self, item: dict) -> str:
        """What a changelog item changed, in tixcli's words (field ids first, names for sites
        whose items lack them): status, priority, summary, labels, assignee, reporter,
        attachment, participants, request_type, custom:ID, or other."""
        fid = item.get("fieldId") if isinstance(item.get("fieldId"), str) else None
        name = str(item.get("field") or "").lower()
        for known in ("status", "priority", "summary", "labels", "assignee", "reporter", "attachment"):
            if fid == known or (fid is None and name == known):
                return known
        custom = self._custom or {}
        ids = {k: (f or {}).get("id") for k, f in custom.items()}
        if (fid and fid == ids.get("participants")) or name == "request participants":
            return "participants"
        if (fid and fid == ids.get("request_type")) or name in ("customer request type", "request type"):
            return "request_type"
        if fid in self.fieldmap.names:
            return f"custom:{fid}"
        for field_id, meta in self._field_meta.items():
            if fid is None and name and name == str(meta.get("name") or "").lower():
                return f"custom:{field_id}"
        return "other"

    def _item_event(self, item: dict, at: str | None, actor: str | None, by: str | None) -> HistoryEvent | None:
        """One changelog item as an event (None: nothing a ticket shows changed, such as the
        dedupe label alone)."""
        what = self._item_field(item)
        old_text, new_text = _history_text(item.get("fromString")), _history_text(item.get("toString"))
        raw = {"from": old_text, "to": new_text}
        if what == "status":
            old, new = self._status_of(old_text), self._status_of(new_text)
            return HistoryEvent(at, "status", actor, by, old=old, new=new, detail=raw)
        if what == "priority":
            return HistoryEvent(
                at,
                "priority",
                actor,
                by,
                old=self.priorities.tixcli(old_text),
                new=self.priorities.tixcli(new_text),
                detail=raw,
            )
        if what == "summary":
            return HistoryEvent(at, "subject", actor, by, old=old_text, new=new_text)
        if what == "labels":
            old_tags, new_tags = _split_labels(_words(old_text))[0], _split_labels(_words(new_text))[0]
            if old_tags == new_tags:
                return None  # only the dedupe key's label changed
            return HistoryEvent(at, "tags", actor, by, old=old_tags, new=new_tags)
        if what in ("assignee", "reporter"):
            old = self._known(_account({"accountId": item.get("from")})) or old_text
            new = self._known(_account({"accountId": item.get("to")})) or new_text
            return HistoryEvent(at, "assignee" if what == "assignee" else "requester", actor, by, old=old, new=new)
        if what == "participants":
            old_cc, new_cc = self._people_in(item.get("from"), old_text), self._people_in(item.get("to"), new_text)
            return HistoryEvent(at, "cc", actor, by, old=old_cc, new=new_cc)
        if what == "attachment":
            if item.get("to") is None:
                return HistoryEvent(at, "other", actor, by, old=old_text, detail={"what": "attachment removed"})
            file_id = str(item["to"]) if re.fullmatch(r"[0-9]{1,20}", str(item["to"])) else None
            return HistoryEvent(at, "attachment", actor, by, new=new_text, detail={"attachment_id": file_id})
        if what == "request_type":
            old, new = self.types.type_of(old_text), self.types.type_of(new_text)
            return HistoryEvent(at, "type", actor, by, old=old, new=new, detail=raw)
        if what.startswith("custom:"):
            field_id = what.removeprefix("custom:")
            self._custom_fields()  # the field's kind: read once a run, where a change names a mapped field
            kind = field_kind(self._field_meta[field_id].get("schema")) if field_id in self._field_meta else "text"
            old, new = _change_value(kind, item, "from"), _change_value(kind, item, "to")
            name = self.fieldmap.names[field_id]
            if name == GROUP_FIELD:
                return HistoryEvent(at, "group", actor, by, old=_one(old), new=_one(new))
            return HistoryEvent(at, "field", actor, by, field=name, old=old, new=new)
        return HistoryEvent(
            at, "other", actor, by, old=old_text, new=new_text, detail={"what": _history_text(item.get("field"))}
        )

    def _status_of(self, name: str | None) -> str | None:
        """A status name of the history as a tixcli status: the profile's lists, else its category
        (seen as a current status, or from the site's statuses, read once a run)."""
        if not name:
            return None
        if self.workflow.knows(name):
            return self.workflow.status(name)
        if name.lower() not in self._categories and not self._statuses_read:
            self._statuses_read = True
            try:
                for status in _array(self._call("GET", f"{API}/status", action="list the statuses") or []):
                    category = _dict(status.get("statusCategory"))
                    if isinstance(status.get("name"), str) and isinstance(category.get("key"), str):
                        self._categories.setdefault(status["name"].lower(), category["key"].lower())
            except (AuthError, NotFoundError):
                pass  # unknown categories: such statuses count as open
        return self.workflow.status(name, self._categories.get(name.lower()))

    def _accounts_named(self, records: list[_Record]) -> list[str]:
        """The accounts the records' changes name by id (assignee, reporter, participants)."""
        named: list[str] = []
        for record in records:
            for entry in record.changelog or []:
                for item in _array(entry.get("items") or []):
                    what = self._item_field(item)
                    if what in ("assignee", "reporter", "participants"):
                        named += _ids_in(item.get("from")) + _ids_in(item.get("to"))
        return named

    def _resolve(self, account_ids: list[str]) -> None:
        """Learn the emails of the accounts not seen yet: GET /user/bulk, 50 ids a request (no
        request when every one is known); an account that hides its email keeps its name."""
        wanted = [a for a in dict.fromkeys(account_ids) if a and not self._known(a) and a not in self._looked_up]
        for at in range(0, len(wanted), USERS_BULK):
            batch = [a[:200] for a in wanted[at : at + USERS_BULK]]
            self._looked_up.update(batch)
            try:
                page = self._get(f"{API}/user/bulk", action="look up users", accountId=batch, maxResults=USERS_BULK)
            except (AuthError, NotFoundError, InvalidInputError):
                return  # no permission to browse users: the names the changes show
            for user in _array(page.get("values") or []):
                self._learn(user)

    def _learn(self, user) -> None:
        """Remember the email of an account an answer names (for the people a change names by id)."""
        if (
            isinstance(user, dict)
            and isinstance(user.get("accountId"), str)
            and isinstance(user.get("emailAddress"), str)
        ):
            email = user["emailAddress"].strip().lower()
            if email and len(email) <= 254:
                self._people[user["accountId"]] = email

    def _known(self, account_id: str | None) -> str | None:
        """The email of an account, where this run has seen it."""
        if not account_id:
            return None
        if account_id in self._people:
            return self._people[account_id]
        return next((e for e, a in self._account_ids.items() if a == account_id), None)

    def _actor(self, user: dict | None) -> str | None:
        """Who did it: the email where known, else the name the site shows (an app's, a rule's)."""
        if not isinstance(user, dict):
            return None
        return _email(user) or self._known(_account(user)) or _history_text(user.get("displayName"))

    def _people_in(self, ids, names) -> list[str]:
        """The people of a participants change: emails where known, else the names shown."""
        found = _ids_in(ids)
        shown = [n.strip() for n in names.split(",")] if isinstance(names, str) else []
        people = []
        for i, account_id in enumerate(found):
            fallback = shown[i] if len(shown) == len(found) else account_id
            people.append(self._known(account_id) or fallback[:HISTORY_TEXT])
        return sorted(set(people))

    # -- writes ---------------------------------------------------------------------------

    def create_ticket(self, new: NewTicket) -> Ticket:
        """One POST /request (never repeated after a failure that may have created it).

        What the request type's form lacks (priority, labels) is set by one issue edit after.
        A dedupe key is the label `tixcli-dedupe-KEY` (see `find_by_dedupe_key`).
        """
        label = dedupe_label(new.dedupe_key) if new.dedupe_key else None
        request_type = self._request_type(new.type)
        form = self._form_fields(str(request_type["id"]))
        values: dict = {"summary": new.subject, "description": new.body}
        edit: dict = {}
        labels = list(dict.fromkeys([*new.tags, *([label] if label else [])]))
        if labels:
            if "labels" in form:
                values["labels"] = labels
            else:
                edit["update"] = {"labels": [{"add": x} for x in labels]}
        if new.priority:
            priority = {"name": self.priorities.jira_name(new.priority)}
            if "priority" in form:
                values["priority"] = priority
            else:
                edit.setdefault("fields", {})["priority"] = priority
        custom = {self.fieldmap.ids[name]: value for name, value in new.fields.items() if value is not None}
        if new.group:
            group_id, custom[group_id] = self._group_value(new.group)
        for field_id, value in custom.items():  # on the form: in the create; else the edit after it
            kind = self._kind(field_id)
            if kind in ("option", "options"):
                value = self._checked_options(request_type, field_id, value, on_form=field_id in form)
            if field_id in form:
                values[field_id] = wire_value(kind, value, adf=False)
            else:
                edit.setdefault("fields", {})[field_id] = wire_value(kind, value)
        assignee = getattr(new, "assignee", None)  # NewTicket.assignee: `create --assignee`
        if assignee:  # not a field of the request form: an issue edit after the create
            edit.setdefault("fields", {})["assignee"] = {"accountId": self._account_id(assignee)}
        body: dict = {
            "serviceDeskId": self._desk_id(),
            "requestTypeId": str(request_type["id"]),
            "requestFieldValues": values,
        }
        if new.requester and new.requester.lower() != self.email:
            body["raiseOnBehalfOf"] = self._account_id(new.requester)
        if new.cc:
            body["requestParticipants"] = [self._account_id(e) for e in new.cc]
        try:
            created = self._call("POST", f"{SD}/request", action="create the request", json=body, retry_safe=False)
        except InvalidInputError as exc:
            raise self._field_refusal(exc) from None
        except UnavailableError as exc:
            # The request may have been made before the answer was lost: a blind rerun could
            # make a second one, so say how to rerun safely.
            raise UnavailableError(
                exc.message, hint="the request may exist already: look before retrying, or create with --dedupe-key"
            ) from None
        key = _key_of(created, "issueKey")  # it goes into the URL paths below
        if created.get("issueId"):
            self._created_ids.append(str(created["issueId"]))
        if edit:
            try:
                self._call(  # idempotent
                    "PUT",
                    f"{API}/issue/{_seg(key)}",
                    action="set priority, labels, assignee and fields",
                    ticket=key,
                    json=edit,
                    retry_safe=True,
                )
            except InvalidInputError as exc:
                note = f" ({key} was created without them: tixcli edit {key} sets them)"
                raise self._field_refusal(exc, note) from None
        if new.attachments:
            self._attach(key, new.attachments, public=True, comment=None)
        return self._load(key)

    def find_by_dedupe_key(self, key: str) -> list[str]:
        """The non-closed requests carrying the key's label, oldest first (a closed one is final).

        Best-effort: the search index lags, so creates with the same key from two runs at the
        same moment can both create a request; the requests this run created are passed in
        `reconcileIssues`, so search sees them at once.
        """
        label = dedupe_label(key)
        jql = f"project = {jql_string(self._project_key())} AND labels = {jql_string(label)}"
        closed = self.workflow.status_names.get("closed")
        if closed:
            jql += f" AND status not in ({jql_list(closed)})"
        jql += " ORDER BY created ASC, key ASC"
        issues, _ = self._search_page(jql, ("status",), 20, reconcile=self._created_ids[-50:])
        found = []
        for issue in issues:
            status = (issue.get("fields") or {}).get("status") or {}
            category = (status.get("statusCategory") or {}).get("key")
            if self.workflow.status(status.get("name"), category) != "closed":  # the index may lag
                found.append(_key_of(issue, "key"))
        return found

    def add_comment(self, ticket_id: str, reply: Reply, status: str) -> Ticket:
        """Comment, then hold the request to `status` (the core's choice).

        When `status` is not the current one, the transition to it is picked before anything is
        sent: one this workflow lacks from here is refused (exit 5) and no comment is posted.
        Site automation moves a request when someone comments (an agent's comment to "Waiting for
        customer", a customer's back); the status is re-read after the comment and, where it is
        not `status`, set with a transition (reopen, back to support, respond to customer).
        """
        return self._comment_and_hold(
            _issue_key(ticket_id), reply, status, move=reply.public or reply.status is not None
        )

    def _comment_and_hold(self, key: str, reply: Reply, status: str, move: bool) -> Ticket:
        """`add_comment`'s flow; `move`: bring the request to `status` after the comment even when
        it is internal (set_status), else an internal note alone leaves the status to the site."""
        known = self._state_for_write(key)
        planned = None
        if status != known.status:
            if not self.workflow.reachable(status):
                raise RefusedError(
                    f"ticket {key}: this JSM workflow has no {status!r} status",
                    hint=f"name it under statuses.{status} (and its transition under transitions.{status})",
                )
            planned = self.workflow.pick(VERB_FOR[status], key, self._available(known))
        account_ids = [self._account_id(e) for e in reply.cc]
        if reply.attachments:
            self._attach(key, reply.attachments, reply.public, reply.body)
        else:
            comment = {"body": reply.body, "public": reply.public}
            self._call("POST", f"{SD}/request/{_seg(key)}/comment", action="comment", ticket=key, json=comment)
        if account_ids:
            path = f"{SD}/request/{_seg(key)}/participant"
            self._call("POST", path, action="add participants", ticket=key, json={"accountIds": account_ids})
        ticket, _, available = self._load_request(key, transitions=True, rating="known")
        if ticket.status == status or not move:
            return ticket  # an internal note on its own leaves the status to the site
        if planned is None or ticket.raw_status != known.raw_status:  # automation moved it elsewhere
            available = available if available is not None else self._transitions(key)
            planned = self.workflow.pick(VERB_FOR[status], key, available)
        self._perform(key, planned)
        return self._load(key)

    def set_status(self, ticket_id: str, status: str, comment: Reply | None = None) -> Ticket:
        """Solve, close or reopen ("open") with the workflow's transition (`transitions:` in the
        profile: solve, close, reopen).

        Without a comment: the transition, then the request read back (4 requests with `state`).
        With one: as `add_comment` — the transition picked before anything is sent, the comment
        (public or internal, its files in the same comment, its CCs added), the status re-read
        (a site rule may have moved it already, e.g. reopen on comment), then the transition
        from where it is (7 requests; +1 per file, +1 with CCs, +1 per new email).
        """
        key = _issue_key(ticket_id)
        if comment is not None:
            return self._comment_and_hold(key, comment, status, move=True)
        known = self._state_for_write(key)
        transition = self.workflow.pick(VERB_FOR[status], key, self._available(known))
        self._perform(key, transition)
        return self._load(key)

    def update_fields(self, ticket_id: str, fields: dict[str, Any]) -> Ticket:
        """One issue edit (PUT /rest/api/3/issue/KEY) of the fields named, then the request read
        back: subject → summary, priority (the profile's `priorities:`), assignee and requester
        (reporter) by accountId (user search by email; assignee None unassigns), tags → label
        changes relative to the labels last read (the dedupe label is never touched, and labels
        someone else set meanwhile stay), type → the site's request type field (the request type
        id), only to a request type of the request's own issue type: JSM changes another issue
        type only by moving the issue (exit 6, before anything is sent); custom fields by their
        ids (`fields:` in the profile), each as its schema takes it; group → the field the profile
        maps as `group` (without one the core refuses --group: no "groups" capability).

        A refusal for lack of permission (HTTP 403, or the reporter field missing from the edit
        screen, Jira's answer without the Modify Reporter permission) is exit 7 naming the fields.
        """
        key = _issue_key(ticket_id)
        body: dict[str, Any] = {}
        values: dict[str, Any] = {}
        custom = {self.fieldmap.ids[name]: value for name, value in (fields.get("fields") or {}).items()}
        if "group" in fields:
            group_id, custom[group_id] = self._group_value(fields["group"])
        request_type = self._read.get(key, ([], {}))[1]  # what the core's read before the edit said
        for field_id, value in custom.items():  # only the changed ones; None clears
            kind = self._kind(field_id)
            if kind in ("option", "options") and value is not None and request_type.get("issueTypeId"):
                value = self._checked_options(request_type, field_id, value, on_form=False)
            values[field_id] = wire_value(kind, value)
        if "subject" in fields:
            values["summary"] = fields["subject"]
        if "priority" in fields:
            name = self.priorities.jira_name(fields["priority"])
            if name is None:
                raise ConfigError(
                    f"no JSM priority is mapped to {fields['priority']!r}",
                    hint="map it under priorities: in the profile",
                )
            values["priority"] = {"name": name}
        if "assignee" in fields:
            email = fields["assignee"]
            values["assignee"] = {"accountId": self._account_id(email)} if email else None
        if "requester" in fields:
            values["reporter"] = {"accountId": self._account_id(fields["requester"])}
        if "type" in fields:
            field_id, type_id = self._request_type_change(key, fields["type"])
            values[field_id] = type_id
        if "tags" in fields:
            changes = self._label_changes(key, list(fields["tags"]))
            if changes:
                body["update"] = {"labels": changes}
        if values:
            body["fields"] = values
        if body:
            named = list(fields)  # tixcli's names: subject, priority, type, requester, assignee, tags
            try:
                self._call(
                    "PUT",
                    f"{API}/issue/{_seg(key)}",
                    action="edit the request",
                    ticket=key,
                    json=body,
                    retry_safe=True,  # setting the same values again changes nothing
                )
            except AuthError as exc:
                if exc.status != 403:
                    raise
                raise AuthError(
                    f"{SERVICE} refused to change the {', '.join(named)} of {key}: no permission (HTTP 403)",
                    hint="editing needs the Edit Issues permission (the assignee: Assign Issues; the "
                    "requester: Modify Reporter) on the service project",
                    status=403,
                ) from None
            except InvalidInputError as exc:
                if "reporter" in values and "reporter:" in exc.message and "cannot be set" in exc.message:
                    raise AuthError(
                        f"{SERVICE} refused to change the requester of {key}: the reporter field cannot be set "
                        "by this account",
                        hint="changing the requester needs the Modify Reporter permission (and the "
                        "Reporter field on the edit screen)",
                    ) from None
                raise self._field_refusal(exc) from None
        return self._load(key)

    def _request_type_change(self, key: str, type_: str) -> tuple[str, str]:
        """(the request type field's id, the new request type's id), or exit 6 naming JSM."""
        wanted = self._request_type(type_)
        field = self._custom_fields()["request_type"]
        if not field or not field.get("id"):
            raise InvalidInputError(
                f"{SERVICE}: this account cannot see the site's request type field, so the type of {key} "
                "cannot be changed here",
                hint="change the request type in Jira",
            )
        current = self._read.get(key, ([], {}))[1] or self._load_request(key, rating="none")[1].get("requestType") or {}
        if str(wanted.get("issueTypeId")) != str(current.get("issueTypeId")):
            raise InvalidInputError(
                f"{SERVICE} changes a request's type only to a request type of the same issue type: "
                f"request type {wanted.get('name')!r} is of another issue type than {key}'s "
                f"{current.get('name')!r}",
                hint="move the issue to the other issue type in Jira, or map the type to a request type "
                "of the same issue type under request_types:",
            )
        return str(field["id"]), str(wanted["id"])

    def _label_changes(self, key: str, tags: list[str]) -> list[dict[str, str]]:
        """Label add/remove operations turning the tags last read into `tags` (the dedupe label kept)."""
        reserved = [t for t in tags if dedupe_key_of(t) is not None]
        if reserved:
            raise InvalidInputError(
                f"the tag {reserved[0]!r} is reserved on {SERVICE}: labels starting with tixcli-dedupe- "
                "carry the dedupe key"
            )
        if key not in self._read:
            self._load_request(key, rating="none")
        current = [x for x in self._read[key][0] if dedupe_key_of(x) is None]
        changes = [{"remove": x} for x in current if x not in tags]
        return changes + [{"add": x} for x in tags if x not in current]

    def attachment_bytes(self, ticket_id: str, attachment: Attachment) -> Iterator[bytes]:
        """GET /rest/api/3/attachment/content/ID?redirect=false: the bytes from the site itself, at
        most the attachment's size (else `max_response_bytes`). Live Jira redirects to its media
        host without `redirect=false`; HttpClient.download follows a redirect to another host only
        over https and without the credentials (the site's media links carry their own token)."""
        _issue_key(ticket_id)
        attachment_id = service_id(attachment.id, SERVICE, "attachment id") if attachment.id else None
        if attachment_id is None:
            raise NotFoundError(f"ticket {ticket_id}: the attachment {attachment.filename!r} has no id to download")
        limit = attachment.size if attachment.size is not None else self.http.max_response_bytes
        return self.http.download(f"{API}/attachment/content/{attachment_id}?redirect=false", limit)

    def _transitions(self, key: str) -> list[Transition]:
        """The workflow's transitions with their fields (agents), else the portal's (customers)."""
        if not self._platform_denied:
            try:
                data = self._get(
                    f"{API}/issue/{_seg(key)}/transitions",
                    action="read the transitions",
                    ticket=key,
                    expand="transitions.fields",
                )
            except AuthError as exc:
                if exc.status != 403:
                    raise
                self._platform_denied = True  # a customer: the portal's transitions
            else:
                return _platform_transitions(data, endpoint=True) or []
        return [
            Transition(str(_need(t, "id")), str(t.get("name", "")))
            for t in self._paged(f"{SD}/request/{_seg(key)}/transition", action="read the transitions", ticket=key)
        ]

    def _perform(self, key: str, transition: Transition) -> None:
        """Make the transition (a comment goes before it, in `_comment_and_hold`)."""
        if not transition.platform:
            body: dict = {"id": transition.id}
            self._call(
                "POST", f"{SD}/request/{_seg(key)}/transition", action="make the transition", ticket=key, json=body
            )
            return
        if not transition.fields_known:  # the issue's answer left out the screen: read it
            transition = next((t for t in self._transitions(key) if t.id == transition.id), transition)
        body = {"transition": {"id": transition.id}}
        fields = self.workflow.resolution_field(transition)
        if fields:
            body["fields"] = fields
        self._call("POST", f"{API}/issue/{_seg(key)}/transitions", action="make the transition", ticket=key, json=body)

    def change_cc(self, ticket_id: str, add: list[str], remove: list[str]) -> list[str]:
        """Add and remove participants; the answer to the last change lists them (first page)."""
        key = _issue_key(ticket_id)
        path = f"{SD}/request/{_seg(key)}/participant"
        page = None
        if add:  # adding a participant twice changes nothing
            ids = [self._account_id(e) for e in add]
            page = self._call("POST", path, action="add participants", ticket=key, json={"accountIds": ids})
        if remove:
            ids = [self._account_id(e) for e in remove]
            page = self._call("DELETE", path, action="remove participants", ticket=key, json={"accountIds": ids})
        if not isinstance(page, dict) or not page.get("isLastPage", True):
            return self.list_cc(key)  # more than one page of them: read the list
        return sorted({e for e in map(_email, _array(page.get("values") or [])) if e})

    def list_cc(self, ticket_id: str) -> list[str]:
        """The participants, from their own list (one request for up to 100)."""
        key = _issue_key(ticket_id)
        users = self._paged(f"{SD}/request/{_seg(key)}/participant", action="list participants", ticket=key)
        return sorted({e for e in map(_email, users) if e})

    def _attach(self, key: str, files: list[FileUpload], public: bool, comment: str | None) -> None:
        """Upload each file to the desk's temporary store, then attach them in one comment."""
        temp_ids = []
        for upload in files:
            data = upload.read()
            answer = self._call(
                "POST",
                f"{SD}/servicedesk/{self._desk_id()}/attachTemporaryFile",
                action="upload a file",
                files={"file": (upload.filename, data, upload.content_type)},
                # No JSON content type (requests writes the multipart one); the XSRF opt-out.
                headers={"Content-Type": None, "X-Atlassian-Token": "no-check"},
                retry_safe=True,  # an unused temporary file expires by itself
            )
            temp_ids += [_need(t, "temporaryAttachmentId") for t in (answer or {}).get("temporaryAttachments") or []]
        body: dict = {"temporaryAttachmentIds": temp_ids, "public": public}
        if comment:
            body["additionalComment"] = {"body": comment}
        self._call("POST", f"{SD}/request/{_seg(key)}/attachment", action="attach files", ticket=key, json=body)

    # -- mapping --------------------------------------------------------------------------

    def _ticket_from_request(self, request: dict, fields: dict | None) -> Ticket:
        """A servicedeskapi request (+ platform fields where readable) → Ticket."""
        values = {v.get("fieldId"): v.get("value") for v in request.get("requestFieldValues") or []}
        status = request.get("currentStatus") or {}
        type_name = (request.get("requestType") or {}).get("name")
        fields = fields or {}
        participants = (request.get("participants") or {}).get("values") or []
        key = _key_of(request, "issueKey")
        return self._ticket(
            key,
            fields,
            subject=values.get("summary"),
            description=values.get("description"),
            status=(status.get("status"), status.get("statusCategory")),
            request_type=(type_name, request.get("requestTypeId")),
            requester=_email(request.get("reporter")),
            cc=participants,
            created_at=_date(request.get("createdDate")),
            url=(request.get("_links") or {}).get("web"),
            form=values,
        )

    def _ticket_from_issue(self, issue: dict, fallback: bool = True) -> Ticket:
        """A search result (platform issue with the request type, participants, SLA and
        Satisfaction fields and its links) → Ticket, with its rating (from its Satisfaction
        field: no request; where the site has none, GET feedback unless `fallback` is False:
        read after a check, `_rate_of`)."""
        fields = issue.get("fields") or {}
        ticket = self._plain_ticket_from_issue(issue)
        links = fields.get("issuelinks") if self.escalations.configured else None
        ticket.sla = sla_clocks(slas, self.slas) if (slas := self._issue_slas(fields)) else None
        if links is not None:
            ticket.escalation = self._escalation(ticket.id, links)
        # a search asks for the Satisfaction fields wherever the field list named them
        self._rate_of(ticket, fields if self._csat_ids() else None, fallback)
        return ticket

    def _rate_of(self, ticket: Ticket, fields: dict | None, fallback: bool = True) -> None:
        """The rating of a solved or closed request (none otherwise, as JSM asks for feedback
        once a request is resolved): from the issue's Satisfaction fields, in `fields` where they
        were asked for (no request); else, with `fallback` (the site's field list not readable,
        no Satisfaction field on the site, or the platform issue not readable), GET feedback:
        1 request. One source for show, list and export alike on a site: export equals show."""
        if ticket.status not in RATED:
            return
        if fields is not None and "rating" in self._csat:
            ticket.satisfaction = csat_satisfaction(
                fields.get(self._csat["rating"]), fields.get(self._csat.get("date", ""))
            )
        elif fallback:
            ticket.satisfaction = self._feedback(ticket.id)

    def _plain_ticket_from_issue(self, issue: dict) -> Ticket:
        fields = issue.get("fields") or {}
        status = fields.get("status") or {}
        custom = {k: (f or {}).get("id") for k, f in self._custom_fields().items()}
        origin = fields.get(custom["request_type"]) or {} if custom["request_type"] else {}
        request_type = origin.get("requestType") or {}
        return self._ticket(
            _key_of(issue, "key"),
            fields,
            subject=fields.get("summary"),
            description=fields.get("description"),
            status=(status.get("name"), (status.get("statusCategory") or {}).get("key")),
            request_type=(request_type.get("name"), request_type.get("id")),
            requester=_email(fields.get("reporter")),
            cc=fields.get(custom["participants"]) or [] if custom["participants"] else [],
            created_at=service_time(fields.get("created"), SERVICE),
            url=(origin.get("_links") or {}).get("web"),
        )

    def _ticket(
        self, key, fields, *, subject, description, status, request_type, requester, cc, created_at, url, form=None
    ):
        tags, external_id = _split_labels(fields.get("labels") or [])
        custom, group = self._custom_values(fields, form)
        if isinstance(status[0], str) and isinstance(status[1], str):
            self._categories[status[0].lower()] = status[1].lower()  # what history needs to know
        return Ticket(
            id=key,
            backend=self.name,
            subject=str(subject or ""),
            description=_text(description),
            status=self.workflow.status(*status),
            raw_status=status[0],
            priority=self.priorities.tixcli((fields.get("priority") or {}).get("name")),
            type=self.types.type_of(*request_type),
            raw_type=request_type[0],
            requester=requester,
            assignee=_email(fields.get("assignee")),
            group=group,
            cc=sorted({e for e in map(_email, cc) if e}),
            tags=tags,
            fields=custom,
            external_id=external_id,
            created_at=created_at,
            updated_at=service_time(fields.get("updated"), SERVICE),
            solved_at=service_time(fields.get("resolutiondate"), SERVICE),
            url=url or f"{self.url}/servicedesk/customer/portal/{self._portal_id()}/{key}",
        )

    def _portal_id(self) -> str:
        return self.desk_setting if self.desk_is_id else str((self._desk or {}).get("id") or "")


# -- helpers ------------------------------------------------------------------------------


def _platform_transitions(answer: dict, endpoint: bool = False) -> list[Transition] | None:
    """The `transitions` of a platform answer: the transitions endpoint's (`endpoint`), or an
    expanded issue's (None when the issue came without them: read them on demand)."""
    if not endpoint and "transitions" not in answer:
        return None
    result = []
    for t in _array(answer.get("transitions") or []):
        to = t.get("to") or {}
        result.append(
            Transition(
                id=str(_need(t, "id")),
                name=str(t.get("name", "")),
                to_name=to.get("name"),
                to_category=(to.get("statusCategory") or {}).get("key"),
                fields=t.get("fields") or {},
                platform=True,
                fields_known=endpoint or "fields" in t,
            )
        )
    return result


def _need(answer: dict, key: str):
    """A value the service must send: its absence is a malformed answer (exit 8), not a bug."""
    return need(answer, key, SERVICE)


def _seg(key: str) -> str:
    """An issue key (already checked) as one URL path segment."""
    return quote(key, safe="")


def _key_of(answer: dict, name: str) -> str:
    """An issue key the service sent (it goes into URL paths): PROJECT-123, else exit 8."""
    return service_key(_need(answer, name), SERVICE)


def _identity(value: dict) -> str:
    """What tells two values of a list apart: their id, else their whole content."""
    for name in ("id", "accountId", "issueKey"):
        if value.get(name) is not None:
            return f"{name}:{value[name]}"
    return json.dumps(value, sort_keys=True, default=str)


def _endless(path: str) -> UnavailableError:
    return UnavailableError(f"{SERVICE} sent page after page with nothing new ({path}); stopped reading")


def _follow(token: str, followed: set[str], fresh: bool) -> None:
    """Check a search's next page token before following it: a token already followed, or one
    after a page with nothing new, would page forever (exit 8)."""
    if token in followed or not fresh:
        raise _endless(f"{API}/search/jql")
    followed.add(token)


def _object(answer) -> dict:
    return json_object(answer, SERVICE)


def _array(answer) -> list[dict]:
    return json_array(answer, SERVICE)


def _issue_key(ticket_id: str) -> str:
    """The issue key a user typed (any case), or not found: only ASCII letters and digits count."""
    key = str(ticket_id).strip()
    if not (key.isascii() and ISSUE_KEY.fullmatch(key.upper())):
        raise NotFoundError(f"ticket {ticket_id!r} not found", hint="JSM ticket ids are issue keys like SUP-12")
    return key.upper()


def _request_status(statuses: tuple[str, ...] | None) -> str | None:
    """The /request `requestStatus` selecting exactly these tixcli statuses, if there is one."""
    wanted = set(statuses) if statuses is not None else None
    if wanted is None or wanted >= set(STATUSES):
        return "ALL_REQUESTS"
    if wanted == set(ACTIVE_STATUSES):
        return "OPEN_REQUESTS"  # JSM: not in the DONE category
    if wanted == {"solved", "closed"}:
        return "CLOSED_REQUESTS"
    return None


def _checked_here(query: ListQuery) -> ListQuery | None:
    """The filters of a `list` query its JQL says only in part, as a query of them alone, to check
    each issue with `ListQuery.matches` (the core's rule); None when the JQL says everything.

    JQL compares `updated` and `created` in whole minutes (the clause names the minute the bound
    falls in): the seconds are checked here. Tags are checked again too: a label is a tag only
    where it is not the dedupe key's (`_split_labels`); and custom fields and the group, as JQL
    matches text by its words (`~`), not the whole value. SLA clocks (`--breaching`,
    `--due-within`: JQL's remaining() counts minutes, or the profile names no SLA fields) and
    open escalations (the linked issue's status) are checked here too."""
    sla_or_escalation = query.breaching or query.due_within is not None or query.escalated
    if not (query.since or query.created_since or query.tags or query.fields or query.group is not None):
        if not sla_or_escalation:
            return None
    return ListQuery(
        user=query.user,
        statuses=None,
        tags=query.tags,
        since=query.since,
        created_since=query.created_since,
        fields=query.fields,
        group=query.group,
        breaching=query.breaching,
        due_within=query.due_within,
        escalated=query.escalated,
    )


def _before(updated_at: str | None, since_cut: str | None) -> bool:
    """Updated before `since` (JQL compares whole minutes: the seconds are filtered here)."""
    return bool(since_cut and updated_at and updated_at < since_cut)


def _email(user: dict | None) -> str | None:
    email = (user or {}).get("emailAddress")
    return str(email).lower() if email else None


def _date(value: dict | None) -> str | None:
    """A servicedeskapi DateDTO → ISO 8601 UTC."""
    if not value:
        return None
    if value.get("epochMillis") is not None:
        return service_time(value["epochMillis"], SERVICE, epoch_divisor=1000)
    return service_time(value.get("iso8601") or value.get("jira"), SERVICE)


def _text(value) -> str | None:
    """A description: wiki text as is, or the plain text of an Atlassian Document (REST v3)."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return str(value)
    kind = value.get("type")
    if kind == "text":
        return value.get("text", "")
    if kind == "hardBreak":
        return "\n"
    parts = [_text(child) or "" for child in value.get("content") or []]
    return ("\n\n" if kind == "doc" else "").join(parts)


def _comment(c: dict) -> Comment:
    attachments = [_attachment(a) for a in (c.get("attachments") or {}).get("values") or []]
    return Comment(
        id=service_id(c["id"], SERVICE, "comment id") if c.get("id") is not None else None,
        author=_email(c.get("author")),
        body=_strip_attachment_links(str(c.get("body") or ""), attachments),
        public=bool(c.get("public", True)),
        created_at=_date(c.get("created")),
        attachments=attachments,
    )


def _platform_comment(c: dict) -> Comment:
    """A comment embedded in a v2 search result (wiki text; `jsdPublic` false: internal) → Comment,
    as `_comment` maps the servicedeskapi's (no files: a request with files is read there)."""
    return Comment(
        id=service_id(c["id"], SERVICE, "comment id") if c.get("id") is not None else None,
        author=_email(c.get("author")),
        body=_text(c.get("body")) or "",
        public=c.get("jsdPublic") is not False,
        created_at=service_time(c.get("created"), SERVICE),
        attachments=[],
    )


def _holds_every_comment(page: dict) -> bool:
    """Whether a search result's `comment` field holds the whole thread: Jira embeds a limited
    number (`total` says how many there are)."""
    if not isinstance(page.get("comments"), list):
        return False
    total, start = page.get("total"), page.get("startAt", 0)
    if not isinstance(total, int) or isinstance(total, bool):
        return False
    return start == 0 and len(page["comments"]) >= total


def _with_opening(ticket: Ticket, comments: list[Comment], attachments: list[Attachment]) -> list[Comment]:
    """The thread: the description as the first comment, then `comments`.

    Files attached at create arrive as comments with nothing but the files: they belong to the
    opening message, with any file of the request (`attachments`) no comment carries, in the order
    the site numbered them (the servicedeskapi and the platform list them apart).
    """
    opening: list[Attachment] = []
    while comments and not comments[0].body and comments[0].attachments:
        opening.extend(comments.pop(0).attachments)
    on_comments = {(a.filename, a.size) for c in comments for a in c.attachments}
    seen = {(a.filename, a.size) for a in opening}
    rest = [a for a in attachments if (a.filename, a.size) not in on_comments | seen]
    opening += sorted(rest, key=lambda a: (a.id is None, int(a.id) if a.id else 0))
    first = Comment(None, ticket.requester, ticket.description or "", True, ticket.created_at, opening)
    return [first, *comments]


def _strip_attachment_links(body: str, attachments: list[Attachment]) -> str:
    """JSM appends wiki links to a comment's files (`!a.png|thumbnail! [^b.log] _(2 kB)_`): drop them.

    What goes is the tail of the body made of such links (each optionally followed by a size
    note) and whitespace. The tail is matched on the reversed body with a pattern anchored
    at its start, so the work is linear in the body: a pattern ending in `$` searched forwards
    is tried at every position of a long run of spaces (seconds for 32,000 of them).
    """
    if not attachments:
        return body
    # The reverse of (?:\s*LINK(?:\s*NOTE)?)+\s*$ where LINK is !NAME! or !NAME|params! or [^NAME]
    # and NOTE is _(size)_; names are reversed before they are escaped, the longest tried first.
    reversed_names = sorted({a.filename[::-1] for a in attachments}, key=len, reverse=True)
    names = "|".join(map(re.escape, reversed_names))
    link = rf"(?:_\)[^)\n]*\(_\s*)?(?:!(?:[^!\n]*\|)?(?:{names})!|\](?:{names})\^\[)"
    tail = re.match(rf"\s*(?:{link}\s*)+", body[::-1])
    return body[: len(body) - tail.end()] if tail else body


def _attachment(a: dict) -> Attachment:
    """A servicedeskapi AttachmentDTO or a platform attachment → Attachment (id from the link)."""
    link = a.get("content") or (a.get("_links") or {}).get("content") or ""
    m = re.search(r"/attachment/(?:content/)?([0-9]{1,20})(?![0-9])", str(link))
    return Attachment(
        id=service_id(a["id"], SERVICE, "attachment id") if a.get("id") else (m.group(1) if m else None),
        filename=str(a.get("filename") or ""),
        size=a.get("size"),
        content_type=a.get("mimeType"),
    )


def _moment(value) -> datetime | None:
    """A time of an answer to the millisecond (a Jira time, or a servicedeskapi DateDTO), for
    the order of a history's events; None where it is absent or malformed (service_time, which
    gives the event's time, refuses a malformed one)."""
    try:
        if isinstance(value, dict):
            millis = value.get("epochMillis")
            if isinstance(millis, int | float) and not isinstance(millis, bool):
                return EPOCH + timedelta(milliseconds=millis)
            value = value.get("iso8601") or value.get("jira")
        if isinstance(value, str) and value:
            return parse_iso(value)
    except (InvalidInputError, OverflowError, ValueError):
        return None
    return None


def _ids_in(text) -> list[str]:
    """The account ids of a changelog item's from/to ("id", or "[id1, id2]" for participants)."""
    return re.findall(r"[^\s,\[\]]+", text)[:HISTORY_ITEMS] if isinstance(text, str) else []


def _user(value) -> dict | None:
    return value if isinstance(value, dict) else None


def _dict(value) -> dict:
    """An object of an answer where one is expected, else {} (what is not there says nothing)."""
    return value if isinstance(value, dict) else {}


def _account(user) -> str | None:
    """The accountId of a user object (bounded text), or None."""
    account_id = user.get("accountId") if isinstance(user, dict) else None
    return account_id[:200] if isinstance(account_id, str) and account_id else None


def _by(user: dict | None, requester: str | None) -> str | None:
    """Who made a change: an app or Jira's automation → automatic; the requester of the time →
    requester; anyone else → agent; nobody named → None."""
    if not isinstance(user, dict) or not user:
        return None
    name = str(user.get("displayName") or "").strip().casefold()
    if user.get("accountType") == "app" or name in AUTOMATION_NAMES:
        return "automatic"
    account_id = _account(user)
    if requester and account_id == requester:
        return "requester"
    return "agent"


def _history_text(value) -> str | None:
    """A value of a history (a name, a change's from/to text), bounded; not text: None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        return None
    return value if len(value) <= HISTORY_TEXT else value[: HISTORY_TEXT - 1] + "…"


def _words(text: str | None) -> list[str]:
    return text.split()[:HISTORY_ITEMS] if text else []


def _one(value):
    return ", ".join(map(str, value)) if isinstance(value, list) else value


def _change_value(kind: str, item: dict, side: str):
    """The old (`side` "from") or new ("to") value of a custom field's change, as Ticket.fields
    holds it: the text Jira shows, split into a list for a multi-select, a number for a number,
    the ISO date (or time) of a date field (its `from`/`to`; the shown text is localised)."""
    text = _history_text(item.get(f"{side}String"))
    if kind in ("date", "datetime"):
        raw = item.get(side)
        value = raw if isinstance(raw, str) and raw else text
        return _read_field(value) if isinstance(value, str) else None
    if text is None:
        return None
    if kind in ("options", "strings"):
        parts = re.split(r"[,\s]+" if kind == "strings" else r",", text.strip("[]"))
        return [p.strip() for p in parts if p.strip()][:HISTORY_ITEMS] or None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return text
        return _read_field(number)
    return text


def _option_labels(values, key: str) -> list[str]:
    """The option values of a field's metadata (`validValues` labels, `allowedValues` values)."""
    if not isinstance(values, list):
        return []
    return [str(v[key])[:HISTORY_TEXT] for v in values[:1000] if isinstance(v, dict) and isinstance(v.get(key), str)]


def _read_field(raw) -> Any:
    """A custom field's value from an answer, as Ticket.fields holds it: text (a paragraph field's
    Atlassian Document as its text), a number (5.0 as 5), an option's value, a list of those (a
    multi-select), a Jira time as ISO; anything else (people, objects it does not know): None.
    Bounded: text to 32,767 characters, lists to ITEMS_MAX values."""
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or abs(raw) > 1e15:
            return None
        return int(raw) if float(raw).is_integer() else raw
    if isinstance(raw, str):
        if JIRA_TIME.fullmatch(raw):
            try:
                return to_iso(raw)
            except InvalidInputError:
                pass
        return raw[:TEXTAREA_MAX] or None
    if isinstance(raw, dict):
        if raw.get("type") == "doc":
            return (_text(raw) or "")[:TEXTAREA_MAX] or None
        value = raw.get("value")
        return value[:TEXTAREA_MAX] if isinstance(value, str) and value else None
    if isinstance(raw, list):
        items = [_read_field(x) for x in raw[:ITEMS_MAX]]
        kept = [x for x in items if isinstance(x, str | int | float) and not isinstance(x, bool)]
        return [str(x) for x in kept] or None
    return None


def _split_labels(labels: list[str]) -> tuple[list[str], str | None]:
    """Labels → (tags, the dedupe key carried by a `tixcli-dedupe-` label)."""
    tags, external_id = [], None
    for label in labels:
        key = dedupe_key_of(label)
        if key is None:
            tags.append(label)
        else:
            external_id = key
    return tags, external_id


def _encode_cursor(token: str | None, index: int, since: str | None) -> str:
    return encode_cursor({"t": token, "i": index, "s": since})


def _decode_cursor(cursor: str) -> tuple[str | None, int, str | None]:
    invalid = InvalidInputError("invalid --cursor", hint="use the token a JSM export printed after resume:")
    data = decode_cursor(cursor, invalid)
    try:
        token, index, since = data["t"], int(data["i"]), data["s"]
        if not all(v is None or isinstance(v, str) for v in (token, since)):
            raise ValueError(cursor)
        if since:
            datetime.fromisoformat(since)
        return token, index, since
    except (ValueError, KeyError, TypeError):
        raise invalid from None
