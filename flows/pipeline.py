"""The isnad flow: inputs in batches -> four text stages -> tables -> validation -> Parquet.

Wiring only: every task wraps one ``pipelines`` function. Design notes:

- One task a batch, or ``batches_per_task`` of them (``analyse_batches`` ->
  ``stream.run_batch``): the four text stages, the batch's tables, the derived checks over
  its rows, and the writing of its ``articles`` and ``sentences`` parts into the run's
  staged version. A batch is a chunk big enough to pay for a task anywhere (2 ms in this
  process, ~40 ms in a pool worker, 125-210 ms on Dask). To another process it travels
  pickled, both ways: Prefect would otherwise walk every record of a batch to track
  dependencies (~0.4 s a task for 500 articles) and turn slotted records into tuples. A batch
  this process takes itself (``analyse_here``) is passed ``quote``d and never pickled.
  ``NO_CACHE`` keeps Prefect from hashing payloads for a cache key.
- Where batches run: called in this process by default; submitted to the flow's task
  runner with ``scale_out`` (``isnad run --workers N``: Prefect's process pool; ``--dask``:
  a DaskTaskRunner), with at most ``in_flight`` tasks out, so reading never runs far ahead
  of the workers, and collected in batch order, so parts and rows keep the input order
  whichever worker finished first: the scheduling is ``pipelines.batches``' (Prefect-free),
  given the tasks as callables (``_runner``). The process pool is shut down once every
  batch is in.
- Memory: what comes back from a batch is small (its derived check columns, quotations,
  counts); the text of the corpus is never held by this process beyond the batches in
  flight, and the validation frames of articles and sentences are read back from the
  staged parts once every batch is in.
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
  exact duplicates, already published) into its ``runs`` row; ``stream.merge_results`` adds
  them up, and validation checks inputs seen = articles + quarantined + exact duplicates +
  already published against the run's new rows. The flow returns a
  ``flows.summary.RunSummary``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import pyarrow as pa
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff
from prefect.utilities.annotations import quote as prefect_quote

from flows.summary import RunCounts, RunSummary, StageClock
from pipelines import batches, incremental, ingest, speakers, stream, tabulate, validate
from pipelines import report as report_page
from pipelines.records import InputCounts
from pipelines.speakers import speaker_ids
from pipelines.store import DatasetError, LocalStore, Manifest, Store, Transaction, open_store

_T = TypeVar("_T")


def quote(value: _T) -> _T:
    """Prefect's ``quote``, typed as the value it wraps: the task receives ``value`` itself,
    and Prefect does not walk it looking for futures to resolve."""
    return cast(_T, prefect_quote(value))


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


class RegistryMismatch(DatasetError):
    """The dataset under --out was made with another speaker registry."""


def published_registry(published: incremental.Published) -> str | None:
    """The registry_hash of the dataset's last published run (None: nothing published)."""
    runs = published.runs
    if runs is None or runs.num_rows == 0 or "registry_hash" not in runs.column_names:
        return None
    passed = [
        digest
        for digest, outcome in zip(
            runs.column("registry_hash").to_pylist(),
            runs.column("validation").to_pylist(),
            strict=True,
        )
        if outcome == "passed"
    ]
    return passed[-1] if passed else None


def check_registry_of(published: incremental.Published, out: str) -> None:
    """Stop a run whose registry is not the one the dataset under ``out`` was made with: its
    speakers table, value sets and quotes would mix two registries silently."""
    before = published_registry(published)
    current = speakers.load_registry()
    if before is not None and before != current.digest:
        raise RegistryMismatch(
            f"the dataset in {out} was made with another speaker registry "
            f"(registry_hash {before[:12]}…; this run's registry {current.path} is "
            f"{current.digest[:12]}…). A dataset holds one registry's quotations: run with "
            "the registry it was made with, write to a new --out, or pass --new-dataset to "
            "set the published dataset aside and start a new one."
        )


