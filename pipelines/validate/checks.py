"""The registry of derived checks: one entry a ``chk_*`` column, saying what it reads, how it
is computed and when.

A derived check is a boolean column appended to the frame Great Expectations validates (so
each shows in Data Docs as an ordinary ``expect_column_values_to_be_in_set(chk_..., [True])``
in the table's suite, ``expectations/<table>.json``): what a suite cannot say on its own
because it needs the text or another table. Offset identity ``field[char_start:char_end] ==
text`` for quote, cue, mention and sentence spans, foreign keys, counts, claims' members, and
the run's accounting (inputs seen = articles + quarantined + exact duplicates + already
published, with articles and quarantined equal to those tables' row counts).

How a column is computed (:data:`Method`):

- :class:`Arrow`: one function over the Arrow tables (pyarrow.compute and numpy,
  :mod:`pipelines.validate.spans`) gives all the columns of its table at once; used for
  articles, sentences and quotes, whose checks run once a batch (DuckDB costs ~10 ms of CPU a
  connection, and its code-point ``substring`` scans an article from its start for each
  sentence);
- :class:`Sql`: one DuckDB query over the Arrow tables it reads (zero copy, each registered
  under its name with a ``__row`` column) selects its columns, one row a row of the table, in
  row order; a comparison with a null fails (``coalesce(..., false)``);
- :class:`PerRow`: a Python predicate of one row of the table's own columns.

When (:class:`When`): over each batch; over the run's merged tables; or once the run's
claims exist. :mod:`pipelines.validate.derive` runs the registry.

Adding a check: an entry in :data:`CHECKS` (in the table's frame order), its computation here,
and ``expect_column_values_to_be_in_set`` of the column in the table's suite, whose
``expect_table_columns_to_match_ordered_list`` also names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.tabulate import TABLE_NAMES
from pipelines.validate import spans


class When(Enum):
    BATCH = "each batch"  # over a batch's own tables (an article's rows are in its batch)
    RUN = "the run"  # over the run's merged tables (and the published ones in ``lookups``)
    CLAIMS = "after claims"  # needs the run's claims, built once the run is whole


@dataclass(frozen=True)
class Arrow:
    """Columns one function computes together over the Arrow tables."""

    compute: Callable[[Mapping[str, pa.Table]], dict[str, np.ndarray]]
    when: When


@dataclass(frozen=True)
class Sql:
    """Columns one DuckDB query selects together."""

    query: str
    when: When


@dataclass(frozen=True)
class PerRow:
    """One column: a predicate of each row's ``columns`` (as keyword arguments)."""

    columns: tuple[str, ...]
    ok: Callable[..., bool]
    when: When = When.RUN


Method = Arrow | Sql | PerRow


@dataclass(frozen=True)
class DerivedCheck:
    table: str
    column: str
    reads: tuple[str, ...]  # the tables it looks at
    how: Method
    means: str  # what True says of the row

    @property
    def when(self) -> When:
        return self.how.when


# --- articles, sentences, quotes: over Arrow columns, once a batch ---------------------------

_DATE_ORIGINS = pa.array(["record", "text"])


def article_checks(tables: Mapping[str, pa.Table]) -> dict[str, np.ndarray]:
    """The checks of ``articles`` (see :data:`CHECKS`)."""
    articles = tables["articles"]
    ids = articles["article_id"]
    lengths = {name: pc.utf8_length(articles[name]) for name in ("text", "title")}
    return {
        "chk_n_chars": spans.is_true(pc.equal(articles["n_chars"], lengths["text"])),
        "chk_date_origin": np.asarray(articles["published_date"].is_valid())
        == spans.is_true(pc.is_in(articles["date_origin"], value_set=_DATE_ORIGINS)),
        "chk_dropped_spans": spans.dropped_spans_ok(articles, lengths),
        "chk_n_sentences": spans.is_true(
            pc.equal(
                articles["n_sentences"], spans.count_refs(ids, tables["sentences"]["article_id"])
            )
        ),
        "chk_n_quotes": spans.is_true(
            pc.equal(articles["n_quotes"], spans.count_refs(ids, tables["quotes"]["article_id"]))
        ),
    }


