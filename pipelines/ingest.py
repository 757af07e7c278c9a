"""Read input files into Articles; bad inputs become quarantine rows, never guesses.

Inputs are directories (searched recursively) or single files of these kinds:

- ``*.txt``, ``*.html``, ``*.htm``: one article; ``source_name`` is the file name.
- ``*.jsonl``, ``*.jsonl.gz``, ``*.json.gz``: one JSON record a line.
- ``*.parquet``: one record a row.

A record has ``id`` and ``text`` and optionally ``title``, ``date``, ``source`` and ``url``;
``source_name`` is ``str(id)``.

Decoding never guesses (:func:`decode_bytes`): a BOM (UTF-8, UTF-16) decides; else strict
UTF-8; else UTF-16 without a BOM when the NUL bytes sit in every other position; else
Windows-1256, accepted only when most letters it yields are Arabic and the bytes are not
UTF-8 with a few bad bytes. Anything else is quarantined ``undecodable``. A JSONL file is
sniffed as a whole from its first 64 KiB. The encoding used is ``Article.encoding``.

HTML (``.html``/``.htm``, or a text or record text that starts like an HTML document or
holds many tags) is reduced to its plain text by :func:`html_to_text`: scripts and styles
dropped, entities decoded, block elements ending lines. That plain text *is* the article's
``text`` ("as read" for HTML means as extracted), with ``content_type`` "html", so every
offset points into it. Otherwise the text (and title) are kept exactly as decoded, with
no normalisation and no newline translation, because every offset in the output points
into them.

**Inputs seen** (the accounting of :class:`~pipelines.records.InputCounts`): each .txt or
.html file is one input, and so is a file of another kind named explicitly; each non-blank
JSONL line and each Parquet row is one input; a JSONL or Parquet file that is rejected as a
whole (binary, empty, no text column, cannot be opened) or cannot be read to its end counts
one input for what was not read. Each input seen becomes exactly one article, one
quarantine row, or one exact duplicate: ``article_id`` hashes title and text, so a second
copy of an article already read (one wire story in two papers) is counted as an exact
duplicate and dropped, while a record reusing an id already read with different content is
quarantined as ``duplicate_id``. Besides the store (which writes the dataset), this is the
only stage that touches the disk.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import hashlib
import io
import itertools
import json
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.records import Article, InputCounts

TEXT_SUFFIXES: tuple[str, ...] = (".txt",)
HTML_SUFFIXES: tuple[str, ...] = (".html", ".htm")
JSONL_SUFFIXES: tuple[str, ...] = (".jsonl", ".jsonl.gz", ".json.gz")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet",)
INPUT_SUFFIXES: tuple[str, ...] = TEXT_SUFFIXES + HTML_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES
# A .txt/.html file, a JSONL line or a record's text (UTF-8) larger than this is no article.
DEFAULT_MAX_BYTES = 5 * 1024 * 1024

# Quarantine reasons: one snake_case code for each way an input can be unusable.
EMPTY_FILE = "empty_file"  # a file with no bytes (a JSONL file with no line, Parquet no row)
TOO_LARGE = "too_large"  # a file, JSONL line or record text over the size limit
BINARY = "binary"  # NUL bytes that are not UTF-16, or control characters: not text at all
UNDECODABLE = "undecodable"  # not UTF-8/UTF-16, nor Arabic in Windows-1256: never guessed
MALFORMED_JSON = "malformed_json"  # a JSONL line that does not parse
NOT_A_RECORD = "not_a_record"  # a JSONL line that parses to something other than an object
MISSING_ID = "missing_id"  # a record without an id: nothing to key its output on
MISSING_TEXT = "missing_text"  # a record without a text string (or Parquet without the column)
EMPTY_TEXT = "empty_text"  # a text that is empty or only white space (markup only, for HTML)
NO_ARABIC = "no_arabic"  # a text without a single Arabic letter: not an Arabic article
DUPLICATE_ID = "duplicate_id"  # a record id already read, with different content
# A file that cannot be opened or read to its end (bad gzip, parquet), or no regular file.
UNREADABLE = "unreadable"
UNSUPPORTED = "unsupported_format"  # a file named on the command line that isn't an input kind
# An article whose own rows failed a critical row-level expectation (stream.run_batch).
FAILED_EXPECTATION = "failed_expectation"
QUARANTINE_REASONS: tuple[str, ...] = (
    EMPTY_FILE, TOO_LARGE, BINARY, UNDECODABLE, MALFORMED_JSON, NOT_A_RECORD, MISSING_ID,
    MISSING_TEXT, EMPTY_TEXT, NO_ARABIC, DUPLICATE_ID, UNREADABLE, UNSUPPORTED,
    FAILED_EXPECTATION,
)  # fmt: skip

QUARANTINE_KEYS: tuple[str, ...] = ("source_name", "input_path", "reason", "detail")

# A plausible ISO date in running text: 2015-07-21, not part of a longer number.
_TEXT_DATE = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})-([0-9]{2})-([0-9]{2})(?![0-9])")
_DMY_DATE = re.compile(r"(?<![0-9/])([0-9]{1,2})/([0-9]{1,2})/((?:19|20)[0-9]{2})(?![0-9/])")
# Month names: the Egyptian/Gulf (يناير ...) and the Levantine/Iraqi (كانون الثاني ...) series.
_ARABIC_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("يناير", "كانون الثاني"), ("فبراير", "شباط"), ("مارس", "آذار", "اذار"),
            ("أبريل", "ابريل", "إبريل", "نيسان"), ("مايو", "أيار", "ايار"),
            ("يونيو", "يونيه", "حزيران"), ("يوليو", "يوليه", "تموز"),
            ("أغسطس", "اغسطس", "آب", "اب"),
            ("سبتمبر", "أيلول", "ايلول"), ("أكتوبر", "اكتوبر", "تشرين الأول", "تشرين الاول"),
            ("نوفمبر", "تشرين الثاني"), ("ديسمبر", "كانون الأول", "كانون الاول"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH_NAMES = "|".join(
    sorted((re.escape(m).replace("\\ ", r"\s+") for m in _ARABIC_MONTHS), key=len, reverse=True)
)
# "1 تشرين الأول 2015", "18 ديسمبر/كانون الأول 2015"
_ARABIC_DATE = re.compile(
    rf"(?<![0-9])([0-9]{{1,2}})\s+({_MONTH_NAMES})(?:\s*/\s*(?:{_MONTH_NAMES}))?"
    r"\s+((?:19|20)[0-9]{2})(?![0-9])"
)
# A record's date field: "2015-07-21", "2015-07-21 10:00:00", "2015-07-21T10:00:00Z", "2015/7/21".
_RECORD_DATE = re.compile(r"^\s*([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})(?![0-9])")
# The one date policy, shared with the suites' parameters (validate.suite_parameters): a
# publication date lies between EARLIEST_PUBLISHED_DATE and the run's date plus one day.
EARLIEST_PUBLISHED_DATE = dt.date(1990, 1, 1)
DATE_SLACK = dt.timedelta(days=1)  # a run's UTC date may be a day behind the paper's zone
# date_origin of an article whose record gave a date outside that range: the date is null.
RECORD_DATE_REJECTED = "record_out_of_range"
_PARQUET_BATCH_ROWS = 1024
_SNIFF_BYTES = 64 * 1024  # how much of a JSONL file decides its encoding
_GZIP_MAGIC = b"\x1f\x8b"
# The fields a record is read for: a Parquet file's other columns are never converted.
_RECORD_FIELDS: tuple[str, ...] = ("id", "text", "title", "date", "source", "url")

# Letters of the Arabic script (Arabic, Supplement, presentation forms): not digits, marks
# or punctuation.
_ARABIC_LETTER = re.compile(
    "[\u0620-\u064a\u066e\u066f\u0671-\u06d3\u06d5\u06ee\u06ef\u06fa-\u06fc\u06ff"
    "\u0750-\u077f\ufb50-\ufbb1\ufbd3-\ufd3d\ufd50-\ufdc7\ufdf0-\ufdfb\ufe70-\ufefc]"
)
_LETTER = re.compile(r"[^\W\d_]")
_MARKUP = re.compile(r"<[^<>]*>|&#?\w+;")
# C0 controls other than the white space ones (\t \n \v \f \r), and DEL.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
_NON_ASCII = re.compile("[^\x00-\x7f\ufffd]")
# Windows-1256 is accepted only when at least this share of the letters it yields is Arabic.
MIN_ARABIC_LETTER_RATIO = 0.6
# A text is binary when more than this share of its characters are control characters.
MAX_CONTROL_RATIO = 0.01

# (byte order mark, encoding recorded, codec that decodes what follows the mark)
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why some bytes or a text cannot be an article: a quarantine reason and its detail."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class InputBatch:
    """A batch of articles, the quarantine rows found while filling it, and the accounting."""

    articles: list[Article]
    quarantine: list[dict[str, str]]
    counts: InputCounts


def make_article_id(text: str, title: str | None = None) -> str:
    """A stable, content-based id: the same title and text always give the same id."""
    return _article_id(text.encode("utf-8"), title.encode("utf-8") if title else None)


# --- decoding ------------------------------------------------------------------------------


def decode_bytes(raw: bytes, *, complete: bool = True) -> tuple[str, str] | Rejection:
    """``(text, encoding)`` for the bytes of a text, or the ``Rejection`` saying why not.

    In order: a byte order mark (UTF-8, UTF-16 LE/BE) decides; NUL bytes mean UTF-16 when
    they fall in every other byte, else binary; strict UTF-8; then Windows-1256 (``cp1256``),
    only if the bytes are not mostly valid UTF-8 and at least ``MIN_ARABIC_LETTER_RATIO`` of
    the letters it gives are Arabic. A text with NULs or many control characters is
    ``binary``; anything else ``undecodable``. ``complete=False`` reads ``raw`` as the start
    of a longer stream (a character cut at the end is not an error). The BOM is not kept.
    """
    for bom, encoding, codec in _BOMS:
        if raw.startswith(bom):
            try:
                text = _decode(raw[len(bom) :], codec, complete)
            except UnicodeDecodeError as exc:
                where = len(bom) + exc.start
                return Rejection(UNDECODABLE, f"{encoding} BOM, then {exc.reason} at byte {where}")
            return _unless_binary(text, encoding)
    if b"\x00" in raw:
        utf16 = _utf16_by_nul_pattern(raw)
        if utf16 is None:
            return Rejection(BINARY, f"{raw.count(0)} NUL bytes, not in the pattern of UTF-16")
        try:
            text = _decode(raw, utf16, complete)
        except UnicodeDecodeError as exc:
            return Rejection(BINARY, f"NUL bytes, and not {utf16}: {exc.reason}")
        return _unless_binary(text, utf16)
    try:
        return _unless_binary(_decode(raw, "utf-8", complete), "utf-8")
    except UnicodeDecodeError as exc:
        not_utf8 = f"not UTF-8 ({exc.reason} at byte {exc.start})"
    invalid, multibyte = _utf8_damage(raw)
    if multibyte >= invalid:
        # UTF-8 with a few broken bytes: read as Windows-1256 it would be mojibake (UTF-8's
        # lead bytes are the letters ط and ظ) that passes for Arabic, so it is refused.
        detail = f"{not_utf8}: {invalid} invalid sequence(s) among {multibyte} UTF-8 characters"
        return Rejection(UNDECODABLE, detail)
    text = raw.decode("cp1256")  # every byte has a character in Python's cp1256
    if (problem := _control_problem(text)) is not None:
        return Rejection(BINARY, problem)
    ratio = arabic_letter_ratio(text)
    if ratio < MIN_ARABIC_LETTER_RATIO:
        detail = f"{not_utf8}; as Windows-1256 only {ratio:.0%} of its letters are Arabic"
        return Rejection(UNDECODABLE, detail)
    return text, "cp1256"


def arabic_letter_ratio(text: str) -> float:
    """Share of Arabic letters among the letters of ``text`` (markup left out); 0 if none."""
    bare = _MARKUP.sub(" ", text)
    letters = len(_LETTER.findall(bare))
    return len(_ARABIC_LETTER.findall(bare)) / letters if letters else 0.0


def _decode(raw: bytes, codec: str, complete: bool) -> str:
    return codecs.getincrementaldecoder(codec)("strict").decode(raw, final=complete)


def _utf16_by_nul_pattern(raw: bytes) -> str | None:
    """utf-16-le/-be when NULs sit (almost) only at odd/even offsets, as ASCII in UTF-16 does."""
    body = raw[: len(raw) - len(raw) % 2]
    units = len(body) // 2
    at_even, at_odd = body[0::2].count(0), body[1::2].count(0)
    # Spaces, digits and punctuation are ASCII even in Arabic text: >= 5% of code units.
    if at_odd >= 0.05 * units and at_even <= 0.01 * at_odd:
        return "utf-16-le"
    if at_even >= 0.05 * units and at_odd <= 0.01 * at_even:
        return "utf-16-be"
    return None


def _utf8_damage(raw: bytes) -> tuple[int, int]:
    """(invalid sequences, valid multi-byte characters) when ``raw`` is read as UTF-8."""
    text = raw.decode("utf-8", errors="replace")
    return text.count("\ufffd"), len(_NON_ASCII.findall(text))


def _control_problem(text: str) -> str | None:
    n = len(_CONTROL.findall(text))
    if "\x00" in text or n > MAX_CONTROL_RATIO * len(text):
        return f"{n} control characters in {len(text)}"
    return None


def _unless_binary(text: str, encoding: str) -> tuple[str, str] | Rejection:
    problem = _control_problem(text)
    return (text, encoding) if problem is None else Rejection(BINARY, problem)


# --- HTML ----------------------------------------------------------------------------------

# Elements whose content is not article text.
_SKIPPED_ELEMENTS = frozenset(
    ("script", "style", "noscript", "template", "title", "svg", "iframe", "object")
)
# Elements that start and end a line of text.
_BLOCK_ELEMENTS = frozenset(
    (
        "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
        "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    )
)  # fmt: skip
_HTML_SPACE = re.compile("[ \t\n\r\f]+")  # HTML's white space: collapsed to one space
_HTML_START = re.compile(
    r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S
)
_HTML_TAG = re.compile(
    r"</?(?:a|article|b|body|br|div|em|h[1-6]|head|html|i|img|li|link|meta|ol|p|script"
    r"|section|span|strong|style|table|td|tr|ul)(?:\s[^<>]*)?/?>",
    re.I,
)
_MIN_HTML_TAGS = 5  # a plain text may quote a tag or two; five known tags is markup


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML document; block boundaries become newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # &#8220; and &quot; arrive decoded
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skip_depth += 1
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_ELEMENTS:  # <br/>: a self-closed element opens nothing
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(_HTML_SPACE.sub(" ", data))


def looks_like_html(text: str) -> bool:
    """True for an HTML document: a doctype or <html> first, or at least five known tags."""
    if _HTML_START.match(text):
        return True
    tags = itertools.islice(_HTML_TAG.finditer(text), _MIN_HTML_TAGS)
    return sum(1 for _ in tags) >= _MIN_HTML_TAGS


def html_to_text(markup: str) -> str:
    """The plain text of an HTML document, one line per block, as a browser would show it.

    Tags are stripped; script, style, noscript, template and title content is dropped;
    character references are decoded (``&#8220;`` is “); runs of HTML white space become
    one space; block elements (p, div, br, h1-h6, li, tr ...) end lines, and empty lines are
    dropped. A no-break space (``&nbsp;``) is kept as U+00A0.
    """
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = (line.strip(" ") for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


# --- finding and reading inputs -------------------------------------------------------------


def find_input_files(paths: Iterable[str | Path]) -> list[Path]:
    """The input files under ``paths``, in a stable order (each directory sorted).

    A file named explicitly is kept whatever its suffix (an unsupported one is quarantined
    when read); inside a directory only the input kinds are picked up. A FIFO, socket,
    device or dangling symlink, named or with an input kind's name in a directory, is kept
    too: it is an input, quarantined when read (never opened). A file reached twice (a
    relative and an absolute path, a symlink, a directory named twice or inside another) is
    listed once, under the path it was first reached by. A path that does not exist is a
    usage error and raises ``FileNotFoundError``.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    (p for p in path.rglob("*") if _input_kind(p) is not None and not p.is_dir()),
                    key=lambda p: p.relative_to(path).as_posix(),
                )
            )
        elif os.path.lexists(path):
            files.append(path)
        else:
            raise FileNotFoundError(f"input path does not exist: {raw}")
    seen: set[str] = set()
    unique: list[Path] = []
    for path in files:  # identity is the real path: read once, shown as first reached
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            unique.append(path)
    return unique


