"""The Typer application, its global options and the state every command shares."""

import inspect
import re
import sys
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast, overload

import click
import typer
from typer.core import TyperCommand, TyperGroup

from tixcli import __version__
from tixcli import completion as completing
from tixcli.config import Profile, load_config
from tixcli.errors import InvalidInputError, NotFoundError
from tixcli.model import CHANNELS
from tixcli.output import READ_FORMATS, WRITE_FORMATS, clean

if TYPE_CHECKING:
    from tixcli.ci import CIContext
    from tixcli.model import Reply


# -- help: examples, arguments' help, completion scripts -------------------------------------


def format_examples(epilog: str | None, formatter: click.HelpFormatter) -> None:
    """The epilog (tixcli.cli.examples) as an "Examples:" section, its lines as written."""
    if not epilog:
        return
    formatter.write_paragraph()
    formatter.write_heading("Examples")
    formatter.indent()
    try:
        for line in inspect.cleandoc(epilog).splitlines():
            formatter.write(f"{'':>{formatter.current_indent}}{line}\n" if line.strip() else "\n")
    finally:
        formatter.dedent()


def restore_argument_help(command: click.Command) -> None:
    """Give the arguments back the help their declarations have: Typer 0.25 sets it before
    click 8.5's Argument (which takes a help of its own) resets it to None."""
    missing = [p for p in command.params if isinstance(p, click.Argument) and not getattr(p, "help", None)]
    if not missing or command.callback is None:
        return
    from typer.models import ArgumentInfo
    from typer.utils import get_params_from_function

    declared = get_params_from_function(command.callback)
    for param in missing:
        meta = declared.get(param.name or "")
        if meta is not None and isinstance(meta.default, ArgumentInfo) and meta.default.help:
            # click < 8.5's Argument declares no help attribute (Typer's subclass adds it)
            cast(Any, param).help = meta.default.help


class TixCommand(TyperCommand):
    """A command whose help shows its arguments' help and its examples (the epilog)."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        restore_argument_help(self)
        super().format_options(ctx, formatter)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_examples(self.epilog, formatter)


def _show_completion(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    print(completing.script(completing.chosen_shell(value, param)), end="")
    ctx.exit(0)


def _install_completion(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    shell = completing.chosen_shell(value, param)
    path, added = completing.install(shell)
    print(f"{shell} completion installed in {path}")
    for line in added:
        print(f"added to {line}")
    print("it takes effect in a new shell")
    ctx.exit(0)


class TixGroup(TyperGroup):
    """The `tixcli` group: its examples, and completion scripts in click's protocol (values,
    profiles and ticket ids complete; see tixcli.completion), not Typer's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, verb in (("--show-completion", "Print"), ("--install-completion", "Install")):
            self.params.append(
                click.Option(
                    [name],
                    metavar="[SHELL]",
                    is_flag=False,
                    flag_value="auto",
                    expose_value=False,
                    is_eager=True,
                    callback=_show_completion if verb == "Print" else _install_completion,
                    help=f"{verb} the completion script of bash, zsh or fish (default: this shell).",
                )
            )

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_examples(self.epilog, formatter)


