"""The Prefect API isnad's runs are recorded in, and the local Prefect server it starts.

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

Nothing here imports prefect at module level: Prefect reads its settings once, at import,
and :func:`quiet_prefect` and :func:`export_api_url` must set them first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

DEFAULT_PORT = 4210
START_TIMEOUT_SECONDS = 90.0  # a first start creates and migrates the SQLite database
# Bounds on Prefect's API (each a bound on a hang, generous for a loaded machine). A request
# waits 10 s and is retried once, so an API call fails within ~22 s instead of ~7 min.
API_REQUEST_TIMEOUT = "10"
API_MAX_RETRIES = "1"
HEALTH_TIMEOUT = 3.0  # a configured API must answer /health within this before a run
FROZEN_WAIT_SECONDS = 6.0  # a local server that is running but silent, before falling back


class PrefectUnavailable(RuntimeError):
    """The Prefect API the run must use does not answer (exit 1)."""


def quiet_prefect(*, verbose: bool) -> None:
    """Telemetry off; run logs at INFO to the API (the UI shows them), on the console only
    from WARNING (all with -v); must run before prefect loads."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    # Prefect's defaults (60 s a request, 5 retries with backoff) let one call to an API
    # that stopped answering hold a run ~7 minutes.
    os.environ.setdefault("PREFECT_API_REQUEST_TIMEOUT", API_REQUEST_TIMEOUT)
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", API_MAX_RETRIES)
    # A temporary server's start counts 20 "s" of polling by default: too short on a busy
    # machine (seen: a fallback failing under load 6 on 2 cores).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "45")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
        # Prefect's internal services log each event they could not send (a page each) at
        # ERROR, by this setting rather than a logger's level; the CLI says the API is lost.
        os.environ.setdefault("PREFECT_LOGGING_INTERNAL_LEVEL", "CRITICAL")


def quiet_lost_api(*, verbose: bool) -> None:
    """An API that went away is one line of the CLI's; Prefect's event client would log
    every event it could not send, each a page long. And a failed validation is reported by
    the CLI in a few lines: the flow run's log (kept by the API, shown by the UI) would print
    the same exception again on the console with Prefect's traceback. After prefect is
    imported (it configures logging then)."""
    import logging

    if not verbose:
        for name in ("prefect.events.clients", "EventsWorker"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        logging.getLogger("prefect.flow_runs").propagate = False  # to the API only


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
        version = server_version(url)
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


def ui_url(api_url: str | None = None) -> str:
    """Where the local server's UI is (its API URL without ``/api``)."""
    return (api_url or local_api_url()).removesuffix("/api") + "/"


def server_env() -> dict[str, str]:
    """The local server's environment: its home, no telemetry, and Prefect's UI (from the
    installed wheel, renders offline) calling this server's API, its static files copied
    under the server's home rather than into the installed package."""
    home = server_home()
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_UI_API_URL=local_api_url(),
    )
    env.setdefault("PREFECT_UI_ENABLED", "true")  # an operator may switch it off
    env.setdefault("PREFECT_UI_STATIC_DIRECTORY", str(home / "ui"))
    env.setdefault("PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT", "false")
    return env


def _start_server(home: Path, url: str) -> None:
    port = url.rsplit(":", 1)[1].split("/", 1)[0]
    command = [sys.executable, "-m", "prefect", "server", "start", "--background"]
    command += ["--host", "127.0.0.1", "--port", port, "--analytics-off"]
    with open(home / "server.log", "a") as log:
        subprocess.run(
            command,
            env=server_env(),
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


def server_version(api_url: str) -> str | None:
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
        version = server_version(api_url)
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


def control(action: str) -> int:
    """``isnad server start|stop|status``: the exit code, what happened printed."""
    url = local_api_url()
    if action == "start":
        started = ensure_local_server()
        print(f"Prefect server: {started}" if started else "Prefect server did not start")
        if started:
            print(f"Prefect UI: {ui_url(started)}")
        return 0 if started else 1
    if action == "stop":
        result = subprocess.run(
            [sys.executable, "-m", "prefect", "server", "stop"],
            env=server_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        print(result.stdout.strip() or result.stderr.strip())
        return result.returncode
    up = server_version(url) is not None
    print(f"Prefect server at {url}: {'up' if up else 'down'} (home {server_home()})")
    if up:
        print(f"Prefect UI: {ui_url(url)}")
    return 0