def _set_aside_other_registry(store: Store) -> bool:
    """For ``new_dataset``: rename a dataset published with another registry to
    ``<out>.before-<UTC time>``, so this run starts a new one (nothing is deleted); True if
    it did."""
    if published_registry(incremental.read_published(store)) in (
        None,
        speakers.load_registry().digest,
    ):
        return False
    if not isinstance(store, LocalStore):
        raise RegistryMismatch(
            f"--new-dataset cannot set aside a remote dataset ({store.display}): write to a "
            "new --out"
        )
    aside = f"{store.root}.before-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    os.replace(store.root, aside)
    get_run_logger().warning("the dataset made with another registry is now in %s", aside)
    return True


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def find_inputs(inputs: list[str]) -> list[str]:
    return [str(path) for path in ingest.find_input_files(inputs)]


@task(cache_policy=NO_CACHE)
def analyse_here(jobs: list[stream.BatchJob]) -> list[stream.BatchResult]:
    """Batches start to finish in this process (``stream.run_batch``), as
    :func:`analyse_batches` runs them elsewhere. Called with the jobs ``quote``d, so Prefect
    does not walk their records; nothing is pickled."""
    return [stream.run_batch(job) for job in jobs]


@task(cache_policy=NO_CACHE)
def analyse_batches(payload: bytes) -> bytes:
    """Batches start to finish, one after the other (``stream.run_batch``): text stages,
    tables, derived checks, their articles and sentences parts written into the staged
    version. A task takes several batches when it runs in a worker process, where Prefect
    pays ~40 ms a task (a fresh API client, settings, context), 125-210 ms on Dask, while a
    batch bounds the memory of its analysis. Jobs and results travel pickled both ways:
    Prefect's parameter handling would turn slotted records into tuples, and would walk
    every record to track dependencies."""
    jobs: list[stream.BatchJob] = batches.unpack(payload)
    return batches.pack([stream.run_batch(job) for job in jobs])


@task(cache_policy=NO_CACHE)
def check(
    tables: dict[str, pa.Table],
    docs_dir: str,
    lookups: dict[str, pa.Table],
    delta: stream.RunDelta,
    run_date: dt.date | None = None,
) -> validate.ValidationReport:
    """Validate the run's new rows (articles and sentences as their validation frames, with
    the derived checks their batches computed) and the recomputed claims and speakers;
    dates are bounded by ``run_date`` (UTC), as ingest bounded them."""
    return validate.validate_tables(
        tables,
        docs_dir,
        today=run_date,
        lookups=lookups,
        precomputed=delta.checks,
        problems=delta.problems,
        schemas=delta.schemas,
    )


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def read_published(store: Store) -> incremental.Published:
    return incremental.read_published(store)


@task(cache_policy=NO_CACHE)
def extend(delta: dict[str, pa.Table], published: incremental.Published) -> incremental.Update:
    return incremental.plan_update(delta, published)


@task(cache_policy=NO_CACHE)
def publish(txn: Transaction, update: incremental.Update, run_row: pa.Table) -> Manifest:
    """Add the run's quotes, quarantine rows, claims, speakers and ``runs`` row to the staged
    version that already holds its articles and sentences parts, and commit it. (Not
    retried: a commit that failed half way leaves the staging to the next run's clean-up.)"""
    for name in incremental.APPENDED:
        if name in stream.WRITTEN_BY_BATCH:  # its parts are staged; make sure the table exists
            txn.append(name, tabulate.SCHEMAS[name].empty_table())
            continue
        txn.append(name, update.append[name])
    for name, table in {**update.replace, "runs": update.runs_table(run_row)}.items():
        txn.replace(name, table)
    for name, parts in update.rewrite.items():
        for file, table in parts.items():
            txn.rewrite(name, file, table)
    return txn.commit()


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def record_failed_run(
    update: incremental.Update, run_row: pa.Table, store: Store, run_id: str
) -> Manifest:
    """Commit a version where only ``runs`` changed: the failed run's row."""
    return store.publish(run_id, replace={"runs": update.runs_table(run_row)})


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def write_report(
    tables: dict[str, pa.Table] | None,
    validation: dict,
    store: Store,
    paths: dict[str, str],
    run_id: str,
) -> str:
    """The report page under the store's ``<out>``; over the published dataset when
    ``tables`` is None. (Made in a local directory, then copied, where the store is not.)"""
    if tables is None:
        tables = store.read_tables(columns=REPORT_COLUMNS)
    local = store.output_dir(report_page.REPORT_DIR)
    path = report_page.render_report(
        tables, validation, str(Path(local).parent), paths, run_id=run_id
    )
    uri = store.publish_dir(local, report_page.REPORT_DIR)
    return path if uri is None else f"{uri}/{report_page.REPORT_FILE}"


