"""The contract as a third party meets it: tixcli.testing.BackendContract outside tixcli's tests.

The README's example backend (extracted from its Development section, so it cannot rot) must
pass; variants of it that each break one promise — drop tags, ignore the sort, leave updated_at
behind, accept what they do not declare... — must fail, on the tests that say so. Each run is a
fresh pytest session (pytester) with nothing of tixcli's own test suite.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).parent.parent / "README.md"


def readme_example() -> str:
    """The python block of README.md's Development section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Development\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```$", section, flags=re.S | re.M)
    assert len(blocks) == 1, "the Development section has one python example"
    return blocks[0]


def outcomes(result) -> dict[str, dict[str, str]]:
    """{test class: {test name: outcome}} of a pytester run."""
    found: dict[str, dict[str, str]] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):
        if report.when == "call" or report.outcome != "passed":
            _, cls, name = report.nodeid.split("::")
            tests = found.setdefault(cls, {})
            if tests.get(name) in (None, "passed"):
                tests[name] = report.outcome
    return found


def test_the_readme_example_passes_the_contract(pytester):
    pytester.makepyfile(test_memory=readme_example())
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    tests = outcomes(result)["TestMemoryBackend"]
    assert {name for name, outcome in tests.items() if outcome == "failed"} == set()
    skipped = [name for name, outcome in tests.items() if outcome == "skipped"]
    # only optional capabilities are skipped (the example declares none), never the core
    result.stdout.fnmatch_lines(["*does not declare 'internal_notes'*", "*does not declare 'export_cursor'*"])
    assert "test_undeclared_capabilities_are_refused_before_anything_is_sent" in tests
    assert tests["test_undeclared_capabilities_are_refused_before_anything_is_sent"] == "passed"
    stated = re.search(r"so (\d+) of the contract's tests are skipped", README.read_text(encoding="utf-8"))
    assert stated and int(stated.group(1)) == len(skipped), "README states how many tests the example skips"


