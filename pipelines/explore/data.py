"""The explorer's data: one published version in an in-memory DuckDB database, and its queries.

At startup the quotations are joined to their articles (source, title, URL), their text is
folded once the way the evaluation folds Arabic (:func:`pipelines.arabic.normalise`: hamza
seats, alef maqsura, ta marbuta, diacritics and tatweel), and each row gets the window of its
sentence (cue and speaker mention included), cut from the article: a search is then one scan
of one table, sorted once by date, with no join.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import dataset, store
from pipelines.arabic import normalise

PER_PAGE = 20
OTHER = "other"  # the speaker facet's value for quotations of no known speaker
FACETS = ("speaker_id", "source", "quote_type", "attribution_method")
# Every filter the search takes, named after its column (from/to bound published_date).
FILTERS = (*FACETS, "claim_id", "from", "to", "min_confidence", "q")
EXPORT_COLUMNS = (
    "quote_id", "article_id", "source_name", "source", "title", "url", "published_date",
    "field", "speaker_id", "speaker_mention", "mention_start", "mention_end", "quote_text",
    "char_start", "char_end", "quote_type", "cue", "cue_start", "cue_end",
    "attribution_method", "rule", "confidence", "sentence_index", "claim_id",
)  # fmt: skip


@dataclass(frozen=True)
class Published:
    """What the explorer reads of a dataset: its tables and the version they are of."""

    uri: str
    version: int
    tables: Mapping[str, pa.Table]


def open_published(uri: str) -> Published:
    """The current version of the dataset at ``uri`` (a directory or an object-store URI),
    read through its manifest: the one place the explorer touches the dataset's layout."""
    with dataset.open_dataset(uri) as snapshot:
        return Published(uri, snapshot.version, snapshot.read_tables())


def read_published_file(uri: str, relative: str) -> bytes | None:
    """A file a run wrote next to the tables (``report/index.html``, ``validation/...``);
    None when there is none. ``relative`` is a checked path ('/'-separated, no '..')."""
    return store.open_store(uri).read_file(relative)


def fold_translation() -> tuple[str, str]:
    """``normalise`` as the two strings of SQL ``translate(text, from, to)``: the characters
    it changes, and what each becomes (characters past the end of ``to`` are deleted)."""
    changed: list[tuple[str, str]] = []
    deleted: list[tuple[str, str]] = []
    for code in range(0x0600, 0x0700):
        ch = chr(code)
        if unicodedata.category(ch) == "Cn":
            continue
        folded = normalise(ch)
        if folded == ch:
            continue
        if len(folded) > 1:
            raise ValueError(f"normalise({ch!r}) is {folded!r}: not one character")
        (changed if folded else deleted).append((ch, folded))
    pairs = changed + deleted
    return "".join(c for c, _ in pairs), "".join(f for _, f in changed)


