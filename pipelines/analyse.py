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

from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipelines.attribute import DetectedField, attribute_quotes
from pipelines.clean import CleanText, clean_text
from pipelines.furniture import find_furniture
from pipelines.quotes import Candidate, detect_field
from pipelines.records import Article, ArticleAnalysis, DroppedSpan, Sentence
from pipelines.segment import Unit, pair_quotes, segment_field, sentence_spans, title_span
from pipelines.speakers import Mention, find_mentions, may_mention_five, passes_prefilter


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


def attribute_article(det: DetectedArticle) -> ArticleAnalysis:
    """The article's records: its sentences and dropped spans, and its attributed quotations."""
    seg = det.segmented
    base = ArticleAnalysis(
        article=seg.cleaned.article, sentences=seg.sentences, dropped=seg.cleaned.dropped
    )
    if not det.candidates:
        return base
    fields = [
        DetectedField(f.name, f.clean, ms, first)
        for f, ms, first in zip(seg.cleaned.fields, det.mentions, seg.first_index, strict=True)
    ]
    return replace(base, quotes=tuple(attribute_quotes(base.article, fields, det.candidates)))


def attribute_quotations(detected: Sequence[DetectedArticle]) -> list[ArticleAnalysis]:
    return [attribute_article(d) for d in detected]
