"""The VAE lab: widgets -> dgm_core.vae -> dgm_core.figures.vae.

Checkpoints, test sets and latent reports are cached with st.cache_resource; the latent
explorer is a fragment, so moving a slider reruns only the explorer (one decode, one figure)."""
import pandas as pd
import streamlit as st
import torch

from dgm_core import catalogue, vae
from dgm_core.catalogue import TEST_IMAGES, dataset_of
from dgm_core.checkpoints import CheckpointError
from dgm_core.figures.images import image_grid_figure
from dgm_core.figures.vae import (
    kl_per_dim_figure,
    mig_figure,
    nll_figure,
    training_curves_figure,
)
from dgm_core.labs import vae as vae_lab
from labs.checkpoints import download_button, load
from labs.export import figure_config
from labs.inputs import number
from labs.lesson import lesson_mode
from labs.url_state import BIND, arrived, explain

SLIDER_RANGE = 3.0        # latent sliders span ±3 prior standard deviations
MAX_NLL_IMAGES = 32       # test images the IWAE panel offers
NLL_KS = [1, 10, 100, 1000, 5000]
LONG_NLL_DECODES = 20_000  # above this many decoder evaluations the panel offers smaller settings first
NLL_SEED = 0

st.title("🌀 Variational autoencoders")
link, link_message = arrived()
lesson_mode("vae")


def vae_checkpoint(name: str):
    return load(name, vae.ConvVAE)             # the pages' one checkpoint cache (labs/checkpoints.py)


@st.cache_resource(show_spinner=False)
def test_set(dataset: str, image_size: int):
    return catalogue.test_images(dataset, image_size)


@st.cache_resource(show_spinner=False)
def report(name: str):
    return vae_lab.vae_report(vae_checkpoint(name))


@st.cache_data(show_spinner=False)
def shipped_vaes() -> dict[str, dict]:
    """name -> {dataset, beta, schedule, seed} for every shipped VAE checkpoint."""
    return {name: {"dataset": item.dataset, "beta": item.run.get("beta", 1.0), "seed": item.seed,
                   "schedule": item.run.get("beta_schedule", "constant")}
            for name, item in catalogue.runs("vae").items()}


def label(name: str) -> str:
    info = shipped.get(name) or {}
    return f"β = {info['beta']:g} ({name})" if info else name


# ------------------------------------------------------------------ choosing a checkpoint
shipped = shipped_vaes()
if not shipped:
    st.error("No VAE checkpoints ship with this copy of DGM Lab. Train one with "
             "`python -m training.run vae --out checkpoints/vae-digits-beta1` and reload.")
    st.stop()
datasets = sorted({info["dataset"] for info in shipped.values()})
dataset = st.sidebar.selectbox("Dataset", datasets, key="vae_dataset", bind=BIND)
names = [n for n, info in shipped.items() if info["dataset"] == dataset]
names.sort(key=lambda n: shipped[n]["beta"])
name = st.sidebar.selectbox("Checkpoint", names, format_func=label, key="vae_checkpoint", bind=BIND)
with st.sidebar.expander("Load another checkpoint"):
    other = st.text_input("Folder or Hub repo id", key="vae_other",
                          help="A folder written by `python -m training.run vae`, or a Hub repo id such as user/vae.")
if other.strip():
    try:
        loaded_dataset = dataset_of(vae_checkpoint(other.strip()))
        name = other.strip()
        # The comparisons and reference curves follow the loaded model's dataset, not the boxes above.
        dataset = loaded_dataset
        names = sorted((n for n, info in shipped.items() if info["dataset"] == dataset),
                       key=lambda n: shipped[n]["beta"])
        st.sidebar.success(f"Using {name} (trained on {dataset}) instead of the checkpoint chosen above; "
                           "empty this box to go back.")
    except CheckpointError as exc:
        st.sidebar.error(f"Could not load {other.strip()!r}: {exc}")
