"""What the energy-based-model lab shows: the live EBM's ranges and settings line, JEM against JEM++
against the plain classifier, the replay buffer against noise starts, class-conditional samples read
by the judge, and the lesson checks it registers.

The maths is in dgm_core.ebm (energies, SGLD and its proximal variant, the replay buffer, the losses,
the live 2-D EBM)."""
from __future__ import annotations

from pathlib import Path

from dgm_core.catalogue import judge_with_floor, shipped, torch_generator
from dgm_core.ebm import RANGES, ToyEBMConfig
from dgm_core.labs.gans import image_gan_runs
from dgm_core.lessons import Check, Reveal, checkpoint_problems, option, options_problems, yes_no

# ----------------------------------------------------------------------------- the live EBM
#: The settings the live EBM accepts, as the page's number boxes and the Space's offer them.
LIVE_RANGES = RANGES


def describe_settings(config: ToyEBMConfig) -> str:
    from dgm_core.data.points import OwnPoints, describe

    data = describe(config.dataset) if isinstance(config.dataset, OwnPoints) else config.dataset
    schedule = (f"σ {config.sigma_start:g}" if config.sigma_start == config.sigma_end
                else f"σ {config.sigma_start:g} → {config.sigma_end:g}")
    return (f"{data} · chains from {'the replay buffer' if config.init == 'buffer' else 'uniform noise'} · "
            f"{config.sgld_steps} SGLD steps, ε {config.step_size:g}, {schedule} · MLP width {config.hidden} · "
            f"Adam lr {config.lr:g}, α {config.alpha:g} · seed {config.seed}")


# ----------------------------------------------------------------------------- shipped energy models
#: Chains run to draw the energy curves and the sample grids of the JEM comparison (an illustration: its
#: Fréchet distances are the comparison's measurement), and starts behind the distance of the starts.
SHOWN_CHAINS, STARTS = 64, 500


def kind_of(checkpoint) -> str:
    """JEM, JEM++, or the plain classifier of the same network (a JEM run with no generative term)."""
    run = checkpoint.history.get("run", {})
    if run.get("generative_weight", 1.0) <= 0:
        return "classifier (same network)"
    return "JEM++" if run.get("model") == "jempp" else "JEM"


def test_accuracy(checkpoint) -> float:
    """A classifier's accuracy on the whole test split, as its trainer measured it after the last epoch (the
    one figure of it every tab and lesson shows)."""
    return float(checkpoint.history["epochs"][-1]["test_accuracy"])


def accuracy_gaps(checkpoints: list) -> dict[str, dict]:
    """Each generative kind's test accuracy against the plain classifier's, over every seed of both:
    kind -> {"gap": points below the classifier on average, "accuracies", "classifier"} (in %)."""
    by_kind: dict[str, list[float]] = {}
    for checkpoint in checkpoints:
        by_kind.setdefault(kind_of(checkpoint), []).append(100 * test_accuracy(checkpoint))
    base = by_kind.get("classifier (same network)")
    if not base:
        return {}
    return {kind: {"gap": sum(base) / len(base) - sum(accs) / len(accs), "accuracies": accs, "classifier": base}
            for kind, accs in by_kind.items() if not kind.startswith("classifier")}


def gap_sentence(kind: str, gap: dict) -> str:
    accs, base = gap["accuracies"], gap["classifier"]
    seeds = f"{len(accs)} seed{'s' if len(accs) > 1 else ''} against {len(base)}"
    return (f"{kind} is {gap['gap']:.1f} points below the plain classifier on average over {seeds} "
            f"({min(accs):.1f}–{max(accs):.1f} % against {min(base):.1f}–{max(base):.1f} %)")


