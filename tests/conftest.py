"""Shared fixtures: servers started on loopback for the browser and Space tests.

Browser and Space tests skip on a machine without Chromium or a free port, except under CI
(the CI environment variable set), where a missing piece is a failure, not a skip.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
IN_CI = bool(os.environ.get("CI"))


def skip_or_fail(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI is set, so this must run)")
    pytest.skip(reason)


APP = str(ROOT / "app.py")


def open_lab(page: str, timeout: float = 120):
    """AppTest of the app, switched to one lab page (e.g. "labs/vae.py"), with no exception raised."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def by_key(elements, key):
    """The widget with this key (AppTest lists widgets by type)."""
    return next(w for w in elements if w.key == key)


def chart_spec(at, key) -> dict:
    """The plotly figure of the st.plotly_chart whose key contains `key`, as a dict."""
    import json

    return json.loads(next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id).proto.spec)


def finish_live(at, prefix: str, timeout: float = 120):
    """Let a page's live run (its dgm_core.live.LiveRunner thread) finish what Step asked, then redraw.
    The timeout only stops a hang."""
    runner = at.session_state[f"{prefix}_runner"]
    assert runner.wait(timeout), f"{prefix}: the live run was still training after {timeout} s"
    return at.run()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(command: list[str], url: str, env: dict, log: Path, timeout: float = 90) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=log.open("w"),
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[:3]} exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def streamlit_url(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    process = start_server(command, f"http://127.0.0.1:{port}/_stcore/health", {}, log)
    yield f"http://127.0.0.1:{port}"
    stop(process)


@pytest.fixture(scope="session")
def space_url(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("space") / "space.log"
    env = {"GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    # build_demo draws every tab's first figures before the server answers: 1.5 min alone on 2 cores, more
    # than 90 s while other tests share them (the wait only stops a hang)
    process = start_server([sys.executable, "space/app.py"], f"http://127.0.0.1:{port}/", env, log, timeout=420)
    yield f"http://127.0.0.1:{port}/"
    stop(process)


@pytest.fixture(scope="session")
def space_demo():
    """The whole Space, built once for every test module that reads it: build_demo draws every tab's first
    figures (about a minute and a half on 2 cores), and each module built its own."""
    from space.app import build_demo

    return build_demo()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield _PatientBrowser(browser)
        browser.close()


class _PatientBrowser:
    """The browser, whose pages wait up to two minutes for an action (Playwright's default is 30 s). A
    loaded CI machine took longer than 30 s to dispatch a click while the page redrew its charts; these
    waits only stop a hang, they measure nothing."""

    ACTION_TIMEOUT_MS = 120_000

    def __init__(self, browser):
        self._browser = browser

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        context.set_default_timeout(self.ACTION_TIMEOUT_MS)
        return context

    def new_page(self, **options):
        return self.new_context(**options).new_page()

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.fixture(autouse=True)
def _close_browser_pages(request):
    """After each browser test, close the pages it opened: a page left open keeps its websocket and its
    reruns (a paused live panel still refreshes), and the pages of every earlier test then share the two
    cores with the rest of the suite."""
    yield
    if "browser" in request.fixturenames:
        for context in list(request.getfixturevalue("browser").contexts):
            context.close()


def space_client(url: str):
    """A gradio_client session on the Space at `url`."""
    try:
        from gradio_client import Client
    except ImportError:
        skip_or_fail("gradio_client is not installed")
    return Client(url, verbose=False)


@pytest.fixture(scope="module")
def client(space_url):
    """One gradio_client session for a test module (test_space_bayesian_networks.py takes one per test)."""
    return space_client(space_url)


def plotly_json(plot) -> dict:
    """The figure behind a gr.Plot value from gradio_client ({"type": "plotly", "plot": JSON}), with
    plotly's typed arrays ({"dtype", "bdata", "shape"}) decoded to numpy arrays."""
    import base64
    import json

    import numpy as np

    def decode(value):
        if isinstance(value, dict):
            if "bdata" in value and "dtype" in value:
                array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
                shape = value.get("shape")
                if shape:
                    array = array.reshape([int(n) for n in str(shape).split(",")])
                return array
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    return decode(json.loads(plot["plot"]) if isinstance(plot, dict) else json.loads(plot))
