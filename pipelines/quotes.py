"""Quotation stage: find what each speech cue governs, in clean coordinates.

Cues come from :mod:`pipelines.cues`, their subjects from :mod:`pipelines.subjects`; this
module holds the rules: ``RULES``, an ordered tuple of small functions tried at each token
after a cue (the first that returns a :class:`Frame` or a :class:`Step` decides), and
:func:`headline_colon` for "Name: statement" lines. Speakers are not resolved here: a
candidate carries its cue's grammatical subject, and ``attribute`` turns it into a speaker id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TypeVar

from pipelines.cues import CueHit, CueKind, CueSpec, find_cues, load_cues
from pipelines.records import MentionKind, QuoteType, RuleName, SubjectMode
from pipelines.segment import QuoteSpan, Unit, outer_quotes
from pipelines.speakers import Mention
from pipelines.subjects import (
    ARTICLE,
    EXPLICIT_MODES,
    LI_ARTICLE,
    QUOTE_OPENERS,
    SPEAKER_KINDS,
    Covered,
    FieldView,
    Subject,
    Tok,
    according_relative,
    complement_subject,
    first_person_at,
    is_ambiguous_head,
    is_complementizer,
    is_head,
    mention_chain,
    opens_frame,
    opens_own_clause,
    subject_of,
    tokens,
    unit_subject,
    words,
)

__all__ = [
    "RULES",
    "Candidate",
    "Frame",
    "Step",
    "Subject",
    "Tok",
    "detect",
    "detect_field",
    "find_cues",
    "load_cues",
    "tokens",
]

# A registry speaker's name (not an office another person may hold): the subject a bare object
# of أعلن/اعتبر may follow.
NAME_KINDS = (MentionKind.NAME, MentionKind.WEAK_NAME)
# Tokens read after a cue for its complement: past 45 the verb governs nothing more.
FRAME_SCAN_TOKENS = 45
# Tokens a comma-set source ("، بحسب وكالة تاس،") may hold before its closing comma.
ASIDE_TOKENS = 12
# A nominal object starts within 5 tokens of the cue ("شدد وزير الخارجية الروسي على ...").
NOMINAL_NEAR_TOKENS = 5
# After a fronted adverbial, a position noun may stand up to 14 tokens on ("أكد أمس في ...").
NOMINAL_AFTER_ADVERBIAL_TOKENS = 14
# Look-back before a cue for the connector that joins it ("ولكنه قال"، "كما أنه جدد"): 12
# characters.
CONNECTOR_CHARS = 12
# Look-back before a cue for a comma and the lead of a cue after its content ("، وفقا لما "):
# 20 characters.
LEAD_CHARS = 20
# Look-back before a cue for the comma that makes it a new record: 3 characters.
COMMA_CHARS = 3
# A quotation needs at least three words; a span of fewer is a name or a scare quote.
MIN_SPEECH_WORDS = 3
# A quoted phrase of two words is the least that is speech, not a scare-quoted name.
MIN_QUOTE_WORDS = 2
# Words after a quoted name within which a complementizer shows the content is still to come.
NAME_TAIL_WORDS = 3
# How far after a postposed cue's subject the second half of a split quotation may start.
SPLIT_GAP_CHARS = 120
# A quotation this long is speech whatever follows it (quoted names are shorter).
NAME_MAX_WORDS = 8
# An unclosed mark after other words still opens speech when five words follow it.
MIN_UNCLOSED_WORDS = 5
# A title's cue may name its addressee in up to 3 words before the preposition ("يحث ترامب على").
TITLE_ADDRESSEE_TOKENS = 3
# A body subheading's speaker is named again within 1,500 characters of it (a section about
# them); a pasted link to another article names its speaker nowhere near.
HEADING_CONTEXT_CHARS = 1500
# A headline of more than 40 words is a paragraph, not a "Name: statement" line.
HEADLINE_MAX_WORDS = 40
# A title's qualifier before its colon is at most 6 words ("لافروف بعد لقائه نظيره: ...").
QUALIFIER_MAX_WORDS = 6

CLOSING_MARKS = '"»'
# What may not stand between a split quotation's halves: a sentence end, a colon, a line break, a
# quotation mark (the clean text has only " « »).
_SPLIT_GAP_STOPS = ".:؟!\n" + QUOTE_OPENERS + CLOSING_MARKS
_TRIM = " \n\t.،؛:!-—"
_COLON = re.compile(r"\s*:\s*")
_SENTENCE_ENDS = (".", "؟", "!", "…")


@dataclass(frozen=True, slots=True)
class Candidate:
    field: str
    unit_index: int
    cue_start: int
    cue_end: int
    content_start: int
    content_end: int
    quote_type: QuoteType
    rule: RuleName
    subject: Subject


@dataclass(frozen=True, slots=True)
class Frame:
    """What a rule found a cue to govern, before the span is trimmed."""

    cue_start: int
    cue_end: int  # past a joined participle: "وأكد قائلا:"
    content_start: int
    content_end: int
    quote_type: QuoteType
    rule: RuleName
    resume: int  # where the next cue may start


class Step(Enum):
    """A rule's verdict other than a frame."""

    NEXT = "next"  # the token is consumed: go on to the next one
    STOP = "stop"  # the cue governs no speech


@dataclass(slots=True)
class Scan:
    """The walk over the tokens after one cue; rules read it, and a few update
    ``cue_end`` / ``immediate`` (is the token right after the cue or a comma)."""

    v: FieldView
    hit: CueHit
    unit: Unit
    hits: list[CueHit]
    quotes: list[QuoteSpan]
    toks: tuple[Tok, ...]
    later_cues: dict[int, CueHit]
    cue_end: int
    ui: int  # the unit's index in ``v.units``
    immediate: bool = True
    named: bool = False  # the cue's subject is a speaker mention standing right after it
    skip_to: int = -1  # tokens before this index are an aside the walk reads past
    aside_end: int = 0  # after the cue and subject, the tokens of a comma-set aside (_past_aside)

    def frame(self, a: int, b: int, qtype: QuoteType, rule: RuleName, resume: int) -> Frame:
        return Frame(self.hit.start, self.cue_end, a, b, qtype, rule, resume)


Rule = Callable[[Scan, int], "Frame | Step | None"]
F = TypeVar("F", bound=Callable[..., object])
_EMITS: dict[Callable[..., object], tuple[RuleName, ...]] = {}


def emits(*names: RuleName) -> Callable[[F], F]:
    """Declare the rule names a rule function writes into its frames."""

    def mark(fn: F) -> F:
        _EMITS[fn] = names
        return fn

    return mark


def rule_names() -> tuple[RuleName, ...]:
    """Every rule name the rules can emit, in the order they are tried (headlines first)."""
    out: list[RuleName] = list(_EMITS[headline_colon])
    for rule in RULES:
        out += _EMITS.get(rule, ())
    return tuple(out)


