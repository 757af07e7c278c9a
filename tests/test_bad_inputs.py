"""Bad input: nothing crashes the run, nothing is lost silently.

Each kind of dirty input becomes one quarantine row with its reason (or, for a second copy
of an article, one exact-duplicate count); inputs in UTF-8 with or without a BOM, UTF-16 and
Windows-1256 are decoded exactly; HTML is reduced to its text. A full flow run over a corpus
of bad inputs mixed with the seeds completes, passes every suite, accounts for every input
(inputs seen = articles + quarantined + exact duplicates) and leaves the seeds' quotes as
they are; a run that fails validation keeps the previous dataset byte for byte.

The corpus is generated here, in a temporary directory (nothing binary is checked in). The
flow run is module-scoped: Great Expectations costs ~4 s to import and a run a few more.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import analyse_articles, count_inputs, read_inputs
from summaries import example_summary

from flows import cli, pipeline
from pipelines import analyse, dataset, ingest, store, tabulate, validate
from pipelines.ingest import iter_batches
from pipelines.records import ArticleAnalysis, InputCounts

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"
SEED_PATHS = sorted(SAMPLE_DIR.glob("*.txt"))
MAX_BYTES = 100_000  # the run's --max-bytes: far above a seed (< 8 kB), cheap to exceed
MARK = "\n(نسخة للاختبار)"  # appended to a seed: new content, so an article, not a duplicate
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))  # NULs at odd and even bytes
QUOTE = "لا بديل عن الحل السياسي للأزمة في سوريا"
# A news page as scraped: title, style and script (with markup and a quotation of its own,
# which must not be read), navigation, entities for the quotation marks, &amp;, &nbsp;, <br>.
PAGE = f"""<!DOCTYPE html>
<html lang="ar"><head><meta charset="utf-8"><title>لافروف | وكالة الأنباء</title>
<style>p {{ color: red; }} .q:before {{ content: "&#8220;"; }}</style>
<script>var s = "<p>قال كيري: &#8220;هذا ليس نصا&#8221;</p>";</script></head>
<body><nav><a href="/">الرئيسية</a> | <a href="/world">العالم</a></nav>
<article><h1>لافروف: لا بديل عن الحل السياسي</h1>
<p>موسكو - قال وزير الخارجية الروسي سيرغي لافروف للصحفيين يوم الخميس: &#8220;{QUOTE}&#8221;.</p>
<p>وأضاف   أن الحوار &amp; التفاوض
&quot;ضروريان&quot;.<br>نشر&nbsp;في 2015-10-01</p>
<noscript>فعّل جافاسكربت</noscript>
</article></body></html>"""
PAGE_TEXT = (
    "الرئيسية | العالم\n"
    "لافروف: لا بديل عن الحل السياسي\n"
    f"موسكو - قال وزير الخارجية الروسي سيرغي لافروف للصحفيين يوم الخميس: “{QUOTE}”.\n"
    'وأضاف أن الحوار & التفاوض "ضروريان".\n'
    "نشر\xa0في 2015-10-01"
)


def seed_text(index: int) -> str:
    """A seed article exactly as read (no newline translation)."""
    with open(SEED_PATHS[index], encoding="utf-8", newline="") as fh:
        return fh.read()


def broken_utf8(text: str) -> bytes:
    """UTF-8 with one stray byte: as Windows-1256 it would pass for Arabic (mojibake)."""
    raw = text.encode("utf-8")
    return raw[:100] + b"\xff" + raw[100:]


def jsonl(*records: dict[str, Any] | str) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    return ("\n".join(lines) + "\n").encode("utf-8")


def read_one(tmp_path: Path, name: str, data: bytes, **kw: Any) -> tuple[list, list]:
    path = tmp_path / name
    path.write_bytes(data)
    return read_inputs([path], **kw)


# --- the corpus ----------------------------------------------------------------------------


@dataclass
class Corpus:
    """Bad and odd inputs written under ``root``, with what a run must make of each."""

    root: Path
    inputs: list[str] = field(default_factory=list)
    quarantine: dict[str, str] = field(default_factory=dict)  # source_name -> reason
    articles: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> encoding, type
    exact_duplicates: int = 0
    inputs_seen: int = 0

    def article(self, name: str, data: bytes, encoding: str, content_type: str = "text") -> None:
        self._write(name, data)
        self.articles[name] = (encoding, content_type)

    def duplicate(self, name: str, data: bytes) -> None:
        self._write(name, data)
        self.exact_duplicates += 1

    def bad(self, name: str, data: bytes, reason: str) -> None:
        self._write(name, data)
        self.quarantine[name] = reason

    def _write(self, name: str, data: bytes) -> None:
        (self.root / name).write_bytes(data)
        self.inputs_seen += 1

    @property
    def expected(self) -> InputCounts:
        return InputCounts(
            self.inputs_seen, len(self.articles), len(self.quarantine), self.exact_duplicates
        )


def make_corpus(base: Path) -> Corpus:
    """The bad-input corpus (in ``base/bad``) plus one file of no input kind named explicitly."""
    corpus = Corpus(base / "bad")
    corpus.root.mkdir(parents=True)
    seeds = [seed_text(i) for i in range(len(SEED_PATHS))]
    # Decoded right: seeds (plus a marker line) in every encoding the reader knows.
    corpus.article("v_cp1256.txt", (seeds[0] + MARK).encode("cp1256"), "cp1256")
    corpus.article(
        "v_utf16le.txt", codecs.BOM_UTF16_LE + (seeds[1] + MARK).encode("utf-16-le"), "utf-16-le"
    )
    corpus.article(
        "v_utf16be.txt", codecs.BOM_UTF16_BE + (seeds[2] + MARK).encode("utf-16-be"), "utf-16-be"
    )
    corpus.article("v_utf16_nobom.txt", (seeds[3] + MARK).encode("utf-16-le"), "utf-16-le")
    corpus.article("v_bom.txt", codecs.BOM_UTF8 + (seeds[4] + MARK).encode(), "utf-8-sig")
    corpus.article("page.html", PAGE.encode("utf-8"), "utf-8", "html")
    # The same content again, in another encoding: same article_id, counted, not kept.
    corpus.duplicate("dup_cp1256.txt", seeds[0].encode("cp1256"))
    corpus.duplicate("dup_utf16.txt", codecs.BOM_UTF16_LE + seeds[1].encode("utf-16-le"))
    # One quarantine row each.
    corpus.bad("empty.txt", b"", ingest.EMPTY_FILE)
    corpus.bad("blank.txt", b" \n\t\r\n", ingest.EMPTY_TEXT)
    corpus.bad("scripts_only.html", b"<html><script>var x = 1;</script></html>", ingest.EMPTY_TEXT)
    corpus.bad("image.txt", PNG, ingest.BINARY)
    corpus.bad("controls.txt", ("قال" + "\x01\x02\x03" * 5).encode(), ingest.BINARY)
    corpus.bad("huge.txt", ("كلام " * 20_000).encode(), ingest.TOO_LARGE)
    corpus.bad("mojibake.txt", broken_utf8(seeds[0]), ingest.UNDECODABLE)
    corpus.bad("french.txt", "Le café de l'été à Genève".encode("cp1252"), ingest.UNDECODABLE)
    corpus.bad("english.txt", b"The minister said the talks were useful.", ingest.NO_ARABIC)
    corpus.bad("broken.jsonl.gz", b"this is not gzip", ingest.UNREADABLE)
    corpus.bad("empty.jsonl", b"", ingest.EMPTY_FILE)
    empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    pq.write_table(empty, corpus.root / "empty.parquet")
    corpus.quarantine["empty.parquet"] = ingest.EMPTY_FILE
    corpus.inputs_seen += 1
    # A JSON Lines file of mixed records: each non-blank line is one input.
    r1 = {"id": "r1", "title": "كيري يلتقي لافروف", "text": "التقى جون كيري نظيره الروسي."}
    lines: list[tuple[dict[str, Any] | str, str | None]] = [
        (r1, "article"),
        ('{"id": "r2", "text": "نص', ingest.MALFORMED_JSON),
        ({"id": "r3", "title": "عنوان"}, ingest.MISSING_TEXT),
        ({"id": "r1", "text": "نص آخر بالمعرف نفسه"}, ingest.DUPLICATE_ID),
        ({"id": "r5", "text": "Only English here."}, ingest.NO_ARABIC),
        ({**r1, "id": "r6"}, "duplicate"),
        ({"text": "نص بلا معرف"}, ingest.MISSING_ID),
        ("[1, 2]", ingest.NOT_A_RECORD),
        ({"id": "r9", "text": "كلام " * 20_000}, ingest.TOO_LARGE),
        ({"id": "r10", "title": "صفحة", "text": PAGE}, "article"),  # a title: not page.html
        ('{"id": "r11", "text": "قال \\ud800"}', ingest.UNDECODABLE),
        ("", None),  # a blank line is not an input
        ({"id": "r13", "text": "   "}, ingest.EMPTY_TEXT),
    ]
    (corpus.root / "records.jsonl").write_bytes(jsonl(*(line for line, _ in lines)))
    for line_no, (line, outcome) in enumerate(lines, 1):
        if outcome is None:
            continue
        corpus.inputs_seen += 1
        keyed_by_id = isinstance(line, dict) and "id" in line and outcome != ingest.TOO_LARGE
        name = line["id"] if keyed_by_id else f"records.jsonl:{line_no}"  # type: ignore[index]
        if outcome == "article":
            corpus.articles[name] = ("utf-8", "html" if name == "r10" else "text")
        elif outcome == "duplicate":
            corpus.exact_duplicates += 1
        else:
            corpus.quarantine[name] = outcome
    # A JSON Lines file in Windows-1256 as a whole.
    record = {"id": "w1", "text": seeds[0] + "\n(سجل)"}
    corpus.article("cp1256.jsonl", jsonl(record).decode("utf-8").encode("cp1256"), "cp1256")
    corpus.articles["w1"] = corpus.articles.pop("cp1256.jsonl")  # a record: named by its id
    # Named explicitly (a directory scan skips it): quarantined, not silently ignored.
    notes = base / "notes.csv"
    notes.write_text("a,b\n1,2\n", encoding="utf-8")
    corpus.quarantine["notes.csv"] = ingest.UNSUPPORTED
    corpus.inputs_seen += 1
    # The seeds first: they are the originals the duplicates are copies of.
    corpus.inputs = [str(SAMPLE_DIR), str(corpus.root), str(notes)]
    corpus.inputs_seen += len(SEED_PATHS)
    corpus.articles.update({p.name: ("utf-8", "text") for p in SEED_PATHS})
    return corpus


# --- decoding ------------------------------------------------------------------------------

ENCODINGS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-sig": lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
    "utf-16-le": lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
    "utf-16-be": lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
    "utf-16-le without BOM": lambda t: t.encode("utf-16-le"),
    "utf-16-be without BOM": lambda t: t.encode("utf-16-be"),
    "cp1256": lambda t: t.encode("cp1256"),
}


class TestDecoding:
    @pytest.mark.parametrize("encoding", list(ENCODINGS))
    def test_article_decoded_exactly(self, tmp_path: Path, encoding: str) -> None:
        """Each encoding gives back the seed's exact text, its article_id, and is recorded."""
        text = seed_text(0)
        (article,), quarantine = read_one(tmp_path, "a.txt", ENCODINGS[encoding](text))
        assert quarantine == []
        assert article.text == text
        assert article.article_id == ingest.make_article_id(text)
        assert article.encoding == encoding.removesuffix(" without BOM")
        assert article.content_type == "text"

    @pytest.mark.parametrize("index", range(len(SEED_PATHS)))
    def test_real_windows_1256_articles(self, tmp_path: Path, index: int) -> None:
        """Every seed round-trips through Windows-1256, is not UTF-8 then, and reads back."""
        text = seed_text(index)
        raw = text.encode("cp1256")
        assert raw.decode("cp1256") == text  # the encoding holds every character
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        (article,), _ = read_one(tmp_path, "w.txt", raw)
        assert (article.text, article.encoding) == (text, "cp1256")

    def test_broken_utf8_is_not_read_as_windows_1256(self, tmp_path: Path) -> None:
        """UTF-8 with one bad byte would pass for Arabic in cp1256 (ط/ظ lead bytes): refused."""
        raw = broken_utf8(seed_text(0))
        assert ingest.arabic_letter_ratio(raw.decode("cp1256")) > 0.6  # why a guard is needed
        articles, (row,) = read_one(tmp_path, "m.txt", raw)
        assert articles == []
        assert row["reason"] == ingest.UNDECODABLE
        assert "invalid" in row["detail"]

    @pytest.mark.parametrize(
        "raw",
        [
            "Le café de l'été à Genève".encode("cp1252"),
            "Grüße aus München".encode("latin-1"),
            codecs.BOM_UTF8 + b"\xd9\x82\xff",  # a UTF-8 BOM, then not UTF-8
        ],
    )
    def test_undecodable_is_quarantined_not_guessed(self, tmp_path: Path, raw: bytes) -> None:
        """Bytes that are neither UTF-8/16 nor Arabic in Windows-1256 are never guessed at."""
        articles, (row,) = read_one(tmp_path, "x.txt", raw)
        assert articles == []
        assert row["reason"] == ingest.UNDECODABLE

    @pytest.mark.parametrize(
        "raw",
        [PNG, b"\x00" * 64, bytes(range(256)) * 4, ("قال" + "\x01\x02" * 10).encode()],
        ids=["png", "nuls", "all bytes", "control characters"],
    )
    def test_binary(self, tmp_path: Path, raw: bytes) -> None:
        """NULs that are not UTF-16, or control characters, are binary: quarantined."""
        articles, (row,) = read_one(tmp_path, "b.txt", raw)
        assert articles == []
        assert row["reason"] == ingest.BINARY

    def test_jsonl_in_windows_1256(self, tmp_path: Path) -> None:
        """A JSONL file in Windows-1256 is detected as a whole; its records are decoded."""
        text = seed_text(1)
        data = jsonl({"id": "w", "text": text}).decode("utf-8").encode("cp1256")
        (article,), quarantine = read_one(tmp_path, "w.jsonl", data)
        assert quarantine == []
        assert (article.text, article.encoding) == (text, "cp1256")

    @pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
    def test_jsonl_in_utf16(self, tmp_path: Path, encoding: str) -> None:
        """A UTF-16 JSONL file (with its BOM) is read line by line like any other."""
        bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
        lines = jsonl({"id": "a", "text": "قال لافروف"}, "{broken", {"id": "b", "text": "نص"})
        data = bom + lines.decode("utf-8").encode(encoding)
        articles, quarantine = read_one(tmp_path, "u.jsonl.gz", gzip.compress(data))
        assert [(a.source_name, a.text, a.encoding) for a in articles] == [
            ("a", "قال لافروف", encoding),
            ("b", "نص", encoding),
        ]
        assert [q["reason"] for q in quarantine] == [ingest.MALFORMED_JSON]

    def test_binary_jsonl_is_one_input(self, tmp_path: Path) -> None:
        """A .jsonl that is binary is one quarantine row, not one per 'line' of noise."""
        path = tmp_path / "noise.jsonl"
        path.write_bytes(PNG * 50)
        articles, (row,) = read_inputs([path])
        assert articles == [] and row["reason"] == ingest.BINARY
        assert count_inputs([path]) == InputCounts(1, 0, 1, 0)


