"""The live pages in Chromium, clicked as a lecturer clicks them (issue 20): Pause takes one click and
the counter and every panel stop at one step (how many steps pass after the click is measured by
benchmarks/live.py); the counter and every panel show the same step after
quick clicks; two sessions switching labs mid-run see no error and lose nothing.

These tests count clicks and steps, never seconds: the waits only stop a hang."""
import re

import pytest

pytestmark = pytest.mark.browser

#: Each live page, its step counter's label, and the titles its panels carry "· step N" in.
LIVE_PAGES = {"flows": "RealNVP", "gans": "WGAN-GP", "energy": "EBM", "diffusion": "DDPM"}
COUNTER = """() => { const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
    .find(e => e.innerText.startsWith('step ('));
    return m ? Number(m.querySelector('[data-testid="stMetricValue"]').innerText.replace(/,/g, '')) : null; }"""
RATE = """() => { const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
    .find(e => e.innerText.startsWith('steps per second'));
    return m ? m.querySelector('[data-testid="stMetricValue"]').innerText : null; }"""
PANEL_STEPS = """() => [...document.querySelectorAll('.js-plotly-plot .gtitle')].map(t => t.textContent)
    .map(t => /· step (\\d+)/.exec(t)).filter(m => m).map(m => Number(m[1]))"""


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "404" not in m.text else None)
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Run").wait_for(timeout=120_000)
    return page, errors


def _click(page, name: str) -> None:
    """One click at the button's place, as a hand gives it (no waiting for the page to be still)."""
    box = page.get_by_role("button", name=name, exact=True).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _click_link(page, name: str) -> None:
    """A click on a sidebar link, not waiting for the navigation to settle (the next line waits for the new
    page's heading): a loaded machine took longer than Playwright's wait for 'scheduled navigations'."""
    page.get_by_role("link", name=name).first.click(no_wait_after=True)


def _enabled(page, name: str):
    page.get_by_role("button", name=name, exact=True).and_(page.locator(":enabled")).wait_for(timeout=120_000)


def _wait_for_a_redraw(page, after: int | None = None) -> int:
    """The counter's value right after it next changes (past `after`, if given). Polled every 50 ms, not
    every animation frame, so that the test does not add to the browser's work."""
    shown = page.evaluate(COUNTER) if after is None else after
    page.wait_for_function(f"() => ({COUNTER})() > {shown}", polling=50, timeout=120_000)
    return page.evaluate(COUNTER)


def _remember_the_counter_at_each_click(page) -> None:
    """What the page showed when the browser took the click (a busy browser takes it late)."""
    page.evaluate(f"() => document.addEventListener('pointerdown', () => {{ window.__atClick = ({COUNTER})(); }}, true)")


def _settled(page) -> int:
    """Paused: Run is enabled, the rate says so, and the counter no longer changes."""
    _enabled(page, "▶ Run")
    page.wait_for_function(f"() => ({RATE})() === 'paused'", polling=100, timeout=120_000)
    return page.evaluate(COUNTER)


@pytest.mark.parametrize("lab", list(LIVE_PAGES))
def test_pause_takes_one_click_and_the_counter_and_every_panel_stop_at_one_step(browser, streamlit_url, lab):
    """One click on Pause stops the run: the first redraw after the server took the click shows the step it
    stopped at, nothing moves after it, and every panel settles at the counter's step. How many steps the
    counter moves on after the click is the click's trip to the server times the training rate, so it grows
    with the machine's load (a loaded CI machine took 2.4 refreshes, 244 steps at 100 a second): it is
    measured, in refreshes' worth of steps, by `python -m benchmarks live`, not asserted here."""
    page, errors = _open(browser, f"{streamlit_url}/{lab}")
    _remember_the_counter_at_each_click(page)
    _click(page, "▶ Run")
    shown = [_wait_for_a_redraw(page, 0)]
    for _ in range(2):                                    # the counter climbs on its own: the thread trains
        shown.append(_wait_for_a_redraw(page, shown[-1]))
    _click(page, "⏸ Pause")                              # once
    stopped = _settled(page)
    page.wait_for_timeout(2500)                           # two more refreshes' time: nothing may move
    assert page.evaluate(COUNTER) == stopped
    at_click = page.evaluate("() => window.__atClick")
    assert shown[-1] <= at_click <= stopped, (shown, at_click, stopped)
    # Streamlit keeps a panel's old element until its new one is drawn (a loaded browser showed {94, 115}
    # for a moment): what must hold is the page once drawn, every panel at the counter's step.
    page.wait_for_function(f"() => {{ const s = ({PANEL_STEPS})(); return s.length > 0 && s.every(v => v === {stopped}); }}",
                           polling=200, timeout=60_000)
    assert page.evaluate(COUNTER) == stopped
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors


def test_quick_clicks_leave_the_counter_and_every_panel_at_the_same_step(browser, streamlit_url):
    """Run, Pause, Step, Run, Pause in quick succession (the counter said 999 while the panels said 1009)."""
    page, errors = _open(browser, f"{streamlit_url}/gans")
    for name in ("▶ Run", "⏸ Pause", "Step", "▶ Run", "⏸ Pause", "Step", "Step"):
        _click(page, name)
        page.wait_for_timeout(150)
    stopped = _settled(page)
    page.wait_for_timeout(2500)
    stopped = _settled(page)
    assert stopped > 0
    # Streamlit keeps a panel's old element on the page until its new one is drawn: a loaded browser showed
    # both for a while ([84, 64, 84, 64, 84, 64]). What must hold is the page once drawn: three panels at the
    # counter's step (a page stuck with panels at another step, the bug of issue 20, still fails here).
    settled = f"() => JSON.stringify(({PANEL_STEPS})()) === JSON.stringify([{stopped}, {stopped}, {stopped}])"
    page.wait_for_function(settled, polling=200, timeout=60_000)
    assert page.evaluate(COUNTER) == stopped
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors


def test_two_sessions_switching_labs_mid_run_see_no_error(browser, streamlit_url):
    """Two students on the same live page, both running; one leaves for another lab and comes back, the
    other leaves too. No connection error, no exception; the left run paused and says where. The
    browser never gets a reference to a cached message (the cause of "Cached ForwardMsg MISS"): the
    websocket is read frame by frame."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    kinds: list[str] = []

    def read(payload):
        if isinstance(payload, bytes):
            message = ForwardMsg()
            message.ParseFromString(payload)
            kinds.append(message.WhichOneof("type"))

    url = f"{streamlit_url}/flows?flow_couplings=4&flow_dataset=moons"
    pages, errors = [], []
    for _ in range(2):
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.on("websocket", lambda ws: ws.on("framereceived", read))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "404" not in m.text else None)
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_role("button", name="▶ Run").wait_for(timeout=120_000)
        pages.append(page)
    first, second = pages
    for round_ in range(2):
        for page in pages:
            _click(page, "▶ Run")
        for page in pages:
            _wait_for_a_redraw(page, 0 if round_ == 0 else page.evaluate(COUNTER))
        _click_link(first, "Energy-based models")
        first.get_by_role("heading", name=re.compile("Energy-based models")).wait_for(timeout=120_000)
        _click_link(second, "GANs")
        second.get_by_role("heading", name=re.compile("Generative adversarial")).wait_for(timeout=120_000)
        for page in pages:
            _click_link(page, "Normalizing flows")
            page.get_by_text(re.compile("when you left the page")).first.wait_for(timeout=120_000)
            assert page.evaluate(RATE) == "paused"
    for page in pages:
        assert page.get_by_text(re.compile("Connection error|ForwardMsg|Failed to process")).count() == 0
        assert page.locator('[data-testid="stException"]').count() == 0
    assert "delta" in kinds and "ref_hash" not in kinds
    assert not errors, errors
