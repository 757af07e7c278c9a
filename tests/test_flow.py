"""The Prefect flow: one real run on the sample under the test harness, and its wiring."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import analyse_articles, read_inputs
from summaries import example_summary

from flows import cli, pipeline, server
from pipelines import batches, dataset, stream, tabulate, validate
from pipelines.records import InputCounts
from pipelines.store import Staging
from pipelines.store.local import LocalStaging

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
TABLES = tabulate.TABLE_NAMES  # articles, sentences, quotes, claims, speakers, quarantine, ...]
RUN_SUMMARY = example_summary(
    quotes_by_speaker={"lavrov": 2, "other": 1},
    docs_path="/o/validation/index.html",
    paths={"quotes": "/o/quotes"},
    seconds=1.234,
)


@pytest.mark.flow
class TestFlowRun:
    def test_publishes_readable_tables(self, prefect_harness: None, tmp_path: Path) -> None:
        """A run on the sample publishes one directory per table that pandas, pyarrow and a
        DuckDB glob read as one dataset."""
        out = tmp_path / "out"
        # batch_size 2: the five sample articles come in three batches, merged at the end.
        summary = pipeline.isnad_flow([str(SAMPLE_DIR)], str(out), batch_size=2)

        assert summary["validation_success"] is True
        assert summary["articles"] == 5
        assert summary["quarantined"] == 0
        assert summary["docs_path"] and Path(summary["docs_path"]).is_file()
        assert Path(summary["docs_path"]).is_relative_to(out / "validation")
        for name in TABLES:
            path = out / name
            assert summary["paths"][name] == str(path)
            rows = pq.read_table(path).num_rows
            assert len(pd.read_parquet(path)) == rows == summary["dataset_rows"][name]
            glob = f"select count(*) from read_parquet('{path}/*.parquet')"
            assert duckdb.sql(glob).fetchall() == [(rows,)]
        assert pq.read_table(out / "articles").num_rows == 5
        assert pq.read_table(out / "sentences").num_rows > 0
        speakers = pq.read_table(out / "speakers").to_pydict()
        quotes = pq.read_table(out / "quotes")
        assert sum(speakers["n_quotes"]) == quotes.num_rows - quotes["speaker_id"].null_count
        (run,) = pq.read_table(out / "runs").to_pylist()
        assert (run["validation"], run["articles"], run["dataset_version"]) == ("passed", 5, 1)

    def test_run_without_input_records_itself(self, prefect_harness: None, tmp_path: Path):
        """An empty inbox still makes a validated version whose runs row is this run's
        (its id, not one made up for a batch that never came)."""
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        summary = pipeline.isnad_flow([str(inbox)], str(tmp_path / "out"))
        assert summary["validation_success"] and summary["inputs_seen"] == 0
        (run,) = pq.read_table(tmp_path / "out" / "runs").to_pylist()
        assert run["run_id"] == summary["run_id"]
        assert pq.read_table(tmp_path / "out" / "articles").num_rows == 0

    def test_failed_validation_publishes_nothing(
        self, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When an expectation fails the flow raises, naming it and the docs; no table gains
        a row, and runs records the failed run."""
        docs = str(tmp_path / "out" / "validation" / "index.html")
        failing = validate.ValidationReport(
            success=False,
            failed=["quotes: expect_column_values_to_not_be_null(quote_text)"],
            results={},
            docs_path=docs,
        )
        monkeypatch.setattr(validate, "validate_tables", lambda tables, docs_dir, **_: failing)
        out = tmp_path / "out"

        with pytest.raises(pipeline.ValidationFailed) as caught:
            pipeline.isnad_flow([str(SAMPLE_DIR)], str(out))

        assert "expect_column_values_to_not_be_null(quote_text)" in str(caught.value)
        assert docs in str(caught.value)
        assert caught.value.failed == failing.failed
        assert dataset.read_manifest(str(out))["tables"].keys() == {"runs"}
        assert not [name for name in TABLES if name != "runs" and (out / name).exists()]
        (run,) = dataset.read_table(out, "runs").to_pylist()
        assert run["validation"] == "failed" and run["failed_expectations"] == failing.failed
        assert {t["table"]: t["added"] for t in run["table_rows"]}["articles"] == 0


