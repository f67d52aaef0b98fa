"""Zendesk Support, through the zenpy library, normalised to tixcli's ticket model.

Every request goes through one ``HttpClient`` (timeouts, bounded 429 waits, retries of safe
requests, error mapping).  zenpy gets a session whose ``request`` hands each call to that client,
so zenpy's own calls (ticket updates, uploads, users, groups) behave the same and zenpy never sees
a 429 (its own Retry-After loop has no bound).  The calls zenpy cannot make are sent on the
client directly:

- create: zenpy cannot send an ``Idempotency-Key`` header;
- reads that side-load users and groups (one request for a ticket and the people on it), search
  with ``per_page``, comments with cursor paging, ``tickets.json?external_id=`` (zenpy does not
  URL-encode query values) and the incremental export (zenpy stops paging when a page's
  ``end_time`` is recent, i.e. always on a live account's last pages): ``zendesk_export.py``.

zenpy builds ``https://{subdomain}.{domain}``; the profile's host is split that way, and the
session maps the scheme back to http on loopback (tests), without zenpy's process-wide
ZENPY_FORCE_* variables.  zenpy and requests are imported only when a Zendesk profile is used.

History, channel and custom fields (issue 15):

- ``history``: the ticket's audits (List Audits for a Ticket, cursor pages of 100, users
  side-loaded: their roles say agent or requester), each event one HistoryEvent (`_History`).
  What a business rule did carries the rule in its via (``channel: rule``, ``source.from.title``,
  ``rel`` trigger or automation), what the system did author -1: both "automatic". An admin's
  ``export --with-history`` takes the histories from the ticket events the export reads anyway
  (``zendesk_export``), not an audits call a ticket.
- ``channel``: ``via.channel`` mapped onto tixcli's CHANNELS (`channel_of`). The Tickets API takes
  ``via_id`` on create ("write only"), but the Via object reference allows it for "certain via
  types" it does not name and calls setting it "not advisable": tixcli does not set a channel
  (no "set_channel"); ``list --channel`` is checked on each search result (`checked_here`).
- custom fields: the profile's ``fields: {name: ticket field id}``; values converted by each
  field's type from its metadata (Show Many Ticket Fields, once a run, only when needed), sent
  as ``custom_fields: [{id, value}]``, read back by name (absent: None). ``list --field`` is
  checked on each search result, as the Search API reference tixcli could read documents no term
  for a custom field's value.

SLA clocks, escalations and ratings (issue 16):

- ``sla``: the ticket's SLA policy metrics, side-loaded (``include=slas`` on show, show_many, the
  incremental export), mapped by `sla_of`; the search gives none, so ``list --breaching`` and
  ``--due-within`` read each page's tickets with show_many (100 a request) and check them here,
  paging on (the search stops at 1,000 results).
- escalations: a problem ticket the ticket links to (``problem_id``; the ticket becomes an
  incident), the stage and eta as tags on the ticket (``tixcli_escalation_STAGE``,
  ``tixcli_eta_YYYY-MM-DD``), the reason the problem ticket's description, the timeline the
  ticket's audits (`escalation_timeline`).
- ``rate``: Create Ticket Satisfaction Rating, which Zendesk takes from the ticket's requester
  only (an end user): with ``rate_as_requester`` it is sent with the requester's email and the
  API token, else with the profile's credentials (an agent's: 403, exit 7).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from tixcli import __version__
from tixcli.backends.base import ExportItem, TicketList, TicketState
from tixcli.backends.remote import RemoteBackend, bounded, error_body, records, service_id, service_time
from tixcli.config import Profile
from tixcli.errors import (
    AuthError,
    ConfigError,
    InvalidInputError,
    NotFoundError,
    RefusedError,
    TixError,
    UnavailableError,
)
from tixcli.history import HistoryEvent
from tixcli.lifecycle import closed_refusal
from tixcli.model import (
    EDITABLE_FIELDS,
    PRIORITIES,
    STATUSES,
    TYPES,
    Attachment,
    Comment,
    FileUpload,
    ListQuery,
    NewTicket,
    Reply,
    Ticket,
    sort_tickets,
    to_iso,
)

API = "/api/v2"
PAGE_SIZE = 100  # the largest page of tickets, comments, users, search results
SEARCH_PAGE = PAGE_SIZE  # search results a page when tixcli checks filters itself (tests lower it)
SEARCH_MAX = 1000  # the Search API stops after 1,000 results
MAX_COMMENTS = 10_000  # Zendesk caps a ticket's comments at 5,000: more is a hostile or broken answer
INCLUDE = "users,groups,metric_sets,slas"  # side-loads on ticket reads: people, group names, solved_at, SLA
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024  # Zendesk's limit per file: the bound when a size is not known
AUDIT_PAGE = 100  # List Audits for a Ticket: "Returns a maximum of 100 records per page"
MAX_AUDITS = 50_000  # a ticket's audits (one an update): more is a hostile or broken answer
MAX_EVENTS = 2_000  # events in one audit
MAX_FIELD_TEXT = 65_536  # the longest custom field value (text) tixcli reads or sends
MAX_ITEMS = 1_000  # entries of a list value (tags, multi-select options, recipients, CCs)
MAX_OPTIONS = 10_000  # the options of one drop-down or multi-select field
MAX_NAME = 1_000  # a name from the service: an option's, a rule's
MAX_CUSTOM_FIELDS = 10_000  # custom field entries on one ticket
FIELD_TYPES_TEXT = ("text", "textarea", "regexp", "partialcreditcard", "lookup")
#: via.channel (the via types reference's "Ticket created by" and via type names) -> CHANNELS
VIA_CHANNELS = {
    "web": "web", "web_form": "web", "web_widget": "web", "help_center": "web", "dropbox": "web",
    "email": "email", "mail": "email",
    "chat": "chat", "chat_transcript": "chat",
    "native_messaging": "messaging", "messaging": "messaging", "whatsapp": "messaging", "line": "messaging",
    "voice": "phone", "phone": "phone", "voicemail": "phone", "phone_call_inbound": "phone",
    "phone_call_outbound": "phone",
    "api": "api", "web_service": "api",
    "mobile_sdk": "mobile", "mobile": "mobile", "iphone": "mobile",
    "twitter": "social", "twitter_dm": "social", "facebook": "social", "facebook_post": "social",
    "facebook_message": "social", "instagram_dm": "social", "x": "social",
    "sms": "sms", "text_message": "sms",
}  # fmt: skip
#: via ids (the same reference, for a channel given as a number) -> CHANNELS
VIA_IDS = {
    0: "web", 4: "email", 5: "api", 17: "web", 23: "social", 26: "social", 29: "chat", 30: "social",
    33: "phone", 34: "phone", 35: "phone", 38: "social", 41: "social", 44: "phone", 45: "phone", 46: "phone",
}  # fmt: skip
#: the ticket events export names a via (its display name): the channels tixcli needs from it
VIA_DISPLAY = {"rule": "rule", "web form": "web", "mail": "email", "web service": "api", "closed ticket": "web"}
RULE_VIA_ID = 8  # "rule": Trigger, automation
#: SLA policy metrics -> tixcli's (the rest keep their own names); agent_work_time is the
#: resolution where the policy has no full_resolution_time
SLA_METRICS = {"first_reply_time": "first_reply", "full_resolution_time": "resolution"}
MAX_SLA_METRICS = 100
ESCALATION_TAG = "tixcli_escalation_"  # + the stage: the escalated ticket's tag of its escalation's stage
ETA_TAG = "tixcli_eta_"  # + YYYY-MM-DD: the escalation's estimated date
RATINGS = ("good", "bad")  # satisfaction_rating.score; "offered", "unoffered": no rating (None)
NOTIFICATIONS = (
    "Notification", "NotificationWithCcs", "Cc", "SmsNotification", "SMSNotification", "FollowerNotification",
    "OrganizationActivity",
)  # fmt: skip


RATE_HINT = (
    "rate from the requester's own Zendesk account, or set rate_as_requester: true in the profile "
    "(the requester's email with the API token)"
)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ZendeskBackend(RemoteBackend):
    """Zendesk Support: the primitives of the Backend protocol (the core runs the flow).

    What `zendesk_export` (and any other module of this package) may use, beyond the protocol:
    `read`, `records` (RemoteBackend), `absorb` (side-loaded users, groups, metrics into the
    caches), `resolve_people` (the people of many tickets in one batch), `resolve_users` (user ids
    in batches), `ticket_from` (one ticket record as a Ticket, without comments), `comments`,
    `comment_from` (one comment record as a Comment), `export_end` (where the export that ran
    to its end leaves off: `export_position`), `with_slas` (the SLAs of records that came without)
    and `complete_escalation` (an escalated ticket's reason and timeline).
    """

    name = "zendesk"
    service = "Zendesk"
    capabilities = frozenset(
        {
            "internal_notes",
            "attachments",
            "cc",
            "groups",
            "search",
            "dedupe",
            "export_cursor",
            "edit",
            "assign",
            "download",
            "history",
            "channel",
            "custom_fields",
            "sla",
            "escalations",
            "satisfaction",
        }
    )
    # the profile settings it reads (name -> tixcli.config.Setting), kept in a module of their own
    # so that the config is checked without importing this one
    from tixcli.backends.zendesk_settings import SETTINGS as settings

    max_comment_chars = 65_536  # Zendesk: a comment is at most 64 KB (about 65,000 characters)
    # Zendesk takes a rating for a solved ticket ("or for a ticket that was previously solved and
    # then reopened"); closed is final, the rating too
    rates_closed = False
    requires = ("zenpy", "requests")
    # An agent's `export --state` runs read the search export, whose index lags: "It can take up
    # to a few minutes for new tickets, users, and other resources to be indexed for search"
    # (Zendesk's Search API reference). Each run reads again from 15 minutes before the previous
    # one began. Admin runs are exact (export_position) and do not overlap.
    export_overlap = timedelta(minutes=15)

    def __init__(self, profile: Profile) -> None:
        super().__init__(profile)
        self._zenpy = None
        self._base: str | None = None
        self._users: dict[int, str | None] = {}  # id -> email (or name): the per-run user cache
        self._user_ids: dict[str, int] = {}  # email -> id
        self._groups: dict[int, str] = {}
        self._all_groups_loaded = False
        # ticket id -> solved_at, from side-loaded metric sets: both as Zendesk sent them (service_time
        # checks the time when a ticket is read)
        self._solved_at: dict[Any, str | None] = {}
        # Tickets read by the step before a write, for that write only (within one command):
        # the dedupe look-up's tickets for the `state` that follows it, and the ticket `state`
        # read for the comment that follows it (whether its status changes).
        self._prefetched: dict[int, dict] = {}
        self._read_for_write: dict[int, dict] = {}
        self._content_urls: dict[str, str] = {}  # attachment id -> content_url, from the comments read
        self.export_end: str | None = None  # set by an incremental export that ran to its end
        self._roles: dict[int, str] = {}  # user id -> role (end-user, agent, admin), from the users read
        # custom ticket field id -> its metadata (type, title, options), read once a run; None: no such field
        self._field_meta: dict[int, FieldMeta | None] = {}
        # `export --with-history` (export_with_history): the export keeps the ticket events' history
        # in its spool, and `histories` reads it there (zendesk_export.Spool) while it is open
        self.export_spool: Any = None
        # ticket id -> its escalation as `get` read it (the core's escalate reads the ticket
        # first): what a move adds its step to
        self._escalations: dict[int, dict] = {}
        self._tags_read: dict[int, list[str]] = {}

    # -- connection -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base is None:
            self._base = zendesk_base_url(self.profile)
        return self._base

    @property
    def zenpy(self):
        if self._zenpy is None:
            self.http  # noqa: B018 - connecting builds zenpy on the client
        return self._zenpy

    def open_session(self):
        import requests

        self.base_url  # noqa: B018 - a configuration error before the secret is read
        session = requests.Session()
        session.headers.update({"User-Agent": f"tixcli/{__version__}", "Accept": "application/json"})
        oauth = self.profile.secret("oauth_token", required=False)
        if oauth is not None:
            session.headers["Authorization"] = f"Bearer {oauth.reveal()}"
        else:
            email = str(self.profile.require("email"))
            token = self.profile.secret("token")
            session.auth = (f"{email}/token", token.reveal())
        return session

    def connected(self, http) -> None:
        from zenpy import Zenpy

        parts = urlsplit(self.base_url)
        subdomain, _, domain = parts.netloc.partition(".")
        self._zenpy = Zenpy(
            subdomain=subdomain,
            domain=domain,
            session=_routed_session(http, f"https://{parts.netloc}", self.base_url),
            anonymous=True,  # the client's session carries the credentials
            timeout=self.profile.timeout,
            ratelimit_budget=max(1, int(self.profile.retry_budget)),  # never reached: see _routed_session
            disable_cache=True,  # a cached ticket would be stale after an update
        )

    def shutdown(self) -> None:
        self.close_export_spool()
        super().shutdown()
        self._zenpy = None

    def close_export_spool(self) -> None:
        """Close the spool an export with history left open for the last `histories` (if any)."""
        spool, self.export_spool = self.export_spool, None
        if spool is not None:
            spool.close()

    # -- reads ------------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        raw = self._fetch(ticket_id)
        ticket = self.ticket_from(raw)
        ticket.comments = self.comments(raw["id"])
        self.complete_escalation(ticket, raw)
        return ticket

    def state(self, ticket_id: str) -> TicketState:
        """One request (none right after the dedupe look-up that read the ticket)."""
        tid = ticket_number(ticket_id)
        raw = self._prefetched.pop(tid, None)
        self._prefetched.clear()  # good for the step right after the look-up only
        if raw is None:
            raw = self._fetch(ticket_id)
        self._read_for_write[tid] = raw
        return TicketState(self._status(raw), self._email(raw.get("requester_id")))

    def query(self, query: ListQuery) -> list[Ticket]:
        """One Search API query (search_query); what it cannot say (every one of several tags) is
        checked here on each result (`checked_here`), reading on page after page until `limit`
        tickets match or the search has no more (it stops after 1,000 results)."""
        sort_by = {"updated": "updated_at", "created": "created_at", "priority": "priority"}[query.sort]
        check = checked_here(query)
        group_id = self._group_id(query.group) if query.group and '"' in query.group else None
        params: dict[str, Any] | None = {
            "query": search_query(query, group_id=group_id, stages=self.escalation_stages()),
            # filtered here: whole pages (fewer requests); else no more than the limit asks for
            "per_page": max(1, min(SEARCH_PAGE, PAGE_SIZE)) if check else max(1, min(query.limit, PAGE_SIZE)),
            "include": "tickets(users,groups)",
            "sort_by": sort_by,
            "sort_order": "asc" if query.reverse else "desc",
        }
        found: set[str] = set()  # every result by id: offset pages shift when tickets change while we read
        matched: list[dict] = []
        pages = Paging(self.http, "search")
        url: str | None = f"{API}/search.json"
        seen = 0
        count: int | None = None
        hits = 0  # results that pass the check, the limit's and beyond
        more = True
        while url and len(matched) < query.limit and seen < SEARCH_MAX:
            data = self.read(url, params, action="search")
            self.absorb(data)
            number = data.get("count")  # every match, tickets only (filtered by type:ticket)
            if count is None and isinstance(number, int) and not isinstance(number, bool) and number >= 0:
                count = number
            results = self.records(data, "results")
            seen += len(results)
            page: list[dict] = []
            for r in results:
                if r.get("result_type", "ticket") != "ticket":
                    continue
                tid = service_id(r.get("id"), "Zendesk", "ticket id")
                if tid not in found:
                    found.add(tid)
                    page.append(r)
            if check is not None:
                if check.breaching or check.due_within is not None:
                    self.with_slas(page)  # the search gives no SLA: Show Many Tickets with include=slas
                self.resolve_people(page)  # the page's people in one batch, before its tickets are checked
                page = [raw for raw in page if check.matches(self.ticket_from(raw))]
            hits += len(page)
            matched += page[: query.limit - len(matched)]
            fresh = pages.fresh(found)
            link = data.get("next_page")
            if not results or not link:
                more = False
                break
            if len(matched) >= query.limit or seen >= SEARCH_MAX:
                break
            url, params = pages.follow(link, fresh), None
        self.resolve_people(matched)  # everyone on every ticket, in as few requests as can be
        result = TicketList(sort_tickets([self.ticket_from(raw) for raw in matched], query.sort, query.reverse))
        if check is None:
            result.total = count
        elif not more and (count is None or seen >= count):
            result.total = hits  # every result was read and checked
        return result

    def with_slas(self, raws: list[dict]) -> None:
        """Each record's `slas` (its SLA policy metrics), read for all of them: Show Many Tickets
        with include=slas, 100 a request. A ticket gone since the search gets none."""
        for start in range(0, len(raws), PAGE_SIZE):
            chunk = raws[start : start + PAGE_SIZE]
            ids = ",".join(str(int(service_id(r.get("id"), "Zendesk", "ticket id"))) for r in chunk)
            data = self.read(f"{API}/tickets/show_many.json", {"ids": ids, "include": "slas"}, action="read SLAs")
            found = {str(r.get("id")): r.get("slas") for r in self.records(data, "tickets")}
            for raw in chunk:
                raw["slas"] = found.get(str(raw.get("id")))

    def export(self, since=None, cursor: str | None = None) -> Iterator[ExportItem]:
        from tixcli.backends.zendesk_export import export

        return export(self, since, cursor)

    # -- history ----------------------------------------------------------------------------

    def history(self, ticket_id: str) -> list[HistoryEvent]:
        """The ticket's audits, cursor-paged (100 a page), authors side-loaded; the people, groups
        and custom fields they name looked up in batches (none when known already)."""
        tid = ticket_number(ticket_id)
        return self.history_events(self._audits(tid))

    def histories(self, ticket_ids: list[str]) -> dict[str, list[HistoryEvent]]:
        """From the export's spool where it holds a ticket's whole history (an admin's export:
        the ticket events), the people they name looked up for the whole chunk at once; the
        others by their audits, one call a ticket (100 audits a page)."""
        spool = self.export_spool
        found: dict[str, tuple[list[dict], int | None]] = {}
        if spool is not None:
            for tid in ticket_ids:
                spooled = spool.history(tid)
                if spooled is not None:
                    found[tid] = spooled
        self._prepare_history([a for audits, _ in found.values() for a in audits])
        result = {tid: self.history_events(audits, requester) for tid, (audits, requester) in found.items()}
        for tid in ticket_ids:
            if tid not in result:
                try:
                    result[tid] = self.history(tid)
                except NotFoundError:  # deleted since the export read it: it has no history to give
                    result[tid] = []
        return result

    def _audits(self, tid: int) -> list[dict]:
        url: str | None = f"{API}/tickets/{tid}/audits.json"
        params: dict | None = {"include": "users", "page[size]": AUDIT_PAGE}
        audits: list[dict] = []
        pages = Paging(self.http, "audit")
        while url:
            try:
                data = self.read(url, params, action="read the ticket's history")
            except NotFoundError:
                raise NotFoundError(f"ticket {tid} not found") from None
            self.absorb(data)
            page = self.records(data, "audits")
            audits.extend(page)
            if len(audits) > MAX_AUDITS:
                raise UnavailableError(f"Zendesk sent more than {MAX_AUDITS:,} audits on ticket {tid}; stopped")
            fresh = pages.fresh(service_id(a.get("id"), "Zendesk", "audit id") for a in page)
            meta = data.get("meta")
            links = data.get("links")
            links = links if isinstance(links, dict) else {}
            if isinstance(meta, dict):  # cursor paging
                link = links.get("next") if meta.get("has_more") else None
            else:  # offset paging (an archived ticket's audits are not cursor-paged)
                link = data.get("next_page")
            url, params = (pages.follow(link, fresh) if link and page else None), None
        return audits

    def history_events(self, audits: list[dict], requester_id: int | None = None) -> list[HistoryEvent]:
        """Audits (as List Audits gives them, or made from ticket events: `audit_from_ticket_event`)
        as history events, in their order. `requester_id`: the ticket's requester now, where the
        audits do not say who it was at first."""
        self._prepare_history(audits)
        return _History(self, requester_id).events(audits)

    def _prepare_history(self, audits: list[dict]) -> None:
        """Look up, in batches, what the audits name and is not known yet: users (authors,
        requesters, assignees, CCs, recipients), groups (all of them, once), the custom fields'
        types (once a run)."""
        users: list[Any] = []
        groups = False
        fields = False
        mapped = set(self._field_ids.values())
        for audit in audits:
            users.append(audit.get("author_id"))
            for event in audit.get("events") or []:
                if not isinstance(event, dict) or event.get("type") == "Create":
                    continue  # a first value: the "created" event stands for them, naming none
                users.append(event.get("author_id"))
                name = event.get("field_name")
                values = [event.get("value"), event.get("previous_value")]
                if name in ("requester_id", "assignee_id"):
                    users += values
                elif name == "group_id":
                    groups = groups or any(_number(v) not in self._groups for v in values if v is not None)
                elif name in ("email_cc_ids", "collaborator_ids"):
                    users += [i for v in values if isinstance(v, list) for i in v]
                elif isinstance(name, str) and name.isdigit() and int(name) in mapped:
                    fields = fields or any(v not in (None, "", []) for v in values)
                for key in ("recipients", "previous_email_ccs", "current_email_ccs"):
                    if isinstance(event.get(key), list):
                        users += event[key][:MAX_ITEMS]
        self._resolve(_number(u) for u in users)
        if groups:
            self._all_groups()
        if fields:
            self._fields_meta(list(mapped))

    # -- escalations: a linked problem ticket, the stage and eta as tags (README) -----------

    def escalation_stages(self) -> tuple[str, ...]:
        stages = self.profile.get("escalation_stages")
        return tuple(str(s).lower() for s in stages) if stages else super().escalation_stages()

    def _escalation_of(self, raw: dict) -> dict | None:
        """What a ticket record says of its escalation: its stage and eta (tags) and id (the
        problem ticket, `problem_id`); the reason and timeline are `complete_escalation`'s."""
        tags = [t for t in raw.get("tags") or [] if isinstance(t, str)]
        found = [t[len(ESCALATION_TAG) :] for t in tags if t.startswith(ESCALATION_TAG)]
        if not found:
            return None
        stages = self.escalation_stages()
        stage = next((s for s in stages if s in found), found[0][:64])
        etas = [t[len(ETA_TAG) :] for t in tags if t.startswith(ETA_TAG) and _DAY.fullmatch(t[len(ETA_TAG) :])]
        pid = _number(raw.get("problem_id"))
        return {
            "id": str(pid) if pid is not None else None,
            "stage": stage,
            "open": stage != stages[-1],
            "reason": None,
            "eta": etas[0] if etas else None,
            "timeline": [],
        }

    def complete_escalation(self, ticket: Ticket, raw: dict) -> None:
        """The escalation's reason (its problem ticket's description) and timeline (the ticket's
        audits): two requests, for an escalated ticket only."""
        tid = int(service_id(raw.get("id"), "Zendesk", "ticket id"))
        self._tags_read[tid] = list(ticket.tags)
        escalation = ticket.escalation
        if escalation is None:
            self._escalations.pop(tid, None)
            return
        if escalation["id"] is not None:
            try:
                problem = self._fetch(escalation["id"], include="")
                escalation["reason"] = _text(problem.get("description"))
            except NotFoundError:  # the problem ticket was deleted: the escalation stays
                pass
        escalation["timeline"] = escalation_timeline(self._audits(tid), self.escalation_stages())
        self._escalations[tid] = escalation

    def open_escalation(self, ticket_id: str, reason: str, eta: str | None) -> Ticket:
        """The problem ticket (one create), then the ticket linked to it with the first stage's
        tag (one update)."""
        tid = ticket_number(ticket_id)
        stage = self.escalation_stages()[0]
        line = next((x.strip() for x in reason.splitlines() if x.strip()), reason)
        problem = {
            "subject": f"Escalation of #{tid}: {line}"[:250],
            "type": "problem",
            "comment": {"body": reason, "public": False},
        }
        data = self.call(
            "POST",
            f"{API}/tickets.json",
            json={"ticket": problem},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            retry_safe=True,
            action="open the escalation",
        )
        pid = int(service_id(self.record(data, "ticket").get("id"), "Zendesk", "ticket id"))
        raw = self._set_escalation(tid, stage, eta, {"type": "incident", "problem_id": pid}, drop_eta=True)
        ticket = self.ticket_from(raw)
        if ticket.escalation is not None:
            at = service_time(raw.get("updated_at"), "Zendesk")
            ticket.escalation.update(reason=reason, timeline=[{"stage": stage, "at": at}])
        return ticket

    def move_escalation(self, ticket_id: str, stage: str, eta: str | None) -> Ticket:
        """The stage's tag for the old one's (and the new eta's), one update."""
        tid = ticket_number(ticket_id)
        if tid not in self._escalations:
            self.get(ticket_id)  # not read by this run yet: the timeline a move adds to
        before = self._escalations.get(tid) or {}
        raw = self._set_escalation(tid, stage, eta, {}, drop_eta=eta is not None)
        ticket = self.ticket_from(raw)
        if ticket.escalation is not None:
            steps = list(before.get("timeline") or [])
            if stage != before.get("stage"):
                steps.append({"stage": stage, "at": service_time(raw.get("updated_at"), "Zendesk")})
            ticket.escalation.update(reason=before.get("reason"), timeline=steps)
        return ticket

    def _set_escalation(self, tid: int, stage: str, eta: str | None, fields: dict, drop_eta: bool) -> dict:
        """One ticket update: the stage's tag on, the other stages' off (an eta's likewise)."""
        if tid not in self._tags_read:
            self._tags_read[tid] = self.ticket_from(self._fetch(str(tid))).tags
        tags = self._tags_read.pop(tid)
        self._escalations.pop(tid, None)
        on = [ESCALATION_TAG + stage] + ([ETA_TAG + eta] if eta else [])
        off = [t for t in tags if t.startswith(ESCALATION_TAG) or (drop_eta and t.startswith(ETA_TAG))]
        update = {**fields, "additional_tags": on, "remove_tags": [t for t in off if t not in on]}
        self._prefetched.clear()
        data = self.call(
            "PUT",
            f"{API}/tickets/{tid}.json",
            json={"ticket": update},
            retry_safe=True,  # every value absolute: repeating the update is safe
            action="escalate",
            ticket=str(tid),
        )
        return self.record(data, "ticket")

    # -- satisfaction ----------------------------------------------------------------------

    def set_rating(self, ticket_id: str, rating: str | int, comment: str | None) -> Ticket:
        """Create Ticket Satisfaction Rating, as the requester where the profile says
        (`rate_as_requester`: their email with the API token), else with the profile's own
        credentials (an agent's: Zendesk answers 403, exit 7); then the ticket read again."""
        tid = ticket_number(ticket_id)
        read = self._read_for_write.pop(tid, None)
        if isinstance(rating, int) or rating not in RATINGS:
            raise InvalidInputError(f"Zendesk takes good or bad, not {rating!r}")
        body: dict[str, Any] = {"score": rating}
        if comment:
            body["comment"] = comment
        extra: dict[str, Any] = {}
        if self.profile.get("rate_as_requester"):
            token = self.profile.secret("token", required=False)
            requester = self._email((read or self._fetch(str(tid))).get("requester_id"))
            if token is None or not requester or "@" not in requester:
                raise AuthError(
                    f"cannot rate ticket {tid} as its requester: rate_as_requester needs the profile's API "
                    "token (not an OAuth token) and a requester with an email",
                    hint=RATE_HINT,
                )
            extra["auth"] = (f"{requester}/token", token.reveal())
        try:
            self.call(
                "POST",
                f"{API}/tickets/{tid}/satisfaction_rating.json",
                json={"satisfaction_rating": body},
                retry_safe=True,  # the same rating again replaces it with itself
                action="rate",
                ticket=str(tid),
                **extra,
            )
        except AuthError as exc:  # 401/403: not the requester's own credentials
            raise AuthError(
                f"Zendesk refused the rating of ticket {tid} (HTTP {exc.status}): ratings come from the "
                "ticket's requester, with the requester's own credentials (an agent's token cannot rate)",
                hint=RATE_HINT,
                status=exc.status,
            ) from None
        return self.ticket_from(self._fetch(str(tid)))

    # -- custom fields ----------------------------------------------------------------------

    @property
    def _field_ids(self) -> dict[str, int]:
        """The profile's `fields:` (name -> ticket field id), as zendesk_settings checked it."""
        mapping = self.profile.get("fields") or {}
        return dict(mapping) if isinstance(mapping, dict) else {}

    def field_names(self) -> tuple[str, ...]:
        return tuple(self._field_ids)

    def field_values(self, texts: dict[str, str | None]) -> dict[str, Any]:
        """Each text converted by its field's type (one Show Many Ticket Fields request a run)."""
        ids = self._field_ids
        wanted = [ids[name] for name, text in texts.items() if text is not None]
        metas = self._fields_meta(wanted) if wanted else {}
        out: dict[str, Any] = {}
        for name, text in texts.items():
            if text is None:
                out[name] = None
                continue
            meta = metas.get(ids[name])
            if meta is None:
                raise ConfigError(
                    f"profile {self.profile.name!r} maps field {name!r} to ticket field {ids[name]}, "
                    "which Zendesk does not have",
                    hint="Admin Center > Objects and rules > Tickets > Fields lists each field's id",
                )
            out[name] = field_value(meta, name, text)
        return out

    def _fields_meta(self, ids: list[int]) -> dict[int, FieldMeta | None]:
        """The metadata of these fields: those not read yet in this run are read with every mapped
        field not read yet, 100 a request (Show Many Ticket Fields)."""
        if any(i not in self._field_meta for i in ids):
            missing = sorted({*ids, *self._field_ids.values()} - set(self._field_meta))
            for start in range(0, len(missing), 100):
                chunk = missing[start : start + 100]
                data = self.read(
                    f"{API}/ticket_fields/show_many.json",
                    {"ids": ",".join(map(str, chunk))},
                    action="read the custom fields",
                )
                for raw in self.records(data, "ticket_fields")[: len(chunk)]:
                    meta = field_meta(raw)
                    if meta.id in chunk:
                        self._field_meta[meta.id] = meta
                for fid in chunk:
                    self._field_meta.setdefault(fid, None)  # not on the account: not asked again
        return {i: self._field_meta.get(i) for i in ids}

    def _read_fields(self, raw: dict) -> dict[str, Any]:
        """A ticket record's custom fields by the profile's names (None: no value). A value's type
        is checked against its field's where Zendesk's JSON leaves it open (a number as text):
        then the fields' metadata is read (once a run)."""
        ids = self._field_ids
        if not ids:
            return {}
        entries = raw.get("custom_fields")
        if entries is None:
            entries = raw.get("fields")
        if entries is None:
            entries = []
        if not isinstance(entries, list) or len(entries) > MAX_CUSTOM_FIELDS:
            raise UnavailableError("Zendesk sent malformed custom fields")
        values: dict[int, Any] = {}
        for entry in entries:
            fid = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(fid, bool) or not isinstance(fid, int):
                raise UnavailableError("Zendesk sent malformed custom fields")
            values[fid] = entry.get("value")
        by_name = {name: values.get(fid) for name, fid in ids.items()}
        if any(_numeric_text(v) for v in by_name.values()):
            self._fields_meta(list(ids.values()))
        return {name: server_value(self._field_meta.get(ids[name]), name, v) for name, v in by_name.items()}

    def _custom_fields(self, values: dict[str, Any]) -> list[dict]:
        """`custom_fields` of a create or an update: the fields by id (None clears one)."""
        ids = self._field_ids
        return [{"id": ids[name], "value": value} for name, value in values.items()]

    def export_position(self) -> str | None:
        """After an admin's export went to its end: the incremental ticket cursor past the end of
        the stream, and where the ticket events go on (zendesk_export). None after an agent's
        (search) export: its index lags, so `export --state` overlaps."""
        return self.export_end

    def find_by_dedupe_key(self, key: str) -> list[str]:
        """The non-closed tickets whose external_id is the key, oldest first: one request, and
        immediate (the search index lags by minutes)."""
        params = {"external_id": key, "include": INCLUDE}
        data = self.read(f"{API}/tickets.json", params, action="look up the dedupe key")
        self.absorb(data)
        live = [t for t in self.records(data, "tickets") if t.get("status") not in ("closed", "deleted")]
        live = [t for t in live if t.get("external_id") == key]
        live.sort(key=lambda t: int(service_id(t.get("id"), "Zendesk", "ticket id")))
        self._prefetched = {int(t["id"]): t for t in live}  # for the `state` of the reply that follows
        return [str(t["id"]) for t in live]

    # -- writes -----------------------------------------------------------------------------

    def create_ticket(self, new: NewTicket) -> Ticket:
        self._prefetched.clear()
        comment: dict[str, Any] = {"body": new.body, "public": True}
        fields: dict[str, Any] = {
            "subject": new.subject,
            "comment": comment,
            "requester": {"email": new.requester, "name": new.requester.split("@")[0]},
        }
        if new.priority:
            fields["priority"] = new.priority
        if new.type:
            fields["type"] = new.type
        if new.tags:
            fields["tags"] = list(new.tags)
        if new.group:
            fields["group_id"] = self._group_id(new.group)
        assignee = getattr(new, "assignee", None)  # NewTicket.assignee: `create --assignee`
        if assignee:
            fields["assignee_id"] = self._agent_id(assignee)  # Zendesk makes the ticket open
        if new.cc:
            fields["email_ccs"] = email_ccs(new.cc)
        if new.dedupe_key:
            fields["external_id"] = new.dedupe_key
        if new.fields:
            fields["custom_fields"] = self._custom_fields(new.fields)
        author_id = self._author_id(new.author)
        if author_id is not None:
            comment["author_id"] = author_id
        token = self._upload(new.attachments)
        if token:
            comment["uploads"] = [token]
        # One key per invocation, reused on this invocation's retries: a create whose answer was
        # lost is retried safely (same key, same body: Zendesk returns the first ticket).
        key = str(uuid.uuid4())
        data = self.call(
            "POST",
            f"{API}/tickets.json",
            json={"ticket": fields},
            headers={"Idempotency-Key": key},
            retry_safe=True,
            action="create the ticket",
        )
        return self.ticket_from(self.record(data, "ticket"))

    def add_comment(self, ticket_id: str, reply: Reply, status: str) -> Ticket:
        """The comment, its uploads, CCs and the status in one update."""
        tid = str(ticket_number(ticket_id))
        read = self._read_for_write.pop(int(tid), None)
        current = self._status(read) if read is not None else None
        fields: dict[str, Any] = {"comment": self._comment(reply.body, reply.public, reply.author, reply.attachments)}
        # An agent's comment does not reopen a solved or pending ticket on Zendesk: say it. An
        # explicit status goes with the comment, an internal note's too (one update); an internal
        # note that leaves the status as it is sends none.
        if reply.public or reply.status is not None or status != current:
            fields["status"] = status
        if reply.cc:
            fields["email_ccs"] = email_ccs(reply.cc)
        return self.ticket_from(self._update(tid, fields, "reply"))

    def set_status(self, ticket_id: str, status: str, comment: Reply | None = None) -> Ticket:
        """Solve, close or reopen ("open") in one update, with the comment (public or internal,
        its uploads and CCs) where given."""
        tid = str(ticket_number(ticket_id))
        self._read_for_write.pop(int(tid), None)
        fields: dict[str, Any] = {"status": status}
        if comment is not None:
            fields["comment"] = self._comment(comment.body, comment.public, comment.author, comment.attachments)
            if comment.cc:
                fields["email_ccs"] = email_ccs(comment.cc)
        action = {"solved": "solve", "closed": "close", "open": "reopen"}.get(status, status)
        return self.ticket_from(self._solved(self._update(tid, fields, action)))

    def update_fields(self, ticket_id: str, fields: dict[str, Any]) -> Ticket:
        """One ticket update: people by email (requester_id, assignee_id; None unassigns), the
        group by name, the tags as the whole new list. Zendesk turns a new ticket open when it
        gets an assignee."""
        tid = str(ticket_number(ticket_id))
        self._read_for_write.pop(int(tid), None)
        unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
        if unknown:
            raise ValueError(f"not an editable field: {unknown}")  # a bug in the caller
        update: dict[str, Any] = {k: fields[k] for k in ("subject", "priority", "type") if k in fields}
        if "group" in fields:
            update["group_id"] = None if fields["group"] is None else self._group_id(fields["group"])
        if "requester" in fields:
            requester = str(fields["requester"])
            requester_id = self._find_user(requester)
            if requester_id is not None:
                update["requester_id"] = requester_id
            else:  # not a user yet: Zendesk makes an end user of the email, as on create
                update["requester"] = {"email": requester, "name": requester.split("@")[0]}
        if "assignee" in fields:
            assignee = fields["assignee"]
            update["assignee_id"] = None if assignee is None else self._agent_id(str(assignee))
        if "tags" in fields:
            update["tags"] = list(fields["tags"])
        if "fields" in fields:
            update["custom_fields"] = self._custom_fields(fields["fields"])
        # Sent here, not through zenpy: zenpy drops null values (no unassigning) and takes no
        # requester object. Every value is absolute, so repeating the update is safe.
        self._prefetched.clear()
        data = self.call(
            "PUT", f"{API}/tickets/{tid}.json", json={"ticket": update}, retry_safe=True, action="edit", ticket=tid
        )
        return self.ticket_from(self.record(data, "ticket"))

    def attachment_bytes(self, ticket_id: str, attachment: Attachment) -> Iterator[bytes]:
        """The attachment's content_url, through HttpClient.download: the credentials go to the
        account's own host only; Zendesk answers there with a redirect to a temporary URL on
        another host, followed over https only and without them. At most its size is read."""
        aid = str(attachment.id or "")
        if not re.fullmatch(r"[0-9]{1,20}", aid):
            raise NotFoundError(f"ticket {ticket_id} has no attachment {aid!r}")
        url = self._content_urls.get(aid)
        if url is None:  # not read with this ticket's comments: Show Attachment has it
            data = self.read(f"{API}/attachments/{aid}.json", None, action="read the attachment", ticket=ticket_id)
            url = self._content_url(self.record(data, "attachment"))
        if url is None:
            raise UnavailableError(f"Zendesk sent no content_url for attachment {aid}")
        size = attachment.size
        known = isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_ATTACHMENT_BYTES
        return self.http.download(url, size if known and size is not None else MAX_ATTACHMENT_BYTES)

    def change_cc(self, ticket_id: str, add: list[str], remove: list[str]) -> list[str]:
        tid = str(ticket_number(ticket_id))
        self._read_for_write.pop(int(tid), None)
        ccs = email_ccs(add) + email_ccs(remove, "delete")
        return self.ticket_from(self._update(tid, {"email_ccs": ccs}, "cc")).cc

    def list_cc(self, ticket_id: str) -> list[str]:
        """The CCs: the ticket alone, without its comments (one request)."""
        return self.ticket_from(self._fetch(ticket_id)).cc

    # -- the error table: Zendesk's hooks ---------------------------------------------------

    def error_text(self, body: Any) -> str:
        return "; ".join(_details(body))

    def vendor_refusal(
        self, status: int, body: Any, text: str, *, action: str, ticket: str | None, write: bool
    ) -> TixError | None:
        low = text.lower()
        what = f"ticket {ticket}" if ticket else "the ticket"
        if "closed prevents ticket update" in low:
            return closed_refusal(what, action)
        if action in ("solve", "close") and "assignee" in low:
            return RefusedError(
                f"Zendesk refused to {action} {what}: it has no assignee",
                hint=f"assign the ticket to an agent (in Zendesk), then {action} it",
            )
        if action == "close" and "status" in low:
            return RefusedError(
                f"Zendesk refused to close {what}",
                hint="Zendesk closes solved tickets itself (4 days after solving by default): solve it instead",
            )
        return None

    # -- helpers: requests ------------------------------------------------------------------

    def _fetch(self, ticket_id: str, include: str = INCLUDE) -> dict:
        """One ticket with its people, group and SLA side-loaded (one request)."""
        tid = ticket_number(ticket_id)
        try:
            params = {"include": include} if include else None
            data = self.read(f"{API}/tickets/{tid}.json", params, action="read the ticket")
        except NotFoundError:
            raise NotFoundError(f"ticket {tid} not found") from None
        self.absorb(data)
        return self.record(data, "ticket")

    def comments(self, ticket_id: int | str, keep_urls: bool = True) -> list[Comment]:
        """The whole thread, oldest first, authors side-loaded, cursor-paged. `keep_urls`: keep
        the attachments' content URLs for a download later in the command (not for an export)."""
        tid = service_id(ticket_id, "Zendesk", "ticket id")
        url: str | None = f"{API}/tickets/{tid}/comments.json"
        params: dict | None = {"include": "users", "page[size]": PAGE_SIZE}
        raws: list[dict] = []
        pages = Paging(self.http, "comment")
        while url:
            data = self.read(url, params, action="read the comments")
            self.absorb(data)
            page = self.records(data, "comments")
            raws.extend(page)
            if len(raws) > MAX_COMMENTS:
                raise UnavailableError(f"Zendesk sent more than {MAX_COMMENTS:,} comments on ticket {tid}; stopped")
            fresh = pages.fresh(service_id(c.get("id"), "Zendesk", "comment id") for c in page)
            meta = data.get("meta")
            more = meta.get("has_more") if isinstance(meta, dict) else None
            links = data.get("links")
            links = links if isinstance(links, dict) else {}
            url, params = (pages.follow(links.get("next"), fresh) if more else None), None
        self._resolve(self._user_id(c.get("author_id")) for c in raws)
        return [self._comment_model(c, keep_urls) for c in raws]

    def comment_from(self, raw: dict) -> Comment:
        """A comment record from elsewhere (a ticket event) as a Comment, as `comments` gives it;
        its author is looked up unless resolve_users did already."""
        return self._comment_model(raw, keep_urls=False)

    def _comment(self, body: str, public: bool, author: str | None, files: list[FileUpload] | None) -> dict:
        comment: dict[str, Any] = {"body": body, "public": public}  # `public` sent every time
        author_id = self._author_id(author)
        if author_id is not None:
            comment["author_id"] = author_id
        token = self._upload(files or [])
        if token:
            comment["uploads"] = [token]
        return comment

    def _solved(self, raw: dict) -> dict:
        """A ticket this update solved (or closed unsolved) was solved at its update time."""
        if raw.get("status") in ("solved", "closed"):
            self._solved_at.setdefault(raw["id"], raw.get("updated_at"))
        return raw

    def _update(self, tid: str, fields: dict, action: str) -> dict:
        """One ticket update through zenpy; returns the ticket as Zendesk answered it."""
        from zenpy.lib.api_objects import Ticket as ZenpyTicket

        self._prefetched.clear()

        def send():
            answer = self.zenpy.tickets.update(ZenpyTicket(id=int(tid), **fields))
            # zenpy answers a TicketAudit (the response holds `ticket` and `audit`).
            ticket = answer if isinstance(answer, ZenpyTicket) else getattr(answer, "ticket", None)
            return ticket.to_dict() if ticket is not None else None

        raw = self._zen(send, action, tid)
        if not isinstance(raw, dict) or raw.get("id") is None:
            raise UnavailableError("Zendesk sent a malformed answer to a ticket update")
        return raw

    def _upload(self, files: list[FileUpload]) -> str | None:
        """Upload the files under one token (the comment then takes `uploads: [token]`)."""
        token = None
        for upload in files:
            data = upload.read()
            name = quote(upload.filename, safe="")  # zenpy puts the name in the URL as it is

            def send(data=data, name=name, ctype=upload.content_type, token=token):
                return self.zenpy.attachments.upload(data, token=token, target_name=name, content_type=ctype)

            result = self._zen(send, "upload")
            token = getattr(result, "token", None)
            if not token:
                raise UnavailableError("Zendesk sent a malformed answer to an upload (no token)")
        return token

    def _author_id(self, author: str | None) -> int | None:
        """The user id to post as, or None for the token's own user."""
        if not author:
            return None
        me = {str(self.profile.get("email") or "").lower(), self.profile.user.lower()}
        if author.lower() in me:
            return None
        return self._existing_user(author, "look up the author")

    def _agent_id(self, email: str) -> int:
        """The user id of an assignee (Zendesk refuses one who is not an agent: exit 6)."""
        return self._existing_user(email, "look up the assignee")

    def _existing_user(self, email: str, action: str) -> int:
        user_id = self._find_user(email, action)
        if user_id is None:
            raise InvalidInputError(f"no Zendesk user with the email {email}", hint="use an existing user")
        return user_id

    def _find_user(self, email: str, action: str = "look up a user") -> int | None:
        """The id of the user with this email: from the users already read, else one search."""
        if email.lower() not in self._user_ids:
            data = self.read(f"{API}/users/search.json", {"query": email}, action=action)
            users = [u for u in self.records(data, "users") if str(u.get("email") or "").lower() == email.lower()]
            self.absorb({"users": users})
        return self._user_ids.get(email.lower())

    def _group_id(self, name: str) -> int:
        for gid, gname in self._all_groups().items():
            if gname.lower() == name.lower():
                return gid
        known = bounded(", ".join(sorted(self._groups.values()))) or "none"
        raise InvalidInputError(f"no Zendesk group named {name!r}", hint=f"groups: {known}")

    def _all_groups(self) -> dict[int, str]:
        """Every group (paged here, not by zenpy: its paging follows any link for ever)."""
        if not self._all_groups_loaded:
            pages = Paging(self.http, "group")
            url: str | None = f"{API}/groups.json"
            while url:
                data = self.read(url, None, action="list groups")
                groups = self.records(data, "groups")
                self.absorb({"groups": groups})
                fresh = pages.fresh(service_id(g.get("id"), "Zendesk", "group id") for g in groups)
                url = pages.follow(data.get("next_page"), fresh) if groups else None
            self._all_groups_loaded = True
        return self._groups

    def resolve_people(self, raws: Iterable[dict]) -> None:
        """Look up everyone the ticket records name (requester, assignee, CCs) in one batch."""
        self._resolve(people_ids(raws))

    def resolve_users(self, ids: Iterable[int]) -> None:
        """Look up the users not known yet (comment authors) in batches of 100."""
        self._resolve(ids)

    def _resolve(self, ids: Iterable[Any]) -> None:
        """Fetch the users not yet in the cache (show_many, 100 a request)."""
        missing = sorted({i for i in ids if isinstance(i, int) and i > 0 and i not in self._users})
        for start in range(0, len(missing), PAGE_SIZE):
            chunk = missing[start : start + PAGE_SIZE]
            params = {"ids": ",".join(map(str, chunk))}
            data = self.read(f"{API}/users/show_many.json", params, action="look up users")
            self.absorb({"users": self.records(data, "users")})
            for user_id in chunk:
                self._users.setdefault(user_id, None)  # deleted users: do not ask again

    def absorb(self, data: dict) -> None:
        """Fill the user and group caches from side-loaded records (ids checked: exit 8 if odd)."""
        for user in self.records(data, "users"):
            user_id = int(service_id(user.get("id"), "Zendesk", "user id"))
            email = user.get("email") if isinstance(user.get("email"), str) else None
            name = user.get("name") if isinstance(user.get("name"), str) else None
            self._users[user_id] = email or name
            if email:
                self._user_ids[email.lower()] = user_id
            role = user.get("role")
            if isinstance(role, str) and role in ("end-user", "agent", "admin"):
                self._roles[user_id] = role
        for group in self.records(data, "groups"):
            group_id = int(service_id(group.get("id"), "Zendesk", "group id"))
            self._groups[group_id] = str(group.get("name") or group_id)
        for metrics in data.get("metric_sets") or []:
            if isinstance(metrics, dict) and metrics.get("solved_at"):
                self._solved_at[metrics.get("ticket_id")] = metrics["solved_at"]

    def _zen(self, call: Callable[[], Any], action: str, tid: str | None = None) -> Any:
        """Run a zenpy call (a write); every failure becomes a tixcli error."""
        try:
            return call()
        except TixError:
            raise
        except Exception as exc:  # zenpy's, requests' and JSON errors alike
            response = getattr(exc, "response", None)
            if response is not None and getattr(response, "status_code", None):
                raise self.refusal(
                    response.status_code, error_body(response), action=action, ticket=tid, write=True
                ) from None
            raise UnavailableError(f"Zendesk: unexpected answer ({type(exc).__name__})") from None

    # -- helpers: mapping -------------------------------------------------------------------

    def _status(self, raw: dict) -> str:
        status = raw.get("status")
        return status if status in STATUSES else "open"

    def _user_id(self, value: Any) -> int | None:
        """A user id a record names (requester, assignee, author, CC): None when absent (or -1,
        which Zendesk uses for the system)."""
        if value is None or value == -1:
            return None
        return int(service_id(value, "Zendesk", "user id"))

    def _email(self, user_id: Any) -> str | None:
        user_id = self._user_id(user_id)
        if not user_id:
            return None
        if user_id not in self._users:
            self._resolve([user_id])
        return self._users.get(user_id) or str(user_id)

    def ticket_from(self, raw: dict) -> Ticket:
        """A ticket record of an answer as a Ticket (without comments)."""
        tid = service_id(raw.get("id"), "Zendesk", "ticket id")
        self._resolve(people_ids([raw]))
        group_id = None if raw.get("group_id") is None else int(service_id(raw["group_id"], "Zendesk", "group id"))
        if group_id is not None and group_id not in self._groups:
            self._all_groups()
        ttype = raw.get("type")
        priority = raw.get("priority")
        return Ticket(
            id=tid,
            backend=self.name,
            subject=raw.get("subject") or raw.get("raw_subject") or "",
            description=raw.get("description"),
            status=self._status(raw),
            raw_status=raw.get("status"),
            priority=priority if priority in PRIORITIES else None,
            type=ttype if ttype in TYPES else None,
            raw_type=ttype,
            requester=self._email(raw.get("requester_id")),
            assignee=self._email(raw.get("assignee_id")),
            group=self._groups.get(group_id, str(group_id)) if group_id is not None else None,
            channel=channel_of(raw),
            cc=sorted({e for e in (self._email(i) for i in _cc_ids(raw)) if e}),
            tags=list(raw.get("tags") or []),
            fields=self._read_fields(raw),
            external_id=raw.get("external_id"),
            created_at=service_time(raw.get("created_at"), "Zendesk"),
            updated_at=service_time(raw.get("updated_at"), "Zendesk"),
            solved_at=service_time(raw.get("solved_at") or self._solved_at.get(raw["id"]), "Zendesk"),
            url=f"{self.base_url}/agent/tickets/{tid}",
            sla=sla_of(raw),
            escalation=self._escalation_of(raw),
            satisfaction=satisfaction_of(raw),
        )

    def _content_url(self, raw: dict, keep: bool = True) -> str | None:
        """An attachment record's content_url (kept for a download in this run), None if absent."""
        url = raw.get("content_url")
        if url is None:
            return None
        if not isinstance(url, str) or not url.strip():
            raise UnavailableError("Zendesk sent a malformed attachment content_url")
        if keep and raw.get("id") is not None:
            self._content_urls[service_id(raw["id"], "Zendesk", "attachment id")] = url
        return url

    def _comment_model(self, raw: dict, keep_urls: bool = True) -> Comment:
        attachments = self.records(raw, "attachments")
        for a in attachments:
            self._content_url(a, keep_urls)  # kept for a download that follows the read
        return Comment(
            id=service_id(raw["id"], "Zendesk", "comment id") if raw.get("id") is not None else None,
            author=self._email(raw.get("author_id")),
            body=raw.get("body") or raw.get("plain_body") or "",
            public=bool(raw.get("public", True)),
            created_at=service_time(raw.get("created_at"), "Zendesk"),
            attachments=[
                Attachment(
                    id=service_id(a["id"], "Zendesk", "attachment id") if a.get("id") is not None else None,
                    filename=a.get("file_name") or "",
                    size=a.get("size"),
                    content_type=a.get("content_type"),
                )
                for a in attachments
            ],
        )


# -- module helpers -------------------------------------------------------------------------


def zendesk_base_url(profile: Profile) -> str:
    """https://{subdomain}.zendesk.com, or the profile's `url` (https; http only on loopback)."""
    if profile.get("url"):
        url = profile.base_url()
    else:
        subdomain = str(profile.get("subdomain") or "").strip().lower()
        if not subdomain:
            raise ConfigError(
                f"profile {profile.name!r} needs 'subdomain' (or 'url')",
                hint="e.g. subdomain: acme for https://acme.zendesk.com",
            )
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", subdomain):
            raise ConfigError(f"profile {profile.name!r}: invalid Zendesk subdomain {subdomain!r}")
        url = f"https://{subdomain}.zendesk.com"
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = parts.netloc
    if host == "localhost":
        netloc = netloc.replace("localhost", "127.0.0.1", 1)
    elif "." not in host:
        # zenpy joins `subdomain.domain`; a host without a dot cannot be written that way.
        raise ConfigError(f"profile {profile.name!r}: Zendesk url needs a host name with a dot")
    return f"{parts.scheme}://{netloc}"


def _routed_session(client, zenpy_origin: str, real_origin: str):
    """A requests session for zenpy whose every call goes through the HttpClient.

    zenpy therefore gets the client's timeouts, bounded 429 waits, retries and error mapping
    (it never sees a 429: its own wait loop has no bound), and its https URLs reach the real
    origin (http on loopback).
    """
    import requests

    class RoutedSession(requests.Session):
        def request(self, method, url, **kwargs):  # noqa: D401 - requests' signature
            if url.startswith(zenpy_origin):
                url = real_origin + url[len(zenpy_origin) :]
            body = kwargs.get("json")
            if method.upper() == "PUT" and isinstance(body, dict) and isinstance(body.get("ticket"), dict):
                # zenpy always serialises the id, which is read-only in a ticket update: the
                # URL names the ticket.
                kwargs["json"] = {**body, "ticket": {k: v for k, v in body["ticket"].items() if k != "id"}}
            return client.request(method, url, **kwargs)

    return RoutedSession()


def email_ccs(emails: Iterable[str], action: str = "put") -> list[dict]:
    """The `email_ccs` of an update that adds (put) or removes (delete) these CCs."""
    return [{"user_email": e, "action": action} for e in emails]


def ticket_number(ticket_id: str) -> int:
    """A ticket id the user gave: ASCII digits only (str.isdigit also takes '²' and '١')."""
    text = str(ticket_id).strip().lstrip("#")
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise NotFoundError(f"ticket {ticket_id!r} not found", hint="Zendesk ticket ids are numbers")
    return int(text)


def search_query(query: ListQuery, group_id: int | None = None, stages: tuple[str, ...] = ()) -> str:
    """The Search API query for a resolved `list` query ("mine" is already its requester, and
    `words` its search words, each required).

    Several values of one keyword are OR'ed by Zendesk (`tags:a tags:b` finds a ticket with
    either), so of several tags one is sent and every one is checked on the results
    (`checked_here`). `group:` takes a name or an id (`group_id`: for a name a quoted term cannot
    hold)."""
    terms = ["type:ticket"]
    if query.requester:
        terms.append(f"requester:{_quote_term(query.requester)}")
    if query.assignee:
        terms.append(f"assignee:{_quote_term(query.assignee)}")
    if query.statuses is not None:
        terms += status_terms(query.statuses)
    if query.type:
        terms.append(f"ticket_type:{query.type}")
    if query.priority:
        terms.append(f"priority:{query.priority}")
    tag = sent_tag(query.tags)
    if tag is not None:
        terms.append(f"tags:{tag}")
    elif query.escalated and len(stages) > 1:
        # the open stages' tags, OR'ed as one keyword's values are (checked on the results too)
        terms += [f"tags:{ESCALATION_TAG}{s}" for s in stages[:-1]]
    if group_id is not None:
        terms.append(f"group:{group_id}")
    elif query.group:
        terms.append(f"group:{_quote_term(query.group)}")
    if query.since:
        terms.append("updated>=" + _search_time(query.since))
    if query.created_since:
        terms.append("created>=" + _search_time(query.created_since))
    # a word already finds the words it starts (Zendesk matches prefixes): `jam*` is `jam`
    terms += ['"' + (w.rstrip("*") or w).replace('"', "") + '"' for w in query.words]
    return " ".join(terms)


def sent_tag(tags: Iterable[str]) -> str | None:
    """The one tag of the query the search is asked for (the others are checked on its results):
    the first made only of letters, digits and `_-.` (no search syntax: `*` would be a wildcard,
    `"` a phrase), if any."""
    return next((t for t in tags if t[:1] != "-" and all(ch.isalnum() or ch in "_-." for ch in t)), None)


def checked_here(query: ListQuery) -> ListQuery | None:
    """The filters of `query` the Search API cannot say, as a query of them alone, to check each
    result with `ListQuery.matches` (the core's rule); None when the search says everything.

    That is every tag when there are several (Zendesk OR's several values of one keyword: one is
    sent), or when none could be sent as a search term (`sent_tag`); the channel and custom fields
    always (the search reference tixcli could read documents no keyword for either); the SLA
    filters (the search gives no SLA: `ZendeskBackend.with_slas`) and open escalations (the
    stages' tags are sent, the stage is checked here) always."""
    tags = len(query.tags) > 1 or (query.tags and sent_tag(query.tags) is None)
    sla = query.breaching or query.due_within is not None
    if tags or query.channel is not None or query.fields or sla or query.escalated:
        return ListQuery(
            user=query.user,
            statuses=None,
            tags=query.tags if tags else (),
            channel=query.channel,
            fields=query.fields,
            breaching=query.breaching,
            due_within=query.due_within,
            escalated=query.escalated,
        )
    return None


def _search_time(when: datetime) -> str:
    """A lower time bound as the Search API takes it: UTC in whole seconds, the first second at or
    after `when` (Zendesk's times are whole seconds, so `>=` that second is exact)."""
    if when.microsecond:
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return to_iso(when).replace("+00:00", "Z")


def status_terms(statuses: Iterable[str]) -> list[str]:
    """`status<solved` for the active statuses (one term), else one `status:x` per status (OR).

    tixcli's STATUSES are in Zendesk's order, the one `status<x` and `status>x` compare in.
    """
    wanted = [s for s in STATUSES if s in set(statuses)]
    if not wanted:
        return ["status:none"]
    if len(wanted) == len(STATUSES):
        return []
    n = len(wanted)
    if wanted == list(STATUSES[:n]):
        return [f"status<{STATUSES[n]}"]
    if wanted == list(STATUSES[-n:]):
        return [f"status>{STATUSES[-n - 1]}"]
    return [f"status:{s}" for s in wanted]


def _details(body: Any) -> list[str]:
    """The human-readable parts of a Zendesk error body."""
    if not isinstance(body, dict):
        return []
    out: list[str] = []
    for key in ("description", "message"):
        if isinstance(body.get(key), str):
            out.append(body[key])
    details = body.get("details")
    if isinstance(details, dict):
        for field, items in details.items():
            for item in items if isinstance(items, list) else [items]:
                desc = item.get("description") if isinstance(item, dict) else item
                if isinstance(desc, str):
                    out.append(f"{field}: {desc}" if field not in desc.lower() else desc)
    if not out and isinstance(body.get("error"), str):
        out.append(body["error"])
    return out


class Paging:
    """The guard on one paged read: a link is followed only to the profile's own origin and only
    once, and only after a page that brought a record not seen before. A server that pages for
    ever (the same page, the same link, or links that never bring anything new) is exit 8."""

    def __init__(self, http, what: str) -> None:
        self.http = http
        self.what = what
        self.followed: set[str] = set()
        self.ids: set[str] = set()

    def fresh(self, ids: Iterable[str]) -> bool:
        """Record the page's ids; True when one of them is new."""
        before = len(self.ids)
        self.ids.update(ids)
        return len(self.ids) > before

    def follow(self, link: Any, fresh: bool) -> str | None:
        """The next page's URL (None at the end)."""
        if not link:
            return None
        if not isinstance(link, str):
            raise UnavailableError(f"Zendesk sent a malformed {self.what} paging link")
        url = self.http.same_origin(link, f"a {self.what} paging link")
        if url in self.followed or not fresh:
            raise UnavailableError(f"Zendesk sent {self.what} pages that bring nothing new (paging for ever?); stopped")
        self.followed.add(url)
        return url


def people_ids(raws: Iterable[dict]) -> list:
    """The user ids tickets name (requester, assignee, CCs): resolved in one batch."""
    return [i for raw in raws for i in (raw.get("requester_id"), raw.get("assignee_id"), *_cc_ids(raw))]


def _cc_ids(raw: dict) -> list:
    ids = raw.get("email_cc_ids")
    if ids is None:
        ids = raw.get("collaborator_ids")
    return list(ids or [])


def _quote_term(value: str) -> str:
    return f'"{value}"' if any(ch.isspace() for ch in value) else value


# -- channel, custom fields, history: reading what Zendesk sends ------------------------------


def channel_of(raw: dict) -> str | None:
    """A record's `via.channel` as one of tixcli's CHANNELS ("other" for the rest); None when it
    has no via. A via or channel of the wrong type is a malformed answer (exit 8)."""
    via = raw.get("via")
    if via is None:
        return None
    if not isinstance(via, dict):
        raise UnavailableError("Zendesk sent a malformed via")
    return via_channel(via.get("channel"))


def via_channel(channel: Any) -> str | None:
    if channel is None:
        return None
    if isinstance(channel, int) and not isinstance(channel, bool):
        return VIA_IDS.get(channel, "other")
    if isinstance(channel, str):
        return VIA_CHANNELS.get(channel.strip().lower(), "other") if len(channel) <= 100 else "other"
    raise UnavailableError("Zendesk sent a malformed via channel")


def _is_rule(via: Any) -> bool:
    return isinstance(via, dict) and via.get("channel") in ("rule", RULE_VIA_ID)


class FieldMeta:
    """What tixcli needs of a custom ticket field: its id, type, title and (drop-down,
    multi-select) options as (name, tag)."""

    __slots__ = ("id", "type", "title", "options")

    def __init__(self, field_id: int, kind: str, title: str, options: tuple[tuple[str, str], ...] = ()) -> None:
        self.id = field_id
        self.type = kind
        self.title = title
        self.options = options


def field_meta(raw: dict) -> FieldMeta:
    """A ticket field record, checked (exit 8 if malformed) and bounded."""
    fid = int(service_id(raw.get("id"), "Zendesk", "ticket field id"))
    kind, title = raw.get("type"), raw.get("title")
    if not isinstance(kind, str) or len(kind) > 64:
        raise UnavailableError(f"Zendesk sent a malformed type for ticket field {fid}")
    options = raw.get("custom_field_options") or []
    if not isinstance(options, list) or len(options) > MAX_OPTIONS:
        raise UnavailableError(f"Zendesk sent malformed options for ticket field {fid}")
    pairs = []
    for option in options:
        name = option.get("name") if isinstance(option, dict) else None
        tag = option.get("value") if isinstance(option, dict) else None
        if not isinstance(name, str) or not isinstance(tag, str) or len(name) > MAX_NAME or len(tag) > MAX_NAME:
            raise UnavailableError(f"Zendesk sent a malformed option of ticket field {fid}")
        pairs.append((name, tag))
    shown = title if isinstance(title, str) and len(title) <= MAX_NAME else str(fid)
    return FieldMeta(fid, kind, shown, tuple(pairs))


_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_DECIMAL = re.compile(r"[+-]?([0-9]{1,18}(\.[0-9]{0,18})?|\.[0-9]{1,18})")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YES = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _numeric_text(value: Any) -> bool:
    return isinstance(value, str) and bool(_DECIMAL.fullmatch(value.strip()))


def _number(value: Any) -> int | None:
    """An id a value names (an int or its digits as text), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    return None


def field_value(meta: FieldMeta, name: str, text: str) -> Any:
    """`--field NAME=TEXT` as the field of `meta` takes it; what it refuses is exit 6 naming it."""
    from tixcli.output import clean

    kind, shown = meta.type, clean(text, one_line=True)[:80]

    def refuse(what: str, hint: str | None = None) -> InvalidInputError:
        return InvalidInputError(f"custom field {name!r} ({meta.title}) {what}, not {shown!r}", hint=hint)

    if kind == "integer":
        if not _INTEGER.fullmatch(text):
            raise refuse("takes a whole number")
        return int(text)
    if kind == "decimal":
        if not _DECIMAL.fullmatch(text):
            raise refuse("takes a number")
        return float(text)
    if kind == "checkbox":
        if text.lower() not in _YES:
            raise refuse("takes true or false", hint="true/false, yes/no or 1/0")
        return _YES[text.lower()]
    if kind == "date":
        try:
            if _DATE.fullmatch(text):
                return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
        raise refuse("takes a date", hint="YYYY-MM-DD")
    if kind in ("tagger", "multiselect"):
        words = [w.strip() for w in text.split(",")] if kind == "multiselect" else [text]
        tags = [_option(meta, w, refuse) for w in words if w]
        if not tags:
            raise refuse("takes one of its options")
        return list(dict.fromkeys(tags)) if kind == "multiselect" else tags[0]
    if len(text) > MAX_FIELD_TEXT:
        raise InvalidInputError(f"custom field {name!r} takes at most {MAX_FIELD_TEXT:,} characters")
    return text


def _option(meta: FieldMeta, word: str, refuse: Callable[..., InvalidInputError]) -> str:
    """The tag of the option `word` names: its tag, or its name (case aside)."""
    for _, tag in meta.options:
        if word == tag:
            return tag
    folded = word.casefold()
    for option_name, tag in meta.options:
        if folded in (tag.casefold(), option_name.casefold()):
            return tag
    some = ", ".join(f"{n} ({t})" for n, t in meta.options[:8]) + (", ..." if len(meta.options) > 8 else "")
    raise refuse("has no such option", hint=f"options: {bounded(some)}" if some else "the field has no options")


def server_value(meta: FieldMeta | None, name: str, value: Any, history: bool = False) -> Any:
    """A custom field's value as Zendesk sent it, as tixcli's model has it (text, number, bool,
    YYYY-MM-DD, a list of tags): by the field's type where known, else by the JSON type. No
    value ("", [], null) is None. What the type cannot be, or a value past the bounds, is a
    malformed answer (exit 8). `history`: an audit event's value (normally text, whatever the
    field's type: "1" for a checkbox, tags space-separated)."""
    if value is None or value == "" or value == []:
        return None

    def bad() -> UnavailableError:
        return UnavailableError(f"Zendesk sent a malformed value for custom field {name!r}")

    kind = meta.type if meta is not None else None
    if kind in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise bad()
        pattern = _INTEGER if kind == "integer" else _DECIMAL
        if isinstance(value, str):
            if not pattern.fullmatch(value.strip()):
                raise bad()
            return int(value) if kind == "integer" else float(value)
        if not math.isfinite(value) or (kind == "integer" and not float(value).is_integer()):
            raise bad()
        return int(value) if kind == "integer" else value
    if kind == "checkbox":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _YES:
            return _YES[value.lower()]
        raise bad()
    if kind == "multiselect":
        items = value.split() if isinstance(value, str) and history else value
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise bad()
        if not all(isinstance(i, str) and 0 < len(i) <= MAX_NAME for i in items):
            raise bad()
        return list(items)
    if kind == "date":
        if not isinstance(value, str) or not _DATE.match(value):
            raise bad()
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            raise bad() from None
    if isinstance(value, str):
        if len(value) > MAX_FIELD_TEXT:
            raise bad()
        return value
    if kind is None or kind in FIELD_TYPES_TEXT or kind == "tagger":
        # a number or flag in a field of unknown type, or in a text field: what was sent
        if isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value)):
            return value if kind is None else str(value)
        if kind is None and isinstance(value, list) and len(value) <= MAX_ITEMS:
            if all(isinstance(i, str) and len(i) <= MAX_NAME for i in value):
                return list(value)
    raise bad()


