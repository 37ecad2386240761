"""What the diffusion lab shows: the live models' ranges and settings line, the forward process at a time, the
samplers measured against their model calls on the live models, the digits models' samples with guidance and
their Fréchet distance against sampler calls, and the lesson checks it registers.

The maths is in dgm_core.diffusion (schedules, samplers, flow matching, score matching, the ODE likelihood,
the live 2-D models and what is measured of them, the digits model)."""
from __future__ import annotations

import copy

import numpy as np
import torch

from dgm_core.catalogue import dataset_of, datasets_among, judge_of, seed_group, shipped
from dgm_core.diffusion import measures
from dgm_core.diffusion.image import SAMPLERS as DIGIT_SAMPLERS
from dgm_core.diffusion.toy import (
    FIELD_TIMES,
    KINDS,
    NAMES,
    RANGES,
    SAMPLERS,
    ToyDiffusionConfig,
    noised_points,
    signal_and_noise,
)
from dgm_core.lessons import Check, Reveal, checkpoint_problems, option, options_problems, yes_no

# ----------------------------------------------------------------------------- the live models
#: The settings the live models accept, as the page's number boxes and the Space's offer them.
LIVE_RANGES = RANGES
LIVE_DEFAULTS = {"hidden": 128, "lr": 2e-3, "batch_size": 256, "sampler_steps": 50, "seed": 0}
#: The four trained side by side, with the same data, network, optimiser and seed.
LIVE_KINDS = KINDS
TITLES = NAMES


def live_configs(dataset, hidden: int, lr: float, batch_size: int, sampler_steps: int, seed: int
                 ) -> dict[str, ToyDiffusionConfig]:
    """DDPM, score matching, flow matching and flow matching with OT on the same settings (ValueError, saying
    which setting and its range, for one out of range)."""
    return {kind: ToyDiffusionConfig(kind=kind, dataset=dataset, hidden=hidden, lr=lr, batch_size=batch_size,
                                     sampler_steps=sampler_steps, seed=seed) for kind in LIVE_KINDS}


def describe_settings(configs: dict[str, ToyDiffusionConfig]) -> str:
    from dgm_core.data.points import OwnPoints, describe

    c = next(iter(configs.values()))
    data = describe(c.dataset) if isinstance(c.dataset, OwnPoints) else c.dataset
    return (f"{data} · {', '.join(NAMES[k] for k in configs)} · MLP width {c.hidden} · Adam lr {c.lr:g}, batch "
            f"{c.batch_size} · {c.sampler_steps} sampler steps · seed {c.seed}")


def nearest_time(time: float) -> float:
    """The time of FIELD_TIMES nearest `time` (the live panels keep the field at those times only)."""
    return min(FIELD_TIMES, key=lambda t: abs(t - time))


def panel_at(view, details: dict, time: float):
    """A live panel's view with the field and the noised density at `time` (one of FIELD_TIMES) in place of
    the ones it was drawn with."""
    from dataclasses import replace

    arrows, background, label = details["fields"][nearest_time(time)]
    return replace(view, field=background, arrows=arrows, arrows_label=label)


def path_caption(details: dict[str, dict]) -> str:
    """How straight each model's drawn paths are: length over end-to-end distance, mean ± sd over the paths."""
    parts = []
    for kind, d in details.items():
        ratio = d["straightness"]
        parts.append(f"{NAMES[kind]} ({d['path_sampler']}): " +
                     ("a noisy walk, no length to compare" if ratio is None else f"{ratio[0]:.2f} ({ratio[1]:.2f}–{ratio[2]:.2f})"))
    n = len(next(iter(details.values()))["paths"])
    return (f"Paths from noise to data, {n} per model, drawn on each panel. Path length over end-to-end distance "
            f"(1: a straight line; the median over the {n} paths, and their middle half, which a path ending near its "
            "start cannot stretch as it stretches a mean): " + " · ".join(parts) + ".")


# ----------------------------------------------------------------------------- the forward process
FORWARD_KINDS = {"ddpm": "DDPM (cosine schedule, variance preserving)",
                 "score": "score matching (σ ladder, variance exploding)",
                 "flow": "flow matching (straight path to N(0, I))"}


