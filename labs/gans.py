"""The GAN lab: widgets -> dgm_core.gan -> dgm_core.figures.

Live training runs on the shared controller (labs/live.py) over a dgm_core.live.LiveSession of
three ToyGANs; trained image checkpoints come from dgm_core.catalogue, loaded with
st.cache_resource."""
import numpy as np
import pandas as pd
import streamlit as st
import torch

from dgm_core import catalogue, gan
from dgm_core.checkpoints import CheckpointError
from dgm_core.compare import fd_sentence, measured
from dgm_core.data import toy_modes
from dgm_core.features import CLASSIFIER
from dgm_core.figures.gan import (
    FID_AXES,
    TITLES,
    class_histogram_figure,
    coverage_figure,
    fid_curves_figure,
    loss_curves_figure,
    separation_figure,
    theory_densities_figure,
)
from dgm_core.figures.images import image_grid_figure
from dgm_core.figures.style import MODEL_COLOURS
from dgm_core.figures.toy2d import live_panel_figure
from dgm_core.labs import gans as gans_lab
from labs.checkpoints import download_button, load
from labs.export import figure_config
from labs.inputs import number
from labs.lesson import lesson_mode
from labs.live import data_choice, live_training
from labs.url_state import BIND, arrived, explain

st.title("⚔️ Generative adversarial networks")
link, link_message = arrived()
lesson_mode("gans")
live, theory, images, conditional = st.tabs(["Live 2-D training", "Theory", "Samples & FID", "Conditional GAN"])


# ------------------------------------------------------------------------ live training
def settings_from_widgets() -> dict[str, gan.ToyGANConfig] | None:
    R = gans_lab.LIVE_RANGES
    c1, c2, c3, c4 = st.columns(4)
    n_critic = int(number(c2, "n_critic (WGANs)", *R["n_critic"], 5, key="gan_n_critic"))
    clip = number(c3, "clip c (WGAN)", *R["clip"], gans_lab.DEFAULT_CLIP, 0.005, format="%.3f", key="gan_clip",
                           help=f"The weights of the WGAN critic are clipped to [−c, c]. {gans_lab.CLIP_LESSON}")
    gp_lambda = number(c4, "λ (WGAN-GP)", *R["gp_lambda"], 0.1, 0.05, format="%.3f", key="gan_lambda")
    c5, c6, c7 = st.columns([1, 1, 2])
    generator_loss = c5.radio("GAN generator loss", ["non-saturating", "saturating"], key="gan_g_loss", bind=BIND)
    seed = int(number(c6, "seed", *R["seed"], 0, key="gan_seed"))
    rates = {}
    with c7.expander("Learning rates"):
        for kind in gan.KINDS:
            base = gan.default_config(kind)
            a, b = st.columns(2)
            rates[kind] = (number(a, f"{TITLES[kind]}: generator", *R["lr"], base.lr_generator, format="%.5f",
                                          key=f"gan_lr_g_{kind}"),
                           number(b, f"{TITLES[kind]}: critic", *R["lr"], base.lr_critic, format="%.5f",
                                          key=f"gan_lr_d_{kind}"))
    with c1:
        dataset = data_choice("gan")
    if dataset is None:
        return None
    return {kind: gan.default_config(kind, dataset=dataset, seed=seed, lr_generator=float(rates[kind][0]),
                                     lr_critic=float(rates[kind][1]), n_critic=1 if kind == "gan" else n_critic,
                                     clip=float(clip), gp_lambda=float(gp_lambda), generator_loss=generator_loss)
            for kind in gan.KINDS}


def draw_live(snapshot) -> None:
    for column, (kind, view) in zip(st.columns(3), snapshot.views.items()):
        with column:
            st.plotly_chart(live_panel_figure(view, snapshot.real, MODEL_COLOURS[kind], TITLES[kind]),
                            key=f"gan_panel_{kind}", config=figure_config())
            cover = snapshot.metrics[kind][-1] if snapshot.metrics[kind] else None
            if cover:
                st.caption(f"modes captured {cover['captured']}/{cover['modes']} within 3σ, "
                           f"{cover['captured_loose']}/{cover['modes']} within {cover['loose_radius']:g}; "
                           f"high-quality samples {cover['high_quality']:.0%} (at step {cover['step']:,})")
    st.plotly_chart(loss_curves_figure(snapshot.histories), key="gan_losses", config=figure_config())
    modes = toy_modes(next(iter(snapshot.settings.values())).dataset)
    if modes is not None:
        st.plotly_chart(coverage_figure(snapshot.metrics, len(modes[0])), key="gan_coverage", config=figure_config())
    else:
        st.caption("Mode coverage is counted on the Gaussian mixtures (8 and 25 Gaussians).")