@dataclass(frozen=True)
class Query:
    """A search, as the URL gives it; empty strings are no filter."""

    speaker_id: str = ""
    source: str = ""
    quote_type: str = ""
    attribution_method: str = ""
    claim_id: str = ""
    date_from: str = ""
    date_to: str = ""
    min_confidence: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Query:
        values = {name: (params.get(name) or "").strip() for name in FILTERS}
        try:
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            page = 1
        return cls(
            **{k: values[k] for k in (*FACETS, "claim_id", "min_confidence", "q")},
            date_from=values["from"],
            date_to=values["to"],
            page=page,
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The URL parameters of this query (empty ones left out), with ``changes``."""
        values = {
            **{k: getattr(self, k) for k in (*FACETS, "claim_id")},
            "from": self.date_from,
            "to": self.date_to,
            "min_confidence": self.min_confidence,
            "q": self.q,
            "page": str(self.page) if self.page > 1 else "",
        }
        values.update({k: "" if v is None else str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}

    def where(
        self,
        known: Mapping[str, frozenset[str]],
        rows_of: Callable[[str], int] | None = None,
    ) -> tuple[str, list[Any]]:
        """The SQL condition over the ``q`` table and its parameters; ``known`` holds each
        facet's values (its enum: another value matches nothing); ``rows_of(token)`` how
        many rows the word index gives a token of the text."""
        clauses: list[str] = []
        args: list[Any] = []
        for column in (*FACETS, "claim_id"):
            value = getattr(self, column)
            if not value:
                continue
            if column == "speaker_id" and value == OTHER:
                clauses.append("speaker_id is null")
            elif column in known and value not in known[column]:
                clauses.append("false")
            else:
                clauses.append(f"{column} = ?")
                args.append(value)
        for value, op in ((self.date_from, ">="), (self.date_to, "<=")):
            if value:
                clauses.append(f"published_date {op} try_cast(? as date)")
                args.append(value)
        if self.min_confidence:
            clauses.append("confidence >= try_cast(? as double)")
            args.append(self.min_confidence)
        folded = " ".join(normalise(self.q).split())  # runs of white space as one space
        if folded:
            clauses.append(text_clause(folded, args, rows_of))
        return (" and ".join(clauses) or "true"), args


def text_clause(folded: str, args: list[Any], rows_of: Callable[[str], int] | None) -> str:
    """Rows whose folded text holds ``folded``, through the word index: the rows of the
    words holding its rarest token (``rows_of`` counts them), exact for a single token;
    for several, those rows are then checked whole (in a CASE, so that only they are:
    DuckDB would scan every row)."""
    tokens = list(dict.fromkeys(folded.split()))
    token = min(tokens, key=rows_of) if rows_of and len(tokens) > 1 else tokens[0]
    args.append(token)
    semi = f"n in ({TOKEN_ROWS})"
    if tokens == [folded]:
        return semi
    args.append(folded)
    return f"(case when {semi} then contains(folded, ?) else false end)"


@dataclass(frozen=True)
class Results:
    total: int
    rows: list[dict[str, Any]]
    facets: dict[str, list[tuple[str | None, int]]]


# Each quotation's window: from the start of the sentence holding the first of its spans
# (content, cue, speaker mention) to the end of the one holding the last.
LOAD_SQL = """
create table q as
with spans as (
    select quote_id, article_id, field,
           least(char_start, coalesce(cue_start, char_start),
                 coalesce(mention_start, char_start)) as lo,
           greatest(char_end, coalesce(cue_end, char_end),
                    coalesce(mention_end, char_end)) as hi
    from quotes_in),
ctx as (
    select p.quote_id, least(min(s.char_start), any_value(p.lo)) as ctx_start,
           greatest(max(s.char_end), any_value(p.hi)) as ctx_end
    from spans p left join sentences_in s
        on s.article_id = p.article_id and s.field = p.field
       and s.char_start < p.hi and s.char_end > p.lo
    group by p.quote_id)
select row_number() over (order by q.published_date desc nulls last, q.quote_id)::integer
           as n,
       q.* exclude (claim_id), q.claim_id, a.source, a.title, a.url,
       translate(q.quote_text, ?, ?) as folded, c.ctx_start, c.ctx_end,
       substring(case q.field when 'title' then a.title else a.text end,
                 c.ctx_start + 1, c.ctx_end - c.ctx_start) as snippet
from quotes_in q
join ctx c using (quote_id)
left join articles_in a using (article_id)
"""
# The words of the folded quotations (split at white space): ``words`` (each once) and
# ``postings`` (the rows holding each). A token of the searched text lies inside some word of
# every matching row, so the rows of the words containing it narrow the scan to a few.
INDEX_SQL = r"""
create table tokens as
    select n, unnest(regexp_split_to_array(folded, '\s+')) as word from q;
create table words as
    select (row_number() over (order by word))::integer as word_id, word,
           count(*)::integer as n_rows  -- occurrences: at least the rows
    from tokens where word <> '' group by word;
create table postings as
    select t.n, w.word_id from tokens t join words w using (word) order by w.word_id;
drop table tokens;
"""
TOKEN_ROWS = "select p.n from postings p join words w using (word_id) where contains(w.word, ?)"


# What the search filters on stays in DuckDB; what the pages show is an Arrow table in
# ``n`` order, where a page's rows are taken by position.
FILTER_COLUMNS = ("n", *FACETS, "claim_id", "article_id", "published_date", "confidence", "folded")


class Explorer:
    """The published tables in DuckDB, and the queries the pages ask."""

    def __init__(self, published: Published) -> None:
        self.uri, self.version = published.uri, published.version
        self.table_rows = {name: t.num_rows for name, t in published.tables.items()}
        self.db = duckdb.connect(":memory:")
        tables = dict(published.tables)
        for name in ("quotes", "articles", "sentences", "claims"):
            if name not in tables:
                tables[name] = empty_table(name)
            self.db.register(f"{name}_in", tables[name])
        self.db.execute(LOAD_SQL, list(fold_translation()))
        rows = self.db.sql("select * exclude (folded) from q order by n").to_arrow_table()
        self.rows = rows.combine_chunks()  # take() on many chunks would concatenate them
        self.db.execute(f"create table f as select {', '.join(FILTER_COLUMNS)} from q order by n")
        self.db.execute("drop table q; alter table f rename to q")
        self.known = {column: self._as_enum(column) for column in FACETS}
        self.db.execute(INDEX_SQL)
        self.db.execute("create table articles as select * from articles_in")
        self.db.execute("create table claims as select * from claims_in")
        for name in ("quotes", "articles", "sentences", "claims"):
            self.db.unregister(f"{name}_in")
        self.speakers = self._speakers(tables.get("speakers"))

    @staticmethod
    def _speakers(table: pa.Table | None) -> dict[str, tuple[str, str]]:
        if table is None:
            return {}
        rows = table.select(["speaker_id", "name_en", "name_ar"]).to_pylist()
        return {r["speaker_id"]: (r["name_en"], r["name_ar"]) for r in rows}

    def _rows(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        cursor = self.db.cursor()
        cursor.execute(sql, args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _numbers(self, sql: str, args: list[Any]) -> list[int]:
        cursor = self.db.cursor()
        cursor.execute(sql, args)
        return [n for (n,) in cursor.fetchall()]

    def _as_enum(self, column: str) -> frozenset[str]:
        """Make a facet column an enum (grouped by its small integer codes); its values."""
        values = [v for (v,) in self.db.execute(
            f"select distinct {column} from q where {column} is not null order by 1"
        ).fetchall()]  # fmt: skip
        self.db.execute(
            f"create type enum_{column} as enum (select unnest(?::varchar[]))", [values]
        )
        self.db.execute(f"alter table q alter {column} type enum_{column}")
        return frozenset(values)

    def rows_of(self, token: str) -> int:
        """How many rows the word index gives ``token`` (an upper bound: a row may hold
        several of the words that contain it)."""
        cursor = self.db.cursor()
        cursor.execute(
            "select coalesce(sum(n_rows), 0) from words where contains(word, ?)", [token]
        )
        return int(cursor.fetchone()[0])  # type: ignore[index]

    def take(self, numbers: list[int], columns: Any = None) -> pa.Table:
        """The rows numbered ``numbers`` (``n`` counts from 1), in that order."""
        table = self.rows if columns is None else self.rows.select(list(columns))
        return table.take(pa.array([n - 1 for n in numbers], type=pa.int64()))

    def search(self, query: Query, per_page: int = PER_PAGE) -> Results:
        """One page of the quotations ``query`` selects, their number, and facet counts."""
        where, args = query.where(self.known, self.rows_of)
        groups = " union all ".join(
            f"select '{f}' as facet, {f}::varchar as value, count(*) as n from hits group by {f}"
            for f in FACETS
        )
        # One pass of the filter: the matching rows' facets and numbers, then their counts
        # and the page's numbers from them.
        counts = self._rows(
            f"with hits as materialized (select n, {', '.join(FACETS)} from q where {where}) "
            f"{groups} union all select '' as facet, null as value, count(*) as n from hits "
            "union all (select '#' as facet, null as value, n from hits order by n "
            "limit ? offset ?)",
            [*args, per_page, (query.page - 1) * per_page],
        )
        total, numbers = 0, []
        facets: dict[str, list[tuple[str | None, int]]] = {f: [] for f in FACETS}
        for row in counts:
            if row["facet"] == "#":
                numbers.append(row["n"])
            elif row["facet"]:
                facets[row["facet"]].append((row["value"], row["n"]))
            else:
                total = row["n"]
        for values in facets.values():
            values.sort(key=lambda v: (-v[1], v[0] or ""))
        numbers.sort()
        return Results(total, self.take(numbers).to_pylist(), facets)

    def export(self, query: Query, fmt: str) -> bytes:
        """Every quotation ``query`` selects, as CSV or Parquet bytes."""
        where, args = query.where(self.known, self.rows_of)
        numbers = self._numbers(f"select n from q where {where} order by n", args)
        table = self.take(numbers, EXPORT_COLUMNS)
        sink = io.BytesIO()
        if fmt == "parquet":
            pq.write_table(table, sink)
        else:
            import pyarrow.csv as csv

            csv.write_csv(table, sink)
        return sink.getvalue()

    def article(self, article_id: str) -> dict[str, Any] | None:
        rows = self._rows("select * from articles where article_id = ?", [article_id])
        return rows[0] if rows else None

    def article_quotes(self, article_id: str) -> list[dict[str, Any]]:
        numbers = self._numbers("select n from q where article_id = ?", [article_id])
        rows = self.take(numbers).drop_columns(["n", "snippet"]).to_pylist()
        return sorted(rows, key=lambda r: (r["field"] != "title", r["char_start"], r["quote_id"]))

    def claim(self, claim_id: str) -> dict[str, Any] | None:
        rows = self._rows("select * from claims where claim_id = ?", [claim_id])
        return rows[0] if rows else None

    def claim_quotes(self, claim_id: str) -> list[dict[str, Any]]:
        numbers = self._numbers("select n from q where claim_id = ?", [claim_id])
        rows = self.take(numbers).drop_columns(["n"]).to_pylist()
        undated = dt.date.max
        return sorted(
            rows,
            key=lambda r: (r["published_date"] or undated, r["source"] or "\uffff", r["quote_id"]),
        )


def empty_table(name: str) -> pa.Table:
    from pipelines import claims, tabulate

    return (
        claims.CLAIMS_SCHEMA.empty_table()
        if name == "claims"
        else tabulate.SCHEMAS[name].empty_table()
    )
