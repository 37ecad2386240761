"""What the energy-based-model lab shows: the live EBM's ranges and settings line, JEM against JEM++
against the plain classifier, the replay buffer against noise starts, class-conditional samples read
by the judge, and the lesson checks it registers.

The maths is in dgm_core.ebm (energies, SGLD and its proximal variant, the replay buffer, the losses,
the live 2-D EBM)."""
from __future__ import annotations

from pathlib import Path

from dgm_core.catalogue import JUDGE, judge_with_floor, shipped, torch_generator
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


# ----------------------------------------------------------------------------- lesson checks
def _accuracy_validate(words, options, settings):
    return options_problems(options, {"points": (2.0, 0.0, 100.0, False)}) + checkpoint_problems(words, 2, ("ebm", "classifier"))


def _accuracy(model, data) -> float:
    import torch

    with torch.no_grad():
        return float((model(data.images).argmax(1) == data.labels).float().mean())


def _accuracy_run(words, options, settings):
    from dgm_core.data import load_dataset

    load = options["_load"]
    points = option(options, "points", 2.0, 0.0, 100.0)
    accs = []
    for w in words:
        model = load(w).model.eval()
        accs.append(100 * _accuracy(model, load_dataset("digits", "test", model.image_size)))
    within = accs[1] - accs[0] <= points
    text = (f"**{'Yes' if within else 'No'}:** {words[0]} classifies {accs[0]:.1f} % of the test digits right, "
            f"{words[1]} {accs[1]:.1f} %: {abs(accs[1] - accs[0]):.1f} points {'below' if accs[0] < accs[1] else 'above'} "
            +
            ("(within" if within else "(more than") + f" {points:g}). Computed now on the 359 test digits; one "
            "digit is 0.28 points.")
    return Reveal(0 if within else 1, text, table=[{"checkpoint": w, "test accuracy (%)": round(a, 1)}
                                                    for w, a in zip(words, accs)])


def _conditional_validate(words, options, settings):
    problems = options_problems(options, {"digit": (3, 0, 9, True), "steps": (100, 1, 500, True),
                                           "share": (0.5, 0.0, 1.0, False)})
    return problems + checkpoint_problems(words, 1, ("ebm",))


def _conditional_run(words, options, settings):
    from dgm_core.figures.images import image_grid_figure

    digit = int(option(options, "digit", 3, 0, 9, whole=True))
    steps = int(option(options, "steps", 100, 1, 500, whole=True))
    share = option(options, "share", 0.5, 0.0, 1.0)
    report = conditional_samples(words[0], options["_load"], digit, steps, seed=0)
    above = report["read_as_asked"] > share
    text = (f"**{'Yes' if above else 'No'}:** {report['note']} That is {100 * report['read_as_asked']:.0f} %, "
            f"{'above' if above else 'not above'} {100 * share:.0f} %, after {steps} SGLD steps from noise.")
    return Reveal(0 if above else 1, text, image_grid_figure(report["samples"], 8, title=f"16 chains for a {digit}"))


CHECKS = {
    "accuracy-within": Check("accuracy-within MODEL REFERENCE [points=2]", yes_no, _accuracy_validate, _accuracy_run),
    "conditional-read-as": Check("conditional-read-as CHECKPOINT [digit=3] [steps=100] [share=0.5]", yes_no,
                                 _conditional_validate, _conditional_run),
}
