"""Validate the output tables against the Great Expectations suites in ``expectations/``.

Three layers, cheapest first:

1. the Arrow schema of each table against ``write.SCHEMAS`` (names, order, exact types,
   nested ones included), in Python: GE only sees pandas dtypes;
2. derived check columns (``chk_*``, one boolean a row) for what needs the text or another
   table: offset identity ``field[char_start:char_end] == text`` for quote, cue, mention
   and sentence spans, foreign keys, counts, and the run's accounting (its row of ``runs``:
   inputs seen = articles + quarantined + exact duplicates + already published, with
   articles and quarantined equal to those tables' row counts). Those of articles,
   sentences and quotes (computed per batch) are vectorised over the Arrow columns with
   pyarrow.compute and numpy, the others are DuckDB SQL over the Arrow tables (zero copy);
   offsets count code points, as Python's ``str`` does. They are appended to the frame GE
   validates, so each shows up in Data Docs as an ordinary
   ``expect_column_values_to_be_in_set(chk_..., [True])``;
3. the GE suites, one per table, loaded from JSON; an optional Data Docs site is built.

A failed expectation with ``"severity": "warning"`` goes to ``warnings``, not ``failed``.
Great Expectations is imported inside :func:`validate_tables` (it costs ~4 s).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import claims, ingest
from pipelines.speakers import load_registry, registry_in_use
from pipelines.write import SCHEMAS, TABLE_NAMES

logger = logging.getLogger(__name__)

SUITES_DIR = Path(__file__).resolve().parent.parent / "expectations"
DOCS_SITE = "isnad"
DOCS_VIEWS = "pipelines.datadocs"  # GE imports it by name when it builds the docs
# Columns that identify a row in a failure's examples.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "articles": ("article_id",),
    "sentences": ("article_id", "sentence_index"),
    "quotes": ("quote_id",),
    "claims": ("claim_id",),
    "speakers": ("speaker_id",),
    "quarantine": ("source_name",),
    "runs": ("run_id",),
}
# Derived check columns each table's suite expects, in frame order; DERIVED_READS: the tables
# their checks read.
DERIVED: dict[str, tuple[str, ...]] = {
    "articles": ("chk_n_chars", "chk_date_origin", "chk_dropped_spans", "chk_n_sentences",
                 "chk_n_quotes"),
    "sentences": ("chk_article_exists", "chk_offset", "chk_sentence_index", "chk_order"),
    "quotes": ("chk_article_exists", "chk_offset", "chk_mention_span", "chk_cue_span",
               "chk_speaker_mention", "chk_other_speaker", "chk_article_fields", "chk_sentence",
               claims.QUOTES_CHECK_COLUMN),
    "claims": claims.DERIVED_COLUMNS,
    "speakers": ("chk_n_quotes", "chk_roles", "chk_variants"),
    "quarantine": (),
    "runs": ("chk_identity", "chk_articles", "chk_quarantined", "chk_quarantine_reasons"),
}  # fmt: skip
DERIVED_READS: dict[str, tuple[str, ...]] = {
    "articles": ("articles", "sentences", "quotes"),
    "sentences": ("articles", "sentences"),
    "quotes": ("articles", "sentences", "quotes", "claims"),
    "claims": claims.DERIVED_READS,
    "speakers": ("speakers", "quotes"),
    "quarantine": (),
    "runs": ("runs", "articles", "quarantine"),
}


def suite_parameters(run_date: dt.date | None = None) -> dict[str, str]:
    """The suites' ``$PARAMETER`` values for a run on ``run_date`` (default today, UTC): the
    date bounds are ingest's own (ingest.plausible_date), so the two cannot disagree."""
    return {
        "earliest_published_date": ingest.EARLIEST_PUBLISHED_DATE.isoformat(),
        "latest_published_date": ingest.latest_published_date(run_date).isoformat(),
    }


class SuiteError(ValueError):
    """An expectation suite file that GE does not load in full."""


@dataclass(frozen=True)
class CheckResult:
    """One expectation (or Arrow schema check) on one table."""

    check: str  # "expect_column_values_to_be_in_set(speaker_id)", "arrow_schema(confidence)"
    success: bool
    severity: str = "critical"  # or "warning", "info"
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)  # up to 5 offending values or row keys
    observed: Any = None
    error: str | None = None  # the check could not run (missing column, exception in GE)


@dataclass(frozen=True)
class TableReport:
    table: str
    success: bool
    n_rows: int
    checks: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity == "critical"]


