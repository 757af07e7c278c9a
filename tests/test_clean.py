"""pipelines.clean: the clean view of a raw field, its offset map back to the raw text, and folding.

Every later stage matches on the clean view and reports spans through ``CleanText.to_raw``;
these tests pin the view for the inputs scrapers actually produce (tatweel, diacritics,
presentation forms, invisible marks, CRLF, typographic quotes, HTML references, NBSP) and check
that every span maps back to the raw characters it came from.
"""

from __future__ import annotations

import itertools
import re

import pytest

from pipelines.clean import CleanText, clean_text, fold, fold_pattern

# (raw input, its clean view, what the input exercises)
CLEAN_VIEWS: list[tuple[str, str, str]] = [
    ("وقـــال لافـروف", "وقال لافروف", "tatweel inside words is deleted"),
    ("قالَ كيريٌ إنَّ سلاماً", "قال كيري ان سلاما", "harakat, shadda and tanween are deleted"),
    ("هٰذا", "هذا", "the dagger alef is deleted"),
    ("ﻻ بديل", "لا بديل", "the lam-alef ligature expands to two letters"),
    ("ﻷن", "لان", "the lam-alef-hamza ligature expands and its alef is folded"),
    ("قال\u200f لافروف\u200b", "قال لافروف", "RLM and zero-width space are deleted"),
    ("\ufeffقال \u202bكيري\u202c", "قال كيري", "BOM and bidi embeddings are deleted"),
    ("سطر أول\r\nسطر ثان", "سطر اول\nسطر ثان", "CR of CRLF is deleted, LF kept"),
    ("قال: “نعم”", 'قال: "نعم"', "curly double quotes become the undirected mark"),
    ("قال: «لا»", "قال: «لا»", "guillemets keep their direction"),
    ("قال: ‹لا›", "قال: «لا»", "single guillemets fold onto double ones"),
    ("قال: „ربما“", 'قال: "ربما"', "low-9 opener becomes the undirected mark"),
    ("قال: &quot;نعم&quot;", 'قال: "نعم"', "&quot; reads as a quotation mark"),
    ("قال: &#8220;نعم&#8221;", 'قال: "نعم"', "decimal references to curly quotes"),
    ("قال: &#x201C;نعم&#x201d;", 'قال: "نعم"', "hex references, either case"),
    ("قال\u00a0كيري", "قال كيري", "NBSP becomes a space"),
    ("قال\tكيري", "قال كيري", "a tab becomes a space"),
    ("أ, ب; ج：د", "ا، ب؛ ج:د", "Latin comma/semicolon and full-width colon fold"),
    ("&foo; &amp;", "&foo؛ &", "an unknown reference stays as written; &amp; decodes"),
    ("أحمد إبراهيم آمن ٱلحمد مصطفى", "احمد ابراهيم امن الحمد مصطفي", "alef and alef-maqsura folds"),
    ("مدرسة", "مدرسة", "teh marbuta is kept"),
    ("", "", "the empty string"),
]

# Inputs whose clean view only replaces characters one for one: no offset map is needed.
IDENTITY_MAPPED = ["قال: “نعم”", "قال\u00a0كيري", "أحمد إلى", "قال: «لا»", "plain ascii"]


class TestCleanView:
    @pytest.mark.parametrize(
        ("raw", "expected", "note"), CLEAN_VIEWS, ids=[c[2] for c in CLEAN_VIEWS]
    )
    def test_clean_text(self, raw: str, expected: str, note: str) -> None:
        """The clean view of each tricky input is exactly the expected normalised string."""
        assert clean_text(raw).text == expected

    @pytest.mark.parametrize("raw", IDENTITY_MAPPED)
    def test_one_to_one_needs_no_map(self, raw: str) -> None:
        """One-for-one replacements keep offsets as they are, so no map is stored."""
        ct = clean_text(raw)
        assert ct.origin is None
        assert len(ct.text) == len(raw)
        assert ct.to_raw(0, len(ct.text)) == (0, len(raw))


def _check_map(ct: CleanText) -> None:
    origin = ct.origin if ct.origin is not None else tuple(range(len(ct.text)))
    assert len(origin) == len(ct.text)
    assert all(0 <= o < len(ct.raw) for o in origin)
    assert all(a <= b for a, b in itertools.pairwise(origin))


def _pieces(text: str) -> list[tuple[int, int]]:
    """Words and punctuation marks of a clean text: the units stages report spans over."""
    return [m.span() for m in re.finditer(r"\w+|[^\w\s]", text)]


class TestOffsetMap:
    @pytest.mark.parametrize(
        ("raw", "expected", "note"), CLEAN_VIEWS, ids=[c[2] for c in CLEAN_VIEWS]
    )
    def test_map_monotone_in_range(self, raw: str, expected: str, note: str) -> None:
        """One raw index per clean character, each inside the raw string, never decreasing."""
        _check_map(clean_text(raw))

    @pytest.mark.parametrize(
        ("raw", "expected", "note"), CLEAN_VIEWS, ids=[c[2] for c in CLEAN_VIEWS]
    )
    def test_every_piece_round_trips(self, raw: str, expected: str, note: str) -> None:
        """Each clean word or mark maps to a raw span whose own clean view is that piece."""
        ct = clean_text(raw)
        for a, b in _pieces(ct.text):
            ra, rb, raw_text = ct.raw_span(a, b)
            assert raw_text == raw[ra:rb]
            assert clean_text(raw_text).text == ct.text[a:b], (a, b, raw_text)


