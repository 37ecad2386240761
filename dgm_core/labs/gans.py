"""What the GAN lab shows: the live panel's ranges, defaults and settings line; the shipped image GANs
by kind and seed, and their matched comparison; the lesson checks it registers.

The maths is in dgm_core.gan (objectives, the live 2-D trainer, the image GANs, the 1-D theory)."""
from __future__ import annotations

import numpy as np

from dgm_core import catalogue
from dgm_core.gan import DROPPED_SHARE, KINDS, ToyGANConfig
from dgm_core.lessons import Check, Reveal, no_names, option, options_problems

NAMES = {"gan": "GAN", "wgan": "WGAN", "wgan-gp": "WGAN-GP"}

# ----------------------------------------------------------------------------- the live panel
#: The live panel's default WGAN clip, for its 64-unit critic (ToyGANConfig says why not 0.01).
DEFAULT_CLIP = ToyGANConfig.clip
CLIP_LESSON = ("c = 0.01 is the paper's value for 512-unit critics; on this 64-unit critic it clips so tightly "
               "that the critic can hardly vary, and the clipped WGAN learns almost nothing: try it.")

#: The ranges the live panels offer for each setting (the page's number boxes and the Space check them).
LIVE_RANGES = {"n_critic": (1, 50), "clip": (0.001, 1.0), "gp_lambda": (0.001, 100.0), "seed": (0, 10_000),
               "lr": (1e-6, 1.0)}


def describe_settings(configs: dict[str, ToyGANConfig]) -> str:
    """The settings a side-by-side run trains with, in one line (the page shows which values are in
    force: a number field left out of range keeps its last valid value)."""
    first = next(iter(configs.values()))
    wgans = [c for c in configs.values() if c.kind != "gan"]
    parts = [f"data {first.dataset}", f"seed {first.seed}", f"GAN loss {first.generator_loss}"]
    if wgans:
        parts.append(f"n_critic {wgans[0].n_critic}")
    if "wgan" in configs:
        parts.append(f"clip c {configs['wgan'].clip:g}")
    if "wgan-gp" in configs:
        parts.append(f"λ {configs['wgan-gp'].gp_lambda:g}")
    rates = ", ".join(f"{c.kind} {c.lr_generator:g} / {c.lr_critic:g}" for c in configs.values())
    return " · ".join(parts) + f" · learning rates (generator / critic): {rates}"


# ----------------------------------------------------------------- the shipped image GANs
def image_gan_runs(dataset: str = "digits") -> dict[str, list[str]]:
    """The shipped unconditional image GANs on `dataset`, by trainer model (gan, wgan, wgan-gp),
    each a list of checkpoint names, one per training seed, seed 0 first."""
    runs: dict[str, list[catalogue.Shipped]] = {}
    for item in catalogue.shipped():
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


def matched_comparison(runs: dict[str, list[dict]]) -> list[dict]:
    """One row per model from the histories of its training seeds (kind -> [history, ...]): the
    updates and wall-clock behind the last epoch, and the last Fréchet distance as the seeds' mean
    and range. Models with different n_critic are compared at matched generator updates, so the
    table states them; `matched` in each row says whether every model made the same number."""
    finals = {kind: [h["epochs"][-1] for h in histories if h.get("epochs")] for kind, histories in runs.items()}
    updates = {e.get("generator_updates") for rows in finals.values() for e in rows}
    table = []
    for kind, rows in finals.items():
        if not rows:
            continue
        fids = [e["fid_classifier"] for e in rows if "fid_classifier" in e]
        dropped = [sum(c / max(sum(e["class_histogram"]), 1) < DROPPED_SHARE for c in e["class_histogram"])
                   for e in rows if "class_histogram" in e]
        table.append({
            "kind": kind, "seeds": len(rows),
            "generator_updates": rows[0].get("generator_updates"), "critic_updates": rows[0]["step"],
            "epochs": rows[0]["epoch"],
            "seconds": float(np.mean([e["seconds"] for e in rows])) if all("seconds" in e for e in rows) else None,
            "fid_mean": float(np.mean(fids)) if fids else None,
            "fid_min": min(fids, default=None), "fid_max": max(fids, default=None),
            "classes_dropped": max(dropped, default=None),
            "matched": len(updates) == 1 and None not in updates,
        })
    return table


