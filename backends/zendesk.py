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
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

from tixcli import __version__
from tixcli.backends.base import Backend, CreateResult, ExportItem
from tixcli.backends.remote import service_id, service_time
from tixcli.config import Profile
from tixcli.errors import (
    ConfigError,
    InvalidInputError,
    NotFoundError,
    RefusedError,
    TixError,
    UnavailableError,
)
from tixcli.lifecycle import check_close, check_solve, closed_refusal, ensure_not_closed, status_after_reply
from tixcli.model import (
    PRIORITIES,
    PRIORITY_RANK,
    STATUSES,
    TYPES,
    Attachment,
    Comment,
    FileUpload,
    ListQuery,
    NewTicket,
    Reply,
    Ticket,
    to_iso,
)

API = "/api/v2"
PAGE_SIZE = 100  # the largest page of tickets, comments, users, search results
SEARCH_MAX = 1000  # the Search API stops after 1,000 results
MAX_COMMENTS = 10_000  # Zendesk caps a ticket's comments at 5,000: more is a hostile or broken answer
MESSAGE_MAX = 300  # the longest text from the service that goes into an error message
INCLUDE = "users,groups,metric_sets"  # side-loads on ticket reads: people, group names, solved_at


class ZendeskBackend(Backend):
    name = "zendesk"
    capabilities = frozenset({"internal_notes", "attachments", "cc", "groups", "search", "dedupe", "export_cursor"})
    # the profile settings it reads (name -> tixcli.config.Setting), kept in a module of their own
    # so that the config is checked without importing this one
    from tixcli.backends.zendesk_settings import SETTINGS as settings
    max_comment_chars = 65_536  # Zendesk: a comment is at most 64 KB (about 65,000 characters)
    requires = ("zenpy", "requests")

    def __init__(self, profile: Profile) -> None:
        super().__init__(profile)
        self._http = None  # HttpClient, made on first use: the constructor never touches the network
        self._zenpy = None
        self._base: str | None = None
        self._users: dict[int, str | None] = {}  # id -> email (or name): the per-run user cache
        self._user_ids: dict[str, int] = {}  # email -> id
        self._groups: dict[int, str] = {}
        self._all_groups_loaded = False
        self._solved_at: dict[int, str] = {}  # ticket id -> solved_at, from side-loaded metric sets

    # -- connection -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base is None:
            self._base = zendesk_base_url(self.profile)
        return self._base

    @property
    def http(self):
        if self._http is None:
            self._connect()
        return self._http

    @property
    def zenpy(self):
        if self._zenpy is None:
            self._connect()
        return self._zenpy

    def _connect(self) -> None:
        from zenpy import Zenpy

        from tixcli.backends.http import HttpClient

        base = self.base_url
        import requests

        session = requests.Session()
        session.headers.update({"User-Agent": f"tixcli/{__version__}", "Accept": "application/json"})
        oauth = self.profile.secret("oauth_token", required=False)
        if oauth is not None:
            session.headers["Authorization"] = f"Bearer {oauth.reveal()}"
        else:
            email = str(self.profile.require("email"))
            token = self.profile.secret("token")
            session.auth = (f"{email}/token", token.reveal())
        self._http = HttpClient.for_profile(self.profile, base, session=session, service="Zendesk")
        parts = urlsplit(base)
        subdomain, _, domain = parts.netloc.partition(".")
        self._zenpy = Zenpy(
            subdomain=subdomain,
            domain=domain,
            session=_routed_session(self._http, f"https://{parts.netloc}", base),
            anonymous=True,  # the client's session carries the credentials
            timeout=self.profile.timeout,
            ratelimit_budget=max(1, int(self.profile.retry_budget)),  # never reached: see _routed_session
            disable_cache=True,  # a cached ticket would be stale after an update
        )

    def shutdown(self) -> None:
        if self._http is not None:
            self._http.session.close()

    # -- reads ------------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        raw = self._fetch(ticket_id)
        ticket = self._ticket(raw)
        ticket.comments = self.comments(raw["id"])
        return ticket

    def list(self, query: ListQuery) -> list[Ticket]:
        params: dict[str, Any] = {
            "query": search_query(query),
            "per_page": max(1, min(query.limit, PAGE_SIZE)),
            "include": "tickets(users,groups)",
        }
        sort_by = {"updated": "updated_at", "created": "created_at", "priority": "priority"}[query.sort]
        params.update(sort_by=sort_by, sort_order="desc")
        found: dict[str, dict] = {}  # by id: offset pages shift when tickets change while we read
        pages = Paging(self.http, "search")
        url: str | None = f"{API}/search.json"
        seen = 0
        while url and len(found) < query.limit and seen < SEARCH_MAX:
            data = self._get(url, params, "search")
            self._remember(data)
            results = _records(data, "results")
            seen += len(results)
            tickets = [r for r in results if r.get("result_type", "ticket") == "ticket"]
            for r in tickets:
                found.setdefault(service_id(r.get("id"), "Zendesk", "ticket id"), r)
            fresh = pages.fresh(found)
            if not results or len(found) >= query.limit or seen >= SEARCH_MAX:
                break
            url, params = pages.follow(data.get("next_page"), fresh), None
        tickets = self._tickets(list(found.values())[: query.limit])
        return sort_tickets(tickets, query.sort)

    def export(self, since=None, cursor: str | None = None) -> Iterator[ExportItem]:
        from tixcli.backends.zendesk_export import export

        return export(self, since, cursor)

    # -- writes -----------------------------------------------------------------------------

    def create(self, new: NewTicket) -> CreateResult:
        if new.dedupe_key:
            existing = self._find_external(new.dedupe_key)
            if existing is not None:
                return CreateResult(self._reply(existing, new.as_reply()), created=False)
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
        if new.cc:
            fields["email_ccs"] = [{"user_email": e, "action": "put"} for e in new.cc]
        if new.dedupe_key:
            fields["external_id"] = new.dedupe_key
        author_id = self._author_id(new.author)
        if author_id is not None:
            comment["author_id"] = author_id
        token = self._upload(new.attachments)
        if token:
            comment["uploads"] = [token]
        # One key per invocation, reused on this invocation's retries: a create whose answer was
        # lost is retried safely (same key, same body: Zendesk returns the first ticket).
        key = str(uuid.uuid4())
        response = self.http.request(
            "POST",
            f"{API}/tickets.json",
            json={"ticket": fields},
            headers={"Idempotency-Key": key},
            retry_safe=True,
        )
        data = self._answer(response, "create the ticket")
        return CreateResult(self._ticket(_field(data, "ticket")), created=True)

    def reply(self, ticket_id: str, reply: Reply) -> Ticket:
        return self._reply(self._fetch(ticket_id), reply)

    def solve(self, ticket_id: str, body: str | None = None, author: str | None = None) -> Ticket:
        raw = self._fetch(ticket_id)
        tid = str(raw["id"])
        check_solve(tid, self._status(raw))
        fields: dict[str, Any] = {"status": "solved"}
        if body:
            fields["comment"] = self._comment(body, True, author, None)
        return self._ticket(self._solved(self._update(tid, fields, "solve")))

    def close(self, ticket_id: str) -> Ticket:
        raw = self._fetch(ticket_id)
        tid = str(raw["id"])
        check_close(tid, self._status(raw))
        return self._ticket(self._solved(self._update(tid, {"status": "closed"}, "close")))

    def update_cc(self, ticket_id: str, add: list[str], remove: list[str]) -> list[str]:
        raw = self._fetch(ticket_id)
        if not add and not remove:
            return self._ticket(raw).cc
        tid = str(raw["id"])
        ensure_not_closed(tid, self._status(raw), "changing CCs")
        ccs = [{"user_email": e, "action": "put"} for e in add]
        ccs += [{"user_email": e, "action": "delete"} for e in remove]
        return self._ticket(self._update(tid, {"email_ccs": ccs}, "cc")).cc

    # -- helpers: requests ------------------------------------------------------------------

    def _fetch(self, ticket_id: str) -> dict:
        """One ticket with its people and group side-loaded (one request)."""
        tid = ticket_number(ticket_id)
        try:
            data = self._get(f"{API}/tickets/{tid}.json", {"include": INCLUDE}, "read the ticket")
        except NotFoundError:
            raise NotFoundError(f"ticket {tid} not found") from None
        self._remember(data)
        return _field(data, "ticket")

    def comments(self, ticket_id: int | str) -> list[Comment]:
        """The whole thread, oldest first, authors side-loaded, cursor-paged."""
        tid = service_id(ticket_id, "Zendesk", "ticket id")
        url: str | None = f"{API}/tickets/{tid}/comments.json"
        params: dict | None = {"include": "users", "page[size]": PAGE_SIZE}
        raws: list[dict] = []
        pages = Paging(self.http, "comment")
        while url:
            data = self._get(url, params, "read the comments")
            self._remember(data)
            page = _records(data, "comments")
            raws.extend(page)
            if len(raws) > MAX_COMMENTS:
                raise UnavailableError(f"Zendesk sent more than {MAX_COMMENTS:,} comments on ticket {tid}; stopped")
            fresh = pages.fresh(service_id(c.get("id"), "Zendesk", "comment id") for c in page)
            more = (data.get("meta") or {}).get("has_more") if isinstance(data.get("meta"), dict) else None
            links = data.get("links") if isinstance(data.get("links"), dict) else {}
            url, params = (pages.follow(links.get("next"), fresh) if more else None), None
        self._resolve(self._user_id(c.get("author_id")) for c in raws)
        return [self._comment_model(c) for c in raws]

    def _find_external(self, key: str) -> dict | None:
        """The newest non-closed ticket carrying the dedupe key (immediate, unlike search)."""
        params = {"external_id": key, "include": INCLUDE}
        data = self._get(f"{API}/tickets.json", params, "look up the dedupe key")
        self._remember(data)
        live = [t for t in data.get("tickets") or [] if t.get("status") not in ("closed", "deleted")]
        live = [t for t in live if t.get("external_id") == key]
        return max(live, key=lambda t: (t.get("updated_at") or "", t.get("id") or 0)) if live else None

    def _reply(self, raw: dict, reply: Reply) -> Ticket:
        tid = str(raw["id"])
        current = self._status(raw)
        requester = self._email(raw.get("requester_id"))
        new_status = status_after_reply(tid, current, reply, requester)
        fields: dict[str, Any] = {"comment": self._comment(reply.body, reply.public, reply.author, reply.attachments)}
        # An agent's comment does not reopen a solved or pending ticket on Zendesk: say it. An
        # explicit status goes with the comment, an internal note's too (one update).
        if reply.public or reply.status is not None or new_status != current:
            fields["status"] = new_status
        if reply.cc:
            fields["email_ccs"] = [{"user_email": e, "action": "put"} for e in reply.cc]
        return self._ticket(self._update(tid, fields, "reply"))

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
        if author.lower() not in self._user_ids:
            data = self._get(f"{API}/users/search.json", {"query": author}, "look up the author")
            users = [u for u in data.get("users") or [] if (u.get("email") or "").lower() == author.lower()]
            self._remember({"users": users})
        user_id = self._user_ids.get(author.lower())
        if user_id is None:
            raise InvalidInputError(f"no Zendesk user with the email {author}", hint="use an existing user")
        return user_id

    def _group_id(self, name: str) -> int:
        for gid, gname in self._all_groups().items():
            if gname.lower() == name.lower():
                return gid
        known = _bounded(", ".join(sorted(self._groups.values()))) or "none"
        raise InvalidInputError(f"no Zendesk group named {name!r}", hint=f"groups: {known}")

    def _all_groups(self) -> dict[int, str]:
        """Every group (paged here, not by zenpy: its paging follows any link for ever)."""
        if not self._all_groups_loaded:
            pages = Paging(self.http, "group")
            url: str | None = f"{API}/groups.json"
            while url:
                data = self._get(url, None, "list groups")
                groups = _records(data, "groups")
                self._remember({"groups": groups})
                fresh = pages.fresh(service_id(g.get("id"), "Zendesk", "group id") for g in groups)
                url = pages.follow(data.get("next_page"), fresh) if groups else None
            self._all_groups_loaded = True
        return self._groups

    def _resolve(self, ids: Iterable[Any]) -> None:
        """Fetch the users not yet in the cache (show_many, 100 a request)."""
        missing = sorted({i for i in ids if isinstance(i, int) and i > 0 and i not in self._users})
        for start in range(0, len(missing), PAGE_SIZE):
            chunk = missing[start : start + PAGE_SIZE]
            data = self._get(f"{API}/users/show_many.json", {"ids": ",".join(map(str, chunk))}, "look up users")
            self._remember({"users": _records(data, "users")})
            for user_id in chunk:
                self._users.setdefault(user_id, None)  # deleted users: do not ask again

    def _remember(self, data: dict) -> None:
        """Fill the user and group caches from side-loaded records (ids checked: exit 8 if odd)."""
        for user in _records(data, "users"):
            user_id = int(service_id(user.get("id"), "Zendesk", "user id"))
            email = user.get("email") if isinstance(user.get("email"), str) else None
            name = user.get("name") if isinstance(user.get("name"), str) else None
            self._users[user_id] = email or name
            if email:
                self._user_ids[email.lower()] = user_id
        for group in _records(data, "groups"):
            group_id = int(service_id(group.get("id"), "Zendesk", "group id"))
            self._groups[group_id] = str(group.get("name") or group_id)
        for metrics in data.get("metric_sets") or []:
            if isinstance(metrics, dict) and metrics.get("solved_at"):
                self._solved_at[metrics.get("ticket_id")] = metrics["solved_at"]

    def _zen(self, call: Callable[[], Any], action: str, tid: str | None = None) -> Any:
        """Run a zenpy call; every failure becomes a tixcli error."""
        try:
            return call()
        except TixError:
            raise
        except Exception as exc:  # zenpy's, requests' and JSON errors alike
            response = getattr(exc, "response", None)
            if response is not None and getattr(response, "status_code", None):
                raise api_error(response.status_code, _json(response), action, tid) from None
            raise UnavailableError(f"Zendesk: unexpected answer ({type(exc).__name__})") from None

    def _get(self, path: str, params: dict | None, action: str) -> dict:
        """A GET whose 4xx answers HttpClient leaves to us (400, 422...) become tixcli errors."""
        return self._answer(self.http.request("GET", path, params=params), action)

    def _answer(self, response, action: str, tid: str | None = None) -> dict:
        if response.status_code >= 400:
            raise api_error(response.status_code, _json(response), action, tid)
        data = self.http.decode(response)
        if not isinstance(data, dict):
            raise UnavailableError("Zendesk sent a malformed answer (not a JSON object)")
        return data

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

    def _tickets(self, raws: list[dict]) -> list[Ticket]:
        self._resolve(people_ids(raws))  # everyone on every ticket, in as few requests as can be
        return [self._ticket(raw) for raw in raws]

    def _ticket(self, raw: dict) -> Ticket:
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
            cc=sorted({e for e in (self._email(i) for i in _cc_ids(raw)) if e}),
            tags=list(raw.get("tags") or []),
            external_id=raw.get("external_id"),
            created_at=service_time(raw.get("created_at"), "Zendesk"),
            updated_at=service_time(raw.get("updated_at"), "Zendesk"),
            solved_at=service_time(raw.get("solved_at") or self._solved_at.get(raw["id"]), "Zendesk"),
            url=f"{self.base_url}/agent/tickets/{tid}",
        )

    def _comment_model(self, raw: dict) -> Comment:
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
                for a in _records(raw, "attachments")
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


