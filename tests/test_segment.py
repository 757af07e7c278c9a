"""pipelines.segment: quotation-mark pairing, paragraphs and sentence splits.

Inputs are written as a scraper would deliver them; each case runs on the clean view and its
results are mapped back to the raw text, so expectations read as the raw substrings they are.
"""

from __future__ import annotations

import pytest

from pipelines.clean import clean_text
from pipelines.segment import (
    QuoteSpan,
    outer_quotes,
    pair_quotes,
    segment_field,
    sentence_spans,
    title_span,
)


def raw_quotes(raw: str) -> list[str]:
    """All paired quotations of a one-paragraph text, marks included, as raw text."""
    ct = clean_text(raw)
    return [ct.raw_span(q.start, q.end)[2] for q in pair_quotes(ct.text, 0, len(ct.text))]


def raw_sentences(raw: str) -> list[tuple[int, str]]:
    """(paragraph index, raw sentence) for every sentence unit of a whole text."""
    ct = clean_text(raw)
    units = segment_field(ct.text, [(0, len(ct.text))])
    return [(u.paragraph_index, ct.raw_span(u.start, u.end)[2]) for u in units]


# (id, raw text, every paired quotation in text order, marks included)
PAIRING: list[tuple[str, str, list[str]]] = [
    (
        "nested_same_mark",
        'وقال: "إنني واثق من أن الجميع يدرك ذلك، وقد وصفت "داعش" بأنه خطر، وهذا موقفنا".',
        [
            '"إنني واثق من أن الجميع يدرك ذلك، وقد وصفت "داعش" بأنه خطر، وهذا موقفنا"',
            '"داعش"',
        ],
    ),
    (
        "nested_same_mark_spaced",
        'وقال: "نحن ندعم الحرب على " داعش " والقضاء على الإرهاب في كل مكان".',
        ['"نحن ندعم الحرب على " داعش " والقضاء على الإرهاب في كل مكان"', '" داعش "'],
    ),
    (
        "clitic_fa_tatweel_curly",
        "وأوضح أن بلاده لا تتدخل فـ”الولايات المتحدة لا تملك عصا سحرية” على حد قوله.",
        ["”الولايات المتحدة لا تملك عصا سحرية”"],
    ),
    ("clitic_lam", 'وقال لـ"رويترز" إن الأمر محسوم.', ['"رويترز"']),
    ("clitic_waw", 'وحذر من "التصعيد" و"الاستفزاز" في المنطقة.', ['"التصعيد"', '"الاستفزاز"']),
    ("unbalanced_open", 'وقال: "لا حل عسكريا لهذه الأزمة.', []),
    ("unbalanced_after_pair", 'وقال: «نعم» ثم أضاف "ربما', ["«نعم»"]),
    ("stray_closing_guillemet", "وقال إن الحل قريب» ثم غادر.", []),
    (
        "nested_guillemets",
        "قال: «لقد اتفقنا على «خريطة طريق» واضحة».",
        ["«لقد اتفقنا على «خريطة طريق» واضحة»", "«خريطة طريق»"],
    ),
    ("double_inside_guillemets", '«قال "نعم" للاتفاق»', ['«قال "نعم" للاتفاق»', '"نعم"']),
    ("adjacent_pairs", 'قال: "نحن هنا"،"وسنبقى هنا" ثم صمت.', ['"نحن هنا"', '"وسنبقى هنا"']),
    ("colon_without_space", 'وقال:"سنرد في الوقت المناسب".', ['"سنرد في الوقت المناسب"']),
    ("html_reference_marks", "قال: &quot;الحل سياسي&quot; ثم غادر", ["&quot;الحل سياسي&quot;"]),
    ("low_nine_opener", "وقال: „سنواصل العمل“ أمس.", ["„سنواصل العمل“"]),
    ("no_marks", "قال الوزير إن الحل سياسي.", []),
]

# (id, raw text, (paragraph index, raw sentence) for every sentence)
SENTENCES: list[tuple[str, str, list[tuple[int, str]]]] = [
    (
        "quotation_over_two_sentences",
        'قال: "هذه جملة أولى. وهذه جملة ثانية". ثم غادر الوفد.',
        [(0, 'قال: "هذه جملة أولى. وهذه جملة ثانية".'), (0, "ثم غادر الوفد.")],
    ),
    (
        "guillemets_over_three_sentences",
        "قال: «أولا نريد السلام. ثانيا نريد الأمن. ثالثا نريد الاستقرار». انتهى المؤتمر.",
        [
            (0, "قال: «أولا نريد السلام. ثانيا نريد الأمن. ثالثا نريد الاستقرار»."),
            (0, "انتهى المؤتمر."),
        ],
    ),
    (
        "two_dot_ellipsis_introduces_speech",
        'وصل الوفد إلى القاهرة.. "إن الأمر خطير" قال المتحدث.',
        [(0, 'وصل الوفد إلى القاهرة.. "إن الأمر خطير" قال المتحدث.')],
    ),
    (
        "three_dot_ellipsis",
        "بدأ الاجتماع... ثم انتهى بسرعة.",
        [(0, "بدأ الاجتماع... ثم انتهى بسرعة.")],
    ),
    (
        "stop_without_space_between_letters",
        "إن الخلاف واسع.ولكن الحوار مستمر.",
        [(0, "إن الخلاف واسع."), (0, "ولكن الحوار مستمر.")],
    ),
    (
        "question_and_exclamation",
        "هل ستأتي؟ نعم سآتي! حسنا.",
        [(0, "هل ستأتي؟"), (0, "نعم سآتي!"), (0, "حسنا.")],
    ),
    (
        "decimal_point",
        "ارتفعت النسبة إلى 3.5 بالمئة. وانتهى الاجتماع",
        [(0, "ارتفعت النسبة إلى 3.5 بالمئة."), (0, "وانتهى الاجتماع")],
    ),
    (
        "paragraphs",
        "السطر الأول.\r\n\r\n  السطر الثاني. جملة ثالثة",
        [(0, "السطر الأول."), (1, "السطر الثاني."), (1, "جملة ثالثة")],
    ),
    (
        "unpaired_mark_does_not_block_split",
        'قال: "لا حل عسكريا. ثم غادر.',
        [(0, 'قال: "لا حل عسكريا.'), (0, "ثم غادر.")],
    ),
    (
        "quotation_cannot_cross_paragraphs",
        'قال: "البداية هنا.\nوالنهاية هنا". انتهى',
        [(0, 'قال: "البداية هنا.'), (1, 'والنهاية هنا".'), (1, "انتهى")],
    ),
    (
        "tatweel_and_diacritics_inside",
        "قـالَ إنَّ الأمرَ محسومٌ. وغادرَ",
        [(0, "قـالَ إنَّ الأمرَ محسومٌ."), (0, "وغادرَ")],
    ),
]


