"""The explorer's data: one published version in an in-memory DuckDB database, and its queries.

At startup the quotations are joined to their articles (source, title, URL), their text is
folded once the way the evaluation folds Arabic (:func:`pipelines.evaluate.normalise`: hamza
seats, alef maqsura, ta marbuta, diacritics and tatweel), and each row gets the window of its
sentence (cue and speaker mention included), cut from the article: a search is then one scan
of one table, sorted once by date, with no join.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import dataset
from pipelines.evaluate import normalise

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
    if dataset.is_remote(uri):
        from pipelines import remote

        root = remote.Root.of(uri)
        try:
            with root.filesystem.open_input_stream(root.join(relative)) as fh:
                return bytes(fh.read())
        except (FileNotFoundError, OSError):
            return None
    base = dataset.local_path(uri).resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path.read_bytes()


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

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition over the ``q`` table and its parameters."""
        clauses: list[str] = []
        args: list[Any] = []
        for column in (*FACETS, "claim_id"):
            value = getattr(self, column)
            if not value:
                continue
            if column == "speaker_id" and value == OTHER:
                clauses.append("speaker_id is null")
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
        folded = normalise(self.q)
        if folded:
            clauses.append("contains(folded, ?)")
            args.append(folded)
        return (" and ".join(clauses) or "true"), args


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
select q.* exclude (claim_id), q.claim_id, a.source, a.title, a.url,
       translate(q.quote_text, ?, ?) as folded, c.ctx_start, c.ctx_end
from quotes_in q
join ctx c using (quote_id)
left join articles_in a using (article_id)
order by q.published_date desc nulls last, q.quote_id
"""
SNIPPET_SQL = """
alter table q add column snippet varchar;
update q set snippet = substring(
    case q.field when 'title' then a.title else a.text end,
    q.ctx_start + 1, q.ctx_end - q.ctx_start)
from articles_in a where a.article_id = q.article_id;
"""


class Explorer:
    """The published tables in DuckDB, and the queries the pages ask."""

    def __init__(self, published: Published) -> None:
        self.uri, self.version = published.uri, published.version
        self.table_rows = {name: t.num_rows for name, t in published.tables.items()}
        self.db = duckdb.connect(":memory:")
        tables = published.tables
        for name in ("quotes", "articles", "sentences", "claims", "speakers"):
            table = tables.get(name)
            if table is None:
                from pipelines import write

                table = write.SCHEMAS[name].empty_table() if name != "claims" else None
            if table is not None:
                self.db.register(f"{name}_in", table)
        if "claims" not in tables:
            from pipelines import claims

            self.db.register("claims_in", claims.CLAIMS_SCHEMA.empty_table())
        self.db.execute(LOAD_SQL, list(fold_translation()))
        self.db.execute(SNIPPET_SQL)
        self.db.execute("create table articles as select * from articles_in")
        self.db.execute("create table claims as select * from claims_in")
        for name in ("quotes", "articles", "sentences", "claims", "speakers"):
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

    def search(self, query: Query, per_page: int = PER_PAGE) -> Results:
        """One page of the quotations ``query`` selects, their number, and facet counts."""
        where, args = query.where()
        sets = ", ".join(f"({f})" for f in FACETS)
        counts = self._rows(
            f"select {', '.join(FACETS)}, grouping({', '.join(FACETS)}) as g, count(*) as n "
            f"from q where {where} group by grouping sets ({sets}, ())",
            args,
        )
        total = 0
        facets: dict[str, list[tuple[str | None, int]]] = {f: [] for f in FACETS}
        full = (1 << len(FACETS)) - 1
        for row in counts:
            if row["g"] == full:
                total = row["n"]
                continue
            # grouping() sets the bit of each column not grouped: the one left clear is ours.
            bits = len(FACETS) - 1
            facet = next(f for i, f in enumerate(FACETS) if not row["g"] >> (bits - i) & 1)
            facets[facet].append((row[facet], row["n"]))
        for values in facets.values():
            values.sort(key=lambda v: (-v[1], v[0] or ""))
        rows = self._rows(
            f"select * exclude (folded) from q where {where} limit ? offset ?",
            [*args, per_page, (query.page - 1) * per_page],
        )
        return Results(total, rows, facets)

    def export(self, query: Query, fmt: str) -> bytes:
        """Every quotation ``query`` selects, as CSV or Parquet bytes."""
        where, args = query.where()
        sql = f"select {', '.join(EXPORT_COLUMNS)} from q where {where}"
        table = self.db.cursor().sql(sql, params=args).to_arrow_table()
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
        return self._rows(
            "select * exclude (folded, snippet) from q where article_id = ? "
            "order by field desc, char_start, quote_id",
            [article_id],
        )

    def claim(self, claim_id: str) -> dict[str, Any] | None:
        rows = self._rows("select * from claims where claim_id = ?", [claim_id])
        return rows[0] if rows else None

    def claim_quotes(self, claim_id: str) -> list[dict[str, Any]]:
        return self._rows(
            "select * exclude (folded) from q where claim_id = ? "
            "order by published_date nulls last, source nulls last, quote_id",
            [claim_id],
        )