def forward_process(dataset: str, kind: str, time: float, seed: int = 0, n: int = 1000) -> dict:
    """The data noised to `time` by `kind`'s forward process: the points, the noised law's log density where it
    is known (the Gaussian-mixture toys), and a sentence with x_t = a x_0 + s ε at that time."""
    from dgm_core.data import sample_toy
    from dgm_core.diffusion.score_matching import toy_mixture

    if kind not in FORWARD_KINDS:
        raise ValueError(f"process must be one of {', '.join(FORWARD_KINDS)}; got {kind!r}")
    data = sample_toy(dataset, n, seed=seed).double()
    points = noised_points(kind, data, time, torch.Generator().manual_seed(seed + 1))
    a, s = signal_and_noise(kind, time)
    mixture = toy_mixture(dataset)
    limit = max(3.0, float(points.abs().quantile(0.995)) * 1.1)
    density = None
    if mixture is not None:
        axis = np.linspace(-limit, limit, 80)
        gx, gy = np.meshgrid(axis, axis)
        grid = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1))
        density = (axis, mixture.noised(a, s).log_prob(grid).view(80, 80).numpy())
    snr = float("inf") if s == 0 else a ** 2 / s ** 2
    sentence = (f"At time {time:.2f}: x_t = {a:.3f} x₀ + {s:.3f} ε, ε ~ N(0, I) (signal-to-noise ratio a²/s² = "
                + ("∞" if snr == float("inf") else f"{snr:.3g}") + f"), {n:,} points of {dataset}.")
    return {"points": points.numpy(), "data": data.numpy(), "density": density, "limit": limit, "sentence": sentence,
            "signal": a, "noise": s}


# ----------------------------------------------------------------------------- the samplers measured
#: Model calls at which every sampler is measured, the seeds of each point, and the margin "within" means.
BUDGETS = (1, 2, 5, 10, 20, 50, 100, 200)
SEEDS, POINTS = 3, 1000
MARGIN = 0.01             # energy distance; the 8 Gaussians' data against itself scores 0.006 ± 0.004
#: The times of the score error: score matching's ten σ levels (it is trained at those only), k/9.
SCORE_TIMES = tuple(k / 9 for k in range(10))


def measure_samplers(session, budgets=BUDGETS, seeds: int = SEEDS, n: int = POINTS) -> dict:
    """The live models as they are now (copied under the session's lock, so training goes on meanwhile): every
    sampler's energy distance to held-out data against its model calls (mean and sd over `seeds`), the calls
    each needs to come within MARGIN of its own best, the data's floor, and on a Gaussian-mixture toy the
    learned score's error per time against the true one."""
    with session.lock:
        models = {name: copy.deepcopy(model) for name, model in session.models.items() if name not in session.diverged}
        step = session.steps
    if not models:
        raise ValueError("every model has diverged: press Reset to train them again")
    rows = measures.quality_against_calls(models, list(budgets), seeds, n)
    first = next(iter(models.values()))
    floor = measures.data_floor(first, n)
    reach = measures.calls_to_reach(rows, MARGIN)
    table = []
    for name, model in models.items():
        for sampler in SAMPLERS[model.config.kind]:
            mine = [r for r in rows if r["model"] == name and r["sampler"] == sampler]
            best = min(mine, key=lambda r: r["energy distance"])
            table.append({"model": NAMES[model.config.kind], "sampler": sampler,
                          "best energy distance": round(best["energy distance"], 4),
                          "sd over seeds": round(best["sd over seeds"], 4), "at model calls": best["model calls"],
                          f"calls to come within {MARGIN:g} of its best": reach[(name, sampler)]})
    score_rows = {}
    if first.mixture is not None:
        for model in models.values():
            if model.config.kind in ("ddpm", "score"):
                score_rows[NAMES[model.config.kind]] = measures.score_error_by_time(model, list(SCORE_TIMES))
    likelihood = []
    for model in models.values():
        found = measures.held_out_likelihood(model)
        if found is not None:
            likelihood.append({"model": NAMES[model.config.kind], "mean log-likelihood (nats per point)": round(found["mean"], 3),
                               "standard error": round(found["se"], 3),
                               "the true density's (nats per point)": None if found["true"] is None else round(found["true"], 3)})
    return {"rows": [{**r, "model": NAMES[models[r["model"]].config.kind]} for r in rows], "table": table,
            "floor": floor, "step": step, "seeds": seeds, "points": n, "score_error": score_rows,
            "likelihood": likelihood}


