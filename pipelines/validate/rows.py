"""The suites' row-level expectations, evaluated over one batch's Arrow columns to find the
articles whose own rows break one: such an article is quarantined (``failed_expectation``)
instead of failing the run. The rules are read from the suites' JSON (no second copy)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.speakers import registry_in_use
from pipelines.validate.checks import BATCH_CHECKED
from pipelines.validate.spans import is_true
from pipelines.validate.suites import expectation_label, read_suite_json

# Expectation types that judge each row on its own, evaluated per batch by
# :func:`failed_articles` from the suites' JSON (no second copy of the rules): an article whose
# own rows fail one (critical, without ``mostly``) is quarantined instead of failing the run.
# Whole-table types (uniqueness, columns, row counts) and the column types stay GE's alone.
ROW_LEVEL_TYPES: frozenset[str] = frozenset(
    (
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
        "expect_column_value_lengths_to_be_between",
        "expect_column_pair_values_a_to_be_greater_than_b",
    )
)
# Tables whose rows all belong to one article of the batch (by ``article_id``).
PER_ARTICLE: tuple[str, ...] = BATCH_CHECKED


def row_expectations(name: str) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """``(label, type, kwargs)`` of the critical row-level expectations of the suite of
    ``name`` (label as in a report: ``type(column)``), for the registry in use."""
    return _row_expectations(name, registry_in_use())


@cache
def _row_expectations(name: str, registry: str) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    out = []
    for raw in read_suite_json(name)["expectations"]:
        kwargs = raw["kwargs"]
        critical = raw.get("severity", "critical") == "critical"
        if raw["type"] in ROW_LEVEL_TYPES and critical and "mostly" not in kwargs:
            out.append((expectation_label(raw["type"], kwargs), raw["type"], kwargs))
    return tuple(out)


def _bound(value: Any, type_: pa.DataType, parameters: Mapping[str, Any]) -> pa.Scalar | None:
    """A suite's bound (a literal or a ``$PARAMETER``) as a scalar of the column's type."""
    if isinstance(value, dict):
        value = parameters[value["$PARAMETER"]]
    if value is None:
        return None
    if pa.types.is_date(type_) and isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return pa.scalar(value).cast(type_)


def _within(
    values: pa.ChunkedArray | pa.Array, kwargs: Mapping[str, Any], parameters: Mapping[str, Any]
) -> pa.ChunkedArray | pa.Array:
    """Whether each value is between the expectation's bounds (inclusive unless strict)."""
    ok = pc.is_valid(values)
    for key, strict, above, at_least in (
        ("min_value", "strict_min", pc.greater, pc.greater_equal),
        ("max_value", "strict_max", pc.less, pc.less_equal),
    ):
        bound = _bound(kwargs.get(key), values.type, parameters)
        if bound is not None:
            ok = pc.and_(ok, (above if kwargs.get(strict) else at_least)(values, bound))
    return ok


def _failing_rows(
    kind: str,
    kwargs: Mapping[str, Any],
    column: Any,
    parameters: Mapping[str, Any],
) -> np.ndarray:
    """Rows of one column (two for a pair) that break a row-level expectation, as GE judges
    them: a null passes every type but ``not_be_null`` (and a pair's, per ignore_row_if)."""
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = column
        compare = pc.greater_equal if kwargs.get("or_equal") else pc.greater
        ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
        missing_a, missing_b = np.asarray(a.is_null()), np.asarray(b.is_null())
        skipped = {
            "both_values_are_missing": missing_a & missing_b,
            "either_value_is_missing": missing_a | missing_b,
        }.get(ignore, np.zeros(len(a), dtype=bool))
        return ~skipped & ~is_true(compare(a, b))
    if isinstance(column, np.ndarray):  # a derived chk_* column: booleans, never null
        if kind == "expect_column_values_to_be_in_set":
            return ~np.isin(column, kwargs["value_set"])
        column = pa.array(column)
    if kind == "expect_column_values_to_not_be_null":
        return np.asarray(column.is_null())
    present = np.asarray(column.is_valid())
    if kind == "expect_column_values_to_be_in_set":
        value_set = pa.array(kwargs["value_set"]).cast(column.type)
        ok = pc.is_in(column, value_set=value_set)
    elif kind == "expect_column_values_to_be_between":
        ok = _within(column, kwargs, parameters)
    elif kind == "expect_column_values_to_match_regex":
        ok = pc.match_substring_regex(column, kwargs["regex"])
    else:  # expect_column_value_lengths_to_be_between
        ok = _within(pc.utf8_length(column), kwargs, parameters)
    return present & ~is_true(ok)


def failed_articles(
    tables: Mapping[str, pa.Table],
    checks: Mapping[str, Mapping[str, np.ndarray]],
    parameters: Mapping[str, Any],
) -> dict[str, list[str]]:
    """``{article_id: ["table: expectation(column)", ...]}`` for the articles of one batch
    whose own rows (in articles, sentences, quotes, with their derived ``checks``) break a
    critical row-level expectation of the suites, evaluated over the Arrow columns. A row
    whose article is not in the batch's ``articles`` is left to GE (the program is wrong)."""
    known = tables["articles"]["article_id"]
    failed: dict[str, list[str]] = {}
    for name in PER_ARTICLE:
        table = tables[name]
        if not table.num_rows:
            continue
        columns: dict[str, Any] = {c: table[c] for c in table.column_names}
        columns.update(checks.get(name, {}))
        for label, kind, kwargs in row_expectations(name):
            if "column" in kwargs:
                values = columns.get(kwargs["column"])
            else:
                values = (columns.get(kwargs["column_A"]), columns.get(kwargs["column_B"]))
            if values is None or (isinstance(values, tuple) and None in values):
                continue  # a column computed later (a quotation's claim): GE checks it
            bad = _failing_rows(kind, kwargs, values, parameters)
            if not bad.any():
                continue
            ids = pc.unique(table["article_id"].filter(pa.array(bad)))
            for article_id in pc.filter(ids, pc.is_in(ids, value_set=known)).to_pylist():
                failed.setdefault(article_id, []).append(f"{name}: {label}")
    return failed
