"""A real browser: `streamlit run app.py` in Chromium, the lab opened from the home page, a
d-separation query run, and the verdict and the drawn graph seen. The screenshots it takes are
the README's: they replace docs/*.png only with DGM_UPDATE_SCREENSHOTS=1, and go to a temporary
folder otherwise (taken and checked all the same), so a test run leaves the tracked files alone."""
import os
import re
import struct

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.browser
UPDATE_SCREENSHOTS = "DGM_UPDATE_SCREENSHOTS"


def _screenshot(page, name: str, tmp_path):
    """The page's picture as docs/`name` (with DGM_UPDATE_SCREENSHOTS=1) or in tmp_path; checked to be a
    PNG of the viewport's size."""
    folder = ROOT / "docs" if os.environ.get(UPDATE_SCREENSHOTS) == "1" else tmp_path
    folder.mkdir(exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=False)
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    size = page.viewport_size
    assert struct.unpack(">II", head[16:24]) == (size["width"], size["height"]), path
    return path


def _open_from_home(browser, streamlit_url, lab: str):
    """A new tab on the home page, the lab opened from its link; page errors are collected."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(streamlit_url, wait_until="domcontentloaded")
    page.get_by_text("Pick a lab").wait_for(timeout=120_000)
    page.get_by_role("link", name=re.compile(lab)).first.click()
    return page, errors


def test_bayesian_network_lab_in_chromium(browser, streamlit_url, tmp_path):
    page, errors = _open_from_home(browser, streamlit_url, "Bayesian networks")

    # The default question on the student network.
    page.get_by_text(re.compile("Difficulty ⟂ Intelligence \\| Letter")).first.wait_for(timeout=120_000)
    # Ask another: the collider network, where observing Alarm couples its two causes.
    sidebar_select = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    sidebar_select.click()
    page.keyboard.type("collider")
    page.keyboard.press("Enter")
    verdict = page.locator('[data-testid="stAlert"]').filter(has_text=re.compile("Burglary ⟂ Earthquake \\| Alarm")).first
    verdict.wait_for(timeout=120_000)
    assert "d-connected" in verdict.inner_text()
    assert "Burglary – Alarm – Earthquake" in verdict.inner_text()

    # The graph is drawn by plotly: its SVG holds the node labels.
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot text')].some(t => t.textContent === 'Alarm')",
        timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.wait_for_timeout(1000)  # let the charts finish their transition before the picture
    _screenshot(page, "bayesian-networks.png", tmp_path)
    assert not errors, errors


def test_vae_lab_in_chromium(browser, streamlit_url, tmp_path):
    page, errors = _open_from_home(browser, streamlit_url, "VAE")
    page.get_by_text("Variational autoencoders").first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)

    # Move the first latent slider with the keyboard; the decoded picture must change.
    def picture():
        return page.evaluate("() => JSON.stringify(document.querySelector('.js-plotly-plot').data[0].z)")

    before = picture()
    thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
    thumb.focus()
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => JSON.stringify(document.querySelector('.js-plotly-plot').data[0].z) !== {before!r}",
                           timeout=120_000)
    assert picture() != before
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_role("tab", name="β comparison").click()
    page.get_by_text("Training curves").first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    _screenshot(page, "vae.png", tmp_path)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors


def test_a_bookmarked_lab_url_opens_through_the_router(browser, streamlit_url):
    """A lecturer's bookmark (/vae, /bayesian_networks) must open the lab inside the app's navigation."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    for path, title in (("vae", "Variational autoencoders"), ("bayesian_networks", "Bayesian networks")):
        page.goto(streamlit_url.rstrip("/") + "/" + path, wait_until="domcontentloaded")
        page.get_by_role("heading", name=re.compile(title)).first.wait_for(timeout=120_000)
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "DGM Lab" in nav and "VAE" in nav and "registry" not in nav


def _run_until_the_steps_climb_then_pause(page) -> None:
    """Run the live controller; the fragment refreshes on its own while running, so the step counter in
    the panel titles climbs; then Pause, and Run comes back."""
    page.get_by_role("button", name="▶ Run").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')].some(t => /step [1-9][0-9]+/.test(t.textContent))",
        timeout=120_000)
    page.get_by_role("button", name="⏸ Pause").click()
    page.get_by_role("button", name="▶ Run").wait_for(timeout=120_000)


