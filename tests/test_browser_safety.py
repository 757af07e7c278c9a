"""Hostile article fields in the pages a run writes: Data Docs and the report.

Values from the data (a failing ``url`` in an unexpected-values table, a quarantined file's
name among the row keys) must be text in every Data Docs page; GE 1.24 wrote them raw
(``pipelines/datadocs.py``). The fast test reads the built HTML; the browser test runs the real
flow on JSONL records with hostile ``url``, ``title``, ``text`` and ``source`` and opens the
docs index, every page it links to and the report in headless Chromium (tests/browser.py):
no payload runs, no ``javascript:`` link is live, and the hostile strings are shown as text.
Screenshots are written as test artifacts (tests/browser.py says where; printed with ``-s``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import browser
import pyarrow as pa
import pytest
from test_validate import good_tables, set_values

from pipelines import validate

# Each payload, if it ran, sets window.__pwned, changes the title or opens a dialog.
SCRIPT = "<script>window.__pwned=1;document.title='pwned'</script>"
IMG = "<img src=x onerror=\"window.__pwned=1;alert('img')\">"
SVG = "<svg onload=\"window.__pwned=1;alert('svg')\">"
ATTR = '" onmouseover="window.__pwned=1" x="'
URL_SCRIPT = f"x:{SCRIPT}"
# In a quotation's text: no '"', which would end the quotation.
TEXT_IMG = "<img src=x onerror=window.__pwned=1;alert(1)>"
TEXT_SVG = "<svg onload=window.__pwned=1;alert(2)>"
# Unescaped markup from a payload, as it would appear in a page's source.
RAW = re.compile(
    r"<script>window\.__pwned|<img src=x|<svg onload|onmouseover=\"window|</textarea", re.I
)


def _hostile_tables() -> dict[str, pa.Table]:
    """The good tables of test_validate with hostile values failing expectations of three
    tables: a URL (warning), a date origin, a sentence's field and a quarantine reason (in
    set), whose row key (source_name) is hostile too, and a speaker id (distinct values)."""
    tables = dict(good_tables())
    articles = set_values(tables["articles"], "url", lambda v: [URL_SCRIPT] * len(v))
    tables["articles"] = set_values(articles, "date_origin", lambda v: [IMG] * len(v))
    tables["sentences"] = set_values(tables["sentences"], "field", lambda v: [SVG] * len(v))
    quarantine = set_values(tables["quarantine"], "source_name", lambda v: [SVG] * len(v))
    tables["quarantine"] = set_values(quarantine, "reason", lambda v: [ATTR] * len(v))
    # A distinct-values expectation shows the column's values as its observed value.
    tables["speakers"] = set_values(tables["speakers"], "speaker_id", lambda v: [TEXT_IMG, *v[1:]])
    return tables


def test_data_docs_escape_values_from_the_data(tmp_path: Path) -> None:
    """No page of the site holds a payload as markup; the failing values are there as text;
    the report's own examples keep the values as they are (escaped where rendered)."""
    docs = tmp_path / "docs"
    report = validate.validate_tables(_hostile_tables(), str(docs), today=dt.date(2026, 1, 1))
    assert not report.success and report.docs_path is not None
    pages = sorted(docs.rglob("*.html"))
    assert len(pages) == 15  # the index, 7 suites, 7 validation results
    for page in pages:
        source = page.read_text(encoding="utf-8")
        assert not RAW.findall(source), page
        # Under a policy only GE's own, nonced scripts satisfy; no inline handler it forbids.
        assert '<meta http-equiv="Content-Security-Policy"' in source, page
        assert not re.findall(r"<script(?![^>]*\bnonce=)", source) and "onclick=" not in source
    seen = "".join(
        page.read_text(encoding="utf-8") for page in (docs / "validations").rglob("*.html")
    )
    for value in (URL_SCRIPT, IMG, SVG, ATTR, TEXT_IMG):
        assert (
            value.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&quot;")
            .replace("'", "&#x27;")
            in seen
        ), value

    checks = {c.check: c for c in report.results["quarantine"].checks}
    reason = checks["expect_column_values_to_be_in_set(reason)"]
    assert not reason.success and reason.examples[0]["source_name"] == SVG


