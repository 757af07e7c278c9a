"""Adding a run to the published dataset: which inputs are new, and what the run changes.

A run reads only what it needs from the current version (:func:`read_published`): the
article ids (an article's id is the hash of its content, so a renamed file is not new and
an edited one is), the keys of the quarantine rows, the quotes, the claims and the runs.
Then, as pure functions over Arrow tables:

- :func:`skip_published` drops from an ingest batch the articles and quarantine rows an
  earlier run published, and counts them as ``already_published``, so the accounting
  identity still holds: inputs seen = articles + quarantined + exact duplicates + already
  published. A bad file left in the inbox is quarantined once, not on every run (its key is
  ``(input_path, source_name, reason)``).
- :func:`plan_update` turns the run's new rows into the change to publish: new parts for
  ``articles``, ``sentences``, ``quotes`` and ``quarantine``; ``claims`` and ``speakers``
  recomputed over the whole dataset (the new quotations are clustered together with every
  published one, with the published claims as ``previous_claims`` so claim ids are kept);
  published quote parts rewritten only where a quotation's claim id changed (when a new
  quotation joins two claims); and the run's row of ``runs``.

Validation sees the run's new rows, the whole ``claims`` and ``speakers`` (small), and the
whole ``quotes`` only where a cross-table check needs it (claims and speaker counts):
:meth:`Update.validation_tables` and :attr:`Update.lookups`.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines import claims, tabulate
from pipelines.ingest import FAILED_EXPECTATION, InputBatch
from pipelines.store import Store

QUARANTINE_KEY: tuple[str, ...] = ("input_path", "source_name", "reason")
APPENDED: tuple[str, ...] = ("articles", "sentences", "quotes", "quarantine")  # new rows only
# A failed_expectation row's detail starts with the article's id (stream.quarantine_articles):
# the same content is skipped on later runs, an edited file (a new id) is read again.
_QUARANTINED_ARTICLE = re.compile(r"^article ([0-9a-f]{16}):")
# claims and speakers are recomputed whole on every run; runs gains the run's row.


def _no_articles() -> pa.Table:
    return tabulate.SCHEMAS["articles"].empty_table().select(["article_id", "source"])


@dataclass(frozen=True)
class Published:
    """What a run needs from the current version of the dataset."""

    version: int = 0  # 0: nothing published yet
    rows: Mapping[str, int] = field(default_factory=dict)
    article_ids: frozenset[str] = frozenset()
    quarantine_keys: frozenset[tuple[Any, ...]] = frozenset()
    quarantined_articles: frozenset[str] = frozenset()  # ids quarantined as failed_expectation
    article_sources: pa.Table = field(default_factory=_no_articles)  # article_id, source
    quote_parts: tuple[tuple[str, pa.Table], ...] = ()  # (part file, its rows)
    claims: pa.Table | None = None
    runs: pa.Table | None = None


def read_published(store: Store) -> Published:
    """Read the current version's ids, keys, quotes, claims and runs (one version, even if
    another commit happened meanwhile; hold the lock to keep it current)."""
    snapshot = store.snapshot()
    if snapshot is None:
        return Published()
    manifest = snapshot.manifest
    # A dataset whose only run failed validation holds no table but ``runs``.
    articles = snapshot.read("articles", ["article_id", "source"])
    if articles is None:
        articles = _no_articles()
    quarantine = snapshot.read("quarantine", [*QUARANTINE_KEY, "detail"])
    if quarantine is None:
        quarantine = (
            tabulate.SCHEMAS["quarantine"].empty_table().select([*QUARANTINE_KEY, "detail"])
        )
    keys = zip(*(quarantine.column(c).to_pylist() for c in QUARANTINE_KEY), strict=True)
    failed = quarantine.filter(pc.equal(quarantine["reason"], FAILED_EXPECTATION))
    quarantined = (_QUARANTINED_ARTICLE.match(d or "") for d in failed["detail"].to_pylist())
    return Published(
        version=manifest.version,
        rows={name: manifest.rows(name) for name in manifest.tables},
        article_ids=frozenset(articles.column("article_id").to_pylist()),
        quarantine_keys=frozenset(keys),
        quarantined_articles=frozenset(m.group(1) for m in quarantined if m),
        article_sources=articles,
        quote_parts=tuple(snapshot.read_parts("quotes")),
        claims=snapshot.read("claims"),
        runs=snapshot.read("runs"),
    )


def _quarantine_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row.get(c) for c in QUARANTINE_KEY)


def skip_published(batch: InputBatch, published: Published) -> InputBatch:
    """``batch`` without what an earlier run published, counted as ``already_published``:
    articles by id (published, or quarantined because their rows failed an expectation),
    quarantine rows by key."""
    articles = [
        a
        for a in batch.articles
        if a.article_id not in published.article_ids
        and a.article_id not in published.quarantined_articles
    ]
    seen = published.quarantine_keys
    quarantine = [q for q in batch.quarantine if _quarantine_key(q) not in seen]
    skipped = len(batch.articles) - len(articles) + len(batch.quarantine) - len(quarantine)
    if not skipped:
        return batch
    counts = dataclasses.replace(
        batch.counts,
        articles=batch.counts.articles - (len(batch.articles) - len(articles)),
        quarantined=batch.counts.quarantined - (len(batch.quarantine) - len(quarantine)),
        already_published=batch.counts.already_published + skipped,
    )
    return InputBatch(articles, quarantine, counts)


@dataclass(frozen=True)
class Update:
    """One run's change to the dataset, and what validation needs to check it."""

    append: dict[str, pa.Table]  # the run's new rows
    replace: dict[str, pa.Table]  # claims and speakers, whole
    rewrite: dict[str, dict[str, pa.Table]]  # {"quotes": {part file: part with new claim ids}}
    run: pa.Table  # the run's row of ``runs`` (table_rows set; validation, end not yet)
    quotes: pa.Table  # every quotation after the run, with its claim id
    runs_before: pa.Table | None = None
    version: int = 1  # the version the commit will make

    @property
    def lookups(self) -> dict[str, pa.Table]:
        """Whole tables the cross-table checks read instead of the new rows."""
        return {"quotes": self.quotes}

    def validation_tables(self) -> dict[str, pa.Table]:
        """The tables validation checks: new rows, whole claims and speakers, the run's row."""
        tables = {**self.append, **self.replace, "runs": self.run}
        return {name: tables[name] for name in tabulate.TABLE_NAMES}

    def runs_table(self, run_row: pa.Table) -> pa.Table:
        """Every run so far and ``run_row`` (the run's finished row)."""
        if self.runs_before is None or self.runs_before.num_rows == 0:
            return run_row
        return pa.concat_tables([self.runs_before, run_row])


