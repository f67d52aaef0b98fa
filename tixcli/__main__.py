"""Entry point: the one place where errors become messages and exit codes."""

from __future__ import annotations

import os
import sys

from tixcli.errors import ExitStatus, TixError


def main(argv: list[str] | None = None) -> int:
    """Run tixcli; returns (and with sys.exit, exits with) the exit status."""
    args = sys.argv[1:] if argv is None else argv
    instruction = os.environ.get("_TIXCLI_COMPLETE")
    if instruction:  # a shell asking for completions (tixcli.completion), not a command
        from tixcli.completion import respond

        answered = respond(instruction)
        if answered is not None:
            return _exit(answered, argv)
    if args == ["--version"]:  # the fastest path: no CLI framework needed
        from tixcli import __version__

        print(f"tixcli {__version__}")
        return _exit(ExitStatus.OK, argv)
    if argv is None and "tixcli.cli" not in sys.modules:  # the console script: one command a process
        from tixcli import startup

        startup.COMMAND = startup.command_in(args)  # before the CLI is imported: only its module
    return _exit(run(args), argv)


def _exit(status: int, argv: list[str] | None) -> int:
    if argv is None:
        sys.exit(int(status))
    return int(status)


def run(args: list[str]) -> int:
    import click

    from tixcli.cli import app
    from tixcli.output import clean
    from tixcli.secrets import redact

    def say(text: str, one_line: bool = True) -> None:
        """Text on stderr, cleaned like ticket text (errors and hints carry what services sent:
        a 422 description can hold escape sequences), secrets redacted before and after."""
        print(redact(clean(redact(text), one_line=one_line)), file=sys.stderr)

    debug = "--debug" in args or os.environ.get("TIXCLI_DEBUG", "").lower() in ("1", "true", "yes")
    try:
        result = app(args=args, prog_name="tixcli", standalone_mode=False)
        return result if isinstance(result, int) else ExitStatus.OK
    except TixError as err:
        if debug:
            _print_traceback(say)
        say(f"error: {err.message}")
        if err.hint:
            say(f"hint: {err.hint}")
        return err.exit_status
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:  # exit 2, in tixcli's style: the message, and where help is
        if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):  # bare `tixcli`: the help
            say(exc.format_message().rstrip("\n"), one_line=False)
            return exc.exit_code
        say(f"error: {_usage_message(exc)}")
        say(f"hint: try '{_command_path(exc, args)} --help'")
        return exc.exit_code
    except click.ClickException as exc:
        say(f"error: {_usage_message(exc)}")
        return exc.exit_code
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `tixcli export | head`: the reader left; not an error worth a traceback.
        _silence_stdout()
        return ExitStatus.OK
    except Exception as exc:  # a bug: say so in one line, the traceback only with --debug
        if debug:
            _print_traceback(say)
        say(f"error: unexpected {type(exc).__name__}: {exc}")
        print("hint: run with --debug for details, and report it", file=sys.stderr)
        return ExitStatus.ERROR


def _usage_message(exc) -> str:
    """Click's message in tixcli's style: "missing argument 'ID'", not "Missing argument 'ID'."."""
    text = " ".join(exc.format_message().split())
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


def _command_path(exc, args: list[str]) -> str:
    """`tixcli COMMAND` of the command the error is about (the parser does not always say)."""
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        return ctx.command_path
    import typer.main

    from tixcli.cli import app
    from tixcli.cli.commands import load_all

    load_all()

    commands = getattr(typer.main.get_command(app), "commands", {})
    named = next((arg for arg in args if arg in commands), None)
    return f"tixcli {named}" if named else "tixcli"


def _print_traceback(say) -> None:
    import traceback

    say(traceback.format_exc().rstrip("\n"), one_line=False)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


if __name__ == "__main__":
    main()
