"""Jinja views for Great Expectations' Data Docs that escape every value from the data.

GE 1.24 renders its pages with Jinja templates named ``*.j2``, which its
``select_autoescape(["html", "xml"])`` leaves unescaped, and its ``render_content_block``
filter returns a plain string (a cell of an unexpected-values table: a failing ``url``, a
quarantined file's name) as raw HTML. Only the parameters of its string templates are escaped.
A record whose ``url`` fails the URL expectation thus wrote ``<script>`` into the page.

These views are GE's own (``DefaultJinjaPageView``, ``DefaultJinjaIndexPageView``),
configured for the site in ``validate.gx.context`` through the SiteBuilder's ``view`` option.
They change one rule, in the filter every template cell, header and list item goes through: a
value that is not a content block (a string, a number, a tuple of a column pair, a dict) is
text, escaped; content blocks are rendered by GE's templates as before, and string templates
keep GE's own escaping of their parameters. The index page's table data, which GE builds as
HTML from suite and run names (never from the data), is left as GE makes it.

Defence in depth, should a value ever reach a page raw: every page carries a
Content-Security-Policy under which only GE's own scripts run. Its ``<script>`` tags (inline
ones and those of its CDN libraries) get a fresh nonce per page; its three inline ``onclick``
handlers (which no such policy allows) become ``data-isnad-click`` attributes bound by a nonced
script, to the same three functions. Styles, fonts and the logo still load from GE's CDNs, so
the pages look as GE made them wherever those are reachable.

GE loads this module by name when it builds the docs (it imports great_expectations).
"""

from __future__ import annotations

import html
import re
import secrets
from typing import Any

from great_expectations.render import RenderedComponentContent
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BaseLoader, Environment, pass_context


def escape(value: Any) -> str:
    """``value`` as HTML text (quotes too: a value may end up in an attribute)."""
    return "" if value is None else html.escape(str(value), quote=True)


# Hosts GE's pages load styles, fonts and images from (render/view/templates, GE 1.24.1).
STYLE_HOSTS = (
    "https://unpkg.com https://maxcdn.bootstrapcdn.com https://cdnjs.cloudflare.com "
    "https://cdn.jsdelivr.net"
)
IMAGE_HOSTS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com"
CSP = (
    "default-src 'none'; script-src 'nonce-{nonce}'; "
    f"style-src 'unsafe-inline' {STYLE_HOSTS}; font-src https://cdnjs.cloudflare.com; "
    f"img-src 'self' data: {IMAGE_HOSTS}; base-uri 'none'; form-action 'none'"
)
CLICKABLE = ("showAllValidations", "hideSucceededValidations", "clearTableFilters")
BIND_CLICKS = (
    "<script>\n"  # given its nonce with every other script tag
    "document.querySelectorAll('[data-isnad-click]').forEach((el) => {\n"
    f"  if (!{list(CLICKABLE)}.includes(el.dataset.isnadClick)) return;\n"
    "  el.onclick = () => window[el.dataset.isnadClick]"
    "(...('isnadArg' in el.dataset ? [el.dataset.isnadArg] : []));\n"
    "});\n</script>\n"
)
# (template, GE's text, isnad's): each must be found, or GE changed and the policy is wrong.
PATCHES: tuple[tuple[str, str, str], ...] = (
    ("page.j2", "<head>", '<head>\n    <meta http-equiv="Content-Security-Policy" '
     'content="{{ csp_policy }}">'),
    ("index_page.j2", "<head>", '<head>\n    <meta http-equiv="Content-Security-Policy" '
     'content="{{ csp_policy }}">'),
    ("page.j2", "</body>", BIND_CLICKS + "</body>"),
    ("index_page.j2", "</body>", BIND_CLICKS + "</body>"),
    ("bootstrap_table.j2", "onclick=\"clearTableFilters('{{ table_id }}')\"",
     'data-isnad-click="clearTableFilters" data-isnad-arg="{{ table_id }}"'),
    ("page_action_card.j2", 'onclick="showAllValidations()"',
     'data-isnad-click="showAllValidations"'),
    ("page_action_card.j2", 'onclick="hideSucceededValidations()"',
     'data-isnad-click="hideSucceededValidations"'),
)  # fmt: skip
_SCRIPT_TAG = re.compile(r"<script(?=[\s>])")


class _PolicyLoader(BaseLoader):
    """GE's templates with the patches above and a nonce on every ``<script>`` tag."""

    def __init__(self, inner: BaseLoader) -> None:
        self.inner = inner

    def get_source(self, environment: Environment, template: str) -> Any:
        source, filename, uptodate = self.inner.get_source(environment, template)
        for name, old, new in PATCHES:
            if name == template:
                if old not in source:
                    raise RuntimeError(f"GE's {template} has no {old!r}: update datadocs.PATCHES")
                source = source.replace(old, new)
        source = _SCRIPT_TAG.sub('<script nonce="{{ csp_nonce }}"', source)
        return source, filename, uptodate


class _EscapingView:
    """``render_content_block`` that treats whatever is not a content block as text; pages
    under a Content-Security-Policy (see the module's docstring)."""

    env: Any  # the Jinja environment of the Great Expectations view this is mixed into

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.loader = _PolicyLoader(self.env.loader)

    def render(self, document: Any, template: Any = None, **kwargs: Any) -> Any:
        nonce = secrets.token_urlsafe(18)
        return super().render(  # type: ignore[misc]
            document, template, csp_nonce=nonce, csp_policy=CSP.format(nonce=nonce), **kwargs
        )

    @pass_context
    def render_content_block(
        self,
        jinja_context: Any,
        content_block: Any,
        index: Any = None,
        content_block_id: Any = None,
        render_to_markdown: bool = False,
    ) -> Any:
        if isinstance(content_block, RenderedComponentContent):
            content_block = content_block.to_json_dict()
        if isinstance(content_block, dict) and content_block.get("content_block_type"):
            return super().render_content_block(  # type: ignore[misc]
                jinja_context, content_block, index, content_block_id, render_to_markdown
            )
        if isinstance(content_block, list):
            parts = []
            for i, element in enumerate(content_block):
                if isinstance(element, RenderedComponentContent) or (
                    isinstance(element, dict) and "content_block_type" in element
                ):
                    child = f"{content_block_id}-{i}" if content_block_id else None
                    parts.append(self.render_content_block(jinja_context, element, i, child))
                elif render_to_markdown:
                    parts.append(escape(element))
                else:
                    parts.append(f"<span>{escape(element)}</span>")
            return "".join(parts)
        return escape(content_block)

    def render_dict_values(
        self, context: Any, dict_: dict, index: Any = None, content_block_id: Any = None
    ) -> None:
        # The index's bootstrap-table rows: GE's HTML of suite and run names, kept as it is.
        for key, value in dict_.items():
            if not key.startswith("_") and not isinstance(value, str):
                dict_[key] = self.render_content_block(context, value, index, content_block_id)


class EscapingPageView(_EscapingView, DefaultJinjaPageView):
    """Validation result and expectation suite pages."""


class EscapingIndexPageView(_EscapingView, DefaultJinjaIndexPageView):
    """The site's index page."""
