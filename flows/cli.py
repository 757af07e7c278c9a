"""The ``isnad`` command: run the pipeline, score its output, manage the local Prefect server.

    isnad run INPUT... --out DIR [--batch-size N] [--max-bytes N] [--lock-timeout S] [-v]
    isnad serve INPUT... --out DIR [--cron "0 * * * *"] [--name NAME] [...same options]
    isnad evaluate --gold FILE --quotes DIR
    isnad server {start,stop,status}

``run`` adds the articles under INPUT that ``DIR`` does not hold yet. Exit codes (one
line ``isnad: error: ...`` on stderr for 1 and 64; the traceback only with ``-v``):

    0   published (a run with no new article publishes its ``runs`` row)
    1   error: anything else (Prefect API down or frozen, --out not writable, a full disk,
        someone else's files where isnad writes, SIGTERM ...); nothing was published,
        unless the message says so
    2   validation failed: no rows added (the run is recorded in ``runs``)
    3   locked: another run is writing to ``DIR``; nothing was done
    64  usage: bad arguments, a missing input, --out a file, inside an input or holding one

Everything checkable about ``--out`` is checked before the text stages run. The run's time
is bounded whatever Prefect's API does: each API request times out (10 s, one retry), an
API that does not answer before the run is an error (exit 1) or, for isnad's own local
server, a fallback to a temporary one (the message says which); once the flow's work is
done, or on SIGTERM, Prefect gets a few seconds to record the end before the command exits
with the work's own code (the dataset commit does not depend on the API).

``serve`` registers the flow as the deployment ``isnad/NAME`` with a cron schedule and
runs its scheduled runs until interrupted (Ctrl-C, SIGTERM).

Where the flow's runs are recorded, in order:

1. a Prefect API the user configured (``PREFECT_API_URL`` in the environment or the active
   Prefect profile) is used as it is, once it has answered ``/health`` within 3 s (else
   exit 1: the runs would not be recorded where the user asked);
2. otherwise a local Prefect server on 127.0.0.1 (port ``ISNAD_PREFECT_PORT``, default 4210;
   its SQLite database, pid file and log under ``ISNAD_PREFECT_HOME``, default
   ``~/.cache/isnad/prefect``) is started in the background on first use and reused by later
   runs: the first run waits ~10 s for it, later ones not at all;
3. if that server cannot be had (it does not start, is stopped or silent for 6 s, its port
   is held by something else; the message says which), or ``ISNAD_PREFECT_SERVER=ephemeral``,
   Prefect's ephemeral mode: a temporary server in this process (~9 s on every run).

Prefect is imported only after telemetry is switched off, and only by the commands that
need it (``evaluate`` does not).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

DEFAULT_PORT = 4210
DEFAULT_CRON = "0 * * * *"  # hourly, on the hour
DEFAULT_DEPLOYMENT = "scheduled"  # served as isnad/scheduled; prefect.yaml declares the same
EXIT_PUBLISHED = 0
EXIT_ERROR = 1
EXIT_VALIDATION_FAILED = 2
EXIT_LOCKED = 3
EXIT_USAGE = 64  # EX_USAGE of sysexits.h
START_TIMEOUT_SECONDS = 90.0  # a first start creates and migrates the SQLite database
# Bounds on Prefect's API (each a bound on a hang, generous for a loaded machine). A request
# waits 10 s and is retried once, so an API call fails within ~22 s instead of ~7 min.
API_REQUEST_TIMEOUT = "10"
API_MAX_RETRIES = "1"
HEALTH_TIMEOUT = 3.0  # a configured API must answer /health within this before a run
FROZEN_WAIT_SECONDS = 6.0  # a local server that is running but silent, before falling back
# From calling the flow to its body starting: a temporary server's start included (~9 s, up
# to 45 s on a busy machine).
FLOW_START_GRACE = 75.0
FLOW_END_GRACE = 20.0  # from the body's end to the flow returning (Prefect records the end)
TERM_GRACE = 5.0  # from SIGTERM to exit, when Prefect's crash report does not return
EXIT_GRACE = 5.0  # from a run that lost the API returning to the process exiting


def _memory_settings() -> None:
    """Allocators that give memory back: Arrow's default pool (mimalloc) keeps what a batch
    freed, and glibc keeps one arena a thread. Read at import and at process start, so set
    before pyarrow loads (worker processes inherit them). Measured on the SaudiNewsNet
    corpus with two workers: peak RSS of the run's processes 1.30 -> 1.15 GiB, same speed."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")


