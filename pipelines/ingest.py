"""Read input files into Articles; bad inputs become quarantine rows, never guesses.

Inputs are directories (searched recursively) or single files of these kinds:

- ``*.txt``: one article, UTF-8 (a BOM is stripped); ``source_name`` is the file name.
- ``*.jsonl``, ``*.jsonl.gz``, ``*.json.gz``: one JSON record a line.
- ``*.parquet``: one record a row.

A record has ``id`` and ``text`` and optionally ``title``, ``date``, ``source`` and ``url``;
``source_name`` is ``str(id)``. The text (and title) are kept exactly as decoded, with no
normalisation and no newline translation, because every offset in the output points into
them. ``article_id`` hashes title and text, so a second copy of an article already read
(one wire story in two papers) is quarantined as ``duplicate`` rather than given the same
key twice. Alongside ``write``, this is the only stage that touches the disk.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.records import Article

TEXT_SUFFIXES: tuple[str, ...] = (".txt",)
JSONL_SUFFIXES: tuple[str, ...] = (".jsonl", ".jsonl.gz", ".json.gz")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet",)
INPUT_SUFFIXES: tuple[str, ...] = TEXT_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES

# Quarantine reasons: one word for each way an input can be unusable.
UNDECODABLE = "undecodable"  # bytes that are not UTF-8: never guessed at
MALFORMED_JSON = "malformed_json"  # a JSONL line that does not parse
NOT_A_RECORD = "not_a_record"  # a JSONL line that parses to something other than an object
MISSING_ID = "missing_id"  # a record without an id: nothing to key its output on
MISSING_TEXT = "missing_text"  # a record without a text string
EMPTY_TEXT = "empty_text"  # a text that is empty or only white space
UNREADABLE = "unreadable"  # a file that cannot be opened or read to its end (bad gzip, parquet)
UNSUPPORTED = "unsupported_format"  # a file named on the command line that isn't an input kind
DUPLICATE = "duplicate"  # same title and text as an article read before: same article_id

QUARANTINE_KEYS: tuple[str, ...] = ("source_name", "input_path", "reason", "detail")

_BOM = b"\xef\xbb\xbf"
# A plausible ISO date in running text: 2015-07-21, not part of a longer number.
_TEXT_DATE = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})-([0-9]{2})-([0-9]{2})(?![0-9])")
# A record's date field: "2015-07-21", "2015-07-21 10:00:00", "2015-07-21T10:00:00Z", "2015/7/21".
_RECORD_DATE = re.compile(r"^\s*([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})(?![0-9])")
_YEARS = range(1990, 2036)
_PARQUET_BATCH_ROWS = 1024


def make_article_id(text: str, title: str | None = None) -> str:
    """A stable, content-based id: the same title and text always give the same id."""
    digest = hashlib.sha256(((title or "") + "\x1f" + text).encode("utf-8"))
    return digest.hexdigest()[:16]


def find_input_files(paths: Iterable[str | Path]) -> list[Path]:
    """The input files under ``paths``, in a stable order (each directory sorted).

    A file named explicitly is kept whatever its suffix (an unsupported one is quarantined
    when read); inside a directory only the input kinds are picked up. A path that does not
    exist is a usage error and raises ``FileNotFoundError``.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    (p for p in path.rglob("*") if p.is_file() and _input_kind(p) is not None),
                    key=lambda p: p.relative_to(path).as_posix(),
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"input path does not exist: {raw}")
    return files


def iter_inputs(
    paths: Iterable[str | Path], batch_size: int = 500
) -> Iterator[tuple[list[Article], list[dict[str, str]]]]:
    """Yield ``(articles, quarantine_rows)`` batches of at most ``batch_size`` articles.

    Files are read as a stream (JSONL line by line, Parquet in row groups), so memory
    depends on the batch size, not on the size of the corpus; only one short id per article
    is kept, to quarantine a second copy of the same content as ``duplicate``. A quarantine
    row rides along with the batch being filled when it was found (a batch is also cut at
    ``batch_size`` quarantine rows); a batch may hold only quarantine rows.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    # article_id -> source_name of its first reading. The id is the content's hash, so a
    # second copy (one wire story in two papers) would be a second row with the same key.
    seen: dict[str, str] = {}
    articles: list[Article] = []
    quarantine: list[dict[str, str]] = []
    for path in find_input_files(paths):
        for item in _read_file(path):
            if isinstance(item, dict):
                quarantine.append(item)
            elif item.article_id in seen:
                detail = f"same title and text as {seen[item.article_id]}"
                quarantine.append(_quarantine(item.source_name, path, DUPLICATE, detail))
            else:
                seen[item.article_id] = item.source_name
                articles.append(item)
            if len(articles) >= batch_size or len(quarantine) >= batch_size:
                yield articles, quarantine
                articles, quarantine = [], []
    if articles or quarantine:
        yield articles, quarantine


def read_inputs(paths: Iterable[str | Path]) -> tuple[list[Article], list[dict[str, str]]]:
    """All articles and quarantine rows under ``paths`` at once (tests, notebooks)."""
    articles: list[Article] = []
    quarantine: list[dict[str, str]] = []
    for batch_articles, batch_quarantine in iter_inputs(paths, batch_size=10_000):
        articles.extend(batch_articles)
        quarantine.extend(batch_quarantine)
    return articles, quarantine


def parse_record_date(value: Any) -> dt.date | None:
    """A record's ``date`` as a date: ISO-ish strings, date/datetime objects; else None."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        match = _RECORD_DATE.match(value)
        day = _make_date(*match.groups()) if match else None
    else:
        day = None
    return day if day is not None and day.year in _YEARS else None


