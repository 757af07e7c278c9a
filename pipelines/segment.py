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


def paragraphs(text: str, keep: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Non-empty lines inside the kept regions, stripped of surrounding spaces."""
    out: list[tuple[int, int]] = []
    for ks, ke in keep:
        for m in re.finditer(r"[^\n]+", text[ks:ke]):
            a, b = ks + m.start(), ks + m.end()
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if b > a:
                out.append((a, b))
    return out


# A sentence ends at one full stop, question or exclamation mark followed by a space; a run of
# two or more dots ("في واشنطن.. "إن ...") is an ellipsis that introduces speech, not an end.
_SENT_END = re.compile(
    r"(?<!\.)[.!?؟]+(?!\.)(?=\s)|(?<![.])[.!?؟](?=$)|(?<=[\u0621-\u064a]{2})\.(?=[\u0621-\u064a]{2})"
)


def split_sentences(
    text: str, para: tuple[int, int], quotes: list[QuoteSpan]
) -> list[tuple[int, int]]:
    """Sentences of one paragraph; never split inside a paired quotation."""
    a, b = para
    inside = outer_quotes(quotes)
    cuts: list[int] = []
    for m in _SENT_END.finditer(text, a, b):
        if m.group().startswith("..") or text[m.start() : m.end()].count(".") >= 2:
            continue
        pos = m.end()
        if any(q.start < pos < q.end for q in inside):
            continue
        cuts.append(pos)
    out: list[tuple[int, int]] = []
    s = a
    for c in [*cuts, b]:
        e = c
        while s < e and text[s].isspace():
            s += 1
        if e > s:
            out.append((s, e))
        s = c
    return out


def segment_field(text: str, keep: list[tuple[int, int]]) -> list[Unit]:
    units: list[Unit] = []
    for p_index, para in enumerate(paragraphs(text, keep)):
        quotes = pair_quotes(text, *para)
        for s, e in split_sentences(text, para, quotes):
            inner = tuple(q for q in quotes if q.start >= s and q.end <= e)
            units.append(Unit(s, e, p_index, inner))
    return units