@dataclass
class _Tally:
    """Running counts since the last batch was cut (``take`` hands them over and resets)."""

    seen: int = 0
    articles: int = 0
    quarantined: int = 0
    exact_duplicates: int = 0
    seen_before: int = 0  # inputs seen in the batches already taken

    def take(self) -> InputCounts:
        counts = InputCounts(self.seen, self.articles, self.quarantined, self.exact_duplicates)
        self.seen_before += self.seen
        self.seen = self.articles = self.quarantined = self.exact_duplicates = 0
        return counts

    def seen_ever(self) -> int:
        return self.seen_before + self.seen

    def pending(self) -> bool:
        return bool(self.seen or self.articles or self.quarantined or self.exact_duplicates)


def run_date_today() -> dt.date:
    """The date of a run starting now, in UTC (what the flow's ``started_at`` gives)."""
    return dt.datetime.now(dt.UTC).date()


def latest_published_date(run_date: dt.date | None = None) -> dt.date:
    """The latest plausible publication date for a run on ``run_date`` (default today, UTC)."""
    return (run_date or run_date_today()) + DATE_SLACK


def plausible_date(day: dt.date, latest: dt.date) -> bool:
    """Whether ``day`` can be a publication date: from 1990 to ``latest``."""
    return EARLIEST_PUBLISHED_DATE <= day <= latest