def jem_comparison(names, load, seed: int = 0, dataset: str = "digits") -> dict:
    """JEM, JEM++ and the plain classifier of the same network side by side: test accuracy, training seconds
    per epoch, and for the generative ones the classifier-feature Fréchet distance (the GAN lab's judge) of
    their chains as the comparison measured it (dgm_core.compare.measured, the same figure everywhere) and of
    STARTS fresh starts, beside the shipped GANs' distances; SHOWN_CHAINS chains per kind drawn for the
    energy curves and the grids. `load(name)` is the front end's cached loader. Every name must be trained on
    `dataset`, whose judge and test split measure them (a comparison never mixes datasets)."""
    from dgm_core import compare, ebm
    from dgm_core.catalogue import dataset_of, judge_of
    from dgm_core.labs.gans import NAMES

    judge_name = judge_of(dataset)
    judge, floor, _ = judge_with_floor(dataset, judge_name)
    _, test_features, _ = compare.reference(compare.PROTOCOLS[dataset])
    rows, curves, samples = [], {}, {}
    generator = torch_generator(seed)
    checkpoints = [load(name) for name in names]
    mixed = sorted({dataset_of(c) for c in checkpoints} - {dataset})
    if mixed:
        raise ValueError(f"every model compared must be trained on {dataset}; some were trained on {', '.join(mixed)}")
    for name, checkpoint in zip(names, checkpoints):
        run, last, kind = checkpoint.history.get("run", {}), checkpoint.history["epochs"][-1], kind_of(checkpoint)
        row = {"model": kind, "checkpoint": name, "seed": run.get("seed", 0),
               "test accuracy (%)": round(100 * test_accuracy(checkpoint), 1),
               "seconds per epoch (its training)": round(last.get("seconds", 0.0) / max(last["epoch"], 1), 2),
               f"FD of {STARTS} starts": None, "FD of the chains": None, "FD sd of one draw": None,
               "chains": "none: a classifier has no sampler"}
        if not kind.startswith("classifier"):
            model = compare.prepared(checkpoint)
            row["chains"] = model.sampling_note()
            starts = (model.starts.sample(STARTS, generator)[0] if model.starts is not None else
                      ebm.uniform_noise(STARTS, (model.channels, model.image_size, model.image_size), generator))
            row[f"FD of {STARTS} starts"] = round(ebm.judge_distance(judge, starts, test_features), 1)
            record = compare.measured(name)
            if record is not None:
                row["FD of the chains"], row["FD sd of one draw"] = round(record["fd"], 1), round(record["fd_sd"], 1)
            if kind not in {r["model"] for r in rows}:
                report = ebm.chains_report(model, model.chains, starts[:SHOWN_CHAINS], judge, test_features, generator)
                curves[f"{kind} ({name}): {row['chains']}"] = report["energy_curve"]
                samples[f"{kind} ({name}): 32 chains after {model.chains.steps} steps"] = report["samples"][:32]
        rows.append(row)
    gans = {}
    for kind, members in image_gan_runs(dataset).items():
        records = [compare.measured(m) for m in members]
        if all(records):
            gans[NAMES[kind]] = sum(r["fd"] for r in records) / len(records)
    measured_any = next((compare.measured(r["checkpoint"]) for r in rows if r["FD of the chains"] is not None), None)
    draws = (f"the mean of {measured_any['draws']} draws of {measured_any['samples']:,} chains, as measured for "
             "'Every model compared' (the same figure there), with the standard deviation of one draw"
             if measured_any else "not measured: run python -m benchmarks.compare")
    # each measured checkpoint's record, read once (measured() reads the results file at each call)
    records = {r["model"]: record for r in rows if (record := compare.measured(r["checkpoint"])) is not None}
    timed = {kind: record["row_training_seconds"] / record["row_epochs"] for kind, record in records.items()
             if record.get("row_training_seconds") and record.get("row_epochs")}
    unmeasured = [r["checkpoint"] for r in rows if r["FD of the chains"] is None and not r["model"].startswith("classifier")]
    if unmeasured:
        draws += (f" ({', '.join(unmeasured)}: not measured yet, so its FD cells are empty: run `python -m benchmarks.compare "
                  f"--dataset {dataset} --only {' '.join(sorted({r['model'] for r in rows if r['checkpoint'] in unmeasured}))}`)")
    draws += "; a classifier has no sampler, so its FD cells are empty"
    upscaled = (f" Samples are upscaled from 8x8 to the judge's {judge.image_size}x{judge.image_size} the way the data "
                "were." if dataset == "digits" else "")
    note = (f"Fréchet distance (FD): how far the chains are from the {dataset} test digits in the features of "
            f"`{judge_name}`, the digit classifier trained on {dataset}; lower is better, and real digits against real "
            f"digits give {floor:.1f}, the floor. 'FD of the chains' is {draws}; 'FD of {STARTS} starts' is where the "
            "chains begin. The GAN lab's GANs on the same data, for scale (mean over seeds): " +
            (", ".join(f"{k} {v:.1f}" for k, v in gans.items()) or "none measured") + "." + upscaled +
            " 'Seconds per epoch (its training)' is each checkpoint's own training, on however busy a machine "
            "trained it, and the only timing of the classifier" +
            (": to compare the models' cost, 'Every model compared' times one more epoch of each in one run (" +
             ", ".join(f"{kind} {seconds:.2f} s per epoch" for kind, seconds in timed.items()) + ")." if timed else "."))
    gaps = accuracy_gaps(checkpoints)
    if gaps:
        note += (f" Accuracy is on the {len(test_features)} test digits, so one image is "
                 f"{100 / len(test_features):.2f} points: two models can tie exactly. " +
                 "; ".join(gap_sentence(kind, gap) for kind, gap in gaps.items()) + ".")
    return {"rows": rows, "energy_curves": curves, "samples": samples, "note": note, "gans": gans, "floor": floor,
            "gaps": gaps}


