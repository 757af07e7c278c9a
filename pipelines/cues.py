"""Cue finding: the speech-cue lexicon (``lexicons/cues.json``), the function words the rules
read (``lexicons/grammar.json``), both loaded once, and :func:`find_cues`.

Everything here is data compiled for matching over the clean (folded) text; the rules that
use it live in :mod:`pipelines.subjects` and :mod:`pipelines.quotes`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pipelines.clean import fold


class CueKind(StrEnum):
    """The grammar of a cue, which decides how its subject and complement are found."""

    VERB = "verb"  # a perfect verb: "قال"، "أكد"
    PARTICIPLE = "participle"  # an active participle sharing its clause's subject: "مضيفا"
    IMPERFECT = "imperfect"  # a present-tense verb, reporting only with a subject: "يؤكد"
    ACCORDING = "according"  # "according to": "بحسب"، "وفقا ل"
    SAID_OF = "said_of"  # "his saying", after "عن" + the speaker: "نقلت عن لافروف قوله"


# What a cue may govern: a complementizer clause, a quotation or colon, a noun phrase.
FrameKind = Literal["indirect", "direct", "nominal"]


@dataclass(frozen=True, slots=True)
class CueSpec:
    form: str
    kind: CueKind
    frames: frozenset[FrameKind]
    preps: tuple[str, ...] = ()
    nominal_any: bool = False
    ambiguous: bool = False
    object_first: bool = False  # "وصف هذه الممارسات بأنها": an object before the complement
    group: bool = False  # a dual or plural form: "وأكدا"، "وشددوا"
    through_only: bool = False  # "وأعلنت روسيا على لسان ...": a cue only before على لسان
    bare_after_subject: bool = False  # "أعلن المعلم تعديل القانون": a bare object only then
    after_ma: bool = False  # "ما قاله كيري من أنه": a cue only after the relative ما
    object_required: bool = False  # "اتهم": a name right before "بـ..." is the accused


@dataclass(frozen=True, slots=True)
class CueHit:
    start: int
    end: int
    outer_start: int  # with the clitic و/ف
    spec: CueSpec

    @property
    def prefixed(self) -> bool:
        return self.outer_start < self.start


@dataclass(frozen=True)
class CueLexicon:
    pattern: re.Pattern[str]
    specs: dict[str, CueSpec]
    complementizers: frozenset[str]
    not_comp_after: frozenset[str]
    nominal_heads: frozenset[str]
    adverbials: frozenset[str]
    light_adverbials: frozenset[str]
    joiners: frozenset[str]
    ambiguous_heads: frozenset[str]
    clause_openers: tuple[str, ...]
    svo_leads: frozenset[str]
    particles: frozenset[str]
    # From grammar.json:
    clause_break: re.Pattern[str]  # where a clause starts: punctuation or a connector
    comma_clause: re.Pattern[str]  # a comma and a connector: "، كما"، "، حيث" (ends a noun phrase)
    content_breakers: frozenset[str]  # words that join a following cue: "فيما قال"، "كما أنه جدد"
    content_end: re.Pattern[str]  # a comma and commentary that end content: "، في إشارة إلى"
    postposed_lead: re.Pattern[str]  # a comma (and "بحسب ما") before a cue after its content
    according_after_only: frozenset[str]  # "على حد تعبير": only after its content
    according_pronominal: frozenset[str]  # "على حد تعبيره": the speaker is the last one
    relative_before: re.Pattern[str]  # a relative pronoun ending a text: "التي "
    relative_masculine: str  # the one relative pronoun a masculine cue verb agrees with
    relative_clause: re.Pattern[str]  # a comma and a relative pronoun: "، الذي كان يتحدث"
    resumptives: frozenset[str]  # "فيها" after a verb, referring back: "تصريحات قال فيها"
    title_links: frozenset[str]  # "باسم" in "المتحدث باسم وزير الخارجية": title to office
    relative_ma: frozenset[str]  # "ما"، "مما"، "بما": before a cue that carries its object
    according_relatives: frozenset[str]  # "بحسب ما أعلن"، "وفقا لما قاله": ما before a verb
    relay_verbs: frozenset[str]  # "بحسب ما نقلت وكالة ... عن": a medium's verb before عن
    serial_leads: tuple[str, ...]  # "قبل أن يضيف": before a present-tense cue, same speaker
    letter_initial_names: frozenset[str]  # "بشار": a name, not ب + a noun
    group_subjects: frozenset[str]  # "الوزيران"، "الجانبان": the group named before
    dual_subjects: frozenset[str]  # the two of them: "الوزيران"، "الجانبان"، "الطرفان"
    group_counts: frozenset[str]  # "الثلاثة" after a group noun
    article_shaped_verbs: frozenset[str]  # verbs that look like "ال" + noun: "التقى"
    demonstratives: frozenset[str]
    negations: frozenset[str]  # "لم" before a verb opening a clause: "ولم يخف كيري قلقه"
    first_person: re.Pattern[str]  # a first-person verb or pronoun: "اتفقنا"، "نحن"
    first_person_lead: str  # "لقد" before a first-person verb
    according_resumptives: frozenset[str]  # "فإن" after "بحسب كيري،"
    said_of_prepositions: tuple[str, ...]  # "عن" or "إلى" before the speaker of "قوله"
    perfect_particle: str  # "قد"
    before_verb: re.Pattern[str]  # what may stand between a fronted subject and its verb
    auxiliary_lead: re.Pattern[str]  # "وكان" opening a clause: "وكان لافروف قد أكد"
    auxiliary_word: str  # "كان"
    topic_opener: str  # "أما": "أما ظريف فقال" names the subject before its verb
    preposition_forms: frozenset[str]  # prepositions after a noun too: "الخلافات بين"
    never_nominal_heads: frozenset[str]
    possessive: re.Pattern[str]  # a possessive suffix ending a position noun: "قلقها"
    not_a_name_after_title: frozenset[str]
    object_preps: frozenset[str]  # a preposition a title's cue takes its object with: "يعلن عن"
    with_preps: frozenset[str]  # "مع" before "نظيره": the counterpart is no subject
    through_speaker: re.Pattern[str]  # "على لسان": the state speaks through the person after it
    after_mark: re.Pattern[str]  # a closing mark, a comma, a resumptive: '»، بهذه الكلمات '
    feminine_places: frozenset[str]  # never the subject of a masculine verb: "حث لندن على"
    honorific_pronouns: frozenset[str]  # "وأضاف معاليه": the last person named, not a new one
    statement_nouns: frozenset[str]  # "بيان لوزارة الدفاع قال إن": the statement's owner speaks
    name_titles: frozenset[str]  # "الأستاذ عادل الجبير": a title before a given name
    future_lead: re.Pattern[str]  # "ومن المنتظر أن يعلن ...": an expected statement, not one made
    not_names: frozenset[str]  # "وكان هناك ...": words after كان that are no one's name
    quantifiers: frozenset[str]  # "حث جميع الأطراف على": a quantified object is the addressee
    context_phrase: re.Pattern[str]  # " في لقاء"، " على هامش": the end of a noun-phrase object


def _alt(words: list[str]) -> str:
    """An alternation of the words in their listed order (the order is the match order)."""
    return "|".join(re.escape(w) for w in words)


def _cue_specs(data: dict) -> dict[str, CueSpec]:
    """Every cue form of cues.json (folded) with its spec; a present-tense form shares its
    perfect's frames."""
    specs: dict[str, CueSpec] = {}
    for kind, key in ((CueKind.VERB, "verbs"), (CueKind.PARTICIPLE, "participles")):
        for e in data[key]:
            specs[fold(e["form"])] = CueSpec(
                fold(e["form"]),
                kind,
                frozenset(e["frames"]),
                tuple(fold(p) for p in e.get("preps", [])),
                e.get("nominal_any", False),
                e.get("ambiguous", False),
                e.get("object_first", False),
                e.get("group", False),
                e.get("through_only", False),
                e.get("bare_after_subject", False),
                e.get("after_ma", False),
                e.get("object_required", False),
            )
    for f, perfect in data["imperfects"].items():
        base = specs[fold(perfect)]
        specs[fold(f)] = CueSpec(
            fold(f),
            CueKind.IMPERFECT,
            base.frames,
            base.preps,
            base.nominal_any,
            object_first=base.object_first,
            bare_after_subject=base.bare_after_subject,
            after_ma=base.after_ma,
            object_required=base.object_required,
        )
    for f in data["according_to"]:
        specs[fold(f)] = CueSpec(fold(f), CueKind.ACCORDING, frozenset({"indirect"}))
    for f in data["said_of"]:
        specs[fold(f)] = CueSpec(fold(f), CueKind.SAID_OF, frozenset({"indirect", "direct"}))
    return specs


