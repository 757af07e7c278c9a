"""One article of thousands of quotations: detection looks at the mentions and candidates
near each cue, not at every one in the article (bench/worst_case.py times the stages)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import worst_case

from pipelines import analyse, quotes
from pipelines.records import Article
from pipelines.subjects import Covered, FieldView


def many_quotations(n: int) -> Article:
    """``n`` sentences "وقال لافروف إن <content>." of 6-20 words of the sample articles (so
    other cues, participles and names occur in them too); every fifth restates an earlier."""
    return worst_case.worst_article(n)


class Counting(list):  # type: ignore[type-arg]
    """A list that counts the items every iteration over it yields and every index reads."""

    items = 0

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            Counting.items += 1
            yield item

    def __getitem__(self, key: Any) -> Any:
        item = super().__getitem__(key)
        Counting.items += len(item) if isinstance(key, slice) else 1
        return item


def test_detection_scans_no_whole_list_per_cue(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 quotations (and ~2,000 mentions of Lavrov): the rules iterated 1.16 million
    mentions and candidates when a participle or another subject scanned all of them. Here
    every field's mentions and its candidates' spans count each item an iteration yields."""
    real_of = FieldView.of.__func__  # type: ignore[attr-defined]

    def counting_view(
        cls: type[FieldView], text: str, field: str, units: list, mentions: list
    ) -> FieldView:
        view = real_of(cls, text, field, units, Counting(mentions))
        return replace(view, mentions=Counting(view.mentions))

    class CountingCovered(Covered):
        def __init__(self) -> None:
            super().__init__()
            self._spans = Counting()  # what a scan of the candidates iterates

    monkeypatch.setattr(FieldView, "of", classmethod(counting_view))
    monkeypatch.setattr(quotes, "Covered", CountingCovered)
    Counting.items = 0
    det = analyse.detect_article(
        analyse.segment_article(analyse.clean_article(many_quotations(2000)))
    )
    assert len(det.candidates) > 1900
    assert 0 < Counting.items <= 10 * len(det.candidates), Counting.items


@pytest.mark.parametrize(
    "spans",
    [
        [(2, 9), (5, 7), (12, 20), (14, 16), (16, 16), (25, 30)],
        [(10, 20), (2, 5), (22, 25)],  # out of order: a scan
    ],
)
def test_covered_is_the_scan(spans: list[tuple[int, int]]) -> None:
    """Asked after each new candidate, Covered answers as the scan of every candidate of the
    field does."""
    covered = Covered()
    for n, (start, end) in enumerate(spans, 1):
        covered.add(start, end)
        for pos in range(31):
            scan = any(a <= pos < b for a, b in spans[:n])
            assert (pos in covered) == scan, (pos, spans[:n])
