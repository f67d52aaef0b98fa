"""Check recorded HTTP exchanges against the vendors' OpenAPI specs (openapi-core).

    checker = get_checker("zendesk")          # or "jsm"; built once per test session
    problems = checker.check_exchange(server.exchanges[0])
    checker.assert_conforms(server.exchanges, ignore=("unknown-operation",))

Each problem is a string (``"[kind] METHOD /path -> status: detail"``) with a ``kind``:

- ``unknown-operation``: the path or method is not in the spec (e.g. JSM calls to /rest/api/3);
- ``security``: the request's credentials are not of a scheme the spec (or the docs) accept;
- ``request``: a query/path parameter or the request body does not match the spec;
- ``response``: the response body or a declared header does not match the spec;
- ``undocumented-status``: a success status the operation does not declare, or an error status
  whose body does not look like the vendor's documented error shape.

The specs are not always what the live services do. Where the vendors' docs say otherwise, the
docs win: see each vendor's ``allowances`` (with the reason) and ``fixups`` below.

The specs are read from ``$TIXCLI_SPECS_DIR`` (default: ../shared/specs next to the repository).
Without them the tests that need a checker are skipped, or fail when ``$CI`` is set.
"""

from __future__ import annotations

import functools
import json
import os
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SPECS_DIR = REPO.parent / "shared" / "specs"

KINDS = ("unknown-operation", "security", "request", "response", "undocumented-status")


class Problem(str):
    """One conformance problem: the text, with its kind as an attribute for filtering."""

    kind: str

    def __new__(cls, kind: str, text: str) -> Problem:
        obj = super().__new__(cls, f"[{kind}] {text}")
        obj.kind = kind
        return obj


@dataclass(frozen=True)
class Allowance:
    """A known difference between a spec and the vendor's docs / live behaviour, accepted."""

    kind: str
    operation: str  # regex searched in "METHOD /spec/path/{param}"
    message: str  # regex searched in the problem's text
    why: str


@dataclass(frozen=True)
class Vendor:
    name: str
    filename: str
    path_suffix: str = ""  # stripped from request paths before matching (Zendesk's ".json")
    extra_auth_schemes: tuple[str, ...] = ()  # Authorization schemes the docs accept beyond the spec
    error_schema: dict | None = None  # the documented shape of error bodies the spec leaves out
    allowances: tuple[Allowance, ...] = ()
    fixups: tuple[Callable[[dict], None], ...] = ()


# -- spec fix-ups (applied to the loaded spec before openapi-core sees it) --
def relative_servers(spec: dict) -> None:
    """Match any host: the stand-ins run on 127.0.0.1, the spec names the vendor's host."""
    servers = spec.get("servers") or [{"url": "/"}]
    path = urlsplit(servers[0]["url"]).path.rstrip("/") or "/"
    spec["servers"] = [{"url": path}]


def deep_object_alternatives(spec: dict) -> None:
    """openapi-core cannot deserialize a deepObject parameter whose schema is a oneOf (Zendesk's
    DualPaginationPage: `page=2` or `page[size]=..`); keep the object alternative (cursor
    paging). A plain `page=N` is then not checked, but also not reported."""

    def fix(param: dict) -> None:
        schema = param.get("schema") or {}
        if param.get("style") == "deepObject" and "oneOf" in schema:
            objects = [s for s in schema["oneOf"] if s.get("type") == "object"]
            if objects:
                param["schema"] = objects[0]

    for param in (spec.get("components") or {}).get("parameters", {}).values():
        fix(param)
    for item in spec.get("paths", {}).values():  # path-level and operation-level parameters
        for holder in (item, *item.values()):
            for param in (holder.get("parameters") or []) if isinstance(holder, dict) else []:
                if "$ref" not in param:
                    fix(param)