def iter_batches(
    paths: Iterable[str | Path],
    batch_size: int = 500,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    run_date: dt.date | None = None,
) -> Iterator[InputBatch]:
    """Yield batches of at most ``batch_size`` articles, with their quarantine rows and counts.

    Files are read as a stream (JSONL line by line, Parquet in row groups), so memory
    depends on the batch size, not on the size of the corpus; per article only its short
    content id (and a record's id) is kept, to tell exact duplicates and reused ids. A
    quarantine row rides along with the batch being filled when it was found (a batch is
    also cut at ``batch_size`` quarantine rows); a batch may hold only quarantine rows, or
    only counts (exact duplicates at the end). The readers count each input as they take
    it (``inputs_seen``), independently of what it became, so the identity
    ``inputs_seen == articles + quarantined + exact_duplicates`` checks that none was lost.
    ``run_date`` (default today, UTC) bounds publication dates (:func:`plausible_date`).
    """
    latest = latest_published_date(run_date)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
    # article_id -> source_name of its first reading: the id is the content's hash.
    first_reading: dict[str, str] = {}
    # A record's id -> the article_id it was read with: an id names one article.
    record_ids: dict[str, str] = {}
    tally = _Tally()
    articles: list[Article] = []
    quarantine: list[dict[str, str]] = []
    for path in find_input_files(paths):
        is_record_file = _input_kind(path) in ("jsonl", "parquet")
        for item in _read_file(path, max_bytes, tally, latest):
            if isinstance(item, dict):
                quarantine.append(item)
                tally.quarantined += 1
            elif item.article_id in first_reading:
                # One story in two papers (or one file given twice): counted, not kept.
                tally.exact_duplicates += 1
            elif is_record_file and record_ids.get(item.source_name, item.article_id) != (
                item.article_id
            ):
                detail = (
                    f"id already read with different content "
                    f"(article {record_ids[item.source_name]}; this one {item.article_id})"
                )
                quarantine.append(_quarantine(item.source_name, path, DUPLICATE_ID, detail))
                tally.quarantined += 1
            else:
                first_reading[item.article_id] = item.source_name
                if is_record_file:
                    record_ids[item.source_name] = item.article_id
                articles.append(item)
                tally.articles += 1
            if len(articles) >= batch_size or len(quarantine) >= batch_size:
                yield InputBatch(articles, quarantine, tally.take())
                articles, quarantine = [], []
    if articles or quarantine or tally.pending():
        yield InputBatch(articles, quarantine, tally.take())


