"""Every gold set is well formed against the articles it annotates (``ANNOTATION.md``).

Sets whose articles are committed (``articles.jsonl``) are checked always; sets annotated on a
corpus whose texts may not be committed (``articles.ids``: the ANT corpus) are checked against the
shared corpus beside the project, and skipped where it is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import gold_articles
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"

SPEAKERS = {"lavrov", "kerry", "shoigu", "hagel", "muallem", "other"}
TYPES = {"direct", "indirect", "mixed", "nominal", "headline"}
SETS_BY_ID = sorted(p.parent.name for p in DATA.glob("*/articles.ids"))
SETS_WITH_TEXT = sorted(p.parent.name for p in DATA.glob("*/articles.jsonl"))


def _gold(name: str) -> list[dict]:
    lines = (DATA / name / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _check(gold: list[dict], articles: dict[str, dict]) -> None:
    problems = []
    for n, record in enumerate(gold, 1):
        where = f"record {n} ({record.get('doc')})"
        if record.get("doc") not in articles:
            problems.append(f"{where}: doc is not among the set's articles")
            continue
        if record.get("speaker") not in SPEAKERS or record.get("type") not in TYPES:
            problems.append(f"{where}: speaker/type {record.get('speaker')}/{record.get('type')}")
        field = record.get("field", "text")
        if not record.get("text") or record["text"] not in (
            articles[record["doc"]].get(field) or ""
        ):
            problems.append(f"{where}: text is not a substring of its {field}")
        if not record.get("cue") and not record.get("ambiguous"):
            problems.append(f"{where}: no cue (only an unscored, ambiguous record may lack one)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", SETS_WITH_TEXT)
def test_committed_set_matches_its_articles(name: str) -> None:
    """Each record of a set with committed articles names one, and its text is in it."""
    lines = (DATA / name / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    articles = {r["id"]: r for r in map(json.loads, filter(str.strip, lines))}
    _check(_gold(name), articles)


@pytest.mark.parametrize("name", SETS_BY_ID)
def test_set_by_id_matches_the_shared_corpus(name: str) -> None:
    """Each record of an ids-only set names one of its ids, and its text is in that article."""
    ids = gold_articles.read_ids(DATA / name / "articles.ids")
    assert len(ids) == len(set(ids)), "an article is listed twice"
    corpora = {gold_articles.corpus_file(i, gold_articles.DEFAULT_CORPUS_DIR) for i in ids}
    if missing := [str(p) for p in corpora if not p.exists()]:
        pytest.skip(f"shared corpus not here: {', '.join(missing)}")
    articles = {r["id"]: r for r in gold_articles.find_articles(ids)}
    _check(_gold(name), articles)


def test_held_out_sets_share_no_article_with_development_sets() -> None:
    """A held-out set is never tuned on: none of its articles is in a development set."""

    def ids(name: str) -> set[str]:
        if (DATA / name / "articles.ids").exists():
            return set(gold_articles.read_ids(DATA / name / "articles.ids"))
        lines = (DATA / name / "articles.jsonl").read_text(encoding="utf-8").splitlines()
        return {json.loads(line)["id"] for line in lines if line.strip()}

    held_out = {"holdout", "holdout-bbc", "holdout3", "holdout4", "probe-c"}
    development = {"dev", "dev2", "dev3", "dev4", "dev5", "dev6", "probe-a", "probe-b", "probe-d"}
    assert held_out | development <= set(SETS_BY_ID) | set(SETS_WITH_TEXT)
    for h in held_out:
        for d in development:
            assert not ids(h) & ids(d), (h, d)
