"""Secrets out of a CI log before it is attached (`--attach-log FILE [--log-lines N]`).

``log_tail`` reads the last lines of a log from its end, in blocks, so a multi-gigabyte log costs
no more memory than the lines kept: bytes that are not UTF-8 are replaced, a line longer than
``max_line_bytes`` is cut (and says how much was cut). ``redact`` then replaces what looks like a
secret with ``[REDACTED]`` and counts the replacements, for the "N secrets redacted" line on stderr.

What ``redact`` replaces, in this order:

- private key blocks, ``-----BEGIN ... PRIVATE KEY-----`` through their END line (a tail that
  starts inside a block loses everything up to its END line; a block with no END, the rest);
- the secrets it is given (the profile's own token) and the values of environment variables whose
  names contain TOKEN, SECRET, PASSWORD, PASSWD, KEY or CREDENTIAL (values shorter than
  MIN_ENV_SECRET characters are left alone: "1", "true" or "false" are everywhere), longest first,
  also as they appear percent-encoded;
- ``Authorization:`` / ``Proxy-Authorization:`` header values (``Authorization: [REDACTED]``);
- ``user:password@`` in URLs (``https://user:[REDACTED]@host``);
- the value of an assignment whose name ends in password, passwd, pwd, passphrase, secret, token or
  api/access/secret/private key: ``password=...``, ``token: ...``, ``"password": "..."`` and
  ``<password>...</password>`` (``password=[REDACTED]``; a placeholder such as ``$VAR``, ``null``
  or ``***`` is not a secret and stays);
- ``Bearer`` tokens;
- tokens recognised by their form: GitHub (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``,
  ``github_pat_``), GitLab (``glpat-`` and the other ``gl...-`` token prefixes), AWS access key ids
  (``AKIA``/``ASIA`` + 16), Slack tokens (``xox?-``) and webhook URLs, JWTs, npm, PyPI, Stripe and
  Google API keys.

Every pattern is anchored on a literal or at the start of a run of token characters and bounded,
so the time is linear in the text, whatever it holds (a 1 MB line of one character included).
"""

from __future__ import annotations

import os
import re
import stat
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote

from .errors import InvalidInputError

MARKER = "[REDACTED]"
MIN_ENV_SECRET = 6  # characters: shorter values of secret-named variables are not redacted
MIN_GIVEN_SECRET = 4  # characters: the same for secrets passed in (a token is never this short)
SECRET_ENV_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL")

_BLOCK = 64 * 1024  # bytes read at a time


@dataclass
class Redacted:
    text: str
    count: int  # how many secrets were replaced


def redact(text: str, secrets: Iterable[str] = (), env: Mapping[str, str] | None = None) -> Redacted:
    """`text` with every secret it recognises replaced by ``[REDACTED]``, and how many there were."""
    if env is None:
        env = os.environ
    total = 0
    text, n = _redact_key_blocks(text)
    total += n
    text, n = _redact_literals(text, _literal_secrets(secrets, env))
    total += n
    for step in _STEPS:
        text, n = step(text)
        total += n
    return Redacted(text=text, count=total)


# -- private key blocks ----------------------------------------------------------------------------