class MemoryStaging(Staging):
    """A staging that keeps the parts written in memory (a test needs no directory)."""

    def __init__(self) -> None:
        self.parts: dict[tuple[str, str], pa.Table] = {}

    def write(self, name: str, file: str, table: pa.Table, run_id: str) -> None:
        self.parts[name, file] = table

    def read(self, name: str, file: str, columns: list[str] | None = None) -> pa.Table:
        table = self.parts[name, file]
        return table if columns is None else table.select(columns)

    def has(self, name: str, file: str) -> bool:
        return (name, file) in self.parts


class TestTasks:
    def test_find_inputs_lists_sample_files(self) -> None:
        """find_inputs returns the five sample files, sorted."""
        files = pipeline.find_inputs.fn([str(SAMPLE_DIR)])
        assert [Path(f).name for f in files] == sorted(p.name for p in SAMPLE_DIR.glob("*.txt"))

    def _job(self, articles: list, staging: Path | Staging, number: int = 1) -> stream.BatchJob:
        return stream.BatchJob(
            number=number,
            articles=articles,
            quarantine=[],
            counts=InputCounts(len(articles), len(articles), 0, 0),
            run_id="run-1",
            started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            staging=staging if isinstance(staging, Staging) else LocalStaging(staging),
            part_files={name: f"part-{number}.parquet" for name in stream.WRITTEN_BY_BATCH},
        )

    def test_batch_writes_its_parts_and_returns_what_the_run_needs(self, tmp_path: Path) -> None:
        """A batch writes its articles and sentences as parts (the rows build_tables makes)
        and returns no frame of them (the run reads them back: no text, the same frame as the
        rows in memory would give), its quotes whole, its derived checks (all true on good
        data) and stage times."""
        articles, _ = read_inputs([SAMPLE_DIR])
        for name in stream.WRITTEN_BY_BATCH:
            (tmp_path / name).mkdir()
        result = stream.run_batch(self._job(articles, tmp_path))
        expected = tabulate.build_tables(analyse_articles(articles), [])
        for name in stream.WRITTEN_BY_BATCH:
            file, rows = result.parts[name]
            written = pq.read_table(tmp_path / name / file)
            assert written.replace_schema_metadata(None).equals(
                expected[name].replace_schema_metadata(None)
            )
            assert rows == expected[name].num_rows == result.rows(name) > 0
            assert name not in result.frames
            frame = stream.read_frame(LocalStaging(tmp_path), name, file)
            assert "text" not in frame.column_names
            assert frame.equals(validate.frame(name, expected[name]), check_metadata=True)
        assert result.frames["quotes"].equals(expected["quotes"])
        for name, columns in result.checks.items():
            assert set(columns) == set(validate.DERIVED[name]) - {"chk_claim"}
            assert all(values.all() for values in columns.values()), name
        assert not result.problems
        assert {"clean", "segment", "quotes", "tables", "write"} <= set(result.seconds)

    def test_batch_leaves_the_garbage_collector_as_it_found_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """run_batch sets the objects alive before it aside from the collector while it runs
        (gc.freeze), and gives them back afterwards, also when the batch fails."""
        articles, _ = read_inputs([SAMPLE_DIR])
        frozen_during: list[int] = []

        def fail(*args: object, **kwargs: object) -> None:
            frozen_during.append(gc.get_freeze_count())
            raise RuntimeError("tables")

        stream.run_batch(self._job(articles[:1], MemoryStaging()))
        assert gc.get_freeze_count() == 0
        monkeypatch.setattr(tabulate, "build_tables", fail)
        with pytest.raises(RuntimeError, match="tables"):
            stream.run_batch(self._job(articles[:1], MemoryStaging()))
        assert frozen_during and frozen_during[0] > 0
        assert gc.get_freeze_count() == 0

    def test_only_a_process_pool_is_released_early(self, prefect_harness: None) -> None:
        """Once every batch is in, the flow shuts its process pool down (in a thread, joined
        before publishing); a thread pool, or no flow at all, is left alone."""
        from prefect import flow
        from prefect.task_runners import ProcessPoolTaskRunner

        @flow
        def release() -> bool:
            closing = pipeline._release_workers()
            if closing is not None:
                closing.join(timeout=60)
                return not closing.is_alive()
            return False

        assert pipeline._release_workers() is None
        assert release() is False  # the default runner: threads
        assert release.with_options(task_runner=ProcessPoolTaskRunner(max_workers=1))() is True

    def test_merge_results_keeps_batch_order(self) -> None:
        """Merged batches: rows and check columns concatenated in batch order, one runs row
        with the counts added up."""
        articles, _ = read_inputs([SAMPLE_DIR])
        staging = MemoryStaging()
        first = stream.run_batch(self._job(articles[:2], staging, 1))
        second = stream.run_batch(self._job(articles[2:], staging, 2))
        delta = stream.merge_results([first, second], staging)
        ids = delta.tables["articles"].column("article_id").to_pylist()
        assert ids == [a.article_id for a in articles]
        n = delta.tables["sentences"].num_rows
        assert n == first.rows("sentences") + second.rows("sentences") > 0
        assert all(len(v) == n for v in delta.checks["sentences"].values())
        assert delta.tables["runs"].column("articles").to_pylist() == [5]
        assert delta.schemas["articles"] == [tabulate.SCHEMAS["articles"]]

    def test_merge_reads_written_parts_back_in_batch_order(self, tmp_path: Path) -> None:
        """Batches that wrote their parts as files merge into the same tables as batches
        whose parts stayed in memory (the frames read back from Parquet are the rows')."""
        articles, _ = read_inputs([SAMPLE_DIR])
        for name in stream.WRITTEN_BY_BATCH:
            (tmp_path / name).mkdir()
        memory = MemoryStaging()
        in_memory = stream.merge_results(
            [stream.run_batch(self._job(articles[:2], memory, 1)),
             stream.run_batch(self._job(articles[2:], memory, 2))],
            memory,
        )  # fmt: skip
        written = [
            stream.run_batch(self._job(articles[:2], tmp_path, 1)),
            stream.run_batch(self._job(articles[2:], tmp_path, 2)),
        ]
        merged = stream.merge_results(written, LocalStaging(tmp_path))
        for name in (*stream.WRITTEN_BY_BATCH, *stream.RETURNED):
            assert merged.tables[name].equals(in_memory.tables[name]), name
        for name, columns in in_memory.checks.items():
            for column, values in columns.items():
                assert (merged.checks[name][column] == values).all(), (name, column)

    def test_merge_of_an_empty_batch_is_empty_tables(self) -> None:
        """An input with no articles still yields all the tables, empty but typed; merging
        no batch at all is refused (a run always has one, see the flow)."""
        staging = MemoryStaging()
        merged = stream.merge_results([stream.run_batch(self._job([], staging))], staging).tables
        assert set(merged) == set(TABLES)
        assert merged["articles"].num_rows == 0
        assert merged["speakers"].num_rows == 5
        assert merged["runs"].column("run_id").to_pylist() == ["run-1"]
        with pytest.raises(ValueError):
            stream.merge_results([], staging)


