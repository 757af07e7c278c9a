"""pipelines.tabulate: declared schemas, tables built from records (publishing: test_dataset)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa
import pytest

from pipelines import tabulate
from pipelines.records import Article, ArticleAnalysis, DroppedSpan, Quote, Sentence
from pipelines.speakers import speaker_ids

TITLE = "لافروف: الحل السياسي هو الطريق الوحيد"
TEXT = (
    'موسكو - قال وزير الخارجية الروسي سيرغي لافروف للصحفيين: "لقد قيل كل شيء عن جنيف". '
    "وشدد كيري على أن الخلافات لا يجوز أن تعيق التعاون.\nاكتب تعليق"
)
DATE = dt.date(2014, 1, 20)
QUARANTINE = [
    {"source_name": "bad.txt", "input_path": "in/bad.txt", "reason": "undecodable", "detail": "x"}
]


def span(haystack: str, needle: str) -> tuple[int, int]:
    start = haystack.index(needle)
    return start, start + len(needle)


def sample_analyses() -> list[ArticleAnalysis]:
    """Two articles: one with a title, three sentences, three quotes, a dropped comment line."""
    art = Article(
        article_id="0123456789abcdef",
        source_name="a1.txt",
        text=TEXT,
        title=TITLE,
        published_date=DATE,
        date_origin="record",
        input_path="in/a1.txt",
        encoding="utf-8",
    )
    aid = art.article_id
    s1 = span(TEXT, 'قال وزير الخارجية الروسي سيرغي لافروف للصحفيين: "لقد قيل كل شيء عن جنيف".')
    s2 = span(TEXT, "وشدد كيري على أن الخلافات لا يجوز أن تعيق التعاون.")
    sentences = (
        Sentence(aid, "title", 0, 0, 0, len(TITLE), TITLE),
        Sentence(aid, "text", 1, 1, *s1, TEXT[slice(*s1)]),
        Sentence(aid, "text", 2, 1, *s2, TEXT[slice(*s2)]),
    )
    q1, q2 = span(TEXT, "لقد قيل كل شيء عن جنيف"), span(TEXT, "الخلافات لا يجوز أن تعيق التعاون")
    q3 = span(TITLE, "الحل السياسي هو الطريق الوحيد")
    quotes = (
        Quote("q1", aid, "a1.txt", "text", "lavrov", "سيرغي لافروف", *span(TEXT, "سيرغي لافروف"),
              TEXT[slice(*q1)], *q1, "direct", "قال", *span(TEXT, "قال"), "name",
              "said_colon_quote", 0.9, 1, DATE),
        Quote("q2", aid, "a1.txt", "text", "kerry", "كيري", *span(TEXT, "كيري"),
              TEXT[slice(*q2)], *q2, "indirect", "شدد", *span(TEXT, "شدد"), "name",
              "verb_anna", 0.8, 2, DATE),
        Quote("q3", aid, "a1.txt", "title", "lavrov", "لافروف", *span(TITLE, "لافروف"),
              TITLE[slice(*q3)], *q3, "headline", ":", None, None, "headline",
              "headline_colon", 0.95, 0, DATE),
    )  # fmt: skip
    dropped = (DroppedSpan("text", *span(TEXT, "اكتب تعليق"), "comments"),)
    other = Article(article_id="fedcba9876543210", source_name="rec-2", text="نص قصير بلا اقتباس.")
    return [
        ArticleAnalysis(art, sentences, quotes, dropped),
        ArticleAnalysis(
            other, (Sentence(other.article_id, "text", 0, 0, 0, len(other.text), other.text),)
        ),
    ]


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return tabulate.build_tables(sample_analyses(), QUARANTINE)


class TestSchemas:
    def test_every_field_is_described(self) -> None:
        """Every column (and every nested struct field) carries a description for the dictionary."""

        def fields(schema_fields: list[pa.Field]) -> list[pa.Field]:
            out = []
            for f in schema_fields:
                out.append(f)
                t = f.type.value_type if pa.types.is_list(f.type) else f.type
                if pa.types.is_struct(t):
                    out.extend(fields(list(t)))
            return out

        for name, schema in tabulate.SCHEMAS.items():
            for f in fields(list(schema)):
                if f.name == "item":  # a list's element field: described by its parent
                    continue
                assert f.metadata and f.metadata[b"description"].strip(), f"{name}.{f.name}"

    def test_tables_are_the_declared_ones(self) -> None:
        """SCHEMAS declares exactly the tables of TABLE_NAMES, in order, at version 4."""
        assert tuple(tabulate.SCHEMAS) == tabulate.TABLE_NAMES
        assert tabulate.SCHEMA_VERSION == "4"

    def test_quote_columns_follow_the_record(self) -> None:
        """The quotes table has every Quote field, in the dataclass's order, then claim_id."""
        names = [f.name for f in dataclasses.fields(Quote)]
        assert tabulate.SCHEMAS["quotes"].names == [*names, "claim_id"]

    def test_built_tables_match_declared_schemas(self, tables: dict[str, pa.Table]) -> None:
        """build_tables returns each table in its declared schema, descriptions included."""
        assert list(tables) == list(tabulate.TABLE_NAMES)
        for name, table in tables.items():
            assert table.schema.equals(tabulate.SCHEMAS[name], check_metadata=True), name

    def test_empty_run(self) -> None:
        """No articles and no quarantine still gives every typed table (speakers has 5 rows)."""
        empty = tabulate.build_tables([], [])
        assert {n: t.num_rows for n, t in empty.items()} == {
            "articles": 0, "sentences": 0, "quotes": 0, "claims": 0, "speakers": 5, "quarantine": 0,
            "runs": 1,
        }  # fmt: skip
        for name, table in empty.items():
            assert table.schema.equals(tabulate.SCHEMAS[name]), name