def iter_inputs(
    paths: Iterable[str | Path],
    batch_size: int = 500,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    run_date: dt.date | None = None,
) -> Iterator[tuple[list[Article], list[dict[str, str]]]]:
    """``(articles, quarantine_rows)`` of each batch of :func:`iter_batches`, without counts."""
    for batch in iter_batches(paths, batch_size, max_bytes=max_bytes, run_date=run_date):
        if batch.articles or batch.quarantine:
            yield batch.articles, batch.quarantine


def parse_record_date(value: Any) -> dt.date | None:
    """A record's ``date`` as a date: ISO-ish strings, date/datetime objects; else None.
    Any calendar date is returned: whether it is plausible is :func:`plausible_date`'s call."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        match = _RECORD_DATE.match(value)
        return _make_date(*match.groups()) if match else None
    return None


def find_text_date(text: str, latest: dt.date | None = None) -> dt.date | None:
    """The first plausible date written in the text, if any: ISO (2015-09-30),
    day/month/year (30/09/2015), or an Arabic date with the month named in either calendar
    of month names ("30 سبتمبر 2015"، "1 تشرين الأول 2015"). Plausible: from 1990 to
    ``latest`` (default :func:`latest_published_date` of today); a later date is an event
    the article announces ("elections on 15 May 2028"), not its date, and is skipped."""
    latest = latest or latest_published_date()
    found: list[tuple[int, dt.date]] = []
    for match in _TEXT_DATE.finditer(text):
        day = _make_date(*match.groups())
        if day is not None and plausible_date(day, latest):
            found.append((match.start(), day))
            break
    for match in _DMY_DATE.finditer(text):
        day = _make_date(match.group(3), match.group(2), match.group(1))
        if day is not None and plausible_date(day, latest):
            found.append((match.start(), day))
            break
    for match in _ARABIC_DATE.finditer(text):
        month = _ARABIC_MONTHS[re.sub(r"\s+", " ", match.group(2))]
        day = _make_date(match.group(3), str(month), match.group(1))
        if day is not None and plausible_date(day, latest):
            found.append((match.start(), day))
            break
    return min(found)[1] if found else None


def article_date(record_date: Any, text: str, latest: dt.date) -> tuple[dt.date | None, str | None]:
    """``(published_date, date_origin)`` of an article: the record's date when it parses and
    is plausible; null with ``RECORD_DATE_REJECTED`` when it parses but is not (after the
    run's date, or before 1990: kept out of the data, the reason in it); else the text's
    first plausible date; else none."""
    day = parse_record_date(record_date)
    if day is not None:
        return (day, "record") if plausible_date(day, latest) else (None, RECORD_DATE_REJECTED)
    day = find_text_date(text, latest)
    return day, "text" if day else None


def _make_date(year: str, month: str, day: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:  # 2015-02-30, month 13 ...
        return None


def _input_kind(path: Path) -> str | None:
    name = path.name.lower()
    for kind, suffixes in (
        ("text", TEXT_SUFFIXES),
        ("html", HTML_SUFFIXES),
        ("jsonl", JSONL_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
    ):
        if name.endswith(suffixes):
            return kind
    return None


def _quarantine(source_name: str, path: Path, reason: str, detail: str) -> dict[str, str]:
    return {
        "source_name": _storable(source_name),
        "input_path": _storable(str(path)),
        "reason": reason,
        "detail": _storable(detail),
    }


def _storable(name: str) -> str:
    """``name`` with lone surrogates written as ``\\udcff``: a file name that is not UTF-8
    (Python keeps its bytes as surrogates) cannot be stored in Arrow as it is."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _read_file(
    path: Path, max_bytes: int, tally: _Tally, latest: dt.date
) -> Iterator[Article | dict[str, str]]:
    """Each input of the file as an Article or a quarantine row; ``tally.seen`` counts them.

    Whatever goes wrong while reading the file costs the file's rest, never the run: an
    exception a reader did not foresee becomes one ``unreadable`` row, which also stands for
    an input counted but not yet yielded when it was raised, so the accounting still holds.
    """
    not_regular = _not_a_regular_file(path)
    if not_regular is not None:
        tally.seen += 1  # one input, never opened: a FIFO would block the run for ever
        yield _quarantine(path.name, path, UNREADABLE, not_regular)
        return
    seen_at_start, yielded = tally.seen_ever(), 0
    try:
        for item in _read_by_kind(path, max_bytes, tally, latest):
            yielded += 1
            yield item
    except Exception as exc:  # the per-file guard: this file's row, never the run's end
        pending = tally.seen_ever() - seen_at_start - yielded
        tally.seen += 1 - min(pending, 1)
        detail = f"failed after {yielded} input(s): {type(exc).__name__}: {exc}"
        yield _quarantine(path.name, path, UNREADABLE, detail[:1000])


def _not_a_regular_file(path: Path) -> str | None:
    """Why ``path`` is not to be opened (a FIFO, socket, device, dangling symlink), if so."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if path.is_symlink():
            return f"a symbolic link whose target cannot be reached: {exc.strerror}"
        return f"cannot stat: {exc}"
    if stat.S_ISREG(mode):
        return None
    kind = (
        "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a directory" if stat.S_ISDIR(mode)
        else "not a regular file"
    )  # fmt: skip
    return f"{kind}, not a regular file: not opened"


def _read_by_kind(
    path: Path, max_bytes: int, tally: _Tally, latest: dt.date
) -> Iterator[Article | dict[str, str]]:
    kind = _input_kind(path)
    if kind == "jsonl":
        yield from _read_jsonl_file(path, max_bytes, tally, latest)
    elif kind == "parquet":
        yield from _read_parquet_file(path, max_bytes, tally, latest)
    else:
        tally.seen += 1  # a text or HTML file, or a file of no input kind: one input
        if kind in ("text", "html"):
            yield _read_text_file(path, kind == "html", max_bytes, latest)
        else:
            detail = f"not one of {', '.join(INPUT_SUFFIXES)}"
            yield _quarantine(path.name, path, UNSUPPORTED, detail)


def _text_problem(text: str) -> Rejection | None:
    """Why a decoded (and, for HTML, extracted) text is no article, if it is not."""
    if not text.strip():
        return Rejection(EMPTY_TEXT, "no text (only white space, or only markup)")
    if not _ARABIC_LETTER.search(text):
        return Rejection(NO_ARABIC, f"no Arabic letter in {len(text)} characters")
    return None


def _read_text_file(
    path: Path, is_html: bool, max_bytes: int, latest: dt.date
) -> Article | dict[str, str]:
    try:
        with open(path, "rb") as stream:
            raw = stream.read(max_bytes + 1)  # no more than the limit (and one byte) in memory
    except OSError as exc:
        return _quarantine(path.name, path, UNREADABLE, str(exc))
    if not raw:
        return _quarantine(path.name, path, EMPTY_FILE, "the file has no bytes")
    if len(raw) > max_bytes:
        return _quarantine(path.name, path, TOO_LARGE, f"more than {max_bytes} bytes")
    decoded = decode_bytes(raw)
    if isinstance(decoded, Rejection):
        return _quarantine(path.name, path, decoded.reason, decoded.detail)
    text, encoding = decoded  # bytes as they are: no newline translation
    content_type = "html" if is_html or looks_like_html(text) else "text"
    if content_type == "html":
        text = html_to_text(text)
    problem = _text_problem(text)
    if problem is not None:
        return _quarantine(path.name, path, problem.reason, problem.detail)
    day = find_text_date(text, latest)
    return Article(
        article_id=make_article_id(text),
        source_name=_storable(path.name),
        text=text,
        published_date=day,
        date_origin="text" if day else None,
        input_path=_storable(str(path)),
        encoding=encoding,
        content_type=content_type,
    )


def _sniff_jsonl_encoding(head: bytes) -> str | Rejection:
    """The encoding of a JSONL file from its first bytes; a Rejection if it is binary.

    When the start is undecodable, lines are read as UTF-8 one by one, so each line that is
    not is quarantined on its own (and counted as its own input).
    """
    decoded = decode_bytes(head, complete=False)
    if isinstance(decoded, Rejection):
        return decoded if decoded.reason == BINARY else "utf-8"
    return decoded[1]


def _jsonl_lines(
    stream: IO[bytes], encoding: str, max_bytes: int
) -> Iterator[tuple[int, str | Rejection]]:
    """(line number, decoded line or why not) for each non-blank line of a JSONL stream.

    Lines are read with a size cap (``readline(max_bytes + 1)``): a longer line is skipped
    to its end and reported ``too_large`` instead of being held in memory whole. A BOM at
    the start of the first line is dropped.
    """
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    wide = codec.startswith("utf-16")
    # UTF-16 lines are not split at b"\n": decode the stream (a bad pair raises, below).
    source: IO[Any] = (
        io.TextIOWrapper(stream, encoding=codec, errors="strict", newline="\n") if wide else stream
    )
    newline: str | bytes = "\n" if wide else b"\n"
    limit = max_bytes // 2 if wide else max_bytes  # UTF-16: two bytes a code unit
    for line_no in itertools.count(1):
        raw = source.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(newline):
            while (rest := source.readline(1 << 20)) and not rest.endswith(newline):
                pass
            yield line_no, Rejection(TOO_LARGE, f"more than {max_bytes} bytes")
            continue
        if isinstance(raw, str):
            line = raw
        else:
            try:
                line = raw.decode(codec)
            except UnicodeDecodeError as exc:
                yield line_no, Rejection(UNDECODABLE, f"{exc.reason} at byte {exc.start}")
                continue
        if line_no == 1:
            line = line.removeprefix("\ufeff")
        if line.strip():  # blank lines (a trailing newline) are not records
            yield line_no, line


class _GzipMembers(io.RawIOBase):
    """The decompressed bytes of a gzip file, as ``gzip -dc`` gives them: member after
    member, NUL padding between them skipped. Bytes after the last member that start no new
    one end the stream and are counted in ``trailing`` instead of raising, so every record
    before them is read; a stream cut short or corrupt inside a member still raises."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._inflater = zlib.decompressobj(wbits=31)  # 16 + 15: gzip header and trailer
        self._pending = b""  # compressed bytes read but not yet given to the inflater
        self._started = False  # the current member has had input
        self._done = False
        self.trailing = 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        while not self._done:
            if self._inflater.eof:
                self._next_member(self._inflater.unused_data)
                continue
            data = self._pending or self._inflater.unconsumed_tail or self._raw.read(1 << 17)
            self._pending = b""
            if not data:
                if self._started:
                    raise EOFError("compressed file ended before the end of its stream")
                self._done = True
                break
            if not self._started and not data.startswith(_GZIP_MAGIC) and len(data) >= 2:
                raise gzip.BadGzipFile(f"not a gzipped file ({data[:2]!r})")
            self._started = True
            out = self._inflater.decompress(data, size)
            if out:
                buffer[: len(out)] = out
                return len(out)
        return 0

    def _next_member(self, rest: bytes) -> None:
        """After a member: another one, the end, or trailing garbage (counted, not read)."""
        while len(rest := rest.lstrip(b"\0")) < 2 and (more := self._raw.read(1 << 17)):
            rest += more
        self._inflater = zlib.decompressobj(wbits=31)
        self._started = False
        if rest.startswith(_GZIP_MAGIC):
            self._pending = rest
            return
        self._done = True
        if rest:
            self.trailing = len(rest) + sum(map(len, iter(lambda: self._raw.read(1 << 20), b"")))