_KEY_BEGIN = re.compile(r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----")
_KEY_END = re.compile(r"-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----")


def _redact_key_blocks(text: str) -> tuple[str, int]:
    if "PRIVATE KEY" not in text:
        return text, 0
    out: list[str] = []
    pos = count = 0
    first_begin, first_end = _KEY_BEGIN.search(text), _KEY_END.search(text)
    if first_end and (first_begin is None or first_end.start() < first_begin.start()):
        # the text starts inside a block (a tail of a log): everything before END is key material
        out.append(f"{MARKER}\n{first_end.group(0)}")
        pos, count = first_end.end(), int(text[: first_end.start()].strip() != MARKER)
    while True:
        begin = _KEY_BEGIN.search(text, pos)
        if begin is None:
            break
        end = _KEY_END.search(text, begin.end())
        body = text[begin.end() : end.start() if end else len(text)]
        out.append(text[pos : begin.start()])
        out.append(f"{begin.group(0)}\n{MARKER}")
        count += body.strip() != MARKER  # a block redacted before is not counted again
        if end is None:  # no END: the rest may all be key material
            pos = len(text)
            break
        out.append(f"\n{end.group(0)}")
        pos = end.end()
    out.append(text[pos:])
    return "".join(out), count


# -- known secret values ---------------------------------------------------------------------------


def _literal_secrets(given: Iterable[str], env: Mapping[str, str]) -> list[str]:
    found: set[str] = set()

    def add(value: str, least: int) -> None:
        # the value, and each line of one that has several (a key in a variable, printed line by line)
        for candidate in {value, value.strip(), *(line.strip() for line in value.splitlines())}:
            if len(candidate) >= least and candidate not in MARKER:
                found.add(candidate)
                encoded = quote(candidate, safe="")
                if encoded != candidate:
                    found.add(encoded)

    for value in given:
        if value:
            add(value, MIN_GIVEN_SECRET)
    for name, value in env.items():
        upper = name.upper()
        if value and any(word in upper for word in SECRET_ENV_WORDS):
            add(value, MIN_ENV_SECRET)
    return sorted(found, key=lambda s: (-len(s), s))


def _redact_literals(text: str, values: list[str]) -> tuple[str, int]:
    count = 0
    for value in values:  # longest first: a secret that contains another goes whole
        n = text.count(value)
        if n:
            text = text.replace(value, MARKER)
            count += n
    return text, count


# -- patterns ---------------------------------------------------------------------------------------


def _sub(pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str | None]) -> Callable[[str], tuple[str, int]]:
    """A step that replaces each match `replace` returns a text for (None: leave the match)."""

    def step(text: str) -> tuple[str, int]:
        count = 0

        def one(match: re.Match[str]) -> str:
            nonlocal count
            new = replace(match)
            if new is None:
                return match.group(0)
            count += 1
            return new

        return pattern.sub(one, text), count

    return step


_REFERENCE = re.compile(r"\$[A-Z_][A-Z0-9_]{0,100}|%[A-Za-z_][A-Za-z0-9_]{0,100}%")  # $VAR %VAR%


def _placeholder(value: str) -> bool:
    """Not a secret: empty, already redacted, masked, or a reference to one ($VAR, ${{ secrets.X }})."""
    v = value.strip().strip("\"'").strip()
    return (
        not v
        or v.startswith((MARKER[:-1], "<redacted", "[masked", "${", "$(", "{{"))
        or v.lower() in ("null", "none", "nil", "undefined", "true", "false", "redacted")
        or set(v) <= set("*x•.")
        or _REFERENCE.fullmatch(v) is not None
    )


# Each pattern starts with its literal (the regex engine then skips ahead to it) and checks the
# character before the literal with a lookbehind that spans the literal: a run of token characters
# is tried once, from its start, never again from each of its positions.

# Authorization: <anything up to the end of the line or a quote> (Proxy-Authorization too)
_AUTHORIZATION = re.compile(
    r"(?i)(authorization)(?<![a-z0-9_]authorization)([\"']?[ \t]*[:=][ \t]*[\"']?)([^\r\n\"']+)"
)


def _authorization(m: re.Match[str]) -> str | None:
    return None if _placeholder(m.group(3)) else f"{m.group(1)}{m.group(2)}{MARKER}"


# scheme://user:password@ (the password may hold an unencoded @: the last one before the host wins)
_USERINFO = re.compile(r"://([^\s/@:?#\"'<>]{0,256}):([^\s/?#\"'<>]{1,1024})@")


def _userinfo(m: re.Match[str]) -> str | None:
    return None if _placeholder(m.group(2)) else f"://{m.group(1)}:{MARKER}@"


# name (= or :) value, found by the word that ends the name; the name is then the whole run of name
# characters before it, and the value one of four forms
# (searched in an ASCII-lowercased copy of the text, same length: (?i) would cost the engine its
# skip-ahead to the first letters)
_ASSIGN_WORD = re.compile(r"(password|passwd|passphrase|pwd|secret|token|key)(\\?[\"']?)[ \t]*[:=][ \t]*")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
_MAX_NAME = 128
_ASSIGN_VALUE = re.compile(
    r"\\\"([^\r\n]{1,4096}?)\\\""  # \"value\" (JSON inside a JSON string)
    r"|\"((?:[^\"\\\r\n]|\\.){1,4096})\""  # "value"
    r"|'([^'\r\n]{1,4096})'"  # 'value'
    r"|([^\s\"'&;,\]}\\]{1,4096})"  # value
)
_SECRET_NAME_ENDS = (
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "access-key",
    "secretkey",
    "secret_key",
    "secret-key",
    "privatekey",
    "private_key",
    "private-key",
)
_NOT_SECRET_NAMES = ("pwd", "oldpwd")  # the shell's working directories


