"""Facts about the terminal a person reads tixcli's output on, and how wide text is on it.

Everything here is decided from the real streams and the environment at the moment a command
prints: whether stdout is a terminal (nothing for a person is done when it is not), its width
(`COLUMNS`, else the terminal's size) and height (`LINES`, else the size), and whether to colour
(`--color auto|always|never`, `NO_COLOR`, `TERM=dumb`). Widths count what a terminal shows:
East Asian wide characters take two cells, combining marks and format characters none.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import IO

COLOR_CHOICES = ("auto", "always", "never")
DEFAULT_WIDTH = 80
DEFAULT_HEIGHT = 24


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether `stream` is a terminal (False for anything that cannot tell: a StringIO, a closed file)."""
    if stream is None:
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _env_size(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if value.isascii() and value.isdigit() and 0 < int(value) <= 100_000:
        return int(value)
    return None


def _tty_size(stream: IO[str] | None) -> os.terminal_size | None:
    for candidate in (stream, sys.stdout, sys.stderr, sys.stdin):
        if candidate is None or not is_terminal(candidate):
            continue
        try:
            size = os.get_terminal_size(candidate.fileno())
        except (AttributeError, ValueError, OSError):
            continue
        return size
    return None


def width(stream: IO[str] | None = None) -> int:
    """The terminal's width in cells: `COLUMNS`, else the terminal's size, else 80."""
    value = _env_size("COLUMNS")
    if value is not None:
        return value
    size = _tty_size(stream)
    return size.columns if size is not None and size.columns > 0 else DEFAULT_WIDTH


def height(stream: IO[str] | None = None) -> int:
    """The terminal's height in lines: `LINES`, else the terminal's size, else 24."""
    value = _env_size("LINES")
    if value is not None:
        return value
    size = _tty_size(stream)
    return size.lines if size is not None and size.lines > 0 else DEFAULT_HEIGHT


def check_color_choice(value: str | None) -> str:
    from .errors import InvalidInputError

    choice = (value or "auto").strip().lower()
    if choice not in COLOR_CHOICES:
        raise InvalidInputError(f"unknown --color {value!r}", hint="use one of: " + " ".join(COLOR_CHOICES))
    return choice


def use_color(choice: str | None, stream: IO[str] | None = None) -> bool:
    """Whether to colour what goes to `stream` (stdout by default).

    `never`: no. `always`: yes, even into a pipe (`| less -R`), whatever NO_COLOR says, as an
    explicit flag wins over it. `auto` (the default): only on a terminal, and not when NO_COLOR is
    set to anything non-empty or TERM is `dumb`.
    """
    choice = check_color_choice(choice)
    if choice == "never":
        return False
    if choice == "always":
        return True
    if os.environ.get("NO_COLOR", ""):
        return False
    if os.environ.get("TERM", "") == "dumb":
        return False
    return is_terminal(stream if stream is not None else sys.stdout)


@dataclass(frozen=True)
class Display:
    """How to print for the one reading: `width` None = not a terminal (nothing is cut, times as
    stored); a width = fit tables in it and show times in the local zone; `color` = SGR colours."""

    width: int | None = None
    color: bool = False

    @property
    def terminal(self) -> bool:
        return self.width is not None


def display_for(color: str | None = "auto", stream: IO[str] | None = None) -> Display:
    """The Display for output to `stream` (stdout by default) under `--color`."""
    stream = stream if stream is not None else sys.stdout
    on_terminal = is_terminal(stream)
    return Display(width=width(stream) if on_terminal else None, color=use_color(color, stream))


# -- display width -----------------------------------------------------------------------------

_WIDTHS: dict[str, int] = {}


def char_width(ch: str) -> int:
    """Cells one character takes on a terminal: 2 for East Asian wide and fullwidth, 0 for
    combining marks, format characters and the Hangul medial vowels, 1 otherwise."""
    known = _WIDTHS.get(ch)
    if known is not None:
        return known
    import unicodedata

    o = ord(ch)
    if o < 0x20 or 0x7F <= o < 0xA0:
        w = 0  # controls (cleaned text holds none)
    elif o == 0xAD:
        w = 1  # soft hyphen: terminals show it
    elif unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf") or 0x1160 <= o <= 0x11FF:
        w = 0
    elif unicodedata.east_asian_width(ch) in ("W", "F"):
        w = 2
    else:
        w = 1
    if len(_WIDTHS) < 65_536:
        _WIDTHS[ch] = w
    return w


def text_width(text: str) -> int:
    """Cells `text` (one line, already cleaned) takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def cut(text: str, cells: int) -> str:
    """`text` in at most `cells` cells: as it is when it fits, else cut and ended with `…`."""
    if text_width(text) <= cells:
        return text
    if cells <= 0:
        return ""
    room = cells - 1  # the ellipsis takes one cell
    if text.isascii():
        return text[:room].rstrip() + "…"
    kept: list[str] = []
    used = 0
    for ch in text:
        w = char_width(ch)
        if used + w > room:
            break
        kept.append(ch)
        used += w
    return "".join(kept).rstrip() + "…"


def pad(text: str, cells: int) -> str:
    """`text` padded with spaces to `cells` cells (as it is when it is as wide or wider)."""
    missing = cells - text_width(text)
    return text + " " * missing if missing > 0 else text
