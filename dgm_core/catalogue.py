"""The checkpoints that ship with DGM Lab, and the helpers both front ends use to read them.

The page and the Space each wrap these functions in their own cache (st.cache_resource,
functools.lru_cache); what is computed is computed here, once, so the two cannot disagree.
Reading the catalogue opens only `config.json` and `history.json`: no weights are loaded and no
model family is imported until a checkpoint is asked for.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dgm_core.checkpoints import CHECKPOINT_DIR, CONFIG_NAME, HISTORY_NAME

#: The Fréchet classifier every image family on `digits` is judged by (dgm_core.features).
JUDGE = "classifier-digits"
#: The conditional GAN of the GAN lab.
CGAN = "cgan-digits"
#: Test images behind the VAE reports (MIG, attribute vectors) and the pages' image pickers.
TEST_IMAGES = 1000


@dataclass(frozen=True)
class Shipped:
    """One shipped checkpoint, as its files describe it."""
    name: str
    model_type: str
    run: dict                     # the training settings recorded in history.json ("run")

    @property
    def dataset(self) -> str:
        return self.run.get("dataset", "digits")

    @property
    def seed(self) -> int:
        return int(self.run.get("seed", 0))

    @property
    def model(self) -> str:
        """The trainer's model name (`python -m training.run MODEL`): vae, gan, wgan, ..."""
        return self.run.get("model", self.model_type)


def shipped(directory: Path = CHECKPOINT_DIR) -> list[Shipped]:
    """Every checkpoint folder under `directory` with a readable config, sorted by name."""
    found = []
    if not directory.is_dir():
        return found
    for folder in sorted(directory.iterdir()):
        try:
            config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
            history = json.loads((folder / HISTORY_NAME).read_text(encoding="utf-8")) if (folder / HISTORY_NAME).is_file() else {}
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue                # not a checkpoint, or a corrupt one: load_checkpoint names the problem
        if isinstance(config, dict) and "model_type" in config:
            found.append(Shipped(folder.name, config["model_type"], history.get("run", {})))
    return found


def image_gan_runs(dataset: str = "digits") -> dict[str, list[str]]:
    """The shipped unconditional image GANs on `dataset`, by trainer model (gan, wgan, wgan-gp),
    each a list of checkpoint names, one per training seed, seed 0 first."""
    runs: dict[str, list[Shipped]] = {}
    for item in shipped():
        if item.model_type == "image-gan" and item.model in ("gan", "wgan", "wgan-gp") and item.dataset == dataset:
            runs.setdefault(item.model, []).append(item)
    order = {"gan": 0, "wgan": 1, "wgan-gp": 2}
    return {kind: [i.name for i in sorted(items, key=lambda i: i.seed)]
            for kind, items in sorted(runs.items(), key=lambda kv: order[kv[0]])}


def load_image_gan_runs(load, dataset: str = "digits") -> tuple[dict[str, list], list[str]]:
    """The shipped image GANs loaded with `load(name)` (each front end passes its cached loader):
    kind -> checkpoints in seed order, and a message for each that could not be loaded (left out)."""
    from dgm_core.checkpoints import CheckpointError

    runs, problems = {}, []
    for kind, names in image_gan_runs(dataset).items():
        loaded = []
        for name in names:
            try:
                loaded.append(load(name))
            except CheckpointError as exc:
                problems.append(f"Checkpoint {name} could not be loaded and is left out: {exc}")
        if loaded:
            runs[kind] = loaded
    return runs, problems


def vae_runs() -> dict[str, Shipped]:
    """name -> Shipped for every shipped VAE (its run has the dataset, β and seed)."""
    return {item.name: item for item in shipped() if item.model_type == "vae"}


def dataset_of(checkpoint) -> str:
    """The dataset a loaded checkpoint (dgm_core.checkpoints.Checkpoint) was trained on."""
    return checkpoint.history.get("run", {}).get("dataset", "digits")


