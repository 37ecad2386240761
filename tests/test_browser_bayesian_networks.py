"""The Bayesian-network lab in real Chromium: what the CPT grid shows is what "Save CPT" saves,
even when the last value was typed without Enter, and node labels of large networks do not
overlap. Screenshots of the drawings go to the test's temporary folder."""
import re

import pytest

pytestmark = pytest.mark.browser


def _open_lab(browser, streamlit_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(streamlit_url.rstrip("/") + "/bayesian_networks", wait_until="domcontentloaded")
    page.get_by_text(re.compile("Difficulty ⟂ Intelligence")).first.wait_for(timeout=90_000)
    return page, errors


def _choose_example(page, name: str, shows: str):
    select = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    select.click()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    page.get_by_text(re.compile(shows)).first.wait_for(timeout=90_000)


def _wait_idle(page):
    page.wait_for_timeout(500)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=90_000)


def test_a_cpt_value_typed_without_enter_is_saved(browser, streamlit_url):
    page, errors = _open_lab(browser, streamlit_url)
    _choose_example(page, "chain", "Smoking ⟂ Cancer")
    page.get_by_role("tab", name="Edit the network").click()
    grid = page.locator("[data-testid=stDataFrame]:visible").first
    grid.wait_for(timeout=30_000)
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()

    def type_into(column: int, text: str):
        """Select the prior row's index cell, move right to the column, open the editor, type."""
        page.mouse.click(box["x"] + 20, box["y"] + 54)
        for _ in range(column):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
        page.keyboard.press("Control+A")
        page.keyboard.type(text, delay=40)

    type_into(1, "0.4")
    page.keyboard.press("Enter")  # the first value is committed with Enter ...
    _wait_idle(page)
    type_into(2, "0.6")  # ... the second is still in the cell editor when Save is clicked
    page.get_by_role("button", name="Save CPT").click()
    page.get_by_text("CPT of Smoking saved").first.wait_for(timeout=60_000)
    _wait_idle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download BIF").click()
    bif = open(download.value.path()).read()
    assert "table 0.4, 0.6;" in bif, bif
    spec = page.get_by_label("Network spec").input_value()
    assert "0.4 0.6" in spec and "0.7 0.3" not in spec, spec  # the text spec follows the save
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors


def _label_boxes(page) -> list[dict]:
    """The on-screen boxes of the node labels of the first (d-separation) graph."""
    return page.evaluate("""() => {
        const plot = [...document.querySelectorAll('.js-plotly-plot')].find(p => p.offsetParent !== null);
        return [...plot.querySelectorAll('.annotation-text')].map(t => {
            const r = t.getBoundingClientRect();
            return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
        }).filter(b => b.text);
    }""")


@pytest.mark.parametrize("network", ["alarm", "andes", "pigs"])
def test_node_labels_of_large_networks_do_not_overlap(browser, streamlit_url, network, tmp_path):
    page, errors = _open_lab(browser, streamlit_url)
    _choose_example(page, network, f"In use: {network}")
    _wait_idle(page)
    page.wait_for_timeout(1500)  # let plotly finish drawing
    boxes = _label_boxes(page)
    assert len(boxes) >= 20, boxes
    overlaps = [(a["text"], b["text"]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                if a["left"] < b["right"] - 1 and b["left"] < a["right"] - 1
                and a["top"] < b["bottom"] - 1 and b["top"] < a["bottom"] - 1]
    page.locator(".js-plotly-plot:visible").first.screenshot(path=str(tmp_path / f"{network}.png"))
    assert not overlaps, overlaps[:10]
    assert not errors, errors
