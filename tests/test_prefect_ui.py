"""The Prefect UI of isnad's local server, in a real browser (Debian's chromium through
Selenium): a flow run started by `isnad run` appears there with its logs and its artifacts.

The server is isnad's own (`isnad server start`), on a free port with a home of its own, so a
server the machine already runs is left alone. Screenshots are test artifacts: under
``$ISNAD_TEST_ARTIFACTS/prefect-ui`` when set, else the test's tmp_path (the path is printed).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import browser
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "data" / "sample")
ARTIFACTS = ("isnad-validation", "isnad-quotes-by-speaker")
WAIT = 90.0  # a bound on a hang (a first page load on a loaded machine), not a speed test

pytestmark = [
    pytest.mark.flow,
    pytest.mark.skipif(browser.chromium() is None, reason=browser.MISSING),
    pytest.mark.skipif(browser.chromedriver() is None, reason=browser.MISSING_DRIVER),
]


def isnad(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """The `isnad` command of this checkout, in a child process."""
    command = [sys.executable, "-m", "flows.cli", *args]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=5) as response:
            return bool(json.loads(response.read()))
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """isnad's local Prefect server, started by `isnad server start`; the environment that
    makes `isnad` use it (no configured API, no profile of the user's)."""
    home = tmp_path_factory.mktemp("isnad-prefect")
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_PROFILE")}
    env |= {
        "ISNAD_PREFECT_HOME": str(home / "server"),
        "ISNAD_PREFECT_PORT": str(_free_port()),
        "PREFECT_HOME": str(home / "client"),  # no profile naming another API
    }
    api = f"http://127.0.0.1:{env['ISNAD_PREFECT_PORT']}/api"
    try:
        started = isnad("server", "start", env=env, timeout=300)
        deadline = time.monotonic() + 180  # a first start migrates its database: slow when busy
        while not _healthy(api):
            if time.monotonic() > deadline:
                log = (home / "server" / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"no local server at {api}:\n{started.stdout}{started.stderr}\n{log}")
            time.sleep(1)
        yield env | {"api": api}
    finally:
        isnad("server", "stop", env=env, timeout=120)
        _end_leftover(home / "server" / "server.pid")


def _end_leftover(pid_file: Path) -> None:
    """The server this fixture started, if `isnad server stop` left it running."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass


def _until(driver: Any, what: str, check: Callable[[Any], Any]) -> Any:
    """What ``check`` returns once truthy; an element the page re-rendered meanwhile (the
    UI refreshes its lists) is looked for again."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(
        driver, WAIT, poll_frequency=0.5, ignored_exceptions=(StaleElementReferenceException,)
    )
    try:
        return wait.until(check)
    except TimeoutException:
        pytest.fail(f"{what} not shown within {WAIT:g} s at {driver.current_url}:\n{_text(driver)}")


def _text(driver: Any) -> str:
    return str(driver.find_element("tag name", "body").text)


def _shows(driver: Any, *texts: str) -> None:
    _until(driver, " and ".join(texts), lambda d: all(t in _text(d) for t in texts))


