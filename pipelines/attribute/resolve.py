"""A candidate's grammatical subject resolved to speakers (:func:`attribute`).

Names resolve directly; offices ("وزير الخارجية الأمريكي") through what the article binds by
apposition, else through the registry's tenure dates at the article's date; "الأخير" and
"نظيره ..." to an earlier mention; dropped subjects to the last explicit subject. Anyone else
gets ``speaker_id = None`` with the mention text kept.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace

from pipelines.cues import find_cues, load_cues
from pipelines.quotes import Candidate, Subject
from pipelines.records import MentionKind, RuleName, SubjectMode
from pipelines.speakers import Mention, Registry, patterns

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
    "cue_colon_paragraph": 0.9,  # the next paragraph is quoted, but the cue is a line away
    "cue_comp": 1.0,
    "cue_comp_quote": 1.0,
    "cue_comp_mixed": 1.0,
    "cue_nominal": 0.9,
    "cue_first_person": 1.0,
    "cue_comma_first_person": 0.8,
    "according_after": 0.9,  # where the content starts is guessed: the sentence's start
    "cue_after_quote": 1.0,
    "cue_after_content": 0.9,  # the same guess
    "title_object": 0.85,  # a title's object is its statement, its extent guessed
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
    # The five whose bare surname the body uses before it names them in full ("وقف المعلم
    # محمود ..." then "وزير الخارجية وليد المعلم"): a bare surname in the title is not theirs.
    named_late: frozenset[str] = frozenset()

    def resolve(self, m: Mention, depth: int = 0) -> tuple[str | None, str, float]:
        """(speaker_id or None, method, confidence) for one mention."""
        if m.kind == K.NAME:
            return m.speaker_id, "name", METHOD_CONFIDENCE["name"]
        if m.kind == K.WEAK_NAME:
            # Bare "المعلم" is also "the teacher": al-Muallem only where the article names him,
            # before this mention when this field names him at all ("وقف المعلم محمود ...
            # ويضيف المعلم" is a teacher even if the minister is named further on).
            strong = [x for x in self.mentions if x.kind == K.NAME and x.speaker_id == m.speaker_id]
            # Out of office, only a full name before it in this field makes the surname his:
            # "السيناتور السابق تشاك هيغل ... وأضاف هيغل" (January 2013, Hagel the nominee).
            if (
                m.speaker_id in self.named
                and m.speaker_id not in self.named_late
                and (self.registry.in_tenure(m.speaker_id, self.date) or strong)
                and (not strong or strong[0].start < m.start)
            ):
                return m.speaker_id, "alias", METHOD_CONFIDENCE["alias"]
            return None, "other", METHOD_CONFIDENCE["other"]
        if m.kind == K.ROLE:
            if m.country is None and m.role and not m.former:
                return self.resolve_bare_office(m.role, m.start)
            return self.resolve_office(m.role, m.country, m.former, m.start)
        if m.kind == K.GENERIC:
            return self.resolve_generic(m)
        if m.kind == K.COUNTERPART:
            if self.names_someone_else(m, 2):  # "نظيره الروسي فلاديمير بوتين"
                return None, "other", METHOD_CONFIDENCE["other"]
            role = self.counterpart_role(m.start)
            sid, method, conf = self.resolve_office(role, m.country, False, m.start)
            return (
                sid,
                ("coreference" if sid else method),
                min(conf, METHOD_CONFIDENCE["coreference"]),
            )
        if m.kind == K.LATTER and depth == 0:
            # The last person named: not a dual or plural office ("اجتماع وزيري الخارجية").
            prior = [
                x
                for x in self.mentions
                if x.end <= m.start
                and x.kind != K.LATTER
                and not patterns().plural_office.match(self.text, x.start)
            ]
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

    def resolve_bare_office(self, role: str, pos: int) -> tuple[str | None, str, float]:
        """ "وزير الدفاع" with no nationality: the article's first bare use of the office
        decides. Bound to one of the five ("وزير الدفاع تشاك هاغل") it is that speaker; if it
        is this mention, the same office named earlier with its country ("وزير الدفاع
        الأمريكي" ... "وقال وزير الدفاع") resolves it by date; otherwise (a paper's own
        minister: "وزير الخارجية عادل الجبير") only an office bound by apposition does."""
        first = next(
            (
                x
                for x in self.mentions
                if x.role == role
                and x.country is None
                and not x.former
                and x.kind in (K.NAME, K.ROLE)
            ),
            None,
        )
        countries = {x.country for x in self.mentions if x.role == role and x.country}
        if len(countries) > 1:
            # "وزير الخارجية السعودي ... وزير الخارجية الروسي ... قال وزير الخارجية": either.
            return None, "other", METHOD_CONFIDENCE["other"]
        if first is not None and first.kind == K.NAME and first.speaker_id:
            return first.speaker_id, "role_bound", 0.6
        if first is not None and first.start >= pos:
            for prior in reversed([x for x in self.mentions if x.end <= pos]):
                if prior.role == role and prior.country and prior.kind in (K.ROLE, K.NAME):
                    if prior.former:
                        break
                    sid, _, conf = self.resolve_office(role, prior.country, False, pos)
                    if sid:
                        return sid, "coreference", min(conf, 0.6)
                    break
        return self.resolve_office(role, None, False, pos)

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

    def names_someone_else(self, m: Mention, n_words: int = 1) -> bool:
        """ "الوزير خالد العطية": a bare title followed by a name that is none of the five (its
        first ``n_words`` words name-like: no article, function word, cue or known mention)."""
        nxt = re.match(rf"(?:\s+\w+){{{n_words}}}", self.text[m.end : m.end + NEXT_WORD_CHARS])
        if not nxt:
            return False
        lex = load_cues()
        for w in re.finditer(r"\w+", nxt.group(0)):
            word, start = w.group(0), m.end + w.start()
            if not (
                word.isalpha()
                and not word.startswith("ال")
                and word not in lex.not_a_name_after_title
                and word not in lex.adverbials  # "الوزير للصحفيين"
                and word[1:] not in lex.demonstratives  # "الوزير بهذا الخصوص"
                and word not in lex.specs
                and not any(x.start == start for x in self.mentions)
                and not find_cues(self.text, start, start + len(word))  # "فوصف"
                and not (n_words > 1 and word[0] in "بلك")  # "طالب نظيره الأمريكي بتجفيف ..."
            ):
                return False
        return True

    def counterpart_role(self, pos: int) -> str | None:
        """ "نظيره" takes the office of the person it is counterpart to (the last one mentioned);
        the counterpart of someone else's title ("الرئيس التركي ... نظيره الروسي") holds none of
        the five's offices (None)."""
        priors = [x for x in self.mentions if x.end <= pos]
        for n, prior in reversed(list(enumerate(priors))):
            if prior.kind == K.PERSON and not prior.role:
                # "وزير الخارجية الأمير سعود الفيصل": a title in apposition to an office.
                office = priors[n - 1] if n else None
                if office is None or self.text[office.end : prior.start].strip():
                    return None
                return office.role
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
