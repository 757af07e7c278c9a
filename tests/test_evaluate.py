"""Scoring as ANNOTATION.md defines it, on tiny hand-made cases."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows import cli
from pipelines.evaluate import (
    GoldQuote,
    PredictedQuote,
    format_report,
    load_gold,
    load_predictions,
    normalise,
    score,
    token_f1,
    tokenize,
)

GOLD_PATH = Path(__file__).resolve().parent / "data" / "seeds.gold.jsonl"
DOC = "000.txt"
STATEMENT = "الخلافات لا يجوز أن تعيق التعاون بين البلدين"


def gold(text: str = STATEMENT, speaker: str = "lavrov", **kw: object) -> GoldQuote:
    fields = {"doc": DOC, "quote_type": "indirect", **kw}
    return GoldQuote(speaker=speaker, text=text, **fields)  # type: ignore[arg-type]


def pred(text: str = STATEMENT, speaker: str | None = "lavrov", doc: str = DOC) -> PredictedQuote:
    return PredictedQuote(source_name=doc, speaker_id=speaker, quote_text=text)


class TestNormalisation:
    @pytest.mark.parametrize(
        ("raw", "folded"),
        [
            ("أكد", "اكد"),
            ("إن", "ان"),
            ("آخر", "اخر"),
            ("ٱلله", "الله"),
            ("على", "علي"),
            ("ضرورة", "ضروره"),
            ("مؤتمر", "موتمر"),
            ("رئيس", "رييس"),
            ("الوزيرُ", "الوزير"),  # damma U+064F
            ("مُحَمَّدٌ", "محمد"),  # damma, fatha, shadda, dammatan
            ("هٰذا", "هذا"),  # dagger alif U+0670
            ("الـــوزير", "الوزير"),  # tatweel U+0640
        ],
    )
    def test_folds_and_strips(self, raw: str, folded: str) -> None:
        """Diacritics and tatweel go; hamza seats, alif maqsura, ta marbuta fold."""
        assert normalise(raw) == folded

    def test_tokens_split_on_non_word(self) -> None:
        """Punctuation, quotes and spaces separate tokens; a diacritic does not split a word."""
        assert tokenize('قال: "الوزيرُ، أكد (2015)" ...') == ["قال", "الوزير", "اكد", "2015"]

    def test_folding_makes_spellings_match(self) -> None:
        """Two spellings of one statement score F1 1."""
        assert token_f1("أكّد الوزيرُ على ضرورة الحل", "اكد الوزير علي ضروره الحل") == 1.0

    def test_f1_is_multiset_overlap(self) -> None:
        """Repeated tokens count as often as they occur in both texts."""
        # pred a a b (3), gold a b b c (4): common a, b = 2 -> 2*2/7
        assert token_f1("ا ا ب", "ا ب ب ج") == pytest.approx(4 / 7)


class TestMatching:
    def test_perfect_match(self) -> None:
        """A prediction equal to the gold: precision, recall and F1 are 1."""
        report = score([gold()], [pred()])
        assert (report.precision, report.recall, report.f1) == (1.0, 1.0, 1.0)
        assert (report.wrong_speaker, report.spurious) == (0, 0)

    def test_wrong_speaker(self) -> None:
        """Right text, wrong speaker: one wrong-speaker error, no recall."""
        report = score([gold(speaker="lavrov")], [pred(speaker="kerry")])
        assert (report.precision, report.recall) == (0.0, 0.0)
        assert (report.wrong_speaker, report.spurious) == (1, 0)

    def test_other_gold_makes_a_five_prediction_wrong_speaker(self) -> None:
        """Putin's words given to Lavrov: wrong speaker, not spurious."""
        report = score([gold(speaker="other")], [pred(speaker="lavrov")])
        assert (report.wrong_speaker, report.spurious, report.predicted) == (1, 0, 1)
        assert report.gold == 0 and report.recall == 0.0

    def test_spurious_duplicate(self) -> None:
        """The same statement predicted twice: one match, the copy is spurious."""
        report = score([gold()], [pred(), pred()])
        assert report.precision == 0.5 and report.recall == 1.0
        assert (report.correct, report.spurious, report.wrong_speaker) == (1, 1, 0)

    def test_ambiguous_gold_is_not_scored(self) -> None:
        """A prediction matched to ambiguous gold leaves both precision and recall."""
        other = "ستكون هناك قنوات اتصال بين العسكريين"
        report = score([gold(), gold(text=other, ambiguous=True)], [pred(), pred(text=other)])
        assert (report.precision, report.recall) == (1.0, 1.0)
        assert (report.predicted, report.gold, report.on_ambiguous) == (1, 1, 1)
        assert report.ambiguous_gold == 1

    def test_ambiguous_gold_missed_costs_nothing(self) -> None:
        """An ambiguous record no prediction finds does not lower recall."""
        report = score([gold(), gold(text="نص اخر تماما هنا", ambiguous=True)], [pred()])
        assert report.recall == 1.0 and report.gold == 1

    @pytest.mark.parametrize(
        ("predicted", "matches"),
        [
            ("ا ب س", True),  # 2 common of 3 + 5 tokens: F1 4/8 = 0.5, matches
            ("ا ب س ص", False),  # 2 common of 4 + 5 tokens: F1 4/9 < 0.5
            ("ا ب ج د ه", True),
        ],
    )
    def test_f1_threshold_is_inclusive_at_half(self, predicted: str, matches: bool) -> None:
        """A pair matches at token F1 >= 0.5 exactly, and not below."""
        report = score([gold(text="ا ب ج د ه")], [pred(text=predicted)])
        assert report.correct == int(matches)
        assert report.spurious == int(not matches)

    def test_matching_is_per_article(self) -> None:
        """The same words in another article match nothing there."""
        report = score([gold()], [pred(doc="001.txt")])
        assert (report.correct, report.spurious) == (0, 1)
        assert report.docs_without_gold == ("001.txt",)
        assert score([gold()], [pred(doc="001.txt")], only_gold_docs=True).predicted == 0

    def test_same_speaker_preferred_on_ties(self) -> None:
        """A joint statement (one record per speaker, same text) pairs each prediction with
        its own speaker, whatever the order."""
        golds = [gold(speaker="lavrov"), gold(speaker="kerry")]
        report = score(golds, [pred(speaker="kerry"), pred(speaker="lavrov")])
        assert (report.correct, report.wrong_speaker) == (2, 0)
        single = score(golds, [pred(speaker="kerry")])
        assert (single.correct, single.recalled, single.gold) == (1, 1, 2)

    def test_best_f1_first(self) -> None:
        """The closest prediction takes the gold record; the looser one is left over."""
        close = STATEMENT
        loose = "الخلافات لا يجوز أن تعيق التعاون"  # 6 of 8 tokens: F1 12/14
        report = score([gold()], [pred(text=loose), pred(text=close)])
        assert [m.pred_index for m in report.matches] == [1]
        assert report.spurious == 1

    def test_unattributed_prediction_takes_part_in_matching(self) -> None:
        """A null-speaker prediction is not in precision, but it consumes the gold it fits
        best, so a looser attributed copy of the same statement is spurious."""
        loose = "الخلافات لا يجوز أن تعيق التعاون"
        report = score([gold()], [pred(speaker=None), pred(text=loose)])
        assert report.unattributed_predictions == 1
        assert (report.predicted, report.spurious, report.recall) == (1, 1, 0.0)

    def test_unattributed_prediction_of_other_speaker_is_neutral(self) -> None:
        """Someone else's words found and left unattributed count nowhere."""
        report = score([gold(speaker="other")], [pred(speaker=None)])
        assert (report.predicted, report.gold, report.unattributed_predictions) == (0, 0, 1)

    def test_recall_by_type_and_speaker(self) -> None:
        """Recall is broken down by the gold record's type and speaker."""
        golds = [
            gold(quote_type="direct"),
            gold(text="كان لقاؤنا مثمرا جدا", speaker="kerry", quote_type="headline"),
        ]
        report = score(golds, [pred()])
        assert {k: (r.hits, r.total) for k, r in report.recall_by_type.items()} == {
            "direct": (1, 1),
            "headline": (0, 1),
        }
        assert report.recall_by_speaker["lavrov"].value == 1.0
        assert report.recall_by_speaker["kerry"].value == 0.0


