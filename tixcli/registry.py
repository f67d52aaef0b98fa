"""Find and load a backend by name, importing it only when a profile uses it.

Backends are entry points in the group ``tixcli.backends``.  tixcli's own are read from its
own distribution's ``entry_points.txt`` (found beside the package, a few stat calls), so a
local command neither scans every installed distribution nor pays for importlib.metadata.
Third-party backends are found through importlib.metadata as usual. A library (or a test) can
also register a backend class at run time with ``register(name, cls)``; it takes precedence.

Each backend declares the profile settings it reads (``Backend.settings``, name → Setting).
The built-in ones keep that declaration in a small module beside the backend that imports none
of its libraries, so the config can be checked without loading jira or zenpy.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .errors import ConfigError

GROUP = "tixcli.backends"
BUILTIN_DISTRIBUTION = "tixcli"
# The settings of the built-in backends (by the backend's module), importable on their own: the
# class attribute `settings` of each backend is the SETTINGS of its module here.
_BUILTIN_SETTINGS_MODULES = {
    "tixcli.backends.sqlite": "tixcli.backends.sqlite_settings",
    "tixcli.backends.zendesk": "tixcli.backends.zendesk_settings",
    "tixcli.backends.jsm": "tixcli.backends.jsm_settings",
}

_registered: dict[str, type] = {}


# -- registering at run time --------------------------------------------------------------------


def register(name: str, cls: type) -> type:
    """Make backend class `cls` available as `backend: NAME` for this process (returns `cls`).

    It takes precedence over an installed entry point of the same name.
    """
    from tixcli.backends.base import Backend

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(f"invalid backend name {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"backend {name!r} must be a subclass of tixcli.backends.base.Backend, not {cls!r}")
    _registered[name] = cls
    return cls


def unregister(name: str) -> None:
    """Forget a backend registered with `register` (no error if there is none)."""
    _registered.pop(name, None)


# -- entry points -----------------------------------------------------------------------------


def _own_dist_info() -> str | None:
    dist_info = f"tixcli-{__version__}.dist-info"
    for folder in sys.path:
        path = os.path.join(folder or ".", dist_info)
        if os.path.isfile(os.path.join(path, "entry_points.txt")):
            return path
    return None


_own_cache: dict[str, str] | None = None


def _own_entry_points() -> dict[str, str]:
    """Our distribution's entry points in GROUP (name → "module:attr"), or {} if not found."""
    global _own_cache
    if _own_cache is None:
        found: dict[str, str] = {}
        dist_info = _own_dist_info()
        if dist_info is not None:
            try:
                with open(os.path.join(dist_info, "entry_points.txt"), encoding="utf-8") as fh:
                    found = _parse_entry_points(fh.read()).get(GROUP, {})
            except OSError:
                pass
        _own_cache = found
    return _own_cache


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


def _third_party() -> dict[str, Any]:
    """Installed entry points in GROUP (name → importlib.metadata.EntryPoint), first one wins."""
    from importlib import metadata

    found: dict[str, Any] = {}
    for ep in metadata.entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


def _third_party_entry_points() -> dict[str, str]:
    return {name: ep.value for name, ep in _third_party().items()}


def find_backend(name: str) -> str:
    """The "module:attr" of backend NAME."""
    if name in _registered:
        cls = _registered[name]
        return f"{cls.__module__}:{cls.__qualname__}"
    target = _own_entry_points().get(name) or _third_party_entry_points().get(name)
    if target is None:
        raise ConfigError(
            f"unknown backend {name!r}", hint="available backends: " + (", ".join(available_backends()) or "none")
        )
    return target


def _distribution_of(name: str):
    """The importlib.metadata Distribution that installed backend NAME, or None."""
    from importlib import metadata

    if name in _own_entry_points():
        try:
            return metadata.distribution(BUILTIN_DISTRIBUTION)
        except metadata.PackageNotFoundError:
            return None
    ep = _third_party().get(name)
    return getattr(ep, "dist", None) if ep is not None else None


def load_backend_class(name: str) -> type:
    if name in _registered:
        return _registered[name]
    target = find_backend(name)
    module_name, _, attr = target.partition(":")
    module_name = module_name.strip()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise _missing_module_error(name, module_name, exc.name or "") from None
    except ImportError as exc:
        raise ConfigError(
            f"backend {name!r} cannot be imported: {exc}", hint="reinstall the package providing it"
        ) from None
    obj: Any = module
    try:
        for part in attr.strip().split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise ConfigError(
            f"backend {name!r}: {target} does not exist", hint="reinstall the package providing it"
        ) from None
    return obj


def _missing_module_error(name: str, module_name: str, missing: str) -> ConfigError:
    """The error for a backend whose module, or a module it imports, is not installed."""
    dist = _distribution_of(name)
    dist_name = dist.metadata["Name"] if dist is not None else None
    if missing and (module_name == missing or module_name.startswith(missing + ".")):
        hint = f"pip install --force-reinstall '{dist_name}'" if dist_name else "reinstall the package providing it"
        return ConfigError(f"backend {name!r} is registered but its module {missing} is missing", hint=hint)
    top = missing.split(".")[0]
    hint = install_hint(top, dist) or f"pip install {top}"
    return ConfigError(f"backend {name!r} needs the Python package {top!r}", hint=hint)


