"""The dataset on any filesystem pyarrow supports: ``isnad run ... --out s3://bucket/prefix``
(also ``gs://``, ``hdfs://``, ``abfs://`` ...; options go in the URI's query, as
``pyarrow.fs.FileSystem.from_uri`` reads them, credentials in the usual environment).

Object stores rename no directory, have no symbolic link and no lock, so the local commit of
:mod:`pipelines.dataset` (a staged directory renamed, a symlink swapped under ``flock``)
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
  lists: each part's entry has its ``path`` under ``<out>``
  (:func:`pipelines.dataset.open_dataset` and ``read_tables`` do that).
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
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.dataset import (
    _VERSION_NAME,
    INTERNAL_DIR,
    MANIFEST_NAME,
    PART_VERSION,
    PAUSE_ENV,
    VERSIONS,
    DatasetError,
    DatasetLocked,
    Location,
    Manifest,
    Snapshot,
    Transaction,
    check_schema_version,
)

LOCK_OBJECT = "LOCK"


@dataclass(frozen=True)
class Root:
    """Where a remote dataset lives: its filesystem and the path of ``<out>`` on it."""

    uri: str
    filesystem: pafs.FileSystem
    path: str

    @classmethod
    def of(cls, out: str) -> Root:
        try:
            filesystem, path = pafs.FileSystem.from_uri(out)
        except (pa.ArrowException, ValueError) as exc:
            raise DatasetError(f"cannot open {out}: {exc}") from None
        return cls(out, filesystem, path.rstrip("/"))

    def join(self, *names: str) -> str:
        return "/".join([self.path, *names])

    @property
    def display(self) -> str:
        """The URI without its query (which may carry endpoints or options)."""
        return self.uri.split("?", 1)[0].rstrip("/")

    def exists(self, path: str) -> bool:
        return self.filesystem.get_file_info(path).type == pafs.FileType.File

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


def part_path(root: Root, name: str, file: str) -> str:
    """Where part ``file`` of ``name`` lives: under the version its name carries."""
    match = PART_VERSION.match(file)
    if match is None:
        raise DatasetError(f"{root.display}: part name {file!r} carries no version")
    return f"{version_path(root, int(match[1]))}/{name}/{file}"


def version_path(root: Root, version: int) -> str:
    """The directory of version ``version``'s parts and manifest."""
    return root.join(INTERNAL_DIR, VERSIONS, f"v{version:06d}")


def _manifest_json(root: Root, manifest: Manifest) -> dict[str, Any]:
    """The manifest as JSON, each part with its ``path`` under ``<out>`` for readers."""
    data = manifest.to_json()
    prefix = len(root.path) + 1
    for name, entry in data["tables"].items():
        for part in entry["parts"]:
            part["path"] = part_path(root, name, part["file"])[prefix:]
    return data


def _read_manifest(root: Root, path: str) -> Manifest | None:
    data = root.read_json(path)
    return None if data is None else Manifest.from_json(data)


@dataclass(frozen=True)
class RemoteSnapshot(Snapshot):
    """One committed version of a remote dataset (its parts never change once committed)."""

    remote: Root | None = None

    def files(self, name: str) -> list[str]:
        """URIs of ``name``'s parts (without the dataset URI's query: a reader such as
        DuckDB takes its endpoint and credentials from its own settings)."""
        assert self.remote is not None
        if name not in self.manifest.tables:
            raise KeyError(f"version {self.version} has no table {name!r}")
        prefix = len(self.remote.path) + 1
        return [
            f"{self.remote.display}/{part_path(self.remote, name, p.file)[prefix:]}"
            for p in self.manifest.tables[name]
        ]

    def read_parts(self, name: str, columns: list[str] | None = None) -> list[tuple[str, pa.Table]]:
        assert self.remote is not None
        parts = []
        for p in self.manifest.tables.get(name, ()):
            with self.remote.filesystem.open_input_file(part_path(self.remote, name, p.file)) as fh:
                parts.append((p.file, pq.ParquetFile(fh).read(columns=columns)))
        return parts


def open_snapshot(out: str) -> RemoteSnapshot | None:
    root = Root.of(out)
    manifest = _read_manifest(root, root.join(MANIFEST_NAME))
    if manifest is None:
        return None
    check_schema_version(root.display, manifest)
    return RemoteSnapshot(root=root.join(), manifest=manifest, remote=root)  # type: ignore[arg-type]


def read_manifest(out: str) -> dict[str, Any] | None:
    root = Root.of(out)
    return root.read_json(root.join(MANIFEST_NAME))


def table_paths(out: str, names: Any) -> dict[str, str]:
    """Each table's parts are listed, with their paths, in the manifest."""
    manifest = f"{Root.of(out).display}/{MANIFEST_NAME}"
    return {name: manifest for name in names}


# --- the advisory lock ---------------------------------------------------------------------


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


