"""pipelines.store (a local dataset) and the readers of pipelines.dataset: the versioned
layout, atomic commits, crash leftovers, the lock."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from helpers import analyse_articles, read_inputs

from pipelines import dataset, store, tabulate
from pipelines.store import LocalStore, ObjectStore, open_store
from pipelines.store import local as store_local

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
QUARANTINE = [
    {"source_name": "bad.txt", "input_path": "in/bad.txt", "reason": "undecodable", "detail": "x"}
]


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    """The seven tables of the five sample articles and one quarantined input."""
    analyses = analyse_articles(read_inputs([SAMPLE_DIR])[0])
    return tabulate.build_tables(analyses, QUARANTINE, run_id="run-1")


def appended(tables: dict[str, pa.Table], n: int) -> dict[str, pa.Table]:
    """The first ``n`` rows of the row tables (what a run appends)."""
    return {k: tables[k].slice(0, n) for k in ("articles", "sentences", "quotes", "quarantine")}


def publish_tables(tables: dict[str, pa.Table], out: str | Path, run_id: str) -> dict[str, str]:
    """Replace every table given by its rows (a whole, non-incremental publish); what a
    reader opens for each."""
    target = open_store(out)
    target.publish(run_id, replace=tables)
    return target.table_paths(tables)


def glob_rows(out: Path, name: str) -> int:
    query = f"select count(*) from read_parquet('{out}/{name}/*.parquet')"
    return duckdb.sql(query).fetchall()[0][0]


def part_files(root: Path) -> dict[str, bytes]:
    """Every committed part file (through the table links) and its bytes."""
    return {
        f"{name}/{p.name}": p.read_bytes()
        for name in tabulate.TABLE_NAMES
        for p in sorted((root / name).glob("*.parquet"))
    }


def test_file_uri_is_the_local_dataset(tables: dict[str, pa.Table], tmp_path: Path) -> None:
    """A ``file://`` URI is a local path (the local layout, symlinks and lock), not a
    remote dataset; ``s3://`` and the like are."""
    uri = f"file://{tmp_path}"
    local = open_store(uri)
    assert isinstance(local, LocalStore) and local.root == tmp_path
    assert isinstance(open_store("s3://bucket/x?region=us-east-1"), ObjectStore)
    publish_tables(tables, uri, "run-1")
    assert (tmp_path / "quotes").is_symlink()
    assert dataset.read_table(uri, "quotes").equals(tables["quotes"])
    assert local.table_paths(["quotes"]) == {"quotes": str(tmp_path / "quotes")}


def test_read_file_stays_inside_the_dataset(tmp_path: Path) -> None:
    """A file beside the tables reads back; a missing one, a directory, or a path that
    leads outside the dataset (``..``, a symlink out) is None."""
    out = tmp_path / "out"
    (out / "report").mkdir(parents=True)
    (out / "report" / "index.html").write_bytes(b"<html></html>")
    (tmp_path / "secret.txt").write_bytes(b"not the dataset's")
    (out / "escape").symlink_to(tmp_path / "secret.txt")
    local = open_store(out)
    assert local.read_file("report/index.html") == b"<html></html>"
    for relative in ("report/missing.html", "report", "../secret.txt", "escape"):
        assert local.read_file(relative) is None, relative