LIKELIHOOD_NOTE = ("log p(x) of 500 held-out points through each model's ODE (flow matching's velocity; DDPM's "
                   "probability flow, from σ̄ = 1,000 down to its first step), RK4 in 20 steps with the exact "
                   "divergence (two backward passes in 2-D), mean and its standard error over the points; higher is "
                   "better, and on a Gaussian mixture no model beats the true density's on average. Score matching "
                   "trains at ten σ levels only: it defines no ODE here.")


def samplers_note(report: dict) -> str:
    floor, sd = report["floor"]
    return (f"Measured on the live models at step {report['step']:,}: energy distance between {report['points']:,} "
            f"samples and {report['points']:,} held-out points, mean ± sd over {report['seeds']} seeds of the "
            f"sampler's noise (lower is better; the data against another draw of itself: {floor:.4f} ± {sd:.4f}). "
            f"'Calls to come within {MARGIN:g}': the fewest model calls whose mean is within {MARGIN:g} of that "
            "sampler's own best here; Heun makes two calls per step, annealed Langevin one per step at each of its "
            "10 noise levels and one last denoising call.")


# ----------------------------------------------------------------------------- the digits models
def digit_runs(dataset: str | None = None) -> list[str]:
    """The shipped diffusion checkpoints of images, by name: all of them, or those trained on `dataset`."""
    return [i.name for i in shipped() if i.model_type == "diffusion" and dataset in (None, i.dataset)]


def image_datasets() -> list[str]:
    """The datasets the shipped diffusion checkpoints were trained on, digits first (the tab's dataset choice)."""
    return datasets_among(digit_runs()) or ["digits"]


#: The model calls a front end offers for a grid of samples. 60 samples of the 28x28 U-Net cost about 0.1 s a
#: call on a laptop's CPU, so MNIST's choices stop at 200 (about 20 s); the 8x8 digits' net goes to DDPM's 1,000.
CALL_CHOICES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]


def call_choices(dataset: str) -> list[int]:
    return CALL_CHOICES if dataset == "digits" else [c for c in CALL_CHOICES if c <= 200]


#: What the digits tab samples, beside one class: the classes in turn (the model's p(x), as the comparison draws
#: it), or the "no label" prediction alone (the unconditional branch classifier-free guidance subtracts).
EACH_CLASS, NO_LABEL = "the classes 0–9 in turn", "no label (the unconditional branch)"
CLASS_CHOICES = [EACH_CLASS, NO_LABEL, *map(str, range(10))]


def digit_samples(checkpoint, sampler: str, calls: int, guidance: float, choice: str, seed: int,
                  judge=None, n: int = 60) -> dict:
    """n samples of a digits model by `sampler` with `calls` model calls: of the class `choice` (a digit, or
    EACH_CLASS: 0–9 in turn) with guidance scale w, or with NO_LABEL; and how many the judge reads as the class
    asked."""
    model = checkpoint.model.eval()
    if sampler not in DIGIT_SAMPLERS[model.kind]:
        raise ValueError(f"this model samples by {' or '.join(DIGIT_SAMPLERS[model.kind])}")
    if choice not in CLASS_CHOICES:
        raise ValueError(f"class: choose one of {', '.join(CLASS_CHOICES)}")
    labels = None if choice == NO_LABEL else (torch.arange(n) % 10 if choice == EACH_CLASS else
                                              torch.full((n,), int(choice), dtype=torch.long))
    images = model.sample(n, torch.Generator().manual_seed(seed), labels=labels, guidance=guidance, calls=calls,
                          sampler=sampler, unconditional=labels is None)
    steps = model.calls(sampler, calls)
    if labels is None:
        note = (f"{n} samples by {sampler} with {steps} model calls, with no label: the unconditional prediction, "
                f"which classifier-free guidance trains on {model.label_dropout:.0%} of the batches and subtracts.")
    else:
        asked = "the classes 0–9 in turn (a column each)" if choice == EACH_CLASS else f"class {choice}"
        note = (f"{n} samples by {sampler} with {steps} model calls, {asked}, guidance w = {guidance:g}"
                + (" (each call evaluates the network twice: with the label and without)." if guidance else "."))
    read = None
    if labels is not None and judge is not None:
        from dgm_core.data.builtin import resize

        with torch.no_grad():
            read = float((judge(resize(images, judge.image_size)).argmax(1) == labels).float().mean())
        note += f" `{judge_of(dataset_of(checkpoint))}` reads {round(read * n)} of the {n} as the class asked."
    return {"images": images, "note": note, "read_as_asked": read}


