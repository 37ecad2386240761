"""The diffusion lab: widgets -> dgm_core.diffusion (through dgm_core.labs.diffusion) -> dgm_core.figures.

Live 2-D training runs on the shared controller (labs/live.py) over a dgm_core.live.LiveSession of four
ToyDiffusion models; the digits checkpoints come from dgm_core.catalogue, loaded with st.cache_resource."""
import pandas as pd
import streamlit as st

from dgm_core import catalogue, diffusion
from dgm_core.compare import fd_sentence, measured
from dgm_core.data import TOY_DISTRIBUTIONS
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
from labs.checkpoints import cached as _checkpoint
from labs.checkpoints import download_button
from labs.checkpoints import load_or_say as _load
from labs.export import figure_config
from labs.inputs import number
from labs.lesson import lesson_mode
from labs.live import data_choice, live_training
from labs.url_state import BIND, arrived, explain

st.title("🌫️ Diffusion and flow matching")
link, link_message = arrived()
lesson_mode("diffusion")
live, forward_tab, samplers_tab, digits_tab = st.tabs(
    ["Live 2-D diffusion", "Forward process", "Samplers vs steps", "Digits"])


# ------------------------------------------------------------------------ the forward process
@st.cache_data(show_spinner=False, max_entries=64)
def _forward(dataset: str, kind: str, time: float, seed: int) -> dict:
    return diffusion_lab.forward_process(dataset, kind, time, seed)


with forward_tab:
    st.markdown("Each model is trained to undo a **forward process** that turns data into noise: "
                "x_t = a(t) x₀ + s(t) ε. DDPM keeps the variance at 1 (a² + s² = 1), score matching only adds "
                "noise (a = 1), flow matching moves on the straight line between data and noise.")
    c1, c2, c3 = st.columns([1, 2, 1])
    dataset = c1.selectbox("data", TOY_DISTRIBUTIONS, key="diff_fwd_data", bind=BIND)
    kind = c2.radio("process", list(diffusion_lab.FORWARD_KINDS), format_func=diffusion_lab.FORWARD_KINDS.get,
                    key="diff_fwd_kind", bind=BIND)
    fwd_seed = int(number(c3, "seed", 0, 10_000, 0, key="diff_fwd_seed"))
    time = st.slider("time t (0: the data, 1: the most noise trained with)", 0.0, 1.0, 0.3, 0.01,
                     key="diff_fwd_time", bind=BIND)
    report = _forward(dataset, kind, float(time), fwd_seed)
    st.plotly_chart(forward_figure(report, f"{diffusion_lab.FORWARD_KINDS[kind]} at t = {time:.2f}"),
                    key="diff_forward", config=figure_config())
    st.caption(report["sentence"] + (" Behind the points: the noised mixture's log density, in closed form."
                                     if report["density"] is not None else ""))


# ------------------------------------------------------------------------ live training
def settings_from_widgets():
    R = diffusion_lab.LIVE_RANGES
    D = diffusion_lab.LIVE_DEFAULTS
    c1, c2, c3, c4, c5, c6 = st.columns([2, 1, 1, 1, 1, 1])
    hidden = int(number(c2, "MLP width", *R["hidden"], D["hidden"], key="diff_hidden"))
    lr = number(c3, "learning rate", *R["lr"], D["lr"], format="%.4f", key="diff_lr")
    batch = int(number(c4, "batch size", *R["batch_size"], D["batch_size"], key="diff_batch"))
    calls = int(number(c5, "sampler steps", *R["sampler_steps"], D["sampler_steps"], key="diff_calls",
                       help="Model calls of each panel's own sampler (DDPM: at most 1,000; Langevin: a whole number "
                            "per noise level)."))
    seed = int(number(c6, "seed", *R["seed"], D["seed"], key="diff_seed"))
    with c1:
        dataset = data_choice("diff")
    if dataset is None:
        return None
    try:
        return diffusion_lab.live_configs(dataset, hidden, float(lr), batch, calls, seed)
    except ValueError as exc:
        st.error(f"These settings cannot train: {exc} The models keep the settings they have.")
        return None


