"""The explorer (`isnad explore`) through FastAPI's TestClient: search and its facets, the
folding of free text, the article and claim views, export, the report and Data Docs served
beside it, and that every page escapes the data under a strict policy. The same pages in
Chromium: tests/test_explore_browser.py."""

from __future__ import annotations

import csv
import html
import io
import re
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from explore_data import KERRY, PAYLOAD, build_dataset

from flows import cli
from pipelines.arabic import normalise
from pipelines.explore import highlight
from pipelines.explore.app import CSP, create_app, live_link
from pipelines.explore.data import Explorer, fold_translation, open_published

PIECE = re.compile(r'<(?:a|span) class="hl ([^"]*)"[^>]*?data-q="([0-9a-f]+)" '
                   r'data-start="(\d+)" data-end="(\d+)"[^>]*>([^<]*)</(?:a|span)>')  # fmt: skip


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pa.Table]]:
    out = tmp_path_factory.mktemp("explore") / "out"
    return out, build_dataset(out)


@pytest.fixture(scope="module")
def client(published: tuple[Path, dict[str, pa.Table]]) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(create_app(Explorer(open_published(str(published[0])))))


@pytest.fixture(scope="module")
def quotes(published: tuple[Path, dict[str, pa.Table]]) -> list[dict[str, Any]]:
    return published[1]["quotes"].to_pylist()


def total(page: str) -> int:
    return int(re.search(r'id="total">(\d+)<', page)[1])  # type: ignore[index]


def result_ids(page: str) -> list[str]:
    return re.findall(r'<li class="quote" data-quote-id="([0-9a-f]+)"', page)