checkpoint = vae_checkpoint(name)
model: vae.ConvVAE = checkpoint.model
data = test_set(dataset_of(checkpoint), model.image_size)
latents = report(name)
st.sidebar.caption(f"latent dims {model.latent_dim}, {model.likelihood} likelihood, "
                   f"{int(latents.active.sum())} active units")
download_button(checkpoint)
st.caption(f"Checkpoint **{name}**: trained with `{checkpoint.history.get('run', {}).get('command', '?')}`")

tabs = st.tabs(["Latent sliders", "Traversals", "Interpolation", "Reconstructions & samples", "β comparison",
                "Likelihood (IWAE)", "Attribute vectors"])


def image_index(label_text: str, key: str, default: int = 0) -> int:
    return int(number(st, label_text, 0, TEST_IMAGES - 1 if len(data) > TEST_IMAGES else len(data) - 1,
                               default, key=key))


# ------------------------------------------------------------------------ NLL with IWAE
def likelihood_panel() -> None:
    """ELBO and L_k on the first test images, with its cost shown before it runs, smaller
    settings offered for a long run, progress after each chunk, and Stop.

    Stop works through Streamlit's rerun: a click while the estimate runs interrupts the script
    at its next progress update, and the rerun finds `vae_nll_running` still set."""
    c1, c2 = st.columns(2)
    count = int(number(c1, "Test images", 1, MAX_NLL_IMAGES, 8, key="vae_nll_images"))
    k = int(c2.selectbox("k (importance samples per image)", NLL_KS, index=2, key="vae_nll_k", bind=BIND))
    decodes, chunks = vae.likelihood_cost(count, k)
    st.caption(f"{count} images × k = {k} = {decodes:,} decoder evaluations in {chunks} "
               f"chunk{'s' if chunks > 1 else ''} of at most {vae.DECODE_BATCH:,}; samples from seed {NLL_SEED}.")
    long_run = decodes > LONG_NLL_DECODES
    confirmed = True
    if long_run:
        fewer_images, smaller_k = vae.quicker_likelihood_settings(count, k, LONG_NLL_DECODES, NLL_KS)
        st.warning(f"This is a long run ({decodes:,} decoder evaluations, over {LONG_NLL_DECODES:,}). "
                   f"Quicker: {fewer_images} images at k = {k} ({fewer_images * k:,}), or {count} images at "
                   f"k = {smaller_k} ({count * smaller_k:,}). You can stop it while it runs.")
        confirmed = st.checkbox(f"Run all {decodes:,} decoder evaluations", key=f"vae_nll_confirm_{count}_{k}")
    b1, b2 = st.columns(2)
    go = b1.button("Estimate", key="vae_nll_go", type="primary", disabled=not confirmed)
    stop = b2.button("Stop the estimate", key="vae_nll_stop")
    running = st.session_state.pop("vae_nll_running", None)
    if running is not None:          # an estimate was cut short by this rerun
        done, total = running["done"], running["total"]
        if stop:
            st.info(f"Stopped after {done:,} of {total:,} decoder evaluations; nothing was kept.")
        else:
            again = ("press Estimate to run it again" if confirmed else
                     f"tick 'Run all {decodes:,} decoder evaluations' above and press Estimate to run it again")
            st.info(f"The estimate was interrupted at {done:,} of {total:,} decoder evaluations by another "
                    f"change on the page: {again}.")
    elif stop:
        st.info("Nothing is running: 'Stop the estimate' ends an estimate while its progress bar moves.")
    if go and confirmed:
        images = vae.prepare_batch(model, data.images[:count] if hasattr(data, "images") else
                                   torch.stack([data[i][0] for i in range(count)]))
        bar = st.progress(0.0, text=f"0 of {decodes:,} decoder evaluations")
        state = st.session_state["vae_nll_running"] = {"done": 0, "total": decodes}

        def progress(done: int, total: int) -> None:
            state["done"] = done
            bar.progress(done / total, text=f"{done:,} of {total:,} decoder evaluations")

        estimate = vae.likelihood_estimate(model, images, k, generator=torch.Generator().manual_seed(NLL_SEED),
                                           progress=progress)
        del st.session_state["vae_nll_running"]
        st.session_state.vae_nll_result = (name, estimate)
    result = st.session_state.get("vae_nll_result")
    if result is not None and result[0] == name:
        e = result[1]
        bits, basis = vae_lab.bits_per_dim_basis(model, dataset_of(checkpoint))
        spread = "" if e.iwae_standard_error is None else f" ± {e.iwae_standard_error:.2f} (standard error over the images)"
        st.success(f"ELBO {e.elbo:.2f} nats; IWAE L_{e.k} = {e.iwae:.2f}{spread} nats → NLL ≤ {e.nll:.2f} nats per image"
                   + (f" = {e.bits_per_dim:.4f} bits/dim" if bits else "") +
                   f" ({e.images} test images, seed {NLL_SEED}, {e.decodes:,} decoder evaluations). {basis}")


