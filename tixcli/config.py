"""Configuration: the config file, profiles, identity and secrets.

With no config file at all, tixcli uses one implicit profile on the embedded SQLite store.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .secrets import Secret, register_basic_auth

DEFAULT_PROFILE = "default"
SECRET_KEYS = ("token", "oauth_token", "password")
# Every setting that names a secret: inline (`token`), by environment variable (`token_env`) or by
# keyring entry (`token_keyring`) -- the three forms Profile.secret reads.
SECRET_SETTINGS = tuple(f"{key}{form}" for key in SECRET_KEYS for form in ("", "_env", "_keyring"))
MAX_CONFIG_BYTES = 1_000_000  # a config file is a few KB; /dev/zero or a log named by mistake is refused
MAX_ATTACHMENT_LIMIT = 1_000_000_000  # attachments are read into memory: a limit above 1 GB is a typo


def config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "tixcli"


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "tixcli"


def default_config_path() -> Path:
    return config_home() / "config.yaml"


def default_db_path() -> Path:
    return Path(os.environ["TIXCLI_DB"]) if os.environ.get("TIXCLI_DB") else data_home() / "tickets.db"


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass
class AttachmentLimits:
    max_files: int = 5
    max_total_bytes: int = 11_000_000
    max_file_bytes: int | None = None
    allowed_types: tuple[str, ...] | None = None  # file extensions, lower case, no dot


@dataclass
class Profile:
    name: str
    backend: str
    settings: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None  # the config file it came from
    #: the settings its backend declares (name -> Setting), as checked at load; None: not looked up
    declared: dict[str, Setting] | None = field(default=None, repr=False, compare=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    def setting(self, key: str) -> Any:
        """The value of a declared setting, or its declared default when absent (or `key:` empty).

        Asking for a key the backend does not declare is a bug in the backend (ValueError).
        """
        declared = self.declared
        if declared is None:
            from .registry import backend_settings

            declared = self.declared = backend_settings(self.backend) or dict(SHARED_SETTINGS)
        if key not in declared:
            raise ValueError(f"backend {self.backend!r} reads {key!r} but does not declare it")
        value = self.settings.get(key)
        return declared[key].default if value is None else value

    def require(self, key: str) -> Any:
        value = self.settings.get(key)
        if value in (None, ""):
            raise ConfigError(f"profile {self.name!r} needs {key!r}", hint=self._hint())
        return value

    def _hint(self) -> str:
        return f"see config.example.yaml; config file: {self.source or default_config_path()}"

    @property
    def user(self) -> str:
        """Who `--mine` means and the default requester."""
        return str(
            self.settings.get("user") or self.settings.get("email") or os.environ.get("TIXCLI_USER") or _login_name()
        )

    def number(self, key: str, default: float) -> float:
        value = self.settings.get(key, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"profile {self.name!r}: {key} must be a number, not {value!r}") from None
        if number < 0:
            raise ConfigError(f"profile {self.name!r}: {key} must not be negative")
        return number

    @property
    def timeout(self) -> float:
        return self.number("timeout", 30.0)

    @property
    def max_retry_wait(self) -> float:
        """The longest single Retry-After wait tixcli accepts before giving up."""
        return self.number("max_retry_wait", 60.0)

    @property
    def retry_budget(self) -> float:
        """Total seconds one command may spend waiting between retries."""
        return self.number("retry_budget", 120.0)

    def attachment_limits(self) -> AttachmentLimits:
        limits = AttachmentLimits()
        raw = self.settings.get("attachments") or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"profile {self.name!r}: attachments must be a mapping")
        try:
            if "max_files" in raw:
                limits.max_files = int(raw["max_files"])
            if "max_total_bytes" in raw:
                limits.max_total_bytes = int(raw["max_total_bytes"])
            if raw.get("max_file_bytes") is not None:
                limits.max_file_bytes = int(raw["max_file_bytes"])
        except (TypeError, ValueError):
            raise ConfigError(f"profile {self.name!r}: attachment limits must be integers") from None
        if raw.get("allowed_types") is not None:
            types = raw["allowed_types"]
            if isinstance(types, str):
                types = types.split()
            limits.allowed_types = tuple(str(t).lower().lstrip(".") for t in types)
        return limits

    def secret(self, key: str = "token", required: bool = True) -> Secret | None:
        """A secret from `<key>_env` (environment), `<key>_keyring` (OS keyring) or `<key>`."""
        env_name = self.settings.get(f"{key}_env")
        if env_name:
            value = os.environ.get(str(env_name))
            if value:
                return self._remember(Secret(value))
            if required:
                raise ConfigError(
                    f"environment variable {env_name} is not set (profile {self.name!r})",
                    hint=f"export {env_name}=... with your API token",
                )
            return None
        keyring_service = self.settings.get(f"{key}_keyring")
        if keyring_service:
            return self._remember(self._from_keyring(str(keyring_service), required))
        inline = self.settings.get(key)
        if inline:
            return self._remember(Secret(str(inline)))
        if required:
            raise ConfigError(
                f"profile {self.name!r} has no {key}: set {key}_env or {key}_keyring",
                hint=self._hint(),
            )
        return None

    def _remember(self, secret: Secret | None) -> Secret | None:
        if secret is not None and self.settings.get("email"):
            register_basic_auth(str(self.settings["email"]), secret.reveal())
        return secret

    def _from_keyring(self, service: str, required: bool) -> Secret | None:
        try:
            import keyring
        except ImportError:
            raise ConfigError("token_keyring needs the keyring library", hint="pip install 'tixcli[keyring]'") from None
        username = str(self.settings.get("email") or self.settings.get("user") or self.name)
        try:
            value = keyring.get_password(service, username)
        except Exception as exc:  # keyring backends raise their own types
            raise ConfigError(f"keyring lookup failed: {type(exc).__name__}") from None
        if not value:
            if required:
                raise ConfigError(
                    f"no secret in the keyring for service {service!r}, user {username!r}",
                    hint=f"keyring set {service} {username}",
                )
            return None
        return Secret(value)

    def base_url(self, default: str | None = None) -> str:
        """The service's base URL: https, or http only on loopback (tests, local proxies)."""
        url = str(self.settings.get("url") or default or "").rstrip("/")
        if not url:
            raise ConfigError(f"profile {self.name!r} needs 'url'", hint=self._hint())
        check_remote_url(url, self.name)
        return url