with live:
    st.markdown("GAN, WGAN and WGAN-GP on the **same data, seed and network sizes**, trained side by side. "
                "Background: the discriminator's σ(D(x)) (GAN) or the critic's value (WGANs); orange: where "
                "the generator loss pushes each generated point. One step is one generator update, after "
                "n_critic critic updates.")
    controls = st.container()            # Run, Pause, Step and Reset: above the settings, so they never move
    try:
        configs = settings_from_widgets()
    except ValueError as exc:
        st.error(f"These settings cannot be used: {exc}")
        st.stop()
    live_training("gan", configs, gan.side_by_side, gans_lab.describe_settings, draw_live, TITLES, controls=controls)

# ------------------------------------------------------------------------------- theory
with theory:
    st.markdown("p_data = N(0, 1) against a generator p_g = N(θ, σ²). With the optimal discriminator "
                "D* = p_data / (p_data + p_g) the GAN objective is 2·JS − log 4 (Goodfellow et al., 2014).")
    c1, c2 = st.columns(2)
    theta = c1.slider("θ: shift of p_g", -10.0, 10.0, 2.0, 0.1, key="gan_theta", bind=BIND)
    sigma = c2.slider("σ of p_g", 0.2, 3.0, 1.0, 0.1, key="gan_sigma", bind=BIND)
    game = gan.GaussianGame(theta, sigma)
    grads = game.generator_gradients()
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("JS (nats)", f"{game.js_divergence():.4f}", help="at most log 2 = 0.6931")
    m2.metric("W₁", f"{game.wasserstein():.3f}", help="in units of x (a distance, not a divergence in nats)")
    m3.metric("∂/∂θ saturating", f"{grads['saturating']:.2e}")
    m4.metric("∂/∂θ non-saturating", f"{grads['non-saturating']:.2e}")
    st.plotly_chart(theory_densities_figure(game), key="gan_theory_densities", config=figure_config())
    st.plotly_chart(separation_figure(gan.separation_curves(np.linspace(0, 10, 81), sigma), abs(theta)),
                    key="gan_theory_separation", config=figure_config())
    st.caption("As the supports separate, JS saturates at log 2 and carries no information about how far "
               "apart they are; W₁ keeps growing with the distance. The saturating generator loss loses its "
               "gradient exactly then; the non-saturating one keeps it (Arjovsky & Bottou, 2017).")


# ------------------------------------------------------------------ trained checkpoints
def image_gan(name: str):
    return load(name, gan.ImageGAN)            # the pages' one checkpoint cache (labs/checkpoints.py)


@st.cache_resource(show_spinner=False)
def judge_with_floor(dataset: str):
    """The dataset classifier, the real-vs-real floor of its distance and its live features."""
    return catalogue.judge_with_floor(dataset, catalogue.judge_of(dataset))


def dataset_choice(key: str, conditional: bool = False) -> str:
    datasets = gans_lab.image_gan_datasets(conditional)
    if len(datasets) == 1:
        return datasets[0]
    return st.radio("dataset", datasets, horizontal=True, key=key, bind=BIND,
                    help="Each dataset's GANs are measured against its own test split, in its own judge's features.")


@st.cache_data(show_spinner=False)
def snapshot_samples(name: str, snapshot: str, seed: int) -> np.ndarray:
    checkpoint = image_gan(name)
    return gan.snapshot_model(checkpoint, checkpoint.path / "snapshots" / snapshot).sample(64, seed=seed).numpy()