def _docs_published(
    report: validate.ValidationReport, docs_dir: str, store: Store
) -> validate.ValidationReport:
    """``report``, its Data Docs copied to ``<out>/validation`` when the store had them built
    elsewhere (``Store.output_dir``; GE builds them in a local directory). A copy that fails
    is logged, and the local Data Docs are kept and named: the run's outcome is not the
    copy's."""
    try:
        uri = store.publish_dir(docs_dir, "validation")
    except OSError:
        get_run_logger().exception(
            "could not copy the Data Docs in %s to %s", docs_dir, store.display
        )
        return report
    if uri is None:  # built in place
        return report
    return dataclasses.replace(report, docs_path=f"{uri}/index.html" if report.docs_path else None)


def _artifact(markdown: str, key: str) -> None:
    """A Markdown artifact on the flow run, if Prefect's API takes it: the dataset does not
    depend on the API, so an API that stopped answering costs the artifact, not the run's
    validated work (and, once one call failed, no further wait on it)."""
    if BODY.api_lost:
        return
    try:
        create_markdown_artifact(markdown, key=key)
    except Exception as exc:
        BODY.api_lost = True
        get_run_logger().warning("Prefect did not take the artifact %s: %s", key, exc)


# The report reads no text but the quotations' (sentences: only its row count).
REPORT_COLUMNS: dict[str, list[str]] = {
    "articles": ["article_id", "source_name", "title", "source", "url", "published_date"],
    "sentences": ["sentence_index"],
}


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
    for speaker in [*speaker_ids(), "other"]:
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
    batch_size: int = 2000,
    max_bytes: int = ingest.DEFAULT_MAX_BYTES,
    lock_timeout: float = 0.0,
    scale_out: bool = False,
    in_flight: int | None = None,
    run_here: bool = False,
    batches_per_task: int = 1,
    registry: str | None = None,
    new_dataset: bool = False,
) -> RunSummary:
    """Read ``inputs``, find the registry's speakers' quotations in the articles not
    published yet, and add them to the dataset under ``out``.

    ``registry``: the speaker registry file (default: the one shipped,
    ``pipelines/lexicons/registries/default.json``). A dataset holds one registry's runs:
    a run with another registry into a published ``out`` stops with
    :class:`RegistryMismatch`, unless ``new_dataset``, which sets the published dataset
    aside (renamed ``<out>.before-<time>``; a local ``out`` only) and starts a new one.

    ``max_bytes`` caps a .txt/.html file, a JSONL line and a record's text (larger ones are
    quarantined as ``too_large``). ``lock_timeout``: seconds to wait for another run
    writing to ``out`` before failing with ``DatasetLocked``. ``scale_out``: submit each
    batch to the flow's task runner (a process pool or a DaskTaskRunner, from ``isnad run
    --workers/--dask``) instead of running it in this process, with at most ``in_flight``
    tasks submitted and not yet collected (default: cores + 1), so that reading never
    runs far ahead of the workers. ``run_here``: while that many are out, this process
    analyses the next batches itself instead of waiting (``isnad run --workers N`` starts N - 1
    worker processes and counts this one). ``batches_per_task``: with ``scale_out``, the
    batches a task takes, one after the other (a worker pays Prefect's cost of a task, ~40
    ms in a process pool, once for them; a batch still bounds the memory of its analysis).
    """
    run_id = flow_run.get_id() or uuid.uuid4().hex
    BODY.begin(run_id)
    try:
        with _sigterm_noticed():
            speakers.use_registry(registry)  # workers started from now on inherit it
            store = open_store(out)
            store.check_arguments(inputs)
            store.check_output()
            if new_dataset and _set_aside_other_registry(store):
                store = open_store(out)
            with store.locked(timeout=lock_timeout, run_id=run_id):
                options = RunOptions(
                    inputs, store, batch_size, max_bytes, run_id,
                    scale_out, in_flight, run_here, max(1, batches_per_task),
                    started_at=dt.datetime.now(dt.UTC),
                )  # fmt: skip
                summary = _run(options)
    except BaseException as exc:
        BODY.end(exc)
        raise
    BODY.end(summary)
    return summary


