"""Find and load a backend by name, importing it only when a profile uses it.

Backends are entry points in the group ``tixcli.backends``.  tixcli's own are read from its
own distribution's ``entry_points.txt`` (found beside the package, a few stat calls), so a
local command neither scans every installed distribution nor pays for importlib.metadata.
Third-party backends are found through importlib.metadata as usual.
"""

from __future__ import annotations

import importlib
import os
import sys

from . import __version__
from .errors import ConfigError

GROUP = "tixcli.backends"
# Install hints for the libraries a backend needs (package name on PyPI).
_INSTALL_HINTS = {"jira": "jira", "zenpy": "zenpy", "requests": "requests"}


def _own_entry_points() -> dict[str, str]:
    """Our distribution's entry points in GROUP (name → "module:attr"), or {} if not found."""
    dist_info = f"tixcli-{__version__}.dist-info"
    for folder in sys.path:
        path = os.path.join(folder or ".", dist_info, "entry_points.txt")
        try:
            with open(path, encoding="utf-8") as fh:
                return _parse_entry_points(fh.read()).get(GROUP, {})
        except OSError:
            continue
    return {}


def _parse_entry_points(text: str) -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1].strip(), {})
        elif current is not None and "=" in line:
            name, value = line.split("=", 1)
            current[name.strip()] = value.strip()
    return groups


def _third_party_entry_points() -> dict[str, str]:
    from importlib import metadata

    return {ep.name: ep.value for ep in metadata.entry_points(group=GROUP)}


def find_backend(name: str) -> str:
    """The "module:attr" of backend NAME."""
    target = _own_entry_points().get(name) or _third_party_entry_points().get(name)
    if target is None:
        raise ConfigError(
            f"unknown backend {name!r}", hint="available backends: " + (", ".join(available_backends()) or "none")
        )
    return target


def load_backend_class(name: str) -> type:
    module_name, _, attr = find_backend(name).partition(":")
    try:
        module = importlib.import_module(module_name.strip())
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing == "tixcli":
            raise ConfigError(f"backend {name!r} is registered but its module {exc.name} is missing") from None
        package = _INSTALL_HINTS.get(missing, missing)
        hint = f"pip install {package}"
        raise ConfigError(f"backend {name!r} needs the Python package {package!r}", hint=hint) from None
    obj = module
    for part in attr.strip().split("."):
        obj = getattr(obj, part)
    return obj


def available_backends() -> list[str]:
    return sorted({*_own_entry_points(), *_third_party_entry_points()})


def open_backend(profile):
    """Instantiate the profile's backend (no network access happens here)."""
    cls = load_backend_class(profile.backend)
    return cls(profile)
