"""Time each analysis stage on one article holding N quotations (the worst case of one input).

    .venv/bin/python bench/worst_case.py [--quotations 1000 2000] [--repeat-every 5] [--seed 7]

The article is N sentences ``وقال لافروف إن <content>.``, five to a paragraph; each content
is 6-20 words drawn from the sample articles' vocabulary, and every ``--repeat-every``-th
one restates an earlier content (verbatim, or with its last word dropped), so deduplication
has duplicates to find among many candidates. Prints seconds per stage (clean, segment,
detect, attribute, tables, claims) and the quotations kept. A benchmark that prints figures,
not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from pipelines import analyse, claims, tabulate
from pipelines.records import Article

T = TypeVar("T")
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def vocabulary() -> list[str]:
    words = re.findall(
        r"[\u0621-\u064a]{3,}", " ".join(p.read_text() for p in SAMPLE.glob("*.txt"))
    )
    return sorted(set(words))


def worst_article(
    n: int, *, repeat_every: int = 5, seed: int = 7, vocab: Sequence[str] | None = None
) -> Article:
    """One article with ``n`` quotation sentences by Lavrov (see the module docstring), their
    words drawn from ``vocab`` (default: the sample articles'). The tests build theirs here."""
    rng = random.Random(seed)
    vocab = list(vocab) if vocab is not None else vocabulary()
    contents: list[str] = []
    for i in range(n):
        if repeat_every and i and i % repeat_every == 0:
            words = rng.choice(contents).split()
            contents.append(" ".join(words[:-1] if rng.random() < 0.5 else words))
        else:
            contents.append(" ".join(rng.choices(vocab, k=rng.randint(6, 20))))
    sentences = [f"وقال لافروف إن {c}." for c in contents]
    paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, n, 5)]
    text = "\n\n".join(paragraphs)
    return Article(f"worst{n:011d}", f"worst-{n}", text, "لافروف يتحدث", dt.date(2015, 10, 1))


def time_stages(article: Article) -> tuple[dict[str, float], int]:
    """Seconds of each stage on ``article``, and the quotations it keeps."""
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., T], *args: object) -> T:
        start = time.perf_counter()
        result = fn(*args)
        seconds[name] = time.perf_counter() - start
        return result

    cleaned = timed("clean", analyse.clean_article, article)
    segmented = timed("segment", analyse.segment_article, cleaned)
    detected = timed("detect", analyse.detect_article, segmented)
    analysis = timed("attribute", analyse.attribute_article, detected)
    tables = timed("tables", tabulate.build_tables, [analysis], [])
    timed("claims", claims.assign_claims, tables["quotes"], tables["articles"])
    return seconds, len(analysis.quotes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quotations", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--repeat-every", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    time_stages(worst_article(20, seed=args.seed))  # warm up: registry, regexes
    for n in args.quotations:
        article = worst_article(n, repeat_every=args.repeat_every, seed=args.seed)
        seconds, kept = time_stages(article)
        stages = "  ".join(f"{k} {v:.3f}" for k, v in seconds.items())
        analysis = sum(seconds[k] for k in ("clean", "segment", "detect", "attribute"))
        print(
            f"{n} quotations ({len(article.text) / 2**20:.2f} MiB, {kept} kept): "
            f"analysis {analysis:.3f} s  [{stages}]"
        )


if __name__ == "__main__":
    main()
