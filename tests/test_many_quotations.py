"""One article of thousands of quotations: detection looks at the mentions and candidates
near each cue, not at every one in the article (bench/worst_case.py times the stages)."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines import analyse, quotes
from pipelines.records import Article

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def many_quotations(n: int, seed: int = 7) -> Article:
    """``n`` sentences "وقال لافروف إن <content>." of 6-20 words of the sample articles (so
    other cues, participles and names occur in them too); every fifth restates an earlier."""
    rng = random.Random(seed)
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(SAMPLE.glob("*.txt")))
    vocab = sorted(set(re.findall(r"[\u0621-\u064a]{3,}", text)))
    contents: list[str] = []
    for i in range(n):
        if i and i % 5 == 0:
            words = rng.choice(contents).split()
            contents.append(" ".join(words[:-1] if rng.random() < 0.5 else words))
        else:
            contents.append(" ".join(rng.choices(vocab, k=rng.randint(6, 20))))
    sentences = [f"وقال لافروف إن {c}." for c in contents]
    body = "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, n, 5))
    return Article(f"many{n:012d}", f"many-{n}", body, "لافروف يتحدث", dt.date(2015, 10, 1))


class Counting(list):  # type: ignore[type-arg]
    """A list that counts the items every iteration over it yields."""

    items = 0

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            Counting.items += 1
            yield item


def test_detection_scans_no_whole_list_per_cue(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 quotations (and ~2,000 mentions of Lavrov): the rules iterated 1.16 million
    mentions and candidates when a participle or another subject scanned all of them."""
    real = quotes.detect_field

    def counting(text: str, name: str, units: list, mentions: list, state: Any) -> None:
        state.candidates = Counting(state.candidates)
        real(text, name, units, Counting(mentions), state)

    monkeypatch.setattr(analyse, "detect_field", counting)
    Counting.items = 0
    det = analyse.detect_article(
        analyse.segment_article(analyse.clean_article(many_quotations(2000)))
    )
    assert len(det.candidates) > 1900
    assert 0 < Counting.items <= 10 * len(det.candidates), Counting.items


@pytest.mark.parametrize(
    "spans",
    [
        [("text", 2, 9), ("title", 0, 30), ("text", 5, 7), ("text", 12, 20), ("text", 14, 16)],
        [("text", 10, 20), ("text", 2, 5), ("text", 22, 25)],  # out of order: a scan
    ],
)
def test_in_candidate_is_the_scan(spans: list[tuple[str, int, int]]) -> None:
    """Asked after each new candidate, in_candidate answers as the scan of every candidate
    of the field does."""
    state = quotes.ArticleState()
    detector = quotes.Detector("x" * 30, "text", [], [], state)
    for field, start, end in spans:
        state.candidates.append(
            quotes.Candidate(field, 0, 0, 0, start, end, "direct", "r", quotes.Subject("other"))
        )
        for pos in range(31):
            scan = any(
                c.field == "text" and c.content_start <= pos < c.content_end
                for c in state.candidates
            )
            assert detector.in_candidate(pos) == scan, (pos, state.candidates)
