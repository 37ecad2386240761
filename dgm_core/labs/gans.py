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


def matched_comparison(runs: dict[str, list]) -> list[dict]:
    """One row per model from its training seeds' checkpoints (kind -> [Checkpoint, ...]): the updates and
    wall-clock behind the last epoch, from the histories, and the Fréchet distance as the comparison
    measured it (dgm_core.compare.measured: the one figure of each checkpoint, its mean over DRAWS draws of
    SAMPLES samples, shown with that spread everywhere), as the seeds' mean and range. A checkpoint the
    comparison has not measured shows its last training-time distance instead, and the row says so.
    Models with different n_critic are compared at matched generator updates, so the table states them;
    `matched` in each row says whether every model made the same number."""
    from dgm_core.compare import measured

    finals = {kind: [(c.path.name, c.history["epochs"][-1]) for c in checkpoints if c.history.get("epochs")]
              for kind, checkpoints in runs.items()}
    updates = {e.get("generator_updates") for rows in finals.values() for _, e in rows}
    table = []
    for kind, rows in finals.items():
        if not rows:
            continue
        records = [measured(name) for name, _ in rows]
        if all(records):
            fids = [r["fd"] for r in records]
            sampling_sd = float(np.mean([r["fd_sd"] for r in records])) if all(r.get("fd_sd") for r in records) \
                else None
            dropped = [len(r["dropped"]) for r in records]
            source = f"{records[0]['draws']} draws of {records[0]['samples']:,} samples per seed, after training"
            timing = ("one more epoch of the first seed's command, timed in the comparison's run, times the epochs "
                      "(the figure of 'Every model compared')")
        else:
            fids = [e["fid_classifier"] for _, e in rows if "fid_classifier" in e]
            sampling_sd = None
            dropped = [sum(c / max(sum(e["class_histogram"]), 1) < DROPPED_SHARE for c in e["class_histogram"])
                       for _, e in rows if "class_histogram" in e]
            source = "one draw at the last epoch of training (not measured by python -m benchmarks.compare)"
            timing = "the wall-clock of training in the seeds' histories, their mean (not timed by the comparison)"
        table.append({
            "kind": kind, "seeds": len(rows), "checkpoints": [name for name, _ in rows],
            "generator_updates": rows[0][1].get("generator_updates"), "critic_updates": rows[0][1]["step"],
            "epochs": rows[0][1]["epoch"],
            # the comparison's one timing (one more epoch, timed in the benchmark's run, times the epochs); a row
            # it has not measured shows its histories' wall-clock, and its source says so
            "seconds": (records[0]["row_training_seconds"] if all(records) else
                        float(np.mean([e["seconds"] for _, e in rows])) if all("seconds" in e for _, e in rows) else None),
            "fid_mean": float(np.mean(fids)) if fids else None,
            "fid_min": min(fids, default=None), "fid_max": max(fids, default=None), "fid_sampling_sd": sampling_sd,
            "fid_source": source, "seconds_source": timing, "classes_dropped": max(dropped, default=None),
            "matched": len(updates) == 1 and None not in updates,
        })
    return table


def comparison_table(rows: list[dict]) -> list[dict]:
    """The rows of matched_comparison as both front ends show them, one per model."""
    # short column names: the table fits a laptop's page without a scroll bar (the last column was hidden)
    return [{"model": NAMES[r["kind"]], "seeds": r["seeds"], "generator updates": r["generator_updates"],
             "critic updates": r["critic_updates"], "epochs": r["epochs"],
             "training s": None if r["seconds"] is None else round(r["seconds"]),
             "FD (mean)": None if r["fid_mean"] is None else round(r["fid_mean"], 1),
             "FD range": None if r["fid_mean"] is None else f"{r['fid_min']:.0f}–{r['fid_max']:.0f}",
             "FD sd (one draw)": None if r["fid_sampling_sd"] is None else round(r["fid_sampling_sd"], 1),
             "classes dropped": r["classes_dropped"]} for r in rows]


def image_gan_datasets(conditional: bool = False) -> list[str]:
    """The datasets the shipped unconditional image GANs (or, `conditional`, the cGANs) were trained on, digits first."""
    return catalogue.datasets_among([i.name for i in catalogue.shipped() if i.model_type == "image-gan"
                                     and (i.model == "cgan") == conditional]) or ["digits"]


def conditional_gan(dataset: str) -> str:
    """The name of the shipped conditional GAN on `dataset`."""
    return catalogue.CGAN if dataset == "digits" else f"cgan-{dataset}"


