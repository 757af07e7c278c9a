"""The published dataset in a local directory: versions swapped by one symlink rename.

Layout of an output directory ``<out>``::

    <out>/articles/  -> .isnad/current/articles    one directory per table (a symlink),
    <out>/quotes/    -> .isnad/current/quotes      holding only committed parts
    ...                                            (part-<version>-<n>.parquet)
    <out>/_SUCCESS   -> .isnad/current/_SUCCESS    manifest of the current version (JSON)
    <out>/.lock                                    flock held by the run that writes
    <out>/.isnad/current -> versions/v000007       the pointer a commit swaps
    <out>/.isnad/versions/v000007/                 a complete version: _SUCCESS, <table>/part-*
    <out>/.isnad/versions/v000006/                 the previous one, kept for readers mid-read
    <out>/.isnad/staging-<run id>/                 a version being written (never visible)

A reader of one table globs ``<out>/<table>/*.parquet`` (DuckDB), or opens the directory
(pandas, ``pyarrow.dataset``): it sees one committed version, because the table directories
are reached through ``.isnad/current``, and a version directory never changes once it is
committed. A reader of several tables pins one version with :meth:`LocalStore.pinned`
(each table read, or its files listed, inside that version's directory, which no run deletes
while the reader holds a shared ``flock`` on its manifest).

Commit protocol (:class:`LocalTransaction`), under the dataset's lock (:meth:`LocalStore.locked`,
held by the run from start to end: a second run waits or stops):

1. New parts are written into ``.isnad/staging-<run id>/<table>/`` (each fsynced); a run
   may append parts as its batches come. Parts carried over from the current version are
   hard links (a copy where the file system has none), so a version costs no data copy.
2. The manifest is written and fsynced last, then the staging directory is renamed to
   ``versions/v<N+1>``.
3. ``.isnad/current`` is replaced by a symlink to the new version (``os.replace`` of a new
   symlink: atomic). That single rename is the commit.
4. Versions other than the current and the previous one, and staging directories left by
   killed runs, are deleted.

A run killed before step 3 leaves the current version as it was; its leftovers are hidden
and removed by the next run. Parts are immutable; a table rewritten whole (``claims``) or a
part rewritten (quotes whose claim ids changed) gets a new file in the new version, so a
file name always means the same bytes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import tabulate
from pipelines.store.base import (
    INTERNAL_DIR,
    MANIFEST_NAME,
    PARQUET_OPTIONS,
    VERSION_NAME,
    VERSIONS,
    DatasetError,
    Manifest,
    OutputMisplaced,
    Snapshot,
    Staging,
    Store,
    Transaction,
    check_schema_version,
    lock_refusal,
    stamped,
    version_name,
    wait_for_lock,
)

LOCK_NAME = ".lock"
CURRENT = "current"
STAGING_PREFIX = "staging-"
LOCK_POLL_SECONDS = 0.2  # a flock is free the moment its holder ends: poll often
# Besides the table links and the manifest link: what a run writes directly under ``<out>``
# (the lock, its internal directory, the Data Docs, the report page), and of what kind.
_OWN_FILES = (LOCK_NAME,)
_OWN_DIRS = (INTERNAL_DIR, "validation", "report")
PROBE_BYTES = 64 * 1024  # a probe this size fails on a full disk before any work


def fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_part_file(path: str | Path, name: str, table: pa.Table, run_id: str) -> None:
    """Write one part of table ``name`` (checked publishable, stamped) at ``path``, fsynced."""
    pq.write_table(stamped(name, table, run_id), path, **PARQUET_OPTIONS)
    fsync(Path(path))


@dataclass(frozen=True)
class LocalStaging(Staging):
    """A staged version's directory on this machine (``<table>/<part>`` under it)."""

    path: Path

    def write(self, name: str, file: str, table: pa.Table, run_id: str) -> None:
        write_part_file(self.path / name / file, name, table, run_id)

    def read(self, name: str, file: str, columns: list[str] | None = None) -> pa.Table:
        return pq.ParquetFile(self.path / name / file).read(columns=columns, use_threads=False)

    def has(self, name: str, file: str) -> bool:
        return (self.path / name / file).is_file()

    def prepare(self, name: str) -> None:
        (self.path / name).mkdir(exist_ok=True)


