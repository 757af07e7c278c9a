"""The run's report: one self-contained HTML page analysts open offline.

``<out>/report/index.html`` shows the validation status, quotations per speaker and type,
a chart of quotations over time per speaker, the most widely carried claims with the
articles that carried them, and links to the Parquet files.

Self-contained: CSS inline, charts as inline SVG drawn here, no script, no web font, no
CDN; a Content-Security-Policy forbids loading anything. Every text that comes from the
data (quotations, titles, names, file names) goes through :func:`html.escape`, so a
``<script>`` in an article is shown as text. Arabic is marked ``dir="rtl" lang="ar"`` and
set in Noto Naskh Arabic / Noto Sans Arabic (Debian: ``fonts-noto-core``), then DejaVu Sans.

:func:`build_report_html` is pure; :func:`render_report` writes the file (atomically).
"""

from __future__ import annotations

import datetime as dt
import html
import os
import secrets
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.records import QUOTE_TYPES
from pipelines.speakers import load_registry

REPORT_DIR = "report"
REPORT_FILE = "index.html"
TOP_CLAIMS = 20
ARTICLES_PER_CLAIM = 5
OTHER = "other"
# Speaker colours, assigned in registry order, distinguishable with the common colour-vision
# deficiencies: Okabe-Ito's seven (its black is the text's), then Paul Tol's muted scheme;
# a registry of more than 16 speakers reuses them in the same order.
PALETTE: tuple[str, ...] = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
    "#AA4499",
)  # fmt: skip


def speaker_colours(speaker_ids: Iterable[str]) -> dict[str, str]:
    """speaker_id -> colour, by the speakers' order in the registry."""
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(speaker_ids)}


ARABIC_FONTS = '"Noto Naskh Arabic", "Noto Sans Arabic", "DejaVu Sans", "Arial", sans-serif'
LATIN_FONTS = '"Noto Sans", "DejaVu Sans", "Helvetica Neue", "Arial", sans-serif'