def comparison_note(rows: list[dict], dataset: str = "digits") -> str:
    """Where the table's distances come from, for both front ends."""
    if not rows:
        return ""
    return (f"Fréchet distances: {rows[0]['fid_source']}, in the judge `{catalogue.judge_of(dataset)}`'s features: the same "
            "figures as in 'Every model compared' (one measurement per checkpoint). 'FD sd (one draw)' is how much "
            "sampling alone moves a distance. A model's spread is the larger of half its seeds' range and that sd; two "
            "models whose gap is within the sum of their spreads tie (the rule of 'Every model compared' and of the "
            f"lesson). 'FD (mean)' and 'FD range' are over the seeds; 'classes dropped' is the worst seed's count of "
            f"digits read in under 1 % of the samples (a fair share is 10 %). 'Training s': seconds to train as shipped, "
            f"{rows[0]['seconds_source']}. The curves "
            "above were measured during training, one draw per epoch, so their last points differ from the table "
            "by about that much.")


def conditional_caption(checkpoint) -> str:
    """Under the conditional GAN's grid, on both front ends: how often the judge reads the digit asked for
    (its training history's last epoch) and its Fréchet distance as the comparison measured it."""
    from dgm_core.compare import fd_sentence, measured

    last = checkpoint.history["epochs"][-1]
    record = measured(checkpoint.path.name)
    distance = (fd_sentence(record) if record else
                f"FD {last['fid_classifier']:.1f} at the last epoch of training, one draw (not measured by "
                "python -m benchmarks.compare)")
    n = int(checkpoint.history.get("run", {}).get("fid_samples", 1000))     # the trainer's samples, as many per digit
    return (f"The judge reads {last['label_accuracy']:.0%} of {n:,} conditional samples at the last epoch of "
            f"training as the digit they were asked for ({read_as_asked_interval(last['label_accuracy'], n)}). "
            f"{distance}.")


def read_as_asked_interval(share: float, n: int, chance: float = 0.1) -> str:
    """The share's 95 % Clopper–Pearson interval over its n samples, beside chance (one digit in ten)."""
    from scipy.stats import binomtest

    k = round(share * n)
    low, high = binomtest(k, n, chance).proportion_ci(0.95, method="exact")
    return f"95 % interval {low:.1%}–{high:.1%} over the {n:,} samples; chance is {chance:.0%}"


# ----------------------------------------------------------------------------- lesson checks
GAN_KINDS = KINDS


def _race_run(words, options, settings):
    from dgm_core import gan
    from dgm_core.figures.gan import coverage_figure

    steps = int(option(options, "steps", 2000, 100, 10000, whole=True))
    every = 100
    models = {k: gan.ToyGAN(gan.default_config(k, seed=int(options.get("_seed", 0)))) for k in GAN_KINDS}
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


def fd_spread(row: dict) -> float:
    """How far a model's mean FD could move without any change in the model: the larger of half its seeds'
    range and the standard deviation of one draw of samples (dgm_core.labs.compare uses the same rule)."""
    return max((row["fid_max"] - row["fid_min"]) / 2, row.get("fid_sampling_sd") or 0.0)


def lowest_fd(rows: list[dict]) -> tuple[str | None, list[str]]:
    """The model with the lowest mean FD, and those whose gap to it is within the sum of the two spreads
    (they tie with it: no verdict)."""
    valued = [r for r in rows if r["fid_mean"] is not None]
    if not valued:
        return None, []
    best = min(valued, key=lambda r: r["fid_mean"])
    tied = [r["kind"] for r in valued if r is not best and r["fid_mean"] - best["fid_mean"] <= fd_spread(r) + fd_spread(best)]
    return best["kind"], tied


def _lowest_fd_run(words, options, settings):
    """Which image GAN has the lowest Fréchet distance, from the one measurement of each checkpoint
    (matched_comparison reads dgm_core.compare.measured), or a tie when the gap is within the spread."""
    load = options["_load"]
    _, floor, _ = catalogue.judge_with_floor()
    rows = matched_comparison({kind: [load(n) for n in names] for kind, names in image_gan_runs().items()})
    best, tied = lowest_fd(rows)
    table = comparison_table(rows)
    if best is None:
        return Reveal(3, "No image GAN has a measured Fréchet distance here.", table=table)
    if tied:
        text = (f"**A tie within the spread:** {NAMES[best]} has the lowest mean, but "
                f"{', '.join(NAMES[k] for k in tied)} is within the sum of their spreads of it, so no one of them "
                "is closest.")
        answer = 3
    else:
        text = f"**{NAMES[best]} has the lowest Fréchet distance**, by more than the spread."
        answer = list(NAMES).index(best)
    text += (f" Lower is better; real digits against real digits give {floor:.1f}. {comparison_note(rows)} The spread "
             "of a model is the larger of half its seeds' range and the standard deviation of one draw.")
    return Reveal(answer, text, table=table)


CHECKS = {
    "first-to-cover-modes": Check("first-to-cover-modes [steps=2000]",
                                  lambda w, o: ["GAN", "WGAN", "WGAN-GP", "none within the steps"],
                                  lambda w, o, s: options_problems(o, {"steps": (2000, 100, 10000, True)}) + no_names(w),
                                  _race_run),
    "lowest-fd": Check("lowest-fd", lambda w, o: ["GAN", "WGAN", "WGAN-GP", "a tie within the spread"],
                       lambda w, o, s: options_problems(o, {}) + no_names(w), _lowest_fd_run),
}
