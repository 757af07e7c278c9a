"""Turn analysed articles into Arrow tables and publish them as Parquet.

Only this module and ``ingest`` touch disk. The schemas are declared here, in code, with a
``description`` on every field (the data dictionary is generated from them); every table is
built column by column from the frozen records, never through pandas, because a full run is
~120k articles and a few million sentences.

Publishing is staged: all files are written to ``<out>/.staging-<uuid>/`` first, then each
replaces its predecessor with ``os.replace`` and ``_SUCCESS`` (a JSON manifest with row counts
and the schema version) is written last. A failure before the swap leaves the previous run's
files untouched; a reader that wants a consistent set checks the manifest's row counts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from operator import attrgetter
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import claims
from pipelines.records import SPEAKER_IDS, ArticleAnalysis, InputCounts

SCHEMA_VERSION = "2"  # 2: quotes.claim_id and the claims table
TABLE_NAMES: tuple[str, ...] = (
    "articles", "sentences", "quotes", "claims", "speakers", "quarantine", "run_summary",
)  # fmt: skip
MANIFEST_NAME = "_SUCCESS"
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
                "Where published_date came from: 'record' or 'text'.",
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
    "run_summary": pa.schema(
        [
            _field("run_id", pa.string(), "The run: its Prefect flow run id, or a random id."),
            _field("started_at", pa.timestamp("us", tz="UTC"), "When the run started (UTC)."),
            _field(
                "inputs_seen",
                pa.int64(),
                "Inputs read: .txt/.html files, JSONL lines, Parquet rows, whole files rejected.",
            ),
            _field("articles", pa.int64(), "Inputs that became rows of `articles`."),
            _field("quarantined", pa.int64(), "Inputs that became rows of `quarantine`."),
            _field(
                "exact_duplicates",
                pa.int64(),
                "Inputs with the content (title + text) of an article already read: dropped.",
            ),
            _field(
                "quarantined_by_reason",
                pa.list_(pa.field("item", REASON_COUNT_TYPE, nullable=False)),
                "Quarantine rows per reason code, by reason.",
            ),
        ]
    ),
}

_ARTICLE_COLUMNS = (
    "article_id", "source_name", "title", "text", "published_date", "date_origin",
    "source", "url", "input_path", "encoding", "content_type",
)  # fmt: skip


def _columns(records: Sequence[Any], names: Sequence[str]) -> list[tuple[Any, ...]]:
    """Transpose records into one tuple of values per attribute (attrgetter + zip is C-speed)."""
    if not records:
        return [() for _ in names]
    if len(names) == 1:
        return [tuple(map(attrgetter(names[0]), records))]
    return list(zip(*map(attrgetter(*names), records), strict=True))


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
    offsets = [0]
    spans = []
    for analysis in analyses:
        spans.extend(analysis.dropped)
        offsets.append(len(spans))
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
    articles = [a.article for a in analyses]
    columns = dict(zip(_ARTICLE_COLUMNS, _columns(articles, _ARTICLE_COLUMNS), strict=True))
    columns["n_chars"] = [len(t) for t in columns["text"]]
    columns["dropped_spans"] = _dropped_spans_array(analyses)
    columns["n_sentences"] = [len(a.sentences) for a in analyses]
    columns["n_quotes"] = [len(a.quotes) for a in analyses]
    return _table("articles", columns)


def build_sentences(analyses: Sequence[ArticleAnalysis]) -> pa.Table:
    return _records_table("sentences", [s for a in analyses for s in a.sentences])


def build_quotes(analyses: Sequence[ArticleAnalysis]) -> pa.Table:
    """Quotes of a batch; claim ids are assigned once all batches are in (claims.attach_claims)."""
    records = [q for a in analyses for q in a.quotes]
    return _records_table("quotes", records, {"claim_id": pa.nulls(len(records), pa.string())})


def load_speaker_registry() -> dict[str, Any]:
    """The speaker registry shipped in ``pipelines/lexicons/speakers.json``."""
    source = resources.files("pipelines").joinpath("lexicons", "speakers.json")
    return json.loads(source.read_text(encoding="utf-8"))


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def build_speakers(
    quote_counts: Mapping[str | None, int], registry: Mapping[str, Any] | None = None
) -> pa.Table:
    """One row per registry speaker, in registry order, with the run's quote count."""
    entries = (registry or load_speaker_registry())["speakers"]
    ids = [e["speaker_id"] for e in entries]
    if sorted(ids) != sorted(SPEAKER_IDS):
        raise ValueError(
            f"speaker registry ids {ids} differ from records.SPEAKER_IDS {SPEAKER_IDS}"
        )
    rows: dict[str, list[Any]] = {f.name: [] for f in SCHEMAS["speakers"]}
    for e in entries:
        surnames = e["surnames"] + e.get("weak_surnames", [])
        full = [f"{first} {last}" for first in e.get("first_names", []) for last in e["surnames"]]
        rows["speaker_id"].append(e["speaker_id"])
        rows["name_en"].append(e["name_en"])
        rows["name_ar"].append(e["name_ar"])
        rows["variants"].append(_unique([e["name_ar"], *surnames, *full]))
        rows["roles"].append(
            [
                {
                    "role": r["role"],
                    "country": r["country"],
                    "start": _date(r["start"]),
                    "end": _date(r["end"]),
                }
                for r in e["roles"]
            ]
        )
        rows["n_quotes"].append(quote_counts.get(e["speaker_id"], 0))
    return _table("speakers", rows)