# --- HTML ----------------------------------------------------------------------------------


class TestHtml:
    def test_html_to_text(self) -> None:
        """Tags stripped, script/style/title/noscript dropped, entities decoded, blocks as lines."""
        assert ingest.html_to_text(PAGE) == PAGE_TEXT

    def test_html_file_is_its_text(self, tmp_path: Path) -> None:
        """An .html file's article text is the extracted text, marked content_type 'html'."""
        (article,), _ = read_one(tmp_path, "page.html", PAGE.encode("utf-8"))
        assert article.text == PAGE_TEXT
        assert (article.encoding, article.content_type) == ("utf-8", "html")
        assert article.published_date is not None  # "2015-10-01" in the text

    def test_quotation_in_html_is_extracted_at_its_offsets(self, tmp_path: Path) -> None:
        """&#8220;...&#8221; become quotation marks, and the quotation between them is found
        with offsets into the stored text."""
        (article,), _ = read_one(tmp_path, "page.html", PAGE.encode("utf-8"))
        (analysis,) = analyse_articles([article])
        direct = [q for q in analysis.quotes if q.quote_type == "direct"]
        assert [(q.speaker_id, q.quote_text) for q in direct] == [("lavrov", QUOTE)]
        for q in analysis.quotes:
            assert getattr(article, q.field)[q.char_start : q.char_end] == q.quote_text
        assert "هذا ليس نصا" not in article.text  # the script's "quotation" is not read

    @pytest.mark.parametrize(
        ("name", "data"),
        [
            ("doctype.txt", PAGE.encode("utf-8")),
            ("page.htm", PAGE.encode("cp1256")),
            ("rec.jsonl", jsonl({"id": "p", "text": PAGE})),
        ],
    )
    def test_html_sniffed_or_by_suffix(self, tmp_path: Path, name: str, data: bytes) -> None:
        """A .txt or a record text that is an HTML document is read as HTML, like .htm."""
        (article,), _ = read_one(tmp_path, name, data)
        assert (article.text, article.content_type) == (PAGE_TEXT, "html")

    def test_a_tag_in_plain_text_stays_text(self, tmp_path: Path) -> None:
        """One quoted tag does not make a text HTML: it is kept exactly as read."""
        text = "قال لافروف إن الوسم <b> ليس مشكلة &amp; لا حاجة لإزالته."
        assert not ingest.looks_like_html(text)
        (article,), _ = read_one(tmp_path, "t.txt", text.encode())
        assert (article.text, article.content_type) == (text, "text")

    def test_markup_only_is_empty_text(self, tmp_path: Path) -> None:
        """An HTML page whose only content is a script has no text: quarantined."""
        _, (row,) = read_one(tmp_path, "s.html", b"<html><script>var a;</script></html>")
        assert row["reason"] == ingest.EMPTY_TEXT


