"""pipelines.report: the self-contained HTML page, as text and as headless Chromium shows it.

The Chromium test renders ``<out>/report/index.html`` with Debian's ``chromium`` package
(installed by the project's setup, launched by tests/browser.py; skipped with a reason where
it is missing), reads the DOM after rendering (``--dump-dom``) and writes a screenshot as a
test artifact: under
``$ISNAD_TEST_ARTIFACTS`` when set, else pytest's tmp_path; the path is printed (``-s``).
"""

from __future__ import annotations

import datetime as dt
import html.parser
import os
import re
import stat
from pathlib import Path
from typing import Any, ClassVar

import browser
import pyarrow as pa
import pytest
from helpers import analyse_articles, read_inputs

from pipelines import claims, ingest, report, tabulate
from pipelines.records import Article

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
PAYLOAD = "<script>document.body.setAttribute('data-pwned', '1')</script>"
EVIL_TEXTS = (
    f'موسكو - قال وزير الخارجية الروسي سيرغي لافروف للصحفيين: "{PAYLOAD} لا حل عسكريا '
    'للأزمة في سوريا ولا بد من الحوار بين جميع الأطراف".',
    f'نيويورك - وقال وزير الخارجية الروسي سيرغي لافروف: "{PAYLOAD} لا حل عسكريا للأزمة '
    'في سوريا، ولا بد من الحوار بين كل الأطراف".',
)


def evil_articles() -> list[Article]:
    """Two papers carrying one Lavrov statement with a <script> inside the quotation, a
    hostile title, source and URL."""
    return [
        Article(
            article_id=ingest.make_article_id(text, None),
            source_name=f"evil-{i}",
            text=text,
            title=f"<img src=x onerror=alert(1)> عنوان {i}",
            published_date=dt.date(2015, 10, 2 + i),
            date_origin="record",
            source=f"<b>paper{i}</b>",
            url="javascript:alert(1)" if i == 0 else "https://example.org/a?x=1&y=<2>",
        )
        for i, text in enumerate(EVIL_TEXTS)
    ]


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    articles, quarantine = read_inputs([SAMPLE_DIR])
    analyses = analyse_articles([*articles, *evil_articles()])
    return claims.attach_claims(tabulate.build_tables(analyses, quarantine))


VALIDATION_OK: dict[str, Any] = {
    "success": True,
    "failed": [],
    "warnings": ["articles: expect_column_values_to_match_regex(url)"],
    "results": {"quotes": {"checks": [{}] * 40}, "claims": {"checks": [{}] * 30}},
    "docs_path": None,
    "seconds": 3.5,
}


def links(out: Path, names: Any) -> dict[str, str]:
    return {name: str(out / f"{name}.parquet") for name in names}


