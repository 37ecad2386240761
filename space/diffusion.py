"""The Space's diffusion tab: the same dgm_core.labs.diffusion calls and figures as labs/diffusion.py."""
from __future__ import annotations

import threading
from functools import lru_cache

import gradio as gr
import pandas as pd

from dgm_core import catalogue, diffusion
from dgm_core.compare import fd_sentence, measured
from dgm_core.data import TOY_DISTRIBUTIONS
from dgm_core.diffusion.image import SAMPLERS as DIGIT_SAMPLERS
from dgm_core.diffusion.toy import FIELD_TIMES, ToyDiffusion, ToyDiffusionConfig
from dgm_core.figures.diffusion import (
    KIND_COLOURS,
    add_paths,
    fd_against_calls_figure,
    forward_figure,
    live_curves_figure,
    quality_against_calls_figure,
    score_error_figure,
)
from dgm_core.figures.images import image_grid_figure
from dgm_core.figures.toy2d import live_panel_figure
from dgm_core.labs import diffusion as diffusion_lab
from space import live
from space.inputs import keeps_figures, readable_errors, real, says_why, whole
from space.inputs import loaded as _loaded


# ------------------------------------------------------------------------ the forward process
@readable_errors
def forward_process(dataset, kind, time, seed):
    if dataset not in TOY_DISTRIBUTIONS:
        raise gr.Error(f"data: choose one of {', '.join(TOY_DISTRIBUTIONS)}.")
    if kind not in diffusion_lab.FORWARD_KINDS:
        raise gr.Error(f"process: choose one of {', '.join(diffusion_lab.FORWARD_KINDS)}.")
    return _forward(dataset, kind, real(time, "time t", 0.0, 1.0), whole(seed, "seed", 0, 10_000))


@lru_cache(maxsize=128)
def _forward(dataset: str, kind: str, time: float, seed: int):
    report = diffusion_lab.forward_process(dataset, kind, time, seed)
    caption = report["sentence"] + (" Behind the points: the noised mixture's log density, in closed form."
                                    if report["density"] is not None else "")
    return forward_figure(report, f"{diffusion_lab.FORWARD_KINDS[kind]} at t = {time:.2f}"), caption


# ------------------------------------------------------------------------ live training
#: The time each browser session's panels show the learned field at (the slider under the panels), read at
#: every refresh of that session's stream, so moving it applies at once, as on the page.
_shown_time: dict[str, float] = {}
_shown_lock = threading.Lock()


def _time_of(key: str | None) -> float:
    with _shown_lock:
        return _shown_time.get(key, 0.0)


def _configs(data, hidden, lr, batch_size, sampler_steps, seed):
    r = diffusion_lab.LIVE_RANGES
    try:
        return diffusion_lab.live_configs(data, whole(hidden, "MLP width", *r["hidden"]),
                                          real(lr, "learning rate", *r["lr"]),
                                          whole(batch_size, "batch size", *r["batch_size"]),
                                          whole(sampler_steps, "sampler steps", *r["sampler_steps"]),
                                          whole(seed, "seed", *r["seed"]))
    except gr.Error:
        raise
    except ValueError as exc:
        raise gr.Error(str(exc)) from None


def _drawer(key: str | None, dataset, time: float | None = None):
    """The tab's outputs for a dgm_core.live.LiveSnapshot: four panels (the field at `time`, or at the time this
    browser session's slider shows), the curves, the paths' note and the status."""
    def draw(snapshot, until: int | None):
        shown_time = _time_of(key) if time is None else time
        panels = []
        for kind, view in snapshot.views.items():
            shown = diffusion_lab.panel_at(view, snapshot.details[kind], shown_time)
            fig = live_panel_figure(shown, snapshot.real, KIND_COLOURS[diffusion_lab.TITLES[kind]])
            panels.append(add_paths(fig, snapshot.details[kind]["paths"], f"paths ({snapshot.details[kind]['path_sampler']})"))
        floor = _floor(dataset) if isinstance(dataset, str) else None
        return (*panels, live_curves_figure(snapshot.histories, snapshot.metrics, diffusion_lab.TITLES, floor),
                diffusion_lab.path_caption(snapshot.details), live.status(snapshot, until))
    return draw


@lru_cache(maxsize=8)
def _floor(dataset: str) -> float:
    return diffusion.measures.data_floor(ToyDiffusion(ToyDiffusionConfig(dataset=dataset)))[0]


def _run(data, configs, key: str | None) -> live.SpaceRun:
    return live.SpaceRun(diffusion.toy.live_session(configs),
                         diffusion_lab.describe_settings(configs) + live.data_caption(data), _drawer(key, data))