def _open_jsonl(path: Path) -> io.BufferedReader:
    stream = open(path, "rb")  # noqa: SIM115 - returned to the caller's with
    if not path.name.lower().endswith(".gz"):
        return stream
    return io.BufferedReader(_GzipMembers(stream), buffer_size=1 << 16)


def _read_head(path: Path, size: int) -> bytes:
    """Up to ``size`` first bytes of a JSONL file, as many as can be read: a damaged stream is
    reported where the line pass meets the damage, after every record before it."""
    chunks: list[bytes] = []
    with _open_jsonl(path) as stream:
        try:
            while size > 0 and (chunk := stream.read1(size)):
                chunks.append(chunk)
                size -= len(chunk)
        except (OSError, EOFError, zlib.error):
            pass
    return b"".join(chunks)


def _read_jsonl_file(
    path: Path, max_bytes: int, tally: _Tally, latest: dt.date
) -> Iterator[Article | dict[str, str]]:
    line_no = 0
    records = 0
    try:
        encoding = _sniff_jsonl_encoding(_read_head(path, _SNIFF_BYTES))
        if isinstance(encoding, Rejection):
            tally.seen += 1  # the whole file is one input
            detail = f"the whole file: {encoding.detail}"
            yield _quarantine(path.name, path, encoding.reason, detail)
            return
        with _open_jsonl(path) as stream:
            for line_no, line in _jsonl_lines(stream, encoding, max_bytes):
                tally.seen += 1
                records += 1
                where = f"{path.name}:{line_no}"
                if isinstance(line, Rejection):
                    detail = f"line {line_no}: {line.detail}"
                    yield _quarantine(where, path, line.reason, detail)
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield _quarantine(where, path, MALFORMED_JSON, f"line {line_no}: {exc.msg}")
                    continue
                except RecursionError:
                    detail = f"line {line_no}: nested too deeply to parse"
                    yield _quarantine(where, path, MALFORMED_JSON, detail)
                    continue
                except ValueError as exc:  # an integer of more than 4300 digits
                    detail = f"line {line_no}: {str(exc).partition(';')[0]}"
                    yield _quarantine(where, path, MALFORMED_JSON, detail)
                    continue
                if not isinstance(record, dict):
                    kind = type(record).__name__
                    yield _quarantine(where, path, NOT_A_RECORD, f"line {line_no}: a JSON {kind}")
                    continue
                yield _record_to_article(record, path, where, encoding, max_bytes, latest)
            trailing = getattr(stream.raw, "trailing", 0)  # _GzipMembers' count, or none
        if trailing:
            tally.seen += 1  # the damaged tail is one input
            detail = (
                f"trailing garbage after the gzip stream ({trailing} bytes), after line "
                f"{line_no}: {records} record(s) read"
            )
            yield _quarantine(path.name, path, UNREADABLE, detail)
        elif records == 0:
            tally.seen += 1
            yield _quarantine(path.name, path, EMPTY_FILE, "no JSON line in the file")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        # gzip.BadGzipFile is an OSError; a truncated stream raises EOFError; a UTF-16 stream
        # with a broken pair raises UnicodeDecodeError. What is left is one input.
        tally.seen += 1
        reason = UNDECODABLE if isinstance(exc, UnicodeDecodeError) else UNREADABLE
        detail = f"after line {line_no}: {exc or type(exc).__name__}"
        yield _quarantine(path.name, path, reason, detail)


