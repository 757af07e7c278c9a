"""The ``isnad`` command: run the pipeline, score its output, manage the local Prefect server.

    isnad run INPUT... --out DIR [--batch-size N] [--max-bytes N] [--lock-timeout S] [-v]
    isnad serve INPUT... --out DIR [--cron "0 * * * *"] [--name NAME] [...same options]
    isnad evaluate --gold FILE --quotes DIR
    isnad server {start,stop,status}
    isnad explore DIR|URI [--host 127.0.0.1] [--port 8710]

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

Where the flow's runs are recorded (a configured Prefect API, else isnad's local Prefect
server, else a temporary one) is :mod:`flows.server`'s; the run's summary and its text are
:mod:`flows.summary`'s.

Prefect is imported only after telemetry is switched off, and only by the commands that
need it (``evaluate`` does not).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flows import explore, server
from flows.server import (
    PrefectUnavailable,
    export_api_url,
    prefect_api,
    quiet_lost_api,
    quiet_prefect,
)
from flows.summary import RunSummary, format_summary

DEFAULT_CRON = "0 * * * *"  # hourly, on the hour
DEFAULT_DEPLOYMENT = "scheduled"  # served as isnad/scheduled; prefect.yaml declares the same
EXIT_PUBLISHED = 0
EXIT_ERROR = 1
EXIT_VALIDATION_FAILED = 2
EXIT_LOCKED = 3
EXIT_USAGE = 64  # EX_USAGE of sysexits.h
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

    explore.add_parser(commands)

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
    from pipelines.store import open_store

    inputs = [str(Path(p).resolve()) for p in args.inputs] if absolute else args.inputs
    out = open_store(args.out).absolute if absolute else args.out
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
    quiet_prefect(verbose=args.verbose)
    from pipelines.store import open_store

    open_store(args.out).check_output()  # before Prefect starts: a run that cannot publish stops
    workers = (
        1 if getattr(args, "dask", None) else worker_count(getattr(args, "workers", 1), args.inputs)
    )
    shared_api = export_api_url() if workers > 1 else None
    from flows.pipeline import BODY, isnad_flow

    quiet_lost_api(verbose=args.verbose)

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
            if isinstance(BODY.outcome, RunSummary) and code == EXIT_PUBLISHED:
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
    if isinstance(cause, RunSummary):  # the work was published; Prefect failed to record the end
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


def format_outcome(summary: RunSummary, args: argparse.Namespace) -> str:
    if getattr(args, "json", False):
        return json.dumps(summary.as_dict(), default=str)
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
        if isinstance(body.outcome, RunSummary):  # published: SIGTERM now only cuts Prefect short
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
    quiet_prefect(verbose=not args.quiet)
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
    return server.control(args.action)


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


if __name__ == "__main__":
    sys.exit(main())
