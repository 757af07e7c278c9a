"""Segment stage: paragraphs, quotation-mark pairs and sentences over a clean field.

Quotation marks bound a quotation, full stops do not: a sentence break never falls inside a
paired quotation, so a quotation that runs over several sentences stays in one sentence unit.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

# Characters that may stand right before an opening mark: a one-letter clitic written
# against the mark (فـ"، و"، لـ"، بـ") after tatweel removal, or an opening bracket.
_CLITICS = set("وفلبك")
_OPEN_CONTEXT = set(" \n:([«،؛-—") | _CLITICS


@dataclass(frozen=True, slots=True)
class QuoteSpan:
    """A paired quotation: marks at ``start`` and ``end - 1``; content is (start+1, end-1)."""

    start: int
    end: int

    @property
    def inner(self) -> tuple[int, int]:
        return self.start + 1, self.end - 1


@dataclass(frozen=True, slots=True)
class Unit:
    """A sentence in clean coordinates, with its paragraph and the paired quotes inside it."""

    start: int
    end: int
    paragraph_index: int
    quotes: tuple[QuoteSpan, ...]


def _is_word_char(c: str) -> bool:
    return c.isalnum()


def _mark_role(text: str, i: int) -> str:
    """Say whether an undirected '"' at i opens, closes, or cannot tell (from its neighbours)."""
    prev = text[i - 1] if i > 0 else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    # A clitic letter glued to the mark opens it only when the letter is a word start ("فـ”").
    clitic_before = prev in _CLITICS and (i < 2 or not _is_word_char(text[i - 2]))
    after_boundary = (prev in _OPEN_CONTEXT and prev not in _CLITICS) or clitic_before
    if after_boundary and not nxt.isspace():
        return "open"
    if not prev.isspace() and not after_boundary and (nxt.isspace() or not _is_word_char(nxt)):
        return "close"
    return "either"


def _mark_positions(text: str, start: int = 0, end: int | None = None) -> list[int]:
    """Where the quotation marks of text[start:end] stand, in order (str.find runs at C speed
    where a regex tries its character class at every position)."""
    positions: list[int] = []
    end = len(text) if end is None else end
    for mark in '"«»':
        i = text.find(mark, start, end)
        while i >= 0:
            positions.append(i)
            i = text.find(mark, i + 1, end)
    positions.sort()
    return positions


def _spaced_scare_quote(text: str, i: int, end: int) -> bool:
    """A free-standing mark that a second one closes within three words, with the sentence
    going on after it, opens a nested scare quote rather than closing the outer quotation."""
    j = text.find('"', i + 1, min(end, i + 40))
    if j < 0 or len(re.findall(r"\w+", text[i + 1 : j])) > 3:
        return False
    rest = text[j + 1 : j + 4]
    return bool(rest.strip()) and rest.lstrip()[:1].isalnum()


def pair_quotes(text: str, start: int, end: int) -> list[QuoteSpan]:
    """Pair quotation marks inside one paragraph; unbalanced marks are left unpaired."""
    return _pair_marks(text, _mark_positions(text, start, end), end)


def _pair_marks(text: str, positions: list[int], end: int) -> list[QuoteSpan]:
    """pair_quotes over the marks at ``positions``, all of them in one paragraph ending at end."""
    spans: list[QuoteSpan] = []
    stack: list[tuple[str, int]] = []  # (kind, position)
    for i in positions:
        c = text[i]
        if c == "«":
            stack.append(("«", i))
        elif c == "»":
            # Close the innermost guillemet; drop undirected marks left open inside it.
            while stack and stack[-1][0] != "«":
                stack.pop()
            if stack:
                spans.append(QuoteSpan(stack.pop()[1], i + 1))
        else:
            role = _mark_role(text, i)
            top_is_dq = bool(stack) and stack[-1][0] == '"'
            if role == "either" and top_is_dq and _spaced_scare_quote(text, i, end):
                role = "open"  # '" ... على " داعش " والقضاء ...': a nested scare quote, spaced
            if role == "open" or (role == "either" and not top_is_dq):
                stack.append(('"', i))
            elif top_is_dq:
                spans.append(QuoteSpan(stack.pop()[1], i + 1))
    return sorted(spans, key=lambda s: (s.start, -s.end))


def outer_quotes(spans: list[QuoteSpan]) -> list[QuoteSpan]:
    """The quotations not nested in another one."""
    out: list[QuoteSpan] = []
    for s in spans:
        if out and s.start < out[-1].end:
            continue
        out.append(s)
    return out


# A paragraph: a line stripped of its surrounding white space ("\S" is exactly not
# str.isspace); no look-around, so searching within (pos, endpos) equals searching a slice.
# Furniture reads its lines with it too.
PARAGRAPH = re.compile(r"\S(?:[^\n]*\S)?")


def paragraphs(text: str, keep: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Non-empty lines inside the kept regions, stripped of surrounding spaces."""
    return [m.span() for ks, ke in keep for m in PARAGRAPH.finditer(text, ks, ke)]


# A sentence ends at one full stop, question or exclamation mark followed by a space; a run of
# two or more dots ("في واشنطن.. "إن ...") is an ellipsis that introduces speech, not an end.
# The same three alternatives written after their common first character, so that the regex
# engine skips to the next mark instead of trying the look-behinds at every position:
# "(?<!\.)X" at p is "X(?<!\.X)" at p + 1, and "(?<=L{2})\." is "\.(?<=L{2}\.)".
_SENT_END = re.compile(
    r"[.!?؟](?:(?<!\.[.!?؟])[.!?؟]*(?!\.)(?=\s)|(?<!\.[.!?؟])(?=$)"
    r"|(?<=[\u0621-\u064a]{2}\.)(?=[\u0621-\u064a]{2}))"
)


