"""The explorer in a real browser: Debian's chromium driven by Selenium through its
chromium-driver (tests/browser.py), against the app served by uvicorn on 127.0.0.1.

Searches by speaker and by Arabic text spelt with another hamza, opens an article and reads
where the quotation's highlight starts and ends in the text, follows its claim, downloads
the CSV export and reads it back; an article's <script> stays text. Screenshots are written
as test artifacts (tests/browser.py says where; printed with ``-s``)."""

from __future__ import annotations

import csv
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser
import pyarrow as pa
import pytest
from explore_data import build_dataset

from pipelines.explore.app import create_app
from pipelines.explore.data import Explorer, open_published

pytestmark = [
    pytest.mark.skipif(browser.chromium() is None, reason=browser.MISSING),
    pytest.mark.skipif(browser.chromedriver() is None, reason=browser.MISSING_DRIVER),
]

# Where a quotation's first highlight starts in its field, and the text of all its pieces,
# as the browser lays them out (code points: Array.from, as Python counts).
OFFSETS = """
const [qid, field] = arguments;
const box = document.getElementById('field-' + field);
const pieces = [...box.querySelectorAll('.k-content[data-q="' + qid + '"]')];
const range = document.createRange();
range.setStart(box, 0);
range.setEndBefore(pieces[0]);
const start = Array.from(range.toString()).length;
const text = pieces.map((p) => p.textContent).join('');
const colour = getComputedStyle(pieces[0]).backgroundColor;
return [start, start + Array.from(text).length, text, colour];
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, pa.Table]]]:
    """The explorer over the test dataset, served on a free local port for the module."""
    import uvicorn

    out = tmp_path_factory.mktemp("explore-browser") / "out"
    tables = build_dataset(out)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Explorer(open_published(str(out))))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", tables
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture()
def chrome(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never look for a download
    with browser.driver(tmp_path / "profile", width=1280, height=1100) as driver:
        yield driver


def shot(driver: Any, tmp_path: Path, name: str) -> None:
    path = browser.artifacts_dir(tmp_path) / f"explore-{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def results(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    items = driver.find_elements(By.CSS_SELECTOR, "li.quote")
    return [li.get_attribute("data-quote-id") for li in items]


def test_search_article_claim_export(
    site: tuple[str, dict[str, pa.Table]], chrome: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    url, tables = site
    quotes = tables["quotes"].to_pylist()
    chrome.get(url + "/")
    assert chrome.execute_script("return window.__csp") == []

    # By speaker: the facet link, then the page says the count the table has.
    chrome.find_element(By.CSS_SELECTOR, '#facet-speaker_id a[data-value="kerry"]').click()
    kerry = [q for q in quotes if q["speaker_id"] == "kerry"]
    assert "speaker_id=kerry" in chrome.current_url
    assert chrome.find_element(By.ID, "total").text == str(len(kerry))
    page = results(chrome)  # the first page of them
    assert len(page) == min(20, len(kerry)) and set(page) <= {q["quote_id"] for q in kerry}
    shot(chrome, tmp_path, "1-speaker")

    # By text, typed with a bare alef and a final ha: 'الأزمة' is found.
    box = chrome.find_element(By.NAME, "q")
    box.clear()
    box.send_keys("الازمه في سوريا")
    box.submit()
    found = results(chrome)
    target = next(
        q for q in quotes if q["source_name"] == "kerry-hayat" and "جنيف" in q["quote_text"]
    )
    assert target["quote_id"] in found and "الأزمة" in target["quote_text"]
    assert "q=" in chrome.current_url and "speaker_id=kerry" in chrome.current_url
    shot(chrome, tmp_path, "2-text")

    # Its article: the highlight lies exactly over text[char_start:char_end].
    item = chrome.find_element(By.CSS_SELECTOR, f'li.quote[data-quote-id="{target["quote_id"]}"]')
    item.find_element(By.CSS_SELECTOR, "a.article-link").click()
    start, end, text, colour = chrome.execute_script(OFFSETS, target["quote_id"], target["field"])
    assert (start, end, text) == (target["char_start"], target["char_end"], target["quote_text"])
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent")  # in the speaker's colour
    row = chrome.find_element(By.ID, f"row-{target['quote_id']}")
    assert "attribution_method" in row.text and target["rule"] in row.text
    shot(chrome, tmp_path, "3-article")

    # Each highlight opens its row.
    chrome.find_element(By.CSS_SELECTOR, f'a.k-content[data-q="{target["quote_id"]}"]').click()
    assert chrome.current_url.endswith(f"#row-{target['quote_id']}")
    assert (
        chrome.execute_script("return document.querySelector(':target').id")
        == f"row-{target['quote_id']}"
    )

    # Its claim: both newspapers on the timeline, in date order.
    row.find_element(By.CSS_SELECTOR, "h3 a").click()
    assert f"/claim/{target['claim_id']}" in chrome.current_url
    events = chrome.find_elements(By.CSS_SELECTOR, "ol.timeline li.event")
    assert [e.find_element(By.TAG_NAME, "time").text for e in events] == [
        "2015-07-05",
        "2015-07-09",
    ]
    assert "Al-Hayat" in events[0].text and "Al-Ahram" in events[1].text
    shot(chrome, tmp_path, "4-claim")


def test_export_csv_downloads_and_reads_back(
    site: tuple[str, dict[str, pa.Table]], chrome: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    url, tables = site
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chrome.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    chrome.get(url + "/?speaker_id=lavrov&quote_type=direct")
    chrome.find_element(By.ID, "export-csv").click()
    deadline = time.monotonic() + 30
    while not list(downloads.glob("*.csv")):
        assert time.monotonic() < deadline, "no CSV downloaded"
        time.sleep(0.2)
    (path,) = downloads.glob("*.csv")
    time.sleep(0.2)
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = {q["quote_id"]: q for q in tables["quotes"].to_pylist()
                if q["speaker_id"] == "lavrov" and q["quote_type"] == "direct"}  # fmt: skip
    assert {r["quote_id"] for r in rows} == set(expected) and len(rows) == len(expected)
    assert all(r["quote_text"] == expected[r["quote_id"]]["quote_text"] for r in rows)


def test_script_in_an_article_stays_text(
    site: tuple[str, dict[str, pa.Table]], chrome: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    url, tables = site
    quote = next(q for q in tables["quotes"].to_pylist() if q["source_name"] == "hostile")
    for path in (f"/article/{quote['article_id']}", "/?q=حل+عسكريا", f"/claim/{quote['claim_id']}"):
        chrome.get(url + path)
        assert chrome.execute_script("return window.__pwned") is None, path
        assert chrome.title != "pwned" and chrome.execute_script("return window.__dialogs") == []
        assert "<script>window.__pwned=1" in chrome.find_element(By.TAG_NAME, "main").text
        assert chrome.find_elements(By.CSS_SELECTOR, 'a[href^="javascript" i]') == []
    assert "javascript:alert(1)" in chrome.find_element(By.TAG_NAME, "main").text  # as text
    shot(chrome, tmp_path, "5-hostile")


def test_report_and_data_docs_linked_both_ways(
    site: tuple[str, dict[str, pa.Table]], chrome: Any, tmp_path: Path
) -> None:
    """From the explorer to the report and back, then to the Data Docs and back."""
    from selenium.webdriver.common.by import By

    url, _ = site
    for label, title in (("Report", "isnad report"), ("Data Docs", "Data Docs")):
        chrome.get(url + "/")
        chrome.find_element(By.LINK_TEXT, label).click()
        assert chrome.title == title
        if label == "Report":
            shot(chrome, tmp_path, "6-report")
        chrome.find_element(By.PARTIAL_LINK_TEXT, "isnad explorer").click()
        assert chrome.current_url == url + "/"
        assert chrome.find_element(By.ID, "total").text
