"""Issue 12: a bad date or one bad article costs its own row, never the run.

One date policy (ingest and the suites: 1990 to the run's UTC date + 1 day), and the suites'
row-level expectations evaluated per article in each batch: an article whose own rows fail
one is quarantined as ``failed_expectation`` while the others are published.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import read_inputs
from serving import prefect_env, read_deployment, run_deployment, stop_serving

from pipelines import analyse, dataset, ingest, tabulate, validate

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"
RUN_DATE = dt.date(2025, 6, 1)
FUTURE_EVENT = "تجري الانتخابات البرلمانية في 15 مايو 2028 وفق ما أعلنت اللجنة.\n"


def _sample_text(name: str) -> str:
    (path,) = SAMPLE_DIR.glob(f"{name}_*.txt")
    return path.read_text(encoding="utf-8")


def _poison_inbox(inbox: Path) -> None:
    """A record dated 2030-01-01 and an article whose text first names a day in 2028."""
    inbox.mkdir(parents=True, exist_ok=True)
    record = {"id": "poison-2030", "date": "2030-01-01", "text": _sample_text("004") + "\n"}
    (inbox / "poison.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", "utf-8")
    (inbox / "future.txt").write_text(FUTURE_EVENT + _sample_text("003"), encoding="utf-8")


class TestDatePolicy:
    @pytest.mark.parametrize(
        ("date", "expected"),
        [
            ("2025-06-02", (dt.date(2025, 6, 2), "record")),  # the run's date + 1 day: kept
            ("2025-06-03", (None, ingest.RECORD_DATE_REJECTED)),
            ("2030-01-01", (None, ingest.RECORD_DATE_REJECTED)),
            ("1850-01-01", (None, ingest.RECORD_DATE_REJECTED)),
            ("1990-01-01", (dt.date(1990, 1, 1), "record")),
        ],
    )
    def test_record_date_out_of_range_is_nulled_with_its_reason(
        self, tmp_path: Path, date: str, expected: tuple[Any, Any]
    ) -> None:
        """A record's date after the run's date (+1 day) or before 1990 is not published as
        published_date; date_origin says why it is null."""
        path = tmp_path / "in.jsonl"
        text = "قال لافروف في 2015-07-21 إن"  # a text date is not taken in its place
        path.write_text(json.dumps({"id": 1, "date": date, "text": text}) + "\n", "utf-8")
        (article,), _ = read_inputs([path], run_date=RUN_DATE)
        assert (article.published_date, article.date_origin) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (FUTURE_EVENT + "نشر في 2017-02-08", dt.date(2017, 2, 8)),
            ("في 15 مايو 2028 ثم في 3 آب 2014", dt.date(2014, 8, 3)),
            ("2030-01-01 و 05/10/2031", None),
            ("في 2 يونيو 2025", dt.date(2025, 6, 2)),  # time zones: one day ahead is kept
        ],
    )
    def test_future_text_date_is_skipped(self, text: str, expected: dt.date | None) -> None:
        """A date in the text after the run's date is an event, not the publication date:
        the next plausible one is taken, or none."""
        latest = ingest.latest_published_date(RUN_DATE)
        assert ingest.find_text_date(text, latest) == expected

    def test_suites_bound_dates_as_ingest_does(self) -> None:
        """The suites' date parameters come from ingest's bounds: they cannot disagree."""
        parameters = validate.suite_parameters(RUN_DATE)
        assert parameters == {
            "earliest_published_date": ingest.EARLIEST_PUBLISHED_DATE.isoformat(),
            "latest_published_date": ingest.latest_published_date(RUN_DATE).isoformat(),
        }
        assert parameters["latest_published_date"] == "2025-06-02"


@pytest.fixture(scope="module")
def sample_tables() -> tuple[dict[str, pa.Table], dict[str, dict[str, np.ndarray]]]:
    articles, _ = read_inputs([SAMPLE_DIR])
    analyses = analyse.attribute_quotations(
        analyse.detect_quotations(analyse.segment_articles(analyse.clean_articles(articles)))
    )
    tables = tabulate.build_tables(analyses, [])
    checks, problems = validate.batch_checks(tables)
    assert not problems
    return tables, checks


def _with(table: pa.Table, column: str, row: int, value: Any) -> pa.Table:
    i = table.schema.get_field_index(column)
    values = table[column].to_pylist()
    values[row] = value
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))


class TestRowLevelExpectations:
    def test_good_sample_has_no_failed_article(self, sample_tables: Any) -> None:
        tables, checks = sample_tables
        assert validate.failed_articles(tables, checks, validate.suite_parameters()) == {}

    def test_each_row_level_kind_names_its_article(self, sample_tables: Any) -> None:
        """Between (with $PARAMETERs), in-set (a derived chk_* column too), lengths, pairs and
        not-null, read from the suites' JSON, each flag the article of the offending row."""
        tables, checks = sample_tables
        tables = dict(tables)
        quotes = tables["quotes"]
        ids = quotes["article_id"].to_pylist()
        row_of = {aid: ids.index(aid) for aid in dict.fromkeys(ids)}
        a, b, c, d = list(row_of)[:4]
        tables["quotes"] = _with(quotes, "quote_text", row_of[a], "x")  # length >= 2
        tables["quotes"] = _with(tables["quotes"], "char_end", row_of[b], 0)  # end > start
        tables["quotes"] = _with(tables["quotes"], "confidence", row_of[c], None)  # not null
        articles = tables["articles"]
        drow = articles["article_id"].to_pylist().index(d)
        tables["articles"] = _with(articles, "published_date", drow, dt.date(2031, 1, 1))
        tables["articles"] = _with(tables["articles"], "url", drow, "ftp://x")  # a warning
        checks = {name: dict(columns) for name, columns in checks.items()}
        checks["articles"]["chk_n_quotes"] = checks["articles"]["chk_n_quotes"].copy()
        checks["articles"]["chk_n_quotes"][drow] = False

        failed = validate.failed_articles(tables, checks, validate.suite_parameters(RUN_DATE))

        assert failed == {
            a: ["quotes: expect_column_value_lengths_to_be_between(quote_text)"],
            b: ["quotes: expect_column_pair_values_a_to_be_greater_than_b(char_end, char_start)"],
            c: ["quotes: expect_column_values_to_not_be_null(confidence)"],
            d: [
                "articles: expect_column_values_to_be_between(published_date)",
                "articles: expect_column_values_to_be_in_set(chk_n_quotes)",
            ],
        }

    def test_null_date_passes_and_warnings_do_not_quarantine(self, sample_tables: Any) -> None:
        """As GE: a null passes a between-check; a warning-severity expectation never costs
        an article its place."""
        tables, checks = sample_tables
        tables = dict(tables)
        tables["articles"] = _with(tables["articles"], "url", 0, "javascript:alert(1)")
        tables["articles"] = _with(tables["articles"], "published_date", 1, None)
        assert validate.failed_articles(tables, checks, validate.suite_parameters()) == {}

    def test_only_row_level_critical_expectations_are_evaluated(self) -> None:
        kinds = {kind for name in validate.PER_ARTICLE for _, kind, _ in
                 validate.row_expectations(name)}  # fmt: skip
        assert kinds == validate.ROW_LEVEL_TYPES
        labels = [label for label, _, _ in validate.row_expectations("articles")]
        assert "expect_column_values_to_match_regex(url)" not in labels  # a warning
        assert "expect_column_values_to_be_between(published_date)" in labels


