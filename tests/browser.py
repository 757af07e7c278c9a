"""Headless Chromium for the tests: Debian's ``chromium`` (never a downloaded browser), run
once from the command line (``--dump-dom``, ``--screenshot``) or driven by Selenium through
Debian's ``chromium-driver``. Both are installed by ``scripts/setup.sh``; tests skip with the
reason where they are missing.

Screenshots are test artifacts: under ``$ISNAD_TEST_ARTIFACTS`` when set, else the test's
tmp_path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Offline and quiet: no update, sync, QUIC or other background traffic from a test run.
FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
MISSING = "headless Chromium not installed (Debian: apt-get install chromium fonts-noto-core)"
MISSING_DRIVER = (
    "Selenium or chromium-driver not installed (pip install -e '.[test]'; "
    "Debian: apt-get install chromium-driver)"
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromedriver() -> str | None:
    """Debian's driver, of the same build as its chromium; None without it or Selenium."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None
    return shutil.which("chromedriver")


def artifacts_dir(tmp_path: Path) -> Path:
    path = Path(os.environ.get("ISNAD_TEST_ARTIFACTS") or tmp_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One headless Chromium command with a fresh profile (``--user-data-dir``)."""
    command = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


# Installed before any script of a page runs: a dialog a payload opens is recorded, not shown,
# and so is what the page's Content-Security-Policy blocks.
DIALOG_HOOK = """
window.__dialogs = [];
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.effectiveDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => { window.__dialogs.push(name + ":" + args.join(",")); };
}
"""


@contextmanager
def driver(profile: Path, *, width: int = 1280, height: int = 2000) -> Iterator[Any]:
    """A Selenium Chrome driver on Debian's chromium with FLAGS and a fresh profile; each page
    it opens records its dialogs in ``window.__dialogs``, what its CSP blocked in
    ``window.__csp``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium(), chromedriver()
    assert binary is not None and driver_path is not None
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    # A native dialog left open is reported by the next command, not dismissed silently.
    options.set_capability("unhandledPromptBehavior", "ignore")
    browser = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        browser.set_page_load_timeout(60)
        browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DIALOG_HOOK})
        yield browser
    finally:
        browser.quit()
