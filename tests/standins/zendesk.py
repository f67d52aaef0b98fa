"""A Zendesk Support stand-in: tickets, comments, uploads, users, search and incremental export.

It follows Zendesk's published API (the OpenAPI spec in ../shared/specs and developer.zendesk.com)
plus what live Zendesk does beyond the spec (../shared/api-notes.md): the lifecycle rules on
update, Idempotency-Key on create, the paging limits of each endpoint, admin-only incremental
export with its rate limit. Paths are accepted with and without the ``.json`` suffix.

State is plain dicts, open for assertions: ``tickets``, ``comments`` (per ticket id), ``users``,
``groups``, ``uploads``, ``attachments``, ``audits``. They mirror the JSON except that timestamps
are epoch seconds (int). Mutate them only under ``server.lock``.

Attachment content: ``content_url`` is on the account's own host (``/attachments/token/T/?name=N``);
with a ``file_host`` set (a `FileHost`, the second loopback server tests start, over TLS where
they give a certificate), it answers 302 with a temporary URL there, as live Zendesk does ("Zendesk
responds with a 302 and a Location header containing a temporary download URL"; files may be
hosted elsewhere); without one it serves the bytes itself. ``private_attachments`` makes the
content URL need the API credentials (secure downloads).

Time comes from ``server.now()`` (settable). Every change gets a stamp strictly greater than the
last one, so two updates within one second still order correctly; a burst of N changes can run
the stamps up to N seconds ahead of the wall clock.
"""

from __future__ import annotations

import base64
import binascii
import collections
import html
import itertools
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime, timezone
from urllib.parse import quote, urlencode

from .base import FileHost as FileHostBase
from .base import HTTPError, Request, Response, StandInServer

J = r"(?:\.json)?"  # zenpy and the docs use "/tickets.json"; the spec has "/tickets"
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_TYPES = ("problem", "incident", "question", "task")
AGENT_ROLES = ("agent", "admin")
AUDITED = (
    "subject", "status", "priority", "type", "requester_id", "assignee_id", "group_id", "tags", "external_id",
    "due_at", "problem_id",
)  # fmt: skip
# (custom fields get one event each, named by the field's id; a change of CCs an EmailCcChange)
#: the custom ticket fields every reset seeds (name -> id), one of each type tixcli converts
SEEDED_FIELDS = {
    "service": 50_000_001, "department": 50_000_002, "products": 50_000_003, "vip": 50_000_004,
    "seats": 50_000_005, "amount": 50_000_006, "renewal": 50_000_007,
}  # fmt: skip
#: the via of everything written through the API ("API - ticket endpoints": source null)
API_VIA = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
CLOSE_AUTOMATION = 360_000_201  # the default automation that closes solved tickets
NOTIFY_TRIGGER = 360_000_301  # the default trigger "Notify requester and CCs of comment update"


def rule_via(rule_id: int, title: str, kind: str) -> dict:
    """The via of what a business rule did (Via object reference: "Business rule (trigger)":
    from: id, title, deleted; rel: trigger or automation)."""
    source = {"from": {"id": rule_id, "title": title, "deleted": False}, "to": {}, "rel": kind}
    return {"channel": "rule", "source": source}


#: via.channel as the via types reference's "Ticket created by" column names it, for seeding
CHANNELS = ("web", "email", "api", "chat", "native_messaging", "voice", "mobile_sdk", "twitter", "sms", "sample_ticket")

IDEMPOTENCY_WINDOW = 2 * 3600  # "about 2 hours" (api-notes.md)
UPLOAD_TOKEN_TTL = 3600  # upload tokens are valid for 60 minutes
SEARCH_MAX_RESULTS = 1000
INCREMENTAL_REQUESTS_PER_MINUTE = 10

CLOSED_ERROR = {
    "error": "RecordInvalid",
    "description": "Record validation errors",
    "details": {"status": [{"description": "Status: closed prevents ticket update"}]},
}
NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
FORBIDDEN = {
    "error": "Forbidden",
    "description": "You do not have access to this page. Please contact the account owner of this help desk "
    "for further help.",
}


def iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_epoch(value) -> int:
    """Epoch seconds from an int, a datetime, or an ISO 8601 date / date-time string."""
    if isinstance(value, bool):
        raise TypeError("not a time")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp())
    raise TypeError(f"not a time: {value!r}")


def invalid(field: str, description: str) -> HTTPError:
    """Zendesk's 422 for a rejected field."""
    return HTTPError(
        422,
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {field: [{"description": description, "error": "InvalidValue"}]},
        },
    )


def bad_request(error: str, description: str) -> HTTPError:
    return HTTPError(400, {"error": error, "description": description})


_DROPPED = object()  # a custom field value Zendesk drops without an error (no such option)


#: how the ticket events export names a via (a display name, not the via object's channel)
VIA_NAMES = {"api": "Web service", "web": "Web form", "email": "Mail", "rule": "Rule", "voice": "Phone call (incoming)"}


def _via_name(via: dict) -> tuple[str, int | None]:
    """A via object as the ticket events export gives it: its name, and the rule's id for a rule."""
    channel = via.get("channel")
    source = via.get("source") or {}
    reference = (source.get("from") or {}).get("id") if channel == "rule" else None
    return VIA_NAMES.get(channel, str(channel).replace("_", " ").title()), reference


def _event_value(field: str, value):
    """A ticket property as an audit event gives it: ids as text ("value is normally a string";
    tags a list)."""
    if field.endswith("_id") and value is not None:
        return str(value)
    if field == "due_at" and value is not None:
        return iso(value)
    return value


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _oldest_first(comment: dict) -> tuple:
    return (comment["created_at"], comment["id"])


def _encode_cursor(key: Iterable) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_cursor(cursor: str) -> tuple:
    try:
        return tuple(json.loads(base64.urlsafe_b64decode(cursor.encode())))
    except (ValueError, binascii.Error, TypeError):
        raise bad_request("InvalidPaginationParameter", "The cursor is invalid") from None