@lru_cache(maxsize=1)
def load_cues() -> CueLexicon:
    lexicons = resources.files("pipelines.lexicons")
    data = json.loads(lexicons.joinpath("cues.json").read_text("utf-8"))
    grammar = json.loads(lexicons.joinpath("grammar.json").read_text("utf-8"))
    specs = _cue_specs(data)
    forms = sorted(specs, key=len, reverse=True)
    alt = "|".join(re.escape(f) for f in forms)
    # A verb may carry the conjunction clitic و or ف ("وأضاف"، "فقال").
    pattern = re.compile(r"(?<!\w)(?P<pre>[وف]?)(?P<cue>" + alt + r")(?!\w)")

    def folded(key: str, source: dict = data) -> frozenset[str]:
        return frozenset(fold(c) for c in source[key])

    def listed(key: str) -> list[str]:
        return [fold(w) for w in grammar[key]]

    particle = fold(grammar["perfect_particle"])
    return CueLexicon(
        pattern=pattern,
        specs=specs,
        complementizers=folded("complementizers"),
        not_comp_after=folded("not_complementizer_after"),
        nominal_heads=folded("nominal_heads"),
        adverbials=folded("adverbials"),
        light_adverbials=folded("light_adverbials"),
        joiners=folded("joiners"),
        ambiguous_heads=folded("ambiguous_heads"),
        clause_openers=tuple(
            sorted((fold(c) for c in data["clause_openers"]), key=len, reverse=True)
        ),
        svo_leads=folded("svo_leads"),
        particles=folded("particles"),
        clause_break=re.compile(r"[،,:؛.!؟]|\b(?:" + _alt(listed("clause_breaks")) + r")\b"),
        comma_clause=re.compile(r"[،,]\s*(?:" + _alt(listed("clause_breaks")) + r")(?!\w)"),
        content_breakers=folded("content_breakers", grammar),
        according_after_only=folded("according_after_only", grammar),
        postposed_lead=re.compile(r"،\s*(?:" + _alt(listed("postposed_leads")) + r")\s*$"),
        content_end=_content_end(listed),
        relative_before=re.compile(r"(?<!\w)و?(?:" + _alt(listed("relative_pronouns")) + r")\s+$"),
        relative_masculine=fold(grammar["relative_masculine"]),
        relative_clause=re.compile(
            r"\s*،\s*و?(?:" + _alt(listed("relative_pronouns")) + r")(?!\w)"
        ),
        resumptives=folded("resumptives", grammar),
        title_links=folded("title_links", grammar),
        relative_ma=folded("relative_ma", grammar),
        according_relatives=folded("according_relatives", grammar),
        group_subjects=folded("group_subjects", grammar),
        dual_subjects=folded("dual_subjects", grammar),
        group_counts=folded("group_counts", grammar),
        article_shaped_verbs=folded("article_shaped_verbs", grammar),
        demonstratives=folded("demonstratives", grammar),
        negations=folded("negations", grammar),
        first_person=re.compile(
            r"^(?:\w{2,}"
            + re.escape(fold(grammar["first_person_suffix"]))
            + "|"
            + _alt(listed("first_person_pronouns"))
            + ")$"
        ),
        first_person_lead=fold(grammar["first_person_lead"]),
        according_resumptives=folded("according_resumptives", grammar),
        said_of_prepositions=tuple(listed("said_of_prepositions")),
        perfect_particle=particle,
        auxiliary_word=fold(grammar["auxiliary"]),
        topic_opener=fold(grammar["topic_opener"]),
        preposition_forms=folded("preposition_forms", grammar),
        auxiliary_lead=re.compile(r"\s*و?" + re.escape(fold(grammar["auxiliary"])) + r"\s+"),
        never_nominal_heads=folded("never_nominal_heads", grammar),
        possessive=re.compile("(?:" + _alt(listed("possessive_suffixes")) + ")$"),
        not_a_name_after_title=folded("not_a_name_after_title", grammar),
        object_preps=folded("object_prepositions", grammar),
        with_preps=folded("with_prepositions", grammar),
        **_reporting_phrases(listed),
        **_attribution_phrases(grammar, listed),
    )