def _e(value: Any) -> str:
    """Text from the data, escaped for HTML text and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def _ar(text: Any, tag: str = "span", cls: str | None = None) -> str:
    """Arabic text: right to left, in an Arabic font, escaped."""
    attr = f' class="{cls}"' if cls else ""
    return f'<{tag} dir="rtl" lang="ar"{attr}>{_e(text)}</{tag}>'


def _safe_url(url: str | None) -> str | None:
    """Only http(s) URLs become links: no ``javascript:`` or ``data:`` from an input."""
    if not url:
        return None
    scheme = urllib.parse.urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in ("http", "https") else None


def _href(path: str, base_dir: str) -> str:
    """A link from the report directory to ``path`` (relative, URL-quoted)."""
    if urllib.parse.urlsplit(path).scheme not in ("", "file"):  # http(s), s3, gs ...
        return path
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(base_dir))
    return urllib.parse.quote(rel.replace(os.sep, "/"))


def _fmt(n: int) -> str:
    return f"{n:,}"


def _count(n: int, noun: str) -> str:
    """ "1 source", "2 sources", with the number in bold."""
    return f"<b>{_fmt(n)}</b> {noun}{'' if n == 1 else 's'}"


# --- data -----------------------------------------------------------------------------------


def _speaker_names(tables: Mapping[str, pa.Table]) -> dict[str, tuple[str, str]]:
    """speaker_id -> (English name, Arabic name) in registry order: the dataset's speakers
    table when present (the registry that made it), else the registry in use."""
    speakers = tables.get("speakers")
    if speakers is not None and {"speaker_id", "name_en", "name_ar"} <= set(speakers.column_names):
        rows = speakers.select(["speaker_id", "name_en", "name_ar"]).to_pylist()
        return {row["speaker_id"]: (row["name_en"], row["name_ar"]) for row in rows}
    return {s: (sp["name_en"], sp["name_ar"]) for s, sp in load_registry().speakers.items()}


def _column(table: pa.Table | None, name: str) -> list[Any]:
    if table is None or name not in table.column_names:
        return [] if table is None else [None] * table.num_rows
    return table.column(name).to_pylist()


# --- sections -------------------------------------------------------------------------------


def _validation_banner(validation: Mapping[str, Any] | None, report_dir: str) -> str:
    if validation is None:
        return (
            '<section class="banner unknown" id="validation"><h2>Validation not run</h2></section>'
        )
    results = validation.get("results") or {}
    n_checks = sum(len(r.get("checks") or []) for r in results.values())
    failed = list(validation.get("failed") or [])
    warnings = list(validation.get("warnings") or [])
    ok = bool(validation.get("success"))
    title = "Validation passed" if ok else f"Validation FAILED: {len(failed)} expectation(s)"
    parts = [
        f'<section class="banner {"pass" if ok else "fail"}" id="validation">',
        f"<h2>{_e(title)}</h2>",
        f"<p>{_fmt(n_checks)} checks on {len(results)} tables"
        + (f"; {len(warnings)} warning(s)" if warnings else "")
        + (f"; {float(validation['seconds']):.1f} s" if validation.get("seconds") else "")
        + ".</p>",
    ]
    if failed:
        parts.append('<ul class="failed">' + "".join(f"<li>{_e(f)}</li>" for f in failed) + "</ul>")
    if warnings:
        parts.append(
            "<details><summary>Warnings</summary><ul>"
            + "".join(f"<li>{_e(w)}</li>" for w in warnings)
            + "</ul></details>"
        )
    docs = validation.get("docs_path")
    if docs:
        parts.append(
            f'<p><a href="{_e(_href(docs, report_dir))}">Great Expectations Data Docs</a></p>'
        )
    parts.append("</section>")
    return "\n".join(parts)


def _overview(tables: Mapping[str, pa.Table]) -> str:
    quotes = tables.get("quotes")
    claims = tables.get("claims")
    speakers = _column(quotes, "speaker_id")
    dates = [d for d in _column(quotes, "published_date") if d is not None]
    n_sources = _column(claims, "n_sources")
    cards = [
        ("articles", tables["articles"].num_rows if "articles" in tables else 0),
        ("quotations", len(speakers)),
        ("by the registry's speakers", sum(1 for s in speakers if s is not None)),
        ("claims", claims.num_rows if claims is not None else 0),
        ("claims in 2+ sources", sum(1 for n in n_sources if n and n >= 2)),
        ("quarantined inputs", tables["quarantine"].num_rows if "quarantine" in tables else 0),
    ]
    items = "".join(
        f'<div class="card"><span class="n">{_fmt(n)}</span><span class="k">{_e(k)}</span></div>'
        for k, n in cards
    )
    span = f"{min(dates)} – {max(dates)}" if dates else "no dated quotations"
    return (
        f'<section id="overview"><div class="cards">{items}</div>'
        f'<p class="muted">Quotation dates: {_e(span)}.</p></section>'
    )


def _counts_table(tables: Mapping[str, pa.Table], names: Mapping[str, tuple[str, str]]) -> str:
    quotes = tables.get("quotes")
    claims = tables.get("claims")
    counts = Counter(
        zip(
            (s or OTHER for s in _column(quotes, "speaker_id")),
            _column(quotes, "quote_type"),
            strict=True,
        )
    )
    claim_counts = Counter(_column(claims, "speaker_id"))
    head = (
        "<tr><th>speaker</th>"
        + "".join(f"<th>{_e(t)}</th>" for t in QUOTE_TYPES)
        + "<th>total</th><th>claims</th></tr>"
    )
    rows = []
    colours = speaker_colours(names)
    for speaker in (*names, OTHER):
        if speaker == OTHER:
            label = '<td class="who">anyone else <span class="muted">(speaker_id null)</span></td>'
        else:
            en, ar = names[speaker]
            label = (
                f'<td class="who"><span class="dot" style="background:{colours[speaker]}">'
                f"</span>{_e(en)} {_ar(ar)}</td>"
            )
        cells = [counts.get((speaker, t), 0) for t in QUOTE_TYPES]
        claims_cell = "–" if speaker == OTHER else _fmt(claim_counts.get(speaker, 0))
        rows.append(
            f'<tr data-speaker="{_e(speaker)}">{label}'
            + "".join(f"<td>{_fmt(c)}</td>" for c in cells)
            + f"<td><b>{_fmt(sum(cells))}</b></td><td>{claims_cell}</td></tr>"
        )
    totals = [sum(counts.get((s, t), 0) for s in (*names, OTHER)) for t in QUOTE_TYPES]
    rows.append(
        '<tr class="total"><td>all</td>'
        + "".join(f"<td>{_fmt(c)}</td>" for c in totals)
        + f"<td><b>{_fmt(sum(totals))}</b></td>"
        f"<td>{_fmt(sum(claim_counts.values()))}</td></tr>"
    )
    return (
        '<section id="counts"><h2>Quotations per speaker and type</h2>'
        f'<table class="counts"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
        "</section>"
    )


def _buckets(dates: Sequence[dt.date]) -> tuple[str, list[dt.date], dict[dt.date, dt.date]]:
    """Granularity (day, week or month, by the span of dates), the bucket starts from the
    first to the last, and each date's bucket."""
    first, last = min(dates), max(dates)
    span = (last - first).days
    if span <= 120:
        unit, start_of = "day", lambda d: d
    elif span <= 3 * 365:
        unit, start_of = "week", lambda d: d - dt.timedelta(days=d.weekday())
    else:
        unit, start_of = "month", lambda d: d.replace(day=1)
    starts = [start_of(first)]
    while starts[-1] < start_of(last):
        d = starts[-1]
        if unit == "day":
            starts.append(d + dt.timedelta(days=1))
        elif unit == "week":
            starts.append(d + dt.timedelta(days=7))
        else:
            starts.append((d.replace(day=28) + dt.timedelta(days=4)).replace(day=1))
    return unit, starts, {d: start_of(d) for d in set(dates)}