def audit_from_ticket_event(event: dict) -> dict:
    """An incremental ticket event (one an audit) in the shape of an audit of List Audits, for
    `ZendeskBackend.history_events`. Its via is a name ("Web form", "Rule" with the rule's id in
    `via_reference_id`); a child event names its field by a key of its own (`"status": "open"`)
    or by `field_name`/`value` (both read); the rule's title is not in the export."""
    tid = service_id(event.get("ticket_id"), "Zendesk", "ticket id")
    when = event.get("created_at")
    at = service_time(when, "Zendesk") if when else service_time(event.get("timestamp"), "Zendesk", epoch_divisor=1)
    events = []
    children = records(event, "child_events", "Zendesk")
    if len(children) > MAX_EVENTS:
        raise UnavailableError(f"Zendesk sent more than {MAX_EVENTS:,} events in one update of ticket {tid}")
    for child in children:
        kind = child.get("event_type") or child.get("type")
        via = _via_object(child.get("via"), child.get("via_reference_id")) if "via" in child else None
        if kind in ("Create", "Change"):
            name = child.get("field_name")
            if not isinstance(name, str):
                keys = [k for k in child if k not in _CHILD_KEYS]
                name = keys[0] if len(keys) == 1 else None
            value = child["value"] if "value" in child else child.get(name) if name else None
            item = {"type": kind, "field_name": name, "value": value, "previous_value": child.get("previous_value")}
        else:
            item = {**child, "type": kind}
        item["via"] = via
        events.append(item)
    return {
        "id": event.get("id"),
        "ticket_id": tid,
        "created_at": at,
        "author_id": event.get("updater_id"),
        "via": _via_object(event.get("via"), event.get("via_reference_id")),
        "events": events,
    }


