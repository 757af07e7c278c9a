"""One batch from articles to written Parquet parts, wherever it runs; and the run's merge.

A run streams: ingest yields batches, each batch is analysed, tabulated, checked and
*written* by :func:`run_batch`, and only what the end of the run needs comes back, so the
memory of the process that drives the run does not grow with the text of the corpus:

- ``articles`` and ``sentences`` (the bulk: every article's text, every sentence) are written
  by the batch itself as parts of the run's staged version (``BatchJob.staging``, where a
  :class:`pipelines.store.Transaction` reserved them). What comes back is
  the derived checks that read the text (offsets, lengths), computed here, over the batch,
  where the text is in memory, one boolean a row. Their *validation frames* (every column
  but ``text``, ``validate.FRAME_COLUMNS``) are read back from the written parts by
  :func:`merge_results` once the batches are done: the run validates what it wrote, and
  holds no per-row frame while its batches run. (A table a batch has no row of is written
  by nobody: its empty frame comes back.)
- ``quotes`` and ``quarantine`` (a few rows a batch) come back whole: claims are computed
  over all quotations at the end of the run, and the claim ids go into the quotes parts.
- the batch's ``runs`` row (ingest's accounting) comes back, to be added up.

The function is pure Python over picklable values, so the same code runs in the driving
process, in a Prefect process pool or on a Dask worker (``flows.pipeline``); a batch's rows
depend on its articles alone, so where it ran does not change them.
"""

from __future__ import annotations

import ctypes
import dataclasses
import datetime as dt
import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import analyse, ingest, speakers, tabulate, validate
from pipelines.records import Article, InputCounts
from pipelines.store import Staging

# Tables a batch writes itself; their validation frames come back instead of their rows.
WRITTEN_BY_BATCH: tuple[str, ...] = ("articles", "sentences")
# Tables whose rows come back whole.
RETURNED: tuple[str, ...] = ("quotes", "quarantine")


@dataclass(frozen=True)
class BatchJob:
    number: int
    articles: list[Article]
    quarantine: list[dict]
    counts: InputCounts
    run_id: str
    started_at: dt.datetime
    staging: Staging  # the staged version's directory, local or on an object store
    part_files: dict[str, str] = field(default_factory=dict)  # table -> reserved part file
    registry: str | None = None  # the speaker registry file in use (None: the process's own)


@dataclass(frozen=True)
class BatchResult:
    number: int
    parts: dict[str, tuple[str, int]]  # table -> (part file, rows) written under staging
    # RETURNED tables whole; validation frames of the WRITTEN_BY_BATCH tables not written
    frames: dict[str, pa.Table]
    runs: pa.Table  # the batch's row of ``runs``
    checks: dict[str, dict[str, np.ndarray]]  # derived check columns computed over the batch
    problems: dict[str, list[str]]  # derived checks that could not be computed, and why
    schemas: dict[str, pa.Schema]  # each table's Arrow schema as built
    seconds: dict[str, float]  # per stage

    def rows(self, name: str) -> int:
        """Rows of ``name`` the batch made (written as a part, or returned)."""
        if name in self.frames:
            return self.frames[name].num_rows
        return self.parts[name][1] if name in self.parts else 0


def run_batch(job: BatchJob) -> BatchResult:
    """Analyse one batch, build its tables, compute its derived checks, write its parts.

    The objects alive when the batch starts (imported modules, the job) are set aside from
    the garbage collector while it runs: a batch makes ~10^5 objects, and each full collection
    would otherwise walk every object of Prefect, pandas and Great Expectations as well.
    """
    if job.registry is not None and job.registry != speakers.registry_in_use():
        speakers.use_registry(job.registry)  # a worker started before the run chose it
    gc.freeze()
    try:
        return _run_batch(job)
    finally:
        gc.unfreeze()


def _run_batch(job: BatchJob) -> BatchResult:
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = seconds.get(stage, 0.0) + now - clock
        clock = now

    cleaned = analyse.clean_articles(job.articles)
    lap("clean")
    segmented = analyse.segment_articles(cleaned)
    del cleaned
    lap("segment")
    detected = analyse.detect_quotations(segmented)
    del segmented
    lap("quotes")
    analyses = analyse.attribute_quotations(detected)
    del detected
    lap("attribute")
    tables = tabulate.build_tables(
        analyses, job.quarantine, job.counts, run_id=job.run_id, started_at=job.started_at
    )
    del analyses
    lap("tables")
    checks, problems = validate.batch_checks(tables)
    parameters = validate.suite_parameters(job.started_at.astimezone(dt.UTC).date())
    failed = validate.failed_articles(tables, checks, parameters)
    if failed:
        tables, checks = quarantine_articles(tables, checks, failed, job)
    lap("validate (batch)")
    parts: dict[str, tuple[str, int]] = {}
    for name in WRITTEN_BY_BATCH:
        table = tables[name]
        if table.num_rows:
            file = job.part_files[name]
            job.staging.write(name, file, table, job.run_id)
            parts[name] = (file, table.num_rows)
    lap("write")
    # A part written is read back for validation at the end of the run (merge_results): the
    # frames of the run's batches are not held meanwhile.
    frames = {
        name: validate.frame(name, tables[name]) for name in WRITTEN_BY_BATCH if name not in parts
    }
    frames.update({name: tables[name] for name in RETURNED})
    runs = tables["runs"]
    schemas = {name: tables[name].schema for name in (*WRITTEN_BY_BATCH, *RETURNED)}
    del tables
    release_memory()
    return BatchResult(
        number=job.number,
        parts=parts,
        frames=frames,
        runs=runs,
        checks=checks,
        problems=problems,
        schemas=schemas,
        seconds=seconds,
    )


