"""``isnad explore DIR|URI``: the analysts' explorer (pipelines/explore) on a local port."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

DEFAULT_HOST = "127.0.0.1"  # local only unless asked: the explorer has no login
DEFAULT_PORT = 8710


def add_parser(commands: Any) -> None:
    explore = commands.add_parser(
        "explore", help="browse a published dataset in a local, read-only web app"
    )
    explore.add_argument("dataset", help="the dataset: a directory (--out of a run) or its URI")
    explore.add_argument("--host", default=DEFAULT_HOST, help=f"address (default {DEFAULT_HOST})")
    explore.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    explore.set_defaults(handler=explore_command)


def explore_command(args: argparse.Namespace) -> int:
    import uvicorn

    from pipelines.explore.app import create_app
    from pipelines.explore.data import Explorer, open_published

    print(f"isnad explore: loading {args.dataset} ...", file=sys.stderr)
    explorer = Explorer(open_published(args.dataset))
    host = f"[{args.host}]" if ":" in args.host else args.host
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"isnad explore: serving on {args.host}: anyone who can reach it reads the dataset "
            "(there is no login)",
            file=sys.stderr,
        )
    print(
        f"isnad explore: dataset version {explorer.version}, "
        f"{explorer.table_rows.get('quotes', 0):,} quotations at http://{host}:{args.port}/ "
        "(Ctrl-C stops)",
        file=sys.stderr,
    )
    # uvicorn stops on SIGTERM as on Ctrl-C, then raises the signal again: end quietly then
    # (the CLI's own handler would report a run that published nothing).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    uvicorn.run(create_app(explorer), host=args.host, port=args.port, log_level="warning")
    return 0
