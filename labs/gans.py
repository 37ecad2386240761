"""The GAN lab: widgets -> dgm_core.gan -> dgm_core.figures.gan.

Live training: the three 2-D models live in st.session_state["gan_live"] (a dgm_core.gan.SideBySide)
and a fragment advances them a few steps per refresh while running. Trained image checkpoints
are loaded with st.cache_resource."""
import numpy as np
import streamlit as st
import torch

from dgm_core import gan
from dgm_core.checkpoints import CheckpointError, load_checkpoint
from dgm_core.classifier import ImageClassifier
from dgm_core.data import TOY_DISTRIBUTIONS, load_dataset, toy_modes
from dgm_core.features import CLASSIFIER, classifier_features
from dgm_core.figures.gan import (
    TITLES,
    class_histogram_figure,
    coverage_figure,
    fid_curves_figure,
    loss_curves_figure,
    separation_figure,
    theory_densities_figure,
    toy_panel_figure,
)
from dgm_core.figures.vae import image_grid_figure
from dgm_core.metrics import frechet_distance

REFRESH_SECONDS = 1.0        # a refresh (training, drawing, the browser redrawing five charts) must end well inside it:
#                            with 0.5 s, refreshes queued up and Pause took 4-5 s in Chromium (1.0 s: 0.5 s)
TRAIN_SECONDS = 0.3        # training per refresh: with the drawing (server and browser) it must end inside REFRESH_SECONDS
IMAGE_GANS = {"gan": "gan-digits", "wgan": "wgan-digits", "wgan-gp": "wgan-gp-digits"}
CGAN = "cgan-digits"
JUDGE = "classifier-digits"

st.title("⚔️ Generative adversarial networks")
live, theory, images, conditional = st.tabs(["Live 2-D training", "Theory", "Samples & FID", "Conditional GAN"])


# ------------------------------------------------------------------------ live training
def settings_from_widgets() -> dict[str, gan.ToyGANConfig]:
    R = gan.LIVE_RANGES
    c1, c2, c3, c4 = st.columns(4)
    dataset = c1.selectbox("Data", TOY_DISTRIBUTIONS, key="gan_dataset")
    n_critic = int(c2.number_input("n_critic (WGANs)", *R["n_critic"], 5, key="gan_n_critic"))
    clip = c3.number_input("clip c (WGAN)", *R["clip"], 0.01, 0.005, format="%.3f", key="gan_clip")
    gp_lambda = c4.number_input("λ (WGAN-GP)", *R["gp_lambda"], 0.1, 0.05, format="%.3f", key="gan_lambda")
    c5, c6, c7 = st.columns([1, 1, 2])
    generator_loss = c5.radio("GAN generator loss", ["non-saturating", "saturating"], key="gan_g_loss")
    seed = int(c6.number_input("seed", *R["seed"], 0, key="gan_seed"))
    configs = {}
    with c7.expander("Learning rates"):
        for kind in gan.KINDS:
            base = gan.default_config(kind)
            a, b = st.columns(2)
            lr_g = a.number_input(f"{TITLES[kind]}: generator", *R["lr"], base.lr_generator, format="%.5f",
                                  key=f"gan_lr_g_{kind}")
            lr_d = b.number_input(f"{TITLES[kind]}: critic", *R["lr"], base.lr_critic, format="%.5f",
                                  key=f"gan_lr_d_{kind}")
            configs[kind] = gan.default_config(
                kind, dataset=dataset, seed=seed, lr_generator=float(lr_g), lr_critic=float(lr_d),
                n_critic=1 if kind == "gan" else n_critic, clip=float(clip), gp_lambda=float(gp_lambda),
                generator_loss=generator_loss)
    return configs


def reset(configs) -> None:
    st.session_state.gan_live = gan.SideBySide.create(configs)
    st.session_state.gan_live_configs = configs
    st.session_state.gan_running = False
    st.session_state.gan_pending = 0


