"""`python -m benchmarks live`: the live loop as a lecturer and a student see it, in Chromium, on the
running app and the running Space, measured in the same run (issue 20).

- steps per second shown against steps counted over wall-clock: the page's counter read every half
  second for a window, (last − first) / seconds, against the rate the page shows at the end (goal:
  within 10 %); for the app's flow, GAN and energy pages and the Space's flow tab;
- the app's live flow against the Space's, both counted over wall-clock with a browser drawing them
  (goal: at least 0.8x);
- Pause: clicks at random moments; how many clicks it took (one, or the row says so) and how many steps
  the counter moved on after the click the browser took, in refreshes' worth of steps (the display is
  up to a refresh old, and the pause lands within one refresh after the click).

Every number is a ratio of two measurements taken here and now; nothing is compared with a time
measured elsewhere."""
from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from benchmarks import run_alone

ROOT = Path(__file__).resolve().parents[1]
COUNTER = """() => { const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
    .find(e => e.innerText.startsWith('step ('));
    return m ? Number(m.querySelector('[data-testid="stMetricValue"]').innerText.replace(/,/g, '')) : null; }"""
SHOWN_RATE = """() => { const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
    .find(e => e.innerText.startsWith('steps per second'));
    const v = m ? m.querySelector('[data-testid="stMetricValue"]').innerText : '';
    return /^[0-9]+$/.test(v) ? Number(v) : null; }"""
SPACE_STEP = """() => { const m = /step (\\d[\\d,]*) of/.exec(document.body.innerText);
    return m ? Number(m[1].replace(/,/g, '')) : null; }"""
SPACE_RATE = """() => { const m = /step [\\d,]+ of [\\d,]+ \\([^)]*\\) · (\\d+) steps\\/s/.exec(document.body.innerText);
    return m ? Number(m[1]) : null; }"""


@contextmanager
def servers():
    from tests.conftest import free_port, start_server, stop

    log_dir = Path(tempfile.mkdtemp(prefix="dgm-live-bench-"))
    app_port, space_port = free_port(), free_port()
    app = start_server([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                        "--server.port", str(app_port), "--browser.gatherUsageStats", "false"],
                       f"http://127.0.0.1:{app_port}/_stcore/health", {}, log_dir / "app.log")
    space = start_server([sys.executable, "space/app.py"], f"http://127.0.0.1:{space_port}/",
                         {"GRADIO_SERVER_PORT": str(space_port), "GRADIO_ANALYTICS_ENABLED": "False"},
                         log_dir / "space.log", timeout=180)
    try:
        yield f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{space_port}/"
    finally:
        stop(app)
        stop(space)


def count(page, read_steps, read_rate, seconds: float) -> tuple[float, float]:
    """Steps counted over `seconds` of wall-clock from the counter the page shows, and the mean of the
    rates it shows meanwhile (each over its last seconds, so their mean covers the same window)."""
    readings, shown = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value, rate = page.evaluate(read_steps), page.evaluate(read_rate)
        if value is not None:
            readings.append((time.monotonic(), value))
        if rate is not None:
            shown.append(rate)
        time.sleep(0.5)
    (t0, s0), (t1, s1) = readings[0], readings[-1]
    return (s1 - s0) / (t1 - t0), statistics.mean(shown) if shown else float("nan")


def app_rate(browser, url: str, lab: str, seconds: float) -> tuple[float, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/{lab}", wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Run", exact=True).wait_for(timeout=120_000)
    page.get_by_role("button", name="▶ Run", exact=True).click()
    page.wait_for_function(f"() => ({SHOWN_RATE})() !== null", timeout=120_000)   # the page shows it training
    time.sleep(6)                                  # past the first window of the rate
    counted, shown = count(page, COUNTER, SHOWN_RATE, seconds)
    page.get_by_role("button", name="⏸ Pause", exact=True).click()
    page.close()
    return counted, shown