def _read_parquet_file(
    path: Path, max_bytes: int, tally: _Tally, latest: dt.date
) -> Iterator[Article | dict[str, str]]:
    row_no = 0
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        if "text" not in names:
            tally.seen += 1  # the whole file is one input
            yield _quarantine(path.name, path, MISSING_TEXT, "the file has no text column")
            return
        fields = [name for name in _RECORD_FIELDS if name in names]
        for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=fields):
            columns = [_column_values(batch.column(i)) for i in range(batch.num_columns)]
            names = batch.schema.names
            for values in zip(*columns, strict=True):
                record = dict(zip(names, values, strict=True))
                row_no += 1
                tally.seen += 1
                where = f"{path.name}:{row_no}"
                yield _record_to_article(record, path, where, "utf-8", max_bytes, latest)
        if row_no == 0:
            tally.seen += 1
            yield _quarantine(path.name, path, EMPTY_FILE, "the file has no rows")
    except (OSError, pa.ArrowException) as exc:  # not Parquet, truncated, corrupt
        tally.seen += 1  # the rest of the file (all of it, if it did not open) is one input
        yield _quarantine(path.name, path, UNREADABLE, f"after row {row_no}: {exc}")


def _column_values(column: pa.Array) -> list[Any]:
    """A column's values in Python; one that Python cannot hold (a date32 or timestamp
    beyond year 9999, a huge duration) becomes Arrow's string of it, or else None."""
    try:
        return column.to_pylist()
    except (ArithmeticError, ValueError, pa.ArrowException):
        return [_scalar_value(scalar) for scalar in column]


