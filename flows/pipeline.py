"""The isnad flow: inputs in batches -> four text stages -> tables -> validation -> Parquet.

Wiring only: every task wraps one ``pipelines`` function. Design notes:

- Tasks get whole batches, so Prefect's per-task cost (~5 ms) is paid four times per batch,
  not per article. Batches are passed wrapped in ``quote()``: otherwise Prefect walks every
  Article and Sentence of a batch to track dependencies, which measured ~0.4 s per task for
  a batch of 500 articles. ``NO_CACHE`` keeps Prefect from hashing the batches for a cache
  key (results are not persisted, so a key would be useless anyway).
- Tasks are called, not submitted: the stages of a batch depend on each other, and the
  work is pure Python, so threads would not run two batches at once; resolving futures
  would walk the batches again. The flow's task runner is therefore the default one.
- Each batch is turned into Arrow tables as soon as it is analysed (``write.build_tables``)
  and the Python records are dropped, so memory follows the Arrow size of the output, not
  the much larger size of the records; the batch tables are concatenated at the end.
- Only the tasks that touch the disk (finding inputs, reading the published dataset,
  publishing, the report) retry, with backoff. Reading is streamed by
  ``ingest.iter_batches`` in the flow itself: a generator cannot be retried halfway, and bad
  input is quarantined rather than raised.
- Incremental, crash-safe, one writer at a time (``pipelines.dataset``,
  ``pipelines.incremental``): the run holds ``<out>/.lock`` from start to end (another run
  waits up to ``lock_timeout`` seconds, then fails with ``DatasetLocked``); it reads the
  published article ids and skips those articles (and quarantine rows already recorded)
  before the text stages; it publishes its new rows, with claims and speakers recomputed
  over the whole dataset, as one new version, committed by one atomic rename.
- Validation gates publishing: when an expectation fails, no table gains a row; the run is
  recorded in ``runs`` (validation "failed", the failed expectations) and the flow raises
  ``ValidationFailed`` naming the failed expectations and the Data Docs
  (``<out>/validation/``). Either way the validation summary is kept on the flow run as the
  Markdown artifact ``isnad-validation``, and quotations per speaker (the run's, the
  dataset's) with the validation result as ``isnad-quotes-by-speaker``.
- Accounting: each batch carries ingest's counts (inputs seen, articles, quarantined,
  exact duplicates, already published) into its ``runs`` row; ``merge`` adds them up, and
  validation checks inputs seen = articles + quarantined + exact duplicates + already
  published against the run's new rows.
"""

from __future__ import annotations

import datetime as dt
import pickle
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff
from prefect.utilities.annotations import quote

from pipelines import analyse, dataset, incremental, ingest, validate, write
from pipelines import report as report_page
from pipelines.records import SPEAKER_IDS, Article, ArticleAnalysis, InputCounts


