"""The Space's controller for live 2-D training: the data inputs (a toy distribution, a CSV file of
points, or a drawing) and the stream that trains a dgm_core.live.LiveSession and yields what to
draw. Any lab whose models follow dgm_core.live's protocol builds its tab from these."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr
import numpy as np

from dgm_core.data import TOY_DISTRIBUTIONS, DatasetError
from dgm_core.data.points import MAX_FILE_BYTES, MAX_POINTS, describe, points_from_drawing, read_points_csv
from dgm_core.live import REFRESH_SECONDS, LiveSession, LiveSnapshot, RateMeter
from space.inputs import keeps_figures, readable_errors, whole

OWN_POINTS = "your own points (CSV)"
DRAWING = "your drawing (below)"
DATA_CHOICES = [*TOY_DISTRIBUTIONS, OWN_POINTS, DRAWING]
#: The Space's server refuses any upload larger than this while it arrives (launch(max_file_size=...)), not
#: after: the largest file a tab reads is a CSV of points (dgm_core.data.points.MAX_FILE_BYTES).
MAX_UPLOAD_BYTES = MAX_FILE_BYTES
MAX_LIVE_STEPS = 5000
PER_REFRESH_RANGE = (1, 500)
#: A refresh of the Space's stream trains for at most this long, then draws and waits for the rest of
#: REFRESH_SECONDS: the Space's two cores are shared by a class, so one student's run takes a third of one.
LIVE_TRAIN_SECONDS = 0.3


def data_inputs(default: str = "8gaussians"):
    """The data dropdown, a CSV upload and a sketchpad (what the last two are for is in their labels)."""
    dataset = gr.Dropdown(DATA_CHOICES, value=default, label="data")
    with gr.Accordion("Your own data: a CSV file of points, or draw them", open=False):
        points_file = gr.File(label=f"CSV of points: two columns x, y (a header row is optional), at most "
                                    f"{MAX_POINTS:,} rows and {MAX_UPLOAD_BYTES / 1e6:g} MB (larger uploads are refused "
                                    f"as they arrive); choose '{OWN_POINTS}' above", file_types=[".csv", ".txt"],
                              type="filepath")
        drawing = gr.Sketchpad(label=f"Draw points: pick the brush, draw; every inked pixel is a point (the drawing is "
                                     f"sent as an image, at most {MAX_UPLOAD_BYTES / 1e6:g} MB)",
                               type="numpy", image_mode="RGBA", height=320)
    return dataset, points_file, drawing


def step_boxes(steps: int, steps_per_refresh: int):
    """The 'steps' and 'steps per refresh' boxes of a live tab, placed where it is called (the row of its data)."""
    low, high = PER_REFRESH_RANGE
    return (gr.Number(steps, precision=0, label=f"steps (1–{MAX_LIVE_STEPS:,})"),
            gr.Number(steps_per_refresh, precision=0, label=f"steps per refresh ({low}–{high}; one refresh a second)"))


def resolve_data(dataset, points_file, drawing):
    """The data a live session trains on: a toy's name, or the student's points (OwnPoints). Bad
    files and empty drawings are refused with the message of dgm_core.data.points."""
    if dataset in TOY_DISTRIBUTIONS:
        return dataset
    try:
        if dataset == OWN_POINTS:
            if points_file is None:
                raise gr.Error(f"data: '{OWN_POINTS}' is chosen but no file is uploaded: add a CSV file of x, y points "
                               "in 'Your own data', or choose a toy distribution.")
            data, name = _file_bytes(points_file)
            return read_points_csv(data, name)
        if dataset == DRAWING:
            return points_from_drawing(_ink(drawing), "your drawing")
    except DatasetError as exc:
        raise gr.Error(f"This data cannot be used: {exc}") from None
    raise gr.Error(f"data: {str(dataset)[:40]!r} is not a choice; choose one of {', '.join(DATA_CHOICES)}.")


def _file_bytes(points_file) -> tuple[bytes, str]:
    if isinstance(points_file, bytes):
        return points_file, "the uploaded file"
    path = Path(getattr(points_file, "name", points_file))
    return path.read_bytes(), path.name


def _ink(drawing) -> np.ndarray:
    """The inked pixels of a sketchpad's composite image: opaque and dark (the background is white
    or transparent, the brush black)."""
    image = drawing.get("composite") if isinstance(drawing, dict) else drawing
    if image is None:
        return np.zeros((0, 0), dtype=bool)
    image = np.asarray(image)
    if image.ndim == 2:
        return image < 128
    rgb = image[..., :3].astype(float).mean(-1)
    alpha = image[..., 3] if image.shape[-1] == 4 else np.full(rgb.shape, 255)
    return (alpha > 0) & (rgb < 128)


def data_caption(data) -> str:
    return "" if isinstance(data, str) else f"\n\nTraining data: {describe(data)}."


# Pause, by session: the Pause button's handler (and every live button's, before its stream starts)
# records when this browser session asked to stop; a stream that started before that moment ends at
# its next step, leaving its last figures on screen. (Gradio's `cancels` stops the stream too, but
# then marks every output "Error" and blanks the figures; and a second click used to wait, unseen,
# behind the running stream.)
_stop_asked_at: dict[str, float] = {}
_stop_lock = threading.Lock()


def request_pause(request: gr.Request) -> None:
    with _stop_lock:
        _stop_asked_at[request.session_hash] = time.monotonic()


def _stop_asked(key: str | None, started: float) -> bool:
    with _stop_lock:
        return _stop_asked_at.get(key, float("-inf")) > started


@dataclass
class SpaceRun:
    """One browser session's live run, kept in a gr.State between clicks so that Resume and Step go on
    from where Pause left it: the session, the settings it was built with (the "Training with" line)
    and the tab's `draw(snapshot, until) -> outputs`."""
    session: LiveSession
    settings: str
    draw: Callable[[LiveSnapshot, int], tuple]
    version: int = 0