def ticket_number(ticket_id: str) -> int:
    """A ticket id the user gave: ASCII digits only (str.isdigit also takes '²' and '١')."""
    text = str(ticket_id).strip().lstrip("#")
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise NotFoundError(f"ticket {ticket_id!r} not found", hint="Zendesk ticket ids are numbers")
    return int(text)


def search_query(query: ListQuery) -> str:
    """The Search API query for a `list`."""
    terms = ["type:ticket"]
    if query.scope == "mine" and not (query.requester or query.assignee):
        terms.append(f"requester:{_quote_term(query.user)}")
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
    if query.since:
        terms.append("updated>=" + to_iso(query.since).replace("+00:00", "Z"))
    if query.search:
        words = [w for w in query.search.split() if any(ch.isalnum() for ch in w)]
        if not words:
            raise InvalidInputError("--search needs at least one word with letters or digits")
        terms += ['"' + w.replace('"', "") + '"' for w in words]
    return " ".join(terms)


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


def sort_tickets(tickets: list[Ticket], sort: str) -> list[Ticket]:
    """The same order as the SQLite store (newest first, ids breaking ties)."""

    def newest(t: Ticket) -> tuple:
        return (t.updated_at or "", int(t.id))

    if sort == "created":
        return sorted(tickets, key=lambda t: (t.created_at or "", int(t.id)), reverse=True)
    tickets = sorted(tickets, key=newest, reverse=True)
    if sort == "priority":
        tickets.sort(key=lambda t: PRIORITY_RANK[t.priority])
    return tickets


