"""`tixcli backends`: the installed backends, whether each loads, and what each supports."""

from typing import Annotated

import typer

from tixcli.completion import FORMAT_HELP, choices
from tixcli.errors import InvalidInputError
from tixcli.output import clean, dumps_json

from .app import app


@app.command()
def backends(
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="A table, or JSON (with each backend's settings).",
            click_type=choices(("table", "json"), FORMAT_HELP),
        ),
    ] = "table",
) -> None:
    """List every backend (built-in, installed plugins, registered): loads?, capabilities, limits."""
    fmt = fmt.lower()
    if fmt not in ("table", "json"):
        raise InvalidInputError(f"unknown format {fmt!r}", hint="use one of: table json")
    from tixcli.backends.base import CAPABILITIES
    from tixcli.registry import describe_backends

    infos = describe_backends()
    if fmt == "json":
        print(dumps_json({"backends": [info.to_dict() for info in infos], "capabilities": CAPABILITIES}))
        return
    from tabulate import tabulate

    rows = []
    for info in infos:
        if info.loads:
            status = "ok"
        else:
            status = "no: " + clean(info.error, one_line=True) + (f" ({clean(info.hint, True)})" if info.hint else "")
        source = info.source if info.source != "entry point" else f"{info.distribution} {info.version or ''}".strip()
        rows.append(
            [
                clean(info.name, one_line=True),
                clean(source, one_line=True),
                status,
                f"{info.max_comment_chars:,}" if info.max_comment_chars is not None else "-",
                " ".join(clean(c, one_line=True) for c in info.capabilities) or "-",
            ]
        )
    headers = ["NAME", "FROM", "LOADS", "MAX COMMENT", "CAPABILITIES"]
    print(tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True))
    print("\ncapabilities:")
    width = max(map(len, CAPABILITIES))
    for name, description in CAPABILITIES.items():
        print(f"  {name:<{width}}  {description}")
