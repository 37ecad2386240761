"""Load: the Space and the lecturer's app used by a whole class at once (issue 8, section 7), as a soak
(issue 20): a few hundred checked requests, none of them lost.

What is measured, and why:
- The Space (`space/app.py`, the `space_url` fixture) under 20 concurrent `gradio_client` clients, each
  sending a fixed number of quick requests (VAE decode, d-separation, GAN theory) one after another
  (15 each: 300 in all, every answer checked against dgm_core),
  while two more clients run the live GAN stream, which trains for seconds. Its queue (space/app.py,
  `build_demo`) must keep every quick endpoint answering, and a request that finds the queue full must be
  refused at once with Gradio's busy message rather than wait for a timeout. Every request counts as
  served (its result checked against dgm_core), busy (the busy message) or an error (anything else).
- The same refusal made certain: a Space built with a queue of one, filled by two live GAN streams, must
  refuse the next request of any kind with the busy message while those two are still running and waiting.
- The Streamlit app (`app.py`, the `streamlit_url` fixture) under several browser sessions at once: pages
  in one Chromium, each opening a lab from the home page and doing one action, with the time until the
  lab's content shows and until the action's result shows, and every exception box or traceback an error.

The tables print with `pytest -s -m slow tests/test_load.py` in Markdown, ready to paste. Latencies depend
on the machine (3-4x between machines) and on what else runs on it, so the tests assert only content and
counts, never a time or a rate. The loops are bounded by request counts; the timeouts only stop a hang.
"""
from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from dgm_core import gan
from dgm_core.checkpoints import load_checkpoint
from dgm_core.pgm import BayesianNetwork, independence_gap, load_example
from dgm_core.pgm.examples import spec_text, suggested_query

from .conftest import free_port, space_client

pytestmark = pytest.mark.slow

CLIENTS = 20                 # a class's worth of students pressing at once
REQUESTS_PER_CLIENT = 15     # 300 quick requests in all, a third of each kind: a soak, not a burst
# One answer in 120 used to be lost ("peer closed connection without sending complete message body"):
# two clients decoding the same picture at once, Gradio rewrote its cached file while sending it to the
# other (space/gradio_cache.py, tests/test_space_cache.py). The clients here ask for the same pictures on
# purpose (5 slider values, 2 checkpoints), as a class does.
LIVE_CLIENTS = 2             # live GAN streams running beside them
LIVE_STEPS = 200
REQUEST_TIMEOUT = 300        # seconds: only to stop a hung request, never a measure of speed
POLL_ROUNDS = 2500           # browser polls before the app test gives up on a hung session (~4 min); not a speed goal
BUSY = "Queue is full! Please try again."   # gradio_client's QueueError; the browser says "currently busy"


def percentiles(seconds: list[float]) -> tuple[str, str]:
    if not seconds:
        return "–", "–"
    p50, p95 = np.percentile(seconds, [50, 95])
    return f"{p50:.2f}", f"{p95:.2f}"


# ------------------------------------------------------------------- the Space's quick endpoints
@dataclass
class Request:
    """One call to the Space and a check of its result against dgm_core (returns a mismatch, or "")."""
    endpoint: str
    args: tuple
    expected: object


def vae_request(i: int) -> Request:
    # All ten sliders at one value: the same latent point whatever order the sliders are in.
    name = ("vae-digits-beta1", "vae-shapes-beta4")[i % 2]
    value = (-1.5, -0.5, 0.0, 0.75, 2.0)[i % 5]
    model = load_checkpoint(name).model
    with torch.no_grad():
        expected = (model.decode_mean(torch.full((1, model.latent_dim), value))[0, 0] * 255).round().numpy()
    return Request("/vae_decode", (name, *[value] * 10), expected)


def d_separation_request(i: int) -> Request:
    name = ("collider", "sprinkler", "student", "asia", "child")[i % 5]
    bn = load_example(name)
    x, y, z = suggested_query(bn)
    if i % 2:
        z = []          # the same pair with nothing observed: the other verdict on colliders
    spec = spec_text(bn)
    edited = BayesianNetwork.from_text(spec, name="edited")
    word = "d-separated" if edited.active_trail(x, y, z) is None else "d-connected"
    return Request("/d_separation", (spec, x, y, z), (word, f"{independence_gap(edited, x, y, z).gap:.3g}"))


