"""The Prefect flow: one real run on the sample under the test harness, and its wiring."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows import cli, pipeline
from pipelines import dataset, validate, write
from pipelines.ingest import read_inputs
from pipelines.records import ArticleAnalysis

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
TABLES = write.TABLE_NAMES  # articles, sentences, quotes, claims, speakers, quarantine, ...]
RUN_SUMMARY = {
    "articles": 5,
    "sentences": 80,
    "quotes": 3,
    "quotes_by_speaker": {"lavrov": 2, "other": 1},
    "quarantined": 1,
    "validation_success": True,
    "docs_path": "/o/validation/index.html",
    "paths": {"quotes": "/o/quotes"},
    "seconds": 1.234,
}


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


class TestTasks:
    def test_find_inputs_lists_sample_files(self) -> None:
        """find_inputs returns the five sample files, sorted."""
        files = pipeline.find_inputs.fn([str(SAMPLE_DIR)])
        assert [Path(f).name for f in files] == sorted(p.name for p in SAMPLE_DIR.glob("*.txt"))

    def test_stages_chain_to_analyses(self) -> None:
        """The four stage tasks turn articles into one ArticleAnalysis each, in order."""
        articles, _ = read_inputs([SAMPLE_DIR])
        result = articles
        for stage in (pipeline.clean, pipeline.segment, pipeline.detect, pipeline.attribute):
            result = stage.fn(result)
        assert all(isinstance(a, ArticleAnalysis) for a in result)
        assert [a.article.article_id for a in result] == [a.article_id for a in articles]

    def test_merge_batch_tables_sums_speaker_counts(self) -> None:
        """Merging batches concatenates rows and adds up speakers.n_quotes per speaker."""
        articles, _ = read_inputs([SAMPLE_DIR])
        analyses = [ArticleAnalysis(article=a) for a in articles]
        quarantine = [{"source_name": "x", "input_path": "x", "reason": "empty_text", "detail": ""}]
        first = write.build_tables(analyses[:2], [])
        second = write.build_tables(analyses[2:], quarantine)
        second["speakers"] = second["speakers"].set_column(
            second["speakers"].schema.get_field_index("n_quotes"),
            second["speakers"].schema.field("n_quotes"),
            pa.array([1, 0, 0, 0, 2], pa.int64()),
        )

        merged = pipeline.merge.fn([first, second])

        assert list(merged) == list(first)
        assert merged["articles"].num_rows == 5
        assert merged["quarantine"].num_rows == 1
        assert merged["speakers"].column("n_quotes").to_pylist() == [1, 0, 0, 0, 2]
        for name, table in merged.items():
            assert table.schema.equals(write.SCHEMAS[name], check_metadata=True), name

    def test_merge_of_no_batches_is_empty_tables(self) -> None:
        """An input with no articles still yields all five tables, empty but typed."""
        merged = pipeline.merge_batch_tables([])
        assert set(merged) == set(TABLES)
        assert merged["articles"].num_rows == 0
        assert merged["speakers"].num_rows == 5


class TestCli:
    @pytest.fixture
    def offline(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """No server, and the CLI's environment defaults undone after the test."""
        for name in ("PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL"):
            monkeypatch.setenv(name, os.environ.get(name, "WARNING"))
        monkeypatch.setattr(cli, "prefect_api", contextlib.nullcontext)

    def test_run_prints_summary(
        self, offline: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`isnad run` passes its arguments to the flow and prints a short summary."""
        calls = []
        monkeypatch.setattr(
            pipeline, "isnad_flow", lambda **kw: calls.append(kw) or dict(RUN_SUMMARY)
        )

        code = cli.main(["run", str(SAMPLE_DIR), "--out", "/o", "--batch-size", "7"])

        assert code == 0
        assert calls == [{"inputs": [str(SAMPLE_DIR)], "out": "/o", "batch_size": 7}]
        printed = capsys.readouterr().out
        assert "quotes       3: lavrov 2, other 1" in printed
        assert "validation   passed" in printed

    def test_run_exits_2_when_validation_fails(
        self, offline: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A failed validation is exit code 2 with the failed expectations on stderr."""

        def fail(**_: object) -> dict:
            raise pipeline.ValidationFailed(["quotes: expect_x(quote_text)"], "/o/v/index.html")

        monkeypatch.setattr(pipeline, "isnad_flow", fail)

        code = cli.main(["run", str(SAMPLE_DIR), "--out", "/o"])

        assert code == 2
        err = capsys.readouterr().err
        assert "quotes: expect_x(quote_text)" in err and "/o/v/index.html" in err

    @pytest.mark.parametrize(
        "argv",
        [["run", "/no/such/dir", "--out", "o"], ["run", "x", "--out", "o", "--batch-size", "0"]],
    )
    def test_usage_errors(self, argv: list[str]) -> None:
        """A missing input or a batch size below 1 stops before anything runs."""
        with pytest.raises(SystemExit) as caught:
            cli.main(argv)
        assert caught.value.code == 2

    def test_configured_api_is_used_as_is(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With PREFECT_API_URL configured, no local server is started."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        monkeypatch.setattr(cli, "ensure_local_server", pytest.fail)
        with (
            temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}),
            cli.prefect_api() as url,
        ):
            assert url == "http://127.0.0.1:9/api"

    def test_local_server_falls_back_when_it_does_not_start(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When nothing answers on the port after a start, the CLI falls back (None)."""
        monkeypatch.setenv("ISNAD_PREFECT_HOME", str(tmp_path))
        monkeypatch.setattr(cli, "_server_version", lambda url: None)
        started = []
        monkeypatch.setattr(cli, "_start_server", lambda home, url: started.append(url))
        (tmp_path / "server.pid").write_text("999999999")  # a server that died

        assert cli.ensure_local_server(timeout=0.1) is None
        assert started == [cli.local_api_url()]
        assert not (tmp_path / "server.pid").exists()
