"""Attribution (pipelines/attribute): a candidate's subject resolved to a speaker id, the
quotation rows built from candidates, their ids and their deduplication.

The unit tests build mentions, subjects, candidates and a small registry by hand; the
table-driven cases at the end run short articles through every stage.
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import analyse_articles

from pipelines.attribute import (
    METHOD_CONFIDENCE,
    RULE_CONFIDENCE,
    DetectedField,
    FieldContext,
    attribute,
    attribute_quotes,
    deduplicate,
    field_contexts,
    quote_id,
)
from pipelines.clean import clean_text
from pipelines.quotes import RULES, Candidate, Subject, rule_names
from pipelines.records import (
    ATTRIBUTION_METHODS,
    RULE_NAMES,
    Article,
    MentionKind,
    Quote,
    QuoteType,
    RuleName,
    SubjectMode,
)
from pipelines.speakers import Mention, Office, Registry

K = MentionKind
M = SubjectMode
D = dt.date
# Kerry held the US foreign ministry until 2017-01-20, Tillerson (not one of the five) after him.
REGISTRY = Registry(
    speakers={},
    offices=(
        Office("kerry", "fm", "us", D(2013, 2, 1), D(2017, 1, 20)),
        Office("other:Rex Tillerson", "fm", "us", D(2017, 2, 1), D(2018, 3, 31)),
        Office("lavrov", "fm", "ru", D(2004, 3, 9), None),
        Office("muallem", "fm", "sy", D(2006, 2, 11), D(2020, 11, 16)),
    ),
)


def mention(kind: K, start: int = 0, end: int = 5, **kw: object) -> Mention:
    return Mention(start, end, start, kind, **kw)  # type: ignore[arg-type]


MAY_2015 = D(2015, 5, 1)


def context(
    mentions: list[Mention] = [],  # noqa: B006 (never mutated)
    date: dt.date | None = MAY_2015,
    bound: dict[tuple[str, str], str] | None = None,
    named: set[str] | None = None,
    text: str = "",
) -> FieldContext:
    return FieldContext(text, mentions, date, REGISTRY, bound or {}, named or set())


LAVROV = mention(K.NAME, 5, 11, speaker_id="lavrov")


def candidate(subject: Subject, rule: RuleName = "cue_comp") -> Candidate:
    """A candidate in "وقال لافروف ان موسكو تدعم الحل.": cue 0-4, content 12-30."""
    return Candidate("text", 0, 0, 4, 12, 30, "indirect", rule, subject)


class TestResolveMention:
    def test_a_name_is_its_speaker(self) -> None:
        """A surname of the five resolves to its speaker by "name"."""
        assert context().resolve(LAVROV) == ("lavrov", "name", METHOD_CONFIDENCE["name"])

    def test_an_office_on_a_date_in_tenure(self) -> None:
        """ "وزير الخارجية الأمريكي" in 2014 is Kerry, by "role"."""
        office = mention(K.ROLE, role="fm", country="us")
        assert context(date=D(2014, 5, 1)).resolve(office) == ("kerry", "role", 0.85)

    def test_an_office_on_a_date_after_tenure_is_someone_else(self) -> None:
        """The same office in 2017-06 is Tillerson: not one of the five, speaker None."""
        office = mention(K.ROLE, role="fm", country="us")
        assert context(date=D(2017, 6, 1)).resolve(office) == (None, "other", 0.8)

    def test_a_former_office_is_nobody_tracked(self) -> None:
        """ "وزير الخارجية الأمريكي السابق" never resolves through the registry."""
        office = mention(K.ROLE, role="fm", country="us", former=True)
        assert context(date=D(2014, 5, 1)).resolve(office)[0] is None

    def test_an_office_bound_by_apposition(self) -> None:
        """An office the article bound to a name resolves to it, before any date."""
        office = mention(K.ROLE, role="fm", country="sy")
        ctx = context(bound={("fm", "sy"): "muallem"}, date=None)
        assert ctx.resolve(office) == ("muallem", "role_bound", METHOD_CONFIDENCE["role_bound"])

    def test_an_office_without_nationality_takes_the_one_bound(self) -> None:
        """ "وزير الخارجية" alone: the single office of that role bound in the article."""
        office = mention(K.ROLE, role="fm")
        assert context(bound={("fm", "sy"): "muallem"}).resolve(office)[:2] == (
            "muallem",
            "role_bound",
        )
        two = {("fm", "sy"): "muallem", ("fm", "ru"): "lavrov"}
        assert context(bound=two).resolve(office)[0] is None

    def test_the_latter_is_the_mention_before_it(self) -> None:
        """ "الأخير" is the last mention before it, by coreference."""
        latter = mention(K.LATTER, 20, 26)
        sid, method, conf = context([LAVROV, latter]).resolve(latter)
        assert (sid, method) == ("lavrov", "coreference")
        assert conf == min(METHOD_CONFIDENCE["name"], METHOD_CONFIDENCE["coreference"])

    def test_a_weak_name_needs_the_article_to_name_him(self) -> None:
        """Bare "المعلم" is al-Muallem only where the article names him strongly."""
        weak = mention(K.WEAK_NAME, speaker_id="muallem")
        assert context().resolve(weak)[0] is None
        assert context(named={"muallem"}).resolve(weak)[:2] == ("muallem", "alias")


class TestAttribute:
    def test_confidence_is_the_methods_times_the_rules(self) -> None:
        """Each attribution's confidence = the method's × RULE_CONFIDENCE[rule], rounded."""
        subject = Subject(M.EXPLICIT, (LAVROV,))
        for rule in RULE_NAMES:
            (a,) = attribute(candidate(subject, rule), context([LAVROV]))
            expected = round(METHOD_CONFIDENCE["name"] * RULE_CONFIDENCE[rule], 3)
            assert (a.speaker_id, a.method, a.confidence) == ("lavrov", "name", expected), rule

    def test_a_dropped_pronoun_continues_its_antecedent(self) -> None:
        """ "وأضاف أن ..." takes the antecedent's speaker, by "continuation", a little less sure."""
        subject = Subject(M.PRODROP, antecedent=Subject(M.EXPLICIT, (LAVROV,)))
        (a,) = attribute(candidate(subject), context([LAVROV]))
        assert (a.speaker_id, a.method, a.mention) == ("lavrov", "continuation", LAVROV)
        assert a.confidence == round(METHOD_CONFIDENCE["name"] * 0.85, 3)

    def test_a_dropped_pronoun_with_no_antecedent_is_nobody(self) -> None:
        """A dropped subject at the start of a field has no speaker and a low confidence."""
        (a,) = attribute(candidate(Subject(M.PRODROP)), context())
        assert (a.speaker_id, a.mention, a.method, a.confidence) == (None, None, "other", 0.3)

    def test_a_joint_statement_gives_one_attribution_per_speaker(self) -> None:
        """ "وقال لافروف وكيري إن ...": two speakers; the same speaker twice is one."""
        kerry = mention(K.NAME, 13, 17, speaker_id="kerry")
        again = mention(K.NAME, 20, 26, speaker_id="lavrov")
        subject = Subject(M.EXPLICIT, (LAVROV, kerry, again))
        found = attribute(candidate(subject), context([LAVROV, kerry, again]))
        assert [a.speaker_id for a in found] == ["lavrov", "kerry"]

    def test_someone_else_keeps_the_span(self) -> None:
        """A subject that is no known mention: speaker None, its span kept for the row."""
        (a,) = attribute(candidate(Subject(M.OTHER, other_span=(5, 16))), context())
        assert (a.speaker_id, a.other_span, a.method) == (None, (5, 16), "other")

    def test_a_headline_subject(self) -> None:
        """ "لافروف: ..." as a title resolves by "headline", at most its confidence."""
        (a,) = attribute(candidate(Subject(M.HEADLINE, (LAVROV,)), "headline_colon"), context())
        assert (a.speaker_id, a.method) == ("lavrov", "headline")
        assert a.confidence == METHOD_CONFIDENCE["headline"] * RULE_CONFIDENCE["headline_colon"]


