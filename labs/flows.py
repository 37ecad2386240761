"""The normalizing-flow lab: widgets -> dgm_core.flow (and dgm_core.vae_flow_prior) -> dgm_core.figures.

Live 2-D training runs on the shared controller (labs/live.py) over a dgm_core.live.LiveSession of
one ToyFlow; trained checkpoints come from dgm_core.catalogue, loaded with st.cache_resource."""
import pandas as pd
import streamlit as st
import torch

from dgm_core import catalogue, flow
from dgm_core.figures.flow import (
    bits_per_dim_curve_figure,
    hutchinson_figure,
    ood_histogram_figure,
    prior_comparison_figure,
    training_curve_figure,
    warp_figure,
)
from dgm_core.figures.images import image_grid_figure
from dgm_core.figures.style import colour
from dgm_core.figures.toy2d import live_panel_figure
from dgm_core.labs import flows as flows_lab
from labs.checkpoints import cached as _checkpoint
from labs.checkpoints import download_button
from labs.checkpoints import load_or_say as _load
from labs.export import figure_config
from labs.inputs import number
from labs.lesson import lesson_mode
from labs.live import data_choice, live_training
from labs.url_state import BIND, arrived, explain

st.title("🌊 Normalizing flows")
link, link_message = arrived()
lesson_mode("flows")
live, samples_tab, ood_tab, hutchinson_tab, prior_tab = st.tabs(
    ["Live 2-D flow", "Image samples", "Likelihood & OOD", "Hutchinson estimator", "VAE with a flow prior"])


# ------------------------------------------------------------------------ live training
def settings_from_widgets() -> flow.ToyFlowConfig | None:
    R = flows_lab.LIVE_RANGES
    c1, c2, c3, c4, c5 = st.columns([2, 1, 1, 1, 1])
    couplings = int(number(c2, "coupling layers", *R["couplings"], 6, key="flow_couplings"))
    hidden = int(number(c3, "MLP width", *R["hidden"], 64, key="flow_hidden"))
    lr = number(c4, "learning rate", *R["lr"], 2e-3, format="%.4f", key="flow_lr")
    seed = int(number(c5, "seed", *R["seed"], 0, key="flow_seed"))
    with c1:
        dataset = data_choice("flow")
    if dataset is None:
        return None
    return flow.ToyFlowConfig(dataset=dataset, couplings=couplings, hidden=hidden, lr=float(lr), seed=seed)


def draw_live(snapshot) -> None:
    view = snapshot.views["realnvp"]
    left, right = st.columns([1, 1])
    left.plotly_chart(live_panel_figure(view, snapshot.real, colour(1), "RealNVP: log density and samples"),
                      key="flow_panel", config=figure_config())
    held_out = snapshot.metrics["realnvp"]
    history = snapshot.histories["realnvp"]
    with right:
        if held_out:
            st.metric("held-out NLL (nats per point)", f"{held_out[-1]['held_out_nll']:.3f}",
                      help=f"Average over 2,000 held-out points, at step {held_out[-1]['step']:,}.")
        if history:
            st.plotly_chart(training_curve_figure(history), key="flow_curve", config=figure_config())
            st.caption("Each point is one batch of 256, so the curve is noisy; a spike is a batch the flow fits "
                       "badly (often a step that moved a coupling too far), which Adam then corrects.")
    direction = st.session_state.get("flow_warp_direction", "forward")
    st.plotly_chart(warp_figure(snapshot.details["realnvp"]["warp"], "forward" if direction.startswith("data") else "inverse"),
                    key="flow_warp", config=figure_config())


with live:
    st.markdown("A RealNVP on R²: each **coupling** keeps one coordinate and moves the other by a scale and "
                "shift computed from it, so the map is invertible with a triangular Jacobian. It learns by "
                "maximum likelihood, log p(x) = log N(f(x)) + log |det ∂f/∂x|.")
    controls = st.container()            # Run, Pause, Step and Reset: above the settings, so they never move
    live_config = settings_from_widgets()
    st.radio("Warp shown under the panel", ["data → z (forward)", "z → data (inverse)"], horizontal=True,
             key="flow_warp_direction", bind=BIND)
    live_training("flow", live_config, flow.live_session, flows_lab.describe_settings, draw_live, {"realnvp": "RealNVP"},
                  steps_per_refresh=100, controls=controls)


# ------------------------------------------------------------------------- image samples
def _flow_names() -> list[str]:
    return list(flows_lab.flow_runs())


@st.cache_data(show_spinner="Fitting the GaussianMixture baseline…", max_entries=4)
def _gmm_reference(dataset: str, size: int, levels: int, alpha: float) -> dict:
    return flows_lab.gmm_reference(dataset, size, levels, alpha)