class ZendeskStandIn(StandInServer):
    """Zendesk Support over HTTP on 127.0.0.1. Switches (restored by ``reset()``):

    - ``admin``: the agent is an admin (incremental export answers 403 otherwise).
    - ``auto_assign_on_solve``: solving an unassigned ticket assigns the solving agent (the
      account setting); when False the update is refused with 422 on ``assignee``.
    - ``rate_limit_incremental``: enforce 10 requests a minute on the incremental exports.
    - ``incremental_excludes_last_minute``: like live Zendesk, leave the most recent minute out of
      the incremental export and refuse a ``start_time`` less than a minute old. Off by default:
      tests create tickets and export them within the same second, and would see nothing.
    - ``now``: the clock, a function returning epoch seconds (default ``time.time``); or
      ``clock = server.freeze(at)`` for a clock that moves only by ``clock.advance(seconds)``.
    - ``ticket_events_per_page``: events a ticket events page holds (1,000 on Zendesk); smaller
      in tests of the paging.
    - ``file_host``: a started `FileHost`; content URLs then redirect there (None: served here).
    - ``private_attachments``: content URLs need the API credentials, as with secure downloads.

    A new ticket that gets an assignee (on create or on update) becomes open, as on Zendesk.
    """

    def __init__(self, agent_email: str = "agent@example.com", token: str = "zd-test-token-123", admin=True):
        self.agent_email = agent_email
        self.token = token
        self._admin_default = admin
        super().__init__()

    # -- state --
    def reset_state(self) -> None:
        self.now: Callable[[], float] = time.time
        self.ticket_events_per_page = 1000
        self.admin = self._admin_default
        self.auto_assign_on_solve = True
        self.rate_limit_incremental = False
        self.incremental_excludes_last_minute = False
        self.file_host: FileHost | None = None
        self.private_attachments = False

        self.users: dict[int, dict] = {}
        self._user_by_email: dict[str, int] = {}
        self.groups: dict[int, dict] = {}
        self.tickets: dict[int, dict] = {}
        self.comments: dict[int, list[dict]] = {}  # by ticket id, oldest first
        self.audits: dict[int, list[dict]] = {}  # by ticket id, oldest first
        self.uploads: dict[str, dict] = {}  # token -> {"attachment_ids": [...], "created_at": ts}
        self.attachments: dict[int, dict] = {}  # id -> metadata + "data" bytes
        self.idempotency: dict[str, dict] = {}  # Idempotency-Key -> first create
        self._incremental_calls: collections.deque[float] = collections.deque()
        self._last_stamp = 0
        # Separate id ranges, so that mixing up a comment id with a ticket id cannot pass by luck.
        self._ids = {
            "user": itertools.count(1),
            "ticket": itertools.count(1),
            "group": itertools.count(360001),
            "comment": itertools.count(10_000_001),
            "audit": itertools.count(20_000_001),
            "event": itertools.count(30_000_001),
            "attachment": itertools.count(40_000_001),
            "option": itertools.count(60_000_001),
        }
        # Custom ticket fields (id -> the field's JSON); the options of a drop-down or multi-select
        # are {id, name, value}: `value` is the tag the API takes and gives.
        self.ticket_fields: dict[int, dict] = {}
        self.notify_on_comment = False  # the default trigger "Notify requester and CCs of comment update"
        # SLA policy targets by priority: {priority: {metric: minutes}} (metrics first_reply_time,
        # full_resolution_time, agent_work_time); empty: the account has no SLA policy
        self.sla_targets: dict[str, dict[str, int]] = {}
        self.csat = True  # customer satisfaction ratings are on (the ticket's satisfaction_rating)

        self.agent_id = self.add_user(self.agent_email, "Support Agent", role="admin" if self.admin else "agent")
        for email, name in (
            ("customer@example.com", "Customer"),
            ("lead@example.com", "Lead"),
            ("dev@example.com", "Dev"),
        ):
            self.add_user(email, name)
        gid = next(self._ids["group"])
        stamp = self._stamp()
        self.groups[gid] = {
            "id": gid,
            "name": "Support",
            "default": True,
            "created_at": stamp,
            "updated_at": stamp,
        }
        self.users[self.agent_id]["default_group_id"] = gid
        departments = [
            ("Commercial", "dept_commercial"), ("Technical support", "dept_technical"), ("Billing", "dept_billing"),
        ]  # fmt: skip
        products = [("Hosting", "hosting"), ("Domains", "domains"), ("E-mail", "email_service")]
        for name, (title, kind, extra) in zip(
            SEEDED_FIELDS,
            [
                ("Service", "text", {}),
                ("Department", "tagger", {"options": departments}),
                ("Products", "multiselect", {"options": products}),
                ("Priority customer", "checkbox", {"tag": "priority_customer"}),
                ("Seats", "integer", {}),
                ("Amount", "decimal", {}),
                ("Renewal date", "date", {}),
            ],
            strict=True,
        ):
            self.add_ticket_field(title, kind, field_id=SEEDED_FIELDS[name], **extra)

    def _stamp(self) -> int:
        """A time stamp strictly after every earlier one (see the module docstring)."""
        stamp = max(int(self.now()), self._last_stamp + 1)
        self._last_stamp = stamp
        return stamp

    def freeze(self, at: float | None = None) -> Clock:
        """Stop the clock at `at` (default: now); it moves only when the test advances it."""
        clock = Clock(self.now() if at is None else at)
        self.now = clock
        return clock

    def _latest(self) -> int:
        """The stand-in's present: its clock, or the last stamp when a burst ran the stamps ahead."""
        return max(int(self.now()), self._last_stamp)

    @property
    def base(self) -> str:
        return self.url if self._httpd else "http://127.0.0.1"

    # -- helpers for tests --
    def add_user(self, email: str, name: str | None = None, role: str = "end-user") -> int:
        with self.lock:
            uid = next(self._ids["user"])
            stamp = int(self.now())  # not a ticket change: does not move the ticket clock
            self.users[uid] = {
                "id": uid,
                "name": name or email.split("@")[0].replace(".", " ").title(),
                "email": email.lower(),
                "role": role,
                "active": True,
                "verified": True,
                "external_id": None,
                "created_at": stamp,
                "updated_at": stamp,
            }
            self._user_by_email[email.lower()] = uid
            return uid

    def user_id(self, email: str) -> int | None:
        return self._user_by_email.get(email.lower())

    def ticket_count(self, include_deleted: bool = False) -> int:
        with self.lock:
            return sum(1 for t in self.tickets.values() if include_deleted or not t["deleted"])

    def seed_tickets(self, n: int, **fields) -> list[int]:
        """Create n tickets directly in the state (no HTTP); 10,000 take a fraction of a second.

        Fields: subject, description, status, priority, type, tags, requester (email),
        requester_id, assignee (email), assignee_id, group_id, external_id, public, email_ccs
        (emails), custom_fields (as the ticket JSON lists them: [{id, value}], stored as given),
        channel (a via channel such as "email", or a whole via object), created_at, updated_at
        (epoch, ISO string or datetime). A callable value is called with the ticket's index
        (0..n-1). All share one time stamp unless given. Returns the new ids.
        """
        allowed = {
            "subject", "description", "status", "priority", "type", "tags", "requester", "requester_id",
            "assignee", "assignee_id", "group_id", "external_id", "public", "email_ccs", "custom_fields",
            "channel", "created_at", "updated_at",
        }  # fmt: skip
        unknown = set(fields) - allowed
        if unknown:
            raise TypeError(f"seed_tickets: unknown fields {sorted(unknown)}")
        ids = []
        with self.lock:
            stamp = self._stamp()
            for i in range(n):
                f = {k: (v(i) if callable(v) else v) for k, v in fields.items()}
                tid = next(self._ids["ticket"])
                created = to_epoch(f["created_at"]) if "created_at" in f else stamp
                updated = to_epoch(f["updated_at"]) if "updated_at" in f else created
                self._last_stamp = max(self._last_stamp, updated)
                requester = f.get("requester_id") or (
                    self._user_for_email(f["requester"]) if f.get("requester") else self.agent_id
                )
                assignee = f.get("assignee_id") or (self._user_for_email(f["assignee"]) if f.get("assignee") else None)
                status = f.get("status") or ("open" if assignee else "new")
                if status in ("solved", "closed") and assignee is None:
                    assignee = self.agent_id
                subject = f.get("subject", f"Seeded ticket {tid}")
                body = f.get("description", f"Description of seeded ticket {tid}")
                public = f.get("public", True)
                t = self._new_ticket(tid, created)
                t.update(
                    subject=subject,
                    raw_subject=subject,
                    description=body,
                    status=status,
                    priority=f.get("priority"),
                    type=f.get("type"),
                    tags=self._tags(f.get("tags")),
                    requester_id=requester,
                    submitter_id=self.agent_id,
                    assignee_id=assignee,
                    group_id=f.get("group_id") or (self._default_group(assignee) if assignee else None),
                    external_id=f.get("external_id"),
                    custom_fields=list(f.get("custom_fields") or []),
                    email_cc_ids=[self._user_for_email(e) for e in f.get("email_ccs") or []],
                    updated_at=updated,
                    is_public=public,
                )
                channel = f.get("channel")
                if channel is not None:
                    t["via"] = channel if isinstance(channel, dict) else {**API_VIA, "channel": channel}
                if assignee:
                    t["metrics"].update(assigned_at=created, initially_assigned_at=created)
                if status in ("solved", "closed"):
                    t["solved_at"] = t["metrics"]["solved_at"] = updated
                t["metrics"]["status_updated_at"] = updated
                self.tickets[tid] = t
                comment = self._new_comment(tid, self.agent_id, body, public, [], created)
                self.comments[tid] = [comment]
                created_events = [
                    self._create_event(t, "subject", subject),
                    self._create_event(t, "status", status),
                    self._create_event(t, "requester_id", str(requester)),
                    comment,
                ]
                self.audits[tid] = [self._audit(tid, created, self.agent_id, created_events, via=t["via"])]
                ids.append(tid)
        return ids

    def seed_comments(
        self,
        ticket_ids: Iterable[int],
        per_ticket: int = 1,
        *,
        author: int | str | Callable[[int, int], int | str] | None = None,
        body: str | Callable[[int, int], str] | None = None,
        public: bool = True,
        at: Callable[[int, int], object] | None = None,
    ) -> list[int]:
        """Add `per_ticket` comments to each ticket directly in the state (no HTTP), each in an
        audit of its own as a comment through the API makes, moving the ticket's updated_at.

        author: a user id or email (default: the agent); body: the text; at: the time (epoch, ISO
        string or datetime; default: a new stamp each). A callable is called with (the ticket's
        index in ticket_ids, the comment's index 0..per_ticket-1). Returns the comment ids.
        """
        made = []
        with self.lock:
            for i, tid in enumerate(ticket_ids):
                t = self.tickets[tid]
                for j in range(per_ticket):
                    who = author(i, j) if callable(author) else author
                    uid = self.agent_id if who is None else (who if isinstance(who, int) else self._user_for_email(who))
                    text = body(i, j) if callable(body) else (body or f"Comment {j + 2} on ticket {tid}")
                    when = at(i, j) if at is not None else None
                    stamp = to_epoch(when) if when is not None else self._stamp()
                    self._last_stamp = max(self._last_stamp, stamp)
                    c = self._new_comment(tid, uid, text, public, [], stamp)
                    self.comments[tid].append(c)
                    t["metrics"]["latest_comment_added_at"] = stamp
                    t["updated_at"] = max(t["updated_at"], stamp)
                    if public:
                        t["is_public"] = True
                    self.audits[tid].append(self._audit(tid, stamp, uid, [c]))
                    made.append(c["id"])
        return made

    def mark_deleted(self, ticket_id: int) -> None:
        """Soft-delete a ticket: gone from the API, listed in incremental export as "deleted"."""
        with self.lock:
            t = self.tickets[ticket_id]
            stamp = self._stamp()
            t["deleted"] = True
            t["updated_at"] = stamp
            self.audits[ticket_id].append(
                self._audit(ticket_id, stamp, self.agent_id, [self._change("status", t["status"], "deleted")])
            )

    def close(self, ticket_id: int) -> None:
        """Close a ticket as the account's automation does (4 days after solving, by default): an
        audit by the system (author -1) whose via names the automation."""
        with self.lock:
            t = self.tickets[ticket_id]
            stamp = self._stamp()
            events = [self._change("status", t["status"], "closed")]
            t["status"] = "closed"
            t["updated_at"] = t["metrics"]["status_updated_at"] = stamp
            if t["solved_at"] is None:
                t["solved_at"] = t["metrics"]["solved_at"] = stamp
            via = rule_via(CLOSE_AUTOMATION, "Close ticket 4 days after status is set to solved", "automation")
            self.audits[ticket_id].append(self._audit(ticket_id, stamp, -1, events, via=via))

    def apply_rule(
        self, ticket_id: int, title: str, kind: str = "trigger", rule_id: int = 360_000_101, **changes
    ) -> None:
        """A business rule changes the ticket, as Zendesk records it: a trigger's changes join the
        last audit (the update that fired it), each event with a via of its own naming the trigger;
        an automation's make an audit of their own by the system (author -1, the audit's via names
        it). Changes: status, priority, type, group_id, assignee_id, tags (values as stored)."""
        with self.lock:
            t = self.tickets[ticket_id]
            via = rule_via(rule_id, title, kind)
            events = []
            for field, value in changes.items():
                if field not in AUDITED:
                    raise TypeError(f"apply_rule: {field} is not an audited field")
                events.append(self._change(field, t[field], value))
                t[field] = value
            if kind == "trigger":
                for e in events:
                    e["via"] = via
                self.audits[ticket_id][-1]["events"].extend(events)
            else:
                stamp = self._stamp()
                t["updated_at"] = stamp
                self.audits[ticket_id].append(self._audit(ticket_id, stamp, -1, events, via=via))

    def set_sla_policy(self, targets: dict[str, dict[str, int]]) -> None:
        """One SLA policy (calendar hours) with targets in minutes per priority:
        ``{"urgent": {"first_reply_time": 30, "full_resolution_time": 120}}``. A ticket of a
        priority the policy names gets its metrics (``include=slas``); the others none."""
        with self.lock:
            self.sla_targets = {p: dict(m) for p, m in targets.items()}

    def add_ticket_field(
        self,
        title: str,
        kind: str,
        field_id: int | None = None,
        options: Iterable[tuple[str, str]] = (),
        tag: str | None = None,
        active: bool = True,
    ) -> int:
        """A custom ticket field of type `kind` (text, textarea, integer, decimal, date, checkbox,
        tagger, multiselect, regexp...); `options`: (name, tag) of a drop-down or multi-select."""
        with self.lock:
            fid = field_id or max([*self.ticket_fields, 50_000_100]) + 1
            stamp = int(self.now())
            self.ticket_fields[fid] = {
                "id": fid,
                "type": kind,
                "title": title,
                "active": active,
                "tag": tag,
                "created_at": stamp,
                "updated_at": stamp,
                "options": [
                    {"id": next(self._ids["option"]), "name": name, "value": value, "position": i}
                    for i, (name, value) in enumerate(options)
                ],
            }
            return fid

    # -- HTTP plumbing --
    def setup_routes(self) -> None:
        r = self.route
        tid = r"/api/v2/tickets/(?P<ticket_id>\d+)"
        r("POST", rf"/api/v2/tickets{J}", self.create_ticket)
        r("GET", rf"/api/v2/tickets{J}", self.list_tickets)
        r("GET", rf"/api/v2/tickets/count{J}", self.count_tickets)
        r("GET", rf"/api/v2/tickets/show_many{J}", self.show_many_tickets)
        r("GET", rf"{tid}{J}", self.show_ticket)
        r("PUT", rf"{tid}{J}", self.update_ticket)
        r("DELETE", rf"{tid}{J}", self.delete_ticket)
        r("GET", rf"{tid}/comments{J}", self.list_comments)
        r("GET", rf"{tid}/audits{J}", self.list_audits)
        r("GET", rf"/api/v2/ticket_fields{J}", self.list_ticket_fields)
        r("GET", rf"/api/v2/ticket_fields/show_many{J}", self.show_many_ticket_fields)
        r("GET", rf"/api/v2/ticket_fields/(?P<field_id>\d+){J}", self.show_ticket_field)
        r("GET", rf"{tid}/metrics{J}", self.ticket_metrics)
        r("POST", rf"{tid}/satisfaction_rating{J}", self.rate_ticket)
        r("POST", rf"/api/v2/uploads{J}", self.upload)
        r("DELETE", rf"/api/v2/uploads/(?P<token>[A-Za-z0-9_-]+?){J}", self.delete_upload)
        r("GET", rf"/api/v2/attachments/(?P<attachment_id>\d+){J}", self.show_attachment)
        r("GET", r"/attachments/token/(?P<token>[A-Za-z0-9_-]+)/?", self.download)
        r("GET", rf"/api/v2/users/me{J}", self.show_me)
        r("GET", rf"/api/v2/users/show_many{J}", self.show_many_users)
        r("GET", rf"/api/v2/users/search{J}", self.search_users)
        r("GET", rf"/api/v2/users/(?P<user_id>\d+){J}", self.show_user)
        r("GET", rf"/api/v2/users/(?P<user_id>\d+)/tickets/requested{J}", self.requested_tickets)
        r("GET", rf"/api/v2/groups{J}", self.list_groups)
        r("GET", rf"/api/v2/search{J}", self.search)
        r("GET", rf"/api/v2/search/count{J}", self.search_count)
        r("GET", rf"/api/v2/search/export{J}", self.search_export)
        r("GET", rf"/api/v2/incremental/tickets/cursor{J}", self.incremental_tickets)
        r("GET", rf"/api/v2/incremental/ticket_events{J}", self.incremental_ticket_events)

    def authenticate(self, request: Request) -> Response | None:
        if request.path.startswith("/attachments/token/") and not self.private_attachments:
            return None  # content URLs carry their own token, as on zendesk.com
        auth = request.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip() == self.token:
            return None
        if scheme.lower() == "basic":
            try:
                user, _, secret = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, binascii.Error):
                user, secret = "", ""
            if user.lower() == f"{self.agent_email.lower()}/token" and secret == self.token:
                return None
            # "An API token isn't tied to a specific user. You can use the token with the email
            # address of any admin, agent, or other valid user" (Zendesk's authentication docs).
            email, _, suffix = user.lower().rpartition("/")
            uid = self.user_id(email) if suffix == "token" else None
            if uid is not None and secret == self.token and self.users[uid]["active"]:
                request.user_id = uid  # type: ignore[attr-defined]
                if self.users[uid]["role"] in AGENT_ROLES or request.path.rstrip("/").endswith(
                    ("/satisfaction_rating", "/satisfaction_rating.json")
                ):
                    return None
                return Response(403, json=FORBIDDEN)  # the Tickets API is for agents
        return Response(
            401,
            json={"error": "Couldn't authenticate you"},
            headers={"WWW-Authenticate": 'Basic realm="Web Password"'},
        )

    def not_found(self, request: Request, path_matched: bool) -> Response:
        if path_matched:
            return super().not_found(request, path_matched)
        return Response(404, json={"error": "InvalidEndpoint", "description": "Not found"})

    def _link(self, request: Request, **params) -> str:
        """The request's own URL with some query parameters replaced (None drops one)."""
        query = {k: v[0] for k, v in request.query.items()}
        query.update(params)
        query = {k: v for k, v in query.items() if v is not None}
        return f"{self.base}{request.path}" + (f"?{urlencode(query)}" if query else "")

    @staticmethod
    def _int_arg(request: Request, name: str, default: int | None = None) -> int | None:
        value = request.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise bad_request("InvalidPaginationParameter", f"{name} must be an integer") from None

    @staticmethod
    def _includes(request: Request) -> set[str]:
        """The side-loads asked for: "users,groups", or "tickets(users,groups)" on search export."""
        return set(re.findall(r"\w+", request.arg("include") or ""))

    def _body(self, request: Request, root: str) -> dict:
        data = request.json
        if not isinstance(data, dict):
            raise bad_request("InvalidJSON", "The request body is not a JSON object")
        inner = data.get(root)
        if not isinstance(inner, dict):
            raise bad_request("ParameterMissing", f"param is missing or the value is empty: {root}")
        return inner

    # -- paging --
    def _uses_cursor(self, request: Request) -> bool:
        return any(k.startswith("page[") for k in request.query)

    def _cursor_page(
        self,
        request: Request,
        items: list,
        key: Callable,
        name: str,
        render: Callable,
        max_size: int = 100,
        desc: bool = False,
    ) -> dict:
        """Cursor paging (page[size], page[after], page[before]) over items sorted by key."""
        size = self._int_arg(request, "page[size]", 100)
        if size < 1 or size > max_size:
            raise bad_request("InvalidPaginationParameter", f"page[size] must be between 1 and {max_size}")
        items = sorted(items, key=key, reverse=desc)
        # A cursor is the sort key of an item: a page starts right after (or ends right before) it
        # in the output order, so it stays valid while items are added or removed.
        after_arg, before_arg = request.arg("page[after]"), request.arg("page[before]")
        try:
            if before_arg:
                mark = _decode_cursor(before_arg)
                earlier = [i for i in items if (key(i) > mark if desc else key(i) < mark)]
                page, has_more = earlier[-size:], len(earlier) > size
                has_prev = has_more
            else:
                rest = items
                if after_arg:
                    mark = _decode_cursor(after_arg)
                    rest = [i for i in items if (key(i) < mark if desc else key(i) > mark)]
                page, has_more = rest[:size], len(rest) > size
                has_prev = len(rest) < len(items)
        except TypeError:  # a cursor from another listing or sort order
            raise bad_request("InvalidPaginationParameter", "The cursor is invalid") from None
        after_cursor = _encode_cursor(key(page[-1])) if page else None
        before_cursor = _encode_cursor(key(page[0])) if page else None
        return {
            name: [render(i) for i in page],
            "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor},
            "links": {
                "next": self._link(request, **{"page[after]": after_cursor, "page[before]": None})
                if has_more and not before_arg
                else None,
                "prev": self._link(request, **{"page[before]": before_cursor, "page[after]": None})
                if has_prev and before_cursor
                else None,
            },
        }

    def _offset_page(
        self, request: Request, items: list, name: str, render: Callable, max_pages: int | None = 100
    ) -> dict:
        """Offset paging (page, per_page ≤ 100); Zendesk limits it to the first 100 pages."""
        page = self._int_arg(request, "page", 1)
        per_page = min(max(self._int_arg(request, "per_page", 100), 1), 100)
        if page < 1 or (max_pages and page > max_pages):
            raise bad_request(
                "InvalidPaginationParameter",
                "Offset pagination is limited to the first 100 pages: use cursor pagination",
            )
        start = (page - 1) * per_page
        chunk = items[start : start + per_page]
        more = start + per_page < len(items)
        return {
            name: [render(i) for i in chunk],
            "next_page": self._link(request, page=str(page + 1), per_page=str(per_page)) if more else None,
            "previous_page": self._link(request, page=str(page - 1), per_page=str(per_page)) if page > 1 else None,
            "count": len(items),
        }

    def _list(self, request: Request, tickets: list[dict], default_sort: str = "id") -> Response:
        """A ticket list endpoint: cursor or offset paging, sorting, side-loads."""
        fields = {"id", "created_at", "updated_at", "status", "subject", "priority"}
        if self._uses_cursor(request):
            sort = request.arg("sort") or default_sort
            desc = sort.startswith("-")
            field = sort.lstrip("-")
            if field not in fields:
                raise bad_request("InvalidPaginationParameter", f"sort must be one of {sorted(fields)}")
            body = self._cursor_page(
                request, tickets, lambda t: (t[field] or "", t["id"]), "tickets", self._ticket_json, desc=desc
            )
        else:
            field = request.arg("sort_by") or default_sort
            if field not in fields:
                field = "id"
            desc = request.arg("sort_order") == "desc"
            tickets = sorted(tickets, key=lambda t: (t[field] or "", t["id"]), reverse=desc)
            body = self._offset_page(request, tickets, "tickets", self._ticket_json)
        self._sideload(request, body, body["tickets"])
        return Response(200, json=body)

    # -- rendering --
    def _new_ticket(self, tid: int, stamp: int) -> dict:
        return {
            "id": tid,
            "external_id": None,
            "type": None,
            "subject": None,
            "raw_subject": None,
            "description": "",
            "priority": None,
            "status": "new",
            "requester_id": None,
            "submitter_id": None,
            "assignee_id": None,
            "organization_id": None,
            "group_id": None,
            "email_cc_ids": [],
            "follower_ids": [],
            "tags": [],
            "custom_fields": [],  # [{id, value}] as set (the JSON lists every active field)
            "problem_id": None,  # an incident's problem ticket
            "satisfaction": None,  # the requester's rating: {id, score, comment, created_at, updated_at}
            "via": dict(API_VIA),
            "due_at": None,
            "is_public": True,
            "created_at": stamp,
            "updated_at": stamp,
            "solved_at": None,  # not in the ticket JSON: ticket metrics and include=dates give it
            "deleted": False,
            "metrics": {
                "assigned_at": None,
                "initially_assigned_at": None,
                "solved_at": None,
                "status_updated_at": stamp,
                "latest_comment_added_at": stamp,
                "assignee_updated_at": None,
                "requester_updated_at": stamp,
                "reopens": 0,
                "replies": 0,
            },
        }

    def _ticket_json(self, t: dict) -> dict:
        return {
            "url": f"{self.base}/api/v2/tickets/{t['id']}.json",
            "id": t["id"],
            "external_id": t["external_id"],
            "via": t["via"],
            "created_at": iso(t["created_at"]),
            "updated_at": iso(t["updated_at"]),
            "generated_timestamp": t["updated_at"],
            "type": t["type"],
            "subject": t["subject"],
            "raw_subject": t["raw_subject"],
            "description": t["description"],
            "priority": t["priority"],
            "status": "deleted" if t["deleted"] else t["status"],
            "requester_id": t["requester_id"],
            "submitter_id": t["submitter_id"],
            "assignee_id": t["assignee_id"],
            "organization_id": t["organization_id"],
            "group_id": t["group_id"],
            # With CCs and followers enabled, collaborator_ids holds both.
            "collaborator_ids": sorted(set(t["email_cc_ids"]) | set(t["follower_ids"])),
            "follower_ids": list(t["follower_ids"]),
            "email_cc_ids": list(t["email_cc_ids"]),
            "problem_id": t["problem_id"],
            "has_incidents": any(i["problem_id"] == t["id"] and not i["deleted"] for i in self.tickets.values()),
            "satisfaction_rating": self._rating_json(t),
            "is_public": t["is_public"],
            "due_at": iso(t["due_at"]),
            "tags": list(t["tags"]),
            "custom_fields": self._custom_fields_json(t),
            "fields": self._custom_fields_json(t),
            "sharing_agreement_ids": [],
            "followup_ids": [],
            "ticket_form_id": None,
            "brand_id": None,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": False,
        }

    def _custom_fields_json(self, t: dict) -> list[dict]:
        """The custom fields that hold a value (what a test seeded is listed as given). Live
        Zendesk may list every field, null where it has none; the spec's value allows no null, so
        the stand-in leaves those out (tixcli reads a mapped field that is absent as null)."""
        return [dict(f) for f in t["custom_fields"]]

    def _field_json(self, f: dict) -> dict:
        out = {
            "id": f["id"],
            "url": f"{self.base}/api/v2/ticket_fields/{f['id']}.json",
            "type": f["type"],
            "title": f["title"],
            "raw_title": f["title"],
            "description": "",
            "raw_description": "",
            "position": 100 + f["id"] % 1000,
            "active": f["active"],
            "required": False,
            "collapsed_for_agents": False,
            "regexp_for_validation": None,
            "title_in_portal": f["title"],
            "raw_title_in_portal": f["title"],
            "visible_in_portal": False,
            "editable_in_portal": False,
            "required_in_portal": False,
            "tag": f["tag"],
            "created_at": iso(f["created_at"]),
            "updated_at": iso(f["updated_at"]),
            "removable": True,
            "agent_can_edit": True,
        }
        if f["type"] in ("tagger", "multiselect"):
            out["custom_field_options"] = [
                {**o, "raw_name": o["name"], "url": f"{out['url'][:-5]}/options/{o['id']}.json"} for o in f["options"]
            ]
        return out

    def _user_json(self, u: dict) -> dict:
        out = {
            "id": u["id"],
            "url": f"{self.base}/api/v2/users/{u['id']}.json",
            "name": u["name"],
            "email": u["email"],
            "created_at": iso(u["created_at"]),
            "updated_at": iso(u["updated_at"]),
            "time_zone": "UTC",
            "iana_time_zone": "Etc/UTC",
            "locale": "en-US",
            "locale_id": 1,
            "organization_id": None,
            "role": u["role"],
            "role_type": None,
            "verified": u["verified"],
            "active": u["active"],
            "external_id": u["external_id"],
            "tags": [],
            "alias": "",
            "shared": False,
            "shared_agent": False,
            "suspended": False,
            "moderator": u["role"] in AGENT_ROLES,
            "only_private_comments": False,
            "restricted_agent": False,
            "ticket_restriction": None if u["role"] in AGENT_ROLES else "requested",
            "user_fields": {},
        }
        if u.get("default_group_id"):
            out["default_group_id"] = u["default_group_id"]
        return out

    def _group_json(self, g: dict) -> dict:
        return {
            "id": g["id"],
            "url": f"{self.base}/api/v2/groups/{g['id']}.json",
            "name": g["name"],
            "default": g["default"],
            "deleted": False,
            "is_public": True,
            "created_at": iso(g["created_at"]),
            "updated_at": iso(g["updated_at"]),
        }

    def _attachment_json(self, a: dict) -> dict:
        content_url = f"{self.base}/attachments/token/{a['token']}/?{urlencode({'name': a['file_name']})}"
        return {
            "id": a["id"],
            "url": f"{self.base}/api/v2/attachments/{a['id']}.json",
            "file_name": a["file_name"],
            "content_url": content_url,
            "mapped_content_url": content_url,
            "content_type": a["content_type"],
            "size": a["size"],
            # width and height are left out: live sends null for non-images, the spec's integer
            # type does not allow it, and no client needs them.
            "inline": False,
            "deleted": False,
            "malware_access_override": False,
            "malware_scan_result": "malware_not_found",
            "thumbnails": [],
        }

    def _comment_json(self, c: dict) -> dict:
        return {
            "id": c["id"],
            "type": "Comment",
            "author_id": c["author_id"],
            "body": c["body"],
            "html_body": c["html_body"],
            "plain_body": c["body"],
            "public": c["public"],
            "attachments": [self._attachment_json(self.attachments[a]) for a in c["attachment_ids"]],
            "audit_id": c["audit_id"],
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": iso(c["created_at"]),
            "metadata": {"system": {}, "custom": {}},
        }

    def _metrics_json(self, t: dict) -> dict:
        m = t["metrics"]
        return {
            "id": t["id"] + 70_000_000,
            "ticket_id": t["id"],
            "url": f"{self.base}/api/v2/ticket_metrics/{t['id'] + 70_000_000}.json",
            "created_at": iso(t["created_at"]),
            "updated_at": iso(t["updated_at"]),
            "reopens": m["reopens"],
            "replies": m["replies"],
            **{k: iso(v) for k, v in m.items() if k.endswith("_at")},
        }

    def _sideload(self, request: Request, body: dict, tickets: list[dict]) -> None:
        """include=users,groups,metric_sets,dates,comment_count,slas on ticket responses (slas: the
        ticket's SLA policy metrics, in the ticket as ``slas.policy_metrics``)."""
        include = self._includes(request)
        if "users" in include:
            ids: set[int] = set()
            for t in tickets:
                ids.update(i for i in (t["requester_id"], t["submitter_id"], t["assignee_id"]) if i)
                ids.update(t["collaborator_ids"])
            body["users"] = [self._user_json(self.users[i]) for i in sorted(ids) if i in self.users]
        if "groups" in include:
            gids = {t["group_id"] for t in tickets if t["group_id"]}
            body["groups"] = [self._group_json(self.groups[g]) for g in sorted(gids) if g in self.groups]
        if "metric_sets" in include:
            body["metric_sets"] = [self._metrics_json(self.tickets[t["id"]]) for t in tickets]
        for t in tickets:
            state = self.tickets[t["id"]]
            if "dates" in include:
                t["dates"] = {k: iso(v) for k, v in state["metrics"].items() if k.endswith("_at")}
            if "comment_count" in include:
                t["comment_count"] = len(self.comments.get(t["id"], []))
            if "slas" in include:
                t["slas"] = self._slas_json(state)

    # -- users --
    def _user_for_email(self, email: str, name: str | None = None, field: str = "requester") -> int:
        """The user with this email, created as an end user if unknown (as Zendesk does)."""
        if not isinstance(email, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise invalid(field, f"Email: {email!r} is not properly formatted")
        return self.user_id(email) or self.add_user(email, name)

    def _resolve_user(self, value, field: str) -> int:
        """A user given as id, email, or {"email", "name"} / {"id"}."""
        if isinstance(value, dict):
            if value.get("id") is not None:
                value = value["id"]
            else:
                return self._user_for_email(value.get("email"), value.get("name"))
        if isinstance(value, str) and not value.isdigit():
            return self._user_for_email(value)
        try:
            uid = int(value)
        except (TypeError, ValueError):
            raise invalid(field, f"{field.title()}: is invalid") from None
        if uid not in self.users:
            raise invalid(field, f"{field.title()}: is invalid")
        return uid

    def _agent(self, uid: int | None, field: str = "assignee") -> int | None:
        if uid is not None and self.users[uid]["role"] not in AGENT_ROLES:
            raise invalid(field, f"{field.title()}: {self.users[uid]['name']} is not an agent")
        return uid

    def _default_group(self, agent_id: int | None) -> int | None:
        return self.users.get(agent_id, {}).get("default_group_id")

    def show_me(self, request: Request) -> Response:
        return Response(200, json={"user": self._user_json(self.users[self.agent_id])})

    def show_user(self, request: Request, user_id: str) -> Response:
        user = self.users.get(int(user_id))
        if user is None:
            raise HTTPError(404, NOT_FOUND)
        return Response(200, json={"user": self._user_json(user)})

    def show_many_users(self, request: Request) -> Response:
        # "Accepts a comma-separated list of up to 100 user ids": the rest is not looked up.
        ids = [int(i) for i in (request.arg("ids") or "").split(",") if i.strip().isdigit()][:100]
        return Response(200, json={"users": [self._user_json(self.users[i]) for i in ids if i in self.users]})

    def search_users(self, request: Request) -> Response:
        query = (request.arg("query") or "").strip().lower()
        external_id = request.arg("external_id")
        found = []
        for u in self.users.values():
            if external_id is not None:
                ok = u["external_id"] == external_id
            elif "@" in query:  # an email matches exactly
                ok = u["email"] == query
            else:
                ok = bool(query) and (query in u["name"].lower() or query in u["email"])
            if ok:
                found.append(self._user_json(u))
        return Response(200, json={"users": found, "next_page": None, "previous_page": None, "count": len(found)})

    def list_groups(self, request: Request) -> Response:
        groups = [self._group_json(g) for g in self.groups.values()]
        return Response(200, json={"groups": groups, "next_page": None, "previous_page": None, "count": len(groups)})

    # -- tickets: read --
    def _live_ticket(self, ticket_id) -> dict:
        t = self.tickets.get(int(ticket_id))
        if t is None or t["deleted"]:
            raise HTTPError(404, NOT_FOUND)
        return t

    def _live(self) -> list[dict]:
        return [t for t in self.tickets.values() if not t["deleted"]]

    def show_ticket(self, request: Request, ticket_id: str) -> Response:
        body = {"ticket": self._ticket_json(self._live_ticket(ticket_id))}
        self._sideload(request, body, [body["ticket"]])
        return Response(200, json=body)

    def list_tickets(self, request: Request) -> Response:
        tickets = self._live()
        external_id = request.arg("external_id")
        if external_id is not None:  # immediate, unlike search (api-notes.md)
            tickets = [t for t in tickets if t["external_id"] == external_id]
        return self._list(request, tickets)

    def count_tickets(self, request: Request) -> Response:
        return Response(200, json={"count": {"value": len(self._live()), "refreshed_at": iso(int(self.now()))}})

    def show_many_tickets(self, request: Request) -> Response:
        ids = [int(i) for i in (request.arg("ids") or "").split(",") if i.strip().isdigit()][:100]
        found = [
            self._ticket_json(self.tickets[i]) for i in ids if i in self.tickets and not self.tickets[i]["deleted"]
        ]
        body = {"tickets": found}
        self._sideload(request, body, found)
        return Response(200, json=body)

    def requested_tickets(self, request: Request, user_id: str) -> Response:
        if int(user_id) not in self.users:
            raise HTTPError(404, NOT_FOUND)
        return self._list(request, [t for t in self._live() if t["requester_id"] == int(user_id)])

    # -- SLA policy metrics and satisfaction --
    def _slas_json(self, t: dict) -> dict:
        """The ticket's SLA policy metrics as ``include=slas`` gives them: each metric's stage
        (active, paused, achieved) and ``breach_at`` (null while paused), with the time left in
        days/hours/minutes (negative once past). Calendar hours: first reply time runs from
        creation to the first public comment by an agent after the description, full resolution
        time from creation to the solve, agent work time while new or open (paused while
        pending or on hold); a solve fulfils them all, a reopen runs the resolution ones again
        (full resolution from creation on)."""
        targets = self.sla_targets.get(t["priority"] or "")
        if not targets:
            return {"policy_metrics": []}
        now = self._latest()
        done = t["status"] in ("solved", "closed")
        out = []
        for metric, minutes in targets.items():
            target = minutes * 60
            breach: int | None = t["created_at"] + target
            if metric == "first_reply_time":
                replied = any(
                    c["public"] and self.users.get(c["author_id"], {}).get("role") in AGENT_ROLES
                    for c in self.comments.get(t["id"], [])[1:]
                )
                stage = "achieved" if replied or done else "active"
            elif metric == "agent_work_time":
                worked = self._time_in(t, ("new", "open"), now)
                if done:
                    stage = "achieved"
                elif t["status"] in ("pending", "hold"):
                    stage, breach = "paused", None
                else:
                    stage, breach = "active", now + target - worked
            else:  # full_resolution_time (and any other metric a test names: creation to solve)
                stage = "achieved" if done else "active"
            left = (breach - now) // 60 if breach is not None else None
            item = {"breach_at": iso(breach), "stage": stage, "metric": metric}
            if left is not None:
                sign = -1 if left < 0 else 1
                days, rest = divmod(abs(left), 1440)
                item.update(days=sign * days, hours=sign * (rest // 60), minutes=sign * (rest % 60))
            out.append(item)
        return {"policy_metrics": out}

    def _time_in(self, t: dict, statuses: tuple[str, ...], now: int) -> int:
        """Seconds the ticket has spent in these statuses (from its audits' status changes)."""
        status, since, total = None, t["created_at"], 0
        for audit in self.audits.get(t["id"], []):
            for e in audit["events"]:
                if e.get("field_name") == "status" and e.get("type") in ("Create", "Change"):
                    if status in statuses:
                        total += audit["created_at"] - since
                    status, since = e["value"], audit["created_at"]
        if status in statuses:
            total += now - since
        return total

    def _rating_json(self, t: dict) -> dict | None:
        """The ticket's `satisfaction_rating`: the rating, else the state ("offered" once solved,
        "unoffered" before); null where CSAT is off."""
        if not self.csat:
            return None
        r = t["satisfaction"]
        if r is None:
            return {"score": "offered" if t["solved_at"] else "unoffered"}
        return {"id": r["id"], "score": r["score"], "comment": r["comment"]}

    def rate_ticket(self, request: Request, ticket_id: str) -> Response:
        """Create Ticket Satisfaction Rating: "Only the end user listed as the ticket requester can
        create a satisfaction rating for the ticket", for a solved ticket (or one solved before
        and reopened); an agent gets 403, even as the requester (agents may not rate)."""
        t = self._live_ticket(ticket_id)
        uid = getattr(request, "user_id", self.agent_id)
        if not self.csat or self.users[uid]["role"] in AGENT_ROLES or uid != t["requester_id"]:
            raise HTTPError(403, FORBIDDEN)
        if t["status"] == "closed":
            raise HTTPError(422, CLOSED_ERROR)
        if t["solved_at"] is None:
            raise invalid("status", "Status: the ticket must be solved to be rated")
        data = self._body(request, "satisfaction_rating")
        score = data.get("score")
        if score not in ("good", "bad"):
            raise invalid("score", f"Score: {score!r} is not valid")
        comment = data.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise invalid("comment", "Comment: is invalid")
        stamp = self._stamp()
        old = t["satisfaction"]
        rid = old["id"] if old else next(self._ids["event"])
        t["satisfaction"] = {
            "id": rid, "score": score, "comment": comment or "",
            "created_at": old["created_at"] if old else stamp, "updated_at": stamp,
        }  # fmt: skip
        t["updated_at"] = stamp
        event = {
            "id": next(self._ids["event"]), "type": "SatisfactionRating", "score": score,
            "assignee_id": t["assignee_id"], "body": comment or "",
        }  # fmt: skip
        self.audits[t["id"]].append(self._audit(t["id"], stamp, uid, [event], via={"channel": "web", "source": {}}))
        r = t["satisfaction"]
        body = {
            "id": rid,
            "url": f"{self.base}/api/v2/satisfaction_ratings/{rid}.json",
            "assignee_id": t["assignee_id"],
            "group_id": t["group_id"],
            "requester_id": t["requester_id"],
            "ticket_id": t["id"],
            "score": score,
            "comment": r["comment"],
            "created_at": iso(r["created_at"]),
            "updated_at": iso(stamp),
        }
        return Response(200, json={"satisfaction_rating": body})

    def ticket_metrics(self, request: Request, ticket_id: str) -> Response:
        return Response(200, json={"ticket_metric": self._metrics_json(self._live_ticket(ticket_id))})

    def list_comments(self, request: Request, ticket_id: str) -> Response:
        t = self._live_ticket(ticket_id)
        comments = self.comments[t["id"]]
        if self._uses_cursor(request):
            sort = request.arg("sort") or "created_at"
            body = self._cursor_page(
                request, comments, _oldest_first, "comments", self._comment_json, desc=sort.startswith("-")
            )
        else:
            ordered = sorted(comments, key=_oldest_first, reverse=request.arg("sort_order") == "desc")
            body = self._offset_page(request, ordered, "comments", self._comment_json, max_pages=None)
        if "users" in self._includes(request):
            ids = sorted({c["author_id"] for c in body["comments"]})
            body["users"] = [self._user_json(self.users[i]) for i in ids]
        return Response(200, json=body)

    def list_audits(self, request: Request, ticket_id: str) -> Response:
        """List Audits for a Ticket: cursor paging (page[size] up to 100) or offset paging, oldest
        first; include=users side-loads the audits' and comments' authors."""
        t = self._live_ticket(ticket_id)
        audits = self.audits[t["id"]]
        if self._uses_cursor(request):
            desc = (request.arg("sort") or "").startswith("-") or request.arg("sort_order") == "desc"
            key = lambda a: (a["created_at"], a["id"])  # noqa: E731
            body = self._cursor_page(request, audits, key, "audits", self._audit_json, max_size=100, desc=desc)
        else:
            desc = request.arg("sort_order") == "desc"
            ordered = sorted(audits, key=lambda a: (a["created_at"], a["id"]), reverse=desc)
            body = self._offset_page(request, ordered, "audits", self._audit_json, max_pages=None)
        if "users" in self._includes(request):
            ids = {a["author_id"] for a in body["audits"]}
            ids |= {e["author_id"] for a in body["audits"] for e in a["events"] if e.get("type") == "Comment"}
            body["users"] = [self._user_json(self.users[i]) for i in sorted(ids) if i in self.users]
        return Response(200, json=body)

    # -- ticket fields --
    def list_ticket_fields(self, request: Request) -> Response:
        """Every field (no pagination), or cursor pages of at most 100 by id."""
        fields = sorted(self.ticket_fields.values(), key=lambda f: f["id"])
        if self._uses_cursor(request):
            body = self._cursor_page(request, fields, lambda f: (f["id"],), "ticket_fields", self._field_json)
        else:
            body = {"ticket_fields": [self._field_json(f) for f in fields], "count": len(fields)}
            body.update(next_page=None, previous_page=None)
        return Response(200, json=body)

    def show_many_ticket_fields(self, request: Request) -> Response:
        # "Up to 100 values are accepted"
        ids = [int(i) for i in (request.arg("ids") or "").split(",") if i.strip().isdigit()]
        if len(ids) > 100:
            raise bad_request("InvalidValue", "ids accepts up to 100 values")
        found = [self._field_json(self.ticket_fields[i]) for i in ids if i in self.ticket_fields]
        body = {"ticket_fields": found, "count": len(found), "next_page": None, "previous_page": None}
        return Response(200, json=body)

    def show_ticket_field(self, request: Request, field_id: str) -> Response:
        field = self.ticket_fields.get(int(field_id))
        if field is None:
            raise HTTPError(404, NOT_FOUND)
        return Response(200, json={"ticket_field": self._field_json(field)})

    def _field_value(self, field: dict, value):
        """A custom field value as Zendesk keeps it, by the field's type; `_DROPPED` for a drop-down
        or multi-select value that names no option (live Zendesk drops it without an error)."""
        kind, title = field["type"], field["title"]
        if value is None or value == "" or value == []:
            return None
        if kind in ("integer", "decimal"):
            text = str(value).strip() if not isinstance(value, bool) else ""
            pattern = r"[+-]?\d{1,18}" if kind == "integer" else r"[+-]?(\d{1,18}(\.\d{0,18})?|\.\d{1,18})"
            if not isinstance(value, int | float | str) or not re.fullmatch(pattern, text):
                raise invalid("base", f"{title} is not a number")
            return text  # kept and given back as text, as the Tickets API's example shows ("745")
        if kind == "checkbox":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false", "1", "0"):
                return str(value).lower() in ("true", "1")
            raise invalid("base", f"{title} is not a checkbox value")
        if kind == "date":
            try:
                return date.fromisoformat(str(value)[:10]).isoformat()
            except ValueError:
                raise invalid("base", f"{title} is not a date") from None
        tags = {o["value"] for o in field["options"]}
        if kind == "tagger":
            return value if isinstance(value, str) and value in tags else _DROPPED
        if kind == "multiselect":
            chosen = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v in tags]
            return list(dict.fromkeys(chosen)) or None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise invalid("base", f"{title} is not text")
        return str(value)

    def _field_tags(self, fid: int, value) -> set[str]:
        """The tags a drop-down, multi-select or checkbox value puts on the ticket."""
        field = self.ticket_fields.get(fid)
        if field is None or value in (None, False):
            return set()
        if field["type"] == "checkbox":
            return {field["tag"]} if field["tag"] else set()
        if field["type"] in ("tagger", "multiselect"):
            return set(value if isinstance(value, list) else [value])
        return set()

    # -- tickets: write --
    def create_ticket(self, request: Request) -> Response:
        key = request.headers.get("idempotency-key")
        now = self.now()
        # "Same body" is judged on the parsed JSON, so key order and spacing do not matter.
        parsed = request.json
        fingerprint = json.dumps(parsed, sort_keys=True) if parsed is not None else request.body.decode("latin-1")
        if key:
            seen = self.idempotency.get(key)
            if seen and now - seen["at"] < IDEMPOTENCY_WINDOW:
                if seen["fingerprint"] != fingerprint:
                    raise HTTPError(
                        400,
                        {
                            "error": "IdempotentRequestError",
                            "description": "Request payload does not match the original request for this "
                            "Idempotency-Key",
                        },
                    )
                # Live Zendesk replays the first answer; the ticket itself is not created again.
                return Response(201, json=seen["response"], headers={**seen["headers"], "x-idempotency-lookup": "hit"})
        data = self._body(request, "ticket")
        comment = data.get("comment")
        if not isinstance(comment, dict) or not (comment.get("body") or comment.get("html_body")):
            raise invalid("description", "Description: cannot be blank")
        # Validate everything on a blank ticket first: a refused create uses no id.
        blank = self._new_ticket(0, 0)
        blank["submitter_id"] = (
            self._resolve_user(data["submitter_id"], "submitter") if data.get("submitter_id") else self.agent_id
        )
        blank["requester_id"] = blank["submitter_id"]
        draft = self._apply_fields(blank, data)
        status = data.get("status") or ("open" if draft["assignee_id"] else "new")
        self._apply_status(blank, draft, status, explicit=bool(data.get("status")), creating=True)
        author = (
            self._resolve_user(comment["author_id"], "author") if comment.get("author_id") else draft["submitter_id"]
        )
        self._check_uploads(comment)

        stamp = self._stamp()
        tid = next(self._ids["ticket"])
        t = self._new_ticket(tid, stamp)
        self.tickets[tid] = t
        self.comments[tid] = []
        self.audits[tid] = []
        created = ("subject", "status", "priority", "type", "requester_id", "assignee_id", "group_id", "tags")
        events = [self._create_event(draft, f, _event_value(f, draft[f])) for f in created if draft[f]]
        events += [self._create_event(draft, str(f["id"]), f["value"]) for f in draft["custom_fields"]]
        t.update(draft)
        t["metrics"]["status_updated_at"] = stamp
        if t["assignee_id"]:
            t["metrics"].update(assigned_at=stamp, initially_assigned_at=stamp, assignee_updated_at=stamp)
        if t["status"] in ("solved", "closed"):
            t["solved_at"] = t["metrics"]["solved_at"] = stamp
        c = self._add_comment(t, comment, author, stamp, public_default=True)
        t["description"] = c["body"]
        t["is_public"] = c["public"]
        events.append(c)
        if self.notify_on_comment:
            events.append(self._notification(t, "Notify requester and CCs of received request"))
        audit = self._audit(tid, stamp, self.agent_id, events)
        self.audits[tid].append(audit)
        body = {"ticket": self._ticket_json(t), "audit": self._audit_json(audit)}
        headers = {"Location": f"{self.base}/api/v2/tickets/{tid}.json"}
        if key:
            self.idempotency[key] = {
                "fingerprint": fingerprint,
                "at": now,
                "response": body,
                "headers": headers,
            }
            headers = {**headers, "x-idempotency-lookup": "miss"}
        return Response(201, json=body, headers=headers)

    def update_ticket(self, request: Request, ticket_id: str) -> Response:
        t = self._live_ticket(ticket_id)
        if t["status"] == "closed":  # closed is final (api-notes.md)
            raise HTTPError(422, CLOSED_ERROR)
        data = self._body(request, "ticket")
        # A safe update (the documented 409 on a ticket write): "A value of false has the same
        # effect as true. Omit the property to force the updates to not be safe."
        safe = "safe_update" in data and data.get("updated_stamp") is not None
        if safe and data.get("updated_stamp") != iso(t["updated_at"]):
            raise HTTPError(
                409,
                {
                    "error": "UpdateConflict",
                    "description": "Safe Update prevented the update due to outdated ticket data. "
                    "Please fetch the latest ticket data and try again.",
                },
            )
        comment = data.get("comment")
        if comment is not None and not isinstance(comment, dict):
            raise invalid("comment", "Comment: is invalid")
        if comment and not (comment.get("body") or comment.get("html_body") or comment.get("uploads")):
            comment = None  # an empty comment is dropped
        author = self.agent_id
        if comment and comment.get("author_id"):
            author = self._resolve_user(comment["author_id"], "author")
        draft = self._apply_fields(t, data)
        status = data.get("status")
        if status is None:
            status = t["status"]
            # Only an end user's comment reopens; an agent's does not (api-notes.md).
            if comment and self.users[author]["role"] not in AGENT_ROLES and status in ("pending", "hold", "solved"):
                status = "open"
        self._apply_status(t, draft, status, explicit="status" in data)
        self._check_uploads(comment)

        stamp = self._stamp()
        events = [
            self._change(f, _event_value(f, t[f]), _event_value(f, draft[f])) for f in AUDITED if draft[f] != t[f]
        ]
        before = {f["id"]: f["value"] for f in t["custom_fields"]}
        after = {f["id"]: f["value"] for f in draft["custom_fields"]}
        for i in sorted(before | after):  # one event a custom field, named by its id
            if before.get(i) != after.get(i):
                events.append(self._change(str(i), before.get(i), after.get(i)))
        if draft["email_cc_ids"] != t["email_cc_ids"]:
            events.append(
                {
                    "id": next(self._ids["event"]),
                    "type": "EmailCcChange",
                    "previous_email_ccs": list(t["email_cc_ids"]),
                    "current_email_ccs": list(draft["email_cc_ids"]),
                }
            )
        m = t["metrics"]
        if draft["status"] != t["status"]:
            m["status_updated_at"] = stamp
            if draft["status"] == "solved" or (draft["status"] == "closed" and t["status"] != "solved"):
                draft["solved_at"] = m["solved_at"] = stamp
            elif t["status"] == "solved" and draft["status"] != "closed":
                m["reopens"] += 1
        if draft["assignee_id"] != t["assignee_id"]:
            m["assignee_updated_at"] = stamp
            if draft["assignee_id"]:
                m["assigned_at"] = stamp
                m["initially_assigned_at"] = m["initially_assigned_at"] or stamp
        t.update(draft)
        t["updated_at"] = stamp
        if comment:
            c = self._add_comment(t, comment, author, stamp, public_default=self.comments[t["id"]][0]["public"])
            events.append(c)
            if c["public"]:
                t["is_public"] = True
            if c["public"] and self.users[author]["role"] in AGENT_ROLES:
                m["replies"] += 1
            if author == t["requester_id"]:
                m["requester_updated_at"] = stamp
            if c["public"] and self.notify_on_comment:
                events.append(self._notification(t, "Notify requester and CCs of comment update"))
        audit = self._audit(t["id"], stamp, author, events)
        self.audits[t["id"]].append(audit)
        return Response(200, json={"ticket": self._ticket_json(t), "audit": self._audit_json(audit)})

    def delete_ticket(self, request: Request, ticket_id: str) -> Response:
        self.mark_deleted(self._live_ticket(ticket_id)["id"])
        return Response(204)

    def _apply_fields(self, t: dict, data: dict) -> dict:
        """The ticket's writable fields after this update, validated; t itself is not touched."""
        draft = {
            k: (list(v) if isinstance(v, list) else v)
            for k, v in t.items()
            if k not in ("metrics", "created_at", "updated_at", "deleted", "id")
        }
        if "subject" in data:
            draft["subject"] = draft["raw_subject"] = data["subject"]
        for field, allowed in (("priority", PRIORITIES), ("type", TICKET_TYPES)):
            if field not in data:
                continue
            value = data[field]
            if value is None and field == "priority" and t["priority"] is not None:
                raise invalid("priority", "Priority: cannot be reset to none")  # api-notes.md
            if value is not None and value not in allowed:
                raise invalid(field, f"{field.title()}: {value} is not valid")
            draft[field] = value
        if data.get("requester_id") is not None:
            draft["requester_id"] = self._resolve_user(data["requester_id"], "requester")
        elif data.get("requester") is not None:
            draft["requester_id"] = self._resolve_user(data["requester"], "requester")
        if "assignee_id" in data:
            draft["assignee_id"] = self._agent(
                None if data["assignee_id"] is None else self._resolve_user(data["assignee_id"], "assignee")
            )
        elif data.get("assignee_email"):
            draft["assignee_id"] = self._agent(self._resolve_user(data["assignee_email"], "assignee"))
        if "group_id" in data:
            if data["group_id"] is not None and data["group_id"] not in self.groups:
                raise invalid("group", "Group: is invalid")
            draft["group_id"] = data["group_id"]
        if draft["assignee_id"] and not draft["group_id"]:
            draft["group_id"] = self._default_group(draft["assignee_id"])  # as Zendesk does
        if "external_id" in data:
            draft["external_id"] = None if data["external_id"] is None else str(data["external_id"])
        if "problem_id" in data:
            pid = data["problem_id"]
            problem = self.tickets.get(pid) if isinstance(pid, int) and not isinstance(pid, bool) else None
            if pid is not None and (problem is None or problem["deleted"] or problem["type"] != "problem"):
                raise invalid("problem_id", "Problem: is invalid")
            draft["problem_id"] = pid
        if draft["problem_id"] is not None and draft["type"] != "incident":
            raise invalid("problem_id", "Problem: only incidents can be linked to a problem")
        if "due_at" in data:
            try:
                draft["due_at"] = None if data["due_at"] is None else to_epoch(data["due_at"])
            except (TypeError, ValueError):
                raise invalid("due_at", "Due at: is invalid") from None
        field_tags: tuple[set[str], set[str]] = (set(), set())  # the option tags the fields take off, put on
        if "custom_fields" in data or "fields" in data:
            given_list = data.get("custom_fields") or data.get("fields") or []
            if not all(isinstance(f, dict) and isinstance(f.get("id"), int) for f in given_list):
                raise invalid("custom_fields", "Custom fields: each needs an integer id")
            values = {f["id"]: f.get("value") for f in draft["custom_fields"]}
            for item in given_list:
                field = self.ticket_fields.get(item["id"])
                if field is None or not field["active"]:
                    continue  # a field the account does not have: ignored
                value = self._field_value(field, item.get("value"))
                if value is _DROPPED:
                    continue
                if value != values.get(item["id"]):
                    field_tags[0].update(self._field_tags(item["id"], values.get(item["id"])))
                    field_tags[1].update(self._field_tags(item["id"], value))
                values[item["id"]] = value
            draft["custom_fields"] = [{"id": fid, "value": v} for fid, v in values.items() if v is not None]
        tags = draft["tags"]
        if "tags" in data:
            tags = self._tags(data["tags"])
        tags = tags + [x for x in self._tags(data.get("additional_tags")) if x not in tags]
        removed = set(self._tags(data.get("remove_tags")))
        tags = [x for x in tags if x not in removed]
        # Drop-down, multi-select and checkbox values are tags on the ticket too (Zendesk help,
        # "About custom field types"): a changed value takes its old tags off and puts its own on.
        tags = [x for x in tags if x not in field_tags[0] - field_tags[1]]
        draft["tags"] = tags + sorted(x for x in field_tags[1] if x not in tags)
        if "collaborator_ids" in data:
            draft["email_cc_ids"] = [self._resolve_user(u, "collaborators") for u in data["collaborator_ids"] or []]
        for cc in data.get("email_ccs") or []:  # email_cc_ids itself is read-only
            if not isinstance(cc, dict):
                raise invalid("email_ccs", "Email ccs: is invalid")
            uid = cc.get("user_id")
            if uid:
                uid = self._resolve_user(uid, "email_ccs")
            else:
                uid = self._user_for_email(cc.get("user_email"), cc.get("user_name"), "email_ccs")
            action = cc.get("action", "put")
            if action == "put" and uid not in draft["email_cc_ids"] and uid != draft["requester_id"]:
                draft["email_cc_ids"].append(uid)
            elif action == "delete" and uid in draft["email_cc_ids"]:
                draft["email_cc_ids"].remove(uid)
            elif action not in ("put", "delete"):
                raise invalid("email_ccs", f"Email ccs: action {action!r} is invalid")
        return draft

    @staticmethod
    def _tags(value) -> list[str]:
        """Tags are a list (or a space-separated string); Zendesk lower-cases them."""
        if value is None:
            return []
        if isinstance(value, str):
            value = value.split()
        out: list[str] = []
        for tag in value:
            tag = str(tag).strip().lower().replace(" ", "_")
            if tag and tag not in out:
                out.append(tag)
        return out

    def _apply_status(self, t: dict, draft: dict, status: str, explicit: bool, creating: bool = False) -> None:
        if status not in STATUSES:
            raise invalid("status", f"Status: {status} is not valid")
        if status == "new" and not creating and t["status"] != "new":
            raise invalid("status", "Status: cannot be set back to new")
        if status == "new" and draft["assignee_id"]:
            status = "open"  # a new ticket that gets an assignee becomes open
        # The API may close a ticket directly (the agent UI cannot): the same rule as solving.
        if status in ("solved", "closed") and not draft["assignee_id"]:
            if not self.auto_assign_on_solve:
                raise invalid("assignee", "Assignee: is required when solving a ticket")
            draft["assignee_id"] = self.agent_id  # the solving agent
            draft["group_id"] = draft["group_id"] or self._default_group(self.agent_id)
        draft["status"] = status

    def _check_uploads(self, comment: dict | None) -> None:
        if comment and "uploads" in comment and not isinstance(comment["uploads"], list):
            raise invalid("uploads", "Uploads: must be a list of tokens")

    def _add_comment(self, t: dict, comment: dict, author: int, stamp: int, public_default: bool) -> dict:
        self._check_uploads(comment)
        public = bool(comment.get("public", public_default))
        if self.users[author]["role"] not in AGENT_ROLES:
            public = True  # end users cannot write internal notes
        attachment_ids = []
        for token in comment.get("uploads") or []:
            upload = self.uploads.pop(token, None)  # a token is consumed by the comment
            # An unknown or expired token is ignored: the comment is saved without the file.
            if upload and self.now() - upload["created_at"] < UPLOAD_TOKEN_TTL:
                attachment_ids.extend(upload["attachment_ids"])
        body = comment.get("body")
        html_body = comment.get("html_body")
        if body is None:
            body = html.unescape(re.sub(r"<[^>]+>", "", html_body or ""))
        c = self._new_comment(t["id"], author, body, public, attachment_ids, stamp, html_body)
        self.comments[t["id"]].append(c)
        t["metrics"]["latest_comment_added_at"] = stamp
        return c

    def _new_comment(self, tid, author, body, public, attachment_ids, stamp, html_body=None) -> dict:
        return {
            "id": next(self._ids["comment"]),
            "ticket_id": tid,
            "type": "Comment",
            "author_id": author,
            "body": body,
            "html_body": html_body or '<div class="zd-comment"><p>' + html.escape(body) + "</p></div>",
            "public": public,
            "attachment_ids": attachment_ids,
            "audit_id": None,
            "created_at": stamp,
        }

    # -- audits and events --
    def _create_event(self, t: dict, field: str, value) -> dict:
        return {"id": next(self._ids["event"]), "type": "Create", "field_name": field, "value": value}

    def _change(self, field: str, old, new) -> dict:
        return {
            "id": next(self._ids["event"]),
            "type": "Change",
            "field_name": field,
            "value": new,
            "previous_value": old,
        }

    def _notification(self, t: dict, trigger: str) -> dict:
        """The email a default trigger sends the requester and the CCs (a Notification event whose
        via names the trigger)."""
        return {
            "id": next(self._ids["event"]),
            "type": "Notification",
            "subject": "[Support] Re: " + (t["subject"] or ""),
            "body": "Your request has been updated.",
            "recipients": [t["requester_id"], *t["email_cc_ids"]],
            "via": rule_via(NOTIFY_TRIGGER, trigger, "trigger"),
        }

    def _audit(self, tid: int, stamp: int, author: int, events: list[dict], via: dict | None = None) -> dict:
        audit = {
            "id": next(self._ids["audit"]),
            "ticket_id": tid,
            "created_at": stamp,
            "author_id": author,
            "via": via or dict(API_VIA),
            "events": events,
        }
        for e in events:
            if e.get("type") == "Comment":
                e["audit_id"] = audit["id"]
        return audit

    def _audit_json(self, audit: dict) -> dict:
        events = []
        for e in audit["events"]:
            if e.get("type") == "Comment":
                c = self._comment_json(e)
                events.append(
                    {
                        k: c[k]
                        for k in (
                            "id",
                            "type",
                            "author_id",
                            "body",
                            "html_body",
                            "public",
                            "attachments",
                            "audit_id",
                        )
                    }
                )
            else:
                events.append(dict(e))
        return {
            "id": audit["id"],
            "ticket_id": audit["ticket_id"],
            "created_at": iso(audit["created_at"]),
            "author_id": audit["author_id"],
            "via": audit["via"],
            "metadata": {"system": {}, "custom": {}},
            "events": events,
        }

    # -- uploads --
    def upload(self, request: Request) -> Response:
        filename = request.arg("filename")
        if not filename:
            raise bad_request("InvalidValue", "filename is required")
        token = request.arg("token")
        if token:
            upload = self.uploads.get(token)
            if upload is None:
                raise HTTPError(404, NOT_FOUND)
        else:
            token = secrets.token_hex(12)
            upload = self.uploads[token] = {"attachment_ids": [], "created_at": self.now()}
        aid = next(self._ids["attachment"])
        self.attachments[aid] = {
            "id": aid,
            "token": secrets.token_hex(12),  # each file has its own content URL token
            "upload_token": token,
            "file_name": filename,
            "content_type": request.content_type or "application/binary",
            "size": len(request.body),
            "data": request.body,
        }
        upload["attachment_ids"].append(aid)
        rendered = [self._attachment_json(self.attachments[a]) for a in upload["attachment_ids"]]
        body = {
            "upload": {
                "token": token,
                "expires_at": iso(int(upload["created_at"] + UPLOAD_TOKEN_TTL)),
                "attachment": rendered[-1],
                "attachments": rendered,
            }
        }
        return Response(201, json=body)

    def delete_upload(self, request: Request, token: str) -> Response:
        upload = self.uploads.pop(token, None)
        if upload is None:
            raise HTTPError(404, NOT_FOUND)
        for aid in upload["attachment_ids"]:
            self.attachments.pop(aid, None)
        return Response(204)

    def show_attachment(self, request: Request, attachment_id: str) -> Response:
        a = self.attachments.get(int(attachment_id))
        if a is None:
            raise HTTPError(404, NOT_FOUND)
        return Response(200, json={"attachment": self._attachment_json(a)})

    def download(self, request: Request, token: str) -> Response:
        a = next((a for a in self.attachments.values() if a["token"] == token), None)
        if a is None:
            raise HTTPError(404, NOT_FOUND)
        if self.file_host is not None:  # live: a 302 to a temporary URL on another host
            location = self.file_host.temporary_url(a["data"], a["content_type"], a["file_name"])
            return Response(302, headers={"Location": location})
        return Response(200, body=a["data"], content_type=a["content_type"])

    # -- search --
    def _matcher(self, query: str) -> tuple[Callable[[dict], bool], tuple[str, bool] | None]:
        """Compile the search syntax tixcli sends into a ticket predicate and an order.

        Terms are ANDed, except that several `field:value` terms on one field are ORed
        (`status:new status:open`); comparisons stay ANDed (`created>X created<Y` is a range).
        """
        preds: list[Callable[[dict], bool]] = []
        alternatives: dict[str, list[Callable[[dict], bool]]] = {}
        order: list = [None, "desc"]
        self._text_cache: dict[int, str] = {}  # each ticket's words, built once per search
        token_re = re.compile(r'(-?)(?:(\w+)(:|<=|>=|<|>)("[^"]*"|\S+)|"([^"]*)"|(\S+))')
        for neg, field, op, value, phrase, word in token_re.findall(query):
            value = value.strip('"')
            field = field.lower()
            if field == "order_by":
                order[0] = {"created": "created_at", "updated": "updated_at", "ticket_type": "type"}.get(value, value)
                continue
            if field == "sort":
                order[1] = value.lower()
                continue
            if field and field in SEARCH_FIELDS:
                pred = SEARCH_FIELDS[field](self, op, value.lower())
                if op == ":" and not neg:  # `tag:a tags:b` is one keyword twice: OR'ed too
                    alternatives.setdefault(SEARCH_ALIASES.get(field, field), []).append(pred)
                    continue
            elif field:  # an unknown "a:b" is searched as text, as Zendesk does
                pred = self._text_pred(f"{field} {value}")
            else:
                pred = self._text_pred(phrase if phrase else word)
            preds.append(_negated(pred) if neg else pred)
        preds += [_any_of(alts) for alts in alternatives.values()]
        ordering = (order[0], order[1] != "asc") if order[0] else None
        return (lambda t: all(p(t) for p in preds)), ordering

    def _ticket_text(self, t: dict) -> str:
        """Free words match the subject, the description and every comment (agents see notes)."""
        text = self._text_cache.get(t["id"])
        if text is None:
            parts = [t["subject"] or "", t["description"] or ""]
            text = self._text_cache[t["id"]] = _joined(parts + [c["body"] for c in self.comments.get(t["id"], [])])
        return text

    def _text_pred(self, text: str, where: Callable[[dict], str] | None = None) -> Callable[[dict], bool]:
        """A word matches a whole word or the start of one ("top" finds "toppings", not "desktop");
        a phrase matches consecutive words; case does not matter. A bare number also finds the
        ticket with that id."""
        number = int(text) if text.isdigit() and where is None else None
        where = where or self._ticket_text
        needle = _joined([text.rstrip("*")]).rstrip()  # no trailing space: the last word is a prefix
        if needle == "":
            return lambda t: True
        return lambda t: needle in where(t) or t["id"] == number

    def _search_hits(self, request: Request) -> list[dict]:
        query = request.arg("query")
        if not query:
            raise bad_request("InvalidSearchQuery", "query is required")
        match, ordering = self._matcher(query)
        hits = [t for t in self._live() if match(t)]
        sort_by = request.arg("sort_by")
        if sort_by:
            ordering = (sort_by, request.arg("sort_order", "desc") != "asc")
        field, desc = ordering or ("id", False)  # no order: by id, standing in for relevance
        field = {"ticket_type": "type", "created": "created_at", "updated": "updated_at"}.get(field, field)
        ranks = {"priority": PRIORITIES, "status": STATUSES, "type": TICKET_TYPES}
        if field in ranks:
            rank = ranks[field]
            return sorted(hits, key=lambda t: (rank.index(t[field]) if t[field] else -1, t["id"]), reverse=desc)
        if field not in ("created_at", "updated_at", "id"):
            raise bad_request("InvalidSearchQuery", f"Cannot order by {field}")
        return sorted(hits, key=lambda t: (t[field], t["id"]), reverse=desc)

    def _search_result(self, t: dict) -> dict:
        return {**self._ticket_json(t), "result_type": "ticket"}

    def search(self, request: Request) -> Response:
        if self._uses_cursor(request):  # search is offset-only; this is live Zendesk's answer
            raise HTTPError(
                400,
                {
                    "error": {
                        "title": "Invalid attribute",
                        "message": "You passed an invalid value for the page attribute. Invalid parameter: "
                        "page must be an integer from api/v2/search/index",
                    }
                },
            )
        hits = self._search_hits(request)
        page = self._int_arg(request, "page", 1)
        per_page = min(max(self._int_arg(request, "per_page", 100), 1), 100)
        if page < 1 or page * per_page > SEARCH_MAX_RESULTS:
            raise HTTPError(
                422,
                {
                    "error": "Invalid search",
                    "description": "Requested response size was greater than Search Response Limits",
                },
            )
        start = (page - 1) * per_page
        more = start + per_page < min(len(hits), SEARCH_MAX_RESULTS) and (page + 1) * per_page <= SEARCH_MAX_RESULTS
        body = {
            "results": [self._search_result(t) for t in hits[start : start + per_page]],
            "facets": None,
            "next_page": self._link(request, page=str(page + 1), per_page=str(per_page)) if more else None,
            "previous_page": self._link(request, page=str(page - 1), per_page=str(per_page)) if page > 1 else None,
            "count": len(hits),  # the real total, even past the 1,000 that can be paged
        }
        return Response(200, json=body)

    def search_count(self, request: Request) -> Response:
        return Response(200, json={"count": len(self._search_hits(request))})

    def search_export(self, request: Request) -> Response:
        if not request.arg("filter[type]"):
            raise bad_request(
                "InvalidSearchExportFilter", "filter[type] is required: ticket, user, organization or group"
            )
        hits = self._search_hits(request) if request.arg("filter[type]") == "ticket" else []
        body = self._cursor_page(request, hits, lambda t: (t["id"],), "results", self._search_result, max_size=1000)
        body["facets"] = None
        self._sideload(request, body, body["results"])
        return Response(200, json=body)

    # -- incremental export --
    def _incremental_gate(self) -> None:
        if not self.admin:
            raise HTTPError(
                403,
                {
                    "error": "Forbidden",
                    "description": "You do not have access to this page. Please contact the account owner of "
                    "this help desk for further help.",
                },
            )
        if self.rate_limit_incremental:
            now = self.now()
            calls = self._incremental_calls
            while calls and now - calls[0] >= 60:
                calls.popleft()
            if len(calls) >= INCREMENTAL_REQUESTS_PER_MINUTE:
                wait = max(1, math.ceil(60 - (now - calls[0])))
                err = HTTPError(429, headers={"Retry-After": str(wait)})
                err.response.body = b"Number of allowed incremental export API requests per minute exceeded"
                err.response.content_type = "text/plain; charset=utf-8"
                raise err
            calls.append(now)

    def _start_time(self, request: Request, required: bool) -> int | None:
        start = request.arg("start_time")
        if start is None:
            if required:
                raise bad_request("InvalidValue", "start_time is required")
            return None
        try:
            start = int(start)
        except ValueError:
            raise bad_request("InvalidValue", "start_time must be a Unix epoch time") from None
        limit = self._latest() - (60 if self.incremental_excludes_last_minute else 0)
        if start > limit:
            raise bad_request("InvalidValue", "start_time is too recent: it must be at least one minute in the past")
        return start

    def _export_cutoff(self) -> float:
        return self.now() - 60 if self.incremental_excludes_last_minute else math.inf

    def incremental_tickets(self, request: Request) -> Response:
        self._incremental_gate()
        per_page = min(max(self._int_arg(request, "per_page", 1000), 1), 1000)
        cursor = request.arg("cursor")
        if cursor:
            mark = _decode_cursor(cursor)
        else:
            mark = (self._start_time(request, required=True), 0)  # every change at or after start_time
        cutoff = self._export_cutoff()
        # Ordered by last change; deleted tickets are included with status "deleted".
        rows = sorted(
            (t for t in self.tickets.values() if (t["updated_at"], t["id"]) > tuple(mark) and t["updated_at"] < cutoff),
            key=lambda t: (t["updated_at"], t["id"]),
        )
        page = rows[:per_page]
        end = len(rows) <= per_page
        # On the last page the cursor still moves on (or stays): a client polls with it later.
        after = _encode_cursor((page[-1]["updated_at"], page[-1]["id"])) if page else _encode_cursor(mark)
        body = {
            "tickets": [self._ticket_json(t) for t in page],
            "after_cursor": after,
            "after_url": self._link(request, cursor=after, start_time=None),
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": end,
        }
        self._sideload(request, body, body["tickets"])
        return Response(200, json=body)

    def incremental_ticket_events(self, request: Request) -> Response:
        """Time-based (docs: "Incremental Ticket Event Export", "Time-based incremental exports"):
        one event per audit, every change at or after ``start_time``, oldest first; the comments
        only with ``include=comment_events`` (as child events). Admins only, the same 10 requests
        a minute as the other incremental exports.

        A page holds ``ticket_events_per_page`` events (1,000), and then the rest of its last
        second: the next page starts at ``end_time``, the time of the page's last event (its
        ``next_page`` says ``start_time=end_time``), so the events of that second come again (the
        docs: "the exported data may contain duplicate items"), and a page that ended inside a
        second would be asked again for ever. ``end_of_stream`` is true when nothing is left.
        """
        self._incremental_gate()
        start = self._start_time(request, required=True)
        with_comments = "comment_events" in self._includes(request)
        cutoff = self._export_cutoff()
        audits = sorted(
            (a for audits in self.audits.values() for a in audits if start <= a["created_at"] < cutoff),
            key=lambda a: (a["created_at"], a["id"]),
        )
        size = max(1, self.ticket_events_per_page)
        page = audits[:size]
        while page and len(page) < len(audits) and audits[len(page)]["created_at"] == page[-1]["created_at"]:
            page.append(audits[len(page)])  # the rest of the last second
        end_time = page[-1]["created_at"] if page else start
        events = [self._ticket_event_json(a, with_comments) for a in page]
        next_query = {"start_time": end_time, **({"include": "comment_events"} if with_comments else {})}
        body = {
            "ticket_events": events,
            "next_page": f"{self.base}{request.path}?{urlencode(next_query)}",
            "count": len(events),
            "end_of_stream": len(page) == len(audits),
            "end_time": end_time,
        }
        return Response(200, json=body)

    def _ticket_event_json(self, audit: dict, with_comments: bool) -> dict:
        children = []
        for e in audit["events"]:
            if e.get("type") == "Comment":
                if with_comments:  # the docs' example of a comment child event, field for field
                    c = self._comment_json(e)
                    child = {k: c[k] for k in ("id", "via", "type", "author_id", "body", "html_body", "public")}
                    child.update(
                        via_reference_id=None,
                        attachments=c["attachments"],
                        audit_id=audit["id"],
                        created_at=iso(audit["created_at"]),
                        event_type="Comment",
                    )
                    children.append(child)
            else:
                name, reference = _via_name(e.get("via") or audit["via"])
                child = {"id": e["id"], "via": name, "via_reference_id": reference, "event_type": e["type"]}
                if "field_name" in e:  # a Create or Change: the field's value under its own name too
                    child.update(field_name=e["field_name"], value=e["value"], previous_value=e.get("previous_value"))
                    child[e["field_name"]] = e["value"]
                else:
                    child.update({k: v for k, v in e.items() if k not in ("id", "type", "via")})
                children.append(child)
        name, reference = _via_name(audit["via"])
        return {
            "id": audit["id"],
            "ticket_id": audit["ticket_id"],
            "timestamp": audit["created_at"],
            "created_at": iso(audit["created_at"]),
            "updater_id": audit["author_id"],
            "via": name,
            "via_reference_id": reference,
            "system": {},
            "event_type": "Audit",
            "merged_ticket_ids": [],
            "child_events": children,
        }


class Clock:
    """A stand-in clock for tests (``server.freeze()``): epoch seconds that move only by
    ``advance``, so that a test waits out a minute or a Retry-After without real minutes."""

    def __init__(self, at: float) -> None:
        self.at = float(at)

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


class FileHost(FileHostBase):
    """The host Zendesk's content URLs redirect to (a temporary URL per download)."""

    def temporary_url(self, data: bytes, content_type: str, name: str) -> str:
        return f"{self.url}/files/{self.add(data, content_type)}/{quote(name, safe='')}"


# -- search syntax: each field builds a ticket predicate as build(server, op, value) --
def _negated(pred: Callable[[dict], bool]) -> Callable[[dict], bool]:
    return lambda t: not pred(t)


def _any_of(preds: list[Callable[[dict], bool]]) -> Callable[[dict], bool]:
    return lambda t: any(p(t) for p in preds)


def _compare(op: str, have, want) -> bool:
    if have is None or want is None:
        return op == ":" and have == want
    return {":": have == want, "<": have < want, ">": have > want, "<=": have <= want, ">=": have >= want}[op]


def _ranked(field: str, order: tuple[str, ...]):
    """status<solved, priority>=high, ticket_type:task: compared by rank."""

    def build(server: ZendeskStandIn, op: str, value: str):
        if value == "none":
            return lambda t: t[field] is None and op == ":"
        if value not in order:
            return lambda t: False
        rank = order.index(value)
        return lambda t: t[field] is not None and _compare(op, order.index(t[field]), rank)

    return build


def _person(field: str):
    """requester:EMAIL, assignee:none, assignee:me, cc:ID."""

    def build(server: ZendeskStandIn, op: str, value: str):
        if value == "none":
            return lambda t: not t[field]
        uid = server.agent_id if value == "me" else int(value) if value.isdigit() else server.user_id(value)
        if field == "email_cc_ids":
            return lambda t: uid in t[field]
        return lambda t: uid is not None and t[field] == uid

    return build


UNITS = {
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}


def _when(field: str):
    """updated>2024-05-01 (by UTC calendar day), created<2024-05-01T10:00:00Z, updated>4hours."""

    def build(server: ZendeskStandIn, op: str, value: str):
        rel = re.fullmatch(r"(\d+)(minute|hour|day|week|month|year)s?", value)
        if rel:  # updated>4hours: within the last 4 hours
            cutoff = int(server.now()) - int(rel.group(1)) * UNITS[rel.group(2)]
            return lambda t: _compare(op, t[field], cutoff) if t[field] is not None else False
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value)

            def on_day(t):
                return t[field] is not None and _compare(op, datetime.fromtimestamp(t[field], timezone.utc).date(), day)

            return on_day
        try:
            stamp = to_epoch(value.upper())
        except (TypeError, ValueError):
            raise bad_request("InvalidSearchQuery", f"Invalid date: {value}") from None
        return lambda t: t[field] is not None and _compare(op, t[field], stamp)

    return build


def _text_in(field: str):
    """subject:word, description:word, comment:word."""

    def build(server: ZendeskStandIn, op: str, value: str):
        if field == "comment":
            return server._text_pred(value, lambda t: _joined(c["body"] for c in server.comments[t["id"]]))
        return server._text_pred(value, lambda t: _joined([t[field] or ""]))

    return build


def _joined(texts: Iterable[str]) -> str:
    """Texts as " word word ... ": a word or phrase matches as " w1 w2 " inside it."""
    return " " + " ".join(_words(" ".join(texts))) + " "


def _group(server: ZendeskStandIn, op: str, value: str):
    if value == "none":
        return lambda t: t["group_id"] is None
    gid = (
        int(value)
        if value.isdigit()
        else next((g["id"] for g in server.groups.values() if g["name"].lower() == value), -1)
    )
    return lambda t: t["group_id"] == gid


#: keywords that are another's other name (OR'ed with it as one keyword)
SEARCH_ALIASES = {"tag": "tags"}

SEARCH_FIELDS: dict[str, Callable] = {
    # users, organizations and groups are not searchable here: type:user finds nothing
    "type": lambda server, op, value: lambda t: value == "ticket",
    "status": _ranked("status", STATUSES),
    "priority": _ranked("priority", PRIORITIES),
    "ticket_type": _ranked("type", TICKET_TYPES),
    "requester": _person("requester_id"),
    "assignee": _person("assignee_id"),
    "submitter": _person("submitter_id"),
    "cc": _person("email_cc_ids"),
    "created": _when("created_at"),
    "updated": _when("updated_at"),
    "solved": _when("solved_at"),
    "due_date": _when("due_at"),
    "tags": lambda server, op, value: lambda t: value in t["tags"],
    "tag": lambda server, op, value: lambda t: value in t["tags"],
    "group": _group,
    "subject": _text_in("subject"),
    "description": _text_in("description"),
    "comment": _text_in("comment"),
    "external_id": lambda server, op, value: lambda t: (t["external_id"] or "").lower() == value,
}
