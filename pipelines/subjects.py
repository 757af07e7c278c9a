"""Subject finding: who a cue's grammar says is speaking, as functions over a frozen view of
one clean field (:class:`FieldView`).

A subject is not yet a speaker: it holds the mentions the grammar points at (or another
person's phrase, or the clause it continues), and ``attribute`` resolves it to a speaker id.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from typing import NamedTuple

from pipelines.cues import CueHit, CueKind, CueLexicon, CueSpec, load_cues
from pipelines.records import MentionKind, SubjectMode
from pipelines.segment import Unit
from pipelines.speakers import Mention, patterns, plural_next, speaker_country

K = MentionKind
M = SubjectMode

# Look-ahead for a title's apposition or an unregistered name: three words fit in 60 characters.
APPOSITION_CHARS = 60
# Words of a first title before the five's office or name in apposition ("نائب رئيس مجلس
# الوزراء"، "رئيس لجنة العلاقات الخارجية في مجلس الشيوخ جون كيري").
SECOND_TITLE_WORDS = 7
TITLE_IN = "في"  # inside a title: "... في مجلس الشيوخ"
# A surname used alone ("لكن حبيب أكد") ended its full name within the 3,000 characters before.
NAME_REUSE_CHARS = 3000
# The given name before it is one word of at most 20 characters.
NAME_REUSE_WORD_CHARS = 20
# The word before a counterpart ("مع نظرائه") is looked for within 6 characters.
CONNECTOR_WORD_CHARS = 6
# A light adverbial between verb and subject ("له"، "للصحفيين") is one word: 40 characters.
LIGHT_ADVERBIAL_CHARS = 40
# Look-back from a verb over the up to three name words after an office: 40 characters.
OFFICE_NAME_CHARS = 40
# Tokens read after a verb for its subject phrase and complement: 200 characters is past both.
CLAUSE_CHARS = 200
# "بحسب ما نقلت وكالة «تاس» عن لافروف": the medium between the verb and عن, in words (marks count).
RELAYED_BY_WORDS = 6
RELAYED_FROM = "عن"
# Prepositions, which no name contains (folded).
_PREPOSITIONS = frozenset(
    {"في", "من", "عن", "علي", "الي", "مع", "منذ", "خلال", "حول", "عند", "لدي", "امام", "بين", "ضد"}
)
# Short vowels, shadda and sukun, which a few pages write on verbs ("وجّه").
_HARAKAT = re.compile("[\u064b-\u0652]")
# "ومن المنتظر أن " before a present-tense cue: the longest lead of grammar.json's future_leads.
FUTURE_LEAD_CHARS = 20
# Sentences before its own a group subject ("الوزيران"، "وأكدا") looks back for the people it names.
GROUP_LOOKBACK = 4
# Sentences a dual looks back for the last two people named apart ("هيجل" ... "الوزير الروسي").
PAIR_LOOKBACK = 8
DUAL_ENDING = "ا"  # "قالا"، "أكدا": a dual verb (the plural ends in "وا")
# "وأعلنت روسيا الأربعاء على لسان ...": the state and a day or two stand before the phrase.
THROUGH_SPEAKER_CHARS = 40
# A subject noun phrase of someone else is at most 8 tokens; beyond that it is content.
SUBJECT_NP_TOKENS = 8
# Look-back from a verb for a relative pronoun and its space: "واللواتي " is 9 characters.
RELATIVE_CHARS = 12
# The longest clause opener ("ومن ناحيته") fits in 20 characters.
OPENER_CHARS = 20
# A fronted subject ("نائب رئيس الائتلاف المعارض") is at most 6 words; more is a clause.
FRONTED_WORDS = 6
# A fronted adverbial set off by a comma at the start of a sentence ("في مؤتمر صحافي مع نظيره
# الروسي سيرغي لافروف، ..."): at most this long.
FRONTED_PHRASE_CHARS = 100
# A description before a full name in apposition ("عضو مجلس الشيوخ السابق جون كيري") is at
# most 5 tokens; a longer phrase holds someone else ("الزعيم الكوري ... كيم جونغ أون وزير ...").
DESCRIPTION_TOKENS = 5
# "وكان" + subject + verb: a subject of at most 7 tokens.
AUXILIARY_SUBJECT_TOKENS = 7

QUOTE_OPENERS = '"«'
HASHTAG = "#"  # a web page's tag mark on a name: "سيرغي #لافروف"
CLITICS = "وف"  # the conjunctions written on the next word
ARTICLE = "ال"
PREPOSITION_CLITICS = "بلك"  # "بعد"، "للصحفيين"، "كذلك": a fronted prepositional phrase
FA = "ف"  # the ف that answers "أما": "أما ظريف فقال"
BA = "ب"  # the preposition of a charge: "اتهمه بالفشل"
CHARGE_MIN_CHARS = 3
ALIF = "ا"  # the accusative ending of an adverb of manner: "مازحا"
DEFINITE_PP = ("لل", "بال", "كال")  # a preposition written on a definite noun: "للزعيم"
HAL_MIN_CHARS = 4
TA, TA_MARBUTA = "ت", "ة"  # "دعوة" is written "دعوت" before a possessive: "دعوته"
LI_ARTICLE = "لل"  # لـ + article after a verb ("قال للصحفيين"): an object, the subject dropped
# Mention kinds that may be a speaker themselves (a "person" is someone else's title).
SPEAKER_KINDS = (K.NAME, K.ROLE, K.WEAK_NAME, K.GENERIC, K.COUNTERPART, K.LATTER)
OFFICE_KINDS = (K.ROLE, K.PERSON, K.GENERIC)
# Mentions that name a group's member by themselves (not "نظيره"، "الأخير"، "الوزير").
GROUP_ANCHORS = (K.NAME, K.ROLE, K.WEAK_NAME)
# Subjects a later dropped pronoun continues.
EXPLICIT_MODES = (M.EXPLICIT, M.OTHER, M.SVO, M.ACCORDING)


_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a cue's grammar says is speaking, before any resolution."""

    mode: SubjectMode
    mentions: tuple[Mention, ...] = ()
    other_span: tuple[int, int] | None = None  # a subject that matched no known mention
    antecedent: Subject | None = None  # for prodrop / participle: the subject it continues


class Tok(NamedTuple):
    """A token: a word, or one character of punctuation. A named tuple, not a dataclass: a
    field's every token is made (:meth:`FieldView.of`), and a tuple is made in half the time
    a frozen dataclass's ``__init__`` takes."""

    start: int
    end: int
    text: str


def tokens(text: str, start: int, end: int) -> list[Tok]:
    new = tuple.__new__  # Tok's own __new__ is a Python function: skipped, the same tuple
    return [new(Tok, (m.start(), m.end(), m.group())) for m in _TOKEN.finditer(text, start, end)]


@dataclass(frozen=True, slots=True)
class FieldView:
    """One clean field as the rules read it: text, units, mentions indexed by position, and
    the field's tokens (tokenised once; every window is a slice of them)."""

    text: str
    field: str
    units: tuple[Unit, ...]
    mentions: tuple[Mention, ...]
    mention_at: dict[int, Mention]  # by outer_start
    mention_ending: dict[int, Mention]  # by end
    # Indexes into ``mentions`` sorted by start and by outer start, with those keys, so a
    # window finds its mentions by bisection (an article may hold thousands of them).
    by_start: tuple[int, ...]
    mention_starts: tuple[int, ...]
    by_outer: tuple[int, ...]
    mention_outers: tuple[int, ...]
    tokens: tuple[Tok, ...]
    starts: tuple[int, ...]
    lex: CueLexicon

    @classmethod
    def of(cls, text: str, field: str, units: list[Unit], mentions: list[Mention]) -> FieldView:
        ms = tuple(mentions)
        toks = tuple(tokens(text, 0, len(text)))
        by_start = tuple(sorted(range(len(ms)), key=lambda k: ms[k].start))
        by_outer = tuple(sorted(range(len(ms)), key=lambda k: ms[k].outer_start))
        return cls(
            text,
            field,
            tuple(units),
            ms,
            {m.outer_start: m for m in ms},
            {m.end: m for m in ms},
            by_start,
            tuple(ms[k].start for k in by_start),
            by_outer,
            tuple(ms[k].outer_start for k in by_outer),
            toks,
            tuple(t.start for t in toks),
            load_cues(),
        )

    def mentions_in(self, start: int, end: int, *, outer: bool = False) -> list[Mention]:
        """The mentions whose start (``outer``: outer start) lies in [start, end), in the
        order of ``mentions``."""
        keys, order = (
            (self.mention_outers, self.by_outer) if outer else (self.mention_starts, self.by_start)
        )
        i = bisect_left(keys, start)
        return [self.mentions[k] for k in sorted(order[i : bisect_left(keys, end, lo=i)])]

    def unit_index(self, pos: int) -> int:
        """The index of the unit that starts at or before ``pos`` (the one holding it)."""
        return bisect_right([u.start for u in self.units], pos) - 1

    def toks(self, start: int, end: int) -> tuple[Tok, ...]:
        """The field's tokens lying within [start, end)."""
        i = bisect_left(self.starts, start)
        j = bisect_left(self.starts, end, lo=i)
        while j > i and self.tokens[j - 1].end > end:
            j -= 1
        return self.tokens[i:j]


