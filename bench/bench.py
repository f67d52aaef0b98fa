"""tixcli's speed and memory targets, printed as ratios against a bare interpreter start.

    python bench/bench.py            # builds (once) and caches a 1,000,000-ticket store in bench/.cache/
    python bench/bench.py --tickets 100000 --runs 5
    python bench/bench.py --store FILE  # a store of your own (a copy: tixcli migrates it if it is older)

Run it with the virtualenv's interpreter (not a pyenv shim): the tixcli measured is the console
script beside that interpreter. Targets (from the issue):
  - `tixcli --version` and `tixcli list` on an empty store: within 6x a bare start
  - `list` and `list --search WORD` on the big store: within 6x a bare start (issue 14; 10x before);
    each search is printed with how many tickets it matches (the label says what it should)
  - `list --all --status any --limit 100000` on the big store, stdout not a terminal: under 50 MB
    peak memory in json, jsonl and csv (they stream), under 100 MB as a table (one string a row)
  - `export` of the big store with comments: under 10 s and under 50 MB peak memory
  - `export` of the big store to a file: within 1.2x the sqlite3 shell running the same SQL
    (EXPORT_SQL) to a file, with and without PYTHONUNBUFFERED=1 (skipped where no `sqlite3` is on
    PATH); write() calls of each counted from /proc/self/io where Linux keeps it

The big store is loaded at schema 1 and migrated by tixcli the first time it opens it (timed).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tixcli.backends.sqlite import COMMENT_JSON_SQL, EXPORT_SQL, _split_sql
from tixcli.backends.sqlite_schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

HERE = Path(__file__).resolve().parent
PYTHON = Path(sys.executable)
TIXCLI = PYTHON.with_name("tixcli")
WORDS = (
    "printer network timeout login password build deploy database disk memory crash slow error "
    "invoice refund upgrade license email calendar vpn firewall backup restore certificate expired "
    "dashboard report export import sync mobile android iphone browser cache cookie session token"
).split()
STATUSES = ["new", "open", "pending", "hold", "solved", "closed"]
STATUS_WEIGHTS = [5, 20, 10, 5, 20, 40]
PRIORITIES = ["low", "normal", "high", "urgent"]
RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
TYPES = ["question", "incident", "problem", "task"]


def rare_words(rng: random.Random, k: int) -> list[str]:
    """Product names, error codes, hosts: a long tail where each word is in few tickets (Zipf-like)."""
    return [f"{rng.choice(TAIL_PREFIXES)}{int(rng.paretovariate(1.1)) % 20000}" for _ in range(k)]


TAIL_PREFIXES = ["err", "host", "build", "sku", "invoice", "ver"]


def build_store(path: Path, tickets: int, comments_per_ticket: int = 3) -> None:
    """Bulk-load a store at tixcli's first schema (migration 1), then plain INSERTs; tixcli
    migrates it to the current schema when it first opens it (main() times that), as it would a
    store made by an older tixcli. (Loaded at the current schema, every INSERT would pay for the
    change-order triggers of migration 2.)"""
    rng = random.Random(42)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("BEGIN")
    for statement in _split_sql(MIGRATIONS[0]):
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    db.execute("COMMIT")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    comment_id = 0
    batch = 20_000
    for first in range(1, tickets + 1, batch):
        trows, crows, srows = [], [], []
        for tid in range(first, min(first + batch, tickets + 1)):
            created = start + timedelta(minutes=tid)
            updated = created + timedelta(hours=rng.randint(0, 400))
            status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
            priority = rng.choice(PRIORITIES)
            subject = " ".join(rng.choices(WORDS, k=4) + rare_words(rng, 1))
            body = " ".join(rng.choices(WORDS, k=16) + rare_words(rng, 4))
            requester = f"user{rng.randint(1, 5000)}@example.com"
            c_iso, u_iso = created.isoformat(timespec="seconds"), updated.isoformat(timespec="seconds")
            solved = u_iso if status in ("solved", "closed") else None
            trows.append(
                (
                    tid,
                    subject,
                    body,
                    status,
                    priority,
                    rng.choice(TYPES),
                    requester,
                    None,
                    None,
                    "[]",
                    None,
                    c_iso,
                    u_iso,
                    solved,
                    RANK[priority],
                )
            )
            texts = [body]
            for n in range(comments_per_ticket):
                comment_id += 1
                text = body if n == 0 else " ".join(rng.choices(WORDS, k=12) + rare_words(rng, 3))
                texts.append(text)
                crows.append((comment_id, tid, requester, text, 1, c_iso))
            srows.append((tid, subject + "\n" + "\n".join(texts)))
        db.executemany(
            "INSERT INTO tickets (id, subject, description, status, priority, type, requester, assignee, grp, tags, "
            "external_id, created_at, updated_at, solved_at, priority_rank) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            trows,
        )
        db.executemany(
            "INSERT INTO comments (id, ticket_id, author, body, public, created_at) VALUES (?,?,?,?,?,?)", crows
        )
        db.executemany("INSERT INTO ticket_search (rowid, text) VALUES (?,?)", srows)
        print(f"\r  loaded {min(first + batch - 1, tickets):,} tickets", end="", file=sys.stderr, flush=True)
    print("\n  building each comment's stored JSON", file=sys.stderr)
    db.execute(COMMENT_JSON_SQL)
    # A store in steady state has a recently solved ticket, not one overdue for the auto-close.
    db.execute(
        "UPDATE tickets SET solved_at = ? WHERE status = 'solved'",
        (datetime.now(timezone.utc).isoformat(timespec="seconds"),),
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    print(file=sys.stderr)


def run_once(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode()}")
    return elapsed


def timed(cmd: list[str], env: dict, runs: int, bare_cmd: list[str], bare_env: dict) -> tuple[float, float]:
    """Median wall times of CMD and of a bare interpreter start, run in turns (after a warm-up).

    Taking them in turns makes the ratio hold on a shared, noisy machine: both see the same load.
    """
    run_once(cmd, env)
    samples, bare = [], []
    for _ in range(runs):
        bare.append(run_once(bare_cmd, bare_env))
        samples.append(run_once(cmd, env))
    return statistics.median(samples), statistics.median(bare)


# Runs ARGV[2:] with stdout to the file ARGV[1] and prints its seconds, its peak RSS in KB (the
# reaped child's, from getrusage: the command's own, not this interpreter's) and its status.
CHILD_PEAK = (
    "import resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "with open(sys.argv[1], 'wb') as fh:\n"
    "    p = subprocess.run(sys.argv[2:], stdout=fh)\n"
    "dt = time.perf_counter() - t0\n"
    "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n"
)


def export_run(env: dict, mode: str) -> tuple[float, float, int]:
    """Seconds, peak RSS in MB and lines of one `tixcli export` in a child process.

    mode "stdout": `tixcli export > FILE`, the documented use; "output": `--output FILE`, which
    also fsyncs the file before renaming it into place; "null": stdout to /dev/null, the work
    without the disk (the JSONL of 1M tickets with comments is about 1.3 GB).
    """
    atomic = mode == "output"
    with tempfile.TemporaryDirectory(dir=HERE / ".cache") as tmp:
        out = Path(tmp) / "export.jsonl"
        target = Path(os.devnull) if mode == "null" else Path(tmp) / ("stdout.txt" if atomic else "export.jsonl")
        command = [str(TIXCLI), "export", *(["--output", str(out)] if atomic else [])]
        proc = subprocess.run(
            [str(PYTHON), "-c", CHILD_PEAK, str(target), *command], env=env, capture_output=True, text=True
        )
        seconds, maxrss_kb, rc = proc.stdout.split()
        if rc != "0":
            raise SystemExit(f"export failed: {proc.stderr}")
        if mode == "null":
            return float(seconds), int(maxrss_kb) / 1024, 0
        with out.open("rb") as fh:
            lines = sum(1 for _ in fh)
        return float(seconds), int(maxrss_kb) / 1024, lines


def list_run(env: dict, fmt: str, limit: int) -> tuple[float, float, int, int]:
    """Seconds, peak RSS in MB, lines and bytes of one `tixcli list --all --status any --limit N
    --format FMT > FILE` in a child process (stdout a file: not a terminal, as when piped)."""
    command = [str(TIXCLI), "list", "--all", "--status", "any", "--limit", str(limit), "--format", fmt]
    with tempfile.TemporaryDirectory(dir=HERE / ".cache") as tmp:
        out = Path(tmp) / f"list.{fmt}"
        proc = subprocess.run(
            [str(PYTHON), "-I", "-c", CHILD_PEAK, str(out), *command], env=env, capture_output=True, text=True
        )
        seconds, maxrss_kb, rc = proc.stdout.split()
        if rc != "0":
            raise SystemExit(f"list --format {fmt} failed: {proc.stderr}")
        with out.open("rb") as fh:
            lines = sum(1 for _ in fh)
        return float(seconds), int(maxrss_kb) / 1024, lines, out.stat().st_size


def search_matches(store: Path, words: str) -> int:
    """How many tickets `list --all --status any --search WORDS` matches (the store's own count,
    through the backend tixcli uses: the same words, the same index)."""
    from tixcli.backends.sqlite import SQLiteBackend
    from tixcli.config import Profile
    from tixcli.model import ListQuery

    backend = SQLiteBackend(Profile("bench", "sqlite", {"path": str(store)}))
    try:
        query = ListQuery(user="bench", scope="all", statuses=None, search=words, limit=1, count=True)
        with contextlib.redirect_stderr(io.StringIO()):  # (a store others can read is warned of)
            total = backend.list_tickets(query).total
        return int(total or 0)
    finally:
        backend.shutdown()


def schema_version(path: Path) -> int:
    db = sqlite3.connect(path)  # not mode=ro: a WAL store without its -shm file would not open so
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def migrate(path: Path, env: dict) -> None:
    """Open the store with tixcli's backend, which migrates it to the current schema: timed."""
    version = schema_version(path)
    if version >= SCHEMA_VERSION:
        return
    code = (
        "import sys, time\n"
        "from tixcli.backends.sqlite import SQLiteBackend\n"
        "from tixcli.config import Profile\n"
        "backend = SQLiteBackend(Profile('bench', 'sqlite', {'path': sys.argv[1]}))\n"
        "t0 = time.perf_counter()\n"
        "backend.db\n"
        "print(time.perf_counter() - t0)\n"
    )
    proc = subprocess.run([str(PYTHON), "-c", code, str(path)], env=env, capture_output=True, text=True, check=True)
    print(
        f"migrated the store from schema {version} to {SCHEMA_VERSION} in {float(proc.stdout):.2f} s",
        file=sys.stderr,
    )


