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
    note = ("Every training seed is in the table: a finding about β rests on all of them, with their spread; a "
            "difference is real only if the seeds' ranges do not overlap." if seeds > 1 else
            "Only one training seed per β ships here: no spread can be shown, so no difference should be read as a "
            "finding.")
    return {"groups": groups, "first_seeds": [g[0] for g in groups.values()], "checkpoints": checkpoints,
            "summary": summary, "factor_names": factor_names, "note": note}


# ----------------------------------------------------------------------------- lesson checks
def _vae_pair_validate(words, options, settings):
    return options_problems(options, {}) + checkpoint_problems(words, 2, ("vae", "vae-flow-prior"))


def _evaluate_pair(words, load) -> list[dict]:


    rows = []
    for w in words:
        model = load(w).model
        data = test_images(dataset_of(load(w)), model.image_size)
        rows.append({"checkpoint": w, **{k: round(v, 2) for k, v in vae.evaluate(model, data.images).items()}})
    return rows


def _more_information_run(words, options, settings):
    rows = _evaluate_pair(words, options["_load"])
    more = 0 if rows[0]["kl"] >= rows[1]["kl"] else 1
    text = (f"**{words[more]} keeps more information about each digit in z:** KL(q(z|x) ‖ p(z)) is " +
            " against ".join(f"{r['kl']:.1f}" for r in rows) + " nats per test image. A larger β pays more for every "
            "nat of KL, so the encoder sends less through the code.")
    return Reveal(more, text, table=rows)


def _better_reconstruction_run(words, options, settings):
    rows = _evaluate_pair(words, options["_load"])
    better = 0 if rows[0]["reconstruction"] <= rows[1]["reconstruction"] else 1
    text = (f"**{words[better]} reconstructs better:** the reconstruction error −E_q[log p(x|z)] is " +
            " against ".join(f"{r['reconstruction']:.1f}" for r in rows) + " nats per test image (lower is better), "
            "and the KL term " + " against ".join(f"{r['kl']:.1f}" for r in rows) + " nats: what one gains, the "
            "other pays.")
    return Reveal(better, text, table=rows)


CHECKS = {
    "more-information": Check("more-information CHECKPOINT_A CHECKPOINT_B", the_names, _vae_pair_validate,
                              _more_information_run),
    "better-reconstruction": Check("better-reconstruction CHECKPOINT_A CHECKPOINT_B", the_names, _vae_pair_validate,
                                   _better_reconstruction_run),
}