def stream(run: SpaceRun, until: int, steps_per_refresh, request: gr.Request | None = None,
           step_of: int | None = None) -> Iterator[tuple]:
    """Train `run` up to step `until`, yielding (*run.draw(snapshot, until), run) after every refresh, until
    done or until this browser session presses Pause (`request_pause`).

    A refresh trains for at most LIVE_TRAIN_SECONDS and at most `steps_per_refresh` steps, and comes at
    most every REFRESH_SECONDS: the browser redraws its charts on every update (faster updates queued up
    in it until a Pause click took 40 s to land), and the wait frees the core for the other students of
    the Space. Steps per second are counted over wall-clock (dgm_core.live.RateMeter). `step_of`: this
    stream is a Step of that many steps (the status says so, not "of `until`")."""
    per_refresh = whole(steps_per_refresh, "steps per refresh", *PER_REFRESH_RANGE)
    key = request.session_hash if request is not None else None
    run_started = time.monotonic()                # a Pause pressed before this run does not stop it
    session, meter = run.session, RateMeter()
    meter.restart(session.steps)

    def stop() -> bool:
        return _stop_asked(key, run_started)

    while True:
        started = time.monotonic()
        session.advance(min(per_refresh, until - session.steps), seconds=LIVE_TRAIN_SECONDS, stop=stop)
        run.version += 1
        finished = session.steps >= until or session.all_diverged or stop()
        state = "paused" if finished else "stepping" if step_of else "running"
        snapshot = session.snapshot(run.version, meter.rate(), state, settings=run.settings)
        if step_of and finished and session.steps >= until:
            snapshot = replace(snapshot, note=f"a Step of {step_of:,} done")
        yield (*run.draw(snapshot, None if step_of else until), run)
        if finished:
            return
        while time.monotonic() - started < REFRESH_SECONDS and not stop():
            time.sleep(0.05)
        meter.record(session.steps)               # a refresh (its steps and its wait) has ended


def start(build: Callable[[], SpaceRun], steps, steps_per_refresh, request: gr.Request | None = None) -> Iterator[tuple]:
    """Train a fresh run (`build()`, which checks the tab's own boxes) for `steps` steps; the step boxes
    are checked before anything is built."""
    until = whole(steps, "steps", 1, MAX_LIVE_STEPS)
    whole(steps_per_refresh, "steps per refresh", *PER_REFRESH_RANGE)
    yield from stream(build(), until, steps_per_refresh, request)


@readable_errors
def resume(run: SpaceRun | None, steps, steps_per_refresh, request: gr.Request = None) -> Iterator[tuple]:
    """Go on from where Pause left the run, up to step `steps`."""
    until = whole(steps, "steps", 1, MAX_LIVE_STEPS)
    whole(steps_per_refresh, "steps per refresh", *PER_REFRESH_RANGE)
    if run is None:
        raise gr.Error("There is nothing to resume yet: press the Train button first.")
    if run.session.all_diverged:
        raise gr.Error("Every model of this run diverged: change the settings and train again.")
    if run.session.steps >= until:
        raise gr.Error(f"steps: the run is at step {run.session.steps:,}, already past the {until:,} this box asks "
                       f"for; raise it above {run.session.steps:,} to train further, then press Resume.")
    yield from stream(run, until, steps_per_refresh, request)