with images:
    gan_dataset = dataset_choice("gan_image_dataset")
    runs, problems = gans_lab.load_image_gan_runs(image_gan, gan_dataset)
    for problem in problems:
        st.warning(problem)
    if not runs:
        st.error("No GAN checkpoints are shipped with this copy: train them with "
                 "`python -m training.run gan --width 16 --epochs 60 --sample-every 15 --out checkpoints/gan-digits` "
                 "(and wgan, wgan-gp with --epochs 300, for the same 1,380 generator updates).")
    else:
        judge, floor, (alive, features) = judge_with_floor(gan_dataset)
        rows = gans_lab.matched_comparison(runs)
        updates = rows[0]["generator_updates"]
        st.markdown(
            f"Trained on `{gan_dataset}` (28x28) by `python -m training.run` until every model had made the **same number "
            f"of generator updates**{f' ({updates:,})' if updates else ''}: the WGANs update their generator once per 5 critic updates, so "
            "they ran 5 times the epochs. Each model was trained with more than one seed: faint lines are the seeds, "
            f"bold their mean. The Fréchet distance uses the **{CLASSIFIER}** (`{catalogue.judge_of(gan_dataset)}`), not "
            f"Inception-V3: it compares with itself only, and only **{alive} of its {features} features** vary on "
            f"the test set (the others are ReLU units that are zero on every image), so it measures {alive} "
            "dimensions.")
        if not all(r["matched"] for r in rows):
            st.warning("These checkpoints did not all make the same number of generator updates: compare them on "
                       "the generator-updates axis, not by their last value.")
        axis = st.radio("Against", list(FID_AXES), format_func=FID_AXES.get, horizontal=True, key="gan_fid_axis", bind=BIND)
        st.plotly_chart(fid_curves_figure({k: [c.history for c in cs] for k, cs in runs.items()}, floor,
                                          "classifier features", axis), key="gan_fid_curves", config=figure_config())
        st.dataframe(pd.DataFrame(gans_lab.comparison_table(rows)), hide_index=True)
        st.caption(gans_lab.comparison_note(rows, gan_dataset) + " The class histograms below show each model's samples spreading "
                   "over the classes as training goes on.")
        kind = st.radio("Checkpoint", list(runs), format_func=lambda k: TITLES[k], horizontal=True,
                        key="gan_image_kind", bind=BIND)
        chosen = runs[kind][0]
        by_epoch = {e["epoch"]: e for e in chosen.history["epochs"]}
        snapshots = [p.name for p in chosen.snapshots]

        def snapshot_label(name: str) -> str:
            epoch = int(name.removeprefix("epoch-").removesuffix(".safetensors"))
            updates = by_epoch.get(epoch, {}).get("generator_updates")
            return f"epoch-{epoch:03d} · " + (f"{updates:,} generator updates" if updates is not None else "")

        snapshot = st.select_slider("Generator updates", snapshots, value=snapshots[-1], key=f"gan_snapshot_{kind}",
                                    format_func=snapshot_label, bind=BIND)
        seed = int(number(st, "Sample seed", 0, 10_000, 0, key="gan_image_seed"))
        left, right = st.columns(2)
        with left:
            st.plotly_chart(image_grid_figure(torch.from_numpy(snapshot_samples(chosen.path.name, snapshot, seed)), 8,
                                              f"{TITLES[kind]}, {snapshot_label(snapshot)}"),
                            key="gan_snapshot_grid", config=figure_config())
        with right:
            st.plotly_chart(class_histogram_figure(chosen.history, [str(d) for d in range(10)],
                                                   f"{TITLES[kind]}: classes of 1,000 samples over training"),
                            key="gan_class_histogram", config=figure_config())
            last = chosen.history["epochs"][-1]
            record = measured(chosen.path.name)
            st.caption((fd_sentence(record) + ". " if record else "") +
                       f"At the last epoch of training: feature spread {last['feature_spread']:.2f} against "
                       f"{last['real_feature_spread']:.2f} for real images (lower means less diverse samples).")

with conditional:
    try:
        cgan = image_gan(gans_lab.conditional_gan(dataset_choice("gan_cgan_dataset", conditional=True)))
    except CheckpointError as exc:
        st.error(f"The conditional GAN checkpoint is missing: {exc}")
    else:
        download_button(cgan, where=st)
        seed = int(number(st, "Sample seed", 0, 10_000, 0, key="gan_cgan_seed"))
        grid = gan.class_grid(cgan.model, seed=seed)
        st.plotly_chart(image_grid_figure(grid, 8, "one row per class: the generator is told which digit to draw",
                                          row_labels=[str(d) for d in range(10)], height=620), key="gan_cgan_grid", config=figure_config())
        st.caption(gans_lab.conditional_caption(cgan))

explain(link, link_message)