# keys of a ticket event's child that are not the field a Create or Change names
_CHILD_KEYS = {
    "id", "via", "via_reference_id", "event_type", "type", "field_name", "value", "previous_value", "added_tags",
    "removed_tags", "created_at", "audit_id", "author_id", "comment_present", "comment_public",
}  # fmt: skip


def sla_of(raw: dict) -> dict[str, dict] | None:
    """A ticket record's side-loaded SLA policy metrics (`slas.policy_metrics`) as tixcli's
    clocks; None where it has none (no policy applies, or none was side-loaded). `breach_at` is
    the target; `achieved` is met, `paused` paused (its target null), an active metric past its
    `breach_at` (or a "breached" stage) is breached at its breach_at. Zendesk gives no time of
    meeting: met_at is null."""
    from tixcli.model import parse_iso, utcnow
    from tixcli.sla import clock

    slas = raw.get("slas")
    if slas is None:
        return None
    metrics = slas.get("policy_metrics") if isinstance(slas, dict) else None
    if metrics is None:
        return None
    if not isinstance(metrics, list) or len(metrics) > MAX_SLA_METRICS:
        raise UnavailableError("Zendesk sent malformed SLA policy metrics")
    names = {m.get("metric") for m in metrics if isinstance(m, dict)}
    now = utcnow()
    out: dict[str, dict] = {}
    for m in metrics:
        name = m.get("metric") if isinstance(m, dict) else None
        if not isinstance(name, str) or not 0 < len(name) <= 100:
            raise UnavailableError("Zendesk sent malformed SLA policy metrics")
        key = SLA_METRICS.get(name, name)
        if name == "agent_work_time" and "full_resolution_time" not in names:
            key = "resolution"
        stage = m.get("stage")
        breach = service_time(m.get("breach_at"), "Zendesk") if m.get("breach_at") is not None else None
        if stage == "achieved":
            c = clock(breach, "met")
        elif stage == "paused":
            c = clock(None, "paused")
        elif stage in ("active", "breached"):
            late = stage == "breached" or (breach is not None and parse_iso(breach) <= now)
            c = clock(breach, "breached", breached_at=breach) if late else clock(breach, "active")
        else:
            continue  # a stage tixcli does not know: not a clock it can say anything of
        out.setdefault(key, c)
    return out or None