class Covered:
    """The content spans of one field's candidates, in the order found: whether a position
    lies inside one is a bisection over their starts with the running greatest end, not a
    scan of every candidate per cue. A span starting before the previous one makes it a scan
    from then on (candidates come in text order, so that is a fallback)."""

    __slots__ = ("_ends", "_spans", "_starts")

    def __init__(self) -> None:
        self._spans: list[tuple[int, int]] = []
        self._starts: list[int] | None = []
        self._ends: list[int] = []

    def add(self, start: int, end: int) -> None:
        self._spans.append((start, end))
        starts, ends = self._starts, self._ends
        if starts is None:
            return
        if starts and start < starts[-1]:
            self._starts = None  # out of order: scan from now on
            return
        starts.append(start)
        ends.append(max(end, ends[-1]) if ends else end)

    def __contains__(self, pos: int) -> bool:
        if self._starts is None:
            return any(a <= pos < b for a, b in self._spans)
        i = bisect_right(self._starts, pos)
        return i > 0 and self._ends[i - 1] > pos


def words(text: str, a: int, b: int) -> int:
    return len(re.findall(r"\w+", text[a:b]))


# --- word classes ------------------------------------------------------------------------------


def is_head(v: FieldView, word: str) -> bool:
    """A position noun, with or without its article or a possessive ("انتقاده"، "قلقها")."""
    return _noun_in(v, word, v.lex.nominal_heads)


def is_ambiguous_head(v: FieldView, word: str) -> bool:
    """A position noun that is also a verb or a common noun, with or without its article or a
    possessive ("عقد"، "عقده": "he held it")."""
    return _noun_in(v, word, v.lex.ambiguous_heads)


def _noun_in(v: FieldView, word: str, nouns: frozenset[str]) -> bool:
    """Whether ``word`` is one of ``nouns``, with or without its article or a possessive
    (before which ة is written ت: "دعوته" is "دعوة" + "ه")."""
    bare = word.removeprefix(ARTICLE)
    if word in nouns or bare in nouns:
        return True
    stem = v.lex.possessive.sub("", bare)
    return stem in nouns or (stem != bare and stem.endswith(TA) and stem[:-1] + TA_MARBUTA in nouns)


def is_complementizer(v: FieldView, toks: tuple[Tok, ...], i: int) -> bool:
    if toks[i].text not in v.lex.complementizers:
        return False
    return not (i > 0 and toks[i - 1].text in v.lex.not_comp_after)


def opens_frame(v: FieldView, toks: tuple[Tok, ...], i: int, spec: CueSpec) -> bool:
    """The cue's complement starts at token i: a complementizer, a colon or quotation mark,
    the cue's preposition, or a position noun."""
    t = toks[i].text
    if is_complementizer(v, toks, i) or t in (":", '"', "«"):
        return True
    if t in spec.preps:
        return True
    return bool("nominal" in spec.frames and is_head(v, t))


def first_person_at(v: FieldView, toks: tuple[Tok, ...], i: int) -> bool:
    """First-person speech starts here: "هدفنا ..."، "لقد ناقشنا ..."، "نحن ..."."""
    if i >= len(toks):
        return False
    if toks[i].text == v.lex.first_person_lead and i + 1 < len(toks):
        return bool(v.lex.first_person.match(toks[i + 1].text))
    return bool(v.lex.first_person.match(toks[i].text))


# --- noun phrases ------------------------------------------------------------------------------


def mention_chain(
    v: FieldView, pos: int, limit: int, allow_clitic: bool = False
) -> tuple[tuple[Mention, ...], int]:
    """Mentions joined by و starting at pos: "لافروف ونظيره الأمريكي جون كيري".

    A name between quotation marks ("وذكر "كيري" أنه") is still the subject."""
    text = v.text
    chain: list[Mention] = []
    p = pos
    while True:
        q = p
        while q < limit and text[q] == " ":
            q += 1
        if chain and q < limit and text[q] == "،":
            q = _comma_conjunct(v, q + 1, limit)
        quoted = q < limit and text[q] in QUOTE_OPENERS + HASHTAG
        m = v.mention_at.get(q + 1 if quoted else q)
        if m is None and chain:
            m = plural_next(text, chain[0], p, limit)  # "وزيرا الخارجية الروسي والأمريكي"
        if m is None or m.outer_start >= limit:
            break
        if chain and not (m.outer_start < m.start and text[m.outer_start] == "و"):
            break
        if not chain and m.outer_start < m.start and not allow_clitic:
            break  # "ولافروف" right after a verb is not its subject
        p = m.end
        if quoted and p < limit and text[p] in '"»':
            p += 1
        if m.kind in OFFICE_KINDS:
            named = name_in_apposition(v, p, limit)
            if named is not None and m.kind == K.PERSON and in_construct(v, m, named):
                # "المتحدث باسم وزير الخارجية الأمريكي جون كيري"، "مساعد وزير الدفاع تشاك
                # هاغل": the title is someone else's, the minister its complement.
                m = replace(m, end=named.end)
                p = named.end
                chain.append(m)
                continue
            if named is None and m.kind == K.PERSON:
                named = second_title_name(v, p, limit)
            if named is not None:
                # "وزير الثقة جون كيري"، "وزير خارجية الولايات المتحدة الأمريكية جون كيري":
                # a title, a word or two, then a known name: the name is the speaker.
                m = replace(named, start=m.start, outer_start=m.outer_start)
                p = named.end
                chain.append(m)
                continue
            # "وزير الخارجية السعودي عادل الجبير": an office followed by a name nobody
            # registered is that person, not the office's holder among the five.
            named_end = p
            if plural_next(text, chain[0] if chain else m, p, limit) is None:
                named_end = unregistered_name_end(v, p, limit, office=m.kind != K.PERSON)
            if named_end > p:
                m = replace(m, end=named_end, kind=K.PERSON)
                p = named_end
        chain.append(m)
    return tuple(chain), p


def _comma_conjunct(v: FieldView, pos: int, limit: int) -> int:
    """Where a mention joined by و starts after a comma ("وزير الخارجية الأمريكي، جون كيري،
    ونظيره الروسي، سيرغي لافروف، ..."): the chain goes on there when a comma or a
    complementizer follows that mention; else it ends at the comma (``pos - 1``). A clause
    set off by commas is no conjunct: "قال كيري، ولافروف يستمع، إن"."""
    q = pos
    while q < limit and v.text[q] == " ":
        q += 1
    m = v.mention_at.get(q)
    if m is None or not (m.outer_start < m.start and v.text[m.outer_start] == "و"):
        return pos - 1
    after = v.toks(m.end, min(limit, m.end + APPOSITION_CHARS))[:1]
    if after and (after[0].text == "،" or after[0].text in v.lex.complementizers):
        return q
    return pos - 1


def _words_at(v: FieldView, pos: int, limit: int) -> tuple[Tok, ...]:
    """The tokens of an apposition window, a hashtag's mark left out ("سيرغي #لافروف")."""
    toks = v.toks(pos, min(limit, pos + APPOSITION_CHARS))
    return tuple(t for t in toks if t.text != HASHTAG)


def name_in_apposition(v: FieldView, pos: int, limit: int) -> Mention | None:
    """A name mention of the five within two words after pos, with nothing between
    that could end the noun phrase (a preposition, complementizer, cue or punctuation)."""
    lex = v.lex
    for k, t in enumerate(_words_at(v, pos, limit)[:3]):
        m = v.mention_at.get(t.start)
        if m is not None and m.kind == K.NAME and m.outer_start == m.start:
            return m
        if k == 2 or _ends_apposition(lex, t.text):
            return None
    return None


def _ends_apposition(lex: CueLexicon, w: str) -> bool:
    """A word that cannot stand inside a title's apposition: punctuation or a number, an
    adverbial or preposition, a cue, a complementizer."""
    return not w.isalpha() or w in lex.adverbials or w in lex.specs or w in lex.complementizers