class TestQuoteId:
    def test_stable_across_runs(self) -> None:
        """The id is a fixed hash of article, field, raw span and speaker: the same every run
        (datasets join on it across runs, so a change here is a schema change)."""
        assert quote_id("a", "text", 3, 9, "lavrov") == "bd32dd49abd1de70"
        assert quote_id("a", "text", 3, 9, None) == "350532fccafe94ab"

    def test_each_part_changes_it(self) -> None:
        """Another article, field, span or speaker is another quotation."""
        base = quote_id("a", "text", 3, 9, "lavrov")
        others = [
            quote_id("b", "text", 3, 9, "lavrov"),
            quote_id("a", "title", 3, 9, "lavrov"),
            quote_id("a", "text", 4, 9, "lavrov"),
            quote_id("a", "text", 3, 10, "lavrov"),
            quote_id("a", "text", 3, 9, "kerry"),
            quote_id("a", "text", 3, 9, None),
        ]
        assert base not in others and len(set(others)) == len(others)


class TestAttributeQuotes:
    RAW = "وقالَ لافروف إن موسكو تدعم الحل."  # the fatha is not in the clean text

    def field(self) -> DetectedField:
        ct = clean_text(self.RAW)
        assert ct.text == "وقال لافروف ان موسكو تدعم الحل."
        return DetectedField("text", ct, (LAVROV,), first_sentence=4)

    def test_a_row_in_raw_offsets(self) -> None:
        """Spans are offsets into the raw field, each a slice of it, and the id is of them."""
        article = Article("a1", "src", self.RAW, None, D(2015, 5, 1))
        cand = candidate(Subject(M.EXPLICIT, (LAVROV,)))
        (q,) = attribute_quotes(article, [self.field()], [cand])
        assert (q.char_start, q.char_end) == (13, 31)
        assert self.RAW[q.char_start : q.char_end] == q.quote_text == "إن موسكو تدعم الحل"
        assert self.RAW[q.mention_start : q.mention_end] == q.speaker_mention == "لافروف"
        assert self.RAW[q.cue_start : q.cue_end] == q.cue == "وقالَ"
        assert q.quote_id == quote_id("a1", "text", 13, 31, "lavrov")
        assert (q.speaker_id, q.sentence_index, q.rule, q.published_date) == (
            "lavrov",
            4,
            "cue_comp",
            D(2015, 5, 1),
        )

    def test_no_candidate_no_row(self) -> None:
        """An article without candidates gives no rows (and loads no registry)."""
        assert attribute_quotes(Article("a1", "src", self.RAW), [self.field()], []) == []

    def test_offices_bound_anywhere_in_the_article(self) -> None:
        """An office bound by apposition in one field resolves in every field."""
        bound = mention(K.NAME, 0, 5, speaker_id="muallem", role="fm", country="sy")
        text = DetectedField("text", clean_text("x"), (bound,), 0)
        title = DetectedField("title", clean_text("y"), (), 0)
        contexts = field_contexts(Article("a1", "s", "x", "y"), [title, text])
        assert contexts["title"].bound == {("fm", "sy"): "muallem"}
        assert contexts["title"].named == {"muallem"}


