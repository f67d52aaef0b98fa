"""Configuration: the config file, profiles, identity and secrets.

With no config file at all, tixcli uses one implicit profile on the embedded SQLite store.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .secrets import Secret, register_basic_auth

DEFAULT_PROFILE = "default"
SECRET_KEYS = ("token", "oauth_token", "password")


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

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

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
        return Profile(name, backend, dict(settings), self.path)


def load_config(path: str | os.PathLike | None = None, strict_permissions: bool | None = None) -> Config:
    """Read the config file; a missing default file means the implicit SQLite profile."""
    explicit = path or os.environ.get("TIXCLI_CONFIG")
    config_path = Path(explicit) if explicit else default_config_path()
    if not config_path.exists():
        if explicit:
            raise ConfigError(f"config file not found: {config_path}")
        return Config(None, {})
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {config_path}: {exc.__class__.__name__}") from None
    import yaml  # imported here: a run with no config file never pays for it

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"invalid YAML in {config_path}{where}") from None
    if not isinstance(data, dict) or not isinstance(data.get("profiles", {}), dict):
        raise ConfigError(f"{config_path}: expected a mapping with 'profiles:'")
    _check_permissions(config_path, data)
    return Config(config_path, data)


def _holds_secret(data: dict) -> bool:
    for settings in (data.get("profiles") or {}).values():
        if isinstance(settings, dict) and any(settings.get(k) for k in SECRET_KEYS):
            return True
    return False


def _check_permissions(path: Path, data: dict) -> None:
    if not _holds_secret(data):
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if stat.S_IMODE(mode) & 0o044:
        message = f"{path} holds a secret and is readable by group or others"
        if data.get("strict_permissions"):
            raise ConfigError(message, hint=f"chmod 600 {path}")
        warn(message + f" (chmod 600 {path}; better: token_env)")