class BodyProgress:
    """Where this process's flow body is: for the CLI's watchdog, which bounds the time
    Prefect may take around it (an API that stops answering must not hold a run that has
    finished its work, or a SIGTERM). A flow run at a time per process."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.ended = threading.Event()
        self.terminated = threading.Event()
        self.run_id: str | None = None
        self.outcome: RunSummary | BaseException | None = None
        self.api_lost = False  # an API call of the body failed: make no more

    def reset(self) -> None:
        """Before a run: nothing started, ended or terminated."""
        for event in (self.started, self.ended, self.terminated):
            event.clear()
        self.run_id, self.outcome, self.api_lost = None, None, False

    def begin(self, run_id: str) -> None:
        self.run_id, self.outcome, self.api_lost = run_id, None, False
        self.ended.clear()
        self.started.set()

    def end(self, outcome: RunSummary | BaseException) -> None:
        self.outcome = outcome
        self.ended.set()

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # Dask pickles the flow's function by value, with the globals it names: BODY
        # travels as a reference to the receiving process's own (events hold locks).
        return (_body, ())


BODY = BodyProgress()


def _body() -> BodyProgress:
    return BODY


@contextlib.contextmanager
def _sigterm_noticed() -> Iterator[None]:
    """Tell :data:`BODY` of a SIGTERM before Prefect's own handler (which raises
    ``TerminationSignal`` to unwind the body: the transaction aborts, the lock goes) gets
    it; Prefect then reports the crash to its API, which may not answer. Only when the
    handler is Prefect's (the flow run's scope), so nothing outlives that scope."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from prefect.utilities.engine import is_prefect_sigterm_handler_installed

    previous = signal.getsignal(signal.SIGTERM)
    if not is_prefect_sigterm_handler_installed() or not callable(previous):
        yield
        return

    def notice(signum: int, frame: Any) -> Any:
        BODY.terminated.set()
        return previous(signum, frame)  # Prefect's: raises TerminationSignal

    # Left in place after the body: a SIGTERM while Prefect records the end is noticed too;
    # Prefect's own scope restores the handler it found when the flow run ends.
    signal.signal(signal.SIGTERM, notice)
    yield


def _at_least_one(batches: Iterator[ingest.InputBatch]) -> Iterator[ingest.InputBatch]:
    """``batches``, or one empty batch when there are none (no input file at all): a run's
    ``runs`` row comes from its batches, and must carry the run's id and start."""
    empty = True
    for batch in batches:
        empty = False
        yield batch
    if empty:
        yield ingest.InputBatch([], [], InputCounts())


def _done(future: Any) -> bool:
    """Whether a submitted batch has finished, without waiting (process pool or Dask)."""
    wrapped = getattr(future, "wrapped_future", None)
    return bool(wrapped is not None and wrapped.done())


def _submit(jobs: list[stream.BatchJob]) -> Any:
    return analyse_batches.submit(batches.pack(jobs))


def _wait(future: Any) -> list[stream.BatchResult]:
    return batches.unpack(future.result())


def _analyse_here(jobs: list[stream.BatchJob]) -> list[stream.BatchResult]:
    return analyse_here(quote(jobs))


def _runner(options: RunOptions) -> batches.Runner[stream.BatchJob, stream.BatchResult, Any]:
    """Batches in this process, or (``scale_out``) submitted to the flow's task runner."""
    if not options.scale_out:
        return batches.Runner(here=_analyse_here)
    return batches.Runner(
        here=_analyse_here,
        submit=_submit,
        wait=_wait,
        done=_done,
        in_flight=max(1, options.in_flight or (os.cpu_count() or 1) + 1),
        share=options.run_here,
        per_task=max(1, options.batches_per_task),
    )