def fd_curves(names: list[str], load) -> dict[str, list[dict]]:
    """Each checkpoint's Fréchet distance against sampler calls, as its trainer measured it after training
    (history 'fd_by_calls': the comparison's function, dgm_core.compare.frechet_distance_to_test)."""
    return {name: load(name).history.get("fd_by_calls", {}).get("rows", []) for name in names}


def fd_curve_note(names: list[str], load) -> str:
    first = next((load(n).history.get("fd_by_calls") for n in names if load(n).history.get("fd_by_calls")), None)
    if first is None:
        return "No Fréchet-distance curve is stored with these checkpoints (train them with the default --fd-calls)."
    row = first["rows"][0]
    return (f"Fréchet distance in `{first['judge']}`'s features, mean ± sd over {row['draws']} draws of "
            f"{row['samples']:,} samples (the classes 0–9 in turn, no guidance) at each number of model calls, measured by each trainer "
            f"after training with the comparison's function; real digits against real digits: {first['floor']:.1f}. "
            "Lower is better.")


def digit_calls_to_reach(curves: dict[str, list[dict]], relative: float = 0.1) -> dict[tuple[str, str], int | None]:
    """For each checkpoint and sampler: the fewest model calls whose Fréchet distance is within `relative` of the
    best that sampler reached on that checkpoint's curve (None where it has no curve)."""
    out = {}
    for name, rows in curves.items():
        for sampler in dict.fromkeys(r["sampler"] for r in rows):
            mine = sorted((r for r in rows if r["sampler"] == sampler), key=lambda r: r["model calls"])
            best = min(r["fd"] for r in mine)
            out[(name, sampler)] = next(r["model calls"] for r in mine if r["fd"] <= best * (1 + relative))
    return out


def digit_reach_table(curves: dict[str, list[dict]], relative: float = 0.1) -> list[dict]:
    """The table under the digits' curve: each checkpoint's samplers, their best FD, and the calls to come near it."""
    curves = {name: rows for name, rows in curves.items() if rows}
    reach = digit_calls_to_reach(curves, relative)
    table = []
    for (name, sampler), calls in reach.items():
        best = min((r for r in curves[name] if r["sampler"] == sampler), key=lambda r: r["fd"])
        table.append({"checkpoint": name, "sampler": sampler, "best FD": round(best["fd"], 2),
                      "sd over draws": round(best["fd_sd"], 2) if best["fd_sd"] is not None else None,
                      "at model calls": best["model calls"], f"calls to within {relative:.0%} of its best": calls})
    return table


# ----------------------------------------------------------------------------- lesson checks
#: The samplers a lesson may hold against DDPM's 1,000 ancestral calls (a setting is one word).
LESSON_SAMPLERS = {"ddim": "DDIM", "ancestral": "DDPM ancestral"}


def _fewer_validate(words, options, settings):
    problems = options_problems(options, {"calls": (100, 1, 500, True), "sampler": None})
    if options.get("sampler", "ddim") not in LESSON_SAMPLERS:
        problems.append(f"sampler={options['sampler']} must be one of {', '.join(LESSON_SAMPLERS)}")
    return problems + checkpoint_problems(words, 1, ("diffusion",))