def nullable_enums(spec: dict) -> None:
    """`nullable: true` with an `enum` that lacks null (Zendesk's ticket priority and type): the
    authors mean null is allowed, and the vendors send it; OpenAPI 3.0.3 asks for null in the
    enum, and openapi-core enforces that. Add it."""

    def walk(node) -> None:
        if isinstance(node, dict):
            if (
                node.get("nullable") is True
                and isinstance(node.get("enum"), list)
                and None not in node["enum"]
            ):
                node["enum"] = [*node["enum"], None]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec.get("components", {}))
    walk(spec.get("paths", {}))


GENERIC_FIXUPS = (relative_servers, deep_object_alternatives, nullable_enums)


def zendesk_ticket_metric_object(spec: dict) -> None:
    """Show Ticket Metrics answers {"ticket_metric": {...}} (docs' example, zenpy): the spec says
    an array. Correct it, so that the object is still checked."""
    schema = spec["components"]["schemas"].get("TicketMetricsByTicketMetricIdResponse")
    if schema:
        schema["properties"]["ticket_metric"] = {"$ref": "#/components/schemas/TicketMetricObject"}


ZENDESK = Vendor(
    name="zendesk",
    filename="zendesk-support-oas.yaml",
    path_suffix=".json",  # the docs and zenpy call /api/v2/tickets.json; the spec says /api/v2/tickets
    # OAuth access tokens ("Authorization: Bearer"), documented under "Security and
    # authentication"; the spec declares basic auth only.
    extra_auth_schemes=("bearer",),
    # developer.zendesk.com, "Response format": 4xx answers are JSON ("error" and usually
    # "description"/"details", or an "error" object with title/message), text/plain for some
    # (429 among them). The spec documents almost no error responses.
    error_schema={
        "type": "object",
        "properties": {
            "error": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}},
                ]
            },
            "description": {"type": "string"},
            "details": {"type": "object"},
        },
        "required": ["error"],
    },
    fixups=(zendesk_ticket_metric_object,),
    allowances=(
        Allowance(
            "response",
            r"^GET /api/v2/incremental/tickets",
            r"'deleted' is not one of",
            "Incremental ticket export docs: deleted tickets are returned with status 'deleted', which "
            "the spec's status enum lacks.",
        ),
        Allowance(
            "response",
            r" /api/v2/tickets(/\{ticket_id\})?$",
            r"audit\.events\.\d+\.value",
            "Ticket audits docs: a Create/Change event's value is a string, an array (tags, CCs) or null; "
            "the spec allows string or integer only.",
        ),
        Allowance(
            "response",
            r"^GET /api/v2/tickets/\{ticket_id\}/metrics$",
            r"ticket_metric\.\w+_at: None is not of type 'string'",
            "Ticket metrics: a time not reached yet (solved_at of an open ticket...) is null on live "
            "Zendesk; the spec's date-time strings are not nullable.",
        ),
    ),
)


def jsm_multipart_file_part(spec: dict) -> None:
    """attachTemporaryFile takes multipart/form-data with the file in a part named `file` (Atlassian
    docs, api-notes.md); the spec gives the body as one binary string, which no parsed multipart
    body matches. Describe the part instead, so that its name is checked."""
    path = spec["paths"].get("/rest/servicedeskapi/servicedesk/{serviceDeskId}/attachTemporaryFile", {})
    media = path.get("post", {}).get("requestBody", {}).get("content", {}).get("multipart/form-data")
    if media is not None:
        media["schema"] = {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }


JSM = Vendor(
    name="jsm",
    filename="jsm-servicedesk-cloud.openapi.json",
    # Atlassian Cloud takes OAuth 2.0 (3LO) access tokens as "Authorization: Bearer".
    extra_auth_schemes=("bearer",),
    fixups=(jsm_multipart_file_part,),
    # Jira's error bodies: {"errorMessage": ...} (Service Desk API) or {"errorMessages": [...],
    # "errors": {...}} (platform), for the statuses the spec leaves out.
    error_schema={
        "type": "object",
        "anyOf": [{"required": ["errorMessage"]}, {"required": ["errorMessages"]}, {"required": ["errors"]}],
    },
)

VENDORS = {v.name: v for v in (ZENDESK, JSM)}


