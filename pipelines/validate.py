"""Validate the output tables against the Great Expectations suites in ``expectations/``.

Three layers, cheapest first:

1. the Arrow schema of each table against ``write.SCHEMAS`` (names, order, exact types,
   nested ones included), in Python: GE only sees pandas dtypes;
2. derived check columns (``chk_*``, one boolean a row) for what needs the text or another
   table: offset identity ``field[char_start:char_end] == text`` for quote, cue, mention
   and sentence spans, foreign keys, counts, and the run's accounting (its row of ``runs``:
   inputs seen = articles + quarantined + exact duplicates + already published, with
   articles and quarantined equal to those tables' row counts). They are computed
   vectorised in DuckDB over the Arrow tables (zero copy; ``substring``/``length`` count
   code points as Python does) and appended to the frame GE validates, so each shows up in
   Data Docs as an ordinary ``expect_column_values_to_be_in_set(chk_..., [True])``;
3. the GE suites, one per table, loaded from JSON; an optional Data Docs site is built.

A failed expectation with ``"severity": "warning"`` goes to ``warnings``, not ``failed``.
Great Expectations is imported inside :func:`validate_tables` (it costs ~4 s).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines import claims
from pipelines.write import SCHEMAS, TABLE_NAMES

logger = logging.getLogger(__name__)

SUITES_DIR = Path(__file__).resolve().parent.parent / "expectations"
DOCS_SITE = "isnad"
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
# their SQL reads.
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
EARLIEST_PUBLISHED_DATE = "1990-01-01"  # ingest accepts years 1990-2035; the suites say 1990


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


def read_suite_json(name: str, suites_dir: Path | None = None) -> dict[str, Any]:
    path = (suites_dir or SUITES_DIR) / f"{name}.json"
    with open(path, encoding="utf-8") as fh:
        suite = json.load(fh)
    if suite.get("name") != name:
        raise SuiteError(f"{path}: suite name {suite.get('name')!r} is not {name!r}")
    return suite


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


def _has_columns(table: pa.Table | None, name: str) -> bool:
    return table is not None and set(FRAME_COLUMNS[name]) <= set(table.column_names)


# --- layer 2: derived check columns --------------------------------------------------------

# A span is good when it is non-empty, inside its field, and the field's characters there are
# exactly the span's text (whose length is the span's: then it lies inside the field).
# DuckDB's substring/length count code points, like Python's str.
_SPAN_OK = """
create or replace temp macro span_ok(f, s, e, t) as
    coalesce(s >= 0 and e > s and length(t) = e - s and substring(f, s + 1, e - s) = t, false)
"""
_ARTICLE_LOOKUP = """
    a as (select article_id, any_value(text) as text, any_value(title) as title,
                 any_value(source_name) as source_name, any_value(published_date) as published_date,
                 any_value(n_sentences) as n_sentences
          from articles group by article_id)
