"""Attribution stage: an article's candidates become its quotation rows.

Each candidate's grammatical subject becomes a speaker id (:func:`attribute`): names resolve
directly; offices ("وزير الخارجية الأمريكي") through what the article binds by apposition, else
through the registry's tenure dates at the article's date; "الأخير" and "نظيره ..." to an
earlier mention; dropped subjects to the last explicit subject. Anyone else gets
``speaker_id = None`` with the mention text kept. :func:`attribute_quotes` then makes one
:class:`Quote` per (candidate, speaker), in raw offsets with a stable :func:`quote_id`, and
:func:`deduplicate` keeps one row of a statement the article repeats.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipelines.clean import CleanText
from pipelines.cues import load_cues
from pipelines.quotes import Candidate, Subject
from pipelines.records import Article, MentionKind, Quote, RuleName, SubjectMode
from pipelines.speakers import Mention, Registry, bound_offices, load_registry

K = MentionKind
M = SubjectMode

METHOD_CONFIDENCE = {
    "name": 0.95,
    "headline": 0.9,
    "role_bound": 0.9,
    "alias": 0.85,
    "role": 0.85,
    "coreference": 0.8,
    "continuation": 0.75,
    "other": 0.8,
}
# How sure the detection rule is that the span is speech at all (every rule has an entry).
RULE_CONFIDENCE: dict[RuleName, float] = {
    "headline_colon": 1.0,
    "according_to": 1.0,
    "cue_quote": 1.0,
    "cue_quote_unclosed": 0.9,  # speech is marked, but where it ends is guessed
    "cue_colon_unmarked": 0.85,
    "cue_comp": 1.0,
    "cue_comp_quote": 1.0,
    "cue_comp_mixed": 1.0,
    "cue_nominal": 0.9,
    "cue_first_person": 1.0,
    "cue_comma_first_person": 0.8,
}
# The word after a bare title, looked for within 40 characters (one word and its space).
NEXT_WORD_CHARS = 40


@dataclass(frozen=True, slots=True)
class Attribution:
    speaker_id: str | None
    mention: Mention | None
    other_span: tuple[int, int] | None
    method: str
    confidence: float
    # An office's holder on the article's date whom the registry does not track: his or her
    # name becomes the quote's speaker_mention (speaker_id null).
    holder: str | None = None


@dataclass
class FieldContext:
    """What attribution may know about one article field."""

    text: str
    mentions: list[Mention]
    date: dt.date | None
    registry: Registry
    bound: dict[tuple[str, str], str]
    named: set[str]  # the five named (strongly) anywhere in the article

    def resolve(self, m: Mention, depth: int = 0) -> tuple[str | None, str, float]:
        """(speaker_id or None, method, confidence) for one mention."""
        if m.kind == K.NAME:
            return m.speaker_id, "name", METHOD_CONFIDENCE["name"]
        if m.kind == K.WEAK_NAME:
            # Bare "المعلم" is also "the teacher": al-Muallem only where the article names him.
            if m.speaker_id in self.named and self.registry.in_tenure(m.speaker_id, self.date):
                return m.speaker_id, "alias", METHOD_CONFIDENCE["alias"]
            return None, "other", METHOD_CONFIDENCE["other"]
        if m.kind == K.ROLE:
            return self.resolve_office(m.role, m.country, m.former, m.start)
        if m.kind == K.GENERIC:
            return self.resolve_generic(m)
        if m.kind == K.COUNTERPART:
            role = self.counterpart_role(m.start)
            sid, method, conf = self.resolve_office(role, m.country, False, m.start)
            return (
                sid,
                ("coreference" if sid else method),
                min(conf, METHOD_CONFIDENCE["coreference"]),
            )
        if m.kind == K.LATTER and depth == 0:
            prior = [x for x in self.mentions if x.end <= m.start and x.kind != K.LATTER]
            if prior:
                sid, _, conf = self.resolve(prior[-1], depth + 1)
                return (
                    sid,
                    "coreference" if sid else "other",
                    min(conf, METHOD_CONFIDENCE["coreference"]),
                )
        return None, "other", METHOD_CONFIDENCE["other"]

    def resolve_office(
        self, role: str | None, country: str | None, former: bool, pos: int
    ) -> tuple[str | None, str, float]:
        if role is None:
            return None, "other", METHOD_CONFIDENCE["other"]
        if country is None:
            # "وزير الخارجية" with no nationality: only an office the article bound to a name.
            cands = {sid for (r, _), sid in self.bound.items() if r == role}
            if len(cands) == 1:
                return cands.pop(), "role_bound", 0.6
            return None, "other", METHOD_CONFIDENCE["other"]
        key = (role, country)
        if key in self.bound and not former:
            return self.bound[key], "role_bound", METHOD_CONFIDENCE["role_bound"]
        if former:
            return None, "other", METHOD_CONFIDENCE["other"]
        if self.date is not None:
            holder = self.registry.office_holder(role, country, self.date)
            if holder and holder != "other":
                return holder, "role", METHOD_CONFIDENCE["role"]
            return None, "other", METHOD_CONFIDENCE["other"]
        five = self.registry.tracked_holders(role, country)
        named = [s for s in five if s in self.named]
        if named:
            return named[0], "role_bound", 0.8
        if len(five) == 1:
            return five[0], "role", 0.6  # undated article: the office's holder among the five
        return None, "other", METHOD_CONFIDENCE["other"]

    def untracked_holder(self, m: Mention) -> str | None:
        """The name of whoever held the office ``m`` names ("وزير الخارجية الأمريكي"،
        "نظيره الأمريكي") on the article's date, when the registry knows that holder but does
        not track them (Tillerson in 2017 with the default registry); else None."""
        if m.kind == K.ROLE:
            role = m.role
        elif m.kind == K.COUNTERPART:
            role = self.counterpart_role(m.start)
        else:
            return None
        if self.date is None or m.former or role is None or m.country is None:
            return None
        if (role, m.country) in self.bound:
            return None
        office = self.registry.office_on(role, m.country, self.date)
        if office is None or office.tracked:
            return None
        return office.name_ar or office.name_en

    def resolve_generic(self, m: Mention) -> tuple[str | None, str, float]:
        """ "الوزير الروسي": the Russian minister last mentioned, else the one the article names;
        a bare "الوزير" is the last minister mentioned, whoever that is."""
        if m.country is None:
            if self.names_someone_else(m):
                return None, "other", METHOD_CONFIDENCE["other"]
            for prior in reversed(
                [x for x in self.mentions if x.end <= m.start and x.kind in (K.NAME, K.ROLE)]
            ):
                if prior.kind == K.ROLE or prior.role or prior.speaker_id:
                    sid, _, conf = self.resolve(prior, 1)
                    return sid, ("coreference" if sid else "other"), min(conf, 0.7)
            return None, "other", METHOD_CONFIDENCE["other"]
        five = set(self.registry.tracked_holders(None, m.country))
        for prior in reversed(
            [x for x in self.mentions if x.end <= m.start and x.kind in (K.NAME, K.ROLE)]
        ):
            sid, _, _ = self.resolve(prior, 1)
            if sid in five:
                return sid, "coreference", METHOD_CONFIDENCE["coreference"]
        for later in [x for x in self.mentions if x.start > m.end and x.kind == K.NAME]:
            if later.speaker_id in five:
                return later.speaker_id, "coreference", 0.7
        return None, "other", METHOD_CONFIDENCE["other"]

    def names_someone_else(self, m: Mention) -> bool:
        """ "الوزير خالد العطية": a bare title followed by a name that is none of the five."""
        nxt = re.match(r"\s+(\w+)", self.text[m.end : m.end + NEXT_WORD_CHARS])
        if not nxt:
            return False
        word = nxt.group(1)
        lex = load_cues()
        return (
            word.isalpha()
            and not word.startswith("ال")
            and word not in lex.not_a_name_after_title
            and word not in lex.specs
            and not any(x.start == m.end + nxt.start(1) for x in self.mentions)
        )

    def counterpart_role(self, pos: int) -> str:
        """ "نظيره" takes the office of the person it is counterpart to (the last one mentioned)."""
        for prior in reversed([x for x in self.mentions if x.end <= pos]):
            if prior.role:
                return prior.role
            if prior.kind == K.NAME and prior.speaker_id:
                roles = self.registry.speaker_roles(prior.speaker_id)
                if roles:
                    return roles[0].role
        return "fm"


def attribute(cand: Candidate, ctx: FieldContext) -> list[Attribution]:
    """One attribution per speaker (a joint statement gives several)."""
    rule_conf = RULE_CONFIDENCE[cand.rule]
    out = []
    for a in resolve_subject(cand.subject, ctx, 0):
        out.append(replace(a, confidence=round(a.confidence * rule_conf, 3)))
    seen: set[str | None] = set()
    unique = []
    for a in out:
        key = (
            a.speaker_id
            if a.speaker_id
            else f"other:{a.other_span or (a.mention.start if a.mention else None)}"
        )
        if key in seen:
            continue
        seen.add(key)
        unique.append(a)
    return unique


def resolve_subject(subject: Subject | None, ctx: FieldContext, depth: int) -> list[Attribution]:
    if subject is None or depth > 4:
        return [Attribution(None, None, None, "continuation", 0.3)]
    if subject.mode == M.OTHER:
        out = [Attribution(None, None, subject.other_span, "other", METHOD_CONFIDENCE["other"])]
        if subject.other_span is None and len(subject.mentions) == 1:
            out = [
                Attribution(None, subject.mentions[0], None, "other", METHOD_CONFIDENCE["other"])
            ]
            return out
        for m in subject.mentions:  # "وقال الجبير ولافروف إنهما": somebody else and one of the five
            out.append(_attribution(ctx, m))
        return out
    if subject.mode in (M.PRODROP, M.PARTICIPLE):
        inner = resolve_subject(subject.antecedent, ctx, depth + 1)
        if subject.mode == M.PRODROP:
            return [
                replace(
                    a,
                    method="continuation" if a.speaker_id else "other",
                    confidence=a.confidence * 0.85 if a.speaker_id else a.confidence,
                )
                for a in inner
            ]
        return [replace(a, confidence=a.confidence * 0.97) for a in inner]
    out = []
    for m in subject.mentions:
        att = _attribution(ctx, m)
        if subject.mode == M.HEADLINE and att.speaker_id:
            att = replace(
                att,
                method="headline",
                confidence=min(att.confidence, METHOD_CONFIDENCE["headline"]),
            )
        out.append(att)
    return out


def _attribution(ctx: FieldContext, m: Mention) -> Attribution:
    """One mention resolved: a speaker, or nobody tracked (with an office's holder's name)."""
    sid, method, conf = ctx.resolve(m)
    holder = None if sid else ctx.untracked_holder(m)
    return Attribution(sid, m, None, method, conf, holder)


# --- quotation rows ----------------------------------------------------------------------------


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
    named = {m.speaker_id for f in fields for m in f.mentions if m.kind == K.NAME and m.speaker_id}
    bound: dict[tuple[str, str], str] = {}
    for f in fields:
        for k, v in bound_offices(f.clean.text, list(f.mentions)).items():
            bound.setdefault(k, v)
    return {
        f.name: FieldContext(
            f.clean.text, list(f.mentions), article.published_date, registry, bound, named
        )
        for f in fields
    }


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
    return deduplicate(quotes, clean_texts)


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


# --- deduplication -----------------------------------------------------------------------------


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