# Each variant: a MemoryBackend subclass that breaks one promise, and contract tests that must fail.
BROKEN = {
    "DropsTags": (
        """
    def create_ticket(self, new):
        new.tags = []
        return super().create_ticket(new)
""",
        {
            "test_every_field_round_trips_through_create_get_list_and_export",
            "test_tags_and_group_are_kept_through_create_reply_and_list",
        },
    ),
    "DropsTheDescription": (
        """
    def create_ticket(self, new):
        ticket = super().create_ticket(new)
        self.tickets[ticket.id].description = None
        return self.get(ticket.id)
""",
        {
            "test_create_then_get_returns_the_normalised_ticket",
            "test_every_field_round_trips_through_create_get_list_and_export",
        },
    ),
    "KeepsPriorityAsTyped": (
        """
    def create_ticket(self, new):
        new.priority = new.priority and new.priority.upper()
        return super().create_ticket(new)
""",
        {
            "test_ticket_json_has_every_field_and_matches_the_published_schema",
            "test_every_priority_and_type_round_trips",
        },
    ),
    "MakesMeTheRequester": (
        """
    def create_ticket(self, new):
        new.requester = self.profile.user
        return super().create_ticket(new)
""",
        {
            "test_list_mine_shows_only_my_tickets_and_all_shows_everyones",
            "test_every_field_round_trips_through_create_get_list_and_export",
        },
    ),
    "IgnoresTheSort": (
        """
    def query(self, q):
        return sorted(super().query(q), key=lambda t: int(t.id))
""",
        {
            "test_list_limit_and_sort_created",
            "test_list_sort_updated_puts_the_latest_change_first",
            "test_list_sort_priority_puts_the_most_urgent_first",
        },
    ),
    "SortsUpdatedByCreation": (
        """
    def query(self, q):
        import dataclasses
        return super().query(dataclasses.replace(q, sort="created") if q.sort == "updated" else q)
""",
        {"test_list_sort_updated_puts_the_latest_change_first", "test_list_since_filters_on_updated"},
    ),
    "IgnoresStatusAndPriority": (
        """
    def query(self, q):
        import dataclasses
        return super().query(dataclasses.replace(q, statuses=None, priority=None))
""",
        {"test_list_filters_by_status", "test_list_filters_by_type_and_priority"},
    ),
    "IgnoresSince": (
        """
    def query(self, q):
        import dataclasses
        return super().query(dataclasses.replace(q, since=None))

    def export(self, since=None, cursor=None):
        return super().export(None, cursor)
""",
        {
            "test_list_since_filters_on_updated",
            "test_export_since_filters_on_updated",
            "test_export_streams_every_ticket_with_comments",
        },
    ),
    "LeavesUpdatedAtOnSolveAndClose": (
        """
    def set_status(self, ticket_id, status, comment=None):
        before = self.tickets[ticket_id].updated_at
        ticket = super().set_status(ticket_id, status, comment)
        self.tickets[ticket_id].updated_at = before
        return self.get(ticket_id)
""",
        {"test_updated_at_moves_on_every_change[solve]", "test_updated_at_moves_on_every_change[close]"},
    ),
    "ExportsWithoutTheThread": (
        """
    def export(self, since=None, cursor=None):
        for item in super().export(since, cursor):
            item.ticket.comments = item.ticket.comments[:1]
            yield item
""",
        {"test_export_gives_each_ticket_exactly_as_show_does", "test_export_streams_every_ticket_with_comments"},
    ),
    "PostsInternalNotesPublicly": (  # declares no internal_notes, yet takes them silently
        """
    def _check_reply(self, reply):
        reply.public = True
""",
        {"test_undeclared_capabilities_are_refused_before_anything_is_sent"},
    ),
    "DropsWhatItCannotDo": (  # goes around the core's capability check and drops --group silently
        """
    def create(self, new):
        import dataclasses

        return super().create(dataclasses.replace(new, group=None))
""",
        {"test_undeclared_capabilities_are_refused_before_anything_is_sent"},
    ),
    "ClosedIsNotFinal": (
        """
    def state(self, ticket_id):
        from tixcli.backends.base import TicketState
        state = super().state(ticket_id)
        return TicketState("open" if state.status == "closed" else state.status, state.requester)
""",
        {"test_a_closed_ticket_is_final_but_still_readable", "test_solve_and_close_follow_the_lifecycle"},
    ),
}


def broken_variants() -> str:
    lines = ["import memdesk", "from tixcli.testing import BackendContract", ""]
    for name, (body, _) in BROKEN.items():
        lines += [f"class {name}(memdesk.MemoryBackend):{body}", ""]
        lines += [
            f"class Test{name}(memdesk.TestMemoryBackend):",
            "    def make_backend(self, tmp_path):",
            f"        return {name}(super().make_backend(tmp_path).profile)",
            "",
        ]
    return "\n".join(lines)


def test_a_backend_that_breaks_the_contract_fails_it(pytester):
    pytester.makepyfile(memdesk=readme_example(), test_broken=broken_variants())
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:cacheprovider")
    found = outcomes(result)
    for name, (_, must_fail) in BROKEN.items():
        failed = {test for test, outcome in found[f"Test{name}"].items() if outcome == "failed"}
        assert must_fail <= failed, f"{name}: {sorted(must_fail - failed)} passed"


def test_tixcli_never_imports_pytest_or_the_contract():
    code = (
        "import sys, tixcli.__main__, tixcli.cli.app, tixcli.backends.base, tixcli.backends.sqlite;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest') or m == 'tixcli.testing');"
        "print(','.join(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_contract_class_is_not_collected_as_a_test_of_its_own():
    import tixcli.testing

    assert not tixcli.testing.BackendContract.__name__.startswith("Test")
    with pytest.raises(NotImplementedError):
        tixcli.testing.BackendContract().make_backend(Path("."))
