"""The published dataset, wherever ``--out`` points: one :class:`Store` chosen once.

``open_store(out)`` reads ``out`` once (a local directory or ``file://`` URI: a
:class:`~pipelines.store.local.LocalStore`; any other URI pyarrow opens, ``s3://``,
``gs://``, ``hdfs://``, ``abfs://`` ...: an :class:`~pipelines.store.object.ObjectStore`),
and callers are handed the store, never the string again.

- :mod:`pipelines.store.base`: what both share: the manifest, names of versions and parts,
  errors, the lock-wait loop, readers of one version (:class:`Snapshot`), a transaction's
  bookkeeping and version-race check (:class:`Transaction`), ``publish`` (:class:`Store`);
- :mod:`pipelines.store.local`: the local layout, its symlink-swap commit and ``flock``;
- :mod:`pipelines.store.object`: the object-store layout, its manifest-last commit and
  advisory lock.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs

from pipelines.store.base import (
    INTERNAL_DIR,
    MANIFEST_NAME,
    DatasetError,
    DatasetLocked,
    Manifest,
    OutputMisplaced,
    Part,
    Snapshot,
    Staging,
    Store,
    Transaction,
)
from pipelines.store.local import LOCK_NAME, LocalStore
from pipelines.store.object import ObjectStore

__all__ = [
    "INTERNAL_DIR",
    "LOCK_NAME",
    "MANIFEST_NAME",
    "DatasetError",
    "DatasetLocked",
    "LocalStore",
    "Manifest",
    "ObjectStore",
    "OutputMisplaced",
    "Part",
    "Snapshot",
    "Staging",
    "Store",
    "Transaction",
    "open_store",
]


def open_store(out: str | Path | Store) -> Store:
    """The store ``out`` names: a local directory (a plain path, or a ``file://`` URI), or a
    prefix on any other filesystem pyarrow supports (raises :class:`DatasetError` when the
    URI cannot be opened). A store is returned as it is."""
    if isinstance(out, Store):
        return out
    text = str(out)
    if text.startswith("file://"):
        return LocalStore(Path(pafs.FileSystem.from_uri(text)[1]), text)
    if "://" in text:
        return ObjectStore.of(text)
    return LocalStore(Path(text), text)