def in_construct(v: FieldView, title: Mention, named: Mention) -> bool:
    """Whether another person's title governs the five's office and name after it ("مساعد
    وزير الدفاع الأمريكي تشاك هاغل"، "المتحدث باسم وزير الخارجية"): the name mention holds
    an office, and nothing but a preposition of the title stands between them."""
    if named.role is None:
        return False
    between = v.text[title.end : named.start].split()
    return all(w in v.lex.title_links for w in between)


def second_title_name(v: FieldView, pos: int, limit: int) -> Mention | None:
    """The five's office and name as a second title in apposition to a first one: "نائب رئيس
    مجلس الوزراء وزير الخارجية والمغتربين وليد المعلم". The first title must be complete, its
    last word definite ("... مجلس الوزراء"), so that the office starts a new noun phrase;
    "مستشار وزير الخارجية الروسي سيرغي لافروف" (construct state) is the adviser's title."""
    lex = v.lex
    words = _words_at(v, pos, limit)[: SECOND_TITLE_WORDS + 1]
    for k, t in enumerate(words):
        m = v.mention_at.get(t.start)
        office = m is not None and m.kind == K.ROLE and m.country not in (None, "xx")
        if m is not None and (m.kind == K.NAME or office) and m.outer_start == m.start:
            # "... مجلس الوزراء وزير الخارجية والمغتربين (وليد المعلم)": with or without his name
            return m if k > 0 and words[k - 1].text.startswith(ARTICLE) else None
        w = t.text
        if w == TITLE_IN and k > 0:
            continue  # "رئيس لجنة العلاقات الخارجية في مجلس الشيوخ جون كيري"
        if (
            _ends_apposition(lex, w)
            or w in lex.title_links  # "المتحدث باسم ...": the title governs what follows
            or w in lex.particles
            or w in lex.with_preps
            or w in lex.object_preps
        ):
            return None
    return None


def unregistered_name_end(v: FieldView, pos: int, limit: int, office: bool = True) -> int:
    """End of up to three name-like words at pos (no function word, cue or position noun).
    ``office``: after an office ("الوزير الروسي"), not another person's title ("مصادر"), no
    preposition and no first word ending as a feminine or plural noun is a name."""
    lex = v.lex
    end = pos
    words_at = _words_at(v, pos, limit)
    if words_at and words_at[0].text in lex.name_titles:
        words_at = words_at[1:]  # "وزير الخارجية الأستاذ عادل بن أحمد الجبير"
    for i, t in enumerate(words_at[:3]):
        w = t.text
        if (
            not w.isalpha()
            or (i == 0 and w.startswith(ARTICLE))  # a given name has no article: "عادل الجبير"
            or len(w) < 2
            or w in lex.adverbials
            or w in lex.complementizers
            or w in lex.specs
            or (w[0] in CLITICS and w[1:] in lex.specs)
            or (w[0] in PREPOSITION_CLITICS and w[1:] in lex.demonstratives)  # "بهذا"
            or (w[0] in PREPOSITION_CLITICS and w[1:] in patterns().counterpart_words)  # "لنظيره"
            or w in lex.feminine_places  # "واتهم الوزير الروسي واشنطن بأنها": the object
            or (office and w in _PREPOSITIONS)  # "وأعرب الوزير الروسي عن"
            or (office and i == 0 and w.endswith(("ة", "ات")))  # "... الوزير الروسي حصيلة"
            or (office and i == 0 and _circumstantial(v, words_at))  # "الوزير الروسي مازحا:"
            or (office and w.startswith(DEFINITE_PP))  # "وأكد وزير الخارجية الروسي للزعيم"
            or is_head(v, w)
            or (w.startswith(ARTICLE) and w.endswith(("ي", "ية")))  # a nisba: "السعودي"
            or t.start in v.mention_at  # a mention's outer start: the next phrase
        ):
            break
        end = t.end
    return end


def _circumstantial(v: FieldView, toks: tuple[Tok, ...]) -> bool:
    """The word after an office is an adverb of manner in the accusative, not a name: one
    word ending in ا with nothing name-like after it ("وقال الوزير الروسي مازحا: ...")."""
    w = toks[0].text
    if not (w.endswith(ALIF) and len(w) >= HAL_MIN_CHARS):
        return False
    nxt = toks[1].text if len(toks) > 1 else ""
    return not nxt.isalpha() or nxt in v.lex.complementizers


def skip_light(v: FieldView, pos: int, limit: int) -> int:
    """Skip up to two light adverbials between verb and subject ("وقال له رئيس اللجنة")."""
    for _ in range(2):
        toks = v.toks(pos, min(limit, pos + LIGHT_ADVERBIAL_CHARS))
        if toks and toks[0].text in v.lex.light_adverbials:
            pos = toks[0].end
        else:
            break
    return pos


def other_np(v: FieldView, toks: tuple[Tok, ...], spec: CueSpec | None) -> tuple[int, int] | None:
    """A subject noun phrase that is none of the known mentions, up to the first break."""
    lex = v.lex
    j = 0
    while j < len(toks) and j < SUBJECT_NP_TOKENS:
        t = toks[j].text
        if (
            t in lex.adverbials
            or t in "،,.:؛()"
            or t[0] in QUOTE_OPENERS
            or t in lex.complementizers
        ):
            break
        if spec is not None and opens_frame(v, toks, j, spec):
            break
        j += 1
    if j == 0:
        return None
    return toks[0].start, toks[j - 1].end


# --- subjects before the verb ------------------------------------------------------------------


def _without_opener(lex: CueLexicon, lead: str) -> str:
    """A lead without the clause opener before it: "من جهته، كان" -> "كان"."""
    for opener in lex.clause_openers:
        if lead.startswith(opener):
            return lead[len(opener) :].lstrip(" ،")
    return lead


def mention_before_verb(v: FieldView, end: int) -> Mention | None:
    """The mention ending at ``end``, or an apposition a comma closes there ("وكان وزير
    الخارجية الروسي، سيرغي لافروف، قال"): a name set off by commas on both sides."""
    m = v.mention_ending.get(end)
    if m is not None or end < 1 or v.text[end - 1] != "،":
        return m
    inner = v.text[: end - 1].rstrip()
    m = v.mention_ending.get(len(inner))
    return m if m is not None and "،" in v.text[m.start : m.end] else None


def title_clause(v: FieldView, m: Mention, hit: CueHit) -> bool:
    """A title's clause after its topic or another clause, a name right before a present-tense
    cue: "سوريا.. لافروف يحذر من ..."، "ترامب يترقب التقرير ولافروف يحذر من ..."."""
    return (
        v.field == "title"
        and hit.spec.kind == CueKind.IMPERFECT
        and not hit.prefixed
        and m.kind in (K.NAME, K.ROLE)
        and not v.text[m.end : hit.outer_start].strip()
    )


def _auxiliary_after_opener(lex: CueLexicon, before: str) -> re.Match[str] | None:
    """كان after an opening phrase and its comma-less lead: "وعلى صعيد مواز كان سيرغي لافروف
    ... أعلن" (the last كان before the verb, preceded by a space)."""
    k = before.rfind(" ")
    while k > 0:
        m = lex.auxiliary_lead.match(before, k)
        if m is not None and before[k - 1] not in "،,:.":
            return m
        k = before.rfind(" ", 0, k)
    return None


def svo_subject(v: FieldView, hit: CueHit, unit: Unit) -> Subject | None:
    """Subject before the verb: "غير أن كيري أكد"، "وكان لافروف قد أكد"، "كيري يؤكد"."""
    text, lex = v.text, v.lex
    before = text[unit.start : hit.outer_start]
    stripped = lex.before_verb.sub("", before)
    end = unit.start + len(stripped)
    m = mention_before_verb(v, end)
    if m is None and stripped.rstrip().endswith("،"):
        # "والمعلم، الذي ترأس وفد دمشق إلى المفاوضات، كرر أن": the name before a relative
        # clause set off by commas.
        rels = list(lex.relative_clause.finditer(text, unit.start, end))
        if rels:  # the clause nearest the verb: an earlier one may describe someone else
            m = mention_before_verb(v, rels[-1].start())
    if m is None:
        # "وزير الخارجية السعودي عادل الجبير أكد": an office, then up to three name words.
        toks = v.toks(max(unit.start, end - OFFICE_NAME_CHARS), end)
        for k in range(1, min(3, len(toks)) + 1):
            cand = v.mention_ending.get(toks[-k].start - 1)
            if (
                cand is not None
                and cand.kind in OFFICE_KINDS
                and all(t.text.isalpha() and t.text not in lex.adverbials for t in toks[-k:])
            ):
                m = cand
                break
    if m is not None and (m.kind in SPEAKER_KINDS or m.kind == K.PERSON):
        lead = text[unit.start : m.outer_start].strip(' "«،')
        if m.outer_start < m.start:
            lead = (lead + " " + text[m.outer_start : m.start]).strip()
        if lead in lex.svo_leads or _without_opener(lex, lead) in lex.svo_leads:
            return Subject(M.SVO, (m,))
        if opens_own_clause(v, m, unit):
            return Subject(M.SVO, (m,))
        if title_clause(v, m, hit):
            return Subject(M.SVO, (m,))
        if m.former or m.kind == K.PERSON:
            # "كولن باول وزير الخارجية الأمريكي الأسبق قال:": someone else before the verb.
            return Subject(M.OTHER, mentions=(m,))
    # "وكان الأمير بندر بن سلطان ذكر أن": كان + subject + (قد) + verb.
    lead_match = lex.auxiliary_lead.match(before) or _auxiliary_after_opener(lex, before)
    if lead_match:
        span_start = unit.start + lead_match.end()
        toks = v.toks(span_start, end)
        if 0 < len(toks) <= AUXILIARY_SUBJECT_TOKENS and not any(
            t.text in lex.complementizers or t.text in "،." for t in toks
        ):
            chain, _ = mention_chain(v, span_start, end)
            if chain:
                return Subject(M.SVO, chain)
            return Subject(M.OTHER, other_span=(toks[0].start, toks[-1].end))
        chain, q = mention_chain(v, span_start, end)
        aside = v.text[q:end].strip()
        if chain and aside[:1] == "،" and aside[-1:] == "،" and len(aside) <= CLAUSE_CHARS:
            # "وكان وزير الخارجية الروسي سيرغي لافروف، الموجود في أستانا ...، أكد أن"
            return Subject(M.SVO, chain)
    return None


