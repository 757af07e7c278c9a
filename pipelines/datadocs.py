"""Jinja views for Great Expectations' Data Docs that escape every value from the data.

GE 1.24 renders its pages with Jinja templates named ``*.j2``, which its
``select_autoescape(["html", "xml"])`` leaves unescaped, and its ``render_content_block``
filter returns a plain string (a cell of an unexpected-values table: a failing ``url``, a
quarantined file's name) as raw HTML. Only the parameters of its string templates are escaped.
A record whose ``url`` fails the URL expectation thus wrote ``<script>`` into the page.

These views are GE's own (``DefaultJinjaPageView``, ``DefaultJinjaIndexPageView``),
configured for the site in ``validate._context`` through the SiteBuilder's ``view`` option.
They change one rule, in the filter every template cell, header and list item goes through: a
value that is not a content block (a string, a number, a tuple of a column pair, a dict) is
text, escaped; content blocks are rendered by GE's templates as before, and string templates
keep GE's own escaping of their parameters. The index page's table data, which GE builds as
HTML from suite and run names (never from the data), is left as GE makes it.

GE loads this module by name when it builds the docs (it imports great_expectations).
"""

from __future__ import annotations

import html
from typing import Any

from great_expectations.render import RenderedComponentContent
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import pass_context

MODULE = __name__


def escape(value: Any) -> str:
    """``value`` as HTML text (quotes too: a value may end up in an attribute)."""
    return "" if value is None else html.escape(str(value), quote=True)


class _EscapingView:
    """``render_content_block`` that treats whatever is not a content block as text."""

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
                    parts.append(
                        self.render_content_block(jinja_context, element, i, child)  # type: ignore[call-arg]
                    )
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