# --- the real flow, in Chromium --------------------------------------------------------------

LAVROV = 'موسكو - قال وزير الخارجية الروسي سيرغي لافروف للصحفيين: "{payload} {statement}".'
STATEMENTS = (
    "لا حل عسكريا للأزمة في سوريا ولا بد من الحوار بين جميع الأطراف",
    "روسيا مستعدة للتعاون مع جميع الدول في مكافحة الإرهاب الدولي",
    "العقوبات الغربية لن تغير موقف موسكو من الأزمة في أوكرانيا",
    "نرحب بأي مبادرة تهدف إلى وقف إطلاق النار في اليمن",
)
RECORDS: list[dict[str, Any]] = [
    {
        "id": "evil-1",
        "text": LAVROV.format(payload=SCRIPT + " </textarea>", statement=STATEMENTS[0]),
        "title": f"{IMG} عنوان أول",
        "source": SCRIPT,
        "url": URL_SCRIPT,
        "date": "2015-10-02",
    },
    {
        "id": "evil-2",
        "text": LAVROV.format(payload=TEXT_SVG, statement=STATEMENTS[1]),
        "title": f"</title>{SCRIPT} عنوان ثان",
        "source": ATTR,
        "url": "javascript:alert(1)",
        "date": "2015-10-03",
    },
    {
        "id": "evil-3",
        "text": LAVROV.format(payload=TEXT_IMG, statement=STATEMENTS[2]),
        "title": "عنوان ثالث",
        "source": SVG,
        "url": " JaVaScRiPt:alert(2)",
        "date": "2015-10-04",
    },
    {
        "id": "evil-4",
        "text": LAVROV.format(payload="", statement=STATEMENTS[3]),
        "title": "عنوان رابع",
        "source": "paper",
        "url": f"https://example.org/a?{ATTR}{IMG}",
        "date": "2015-10-05",
    },
]

# Whether a script that got into the page would run (its policy should stop it).
INJECT = """
const s = document.createElement("script");
s.textContent = "window.__injected = 1";
document.head.append(s);
return window.__injected === 1;
"""

# What the page did: run in the page after it loaded.
PAGE_STATE = """
const attrs = [];
for (const el of document.querySelectorAll("*")) {
  for (const a of el.attributes) {
    // GE's own buttons have onclick handlers; a payload's mentions __pwned.
    if ((/^on/i.test(a.name) && /pwned/.test(a.value)) || /pwned/.test(a.name)) {
      attrs.push(el.tagName + " " + a.name);
    }
  }
}
return {
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  title: document.title,
  dialogs: window.__dialogs,
  csp: window.__csp,
  unbound: [...document.querySelectorAll("[data-isnad-click]")].filter((e) => !e.onclick).length,
  policy: document.querySelector("meta[http-equiv='Content-Security-Policy']")?.content || null,
  scripts: [...document.scripts].map(s => s.text).filter(t => /pwned/.test(t)),
  handlers: attrs,
  live: [...document.querySelectorAll("a[href], area[href]")]
    .filter(a => a.protocol === "javascript:" || /^\\s*javascript:/i.test(a.getAttribute("href")))
    .map(a => a.getAttribute("href")),
  frames: document.querySelectorAll("iframe, object, embed").length,
  images: [...document.images].map(i => i.getAttribute("src")).filter(s => s === "x"),
  text: document.body ? document.body.innerText : "",
};
"""


SHOW_PAYLOAD = """
const hit = document.evaluate("//*[contains(text(), '__pwned')]", document, null,
  XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
if (hit) hit.scrollIntoView({block: "center"});
"""