def build_quarantine(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    names = [f.name for f in SCHEMAS["quarantine"]]
    for row in rows:
        unknown = set(row) - set(names)
        if unknown:
            raise ValueError(f"quarantine row has unknown keys {sorted(unknown)}; expected {names}")
    return _table("quarantine", {n: [row.get(n) for row in rows] for n in names})


def build_run_summary(
    counts: InputCounts,
    quarantine_rows: Sequence[Mapping[str, Any]],
    *,
    run_id: str | None = None,
    started_at: dt.datetime | None = None,
) -> pa.Table:
    """The one-row accounting table: what ingest made of the inputs, per reason too.

    ``counts`` come from ingest, not from the other tables, so validation can check them
    against the tables' row counts (nothing lost between reading and publishing).
    """
    reasons = Counter(row["reason"] for row in quarantine_rows)
    return _table(
        "run_summary",
        {
            "run_id": [run_id or uuid.uuid4().hex],
            "started_at": [started_at or dt.datetime.now(dt.UTC)],
            "inputs_seen": [counts.inputs_seen],
            "articles": [counts.articles],
            "quarantined": [counts.quarantined],
            "exact_duplicates": [counts.exact_duplicates],
            "quarantined_by_reason": [
                [{"reason": r, "count": n} for r, n in sorted(reasons.items())]
            ],
        },
    )


def combine_run_summaries(parts: Sequence[pa.Table]) -> pa.Table:
    """One run_summary row from per-batch rows: counts added up, run id and start of the first."""
    rows = [row for part in parts for row in part.to_pylist()]
    if not rows:
        raise ValueError("no run_summary rows to combine")
    names = ("inputs_seen", "articles", "quarantined", "exact_duplicates")
    reasons: Counter[str] = Counter()
    for row in rows:
        reasons.update({item["reason"]: item["count"] for item in row["quarantined_by_reason"]})
    return _table(
        "run_summary",
        {
            "run_id": [rows[0]["run_id"]],
            "started_at": [rows[0]["started_at"]],
            **{name: [sum(row[name] for row in rows)] for name in names},
            "quarantined_by_reason": [
                [{"reason": r, "count": n} for r, n in sorted(reasons.items())]
            ],
        },
    )


def build_tables(
    analyses: list[ArticleAnalysis],
    quarantine_rows: list[dict],
    counts: InputCounts | None = None,
    *,
    run_id: str | None = None,
    started_at: dt.datetime | None = None,
) -> dict[str, pa.Table]:
    """All six tables of a run (or of one batch), each in its declared schema.

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
        "run_summary": build_run_summary(
            counts, quarantine_rows, run_id=run_id, started_at=started_at
        ),
    }


def _stamp(name: str, table: pa.Table, run_id: str) -> pa.Table:
    """Record the schema version, table name and run in the file's key/value metadata."""
    metadata = dict(table.schema.metadata or {})
    metadata[META_SCHEMA_VERSION] = SCHEMA_VERSION.encode()
    metadata[META_TABLE] = name.encode()
    metadata[META_RUN_ID] = run_id.encode()
    return table.replace_schema_metadata(metadata)


def _check_publishable(tables: Mapping[str, pa.Table]) -> None:
    for name, table in tables.items():
        if not name.isidentifier():
            raise ValueError(f"table name {name!r} is not a plain identifier")
        expected = SCHEMAS.get(name)
        if expected is not None and not table.schema.equals(expected, check_metadata=False):
            raise ValueError(f"table {name!r} does not match its declared schema:\n{table.schema}")


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_tables(tables: dict[str, pa.Table], out_dir: str) -> dict[str, str]:
    """Write every table to ``<out_dir>/<name>.parquet`` via a staging dir; return name -> path.

    The previous files stay in place until every new file is written and synced; then
    ``_SUCCESS`` is removed, each file is swapped in with ``os.replace`` (atomic per file),
    and the new ``_SUCCESS`` manifest is swapped in last.
    """
    _check_publishable(tables)
    os.makedirs(out_dir, exist_ok=True)
    summary = tables.get("run_summary")
    run_id = (
        str(summary.column("run_id")[0].as_py())
        if summary is not None and summary.num_rows and "run_id" in summary.column_names
        else uuid.uuid4().hex
    )
    staging = os.path.join(out_dir, f".staging-{run_id}")
    os.mkdir(staging)
    try:
        manifest: dict[str, Any] = {
            "run_id": run_id,
            "schema_version": SCHEMA_VERSION,
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "tables": {},
        }
        for name, table in tables.items():
            staged = os.path.join(staging, f"{name}.parquet")
            pq.write_table(_stamp(name, table, run_id), staged, compression="zstd")
            _fsync(staged)
            manifest["tables"][name] = {
                "file": f"{name}.parquet",
                "rows": table.num_rows,
                "columns": table.column_names,
            }
        staged_manifest = os.path.join(staging, MANIFEST_NAME)
        with open(staged_manifest, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, ensure_ascii=False, sort_keys=True, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())

        # The swap: no manifest while files are mixed, so readers can tell a set is in flux.
        final_manifest = os.path.join(out_dir, MANIFEST_NAME)
        if os.path.exists(final_manifest):
            os.remove(final_manifest)
        paths = {}
        for name in tables:
            paths[name] = os.path.join(out_dir, f"{name}.parquet")
            os.replace(os.path.join(staging, f"{name}.parquet"), paths[name])
        os.replace(staged_manifest, final_manifest)
        _fsync(out_dir)
        return paths
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_manifest(out_dir: str) -> dict[str, Any] | None:
    """The ``_SUCCESS`` manifest of the last complete publish, or None while none is complete."""
    path = os.path.join(out_dir, MANIFEST_NAME)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