class TestHtml:
    def test_self_contained_and_escaped(self, tables: dict[str, pa.Table], tmp_path: Path) -> None:
        """No script, no external resource; hostile text and URLs are inert."""
        page = report.build_report_html(
            tables, VALIDATION_OK, links(tmp_path, tables), report_dir=str(tmp_path / "report")
        )
        lowered = page.lower()
        assert "<script" not in lowered and "<img" not in lowered and "<b>paper" not in lowered
        assert "&lt;script&gt;document.body.setattribute" in lowered
        assert 'href="javascript:' not in lowered
        assert 'href="https://example.org/a?x=1&amp;y=&lt;2&gt;"' in page
        tags = re.findall(r"<[a-zA-Z][^>]*>", page)
        assert not [t for t in tags if re.match(r"<(link|img|iframe|object|embed)\b", t)]
        assert not [t for t in tags if re.search(r"\s(src|srcset|on\w+)=", t)]
        assert "@import" not in page and "url(" not in page
        assert re.findall(r"https?://[^\s\"'<]+", page) == [
            "http://www.w3.org/2000/svg",  # the SVG namespace, not a request
            "https://example.org/a?x=1&amp;y=&lt;2&gt;",  # an article link, not a resource
        ]
        assert "Content-Security-Policy" in page and "default-src 'none'" in page

    def test_arabic_is_right_to_left(self, tables: dict[str, pa.Table]) -> None:
        """Every quotation is a right-to-left Arabic block."""
        page = report.build_report_html(tables, None, {})
        blocks = re.findall(r"<blockquote([^>]*)>", page)
        assert blocks and all('dir="rtl" lang="ar"' in b for b in blocks)
        assert 'dir="rtl" lang="ar">سيرغي لافروف<' in page

    def test_links_are_relative(self, tables: dict[str, pa.Table], tmp_path: Path) -> None:
        """Parquet files are linked relative to the report directory."""
        path = report.render_report(tables, VALIDATION_OK, str(tmp_path), links(tmp_path, tables))
        assert path == str(tmp_path / "report" / "index.html")
        page = Path(path).read_text(encoding="utf-8")
        assert 'href="../quotes.parquet"' in page and 'href="../claims.parquet"' in page

    @pytest.mark.parametrize("umask", [0o022, 0o027])
    def test_page_mode_follows_umask(
        self, tables: dict[str, pa.Table], tmp_path: Path, umask: int
    ) -> None:
        """The page is written with the mode any file the run writes gets (0644 under umask
        022), not the 0600 of a private temp file, and no staged file is left behind."""
        previous = os.umask(umask)
        try:
            path = Path(report.render_report(tables, VALIDATION_OK, str(tmp_path), {}))
            plain = tmp_path / "plain.txt"
            plain.write_text("x", encoding="utf-8")
        finally:
            os.umask(previous)
        assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
        assert [p.name for p in path.parent.iterdir()] == ["index.html"]

    def test_remote_table_links_stay_absolute(
        self, tables: dict[str, pa.Table], tmp_path: Path
    ) -> None:
        """A table on an object store (its manifest's URI) is linked as it is, not made
        relative to the local directory the page is rendered in."""
        uri = "s3://bucket/isnad/_SUCCESS"
        path = report.render_report(tables, VALIDATION_OK, str(tmp_path), {"quotes": uri})
        assert f'href="{uri}"' in Path(path).read_text(encoding="utf-8")

    def test_failed_validation_banner(self, tables: dict[str, pa.Table], tmp_path: Path) -> None:
        """A failed run says so first, names the failed expectations and links Data Docs."""
        docs = tmp_path / "validation" / "index.html"
        validation = dict(
            VALIDATION_OK,
            success=False,
            failed=["claims: expect_column_values_to_be_in_set(chk_members)"],
            docs_path=str(docs),
        )
        path = report.render_report(tables, validation, str(tmp_path), {})
        page = Path(path).read_text(encoding="utf-8")
        assert "Validation FAILED: 1 expectation(s)" in page
        assert "expect_column_values_to_be_in_set(chk_members)" in page
        assert 'href="../validation/index.html"' in page
        assert "No Parquet files were published" in page

    def test_empty_run(self, tmp_path: Path) -> None:
        """A run without quotations still renders."""
        tables = claims.attach_claims(tabulate.build_tables([], []))
        page = report.build_report_html(tables, None, {})
        assert "No dated quotations" in page and "No claims in this run" in page


# --- what a reader sees in Chromium -----------------------------------------------------------


class _VisibleText(html.parser.HTMLParser):
    """The text a reader sees: everything outside <head>, <style>, <script> and SVG titles."""

    HIDDEN: ClassVar[set[str]] = {"head", "style", "script", "title"}

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.parts: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.HIDDEN:
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.parts))


@pytest.mark.skipif(browser.chromium() is None, reason=browser.MISSING)
def test_chromium_renders_the_report(tables: dict[str, pa.Table], tmp_path: Path) -> None:
    """Chromium shows the speakers, the counts, the shared claims and the <script> as text,
    runs nothing, and a screenshot is written as a test artifact."""
    out = tmp_path / "out"
    path = Path(report.render_report(tables, VALIDATION_OK, str(out), links(out, tables)))
    url = path.resolve().as_uri()
    binary = browser.chromium()
    assert binary is not None

    dom = browser.run_chromium(binary, tmp_path / "profile-dom", "--dump-dom", url).stdout
    seen = _VisibleText()
    seen.feed(dom)
    text = seen.text

    # The speakers, in English and Arabic, and the counts table.
    for name in ("Sergey Lavrov", "John Kerry", "Sergei Shoigu", "Chuck Hagel", "Walid al-Muallem"):
        assert name in text
    assert "سيرغي لافروف" in text and "وليد المعلم" in text
    quotes = tables["quotes"]
    lavrov = quotes.column("speaker_id").to_pylist().count("lavrov")
    row = next(
        t for t in re.findall(r'<tr data-speaker="lavrov">.*?</tr>', dom, flags=re.S) if "<td" in t
    )
    assert f"<b>{lavrov:,}</b>" in row
    assert f"{quotes.num_rows:,} quotations" in text
    assert "Validation passed" in text

    # The statements 000 and 004 share are shown as claims carried by two articles.
    assert "بعض الأطراف السورية تطرح شروطا إضافية لحل الأزمة بضغط خارجي" in text
    assert "2 articles" in text

    # The payload is visible as text and did nothing.
    assert PAYLOAD in text
    assert not any(tag == "script" for tag, _ in seen.tags)
    assert not any("data-pwned" in attrs for _, attrs in seen.tags)
    assert not any(tag == "img" for tag, _ in seen.tags)
    blockquotes = [a for tag, a in seen.tags if tag == "blockquote"]
    assert blockquotes and all(a.get("dir") == "rtl" and a.get("lang") == "ar" for a in blockquotes)

    shot = browser.artifacts_dir(tmp_path) / "report.png"
    browser.run_chromium(
        binary,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        url,
    )
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000
    print(f"report screenshot: {shot}")