# -- adapters from the stand-ins' recorded exchanges to openapi-core's protocols --
class _CoreRequest:
    def __init__(self, request, path: str) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = "http://" + request.headers.get("host", "127.0.0.1")
        self.path = path
        self.method = request.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict([(k, v) for k, vs in request.query.items() for v in vs]),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )
        self.body = request.body or None
        self.content_type = request.headers.get("content-type", "").lower()


class _CoreResponse:
    def __init__(self, response) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = response.status
        self.data = response.payload()
        self.content_type = response.content_type.lower() if self.data else ""
        self.headers = Headers([("Content-Type", response.content_type), *response.headers.items()])


def _schema_details(exc: BaseException) -> list[str]:
    """Readable details of an openapi-core error: 'json.path: message' per schema error."""
    from jsonschema.exceptions import best_match

    seen: BaseException | None = exc
    while seen is not None:
        errors = getattr(seen, "schema_errors", None)
        if errors:
            out = []
            for err in errors:
                leaf = best_match([err]) if err.context else err  # the likeliest branch of a oneOf
                where = ".".join(str(p) for p in leaf.absolute_path) or "<root>"
                message = leaf.message if len(leaf.message) < 300 else leaf.message[:300] + "..."
                out.append(f"{where}: {message}")
            return out
        seen = seen.__cause__
    cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
    return [f"{exc}{cause}"]


