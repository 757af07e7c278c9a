"""Turn analysed articles into Arrow tables, in their declared schemas.

The schemas are declared here, in code, with a ``description`` on every field (the data
dictionary is generated from them); every table is built column by column from the frozen
records, never through pandas, because a full run is ~120k articles and a few million
sentences. Writing the tables to disk is ``pipelines.store``'s job (the published,
versioned dataset); this module reads the lexicons and writes nothing (it was ``write.py``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from itertools import accumulate, chain
from operator import attrgetter
from typing import Any

import pyarrow as pa

from pipelines import claims
from pipelines.records import ArticleAnalysis, InputCounts
from pipelines.speakers import Registry, load_registry

# 2: quotes.claim_id and the claims table; 3: runs (was run_summary); 4: the registry's hash
# in runs and speakers, speakers.qid
SCHEMA_VERSION = "4"
TABLE_NAMES: tuple[str, ...] = (
    "articles", "sentences", "quotes", "claims", "speakers", "quarantine", "runs",
)  # fmt: skip
# Keys stamped into the Parquet footer (key/value metadata) of every file.
META_SCHEMA_VERSION = b"isnad.schema_version"
META_TABLE = b"isnad.table"
META_RUN_ID = b"isnad.run_id"


def _field(name: str, type_: pa.DataType, description: str, *, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


DROPPED_SPAN_TYPE = pa.struct(
    [
        _field("field", pa.string(), "'text' or 'title': the article field the span is in."),
        _field("start", pa.int32(), "Start offset (characters, inclusive) into the field."),
        _field("end", pa.int32(), "End offset (characters, exclusive) into the field."),
        _field("reason", pa.string(), "Why it was dropped: comments, furniture_line, repeat, ..."),
    ]
)
REASON_COUNT_TYPE = pa.struct(
    [
        _field("reason", pa.string(), "Quarantine reason code."),
        _field("count", pa.int64(), "Number of quarantine rows with that reason."),
    ]
)
ROLE_TYPE = pa.struct(
    [
        _field("role", pa.string(), "Office: 'fm' (foreign minister) or 'dm' (defence minister)."),
        _field("country", pa.string(), "ISO 3166 alpha-2 code (lower case) of the country."),
        _field("start", pa.date32(), "First day in office."),
        _field(
            "end", pa.date32(), "Last day in office; null while still in office.", nullable=True
        ),
    ]
)

TABLE_ROWS_TYPE = pa.struct(
    [
        _field("table", pa.string(), "Table name."),
        _field("rows", pa.int64(), "Rows in the table after the run."),
        _field(
            "added",
            pa.int64(),
            "Rows the run added (net: claims can shrink when new quotations join two claims).",
        ),
    ]
)

_OFFSET = "offset in characters (Unicode code points, as Python indexes str) into `field`"

SCHEMAS: dict[str, pa.Schema] = {
    "articles": pa.schema(
        [
            _field(
                "article_id", pa.string(), "Stable hash of the article's content (title + text)."
            ),
            _field("source_name", pa.string(), "File name of a .txt input, or the record's id."),
            _field(
                "title",
                pa.string(),
                "Title as read (records with a separate title).",
                nullable=True,
            ),
            _field("text", pa.string(), "Body text exactly as read from disk; offsets index it."),
            _field("published_date", pa.date32(), "Publication date, when known.", nullable=True),
            _field(
                "date_origin",
                pa.string(),
                "Where published_date came from: 'record' or 'text'; 'record_out_of_range' when "
                "the record's date was before 1990 or after the run's date + 1 day (then null).",
                nullable=True,
            ),
            _field(
                "source",
                pa.string(),
                "The newspaper, when the input record names it.",
                nullable=True,
            ),
            _field(
                "url",
                pa.string(),
                "The article's URL, when the input record gives it.",
                nullable=True,
            ),
            _field(
                "input_path",
                pa.string(),
                "Path of the input file the article was read from.",
                nullable=True,
            ),
            _field(
                "encoding",
                pa.string(),
                "Character encoding the input was decoded with.",
                nullable=True,
            ),
            _field(
                "content_type",
                pa.string(),
                "'text', or 'html' when `text` is the plain text extracted from HTML.",
                nullable=True,
            ),
            _field("n_chars", pa.int32(), "Length of `text` in characters."),
            _field(
                "dropped_spans",
                pa.list_(pa.field("item", DROPPED_SPAN_TYPE, nullable=False)),
                "Regions left out of analysis (site furniture, repeated body), with the reason.",
            ),
            _field("n_sentences", pa.int32(), "Number of rows for this article in `sentences`."),
            _field("n_quotes", pa.int32(), "Number of rows for this article in `quotes`."),
        ]
    ),
    "sentences": pa.schema(
        [
            _field("article_id", pa.string(), "The article (articles.article_id)."),
            _field(
                "field", pa.string(), "'text' or 'title': the article field the sentence is in."
            ),
            _field("sentence_index", pa.int32(), "Running index over the article, title first."),
            _field("paragraph_index", pa.int32(), "Index of the paragraph holding the sentence."),
            _field("char_start", pa.int32(), f"Start {_OFFSET} (inclusive)."),
            _field("char_end", pa.int32(), f"End {_OFFSET} (exclusive)."),
            _field("text", pa.string(), "The sentence: exactly field[char_start:char_end]."),
        ]
    ),
    "quotes": pa.schema(
        [
            _field("quote_id", pa.string(), "Stable id of the quotation."),
            _field("article_id", pa.string(), "The article (articles.article_id)."),
            _field("source_name", pa.string(), "The article's source_name (denormalised)."),
            _field(
                "field", pa.string(), "'text' or 'title': where the quotation and its spans are."
            ),
            _field(
                "speaker_id",
                pa.string(),
                "lavrov, kerry, shoigu, hagel or muallem; null for anyone else.",
                nullable=True,
            ),
            _field(
                "speaker_mention",
                pa.string(),
                "The words naming the speaker (name, role, 'الأخير'), when there are any.",
                nullable=True,
            ),
            _field(
                "mention_start", pa.int32(), f"Start {_OFFSET} of speaker_mention.", nullable=True
            ),
            _field("mention_end", pa.int32(), f"End {_OFFSET} of speaker_mention.", nullable=True),
            _field(
                "quote_text",
                pa.string(),
                "The content only (no speech verb, no speaker): field[char_start:char_end].",
            ),
            _field("char_start", pa.int32(), f"Start {_OFFSET} of quote_text (inclusive)."),
            _field("char_end", pa.int32(), f"End {_OFFSET} of quote_text (exclusive)."),
            _field("quote_type", pa.string(), "direct, indirect, mixed, nominal or headline."),
            _field("cue", pa.string(), "The speech verb or cue that introduces the quotation."),
            _field("cue_start", pa.int32(), f"Start {_OFFSET} of cue.", nullable=True),
            _field("cue_end", pa.int32(), f"End {_OFFSET} of cue.", nullable=True),
            _field(
                "attribution_method",
                pa.string(),
                "How the speaker was found: name, alias, role, role_bound, coreference, "
                "continuation, headline, other.",
            ),
            _field("rule", pa.string(), "Name of the detection rule that fired."),
            _field(
                "confidence", pa.float64(), "Confidence of detection and attribution, in [0, 1]."
            ),
            _field("sentence_index", pa.int32(), "The sentence the quotation starts in."),
            _field(
                "published_date",
                pa.date32(),
                "The article's publication date (denormalised).",
                nullable=True,
            ),
            claims.CLAIM_ID_FIELD,
        ]
    ),
    "claims": claims.CLAIMS_SCHEMA,
    "speakers": pa.schema(
        [
            _field("speaker_id", pa.string(), "Key used in quotes.speaker_id."),
            _field("name_en", pa.string(), "Name in English."),
            _field("name_ar", pa.string(), "Name in Arabic, usual spelling."),
            _field(
                "variants",
                pa.list_(pa.field("item", pa.string(), nullable=False)),
                "Arabic name forms recognised: surnames, ambiguous (weak) surnames, and "
                "first name + surname combinations.",
            ),
            _field(
                "roles",
                pa.list_(pa.field("item", ROLE_TYPE, nullable=False)),
                "Offices held, with tenure dates; roles resolve by the article's date.",
            ),
            _field("n_quotes", pa.int64(), "Number of rows in `quotes` attributed to the speaker."),
            _field("qid", pa.string(), "The speaker's Wikidata QID ('Q22316').", nullable=True),
            _field(
                "registry_hash",
                pa.string(),
                "SHA-256 of the speaker registry (canonical JSON) that made the dataset.",
            ),
        ]
    ),
    "quarantine": pa.schema(
        [
            _field("source_name", pa.string(), "File name or record id of the rejected input."),
            _field("input_path", pa.string(), "Path of the input file.", nullable=True),
            _field("reason", pa.string(), "Machine-readable reason code (snake_case)."),
            _field("detail", pa.string(), "Human-readable detail of the problem.", nullable=True),
        ]
    ),
    "runs": pa.schema(
        [
            _field("run_id", pa.string(), "The run: its Prefect flow run id, or a random id."),
            _field("started_at", pa.timestamp("us", tz="UTC"), "When the run started (UTC)."),
            _field(
                "ended_at",
                pa.timestamp("us", tz="UTC"),
                "When the run ended (UTC): its commit, or its failed validation. Null only "
                "in the run's own row while that row is being validated.",
                nullable=True,
            ),
            _field(
                "inputs_seen",
                pa.int64(),
                "Inputs read: .txt/.html files, JSONL lines, Parquet rows, whole files rejected.",
            ),
            _field("articles", pa.int64(), "New articles: inputs that became rows of `articles`."),
            _field("quarantined", pa.int64(), "Inputs that became new rows of `quarantine`."),
            _field(
                "exact_duplicates",
                pa.int64(),
                "Inputs with the content (title + text) of an article read earlier in the same "
                "run: dropped.",
            ),
            _field(
                "already_published",
                pa.int64(),
                "Inputs whose article (same content hash) or quarantine row (same input_path, "
                "source_name and reason) an earlier run published: skipped.",
            ),
            _field(
                "quarantined_by_reason",
                pa.list_(pa.field("item", REASON_COUNT_TYPE, nullable=False)),
                "New quarantine rows per reason code, by reason.",
            ),
            _field(
                "table_rows",
                pa.list_(pa.field("item", TABLE_ROWS_TYPE, nullable=False)),
                "Per published table, its rows after the run and the rows the run added.",
            ),
            _field(
                "validation",
                pa.string(),
                "'passed' or 'failed' (a failed run adds no row to any table but this one); "
                "null only while the run's own row is being validated.",
                nullable=True,
            ),
            _field(
                "failed_expectations",
                pa.list_(pa.field("item", pa.string(), nullable=False)),
                "The expectations that failed ('table: expectation(column)'); empty when passed.",
            ),
            _field(
                "package_version", pa.string(), "Version of the isnad package that made the rows."
            ),
            _field(
                "lexicon_hash",
                pa.string(),
                "SHA-256 over pipelines/lexicons/*.json (name and bytes, by name): which word "
                "lists made the rows.",
            ),
            _field(
                "registry_hash",
                pa.string(),
                "SHA-256 of the speaker registry in use (its canonical JSON): which speakers "
                "and offices made the rows; a dataset holds one registry's runs.",
            ),
            _field(
                "dataset_version",
                pa.int64(),
                "The dataset version the run committed (the `version` in `_SUCCESS`); null "
                "only while the run's own row is being validated.",
                nullable=True,
            ),
        ]
    ),
}

_ARTICLE_COLUMNS = (
    "article_id", "source_name", "title", "text", "published_date", "date_origin",
    "source", "url", "input_path", "encoding", "content_type",
)  # fmt: skip


_MAX_STRING_BYTES = 2**31 - 1  # int32 offsets of pa.string()


def _columns(records: Sequence[Any], names: Sequence[str]) -> list[tuple[Any, ...]]:
    """Transpose records into one tuple of values per attribute, one C-speed pass (map over an
    attrgetter) a column: no tuple a record, which would also keep the garbage collector busy."""
    return [tuple(map(attrgetter(name), records)) for name in names]


def _text_array(values: Sequence[str]) -> pa.Array:
    """A string column of article or sentence text, from the values' UTF-8 encoded once into
    one buffer.

    ``pa.array`` would leave each str holding a cached UTF-8 copy of itself (a second copy of
    the batch's text, never read again) and copy the text again into a growing buffer. Values
    that are not all str (a None, which :func:`_table` reports) or not all encodable, or more
    than 2 GiB of text, take ``pa.array``'s path, which handles them.
    """
    try:
        encoded = list(map(str.encode, values))
    except (TypeError, UnicodeEncodeError):
        return pa.array(values, type=pa.string())
    offsets = list(accumulate(map(len, encoded), initial=0))
    if offsets[-1] > _MAX_STRING_BYTES:
        return pa.array(values, type=pa.string())
    value_offsets = pa.array(offsets, pa.int32()).buffers()[1]
    return pa.StringArray.from_buffers(len(encoded), value_offsets, pa.py_buffer(b"".join(encoded)))


def _table(name: str, columns: Mapping[str, Any]) -> pa.Table:
    """Assemble a table in the declared schema's column order, casting through the field types.

    A null in a non-nullable column means a stage broke its record contract: raise here, not
    at Parquet write time with a less helpful message.
    """
    schema = SCHEMAS[name]
    arrays = []
    for f in schema:
        values = columns[f.name]
        array = values if isinstance(values, pa.Array) else pa.array(values, type=f.type)
        if not f.nullable and array.null_count:
            raise ValueError(
                f"{name}.{f.name} is declared non-nullable but has {array.null_count} nulls"
            )
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)


def _records_table(
    name: str, records: Sequence[Any], extra: Mapping[str, Any] | None = None
) -> pa.Table:
    names = [f.name for f in SCHEMAS[name] if not extra or f.name not in extra]
    columns = dict(zip(names, _columns(records, names), strict=True))
    columns.update(extra or {})
    return _table(name, columns)


def _dropped_spans_array(analyses: Sequence[ArticleAnalysis]) -> pa.Array:
    """list<struct> built from flat children plus offsets, not from per-row Python dicts."""
    dropped = list(map(attrgetter("dropped"), analyses))
    spans = list(chain.from_iterable(dropped))
    offsets = list(accumulate(map(len, dropped), initial=0))
    names = ("field", "start", "end", "reason")
    values = pa.StructArray.from_arrays(
        [
            pa.array(col, type=DROPPED_SPAN_TYPE.field(n).type)
            for n, col in zip(names, _columns(spans, names), strict=True)
        ],
        fields=list(DROPPED_SPAN_TYPE),
    )
    list_type = SCHEMAS["articles"].field("dropped_spans").type
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=list_type)


def build_articles(analyses: Sequence[ArticleAnalysis]) -> pa.Table:
    articles = list(map(attrgetter("article"), analyses))
    columns: dict[str, Any] = dict(
        zip(_ARTICLE_COLUMNS, _columns(articles, _ARTICLE_COLUMNS), strict=True)
    )
    columns["n_chars"] = list(map(len, columns["text"]))
    columns["text"] = _text_array(columns["text"])
    columns["dropped_spans"] = _dropped_spans_array(analyses)
    columns["n_sentences"] = list(map(len, map(attrgetter("sentences"), analyses)))
    columns["n_quotes"] = list(map(len, map(attrgetter("quotes"), analyses)))
    return _table("articles", columns)


def build_sentences(analyses: Sequence[ArticleAnalysis]) -> pa.Table:
    sentences = list(chain.from_iterable(map(attrgetter("sentences"), analyses)))
    text = _text_array(list(map(attrgetter("text"), sentences)))
    return _records_table("sentences", sentences, {"text": text})


def build_quotes(analyses: Sequence[ArticleAnalysis]) -> pa.Table:
    """Quotes of a batch; claim ids are assigned once all batches are in (claims.attach_claims)."""
    records = [q for a in analyses for q in a.quotes]
    return _records_table("quotes", records, {"claim_id": pa.nulls(len(records), pa.string())})


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def build_speakers(
    quote_counts: Mapping[str | None, int], registry: Registry | None = None
) -> pa.Table:
    """One row per registry speaker, in registry order, with the run's quote count."""
    reg = registry or load_registry()
    rows: dict[str, list[Any]] = {f.name: [] for f in SCHEMAS["speakers"]}
    for sid, e in reg.speakers.items():
        surnames = e["surnames"] + e.get("weak_surnames", [])
        full = [f"{first} {last}" for first in e.get("first_names", []) for last in e["surnames"]]
        rows["speaker_id"].append(sid)
        rows["name_en"].append(e["name_en"])
        rows["name_ar"].append(e["name_ar"])
        rows["variants"].append(_unique([e["name_ar"], *surnames, *full]))
        rows["roles"].append(
            [
                {"role": o.role, "country": o.country, "start": o.start, "end": o.end}
                for o in reg.speaker_roles(sid)
            ]
        )
        rows["n_quotes"].append(quote_counts.get(sid, 0))
        rows["qid"].append(e.get("qid"))
        rows["registry_hash"].append(reg.digest)
    return _table("speakers", rows)


def build_quarantine(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    names = [f.name for f in SCHEMAS["quarantine"]]
    for row in rows:
        unknown = set(row) - set(names)
        if unknown:
            raise ValueError(f"quarantine row has unknown keys {sorted(unknown)}; expected {names}")
    return _table("quarantine", {n: [row.get(n) for row in rows] for n in names})


@functools.cache
def package_version() -> str:
    """The installed isnad version (``pyproject.toml``), or "unknown" outside an install."""
    try:
        return importlib.metadata.version("isnad")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def lexicon_hash() -> str:
    """SHA-256 over ``pipelines/lexicons/*.json``, name and bytes of each, sorted by name
    (once a process: the text stages load the lexicons once too)."""
    digest = hashlib.sha256()
    folder = resources.files("pipelines").joinpath("lexicons")
    for entry in sorted((e for e in folder.iterdir() if e.name.endswith(".json")),
                        key=lambda e: e.name):  # fmt: skip
        data = entry.read_bytes()
        digest.update(f"{entry.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _reason_counts(reasons: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"reason": r, "count": n} for r, n in sorted(reasons.items())]


def build_run_summary(
    counts: InputCounts,
    quarantine_rows: Sequence[Mapping[str, Any]],
    *,
    run_id: str | None = None,
    started_at: dt.datetime | None = None,
) -> pa.Table:
    """The run's row of ``runs`` (one batch's, or the whole run's): what ingest made of the
    inputs, per reason too, and which code and lexicons made the rows.

    ``counts`` come from ingest, not from the other tables, so validation can check them
    against the tables' row counts (nothing lost between reading and publishing). The
    columns known only at the end (``table_rows``, ``ended_at``, ``validation`` ...) are
    filled in by :func:`finish_run_row`.
    """
    reasons = Counter(row["reason"] for row in quarantine_rows)
    return _table(
        "runs",
        {
            "run_id": [run_id or uuid.uuid4().hex],
            "started_at": [started_at or dt.datetime.now(dt.UTC)],
            "ended_at": [None],
            "inputs_seen": [counts.inputs_seen],
            "articles": [counts.articles],
            "quarantined": [counts.quarantined],
            "exact_duplicates": [counts.exact_duplicates],
            "already_published": [counts.already_published],
            "quarantined_by_reason": [_reason_counts(reasons)],
            "table_rows": [[]],
            "validation": [None],
            "failed_expectations": [[]],
            "package_version": [package_version()],
            "lexicon_hash": [lexicon_hash()],
            "registry_hash": [load_registry().digest],
            "dataset_version": [None],
        },
    )


_COUNT_COLUMNS = ("inputs_seen", "articles", "quarantined", "exact_duplicates",
                  "already_published")  # fmt: skip


def combine_run_summaries(parts: Sequence[pa.Table]) -> pa.Table:
    """One ``runs`` row from per-batch rows: counts added up, the first row's other values."""
    rows = [row for part in parts for row in part.to_pylist()]
    if not rows:
        raise ValueError("no runs rows to combine")
    reasons: Counter[str] = Counter()
    for row in rows:
        reasons.update({item["reason"]: item["count"] for item in row["quarantined_by_reason"]})
    first = rows[0]
    first.update({name: sum(row[name] for row in rows) for name in _COUNT_COLUMNS})
    first["quarantined_by_reason"] = _reason_counts(reasons)
    return _table("runs", {name: [value] for name, value in first.items()})


def finish_run_row(row: pa.Table, **values: Any) -> pa.Table:
    """The one-row ``runs`` table with some columns set (``table_rows``, ``ended_at``,
    ``validation``, ``failed_expectations``, ``dataset_version``)."""
    (record,) = row.to_pylist()
    unknown = set(values) - set(record)
    if unknown:
        raise ValueError(f"runs has no column(s) {sorted(unknown)}")
    record.update(values)
    return _table("runs", {name: [value] for name, value in record.items()})


def build_tables(
    analyses: list[ArticleAnalysis],
    quarantine_rows: list[dict],
    counts: InputCounts | None = None,
    *,
    run_id: str | None = None,
    started_at: dt.datetime | None = None,
) -> dict[str, pa.Table]:
    """All seven tables of a run (or of one batch), each in its declared schema.

    ``counts`` is ingest's accounting of the inputs behind ``analyses`` and
    ``quarantine_rows``; without it they are taken to be all the inputs there were.
    """
    quotes = build_quotes(analyses)
    speaker_counts = Counter(quotes.column("speaker_id").to_pylist())
    if counts is None:
        n = len(analyses) + len(quarantine_rows)
        counts = InputCounts(n, len(analyses), len(quarantine_rows), 0)
    return {
        "articles": build_articles(analyses),
        "sentences": build_sentences(analyses),
        "quotes": quotes,
        "claims": claims.CLAIMS_SCHEMA.empty_table(),
        "speakers": build_speakers(speaker_counts),
        "quarantine": build_quarantine(quarantine_rows),
        "runs": build_run_summary(counts, quarantine_rows, run_id=run_id, started_at=started_at),
    }
