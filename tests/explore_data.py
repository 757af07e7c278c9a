"""A small published dataset for the explorer's tests: the bundled sample (data/sample) and
three JSONL records (two newspapers carrying one statement of Kerry's, one hostile article),
analysed, given claims, published, with the run's report page and a Data Docs stand-in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import analyse_articles, read_inputs

from pipelines import claims, report, tabulate
from pipelines.store import open_store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"

PAYLOAD = "<script>window.__pwned=1;document.title='pwned'</script>"
KERRY = (
    "واشنطن - قال وزير الخارجية الأمريكي جون كيري إن الأزمة في سوريا لن تحل إلا "
    "بالمفاوضات بين الأطراف في جنيف."
)
HOSTILE_TEXT = (
    f'{PAYLOAD}\nموسكو - قال وزير الخارجية الروسي سيرغي لافروف للصحفيين: "{PAYLOAD} '
    'لا حل عسكريا للأزمة ولا بد من الحوار بين جميع الأطراف".'
)
RECORDS: list[dict[str, Any]] = [
    {"id": "kerry-hayat", "text": KERRY, "title": "كيري: الأزمة السورية", "source": "Al-Hayat",
     "url": "https://example.org/hayat/kerry", "date": "2015-07-05"},
    {"id": "kerry-ahram", "text": KERRY + "\nوأضاف أن الحل السياسي ممكن.",
     "title": "كيري في جنيف", "source": "Al-Ahram", "url": "https://example.org/ahram/kerry",
     "date": "2015-07-09"},
    {"id": "hostile", "text": HOSTILE_TEXT, "title": "<img src=x onerror=alert(1)> عنوان",
     "source": "<b>paper</b>", "url": "javascript:alert(1)", "date": "2015-07-02"},
]  # fmt: skip
DOCS_INDEX = b"<!DOCTYPE html><html><head><title>Data Docs</title></head><body>docs</body></html>"


def build_dataset(out: Path) -> dict[str, Any]:
    """Publish the dataset under ``out``; its tables."""
    inbox = out.parent / f"{out.name}-inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in RECORDS]
    (inbox / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    articles = read_inputs([SAMPLE_DIR, inbox])[0]
    tables = tabulate.build_tables(analyse_articles(articles), [], run_id="explore-test")
    tables = claims.attach_claims(tables)
    target = open_store(str(out))
    target.publish("explore-test", replace=tables)
    paths = target.table_paths(tables)
    report.render_report(tables, None, str(out), paths, run_id="explore-test")
    (out / "validation").mkdir(exist_ok=True)
    (out / "validation" / "index.html").write_bytes(DOCS_INDEX)
    return tables
