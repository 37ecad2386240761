"""What the comparison lab shows: the table, the notes on its columns, the pros and cons derived from the
numbers by fixed rules (a verdict only where the gap exceeds the spread), and each model's evidence and
seeds. The measurements themselves are dgm_core/compare.py's, read from what `python -m benchmarks.compare`
wrote: the page and the Space measure nothing, so they answer at once."""
from __future__ import annotations

from pathlib import Path

from dgm_core.compare import PROTOCOLS, QUANTISATION, RESULTS_DIR, read_results, training_seconds

#: Models within this factor of the fastest (slowest) share "fastest" ("slowest"): timing noise.
TIE = 1.25
#: A row timed while the machine's 1-minute load average per core was above this (the benchmark alone keeps it
#: near 1) shared the cores with other work: its seconds are not ranked against the others'.
SHARED_LOAD = 1.5


def timed_alone(row: dict) -> bool:
    """False where the benchmark recorded that other work shared the cores while it timed this row (rows
    measured before the load was recorded count as alone, as they were shown before)."""
    load = row.get("load_per_core")
    return load is None or load <= SHARED_LOAD
#: The datasets the lab compares on, as the page and the Space name them; each is its own table.
DATASETS = {"digits": "digits: scikit-learn's 8x8 digits", "mnist-5k": "mnist-5k: 5,000 real MNIST digits, 28x28"}


def results(directory: Path = RESULTS_DIR) -> dict:
    """What the benchmark wrote (dgm_core.compare.read_results), with the pros and cons derived from it."""
    body = read_results(directory)
    body.setdefault("dataset", "digits")          # written before a comparison was per dataset
    body["verdicts"] = pros_and_cons(body["rows"], body.get("quantisation", QUANTISATION))
    return body


def results_of(dataset: str) -> dict:
    """One dataset's comparison: its rows only, ranked among themselves."""
    return results(PROTOCOLS[dataset].results_dir)


def command_for(dataset: str) -> str:
    """The command that writes `dataset`'s comparison."""
    return "python -m benchmarks.compare" + ("" if dataset == "digits" else f" --dataset {dataset}")


def sees(row: dict, dataset: str) -> str:
    """What a row's model was trained on, in words."""
    side = row.get("side", 8)
    if dataset == "digits":
        return "8x8 digits" if side == 8 else f"digits upscaled to {side}x{side}"
    return f"{dataset} at {side}x{side}"


def _fmt_ms(seconds: float) -> str:
    return f"{1000 * seconds:.3g} ms"


def fd_spread(row: dict) -> float:
    """How far a row's mean FD could move without any change in the model: the larger of half its seeds'
    range and the standard deviation one draw of samples has (zero where neither was measured)."""
    half_range = (row["fd_max"] - row["fd_min"]) / 2 if row["seeds"] > 1 else 0.0
    return max(half_range, row.get("fd_sampling_sd") or 0.0)


def bpd_spread(row: dict) -> float:
    """How far a row's bits/dim could move without any change in the model, by the rule of fd_spread: the
    larger of half its seeds' range and the standard error over the test digits."""
    low, high = row.get("bits_per_dim_min"), row.get("bits_per_dim_max")
    half_range = 0.0 if low is None or high is None else (high - low) / 2
    return max(half_range, row.get("bits_per_dim_se") or 0.0)


def tied_extreme(rows: list[dict], key: str, spread, best: bool) -> list[str]:
    """The rows with the lowest (best) or highest value of `key`, and every row whose gap to it is within
    the sum of the two spreads: a gap inside the spread is no finding, so those rows tie."""
    valued = [r for r in rows if r.get(key) is not None]
    if not valued:
        return []
    top = (min if best else max)(valued, key=lambda r: r[key])
    return [r["model"] for r in valued if abs(r[key] - top[key]) <= spread(r) + spread(top)]


