"""What tests build with the pipeline's stages, kept out of the production modules: reading
every input at once and running the four text stages in one call (the flow reads batches)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipelines.analyse import (
    attribute_quotations,
    clean_articles,
    detect_quotations,
    segment_articles,
)
from pipelines.ingest import DEFAULT_MAX_BYTES, iter_batches, iter_inputs
from pipelines.records import Article, ArticleAnalysis, InputCounts


def read_inputs(
    paths: Iterable[str | Path],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    run_date: dt.date | None = None,
) -> tuple[list[Article], list[dict[str, str]]]:
    """All articles and quarantine rows under ``paths`` at once."""
    articles: list[Article] = []
    quarantine: list[dict[str, str]] = []
    for batch_articles, batch_quarantine in iter_inputs(
        paths, batch_size=10_000, max_bytes=max_bytes, run_date=run_date
    ):
        articles.extend(batch_articles)
        quarantine.extend(batch_quarantine)
    return articles, quarantine


def count_inputs(paths: Iterable[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES) -> InputCounts:
    """The accounting of a whole read of ``paths`` (inputs seen, articles, ...)."""
    total = InputCounts()
    for batch in iter_batches(paths, batch_size=10_000, max_bytes=max_bytes):
        total = total + batch.counts
    return total


def analyse_articles(articles: Sequence[Article]) -> list[ArticleAnalysis]:
    """All four text stages in one call."""
    return attribute_quotations(detect_quotations(segment_articles(clean_articles(articles))))