def _every_tab_shows(page, errors, tabs: list[tuple[str, str]]) -> None:
    """Click each (tab, text it must show) in turn; no exception on the page, no script error."""
    for tab, text in tabs:
        page.get_by_role("tab", name=tab).click()
        # 5 min: a tab may compute on arrival (the diffusion lab measures every sampler), and under a loaded
        # fresh-clone run that took longer than 2 min once; the wait only stops a hang
        page.get_by_text(text).first.wait_for(timeout=300_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors


def test_gan_lab_trains_live_in_chromium(browser, streamlit_url, tmp_path):
    page, errors = _open_from_home(browser, streamlit_url, "GANs")
    page.get_by_text("Generative adversarial networks").first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    _run_until_the_steps_climb_then_pause(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.wait_for_timeout(1000)
    _screenshot(page, "gans.png", tmp_path)
    assert not errors, errors


def test_flow_lab_trains_live_and_shows_every_tab_in_chromium(browser, streamlit_url):
    page, errors = _open_from_home(browser, streamlit_url, "Normalizing flows")
    page.get_by_text("Normalizing flows").first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    _run_until_the_steps_climb_then_pause(page)
    _every_tab_shows(page, errors, [("Image samples", "Test bits/dim"), ("Likelihood & OOD", "AUROC"),
                                     ("Hutchinson estimator", "exact log det"), ("VAE with a flow prior", "mean over seeds")])


def test_energy_lab_trains_live_and_shows_every_tab_in_chromium(browser, streamlit_url):
    page, errors = _open_from_home(browser, streamlit_url, "Energy-based models")
    page.get_by_text("Energy-based models").first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    _run_until_the_steps_climb_then_pause(page)
    _every_tab_shows(page, errors, [("Image samples", "Class-conditional samples"),
                                     ("JEM vs JEM++", "points below the plain classifier")])


def test_diffusion_lab_trains_live_and_shows_every_tab_in_chromium(browser, streamlit_url):
    page, errors = _open_from_home(browser, streamlit_url, "Diffusion and flow matching")
    page.get_by_text("Diffusion and flow matching").first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    _run_until_the_steps_climb_then_pause(page)
    page.get_by_role("tab", name="Samplers vs steps").click()
    page.get_by_role("button", name="Measure every sampler now").click()
    _every_tab_shows(page, errors, [("Forward process", "signal-to-noise ratio"),
                                     ("Samplers vs steps", "Calls to come within"),
                                     ("Digits", "Fréchet distance against sampler steps")])


def test_vqvae_lab_shows_every_tab_in_chromium(browser, streamlit_url):
    page, errors = _open_from_home(browser, streamlit_url, "VQ-VAE and its codes")
    page.get_by_text("VQ-VAE and its codes").first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    _every_tab_shows(page, errors, [("Codebook health", "dead codes"), ("Clustering the codes", "matched accuracy"),
                                     ("t-SNE / UMAP map", "carry little meaning"),
                                     ("True vs pseudo-labels", "of the training pseudo-labels are the true label")])


def test_a_shared_link_opens_the_same_view_and_changes_write_the_link(browser, streamlit_url):
    """A lecturer's link with the lab's settings opens them; a change updates the address; leaving for
    another lab does not carry the settings over as a stale link."""
    from playwright.sync_api import expect  # the browser fixture says what to install when it is missing
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{streamlit_url}/vqvae?vq_k=17&vq_repr=code+histogram&vq_seed=3", wait_until="domcontentloaded")
    page.get_by_role("tab", name="Clustering the codes").click()
    k_box = page.get_by_label("clusters k")
    k_box.wait_for(timeout=120_000)
    page.get_by_text("matched accuracy").first.wait_for(timeout=120_000)
    # Playwright's expect waits for the value: a box can be drawn a moment before its value on a loaded machine
    expect(k_box).to_have_value("17", timeout=120_000)
    expect(page.get_by_label("k-means seed")).to_have_value("3", timeout=120_000)
    expect(page.get_by_role("radio", name="code histogram")).to_be_checked(timeout=120_000)
    assert page.get_by_text("This link's settings").count() == 0
    k_box.fill("12")
    k_box.press("Enter")
    page.wait_for_function("() => window.location.search.includes('vq_k=12')", timeout=120_000)
    # a bad number in a link: the box shows it as it came, and says which value is in force
    page.goto(f"{streamlit_url}/vqvae?vq_k=banana", wait_until="domcontentloaded")
    page.get_by_role("tab", name="Clustering the codes").click()
    page.get_by_text("'banana' is not a number").wait_for(timeout=120_000)
    expect(page.get_by_label("clusters k")).to_have_value("banana", timeout=120_000)
    assert "10 is in force" in page.get_by_text("'banana' is not a number").first.inner_text()
    page.get_by_role("link", name="Energy-based models").first.click()
    page.get_by_text("Energy-based models").first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    assert page.get_by_text("This link's settings").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors


def test_the_vqvae_checkpoint_downloads_as_a_zip_that_loads(browser, streamlit_url, tmp_path):
    import zipfile

    from dgm_core.checkpoints import load_checkpoint

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{streamlit_url}/vqvae", wait_until="domcontentloaded")
    button = page.get_by_role("button", name="Download vqvae-digits (zip)")
    button.wait_for(timeout=120_000)
    with page.expect_download() as download:
        button.click()
    zipfile.ZipFile(download.value.path()).extractall(tmp_path)
    assert load_checkpoint(tmp_path / "vqvae-digits").model.num_codes == 64


def test_a_figure_downloads_as_svg_and_the_comparison_table_as_csv(browser, streamlit_url):
    """The sidebar's format reaches the camera button of every figure; the table's CSV is the table."""
    import csv
    import json

    from dgm_core import compare

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{streamlit_url}/compare", wait_until="domcontentloaded")
    page.get_by_text("Every model compared").first.wait_for(timeout=120_000)
    page.locator('[data-testid="stSidebar"]').get_by_text("SVG").click()
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)               # the charts redraw with the new config
    chart.hover()
    camera = chart.locator('.modebar-btn[data-title^="Download plot"]')
    with page.expect_download() as download:
        camera.click()
    assert download.value.suggested_filename == "dgm-lab-figure.svg"
    svg = open(download.value.path(), encoding="utf-8").read()
    assert svg.startswith("<svg") and "Fréchet distance" in svg
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the table (CSV)").click()
    with open(download.value.path(), encoding="utf-8", newline="") as table:
        rows = list(csv.DictReader(table))
    written = json.loads((compare.RESULTS_DIR / compare.RESULTS_NAME).read_text())
    assert [r["model"] for r in rows] == [r["model"] for r in written["rows"]]
    assert [float(r["FD (lower is better)"].split()[0]) for r in rows] == [round(r["fd_mean"], 1) for r in written["rows"]]
    assert not errors, errors


def test_a_lesson_link_opens_its_question_and_reveals_a_computed_answer(browser, streamlit_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{streamlit_url}/bayesian_networks?bayesian_networks_lesson=true&bayesian_networks_lesson_step=2",
              wait_until="domcontentloaded")
    page.get_by_text("2. Is Burglary independent of Earthquake given Alarm?").wait_for(timeout=120_000)
    reveal = page.get_by_role("button", name="Reveal the answer")
    assert reveal.is_disabled()                       # predict first
    page.get_by_role("radiogroup", name="Your prediction").get_by_text("no", exact=True).click()
    page.wait_for_function("() => !document.evaluate(\"//button[contains(., 'Reveal the answer')]\", document, null, "
                           "9, null).singleNodeValue.disabled", timeout=120_000)
    reveal.click()
    page.get_by_text("Your prediction was right.").wait_for(timeout=120_000)
    page.wait_for_timeout(1000)
    assert page.get_by_role("radiogroup", name="Your prediction").count() == 1      # locked, not drawn twice
    assert page.get_by_role("button", name="Reveal the answer").count() == 0
    assert "Burglary – Alarm – Earthquake" in page.get_by_text("The active trail").first.inner_text()
    page.get_by_role("button", name="Next →").click()
    page.get_by_text("3. Is Burglary independent of Earthquake given only that John called?").wait_for(timeout=120_000)
    page.wait_for_function("() => window.location.search.includes('bayesian_networks_lesson_step=3')", timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors
