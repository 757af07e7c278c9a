"""Segment stage: paragraphs, quotation-mark pairs and sentences over a clean field.

Quotation marks bound a quotation, full stops do not: a sentence break never falls inside a
paired quotation, so a quotation that runs over several sentences stays in one sentence unit.
"""

from __future__ import annotations

import re
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


_MARKS = re.compile('[«»"]')


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
    spans: list[QuoteSpan] = []
    stack: list[tuple[str, int]] = []  # (kind, position)
    for m in _MARKS.finditer(text, start, end):
        i = m.start()
        c = m.group()
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
_PARAGRAPH = re.compile(r"\S(?:[^\n]*\S)?")


def paragraphs(text: str, keep: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Non-empty lines inside the kept regions, stripped of surrounding spaces."""
    return [m.span() for ks, ke in keep for m in _PARAGRAPH.finditer(text, ks, ke)]


# A sentence ends at one full stop, question or exclamation mark followed by a space; a run of
# two or more dots ("في واشنطن.. "إن ...") is an ellipsis that introduces speech, not an end.
# The same three alternatives written after their common first character, so that the regex
# engine skips to the next mark instead of trying the look-behinds at every position:
# "(?<!\.)X" at p is "X(?<!\.X)" at p + 1, and "(?<=L{2})\." is "\.(?<=L{2}\.)".
_SENT_END = re.compile(
    r"[.!?؟](?:(?<!\.[.!?؟])[.!?؟]*(?!\.)(?=\s)|(?<!\.[.!?؟])(?=$)"
    r"|(?<=[\u0621-\u064a]{2}\.)(?=[\u0621-\u064a]{2}))"
)


def _sentence_cuts(text: str, a: int, b: int, inside: list[QuoteSpan]) -> list[int]:
    """Where sentences of the paragraph [a, b) end; ``inside``: its outer quotations, which
    are sorted and disjoint, so one pointer walks them along the increasing ends."""
    cuts: list[int] = []
    k = 0
    for m in _SENT_END.finditer(text, a, b):
        start, pos = m.span()
        # A run holding two or more dots is an ellipsis, not an end.
        if pos - start > 1 and text.count(".", start, pos) >= 2:
            continue
        if inside:  # any(q.start < pos < q.end for q in inside)
            while k < len(inside) and inside[k].end <= pos:
                k += 1
            if k < len(inside) and inside[k].start < pos:
                continue
        cuts.append(pos)
    return cuts


def _pieces(text: str, a: int, b: int, cuts: list[int]) -> list[tuple[int, int]]:
    """The spans between cuts, each without its leading white space; empty ones left out."""
    out: list[tuple[int, int]] = []
    s = a
    for c in cuts:
        while s < c and text[s].isspace():
            s += 1
        if c > s:
            out.append((s, c))
        s = c
    while s < b and text[s].isspace():
        s += 1
    if b > s:
        out.append((s, b))
    return out


def split_sentences(
    text: str, para: tuple[int, int], quotes: list[QuoteSpan]
) -> list[tuple[int, int]]:
    """Sentences of one paragraph; never split inside a paired quotation."""
    a, b = para
    return _pieces(text, a, b, _sentence_cuts(text, a, b, outer_quotes(quotes) if quotes else []))


def segment_field(text: str, keep: list[tuple[int, int]]) -> list[Unit]:
    units: list[Unit] = []
    append = units.append
    # Only a text holding a quotation mark can hold a paired quotation.
    marks = '"' in text or "«" in text or "»" in text
    for p_index, (a, b) in enumerate(paragraphs(text, keep)):
        quotes = pair_quotes(text, a, b) if marks else []
        if quotes:
            for s, e in _pieces(text, a, b, _sentence_cuts(text, a, b, outer_quotes(quotes))):
                inner = tuple(q for q in quotes if q.start >= s and q.end <= e)
                append(Unit(s, e, p_index, inner))
            continue
        # split_sentences without quotations, its pieces made units as they are found
        s = a
        for c in _sentence_cuts(text, a, b, []):
            while s < c and text[s].isspace():
                s += 1
            if c > s:
                append(Unit(s, c, p_index, ()))
            s = c
        while s < b and text[s].isspace():
            s += 1
        if b > s:
            append(Unit(s, b, p_index, ()))
    return units
