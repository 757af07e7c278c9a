"""The vectorised pieces of the derived checks of articles, sentences and quotes: offsets,
spans and counts over Arrow columns, with pyarrow.compute and numpy (no Python loop a row
but where noted).

The checks of articles, sentences and quotes run once a batch, over its Arrow columns with
pyarrow.compute and numpy: DuckDB, which the other tables' checks use, costs ~10 ms of CPU a
connection, and its code-point ``substring`` scans the article from its start for each
sentence. They keep SQL's nulls, as the DuckDB checks do: a comparison with a null fails
(``coalesce(..., false)``) and a null key matches nothing; a value read through an article's
id is the first non-null one among the rows with that id (``any_value``), should ids repeat.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def is_true(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean as numpy, null as False: a check that cannot tell fails."""
    return np.asarray(mask.fill_null(False), dtype=bool)


def int_values(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """An integer column as int64 (nulls as 0, and no overflow in offset arithmetic), and
    where it is not null."""
    return np.asarray(column.fill_null(0), dtype=np.int64), np.asarray(column.is_valid())


def exists(ids: pa.ChunkedArray, keys: pa.ChunkedArray) -> np.ndarray:
    """Whether each of ``ids`` is among ``keys`` (a null one is not)."""
    return np.asarray(pc.is_in(ids, value_set=keys, skip_nulls=True))


def first_rows(table: pa.Table, column: str, ids: pa.ChunkedArray) -> np.ndarray:
    """For each of ``ids``, the first row of ``table`` with that ``article_id`` and a non-null
    ``column`` (``any_value``), or -1."""
    valid = table[column].is_valid()
    found = pc.index_in(ids, value_set=table["article_id"].filter(valid), skip_nulls=True)
    # Not found (-1) picks the -1 appended.
    return np.append(np.flatnonzero(valid), -1)[np.asarray(found.fill_null(-1))]


def take_rows(column: pa.ChunkedArray, rows: np.ndarray) -> pa.ChunkedArray:
    """``column[rows]``, null where a row is -1."""
    return column.take(pa.array(rows, mask=rows < 0))


def count_refs(ids: pa.ChunkedArray, refs: pa.ChunkedArray) -> pa.Array:
    """For each of ``ids``, how many of ``refs`` are equal to it (a null one: none)."""
    first = np.asarray(pc.index_in(ids, value_set=ids, skip_nulls=True).fill_null(-1))
    hits = np.asarray(pc.index_in(refs, value_set=ids, skip_nulls=True).drop_null())
    return pa.array(np.append(np.bincount(hits, minlength=len(ids)), 0)[first])


def codes(column: pa.ChunkedArray) -> np.ndarray:
    """An integer per distinct value of ``column``, nulls sharing one: a grouping key."""
    return np.asarray(pc.index_in(column, value_set=column))


def field_texts(articles: pa.Table) -> pa.ChunkedArray:
    """Every article's ``text``, then every article's ``title``: the strings spans index,
    by the rows :func:`field_rows` gives (without a copy)."""
    return pa.chunked_array([*articles["text"].chunks, *articles["title"].chunks], pa.string())


def field_rows(articles: pa.Table, ids: pa.ChunkedArray, field: pa.ChunkedArray) -> np.ndarray:
    """For each span, the row in :func:`field_texts` of its ``field`` of article ``ids``, or -1
    (no such article or field)."""
    rows = np.full(len(ids), -1)
    for k, name in enumerate(("text", "title")):
        found = first_rows(articles, name, ids)
        here = is_true(pc.equal(field, name)) & (found >= 0)
        rows[here] = found[here] + k * articles.num_rows
    return rows


def utf8(strings: pa.ChunkedArray, rows: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The UTF-8 bytes of ``strings[rows]`` (ascending rows, of non-null strings) back to
    back, and the ``len(rows) + 1`` bounds of each in them. Taken chunk by chunk:
    ``ChunkedArray.take`` of strings first copies all the chunks into one."""
    parts = [pa.array([], pa.large_string())]
    first = 0
    for chunk in strings.chunks:
        lo, hi = np.searchsorted(rows, [first, first + len(chunk)])
        parts.append(chunk.take(rows[lo:hi] - first).cast(pa.large_string()))  # 64-bit offsets
        first += len(chunk)
    taken = pa.concat_arrays(parts)
    _, offsets, data = taken.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[taken.offset : taken.offset + len(taken) + 1]
    return (data.to_pybytes() if data is not None else b""), bounds


# Fields :func:`spans_match` indexes at a time: the index costs 8 bytes a character, and a
# round of 256 fields keeps it to a few MB (a batch's 2000 fields at once added ~30 MB to the
# peak of a worker; the same CPU).
_SPAN_FIELDS_AT_ONCE = 256


def spans_match(
    fields: pa.ChunkedArray,
    rows: np.ndarray,
    start: pa.ChunkedArray,
    end: pa.ChunkedArray,
    text: pa.ChunkedArray,
) -> np.ndarray:
    """For each span, whether it is non-empty and ``fields[row][start:end] == text`` (row
    -1: no field, False). Offsets count code points, as Python's ``str`` does.

    Compared in UTF-8, without decoding the texts (decoding a batch's ~12 MB of article and
    sentence text costs more than the rest of the checks): a code point offset into a field
    becomes a byte offset through the positions of the code points' first bytes (all but
    0b10xxxxxx). A ``text`` of ``end - start`` code points whose bytes are found there, in a
    field at least ``end`` long, is the field's slice.
    """
    s, has_start = int_values(start)
    e, has_end = int_values(end)
    n_chars, has_text = int_values(pc.utf8_length(text))
    spans = np.flatnonzero(
        (rows >= 0) & has_start & has_end & has_text & (s >= 0) & (e > s) & (n_chars == e - s)
    )
    used, local = np.unique(rows[spans], return_inverse=True)
    match = np.zeros(len(rows), dtype=bool)
    for lo in range(0, len(used), _SPAN_FIELDS_AT_ONCE):
        data, bounds = utf8(fields, used[lo : lo + _SPAN_FIELDS_AT_ONCE])
        char_at = np.flatnonzero(np.frombuffer(data, dtype=np.int8) >= -64)  # 0b10xxxxxx < -64
        first_char = np.searchsorted(char_at, bounds)  # of each field
        in_round = (local >= lo) & (local < lo + _SPAN_FIELDS_AT_ONCE)
        of = local[in_round] - lo  # the span's field among those taken
        fits = e[spans[in_round]] <= first_char[of + 1] - first_char[of]
        checked = spans[in_round][fits]
        at = char_at[first_char[of[fits]] + s[checked]]
        said, said_bounds = utf8(text, checked)
        view = memoryview(said)
        match[checked] = [
            data.startswith(view[a:b], byte)
            for byte, a, b in zip(
                at.tolist(), said_bounds[:-1].tolist(), said_bounds[1:].tolist(), strict=True
            )
        ]
    return match


def in_order(sentences: pa.Table) -> np.ndarray:
    """Whether each sentence starts at or after the end of the one before it, by
    ``sentence_index``, in its article and field (true for the first, or when an offset is
    null). Null indexes sort last; a repeated index (which the suite's uniqueness check
    flags) keeps row order."""
    article, field = codes(sentences["article_id"]), codes(sentences["field"])
    index, has_index = int_values(sentences["sentence_index"])
    start, has_start = int_values(sentences["char_start"])
    end, has_end = int_values(sentences["char_end"])
    order = np.lexsort((index, ~has_index, field, article))
    before, after = order[:-1], order[1:]
    ok = np.ones(sentences.num_rows, dtype=bool)
    ok[after] = (
        (article[before] != article[after])
        | (field[before] != field[after])
        | ~has_end[before]
        | ~has_start[after]
        | (end[before] <= start[after])
    )
    return ok


def in_sentence(quotes: pa.Table, sentences: pa.Table) -> np.ndarray:
    """Whether each quotation starts inside its sentence and in its field. A sentence (rows
    of one article_id and sentence_index: several if the index repeats) spans from its
    first start to its last end, in the field of its first row that has one."""
    columns = ["article_id", "sentence_index", "field", "char_start", "char_end"]
    quoted = pc.is_in(sentences["article_id"], value_set=quotes["article_id"], skip_nulls=True)
    rows: dict[tuple[str, int], list[tuple[str | None, int | None, int | None]]] = defaultdict(list)
    for article_id, index, where, start, end in zip(
        *sentences.select(columns).filter(quoted).to_pydict().values(), strict=True
    ):
        if index is not None:
            rows[article_id, index].append((where, start, end))
    ok = []
    for article_id, index, where, start in zip(
        *quotes.select(columns[:4]).to_pydict().values(), strict=True
    ):
        sentence = rows.get((article_id, index), [])
        fields = [f for f, _, _ in sentence if f is not None]
        starts = [s for _, s, _ in sentence if s is not None]
        ends = [e for _, _, e in sentence if e is not None]
        ok.append(
            bool(fields and starts and ends)
            and fields[0] == where
            and start is not None
            and min(starts) <= start < max(ends)
        )
    return np.array(ok, dtype=bool)


def dropped_spans_ok(articles: pa.Table, lengths: Mapping[str, pa.ChunkedArray]) -> np.ndarray:
    """Whether every dropped span of an article is non-empty and inside its field ('text' or
    'title', whose ``lengths`` are given); a null list is not fine, an empty one is."""
    lists = articles["dropped_spans"].combine_chunks()
    spans = pc.list_flatten(lists)
    article = np.asarray(pc.list_parent_indices(lists))
    start, has_start = int_values(pc.struct_field(spans, "start"))
    end, has_end = int_values(pc.struct_field(spans, "end"))
    field = pc.struct_field(spans, "field")
    inside = np.zeros(len(spans), dtype=bool)
    for name, length in lengths.items():
        n_chars, has_field = int_values(length)
        inside |= is_true(pc.equal(field, name)) & has_field[article] & (end <= n_chars[article])
    ok = np.asarray(spans.is_valid()) & has_start & has_end & (start >= 0) & (end > start) & inside
    return np.asarray(lists.is_valid()) & (np.bincount(article[~ok], minlength=len(lists)) == 0)