def _io_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry errors of the disk (OSError, Arrow's I/O errors), not a program error or a
    dataset isnad cannot use as it stands (``DatasetError``): a retry cannot fix those."""
    return isinstance(state.data, OSError)


# Disk I/O can fail for passing reasons (NFS, a full disk being cleaned): 3 tries more,
# ~1 s, 2 s, 4 s apart, jittered.
_IO_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=1),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": _io_error,
}


class ValidationFailed(RuntimeError):
    """The tables broke expectations: no table gained a row (``runs`` records the run)."""

    def __init__(self, failed: Sequence[str], docs_path: str | None) -> None:
        self.failed = list(failed)
        self.docs_path = docs_path
        lines = [
            "validation failed, no rows added (the run is recorded in `runs`); "
            f"{len(self.failed)} expectation(s):"
        ]
        lines += [f"  - {item}" for item in self.failed]
        lines.append(f"Data Docs: {docs_path or '(not built)'}")
        super().__init__("\n".join(lines))


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def find_inputs(inputs: list[str]) -> list[str]:
    return [str(path) for path in ingest.find_input_files(inputs)]


@task(cache_policy=NO_CACHE)
def clean(articles: list[Article]) -> list[Any]:
    return analyse.clean_articles(articles)


@task(cache_policy=NO_CACHE)
def segment(cleaned: list[Any]) -> list[Any]:
    return analyse.segment_articles(cleaned)


@task(cache_policy=NO_CACHE)
def detect(segmented: list[Any]) -> list[Any]:
    return analyse.detect_quotations(segmented)


@task(cache_policy=NO_CACHE)
def attribute(detected: list[Any]) -> list[ArticleAnalysis]:
    return analyse.attribute_quotations(detected)


@task(cache_policy=NO_CACHE)
def tabulate(
    analyses: list[ArticleAnalysis],
    quarantine: list[dict],
    counts: InputCounts | None = None,
    run_id: str | None = None,
    started_at: dt.datetime | None = None,
) -> dict[str, pa.Table]:
    return write.build_tables(analyses, quarantine, counts, run_id=run_id, started_at=started_at)


@task(cache_policy=NO_CACHE)
def analyse_batch(payload: bytes) -> dict[str, pa.Table]:
    """All text stages and the batch's tables in one task: the chunk a Dask worker gets
    (a task there costs 125-210 ms, so it must carry a whole batch). The batch travels
    pickled: Prefect's parameter handling would turn slotted records into tuples."""
    articles, quarantine, counts, run_id, started_at = pickle.loads(payload)
    analyses = analyse.analyse_articles(articles)
    return write.build_tables(analyses, quarantine, counts, run_id=run_id, started_at=started_at)


@task(cache_policy=NO_CACHE)
def merge(parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    return merge_batch_tables(parts)


@task(cache_policy=NO_CACHE)
def check(
    tables: dict[str, pa.Table], docs_dir: str, lookups: dict[str, pa.Table]
) -> validate.ValidationReport:
    return validate.validate_tables(tables, docs_dir, lookups=lookups)


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def read_published(out: str) -> incremental.Published:
    return incremental.read_published(out)


@task(cache_policy=NO_CACHE)
def extend(delta: dict[str, pa.Table], published: incremental.Published) -> incremental.Update:
    return incremental.plan_update(delta, published)


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def publish(
    update: incremental.Update, run_row: pa.Table, out: str, run_id: str
) -> dataset.Manifest:
    """Commit the run's rows and its ``runs`` row as one version (idempotent per run id)."""
    return dataset.publish(
        out,
        run_id,
        append=update.append,
        replace={**update.replace, "runs": update.runs_table(run_row)},
        rewrite=update.rewrite,
    )


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def record_failed_run(
    update: incremental.Update, run_row: pa.Table, out: str, run_id: str
) -> dataset.Manifest:
    """Commit a version where only ``runs`` changed: the failed run's row."""
    return dataset.publish(out, run_id, replace={"runs": update.runs_table(run_row)})


def merge_batch_tables(parts: Sequence[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    """One set of tables from per-batch sets: rows concatenated, speaker counts summed.

    ``speakers`` is the registry with a per-run ``n_quotes``: every batch holds the same
    rows in the same order, so the first batch's rows are kept with the counts added up.
    ``runs`` is one row a batch: the rows are added up into one.
    """
    if not parts:
        return write.build_tables([], [])
    merged = {
        name: pa.concat_tables([part[name] for part in parts])
        for name in parts[0]
        if name not in ("speakers", "runs")
    }
    merged["runs"] = write.combine_run_summaries([part["runs"] for part in parts])
    speakers = parts[0]["speakers"]
    n_quotes = speakers.column("n_quotes")
    for part in parts[1:]:
        n_quotes = pc.add(n_quotes, part["speakers"].column("n_quotes"))
    column = speakers.schema.get_field_index("n_quotes")
    merged["speakers"] = speakers.set_column(column, speakers.schema.field(column), n_quotes)
    return {name: merged[name] for name in parts[0]}


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def write_report(
    tables: dict[str, pa.Table] | None,
    validation: dict,
    out: str,
    paths: dict[str, str],
    run_id: str,
) -> str:
    """The report page under ``out``; over the published dataset when ``tables`` is None."""
    if tables is None:
        tables = dataset.read_tables(out, columns=REPORT_COLUMNS)
    return report_page.render_report(tables, validation, out, paths, run_id=run_id)


# The report reads no text but the quotations' (sentences: only its row count).
REPORT_COLUMNS: dict[str, list[str]] = {
    "articles": ["article_id", "source_name", "title", "source", "url", "published_date"],
    "sentences": ["sentence_index"],
}


class _StageClock:
    """Seconds spent in each stage over all batches (the benchmark prints them)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now


def _speaker_artifact(
    update: incremental.Update, report: validate.ValidationReport, run_row: pa.Table
) -> str:
    """Markdown: quotations per speaker (the run's new ones and the whole dataset's), the
    run's accounting and the validation result."""
    (run,) = run_row.to_pylist()
    new = Counter(s or "other" for s in update.append["quotes"].column("speaker_id").to_pylist())
    total = Counter(s or "other" for s in update.quotes.column("speaker_id").to_pylist())
    claims = Counter(update.replace["claims"].column("speaker_id").to_pylist())
    lines = [
        f"**validation:** {'passed' if report.success else 'FAILED'}"
        + ("" if report.success else " (no rows added): " + "; ".join(report.failed[:5])),
        "",
        f"inputs seen {run['inputs_seen']} = {run['articles']} new articles"
        f" + {run['quarantined']} quarantined + {run['exact_duplicates']} exact duplicates"
        f" + {run['already_published']} already published",
        "",
        "| speaker | new quotations | quotations in dataset | claims in dataset |",
        "|---|---|---|---|",
    ]
    speakers = [*SPEAKER_IDS, "other"]
    for speaker in speakers:
        lines.append(
            f"| {speaker} | {new.get(speaker, 0)} | {total.get(speaker, 0)} | "
            f"{claims.get(speaker, 0) if speaker != 'other' else '-'} |"
        )
    lines.append(
        f"| **total** | {sum(new.values())} | {sum(total.values())} | {sum(claims.values())} |"
    )
    return "\n".join(lines)


@flow(name="isnad")
def isnad_flow(
    inputs: list[str],
    out: str,
    batch_size: int = 500,
    max_bytes: int = ingest.DEFAULT_MAX_BYTES,
    lock_timeout: float = 0.0,
    scale_out: bool = False,
) -> dict[str, Any]:
    """Read ``inputs``, find the five speakers' quotations in the articles not published
    yet, and add them to the dataset under ``out``.

    ``max_bytes`` caps a .txt/.html file, a JSONL line and a record's text (larger ones are
    quarantined as ``too_large``). ``lock_timeout``: seconds to wait for another run
    writing to ``out`` before failing with ``DatasetLocked``. ``scale_out``: submit one
    chunky task per batch to the flow's task runner (a DaskTaskRunner from ``isnad run
    --dask``) instead of running the stages in this process.
    """
    run_id = flow_run.get_id() or uuid.uuid4().hex
    with dataset.locked(out, timeout=lock_timeout, run_id=run_id):
        return _run(inputs, out, batch_size, max_bytes, run_id, scale_out)


def _run(
    inputs: list[str], out: str, batch_size: int, max_bytes: int, run_id: str, scale_out: bool
) -> dict:
    """The flow's body, under the dataset's lock."""
    logger = get_run_logger()
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    clock = _StageClock()
    published = read_published(out)
    files = find_inputs(inputs)
    logger.info(
        "%d input file(s) under %s; dataset version %d with %d articles",
        len(files),
        ", ".join(inputs),
        published.version,
        len(published.article_ids),
    )
    clock.lap("ingest")

    parts: list[dict[str, pa.Table]] = []
    batches = ingest.iter_batches(files, batch_size, max_bytes=max_bytes)
    futures = []
    for number, read in enumerate(batches, 1):
        batch = incremental.skip_published(read, published)
        clock.lap("ingest")
        if scale_out:
            payload = (batch.articles, batch.quarantine, batch.counts, run_id, started_at)
            futures.append(analyse_batch.submit(pickle.dumps(payload)))
            continue
        analyses: list[ArticleAnalysis] = []
        if batch.articles:
            cleaned = clean(quote(batch.articles))
            clock.lap("clean")
            segmented = segment(quote(cleaned))
            clock.lap("segment")
            detected = detect(quote(segmented))
            clock.lap("quotes")
            analyses = attribute(quote(detected))
            clock.lap("attribute")
        parts.append(tabulate(quote(analyses), batch.quarantine, batch.counts, run_id, started_at))
        clock.lap("tables")
        logger.info(
            "batch %d: %d new articles, %d quarantined, %d exact duplicates, "
            "%d already published, %d quotes",
            number,
            len(batch.articles),
            len(batch.quarantine),
            batch.counts.exact_duplicates,
            batch.counts.already_published,
            parts[-1]["quotes"].num_rows,
        )
    if futures:  # results in batch order, whatever order the workers finished in
        parts = [future.result() for future in futures]
        clock.lap("analyse (workers)")
    delta = merge(quote(parts))
    del parts
    clock.lap("tables")
    update = extend(quote(delta), quote(published))
    clock.lap("claims")

    docs_dir = str(Path(out) / "validation")
    report = check(quote(update.validation_tables()), docs_dir, quote(update.lookups))
    clock.lap("validate")
    run_row = write.finish_run_row(
        update.run,
        ended_at=dt.datetime.now(dt.UTC),
        validation="passed" if report.success else "failed",
        failed_expectations=list(report.failed),
        dataset_version=update.version,
    )
    create_markdown_artifact(report.summary(), key="isnad-validation")
    create_markdown_artifact(
        _speaker_artifact(update, report, run_row), key="isnad-quotes-by-speaker"
    )
    if not report.success:
        logger.error("validation failed: %s", "; ".join(report.failed))
        failed_row = write.finish_run_row(
            run_row, table_rows=incremental.failed_table_rows(published)
        )
        try:
            record_failed_run(quote(update), failed_row, out, run_id)
        except Exception:  # the failure to report is the validation's, not this one's
            logger.exception("could not record the failed run in %s/runs", out)
        # Beside the Data Docs, not over the published report: a failed run adds no rows.
        write_report(quote(update.validation_tables()), report.to_dict(), docs_dir, {}, run_id)
        raise ValidationFailed(report.failed, report.docs_path)
    manifest = publish(quote(update), run_row, out, run_id)
    clock.lap("write")
    paths = dataset.table_paths(out, write.TABLE_NAMES)
    report_path = write_report(None, report.to_dict(), out, paths, run_id)
    clock.lap("report")

    (accounting,) = run_row.to_pylist()
    new_quotes = update.append["quotes"]
    by_speaker = Counter(new_quotes.column("speaker_id").to_pylist())
    quotes_by_speaker = {s: by_speaker[s] for s in SPEAKER_IDS if by_speaker[s]}
    if by_speaker[None]:
        quotes_by_speaker["other"] = by_speaker[None]
    summary = {
        "run_id": run_id,
        "inputs_seen": accounting["inputs_seen"],
        "exact_duplicates": accounting["exact_duplicates"],
        "already_published": accounting["already_published"],
        "quarantined_by_reason": {
            item["reason"]: item["count"] for item in accounting["quarantined_by_reason"]
        },
        "articles": update.append["articles"].num_rows,
        "sentences": update.append["sentences"].num_rows,
        "quotes": new_quotes.num_rows,
        "quotes_by_speaker": quotes_by_speaker,
        "quarantined": update.append["quarantine"].num_rows,
        "claims": update.replace["claims"].num_rows,
        "dataset_version": manifest.version,
        "dataset_rows": {name: manifest.rows(name) for name in write.TABLE_NAMES},
        "report_path": report_path,
        "stage_seconds": {k: round(v, 2) for k, v in clock.seconds.items()},
        "validation_success": report.success,
        "docs_path": report.docs_path,
        "paths": paths,
        "seconds": round(time.perf_counter() - started, 2),
    }
    logger.info("published %s", summary)
    return summary