class SpecChecker:
    def __init__(self, vendor: Vendor, spec: dict) -> None:
        from openapi_core import Config, OpenAPI
        from openapi_core.templating.paths.finders import APICallPathFinder
        from openapi_core.validation.request.validators import (
            V30RequestBodyValidator,
            V30RequestParametersValidator,
            V30RequestSecurityValidator,
        )
        from openapi_core.validation.response.validators import V30ResponseValidator

        self.vendor = vendor
        for fixup in (*GENERIC_FIXUPS, *vendor.fixups):
            fixup(spec)
        self.spec = spec
        # spec_validator_cls=None: validating the whole spec is slow, and the vendors' specs do not
        # pass it (the JSM one has duplicate operation ids); it is not what we check here.
        self.app = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
        self._finder = APICallPathFinder(self.app.spec)
        self._security = V30RequestSecurityValidator(self.app.spec)
        self._parameters = V30RequestParametersValidator(self.app.spec)
        self._body = V30RequestBodyValidator(self.app.spec)
        self._response = V30ResponseValidator(self.app.spec)
        self._error_validator = None
        if vendor.error_schema is not None:
            from jsonschema import Draft7Validator

            self._error_validator = Draft7Validator(vendor.error_schema)

    # -- public API --
    def check_exchange(self, exchange) -> list[Problem]:
        """Problems with one recorded exchange (request, and response when there is one)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openapi-core warns about the oauth2 scheme it cannot check
            operation, problems = self._check(exchange)
        return [p for p in problems if not self._allowed(operation, p)]

    def problems(self, exchanges, ignore: Iterable[str] = ()) -> list[Problem]:
        exchanges = getattr(exchanges, "exchanges", exchanges)  # a server, or a list of exchanges
        ignore = set(ignore)
        return [p for ex in list(exchanges) for p in self.check_exchange(ex) if p.kind not in ignore]

    def assert_conforms(self, exchanges, ignore: Iterable[str] = ()) -> None:
        """Fail with every problem found in these exchanges (a server's, or a list)."""
        problems = self.problems(exchanges, ignore)
        if problems:
            shown = "\n  ".join(problems[:40])
            more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
            raise AssertionError(
                f"{len(problems)} {self.vendor.name} spec conformance problem(s):\n  {shown}{more}"
            )

    # -- internals --
    def _path(self, path: str) -> str:
        suffix = self.vendor.path_suffix
        return path[: -len(suffix)] if suffix and path.endswith(suffix) else path

    def _check(self, exchange) -> tuple[str, list[Problem]]:
        """The operation ("METHOD /spec/{template}") and the problems of one exchange."""
        from openapi_core.templating.paths.exceptions import PathError
        from openapi_core.templating.responses.exceptions import ResponseNotFound

        request = exchange.request
        core_request = _CoreRequest(request, self._path(request.path))
        status = exchange.response.status if exchange.response is not None else None
        where = f"{request.method} {request.path}" + (f" -> {status}" if status is not None else "")
        problems: list[Problem] = []
        try:
            found = self._finder.find(core_request.method, core_request.host_url + core_request.path)
        except PathError as exc:
            return "", [Problem("unknown-operation", f"{where}: {exc}")]
        operation = f"{request.method} {found.path_result.pattern}"
        for exc in self._security.iter_errors(core_request):
            scheme = request.headers.get("authorization", "").partition(" ")[0].lower()
            if scheme not in self.vendor.extra_auth_schemes:
                problems.append(Problem("security", f"{where}: {exc}"))
        for validator, kind in ((self._parameters, "request"), (self._body, "request")):
            for exc in validator.iter_errors(core_request):
                problems += [Problem(kind, f"{where}: {d}") for d in _schema_details(exc)]
        if exchange.response is None:  # a fault dropped the connection
            return operation, problems
        core_response = _CoreResponse(exchange.response)
        for exc in self._response.iter_errors(core_request, core_response):
            if isinstance(exc, ResponseNotFound):
                problems += self._undocumented(where, exchange.response)
            else:
                problems += [Problem("response", f"{where}: {d}") for d in _schema_details(exc)]
        return operation, problems

    def _undocumented(self, where: str, response) -> list[Problem]:
        """A status the operation does not declare: fine for an error in the documented shape."""
        status = response.status
        if status < 400 or self._error_validator is None:
            return [Problem("undocumented-status", f"{where}: status {status} is not in the spec")]
        kind = response.content_type.split(";")[0].strip().lower()
        if kind == "text/plain":
            # Both vendors document text/plain bodies for some errors (429 rate limits among them).
            return []
        try:
            body = json.loads(response.payload() or b"null")
        except ValueError:
            return [Problem("undocumented-status", f"{where}: the error body is not JSON")]
        problems = []
        for err in self._error_validator.iter_errors(body):
            at = ".".join(map(str, err.absolute_path)) or "<root>"
            problems.append(Problem("undocumented-status", f"{where}: error body {at}: {err.message}"))
        return problems

    def _allowed(self, operation: str, problem: Problem) -> bool:
        return any(
            a.kind == problem.kind and re.search(a.operation, operation) and re.search(a.message, problem)
            for a in self.vendor.allowances
        )


# -- loading --
def _load_yaml(path: Path) -> dict:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~5x faster on 1.6 MB

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    # Zendesk's spec has a bare `=` key (the YAML "value" tag, which safe_load refuses), and
    # unquoted dates in examples: keep both as plain strings.
    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
    Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
    with path.open("rb") as f:
        return yaml.load(f, Loader=Loader)  # noqa: S506 - a safe loader


def specs_dir() -> Path:
    return Path(os.environ.get("TIXCLI_SPECS_DIR") or DEFAULT_SPECS_DIR)


@functools.cache
def _build(vendor_name: str, path: str) -> SpecChecker:
    vendor = VENDORS[vendor_name]
    p = Path(path)
    spec = _load_yaml(p) if p.suffix in (".yaml", ".yml") else json.loads(p.read_text())
    return SpecChecker(vendor, spec)


def get_checker(vendor: str) -> SpecChecker:
    """The checker for "zendesk" or "jsm", built once per process (building takes a second)."""
    if vendor not in VENDORS:
        raise ValueError(f"unknown vendor {vendor!r}: one of {sorted(VENDORS)}")
    path = specs_dir() / VENDORS[vendor].filename
    if not path.is_file():
        reason = f"the {vendor} OpenAPI spec is missing: {path} (set TIXCLI_SPECS_DIR)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason, allow_module_level=True)
    return _build(vendor, str(path.resolve()))


__all__ = ["KINDS", "VENDORS", "Allowance", "Problem", "SpecChecker", "Vendor", "get_checker", "specs_dir"]