# (raw input, a piece of its clean view, the raw text that piece must map to)
ROUND_TRIPS: list[tuple[str, str, str]] = [
    ("وقـــال لافـروف", "لافروف", "لافـروف"),
    ("وقـــال لافـروف", "وقال", "وقـــال"),
    ("قالَ كيريٌ إنَّ سلاماً", "كيري", "كيريٌ"),  # the tanween stays with its letter
    ("قالَ كيريٌ إنَّ سلاماً", "سلاما", "سلاماً"),  # also at the end of the string
    ("قالَ كيريٌ إنَّ سلاماً", "ان", "إنَّ"),
    ("ﻻ بديل", "لا", "ﻻ"),
    ("\u200fلافروف قال", "لافروف", "لافروف"),  # a leading mark is not part of the word
    ("سطر أول\r\nسطر ثان", "سطر اول", "سطر أول"),  # the CR stays outside
    ("قال: “نعم”", '"نعم"', "“نعم”"),
    ("قال: „ربما“", '"ربما"', "„ربما“"),
    ("قال: «لا»", "«لا»", "«لا»"),
    ("قال: &quot;نعم&quot;", '"نعم"', "&quot;نعم&quot;"),  # the whole reference on both sides
    ("قال: &quot;نعم&quot;", "نعم", "نعم"),
    ("قال: &#8220;نعم&#8221; ثم", '"نعم"', "&#8220;نعم&#8221;"),
    ("قال\u00a0كيري", "قال كيري", "قال\u00a0كيري"),
    ("أكد إيران", "اكد ايران", "أكد إيران"),
]


class TestRoundTrip:
    @pytest.mark.parametrize(("raw", "piece", "raw_piece"), ROUND_TRIPS)
    def test_piece_maps_to_raw(self, raw: str, piece: str, raw_piece: str) -> None:
        """A clean span maps (to_raw / raw_span) to exactly the raw characters it came from."""
        ct = clean_text(raw)
        a = ct.text.index(piece)
        ra, rb = ct.to_raw(a, a + len(piece))
        assert raw[ra:rb] == raw_piece
        assert ct.raw_span(a, a + len(piece)) == (ra, rb, raw_piece)

    @pytest.mark.parametrize("raw", ["وقـــال", "قال\r\n", "&quot;", "ﻻ", "ab", ""])
    def test_empty_spans(self, raw: str) -> None:
        """An empty clean span maps to an empty raw span, at the end of the string too."""
        ct = clean_text(raw)
        for i in range(len(ct.text) + 1):
            ra, rb = ct.to_raw(i, i)
            assert ra == rb
            assert 0 <= ra <= len(raw)

    def test_whole_text_covers_trailing_marks(self) -> None:
        """The whole clean text maps to the whole raw text when it ends in a deleted mark."""
        raw = "قال سلاماً"
        ct = clean_text(raw)
        assert ct.to_raw(0, len(ct.text)) == (0, len(raw))

    @pytest.mark.parametrize(
        ("raw", "start", "end", "raw_piece"),
        [
            ("ﻻ", 0, 1, "ﻻ"),  # the ل of the ligature
            ("ﻻ", 1, 2, "ﻻ"),  # its alef
            ("ﷺ", 4, 8, "ﷺ"),  # "الله" inside a ligature that expands to four words
            ("قال ﻻ بد", 4, 5, "ﻻ"),
        ],
    )
    def test_span_inside_expansion_is_the_whole_character(
        self, raw: str, start: int, end: int, raw_piece: str
    ) -> None:
        """A clean span inside an expanded character maps to that whole raw character, never to
        an empty span (regression: to_raw used to return an empty span there)."""
        ct = clean_text(raw)
        assert ct.raw_span(start, end)[2] == raw_piece


FOLDS: list[tuple[str, str]] = [
    ("أكد", "اكد"),
    ("إن", "ان"),
    ("آمن", "امن"),
    ("ٱلحمد", "الحمد"),
    ("مصطفى", "مصطفي"),
    ("یوم", "يوم"),  # Persian yeh
    ("کيري", "كيري"),  # Persian kaf
    ("لافـروف", "لافروف"),
    ("إنَّ", "ان"),
    ("الأمريكية", "الامريكية"),  # teh marbuta kept
]


class TestFold:
    @pytest.mark.parametrize(("word", "expected"), FOLDS)
    def test_fold(self, word: str, expected: str) -> None:
        """Lexicon entries fold to the same form the clean view gives the text."""
        assert fold(word) == expected
        assert fold(word) == clean_text(word).text

    @pytest.mark.parametrize(
        ("pattern", "expected"),
        [
            (r"^(أكد|إن)\s*$", r"^(اكد|ان)\s*$"),
            (r"(?<!\w)مصطفى(?!\w)", r"(?<!\w)مصطفي(?!\w)"),
            (r"[؛;]إلى{1,2}", r"[؛;]الي{1,2}"),
        ],
    )
    def test_fold_pattern_keeps_regex_syntax(self, pattern: str, expected: str) -> None:
        """fold_pattern folds Arabic letters and leaves regex punctuation alone."""
        assert fold_pattern(pattern) == expected
        re.compile(fold_pattern(pattern))


def test_diacritics_are_camel_tools_set() -> None:
    """clean writes camel-tools' Arabic diacritic set out (importing it costs 35 MiB a process):
    the two must stay the same set."""
    from camel_tools.utils.charsets import AR_DIAC_CHARSET

    from pipelines.clean import AR_DIACRITICS

    assert AR_DIACRITICS == AR_DIAC_CHARSET


def test_pipeline_imports_leave_camel_tools_charsets_alone() -> None:
    """The stages import camel-tools' normaliser but not its Unicode-wide character sets."""
    import subprocess
    import sys

    probe = "import sys, pipelines.stream; print('camel_tools.utils.charsets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
