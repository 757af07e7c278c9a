"""An article's quotation rows: one per candidate and speaker (:func:`attribute_quotes`), its
spans in raw offsets, its id stable across runs (:func:`quote_id`), statements the article
repeats kept once (:mod:`pipelines.attribute.dedup`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.attribute import dedup
from pipelines.attribute.resolve import Attribution, FieldContext, attribute
from pipelines.clean import CleanText
from pipelines.quotes import Candidate
from pipelines.records import Article, MentionKind, Quote
from pipelines.speakers import Mention, bound_offices, load_registry


@dataclass(frozen=True, slots=True)
class DetectedField:
    """One field of an article as detection leaves it."""

    name: str  # "title" | "text"
    clean: CleanText
    mentions: Sequence[Mention]
    first_sentence: int  # the article-wide index of the field's first sentence


def quote_id(article_id: str, field: str, start: int, end: int, speaker: str | None) -> str:
    """A quotation's id: the same span of the same article by the same speaker, in any run."""
    key = f"{article_id}|{field}|{start}|{end}|{speaker or ''}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def field_contexts(article: Article, fields: Sequence[DetectedField]) -> dict[str, FieldContext]:
    """What attribution may know in each field: offices bound by apposition anywhere in the
    article (the first field binding one wins), and the five it names."""
    registry = load_registry()
    mentions = [m for f in fields for m in f.mentions]
    named = {m.speaker_id for m in mentions if m.kind == MentionKind.NAME and m.speaker_id}
    date = article.published_date
    if date is not None:
        # "المعلم للإبراهيمي: ..." over a body that says "وزير الخارجية السوري": the office,
        # held by al-Muallem on the article's date, names him as well as his full name would.
        for m in mentions:
            if m.kind == MentionKind.ROLE and m.role and m.country and not m.former:
                holder = registry.office_holder(m.role, m.country, date)
                if holder and holder != "other":
                    named.add(holder)
    bound: dict[tuple[str, str], str] = {}
    for f in fields:
        for k, v in bound_offices(f.clean.text, list(f.mentions)).items():
            bound.setdefault(k, v)
    late = frozenset(
        sid for f in fields if f.name == "text" for sid in named if _surname_first(f.mentions, sid)
    )
    return {
        f.name: FieldContext(
            f.clean.text,
            list(f.mentions),
            date,
            registry,
            bound,
            named,
            late if f.name == "title" else frozenset(),
        )
        for f in fields
    }


def _surname_first(mentions: Sequence[Mention], speaker_id: str) -> bool:
    """The field uses the bare surname (``WEAK_NAME``) before it names the speaker in full."""
    for m in mentions:
        if m.speaker_id == speaker_id and m.kind in (MentionKind.NAME, MentionKind.WEAK_NAME):
            return m.kind == MentionKind.WEAK_NAME and any(
                x.speaker_id == speaker_id and x.kind == MentionKind.NAME for x in mentions
            )
    return False


def attribute_quotes(
    article: Article, fields: Sequence[DetectedField], candidates: Sequence[Candidate]
) -> list[Quote]:
    """The article's quotation rows: one per candidate and speaker, spans in raw offsets,
    statements the article repeats kept once (:func:`deduplicate`)."""
    if not candidates:
        return []
    by_name = {f.name: f for f in fields}
    contexts = field_contexts(article, fields)
    quotes: list[Quote] = []
    clean_texts: dict[int, str] = {}
    for cand in candidates:
        f = by_name[cand.field]
        ct = f.clean
        qa, qb, qtext = ct.raw_span(cand.content_start, cand.content_end)
        ca, cb, cue_text = ct.raw_span(cand.cue_start, cand.cue_end)
        for att in attribute(cand, contexts[cand.field]):
            ma, mb, mtext = _mention_span(ct, att)
            clean_texts[len(quotes)] = ct.text[cand.content_start : cand.content_end]
            quotes.append(
                Quote(
                    quote_id=quote_id(article.article_id, cand.field, qa, qb, att.speaker_id),
                    article_id=article.article_id,
                    source_name=article.source_name,
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
                    sentence_index=f.first_sentence + cand.unit_index,
                    published_date=article.published_date,
                )
            )
    return dedup.deduplicate(quotes, clean_texts)


def _mention_span(
    ct: CleanText, att: Attribution
) -> tuple[int, int, str] | tuple[None, None, str | None]:
    """The raw span and text of who the attribution names: an office's untracked holder (the
    registry's name for them, no span), a mention, another person's span, or nobody (a
    continuation with no antecedent)."""
    if att.holder is not None:
        return None, None, att.holder
    if att.mention is not None:
        return ct.raw_span(att.mention.start, att.mention.end)
    if att.other_span is not None:
        return ct.raw_span(*att.other_span)
    return None, None, None
