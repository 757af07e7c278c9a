"""``isnad`` paused just before its commit, for tests that kill or signal a run at the worst
moment (its version staged, the lock held): ``python tests/paused_isnad.py SECONDS run ...``.

The pause is this test's own: the production commit has no hook for it. The script wraps
the local transaction's version-race check (the step right before the swap) with a sleep,
then runs the command line as ``python -m flows.cli`` would.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command(seconds: float, *args: str) -> list[str]:
    """The argv of ``isnad *args`` paused ``seconds`` before its commit."""
    return [sys.executable, str(Path(__file__).resolve()), str(seconds), *args]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from flows import cli
    from pipelines.store.base import Manifest
    from pipelines.store.local import LocalTransaction

    seconds = float(sys.argv[1])
    check = LocalTransaction._check_unmoved

    def paused(self: LocalTransaction, manifest: Manifest) -> None:
        time.sleep(seconds)
        check(self, manifest)

    LocalTransaction._check_unmoved = paused  # type: ignore[method-assign]
    return cli.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
