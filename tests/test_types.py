"""The type checker over the pipeline's code: ``mypy`` with the ``[tool.mypy]`` section of
``pyproject.toml`` (``pipelines`` and ``flows``) reports no error.

The same check by hand: ``.venv/bin/mypy`` from the repository's root.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api  # in the test extras: pip install -e '.[test]'

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """mypy finds no error in pipelines/ and flows/ (its report is the failure message)."""
    monkeypatch.chdir(ROOT)  # the config's ``files`` and the cache are relative to the root
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, f"mypy exited {status}:\n{stdout}{stderr}"
    assert stdout.startswith("Success: no issues found"), stdout