def satisfaction_of(raw: dict) -> dict | None:
    """A ticket record's `satisfaction_rating`: good or bad with its comment; None while only
    offered (or unoffered), and where CSAT is off (null). The ticket's rating has no time."""
    rating = raw.get("satisfaction_rating")
    if rating is None:
        return None
    if not isinstance(rating, dict):
        raise UnavailableError("Zendesk sent a malformed satisfaction rating")
    score = rating.get("score")
    if score not in RATINGS:
        return None
    comment = rating.get("comment")
    return {"rating": score, "comment": _text(comment) or None, "rated_at": None}


def stage_in(tags: Iterable[str], stages: tuple[str, ...]) -> str | None:
    """The escalation stage a ticket's tags say (its ESCALATION_TAG tag), None if none."""
    found = [t[len(ESCALATION_TAG) :] for t in tags if t.startswith(ESCALATION_TAG)]
    return next((s for s in stages if s in found), found[0][:64] if found else None)


def eta_in(tags: Iterable[str]) -> str | None:
    return next((t[len(ETA_TAG) :] for t in tags if t.startswith(ETA_TAG) and _DAY.fullmatch(t[len(ETA_TAG) :])), None)


def escalation_timeline(audits: list[dict], stages: tuple[str, ...]) -> list[dict]:
    """The stages the ticket's tags went through since its problem_id last changed (a new
    escalation starts a new timeline), each at its audit's time."""
    steps: list[dict] = []
    ordered = sorted(
        (a for a in audits if isinstance(a, dict)),
        key=lambda a: (service_time(a.get("created_at"), "Zendesk") or "", _number(a.get("id")) or 0),
    )
    for audit in ordered:
        at = service_time(audit.get("created_at"), "Zendesk")
        events = [e for e in records(audit, "events", "Zendesk") if e.get("type") in ("Create", "Change")]
        if any(e.get("field_name") == "problem_id" for e in events):
            steps = []
        for e in events:
            if e.get("field_name") != "tags":
                continue
            new, old = (stage_in(_tag_list(e.get(k)), stages) for k in ("value", "previous_value"))
            if new is not None and new != old:
                steps.append({"stage": new, "at": at})
    return steps


def _tag_list(value: Any) -> list[str]:
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list):
        return []
    return [t for t in items[:MAX_ITEMS] if isinstance(t, str)]


def _via_object(via: Any, reference: Any) -> dict | None:
    """A via as a via object: the export's names ("Rule", "Web service") mapped back."""
    if via is None or isinstance(via, dict):
        return via
    if not isinstance(via, str) or len(via) > 100:
        raise UnavailableError("Zendesk sent a malformed via in the ticket events")
    channel = VIA_DISPLAY.get(via.strip().lower(), via.strip().lower().replace(" ", "_"))
    if channel != "rule":
        return {"channel": channel}
    rule_id = _number(reference)
    return {"channel": "rule", "source": {"from": {"id": rule_id} if rule_id is not None else {}, "rel": None}}


def _text(value: Any, limit: int = MAX_FIELD_TEXT) -> str | None:
    """A text value of a history event (None when absent); not text, or too long: exit 8."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise UnavailableError("Zendesk sent a malformed value in a ticket's history")
    return value


def _plain(value: Any) -> Any:
    """A value of an "other" event as the history's old/new may hold it (text cut to 1,000
    characters, a number, a flag, a list of texts); anything else None."""
    if isinstance(value, str):
        return value if len(value) <= 1000 else value[:999] + "…"
    if isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value)):
        return value
    if isinstance(value, list) and len(value) <= MAX_ITEMS and all(isinstance(v, str) for v in value):
        return [_plain(v) for v in value]
    return None


class _History:
    """One ticket's audits as history events (see the module docstring): who from each event's
    via (or its audit's) and the user's role, the values as tixcli's model has them."""

    def __init__(self, backend: ZendeskBackend, requester_id: int | None) -> None:
        self.backend = backend
        self.requester = requester_id
        self.mapped = {fid: name for name, fid in backend._field_ids.items()}
        self.stages = backend.escalation_stages()
        self.problem: str | None = None  # the escalation's problem ticket, as the audits go
        self.rating: str | None = None  # the rating so far

    def events(self, audits: list[dict]) -> list[HistoryEvent]:
        for audit in audits:
            if not isinstance(audit, dict):
                raise UnavailableError("Zendesk sent a malformed audit")
        ordered = sorted(
            audits, key=lambda a: (service_time(a.get("created_at"), "Zendesk") or "", _number(a.get("id")) or 0)
        )
        self.requester = self._first_requester(ordered) or self.requester
        out: list[HistoryEvent] = []
        created = False
        for audit in ordered:
            at = service_time(audit.get("created_at"), "Zendesk")
            items = records(audit, "events", "Zendesk")
            if len(items) > MAX_EVENTS:
                raise UnavailableError(f"Zendesk sent more than {MAX_EVENTS:,} events in one audit")
            author, via = audit.get("author_id"), audit.get("via")
            if via is not None and not isinstance(via, dict):
                raise UnavailableError("Zendesk sent an audit with a malformed via")
            if not created and any(e.get("type") == "Create" for e in items):
                created = True
                subject = next(
                    (e.get("value") for e in items if e.get("type") == "Create" and e.get("field_name") == "subject"),
                    None,
                )
                actor, by, extra = self.who(author, via)
                channel = via_channel(via.get("channel")) if isinstance(via, dict) else None
                detail = {**({"channel": channel} if channel else {}), **extra}
                out.append(HistoryEvent(at, "created", actor, by, new=_text(subject), detail=detail))
            for event in items:
                if event.get("field_name") == "problem_id" and event.get("type") in ("Create", "Change"):
                    pid = _number(event.get("value"))
                    self.problem = str(pid) if pid is not None else None
            for event in items:
                out += self.event(at, author, via, event)
        return out

    def _first_requester(self, audits: list[dict]) -> int | None:
        """Who requested the ticket at first: the first requester change's old value, else its
        creation's requester."""
        first = None
        for audit in audits:
            for event in audit.get("events") or []:
                if not isinstance(event, dict) or event.get("field_name") != "requester_id":
                    continue
                if event.get("type") == "Change":
                    return _number(event.get("previous_value"))
                if event.get("type") == "Create" and first is None:
                    first = _number(event.get("value"))
        return first

    def who(self, user: Any, via: Any) -> tuple[str | None, str | None, dict[str, Any]]:
        """(actor, by, detail) of an event by `user` through `via`: a rule's title for what a rule
        did, the user's email otherwise."""
        if _is_rule(via):
            source = via.get("source")
            source = source if isinstance(source, dict) else {}
            origin = source.get("from")
            origin = origin if isinstance(origin, dict) else {}
            title = origin.get("title")
            title = title if isinstance(title, str) and 0 < len(title) <= MAX_NAME else None
            extra: dict[str, Any] = {"rule": title} if title else {}
            if _number(origin.get("id")) is not None:
                extra["rule_id"] = str(_number(origin.get("id")))
            if source.get("rel") in ("trigger", "automation"):
                extra["rule_type"] = source["rel"]
            return title, "automatic", extra
        if user == -1:  # the system: an automation, a closing
            return None, "automatic", {}
        uid = self.backend._user_id(user)
        if uid is None:
            return None, None, {}
        role = self.backend._roles.get(uid)
        by = (
            "agent"
            if role in ("agent", "admin")
            else "requester"
            if role == "end-user" and uid == self.requester
            else None
        )
        return self.backend._email(uid), by, {}

    def event(self, at: str | None, author: Any, audit_via: Any, event: dict) -> list[HistoryEvent]:
        kind = event.get("type")
        via = event.get("via")
        if via is not None and not isinstance(via, dict):
            raise UnavailableError("Zendesk sent an audit event with a malformed via")
        via = via or audit_via
        if kind == "Create":
            return []  # the ticket's first values: its "created" event stands for them
        if kind in ("Comment", "VoiceComment"):
            actor, by, extra = self.who(event.get("author_id", author), via)
            cid = service_id(event["id"], "Zendesk", "comment id") if event.get("id") is not None else None
            detail = {"comment_id": cid, "public": bool(event.get("public", True)), **extra}
            out = [HistoryEvent(at, "comment", actor, by, detail=detail)]
            for attachment in records(event, "attachments", "Zendesk")[:MAX_ITEMS]:
                name = _text(attachment.get("file_name"), MAX_NAME)
                out.append(HistoryEvent(at, "attachment", actor, by, new=name, detail={"comment_id": cid}))
            return out
        actor, by, extra = self.who(author, via)
        if kind == "SatisfactionRating":
            score = event.get("score")
            rated = score if score in RATINGS else None
            before, self.rating = self.rating, rated
            detail = {"comment": _plain(event.get("body")) or None, **extra}
            return [HistoryEvent(at, "rating", actor, by, old=before, new=rated, detail=detail)]
        if kind == "Change" and event.get("field_name") == "tags":
            old_tags, new_tags = self.tags(event.get("previous_value")), self.tags(event.get("value"))
            out = []
            was, now = stage_in(old_tags, self.stages), stage_in(new_tags, self.stages)
            eta = eta_in(new_tags)
            if now is not None and (was != now or eta != eta_in(old_tags)):
                detail = {"id": self.problem, "eta": eta, **extra}
                out.append(HistoryEvent(at, "escalation", actor, by, old=was, new=now, detail=detail))
            return [*out, HistoryEvent(at, "tags", actor, by, old=old_tags, new=new_tags, detail=extra)]
        if kind == "Change":
            change = self.change(at, actor, by, extra, event)
            if event.get("field_name") == "requester_id":
                self.requester = _number(event.get("value"))
            return [change]
        if kind in NOTIFICATIONS:
            detail = {"type": kind, "recipients": self.people(event.get("recipients")), **extra}
            if isinstance(via, dict) and isinstance(via.get("channel"), str):
                detail["via"] = via["channel"][:100]
            subject = event.get("subject")
            if isinstance(subject, str):
                detail["subject"] = _plain(subject)
            return [HistoryEvent(at, "notification", actor, by, detail=detail)]
        if kind == "EmailCcChange":
            old, new = self.people(event.get("previous_email_ccs")), self.people(event.get("current_email_ccs"))
            return [HistoryEvent(at, "cc", actor, by, old=old, new=new, detail=extra)]
        shown = kind[:100] if isinstance(kind, str) else None
        return [HistoryEvent(at, "other", actor, by, detail={"type": shown, **extra})]

    def change(self, at: str | None, actor: str | None, by: str | None, extra: dict, event: dict) -> HistoryEvent:
        name, value, old = event.get("field_name"), event.get("value"), event.get("previous_value")
        backend = self.backend
        simple = {
            "status": lambda v: v if v in STATUSES else _text(v, 100),
            "priority": lambda v: v if v in PRIORITIES else None,
            "type": lambda v: v if v in TYPES else None,
            "subject": _text,
            "requester_id": self.person,
            "assignee_id": self.person,
            "group_id": self.group,
            "tags": self.tags,
        }
        if name in simple:
            change = name.removesuffix("_id") if name in ("requester_id", "assignee_id", "group_id") else name
            convert = simple[name]
            return HistoryEvent(at, change, actor, by, old=convert(old), new=convert(value), detail=extra)
        if name in ("email_cc_ids", "collaborator_ids"):
            return HistoryEvent(at, "cc", actor, by, old=self.people(old), new=self.people(value), detail=extra)
        fid = _number(name)
        if fid is not None and fid in self.mapped:
            field = self.mapped[fid]
            meta = backend._field_meta.get(fid)
            return HistoryEvent(
                at,
                "field",
                actor,
                by,
                field=field,
                old=server_value(meta, field, old, history=True),
                new=server_value(meta, field, value, history=True),
                detail=extra,
            )
        shown = name[:100] if isinstance(name, str) else None
        return HistoryEvent(
            at, "other", actor, by, old=_plain(old), new=_plain(value), detail={"field_name": shown, **extra}
        )

    def person(self, value: Any) -> str | None:
        uid = _number(value)
        return None if uid is None else self.backend._email(uid)

    def people(self, values: Any) -> list[str]:
        """Users named by id, email or a user object: their emails, sorted."""
        if values is None:
            return []
        if not isinstance(values, list):
            raise UnavailableError("Zendesk sent a malformed list of people in a ticket's history")
        found = set()
        for value in values[:MAX_ITEMS]:
            if isinstance(value, dict):
                value = (
                    value.get("id") if value.get("id") is not None else value.get("email") or value.get("user_email")
                )
            if isinstance(value, str) and "@" in value:
                found.add(value[:254].lower())
            elif _number(value) is not None:
                found.add(self.person(value) or str(value))
        return sorted(found)

    def group(self, value: Any) -> str | None:
        gid = _number(value)
        return None if gid is None else self.backend._groups.get(gid, str(gid))

    def tags(self, value: Any) -> list[str]:
        if value is None:
            return []
        items = value.split() if isinstance(value, str) else value
        if not isinstance(items, list) or len(items) > MAX_ITEMS or not all(isinstance(t, str) for t in items):
            raise UnavailableError("Zendesk sent malformed tags in a ticket's history")
        return [t[:MAX_NAME] for t in items]