def check_remote_url(url: str, profile_name: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"profile {profile_name!r}: invalid url {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"profile {profile_name!r}: url must use https (http only on loopback)",
        )
    if parts.username or parts.password:
        # It would be printed in every ticket's url and sent as Basic auth: secrets go in token_env.
        raise ConfigError(f"profile {profile_name!r}: the url must not hold a user name or password")


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "me"


@dataclass
class Config:
    path: Path | None
    data: dict[str, Any]
    _checked_permissions: bool = field(default=False, repr=False, compare=False)
    _checked_others: bool = field(default=False, repr=False, compare=False)

    @property
    def profiles(self) -> dict[str, Any]:
        return self.data.get("profiles") or {}

    def profile(self, name: str | None = None) -> Profile:
        name = name or os.environ.get("TIXCLI_PROFILE") or self.data.get("default_profile")
        profiles = self.profiles
        if not name:
            name = next(iter(profiles)) if len(profiles) == 1 else DEFAULT_PROFILE
        if name not in profiles:
            if name == DEFAULT_PROFILE and not profiles:
                return Profile(DEFAULT_PROFILE, "sqlite", {}, self.path)
            known = ", ".join(profiles) or "none"
            raise ConfigError(f"unknown profile {name!r} (profiles: {known})")
        settings = profiles[name]
        if not isinstance(settings, dict):
            raise ConfigError(f"profile {name!r} must be a mapping of settings")
        backend = settings.get("backend")
        if not backend or not isinstance(backend, str):
            raise ConfigError(f"profile {name!r} has no 'backend' (sqlite, zendesk or jsm)")
        if not self._checked_permissions and self.path is not None:
            self._checked_permissions = True  # warn once per run, not once per lookup
            _check_permissions(self.path, self.data, settings)  # first: even a profile refused below
        from .registry import backend_settings

        declared = backend_settings(backend)  # None: a backend that declares no settings
        check_settings(name, settings, declared or SHARED_SETTINGS, self.path, allow_unknown=declared is None)
        if not self._checked_others:
            self._checked_others = True
            self._warn_unknown_in_other_profiles(name)
        return Profile(name, backend, dict(settings), self.path, declared or dict(SHARED_SETTINGS))

    def _warn_unknown_in_other_profiles(self, selected: str) -> None:
        """One warning for the unknown keys of the profiles not in use (they are not refused)."""
        from .registry import cheap_backend_settings

        found = []
        for other, settings in self.profiles.items():
            if other == selected or not isinstance(settings, dict) or not isinstance(settings.get("backend"), str):
                continue
            declared = cheap_backend_settings(settings["backend"])  # None: unknown without importing it
            if declared is None:
                continue
            for key in unknown_settings(settings, declared):
                found.append(f"{other}.{key}" + _did_you_mean(key, declared, " (did you mean {}?)"))
        if found:
            warn(f"{self.path or 'config'}: unknown settings in other profiles, ignored: {', '.join(found)}")