def buffer_against_noise(load, dataset: str = "digits") -> dict[str, dict[str, Path]]:
    """The sample grids the trainer wrote for the shipped EBM on `dataset` whose chains start from a replay
    buffer and the one whose chains start from uniform noise (same network, data and SGLD settings; `--init`
    in their runs), by snapshot: {"epoch-005": {"replay buffer": png, "uniform noise": png}, ...}; {} when
    either is missing."""
    runs = sorted((i for i in shipped() if i.model_type == "ebm" and i.model == "ebm" and i.dataset == dataset),
                  key=lambda i: (i.seed, i.name))
    first = {init: next((i.name for i in runs if i.run.get("init", "buffer") == init), None)
             for init in ("buffer", "noise")}
    if None in first.values():
        return {}
    grids: dict[str, dict[str, Path]] = {}
    for label, name in (("replay buffer", first["buffer"]), ("uniform noise", first["noise"])):
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
    from dgm_core.catalogue import dataset_of, judge_of

    judge_name = judge_of(dataset_of(checkpoint))
    judge = load(judge_name).model
    with torch.no_grad():
        read = judge(resize(x.clamp(0, 1), judge.image_size)).argmax(1)
    agree = int((read == digit).sum())
    return {"samples": x.cpu(), "energy_curve": [float(e.mean()) for e in energies], "read_as_asked": agree / n,
            "note": f"{agree} of {n} chains are read as a {digit} by `{judge_name}` (chance: about 1 in 10). "
                    + above_chance_sentence(agree, n, steps=steps)}


#: The most SGLD steps the class-conditional panel runs (page and Space): a chain of 200 steps on 28x28 takes seconds.
MAX_CONDITIONAL_STEPS = 200


def above_chance_sentence(agree: int, n: int, chance: float = 0.1, steps: int | None = None) -> str:
    """Whether `agree` of `n` samples read as the class asked is more than chance would give: the one-sided
    binomial test of H0: P(read as asked) = `chance` (scipy.stats.binomtest), at the 5 % level. `steps`: the
    SGLD steps the chains ran, so that the advice never asks for more than the panel allows."""
    from scipy.stats import binomtest

    p_value = binomtest(agree, n, chance, alternative="greater").pvalue
    if p_value < 0.05:
        return f"More than chance would give (one-sided binomial test, p = {p_value:.2g})."
    more = (f"more SGLD steps (up to {MAX_CONDITIONAL_STEPS}), "
            if steps is None or steps < MAX_CONDITIONAL_STEPS else "")
    return (f"No more than chance would give (one-sided binomial test, p = {p_value:.2g}): these {n} chains do not "
            f"draw the class asked. Try {more}another seed ({n} new chains), or the model of the other dataset; "
            "if every seed stays at chance, the model has not learned to draw its classes.")