def sentence_checks(tables: Mapping[str, pa.Table]) -> dict[str, np.ndarray]:
    """The checks of ``sentences`` (see :data:`CHECKS`)."""
    articles, sentences = tables["articles"], tables["sentences"]
    ids = sentences["article_id"]
    n_sentences = spans.take_rows(
        articles["n_sentences"], spans.first_rows(articles, "n_sentences", ids)
    )
    return {
        "chk_article_exists": spans.exists(ids, articles["article_id"]),
        "chk_offset": spans.spans_match(
            spans.field_texts(articles),
            spans.field_rows(articles, ids, sentences["field"]),
            sentences["char_start"],
            sentences["char_end"],
            sentences["text"],
        ),
        "chk_sentence_index": spans.is_true(pc.less(sentences["sentence_index"], n_sentences)),
        "chk_order": spans.in_order(sentences),
    }


def quote_checks(tables: Mapping[str, pa.Table]) -> dict[str, np.ndarray]:
    """The checks of ``quotes`` but its claim's (see :data:`CHECKS`)."""
    articles, quotes = tables["articles"], tables["quotes"]
    ids = quotes["article_id"]
    fields, rows = spans.field_texts(articles), spans.field_rows(articles, ids, quotes["field"])
    found = spans.exists(ids, articles["article_id"])

    def span(start: str, end: str, text: str) -> np.ndarray:
        return spans.spans_match(fields, rows, quotes[start], quotes[end], quotes[text])

    def absent(start: str, end: str) -> np.ndarray:
        return np.asarray(quotes[start].is_null()) & np.asarray(quotes[end].is_null())

    def of_article(column: str) -> pa.ChunkedArray:
        return spans.take_rows(articles[column], spans.first_rows(articles, column, ids))

    date = of_article("published_date")
    same_date = spans.is_true(pc.equal(quotes["published_date"], date)) | (
        np.asarray(quotes["published_date"].is_null()) & np.asarray(date.is_null())
    )
    no_speaker = quotes["speaker_id"].is_null()
    return {
        "chk_article_exists": found,
        "chk_offset": span("char_start", "char_end", "quote_text"),
        "chk_mention_span": absent("mention_start", "mention_end")
        | span("mention_start", "mention_end", "speaker_mention"),
        "chk_cue_span": absent("cue_start", "cue_end") | span("cue_start", "cue_end", "cue"),
        "chk_speaker_mention": np.asarray(no_speaker)
        | np.asarray(quotes["speaker_mention"].is_valid()),
        "chk_other_speaker": spans.is_true(
            pc.or_kleene(pc.not_equal(quotes["attribution_method"], "other"), no_speaker)
        ),
        "chk_article_fields": found
        & spans.is_true(pc.equal(quotes["source_name"], of_article("source_name")))
        & same_date,
        "chk_sentence": spans.in_sentence(quotes, tables["sentences"]),
    }


# --- claims, speakers, runs: DuckDB SQL over the run's tables ------------------------------

