"""The pages' controller for live 2-D training (not a page: dgm_core.lab_records.LABS does not list it).

Any lab whose models follow dgm_core.live's protocol calls `data_choice` for its data and
`live_training` for the rest. Training never happens in a Streamlit rerun: each browser session has a
`dgm_core.live.LiveRunner` (a thread that trains on its own), and a fragment redraws the runner's
latest snapshot once every REFRESH_SECONDS while it trains. So a slow redraw, a click made during
one, or a rerun Streamlit interrupts neither stalls nor doubles the training.

The controls — Run, Pause, Step, Reset and the steps-per-refresh slider — sit in the fragment, in
fixed places: each is its own button (Run and Pause never share a place, so a second click on Pause
cannot land on Run), acts in its callback at once, and reruns only the fragment. The step counter,
the steps per second and every panel come from one snapshot.

State, under the lab's `prefix` in st.session_state: `{prefix}_runner` (the LiveRunner, which holds
the session and the settings it was built with). Settings changed in the widgets apply on Reset
(at once while nothing has trained), and the caption always says which settings are training.
Leaving the page pauses its run (the router calls `leave_other_pages`); a run whose page stopped
drawing for dgm_core.live.LEASE_SECONDS pauses itself.
"""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dgm_core.data import TOY_DISTRIBUTIONS, DatasetError
from dgm_core.data.points import MAX_POINTS, describe, read_points_csv
from dgm_core.live import (
    RATE_WINDOW_SECONDS,
    REFRESH_SECONDS,
    LiveRunner,
    LiveSession,
    LiveSnapshot,
)

OWN_POINTS = "your own points (CSV)"
MAX_UPLOAD_MB = 1
_RUNNERS = "_live_runners"          # {prefix: (page url path, LiveRunner)} of this browser session
_PAGE = "_live_page"                # the page the router is showing


@st.cache_data(show_spinner=False, max_entries=8)
def _read_points(data: bytes, name: str):
    return read_points_csv(data, name)


def data_choice(prefix: str, column=None):
    """The data select box: a toy distribution's name, or a student's own points from a CSV file
    (a dgm_core.data.points.OwnPoints). Returns None while no usable file is given; a bad file is
    refused with its message, and the points trained on so far are kept."""
    column = column or st
    choice = column.selectbox("Data", [*TOY_DISTRIBUTIONS, OWN_POINTS], key=f"{prefix}_dataset", bind="query-params")
    if choice != OWN_POINTS:
        return choice
    upload = st.file_uploader(f"A CSV file of points: two columns x, y (a header row is optional), at most "
                              f"{MAX_POINTS:,} rows and {MAX_UPLOAD_MB} MB", type=["csv", "txt"],
                              key=f"{prefix}_points_file", max_upload_size=MAX_UPLOAD_MB)
    if upload is None:
        st.info("Upload a CSV file of 2-D points (one point per row, x and y) to train on your own data; "
                "until then the models keep training on the data they have.")
        return None
    try:
        points = _read_points(upload.getvalue(), upload.name)
    except DatasetError as exc:
        st.error(f"This file cannot be used: {exc}")
        return None
    st.caption(f"Training data: {describe(points)}.")
    return points


def leave_other_pages(page: str) -> None:
    """The router, on every full run: pause the runs of the pages not shown, so leaving a lab never
    leaves a thread training for nobody (coming back shows where it paused)."""
    ss = st.session_state
    ss[_PAGE] = page
    for owner, runner in ss.get(_RUNNERS, {}).values():
        if owner != page and runner.busy:
            runner.pause(note="Paused at step {steps} when you left the page. Press Run to go on.")