def row(n: int, text: str, speaker: str | None = "lavrov", qtype: QuoteType = "indirect",
        field: str = "text", start: int = 0) -> Quote:  # fmt: skip
    return Quote(
        quote_id=f"q{n}", article_id="a", source_name="s", field=field, speaker_id=speaker,
        speaker_mention=None, mention_start=None, mention_end=None, quote_text=text,
        char_start=start, char_end=start + len(text), quote_type=qtype, cue="", cue_start=None,
        cue_end=None, attribution_method="name", rule="cue_comp", confidence=0.9,
        sentence_index=0, published_date=None,
    )  # fmt: skip


def dedup(*quotes: Quote) -> list[str]:
    """Ids of the rows deduplicate keeps (the clean text of each is its quote_text)."""
    texts = {i: q.quote_text for i, q in enumerate(quotes)}
    return [q.quote_id for q in deduplicate(list(quotes), texts)]


class TestDeduplicate:
    BODY = "موسكو ستواصل دعم الحل السياسي في سوريا مهما كانت الظروف"

    def test_a_repeated_statement_is_one_row(self) -> None:
        """The same words twice by one speaker: one row, the first (by position) kept."""
        assert dedup(row(1, self.BODY, start=0), row(2, self.BODY, start=200)) == ["q1"]

    def test_the_fullest_form_is_kept(self) -> None:
        """A lead repeating most of a later, fuller quotation gives way to it."""
        lead = " ".join(self.BODY.split()[:-1])
        assert dedup(row(1, lead, start=0), row(2, self.BODY, start=200)) == ["q2"]

    def test_other_speakers_keep_their_rows(self) -> None:
        """The same words by two speakers are two statements."""
        assert dedup(row(1, self.BODY), row(2, self.BODY, "kerry", start=200)) == ["q1", "q2"]

    def test_different_statements_stay(self) -> None:
        """Two statements sharing a few words are both kept, in field and position order."""
        other = "واشنطن تعمل مع شركائها على وقف القتال في سوريا"
        assert dedup(row(1, self.BODY, start=90), row(2, other, field="title")) == ["q2", "q1"]

    def test_a_headline_restating_the_body_in_other_words(self) -> None:
        """Sharing 8 of 10 words (F1 0.8) makes one row in the body, two when one is a title
        (a headline needs F1 0.9); a verbatim title is still one row."""
        near = " ".join([*self.BODY.split()[:-2], "غدا", "أيضا"])
        body = row(1, self.BODY, start=50)
        assert dedup(body, row(2, near, start=0)) == ["q1"]
        assert dedup(body, row(2, near, qtype="headline", field="title")) == ["q2", "q1"]
        assert dedup(body, row(2, self.BODY, qtype="headline", field="title")) == ["q1"]


