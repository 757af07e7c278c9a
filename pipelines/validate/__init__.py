"""Validate the output tables against the Great Expectations suites in ``expectations/``.

Three layers, cheapest first:

1. the Arrow schema of each table against ``tabulate.SCHEMAS`` (names, order, exact types,
   nested ones included), in Python: GE only sees pandas dtypes (:mod:`.frames`);
2. derived check columns (``chk_*``, one boolean a row) for what needs the text or another
   table, appended to the frame GE validates: :mod:`.checks` is their registry (one entry a
   column: what it reads, how it is computed, when), :mod:`.spans` the vectorised span and
   count pieces, :mod:`.derive` computes them (per batch, or over the whole run);
3. the GE suites, one per table, loaded from JSON (:mod:`.suites`) and run by :mod:`.gx`,
   which also builds the optional Data Docs site and holds :func:`validate_tables`.

:mod:`.results` holds the report records and their Markdown; :mod:`.rows` evaluates the
suites' row-level expectations over one batch, to quarantine an article instead of failing
the run. Great Expectations is imported only inside the functions that need it (~4 s).
"""

from pipelines.validate.checks import BATCH_CHECKED, CHECKS, DERIVED, DERIVED_READS
from pipelines.validate.derive import batch_checks, derive_check_columns
from pipelines.validate.frames import FRAME_COLUMNS, FRAME_DICTIONARY, FRAME_DROPS, frame
from pipelines.validate.gx import DOCS_SITE, ROW_KEYS, chunk_bounds, prewarm, validate_tables
from pipelines.validate.results import CheckResult, TableReport, ValidationReport
from pipelines.validate.rows import (
    PER_ARTICLE,
    ROW_LEVEL_TYPES,
    failed_articles,
    row_expectations,
)
from pipelines.validate.suites import (
    SUITES_DIR,
    SuiteError,
    expectation_label,
    load_suite,
    read_suite_json,
    suite_parameters,
)

__all__ = [
    "BATCH_CHECKED",
    "CHECKS",
    "DERIVED",
    "DERIVED_READS",
    "DOCS_SITE",
    "FRAME_COLUMNS",
    "FRAME_DICTIONARY",
    "FRAME_DROPS",
    "PER_ARTICLE",
    "ROW_KEYS",
    "ROW_LEVEL_TYPES",
    "SUITES_DIR",
    "CheckResult",
    "SuiteError",
    "TableReport",
    "ValidationReport",
    "batch_checks",
    "chunk_bounds",
    "derive_check_columns",
    "expectation_label",
    "failed_articles",
    "frame",
    "load_suite",
    "prewarm",
    "read_suite_json",
    "row_expectations",
    "suite_parameters",
    "validate_tables",
]