@st.cache_data(show_spinner=False, max_entries=8)
def _floor(dataset: str) -> float:
    from dgm_core.diffusion.toy import ToyDiffusion, ToyDiffusionConfig

    return diffusion.measures.data_floor(ToyDiffusion(ToyDiffusionConfig(dataset=dataset)))[0]


def draw_live(snapshot) -> None:
    shown = diffusion_lab.nearest_time(st.session_state.get("diff_field_time", 0.0))
    for row in (list(snapshot.views)[:2], list(snapshot.views)[2:]):
        for column, kind in zip(st.columns(2), row):
            view = diffusion_lab.panel_at(snapshot.views[kind], snapshot.details[kind], shown)
            fig = live_panel_figure(view, snapshot.real, KIND_COLOURS[diffusion_lab.TITLES[kind]])
            add_paths(fig, snapshot.details[kind]["paths"], f"paths ({snapshot.details[kind]['path_sampler']})")
            column.plotly_chart(fig, key=f"diff_panel_{kind}", config=figure_config())
    st.caption(diffusion_lab.path_caption(snapshot.details))
    dataset = next(iter(snapshot.settings.values())).dataset if snapshot.settings else None
    floor = _floor(dataset) if isinstance(dataset, str) else None
    st.plotly_chart(live_curves_figure(snapshot.histories, snapshot.metrics, diffusion_lab.TITLES, floor),
                    key="diff_curves", config=figure_config())


with live:
    st.markdown("DDPM, score matching, flow matching and flow matching with **OT coupling**, each the same MLP "
                "trained on its own objective, on the **same data and seed**, one Adam step each in turn. Arrows: "
                "the learned score (DDPM, score matching) or velocity (flow matching) at the time chosen below; "
                "black lines: samples' paths from noise to data.")
    controls = st.container()            # Run, Pause, Step and Reset: above the settings, so they never move
    live_config = settings_from_widgets()
    st.select_slider("time of the arrows and the background (0: the data, 1: the most noise)",
                     list(diffusion.toy.FIELD_TIMES), value=0.0, key="diff_field_time", bind=BIND,
                     format_func=lambda t: f"{t:.1f}")
    live_training("diff", live_config, diffusion.toy.live_session, diffusion_lab.describe_settings, draw_live,
                  diffusion_lab.TITLES, steps_per_refresh=50, controls=controls)


# ------------------------------------------------------------------------ samplers against steps
with samplers_tab:
    st.markdown("How good are the samples for the number of **model calls** spent? Every sampler of the live models "
                f"at {', '.join(str(b) for b in diffusion_lab.BUDGETS)} calls, on the models as they are now (train "
                "them in the live tab first: a few thousand steps).")
    runner = st.session_state.get("diff_runner")
    if runner is None or runner.session.steps == 0:
        st.info("No live model has trained yet: press Run in the **Live 2-D diffusion** tab, then come back.")
    elif st.button("Measure every sampler now", key="diff_measure", type="primary"):
        with st.spinner("Sampling every model at every budget, three seeds each…"):
            try:
                st.session_state["diff_sampler_report"] = diffusion_lab.measure_samplers(runner.session)
            except ValueError as exc:
                st.error(f"Nothing to measure: {exc}")
    report = st.session_state.get("diff_sampler_report")
    if report is not None:
        st.plotly_chart(quality_against_calls_figure(report["rows"], report["floor"]), key="diff_quality",
                        config=figure_config())
        st.dataframe(pd.DataFrame(report["table"]), hide_index=True)
        st.caption(diffusion_lab.samplers_note(report))
        st.markdown("**Likelihood of held-out points through the ODE**")
        st.dataframe(pd.DataFrame(report["likelihood"]), hide_index=True)
        st.caption(diffusion_lab.LIKELIHOOD_NOTE)
        if report["score_error"]:
            st.markdown("**The learned score against the true one.** On a Gaussian mixture the noised data's score "
                        "has a closed form; flow matching learns a velocity, so it is not in this figure.")
            st.plotly_chart(score_error_figure(report["score_error"]), key="diff_score_error", config=figure_config())
            st.caption("Mean squared error over 2,000 points drawn from the noised law at each time, divided by the "
                       "true score's mean square.")
        else:
            st.caption("The true score is known on the Gaussian-mixture toys (8 and 25 Gaussians) only.")


