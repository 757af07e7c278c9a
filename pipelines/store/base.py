"""What every store of the published dataset shares: names, the manifest, errors, the
lock-wait loop, readers of one version, and a transaction's bookkeeping.

A store (:class:`Store`) is where ``--out`` points: a local directory
(:mod:`pipelines.store.local`) or a prefix on an object store (:mod:`pipelines.store.object`).
Both keep the same manifest (``_SUCCESS``: version, run id, schema version, each table's
parts and row counts) and the same part names (``part-<version>-<n>.parquet``); they differ
only in how a version is staged and made current (the commit), how the lock is held, and
where a part's file lives. This module knows nothing of either: each subclass fills in the
few abstract methods, and the protocol that does not depend on the medium stays here:

- :class:`Transaction` counts parts, checks columns, names the next version and its parts,
  closes empty tables, builds the manifest, and refuses to commit over a version another
  writer committed meanwhile (the version-race check);
- :class:`Store` publishes one run's changes (``publish``), idempotently per run id, and
  reads one version (``open_dataset``, ``read_tables``);
- :func:`wait_for_lock` is the loop a run waits in for another run's lock.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pyarrow as pa

from pipelines import tabulate

LAYOUT_VERSION = 1
MANIFEST_NAME = "_SUCCESS"
INTERNAL_DIR = ".isnad"
VERSIONS = "versions"
VERSION_NAME = re.compile(r"^v(\d{6,})$")
# A part's file name carries the version it was written in (an object store finds the
# part's directory by it; a local one keeps every part of a version in its directory).
PART_VERSION = re.compile(r"^part-(\d{6,})-\d+\.parquet$")
# Parquet settings of every part. No dictionary encoding: the bulk of the parts is text whose
# values are nearly all distinct, where building the dictionary is wasted work (then thrown
# away past its 1 MiB limit), and zstd catches the repeated short values as well (measured on
# SaudiNewsNet: parts ~1% smaller, 5-15% less CPU to write).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": False}


def version_name(version: int) -> str:
    """The directory name of a version (``VERSION_NAME`` reads it back)."""
    return f"v{version:06d}"


def part_name(version: int, n: int) -> str:
    """The file name of the ``n``-th part a version writes (``PART_VERSION`` reads it back)."""
    return f"part-{version:06d}-{n:05d}.parquet"


class DatasetError(RuntimeError):
    """The output cannot be used as an isnad dataset (as it stands)."""


class DatasetLocked(DatasetError):
    """Another run holds the dataset's lock."""


class OutputMisplaced(DatasetError):
    """The output cannot be where it was asked to be (a file; inside an input, or holding
    one): knowable from the arguments alone."""


@dataclass(frozen=True)
class Part:
    file: str
    rows: int


