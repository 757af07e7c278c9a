"""The Great Expectations side of validation (layer 3): an ephemeral context, a table's
frame as pandas, the suite run over it (the sentences in chunks of whole articles), its
results as :class:`CheckResult` and the Data Docs site; and :func:`validate_tables`, which
validates the seven tables in the three layers: the Arrow schema (:mod:`.frames`), the
derived check columns (:mod:`.derive`) appended to each frame, then the table's suite.

A failed expectation with ``"severity": "warning"`` goes to ``warnings``, not ``failed``.
Great Expectations is imported inside the functions that use it (it costs ~4 s).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.tabulate import TABLE_NAMES
from pipelines.validate.derive import derive
from pipelines.validate.frames import decoded, frame, schema_checks
from pipelines.validate.results import CheckResult, TableReport, ValidationReport, failed_labels
from pipelines.validate.suites import expectation_label, load_suite, suite_parameters

logger = logging.getLogger(__name__)

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


def context(docs_dir: str | None) -> Any:
    """An ephemeral GE context, with a Data Docs site under ``docs_dir`` when it is given."""
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


def to_frame(table: pa.Table, derived: Mapping[str, np.ndarray]) -> Any:
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
    data = table.to_pandas(date_as_object=True)
    for name, column in zip(table.column_names, table.columns, strict=True):
        if column.null_count and column.type in ints:
            data[name] = column.to_pandas(types_mapper=ints.get)
    for column, values in derived.items():
        data[column] = values
    return data


def plain(value: Any) -> Any:
    """numpy scalars and containers to plain Python (for JSON and readable messages)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def ge_check(result: Any) -> CheckResult:
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
        check=expectation_label(config.type, config.kwargs),
        success=bool(result.success),
        severity=str(getattr(severity, "value", severity)),
        unexpected_count=res.get("unexpected_count"),
        unexpected_percent=res.get("unexpected_percent"),
        examples=plain(list(examples)[:5]),
        observed=plain(res.get("observed_value")),
        error="; ".join(errors) or None,
    )


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


def merge_chunks(chunks: list[list[CheckResult]]) -> list[CheckResult]:
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

        context(None)
    except Exception:  # reported by validate_tables, where they matter
        logger.debug("validation prewarm failed", exc_info=True)


class _Session:
    """One ephemeral GE context validating one run's tables, and the Data Docs pages to build
    once at the end (a checkpoint's docs action would rebuild the index after each table and
    each sentences chunk)."""

    def __init__(self, docs_dir: str | None, parameters: dict[str, str], suites_dir: Path | None):
        self.docs_dir = docs_dir
        self.parameters = parameters
        self.suites_dir = suites_dir
        self.context = context(docs_dir)
        self.data_source = self.context.data_sources.add_pandas("isnad")
        self.documented: list[Any] = []  # suites and validation results

    def validate(
        self,
        name: str,
        table: pa.Table | None,
        derived: Mapping[str, np.ndarray],
        problems: list[str],
        built: list[pa.Schema] | None,
    ) -> TableReport:
        """Table ``name``: its schema checks (against each schema it was ``built`` in), what
        its derived checks could not compute, and its suite over its frame."""
        suite = self.context.suites.add(load_suite(name, self.suites_dir))
        if table is None:
            missing = CheckResult("table_present", False, error="table not given")
            return TableReport(name, False, 0, [missing])
        built = built or [table.schema]
        checks = [c for schema in built for c in schema_checks(name, schema)]
        if len(built) > 1:
            checks = [c for c in checks if not c.success] or checks[:1]
        checks.extend(CheckResult("derived_checks", False, error=p) for p in problems)
        checks.extend(self._run_suite(name, suite, frame(name, table), derived))
        critical = [c for c in checks if not c.success and c.severity == "critical"]
        return TableReport(name, not critical, table.num_rows, checks)

    def _checkpoint(self, name: str, suite: Any, keys: list[str]) -> Any:
        import great_expectations as gx
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
        )

        batch = self.data_source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(
            name
        )
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        self.documented.append(ExpectationSuiteIdentifier(name=suite.name))
        return self.context.checkpoints.add(
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

    def _run_suite(
        self, name: str, suite: Any, data_table: pa.Table, derived: Mapping[str, np.ndarray]
    ) -> list[CheckResult]:
        """The suite's results over the frame and its derived columns, chunk by chunk."""
        keys = [k for k in ROW_KEYS[name] if k in data_table.column_names]
        checkpoint = self._checkpoint(name, suite, keys)
        chunk_checks: list[list[CheckResult]] = []
        bounds = chunk_bounds(data_table) if name in CHUNKED else [(0, data_table.num_rows)]
        for start, stop in bounds:
            data = to_frame(
                decoded(data_table.slice(start, stop - start)),
                {c: v[start:stop] for c, v in derived.items()},
            )
            outcome = checkpoint.run(
                batch_parameters={"dataframe": data}, expectation_parameters=self.parameters
            )
            del data
            for key, run_result in outcome.run_results.items():
                chunk_checks.append([ge_check(r) for r in run_result.results])
                self.documented.append(key)
        return merge_chunks(chunk_checks)

    def build_docs(self) -> str | None:
        """Data Docs for every result and suite; the path of their index page, if built."""
        if self.docs_dir is None:
            return None
        self.context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=self.documented)
        index = Path(self.docs_dir).resolve() / "index.html"
        return str(index) if index.exists() else None


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
    suites_path = Path(suites_dir) if suites_dir is not None else None
    unknown = sorted(set(tables) - set(TABLE_NAMES))
    session = _Session(docs_dir, suite_parameters(today), suites_path)
    derived, derive_problems = derive(tables, lookups, precomputed=precomputed)
    for name, items in (problems or {}).items():
        derive_problems[name].extend(items)
    results = {
        name: session.validate(
            name,
            tables.get(name),
            derived[name],
            derive_problems[name],
            (schemas or {}).get(name),
        )
        for name in TABLE_NAMES
    }
    failed = failed_labels(results, critical=True) + [f"{n}: no expectation suite" for n in unknown]
    report = ValidationReport(
        success=not failed,
        failed=failed,
        results=results,
        docs_path=session.build_docs(),
        warnings=failed_labels(results, critical=False),
        seconds=time.perf_counter() - started,
    )
    logger.info("validation %s in %.1f s", "passed" if report.success else "failed", report.seconds)
    return report
