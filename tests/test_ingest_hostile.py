"""Hostile inputs (issue 12): an input costs its own row, never the run nor its neighbours."""

from __future__ import annotations

import gzip
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import count_inputs, read_inputs

from pipelines import ingest
from pipelines.records import InputCounts

TEXT = "قال لافروف إن المحادثات كانت مثمرة"


def _line(record_id: str, text: str = TEXT, **fields: Any) -> str:
    record = {"id": record_id, "text": f"{text} {record_id}", **fields}
    return json.dumps(record, ensure_ascii=False)


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def _balanced(counts: InputCounts) -> bool:
    return counts.inputs_seen == counts.articles + counts.quarantined + counts.exact_duplicates


class TestRecordsThatRaised:
    @pytest.mark.parametrize(
        ("bad", "detail"),
        [
            ("[" * 100_000 + "]" * 100_000, "nested too deeply"),  # RecursionError
            ('{"id": "n", "text": "x", "n": ' + "9" * 5000 + "}", "4300 digits"),  # ValueError
        ],
    )
    def test_cost_only_their_line(self, tmp_path: Path, bad: str, detail: str) -> None:
        """JSON nested ~100k deep or with a 5000-digit integer is that line's malformed_json;
        the records around it are read."""
        path = _jsonl(tmp_path / "in.jsonl", [_line("a"), bad, _line("b")])

        articles, quarantine = read_inputs([path])

        assert [a.source_name for a in articles] == ["a", "b"]
        (row,) = quarantine
        assert (row["reason"], row["source_name"]) == (ingest.MALFORMED_JSON, "in.jsonl:2")
        assert detail in row["detail"]
        assert count_inputs([path]) == InputCounts(3, 2, 1, 0)

    @pytest.mark.parametrize(
        "column",
        [
            pa.array([3_000_000, 10], pa.date32()),  # year 10183
            pa.array([-800_000, 10], pa.date32()),  # before year 1
            pa.array([2**62, 0], pa.timestamp("us")),  # year 17036
            pa.array([2**50, 0], pa.timestamp("s", tz="UTC")),
            pa.array([2**62, 0], pa.date64()),
        ],
        ids=["date32-future", "date32-past", "timestamp-us", "timestamp-s-tz", "date64"],
    )
    def test_parquet_date_beyond_python_keeps_the_article(
        self, tmp_path: Path, column: pa.Array
    ) -> None:
        """A Parquet date Python cannot hold is no date: the article is kept, its date null
        (as a record's bad date string is), and the next row's date still reads."""
        path = tmp_path / "in.parquet"
        texts = [TEXT, f"{TEXT} 2"]
        pq.write_table(pa.table({"id": ["a", "b"], "text": texts, "date": column}), path)

        articles, quarantine = read_inputs([path])

        assert quarantine == []
        assert [a.source_name for a in articles] == ["a", "b"]
        assert articles[0].published_date is None
        # Arrow's text of some such values still reads as a date, one out of range.
        assert articles[0].date_origin in (None, ingest.RECORD_DATE_REJECTED)
        assert all(a.published_date is None or a.published_date.year < 9999 for a in articles)

    def test_parquet_id_beyond_python_is_its_arrow_string(self, tmp_path: Path) -> None:
        """An id column of out-of-range timestamps still names its rows (Arrow's text)."""
        path = tmp_path / "in.parquet"
        ids = pa.array([2**62], pa.timestamp("us", tz="UTC"))
        pq.write_table(pa.table({"id": ids, "text": [TEXT]}), path)
        (article,), _ = read_inputs([path])
        assert article.source_name.startswith("17036-")

    @pytest.mark.parametrize(
        ("record_id", "detail"), [([1, 2], "a list"), ({"a": 1}, "a JSON object")]
    )
    def test_structured_id_is_missing(self, tmp_path: Path, record_id: Any, detail: str) -> None:
        path = _jsonl(tmp_path / "in.jsonl", [json.dumps({"id": record_id, "text": TEXT})])
        _, (row,) = read_inputs([path])
        assert row["reason"] == ingest.MISSING_ID and detail in row["detail"]

    @pytest.mark.parametrize("value", [[[["x"]]], {"a": {"b": 1}}])
    def test_structured_source_or_url_is_none(self, tmp_path: Path, value: Any) -> None:
        """A list or object is no source name nor address (and one nested as deep as JSON
        parses would overflow str()): the article is kept without it."""
        line = json.dumps({"id": "a", "text": TEXT, "source": value, "url": value})
        path = _jsonl(tmp_path / "in.jsonl", [line])
        (article,), quarantine = read_inputs([path])
        assert quarantine == [] and article.source is None and article.url is None