def api_error(status: int, body: Any, action: str, tid: str | None = None) -> TixError:
    """A 4xx answer HttpClient leaves to us (400, 409, 422...) as a tixcli error."""
    details = _details(body)
    text = " ".join(details).lower()
    what = f"ticket {tid}" if tid else "the ticket"
    if "closed prevents ticket update" in text:
        return closed_refusal(what, action)
    if action in ("solve", "close") and "assignee" in text:
        return RefusedError(
            f"Zendesk refused to {action} {what}: it has no assignee",
            hint=f"assign the ticket to an agent (in Zendesk), then {action} it",
        )
    if action == "close" and "status" in text:
        return RefusedError(
            f"Zendesk refused to close {what}",
            hint="Zendesk closes solved tickets itself (4 days after solving by default): solve it instead",
        )
    if status == 409:
        return UnavailableError(f"Zendesk: {what} changed while updating it (HTTP 409)", hint="try again")
    if status in (400, 422):
        reason = _bounded("; ".join(details)) or f"HTTP {status}"
        return InvalidInputError(f"Zendesk refused to {action}: {reason}")
    return UnavailableError(f"Zendesk answered HTTP {status} to {action}")


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


def _json(response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


def _bounded(text: str) -> str:
    """Text from the service cut to MESSAGE_MAX characters for an error message or hint."""
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def _records(data: Any, key: str) -> list[dict]:
    """The list of objects under `key` of an answer; anything else there is a malformed answer."""
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise UnavailableError(f"Zendesk sent a malformed answer ({key} is not a list of objects)")
    return value


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


def _field(data: Any, key: str) -> dict:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, dict) or value.get("id") is None:
        raise UnavailableError(f"Zendesk sent a malformed answer (no {key})")
    return value


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