@dataclass(frozen=True)
class ValidationReport:
    success: bool
    failed: list[str]  # "quotes: expect_column_values_to_be_in_set(speaker_id)"
    results: dict[str, TableReport]
    docs_path: str | None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (for a Prefect artifact or a file)."""
        return json.loads(json.dumps(asdict(self), default=str))

    def summary(self) -> str:
        """A short Markdown summary: one line a table, then every failure with examples."""
        lines = [f"**validation {'passed' if self.success else 'FAILED'}** ({self.seconds:.1f} s)"]
        for name, table in self.results.items():
            bad = len(table.failed)
            lines.append(f"- {name}: {table.n_rows} rows, {len(table.checks)} checks, {bad} failed")
        for name, table in self.results.items():
            for c in table.checks:
                if not c.success:
                    what = c.error or f"{c.unexpected_count} unexpected; e.g. {c.examples[:3]}"
                    lines.append(f"  - [{c.severity}] {name}: {c.check}: {what}")
        lines.extend(
            f"  - [critical] {f}" for f in self.failed if f.split(":")[0] not in self.results
        )
        if self.docs_path:
            lines.append(f"Data Docs: {self.docs_path}")
        return "\n".join(lines)


# --- suites --------------------------------------------------------------------------------


def registry_values() -> dict[str, Any]:
    """What a suite's ``{"$REGISTRY": key}`` stands for: the registry in use's speaker ids,
    their count and its hash (no suite names a speaker)."""
    registry = load_registry()
    return {
        "speaker_ids": list(registry.speaker_ids),
        "n_speakers": len(registry.speaker_ids),
        "registry_hash": [registry.digest],
    }


def _fill_registry(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$REGISTRY"}:
            key = value["$REGISTRY"]
            if key not in values:
                raise SuiteError(f"unknown $REGISTRY value {key!r}; known: {sorted(values)}")
            return values[key]
        return {k: _fill_registry(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_registry(v, values) for v in value]
    return value


def read_suite_json(name: str, suites_dir: Path | None = None) -> dict[str, Any]:
    """A suite as JSON, its ``$REGISTRY`` values filled in from the registry in use."""
    path = (suites_dir or SUITES_DIR) / f"{name}.json"
    with open(path, encoding="utf-8") as fh:
        suite = json.load(fh)
    if suite.get("name") != name:
        raise SuiteError(f"{path}: suite name {suite.get('name')!r} is not {name!r}")
    return _fill_registry(suite, registry_values())


def load_suite(name: str, suites_dir: Path | None = None) -> Any:
    """The GE ``ExpectationSuite`` for one table; raise if GE dropped any expectation.

    GE 1.x logs and skips an expectation it cannot build (unknown type, bad kwargs), so a
    typo in the JSON would silently weaken the contract: compare the counts.
    """
    import great_expectations as gx

    raw = read_suite_json(name, suites_dir)
    suite = gx.ExpectationSuite(name=raw["name"], expectations=raw["expectations"])
    if len(suite.expectations) != len(raw["expectations"]):
        loaded = {e.expectation_type for e in suite.expectations}
        missing = [e["type"] for e in raw["expectations"] if e["type"] not in loaded]
        raise SuiteError(
            f"{name}.json: GE loaded {len(suite.expectations)} of {len(raw['expectations'])} "
            f"expectations (not loaded, among: {missing})"
        )
    return suite


# --- layer 1: Arrow schema -----------------------------------------------------------------


def _schema_checks(name: str, actual: pa.Schema) -> list[CheckResult]:
    """Names, order and exact types against the declared schema (nullability is GE's job)."""
    expected = SCHEMAS[name]
    checks = []
    if actual.names != expected.names:
        checks.append(
            CheckResult(
                "arrow_schema(columns)",
                False,
                observed=actual.names,
                error=f"columns {actual.names} != declared {expected.names}",
            )
        )
    for f in expected:
        i = actual.get_field_index(f.name)
        if i >= 0 and not actual.field(i).type.equals(f.type):
            checks.append(
                CheckResult(
                    f"arrow_schema({f.name})",
                    False,
                    observed=str(actual.field(i).type),
                    error=f"type {actual.field(i).type} != declared {f.type}",
                )
            )
    if not checks:
        checks.append(CheckResult("arrow_schema", True))
    return checks


# The frame GE validates holds every column but the long texts (and the nested dropped
# spans): a year of news does not fit in a pandas frame in bounded memory. What the suites
# would check on them (non-null, length, the offset identity) is in derived columns computed
# over each batch, where the text is in memory (``chk_n_chars``, ``chk_offset``,
# ``chk_dropped_spans``), and their Arrow type in the schema check.
FRAME_DROPS: dict[str, tuple[str, ...]] = {
    "articles": ("text", "dropped_spans"),  # a list of structs: a Python object a row
    "sentences": ("text",),
}
FRAME_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c for c in schema.names if c not in FRAME_DROPS.get(name, ()))
    for name, schema in SCHEMAS.items()
}
# Tables whose derived checks read only the batch they come from (an article's sentences and
# quotations are always in its batch): computed per batch by :func:`batch_checks`.
BATCH_CHECKED: tuple[str, ...] = ("articles", "sentences", "quotes")


# Columns of a frame that repeat a few values over many rows: kept dictionary-encoded while
# a run collects its batches' frames (~16 bytes a sentence less), decoded chunk by chunk for GE.
FRAME_DICTIONARY: dict[str, tuple[str, ...]] = {
    "articles": ("input_path", "encoding", "content_type", "date_origin"),
    "sentences": ("article_id", "field"),
}


def frame(name: str, table: pa.Table) -> pa.Table:
    """The columns of ``table`` that the suite of ``name`` validates (see FRAME_DROPS), the
    repetitive ones dictionary-encoded (FRAME_DICTIONARY)."""
    if not FRAME_DROPS.get(name):
        return table
    table = table.select(list(FRAME_COLUMNS[name]))
    for column in FRAME_DICTIONARY.get(name, ()):
        i = table.schema.get_field_index(column)
        if i >= 0 and pa.types.is_string(table.schema.field(i).type):
            encoded = table.column(i).dictionary_encode()
            table = table.set_column(i, table.schema.field(i).with_type(encoded.type), encoded)
    return table


