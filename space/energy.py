"""The Space's energy-based tab: the same dgm_core.ebm calls and figures as labs/energy.py."""
from __future__ import annotations

from functools import lru_cache

import gradio as gr
import pandas as pd

from dgm_core import catalogue, ebm
from dgm_core.figures.ebm import chain_energy_figure, training_energies_figure
from dgm_core.figures.images import image_grid_figure
from dgm_core.figures.style import colour
from dgm_core.figures.toy2d import live_panel_figure
from dgm_core.labs import energy as energy_lab
from space import live
from space.inputs import cleared, keeps_figures, readable_errors, real, says_why, whole
from space.inputs import loaded as _loaded


def _shipped(model: str, dataset: str | None = None) -> list[str]:
    return [i.name for i in sorted(catalogue.shipped(), key=lambda i: (i.name, i.seed))
            if i.model_type == "ebm" and i.model == model and dataset in (None, i.dataset)]


def _datasets(*models: str) -> list[str]:
    return catalogue.datasets_among([n for m in models for n in _shipped(m)]) or ["digits"]


def _dataset(dataset) -> str:
    choices = _datasets("ebm-cond", "jem", "jempp")
    if dataset not in choices:
        raise gr.Error(f"dataset: choose one of {', '.join(choices)}.")
    return dataset


# ------------------------------------------------------------------------ live training
def _config(data, init, steps, step_size, sigma_start, sigma_end, hidden, lr, alpha, seed) -> ebm.ToyEBMConfig:
    r = energy_lab.LIVE_RANGES
    if init not in ebm.INITS:
        raise gr.Error(f"chains start from: choose one of {', '.join(ebm.INITS)}.")
    try:
        return ebm.ToyEBMConfig(dataset=data, init=init, sgld_steps=whole(steps, "SGLD steps", *r["sgld_steps"]),
                                step_size=real(step_size, "step size ε", *r["step_size"]),
                                sigma_start=real(sigma_start, "noise σ at the first step", *r["sigma_start"]),
                                sigma_end=real(sigma_end, "noise σ at the last step", *r["sigma_end"]),
                                hidden=whole(hidden, "MLP width", *r["hidden"]), lr=real(lr, "learning rate", *r["lr"]),
                                alpha=real(alpha, "L2 energy penalty α", *r["alpha"]), seed=whole(seed, "seed", *r["seed"]))
    except gr.Error:                    # a gr.Error is a ValueError: pass the box's own message on as it is
        raise
    except ValueError as exc:
        raise gr.Error(str(exc)) from None


def _draw(snapshot, until: int):
    """The tab's outputs for one dgm_core.live.LiveSnapshot: the energy panel, the energies, the status."""
    panel = live_panel_figure(snapshot.views["ebm"], snapshot.real, colour(1), "EBM: energy and SGLD chains")
    return panel, training_energies_figure(snapshot.histories["ebm"]), live.status(snapshot, until)


def _run(data, config) -> live.SpaceRun:
    return live.SpaceRun(ebm.live_session(config), energy_lab.describe_settings(config) + live.data_caption(data), _draw)


@readable_errors
def live_training(dataset, steps, steps_per_refresh, init, sgld_steps, step_size, sigma_start, sigma_end, hidden, lr,
                  alpha, seed, points_file=None, drawing=None, request: gr.Request = None):
    """Train an energy from scratch on the chosen data, yielding the energy panel with its chains and
    the energies of data and chains after every refresh (space/live.py's stream)."""
    def build():
        data = live.resolve_data(dataset, points_file, drawing)
        return _run(data, _config(data, init, sgld_steps, step_size, sigma_start, sigma_end, hidden, lr, alpha, seed))

    yield from live.start(build, steps, steps_per_refresh, request)


LIVE_DEFAULTS = dict(dataset="8gaussians", steps=1000, steps_per_refresh=50)


def _first_picture():
    """What the live tab shows before any click: the energy at step 0 with the default settings."""
    run = _run(LIVE_DEFAULTS["dataset"], ebm.ToyEBMConfig(dataset=LIVE_DEFAULTS["dataset"]))
    return _draw(run.session.snapshot(settings=run.settings), LIVE_DEFAULTS["steps"])


