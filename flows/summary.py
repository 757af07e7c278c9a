"""What a run did: its summary record (the flow's return value) and its text for the CLI.

Imports nothing heavy: the CLI formats a summary without loading Arrow or Prefect.
"""

from __future__ import annotations

import dataclasses
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunCounts:
    """The run's accounting and new rows, counted before its frames are let go. Inputs seen
    = articles + quarantined + exact duplicates + already published (validation checks it);
    articles, sentences, quotes and quarantined are the run's new rows."""

    run_id: str
    inputs_seen: int
    exact_duplicates: int
    already_published: int
    quarantined_by_reason: dict[str, int]
    articles: int
    sentences: int
    quotes: int
    quotes_by_speaker: dict[str, int]  # speaker id (or "other") -> new quotations, if any
    quarantined: int
    claims: int  # claims in the dataset, recomputed over it


@dataclass(frozen=True)
class RunSummary(RunCounts):
    """A published run: its counts, the dataset version it made and where things are."""

    dataset_version: int
    dataset_rows: dict[str, int]  # table -> rows in the published version
    report_path: str
    stage_seconds: dict[str, float]
    stage_peak_rss_mib: dict[str, int]
    validation_success: bool
    docs_path: str | None  # the Data Docs' index.html
    paths: dict[str, str]  # table -> where it is read from
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The fields in order, as ``isnad run --json`` prints them."""
        return dataclasses.asdict(self)

    def __getitem__(self, name: str) -> Any:
        """A field by name (``summary["quotes"]``), as code written against the summary's
        former dict reads it."""
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)


class StageClock:
    """Seconds spent in each stage over all batches, and this process's peak RSS when each
    stage last ended (the benchmark prints both)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, int] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self.peak_mib[stage] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        self._last = now

    def add(self, stage: str, seconds: float) -> None:
        """Seconds measured elsewhere (a batch, in whichever process ran it)."""
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


def format_summary(summary: RunSummary) -> str:
    """The lines ``isnad run`` prints for a published run."""
    speakers = ", ".join(f"{k} {v}" for k, v in summary.quotes_by_speaker.items()) or "none"
    out_dir = Path(summary.paths["quotes"]).parent if summary.paths else "?"
    accounting = [
        f"inputs       {summary.inputs_seen} seen = {summary.articles} articles"
        f" + {summary.quarantined} quarantined"
        f" + {summary.exact_duplicates} exact duplicates"
        f" + {summary.already_published} already published"
    ]
    if reasons := summary.quarantined_by_reason:
        accounting.append("quarantined  " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    dataset = []
    if rows := summary.dataset_rows:
        dataset.append(
            f"dataset      version {summary.dataset_version}: "
            + ", ".join(f"{rows[k]} {k}" for k in ("articles", "quotes", "claims") if k in rows)
        )
    return "\n".join(
        [
            *accounting,
            f"articles     {summary.articles} new ({summary.quarantined} inputs quarantined)",
            f"sentences    {summary.sentences}",
            f"quotes       {summary.quotes}: {speakers}",
            f"validation   {'passed' if summary.validation_success else 'FAILED'}",
            *dataset,
            f"tables       {out_dir}",
            f"data docs    {summary.docs_path}",
            f"time         {summary.seconds:.1f} s",
        ]
    )
