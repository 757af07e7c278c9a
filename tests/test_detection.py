"""The detection stage's structure: detection returns its candidates, frames and candidates are
typed and frozen, and every rule name a candidate carries is a declared one."""

from __future__ import annotations

import dataclasses

import pytest

from pipelines.analyse import clean_article, segment_article
from pipelines.quotes import Candidate, Frame, detect, detect_field
from pipelines.records import RULE_NAMES, Article, SubjectMode
from pipelines.speakers import find_mentions
from pipelines.subjects import FieldView

TEXT = (
    "وقال وزير الخارجية الروسي سيرغي لافروف إن موسكو ستواصل دعم الحل السياسي.\n"
    'وأضاف: "لن نسمح بتكرار ما حدث في ليبيا تحت أي ظرف".'
)


def _field():
    seg = segment_article(clean_article(Article("a", "a", TEXT)))
    (f,), (units,) = seg.cleaned.fields, seg.units
    return f.clean.text, list(units)


def test_detect_field_returns_its_candidates() -> None:
    """detect_field returns the field's candidates (it used to return None and fill a state)."""
    text, units = _field()
    found = detect_field(text, "text", units, find_mentions(text))
    assert isinstance(found, tuple) and len(found) == 2
    assert all(isinstance(c, Candidate) for c in found)
    assert [c.rule for c in found] == ["cue_comp", "cue_quote"]
    assert [c.subject.mode for c in found] == [SubjectMode.EXPLICIT, SubjectMode.PRODROP]
    assert found[1].subject.antecedent == found[0].subject
    view = FieldView.of(text, "text", units, find_mentions(text))
    assert detect(view) == found


def test_frames_and_views_are_frozen() -> None:
    """A rule's frame and the field view the rules read cannot be changed by a rule."""
    text, units = _field()
    frame = Frame(0, 4, 5, 9, "indirect", "cue_comp", 9)
    view = FieldView.of(text, "text", units, find_mentions(text))
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.rule = "cue_quote"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.text = ""  # type: ignore[misc]


def test_candidates_carry_declared_rule_names() -> None:
    text, units = _field()
    found = detect_field(text, "text", units, find_mentions(text))
    assert found and all(c.rule in RULE_NAMES for c in found)