def _decoded(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary-encoded columns as plain values (what GE should see)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            plain = table.column(i).cast(f.type.value_type)
            table = table.set_column(i, f.with_type(f.type.value_type), plain)
    return table


def _has_columns(table: pa.Table | None, name: str) -> TypeGuard[pa.Table]:
    return table is not None and set(FRAME_COLUMNS[name]) <= set(table.column_names)


# --- layer 2: derived check columns --------------------------------------------------------

# The checks of articles, sentences and quotes run once a batch, over its Arrow columns with
# pyarrow.compute and numpy: DuckDB, which the other tables' checks use, costs ~10 ms of CPU a
# connection, and its code-point ``substring`` scans the article from its start for each
# sentence. They keep SQL's nulls, as the DuckDB checks do: a comparison with a null fails
# (``coalesce(..., false)``) and a null key matches nothing; a value read through an article's
# id is the first non-null one among the rows with that id (``any_value``), should ids repeat.


def _true(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean as numpy, null as False: a check that cannot tell fails."""
    return np.asarray(mask.fill_null(False), dtype=bool)


def _ints(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """An integer column as int64 (nulls as 0, and no overflow in offset arithmetic), and
    where it is not null."""
    return np.asarray(column.fill_null(0), dtype=np.int64), np.asarray(column.is_valid())


def _exists(ids: pa.ChunkedArray, keys: pa.ChunkedArray) -> np.ndarray:
    """Whether each of ``ids`` is among ``keys`` (a null one is not)."""
    return np.asarray(pc.is_in(ids, value_set=keys, skip_nulls=True))


def _first_rows(table: pa.Table, column: str, ids: pa.ChunkedArray) -> np.ndarray:
    """For each of ``ids``, the first row of ``table`` with that ``article_id`` and a non-null
    ``column`` (``any_value``), or -1."""
    valid = table[column].is_valid()
    found = pc.index_in(ids, value_set=table["article_id"].filter(valid), skip_nulls=True)
    # Not found (-1) picks the -1 appended.
    return np.append(np.flatnonzero(valid), -1)[np.asarray(found.fill_null(-1))]


def _take(column: pa.ChunkedArray, rows: np.ndarray) -> pa.ChunkedArray:
    """``column[rows]``, null where a row is -1."""
    return column.take(pa.array(rows, mask=rows < 0))


def _counts(ids: pa.ChunkedArray, refs: pa.ChunkedArray) -> pa.Array:
    """For each of ``ids``, how many of ``refs`` are equal to it (a null one: none)."""
    first = np.asarray(pc.index_in(ids, value_set=ids, skip_nulls=True).fill_null(-1))
    hits = np.asarray(pc.index_in(refs, value_set=ids, skip_nulls=True).drop_null())
    return pa.array(np.append(np.bincount(hits, minlength=len(ids)), 0)[first])


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """An integer per distinct value of ``column``, nulls sharing one: a grouping key."""
    return np.asarray(pc.index_in(column, value_set=column))


def _fields(articles: pa.Table) -> pa.ChunkedArray:
    """Every article's ``text``, then every article's ``title``: the strings spans index,
    by the rows :func:`_field_rows` gives (without a copy)."""
    return pa.chunked_array([*articles["text"].chunks, *articles["title"].chunks], pa.string())


def _field_rows(articles: pa.Table, ids: pa.ChunkedArray, field: pa.ChunkedArray) -> np.ndarray:
    """For each span, the row in :func:`_fields` of its ``field`` of article ``ids``, or -1
    (no such article or field)."""
    rows = np.full(len(ids), -1)
    for k, name in enumerate(("text", "title")):
        found = _first_rows(articles, name, ids)
        here = _true(pc.equal(field, name)) & (found >= 0)
        rows[here] = found[here] + k * articles.num_rows
    return rows


def _utf8(strings: pa.ChunkedArray, rows: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The UTF-8 bytes of ``strings[rows]`` (ascending rows, of non-null strings) back to
    back, and the ``len(rows) + 1`` bounds of each in them. Taken chunk by chunk:
    ``ChunkedArray.take`` of strings first copies all the chunks into one."""
    parts = [pa.array([], pa.large_string())]
    first = 0
    for chunk in strings.chunks:
        lo, hi = np.searchsorted(rows, [first, first + len(chunk)])
        parts.append(chunk.take(rows[lo:hi] - first).cast(pa.large_string()))  # 64-bit offsets
        first += len(chunk)
    taken = pa.concat_arrays(parts)
    _, offsets, data = taken.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[taken.offset : taken.offset + len(taken) + 1]
    return (data.to_pybytes() if data is not None else b""), bounds


# Fields :func:`_spans_match` indexes at a time: the index costs 8 bytes a character, and a
# round of 256 fields keeps it to a few MB (a batch's 2000 fields at once added ~30 MB to the
# peak of a worker; the same CPU).
_SPAN_FIELDS_AT_ONCE = 256


def _spans_match(
    fields: pa.ChunkedArray,
    rows: np.ndarray,
    start: pa.ChunkedArray,
    end: pa.ChunkedArray,
    text: pa.ChunkedArray,
) -> np.ndarray:
    """For each span, whether it is non-empty and ``fields[row][start:end] == text`` (row
    -1: no field, False). Offsets count code points, as Python's ``str`` does.

    Compared in UTF-8, without decoding the texts (decoding a batch's ~12 MB of article and
    sentence text costs more than the rest of the checks): a code point offset into a field
    becomes a byte offset through the positions of the code points' first bytes (all but
    0b10xxxxxx). A ``text`` of ``end - start`` code points whose bytes are found there, in a
    field at least ``end`` long, is the field's slice.
    """
    s, has_start = _ints(start)
    e, has_end = _ints(end)
    n_chars, has_text = _ints(pc.utf8_length(text))
    spans = np.flatnonzero(
        (rows >= 0) & has_start & has_end & has_text & (s >= 0) & (e > s) & (n_chars == e - s)
    )
    used, local = np.unique(rows[spans], return_inverse=True)
    match = np.zeros(len(rows), dtype=bool)
    for lo in range(0, len(used), _SPAN_FIELDS_AT_ONCE):
        data, bounds = _utf8(fields, used[lo : lo + _SPAN_FIELDS_AT_ONCE])
        char_at = np.flatnonzero(np.frombuffer(data, dtype=np.int8) >= -64)  # 0b10xxxxxx < -64
        first_char = np.searchsorted(char_at, bounds)  # of each field
        in_round = (local >= lo) & (local < lo + _SPAN_FIELDS_AT_ONCE)
        of = local[in_round] - lo  # the span's field among those taken
        fits = e[spans[in_round]] <= first_char[of + 1] - first_char[of]
        checked = spans[in_round][fits]
        at = char_at[first_char[of[fits]] + s[checked]]
        said, said_bounds = _utf8(text, checked)
        view = memoryview(said)
        match[checked] = [
            data.startswith(view[a:b], byte)
            for byte, a, b in zip(
                at.tolist(), said_bounds[:-1].tolist(), said_bounds[1:].tolist(), strict=True
            )
        ]
    return match


def _in_order(sentences: pa.Table) -> np.ndarray:
    """Whether each sentence starts at or after the end of the one before it, by
    ``sentence_index``, in its article and field (true for the first, or when an offset is
    null). Null indexes sort last; a repeated index (which the suite's uniqueness check
    flags) keeps row order."""
    article, field = _codes(sentences["article_id"]), _codes(sentences["field"])
    index, has_index = _ints(sentences["sentence_index"])
    start, has_start = _ints(sentences["char_start"])
    end, has_end = _ints(sentences["char_end"])
    order = np.lexsort((index, ~has_index, field, article))
    before, after = order[:-1], order[1:]
    ok = np.ones(sentences.num_rows, dtype=bool)
    ok[after] = (
        (article[before] != article[after])
        | (field[before] != field[after])
        | ~has_end[before]
        | ~has_start[after]
        | (end[before] <= start[after])
    )
    return ok


def _in_sentence(quotes: pa.Table, sentences: pa.Table) -> np.ndarray:
    """Whether each quotation starts inside its sentence and in its field. A sentence (rows
    of one article_id and sentence_index: several if the index repeats) spans from its
    first start to its last end, in the field of its first row that has one."""
    columns = ["article_id", "sentence_index", "field", "char_start", "char_end"]
    quoted = pc.is_in(sentences["article_id"], value_set=quotes["article_id"], skip_nulls=True)
    rows: dict[tuple[str, int], list[tuple[str | None, int | None, int | None]]] = defaultdict(list)
    for article_id, index, where, start, end in zip(
        *sentences.select(columns).filter(quoted).to_pydict().values(), strict=True
    ):
        if index is not None:
            rows[article_id, index].append((where, start, end))
    ok = []
    for article_id, index, where, start in zip(
        *quotes.select(columns[:4]).to_pydict().values(), strict=True
    ):
        sentence = rows.get((article_id, index), [])
        fields = [f for f, _, _ in sentence if f is not None]
        starts = [s for _, s, _ in sentence if s is not None]
        ends = [e for _, _, e in sentence if e is not None]
        ok.append(
            bool(fields and starts and ends)
            and fields[0] == where
            and start is not None
            and min(starts) <= start < max(ends)
        )
    return np.array(ok, dtype=bool)


def _dropped_spans_ok(articles: pa.Table, lengths: Mapping[str, pa.ChunkedArray]) -> np.ndarray:
    """Whether every dropped span of an article is non-empty and inside its field ('text' or
    'title', whose ``lengths`` are given); a null list is not fine, an empty one is."""
    lists = articles["dropped_spans"].combine_chunks()
    spans = pc.list_flatten(lists)
    article = np.asarray(pc.list_parent_indices(lists))
    start, has_start = _ints(pc.struct_field(spans, "start"))
    end, has_end = _ints(pc.struct_field(spans, "end"))
    field = pc.struct_field(spans, "field")
    inside = np.zeros(len(spans), dtype=bool)
    for name, length in lengths.items():
        n_chars, has_field = _ints(length)
        inside |= _true(pc.equal(field, name)) & has_field[article] & (end <= n_chars[article])
    ok = np.asarray(spans.is_valid()) & has_start & has_end & (start >= 0) & (end > start) & inside
    return np.asarray(lists.is_valid()) & (np.bincount(article[~ok], minlength=len(lists)) == 0)


_DATE_ORIGINS = pa.array(["record", "text"])


def _article_checks(tables: Mapping[str, pa.Table]) -> dict[str, np.ndarray]:
    """``n_chars`` is the text's length; ``date_origin`` is "record" or "text" exactly when
    the date is set (a null date may say why: ``ingest.RECORD_DATE_REJECTED``);
    dropped spans lie inside their field; ``n_sentences`` and ``n_quotes`` count the
    article's rows."""
    articles = tables["articles"]
    ids = articles["article_id"]
    lengths = {name: pc.utf8_length(articles[name]) for name in ("text", "title")}
    return {
        "chk_n_chars": _true(pc.equal(articles["n_chars"], lengths["text"])),
        "chk_date_origin": np.asarray(articles["published_date"].is_valid())
        == _true(pc.is_in(articles["date_origin"], value_set=_DATE_ORIGINS)),
        "chk_dropped_spans": _dropped_spans_ok(articles, lengths),
        "chk_n_sentences": _true(
            pc.equal(articles["n_sentences"], _counts(ids, tables["sentences"]["article_id"]))
        ),
        "chk_n_quotes": _true(
            pc.equal(articles["n_quotes"], _counts(ids, tables["quotes"]["article_id"]))
        ),
    }


def _sentence_checks(tables: Mapping[str, pa.Table]) -> dict[str, np.ndarray]:
    """The article exists; the text is its field's slice at the offsets; the index is below
    the article's ``n_sentences``; a field's sentences, in index order, do not overlap."""
    articles, sentences = tables["articles"], tables["sentences"]
    ids = sentences["article_id"]
    n_sentences = _take(articles["n_sentences"], _first_rows(articles, "n_sentences", ids))
    return {
        "chk_article_exists": _exists(ids, articles["article_id"]),
        "chk_offset": _spans_match(
            _fields(articles),
            _field_rows(articles, ids, sentences["field"]),
            sentences["char_start"],
            sentences["char_end"],
            sentences["text"],
        ),
        "chk_sentence_index": _true(pc.less(sentences["sentence_index"], n_sentences)),
        "chk_order": _in_order(sentences),
    }


def _quote_checks(tables: Mapping[str, pa.Table]) -> dict[str, np.ndarray]:
    """The article exists and its source and date are the quotation's; the quotation, its
    speaker's mention and its cue (each optional: both offsets null) are their field's
    slices; a speaker has a mention, 'other' has none; it starts inside its sentence."""
    articles, quotes = tables["articles"], tables["quotes"]
    ids = quotes["article_id"]
    fields, rows = _fields(articles), _field_rows(articles, ids, quotes["field"])
    found = _exists(ids, articles["article_id"])

    def span(start: str, end: str, text: str) -> np.ndarray:
        return _spans_match(fields, rows, quotes[start], quotes[end], quotes[text])

    def absent(start: str, end: str) -> np.ndarray:
        return np.asarray(quotes[start].is_null()) & np.asarray(quotes[end].is_null())

    source_name = _take(articles["source_name"], _first_rows(articles, "source_name", ids))
    date = _take(articles["published_date"], _first_rows(articles, "published_date", ids))
    same_date = _true(pc.equal(quotes["published_date"], date)) | (
        np.asarray(quotes["published_date"].is_null()) & np.asarray(date.is_null())
    )
    no_speaker = quotes["speaker_id"].is_null()
    return {
        "chk_article_exists": found,
        "chk_offset": span("char_start", "char_end", "quote_text"),
        "chk_mention_span": absent("mention_start", "mention_end")
        | span("mention_start", "mention_end", "speaker_mention"),
        "chk_cue_span": absent("cue_start", "cue_end") | span("cue_start", "cue_end", "cue"),
        "chk_speaker_mention": np.asarray(no_speaker)
        | np.asarray(quotes["speaker_mention"].is_valid()),
        "chk_other_speaker": _true(
            pc.or_kleene(pc.not_equal(quotes["attribution_method"], "other"), no_speaker)
        ),
        "chk_article_fields": found
        & _true(pc.equal(quotes["source_name"], source_name))
        & same_date,
        "chk_sentence": _in_sentence(quotes, tables["sentences"]),
    }


# Derived checks computed over Arrow columns: each reads the tables DERIVED_READS names and
# gives the table's DERIVED columns, but those of _LATE_SQL.
_ARROW_CHECKS: dict[str, Callable[[Mapping[str, pa.Table]], dict[str, np.ndarray]]] = {
    "articles": _article_checks,
    "sentences": _sentence_checks,
    "quotes": _quote_checks,
}
# The other tables' checks, in DuckDB over the registered Arrow tables (each with ``__row``).
_DERIVED_SQL: dict[str, str] = {
    "claims": claims.DERIVED_SQL,
    "speakers": """
        with nq as (select speaker_id, count(*) as n from quotes
                    where speaker_id is not null group by speaker_id)
        select coalesce(sp.n_quotes = coalesce(nq.n, 0), false) as chk_n_quotes
        from speakers sp left join nq on nq.speaker_id = sp.speaker_id
        order by sp.__row
    """,
    # The accounting identity, and ingest's counts against the published row counts.
    "runs": """
        with qr as (select list({'reason': reason, 'count': n}) as reasons
                    from (select reason, count(*) as n from quarantine group by reason))
        select
            coalesce(r.inputs_seen = r.articles + r.quarantined + r.exact_duplicates
                                     + r.already_published
                     and least(r.articles, r.quarantined, r.exact_duplicates,
                               r.already_published) >= 0, false)
                as chk_identity,
            coalesce(r.articles = (select count(*) from articles), false) as chk_articles,
            coalesce(r.quarantined = (select count(*) from quarantine), false)
                as chk_quarantined,
            coalesce(list_sort(r.quarantined_by_reason)
                     = list_sort(coalesce(qr.reasons, [])), false) as chk_quarantine_reasons
        from runs r, qr
        order by r.__row
    """,
}


def _roles_ok(roles: list[dict[str, Any]] | None) -> bool:
    """Every office is fm/dm of a lower-case ISO country, and ends after it starts."""
    if not roles:
        return False
    return all(
        r["role"] in ("fm", "dm")
        and isinstance(r["country"], str)
        and len(r["country"]) == 2
        and r["country"].islower()
        and r["start"] is not None
        and (r["end"] is None or r["end"] > r["start"])
        for r in roles
    )


def _variants_ok(variants: list[str] | None, name_ar: str | None) -> bool:
    if not variants:
        return False
    return all(variants) and name_ar in variants


def _with_row(table: pa.Table) -> pa.Table:
    return table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))