CLAIMS_SQL = """
    with m as (
        select c.__row, unnest(c.quote_ids) as quote_id from claims c),
    j as (
        select m.__row, m.quote_id, q.quote_id is not null as found, q.claim_id,
               q.speaker_id, q.article_id, q.published_date
        from m left join quotes q on q.quote_id = m.quote_id),
    agg as (
        select __row, bool_and(found) as all_found, count(*) as n,
               count(distinct quote_id) as n_distinct, list(claim_id) as claim_ids,
               list(distinct speaker_id) as speaker_ids,
               count(distinct article_id) as n_articles,
               min(published_date) as first_seen, max(published_date) as last_seen
        from j group by __row),
    per_claim as (
        select claim_id, count(*) as n from quotes where claim_id is not null
        group by claim_id)
    select
        coalesce(agg.all_found and agg.n = c.n_quotes and agg.n_distinct = c.n_quotes
                 and list_distinct(agg.claim_ids) = [c.claim_id]
                 and pc.n = c.n_quotes, false) as chk_members,
        coalesce(agg.speaker_ids = [c.speaker_id], false) as chk_speaker,
        coalesce(list_contains(c.quote_ids, c.canonical_quote_id)
                 and cq.quote_text = c.canonical_text, false) as chk_canonical,
        coalesce(agg.n_articles = c.n_articles, false) as chk_n_articles,
        coalesce(agg.first_seen is not distinct from c.first_seen
                 and agg.last_seen is not distinct from c.last_seen, false) as chk_seen,
        coalesce(c.n_sources between greatest(len(c.sources), 1) and c.n_articles, false)
            as chk_n_sources
    from claims c
    left join agg on agg.__row = c.__row
    left join per_claim pc on pc.claim_id = c.claim_id
    left join (select quote_id, any_value(quote_text) as quote_text from quotes
               group by quote_id) cq on cq.quote_id = c.canonical_quote_id
    order by c.__row
"""
# A quotation's claim, checked once claims exist (a batch leaves it out).
QUOTE_CLAIM_SQL = """
    select coalesce(case when q.speaker_id is null then q.claim_id is null
                         else cl.speaker_id = q.speaker_id end, false) as chk_claim
    from quotes q
    left join (select claim_id, any_value(speaker_id) as speaker_id from claims
               group by claim_id) cl on cl.claim_id = q.claim_id
    order by q.__row
"""
SPEAKERS_SQL = """
    with nq as (select speaker_id, count(*) as n from quotes
                where speaker_id is not null group by speaker_id)
    select coalesce(sp.n_quotes = coalesce(nq.n, 0), false) as chk_n_quotes
    from speakers sp left join nq on nq.speaker_id = sp.speaker_id
    order by sp.__row
"""
RUNS_SQL = """
    with qr as (select list({'reason': reason, 'count': n}) as reasons
                from (select reason, count(*) as n from quarantine group by reason))
    select
        coalesce(r.inputs_seen = r.articles + r.quarantined + r.exact_duplicates
                                 + r.already_published
                 and least(r.articles, r.quarantined, r.exact_duplicates,
                           r.already_published) >= 0, false)
            as chk_identity,
        coalesce(r.articles = (select count(*) from articles), false) as chk_articles,
        coalesce(r.quarantined = (select count(*) from quarantine), false)
            as chk_quarantined,
        coalesce(list_sort(r.quarantined_by_reason)
                 = list_sort(coalesce(qr.reasons, [])), false) as chk_quarantine_reasons
    from runs r, qr
    order by r.__row
"""


# --- speakers: a row at a time ---------------------------------------------------------------


def roles_ok(roles: list[dict[str, Any]] | None) -> bool:
    """Every office is fm/dm of a lower-case ISO country, and ends after it starts."""
    if not roles:
        return False
    return all(
        r["role"] in ("fm", "dm")
        and isinstance(r["country"], str)
        and len(r["country"]) == 2
        and r["country"].islower()
        and r["start"] is not None
        and (r["end"] is None or r["end"] > r["start"])
        for r in roles
    )


def variants_ok(variants: list[str] | None, name_ar: str | None) -> bool:
    """Every spelling is non-empty, and the Arabic name is among them."""
    if not variants:
        return False
    return all(variants) and name_ar in variants


# --- the registry ----------------------------------------------------------------------------

