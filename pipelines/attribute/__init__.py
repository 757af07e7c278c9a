"""Attribution stage: an article's candidates become its quotation rows.

- :mod:`~pipelines.attribute.resolve`: each candidate's grammatical subject becomes speaker
  ids (:func:`attribute`), by name, office on a date, apposition, coreference or a dropped
  pronoun, with a method and a confidence (the method's × ``RULE_CONFIDENCE[rule]``).
- :mod:`~pipelines.attribute.rows`: :func:`attribute_quotes` makes one :class:`Quote` per
  (candidate, speaker), in raw offsets, with a stable :func:`quote_id`.
- :mod:`~pipelines.attribute.dedup`: :func:`deduplicate` keeps one row of a statement the
  article repeats.
"""

from pipelines.attribute.dedup import deduplicate
from pipelines.attribute.resolve import (
    METHOD_CONFIDENCE,
    RULE_CONFIDENCE,
    Attribution,
    FieldContext,
    attribute,
    resolve_subject,
)
from pipelines.attribute.rows import DetectedField, attribute_quotes, field_contexts, quote_id

__all__ = [
    "METHOD_CONFIDENCE",
    "RULE_CONFIDENCE",
    "Attribution",
    "DetectedField",
    "FieldContext",
    "attribute",
    "attribute_quotes",
    "deduplicate",
    "field_contexts",
    "quote_id",
    "resolve_subject",
]