def load_config(path: str | os.PathLike | None = None, strict_permissions: bool | None = None) -> Config:
    """Read the config file; a missing default file means the implicit SQLite profile."""
    explicit = path or os.environ.get("TIXCLI_CONFIG")
    config_path = Path(explicit) if explicit else default_config_path()
    if not config_path.exists():
        if explicit:
            raise ConfigError(f"config file not found: {config_path}")
        return Config(None, {})
    try:
        with config_path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)  # bounded: a FIFO or /dev/zero must not fill memory
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"config file {config_path} is larger than {MAX_CONFIG_BYTES:,} bytes")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {config_path}: {exc.__class__.__name__}") from None
    data = _parse_yaml(text, config_path)
    if not isinstance(data, dict) or not isinstance(data.get("profiles", {}), dict):
        raise ConfigError(f"{config_path}: expected a mapping with 'profiles:'")
    _check_types("", data, TOP_TYPES, config_path)
    return Config(config_path, data)


# -- YAML without aliases ----------------------------------------------------------------------

_loader_class = None


class _AliasRefused(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _no_alias_loader():
    """yaml.SafeLoader refusing aliases (`*name`): nested aliases are the "billion laughs" bomb,
    which expands a few hundred bytes into gigabytes once anything turns it into a string."""
    global _loader_class
    if _loader_class is None:
        import yaml  # imported here: a run with no config file never pays for it

        class NoAliasLoader(yaml.SafeLoader):
            def compose_node(self, parent, index):
                if self.check_event(yaml.AliasEvent):
                    raise _AliasRefused(self.peek_event().start_mark.line + 1)
                return super().compose_node(parent, index)

        _loader_class = NoAliasLoader
    return _loader_class


def _parse_yaml(text: str, path: Path) -> Any:
    loader_class = _no_alias_loader()
    import yaml

    loader = loader_class(text)
    try:
        return loader.get_single_data() or {}
    except _AliasRefused as exc:
        raise ConfigError(
            f"{path} (line {exc.line}): YAML aliases (*name) are not allowed in the config",
            hint="write the value out in full",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"invalid YAML in {path}{where}") from None
    except RecursionError:
        raise ConfigError(f"invalid YAML in {path}: nested too deeply") from None
    finally:
        loader.dispose()


# -- the type of every known key -------------------------------------------------------------


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _name_or_id(value: Any) -> str | None:
    ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    return None if ok else "must be a string or a number"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _number(value: Any) -> str | None:
    import math

    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if not math.isfinite(value):
        return "must be a finite number"
    return "must not be negative" if value < 0 else None


def _byte_count(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be a whole number"
    if value < 0:
        return "must not be negative"
    return f"must be at most {MAX_ATTACHMENT_LIMIT:,}" if value > MAX_ATTACHMENT_LIMIT else None


def _mapping(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be a mapping"


def _file_types(value: Any) -> str | None:
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > 200:
        return "must be a list of file extensions"
    for item in items:
        if not isinstance(item, str) or not 0 < len(item.lstrip(".")) <= 32 or any(c.isspace() for c in item):
            return "must be a list of file extensions (short words such as log or png)"
    return None


def _names(value: Any) -> str | None:
    if not isinstance(value, list) or not 0 < len(value) <= 50:
        return "must be a list of names"
    if any(not isinstance(v, str) or not v.strip() or len(v) > 64 or any(c.isspace() for c in v) for v in value):
        return "must be a list of one-word names"
    return "must not repeat a name" if len(set(value)) != len(value) else None


def _whole(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be a whole number"
    return "must not be negative" if value < 0 else None


TOP_TYPES = {"default_profile": _string, "strict_permissions": _boolean, "profiles": _mapping}
ATTACHMENT_TYPES = {
    "max_files": _byte_count,
    "max_total_bytes": _byte_count,
    "max_file_bytes": _byte_count,
    "allowed_types": _file_types,
}

# -- typed settings: what each backend declares a profile may hold ---------------------------

# The check of each type a setting may have, and its name in messages and `tixcli backends`.
_TYPE_CHECKS: dict[Any, tuple[str, Any]] = {
    str: ("string", _string),
    bool: ("boolean", _boolean),
    float: ("number", _number),  # a non-negative finite number (seconds, days)
    int: ("whole number", _whole),  # a non-negative whole number (bytes)
    dict: ("mapping", _mapping),
    list: ("list of names", _names),
    (str, int): ("string or number", _name_or_id),
}


@dataclass(frozen=True)
class Setting:
    """One key a profile may hold: its type (str, bool, float, int, dict or (str, int)), the
    default that applies when it is absent, and one line of help."""

    type: Any
    default: Any = None
    help: str = ""

    def __post_init__(self) -> None:
        if self.type not in _TYPE_CHECKS:
            raise ValueError(f"unsupported setting type {self.type!r}")  # a bug in a declaration

    @property
    def type_name(self) -> str:
        return _TYPE_CHECKS[self.type][0]

    def problem(self, value: Any) -> str | None:
        return _TYPE_CHECKS[self.type][1](value)


def secret_settings(key: str, what: str) -> dict[str, Setting]:
    """The three forms of a secret (see Profile.secret): `<key>_env`, `<key>_keyring`, `<key>`."""
    return {
        f"{key}_env": Setting(str, None, f"environment variable holding the {what}"),
        f"{key}_keyring": Setting(str, None, f"OS keyring service holding the {what} (user: email)"),
        key: Setting(str, None, f"the {what} itself (prefer {key}_env)"),
    }


# Keys every profile may hold, whatever its backend: the core reads them (Profile.user, the
# attachment limits of create/reply/attach). A backend's declaration adds its own.
SHARED_SETTINGS: dict[str, Setting] = {
    "backend": Setting(str, None, "sqlite, zendesk, jsm or an installed third-party backend"),
    "user": Setting(str, None, "who --mine means and the default requester (else email, TIXCLI_USER, login)"),
    "email": Setting(str, None, "the account's email (login of remote services; the default user)"),
    "attachments": Setting(dict, None, "limits: max_files, max_total_bytes, max_file_bytes, allowed_types"),
}

# What a backend on tixcli's HttpClient reads (HttpClient.for_profile, Profile.base_url): the
# built-in remote backends merge it into their declaration; so can a third-party one.
HTTP_SETTINGS: dict[str, Setting] = {
    "url": Setting(str, None, "the service's base URL (https; http only on loopback)"),
    "timeout": Setting(float, 30.0, "seconds per request, from connecting to the answer's last byte"),
    "max_retry_wait": Setting(float, 60.0, "longest Retry-After accepted before giving up (exit 8)"),
    "retry_budget": Setting(float, 120.0, "total seconds one command may wait between retries"),
    "export_retry_budget": Setting(
        float, 3600.0, "total seconds one export may wait between retries (past it, --state saves where it got to)"
    ),
    "max_response_bytes": Setting(int, 33_554_432, "a larger answer is refused (exit 8)"),
}


def unknown_settings(settings: dict, declared: Mapping[str, object]) -> list[str]:
    return [key for key in settings if key not in declared]


def _did_you_mean(key: Any, declared: dict, form: str) -> str:
    import difflib

    close = difflib.get_close_matches(str(key), list(declared), n=1, cutoff=0.7)
    return form.format(repr(close[0])) if close else ""


def check_settings(
    profile: str, settings: dict, declared: dict[str, Setting], path: Path | None, allow_unknown: bool = False
) -> None:
    """Refuse (exit 3) a key the backend does not declare, or a value of the wrong type.

    One line naming the key and the profile, never the value (it may be a secret).
    `allow_unknown`: the backend declares nothing, so only the keys in `declared` are checked.
    """
    where = path or "config"
    backend = settings.get("backend")
    for key, value in settings.items():
        setting = declared.get(key)
        if setting is None:
            if allow_unknown:
                continue
            if key in TOP_TYPES:
                hint = f"{key} belongs at the top level of the file, not in a profile"
            else:
                hint = f"a {backend} profile takes: " + ", ".join(sorted(declared))
            raise ConfigError(
                f"{where}: profile {profile!r} has an unknown setting {str(key)!r} for backend {backend}"
                + _did_you_mean(key, declared, "; did you mean {}?"),
                hint=hint,
            )
        if value is None:  # `key:` with nothing: the default applies
            continue
        problem = setting.problem(value)
        if problem:
            found = f", not {_kind(value)}" if problem.startswith("must be a") else ""
            raise ConfigError(f"{where}: profiles.{profile}.{key} {problem}{found}", hint="see config.example.yaml")
    limits = settings.get("attachments")
    if isinstance(limits, dict) and "attachments" in declared:
        for key in unknown_settings(limits, ATTACHMENT_TYPES):
            raise ConfigError(
                f"{where}: profile {profile!r} has an unknown attachment limit {str(key)!r}"
                + _did_you_mean(key, ATTACHMENT_TYPES, "; did you mean {}?"),
                hint="attachments takes: " + ", ".join(ATTACHMENT_TYPES),
            )
        _check_types(f"profiles.{profile}.attachments", limits, ATTACHMENT_TYPES, path)


def _check_types(where: str, data: dict, types: dict, path: Path | None) -> None:
    """One line naming the key whose value has the wrong type (never the value: it may be a secret)."""
    for key, check in types.items():
        value = data.get(key)
        if value is None:  # absent, or `key:` with nothing: the default applies
            continue
        problem = check(value)
        if problem:
            name = f"{where}.{key}" if where else key
            found = f", not {_kind(value)}" if problem.startswith("must be a") else ""
            raise ConfigError(f"{path or 'config'}: {name} {problem}{found}", hint="see config.example.yaml")


# -- who could read or change the file ----------------------------------------------------------


def _names_secret(settings: dict) -> bool:
    return any(settings.get(key) for key in SECRET_SETTINGS)


def _holds_secret(data: dict) -> bool:
    """Whether any profile holds a secret inline (the file itself then is the secret)."""
    for settings in (data.get("profiles") or {}).values():
        if isinstance(settings, dict) and any(settings.get(k) for k in SECRET_KEYS):
            return True
    return False


def _writable_by_others(path: Path) -> tuple[str, str] | None:
    """Why someone other than this user (or root) could change the file, and the fix; or None.

    The file, or the folder holding it, is writable by group or others (a sticky folder such as
    /tmp only lets others replace their own files), or is owned by another non-root user.
    """
    me = os.getuid()
    real = Path(os.path.realpath(path))
    targets = [(real, "it"), (real.parent, "its folder")]
    link_folder = Path(os.path.abspath(path)).parent  # whoever can write there can replace a symlink
    if link_folder != real.parent:
        targets.append((link_folder, "the folder of its link"))
    for target, what in targets:
        try:
            info = target.stat()
        except OSError:
            continue
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o022 and not (target is not real and mode & stat.S_ISVTX):
            return f"{what} is writable by group or others", f"chmod go-w {target}"
        if info.st_uid not in (0, me):
            return (
                f"{what} is owned by uid {info.st_uid}, neither you (uid {me}) nor root",
                f"chown {me} {target}, or run tixcli as uid {info.st_uid}",
            )
    return None


def _check_permissions(path: Path, data: dict, settings: dict) -> None:
    """Warn (strict_permissions: refuse) when the file could leak a secret or redirect one."""
    problems, hints = [], []
    try:
        readable = stat.S_IMODE(path.stat().st_mode) & 0o044
    except OSError:
        readable = 0
    if readable and _holds_secret(data):
        problems.append("holds a secret and is readable by group or others")
        hints.append(f"chmod 600 {path}; better: token_env")
    if _names_secret(settings):
        found = _writable_by_others(path)
        if found:
            problems.append(f"could be changed by another user to redirect the token: {found[0]}")
            hints.append(found[1])
    if not problems:
        return
    message = f"{path} " + "; it ".join(problems)
    if data.get("strict_permissions"):
        raise ConfigError(message, hint="; ".join(hints))
    warn(f"{message} ({'; '.join(hints)})")