def theory_request(i: int) -> Request:
    theta, sigma = (-4.0, -1.0, 0.5, 2.0, 6.0)[i % 5], (0.5, 1.0, 2.0)[i % 3]
    return Request("/gan_theory", (theta, sigma), f"JS = **{gan.GaussianGame(theta, sigma).js_divergence():.4f}**")


def mismatch(request: Request, result) -> str:
    """What is wrong with a served result, or "" if it is what dgm_core computes."""
    if request.endpoint == "/vae_decode":
        from PIL import Image

        picture = np.asarray(Image.open(result[0])).astype(float)         # (the picture, the message beside it)
        picture = picture if picture.ndim == 2 else picture[..., 0]
        error = np.abs(picture[::6, ::6] - request.expected).max()
        return "" if error <= 1 else f"decoded picture differs from dgm_core's by {error:.0f} grey levels"
    if request.endpoint == "/d_separation":
        verdict, word, gap = result[0], *request.expected
        return "" if word in verdict and f"**{gap}**" in verdict else f"expected {word}, gap {gap}: {verdict[:120]!r}"
    text = result[0]
    return "" if request.expected in text else f"expected {request.expected!r} in {text[:120]!r}"


def requests_for(client_index: int) -> list[Request]:
    """A fixed mix: request j of client k is of kind (k + j) mod 3, its parameters varied by k and j."""
    kinds = (vae_request, d_separation_request, theory_request)
    return [kinds[(client_index + j) % 3](client_index * REQUESTS_PER_CLIENT + j) for j in range(REQUESTS_PER_CLIENT)]


@dataclass
class Outcome:
    endpoint: str
    kind: str                # "served", "busy" or "error"
    seconds: float
    detail: str = ""


def call(client, request: Request, check) -> Outcome:
    """Send one request and wait for its answer: served (and `check` finds nothing wrong), busy, or an error."""
    from gradio_client.utils import QueueError

    start = time.perf_counter()
    try:
        result = client.submit(*request.args, api_name=request.endpoint).result(timeout=REQUEST_TIMEOUT)
    except QueueError as exc:
        return Outcome(request.endpoint, "busy" if str(exc) == BUSY else "error", time.perf_counter() - start,
                       f"QueueError: {exc}")
    except Exception as exc:           # anything else is an error of the Space under load
        return Outcome(request.endpoint, "error", time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    try:
        wrong = check(request, result)
    except Exception as exc:           # e.g. a picture file that cannot be read
        wrong = f"{type(exc).__name__}: {exc}"
    return Outcome(request.endpoint, "error" if wrong else "served", seconds, wrong)


def live_request(steps: int = LIVE_STEPS) -> Request:
    return Request("/gan_live", ("8gaussians", steps, 50, 5, 0.01, 0.1, "non-saturating", 0), steps)


def live_mismatch(request: Request, result) -> str:
    """The stream's last update: its mode-coverage table must show every model at the steps asked for."""
    table = next((o for o in result if isinstance(o, dict) and "headers" in o), None)
    if table is None:
        return "no mode-coverage table in the last update"
    steps = {row[0]: row[table["headers"].index("steps")] for row in table["data"]}
    return "" if set(steps.values()) == {request.expected} else f"steps {steps}, asked for {request.expected}"


def space_table(outcomes: list[Outcome], wall: float) -> str:
    lines = [f"Space: {CLIENTS} clients x {REQUESTS_PER_CLIENT} quick requests + {LIVE_CLIENTS} live GAN streams "
             f"of {LIVE_STEPS} steps, {wall:.1f} s wall (latency in s, served requests only)",
             "| endpoint | sent | served | busy | other errors | p50 | p95 |", "|---|---:|---:|---:|---:|---:|---:|"]
    endpoints = ["/vae_decode", "/d_separation", "/gan_theory", "/gan_live"]
    for endpoint in [*endpoints, "quick, all"]:
        rows = [o for o in outcomes if o.endpoint == endpoint or (endpoint == "quick, all" and o.endpoint != "/gan_live")]
        served = [o.seconds for o in rows if o.kind == "served"]
        lines.append(f"| {endpoint} | {len(rows)} | {len(served)} | {sum(o.kind == 'busy' for o in rows)} | "
                     f"{sum(o.kind == 'error' for o in rows)} | {' | '.join(percentiles(served))} |")
    return "\n".join(lines)


def test_space_under_a_class_of_20_clients(space_url):
    plans = {k: requests_for(k) for k in range(CLIENTS)}              # oracles computed before the load
    plans.update({CLIENTS + k: [live_request()] for k in range(LIVE_CLIENTS)})
    start_together = threading.Barrier(len(plans), timeout=REQUEST_TIMEOUT)

    def student(index: int) -> list[Outcome]:
        client = space_client(space_url)     # connecting is not part of the measure
        start_together.wait()
        check = live_mismatch if index >= CLIENTS else mismatch
        return [call(client, request, check) for request in plans[index]]

    wall = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(plans)) as pool:
        outcomes = [o for result in pool.map(student, plans) for o in result]
    wall = time.perf_counter() - wall
    print("\n" + space_table(outcomes, wall))
    errors = [f"{o.endpoint}: {o.detail}" for o in outcomes if o.kind == "error"]
    for line in errors[:10]:
        print("  error:", line)

    assert len(outcomes) == CLIENTS * REQUESTS_PER_CLIENT + LIVE_CLIENTS      # every request was answered
    assert errors == []                                                       # served correctly, or busy
    assert {o.endpoint for o in outcomes if o.kind == "served"} >= {"/vae_decode", "/d_separation", "/gan_theory"}