# ----------------------------------------------------------------------------- lesson checks
def _accuracy_validate(words, options, settings):
    return options_problems(options, {"points": (2.0, 0.0, 100.0, False)}) + checkpoint_problems(words, 2, ("ebm", "classifier"))


def _accuracy_run(words, options, settings):
    """Yes when MODEL's test accuracy is within `points` of REFERENCE's, each averaged over every seed it
    ships with (catalogue.seed_group): the same figures and average as the JEM tab's note."""
    from dgm_core.catalogue import seed_group

    load = options["_load"]
    points = option(options, "points", 2.0, 0.0, 100.0)
    groups = [seed_group(w) for w in words]
    accs = [[100 * test_accuracy(load(n)) for n in group] for group in groups]
    means = [sum(a) / len(a) for a in accs]
    within = means[1] - means[0] <= points
    seeds = " and ".join(f"{w}: {len(g)} seed{'s' if len(g) > 1 else ''} ({', '.join(f'{a:.1f}' for a in acc)} %)"
                         for w, g, acc in zip(words, groups, accs))
    text = (f"**{'Yes' if within else 'No'}:** on average over its seeds {words[0]} classifies {means[0]:.1f} % of "
            f"the test digits right, {words[1]} {means[1]:.1f} %: {abs(means[1] - means[0]):.1f} points "
            f"{'below' if means[0] < means[1] else 'above'} " + ("(within" if within else "(more than") +
            f" {points:g}). {seeds}; each accuracy is its trainer's on the whole test split (one digit is 0.28 "
            "points), the figure the JEM tab shows.")
    return Reveal(0 if within else 1, text, table=[{"checkpoint": n, "test accuracy (%)": round(a, 1)}
                                                    for group, acc in zip(groups, accs) for n, a in zip(group, acc)])


def _conditional_validate(words, options, settings):
    problems = options_problems(options, {"digit": (3, 0, 9, True), "steps": (100, 1, 500, True),
                                           "share": (0.5, 0.0, 1.0, False)})
    return problems + checkpoint_problems(words, 1, ("ebm",))


def _conditional_run(words, options, settings):
    from dgm_core.figures.images import image_grid_figure

    digit = int(option(options, "digit", 3, 0, 9, whole=True))
    steps = int(option(options, "steps", 100, 1, 500, whole=True))
    share = option(options, "share", 0.5, 0.0, 1.0)
    seed = int(options.get("_seed", 0))
    report = conditional_samples(words[0], options["_load"], digit, steps, seed=seed, n=LESSON_CHAINS)
    above = report["read_as_asked"] > share
    text = (f"**{'Yes' if above else 'No'}:** {report['note']} That is {100 * report['read_as_asked']:.0f} %, "
            f"{'above' if above else 'not above'} {100 * share:.0f} %, after {steps} SGLD steps from noise.")
    return Reveal(0 if above else 1, text, image_grid_figure(report["samples"][:16], 8,
                                                             title=f"16 of the {LESSON_CHAINS} chains for a {digit}"))


#: Chains behind the lesson's share: enough that another seed gives the same answer (the standard error of a
#: share near a half is 3.5 points with 200 chains; with the tab's 16 it was 12).
LESSON_CHAINS = 200


CHECKS = {
    "accuracy-within": Check("accuracy-within MODEL REFERENCE [points=2]", yes_no, _accuracy_validate, _accuracy_run),
    "conditional-read-as": Check("conditional-read-as CHECKPOINT [digit=3] [steps=100] [share=0.5]", yes_no,
                                 _conditional_validate, _conditional_run),
}
