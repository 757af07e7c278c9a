"""Compose the text stages over batches of articles.

clean_articles -> segment_articles -> detect_quotations -> attribute_quotations

Each batch function takes the previous one's output list, so a flow can run each stage as one
task per batch. Only articles that can mention one of the five go through detection and
attribution (the cascade, ``speakers.may_mention_five``: a literal prefilter for surnames,
office and counterpart words, then a scan that requires a name of the five, or an office or
counterpart of one of their countries, in the title or the text); every article gets its
sentences.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipelines.attribute import FieldContext, attribute
from pipelines.clean import CleanText, clean_text
from pipelines.furniture import find_furniture
from pipelines.quotes import Candidate, detect_field
from pipelines.records import Article, ArticleAnalysis, DroppedSpan, Quote, Sentence
from pipelines.segment import Unit, pair_quotes, segment_field, sentence_spans, title_span
from pipelines.speakers import (
    Mention,
    bound_offices,
    find_mentions,
    load_registry,
    may_mention_five,
    passes_prefilter,
)


@dataclass(frozen=True, slots=True)
class CleanField:
    name: str  # "title" | "text"
    clean: CleanText
    keep: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class CleanArticle:
    article: Article
    fields: tuple[CleanField, ...]
    dropped: tuple[DroppedSpan, ...]
    candidate: bool  # may hold a quotation by the five (speakers.may_mention_five)


@dataclass(frozen=True, slots=True)
class SegmentedArticle:
    cleaned: CleanArticle
    units: tuple[tuple[Unit, ...], ...]  # per field; empty for an article that is not a candidate
    sentences: tuple[Sentence, ...]
    first_index: tuple[int, ...]  # global sentence index of each field's first unit


@dataclass(frozen=True, slots=True)
class DetectedArticle:
    segmented: SegmentedArticle
    mentions: tuple[tuple[Mention, ...], ...]  # per field
    candidates: tuple[Candidate, ...]


# --- stage 2 + 3: clean, furniture -------------------------------------------------------------


def clean_article(article: Article) -> CleanArticle:
    fields: list[CleanField] = []
    dropped: list[DroppedSpan] = []
    # The light view (no letter folding) is enough to segment; only articles that pass the
    # cascade's literal prefilter pay for folding, which the mention scan and matching need.
    # They keep the folded view even when the scan then rejects them.
    views: list[tuple[str, CleanText]] = []
    if article.title and article.title.strip():
        views.append(("title", clean_text(article.title, fold_letters=False)))
    views.append(("text", clean_text(article.text, fold_letters=False)))
    candidate = False
    if any(passes_prefilter(ct.text) for _, ct in views):
        views = [(name, ct.folded()) for name, ct in views]
        candidate = may_mention_five(*(ct.text for _, ct in views))
    for name, ct in views:
        if name == "title":
            fields.append(CleanField("title", ct, ((0, len(ct.text)),)))
            continue
        keep, drops = find_furniture(ct.text)
        for a, b, reason in drops:
            ra, rb = ct.to_raw(a, b)
            dropped.append(DroppedSpan("text", ra, rb, reason))
        fields.append(CleanField("text", ct, tuple(keep)))
    return CleanArticle(article, tuple(fields), tuple(dropped), candidate)


def clean_articles(articles: Sequence[Article]) -> list[CleanArticle]:
    return [clean_article(a) for a in articles]


# --- stage 4: segment --------------------------------------------------------------------------


def _title_units(text: str) -> list[Unit]:
    """A title is one unit whatever its punctuation: headlines hold one statement."""
    span = title_span(text)
    return [Unit(*span, 0, tuple(pair_quotes(text, *span)))] if span else []


def segment_article(cleaned: CleanArticle) -> SegmentedArticle:
    """Sentences of every field; units, with the quotations inside them, only for a candidate.

    detect_article reads no unit of an article that is not a candidate (98% of them), which
    therefore gets an empty tuple per field: its units would cost their making, and then
    garbage-collector passes over many objects alive until the batch ends.
    """
    art = cleaned.article
    all_units: list[tuple[Unit, ...]] = []
    sentences: list[Sentence] = []
    first: list[int] = []
    for f in cleaned.fields:
        text = f.clean.text
        units: list[Unit] = []
        if cleaned.candidate:
            units = _title_units(text) if f.name == "title" else segment_field(text, f.keep)
            spans = [(u.start, u.end, u.paragraph_index) for u in units]
        elif f.name == "title":
            span = title_span(text)
            spans = [(*span, 0)] if span else []
        else:
            spans = sentence_spans(text, f.keep)
        first.append(len(sentences))
        raw_span = f.clean.raw_span
        sentences += [
            Sentence(art.article_id, f.name, i, p_index, *raw_span(start, end))
            for i, (start, end, p_index) in enumerate(spans, len(sentences))
        ]
        all_units.append(tuple(units))
    return SegmentedArticle(cleaned, tuple(all_units), tuple(sentences), tuple(first))


def segment_articles(cleaned: Sequence[CleanArticle]) -> list[SegmentedArticle]:
    return [segment_article(c) for c in cleaned]


# --- stage 5: quotations -----------------------------------------------------------------------


def detect_article(seg: SegmentedArticle) -> DetectedArticle:
    if not seg.cleaned.candidate:
        return DetectedArticle(seg, tuple(() for _ in seg.units), ())
    mentions: list[tuple[Mention, ...]] = []
    candidates: list[Candidate] = []
    for f, units in zip(seg.cleaned.fields, seg.units, strict=True):
        ms = find_mentions(f.clean.text)
        candidates.extend(detect_field(f.clean.text, f.name, list(units), ms))
        mentions.append(tuple(ms))
    return DetectedArticle(seg, tuple(mentions), tuple(candidates))


def detect_quotations(segmented: Sequence[SegmentedArticle]) -> list[DetectedArticle]:
    return [detect_article(s) for s in segmented]


# --- stage 6: attribution ----------------------------------------------------------------------


def _quote_id(article_id: str, field: str, start: int, end: int, speaker: str | None) -> str:
    key = f"{article_id}|{field}|{start}|{end}|{speaker or ''}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


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


def attribute_article(det: DetectedArticle) -> ArticleAnalysis:
    seg = det.segmented
    art = seg.cleaned.article
    base = ArticleAnalysis(article=art, sentences=seg.sentences, dropped=seg.cleaned.dropped)
    if not det.candidates:
        return base
    registry = load_registry()
    fields = {
        f.name: (f, ms, first)
        for f, ms, first in zip(seg.cleaned.fields, det.mentions, seg.first_index, strict=True)
    }
    named = {m.speaker_id for ms in det.mentions for m in ms if m.kind == "name" and m.speaker_id}
    bound: dict[tuple[str, str], str] = {}
    for f, ms in zip(seg.cleaned.fields, det.mentions, strict=True):
        for k, v in bound_offices(f.clean.text, list(ms)).items():
            bound.setdefault(k, v)
    contexts = {
        name: FieldContext(f.clean.text, list(ms), art.published_date, registry, bound, named)
        for name, (f, ms, _) in fields.items()
    }
    quotes: list[Quote] = []
    clean_texts: dict[int, str] = {}
    for cand in det.candidates:
        f, _, first = fields[cand.field]
        ct = f.clean
        ctx = contexts[cand.field]
        qa, qb, qtext = ct.raw_span(cand.content_start, cand.content_end)
        ca, cb, cue_text = ct.raw_span(cand.cue_start, cand.cue_end)
        for att in attribute(cand, ctx):
            if att.holder is not None:  # an office's untracked holder, named by the registry
                ma, mb, mtext = None, None, att.holder
            elif att.mention is not None:
                ma, mb, mtext = ct.raw_span(att.mention.start, att.mention.end)
            elif att.other_span is not None:
                ma, mb, mtext = ct.raw_span(*att.other_span)
            else:
                ma = mb = mtext = None
            clean_texts[len(quotes)] = ct.text[cand.content_start : cand.content_end]
            quotes.append(
                Quote(
                    quote_id=_quote_id(art.article_id, cand.field, qa, qb, att.speaker_id),
                    article_id=art.article_id,
                    source_name=art.source_name,
                    field=cand.field,
                    speaker_id=att.speaker_id,
                    speaker_mention=mtext,
                    mention_start=ma,
                    mention_end=mb,
                    quote_text=qtext,
                    char_start=qa,
                    char_end=qb,
                    quote_type=cand.quote_type,
                    cue=cue_text,
                    cue_start=ca,
                    cue_end=cb,
                    attribution_method=att.method,
                    rule=cand.rule,
                    confidence=min(1.0, max(0.0, att.confidence)),
                    sentence_index=first + cand.unit_index,
                    published_date=art.published_date,
                )
            )
    return replace(base, quotes=tuple(deduplicate(quotes, clean_texts)))


def attribute_quotations(detected: Sequence[DetectedArticle]) -> list[ArticleAnalysis]:
    return [attribute_article(d) for d in detected]


def analyse_articles(articles: Sequence[Article]) -> list[ArticleAnalysis]:
    """All four stages in one call (tests, notebooks)."""
    return attribute_quotations(detect_quotations(segment_articles(clean_articles(articles))))