class TestLoadingAndReport:
    def test_seeds_gold_scores_itself_perfectly(self) -> None:
        """The 94 seed records, fed back as predictions, score precision and recall 1."""
        records = load_gold(GOLD_PATH)
        assert len(records) == 94
        preds = [
            PredictedQuote(g.doc, g.speaker if g.speaker != "other" else None, g.text)
            for g in records
        ]
        report = score(records, preds)
        assert (report.precision, report.recall) == (1.0, 1.0)
        assert report.gold == 93  # 94 less the one "other" record (the ambiguous one)

    def test_load_predictions_from_directory(self, tmp_path: Path) -> None:
        """quotes.parquet is found in its directory and read by column name."""
        table = pa.table(
            {
                "quote_id": ["q1"],
                "source_name": [DOC],
                "speaker_id": pa.array([None], pa.string()),
                "quote_text": [STATEMENT],
                "quote_type": ["direct"],
            }
        )
        pq.write_table(table, tmp_path / "quotes.parquet")
        expected = PredictedQuote(DOC, None, STATEMENT, "direct")
        assert load_predictions(tmp_path) == [expected]

    def test_report_and_cli(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`isnad evaluate` prints the headline numbers and both recall breakdowns."""
        table = pa.table({"source_name": [DOC], "speaker_id": ["kerry"],
                          "quote_text": [STATEMENT], "quote_type": ["indirect"]})  # fmt: skip
        pq.write_table(table, tmp_path / "quotes.parquet")
        gold_path = tmp_path / "gold.jsonl"
        gold_path.write_text(
            f'{{"doc": "{DOC}", "speaker": "lavrov", "type": "indirect", "cue": "قال", '
            f'"text": "{STATEMENT}"}}\n',
            encoding="utf-8",
        )

        code = cli.main(["evaluate", "--gold", str(gold_path), "--quotes", str(tmp_path)])

        printed = capsys.readouterr().out
        assert code == 0
        for label in ("precision", "recall", "f1", "wrong speaker  1", "spurious       0"):
            assert label in printed
        assert "recall by type:" in printed and "recall by speaker:" in printed
        assert printed.strip() == format_report(score(load_gold(gold_path),
                                                      load_predictions(tmp_path)))  # fmt: skip
