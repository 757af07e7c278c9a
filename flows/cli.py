"""The ``isnad`` command: run the pipeline, score its output, manage the local Prefect server.

    isnad run INPUT... --out DIR [--batch-size N] [--max-bytes N] [--lock-timeout S] [-v]
    isnad serve INPUT... --out DIR [--cron "0 * * * *"] [--name NAME] [...same options]
    isnad evaluate --gold FILE --quotes DIR
    isnad server {start,stop,status}

``run`` adds the articles under INPUT that ``DIR`` does not hold yet (exit 0), or exits 2
when validation fails (nothing added), or 3 when another run is writing to ``DIR``.
``serve`` registers the flow as the deployment ``isnad/NAME`` with a cron schedule and
runs its scheduled runs until interrupted (Ctrl-C, SIGTERM).

Where the flow's runs are recorded, in order:

1. a Prefect API the user configured (``PREFECT_API_URL`` in the environment or the active
   Prefect profile) is used as it is;
2. otherwise a local Prefect server on 127.0.0.1 (port ``ISNAD_PREFECT_PORT``, default 4210;
   its SQLite database, pid file and log under ``ISNAD_PREFECT_HOME``, default
   ``~/.cache/isnad/prefect``) is started in the background on first use and reused by later
   runs: the first run waits ~10 s for it, later ones not at all;
3. if that server cannot be had, or ``ISNAD_PREFECT_SERVER=ephemeral``, Prefect's ephemeral
   mode: a temporary server in this process (~9 s on every run).

Prefect is imported only after telemetry is switched off, and only by the commands that
need it (``evaluate`` does not).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

DEFAULT_PORT = 4210
DEFAULT_CRON = "0 * * * *"  # hourly, on the hour
DEFAULT_DEPLOYMENT = "scheduled"  # served as isnad/scheduled; prefect.yaml declares the same
EXIT_VALIDATION_FAILED = 2
EXIT_LOCKED = 3
START_TIMEOUT_SECONDS = 90.0  # a first start creates and migrates the SQLite database


def _memory_settings() -> None:
    """Allocators that give memory back: Arrow's default pool (mimalloc) keeps what a batch
    freed, and glibc keeps one arena a thread. Read at import and at process start, so set
    before pyarrow loads (worker processes inherit them). Measured on the SaudiNewsNet
    corpus with two workers: peak RSS of the run's processes 1.30 -> 1.15 GiB, same speed."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")


def main(argv: Sequence[str] | None = None) -> int:
    _memory_settings()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("run", "serve"):
        missing = [p for p in args.inputs if not Path(p).exists()]
        if missing:
            parser.error(f"input path does not exist: {', '.join(missing)}")
    return args.handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isnad",
        description="Quotations by Lavrov, Kerry, Shoigu, Hagel and Muallem in Arabic news.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="add new articles to the Parquet tables")
    _add_run_options(run)
    run.add_argument("-v", "--verbose", action="store_true", help="show Prefect's run logs")
    run.add_argument(
        "--json", action="store_true", help="print the run's summary as JSON (stage times too)"
    )
    run.set_defaults(handler=run_command)

    serve = commands.add_parser("serve", help="run on a cron schedule (a Prefect deployment)")
    _add_run_options(serve)
    serve.add_argument(
        "--cron",
        default=DEFAULT_CRON,
        help=f"when to run, a cron expression (default {DEFAULT_CRON!r}: hourly)",
    )
    serve.add_argument("--timezone", default="UTC", help="time zone of the cron (default UTC)")
    serve.add_argument(
        "--name", default=DEFAULT_DEPLOYMENT, help=f"deployment name (default {DEFAULT_DEPLOYMENT})"
    )
    serve.add_argument("-q", "--quiet", action="store_true", help="hide the runs' INFO logs")
    serve.set_defaults(handler=serve_command)

    evaluate = commands.add_parser("evaluate", help="score the quotes table against a gold set")
    evaluate.add_argument("--gold", required=True, help="gold quotations (JSON Lines)")
    evaluate.add_argument(
        "--quotes",
        required=True,
        help="the dataset directory (--out of a run), its quotes/ directory, or a quotes.parquet",
    )
    evaluate.add_argument(
        "--only-gold-docs",
        action="store_true",
        help="ignore predictions in articles that have no gold record",
    )
    evaluate.set_defaults(handler=evaluate_command)

    server = commands.add_parser("server", help="the local Prefect server isnad runs use")
    server.add_argument("action", choices=("start", "stop", "status"))
    server.set_defaults(handler=server_command)
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or directories")
    parser.add_argument(
        "--out",
        required=True,
        help="directory of the Parquet dataset, or a URI of any filesystem pyarrow supports "
        "(s3://bucket/prefix?region=..., gs://..., hdfs://...)",
    )
    parser.add_argument("--batch-size", type=_positive_int, default=2000, help="articles per batch")
    parser.add_argument(
        "--max-bytes",
        type=_positive_int,
        default=None,
        help="quarantine (too_large) a .txt/.html file, JSONL line or record text over N "
        "bytes (default 5 MiB)",
    )
    parser.add_argument(
        "--lock-timeout",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run writing to --out (default 0: exit at once, code 3)",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default="auto",
        metavar="N",
        help="processes that analyse batches in parallel (a Prefect process pool); 'auto' "
        "(default): one per core when the inputs hold more than 8 MB, else this process only",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        default=None,
        help="run the text stages on a Dask cluster: a scheduler address (tcp://host:8786) or "
        "'local' for a LocalCluster of one worker per core",
    )