# ------------------------------------------------------------------------ latent sliders
@st.fragment
def latent_sliders():
    start = st.radio("Start from", ["prior mean z = 0", "a test image's code"], horizontal=True, key="vae_start", bind=BIND)
    z0 = torch.zeros(model.latent_dim)
    if start != "prior mean z = 0":
        z0 = latents.mu[image_index("Test image", "vae_start_image")]
    left, right = st.columns([3, 2])
    z = torch.zeros(model.latent_dim)
    with left:
        st.caption("Dimensions ordered by their KL (most informative first); inactive ones barely change the image.")
        cols = st.columns(2)
        for i, d in enumerate(latents.dims_by_kl):
            with cols[i % 2]:
                key = f"vae_z{d}_{name}_{start}_{st.session_state.get('vae_start_image', 0)}"
                z[d] = st.slider(f"z{d} · KL {latents.kl_per_dim[d]:.2f} nats", -SLIDER_RANGE, SLIDER_RANGE,
                                 float(max(-SLIDER_RANGE, min(SLIDER_RANGE, z0[d].item()))), 0.05, key=key,
                                 bind=BIND)
    with right:
        with torch.no_grad():
            image = model.decode_mean(z[None])
        st.plotly_chart(image_grid_figure(image, 1, "decoded E[x | z]", height=330), key="vae_decoded", config=figure_config())


with tabs[0]:
    latent_sliders()

# ---------------------------------------------------------------------------- traversals
with tabs[1]:
    c1, c2 = st.columns(2)
    around = c1.radio("Around", ["z = 0", "a test image's code"], horizontal=True, key="vae_trav_around", bind=BIND)
    z = torch.zeros(model.latent_dim) if around == "z = 0" else latents.mu[image_index("Test image", "vae_trav_image")]
    span = c2.slider("Range ± (prior standard deviations)", 1.0, 4.0, 3.0, 0.5, key="vae_trav_span", bind=BIND)
    values = torch.linspace(-span, span, 9)
    dims = latents.dims_by_kl
    grid = vae.traversal_images(model, z, dims, values)
    st.plotly_chart(image_grid_figure(grid, len(values), f"Each row moves one latent, the others fixed ({name})",
                                      row_labels=[f"z{d}" for d in dims], col_labels=[f"{v:+.1f}" for v in values],
                                      height=60 * len(dims) + 80), key="vae_traversal", config=figure_config())

# ------------------------------------------------------------------------- interpolation
with tabs[2]:
    c1, c2, c3 = st.columns(3)
    with c1:
        a = image_index("First test image", "vae_interp_a", 0)
    with c2:
        b = image_index("Second test image", "vae_interp_b", 1)
    mode = c3.radio("Path", ["linear", "spherical"], key="vae_interp_mode", bind=BIND,
                    help="Spherical (slerp) keeps the path near the shell where N(0, I) puts its mass.")
    path = vae.interpolation_images(model, data[a][0], data[b][0], mode)
    strip = torch.cat([data[a][0][None], path, data[b][0][None]])
    st.plotly_chart(image_grid_figure(strip, len(strip), f"{mode} interpolation of the posterior means: "
                                      "original A | decoded A, 10 points between, decoded B | original B",
                                      col_labels=["A", "μ(A)"] + [""] * 10 + ["μ(B)", "B"], height=200),
                    key="vae_interp", config=figure_config())