def test_a_full_queue_refuses_at_once_with_the_busy_message():
    """A Space whose queue holds one request: one live GAN stream running (it runs one at a time), a second
    waiting, and then a quick request and a third stream are refused with the busy message, while the first
    is still running and the second still waiting, so the refusal did not wait for either."""
    import sys
    from pathlib import Path

    from gradio_client.utils import QueueError, Status

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from space.app import build_demo

    port = free_port()
    demo = build_demo(queue_size=1)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = space_client(f"http://127.0.0.1:{port}/")
        long_run = live_request(steps=5000).args          # far longer than this test
        running = client.submit(*long_run, api_name="/gan_live")
        wait_for_status(running, Status.PROCESSING)
        waiting = client.submit(*long_run, api_name="/gan_live")
        wait_for_status(waiting, Status.IN_QUEUE)
        for request in (theory_request(0), live_request()):
            with pytest.raises(QueueError) as refused:
                client.predict(*request.args, api_name=request.endpoint)
            assert str(refused.value) == BUSY
        assert running.status().code == Status.PROCESSING and waiting.status().code == Status.IN_QUEUE
        print(f"\nA full queue answers gradio_client with QueueError({BUSY!r}); "
              "the browser shows 'This application is currently busy. Please try again.'")
    finally:
        demo.close()


def wait_for_status(job, code, attempts: int = 600) -> None:
    """Poll a submitted job (at most `attempts` x 0.1 s) until the queue reports `code` for it."""
    for _ in range(attempts):
        if job.status().code == code:
            return
        time.sleep(0.1)
    raise AssertionError(f"the job never reached {code}: {job.status()}")


# ------------------------------------------------------------------------------ the Streamlit app
@dataclass
class LabVisit:
    """One lab in one browser session: its link on the home page, the JavaScript condition that shows its
    content has rendered, one action, and the condition that shows the action's result."""
    link: str
    content: str
    act: callable
    result: str


def no_exception_box() -> str:
    return "document.querySelectorAll('[data-testid=\"stException\"]').length"


def text_shown(pattern: str) -> str:
    return f"() => /{pattern}/.test(document.body.innerText)"


def bayesian_network_visit() -> LabVisit:
    """The default question on the student network, then the collider network picked in the sidebar,
    whose verdict must be the one dgm_core gives."""
    x, y, z = suggested_query(load_example("collider"))
    word = "d-separated" if load_example("collider").active_trail(x, y, z) is None else "d-connected"

    def pick_collider(page):
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.keyboard.type("collider")
        page.keyboard.press("Enter")

    alert = "[...document.querySelectorAll('[data-testid=\"stAlert\"]')].some(a => {})"
    return LabVisit("Bayesian networks",
                    "() => " + alert.format("/Difficulty ⟂ Intelligence \\| Letter/.test(a.innerText)"),
                    pick_collider,
                    "() => " + alert.format(f"/{x[0]} ⟂ {y[0]} \\| {z[0]}/.test(a.innerText) && "
                                            f"a.innerText.includes('{word}')"))