_ARTICLES = Arrow(article_checks, When.BATCH)
_SENTENCES = Arrow(sentence_checks, When.BATCH)
_QUOTES = Arrow(quote_checks, When.BATCH)
_QUOTE_CLAIM = Sql(QUOTE_CLAIM_SQL, When.CLAIMS)
_CLAIMS = Sql(CLAIMS_SQL, When.RUN)
_SPEAKERS = Sql(SPEAKERS_SQL, When.RUN)
_RUNS = Sql(RUNS_SQL, When.RUN)

# In each table's frame order (the order of the suite's column list).
CHECKS: tuple[DerivedCheck, ...] = (
    DerivedCheck(
        "articles", "chk_n_chars", ("articles",), _ARTICLES, "n_chars is the text's length"
    ),
    DerivedCheck(
        "articles",
        "chk_date_origin",
        ("articles",),
        _ARTICLES,
        "date_origin is 'record' or 'text' exactly when the date is set (a null date may say "
        "why: ingest.RECORD_DATE_REJECTED)",
    ),
    DerivedCheck(
        "articles",
        "chk_dropped_spans",
        ("articles",),
        _ARTICLES,
        "every dropped span is non-empty and inside its field; the list is not null",
    ),
    DerivedCheck(
        "articles",
        "chk_n_sentences",
        ("articles", "sentences"),
        _ARTICLES,
        "n_sentences counts its rows",
    ),
    DerivedCheck(
        "articles", "chk_n_quotes", ("articles", "quotes"), _ARTICLES, "n_quotes counts its rows"
    ),
    DerivedCheck(
        "sentences",
        "chk_article_exists",
        ("articles", "sentences"),
        _SENTENCES,
        "its article exists",
    ),
    DerivedCheck(
        "sentences",
        "chk_offset",
        ("articles", "sentences"),
        _SENTENCES,
        "text is its field's slice at the offsets",
    ),
    DerivedCheck(
        "sentences",
        "chk_sentence_index",
        ("articles", "sentences"),
        _SENTENCES,
        "sentence_index is below the article's n_sentences",
    ),
    DerivedCheck(
        "sentences",
        "chk_order",
        ("sentences",),
        _SENTENCES,
        "starts at or after the end of the sentence before it (by index, in its field)",
    ),
    DerivedCheck(
        "quotes", "chk_article_exists", ("articles", "quotes"), _QUOTES, "its article exists"
    ),
    DerivedCheck(
        "quotes",
        "chk_offset",
        ("articles", "quotes"),
        _QUOTES,
        "quote_text is its field's slice at the offsets",
    ),
    DerivedCheck(
        "quotes",
        "chk_mention_span",
        ("articles", "quotes"),
        _QUOTES,
        "speaker_mention is its field's slice at its offsets, or both offsets are null",
    ),
    DerivedCheck(
        "quotes",
        "chk_cue_span",
        ("articles", "quotes"),
        _QUOTES,
        "cue is its field's slice, or both offsets null",
    ),
    DerivedCheck(
        "quotes",
        "chk_speaker_mention",
        ("quotes",),
        _QUOTES,
        "a quotation with a speaker has the speaker's mention",
    ),
    DerivedCheck(
        "quotes",
        "chk_other_speaker",
        ("quotes",),
        _QUOTES,
        "a quotation attributed to 'other' has no speaker",
    ),
    DerivedCheck(
        "quotes",
        "chk_article_fields",
        ("articles", "quotes"),
        _QUOTES,
        "its article exists and has its source_name and published_date",
    ),
    DerivedCheck(
        "quotes",
        "chk_sentence",
        ("sentences", "quotes"),
        _QUOTES,
        "it starts inside its sentence (article_id, sentence_index), in the sentence's field",
    ),
    DerivedCheck(
        "quotes",
        "chk_claim",
        ("quotes", "claims"),
        _QUOTE_CLAIM,
        "it has a claim exactly when it has a speaker, and the claim has its speaker",
    ),
    DerivedCheck(
        "claims",
        "chk_members",
        ("claims", "quotes"),
        _CLAIMS,
        "quote_ids are n_quotes distinct quotations, all of this claim and all it has",
    ),
    DerivedCheck(
        "claims",
        "chk_speaker",
        ("claims", "quotes"),
        _CLAIMS,
        "every member has the claim's speaker",
    ),
    DerivedCheck(
        "claims",
        "chk_canonical",
        ("claims", "quotes"),
        _CLAIMS,
        "canonical_quote_id is a member and canonical_text its quote_text",
    ),
    DerivedCheck(
        "claims",
        "chk_n_articles",
        ("claims", "quotes"),
        _CLAIMS,
        "n_articles counts the members' articles",
    ),
    DerivedCheck(
        "claims",
        "chk_seen",
        ("claims", "quotes"),
        _CLAIMS,
        "first_seen and last_seen are the members' first and last published_date",
    ),
    DerivedCheck(
        "claims",
        "chk_n_sources",
        ("claims",),
        _CLAIMS,
        "n_sources is between len(sources) and n_articles",
    ),
    DerivedCheck(
        "speakers",
        "chk_n_quotes",
        ("speakers", "quotes"),
        _SPEAKERS,
        "n_quotes counts the speaker's quotations",
    ),
    DerivedCheck(
        "speakers",
        "chk_roles",
        ("speakers",),
        PerRow(("roles",), roles_ok),
        "every office is fm/dm of a lower-case ISO country, and ends after it starts",
    ),
    DerivedCheck(
        "speakers",
        "chk_variants",
        ("speakers",),
        PerRow(("variants", "name_ar"), variants_ok),
        "every spelling is non-empty and name_ar is among them",
    ),
    DerivedCheck(
        "runs",
        "chk_identity",
        ("runs",),
        _RUNS,
        "inputs_seen = articles + quarantined + exact_duplicates + already_published, none < 0",
    ),
    DerivedCheck(
        "runs", "chk_articles", ("runs", "articles"), _RUNS, "articles counts the articles table"
    ),
    DerivedCheck(
        "runs",
        "chk_quarantined",
        ("runs", "quarantine"),
        _RUNS,
        "quarantined counts the quarantine table",
    ),
    DerivedCheck(
        "runs",
        "chk_quarantine_reasons",
        ("runs", "quarantine"),
        _RUNS,
        "quarantined_by_reason counts the quarantine table by reason",
    ),
)


