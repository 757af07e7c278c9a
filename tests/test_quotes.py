"""Quotation detection and attribution, table-driven from tests/fixtures/quotes_cases.jsonl.

The fixture file is meant for linguists to edit: a new construction is a new line, no new code.

One JSON object per line:
  id          unique name of the case
  text        the article body as read;  title (optional) the article title
  date        ISO date of the article, or null
  expect      rows that must come out: {"speaker": id|null, "type": quote type,
              "text_contains": substring of quote_text, "field": "text"|"title" (default "text"),
              "method": attribution method (optional)}; each expected row matches a different quote
  forbid      rows that must not come out: {"speaker": id|null (optional: any speaker),
              "text_contains": substring (optional: any text)}, in either field
  n_quotes    (optional) the exact number of rows
  note        the construction the case exercises
  xfail       (optional) why the case fails today (a known bug): its rows test runs as strict
              xfail, so it turns red as soon as the bug is fixed and the key must be removed
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from helpers import analyse_articles

from pipelines.clean import clean_text
from pipelines.quotes import find_cues, load_cues
from pipelines.records import (
    ATTRIBUTION_METHODS,
    FIELDS,
    QUOTE_TYPES,
    Article,
    ArticleAnalysis,
    Quote,
)
from pipelines.speakers import speaker_ids

FIXTURE = Path(__file__).parent / "fixtures" / "quotes_cases.jsonl"
CASE_KEYS = {"id", "text", "date", "expect", "forbid", "note"}
OPTIONAL_KEYS = {"title", "n_quotes", "xfail"}
EXPECT_KEYS = {"speaker", "type", "text_contains", "field", "method"}


def load_cases() -> list[dict[str, Any]]:
    with FIXTURE.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


CASES = load_cases()


def as_param(case: dict[str, Any], with_xfail: bool = True) -> Any:
    marks = (
        [pytest.mark.xfail(strict=True, reason=case["xfail"])]
        if with_xfail and "xfail" in case
        else []
    )
    return pytest.param(case, id=case["id"], marks=marks)


def article_of(case: dict[str, Any]) -> Article:
    date = dt.date.fromisoformat(case["date"]) if case["date"] else None
    return Article(case["id"], case["id"], case["text"], case.get("title"), date)


@cache
def _analyse(case_id: str) -> ArticleAnalysis:
    case = next(c for c in CASES if c["id"] == case_id)
    (analysis,) = analyse_articles([article_of(case)])
    return analysis


def matches(q: Quote, row: dict[str, Any]) -> bool:
    """Does a produced quote satisfy one expect/forbid row (absent keys match anything)?"""
    if "speaker" in row and q.speaker_id != row["speaker"]:
        return False
    if "type" in row and q.quote_type != row["type"]:
        return False
    if "text_contains" in row and row["text_contains"] not in q.quote_text:
        return False
    if "method" in row and q.attribution_method != row["method"]:
        return False
    return "field" not in row or q.field == row["field"]


def describe(quotes: tuple[Quote, ...]) -> str:
    return "\n".join(
        f"  {q.field}:{q.speaker_id}:{q.quote_type}:{q.attribution_method}"
        f" cue={q.cue!r} {q.quote_text!r}"
        for q in quotes
    )


class TestFixtureFile:
    def test_ids_unique(self) -> None:
        """Every case has its own id, so a failure names one construction."""
        ids = [c["id"] for c in CASES]
        assert len(ids) == len(set(ids))

    @pytest.mark.parametrize("case", [as_param(c, with_xfail=False) for c in CASES])
    def test_case_shape(self, case: dict[str, Any]) -> None:
        """Each case has the documented keys and values a reader can check against the contract."""
        assert CASE_KEYS <= set(case) <= CASE_KEYS | OPTIONAL_KEYS
        assert case["note"].strip()
        if case["date"] is not None:
            dt.date.fromisoformat(case["date"])
        for row in case["expect"]:
            assert {"speaker", "type", "text_contains"} <= set(row) <= EXPECT_KEYS, row
            assert row["speaker"] is None or row["speaker"] in speaker_ids()
            assert row["type"] in QUOTE_TYPES
            assert row.get("field", "text") in FIELDS
            assert row.get("method", "name") in ATTRIBUTION_METHODS
            source = case.get("title") if row.get("field") == "title" else case["text"]
            assert row["text_contains"] in source, row  # a typo in the fixture fails here
        for row in case["forbid"]:
            assert set(row) <= {"speaker", "text_contains"}
            assert row.get("speaker") is None or row["speaker"] in speaker_ids()


class TestQuotations:
    @pytest.mark.parametrize("case", [as_param(c) for c in CASES])
    def test_rows(self, case: dict[str, Any]) -> None:
        """Expected rows come out (one quotation each), forbidden rows don't, counts match."""
        produced = _analyse(case["id"]).quotes
        unmatched = list(produced)
        for row in case["expect"]:
            row = {**row, "field": row.get("field", "text")}
            hit = next((q for q in unmatched if matches(q, row)), None)
            assert hit is not None, f"missing {row}\ngot:\n{describe(produced)}"
            unmatched.remove(hit)
        for row in case["forbid"]:
            bad = tuple(q for q in produced if matches(q, row))
            assert not bad, f"forbidden {row}\ngot:\n{describe(bad)}"
        if "n_quotes" in case:
            assert len(produced) == case["n_quotes"], describe(produced)


