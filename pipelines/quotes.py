"""Quotation stage: find speech cues and the content they govern, in clean coordinates.

Each rule below encodes one construction of Arabic news reporting and names itself in the
candidate's ``rule`` field. Speakers are not resolved here: a candidate carries its cue's
grammatical subject (explicit mentions, another person, a dropped pronoun, the governing
clause of a participle), and ``attribute`` turns that into a speaker id.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources

from pipelines.clean import fold
from pipelines.segment import QuoteSpan, Unit, outer_quotes
from pipelines.speakers import Mention

_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True, slots=True)
class CueSpec:
    form: str
    kind: str  # verb | participle | imperfect | according | said_of
    frames: frozenset[str]
    preps: tuple[str, ...] = ()
    nominal_any: bool = False
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class CueHit:
    start: int
    end: int
    outer_start: int  # with the clitic و/ف
    spec: CueSpec

    @property
    def prefixed(self) -> bool:
        return self.outer_start < self.start


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a cue's grammar says is speaking, before any resolution."""

    mode: str  # explicit | other | prodrop | participle | headline | svo | according
    mentions: tuple[Mention, ...] = ()
    other_span: tuple[int, int] | None = None  # a subject that matched no known mention
    antecedent: Subject | None = None  # for prodrop / participle: the subject it continues


@dataclass(frozen=True, slots=True)
class Candidate:
    field: str
    unit_index: int
    cue_start: int
    cue_end: int
    content_start: int
    content_end: int
    quote_type: str
    rule: str
    subject: Subject


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


@lru_cache(maxsize=1)
def load_cues() -> CueLexicon:
    data = json.loads(
        resources.files("pipelines.lexicons").joinpath("cues.json").read_text("utf-8")
    )
    specs: dict[str, CueSpec] = {}
    for kind, key in (("verb", "verbs"), ("participle", "participles")):
        for e in data[key]:
            specs[fold(e["form"])] = CueSpec(
                fold(e["form"]),
                kind,
                frozenset(e["frames"]),
                tuple(fold(p) for p in e.get("preps", [])),
                e.get("nominal_any", False),
                e.get("ambiguous", False),
            )
    for f, perfect in data["imperfects"].items():
        base = specs[fold(perfect)]
        specs[fold(f)] = CueSpec(fold(f), "imperfect", base.frames, base.preps, base.nominal_any)
    for f in data["according_to"]:
        specs[fold(f)] = CueSpec(fold(f), "according", frozenset({"indirect"}))
    for f in data["said_of"]:
        specs[fold(f)] = CueSpec(fold(f), "said_of", frozenset({"indirect", "direct"}))
    forms = sorted(specs, key=len, reverse=True)
    alt = "|".join(re.escape(f) for f in forms)
    # A verb may carry the conjunction clitic و or ف ("وأضاف"، "فقال").
    pattern = re.compile(r"(?<!\w)(?P<pre>[وف]?)(?P<cue>" + alt + r")(?!\w)")

    def folded(key: str) -> frozenset[str]:
        return frozenset(fold(c) for c in data[key])

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
    )


def find_cues(text: str, start: int, end: int) -> list[CueHit]:
    lex = load_cues()
    hits = []
    for m in lex.pattern.finditer(text, start, end):
        hits.append(CueHit(m.start("cue"), m.end("cue"), m.start(), lex.specs[m.group("cue")]))
    return hits


# --- small token helpers over the clean text ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tok:
    start: int
    end: int
    text: str


def tokens(text: str, start: int, end: int) -> list[Tok]:
    return [Tok(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text, start, end)]


def _quote_at(pos: int, spans: list[QuoteSpan]) -> QuoteSpan | None:
    for q in spans:
        if q.start == pos:
            return q
    return None


def _words(text: str, a: int, b: int) -> int:
    return len(re.findall(r"\w+", text[a:b]))


# First-person speech after a comma, without quotation marks ("قال لافروف ...، اتفقنا على"):
# a verb with the first-person plural suffix, or a first-person pronoun.
_FIRST_PERSON = re.compile(r"^(?:\w{2,}نا|نحن|انا|اننا|انني)$")
_QUOTE_CHARS = '"«'
# Where a clause starts: punctuation or a connector ("لكن"، "فيما"، "غير أن" ...).
_CLAUSE_BREAK = re.compile(r"[،,:؛.!؟]|\b(?:و?لكن|غير ان|الا ان|بيد ان|فيما|بينما|كما|ثم|حيث|اذ)\b")
_RELATIVE = re.compile(r"(?<!\w)و?(?:الذي|التي|الذين|اللذين|اللتين|اللواتي|اللاتي)\s+$")
_TRIM = " \n\t.،؛:!-—"
_SPEAKER_KINDS = ("name", "role", "weak_name", "generic", "counterpart", "latter")


