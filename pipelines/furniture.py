"""Furniture stage: find page chrome and repeated bodies in a clean field, and say why.

Scraped pages carry comment sections, currency tables, link lists and share buttons around
the article, and some repeat the whole body a second time. These regions hold no quotations
(ANNOTATION.md) even when they have the shape ``Name : text``, so they are left out of
segmentation; each is reported as a dropped span with its reason.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pipelines.clean import fold_insensitive, fold_pattern
from pipelines.segment import PARAGRAPH

_WORD = re.compile(r"\w+")
_SENT_SPLIT = re.compile(r"(?<=[.!?؟])\s+")


@dataclass(frozen=True, slots=True)
class Lexicon:
    comment_markers: re.Pattern[str]  # each category is one alternation: one search a line
    line_patterns: re.Pattern[str]
    list_markers: re.Pattern[str]
    bullet_line: re.Pattern[str]  # furniture only when short, like a link-list row
    currency_line: re.Pattern[str]
    any_line: re.Pattern[str]  # over "\n" + text: found if a line may match any category


def _pattern(p: str) -> str:
    """Patterns run on the light view of non-candidate articles and on the folded view of
    candidates alike, so they match every spelling variant of their letters."""
    return fold_insensitive(fold_pattern(p))


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    data = json.loads(
        resources.files("pipelines.lexicons").joinpath("furniture.json").read_text("utf-8")
    )

    def compile_all(key: str) -> re.Pattern[str]:
        return re.compile("|".join(f"(?:{_pattern(p)})" for p in data[key]), re.IGNORECASE)

    categories = ("comment_markers", "line_patterns", "list_markers")
    every = [_pattern(p) for key in categories for p in data[key]]
    every += [_pattern(data["bullet_line"]), _pattern(data["currency_line"])]
    return Lexicon(
        comment_markers=compile_all("comment_markers"),
        line_patterns=compile_all("line_patterns"),
        list_markers=compile_all("list_markers"),
        bullet_line=re.compile(_pattern(data["bullet_line"])),
        currency_line=re.compile(_pattern(data["currency_line"])),
        any_line=_any_line(every),
    )


def _any_line(line_patterns: list[str]) -> re.Pattern[str]:
    """A pattern over "\\n" + text that finds every line of ``text`` any of ``line_patterns``
    ("^...", maybe "...$", searched in a stripped line) matches: each starts after a newline
    and the white space that follows it, and its "$" allows the line's trailing white space.
    It may also match across lines (a white space class takes newlines too), so a miss proves
    that no line matches, which is all :func:`find_chrome` asks of it. Its literal first
    character lets the regex engine skip from newline to newline at C speed."""
    bodies = []
    for p in line_patterns:
        if not p.startswith("^") or "$" in p[:-1]:
            raise ValueError(f"furniture patterns are '^...' or '^...$': {p!r}")
        body = p[1:]
        if body.endswith("$"):
            body = body[:-1] + r"(?=[^\S\n]*(?:\n|\Z))"
        bodies.append(f"(?:{body})")
    return re.compile(r"\n[^\S\n]*(?=\S)(?:" + "|".join(bodies) + ")", re.IGNORECASE)


def _lines(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int, str]]:
    """Non-empty lines of ``text[start:end]``, stripped (the paragraphs of segmentation), as
    (start, end, line) in ``text``."""
    matches = PARAGRAPH.finditer(text, start, len(text) if end is None else end)
    return [(m.start(), m.end(), m.group()) for m in matches]


def _is_short_list_line(line: str) -> bool:
    """A link-list or table row: a few words and no sentence punctuation (a headline-shaped
    "Name: text" item is still a link)."""
    return len(_WORD.findall(line)) <= 12 and not re.search(r"[.!?؟]\s|[.!?؟]$", line)


def find_chrome(text: str) -> list[tuple[int, int, str]]:
    """Comment sections, furniture lines, link lists and currency tables, in clean offsets."""
    lex = load_lexicon()
    if not lex.any_line.search("\n" + text):  # 98% of articles: the loop would find nothing
        return []
    lines = _lines(text)
    drops: list[tuple[int, int, str]] = []
    i = 0
    while i < len(lines):
        a, b, line = lines[i]
        if lex.comment_markers.search(line):
            # A comment section runs to the end of the page; near the top it is a menu entry.
            if a >= 0.4 * len(text):
                drops.append((a, len(text), "comments"))
                break
            drops.append((a, b, "furniture_line"))
        elif lex.list_markers.search(line):
            j = i + 1
            while j < len(lines) and _is_short_list_line(lines[j][2]):
                j += 1
            reason = "currency_table" if "عملات" in line else "link_list"
            drops.append((a, lines[j - 1][1], reason))
            i = j
            continue
        elif lex.currency_line.search(line):
            j = i
            while j < len(lines) and lex.currency_line.search(lines[j][2]):
                j += 1
            if j - i >= 3:
                drops.append((a, lines[j - 1][1], "currency_table"))
                i = j
                continue
        elif lex.line_patterns.search(line) or (
            lex.bullet_line.search(line) and _is_short_list_line(line)
        ):
            drops.append((a, b, "furniture_line"))
        i += 1
    return drops


def _sentence_key(s: str) -> str | None:
    words = _WORD.findall(s)
    return " ".join(words) if len(words) >= 5 else None


# find_repeats first asks a cheaper question that every repeat needs a "yes" to: do two
# sentences of the kept text have the same word characters, in the same order? A line is
# dropped only when one of its sentence keys is a key of an earlier line, so without such a
# pair nothing is dropped. The question is asked at C speed of the text encoded one byte a
# character: cp1256 holds the Arabic letters, any other character becomes "x" if it is a
# word character, " " if white space, "#" otherwise; then word bytes and newlines stay, white
# space becomes " ", the end marks . ! ? ؟ become ".", the rest "#". A sentence break (white
# space after an end mark) then starts at ". ", which becomes a newline, and deleting " .#"
# leaves one piece a sentence holding its word characters only. The map is a function of the
# character that keeps words, white space and end marks apart, so two sentences with one key
# always give one piece; a "yes" (rare: a repeated short line will do) runs the exact loop.
_BYTE_CODEC = "cp1256"
_BYTE_ERRORS = "isnad-furniture-class"


def _classify_unencodable(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    chunk = err.object[err.start : err.end]
    rep = "".join("x" if c.isalnum() or c == "_" else " " if c.isspace() else "#" for c in chunk)
    return rep, err.end


codecs.register_error(_BYTE_ERRORS, _classify_unencodable)


def _byte_tables() -> tuple[bytes, bytes]:
    chars = [bytes([v]).decode(_BYTE_CODEC) for v in range(256)]

    def byte(c: str) -> int:
        if c.isalnum() or c == "_" or c == "\n":
            return ord(c.encode(_BYTE_CODEC))  # word characters and newlines stay
        if c.isspace():
            return 32
        return 46 if c in ".!?؟" else 35  # "." the sentence end marks, "#" the rest

    classes = bytes(byte(c) for c in chars)
    return classes, b" .#"


_BYTE_CLASSES, _BYTE_NONWORD = _byte_tables()
# A sentence break in the byte classes; re.sub finds this literal 4x faster than bytes.replace.
_BYTE_BREAK = re.compile(rb"\. ")


def _may_repeat(text: str, keep: list[tuple[int, int]]) -> bool:
    """False only if no two sentences in ``keep`` have the same words (see above)."""
    encoded = text.encode(_BYTE_CODEC, _BYTE_ERRORS)
    if len(encoded) != len(text):  # not one byte a character: cannot tell, so maybe
        return True
    encoded = encoded.translate(_BYTE_CLASSES)
    pieces: set[bytes] = set()
    n = 0
    for ks, ke in keep:
        region = encoded[ks:ke] if ks or ke != len(encoded) else encoded
        # One piece a sentence (or less: a line's leading or trailing spaces), words only.
        found = _BYTE_BREAK.sub(b"\n", region).translate(None, _BYTE_NONWORD).split(b"\n")
        pieces.update(found)
        n += len(found) - found.count(b"")
    pieces.discard(b"")
    return len(pieces) < n


def find_repeats(text: str, keep: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Lines whose sentences all appeared earlier on the page: a body the scraper saw twice."""
    if not _may_repeat(text, keep):
        return []
    seen: set[str] = set()
    drops: list[tuple[int, int, str]] = []
    for ks, ke in keep:
        for a, b, line in _lines(text, ks, ke):
            keys = [k for k in (_sentence_key(s) for s in _SENT_SPLIT.split(line)) if k]
            if not keys:
                continue
            repeated = sum(len(k) for k in keys if k in seen)
            if len(line) >= 40 and repeated >= 0.7 * sum(len(k) for k in keys):
                drops.append((a, b, "repeat"))
                continue
            seen.update(keys)
    return drops


def complement(length: int, drops: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """The regions of [0, length) not covered by any drop."""
    keep: list[tuple[int, int]] = []
    pos = 0
    for a, b, _ in sorted(drops):
        if a > pos:
            keep.append((pos, a))
        pos = max(pos, b)
    if pos < length:
        keep.append((pos, length))
    return keep


def find_furniture(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int, str]]]:
    """Kept regions and dropped (start, end, reason) spans of one clean article body."""
    chrome = find_chrome(text)
    repeats = find_repeats(text, complement(len(text), chrome))
    drops = sorted(chrome + repeats)
    return complement(len(text), drops), drops