# --- quarantine reasons and accounting -----------------------------------------------------


class TestQuarantine:
    @pytest.mark.parametrize(
        ("name", "data", "reason"),
        [
            ("empty.txt", b"", ingest.EMPTY_FILE),
            ("blank.txt", b"  \n", ingest.EMPTY_TEXT),
            ("english.txt", b"No Arabic at all, 2015-01-01.", ingest.NO_ARABIC),
            ("digits.txt", "١٢٣ ، ؟".encode(), ingest.NO_ARABIC),  # Arabic digits, no letter
            ("huge.txt", "ن".encode() * 600, ingest.TOO_LARGE),
            ("empty.jsonl", b"\n\n", ingest.EMPTY_FILE),
            ("long.jsonl", jsonl({"id": "x", "text": "ن" * 600}), ingest.TOO_LARGE),
            ("sur.jsonl", b'{"id": "s", "text": "\\udc80"}', ingest.UNDECODABLE),
            ("sur_id.jsonl", b'{"id": "\\ud800", "text": "\\u0646"}', ingest.UNDECODABLE),
        ],
    )
    def test_one_row_with_reason(self, tmp_path: Path, name: str, data: bytes, reason: str) -> None:
        """Each bad input is one quarantine row with its reason and a detail; the build of
        the quarantine table (Arrow) takes it."""
        articles, quarantine = read_one(tmp_path, name, data, max_bytes=1000)
        assert articles == []
        assert [q["reason"] for q in quarantine] == [reason]
        assert quarantine[0]["detail"]
        tabulate.build_quarantine(quarantine)

    def test_parquet_without_rows_and_oversized_text(self, tmp_path: Path) -> None:
        """A Parquet file with no row is one 'empty_file' input; a row's text over the limit
        is 'too_large'."""
        empty, big = tmp_path / "a.parquet", tmp_path / "b.parquet"
        pq.write_table(
            pa.table({"id": pa.array([], pa.int64()), "text": pa.array([], pa.string())}), empty
        )
        pq.write_table(pa.table({"id": [1, 2], "text": ["نص قصير", "ن" * 600]}), big)
        articles, quarantine = read_inputs([empty, big], max_bytes=1000)
        assert [a.source_name for a in articles] == ["1"]
        assert [(q["source_name"], q["reason"]) for q in quarantine] == [
            ("a.parquet", ingest.EMPTY_FILE),
            ("2", ingest.TOO_LARGE),
        ]

    def test_duplicate_id_and_exact_duplicate(self, tmp_path: Path) -> None:
        """A reused id with other content is quarantined (naming both ids); the same content
        again, under any id or file, is an exact duplicate: counted, not kept."""
        a = {"id": "a", "text": "قال لافروف"}
        path = tmp_path / "r.jsonl"
        path.write_bytes(jsonl(a, {"id": "a", "text": "قال كيري"}, {**a, "id": "c"}, a))
        (tmp_path / "same.txt").write_text("قال لافروف", encoding="utf-8")

        batches = list(iter_batches([tmp_path]))

        assert [x.source_name for b in batches for x in b.articles] == ["a"]
        (row,) = [q for b in batches for q in b.quarantine]
        assert (row["source_name"], row["reason"]) == ("a", ingest.DUPLICATE_ID)
        assert ingest.make_article_id("قال لافروف") in row["detail"]
        assert sum((b.counts for b in batches), InputCounts()) == InputCounts(5, 1, 1, 3)

    def test_same_file_name_in_two_directories_is_two_articles(self, tmp_path: Path) -> None:
        """A .txt name is no record id: equal names in two folders are two articles."""
        for folder, text in (("x", "نص أول"), ("y", "نص ثان")):
            (tmp_path / folder).mkdir()
            (tmp_path / folder / "1.txt").write_text(text, encoding="utf-8")
        articles, quarantine = read_inputs([tmp_path])
        assert [a.text for a in articles] == ["نص أول", "نص ثان"] and quarantine == []

    def test_file_name_not_utf8_is_storable(self, tmp_path: Path) -> None:
        """A file name that is not UTF-8 is kept (escaped) and the tables still build."""
        path = tmp_path / os.fsdecode(b"caf\xe9.txt")
        path.write_text("قال لافروف", encoding="utf-8")
        (tmp_path / os.fsdecode(b"bad\xff.txt")).write_bytes(b"")
        articles, quarantine = read_inputs([tmp_path])
        assert articles[0].source_name == "caf\\udce9.txt"
        assert quarantine[0]["source_name"] == "bad\\udcff.txt"
        tabulate.build_quarantine(quarantine)
        tabulate.build_articles([ArticleAnalysis(articles[0])])

    def test_reason_codes_are_the_suite_s(self) -> None:
        """The quarantine suite accepts exactly ingest's reason codes, all snake_case."""
        raw = validate.read_suite_json("quarantine")
        (value_set,) = [
            e["kwargs"]["value_set"]
            for e in raw["expectations"]
            if e["type"] == "expect_column_values_to_be_in_set"
            and e["kwargs"]["column"] == "reason"
        ]
        assert value_set == list(ingest.QUARANTINE_REASONS)
        assert len(set(value_set)) == len(value_set)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


