"""Jira Service Management workflow mapping for the JSM backend: statuses, transitions, types.

Pure functions of the profile's settings and the service's answers (no HTTP here), so the
mapping is testable without a server. Names compare case-insensitively.

Defaults follow JSM's standard service-request workflow:
"Waiting for customer" → pending, "Resolved" → solved, "Closed"/"Canceled" → closed, any other
status → open, and a status in the DONE category that no list names → solved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tixcli.config import Profile
from tixcli.errors import ConfigError, InvalidInputError, RefusedError
from tixcli.model import PRIORITIES, STATUSES, TYPES

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