# Derived columns known only once the run is whole, each computed alone: a quotation's claim
# (claims are built at the end of a run), so batches leave it out. table -> column -> (its
# SQL, the tables it reads).
_LATE_SQL: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "quotes": {claims.QUOTES_CHECK_COLUMN: (claims.QUOTES_CHECK_SQL, ("quotes", "claims"))},
}


class _DuckDB:
    """A DuckDB connection opened on first use: opening one costs ~10 ms of CPU, which a
    batch (whose checks are all over Arrow columns) does not pay."""

    def __init__(self) -> None:
        self._con: Any = None

    def query(
        self, sql: str, sources: Mapping[str, pa.Table], problems: list[str]
    ) -> dict[str, np.ndarray]:
        """The boolean columns ``sql`` selects over ``sources`` (registered by name, each
        with ``__row``); a DuckDB error goes to ``problems`` (and no column comes back, so
        the checks fail closed)."""
        import duckdb

        if self._con is None:
            self._con = duckdb.connect()
            self._con.execute("set preserve_insertion_order = true")
        for name, table in sources.items():
            self._con.register(name, _with_row(table))
        try:
            result = self._con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
            return {}
        return {
            c: result.column(c).to_numpy(zero_copy_only=False).astype(bool)
            for c in result.column_names
        }

    def close(self) -> None:
        if self._con is not None:
            self._con.close()