class TestLayout:
    def test_readable_as_one_dataset_per_table(
        self, tables: dict[str, pa.Table], tmp_path: Path
    ) -> None:
        """Each table directory reads back whole with pyarrow, pandas and a DuckDB glob."""
        paths = publish_tables(tables, tmp_path, "run-1")
        assert paths == {n: str(tmp_path / n) for n in tabulate.TABLE_NAMES}
        for name, path in paths.items():
            back = pq.read_table(path)
            assert back.schema.equals(tabulate.SCHEMAS[name]), name
            assert back.equals(tables[name]), name
            assert ds.dataset(path).count_rows() == tables[name].num_rows
            assert len(pd.read_parquet(path)) == tables[name].num_rows
            assert glob_rows(tmp_path, name) == tables[name].num_rows
        assert dataset.read_table(tmp_path, "quotes").equals(tables["quotes"])

    def test_part_file_round_trips(self, tables: dict[str, pa.Table], tmp_path: Path) -> None:
        """A part reads back as its table, in the declared schema (descriptions included),
        stamped; zstd-compressed and without dictionary pages (write_part_file's settings)."""
        for name, table in tables.items():
            path = tmp_path / f"{name}.parquet"
            store_local.write_part_file(path, name, table, "run-1")
            back = pq.read_table(path)
            assert back.equals(table)
            assert back.schema.equals(tabulate.SCHEMAS[name])
            assert [f.metadata for f in back.schema] == [f.metadata for f in tabulate.SCHEMAS[name]]
            assert back.schema.metadata[b"isnad.table"] == name.encode()
            meta = pq.read_metadata(path)
            for group in range(meta.num_row_groups):
                for i in range(meta.num_columns):
                    chunk = meta.row_group(group).column(i)
                    assert chunk.compression == "ZSTD"
                    assert not chunk.has_dictionary_page, (name, chunk.path_in_schema)

    def test_manifest_and_footer_metadata(
        self, tables: dict[str, pa.Table], tmp_path: Path
    ) -> None:
        """_SUCCESS lists each table's parts and rows; every footer records the version."""
        publish_tables(tables, tmp_path, "run-1")
        manifest = json.loads((tmp_path / "_SUCCESS").read_text(encoding="utf-8"))
        assert manifest == dataset.read_manifest(tmp_path)
        assert (manifest["version"], manifest["run_id"]) == (1, "run-1")
        assert manifest["schema_version"] == tabulate.SCHEMA_VERSION
        assert {n: t["rows"] for n, t in manifest["tables"].items()} == {
            n: t.num_rows for n, t in tables.items()
        }
        for name in tables:
            (part,) = manifest["tables"][name]["parts"]
            meta = pq.read_metadata(tmp_path / name / part["file"]).metadata
            assert meta[b"isnad.schema_version"] == tabulate.SCHEMA_VERSION.encode()
            assert meta[b"isnad.run_id"] == b"run-1"
            assert meta[b"isnad.table"] == name.encode()
        assert not list((tmp_path / store.INTERNAL_DIR).glob("staging-*"))

    def test_append_adds_parts_and_links_the_rest(
        self, tables: dict[str, pa.Table], tmp_path: Path
    ) -> None:
        """A second commit adds a part; untouched parts are the same files (hard links), and
        only the current and previous versions are kept."""
        open_store(tmp_path).publish("r1", append=appended(tables, 2))
        first = open_store(tmp_path).current_version_dir()
        assert first is not None
        open_store(tmp_path).publish("r2", append=appended(tables, 3))
        open_store(tmp_path).publish("r3", append={"articles": tables["articles"].slice(3)})
        manifest = open_store(tmp_path).snapshot().manifest
        assert manifest.version == 3 and manifest.previous_version == 2
        assert [p.rows for p in manifest.tables["articles"]] == [2, 3, 2]
        assert [p.rows for p in manifest.tables["quarantine"]] == [1, 1]
        assert glob_rows(tmp_path, "articles") == 7
        old = first.parent / "v000002" / "articles" / manifest.tables["articles"][0].file
        new = tmp_path / "articles" / manifest.tables["articles"][0].file
        assert os.path.samefile(old, new)
        versions = sorted(p.name for p in (first.parent).iterdir())
        assert versions == ["v000002", "v000003"]

    def test_replace_and_rewrite(self, tables: dict[str, pa.Table], tmp_path: Path) -> None:
        """replace makes a table one new part (even empty); rewrite swaps one part."""
        open_store(tmp_path).publish(
            "r1", append=appended(tables, 2), replace={"claims": tables["claims"]}
        )
        open_store(tmp_path).publish("r2", append=appended(tables, 1))
        first = open_store(tmp_path).snapshot().manifest.tables["quotes"][0].file
        rewritten = tables["quotes"].slice(0, 1)
        open_store(tmp_path).publish("r3", replace={"claims": tables["claims"].slice(0, 0)},
                        rewrite={"quotes": {first: rewritten}})  # fmt: skip
        manifest = open_store(tmp_path).snapshot().manifest
        assert manifest.rows("claims") == 0 and len(manifest.tables["claims"]) == 1
        assert [p.rows for p in manifest.tables["quotes"]] == [1, 1]
        assert first not in {p.file for p in manifest.tables["quotes"]}
        assert glob_rows(tmp_path, "claims") == 0

    def test_publish_is_idempotent_per_run(
        self, tables: dict[str, pa.Table], tmp_path: Path
    ) -> None:
        """A retried publish of a run that already committed changes nothing."""
        first = open_store(tmp_path).publish("r1", append=appended(tables, 2))
        again = open_store(tmp_path).publish("r1", append=appended(tables, 2))
        assert again == first
        assert dataset.read_table(tmp_path, "articles").num_rows == 2

    def test_schema_mismatch_raises_before_anything_is_visible(
        self, tables: dict[str, pa.Table], tmp_path: Path
    ) -> None:
        """A table not in its declared schema is refused; no table appears, no staging stays."""
        quotes = tables["quotes"]
        i = quotes.schema.get_field_index("confidence")
        bad = quotes.set_column(i, "confidence", quotes.column(i).cast(pa.float32()))
        with pytest.raises(ValueError, match="declared schema"):
            publish_tables({**tables, "quotes": bad}, tmp_path, "r1")
        assert dataset.read_manifest(tmp_path) is None
        assert not list(tmp_path.glob("*/*.parquet"))
        assert not list((tmp_path / store.INTERNAL_DIR).glob("staging-*"))


