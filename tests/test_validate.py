"""pipelines.validate: the GE suites pass good tables and catch each kind of broken one.

Great Expectations takes ~4 s to import, so the good run is a module-scoped fixture and each
broken case validates without Data Docs (one case builds them, to check a failing run leaves
a report).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from pipelines import claims, tabulate, validate
from pipelines.records import Article, ArticleAnalysis, Quote, Sentence

TITLE = "هاغل: التعاون العسكري مع روسيا ممكن"
TEXT = (
    'واشنطن - قال وزير الدفاع الأمريكي تشاك هاغل: "نحن مستعدون للحوار مع موسكو". '
    "وأكد شويغو أن الاتصالات بين الوزارتين ستستمر."
)
DATE = dt.date(2013, 8, 12)
AID = "00000000000000aa"


def span(haystack: str, needle: str) -> tuple[int, int]:
    start = haystack.index(needle)
    return start, start + len(needle)


def quote(qid: str, field: str, speaker: str | None, mention: str, content: str, cue: str,
          qtype: str, method: str, sentence_index: int) -> Quote:  # fmt: skip
    """A quote whose every span is located in the article by string search."""
    source = TITLE if field == "title" else TEXT
    cue_span = span(source, cue) if cue != ":" else (None, None)
    return Quote(qid, AID, "hagel.txt", field, speaker, mention, *span(source, mention),
                 content, *span(source, content), qtype, cue, *cue_span, method, "test_rule",
                 0.9, sentence_index, DATE)  # fmt: skip


def good_tables() -> dict[str, pa.Table]:
    article = Article(AID, "hagel.txt", TEXT, TITLE, DATE, "text", input_path="in/hagel.txt")
    s1 = span(TEXT, 'قال وزير الدفاع الأمريكي تشاك هاغل: "نحن مستعدون للحوار مع موسكو".')
    s2 = span(TEXT, "وأكد شويغو أن الاتصالات بين الوزارتين ستستمر.")
    sentences = (
        Sentence(AID, "title", 0, 0, 0, len(TITLE), TITLE),
        Sentence(AID, "text", 1, 1, *s1, TEXT[slice(*s1)]),
        Sentence(AID, "text", 2, 1, *s2, TEXT[slice(*s2)]),
    )
    quotes = (
        quote("h1", "title", "hagel", "هاغل", "التعاون العسكري مع روسيا ممكن", ":",
              "headline", "headline", 0),
        quote("h2", "text", "hagel", "وزير الدفاع الأمريكي تشاك هاغل",
              "نحن مستعدون للحوار مع موسكو", "قال", "direct", "name", 1),
        quote("s1", "text", "shoigu", "شويغو", "الاتصالات بين الوزارتين ستستمر", "أكد",
              "indirect", "name", 2),
    )  # fmt: skip
    quarantine = [{"source_name": "x.jsonl:3", "input_path": "in/x.jsonl",
                   "reason": "malformed_json", "detail": "line 3: Expecting value"}]  # fmt: skip
    tables = tabulate.build_tables([ArticleAnalysis(article, sentences, quotes)], quarantine)
    return claims.attach_claims(tables)  # as the flow does once every batch is in


def set_values(table: pa.Table, column: str, change: Callable[[list[Any]], list[Any]]) -> pa.Table:
    """A copy of ``table`` with ``column`` replaced by ``change(values)``, field kept."""
    i = table.schema.get_field_index(column)
    f = table.schema.field(i)
    return table.set_column(i, f, pa.array(change(table.column(i).to_pylist()), f.type))


def first(value: Any) -> Callable[[list[Any]], list[Any]]:
    return lambda values: [value, *values[1:]]


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return good_tables()


@pytest.fixture(scope="module")
def good_report(
    tables: dict[str, pa.Table], tmp_path_factory: pytest.TempPathFactory
) -> validate.ValidationReport:
    docs = tmp_path_factory.mktemp("docs")
    return validate.validate_tables(tables, str(docs), today=dt.date(2026, 1, 1))


class TestSuites:
    @pytest.mark.parametrize("name", tabulate.TABLE_NAMES)
    def test_ge_loads_every_expectation(self, name: str) -> None:
        """GE builds as many expectations as the JSON file lists (none silently dropped)."""
        raw = validate.read_suite_json(name)
        assert len(validate.load_suite(name).expectations) == len(raw["expectations"])

    @pytest.mark.parametrize("name", tabulate.TABLE_NAMES)
    def test_columns_are_schema_plus_derived(self, name: str) -> None:
        """Each suite's column list is the declared schema (but the long texts, FRAME_DROPS)
        then the derived chk_* columns."""
        raw = validate.read_suite_json(name)
        (columns,) = [
            e["kwargs"]["column_list"]
            for e in raw["expectations"]
            if e["type"] == "expect_table_columns_to_match_ordered_list"
        ]
        kept = [
            c for c in tabulate.SCHEMAS[name].names if c not in validate.FRAME_DROPS.get(name, ())
        ]
        assert columns == kept + list(validate.DERIVED[name])

    def test_suite_sizes(self) -> None:
        """How many expectations each suite holds, and GE loads: a suite that gains or loses
        one is a deliberate change, made here too."""
        sizes = {
            "articles": 34, "sentences": 23, "quotes": 65, "claims": 38, "speakers": 23,
            "quarantine": 10, "runs": 39,
        }  # fmt: skip
        assert {n: len(validate.read_suite_json(n)["expectations"]) for n in sizes} == sizes
        assert {n: len(validate.load_suite(n).expectations) for n in sizes} == sizes

    def test_dropped_expectation_raises(self, tmp_path: Path) -> None:
        """An unknown expectation type makes load_suite raise instead of validating less."""
        for path in validate.SUITES_DIR.glob("*.json"):
            shutil.copy(path, tmp_path)
        raw = json.loads((tmp_path / "quotes.json").read_text(encoding="utf-8"))
        raw["expectations"].append({"type": "expect_column_to_be_wonderful", "kwargs": {}})
        (tmp_path / "quotes.json").write_text(json.dumps(raw), encoding="utf-8")
        with pytest.raises(validate.SuiteError, match=r"loaded \d+ of \d+"):
            validate.load_suite("quotes", tmp_path)


class TestGoodTables:
    def test_passes(self, good_report: validate.ValidationReport) -> None:
        """Correct tables pass every critical check and every warning."""
        assert good_report.failed == []
        assert good_report.warnings == []
        assert good_report.success

    def test_every_expectation_ran(self, good_report: validate.ValidationReport) -> None:
        """Each table's report holds the schema check plus one result per JSON expectation."""
        for name, table_report in good_report.results.items():
            n_json = len(validate.read_suite_json(name)["expectations"])
            ge_checks = [c for c in table_report.checks if c.check.startswith("expect_")]
            assert len(ge_checks) == n_json, name
            assert all(c.error is None for c in table_report.checks), name

    def test_builds_data_docs(self, good_report: validate.ValidationReport) -> None:
        """Data Docs are built and the report points at their index page."""
        assert good_report.docs_path is not None
        assert Path(good_report.docs_path).name == "index.html"
        assert Path(good_report.docs_path).is_file()

    def test_empty_run_passes(self) -> None:
        """A run with no articles (all quarantined, say) is valid: speakers still has five."""
        report = validate.validate_tables(tabulate.build_tables([], []), None)
        assert report.success, report.summary()

    def test_report_serialises(self, good_report: validate.ValidationReport) -> None:
        """to_dict is plain JSON and summary() names every table."""
        json.dumps(good_report.to_dict())
        assert all(name in good_report.summary() for name in tabulate.TABLE_NAMES)


