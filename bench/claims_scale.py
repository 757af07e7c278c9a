"""Time claims.assign_claims on a synthetic quotes table (default 100,000 rows).

    .venv/bin/python bench/claims_scale.py [--rows 100000] [--seed 7]

Words come from the five sample articles. Half the quotations restate one of a few
thousand "statements" (Zipf-distributed, so some are carried by hundreds of articles):
an exact copy, a word or two replaced or dropped, or a part of it; the other half are
novel statements drawn from the same word frequencies (unrelated quotations sharing
common words: the LSH's false candidates). Speakers: the five plus 15 % unattributed.
Prints the time of each phase and the claim counts; a second run with the first run's
claims as ``previous_claims`` checks that every id is kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines import claims
from pipelines.speakers import speaker_ids

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def synthetic_tables(n_rows: int, seed: int) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    words = re.findall(
        r"[\u0621-\u064a]{2,}", " ".join(p.read_text() for p in SAMPLE.glob("*.txt"))
    )
    counts = Counter(words)
    vocab = np.array(list(counts))
    p = np.array(list(counts.values()), dtype=float)
    p /= p.sum()

    def sentence(lo: int, hi: int) -> list[str]:
        return list(rng.choice(vocab, size=int(rng.integers(lo, hi)), p=p))

    n_statements = max(n_rows // 25, 10)
    statements = [sentence(6, 30) for _ in range(n_statements)]
    statement_speaker = rng.choice(len(speaker_ids()), size=n_statements)
    zipf = 1.0 / np.arange(1, n_statements + 1) ** 0.9
    zipf /= zipf.sum()

    n_articles = max(n_rows // 5, 1)
    sources = [f"paper{i:02d}" for i in range(14)]
    start = dt.date(2015, 7, 1)
    article_ids = [f"{i:016x}" for i in range(n_articles)]
    article_source = [sources[i % 14] if i % 10 else None for i in range(n_articles)]

    texts, speakers, quote_article = [], [], []
    for _ in range(n_rows):
        if rng.random() < 0.5:
            s = int(rng.choice(n_statements, p=zipf))
            w = list(statements[s])
            kind = rng.random()
            if kind < 0.4:
                pass
            elif kind < 0.8:
                for _ in range(int(rng.integers(1, 3))):
                    i = int(rng.integers(len(w)))
                    w[i] = str(rng.choice(vocab, p=p)) if rng.random() < 0.5 else w[i]
            else:
                keep = max(int(len(w) * rng.uniform(0.6, 1.0)), 3)
                off = int(rng.integers(0, len(w) - keep + 1))
                w = w[off : off + keep]
            speaker = speaker_ids()[statement_speaker[s]]
        else:
            w = sentence(4, 35)
            speaker = speaker_ids()[int(rng.integers(5))]
        texts.append(" ".join(w))
        speakers.append(None if rng.random() < 0.15 else speaker)
        quote_article.append(article_ids[int(rng.integers(n_articles))])
    dates = [start + dt.timedelta(days=int(int(a, 16) % 40)) for a in quote_article]
    quotes = pa.table(
        {
            "quote_id": [f"q{i:015x}" for i in range(n_rows)],
            "article_id": quote_article,
            "speaker_id": speakers,
            "quote_text": texts,
            "published_date": pa.array(dates, pa.date32()),
        }
    )
    articles = pa.table({"article_id": article_ids, "source": article_source})
    return quotes, articles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    quotes, articles = synthetic_tables(args.rows, args.seed)
    print(f"synthetic table: {quotes.num_rows} quotes in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    table, ids = claims.assign_claims(quotes, articles)
    first = time.perf_counter() - started
    n_quotes = np.array(table.column("n_quotes").to_pylist())
    print(
        f"assign_claims: {first:.2f} s; {table.num_rows} claims, "
        f"{int((n_quotes > 1).sum())} with 2+ quotes, largest {int(n_quotes.max())}; "
        f"{ids.null_count} quotes without a speaker"
    )

    started = time.perf_counter()
    _, ids_again = claims.assign_claims(quotes, articles, previous_claims=table)
    print(
        f"rerun with previous_claims: {time.perf_counter() - started:.2f} s; "
        f"ids identical: {ids_again.equals(ids)}"
    )


if __name__ == "__main__":
    main()
