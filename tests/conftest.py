"""Shared fixtures. Prefect runs offline and quiet in tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Before anything imports prefect: no telemetry from a test run.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API and database for every flow test of the session (~8 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield
