"""Jira Service Management workflow mapping for the JSM backend: statuses, transitions, types,
and the profile's custom fields (`fields:`) with the conversion of their values.

Pure functions of the profile's settings and the service's answers (no HTTP here), so the
mapping is testable without a server. Names compare case-insensitively.

Defaults follow JSM's standard service-request workflow:
"Waiting for customer" → pending, "Resolved" → solved, "Closed"/"Canceled" → closed, any other
status → open, and a status in the DONE category that no list names → solved.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tixcli.config import Profile
from tixcli.errors import ConfigError, InvalidInputError, RefusedError
from tixcli.model import PRIORITIES, STATUSES, TYPES, parse_iso, to_iso

DEFAULT_STATUSES: dict[str, tuple[str, ...]] = {
    "new": (),
    "pending": ("Waiting for customer",),
    "hold": (),
    "solved": ("Resolved",),
    "closed": ("Closed", "Canceled"),
}

# tixcli verb → the tixcli status the transition must reach, and JSM's usual names for it.
VERBS: dict[str, str] = {"solve": "solved", "close": "closed", "reopen": "open", "pending": "pending", "hold": "hold"}
VERB_FOR: dict[str, str] = {status: verb for verb, status in VERBS.items()}  # the verb reaching a status
DEFAULT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "solve": ("Resolve this issue", "Resolve issue", "Resolve"),
    "close": ("Close request", "Close issue", "Close"),
    "reopen": ("Reopen", "Reopen issue", "Back to support", "Respond to support"),
    "pending": ("Respond to customer", "Pending", "Waiting for customer"),
    "hold": (),  # the standard workflow has no on-hold status: set statuses.hold and transitions.hold
}

DEFAULT_REQUEST_TYPES = {"default": "General"}

# tixcli priority → Jira priority name (create); Jira name → tixcli priority (read).
DEFAULT_PRIORITIES = {"urgent": "Highest", "high": "High", "normal": "Medium", "low": "Low"}
READ_PRIORITIES = {
    "highest": "urgent",
    "blocker": "urgent",
    "critical": "urgent",
    "high": "high",
    "major": "high",
    "medium": "normal",
    "normal": "normal",
    "low": "low",
    "minor": "low",
    "lowest": "low",
    "trivial": "low",
}


def _names(value, what: str, profile: Profile) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"profile {profile.name!r}: {what} must be a name or a list of names")


def _mapping(profile: Profile, key: str, allowed, hint: str | None = None) -> dict:
    """The profile's mapping under `key` ({} when absent), whose keys must be in `allowed`."""
    raw = profile.get(key) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"profile {profile.name!r}: {key} must be a mapping", hint=profile._hint())
    _check_keys(profile, key, raw, allowed, hint)
    return raw


def _check_keys(profile: Profile, key: str, raw: dict, allowed, hint: str | None = None) -> None:
    unknown = set(raw) - set(allowed)
    if unknown:
        raise ConfigError(f"profile {profile.name!r}: {key} has unknown keys {sorted(map(str, unknown))}", hint=hint)


LISTED_CHARS = 300  # at most this much of a message lists names the service sent


def listed(names) -> str:
    """Names the service sent, for an error message: quoted, each and all of them bounded
    (a site can have hundreds of names, or names of any length), "none" when there are none."""
    shown: list[str] = []
    size, names = 0, [str(n) for n in names]
    for name in names:
        item = repr(name if len(name) <= 60 else name[:60] + "...")
        if size + len(item) > LISTED_CHARS and shown:
            break
        shown.append(item)
        size += len(item) + 2
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "") if names else "none"


@dataclass
class Transition:
    """One transition of a request, from either the customer or the platform endpoint."""

    id: str
    name: str
    to_name: str | None = None  # platform transitions only
    to_category: str | None = None
    fields: dict = field(default_factory=dict)  # platform, with expand=transitions.fields
    platform: bool = False
    fields_known: bool = True  # False: the answer left out the screen fields (read them before use)


class Workflow:
    """Status names ↔ tixcli statuses, and which transition performs a tixcli verb."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        statuses = _mapping(
            profile,
            "statuses",
            DEFAULT_STATUSES,
            hint="use new, pending, hold, solved, closed (other statuses count as open)",
        )
        self.status_names: dict[str, tuple[str, ...]] = {}
        for status, default in DEFAULT_STATUSES.items():
            names = _names(statuses.get(status), f"statuses.{status}", profile) if status in statuses else default
            self.status_names[status] = names
        self._by_name = {n.lower(): s for s, names in self.status_names.items() for n in names}

        transitions = _mapping(profile, "transitions", VERBS, hint="use solve, close, reopen, pending, hold")
        self.configured = {v: _names(transitions.get(v), f"transitions.{v}", profile) for v in transitions}
        resolution = profile.get("resolution", "Done")
        if not isinstance(resolution, str) or not resolution:
            raise ConfigError(f"profile {profile.name!r}: resolution must be a name")
        self.resolution = resolution

    # -- statuses --
    def status(self, name: str | None, category: str | None = None) -> str:
        """The tixcli status of a JSM status name (category: NEW/INDETERMINATE/DONE or a key)."""
        if name and name.lower() in self._by_name:
            return self._by_name[name.lower()]
        if category and category.lower() in ("done",):
            return "solved"
        return "open"

    def knows(self, name: str | None) -> bool:
        """Whether a list of the profile's (or the default) statuses names this status."""
        return bool(name) and str(name).lower() in self._by_name

    def reachable(self, status: str) -> bool:
        """Whether the workflow has a status that maps to this tixcli status (open: any other)."""
        return status == "open" or bool(self.status_names.get(status))

    def names_for(self, statuses) -> tuple[str, ...]:
        return tuple(n for s in statuses for n in self.status_names.get(s, ()))

    def jql_statuses(self, wanted: tuple[str, ...] | None) -> str | None:
        """A JQL condition selecting the requests whose tixcli status is in `wanted`."""
        if wanted is None or set(STATUSES) <= set(wanted):
            return None
        named = {s for s in STATUSES if self.status_names.get(s)}
        parts = [f"status in ({jql_list(self.status_names[s])})" for s in wanted if s in named]
        listed = jql_list(self.names_for(named)) if named else None
        not_listed = f"status not in ({listed})" if listed else None
        if "open" in wanted:  # every status no list names, outside the DONE category
            parts.append(_and(not_listed, "statusCategory != Done"))
        if "solved" in wanted:  # the DONE fallback
            parts.append(_and(not_listed, "statusCategory = Done"))
        if not parts:
            return 'status = "tixcli-matches-nothing"'
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(f"({p})" for p in parts) + ")"

    # -- transitions --
    def pick(self, verb: str, ticket_id: str, transitions: list[Transition]) -> Transition:
        """The transition performing `verb`, or RefusedError naming the available ones."""
        by_name = {t.name.lower(): t for t in transitions}
        names = self.configured.get(verb) or DEFAULT_TRANSITIONS[verb]
        for name in names:
            if name.lower() in by_name:
                return by_name[name.lower()]
        if verb not in self.configured:  # no name configured: any transition reaching the status
            target = VERBS[verb]
            for t in transitions:
                if t.to_name and self.status(t.to_name, t.to_category) == target:
                    return t
        available = listed(t.name for t in transitions)
        wanted = " or ".join(repr(n) for n in names)
        raise RefusedError(
            f"ticket {ticket_id}: no transition {wanted} to {verb} it (available: {available})",
            hint=f"set transitions.{verb} in the profile to one of the available names",
        )

    def resolution_field(self, transition: Transition) -> dict | None:
        """`fields` for a platform transition whose screen has the resolution field."""
        meta = transition.fields.get("resolution")
        if not transition.platform or meta is None:
            return None
        allowed = meta.get("allowedValues") or []
        for value in allowed:
            if str(value.get("name", "")).lower() == self.resolution.lower():
                return {"resolution": {"name": value["name"]}}
        if allowed and meta.get("required"):
            names = listed(v.get("name") for v in allowed)
            raise ConfigError(
                f"resolution {self.resolution!r} is not one of this workflow's resolutions ({names})",
                hint="set resolution in the profile",
            )
        if allowed:
            return None  # optional and our name is unknown: leave it to the workflow
        return {"resolution": {"name": self.resolution}}