def _links(index: Path) -> list[Path]:
    """The pages the docs index links to: its table rows' paths (in the script GE writes
    for its table) and its <a> links, within the site."""
    page = index.read_text(encoding="utf-8")
    found = re.findall(r"'_table_row_link_path': '([^']+)'", page)
    found += re.findall(r'<a[^>]+href="([^"#?]+\.html)', page)
    paths = {(index.parent / link).resolve() for link in found if "://" not in link}
    return sorted(p for p in paths if p.is_relative_to(index.parent.resolve()) and p != index)


def _visit(driver: Any, page: Path, shot: Path) -> dict[str, Any]:
    from selenium.common.exceptions import NoAlertPresentException

    driver.get(page.resolve().as_uri())
    state = driver.execute_script(PAGE_STATE)
    state["injected_ran"] = driver.execute_script(INJECT)
    try:
        text = driver.switch_to.alert.text
        raise AssertionError(f"{page}: a dialog is open: {text!r}")
    except NoAlertPresentException:
        pass
    # The screenshot shows the first hostile value on the page, where there is one.
    driver.execute_script(SHOW_PAYLOAD)
    driver.save_screenshot(str(shot))
    return state


@pytest.mark.flow
@pytest.mark.skipif(browser.chromium() is None, reason=browser.MISSING)
@pytest.mark.skipif(browser.chromedriver() is None, reason=browser.MISSING_DRIVER)
def test_pages_of_a_hostile_run_run_nothing_in_chromium(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import pipeline

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never look for a download
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lines = [json.dumps(r, ensure_ascii=False) for r in RECORDS]
    (inbox / "evil.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    summary = pipeline.isnad_flow([str(inbox)], str(out))
    assert summary["articles"] == len(RECORDS) and summary["quotes"] >= len(RECORDS)
    assert summary["validation_success"] is True  # the URL expectation only warns

    index = out / "validation" / "index.html"
    linked = _links(index)
    validations = [p for p in linked if "validations" in p.parts]
    assert len(validations) == 7 and len(linked) == 14  # and the 7 suite pages
    report_page = out / "report" / "index.html"
    artifacts = browser.artifacts_dir(tmp_path)

    states: dict[str, dict[str, Any]] = {}
    with browser.driver(tmp_path / "profile") as driver:
        for i, page in enumerate([index, *linked, report_page]):
            name = page.relative_to(out).as_posix()
            states[name] = _visit(driver, page, artifacts / f"{i:02d}-{page.stem}.png")
    print(f"screenshots: {artifacts}/[0-9][0-9]-*.png")

    for name, state in states.items():
        assert state["pwned"] is None, name
        assert "pwned" not in state["title"], name
        assert state["dialogs"] == [], name
        assert state["scripts"] == [] and state["handlers"] == [], name
        assert state["live"] == [] and state["frames"] == 0 and state["images"] == [], name
        # Defence in depth: a policy that lets GE's own scripts and styles be, and stops a
        # script that would get into the page.
        expected = "default-src 'none'" if name == "report/index.html" else "script-src 'nonce-"
        assert expected in (state["policy"] or ""), name
        assert state["csp"] == [] and state["injected_ran"] is False, (name, state["csp"])
        assert state["unbound"] == 0, name  # GE's buttons still call its functions

    # The failing URLs are shown as text on the articles' validation page.
    (articles,) = (n for n in states if n.startswith("validation/validations/articles/"))
    for url in (URL_SCRIPT, "javascript:alert(1)", "JaVaScRiPt:alert(2)"):
        assert url in states[articles]["text"], url

    # The report shows the hostile title, quotation text and source as text.
    shown = states["report/index.html"]["text"]
    for value in (SCRIPT, "</textarea>", TEXT_SVG, TEXT_IMG, f"{IMG} عنوان أول", SVG, ATTR):
        assert value in shown, value