app = typer.Typer(
    name="tixcli",
    cls=TixGroup,
    add_completion=False,  # TixGroup's own --show-completion and --install-completion
    no_args_is_help=True,
    # click 8.4+ suggests a close command name itself ("Did you mean 'list'?"): Typer must not
    # add the same suggestion again.
    suggest_commands=not hasattr(click.exceptions, "NoSuchCommand"),
    # A pretty traceback would print local variables, and with them tokens.
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class State:
    """Global options, and the profile and backend loaded only when a command needs them."""

    def __init__(self, config_path: str | None, profile_name: str | None, debug: bool) -> None:
        self.config_path = config_path
        self.profile_name = profile_name
        self.debug = debug
        self._profile: Profile | None = None
        self._backend = None

    @property
    def profile(self) -> Profile:
        if self._profile is None:
            self._profile = load_config(self.config_path).profile(self.profile_name)
        return self._profile

    @property
    def backend(self):
        if self._backend is None:
            from tixcli.registry import open_backend

            self._backend = open_backend(self.profile)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.shutdown()


def get_state(ctx: typer.Context) -> State:
    state = ctx.find_object(State)
    if state is None:  # a command invoked on its own (library use)
        state = State(None, None, False)
        ctx.obj = state
    return state


def _version(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:  # (a Tab after --version prints nothing)
        print(f"tixcli {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            envvar="TIXCLI_PROFILE",
            help="Profile from the config file.",
            click_type=completing.PROFILE,
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", envvar="TIXCLI_CONFIG", help="Config file to use.", click_type=completing.FILE),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="TIXCLI_DEBUG", help="Diagnostics and tracebacks on stderr (never secrets)."),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Support tickets from the shell: one set of commands for SQLite, Zendesk and JSM."""
    state = State(config, profile, debug)
    ctx.obj = state
    ctx.call_on_close(state.close)
    if debug:
        import logging

        from tixcli.secrets import redact

        class RedactingFormatter(logging.Formatter):
            def format(self, record: logging.LogRecord) -> str:
                return redact(clean(redact(super().format(record))))

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(RedactingFormatter("debug: %(name)s: %(message)s"))
        root = logging.getLogger("tixcli")
        root.handlers[:] = [handler]
        root.setLevel(logging.DEBUG)


# -- options shared by several commands ------------------------------------------------------

# Every ticket id any backend uses (SQLite and Zendesk numbers, JSM keys like SUP-12), in ASCII
# only: `\d` would take other scripts' digits (Arabic-Indic "١" is int() 1). Backends check more.
_TICKET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)


def check_ticket_id(ctx: click.Context, value: str) -> str:
    """The one core check of every ID argument: anything else is no ticket (exit 4)."""
    if ctx.resilient_parsing or value is None or _TICKET_ID.fullmatch(value):
        return value
    shown = ascii(value if len(value) <= 70 else value[:70] + "...")
    raise NotFoundError(
        f"ticket {shown} not found", hint="a ticket id is ASCII letters, digits, '-' and '_' (at most 64)"
    )


TicketId = Annotated[
    str,
    typer.Argument(metavar="ID", help="The ticket's id.", callback=check_ticket_id, click_type=completing.TICKET_ID),
]
PriorityOption = Annotated[
    str | None,
    typer.Option("--priority", help="The priority (or P1..P4).", click_type=completing.PRIORITY, show_default=False),
]
TypeOption = Annotated[
    str | None,
    typer.Option("--type", "-t", help="The kind of ticket.", click_type=completing.TICKET_TYPE, show_default=False),
]
FieldOption = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        metavar="NAME=VALUE",
        help="A custom field (repeatable; NAME= clears it): names as the profile maps them, any on the local store.",
        show_default=False,
    ),
]
ChannelOption = Annotated[
    str | None,
    typer.Option(
        "--channel",
        help="How the ticket came in: " + ", ".join(CHANNELS) + ".",
        click_type=completing.choices(CHANNELS),
        show_default=False,
    ),
]
CsvRawOption = Annotated[
    bool,
    typer.Option(
        "--csv-raw",
        envvar="TIXCLI_CSV_RAW",
        help="CSV cells as they are: no ' before a cell a spreadsheet would run as a formula ($TIXCLI_CSV_RAW=1).",
    ),
]


def read_format_option(help_text: str = "Output format (default: table).") -> object:
    return typer.Option(
        "--format",
        "-f",
        envvar="TIXCLI_FORMAT",
        help=help_text,
        show_default=False,
        click_type=completing.READ_FORMAT,
    )


def check_read_format(value: str | None) -> str:
    fmt = (value or "table").lower()
    if fmt not in READ_FORMATS:
        raise InvalidInputError(f"unknown format {value!r}", hint="use one of: " + " ".join(READ_FORMATS))
    return fmt


def check_write_format(value: str | None) -> str | None:
    """Write commands print the resulting ticket only when --format is given explicitly."""
    if value is None:
        return None
    fmt = value.lower()
    if fmt not in WRITE_FORMATS:
        raise InvalidInputError(f"unknown format {value!r}", hint="use one of: " + " ".join(WRITE_FORMATS))
    return fmt


WriteFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="Print the resulting ticket in this format.",
        show_default=False,
        click_type=completing.WRITE_FORMAT,
    ),
]
BodyOption = Annotated[str | None, typer.Option("--body", "-b", help="The text.", show_default=False)]
BodyFileOption = Annotated[
    str | None,
    typer.Option(
        "--body-file",
        "-F",
        help="Read the text from a file, or - for stdin.",
        show_default=False,
        click_type=completing.FILE,
    ),
]
AttachOption = Annotated[
    list[str] | None,
    typer.Option("--attach", "-a", help="Attach a file (repeatable).", show_default=False, click_type=completing.FILE),
]
CcOption = Annotated[
    list[str] | None, typer.Option("--cc", help="Add a CC participant (repeatable).", show_default=False)
]
InternalOption = Annotated[
    bool, typer.Option("--internal", help="The comment is an internal note (only agents see it).")
]