_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*\(?([^;)]*)\)?\s*(?:;(.*))?$")
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_hint(module: str, dist) -> str | None:
    """`pip install ...` for a missing top-level module, from the distribution's Requires-Dist.

    The requirement whose name matches the module (PEP 503 normalised) gives the hint, with its
    version specifier; one under an extra (`; extra == "x"`) gives `pip install 'dist[x]'`.
    """
    if dist is None:
        return None
    for requirement in dist.requires or []:
        match = _REQUIREMENT.match(requirement)
        if not match or _canonical(match.group(1)) != _canonical(module):
            continue
        extra = _EXTRA.search(match.group(4) or "")
        if extra:
            return f"pip install '{dist.metadata['Name']}[{extra.group(1)}]'"
        return f"pip install '{match.group(1)}{match.group(2) or ''}{match.group(3).strip()}'"
    return None


def available_backends() -> list[str]:
    return sorted({*_registered, *_own_entry_points(), *_third_party_entry_points()})


def open_backend(profile):
    """Instantiate the profile's backend (no network access happens here)."""
    cls = load_backend_class(profile.backend)
    return cls(profile)


# -- settings ---------------------------------------------------------------------------------


def _with_shared(declared: dict | None) -> dict | None:
    from .config import SHARED_SETTINGS

    return None if declared is None else {**SHARED_SETTINGS, **declared}


def _builtin_settings_module(name: str) -> str | None:
    if name in _registered:
        return None
    target = _own_entry_points().get(name)
    return _BUILTIN_SETTINGS_MODULES.get(target.partition(":")[0].strip()) if target else None


def backend_settings(name: str) -> dict | None:
    """Every setting a profile of backend NAME may hold (shared ones included), or None when the
    backend declares none (a backend written before settings were declared: keys not checked).

    A built-in backend's declaration is read without importing the backend; a third-party one's
    by loading its class (ConfigError with the install hint when it cannot load).
    """
    module = _builtin_settings_module(name)
    if module is not None:
        return _with_shared(importlib.import_module(module).SETTINGS)
    return _with_shared(getattr(load_backend_class(name), "settings", None))


def cheap_backend_settings(name: str) -> dict | None:
    """backend_settings without importing anything heavy: None for a third-party backend whose
    module is not imported yet (or that declares nothing), and for an unknown one."""
    module = _builtin_settings_module(name)
    if module is not None:
        return _with_shared(importlib.import_module(module).SETTINGS)
    if name in _registered:
        return _with_shared(getattr(_registered[name], "settings", None))
    ep_value = _third_party_entry_points().get(name) if name not in _own_entry_points() else None
    if ep_value is None or ep_value.partition(":")[0].strip() not in sys.modules:
        return None
    try:
        return _with_shared(getattr(load_backend_class(name), "settings", None))
    except ConfigError:
        return None


# -- what `tixcli backends` shows -------------------------------------------------------------


@dataclass
class BackendInfo:
    name: str
    target: str
    source: str  # "built-in", "entry point" or "registered"
    distribution: str | None = None
    version: str | None = None
    loads: bool = False
    error: str | None = None
    hint: str | None = None
    capabilities: list[str] = field(default_factory=list)
    max_comment_chars: int | None = None
    settings: dict[str, Any] | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def describe_backends() -> list[BackendInfo]:
    """Every backend that is installed or registered, whether it loads, and what it supports."""
    own = _own_entry_points()
    third = _third_party()
    infos = []
    for name in available_backends():
        if name in _registered:
            info = BackendInfo(name, find_backend(name), "registered")
        elif name in own:
            info = BackendInfo(name, own[name], "built-in", BUILTIN_DISTRIBUTION, __version__)
        else:
            ep = third[name]
            dist = getattr(ep, "dist", None)
            meta = dist.metadata if dist is not None else None
            info = BackendInfo(
                name, ep.value, "entry point", meta["Name"] if meta else None, meta["Version"] if meta else None
            )
        _describe_class(info)
        infos.append(info)
    return infos


def _describe_class(info: BackendInfo) -> None:
    from tixcli.backends.base import Backend

    try:
        cls = load_backend_class(info.name)
    except ConfigError as exc:
        info.error, info.hint = str(exc), exc.hint
        return
    except Exception as exc:  # a third-party module that fails on import: shown, never fatal here
        info.error = f"importing it fails: {type(exc).__name__}: {exc}"[:300]
        return
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        info.error = f"{info.target} is not a tixcli.backends.base.Backend subclass"
        return
    info.loads = True
    info.capabilities = sorted(str(c) for c in cls.capabilities)
    info.max_comment_chars = int(cls.max_comment_chars)
    declared = _with_shared(getattr(cls, "settings", None))
    if declared is not None:
        info.settings = {
            key: {"type": s.type_name, "default": s.default, "help": s.help} for key, s in declared.items()
        }