def _fewer_run(words, options, settings):
    """Yes when `sampler` with at most `calls` model calls reaches, on every seed of the checkpoint, a Fréchet
    distance no worse than DDPM's ancestral sampler with 1,000 calls plus the larger of their two spreads."""
    load = options["_load"]
    calls = int(option(options, "calls", 100, 1, 500, whole=True))
    sampler = LESSON_SAMPLERS.get(options.get("sampler", "ddim"), "DDIM")
    group, lines, table, verdicts = seed_group(words[0]), [], [], []
    for name in group:
        rows = load(name).history.get("fd_by_calls", {}).get("rows", [])
        ddpm = next((r for r in rows if r["sampler"] == "DDPM ancestral" and r["model calls"] == 1000), None)
        fewer = [r for r in rows if r["sampler"] == sampler and r["model calls"] <= calls]
        if ddpm is None or not fewer:
            from dgm_core.checkpoints import CheckpointError

            raise CheckpointError(f"{name} has no stored Fréchet distance of DDPM at 1,000 calls and of {sampler} at "
                                  f"{calls} or fewer: train it with the default --fd-calls and --fd-ddpm-calls")
        best = min(fewer, key=lambda r: r["fd"])
        spread = max(ddpm["fd_sd"] or 0.0, best["fd_sd"] or 0.0)
        verdicts.append(best["fd"] <= ddpm["fd"] + spread)
        lines.append(f"{name}: DDPM ancestral with 1,000 calls {ddpm['fd']:.1f} ± {ddpm['fd_sd']:.1f}, {sampler}'s best "
                     f"with at most {calls} calls {best['fd']:.1f} ± {best['fd_sd']:.1f} (at {best['model calls']})")
        table += [{"checkpoint": name, "sampler": r["sampler"], "model calls": r["model calls"], "FD": round(r["fd"], 2),
                   "sd over draws": round(r["fd_sd"], 2)} for r in rows]
    yes = all(verdicts)
    text = (f"**{'Yes' if yes else 'No'}:** " + "; ".join(lines) + f" (each mean ± sd over {rows[0]['draws']} draws of "
            f"{rows[0]['samples']:,} samples, the classes in turn, in `{load(group[0]).history['fd_by_calls']['judge']}`'s "
            "features; real digits: "
            f"{load(group[0]).history['fd_by_calls']['floor']:.1f}). 'As good' means within the larger of the two "
            "spreads, on every seed.")
    return Reveal(0 if yes else 1, text, table=table)


def _ot_validate(words, options, settings):
    problems = options_problems(options, {"steps": (500, 100, 3000, True), "seeds": (2, 1, 4, True)})
    return problems + ([f"it takes no checkpoint; got {', '.join(words)}"] if words else [])


def straightness_after_training(kind: str, steps: int, seed: int, budget: int = 20) -> float:
    """Mean path length over end-to-end distance of Euler's paths (500 paths, `budget` steps) of a flow-matching
    model of `kind` ("flow" or "flow-ot") trained `steps` Adam steps on the 8 Gaussians from `seed`."""
    from dgm_core.diffusion.toy import ToyDiffusion

    model = ToyDiffusion(ToyDiffusionConfig(kind=kind, dataset="8gaussians", seed=seed))
    for _ in range(steps):
        model.step()
    return measures.path_straightness(model, budget, "Euler")[0]


def _ot_run(words, options, settings):
    steps = int(option(options, "steps", 500, 100, 3000, whole=True))
    seeds = int(option(options, "seeds", 2, 1, 4, whole=True))
    progress = options.get("_progress", lambda *_: None)
    first = int(options.get("_seed", 0)) * seeds          # another lesson seed: other training seeds
    ratios, runs = {"flow": [], "flow-ot": []}, 2 * seeds
    for kind in ratios:
        for seed in range(first, first + seeds):
            progress(len(ratios["flow"]) / runs + len(ratios["flow-ot"]) / runs,
                     f"Training flow matching ({'OT' if kind == 'flow-ot' else 'independent'} coupling), seed {seed}…")
            ratios[kind].append(straightness_after_training(kind, steps, seed))
    independent, ot = ratios["flow"], ratios["flow-ot"]
    yes = max(ot) < min(independent)
    text = (f"**{'Yes' if yes else 'No'}:** after {steps} Adam steps on the 8 Gaussians, Euler's paths (20 steps, 500 "
            f"paths) are {np.mean(independent):.2f} times as long as a straight line with independent coupling "
            f"(seeds: {', '.join(f'{r:.2f}' for r in independent)}) and {np.mean(ot):.2f} with OT coupling "
            f"({', '.join(f'{r:.2f}' for r in ot)}); 'straighter' means lower on every seed. Paired by minibatch OT, "
            "noise goes to the nearby data, so the paths the model learns no longer cross and average out.")
    return Reveal(0 if yes else 1, text, table=[{"coupling": k, "seed": first + s, "path length / chord": round(r, 3)}
                                                 for k, rs in (("independent", independent), ("OT", ot))
                                                 for s, r in enumerate(rs)])


CHECKS = {
    "fewer-calls-match": Check("fewer-calls-match CHECKPOINT [sampler=ddim|ancestral] [calls=100]", yes_no,
                               _fewer_validate, _fewer_run),
    "ot-straighter": Check("ot-straighter [steps=500] [seeds=2]", yes_no, _ot_validate, _ot_run),
}
