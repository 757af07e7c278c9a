"""Reading inputs: every kind of file, dates, quarantine, stable ids, streaming batches."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import read_inputs

from pipelines import ingest
from pipelines.ingest import iter_inputs, make_article_id
from pipelines.records import Article

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
TEXT = "قال لافروف إن المحادثات كانت مثمرة.\r\nوأضاف أن اللقاء المقبل في جنيف."
TITLE = "لافروف: المحادثات كانت مثمرة"


def _write_jsonl(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def _record(**fields: Any) -> str:
    return json.dumps({"id": "a1", "text": TEXT, **fields}, ensure_ascii=False)


class TestFileKinds:
    @pytest.mark.parametrize("name", ["in.jsonl", "in.jsonl.gz", "in.json.gz"])
    def test_jsonl_record(self, tmp_path: Path, name: str) -> None:
        """A JSONL record (plain or gzipped) keeps id, title, text, source and url as given."""
        line = _record(title=TITLE, source="aawsat", url="http://x/1", date="2015-07-21")
        path = _write_jsonl(tmp_path / name, [line])

        (article,), quarantine = read_inputs([path])

        assert quarantine == []
        assert article.source_name == "a1"
        assert article.text == TEXT  # "\r\n" kept: offsets point into the text as read
        assert article.title == TITLE
        assert (article.source, article.url) == ("aawsat", "http://x/1")
        assert article.input_path == str(path)
        assert article.encoding == "utf-8"
        assert article.article_id == make_article_id(TEXT, TITLE)

    def test_parquet_records(self, tmp_path: Path) -> None:
        """Parquet rows are records too; an integer id becomes its string."""
        path = tmp_path / "in.parquet"
        table = pa.table(
            {
                "id": [7, 8],
                "title": [TITLE, None],
                "text": [TEXT, "نص ثان"],
                "date": [dt.date(2015, 7, 21), None],
            }
        )
        pq.write_table(table, path)

        articles, quarantine = read_inputs([path])

        assert quarantine == []
        assert [a.source_name for a in articles] == ["7", "8"]
        assert articles[0].title == TITLE and articles[1].title is None
        assert articles[0].published_date == dt.date(2015, 7, 21)
        assert articles[0].date_origin == "record"

    @pytest.mark.parametrize(
        ("raw", "encoding"),
        [(TEXT.encode(), "utf-8"), (b"\xef\xbb\xbf" + TEXT.encode(), "utf-8-sig")],
    )
    def test_txt_file(self, tmp_path: Path, raw: bytes, encoding: str) -> None:
        """A .txt is one article named by its file; a BOM is stripped and noted, nothing else."""
        path = tmp_path / "000_x.txt"
        path.write_bytes(raw)

        (article,), _ = read_inputs([path])

        assert article.source_name == "000_x.txt"
        assert article.text == TEXT
        assert article.title is None
        assert article.encoding == encoding

    def test_directory_recurses_and_skips_other_files(self, tmp_path: Path) -> None:
        """A directory is searched recursively for input kinds only, in a stable order."""
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "2.txt").write_text("نص ب", encoding="utf-8")
        (tmp_path / "1.txt").write_text("نص أ", encoding="utf-8")
        (tmp_path / "README.md").write_text("not an input", encoding="utf-8")
        _write_jsonl(tmp_path / "b" / "c.jsonl", [_record()])

        articles, quarantine = read_inputs([tmp_path])

        assert [a.source_name for a in articles] == ["1.txt", "2.txt", "a1"]
        assert quarantine == []

    def test_sample_directory(self) -> None:
        """The bundled sample reads as five articles, none quarantined."""
        articles, quarantine = read_inputs([SAMPLE_DIR])
        assert len(articles) == 5 and quarantine == []
        assert len({a.article_id for a in articles}) == 5

    def test_missing_path_raises(self, tmp_path: Path) -> None:
        """A path that does not exist is a usage error, not bad data."""
        with pytest.raises(FileNotFoundError):
            read_inputs([tmp_path / "nope"])


class TestDates:
    @pytest.mark.parametrize(
        ("fields", "text", "expected", "origin"),
        [
            ({"date": "2015-07-21"}, TEXT, dt.date(2015, 7, 21), "record"),
            ({"date": "2015-07-21 10:00:00"}, TEXT, dt.date(2015, 7, 21), "record"),
            ({"date": "2015-07-21T10:00:00Z"}, TEXT, dt.date(2015, 7, 21), "record"),
            ({"date": "2015/7/1"}, TEXT, dt.date(2015, 7, 1), "record"),
            ({}, "نشر في 2013-11-09 14:20 عن لافروف", dt.date(2013, 11, 9), "text"),
            ({"date": "not a date"}, "العدد 1266 2017-02-08", dt.date(2017, 2, 8), "text"),
            ({}, "رقم 12015-07-21 وتاريخ 2015-13-01 و 1850-01-01", None, None),
            ({}, TEXT, None, None),
        ],
    )
    def test_date_from_record_text_or_none(
        self,
        tmp_path: Path,
        fields: dict[str, str],
        text: str,
        expected: dt.date | None,
        origin: str | None,
    ) -> None:
        """The record's date wins; else the first plausible ISO date in the text; else none."""
        path = _write_jsonl(tmp_path / "in.jsonl", [_record(text=text, **fields)])

        (article,), _ = read_inputs([path])

        assert (article.published_date, article.date_origin) == (expected, origin)

    def test_txt_date_from_text(self) -> None:
        """Sample 003 carries '2017-02-08' in its body."""
        articles, _ = read_inputs([SAMPLE_DIR / "003_a9e6bd5e9861890c.txt"])
        assert articles[0].published_date == dt.date(2017, 2, 8)
        assert articles[0].date_origin == "text"


