"""The energy-based lab: widgets -> dgm_core.ebm -> dgm_core.figures.

Live 2-D training runs on the shared controller (labs/live.py) over one ToyEBM; trained checkpoints
come from dgm_core.catalogue, loaded with st.cache_resource."""
import pandas as pd
import streamlit as st

from dgm_core import catalogue, ebm
from dgm_core.figures.ebm import chain_energy_figure, training_energies_figure
from dgm_core.figures.images import image_grid_figure
from dgm_core.figures.style import colour
from dgm_core.figures.toy2d import live_panel_figure
from dgm_core.labs import energy as energy_lab
from labs.checkpoints import cached as _checkpoint
from labs.checkpoints import download_button
from labs.checkpoints import load_or_say as _load
from labs.export import figure_config
from labs.inputs import number
from labs.lesson import lesson_mode
from labs.live import data_choice, live_training
from labs.url_state import BIND, arrived, explain

st.title("🔋 Energy-based models")
link, link_message = arrived()
lesson_mode("energy")
live, images, jem_tab = st.tabs(["Live 2-D EBM", "Image samples", "JEM vs JEM++"])


# ------------------------------------------------------------------------ live training
def settings_from_widgets() -> ebm.ToyEBMConfig | None:
    R = energy_lab.LIVE_RANGES
    c1, c2, c3, c4, c5 = st.columns([2, 1, 1, 1, 1])
    init = c2.radio("chains start from", ["buffer", "noise"], key="ebm_init", bind=BIND,
                    format_func=lambda v: "replay buffer (95 % reused)" if v == "buffer" else "uniform noise")
    steps = int(number(c3, "SGLD steps", *R["sgld_steps"], 20, key="ebm_sgld_steps"))
    step_size = number(c4, "step size ε", *R["step_size"], 0.01, format="%.4f", key="ebm_step_size")
    seed = int(number(c5, "seed", *R["seed"], 0, key="ebm_seed"))
    d1, d2, d3, d4, d5 = st.columns(5)
    sigma_start = number(d1, "noise σ at the first step", *R["sigma_start"], 0.1, format="%.3f", key="ebm_sigma0")
    sigma_end = number(d2, "noise σ at the last step", *R["sigma_end"], 0.1, format="%.3f", key="ebm_sigma1",
                                help="σ_t = σ_start (σ_end / σ_start)^(t/(T−1)): equal ends keep the noise constant.")
    hidden = int(number(d3, "MLP width", *R["hidden"], 64, key="ebm_hidden"))
    lr = number(d4, "learning rate", *R["lr"], 1e-3, format="%.4f", key="ebm_lr")
    alpha = number(d5, "L2 energy penalty α", *R["alpha"], 0.1, format="%.3f", key="ebm_alpha")
    with c1:
        dataset = data_choice("ebm")
    if dataset is None:
        return None
    try:
        return ebm.ToyEBMConfig(dataset=dataset, init=init, sgld_steps=steps, step_size=float(step_size),
                                sigma_start=float(sigma_start), sigma_end=float(sigma_end), hidden=hidden,
                                lr=float(lr), alpha=float(alpha), seed=seed)
    except ValueError as exc:
        st.error(f"These settings cannot train: {exc} The model keeps the settings it has.")
        return None


def draw_live(snapshot) -> None:
    left, right = st.columns(2)
    left.plotly_chart(live_panel_figure(snapshot.views["ebm"], snapshot.real, colour(1), "EBM: energy and SGLD chains"),
                      key="ebm_panel", config=figure_config())
    if snapshot.histories["ebm"]:
        right.plotly_chart(training_energies_figure(snapshot.histories["ebm"]), key="ebm_energies", config=figure_config())


with live:
    st.markdown("An energy E(x) defines p(x) ∝ exp(−E(x)). Contrastive divergence lowers E on the data and raises "
                "it on the model's own samples, drawn by Langevin dynamics: x ← x − ε∇E(x) + σ ξ.")
    controls = st.container()            # Run, Pause, Step and Reset: above the settings, so they never move
    live_training("ebm", settings_from_widgets(), ebm.live_session, energy_lab.describe_settings, draw_live,
                  {"ebm": "EBM"}, steps_per_refresh=50, controls=controls)