def _in_background(target: Any, name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _release_workers() -> threading.Thread | None:
    """Start shutting the flow's process pool down, once every batch is in: the rest of the
    run happens in this process, and an idle worker would hold its ~300 MB (its imports)
    through validation. Every future has been collected, so nothing is cancelled. The
    workers take ~0.4 s to exit: that happens in a thread, beside validation; join it before
    the flow ends. (A Dask cluster may be shared, and is left to its owner.)"""
    from prefect.task_runners import ProcessPoolTaskRunner

    context = FlowRunContext.get()
    runner = context.task_runner if context is not None else None
    if not isinstance(runner, ProcessPoolTaskRunner):
        return None
    closing = threading.Thread(target=runner.cancel_all, name="isnad-release-workers")
    closing.start()
    return closing


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The flow's parameters, as its body uses them (see :func:`isnad_flow`)."""

    inputs: list[str]
    store: Store
    batch_size: int
    max_bytes: int
    run_id: str
    scale_out: bool
    in_flight: int | None
    run_here: bool
    batches_per_task: int
    started_at: dt.datetime


def _run(options: RunOptions) -> RunSummary:
    """The flow's body, under the dataset's lock."""
    logger = get_run_logger()
    started, store, run_id = time.perf_counter(), options.store, options.run_id
    clock = StageClock()
    published = read_published(store)
    check_registry_of(published, store.display)
    files = find_inputs(options.inputs)
    logger.info(
        "%d input file(s) under %s; dataset version %d with %d articles",
        len(files),
        ", ".join(options.inputs),
        published.version,
        len(published.article_ids),
    )
    clock.lap("ingest")
    # Validation's imports (~3 s) happen while the batches run: this process mostly waits.
    warm = _in_background(validate.prewarm, "isnad-prewarm")
    with store.transaction(run_id) as txn:
        results = _analyse(options, files, published, txn, clock)
        closing = _release_workers() if options.scale_out else None
        delta = stream.merge_results(results, txn.staging)
        del results
        clock.lap("tables")
        update = extend(quote(delta.tables), quote(published))
        clock.lap("claims")
        docs_dir = store.output_dir("validation")
        warm.join()
        report = check(
            quote(update.validation_tables()),
            docs_dir,
            quote(update.lookups),
            quote(delta),
            options.started_at.date(),
        )
        stream.release_memory()
        if closing is not None:
            closing.join()
        clock.lap("validate")
        run_row = _finished_run_row(update, report)
        _artifact(report.summary(), "isnad-validation")
        _artifact(_speaker_artifact(update, report, run_row), "isnad-quotes-by-speaker")
        if not report.success:
            _reject(options, txn, published, update, report, run_row, docs_dir)
        manifest = publish(quote(txn), quote(update), run_row)
        report = _docs_published(report, docs_dir, store)
    clock.lap("write")
    counts = _counts(run_id, update, run_row)
    # The run's frames are published and counted: the report reads the dataset instead.
    del update, delta
    stream.release_memory()
    paths = store.table_paths(tabulate.TABLE_NAMES)
    report_path = write_report(None, report.to_dict(), store, paths, run_id)
    clock.lap("report")
    summary = RunSummary(
        **dataclasses.asdict(counts),
        dataset_version=manifest.version,
        dataset_rows={name: manifest.rows(name) for name in tabulate.TABLE_NAMES},
        report_path=report_path,
        stage_seconds={k: round(v, 2) for k, v in clock.seconds.items()},
        stage_peak_rss_mib=clock.peak_mib,
        validation_success=report.success,
        docs_path=report.docs_path,
        paths=paths,
        seconds=round(time.perf_counter() - started, 2),
    )
    logger.info("published %s", summary.as_dict())
    return summary


def _analyse(
    options: RunOptions,
    files: list[str],
    published: incremental.Published,
    txn: Transaction,
    clock: StageClock,
) -> list[stream.BatchResult]:
    """Every batch through the text stages (``stream.run_batch``) where ``_runner`` says,
    its parts adopted into the staged version in batch order; the results in that order."""
    reads = _at_least_one(
        ingest.iter_batches(
            files,
            options.batch_size,
            max_bytes=options.max_bytes,
            run_date=options.started_at.date(),
        )
    )
    jobs = (_job(options, number, read, published, txn) for number, read in enumerate(reads, 1))
    results = []
    for result in batches.run_in_order(jobs, _runner(options), clock.lap):
        _adopt(txn, result, clock)
        results.append(result)
    return results


def _job(
    options: RunOptions,
    number: int,
    read: ingest.InputBatch,
    published: incremental.Published,
    txn: Transaction,
) -> stream.BatchJob:
    """Batch ``number`` as read, without what is published already, with its part files."""
    batch = incremental.skip_published(read, published)
    return stream.BatchJob(
        number=number,
        articles=batch.articles,
        quarantine=batch.quarantine,
        counts=batch.counts,
        run_id=options.run_id,
        started_at=options.started_at,
        staging=txn.staging,
        part_files={name: txn.reserve(name) for name in stream.WRITTEN_BY_BATCH},
        registry=speakers.registry_in_use(),
    )


def _adopt(txn: Transaction, result: stream.BatchResult, clock: StageClock) -> None:
    """A batch's parts into the staged version, its stage times onto the clock."""
    for name, (file, rows) in result.parts.items():
        txn.adopt(name, file, rows, tabulate.SCHEMAS[name].names)
    for stage, seconds in result.seconds.items():
        clock.add(f"batch: {stage}", seconds)
    get_run_logger().info(
        "batch %d: %d new articles, %d sentences, %d quotes, %d quarantined",
        result.number,
        result.rows("articles"),
        result.rows("sentences"),
        result.rows("quotes"),
        result.rows("quarantine"),
    )


def _finished_run_row(update: incremental.Update, report: validate.ValidationReport) -> pa.Table:
    return tabulate.finish_run_row(
        update.run,
        ended_at=dt.datetime.now(dt.UTC),
        validation="passed" if report.success else "failed",
        failed_expectations=list(report.failed),
        dataset_version=update.version,
    )


def _reject(
    options: RunOptions,
    txn: Transaction,
    published: incremental.Published,
    update: incremental.Update,
    report: validate.ValidationReport,
    run_row: pa.Table,
    docs_dir: str,
) -> NoReturn:
    """Validation failed: drop the staged version, record the run in ``runs``, put the
    report beside the Data Docs (not over the published one: no rows were added), raise."""
    logger = get_run_logger()
    txn.abort()  # the staged articles and sentences parts go
    logger.error("validation failed: %s", "; ".join(report.failed))
    failed_row = tabulate.finish_run_row(
        run_row, table_rows=incremental.failed_table_rows(published)
    )
    store = options.store
    try:
        record_failed_run(quote(update), failed_row, store, options.run_id)
    except Exception:  # the failure to report is the validation's, not this one's
        logger.exception("could not record the failed run in %s/runs", store.display)
    write_report(
        quote(update.validation_tables()), report.to_dict(), open_store(docs_dir), {},
        options.run_id,
    )  # fmt: skip
    report = _docs_published(report, docs_dir, store)
    raise ValidationFailed(report.failed, report.docs_path)


def _counts(run_id: str, update: incremental.Update, run_row: pa.Table) -> RunCounts:
    """The run's accounting (its ``runs`` row) and new rows."""
    (accounting,) = run_row.to_pylist()
    new_quotes = update.append["quotes"]
    by_speaker = Counter(new_quotes.column("speaker_id").to_pylist())
    quotes_by_speaker = {s: by_speaker[s] for s in speaker_ids() if by_speaker[s]}
    if by_speaker[None]:
        quotes_by_speaker["other"] = by_speaker[None]
    return RunCounts(
        run_id=run_id,
        inputs_seen=accounting["inputs_seen"],
        exact_duplicates=accounting["exact_duplicates"],
        already_published=accounting["already_published"],
        quarantined_by_reason={
            item["reason"]: item["count"] for item in accounting["quarantined_by_reason"]
        },
        articles=update.append["articles"].num_rows,
        sentences=update.append["sentences"].num_rows,
        quotes=new_quotes.num_rows,
        quotes_by_speaker=quotes_by_speaker,
        quarantined=update.append["quarantine"].num_rows,
        claims=update.replace["claims"].num_rows,
    )