class UsageError(Exception):
    """What the arguments ask for cannot be done (exit 64)."""


class PrefectUnavailable(RuntimeError):
    """The Prefect API the run must use does not answer (exit 1)."""


class Terminated(BaseException):
    """SIGTERM: unwinds the run (the transaction aborts, the lock is released)."""


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors exiting 64, not 2 (which is a failed validation)."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    _memory_settings()
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        if args.command in ("run", "serve"):
            missing = [p for p in args.inputs if not Path(p).exists()]
            if missing:
                parser.error(f"input path does not exist: {', '.join(missing)}")
            check_output_arguments(args.inputs, args.out)
            check_registry_argument(args.registry)
        return args.handler(args)
    except UsageError as exc:
        return _fail(f"{exc} (see isnad {args.command} --help)", EXIT_USAGE)
    except Terminated:
        return _fail("terminated (SIGTERM); nothing was published", EXIT_ERROR)
    except KeyboardInterrupt:
        return _fail("interrupted; nothing was published", EXIT_ERROR)
    except BrokenPipeError:
        # The reader of the output went away (`isnad evaluate ... | head`): nothing to say,
        # and nothing more to write at exit either.
        _silence_stdout()
        return EXIT_ERROR
    except Exception as exc:
        if verbose:
            traceback.print_exc()
        return _fail(describe_error(exc, verbose=verbose), EXIT_ERROR)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def _silence_stdout() -> None:
    """Standard output to /dev/null, so the interpreter's flush at exit finds no closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _fail(message: str, code: int) -> int:
    print(f"isnad: error: {message}", file=sys.stderr)
    return code


def describe_error(exc: BaseException, *, verbose: bool = False) -> str:
    """One line naming the cause of ``exc`` (a file system error with its path)."""
    from pipelines.store import DatasetError

    if isinstance(exc, (DatasetError, PrefectUnavailable)):  # complete messages of isnad's
        return " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror}{where}"
    else:
        text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return text if verbose else f"{text} (-v for the traceback)"


def check_output_arguments(inputs: Sequence[str], out: str) -> None:
    """What the arguments alone say about --out (a file; inside an input or holding one),
    as a usage error, before Prefect starts."""
    from pipelines.store import OutputMisplaced, open_store

    try:
        open_store(out).check_arguments(inputs)
    except OutputMisplaced as exc:
        raise UsageError(str(exc)) from None


def check_registry_argument(path: str | None) -> None:
    """A --registry that cannot be used (unreadable, or failing ``isnad registry check``) is
    a usage error, before Prefect starts."""
    from pipelines.speakers import RegistryError, use_registry

    try:
        use_registry(path)
    except RegistryError as exc:
        raise UsageError(f"{exc}\n(isnad registry check FILE lists every problem)") from None


def registry_command(args: argparse.Namespace) -> int:
    """``isnad registry check FILE``: every problem, exit 1 on an error; ``isnad registry
    show [--registry FILE]``: the registry in use (default: the shipped one)."""
    from pipelines import registry, speakers

    if args.action == "show":
        check_registry_argument(args.file)
        print(registry.describe(speakers.load_registry()))
        return EXIT_PUBLISHED
    if args.file is None:
        raise UsageError("isnad registry check needs the registry FILE")
    try:
        problems = registry.check_registry(speakers.read_registry_file(args.file))
    except speakers.RegistryError as exc:
        return _fail(str(exc), EXIT_ERROR)
    for problem in problems:
        print(problem)
    errors = sum(p.error for p in problems)
    warnings = len(problems) - errors
    verdict = "not usable" if errors else "ok"
    print(f"{args.file}: {verdict} ({errors} error(s), {warnings} warning(s))")
    return EXIT_ERROR if errors else EXIT_PUBLISHED


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="isnad",
        description="Quotations in Arabic news by the speakers of a registry (by default "
        "Lavrov, Kerry, Shoigu, Hagel and Muallem).",
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

    registry = commands.add_parser("registry", help="check or show a speaker registry")
    registry.add_argument("action", choices=("check", "show"))
    registry.add_argument(
        "file", nargs="?", default=None, help="the registry file (show: default the shipped one)"
    )
    registry.set_defaults(handler=registry_command)

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
        "--registry",
        metavar="FILE",
        default=None,
        help="the speaker registry (JSON; see isnad registry show): who is attributed and "
        "which offices resolve to whom (default: the registry shipped with isnad)",
    )
    parser.add_argument(
        "--new-dataset",
        action="store_true",
        help="if --out holds a dataset made with another registry, rename it "
        "<out>.before-<time> and start a new one (without it such a run stops)",
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
    if args.registry:
        options["registry"] = str(Path(args.registry).resolve())
    if args.new_dataset:
        options["new_dataset"] = True
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
    from pipelines.store import open_store

    open_store(args.out).check_output()  # before Prefect starts: a run that cannot publish stops
    workers = (
        1 if getattr(args, "dask", None) else worker_count(getattr(args, "workers", 1), args.inputs)
    )
    shared_api = export_api_url() if workers > 1 else None
    from flows.pipeline import BODY, isnad_flow

    _quiet_lost_api(verbose=args.verbose)

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
        BODY.reset()
        watchdog = Watchdog(BODY, args, api)
        watchdog.start()
        try:
            summary = flow_fn(**options)
        except BaseException as exc:
            watchdog.returned.set()
            code, message = outcome_of(exc, args.out, BODY)
            if message is None:
                cause = BODY.outcome if BODY.ended.is_set() else exc
                if isinstance(cause, BaseException) and cause is not exc:
                    raise cause from exc  # the body's error, not Prefect's on recording it
                raise
            if code == EXIT_PUBLISHED:
                print(format_outcome(BODY.outcome, args), flush=True)
                # Prefect would retry each queued event and log at exit, seconds apiece.
                watchdog.exit_soon(code)
            print(message, file=sys.stderr)
            return code
        watchdog.returned.set()
    print(format_outcome(summary, args))
    return EXIT_PUBLISHED


def outcome_of(exc: BaseException, out: str, body: Any) -> tuple[int, str | None]:
    """Exit code and stderr text for what ended a run (None: not the run's to describe)."""
    from flows.pipeline import ValidationFailed
    from pipelines.store import DatasetLocked

    cause = body.outcome if body.ended.is_set() else exc
    if isinstance(cause, ValidationFailed):
        return EXIT_VALIDATION_FAILED, f"isnad: {cause}"
    if isinstance(cause, DatasetLocked):
        return EXIT_LOCKED, f"isnad: {cause}"
    if isinstance(cause, dict):  # the work was published; Prefect failed to record the end
        return EXIT_PUBLISHED, (
            f"isnad: warning: published, but Prefect lost track of the flow run "
            f"({describe_error(exc, verbose=True)})"
        )
    if body.terminated.is_set() or isinstance(exc, Terminated) or _is_termination(exc):
        return EXIT_ERROR, f"isnad: error: terminated (SIGTERM); {_published_note(out, body)}"
    return EXIT_ERROR, None


def _is_termination(exc: BaseException) -> bool:
    from prefect.exceptions import TerminationSignal

    return isinstance(exc, TerminationSignal)


def _published_note(out: str, body: Any) -> str:
    """Whether this run's version is the dataset's current one (the signal may have come
    after the commit)."""
    from pipelines.store import open_store

    try:
        manifest = open_store(out).read_manifest()
    except Exception:  # the note must not replace the message it completes
        return "the dataset could not be read to tell whether the run published"
    if manifest is not None and body.run_id and manifest.get("run_id") == body.run_id:
        return f"the run had published dataset version {manifest['version']}"
    return "nothing was published"


def format_outcome(summary: Any, args: argparse.Namespace) -> str:
    if getattr(args, "json", False):
        return json.dumps(summary, default=str)
    return format_summary(summary)


class Watchdog(threading.Thread):
    """Bounds the time Prefect's API may add to a run: the flow body must start within
    FLOW_START_GRACE of the call; once it has ended (or on SIGTERM), the flow must return
    within FLOW_END_GRACE (TERM_GRACE). Past a bound it prints the run's outcome and exits
    with its code at once (``os._exit``: Prefect's client threads may be stuck on a socket).
    Safe: the dataset's commit is one rename under a lock the kernel releases with the
    process, and a staged version left behind is removed by the next run."""

    def __init__(self, body: Any, args: argparse.Namespace, api: str | None, exit: Any = None):
        super().__init__(name="isnad-watchdog", daemon=True)
        self.body, self.args, self.api = body, args, api
        self.returned = threading.Event()
        self._exit = exit or os._exit
        self.start_grace, self.end_grace = FLOW_START_GRACE, FLOW_END_GRACE
        self.term_grace, self.exit_grace = TERM_GRACE, EXIT_GRACE
        self._armed = threading.Event()
        self._code = EXIT_ERROR

    def run(self) -> None:
        where = f"the Prefect API at {self.api}" if self.api else "Prefect's temporary server"
        if not _wait_any((self.body.started, self.returned), self.start_grace):
            self._leave(
                EXIT_ERROR,
                f"isnad: error: {where} did not let the flow run start within "
                f"{self.start_grace:g} s; nothing was done",
            )
            return
        ended_at = terminated_at = None
        while not self.returned.wait(0.2):
            now = time.monotonic()
            if self.body.terminated.is_set():  # mid-body, or while Prefect records the end
                terminated_at = terminated_at or now
                if now - terminated_at >= self.term_grace:
                    self._leave_with_outcome(where, self.term_grace)
                    return
            if self.body.ended.is_set():
                ended_at = ended_at or now
                if now - ended_at >= self.end_grace:
                    self._leave_with_outcome(where, self.end_grace)
                    return
        if self._armed.wait(self.exit_grace):
            time.sleep(self.exit_grace)
            self._exit(self._code)

    def exit_soon(self, code: int) -> None:
        """The API is lost: end the process with ``code`` if it has not exited EXIT_GRACE
        after the run returned (Prefect drains its queued events and logs at exit, trying
        the API again for each)."""
        self._code = code
        self._armed.set()

    def _leave_with_outcome(self, where: str, grace: float) -> None:
        body = self.body
        lost = f"{where} did not record the flow run's end within {grace:g} s"
        if isinstance(body.outcome, dict):  # published: a SIGTERM now only cuts Prefect short
            print(format_outcome(body.outcome, self.args), flush=True)
            if body.terminated.is_set():
                lost = f"terminated (SIGTERM) while {where} recorded the flow run's end"
            return self._leave(
                EXIT_PUBLISHED, f"isnad: warning: published, but Prefect lost track: {lost}"
            )
        if body.terminated.is_set():
            note = _published_note(self.args.out, body)
            return self._leave(EXIT_ERROR, f"isnad: error: terminated (SIGTERM); {note}")
        code, message = outcome_of(body.outcome, self.args.out, body)
        if message is None:
            message = f"isnad: error: {describe_error(body.outcome, verbose=True)}"
        self._leave(code, f"{message}\n({lost})")

    def _leave(self, code: int, message: str) -> None:
        print(message, file=sys.stderr, flush=True)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        self._exit(code)


def _wait_any(events: Sequence[threading.Event], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not any(e.is_set() for e in events):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        events[0].wait(min(left, 0.2))
    return True


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
    # Prefect's defaults (60 s a request, 5 retries with backoff) let one call to an API
    # that stopped answering hold a run ~7 minutes.
    os.environ.setdefault("PREFECT_API_REQUEST_TIMEOUT", API_REQUEST_TIMEOUT)
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", API_MAX_RETRIES)
    # A temporary server's start counts 20 "s" of polling by default: too short on a busy
    # machine (seen: a fallback failing under load 6 on 2 cores).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "45")
    if not verbose:
        # A failed validation is reported by the CLI in a few lines; the flow run's logger
        # would print the same exception again with Prefect's traceback.
        os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL", "CRITICAL")
        # Prefect's internal services log each event they could not send (a page each) at
        # ERROR, by this setting rather than a logger's level; the CLI says the API is lost.
        os.environ.setdefault("PREFECT_LOGGING_INTERNAL_LEVEL", "CRITICAL")


def _quiet_lost_api(*, verbose: bool) -> None:
    """An API that went away is one line of the CLI's; Prefect's event client would log
    every event it could not send, each a page long (after prefect is imported)."""
    import logging

    if not verbose:
        for name in ("prefect.events.clients", "EventsWorker"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


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
    if configured:
        if problem := api_problem(configured):
            raise PrefectUnavailable(
                f"the Prefect API at {configured} (PREFECT_API_URL) {problem}; nothing was "
                "done. Start it, or unset PREFECT_API_URL to use isnad's local server "
                "(ISNAD_PREFECT_SERVER=ephemeral: a temporary one)"
            )
        yield configured
        return
    if os.environ.get("ISNAD_PREFECT_SERVER", "local") == "ephemeral":
        yield configured
        return
    url = ensure_local_server()
    if url is None:  # ensure_local_server said why, and that a temporary one is used
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
            if _server_running(home):
                # Up, yet silent: stopped (SIGSTOP) or hung. A start would not help.
                version = _wait_for_server(url, min(timeout, FROZEN_WAIT_SECONDS))
                if version is None:
                    pid = _server_pid(home)
                    state = "is stopped" if _process_stopped(pid) else "does not answer"
                    print(
                        f"isnad: the local Prefect server at {url} (pid {pid}) {state}; "
                        "running with a temporary one (`isnad server stop` ends it)",
                        file=sys.stderr,
                    )
                    return None
            elif problem := _port_taken(url):
                print(
                    f"isnad: port {url} is held by something that {problem}; running with a "
                    "temporary Prefect server (ISNAD_PREFECT_PORT picks another port)",
                    file=sys.stderr,
                )
                return None
            else:
                _start_server(home, url)
                version = _wait_for_server(url, timeout)
    if version != prefect_version:
        if version is not None:
            print(
                f"isnad: the Prefect server at {url} runs version {version}, this is "
                f"{prefect_version}; running with a temporary one (`isnad server stop` "
                "ends that one)",
                file=sys.stderr,
            )
        else:
            print(
                f"isnad: the local Prefect server did not start within {timeout:g} s (its log: "
                f"{home / 'server.log'}); running with a temporary one",
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


def api_problem(api_url: str, timeout: float = HEALTH_TIMEOUT) -> str | None:
    """Why the API at ``api_url`` cannot take a run ("refuses connections", "does not
    answer within 3 s"), or None when it answers HTTP at all (an error status too: a
    Prefect Cloud URL may want its key for /health)."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None
    except (TimeoutError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return f"does not answer within {timeout:g} s"
        if isinstance(reason, ConnectionRefusedError):
            return "refuses connections"
        return f"cannot be reached ({reason})"


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


def _port_taken(api_url: str) -> str | None:
    """What holds the port of ``api_url`` when it is not a healthy Prefect server
    (accepting connections, answering or not), or None when nothing listens there."""
    import socket

    host, port = api_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=HEALTH_TIMEOUT):
            pass
    except OSError:
        return None
    return api_problem(api_url) or "is not a Prefect server of this version"


def _process_stopped(pid: int | None) -> bool:
    """Whether ``pid`` is stopped (SIGSTOP, a debugger): state T or t in /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")


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
