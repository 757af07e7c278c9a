"""What validation looks at of a table: its Arrow schema (layer 1, checked here against
``tabulate.SCHEMAS``: names, order, exact types, nested ones included; GE only sees pandas
dtypes) and its validation frame, the columns the suite checks."""

from __future__ import annotations

from typing import TypeGuard

import pyarrow as pa

from pipelines.tabulate import SCHEMAS
from pipelines.validate.results import CheckResult

# The frame GE validates holds every column but the long texts (and the nested dropped
# spans): a year of news does not fit in a pandas frame in bounded memory. What the suites
# would check on them (non-null, length, the offset identity) is in derived columns computed
# over each batch, where the text is in memory (``chk_n_chars``, ``chk_offset``,
# ``chk_dropped_spans``), and their Arrow type in the schema check.
FRAME_DROPS: dict[str, tuple[str, ...]] = {
    "articles": ("text", "dropped_spans"),  # a list of structs: a Python object a row
    "sentences": ("text",),
}
FRAME_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c for c in schema.names if c not in FRAME_DROPS.get(name, ()))
    for name, schema in SCHEMAS.items()
}
# Columns of a frame that repeat a few values over many rows: kept dictionary-encoded while
# a run collects its batches' frames (~16 bytes a sentence less), decoded chunk by chunk for GE.
FRAME_DICTIONARY: dict[str, tuple[str, ...]] = {
    "articles": ("input_path", "encoding", "content_type", "date_origin"),
    "sentences": ("article_id", "field"),
}


def frame(name: str, table: pa.Table) -> pa.Table:
    """The columns of ``table`` that the suite of ``name`` validates (see FRAME_DROPS), the
    repetitive ones dictionary-encoded (FRAME_DICTIONARY)."""
    if not FRAME_DROPS.get(name):
        return table
    table = table.select(list(FRAME_COLUMNS[name]))
    for column in FRAME_DICTIONARY.get(name, ()):
        i = table.schema.get_field_index(column)
        if i >= 0 and pa.types.is_string(table.schema.field(i).type):
            encoded = table.column(i).dictionary_encode()
            table = table.set_column(i, table.schema.field(i).with_type(encoded.type), encoded)
    return table


def decoded(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary-encoded columns as plain values (what GE should see)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            plain = table.column(i).cast(f.type.value_type)
            table = table.set_column(i, f.with_type(f.type.value_type), plain)
    return table


def has_columns(table: pa.Table | None, name: str) -> TypeGuard[pa.Table]:
    """Whether ``table`` is given with every column of the validation frame of ``name``."""
    return table is not None and set(FRAME_COLUMNS[name]) <= set(table.column_names)


def schema_checks(name: str, actual: pa.Schema) -> list[CheckResult]:
    """Names, order and exact types against the declared schema (nullability is GE's job)."""
    expected = SCHEMAS[name]
    checks = []
    if actual.names != expected.names:
        checks.append(
            CheckResult(
                "arrow_schema(columns)",
                False,
                observed=actual.names,
                error=f"columns {actual.names} != declared {expected.names}",
            )
        )
    for f in expected:
        i = actual.get_field_index(f.name)
        if i >= 0 and not actual.field(i).type.equals(f.type):
            checks.append(
                CheckResult(
                    f"arrow_schema({f.name})",
                    False,
                    observed=str(actual.field(i).type),
                    error=f"type {actual.field(i).type} != declared {f.type}",
                )
            )
    if not checks:
        checks.append(CheckResult("arrow_schema", True))
    return checks