def is_counterpart(v: FieldView, m: Mention) -> bool:
    """ "نظيره الأمريكي", alone or merged with the name after it ("نظيره الأمريكي تشاك هاغل")."""
    return m.kind == K.COUNTERPART or (
        m.kind == K.NAME and patterns().counterpart.match(v.text, m.outer_start) is not None
    )


def counterpart_object(v: FieldView, m: Mention) -> bool:
    """ "مع نظرائه"، "بنظيره": a counterpart after a preposition is no clause's subject."""
    if not is_counterpart(v, m):
        return False
    before = v.text[max(0, m.outer_start - CONNECTOR_WORD_CHARS) : m.outer_start].split()
    clitic = v.text[m.outer_start : m.start]
    return (clitic != "" and clitic in PREPOSITION_CLITICS) or bool(
        before and before[-1] in v.lex.with_preps
    )


def adjacent_subject(v: FieldView, hit: CueHit, unit: Unit) -> Subject | None:
    """One of the five named right before the verb, after any lead ("إن الوزير هاغل حث")."""
    before = v.text[unit.start : hit.outer_start]
    m = mention_before_verb(v, unit.start + len(v.lex.before_verb.sub("", before)))
    if m is not None and m.kind in SPEAKER_KINDS and m.kind != K.COUNTERPART:
        return Subject(M.SVO, (m,))
    return None


def opens_own_clause(v: FieldView, m: Mention, unit: Unit) -> bool:
    """A mention with its conjunction after a comma starts a clause of its own, its subject
    first: "...، وكيري يكرر في كل مؤتمر أن ..."."""
    return m.outer_start < m.start and v.text[unit.start : m.outer_start].rstrip().endswith("،")


def complement_subject(v: FieldView, hit: CueHit, unit: Unit) -> Subject | None:
    """One of the five named between a complementizer and the verb: "إن هاغل أبلغ"."""
    adjacent = adjacent_subject(v, hit, unit)
    if adjacent is None:
        return None
    at = adjacent.mentions[0].outer_start
    before = v.text[max(unit.start, at - CONNECTOR_WORD_CHARS) : at].split()
    lead = before[-1] if before else ""
    if lead[:1] == "و" and lead[1:] in v.lex.complementizers:
        lead = lead[1:]  # "...، وأن شويغو شدد على": a second complement
    # "فإن شويغو أكد" after an according-to phrase, as after "إن".
    ok = lead in v.lex.complementizers or lead in v.lex.according_resumptives
    return adjacent if ok else None


def fronted_subject(v: FieldView, hit: CueHit, unit: Unit) -> Subject | None:
    """A noun phrase right before the verb is its subject, not a dropped pronoun: "لكن هذا
    الائتلاف رأى أن" is the coalition's view. A fronted prepositional phrase ("وفي
    تصريحات للصحفيين قال") or a connector leaves the verb subjectless."""
    if hit.prefixed:
        return None
    lex = v.lex
    before = v.text[unit.start : hit.outer_start]
    if lex.relative_before.search(before):
        return None  # a relative pronoun is no noun phrase: "المهام، التي قال إنها"
    clause = lex.clause_break.split(before)[-1]
    toks = [t for t in tokens(clause, 0, len(clause)) if t.text.isalpha()]
    if not toks or len(toks) > FRONTED_WORDS or toks[-1].text == lex.perfect_particle:
        return None
    first = toks[0].text
    bare = first[1:] if first[0] in CLITICS and len(first) > 3 else first
    preposition = first[0] in PREPOSITION_CLITICS and len(first) > 3
    if preposition or any(
        w in lex.adverbials
        or w in lex.particles
        or w in lex.light_adverbials
        or w in lex.complementizers
        or w in lex.specs
        for w in (first, bare)
    ):
        return None  # a fronted prepositional phrase, an adverb, a connector
    offset = unit.start + len(before) - len(clause)
    at = toks[0].start + offset
    # A definite or demonstrative noun phrase, or a person's title: "هذا الائتلاف"،
    # "نائب رئيس الائتلاف المعارض". Other words may be adverbs this lexicon lacks.
    if not (
        first in lex.demonstratives
        or first.startswith(ARTICLE)
        or any(m.kind == K.PERSON for m in v.mentions_in(at, at + 1))
        or (len(toks) == 1 and named_before(v, first, at))
    ):
        return None
    return Subject(M.OTHER, other_span=(offset + toks[0].start, offset + toks[-1].end))


def named_before(v: FieldView, word: str, at: int) -> bool:
    """A bare word before the verb that ended a name earlier in the text is that person's
    surname: "... حكمت حبيب" then "لكن حبيب أكد" (someone else, not a dropped pronoun)."""
    if len(word) < 3:
        return False
    i = v.text.rfind(" " + word, max(0, at - NAME_REUSE_CHARS), at - 1)
    if i < 0:
        return False
    end = i + 1 + len(word)
    prev = v.text[max(0, i - NAME_REUSE_WORD_CHARS) : i].split()
    return (end == len(v.text) or not v.text[end].isalpha()) and bool(
        prev
        and prev[-1].isalpha()
        and not prev[-1].startswith(ARTICLE)
        and prev[-1] not in v.lex.adverbials
        and prev[-1] not in v.lex.particles
        and prev[-1] not in v.lex.specs
    )


def unit_subject(v: FieldView, unit: Unit, hits: list[CueHit]) -> Subject | None:
    """The subject of a sentence that opens with a verb ("ومثل كيري أمام اللجنة"), which
    participles and dropped subjects may continue; None when the sentence opens otherwise."""
    lex = v.lex
    pos = unit.start
    head = v.text[pos : pos + OPENER_CHARS]
    topic = False
    for opener in lex.clause_openers:
        # A whole word: "أما هيغل، فذهب" opens with "أما", "أمام اللجنة" does not.
        if head.startswith(opener) and not head[len(opener) : len(opener) + 1].isalpha():
            topic = opener == lex.topic_opener
            pos += len(opener)
            while pos < unit.end and v.text[pos] in " ،":  # "في غضون ذلك، دافع كيري ..."
                pos += 1
            break
    else:
        pos = _past_fronted_phrase(v, unit, pos, hits)
    toks = v.toks(pos, min(unit.end, pos + CLAUSE_CHARS))
    if len(toks) < 2:
        return None
    t0 = toks[0]
    if any(h.outer_start == t0.start for h in hits):
        return None  # the cue itself gives the subject
    chain, _ = mention_chain(v, t0.start, unit.end)
    if chain and len(toks) > 1:
        return Subject(M.EXPLICIT, chain)
    if topic:
        return topic_other(v, toks)
    negated = negated_subject(v, unit, toks)
    if negated is not None:
        return negated
    verb_like = (
        t0.text[0] in CLITICS
        and len(t0.text) >= 4
        and t0.text not in lex.particles
        and (not t0.text[1:].startswith(ARTICLE) or t0.text[1:] in lex.article_shaped_verbs)
    )
    group = _group_noun_subject(v, toks)
    if group is not None:
        return group
    if not verb_like:
        return auxiliary_other(v, toks) or bare_verb_subject(v, unit, t0)
    p = skip_light(v, t0.end, unit.end)
    chain, _ = mention_chain(v, p, unit.end)
    if chain:
        return Subject(M.EXPLICIT, chain)
    rest = v.toks(p, min(unit.end, p + CLAUSE_CHARS))
    if (
        not rest
        or rest[0].text in lex.adverbials
        or rest[0].text in lex.complementizers
        or not rest[0].text.isalpha()
        or len(rest[0].text) < 3
    ):
        return None
    span = other_np(v, rest, None)
    if span is None or v.text[span[0] : span[0] + 2] != ARTICLE:
        return None  # only a definite noun phrase is taken as somebody else
    return Subject(M.OTHER, other_span=span)


