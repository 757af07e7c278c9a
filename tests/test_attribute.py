"""Attribution: a candidate's grammatical subject resolved to a speaker id (pipelines/attribute).

Table-driven: each case is one short article and the speaker and method its quotation must get.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.analyse import analyse_articles
from pipelines.attribute import METHOD_CONFIDENCE, RULE_CONFIDENCE
from pipelines.quotes import RULES, rule_names
from pipelines.records import ATTRIBUTION_METHODS, RULE_NAMES, Article


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
