"""The published dataset on an object store or any filesystem pyarrow supports:
``isnad run ... --out s3://bucket/prefix`` (also ``gs://``, ``hdfs://``, ``abfs://`` ...;
options go in the URI's query, as ``pyarrow.fs.FileSystem.from_uri`` reads them, credentials
in the usual environment).

Object stores rename no directory, have no symbolic link and no lock, so the local commit of
:mod:`pipelines.store.local` (a staged directory renamed, a symlink swapped under ``flock``)
becomes a manifest-last protocol on the same manifest::

    <out>/_SUCCESS                               the current version's manifest: the commit
    <out>/.isnad/versions/v000007/_SUCCESS       the same, kept beside the version's parts
    <out>/.isnad/versions/v000007/<table>/part-000007-00003.parquet
    <out>/.isnad/LOCK                            the run writing (advisory, see below)

- A run writes its new parts under ``.isnad/versions/v<N+1>/`` (its batches too, on any
  worker that reaches the filesystem), where no manifest refers to them yet. Parts that the
  new version keeps from earlier ones are not copied: a part's file name carries the
  version it was written in (``part-<version>-<n>``), and so names its directory.
- The commit writes the manifest into the version's directory, then over ``<out>/_SUCCESS``:
  one object written whole, which S3, GCS and Azure replace atomically, so a reader sees the
  old manifest or the new one, never a mix. Readers read ``<out>/_SUCCESS`` and the parts it
  lists: each part's entry has its ``path`` under ``<out>`` (:meth:`Store.open_dataset` and
  ``read_tables`` do that).
- Just before the commit, the manifest is read again: when another run committed since this
  one started, the run fails (``DatasetError``) instead of overwriting its version.
- Version directories that no part of the current or the previous manifest lives in (older
  versions, parts of killed runs) are deleted when the next run starts.
- ``.isnad/LOCK`` names the run writing. pyarrow has no exclusive create on object stores,
  so the lock is advisory: a run does not start while the object exists (``DatasetLocked``,
  after ``--lock-timeout``), and a run killed hard leaves it behind, to be deleted once that
  run is known to be dead. Schedule one writer at a time (the deployment's concurrency limit
  of 1 does); the check before the commit catches a second writer that ignored the lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.store.base import (
    INTERNAL_DIR,
    MANIFEST_NAME,
    PARQUET_OPTIONS,
    PART_VERSION,
    VERSION_NAME,
    VERSIONS,
    DatasetError,
    Manifest,
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

LOCK_OBJECT = "LOCK"
LOCK_POLL_SECONDS = 0.5  # each look at the lock is a request to the store


@dataclass(frozen=True)
class ObjectStaging(Staging):
    """A version's directory on a pyarrow filesystem, where its new parts are written in
    place. Picklable (pyarrow filesystems are), so it travels to workers."""

    filesystem: pafs.FileSystem
    path: str

    def join(self, *names: str) -> str:
        return "/".join([self.path.rstrip("/"), *names])

    def write(self, name: str, file: str, table: pa.Table, run_id: str) -> None:
        """Written once the stream is closed (an object store has no fsync)."""
        with self.filesystem.open_output_stream(self.join(name, file)) as sink:
            pq.write_table(stamped(name, table, run_id), sink, **PARQUET_OPTIONS)

    def read(self, name: str, file: str, columns: list[str] | None = None) -> pa.Table:
        with self.filesystem.open_input_file(self.join(name, file)) as fh:
            return pq.ParquetFile(fh).read(columns=columns, use_threads=False)

    def has(self, name: str, file: str) -> bool:
        info = self.filesystem.get_file_info(self.join(name, file))
        return bool(info.type == pafs.FileType.File)


@dataclass(frozen=True)
class ObjectSnapshot(Snapshot):
    """One committed version on the store (its parts never change once committed)."""

    store: ObjectStore

    def part_location(self, name: str, file: str) -> str:
        """The part's URI (without the dataset URI's query: a reader such as DuckDB takes
        its endpoint and credentials from its own settings)."""
        return f"{self.store.display}/{self.store.relative(self.store.part_path(name, file))}"

    def read_part(self, name: str, file: str, columns: list[str] | None = None) -> pa.Table:
        with self.store.filesystem.open_input_file(self.store.part_path(name, file)) as fh:
            return pq.ParquetFile(fh).read(columns=columns)


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _versions_in(manifest: Manifest | None) -> set[int]:
    """The versions whose directories hold a part of ``manifest`` (or its manifest)."""
    if manifest is None:
        return set()
    kept = {manifest.version}
    for parts in manifest.tables.values():
        for part in parts:
            if match := PART_VERSION.match(part.file):
                kept.add(int(match[1]))
    return kept


class ObjectTransaction(Transaction):
    """A version written in place under ``.isnad/versions/v<N>/`` and committed by writing
    ``<out>/_SUCCESS``."""

    store: ObjectStore
    staging: ObjectStaging

    def _collect_garbage(self, base: Manifest | None) -> None:
        previous = None
        if base is not None and base.previous_version is not None:
            path = f"{self.store.version_path(base.previous_version)}/{MANIFEST_NAME}"
            previous = self.store.manifest_at(path)
        self.store.collect_garbage(_versions_in(base) | _versions_in(previous))

    def _open_staging(self) -> ObjectStaging:
        path = self.store.version_path(self.version)
        self.store.filesystem.create_dir(path, recursive=True)
        return ObjectStaging(self.store.filesystem, path)

    def _stage(self, manifest: Manifest) -> None:
        self.store.write_json(self.staging.join(MANIFEST_NAME), self.store.manifest_json(manifest))

    def _swap(self, manifest: Manifest) -> None:
        self.store.write_json(self.store.join(MANIFEST_NAME), self.store.manifest_json(manifest))

    def abort(self) -> None:
        self._done = True
        with contextlib.suppress(OSError):
            self.store.filesystem.delete_dir(self.staging.path)


@dataclass(frozen=True)
class ObjectStore(Store):
    """A dataset under ``path`` on ``filesystem`` (``uri``: ``--out`` as it was written)."""

    uri: str
    filesystem: pafs.FileSystem
    path: str

    @classmethod
    def of(cls, uri: str) -> ObjectStore:
        try:
            filesystem, path = pafs.FileSystem.from_uri(uri)
        except (pa.ArrowException, ValueError) as exc:
            raise DatasetError(f"cannot open {uri}: {exc}") from None
        return cls(uri, filesystem, path.rstrip("/"))

    @property
    def display(self) -> str:
        """The URI without its query (which may carry endpoints or options)."""
        return self.uri.split("?", 1)[0].rstrip("/")

    @property
    def absolute(self) -> str:
        return self.uri

    def join(self, *names: str) -> str:
        return "/".join([self.path, *names])

    def relative(self, path: str) -> str:
        """``path`` (on the filesystem) relative to ``<out>``."""
        return path[len(self.path) + 1 :]

    def version_path(self, version: int) -> str:
        """The directory of version ``version``'s parts and manifest."""
        return self.join(INTERNAL_DIR, VERSIONS, version_name(version))

    def part_path(self, name: str, file: str) -> str:
        """Where part ``file`` of ``name`` lives: under the version its name carries."""
        match = PART_VERSION.match(file)
        if match is None:
            raise DatasetError(f"{self.display}: part name {file!r} carries no version")
        return f"{self.version_path(int(match[1]))}/{name}/{file}"

    def read_json(self, path: str) -> Any | None:
        """The JSON object at ``path``, or None when there is none."""
        try:
            with self.filesystem.open_input_stream(path) as fh:
                return json.loads(fh.read().decode("utf-8"))
        except FileNotFoundError:
            return None

    def write_json(self, path: str, data: Any) -> None:
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
        with self.filesystem.open_output_stream(path) as fh:
            fh.write(text.encode("utf-8"))

    def manifest_at(self, path: str) -> Manifest | None:
        data = self.read_json(path)
        return None if data is None else Manifest.from_json(data)

    def manifest_json(self, manifest: Manifest) -> dict[str, Any]:
        """The manifest as JSON, each part with its ``path`` under ``<out>`` for readers."""
        data = manifest.to_json()
        for name, entry in data["tables"].items():
            for part in entry["parts"]:
                part["path"] = self.relative(self.part_path(name, part["file"]))
        return data

    # --- reading ------------------------------------------------------------------------

    def snapshot(self) -> ObjectSnapshot | None:
        manifest = self.manifest_at(self.join(MANIFEST_NAME))
        if manifest is None:
            return None
        check_schema_version(self.display, manifest)
        return ObjectSnapshot(manifest, self)

    @contextlib.contextmanager
    def pinned(self) -> Iterator[ObjectSnapshot | None]:
        """The current version (no locks here: the current and the previous versions are
        kept, so finish reading before the second run that follows commits)."""
        yield self.snapshot()

    def current_version(self) -> int | None:
        current = self.manifest_at(self.join(MANIFEST_NAME))
        return current.version if current else None

    def read_manifest(self) -> dict[str, Any] | None:
        data: dict[str, Any] | None = self.read_json(self.join(MANIFEST_NAME))
        return data

    def read_file(self, relative: str) -> bytes | None:
        if any(part in ("", ".", "..") for part in relative.split("/")):
            return None  # an object store has no '..': a key of that name is no file of ours
        try:
            with self.filesystem.open_input_stream(self.join(relative)) as fh:
                return bytes(fh.read())
        except OSError:  # FileNotFoundError included
            return None

    def table_paths(self, names: Iterable[str]) -> dict[str, str]:
        """Each table's parts are listed, with their paths, in the manifest."""
        return {name: f"{self.display}/{MANIFEST_NAME}" for name in names}

    # --- before a run: an object store cannot overlap a local input; its first write
    # checks it instead ------------------------------------------------------------------

    def check_arguments(self, inputs: Iterable[str]) -> None:
        return None

    def check_output(self) -> None:
        return None

    # --- the advisory lock --------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, *, timeout: float = 0.0, run_id: str = "") -> Iterator[None]:
        """Hold ``<out>/.isnad/LOCK`` for the body (advisory: see the module's docstring)."""
        path = self.join(INTERNAL_DIR, LOCK_OBJECT)
        self.filesystem.create_dir(self.join(INTERNAL_DIR), recursive=True)

        def refusal(waited: str) -> str:
            holder = self.read_json(path) or {}
            who = ", ".join(f"{k} {holder.get(k)}" for k in ("run_id", "host", "pid", "since"))
            hint = (f"; if that run is dead, delete {self.display}/{INTERNAL_DIR}/"
                    f"{LOCK_OBJECT}")  # fmt: skip
            return lock_refusal(self.display, f"run ({who})", waited, hint)

        wait_for_lock(lambda: self.read_json(path) is None, timeout=timeout,
                      poll=LOCK_POLL_SECONDS, refusal=refusal)  # fmt: skip
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.write_json(path, {**_owner(), "run_id": run_id, "since": since})
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                self.filesystem.delete_file(path)

    def holds_lock(self) -> bool:
        """Whether this process wrote ``<out>/.isnad/LOCK`` (and it is still there)."""
        holder = self.read_json(self.join(INTERNAL_DIR, LOCK_OBJECT))
        return holder is not None and all(holder.get(k) == v for k, v in _owner().items())

    # --- writing ------------------------------------------------------------------------

    def transaction(self, run_id: str) -> ObjectTransaction:
        return ObjectTransaction(self, run_id)

    def collect_garbage(self, keep: set[int]) -> None:
        """Delete the version directories not in ``keep`` (hold the lock)."""
        selector = pafs.FileSelector(self.join(INTERNAL_DIR, VERSIONS), allow_not_found=True)
        for info in self.filesystem.get_file_info(selector):
            match = VERSION_NAME.match(info.base_name)
            if info.type == pafs.FileType.Directory and match and int(match[1]) not in keep:
                self.filesystem.delete_dir(info.path)

    def output_dir(self, name: str) -> str:
        """``<name>`` in a new temporary directory (which :meth:`publish_dir` removes)."""
        path = Path(tempfile.mkdtemp(prefix="isnad-")) / name
        path.mkdir()
        return str(path)

    def publish_dir(self, local_dir: str, name: str) -> str:
        """Copy ``local_dir`` to ``<out>/<name>`` (replacing what was there), then remove it
        (and its parent, when :meth:`output_dir` made it and it is now empty); its URI."""
        self.upload_dir(local_dir, name)
        shutil.rmtree(local_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            Path(local_dir).parent.rmdir()
        return f"{self.display}/{name}"

    def upload_dir(self, local_dir: str, name: str) -> None:
        """Copy a local directory to ``<out>/<name>``, replacing what was there."""
        target = self.join(name)
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.delete_dir_contents(target)
        pafs.copy_files(
            local_dir, target,
            source_filesystem=pafs.LocalFileSystem(), destination_filesystem=self.filesystem,
        )  # fmt: skip
