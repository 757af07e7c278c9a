"""Write the articles of a gold set whose texts are not in the repository, from the shared corpora.

Some gold sets (``tests/data/*/articles.ids``) are annotated on corpora whose terms forbid
committing their texts (the ANT corpus: the texts belong to the outlets). The repository keeps
only the ids and the gold records; this script takes the articles from the corpora beside the
project (``../shared/corpus`` by default) into a JSON Lines file that ``isnad run`` reads:

    .venv/bin/python scripts/gold_articles.py tests/data/dev2/articles.ids -o /tmp/dev2.jsonl
    .venv/bin/isnad run /tmp/dev2.jsonl --out /tmp/dev2
    .venv/bin/isnad evaluate --gold tests/data/dev2/gold.jsonl --quotes /tmp/dev2

Records are copied unchanged, in the order of the ids file. Exit 1 when an id is not found.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS_DIR = ROOT.parent / "shared" / "corpus"
# Which corpus an id comes from, by its prefix (the corpora's own id schemes).
CORPORA = {"antms-": "ant-2018-dev.jsonl.gz", "snn-": "saudinewsnet-dev.jsonl.gz"}


def read_ids(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def corpus_file(article_id: str, corpus_dir: Path) -> Path:
    for prefix, name in CORPORA.items():
        if article_id.startswith(prefix):
            return corpus_dir / name
    raise ValueError(f"no corpus known for id {article_id!r} (prefixes: {', '.join(CORPORA)})")


def find_articles(ids: Iterable[str], corpus_dir: Path = DEFAULT_CORPUS_DIR) -> list[dict]:
    """The records with these ids, in their order; KeyError names the ids not found."""
    wanted = list(ids)
    by_file: dict[Path, set[str]] = {}
    for article_id in wanted:
        by_file.setdefault(corpus_file(article_id, corpus_dir), set()).add(article_id)
    found: dict[str, dict] = {}
    for path, id_set in by_file.items():
        for record in _records(path):
            # The corpus repeats some articles (crawled twice): the first copy is the one.
            if record.get("id") in id_set and record["id"] not in found:
                found[record["id"]] = record
    missing = [i for i in wanted if i not in found]
    if missing:
        raise KeyError(f"not in {corpus_dir}: {', '.join(missing)}")
    return [found[i] for i in wanted]


def _records(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="+", type=Path, help="articles.ids file(s)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="JSON Lines to write")
    parser.add_argument("--corpus-dir", type=Path, default=DEFAULT_CORPUS_DIR)
    args = parser.parse_args(argv)
    ids = [i for path in args.ids for i in read_ids(path)]
    try:
        records = find_articles(ids, args.corpus_dir)
    except (KeyError, ValueError, OSError) as exc:
        print(f"gold_articles: {exc}", file=sys.stderr)
        return 1
    with open(args.output, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{len(records)} articles -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