class TestUnforeseenErrorCostsOneFile:
    def test_per_file_guard(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """An exception no reader foresaw, raised mid-file, becomes that file's unreadable
        row; what was read before it is kept, the next file is read, the counts balance."""
        bad = _jsonl(tmp_path / "a.jsonl", [_line("a1"), _line("boom"), _line("a3")])
        _jsonl(tmp_path / "b.jsonl", [_line("b1")])
        real = ingest._record_to_article

        def flaky(record: Any, *args: Any) -> Any:
            if record["id"] == "boom":
                raise KeyError("unforeseen")
            return real(record, *args)

        monkeypatch.setattr(ingest, "_record_to_article", flaky)

        batches = list(ingest.iter_batches([tmp_path], batch_size=1))

        assert [a.source_name for b in batches for a in b.articles] == ["a1", "b1"]
        (row,) = [q for b in batches for q in b.quarantine]
        assert (row["reason"], row["input_path"]) == (ingest.UNREADABLE, str(bad))
        assert "KeyError" in row["detail"] and "after 1 input" in row["detail"]
        total = sum((b.counts for b in batches), InputCounts())
        assert total == InputCounts(3, 2, 1, 0) and _balanced(total)  # boom and a3: one row

    def test_guard_before_any_record(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A reader that fails before counting anything: the file is one input, one row."""
        path = _jsonl(tmp_path / "a.jsonl", [_line("a1")])

        def broken(*args: Any) -> Any:
            raise RuntimeError("reader bug")

        monkeypatch.setattr(ingest, "_sniff_jsonl_encoding", broken)
        assert count_inputs([path]) == InputCounts(1, 0, 1, 0)


class TestGzipTrailingGarbage:
    @pytest.mark.parametrize("newline_at_end", [True, False])
    def test_good_records_kept_tail_quarantined_once(
        self, tmp_path: Path, newline_at_end: bool
    ) -> None:
        """Garbage after a valid gzip stream: every record is read (as gzip -dc reads them)
        and the damaged tail is one unreadable row, one input."""
        body = "\n".join(_line(str(i)) for i in range(5)) + ("\n" if newline_at_end else "")
        path = tmp_path / "in.jsonl.gz"
        path.write_bytes(gzip.compress(body.encode()) + b"garbage!")

        articles, quarantine = read_inputs([path])

        assert [a.source_name for a in articles] == [str(i) for i in range(5)]
        (row,) = quarantine
        assert row["reason"] == ingest.UNREADABLE
        assert "trailing garbage" in row["detail"] and "5 record(s)" in row["detail"]
        assert count_inputs([path]) == InputCounts(6, 5, 1, 0)

    def test_members_and_nul_padding_are_read_like_gzip(self, tmp_path: Path) -> None:
        """Several gzip members, with NUL padding after them, are one clean stream."""
        path = tmp_path / "in.jsonl.gz"
        first, second = (gzip.compress((_line(i) + "\n").encode()) for i in ("a", "b"))
        path.write_bytes(first + second + b"\0" * 100)
        articles, quarantine = read_inputs([path])
        assert [a.source_name for a in articles] == ["a", "b"] and quarantine == []

    def test_large_stream_reads_like_gzip(self, tmp_path: Path) -> None:
        """Over many reads (each bounded), the bytes equal gzip's."""
        data = "".join(_line(str(i), TEXT * 20) + "\n" for i in range(3000)).encode()
        path = tmp_path / "in.jsonl.gz"
        path.write_bytes(gzip.compress(data, compresslevel=1))
        with ingest._open_jsonl(path) as stream:
            assert stream.read() == data

    def test_not_gzip_at_all(self, tmp_path: Path) -> None:
        path = tmp_path / "in.jsonl.gz"
        path.write_bytes(b"this is not gzip")
        _, (row,) = read_inputs([path])
        assert row["reason"] == ingest.UNREADABLE and "not a gzipped file" in row["detail"]


class TestNotRegularFiles:
    @pytest.fixture
    def specials(self, tmp_path: Path) -> Path:
        folder = tmp_path / "in"
        folder.mkdir()
        (folder / "good.txt").write_text(TEXT, encoding="utf-8")
        os.mkfifo(folder / "pipe.jsonl")
        (folder / "gone.txt").symlink_to(folder / "nowhere.txt")
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(folder / "sock.txt"))
        sock.close()
        (folder / "pipe.md").symlink_to(folder / "nowhere.md")  # no input kind: not looked at
        return folder

    def test_in_a_directory_each_is_an_input_quarantined(self, specials: Path) -> None:
        """A FIFO, a socket and a dangling symlink with an input kind's name are counted and
        quarantined unopened (a FIFO would block), as many rows as inputs."""
        articles, quarantine = _within(5, read_inputs, [specials])

        assert [a.source_name for a in articles] == ["good.txt"]
        rows = {q["source_name"]: q for q in quarantine}
        assert sorted(rows) == ["gone.txt", "pipe.jsonl", "sock.txt"]
        assert {q["reason"] for q in quarantine} == {ingest.UNREADABLE}
        assert "FIFO" in rows["pipe.jsonl"]["detail"]
        assert "socket" in rows["sock.txt"]["detail"]
        assert "symbolic link" in rows["gone.txt"]["detail"]
        assert _within(5, count_inputs, [specials]) == InputCounts(4, 1, 3, 0)

    def test_fifo_named_on_the_command_line(self, specials: Path) -> None:
        """No FileNotFoundError, no hang: one input, one row."""
        counts = _within(5, count_inputs, [specials / "pipe.jsonl"])
        assert counts == InputCounts(1, 0, 1, 0)

    def test_worker_count_neither_blocks_nor_raises(
        self, specials: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """--workers auto stats the inputs: a dangling symlink listed first does not stop
        it summing the sizes of the files after it."""
        from flows import cli

        (specials / "z.txt").write_bytes(b"x" * 1000)
        monkeypatch.setattr(cli, "AUTO_WORKERS_MIN_BYTES", 1000)
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        assert _within(5, cli.worker_count, "auto", [str(specials)]) == 2


class TestReadOnce:
    def test_relative_and_absolute_path_are_one_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A bad file reached by a relative path and then an absolute one is quarantined once;
        input_path stays as it was first given."""
        monkeypatch.chdir(tmp_path)
        (tmp_path / "bad.txt").write_bytes(b"")
        (tmp_path / "good.txt").write_text(TEXT, encoding="utf-8")

        paths = ["bad.txt", str(tmp_path / "bad.txt"), str(tmp_path), "good.txt"]
        articles, quarantine = read_inputs(paths)

        assert [q["input_path"] for q in quarantine] == ["bad.txt"]
        assert [a.input_path for a in articles] == [str(tmp_path / "good.txt")]
        assert count_inputs(paths) == InputCounts(2, 1, 1, 0)

    def test_symlink_and_nested_directory(self, tmp_path: Path) -> None:
        (tmp_path / "sub").mkdir()
        _jsonl(tmp_path / "sub" / "a.jsonl", [_line("a")])
        (tmp_path / "link.jsonl").symlink_to(tmp_path / "sub" / "a.jsonl")
        files = ingest.find_input_files([tmp_path, tmp_path / "sub", tmp_path / "link.jsonl"])
        assert files == [tmp_path / "link.jsonl"]


class TestNulPolicy:
    def test_nul_in_a_record_is_binary_as_in_a_txt(self, tmp_path: Path) -> None:
        """One policy: NUL in a .txt, a JSONL record's text or title, or a Parquet text is
        binary; other control characters in a record are left (real news has them)."""
        (tmp_path / "a.txt").write_bytes(f"{TEXT}\0".encode())
        _jsonl(
            tmp_path / "b.jsonl",
            [_line("t", TEXT + "\0"), _line("h", title="عنوان\0"), _line("ok", TEXT + "\x1a")],
        )
        texts = [TEXT + "\0", TEXT + " 2"]
        pq.write_table(pa.table({"id": ["p", "q"], "text": texts}), tmp_path / "c.parquet")

        articles, quarantine = read_inputs([tmp_path])

        assert [a.source_name for a in articles] == ["ok", "q"]
        assert [(q["source_name"], q["reason"]) for q in quarantine] == [
            ("a.txt", ingest.BINARY),
            ("t", ingest.BINARY),
            ("h", ingest.BINARY),
            ("p", ingest.BINARY),
        ]
        assert "NUL" in quarantine[1]["detail"] and "title" in quarantine[2]["detail"]


def _within(seconds: float, fn: Any, *args: Any) -> Any:
    """``fn(*args)``, failing the test (not hanging it) if it blocks: a FIFO opened for
    reading waits for a writer for ever."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(fn(*args)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{fn.__name__} blocked for {seconds} s"
    return result[0]