class TestReaders:
    """``open_dataset``: every table of one version, however many runs commit meanwhile."""

    def test_pinned_version_is_read_after_later_commits(
        self, tables: dict[str, pa.Table], tmp_path: Path
    ) -> None:
        """A reader reads articles, then two runs commit (the second would delete the
        reader's version), then it reads quotes and sentences: all of its own version,
        through pyarrow, pandas and DuckDB alike. Once it is done, a run deletes it."""
        open_store(tmp_path).publish("r1", append=appended(tables, 2))
        first = open_store(tmp_path).current_version_dir()
        with dataset.open_dataset(tmp_path) as snap:
            assert snap.version == 1 and "quotes" in snap.names
            articles = snap.read("articles")
            open_store(tmp_path).publish("r2", append=appended(tables, 3))
            open_store(tmp_path).publish("r3", replace={"quotes": tables["quotes"].slice(0, 1)})
            assert dataset.read_manifest(tmp_path)["version"] == 3
            assert articles.equals(tables["articles"].slice(0, 2))
            assert snap.read("quotes").equals(tables["quotes"].slice(0, 2))
            assert len(pd.read_parquet(snap.files("sentences"))) == 2
            with duckdb.connect() as con:
                query = "select count(*) from read_parquet($files)"
                assert con.execute(query, {"files": snap.files("quotes")}).fetchall() == [(2,)]
            assert set(snap.read_tables()) == set(appended(tables, 2))
        assert first is not None and first.is_dir()
        open_store(tmp_path).publish("r4", append=appended(tables, 1))
        assert not first.exists()
        assert sorted(p.name for p in first.parent.iterdir()) == ["v000003", "v000004"]

    def test_read_tables_reads_one_manifest(
        self, tables: dict[str, pa.Table], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A run committing while read_tables is between two tables changes nothing read."""
        open_store(tmp_path).publish("r1", append=appended(tables, 2))
        real = store.Snapshot.read
        runs = iter(["r2", "r3"])

        def read_then_commit(self: store.Snapshot, name: str, columns: object = None) -> object:
            table = real(self, name, columns)  # type: ignore[arg-type]
            if run := next(runs, None):
                open_store(tmp_path).publish(run, append=appended(tables, 3))
            return table

        monkeypatch.setattr(store.Snapshot, "read", read_then_commit)
        got = dataset.read_tables(tmp_path, ["articles", "sentences", "quotes", "quarantine"])
        assert dataset.read_manifest(tmp_path)["version"] == 3
        assert {k: t.num_rows for k, t in got.items()} == {
            "articles": 2,
            "sentences": 2,
            "quotes": 2,
            "quarantine": 1,
        }

    def test_nothing_published(self, tmp_path: Path) -> None:
        with (
            pytest.raises(store.DatasetError, match="nothing is published"),
            dataset.open_dataset(tmp_path),
        ):
            pass
        assert dataset.read_tables(tmp_path) == {}
        assert dataset.read_table(tmp_path, "quotes") is None


class TestCrashSafety:
    @pytest.mark.parametrize("step", ["write_table", "rename", "swap"])
    def test_interrupted_commit_keeps_the_version_and_the_next_one_finishes(
        self,
        tables: dict[str, pa.Table],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        step: str,
    ) -> None:
        """A commit dying while writing a part, after renaming its staged version, or at the
        pointer swap leaves the current version as it was, byte for byte; the next commit
        clears the leftovers and goes through."""
        open_store(tmp_path).publish("r1", append=appended(tables, 2))
        before = part_files(tmp_path)

        class Killed(BaseException):
            """Stands for kill -9: nothing after it runs, not even except clauses."""

        if step == "write_table":  # the second part of the commit
            dying = _die_after(Killed, pq.write_table, 1)
            monkeypatch.setattr(store_local.pq, "write_table", dying)
        elif step == "rename":  # just after the staged version got its final name
            dying = _die_after(Killed, os.rename, 0, late=True)
            monkeypatch.setattr(store_local.os, "rename", dying)
        else:  # at the swap of .isnad/current
            monkeypatch.setattr(store_local, "replace_symlink", _die_on(Killed, "current"))
        monkeypatch.setattr(store_local.shutil, "rmtree", lambda *a, **k: None)  # no tidying
        with pytest.raises(Killed):
            open_store(tmp_path).publish("r2", append=appended(tables, 3))
        monkeypatch.undo()

        assert part_files(tmp_path) == before
        assert dataset.read_manifest(tmp_path)["version"] == 1
        assert glob_rows(tmp_path, "articles") == 2
        assert list((tmp_path / store.INTERNAL_DIR).glob("staging-*")) or step != "write_table"

        open_store(tmp_path).publish("r3", append=appended(tables, 3))
        assert glob_rows(tmp_path, "articles") == 5
        internal = tmp_path / store.INTERNAL_DIR
        assert not list(internal.glob("staging-*"))
        assert sorted(p.name for p in (internal / "versions").iterdir()) == ["v000001", "v000002"]

    def test_refuses_a_copy_with_symlinks_followed(
        self, tables: dict[str, pa.Table], tmp_path: Path
    ) -> None:
        """A dataset copied with its symlinks followed still reads, but is not written into."""
        open_store(tmp_path / "a").publish("r1", append=appended(tables, 2))
        shutil.copytree(tmp_path / "a", tmp_path / "b", symlinks=False)
        assert pq.read_table(tmp_path / "b" / "articles").num_rows == 2
        with pytest.raises(store.DatasetError, match="symlinks"):
            open_store(tmp_path / "b").publish("r2", append=appended(tables, 1))
        shutil.copytree(tmp_path / "a", tmp_path / "c", symlinks=True)
        open_store(tmp_path / "c").publish("r2", append=appended(tables, 1))
        assert (
            glob_rows(tmp_path / "c", "articles") == 3
            and glob_rows(tmp_path / "a", "articles") == 2
        )

    def test_refuses_the_old_one_file_layout(self, tmp_path: Path) -> None:
        """An output directory of an earlier isnad (<table>.parquet files) is left alone."""
        (tmp_path / "quotes.parquet").write_bytes(b"PAR1")
        with pytest.raises(store.DatasetError, match="one-file-per-table"):
            open_store(tmp_path).snapshot()


def _die_after(exc: type[BaseException], real: object, n: int, *, late: bool = False) -> object:
    """``real`` that raises ``exc`` on its (n+1)th call: before doing it, or after (late)."""
    calls = []

    def wrapper(*args: object, **kwargs: object) -> object:
        calls.append(args)
        if len(calls) > n and not late:
            raise exc
        result = real(*args, **kwargs)  # type: ignore[operator]
        if len(calls) > n:
            raise exc
        return result

    return wrapper


def _die_on(exc: type[BaseException], link_name: str) -> object:
    real = store_local.replace_symlink

    def wrapper(link: Path, target: str, tmp_name: str) -> None:
        if link.name == link_name:
            raise exc
        real(link, target, tmp_name)

    return wrapper


class TestLock:
    def test_second_writer_is_refused_with_the_holder_named(self, tmp_path: Path) -> None:
        """While a run holds the lock, another gets DatasetLocked at once (timeout 0), or
        after waiting; once released, the lock is free."""
        with open_store(tmp_path).locked(run_id="first-run"):
            with (
                pytest.raises(store.DatasetLocked, match=r"run first-run.*--lock-timeout"),
                open_store(tmp_path).locked(),
            ):
                pass
            with (
                pytest.raises(store.DatasetLocked, match=r"after waiting 0\.3 s"),
                open_store(tmp_path).locked(timeout=0.3),
            ):
                pass
        with open_store(tmp_path).locked(timeout=0):
            pass

    def test_a_killed_holder_leaves_no_stale_lock(self, tmp_path: Path) -> None:
        """The kernel drops a flock with its process: after kill -9 the next run goes on."""
        script = (
            "import fcntl, sys, time\n"
            f"f = open({str(tmp_path / store.LOCK_NAME)!r}, 'a')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n"
        )
        holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            with pytest.raises(store.DatasetLocked), open_store(tmp_path).locked():
                pass
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.communicate(timeout=10)
        with open_store(tmp_path).locked(timeout=5):
            pass

    def test_a_transaction_needs_the_lock(self, tmp_path: Path) -> None:
        """Staging a version without holding the lock is a program error; publish() takes
        the lock itself when the caller does not hold it."""
        with pytest.raises(store.DatasetError, match="locked"):
            open_store(tmp_path).transaction("r1")
        with open_store(tmp_path).locked():
            assert open_store(tmp_path).holds_lock()
            open_store(tmp_path).transaction("r1").abort()
        assert not open_store(tmp_path).holds_lock()