# ------------------------------------------------------------- reconstructions and samples
with tabs[3]:
    first = image_index("First test image", "vae_recon_first")
    originals = torch.stack([data[i][0] for i in range(first, min(first + 8, len(data)))])
    shown = torch.cat([vae.prepare_batch(model, originals), vae.reconstruct(model, originals)])
    st.plotly_chart(image_grid_figure(shown, len(originals), "Top: test images (as the model sees them). "
                                      "Bottom: decoded from their posterior means", height=260), key="vae_recon", config=figure_config())
    seed = int(number(st, "Sample seed", 0, 10_000, 0, key="vae_sample_seed"))
    samples = model.sample(32, generator=torch.Generator().manual_seed(seed))
    st.plotly_chart(image_grid_figure(samples, 8, "Samples: E[x | z] for z ~ N(0, I)"), key="vae_samples", config=figure_config())

# ---------------------------------------------------------------------------- β comparison
with tabs[4]:
    st.markdown(f"The same architecture trained on **{dataset}** with different β "
                "(Higgins et al., 2017): larger β presses q(z|x) toward the prior, trading reconstruction "
                "for fewer, more independent latent factors.")
    if not names:
        st.info(f"No shipped VAE checkpoints were trained on {dataset}, so there is nothing to compare with.")
    comparison = vae_lab.beta_comparison(dataset, vae_checkpoint, report)     # the Space's tab shows the same
    first_seeds = [n for n in comparison["first_seeds"] if n in names]
    columns = st.columns(len(first_seeds)) if first_seeds else []
    for column, other_name in zip(columns, first_seeds):
        other_ck, other_report = vae_checkpoint(other_name), report(other_name)
        with column:
            st.subheader(label(other_name))
            st.plotly_chart(image_grid_figure(other_ck.model.sample(16, torch.Generator().manual_seed(0)), 8,
                                              "samples", height=200), key=f"vae_cmp_samples_{other_name}", config=figure_config())
            top = other_report.dims_by_kl[:5]
            values = torch.linspace(-3, 3, 7)
            st.plotly_chart(image_grid_figure(vae.traversal_images(other_ck.model, torch.zeros(other_ck.model.latent_dim),
                                                                   top, values), 7, "traversals, top-5 dims by KL",
                                              row_labels=[f"z{d}" for d in top], height=300),
                            key=f"vae_cmp_trav_{other_name}", config=figure_config())
            last = other_ck.history["epochs"][-1]
            st.metric("test ELBO (nats)", f"{last['elbo']:.1f}")
            st.caption(f"reconstruction {last['reconstruction']:.1f}, KL {last['kl']:.2f}, "
                       f"active units {int(other_report.active.sum())}/{other_ck.model.latent_dim}"
                       + (f", MIG {other_report.mig:.3f}" if other_report.mig is not None else ""))
    st.plotly_chart(kl_per_dim_figure({label(n): report(n).kl_per_dim.tolist() for n in first_seeds}),
                    key="vae_cmp_kl", config=figure_config())
    st.markdown(f"**Every checkpoint, every training seed.** {comparison['note']}")
    st.dataframe(pd.DataFrame(comparison["checkpoints"]), hide_index=True, key="vae_cmp_checkpoints")
    if comparison["summary"]:
        factors = comparison["factor_names"]
        st.markdown("**Disentanglement: mutual information gap** (Chen et al., 2018) against the known factors "
                    f"of {TEST_IMAGES} test images")
        st.plotly_chart(mig_figure({label(n): report(n).mig_per_factor for n in first_seeds}, factors),
                        key="vae_cmp_mig", config=figure_config())
        st.dataframe(pd.DataFrame(comparison["summary"]), hide_index=True, key="vae_cmp_seeds")
        st.caption(f"{len(factors)} factors ({', '.join(factors)}). A larger mean MIG at higher β is a real difference "
                   "only if the gap exceeds the sum of the two spreads (half of each range); and a model with fewer active units than factors cannot encode "
                   "them all, so check which gaps fall to almost zero.")
    else:
        st.info("MIG needs the true generative factors, which only the `shapes` dataset has.")
    st.markdown("**Training curves** from the checkpoints' histories")
    st.plotly_chart(training_curves_figure({label(n): vae_checkpoint(n).history for n in first_seeds}), key="vae_cmp_curves", config=figure_config())

