"""Every command's examples, in one place: `attach` hangs them on the commands after they are
registered (as their epilog, which `--help` shows as an "Examples:" section, lines as written).

Each example is (what it does, the command line). tests/test_help_and_errors.py parses every
`tixcli ...` line with the real command line, so an example cannot name an option that is gone.
"""

from __future__ import annotations

import typer

Example = tuple[str, str]

GROUP: tuple[Example, ...] = (
    ("my active tickets", "tixcli list"),
    ("a ticket and its thread", "tixcli show 42"),
    ("answer, and wait for the requester", 'tixcli reply 42 --body "Fixed in 2.3, can you confirm?" --status pending'),
    ("complete commands, options, values and ids (bash; also zsh, fish)", 'eval "$(tixcli --show-completion bash)"'),
)

EXAMPLES: dict[str, tuple[Example, ...]] = {
    "create": (
        ("open a ticket: its id is printed", 'tixcli create -s "Printer on fire" --body "3rd floor, since 9am"'),
        ("write the subject and the text in your editor", "tixcli create -e --type incident --priority high"),
        (
            "an incident from a log, one ticket however often the job fails",
            'ID=$(tixcli create -s "Nightly build failed" -F build.log --type incident --dedupe-key nightly)',
        ),
    ),
    "list": (
        ("my active tickets (new, open, pending, hold)", "tixcli list"),
        (
            "everyone's open and pending incidents, most urgent first",
            "tixcli list --all --status open,pending --type incident --sort priority",
        ),
        ("the ids of a week's tickets, for a script", "tixcli list --all --since 7d --format json | jq -r '.[].id'"),
    ),
    "escalate": (
        (
            "escalate to engineering, with an estimated date",
            'tixcli escalate 42 --reason "data loss on db2" --eta 2026-12-24',
        ),
        ("move the escalation on (the last stage closes it)", "tixcli escalate 42 --stage engineering"),
    ),
    "rate": (
        ("the requester's verdict once it is solved", 'tixcli rate 42 good --comment "fixed within the hour"'),
        ("a score where the backend takes numbers", "tixcli rate 42 5"),
    ),
    "history": (
        ("every change to a ticket, oldest first", "tixcli history 42"),
        ("who changed what, for a script", "tixcli history 42 --format jsonl"),
    ),
    "show": (
        ("a ticket with its comments, attachments and CCs", "tixcli show 42"),
        ("as JSON (its schema: tixcli schema)", "tixcli show 42 --format json"),
    ),
    "edit": (
        ("raise the priority and take it", "tixcli edit 42 --priority urgent --assignee me@example.com"),
        ("retitle and retag", 'tixcli edit 42 --subject "VPN drops every hour" --add-tag vpn --remove-tag triage'),
    ),
    "reply": (
        ("answer, and wait for the requester", 'tixcli reply 42 --body "Fixed in 2.3, confirm?" --status pending'),
        ("an internal note from a file", "tixcli reply 42 --internal --body-file notes.md"),
        ("write the reply in your editor", "tixcli reply 42 -e"),
    ),
    "attach": (
        ("two files in one comment", "tixcli attach 42 build.log screenshot.png"),
        ("with a text", 'tixcli attach 42 trace.txt --body "the trace from this morning"'),
    ),
    "solve": (
        ("solved, with a last word", 'tixcli solve 42 --body "Fixed in 2.3"'),
        ("in CI: solve this job's ticket once it passes again", "tixcli solve --ci --dedupe-key auto"),
    ),
    "close": (("close for good (no more replies)", "tixcli close 42"),),
    "reopen": (("back to open, saying why", 'tixcli reopen 42 --body "Still failing on arm64"'),),
    "cc": (
        ("who is copied, one email a line", "tixcli cc 42"),
        ("copy one, drop another", "tixcli cc 42 --add lead@example.com --remove old@example.com"),
    ),
    "download": (
        ("every attachment into a folder", "tixcli download 42 --dir attachments"),
        ("one attachment (its id: tixcli show 42) to a file", "tixcli download 42 7 -o report.pdf"),
    ),
    "export": (
        ("every ticket with its comments, a JSON line each", "tixcli export > tickets.jsonl"),
        ("for a spreadsheet", "tixcli export --format csv -o tickets.csv"),
        ("nightly, only what changed since the last run", "tixcli export --state export.state -o tonight.jsonl -q"),
    ),
    "schema": (
        ("the JSON Schema of show --format json", "tixcli schema"),
        ("every schema there is", "tixcli schema --list"),
    ),
    "backends": (
        ("what is installed, and what each can do", "tixcli backends"),
        ("with each backend's settings", "tixcli backends --format json"),
    ),
}


def epilog(examples: tuple[Example, ...]) -> str:
    return "\n".join(f"# {what}\n$ {line}" for what, line in examples)


def attach(app: typer.Typer) -> None:
    """Give each registered command its examples and tixcli's help (arguments' help, examples)."""
    from typer.core import TyperCommand

    from .app import TixCommand

    app.info.epilog = epilog(GROUP)
    for info in app.registered_commands:
        name = info.name or (info.callback.__name__.lower().replace("_", "-") if info.callback else "")
        examples = EXAMPLES.get(name)
        if examples and not info.epilog:
            info.epilog = epilog(examples)
        if info.cls in (None, TyperCommand):  # (app.command() fills in TyperCommand)
            info.cls = TixCommand