with samples_tab:
    names = _flow_names()
    if not names:
        st.info("No RealNVP checkpoints are shipped here: train one with `python -m training.run realnvp`.")
    else:
        c1, c2, c3 = st.columns([2, 2, 1])
        name = c1.selectbox("checkpoint", names, key="flow_checkpoint", bind=BIND)
        temperature = c2.slider("temperature T (z ~ N(0, T² I))", 0.1, 1.5, 1.0, 0.05, key="flow_temperature", bind=BIND)
        sample_seed = int(number(c3, "seed", 0, 10_000, 0, key="flow_sample_seed"))
        checkpoint = _load(name)
        if checkpoint is not None:
            download_button(checkpoint, where=st)
            model, history = checkpoint.model, checkpoint.history
            images = model.sample(64, torch.Generator().manual_seed(sample_seed), temperature)
            st.plotly_chart(image_grid_figure(images, 8, f"64 samples at T = {temperature:g}"), key="flow_samples", config=figure_config())
            st.markdown(flows_lab.samples_sentence(images, checkpoint, temperature))
            dataset = catalogue.dataset_of(checkpoint)
            gmm = _gmm_reference(dataset, model.image_size, model.levels, model.alpha)
            st.markdown(flows_lab.test_bits_sentence(checkpoint, gmm))
            same_data = {n: c.history for n, item in flows_lab.flow_runs().items()
                         if item.dataset == dataset and (c := _load(n)) is not None}
            st.plotly_chart(bits_per_dim_curve_figure(same_data, {flows_lab.gmm_label(gmm): gmm["bits_per_dim"]}),
                            key="flow_bpd_curve", config=figure_config())


# ------------------------------------------------------------------------ OOD detection
@st.cache_data(show_spinner=False, max_entries=4)
def _ood(name: str):
    return flows_lab.flow_ood_report(_checkpoint(name))


LIKELIER = "more likely than the median test image"     # a share of the set: shown in %

with ood_tab:
    names = _flow_names()
    if not names:
        st.info("No RealNVP checkpoints are shipped here.")
    else:
        c1, c2 = st.columns(2)
        name = c1.selectbox("model", names, key="flow_ood_checkpoint", bind=BIND,
                            help="realnvp-shapes was trained on shapes at 8×8 with 17 levels: the reverse direction.")
        score = c2.radio("score", list(flows_lab.OOD_SCORES), horizontal=True, key="flow_ood_score", bind=BIND)
        if _load(name) is not None:
            report = _ood(name)
            values, x_title = flows_lab.ood_scores(report, score), flows_lab.OOD_SCORES[score][0]
            st.plotly_chart(ood_histogram_figure(values, report.in_name, x_title), key="flow_ood_hist", config=figure_config())
            table = pd.DataFrame(report.table)
            st.dataframe(table, hide_index=True, column_config={
                **{c: st.column_config.NumberColumn(format="%.3f") for c in table.columns if c.startswith("AUROC")},
                LIKELIER: st.column_config.NumberColumn(format="percent", help="the share of the set's images whose "
                                                        "bits/dim is below the test images' median")})
            st.caption(flows_lab.auroc_note(report))
            for finding in flows_lab.ood_findings(report):
                st.warning(finding)


# ------------------------------------------------------------------ Hutchinson playground
@st.cache_data(show_spinner="Estimating…", max_entries=32)
def _study(dim: int, lipschitz: float, draws: int, p_stop: float, seed: int):
    return flow.hutchinson_study(dim, lipschitz, flows_lab.HUTCHINSON_TERMS, flows_lab.HUTCHINSON_PROBES, draws, p_stop, seed)