def _secret_name(name: str) -> bool:
    lowered = name.lower().strip("-_.")
    return lowered.endswith(_SECRET_NAME_ENDS) and lowered not in _NOT_SECRET_NAMES


def _redact_assignments(text: str) -> tuple[str, int]:
    out: list[str] = []
    pos = count = 0
    for m in _ASSIGN_WORD.finditer(text.translate(_ASCII_LOWER)):
        if m.start() < pos:
            continue
        floor = max(0, m.start() - _MAX_NAME)
        start = floor + len(text[floor : m.start()].rstrip(_NAME_CHARS))
        if start == floor and floor > 0 and text[floor - 1] in _NAME_CHARS:
            continue  # a name longer than _MAX_NAME
        if not _secret_name(text[start : m.end(1)]):
            continue
        v = _ASSIGN_VALUE.match(text, m.end())
        if v is None:
            continue
        index = v.lastindex or 4
        if _placeholder(v.group(index)):
            continue
        out.append(text[pos : v.start(index)])
        out.append(MARKER)
        pos = v.end(index)
        count += 1
    out.append(text[pos:])
    return "".join(out), count


_XML_SECRET = re.compile(
    r"(?i)<(password|passwd|passphrase|secret|token|api_?key|access_?token|client_?secret)>([^<\r\n]{1,4096})</\1>"
)


def _xml_secret(m: re.Match[str]) -> str | None:
    return None if _placeholder(m.group(2)) else f"<{m.group(1)}>{MARKER}</{m.group(1)}>"


_BEARER = re.compile(r"(?i)(bearer(?<![a-z0-9_-]bearer)[ \t]+)([A-Za-z0-9\-._~+/]{8,4096}=*)")


def _bearer(m: re.Match[str]) -> str | None:
    token = m.group(2)
    # "the bearer of bad news" is prose: a token has a digit or a symbol, mixed case, or length
    looks_like_token = (
        any(ch.isdigit() or ch in "-._~+/=" for ch in token)
        or len(token) >= 20
        or (token[1:] != token[1:].lower() and token != token.upper())
    )
    return f"{m.group(1)}{MARKER}" if looks_like_token else None


_GITLAB_PREFIXES = ("pat", "dt", "rt", "ptt", "ft", "imt", "oas", "soat", "cbt", "agent", "ffct", "wt")
_TOKEN_FORMS = re.compile(
    "|".join(
        (
            r"gh[pousr]_(?<![A-Za-z0-9_]gh._)[A-Za-z0-9]{20,}",  # GitHub
            r"github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{20,}",
            *(rf"gl{p}-(?<![A-Za-z0-9_-]gl{p}-)[A-Za-z0-9_.-]{{20,}}" for p in _GITLAB_PREFIXES),  # GitLab
            r"A[KS]IA(?<![A-Za-z0-9]A.IA)[A-Z0-9]{16}(?![A-Za-z0-9])",  # AWS access key id
            r"xox[abpores]-(?<![A-Za-z0-9_-]xox.-)[A-Za-z0-9-]{10,}",  # Slack
            r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{5,}\.ey[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",  # JWT
            r"npm_(?<![A-Za-z0-9_]npm_)[A-Za-z0-9]{36}(?![A-Za-z0-9])",  # npm
            r"pypi-AgE(?<![A-Za-z0-9_-]pypi-AgE)[A-Za-z0-9_-]{50,}",  # PyPI
            r"[sr]k_(?:live|test)_(?<![A-Za-z0-9_].k_...._)[A-Za-z0-9]{16,}",  # Stripe
            r"AIza(?<![A-Za-z0-9_-]AIza)[A-Za-z0-9_-]{35}",  # Google API key
        )
    )
)
_SLACK_WEBHOOK = re.compile(r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]{8,}")

_STEPS: tuple[Callable[[str], tuple[str, int]], ...] = (
    _sub(_AUTHORIZATION, _authorization),
    _sub(_USERINFO, _userinfo),
    _redact_assignments,
    _sub(_XML_SECRET, _xml_secret),
    _sub(_BEARER, _bearer),
    _sub(_SLACK_WEBHOOK, lambda m: f"{m.group(1)}{MARKER}"),
    _sub(_TOKEN_FORMS, lambda m: MARKER),
)


# -- the tail of a log ------------------------------------------------------------------------------

# bytes of a token-like run: a cut line ends before such a run rather than in its middle
_TOKEN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+/=")
_TOKEN_BACKOFF = 256


class _Lines:
    """The last `keep` lines fed to it, each as at most max_line_bytes + 1 bytes and its length."""

    def __init__(self, keep: int, max_line_bytes: int) -> None:
        self.done: deque[tuple[bytes, int, bool]] = deque(maxlen=keep)
        self.limit = max_line_bytes + 1
        self.head = bytearray()
        self.length = 0
        self.last = b""

    def feed(self, chunk: bytes) -> None:
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            piece = chunk[start:] if nl < 0 else chunk[start:nl]
            room = self.limit - len(self.head)
            if room > 0:
                self.head += piece[:room]
            if piece:
                self.length += len(piece)
                self.last = piece[-1:]
            if nl < 0:
                return
            self._end_line()
            start = nl + 1

    def _end_line(self) -> None:
        self.done.append((bytes(self.head), self.length, self.last == b"\r"))
        self.head, self.length, self.last = bytearray(), 0, b""

    def finish(self) -> list[tuple[bytes, int, bool]]:
        if self.length:  # a last line with no newline after it
            self._end_line()
        return list(self.done)


def _render(head: bytes, length: int, crlf: bool, max_line_bytes: int) -> str:
    length -= crlf
    if length <= max_line_bytes:
        return head[:length].decode("utf-8", "replace")
    cut = max_line_bytes
    while cut > 0 and max_line_bytes - cut < 3 and (head[cut] & 0xC0) == 0x80:
        cut -= 1  # not in the middle of a UTF-8 sequence
    if head[cut] in _TOKEN_BYTES:  # not in the middle of what may be a token either
        start = cut
        while start > 0 and cut - start < _TOKEN_BACKOFF and head[start - 1] in _TOKEN_BYTES:
            start -= 1
        if start > 0 and head[start - 1] not in _TOKEN_BYTES:
            cut = start
    kept = head[:cut].decode("utf-8", "replace")
    return f"{kept}{'' if kept[-1:].isspace() else ' '}… [cut {length - cut:,} bytes]"


def _shown(path: str | os.PathLike[str]) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in os.fsdecode(path))