class TestPairQuotes:
    @pytest.mark.parametrize(("case_id", "raw", "expected"), PAIRING, ids=[c[0] for c in PAIRING])
    def test_pairs(self, case_id: str, raw: str, expected: list[str]) -> None:
        """Marks pair as expected; nested same-mark quotes nest; unbalanced marks stay unpaired."""
        assert raw_quotes(raw) == expected

    @pytest.mark.parametrize(("case_id", "raw", "expected"), PAIRING, ids=[c[0] for c in PAIRING])
    def test_pairs_are_well_formed(self, case_id: str, raw: str, expected: list[str]) -> None:
        """Every pair starts and ends on a mark, and pairs nest without crossing."""
        text = clean_text(raw).text
        spans = pair_quotes(text, 0, len(text))
        for q in spans:
            assert text[q.start] in '"«' and text[q.end - 1] in '"»'
            assert q.inner == (q.start + 1, q.end - 1)
        for a in spans:
            for b in spans:
                crossing = a.start < b.start < a.end < b.end
                assert not crossing, (a, b)

    def test_pairs_stay_inside_the_range(self) -> None:
        """pair_quotes only looks at marks between start and end."""
        text = '"خارج" وقال "داخل النطاق" ثم "خارج"'
        a = text.index("وقال")
        b = text.index("ثم")
        assert [text[q.start : q.end] for q in pair_quotes(text, a, b)] == ['"داخل النطاق"']

    def test_outer_quotes_drop_nested(self) -> None:
        """outer_quotes keeps only quotations not nested in another one."""
        spans = [QuoteSpan(0, 20), QuoteSpan(5, 9), QuoteSpan(25, 30)]
        assert outer_quotes(spans) == [QuoteSpan(0, 20), QuoteSpan(25, 30)]


class TestSplitSentences:
    @pytest.mark.parametrize(
        ("case_id", "raw", "expected"), SENTENCES, ids=[c[0] for c in SENTENCES]
    )
    def test_sentences(self, case_id: str, raw: str, expected: list[tuple[int, str]]) -> None:
        """Sentences split at stops, never inside a paired quotation or at an ellipsis."""
        assert raw_sentences(raw) == expected

    @pytest.mark.parametrize(
        "raw",
        ["وقال مسؤول لوكالة (أ.ف.ب) إن الحل سياسي.", "ونقلت (ي.ب.أ) عن مصدر أن الحل سياسي."],
    )
    def test_agency_abbreviation_is_not_a_split(self, raw: str) -> None:
        """Dots between single letters ("أ.ف.ب") abbreviate a name; they end no sentence
        (regression: the letter.letter rule used to cut the abbreviation into three)."""
        assert raw_sentences(raw) == [(0, raw)]

    @pytest.mark.parametrize(
        ("case_id", "raw", "expected"), SENTENCES, ids=[c[0] for c in SENTENCES]
    )
    def test_spans_without_units(self, case_id: str, raw: str, expected: object) -> None:
        """sentence_spans, which pairs marks only where a pair can hold a stop, gives the
        spans and paragraphs of the units."""
        text = clean_text(raw).text
        keep = [(0, len(text))]
        units = segment_field(text, keep)
        assert sentence_spans(text, keep) == [(u.start, u.end, u.paragraph_index) for u in units]

    @pytest.mark.parametrize(
        ("text", "span"), [(" \n«عنوان» هنا.\t", (2, 14)), ("عنوان", (0, 5)), (" \xa0\n", None)]
    )
    def test_title_span(self, text: str, span: tuple[int, int] | None) -> None:
        """A title is one span, its stops and marks aside, without surrounding white space."""
        assert title_span(text) == span

    def test_units_carry_their_quotes(self) -> None:
        """Each unit lists exactly the paired quotations inside it."""
        raw = 'قال: "نعم". وقال آخر: "لا أبدا". انتهى'
        text = clean_text(raw).text
        units = segment_field(text, [(0, len(text))])
        assert [[text[q.start : q.end] for q in u.quotes] for u in units] == [
            ['"نعم"'],
            ['"لا ابدا"'],
            [],
        ]

    def test_only_kept_regions_are_segmented(self) -> None:
        """Text outside the kept regions (dropped furniture) yields no sentence."""
        text = "جملة أولى.\nاكتب تعليقك\nجملة ثانية."
        a = text.index("اكتب")
        b = a + len("اكتب تعليقك")
        units = segment_field(text, [(0, a), (b, len(text))])
        assert [text[u.start : u.end] for u in units] == ["جملة أولى.", "جملة ثانية."]
        assert [u.paragraph_index for u in units] == [0, 1]
