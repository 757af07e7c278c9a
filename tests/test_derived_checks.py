"""pipelines.validate's derived checks of a batch (articles, sentences, quotes), computed over
the Arrow columns without DuckDB: each corruption fails closed in exactly its rows, offsets
count code points, and a batch and the whole tables get the same answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from test_validate import TEXT, TITLE, good_tables

from pipelines import tabulate, validate
from pipelines.validate import checks


@pytest.fixture()
def tables() -> dict[str, pa.Table]:
    return good_tables()


def edit(tables: dict[str, pa.Table], name: str, column: str, row: int, value: Any) -> dict:
    """A copy of ``tables`` with ``name.column[row]`` set to ``value`` (a function of the old
    value, or the value); the column made nullable so it can hold a null."""
    table = tables[name]
    i = table.schema.get_field_index(column)
    values = table.column(i).to_pylist()
    values[row] = value(values[row]) if callable(value) else value
    f = table.schema.field(i).with_nullable(True)
    return {**tables, name: table.set_column(i, f, pa.array(values, f.type))}


def failing(tables: dict[str, pa.Table]) -> dict[str, list[int]]:
    """``{"table.chk_column": rows that fail}`` of the batch checks, for the failing ones."""
    checks, problems = validate.batch_checks(tables)
    assert not problems
    return {
        f"{name}.{column}": np.flatnonzero(~values).tolist()
        for name, columns in checks.items()
        for column, values in columns.items()
        if not values.all()
    }


def test_good_batch_passes_without_duckdb(
    tables: dict[str, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's checks open no DuckDB connection (~10 ms of CPU each) and all pass."""
    import duckdb

    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: pytest.fail("DuckDB connected"))
    assert failing(tables) == {}


