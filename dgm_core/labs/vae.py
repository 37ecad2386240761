"""What the VAE lab shows: the latent report of a checkpoint, the β comparison (one call, the same table in
the app and the Space), and the lesson checks it registers.

The maths is in dgm_core.vae (the model, the ELBO and IWAE bounds, the latent-space tools)."""
from __future__ import annotations

import numpy as np

from dgm_core import vae
from dgm_core.catalogue import TEST_IMAGES, Shipped, dataset_of, runs, test_images
from dgm_core.lessons import Check, Reveal, checkpoint_problems, options_problems, the_names


# ----------------------------------------------------------------------------- a checkpoint's latents
def vae_report(checkpoint):
    """The latent report (dgm_core.vae.latent_report) of a VAE checkpoint on its test images."""
    data = test_images(dataset_of(checkpoint), checkpoint.model.image_size)
    return vae.latent_report(checkpoint.model, data.images[:TEST_IMAGES], getattr(data, "factor_index", None))


def bits_per_dim_basis(model: vae.ConvVAE, dataset: str) -> tuple[bool, str]:
    """Whether bits/dim means something for `model` on `dataset`, and the sentence that says so.

    It does when the model's pixels are the data's own: then the figure is per real pixel, at the
    stated quantisation (a Bernoulli decoder models binarised images, 2 levels). It does not when
    the data was resized for the model (digits: 8x8 images upscaled to 28x28): a density over 784
    interpolated pixels measures the interpolation, and compares with nothing published."""
    from dgm_core.data import DATASETS

    info = DATASETS.get(dataset)
    native = info.native_size if info is not None else None
    levels = {"bernoulli": "binarised images (2 levels)", "gaussian": "continuous pixels in [0, 1]",
              "categorical": f"the images' {model.levels} grey levels"}[model.likelihood]
    if native is not None and native != model.image_size:
        return False, (f"No bits/dim: this model sees the {dataset} data's {native}x{native} images upscaled to "
                       f"{model.image_size}x{model.image_size}, so a per-pixel figure would be over interpolated "
                       "pixels and compare with nothing. The NLL is per image, in nats.")
    return True, (f"bits/dim = NLL / ({model.pixels} pixels · ln 2), over the {model.image_size}x{model.image_size} "
                  f"pixels the data has, for {levels}.")


# ----------------------------------------------------------------------------- the β comparison
def vae_seed_groups(dataset: str) -> dict[float, list[str]]:
    """The shipped VAEs on `dataset` grouped by β, each group's names in seed order (seed 0 first):
    a finding about β rests on every seed of both groups, not on one pair of checkpoints."""
    groups: dict[float, list[Shipped]] = {}
    for item in runs("vae").values():
        # the β comparison's own architecture: not the 8x8 categorical VAE of the comparison lab
        if item.dataset == dataset and item.run.get("beta_schedule", "constant") == "constant" \
                and item.run.get("likelihood", "bernoulli") != "categorical":
            groups.setdefault(float(item.run.get("beta", 1.0)), []).append(item)
    return {beta: [i.name for i in sorted(items, key=lambda i: i.seed)] for beta, items in sorted(groups.items())}


#: A factor whose mutual information gap is below this is reported as largely lost by the model.
LOST_FACTOR_GAP = 0.05


def beta_seed_summary(reports: dict[float, list[vae.LatentReport]], factor_names: list[str] | None) -> list[dict]:
    """One row per β from the latent reports of its training seeds: MIG as mean and range over the
    seeds, active units per seed, each factor's mean gap and the factors below LOST_FACTOR_GAP
    (a higher MIG can come with factors the model no longer encodes)."""
    rows = []
    for beta, group in reports.items():
        row = {"beta": beta, "seeds": len(group), "active_units": [int(r.active.sum()) for r in group]}
        migs = [r.mig for r in group if r.mig is not None]
        if migs and factor_names:
            gaps = np.mean([r.mig_per_factor for r in group], axis=0)
            row.update(mig_mean=float(np.mean(migs)), mig_min=min(migs), mig_max=max(migs),
                       gaps=dict(zip(factor_names, gaps.tolist())),
                       lost=[name for name, gap in zip(factor_names, gaps) if gap < LOST_FACTOR_GAP])
        rows.append(row)
    return rows