# ------------------------------------------------------------------------- image samples
def _shipped(model: str, dataset: str | None = None) -> list[str]:
    return [i.name for i in sorted(catalogue.shipped(), key=lambda i: (i.name, i.seed))
            if i.model_type == "ebm" and i.model == model and dataset in (None, i.dataset)]


def _dataset_choice(names: list[str], key: str, where=st) -> str:
    """The dataset to show, where the shipped models of this part are on more than one."""
    datasets = catalogue.datasets_among(names) or ["digits"]
    if len(datasets) == 1:
        return datasets[0]
    return where.radio("dataset", datasets, horizontal=True, key=key, bind=BIND,
                       help="Models trained on each dataset are measured against that dataset's own test split.")


with images:
    grids = energy_lab.buffer_against_noise(_checkpoint)
    if grids:
        st.markdown("**Chains from noise against chains from the replay buffer**, over training (sample grids the "
                    "trainer wrote on the 8x8 digits; both models have the same network, data and SGLD settings).")
        chosen = st.select_slider("snapshot", list(grids), value=list(grids)[-1], key="ebm_snapshot", bind=BIND)
        for column, (label, png) in zip(st.columns(2), grids[chosen].items()):
            column.image(str(png), caption=f"chains started from {label}, {chosen}", width=320)
    conditional = _shipped("ebm-cond")
    if conditional:
        conditional = _shipped("ebm-cond", _dataset_choice(conditional, "ebm_cond_dataset"))
    if not grids and not conditional:
        st.info("No energy-model checkpoints are shipped here: train them with `python -m training.run ebm` "
                "(and `--init noise`) and `ebm-cond`.")
    if conditional:
        st.markdown("**Class-conditional samples** from E(x, y) = −f(x)[y]: SGLD from uniform noise for the class asked.")
        c1, c2, c3 = st.columns(3)
        digit = c1.selectbox("class", list(range(10)), key="ebm_class", bind=BIND)
        sgld_steps = int(number(c2, "SGLD steps", 1, energy_lab.MAX_CONDITIONAL_STEPS, 100, key="ebm_cond_steps"))
        cond_seed = int(number(c3, "seed", 0, 10_000, 0, key="ebm_cond_seed"))
        judge = catalogue.judge_of(catalogue.datasets_among(conditional[:1])[0])
        if _load(conditional[0]) is not None and _load(judge) is not None:
            download_button(_checkpoint(conditional[0]), where=st)
            report = energy_lab.conditional_samples(conditional[0], _checkpoint, digit, sgld_steps, cond_seed)
            left, right = st.columns(2)
            left.plotly_chart(image_grid_figure(report["samples"], 8, f"class {digit}: 16 chains after {sgld_steps} SGLD steps"),
                              key="ebm_cond_grid", config=figure_config())
            right.plotly_chart(chain_energy_figure({f"E(x, {digit})": report["energy_curve"]}), key="ebm_cond_energy", config=figure_config())
            st.caption(report["note"])


# --------------------------------------------------------------------------- JEM vs JEM++
@st.cache_data(show_spinner="Sampling every model's chains…", max_entries=2)
def _jem_table(names: tuple[str, ...], dataset: str):
    return energy_lab.jem_comparison(names, _checkpoint, dataset=dataset)


with jem_tab:
    names = tuple(_shipped("jem") + _shipped("jempp"))
    if not names:
        st.info("No JEM checkpoints are shipped here: train them with `python -m training.run jem` and `jempp`.")
    else:
        jem_dataset = _dataset_choice(list(names), "jem_dataset")
        names = tuple(_shipped("jem", jem_dataset) + _shipped("jempp", jem_dataset))
        report = _jem_table(names, jem_dataset)
        st.dataframe(pd.DataFrame(report["rows"]), hide_index=True)
        st.caption(report["note"])
        st.plotly_chart(chain_energy_figure(report["energy_curves"]), key="jem_energy", config=figure_config())
        for column, (name, samples) in zip(st.columns(len(report["samples"])), report["samples"].items()):
            column.plotly_chart(image_grid_figure(samples, 8, name), key=f"jem_samples_{name}", config=figure_config())

explain(link, link_message)