# --- spans -------------------------------------------------------------------------------------


def _quote_at(pos: int, spans: Sequence[QuoteSpan]) -> QuoteSpan | None:
    for q in spans:
        if q.start == pos:
            return q
    return None


def strip_span(v: FieldView, a: int, b: int) -> tuple[int, int]:
    text = v.text
    while a < b and text[a] in " \n:":
        a += 1
    while b > a and text[b - 1] in _TRIM:
        b -= 1
    return a, b


def trim_end(v: FieldView, start: int, end: int, quotes: list[QuoteSpan]) -> int:
    text = v.text
    while end > start and text[end - 1] in _TRIM:
        end -= 1
    # A closing mark stays only if its opening mark is inside the content too.
    if (
        end > start
        and text[end - 1] in CLOSING_MARKS
        and not any(start <= q.start and q.end == end for q in quotes)
    ):
        end -= 1
        while end > start and text[end - 1] in _TRIM:
            end -= 1
    return end


def is_boundary(v: FieldView, h: CueHit, unit: Unit) -> bool:
    """A cue that opens a new record inside running content: a participle ("، مضيفا"),
    a verb with its conjunction ("وقال"), a verb after a comma, or one with a named subject."""
    kind = h.spec.kind
    if kind == CueKind.ACCORDING:
        # "وفق خطة محددة" inside content is no attribution; "وبحسب كيري"، "بحسب ما أعلن
        # لافروف" are.
        chain, _ = mention_chain(v, h.end, unit.end, allow_clitic=True)
        return bool(chain or according_relative(v, h, unit)[0])
    if kind == CueKind.PARTICIPLE or h.prefixed:
        return True
    prev = v.text[max(unit.start, h.outer_start - COMMA_CHARS) : h.outer_start].strip()
    if prev.endswith("،"):
        return True
    if kind in (CueKind.VERB, CueKind.IMPERFECT):
        chain, _ = mention_chain(v, h.end, unit.end)
        if chain and chain[0].kind in SPEAKER_KINDS:
            return True
    return False


def content_end(
    v: FieldView, start: int, unit: Unit, hits: list[CueHit], quotes: list[QuoteSpan]
) -> int:
    """Content runs to the unit's end or to the next cue that opens a new record
    ("، مضيفا أن"، "فيما أوضح"، "وقال"), whichever is first; quotation marks are never cut."""
    end = _commentary_end(v, start, unit.end, quotes)
    for h in hits:
        if h.outer_start <= start or h.outer_start >= end:
            continue
        if any(q.start < h.start < q.end for q in quotes):
            continue
        if not v.text[start : h.outer_start].strip():
            continue  # the content's first word: "قال إنه أبلغ كيري بأن ..." is one record
        prev = v.text[max(unit.start, h.outer_start - CONNECTOR_CHARS) : h.outer_start].split()
        joined = " ".join(prev[-2:])
        if len(prev) > 1 and joined in v.lex.content_breakers:
            end = h.outer_start - len(joined) - 1
            break
        if prev and prev[-1] in v.lex.content_breakers:
            end = h.outer_start - len(prev[-1]) - 1
            break
        if (
            len(prev) > 1
            and joined in v.lex.serial_leads
            and h.spec.kind == CueKind.IMPERFECT
            and not mention_chain(v, h.end, unit.end)[0]
        ):
            end = h.outer_start - len(joined) - 1  # "...، قبل أن يضيف: ...": the speaker goes on
            break
        fronted = clause_subject_before(v, h, unit)
        if fronted is not None:
            end = fronted  # "...، وكيري يكرر في كل مؤتمر أن": the next clause's subject
            break
        if is_boundary(v, h, unit):
            end = h.outer_start
            break
    return trim_end(v, start, end, quotes)


def clause_subject_before(v: FieldView, h: CueHit, unit: Unit) -> int | None:
    """Where a clause of its own starts when one of the five, after a comma and و, stands
    right before the cue ("...، وكيري يكرر أن"); None otherwise."""
    if h.prefixed or h.spec.kind not in (CueKind.VERB, CueKind.IMPERFECT):
        return None
    m = v.mention_ending.get(h.outer_start - 1)
    if m is None or m.kind != MentionKind.NAME or not opens_own_clause(v, m, unit):
        return None
    return m.outer_start


def _commentary_end(v: FieldView, start: int, end: int, quotes: list[QuoteSpan]) -> int:
    """Where the reporter's commentary after a comma ends the content ("، في إشارة إلى
    ..."), outside quotation marks; else ``end``."""
    for m in v.lex.content_end.finditer(v.text, start, end):
        if not any(q.start < m.start() < q.end for q in quotes):
            return m.start()
    return end


def classify(v: FieldView, c: int, e: int, quotes: list[QuoteSpan]) -> tuple[QuoteType, int, int]:
    """Direct if the content is one quotation, mixed if it embeds a quoted fragment
    (three words or more; shorter ones are scare quotes: "داعش"), else indirect."""
    text = v.text
    q0 = c
    while q0 < e and text[q0] in " :":
        q0 += 1
    q = _quote_at(q0, quotes)
    if (
        q is not None
        and q.end >= e
        and words(text, q.end, e) == 0
        and words(text, *q.inner) >= MIN_QUOTE_WORDS
    ):
        a, b = q.inner
        return "direct", *strip_span(v, a, b)
    inner = [x for x in outer_quotes(quotes) if x.start >= c and x.start < e]
    if any(words(text, *x.inner) >= MIN_SPEECH_WORDS for x in inner):
        return "mixed", c, e
    return "indirect", c, e


def paragraph_last(v: FieldView, ui: int) -> int:
    """The index of the last unit of unit ``ui``'s paragraph."""
    units, k = v.units, ui
    while k + 1 < len(units) and units[k + 1].paragraph_index == units[ui].paragraph_index:
        k += 1
    return k


def speech_quote(s: Scan, q: QuoteSpan) -> bool:
    """A quotation the cue governs, not a scare-quoted name on the way ("سي ان ان"): it
    follows the cue directly, or the sentence (or record) ends right after it, or it is long
    enough for speech and no sign of a name is around it (:func:`quoted_name`)."""
    text = s.v.text
    n = words(text, *q.inner)
    if n < MIN_QUOTE_WORDS or text[q.end : q.end + 2].lstrip(" ").startswith(":"):
        return False  # too short, or a name the speech follows: 'عقب اجتماع "...": "..."'
    after = content_end(s.v, q.end, s.unit, s.hits, s.quotes)
    post = words(text, q.end, max(q.end, after))
    # After a colon the mark is governed whatever its length: 'إذ قال: "بالطبع سنفعل"، ولم ...'.
    colon = text[: q.start].rstrip().endswith(":")
    if post <= 3 or (s.immediate and (n >= 4 or colon)):
        return True
    # Past an adverbial, a long quotation is still the cue's when the sentence goes on with the
    # reporter's words ('قال لافروف في مؤتمر صحفي "..." في إشارة إلى ...'); a quoted name is
    # what a preposition or a medium's noun governs, or what a complementizer follows.
    return n >= 4 and not quoted_name(s.v, s.unit, q, after, s.hits)