# ----------------------------------------------------------------------------- lesson checks
GAN_KINDS = KINDS


def _race_run(words, options, settings):
    from dgm_core import gan
    from dgm_core.figures.gan import coverage_figure

    steps = int(option(options, "steps", 2000, 100, 10000, whole=True))
    every = 100
    models = {k: gan.ToyGAN(gan.default_config(k)) for k in GAN_KINDS}
    coverage = {k: [] for k in GAN_KINDS}
    first = {}
    for done in range(every, steps + 1, every):
        for kind, model in models.items():
            model.train(every)
            row = {"step": done, **model.mode_coverage()}
            coverage[kind].append(row)
            if row["captured"] == row["modes"] and kind not in first:
                first[kind] = done
        options["_progress"](done / steps, f"{done:,} of at most {steps:,} generator steps of each model; "
                                           f"{len(first)} of 3 have covered all 8 modes")
        if len(first) == len(models):
            break
    winner = min(first, key=lambda k: (first[k], GAN_KINDS.index(k))) if first else None
    names = NAMES
    reached = "; ".join(f"{names[k]} at {first[k]} steps" if k in first else f"{names[k]} not within {steps}"
                        for k in GAN_KINDS)
    text = (f"**{names[winner] + ' covered all 8 modes first' if winner else f'None covered all 8 within {steps} steps'}.** "
            f"A live run of the lab's three default models on the 8 Gaussians, from the same start, checked every "
            f"{every} generator steps (a mode counts when it holds a quarter of its fair share of samples within 3σ): "
            f"{reached}. Run it in the live panel above to watch it happen; another seed can change the order.")
    return Reveal(GAN_KINDS.index(winner) if winner else 3, text, coverage_figure(coverage, 8))


def _lowest_fd_run(words, options, settings):
    import numpy as np

    from dgm_core.features import classifier_features
    from dgm_core.metrics import frechet_distance

    load = options["_load"]
    judge, floor, _ = catalogue.judge_with_floor()
    test = classifier_features(judge, catalogue.test_images("digits", judge.image_size).images)
    rows = []
    for kind, names in catalogue.image_gan_runs().items():
        fds = [frechet_distance(classifier_features(judge, load(n).model.sample(1000, seed=0)), test) for n in names]
        rows.append({"model": {"gan": "GAN", "wgan": "WGAN", "wgan-gp": "WGAN-GP"}[kind], "seeds": len(names),
                     "FD (mean)": round(float(np.mean(fds)), 1),
                     "FD per seed": ", ".join(f"{f:.1f}" for f in fds)})
    best = min(rows, key=lambda r: r["FD (mean)"])["model"]
    text = (f"**{best} has the lowest Fréchet distance**, measured now on 1,000 samples per shipped seed "
            f"in the digit classifier's features (lower is better; real digits against real digits: {floor:.1f}).")
    return Reveal(["GAN", "WGAN", "WGAN-GP"].index(best), text, table=rows)


CHECKS = {
    "first-to-cover-modes": Check("first-to-cover-modes [steps=2000]",
                                  lambda w, o: ["GAN", "WGAN", "WGAN-GP", "none within the steps"],
                                  lambda w, o, s: options_problems(o, {"steps": (2000, 100, 10000, True)}) + no_names(w),
                                  _race_run),
    "lowest-fd": Check("lowest-fd", lambda w, o: ["GAN", "WGAN", "WGAN-GP"],
                       lambda w, o, s: options_problems(o, {}) + no_names(w), _lowest_fd_run),
}