@dataclass(frozen=True)
class Manifest:
    """What one committed version holds: the parts of each table, with row counts."""

    version: int
    run_id: str
    schema_version: str
    written_at: str
    previous_version: int | None
    tables: dict[str, tuple[Part, ...]]
    columns: dict[str, list[str]]

    def rows(self, name: str) -> int:
        return sum(part.rows for part in self.tables.get(name, ()))

    def to_json(self) -> dict[str, Any]:
        return {
            "layout": LAYOUT_VERSION,
            "version": self.version,
            "previous_version": self.previous_version,
            "run_id": self.run_id,
            "schema_version": self.schema_version,
            "written_at": self.written_at,
            "tables": {
                name: {
                    "rows": self.rows(name),
                    "columns": self.columns.get(name, []),
                    "parts": [{"file": p.file, "rows": p.rows} for p in parts],
                }
                for name, parts in self.tables.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        tables = data["tables"]
        return cls(
            version=int(data["version"]),
            run_id=str(data["run_id"]),
            schema_version=str(data["schema_version"]),
            written_at=str(data["written_at"]),
            previous_version=data.get("previous_version"),
            tables={
                name: tuple(Part(p["file"], int(p["rows"])) for p in entry["parts"])
                for name, entry in tables.items()
            },
            columns={name: list(entry.get("columns", [])) for name, entry in tables.items()},
        )


def check_schema_version(where: str, manifest: Manifest) -> None:
    if manifest.schema_version != tabulate.SCHEMA_VERSION:
        raise DatasetError(
            f"{where} holds schema version {manifest.schema_version}; this isnad writes "
            f"{tabulate.SCHEMA_VERSION}: publish into a new directory"
        )


def check_publishable(name: str, table: pa.Table) -> None:
    if not name.isidentifier():
        raise ValueError(f"table name {name!r} is not a plain identifier")
    expected = tabulate.SCHEMAS.get(name)
    if expected is not None and not table.schema.equals(expected, check_metadata=False):
        raise ValueError(f"table {name!r} does not match its declared schema:\n{table.schema}")


def stamped(name: str, table: pa.Table, run_id: str) -> pa.Table:
    """``table`` checked publishable as ``name``, with the schema version, table name and run
    in its key/value metadata (what a part's footer records)."""
    check_publishable(name, table)
    metadata = dict(table.schema.metadata or {})
    metadata[tabulate.META_SCHEMA_VERSION] = tabulate.SCHEMA_VERSION.encode()
    metadata[tabulate.META_TABLE] = name.encode()
    metadata[tabulate.META_RUN_ID] = run_id.encode()
    return table.replace_schema_metadata(metadata)


def wait_for_lock(
    try_lock: Callable[[], bool],
    *,
    timeout: float,
    poll: float,
    refusal: Callable[[str], str],
) -> None:
    """Call ``try_lock`` until it returns True, for up to ``timeout`` seconds (once at
    least), ``poll`` seconds apart; then raise :class:`DatasetLocked` with ``refusal(waited)``
    (``waited``: " after waiting N s", or "" when the run did not wait)."""
    deadline = time.monotonic() + max(timeout, 0.0)
    while not try_lock():
        if time.monotonic() >= deadline:
            waited = f" after waiting {timeout:g} s" if timeout > 0 else ""
            raise DatasetLocked(refusal(waited))
        time.sleep(poll)


def lock_refusal(where: str, holder: str, waited: str, hint: str = "") -> str:
    """The message of a run that found the lock held (the same for every store)."""
    return (
        f"{where} is being written by another {holder}; this run did nothing{waited}. "
        f"Let it finish, or wait for it with --lock-timeout SECONDS{hint}."
    )


class Staging(abc.ABC):
    """Where a run's new parts are written before the commit: the staged version's directory.
    Picklable (it travels to worker processes in ``stream.BatchJob``)."""

    @abc.abstractmethod
    def write(self, name: str, file: str, table: pa.Table, run_id: str) -> None:
        """Write part ``file`` of table ``name`` (stamped; durable once this returns)."""

    @abc.abstractmethod
    def read(self, name: str, file: str, columns: list[str] | None = None) -> pa.Table:
        """Columns of part ``file`` of ``name`` (Parquet reads only those)."""

    @abc.abstractmethod
    def has(self, name: str, file: str) -> bool:
        """Whether part ``file`` of ``name`` was written."""

    def prepare(self, name: str) -> None:  # noqa: B027 (a hook: nothing by default)
        """Make ready for parts of ``name`` (a directory, where the medium needs one)."""


@dataclass(frozen=True)
class Snapshot(abc.ABC):
    """One committed version, read consistently however many commits follow."""

    manifest: Manifest

    @abc.abstractmethod
    def part_location(self, name: str, file: str) -> str:
        """Where a reader finds part ``file`` of ``name`` (a path, or a URI)."""

    @abc.abstractmethod
    def read_part(self, name: str, file: str, columns: list[str] | None = None) -> pa.Table:
        """The rows of one part of this version."""

    @property
    def version(self) -> int:
        return self.manifest.version

    @property
    def names(self) -> tuple[str, ...]:
        """The tables of this version."""
        return tuple(self.manifest.tables)

    def files(self, name: str) -> list[str]:
        """Where ``name``'s parts are in this version (DuckDB's ``read_parquet`` and
        ``pandas.read_parquet`` take such a list); they never change once committed."""
        if name not in self.manifest.tables:
            raise KeyError(f"version {self.version} has no table {name!r}")
        return [self.part_location(name, p.file) for p in self.manifest.tables[name]]

    def read_parts(self, name: str, columns: list[str] | None = None) -> list[tuple[str, pa.Table]]:
        """``(file, rows)`` of each part of ``name``, in manifest order."""
        return [
            (p.file, self.read_part(name, p.file, columns))
            for p in self.manifest.tables.get(name, ())
        ]

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table | None:
        """The whole table (None when this version has no such table)."""
        if name not in self.manifest.tables:
            return None
        parts = [table for _, table in self.read_parts(name, columns)]
        if not parts:
            schema = tabulate.SCHEMAS[name]
            return schema.empty_table().select(columns) if columns else schema.empty_table()
        return pa.concat_tables(parts)

    def read_tables(
        self, names: Iterable[str] | None = None, *, columns: Mapping[str, list[str]] | None = None
    ) -> dict[str, pa.Table]:
        """Tables of this version (all by default; names it lacks are left out)."""
        tables = {}
        for name in self.names if names is None else names:
            table = self.read(name, (columns or {}).get(name))
            if table is not None:
                tables[name] = table
        return tables


class Transaction(abc.ABC):
    """One new version in the making; nothing is visible to readers until :meth:`commit`.

    Open it with :meth:`Store.transaction` while holding :meth:`Store.locked`. ``append``
    adds a part (it can be called once per batch, as batches come), ``replace`` makes a
    table one new part, ``rewrite`` replaces one part of the current version by a new file;
    batches running elsewhere write parts into :attr:`staging` under names :meth:`reserve`
    gives, and the run :meth:`adopt`\\ s them. Tables not touched are carried over. Used as a
    context manager, an exception (or a missing commit) discards the staging.

    A subclass says how the version is staged and made current (``_open_staging``,
    ``_stage``, ``_swap``, ``abort``) and what old versions go (``_collect_garbage``).
    """

    def __init__(self, store: Store, run_id: str) -> None:
        if not store.holds_lock():
            raise DatasetError(
                f"a transaction on {store.display} needs the dataset's lock held "
                "(Store.locked) for the whole run"
            )
        self.store = store
        self.run_id = run_id
        self.base = store.snapshot()
        base = self.base.manifest if self.base else None
        self.version = (base.version if base else 0) + 1
        self._collect_garbage(base)
        self.staging = self._open_staging()
        self._parts: dict[str, list[Part]] = {
            name: list(parts) for name, parts in (base.tables.items() if base else ())
        }
        self._columns: dict[str, list[str]] = dict(base.columns) if base else {}
        self._written: set[tuple[str, str]] = set()
        self._empty: dict[str, pa.Table] = {}  # schema of a new table given no rows yet
        self._counter = 0
        self._done = False

    # --- what a medium fills in -------------------------------------------------------------

    @abc.abstractmethod
    def _collect_garbage(self, base: Manifest | None) -> None:
        """Delete what no reader of ``base`` or its previous version needs (before staging)."""

    @abc.abstractmethod
    def _open_staging(self) -> Staging:
        """Create the staged version's directory."""

    @abc.abstractmethod
    def _stage(self, manifest: Manifest) -> None:
        """Make the staged version complete and durable (its manifest last), not yet current."""

    @abc.abstractmethod
    def _swap(self, manifest: Manifest) -> None:
        """Make the staged version the current one: the commit itself."""

    def _tidy(self, manifest: Manifest) -> None:  # noqa: B027 (a hook: nothing by default)
        """After the commit: remove what the committed version no longer needs."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Discard the staged version."""

    # --- the bookkeeping --------------------------------------------------------------------

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._done:
            self.abort()

    def _check_columns(self, name: str, columns: list[str]) -> None:
        if name in self._columns and self._columns[name] != columns:
            raise ValueError(f"table {name!r} has columns {columns}, its parts "
                             f"{self._columns[name]}")  # fmt: skip

    def reserve(self, name: str) -> str:
        """A new part file name for ``name``, whose file someone else (a worker process)
        writes into :attr:`staging`, then :meth:`adopt`\\ s."""
        self._counter += 1
        self.staging.prepare(name)
        return part_name(self.version, self._counter - 1)

    def adopt(self, name: str, file: str, rows: int, columns: list[str]) -> None:
        """Add the part a worker wrote to a :meth:`reserve`'d file as ``name``'s next part."""
        if not self.staging.has(name, file):
            raise DatasetError(f"part {name}/{file} of {self.store.display} was reserved but "
                               "not written")  # fmt: skip
        self._parts.setdefault(name, []).append(self._register(name, file, rows, columns))

    def _register(self, name: str, file: str, rows: int, columns: list[str]) -> Part:
        """Record a part written into the staging (by this process or a worker)."""
        self._check_columns(name, columns)
        self._columns[name] = list(columns)
        self._written.add((name, file))
        return Part(file, rows)

    def _write_part(self, name: str, table: pa.Table) -> Part:
        self._check_columns(name, table.column_names)  # before writing a file for nothing
        file = self.reserve(name)
        self.staging.write(name, file, table, self.run_id)
        return self._register(name, file, table.num_rows, table.column_names)

    def append(self, name: str, table: pa.Table) -> None:
        """Add ``table``'s rows to ``name`` as a new part (an empty table adds no part)."""
        parts = self._parts.setdefault(name, [])
        if table.num_rows:
            parts.append(self._write_part(name, table))
        elif name not in self._columns:
            check_publishable(name, table)
            self._columns[name] = table.column_names
            self._empty[name] = table

    def replace(self, name: str, table: pa.Table) -> None:
        """Make ``table`` the whole of ``name`` (one part, written even when empty)."""
        self._parts[name] = [self._write_part(name, table)]

    def rewrite(self, name: str, file: str, table: pa.Table) -> None:
        """Replace the current version's part ``file`` of ``name`` by ``table``."""
        parts = self._parts.get(name, [])
        index = next((i for i, p in enumerate(parts) if p.file == file), None)
        if index is None:
            raise KeyError(f"{name} has no part {file!r}")
        parts[index] = self._write_part(name, table)

    def rows(self, name: str) -> int:
        return sum(p.rows for p in self._parts.get(name, ()))

    def carried_over(self) -> Iterator[tuple[str, Part]]:
        """``(table, part)`` of each part the new version keeps from the current one."""
        for name, parts in self._parts.items():
            for part in parts:
                if (name, part.file) not in self._written:
                    yield name, part

    def _close_tables(self) -> None:
        """Each table's final parts: a table keeps one file even when empty (readers glob
        it); empty parts go once the table has rows."""
        for name, parts in self._parts.items():
            kept = [p for p in parts if p.rows] or parts[:1]
            if not kept:
                empty = self._empty.get(name)
                if empty is None:
                    empty = tabulate.SCHEMAS[name].empty_table()
                kept = [self._write_part(name, empty)]
            self._parts[name] = kept

    def _manifest(self) -> Manifest:
        return Manifest(
            version=self.version,
            run_id=self.run_id,
            schema_version=tabulate.SCHEMA_VERSION,
            written_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            previous_version=self.base.manifest.version if self.base else None,
            tables={name: tuple(parts) for name, parts in self._parts.items()},
            columns={name: self._columns[name] for name in self._parts},
        )

    def _check_unmoved(self, manifest: Manifest) -> None:
        """Refuse to commit over a version another writer committed during the run."""
        now = self.store.current_version()
        if now != manifest.previous_version:
            raise DatasetError(
                f"{self.store.display} moved from version {manifest.previous_version} to "
                f"{now} during the run: was it written without the lock?"
            )

    def commit(self) -> Manifest:
        """Make the staged version the current one (atomically) and return its manifest."""
        if self._done:
            raise RuntimeError("transaction already finished")
        self._close_tables()
        manifest = self._manifest()
        self._stage(manifest)
        self._check_unmoved(manifest)
        self._swap(manifest)
        self._done = True
        self._tidy(manifest)
        return manifest


class Store(abc.ABC):
    """The published dataset where ``--out`` points, chosen once by
    :func:`pipelines.store.open_store` and passed to whatever reads or writes it.

    Picklable (a run's tasks and workers receive it). A subclass implements the medium: the
    current version (:meth:`snapshot`, :meth:`pinned`), the lock, the checks before a run,
    a :meth:`transaction`, and where derived directories (the report, Data Docs) are built.
    """

    @property
    @abc.abstractmethod
    def display(self) -> str:
        """The dataset's name in messages (a path, or a URI without its query)."""

    @property
    @abc.abstractmethod
    def absolute(self) -> str:
        """``--out`` as a process started in another directory must be given it (a
        deployment's runs): an absolute path, or the URI as it was written."""

    # --- reading ------------------------------------------------------------------------

    @abc.abstractmethod
    def snapshot(self) -> Snapshot | None:
        """The current version; None when nothing is published.

        Raises :class:`DatasetError` for a dataset this isnad cannot add to (another schema
        version, the old one-file layout, a copy with its symlinks followed).
        """

    @abc.abstractmethod
    def pinned(self) -> contextlib.AbstractContextManager[Snapshot | None]:
        """The current version, kept from deletion while the block runs (None: nothing)."""

    @abc.abstractmethod
    def current_version(self) -> int | None:
        """The number of the current version, as the commit's pointer says now."""

    @abc.abstractmethod
    def read_manifest(self) -> dict[str, Any] | None:
        """The current version's manifest (``<out>/_SUCCESS``) as JSON, or None."""

    @abc.abstractmethod
    def read_file(self, relative: str) -> bytes | None:
        """The bytes of ``<out>/<relative>`` (a file a run wrote beside the tables: the report,
        the Data Docs), or None when there is none or ``relative`` leads outside ``<out>``."""

    @abc.abstractmethod
    def table_paths(self, names: Iterable[str]) -> dict[str, str]:
        """``name ->`` what a reader opens for each table (its directory; or the manifest,
        which lists each table's parts, where directories cannot be read as tables)."""

    @contextlib.contextmanager
    def open_dataset(self) -> Iterator[Snapshot]:
        """The current version of every table, pinned for as long as the block runs (see
        :func:`pipelines.dataset.open_dataset`). Raises :class:`DatasetError` when nothing
        is published."""
        with self.pinned() as snapshot:
            if snapshot is None:
                raise DatasetError(f"nothing is published in {self.display}")
            yield snapshot

    def read_tables(
        self,
        names: Iterable[str] = tabulate.TABLE_NAMES,
        *,
        columns: Mapping[str, list[str]] | None = None,
    ) -> dict[str, pa.Table]:
        """Tables of one version (the current one, read from one manifest); ``columns`` limits
        what is read of some. Empty when nothing is published."""
        with self.pinned() as snapshot:
            return {} if snapshot is None else snapshot.read_tables(names, columns=columns)

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table | None:
        """One table of the current version (None when nothing is published)."""
        return self.read_tables([name], columns={name: columns} if columns else None).get(name)

    # --- before a run -------------------------------------------------------------------

    @abc.abstractmethod
    def check_arguments(self, inputs: Iterable[str]) -> None:
        """Refuse (:class:`OutputMisplaced`) what the arguments alone say cannot work: an
        output that is a file, inside an input or holding one (the next run would read the
        dataset's own files as articles)."""

    @abc.abstractmethod
    def check_output(self) -> None:
        """Refuse (:class:`DatasetError`), before any work, an output a run could not
        publish into; create it where the medium has directories."""

    # --- writing ------------------------------------------------------------------------

    @abc.abstractmethod
    def locked(
        self, *, timeout: float = 0.0, run_id: str = ""
    ) -> contextlib.AbstractContextManager[None]:
        """Hold the dataset's lock for the block: one writer at a time. Waits up to
        ``timeout`` seconds for another holder, then raises :class:`DatasetLocked`."""

    @abc.abstractmethod
    def holds_lock(self) -> bool:
        """Whether this process holds the lock (taken with :meth:`locked`)."""

    @abc.abstractmethod
    def transaction(self, run_id: str) -> Transaction:
        """A new version in the making (hold :meth:`locked`)."""

    def publish(
        self,
        run_id: str,
        *,
        append: Mapping[str, pa.Table] | None = None,
        replace: Mapping[str, pa.Table] | None = None,
        rewrite: Mapping[str, Mapping[str, pa.Table]] | None = None,
    ) -> Manifest:
        """Commit one run's changes in one version.

        Hold :meth:`locked` around the whole run (what the changes were computed from must
        not move); without it, the lock is taken for the commit alone. Idempotent per
        ``run_id``: when the current version was committed by this run already (a retry after
        a commit whose caller failed later), it is returned as it is.
        """
        held = self.holds_lock()
        with contextlib.nullcontext() if held else self.locked(run_id=run_id):
            snapshot = self.snapshot()
            if snapshot is not None and snapshot.manifest.run_id == run_id:
                return snapshot.manifest
            with self.transaction(run_id) as txn:
                for name, table in (append or {}).items():
                    txn.append(name, table)
                for name, table in (replace or {}).items():
                    txn.replace(name, table)
                for name, parts in (rewrite or {}).items():
                    for file, table in parts.items():
                        txn.rewrite(name, file, table)
                return txn.commit()

    # --- directories derived from the dataset (the report, Data Docs) --------------------

    @abc.abstractmethod
    def output_dir(self, name: str) -> str:
        """A local directory to build ``<out>/<name>`` in (``<out>/<name>`` itself, or a
        new temporary directory of that name), for :meth:`publish_dir`."""

    @abc.abstractmethod
    def publish_dir(self, local_dir: str, name: str) -> str | None:
        """Make the directory built in ``local_dir`` (:meth:`output_dir`) ``<out>/<name>``;
        its new location, or None when ``local_dir`` already was it."""