@dataclass(frozen=True)
class LocalSnapshot(Snapshot):
    """One committed version in its directory (never changed once committed)."""

    root: Path

    def part_location(self, name: str, file: str) -> str:
        return str(self.root / name / file)

    def read_part(self, name: str, file: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.root / name / file, columns=columns)


def _load_manifest(directory: Path) -> Manifest:
    with open(directory / MANIFEST_NAME, encoding="utf-8") as fh:
        return Manifest.from_json(json.load(fh))


def _open_manifest(directory: Path) -> BinaryIO | None:
    """The version's manifest opened (its lock is held through this file), or None."""
    try:
        return open(directory / MANIFEST_NAME, "rb")
    except FileNotFoundError:
        return None


def _lock_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another run"
    parts = [f"pid {info['pid']}" if "pid" in info else "", f"run {info.get('run_id') or '?'}"]
    if info.get("since"):
        parts.append(f"since {info['since']}")
    return "run (" + ", ".join(p for p in parts if p) + ")"


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise
        shutil.copyfile(source, target)
        fsync(target)


def replace_symlink(link: Path, target: str, tmp_name: str) -> None:
    """Point ``link`` at ``target`` atomically (a new symlink renamed over the old one)."""
    tmp = link.parent / tmp_name
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _ensure_entry_links(out: Path, names: Iterable[str]) -> None:
    """``<out>/<table> -> .isnad/current/<table>`` and ``<out>/_SUCCESS``: made once."""
    for name in (*names, MANIFEST_NAME):
        link = out / name
        target = f"{INTERNAL_DIR}/{CURRENT}/{name}"
        if link.is_symlink():
            if os.readlink(link) == target:
                continue
        elif link.exists():
            raise DatasetError(f"{link} exists and is not isnad's link to the current version")
        replace_symlink(link, target, f".{name}.link-tmp")


def _remove_version(directory: Path) -> None:
    """Delete a version unless a reader holds it (:meth:`LocalStore.pinned`'s shared flock)."""
    fh = _open_manifest(directory)
    if fh is None:  # no manifest: no reader can have opened it
        shutil.rmtree(directory, ignore_errors=True)
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a later run deletes it once the reader is done
        shutil.rmtree(directory, ignore_errors=True)


def _probe_write(directory: Path, out: str) -> None:
    """Write, fsync and remove a small file in ``directory``: raises DatasetError naming
    why a run could not write there (read-only, no permission, no space)."""
    probe = directory / f".probe-{os.getpid()}-tmp"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            data = memoryview(b"\0" * PROBE_BYTES)
            while data:  # a nearly full disk takes part of a write, then refuses the rest
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        reason = {
            errno.ENOSPC: "no space left on its device",
            errno.EDQUOT: "disk quota exceeded",
            errno.EROFS: "it is on a read-only file system",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        raise DatasetError(f"cannot write to --out {out}: {reason}") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


class LocalTransaction(Transaction):
    """A version staged in ``.isnad/staging-<run id>/``, renamed into ``versions/`` and
    made current by swapping the ``.isnad/current`` symlink."""

    store: LocalStore
    staging: LocalStaging

    def _collect_garbage(self, base: Manifest | None) -> None:
        keep = {base.version, base.previous_version} if base else set()
        self.store.collect_garbage({v for v in keep if v is not None})

    def _open_staging(self) -> LocalStaging:
        path = self.store.internal / f"{STAGING_PREFIX}{self.run_id}"
        path.mkdir(parents=True)
        return LocalStaging(path)

    def _stage(self, manifest: Manifest) -> None:
        """Carried-over parts hard-linked in, the manifest written last; all fsynced."""
        staging = self.staging.path
        for name in manifest.tables:
            (staging / name).mkdir(exist_ok=True)
        for name, part in self.carried_over():
            assert self.base is not None and isinstance(self.base, LocalSnapshot)
            _link_or_copy(self.base.root / name / part.file, staging / name / part.file)
        with open(staging / MANIFEST_NAME, "w", encoding="utf-8") as fh:
            json.dump(manifest.to_json(), fh, ensure_ascii=False, sort_keys=True, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        for name in manifest.tables:
            fsync(staging / name)
        fsync(staging)

    def _swap(self, manifest: Manifest) -> None:
        target = self.store.version_dir(self.version)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # staged and renamed by a run killed before its swap
            shutil.rmtree(target)
        os.rename(self.staging.path, target)
        fsync(target.parent)
        _ensure_entry_links(self.store.root, manifest.tables)
        internal = self.store.internal
        replace_symlink(internal / CURRENT, f"{VERSIONS}/{target.name}", f".{CURRENT}-tmp")
        fsync(internal)  # the commit is durable from here

    def _tidy(self, manifest: Manifest) -> None:
        with contextlib.suppress(OSError):  # tidying must not fail a committed run
            self.store.collect_garbage({self.version, *filter(None, [manifest.previous_version])})

    def abort(self) -> None:
        self._done = True
        shutil.rmtree(self.staging.path, ignore_errors=True)


@dataclass(frozen=True)
class LocalStore(Store):
    """A dataset in the directory ``root`` (``given``: ``--out`` as it was written)."""

    root: Path
    given: str

    @property
    def display(self) -> str:
        return self.given

    @property
    def absolute(self) -> str:
        return str(self.root.resolve())

    @property
    def internal(self) -> Path:
        return self.root / INTERNAL_DIR

    def version_dir(self, version: int) -> Path:
        return self.internal / VERSIONS / version_name(version)

    # --- reading ------------------------------------------------------------------------

    def _check_not_legacy(self) -> None:
        """Refuse an output directory of isnad < 0.2 (one ``<table>.parquet`` file per table)."""
        success = self.root / MANIFEST_NAME
        names = (*tabulate.TABLE_NAMES, "run_summary")
        legacy = [p.name for p in (self.root / f"{n}.parquet" for n in names) if p.exists()]
        if legacy or (success.is_file() and not success.is_symlink()):
            raise DatasetError(
                f"{self.root} holds tables in the one-file-per-table layout of an earlier "
                f"isnad ({', '.join(legacy) or MANIFEST_NAME}); publish into a new directory, "
                "or move those files away first"
            )

    def current_version_dir(self) -> Path | None:
        """The directory of the current version (not through the ``current`` link, so reads
        from it stay on one version while another run commits), or None before the first."""
        pointer = self.internal / CURRENT
        try:
            target = os.readlink(pointer)
        except FileNotFoundError:
            self._check_not_legacy()
            return None
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            raise DatasetError(
                f"{pointer} is not a symlink: the dataset was copied with its symlinks "
                "followed; copy it with them kept (cp -a, rsync -a) to publish into it"
            ) from None
        return pointer.parent / target

    def snapshot(self) -> LocalSnapshot | None:
        root = self.current_version_dir()
        if root is None:
            return None
        manifest = _load_manifest(root)
        check_schema_version(self.display, manifest)
        return LocalSnapshot(manifest, root)

    def current_version(self) -> int | None:
        current = self.current_version_dir()
        return _load_manifest(current).version if current else None

    def read_manifest(self) -> dict[str, Any] | None:
        root = self.current_version_dir()
        if root is None:
            return None
        with open(root / MANIFEST_NAME, encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
            return data

    @contextlib.contextmanager
    def pinned(self) -> Iterator[LocalSnapshot | None]:
        """The current version, its manifest held with a shared ``flock`` (a run deletes no
        version a reader holds)."""
        while True:
            root = self.current_version_dir()
            if root is None:
                yield None
                return
            fh = _open_manifest(root)
            if fh is None:
                if self.current_version_dir() == root:
                    raise DatasetError(f"{root} has no {MANIFEST_NAME}: not a committed version")
                continue  # deleted since it was current (two runs committed): take the newest
            with fh:
                fcntl.flock(fh, fcntl.LOCK_SH)
                if os.fstat(fh.fileno()).st_nlink == 0:
                    continue  # deleted while this reader waited for its lock
                manifest = Manifest.from_json(json.load(fh))
                check_schema_version(self.display, manifest)
                yield LocalSnapshot(manifest, root)
                return

    def read_file(self, relative: str) -> bytes | None:
        base = self.root.resolve()
        path = (base / relative).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            return None
        return path.read_bytes()

    def table_paths(self, names: Iterable[str]) -> dict[str, str]:
        return {name: str(self.root / name) for name in names}

    # --- before a run -------------------------------------------------------------------

    def check_arguments(self, inputs: Iterable[str]) -> None:
        target = self.root.resolve()
        for item in inputs:
            source = Path(item).resolve()
            if source == target or source in target.parents:
                raise OutputMisplaced(
                    f"--out {self.given} is inside the input {item}: the next run would read "
                    "the dataset's own files as articles; put the output outside the inputs"
                )
            if target in source.parents:
                raise OutputMisplaced(
                    f"the input {item} is inside --out {self.given}: keep inputs out of the "
                    "dataset directory, which isnad manages"
                )
        if self.root.is_file():
            raise OutputMisplaced(f"--out {self.given} is a file, not a directory")

    def check_output(self) -> None:
        """Refuse a directory that cannot be created or written, a full disk, entries of
        someone else's where isnad writes its own (``articles``, ``_SUCCESS`` ...), an
        earlier layout or schema. Creates the directory."""
        path = self.root
        if path.exists() and not path.is_dir():
            raise OutputMisplaced(f"--out {self.given} is a file, not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatasetError(f"cannot create --out {self.given}: {exc.strerror or exc}") from None
        self.snapshot()  # an earlier layout, a copy without its symlinks, another schema
        foreign = []
        for name in (*tabulate.TABLE_NAMES, MANIFEST_NAME):
            entry = path / name
            if entry.is_symlink():
                if os.readlink(entry) != f"{INTERNAL_DIR}/{CURRENT}/{name}":
                    foreign.append(name)
            elif entry.exists():
                foreign.append(name)
        foreign += [n for n in _OWN_FILES if (path / n).exists() and not (path / n).is_file()]
        foreign += [n for n in _OWN_DIRS if (path / n).exists() and not (path / n).is_dir()]
        if foreign:
            raise DatasetError(
                f"--out {self.given} holds {', '.join(foreign)} that isnad did not write, "
                "where it writes its own; move them away or publish into another directory"
            )
        for directory in (path, self.internal):
            if directory.is_dir():
                _probe_write(directory, self.given)

    # --- the lock -----------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, *, timeout: float = 0.0, run_id: str = "") -> Iterator[None]:
        """Hold ``<out>/.lock`` (``flock``, exclusive). The kernel releases the lock when its
        process dies, so a killed run never leaves a stale lock behind."""
        os.makedirs(self.root, exist_ok=True)
        path = self.root / LOCK_NAME
        with open(path, "a+", encoding="utf-8") as fh:

            def try_lock() -> bool:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return True

            wait_for_lock(try_lock, timeout=timeout, poll=LOCK_POLL_SECONDS,
                          refusal=lambda waited: lock_refusal(
                              str(self.root), _lock_holder(path), waited))  # fmt: skip
            since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps({"pid": os.getpid(), "run_id": run_id, "since": since}))
            fh.flush()
            try:
                yield
            finally:
                fh.seek(0)
                fh.truncate()
                fh.flush()  # the lock itself goes with the file's closing

    def holds_lock(self) -> bool:
        path = self.root / LOCK_NAME
        try:
            info = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return False
        if info.get("pid") != os.getpid():
            return False
        with open(path, "a", encoding="utf-8") as probe:
            try:  # a second descriptor conflicts with our own flock: taken means held
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(probe, fcntl.LOCK_UN)
            return False

    # --- writing ------------------------------------------------------------------------

    def transaction(self, run_id: str) -> LocalTransaction:
        return LocalTransaction(self, run_id)

    def collect_garbage(self, keep: set[int]) -> None:
        """Delete versions not in ``keep`` (and not held by a reader) and staging left by
        killed runs (hold the lock)."""
        versions = self.internal / VERSIONS
        if versions.is_dir():
            for child in versions.iterdir():
                match = VERSION_NAME.match(child.name)
                if match and int(match[1]) not in keep:
                    _remove_version(child)
        if self.internal.is_dir():
            for child in self.internal.iterdir():
                if child.name.startswith(STAGING_PREFIX):
                    shutil.rmtree(child, ignore_errors=True)
                elif child.name.startswith(".") and child.name.endswith("-tmp"):
                    child.unlink(missing_ok=True)

    def output_dir(self, name: str) -> str:
        return str(self.root / name)

    def publish_dir(self, local_dir: str, name: str) -> str | None:
        return None  # built in place