with hutchinson_tab:
    st.markdown("A residual block x + g(x) with Lip(g) ≤ c < 1 has log det(I + J) = Σₖ (−1)ᵏ⁺¹ tr(Jᵏ)/k. "
                "Residual flows estimate each trace with Hutchinson's vᵀJᵏv (E[vvᵀ] = I) and either truncate at n "
                "terms (biased) or draw the number of terms at random and reweight (Russian roulette, unbiased).")
    R = flows_lab.HUTCHINSON_RANGES
    c1, c2, c3, c4, c5 = st.columns(5)
    dim = int(number(c1, "dimension d", *R["dim"], 8, key="hutch_dim"))
    lipschitz = number(c2, "Lipschitz bound c", *R["lipschitz"], 0.9, 0.05, format="%.2f", key="hutch_lip")
    draws = int(number(c3, "estimates per setting", *R["draws"], 300, key="hutch_draws"))
    p_stop = number(c4, "roulette stop probability p", *R["p_stop"], 0.1, 0.05, format="%.2f", key="hutch_p",
                             help="The number of terms is N ~ Geometric(p): P(N ≥ k) = (1 − p)^(k−1).")
    hutch_seed = int(number(c5, "seed", *R["seed"], 0, key="hutch_seed"))
    study = _study(dim, float(lipschitz), draws, float(p_stop), hutch_seed)
    st.markdown(f"exact log det(I + J) = **{study.exact:.4f}** nats (autograd Jacobian) · ‖J‖₂ at x = "
                f"{study.jacobian_norm:.3f} (bound c = {lipschitz:.2f})")
    note = flows_lab.roulette_variance_note(study, float(p_stop))
    (st.warning if "infinite" in note else st.caption)(note)
    st.plotly_chart(hutchinson_figure(study), key="hutch_figure", config=figure_config())
    st.dataframe(pd.DataFrame(flows_lab.hutchinson_table(study)), hide_index=True)
    st.caption("bias: the exact bias of each estimator (the truncated series' from the exact traces; the roulette's is "
               "0 by construction); variance, mean and standard error: over the estimates drawn.")


# ------------------------------------------------------------------- the flow prior VAE
@st.cache_data(show_spinner=False, max_entries=4)
def _projection(name: str):
    from dgm_core.vae_flow_prior import prior_projection

    model = _checkpoint(name).model
    images = catalogue.test_images(catalogue.dataset_of(_checkpoint(name)), model.image_size).images[:1000]
    return prior_projection(model, images, generator=torch.Generator().manual_seed(0))


with prior_tab:
    groups = flows_lab.flow_prior_groups()
    if not groups or not all(groups.values()):
        st.info("The prior comparison needs the shipped `vae-flow-prior-digits` and `vae-digits-beta1` checkpoints.")
    else:
        st.markdown("The VAE of the VAE lab with its N(0, I) prior replaced by a RealNVP over z, trained jointly "
                    "with the same encoder, decoder, epochs and settings. The ELBO's prior term is E_q[log p(z)], "
                    "so the best prior is the aggregate posterior q(z) = E_x q(z|x).")
        rows = []
        for label, members in groups.items():
            for member in members:
                checkpoint = _load(member)
                if checkpoint is None:
                    continue
                curve = {c["k"]: c["nll_nats"] for c in checkpoint.history.get("nll", {}).get("curve", [])}
                last = checkpoint.history["epochs"][-1]
                rows.append({"prior": label, "checkpoint": member, "seed": checkpoint.history["run"].get("seed", 0),
                             "parameters": sum(p.numel() for p in checkpoint.model.parameters()),
                             "test ELBO (nats)": last["elbo"],
                             "IWAE NLL, k = 1000 (nats)": curve.get(1000), "IWAE NLL, k = 5000 (nats)": curve.get(5000)})
        table = pd.DataFrame(rows)
        if table.empty or set(table["prior"]) != set(groups):
            st.info("The prior comparison needs a checkpoint of each prior that loads: the errors above name the one "
                    "that did not and why.")
        else:
            st.dataframe(table, hide_index=True)
            summary = table.groupby("prior")["IWAE NLL, k = 5000 (nats)"].agg(["mean", "min", "max", "count"])
            st.caption("IWAE NLL with k = 5,000 on the first 50 test images (binarised 28×28 digits), mean over seeds: " +
                       "; ".join(f"{p}: {r['mean']:.2f} (range {r['min']:.2f}–{r['max']:.2f}, {int(r['count'])} seeds)"
                                 for p, r in summary.iterrows()) + ". Lower is better.")
            first = {label: table.loc[table["prior"] == label, "checkpoint"].iloc[0] for label in groups}   # loaded ones
            st.plotly_chart(prior_comparison_figure({f"{label} ({name})": _projection(name) for label, name in first.items()}),
                            key="flow_prior_projection", config=figure_config())
            st.caption("Each panel has its own scale: a learned prior does not tie q(z) to unit variance, so the flow "
                       "prior's latent space spreads wider. Compare each prior with its own aggregate posterior.")
            columns = st.columns(len(first))
            for column, (label, name) in zip(columns, first.items()):
                checkpoint = _load(name)
                if checkpoint is not None:
                    column.plotly_chart(image_grid_figure(checkpoint.model.sample(32, torch.Generator().manual_seed(0)), 8,
                                                          f"{label}: samples"), key=f"flow_prior_samples_{name}", config=figure_config())

explain(link, link_message)