def _group_noun_subject(v: FieldView, toks: tuple[Tok, ...]) -> Subject | None:
    """A sentence opening with a verb and a group noun ("كما ناقش الجانبان ...، مؤكدين على"،
    "وبحث الوزيران ..."): the people an earlier sentence names together, whom a participle
    later in the sentence continues (mode PARTICIPLE: a later singular "وأضاف" does not).
    None when no sentence before names a group."""
    if len(toks) < 2 or toks[1].text not in v.lex.group_subjects or not toks[0].text.isalpha():
        return None
    group = named_group(v, toks[0].start, Covered())
    return Subject(M.PARTICIPLE, antecedent=group) if group is not None else None


def topic_other(v: FieldView, toks: tuple[Tok, ...]) -> Subject | None:
    """ "أما ظريف فقال إن ...": the words between "أما" and the verb that takes its ف name
    the subject; when they are no mention of the five, somebody else speaks, not the last
    speaker. None for a fronted phrase ("أما بالنسبة إلى ...، فقال لافروف")."""
    lex = v.lex
    first = toks[0].text
    if first[1:].startswith(ARTICLE) or first in lex.adverbials or first in lex.particles:
        return None  # "أما بالنسبة"، "أما في"، "أما على صعيد"
    for k, t in enumerate(toks[1 : FRONTED_WORDS + 1], 1):
        if t.text[:1] == FA and len(t.text) > 2:
            words = [w for w in toks[:k] if w.text.isalpha()]
            if not words:
                return None
            return Subject(M.OTHER, other_span=(words[0].start, words[-1].end))
    return None


def _past_fronted_phrase(v: FieldView, unit: Unit, pos: int, hits: list[CueHit]) -> int:
    """Where the clause begins after a fronted adverbial set off by a comma ("في مؤتمر صحافي
    مع نظيره الروسي سيرغي لافروف، لم يتردد المعلم ..."): the adverbial is nobody's subject.
    ``pos`` itself when the unit opens otherwise, or no comma closes the phrase soon enough."""
    lex = v.lex
    toks = v.toks(pos, min(unit.end, pos + CLAUSE_CHARS))
    if not toks:
        return pos
    first = toks[0].text
    bare = first[1:] if first[:1] in CLITICS and len(first) > 2 else first
    if first not in lex.adverbials and bare not in lex.adverbials:
        return pos
    comma = v.text.find("،", pos, min(unit.end, pos + FRONTED_PHRASE_CHARS))
    if comma < 0 or any(pos <= h.outer_start < comma for h in hits):
        return pos  # no comma, or a cue inside: a clause, not a phrase
    pos = comma + 1
    while pos < unit.end and v.text[pos] == " ":
        pos += 1
    return pos


def auxiliary_other(v: FieldView, toks: tuple[Tok, ...]) -> Subject | None:
    """A sentence opening with كان, an unregistered name and a verb ("وكان شكري استهل المؤتمر
    ...، وأضاف أنه"): that person is the subject a later dropped pronoun continues."""
    lex = v.lex
    if len(toks) < 3 or toks[0].text.lstrip(CLITICS) != lex.auxiliary_word:
        return None
    chain, _ = mention_chain(v, toks[1].start, toks[-1].end)
    if chain:  # "وكان وزير الخارجية السوري وليد المعلم، قد ربط بين ...": the named speaker
        return Subject(M.EXPLICIT, chain)
    w1, w2 = toks[1].text, toks[2].text
    name_like = (
        w1.isalpha()
        and len(w1) >= 3
        and not w1.startswith(ARTICLE)
        and w1 not in lex.not_names
        and w1 not in lex.adverbials
        and w1 not in lex.particles
        and w1 not in lex.complementizers
        and w1 not in lex.demonstratives
        and w1 not in lex.specs
        and toks[1].start not in v.mention_at
    )
    verb_like = (
        w2.isalpha()
        and 3 <= len(w2) <= 6
        and not w2.startswith(ARTICLE)
        and not w2.endswith(("ة", "ات"))
        and w2 not in lex.adverbials
        and w2 not in lex.complementizers
    )
    if not (name_like and verb_like):
        return None
    return Subject(M.OTHER, other_span=(toks[1].start, toks[1].end))


def bare_verb_subject(v: FieldView, unit: Unit, t0: Tok) -> Subject | None:
    """A lead sentence opening with a bare past verb and one of the five ("رفض وزير الخارجية
    الروسي سيرغي لافروف الاتهامات ...، وقال إنها"): the name is the subject a later "وقال"
    continues. Nouns that head a construct ("زيارة لافروف"، "تصريحات كيري") are not verbs."""
    lex, w = v.lex, _HARAKAT.sub("", t0.text)  # "وجّه"
    if (
        not w.isalpha()
        or not 3 <= len(w) <= 5
        or (w.startswith(ARTICLE) and w not in lex.article_shaped_verbs)
        or w.endswith(("ة", "ات"))
        or (w.endswith("ه") and len(w) > 3)  # "زياره" (ة spelt ه), not the verb "وجه"
        or w in lex.particles
        or w in lex.adverbials
        or w in lex.complementizers
        or v.text[t0.end : t0.end + 1] != " "
    ):
        return None
    # The name itself right after the verb, alone: in "هاجم الرئيس الأميركي دونالد ترامب
    # وزير الخارجية السابق جون كيري" someone else's title comes first and Kerry is the object.
    first = v.mention_at.get(t0.end + 1)
    if first is None or first.kind not in (K.NAME, K.ROLE):
        return None
    chain, _ = mention_chain(v, t0.end + 1, unit.end)
    # One name, or the countries of one plural office ("أنهى وزراء خارجية روسيا وتركيا ...").
    group = len(chain) > 1 and patterns().plural_office.match(v.text, chain[0].start)
    return Subject(M.EXPLICIT, chain) if len(chain) == 1 or group else None


def negated_subject(v: FieldView, unit: Unit, toks: list[Tok] | tuple[Tok, ...]) -> Subject | None:
    """A sentence opening with a negated verb and a name ("ولم يخف كيري قلقه ..."، "لم يكن
    كيري قادرا ..."): that name is the subject a later "وقال إن" continues."""
    toks = [t for t in toks[:4] if t.text.isalpha()]  # past the comma after "في المقابل،"
    if len(toks) < 3:
        return None
    t0 = toks[0]
    word = t0.text[1:] if t0.text[:1] in CLITICS else t0.text
    if word not in v.lex.negations:
        return None
    chain, _ = mention_chain(v, skip_light(v, toks[1].end, unit.end), unit.end)
    return Subject(M.EXPLICIT, chain) if chain else None


# --- the subject of one cue --------------------------------------------------------------------


def through_speaker(v: FieldView, hit: CueHit, unit: Unit) -> tuple[Subject, int] | None:
    """A state speaking through a person: "وأعلنت روسيا الأربعاء على لسان وزير خارجيتها سيرغي
    لافروف أن ..."، "روسيا أكدت على لسان وزير خارجيتها ... أن": the person is the subject."""
    window = min(unit.end, hit.end + THROUGH_SPEAKER_CHARS)
    m = v.lex.through_speaker.search(v.text, hit.end, window)
    if m is None or any(c in v.text[hit.end : m.start()] for c in '،,:"«'):
        return None
    chain, q = mention_chain(v, skip_light(v, m.end(), unit.end), unit.end)
    if not chain:
        named = name_in_apposition(v, m.end(), unit.end)  # "وزير خارجيتها سيرغي لافروف"
        if named is None:
            return None
        chain, q = (named,), named.end
    return Subject(M.EXPLICIT, chain), q


