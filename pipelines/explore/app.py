"""The explorer's web application: FastAPI routes, Jinja2 templates (autoescaped: every text
from the data is escaped), a strict Content-Security-Policy, and nothing but GET.

Pages: ``/`` (search, its whole query in the URL), ``/article/{id}``, ``/claim/{id}``,
``/export.csv`` and ``/export.parquet`` (the current result set), and the run's report
(``/report/``) and Data Docs (``/validation/``) as published next to the tables, each given a
link back to the explorer. No script anywhere in the explorer's own pages; styles come from
its own static files; no font, script or style is loaded from the network.
"""

from __future__ import annotations

import mimetypes
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from pipelines.explore import highlight
from pipelines.explore.data import (
    FACETS,
    OTHER,
    PER_PAGE,
    Explorer,
    Query,
    read_published_file,
)
from pipelines.report import speaker_colours

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The report page's own policy (inline <style>, no script), sent as a header too.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"
FACET_LABELS = {
    "speaker_id": "Speaker",
    "source": "Source",
    "quote_type": "Quote type",
    "attribution_method": "Attribution method",
}
FACET_LIMIT = 15  # values listed beside the results; the filter's menu lists them all
BACK_LINK = (
    b'<nav style="font:14px sans-serif;padding:6px 12px;background:#eef2f7">'
    b'<a href="/">\xe2\x86\x90 isnad explorer</a></nav>'
)


def live_link(url: Any) -> str | None:
    """Only http(s) URLs become links; anything else (``javascript:``, ``data:``) is text."""
    if not isinstance(url, str) or not url.strip():
        return None
    scheme = urllib.parse.urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in ("http", "https") else None


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    env.globals.update(
        live_link=live_link, facet_labels=FACET_LABELS, other=OTHER, facet_limit=FACET_LIMIT
    )
    return env


def speakers_css(speaker_ids: Iterable[str]) -> str:
    """One class a speaker, its colour from the report's palette in the dataset's registry
    order (unknown speakers grey)."""
    rules = [".sp { --sp: #8a8f98; }"]
    rules += [
        f".sp-{sid} {{ --sp: {colour}; }}" for sid, colour in speaker_colours(speaker_ids).items()
    ]
    return "\n".join(rules) + "\n"


def create_app(explorer: Explorer) -> FastAPI:
    """The application over one loaded dataset."""
    app = FastAPI(title="isnad explorer", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(env=_environment())
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def read_only_and_csp(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("read-only", status_code=405, headers={"Allow": "GET"})
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def page(request: Request, template: str, **context: Any) -> HTMLResponse:
        context.update(speakers=explorer.speakers, version=explorer.version, uri=explorer.uri)
        return templates.TemplateResponse(request, template, context)

    _add_search(app, explorer, page)
    _add_views(app, explorer, page)
    _add_published(app, explorer, page)
    return app


Page = Callable[..., HTMLResponse]


def _add_search(app: FastAPI, explorer: Explorer, page: Page) -> None:
    """``/`` and the exports of its result set."""

    @app.get("/", response_class=HTMLResponse)
    def search(request: Request) -> HTMLResponse:
        query = Query.from_params(request.query_params)
        results = explorer.search(query)

        def link(**changes: Any) -> str:
            return "?" + urllib.parse.urlencode(query.params(**changes))

        for row in results.rows:
            spans = highlight.quote_spans(row)
            row["pieces"] = highlight.pieces(row["snippet"] or "", spans, row["ctx_start"])
        return page(
            request, "search.html", query=query, results=results, link=link, facets=FACETS,
            export=urllib.parse.urlencode(query.params(page=None)),
            pages=-(-results.total // PER_PAGE),
        )  # fmt: skip

    @app.get("/export.{fmt}")
    def export(request: Request, fmt: str) -> Response:
        if fmt not in ("csv", "parquet"):
            raise HTTPException(404)
        body = explorer.export(Query.from_params(request.query_params), fmt)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.apache.parquet"
        disposition = f'attachment; filename="isnad-quotes.{fmt}"'
        return Response(body, media_type=media, headers={"Content-Disposition": disposition})


def _add_views(app: FastAPI, explorer: Explorer, page: Page) -> None:
    """An article with its quotations marked; a claim's quotations on a timeline."""

    @app.get("/article/{article_id}", response_class=HTMLResponse)
    def article(request: Request, article_id: str) -> HTMLResponse:
        row = explorer.article(article_id)
        if row is None:
            raise HTTPException(404, "no such article")
        quotes = explorer.article_quotes(article_id)
        fields = {
            name: highlight.field_pieces(row, name, quotes)
            for name in ("title", "text")
            if row.get(name)
        }
        return page(request, "article.html", article=row, quotes=quotes, fields=fields)

    @app.get("/claim/{claim_id}", response_class=HTMLResponse)
    def claim(request: Request, claim_id: str) -> HTMLResponse:
        row = explorer.claim(claim_id)
        if row is None:
            raise HTTPException(404, "no such claim")
        quotes = explorer.claim_quotes(claim_id)
        for quote in quotes:
            spans = highlight.quote_spans(quote)
            quote["pieces"] = highlight.pieces(quote["snippet"] or "", spans, quote["ctx_start"])
        return page(request, "claim.html", claim=row, quotes=quotes)


def _add_published(app: FastAPI, explorer: Explorer, page: Page) -> None:
    """The speakers' colours, and the report and Data Docs the run published."""

    @app.get("/speakers.css")
    def colours() -> Response:
        return Response(speakers_css(explorer.speakers), media_type="text/css")

    @app.get("/report/{path:path}")
    def report(path: str) -> Response:
        return published_page(explorer.uri, "report", path, REPORT_CSP)

    @app.get("/validation/{path:path}")
    def data_docs(path: str) -> Response:
        # GE's pages carry their own policy (a nonce for its scripts) in a <meta>.
        return published_page(explorer.uri, "validation", path, None)

    @app.get("/{name}", response_class=HTMLResponse)
    def table(request: Request, name: str) -> Response:
        """The report links each table's directory (``../quotes``): what it holds."""
        if name == "quotes":
            return RedirectResponse("/", status_code=303)
        if name in ("report", "validation"):
            return RedirectResponse(f"/{name}/", status_code=308)
        if name not in explorer.table_rows:
            raise HTTPException(404)
        return page(request, "table.html", table=name, rows=explorer.table_rows[name])


def published_page(uri: str, directory: str, path: str, csp: str | None) -> Response:
    """A file of the report or the Data Docs, as the run published it; an HTML page gets a
    link back to the explorer at the top of its body."""
    parts = [p for p in (path or "index.html").split("/") if p]
    if not parts or any(p in (".", "..") or "\\" in p for p in parts):
        raise HTTPException(404)
    if path.endswith("/"):
        parts.append("index.html")
    body = read_published_file(uri, "/".join([directory, *parts]))
    if body is None:
        raise HTTPException(404, f"no {directory}/{'/'.join(parts)} in the dataset")
    media = mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
    if media == "text/html":
        body = re.sub(rb"(<body[^>]*>)", lambda m: m.group(1) + BACK_LINK, body, count=1)
    headers: Mapping[str, str] = {"Content-Security-Policy": csp} if csp else {}
    response = Response(body, media_type=media, headers=dict(headers))
    if csp is None:
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response
