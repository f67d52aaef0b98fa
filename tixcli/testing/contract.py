"""The backend contract, shipped with tixcli: one test class every backend's tests subclass.

Like keyring's ``keyring.testing.backend`` and fsspec's abstract suites, this is the one
description of what a backend must do, and tixcli's own backends run exactly this::

    from tixcli.testing import BackendContract

    class TestMyDesk(BackendContract):
        def make_backend(self, tmp_path):
            return MyDeskBackend(Profile("test", "mydesk", {"user": "me@example.com"}))

``make_backend`` returns a fresh, empty backend for each test. The class attributes below say
what else the contract needs to know (people who can be requesters and CCs, an id no ticket
has, a group the backend accepts, how long its clock needs to move); override them where the
defaults do not hold.

The mandatory core — the nine verbs (get, list_tickets, export, create, reply, solve, close,
reopen, update_cc) and every field of the ticket model — is never skipped. A test of an optional
capability (``tixcli.backends.base.CAPABILITIES``) runs only when the backend declares it in
``Backend.capabilities``; one it does not declare must be refused with NotSupportedError before
anything is sent, and that is asserted instead.

The contract tests the Python API only (no CLI). pytest is imported here and nowhere else in
tixcli; nothing in tixcli imports this module, so a command never pays for it.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tixcli.backends.base import CAPABILITIES, Backend, ExportItem
from tixcli.errors import InvalidInputError, NotFoundError, NotSupportedError, RefusedError
from tixcli.model import (
    PRIORITIES,
    TICKET_FIELDS,
    TYPES,
    FileUpload,
    ListQuery,
    NewTicket,
    Reply,
    Ticket,
    TicketChange,
    json_schema,
    parse_iso,
)

__all__ = ["REFUSABLE", "BackendContract", "check_schema", "requires"]

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
#: the optional capabilities a backend refuses with NotSupportedError when it does not declare them
#: (dedupe_guaranteed is a promise, not a verb)
REFUSABLE = (
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
    "set_channel",
    "custom_fields",
    "sla",
    "escalations",
    "satisfaction",
    "satisfaction_scale",
)
#: the fields of a ticket an edit of one other field must leave as they were
KEPT_BY_EDIT = ("subject", "description", "priority", "type", "requester", "assignee", "group", "tags", "cc")


def requires(capability: str):
    """Mark a contract test as testing `capability`: skipped when the backend does not declare it."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")

    def mark(test):
        test.tixcli_capability = capability
        return test

    return mark


def ids(tickets) -> list[str]:
    return [t.id for t in tickets]


def check_schema(value, schema: dict, defs: dict | None = None, where: str = "ticket") -> None:
    """Check `value` against tixcli's published JSON Schema (the subset ``json_schema()`` uses).

    Written out here so the contract needs nothing beyond pytest.
    """
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} is not one of {schema['enum']}"
        return
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types or []
    kinds = {
        "string": str,
        "integer": int,
        "boolean": bool,
        "array": list,
        "object": dict,
        "null": type(None),
    }
    ok = [t for t in types if isinstance(value, kinds[t]) and not (t == "integer" and isinstance(value, bool))]
    assert not types or ok, f"{where}: {value!r} is not of type {types}"
    if isinstance(value, str) and "pattern" in schema:
        assert re.search(schema["pattern"], value), f"{where}: {value!r} does not match {schema['pattern']}"
    if isinstance(value, str) and schema.get("format") == "date-time":
        assert ISO.match(value), f"{where}: {value!r} is not ISO 8601 with seconds and +00:00"
    if isinstance(value, int) and "minimum" in schema:
        assert value >= schema["minimum"], f"{where}: {value!r} is below {schema['minimum']}"
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check_schema(item, schema["items"], defs, f"{where}[{i}]")
    if isinstance(value, dict):
        missing = [k for k in schema.get("required", ()) if k not in value]
        assert not missing, f"{where}: missing {missing}"
        if schema.get("additionalProperties") is False:
            extra = [k for k in value if k not in schema.get("properties", {})]
            assert not extra, f"{where}: unexpected {extra}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check_schema(value[key], sub, defs, f"{where}.{key}")