def space_rate(browser, url: str, seconds: float) -> tuple[float, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("tab", name="Normalizing flows", exact=True).click()
    page.get_by_role("tab", name="Live 2-D flow", exact=True).click()
    steps_box = page.get_by_label("steps (1–5,000)").first
    steps_box.fill("5000")
    page.get_by_role("button", name="Train the flow from scratch", exact=True).click()
    page.wait_for_function(f"() => ({SPACE_RATE})() !== null", timeout=120_000)
    time.sleep(5)
    counted, shown = count(page, SPACE_STEP, SPACE_RATE, seconds)
    page.get_by_role("button", name="Pause", exact=True).click()
    page.close()
    return counted, shown


def pauses(browser, url: str, lab: str, tries: int) -> tuple[list[float], int]:
    """Steps the counter moved on after each click on Pause (in refreshes' worth), and the clicks needed."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/{lab}", wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Run", exact=True).wait_for(timeout=120_000)
    page.evaluate(f"() => document.addEventListener('pointerdown', () => {{ window.__atClick = ({COUNTER})(); }}, true)")
    slider = page.locator('[data-testid="stSlider"]', has_text="steps per second")
    per_refresh = int(slider.locator('[data-testid="stSliderThumbValue"]').inner_text())
    after, clicks = [], 0
    rng = random.Random(0)
    for _ in range(tries):
        page.get_by_role("button", name="▶ Run", exact=True).and_(page.locator(":enabled")).wait_for(timeout=120_000)
        page.get_by_role("button", name="▶ Run", exact=True).click()
        time.sleep(3 + rng.random() * 2)
        box = page.get_by_role("button", name="⏸ Pause", exact=True).bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        clicks += 1
        page.get_by_role("button", name="▶ Run", exact=True).and_(page.locator(":enabled")).wait_for(timeout=120_000)
        time.sleep(2.5)
        after.append((page.evaluate(COUNTER) - page.evaluate("() => window.__atClick")) / per_refresh)
    page.close()
    return after, clicks


def rows(quick: bool = False) -> list[dict]:
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_FLAGS

    seconds, tries = (10, 3) if quick else (30, 8)
    out = []
    with servers() as (app_url, space_url), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        app_flow, app_flow_shown = app_rate(browser, app_url, "flows", seconds)
        space_flow, space_flow_shown = space_rate(browser, space_url, seconds)
        out.append(dict(benchmark="live", measure="2-D RealNVP, steps/s counted over wall-clock with Chromium drawing",
                        ours=app_flow, reference=space_flow, reference_name="the Space's live flow", unit="steps/s",
                        ratio=app_flow / space_flow))
        out.append(dict(benchmark="live", measure="Space flow: steps/s shown vs counted", ours=space_flow_shown,
                        reference=space_flow, reference_name="counted", unit="steps/s",
                        ratio=space_flow_shown / space_flow))
        out.append(dict(benchmark="live", measure="app flow: steps/s shown vs counted", ours=app_flow_shown,
                        reference=app_flow, reference_name="counted", unit="steps/s", ratio=app_flow_shown / app_flow))
        for lab in ("gans", "energy"):
            counted, shown = app_rate(browser, app_url, lab, seconds)
            out.append(dict(benchmark="live", measure=f"app {lab}: steps/s shown vs counted", ours=shown,
                            reference=counted, reference_name="counted", unit="steps/s", ratio=shown / counted))
        for lab in ("flows", "gans"):
            after, clicks = pauses(browser, app_url, lab, tries)
            out.append(dict(benchmark="live", measure=f"app {lab}: Pause, steps shown after the click ({tries} random "
                                                       f"clicks, {clicks} clicks in all; median, max {max(after):.2f})",
                            ours=statistics.median(after), reference=2.0,
                            reference_name="the display's age + one refresh", unit="refreshes' steps",
                            ratio=2.0 / max(statistics.median(after), 1e-9)))
        browser.close()
    return out


if __name__ == "__main__":
    run_alone(rows, __doc__)
