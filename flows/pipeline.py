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
- Only the tasks that touch the disk (finding inputs, publishing) retry, with backoff.
  Reading is streamed by ``ingest.iter_inputs`` in the flow itself: a generator cannot be
  retried halfway, and bad input is quarantined rather than raised.
- Validation gates publishing: when an expectation fails nothing is written to ``out``
  except the Data Docs under ``<out>/validation/`` (the previous run's tables and
  ``_SUCCESS`` stay as they were), and the flow raises ``ValidationFailed`` naming the
  failed expectations and the Data Docs. Either way the validation summary is kept on the
  flow run as the Markdown artifact ``isnad-validation``.
- Accounting: each batch carries ingest's counts (inputs seen, articles, quarantined,
  exact duplicates) into its ``run_summary`` row; ``merge`` adds them up, and validation
  checks inputs seen = articles + quarantined + exact duplicates against the tables.
"""

from __future__ import annotations

import datetime as dt
import time
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

from pipelines import analyse, claims, ingest, validate, write
from pipelines import report as report_page
from pipelines.records import Article, ArticleAnalysis, InputCounts

# Disk I/O can fail for passing reasons (NFS, a full disk being cleaned): 3 tries more,
# ~1 s, 2 s, 4 s apart, jittered.
_IO_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=1),
    "retry_jitter_factor": 0.5,
}


class ValidationFailed(RuntimeError):
    """The tables broke expectations: nothing was published."""

    def __init__(self, failed: Sequence[str], docs_path: str | None) -> None:
        self.failed = list(failed)
        self.docs_path = docs_path
        lines = [f"validation failed, nothing published; {len(self.failed)} expectation(s):"]
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
def merge(parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    return merge_batch_tables(parts)


@task(cache_policy=NO_CACHE)
def check(tables: dict[str, pa.Table], docs_dir: str) -> validate.ValidationReport:
    return validate.validate_tables(tables, docs_dir)


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def publish(tables: dict[str, pa.Table], out: str) -> dict[str, str]:
    return write.publish_tables(tables, out)


def merge_batch_tables(parts: Sequence[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    """One set of tables from per-batch sets: rows concatenated, speaker counts summed.

    ``speakers`` is the registry with a per-run ``n_quotes``: every batch holds the same
    rows in the same order, so the first batch's rows are kept with the counts added up.
    ``run_summary`` is one row a batch: the rows are added up into one.
    """
    if not parts:
        return write.build_tables([], [])
    merged = {
        name: pa.concat_tables([part[name] for part in parts])
        for name in parts[0]
        if name not in ("speakers", "run_summary")
    }
    merged["run_summary"] = write.combine_run_summaries([part["run_summary"] for part in parts])
    speakers = parts[0]["speakers"]
    n_quotes = speakers.column("n_quotes")
    for part in parts[1:]:
        n_quotes = pc.add(n_quotes, part["speakers"].column("n_quotes"))
    column = speakers.schema.get_field_index("n_quotes")
    merged["speakers"] = speakers.set_column(column, speakers.schema.field(column), n_quotes)
    return {name: merged[name] for name in parts[0]}


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def previous_claims(out: str) -> pa.Table | None:
    return claims.read_previous_claims(out)


@task(cache_policy=NO_CACHE)
def cluster_claims(tables: dict[str, pa.Table], previous: pa.Table | None) -> dict[str, pa.Table]:
    return claims.attach_claims(tables, previous)


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def write_report(
    tables: dict[str, pa.Table], validation: dict, out: str, paths: dict[str, str]
) -> str:
    return report_page.render_report(tables, validation, out, paths)


class _StageClock:
    """Seconds spent in each stage over all batches (the benchmark prints them)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now


