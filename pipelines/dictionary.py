"""The data dictionary, generated from the pyarrow schemas: ``docs/data-dictionary.md``.

    .venv/bin/python -m pipelines.dictionary           # rewrite docs/data-dictionary.md
    .venv/bin/python -m pipelines.dictionary --check   # exit 1 when it is out of date

Every column's meaning is the ``description`` in its field metadata (``tabulate.SCHEMAS``,
``claims.CLAIMS_SCHEMA``); nested struct fields get rows of their own
(``dropped_spans[].reason``). ``tests/test_claims.py`` fails when the committed file differs
from what the schemas generate, so a schema change and its documentation travel together.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pyarrow as pa

from pipelines import claims, tabulate

DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "data-dictionary.md"
REGENERATE = ".venv/bin/python -m pipelines.dictionary"


def all_schemas() -> dict[str, pa.Schema]:
    """``tabulate.SCHEMAS`` with the claims table (after ``quotes``) and ``quotes.claim_id``,
    whether or not they have been wired into ``tabulate.SCHEMAS`` yet."""
    out: dict[str, pa.Schema] = {}
    for name, schema in tabulate.SCHEMAS.items():
        if name == claims.TABLE_NAME:
            continue
        if name == "quotes" and claims.CLAIM_ID_FIELD.name not in schema.names:
            schema = schema.append(claims.CLAIM_ID_FIELD)
        out[name] = schema
        if name == "quotes":
            out[claims.TABLE_NAME] = tabulate.SCHEMAS.get(claims.TABLE_NAME, claims.CLAIMS_SCHEMA)
    return out


def type_name(type_: pa.DataType) -> str:
    """A short type: ``string``, ``date32[day]``, ``list<string>``, ``list<struct>``."""
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return f"list<{type_name(type_.value_type)}>"
    if pa.types.is_struct(type_):
        return "struct"
    return str(type_)


def _description(field: pa.Field) -> str:
    raw = (field.metadata or {}).get(b"description", b"")
    return raw.decode("utf-8").replace("|", "\\|").replace("\n", " ")


def _rows(field: pa.Field, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """(column, type, nullable, meaning) for a field and, depth first, its struct children."""
    name = f"{prefix}{field.name}"
    yield name, type_name(field.type), "yes" if field.nullable else "no", _description(field)
    inner = field.type
    suffix = ""
    while pa.types.is_list(inner) or pa.types.is_large_list(inner):
        inner, suffix = inner.value_type, suffix + "[]"
    if pa.types.is_struct(inner):
        for child in inner:
            yield from _rows(child, f"{name}{suffix}.")


def render_data_dictionary(schemas: Mapping[str, pa.Schema]) -> str:
    """Markdown: one table of (column, type, nullable, meaning) per schema."""
    meta_keys = sorted(
        value.decode()
        for key, value in vars(tabulate).items()
        if key.startswith("META_") and isinstance(value, bytes)
    )
    lines = [
        "# Data dictionary",
        "",
        "<!-- Generated from the pyarrow schemas (pipelines/tabulate.py SCHEMAS, "
        "pipelines/claims.py CLAIMS_SCHEMA). Do not edit: run",
        f"     {REGENERATE}   -->",
        "",
        f"Schema version {tabulate.SCHEMA_VERSION}. One directory of Parquet parts per table "
        "under the output directory (`<out>/<table>/*.parquet`, one dataset per table); each "
        "part's footer key/value metadata holds "
        + ", ".join(f"`{k}`" for k in meta_keys)
        + ". Offsets are end-exclusive and count Unicode code points, as Python indexes `str`. "
        "Nested fields are listed under their column (`column[].field` for a list of structs).",
        "",
        "Tables: " + ", ".join(f"[`{name}`](#{name})" for name in schemas) + ".",
    ]
    for name, schema in schemas.items():
        lines += [
            "",
            f"## {name}",
            "",
            "| column | type | nullable | meaning |",
            "|---|---|---|---|",
        ]
        for field in schema:
            lines += [
                f"| `{column}` | {type_} | {nullable} | {meaning} |"
                for column, type_, nullable, meaning in _rows(field)
            ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check docs/data-dictionary.md.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--path", type=Path, default=DOCS_PATH)
    args = parser.parse_args(argv)
    text = render_data_dictionary(all_schemas())
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else None
        if current != text:
            print(f"{args.path} is out of date: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(text, encoding="utf-8")
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