def quoted_name(v: FieldView, unit: Unit, q: QuoteSpan, after: int, hits: list[CueHit]) -> bool:
    """The quotation names something on the way to the content: it follows a preposition or a
    medium's noun ('لشبكة «إم إس إن بي سي»'، 'المحلل لدى "..."') or a complementizer comes
    within a few words after it, before any cue ('«...» أن ...'، '«...»، الاثنين، أن')."""
    lex = v.lex
    before = v.text[unit.start : q.start].split()
    prev = before[-1] if before else ""
    if prev in lex.with_preps or prev in lex.object_preps:
        return True
    if prev in lex.adverbials and prev not in lex.light_adverbials:
        return True  # "لقناة"، "لدى": a name follows; not "للصحفيين"، "أمس"
    if words(v.text, *q.inner) >= NAME_MAX_WORDS:
        return False  # a sentence, not a name: '"... ذلك يعطي انطباعا" بأن الأمر ليس بجديد'
    cue = min((h.outer_start for h in hits if h.outer_start >= q.end), default=after)
    tail = [t.text for t in v.toks(q.end, max(q.end, min(after, cue))) if t.text.isalpha()]
    tail = [w for w in tail if w not in lex.light_adverbials][:NAME_TAIL_WORDS]
    return any(
        w in lex.complementizers and (k == 0 or tail[k - 1] not in lex.not_comp_after)
        for k, w in enumerate(tail)
    )


def noun_phrase_end(v: FieldView, c: int, e: int, quotes: list[QuoteSpan]) -> int:
    """A noun phrase ends where a comma and a connector start the reporter's next clause:
    "أعلن عن اللقاء المرتقب في الدوحة، كما تشهد الفترة ..." (outside quotation marks)."""
    for pattern in (v.lex.comma_clause, v.lex.context_phrase):
        # ... or where the reporter's context starts: "عبر عن مخاوف واشنطن في لقاء مع وانغ".
        for m in pattern.finditer(v.text, c, e):
            if not any(q.start < m.start() < q.end for q in quotes):
                e = trim_end(v, c, m.start(), quotes)
                break
    for m in _COMMA_AND_WORD.finditer(v.text, c, e):
        # "أبدى أسفه لقرار واشنطن، واتهمها بمحاولة ...": a speech verb with its object pronoun.
        w = m.group(1)
        stem = next((w[: -len(x)] for x in OBJECT_PRONOUNS if w.endswith(x)), None)
        spec = v.lex.specs.get(stem) if stem else None
        verb = spec is not None and spec.kind == CueKind.VERB
        if verb and not any(q.start < m.start() < q.end for q in quotes):
            return trim_end(v, c, m.start(), quotes)
    return e


_COMMA_AND_WORD = re.compile(r"،\s*و(\w+)")
# Object pronouns a verb carries (longest first): "اتهمها"، "أبلغه"، "حذرهم".
OBJECT_PRONOUNS = ("هما", "هم", "ها", "ه")


def _any_phrase(v: FieldView, toks: tuple[Tok, ...], i: int) -> bool:
    """ "أي" heads an object only before an indefinite noun ("نفى أي تورط"), not as "that is"
    ("أي أن") or a letter of an acronym ("سي آي إيه")."""
    w = toks[i].text
    if w != ANY_HEAD:
        # "ايه"، "ايها" are no "أي" with a possessive: "إيه" of an acronym, "أيها" (vocative).
        return not (w.startswith(ANY_HEAD) and len(w) <= len(ANY_HEAD) + 2)
    nxt = toks[i + 1].text if i + 1 < len(toks) else ""
    prev = toks[i - 1].text if i else ""
    return (
        nxt.isalpha()
        and not nxt.startswith(ARTICLE)
        and nxt not in v.lex.complementizers
        and (i == 0 or len(prev) > 2)
    )


def nominal(
    v: FieldView, toks: tuple[Tok, ...], i: int, spec: CueSpec, named: bool = False
) -> int | None:
    """A noun phrase stating a position: "شدد على ضرورة"، "أكد نية"، "أعرب عن". ``named``:
    the walk starts after the cue's named subject."""
    lex = v.lex
    t = toks[i]
    if t.text in spec.preps:
        if (
            i + 2 < len(toks)
            and spec.nominal_any
            and toks[i + 1].text in QUOTE_OPENERS
            and toks[i + 2].text.isalpha()
        ):
            return toks[i + 1].start  # a quoted noun phrase: "حذر من "التحول الكبير" ..."
        if (
            i + 1 < len(toks)
            and not is_complementizer(v, toks, i + 1)
            and toks[i + 1].text.isalpha()
        ):
            nxt = toks[i + 1]
            if spec.nominal_any or is_head(v, nxt.text):
                return nxt.start
        return None
    for p in spec.preps:
        # A one-letter preposition written on its noun: "طالب بوقف"، "أشاد بالاتفاق"; not a
        # name that begins with the letter ("طالب كيري الرئيس السوري بشار الأسد بالتنحي").
        if (
            len(p) == 1
            and t.text.startswith(p)
            and t.text not in lex.letter_initial_names
            and (len(t.text) > 3 or t.text[1:] in _SHORT_OBJECT_HEADS)  # "أشاد بما سماه"، "رحب بأي"
            and spec.nominal_any
            and t.text[1:].isalpha()
            and (p != "ل" or (t.text.startswith(LI_ARTICLE) and i <= 1))
        ):
            # "دعا للحوار": لـ only before the article (لبنان، لندن are names) and right after
            # the cue or its subject, its word kept whole (the article's alif is gone).
            return t.start if p == "ل" else t.start + 1
    head = is_head(v, t.text) and _any_phrase(v, toks, i)  # else "أي" is just a word
    if i > 2 and toks[i - 1].text != "،" and (is_ambiguous_head(v, t.text) or not head):
        return None  # a bare object noun comes right after the cue and its subject
    if head:
        if t.text in lex.never_nominal_heads:
            return None
        return t.start
    if spec.bare_after_subject:
        # "أعلن وليد المعلم، السبت، تعديل قانون ..."، "اعتبر لافروف التهديدات مجرد دعاية": a
        # bare object only right after a named subject (or its comma-set adverbial).
        bare = named and (i == 0 or (toks[i - 1].text == "،" and i <= NOMINAL_NEAR_TOKENS))
    else:
        bare = not spec.preps
    if (
        spec.nominal_any
        and bare
        and t.text.isalpha()
        and t.text not in lex.adverbials
        and t.text not in lex.complementizers
    ):
        return t.start  # "أدان اغتيال ..."، "مدعيا التزام دمشق ..."
    return None