class BackendContract:
    """What every tixcli backend must do, as tests: subclass it and implement `make_backend`."""

    # == what a backend's tests provide ======================================================

    #: people (besides the profile's user) who can be requesters and CC participants
    customer = "customer@example.com"
    lead = "lead@example.com"
    dev = "dev@example.com"
    #: a well-formed id no ticket has
    missing_id = "999999"
    #: a group the backend accepts on create (used only when it declares "groups")
    group: str | None = "Support"
    #: someone tickets can be assigned to (used only when it declares "assign"); None: the profile's user
    agent: str | None = None
    #: seconds to wait so that updated_at can move (times are ISO 8601 in whole seconds);
    #: 0 for a backend whose clock moves by itself on every write
    tick: float = 1.1
    #: a custom text field the test profile maps (used only with "custom_fields"): its name, a
    #: value, and another value
    custom_field: tuple[str, str, str] = ("service", "hosting", "billing")
    #: the values of `priority` and `type` the backend stores and reads back
    priorities: tuple[str, ...] = PRIORITIES
    types: tuple[str, ...] = TYPES

    def make_backend(self, tmp_path: Path) -> Backend:
        """A fresh backend with no tickets (a store in `tmp_path`, a server just reset...)."""
        raise NotImplementedError("a BackendContract subclass implements make_backend(self, tmp_path)")

    def reopen(self, backend: Backend) -> Backend:
        """Another instance of `backend` on the same tickets (used by the dedupe_guaranteed test)."""
        return type(backend)(backend.profile)

    def request_count(self) -> int | None:
        """Requests the service has received so far (None: not counted); refusals must send none."""
        return None

    @pytest.fixture
    def backend_setup(self):
        """Override to request fixtures `make_backend` needs (a server, an environment); kept in self.setup."""
        return None

    @property
    def user(self) -> str:
        """Who "mine" means and who writes the contract's tickets: the profile's user."""
        return self.backend.profile.user

    @property
    def assignable(self) -> str:
        """The person the assign tests assign tickets to."""
        return self.agent or self.user

    # == the fixture and helpers ==============================================================

    @pytest.fixture(autouse=True)
    def _contract_backend(self, request, backend_setup, tmp_path):
        self.setup = backend_setup
        self.tmp_path = tmp_path
        self._opened: list[Backend] = []
        capability = getattr(request.function, "tixcli_capability", None)
        self.backend = self.make_backend(tmp_path)
        self._opened.append(self.backend)
        try:
            if capability is not None and not self.backend.supports(capability):
                pytest.skip(f"the {self.backend.name} backend does not declare {capability!r}")
            yield self.backend
        finally:
            for backend in self._opened:
                backend.shutdown()

    def new(self, subject="Printer on fire", body="It is really on fire", **kw) -> NewTicket:
        kw.setdefault("requester", self.user)
        return NewTicket(subject=subject, body=body, author=self.user, **kw)

    def make(self, subject="Printer on fire", body="It is really on fire", **kw) -> Ticket:
        return self.backend.create(self.new(subject, body, **kw)).ticket

    def reply(self, body="noted", **kw) -> Reply:
        return Reply(body=body, author=self.user, **kw)

    def query(self, **kw) -> list[Ticket]:
        return self.backend.list_tickets(ListQuery(user=self.user, **kw))

    def upload(self, name: str, data: bytes) -> list[FileUpload]:
        from tixcli.attachments import prepare_uploads
        from tixcli.config import AttachmentLimits

        path = self.tmp_path / name
        path.write_bytes(data)
        return prepare_uploads([str(path)], AttachmentLimits())

    def wait(self) -> None:
        """Let the clock move past the second of the last write."""
        time.sleep(self.tick)

    def just_after(self, ticket: Ticket) -> datetime:
        """The first second after the ticket's last change, as the backend stamped it."""
        return parse_iso(self.backend.get(ticket.id).updated_at) + timedelta(seconds=1)

    def group_kw(self) -> dict:
        return {"group": self.group} if self.backend.supports("groups") and self.group else {}

    def cc_kw(self) -> dict:
        return {"cc": [self.lead]} if self.backend.supports("cc") else {}

    def exported(self, **kw) -> dict[str, Ticket]:
        items = list(self.backend.export(**kw))
        assert all(isinstance(item, ExportItem) for item in items)
        found = {item.ticket.id: item.ticket for item in items}
        assert len(found) == len(items), "export gave a ticket twice"
        return found

    # == what the backend declares ===========================================================

    def test_declares_a_name_and_known_capabilities(self):
        backend = self.backend
        assert isinstance(backend.name, str) and backend.name
        assert set(backend.capabilities) <= set(CAPABILITIES), set(backend.capabilities) - set(CAPABILITIES)
        if "dedupe_guaranteed" in backend.capabilities:
            assert "dedupe" in backend.capabilities, "dedupe_guaranteed without dedupe"
        assert isinstance(backend.max_comment_chars, int) and backend.max_comment_chars > 0

    def test_undeclared_capabilities_are_refused_before_anything_is_sent(self):
        ticket = self.make()
        attachment = self.upload("refused.log", b"never sent\n")
        attempts = {
            "internal_notes": [lambda: self.backend.reply(ticket.id, self.reply(public=False))],
            "attachments": [
                lambda: self.backend.create(self.new(attachments=attachment)),
                lambda: self.backend.reply(ticket.id, self.reply(attachments=attachment)),
            ],
            "cc": [
                lambda: self.backend.create(self.new(cc=[self.lead])),
                lambda: self.backend.reply(ticket.id, self.reply(cc=[self.lead])),
                lambda: self.backend.update_cc(ticket.id, [self.lead], []),
                lambda: self.backend.update_cc(ticket.id, [], [self.lead]),
            ],
            "groups": [
                lambda: self.backend.create(self.new(group=self.group or "Support")),
                lambda: self.backend.edit(ticket.id, TicketChange(group=self.group or "Support")),
                lambda: self.query(scope="all", group=self.group or "Support"),
            ],
            "search": [lambda: self.query(search="fire")],
            "dedupe": [lambda: self.backend.create(self.new(dedupe_key="refused-key"))],
            "export_cursor": [lambda: list(self.backend.export_tickets(cursor="1"))],
            "edit": [
                lambda: self.backend.edit(ticket.id, TicketChange(subject="refused")),
                lambda: self.backend.edit(ticket.id, TicketChange(priority="urgent", type="task")),
                lambda: self.backend.edit(ticket.id, TicketChange(requester=self.customer)),
                lambda: self.backend.edit(ticket.id, TicketChange(add_tags=["refused"])),
            ],
            "assign": [
                lambda: self.backend.edit(ticket.id, TicketChange(assignee=self.assignable)),
                lambda: self.backend.edit(ticket.id, TicketChange(unassign=True)),
                lambda: self.backend.create(self.new(assignee=self.assignable)),
            ],
            "download": [lambda: self.backend.download(ticket.id, "1")],
            "history": [
                lambda: self.backend.ticket_history(ticket.id),
                lambda: self.backend.export_with_history(iter(())),
            ],
            "channel": [lambda: self.query(scope="all", channel="email")],
            "set_channel": [lambda: self.backend.create(self.new(channel="phone"))],
            "custom_fields": [
                lambda: self.backend.custom_fields({self.custom_field[0]: self.custom_field[1]}),
                lambda: self.backend.create(self.new(fields={self.custom_field[0]: self.custom_field[1]})),
                lambda: self.backend.edit(ticket.id, TicketChange(fields={self.custom_field[0]: None})),
                lambda: self.query(scope="all", fields=((self.custom_field[0], self.custom_field[1]),)),
            ],
            "sla": [
                lambda: self.query(scope="all", breaching=True),
                lambda: self.query(scope="all", due_within=timedelta(hours=1)),
            ],
            "escalations": [
                lambda: self.backend.escalate(ticket.id, reason="refused"),
                lambda: self.backend.escalate(ticket.id, stage="submitted"),
                lambda: self.query(scope="all", escalated=True),
            ],
            "satisfaction": [lambda: self.backend.rate(ticket.id, "good")],
            "satisfaction_scale": [lambda: self.backend.rate(ticket.id, 5)],
        }
        assert set(attempts) == set(REFUSABLE)
        before = self.request_count()
        for capability in REFUSABLE:
            if self.backend.supports(capability):
                continue  # its own tests run
            for attempt in attempts[capability]:
                with pytest.raises(NotSupportedError) as refused:
                    attempt()
                assert (refused.value.backend, refused.value.capability) == (self.backend.name, capability)
            assert self.request_count() == before, f"refusing {capability!r} sent requests"
        after = self.backend.get(ticket.id)
        assert len(after.comments) == 1 and after.cc == [] and after.updated_at == ticket.updated_at
        assert {f: getattr(after, f) for f in KEPT_BY_EDIT} == {f: getattr(ticket, f) for f in KEPT_BY_EDIT}
        assert ids(self.query(scope="all", statuses=None)) == [ticket.id]

    # == create and get (mandatory) ==========================================================

    def test_create_then_get_returns_the_normalised_ticket(self):
        result = self.backend.create(self.new(priority="high", type="incident", tags=["build"]))
        assert result.created is True
        ticket = self.backend.get(result.ticket.id)
        assert ticket.id == result.ticket.id and isinstance(ticket.id, str)
        assert ticket.backend == self.backend.name
        assert ticket.subject == "Printer on fire"
        assert ticket.description == "It is really on fire"
        assert ticket.status in ("new", "open")
        assert ticket.priority == "high"
        assert ticket.type == "incident"
        assert ticket.requester == self.user
        assert ISO.match(ticket.created_at) and ISO.match(ticket.updated_at)
        assert ticket.solved_at is None
        assert [c.body for c in ticket.comments] == ["It is really on fire"]
        assert ticket.comments[0].public is True
        assert ISO.match(ticket.comments[0].created_at or "")

    def test_ticket_json_has_every_field_and_matches_the_published_schema(self):
        made = self.make(priority="high", type="incident", tags=["build"], **self.cc_kw(), **self.group_kw())
        ticket = self.backend.get(made.id)
        schema = json_schema()
        data = ticket.to_dict()
        assert list(data)[: len(TICKET_FIELDS)] == list(TICKET_FIELDS)
        check_schema(data, schema)
        listed = self.query()[0].to_dict()
        assert "comments" not in listed
        check_schema(listed, schema)
        for exported in self.exported().values():
            check_schema(exported.to_dict(), schema, where="exported ticket")

    def test_every_field_round_trips_through_create_get_list_and_export(self):
        made = self.make(
            subject="Ünïcode subject: «quotes» & more",
            body="line one\nline two",
            tags=["build", "nightly"],
            priority="urgent",
            type="incident",
            requester=self.customer,
            **self.group_kw(),
            **self.cc_kw(),
        )
        expected = {
            "subject": "Ünïcode subject: «quotes» & more",
            "description": "line one\nline two",
            "tags": ["build", "nightly"],
            "priority": "urgent",
            "type": "incident",
            "requester": self.customer,
            "group": self.group if self.group_kw() else None,
            "cc": [self.lead] if self.cc_kw() else [],
        }
        listed = {t.id: t for t in self.query(scope="all", statuses=None)}
        assert list(listed) == [made.id]
        for where, ticket in (
            ("create", made),
            ("get", self.backend.get(made.id)),
            ("list", listed[made.id]),
            ("export", self.exported()[made.id]),
        ):
            got = {f: getattr(ticket, f) for f in expected}
            got["tags"] = sorted(got["tags"])
            assert got == expected, f"{where} lost fields"

    def test_every_priority_and_type_round_trips(self):
        made = {}
        for priority in self.priorities:
            made[self.make(subject=f"priority {priority}", priority=priority).id] = ("priority", priority)
        for type_ in self.types:
            made[self.make(subject=f"type {type_}", type=type_).id] = ("type", type_)
        listed = {t.id: t for t in self.query(scope="all", statuses=None, limit=100)}
        for ticket_id, (field, value) in made.items():
            assert getattr(self.backend.get(ticket_id), field) == value
            assert getattr(listed[ticket_id], field) == value

    def test_list_gives_each_ticket_as_get_does_without_its_thread(self):
        a = self.make(subject="first", tags=["x"], priority="low", type="question", **self.cc_kw(), **self.group_kw())
        b = self.make(subject="second", requester=self.customer)
        self.backend.reply(a.id, self.reply(body="more"))
        self.backend.solve(b.id)
        listed = self.query(scope="all", statuses=None)
        assert sorted(ids(listed)) == sorted([a.id, b.id])
        for ticket in listed:
            assert ticket.comments is None
            assert ticket.to_dict() == self.backend.get(ticket.id).to_dict(with_comments=False)

    @requires("groups")
    def test_a_group_is_kept_through_create_get_list_and_export(self):
        assert self.group, "a backend with groups names one it accepts (BackendContract.group)"
        made = self.make(group=self.group)
        assert made.group == self.group
        assert self.backend.get(made.id).group == self.group
        assert [t.group for t in self.query()] == [self.group]
        assert self.exported()[made.id].group == self.group

    def test_tags_and_group_are_kept_through_create_reply_and_list(self):
        made = self.make(tags=["build", "nightly"], priority="low", type="incident", **self.group_kw())
        self.backend.reply(made.id, self.reply(body="still here"))
        shown = self.backend.get(made.id)
        listed = self.query()[0]
        for ticket in (made, shown, listed):
            assert sorted(ticket.tags) == ["build", "nightly"]
            assert ticket.group == self.group_kw().get("group")
            assert (ticket.priority, ticket.type) == ("low", "incident")

    def test_get_unknown_ticket_is_not_found(self):
        with pytest.raises(NotFoundError):
            self.backend.get(self.missing_id)

    def test_every_verb_on_an_unknown_ticket_is_not_found(self):
        self.make()
        for verb in (
            lambda: self.backend.reply(self.missing_id, self.reply()),
            lambda: self.backend.solve(self.missing_id),
            lambda: self.backend.close(self.missing_id),
            lambda: self.backend.reopen(self.missing_id),
            lambda: self.backend.update_cc(self.missing_id, [], []),
        ):
            with pytest.raises(NotFoundError):
                verb()

    # == updated_at (mandatory; a CC change where "cc" is declared) ==========================

    def test_a_reply_moves_updated_at_and_nothing_else(self):
        made = self.make(tags=["keep"], priority="high", type="incident", **self.cc_kw(), **self.group_kw())
        before = self.backend.get(made.id)
        self.wait()
        self.backend.reply(made.id, self.reply(body="later"))
        after = self.backend.get(made.id)
        assert after.updated_at > before.updated_at
        assert after.created_at == before.created_at
        unchanged = ("subject", "description", "priority", "type", "requester", "assignee", "group", "tags", "cc")
        assert {f: getattr(after, f) for f in unchanged} == {f: getattr(before, f) for f in unchanged}

    @pytest.mark.parametrize("change", ["reply", "internal note", "solve", "close", "cc add", "cc remove"])
    def test_updated_at_moves_on_every_change(self, change):
        needs = {"internal note": "internal_notes", "cc add": "cc", "cc remove": "cc"}.get(change)
        if needs and not self.backend.supports(needs):
            pytest.skip(f"the {self.backend.name} backend does not declare {needs!r}")
        made = self.make(**({"cc": [self.lead]} if change == "cc remove" else {}))
        before = self.backend.get(made.id)
        self.wait()
        returned = {
            "reply": lambda: self.backend.reply(made.id, self.reply(body="later")),
            "internal note": lambda: self.backend.reply(made.id, self.reply(body="quiet", public=False)),
            "solve": lambda: self.backend.solve(made.id),
            "close": lambda: self.backend.close(made.id),
            "cc add": lambda: self.backend.update_cc(made.id, [self.dev], []),
            "cc remove": lambda: self.backend.update_cc(made.id, [], [self.lead]),
        }[change]()
        after = self.backend.get(made.id)
        assert after.updated_at > before.updated_at, f"{change} did not move updated_at"
        assert after.created_at == before.created_at
        if isinstance(returned, Ticket):
            assert returned.updated_at == after.updated_at, f"{change} returned a stale ticket"
        listed = {t.id: t for t in self.query(scope="all", statuses=None)}
        assert listed[made.id].updated_at == after.updated_at
        assert self.exported()[made.id].updated_at == after.updated_at

    # == list (mandatory; search where declared) =============================================

    def test_list_mine_shows_only_my_tickets_and_all_shows_everyones(self):
        mine = self.make(subject="mine")
        theirs = self.make(subject="theirs", requester=self.customer)
        assert ids(self.query(scope="mine")) == [mine.id]
        assert set(ids(self.query(scope="all"))) == {mine.id, theirs.id}
        by_requester = self.query(scope="all", requester=self.customer)
        assert ids(by_requester) == [theirs.id]
        assert by_requester[0].requester == self.customer
        assert ids(self.query(scope="mine", requester=self.customer)) == [theirs.id]

    def test_list_filters_by_status(self):
        active = self.make(subject="active one")
        solved = self.make(subject="solved one")
        closed = self.make(subject="closed one")
        self.backend.solve(solved.id)
        self.backend.close(closed.id)
        assert ids(self.query()) == [active.id]
        assert ids(self.query(statuses=("solved",))) == [solved.id]
        assert ids(self.query(statuses=("closed",))) == [closed.id]
        assert set(ids(self.query(statuses=("solved", "closed")))) == {solved.id, closed.id}
        assert set(ids(self.query(statuses=None))) == {active.id, solved.id, closed.id}
        self.backend.reply(active.id, self.reply(body="which printer?", status="pending"))
        assert ids(self.query(statuses=("pending",))) == [active.id]
        assert ids(self.query(statuses=("new", "open"))) == []

    def test_list_filters_by_type_and_priority(self):
        incident = self.make(subject="down", type="incident", priority="urgent")
        question = self.make(subject="how", type="question", priority="low")
        assert ids(self.query(type="incident")) == [incident.id]
        assert ids(self.query(type="question")) == [question.id]
        assert ids(self.query(priority="urgent")) == [incident.id]
        assert ids(self.query(priority="low")) == [question.id]
        assert ids(self.query(priority="urgent", type="question")) == []

    @requires("search")
    def test_list_search_requires_every_word_anywhere_in_the_thread(self):
        a = self.make(subject="Database timeout", body="the nightly job")
        b = self.make(subject="Login page", body="timeout on login")
        self.backend.reply(b.id, self.reply(body="Zebra stripes appear"))
        assert set(ids(self.query(search="timeout"))) == {a.id, b.id}
        assert ids(self.query(search="TIMEOUT nightly")) == [a.id]
        assert ids(self.query(search="zebra login")) == [b.id]
        assert self.query(search="timeout absentword") == []

    @requires("search")
    def test_list_search_word_ending_in_a_star_finds_words_it_starts(self):
        jammed = self.make(subject="Paper jammed again", body="tray two")
        self.make(subject="Pajamas", body="not this one")
        assert ids(self.query(search="jam*")) == [jammed.id]
        assert ids(self.query(search="JAMM* tray")) == [jammed.id]
        assert self.query(search="jamz*") == []

    def test_list_limit_and_sort_created(self):
        made = [self.make(subject=f"ticket {i}").id for i in range(3)]
        newest_first = ids(self.query(sort="created"))
        assert newest_first == list(reversed(made))
        assert ids(self.query(sort="created", limit=2)) == list(reversed(made))[:2]
        assert ids(self.query(sort="created", limit=1)) == [made[-1]]

    def test_list_sort_updated_puts_the_latest_change_first(self):
        first = self.make(subject="first")
        second = self.make(subject="second")
        self.wait()
        self.backend.reply(first.id, self.reply(body="bump"))
        assert ids(self.query(sort="updated")) == [first.id, second.id]
        assert ids(self.query()) == [first.id, second.id]
        assert ids(self.query(sort="updated", limit=1)) == [first.id]
        assert ids(self.query(sort="created")) == [second.id, first.id]

    def test_list_sort_priority_puts_the_most_urgent_first(self):
        made = {}
        for priority in ("low", "urgent", "normal", "high"):
            made[priority] = self.make(subject=f"{priority} one", priority=priority).id
        order = ids(self.query(sort="priority"))
        assert order == [made[p] for p in ("urgent", "high", "normal", "low")]
        assert ids(self.query(sort="priority", limit=2)) == [made["urgent"], made["high"]]

    def test_list_since_filters_on_updated(self):
        old = self.make(subject="old")
        future = datetime.now(timezone.utc) + timedelta(days=1)
        past = datetime.now(timezone.utc) - timedelta(days=1)
        assert self.query(since=future) == []
        assert ids(self.query(since=past)) == [old.id]
        self.wait()
        fresh = self.make(subject="fresh")
        cut = self.just_after(old)
        assert ids(self.query(since=cut)) == [fresh.id]
        self.wait()
        self.backend.reply(old.id, self.reply(body="bump"))
        assert ids(self.query(since=cut)) == [old.id, fresh.id]

    def test_list_tag_filter_needs_every_tag(self):
        both = self.make(subject="both", tags=["vpn", "urgent-fix"])
        one = self.make(subject="one", tags=["vpn"])
        other = self.make(subject="other", tags=["urgent-fix", "billing"])
        assert ids(self.query(tags=("vpn",))) == [one.id, both.id]
        assert ids(self.query(tags=("vpn", "urgent-fix"))) == [both.id]
        assert ids(self.query(tags=("urgent-fix",), sort="created")) == [other.id, both.id]
        assert ids(self.query(tags=("billing", "vpn"))) == []
        assert self.query(tags=("absent-tag",)) == []

    def test_list_tag_filter_keeps_looking_until_the_limit_matches(self):
        """The matching tickets are the oldest: a backend that filters one page of the service's
        answer and stops gives a short list that looks complete."""
        wanted = [self.make(subject=f"wanted {i}", tags=["vpn", "keep"]).id for i in range(2)]
        for i in range(4):
            self.make(subject=f"noise {i}", tags=["vpn"])
        assert ids(self.query(tags=("vpn", "keep"), limit=2)) == list(reversed(wanted))
        assert ids(self.query(tags=("keep", "vpn"), limit=1, sort="created")) == [wanted[-1]]

    @requires("groups")
    def test_list_group_filter(self):
        assert self.group, "a backend with groups names one it accepts (BackendContract.group)"
        grouped = self.make(subject="grouped", group=self.group)
        self.make(subject="ungrouped")
        assert ids(self.query(scope="all", group=self.group)) == [grouped.id]
        assert ids(self.query(scope="all", group=self.group, statuses=("solved",))) == []

    def test_list_created_since_filters_on_created_not_updated(self):
        old = self.make(subject="old")
        self.wait()
        fresh = self.make(subject="fresh")
        cut = parse_iso(self.backend.get(old.id).created_at) + timedelta(seconds=1)
        self.wait()
        self.backend.reply(old.id, self.reply(body="bump"))  # updated now, created before the cut
        assert ids(self.query(created_since=cut)) == [fresh.id]
        assert ids(self.query(since=cut)) == [old.id, fresh.id]
        past = datetime.now(timezone.utc) - timedelta(days=1)
        assert ids(self.query(created_since=past, sort="created")) == [fresh.id, old.id]
        assert self.query(created_since=datetime.now(timezone.utc) + timedelta(days=1)) == []

    def test_list_reverse_turns_every_sort_order_round(self):
        made = [self.make(subject=f"ticket {i}", priority=p).id for i, p in enumerate(("low", "urgent", "high"))]
        assert ids(self.query(sort="created", reverse=True)) == made
        assert ids(self.query(sort="created", reverse=True, limit=2)) == made[:2]
        assert ids(self.query(sort="updated", reverse=True)) == made
        assert ids(self.query(sort="priority", reverse=True)) == [made[0], made[2], made[1]]
        assert ids(self.query(sort="priority", reverse=True, limit=1)) == [made[0]]

    def test_the_profiles_user_is_a_person_the_backend_accepts(self):
        """`--requester` / `--assignee` take what the backend's people look like: the profile's
        own user (the zero-config login name on the local store) among them."""
        assert self.backend.person(self.user) == self.user
        with pytest.raises(InvalidInputError):
            self.backend.person("bad\x1bname")
        with pytest.raises(InvalidInputError):
            self.backend.person("   ")

    # == history, channel, custom fields (where declared) ====================================

    @requires("history")
    def test_history_has_every_change_oldest_first_with_who_and_the_values(self):
        from tixcli.history import ACTORS, history_schema

        made = self.make(subject="History of a printer", priority="low", requester=self.customer)
        self.backend.reply(made.id, self.reply(body="looking into it"))
        self.backend.edit(made.id, TicketChange(priority="urgent"))
        self.backend.solve(made.id)
        events = self.backend.ticket_history(made.id)
        assert events and events[0].change == "created"
        times = [parse_iso(e.at) for e in events if e.at]
        assert len(times) == len(events) and times == sorted(times), "oldest first, every event with its time"
        comments = [e for e in events if e.change == "comment"]
        assert comments and comments[-1].by == "agent" and comments[-1].actor == self.user
        priority = [e for e in events if e.change == "priority"]
        assert priority and priority[-1].new == "urgent" and priority[-1].old in ("low", None)
        status = [e for e in events if e.change == "status"]
        assert status and status[-1].new == "solved"
        assert all(e.by in (*ACTORS, None) for e in events)
        for event in events:
            check_schema(event.to_dict(made.id, self.backend.name), history_schema())
        with pytest.raises(NotFoundError):
            self.backend.ticket_history(self.missing_id)

    @requires("history")
    def test_export_with_history_carries_each_tickets_history(self):
        made = self.make(subject="exported with history")
        self.backend.edit(made.id, TicketChange(priority="high"))
        lines = list(self.backend.export_with_history(self.backend.export_tickets()))
        import json

        data = {d["id"]: d for d in (json.loads(i.json_line) for i in lines if not i.tombstone)}
        assert [e["change"] for e in data[made.id]["history"]] == [
            e.change for e in self.backend.ticket_history(made.id)
        ]
        assert {k: v for k, v in data[made.id].items() if k != "history"} == self.backend.get(made.id).to_dict()

    @requires("channel")
    def test_a_ticket_says_how_it_came_in_and_list_filters_on_it(self):
        from tixcli.model import CHANNELS

        made = self.make(subject="which channel")
        got = self.backend.get(made.id)
        assert got.channel in CHANNELS and made.channel == got.channel
        assert self.query()[0].channel == got.channel
        assert ids(self.query(channel=got.channel)) == [made.id]
        other = next(c for c in CHANNELS if c != got.channel)
        assert self.query(channel=other) == []
        assert self.exported()[made.id].channel == got.channel

    @requires("set_channel")
    def test_create_records_the_channel_given(self):
        phoned = self.make(subject="called in", channel="phone")
        self.make(subject="typed in")
        assert self.backend.get(phoned.id).channel == "phone"
        assert ids(self.query(channel="phone")) == [phoned.id]

    @requires("custom_fields")
    def test_custom_fields_by_name_through_create_edit_get_list_and_export(self):
        name, value, other = self.custom_field
        first = self.backend.custom_fields({name: value})
        made = self.backend.create(self.new(subject="with a field", fields=first)).ticket
        plain = self.make(subject="without")
        assert made.fields.get(name) == first[name] == self.backend.get(made.id).fields.get(name)
        assert plain.fields.get(name) is None
        assert ids(self.query(fields=((name, first[name]),))) == [made.id]
        second = self.backend.custom_fields({name: other})
        changed = self.backend.edit(made.id, TicketChange(fields=second))
        assert changed.changed and self.backend.get(made.id).fields.get(name) == second[name]
        again = self.backend.edit(made.id, TicketChange(fields=second))
        assert not again.changed
        assert ids(self.query(fields=((name, first[name]),))) == []
        assert self.exported()[made.id].fields == self.backend.get(made.id).fields
        self.backend.edit(made.id, TicketChange(fields=self.backend.custom_fields({name: None})))
        assert self.backend.get(made.id).fields.get(name) is None
        if self.backend.supports("history"):
            edits = [e for e in self.backend.ticket_history(made.id) if e.change == "field"]
            assert [(e.field, e.new) for e in edits][-2:] == [(name, second[name]), (name, None)]

    @requires("custom_fields")
    def test_a_custom_field_the_profile_does_not_map_is_refused_naming_those_it_does(self):
        known = self.backend.field_names()
        if known is None:
            assert self.backend.custom_fields({"any-name-at-all": "x"}) == {"any-name-at-all": "x"}
            return
        assert self.custom_field[0] in known
        with pytest.raises(InvalidInputError) as refused:
            self.backend.custom_fields({"no-such-field": "x"})
        assert self.custom_field[0] in (refused.value.hint or "")

    # == SLA clocks, escalations, satisfaction (where declared) ==============================

    #: a priority the test account's SLA policy covers (used only with "sla")
    sla_priority: str = "urgent"

    @requires("sla")
    def test_sla_clocks_have_an_absolute_target_and_a_stage(self):
        from tixcli.sla import STAGES

        made = self.make(subject="urgent, with a clock", priority=self.sla_priority)
        got = self.backend.get(made.id)
        assert got.sla, "a backend with the sla capability gives the clocks of a ticket its policy covers"
        for metric, c in got.sla.items():
            assert set(c) == {"target_at", "stage", "met_at", "breached_at"}, metric
            assert c["stage"] in STAGES
            for key in ("target_at", "met_at", "breached_at"):
                assert c[key] is None or ISO.match(c[key]), (metric, key, c[key])
        running = [c for c in got.sla.values() if c["stage"] == "active"]
        assert running and all(parse_iso(c["target_at"]) > datetime.now(timezone.utc) for c in running)
        assert made.id not in ids(self.query(breaching=True))
        assert ids(self.query(due_within=timedelta(days=30))) == [made.id]
        assert self.query(due_within=timedelta(seconds=1)) == []
        assert self.exported()[made.id].sla == got.sla

    @requires("escalations")
    def test_an_escalation_opens_moves_back_and_on_and_closes_with_its_timeline(self):
        made = self.make(subject="needs engineering")
        stages = self.backend.escalation_stages()
        assert len(stages) >= 3
        opened = self.backend.escalate(made.id, reason="data loss on db2", eta="2030-01-31")
        first = opened.ticket.escalation
        assert opened.changed and first["open"] and first["stage"] == stages[0] and first["id"]
        assert (first["reason"], first["eta"]) == ("data loss on db2", "2030-01-31")
        assert ids(self.query(escalated=True)) == [made.id]
        with pytest.raises(RefusedError):
            self.backend.escalate(made.id, reason="a second one")
        self.backend.escalate(made.id, stage=stages[2])
        back = self.backend.escalate(made.id, stage=stages[1]).ticket.escalation  # back a stage: allowed
        assert [s["stage"] for s in back["timeline"]] == [stages[0], stages[2], stages[1]]
        assert back["id"] == first["id"] and back["eta"] == "2030-01-31"
        assert not self.backend.escalate(made.id, stage=stages[1]).changed
        with pytest.raises(InvalidInputError):
            self.backend.escalate(made.id, stage="no-such-stage")
        done = self.backend.escalate(made.id, stage=stages[-1]).ticket.escalation
        assert not done["open"] and self.query(escalated=True) == []
        assert self.backend.get(made.id).escalation == done == self.exported()[made.id].escalation
        other = self.make(subject="never escalated")
        with pytest.raises(RefusedError):
            self.backend.escalate(other.id, stage=stages[1])
        self.backend.close(other.id)
        with pytest.raises(RefusedError):
            self.backend.escalate(other.id, reason="too late")
        if self.backend.supports("history"):
            moves = [(e.old, e.new) for e in self.backend.ticket_history(made.id) if e.change == "escalation"]
            assert moves[0] == (None, stages[0]) and moves[-1] == (stages[1], stages[-1])

    @requires("satisfaction")
    def test_a_rating_comes_once_solved_and_a_new_one_replaces_it(self):
        made = self.make(subject="to be rated")
        with pytest.raises(RefusedError):
            self.backend.rate(made.id, "good")
        self.backend.solve(made.id)
        good, bad = self.backend.rating_value("good"), self.backend.rating_value("bad")
        rated = self.backend.rate(made.id, "good", "fixed within the hour").ticket.satisfaction
        assert (rated["rating"], rated["comment"]) == (good, "fixed within the hour")
        assert rated["rated_at"] is None or ISO.match(rated["rated_at"])
        again = self.backend.rate(made.id, "bad").ticket.satisfaction
        assert again["rating"] == bad and self.backend.get(made.id).satisfaction["rating"] == bad
        if self.backend.supports("satisfaction_scale"):
            assert self.backend.rate(made.id, 4).ticket.satisfaction["rating"] == 4
        assert self.exported()[made.id].satisfaction == self.backend.get(made.id).satisfaction
        self.backend.close(made.id)
        if self.backend.rates_closed:
            assert self.backend.rate(made.id, "good").ticket.satisfaction["rating"] == good
            assert self.backend.get(made.id).status == "closed"
        else:
            with pytest.raises(RefusedError):
                self.backend.rate(made.id, "good")

    # == replies and the lifecycle (mandatory; internal notes where declared) ================

    def test_public_reply_opens_a_new_ticket(self):
        ticket = self.make()
        replied = self.backend.reply(ticket.id, self.reply(body="on it"))
        assert replied.status == "open"
        thread = self.backend.get(ticket.id).comments
        assert [(c.body, c.public, c.author) for c in thread[1:]] == [("on it", True, self.user)]

    @requires("internal_notes")
    def test_public_reply_opens_a_new_ticket_and_an_internal_note_changes_nothing(self):
        ticket = self.make()
        noted = self.backend.reply(ticket.id, self.reply(body="internal only", public=False))
        assert noted.status == ticket.status
        replied = self.backend.reply(ticket.id, self.reply(body="on it"))
        assert replied.status == "open"
        thread = self.backend.get(ticket.id).comments
        assert [(c.body, c.public) for c in thread[1:]] == [("internal only", False), ("on it", True)]

    @requires("internal_notes")
    def test_an_internal_note_with_an_explicit_status_applies_it(self):
        ticket = self.make()
        self.backend.solve(ticket.id)
        noted = self.backend.reply(ticket.id, self.reply(body="reopening quietly", public=False, status="open"))
        assert noted.status == "open"
        shown = self.backend.get(ticket.id)
        assert shown.status == "open"
        assert (shown.comments[-1].body, shown.comments[-1].public) == ("reopening quietly", False)

    def test_reply_to_a_solved_ticket_reopens_it(self):
        ticket = self.make()
        self.backend.solve(ticket.id)
        assert self.backend.reply(ticket.id, self.reply(body="still broken")).status == "open"
        assert self.backend.get(ticket.id).status == "open"

    def test_reply_can_set_pending_and_the_requesters_answer_opens_it(self):
        ticket = self.make()
        assert self.backend.reply(ticket.id, self.reply(body="which printer?", status="pending")).status == "pending"
        assert self.backend.get(ticket.id).status == "pending"
        # the profile's user is the requester here, so this is the requester's answer
        assert self.backend.reply(ticket.id, self.reply(body="the big one")).status == "open"
        assert self.backend.get(ticket.id).status == "open"

    def test_solve_and_close_follow_the_lifecycle(self):
        ticket = self.make()
        solved = self.backend.solve(ticket.id, body="fixed the toner")
        assert solved.status == "solved" and ISO.match(solved.solved_at)
        shown = self.backend.get(ticket.id)
        assert shown.status == "solved" and shown.solved_at == solved.solved_at
        assert (shown.comments[-1].body, shown.comments[-1].public) == ("fixed the toner", True)
        assert solved.changed is True
        again = self.backend.solve(ticket.id)  # nothing to do: not a refusal
        assert (again.changed, again.status, again.updated_at) == (False, "solved", shown.updated_at)
        closed = self.backend.close(ticket.id)
        assert (closed.changed, closed.status) == (True, "closed")
        assert self.backend.get(ticket.id).status == "closed"
        assert self.backend.close(ticket.id).changed is False
        with pytest.raises(RefusedError):
            self.backend.solve(ticket.id)  # closed is final

    def test_close_works_from_an_open_ticket(self):
        ticket = self.make()
        self.backend.reply(ticket.id, self.reply(body="on it"))
        assert self.backend.close(ticket.id).status == "closed"
        assert self.backend.get(ticket.id).status == "closed"

    def test_a_closed_ticket_is_final_but_still_readable(self):
        ticket = self.make()
        self.backend.close(ticket.id)
        with pytest.raises(RefusedError):
            self.backend.reply(ticket.id, self.reply())
        if self.backend.supports("cc"):
            with pytest.raises(RefusedError):
                self.backend.update_cc(ticket.id, [self.lead], [])
        with pytest.raises(RefusedError):
            self.backend.solve(ticket.id)
        shown = self.backend.get(ticket.id)
        assert shown.status == "closed" and len(shown.comments) == 1
        assert ids(self.query(statuses=("closed",))) == [ticket.id]

    # == reopen, and comments with solve / close / reopen (mandatory) ========================

    @pytest.mark.parametrize("start", ["solved", "pending", "hold"])
    def test_reopen_brings_a_solved_pending_or_held_ticket_back_to_open(self, start):
        made = self.make()
        if start == "solved":
            self.backend.solve(made.id)
        else:
            try:
                self.backend.reply(made.id, self.reply(body="waiting", status=start))
            except RefusedError:
                if start != "hold":
                    raise
                pytest.skip(f"the {self.backend.name} backend cannot put this ticket on hold")
        before = self.backend.get(made.id)
        assert before.status == start
        self.wait()
        result = self.backend.reopen(made.id)
        assert (result.changed, result.status) == (True, "open")
        after = self.backend.get(made.id)
        assert after.status == "open" and after.updated_at > before.updated_at
        assert result.updated_at == after.updated_at, "reopen returned a stale ticket"
        assert len(after.comments) == len(before.comments), "reopen without a comment added one"
        assert {f: getattr(after, f) for f in KEPT_BY_EDIT} == {f: getattr(before, f) for f in KEPT_BY_EDIT}
        assert ids(self.query(statuses=("open",))) == [made.id]

    def test_reopen_of_an_open_or_new_ticket_has_nothing_to_do_and_a_closed_one_is_refused(self):
        made = self.make()
        before = self.backend.get(made.id)
        self.wait()
        same = self.backend.reopen(made.id)
        assert (same.changed, same.status, same.updated_at) == (False, before.status, before.updated_at)
        self.backend.reply(made.id, self.reply(body="on it"))
        opened = self.backend.get(made.id)
        assert opened.status == "open"
        again = self.backend.reopen(made.id)
        assert (again.changed, again.status, again.updated_at) == (False, "open", opened.updated_at)
        assert len(self.backend.get(made.id).comments) == 2
        self.backend.close(made.id)
        with pytest.raises(RefusedError):
            self.backend.reopen(made.id)
        with pytest.raises(RefusedError):
            self.backend.reopen(made.id, comment=self.reply(body="please"))
        shown = self.backend.get(made.id)
        assert shown.status == "closed" and len(shown.comments) == 2

    def test_solve_close_and_reopen_add_their_comment(self):
        made = self.make()
        solved = self.backend.solve(made.id, comment=self.reply(body="fixed the toner"))
        assert (solved.changed, solved.status) == (True, "solved")
        assert [c.body for c in self.backend.get(made.id).comments][1:] == ["fixed the toner"]
        more = self.backend.solve(made.id, comment=self.reply(body="and the drum"))  # a comment is a change
        assert (more.changed, more.status) == (True, "solved")
        reopened = self.backend.reopen(made.id, comment=self.reply(body="it is back"))
        assert (reopened.changed, reopened.status) == (True, "open")
        on_open = self.backend.reopen(made.id, comment=self.reply(body="still here"))  # added, status kept
        assert (on_open.changed, on_open.status) == (True, "open")
        closed = self.backend.close(made.id, comment=self.reply(body="closing for good"))
        assert (closed.changed, closed.status) == (True, "closed")
        thread = self.backend.get(made.id).comments
        assert [(c.body, c.public) for c in thread[1:]] == [
            ("fixed the toner", True),
            ("and the drum", True),
            ("it is back", True),
            ("still here", True),
            ("closing for good", True),
        ]
        with pytest.raises(RefusedError):
            self.backend.close(made.id, comment=self.reply(body="one more"))
        with pytest.raises(RefusedError):
            self.backend.solve(made.id, comment=self.reply(body="one more"))
        assert len(self.backend.get(made.id).comments) == len(thread)

    @requires("internal_notes")
    def test_solve_and_reopen_with_an_internal_note(self):
        made = self.make()
        solved = self.backend.solve(made.id, comment=self.reply(body="fixed, quietly", public=False))
        assert solved.status == "solved"
        reopened = self.backend.reopen(made.id, comment=self.reply(body="reopening quietly", public=False))
        assert reopened.status == "open"
        closed = self.backend.close(made.id, comment=self.reply(body="closing quietly", public=False))
        assert closed.status == "closed"
        thread = self.backend.get(made.id).comments
        assert [(c.body, c.public) for c in thread[1:]] == [
            ("fixed, quietly", False),
            ("reopening quietly", False),
            ("closing quietly", False),
        ]

    @requires("attachments")
    def test_solve_with_a_comment_carrying_a_file(self):
        made = self.make()
        self.backend.solve(made.id, comment=self.reply(body="the fix", attachments=self.upload("fix.diff", b"+ok\n")))
        last = self.backend.get(made.id).comments[-1]
        assert last.body == "the fix" and [(a.filename, a.size) for a in last.attachments] == [("fix.diff", 4)]

    # == edit and assign (where declared) ====================================================

    def test_an_edit_that_names_nothing_or_contradicts_itself_is_refused_before_anything_is_sent(self):
        made = self.make(tags=["keep"])
        before = self.request_count()
        for change in (
            TicketChange(),
            TicketChange(assignee=self.assignable, unassign=True),
            TicketChange(add_tags=["x"], remove_tags=["x"]),
            TicketChange(add_tags=["two words"]),
            TicketChange(remove_tags=[" "]),
        ):
            with pytest.raises(InvalidInputError):
                self.backend.edit(made.id, change)
        assert self.request_count() == before
        assert self.backend.get(made.id).updated_at == made.updated_at

    @requires("edit")
    @pytest.mark.parametrize("field", ["subject", "priority", "type", "requester", "tags", "group"])
    def test_edit_changes_the_named_field_and_nothing_else(self, field):
        if field == "group" and not (self.backend.supports("groups") and self.group):
            pytest.skip(f"the {self.backend.name} backend does not declare 'groups'")
        first_priority, last_priority = self.priorities[0], self.priorities[-1]
        first_type, last_type = self.types[0], self.types[-1]
        made = self.make(
            priority=first_priority,
            type=first_type,
            tags=["keep", "old"],
            **self.cc_kw(),
            **({} if field == "group" else self.group_kw()),
        )
        change, expected = {
            "subject": (TicketChange(subject="Toner everywhere"), "Toner everywhere"),
            "priority": (TicketChange(priority=last_priority), last_priority),
            "type": (TicketChange(type=last_type), last_type),
            "requester": (TicketChange(requester=self.customer), self.customer),
            "tags": (TicketChange(add_tags=["new"], remove_tags=["old"]), ["keep", "new"]),
            "group": (TicketChange(group=self.group), self.group),
        }[field]
        before = self.backend.get(made.id)
        self.wait()
        result = self.backend.edit(made.id, change)
        assert result.changed is True
        after = self.backend.get(made.id)
        listed = {t.id: t for t in self.query(scope="all", statuses=None)}[made.id]
        exported = self.exported()[made.id]
        for where, ticket in (("edit", result.ticket), ("get", after), ("list", listed), ("export", exported)):
            got = getattr(ticket, field)
            assert (sorted(got) if field == "tags" else got) == expected, f"{where}: {field} is {got!r}"
            assert ticket.updated_at == after.updated_at, f"{where}: updated_at is {ticket.updated_at}"
        kept = [f for f in KEPT_BY_EDIT if f != field]
        tidy = {"tags": sorted, "cc": sorted}
        assert {f: tidy.get(f, lambda v: v)(getattr(after, f)) for f in kept} == {
            f: tidy.get(f, lambda v: v)(getattr(before, f)) for f in kept
        }, f"editing {field} changed other fields"
        assert (after.status, after.created_at, len(after.comments)) == (
            before.status,
            before.created_at,
            len(before.comments),
        )
        assert after.updated_at > before.updated_at

    @requires("edit")
    def test_edit_of_several_fields_then_equal_values_change_nothing_and_send_no_write(self):
        p0, p1 = self.priorities[0], self.priorities[-1]
        made = self.make(priority=p0, type=self.types[0], tags=["keep"])
        result = self.backend.edit(made.id, TicketChange(subject="Both at once", priority=p1, add_tags=["more"]))
        assert result.changed is True
        shown = self.backend.get(made.id)
        assert (shown.subject, shown.priority, sorted(shown.tags)) == ("Both at once", p1, ["keep", "more"])
        assert shown.type == self.types[0]
        self.wait()
        start = self.request_count()
        self.backend.get(made.id)
        one_read = self.request_count()
        same = self.backend.edit(
            made.id,
            TicketChange(
                subject="Both at once",
                priority=p1,
                type=self.types[0],
                requester=shown.requester,
                add_tags=["keep"],
                remove_tags=["absent"],
            ),
        )
        done = self.request_count()
        assert same.changed is False
        assert same.ticket.to_dict(with_comments=False) == shown.to_dict(with_comments=False)
        assert self.backend.get(made.id).updated_at == shown.updated_at
        if start is not None and one_read is not None and done is not None:
            assert done - one_read <= one_read - start, "an edit with nothing to change sent more than a read"

    @requires("edit")
    def test_edit_of_a_closed_ticket_is_refused_and_of_an_unknown_one_is_not_found(self):
        made = self.make()
        self.backend.close(made.id)
        with pytest.raises(RefusedError):
            self.backend.edit(made.id, TicketChange(subject="too late"))
        with pytest.raises(NotFoundError):
            self.backend.edit(self.missing_id, TicketChange(subject="nobody"))
        assert self.backend.get(made.id).subject == made.subject

    @requires("assign")
    def test_assign_and_unassign_and_the_assignee_filter(self):
        # with a group already (where groups exist): Zendesk gives a ticket without one the agent's
        # default group on assignment, a vendor side effect; the status may move too (new → open)
        made = self.make(**self.group_kw())
        other = self.make(subject="someone else's")
        assert self.backend.get(made.id).assignee in (None, self.assignable)  # a service may auto-assign
        self.backend.edit(made.id, TicketChange(unassign=True))
        before = self.backend.get(made.id)
        assert before.assignee is None
        self.wait()
        assigned = self.backend.edit(made.id, TicketChange(assignee=self.assignable))
        assert assigned.changed is True and assigned.assignee == self.assignable
        after = self.backend.get(made.id)
        assert after.assignee == self.assignable and after.updated_at > before.updated_at
        kept = [f for f in KEPT_BY_EDIT if f != "assignee"]
        assert {f: getattr(after, f) for f in kept} == {f: getattr(before, f) for f in kept}
        self.backend.edit(other.id, TicketChange(unassign=True))
        assert ids(self.query(assignee=self.assignable)) == [made.id]
        assert ids(self.query(assignee=self.assignable, statuses=None)) == [made.id]
        assert self.exported()[made.id].assignee == self.assignable
        assert self.backend.edit(made.id, TicketChange(assignee=self.assignable)).changed is False
        unassigned = self.backend.edit(made.id, TicketChange(unassign=True))
        assert unassigned.changed is True and self.backend.get(made.id).assignee is None
        assert self.query(assignee=self.assignable) == []
        assert self.backend.edit(made.id, TicketChange(unassign=True)).changed is False

    @requires("assign")
    def test_create_with_an_assignee(self):
        made = self.make(assignee=self.assignable)
        assert made.assignee == self.assignable
        assert self.backend.get(made.id).assignee == self.assignable
        assert ids(self.query(assignee=self.assignable)) == [made.id]

    # == download (where declared) ===========================================================

    @requires("download")
    def test_download_gives_back_the_bytes_that_were_attached(self):
        if not self.backend.supports("attachments"):
            pytest.skip(f"the {self.backend.name} backend does not declare 'attachments'")
        blob = bytes(range(256)) * 2048 + b"end"  # 512 KiB and 3 bytes: several chunks
        made = self.make(attachments=self.upload("blob.bin", blob))
        self.backend.reply(made.id, self.reply(body="the log", attachments=self.upload("build.log", b"line 1\n")))
        thread = self.backend.get(made.id).comments
        self.backend.close(made.id)  # a closed ticket's files can still be read
        for comment, name, data in ((thread[0], "blob.bin", blob), (thread[-1], "build.log", b"line 1\n")):
            (listed,) = comment.attachments
            assert listed.id is not None
            attachment, chunks = self.backend.download(made.id, listed.id)
            assert (attachment.id, attachment.filename) == (listed.id, name)
            assert attachment.size in (None, len(data))
            pieces = list(chunks)
            assert all(isinstance(p, bytes) for p in pieces)
            assert b"".join(pieces) == data, f"{name}: the bytes differ from those attached"
            if attachment.sha256:
                assert attachment.sha256 == hashlib.sha256(data).hexdigest()
        elsewhere = self.make(subject="another ticket")
        with pytest.raises(NotFoundError):
            self.backend.download(elsewhere.id, thread[0].attachments[0].id)
        with pytest.raises(NotFoundError):
            self.backend.download(made.id, "987654321")
        with pytest.raises(NotFoundError):
            self.backend.download(self.missing_id, "1")

    # == attachments and CCs (where declared) ================================================

    @requires("attachments")
    def test_reply_with_attachments(self):
        from tixcli.attachments import prepare_uploads
        from tixcli.config import AttachmentLimits

        log = self.tmp_path / "build.log"
        log.write_bytes(b"line 1\nline 2\n")
        png = self.tmp_path / "screen.png"
        png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
        uploads = prepare_uploads([str(log), str(png)], AttachmentLimits())
        ticket = self.make()
        self.backend.reply(ticket.id, self.reply(body="logs attached", attachments=uploads))
        comment = self.backend.get(ticket.id).comments[-1]
        assert comment.body == "logs attached"
        got = {a.filename: a for a in comment.attachments}
        assert set(got) == {"build.log", "screen.png"}
        assert got["build.log"].size == 14 and got["screen.png"].size == 264
        assert got["screen.png"].content_type == "image/png"

    @requires("attachments")
    def test_create_with_an_attachment(self):
        ticket = self.make(attachments=self.upload("crash.txt", b"boom\n"))
        first = self.backend.get(ticket.id).comments[0]
        assert [(a.filename, a.size) for a in first.attachments] == [("crash.txt", 5)]

    def test_update_cc_without_changes_lists_them(self):
        ticket = self.make()
        assert self.backend.update_cc(ticket.id, [], []) == []
        assert self.backend.get(ticket.id).cc == []

    @requires("cc")
    def test_cc_add_list_remove(self):
        ticket = self.make(cc=[self.lead])
        assert self.backend.get(ticket.id).cc == [self.lead]
        assert sorted(self.backend.update_cc(ticket.id, [self.dev], [])) == sorted([self.lead, self.dev])
        assert sorted(self.backend.get(ticket.id).cc) == sorted([self.lead, self.dev])
        assert self.backend.update_cc(ticket.id, [], [self.lead]) == [self.dev]
        assert self.backend.update_cc(ticket.id, [], []) == [self.dev]
        self.backend.reply(ticket.id, self.reply(cc=[self.customer]))
        assert sorted(self.backend.get(ticket.id).cc) == sorted([self.dev, self.customer])

    # == dedupe key (where declared) =========================================================

    @requires("dedupe")
    def test_dedupe_key_adds_to_the_open_ticket_instead_of_opening_another(self):
        first = self.make(body="build 1 failed", dedupe_key="ci-nightly")
        again = self.backend.create(self.new(body="build 2 failed", dedupe_key="ci-nightly"))
        assert again.created is False and again.ticket.id == first.id
        assert [c.body for c in self.backend.get(first.id).comments] == ["build 1 failed", "build 2 failed"]
        assert self.backend.get(first.id).external_id == "ci-nightly"
        assert len(self.query(statuses=None)) == 1

    @requires("dedupe")
    def test_dedupe_key_reopens_a_solved_ticket_and_skips_a_closed_one(self):
        first = self.make(dedupe_key="ci-deploy")
        self.backend.solve(first.id)
        again = self.backend.create(self.new(body="failed again", dedupe_key="ci-deploy"))
        assert again.ticket.id == first.id and again.ticket.status == "open"
        self.backend.close(first.id)
        fresh = self.backend.create(self.new(body="and again", dedupe_key="ci-deploy"))
        assert fresh.created is True and fresh.ticket.id != first.id

    @requires("dedupe_guaranteed")
    def test_dedupe_key_holds_under_concurrent_creates(self):
        backends = [self.reopen(self.backend) for _ in range(4)]  # one each: used in one thread only
        start = threading.Barrier(len(backends))
        results, errors = [], []

        def create(backend, i):
            try:
                start.wait()
                results.append(backend.create(self.new(body=f"run {i}", dedupe_key="ci-race")))
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                backend.shutdown()

        threads = [threading.Thread(target=create, args=(b, i)) for i, b in enumerate(backends)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert sum(r.created for r in results) == 1
        assert len({r.ticket.id for r in results}) == 1
        assert len(self.backend.get(results[0].ticket.id).comments) == len(backends)

    # == export (mandatory; resuming where declared) =========================================

    def test_export_streams_every_ticket_with_comments(self):
        a = self.make(subject="a")
        b = self.make(subject="b", requester=self.customer)
        self.backend.reply(b.id, self.reply(body="second"))
        self.backend.close(a.id)
        exported = self.exported()
        assert set(exported) == {a.id, b.id}
        assert exported[a.id].status == "closed"
        assert [c.body for c in exported[b.id].comments] == ["It is really on fire", "second"]
        future = datetime.now(timezone.utc) + timedelta(days=1)
        assert list(self.backend.export(since=future)) == []

    def test_export_since_filters_on_updated(self):
        old = self.make(subject="old")
        past = datetime.now(timezone.utc) - timedelta(days=1)
        assert set(self.exported(since=past)) == {old.id}
        self.wait()
        fresh = self.make(subject="fresh")
        assert set(self.exported(since=self.just_after(old))) == {fresh.id}

    def test_export_gives_each_ticket_exactly_as_show_does(self):
        a = self.make(
            subject="full", priority="high", type="incident", tags=["x", "y"], **self.cc_kw(), **self.group_kw()
        )
        if self.backend.supports("attachments"):
            self.backend.reply(a.id, self.reply(body="with a file", attachments=self.upload("build.log", b"failed\n")))
        if self.backend.supports("internal_notes"):
            self.backend.reply(a.id, self.reply(body="note", public=False))
        self.backend.reply(a.id, self.reply(body="which one?", status="pending"))
        b = self.make(subject="plain", requester=self.customer)
        self.backend.solve(b.id, body="done")
        c = self.make(subject="gone")
        self.backend.close(c.id)
        exported = {ticket_id: t.to_dict() for ticket_id, t in self.exported().items()}
        assert set(exported) == {a.id, b.id, c.id}
        for ticket_id in (a.id, b.id, c.id):
            assert exported[ticket_id] == self.backend.get(ticket_id).to_dict()

    def state_run(self, previous):
        """One `export --state` run (the core's StateRun, no files): (ids written, items, state after)."""
        from tixcli.export_state import ExportState, StateRun

        run = StateRun(self.backend, previous, ExportState("contract", self.backend.name, self.backend.export_source()))
        items = [item for item in run.items() if not item.tombstone]
        return [item.ticket_id for item in items], items, run.finished()

    def test_state_export_gives_each_change_once_even_in_the_same_second(self):
        a = self.make(subject="a")
        b = self.make(subject="b")
        first, items, state = self.state_run(None)
        assert sorted(first) == sorted([a.id, b.id]), "the first run exports everything"
        assert [item.ticket_id for item in items] == [item.ticket.id for item in items]
        again, _, state = self.state_run(state)
        assert again == [], "nothing changed: nothing exported"
        # Changes at once after the run: the same second (and minute) as its end.
        self.backend.reply(a.id, self.reply(body="one more, at once"))
        c = self.make(subject="c")
        changed, items, state = self.state_run(state)
        assert sorted(changed) == sorted([a.id, c.id]), "each change once, nothing unchanged"
        by_id = {item.ticket_id: item.ticket for item in items}
        assert by_id[a.id].to_dict() == self.backend.get(a.id).to_dict(), "the whole thread, as show gives it"
        assert by_id[a.id].comments[-1].body == "one more, at once"
        self.backend.reply(b.id, self.reply(body="first change"))
        self.backend.reply(b.id, self.reply(body="second change, same second"))
        changed, items, state = self.state_run(state)
        assert changed == [b.id]
        assert [c.body for c in items[0].ticket.comments][-2:] == ["first change", "second change, same second"]
        assert self.state_run(state)[0] == []

    def test_state_export_source_names_where_the_tickets_live(self):
        source = self.backend.export_source()
        assert isinstance(source, str) and source
        assert source == self.backend.export_source(), "the same store gives the same source"

    @requires("export_cursor")
    def test_export_resumes_just_after_the_ticket_its_cursor_came_with(self):
        for i in range(3):
            self.make(subject=f"ticket {i}")
        items = list(self.backend.export())
        order = [item.ticket.id for item in items]
        assert len(order) == 3
        resumable = [(k, item.cursor) for k, item in enumerate(items) if item.cursor is not None]
        assert resumable, "a backend with export_cursor gives cursors"
        for k, cursor in resumable:
            assert [item.ticket.id for item in self.backend.export_tickets(cursor=cursor)] == order[k + 1 :]