def _arrow_checks(
    name: str, sources: Mapping[str, pa.Table], problems: list[str]
) -> dict[str, np.ndarray]:
    """:data:`_ARROW_CHECKS` of table ``name``; a column missing or of a type the checks
    cannot read goes to ``problems`` (and no column comes back, so the checks fail closed)."""
    try:
        return _ARROW_CHECKS[name](sources)
    except (KeyError, TypeError, ValueError, pa.ArrowException) as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
        return {}


def _derive(
    tables: Mapping[str, pa.Table],
    lookups: Mapping[str, pa.Table] | None = None,
    *,
    batch: bool = False,
    precomputed: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, list[str]]]:
    """Derived check columns per table, and per table what could not be computed and why.

    ``lookups`` are whole tables that a table's checks read in place of the validated ones
    when they look *into another* table (an incremental run validates its new quotes, but
    claims and speaker counts are checked against every quotation). ``batch``: only the
    tables of BATCH_CHECKED, without the columns of ``_LATE_SQL``. ``precomputed``: columns
    computed over the batches (:func:`batch_checks`); of those tables only the columns
    missing from it are computed, where ``_LATE_SQL`` can.
    """
    lookups = lookups or {}
    precomputed = precomputed or {}
    out: dict[str, dict[str, np.ndarray]] = {}
    problems: dict[str, list[str]] = {name: [] for name in TABLE_NAMES}
    duckdb = _DuckDB()
    try:
        for name, columns in DERIVED.items():
            if batch and name not in BATCH_CHECKED:
                continue
            late = {} if batch else _LATE_SQL.get(name, {})
            sources = {
                t: lookups[t] if t != name and t in lookups else tables.get(t)
                for t in DERIVED_READS[name]
            }
            unreadable = [t for t, table in sources.items() if not _has_columns(table, t)]
            values: dict[str, np.ndarray] = {}
            if name in precomputed:
                values.update(precomputed[name])
                for column in columns:
                    if column in values:
                        continue
                    sql, reads = late.get(column, (None, ()))
                    if sql is None or any(t in unreadable for t in reads):
                        problems[name].append(f"{column}: not computed over the batches")
                        continue
                    found = duckdb.query(sql, {t: sources[t] for t in reads}, problems[name])
                    values.update(found)
            elif unreadable:
                problems[name].append(f"needs {', '.join(unreadable)} with declared columns")
            elif name in _ARROW_CHECKS:
                values.update(_arrow_checks(name, sources, problems[name]))
                for sql, reads in late.values():
                    values.update(duckdb.query(sql, {t: sources[t] for t in reads}, problems[name]))
            elif name in _DERIVED_SQL:
                values.update(duckdb.query(_DERIVED_SQL[name], sources, problems[name]))
            table = tables.get(name)
            if name == "speakers" and _has_columns(table, "speakers"):
                rows = table.select(["name_ar", "variants", "roles"]).to_pylist()
                values["chk_roles"] = np.array([_roles_ok(r["roles"]) for r in rows], dtype=bool)
                values["chk_variants"] = np.array(
                    [_variants_ok(r["variants"], r["name_ar"]) for r in rows], dtype=bool
                )
            n = table.num_rows if table is not None else 0
            # Fail closed: a check that could not look must not vouch for the data.
            out[name] = {
                c: values.get(c, np.zeros(n, dtype=bool))
                for c in columns
                if not batch or c not in _LATE_SQL.get(name, {})
            }
    finally:
        duckdb.close()
    return out, problems


