"""Helpers for tests that serve the deployment (`isnad serve` in a subprocess) against the
session's Prefect test server: its environment, the deployment once registered, one run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

import pytest


def prefect_env(**extra: str) -> dict[str, str]:
    """This process's environment with the test server's API, for a child `isnad` process."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), **extra}


def read_deployment(name: str, proc: subprocess.Popen | None, timeout: float = 60) -> Any:
    """The deployment ``name`` once ``isnad serve`` (``proc``) has registered it."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            try:
                return client.read_deployment_by_name(name)
            except ObjectNotFound:
                if proc is not None and proc.poll() is not None:
                    pytest.fail(f"`isnad serve` ended ({proc.returncode}):\n{proc.communicate()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"no deployment {name} after {timeout} s")
                time.sleep(0.25)


def run_deployment(deployment_id: Any, proc: subprocess.Popen, timeout: float = 300) -> Any:
    """Trigger one run of the served deployment (as its schedule would); its final state."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run_from_deployment(deployment_id)
        deadline = time.monotonic() + timeout
        while True:
            flow_run = client.read_flow_run(flow_run.id)
            if flow_run.state is not None and flow_run.state.is_final():
                return flow_run.state
            if proc.poll() is not None:
                pytest.fail(f"`isnad serve` ended ({proc.returncode}):\n{proc.communicate()}")
            if time.monotonic() > deadline:
                pytest.fail(f"flow run {flow_run.id} not finished after {timeout} s")
            time.sleep(1)


def stop_serving(proc: subprocess.Popen) -> None:
    """Stop `isnad serve` as Ctrl-C would (it pauses its schedule on the way out); kill it if
    it has not ended within 30 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
