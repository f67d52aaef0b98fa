"""Requests a full `tixcli export` sends, against the stand-ins, next to the least the pages allow.

    python bench/export_requests.py                 # 100, 1,000 and 5,000 tickets, 3 comments each
    python bench/export_requests.py --sizes 100 1000

Runs the real console script beside this interpreter over real HTTP to the Zendesk and JSM
stand-ins (tests/standins) on 127.0.0.1, and counts the requests each stand-in received. The
least possible is worked out from the page sizes:

  Zendesk, admin token:  ceil(T/1000) ticket pages + event_pages(E) + ceil(U/100) user lookups,
                         E = 3T ticket events (a create and two comments), U = 0 here;
                         event_pages(E) = 1 up to 1,000 events, else 1 + ceil((E - 1000) / 999)
                         (each page starts again in the second the previous one ended in)
  Zendesk, agent token:  ceil(T/1000) search-export pages + T comment reads (+1: the 403 that
                         says the token is an agent's)
  JSM:                   2 lookups (service desk, field list) + ceil(T/100) search/jql pages

and the time 100,000 such tickets take at the vendors' documented limits.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from standins.jsm import JSMStandIn  # noqa: E402
from standins.zendesk import ZendeskStandIn  # noqa: E402

TIXCLI = Path(sys.executable).with_name("tixcli")
COMMENTS = 3
ZENDESK_TOKEN, JSM_TOKEN = "zd-bench-token", "jsm-bench-token"
# Documented limits: Zendesk's incremental exports 10 requests a minute; its Support API 700 a
# minute on Enterprise, 200 on Team. Atlassian publishes no per-minute quota for API-token
# traffic (burst limits per endpoint): JSM is projected at one request a second.
LIMITS = {"zendesk-admin": 10, "zendesk-agent (Enterprise)": 700, "zendesk-agent (Team)": 200, "jsm": 60}


def event_pages(events: int) -> int:
    return 1 if events <= 1000 else 1 + math.ceil((events - 1000) / 999)


def least(kind: str, tickets: int) -> int:
    if kind == "zendesk-admin":
        return max(1, math.ceil(tickets / 1000)) + event_pages(COMMENTS * tickets)
    if kind == "zendesk-agent":
        return max(1, math.ceil(tickets / 1000)) + tickets
    return 2 + math.ceil(tickets / 100)


def export_requests(server, config: Path, env: dict[str, str]) -> int:
    before = server.count()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.jsonl"
        proc = subprocess.run(
            [str(TIXCLI), "--config", str(config), "export", "--quiet", "--output", str(out)],
            env={**os.environ, **env},
            capture_output=True,
            timeout=3600,
        )
        if proc.returncode != 0:
            raise SystemExit(f"export failed: {proc.stderr.decode(errors='replace')}")
        lines = sum(1 for _ in out.open("rb"))
    return server.count() - before, lines


def zendesk(sizes: list[int], tmp: Path) -> dict[str, dict[int, int]]:
    server = ZendeskStandIn(token=ZENDESK_TOKEN, admin=True).start()
    config = tmp / "zendesk.yaml"
    config.write_text(
        "default_profile: zd\nprofiles:\n  zd:\n    backend: zendesk\n"
        f"    url: {server.url}\n    email: {server.agent_email}\n    token_env: BENCH_ZENDESK_TOKEN\n"
        "    max_retry_wait: 2\n    export_retry_budget: 600\n"
    )
    found: dict[str, dict[int, int]] = {"zendesk-admin": {}, "zendesk-agent": {}}
    try:
        for n in sizes:
            for kind in found:
                server.reset()
                server.admin = kind == "zendesk-admin"
                base = int(server.now() - 7200) - COMMENTS * n
                ids = server.seed_tickets(n, created_at=lambda i, base=base: base + COMMENTS * i)
                server.seed_comments(ids, COMMENTS - 1, at=lambda i, j, base=base: base + COMMENTS * i + 1 + j)
                sent, lines = export_requests(server, config, {"BENCH_ZENDESK_TOKEN": ZENDESK_TOKEN})
                assert lines == n, (kind, n, lines)
                found[kind][n] = sent
    finally:
        server.stop()
    return found


def jsm(sizes: list[int], tmp: Path) -> dict[str, dict[int, int]]:
    import yaml

    server = JSMStandIn(email="agent@example.com", token=JSM_TOKEN, agent=True).start()
    config = tmp / "jsm.yaml"
    profile = {
        "backend": "jsm",
        "url": server.url,
        "email": "agent@example.com",
        "token_env": "BENCH_JSM_TOKEN",
        "service_desk": "1",
        "max_retry_wait": 2,
    }
    config.write_text(yaml.safe_dump({"default_profile": "jsm", "profiles": {"jsm": profile}}))
    found: dict[str, dict[int, int]] = {"jsm": {}}
    try:
        for n in sizes:
            server.reset()
            server.seed_requests(n, reporter="customer@example.com", comments=COMMENTS)
            sent, lines = export_requests(server, config, {"BENCH_JSM_TOKEN": JSM_TOKEN})
            assert lines == n, ("jsm", n, lines)
            found["jsm"][n] = sent
    finally:
        server.stop()
    return found


def hours(requests: int, per_minute: int) -> str:
    minutes = requests / per_minute
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measured = {**zendesk(args.sizes, Path(tmp)), **jsm(args.sizes, Path(tmp))}
    print(f"requests for a full export, {COMMENTS} comments a ticket (least possible in brackets)")
    print(f"{'tickets':>8}  " + "  ".join(f"{kind:>22}" for kind in measured))
    worst = 0.0
    for n in args.sizes:
        cells = []
        for kind, counts in measured.items():
            low = least(kind, n)
            worst = max(worst, counts[n] / low)
            cells.append(f"{counts[n]:>14,} ({low:>5,})")
        print(f"{n:>8,}  " + "  ".join(cells))
    print(f"worst ratio to the least: {worst:.3f} (target: within 1.10)")
    print("100,000 tickets at the documented limits:")
    for kind, per_minute in LIMITS.items():
        base = kind.split(" ")[0]
        sent = least(base, 100_000)
        print(f"  {kind:<28} {sent:>8,} requests at {per_minute}/min: {hours(sent, per_minute)}")


if __name__ == "__main__":
    main()
