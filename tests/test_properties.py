"""Property tests over the text stages: no input crashes them and every span checks itself.

Two kinds of input: arbitrary Unicode, and a "news-like" strategy that strings together Arabic
letters, diacritics, tatweel, presentation forms, quotation marks, HTML references, punctuation,
line breaks, the five's names and offices, and speech cues, so the detector's rules actually fire.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

from helpers import analyse_articles
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipelines.clean import clean_text
from pipelines.furniture import find_furniture
from pipelines.records import QUOTE_TYPES, Article, ArticleAnalysis
from pipelines.segment import outer_quotes, pair_quotes, segment_field
from pipelines.speakers import speaker_ids

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ARABIC_LETTERS = [chr(c) for c in range(0x0621, 0x064B)]
MARKS = [
    "\u064b",
    "\u064c",
    "\u064d",
    "\u064e",
    "\u064f",
    "\u0650",
    "\u0651",
    "\u0652",
    "\u0670",
    "\u0640",
]
QUOTE_MARKS = ['"', "“", "”", "«", "»", "„", "‘", "’", "‹", "›", "&quot;", "&#8220;", "&#8221;"]
PUNCT = [".", "..", "...", "،", ",", ":", "؛", ";", "!", "؟", "?", "-", "(", ")", "•", "…"]
SPACES = [" ", " ", " ", "\n", "\r\n", "\n\n", "\u00a0", "\t", "\u200f", "\u200b", "\ufeff"]
FORMS = ["ﻟ", "ﺎ", "ﺍ", "ﻙ"]  # presentation forms that expand to one letter
LIGATURES = ["ﻻ", "ﻷ", "ﷲ", "ﷺ"]  # ... and to several letters (or words)
NAMES = [
    "لافروف",
    "سيرغي لافروف",
    "كيري",
    "جون كيري",
    "شويغو",
    "شويجو",
    "هاغل",
    "تشاك هاجل",
    "المعلم",
    "وليد المعلم",
    "وزير الخارجية الأمريكي",
    "وزير الدفاع الروسي",
    "نظيره السوري",
    "الأخير",
    "الوزير",
    "وزيري الدفاع الروسي سيرغي شويغو والأمريكي تشاك هاغل",
    "الرئيس أوباما",
    "مصدر",
    "الجبير",
]
CUES = [
    "قال",
    "وقال",
    "وأضاف",
    "أكد",
    "وأكد",
    "مضيفا",
    "مشيرا إلى",
    "بحسب",
    "وشدد على",
    "أعرب عن",
    "قائلا",
    "يؤكد",
    "ونقلت عنه قوله",
    "وكان",
    "قد",
    "غير أن",
    "فيما أوضح",
    "من جهته",
]
WORDS = [
    "أن",
    "إن",
    "بأن",
    "أنه",
    "ضرورة",
    "أهمية",
    "الحل",
    "سياسي",
    "في",
    "سوريا",
    "هدفنا",
    "هو",
    "اتفقنا",
    "على",
    "داعش",
    "موسكو",
    "واشنطن",
    "اكتب تعليقك",
    "أكثر الروابط استخداما",
    "الدولار 3.75",
    "لا",
    "نحن",
    "لقد",
    "ناقشنا",
]

simple_piece = st.one_of(
    st.sampled_from(ARABIC_LETTERS),
    st.sampled_from(MARKS),
    st.sampled_from(QUOTE_MARKS),
    st.sampled_from(PUNCT),
    st.sampled_from(SPACES),
    st.sampled_from(FORMS),
    st.sampled_from(NAMES).map(lambda s: f" {s} "),
    st.sampled_from(CUES).map(lambda s: f" {s} "),
    st.sampled_from(WORDS).map(lambda s: f" {s} "),
)
piece = st.one_of(simple_piece, st.sampled_from(LIGATURES))
news_text = st.lists(piece, max_size=80).map("".join)
news_text_no_ligatures = st.lists(simple_piece, max_size=80).map("".join)
# Sentence-shaped text: (clause opener + cue) (speaker) (complementizer / colon / mark) words
# (closing mark) (stop), so that the detector's rules fire on most examples.
clause = st.tuples(
    st.sampled_from(["", "و", "وكان ", "غير أن ", "من جهته "]),
    st.sampled_from([*CUES, ""]),
    st.sampled_from([*NAMES, ""]),
    st.sampled_from(["", "أن", "إن", ":", '"', "«", "،", "على", "عن"]),
    st.lists(st.one_of(st.sampled_from(WORDS + NAMES + CUES), piece), max_size=12),
    st.sampled_from(["", '"', "»", "”"]),
    st.sampled_from([".", "", "،", "\n", ". "]),
).map(lambda t: " ".join([t[0] + t[1], t[2], t[3], " ".join(t[4]), t[5]]) + t[6])
sentence_text = st.lists(clause, max_size=6).map("".join)
any_text = st.text(max_size=300)
some_text = st.one_of(news_text, sentence_text, any_text)
dates = st.one_of(
    st.none(), st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2025, 12, 31))
)
titles = st.one_of(
    st.none(), news_text, st.builds(lambda n, t: f"{n}: {t}", st.sampled_from(NAMES), news_text)
)


def analyse(text: str, title: str | None, date: dt.date | None) -> ArticleAnalysis:
    (analysis,) = analyse_articles([Article("p", "p", text, title, date)])
    return analysis


def check_spans(analysis: ArticleAnalysis) -> None:
    """Every sentence, quote, cue, mention and dropped span is an exact slice of its field."""
    article = analysis.article

    def field(name: str) -> str:
        value = article.title if name == "title" else article.text
        assert value is not None
        return value

    for s in analysis.sentences:
        src = field(s.field)
        assert 0 <= s.char_start <= s.char_end <= len(src)
        assert src[s.char_start : s.char_end] == s.text
    for d in analysis.dropped:
        assert 0 <= d.start <= d.end <= len(field(d.field))
    for q in analysis.quotes:
        src = field(q.field)
        assert 0 <= q.char_start < q.char_end <= len(src)
        assert src[q.char_start : q.char_end] == q.quote_text
        if q.cue_start is not None:
            assert q.cue_end is not None and 0 <= q.cue_start <= q.cue_end <= len(src)
            assert src[q.cue_start : q.cue_end] == q.cue
        if q.mention_start is not None:
            assert q.mention_end is not None and 0 <= q.mention_start <= q.mention_end <= len(src)
            assert src[q.mention_start : q.mention_end] == q.speaker_mention
        assert 0.0 <= q.confidence <= 1.0
        assert q.quote_type in QUOTE_TYPES
        assert q.speaker_id is None or q.speaker_id in speaker_ids()
        assert 0 <= q.sentence_index < len(analysis.sentences)


class TestAnalyseArticles:
    @SETTINGS
    @given(text=some_text, title=titles, date=dates)
    def test_spans_check_themselves(
        self, text: str, title: str | None, date: dt.date | None
    ) -> None:
        """analyse_articles never raises, and every span it reports is a slice of its field."""
        check_spans(analyse(text, title, date))

    @SETTINGS
    @given(text=sentence_text, title=st.one_of(st.none(), sentence_text), date=dates)
    def test_quote_structure(self, text: str, title: str | None, date: dt.date | None) -> None:
        """A quote lies in its sentence, apart from its cue and named speaker, and comes once."""
        analysis = analyse(text, title, date)
        keys = [(q.field, q.speaker_id, q.char_start, q.char_end) for q in analysis.quotes]
        assert len(keys) == len(set(keys))
        for q in analysis.quotes:
            s = analysis.sentences[q.sentence_index]
            assert s.field == q.field
            assert s.char_start <= q.char_start and q.char_end <= s.char_end
            if q.cue_start is not None and q.cue_end is not None:
                assert q.cue_end <= q.char_start or q.cue_start >= q.char_end
            if q.speaker_id and q.mention_start is not None and q.mention_end is not None:
                assert q.mention_end <= q.char_start or q.mention_start >= q.char_end

    @SETTINGS
    @given(text=st.one_of(news_text, sentence_text), date=dates)
    def test_sentences_ordered_and_disjoint(self, text: str, date: dt.date | None) -> None:
        """Sentences of a field come in text order and never overlap."""
        sentences = [s for s in analyse(text, None, date).sentences if s.field == "text"]
        for a, b in itertools.pairwise(sentences):
            assert a.char_end <= b.char_start
            assert a.paragraph_index <= b.paragraph_index
        assert [s.sentence_index for s in sentences] == list(range(len(sentences)))

    @SETTINGS
    @given(text=news_text, date=dates)
    def test_deterministic(self, text: str, date: dt.date | None) -> None:
        """The same article gives the same analysis twice (no hidden state between calls)."""
        assert analyse(text, None, date) == analyse(text, None, date)


class TestCleanMap:
    @SETTINGS
    @given(raw=some_text)
    def test_map_monotone_in_range(self, raw: str) -> None:
        """clean_text's map has one raw index per clean char, in range and never decreasing."""
        ct = clean_text(raw)
        origin = ct.origin if ct.origin is not None else tuple(range(len(ct.text)))
        assert len(origin) == len(ct.text)
        assert all(0 <= o < len(raw) for o in origin)
        assert all(a <= b for a, b in itertools.pairwise(origin))
        if ct.origin is None:
            assert len(ct.text) == len(raw)

    @SETTINGS
    @given(raw=some_text, data=st.data())
    def test_to_raw_in_range(self, raw: str, data: st.DataObject) -> None:
        """Any clean span maps to an ordered raw span inside the raw text, sliced by raw_span."""
        ct = clean_text(raw)
        a = data.draw(st.integers(0, len(ct.text)))
        b = data.draw(st.integers(a, len(ct.text)))
        ra, rb, raw_text = ct.raw_span(a, b)
        assert 0 <= ra <= rb <= len(raw)
        assert raw[ra:rb] == raw_text

    @SETTINGS
    @given(raw=news_text_no_ligatures)
    def test_words_round_trip(self, raw: str) -> None:
        """Each clean word maps to raw text whose own clean view is that word."""
        ct = clean_text(raw)
        for m in re.finditer(r"\w+", ct.text):
            _, _, raw_text = ct.raw_span(*m.span())
            assert clean_text(raw_text).text == m.group()

    @SETTINGS
    @example(raw="ﻻ")
    @example(raw="قال ﷺ ثم")
    @given(raw=news_text)
    def test_each_char_maps_to_nonempty_raw(self, raw: str) -> None:
        """Every clean character maps to a non-empty raw span whose clean view holds it (also
        inside ligatures that expand to several letters or words)."""
        ct = clean_text(raw)
        for i, ch in enumerate(ct.text):
            _, _, raw_text = ct.raw_span(i, i + 1)
            assert ch in clean_text(raw_text).text, (i, ch, raw_text)