def _flow_options(args: argparse.Namespace, *, absolute: bool = False) -> dict[str, Any]:
    """The flow's parameters from the command line (paths made absolute for a deployment,
    whose runs start in another process and directory)."""
    inputs = [str(Path(p).resolve()) for p in args.inputs] if absolute else args.inputs
    # A remote URI (s3://, gs:// ...) stays as it is; a local path is made absolute.
    out = str(Path(args.out).resolve()) if absolute and "://" not in args.out else args.out
    options: dict[str, Any] = {"inputs": inputs, "out": out, "batch_size": args.batch_size}
    if args.max_bytes is not None:  # else the flow's default (ingest.DEFAULT_MAX_BYTES)
        options["max_bytes"] = args.max_bytes
    if args.lock_timeout:
        options["lock_timeout"] = args.lock_timeout
    return options


AUTO_WORKERS_MIN_BYTES = 8 * 2**20  # below this, starting processes costs more than it saves


def _workers(value: str) -> int | str:
    if value == "auto":
        return value
    return _positive_int(value)


def worker_count(requested: int | str, inputs: list[str]) -> int:
    """Processes to run batches in: ``requested``, or for 'auto' one per core when the inputs
    are big enough to pay for starting them."""
    if requested != "auto":
        return int(requested)
    from pipelines import ingest

    size = 0
    with contextlib.suppress(OSError, ValueError):  # the flow reports unreadable inputs
        for path in ingest.find_input_files(inputs):
            with contextlib.suppress(OSError):  # a dangling symlink; stat never opens a FIFO
                size += path.stat().st_size
    return (os.cpu_count() or 1) if size >= AUTO_WORKERS_MIN_BYTES else 1


def process_pool_runner(workers: int) -> Any:
    """Prefect's process pool task runner (spawned workers; batches travel pickled)."""
    from prefect.task_runners import ProcessPoolTaskRunner

    return ProcessPoolTaskRunner(max_workers=workers)


def run_command(args: argparse.Namespace) -> int:
    _quiet_prefect(verbose=args.verbose)
    workers = (
        1 if getattr(args, "dask", None) else worker_count(getattr(args, "workers", 1), args.inputs)
    )
    shared_api = export_api_url() if workers > 1 else None
    from flows.pipeline import ValidationFailed, isnad_flow
    from pipelines.dataset import DatasetError, DatasetLocked

    options = _flow_options(args)
    flow_fn = isnad_flow
    if getattr(args, "dask", None):
        flow_fn = isnad_flow.with_options(task_runner=dask_runner(args.dask))
        options["scale_out"] = True
    with prefect_api() as api:
        if workers > 1 and (api is None or api != shared_api):
            # Each spawned worker would start a temporary server of its own.
            print(
                "isnad: no Prefect API to share with worker processes; one process", file=sys.stderr
            )
        elif workers > 1:
            # N processes in all: N - 1 workers, and this one takes batches while they are busy.
            flow_fn = isnad_flow.with_options(task_runner=process_pool_runner(workers - 1))
            options |= {"scale_out": True, "in_flight": workers, "run_here": True}
        try:
            summary = flow_fn(**options)
        except ValidationFailed as exc:
            print(f"isnad: {exc}", file=sys.stderr)
            return EXIT_VALIDATION_FAILED
        except DatasetLocked as exc:
            print(f"isnad: {exc}", file=sys.stderr)
            return EXIT_LOCKED
        except DatasetError as exc:
            print(f"isnad: {exc}", file=sys.stderr)
            return 1
    print(
        json.dumps(summary, default=str)
        if getattr(args, "json", False)
        else format_summary(summary)
    )
    return 0