def _speaker_artifact(tables: dict[str, pa.Table], report: validate.ValidationReport) -> str:
    """A Markdown table of quotations per speaker and type, with the validation result."""
    rows = tables["quotes"].select(["speaker_id", "quote_type"]).to_pylist()
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        by_type = counts.setdefault(row["speaker_id"] or "other", {})
        by_type[row["quote_type"]] = by_type.get(row["quote_type"], 0) + 1
    types = ("direct", "indirect", "mixed", "nominal", "headline")
    lines = [
        f"**validation:** {'passed' if report.success else 'FAILED'}",
        "",
        "| speaker | " + " | ".join(types) + " | total |",
        "|---|" + "---|" * (len(types) + 1),
    ]
    for speaker in sorted(counts):
        by_type = counts[speaker]
        cells = [str(by_type.get(t, 0)) for t in types]
        lines.append(f"| {speaker} | " + " | ".join(cells) + f" | {sum(by_type.values())} |")
    return "\n".join(lines)


@flow(name="isnad")
def isnad_flow(
    inputs: list[str],
    out: str,
    batch_size: int = 500,
    max_bytes: int = ingest.DEFAULT_MAX_BYTES,
) -> dict[str, Any]:
    """Read ``inputs``, find the five speakers' quotations, publish the tables under ``out``.

    ``max_bytes`` caps a .txt/.html file, a JSONL line and a record's text (larger ones are
    quarantined as ``too_large``).
    """
    logger = get_run_logger()
    started = time.perf_counter()
    run_id = flow_run.get_id() or None
    started_at = dt.datetime.now(dt.UTC)
    files = find_inputs(inputs)
    logger.info("%d input file(s) under %s", len(files), ", ".join(inputs))

    parts: list[dict[str, pa.Table]] = []
    clock = _StageClock()
    batches = ingest.iter_batches(files, batch_size, max_bytes=max_bytes)
    for number, batch in enumerate(batches, 1):
        clock.lap("ingest")
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
            "batch %d: %d articles, %d quarantined, %d exact duplicates, %d quotes",
            number,
            len(batch.articles),
            len(batch.quarantine),
            batch.counts.exact_duplicates,
            parts[-1]["quotes"].num_rows,
        )
    tables = merge(quote(parts))
    del parts
    clock.lap("tables")
    tables = cluster_claims(quote(tables), previous_claims(out))
    clock.lap("claims")

    docs_dir = str(Path(out) / "validation")
    report = check(quote(tables), docs_dir)
    clock.lap("validate")
    create_markdown_artifact(report.summary(), key="isnad-validation")
    create_markdown_artifact(_speaker_artifact(tables, report), key="isnad-quotes-by-speaker")
    if not report.success:
        logger.error("validation failed: %s", "; ".join(report.failed))
        # Beside the Data Docs, not over the published report: a failed run publishes nothing.
        write_report(quote(tables), report.to_dict(), docs_dir, {})
        raise ValidationFailed(report.failed, report.docs_path)
    paths = publish(quote(tables), out)
    clock.lap("write")
    report_path = write_report(quote(tables), report.to_dict(), out, paths)
    clock.lap("report")

    (accounting,) = tables["run_summary"].to_pylist()
    speakers = tables["speakers"].select(["speaker_id", "n_quotes"]).to_pydict()
    quotes_by_speaker = dict(zip(speakers["speaker_id"], speakers["n_quotes"], strict=True))
    quotes_by_speaker["other"] = tables["quotes"].column("speaker_id").null_count
    summary = {
        "inputs_seen": accounting["inputs_seen"],
        "exact_duplicates": accounting["exact_duplicates"],
        "quarantined_by_reason": {
            item["reason"]: item["count"] for item in accounting["quarantined_by_reason"]
        },
        "articles": tables["articles"].num_rows,
        "sentences": tables["sentences"].num_rows,
        "quotes": tables["quotes"].num_rows,
        "quotes_by_speaker": {k: v for k, v in quotes_by_speaker.items() if v},
        "quarantined": tables["quarantine"].num_rows,
        "claims": tables["claims"].num_rows,
        "report_path": report_path,
        "stage_seconds": {k: round(v, 2) for k, v in clock.seconds.items()},
        "validation_success": report.success,
        "docs_path": report.docs_path,
        "paths": paths,
        "seconds": round(time.perf_counter() - started, 2),
    }
    logger.info("published %s", summary)
    return summary
