#!/usr/bin/env bash
# Set up (or bring up to date) the project's virtualenv in .venv. Safe to run again:
# when pyproject.toml and this script are unchanged since the last good install, it only
# checks and returns.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
python_bin="${PYTHON:-python3.11}"
venv=.venv
stamp="$venv/.isnad-setup"

# Headless Chromium, its driver (for Selenium) and Arabic fonts: the browser tests render the
# report and the Data Docs and check what a reader sees and that nothing from the data runs.
# Debian packages; skipped (the tests then skip) where apt cannot install them.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 ||
    ! fc-list :lang=ar 2>/dev/null | grep -q .; then
    echo "setup: installing chromium, chromium-driver and fonts-noto-core (apt)"
    sudo_cmd=$([ "$(id -u)" = 0 ] || echo sudo)
    browser_packages="chromium chromium-driver fonts-noto-core"
    { $sudo_cmd apt-get install -y --no-install-recommends $browser_packages >/dev/null 2>&1 ||
        { $sudo_cmd apt-get update >/dev/null 2>&1 &&
            $sudo_cmd apt-get install -y --no-install-recommends $browser_packages >/dev/null 2>&1; }; } ||
        echo "setup: could not install $browser_packages; the browser tests will skip"
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv with $python_bin"
    "$python_bin" -m venv "$venv"
fi

want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/isnad" ]; then
    echo "setup: $venv is up to date"
    exit 0
fi

pip_install() {
    # A pip config naming a local index folder that is missing makes pip warn once per
    # package ("WARNING: Location 'file:///...' is ignored"): noise; all else is shown.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 |
        { grep -v "^WARNING: Location 'file:" || true; }
}

# torch first and on its own: a CPU wheel where one is at hand, before camel-tools asks for
# torch and pip resolves a (much larger) CUDA build.
echo "setup: installing torch==2.13.0"
pip_install "torch==2.13.0"
echo "setup: installing isnad and its test tools"
pip_install -e '.[test]'
echo "$want" >"$stamp"
echo "setup: done"
