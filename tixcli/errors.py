"""tixcli's exception hierarchy and its exit codes.

Every error tixcli raises on purpose is a TixError; ``tixcli.__main__`` is the one place that
turns them (and anything unexpected) into a message and an exit status.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0
    ERROR = 1  # unexpected error
    USAGE = 2  # click's own usage errors
    CONFIG = 3  # bad YAML, unknown profile, missing secret
    NOT_FOUND = 4
    REFUSED = 5  # refused by the ticket lifecycle
    INVALID_INPUT = 6  # attachment limits, bad email, empty body
    AUTH = 7  # authentication or permission
    UNAVAILABLE = 8  # backend unreachable, malformed answer, rate-limited beyond retries
    STORE = 9  # local store unusable


class TixError(Exception):
    """Base of tixcli's own errors: a one-line message and an optional hint."""

    exit_status = ExitStatus.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(TixError):
    exit_status = ExitStatus.CONFIG


class NotFoundError(TixError):
    exit_status = ExitStatus.NOT_FOUND


class RefusedError(TixError):
    """The ticket lifecycle forbids the operation (closed ticket, invalid transition)."""

    exit_status = ExitStatus.REFUSED


class InvalidInputError(TixError):
    exit_status = ExitStatus.INVALID_INPUT


class NotSupportedError(InvalidInputError):
    """The backend's code does not offer a capability (exit 6): refused before anything is sent."""

    def __init__(self, backend: str, capability: str, what: str | None = None) -> None:
        super().__init__(
            f"the {backend} backend does not support {what or capability} (capability {capability!r})",
            hint="`tixcli backends` lists what each backend supports",
        )
        self.backend = backend
        self.capability = capability


class AuthError(TixError):
    exit_status = ExitStatus.AUTH

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status  # the HTTP status (401, 403) where one caused it


class UnavailableError(TixError):
    """The backend cannot be reached, answered nonsense, or kept rate-limiting us."""

    exit_status = ExitStatus.UNAVAILABLE


class RateLimitedError(UnavailableError):
    def __init__(self, message: str, retry_after: float | None = None, hint: str | None = None):
        super().__init__(message, hint)
        self.retry_after = retry_after


class StoreError(TixError):
    """The local store cannot be used: corrupt, foreign, read-only, full or too new."""

    exit_status = ExitStatus.STORE