def quarantine_articles(
    tables: dict[str, pa.Table],
    checks: dict[str, dict[str, np.ndarray]],
    failed: dict[str, list[str]],
    job: BatchJob,
) -> tuple[dict[str, pa.Table], dict[str, dict[str, np.ndarray]]]:
    """The batch's tables and derived checks without the ``failed`` articles (their
    sentences and quotations too), each article one ``failed_expectation`` quarantine row
    naming what failed, and the batch's accounting moved from articles to quarantined. An
    article's checks read only its own rows, so the others' stand as computed."""
    articles = tables["articles"]
    out = articles.filter(pc.is_in(articles["article_id"], value_set=pa.array(list(failed))))
    rows = [
        {
            "source_name": row["source_name"],
            "input_path": row["input_path"],
            "reason": ingest.FAILED_EXPECTATION,
            "detail": f"article {row['article_id']}: " + "; ".join(failed[row["article_id"]]),
        }
        for row in out.select(["article_id", "source_name", "input_path"]).to_pylist()
    ]
    kept_tables = dict(tables)
    kept_checks = dict(checks)
    for name in validate.PER_ARTICLE:
        keep = pc.invert(pc.is_in(tables[name]["article_id"], value_set=out["article_id"]))
        kept_tables[name] = tables[name].filter(keep)
        mask = np.asarray(keep.fill_null(True))
        kept_checks[name] = {c: v[mask] for c, v in checks.get(name, {}).items()}
    quarantine = [*job.quarantine, *rows]
    counts = dataclasses.replace(
        job.counts,
        articles=job.counts.articles - len(rows),
        quarantined=job.counts.quarantined + len(rows),
    )
    kept_tables["quarantine"] = tabulate.build_quarantine(quarantine)
    kept_tables["runs"] = tabulate.build_run_summary(
        counts, quarantine, run_id=job.run_id, started_at=job.started_at
    )
    return kept_tables, kept_checks


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None elsewhere. (Not ``ctypes.util.find_library``: it
    forks a process to ask ``ldconfig``.)"""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_memory() -> None:
    """Give the batch's freed memory back to the system (glibc keeps freed pages of its heap
    otherwise, and a process's RSS would stay at its largest batch)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@dataclass(frozen=True)
class RunDelta:
    """A run's new rows over all its batches, as the end of the run needs them."""

    tables: dict[str, pa.Table]  # articles/sentences: validation frames; quotes, quarantine,
    # runs (one row): whole; claims, speakers: empty (recomputed over the whole dataset)
    checks: dict[str, dict[str, np.ndarray]]
    problems: dict[str, list[str]]
    schemas: dict[str, list[pa.Schema]]  # the distinct Arrow schemas each table was built in


def read_frame(staging: Staging, name: str, file: str) -> pa.Table:
    """The validation frame of a part a batch wrote under ``staging``: read back from the
    file, its columns but the text (Parquet reads only those), as ``validate.frame`` makes."""
    table = staging.read(name, file, list(validate.FRAME_COLUMNS[name]))
    return validate.frame(name, table.replace_schema_metadata(tabulate.SCHEMAS[name].metadata))


def merge_results(results: Sequence[BatchResult], staging: Staging) -> RunDelta:
    """The batches' results in batch order, concatenated. A run always has one at least (a
    run without input runs one empty batch, so its ``runs`` row carries the run's id).

    The validation frames of the parts the batches wrote are read back from ``staging``: what
    is validated is what was written, and the run's process holds no frame of them while its
    batches run (~0.6 KB an article)."""
    if not results:
        raise ValueError("no batch results to merge")

    def frame_of(r: BatchResult, name: str) -> pa.Table:
        if name in r.frames:
            return r.frames[name]
        return read_frame(staging, name, r.parts[name][0])

    tables = {
        name: pa.concat_tables([frame_of(r, name) for r in results])
        for name in (*WRITTEN_BY_BATCH, *RETURNED)
    }
    tables["runs"] = tabulate.combine_run_summaries([r.runs for r in results])
    tables["claims"] = tabulate.SCHEMAS["claims"].empty_table()
    tables["speakers"] = tabulate.build_speakers({})
    checks: dict[str, dict[str, np.ndarray]] = {}
    for name in results[0].checks:
        columns = results[0].checks[name]
        checks[name] = {c: np.concatenate([r.checks[name][c] for r in results]) for c in columns}
    problems: dict[str, list[str]] = {}
    schemas: dict[str, list[pa.Schema]] = {}
    for r in results:
        for name, items in r.problems.items():
            known_problems = problems.setdefault(name, [])
            known_problems.extend(p for p in items if p not in known_problems)
        for name, schema in r.schemas.items():
            known = schemas.setdefault(name, [])
            if not any(schema.equals(s) for s in known):
                known.append(schema)
    return RunDelta(tables=tables, checks=checks, problems=problems, schemas=schemas)