def _stops(text: str, start: int, end: int) -> list[int]:
    """Where a sentence may end in [start, end): after each stop that is not an ellipsis.

    A stop holds no white space, so it never runs from one paragraph into the next: scanning
    a whole kept region gives, inside each of its paragraphs, the stops that scanning the
    paragraph alone gives. Only a stop that ends the paragraph may differ (the look-aheads see
    the next character instead of the end), and a cut there changes nothing.
    """
    stops: list[int] = []
    for m in _SENT_END.finditer(text, start, end):
        s, e = m.span()
        # A run holding two or more dots is an ellipsis, not an end.
        if e - s == 1 or text.count(".", s, e) < 2:
            stops.append(e)
    return stops


def _outside(stops: list[int], inside: list[QuoteSpan]) -> list[int]:
    """The stops that fall inside no quotation of ``inside``; as quotations are sorted and
    disjoint, one pointer walks them along the increasing stops."""
    cuts: list[int] = []
    k = 0
    n = len(inside)
    for pos in stops:  # keep pos unless any(q.start < pos < q.end for q in inside)
        while k < n and inside[k].end <= pos:
            k += 1
        if k == n or inside[k].start >= pos:
            cuts.append(pos)
    return cuts


def _sentence_cuts(text: str, a: int, b: int, inside: list[QuoteSpan]) -> list[int]:
    """Where sentences of the paragraph [a, b) end; ``inside``: its outer quotations."""
    return _outside(_stops(text, a, b), inside)


def _add_pieces(
    text: str, a: int, b: int, cuts: list[int], p_index: int, out: list[tuple[int, int, int]]
) -> None:
    """Add to ``out`` (start, end, p_index) for each span of [a, b) between cuts, without its
    leading white space; empty ones left out."""
    s = a
    for c in cuts:
        while s < c and text[s].isspace():
            s += 1
        if c > s:
            out.append((s, c, p_index))
        s = c
    while s < b and text[s].isspace():
        s += 1
    if b > s:
        out.append((s, b, p_index))


def split_sentences(
    text: str, para: tuple[int, int], quotes: list[QuoteSpan]
) -> list[tuple[int, int]]:
    """Sentences of one paragraph; never split inside a paired quotation."""
    a, b = para
    pieces: list[tuple[int, int, int]] = []
    cuts = _sentence_cuts(text, a, b, outer_quotes(quotes) if quotes else [])
    _add_pieces(text, a, b, cuts, 0, pieces)
    return [(s, e) for s, e, _ in pieces]


def _segment(
    text: str, keep: Sequence[tuple[int, int]], pair_all: bool
) -> tuple[list[tuple[int, int, int]], dict[int, list[QuoteSpan]]]:
    """split_sentences over each paragraph of the kept regions: (start, end, paragraph index)
    of each sentence, and the paired quotations by paragraph index. Stops and marks are found
    once for a region or the text, not once per paragraph.

    With ``pair_all`` every paragraph holding a mark is paired; without, only those where a
    pair can hold a stop, that is with a stop between their first and last marks: elsewhere
    the pairs change no cut.
    """
    spans: list[tuple[int, int, int]] = []
    paired: dict[int, list[QuoteSpan]] = {}
    marks = _mark_positions(text)
    p_index = -1
    for ks, ke in keep:
        stops = _stops(text, ks, ke)
        k = 0
        for m in PARAGRAPH.finditer(text, ks, ke):
            a, b = m.span()
            p_index += 1
            first = bisect_right(stops, a, k)  # past the end of an earlier paragraph
            k = bisect_left(stops, b, first)
            cuts = stops[first:k]
            if marks:
                lo = bisect_left(marks, a)
                hi = bisect_left(marks, b, lo)
                if hi > lo and (
                    pair_all or bisect_right(cuts, marks[lo]) < bisect_right(cuts, marks[hi - 1])
                ):
                    quotes = paired[p_index] = _pair_marks(text, marks[lo:hi], b)
                    if quotes:
                        cuts = _outside(cuts, outer_quotes(quotes))
            _add_pieces(text, a, b, cuts, p_index, spans)
    return spans, paired


def segment_field(text: str, keep: Sequence[tuple[int, int]]) -> list[Unit]:
    """The sentence units of the kept regions, each with the paired quotations inside it."""
    spans, paired = _segment(text, keep, pair_all=True)
    return [
        Unit(s, e, p, tuple(q for q in paired.get(p, ()) if q.start >= s and q.end <= e))
        for s, e, p in spans
    ]


def sentence_spans(text: str, keep: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(start, end, paragraph index) of each unit segment_field gives, without building the
    unit: all that an article not analysed for quotations needs."""
    return _segment(text, keep, pair_all=False)[0]


def title_span(text: str) -> tuple[int, int] | None:
    """A title is one unit whatever its punctuation (headlines hold one statement): the whole
    text without its surrounding white space; None when nothing is left."""
    a = len(text) - len(text.lstrip())  # str.strip removes exactly what str.isspace accepts
    b = len(text.rstrip())
    return (a, b) if b > a else None
