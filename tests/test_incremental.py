"""Scheduled, incremental, crash-safe runs: only new articles, idempotent reruns, a run
killed mid-publish, two runs at once, the lock."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from paused_isnad import command as paused_isnad

from flows import cli, pipeline
from pipelines import dataset, store, tabulate, validate
from pipelines.records import InputCounts
from pipelines.store import open_store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"
DEV_ARTICLES = ROOT / "tests" / "data" / "dev" / "articles.jsonl"
DATA_TABLES = tuple(name for name in tabulate.TABLE_NAMES if name != "runs")
KEYS = {  # what identifies a row of each table
    "articles": ("article_id",),
    "sentences": ("article_id", "sentence_index"),
    "quotes": ("quote_id",),
    "claims": ("claim_id",),
    "speakers": ("speaker_id",),
    "quarantine": ("input_path", "source_name", "reason"),
    "runs": ("run_id",),
}


def make_inbox(path: Path, n_new: int = 0) -> Path:
    """The five sample articles, and ``n_new`` articles of the dev set, as .txt files."""
    shutil.copytree(SAMPLE_DIR, path)
    add_new_articles(path, n_new)
    return path


def add_new_articles(inbox: Path, n: int, start: int = 0) -> list[str]:
    """Drop ``n`` dev-set articles into the inbox (what a scraper does); their file names."""
    lines = DEV_ARTICLES.read_text(encoding="utf-8").splitlines()[start : start + n]
    names = []
    for line in lines:
        record = json.loads(line)
        names.append(f"{record['id']}.txt")
        (inbox / names[-1]).write_text(record["text"], encoding="utf-8")
    return names


def read_all(out: Path) -> dict[str, pa.Table]:
    """Every table as a reader sees it: the DuckDB glob over its directory of parts."""
    return {
        name: duckdb.sql(f"select * from read_parquet('{out}/{name}/*.parquet')").to_arrow_table()
        for name in tabulate.TABLE_NAMES
    }


def keys(table: pa.Table, name: str) -> list[tuple[Any, ...]]:
    return list(zip(*(table.column(c).to_pylist() for c in KEYS[name]), strict=True))


def sorted_rows(table: pa.Table, name: str) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda r: tuple(str(r[k]) for k in KEYS[name]))


def assert_consistent(out: Path) -> dict[str, pa.Table]:
    """The published dataset as a whole: every reader agrees with the manifest, no row
    twice, and every suite passes over all of it, with the passed runs' accounting summed
    into one row (it must account for every article and quarantine row)."""
    manifest = dataset.read_manifest(out)
    tables = read_all(out)
    for name, table in tables.items():
        rows = manifest["tables"][name]["rows"]
        assert table.num_rows == rows == ds.dataset(out / name).count_rows(), name
        assert len(pd.read_parquet(out / name)) == rows, name
        duplicates = [k for k, n in Counter(keys(table, name)).items() if n > 1]
        assert not duplicates, (name, duplicates[:3])
    runs = dataset.read_table(out, "runs")
    passed = [
        runs.slice(i, 1) for i, v in enumerate(runs["validation"].to_pylist()) if v == "passed"
    ]
    whole = dataset.read_tables(out)
    whole["runs"] = tabulate.combine_run_summaries(passed)
    report = validate.validate_tables(whole, None)
    assert report.success, report.summary()
    return tables


@dataclass
class History:
    """Three runs over one inbox: the seeds, the same again, then with new files."""

    inbox: Path
    out: Path
    summaries: list[dict[str, Any]]
    tables: list[dict[str, pa.Table]]
    new_files: list[str]


@pytest.fixture(scope="module")
def history(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> History:
    root = tmp_path_factory.mktemp("incremental")
    inbox, out = make_inbox(root / "inbox"), root / "out"
    summaries, tables = [], []

    def run() -> None:
        summaries.append(pipeline.isnad_flow([str(inbox)], str(out), batch_size=2))
        tables.append(read_all(out))

    run()  # the seeds
    run()  # the same inbox again
    new_files = add_new_articles(inbox, 2)
    seeds = sorted(inbox.glob("00*.txt"))
    seeds[0].rename(inbox / "renamed.txt")  # same content: not new
    edited = seeds[1].read_text(encoding="utf-8") + "\nتحديث: أضيفت هذه الفقرة لاحقا."
    seeds[1].write_text(edited, encoding="utf-8")  # new content: a new article
    run()
    return History(inbox, out, summaries, tables, [*new_files, seeds[1].name])


@pytest.mark.flow
class TestIncrementalRuns:
    def test_rerun_adds_nothing(self, history: History) -> None:
        """Running again over the same inputs gives the same rows and ids, no duplicates;
        runs records the rerun, with every input already published."""
        first, again = history.tables[0], history.tables[1]
        for name in DATA_TABLES:
            assert sorted_rows(again[name], name) == sorted_rows(first[name], name), name
        rerun = history.summaries[1]
        assert (rerun["articles"], rerun["quotes"], rerun["quarantined"]) == (0, 0, 0)
        assert rerun["already_published"] == rerun["inputs_seen"] == 5
        assert [r["already_published"] for r in again["runs"].to_pylist()] == [0, 5]

    def test_next_run_adds_only_the_new_articles(self, history: History) -> None:
        """New and edited files are new articles (their rows are added); a renamed file is
        not (the id is the content's hash); the earlier rows stay as they were."""
        before, after = history.tables[1], history.tables[2]
        summary = history.summaries[2]
        old_ids = set(before["articles"]["article_id"].to_pylist())
        new = [r for r in after["articles"].to_pylist() if r["article_id"] not in old_ids]
        assert sorted(r["source_name"] for r in new) == sorted(history.new_files)
        assert summary["articles"] == len(history.new_files) == 3
        assert summary["already_published"] == 4  # four seeds; one renamed among them
        assert summary["inputs_seen"] == 7
        for name in ("articles", "sentences", "quotes"):
            old = [r for r in sorted_rows(after[name], name) if r["article_id"] in old_ids]
            kept = sorted_rows(before[name], name)
            if name == "quotes":  # claim ids may move only if a new quotation joins claims
                old = [{**r, "claim_id": None} for r in old]
                kept = [{**r, "claim_id": None} for r in kept]
            assert old == kept, name
            assert after[name].num_rows - before[name].num_rows == summary[name], name

    def test_earlier_quotes_keep_their_claim_ids(self, history: History) -> None:
        """Claims are recomputed over the whole dataset, seeded with the published ones: the
        earlier quotations keep their claim ids, and speaker counts cover every quotation."""
        before, after = history.tables[1], history.tables[2]
        claim_of = dict(zip(after["quotes"]["quote_id"].to_pylist(),
                            after["quotes"]["claim_id"].to_pylist(), strict=True))  # fmt: skip
        for row in before["quotes"].to_pylist():
            assert claim_of[row["quote_id"]] == row["claim_id"]
        counts = Counter(after["quotes"]["speaker_id"].to_pylist())
        for row in after["speakers"].to_pylist():
            assert row["n_quotes"] == counts[row["speaker_id"]]

    def test_runs_table(self, history: History) -> None:
        """One row a run: start and end, inputs seen, new articles, rows per table, the
        validation result, the package version and the lexicons' hash."""
        runs = history.tables[2]["runs"].to_pylist()
        assert [r["run_id"] for r in runs] == [s["run_id"] for s in history.summaries]
        assert [r["articles"] for r in runs] == [5, 0, 3]
        assert [r["dataset_version"] for r in runs] == [1, 2, 3]
        last = runs[-1]
        assert last["validation"] == "passed" and last["failed_expectations"] == []
        assert last["ended_at"] >= last["started_at"]
        assert last["package_version"] == tabulate.package_version() != "unknown"
        assert last["lexicon_hash"] == tabulate.lexicon_hash() and len(last["lexicon_hash"]) == 64
        rows = {t["table"]: t for t in last["table_rows"]}
        assert set(rows) == set(tabulate.TABLE_NAMES)
        assert rows["articles"] == {"table": "articles", "rows": 8, "added": 3}
        assert rows["runs"]["rows"] == 3 and rows["runs"]["added"] == 1

    def test_the_dataset_stays_consistent(self, history: History) -> None:
        """After three runs the whole published dataset passes every suite."""
        assert_consistent(history.out)


def _cli(inbox: Path, out: Path, *args: str, pause: float | None = None) -> subprocess.Popen:
    """``isnad run`` in a subprocess, against the test harness's Prefect API (paused
    ``pause`` seconds just before its commit)."""
    from prefect.settings import PREFECT_API_URL

    environment = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    argv = ("run", str(inbox), "--out", str(out), *args)
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *argv] if pause is None else paused_isnad(pause, *argv),
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition: Any, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the run ended ({proc.returncode}) first:\n{proc.communicate()[1]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run did not get there in time")
        time.sleep(0.1)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """`isnad` in this process uses the harness's API; the CLI's env defaults undone after."""
    for name in ("PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL"):
        monkeypatch.setenv(name, os.environ.get(name, "WARNING"))
    monkeypatch.setattr(cli, "prefect_api", contextlib.nullcontext)


@pytest.mark.flow
class TestCrashAndConcurrency:
    def test_killed_mid_publish_leaves_the_old_dataset(
        self, history: History, offline: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A run (another process) stages its new version and pauses just before the swap,
        holding the lock: a second run exits 3 at once, naming it. Killed (-9) there, it
        leaves the published dataset reading as before, with its old row counts; the next
        run clears the leftovers and adds the new rows."""
        inbox, out = tmp_path / "inbox", tmp_path / "out"
        shutil.copytree(history.inbox, inbox)
        shutil.copytree(history.out, out, symlinks=True)  # a published dataset (version 3)
        before = {name: t.num_rows for name, t in read_all(out).items()}
        add_new_articles(inbox, 3, start=2)

        proc = _cli(inbox, out, pause=120)
        staged = out / store.INTERNAL_DIR
        _wait_for(lambda: list(staged.glob("staging-*/_SUCCESS")), 120, proc)
        assert cli.main(["run", str(inbox), "--out", str(out)]) == cli.EXIT_LOCKED
        assert f"pid {proc.pid}" in capsys.readouterr().err
        proc.kill()
        proc.communicate(timeout=30)

        assert {name: t.num_rows for name, t in read_all(out).items()} == before
        assert dataset.read_manifest(out)["version"] == 3
        assert len(pd.read_parquet(out / "articles")) == before["articles"] == 8
        assert list(staged.glob("staging-*"))  # the killed run's leftovers, hidden

        summary = pipeline.isnad_flow([str(inbox)], str(out))
        assert summary["articles"] == 3 and summary["already_published"] == 7
        after = assert_consistent(out)
        assert after["articles"].num_rows == before["articles"] + 3
        assert after["runs"].num_rows == before["runs"] + 1
        assert not list(staged.glob("staging-*"))

    def test_two_runs_at_once(self, prefect_harness: None, tmp_path: Path) -> None:
        """Two runs on one new output at once (another process, and this one): the later
        waits for the lock (--lock-timeout), then finds everything published; the dataset
        holds each row once and passes its suites."""
        inbox, out = make_inbox(tmp_path / "inbox", n_new=2), tmp_path / "out"
        proc = _cli(inbox, out, "--lock-timeout", "300")
        _wait_for(lambda: (out / store.LOCK_NAME).exists() and (out / store.LOCK_NAME)
                  .read_text(encoding="utf-8").startswith("{"), 120, proc)  # fmt: skip
        summary = pipeline.isnad_flow([str(inbox)], str(out), lock_timeout=300)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err

        assert (summary["articles"], summary["already_published"]) == (0, 7)
        tables = assert_consistent(out)
        assert tables["articles"].num_rows == 7
        runs = sorted(tables["runs"].to_pylist(), key=lambda r: r["dataset_version"])
        assert [(r["articles"], r["already_published"]) for r in runs] == [(7, 0), (0, 7)]


@pytest.mark.flow
class TestRefusals:
    def test_an_old_layout_is_refused(
        self,
        prefect_harness: None,
        offline: None,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """An output directory in the one-file-per-table layout of an earlier isnad is left
        alone: exit 1 with a message, no retries (they cannot help), nothing written, not
        even the lock (the output is checked before the run takes it)."""
        out = tmp_path / "out"
        out.mkdir()
        (out / "quotes.parquet").write_bytes(b"PAR1")
        assert cli.main(["run", str(SAMPLE_DIR), "--out", str(out)]) == 1
        assert "one-file-per-table" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == ["quotes.parquet"]

    def test_only_io_errors_are_retried(self) -> None:
        """The I/O tasks retry OSError (Arrow's I/O errors are OSErrors), nothing else."""
        from prefect.states import Failed

        retry = pipeline._IO_RETRIES["retry_condition_fn"]
        assert retry(None, None, Failed(data=OSError("stale NFS handle")))
        assert not retry(None, None, Failed(data=store.DatasetError("old layout")))
        assert not retry(None, None, Failed(data=ValueError("schema")))


class TestPlan:
    def test_counts_move_to_already_published(self) -> None:
        """Skipped articles and quarantine rows leave the batch and its counts for
        already_published; the accounting identity still holds."""
        from helpers import read_inputs

        from pipelines import incremental
        from pipelines.ingest import InputBatch

        articles, _ = read_inputs([SAMPLE_DIR])
        bad = [
            {"source_name": name, "input_path": f"in/{name}", "reason": "binary", "detail": ""}
            for name in ("b.txt", "c.txt")
        ]
        batch = InputBatch(articles, bad, InputCounts(8, 5, 2, 1))
        published = incremental.Published(
            version=1,
            article_ids=frozenset(a.article_id for a in articles[:3]),
            quarantine_keys=frozenset({("in/b.txt", "b.txt", "binary")}),
        )
        kept = incremental.skip_published(batch, published)
        assert [a.article_id for a in kept.articles] == [a.article_id for a in articles[3:]]
        assert [q["source_name"] for q in kept.quarantine] == ["c.txt"]
        assert kept.counts == InputCounts(8, 2, 1, 1, 4)

    def test_after_a_failed_first_run(self, tmp_path: Path) -> None:
        """A dataset holding only the runs row of a failed first run is read as empty, and
        the next run's update adds its rows to it."""
        from pipelines import incremental

        failed = tabulate.finish_run_row(tabulate.build_tables([], [])["runs"], validation="failed")
        open_store(tmp_path).publish("failed-run", replace={"runs": failed})
        published = incremental.read_published(open_store(tmp_path))
        assert (published.version, published.article_ids, published.claims) == (1, set(), None)
        assert published.runs is not None and published.runs.num_rows == 1

        update = incremental.plan_update(tabulate.build_tables([], []), published)
        assert update.version == 2 and update.replace["claims"].num_rows == 0
        assert update.runs_table(update.run).num_rows == 2

    def test_a_quotation_joining_two_claims_rewrites_only_the_part_it_moves(
        self, tmp_path: Path
    ) -> None:
        """Two runs publish two claims of one speaker; a third brings a quotation holding
        both statements: the claims merge under one of the published ids, and only the
        published part whose quotation changed claim is rewritten (a new file)."""
        from pipelines import claims, incremental
        from pipelines.records import Article, ArticleAnalysis, Quote

        first = "روسيا تدعم الحل السياسي للأزمة السورية عبر مفاوضات جنيف المقبلة"
        second = "واشنطن ترفض إرسال قوات برية إلى الأراضي العراقية في المرحلة المقبلة"

        def delta(n: int, text: str) -> dict[str, pa.Table]:
            article = Article(f"{n:016x}", f"a{n}.txt", text)
            quote = Quote(f"q{n}", article.article_id, article.source_name, "text", "lavrov",
                          "لافروف", None, None, text, 0, len(text), "indirect", "قال", None,
                          None, "name", "test", 0.9, 0, None)  # fmt: skip
            return tabulate.build_tables([ArticleAnalysis(article, (), (quote,))], [])

        def publish(update: incremental.Update, run_id: str) -> None:
            open_store(tmp_path).publish(
                run_id,
                append=update.append,
                replace={**update.replace, "runs": update.runs_table(update.run)},
                rewrite=update.rewrite,
            )

        target = open_store(tmp_path)
        for n, text in ((1, first), (2, second)):
            publish(incremental.plan_update(delta(n, text), incremental.read_published(target)),
                    f"r{n}")  # fmt: skip
        published = incremental.read_published(target)
        before = {ids[0]: claim for ids, claim in zip(published.claims["quote_ids"].to_pylist(),
                  published.claims["claim_id"].to_pylist(), strict=True)}  # fmt: skip
        assert sorted(before) == ["q1", "q2"]  # two claims of one quotation each

        update = incremental.plan_update(delta(3, f"{first} و{second}"), published)
        (merged,) = update.replace["claims"].to_pylist()
        assert merged["quote_ids"] == ["q1", "q2", "q3"]
        assert merged["claim_id"] in before.values()
        moved = [q for q, claim in sorted(before.items()) if claim != merged["claim_id"]]
        (rewritten,) = update.rewrite["quotes"].values()
        assert rewritten["quote_id"].to_pylist() == moved
        publish(update, "r3")
        quotes = dataset.read_table(tmp_path, "quotes")
        assert set(quotes["claim_id"].to_pylist()) == {merged["claim_id"]}
        assert quotes.num_rows == 3 and claims.CLAIM_ID_FIELD.name in quotes.column_names
