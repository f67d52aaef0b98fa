"""Find and load a backend by name, importing it only when a profile uses it.

Backends are entry points in the group ``tixcli.backends``.  tixcli's own are looked up in
its own distribution's metadata first, so a local command never scans every installed package.
"""

from __future__ import annotations

from importlib import metadata

from .errors import ConfigError

GROUP = "tixcli.backends"
# Install hints for the libraries a backend needs (package name on PyPI).
_INSTALL_HINTS = {"jira": "jira", "zenpy": "zenpy", "requests": "requests"}


def _own_entry_point(name: str) -> metadata.EntryPoint | None:
    try:
        eps = metadata.distribution("tixcli").entry_points
    except metadata.PackageNotFoundError:
        return None
    for ep in eps:
        if ep.group == GROUP and ep.name == name:
            return ep
    return None


def find_entry_point(name: str) -> metadata.EntryPoint:
    ep = _own_entry_point(name)
    if ep is None:
        matches = [ep for ep in metadata.entry_points(group=GROUP) if ep.name == name]
        ep = matches[0] if matches else None
    if ep is None:
        known = sorted({ep.name for ep in metadata.entry_points(group=GROUP)})
        raise ConfigError(f"unknown backend {name!r}", hint="available backends: " + (", ".join(known) or "none"))
    return ep


def load_backend_class(name: str) -> type:
    ep = find_entry_point(name)
    try:
        return ep.load()
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing == "tixcli":
            raise ConfigError(f"backend {name!r} is registered but its module {exc.name} is missing") from None
        package = _INSTALL_HINTS.get(missing, missing)
        raise ConfigError(
            f"backend {name!r} needs the Python package {package!r}",
            hint=f"pip install {package}",
        ) from None


def available_backends() -> list[str]:
    return sorted({ep.name for ep in metadata.entry_points(group=GROUP)})


def open_backend(profile):
    """Instantiate the profile's backend (no network access happens here)."""
    cls = load_backend_class(profile.backend)
    return cls(profile)
