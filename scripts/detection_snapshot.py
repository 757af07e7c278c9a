"""Snapshot every quotation (and every detection candidate) the text stages find: the oracle
for refactoring detection without changing its behaviour.

Runs ``pipelines.analyse`` over the shared corpora (``../shared/corpus``: SaudiNewsNet and ANT
dev), the committed gold sets (``tests/data/*/articles.jsonl``), the seed pages
(``data/sample``) and the quotation fixtures, and writes one sorted JSON line per candidate
(subject included) and per quotation (every field, confidence included), then prints the
file's sha256 and the seconds spent detecting and attributing:

    PYTHONPATH=$PWD .venv/bin/python scripts/detection_snapshot.py -o /tmp/before.jsonl \\
        --cache /tmp/candidates.pickle
    ... change the code ...
    PYTHONPATH=$PWD .venv/bin/python scripts/detection_snapshot.py -o /tmp/after.jsonl \\
        --cache /tmp/candidates.pickle
    diff /tmp/before.jsonl /tmp/after.jsonl

``--cache`` keeps the articles the cascade accepts (about 2% of the corpora) after the first
run, so later runs skip reading and cleaning 58,000 articles; the cascade is not detection,
so a refactoring of detection leaves the cached set valid.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import pickle
import sys
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from pipelines import analyse
from pipelines.ingest import iter_inputs
from pipelines.records import Article

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ("saudinewsnet-dev.jsonl.gz", "ant-2018-dev.jsonl.gz")


def corpus_dir() -> Path:
    """``../shared/corpus`` beside the project, or beside the worktrees' parent."""
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "corpus").is_dir():
            return base / "shared" / "corpus"
    raise SystemExit("no shared/corpus found beside the project")


def fixture_articles() -> list[Article]:
    path = ROOT / "tests" / "fixtures" / "quotes_cases.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            c = json.loads(line)
            date = dt.date.fromisoformat(c["date"]) if c["date"] else None
            out.append(Article(c["id"], "fixture:" + c["id"], c["text"], c.get("title"), date))
    return out


def candidate_articles(cache: Path | None) -> list[Article]:
    """Every article the cascade accepts, from all inputs (read once, then from the cache)."""
    if cache is not None and cache.exists():
        with cache.open("rb") as fh:
            return pickle.load(fh)
    paths = [str(corpus_dir() / name) for name in CORPORA]
    paths += [str(p) for p in sorted((ROOT / "tests" / "data").glob("*/articles.jsonl"))]
    paths.append(str(ROOT / "data" / "sample"))
    articles = [a for batch, _ in iter_inputs(paths, batch_size=10_000) for a in batch]
    articles += fixture_articles()
    kept = []
    for i in range(0, len(articles), 2000):
        kept += [c.article for c in analyse.clean_articles(articles[i : i + 2000]) if c.candidate]
    if cache is not None:
        with cache.open("wb") as fh:
            pickle.dump(kept, fh)
    return kept


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "value"):  # an Enum member
        return value.value
    return value


def snapshot(articles: list[Article]) -> tuple[list[str], float]:
    segmented = analyse.segment_articles(analyse.clean_articles(articles))
    t0 = time.perf_counter()
    detected = analyse.detect_quotations(segmented)
    analyses = analyse.attribute_quotations(detected)
    seconds = time.perf_counter() - t0
    lines = []
    for det in detected:
        key = [det.segmented.cleaned.article.source_name, det.segmented.cleaned.article.article_id]
        for c in det.candidates:
            row = {"kind": "candidate", "article": key, **_plain(c)}
            lines.append(json.dumps(row, ensure_ascii=False, sort_keys=True))
    for a in analyses:
        for q in a.quotes:
            row = {"kind": "quote", "article": [a.article.source_name, a.article.article_id]}
            row.update(_plain(q))
            lines.append(json.dumps(row, ensure_ascii=False, sort_keys=True))
    return sorted(lines), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--cache", type=Path, help="pickle of the cascade's articles")
    parser.add_argument("--repeat", type=int, default=1, help="time detection this many times")
    args = parser.parse_args(argv)
    articles = candidate_articles(args.cache)
    times = []
    for _ in range(args.repeat):
        lines, seconds = snapshot(articles)
        times.append(seconds)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    args.output.write_bytes(data)
    n_quotes = sum('"kind": "quote"' in line for line in lines)
    print(f"{len(articles)} articles, {len(lines)} lines ({n_quotes} quote lines)")
    print("detect+attribute seconds:", " ".join(f"{t:.2f}" for t in times))
    print("sha256", hashlib.sha256(data).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