def pros_and_cons(rows: list[dict], quantisation: str = QUANTISATION) -> list[dict]:
    """The pros and cons of each model, derived from the measured columns by fixed rules, each claim
    with the measurement behind it: {"model", "pros": [claim], "cons": [claim]}, a claim being
    {"claim", "measure", "value", "rule"}. The rules:

      closest to / farthest from the digits   lowest / highest mean FD; rows within the spread of it tie
                                              (FD is distance in a classifier's features, not sharpness;
                                              the floor is what real digits score)
      likelihood                       a bits/dim on the shared quantisation, the best (and those within
                                       its spread) marked; none is a con
      fastest / slowest to sample      within TIE of the lowest / the highest seconds per sample
      fastest / slowest to train       within TIE of the lowest / the highest training seconds as shipped
                                       (seconds per epoch times its epochs), where measured; speed is
                                       ranked only among rows timed alone (timed_alone)
      collapsed                        any digit read in under 1 % of samples, on any seed; else a pro
      latent space                     an interpolation between two latent points exists, or not
    """
    closest = tied_extreme(rows, "fd_mean", fd_spread, best=True)
    farthest = tied_extreme(rows, "fd_mean", fd_spread, best=False)
    best_bpd = tied_extreme(rows, "bits_per_dim", bpd_spread, best=True)
    alone = [r for r in rows if timed_alone(r)]          # only these rows' seconds are ranked
    sampling = [r["seconds_per_sample"] for r in alone]
    training = [t for t in map(training_seconds, alone) if t is not None]
    fastest_sampling = [r["model"] for r in alone if r["seconds_per_sample"] <= TIE * min(sampling)]
    slowest_sampling = [r["model"] for r in alone if r["seconds_per_sample"] * TIE >= max(sampling)]
    fastest_training = [r["model"] for r in alone if (training_seconds(r) or float("inf")) <= TIE * min(training, default=0)]
    slowest_training = [r["model"] for r in alone if (training_seconds(r) or 0.0) * TIE >= max(training, default=float("inf"))]
    verdicts = []
    for r in rows:
        pros, cons = [], []

        def claim(to, text, measure, value, rule):
            to.append({"claim": text, "measure": measure, "value": value, "rule": rule})

        def tied(group, model=r["model"], within="the spread"):
            others = [m for m in group if m != model]
            return f", tied with {', '.join(others)} within {within}" if others else ""

        timing = f"{TIE:g}x (timing noise)"

        fd = (f"{r['fd_mean']:.1f} ± {fd_spread(r):.1f}" + (f" (seeds {r['fd_min']:.1f}–{r['fd_max']:.1f})"
                                                            if r["seeds"] > 1 else " (one seed)"))
        spread_rule = ("; the spread is the larger of half the seeds' range and the sd of one draw of samples, and "
                       "models whose gap is within the sum of their spreads tie")
        if r["model"] in closest:
            claim(pros, "closest to the digits (lowest FD)" + tied(closest), "FD", fd,
                  "lowest mean Fréchet distance of all models: closest in the classifier's features, which is not "
                  "the same as sharpest" + spread_rule)
        if r["model"] in farthest:
            claim(cons, "farthest from the digits (highest FD)" + tied(farthest), "FD", fd,
                  "highest mean Fréchet distance of all models" + spread_rule)
        if r["bits_per_dim"] is not None:
            text = "has a likelihood" + (", the best" + tied(best_bpd) if r["model"] in best_bpd else "")
            claim(pros, text, "bits/dim", f"{r['bits_per_dim']:.3f} ± {bpd_spread(r):.3f}",
                  f"bits/dim on {quantisation}; lower is better; the spread is the larger of half the seeds' range "
                  f"and the standard error over the test digits, and models whose gap is within the sum of their "
                  f"spreads tie. {r['likelihood']}")
        else:
            claim(cons, "no likelihood on the shared quantisation", "bits/dim", "none", r["likelihood"])
        seconds = r["seconds_per_sample"]
        if not timed_alone(r):
            claim(cons, "its seconds are not ranked: other work shared the cores while it was timed",
                  "load per core while timed", f"{r['load_per_core']:.1f}",
                  f"the machine's 1-minute load average per core was above {SHARED_LOAD:g} (the benchmark alone keeps "
                  "it near 1): re-measure this row alone with python -m benchmarks.compare --only to rank its speed")
        if r["model"] in fastest_sampling:
            claim(pros, "fastest to sample" + tied(fastest_sampling, within=timing), "seconds per sample", _fmt_ms(seconds),
                  f"time to draw one image within {TIE:g}x of the lowest ({_fmt_ms(min(sampling))}): timing noise")
        if r["model"] in slowest_sampling:
            claim(cons, "slowest to sample" + tied(slowest_sampling, within=timing), "seconds per sample", _fmt_ms(seconds),
                  f"time to draw one image within {TIE:g}x of the highest, {seconds / min(sampling):.0f}x the fastest")
        total = training_seconds(r)
        if total is not None:
            value = f"{total:.0f} s ({r['train_seconds_per_epoch']:.2f} s per epoch × {r['epochs']} epochs)"
            if r["model"] in fastest_training:
                claim(pros, "fastest to train" + tied(fastest_training, within=timing), "training seconds as shipped", value,
                      f"seconds to train as shipped within {TIE:g}x of the lowest ({min(training):.0f} s)")
            if r["model"] in slowest_training:
                claim(cons, "slowest to train" + tied(slowest_training, within=timing), "training seconds as shipped", value,
                      f"seconds to train as shipped within {TIE:g}x of the highest ({max(training):.0f} s)")
        if r["dropped"]:
            claim(cons, "collapsed: drops digit" + ("s " if len(r["dropped"]) > 1 else " ") +
                  ", ".join(map(str, r["dropped"])), "dropped digits", ", ".join(map(str, r["dropped"])),
                  "a digit the judge reads in under 1 % of the samples (a fair share is 10 %), on any seed")
        else:
            claim(pros, "drops no digit", "dropped digits", "none",
                  "every digit is read in at least 1 % of the samples, on every seed (it says nothing of quality: "
                  "see the FD)")
        if r["interpolation_from"] is not None:
            claim(pros, "a latent space to interpolate in", "interpolation", "yes", r["interpolation_from"])
        else:
            claim(cons, "no latent space", "interpolation", "none", r.get("no_latent_space") or "none")
        verdicts.append({"model": r["model"], "pros": pros, "cons": cons})
    return verdicts


