"""The ``.env`` file format ``--env-file`` reads: a subset of Docker Compose's ``env_file``.

Accepted, one entry a line:

- ``NAME=VALUE`` (``NAME``: letters, digits and underscores, not starting with a digit),
  optionally after ``export ``; spaces around the name and an unquoted value are dropped;
- an unquoted value ends at `` #`` (a comment after a space); a ``#`` inside it stays;
- ``'single quoted'``: taken literally; ``"double quoted"``: ``\\n``, ``\\t``, ``\\"``
  and ``\\\\`` are unescaped; after the closing quote only spaces and a comment may follow;
- blank lines and lines whose first non-blank character is ``#``.

Not accepted (each is an error naming the line): a line without ``=``, which Docker
would fill from the calling shell (use ``--env NAME=$NAME`` to pass one on), quotes
that do not close on the same line, and ``${VAR}`` expansion is not done: ``$`` is literal.
"""

from __future__ import annotations

import re
from typing import Final

_LINE: Final = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*")
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


class DotenvError(ValueError):
    """A line of an env file the parser does not accept."""


def parse_dotenv(text: str, source: str = "env file") -> dict[str, str]:
    """``NAME=VALUE`` lines -> a dict (later lines win); ``DotenvError`` names a bad line."""
    result: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise DotenvError(
                f"{source}, line {number}: expected NAME=VALUE, got {_shorten(stripped)!r}"
            )
        name, raw = match.groups()
        try:
            result[name] = _value(raw)
        except ValueError as exc:
            raise DotenvError(f"{source}, line {number}: {exc}") from None
    return result


def _value(raw: str) -> str:
    if "\0" in raw:
        raise ValueError("a value cannot hold a NUL character")
    if not raw or raw[0] not in "'\"":
        # An unquoted value: a comment starts at " #".
        cut = re.search(r"\s#", raw)
        return raw[: cut.start()].rstrip() if cut else raw
    quote = raw[0]
    out: list[str] = []
    index = 1
    while index < len(raw):
        char = raw[index]
        if char == quote:
            rest = raw[index + 1 :].strip()
            if rest and not rest.startswith("#"):
                raise ValueError(f"unexpected text after the closing quote: {_shorten(rest)!r}")
            return "".join(out)
        if char == "\\" and quote == '"' and index + 1 < len(raw):
            nxt = raw[index + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            index += 2
            continue
        out.append(char)
        index += 1
    raise ValueError(f"the {quote} quote is not closed on this line")


def _shorten(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