# --- through every stage -----------------------------------------------------------------------


def _quotes(text: str, date: str | None) -> list:
    day = dt.date.fromisoformat(date) if date else None
    (analysis,) = analyse_articles([Article("a", "a", text, None, day)])
    return list(analysis.quotes)


# (id, article text, date, words of the quotation, speaker, method)
CASES = [
    (
        "name",
        "وقال وزير الخارجية الروسي سيرغي لافروف إن موسكو ستواصل دعم الحل السياسي في سوريا.",
        "2015-07-30",
        "ستواصل دعم الحل السياسي",
        "lavrov",
        "name",
    ),
    (
        "role_by_date_in_tenure",
        "وقال وزير الخارجية الأمريكي إن واشنطن تدعم المفاوضات الجارية بين الطرفين.",
        "2014-05-01",
        "تدعم المفاوضات الجارية",
        "kerry",
        "role",
    ),
    (
        "role_by_date_after_tenure",
        "وقال وزير الخارجية الأمريكي إن واشنطن تدعم المفاوضات الجارية بين الطرفين.",
        "2018-05-01",
        "تدعم المفاوضات الجارية",
        None,
        "other",
    ),
    (
        "role_bound_by_the_article",
        "وصل وزير الخارجية السوري وليد المعلم إلى مسقط في زيارة رسمية.\n"
        "وأوضح وزير الخارجية السوري أن دمشق ترحب بكل جهد يوقف نزيف الدم.",
        None,
        "ترحب بكل جهد",
        "muallem",
        "role_bound",
    ),
    (
        "counterpart",
        "وأكد لافروف أن موسكو ستواصل دعم الحل السياسي للأزمة.\n"
        "من جانبه قال نظيره الأمريكي إن واشنطن تعمل مع شركائها على وقف القتال.",
        "2014-05-01",
        "تعمل مع شركائها",
        "kerry",
        "coreference",
    ),
    (
        "the_latter",
        "والتقى الرئيس الأمريكي وزير الخارجية الروسي سيرغي لافروف في واشنطن.\n"
        "وقال الأخير إن العلاقات بين البلدين تمر بمرحلة صعبة.",
        "2015-05-01",
        "العلاقات بين البلدين",
        "lavrov",
        "coreference",
    ),
    (
        "prodrop_continuation",
        "وقال لافروف إن موسكو تدعم الحل السياسي في سوريا.\n"
        "وأضاف أن بلاده لن تتدخل في الشؤون الداخلية لأي دولة.",
        "2015-05-01",
        "لن تتدخل في الشؤون",
        "lavrov",
        "continuation",
    ),
    (
        "almuallem_the_teacher",
        "وقال المعلم إن الطلاب يحتاجون إلى دعم أكبر في المدارس الحكومية.",
        "2015-05-01",
        "الطلاب يحتاجون",
        None,
        "other",
    ),
    (
        "almuallem_named_in_the_article",
        "وصل وليد المعلم إلى موسكو أمس في زيارة رسمية.\n"
        "وقال المعلم إن دمشق تثق بالموقف الروسي من الأزمة.",
        "2015-05-01",
        "تثق بالموقف الروسي",
        "muallem",
        "alias",
    ),
]