Change = Callable[[dict[str, pa.Table]], dict[str, pa.Table]]
CORRUPTIONS: dict[str, tuple[Change, dict[str, list[int]]]] = {
    "sentence offsets one code point off": (
        lambda t: edit(edit(t, "sentences", "char_start", 2, lambda v: v + 1),
                       "sentences", "char_end", 2, lambda v: v + 1),
        {"sentences.chk_offset": [2]},
    ),
    "sentence text wrong": (
        lambda t: edit(t, "sentences", "text", 1, lambda v: v[:-1] + "x"),
        {"sentences.chk_offset": [1]},
    ),
    "sentence past the end of its field": (
        lambda t: edit(t, "sentences", "char_end", 2, lambda v: v + 1),
        {"sentences.chk_offset": [2]},
    ),
    "sentence empty": (
        lambda t: edit(edit(t, "sentences", "char_end", 1, t["sentences"]["char_start"][1].as_py()),
                       "sentences", "text", 1, ""),
        {"sentences.chk_offset": [1], "quotes.chk_sentence": [1]},
    ),
    "sentence in the wrong field": (
        lambda t: edit(t, "sentences", "field", 0, "text"),
        {"sentences.chk_offset": [0], "sentences.chk_order": [1], "quotes.chk_sentence": [0]},
    ),
    "sentence offset null": (
        lambda t: edit(t, "sentences", "char_start", 1, None),
        {"sentences.chk_offset": [1], "quotes.chk_sentence": [1]},
    ),
    "sentence of a missing article": (
        lambda t: edit(t, "sentences", "article_id", 2, "f" * 16),
        {"articles.chk_n_sentences": [0], "sentences.chk_article_exists": [2],
         "sentences.chk_offset": [2], "sentences.chk_sentence_index": [2],
         "quotes.chk_sentence": [2]},
    ),
    "sentence index repeated (ties keep row order)": (
        lambda t: edit(t, "sentences", "sentence_index", 2, 1),
        {"quotes.chk_sentence": [2]},
    ),
    "sentence indexes out of text order": (
        lambda t: edit(edit(t, "sentences", "sentence_index", 1, 2),
                       "sentences", "sentence_index", 2, 1),
        {"sentences.chk_order": [1], "quotes.chk_sentence": [1, 2]},
    ),
    "sentence index out of range": (
        lambda t: edit(t, "sentences", "sentence_index", 2, 3),
        {"sentences.chk_sentence_index": [2], "quotes.chk_sentence": [2]},
    ),
    "title null": (
        lambda t: edit(t, "articles", "title", 0, None),
        {"sentences.chk_offset": [0], "quotes.chk_offset": [0],
         "quotes.chk_mention_span": [0]},
    ),
    "n_sentences and n_quotes wrong": (
        lambda t: edit(edit(t, "articles", "n_sentences", 0, 2), "articles", "n_quotes", 0, 4),
        {"articles.chk_n_sentences": [0], "articles.chk_n_quotes": [0],
         "sentences.chk_sentence_index": [2]},
    ),
    "dropped span past its field": (
        lambda t: edit(t, "articles", "dropped_spans", 0,
                       [{"field": "title", "start": 0, "end": len(TITLE) + 1, "reason": "x"}]),
        {"articles.chk_dropped_spans": [0]},
    ),
    "dropped span on a null title": (
        lambda t: edit(edit(t, "articles", "title", 0, None), "articles", "dropped_spans", 0,
                       [{"field": "title", "start": 0, "end": 1, "reason": "x"}]),
        {"articles.chk_dropped_spans": [0], "sentences.chk_offset": [0],
         "quotes.chk_offset": [0], "quotes.chk_mention_span": [0]},
    ),
    "quotation of a missing article": (
        lambda t: edit(t, "quotes", "article_id", 1, None),
        {"articles.chk_n_quotes": [0], "quotes.chk_article_exists": [1],
         "quotes.chk_offset": [1], "quotes.chk_mention_span": [1], "quotes.chk_cue_span": [1],
         "quotes.chk_article_fields": [1], "quotes.chk_sentence": [1]},
    ),
    "mention and cue spans wrong": (
        lambda t: edit(edit(t, "quotes", "mention_start", 1, lambda v: v + 1),
                       "quotes", "cue", 2, "قال"),
        {"quotes.chk_mention_span": [1], "quotes.chk_cue_span": [2]},
    ),
    "quotation outside its sentence": (
        lambda t: edit(t, "quotes", "sentence_index", 2, 1),
        {"quotes.chk_sentence": [2]},
    ),
    "quotation's date not its article's": (
        lambda t: edit(t, "quotes", "published_date", 0, None),
        {"quotes.chk_article_fields": [0]},
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_corruption_fails_in_its_rows(tables: dict[str, pa.Table], case: str) -> None:
    change, expected = CORRUPTIONS[case]
    assert failing(change(tables)) == expected


def test_offsets_count_code_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """Characters of 1 to 4 UTF-8 bytes before and between the spans: offsets in code points
    pass, a sentence cut at the same byte offsets fails."""
    text = "😀€ab " + TEXT.replace('". وأكد', '". 𝄞€😀 وأكد')
    monkeypatch.setattr("test_validate.TEXT", text)
    monkeypatch.setattr("test_validate.TITLE", "€😀 " + TITLE)
    tables = good_tables()
    assert failing(tables) == {}
    sentences = tables["sentences"]
    start, end = sentences["char_start"][2].as_py(), sentences["char_end"][2].as_py()
    by_bytes = text.encode()[start:end].decode(errors="ignore")
    assert failing(edit(tables, "sentences", "text", 2, by_bytes)) == {"sentences.chk_offset": [2]}


def test_batch_and_whole_tables_agree(tables: dict[str, pa.Table]) -> None:
    """The whole-table path computes the same columns (plus the quotation's claim) for the
    same tables, chunked or not."""
    broken = edit(tables, "sentences", "char_start", 1, lambda v: v + 1)
    batch, _ = validate.batch_checks(broken)
    chunked = {k: pa.concat_tables([v.slice(0, 1), v.slice(1)]) for k, v in broken.items()}
    for whole in (broken, chunked):
        derived = validate.derive_check_columns(whole)
        for name, columns in batch.items():
            for column, values in columns.items():
                assert derived[name][column].tolist() == values.tolist(), (name, column)
        assert derived["quotes"]["chk_claim"].all()


def test_unreadable_column_fails_closed(tables: dict[str, pa.Table]) -> None:
    """Sentences without their text (a validation frame): the problem is reported and every
    sentence check fails instead of passing."""
    checks, problems = validate.batch_checks(
        {**tables, "sentences": tables["sentences"].drop_columns(["text"])}
    )
    assert problems["sentences"]
    assert not any(v.any() for v in checks["sentences"].values())
    assert all(v.all() for v in checks["quotes"].values())


class TestRegistry:
    """pipelines.validate.checks: one entry a chk_* column, agreeing with the suites and with
    what its computation returns."""

    @pytest.mark.parametrize("name", tabulate.TABLE_NAMES)
    def test_suite_expects_exactly_the_registered_columns(self, name: str) -> None:
        """The columns a suite expects to be True are the registry's for that table."""
        expected = {
            e["kwargs"]["column"]
            for e in validate.read_suite_json(name)["expectations"]
            if e["type"] == "expect_column_values_to_be_in_set"
            and e["kwargs"]["column"].startswith("chk_")
        }
        assert expected == set(validate.DERIVED[name])

    def test_one_entry_a_column(self) -> None:
        """No column is registered twice, and each says what it reads and means."""
        keys = [(c.table, c.column) for c in checks.CHECKS]
        assert len(keys) == len(set(keys))
        for c in checks.CHECKS:
            assert c.column.startswith("chk_") and c.means and c.table in c.reads, c
            assert set(c.reads) <= {c.table, *validate.DERIVED_READS[c.table]}, c

    def test_arrow_functions_return_their_entries(self, tables: dict[str, pa.Table]) -> None:
        """An Arrow computation returns exactly the columns registered for it."""
        for name in validate.BATCH_CHECKED:
            methods = {c.how for c in checks.of_table(name) if isinstance(c.how, checks.Arrow)}
            for how in methods:
                registered = {c.column for c in checks.of_table(name) if c.how == how}
                assert set(how.compute(tables)) == registered, name

    def test_when(self) -> None:
        """Batches compute articles, sentences and quotes, all but a quotation's claim."""
        assert validate.BATCH_CHECKED == ("articles", "sentences", "quotes")
        late = [(c.table, c.column) for c in checks.CHECKS if c.when is checks.When.CLAIMS]
        assert late == [("quotes", "chk_claim")]
