"""Scale-out: the same flow on a Dask LocalCluster gives exactly the default runner's tables."""

from __future__ import annotations

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
        """Two Dask workers over three batches publish exactly what the default run does."""
        from prefect_dask import DaskTaskRunner

        default = isnad_flow(inputs=[SAMPLE], out=str(tmp_path / "default"), batch_size=2)
        runner = DaskTaskRunner(
            cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True}
        )
        dask_flow = isnad_flow.with_options(task_runner=runner)
        scaled = dask_flow(
            inputs=[SAMPLE], out=str(tmp_path / "dask"), batch_size=2, scale_out=True
        )
        assert scaled["validation_success"] and default["validation_success"]
        assert "analyse (workers)" in scaled["stage_seconds"]
        assert scaled["quotes"] == default["quotes"] > 0
        assert _tables(tmp_path / "dask") == _tables(tmp_path / "default")