# ------------------------------------------------------------------------ digits
@st.cache_data(show_spinner="Sampling…", max_entries=16)
def _digit_samples(name: str, sampler: str, calls: int, guidance: float, choice: str, seed: int) -> dict:
    checkpoint = _checkpoint(name)
    judge_name = catalogue.judge_of(catalogue.dataset_of(checkpoint))
    judge = _checkpoint(judge_name).model if judge_name in {i.name for i in catalogue.shipped()} else None
    return diffusion_lab.digit_samples(checkpoint, sampler, calls, guidance, choice, seed, judge)


with digits_tab:
    datasets = diffusion_lab.image_datasets()
    image_dataset = (st.radio("dataset", datasets, horizontal=True, key="diff_image_dataset", bind=BIND)
                     if len(datasets) > 1 else datasets[0])
    names = diffusion_lab.digit_runs(image_dataset)
    if not names:
        st.info("No diffusion checkpoints are shipped here: train them with `python -m training.run ddpm` and "
                "`python -m training.run flow-matching`.")
    else:
        c1, c2, c3 = st.columns([2, 2, 1])
        name = c1.selectbox("checkpoint", names, key=f"diff_checkpoint_{image_dataset}", bind=BIND)
        checkpoint = _load(name)
        if checkpoint is not None:
            download_button(checkpoint, where=st)
            samplers = list(diffusion.image.SAMPLERS[checkpoint.model.kind])
            sampler = c2.radio("sampler", samplers, horizontal=True, key=f"diff_sampler_{checkpoint.model.kind}", bind=BIND)
            digit_seed = int(number(c3, "seed", 0, 10_000, 0, key="diff_digit_seed"))
            d1, d2, d3 = st.columns(3)
            calls = d1.select_slider("model calls", diffusion_lab.call_choices(image_dataset),
                                     value=50 if image_dataset == "digits" else 20,
                                     key=f"diff_digit_calls_{image_dataset}", bind=BIND)
            digit = d2.selectbox("class", diffusion_lab.CLASS_CHOICES, key="diff_digit_class", bind=BIND)
            guidance = d3.slider("guidance scale w", 0.0, 8.0, 0.0, 0.5, key="diff_guidance", bind=BIND,
                                 disabled=digit == diffusion_lab.NO_LABEL,
                                 help="(1 + w) f(x, class) − w f(x, no class): w = 0 is the conditional model itself.")
            report = _digit_samples(name, sampler, int(calls), float(guidance), digit, digit_seed)
            st.plotly_chart(image_grid_figure(report["images"], 10, f"{name}: {sampler}, {calls} calls"),
                            key="diff_digit_grid", config=figure_config())
            st.caption(report["note"])
            record = measured(name)
            if record is not None:
                bits = (f" Bits/dim of the test digits on 17 levels: {record['bits_per_dim']:.3f} ± "
                        f"{record['bits_per_dim_se']:.3f} ({record['likelihood']})." if record.get("bits_per_dim") else "")
                st.markdown(f"**In the comparison** ({checkpoint.model.sampling_note()}): {fd_sentence(record)}.{bits}")
            elif checkpoint.history.get("run", {}).get("not_compared"):
                st.markdown(f"**Not in the comparison:** {checkpoint.history['run']['not_compared']}.")
        curves = diffusion_lab.fd_curves(names, _checkpoint)
        if any(curves.values()):
            st.markdown("**Fréchet distance against sampler steps**")
            first = next(c for c in (_checkpoint(n).history.get("fd_by_calls") for n in names) if c)
            st.plotly_chart(fd_against_calls_figure(curves, first["floor"]), key="diff_fd_calls", config=figure_config())
            st.caption(diffusion_lab.fd_curve_note(names, _checkpoint))
            st.dataframe(pd.DataFrame(diffusion_lab.digit_reach_table(curves)), hide_index=True)

explain(link, link_message)
