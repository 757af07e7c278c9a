"""Frozen records passed between isnad's stages.

Every span is stored as ``(field, start, end, text)`` with end-exclusive character offsets
into the article's field *as read* (``Article.text`` or ``Article.title``), so each span can
check itself: ``getattr(article, field)[start:end] == text``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter
from typing import Literal, get_args

QuoteType = Literal["direct", "indirect", "mixed", "nominal", "headline"]
QUOTE_TYPES: tuple[QuoteType, ...] = get_args(QuoteType)
# The detection rule that fired, as written in the dataset's ``rule`` column.
RuleName = Literal[
    "headline_colon",  # "كيري: كان لقاؤنا مثمرا" (a title or subheading)
    "according_to",  # "وبحسب لافروف، فإن ..."
    "cue_quote",  # "وقال لافروف: «...»"
    "cue_quote_unclosed",  # "وقال لافروف: «... (never closed)
    "cue_colon_unmarked",  # "وقال كيري: نحن نعمل ..." (no quotation marks)
    "cue_colon_paragraph",  # "وقال لافروف:" + a quoted paragraph after it
    "cue_comp",  # "وأكد لافروف أن ..."
    "cue_comp_quote",  # "وأكد لافروف أن «...»" (the clause is one quotation)
    "cue_comp_mixed",  # "وأكد لافروف أن ... «...» ..." (a quoted fragment inside)
    "cue_nominal",  # "وشدد كيري على ضرورة ..."
    "cue_first_person",  # "وقال لقد ناقشنا ..."
    "cue_comma_first_person",  # "وقال كيري، اتفقنا على ..."
    "according_after",  # "...، على حد تعبير لافروف" (the content before)
    "cue_after_quote",  # "«...»، قال لافروف"
    "cue_after_content",  # "...، بحسب ما أعلن لافروف"
    "title_object",  # title "شويغو يعلن انتهاء العمليات" (present-tense cue + its object)
]
RULE_NAMES: tuple[RuleName, ...] = get_args(RuleName)


class MentionKind(StrEnum):
    """How a text refers to a person (speakers.find_mentions)."""

    NAME = "name"  # a registry speaker's surname, with or without first name or office
    WEAK_NAME = "weak_name"  # a surname that is also a common word: "المعلم"
    ROLE = "role"  # an office: "وزير الخارجية الروسي"
    GENERIC = "generic"  # "الوزير"، "الوزير الروسي"
    COUNTERPART = "counterpart"  # "نظيره الأمريكي"
    LATTER = "latter"  # "الأخير"
    PERSON = "person"  # someone else's title: "الرئيس"، "المتحدث"


class SubjectMode(StrEnum):
    """What a cue's grammar says about its speaker, before resolution (quotes.Subject)."""

    EXPLICIT = "explicit"  # a mention right after the verb: "وقال لافروف"
    OTHER = "other"  # someone who is not a known mention: "وقال الرئيس أوباما"
    PRODROP = "prodrop"  # a dropped subject: "وأضاف أن"
    PARTICIPLE = "participle"  # the governing clause's subject: "، مضيفا أن"
    HEADLINE = "headline"  # "كيري: ..." as a title
    SVO = "svo"  # the subject before the verb: "غير أن كيري أكد"
    ACCORDING = "according"  # "وبحسب كيري"


ATTRIBUTION_METHODS: tuple[str, ...] = (
    "name",  # the speaker's name (or a spelling variant) is the subject of the cue
    "alias",  # a short or partial name form ("الوزير المعلم", "جون كير")
    "role",  # a role resolved through the speaker registry and the article's date
    "role_bound",  # a role the article itself bound to a name by apposition
    "coreference",  # "الأخير", "نظيره ...": resolved to an earlier mention
    "continuation",  # pro-drop: "وأضاف أن ..." continues the last speaker
    "headline",  # "Name: statement" title or subheading
    "other",  # a subject that is no registry speaker (speaker_id is null)
)
FIELDS: tuple[str, ...] = ("text", "title")


@dataclass(frozen=True, slots=True)
class Article:
    """One input article as read: the unit every table keys on."""

    article_id: str  # stable hash of the content (title + text)
    source_name: str  # file name for a .txt input, the record's id otherwise
    text: str
    title: str | None = None
    published_date: dt.date | None = None
    # "record", "text", None; "record_out_of_range": the record's date was implausible (nulled)
    date_origin: str | None = None
    source: str | None = None  # the newspaper, when the record names it
    url: str | None = None
    input_path: str | None = None
    encoding: str | None = None
    content_type: str | None = None  # "text", or "html" when text was extracted from markup

    def __reduce__(self) -> tuple[type, tuple]:
        # Batches travel pickled to worker processes; a slotted dataclass pickles through a
        # per-field getstate/setstate, ~3x slower both ways than its positional arguments.
        return (Article, _article_values(self))


_article_values = attrgetter(*(f.name for f in fields(Article)))


@dataclass(frozen=True, slots=True)
class DroppedSpan:
    """A region left out of analysis (site furniture, a repeated body) and why."""

    field: str
    start: int
    end: int
    reason: str  # "comments", "furniture_line", "currency_table", "link_list", "repeat", ...


@dataclass(frozen=True, slots=True)
class Sentence:
    article_id: str
    field: str
    sentence_index: int  # running index over the article (title first)
    paragraph_index: int
    char_start: int
    char_end: int
    text: str


@dataclass(frozen=True, slots=True)
class Quote:
    quote_id: str
    article_id: str
    source_name: str
    field: str
    speaker_id: str | None  # a speaker of the registry in use, or None for anyone else
    speaker_mention: str | None
    mention_start: int | None
    mention_end: int | None
    quote_text: str
    char_start: int
    char_end: int
    quote_type: str
    cue: str
    cue_start: int | None
    cue_end: int | None
    attribution_method: str
    rule: str  # the detection rule that fired
    confidence: float
    sentence_index: int
    published_date: dt.date | None


@dataclass(frozen=True, slots=True)
class ArticleAnalysis:
    """Everything the text stages learn about one article."""

    article: Article
    sentences: tuple[Sentence, ...] = ()
    quotes: tuple[Quote, ...] = ()
    dropped: tuple[DroppedSpan, ...] = ()
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class InputCounts:
    """What ingest made of its inputs (one batch, or a whole run).

    Every input seen ends as exactly one of: an article, a quarantine row, an exact
    duplicate of an article already read in the run (counted, not kept), or (in an
    incremental run) an input whose article or quarantine row an earlier run already
    published (``already_published``: counted, skipped), so
    ``inputs_seen == articles + quarantined + exact_duplicates + already_published``.
    Ingest itself never counts ``already_published``; ``incremental.skip_published`` does.
    """

    inputs_seen: int = 0
    articles: int = 0
    quarantined: int = 0
    exact_duplicates: int = 0
    already_published: int = 0

    def __add__(self, other: InputCounts) -> InputCounts:
        return InputCounts(
            self.inputs_seen + other.inputs_seen,
            self.articles + other.articles,
            self.quarantined + other.quarantined,
            self.exact_duplicates + other.exact_duplicates,
            self.already_published + other.already_published,
        )