class TestAccounting:
    def test_every_input_is_accounted_for(self, corpus: Corpus) -> None:
        """Over the corpus: inputs seen = articles + quarantined + exact duplicates, and each
        number is what the corpus was built to give."""
        counts = count_inputs(corpus.inputs, max_bytes=MAX_BYTES)
        assert counts == corpus.expected
        assert counts.inputs_seen == counts.articles + counts.quarantined + counts.exact_duplicates

    def test_batches_carry_their_own_counts(self, corpus: Corpus) -> None:
        """Each batch's counts describe that batch; summed they are the whole run's."""
        batches = list(iter_batches(corpus.inputs, batch_size=3, max_bytes=MAX_BYTES))
        for batch in batches:
            assert batch.counts.articles == len(batch.articles)
            assert batch.counts.quarantined == len(batch.quarantine)
        assert sum((b.counts for b in batches), InputCounts()) == corpus.expected

    @pytest.mark.parametrize(
        ("counts", "failing"),
        [
            (InputCounts(3, 2, 1, 0), {"chk_articles"}),  # an article lost after ingest
            (InputCounts(3, 1, 1, 0), {"chk_identity"}),  # an input neither kept nor dropped
            (InputCounts(2, 1, 0, 1), {"chk_quarantined"}),  # a quarantine row not counted
        ],
    )
    def test_run_summary_checks_catch_miscounts(
        self, counts: InputCounts, failing: set[str]
    ) -> None:
        """The derived runs checks flag exactly the broken part of the accounting."""
        articles, _ = read_inputs([SEED_PATHS[0]])
        rows = [{"source_name": "x", "input_path": "x", "reason": "binary", "detail": "d"}]
        tables = tabulate.build_tables([ArticleAnalysis(articles[0])], rows, counts)
        derived = validate.derive_check_columns(tables)["runs"]
        assert {c for c, v in derived.items() if not v.all()} == failing

    def test_reasons_must_match_the_quarantine_table(self) -> None:
        """quarantined_by_reason must agree with the quarantine table, reason by reason."""
        rows = [{"source_name": "x", "input_path": "x", "reason": "binary", "detail": "d"}]
        tables = tabulate.build_tables([], rows)
        other = tabulate.build_run_summary(
            InputCounts(1, 0, 1, 0), [{**rows[0], "reason": "too_large"}]
        )
        derived = validate.derive_check_columns({**tables, "runs": other})["runs"]
        assert derived["chk_quarantined"].all() and not derived["chk_quarantine_reasons"].any()

    def test_combine_run_summaries(self) -> None:
        """Per-batch rows add up into one row (counts and reasons); the first run id stays."""
        q = [{"source_name": "x", "input_path": "x", "reason": r, "detail": "d"} for r in "ab"]
        one = tabulate.build_run_summary(InputCounts(2, 1, 1, 0), q[:1], run_id="r")
        two = tabulate.build_run_summary(InputCounts(3, 0, 2, 1), q, run_id="s")
        (row,) = tabulate.combine_run_summaries([one, two]).to_pylist()
        assert (row["run_id"], row["inputs_seen"], row["articles"]) == ("r", 5, 1)
        assert (row["quarantined"], row["exact_duplicates"]) == (3, 1)
        assert row["quarantined_by_reason"] == [
            {"reason": "a", "count": 2},
            {"reason": "b", "count": 1},
        ]