# Runs CMD with stdout to a file and prints its seconds, its CPU seconds (steadier than the wall
# clock on a shared machine), the write() calls it made (Linux adds a reaped child's I/O counts to
# its parent's /proc/self/io; -1 where there is none) and its status.
TIMED_TO_FILE = """
import resource, subprocess, sys, time
def writes():
    try:
        with open('/proc/self/io') as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith('syscw:'))
    except (OSError, StopIteration, ValueError):
        return None
stdin = open(sys.argv[2], 'rb') if sys.argv[2] else None
before = writes()
t0 = time.perf_counter()
with open(sys.argv[1], 'wb') as fh:
    p = subprocess.run(sys.argv[3:], stdin=stdin, stdout=fh, stderr=subprocess.DEVNULL)
dt = time.perf_counter() - t0
after = writes()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
count = after - before if before is not None and after is not None else -1
print(dt, usage.ru_utime + usage.ru_stime, count, p.returncode)
"""


def export_vs_shell(store: Path, env: dict, runs: int) -> list[tuple[str, dict, dict]]:
    """`tixcli export > FILE` and `sqlite3 STORE < EXPORT_SQL > FILE`, in turns, with and without
    PYTHONUNBUFFERED=1: [(setting, tixcli, shell)], each {"s", "cpu_s" (medians of RUNS), "writes"}."""
    db = sqlite3.connect(store)
    (last,) = db.execute("SELECT coalesce(max(seq), 0) FROM ticket_changes").fetchone()
    db.close()
    rows = []
    with tempfile.TemporaryDirectory(dir=HERE / ".cache") as tmp:
        script = Path(tmp) / "export.sql"
        # the statement of a full export (a window from 0 to the last change, from the first ticket)
        script.write_text(f".parameter set :after 0\n.parameter set :lo 0\n.parameter set :hi {last}\n{EXPORT_SQL};\n")
        commands = {
            "tixcli": ([str(TIXCLI), "export"], ""),
            "shell": ([shutil.which("sqlite3") or "sqlite3", str(store)], str(script)),
        }
        for setting in ("unset", "1"):
            run_env = {k: v for k, v in env.items() if k != "PYTHONUNBUFFERED"}
            if setting == "1":
                run_env["PYTHONUNBUFFERED"] = "1"
            seconds: dict[str, list[float]] = {"tixcli": [], "shell": []}
            cpu: dict[str, list[float]] = {"tixcli": [], "shell": []}
            writes: dict[str, int] = {}
            sizes: dict[str, int] = {}
            for _ in range(runs):
                for name, (cmd, stdin) in commands.items():
                    out = Path(tmp) / f"{name}.jsonl"
                    proc = subprocess.run(
                        [str(PYTHON), "-c", TIMED_TO_FILE, str(out), stdin, *cmd],
                        env=run_env,
                        capture_output=True,
                        text=True,
                    )
                    dt, cpu_s, count, rc = proc.stdout.split()
                    if rc != "0":
                        raise SystemExit(f"{name} export failed: {proc.stderr}")
                    seconds[name].append(float(dt))
                    cpu[name].append(float(cpu_s))
                    writes[name] = int(count)
                    sizes[name] = out.stat().st_size
                    out.unlink()
            if sizes["tixcli"] != sizes["shell"]:
                raise SystemExit(
                    f"tixcli wrote {sizes['tixcli']:,} bytes, the shell {sizes['shell']:,}: not the same export"
                )
            figures = {
                name: {
                    "s": statistics.median(seconds[name]),
                    "cpu_s": statistics.median(cpu[name]),
                    "writes": writes[name],
                }
                for name in commands
            }
            rows.append((setting, figures["tixcli"], figures["shell"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9, help="timed runs per command (median)")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--export-runs", type=int, default=3, help="runs of each export against the shell (median)")
    parser.add_argument("--store", type=Path, help="bench this store instead of the cached one (not built)")
    args = parser.parse_args()
    if not TIXCLI.exists():
        raise SystemExit(f"no tixcli beside {PYTHON}: run with the virtualenv's python")

    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    big = args.store or cache / f"store-v4-{args.tickets}.db"  # v2: words with a long tail, as real tickets have
    if args.store is not None:
        if not big.exists():
            raise SystemExit(f"no store {big}")
    elif not big.exists():
        print(
            f"building a store of {args.tickets:,} tickets with {3 * args.tickets:,} comments (cached) ...",
            file=sys.stderr,
        )
        t0 = time.perf_counter()
        partial = big.with_suffix(".partial")
        for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
        build_store(partial, args.tickets)
        partial.rename(big)
        print(f"  built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    migrate(big, {k: v for k, v in os.environ.items() if not k.startswith("TIXCLI_")})

    # Measure tixcli as installed (bytecode compiled), even where PYTHONDONTWRITEBYTECODE is set.
    import tixcli
    import tixcli.backends

    for package in (tixcli, tixcli.backends):
        subprocess.run([str(PYTHON), "-m", "compileall", "-q", os.path.dirname(package.__file__)], check=True)

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("TIXCLI_")}
    with tempfile.TemporaryDirectory() as tmp:
        empty_env = {**base_env, "TIXCLI_DB": str(Path(tmp) / "empty.db"), "XDG_CONFIG_HOME": tmp}
        big_env = {**base_env, "TIXCLI_DB": str(big), "XDG_CONFIG_HOME": tmp, "TIXCLI_USER": "user42@example.com"}
        bare_cmd = [str(PYTHON), "-I", "-c", "pass"]

        def measure(env: dict, *args_: str) -> tuple[float, float]:
            return timed([str(TIXCLI), *args_], env, args.runs, bare_cmd, base_env)

        # label -> the words: what each figure searches for, and (printed) how many tickets it finds.
        # The store's words (build_store): 38 common ones, each in ~70% of the tickets, and a long
        # tail of product names, error codes and hosts ("err40": ~0.1%; "host" alone never occurs).
        searches = {
            "RARE-WORD": "err40",
            "3 WORDS (2 common, 1 rare)": "vpn printer err40",
            "COMMON-WORD": "certificate",
        }

        def search(words: str) -> tuple[float, float]:
            return measure(big_env, "list", "--all", "--status", "any", "--search", words)

        results = [
            ("tixcli --version", measure(empty_env, "--version"), 6, None),
            ("tixcli list (empty store)", measure(empty_env, "list"), 6, None),
            ("tixcli list --all (big store)", measure(big_env, "list", "--all"), 6, None),
            ("tixcli list (mine, big store)", measure(big_env, "list"), 6, None),
        ]
        for label, words in searches.items():
            results.append((f"list --all --search {label}", search(words), 6, words))
        bare = statistics.median(b for _, (_, b), _, _ in results)
        print(f"\nbare interpreter start (python -I -c pass): {bare * 1000:.1f} ms   [store: {big.name}]\n")
        print(f"{'command':52} {'median':>9} {'bare':>8} {'ratio':>7} {'target':>7}  ok")
        report: dict = {"bare_ms": round(bare * 1000, 1), "tickets": args.tickets, "commands": {}}
        for name, (seconds, bare_then), target, words in results:
            ratio = seconds / bare_then
            ok = "yes" if ratio <= target else "NO"
            print(f"{name:52} {seconds * 1000:7.1f}ms {bare_then * 1000:6.1f}ms {ratio:6.1f}x {target:6d}x  {ok}")
            report["commands"][name] = {"ms": round(seconds * 1000, 1), "ratio": round(ratio, 1)}
            if words is not None:
                matches = search_matches(big, words)
                shown = f"{'':4}--search {words!r}: {matches:,} matching tickets"
                print(shown + ("  (matches NOTHING: the figure is not what its label says)" if not matches else ""))
                report["commands"][name].update(words=words, matches=matches)

        limit = 100_000
        print(f"\nlist --all --status any --limit {limit:,} > FILE (not a terminal), each format once")
        for fmt, target_mb in (("json", 50), ("jsonl", 50), ("csv", 50), ("table", 100)):
            seconds, peak_mb, lines, size = list_run(big_env, fmt, limit)
            ok = "yes" if peak_mb < target_mb else "NO"
            label = f"list --limit {limit:,} --format {fmt}"
            print(
                f"{label:52} {seconds:8.2f}s  peak {peak_mb:5.1f} MB (target < {target_mb} MB)  {ok}"
                f"   {lines:,} lines, {size / 1e6:.1f} MB"
            )
            report[label] = {"seconds": round(seconds, 2), "peak_mb": round(peak_mb, 1), "lines": lines}
        if not args.skip_export:
            runs = (
                ("export > /dev/null (no disk writes)", "null"),
                ("export > FILE", "stdout"),
                ("export --output FILE (fsync, rename)", "output"),
            )
            for label, mode in runs:
                seconds, peak_mb, lines = export_run(big_env, mode)
                ok = "yes" if seconds < 10 and peak_mb < 50 else "NO"
                what = f"{lines:,} tickets with comments" if lines else "output discarded"
                print(
                    f"{'tixcli ' + label:44} {seconds:8.2f}s  peak {peak_mb:.1f} MB"
                    f" ({what}; target < 10 s, < 50 MB)  {ok}"
                )
                report[label] = {"seconds": round(seconds, 2), "peak_mb": round(peak_mb, 1), "lines": lines}
            if shutil.which("sqlite3") is None:
                print("export vs the sqlite3 shell: skipped, no sqlite3 shell on PATH")
            else:
                print(f"\nexport > FILE vs `sqlite3 < EXPORT_SQL > FILE` (median of {args.export_runs}, in turns)")
                for setting, mine, shell in export_vs_shell(big, big_env, args.export_runs):
                    ratio, cpu_ratio = mine["s"] / shell["s"], mine["cpu_s"] / shell["cpu_s"]
                    ok = "yes" if ratio <= 1.2 else "NO"
                    counts = ""
                    if mine["writes"] >= 0 and shell["writes"] >= 0:
                        counts = f"  write() calls {mine['writes']:,} vs {shell['writes']:,}"
                    label = f"PYTHONUNBUFFERED={setting}"
                    print(
                        f"{label:24} tixcli {mine['s']:6.2f}s  sqlite3 {shell['s']:6.2f}s  ratio {ratio:4.2f}x"
                        f" (target 1.2x)  {ok}   CPU {mine['cpu_s']:.2f}s vs {shell['cpu_s']:.2f}s"
                        f" {cpu_ratio:4.2f}x{counts}"
                    )
                    report[f"export vs sqlite3 shell, {label}"] = {
                        "tixcli_s": round(mine["s"], 2),
                        "shell_s": round(shell["s"], 2),
                        "ratio": round(ratio, 2),
                        "tixcli_cpu_s": round(mine["cpu_s"], 2),
                        "shell_cpu_s": round(shell["cpu_s"], 2),
                        "cpu_ratio": round(cpu_ratio, 2),
                        "tixcli_writes": mine["writes"],
                        "shell_writes": shell["writes"],
                    }
        print("\n" + json.dumps(report))


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    main()
