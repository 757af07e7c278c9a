"""pipelines.furniture: page chrome and repeated bodies are dropped, article lines are kept.

Each case is a scraped page; ``dropped`` lists (reason, raw line) pairs that must lie inside a
dropped span with that reason, ``kept`` raw lines that must lie in no dropped span. The cases run
through ``analyse_articles`` so the dropped spans are checked in raw offsets, and no quotation
may come out of a dropped region.
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import analyse_articles

from pipelines.clean import clean_text
from pipelines.furniture import find_furniture
from pipelines.records import Article, ArticleAnalysis

BODY = (
    "موسكو - قال وزير الخارجية الروسي سيرغي لافروف إن بلاده ترحب بأي مبادرة جدية "
    "لوقف القتال في حلب.\n"
    "وأضاف أن الاتصالات مع الجانب الأمريكي مستمرة على مستوى الخبراء والعسكريين في جنيف.\n"
)

# (id, raw page, [(reason, raw line inside a drop)], [raw line kept])
CASES: list[tuple[str, str, list[tuple[str, str]], list[str]]] = [
    (
        "comment_section_near_end",
        BODY + "اكتب تعليقك\nالاسم: أبو خالد\nلافروف : كلام جميل لكن الأفعال غائبة\n",
        [
            ("comments", "اكتب تعليقك"),
            ("comments", "الاسم: أبو خالد"),
            ("comments", "لافروف : كلام جميل لكن الأفعال غائبة"),
        ],
        BODY.splitlines(),
    ),
    (
        "comment_marker_near_top_is_a_menu_entry",
        "أضف تعليقا\n" + BODY,
        [("furniture_line", "أضف تعليقا")],
        BODY.splitlines(),
    ),
    (
        "comment_count_header",
        BODY + "التعليقات (3)\nكيري: لا أحد يصدق هذا الكلام أبدا\n",
        [("comments", "التعليقات (3)"), ("comments", "كيري: لا أحد يصدق هذا الكلام أبدا")],
        BODY.splitlines(),
    ),
    (
        "currency_table_with_header",
        BODY + "الأسعار الرسمية للعملات\nالدولار 3.75\nاليورو 4.10\nالجنيه الإسترليني 5.80\n",
        [
            ("currency_table", "الأسعار الرسمية للعملات"),
            ("currency_table", "الدولار 3.75"),
            ("currency_table", "الجنيه الإسترليني 5.80"),
        ],
        BODY.splitlines(),
    ),
    (
        "currency_table_without_header",
        BODY + "الدولار الأمريكي 3.75\nاليورو 4.10\nالين الياباني 0.03\n",
        [
            ("currency_table", "الدولار الأمريكي 3.75"),
            ("currency_table", "اليورو 4.10"),
            ("currency_table", "الين الياباني 0.03"),
        ],
        BODY.splitlines(),
    ),
    (
        "two_number_lines_are_not_a_table",
        BODY + "القتلى 25\nالجرحى 40\n",
        [],
        [*BODY.splitlines(), "القتلى 25", "الجرحى 40"],
    ),
    (
        "link_list",
        BODY + "أكثر الروابط استخداما\nأخبار محلية\nرياضة عالمية\nاقتصاد وأعمال\n",
        [
            ("link_list", "أكثر الروابط استخداما"),
            ("link_list", "أخبار محلية"),
            ("link_list", "اقتصاد وأعمال"),
        ],
        BODY.splitlines(),
    ),
    (
        "related_articles_list",
        BODY + "أخبار ذات صلة\nلافروف يصل إلى أنقرة\nشويغو يزور طهران\n"
        "وكان لافروف قد أكد أن موسكو لن تغير موقفها من الأزمة.\n",
        [
            ("link_list", "أخبار ذات صلة"),
            ("link_list", "لافروف يصل إلى أنقرة"),
            ("link_list", "شويغو يزور طهران"),
        ],
        [*BODY.splitlines(), "وكان لافروف قد أكد أن موسكو لن تغير موقفها من الأزمة."],
    ),
    (
        "bullet_lines",
        BODY
        + "• كيري يصل إلى فيينا\n- لافروف يلتقي نظيره التركي\n· شويغو: الجيش جاهز لكل الاحتمالات\n",
        [
            ("furniture_line", "• كيري يصل إلى فيينا"),
            ("furniture_line", "- لافروف يلتقي نظيره التركي"),
            ("furniture_line", "· شويغو: الجيش جاهز لكل الاحتمالات"),
        ],
        BODY.splitlines(),
    ),
    (
        "bulleted_sentences_are_text",
        BODY + '• قال وزير الخارجية السوري وليد المعلم في رسالة إلى الأمين العام: "إن الحكومة'
        ' السورية ملتزمة بتسهيل إيصال المساعدات الإنسانية إلى كل المحتاجين".\n'
        "- لافروف يلتقي نظيره التركي\n",
        [("furniture_line", "- لافروف يلتقي نظيره التركي")],
        [
            *BODY.splitlines(),
            '• قال وزير الخارجية السوري وليد المعلم في رسالة إلى الأمين العام: "إن الحكومة'
            ' السورية ملتزمة بتسهيل إيصال المساعدات الإنسانية إلى كل المحتاجين".',
        ],
    ),
    (
        "share_buttons_and_source_line",
        "شارك\nفيسبوك\nتويتر\n" + BODY + "المصدر: وكالات\nhttps://example.com/news/1\n",
        [
            ("furniture_line", "شارك"),
            ("furniture_line", "فيسبوك"),
            ("furniture_line", "تويتر"),
            ("furniture_line", "المصدر: وكالات"),
            ("furniture_line", "https://example.com/news/1"),
        ],
        BODY.splitlines(),
    ),
    (
        "repeated_body",
        BODY + "اقرأ أيضا:\n" + BODY,
        [("repeat", BODY.splitlines()[0]), ("repeat", BODY.splitlines()[1])],
        [],  # the first copy is kept: checked in TestRepeats
    ),
    (
        "name_colon_text_in_body_is_kept",
        "دمشق - قال وزير الخارجية السوري وليد المعلم إن الحكومة مستعدة لحوار بلا شروط.\n"
        "المعلم : لا شروط مسبقة على أي طرف سوري يريد الحوار\n"
        "وتابع المعلم أن دمشق لن تقبل أي تدخل خارجي في شؤونها الداخلية.\n",
        [],
        [
            "المعلم : لا شروط مسبقة على أي طرف سوري يريد الحوار",
            "وتابع المعلم أن دمشق لن تقبل أي تدخل خارجي في شؤونها الداخلية.",
        ],
    ),
    (
        "short_repeated_line_is_kept",
        "وقال كيري إن الوضع معقد.\nوتواصلت الاجتماعات حتى المساء في مقر الأمم المتحدة بجنيف.\n"
        "وقال كيري إن الوضع معقد.\n",
        [],
        ["وقال كيري إن الوضع معقد."],
    ),
]


def analyse(text: str) -> ArticleAnalysis:
    (analysis,) = analyse_articles([Article("t", "t", text, None, dt.date(2015, 6, 1))])
    return analysis


def covering(analysis: ArticleAnalysis, line: str, occurrence: int = 0) -> list[str]:
    """Reasons of the dropped spans that hold the given occurrence of a raw line."""
    text = analysis.article.text
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(line, start + 1)
    end = start + len(line)
    return [d.reason for d in analysis.dropped if d.start <= start and end <= d.end]


class TestFindFurniture:
    @pytest.mark.parametrize(
        ("case_id", "page", "dropped", "kept"), CASES, ids=[c[0] for c in CASES]
    )
    def test_dropped_lines(
        self, case_id: str, page: str, dropped: list[tuple[str, str]], kept: list[str]
    ) -> None:
        """Each furniture line lies in a dropped span carrying the expected reason."""
        analysis = analyse(page)
        for reason, line in dropped:
            occurrence = 1 if reason == "repeat" else 0
            assert reason in covering(analysis, line, occurrence), (reason, line, analysis.dropped)

    @pytest.mark.parametrize(
        ("case_id", "page", "dropped", "kept"), CASES, ids=[c[0] for c in CASES]
    )
    def test_kept_lines(
        self, case_id: str, page: str, dropped: list[tuple[str, str]], kept: list[str]
    ) -> None:
        """Article lines, including 'Name : text' lines of the body, lie in no dropped span."""
        analysis = analyse(page)
        for line in kept:
            assert covering(analysis, line) == [], (line, analysis.dropped)

    @pytest.mark.parametrize(
        ("case_id", "page", "dropped", "kept"), CASES, ids=[c[0] for c in CASES]
    )
    def test_no_quotation_from_dropped_text(
        self, case_id: str, page: str, dropped: list[tuple[str, str]], kept: list[str]
    ) -> None:
        """No quotation, cue or speaker mention starts inside a dropped span."""
        analysis = analyse(page)
        for q in analysis.quotes:
            if q.field != "text":
                continue
            for d in analysis.dropped:
                assert not d.start <= q.char_start < d.end, (q.quote_text, d)
                if q.cue_start is not None:
                    assert not d.start <= q.cue_start < d.end, (q.cue, d)

    @pytest.mark.parametrize(
        ("case_id", "page", "dropped", "kept"), CASES, ids=[c[0] for c in CASES]
    )
    def test_keep_and_drops_partition_the_text(
        self, case_id: str, page: str, dropped: list[tuple[str, str]], kept: list[str]
    ) -> None:
        """find_furniture's kept regions are exactly the complement of its dropped spans."""
        text = clean_text(page).text
        keep, drops = find_furniture(text)
        covered = [False] * len(text)
        for a, b, _ in drops:
            for i in range(a, b):
                covered[i] = True
        for a, b in keep:
            assert all(not covered[i] for i in range(a, b))
            for i in range(a, b):
                covered[i] = True
        assert all(covered)
        assert all(reason for _, _, reason in drops)

    def test_link_list_item_with_colon(self) -> None:
        """A 'Name: text' link title inside a link list is furniture and yields no quotation
        (regression: a colon used to end the list and the item became a headline quote)."""
        page = (
            BODY
            + "أكثر الروابط استخداما\nأخبار محلية\nكيري: زيارة مرتقبة إلى موسكو\nرياضة عالمية\n"
        )
        analysis = analyse(page)
        assert "link_list" in covering(analysis, "كيري: زيارة مرتقبة إلى موسكو")
        assert not [q for q in analysis.quotes if q.speaker_id == "kerry"]

    def test_currency_table_with_thousands_separator(self) -> None:
        """Amounts written with a Latin comma ("1,250") still make a currency table (regression:
        ',' is folded to '،' before matching, and the pattern used to allow only ',')."""
        page = BODY + "أونصة الذهب 1,250\nالدولار 3.75\nاليورو 4.10\n"
        analysis = analyse(page)
        assert "currency_table" in covering(analysis, "أونصة الذهب 1,250")


class TestRepeats:
    def test_first_copy_kept_second_dropped(self) -> None:
        """A body the scraper saw twice: the first copy is kept, the second dropped as 'repeat'."""
        analysis = analyse(BODY + "اقرأ أيضا:\n" + BODY)
        first = BODY.splitlines()[0]
        assert covering(analysis, first, 0) == []
        assert covering(analysis, first, 1) == ["repeat"]

    def test_repeated_body_gives_no_extra_rows(self) -> None:
        """The quotations of a repeated body come out once."""
        once = analyse(BODY)
        twice = analyse(BODY + BODY)
        assert [(q.speaker_id, q.quote_text) for q in twice.quotes] == [
            (q.speaker_id, q.quote_text) for q in once.quotes
        ]
        assert len(once.quotes) == 2