# --- the rules, in the order they are tried at each token after a cue ---------------------------


@emits("according_to", "according_after")
def according_to(s: Scan, i: int) -> Frame | Step | None:
    # "بحسب/وفقا ل" + speaker + clause: "وبحسب كيري، فإن الجانبين ..."، "وفقا لكيري فقد ...".
    if s.hit.spec.kind != CueKind.ACCORDING or i > 0:
        return None
    toks = s.toks
    k = 1 if toks and toks[0].text == "،" else 0
    resumed = k < len(toks) and toks[k].text in s.v.lex.according_resumptives
    if resumed:
        k += 1
    if not resumed and according_relative(s.v, s.hit, s.unit)[0]:
        # "...، بحسب ما أعلن لافروف في مؤتمر صحفي.": the content came before, unless a
        # resumptive follows the subject ("وبحسب ما قاله لافروف، فإن ...").
        return _content_before(s, "according_after", _COMMA_BEFORE) or Step.STOP
    relative_cue = (
        k + 1 < len(toks)
        and toks[k].text == s.v.lex.relative_masculine
        and toks[k + 1].text in s.v.lex.specs
    )
    if k >= len(toks) or toks[k].text in _SENTENCE_ENDS or relative_cue:
        # "...، على حد تعبير لافروف."، "...، بحسب كيري."، "...، وفق شويغو الذي أضاف أن":
        # the content came before.
        return _content_before(s, "according_after", _COMMA_BEFORE) or Step.STOP
    if s.hit.spec.form in s.v.lex.according_after_only:
        # It never introduces content. The sentence going on after it, only a quotation right
        # before it is surely its content: "«...»، على حد تعبير لافروف، الذي وصل إلى ...".
        if _MARK_BEFORE.search(s.v.text, s.unit.start, s.hit.outer_start):
            return _content_before(s, "according_after", _COMMA_BEFORE) or Step.STOP
        return Step.STOP
    c = toks[k].start
    e = content_end(s.v, c, s.unit, s.hits, s.quotes)
    qtype, a, b = classify(s.v, c, e, s.quotes)
    return s.frame(a, b, qtype, "according_to", e)


# What ends the content before a postposed cue: a comma ("...، بحسب كيري"), or the closing mark of
# the quotation itself ('"..." على حد تعبير لافروف').
_CLOSING = "[" + re.escape(CLOSING_MARKS) + "]"
_MARK_BEFORE = re.compile(_CLOSING + r"\s*،?\s*$")
_COMMA_BEFORE = re.compile(r"(?:،|(?<=" + _CLOSING + r"))\s*$")


def _other_word(v: FieldView, h: CueHit, unit: Unit) -> bool:
    """An ambiguous cue form standing bare, with no speaker after it: its other word ("بين
    الحكومة والمعارضة" is "between"), no cue of the clause."""
    if not h.spec.ambiguous or h.prefixed:
        return False
    chain, _ = mention_chain(v, h.end, unit.end)
    return not chain


def _content_before(s: Scan, rule: RuleName, lead_pattern: re.Pattern[str]) -> Frame | None:
    """The clause before the comma that precedes the cue (and its lead: "بحسب ما"), from the
    sentence's start, when no other cue stands in it and it is long enough to be speech."""
    v, unit, hit = s.v, s.unit, s.hit
    window = max(unit.start, hit.outer_start - LEAD_CHARS)
    lead = lead_pattern.search(v.text, window, hit.outer_start)
    if lead is None or any(
        unit.start <= h.outer_start < lead.start() and not _other_word(v, h, unit) for h in s.hits
    ):
        return None
    a, b = strip_span(v, unit.start, lead.start())
    if words(v.text, a, b) < MIN_SPEECH_WORDS:
        return None
    qtype, a, b = classify(v, a, b, s.quotes)
    return s.frame(a, b, qtype, rule, s.toks[0].start if s.toks else hit.end)


@emits("cue_after_quote")
def cue_after_quote(s: Scan, i: int) -> Frame | None:
    # A quotation, a comma, then the cue and its named subject: "«لن نسمح بذلك»، قال لافروف".
    if i > 0 or s.hit.spec.kind not in (CueKind.VERB, CueKind.IMPERFECT) or s.hit.prefixed:
        return None
    if s.toks and opens_frame(s.v, s.toks, 0, s.hit.spec):
        return None  # "«...»، قال لافروف إن ...": the cue governs what follows
    v, unit = s.v, s.unit
    before = v.text[max(unit.start, s.hit.outer_start - LEAD_CHARS) : s.hit.outer_start]
    comma = v.lex.after_mark.search(before)  # "«...»، قال لافروف"، "«...»، بهذه الكلمات علق كيري"
    if comma is None or not _named_subject(s):
        return None
    close = s.hit.outer_start - len(before) + comma.start() + 1  # past the closing mark
    q = next((q for q in s.quotes if q.end == close), None)
    if q is None or q.start > unit.start + 1 or words(v.text, *q.inner) < MIN_QUOTE_WORDS:
        return None
    a, b = strip_span(v, *q.inner)
    return s.frame(a, b, "direct", "cue_after_quote", s.toks[0].start if s.toks else s.hit.end)


@emits("cue_after_content")
def cue_after_content(s: Scan, i: int) -> Frame | None:
    # A clause, a comma, "بحسب ما/كما" + the cue and its named subject, then nothing: "وستبدأ
    # المحادثات الأسبوع المقبل، بحسب ما أعلن لافروف أمس".
    if i > 0 or s.hit.spec.kind not in (CueKind.VERB, CueKind.IMPERFECT) or s.hit.prefixed:
        return None
    if not _named_subject(s) or any(
        opens_frame(s.v, s.toks, j, s.hit.spec) for j in range(min(len(s.toks), FRAME_SCAN_TOKENS))
    ):
        return None
    return _content_before(s, "cue_after_content", s.v.lex.postposed_lead)


def _named_subject(s: Scan) -> bool:
    """The cue's subject is a mention right after it ("قال لافروف")."""
    chain, _ = mention_chain(s.v, s.hit.end, s.unit.end)
    return bool(chain) and chain[0].kind in SPEAKER_KINDS


def source_aside(s: Scan, i: int) -> Step | None:
    # A source set off by commas between the subject and the complement is read past: "وقال
    # لافروف، بحسب وكالة تاس، إن ..."، "وأكد كيري، وفق ما نقلت عنه الوكالة، أن ...".
    later = s.later_cues.get(s.toks[i].start)
    if later is None or later.spec.kind != CueKind.ACCORDING or i == 0:
        return None
    if s.toks[i - 1].text != "،":
        return None
    # "، بحسب بيان للخارجية: «...»" closes with a colon too
    j = _aside_close(s.v, s.toks, i + 1, i + ASIDE_TOKENS, ("،", ":"))
    if j is None:
        return None
    s.skip_to = j
    return Step.NEXT


