"""The expectation suites in ``expectations/`` (one JSON file a table): reading them, their
``$PARAMETER`` values, and the label a report gives an expectation. Great Expectations builds
a suite only in :func:`load_suite` (imported there: it costs ~3 s)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines import ingest
from pipelines.speakers import load_registry

SUITES_DIR = Path(__file__).resolve().parents[2] / "expectations"


class SuiteError(ValueError):
    """An expectation suite file that GE does not load in full."""


def suite_parameters(run_date: dt.date | None = None) -> dict[str, str]:
    """The suites' ``$PARAMETER`` values for a run on ``run_date`` (default today, UTC): the
    date bounds are ingest's own (ingest.plausible_date), so the two cannot disagree."""
    return {
        "earliest_published_date": ingest.EARLIEST_PUBLISHED_DATE.isoformat(),
        "latest_published_date": ingest.latest_published_date(run_date).isoformat(),
    }


def registry_values() -> dict[str, Any]:
    """What a suite's ``{"$REGISTRY": key}`` stands for: the registry in use's speaker ids,
    their count and its hash (no suite names a speaker)."""
    registry = load_registry()
    return {
        "speaker_ids": list(registry.speaker_ids),
        "n_speakers": len(registry.speaker_ids),
        "registry_hash": [registry.digest],
    }


def _fill_registry(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$REGISTRY"}:
            key = value["$REGISTRY"]
            if key not in values:
                raise SuiteError(f"unknown $REGISTRY value {key!r}; known: {sorted(values)}")
            return values[key]
        return {k: _fill_registry(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_registry(v, values) for v in value]
    return value


def read_suite_json(name: str, suites_dir: Path | None = None) -> dict[str, Any]:
    """A suite as JSON, its ``$REGISTRY`` values filled in from the registry in use."""
    path = (suites_dir or SUITES_DIR) / f"{name}.json"
    with open(path, encoding="utf-8") as fh:
        suite = json.load(fh)
    if suite.get("name") != name:
        raise SuiteError(f"{path}: suite name {suite.get('name')!r} is not {name!r}")
    return _fill_registry(suite, registry_values())


def load_suite(name: str, suites_dir: Path | None = None) -> Any:
    """The GE ``ExpectationSuite`` for one table; raise if GE dropped any expectation.

    GE 1.x logs and skips an expectation it cannot build (unknown type, bad kwargs), so a
    typo in the JSON would silently weaken the contract: compare the counts.
    """
    import great_expectations as gx

    raw = read_suite_json(name, suites_dir)
    suite = gx.ExpectationSuite(name=raw["name"], expectations=raw["expectations"])
    if len(suite.expectations) != len(raw["expectations"]):
        loaded = {e.expectation_type for e in suite.expectations}
        missing = [e["type"] for e in raw["expectations"] if e["type"] not in loaded]
        raise SuiteError(
            f"{name}.json: GE loaded {len(suite.expectations)} of {len(raw['expectations'])} "
            f"expectations (not loaded, among: {missing})"
        )
    return suite


def expectation_label(type_: str, kwargs: Mapping[str, Any]) -> str:
    """An expectation as reports and quarantine details name it: ``type(columns)``."""
    if "column" in kwargs:
        args = kwargs["column"]
    elif "column_A" in kwargs:
        args = f"{kwargs['column_A']}, {kwargs['column_B']}"
    elif "column_list" in kwargs and not type_.startswith("expect_table_"):
        args = ", ".join(kwargs["column_list"])
    else:
        args = ""
    return f"{type_}({args})"
