"""The evaluation as a regression test, and a golden file of the seeds' quotes.

Scores come from ``pipelines.evaluate`` exactly as ``isnad evaluate`` prints them:
- the five seed articles against their 94 gold records (the issue's bar: P >= 0.90, R >= 0.85);
- the dev set (25 SaudiNewsNet articles from 12 newspapers, annotated for this project).
The floors sit a little under today's figures so a rule change that costs quotations fails here.

Regenerate the golden file deliberately, and review its diff:
    ISNAD_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_regression.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import analyse_articles, read_inputs

from pipelines.evaluate import PredictedQuote, load_gold, score

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
GOLDEN = ROOT / "tests" / "golden" / "seeds_quotes.json"


def _predict(paths: list[Path]):
    articles, quarantined = read_inputs([str(p) for p in paths])
    assert not quarantined
    return analyse_articles(articles)


@pytest.fixture(scope="module")
def seeds():
    return _predict([ROOT / "data" / "sample"])


@pytest.fixture(scope="module")
def dev():
    return _predict([DATA / "dev" / "articles.jsonl"])


def _report(analyses, gold_path: Path):
    preds = [
        PredictedQuote(q.source_name, q.speaker_id, q.quote_text, q.quote_type)
        for a in analyses
        for q in a.quotes
    ]
    return score(load_gold(gold_path), preds)


class TestEvaluation:
    def test_seeds_meet_the_issue_bar(self, seeds):
        """Seeds: precision >= 0.95 and recall >= 0.95 (the issue asks 0.90 / 0.85)."""
        report = _report(seeds, DATA / "seeds.gold.jsonl")
        assert report.gold == 93
        assert report.precision >= 0.95, report
        assert report.recall >= 0.95, report

    def test_dev_set_from_other_newspapers(self, dev):
        """Dev set of other newspapers: precision >= 0.90 and recall >= 0.85."""
        report = _report(dev, DATA / "dev" / "gold.jsonl")
        assert report.gold >= 85
        assert report.precision >= 0.90, report
        assert report.recall >= 0.85, report

    def test_every_quote_points_into_its_article(self, seeds, dev):
        """Every quote, cue and mention span is the text at its offsets in its field."""
        quotes = [(a.article, q) for a in [*seeds, *dev] for q in a.quotes]
        assert len(quotes) >= 100, "too few quotations for the check to mean anything"
        for art, q in quotes:
            text = getattr(art, q.field)
            assert text[q.char_start : q.char_end] == q.quote_text
            assert q.cue_start is not None and q.cue_end is not None
            assert text[q.cue_start : q.cue_end] == q.cue
            if q.mention_start is not None:
                assert text[q.mention_start : q.mention_end] == q.speaker_mention


def _golden_rows(analyses) -> list[dict]:
    rows = []
    for a in sorted(analyses, key=lambda a: a.article.source_name):
        for q in a.quotes:
            rows.append(
                {
                    "source_name": q.source_name,
                    "field": q.field,
                    "speaker_id": q.speaker_id,
                    "quote_type": q.quote_type,
                    "cue": q.cue,
                    "char_start": q.char_start,
                    "char_end": q.char_end,
                    "quote_text": q.quote_text,
                    "attribution_method": q.attribution_method,
                    "rule": q.rule,
                    "speaker_mention": q.speaker_mention,
                }
            )
    return rows


class TestGolden:
    def test_seed_quotes_match_the_golden_file(self, seeds):
        """The seeds' quotes are exactly those in tests/golden/seeds_quotes.json."""
        rows = _golden_rows(seeds)
        if os.environ.get("ISNAD_REGEN_GOLDEN") == "1":
            GOLDEN.write_text(
                json.dumps(rows, ensure_ascii=False, sort_keys=True, indent=2) + "\n",
                encoding="utf-8",
            )
        expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
        assert rows == expected