def _scalar_value(scalar: pa.Scalar) -> Any:
    try:
        return scalar.as_py()
    except (ArithmeticError, ValueError, pa.ArrowException):
        pass
    try:
        return scalar.cast(pa.string()).as_py()
    except (ArithmeticError, ValueError, pa.ArrowException):
        return None


def _record_to_article(
    record: Mapping[str, Any],
    path: Path,
    where: str,
    encoding: str,
    max_bytes: int,
    latest: dt.date,
) -> Article | dict[str, str]:
    """One JSON/Parquet record as an Article, or the quarantine row saying why not."""
    record_id, text = record.get("id"), record.get("text")
    if isinstance(record_id, (list, dict)):  # a structure names nothing (nor prints safely)
        detail = f"id is a {'list' if isinstance(record_id, list) else 'JSON object'}"
        return _quarantine(where, path, MISSING_ID, detail)
    title = record.get("title")
    title = title if isinstance(title, str) and title else None
    source, url = _optional_str(record.get("source")), _optional_str(record.get("url"))
    source_name = None if record_id is None or record_id == "" else str(record_id)
    encoded: dict[str, bytes] = {}  # the text is encoded once: checked, measured, hashed
    for name, value in (("id", source_name), ("text", text), ("title", title),
                        ("source", source), ("url", url)):  # fmt: skip
        if isinstance(value, str):
            try:
                encoded[name] = value.encode("utf-8")
            except UnicodeEncodeError:  # JSON's "\ud800": a lone surrogate
                detail = f"{name} holds a lone surrogate: not Unicode text"
                return _quarantine(where, path, UNDECODABLE, detail)
    if source_name is None:
        return _quarantine(where, path, MISSING_ID, "the record has no id")
    if not isinstance(text, str):
        return _quarantine(source_name, path, MISSING_TEXT, f"text is {type(text).__name__}")
    size = len(encoded["text"])
    if size > max_bytes:
        detail = f"text of {size} bytes, more than {max_bytes}"
        return _quarantine(source_name, path, TOO_LARGE, detail)
    # A NUL is never text (a .txt with one is binary too); other control characters are
    # left to the text's reader: scraped news has stray ones (SaudiNewsNet: \x1a bullets).
    for name in ("text", "title"):
        if b"\0" in encoded.get(name, b""):
            detail = f"{name} holds {encoded[name].count(0)} NUL character(s): not text"
            return _quarantine(source_name, path, BINARY, detail)
    content_type = "html" if looks_like_html(text) else "text"
    if content_type == "html":
        text = html_to_text(text)
        encoded["text"] = text.encode("utf-8")
    problem = _text_problem(text)
    if problem is not None:
        return _quarantine(source_name, path, problem.reason, problem.detail)
    day, origin = article_date(record.get("date"), text, latest)
    return Article(
        article_id=_article_id(encoded["text"], encoded.get("title")),
        source_name=source_name,
        text=text,
        title=title,
        published_date=day,
        date_origin=origin,
        source=source,
        url=url,
        input_path=_storable(str(path)),
        encoding=encoding,
        content_type=content_type,
    )


def _article_id(text: bytes, title: bytes | None) -> str:
    """:func:`make_article_id` from the UTF-8 bytes (a record's text is encoded once, for its
    checks and this): SHA-256 of title, 0x1F, text; its first 16 hex digits."""
    digest = hashlib.sha256(title or b"")
    digest.update(b"\x1f")
    digest.update(text)
    return digest.hexdigest()[:16]


def _optional_str(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, (list, dict)):
        return None  # a structure is no name nor address (and may nest too deep to print)
    return str(value)
