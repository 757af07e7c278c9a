"""Score predicted quotations against a gold set, as ANNOTATION.md ("Scoring") defines it.

Texts are compared by token F1 after normalisation; per article, predictions and gold
records are matched one-to-one, best F1 first, same speaker preferred on ties; a pair
matches only at F1 >= 0.5.

Who takes part in the matching
------------------------------
The contract says "a predicted quotation matches a gold record" with no condition on the
speaker, so *every* prediction (also those whose speaker is null or ``other``) and *every*
gold record (also ``other`` and ``ambiguous`` ones) take part. The speaker only decides what
a match counts as, afterwards:

- a prediction among the five matched to a gold record of the same speaker is right;
  matched to one with another speaker (``other`` included) it is a wrong-speaker error;
  matched to nothing it is spurious; matched to an ``ambiguous`` gold record it is neither
  right nor wrong and leaves the precision denominator (and the gold leaves recall).
- a prediction whose speaker is not among the five is not counted in precision at all,
  but it still consumes the gold record it matched. Reading the text this way means a
  pipeline that emits the same statement twice, once unattributed and once attributed,
  loses the attributed copy whenever the unattributed one fits the gold text better: the
  contract's "deduplicate" applies to every prediction, not only to the scored ones.
  Dropping unattributed predictions before matching would instead reward such duplicates.

F1 is computed exactly (``2·common / (len(pred) + len(gold))`` as a fraction), so the 0.5
threshold and the tie-breaking do not depend on floating-point rounding.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.arabic import normalise
from pipelines.records import QUOTE_TYPES
from pipelines.speakers import speaker_ids

MATCH_THRESHOLD = Fraction(1, 2)
OTHER = "other"

_NON_WORD = re.compile(r"\W+")


@dataclass(frozen=True, slots=True)
class GoldQuote:
    doc: str
    speaker: str  # a registry speaker_id or "other"
    quote_type: str
    text: str
    cue: str | None = None
    field: str = "text"
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class PredictedQuote:
    source_name: str
    speaker_id: str | None  # a registry speaker_id; None or anything else means "other"
    quote_text: str
    quote_type: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    doc: str
    gold_index: int  # position in the gold list given to score()
    pred_index: int  # position in the prediction list given to score()
    f1: float


@dataclass(frozen=True, slots=True)
class Ratio:
    hits: int
    total: int

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class EvalReport:
    precision: float
    recall: float
    f1: float
    correct: int  # predictions among the five matched to gold of the same speaker
    predicted: int  # predictions among the five, less those matched to ambiguous gold
    recalled: int  # gold among the five matched by a prediction with the same speaker
    gold: int  # gold among the five, not ambiguous
    wrong_speaker: int  # predictions among the five matched to gold of another speaker
    spurious: int  # predictions among the five matched to nothing
    on_ambiguous: int  # predictions among the five matched to ambiguous gold: not scored
    ambiguous_gold: int
    unattributed_predictions: int  # predictions whose speaker is not among the five
    docs_without_gold: tuple[str, ...]  # predicted articles that have no gold record
    recall_by_type: dict[str, Ratio] = field(default_factory=dict)
    recall_by_speaker: dict[str, Ratio] = field(default_factory=dict)
    matches: tuple[Match, ...] = ()


def tokenize(text: str) -> list[str]:
    """Scoring tokens: the normalised text split on non-word characters."""
    return [token for token in _NON_WORD.split(normalise(text)) if token]


def token_f1(predicted: str, gold: str) -> float:
    """Token F1 of two texts (multiset overlap), as a float."""
    return float(_token_f1(Counter(tokenize(predicted)), Counter(tokenize(gold))))


def load_gold(path: str | Path) -> list[GoldQuote]:
    """Gold records from a JSON Lines file in the ANNOTATION.md format."""
    gold: list[GoldQuote] = []
    with open(path, encoding="utf-8") as stream:
        for line_no, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                gold.append(
                    GoldQuote(
                        doc=record["doc"],
                        speaker=record["speaker"],
                        quote_type=record["type"],
                        text=record["text"],
                        cue=record.get("cue"),
                        field=record.get("field", "text"),
                        ambiguous=bool(record.get("ambiguous", False)),
                    )
                )
            except (json.JSONDecodeError, KeyError) as exc:
                raise ValueError(f"{path}:{line_no}: not a gold record ({exc!r})") from exc
    return gold


def load_predictions(quotes: str | Path) -> list[PredictedQuote]:
    """Predictions from the ``quotes`` table: a dataset directory (``<out>``, holding
    ``quotes/``), the table's directory of parts, or a ``quotes.parquet`` file (or the
    directory holding one)."""
    path = Path(quotes)
    if path.is_dir() and (path / "quotes").is_dir():
        path = path / "quotes"
    elif path.is_dir() and (path / "quotes.parquet").is_file():
        path = path / "quotes.parquet"
    columns = ["source_name", "speaker_id", "quote_text", "quote_type"]
    table = pq.read_table(path, columns=columns)
    return [PredictedQuote(**row) for row in table.to_pylist()]


def score(
    gold: Sequence[GoldQuote],
    predictions: Sequence[PredictedQuote],
    *,
    only_gold_docs: bool = False,
) -> EvalReport:
    """Match predictions to gold per article and count as ANNOTATION.md says.

    ``only_gold_docs`` leaves out predictions in articles that have no gold record (to score
    a run over a larger corpus against the gold of a few articles); by default they count,
    as spurious when attributed to one of the five.
    """
    gold_docs = {g.doc for g in gold}
    docs_without_gold = tuple(sorted({p.source_name for p in predictions} - gold_docs))
    pred_indices = [
        i for i, p in enumerate(predictions) if not only_gold_docs or p.source_name in gold_docs
    ]
    matches = _match_all(gold, predictions, pred_indices)
    gold_of_pred = {m.pred_index: m.gold_index for m in matches}
    pred_of_gold = {m.gold_index: m.pred_index for m in matches}

    correct = wrong = spurious = on_ambiguous = unattributed = 0
    for i in pred_indices:
        speaker = _pred_speaker(predictions[i])
        if speaker == OTHER:
            unattributed += 1
            continue
        gold_index = gold_of_pred.get(i)
        if gold_index is None:
            spurious += 1
        elif gold[gold_index].ambiguous:
            on_ambiguous += 1
        elif _gold_speaker(gold[gold_index]) == speaker:
            correct += 1
        else:
            wrong += 1

    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_speaker: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for j, record in enumerate(gold):
        speaker = _gold_speaker(record)
        if record.ambiguous or speaker == OTHER:
            continue
        pred_index = pred_of_gold.get(j)
        hit = pred_index is not None and _pred_speaker(predictions[pred_index]) == speaker
        for counts in (by_type[record.quote_type], by_speaker[speaker]):
            counts[0] += hit
            counts[1] += 1

    recalled = sum(hits for hits, _ in by_speaker.values())
    gold_total = sum(total for _, total in by_speaker.values())
    predicted = correct + wrong + spurious
    precision = correct / predicted if predicted else 0.0
    recall = recalled / gold_total if gold_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return EvalReport(
        precision=precision,
        recall=recall,
        f1=f1,
        correct=correct,
        predicted=predicted,
        recalled=recalled,
        gold=gold_total,
        wrong_speaker=wrong,
        spurious=spurious,
        on_ambiguous=on_ambiguous,
        ambiguous_gold=sum(g.ambiguous for g in gold),
        unattributed_predictions=unattributed,
        docs_without_gold=docs_without_gold,
        recall_by_type=_ordered(by_type, QUOTE_TYPES),
        recall_by_speaker=_ordered(by_speaker, speaker_ids()),
        matches=tuple(matches),
    )


def format_report(report: EvalReport) -> str:
    """A short plain-text report: headline numbers, then recall by type and by speaker."""
    lines = [
        f"precision      {report.precision:.3f}  ({report.correct}/{report.predicted})",
        f"recall         {report.recall:.3f}  ({report.recalled}/{report.gold})",
        f"f1             {report.f1:.3f}",
        f"wrong speaker  {report.wrong_speaker}",
        f"spurious       {report.spurious}",
        f"not scored     {report.ambiguous_gold} ambiguous gold, "
        f"{report.on_ambiguous} predictions matched to them, "
        f"{report.unattributed_predictions} predictions with no speaker among the five",
    ]
    if report.docs_without_gold:
        lines.append(f"articles predicted without any gold: {len(report.docs_without_gold)}")
    for title, ratios in (("type", report.recall_by_type), ("speaker", report.recall_by_speaker)):
        lines.append(f"recall by {title}:")
        lines.extend(
            f"  {key:<10} {ratio.value:.3f}  ({ratio.hits}/{ratio.total})"
            for key, ratio in ratios.items()
        )
    return "\n".join(lines)


def _pred_speaker(prediction: PredictedQuote) -> str:
    return prediction.speaker_id if prediction.speaker_id in speaker_ids() else OTHER


def _gold_speaker(record: GoldQuote) -> str:
    return record.speaker if record.speaker in speaker_ids() else OTHER


def _token_f1(predicted: Counter[str], gold: Counter[str]) -> Fraction:
    common = sum((predicted & gold).values())
    if not common:
        return Fraction(0)
    # 2PR/(P+R) with P = c/|pred|, R = c/|gold| reduces to 2c/(|pred|+|gold|).
    return Fraction(2 * common, predicted.total() + gold.total())


def _match_all(
    gold: Sequence[GoldQuote], predictions: Sequence[PredictedQuote], pred_indices: Iterable[int]
) -> list[Match]:
    """One-to-one matches in every article, best F1 first, same speaker first on ties."""
    gold_by_doc: dict[str, list[int]] = defaultdict(list)
    for j, record in enumerate(gold):
        gold_by_doc[record.doc].append(j)
    preds_by_doc: dict[str, list[int]] = defaultdict(list)
    for i in pred_indices:
        preds_by_doc[predictions[i].source_name].append(i)

    gold_tokens = [Counter(tokenize(g.text)) for g in gold]
    matches: list[Match] = []
    for doc, doc_preds in preds_by_doc.items():
        candidates: list[tuple[Fraction, bool, int, int]] = []
        for i in doc_preds:
            tokens = Counter(tokenize(predictions[i].quote_text))
            speaker = _pred_speaker(predictions[i])
            for j in gold_by_doc.get(doc, ()):
                f1 = _token_f1(tokens, gold_tokens[j])
                if f1 >= MATCH_THRESHOLD:
                    candidates.append((f1, speaker == _gold_speaker(gold[j]), j, i))
        # Best F1 first; on equal F1 a same-speaker pair first; then file order, for a
        # result that does not depend on anything but the inputs.
        candidates.sort(key=lambda c: (-c[0], not c[1], c[2], c[3]))
        used_gold: set[int] = set()
        used_pred: set[int] = set()
        for f1, _, j, i in candidates:
            if j in used_gold or i in used_pred:
                continue
            used_gold.add(j)
            used_pred.add(i)
            matches.append(Match(doc=doc, gold_index=j, pred_index=i, f1=float(f1)))
    return matches


def _ordered(counts: dict[str, list[int]], order: Sequence[str]) -> dict[str, Ratio]:
    """Ratios in the registry's order first, any unknown key (a new type) after."""
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return {k: Ratio(*counts[k]) for k in keys}
