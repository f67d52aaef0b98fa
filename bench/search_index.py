"""Which full-text index the local store should have: three candidates, measured on one store.

    python bench/search_index.py                  # the 1M store bench/bench.py built (bench/.cache)
    python bench/search_index.py --store FILE --sample 200000

Each candidate indexes the same documents (a ticket's subject and comments) into a scratch
database of its own: size (dbstat), build time, and the median time of searches for a rare word, a
common word, a prefix, accented and unaccented Latin, and words in Japanese, Chinese and Thai,
with how many tickets each finds. One ticket in a hundred gets a sentence in one of those
scripts appended (the bench store is English), the same for every candidate.

  unicode61   SQLite's tokenizer as schema 2 had it: remove_diacritics 2, a copy of the text kept
  trigram     SQLite 3.40's trigram tokenizer (contentless): substrings of 3 characters and more
  tixcli      tixcli's own cutting (backends/sqlite_search.py) into unicode61, contentless
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tixcli.backends.sqlite_search import TOKENIZE, document, match_query

HERE = Path(__file__).resolve().parent
SENTENCES = (
    "プリンターが動きません。印刷できない",  # Japanese
    "数据库连接超时，请帮忙",  # Chinese
    "ระบบล่ม ภาษาไทย ไม่มีการเว้นวรรค",  # Thai
    "Mon résumé est prêt, le café est fermé",  # French
)
# label -> (the words, as `list --search` takes them)
SEARCHES = {
    "rare word err40": ["err40"],
    "common word": ["certificate"],
    "two words": ["vpn", "certificate"],
    "prefix cert*": ["cert*"],
    "accents: résumé": ["résumé"],
    "no accents: resume": ["resume"],
    "Japanese, 2 characters": ["印刷"],
    "Chinese, 2 characters": ["超时"],
    "Thai word": ["ภาษา"],
}


def quoted(words: list[str]) -> str:
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words)


def trigram_query(words: list[str]) -> str | None:
    """What trigram can be asked: each word of 3 characters or more as a substring (a prefix
    becomes a substring); None where a word is shorter (it matches nothing)."""
    plain = [w.rstrip("*") for w in words]
    if any(len(w) < 3 for w in plain):
        return None
    return quoted(plain)


CANDIDATES = {
    # name: (CREATE options, text of a document, query of words)
    "unicode61": ("tokenize = 'unicode61 remove_diacritics 2'", lambda parts: "\n".join(parts), quoted),
    "trigram": ("content = '', tokenize = 'trigram'", lambda parts: "\n".join(parts), trigram_query),
    "tixcli": (f'content = \'\', tokenize = "{TOKENIZE}"', document, match_query),
}


def documents(store: Path, sample: int):
    """(id, [subject, comments...]) of the first `sample` tickets, one in 100 with a sentence added."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT t.id, t.subject, (SELECT group_concat(body, char(10)) FROM "
        "(SELECT body FROM comments WHERE ticket_id = t.id ORDER BY id)) FROM tickets t WHERE t.id <= ? ORDER BY t.id",
        (sample,),
    )
    for tid, subject, bodies in rows:
        parts = [subject, bodies or ""]
        if tid % 100 == 0:
            parts.append(SENTENCES[(tid // 100) % len(SENTENCES)])
        yield tid, parts
    db.close()


def size_mb(db: sqlite3.Connection) -> float:
    pages = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'words%'").fetchone()[0]
    return (pages or 0) / 1e6


def measure(name: str, store: Path, sample: int, scratch: Path, runs: int) -> dict:
    options, text_of, query_of = CANDIDATES[name]
    path = scratch / f"{name}.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.execute(f"CREATE VIRTUAL TABLE words USING fts5(text, {options})")
    t0 = time.perf_counter()
    db.execute("BEGIN")
    batch: list[tuple[int, str]] = []
    for tid, parts in documents(store, sample):
        batch.append((tid, text_of(parts)))
        if len(batch) >= 10_000:
            db.executemany("INSERT INTO words (rowid, text) VALUES (?, ?)", batch)
            batch = []
    db.executemany("INSERT INTO words (rowid, text) VALUES (?, ?)", batch)
    db.execute("COMMIT")
    build = time.perf_counter() - t0
    result = {"build_s": build, "size_mb": size_mb(db), "searches": {}}
    for label, words in SEARCHES.items():
        match = query_of(words)
        if match is None:
            result["searches"][label] = (None, 0)
            continue
        times, found = [], 0
        for _ in range(runs):
            t0 = time.perf_counter()
            found = db.execute("SELECT count(*) FROM words WHERE words MATCH ?", (match,)).fetchone()[0]
            times.append(time.perf_counter() - t0)
        result["searches"][label] = (statistics.median(times), found)
    db.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=HERE / ".cache" / "store-v4-1000000.db")
    parser.add_argument("--sample", type=int, default=1_000_000, help="index the first N tickets")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=sorted(CANDIDATES), action="append")
    args = parser.parse_args()
    if not args.store.exists():
        sys.exit(f"no store at {args.store}: run bench/bench.py first (it builds one)")
    report = {}
    with tempfile.TemporaryDirectory(dir=HERE / ".cache" if (HERE / ".cache").exists() else None) as tmp:
        for name in args.only or CANDIDATES:
            print(f"building {name}...", file=sys.stderr)
            report[name] = measure(name, args.store, args.sample, Path(tmp), args.runs)
            Path(tmp, f"{name}.db").unlink()
    names = list(report)
    print(f"\n{args.sample:,} tickets (1 in 100 with a Japanese, Chinese, Thai or French sentence)\n")
    print(f"{'':24}" + "".join(f"{n:>22}" for n in names))
    print(f"{'index size':24}" + "".join(f"{report[n]['size_mb']:>19.0f} MB" for n in names))
    print(f"{'build':24}" + "".join(f"{report[n]['build_s']:>20.1f} s" for n in names))
    for label in SEARCHES:
        cells = []
        for n in names:
            seconds, found = report[n]["searches"][label]
            cells.append(f"{'cannot ask':>22}" if seconds is None else f"{seconds * 1000:>9.1f} ms {found:>8,} hits")
        print(f"{label:24}" + "".join(cells))


if __name__ == "__main__":
    main()