@readable_errors
def live_training(dataset, steps, steps_per_refresh, hidden, lr, batch_size, sampler_steps, seed, points_file=None,
                  drawing=None, request: gr.Request = None):
    """Train the four models together from scratch on the chosen data, yielding the panels after every refresh."""
    def build():
        data = live.resolve_data(dataset, points_file, drawing)
        return _run(data, _configs(data, hidden, lr, batch_size, sampler_steps, seed),
                    request.session_hash if request is not None else None)

    yield from live.start(build, steps, steps_per_refresh, request)


@readable_errors
def show_time(time, run, request: gr.Request = None):
    """The panels redrawn at the chosen time, and the status; a stream in progress draws at it from its next
    refresh on."""
    time = diffusion_lab.nearest_time(real(time, "time of the arrows", 0.0, 1.0))
    with _shown_lock:
        _shown_time[request.session_hash if request is not None else None] = time
    if run is None:
        first = _first_picture(time)
        return (*first[:4], first[-1])
    drawn = run.draw(run.session.snapshot(settings=run.settings), None)
    return (*drawn[:4], drawn[-1])


LIVE_DEFAULTS = dict(dataset="8gaussians", steps=2000, steps_per_refresh=100)


@lru_cache(maxsize=len(FIELD_TIMES))
def _first_picture(time: float = 0.0):
    """What the live tab shows before any click: the four models at step 0 with the default settings."""
    data = LIVE_DEFAULTS["dataset"]
    configs = diffusion_lab.live_configs(data, **diffusion_lab.LIVE_DEFAULTS)
    snapshot = diffusion.toy.live_session(configs).snapshot(settings=diffusion_lab.describe_settings(configs))
    return _drawer(None, data, time)(snapshot, LIVE_DEFAULTS["steps"])