with live:
    st.markdown("GAN, WGAN and WGAN-GP on the **same data, seed and network sizes**, trained side by side. "
                "Background: the discriminator's σ(D(x)) (GAN) or the critic's value (WGANs); orange: where "
                "the generator loss pushes each generated point.")
    try:
        configs = settings_from_widgets()
    except ValueError as exc:
        st.error(f"These settings cannot be used: {exc}")
        st.stop()
    if "gan_live" not in st.session_state:
        reset(configs)
    changed = configs != st.session_state.gan_live_configs
    b1, b2, b3, b4 = st.columns([1, 1, 1, 2])
    running = st.session_state.gan_running
    if b1.button("⏸ Pause" if running else "▶ Run", key="gan_run", disabled=changed and not running):
        st.session_state.gan_running = not running
        st.session_state.gan_pending = 0
        st.rerun()
    if b2.button("Step", key="gan_step", disabled=running or changed):
        st.session_state.gan_pending = st.session_state.get("gan_pending", 0) + st.session_state.gan_steps_per_refresh
    if b3.button("↺ Reset", key="gan_reset", type="primary" if changed else "secondary"):
        reset(configs)
        st.rerun()
    b4.slider("steps per refresh (at most)", 1, 200, 20, key="gan_steps_per_refresh",
              help=f"Each refresh (every {REFRESH_SECONDS:g} s) trains for at most {TRAIN_SECONDS:.2f} s, then draws: with many steps "
                   "per refresh the models take as many as fit, and Step finishes over several refreshes.")
    in_force = st.session_state.gan_live_configs
    st.caption("**Training with** " + gan.describe_settings(in_force) +
               (" · the widgets' new values apply on **Reset**." if changed else ""))
    if changed:
        st.info("Settings changed: press **Reset** to start the three models again with them.")

    busy = st.session_state.gan_running or st.session_state.get("gan_pending", 0) > 0

    @st.fragment(run_every=REFRESH_SECONDS if busy else None)
    def live_panel():
        state: gan.SideBySide = st.session_state.gan_live
        per_refresh = st.session_state.gan_steps_per_refresh
        pending = st.session_state.get("gan_pending", 0)
        if st.session_state.gan_running or pending:
            done = state.advance(min(per_refresh, pending) if pending else per_refresh,
                                 seconds=TRAIN_SECONDS)
            st.session_state.gan_pending = max(0, pending - done)
        all_diverged = len(state.diverged) == len(state.models)
        if all_diverged:
            st.session_state.gan_running, st.session_state.gan_pending = False, 0
        if not (st.session_state.gan_running or st.session_state.gan_pending) and busy:
            st.rerun()        # the work is done: redraw the buttons and stop the refresh timer
        for kind, step in state.diverged.items():
            st.error(f"{TITLES[kind]} diverged at step {step}: its losses are no longer finite numbers. It is "
                     "frozen; lower its learning rates and press Reset.")
        left, right = st.columns(2)
        left.metric("step (generator updates)", f"{state.steps:,}")
        right.metric("steps per second (the three together)",
                     f"{state.steps_per_second:.0f}" if state.steps_per_second else "–")
        views = state.view()
        real = next(iter(state.models.values())).pool[:500].numpy()
        columns = st.columns(3)
        for column, (kind, view) in zip(columns, views.items()):
            with column:
                st.plotly_chart(toy_panel_figure(view, real), key=f"gan_panel_{kind}")
                cover = state.coverage[kind][-1] if state.coverage[kind] else None
                if cover:
                    st.caption(f"modes captured {cover['captured']}/{cover['modes']}, "
                               f"high-quality samples {cover['high_quality']:.0%}")
        st.plotly_chart(loss_curves_figure({k: m.history for k, m in state.models.items()}), key="gan_losses")
        modes = toy_modes(next(iter(state.models.values())).config.dataset)
        if modes is not None:
            st.plotly_chart(coverage_figure(state.coverage, len(modes[0])), key="gan_coverage")
        else:
            st.caption("Mode coverage is counted on the Gaussian mixtures (8 and 25 Gaussians).")

    live_panel()

# ------------------------------------------------------------------------------- theory
with theory:
    st.markdown("p_data = N(0, 1) against a generator p_g = N(θ, σ²). With the optimal discriminator "
                "D* = p_data / (p_data + p_g) the GAN objective is 2·JS − log 4 (Goodfellow et al., 2014).")
    c1, c2 = st.columns(2)
    theta = c1.slider("θ: shift of p_g", -10.0, 10.0, 2.0, 0.1, key="gan_theta")
    sigma = c2.slider("σ of p_g", 0.2, 3.0, 1.0, 0.1, key="gan_sigma")
    game = gan.GaussianGame(theta, sigma)
    grads = game.generator_gradients()
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("JS (nats)", f"{game.js_divergence():.4f}", help="at most log 2 = 0.6931")
    m2.metric("W₁", f"{game.wasserstein():.3f}")
    m3.metric("∂/∂θ saturating", f"{grads['saturating']:.2e}")
    m4.metric("∂/∂θ non-saturating", f"{grads['non-saturating']:.2e}")
    st.plotly_chart(theory_densities_figure(game), key="gan_theory_densities")
    st.plotly_chart(separation_figure(gan.separation_curves(np.linspace(0, 10, 81), sigma), abs(theta)),
                    key="gan_theory_separation")
    st.caption("As the supports separate, JS saturates at log 2 and carries no information about how far "
               "apart they are; W₁ keeps growing with the distance. The saturating generator loss loses its "
               "gradient exactly then; the non-saturating one keeps it (Arjovsky & Bottou, 2017).")


