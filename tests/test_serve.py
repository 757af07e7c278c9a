"""The scheduled deployment: `isnad serve` and the same deployment in prefect.yaml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from serving import prefect_env, read_deployment, stop_serving

from flows import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"


@pytest.mark.flow
class TestServe:
    def test_served_deployment_carries_the_cron_schedule(
        self, prefect_harness: None, tmp_path: Path
    ) -> None:
        """`isnad serve INBOX --out DIR` registers isnad/scheduled with the hourly cron (the
        default), the flow loaded by module and the paths made absolute, and keeps serving
        until interrupted."""
        shutil.copytree(SAMPLE_DIR, tmp_path / "inbox")
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve", "inbox", "--out", "out"],
            cwd=tmp_path,  # relative paths: the deployment must hold absolute ones
            env=prefect_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deployment = read_deployment(f"isnad/{cli.DEFAULT_DEPLOYMENT}", proc)
            (schedule,) = deployment.schedules
            assert schedule.active
            assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 * * * *", "UTC")
            assert deployment.parameters == {
                "inputs": [str(tmp_path / "inbox")],
                "out": str(tmp_path / "out"),
                "batch_size": 2000,
            }
            assert deployment.entrypoint == "flows.pipeline.isnad_flow"
            assert proc.poll() is None  # still serving
        finally:
            stop_serving(proc)

    def test_bad_cron_is_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A cron expression that is not one stops `isnad serve` before it registers."""
        for name in ("PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL"):
            monkeypatch.setenv(name, os.environ.get(name, "WARNING"))  # undone after the test
        code = cli.main(["serve", str(SAMPLE_DIR), "--out", str(tmp_path), "--cron", "hourly"])
        assert code == 1
        assert "bad --cron" in capsys.readouterr().err

    def test_prefect_yaml_declares_the_same_deployment(
        self, prefect_harness: None, tmp_path: Path
    ) -> None:
        """`prefect deploy` of prefect.yaml (for a server with workers) makes isnad/scheduled
        with the same cron schedule, the flow's parameters and a process work pool."""
        import asyncio

        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import WorkPoolCreate

        async def create_pool() -> None:
            async with get_client() as client:
                await client.create_work_pool(WorkPoolCreate(name="isnad", type="process"))

        asyncio.run(create_pool())
        env = prefect_env(ISNAD_INBOX=str(tmp_path / "inbox"), ISNAD_OUT=str(tmp_path / "out"))
        deploy = subprocess.run(
            [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--name", "scheduled"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr

        deployment = read_deployment("isnad/scheduled", None)
        (schedule,) = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == (cli.DEFAULT_CRON, "UTC")
        assert deployment.parameters == {
            "inputs": [str(tmp_path / "inbox")],
            "out": str(tmp_path / "out"),
            "batch_size": 2000,
            "lock_timeout": 0,
            "registry": None,  # the shipped default registry
        }
        assert deployment.work_pool_name == "isnad"
        assert deployment.entrypoint == "flows/pipeline.py:isnad_flow"
