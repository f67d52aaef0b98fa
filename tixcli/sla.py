"""SLA clocks, escalations and satisfaction ratings: the shapes every backend gives and the rules
the core keeps (issue 16).

A ticket's `sla` maps each metric ("first_reply", "resolution", and a service's others under its
own names) to a clock: its target (absolute, ISO 8601 UTC; null while the clock is paused), its
stage (active, paused, met, breached), and when it was met or breached where the source says.
JSON keeps the absolute times; only a person's terminal sees "due in 1h 12m".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from .errors import InvalidInputError

METRICS = ("first_reply", "resolution")
STAGES = ("active", "paused", "met", "breached")

# The local store's policy when the profile names none (calendar time: no business hours).
# urgent resolves within 2 hours, as the P1 promise of the portal the issue names.
DEFAULT_POLICY: dict[str, dict[str, int]] = {
    "urgent": {"first_reply": 30 * 60, "resolution": 2 * 3600},
    "high": {"first_reply": 3600, "resolution": 8 * 3600},
    "normal": {"first_reply": 4 * 3600, "resolution": 24 * 3600},
    "low": {"first_reply": 8 * 3600, "resolution": 72 * 3600},
    "default": {"first_reply": 4 * 3600, "resolution": 24 * 3600},
}
PRIORITY_KEYS = ("urgent", "high", "normal", "low", "default")

# escalation stages when the profile names none (the "Customer Success Hub" timeline)
DEFAULT_STAGES = ("submitted", "evaluation", "engineering", "verification", "resolved")
RATINGS = ("good", "bad")

_DURATION = re.compile(r"\s*(\d{1,6})\s*([smhdw])\s*")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str, what: str = "duration") -> int:
    """`30m`, `2h`, `1d`, `1w` (also several: `1h30m`) → seconds; exit 6 otherwise."""
    text = str(value).strip().lower()
    total, at = 0, 0
    for m in _DURATION.finditer(text):
        if m.start() != at:
            break
        total += int(m.group(1)) * _UNIT[m.group(2)]
        at = m.end()
    if not text or at != len(text) or total <= 0:
        raise InvalidInputError(f"invalid {what} {value!r}", hint="a duration like 30m, 2h, 1d or 1h30m")
    return total


def policy_from(setting: Any) -> dict[str, dict[str, int]]:
    """The profile's `sla:` (targets per priority in durations) over the defaults."""
    policy = {key: dict(targets) for key, targets in DEFAULT_POLICY.items()}
    if setting is None:
        return policy
    if not isinstance(setting, dict):
        raise InvalidInputError("sla: must map priorities to targets", hint="sla: {urgent: {resolution: 2h}}")
    for key, targets in setting.items():
        if key not in PRIORITY_KEYS:
            raise InvalidInputError(f"sla: unknown priority {key!r}", hint="one of: " + ", ".join(PRIORITY_KEYS))
        if not isinstance(targets, dict):
            raise InvalidInputError(
                f"sla.{key} must map metrics to durations", hint="{first_reply: 30m, resolution: 2h}"
            )
        for metric, duration in targets.items():
            if metric not in METRICS:
                raise InvalidInputError(f"sla.{key}: unknown metric {metric!r}", hint="first_reply or resolution")
            policy[key][metric] = parse_duration(str(duration), f"sla.{key}.{metric}")
    return policy


def clock(target_at: str | None, stage: str, met_at: str | None = None, breached_at: str | None = None) -> dict:
    """One metric's clock as a ticket's JSON holds it."""
    if stage not in STAGES:
        raise ValueError(f"unknown SLA stage {stage!r}")  # a backend's bug
    return {"target_at": target_at, "stage": stage, "met_at": met_at, "breached_at": breached_at}


def breaching(sla: dict | None) -> bool:
    """Breached and not yet met (`list --breaching`)."""
    return any(c.get("stage") == "breached" and not c.get("met_at") for c in (sla or {}).values())


def due_within(sla: dict | None, now: datetime, within: timedelta) -> bool:
    """A running clock whose target comes before `now + within` (`list --due-within`)."""
    from .model import parse_iso

    for c in (sla or {}).values():
        if c.get("stage") == "active" and c.get("target_at") and parse_iso(c["target_at"]) <= now + within:
            return True
    return False


def span(seconds: float) -> str:
    """A duration as a person reads it: `1h 12m`, `20m`, `3d 4h`, `45s`."""
    s = int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def describe(metric: str, c: dict, now: datetime) -> str:
    """A clock for a person: "resolution due in 1h 12m", "first reply breached 20m ago"."""
    from .model import parse_iso

    name = metric.replace("_", " ")
    stage = c.get("stage")
    if stage == "met":
        return f"{name} met"
    if stage == "paused":
        return f"{name} paused"
    if stage == "breached":
        when = c.get("breached_at") or c.get("target_at")
        late = f" {span((now - parse_iso(when)).total_seconds())} ago" if when else ""
        return f"{name} breached{late}" + (" (met since)" if c.get("met_at") else "")
    target = c.get("target_at")
    if not target:
        return f"{name} running"
    left = (parse_iso(target) - now).total_seconds()
    return f"{name} due in {span(left)}" if left >= 0 else f"{name} breached {span(left)} ago"


def parse_rating(value: str, scale: bool) -> str | int:
    """`good`, `bad`, or (where the backend takes numbers) 1..5; exit 6 otherwise."""
    text = str(value).strip().lower()
    if text in RATINGS:
        return text
    if text.isdigit() and text.isascii():
        if not scale:
            raise InvalidInputError(
                f"this backend takes good or bad, not {value!r}", hint="tixcli rate ID good (or bad)"
            )
        number = int(text)
        if 1 <= number <= 5:
            return number
    raise InvalidInputError(f"invalid rating {value!r}", hint="good, bad, or 1..5 where the backend takes numbers")