def batch_checks(
    tables: Mapping[str, pa.Table],
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, list[str]]]:
    """The derived checks of one batch's tables that read only the batch (BATCH_CHECKED),
    and what could not be computed. A quotation's claim is checked at the end of the run."""
    values, problems = _derive(tables, batch=True)
    return values, {name: problems[name] for name in BATCH_CHECKED if problems[name]}


# --- per article: the suites' row-level expectations over one batch -------------------------

# Expectation types that judge each row on its own, evaluated per batch by
# :func:`failed_articles` from the suites' JSON (no second copy of the rules): an article whose
# own rows fail one (critical, without ``mostly``) is quarantined instead of failing the run.
# Whole-table types (uniqueness, columns, row counts) and the column types stay GE's alone.
ROW_LEVEL_TYPES: frozenset[str] = frozenset(
    (
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
        "expect_column_value_lengths_to_be_between",
        "expect_column_pair_values_a_to_be_greater_than_b",
    )
)
# Tables whose rows all belong to one article of the batch (by ``article_id``).
PER_ARTICLE: tuple[str, ...] = BATCH_CHECKED


def row_expectations(name: str) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """``(label, type, kwargs)`` of the critical row-level expectations of the suite of
    ``name`` (label as in a report: ``type(column)``), for the registry in use."""
    return _row_expectations(name, registry_in_use())


@cache
def _row_expectations(name: str, registry: str) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    out = []
    for raw in read_suite_json(name)["expectations"]:
        kwargs = raw["kwargs"]
        critical = raw.get("severity", "critical") == "critical"
        if raw["type"] in ROW_LEVEL_TYPES and critical and "mostly" not in kwargs:
            out.append((expectation_label(raw["type"], kwargs), raw["type"], kwargs))
    return tuple(out)


def _bound(value: Any, type_: pa.DataType, parameters: Mapping[str, Any]) -> pa.Scalar | None:
    """A suite's bound (a literal or a ``$PARAMETER``) as a scalar of the column's type."""
    if isinstance(value, dict):
        value = parameters[value["$PARAMETER"]]
    if value is None:
        return None
    if pa.types.is_date(type_) and isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return pa.scalar(value).cast(type_)


def _within(
    values: pa.ChunkedArray | pa.Array, kwargs: Mapping[str, Any], parameters: Mapping[str, Any]
) -> pa.ChunkedArray | pa.Array:
    """Whether each value is between the expectation's bounds (inclusive unless strict)."""
    ok = pc.is_valid(values)
    for key, strict, above, at_least in (
        ("min_value", "strict_min", pc.greater, pc.greater_equal),
        ("max_value", "strict_max", pc.less, pc.less_equal),
    ):
        bound = _bound(kwargs.get(key), values.type, parameters)
        if bound is not None:
            ok = pc.and_(ok, (above if kwargs.get(strict) else at_least)(values, bound))
    return ok


def _failing_rows(
    kind: str,
    kwargs: Mapping[str, Any],
    column: Any,
    parameters: Mapping[str, Any],
) -> np.ndarray:
    """Rows of one column (two for a pair) that break a row-level expectation, as GE judges
    them: a null passes every type but ``not_be_null`` (and a pair's, per ignore_row_if)."""
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = column
        compare = pc.greater_equal if kwargs.get("or_equal") else pc.greater
        ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
        missing_a, missing_b = np.asarray(a.is_null()), np.asarray(b.is_null())
        skipped = {
            "both_values_are_missing": missing_a & missing_b,
            "either_value_is_missing": missing_a | missing_b,
        }.get(ignore, np.zeros(len(a), dtype=bool))
        return ~skipped & ~_true(compare(a, b))
    if isinstance(column, np.ndarray):  # a derived chk_* column: booleans, never null
        if kind == "expect_column_values_to_be_in_set":
            return ~np.isin(column, kwargs["value_set"])
        column = pa.array(column)
    if kind == "expect_column_values_to_not_be_null":
        return np.asarray(column.is_null())
    present = np.asarray(column.is_valid())
    if kind == "expect_column_values_to_be_in_set":
        value_set = pa.array(kwargs["value_set"]).cast(column.type)
        ok = pc.is_in(column, value_set=value_set)
    elif kind == "expect_column_values_to_be_between":
        ok = _within(column, kwargs, parameters)
    elif kind == "expect_column_values_to_match_regex":
        ok = pc.match_substring_regex(column, kwargs["regex"])
    else:  # expect_column_value_lengths_to_be_between
        ok = _within(pc.utf8_length(column), kwargs, parameters)
    return present & ~_true(ok)