def _timeline(tables: Mapping[str, pa.Table], names: Mapping[str, tuple[str, str]]) -> str:
    """Small multiples: one row of bars per speaker on a shared time axis and scale."""
    quotes = tables.get("quotes")
    pairs = [
        (s, d)
        for s, d in zip(
            _column(quotes, "speaker_id"), _column(quotes, "published_date"), strict=True
        )
        if s in names
    ]
    dated = [(s, d) for s, d in pairs if d is not None]
    undated = len(pairs) - len(dated)
    note = (
        f'<p class="muted">{_fmt(undated)} quotation(s) by the registry\'s speakers have no '
        "date and are not in the chart.</p>"
        if undated
        else ""
    )
    header = '<section id="timeline"><h2>Quotations over time</h2>'
    if not dated:
        return f"{header}<p>No dated quotations by the registry's speakers.</p>{note}</section>"

    unit, starts, bucket_of = _buckets([d for _, d in dated])
    index = {start: i for i, start in enumerate(starts)}
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for s, d in dated:
        counts[s][index[bucket_of[d]]] += 1
    svg = _timeline_svg(unit, starts, counts, names)
    return f"{header}{svg}{note}{_timeline_numbers(unit, starts, counts, names)}</section>"


def _timeline_svg(
    unit: str,
    starts: list[dt.date],
    counts: Mapping[str, Counter[int]],
    names: Mapping[str, tuple[str, str]],
) -> str:
    """The chart: a row of bars per speaker (``counts``: per bucket index), a shared axis."""
    peak = max(max(c.values()) for c in counts.values())
    width, left, right, top, row_h, bar_h, axis_h = 1000, 190, 60, 12, 62, 46, 44
    plot_w = width - left - right
    height = top + row_h * len(names) + axis_h
    colours = speaker_colours(names)
    step = plot_w / len(starts)
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="timeline-title" class="chart">',
        f'<title id="timeline-title">Quotations per {unit} and speaker, {_e(starts[0])} to '
        f"{_e(starts[-1])}</title>",
    ]
    for row, speaker in enumerate(names):
        y0 = top + row * row_h
        base = y0 + bar_h
        en, ar = names[speaker]
        colour = colours[speaker]
        mine = counts.get(speaker, Counter())
        total = sum(mine.values())
        svg.append(
            f'<text x="{left - 10}" y="{y0 + bar_h / 2 - 2:.1f}" text-anchor="end" '
            f'class="lab">{_e(en)}</text>'
            # Right-to-left text starts at its right edge: anchor "start" ends it at x.
            f'<text x="{left - 10}" y="{y0 + bar_h / 2 + 16:.1f}" text-anchor="start" '
            f'direction="rtl" class="lab ar">{_e(ar)}</text>'
            f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" class="base"/>'
            f'<text x="{left + plot_w + 8}" y="{base - 4}" class="tot">{_fmt(total)}</text>'
        )
        for i, n in sorted(mine.items()):
            h = max(bar_h * n / peak, 1.5)
            svg.append(
                f'<rect x="{left + i * step:.2f}" y="{base - h:.2f}" '
                f'width="{max(step - 1, 1.2):.2f}" height="{h:.2f}" fill="{colour}">'
                f"<title>{_e(en)}, {unit} of {_e(starts[i])}: {n}</title></rect>"
            )
    axis_y = top + row_h * len(names)
    n_ticks = min(len(starts), 8)
    ticks = sorted({round(k * (len(starts) - 1) / max(n_ticks - 1, 1)) for k in range(n_ticks)})
    for i in ticks:
        x = left + (i + 0.5) * step
        label = starts[i].strftime("%Y-%m") if unit == "month" else starts[i].isoformat()
        svg.append(
            f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{axis_y - 6}" y2="{axis_y}" class="tick"/>'
            f'<text x="{x:.2f}" y="{axis_y + 16}" text-anchor="middle" class="ax">{label}</text>'
        )
    svg.append(
        f'<text x="{left}" y="{axis_y + 36}" class="ax">bars: quotations per {unit}; '
        f"tallest bar = {peak}; right: total per speaker</text></svg>"
    )
    return "".join(svg)


