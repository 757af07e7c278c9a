"""What validation reports: one result a check, one report a table, one for the run (with
its Markdown summary for a Prefect artifact). Plain records: no Great Expectations here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    """One expectation (or Arrow schema check) on one table."""

    check: str  # "expect_column_values_to_be_in_set(speaker_id)", "arrow_schema(confidence)"
    success: bool
    severity: str = "critical"  # or "warning", "info"
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)  # up to 5 offending values or row keys
    observed: Any = None
    error: str | None = None  # the check could not run (missing column, exception in GE)


@dataclass(frozen=True)
class TableReport:
    table: str
    success: bool
    n_rows: int
    checks: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity == "critical"]


@dataclass(frozen=True)
class ValidationReport:
    success: bool
    failed: list[str]  # "quotes: expect_column_values_to_be_in_set(speaker_id)"
    results: dict[str, TableReport]
    docs_path: str | None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (for a Prefect artifact or a file)."""
        return json.loads(json.dumps(asdict(self), default=str))

    def summary(self) -> str:
        """A short Markdown summary: one line a table, then every failure with examples."""
        lines = [f"**validation {'passed' if self.success else 'FAILED'}** ({self.seconds:.1f} s)"]
        for name, table in self.results.items():
            bad = len(table.failed)
            lines.append(f"- {name}: {table.n_rows} rows, {len(table.checks)} checks, {bad} failed")
        for name, table in self.results.items():
            for c in table.checks:
                if not c.success:
                    what = c.error or f"{c.unexpected_count} unexpected; e.g. {c.examples[:3]}"
                    lines.append(f"  - [{c.severity}] {name}: {c.check}: {what}")
        lines.extend(
            f"  - [critical] {f}" for f in self.failed if f.split(":")[0] not in self.results
        )
        if self.docs_path:
            lines.append(f"Data Docs: {self.docs_path}")
        return "\n".join(lines)


def failed_labels(results: Mapping[str, TableReport], *, critical: bool) -> list[str]:
    """'table: check' for each failed check of the given kind (critical, or warning/info)."""
    return [
        f"{name}: {c.check}"
        for name, report in results.items()
        for c in report.checks
        if not c.success and (c.severity == "critical") == critical
    ]