# ------------------------------------------------------------------------- image samples
@keeps_figures(outputs=3, message_at=2)
@readable_errors
def conditional_samples(digit, sgld_steps, seed, dataset="digits"):
    names = _shipped("ebm-cond", _dataset(dataset))
    if not names:
        raise gr.Error(f"No class-conditional checkpoint (ebm-cond-{dataset}) is shipped here.")
    digit, sgld_steps, seed = whole(digit, "class", 0, 9), whole(sgld_steps, "SGLD steps", 1, energy_lab.MAX_CONDITIONAL_STEPS), whole(seed, "seed", 0, 10_000)
    report = energy_lab.conditional_samples(names[0], _loaded, digit, sgld_steps, seed)
    return (image_grid_figure(report["samples"], 8, f"class {digit}: 16 chains after {sgld_steps} SGLD steps"),
            chain_energy_figure({f"E(x, {digit})": report["energy_curve"]}), report["note"])


@lru_cache(maxsize=2)
def _jem(names: tuple[str, ...], dataset: str):
    return energy_lab.jem_comparison(names, _loaded, dataset=dataset)


@readable_errors
def jem_comparison(dataset="digits"):
    dataset = _dataset(dataset)
    names = tuple(_shipped("jem", dataset) + _shipped("jempp", dataset))
    if not names:
        raise gr.Error(f"No JEM checkpoints on {dataset} are shipped here.")
    report = _jem(names, dataset)
    grids = [image_grid_figure(s, 8, name) for name, s in report["samples"].items()]
    grids += [None] * (2 - len(grids))
    return pd.DataFrame(report["rows"]), report["note"], chain_energy_figure(report["energy_curves"]), *grids[:2]


def _enlarged(png, factor: int = 4):
    """A trainer's sample grid (8x8 digits, 74 pixels wide) blown up with square pixels, so it is seen."""
    from PIL import Image

    image = Image.open(png)
    return image.resize((image.width * factor, image.height * factor), Image.NEAREST)