def _scroll_to(driver: Any, text: str) -> None:
    """Bring the first element showing ``text`` into the window (for the screenshot)."""
    element = driver.find_element("xpath", f"//*[contains(text(), {json.dumps(text)})]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)


def _follow(driver: Any, href_part: str) -> None:
    """Open the first link whose address holds ``href_part``, once the page shows one."""

    def find(d: Any) -> str | bool:
        hrefs = [a.get_attribute("href") or "" for a in d.find_elements("tag name", "a")]
        return next((h for h in hrefs if href_part in h), False)

    driver.get(_until(driver, f"a link to {href_part}", find))


def _tab(driver: Any, name: str) -> None:
    """Click the tab ``name`` (again if the page re-rendered it first)."""

    def click(d: Any) -> bool:
        for tab in d.find_elements("xpath", "//*[@role='tab']"):
            if tab.text.strip() == name:
                tab.click()
                return True
        return False

    _until(driver, f"the {name} tab", click)


def test_a_run_appears_in_the_ui_with_its_logs_and_artifacts(
    server: dict[str, str], tmp_path: Path
) -> None:
    """`isnad run` against the local server, then the UI at the server's address: the run
    (completed) among the runs, its log (the batch and the publication), and its two
    artifacts, the quotations per speaker rendered as a table."""
    run = isnad("run", SAMPLE, "--out", str(tmp_path / "out"), "--json", env=server)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "temporary" not in run.stderr  # recorded by the local server, not a fallback
    run_id = json.loads(run.stdout.strip().splitlines()[-1])["run_id"]
    ui = server["api"].removesuffix("/api") + "/"
    shots = browser.artifacts_dir(tmp_path) / "prefect-ui"
    shots.mkdir(parents=True, exist_ok=True)
    print(f"screenshots of the Prefect UI: {shots}")

    with browser.driver(tmp_path / "profile", height=1200) as driver:
        driver.get(ui)  # the UI's home page, as an operator opens it
        _follow(driver, "/runs")
        _follow(driver, f"/flow-run/{run_id}")
        _shows(driver, "Completed", "isnad")
        driver.save_screenshot(str(shots / "flow-run.png"))

        _tab(driver, "Logs")
        _shows(driver, "batch 1:", "published")
        driver.save_screenshot(str(shots / "flow-run-logs.png"))

        _tab(driver, "Artifacts")
        _shows(driver, *ARTIFACTS)
        driver.save_screenshot(str(shots / "flow-run-artifacts.png"))

        _follow(driver, "/artifacts/key/isnad-quotes-by-speaker")
        _follow(driver, "/artifacts/artifact/")
        _shows(driver, "new quotations", "lavrov", "validation:", "passed")
        driver.save_screenshot(str(shots / "quotes-by-speaker.png"))
        assert driver.execute_script("return window.__dialogs") == []


FAILING_RUN = """
import sys
from pipelines import validate
from flows import cli

failing = validate.ValidationReport(
    success=False, failed=["quotes: expect_column_values_to_not_be_null(quote_text)"],
    results={}, docs_path=None,
)
validate.validate_tables = lambda tables, docs_dir, **_: failing
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_failed_run_shows_its_log(server: dict[str, str], tmp_path: Path) -> None:
    """A run whose validation fails (an expectation made to fail) exits 2; in the UI it is
    Failed, and its log names the failed expectation."""
    command = [sys.executable, "-c", FAILING_RUN, "run", SAMPLE, "--out", str(tmp_path / "out")]
    run = subprocess.run(
        command, cwd=ROOT, env=server, capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 2, run.stderr[-3000:]
    ui = server["api"].removesuffix("/api") + "/"
    shots = browser.artifacts_dir(tmp_path) / "prefect-ui"
    shots.mkdir(parents=True, exist_ok=True)
    print(f"screenshots of the Prefect UI: {shots}")

    with browser.driver(tmp_path / "profile", height=1200) as driver:
        driver.get(ui)
        _follow(driver, "/runs")
        _shows(driver, "Failed")
        driver.save_screenshot(str(shots / "runs-with-a-failed-one.png"))
        _follow(driver, "/flow-run/")  # the newest run first: the failed one
        _shows(driver, "Failed")
        _tab(driver, "Logs")
        _shows(driver, "validation failed", "expect_column_values_to_not_be_null(quote_text)")
        _scroll_to(driver, "validation failed")
        driver.save_screenshot(str(shots / "failed-run-logs.png"))


def test_the_schedule_of_isnad_serve_is_shown(server: dict[str, str], tmp_path: Path) -> None:
    """`isnad serve` registers the deployment isnad/scheduled: the UI lists it, with its
    cron schedule (hourly) and its next run."""
    from serving import stop_serving

    command = [sys.executable, "-m", "flows.cli", "serve", SAMPLE, "--out", str(tmp_path / "out")]
    command += ["--cron", "0 * * * *", "-q"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=server, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    ui = server["api"].removesuffix("/api") + "/"
    shots = browser.artifacts_dir(tmp_path) / "prefect-ui"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with browser.driver(tmp_path / "profile", height=1200) as driver:
            driver.get(ui)
            _follow(driver, "/deployments")
            _shows(driver, "scheduled")
            driver.save_screenshot(str(shots / "deployments.png"))
            _follow(driver, "/deployments/deployment/")
            _shows(driver, "scheduled", "Schedules", "Every hour", "Next Run")
            driver.save_screenshot(str(shots / "deployment-schedule.png"))
    finally:
        stop_serving(proc)