def log_tail(path: str | os.PathLike[str], lines: int, max_line_bytes: int = 4096) -> str:
    """The last `lines` lines of the log at `path` ("\\n"-ended, CRLF read as LF), read from the end
    of a regular file (from the start of a pipe), in bounded memory. InvalidInputError (exit 6)
    for lines < 1 and for a log that cannot be read."""
    if lines < 1:
        raise InvalidInputError(f"--log-lines must be at least 1 (got {lines})")
    if max_line_bytes < 1:
        raise ValueError("max_line_bytes must be at least 1")
    try:
        info = os.stat(path)  # never blocks, even on a FIFO
        if stat.S_ISDIR(info.st_mode):
            raise InvalidInputError(f"cannot read the log {_shown(path)}: is a directory")
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
            raise InvalidInputError(f"cannot read the log {_shown(path)}: not a regular file or a pipe")
        with open(path, "rb") as fh:
            collector = _Lines(lines, max_line_bytes)
            if stat.S_ISREG(info.st_mode):
                _feed_tail(fh, os.fstat(fh.fileno()).st_size, lines, collector)
            else:
                while chunk := fh.read(_BLOCK):
                    collector.feed(chunk)
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError | NotADirectoryError)
        reason = "no such file" if missing else (exc.strerror or "unreadable")
        raise InvalidInputError(f"cannot read the log {_shown(path)}: {reason}") from None
    kept = collector.finish()
    return "".join(_render(head, length, crlf, max_line_bytes) + "\n" for head, length, crlf in kept)


def _feed_tail(fh: BinaryIO, size: int, lines: int, collector: _Lines) -> None:
    """Find where the last `lines` lines start, reading back from the end, then feed them."""
    end = size
    if size:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            end = size - 1  # the newline that ends the last line starts no line of its own
    start, pos, found = 0, end, 0
    while pos > 0 and not start:
        step = min(_BLOCK, pos)
        fh.seek(pos - step)
        chunk = fh.read(step)
        index = len(chunk)
        while True:
            index = chunk.rfind(b"\n", 0, index)
            if index < 0:
                break
            found += 1
            if found == lines:
                start = pos - step + index + 1
                break
        pos -= step
    fh.seek(start)
    remaining = size - start
    while remaining > 0:
        chunk = fh.read(min(_BLOCK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        collector.feed(chunk)