"""
_DERIVED_SQL: dict[str, str] = {
    "articles": """
        with spans as (
            select __row, bool_and(coalesce(
                d.field in ('text', 'title') and d.start >= 0 and d."end" > d.start
                and d."end" <= length(case d.field when 'text' then text
                                      when 'title' then title end), false)) as ok
            from (select __row, text, title, unnest(dropped_spans) as d from articles)
            group by __row),
        ns as (select article_id, count(*) as n from sentences group by article_id),
        nq as (select article_id, count(*) as n from quotes group by article_id)
        select
            coalesce(x.n_chars = length(x.text), false) as chk_n_chars,
            coalesce((x.published_date is null) = (x.date_origin is null), false)
                as chk_date_origin,
            coalesce(spans.ok, x.dropped_spans is not null) as chk_dropped_spans,
            coalesce(x.n_sentences = coalesce(ns.n, 0), false) as chk_n_sentences,
            coalesce(x.n_quotes = coalesce(nq.n, 0), false) as chk_n_quotes
        from articles x
        left join spans on spans.__row = x.__row
        left join ns on ns.article_id = x.article_id
        left join nq on nq.article_id = x.article_id
        order by x.__row
    """,
    # The span check streams through the join: only booleans are kept, not the article text
    # joined to every sentence (a window or sort over that copy cost 2-3x more).
    "sentences": f"""
        with {_ARTICLE_LOOKUP},
        chk as (
            select s.__row,
                a.article_id is not null as chk_article_exists,
                span_ok(case s.field when 'text' then a.text when 'title' then a.title end,
                        s.char_start, s.char_end, s.text) as chk_offset,
                coalesce(s.sentence_index < a.n_sentences, false) as chk_sentence_index
            from sentences s left join a on a.article_id = s.article_id),
        ord as (
            select __row,
                coalesce(lag(char_end) over (partition by article_id, field
                                             order by sentence_index) <= char_start, true)
                    as chk_order
            from sentences)
        select chk_article_exists, chk_offset, chk_sentence_index, chk_order
        from chk join ord using (__row)
        order by __row
    """,
    "quotes": f"""
        with {_ARTICLE_LOOKUP},
        s as (select article_id, sentence_index, any_value(field) as field,
                     min(char_start) as char_start, max(char_end) as char_end
              from sentences group by article_id, sentence_index),
        j as (
            select q.*, a.article_id is not null as found,
                   case q.field when 'text' then a.text when 'title' then a.title end as ftext,
                   a.source_name as a_source_name, a.published_date as a_published_date,
                   s.field as s_field, s.char_start as s_start, s.char_end as s_end
            from quotes q
            left join a on a.article_id = q.article_id
            left join s on s.article_id = q.article_id and s.sentence_index = q.sentence_index)
        select
            found as chk_article_exists,
            span_ok(ftext, char_start, char_end, quote_text) as chk_offset,
            case when mention_start is null and mention_end is null then true
                 else span_ok(ftext, mention_start, mention_end, speaker_mention) end
                as chk_mention_span,
            case when cue_start is null and cue_end is null then true
                 else span_ok(ftext, cue_start, cue_end, cue) end as chk_cue_span,
            coalesce(speaker_id is null or speaker_mention is not null, false)
                as chk_speaker_mention,
            coalesce(attribution_method <> 'other' or speaker_id is null, false)
                as chk_other_speaker,
            coalesce(found and source_name = a_source_name
                     and published_date is not distinct from a_published_date, false)
                as chk_article_fields,
            coalesce(s_field = field and s_start <= char_start and char_start < s_end, false)
                as chk_sentence,
            coalesce(case when speaker_id is null then claim_id is null
                          else cl_speaker = speaker_id end, false) as chk_claim
        from j
        left join (select claim_id as cl_id, any_value(speaker_id) as cl_speaker
                   from claims group by claim_id) cl on cl.cl_id = j.claim_id
        order by __row
    """,
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
    return bool(variants) and all(variants) and name_ar in variants


def _with_row(table: pa.Table) -> pa.Table:
    return table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))


# Derived columns that can be computed alone, from small tables, when the others of their
# table came precomputed from the batches (a quotation's claim is known only at the end).
# column -> (its SQL, the tables it reads).
_SINGLE_SQL: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "quotes": {claims.QUOTES_CHECK_COLUMN: (claims.QUOTES_CHECK_SQL, ("quotes", "claims"))},
}


def _query(con: Any, sql: str, problems: list[str]) -> dict[str, np.ndarray]:
    """The boolean columns ``sql`` selects; a DuckDB error goes to ``problems`` (and no
    column comes back, so the checks fail closed)."""
    import duckdb

    try:
        result = con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
        return {}
    return {
        c: result.column(c).to_numpy(zero_copy_only=False).astype(bool) for c in result.column_names
    }


def _derive(
    tables: Mapping[str, pa.Table],
    lookups: Mapping[str, pa.Table] | None = None,
    *,
    only: tuple[str, ...] | None = None,
    precomputed: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, list[str]]]:
    """Derived check columns per table, and per table what could not be computed and why.

    ``lookups`` are whole tables that a table's checks read in place of the validated ones
    when they look *into another* table (an incremental run validates its new quotes, but
    claims and speaker counts are checked against every quotation). ``only``: the tables to
    derive for (default all). ``precomputed``: columns computed over the batches
    (:func:`batch_checks`); of those tables only the columns missing from it are computed,
    where ``_SINGLE_SQL`` can.
    """
    import duckdb

    lookups = lookups or {}
    precomputed = precomputed or {}
    readable = {name: _has_columns(tables.get(name), name) for name in TABLE_NAMES}
    readable_lookup = {name: _has_columns(table, name) for name, table in lookups.items()}
    out: dict[str, dict[str, np.ndarray]] = {}
    problems: dict[str, list[str]] = {name: [] for name in TABLE_NAMES}
    rowed = {name: _with_row(tables[name]) for name in TABLE_NAMES if readable[name]}
    rowed_lookup = {name: _with_row(t) for name, t in lookups.items() if readable_lookup[name]}
    con = duckdb.connect()
    try:
        con.execute("set preserve_insertion_order = true")
        con.execute(_SPAN_OK)
        for name, columns in DERIVED.items():
            if only is not None and name not in only:
                continue
            table = tables.get(name)
            values: dict[str, np.ndarray] = {}
            if name in precomputed:
                values.update(precomputed[name])
                for column in columns:
                    if column in values:
                        continue
                    sql, reads = _SINGLE_SQL.get(name, {}).get(column, (None, ()))
                    if sql is None or not all(readable[t] for t in reads):
                        problems[name].append(f"{column}: not computed over the batches")
                        continue
                    for t in reads:
                        con.register(t, rowed[t])
                    found = _query(con, sql, problems[name])
                    if column in found:
                        values[column] = found[column]
            elif name in _DERIVED_SQL:
                sources = {
                    t: ("lookup" if t != name and t in lookups else "table")
                    for t in DERIVED_READS[name]
                }
                unreadable = [
                    t
                    for t, kind in sources.items()
                    if not (readable_lookup[t] if kind == "lookup" else readable[t])
                ]
                if unreadable:
                    problems[name].append(f"needs {', '.join(unreadable)} with declared columns")
                else:
                    for t, kind in sources.items():
                        con.register(t, rowed_lookup[t] if kind == "lookup" else rowed[t])
                    values.update(_query(con, _DERIVED_SQL[name], problems[name]))
            if name == "speakers" and readable["speakers"]:
                rows = table.select(["name_ar", "variants", "roles"]).to_pylist()
                values["chk_roles"] = np.array([_roles_ok(r["roles"]) for r in rows], dtype=bool)
                values["chk_variants"] = np.array(
                    [_variants_ok(r["variants"], r["name_ar"]) for r in rows], dtype=bool
                )
            n = table.num_rows if table is not None else 0
            # Fail closed: a check that could not look must not vouch for the data.
            out[name] = {c: values.get(c, np.zeros(n, dtype=bool)) for c in columns}
    finally:
        con.close()
    return out, problems


def batch_checks(
    tables: Mapping[str, pa.Table],
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, list[str]]]:
    """The derived checks of one batch's tables that read only the batch (BATCH_CHECKED),
    and what could not be computed. A quotation's claim is checked at the end of the run."""
    values, problems = _derive(tables, only=BATCH_CHECKED)
    for name, single in _SINGLE_SQL.items():
        for column in single:
            values.get(name, {}).pop(column, None)
    return values, {name: problems[name] for name in BATCH_CHECKED if problems[name]}


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
    """pandas frame for GE: nullable ints keep their width, dates stay datetime.date."""
    import pandas as pd

    ints = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    frame = table.to_pandas(types_mapper=ints.get, date_as_object=True)
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


def _check_name(config: Any) -> str:
    kwargs = config.kwargs
    if "column" in kwargs:
        args = kwargs["column"]
    elif "column_A" in kwargs:
        args = f"{kwargs['column_A']}, {kwargs['column_B']}"
    elif "column_list" in kwargs and not config.type.startswith("expect_table_"):
        args = ", ".join(kwargs["column_list"])
    else:
        args = ""
    return f"{config.type}({args})"


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
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
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
CHUNK_ROWS = 250_000
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

    ``today`` bounds ``published_date`` from above (the suites' ``$PARAMETER``), default the
    current date plus one day for time zones. ``lookups`` are whole tables that checks of
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
    parameters = {
        "earliest_published_date": EARLIEST_PUBLISHED_DATE,
        "latest_published_date": ((today or dt.date.today()) + dt.timedelta(days=1)).isoformat(),
    }
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