class TestSegmentAndFurniture:
    @SETTINGS
    @given(raw=some_text)
    def test_units_respect_quotes_and_keep(self, raw: str) -> None:
        """Sentence units lie in kept regions, in order, and never cut a paired quotation."""
        text = clean_text(raw).text
        keep, drops = find_furniture(text)
        units = segment_field(text, keep)
        for u in units:
            assert any(ks <= u.start and u.end <= ke for ks, ke in keep)
            assert text[u.start : u.end] == text[u.start : u.end].strip()
        for a, b in itertools.pairwise(units):
            assert a.end <= b.start
        for u in units:
            for q in outer_quotes(pair_quotes(text, u.start, u.end)):
                assert u.start <= q.start < q.end <= u.end
        dropped = sorted((a, b) for a, b, _ in drops)
        for (a, b), (c, _) in itertools.pairwise(dropped):
            assert a <= b <= len(text) and a <= c

    @SETTINGS
    @given(raw=some_text)
    def test_pairs_well_formed(self, raw: str) -> None:
        """Paired quotations open and close on marks and nest without crossing."""
        text = clean_text(raw).text
        spans = pair_quotes(text, 0, len(text))
        for q in spans:
            assert text[q.start] in '"«' and text[q.end - 1] in '"»' and q.start < q.end - 1
        for x in spans:
            for y in spans:
                assert not (x.start < y.start < x.end < y.end)