# --- the whole flow over the corpus --------------------------------------------------------


@dataclass
class Run:
    corpus: Corpus
    out: Path
    summary: dict[str, Any]
    report: validate.ValidationReport


@pytest.fixture(scope="module")
def bad_run(prefect_harness: None, corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One flow run over the seeds and the bad corpus, keeping the validation report."""
    out = tmp_path_factory.mktemp("bad_run") / "out"
    reports: list[validate.ValidationReport] = []
    real = validate.validate_tables

    def spy(*args: Any, **kwargs: Any) -> validate.ValidationReport:
        reports.append(real(*args, **kwargs))
        return reports[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(validate, "validate_tables", spy)
        summary = pipeline.isnad_flow(corpus.inputs, str(out), batch_size=4, max_bytes=MAX_BYTES)
    (report,) = reports
    return Run(corpus, out, summary, report)


def table(run: Run, name: str) -> list[dict[str, Any]]:
    return pq.read_table(run.out / name).to_pylist()


@pytest.mark.flow
class TestRunOverBadCorpus:
    def test_completes_and_every_suite_passes(self, bad_run: Run) -> None:
        """The run publishes, and every table's suite passed: no failure, not even a warning."""
        report = bad_run.report
        assert bad_run.summary["validation_success"] is True
        assert report.success and report.failed == [], report.summary()
        assert report.warnings == [], report.summary()
        assert set(report.results) == set(tabulate.TABLE_NAMES)
        assert all(r.success for r in report.results.values())
        assert dataset.read_manifest(str(bad_run.out)) is not None

    def test_accounting_identity(self, bad_run: Run) -> None:
        """inputs seen = articles + quarantined + exact duplicates, in the summary and the
        published runs row, with the numbers the corpus was built to give."""
        expected = bad_run.corpus.expected
        (row,) = table(bad_run, "runs")
        for record in (bad_run.summary, row):
            assert record["inputs_seen"] == expected.inputs_seen
            assert record["articles"] == expected.articles
            assert record["quarantined"] == expected.quarantined
            assert record["exact_duplicates"] == expected.exact_duplicates
        assert expected.inputs_seen == expected.articles + expected.quarantined + (
            expected.exact_duplicates
        )
        assert row["run_id"] and row["started_at"] is not None
        assert row["already_published"] == bad_run.summary["already_published"] == 0

    def test_rerun_adds_nothing_not_even_quarantine_rows(
        self, bad_run: Run, tmp_path: Path
    ) -> None:
        """Run again over the same corpus, every input is already published (a bad file is
        quarantined once, not once a run): no table gains a row, and runs says why."""
        out = tmp_path / "out"
        shutil.copytree(bad_run.out, out, symlinks=True)
        before = {name: pq.read_table(out / name) for name in tabulate.TABLE_NAMES}

        summary = pipeline.isnad_flow(
            bad_run.corpus.inputs, str(out), batch_size=4, max_bytes=MAX_BYTES
        )

        expected = bad_run.corpus.expected
        assert (summary["articles"], summary["quarantined"]) == (0, 0)
        assert summary["already_published"] == expected.articles + expected.quarantined
        assert summary["exact_duplicates"] == expected.exact_duplicates
        for name in tabulate.TABLE_NAMES:
            if name != "runs":
                assert pq.read_table(out / name).equals(before[name]), name
        first, second = pq.read_table(out / "runs").to_pylist()
        assert first == before["runs"].to_pylist()[0]
        assert second["inputs_seen"] == first["inputs_seen"]
        assert {t["table"]: t["added"] for t in second["table_rows"]} == {
            name: int(name == "runs") for name in tabulate.TABLE_NAMES
        }

    def test_one_quarantine_row_per_bad_input(self, bad_run: Run) -> None:
        """Quarantine holds exactly one row per bad input, with the expected reason, and the
        summary counts them by reason."""
        rows = table(bad_run, "quarantine")
        assert {r["source_name"]: r["reason"] for r in rows} == bad_run.corpus.quarantine
        assert len(rows) == len(bad_run.corpus.quarantine)
        assert all(r["detail"] and r["input_path"] for r in rows)
        by_reason = Counter(bad_run.corpus.quarantine.values())
        assert bad_run.summary["quarantined_by_reason"] == dict(sorted(by_reason.items()))

    def test_articles_record_encoding_and_content_type(self, bad_run: Run) -> None:
        """Each article is the expected one, with the encoding and content type it came in."""
        rows = table(bad_run, "articles")
        got = {r["source_name"]: (r["encoding"], r["content_type"]) for r in rows}
        assert got == bad_run.corpus.articles
        text = {r["source_name"]: r["text"] for r in rows}
        assert text["v_cp1256.txt"] == seed_text(0) + MARK
        assert text["page.html"] == PAGE_TEXT

    def test_html_quotation_offsets(self, bad_run: Run) -> None:
        """The quotation inside the HTML page is published with offsets into its stored text."""
        texts = {r["article_id"]: r["text"] for r in table(bad_run, "articles")}
        page = [q for q in table(bad_run, "quotes") if q["source_name"] == "page.html"]
        assert QUOTE in [q["quote_text"] for q in page]
        for q in page:
            assert texts[q["article_id"]][q["char_start"] : q["char_end"]] == q["quote_text"]

    def test_seed_quotes_unchanged(self, bad_run: Run) -> None:
        """The seeds' quotes, per seed, are those of a run over the seeds alone."""
        alone = Counter(q.source_name for a in analyse_articles(read_inputs([SAMPLE_DIR])[0])
                        for q in a.quotes)  # fmt: skip
        names = {p.name for p in SEED_PATHS}
        mixed = Counter(
            q["source_name"] for q in table(bad_run, "quotes") if q["source_name"] in names
        )
        assert mixed == alone and sum(alone.values()) > 0


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Prefect server (the test harness's API is used), CLI env defaults undone after."""
    for name in ("PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL"):
        monkeypatch.setenv(name, os.environ.get(name, "WARNING"))
    monkeypatch.setattr(cli, "prefect_api", contextlib.nullcontext)


def snapshot(out: Path) -> dict[str, bytes]:
    """Every committed part of the data tables (runs aside: it records every run) and its
    bytes, read through the table directories."""
    return {
        f"{name}/{p.name}": p.read_bytes()
        for name in tabulate.TABLE_NAMES
        if name != "runs"
        for p in sorted((out / name).glob("*.parquet"))
    }


@pytest.mark.flow
class TestFailedValidation:
    def test_previous_dataset_stays_intact(
        self,
        bad_run: Run,
        offline: None,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A run whose tables fail validation (a stage loses an article) exits 2, names the
        failed expectation and the Data Docs page, leaves the data tables as they were,
        byte for byte and readable, and records the failed run in runs."""
        out = tmp_path / "out"
        shutil.copytree(bad_run.out, out, symlinks=True)  # a good run published into out
        before = snapshot(out)
        (inbox := tmp_path / "inbox").mkdir()
        (inbox / "new.txt").write_text(seed_text(0) + " " + MARK + MARK, encoding="utf-8")
        real = analyse.attribute_quotations

        def lose_an_article(detected: list[Any]) -> list[Any]:
            return real(detected)[:-1]

        monkeypatch.setattr(analyse, "attribute_quotations", lose_an_article)

        code = cli.main(["run", str(inbox), "--out", str(out)])

        assert code == 2
        err = capsys.readouterr().err
        assert "runs: expect_column_values_to_be_in_set(chk_articles)" in err
        docs = out / "validation" / "index.html"
        assert f"Data Docs: {docs.resolve()}" in err and docs.is_file()
        assert snapshot(out) == before
        assert not list((out / store.INTERNAL_DIR).glob("staging-*"))
        manifest = dataset.read_manifest(str(out))
        for name in tabulate.TABLE_NAMES:
            assert pq.read_table(out / name).num_rows == manifest["tables"][name]["rows"]
        good, failed = table(Run(bad_run.corpus, out, {}, bad_run.report), "runs")
        assert (good["validation"], failed["validation"]) == ("passed", "failed")
        failed_check = "runs: expect_column_values_to_be_in_set(chk_articles)"
        assert failed_check in failed["failed_expectations"]
        assert failed["dataset_version"] == manifest["version"] == 2


class TestCli:
    def test_max_bytes_reaches_the_flow(
        self, offline: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """--max-bytes is passed to the flow; without it the flow's default applies."""
        calls: list[dict[str, Any]] = []
        summary = example_summary()
        monkeypatch.setattr(pipeline, "isnad_flow", lambda **kw: calls.append(kw) or summary)
        out = str(tmp_path / "o")  # the CLI checks --out (and creates it) before the flow
        assert cli.main(["run", str(SAMPLE_DIR), "--out", out, "--max-bytes", "1000"]) == 0
        assert cli.main(["run", str(SAMPLE_DIR), "--out", out]) == 0
        assert calls[0]["max_bytes"] == 1000 and "max_bytes" not in calls[1]

    def test_summary_prints_the_accounting(self) -> None:
        """The printed summary has inputs seen, the identity's terms and quarantine by reason."""
        summary = example_summary(
            inputs_seen=9, articles=5, quarantined=3, exact_duplicates=1,
            quarantined_by_reason={"binary": 1, "no_arabic": 2},
            docs_path="/o/validation/index.html", paths={"quotes": "/o/quotes"},
        )  # fmt: skip
        printed = cli.format_summary(summary)
        assert "inputs       9 seen = 5 articles + 3 quarantined + 1 exact duplicates" in printed
        assert "quarantined  binary 1, no_arabic 2" in printed
