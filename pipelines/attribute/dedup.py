"""A statement an article repeats near-verbatim is one row (:func:`deduplicate`)."""

from __future__ import annotations

import math
import re
from collections import Counter

from pipelines.records import Quote

_WORD = re.compile(r"\w+")


def _tokens(s: str) -> list[str]:
    return _WORD.findall(s)


def _overlap(common: int, a: int, b: int) -> float:
    """Token F1 of two statements of ``a`` and ``b`` tokens sharing ``common`` (as multisets):
    the measure ANNOTATION.md scores with."""
    if not a or not b or common == 0:
        return 0.0
    p, r = common / a, common / b
    return 2 * p * r / (p + r)


def _contained(common: int, a: int, b: int, min_ratio: float = 0.5) -> float:
    """Share of the shorter statement's tokens found in the longer: a lead that repeats most
    of a later, fuller quotation word for word is the same statement."""
    if not a or not b:
        return 0.0
    short, long_ = (a, b) if a <= b else (b, a)
    if short < min_ratio * long_:
        return 0.0  # a phrase taken from a longer quotation is a statement of its own
    return common / short


def _common(a: Counter[str], b: Counter[str]) -> int:
    """Size of the multiset intersection of two token counts."""
    if len(a) > len(b):
        a, b = b, a
    return sum(min(n, b[t]) for t, n in a.items() if t in b)


# Every near-duplicate test below needs at least this share of the shorter statement's tokens
# in common (F1 >= 0.8 needs 0.8, containment 0.9); lower, so float rounding cannot matter.
_MIN_SHARED = 0.75
# A title and a body statement are one record only when they have the same tokens.
_SAME_WORDS = 1.0
# Rarest tokens a kept statement must share with a new one to be compared (count filtering).
_HITS = 2


def _prefix(ranked: list[str]) -> tuple[Counter[str], int]:
    """The rarest tokens of a statement (``ranked``: its tokens rarest first), and how many
    of them (with repeats) any statement sharing ``_MIN_SHARED`` of its tokens holds."""
    n = len(ranked)
    shared = math.ceil(_MIN_SHARED * n)
    k = min(n, n - shared + _HITS)
    return Counter(ranked[:k]), k - (n - shared)


def _is_duplicate(qi: Quote, qj: Quote, common: int, ni: int, nj: int) -> bool:
    """Whether ``qi`` restates the kept ``qj`` (same speaker; ``common`` of ``ni`` and ``nj``
    tokens shared)."""
    # A headline restating the body in other words is a record of its own.
    headline = "headline" in (qi.quote_type, qj.quote_type) or "title" in (qi.field, qj.field)
    if headline and qi.field != qj.field:
        # A title restating a body sentence is a record of its own unless it is the same
        # words: "لافروف: أميركا لا تعتزم مغادرة سوريا" over "... مغادرة سوريا قريبا".
        return _overlap(common, ni, nj) >= _SAME_WORDS
    # A lead that quotes, in quotation marks, words of a later fuller quotation.
    quoted_excerpt = qi.quote_type == "direct" and _contained(common, ni, nj, 0.0) >= 0.9
    return _overlap(common, ni, nj) >= (0.9 if headline else 0.8) or (
        not headline and (quoted_excerpt or _contained(common, ni, nj) >= 0.9)
    )


def deduplicate(quotes: list[Quote], clean_texts: dict[int, str]) -> list[Quote]:
    """A statement repeated near-verbatim in one article (a repeated body, a lead repeating a
    later sentence, a headline restating it) is one row: keep the body's fullest form.

    Quotations are taken fullest first; one is dropped when it restates one kept before it.
    Only kept quotations that can share enough tokens are compared (prefix and count
    filtering over tokens ordered rarest first, by length): an article of thousands of
    quotations compares a few pairs per quotation, not every pair. What remains grows with
    how many kept ones share each rare token (the square of the count over the vocabulary).
    """
    order = sorted(
        range(len(quotes)),
        key=lambda i: (
            quotes[i].quote_type == "headline",
            -len(quotes[i].quote_text),
            -quotes[i].confidence,
            i,
        ),
    )
    tokens = [_tokens(clean_texts[i]) for i in range(len(quotes))]
    counts = [Counter(t) for t in tokens]
    frequency: Counter[str] = Counter()
    for c in counts:
        frequency.update(c.keys())
    rank = {t: (n, t) for t, n in frequency.items()}
    # Per speaker, token -> length -> (kept quotation of that many tokens, its count of the
    # token), over each kept one's tokens (``holding``) and over its rarest (``prefixed``).
    holding: dict[str | None, dict[str, dict[int, list[tuple[int, int]]]]] = {}
    prefixed: dict[str | None, dict[str, dict[int, list[tuple[int, int]]]]] = {}
    needed: dict[int, int] = {}
    kept: list[int] = []
    for i in order:
        qi, ni = quotes[i], len(tokens[i])
        by_token = holding.setdefault(qi.speaker_id, {})
        by_prefix = prefixed.setdefault(qi.speaker_id, {})
        prefix, needed[i] = _prefix(sorted(tokens[i], key=rank.__getitem__))
        # Only a direct quotation may be an excerpt of any length (quoted_excerpt); any other
        # near-duplicate pair is at most twice as long as the other (F1, _contained's ratio).
        direct = qi.quote_type == "direct"
        longer: dict[int, int] = {}  # kept ones at least as long as this one: shared prefix
        for t, m in prefix.items():
            for length, postings in by_token.get(t, {}).items():
                if length >= ni and (direct or length <= 2 * ni):
                    for j, n in postings:
                        longer[j] = longer.get(j, 0) + min(m, n)
        shorter: dict[int, int] = {}  # kept ones shorter than this one: their prefix shared
        for t, m in counts[i].items():
            for length, postings in by_prefix.get(t, {}).items():
                if length < ni and (direct or 2 * length >= ni):
                    for j, n in postings:
                        shorter[j] = shorter.get(j, 0) + min(m, n)
        candidates = [j for j, h in longer.items() if h >= needed[i]]
        candidates += [j for j, h in shorter.items() if h >= needed[j]]
        if any(
            _is_duplicate(qi, quotes[j], _common(counts[i], counts[j]), ni, len(tokens[j]))
            for j in candidates
        ):
            continue
        kept.append(i)
        for t, n in counts[i].items():
            by_token.setdefault(t, {}).setdefault(ni, []).append((i, n))
        for t, n in prefix.items():
            by_prefix.setdefault(t, {}).setdefault(ni, []).append((i, n))
    return [
        quotes[i]
        for i in sorted(kept, key=lambda i: (quotes[i].field != "title", quotes[i].char_start))
    ]