@readable_errors
def step(run: SpaceRun | None, steps_per_refresh, request: gr.Request = None) -> Iterator[tuple]:
    """One refresh's worth of steps (the 'steps per refresh' box) more, then stop."""
    per_refresh = whole(steps_per_refresh, "steps per refresh", *PER_REFRESH_RANGE)
    if run is None:
        raise gr.Error("There is nothing to step yet: press the Train button first.")
    if run.session.all_diverged:
        raise gr.Error("Every model of this run diverged: change the settings and train again.")
    until = min(run.session.steps + per_refresh, MAX_LIVE_STEPS)
    if until <= run.session.steps:
        raise gr.Error(f"The run is at step {run.session.steps:,}, the most a live run takes here.")
    yield from stream(run, until, per_refresh, request, step_of=until - run.session.steps)


@dataclass
class Buttons:
    train: gr.Button
    pause: gr.Button
    resume: gr.Button
    step: gr.Button
    state: gr.State


def buttons(train_label: str) -> Buttons:
    """The live buttons of a tab, in one row that never changes: Train (a fresh run), Pause, Resume, Step.
    The run they act on is kept per browser session in a gr.State."""
    with gr.Row():
        row = [gr.Button(train_label, variant="primary"), gr.Button("Pause"), gr.Button("Resume"),
               gr.Button("Step")]
    return Buttons(*row, state=gr.State(None, time_to_live=3600))


def wire(lab: str, controls: Buttons, train, train_inputs: list, steps, per_refresh, outputs: list,
         status_at: int) -> None:
    """The buttons' events. `train(*train_inputs)` is the tab's generator of stream updates for a fresh
    run. Every stream of a lab shares one queue slot (concurrency_id), so one student's stream holds at
    most one core. A click on any button first ends this browser's running stream, and "always_last"
    then runs it (Gradio's default, "once", dropped a click made during a run while the pause still
    stopped it: the run froze). Wrong input keeps the figures and says why in the status."""
    kept = keeps_figures(outputs=len(outputs) + 1, message_at=status_at)
    shared = dict(concurrency_limit=1, concurrency_id=f"{lab}_live", trigger_mode="always_last")
    for button in (controls.train, controls.pause, controls.resume, controls.step):
        if button is controls.pause:
            button.click(request_pause, None, None, queue=False, api_name=f"{lab}_pause")
        else:
            button.click(request_pause, None, None, queue=False, api_visibility="private")
    state = controls.state
    controls.train.click(kept(train), train_inputs, [*outputs, state], api_name=f"{lab}_live", **shared)
    controls.resume.click(kept(resume), [state, steps, per_refresh], [*outputs, state], api_name=f"{lab}_resume",
                          **shared)
    controls.step.click(kept(step), [state, per_refresh], [*outputs, state], api_name=f"{lab}_step", **shared)


def status(snapshot: LiveSnapshot, until: int | None) -> str:
    """The line under a live tab's figures: the step (of `until`, the 'steps' box, for Train and Resume;
    None for a Step), whether it trains, is paused or is done, and the rate over wall-clock."""
    frozen = "".join(f"\n\n**{name} diverged at step {at_step}**: "
                     f"{snapshot.divergence_notes[name].replace('press Reset', 'train again')}"
                     for name, at_step in snapshot.diverged.items())
    rate = snapshot.steps_per_second
    measured = "–" if rate is None else f"**{rate:.0f}** steps/s"
    if snapshot.state == "paused":
        reached = until is not None and snapshot.steps >= until
        stopped = snapshot.note or ("done" if reached or snapshot.diverged else "paused")
        speed = stopped + ("" if rate is None else f" (it trained at {measured} over its last seconds)")
    else:
        speed = ("a Step: " if snapshot.state == "stepping" else "") + measured
    of = f" of {until:,}" if until is not None else ""
    return (f"step **{snapshot.steps:,}**{of} ({snapshot.step_unit}) · {speed}{frozen}\n\n"
            f"Training with {snapshot.settings}")