def vae_visit() -> LabVisit:
    """The decoded picture drawn, then the first latent slider moved: the picture must change."""
    picture = "JSON.stringify(document.querySelector('.js-plotly-plot').data[0].z)"

    def move_slider(page):
        page.evaluate(f"() => {{ window.__before = {picture}; }}")
        # each press finds the slider and focuses it again: a page still finishing its first run re-drew the
        # slider after a single focus, and the keys went nowhere (one of five sessions, in one full run)
        slider = page.locator('[data-testid="stSlider"] input[type="range"]').first
        for _ in range(30):
            slider.press("ArrowRight")

    return LabVisit("VAE", "() => !!document.querySelector('.js-plotly-plot')?.data", move_slider,
                    f"() => window.__before !== undefined && {picture} !== window.__before")


def gan_visit() -> LabVisit:
    """The live panel at step 0, then Step: the step counter must reach the steps per refresh (20)."""
    metric = ("[...document.querySelectorAll('[data-testid=\"stMetric\"]')]"
              ".some(m => m.innerText.includes('step (generator updates)') && /\\n{}$/.test(m.innerText.trim()))")
    return LabVisit("GANs", "() => " + metric.format("0"),
                    lambda page: page.get_by_role("button", name="Step", exact=True).click(),
                    "() => " + metric.format("20"))


@dataclass
class BrowserSession:
    """A tab that goes home -> lab -> action -> result; `poll` advances it without blocking."""
    page: object
    visit: LabVisit
    stage: str = "home"
    started: float = field(default_factory=time.perf_counter)
    to_content: float | None = None
    to_result: float | None = None
    acted: float = 0.0
    errors: list[str] = field(default_factory=list)

    def poll(self) -> None:
        page, visit = self.page, self.visit
        if page.evaluate(f"() => {no_exception_box()}") or page.evaluate(text_shown("Traceback \\(most recent")):
            self.errors.append(f"{visit.link}: an exception is shown at stage {self.stage}")
            self.stage = "done"
        elif self.stage == "home" and page.get_by_role("link", name=re.compile(visit.link)).count():
            page.get_by_role("link", name=re.compile(visit.link)).first.click()
            self.stage = "lab"
        elif self.stage == "lab" and page.evaluate(visit.content):
            self.to_content = time.perf_counter() - self.started
            visit.act(page)
            self.acted, self.stage = time.perf_counter(), "action"
        elif self.stage == "action" and page.evaluate(visit.result):
            self.to_result = time.perf_counter() - self.acted
            self.stage = "done"


def test_app_under_five_browser_sessions(browser, streamlit_url):
    visits = [bayesian_network_visit, vae_visit, gan_visit, bayesian_network_visit, vae_visit]
    sessions = []
    for make in visits:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        session = BrowserSession(page, make())
        page.on("pageerror", lambda exc, s=session: s.errors.append(f"page error: {exc}"))
        page.goto(streamlit_url, wait_until="commit")
        sessions.append(session)
    wall = time.perf_counter()
    for _ in range(POLL_ROUNDS):               # round-robin polling, ~0.1 s a round: a guard against a hang only
        pending = [s for s in sessions if s.stage != "done"]
        if not pending:
            break
        for session in pending:
            session.poll()
        time.sleep(0.1)
    wall = time.perf_counter() - wall

    lines = [f"Streamlit app: {len(sessions)} browser sessions at once, {wall:.1f} s wall "
             "(content: from opening the home page until the lab has rendered; action: until its result shows)",
             "| session | lab | content s | action s | errors |", "|---|---|---:|---:|---:|"]
    for i, s in enumerate(sessions, 1):
        shown = [f"{t:.2f}" if t is not None else f"not reached ({s.stage})" for t in (s.to_content, s.to_result)]
        lines.append(f"| {i} | {s.visit.link} | {shown[0]} | {shown[1]} | {len(s.errors)} |")
    content = [s.to_content for s in sessions if s.to_content is not None]
    action = [s.to_result for s in sessions if s.to_result is not None]
    lines.append(f"| p50 / p95 | | {' / '.join(percentiles(content))} | {' / '.join(percentiles(action))} | "
                 f"{sum(len(s.errors) for s in sessions)} |")
    print("\n" + "\n".join(lines))
    for s in sessions:
        s.page.close()

    assert [s.errors for s in sessions] == [[] for _ in sessions]
    assert [s.stage for s in sessions] == ["done"] * len(sessions)
    assert all(s.to_result is not None for s in sessions)
