"""Clean stage: a normalised view of an article field, with an offset map back to the text as read.

Every later stage matches on the clean view; every span it finds is mapped back through
``CleanText.to_raw`` so that output offsets point into ``Article.text`` exactly.
The clean view only deletes characters or replaces one character by one or more, so the map
is a list of raw indices, one per clean character.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from camel_tools.utils.normalize import normalize_unicode

TATWEEL = "\u0640"
# Arabic diacritics: tanween, short vowels, shadda, sukun, dagger alef. The same set as
# camel-tools' ``camel_tools.utils.charsets.AR_DIAC_CHARSET`` (a test holds them equal), written
# out because importing that module builds sets of every Unicode character by category: 35 MiB
# and 0.3 s in each process that would import it.
AR_DIACRITICS = frozenset("\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670")
# Invisible characters scrapers leave behind: zero-width, bidi marks, BOM, soft hyphen.
INVISIBLES = (
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069\ufeff\u00ad\r"
)
# Double quotation marks in the wild; Arabic scrapers use ” as an opener too, so all of these
# become the undirected ASCII mark and pairing is decided in segment.pair_quotes.
DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u301d\u301e\uff02"
# Guillemets keep their direction: « opens, » closes. Single guillemets are folded onto them.
ANGLE_QUOTES = {"\u2039": "\u00ab", "\u203a": "\u00bb"}
SPACES = (
    "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t"
)
# Letter variants folded for matching (lexicons are folded the same way): hamza-carrying alefs
# and alef wasla to bare alef, alef maqsura to ya. Teh marbuta is kept (it separates words).
LETTER_FOLDS = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي", "ک": "ك", "ھ": "ه"}
# Arabic comma/semicolon/question mark stay as they are; Latin comma folds to the Arabic one.
PUNCT_FOLDS = {",": "،", ";": "؛", "：": ":"}


def _build_tables() -> tuple[dict[str, str], dict[int, str], frozenset[str]]:
    light: dict[str, str] = {ch: '"' for ch in DOUBLE_QUOTES}
    light.update(ANGLE_QUOTES)
    light.update({ch: " " for ch in SPACES})
    folds = {ord(src): dst for src, dst in {**LETTER_FOLDS, **PUNCT_FOLDS}.items()}
    deletions = frozenset(INVISIBLES + TATWEEL) | AR_DIACRITICS
    return light, folds, deletions


# LIGHT: the rare characters every view maps (quotation marks, spaces); FOLDS: the frequent
# letter variants only the matching view folds. Both map one character to one.
LIGHT, FOLDS, DELETIONS = _build_tables()
ONE_TO_ONE = {ord(k): v for k, v in LIGHT.items()} | FOLDS
_LIGHT_RE = re.compile("[" + re.escape("".join(LIGHT)) + "]")
# Scraped text keeps HTML character references ("&quot;" for a quotation mark); the clean view
# reads them as the character they stand for, mapped to the reference's first raw character.
_ENTITY = r"&(?:#[0-9]{2,6}|#[xX][0-9a-fA-F]{2,5}|[a-zA-Z]{2,8})[;؛]"  # ";" is folded by then
_SPECIAL_CHARS = re.escape("".join(sorted(DELETIONS))) + "\ufb50-\ufdff\ufe70-\ufefe"
# Everything the clean view rewrites, in one pass over the raw text: a light character, a
# reference, or a special (one character to delete or expand). Written as one class first (a
# bare "&" is then no match), so that the regex engine skips from one candidate to the next.
# No light character is special or can be part of a reference, so the matches are the light
# characters plus the references and specials of the text with its light characters mapped.
_VIEW_RE = re.compile(
    "[&" + re.escape("".join(LIGHT)) + _SPECIAL_CHARS + "](?:(?<=&)" + _ENTITY[1:] + "|(?<!&))"
)
assert "&" not in DELETIONS and _ENTITY.startswith("&")
assert not set(LIGHT) & (DELETIONS | set("&#;؛" + string.ascii_letters + string.digits))


# Both maps send one character to one character that no map rewrites again, so applying them
# one character at a time (str.replace, C speed) is the same as str.translate, much faster.
_FOLD_PAIRS = tuple((chr(src), dst) for src, dst in FOLDS.items())
assert all(len(dst) == 1 and ord(dst) not in ONE_TO_ONE for dst in ONE_TO_ONE.values())

# Raw indices 0, 1, 2 ... shared by every origin map: a slice of it copies references to ints
# that already exist instead of making a new int a character (grown on demand, up to a cap).
_INDEX_CAP = 1 << 18
_indices: tuple[int, ...] = tuple(range(1 << 15))


def _index_table(n: int) -> Sequence[int]:
    """A sequence whose item i is i, for 0 <= i < n."""
    global _indices
    if n > len(_indices):
        if n > _INDEX_CAP:
            return range(n)
        _indices = tuple(range(max(n, min(2 * len(_indices), _INDEX_CAP))))
    return _indices


@lru_cache(maxsize=4096)
def _replacement(special: str) -> str:
    """What the clean view holds for a ``_VIEW_RE`` match that is not a light character: ""
    for a character to delete,
    the letters of a presentation form (ﻻ, ﷲ ... through camel-tools' Unicode normaliser),
    the character a reference stands for, or the match itself if it is not a reference after
    all ("&copy" without meaning)."""
    if len(special) == 1:
        if special in DELETIONS:
            return ""
        expanded = _light(normalize_unicode(special))
    else:
        ref = special[:-1] + ";"
        decoded = html.unescape(ref)
        if decoded == ref:
            return special
        expanded = _light(decoded)
    return "".join(c for c in expanded if c not in DELETIONS)


def _light(s: str) -> str:
    if not _LIGHT_RE.search(s):
        return s
    for ch in set(_LIGHT_RE.findall(s)):
        s = s.replace(ch, LIGHT[ch])
    return s


@dataclass(frozen=True, slots=True)
class CleanText:
    """A clean view of one raw string; ``origin[i]`` is the raw index of clean char ``i``."""

    raw: str
    text: str
    origin: tuple[int, ...] | None  # None: identity map (nothing deleted or expanded)

    def folded(self) -> CleanText:
        """The matching view: letter variants and Latin punctuation folded (one to one)."""
        text = self.text
        for src, dst in _FOLD_PAIRS:  # = text.translate(FOLDS)
            text = text.replace(src, dst)
        return CleanText(raw=self.raw, text=text, origin=self.origin)

    def to_raw(self, start: int, end: int) -> tuple[int, int]:
        """Map the clean span [start, end) to the smallest raw span holding the same characters."""
        if self.origin is None:
            return start, end
        if end <= start:
            pos = self.origin[start] if start < len(self.origin) else len(self.raw)
            return pos, pos
        # The raw span runs up to the next kept character, so a deleted mark that belongs to the
        # last letter (a tanween, the tail of "&quot;") stays inside it.
        stop = self.origin[end] if end < len(self.origin) else len(self.raw)
        last = self.origin[end - 1] + 1
        if stop < last or (stop > last and self.raw[last:stop].isspace()):
            stop = last  # inside one expanded character (ﻻ -> لا), or before white space
        return self.origin[start], stop

    def raw_span(self, start: int, end: int) -> tuple[int, int, str]:
        a, b = self.to_raw(start, end)
        return a, b, self.raw[a:b]


def clean_text(raw: str, fold_letters: bool = True) -> CleanText:
    """Normalise quotation marks, spaces, letter variants; drop tatweel, diacritics, invisibles.

    ``fold_letters=False`` gives the light view (no letter folding), enough to segment an
    article that the cascade will not analyse; ``CleanText.folded`` completes it later.
    """
    first = _VIEW_RE.search(raw)
    if first is None:
        view = CleanText(raw=raw, text=raw, origin=None)
        return view.folded() if fold_letters else view
    indices = _index_table(len(raw))
    pieces: list[str] = []
    origin: list[int] = []
    pos = 0  # raw[:pos] is in pieces
    mapped = 0  # raw[:mapped] is in origin (light characters map one to one: no entry needed)
    for m in _VIEW_RE.finditer(raw, first.start()):
        i, j = m.span()
        ch = m.group()
        if ch in LIGHT:
            pieces += (raw[pos:i], LIGHT[ch])
        else:
            rep = _replacement(ch)
            pieces += (raw[pos:i], rep)
            origin += indices[mapped:i]
            # An unchanged match keeps its own indices; a replacement maps to the first.
            origin += indices[i:j] if rep == ch else [i] * len(rep)
            mapped = j
        pos = j
    pieces.append(raw[pos:])
    if mapped:
        origin += indices[mapped : len(raw)]
    view = CleanText(raw=raw, text="".join(pieces), origin=tuple(origin) if mapped else None)
    return view.folded() if fold_letters else view


def fold(s: str) -> str:
    """The clean view of a lexicon entry, so lexicons and texts are matched in one form."""
    return clean_text(s).text


_LETTER_TABLE = {ord(k): v for k, v in LETTER_FOLDS.items()}
# The forms each folded character stands for, to match a folded pattern on an unfolded text.
_VARIANTS: dict[str, str] = {}
for _src, _dst in {**LETTER_FOLDS, **PUNCT_FOLDS}.items():
    _VARIANTS[_dst] = _VARIANTS.get(_dst, _dst) + _src


def fold_insensitive(pattern: str) -> str:
    """A folded regex that also matches unfolded text: "اضف" -> "[اأإآٱ]ضف" (classes included)."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        if c in _VARIANTS:
            out.append(_VARIANTS[c] if in_class else "[" + _VARIANTS[c] + "]")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def fold_pattern(pattern: str) -> str:
    """Fold the Arabic letters of a regex (punctuation untouched, so the syntax survives)."""
    return "".join(c for c in pattern.translate(_LETTER_TABLE) if c not in DELETIONS)