@dataclass
class ArticleState:
    """Discourse state carried across the units of one article field."""

    last_subject: Subject | None = None
    candidates: list[Candidate] = field(default_factory=list)


class Detector:
    """Runs the rules over the units of one clean field."""

    def __init__(
        self,
        text: str,
        field_name: str,
        units: list[Unit],
        mentions: list[Mention],
        state: ArticleState,
    ) -> None:
        self.text = text
        self.field = field_name
        self.units = units
        self.mentions = mentions
        self.mention_at = {m.outer_start: m for m in mentions}
        self.mention_ending = {m.end: m for m in mentions}
        self.state = state
        self.lex = load_cues()
        # Tokenised once per field; every window below is a slice of it.
        self._tokens = tokens(text, 0, len(text))
        self._starts = [t.start for t in self._tokens]
        # Mentions by start and by outer start, so a window finds its own without a scan of
        # the field's (an article of thousands of sentences has thousands of mentions).
        self._by_start = sorted(range(len(mentions)), key=lambda k: mentions[k].start)
        self._mention_starts = [mentions[k].start for k in self._by_start]
        self._by_outer = sorted(range(len(mentions)), key=lambda k: mentions[k].outer_start)
        self._mention_outers = [mentions[k].outer_start for k in self._by_outer]
        # Content spans of this field's candidates by start, with the running greatest end
        # (in_candidate); None once a candidate came out of order: then a scan.
        self._seen = 0
        self._span_starts: list[int] | None = []
        self._span_ends: list[int] = []

    def toks(self, start: int, end: int) -> list[Tok]:
        """The field's tokens lying within [start, end)."""
        i = bisect_left(self._starts, start)
        j = bisect_left(self._starts, end, lo=i)
        while j > i and self._tokens[j - 1].end > end:
            j -= 1
        return self._tokens[i:j]

    def mentions_in(self, start: int, end: int, *, outer: bool = False) -> list[Mention]:
        """The mentions whose start (``outer``: outer start) lies in [start, end), in the
        order of ``self.mentions``."""
        keys, order = (
            (self._mention_outers, self._by_outer)
            if outer
            else (self._mention_starts, self._by_start)
        )
        i = bisect_left(keys, start)
        return [self.mentions[k] for k in sorted(order[i : bisect_left(keys, end, lo=i)])]

    # -- subjects -------------------------------------------------------------------------------
    def mention_chain(
        self, pos: int, limit: int, allow_clitic: bool = False
    ) -> tuple[tuple[Mention, ...], int]:
        """Mentions joined by و starting at pos: "لافروف ونظيره الأمريكي جون كيري".

        A name between quotation marks ("وذكر "كيري" أنه") is still the subject."""
        chain: list[Mention] = []
        p = pos
        while True:
            q = p
            while q < limit and self.text[q] == " ":
                q += 1
            quoted = q < limit and self.text[q] in _QUOTE_CHARS
            m = self.mention_at.get(q + 1 if quoted else q)
            if m is None or m.outer_start >= limit:
                break
            if chain and not (m.outer_start < m.start and self.text[m.outer_start] == "و"):
                break
            if not chain and m.outer_start < m.start and not allow_clitic:
                break  # "ولافروف" right after a verb is not its subject
            p = m.end
            if quoted and p < limit and self.text[p] in '"»':
                p += 1
            if m.kind in ("role", "person", "generic"):
                named = self.name_in_apposition(p, limit)
                if named is not None:
                    # "وزير الثقة جون كيري"، "وزير خارجية الولايات المتحدة الأمريكية جون كيري":
                    # a title, a word or two, then a known name: the name is the speaker.
                    m = replace(named, start=m.start, outer_start=m.outer_start)
                    p = named.end
                    chain.append(m)
                    continue
                # "وزير الخارجية السعودي عادل الجبير": an office followed by a name nobody
                # registered is that person, not the office's holder among the five.
                named_end = self.unregistered_name_end(p, limit)
                if named_end > p:
                    m = replace(m, end=named_end, kind="person")
                    p = named_end
            chain.append(m)
        return tuple(chain), p

    def name_in_apposition(self, pos: int, limit: int) -> Mention | None:
        """A name mention of the five within two words after pos, with nothing between
        that could end the noun phrase (a preposition, complementizer, cue or punctuation)."""
        for k, t in enumerate(self.toks(pos, min(limit, pos + 60))[:3]):
            m = self.mention_at.get(t.start)
            if m is not None and m.kind == "name" and m.outer_start == m.start:
                return m
            w = t.text
            if (
                k == 2
                or not w.isalpha()
                or w in self.lex.adverbials
                or w in self.lex.specs
                or w in self.lex.complementizers
            ):
                return None
        return None

    def unregistered_name_end(self, pos: int, limit: int) -> int:
        """End of up to three name-like words at pos (no function word, cue or position noun)."""
        toks = self.toks(pos, min(limit, pos + 60))[:3]
        end = pos
        for i, t in enumerate(toks):
            w = t.text
            if (
                not w.isalpha()
                or (i == 0 and w.startswith("ال"))  # a given name has no article: "عادل الجبير"
                or len(w) < 2
                or w in self.lex.adverbials
                or w in self.lex.complementizers
                or w in self.lex.specs
                or (w[0] in "وف" and w[1:] in self.lex.specs)
                or self.is_head(w)
                or (w.startswith("ال") and w.endswith(("ي", "ية")))
                or t.start in self.mention_at
            ):
                break
            end = t.end
        return end

    def skip_light(self, pos: int, limit: int) -> int:
        """Skip up to two light adverbials between verb and subject ("وقال له رئيس اللجنة")."""
        for _ in range(2):
            toks = self.toks(pos, min(limit, pos + 40))
            if toks and toks[0].text in self.lex.light_adverbials:
                pos = toks[0].end
            else:
                break
        return pos

    def other_np(self, toks: list[Tok], spec: CueSpec | None) -> tuple[int, int] | None:
        """A subject noun phrase that is none of the known mentions, up to the first break."""
        j = 0
        while j < len(toks) and j < 8:
            t = toks[j].text
            if (
                t in self.lex.adverbials
                or t in "،,.:؛()"
                or t[0] in _QUOTE_CHARS
                or t in self.lex.complementizers
            ):
                break
            if spec is not None and self.opens_frame(toks, j, spec):
                break
            j += 1
        if j == 0:
            return None
        return toks[0].start, toks[j - 1].end

    def svo_subject(self, hit: CueHit, unit: Unit) -> Subject | None:
        """Subject before the verb: "غير أن كيري أكد"، "وكان لافروف قد أكد"، "كيري يؤكد"."""
        before = self.text[unit.start : hit.outer_start]
        stripped = re.sub(r"[\s\"»]*(?:قد[\s]*)?$", "", before)
        end = unit.start + len(stripped)
        m = self.mention_ending.get(end)
        if m is None:
            # "وزير الخارجية السعودي عادل الجبير أكد": an office, then up to three name words.
            toks = self.toks(max(unit.start, end - 40), end)
            for k in range(1, min(3, len(toks)) + 1):
                cand = self.mention_ending.get(toks[-k].start - 1)
                if (
                    cand is not None
                    and cand.kind in ("role", "person", "generic")
                    and all(
                        t.text.isalpha() and t.text not in self.lex.adverbials for t in toks[-k:]
                    )
                ):
                    m = cand
                    break
        if m is not None and m.kind in (*_SPEAKER_KINDS, "person"):
            lead = self.text[unit.start : m.outer_start].strip(' "«،')
            if m.outer_start < m.start:
                lead = (lead + " " + self.text[m.outer_start : m.start]).strip()
            if lead in self.lex.svo_leads:
                return Subject("svo", (m,))
            if m.former or m.kind == "person":
                # "كولن باول وزير الخارجية الأمريكي الأسبق قال:": someone else before the verb.
                return Subject("other", mentions=(m,))
        # "وكان الأمير بندر بن سلطان ذكر أن": كان + subject + (قد) + verb.
        lead = re.match(r"\s*و?كان\s+", before)
        if lead:
            span_start = unit.start + lead.end()
            toks = self.toks(span_start, end)
            if 0 < len(toks) <= 7 and not any(
                t.text in self.lex.complementizers or t.text in "،." for t in toks
            ):
                chain, _ = self.mention_chain(span_start, end)
                if chain:
                    return Subject("svo", chain)
                return Subject("other", other_span=(toks[0].start, toks[-1].end))
        return None

    def fronted_subject(self, hit: CueHit, unit: Unit) -> Subject | None:
        """A noun phrase right before the verb is its subject, not a dropped pronoun: "لكن هذا
        الائتلاف رأى أن" is the coalition's view. A fronted prepositional phrase ("وفي
        تصريحات للصحفيين قال") or a connector leaves the verb subjectless."""
        if hit.prefixed:
            return None
        before = self.text[unit.start : hit.outer_start]
        clause = _CLAUSE_BREAK.split(before)[-1]
        toks = [t for t in tokens(clause, 0, len(clause)) if t.text.isalpha()]
        if not toks or len(toks) > 6 or toks[-1].text == "قد":
            return None
        first = toks[0].text
        bare = first[1:] if first[0] in "وف" and len(first) > 3 else first
        preposition = first[0] in "بلك" and len(first) > 3  # "بعد"، "للصحفيين"، "كذلك"
        lex = self.lex
        if preposition or any(
            w in lex.adverbials
            or w in lex.particles
            or w in lex.light_adverbials
            or w in lex.complementizers
            or w in lex.specs
            for w in (first, bare)
        ):
            return None  # a fronted prepositional phrase, an adverb, a connector
        # A definite or demonstrative noun phrase, or a person's title: "هذا الائتلاف"،
        # "نائب رئيس الائتلاف المعارض". Other words may be adverbs this lexicon lacks.
        if not (
            first in ("هذا", "هذه", "ذلك", "تلك", "هؤلاء")
            or first.startswith("ال")
            or any(
                m.kind == "person"
                for m in self.mentions_in(
                    toks[0].start + unit.start + len(before) - len(clause),
                    toks[0].start + unit.start + len(before) - len(clause) + 1,
                )
            )
        ):
            return None
        start = unit.start + len(before) - len(clause) + toks[0].start
        end = unit.start + len(before) - len(clause) + toks[-1].end
        return Subject("other", other_span=(start, end))

    def unit_subject(self, unit: Unit, hits: list[CueHit]) -> Subject | None:
        """The subject of a sentence that opens with a verb ("ومثل كيري أمام اللجنة"), which
        participles and dropped subjects may continue; None when the sentence opens otherwise."""
        pos = unit.start
        head = self.text[pos : pos + 20]
        for opener in self.lex.clause_openers:
            if head.startswith(opener):
                pos += len(opener)
                break
        toks = self.toks(pos, min(unit.end, pos + 200))
        if len(toks) < 2:
            return None
        t0 = toks[0]
        if any(h.outer_start == t0.start for h in hits):
            return None  # the cue itself gives the subject
        chain, _ = self.mention_chain(t0.start, unit.end)
        if chain and len(toks) > 1:
            return Subject("explicit", chain)
        verb_like = (
            t0.text[0] in "وف"
            and len(t0.text) >= 4
            and t0.text not in self.lex.particles
            and not t0.text[1:].startswith("ال")
        )
        if not verb_like:
            return None
        p = self.skip_light(t0.end, unit.end)
        chain, _ = self.mention_chain(p, unit.end)
        if chain:
            return Subject("explicit", chain)
        rest = self.toks(p, min(unit.end, p + 200))
        if (
            not rest
            or rest[0].text in self.lex.adverbials
            or rest[0].text in self.lex.complementizers
            or not rest[0].text.isalpha()
            or len(rest[0].text) < 3
        ):
            return None
        span = self.other_np(rest, None)
        if span is None or self.text[span[0] : span[0] + 2] != "ال":
            return None  # only a definite noun phrase is taken as somebody else
        return Subject("other", other_span=span)

    # -- frames ---------------------------------------------------------------------------------
    def is_complementizer(self, toks: list[Tok], i: int) -> bool:
        t = toks[i].text
        if t not in self.lex.complementizers:
            return False
        return not (i > 0 and toks[i - 1].text in self.lex.not_comp_after)

    def is_boundary(self, h: CueHit, unit: Unit) -> bool:
        """A cue that opens a new record inside running content: a participle ("، مضيفا"),
        a verb with its conjunction ("وقال"), a verb after a comma, or one with a named subject."""
        if h.spec.kind == "according":
            # "وفق خطة محددة" inside content is no attribution; "وبحسب كيري" is.
            chain, _ = self.mention_chain(h.end, unit.end, allow_clitic=True)
            return bool(chain)
        if h.spec.kind == "participle" or h.prefixed:
            return True
        prev = self.text[max(unit.start, h.outer_start - 3) : h.outer_start].strip()
        if prev.endswith("،"):
            return True
        if h.spec.kind in ("verb", "imperfect"):
            chain, _ = self.mention_chain(h.end, unit.end)
            if chain and chain[0].kind in _SPEAKER_KINDS:
                return True
        return False

    def content_end(
        self, start: int, unit: Unit, hits: list[CueHit], quotes: list[QuoteSpan]
    ) -> int:
        """Content runs to the unit's end or to the next cue that opens a new record
        ("، مضيفا أن"، "فيما أوضح"، "وقال"), whichever is first; quotation marks are never cut."""
        end = unit.end
        for h in hits:
            if h.outer_start <= start or h.outer_start >= end:
                continue
            if any(q.start < h.start < q.end for q in quotes):
                continue
            prev = self.text[max(unit.start, h.outer_start - 8) : h.outer_start].split()
            if prev and prev[-1] in ("فيما", "بينما", "كما", "لكنه", "ولكنه", "ثم"):
                end = h.outer_start - len(prev[-1]) - 1
                break
            if self.is_boundary(h, unit):
                end = h.outer_start
                break
        return self.trim_end(start, end, quotes)

    def trim_end(self, start: int, end: int, quotes: list[QuoteSpan]) -> int:
        while end > start and self.text[end - 1] in _TRIM:
            end -= 1
        # A closing mark stays only if its opening mark is inside the content too.
        if (
            end > start
            and self.text[end - 1] in '"»'
            and not any(start <= q.start and q.end == end for q in quotes)
        ):
            end -= 1
            while end > start and self.text[end - 1] in _TRIM:
                end -= 1
        return end

    def classify(self, c: int, e: int, quotes: list[QuoteSpan]) -> tuple[str, int, int]:
        """Direct if the content is one quotation, mixed if it embeds a quoted fragment
        (three words or more; shorter ones are scare quotes: "داعش"), else indirect."""
        q0 = c
        while q0 < e and self.text[q0] in " :":
            q0 += 1
        q = _quote_at(q0, quotes)
        if (
            q is not None
            and q.end >= e
            and _words(self.text, q.end, e) == 0
            and _words(self.text, *q.inner) >= 2
        ):
            a, b = q.inner
            return "direct", *self.strip_span(a, b)
        inner = [x for x in outer_quotes(quotes) if x.start >= c and x.start < e]
        if any(_words(self.text, *x.inner) >= 3 for x in inner):
            return "mixed", c, e
        return "indirect", c, e

    def strip_span(self, a: int, b: int) -> tuple[int, int]:
        while a < b and self.text[a] in " \n:":
            a += 1
        while b > a and self.text[b - 1] in _TRIM:
            b -= 1
        return a, b

    # -- the rules ------------------------------------------------------------------------------
    def run(self) -> None:
        for ui, unit in enumerate(self.units):
            self.run_unit(ui, unit)

    def emit(
        self,
        ui: int,
        hit_start: int,
        hit_end: int,
        c: int,
        e: int,
        qtype: str,
        rule: str,
        subject: Subject,
    ) -> None:
        c, e = self.strip_span(c, e)
        if _words(self.text, c, e) < 2:
            return
        self.state.candidates.append(
            Candidate(self.field, ui, hit_start, hit_end, c, e, qtype, rule, subject)
        )

    def headline(self, ui: int, unit: Unit) -> bool:
        """ "Name: statement" as a title or a one-line subheading: "كيري: كان لقاؤنا مثمرا";
        a short qualifier may stand before the colon ("لافروف بعد لقائه نظيره الأمريكي: ...")."""
        if self.field != "title":
            if not (unit.start == 0 or self.text[unit.start - 1] == "\n"):
                return False
            if (
                not (unit.end == len(self.text) or self.text[unit.end] == "\n")
                or self.text[unit.end - 1] == "."
            ):
                return False
            # A subheading introduces body text; a "Name: text" line followed by nothing or by
            # more short lines is a related-links list ("لافروف: ..." items at a page's foot).
            nxt = self.units[ui + 1] if ui + 1 < len(self.units) else None
            if ui > 0 and not (nxt is not None and self.is_body_sentence(nxt)):
                return False
        if _words(self.text, unit.start, unit.end) > 40:
            return False
        chain, p = self.mention_chain(unit.start, unit.end)
        if not chain or any(m.kind not in ("name", "role", "weak_name") for m in chain):
            return False
        m = re.match(r"\s*:\s*", self.text[p : unit.end])
        if not m and self.field == "title":
            colon = self.text.find(":", p, unit.end)
            qualifier = self.toks(p, colon) if colon > 0 else []
            if (
                colon > 0
                and len([t for t in qualifier if t.text.isalpha()]) <= 6
                and not any(t.text in self.lex.complementizers for t in qualifier)
            ):
                p = colon
                m = re.match(r"\s*:\s*", self.text[p : unit.end])
        if not m:
            return False
        c = p + m.end()
        a, b = c, unit.end
        q = _quote_at(c, unit.quotes)
        if q is not None and _words(self.text, q.end, unit.end) == 0:
            a, b = q.inner
        self.emit(
            ui,
            p + m.start(),
            p + m.end(),
            a,
            b,
            "headline",
            "headline_colon",
            Subject("headline", chain),
        )
        return True

    def is_body_sentence(self, unit: Unit) -> bool:
        """Running text: a long sentence, or a shorter one closed by a full stop."""
        words = _words(self.text, unit.start, unit.end)
        return words >= 12 or (words >= 5 and self.text[unit.end - 1] in ".!؟")

    def run_unit(self, ui: int, unit: Unit) -> None:
        if self.headline(ui, unit):
            return
        text = self.text
        quotes = list(unit.quotes)
        hits = [
            h
            for h in find_cues(text, unit.start, unit.end)
            if not any(q.start < h.start < q.end for q in quotes)
        ]
        opening = self.unit_subject(unit, hits)
        if opening is not None:
            self.state.last_subject = opening
        consumed = unit.start
        unit_subjects: list[Subject] = [opening] if opening is not None else []
        for hit in hits:
            if hit.outer_start < consumed:
                continue
            subject, after = self.subject_of(hit, unit, unit_subjects)
            if subject is None:
                continue
            if subject.mode in ("explicit", "other", "svo", "according"):
                self.state.last_subject = subject
            unit_subjects.append(subject)
            frame = self.frame(hit, after, unit, hits, quotes)
            if frame is None:
                continue
            cue_end, c, e, qtype, rule, resume = frame
            self.emit(ui, hit.start, cue_end, c, e, qtype, rule, subject)
            consumed = resume

    def subject_of(
        self, hit: CueHit, unit: Unit, unit_subjects: list[Subject]
    ) -> tuple[Subject | None, int]:
        """The cue's subject and the position where its complement may start."""
        spec = hit.spec
        text = self.text
        if spec.kind == "participle":
            # A participle ("مضيفا"، "مشيرا إلى") shares the subject of its governing clause.
            if unit_subjects:
                return Subject("participle", antecedent=unit_subjects[-1]), hit.end
            prior = [
                m
                for m in self.mentions_in(unit.start, hit.outer_start + 1)
                if m.end <= hit.outer_start
                and m.kind in (*_SPEAKER_KINDS, "person")
                and not self.in_candidate(m.start)
            ]
            if prior:
                return Subject("participle", antecedent=Subject("explicit", (prior[-1],))), hit.end
            return Subject("prodrop", antecedent=self.state.last_subject), hit.end
        if spec.kind == "according":
            # "وبحسب كيري، فإن الجانبين ..."، "وفقا لما قاله لافروف".
            chain, p = self.mention_chain(hit.end, unit.end, allow_clitic=True)
            if not chain:
                return None, hit.end
            return Subject("according", chain), p
        if spec.kind == "said_of":
            # "نقلت الوكالة عن لافروف قوله إن": the speaker is the object of عن right before.
            before = text[unit.start : hit.outer_start].rstrip()
            m = self.mention_ending.get(unit.start + len(before))
            if m is not None and text[max(0, m.outer_start - 4) : m.outer_start].strip().endswith(
                "عن"
            ):
                return Subject("explicit", (m,)), hit.end
            return None, hit.end
        p = self.skip_light(hit.end, unit.end)
        chain, q = self.mention_chain(p, unit.end)
        if chain:
            return Subject("explicit", chain), q
        rel = _RELATIVE.search(text[max(unit.start, hit.outer_start - 12) : hit.outer_start])
        if rel:
            # "تصريحات خامنئي التي أكد فيها أن ...": the subject is the antecedent, named
            # right before the relative pronoun ("بتصريحات لافروف التي"), else someone else.
            before = text[unit.start : max(unit.start, hit.outer_start - 12) + rel.start()].rstrip()
            m = self.mention_ending.get(unit.start + len(before))
            if m is not None and m.kind in _SPEAKER_KINDS:
                return Subject("explicit", (m,)), hit.end
            return Subject("other", other_span=None), hit.end
        svo = self.svo_subject(hit, unit)
        if svo is not None:
            return svo, hit.end
        fronted = self.fronted_subject(hit, unit)
        if fronted is not None:
            return fronted, hit.end
        if spec.kind == "imperfect":
            return None, hit.end  # present-tense verbs report only with an explicit subject
        toks = self.toks(p, min(unit.end, p + 200))
        if not toks:
            return None, hit.end
        t0 = toks[0]
        if "direct" in spec.frames and self.first_person_at(toks, 0):
            return Subject("prodrop", antecedent=self.state.last_subject), hit.end
        if (
            self.opens_frame(toks, 0, spec)
            or t0.text in self.lex.adverbials
            or t0.text in self.lex.joiners
            or t0.text.startswith("لل")
            or p > hit.end
        ):
            if spec.ambiguous and not self.opens_frame(toks, 0, spec):
                return None, hit.end
            return Subject("prodrop", antecedent=self.state.last_subject), hit.end
        if spec.ambiguous:
            return None, hit.end
        if spec.nominal_any and not spec.preps:
            # "وأدان اغتيال ...": with a dropped subject the noun phrase is the object.
            return Subject("prodrop", antecedent=self.state.last_subject), hit.end
        # Someone else is the subject ("وقال الرئيس الأمريكي باراك أوباما إن"): keep the phrase.
        span = self.other_np(toks, spec)
        if span is None:
            return None, hit.end
        for m in self.mentions_in(span[0] + 1, span[1]):
            # "وقال وزير الثقة جون كيري": an unknown title in apposition to a known name.
            if (
                m.kind == "name"
                and m.outer_start == m.start
                and len(self.toks(span[0], m.start)) <= 3
            ):
                return Subject("explicit", (m,)), m.end
        for m in self.mentions_in(span[0] + 1, span[1], outer=True):
            if self.text[m.outer_start] == "و" and m.outer_start < m.start:
                chain, end = self.mention_chain(m.outer_start, unit.end, allow_clitic=True)
                if chain:
                    other = (span[0], m.outer_start - 1)
                    return Subject("other", mentions=chain, other_span=other), end
        return Subject("other", other_span=span), span[1]

    def in_candidate(self, pos: int) -> bool:
        """Whether ``pos`` lies inside a candidate's content in this field."""
        candidates = self.state.candidates
        starts, ends = self._span_starts, self._span_ends
        for c in candidates[self._seen :]:
            if starts is None or c.field != self.field:
                continue
            if starts and c.content_start < starts[-1]:
                starts = self._span_starts = None  # out of order: scan from now on
                continue
            starts.append(c.content_start)
            ends.append(max(c.content_end, ends[-1]) if ends else c.content_end)
        self._seen = len(candidates)
        if starts is None:
            return any(
                c.field == self.field and c.content_start <= pos < c.content_end for c in candidates
            )
        i = bisect_right(starts, pos)
        return i > 0 and ends[i - 1] > pos

    def opens_frame(self, toks: list[Tok], i: int, spec: CueSpec) -> bool:
        t = toks[i].text
        if self.is_complementizer(toks, i) or t in (":", '"', "«"):
            return True
        if t in spec.preps:
            return True
        return bool("nominal" in spec.frames and self.is_head(t))

    def first_person_at(self, toks: list[Tok], i: int) -> bool:
        """First-person speech starts here: "هدفنا ..."، "لقد ناقشنا ..."، "نحن ..."."""
        if i >= len(toks):
            return False
        if toks[i].text == "لقد" and i + 1 < len(toks):
            return bool(_FIRST_PERSON.match(toks[i + 1].text))
        return bool(_FIRST_PERSON.match(toks[i].text))

    def speech_quote(
        self, q: QuoteSpan, immediate: bool, unit: Unit, hits: list[CueHit], quotes: list[QuoteSpan]
    ) -> bool:
        """A quotation the cue governs, not a scare-quoted name on the way ("سي ان ان"): it
        follows the cue directly, or the sentence (or record) ends right after it."""
        words = _words(self.text, *q.inner)
        if words < 2:
            return False
        after = self.content_end(q.end, unit, hits, quotes)
        post = _words(self.text, q.end, max(q.end, after))
        return post <= 3 or (immediate and words >= 4)

    def frame(
        self, hit: CueHit, after: int, unit: Unit, hits: list[CueHit], quotes: list[QuoteSpan]
    ):
        """Find what the cue governs: (cue_end, content_start, content_end, type, rule, resume)."""
        spec = hit.spec
        text = self.text
        toks = self.toks(after, unit.end)
        cue_end = hit.end
        later_cues = {h.outer_start: h for h in hits if h.outer_start >= after}
        immediate = True
        if spec.kind == "according":
            # "وبحسب كيري، فإن الجانبين ..."، "وفقا لكيري فقد ...": the clause after the name.
            k = 1 if toks and toks[0].text == "،" else 0
            if k < len(toks) and toks[k].text in ("فان", "فانه", "فانها", "فقد"):
                k += 1
            if k < len(toks):
                c = toks[k].start
                e = self.content_end(c, unit, hits, quotes)
                qtype, a, b = self.classify(c, e, quotes)
                return cue_end, a, b, qtype, "according_to", e
            return None
        for i, t in enumerate(toks[:45]):
            later = later_cues.get(t.start)
            if (
                later is not None
                and t.text not in self.lex.joiners
                and later.spec.kind != "said_of"
            ):
                return None
            if t.text in self.lex.joiners and i <= 2:
                cue_end = t.end  # "وأكد قائلا:" / "مضيفا بالقول:" is one cue
                immediate = True
                continue
            if t.text in _QUOTE_CHARS:
                q = _quote_at(t.start, quotes)
                if (
                    q is not None
                    and "direct" in spec.frames
                    and self.speech_quote(q, immediate, unit, hits, quotes)
                ):
                    a, b = self.strip_span(*q.inner)
                    return cue_end, a, b, "direct", "cue_quote", q.end
                # An opening mark never closed (a nested pair inside it may be): "أجاب: «... «...»."
                unclosed = (
                    q is None
                    and not any(x.start < t.start < x.end for x in quotes)
                    and (t.text == "«" or '"' not in text[t.end : unit.end])
                )
                if (
                    unclosed
                    and "direct" in spec.frames
                    and (immediate or _words(text, t.end, unit.end) >= 5)
                ):
                    # An opening mark never closed: the quotation runs to the sentence's end.
                    e = self.trim_end(t.end, unit.end, quotes)
                    if _words(text, t.end, e) >= 3:
                        return cue_end, t.end, e, "direct", "cue_quote_unclosed", e
                immediate = False
                continue
            if t.text == ":" and "direct" in spec.frames:
                rest = self.toks(t.end, unit.end)
                if rest and rest[0].text in _QUOTE_CHARS:
                    immediate = True
                    continue
                if rest and self.is_complementizer(rest, 0):
                    continue
                e = self.content_end(t.end, unit, hits, quotes)
                if _words(text, t.end, e) >= 3:
                    return cue_end, t.end, e, "direct", "cue_colon_unmarked", e
                return None
            if self.is_complementizer(toks, i) and (
                "indirect" in spec.frames or "direct" in spec.frames
            ):
                e = self.content_end(t.end, unit, hits, quotes)
                qtype, a, b = self.classify(t.end, e, quotes)
                rule = {
                    "direct": "cue_comp_quote",
                    "mixed": "cue_comp_mixed",
                    "indirect": "cue_comp",
                }[qtype]
                if qtype != "direct" and "indirect" not in spec.frames:
                    return None
                return cue_end, a, b, qtype, rule, max(e, b)
            if "nominal" in spec.frames and (
                i <= 5
                or toks[i - 1].text == "،"
                or (
                    i <= 14
                    and self.is_head(t.text)
                    and t.text not in self.lex.ambiguous_heads
                    and toks[0].text in self.lex.adverbials
                )
            ):
                c = self.nominal(toks, i, spec)
                if c is not None:
                    e = self.content_end(c, unit, hits, quotes)
                    qtype, a, b = self.classify(c, e, quotes)
                    if qtype == "direct":
                        qtype, a, b = "mixed", c, e
                    qtype = "nominal" if qtype == "indirect" else qtype
                    return cue_end, a, b, qtype, "cue_nominal", e
            if (
                i == 0
                and "direct" in spec.frames
                and spec.kind == "verb"
                and self.first_person_at(toks, 0)
            ):
                # "وقال هدفنا هو ..."، "وقال لقد ناقشنا ...": speech without marks or colon.
                e = self.content_end(t.start, unit, hits, quotes)
                if _words(text, t.start, e) >= 3:
                    return cue_end, t.start, e, "direct", "cue_first_person", e
            if (
                t.text == "،"
                and "direct" in spec.frames
                and i + 1 < len(toks)
                and self.first_person_at(toks, i + 1)
                and spec.kind == "verb"
            ):
                c = toks[i + 1].start
                e = self.content_end(c, unit, hits, quotes)
                if _words(text, c, e) >= 3:
                    return cue_end, c, e, "direct", "cue_comma_first_person", e
            if t.text == "." and t.end < unit.end and not text[t.end].isspace():
                continue  # inside an abbreviation: "(أ.ف.ب)"
            if t.text in (".", "؟", "!", "…"):
                # An ellipsis ("في واشنطن.. "إن") introduces speech; a full stop ends the search.
                dots = (
                    (i + 1 < len(toks) and toks[i + 1].text == "." and toks[i + 1].start == t.end)
                    or (i > 0 and toks[i - 1].text == "." and toks[i - 1].end == t.start)
                    or t.text == "…"
                )
                if not dots:
                    return None
                immediate = True
                continue
            immediate = t.text in ("،",)
        return None

    def is_head(self, word: str) -> bool:
        """A position noun, with or without its article or a possessive ("انتقاده"، "قلقها")."""
        heads = self.lex.nominal_heads
        bare = word.removeprefix("ال")
        return word in heads or bare in heads or re.sub("(?:ه|ها|هم|هما)$", "", bare) in heads

    def nominal(self, toks: list[Tok], i: int, spec: CueSpec) -> int | None:
        """A noun phrase stating a position: "شدد على ضرورة"، "أكد نية"، "أعرب عن"."""
        t = toks[i]
        if t.text in spec.preps:
            if (
                i + 1 < len(toks)
                and not self.is_complementizer(toks, i + 1)
                and toks[i + 1].text.isalpha()
            ):
                nxt = toks[i + 1]
                if spec.nominal_any or self.is_head(nxt.text):
                    return nxt.start
            return None
        for p in spec.preps:
            # A one-letter preposition written on its noun: "طالب بوقف"، "أشاد بالاتفاق".
            if (
                len(p) == 1
                and t.text.startswith(p)
                and len(t.text) > 3
                and spec.nominal_any
                and t.text[1:].isalpha()
            ):
                return t.start + 1
        if (
            i > 2
            and toks[i - 1].text != "،"
            and (t.text in self.lex.ambiguous_heads or not self.is_head(t.text))
        ):
            return None  # a bare object noun comes right after the cue and its subject
        if self.is_head(t.text):
            if t.text == "ان":
                return None
            return t.start
        if (
            spec.nominal_any
            and not spec.preps
            and t.text.isalpha()
            and t.text not in self.lex.adverbials
            and t.text not in self.lex.complementizers
        ):
            return t.start  # "أدان اغتيال ..."، "مدعيا التزام دمشق ..."
        return None


def detect_field(
    text: str, field_name: str, units: list[Unit], mentions: list[Mention], state: ArticleState
) -> None:
    Detector(text, field_name, units, mentions, state).run()
