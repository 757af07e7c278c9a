"""Scale-out: the same flow on a Dask LocalCluster, or on a Prefect process pool (``isnad run
--workers 2``), gives exactly the default runner's tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from flows.pipeline import isnad_flow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = str(ROOT / "data" / "sample")
# Tables whose rows depend only on the inputs (runs and the report carry run ids and times).
CONTENT_TABLES = ("articles", "sentences", "quotes", "claims", "speakers", "quarantine")
SORT_KEYS = {
    "articles": "article_id", "sentences": ["article_id", "sentence_index"],
    "quotes": "quote_id", "claims": "claim_id", "speakers": "speaker_id",
    "quarantine": "source_name",
}  # fmt: skip


def _tables(out: Path) -> dict:
    tables = {}
    for name in CONTENT_TABLES:
        table = ds.dataset(str(out / name), format="parquet").to_table()
        keys = SORT_KEYS[name]
        keys = [keys] if isinstance(keys, str) else keys
        tables[name] = table.sort_by([(k, "ascending") for k in keys]).to_pylist()
    return tables


@pytest.mark.flow
class TestDaskRunner:
    def test_local_cluster_gives_the_same_tables(self, prefect_harness: None, tmp_path: Path):
        """Two Dask workers over three batches, two a task (so one task takes one), publish
        exactly what the default run does."""
        from prefect_dask import DaskTaskRunner

        default = isnad_flow(inputs=[SAMPLE], out=str(tmp_path / "default"), batch_size=2)
        runner = DaskTaskRunner(
            cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True}
        )
        dask_flow = isnad_flow.with_options(task_runner=runner)
        scaled = dask_flow(
            inputs=[SAMPLE],
            out=str(tmp_path / "dask"),
            batch_size=2,
            scale_out=True,
            batches_per_task=2,
        )
        assert scaled["validation_success"] and default["validation_success"]
        assert "batch: quotes" in scaled["stage_seconds"]
        assert scaled["quotes"] == default["quotes"] > 0
        assert _tables(tmp_path / "dask") == _tables(tmp_path / "default")


@pytest.mark.flow
class TestProcessPool:
    def test_two_worker_processes_give_the_same_tables(
        self, prefect_harness: None, tmp_path: Path
    ) -> None:
        """`isnad run --workers 2` (spawned worker processes sharing the run's Prefect API)
        over three batches publishes exactly what one process does."""
        from prefect.settings import get_current_settings

        default = isnad_flow(inputs=[SAMPLE], out=str(tmp_path / "default"), batch_size=2)
        env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url)}
        isnad = str(Path(sys.executable).with_name("isnad"))
        command = [isnad, "run", SAMPLE, "--out", str(tmp_path / "pool"), "--json"]
        command += ["--batch-size", "2", "--workers", "2"]
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "temporary server" not in proc.stderr  # the workers used the run's API
        pooled = json.loads(proc.stdout.strip().splitlines()[-1])
        assert pooled["validation_success"] and default["validation_success"]
        assert "batch: quotes" in pooled["stage_seconds"]
        assert pooled["quotes"] == default["quotes"] > 0
        assert _tables(tmp_path / "pool") == _tables(tmp_path / "default")