def table_rows(body: dict) -> list[dict]:
    """The comparison table as the page shows it: one dict per model, numbers as numbers (so a column
    sorts), each column's unit in its name."""
    out = []
    for r in body["rows"]:
        total = training_seconds(r)
        out.append({
            "model": r["model"],
            "seeds": r["seeds"],
            "sees": sees(r, body.get("dataset", "digits")),
            "FD (lower is better)": round(r["fd_mean"], 1),
            "FD, lowest–highest seed": f"{r['fd_min']:.1f}–{r['fd_max']:.1f}" if r["seeds"] > 1 else "one seed",
            "FD sd from sampling": None if r.get("fd_sampling_sd") is None else round(r["fd_sampling_sd"], 1),
            # text, so a model without a likelihood shows "—" (a missing number showed "None"); the
            # values share one format, so the column still sorts
            "bits/dim": "—" if r["bits_per_dim"] is None else f"{r['bits_per_dim']:.3f}",
            "bits/dim spread": "—" if r["bits_per_dim"] is None else f"{bpd_spread(r):.3f}",
            "dropped digits (any seed)": ", ".join(map(str, r["dropped"])) or "—",
            "weights (trained)": r["weights"],
            "weights (to sample)": r["weights_to_sample"],
            "training seconds per epoch": (None if r.get("train_seconds_per_epoch") is None
                                           else round(r["train_seconds_per_epoch"], 2)),
            "epochs (as shipped)": r.get("epochs"),
            "training seconds (as shipped)": None if total is None else round(total),
            "ms per sample": round(1000 * r["seconds_per_sample"], 3),
        })
    return out


def left_out_note(dataset: str) -> str:
    """The checkpoints shipped on `dataset` that are not rows of its table, each with the reason its record gives
    (`--not-compared`), so a model missing from the ranking is never silently missing."""
    from dgm_core.catalogue import shipped
    from dgm_core.compare import left_out

    reasons = left_out()
    mine = [(i.name, reasons[i.name]) for i in shipped() if i.name in reasons and i.dataset == dataset]
    if not mine:
        return ""
    return (f"**Shipped on {dataset} and not in this table:**\n\n"
            + "\n".join(f"- `{name}`: {reason}" for name, reason in mine))


def column_notes(body: dict) -> str:
    """What each column of the table measures, as Markdown (the page and the Space show the same)."""
    rows, dataset = body["rows"], body.get("dataset", "digits")
    sees_note = ("- **sees**: the images a model was trained on. The VAEs and GANs of their labs see the 8x8 digits "
                 "upscaled to 28x28; the judge does too, and 8x8 samples are upscaled the same way before they are "
                 "judged.\n" if dataset == "digits" else
                 f"- **sees**: the images a model was trained on: the {dataset} training split (3,500 real MNIST "
                 "digits at 28x28, 256 grey levels). Every row here is on this dataset only; the digits' table is "
                 "another.\n")
    return (
        sees_note +
        f"- **FD**: classifier-feature Fréchet distance of {body['samples']} samples to the test digits, in the "
        f"features of the {dataset} judge (a digit classifier trained on the {dataset} training split); lower is "
        f"better, and real digits against real digits give "
        f"**{body['floor']:.1f}**, the floor. It is the mean over seeds and over {body.get('draws', 1)} draws per seed; "
        "'sd from sampling' is how much one draw of samples moves it, which is why a lab's own figure (another "
        "draw) can differ. FD measures how the samples' features are spread compared with real digits, not how "
        "sharp one sample looks: a VAE's smooth means can look clear and still score far.\n"
        f"- **bits/dim** on {body['quantisation']}: only where the model defines a probability there; every bound "
        f"uses {body.get('importance', 'the same number of')} importance samples (the reasons for 'none' are under "
        "Pros and cons). Its **spread** is the larger of half the seeds' range and the standard error of the mean "
        "over the test digits.\n"
        "- **dropped digits**: digits the classifier reads in under 1 % of the samples (a fair share is 10 %), on any "
        "seed (the per-seed tab has each).\n"
        "- **weights**: every trained parameter, and those used to draw a sample (a GAN's generator, a VAE's "
        "decoder and prior). They are not matched: each model is the one its own lab trains "
        f"({min(r['weights_to_sample'] for r in rows):,} to {max(r['weights_to_sample'] for r in rows):,} weights "
        "to sample), so read a Fréchet distance beside its weights.\n"
        "- **training seconds per epoch**: the first seed's own training command run for two more epochs, the "
        "second timed by the training loop; **training seconds (as shipped)**: that times the epochs it was "
        "trained for (the WGANs need several times the GAN's epochs). **ms per sample**: the median of "
        f"{body['repeats']} draws of {body['timed']} images, divided by {body['timed']}, on "
        f"{body.get('machine', 'the benchmark machine')}. Times are one run's: 'fastest' and 'slowest' go to every "
        f"model within {TIE:g}x of the extreme, which then tie.")


def verdict_rows(body: dict) -> list[dict]:
    """The pros-and-cons table: one row per model, its claims joined."""
    return [{"model": v["model"], "pros": "; ".join(c["claim"] for c in v["pros"]),
             "cons": "; ".join(c["claim"] for c in v["cons"])} for v in body["verdicts"]]


def evidence_rows(body: dict, model: str) -> list[dict]:
    """The measurement behind each of `model`'s claims: pro or con, the claim, the measure, its value, the rule."""
    verdict = next(v for v in body["verdicts"] if v["model"] == model)
    return [{"": "pro", **c} for c in verdict["pros"]] + [{"": "con", **c} for c in verdict["cons"]]


def per_seed_rows(row: dict) -> list[dict]:
    """One row per checkpoint (seed) of a model: its FD (mean and each draw), bits/dim and dropped digits."""
    return [{"checkpoint": s["checkpoint"], "FD": round(s["fd"], 1),
             "FD of each draw": ", ".join(f"{f:.1f}" for f in s.get("fd_draws", [s["fd"]])),
             "bits/dim": "none" if s["bits_per_dim"] is None else f"{s['bits_per_dim']:.3f}",
             "dropped digits": ", ".join(map(str, s["dropped"])) or "—"} for s in row["per_seed"]]