def test_images(dataset: str, image_size: int):
    """The test split the labs measure checkpoints on (the first TEST_IMAGES of `shapes`)."""
    from dgm_core.data import load_dataset

    return load_dataset(dataset, "test", image_size, **({"n": TEST_IMAGES} if dataset == "shapes" else {}))


def vae_report(checkpoint):
    """The latent report (dgm_core.vae.latent_report) of a VAE checkpoint on its test images."""
    from dgm_core import vae

    data = test_images(dataset_of(checkpoint), checkpoint.model.image_size)
    return vae.latent_report(checkpoint.model, data.images[:TEST_IMAGES], getattr(data, "factor_index", None))


def judge_with_floor(dataset: str = "digits", judge: str = JUDGE):
    """The Fréchet classifier, the real-vs-real floor of its distance (train against test features:
    no generator can be expected below it) and how many of its features are alive on the test set."""
    from dgm_core.checkpoints import load_checkpoint
    from dgm_core.classifier import ImageClassifier
    from dgm_core.data import load_dataset
    from dgm_core.features import classifier_features, live_features
    from dgm_core.metrics import frechet_distance

    model = load_checkpoint(judge, expected=ImageClassifier).model
    size = model.image_size
    train_features = classifier_features(model, load_dataset(dataset, "train", size).images)
    test_features = classifier_features(model, load_dataset(dataset, "test", size).images)
    return model, frechet_distance(train_features, test_features), live_features(test_features)


def vae_seed_groups(dataset: str) -> dict[float, list[str]]:
    """The shipped VAEs on `dataset` grouped by β, each group's names in seed order (seed 0 first):
    a finding about β rests on every seed of both groups, not on one pair of checkpoints."""
    groups: dict[float, list[Shipped]] = {}
    for item in vae_runs().values():
        # the β comparison's own architecture: not the 8x8 categorical VAE of the comparison lab
        if item.dataset == dataset and item.run.get("beta_schedule", "constant") == "constant" \
                and item.run.get("likelihood", "bernoulli") != "categorical":
            groups.setdefault(float(item.run.get("beta", 1.0)), []).append(item)
    return {beta: [i.name for i in sorted(items, key=lambda i: i.seed)] for beta, items in sorted(groups.items())}


# ---------------------------------------------------------------------- normalizing flows
def flow_runs() -> dict[str, Shipped]:
    """name -> Shipped for every shipped image RealNVP."""
    return {item.name: item for item in shipped() if item.model_type == "realnvp"}


def flow_ood_report(checkpoint, n: int = 500, seed: int = 0):
    """The OOD study of a RealNVP checkpoint (dgm_core.flow.ood_report): its own test set (the first n
    images) against every OOD set, all at the model's size and levels; the entropy estimate of the
    typicality test comes from the first 2n training images."""
    from dgm_core import flow
    from dgm_core.data import load_dataset

    model, dataset = checkpoint.model, dataset_of(checkpoint)
    size, levels = model.image_size, model.levels
    quantise = lambda x: flow.to_levels(x, levels) / (levels - 1)  # noqa: E731
    test = quantise(load_dataset(dataset, "test", size, **({"n": n} if dataset == "shapes" else {})).images[:n])
    train = quantise(load_dataset(dataset, "train", size, **({"n": 2 * n} if dataset == "shapes" else {})).images[:2 * n])
    ood = flow.ood_images(dataset, size, levels, len(test), seed=seed)
    return flow.ood_report(model, test, train, ood, in_name=dataset, seed=seed)


def flow_prior_groups(dataset: str = "digits") -> dict[str, list[str]]:
    """The VAEs the prior comparison sets side by side, each in seed order: the Gaussian-prior VAEs
    (β = 1, constant) and the RealNVP-prior VAEs trained with the same settings."""
    flows = sorted((i for i in shipped() if i.model_type == "vae-flow-prior" and i.dataset == dataset),
                   key=lambda i: i.seed)
    if not flows:
        return {}
    settings = ("latent_dim", "width", "hidden", "likelihood", "epochs", "beta")
    setting = lambda run, k: run.get(k, 0) if k == "hidden" else run.get(k)  # noqa: E731  (runs before --hidden: none)
    reference = {k: setting(flows[0].run, k) for k in settings}
    gaussian = sorted((i for i in vae_runs().values() if i.dataset == dataset
                       and i.run.get("beta_schedule", "constant") == "constant"
                       and all(setting(i.run, k) == v for k, v in reference.items())), key=lambda i: i.seed)
    return {"Gaussian prior N(0, I)": [i.name for i in gaussian], "RealNVP prior": [i.name for i in flows]}