# ------------------------------------------------------------------ trained checkpoints
@st.cache_resource(show_spinner=False)
def image_gan(name: str):
    return load_checkpoint(name, expected=gan.ImageGAN)


@st.cache_resource(show_spinner=False)
def judge_and_floor():
    """The dataset classifier, and the Fréchet distance of real train vs real test features (the floor)."""
    judge = load_checkpoint(JUDGE, expected=ImageClassifier).model
    train, test = load_dataset("digits", "train", 28), load_dataset("digits", "test", 28)
    return judge, frechet_distance(classifier_features(judge, train.images), classifier_features(judge, test.images))


@st.cache_data(show_spinner=False)
def snapshot_samples(name: str, snapshot: str, seed: int) -> np.ndarray:
    checkpoint = image_gan(name)
    return gan.snapshot_model(checkpoint, checkpoint.path / "snapshots" / snapshot).sample(64, seed=seed).numpy()


def available(names) -> dict[str, object]:
    found = {}
    for kind, name in names.items():
        try:
            found[kind] = image_gan(name)
        except CheckpointError:
            pass
    return found


with images:
    checkpoints = available(IMAGE_GANS)
    if not checkpoints:
        st.error("No GAN checkpoints are shipped with this copy: train them with "
                 "`python -m training.run gan --width 16 --epochs 60 --sample-every 15 --out checkpoints/gan-digits` "
                 "(and wgan, wgan-gp).")
    else:
        judge, floor = judge_and_floor()
        st.markdown(f"Trained on `digits` (28x28) by `python -m training.run` for the same number of epochs (the "
                    "same number of discriminator / critic updates; the WGANs update their generator once per 5 "
                    f"of them). The Fréchet distance uses the **{CLASSIFIER}** (`{JUDGE}`), not Inception-V3: it "
                    "compares with itself only.")
        st.plotly_chart(fid_curves_figure({k: c.history for k, c in checkpoints.items()}, floor, "classifier features"),
                        key="gan_fid_curves")
        kind = st.radio("Checkpoint", list(checkpoints), format_func=lambda k: TITLES[k], horizontal=True,
                        key="gan_image_kind")
        chosen = checkpoints[kind]
        snapshots = [p.name for p in chosen.snapshots]
        snapshot = st.select_slider("Epoch", snapshots, value=snapshots[-1], key=f"gan_snapshot_{kind}",
                                    format_func=lambda s: s.removeprefix("epoch-").removesuffix(".safetensors"))
        seed = int(st.number_input("Sample seed", 0, 10_000, 0, key="gan_image_seed"))
        left, right = st.columns(2)
        with left:
            st.plotly_chart(image_grid_figure(torch.from_numpy(snapshot_samples(IMAGE_GANS[kind], snapshot, seed)), 8,
                                              f"{TITLES[kind]}, {snapshot.removesuffix('.safetensors')}"),
                            key="gan_snapshot_grid")
        with right:
            st.plotly_chart(class_histogram_figure(chosen.history, [str(d) for d in range(10)],
                                                   f"{TITLES[kind]}: classes of 1,000 samples per epoch"),
                            key="gan_class_histogram")
            last = chosen.history["epochs"][-1]
            st.caption(f"Last epoch: Fréchet distance {last['fid_classifier']:.1f} (real vs real {floor:.1f}); "
                       f"feature spread {last['feature_spread']:.2f} against {last['real_feature_spread']:.2f} for real "
                       "images (lower means less diverse samples).")

with conditional:
    try:
        cgan = image_gan(CGAN)
    except CheckpointError as exc:
        st.error(f"The conditional GAN checkpoint is missing: {exc}")
    else:
        seed = int(st.number_input("Sample seed", 0, 10_000, 0, key="gan_cgan_seed"))
        grid = gan.class_grid(cgan.model, seed=seed)
        st.plotly_chart(image_grid_figure(grid, 8, "one row per class: the generator is told which digit to draw",
                                          row_labels=[str(d) for d in range(10)], height=620), key="gan_cgan_grid")
        last = cgan.history["epochs"][-1]
        st.caption(f"The classifier reads {last['label_accuracy']:.0%} of 1,000 conditional samples as the digit "
                   f"they were asked for; Fréchet distance {last['fid_classifier']:.1f} ({CLASSIFIER}).")