def energy_tab() -> None:
    gr.Markdown("An energy E(x) defines p(x) ∝ exp(−E(x)); contrastive divergence lowers it on data and raises it "
                "on Langevin samples, x ← x − ε∇E(x) + σ ξ.")
    R = energy_lab.LIVE_RANGES
    with gr.Tab("Live 2-D EBM"):
        with gr.Row():
            with gr.Column(scale=2):
                dataset, points_file, drawing = live.data_inputs(LIVE_DEFAULTS["dataset"])
            steps, per_refresh = live.step_boxes(LIVE_DEFAULTS["steps"], LIVE_DEFAULTS["steps_per_refresh"])
            init = gr.Radio(list(ebm.INITS), value="buffer", label="chains start from (buffer: 95 % reused)")
        with gr.Row():
            sgld_steps = gr.Number(20, precision=0, label="SGLD steps ({}–{})".format(*R["sgld_steps"]))
            step_size = gr.Number(0.01, label="step size ε ({:g}–{:g})".format(*R["step_size"]))
            sigma_start = gr.Number(0.1, label="noise σ at the first step ({:g}–{:g})".format(*R["sigma_start"]))
            sigma_end = gr.Number(0.1, label="noise σ at the last step ({:g}–{:g}; geometric schedule)".format(*R["sigma_end"]))
        with gr.Row():
            hidden = gr.Number(64, precision=0, label="MLP width ({}–{})".format(*R["hidden"]))
            lr = gr.Number(1e-3, label="learning rate ({:g}–{:g})".format(*R["lr"]))
            alpha = gr.Number(0.1, label="L2 energy penalty α ({:g}–{:g})".format(*R["alpha"]))
            seed = gr.Number(0, precision=0, label="seed ({}–{:,})".format(*R["seed"]))
        gr.Markdown("**Train the energy from scratch** starts a new energy from step 0 with the settings shown; "
                    "**Pause** stops it, **Resume** goes on to 'steps', **Step** trains one refresh's worth.")
        controls = live.buttons("Train the energy from scratch")
        first_panel, first_energies, first_status = _first_picture()
        status = gr.Markdown(first_status)
        with gr.Row():
            panel = gr.Plot(first_panel, label="energy")
            energies = gr.Plot(first_energies, label="energies over training")
        live.wire("ebm", controls, live_training, [dataset, steps, per_refresh, init, sgld_steps, step_size,
                                                    sigma_start, sigma_end, hidden, lr, alpha, seed, points_file, drawing],
                  steps, per_refresh, [panel, energies, status], status_at=2)
    grids = energy_lab.buffer_against_noise(_loaded)
    if grids:
        with gr.Tab("Buffer vs noise"):
            gr.Markdown("Chains from the replay buffer against chains from uniform noise, over training (sample grids "
                        "the trainer wrote on the 8x8 digits; both models have the same network, data and SGLD settings).")
            snapshot = gr.Dropdown(list(grids), value=list(grids)[-1], label="snapshot")
            shown = []
            with gr.Row():
                for label, png in grids[list(grids)[-1]].items():
                    with gr.Column():
                        gr.Markdown(f"**chains started from {label}**")
                        shown.append(gr.Image(_enlarged(png), show_label=False, interactive=False))

            def show(epoch):
                if epoch not in grids:
                    raise gr.Error(f"snapshot: choose one of {', '.join(grids)}.")
                return tuple(_enlarged(png) for png in grids[epoch].values())

            why_snapshot = gr.Markdown()
            snapshot.change(says_why(show, len(shown)), snapshot, [*shown, why_snapshot], api_name="ebm_snapshot")
    with gr.Tab("Class-conditional samples"):
        with gr.Row():
            digit = gr.Number(3, precision=0, label="class (0–9)")
            cond_steps = gr.Number(100, precision=0, label=f"SGLD steps (1–{energy_lab.MAX_CONDITIONAL_STEPS})")
            cond_seed = gr.Number(0, precision=0, label="seed")
            cond_dataset = gr.Radio(_datasets("ebm-cond"), value="digits", label="dataset",
                                    visible=len(_datasets("ebm-cond")) > 1)
        draw = gr.Button("Sample the class", variant="primary")
        with gr.Row():
            grid, curve = gr.Plot(label="samples of the class"), gr.Plot(label="their energy over SGLD steps")
        agreement = gr.Markdown("Choose a class and press **Sample the class**.")
        draw.click(conditional_samples, [digit, cond_steps, cond_seed, cond_dataset], [grid, curve, agreement],
                   api_name="ebm_conditional")
        cond_dataset.change(cleared(3, 2, "The dataset is now **{choice}**: press **Sample the class** to draw its chains."),
                            cond_dataset, [grid, curve, agreement], queue=False)
    with gr.Tab("JEM vs JEM++"):
        jem_dataset = gr.Radio(_datasets("jem", "jempp"), value="digits", label="dataset",
                               visible=len(_datasets("jem", "jempp")) > 1)
        compare = gr.Button("Compare JEM and JEM++", variant="primary")
        gr.Markdown("Measures every shipped seed of both models on the chosen dataset (digits: two seeds each; "
                    "mnist-5k: one), beside the plain classifier of the same network (about 10 s on digits).")
        table, note = gr.Dataframe(label="JEM, JEM++ and the plain classifier"), gr.Markdown()
        energy_curve = gr.Plot(label="the chains' energy over sampler steps")
        with gr.Row():
            jem_grid, jempp_grid = gr.Plot(label="JEM chains"), gr.Plot(label="JEM++ chains")
        compare.click(keeps_figures(outputs=5, message_at=1)(jem_comparison), jem_dataset,
                      [table, note, energy_curve, jem_grid, jempp_grid], api_name="ebm_jem")
        jem_dataset.change(cleared(5, 1, "The dataset is now **{choice}**: press **Compare JEM and JEM++** to measure it."),
                           jem_dataset, [table, note, energy_curve, jem_grid, jempp_grid], queue=False)