def quotes_to_check(case: dict[str, Any]) -> tuple[Quote, ...]:
    """The case's quotations, for a test of each one: at least one where the fixture expects
    one (so the test cannot pass on nothing); a case that expects none and yields none skips."""
    quotes = _analyse(case["id"]).quotes
    if case["expect"] or case.get("n_quotes", 0) > 0:
        assert quotes, f"{case['id']} expects a quotation and yields none"
    elif not quotes:
        pytest.skip("a negative case: it yields no quotation to check")
    return quotes


class TestSpans:
    @pytest.mark.parametrize("case", [as_param(c, with_xfail=False) for c in CASES])
    def test_span_identities(self, case: dict[str, Any]) -> None:
        """Each quote's text, cue and mention are exact slices of the field they point into."""
        article = _analyse(case["id"]).article
        for q in quotes_to_check(case):
            source = article.title if q.field == "title" else article.text
            assert source is not None
            assert 0 <= q.char_start < q.char_end <= len(source)
            assert source[q.char_start : q.char_end] == q.quote_text
            if q.cue_start is not None:
                assert source[q.cue_start : q.cue_end] == q.cue
            if q.mention_start is not None:
                assert source[q.mention_start : q.mention_end] == q.speaker_mention
            assert 0.0 <= q.confidence <= 1.0
            assert q.quote_type in QUOTE_TYPES
            assert q.attribution_method in ATTRIBUTION_METHODS
            assert q.speaker_id is None or q.speaker_id in speaker_ids()
            assert (q.speaker_id is None) == (q.attribution_method == "other")

    @pytest.mark.parametrize("case", [as_param(c, with_xfail=False) for c in CASES])
    def test_quote_text_is_content(self, case: dict[str, Any]) -> None:
        """Quote text is trimmed content: no surrounding space or stop, no enclosing marks."""
        for q in quotes_to_check(case):
            assert q.quote_text == q.quote_text.strip()
            assert not q.quote_text.endswith((".", "،", ":"))
            if q.quote_type == "direct":
                assert q.quote_text[0] not in '"“”«', q.quote_text


# (text, the cues find_cues reports as (form in the clean text, with its clitic و/ف))
CUE_HITS: list[tuple[str, list[tuple[str, bool]]]] = [
    ("وأضاف أن", [("اضاف", True)]),
    ("فقال إن", [("قال", True)]),
    ("قال الوزير", [("قال", False)]),
    ("مشيرا إلى أن", [("مشيرا", False)]),
    ("ونقلت عنه قوله إن", [("قوله", False)]),
    ("وبحسب الوزير", [("بحسب", True)]),
    ("يؤكد الوزير", [("يؤكد", False)]),
    ("المقالات والأقوال", []),  # a cue form inside a longer word is no cue
    ("وقـــال", [("قال", True)]),  # tatweel does not hide a cue
]


class TestCueLexicon:
    @pytest.mark.parametrize(("raw", "expected"), CUE_HITS)
    def test_find_cues(self, raw: str, expected: list[tuple[str, bool]]) -> None:
        """Cue verbs are found as whole words, with an optional conjunction clitic."""
        text = clean_text(raw).text
        hits = find_cues(text, 0, len(text))
        assert [(text[h.start : h.end], h.prefixed) for h in hits] == expected

    @pytest.mark.parametrize("word", ["أن", "إن", "بأن", "أنه", "ألا"])
    def test_complementizers(self, word: str) -> None:
        """The complementizers of ANNOTATION.md's indirect type are in the lexicon, folded."""
        assert clean_text(word).text in load_cues().complementizers

    def test_each_form_listed_once(self) -> None:
        """A cue form listed twice keeps only its last entry's frames and prepositions: the
        first entry would be silently lost."""
        data = json.loads(
            (Path(__file__).parents[1] / "pipelines" / "lexicons" / "cues.json").read_text("utf-8")
        )
        forms = [clean_text(e["form"]).text for key in ("verbs", "participles") for e in data[key]]
        forms += [clean_text(f).text for f in data["imperfects"]]
        assert forms and len(forms) == len(set(forms))