def marked(page: str, quote_id: str, kind: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each highlight piece of ``quote_id`` of ``kind`` on the page."""
    return [
        (int(a), int(b), html.unescape(text))
        for classes, qid, a, b, text in PIECE.findall(page)
        if qid == quote_id and f"k-{kind}" in classes.split()
    ]


class TestSearch:
    def test_by_speaker_with_facet_counts(self, client: Any, quotes: list[dict]) -> None:
        """speaker_id filters; the facet counts beside each filter are those of the result."""
        page = client.get("/", params={"speaker_id": "kerry"}).text
        kerry = [q for q in quotes if q["speaker_id"] == "kerry"]
        assert total(page) == len(kerry)
        types = Counter(q["quote_type"] for q in kerry)
        for quote_type, n in types.items():
            assert re.search(rf'data-value="{quote_type}">{quote_type}</a> '
                             rf'<span class="count">{n}</span>', page)  # fmt: skip

    def test_free_text_folds_hamza_and_ta_marbuta(self, client: Any, quotes: list[dict]) -> None:
        """'الازمه' (bare alef, final ha) finds 'الأزمة', as evaluate.normalise folds them."""
        page = client.get("/", params={"q": "الازمه"}).text
        expected = {q["quote_id"] for q in quotes if "الازمه" in normalise(q["quote_text"])}
        assert expected and set(result_ids(page)) == expected
        for phrase in ("الازمه في سوريا", "سوريا في الازمه", "  لن تحل  "):
            page = client.get("/", params={"q": phrase}).text  # several tokens: checked whole
            folded = " ".join(normalise(phrase).split())
            expected = {q["quote_id"] for q in quotes if folded in normalise(q["quote_text"])}
            assert set(result_ids(page)) == expected, phrase

    def test_sql_fold_is_normalise(self, quotes: list[dict]) -> None:
        """The translate() the database folds with is evaluate.normalise, on every quotation."""
        import duckdb

        source, target = fold_translation()
        texts = [q["quote_text"] for q in quotes] + ["أإآٱ ى ة ؤ ئ ـ َ ً ّ"]
        folded = duckdb.sql(
            "select translate(t, $s, $d) from unnest($x) as u(t)",
            params={"s": source, "d": target, "x": texts},
        ).fetchall()
        assert [f for (f,) in folded] == [normalise(t) for t in texts]

    def test_whole_query_in_the_url(self, client: Any) -> None:
        """speaker, text and date range together; the facet links keep the query."""
        params = {"speaker_id": "kerry", "q": "جنيف", "from": "2015-07-06"}
        page = client.get("/", params=params).text
        assert total(page) == 1 and "Al-Ahram" in page and "Al-Hayat" not in page
        link = re.search(r'id="export-csv" href="/export.csv\?([^"]+)"', page)[1]  # type: ignore[index]
        assert urllib.parse.parse_qs(html.unescape(link)) == {k: [v] for k, v in params.items()}
        assert total(client.get("/", params={**params, "to": "2015-07-01"}).text) == 0

    def test_other_filters(self, client: Any, quotes: list[dict]) -> None:
        """source, quote type, method, minimum confidence and claim each filter their column."""
        cases = {
            "source": ("Al-Hayat", lambda q, v: q["source_name"] == "kerry-hayat"),
            "quote_type": ("direct", lambda q, v: q["quote_type"] == v),
            "attribution_method": ("name", lambda q, v: q["attribution_method"] == v),
            "min_confidence": ("0.9", lambda q, v: q["confidence"] >= float(v)),
            "claim_id": (quotes[0]["claim_id"], lambda q, v: q["claim_id"] == v),
        }
        for name, (value, keep) in cases.items():
            expected = sum(1 for q in quotes if keep(q, value))
            assert total(client.get("/", params={name: value}).text) == expected, name

    def test_paginated(self, client: Any, quotes: list[dict]) -> None:
        """Twenty a page, every quotation once over the pages, linked by page=N."""
        first = client.get("/").text
        assert len(result_ids(first)) == 20 and 'href="?page=2"' in first
        seen = []
        for n in range(1, -(-len(quotes) // 20) + 1):
            seen += result_ids(client.get("/", params={"page": n}).text)
        assert sorted(seen) == sorted(q["quote_id"] for q in quotes)

    def test_result_highlights_cue_mention_and_content(
        self, client: Any, quotes: list[dict]
    ) -> None:
        """A result shows its sentence with content, cue and mention marked at their text."""
        page = client.get("/", params={"speaker_id": "kerry", "source": "Al-Hayat"}).text
        quote = next(
            q for q in quotes if q["source_name"] == "kerry-hayat" and "جنيف" in q["quote_text"]
        )
        assert (
            "".join(t for _, _, t in marked(page, quote["quote_id"], "content"))
            == quote["quote_text"]
        )
        assert [t for _, _, t in marked(page, quote["quote_id"], "cue")] == [quote["cue"]]
        assert (
            "".join(t for _, _, t in marked(page, quote["quote_id"], "mention"))
            == quote["speaker_mention"]
        )
        assert 'href="https://example.org/hayat/kerry"' in page and "2015-07-05" in page
        assert "John Kerry" in page  # the speaker's name, from the speakers table


class TestViews:
    def test_article_marks_every_quotation_at_its_offsets(
        self, client: Any, published: tuple[Path, dict[str, pa.Table]], quotes: list[dict]
    ) -> None:
        """Each quotation's content is marked exactly over text[char_start:char_end], in its
        speaker's colour class, linking to its row, which lists every column."""
        article = next(a for a in published[1]["articles"].to_pylist() if a["n_quotes"] > 5)
        page = client.get(f"/article/{article['article_id']}").text
        for quote in (q for q in quotes if q["article_id"] == article["article_id"]):
            pieces = marked(page, quote["quote_id"], "content")
            field = article[quote["field"]]
            assert pieces[0][0] == quote["char_start"] and pieces[-1][1] == quote["char_end"]
            assert all(field[a:b] == t for a, b, t in pieces)
            assert f'href="#row-{quote["quote_id"]}"' in page
            assert f'id="row-{quote["quote_id"]}"' in page
        for column in ("quote_id", "rule", "confidence", "cue_start", "claim_id"):
            assert f"<th>{column}</th>" in page
        if article["dropped_spans"]:
            assert "k-dropped" in page

    def test_claim_timeline(self, client: Any, quotes: list[dict]) -> None:
        """A claim carried by two newspapers: its canonical text and both, in date order."""
        claim_id = next(q["claim_id"] for q in quotes if q["source_name"] == "kerry-ahram"
                        and "جنيف" in q["quote_text"])  # fmt: skip
        page = client.get(f"/claim/{claim_id}").text
        assert "الأزمة في سوريا لن تحل" in page and KERRY.split(" إن ")[1][:20] in page
        timeline = page[page.index('class="timeline"') :]
        assert timeline.index("Al-Hayat") < timeline.index("Al-Ahram")
        assert len(re.findall(r'<li class="event', page)) == 2
        assert client.get("/claim/nope").status_code == 404

    def test_export_reads_back(self, client: Any, quotes: list[dict]) -> None:
        """CSV and Parquet of the current result set, every column, every row."""
        params = {"speaker_id": "lavrov", "quote_type": "direct"}
        expected = {q["quote_id"] for q in quotes
                    if q["speaker_id"] == "lavrov" and q["quote_type"] == "direct"}  # fmt: skip
        response = client.get("/export.csv", params=params)
        assert response.headers["content-disposition"].startswith("attachment")
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
        assert {r["quote_id"] for r in rows} == expected and len(rows) == len(expected)
        by_id = {q["quote_id"]: q for q in quotes}
        assert all(r["quote_text"] == by_id[r["quote_id"]]["quote_text"] for r in rows)
        table = pq.read_table(io.BytesIO(client.get("/export.parquet", params=params).content))
        assert set(table.column("quote_id").to_pylist()) == expected
        assert "claim_id" in table.column_names and "source" in table.column_names


class TestServedWith:
    def test_report_and_data_docs_link_both_ways(self, client: Any) -> None:
        """/report/ and /validation/ serve what the run published, each with a link back;
        every explorer page links to both."""
        home = client.get("/").text
        assert 'href="/report/"' in home and 'href="/validation/"' in home
        for path in ("/report/", "/validation/", "/validation/index.html"):
            response = client.get(path)
            assert response.status_code == 200 and '<a href="/">' in response.text, path
        assert "isnad report" in client.get("/report/").text

    def test_report_links_resolve(self, client: Any) -> None:
        """The report's relative links (each table's directory, the Data Docs) answer."""
        links = re.findall(r'href="\.\./([^"]+)"', client.get("/report/").text)
        assert "quotes" in links and "articles" in links
        for link in links:
            assert client.get(f"/{link}").status_code == 200, link
        assert "rows in dataset version" in client.get("/articles").text
        assert client.get("/report", follow_redirects=False).status_code == 308
        assert client.get("/nope").status_code == 404

    def test_no_path_outside(self, client: Any) -> None:
        for path in ("/report/../_SUCCESS", "/report/%2e%2e/_SUCCESS", "/validation/..%2f_SUCCESS"):
            assert client.get(path).status_code == 404, path


class TestSafety:
    def test_article_script_stays_text(self, client: Any, quotes: list[dict]) -> None:
        """The hostile article's <script>, title and source are escaped on every page that
        shows them; its javascript: URL is not a link."""
        quote = next(q for q in quotes if q["source_name"] == "hostile")
        pages = [
            client.get(f"/article/{quote['article_id']}").text,
            client.get("/", params={"q": "حل عسكريا"}).text,
            client.get(f"/claim/{quote['claim_id']}").text,
        ]
        for page in pages:
            assert "<script" not in page and "<img" not in page and "<b>paper" not in page
            assert html.escape(PAYLOAD, quote=False) in page.replace("&#x27;", "'").replace(
                "&#39;", "'"
            )
            assert 'href="javascript' not in page.lower()

    def test_strict_policy_and_read_only(self, client: Any) -> None:
        for path in ("/", "/article/x", "/static/explore.css", "/export.csv"):
            assert client.get(path).headers["content-security-policy"] == CSP, path
        assert "default-src 'self'" in CSP and "script-src 'none'" in CSP
        for method in ("post", "put", "delete"):
            assert getattr(client, method)("/").status_code == 405
        assert live_link("https://x.org/a") and not live_link(" JaVaScript:alert(1)")

    def test_pieces_nest_without_breaking(self) -> None:
        """Overlapping spans are cut into pieces that each know every span over them."""
        spans = [highlight.Span(2, 8, "content", "a"), highlight.Span(0, 4, "dropped")]
        cut = highlight.pieces("0123456789", spans)
        assert [(p.start, p.end, p.kinds()) for p in cut] == [
            (0, 2, ["dropped"]), (2, 4, ["content", "dropped"]), (4, 8, ["content"]), (8, 10, []),
        ]  # fmt: skip


def test_cli_defaults_to_localhost() -> None:
    args = cli.build_parser().parse_args(["explore", "out"])
    assert (args.dataset, args.host, args.port) == ("out", "127.0.0.1", 8710)


def test_cli_refuses_an_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing published: one line saying so, exit 1, no server started."""
    assert cli.main(["explore", str(tmp_path)]) == 1
    assert "nothing is published" in capsys.readouterr().err


def test_cli_serves_until_terminated(published: tuple[Path, dict[str, pa.Table]]) -> None:
    """`isnad explore DIR` answers on 127.0.0.1 and ends quietly (exit 0) on SIGTERM."""
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "flows.cli", "explore", str(published[0]), "--port", str(port)]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/?speaker_id=kerry") as r:
                    assert r.status == 200 and 'id="total">' in r.read().decode()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "error" not in err, err
    assert f"http://127.0.0.1:{port}/" in err
