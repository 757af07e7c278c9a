"""A run's summary as the flow returns it, for tests of what the CLI does with one."""

from __future__ import annotations

from typing import Any

from flows.summary import RunSummary


def example_summary(**changes: Any) -> RunSummary:
    """A published run of five articles and three quotations, with ``changes``."""
    fields: dict[str, Any] = {
        "run_id": "run-1",
        "inputs_seen": 6,
        "exact_duplicates": 0,
        "already_published": 0,
        "quarantined_by_reason": {},
        "articles": 5,
        "sentences": 80,
        "quotes": 3,
        "quotes_by_speaker": {"lavrov": 3},
        "quarantined": 1,
        "claims": 2,
        "dataset_version": 1,
        "dataset_rows": {},
        "report_path": "/o/report/index.html",
        "stage_seconds": {},
        "stage_peak_rss_mib": {},
        "validation_success": True,
        "docs_path": None,
        "paths": {},
        "seconds": 1.0,
    }
    return RunSummary(**(fields | changes))