# ------------------------------------------------------------------------- energy models
CHAINS = 500          # chains behind each Fréchet distance of the JEM comparison


def jem_comparison(names, load, seed: int = 0) -> dict:
    """JEM, JEM++ and the plain classifier of the same network side by side: test accuracy, training
    seconds per epoch, and for the generative ones the classifier-feature Fréchet distance (the GAN
    lab's judge) of their chains' starts and of the chains after the sampler they were trained with,
    beside the shipped GANs' last distance. `load(name)` is the front end's cached loader."""
    from dgm_core import ebm
    from dgm_core.data import load_dataset
    from dgm_core.features import classifier_features

    judge, floor, _ = judge_with_floor()
    test_features = classifier_features(judge, load_dataset("digits", "test", judge.image_size).images)
    rows, curves, samples = [], {}, {}
    generator = torch_generator(seed)
    gaussians = None
    for name in names:
        checkpoint = load(name)
        run, last = checkpoint.history.get("run", {}), checkpoint.history["epochs"][-1]
        generative = run.get("generative_weight", 1.0) > 0
        kind = ("JEM++" if run.get("model") == "jempp" else "JEM") if generative else "classifier (same network)"
        row = {"model": kind, "checkpoint": name, "seed": run.get("seed", 0),
               "test accuracy (%)": round(100 * last.get("test_accuracy", float("nan")), 1),
               # Fréchet distance of the chains' starts and of the chains, in the judge's features
               "seconds per epoch": round(last.get("seconds", 0.0) / max(last["epoch"], 1), 2),
               "FD of the starts": None, "FD of the chains": None, "chains": "none: a classifier has no sampler"}
        if generative:
            model = checkpoint.model
            shape = (model.channels, model.image_size, model.image_size)
            if run.get("model") == "jempp":
                if gaussians is None:
                    train = load_dataset("digits", "train", model.image_size)
                    gaussians = ebm.ClassGaussians(train.images, train.labels, model.outputs)
                starts = gaussians.sample(CHAINS, generator)[0]
            else:
                starts = ebm.uniform_noise(CHAINS, shape, generator)
            sampler = ebm.recipe_sampler(run)
            row["chains"] = (f"{sampler.steps} proximal steps of {sampler.inner} inner, from per-class Gaussians"
                             if run.get("model") == "jempp" else f"{sampler.steps} SGLD steps from uniform noise")
            report = ebm.chains_report(model, sampler, starts, judge, test_features, generator)
            row["FD of the starts"], row["FD of the chains"] = round(report["fid_start"], 1), round(report["fid_chains"], 1)
            if kind not in {r["model"] for r in rows}:
                curves[f"{kind} ({name}): {row['chains']}"] = report["energy_curve"]
                samples[f"{kind} ({name}): 32 chains after {sampler.steps} steps"] = report["samples"][:32]
        rows.append(row)
    gans = {}
    for kind, members in image_gan_runs().items():
        finals = [load(m).history["epochs"][-1].get("fid_classifier") for m in members]
        finals = [f for f in finals if f is not None]
        if finals:
            gans[kind] = sum(finals) / len(finals)
    accuracy = {r["checkpoint"]: load(r["checkpoint"]).history["epochs"][-1].get("test_accuracy", float("nan"))
                for r in rows}                  # unrounded, for the averages below
    classifier = [accuracy[r["checkpoint"]] for r in rows if r["model"].startswith("classifier")]
    note = (f"Fréchet distance (FD): how far {CHAINS} fresh chains are from the test digits in the features of "
            f"`{JUDGE}`, the GAN lab's digit classifier; lower is better, and real digits against real digits give "
            f"{floor:.1f}, the floor. 'FD of the starts' is where the chains begin, 'FD of the chains' where the "
            "sampler each model was trained with takes them. The GAN lab's GANs, for scale: " +
            ", ".join(f"{k} {v:.1f}" for k, v in gans.items()) + ". Samples are upscaled from 8x8 to the judge's "
            f"{judge.image_size}x{judge.image_size} the way the data were.")
    if classifier:
        note += (f" Accuracy is on {len(test_features)} test digits, so one image is "
                 f"{100 / len(test_features):.2f} points: two models can tie exactly.")
        base = sum(classifier) / len(classifier)
        for kind in ("JEM", "JEM++"):
            accs = [accuracy[r["checkpoint"]] for r in rows if r["model"] == kind]
            if accs:
                note += (f" {kind} is {100 * (base - sum(accs) / len(accs)):.1f} points below the plain classifier on "
                         f"average over {len(accs)} seed{'s' if len(accs) > 1 else ''} ({100 * min(accs):.1f}–"
                         f"{100 * max(accs):.1f} % against {100 * min(classifier):.1f}–{100 * max(classifier):.1f} %).")
    return {"rows": rows, "energy_curves": curves, "samples": samples, "note": note, "gans": gans, "floor": floor}