def _table(out: Path, name: str) -> pa.Table:
    return dataset.read_table(out, name)


def _break_one_article(monkeypatch: pytest.MonkeyPatch, source_name: str) -> None:
    """The batch's derived offset check of ``source_name``'s first quotation says False, as a
    bug in one article's data would."""
    real = validate.batch_checks

    def batch_checks(tables: dict[str, pa.Table]) -> Any:
        checks, problems = real(tables)
        articles = tables["articles"]
        names = articles["source_name"].to_pylist()
        if source_name in names:
            target = articles["article_id"][names.index(source_name)].as_py()
            row = tables["quotes"]["article_id"].to_pylist().index(target)
            checks["quotes"]["chk_offset"][row] = False
        return checks, problems

    monkeypatch.setattr(validate, "batch_checks", batch_checks)


def _accounting_holds(run: dict[str, Any]) -> bool:
    return run["inputs_seen"] == (
        run["articles"] + run["quarantined"] + run["exact_duplicates"] + run["already_published"]
    )


@pytest.mark.flow
class TestPoisonRuns:
    def test_bad_dates_publish_with_the_good_articles(
        self, prefect_harness: None, tmp_path: Path
    ) -> None:
        """A record dated 2030-01-01 and a text naming 15 May 2028 among the sample: the run
        publishes every article and its quotes; the record's date is null with its reason,
        the text's date is the next plausible one."""
        from flows import pipeline

        inbox, out = tmp_path / "inbox", tmp_path / "out"
        _poison_inbox(inbox)
        for path in SAMPLE_DIR.iterdir():
            (inbox / path.name).write_bytes(path.read_bytes())

        summary = pipeline.isnad_flow([str(inbox)], str(out))

        assert summary["validation_success"] and summary["articles"] == 7
        articles = {r["source_name"]: r for r in _table(out, "articles").to_pylist()}
        record, text = articles["poison-2030"], articles["future.txt"]
        assert (record["published_date"], record["date_origin"]) == (None, "record_out_of_range")
        assert (text["published_date"], text["date_origin"]) == (dt.date(2017, 2, 8), "text")
        quotes = _table(out, "quotes").to_pylist()
        by_article = {q["article_id"] for q in quotes}
        assert {a["article_id"] for a in articles.values()} <= by_article
        assert all(
            q["published_date"] is None for q in quotes if q["article_id"] == record["article_id"]
        )
        (run,) = _table(out, "runs").to_pylist()
        assert run["validation"] == "passed" and _accounting_holds(run)

    def test_row_level_failure_quarantines_only_that_article(
        self, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One article whose quotation breaks chk_offset goes to quarantine (with its
        sentences and quotes) as failed_expectation, naming the expectation; the others are
        published and the accounting holds. The next run over the same inbox skips it as
        already published instead of quarantining it again."""
        from flows import pipeline

        victim = "001_fd6374bc9efb6c4a.txt"
        _break_one_article(monkeypatch, victim)
        out = tmp_path / "out"

        summary = pipeline.isnad_flow([str(SAMPLE_DIR)], str(out), batch_size=2)

        assert summary["validation_success"]
        assert (summary["articles"], summary["quarantined"]) == (4, 1)
        articles = _table(out, "articles")
        assert victim not in articles["source_name"].to_pylist()
        (row,) = _table(out, "quarantine").to_pylist()
        assert (row["source_name"], row["reason"]) == (victim, "failed_expectation")
        assert row["input_path"] == str(SAMPLE_DIR / victim)
        assert row["detail"].endswith("quotes: expect_column_values_to_be_in_set(chk_offset)")
        victim_id = row["detail"].split()[1].rstrip(":")
        assert victim_id == ingest.make_article_id(_sample_text("001"))
        for name in ("sentences", "quotes"):
            ids = set(_table(out, name)["article_id"].to_pylist())
            assert victim_id not in ids and ids == set(articles["article_id"].to_pylist())
        (run,) = _table(out, "runs").to_pylist()
        assert _accounting_holds(run) and run["quarantined"] == 1
        assert run["quarantined_by_reason"] == [{"reason": "failed_expectation", "count": 1}]

        again = pipeline.isnad_flow([str(SAMPLE_DIR)], str(out), batch_size=2)

        assert again["validation_success"]
        assert (again["articles"], again["quarantined"], again["already_published"]) == (0, 0, 5)
        assert _table(out, "quarantine").num_rows == 1


DEPLOYMENT = "poison-inbox"


@pytest.mark.flow
def test_scheduled_deployment_keeps_publishing_past_a_poison_input(
    prefect_harness: None, tmp_path: Path
) -> None:
    """`isnad serve` with a record dated 2030 and a text naming 2028 in its inbox: its first
    run publishes the good articles (and the poison ones, dates nulled or skipped); the
    second, after new good articles are dropped in, adds them and does not fail again."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    _poison_inbox(inbox)
    samples = sorted(SAMPLE_DIR.iterdir())
    for path in samples[:2]:
        (inbox / path.name).write_bytes(path.read_bytes())
    # A deployment name of its own: test_serve reads the default one on the same server.
    command = ["serve", str(inbox), "--out", str(out), "-q", "--name", DEPLOYMENT]
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *command],
        cwd=tmp_path,
        env=prefect_env(PREFECT_RUNNER_POLL_FREQUENCY="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deployment = read_deployment(f"isnad/{DEPLOYMENT}", proc)

        first = run_deployment(deployment.id, proc)
        assert first.is_completed(), first
        published = set(_table(out, "articles")["source_name"].to_pylist())
        assert published == {"poison-2030", "future.txt", *(p.name for p in samples[:2])}

        for path in samples[2:]:
            (inbox / path.name).write_bytes(path.read_bytes())
        second = run_deployment(deployment.id, proc)
        assert second.is_completed(), second
        articles = _table(out, "articles")
        assert set(articles["source_name"].to_pylist()) == published | {p.name for p in samples}
        runs = _table(out, "runs").to_pylist()
        assert [r["validation"] for r in runs] == ["passed", "passed"]
        assert [r["articles"] for r in runs] == [4, 3]
        assert runs[1]["already_published"] == 4 and all(_accounting_holds(r) for r in runs)
        assert pq.read_table(out / "quotes").num_rows > 0
    finally:
        stop_serving(proc)