def dask_runner(address: str) -> Any:
    """prefect-dask's task runner on an existing scheduler, or on a new LocalCluster."""
    import logging

    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    logging.getLogger("distributed").setLevel(logging.WARNING)
    from prefect_dask import DaskTaskRunner

    if address == "local":
        workers = os.cpu_count() or 1
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True}
        )
    return DaskTaskRunner(address=address)


def serve_command(args: argparse.Namespace) -> int:
    """Serve the flow as the deployment ``isnad/<name>`` on a cron schedule until stopped."""
    _quiet_prefect(verbose=not args.quiet)
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    from flows.pipeline import isnad_flow

    try:  # the server would refuse it later, with a longer message
        CronSchedule(cron=args.cron, timezone=args.timezone)
    except ValueError as exc:
        print(f"isnad: bad --cron or --timezone: {exc}", file=sys.stderr)
        return 1
    with prefect_api() as url:
        if url is None:
            print(
                "isnad: serving needs a Prefect server that outlives this command "
                "(see `isnad server status`, or set PREFECT_API_URL)",
                file=sys.stderr,
            )
            return 1
        print(f"isnad: serving isnad/{args.name} ({args.cron} {args.timezone}) against {url}")
        isnad_flow.serve(
            name=args.name,
            schedule=Cron(args.cron, timezone=args.timezone),
            parameters=_flow_options(args, absolute=True),
            description=f"Add new articles under {', '.join(args.inputs)} to {args.out}.",
            tags=["isnad"],
            # Runs load the flow by module (flows.pipeline), not by a path relative to the
            # directory this command was started in.
            entrypoint_type=EntrypointType.MODULE_PATH,
            limit=1,  # one run at a time from this process (the dataset lock covers others)
        )
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    from pipelines.evaluate import format_report, load_gold, load_predictions, score

    try:
        gold, predictions = load_gold(args.gold), load_predictions(args.quotes)
    except (OSError, ValueError) as exc:
        print(f"isnad: {exc}", file=sys.stderr)
        return 1
    report = score(gold, predictions, only_gold_docs=args.only_gold_docs)
    print(format_report(report))
    return 0


def server_command(args: argparse.Namespace) -> int:
    url = local_api_url()
    if args.action == "start":
        started = ensure_local_server()
        print(f"Prefect server: {started}" if started else "Prefect server did not start")
        return 0 if started else 1
    if args.action == "stop":
        result = subprocess.run(
            [sys.executable, "-m", "prefect", "server", "stop"],
            env=_server_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        print(result.stdout.strip() or result.stderr.strip())
        return result.returncode
    up = _server_version(url) is not None
    print(f"Prefect server at {url}: {'up' if up else 'down'} (home {server_home()})")
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    speakers = ", ".join(f"{k} {v}" for k, v in summary["quotes_by_speaker"].items()) or "none"
    out_dir = Path(summary["paths"]["quotes"]).parent if summary.get("paths") else "?"
    # Inputs seen = articles + quarantined + exact duplicates + already published (validation
    # checks it); articles, quarantined, sentences and quotes are the run's new rows.
    accounting = []
    if "inputs_seen" in summary:
        line = (
            f"inputs       {summary['inputs_seen']} seen = {summary['articles']} articles"
            f" + {summary['quarantined']} quarantined"
            f" + {summary['exact_duplicates']} exact duplicates"
        )
        if "already_published" in summary:
            line += f" + {summary['already_published']} already published"
        accounting.append(line)
    if reasons := summary.get("quarantined_by_reason"):
        accounting.append("quarantined  " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    dataset = []
    if rows := summary.get("dataset_rows"):
        dataset.append(
            f"dataset      version {summary.get('dataset_version', '?')}: "
            + ", ".join(f"{rows[k]} {k}" for k in ("articles", "quotes", "claims") if k in rows)
        )
    return "\n".join(
        [
            *accounting,
            f"articles     {summary['articles']} new ({summary['quarantined']} inputs quarantined)",
            f"sentences    {summary['sentences']}",
            f"quotes       {summary['quotes']}: {speakers}",
            f"validation   {'passed' if summary['validation_success'] else 'FAILED'}",
            *dataset,
            f"tables       {out_dir}",
            f"data docs    {summary['docs_path']}",
            f"time         {summary['seconds']:.1f} s",
        ]
    )


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value:g}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# --- Prefect: quiet, offline, and a server that outlives a run -----------------------------


def _quiet_prefect(*, verbose: bool) -> None:
    """Telemetry off and run logs at WARNING (INFO with -v); must run before prefect loads."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    if not verbose:
        # A failed validation is reported by the CLI in a few lines; the flow run's logger
        # would print the same exception again with Prefect's traceback.
        os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL", "CRITICAL")


def _profile_api_url() -> str | None:
    """PREFECT_API_URL of the active Prefect profile, read without importing prefect."""
    import tomllib

    path = Path(
        os.environ.get("PREFECT_PROFILES_PATH")
        or Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect") / "profiles.toml"
    )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or data.get("active", "ephemeral")
    return data.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")


def export_api_url() -> str | None:
    """Put the API every process of the run must share in the environment, before prefect
    is imported: Prefect reads its settings once, at import, and a spawned worker process,
    or a thread of Prefect's own (the process pool forwards its workers' events from one),
    reads them from the environment. Without it each would start a temporary server."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured or "prefect" in sys.modules:
        return configured
    if profile := _profile_api_url():
        return profile
    if os.environ.get("ISNAD_PREFECT_SERVER", "local") == "ephemeral":
        return None
    url = ensure_local_server()
    if url is not None:
        os.environ["PREFECT_API_URL"] = url
    return url