@contextlib.contextmanager
def locked(out: str, *, timeout: float = 0.0, run_id: str = "") -> Iterator[None]:
    """Hold ``<out>/.isnad/LOCK`` for the body (advisory: see the module's docstring)."""
    root = Root.of(out)
    path = root.join(INTERNAL_DIR, LOCK_OBJECT)
    root.filesystem.create_dir(root.join(INTERNAL_DIR), recursive=True)
    deadline = time.monotonic() + max(timeout, 0.0)
    while (holder := root.read_json(path)) is not None:
        if time.monotonic() >= deadline:
            waited = f" after waiting {timeout:g} s" if timeout > 0 else ""
            who = ", ".join(f"{k} {holder.get(k)}" for k in ("run_id", "host", "pid", "since"))
            raise DatasetLocked(
                f"{root.display} is being written by another run ({who}); this run did "
                f"nothing{waited}. Let it finish, or wait for it with --lock-timeout SECONDS; "
                f"if that run is dead, delete {root.display}/{INTERNAL_DIR}/{LOCK_OBJECT}."
            )
        time.sleep(0.5)
    since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    root.write_json(path, {**_owner(), "run_id": run_id, "since": since})
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            root.filesystem.delete_file(path)


def holds_lock(out: str) -> bool:
    """Whether this process wrote ``<out>/.isnad/LOCK`` (and it is still there)."""
    root = Root.of(out)
    holder = root.read_json(root.join(INTERNAL_DIR, LOCK_OBJECT))
    return holder is not None and all(holder.get(k) == v for k, v in _owner().items())


# --- writing -------------------------------------------------------------------------------


def _versions_in(manifest: Manifest | None) -> set[int]:
    if manifest is None:
        return set()
    kept = {manifest.version}
    for parts in manifest.tables.values():
        for part in parts:
            if match := PART_VERSION.match(part.file):
                kept.add(int(match[1]))
    return kept


def collect_garbage(root: Root, keep: set[int]) -> None:
    """Delete the version directories not in ``keep`` (hold the lock)."""
    versions = root.join(INTERNAL_DIR, VERSIONS)
    selector = pafs.FileSelector(versions, allow_not_found=True)
    for info in root.filesystem.get_file_info(selector):
        match = _VERSION_NAME.match(info.base_name)
        if info.type == pafs.FileType.Directory and match and int(match[1]) not in keep:
            root.filesystem.delete_dir(info.path)


class RemoteTransaction(Transaction):
    """A :class:`pipelines.dataset.Transaction` whose version is written in place under
    ``.isnad/versions/v<N>/`` and committed by writing ``<out>/_SUCCESS``."""

    def __init__(self, out: str, run_id: str) -> None:
        self.root = Root.of(out)
        if not holds_lock(out):
            raise DatasetError(f"a transaction on {self.root.display} needs its lock held")
        self.out = out  # type: ignore[assignment]
        self.run_id = run_id
        self.base = open_snapshot(out)
        base = self.base.manifest if self.base else None
        self.version = (base.version if base else 0) + 1
        previous = None
        if base is not None and base.previous_version is not None:
            previous_dir = version_path(self.root, base.previous_version)
            previous = _read_manifest(self.root, f"{previous_dir}/{MANIFEST_NAME}")
        collect_garbage(self.root, _versions_in(base) | _versions_in(previous))
        self.staging = version_path(self.root, self.version)  # type: ignore[assignment]
        self.root.filesystem.create_dir(self.staging, recursive=True)
        self._start_from(base)

    @property
    def location(self) -> Location:
        return Location(self.root.filesystem, str(self.staging))

    def reserve(self, name: str) -> str:
        return self._next_part_name()  # an object store needs no directory made

    def adopt(self, name: str, file: str, rows: int, columns: list[str]) -> None:
        if not self.root.exists(self.location.join(name, file)):
            raise DatasetError(
                f"part {self.location.join(name, file)} was reserved but not written"
            )
        self._parts.setdefault(name, []).append(self._register(name, file, rows, columns))

    def commit(self) -> Manifest:
        """Write the manifest beside the version's parts, then over ``<out>/_SUCCESS``."""
        if self._done:
            raise RuntimeError("transaction already finished")
        self._close_tables()
        manifest = self._manifest()
        data = _manifest_json(self.root, manifest)
        self.root.write_json(self.location.join(MANIFEST_NAME), data)
        if pause := os.environ.get(PAUSE_ENV):
            time.sleep(float(pause))
        current = _read_manifest(self.root, self.root.join(MANIFEST_NAME))
        now = current.version if current else None
        if now != manifest.previous_version:
            raise DatasetError(
                f"{self.root.display} moved from version {manifest.previous_version} to {now} "
                "during the run: was it written without the lock?"
            )
        self.root.write_json(self.root.join(MANIFEST_NAME), data)  # the commit
        self._done = True
        return manifest

    def abort(self) -> None:
        self._done = True
        with contextlib.suppress(OSError):
            self.root.filesystem.delete_dir(str(self.staging))


def upload_dir(local_dir: str, out: str, name: str) -> str:
    """Copy a local directory (the report, Data Docs) to ``<out>/<name>``; its URI."""
    root = Root.of(out)
    target = root.join(name)
    with contextlib.suppress(FileNotFoundError):
        root.filesystem.delete_dir_contents(target)
    pafs.copy_files(
        local_dir, target,
        source_filesystem=pafs.LocalFileSystem(), destination_filesystem=root.filesystem,
    )  # fmt: skip
    return f"{root.display}/{name}"
