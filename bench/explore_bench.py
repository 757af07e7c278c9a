"""Time the explorer's searches on a synthetic dataset (default 1,000,000 quotations).

    PYTHONPATH=$PWD .venv/bin/python bench/explore_bench.py [--quotes 1000000] [--repeat 5]

Articles of four sentences, each holding one quotation (cue, speaker mention, content), with
words drawn from the five sample articles by their frequency; 20 newspapers, the five
speakers and 15 % unattributed, dates over ten years, one claim per three quotations. Prints
the startup (load, fold, sentence windows) and, for each filtered search (facet counts, total
and the first page, as ``/`` computes them), the median and worst of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines import claims, tabulate
from pipelines.explore.data import Explorer, Published, Query
from pipelines.speakers import speaker_ids

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
PER_ARTICLE = 4
MENTION = {"lavrov": "سيرغي لافروف", "kerry": "جون كيري", "shoigu": "سيرغي شويغو",
           "hagel": "تشاك هاغل", "muallem": "وليد المعلم"}  # fmt: skip


def synthetic(n_quotes: int, seed: int = 7) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    words = re.findall(
        r"[\u0621-\u064a]{2,}", " ".join(p.read_text() for p in SAMPLE.glob("*.txt"))
    )
    counts = Counter(words)
    vocab = np.array(list(counts), dtype=object)
    p = np.array(list(counts.values()), dtype=float)
    drawn = vocab[rng.choice(len(vocab), size=(n_quotes, 12), p=p / p.sum())]
    contents = [" ".join(row) for row in drawn]
    speakers = np.array([*speaker_ids()[:5], None], dtype=object)[
        rng.choice(6, size=n_quotes, p=[0.3, 0.25, 0.1, 0.1, 0.1, 0.15])
    ]
    n_articles = -(-n_quotes // PER_ARTICLE)
    days = rng.integers(0, 3650, size=n_articles)
    dates = [dt.date(2008, 1, 1) + dt.timedelta(days=int(d)) for d in days]
    sources = [f"paper-{i:02d}" for i in rng.integers(0, 20, size=n_articles)]
    q: dict[str, list] = {f.name: [] for f in tabulate.SCHEMAS["quotes"]}
    s: dict[str, list] = {f.name: [] for f in tabulate.SCHEMAS["sentences"]}
    a: dict[str, list] = {f.name: [] for f in tabulate.SCHEMAS["articles"]}
    for art in range(n_articles):
        article_id, text, pos = f"a{art:09d}", [], 0
        for k in range(art * PER_ARTICLE, min(n_quotes, (art + 1) * PER_ARTICLE)):
            speaker = speakers[k]
            mention = MENTION.get(speaker, "مسؤول")
            sentence = f"وقال {mention} إن {contents[k]}."
            m0, c0 = pos + 5, pos + 5 + len(mention) + 4
            q_row = dict(
                quote_id=f"q{k:012d}", article_id=article_id, source_name=article_id,
                field="text", speaker_id=speaker, speaker_mention=mention, mention_start=m0,
                mention_end=m0 + len(mention), quote_text=contents[k], char_start=c0,
                char_end=c0 + len(contents[k]), quote_type=("indirect", "direct")[k % 2],
                cue="قال", cue_start=pos + 1, cue_end=pos + 4,
                attribution_method=("name", "role", "continuation")[k % 3], rule="cue_comp",
                confidence=0.5 + (k % 50) / 100, sentence_index=k % PER_ARTICLE,
                published_date=dates[art], claim_id=None,
            )  # fmt: skip
            for name, value in q_row.items():
                q[name].append(value)
            for name, value in dict(
                article_id=article_id, field="text", sentence_index=k % PER_ARTICLE,
                paragraph_index=k % PER_ARTICLE, char_start=pos, char_end=pos + len(sentence),
                text=sentence,
            ).items():  # fmt: skip
                s[name].append(value)
            text.append(sentence)
            pos += len(sentence) + 1
        body = "\n".join(text)
        for name, value in dict(
            article_id=article_id, source_name=article_id, title=None, text=body,
            published_date=dates[art], date_origin="record", source=sources[art],
            url=f"https://example.org/{article_id}", input_path=None, encoding="utf-8",
            content_type="text", n_chars=len(body), dropped_spans=[], n_sentences=len(text),
            n_quotes=len(text),
        ).items():  # fmt: skip
            a[name].append(value)
    # One claim per three quotations of a speaker (ids only: the search filters on them).
    q["claim_id"] = [
        None if sp is None else f"{k // 3:016x}" for k, sp in enumerate(q["speaker_id"])
    ]
    tables = {
        name: pa.table(cols, schema=tabulate.SCHEMAS[name])
        for name, cols in (("quotes", q), ("sentences", s), ("articles", a))
    }
    tables["claims"] = claims.CLAIMS_SCHEMA.empty_table()
    tables["speakers"] = tabulate.build_speakers(Counter(q["speaker_id"]))
    return tables


SEARCHES: dict[str, dict[str, str]] = {
    "no filter": {},
    "speaker": {"speaker_id": "lavrov"},
    "speaker + text + from": {"speaker_id": "lavrov", "q": "جنيف", "from": "2015-07-01"},
    "text (hamza folded)": {"q": "الامم المتحده"},
    "source + type + confidence": {"source": "paper-07", "quote_type": "direct",
                                   "min_confidence": "0.8"},
    "date range, page 40": {"from": "2010-01-01", "to": "2012-12-31", "page": "40"},
    "claim": {"claim_id": f"{1234:016x}"},
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    t0 = time.perf_counter()
    tables = synthetic(args.quotes)
    n_articles = tables["articles"].num_rows
    took = time.perf_counter() - t0
    print(f"synthetic dataset: {args.quotes:,} quotations, {n_articles:,} articles, {took:.1f} s")
    t0 = time.perf_counter()
    explorer = Explorer(Published("synthetic", 1, tables))
    del tables
    print(f"startup (load, fold, sentence windows): {time.perf_counter() - t0:.1f} s")
    print(f"{'search':32} {'matches':>9} {'median ms':>10} {'worst ms':>9}")
    for name, params in SEARCHES.items():
        query = Query.from_params(params)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            results = explorer.search(query)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"{name:32} {results.total:>9,} {statistics.median(times):>10.0f} {max(times):>9.0f}")


if __name__ == "__main__":
    main()