def _attribution_phrases(grammar: dict, listed: Callable[[str], list[str]]) -> dict[str, Any]:
    """Phrases around attribution, from grammar.json: according-to phrases with a
    pronoun ('على حد تعبيره'), a medium's verb before عن ('نقلت وكالة ... عن'), leads of a
    present-tense cue that continues the speaker ('قبل أن يضيف'), names that begin with a
    preposition's letter ('بشار'), and what stands between a fronted subject and its verb."""
    particle = re.escape(fold(grammar["perfect_particle"]))
    auxiliary = re.escape(fold(grammar["auxiliary"]))
    return {
        "according_pronominal": frozenset(listed("according_pronominal")),
        "relay_verbs": frozenset(listed("relay_verbs")),
        "serial_leads": tuple(listed("serial_leads")),
        "letter_initial_names": frozenset(listed("letter_initial_names")),
        # "لافروف قد أكد"، "سيرغي لافروف، قد أشار" (an apposition's closing comma before قد),
        # "أن هاغل كان قد قال" (the pluperfect after a complementizer)
        "before_verb": re.compile(
            r"[\s\"»]*(?:(?:،\s*)?(?:" + auxiliary + r"\s+)?" + particle + r"[\s]*)?$"
        ),
    }


def _content_end(listed: Callable[[str], list[str]]) -> re.Pattern[str]:
    """The reporter's commentary after a comma that ends content: "، في إشارة إلى"، "، في وقت"
    (not "في وقت سابق")، "، بحسب وكالة ..."."""
    return re.compile(
        r"،\s*(?:(?:"
        + _alt(listed("content_enders"))
        + r")(?!\w)(?!\s+(?:"
        + _alt(listed("time_adjectives"))
        + r"))|(?:"
        + _alt(listed("media_attribution_leads"))
        + r")\s*(?:[^\s،.]+\s+){0,2}?(?:"
        + _alt(listed("media_attribution_sources"))
        + r"))(?!\w)"
    )