def _aside_close(
    v: FieldView, toks: tuple[Tok, ...], first: int, stop: int, closers: tuple[str, ...] = ("،",)
) -> int | None:
    """The index of the comma (or another of ``closers``) that closes an aside whose words
    start at ``first``, looked for before ``stop``; None at a sentence end or a complementizer
    first (the text goes on as a clause, no aside)."""
    for j in range(first, min(len(toks), stop)):
        t = toks[j]
        if t.text in closers:
            return j
        if t.text in _SENTENCE_ENDS or is_complementizer(v, toks, j):
            return None
    return None


def later_cue(s: Scan, i: int) -> Step | None:
    # Another cue before any complement ("قال ... وأضاف"): this one governs nothing. A bare
    # ambiguous form is its other word ("قال عبر الهاتف إن": عبر is "via").
    t = s.toks[i]
    later = s.later_cues.get(t.start)
    if (
        later is not None
        and t.text not in s.v.lex.joiners
        and later.spec.kind != CueKind.SAID_OF
        and (later.prefixed or not later.spec.ambiguous)
    ):
        return Step.STOP
    return None


def joined_cue(s: Scan, i: int) -> Step | None:
    # Verb + "قائلا/بالقول" is one cue: "وأكد قائلا:"، "مضيفا بالقول:".
    t = s.toks[i]
    if t.text in s.v.lex.joiners and i <= 2:
        s.cue_end = t.end
        s.immediate = True
        return Step.NEXT
    return None


@emits("cue_quote")
def cue_quote(s: Scan, i: int) -> Frame | None:
    # Cue + quotation marks: "وقال لافروف: «إن موسكو لن تسمح ...»".
    t = s.toks[i]
    if t.text not in QUOTE_OPENERS or "direct" not in s.hit.spec.frames:
        return None
    q = _quote_at(t.start, s.quotes)
    if q is not None and speech_quote(s, q):
        a, b = strip_span(s.v, *q.inner)
        return s.frame(a, b, "direct", "cue_quote", q.end)
    return None


@emits("cue_quote_unclosed")
def cue_quote_unclosed(s: Scan, i: int) -> Frame | None:
    # An opening mark never closed (a nested pair inside it may be): "أجاب: «... «...»."
    t = s.toks[i]
    if t.text not in QUOTE_OPENERS or "direct" not in s.hit.spec.frames:
        return None
    text, unit, quotes = s.v.text, s.unit, s.quotes
    unclosed = (
        _quote_at(t.start, quotes) is None
        and not any(x.start < t.start < x.end for x in quotes)
        and (t.text == "«" or '"' not in text[t.end : unit.end])
    )
    if unclosed and (s.immediate or words(text, t.end, unit.end) >= MIN_UNCLOSED_WORDS):
        # The quotation runs to the sentence's end (a quotation lies in its sentence), or to a
        # comma and a participle cue, the reporter's again ('وأضاف ” ... ، مشددا على أنه').
        stop = next(
            (
                h.outer_start
                for h in s.hits
                if h.outer_start > t.end
                and h.spec.kind == CueKind.PARTICIPLE
                and text[max(t.end, h.outer_start - 4) : h.outer_start].rstrip().endswith("،")
            ),
            unit.end,
        )
        e = trim_end(s.v, t.end, min(stop, unit.end), quotes)
        if words(text, t.end, e) >= MIN_SPEECH_WORDS:
            return s.frame(t.end, e, "direct", "cue_quote_unclosed", e)
    return None


def past_quote_mark(s: Scan, i: int) -> Step | None:
    # A quotation the cue does not govern (a scare-quoted name): read on past its mark.
    if s.toks[i].text in QUOTE_OPENERS:
        s.immediate = False
        return Step.NEXT
    return None


@emits("cue_colon_unmarked")
def cue_colon_unmarked(s: Scan, i: int) -> Frame | Step | None:
    # Cue + colon + speech without marks: "وقال كيري: نحن نعمل مع شركائنا".
    t = s.toks[i]
    if t.text != ":" or "direct" not in s.hit.spec.frames:
        return None
    v, unit = s.v, s.unit
    rest = v.toks(t.end, unit.end)
    if rest and rest[0].text in QUOTE_OPENERS:
        s.immediate = True  # "قال: «...»": the mark decides
        return Step.NEXT
    if rest and is_complementizer(v, rest, 0):
        return Step.NEXT  # "قال: إن ...": the complementizer decides
    e = content_end(v, t.end, unit, s.hits, s.quotes)
    if words(v.text, t.end, e) >= MIN_SPEECH_WORDS:
        return s.frame(t.end, e, "direct", "cue_colon_unmarked", e)
    return Step.STOP


@emits("cue_colon_paragraph")
def cue_colon_paragraph(s: Scan, i: int) -> Frame | None:
    # A cue line ending in a colon, the quotation in the next paragraph: "وقال لافروف:\n«...»".
    t, v = s.toks[i], s.v
    if t.text != ":" or "direct" not in s.hit.spec.frames or i + 1 != len(s.toks):
        return None
    nxt = s.ui + 1
    if paragraph_last(v, s.ui) != s.ui or nxt >= len(v.units):
        return None
    unit = v.units[nxt]
    if v.text[unit.start] not in QUOTE_OPENERS:
        # Unmarked first-person speech: "وقال لافروف:\nنحن لن نقبل ...".
        if not first_person_at(v, v.toks(unit.start, unit.end), 0):
            return None
        b = trim_end(v, unit.start, unit.end, [])
        if words(v.text, unit.start, b) < MIN_SPEECH_WORDS:
            return None
        return s.frame(unit.start, b, "direct", "cue_colon_paragraph", b)
    q = unit.quotes[0] if unit.quotes else None
    if q is not None and q.start == unit.start:
        if words(v.text, q.end, unit.end) > 0 or words(v.text, *q.inner) < MIN_SPEECH_WORDS:
            return None  # a quoted name heading a sentence, not the speech itself
        a, b = strip_span(v, *q.inner)
        return s.frame(a, b, "direct", "cue_colon_paragraph", unit.end)
    a = unit.start + 1
    b = trim_end(v, a, unit.end, [])
    if words(v.text, a, b) < MIN_SPEECH_WORDS:
        return None
    return s.frame(a, b, "direct", "cue_colon_paragraph", b)


_COMP_RULE: dict[QuoteType, RuleName] = {
    "direct": "cue_comp_quote",
    "mixed": "cue_comp_mixed",
    "indirect": "cue_comp",
}