def find_text_date(text: str) -> dt.date | None:
    """The first valid ISO date (YYYY-MM-DD, 1990–2035) written in the text, if any."""
    for match in _TEXT_DATE.finditer(text):
        day = _make_date(*match.groups())
        if day is not None and day.year in _YEARS:
            return day
    return None


def _make_date(year: str, month: str, day: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:  # 2015-02-30, month 13 ...
        return None


def _input_kind(path: Path) -> str | None:
    name = path.name.lower()
    for kind, suffixes in (
        ("text", TEXT_SUFFIXES),
        ("jsonl", JSONL_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
    ):
        if name.endswith(suffixes):
            return kind
    return None


def _quarantine(source_name: str, path: Path, reason: str, detail: str) -> dict[str, str]:
    return {
        "source_name": source_name,
        "input_path": str(path),
        "reason": reason,
        "detail": detail,
    }


def _read_file(path: Path) -> Iterator[Article | dict[str, str]]:
    kind = _input_kind(path)
    if kind == "text":
        yield _read_text_file(path)
    elif kind == "jsonl":
        yield from _read_jsonl_file(path)
    elif kind == "parquet":
        yield from _read_parquet_file(path)
    else:
        yield _quarantine(path.name, path, UNSUPPORTED, f"not one of {', '.join(INPUT_SUFFIXES)}")


def _read_text_file(path: Path) -> Article | dict[str, str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return _quarantine(path.name, path, UNREADABLE, str(exc))
    encoding = "utf-8"
    if raw.startswith(_BOM):
        raw, encoding = raw[len(_BOM) :], "utf-8-sig"
    try:
        text = raw.decode("utf-8")  # bytes as they are: no newline translation
    except UnicodeDecodeError as exc:
        return _quarantine(path.name, path, UNDECODABLE, f"{exc.reason} at byte {exc.start}")
    if not text.strip():
        return _quarantine(path.name, path, EMPTY_TEXT, "the file holds no text")
    day = find_text_date(text)
    return Article(
        article_id=make_article_id(text),
        source_name=path.name,
        text=text,
        published_date=day,
        date_origin="text" if day else None,
        input_path=str(path),
        encoding=encoding,
    )


def _read_jsonl_file(path: Path) -> Iterator[Article | dict[str, str]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    line_no = 0
    try:
        with opener(path, "rb") as stream:
            for line_no, raw in enumerate(stream, start=1):
                encoding = "utf-8"
                if line_no == 1 and raw.startswith(_BOM):
                    raw, encoding = raw[len(_BOM) :], "utf-8-sig"
                if not raw.strip():
                    continue  # blank lines (a trailing newline) are not records
                where = f"{path.name}:{line_no}"
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield _quarantine(where, path, UNDECODABLE, f"line {line_no}: {exc.reason}")
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield _quarantine(where, path, MALFORMED_JSON, f"line {line_no}: {exc.msg}")
                    continue
                if not isinstance(record, dict):
                    kind = type(record).__name__
                    yield _quarantine(where, path, NOT_A_RECORD, f"line {line_no}: a JSON {kind}")
                    continue
                yield _record_to_article(record, path, where, encoding)
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a truncated stream raises EOFError.
        detail = f"after line {line_no}: {exc or type(exc).__name__}"
        yield _quarantine(path.name, path, UNREADABLE, detail)


def _read_parquet_file(path: Path) -> Iterator[Article | dict[str, str]]:
    row_no = 0
    try:
        parquet = pq.ParquetFile(path)
        if "text" not in parquet.schema_arrow.names:
            yield _quarantine(path.name, path, MISSING_TEXT, "the file has no text column")
            return
        for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
            for record in batch.to_pylist():
                row_no += 1
                yield _record_to_article(record, path, f"{path.name}:{row_no}", "utf-8")
    except (OSError, pa.ArrowException) as exc:  # not Parquet, truncated, corrupt
        yield _quarantine(path.name, path, UNREADABLE, f"after row {row_no}: {exc}")


def _record_to_article(
    record: Mapping[str, Any], path: Path, where: str, encoding: str
) -> Article | dict[str, str]:
    """One JSON/Parquet record as an Article, or the quarantine row saying why not."""
    record_id = record.get("id")
    if record_id is None or record_id == "":
        return _quarantine(where, path, MISSING_ID, "the record has no id")
    source_name = str(record_id)
    text = record.get("text")
    if not isinstance(text, str):
        return _quarantine(source_name, path, MISSING_TEXT, f"text is {type(text).__name__}")
    if not text.strip():
        return _quarantine(source_name, path, EMPTY_TEXT, "text is empty")
    title = record.get("title")
    title = title if isinstance(title, str) and title else None
    day, origin = parse_record_date(record.get("date")), "record"
    if day is None:
        day, origin = find_text_date(text), "text"
    return Article(
        article_id=make_article_id(text, title),
        source_name=source_name,
        text=text,
        title=title,
        published_date=day,
        date_origin=origin if day else None,
        source=_optional_str(record.get("source")),
        url=_optional_str(record.get("url")),
        input_path=str(path),
        encoding=encoding,
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