def failed_articles(
    tables: Mapping[str, pa.Table],
    checks: Mapping[str, Mapping[str, np.ndarray]],
    parameters: Mapping[str, Any],
) -> dict[str, list[str]]:
    """``{article_id: ["table: expectation(column)", ...]}`` for the articles of one batch
    whose own rows (in articles, sentences, quotes, with their derived ``checks``) break a
    critical row-level expectation of the suites, evaluated over the Arrow columns. A row
    whose article is not in the batch's ``articles`` is left to GE (the program is wrong)."""
    known = tables["articles"]["article_id"]
    failed: dict[str, list[str]] = {}
    for name in PER_ARTICLE:
        table = tables[name]
        if not table.num_rows:
            continue
        columns: dict[str, Any] = {c: table[c] for c in table.column_names}
        columns.update(checks.get(name, {}))
        for label, kind, kwargs in row_expectations(name):
            if "column" in kwargs:
                values = columns.get(kwargs["column"])
            else:
                values = (columns.get(kwargs["column_A"]), columns.get(kwargs["column_B"]))
            if values is None or (isinstance(values, tuple) and None in values):
                continue  # a column computed later (a quotation's claim): GE checks it
            bad = _failing_rows(kind, kwargs, values, parameters)
            if not bad.any():
                continue
            ids = pc.unique(table["article_id"].filter(pa.array(bad)))
            for article_id in pc.filter(ids, pc.is_in(ids, value_set=known)).to_pylist():
                failed.setdefault(article_id, []).append(f"{name}: {label}")
    return failed