def beta_comparison(dataset: str, load, report) -> dict:
    """The β comparison on `dataset`, as both front ends show it; `load(name)` and `report(name)` are
    the front end's cached checkpoint loader and latent report (vae_report). Returns
      "groups":      β -> checkpoint names in seed order (vae_seed_groups),
      "first_seeds": the seed-0 checkpoint of each β (the figures show these),
      "checkpoints": one table row per checkpoint: β, seed, the last epoch's test ELBO, reconstruction and
                     KL (nats per image), active units, MIG where the data has known factors,
      "summary":     one table row per β over its seeds (beta_seed_summary),
      "factor_names": the data's factors, or None, and "note": what the seeds allow one to read."""
    groups = vae_seed_groups(dataset)
    data = test_images(dataset, load(next(iter(groups.values()))[0]).model.image_size) if groups else None
    factor_names = getattr(data, "factor_names", None)
    checkpoints = []
    for beta, group in groups.items():
        for name in group:
            last, latents = load(name).history["epochs"][-1], report(name)
            checkpoints.append({"checkpoint": name, "β": f"{beta:g}", "seed": load(name).history.get("run", {}).get("seed", 0),
                                "test ELBO": round(last["elbo"], 2), "reconstruction": round(last["reconstruction"], 2),
                                "KL": round(last["kl"], 2), "active units": int(latents.active.sum()),
                                "MIG": None if latents.mig is None else round(latents.mig, 4)})
    summary = []
    if factor_names:
        for row in beta_seed_summary({beta: [report(n) for n in group] for beta, group in groups.items()}, factor_names):
            summary.append({"β": f"{row['beta']:g}", "training seeds": row["seeds"],
                            "MIG (mean)": round(row["mig_mean"], 3), "MIG range": f"{row['mig_min']:.3f}–{row['mig_max']:.3f}",
                            "active units per seed": ", ".join(map(str, row["active_units"])),
                            **{f"gap: {name}": round(gap, 3) for name, gap in row["gaps"].items()},
                            f"factors with gap < {LOST_FACTOR_GAP:g}": ", ".join(row["lost"]) or "none"})
    seeds = min((len(g) for g in groups.values()), default=0)
    note = ("Every training seed is in the table: a finding about β rests on all of them, with their spread. As "
            "everywhere in the lab, a figure's spread is half its seeds' range, and two figures whose gap is within "
            "the sum of their spreads tie (with two seeds each: when their ranges overlap)." if seeds > 1 else
            "Only one training seed per β ships here: no spread can be shown, so no difference should be read as a "
            "finding." if max((len(g) for g in groups.values()), default=0) <= 1 else
            "Some β have one training seed here (" + ", ".join(f"β = {b:g}" for b, g in groups.items() if len(g) == 1)
            + "): a difference from them has no spread to be weighed against, so it should not be read as a finding.")
    return {"groups": groups, "first_seeds": [g[0] for g in groups.values()], "checkpoints": checkpoints,
            "summary": summary, "factor_names": factor_names, "note": note}


# ----------------------------------------------------------------------------- lesson checks
def _vae_pair_validate(words, options, settings):
    return options_problems(options, {}) + checkpoint_problems(words, 2, ("vae", "vae-flow-prior"))


def _evaluate_pairs(words, load, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """The test ELBO terms (vae.evaluate, the function the trainer records each epoch with; evaluation seed 0
    is the trainer's own) of every seed of each named checkpoint's model (catalogue.seed_group): the rows per
    checkpoint, and per name the mean over its seeds."""
    from dgm_core.catalogue import seed_group

    rows, means = [], []
    for w in words:
        group = []
        for name in seed_group(w):
            model = load(name).model
            data = test_images(dataset_of(load(name)), model.image_size)
            group.append({"checkpoint": name, **{k: round(v, 2) for k, v in vae.evaluate(model, data.images,
                                                                                           seed=seed).items()}})
        rows += group
        means.append({"name": w, "seeds": len(group), **{k: float(np.mean([g[k] for g in group]))
                                                         for k in ("kl", "reconstruction")}})
    return rows, means


def _seeds(means: list[dict]) -> str:
    return " and ".join(f"{m['name']} over {m['seeds']} seed{'s' if m['seeds'] > 1 else ''}" for m in means)


def _more_information_run(words, options, settings):
    rows, means = _evaluate_pairs(words, options["_load"], int(options.get("_seed", 0)))
    more = 0 if means[0]["kl"] >= means[1]["kl"] else 1
    text = (f"**{words[more]} keeps more information about each digit in z:** KL(q(z|x) ‖ p(z)) is " +
            " against ".join(f"{m['kl']:.1f}" for m in means) + f" nats per test image on average ({_seeds(means)}). "
            "A larger β pays more for every nat of KL, so the encoder sends less through the code.")
    return Reveal(more, text, table=rows)


def _better_reconstruction_run(words, options, settings):
    rows, means = _evaluate_pairs(words, options["_load"], int(options.get("_seed", 0)))
    better = 0 if means[0]["reconstruction"] <= means[1]["reconstruction"] else 1
    text = (f"**{words[better]} reconstructs better:** the reconstruction error −E_q[log p(x|z)] is " +
            " against ".join(f"{m['reconstruction']:.1f}" for m in means) + " nats per test image (lower is better), "
            "and the KL term " + " against ".join(f"{m['kl']:.1f}" for m in means) + f" nats, on average "
            f"({_seeds(means)}): what one gains, the other pays.")
    return Reveal(better, text, table=rows)


CHECKS = {
    "more-information": Check("more-information CHECKPOINT_A CHECKPOINT_B", the_names, _vae_pair_validate,
                              _more_information_run),
    "better-reconstruction": Check("better-reconstruction CHECKPOINT_A CHECKPOINT_B", the_names, _vae_pair_validate,
                                   _better_reconstruction_run),
}