def _shift_first_quote(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    # Off by one: the span moves one character right, its text stays.
    quotes = set_values(tables["quotes"], "char_start", lambda v: [v[0] + 1, *v[1:]])
    return {**tables, "quotes": set_values(quotes, "char_end", lambda v: [v[0] + 1, *v[1:]])}


def _duplicate_quote_id(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    return {**tables, "quotes": set_values(tables["quotes"], "quote_id", lambda v: [v[1], *v[1:]])}


def _retype(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    quotes = tables["quotes"]
    i = quotes.schema.get_field_index("confidence")
    field = quotes.schema.field(i).with_type(pa.float32())
    return {**tables, "quotes": quotes.set_column(i, field, quotes.column(i).cast(pa.float32()))}


def _in_quotes(column: str, value: Any) -> Callable[[dict[str, pa.Table]], dict[str, pa.Table]]:
    """A breakage: the first quote's ``column`` set to ``value``."""
    return lambda t: {**t, "quotes": set_values(t["quotes"], column, first(value))}


def _sentence_end_short(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    sentences = set_values(tables["sentences"], "char_end", lambda v: [v[0] - 1, *v[1:]])
    return {**tables, "sentences": sentences}


SET = "expect_column_values_to_be_in_set"
# case -> (breakage, the exact critical failures it must cause: no fewer, no collateral noise)
BROKEN: dict[str, tuple[Callable[[dict[str, pa.Table]], dict[str, pa.Table]], set[str]]] = {
    "quote offset off by one": (_shift_first_quote, {f"quotes: {SET}(chk_offset)"}),
    "unknown speaker": (
        _in_quotes("speaker_id", "putin"),
        # the quote's claim is another speaker's now: both sides of the link fail
        {f"quotes: {SET}(speaker_id)", f"speakers: {SET}(chk_n_quotes)",
         f"quotes: {SET}(chk_claim)", f"claims: {SET}(chk_speaker)"},
    ),
    "duplicate quote_id": (
        _duplicate_quote_id,
        # the claims naming the lost and the doubled quote no longer add up
        {"quotes: expect_column_values_to_be_unique(quote_id)"}
        | {f"claims: {SET}({c})" for c in ("chk_members", "chk_speaker", "chk_canonical",
                                           "chk_n_articles", "chk_seen")},
    ),
    "confidence 1.5": (
        _in_quotes("confidence", 1.5),
        {"quotes: expect_column_values_to_be_between(confidence)"},
    ),
    "sentence text not at its offsets": (_sentence_end_short, {f"sentences: {SET}(chk_offset)"}),
    "quote of a missing article": (
        _in_quotes("article_id", "ffffffffffffffff"),
        {f"articles: {SET}(chk_n_quotes)"}
        | {f"quotes: {SET}({c})" for c in ("chk_article_exists", "chk_offset", "chk_mention_span",
                                           "chk_article_fields", "chk_sentence")},
    ),
    "speaker without a mention": (
        _in_quotes("speaker_mention", None),
        {f"quotes: {SET}(chk_speaker_mention)", f"quotes: {SET}(chk_mention_span)"},
    ),
    "implausible date": (
        _in_quotes("published_date", dt.date(1970, 1, 1)),
        {"quotes: expect_column_values_to_be_between(published_date)",
         f"quotes: {SET}(chk_article_fields)", f"claims: {SET}(chk_seen)"},
    ),
    "quote_type outside the set": (
        _in_quotes("quote_type", "rumour"),
        {f"quotes: {SET}(quote_type)"},
    ),
    "wrong column type": (
        _retype,
        {"quotes: arrow_schema(confidence)",
         "quotes: expect_column_values_to_be_of_type(confidence)"},
    ),
    "article count out of step": (
        lambda t: {**t, "articles": set_values(t["articles"], "n_quotes", first(7))},
        {f"articles: {SET}(chk_n_quotes)"},
    ),
    "table without a suite": (
        lambda t: {**t, "retractions": t["quarantine"]},
        {"retractions: no expectation suite"},
    ),
    "table missing": (
        lambda t: {k: v for k, v in t.items() if k != "quarantine"},
        # runs's derived checks read quarantine: all of them fail closed.
        {"quarantine: table_present", "runs: derived_checks"}
        | {f"runs: {SET}({c})" for c in validate.DERIVED["runs"]},
    ),
}  # fmt: skip


class TestBrokenTables:
    @pytest.mark.parametrize("case", list(BROKEN))
    def test_fails(self, case: str, tables: dict[str, pa.Table]) -> None:
        """Each deliberate breakage fails validation with the expected, named check."""
        breakage, expected = BROKEN[case]
        report = validate.validate_tables(breakage(tables), None, today=dt.date(2026, 1, 1))
        assert not report.success
        assert set(report.failed) == expected, report.summary()
        assert report.docs_path is None

    def test_failing_run_leaves_data_docs(
        self, tables: dict[str, pa.Table], tmp_path: Path
    ) -> None:
        """A failing run still writes Data Docs, with the failed validation on a page."""
        report = validate.validate_tables(_duplicate_quote_id(tables), str(tmp_path / "docs"))
        assert not report.success and report.docs_path is not None
        pages = list((tmp_path / "docs" / "validations").rglob("*.html"))
        assert len(pages) == len(tabulate.TABLE_NAMES)
        assert any("quote_id" in p.read_text(encoding="utf-8") for p in pages)

    def test_examples_name_the_row(self, tables: dict[str, pa.Table]) -> None:
        """A failed column check reports the offending row's key, not just the bad value."""
        report = validate.validate_tables(_shift_first_quote(tables), None)
        (check,) = [c for c in report.results["quotes"].checks if c.check.endswith("(chk_offset)")]
        assert check.unexpected_count == 1
        assert check.examples[0]["quote_id"] == "h1"


class TestDerivedChecks:
    def test_only_the_broken_row_is_flagged(self, tables: dict[str, pa.Table]) -> None:
        """The derived offset check marks exactly the shifted quote (no GE needed)."""
        derived = validate.derive_check_columns(_shift_first_quote(tables))
        assert derived["quotes"]["chk_offset"].tolist() == [False, True, True]
        assert all(all(v) for v in derived["sentences"].values())

    def test_unusable_input_fails_closed(self, tables: dict[str, pa.Table]) -> None:
        """When articles is missing, checks that read it fail instead of passing."""
        derived = validate.derive_check_columns(
            {k: v for k, v in tables.items() if k != "articles"}
        )
        assert not derived["quotes"]["chk_offset"].any()
        assert derived["speakers"]["chk_n_quotes"].all()

    def test_chunked_tables(self, tables: dict[str, pa.Table]) -> None:
        """Tables concatenated from batches (many chunks) derive the same checks."""
        chunked = {k: pa.concat_tables([v.slice(0, 1), v.slice(1)]) for k, v in tables.items()}
        derived = validate.derive_check_columns(chunked)
        assert all(all(v) for cols in derived.values() for v in cols.values())


def test_ge_frame_keeps_integer_widths_numpy_without_nulls_nullable_with() -> None:
    """Integer columns without nulls reach GE as numpy columns of their width (compared
    vectorised); with nulls, as pandas' nullable type of that width, never as floats."""
    table = pa.table(
        {
            "full": pa.array([0, 3, 7], pa.int32()),
            "gaps": pa.array([1, None, 2], pa.int32()),
            "flag": pa.array([True, None, False]),
            "day": pa.array([dt.date(2015, 7, 1)] * 3),
        }
    )
    frame = validate.gx.to_frame(table, {"chk_x": np.array([True, True, False])})
    assert str(frame["full"].dtype) == "int32"
    assert str(frame["gaps"].dtype) == "Int32" and frame["gaps"].isna().tolist() == [
        False, True, False,
    ]  # fmt: skip
    assert str(frame["flag"].dtype) == "boolean"
    assert frame["day"].tolist() == [dt.date(2015, 7, 1)] * 3
    assert frame["chk_x"].tolist() == [True, True, False]


class TestChunkedValidation:
    """The sentences table is validated in chunks of whole articles (bounded memory)."""

    def _sentences(self, per_article: list[int]) -> pa.Table:
        ids, indexes = [], []
        for k, n in enumerate(per_article):
            ids += [f"{k:016x}"] * n
            indexes += list(range(n))
        return pa.table({"article_id": ids, "sentence_index": indexes})

    def test_bounds_cover_every_row_and_never_split_an_article(self) -> None:
        table = self._sentences([3, 5, 1, 4, 2, 6])
        bounds = validate.chunk_bounds(table, rows=4)
        assert bounds[0][0] == 0 and bounds[-1][1] == table.num_rows
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        ids = table.column("article_id").to_pylist()
        assert len(bounds) > 1
        for start, _ in bounds[1:]:
            assert ids[start] != ids[start - 1]  # a cut falls between two articles

    def test_small_table_is_one_chunk(self) -> None:
        assert validate.chunk_bounds(self._sentences([2, 2]), rows=10) == [(0, 4)]

    def test_chunked_run_finds_what_a_whole_run_finds(
        self, tables: dict[str, pa.Table], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two articles' sentences, one with a duplicated sentence index, validated in chunks
        of one article: the good tables pass, the duplicate fails with its count."""
        second = "b" * 16
        sentences = tables["sentences"]
        other = set_values(sentences, "article_id", lambda v: [second] * len(v))
        broken = set_values(other, "sentence_index", first(2))  # index 2 twice
        monkeypatch.setattr(validate.gx, "CHUNK_ROWS", 2)
        assert validate.chunk_bounds(pa.concat_tables([sentences, broken])) == [(0, 3), (3, 6)]
        both = {**tables, "sentences": pa.concat_tables([sentences, broken])}
        precomputed = {"sentences": {c: np.ones(6, bool) for c in validate.DERIVED["sentences"]}}
        report = validate.validate_tables(
            both, None, today=dt.date(2026, 1, 1), precomputed=precomputed
        )
        (dup,) = [
            c
            for c in report.results["sentences"].checks
            if c.check.startswith("expect_compound_columns_to_be_unique")
        ]
        assert not dup.success and dup.unexpected_count == 2
        good = validate.validate_tables(tables, None, today=dt.date(2026, 1, 1))
        assert good.success