def _concat(tables: Sequence[pa.Table], name: str) -> pa.Table:
    schema = tabulate.SCHEMAS[name]
    return pa.concat_tables([t.replace_schema_metadata(schema.metadata) for t in tables]
                            or [schema.empty_table()])  # fmt: skip


def table_rows(before: Mapping[str, int], after: Mapping[str, int]) -> list[dict[str, Any]]:
    """``runs.table_rows``: per table, rows after the run and the (net) rows it added."""
    return [
        {"table": name, "rows": after[name], "added": after[name] - before.get(name, 0)}
        for name in tabulate.TABLE_NAMES
    ]


def plan_update(delta: Mapping[str, pa.Table], published: Published) -> Update:
    """The change one run makes: ``delta`` holds the run's tables over its new articles
    only (merged batches: new rows, one ``runs`` row); ``published`` the current version."""
    new_quotes = delta["quotes"]
    old = [part for _, part in published.quote_parts]
    rewrites: dict[str, pa.Table] = {}
    if new_quotes.num_rows == 0 and published.claims is not None:
        # Nothing new to cluster: claims and every claim id stay as published.
        all_quotes, claims_table = _concat(old, "quotes"), published.claims
    else:
        sources = pa.concat_tables(
            [published.article_sources, delta["articles"].select(["article_id", "source"])]
        )
        result = claims.attach_claims(
            {"quotes": _concat([*old, new_quotes], "quotes"), "articles": sources},
            published.claims,
        )
        all_quotes, claims_table = result["quotes"], result["claims"]
        ids = all_quotes.column("claim_id")
        offset = 0
        for file, part in published.quote_parts:
            part_ids = ids.slice(offset, part.num_rows).combine_chunks()
            offset += part.num_rows
            if not part_ids.equals(part.column("claim_id").combine_chunks()):
                rewrites[file] = claims.add_claim_ids(part, part_ids)
        new_quotes = all_quotes.slice(offset)
    speakers = tabulate.build_speakers(Counter(all_quotes.column("speaker_id").to_pylist()))

    append = {name: delta[name] for name in APPENDED}
    append["quotes"] = new_quotes.replace_schema_metadata(tabulate.SCHEMAS["quotes"].metadata)
    replace = {"claims": claims_table, "speakers": speakers}
    before = dict(published.rows)
    after = {name: before.get(name, 0) + append[name].num_rows for name in APPENDED}
    after |= {name: table.num_rows for name, table in replace.items()}
    after["runs"] = before.get("runs", 0) + 1
    run = tabulate.finish_run_row(delta["runs"], table_rows=table_rows(before, after))
    return Update(
        append=append,
        replace=replace,
        rewrite={"quotes": rewrites} if rewrites else {},
        run=run,
        quotes=all_quotes,
        runs_before=published.runs,
        version=published.version + 1,
    )


def failed_table_rows(published: Published) -> list[dict[str, Any]]:
    """``runs.table_rows`` of a run that failed validation: only ``runs`` grew."""
    before = dict(published.rows)
    after = {name: before.get(name, 0) for name in tabulate.TABLE_NAMES}
    after["runs"] += 1
    return table_rows(before, after)