class TestBuildTables:
    def test_row_counts(self, tables: dict[str, pa.Table]) -> None:
        """One row per article, sentence, quote, registry speaker and quarantine row."""
        counts = {name: t.num_rows for name, t in tables.items()}
        assert counts == {
            "articles": 2, "sentences": 4, "quotes": 3, "claims": 0, "speakers": 5, "quarantine": 1,
            "runs": 1,
        }  # fmt: skip

    def test_quote_offsets_survive(self, tables: dict[str, pa.Table]) -> None:
        """Offsets in the table still pick the quote text out of the article's field."""
        articles = {r["article_id"]: r for r in tables["articles"].to_pylist()}
        for q in tables["quotes"].to_pylist():
            field = articles[q["article_id"]][q["field"]]
            assert field[q["char_start"] : q["char_end"]] == q["quote_text"]
            assert field[q["mention_start"] : q["mention_end"]] == q["speaker_mention"]

    def test_article_columns(self, tables: dict[str, pa.Table]) -> None:
        """n_chars, n_sentences, n_quotes and dropped_spans are derived from the analysis."""
        first, second = tables["articles"].to_pylist()
        assert first["n_chars"] == len(TEXT)
        assert (first["n_sentences"], first["n_quotes"]) == (3, 3)
        assert (second["n_sentences"], second["n_quotes"]) == (1, 0)
        start, end = span(TEXT, "اكتب تعليق")
        assert first["dropped_spans"] == [
            {"field": "text", "start": start, "end": end, "reason": "comments"}
        ]
        assert second["dropped_spans"] == []
        assert first["published_date"] == DATE and second["published_date"] is None

    def test_speakers_from_registry(self, tables: dict[str, pa.Table]) -> None:
        """speakers has the five in registry order, their roles, variants and run counts."""
        rows = {r["speaker_id"]: r for r in tables["speakers"].to_pylist()}
        assert set(rows) == set(speaker_ids())
        assert {k: r["n_quotes"] for k, r in rows.items()} == {
            "lavrov": 2, "kerry": 1, "shoigu": 0, "hagel": 0, "muallem": 0,
        }  # fmt: skip
        assert rows["kerry"]["roles"] == [
            {"role": "fm", "country": "us", "start": dt.date(2013, 2, 1),
             "end": dt.date(2017, 1, 20)}
        ]  # fmt: skip
        assert rows["lavrov"]["roles"][0]["end"] is None
        assert {"هاغل", "هاجل", "تشاك هاغل"} <= set(rows["hagel"]["variants"])
        assert rows["muallem"]["variants"][0] == "وليد المعلم"

    def test_quarantine_unknown_key_raises(self) -> None:
        """A quarantine row with a key the table does not have is a program error."""
        with pytest.raises(ValueError, match="unknown keys"):
            tabulate.build_quarantine([{**QUARANTINE[0], "line": 3}])

    def test_null_in_required_column_raises(self) -> None:
        """A record breaking its own contract (None offsets) fails at build time, by name."""
        analyses = sample_analyses()
        q = analyses[0].quotes[0]
        broken = dataclasses.replace(q, char_start=None)
        analyses[0] = ArticleAnalysis(analyses[0].article, analyses[0].sentences, (broken,))
        with pytest.raises(ValueError, match=r"quotes\.char_start"):
            tabulate.build_quotes(analyses)

    def test_null_text_raises(self) -> None:
        """A None sentence text (the text column's own fast path) is reported like any null."""
        analyses = sample_analyses()
        broken = dataclasses.replace(analyses[1].sentences[0], text=None)
        analyses[1] = ArticleAnalysis(analyses[1].article, (broken,))
        with pytest.raises(ValueError, match=r"sentences\.text"):
            tabulate.build_sentences(analyses)


class TestTextArray:
    """The text columns are built from the encoded values, not by pa.array: same arrays."""

    @pytest.mark.parametrize(
        "values",
        [
            [],
            [""],
            [TEXT, "", TITLE, "ascii only", "emoji \U0001f600 and \u2026", "\x00nul"],
            ("a tuple", "نص"),
        ],
    )
    def test_same_as_pa_array(self, values: list[str]) -> None:
        array = tabulate._text_array(values)
        array.validate(full=True)
        assert array.equals(pa.array(values, type=pa.string()))

    def test_values_pa_array_handles(self) -> None:
        """None and more unusual values take pa.array's path (nulls counted, errors its own)."""
        assert tabulate._text_array(["a", None]).null_count == 1
        with pytest.raises(UnicodeEncodeError):
            tabulate._text_array(["lone surrogate \ud800"])
        with pytest.raises(pa.ArrowTypeError):
            tabulate._text_array(["a", 1])
