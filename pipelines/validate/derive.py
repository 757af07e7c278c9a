"""Computing the derived check columns of :data:`pipelines.validate.checks.CHECKS`: per batch
(:func:`batch_checks`), or over whole tables (:func:`derive_check_columns`, and
:func:`derive` for validation, which completes what the batches computed).

A check that cannot look fails closed: its input table is missing or lacks a declared column,
its function raises on a column of the wrong type, or DuckDB fails; its column is then all
False and the reason is reported with the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.tabulate import TABLE_NAMES
from pipelines.validate.checks import (
    BATCH_CHECKED,
    DERIVED,
    DERIVED_READS,
    Arrow,
    DerivedCheck,
    Method,
    PerRow,
    Sql,
    When,
    method_reads,
    of_table,
)
from pipelines.validate.frames import has_columns

Columns = dict[str, np.ndarray]


class DuckDB:
    """A DuckDB connection opened on first use: opening one costs ~10 ms of CPU, which a
    batch (whose checks are all over Arrow columns) does not pay."""

    def __init__(self) -> None:
        self._con: Any = None

    def query(self, sql: str, sources: Mapping[str, pa.Table], problems: list[str]) -> Columns:
        """The boolean columns ``sql`` selects over ``sources`` (registered by name, each
        with ``__row``); a DuckDB error goes to ``problems`` (and no column comes back, so
        the checks fail closed)."""
        import duckdb

        if self._con is None:
            self._con = duckdb.connect()
            self._con.execute("set preserve_insertion_order = true")
        for name, table in sources.items():
            self._con.register(name, _with_row(table))
        try:
            result = self._con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
            return {}
        return {
            c: result.column(c).to_numpy(zero_copy_only=False).astype(bool)
            for c in result.column_names
        }

    def close(self) -> None:
        if self._con is not None:
            self._con.close()


def _with_row(table: pa.Table) -> pa.Table:
    return table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def _run_arrow(how: Arrow, sources: Mapping[str, pa.Table], problems: list[str]) -> Columns:
    """The columns ``how`` computes; a column missing or of a type it cannot read goes to
    ``problems`` (and no column comes back, so the checks fail closed)."""
    try:
        return how.compute(sources)
    except (KeyError, TypeError, ValueError, pa.ArrowException) as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
        return {}


def _per_row(check: DerivedCheck, table: pa.Table) -> np.ndarray:
    assert isinstance(check.how, PerRow)
    ok = check.how.ok
    return np.array([ok(**row) for row in table.select(list(check.how.columns)).to_pylist()], bool)


def _methods(checks: tuple[DerivedCheck, ...]) -> list[Method]:
    """The distinct computations of ``checks``, in order."""
    return list(dict.fromkeys(c.how for c in checks))


class _TableChecks:
    """The derived columns of one table, with what could not be computed."""

    def __init__(
        self,
        name: str,
        tables: Mapping[str, pa.Table],
        lookups: Mapping[str, pa.Table],
        duckdb: DuckDB,
        problems: list[str],
    ) -> None:
        self.name = name
        self.sources = {
            t: lookups[t] if t != name and t in lookups else tables.get(t)
            for t in DERIVED_READS[name]
        }
        self.unreadable = [t for t, table in self.sources.items() if not has_columns(table, t)]
        self.duckdb = duckdb
        self.problems = problems

    def _sql(self, how: Sql, reads: tuple[str, ...] | None = None) -> Columns:
        tables = self.sources if reads is None else {t: self.sources[t] for t in reads}
        return self.duckdb.query(how.query, tables, self.problems)

    def complete(self, given: Mapping[str, np.ndarray], late: tuple[DerivedCheck, ...]) -> Columns:
        """The columns computed over the batches, and those of ``late`` they lack (where the
        tables these read are readable)."""
        values = dict(given)
        for check in of_table(self.name):
            if check.column in values:
                continue
            reads = method_reads(self.name, check.how)
            if check not in late or any(t in self.unreadable for t in reads):
                self.problems.append(f"{check.column}: not computed over the batches")
                continue
            assert isinstance(check.how, Sql)  # late checks are DuckDB queries
            values.update(self._sql(check.how, reads))
        return values

    def compute(self, late: tuple[DerivedCheck, ...]) -> Columns:
        """Every column but the PerRow ones, and those of ``late`` after the others."""
        if self.unreadable:
            self.problems.append(f"needs {', '.join(self.unreadable)} with declared columns")
            return {}
        values: Columns = {}
        early = [c for c in of_table(self.name) if c.when is not When.CLAIMS]
        for how in _methods(tuple(early)):
            if isinstance(how, Arrow):
                values.update(_run_arrow(how, self.sources, self.problems))
            elif isinstance(how, Sql):
                values.update(self._sql(how))
        for how in _methods(late):
            assert isinstance(how, Sql)  # late checks are DuckDB queries
            values.update(self._sql(how, method_reads(self.name, how)))
        return values


def derive(
    tables: Mapping[str, pa.Table],
    lookups: Mapping[str, pa.Table] | None = None,
    *,
    batch: bool = False,
    precomputed: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> tuple[dict[str, Columns], dict[str, list[str]]]:
    """Derived check columns per table, and per table what could not be computed and why.

    ``lookups`` are whole tables that a table's checks read in place of the validated ones
    when they look *into another* table (an incremental run validates its new quotes, but
    claims and speaker counts are checked against every quotation). ``batch``: only the
    tables of BATCH_CHECKED, without the columns computed after claims. ``precomputed``:
    columns computed over the batches (:func:`batch_checks`); of those tables only the
    columns missing from it are computed, where a check after claims can.
    """
    lookups = lookups or {}
    precomputed = precomputed or {}
    out: dict[str, Columns] = {}
    problems: dict[str, list[str]] = {name: [] for name in TABLE_NAMES}
    duckdb = DuckDB()
    try:
        for name, columns in DERIVED.items():
            if batch and name not in BATCH_CHECKED:
                continue
            checks = of_table(name)
            late = () if batch else tuple(c for c in checks if c.when is When.CLAIMS)
            table_checks = _TableChecks(name, tables, lookups, duckdb, problems[name])
            if name in precomputed:
                values = table_checks.complete(precomputed[name], late)
            else:
                values = table_checks.compute(late)
            table = tables.get(name)
            for check in checks:
                if isinstance(check.how, PerRow) and has_columns(table, name):
                    values[check.column] = _per_row(check, table)
            n = table.num_rows if table is not None else 0
            # Fail closed: a check that could not look must not vouch for the data.
            skipped = {c.column for c in checks if c.when is When.CLAIMS} if batch else set()
            out[name] = {
                c: values.get(c, np.zeros(n, dtype=bool)) for c in columns if c not in skipped
            }
    finally:
        duckdb.close()
    return out, problems


def batch_checks(
    tables: Mapping[str, pa.Table],
) -> tuple[dict[str, Columns], dict[str, list[str]]]:
    """The derived checks of one batch's tables that read only the batch (BATCH_CHECKED),
    and what could not be computed. A quotation's claim is checked at the end of the run."""
    values, problems = derive(tables, batch=True)
    return values, {name: problems[name] for name in BATCH_CHECKED if problems[name]}


def derive_check_columns(
    tables: Mapping[str, pa.Table], lookups: Mapping[str, pa.Table] | None = None
) -> dict[str, Columns]:
    """``{table: {chk_column: bool array}}``, one value per row, in row order.

    A check whose input table is missing (or lacks declared columns, or makes DuckDB fail)
    is all False: a check that could not look must not vouch for the data. ``lookups``: see
    :func:`derive`.
    """
    return derive(tables, lookups)[0]