@contextlib.contextmanager
def prefect_api() -> Iterator[str | None]:
    """Settings under which flows run: the configured API, else the local server, else none."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    configured = get_current_settings().api.url
    if configured or os.environ.get("ISNAD_PREFECT_SERVER", "local") == "ephemeral":
        yield configured
        return
    url = ensure_local_server()
    if url is None:
        print(
            "isnad: no local Prefect server (see `isnad server status`); "
            "running with a temporary one",
            file=sys.stderr,
        )
        yield None
        return
    # Worker processes (a process pool spawns them) read the API from the environment.
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


def server_home() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("ISNAD_PREFECT_HOME") or Path(cache) / "isnad" / "prefect")


def local_api_url() -> str:
    port = int(os.environ.get("ISNAD_PREFECT_PORT", DEFAULT_PORT))
    return f"http://127.0.0.1:{port}/api"


def ensure_local_server(timeout: float = START_TIMEOUT_SECONDS) -> str | None:
    """The local server's API URL, starting the server first if it is not up; None if it
    cannot be had (port taken by something else, another Prefect version, start failed).
    Does not import prefect (see :func:`export_api_url`)."""
    from importlib.metadata import version as installed

    prefect_version = installed("prefect")
    url = local_api_url()
    home = server_home()
    home.mkdir(parents=True, exist_ok=True)
    # One starter at a time: two first runs at once would both try to bind the port.
    with open(home / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        version = _server_version(url)
        if version is None:
            _clear_stale_pid_file(home)
            if not _server_running(home):
                _start_server(home, url)
            version = _wait_for_server(url, timeout)
    if version != prefect_version:
        if version is not None:
            print(
                f"isnad: the Prefect server at {url} runs version {version}, this is "
                f"{prefect_version}; stop it with `isnad server stop`",
                file=sys.stderr,
            )
        return None
    return url


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.update(
        PREFECT_HOME=str(server_home()),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_UI_ENABLED="false",
    )
    return env


def _start_server(home: Path, url: str) -> None:
    port = url.rsplit(":", 1)[1].split("/", 1)[0]
    command = [sys.executable, "-m", "prefect", "server", "start", "--background"]
    command += ["--host", "127.0.0.1", "--port", port, "--no-ui", "--analytics-off"]
    with open(home / "server.log", "a") as log:
        subprocess.run(
            command,
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            check=False,
            timeout=60,
        )


def _server_version(api_url: str) -> str | None:
    """The version a healthy Prefect server reports, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            if json.loads(response.read()) is not True:
                return None
        with urllib.request.urlopen(f"{api_url}/admin/version", timeout=2) as response:
            return str(json.loads(response.read()))
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _wait_for_server(api_url: str, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = _server_version(api_url)
        if version is not None:
            return version
        time.sleep(0.25)
    return None


def _server_pid(home: Path) -> int | None:
    try:
        return int((home / "server.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _server_running(home: Path) -> bool:
    pid = _server_pid(home)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:  # after a reboot the pid may belong to some other program
        return b"prefect" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid


def _clear_stale_pid_file(home: Path) -> None:
    """A pid file left by a server that died (a reboot) would stop Prefect from starting one."""
    if (home / "server.pid").exists() and not _server_running(home):
        (home / "server.pid").unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
