"""The Space's controller for live 2-D training: the data inputs (a toy distribution, a CSV file of
points, or a drawing) and the stream that trains a dgm_core.live.LiveSession and yields what to
draw. Any lab whose models follow dgm_core.live's protocol builds its tab from these."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr
import numpy as np

from dgm_core.data import TOY_DISTRIBUTIONS, DatasetError
from dgm_core.data.points import MAX_POINTS, describe, points_from_drawing, read_points_csv
from dgm_core.live import LIVE_TRAIN_SECONDS, LiveSession, divergence_message
from space.inputs import whole

OWN_POINTS = "your own points (CSV)"
DRAWING = "your drawing (below)"
DATA_CHOICES = [*TOY_DISTRIBUTIONS, OWN_POINTS, DRAWING]
MAX_LIVE_STEPS = 5000
REFRESH_SECONDS = 1.0   # the live stream's updates come at most this often: see stream


def data_inputs(default: str = "8gaussians"):
    """The data dropdown, a CSV upload and a sketchpad (what the last two are for is in their labels)."""
    dataset = gr.Dropdown(DATA_CHOICES, value=default, label="data")
    with gr.Accordion("Your own data: a CSV file of points, or draw them", open=False):
        points_file = gr.File(label=f"CSV of points: two columns x, y (a header row is optional), at most "
                                    f"{MAX_POINTS:,} rows; choose '{OWN_POINTS}' above", file_types=[".csv", ".txt"],
                              type="filepath")
        drawing = gr.Sketchpad(label="Draw points: pick the brush, draw; every inked pixel is a point",
                               type="numpy", image_mode="RGBA", height=320)
    return dataset, points_file, drawing


def resolve_data(dataset, points_file, drawing):
    """The data a live session trains on: a toy's name, or the student's points (OwnPoints). Bad
    files and empty drawings are refused with the message of dgm_core.data.points."""
    if dataset in TOY_DISTRIBUTIONS:
        return dataset
    try:
        if dataset == OWN_POINTS:
            if points_file is None:
                raise gr.Error(f"'{OWN_POINTS}' is chosen but no file is uploaded: add a CSV file of x, y points "
                               "in 'Your own data', or choose a toy distribution.")
            data, name = _file_bytes(points_file)
            return read_points_csv(data, name)
        if dataset == DRAWING:
            return points_from_drawing(_ink(drawing), "your drawing")
    except DatasetError as exc:
        raise gr.Error(f"This data cannot be used: {exc}") from None
    raise gr.Error(f"Unknown data {dataset!r}: choose one of {', '.join(DATA_CHOICES)}.")


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


# Pause and restart, by session: the Pause button's handler (and Train's, before its stream starts)
# records when this browser session asked to stop; a stream that started before that moment ends at
# its next refresh, leaving its last figures on screen. (Gradio's `cancels` stops the stream too, but
# then marks every output "Error" and blanks the figures; and a second Train click used to wait,
# unseen, behind the running stream.)
_stop_asked_at: dict[str, float] = {}
_stop_lock = threading.Lock()


def request_pause(request: gr.Request) -> None:
    with _stop_lock:
        _stop_asked_at[request.session_hash] = time.monotonic()


def _stop_asked(key: str | None, started: float) -> bool:
    with _stop_lock:
        return _stop_asked_at.get(key, float("-inf")) > started


def stream(create: Callable[[], LiveSession], steps, steps_per_refresh,
           outputs: Callable[[LiveSession, int], tuple], request: gr.Request | None = None) -> Iterator[tuple]:
    """Train a fresh session (`create()`) for `steps` steps, yielding `outputs(session, steps)` after every
    refresh, until done or until this browser session presses Pause (`request_pause`). The step
    boxes are checked before anything is built.

    A refresh trains for at most LIVE_TRAIN_SECONDS and comes at most every REFRESH_SECONDS: the
    browser redraws its charts on every update, and faster updates queued up in it until it froze
    (a Pause click took 40 s to land in Chromium). The wait between updates also frees the core
    for the other students of the Space, and lets its server answer a Pause at once."""
    steps = whole(steps, "steps", 1, MAX_LIVE_STEPS)
    per_refresh = whole(steps_per_refresh, "steps per refresh", 1, 500)
    key = request.session_hash if request is not None else None
    run_started = time.monotonic()                # a Pause pressed before this run does not stop it
    session = create()
    while session.steps < steps and not session.all_diverged:
        started = time.monotonic()
        session.advance(min(per_refresh, steps - session.steps), seconds=LIVE_TRAIN_SECONDS)
        yield outputs(session, steps)
        while time.monotonic() - started < REFRESH_SECONDS and not _stop_asked(key, run_started):
            time.sleep(0.05)
        if _stop_asked(key, run_started):
            return


def status(session: LiveSession, steps: int, settings: str) -> str:
    frozen = "".join(f"\n\n**{name} diverged at step {step}**: "
                     f"{divergence_message(session.models[name]).replace('press Reset', 'train again')}"
                     for name, step in session.diverged.items())
    return (f"step **{session.steps:,}** of {steps:,} ({session.step_unit}) · "
            f"**{session.steps_per_second:.0f}** steps/s{frozen}\n\nTraining with {settings}")