def derive_check_columns(
    tables: Mapping[str, pa.Table], lookups: Mapping[str, pa.Table] | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """``{table: {chk_column: bool array}}``, one value per row, in row order.

    A check whose input table is missing (or lacks declared columns, or makes DuckDB fail)
    is all False: a check that could not look must not vouch for the data. ``lookups``: see
    :func:`_derive`.
    """
    return _derive(tables, lookups)[0]


# --- layer 3: Great Expectations -----------------------------------------------------------


def _to_frame(table: pa.Table, derived: Mapping[str, np.ndarray]) -> Any:
    """pandas frame for GE: ints keep their width, dates stay datetime.date.

    An integer or boolean column without nulls becomes a numpy column of its width, one with
    nulls pandas' nullable type of that width (numpy would make it float). GE compares numpy
    columns vectorised; on nullable ones, ``expect_column_values_to_be_between`` calls a
    Python function per value (~0.5 s a million rows)."""
    import pandas as pd

    ints = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    frame = table.to_pandas(date_as_object=True)
    for name, column in zip(table.column_names, table.columns, strict=True):
        if column.null_count and column.type in ints:
            frame[name] = column.to_pandas(types_mapper=ints.get)
    for column, values in derived.items():
        frame[column] = values
    return frame


def _plain(value: Any) -> Any:
    """numpy scalars and containers to plain Python (for JSON and readable messages)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def expectation_label(type_: str, kwargs: Mapping[str, Any]) -> str:
    """An expectation as reports and quarantine details name it: ``type(columns)``."""
    if "column" in kwargs:
        args = kwargs["column"]
    elif "column_A" in kwargs:
        args = f"{kwargs['column_A']}, {kwargs['column_B']}"
    elif "column_list" in kwargs and not type_.startswith("expect_table_"):
        args = ", ".join(kwargs["column_list"])
    else:
        args = ""
    return f"{type_}({args})"


def _check_name(config: Any) -> str:
    return expectation_label(config.type, config.kwargs)


def _ge_check(result: Any) -> CheckResult:
    config = result.expectation_config
    info = result.exception_info or {}
    errors = [
        str(v.get("exception_message"))
        for v in (info.values() if isinstance(info, dict) else [])
        if isinstance(v, dict) and v.get("raised_exception")
    ]
    if isinstance(info, dict) and info.get("raised_exception"):
        errors.append(str(info.get("exception_message")))
    res = result.result or {}
    examples = res.get("partial_unexpected_index_list") or res.get("partial_unexpected_list") or []
    severity = getattr(config, "severity", "critical")
    return CheckResult(
        check=_check_name(config),
        success=bool(result.success),
        severity=str(getattr(severity, "value", severity)),
        unexpected_count=res.get("unexpected_count"),
        unexpected_percent=res.get("unexpected_percent"),
        examples=_plain(list(examples)[:5]),
        observed=_plain(res.get("observed_value")),
        error="; ".join(errors) or None,
    )


def _context(docs_dir: str | None) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir is not None:
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(Path(docs_dir).resolve()),
            },
            # Views that escape every value from the data (GE writes them raw): datadocs.py.
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "view": {"module_name": DOCS_VIEWS, "class_name": "EscapingIndexPageView"},
            },
            "site_section_builders": {
                section: {"view": {"module_name": DOCS_VIEWS, "class_name": "EscapingPageView"}}
                for section in ("expectations", "validations", "profiling")
            },
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


# GE works on a pandas copy of the frame, with temporaries several times its size: the
# sentences table (ten rows an article) is validated in chunks of whole articles, so the peak
# memory of validation does not grow with the run (the frames themselves are ~30 bytes a
# sentence). Other tables are validated whole (article ids must be unique across the run).
# A chunk costs GE ~0.3 s on top of its rows: over 1.13 M sentences (123k articles), chunks of
# 250k rows took 4.8 s of CPU to validate, of 600k 3.8 s (+50 MB at the peak, which comes after
# the workers have exited), of 1.2 M also 3.8 s (+80 MB).
CHUNK_ROWS = 600_000
CHUNKED: tuple[str, ...] = ("sentences",)


def chunk_bounds(table: pa.Table, rows: int | None = None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``table``, each about ``rows`` long (CHUNK_ROWS), cut
    only where ``article_id`` changes: an article's rows (contiguous, as batches write them)
    stay in one chunk, so per-article checks (unique sentence indexes) see them together."""
    rows = rows or CHUNK_ROWS
    n = table.num_rows
    if n <= rows or "article_id" not in table.column_names:
        return [(0, n)]
    ids = table.column("article_id")
    bounds: list[tuple[int, int]] = []
    start = 0
    while n - start > rows:
        cut = start + rows
        while cut < n and ids[cut].as_py() == ids[cut - 1].as_py():
            cut += 1
        bounds.append((start, cut))
        start = cut
    if start < n:
        bounds.append((start, n))
    return bounds


def _merge_chunks(chunks: list[list[CheckResult]]) -> list[CheckResult]:
    """One result per expectation over the chunks of a table: failed if any chunk failed,
    unexpected counts added up, the first examples kept."""
    if len(chunks) == 1:
        return chunks[0]
    merged: list[CheckResult] = []
    for results in zip(*chunks, strict=True):
        first = results[0]
        counts = [r.unexpected_count for r in results if r.unexpected_count is not None]
        examples = [e for r in results for e in r.examples][:5]
        errors = "; ".join(dict.fromkeys(r.error for r in results if r.error)) or None
        merged.append(
            CheckResult(
                check=first.check,
                success=all(r.success for r in results),
                severity=first.severity,
                unexpected_count=sum(counts) if counts else None,
                unexpected_percent=None if counts else first.unexpected_percent,
                examples=examples,
                observed=next((r.observed for r in results if not r.success), first.observed),
                error=errors,
            )
        )
    return merged


def prewarm() -> None:
    """Import what validation needs and build a throwaway context (Great Expectations takes
    ~3 s to import), so that a run can pay for it while its batches are being analysed
    rather than after. Errors are left for :func:`validate_tables` to raise."""
    try:
        import duckdb  # noqa: F401
        import pandas  # noqa: F401

        _context(None)
    except Exception:  # reported by validate_tables, where they matter
        logger.debug("validation prewarm failed", exc_info=True)


def _labels(results: Mapping[str, TableReport], *, critical: bool) -> list[str]:
    """'table: check' for each failed check of the given kind (critical, or warning/info)."""
    return [
        f"{name}: {c.check}"
        for name, report in results.items()
        for c in report.checks
        if not c.success and (c.severity == "critical") == critical
    ]


def validate_tables(
    tables: dict[str, pa.Table],
    docs_dir: str | None,
    *,
    suites_dir: str | Path | None = None,
    today: dt.date | None = None,
    lookups: Mapping[str, pa.Table] | None = None,
    precomputed: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    problems: Mapping[str, list[str]] | None = None,
    schemas: Mapping[str, list[pa.Schema]] | None = None,
) -> ValidationReport:
    """Validate the seven tables; build Data Docs under ``docs_dir`` when it is given.

    ``today`` is the run's date (default today, UTC): ``published_date`` is bounded as ingest
    bounds it (:func:`suite_parameters`). ``lookups`` are whole tables that checks of
    *other* tables read instead of the validated ones (an incremental run validates its new
    quotes, while claims and speaker counts are checked against all of them).

    ``articles`` and ``sentences`` may be given as their validation frames (:func:`frame`,
    no ``text``) with their derived checks ``precomputed`` over the batches
    (:func:`batch_checks`; ``problems``: what a batch could not compute) and ``schemas``,
    the Arrow schemas the tables were built in, for the schema check.
    """
    started = time.perf_counter()
    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    suites_path = Path(suites_dir) if suites_dir is not None else None
    unknown = sorted(set(tables) - set(TABLE_NAMES))
    parameters = suite_parameters(today)
    context = _context(docs_dir)
    data_source = context.data_sources.add_pandas("isnad")
    derived, derive_problems = _derive(tables, lookups, precomputed=precomputed)
    documented: list[Any] = []  # Data Docs pages to build: suites and validation results
    for name, items in (problems or {}).items():
        derive_problems[name].extend(items)

    results: dict[str, TableReport] = {}
    for name in TABLE_NAMES:
        table = tables.get(name)
        suite = context.suites.add(load_suite(name, suites_path))
        if table is None:
            missing = CheckResult("table_present", False, error="table not given")
            results[name] = TableReport(name, False, 0, [missing])
            continue
        built = (schemas or {}).get(name) or [table.schema]
        checks = [c for schema in built for c in _schema_checks(name, schema)]
        if len(built) > 1:
            checks = [c for c in checks if not c.success] or checks[:1]
        checks.extend(
            CheckResult("derived_checks", False, error=problem) for problem in derive_problems[name]
        )
        data_table = frame(name, table)
        batch = data_source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        keys = [k for k in ROW_KEYS[name] if k in data_table.column_names]
        documented.append(ExpectationSuiteIdentifier(name=suite.name))
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"isnad-{name}",
                validation_definitions=[definition],
                result_format={
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": 5,
                    "unexpected_index_column_names": keys,
                },
            )
        )
        chunk_checks: list[list[CheckResult]] = []
        bounds = chunk_bounds(data_table) if name in CHUNKED else [(0, data_table.num_rows)]
        for start, stop in bounds:
            data = _to_frame(
                _decoded(data_table.slice(start, stop - start)),
                {c: v[start:stop] for c, v in derived[name].items()},
            )
            outcome = checkpoint.run(
                batch_parameters={"dataframe": data}, expectation_parameters=parameters
            )
            del data
            for key, run_result in outcome.run_results.items():
                chunk_checks.append([_ge_check(r) for r in run_result.results])
                documented.append(key)
        checks.extend(_merge_chunks(chunk_checks))
        critical = [c for c in checks if not c.success and c.severity == "critical"]
        results[name] = TableReport(name, not critical, table.num_rows, checks)

    failed = _labels(results, critical=True) + [f"{n}: no expectation suite" for n in unknown]
    docs_path = None
    if docs_dir is not None:
        # Once, for every result and suite (a checkpoint's docs action would rebuild the
        # index after each table and each sentences chunk).
        context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=documented)
        index = Path(docs_dir).resolve() / "index.html"
        docs_path = str(index) if index.exists() else None
    report = ValidationReport(
        success=not failed,
        failed=failed,
        results=results,
        docs_path=docs_path,
        warnings=_labels(results, critical=False),
        seconds=time.perf_counter() - started,
    )
    logger.info("validation %s in %.1f s", "passed" if report.success else "failed", report.seconds)
    return report