class TypeMap:
    """tixcli types ↔ request type names (`request_types` in the profile)."""

    def __init__(self, profile: Profile) -> None:
        raw = profile.get("request_types")
        if raw is None:
            raw = DEFAULT_REQUEST_TYPES
        if not isinstance(raw, dict) or not all(isinstance(v, str | int) for v in raw.values()):
            raise ConfigError(
                f"profile {profile.name!r}: request_types must map tixcli types to request type names",
                hint="e.g. request_types: {question: General, incident: Technical, default: General}",
            )
        _check_keys(profile, "request_types", raw, (*TYPES, "default"), hint="use " + ", ".join(TYPES) + " or default")
        self.names = {k: str(v) for k, v in raw.items()}

    def name_for(self, type_: str | None) -> str | None:
        return self.names.get(type_ or "default") or self.names.get("default")

    def type_of(self, name: str | None, type_id: str | None = None) -> str | None:
        """The tixcli type a request type name (or id) stands for (the first that maps to it)."""
        for type_ in TYPES:
            configured = self.names.get(type_)
            if configured and ((name and configured.lower() == name.lower()) or (type_id and configured == type_id)):
                return type_
        return None


class PriorityMap:
    def __init__(self, profile: Profile) -> None:
        raw = _mapping(profile, "priorities", PRIORITIES)
        self.to_jira = {**DEFAULT_PRIORITIES, **{k: str(v) for k, v in raw.items()}}
        self.from_jira = {**READ_PRIORITIES, **{v.lower(): k for k, v in self.to_jira.items()}}

    def jira_name(self, priority: str | None) -> str | None:
        return self.to_jira.get(priority) if priority else None

    def tixcli(self, name: str | None) -> str | None:
        return self.from_jira.get(name.lower()) if name else None


# -- JQL ------------------------------------------------------------------------------------