@emits("cue_comp", "cue_comp_quote", "cue_comp_mixed")
def cue_comp(s: Scan, i: int) -> Frame | Step | None:
    # Cue + complementizer clause: "وأكد لافروف أن موسكو ..." (direct if it is one quotation,
    # "أن «...»"; mixed if it embeds one).
    spec = s.hit.spec
    if not is_complementizer(s.v, s.toks, i) or not (
        "indirect" in spec.frames or "direct" in spec.frames
    ):
        return None
    t = s.toks[i]
    if any(s.hit.end <= q.start < t.start < q.end for q in s.quotes):
        return None  # "أن" inside a quotation walked past: "مخاطبا لندن "قبل أن تمنحوا ...""
    e = content_end(s.v, t.end, s.unit, s.hits, s.quotes)
    qtype, a, b = classify(s.v, t.end, e, s.quotes)
    if qtype != "direct" and "indirect" not in spec.frames:
        return Step.STOP
    return s.frame(a, b, qtype, _COMP_RULE[qtype], max(e, b))


@emits("cue_nominal")
def cue_nominal(s: Scan, i: int) -> Frame | None:
    # Cue + a noun phrase stating a position: "وشدد كيري على ضرورة ..."، "وأعرب عن قلقه".
    spec, toks, v = s.hit.spec, s.toks, s.v
    if "nominal" not in spec.frames:
        return None
    t = toks[i]
    aside_end = s.aside_end
    if i < aside_end:
        return None  # "دعا لافروف، أثناء زيارته إلى بيونغيانغ، كيم إلى ...": the aside's own
    if not (
        i <= NOMINAL_NEAR_TOKENS
        or toks[i - 1].text == "،"
        or i - aside_end <= NOMINAL_NEAR_TOKENS
        or (
            i <= NOMINAL_AFTER_ADVERBIAL_TOKENS
            and is_head(v, t.text)
            and _any_phrase(v, toks, i)
            and not is_ambiguous_head(v, t.text)
            and toks[0].text in v.lex.adverbials
        )
    ):
        return None
    c = nominal(v, toks, i, spec, named=s.named)
    if c is None or _reported_claim(s, c):
        return None
    e = noun_phrase_end(v, c, content_end(v, c, s.unit, s.hits, s.quotes), s.quotes)
    qtype, a, b = classify(v, c, e, s.quotes)
    if qtype == "direct":
        qtype, a, b = "mixed", c, e
    return s.frame(a, b, "nominal" if qtype == "indirect" else qtype, "cue_nominal", e)


def _reported_claim(s: Scan, c: int) -> bool:
    """The object is somebody else's claim: "أشار لافروف إلى ما يردده بعض المسؤولين من أن
    ...": the relative's own cue (يردده، قاله ...) reports it, with its own subject."""
    return any(
        h.spec.after_ma and s.v.text[c : h.outer_start].strip() in s.v.lex.relative_ma
        for h in s.hits
        if h.outer_start > c
    )


def _past_aside(v: FieldView, toks: tuple[Tok, ...]) -> int:
    """The index after an adverbial aside set off by commas right after the cue and its
    subject ("دعا لافروف، عقب محادثاته مع نظيره السوري، السلطات السورية إلى ..."): the
    object is counted from there. 0 when the walk opens otherwise."""
    if len(toks) < 3 or toks[0].text != "،" or toks[1].text not in v.lex.adverbials:
        return 0
    k = _aside_close(v, toks, 2, ASIDE_TOKENS + 2)
    # "، الذي وصل إلى موسكو": a relative clause, not the cue's object, follows
    if k is None or v.lex.relative_clause.match(v.text, toks[k].start):
        return 0
    return k + 1


@emits("title_object")
def title_object(s: Scan, i: int) -> Frame | None:
    # A title's present-tense cue states its object: "شويغو يعلن انتهاء العمليات في سوريا"،
    # "لافروف يلمح إلى تزويد دمشق بأنظمة إس-300" (titles drop the complementizer and the head).
    spec, toks, v = s.hit.spec, s.toks, s.v
    if v.field != "title" or spec.kind != CueKind.IMPERFECT or i > 1:
        return None
    if not ("nominal" in spec.frames or spec.preps):
        return None
    t = toks[i]
    preps = v.lex.object_preps.union(spec.preps)
    if i == 0 and t.text in preps:
        return None  # the object follows the preposition: "يعلن عن"
    if i == 1 and toks[0].text not in preps:
        return None
    if any(x.text in spec.preps for x in toks[i + 1 : i + TITLE_ADDRESSEE_TOKENS + 1]):
        return None  # an addressee before the preposition: "يحث ترامب على ..." (cue_nominal)
    if not t.text.isalpha() or is_complementizer(v, toks, i):
        return None
    e = content_end(v, t.start, s.unit, s.hits, s.quotes)
    if words(v.text, t.start, e) < MIN_QUOTE_WORDS:
        return None
    qtype, a, b = classify(v, t.start, e, s.quotes)
    if qtype == "direct":
        qtype, a, b = "mixed", t.start, e
    return s.frame(a, b, "nominal" if qtype == "indirect" else qtype, "title_object", e)


@emits("cue_first_person")
def cue_first_person(s: Scan, i: int) -> Frame | None:
    # Verb + first-person speech without marks or colon: "وقال هدفنا هو ..."، "وقال لقد ناقشنا".
    spec = s.hit.spec
    if i != 0 or "direct" not in spec.frames or spec.kind != CueKind.VERB:
        return None
    if not first_person_at(s.v, s.toks, 0):
        return None
    t = s.toks[i]
    e = content_end(s.v, t.start, s.unit, s.hits, s.quotes)
    if words(s.v.text, t.start, e) >= MIN_SPEECH_WORDS:
        return s.frame(t.start, e, "direct", "cue_first_person", e)
    return None


@emits("cue_comma_first_person")
def cue_comma_first_person(s: Scan, i: int) -> Frame | None:
    # Verb + subject + comma + first-person speech: "قال لافروف ...، اتفقنا على".
    spec, toks = s.hit.spec, s.toks
    if toks[i].text != "،" or "direct" not in spec.frames or spec.kind != CueKind.VERB:
        return None
    if not (i + 1 < len(toks) and first_person_at(s.v, toks, i + 1)):
        return None
    c = toks[i + 1].start
    e = content_end(s.v, c, s.unit, s.hits, s.quotes)
    if words(s.v.text, c, e) >= MIN_SPEECH_WORDS:
        return s.frame(c, e, "direct", "cue_comma_first_person", e)
    return None


def abbreviation(s: Scan, i: int) -> Step | None:
    # A full stop inside an abbreviation ("(أ.ف.ب)") or a quoted name the walk reads past
    # ('قناة «آر. بي. كا» التلفزيونية') ends nothing.
    t = s.toks[i]
    if t.text == "." and t.end < s.unit.end and not s.v.text[t.end].isspace():
        return Step.NEXT
    if t.text == "." and any(q.start < t.start and t.end < q.end for q in s.quotes):
        return Step.NEXT
    return None