@pytest.mark.parametrize(
    ("text", "date", "contains", "speaker", "method"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_subject_resolves_to_speaker(
    text: str, date: str | None, contains: str, speaker: str | None, method: str
) -> None:
    """The quotation holding ``contains`` is attributed to ``speaker`` by ``method``."""
    found = [q for q in _quotes(text, date) if contains in q.quote_text]
    assert found, f"no quotation holding {contains!r}"
    assert [(q.speaker_id, q.attribution_method) for q in found] == [(speaker, method)]
    (q,) = found
    assert 0.0 < q.confidence <= 1.0


def test_every_rule_has_a_confidence() -> None:
    """RULE_CONFIDENCE has an entry for every rule name any rule in RULES can emit, and the
    emitted names are exactly the declared RuleName values."""
    assert RULES, "no rules"
    emitted = rule_names()
    assert len(emitted) == len(set(emitted)), "two rules emit one name"
    missing = [name for name in emitted if name not in RULE_CONFIDENCE]
    assert not missing, f"rules without a confidence: {missing}"
    assert set(emitted) == set(RULE_NAMES) == set(RULE_CONFIDENCE)
    assert all(0.0 < c <= 1.0 for c in RULE_CONFIDENCE.values())


def test_methods_are_the_documented_ones() -> None:
    """Every method attribution may give is one the data dictionary documents."""
    assert set(METHOD_CONFIDENCE) <= set(ATTRIBUTION_METHODS)


def test_an_unclosed_quotation_is_less_sure_than_a_closed_one() -> None:
    """An opening mark never closed gives a span whose end is guessed (the sentence's end):
    the same speech, same speaker, gets a lower confidence than between a closed pair."""
    closed = "وقال لافروف: «إن روسيا لن تسمح بتكرار ما حدث في ليبيا».\nوغادر لافروف القاعة بعد ذلك."
    unclosed = (
        "وقال لافروف: «إن روسيا لن تسمح بتكرار ما حدث في ليبيا.\nوغادر لافروف القاعة بعد ذلك."
    )
    (a,) = _quotes(closed, "2015-05-01")
    (b,) = _quotes(unclosed, "2015-05-01")
    assert (a.rule, b.rule) == ("cue_quote", "cue_quote_unclosed")
    assert a.speaker_id == b.speaker_id == "lavrov"
    assert b.confidence == round(a.confidence * RULE_CONFIDENCE["cue_quote_unclosed"], 3)
    assert b.confidence < a.confidence


def test_a_dropped_pronoun_never_continues_a_speaker_named_after_its_verb() -> None:
    """ "أعرب عن سيرغي لافروف" after a run of "قال لافروف": the name after the verb is its
    object, not an earlier speaker the dropped pronoun could continue (a case hypothesis found
    in test_properties: the speaker mention lay inside the quotation's own content)."""
    text = "قال لافروف   .قال لافروف   .قال لافروف   قال  أعرب عن  سيرغي لافروف  ."
    found = [q for q in _quotes(text, None) if q.rule == "cue_nominal"]
    assert found, "no nominal quotation"
    for q in found:
        inside = q.mention_start is not None and q.char_start <= q.mention_start < q.char_end
        assert not inside, q
        assert q.speaker_id is None, q
