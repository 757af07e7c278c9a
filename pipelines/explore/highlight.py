"""A text cut into the pieces a page marks: each piece is a run of characters covered by the
same spans (a quotation's content, its cue, its speaker mention, a dropped region), so spans
that nest or overlap are drawn without breaking the HTML. Offsets are end-exclusive code
points, as the tables give them; a template escapes each piece's text."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # content, cue, mention, dropped
    quote_id: str | None = None
    speaker: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Piece:
    start: int
    end: int
    text: str
    spans: tuple[Span, ...] = field(default=())

    def kinds(self) -> list[str]:
        return sorted({s.kind for s in self.spans})

    @property
    def quote(self) -> Span | None:
        """The first quotation (content, cue or mention) the piece belongs to, if any."""
        return next((s for s in self.spans if s.quote_id is not None), None)


def pieces(text: str, spans: Iterable[Span], offset: int = 0) -> list[Piece]:
    """``text`` (which starts at ``offset`` of its field) cut at every span boundary; spans
    are clipped to the text, empty ones left out."""
    end_of_text = offset + len(text)
    kept = [s for s in spans if max(s.start, offset) < min(s.end, end_of_text)]
    cuts = sorted(
        {offset, end_of_text}
        | {max(s.start, offset) for s in kept}
        | {min(s.end, end_of_text) for s in kept}
    )
    out: list[Piece] = []
    for a, b in itertools.pairwise(cuts):
        covering = tuple(s for s in kept if s.start <= a and b <= s.end)
        out.append(Piece(a, b, text[a - offset : b - offset], covering))
    return out


def quote_spans(quote: Mapping[str, Any]) -> list[Span]:
    """The content, cue and speaker mention of a quotes row, where it has them."""
    qid, speaker = quote["quote_id"], quote["speaker_id"]
    spans = [Span(quote["char_start"], quote["char_end"], "content", qid, speaker)]
    for kind, prefix in (("cue", "cue"), ("mention", "mention")):
        start, end = quote.get(f"{prefix}_start"), quote.get(f"{prefix}_end")
        if start is not None and end is not None:
            spans.append(Span(start, end, kind, qid, speaker))
    return spans


def dropped_spans(article: Mapping[str, Any], field_name: str) -> list[Span]:
    return [
        Span(d["start"], d["end"], "dropped", reason=d["reason"])
        for d in article.get("dropped_spans") or ()
        if d["field"] == field_name
    ]


def field_pieces(
    article: Mapping[str, Any], field_name: str, quotes: Sequence[Mapping[str, Any]]
) -> list[Piece]:
    """One field of an article (its ``text`` or ``title``) cut for the article view."""
    text = article.get(field_name) or ""
    spans = dropped_spans(article, field_name)
    for quote in quotes:
        if quote["field"] == field_name:
            spans += quote_spans(quote)
    return pieces(text, spans)