def buffer_against_noise(load) -> dict[str, dict[str, Path]]:
    """The sample grids the trainer wrote for the shipped EBM with a replay buffer and the one whose
    chains start from uniform noise (same network, data and SGLD settings), by snapshot:
    {"epoch-005": {"replay buffer": png, "uniform noise": png}, ...}; {} when either is not shipped."""
    runs = [i.name for i in sorted(shipped(), key=lambda i: (i.name, i.seed)) if i.model_type == "ebm" and i.model == "ebm"]
    buffer = [n for n in runs if not n.endswith("-noise")]
    noise = [n for n in runs if n.endswith("-noise")]
    if not (buffer and noise):
        return {}
    grids: dict[str, dict[str, Path]] = {}
    for label, name in (("replay buffer", buffer[0]), ("uniform noise", noise[0])):
        for png in load(name).samples:
            grids.setdefault(png.stem, {})[label] = png
    return {epoch: pair for epoch, pair in sorted(grids.items()) if len(pair) == 2}


def conditional_samples(name: str, load, digit: int, steps: int, seed: int, n: int = 16) -> dict:
    """`n` chains of the class-conditional energy `name` for class `digit`: SGLD from uniform noise on
    E(x, y = digit), with the step, noise and clip it was trained with and `steps` steps; the chains'
    mean energy per step, and how many of them the judge (the GAN lab's classifier) reads as `digit`,
    an outside check that the samples are of the class asked (chance: 1 in 10)."""
    import torch

    from dgm_core import ebm
    from dgm_core.data.builtin import resize

    checkpoint = load(name)
    base = ebm.recipe_sampler(checkpoint.history.get("run", {}))
    sampler = ebm.SGLD(steps=steps, step_size=base.step_size, sigma_start=base.sigma_start,
                       sigma_end=base.sigma_end, grad_clip=base.grad_clip)
    x, _, energies = ebm.sample_chains(checkpoint.model, n, sampler, torch_generator(seed), y=torch.full((n,), digit))
    judge = load(JUDGE).model
    with torch.no_grad():
        read = judge(resize(x.clamp(0, 1), judge.image_size)).argmax(1)
    agree = int((read == digit).sum())
    return {"samples": x.cpu(), "energy_curve": [float(e.mean()) for e in energies], "read_as_asked": agree / n,
            "note": f"{agree} of {n} chains are read as a {digit} by `{JUDGE}` (chance: about 1 in 10)."}


def torch_generator(seed: int):
    import torch

    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- the discrete-latent lab
#: The representations of an image's codes that the clustering panel offers (dgm_core.vqvae.codes).
REPRESENTATIONS = {"latent": "quantised latent, flattened", "histogram": "code histogram"}


def vqvae_runs() -> dict[str, Shipped]:
    return {i.name: i for i in sorted(shipped(), key=lambda i: (i.name, i.seed)) if i.model_type == "vqvae"}