class TestCli:
    @pytest.fixture
    def offline(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """No server, and the CLI's environment defaults undone after the test."""
        for name in ("PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"):
            monkeypatch.setenv(name, os.environ.get(name, "WARNING"))
        monkeypatch.setattr(cli, "prefect_api", contextlib.nullcontext)

    def test_run_prints_summary(
        self,
        offline: None,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
    ) -> None:
        """`isnad run` passes its arguments to the flow and prints a short summary."""
        calls = []
        monkeypatch.setattr(pipeline, "isnad_flow", lambda **kw: calls.append(kw) or RUN_SUMMARY)
        out = str(tmp_path / "o")

        code = cli.main(["run", str(SAMPLE_DIR), "--out", out, "--batch-size", "7"])

        assert code == 0
        assert calls == [{"inputs": [str(SAMPLE_DIR)], "out": out, "batch_size": 7}]
        printed = capsys.readouterr().out
        assert "quotes       3: lavrov 2, other 1" in printed
        assert "validation   passed" in printed

    def test_deployment_options_keep_a_remote_out_as_given(self, tmp_path: Path) -> None:
        """A deployment's paths are made absolute, except a URI of a remote filesystem."""
        args = cli.build_parser().parse_args(
            ["serve", "inbox", "--out", "s3://bucket/isnad?region=eu-west-1"]
        )
        options = cli._flow_options(args, absolute=True)
        assert options["out"] == "s3://bucket/isnad?region=eu-west-1"
        assert options["inputs"] == [str(Path("inbox").resolve())]
        local = cli.build_parser().parse_args(["serve", "inbox", "--out", "out"])
        assert cli._flow_options(local, absolute=True)["out"] == str(Path("out").resolve())

    def test_run_exits_2_when_validation_fails(
        self,
        offline: None,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
    ) -> None:
        """A failed validation is exit code 2 with the failed expectations on stderr."""

        def fail(**_: object) -> dict:
            raise pipeline.ValidationFailed(["quotes: expect_x(quote_text)"], "/o/v/index.html")

        monkeypatch.setattr(pipeline, "isnad_flow", fail)

        code = cli.main(["run", str(SAMPLE_DIR), "--out", str(tmp_path / "o")])

        assert code == 2
        err = capsys.readouterr().err
        assert "quotes: expect_x(quote_text)" in err and "/o/v/index.html" in err

    @pytest.mark.parametrize(
        "argv",
        [["run", "/no/such/dir", "--out", "o"], ["run", "x", "--out", "o", "--batch-size", "0"]],
    )
    def test_usage_errors(self, argv: list[str]) -> None:
        """A missing input or a batch size below 1 stops before anything runs, with exit
        code 64 (2 is a failed validation)."""
        with pytest.raises(SystemExit) as caught:
            cli.main(argv)
        assert caught.value.code == cli.EXIT_USAGE == 64

    def test_auto_workers_follow_input_size(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """--workers auto: this process alone for a small inbox, one per core past 8 MB; a
        number is taken as it is."""
        monkeypatch.setattr(os, "cpu_count", lambda: 4)
        small = tmp_path / "small.txt"
        small.write_text("نص قصير", encoding="utf-8")
        assert cli.worker_count("auto", [str(small)]) == 1
        big = tmp_path / "big.txt"
        big.write_bytes(b"x" * cli.AUTO_WORKERS_MIN_BYTES)
        assert cli.worker_count("auto", [str(tmp_path)]) == 4
        assert cli.worker_count(3, [str(small)]) == 3

    def test_memory_settings_keep_an_operators_choice(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The CLI asks for Arrow's system allocator and two malloc arenas unless the
        environment says otherwise."""
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "")  # restored after the test
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
        monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
        cli._memory_settings()
        assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system"
        assert os.environ["MALLOC_ARENA_MAX"] == "8"

    def test_configured_api_is_used_as_is(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With PREFECT_API_URL configured, no local server is started."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        monkeypatch.setattr(server, "ensure_local_server", pytest.fail)
        monkeypatch.setattr(server, "api_problem", lambda url: None)  # it answers
        with (
            temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}),
            server.prefect_api() as url,
        ):
            assert url == "http://127.0.0.1:9/api"

    def test_local_server_falls_back_when_it_does_not_start(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When nothing answers on the port after a start, the CLI falls back (None)."""
        monkeypatch.setenv("ISNAD_PREFECT_HOME", str(tmp_path))
        monkeypatch.setattr(server, "server_version", lambda url: None)
        monkeypatch.setattr(server, "_port_taken", lambda url: None)  # nothing listens
        started = []
        monkeypatch.setattr(server, "_start_server", lambda home, url: started.append(url))
        (tmp_path / "server.pid").write_text("999999999")  # a server that died

        assert server.ensure_local_server(timeout=0.1) is None
        assert started == [server.local_api_url()]
        assert not (tmp_path / "server.pid").exists()


class _Done:
    """A batch's result for the scheduler: only its number matters."""

    def __init__(self, number: int) -> None:
        self.number = number


class _Workers:
    """Workers by hand: a task is a list of job numbers; it finishes when the test says."""

    def __init__(self) -> None:
        self.tasks: list[list[int]] = []
        self.finished: set[int] = set()  # task indexes
        self.here: list[int] = []
        self.waited: list[int] = []

    def runner(self, **options: object) -> batches.Runner:
        return batches.Runner(
            here=self.run_here, submit=self.submit, wait=self.wait, done=self.done, **options
        )

    def run_here(self, jobs: list[int]) -> list[_Done]:
        self.here += jobs
        return [_Done(job) for job in jobs]

    def submit(self, jobs: list[int]) -> int:
        self.tasks.append(list(jobs))
        return len(self.tasks) - 1

    def done(self, task: int) -> bool:
        return task in self.finished

    def wait(self, task: int) -> list[_Done]:
        self.waited.append(task)
        return [_Done(job) for job in reversed(self.tasks[task])]  # any order within a task


class TestBatchScheduler:
    """``pipelines.batches``: where batches run and the order results leave in, without
    Prefect (the flow gives it its tasks as callables)."""

    def test_without_workers_every_batch_runs_here_in_order(self) -> None:
        ticks: list[str] = []
        runner = batches.Runner(here=lambda jobs: [_Done(j) for j in jobs])
        numbers = [r.number for r in batches.run_in_order(range(1, 5), runner, ticks.append)]
        assert numbers == [1, 2, 3, 4]
        assert ticks == ["ingest", "batches"] * 4 + ["batches"]

    def test_results_leave_in_batch_order_whichever_finished_first(self) -> None:
        """Tasks of two batches; the later task finishes first: its results wait."""
        workers = _Workers()
        runner = workers.runner(in_flight=3, per_task=2)
        results = batches.run_in_order(range(1, 6), runner)
        first = next(results)  # nothing finished: every task is waited for at the end
        assert workers.tasks == [[1, 2], [3, 4], [5]]
        assert [first.number, *(r.number for r in results)] == [1, 2, 3, 4, 5]

    def test_at_most_in_flight_tasks_are_out(self) -> None:
        workers = _Workers()
        out: list[int] = []

        def jobs() -> Iterator[int]:
            for number in range(1, 7):
                out.append(len(workers.tasks) - len(workers.waited))
                yield number

        assert [r.number for r in batches.run_in_order(jobs(), workers.runner(in_flight=2))] == [
            1, 2, 3, 4, 5, 6,
        ]  # fmt: skip
        assert max(out) <= 2 and workers.here == []

    def test_finished_tasks_are_collected_before_the_next_is_placed(self) -> None:
        workers = _Workers()
        results = batches.run_in_order(range(1, 4), workers.runner(in_flight=5))
        workers.finished.add(0)
        assert [r.number for r in results] == [1, 2, 3]
        assert workers.waited == [0, 1, 2]

    def test_sharing_runs_a_batch_here_while_the_workers_are_busy(self) -> None:
        """``share``: with in_flight tasks out, the next batch runs in this process instead
        of waiting for a worker."""
        workers = _Workers()
        runner = workers.runner(in_flight=1, share=True)
        assert [r.number for r in batches.run_in_order(range(1, 5), runner)] == [1, 2, 3, 4]
        assert workers.here == [2, 3, 4] and workers.tasks == [[1]]

    def test_a_missing_batch_is_an_error_not_a_silent_gap(self) -> None:
        runner = batches.Runner(here=lambda jobs: [_Done(j + 1) for j in jobs])
        with pytest.raises(RuntimeError, match=r"batches \[2, 3\] were never preceded"):
            list(batches.run_in_order([1, 2], runner))

    def test_payloads_round_trip(self, tmp_path: Path) -> None:
        job = TestTasks()._job([], tmp_path, number=3)
        (back,) = batches.unpack(batches.pack([job]))
        assert (back.number, back.part_files, back.counts) == (3, job.part_files, job.counts)

    def test_a_runner_that_submits_must_wait(self) -> None:
        with pytest.raises(ValueError):
            batches.Runner(here=list, submit=list)