# ------------------------------------------------------------------------ NLL with IWAE
with tabs[5]:
    st.markdown("log p(x) ≥ L_k = E log (1/k) Σ p(x, z_i)/q(z_i|x) (Burda et al., 2016). L_1 is the ELBO; "
                "L_k rises toward log p(x) as k grows, so the NLL estimate −L_k falls (in expectation: at large k "
                "successive estimates differ by less than their Monte Carlo noise, and may tick up by a few "
                "thousandths). These are per image, on the first test images only: −L_1 here is not the "
                "whole test set's ELBO of the β tab.")
    curves = {label(n): vae_checkpoint(n).history["nll"]["curve"] for n in first_seeds if "nll" in vae_checkpoint(n).history}
    if curves:
        images = next(vae_checkpoint(n).history["nll"]["images"] for n in names if "nll" in vae_checkpoint(n).history)
        bits, basis = vae_lab.bits_per_dim_basis(model, dataset)
        st.plotly_chart(nll_figure(curves, bits=bits), key="vae_nll_curves", config=figure_config())
        st.caption(f"Computed at the end of training on the first {images} test images (from the checkpoints); error "
                   f"bars: ± one standard error over those images, where the run recorded it. {basis}")
        st.dataframe(pd.DataFrame([{"checkpoint": n, "k": p["k"], "NLL (nats per image)": round(p["nll_nats"], 3),
                                    "± standard error (over the images)": (None if p.get("standard_error") is None
                                                                          else round(p["standard_error"], 3)),
                                    **({"bits/dim": round(p["bits_per_dim"], 5)} if bits else {})}
                                   for n, c in curves.items() for p in c]), hide_index=True)
    st.markdown(f"**Estimate it yourself** on {name}")
    likelihood_panel()

# ---------------------------------------------------------------------- attribute vectors
with tabs[6]:
    factor_index = getattr(data, "factor_index", None)
    if factor_index is not None:
        factor = st.selectbox("Factor", data.factor_names, index=1, key="vae_attr_factor", bind=BIND)
        f = data.factor_names.index(factor)
        grid_values = sorted(set(factor_index[:TEST_IMAGES, f].tolist()))
        chosen = st.select_slider("Images with factor value index", grid_values, value=grid_values[-1],
                                  key=f"vae_attr_value_{factor}", bind=BIND)
        mask = vae.factor_mask(factor_index[:TEST_IMAGES], f, chosen)
        what = f"{factor} = grid value {chosen}"
    else:
        digit = st.selectbox("Images of the digit", data.class_names, key="vae_attr_digit", bind=BIND)
        mask = data.labels[:TEST_IMAGES] == data.class_names.index(digit)
        what = f"digit {digit}"
    vector = vae.attribute_vector(latents.mu, mask)
    index = image_index("Test image to move", "vae_attr_image", 2)
    strengths = torch.linspace(-2, 2, 9)
    moved = vae.attribute_images(model, data[index][0], vector, strengths)
    st.plotly_chart(image_grid_figure(moved, len(strengths), f"μ(x) + α·v, v = mean code with {what} − mean code "
                                      "without", col_labels=[f"α={a:+.1f}" for a in strengths], height=200),
                    key="vae_attr", config=figure_config())
    st.caption(f"v has norm {vector.norm():.2f}, built from {int(mask.sum())} images with and "
               f"{int((~mask).sum())} without.")

explain(link, link_message)