def build_comment(
    state: "State",
    body: str | None,
    body_file: str | None,
    internal: bool = False,
    attach: list[str] | None = None,
    cc: list[str] | None = None,
    status: str | None = None,
    required: bool = True,
    generated: "list[tuple[str, bytes]] | None" = None,
    context: "CIContext | None" = None,
    fallback: str = "",
) -> "Reply | None":
    """The comment that --body/--body-file, --internal, --attach and --cc describe (reply, solve,
    close, reopen), checked before anything is sent; None when none is given and none `required`.

    Files without a text get "Attached: NAMES" (as `attach`); --internal or --cc without a comment
    is refused (exit 6) rather than ignored. `generated` files (--attach-log, --attach-stdin) join
    --attach; a CI `context` (--ci) adds its block under the text (`fallback` when there is none).
    """
    from tixcli.attachments import prepare_uploads
    from tixcli.model import Reply, validate_emails

    profile = state.profile
    text = read_body(body, body_file, required=required, state=state)
    emails = validate_emails(cc or [])
    uploads = prepare_uploads(attach or [], profile.attachment_limits(), generated or [])
    if context is not None:
        from .ci_options import with_context

        text = with_context(text, context, fallback)
    if text is None and uploads:
        text = "Attached: " + ", ".join(u.filename for u in uploads)
    if text is None:
        if internal or emails:
            raise InvalidInputError(
                f"{'--internal' if internal else '--cc'} goes with a comment",
                hint="add --body TEXT or --body-file PATH",
            )
        return None
    return Reply(body=text, author=profile.user, public=not internal, status=status, cc=emails, attachments=uploads)


@overload
def read_body(
    body: str | None, body_file: str | None, required: Literal[True] = True, state: "State | None" = None
) -> str: ...
@overload
def read_body(
    body: str | None, body_file: str | None, required: bool = True, state: "State | None" = None
) -> str | None: ...
def read_body(
    body: str | None, body_file: str | None, required: bool = True, state: "State | None" = None
) -> str | None:
    """The text of --body or --body-file (a path, or - for stdin), refused past the backend's limit.

    The limit is the profile's backend class's `max_comment_chars` (`state`, else the running
    command's); a file or stream is read at most that many characters of UTF-8 plus one byte, so
    `--body-file /dev/zero` or an endless stdin ends in exit 6, not in memory exhaustion.
    """
    if body is not None and body_file is not None:
        raise InvalidInputError("give --body or --body-file, not both")
    if body is None and body_file is None:
        if required:
            raise InvalidInputError("a body is required: --body TEXT or --body-file PATH")
        return None
    if state is None:
        import click

        ctx = click.get_current_context(silent=True)
        state = ctx.find_object(State) if ctx is not None else None
    if state is not None:
        backend = state.backend  # constructed without any network access
        limit, where = int(backend.max_comment_chars), f"a {backend.name} comment"
    else:  # library use outside a command
        from tixcli.backends.base import Backend

        limit, where = Backend.max_comment_chars, "a comment"
    too_long = f"the body is longer than {limit:,} characters, the most {where} takes"
    if body_file is not None:
        most = limit * 4 + 1  # UTF-8 takes at most 4 bytes a character: more bytes, too many characters
        try:
            if body_file == "-":
                raw = sys.stdin.buffer.read(most)
            else:
                with open(body_file, "rb") as fh:
                    raw = fh.read(most)
        except OSError as exc:
            raise InvalidInputError(f"cannot read {body_file}: {exc.strerror}") from None
        if len(raw) >= most:
            raise InvalidInputError(too_long, hint="attach it as a file instead: --attach FILE")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"{body_file}: the text is not valid UTF-8") from None
    assert body is not None  # --body, or else --body-file was read into it
    if len(body) > limit:
        raise InvalidInputError(too_long, hint="attach it as a file instead: --attach FILE")
    return check_text(body, "body")


def check_text(value: str, what: str) -> str:
    if "\x00" in value:
        raise InvalidInputError(f"the {what} contains a NUL byte")
    check_utf8(value, what)
    if not value.strip():
        raise InvalidInputError(f"the {what} is empty")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_utf8(value: str, what: str) -> str:
    """An argument that was not UTF-8 (Python keeps its bytes as lone surrogates) is refused."""
    if _SURROGATE.search(value):
        raise InvalidInputError(f"the {what} is not valid UTF-8")
    return value