def _timeline_numbers(
    unit: str,
    starts: list[dt.date],
    counts: Mapping[str, Counter[int]],
    names: Mapping[str, tuple[str, str]],
) -> str:
    """The chart's numbers as a table, folded: a row per bucket with a quotation."""
    rows = [
        f"<tr><td>{_e(starts[i])}</td>"
        + "".join(f"<td>{counts.get(s, Counter()).get(i, 0) or ''}</td>" for s in names)
        + "</tr>"
        for i in sorted({i for c in counts.values() for i in c})
    ]
    return (
        f"<details><summary>The numbers (per {unit})</summary><table class='counts'>"
        f"<thead><tr><th>{unit}</th>"
        + "".join(f"<th>{_e(names[s][0])}</th>" for s in names)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def _top_claims(
    tables: Mapping[str, pa.Table], names: Mapping[str, tuple[str, str]], limit: int
) -> str:
    header = (
        '<section id="claims"><h2>Most widely carried claims</h2>'
        '<p class="muted">A claim is one statement of a speaker as quoted by any number of '
        "articles; ranked by sources, then articles, then quotations. Articles without a named "
        "source count as a source of their own.</p>"
    )
    claims = tables.get("claims")
    if claims is None or claims.num_rows == 0:
        return f"{header}<p>No claims in this run.</p></section>"
    rows = claims.to_pylist()
    rows.sort(
        key=lambda r: (
            -r["n_sources"],
            -r["n_articles"],
            -r["n_quotes"],
            r["first_seen"] is None,
            r["first_seen"] or dt.date.min,
            r["claim_id"],
        )
    )
    rows = rows[:limit]
    quote_article, articles = _claim_articles(tables, {q for r in rows for q in r["quote_ids"]})
    items = [_claim_item(rank, r, names, quote_article, articles) for rank, r in enumerate(rows, 1)]
    return f'{header}<ol class="claims">{"".join(items)}</ol></section>'


def _claim_articles(
    tables: Mapping[str, pa.Table], wanted: set[str]
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The article of each ``wanted`` quotation, and those articles' rows (the columns the
    list shows) by id."""
    quotes = tables.get("quotes")
    quote_article: dict[str, str] = {}
    if quotes is not None:
        for q, a in zip(_column(quotes, "quote_id"), _column(quotes, "article_id"), strict=True):
            if q in wanted:
                quote_article[q] = a
    needed = set(quote_article.values())
    articles: dict[str, dict[str, Any]] = {}
    if "articles" in tables:
        cols = [
            c
            for c in ("article_id", "source_name", "title", "source", "url", "published_date")
            if c in tables["articles"].column_names
        ]
        table = tables["articles"].select(cols)
        # Only the articles the listed claims quote: a dataset holds hundreds of thousands.
        mask = pc.is_in(table.column("article_id"), value_set=pa.array(sorted(needed), pa.string()))
        for a in table.filter(mask).to_pylist():
            articles[a["article_id"]] = a
    return quote_article, articles


def _carried_by(
    claim: Mapping[str, Any],
    quote_article: Mapping[str, str],
    articles: Mapping[str, dict[str, Any]],
) -> list[str]:
    """The first articles that carry ``claim`` (by date, source), as list items linking to
    them, and how many more."""
    carried = []
    seen_articles: list[str] = []
    for q in claim["quote_ids"]:
        a = quote_article.get(q)
        if a and a not in seen_articles:
            seen_articles.append(a)
    seen_articles.sort(
        key=lambda a: (
            articles.get(a, {}).get("published_date") or dt.date.max,
            articles.get(a, {}).get("source") or "",
            articles.get(a, {}).get("source_name") or a,
        )
    )
    for a in seen_articles[:ARTICLES_PER_CLAIM]:
        art = articles.get(a, {"source_name": a})
        label = art.get("title") or art.get("source_name") or a
        meta = " · ".join(_e(x) for x in (art.get("source"), art.get("published_date")) if x)
        url = _safe_url(art.get("url"))
        text = _ar(label) if art.get("title") else f"<code>{_e(label)}</code>"
        link = f'<a href="{_e(url)}" rel="noreferrer">{text}</a>' if url else text
        carried.append(f"<li>{link}{f' <span class=muted>{meta}</span>' if meta else ''}</li>")
    more = len(seen_articles) - ARTICLES_PER_CLAIM
    if more > 0:
        carried.append(f'<li class="muted">and {more} more</li>')
    return carried


def _claim_item(
    rank: int,
    r: Mapping[str, Any],
    names: Mapping[str, tuple[str, str]],
    quote_article: Mapping[str, str],
    articles: Mapping[str, dict[str, Any]],
) -> str:
    """One claim of the list: speaker, counts, dates, its text, sources and articles."""
    en, _ = names.get(r["speaker_id"], (r["speaker_id"], ""))
    colour = speaker_colours(names).get(r["speaker_id"], "#777")
    carried = _carried_by(r, quote_article, articles)
    dates = (
        f"{_e(r['first_seen'])} – {_e(r['last_seen'])}"
        if r["first_seen"] and r["first_seen"] != r["last_seen"]
        else _e(r["first_seen"] or "undated")
    )
    sources = ", ".join(_e(s) for s in r["sources"])
    return (
        f'<li class="claim" data-claim-id="{_e(r["claim_id"])}" style="border-color:{colour}">'
        f'<div class="claim-head"><span class="rank">{rank}</span>'
        f'<span class="dot" style="background:{colour}"></span><b>{_e(en)}</b>'
        f'<span class="stats">{_count(r["n_sources"], "source")} · '
        f"{_count(r['n_articles'], 'article')} · {_count(r['n_quotes'], 'quotation')} · "
        f"{dates}</span></div>"
        + _ar(r["canonical_text"], "blockquote")
        + (f'<p class="muted">Sources: {sources}</p>' if sources else "")
        + f'<ul class="carried">{"".join(carried)}</ul>'
        f'<p class="id">claim_id <code>{_e(r["claim_id"])}</code></p></li>'
    )


def _files(
    tables: Mapping[str, pa.Table], parquet_links: Mapping[str, str], report_dir: str
) -> str:
    if not parquet_links:
        return (
            '<section id="files"><h2>Files</h2><p>No Parquet files were published by this '
            "run.</p></section>"
        )
    items = []
    for name, path in parquet_links.items():
        rows = f" — {_fmt(tables[name].num_rows)} rows" if name in tables else ""
        items.append(
            f'<li><a href="{_e(_href(path, report_dir))}"><code>{_e(os.path.basename(path))}'
            f"</code></a>{rows}</li>"
        )
    return (
        '<section id="files"><h2>Files</h2><ul class="files">'
        + "".join(items)
        + '</ul><p class="muted">Open them with DuckDB, pandas or pyarrow; the README shows '
        "queries.</p></section>"
    )


_CSS = f"""
:root {{ color-scheme: light; --muted: #5b6270; --line: #d9dde3; }}
* {{ box-sizing: border-box; }}
body {{ font-family: {LATIN_FONTS}; margin: 0 auto; max-width: 1100px; padding: 24px 28px 60px;
       color: #1d2129; background: #fff; line-height: 1.5; }}
[lang="ar"] {{ font-family: {ARABIC_FONTS}; font-size: 1.12em; line-height: 1.9; }}
h1 {{ margin: 0 0 4px; font-size: 1.7em; }} h2 {{ font-size: 1.3em; margin: 30px 0 10px; }}
.muted {{ color: var(--muted); font-size: .92em; }}
.banner {{ border-radius: 8px; padding: 10px 16px; margin: 18px 0; border: 1px solid; }}
.banner h2 {{ margin: 4px 0; font-size: 1.15em; }}
.banner.pass {{ background: #e9f7ee; border-color: #52a86e; }}
.banner.fail {{ background: #fdecec; border-color: #d0453f; }}
.banner.unknown {{ background: #f2f3f5; border-color: #9aa1ad; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.card {{ border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 140px; }}
.card .n {{ display: block; font-size: 1.6em; font-weight: 700; }}
.card .k {{ color: var(--muted); }}
table.counts {{ border-collapse: collapse; margin: 8px 0; }}
table.counts th, table.counts td {{ border-bottom: 1px solid var(--line); padding: 5px 12px;
       text-align: right; }}
table.counts th:first-child, table.counts td:first-child {{ text-align: left; }}
tr.total td {{ border-top: 2px solid #888; }}
.dot {{ display: inline-block; width: .8em; height: .8em; border-radius: 50%;
       margin-right: 6px; vertical-align: baseline; }}
td.who [lang="ar"] {{ color: var(--muted); margin-left: 6px; }}
svg.chart {{ max-width: 1000px; display: block; margin: 6px 0; }}
svg .lab {{ font: 600 14px {LATIN_FONTS}; fill: #1d2129; }}
svg .lab.ar {{ font: 15px {ARABIC_FONTS}; fill: var(--muted); }}
svg .ax, svg .tot {{ font: 12px {LATIN_FONTS}; fill: var(--muted); }}
svg .base {{ stroke: #b8bec8; }} svg .tick {{ stroke: #888; }}
ol.claims {{ list-style: none; padding: 0; }}
li.claim {{ border-left: 5px solid; padding: 8px 14px; margin: 14px 0; background: #fafbfc; }}
.claim-head {{ display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }}
.rank {{ color: var(--muted); min-width: 1.6em; }}
.stats {{ color: var(--muted); margin-left: auto; }}
blockquote[dir="rtl"] {{ margin: 8px 0; padding: 4px 14px; text-align: right;
       border-right: 3px solid var(--line); font-size: 1.25em; }}
ul.carried {{ margin: 4px 0; padding-left: 20px; }}
p.id {{ margin: 2px 0; font-size: .8em; color: var(--muted); }}
code {{ font-family: "DejaVu Sans Mono", monospace; font-size: .9em; }}
footer {{ margin-top: 40px; color: var(--muted); font-size: .85em; }}
"""


def build_report_html(
    tables: Mapping[str, pa.Table],
    validation: Mapping[str, Any] | None,
    parquet_links: Mapping[str, str],
    *,
    report_dir: str = ".",
    run_id: str | None = None,
    generated_at: dt.datetime | None = None,
    top_claims: int = TOP_CLAIMS,
) -> str:
    """The report page as a string; links are made relative to ``report_dir``."""
    names = _speaker_names(tables)
    when = (generated_at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    run = f" · run <code>{_e(run_id)}</code>" if run_id else ""
    body = "\n".join(
        [
            "<header><h1>isnad — quotations of five ministers in the Arabic press</h1>"
            f'<p class="muted">Generated {_e(when)}{run}</p></header>',
            _validation_banner(validation, report_dir),
            _overview(tables),
            _counts_table(tables, names),
            _timeline(tables, names),
            _top_claims(tables, names, top_claims),
            _files(tables, parquet_links, report_dir),
            "<footer>isnad (إسناد): every quotation, who said it and where it was carried. "
            "This page loads nothing from the network.</footer>",
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en" dir="ltr">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">\n"
        "<title>isnad report</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def render_report(
    tables: Mapping[str, pa.Table],
    validation: Mapping[str, Any] | None,
    out_dir: str,
    parquet_links: Mapping[str, str],
    *,
    run_id: str | None = None,
) -> str:
    """Write ``<out_dir>/report/index.html`` (replacing the previous one atomically) and
    return its path. ``validation`` is ``ValidationReport.to_dict()``; ``parquet_links``
    maps table name to its file, linked relatively."""
    report_dir = os.path.join(out_dir, REPORT_DIR)
    os.makedirs(report_dir, exist_ok=True)
    page = build_report_html(
        tables, validation, parquet_links, report_dir=report_dir, run_id=run_id
    )
    path = os.path.join(report_dir, REPORT_FILE)
    staged = os.path.join(report_dir, f".index-{secrets.token_hex(8)}.html")
    # Not mkstemp, which makes the file 0600: opened as open() would, the umask applies.
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(staged, path)
    except BaseException:
        if os.path.exists(staged):
            os.remove(staged)
        raise
    return path