def _addressee_chain(
    v: FieldView, hit: CueHit, chain: tuple[Mention, ...], q: int, unit_subjects: list[Subject]
) -> bool:
    """'كيري وصف ... وحث الرئيس بيير نكورونزيزا على إجراء حوار': in a sentence whose speaker
    is named, a coordinated verb's person followed by its preposition is the addressee. A verb
    that must have an object has it in the name right before the charge: "وقال كوركر ...،
    واتهم وزير الخارجية جون كيري بالفشل" (Kerry is the accused)."""
    spec = hit.spec
    if spec.object_required:
        # Not "واتهم لافروف بريطانيا بنشر ...": a charge after the next word is the charge.
        nxt = v.toks(q, min(len(v.text), q + APPOSITION_CHARS))[:2]
        if not nxt or not _charge(v, nxt[0].text):
            return False
        return len(nxt) < 2 or nxt[1].text[:1] != BA
    if not (hit.prefixed and spec.preps and unit_subjects):
        return False
    if not any(m.kind in SPEAKER_KINDS for m in unit_subjects[-1].mentions):
        return False
    if not all(m.kind == K.PERSON for m in chain):
        return False
    nxt = v.toks(q, min(len(v.text), q + LIGHT_ADVERBIAL_CHARS))[:1]
    return bool(nxt) and nxt[0].text in spec.preps


def _charge(v: FieldView, word: str) -> bool:
    """A noun with the preposition ب written on it ("بالفشل"، "بدعم"), not a name."""
    return (
        word[:1] == BA
        and len(word) > CHARGE_MIN_CHARS
        and word.isalpha()
        and word not in v.lex.letter_initial_names
        and word not in v.lex.feminine_places  # "بريطانيا"، "بكين"
    )


def subject_of(
    v: FieldView,
    hit: CueHit,
    unit: Unit,
    unit_subjects: list[Subject],
    last: Subject | None,
    content: Covered,
) -> tuple[Subject | None, int]:
    """The cue's subject and the position where its complement may start. ``last`` is the
    subject a dropped pronoun continues; ``content`` the field's quotations found so far."""
    if last is not None and any(m.end > hit.outer_start for m in last.mentions):
        # A dropped pronoun continues a speaker named before its verb, never one named after
        # it (a unit's subject found further on: "أعرب عن ... سيرغي لافروف").
        last = None
    kind = hit.spec.kind
    if kind == CueKind.IMPERFECT and v.lex.future_lead.search(
        v.text, max(unit.start, hit.outer_start - FUTURE_LEAD_CHARS), hit.outer_start
    ):
        return None, hit.end  # "ومن المنتظر أن يعلن بومبيو عن ...": not said yet
    if kind == CueKind.PARTICIPLE:
        return participle_subject(v, hit, unit, unit_subjects, last, content), hit.end
    if kind == CueKind.ACCORDING:
        return according_subject(v, hit, unit, last)
    if kind == CueKind.SAID_OF:
        return said_of_subject(v, hit, unit), hit.end
    spokesman = through_speaker(v, hit, unit)
    if spokesman is not None or hit.spec.through_only:
        return spokesman or (None, hit.end)
    p = skip_light(v, hit.end, unit.end)
    honorific = v.toks(p, min(unit.end, p + LIGHT_ADVERBIAL_CHARS))[:1]
    if honorific and honorific[0].text in v.lex.honorific_pronouns:
        # "وأضاف معاليه للصحفيين عقب لقائه ... جون كيري إنه": the last person goes on.
        return Subject(M.PRODROP, antecedent=last), honorific[0].end
    chain, q = mention_chain(v, p, unit.end)
    if chain and _preposition_object(v, hit, unit, chain, q):
        return None, hit.end
    if chain and _addressee_chain(v, hit, chain, q, unit_subjects):
        return Subject(M.PRODROP, antecedent=last), hit.end
    if chain and is_counterpart(v, chain[0]):
        # "نظيره" after the verb is its object when a subject stands before it: "إن الوزير
        # هاغل حث نظيره الروسي على ..."، "الوزير شويغو أبلغ نظيره الأمريكي أن ...".
        fronted = (
            svo_subject(v, hit, unit)
            or adjacent_subject(v, hit, unit)
            or fronted_subject(v, hit, unit)
        )
        if fronted is not None:
            return fronted, hit.end
    if chain:
        clause = complement_subject(v, hit, unit)
        if clause is None:
            # "وكان وزير الدفاع الروسي، سيرغي شويغو، قد أبلغ الرئيس بوتن أن ...": a name
            # before the verb is its subject and the name after it the object.
            named = svo_subject(v, hit, unit)
            clause = named if named is not None and named.mentions else None
        if clause is not None:
            # "إن هاغل أبلغ شويغو أن ...": the clause's subject stands before its verb and
            # the name after it is the object.
            return clause, hit.end
        return Subject(M.EXPLICIT, chain), past_relative_clause(v, q, unit)
    # "ذكرت الوكالة أن لافروف قال، الخميس، إن ..."، "يذكر أن المعلم أعرب عن ...": one of
    # the five between a complementizer and the verb is the verb's subject.
    before = complement_subject(v, hit, unit) or relative_subject(v, hit, unit)
    if before is None:
        before = svo_subject(v, hit, unit) or fronted_subject(v, hit, unit)
    if before is not None:
        return before, hit.end
    group = group_subject(v, hit, unit, p, last, content)
    if group is not None:
        return group
    if kind == CueKind.IMPERFECT:
        # Present-tense verbs report only with an explicit subject, or continuing the clause's
        # speaker: "...، قبل أن يضيف: «...»"، "ثم يضيف".
        serial = unit_subjects and serial_imperfect(v, hit, unit)
        return (Subject(M.PARTICIPLE, antecedent=unit_subjects[-1]) if serial else None), hit.end
    return subject_after(v, hit, unit, p, last)


def _preposition_object(
    v: FieldView, hit: CueHit, unit: Unit, chain: tuple[Mention, ...], q: int
) -> bool:
    """The names after an ambiguous form are a preposition's object: "بين وزيري الخارجية
    الأميركي والإيراني" (more than one), "الخلافات بين هاغل وفريق الأمن القومي"، "لقاء موسكو
    بين وزير الخارجية الروسي سيرغي لافروف والتركي ..." (after a noun or a place, with no
    complementizer after the names: "بيّن لافروف أن" is the verb)."""
    if not hit.spec.ambiguous or hit.prefixed:
        return False
    if len(chain) > 1:
        return True
    after = v.toks(q, min(unit.end, q + APPOSITION_CHARS))[:1]
    if after and (after[0].text in v.lex.complementizers or after[0].text == ":"):
        return False
    return _after_noun(v, hit, unit)


def _after_noun(v: FieldView, hit: CueHit, unit: Unit) -> bool:
    """The word before a cue form that is also a preposition is a definite noun that names no
    one ("الخلافات بين") or a place ("لقاء موسكو بين"): the form is that preposition."""
    if v.text[hit.start : hit.end] not in v.lex.preposition_forms:
        return False
    toks = v.toks(max(unit.start, hit.outer_start - APPOSITION_CHARS), hit.outer_start)
    if not toks:
        return False
    w = toks[-1]
    if w.text in v.lex.feminine_places:
        return True
    return (
        w.text.startswith(ARTICLE)
        and w.text.isalpha()
        and w.text not in v.lex.article_shaped_verbs
        and not v.mentions_in(w.start, w.end)
    )


def according_subject(
    v: FieldView, hit: CueHit, unit: Unit, last: Subject | None
) -> tuple[Subject | None, int]:
    """Whom an according-to phrase names: "وبحسب كيري، فإن ..."، "بحسب ما أعلن لافروف"; with a
    pronoun ("...، على حد تعبيره.") the speaker last named."""
    if hit.spec.form in v.lex.according_pronominal:
        return Subject(M.PRODROP, antecedent=last), hit.end
    chain, p = mention_chain(v, hit.end, unit.end, allow_clitic=True)
    if not chain:
        chain, p = according_relative(v, hit, unit)
    return (Subject(M.ACCORDING, chain), p) if chain else (None, hit.end)


def serial_imperfect(v: FieldView, hit: CueHit, unit: Unit) -> bool:
    """A present-tense cue that continues the sentence's speaker: after "قبل أن" or "ثم". (With
    the clitic ل, "ليضيف", it would too, but the cue matcher reads only و and ف.)"""
    before = v.text[max(unit.start, hit.outer_start - FUTURE_LEAD_CHARS) : hit.outer_start]
    return any(before.rstrip().endswith(lead) for lead in v.lex.serial_leads)