class TestQuarantine:
    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            ('{"id": "x", "text": "نص', ingest.MALFORMED_JSON),
            ('["id", "text"]', ingest.NOT_A_RECORD),
            ('{"id": "x", "title": "عنوان"}', ingest.MISSING_TEXT),
            ('{"id": "x", "text": null}', ingest.MISSING_TEXT),
            ('{"id": "x", "text": " \\n "}', ingest.EMPTY_TEXT),
            ('{"text": "نص"}', ingest.MISSING_ID),
        ],
    )
    def test_bad_line_is_quarantined_and_run_goes_on(
        self, tmp_path: Path, line: str, reason: str
    ) -> None:
        """A bad record becomes one quarantine row; the good records around it are read."""
        good = [_record(id=i, text=f"{TEXT} {i}") for i in "ab"]
        path = _write_jsonl(tmp_path / "in.jsonl", [good[0], line, good[1]])

        articles, quarantine = read_inputs([path])

        assert [a.source_name for a in articles] == ["a", "b"]
        assert len(quarantine) == 1
        row = quarantine[0]
        assert set(row) == set(ingest.QUARANTINE_KEYS)
        assert row["reason"] == reason
        assert row["input_path"] == str(path)
        assert row["detail"]

    def test_undecodable_txt_is_quarantined_not_guessed(self, tmp_path: Path) -> None:
        """A .txt in Windows-1252 is neither UTF-8 nor Arabic in Windows-1256: quarantined
        as undecodable, never guessed at (tests/test_bad_inputs.py has the other encodings)."""
        path = tmp_path / "cp.txt"
        path.write_bytes("Le café de l'été à Genève".encode("cp1252"))

        articles, quarantine = read_inputs([path])

        assert articles == []
        assert quarantine[0]["reason"] == ingest.UNDECODABLE
        assert quarantine[0]["source_name"] == "cp.txt"

    def test_truncated_gzip_keeps_what_was_read(self, tmp_path: Path) -> None:
        """A gzip cut short yields its readable records and one 'unreadable' row."""
        path = tmp_path / "in.jsonl.gz"
        lines = [_record(id=str(i), text=f"نص رقم {i} " * 50) for i in range(200)]
        data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"))
        path.write_bytes(data[: len(data) // 2])

        articles, quarantine = read_inputs([path])

        assert 0 < len(articles) < 200
        assert [q["reason"] for q in quarantine] == [ingest.UNREADABLE]

    def test_second_copy_of_same_content_is_counted_not_kept(self, tmp_path: Path) -> None:
        """One story in two papers has one article_id: the first copy is kept, the second is
        counted as an exact duplicate (not quarantined), even across batches and files."""
        _write_jsonl(tmp_path / "a.jsonl", [_record(id="p1", title=TITLE), _record(id="x")])
        _write_jsonl(tmp_path / "b.jsonl", [_record(id="p2", title=TITLE)])

        batches = list(ingest.iter_batches([tmp_path], batch_size=1))

        assert [a.source_name for b in batches for a in b.articles] == ["p1", "x"]
        assert [q for b in batches for q in b.quarantine] == []
        assert sum(b.counts.exact_duplicates for b in batches) == 1
        assert sum(b.counts.inputs_seen for b in batches) == 3

    def test_parquet_without_text_column(self, tmp_path: Path) -> None:
        """A Parquet file with no text column is one quarantine row, not one per row."""
        path = tmp_path / "in.parquet"
        pq.write_table(pa.table({"id": [1, 2, 3]}), path)

        articles, quarantine = read_inputs([path])

        assert articles == []
        assert [q["reason"] for q in quarantine] == [ingest.MISSING_TEXT]

    def test_unsupported_file_named_explicitly(self, tmp_path: Path) -> None:
        """A file given by name that is no input kind is quarantined, not silently skipped."""
        path = tmp_path / "notes.csv"
        path.write_text("a,b", encoding="utf-8")
        _, quarantine = read_inputs([path])
        assert quarantine[0]["reason"] == ingest.UNSUPPORTED


class TestArticleId:
    def test_stable_and_content_based(self, tmp_path: Path) -> None:
        """The same title and text give the same id wherever they come from."""
        first = _write_jsonl(tmp_path / "a.jsonl", [_record(id="1", title=TITLE)])
        second = _write_jsonl(tmp_path / "b.jsonl.gz", [_record(id="other", title=TITLE)])

        (a,), _ = read_inputs([first])
        (b,), _ = read_inputs([second])

        assert a.article_id == b.article_id == make_article_id(TEXT, TITLE)
        assert len(a.article_id) == 16 and int(a.article_id, 16) >= 0

    @pytest.mark.parametrize(
        ("left", "right"),
        [
            ((TEXT, None), (TEXT, TITLE)),  # a title changes the content
            (("أ", "ب ج"), ("أ ب", "ج")),  # the separator keeps title and text apart
            ((TEXT, None), (TEXT + " ", None)),
        ],
    )
    def test_differs_when_content_differs(
        self, left: tuple[str, str | None], right: tuple[str, str | None]
    ) -> None:
        """Different content gives a different id."""
        assert make_article_id(*left) != make_article_id(*right)

    def test_known_value(self) -> None:
        """The id is the first 16 hex digits of sha256(title + U+001F + text)."""
        expected = hashlib.sha256(b"title\x1ftext").hexdigest()[:16]
        assert make_article_id("text", "title") == expected


class TestStreaming:
    def test_batches_hold_at_most_batch_size_articles(self, tmp_path: Path) -> None:
        """iter_inputs cuts batches at batch_size and loses nothing across them."""
        lines = [_record(id=str(i), text=f"نص {i}") for i in range(7)]
        lines.insert(3, "{broken")
        path = _write_jsonl(tmp_path / "in.jsonl", lines)

        batches = list(iter_inputs([path], batch_size=3))

        assert [len(articles) for articles, _ in batches] == [3, 3, 1]
        assert [a.source_name for b, _ in batches for a in b] == [str(i) for i in range(7)]
        assert sum(len(q) for _, q in batches) == 1

    def test_is_lazy(self, tmp_path: Path) -> None:
        """The first batch comes before later files are opened (no whole-corpus read)."""
        _write_jsonl(tmp_path / "a.jsonl", [_record(id=str(i), text=f"نص {i}") for i in range(4)])
        late = _write_jsonl(tmp_path / "b.jsonl", [_record(id="late", text="نص متأخر")])

        batches = iter_inputs([tmp_path], batch_size=2)
        first, _ = next(batches)
        late.unlink()  # were the files read eagerly, this would not matter

        assert [a.source_name for a in first] == ["0", "1"]
        rest = [a.source_name for b, q in batches for a in b]
        assert rest == ["2", "3"]

    def test_rejects_batch_size_below_one(self) -> None:
        """A batch size of 0 is a programming error."""
        with pytest.raises(ValueError):
            next(iter_inputs([SAMPLE_DIR], batch_size=0))


class TestTextDates:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("نشر في 2015-09-30 وقال", dt.date(2015, 9, 30)),
            ("بتاريخ 05/10/2015 قال", dt.date(2015, 10, 5)),
            ("الخميس 1 تشرين الأول 2015 أعلن", dt.date(2015, 10, 1)),
            ("في 30 سبتمبر 2015 قال", dt.date(2015, 9, 30)),
            ("في 18 ديسمبر/كانون الأول 2015", dt.date(2015, 12, 18)),
            ("3 آب 2014 ثم 2015-01-01", dt.date(2014, 8, 3)),  # the first date in the text
            ("في 18 ديسمبر/كانون الأول", None),  # no year: no date
            ("عام 2015 وحده", None),
            ("31 فبراير 2015", None),  # not a day of the calendar
        ],
    )
    def test_first_date_written_in_the_text(self, text: str, expected: dt.date | None) -> None:
        """ISO, day/month/year and Arabic month names (both series) give the text's date."""
        assert ingest.find_text_date(text) == expected


def test_an_article_survives_pickling_with_every_field() -> None:
    # Batches travel pickled to worker processes (Article.__reduce__ sends its fields by
    # position): a field added to Article must come back too.
    article = Article(
        "0123456789abcdef", "rec-1", "قال لافروف", "عنوان", dt.date(2015, 7, 1), "record",
        "okaz", "https://x.example/1", "in.jsonl", "utf-8", "text",
    )  # fmt: skip
    copy = pickle.loads(pickle.dumps(article, protocol=5))
    assert copy == article
    assert [getattr(copy, f) for f in Article.__slots__] == [
        getattr(article, f) for f in Article.__slots__
    ]