# ------------------------------------------------------------------------ samplers against steps
def _waiting(what: str):
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(text=f"{what}: press 'Measure every sampler now' once the live models have trained",
                       xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, font=dict(size=13, color="#666"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig.update_layout(height=200)


@readable_errors
def measure_samplers(run):
    if run is None or run.session.steps == 0:
        raise gr.Error("No live model has trained yet: press 'Train the four from scratch' in the **Live 2-D diffusion** tab first.")
    try:
        report = diffusion_lab.measure_samplers(run.session)
    except ValueError as exc:
        raise gr.Error(f"Nothing to measure: {exc}") from None
    score = score_error_figure(report["score_error"]) if report["score_error"] else None
    note = diffusion_lab.samplers_note(report) + ("" if report["score_error"] else
                                                  " The true score is known on the 8 and 25 Gaussians only.")
    return (quality_against_calls_figure(report["rows"], report["floor"]), pd.DataFrame(report["table"]), note, score,
            pd.DataFrame(report["likelihood"]))


# ------------------------------------------------------------------------ digits
@readable_errors
def digit_samples(name, sampler, calls, digit, guidance, seed):
    names = diffusion_lab.digit_runs()
    if name not in names:
        raise gr.Error(f"checkpoint: choose one of {', '.join(names) or 'the shipped diffusion models (none are here)'}.")
    checkpoint = _loaded(name)
    samplers = DIGIT_SAMPLERS[checkpoint.model.kind]
    if sampler not in samplers:
        raise gr.Error(f"sampler: {name} samples by {' or '.join(samplers)}.")
    choices = diffusion_lab.call_choices(catalogue.dataset_of(checkpoint))
    calls = whole(calls, "model calls", 1, max(choices))
    guidance = real(guidance, "guidance scale w", 0.0, 8.0)
    if digit not in diffusion_lab.CLASS_CHOICES:
        raise gr.Error(f"class: choose one of {', '.join(diffusion_lab.CLASS_CHOICES)}.")
    judge_name = catalogue.judge_of(catalogue.dataset_of(checkpoint))
    judge = _loaded(judge_name).model if judge_name in {i.name for i in catalogue.shipped()} else None
    report = _digit_samples(name, sampler, calls, digit, guidance, whole(seed, "seed", 0, 10_000), judge)
    return image_grid_figure(report["images"], 10, f"{name}: {sampler}, {calls} calls"), report["note"]


@lru_cache(maxsize=32)
def _digit_samples(name, sampler, calls, digit, guidance, seed, judge):
    return diffusion_lab.digit_samples(_loaded(name), sampler, calls, guidance, digit, seed, judge)


@readable_errors
def image_dataset_view(dataset):
    """What the digits tab shows for one dataset: its checkpoints and model calls to choose from, its stored
    Fréchet-distance curves with their note and table, and its comparison lines; the samples and their caption
    are cleared."""
    if dataset not in diffusion_lab.image_datasets():
        raise gr.Error(f"dataset: choose one of {', '.join(diffusion_lab.image_datasets())}.")
    names = diffusion_lab.digit_runs(dataset)
    curves = diffusion_lab.fd_curves(names, _loaded)
    stored = next((_loaded(n).history.get("fd_by_calls") for n in names if _loaded(n).history.get("fd_by_calls")), None)
    choices = diffusion_lab.call_choices(dataset)
    default_calls = 50 if dataset == "digits" else 20
    comparison = _comparison_lines(names)
    return (gr.update(choices=names, value=names[0]), gr.update(choices=choices, value=default_calls),
            None, "", f"The dataset is now **{dataset}**: press **Sample** to draw its samples.",
            fd_against_calls_figure(curves, stored["floor"]) if stored else None,
            diffusion_lab.fd_curve_note(names, _loaded),
            pd.DataFrame(diffusion_lab.digit_reach_table(curves)) if stored else None,
            ("**In the comparison**\n\n" + comparison) if comparison else "")


def _comparison_lines(names: list[str]) -> str:
    lines = []
    for name in names:
        record = measured(name)
        if record is None:
            continue
        bits = (f" Bits/dim on 17 levels: {record['bits_per_dim']:.3f} ± {record['bits_per_dim_se']:.3f}."
                if record.get("bits_per_dim") else "")
        lines.append(f"- **{name}** ({_loaded(name).model.sampling_note()}): {fd_sentence(record)}.{bits}")
    reasons = [f"- **{name}**: {_loaded(name).history['run']['not_compared']}." for name in names
               if measured(name) is None and _loaded(name).history.get("run", {}).get("not_compared")]
    return "\n".join(lines + (["", "Not in the comparison:", *reasons] if reasons else []))


def diffusion_tab() -> None:
    gr.Markdown("Diffusion models learn to undo a process that turns data into noise; flow matching learns a velocity "
                "that carries noise to data. Here DDPM, score matching and flow matching meet on 2-D data and digits.")
    R = diffusion_lab.LIVE_RANGES
    D = diffusion_lab.LIVE_DEFAULTS
    with gr.Tab("Live 2-D diffusion"):
        with gr.Row():
            with gr.Column(scale=2):
                dataset, points_file, drawing = live.data_inputs(LIVE_DEFAULTS["dataset"])
            steps, per_refresh = live.step_boxes(LIVE_DEFAULTS["steps"], LIVE_DEFAULTS["steps_per_refresh"])
        with gr.Row():
            hidden = gr.Number(D["hidden"], precision=0, label="MLP width ({}–{})".format(*R["hidden"]))
            lr = gr.Number(D["lr"], label="learning rate ({:g}–{:g})".format(*R["lr"]))
            batch = gr.Number(D["batch_size"], precision=0, label="batch size ({}–{})".format(*R["batch_size"]))
            calls = gr.Number(D["sampler_steps"], precision=0, label="sampler steps ({}–{})".format(*R["sampler_steps"]))
            seed = gr.Number(D["seed"], precision=0, label="seed ({}–{:,})".format(*R["seed"]))
        gr.Markdown("**Train the four from scratch** starts DDPM, score matching, flow matching and flow matching with "
                    "OT coupling from step 0, on the same data and seed; **Pause** stops them, **Resume** goes on to "
                    "'steps', **Step** trains one refresh's worth. Arrows: the learned score or velocity at the time "
                    "below; black lines: samples' paths from noise to data.")
        controls = live.buttons("Train the four from scratch")
        first = _first_picture(0.0)
        status = gr.Markdown(first[-1])
        field_time = gr.Slider(0.0, 1.0, 0.0, step=0.1, label="time of the arrows and the background (0: the data, "
                                                             "1: the most noise)")
        with gr.Row():
            panels_a = [gr.Plot(first[0]), gr.Plot(first[1])]
        with gr.Row():
            panels_b = [gr.Plot(first[2]), gr.Plot(first[3])]
        paths_note = gr.Markdown(first[5])
        curves = gr.Plot(first[4], label="training loss and energy distance")
        panels = [*panels_a, *panels_b]
        live.wire("diffusion", controls, live_training, [dataset, steps, per_refresh, hidden, lr, batch, calls, seed,
                                                          points_file, drawing],
                  steps, per_refresh, [*panels, curves, paths_note, status], status_at=6)
        # .change, not .release: the arrow keys and the number box move the slider without a release
        field_time.change(keeps_figures(outputs=5, message_at=4)(show_time), [field_time, controls.state],
                          [*panels, status], api_name="diffusion_field_time", trigger_mode="always_last")
    with gr.Tab("Forward process"):
        with gr.Row():
            fwd_data = gr.Dropdown(list(TOY_DISTRIBUTIONS), value="8gaussians", label="data")
            fwd_kind = gr.Radio([(label, key) for key, label in diffusion_lab.FORWARD_KINDS.items()], value="ddpm",
                                label="process")
            fwd_seed = gr.Number(0, precision=0, label="seed (0–10,000)")
        fwd_time = gr.Slider(0.0, 1.0, 0.3, step=0.01, label="time t (0: the data, 1: the most noise trained with)")
        first_forward, first_caption = forward_process("8gaussians", "ddpm", 0.3, 0)
        fwd_plot, fwd_caption = gr.Plot(first_forward), gr.Markdown(first_caption)
        gr.on([fwd_data.change, fwd_kind.change, fwd_time.change, fwd_seed.change],
              keeps_figures(outputs=2, message_at=1)(forward_process), [fwd_data, fwd_kind, fwd_time, fwd_seed],
              [fwd_plot, fwd_caption], api_name="diffusion_forward", trigger_mode="always_last")
    with gr.Tab("Samplers vs steps"):
        gr.Markdown("Every sampler of the live models at " + ", ".join(map(str, diffusion_lab.BUDGETS)) +
                    " model calls, three seeds each, on the models as they are now (train them in the live tab first: "
                    "a few thousand steps). About 10 s.")
        measure = gr.Button("Measure every sampler now", variant="primary")
        why_measure = gr.Markdown()
        # opened on their empty frames with a word each (not on a measurement of nothing, nor an error)
        quality = gr.Plot(_waiting("sample quality against model calls"), label="sample quality against model calls")
        table = gr.Dataframe(pd.DataFrame(columns=["model", "sampler", "best energy distance", "sd over seeds",
                                                   "at model calls", f"calls to come within {diffusion_lab.MARGIN:g} of its best"]),
                             label="each sampler's best, and the calls it needs to come near it")
        note = gr.Markdown()
        score = gr.Plot(_waiting("the learned score against the true one, per time"),
                        label="the learned score against the true one, per time")
        likelihood = gr.Dataframe(pd.DataFrame(columns=["model", "mean log-likelihood (nats per point)", "standard error",
                                                        "the true density's (nats per point)"]),
                                  label="likelihood of held-out points through the ODE")
        gr.Markdown(diffusion_lab.LIKELIHOOD_NOTE)
        measure.click(says_why(measure_samplers, 5), [controls.state], [quality, table, note, score, likelihood,
                                                                        why_measure], api_name="diffusion_samplers")
    with gr.Tab("Digits"):
        datasets = diffusion_lab.image_datasets()
        names = diffusion_lab.digit_runs(datasets[0])
        if not names:
            gr.Markdown("No diffusion checkpoints are shipped here: train them with `python -m training.run ddpm` and "
                        "`python -m training.run flow-matching`.")
            return
        image_dataset = gr.Radio(datasets, value=datasets[0], label="dataset", visible=len(datasets) > 1)
        with gr.Row():
            name = gr.Dropdown(names, value=names[0], label="checkpoint")
            sampler = gr.Radio(["DDPM ancestral", "DDIM", "Euler", "Heun"], value="DDPM ancestral",
                               label="sampler (DDPM models: ancestral or DDIM; flow models: Euler or Heun)")
            digit_seed = gr.Number(0, precision=0, label="seed (0–10,000)")
        with gr.Row():
            digit_calls = gr.Dropdown(diffusion_lab.call_choices(datasets[0]), value=50, label="model calls")
            digit = gr.Dropdown(diffusion_lab.CLASS_CHOICES, value=diffusion_lab.EACH_CLASS, label="class")
            guidance = gr.Slider(0.0, 8.0, 0.0, step=0.5, label="guidance scale w (with a label): (1 + w) f(x, class) "
                                                                 "− w f(x, no class)")
        draw = gr.Button("Sample", variant="primary")
        why_digits = gr.Markdown()
        grid = gr.Plot(label="samples")
        digit_note = gr.Markdown()
        draw.click(says_why(digit_samples, 2), [name, sampler, digit_calls, digit, guidance, digit_seed],
                   [grid, digit_note, why_digits], api_name="diffusion_digits")
        first = image_dataset_view(datasets[0])
        gr.Markdown("**Fréchet distance against sampler steps**")
        curve = gr.Plot(first[5])
        curve_note = gr.Markdown(first[6])
        reach = gr.Dataframe(first[7], label="each sampler's best, and the calls it needs to come within 10 % of it")
        comparison = gr.Markdown(first[8])
        image_dataset.change(keeps_figures(outputs=9, message_at=4)(image_dataset_view), image_dataset,
                             [name, digit_calls, grid, digit_note, why_digits, curve, curve_note, reach, comparison],
                             api_name="diffusion_image_dataset")
