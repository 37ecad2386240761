"""The pages' controller for live 2-D training (not a page: labs/registry.py does not list it).

Any lab whose models follow dgm_core.live's protocol calls `data_choice` for its data and
`live_training` for the rest: run / pause / step / reset, the steps-per-refresh slider, the step
counter and steps per second, and a fragment that trains for a bounded time per refresh and then
calls the lab's `draw(session)`.

State, all under the lab's `prefix` in st.session_state: `{prefix}_live` (the LiveSession),
`{prefix}_live_configs` (the settings it was built with), `{prefix}_running`, `{prefix}_pending`
(a copy of the session's count of steps still to do after Step clicks; the LiveSession holds the count,
so that overlapping refreshes take each requested step once). The buttons act in callbacks. Settings
changed in the widgets apply on Reset only (at once while nothing has trained), and the caption always
says which settings are training.
"""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dgm_core.data import TOY_DISTRIBUTIONS, DatasetError
from dgm_core.data.points import MAX_POINTS, describe, read_points_csv
from dgm_core.live import LiveSession, divergence_message

REFRESH_SECONDS = 1.0      # a refresh (training, drawing, the browser redrawing its charts) must end well inside it:
#                            with 0.5 s, refreshes queued up and Pause took 4-5 s in Chromium (1.0 s: 0.5 s)
TRAIN_SECONDS = 0.3        # training per refresh: with the drawing (server and browser) it must end inside REFRESH_SECONDS
OWN_POINTS = "your own points (CSV)"
MAX_UPLOAD_MB = 1


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
                              f"{MAX_POINTS:,} rows", type=["csv", "txt"], key=f"{prefix}_points_file",
                              max_upload_size=MAX_UPLOAD_MB)
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


def live_training(prefix: str, configs, create: Callable[[object], LiveSession], describe_settings: Callable[[object], str],
                  draw: Callable[[LiveSession], None], titles: dict[str, str], steps_per_refresh: int = 20) -> None:
    """The controls and the refreshing panel of one lab's live session. `configs` are the settings
    the widgets show now (None: not usable yet, keep the session as it is); `create(configs)`
    builds a fresh session; `draw(session)` draws it inside the refreshing fragment; `steps_per_refresh`
    is the slider's starting value (a small model affords more steps in a refresh than three)."""
    ss = st.session_state
    live, in_force_key, running_key, pending_key = (f"{prefix}_live", f"{prefix}_live_configs",
                                                    f"{prefix}_running", f"{prefix}_pending")
    steps_key = f"{prefix}_steps_per_refresh"

    reset_asked = f"{prefix}_reset_asked"

    def rebuild() -> None:
        asked = ss[live].pending if live in ss else 0     # a Step clicked with the new settings still counts
        ss[live], ss[in_force_key] = create(configs), configs
        ss[live].request(asked)

    def reset() -> None:
        rebuild()
        ss[running_key], ss[pending_key] = False, 0

    # The buttons act in callbacks, which Streamlit runs exactly once per click before the rerun. Acting
    # on `if st.button(...)` in the script body counted a click twice when a refresh interrupted the
    # rerun it started (eight quick Step clicks of 100 trained 1,203 steps in Chromium).
    def toggle_run() -> None:
        ss[running_key], ss[pending_key] = not ss[running_key], 0
        ss[live].cancel_requests()

    def add_steps() -> None:
        ss[live].request(ss[steps_key])
        ss[pending_key] = ss[live].pending

    def ask_reset() -> None:
        ss[reset_asked] = True     # acted on below, with the settings the widgets hold in this run

    if live not in ss:
        if configs is None:
            st.info("Choose the data to train on.")
            return
        reset()
    if ss.pop(reset_asked, False) and configs is not None:
        reset()
    changed = configs is not None and configs != ss[in_force_key]
    if changed and ss[live].steps == 0:
        # Nothing trained yet, so nothing to lose: the new settings apply at once (a value typed
        # without Enter and then a click on Run trains with that value, instead of greying Run out).
        rebuild()
        changed = False
    b1, b2, b3, b4 = st.columns([1, 1, 1, 2])
    running = ss[running_key]
    b1.button("⏸ Pause" if running else "▶ Run", key=f"{prefix}_run", disabled=changed and not running,
              on_click=toggle_run)
    b2.button("Step", key=f"{prefix}_step", disabled=running or changed, on_click=add_steps,
              help="Train as many steps as the 'steps per refresh' slider says, then stop.")
    b3.button("↺ Reset", key=f"{prefix}_reset", type="primary" if changed else "secondary",
              disabled=configs is None, on_click=ask_reset)
    b4.slider("steps per refresh (at most)", 1, 200, steps_per_refresh, key=steps_key,
              help=f"Each refresh (every {REFRESH_SECONDS:g} s) trains for at most {TRAIN_SECONDS:.2f} s, then draws: "
                   "with many steps per refresh the models take as many as fit, and Step finishes over several refreshes.")
    st.caption("**Training with** " + describe_settings(ss[in_force_key]) +
               (" · the widgets' new values apply on **Reset**." if changed else ""))
    if changed:
        st.info("Settings changed: press **Reset** to start the models again with them.")

    busy = ss[running_key] or ss.get(pending_key, 0) > 0

    @st.fragment(run_every=REFRESH_SECONDS if busy else None)
    def live_panel():
        session: LiveSession = ss[live]
        per_refresh = ss[steps_key]
        if ss[running_key]:
            session.advance(per_refresh, seconds=TRAIN_SECONDS)
        elif session.pending:
            session.advance_requested(per_refresh, seconds=TRAIN_SECONDS)
        ss[pending_key] = session.pending     # the session holds the count; this copy drives the refresh timer
        if session.all_diverged:
            ss[running_key], ss[pending_key] = False, 0
            session.cancel_requests()
        if not (ss[running_key] or ss[pending_key]) and busy:
            st.rerun()        # the work is done: redraw the buttons and stop the refresh timer
        for name, step in session.diverged.items():
            st.error(f"{titles.get(name, name)} diverged at step {step}: {divergence_message(session.models[name])}")
        left, right = st.columns(2)
        left.metric(f"step ({session.step_unit})", f"{session.steps:,}")
        right.metric(f"steps per second (the {len(session.models)} together)" if len(session.models) > 1
                     else "steps per second", f"{session.steps_per_second:.0f}" if session.steps_per_second else "–",
                     help=f"The speed while training. A refresh comes every {REFRESH_SECONDS:g} s and trains at most the "
                          f"slider's steps for at most {TRAIN_SECONDS:g} s, so the step counter climbs by at most the "
                          "slider's value each second.")
        draw(session)

    live_panel()