def according_relative(v: FieldView, hit: CueHit, unit: Unit) -> tuple[tuple[Mention, ...], int]:
    """The subject of "ما" + a speech verb after an "according to" phrase ("بحسب ما أعلن
    لافروف"، "وفقا لما قاله وزير الخارجية الروسي"، "وفق ما أكدته الخارجية"); none otherwise.
    The verb may carry the object pronoun that "ما" leaves ("قاله"، "أعلنته")."""
    toks = v.toks(hit.end, min(unit.end, hit.end + CLAUSE_CHARS))
    if len(toks) < 3 or toks[0].text not in v.lex.according_relatives:
        return (), hit.end
    verb = toks[1].text
    specs = v.lex.specs
    speech = any(
        verb[: len(verb) - n] in specs and specs[verb[: len(verb) - n]].kind == CueKind.VERB
        for n in (0, 1, 2)
    )
    if speech:
        chain, end = mention_chain(v, toks[1].end, unit.end)
        if chain or verb not in v.lex.relay_verbs:
            return chain, end
    if verb in v.lex.relay_verbs:
        # "وفق ما نقلت وكالة «تاس» عن لافروف": a medium reported, the speaker after عن.
        for t in toks[2 : 2 + RELAYED_BY_WORDS]:
            if t.text == RELAYED_FROM:
                return mention_chain(v, t.end, unit.end)
    return (), hit.end


def group_subject(
    v: FieldView, hit: CueHit, unit: Unit, p: int, last: Subject | None, content: Covered
) -> tuple[Subject | None, int] | None:
    """A group as subject: "وقال الوزيران إن"، "وأكد الوزراء الثلاثة على"، or a dual or plural
    verb with its subject dropped ("وأكدا أن"): the group named before, when the last subject
    named two or more people ("والتقى لافروف وكيري ..."), else the people named together in
    an earlier sentence of the paragraphs before (``named_group``); no candidate otherwise.
    None when the subject is no group."""
    lex = v.lex
    toks = v.toks(p, min(unit.end, p + CLAUSE_CHARS))
    after = p
    dual = hit.spec.group and hit.spec.form.endswith(DUAL_ENDING)
    if toks and toks[0].text in lex.group_subjects:
        dual = toks[0].text in lex.dual_subjects
        after = toks[0].end
        nxt = 1
        if len(toks) > 1 and toks[1].text in lex.group_counts:
            after = toks[1].end
            nxt = 2
        chain, q = mention_chain(v, after, unit.end)
        if chain:  # "وقال الوزيران لافروف وكيري إن"
            return Subject(M.EXPLICIT, chain), q
        if len(toks) > nxt and toks[nxt].text.startswith(ARTICLE):
            return None, hit.end  # "الجانبان الروسي والتركي": the sides, countries
    elif not hit.spec.group:
        return None
    if last is not None and len(last.mentions) > 1:
        return Subject(M.PRODROP, antecedent=last), after
    named = after > p  # "الوزيران": a group noun names the pair, not the last speaker
    if (last is not None and last.mode == M.OTHER and not named) or v.lex.relative_before.search(
        v.text, max(unit.start, hit.outer_start - RELATIVE_CHARS), hit.outer_start
    ):
        return None, hit.end  # someone else spoke last; "الذين قالوا": the relative's antecedent
    group = named_group(v, hit.outer_start, content) or (
        last_pair(v, hit, content) if dual else None
    )
    if group is not None:
        return Subject(M.PRODROP, antecedent=group), after
    return None, hit.end


def last_pair(v: FieldView, hit: CueHit, content: Covered) -> Subject | None:
    """The two people a dual ("الوزيران"، "وأكدا") stands for when no sentence names them
    together: the last two named in the ``PAIR_LOOKBACK`` sentences before, by name or office,
    of two countries (a name counts as its office's: "هيجل" ... "الوزير الروسي")."""
    ui = v.unit_index(hit.outer_start)
    start = v.units[max(0, ui - PAIR_LOOKBACK)].start
    pair: list[Mention] = []
    keys: set[str | None] = set()
    for m in reversed(v.mentions_in(start, hit.outer_start)):
        if m.kind not in (K.NAME, K.ROLE, K.GENERIC) or m.start in content:
            continue
        key = speaker_country(m.speaker_id) if m.speaker_id else m.country
        if key is None:
            return None
        if key not in keys:
            keys.add(key)
            pair.append(m)
        if len(pair) == 2:
            return Subject(M.EXPLICIT, tuple(reversed(pair)))
    return None


def named_group(v: FieldView, at: int, content: Covered) -> Subject | None:
    """The people an earlier sentence names together ("التقى وزير الخارجية الأمريكي جون كيري
    نظيره الروسي سيرغي لافروف"، "وعقد وزراء الخارجية الروسي سيرغي لافروف والتركي ..."): in the
    sentence before ``at`` or in the ``GROUP_LOOKBACK`` sentences before, the nearest with
    two or more mentions outside quoted content, one of them a name or an office, or with one
    after a plural office. A group verb or noun has no antecedent otherwise."""
    ui = v.unit_index(at)
    for j in range(ui, max(-1, ui - 1 - GROUP_LOOKBACK), -1):
        u = v.units[j]
        ms = [
            m
            for m in v.mentions_in(u.start, min(u.end, at))
            if (m.kind in SPEAKER_KINDS or m.kind == K.PERSON) and m.start not in content
        ]
        # A title inside a longer mention is the same person.
        ms = [
            m
            for m in ms
            if not any(o is not m and o.start <= m.start and m.end <= o.end for o in ms)
        ]
        if not any(m.kind in GROUP_ANCHORS for m in ms):
            continue  # a counterpart alone depends on whose: "أردوغان ونظيره الروسي"
        if len(ms) > 1 or patterns().plural_office.search(v.text, u.start, ms[0].end):
            return Subject(M.EXPLICIT, tuple(ms))
    return None


def past_relative_clause(v: FieldView, pos: int, unit: Unit) -> int:
    """Past a relative clause set off by commas after the subject ("واتهم لافروف، الذي كان
    يتحدث في أستانا، بريطانيا ..."): the complement starts after its closing comma."""
    m = v.lex.relative_clause.match(v.text, pos, unit.end)
    if not m:
        return pos
    close = v.text.find("،", m.end(), min(unit.end, m.end() + CLAUSE_CHARS))
    return close + 1 if close > 0 else pos


def participle_subject(
    v: FieldView,
    hit: CueHit,
    unit: Unit,
    unit_subjects: list[Subject],
    last: Subject | None,
    content: Covered,
) -> Subject:
    """A participle ("مضيفا"، "مشيرا إلى") shares the subject of its governing clause."""
    if unit_subjects:
        return Subject(M.PARTICIPLE, antecedent=unit_subjects[-1])
    prior = [
        m
        for m in v.mentions_in(unit.start, hit.outer_start + 1)
        if m.end <= hit.outer_start
        and (m.kind in SPEAKER_KINDS or m.kind == K.PERSON)
        and m.start not in content
        and not counterpart_object(v, m)
    ]
    # "نائب وزير الخارجية الروسي": an office right after another person's title is part of
    # that title (construct state), not a speaker of its own.
    prior = [
        m
        for m in prior
        if not any(
            o.kind == K.PERSON and o.end <= m.start and not v.text[o.end : m.start].strip()
            for o in prior
        )
    ]
    # "محادثات لافروف مع نظرائه القطري والأميركي ...، معتبرا": a counterpart after a name
    # is whom the named one met, not the clause's subject.
    named = [m for m in prior if m.kind != K.COUNTERPART]
    if named or prior:
        return Subject(M.PARTICIPLE, antecedent=Subject(M.EXPLICIT, ((named or prior)[-1],)))
    other = surname_before(v, unit.start, hit.outer_start)
    if other is not None:
        return Subject(M.OTHER, other_span=other)
    return Subject(M.PRODROP, antecedent=last)


def surname_before(v: FieldView, start: int, end: int) -> tuple[int, int] | None:
    """A bare surname in the clause before a participle ("... باراك أوباما" earlier, then
    "وخلال القمة رد أوباما على ...، متعهدا"): someone else governs the participle, not the
    last speaker."""
    lex = v.lex
    for t in v.toks(start, end):
        if (
            t.text.isalpha()
            and not t.text.startswith(ARTICLE)
            and t.text not in lex.specs
            and t.text not in lex.particles
            and t.text not in lex.adverbials
            and named_before(v, t.text, t.start)
        ):
            return (t.start, t.end)
    return None


def said_of_subject(v: FieldView, hit: CueHit, unit: Unit) -> Subject | None:
    """ "نقلت الوكالة عن لافروف قوله إن"، "ونسب إلى لافروف القول إن": the speaker is the
    object of عن or إلى right before."""
    text = v.text
    before = text[unit.start : hit.outer_start].rstrip()
    m = v.mention_ending.get(unit.start + len(before))
    if m is not None and text[max(0, m.outer_start - 4) : m.outer_start].strip().endswith(
        v.lex.said_of_prepositions
    ):
        return Subject(M.EXPLICIT, (m,))
    return None