def end_of_sentence(s: Scan, i: int) -> Step | None:
    # A full stop ends the search; an ellipsis ("في واشنطن.. "إن") introduces speech.
    toks = s.toks
    t = toks[i]
    if t.text not in _SENTENCE_ENDS:
        return None
    dots = (
        (i + 1 < len(toks) and toks[i + 1].text == "." and toks[i + 1].start == t.end)
        or (i > 0 and toks[i - 1].text == "." and toks[i - 1].end == t.start)
        or t.text == "…"
    )
    if not dots:
        return Step.STOP
    s.immediate = True
    return Step.NEXT


RULES: tuple[Rule, ...] = (
    according_to,
    cue_after_quote,
    cue_after_content,
    source_aside,
    later_cue,
    joined_cue,
    cue_quote,
    cue_quote_unclosed,
    past_quote_mark,
    cue_colon_paragraph,
    cue_colon_unmarked,
    cue_comp,
    cue_nominal,
    title_object,
    cue_first_person,
    cue_comma_first_person,
    abbreviation,
    end_of_sentence,
)


def find_frame(
    v: FieldView,
    hit: CueHit,
    after: int,
    ui: int,
    hits: list[CueHit],
    quotes: list[QuoteSpan],
    named: bool = False,
) -> Frame | None:
    """What the cue governs: the first frame a rule finds at a token after it, or None.
    ``named``: the walk starts right after the cue's subject, a speaker mention."""
    unit = v.units[ui]
    toks = v.toks(after, unit.end)
    later_cues = {h.outer_start: h for h in hits if h.outer_start >= after}
    s = Scan(v, hit, unit, hits, quotes, toks, later_cues, hit.end, ui, named=named)
    if "nominal" in hit.spec.frames:
        s.aside_end = _past_aside(v, toks)
    for i, t in enumerate(toks[:FRAME_SCAN_TOKENS]):
        if i < s.skip_to:
            continue
        for rule in RULES:
            out = rule(s, i)
            if out is None:
                continue
            if out is Step.NEXT:
                break
            return None if out is Step.STOP else out
        else:
            # After a comma, or an addressee right after the subject ("وصرح لافروف لكيم "...""),
            # the next quotation is still the cue's.
            s.immediate = t.text == "،" or (
                i == 0
                and t.text[:1] == "ل"
                and len(t.text) > 2
                and t.text not in s.v.lex.adverbials  # "لقناة «...»": a medium's name follows
            )
    return None


# --- headlines ---------------------------------------------------------------------------------


def is_body_sentence(v: FieldView, unit: Unit) -> bool:
    """Running text: a long sentence, or a shorter one closed by a full stop."""
    n = words(v.text, unit.start, unit.end)
    return n >= 12 or (n >= 5 and v.text[unit.end - 1] in ".!؟")


def _heading_line(v: FieldView, ui: int, unit: Unit) -> bool:
    """A body unit that is a one-line subheading introducing body text."""
    text = v.text
    if not (unit.start == 0 or text[unit.start - 1] == "\n"):
        return False
    if not (unit.end == len(text) or text[unit.end] == "\n") or text[unit.end - 1] == ".":
        return False
    # A "Name: text" line followed by nothing or by more short lines is a related-links
    # list ("لافروف: ..." items at a page's foot), not a subheading.
    nxt = v.units[ui + 1] if ui + 1 < len(v.units) else None
    return ui == 0 or (nxt is not None and is_body_sentence(v, nxt))


def named_around(v: FieldView, ui: int, unit: Unit, chain: Sequence[Mention]) -> bool:
    """Whether the speaker a body subheading names is named again near it: a section's
    heading ("شويغو: الضربات تستهدف ...") belongs to a text about its speaker; a link to
    another article pasted into the body ("لافروف: ..." in a story about sanctions) stands
    alone. Offices and the page's first line are not asked."""
    if (
        v.field == "title"
        or ui == 0
        or chain[0].kind not in (MentionKind.NAME, MentionKind.WEAK_NAME)
    ):
        return True
    ids = {m.speaker_id for m in chain if m.speaker_id}
    near = v.mentions_in(max(0, unit.start - HEADING_CONTEXT_CHARS), unit.start)
    near += v.mentions_in(unit.end, unit.end + HEADING_CONTEXT_CHARS)
    return any(m.speaker_id in ids for m in near)


# Short words a one-letter preposition may carry at the head of an object: "بما سماه"، "بأي
# تفاهم"، "بكل الجهود" (folded forms).
_SHORT_OBJECT_HEADS = frozenset({"ما", "اي", "كل"})
# "أي" (folded) as the head of a nominal object: "استبعد أي لقاء".
ANY_HEAD = "اي"
# What ends a title's kicker: "سوتشي.. "، "عاجل | "، "بالفيديو - ".
_KICKER = re.compile(r"(?:\.\.+|…|\s[|\-–]\s)\s*")


@emits("headline_colon")
def headline_colon(v: FieldView, ui: int, unit: Unit) -> tuple[Frame, Subject] | Step | None:
    # "Name: statement" as a title or a one-line subheading: "كيري: كان لقاؤنا مثمرا"; a
    # title may put a short qualifier before the colon ("لافروف بعد لقائه نظيره الأمريكي: ...").
    text = v.text
    if v.field != "title" and not _heading_line(v, ui, unit):
        return None
    if words(text, unit.start, unit.end) > HEADLINE_MAX_WORDS:
        return None
    chain, p = mention_chain(v, unit.start, unit.end)
    if not chain and v.field == "title":
        # A kicker before the name: "سوتشي.. لافروف: ..."، "بالفيديو | كيري: ...".
        colon = text.find(":", unit.start, unit.end)
        kickers = list(_KICKER.finditer(text, unit.start, max(unit.start, colon)))
        if kickers:
            chain, p = mention_chain(v, kickers[-1].end(), unit.end)
    if not chain or any(
        m.kind not in (MentionKind.NAME, MentionKind.ROLE, MentionKind.WEAK_NAME) for m in chain
    ):
        return None
    m = _COLON.match(text[p : unit.end])
    if not m and v.field == "title":
        colon = text.find(":", p, unit.end)
        qualifier = v.toks(p, colon) if colon > 0 else ()
        if (
            colon > 0
            and len([t for t in qualifier if t.text.isalpha()]) <= QUALIFIER_MAX_WORDS
            and not any(t.text in v.lex.complementizers for t in qualifier)
        ):
            p = colon
            m = _COLON.match(text[p : unit.end])
    if not m:
        return None
    if not named_around(v, ui, unit, chain):
        return Step.STOP  # a pasted link to another article: furniture, no quotation
    a, b = p + m.end(), unit.end
    q = _quote_at(a, unit.quotes)
    if q is not None and words(text, q.end, unit.end) == 0:
        a, b = q.inner
    frame = Frame(p + m.start(), p + m.end(), a, b, "headline", "headline_colon", unit.end)
    return frame, Subject(SubjectMode.HEADLINE, chain)