def _reporting_phrases(listed: Callable[[str], list[str]]) -> dict[str, Any]:
    """The reporter's phrases around a quotation, from grammar.json: '«...»، بهذه الكلمات علق'
    (a closing mark, a comma, a resumptive before the cue); 'على لسان' (a state speaking through
    the person named after it); places never the subject of a masculine verb ('حث لندن على');
    honorific pronouns standing for the last person ('وأضاف معاليه'); statement nouns a relative
    cue may describe ('بيان لوزارة الدفاع قال إن'); the context phrases that end a noun phrase
    ('عبر عن مخاوف واشنطن في لقاء مع ...'); words after كان that are no name ('وكان هناك');
    quantifiers whose noun phrase is an addressee ('حث جميع الأطراف على')."""
    return {
        "after_mark": re.compile(
            r"[\"»]\s*،?\s*(?:(?:" + _alt(listed("quote_resumptives")) + r")\s+)?$"
        ),
        "through_speaker": re.compile(r"(?<!\w)(?:" + _alt(listed("through_speaker")) + r")(?!\w)"),
        "feminine_places": frozenset(w.split()[0] for w in listed("feminine_places")),
        "honorific_pronouns": frozenset(listed("honorific_pronouns")),
        "statement_nouns": frozenset(listed("statement_nouns")),
        "name_titles": frozenset(listed("name_titles")),
        "not_names": frozenset(listed("not_names")),
        "quantifiers": frozenset(listed("quantifiers")),
        "future_lead": re.compile(r"(?:" + _alt(listed("future_leads")) + r")\s*$"),
        "context_phrase": re.compile(r"\s(?:" + _alt(listed("context_phrases")) + r")(?!\w)"),
    }


def find_cues(text: str, start: int, end: int) -> list[CueHit]:
    """Every cue in text[start:end], in text order, longest form first where forms overlap."""
    lex = load_cues()
    specs = lex.specs
    hits = [
        CueHit(m.start("cue"), m.end("cue"), m.start(), specs[m.group("cue")])
        for m in lex.pattern.finditer(text, start, end)
    ]
    return [h for h in hits if not h.spec.after_ma or _after_ma(lex, text, h.outer_start)]


def _after_ma(lex: CueLexicon, text: str, pos: int) -> bool:
    """Whether the word before ``pos`` is the relative ما ("ما قاله"، "مما أكده")."""
    words = text[max(0, pos - 8) : pos].split()
    return bool(words) and words[-1] in lex.relative_ma