def relative_subject(v: FieldView, hit: CueHit, unit: Unit) -> Subject | None:
    """ "تصريحات خامنئي التي أكد فيها أن ...": the subject is the antecedent, named right
    before the relative pronoun ("بتصريحات لافروف التي"), else someone else."""
    text = v.text
    window = max(unit.start, hit.outer_start - RELATIVE_CHARS)
    rel = v.lex.relative_before.search(text[window : hit.outer_start])
    if not rel:
        return None
    # "أقوال كيري، التي انتقد فيها": a comma may set the relative clause off its antecedent.
    before = text[unit.start : window + rel.start()].rstrip().removesuffix("،").rstrip()
    m = v.mention_ending.get(unit.start + len(before))
    if m is not None and m.kind in SPEAKER_KINDS:
        return Subject(M.EXPLICIT, (m,))
    pronoun = rel.group().strip().removeprefix("و")
    after = v.toks(hit.end, unit.end)  # "التي أكد فيها أن": the possessor's statement
    if (
        pronoun != v.lex.relative_masculine
        and hit.spec.kind in (CueKind.VERB, CueKind.IMPERFECT)
        and after
        and is_complementizer(v, after, 0)
    ):
        # "المهام المشتركة، التي قال إنها ...": a masculine verb after a feminine or plural
        # pronoun does not agree with it, so its subject is dropped, not the antecedent.
        return None
    return Subject(M.OTHER, other_span=None)


def _asyndetic_relative(v: FieldView, hit: CueHit, unit: Unit, p: int) -> bool:
    """A verb right after a noun, with a pronoun referring back to it ("في إشارة إلى تصريحات
    للمسؤول البريطاني قال فيها إن"): a relative clause of that noun's speaker, not a
    dropped subject continuing the last one."""
    if hit.prefixed or p == hit.end:
        return False
    light = v.toks(hit.end, p)
    before = v.text[unit.start : hit.outer_start].rstrip()
    return bool(light) and light[0].text in v.lex.resumptives and before[-1:].isalpha()


def _statement_relative(v: FieldView, hit: CueHit, unit: Unit) -> Subject | None:
    """A verb describing a statement noun and its owner right before it, no pronoun: "حسب
    بيان لوزارة الدفاع الروسية قال إن ..." is the statement's, not the last speaker's."""
    if hit.prefixed:
        return None
    toks = v.toks(max(unit.start, hit.outer_start - CLAUSE_CHARS), hit.outer_start)
    for k in range(len(toks) - 1, max(-1, len(toks) - 1 - SUBJECT_NP_TOKENS), -1):
        t = toks[k]
        if not t.text.isalpha():
            return None
        if t.text in v.lex.statement_nouns and k + 1 < len(toks):
            if toks[k + 1].text[:1] == "ل":  # "بيان لوزارة ..."، "تقرير للأمم المتحدة"
                return Subject(M.OTHER, other_span=(t.start, toks[-1].end))
            return None
    return None


def _statement_owner(v: FieldView, hit: CueHit, unit: Unit) -> Subject | None:
    """Whose statement a relative clause without pronoun describes: a name in the noun
    phrase right before ("تصريحات لافروف قال فيها") or another person's "لل..." phrase
    ("تصريحات للمسؤول البريطاني قال فيها"); None when the phrase names nobody ("أدلى
    بتصريح خلال زيارته قال فيه": the last speaker goes on)."""
    toks = v.toks(max(unit.start, hit.outer_start - CLAUSE_CHARS), hit.outer_start)
    phrase: list[Tok] = []
    for t in reversed(toks[-SUBJECT_NP_TOKENS:]):
        if not t.text.isalpha():
            break
        phrase.insert(0, t)
    if not phrase:
        return None
    # Only a name: an office or "نظيره" in the phrase may be the addressee ("رسالة إلى نظيره
    # السوري أعرب فيها" is the sender's).
    # A name set off by a comma from its office ("تصريحات لوزير الخارجية الروسي، سيرغي
    # لافروف قال فيها") begins before the phrase and ends in it.
    names = [
        m
        for m in v.mentions_in(toks[0].start if toks else phrase[0].start, hit.outer_start)
        if m.kind == K.NAME and m.end > phrase[0].start
    ]
    if names:
        return Subject(M.EXPLICIT, (names[-1],))
    if any(t.text.startswith(LI_ARTICLE) for t in phrase):
        return Subject(M.OTHER, other_span=(phrase[0].start, phrase[-1].end))
    return None


def _participle_at(v: FieldView, t: Tok) -> bool:
    """The token is a participle cue ("مؤكدا"، "مضيفا")."""
    spec = v.lex.specs.get(t.text)
    return spec is not None and spec.kind == CueKind.PARTICIPLE


def addressee_first(v: FieldView, toks: tuple[Tok, ...], spec: CueSpec) -> bool:
    """A feminine noun right after a masculine verb that takes an addressee is that addressee,
    not the subject, which is dropped: "كما حث لندن على ..."، "ودعا الحكومة البريطانية إلى ...".
    The verb's preposition follows within four words."""
    if not spec.preps or spec.through_only or spec.group:
        return False
    w = toks[0].text
    quantifier = w in v.lex.quantifiers  # "وحث جميع الأطراف في اليمن على ..."
    if not (quantifier or w in v.lex.feminine_places or (w.endswith("ة") and len(w) > 3)):
        return False
    return any(
        t.text in spec.preps or (t.text[:1] in spec.preps and len(t.text) > 3) for t in toks[1:5]
    )


def subject_after(
    v: FieldView, hit: CueHit, unit: Unit, p: int, last: Subject | None
) -> tuple[Subject | None, int]:
    """A perfect verb with no mention after it: a dropped subject when its complement follows
    at once, else someone else's noun phrase ("وقال الرئيس الأمريكي باراك أوباما إن")."""
    spec, lex = hit.spec, v.lex
    owner = _statement_relative(v, hit, unit)
    if owner is not None:
        return owner, hit.end
    if _asyndetic_relative(v, hit, unit, p):
        owner = _statement_owner(v, hit, unit)
        if owner is not None:
            return owner, hit.end
    toks = v.toks(p, min(unit.end, p + CLAUSE_CHARS))
    if not toks:
        return None, hit.end
    t0 = toks[0]
    if "direct" in spec.frames and first_person_at(v, toks, 0):
        return Subject(M.PRODROP, antecedent=last), hit.end
    # "وتابع مؤكدا أن"، "ومضى يقول:": a joiner or a participle cue right after the verb
    # shares its dropped subject; it is never a subject noun phrase.
    joined = t0.text in lex.joiners or _participle_at(v, t0)
    # "ووصف هذه الممارسات بأنها": a demonstrative phrase is the verb's object.
    joined = joined or (spec.object_first and t0.text in lex.demonstratives)
    if (
        opens_frame(v, toks, 0, spec)
        or t0.text in lex.adverbials
        or joined
        or t0.text.startswith(LI_ARTICLE)
        or p > hit.end
    ):
        if spec.ambiguous and not (joined or opens_frame(v, toks, 0, spec)):
            return None, hit.end
        return Subject(M.PRODROP, antecedent=last), hit.end
    if spec.ambiguous:
        return None, hit.end
    if addressee_first(v, toks, spec):
        return Subject(M.PRODROP, antecedent=last), hit.end
    if spec.nominal_any and not spec.preps and not spec.bare_after_subject:
        # "وأدان اغتيال ...": with a dropped subject the noun phrase is the object.
        return Subject(M.PRODROP, antecedent=last), hit.end
    span = other_np(v, toks, spec)
    if span is None:
        return None, hit.end
    for m in v.mentions_in(span[0] + 1, span[1]):
        # "وقال وزير الثقة جون كيري": an unknown title in apposition to a known name; a
        # longer description needs the full name ("وقال عضو مجلس الشيوخ السابق جون كيري
        # الذي ...") and nobody else's title before it ("مساعد ...").
        if m.kind != K.NAME or m.outer_start != m.start:
            continue
        title = len(v.toks(span[0], m.start))
        if title <= 3 or (
            title <= DESCRIPTION_TOKENS
            and len(v.toks(m.start, m.end)) > 1
            and not any(x.kind == K.PERSON for x in v.mentions_in(span[0], m.start))
        ):
            return Subject(M.EXPLICIT, (m,)), m.end
    for m in v.mentions_in(span[0] + 1, span[1], outer=True):
        # "وقال الجبير ولافروف إنهما": someone else joined to mentions of the five.
        if v.text[m.outer_start] == "و" and m.outer_start < m.start:
            chain, end = mention_chain(v, m.outer_start, unit.end, allow_clitic=True)
            if chain:
                other = (span[0], m.outer_start - 1)
                return Subject(M.OTHER, mentions=chain, other_span=other), end
    return Subject(M.OTHER, other_span=span), span[1]