def jql_string(value: str) -> str:
    """A JQL string literal: double quotes, with backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def jql_list(values) -> str:
    return ", ".join(jql_string(v) for v in values)


# Characters Lucene (behind JQL's `~`) treats as syntax; each is escaped with a backslash,
# which itself is escaped inside the JQL string (Atlassian: `text ~ "\\[example\\]"`).
_LUCENE_SPECIAL = set('+-&|!(){}[]^"~*?:\\/')


# Lucene's English stop words: Jira's text search drops them, so a clause of one matches nothing.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with".split()
)


def jql_text_terms(words) -> list[str]:
    """`text ~` clauses, one per search word (as the core split them, `ListQuery.words`): every
    word must occur, in any field (summary, description, comments); Lucene operators and
    wildcards escaped, stop words left out."""
    clauses = []
    for word in words:
        if not any(ch.isalnum() for ch in word) or word.lower() in STOP_WORDS:
            continue
        # a `*` ending a word is Jira's prefix search (`jam*`); every other operator is escaped
        stem, star = (word.rstrip("*"), "*") if word.endswith("*") and word.rstrip("*") else (word, "")
        escaped = "".join("\\" + ch if ch in _LUCENE_SPECIAL else ch for ch in stem)
        clauses.append(f"text ~ {jql_string(escaped + star)}")
    return clauses


def jql_phrase(text: str) -> str:
    """The `~` operand matching `text` as one phrase (Lucene operators escaped): what JQL offers
    for a text field, which takes no `=`; the exact value is checked on the answer."""
    escaped = "".join("\\" + ch if ch in _LUCENE_SPECIAL - {'"'} else ch for ch in text.replace('"', " "))
    return jql_string(f'"{escaped}"')


def _and(*parts: str | None) -> str:
    return " AND ".join(p for p in parts if p)


# -- the dedupe key as a label ----------------------------------------------------------------

DEDUPE_PREFIX = "tixcli-dedupe-"
_LABEL_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")


def dedupe_label(key: str) -> str:
    """A label carrying the key reversibly (labels have no spaces): other bytes become _XX."""
    out = []
    for ch in key:
        if ch in _LABEL_SAFE:
            out.append(ch)
        else:
            out.extend(f"_{b:02x}" for b in ch.encode())
    label = DEDUPE_PREFIX + "".join(out)
    if len(label) > 255:
        raise InvalidInputError("the dedupe key is too long for a Jira label (255 characters once encoded)")
    return label


def dedupe_key_of(label: str) -> str | None:
    if not label.startswith(DEDUPE_PREFIX):
        return None
    text, out, i = label[len(DEDUPE_PREFIX) :], bytearray(), 0
    while i < len(text):
        if text[i] == "_":
            hexpair = text[i + 1 : i + 3]
            if len(hexpair) != 2 or not all(c in "0123456789abcdef" for c in hexpair):
                return None
            out.append(int(hexpair, 16))
            i += 3
            continue
        out.extend(text[i].encode())
        i += 1
    try:
        return out.decode()
    except UnicodeDecodeError:
        return None


# -- custom fields (`fields:` in the profile) -------------------------------------------------

CUSTOM_FIELD_ID = re.compile(r"customfield_[0-9]{1,18}")
GROUP_FIELD = "group"  # the name whose field carries the group (create/edit/list --group)
FIELD_NAME_MAX = 100
TEXT_MAX = 255  # a single-line text field
TEXTAREA_MAX = 32_767  # a paragraph field, as the description
ITEMS_MAX = 100  # the most options a multi-select value may name
NUMBER_MAX = 1e15  # beyond this a float no longer holds every integer (Jira keeps doubles)
# The kinds of field tixcli converts `--field` texts for, from the field's schema in GET /field.
FIELD_KINDS = ("text", "textarea", "number", "date", "datetime", "option", "options", "strings")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class FieldMap:
    """The profile's `fields:` (tixcli name -> the site's customfield_NNNNN), checked at load (no
    network): names are non-empty, without `=` or control characters; ids are custom field ids
    (a bare number means customfield_NUMBER), each mapped once."""

    def __init__(self, profile: Profile) -> None:
        raw = profile.get("fields") or {}
        where = f"profile {profile.name!r}: fields"
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{where} must map names to custom field ids", hint="fields: {service: customfield_10050}"
            )
        self.ids: dict[str, str] = {}  # name -> id, in the profile's order
        for name, value in raw.items():
            text = str(name).strip() if isinstance(name, str | int) and not isinstance(name, bool) else ""
            if (
                not text
                or len(text) > FIELD_NAME_MAX
                or "=" in text
                or any(unicodedata.category(ch)[0] == "C" for ch in text)
            ):
                raise ConfigError(
                    f"{where} has an invalid name {str(name)[:40]!r}",
                    hint="a name is what --field NAME=VALUE says: no '=', no control characters",
                )
            fid = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
            if fid.isascii() and fid.isdigit():
                fid = f"customfield_{fid}"
            if not CUSTOM_FIELD_ID.fullmatch(fid):
                raise ConfigError(
                    f"{where}.{text} must be a custom field id like customfield_10050, not {str(value)[:40]!r}",
                    hint="the ids are in Jira's field settings, or GET /rest/api/3/field",
                )
            if fid in self.ids.values():
                raise ConfigError(f"{where} maps {fid} to more than one name")
            self.ids[text] = fid
        self.names: dict[str, str] = {fid: name for name, fid in self.ids.items()}  # id -> name

    @property
    def group_id(self) -> str | None:
        """The field carrying the group, where the profile maps one."""
        return self.ids.get(GROUP_FIELD)

    @property
    def custom(self) -> dict[str, str]:
        """The custom fields by name (the group's field is the ticket's group, not one of them)."""
        return {n: f for n, f in self.ids.items() if n != GROUP_FIELD}


def clause_name(field_id: str) -> str:
    """The JQL clause of a custom field: cf[10050]."""
    return f"cf[{field_id.removeprefix('customfield_')}]"


def field_kind(schema: Any) -> str:
    """What a field's schema (GET /rest/api/3/field) makes its values: one of FIELD_KINDS, or
    "unsupported" (people, groups, cascading selects, JSM's own fields...). Checkboxes are an
    array of options on Jira, as a multi-select is."""
    schema = schema if isinstance(schema, dict) else {}
    kind, items, custom = schema.get("type"), schema.get("items"), str(schema.get("custom") or "")
    if kind == "string":
        return "textarea" if custom.endswith(":textarea") else "text"
    if kind in ("number", "date", "datetime", "option"):
        return str(kind)
    if kind == "array" and items == "option":
        return "options"
    if kind == "array" and items == "string":
        return "strings"
    return "unsupported"


def field_value(kind: str, text: str | None, name: str) -> Any:
    """A `--field NAME=TEXT` as the value the field holds (what Ticket.fields shows): text,
    a number, YYYY-MM-DD, an ISO time, an option's value, or a list of them from a comma list.
    None clears. A text the field cannot take: InvalidInputError naming the field (exit 6)."""
    if text is None:
        return None

    def refuse(why: str, hint: str | None = None) -> InvalidInputError:
        return InvalidInputError(f"field {name!r}: {why}", hint=hint)

    if kind in ("text", "textarea"):
        most = TEXT_MAX if kind == "text" else TEXTAREA_MAX
        if len(text) > most:
            raise refuse(f"a value holds at most {most:,} characters (this one has {len(text):,})")
        return text
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise refuse(f"{text[:40]!r} is not a number", hint="e.g. --field seats=5 or 2.5") from None
        if not math.isfinite(number) or abs(number) > NUMBER_MAX:
            raise refuse(f"{text[:40]!r} is not a number the field can hold")
        return int(number) if number.is_integer() else number
    if kind == "date":
        try:
            if not _DATE.fullmatch(text):
                raise ValueError(text)
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise refuse(f"{text[:40]!r} is not a date", hint="give YYYY-MM-DD, e.g. 2026-01-31") from None
    if kind == "datetime":
        try:
            return to_iso(parse_iso(text))
        except InvalidInputError:
            raise refuse(
                f"{text[:40]!r} is not a date and time", hint="give ISO 8601, e.g. 2026-01-31T12:00:00Z"
            ) from None
    if kind == "option":
        if len(text) > TEXT_MAX:
            raise refuse("no option is that long")
        return text
    if kind in ("options", "strings"):
        items = list(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
        if not items:
            return None
        if len(items) > ITEMS_MAX or any(len(x) > TEXT_MAX for x in items):
            raise refuse(f"at most {ITEMS_MAX} values of at most {TEXT_MAX} characters each")
        if kind == "strings" and any(any(ch.isspace() for ch in x) for x in items):
            raise refuse("a label has no spaces inside", hint="a comma list of words: --field topics=vpn,dns")
        return items
    raise refuse(f"it is a {kind} field, which tixcli cannot set", hint="set it in Jira, or map another field")


def wire_value(kind: str, value: Any, adf: bool = True) -> Any:
    """A value (as `field_value` gives it) as Jira takes it in an issue edit (REST v3: `adf`, a
    paragraph field as an Atlassian Document) or the servicedeskapi's requestFieldValues."""
    if kind in ("options", "strings"):
        values = list(value or [])
        return [{"value": v} for v in values] if kind == "options" else values
    if value is None:
        return None
    if kind == "option":
        return {"value": value}
    if kind == "datetime":  # Jira reads yyyy-MM-dd'T'HH:mm:ss.SSSZ
        return parse_iso(value).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    if kind == "textarea" and adf:
        return {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": value}]}],
        }
    return value


def option_value(allowed: list[str], value: str) -> str | None:
    """The option of `allowed` a value names (compared without regard to case), else None."""
    by_case = {a.casefold(): a for a in allowed}
    return by_case.get(value.casefold())


# -- SLA metrics (the request's SLA endpoint, or the site's SLA fields) ---------------------

# JSM's own SLA names → tixcli's metrics; any other SLA goes under a slug of its name.
SLA_METRICS = {"time to first response": "first_reply", "time to resolution": "resolution"}
SLA_NAME_MAX = 100


def sla_slug(name: str) -> str:
    """A metric key for an SLA's name: "Time to close after resolution" → time_to_close_after_resolution."""
    slug = re.sub(r"[^0-9a-z]+", "_", unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower())
    return slug.strip("_")[:SLA_NAME_MAX] or "sla"


class SlaMap:
    """The profile's `sla_fields` (tixcli metric -> the site's SLA field name, for JQL), and the
    mapping of SLA names to metrics (the profile's names first, then JSM's defaults, else a slug)."""

    def __init__(self, profile: Profile) -> None:
        raw = profile.get("sla_fields") or {}
        where = f"profile {profile.name!r}: sla_fields"
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{where} must map metrics to SLA names", hint="sla_fields: {resolution: Time to resolution}"
            )
        self.fields: dict[str, str] = {}
        for metric, name in raw.items():
            if not isinstance(metric, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", metric):
                raise ConfigError(f"{where} has an invalid metric {str(metric)[:40]!r}", hint="first_reply, resolution")
            if not isinstance(name, str) or not name.strip() or len(name) > SLA_NAME_MAX or '"' in name:
                raise ConfigError(f"{where}.{metric} must be the SLA's name as the site shows it")
            self.fields[metric] = name.strip()
        self._by_name = {name.lower(): metric for metric, name in self.fields.items()}

    def metric(self, name: str) -> str:
        low = name.strip().lower()
        return self._by_name.get(low) or SLA_METRICS.get(low) or sla_slug(name)

    def breaching_jql(self) -> str | None:
        """Breached and not yet met: the last cycle breached and is not completed (any metric)."""
        if not self.fields:
            return None
        parts = [f"({jql_string(n)} = breached() AND {jql_string(n)} != completed())" for n in self.fields.values()]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def due_jql(self, seconds: int) -> str | None:
        """A running clock whose goal comes within `seconds` (not breached yet: those are breaching)."""
        if not self.fields:
            return None
        minutes = max(1, -(-seconds // 60))  # remaining() takes minutes at the least: the seconds are checked here
        parts = [
            f"({jql_string(n)} = running() AND {jql_string(n)} != breached() AND "
            f"{jql_string(n)} <= remaining({jql_string(f'{minutes}m')}))"
            for n in self.fields.values()
        ]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _sla_time(dto: Any) -> str | None:
    """A DateDTO's time (epochMillis, else its ISO text) as ISO 8601 UTC; None where absent."""
    if not isinstance(dto, dict):
        return None
    millis = dto.get("epochMillis")
    try:
        if isinstance(millis, int) and not isinstance(millis, bool):
            from tixcli.model import from_epoch

            return from_epoch(millis / 1000)
        text = dto.get("iso8601") or dto.get("jira")
        return to_iso(parse_iso(text)) if isinstance(text, str) and text else None
    except (InvalidInputError, OverflowError, ValueError):
        return None


def _millis(value: Any) -> int | None:
    millis = value.get("millis") if isinstance(value, dict) else None
    return millis if isinstance(millis, int) and not isinstance(millis, bool) else None


def sla_clock(record: dict) -> dict[str, Any] | None:
    """One SLA of the service (SlaInformationDTO: its ongoing cycle, else its last completed one)
    as a tixcli clock (`tixcli.sla.clock`); None where it has no cycle yet.

    Ongoing: paused → paused (no target: JSM gives no breachTime while paused); breached (as the
    service says: no clock of this machine's) → breached at breachTime; else active with
    breachTime as the target.
    Completed: met at its stopTime, or breached (met late: met_at is its stopTime, breached_at its
    breachTime, else start + goal)."""
    from tixcli.sla import clock

    ongoing = record.get("ongoingCycle")
    if isinstance(ongoing, dict):
        target = _sla_time(ongoing.get("breachTime"))
        if ongoing.get("paused") is True:
            return clock(None, "paused")
        if ongoing.get("breached") is True:
            return clock(target, "breached", breached_at=target)
        return clock(target, "active")
    cycles = [c for c in record.get("completedCycles") or [] if isinstance(c, dict)]
    if not cycles:
        return None
    last = cycles[-1]
    stop = _sla_time(last.get("stopTime"))
    target = _sla_time(last.get("breachTime"))
    if target is None:
        start, goal = _sla_time(last.get("startTime")), _millis(last.get("goalDuration"))
        if start is not None and goal is not None:
            from tixcli.model import from_epoch

            target = from_epoch(parse_iso(start).timestamp() + goal / 1000)
    if last.get("breached") is True:
        return clock(target, "breached", met_at=stop, breached_at=target)
    return clock(target, "met", met_at=stop)


def sla_clocks(records: list[dict], slas: SlaMap) -> dict[str, dict[str, Any]] | None:
    """The request's SLAs as Ticket.sla (None where it has none with a cycle)."""
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        name = record.get("name") if isinstance(record, dict) else None
        if not isinstance(name, str) or not name.strip():
            continue
        c = sla_clock(record)
        if c is not None:
            found.setdefault(slas.metric(name[:SLA_NAME_MAX]), c)
    return found or None


# -- escalations (an issue of an engineering project linked to the request) ------------------

DEFAULT_ESCALATION_STATUSES = {
    "To Do": "submitted",
    "Evaluation": "evaluation",
    "In Progress": "engineering",
    "In Review": "verification",
    "Done": "resolved",
}
ESCALATION_KEYS = ("project", "issue_type", "link_type", "stages")
SUMMARY_MAX = 255  # a Jira summary


class EscalationMap:
    """The profile's `escalation:`; `configured` is False without a project (no capability)."""

    def __init__(self, profile: Profile) -> None:
        raw = profile.get("escalation")
        self.configured = raw is not None
        raw = raw or {}
        where = f"profile {profile.name!r}: escalation"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a mapping", hint="escalation: {project: ENG, link_type: Escalates}")
        _check_keys(profile, "escalation", raw, ESCALATION_KEYS, hint="use " + ", ".join(ESCALATION_KEYS))
        project = str(raw.get("project") or "").strip()
        if self.configured and not re.fullmatch(r"[A-Z][A-Z0-9_]{0,254}", project):
            raise ConfigError(f"{where}.project must be a project key like ENG", hint="escalation: {project: ENG}")
        self.project = project
        self.issue_type = str(raw.get("issue_type") or "Task").strip()
        self.link_type = str(raw.get("link_type") or "Escalates").strip()
        stages = raw.get("stages") if raw.get("stages") is not None else DEFAULT_ESCALATION_STATUSES
        if (
            not isinstance(stages, dict)
            or not stages
            or not all(
                isinstance(k, str) and k.strip() and isinstance(v, str) and re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", v)
                for k, v in stages.items()
            )
        ):
            raise ConfigError(
                f"{where}.stages must map the engineering project's status names to stages (one lower-case word each)",
                hint="stages: {To Do: submitted, In Progress: engineering, Done: resolved}",
            )
        self.by_status = {k.strip().lower(): v for k, v in stages.items()}
        self.status_for: dict[str, str] = {}
        for status, stage in stages.items():
            self.status_for.setdefault(stage, status.strip())
        self.stages = tuple(self.status_for)
        if self.configured and len(self.stages) < 2:
            raise ConfigError(f"{where}.stages needs at least two stages (the last one closes an escalation)")

    def stage(self, status: str | None) -> str | None:
        return self.by_status.get(status.lower()) if isinstance(status, str) else None

    def summary(self, reason: str) -> str:
        first = reason.strip().splitlines()[0] if reason.strip() else "escalation"
        return first if len(first) <= SUMMARY_MAX else first[: SUMMARY_MAX - 1] + "…"

    def linked_key(self, issuelinks: Any) -> str | None:
        """The newest issue of the engineering project linked with the link type, if any."""
        found: list[tuple[int, str]] = []
        for link in issuelinks if isinstance(issuelinks, list) else []:
            if not isinstance(link, dict):
                continue
            kind = _obj(link.get("type"))
            if str(kind.get("name") or "").lower() != self.link_type.lower():
                continue
            for side in ("outwardIssue", "inwardIssue"):
                other = link.get(side)
                key = other.get("key") if isinstance(other, dict) else None
                if isinstance(key, str) and re.fullmatch(rf"{re.escape(self.project)}-[1-9][0-9]{{0,19}}", key):
                    found.append((int(key.rsplit("-", 1)[1]), key))
        return max(found)[1] if found else None

    def escalation(self, issue: dict) -> dict[str, Any]:
        """The engineering issue (REST v2, with its whole changelog under `changelog.histories`)
        as Ticket.escalation: its key, stage, open, reason (description), eta (due date), and the
        timeline of its status changes, each mapped to a stage."""
        fields = _obj(issue.get("fields"))
        status = _obj(fields.get("status")).get("name")
        changes = []
        for entry in _obj(issue.get("changelog")).get("histories") or []:
            for item in entry.get("items") or [] if isinstance(entry, dict) else []:
                if isinstance(item, dict) and (item.get("fieldId") or item.get("field")) == "status":
                    changes.append((str(entry.get("created") or ""), item.get("fromString"), item.get("toString")))
        changes.sort(key=lambda c: c[0])
        first_status = changes[0][1] if changes else status
        created = _jira_iso(fields.get("created"))
        timeline = []
        first = self.stage(first_status)
        if first is not None:
            timeline.append({"stage": first, "at": created})
        for at, _, to in changes:
            stage = self.stage(to)
            if stage is not None and (not timeline or timeline[-1]["stage"] != stage):
                timeline.append({"stage": stage, "at": _jira_iso(at)})
        stage = self.stage(status) or (timeline[-1]["stage"] if timeline else self.stages[0])
        description = fields.get("description")
        due = fields.get("duedate")
        return {
            "id": str(issue.get("key")),
            "stage": stage,
            "open": stage != self.stages[-1],
            "reason": description if isinstance(description, str) and description else fields.get("summary"),
            "eta": due if isinstance(due, str) and _DATE.fullmatch(due) else None,
            "timeline": timeline,
        }


def _obj(value: Any) -> dict:
    """An object of an answer where one is expected, else {}."""
    return value if isinstance(value, dict) else {}


def _jira_iso(value: Any) -> str | None:
    try:
        return to_iso(parse_iso(value)) if isinstance(value, str) and value else None
    except InvalidInputError:
        return None


# -- CSAT ratings (the issue's Satisfaction and Satisfaction date fields) ----------------------


def csat_rating(value: Any) -> int | None:
    """A CSAT rating 1..5 (an integer; JSON's true/false are not ratings), else None."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5
    return value if ok else None


def csat_satisfaction(value: Any, date: Any) -> dict[str, Any] | None:
    """Ticket.satisfaction from the issue's "Satisfaction" field (custom type
    com.atlassian.servicedesk:sd-request-feedback) and its "Satisfaction date" field
    (...:sd-request-feedback-date, a date-time: rated_at); None where it holds no rating.

    Atlassian's documentation lists the two fields (GET /rest/api/3/field: schema type
    "sd-feedback" and "datetime") but does not say what the Satisfaction field's value looks
    like in an issue, nor whether it carries the comment. It is read here as the feedback
    endpoint's CSATFeedbackFullDTO: an object whose `rating` is the 1..5 stars, with the comment
    under `comment` (an object with a `body`, or text) where the value carries one, else null;
    a bare number is taken as the rating."""
    if isinstance(value, dict):
        rating = csat_rating(value.get("rating"))
        comment = value.get("comment")
        comment = comment.get("body") if isinstance(comment, dict) else comment
    else:
        rating, comment = csat_rating(value), None
    if rating is None:
        return None
    return {
        "rating": rating,
        "comment": comment if isinstance(comment, str) and comment else None,
        "rated_at": _jira_iso(date),
    }
