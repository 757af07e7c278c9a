"""Fuzzing ingest: whatever the bytes, JSON or Parquet columns, no exception escapes
``iter_batches``, every input is accounted for, and every quarantine reason is the suite's."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from helpers import read_inputs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import ingest, validate
from pipelines.records import InputCounts

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples on every machine: a red CI run reproduces
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_BYTES = 4096
TEXT = "قال لافروف إن المحادثات كانت مثمرة"


def _suite_reasons() -> set[str]:
    raw = validate.read_suite_json("quarantine")
    (values,) = [
        e["kwargs"]["value_set"]
        for e in raw["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "reason"
    ]
    return set(values)


REASONS = _suite_reasons()


def _check(paths: list[Path]) -> InputCounts:
    """Ingest ``paths`` in small batches; the properties every run must have."""
    total = InputCounts()
    for batch in ingest.iter_batches(paths, batch_size=3, max_bytes=MAX_BYTES):
        assert all(row["reason"] in REASONS for row in batch.quarantine)
        assert all(row["detail"] and row["source_name"] for row in batch.quarantine)
        assert batch.counts.articles == len(batch.articles)
        assert batch.counts.quarantined == len(batch.quarantine)
        total = total + batch.counts
    assert total.inputs_seen == total.articles + total.quarantined + total.exact_duplicates
    assert total.inputs_seen >= len(paths)  # each file is at least one input
    return total


# --- raw bytes ------------------------------------------------------------------------------

_CHUNKS = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=20).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            TEXT.encode(),
            TEXT.encode("utf-16"),
            TEXT.encode("cp1256"),
            b"\n",
            b"\r\n",
            b"\x00",
            b"\xef\xbb\xbf",
            b"\xff\xfe",
            b'{"id": 1, "text": "',
            b'"}\n',
            b"<html><p>",
            b"[" * 2000,
            b"9" * 5000,
        ]
    ),
)
_RAW = st.lists(_CHUNKS, max_size=8).map(b"".join)


@SETTINGS
@given(raw=_RAW, kind=st.sampled_from(["txt", "html", "jsonl", "jsonl.gz", "gz-tail", "parquet"]))
def test_any_bytes(raw: bytes, kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"in.{kind.replace('gz-tail', 'jsonl.gz')}"
        if kind == "jsonl.gz":
            raw = gzip.compress(raw)
        elif kind == "gz-tail":  # a valid stream, then whatever (garbage, a cut member)
            raw = gzip.compress(raw) + raw[:50]
        path.write_bytes(raw)
        _check([path])


# --- JSON structures ------------------------------------------------------------------------

_HUGE = "<an integer of 5000 digits>"
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.just(_HUGE),  # written as an integer of more digits than Python converts
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from([TEXT, "\x00", "\ud800", TEXT + "\x00", "2015-07-21", "99999-99-99", ""]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
_FIELDS = ("id", "text", "title", "date", "source", "url")
_RECORD = st.fixed_dictionaries({}, optional={name: _JSON for name in _FIELDS}) | _JSON


def _dump(value: Any) -> str:
    # ensure_ascii: lone surrogates become \ud800 escapes, as a hostile file would hold them
    return json.dumps(value, ensure_ascii=True).replace(json.dumps(_HUGE), "9" * 5000)


@SETTINGS
@given(
    records=st.lists(_RECORD, max_size=6),
    deep=st.integers(min_value=0, max_value=3000),
    gz=st.booleans(),
)
def test_any_json_records(records: list[Any], deep: int, gz: bool) -> None:
    lines = [_dump(r) for r in records] + ["[" * deep + "]" * deep if deep else ""]
    data = "\n".join(lines).encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("in.jsonl.gz" if gz else "in.jsonl")
        path.write_bytes(gzip.compress(data) if gz else data)
        _check([path])


# --- Parquet columns ------------------------------------------------------------------------

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
_COLUMNS: list[tuple[pa.DataType, st.SearchStrategy[Any]]] = [
    (pa.string(), st.text(max_size=20) | st.sampled_from([TEXT, TEXT + "\x00", ""])),
    (pa.large_string(), st.sampled_from([TEXT, "x", "<html><p>" + TEXT])),
    (pa.int64(), _INT64),
    (pa.float64(), st.floats()),
    (pa.binary(), st.binary(max_size=20)),
    (pa.bool_(), st.booleans()),
    (pa.date32(), _INT32),  # days: far beyond year 9999 and before year 1
    (pa.date64(), _INT64),
    (pa.timestamp("ms"), _INT64),
    (pa.timestamp("us", tz="UTC"), _INT64),
    (pa.timestamp("ms", tz="Asia/Riyadh"), _INT64),
    (pa.duration("s"), _INT64),
    (pa.time32("s"), _INT32),
    (pa.decimal128(38, 5), st.decimals(allow_nan=False, allow_infinity=False, places=5)),
    (pa.list_(pa.string()), st.lists(st.text(max_size=5), max_size=3)),
    (pa.struct([("d", pa.date32())]), _INT32.map(lambda d: {"d": d})),
    (pa.null(), st.none()),
]


@st.composite
def _parquet_tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(min_value=0, max_value=5))
    names = draw(st.lists(st.sampled_from([*_FIELDS, "other"]), min_size=1, max_size=4))
    columns = {}
    for name in dict.fromkeys(names):
        arrow_type, values = draw(st.sampled_from(_COLUMNS))
        cells = draw(st.lists(st.none() | values, min_size=rows, max_size=rows))
        columns[name] = _array(cells, arrow_type)
    return pa.table(columns)


def _array(cells: list[Any], arrow_type: pa.DataType) -> pa.Array:
    """Cells as a column of ``arrow_type``; temporal types from their raw integers, so any
    value Arrow can store (not only the ones Python can) is tried."""
    if pa.types.is_temporal(arrow_type) and not pa.types.is_date32(arrow_type):
        storage = pa.int32() if pa.types.is_time32(arrow_type) else pa.int64()
        return pa.array(cells, storage).view(arrow_type)
    if pa.types.is_date32(arrow_type):
        return pa.array(cells, pa.int32()).view(arrow_type)
    if pa.types.is_struct(arrow_type):
        days = pa.array([None if c is None else c["d"] for c in cells], pa.int32())
        return pa.StructArray.from_arrays([days.view(pa.date32())], names=["d"])
    return pa.array(cells, arrow_type)


@SETTINGS
@given(table=_parquet_tables())
def test_any_parquet_columns(table: pa.Table) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.parquet"
        pq.write_table(table, path)
        counts = _check([path])
        if "text" in table.column_names:
            assert counts.inputs_seen == max(table.num_rows, 1)


def test_a_far_future_date_is_kept_as_null() -> None:
    """The example the fuzzer's Parquet columns stand for, pinned."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.parquet"
        days = pa.array([(dt.date(9999, 12, 31) - dt.date(1970, 1, 1)).days + 1], pa.int32())
        pq.write_table(
            pa.table({"id": ["a"], "text": [TEXT], "date": days.view(pa.date32())}), path
        )
        (article,), quarantine = read_inputs([path])
        assert quarantine == [] and article.published_date is None