# --- one field ---------------------------------------------------------------------------------


def _candidate(v: FieldView, ui: int, f: Frame, subject: Subject) -> Candidate | None:
    """The frame as a candidate, its span trimmed; None when fewer than two words remain
    (one will do for a headline that quotes a single word: "لافروف: «مهزلة»")."""
    text = v.text
    c, e = strip_span(v, f.content_start, f.content_end)
    quoted_word = (
        f.rule == "headline_colon"
        and c > 0
        and e < len(text)
        and text[c - 1] in QUOTE_OPENERS
        and text[e] in CLOSING_MARKS
    )
    spec = v.lex.specs.get(text[f.cue_start : f.cue_end])
    if (
        spec is not None
        and spec.object_first
        and e - c > 2
        and text[c] in QUOTE_OPENERS
        and text[e - 1] in CLOSING_MARKS
        and words(text, c + 1, e - 1) == 1
    ):
        # One quoted word is what the speaker called it: 'وصف الاتهامات بأنها "هراء"'.
        c, e = c + 1, e - 1
        return Candidate(v.field, ui, f.cue_start, f.cue_end, c, e, "direct", f.rule, subject)
    # One definite noun is a whole position after its preposition: "دعا إلى الحوار"، "داعيا
    # للحوار"، "حذر من التصعيد" (in running text: a title's "لافروف يلوح بالرد" is terse).
    nominal_word = (
        f.quote_type == "nominal"
        and v.field != "title"
        and text[c:e].startswith((ARTICLE, LI_ARTICLE))
    )
    if words(text, c, e) < (1 if quoted_word or nominal_word else MIN_QUOTE_WORDS):
        return None
    return Candidate(v.field, ui, f.cue_start, f.cue_end, c, e, f.quote_type, f.rule, subject)


def detect_unit(
    v: FieldView, ui: int, unit: Unit, last: Subject | None, covered: Covered
) -> tuple[list[Candidate], Subject | None]:
    """The candidates of one unit, and the subject a later dropped pronoun continues.
    ``covered``: the field's content so far, which each candidate found here extends."""
    if unit.start in covered and unit.end - 1 in covered:
        return [], last  # a paragraph of a quotation a cue before it opened
    head = headline_colon(v, ui, unit)
    if head is Step.STOP:
        return [], last
    if isinstance(head, tuple):
        cand = _candidate(v, ui, *head)
        if cand is None:
            return [], last
        covered.add(cand.content_start, cand.content_end)
        return [cand], last
    quotes = list(unit.quotes)
    hits = [
        h
        for h in find_cues(v.text, unit.start, unit.end)
        if not any(q.start < h.start < q.end for q in quotes)
    ]
    opening = unit_subject(v, unit, hits)
    if opening is not None and opening.mode != SubjectMode.PARTICIPLE:
        last = opening  # a group noun's sentence ("وبحث الوزيران") leaves "وأضاف" to the last
    out: list[Candidate] = []
    consumed = unit.start
    unit_subjects: list[Subject] = [opening] if opening is not None else []
    for hit in hits:
        nested = hit.outer_start < consumed
        if nested and not nested_report(v, hit, unit, out):
            continue
        subject, after = subject_of(v, hit, unit, unit_subjects, last, covered)
        if subject is None:
            continue
        if subject.mode in EXPLICIT_MODES and not nested:
            # A statement reported inside another speaker's ("وأوضح كيربي أن الوزير هاغل طلب")
            # leaves the reporter as the one a later "وأضاف" continues.
            last = subject
        unit_subjects.append(subject)
        named = (
            subject.mode == SubjectMode.EXPLICIT
            and after > hit.end
            and all(m.kind in NAME_KINDS and m.end == after for m in subject.mentions[-1:])
        )
        frame = find_frame(v, hit, after, ui, hits, quotes, named)
        if frame is None:
            continue
        # A quotation lies in its sentence: the paragraph after a cue line is its own unit.
        at = ui + 1 if frame.rule == "cue_colon_paragraph" else ui
        frames = [frame]
        if frame.rule == "cue_after_quote":
            frames += split_quote_rest(v, frame, quotes)
        for f in frames:
            cand = _candidate(v, at, f, subject)
            if cand is not None:
                out.append(cand)
                covered.add(cand.content_start, cand.content_end)
            consumed = max(consumed, f.resume)
    return out, last


def split_quote_rest(v: FieldView, frame: Frame, quotes: list[QuoteSpan]) -> list[Frame]:
    """The second half of a quotation the cue and its subject split: "«...»، أضاف لافروف،
    «...»"، "«...»، تابع المعلم في كلمته أمام الجمعية العامة، «...»": after the subject, an
    adverbial at most (no cue, complementizer or sentence end), a comma, then a quotation of
    speech length: one more record of the same speaker, the cue and the name in neither."""
    q = next((q for q in quotes if q.start >= frame.resume), None)
    if q is None or q.start - frame.resume > SPLIT_GAP_CHARS:
        return []
    gap = v.text[frame.resume : q.start]
    if not gap.rstrip().endswith("،") or any(c in gap for c in _SPLIT_GAP_STOPS):
        return []
    lex = v.lex
    if find_cues(v.text, frame.resume, q.start) or any(
        w in lex.complementizers for w in gap.split()
    ):
        return []
    if words(v.text, *q.inner) < MIN_SPEECH_WORDS:
        return []
    a, b = strip_span(v, *q.inner)
    return [replace(frame, content_start=a, content_end=b, resume=q.end)]


def nested_report(v: FieldView, hit: CueHit, unit: Unit, found: list[Candidate]) -> bool:
    """A cue inside the indirect content of the unit's last record, whose subject is one of
    the five right after that content's complementizer: "وقال البنتاغون إن هاغل أكد أن ...".
    The source's record stands, and the statement it reports is the speaker's own record."""
    if not found or hit.spec.kind != CueKind.VERB:
        return False
    outer = found[-1]
    if outer.quote_type == "direct" or not (
        outer.content_start <= hit.outer_start < outer.content_end
    ):
        return False
    subject = complement_subject(v, hit, unit)
    return subject is not None and all(m.kind in NAME_KINDS for m in subject.mentions)


def detect(v: FieldView) -> tuple[Candidate, ...]:
    """Every quotation candidate in one clean field, in text order."""
    found: list[Candidate] = []
    covered = Covered()
    last: Subject | None = None
    for ui, unit in enumerate(v.units):
        cands, last = detect_unit(v, ui, unit, last, covered)
        found += cands
    return tuple(found)


def detect_field(
    text: str, field_name: str, units: list[Unit], mentions: list[Mention]
) -> tuple[Candidate, ...]:
    """The candidates of one clean field."""
    return detect(FieldView.of(text, field_name, units, mentions))