def _in_table_order(names: set[str], first: str) -> tuple[str, ...]:
    return (first, *(t for t in TABLE_NAMES if t in names and t != first))


# Derived check columns each table's suite expects, in frame order.
DERIVED: dict[str, tuple[str, ...]] = {
    name: tuple(c.column for c in CHECKS if c.table == name) for name in TABLE_NAMES
}
# The tables a table's checks read (all are needed, or its checks fail closed; the PerRow
# ones read only the table itself).
DERIVED_READS: dict[str, tuple[str, ...]] = {
    name: _in_table_order(
        {t for c in CHECKS if c.table == name and not isinstance(c.how, PerRow) for t in c.reads},
        name,
    )
    if DERIVED[name]
    else ()
    for name in TABLE_NAMES
}
# Tables whose derived checks read only the batch they come from (an article's sentences and
# quotations are always in its batch): computed per batch.
BATCH_CHECKED: tuple[str, ...] = tuple(
    name for name in TABLE_NAMES if any(c.table == name and c.when is When.BATCH for c in CHECKS)
)


def of_table(name: str) -> tuple[DerivedCheck, ...]:
    """The checks of table ``name``, in frame order."""
    return tuple(c for c in CHECKS if c.table == name)


def method_reads(table: str, how: Method) -> tuple[str, ...]:
    """The tables the columns ``how`` computes for ``table`` read, in table order."""
    reads = {t for c in of_table(table) if c.how == how for t in c.reads}
    return _in_table_order(reads, table) if table in reads else tuple(sorted(reads))