def vqvae_codes(checkpoint, split: str = "test") -> dict:
    """The codes (vqvae.codes) of every digit of `split`, with the images and labels."""
    from dgm_core import vqvae
    from dgm_core.data import load_dataset

    data = load_dataset(dataset_of(checkpoint), split, checkpoint.model.image_size)
    return {**vqvae.codes(checkpoint.model, data.images), "images": data.images, "labels": data.labels.numpy()}


def _representation(codes: dict, representation: str):
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {', '.join(REPRESENTATIONS)}; got {representation!r}")
    return codes[representation].numpy()


def cluster_report(codes: dict, representation: str, k: int, seed: int = 0) -> dict:
    """k-means on the test codes, judged against the labels it never saw: silhouette, matched accuracy,
    confusion after matching, the label shares and size of each cluster."""
    import numpy as np

    from dgm_core import clustering

    features, labels = _representation(codes, representation), codes["labels"]
    clusters = clustering.kmeans(features, k, seed)
    num_labels = int(labels.max()) + 1
    return {"clusters": clusters, "silhouette": clustering.silhouette(features, clusters),
            "matched": clustering.match_clusters(labels, clusters, num_labels),
            "matched accuracy": clustering.matched_accuracy(labels, clusters, num_labels),
            "confusion": clustering.matched_confusion(labels, clusters, num_labels),
            "share": clustering.label_distribution(labels, clusters, num_labels, k),
            "sizes": np.bincount(clusters, minlength=k), "k": k, "representation": representation}


def code_map(codes: dict, representation: str, method: str, parameter: float, seed: int = 0):
    """2-D t-SNE (parameter: perplexity) or UMAP (parameter: neighbours) coordinates of the test codes."""
    from dgm_core import clustering

    features = _representation(codes, representation)
    if method == "tsne":
        return clustering.embed_2d(features, "tsne", perplexity=float(parameter), seed=seed)
    return clustering.embed_2d(features, method, neighbours=int(parameter), seed=seed)


def pseudo_label_report(train_codes: dict, test_codes: dict, representation: str, k: int, seed: int = 0) -> dict:
    """Logistic regression on the codes with true labels against k-means pseudo-labels (clustering.pseudo_label_study)."""
    from dgm_core import clustering

    return clustering.pseudo_label_study(_representation(train_codes, representation), train_codes["labels"],
                                         _representation(test_codes, representation), test_codes["labels"], k, seed)


def pseudo_label_rows(study: dict, k: int) -> list[dict]:
    """The two classifiers of a pseudo-label study as table rows."""
    return [{"classifier trained on": "the true labels", "test accuracy (%)": round(100 * study["true labels"], 1)},
            {"classifier trained on": f"k-means pseudo-labels (k = {k})",
             "test accuracy (%)": round(100 * study["pseudo-labels"], 1)}]


def codebook_comparison(load) -> dict:
    """Every shipped VQ-VAE's codebook over training (test perplexity and dead codes per epoch) and at
    the end, grouped by whether it restarted dead codes: the effect of restarts, seed by seed."""
    rows, curves = [], {}
    for name in vqvae_runs():
        checkpoint = load(name)
        run, epochs = checkpoint.history.get("run", {}), checkpoint.history["epochs"]
        restarts = "restarts" if run.get("restart_every", 0) else "no restarts"
        label = f"{run.get('codebook', 'loss')} codebook, {restarts}, seed {run.get('seed', 0)}"
        curves[label] = epochs
        last = epochs[-1]
        rows.append({"checkpoint": name, "codebook": run.get("codebook", "loss"), "dead-code restarts": restarts,
                     "seed": run.get("seed", 0), "codes": run.get("codes"),
                     "test perplexity": round(last["test_perplexity"], 1), "dead codes (test)": last["test_dead_codes"],
                     "codes restarted in training": last.get("restarted_so_far", 0),
                     "test MSE per pixel": round(last["test_mse"], 4)})
    return {"rows": rows, "curves": curves}
