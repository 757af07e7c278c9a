"""Reading the published dataset: the readers' entry points (the README's examples).

Each function opens the store ``out`` names (:func:`pipelines.store.open_store`: a local
directory, or an ``s3://``... URI) and reads one committed version of it. The run itself,
and anything that reads or writes the dataset more than once, holds the store instead:
``open_store(out)`` once, then its methods.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines import tabulate
from pipelines.store import Snapshot, Store, open_store


@contextlib.contextmanager
def open_dataset(out: str | Path | Store) -> Iterator[Snapshot]:
    """The current version of every table, pinned for as long as the block runs. Tables read
    one after another from it are of one version, however many runs commit meanwhile::

        with dataset.open_dataset("output") as snap:
            quotes = snap.read("quotes").to_pandas()
            articles = snap.read("articles").to_pandas()
            duckdb.read_parquet(snap.files("sentences"))

    On a local dataset the version is held (a shared ``flock`` on its manifest) until the
    block ends: a run deletes no version a reader holds. On a remote one (no locks there)
    the current and the previous versions are kept: finish reading before the second run
    that follows commits. Raises :class:`pipelines.store.DatasetError` when nothing is
    published.
    """
    with open_store(out).open_dataset() as snapshot:
        yield snapshot


def read_tables(
    out: str | Path | Store,
    names: Iterable[str] = tabulate.TABLE_NAMES,
    *,
    columns: Mapping[str, list[str]] | None = None,
) -> dict[str, pa.Table]:
    """Tables of one version (the current one, read from one manifest); ``columns`` limits
    what is read of some. Empty when nothing is published."""
    return open_store(out).read_tables(names, columns=columns)


def read_table(
    out: str | Path | Store, name: str, columns: list[str] | None = None
) -> pa.Table | None:
    """One table of the current version (None when nothing is published)."""
    return open_store(out).read_table(name, columns)


def read_manifest(out: str | Path | Store) -> dict[str, Any] | None:
    """The current version's manifest (``<out>/_SUCCESS``) as JSON, or None."""
    return open_store(out).read_manifest()
