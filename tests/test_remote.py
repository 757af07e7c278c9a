"""The dataset on a remote filesystem (``--out s3://...``): S3 itself, served on loopback by
moto, read and written through pyarrow's S3 filesystem as a real bucket would be.

A run there publishes the same tables as a local one, in process and from Dask workers that
write their parts straight to the bucket; runs add incrementally; the manifest-last commit,
the advisory lock and the clean-up hold (``pipelines.store.object``)."""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from test_dask import CONTENT_TABLES, SAMPLE, SORT_KEYS
from test_dask import _tables as local_tables

from pipelines import dataset, store
from pipelines.store import ObjectStore, open_store

moto_server = pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access log line a request
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_out(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """A new bucket for the test; the dataset's URI in it (the endpoint in the URI's query,
    credentials in the environment, as Dask's worker processes inherit them)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = "isnad-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    uri = f"s3://{bucket}/data/isnad?endpoint_override={s3_endpoint}&scheme=http&region=us-east-1"
    filesystem, _ = pafs.FileSystem.from_uri(uri + "&allow_bucket_creation=true")
    filesystem.create_dir(bucket)
    return uri


def _remote_tables(uri: str) -> dict:
    tables = dataset.read_tables(uri, CONTENT_TABLES)
    out = {}
    for name in CONTENT_TABLES:
        keys = SORT_KEYS[name]
        keys = [keys] if isinstance(keys, str) else keys
        out[name] = tables[name].sort_by([(k, "ascending") for k in keys]).to_pylist()
    return out


def _objects(uri: str) -> list[str]:
    """Every object under the dataset, relative to it."""
    root = ObjectStore.of(uri)
    selector = pafs.FileSelector(root.path, recursive=True)
    return sorted(
        root.relative(info.path)
        for info in root.filesystem.get_file_info(selector)
        if info.type == pafs.FileType.File
    )


@pytest.mark.flow
class TestRunOnS3:
    def test_run_publishes_the_tables_of_a_local_run(
        self, prefect_harness: None, s3_out: str, tmp_path: Path
    ) -> None:
        """One run in process: the same content tables as the same run on a local
        directory; the manifest lists every part with its path; the report and Data Docs are
        copied next to the tables."""
        from flows.pipeline import isnad_flow

        local = isnad_flow(inputs=[SAMPLE], out=str(tmp_path / "local"), batch_size=2)
        summary = isnad_flow(inputs=[SAMPLE], out=s3_out, batch_size=2)
        assert summary["validation_success"] and summary["quotes"] == local["quotes"] > 0
        assert _remote_tables(s3_out) == local_tables(tmp_path / "local")

        objects = _objects(s3_out)
        manifest = dataset.read_manifest(s3_out)
        assert manifest is not None and manifest["version"] == 1
        listed = {p["path"] for t in manifest["tables"].values() for p in t["parts"]}
        assert listed <= set(objects)
        assert all(p.startswith(".isnad/versions/v000001/") for p in listed)
        assert {"_SUCCESS", "report/index.html", "validation/index.html"} <= set(objects)
        assert ".isnad/LOCK" not in objects  # released
        assert summary["report_path"].endswith("/data/isnad/report/index.html")
        assert summary["report_path"].startswith("s3://") and "?" not in summary["report_path"]
        assert summary["paths"]["quotes"].endswith("/data/isnad/_SUCCESS")

    def test_later_runs_add_incrementally_and_tidy_up(
        self, prefect_harness: None, s3_out: str, tmp_path: Path
    ) -> None:
        """A second run over the same input adds nothing; one over more input adds only the
        new articles. Parts kept from earlier versions are not copied; version directories
        that neither the current nor the previous manifest uses are deleted."""
        from flows.pipeline import isnad_flow

        first_input = tmp_path / "first"
        first_input.mkdir()
        samples = sorted(Path(SAMPLE).iterdir())
        for path in samples[:2]:
            (first_input / path.name).write_bytes(path.read_bytes())
        first = isnad_flow(inputs=[str(first_input)], out=s3_out, batch_size=2)
        again = isnad_flow(inputs=[str(first_input)], out=s3_out, batch_size=2)
        more = isnad_flow(inputs=[SAMPLE], out=s3_out, batch_size=2)
        assert first["articles"] == 2 and again["articles"] == 0
        assert more["articles"] == len(samples) - 2
        assert more["dataset_version"] == 3

        manifest = dataset.read_manifest(s3_out)
        assert manifest is not None and manifest["previous_version"] == 2
        articles = [p["path"] for p in manifest["tables"]["articles"]["parts"]]
        assert any("/v000001/" in p for p in articles)  # kept where it was written
        assert any("/v000003/" in p for p in articles)
        assert set(articles) <= set(_objects(s3_out))
        local = isnad_flow(inputs=[SAMPLE], out=str(tmp_path / "local"), batch_size=2)
        assert local["quotes"] == first["quotes"] + more["quotes"]
        remote_rows, local_rows = _remote_tables(s3_out), local_tables(tmp_path / "local")
        for rows in (remote_rows["articles"], local_rows["articles"]):
            for row in rows:  # two were read from a copy of the sample directory
                row["input_path"] = Path(row["input_path"]).name
        assert remote_rows == local_rows

    def test_dask_workers_write_their_parts_to_the_bucket(
        self, prefect_harness: None, s3_out: str, tmp_path: Path
    ) -> None:
        """A LocalCluster of two worker processes, which write the batches' parts to S3
        themselves, publishes what the default runner does on a local directory."""
        from prefect_dask import DaskTaskRunner

        from flows.pipeline import isnad_flow

        local = isnad_flow(inputs=[SAMPLE], out=str(tmp_path / "local"), batch_size=2)
        runner = DaskTaskRunner(
            cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True}
        )
        scaled = isnad_flow.with_options(task_runner=runner)(
            inputs=[SAMPLE], out=s3_out, batch_size=2, scale_out=True
        )
        assert scaled["validation_success"] and scaled["quotes"] == local["quotes"]
        assert _remote_tables(s3_out) == local_tables(tmp_path / "local")

    def test_a_failed_copy_of_the_data_docs_is_logged_and_the_local_ones_kept(
        self, prefect_harness: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """After the commit, copying the Data Docs can fail: the run logs it and names the
        local Data Docs, which it keeps; a copy that works names the remote ones."""
        from prefect import flow

        from flows import pipeline
        from pipelines import validate

        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "index.html").write_text("<html></html>", encoding="utf-8")
        built = validate.ValidationReport(True, [], {}, str(docs / "index.html"))

        def unreachable(*_: object) -> str:
            raise OSError("bucket unreachable")

        @flow
        def publish_docs(out: str) -> validate.ValidationReport:
            return pipeline._docs_published(built, str(docs), open_store(out))

        bucket = "s3://bucket/isnad?region=us-east-1"
        monkeypatch.setattr(ObjectStore, "upload_dir", unreachable)
        assert publish_docs(bucket).docs_path == str(docs / "index.html")
        assert (docs / "index.html").is_file()
        monkeypatch.setattr(ObjectStore, "upload_dir", lambda *_: None)
        copied = publish_docs(bucket)
        assert copied.docs_path == "s3://bucket/isnad/validation/index.html"
        assert not docs.exists()
        assert publish_docs(str(tmp_path / "local")) == built  # local: nothing to copy


class TestProtocol:
    def test_lock_is_exclusive_while_held_and_names_its_run(self, s3_out: str) -> None:
        with open_store(s3_out).locked(run_id="run-a"):
            assert open_store(s3_out).holds_lock()
            with (
                pytest.raises(store.DatasetLocked, match="run_id run-a"),
                open_store(s3_out).locked(timeout=0.6, run_id="run-b"),
            ):
                pass
        assert not open_store(s3_out).holds_lock()
        with open_store(s3_out).locked(run_id="run-b"):
            assert open_store(s3_out).holds_lock()

    def test_a_lock_left_by_another_process_is_not_ours(self, s3_out: str) -> None:
        root = ObjectStore.of(s3_out)
        path = root.join(".isnad", "LOCK")
        root.write_json(path, {"host": "elsewhere", "pid": 1, "run_id": "dead"})
        assert not open_store(s3_out).holds_lock()
        with (
            pytest.raises(store.DatasetLocked, match=r"delete .*\.isnad/LOCK"),
            open_store(s3_out).locked(),
        ):
            pass
        with pytest.raises(store.DatasetError, match="lock"):
            open_store(s3_out).transaction("run-x")

    def test_commit_is_the_manifest_and_refuses_a_moved_dataset(self, s3_out: str) -> None:
        """Nothing is visible before the commit; a version another writer committed during
        the run is not overwritten; an aborted run leaves nothing."""
        from pipelines import tabulate

        table = tabulate.SCHEMAS["speakers"].empty_table()
        with open_store(s3_out).locked(run_id="run-1"):
            txn = open_store(s3_out).transaction("run-1")
            txn.replace("speakers", table)
            assert dataset.read_manifest(s3_out) is None  # staged, not committed
            manifest = txn.commit()
        assert manifest.version == 1
        assert dataset.read_table(s3_out, "speakers").num_rows == 0

        with open_store(s3_out).locked(run_id="run-2"):
            txn = open_store(s3_out).transaction("run-2")
            txn.replace("speakers", table)
            root = ObjectStore.of(s3_out)
            moved = {**dataset.read_manifest(s3_out), "version": 7}
            root.write_json(root.join("_SUCCESS"), moved)  # a writer that ignored the lock
            with pytest.raises(store.DatasetError, match="moved from version 1 to 7"):
                txn.commit()
            txn.abort()
        assert json.loads(json.dumps(dataset.read_manifest(s3_out)))["version"] == 7
        assert not any(p.startswith(".isnad/versions/v000002/") for p in _objects(s3_out))

    def test_open_dataset_reads_one_version_while_a_run_commits(self, s3_out: str) -> None:
        """A reader of the pinned version keeps its rows (and its parts' URIs stay readable)
        after a later run replaced the table."""
        from collections import Counter

        from pipelines import tabulate

        one = tabulate.build_speakers(Counter({"lavrov": 1}))
        two = tabulate.build_speakers(Counter({"lavrov": 2}))
        open_store(s3_out).publish("run-1", replace={"speakers": one})
        with dataset.open_dataset(s3_out) as snap:
            open_store(s3_out).publish("run-2", replace={"speakers": two})
            assert dataset.read_table(s3_out, "speakers").equals(two)
            assert snap.version == 1 and snap.read("speakers").equals(one)
            (uri,) = snap.files("speakers")
            assert uri.startswith("s3://") and "?" not in uri
            assert "/.isnad/versions/v000001/speakers/part-000001-" in uri
            filesystem = ObjectStore.of(s3_out).filesystem
            assert filesystem.get_file_info(uri[len("s3://") :]).size > 0

    def test_read_file_reads_beside_the_tables(self, s3_out: str) -> None:
        """A file a run copied beside the tables reads back; a missing one, or a path with
        '..', is None."""
        target = ObjectStore.of(s3_out)
        target.write_json(target.join("report", "index.json"), {"a": 1})
        assert json.loads(target.read_file("report/index.json") or b"") == {"a": 1}
        assert target.read_file("report/missing.html") is None
        assert target.read_file("../isnad/report/index.json") is None

    def test_unreachable_uri_is_a_dataset_error(self) -> None:
        with pytest.raises(store.DatasetError, match="cannot open"):
            open_store("nosuchscheme://bucket/x")
