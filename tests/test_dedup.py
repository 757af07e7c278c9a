"""Deduplication of an article's quotations: the indexed version keeps exactly what the
pairwise one (kept here as the oracle) kept, and compares a number of pairs that grows with
the quotations, not with their square."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
import worst_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import analyse
from pipelines.attribute import dedup
from pipelines.records import QUOTE_TYPES, Article, Quote

# --- the pairwise deduplication isnad had before (the oracle) ----------------------------------

_WORD = re.compile(r"\w+")


def _tokens(s: str) -> list[str]:
    return _WORD.findall(s)


def _overlap(a: list[str], b: list[str]) -> float:
    if not a or not b:
        return 0.0
    common = sum((Counter(a) & Counter(b)).values())
    if common == 0:
        return 0.0
    p, r = common / len(a), common / len(b)
    return 2 * p * r / (p + r)


def _contained(a: list[str], b: list[str], min_ratio: float = 0.5) -> float:
    if not a or not b:
        return 0.0
    short, long_ = sorted((a, b), key=len)
    if len(short) < min_ratio * len(long_):
        return 0.0
    return sum((Counter(short) & Counter(long_)).values()) / len(short)


def pairwise_deduplicate(quotes: list[Quote], clean_texts: dict[int, str]) -> list[Quote]:
    order = sorted(
        range(len(quotes)),
        key=lambda i: (
            quotes[i].quote_type == "headline",
            -len(quotes[i].quote_text),
            -quotes[i].confidence,
            i,
        ),
    )
    kept: list[int] = []
    for i in order:
        ti = _tokens(clean_texts[i])
        dup = False
        for j in kept:
            if quotes[j].speaker_id != quotes[i].speaker_id:
                continue
            tj = _tokens(clean_texts[j])
            headline = "headline" in (quotes[i].quote_type, quotes[j].quote_type) or "title" in (
                quotes[i].field,
                quotes[j].field,
            )
            if headline and quotes[i].field != quotes[j].field:
                # A title and a body statement are one only when their words are the same.
                if _overlap(ti, tj) >= 1.0:
                    dup = True
                    break
                continue
            quoted_excerpt = quotes[i].quote_type == "direct" and _contained(ti, tj, 0.0) >= 0.9
            if _overlap(ti, tj) >= (0.9 if headline else 0.8) or (
                not headline and (quoted_excerpt or _contained(ti, tj) >= 0.9)
            ):
                dup = True
                break
        if not dup:
            kept.append(i)
    return [
        quotes[i]
        for i in sorted(kept, key=lambda i: (quotes[i].field != "title", quotes[i].char_start))
    ]


# --- random quotation sets -----------------------------------------------------------------------

VOCAB = ["a", "b", "c", "d", "e", "f", "g", "h", "٣", "قال"]


def quote(n: int, speaker: str | None, qtype: str, field: str, conf: float, start: int, text: str,
          pad: int) -> Quote:  # fmt: skip
    return Quote(
        quote_id=f"q{n}", article_id="a", source_name="s", field=field, speaker_id=speaker,
        speaker_mention=None, mention_start=None, mention_end=None, quote_text=text + "x" * pad,
        char_start=start, char_end=start + len(text), quote_type=qtype, cue="", cue_start=None,
        cue_end=None, attribution_method="name", rule="r", confidence=conf, sentence_index=0,
        published_date=None,
    )  # fmt: skip


@st.composite
def quotation_sets(draw: st.DrawFn) -> tuple[list[Quote], dict[int, str]]:
    """Quotations whose texts are often edits of earlier ones (near-duplicates), with ties in
    length, confidence and position, several speakers (None too), titles and headlines."""
    n = draw(st.integers(0, 24))
    texts: list[list[str]] = []
    quotes: list[Quote] = []
    for i in range(n):
        if texts and draw(st.booleans()):
            words = list(draw(st.sampled_from(texts)))
            edit = draw(st.sampled_from(["same", "drop", "add", "swap", "cut"]))
            if edit == "drop" and words:
                del words[draw(st.integers(0, len(words) - 1))]
            elif edit == "add":
                words.insert(draw(st.integers(0, len(words))), draw(st.sampled_from(VOCAB)))
            elif edit == "swap":
                words = draw(st.permutations(words))
            elif edit == "cut":
                words = words[: draw(st.integers(0, len(words)))]
        else:
            words = draw(st.lists(st.sampled_from(VOCAB), max_size=14))
        texts.append(words)
        quotes.append(
            quote(
                i,
                draw(st.sampled_from([None, "lavrov", "kerry"])),
                draw(st.sampled_from(QUOTE_TYPES)),
                draw(st.sampled_from(["text", "text", "title"])),
                draw(st.sampled_from([0.5, 0.8, 0.8, 1.0])),
                draw(st.integers(0, 5)),
                " ".join(words),
                draw(st.integers(0, 3)),
            )
        )
    return quotes, {i: " ".join(w) for i, w in enumerate(texts)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quotation_sets())
def test_same_quotations_kept_as_pairwise(case: tuple[list[Quote], dict[int, str]]) -> None:
    quotes, clean_texts = case
    expected = pairwise_deduplicate(quotes, clean_texts)
    assert [q.quote_id for q in dedup.deduplicate(quotes, clean_texts)] == [
        q.quote_id for q in expected
    ]


# --- one article of many quotations ------------------------------------------------------------


def many_quotations(n: int, seed: int = 3) -> Article:
    """``n`` sentences "وقال لافروف إن <content>." of 6-20 words from 1,000 made-up ones;
    every fifth restates an earlier one (verbatim, or with its last word dropped)."""
    rng = random.Random(seed)
    letters = [chr(c) for c in range(0x0628, 0x063A)]
    vocab = sorted({"".join(rng.choices(letters, k=rng.randint(3, 7))) for _ in range(1000)})
    return worst_case.worst_article(n, seed=seed, vocab=vocab)


def detected(n: int) -> analyse.DetectedArticle:
    return analyse.detect_article(
        analyse.segment_article(analyse.clean_article(many_quotations(n)))
    )


def test_article_of_many_quotations_same_as_pairwise(monkeypatch: pytest.MonkeyPatch) -> None:
    det = detected(400)
    fast = analyse.attribute_article(det).quotes
    monkeypatch.setattr(dedup, "deduplicate", pairwise_deduplicate)
    slow = analyse.attribute_article(det).quotes
    assert len(det.candidates) >= 380 and 300 < len(slow) < len(det.candidates)
    assert fast == slow


def test_pairs_compared_grow_linearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 quotations of one speaker: the pairwise version tokenised two texts for each of
    ~1.5 million pairs; the index tokenises each text once and compares only pairs sharing
    enough of their rarest tokens."""
    calls: Counter[str] = Counter()

    def counting(name: str) -> object:
        real = getattr(dedup, name, None)

        def wrapper(*args: object) -> object:
            calls[name] += 1
            return real(*args)  # type: ignore[misc]

        return wrapper

    monkeypatch.setattr(dedup, "_tokens", counting("_tokens"))
    monkeypatch.setattr(dedup, "_is_duplicate", counting("_is_duplicate"), raising=False)
    det = detected(2000)
    kept = analyse.attribute_article(det).quotes
    n = len(det.candidates)
    assert n >= 1900 and len(kept) > 1400
    assert calls["_tokens"] <= n, calls
    assert 0 < calls["_is_duplicate"] <= 2 * n, calls
