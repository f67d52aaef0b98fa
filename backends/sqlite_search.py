"""The local store's search words: text as its full-text index (FTS5) takes it, and `--search`
words as FTS5 queries.

SQLite's own tokenizers do not find words in scripts written without spaces: unicode61 takes a
whole run of Chinese, Japanese or Thai as one word, and trigram (3.40.1 here) matches nothing
under three characters and keeps accents. So tixcli cuts such runs itself before FTS5 sees them:
each run of CJK, Hangul, Thai, Lao, Khmer or Myanmar characters becomes its overlapping pairs of
characters (a character being a base and its combining marks), then its last character alone,
so that every character starts a token. `日本語` is indexed as `日本 本語 語`; a search for `本語`
is the phrase of its pairs, one for `日` the prefix `日*`. Everything else is left to unicode61
with remove_diacritics 2 (`resume` finds `résumé`) and every letter, digit and mark category a
token character (Indic and Thai vowel signs do not split words). NFKC first: full-width and
half-width forms, ligatures and decomposed accents find their usual spelling.

The index is contentless (it keeps no copy of the text: the store is 20% smaller), so a document
is deleted by giving FTS5 the text it was indexed with: `document()` must stay the same function
of a ticket for as long as an index built with it exists. Changing it needs a migration that
rebuilds the index (sqlite_schema.py).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

# The tokenizer of the index (migration 3). Token characters: letters, digits, marks, private use.
TOKENIZE = "unicode61 remove_diacritics 2 categories 'L* N* M* Co'"

# Scripts written without spaces between words (and Hangul, whose words carry their particles).
_RUN_PATTERN = (
    "(?:["
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u303c"  # 々 〆 〇, Suzhou numerals, kana repeat marks
    "\u3040-\u30ff"  # Hiragana, Katakana (ー included)
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\ua960-\ua97f\uac00-\ud7ff"  # Hangul
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B-G
    "][\u0300-\u036f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u0eb1\u0eb4-\u0ebc\u0ec8-\u0ecd"
    "\u102b-\u103e\u1056-\u1059\u105e-\u1060\u1062-\u1064\u1067-\u106d\u1071-\u1074\u1082-\u108d\u108f"
    "\u109a-\u109d\u17b4-\u17d3\u17dd\u3099\u309a]*)+"
)


@functools.cache
def _run() -> re.Pattern[str]:
    """The pattern of a run of those scripts, compiled when first needed (4 ms: not at start-up)."""
    return re.compile(_RUN_PATTERN)

_MARK = "M"


def _characters(run: str) -> list[str]:
    """A run cut into characters: each base with the combining marks that follow it."""
    chars: list[str] = []
    for ch in run:
        if chars and unicodedata.category(ch).startswith(_MARK):
            chars[-1] += ch
        else:
            chars.append(ch)
    return chars


def _pairs(chars: list[str]) -> list[str]:
    return [chars[i] + chars[i + 1] for i in range(len(chars) - 1)]


def _run_tokens(match: re.Match) -> str:
    chars = _characters(match.group())
    return " " + " ".join([*_pairs(chars), chars[-1]]) + " "


def index_text(text: str) -> str:
    """Text as the index takes it (see the module's doc)."""
    if text.isascii():  # most tickets: nothing to do
        return text
    return _run().sub(_run_tokens, unicodedata.normalize("NFKC", text))


def document(parts: Iterable[str | None]) -> str:
    """A ticket's search document: its subject and every comment (the first is the description),
    one a line. The index deletes a document by this text: keep it a function of the ticket."""
    return "\n".join(index_text(p) for p in parts if p)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def match_query(words: Iterable[str]) -> str:
    """`--search` words (the core split them) → an FTS5 query requiring every one.

    Nothing the user typed is an FTS5 operator: each piece is quoted. A `*` ending a word asks
    for words starting with it (`jam*`); a `*` anywhere else is just a character.
    """
    terms: list[str] = []
    for raw in words:
        word = unicodedata.normalize("NFKC", raw)
        prefix = word.endswith("*") and len(word.rstrip("*")) > 0
        word = word.rstrip("*") if prefix else word
        pieces: list[tuple[str, bool]] = []  # (FTS5 string, whether a run of unspaced script)
        at = 0
        for m in _run().finditer(word):
            if m.start() > at:
                pieces.append((word[at : m.start()], False))
            pieces.append((m.group(), True))
            at = m.end()
        if at < len(word):
            pieces.append((word[at:], False))
        for i, (piece, is_run) in enumerate(pieces):
            last = i == len(pieces) - 1
            if is_run:
                chars = _characters(piece)
                if len(chars) == 1:  # one character: any token starting with it
                    terms.append(_quoted(chars[0]) + "*")
                else:  # a phrase of its pairs: found anywhere inside a longer run
                    terms.append(_quoted(" ".join(_pairs(chars))))
            elif any(ch.isalnum() for ch in piece):
                terms.append(_quoted(piece) + ("*" if prefix and last else ""))
    if not terms:
        terms.append('""')  # matches nothing
    return " AND ".join(terms)