def live_training(prefix: str, configs, create: Callable[[object], LiveSession], describe_settings: Callable[[object], str],
                  draw: Callable[[LiveSnapshot], None], titles: dict[str, str], steps_per_refresh: int = 20,
                  controls=None) -> None:
    """The controls and the refreshing panel of one lab's live session. `configs` are the settings
    the widgets show now (None: not usable yet, keep the session as it is); `create(configs)`
    builds a fresh session; `draw(snapshot)` draws one dgm_core.live.LiveSnapshot inside the
    refreshing fragment; `steps_per_refresh` is the slider's starting value. `controls`: a container
    the page made above its settings, where the buttons go, so that a message appearing under a
    settings box (labs/inputs.number) never moves them."""
    controls = controls if controls is not None else st.container()
    ss = st.session_state
    runner_key, reset_key, speed_key = f"{prefix}_runner", f"{prefix}_reset_asked", f"{prefix}_steps_per_refresh"
    if runner_key not in ss:
        if configs is None:
            controls.info("Choose the data to train on.")
            return
        ss[runner_key] = LiveRunner(create(configs), configs, ss.get(speed_key, steps_per_refresh))
        ss.setdefault(_RUNNERS, {})[prefix] = (ss.get(_PAGE, ""), ss[runner_key])
    runner: LiveRunner = ss[runner_key]
    if ss.pop(reset_key, False) and configs is not None:
        runner.replace(create(configs), configs)
    runner.set_steps_per_refresh(ss.get(speed_key, runner.steps_per_refresh))
    if configs is not None and configs != runner.settings and runner.session.steps == 0 and not runner.busy:
        # Nothing trained yet, so nothing to lose: the new settings apply at once (a value typed
        # without Enter and then a click on Run trains with that value).
        runner.replace(create(configs), configs)

    # The callbacks act on the runner at once, before the fragment redraws. Reset only leaves a flag:
    # a click on Reset right after typing a value reruns the whole page with the new value, and its
    # callback (registered in the run before) would otherwise build the old settings.
    def ask_reset() -> None:
        ss[reset_key] = True

    def step() -> None:
        runner.step(ss[speed_key])

    def speed() -> None:
        runner.set_steps_per_refresh(ss[speed_key])

    # The controls sit outside the refreshing fragment, in fixed places: they are drawn once per click, not
    # at every refresh (a busy browser took a click on a button being redrawn late), and each click reruns
    # the page once, which also starts or stops the fragment's refresh timer.
    changed = configs is not None and configs != runner.settings
    busy, frozen = runner.busy, runner.session.all_diverged
    b1, b2, b3, b4, b5 = controls.columns([1, 1, 1, 1, 3], vertical_alignment="bottom")
    b1.button("▶ Run", key=f"{prefix}_run", disabled=busy or changed or frozen, on_click=runner.run,
              help="Train until Pause.", width="stretch")
    b2.button("⏸ Pause", key=f"{prefix}_pause", disabled=not busy, on_click=runner.pause,
              help="Stop before the next step.", width="stretch")
    b3.button("Step", key=f"{prefix}_step", disabled=busy or changed or frozen, on_click=step,
              help="Train as many steps as the slider says (one second's worth), then stop.", width="stretch")
    b4.button("↺ Reset", key=f"{prefix}_reset", type="primary" if changed else "secondary",
              disabled=configs is None, on_click=ask_reset, width="stretch",
              help="Start again from step 0 with the settings the widgets show.")
    b5.slider("steps per second (at most)", 1, 200, runner.steps_per_refresh, key=speed_key, on_change=speed,
              help=f"Training takes at most this many steps each second (fewer if they take longer); the panels "
                   f"redraw every {REFRESH_SECONDS:g} s. Step trains this many.")
    controls.caption("**Training with** " + describe_settings(runner.settings) +
                     (" · the widgets' new values apply on **Reset**." if changed else ""))
    if changed:
        controls.info("Settings changed: press **Reset** to start the models again with them (Run goes on "
                      "with the settings above only once they are back to what is training).")

    @st.fragment(run_every=REFRESH_SECONDS if busy else None)
    def live_panel():
        runner.seen()
        snapshot = runner.snapshot
        if snapshot.note:
            (st.error if snapshot.failed else st.info)(snapshot.note)
        for name, at_step in snapshot.diverged.items():
            st.error(f"{titles.get(name, name)} diverged at step {at_step}: {snapshot.divergence_notes[name]}")
        left, right = st.columns(2)
        left.metric(f"step ({snapshot.step_unit})", f"{snapshot.steps:,}")
        together = f" (the {len(snapshot.views)} together)" if len(snapshot.views) > 1 else ""
        rate = snapshot.steps_per_second
        right.metric(f"steps per second{together}", "paused" if snapshot.state == "paused" else
                     ("–" if rate is None else f"{rate:.0f}"),
                     help=f"Steps counted over the last {RATE_WINDOW_SECONDS:g} s of wall-clock (drawing and waiting "
                          "included), so the step counter climbs by this much each second.")
        draw(snapshot)
        if runner.busy != busy:
            st.rerun(scope="app")     # it stopped (Step done, diverged, paused itself) or started: redraw the controls

    live_panel()
