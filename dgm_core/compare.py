"""Every shipped generative model on `digits`, measured the same way: the comparison's measurements.

The course ends each assignment with the same table: samples, a latent interpolation, FID, a
likelihood where the model has one, the number of weights, and the time to train and to sample.
This module measures each of those for every model a checkpoint records as a row of the comparison
(`python -m training.run ... --compare-as LABEL`; `--not-compared REASON` keeps one out, and says why),
through the one protocol every model answers (dgm_core.generative): it never asks which family a model
is. `python -m benchmarks.compare` runs it and writes the results (`write_results` / `read_results`);
every page, tab and lesson that shows a model's Fréchet distance or bits/dim reads them (`measured`),
so a model has one figure everywhere, with its sample size and spread. What the comparison lab shows
of them (the table, the pros and cons) is dgm_core/labs/compare.py.

The measures, and why they are fair:
  * FD: the classifier-feature Fréchet distance (Heusel et al., 2017, with the GAN lab's digit
    classifier in place of Inception) of SAMPLES fresh samples to the test digits' features, over
    DRAWS independent draws per checkpoint (their standard deviation is what sampling alone moves it
    by), beside the real-vs-real floor (training digits against test digits). Samples at 8x8 are
    upscaled to the judge's 28x28 the way the data are. Each model samples the way it was trained to.
  * dropped digits: digits the judge reads in fewer than 1 % of the samples (a fair share is 10 %),
    the GAN lab's rule for mode collapse (dgm_core.gan.DROPPED_SHARE).
  * bits/dim on one quantisation, the digits' own (QUANTISATION): only a model with a probability over
    those images has one; every other model says why not (its own quantisation, if it has one).
  * weights: every trained parameter, and the ones used to draw a sample.
  * seconds per sample: the median of REPEATS draws of TIMED images, divided by TIMED, on this machine
    and in this run; training seconds per epoch come from the benchmark (one more epoch of each
    checkpoint's own command, timed by training/loop.py), so both are measured on the same machine.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dgm_core import catalogue, paths
from dgm_core.checkpoints import CHECKPOINT_DIR
from dgm_core.generative import GenerativeModel, Quantisation, sample_in_batches
from dgm_core.lab_records import LABS, lab_of_model_type

#: Images behind each Fréchet distance, and how many independent draws of them per checkpoint: the spread
#: of a distance needs enough draws to be trusted; a few draws understate it (docs/experiments.md).
SAMPLES, DRAWS = 1000, 10
#: Importance samples of every likelihood bound: the VAE's IWAE k and the flow's dequantisation draws.
IMPORTANCE = 100
#: Samples shown in each grid, and points on each interpolation (both ends included).
GRID, INTERPOLATION_POINTS = 16, 10
#: The images timed in one draw, and how many draws the median is over.
TIMED, REPEATS = 500, 5
#: The dataset every row is measured on, and the one quantisation every bits/dim is on: its own pixels.
DATASET = "digits"
DIGITS = Quantisation(8, 17)
QUANTISATION = (f"the digits' own {DIGITS.describe()} (0–16): −log₂ P(x) / 64 of the discrete image, from a lower "
                "bound on log P(x)")   # = PROTOCOLS["digits"].quantisation_text, kept for the digits' readers
#: The two test digits every encoder interpolates between (indices into the test split).
INTERPOLATION_ENDS = (0, 1)
#: Where `python -m benchmarks.compare` writes, and every front end reads.
RESULTS_DIR = paths.results_dir() / "compare"
RESULTS_NAME, IMAGES_NAME = "compare.json", "compare.safetensors"


@dataclass(frozen=True)
class Protocol:
    """One dataset's comparison. Its rows are the checkpoints trained on that dataset, measured against its
    own test split, in its own judge's features, with bits/dim on its own quantisation, and ranked among
    themselves only: a row of one dataset never stands in a ranking with a row of another."""
    dataset: str
    quantisation: Quantisation   # the one quantisation every bits/dim is on: the data's own pixels
    levels_text: str             # how those levels are named
    judge: str                   # the classifier trained on the dataset's training split
    results_dir: Path

    @property
    def quantisation_text(self) -> str:
        side = self.quantisation.side
        return (f"the {self.dataset} images' own {self.quantisation.describe()} ({self.levels_text}): "
                f"−log₂ P(x) / {side * side} of the discrete image, from a lower bound on log P(x)")


PROTOCOLS = {
    "digits": Protocol("digits", DIGITS, "0–16", catalogue.JUDGE, RESULTS_DIR),
    "mnist-5k": Protocol("mnist-5k", Quantisation(28, 256), "0–255", catalogue.JUDGES["mnist-5k"],
                         paths.results_dir() / "compare-mnist-5k"),
}
DIGITS_PROTOCOL = PROTOCOLS[DATASET]


# ----------------------------------------------------------------------------- the rows, from the records
@dataclass(frozen=True)
class Entry:
    """One row of the comparison: its label, as the checkpoints record it, and its checkpoints (seed 0 first)."""
    label: str
    model_type: str
    checkpoints: tuple[str, ...]


def entries(directory: Path = CHECKPOINT_DIR, dataset: str = DATASET) -> list[Entry]:
    """The rows the shipped checkpoints on `dataset` record (`compare_as` in their history's run), in the
    order of the labs that show them (dgm_core.lab_records.LABS), then by label."""
    groups: dict[str, list[catalogue.Shipped]] = {}
    for item in catalogue.shipped(directory):
        if item.compare_as and item.dataset == dataset:
            groups.setdefault(item.compare_as, []).append(item)

    def order(label: str) -> tuple[int, str]:
        lab = lab_of_model_type(groups[label][0].model_type)
        return (LABS.index(lab) if lab is not None else len(LABS), label)

    return [Entry(label, groups[label][0].model_type,
                  tuple(i.name for i in sorted(groups[label], key=lambda i: (i.seed, i.name))))
            for label in sorted(groups, key=order)]


def left_out(directory: Path = CHECKPOINT_DIR) -> dict[str, str]:
    """Checkpoint -> why it is not in the comparison, as its record says (`not_compared`)."""
    return {i.name: i.not_compared for i in catalogue.shipped(directory) if i.not_compared}


def unrecorded(directory: Path = CHECKPOINT_DIR) -> list[str]:
    """Checkpoints that record neither a row nor a reason to be left out: a test requires none."""
    return [i.name for i in catalogue.shipped(directory) if not i.compare_as and not i.not_compared]


# ----------------------------------------------------------------------------- measuring one checkpoint
def prepared(checkpoint) -> GenerativeModel:
    """The checkpoint's model in eval mode, given what sampling needs from its training run (prepare)."""
    model = checkpoint.model.eval()
    model.prepare(checkpoint.history.get("run", {}))
    return model


def reference(protocol: Protocol = DIGITS_PROTOCOL) -> tuple:
    """The judge, the test images' features in it and the real-vs-real floor of the distance."""
    from dgm_core.data import load_dataset
    from dgm_core.features import classifier_features

    judge_model, floor, _ = catalogue.judge_with_floor(protocol.dataset, protocol.judge)
    test_features = classifier_features(judge_model, load_dataset(protocol.dataset, "test",
                                                                  judge_model.image_size).images)
    return judge_model, test_features, floor


def class_shares(judge, images: torch.Tensor) -> list[float]:
    """The share of `images` the judge reads as each digit."""
    from dgm_core.data.builtin import resize

    with torch.no_grad():
        read = torch.cat([judge(resize(images[i:i + 500], judge.image_size)).argmax(1)
                          for i in range(0, len(images), 500)])
    return (torch.bincount(read, minlength=judge.num_classes).float() / len(images)).tolist()


def frechet_distance_to_test(judge, images: torch.Tensor, test_features: np.ndarray) -> float:
    """The Fréchet distance of one draw of images to the test digits in the judge's features, the images taken
    to the judge's side first: the one function behind every Fréchet distance of generated digits (the
    comparison's, and a trainer's curve of it against sampler steps)."""
    from dgm_core.data.builtin import resize
    from dgm_core.features import classifier_features
    from dgm_core.metrics import frechet_distance

    return frechet_distance(classifier_features(judge, resize(images, judge.image_size)), test_features)


def measure_checkpoint(name: str, model: GenerativeModel, judge, test_features: np.ndarray,
                       generator: torch.Generator, samples: int = SAMPLES, draws: int = DRAWS,
                       importance: int = IMPORTANCE, protocol: Protocol = DIGITS_PROTOCOL) -> dict:
    """The one measurement of a checkpoint's Fréchet distance and bits/dim: FD of each of `draws` draws of
    `samples` images, the digits the judge reads in all of them, and bits/dim of the test digits on
    QUANTISATION with `importance` importance samples (None, and why, where the model has no probability
    there), with its standard error over the test digits (sd of the images' bits/dim / √n: how much another
    draw of test digits would move it). Returns the record `write_results` stores per checkpoint and
    `measured` gives back."""
    from dgm_core.data import load_dataset
    from dgm_core.data.builtin import resize
    from dgm_core.gan import DROPPED_SHARE

    fds, drawn = [], []
    for _ in range(draws):
        images = sample_in_batches(model, samples, generator)
        fds.append(frechet_distance_to_test(judge, images, test_features))
        drawn.append(images)
    shares = class_shares(judge, torch.cat(drawn))
    own = protocol.quantisation
    test = load_dataset(protocol.dataset, "test", own.side).images
    side = model.image_size
    likelihood = model.likelihood_of(resize(test, side) if side != own.side else test, generator, importance)
    bpd_se = None
    if likelihood.bits_per_dim is None:
        bpd, about = None, likelihood.estimator
    elif likelihood.quantisation == own:
        per_image = likelihood.bits_per_dim.double()
        bpd, about = float(per_image.mean()), likelihood.estimator
        bpd_se = float(per_image.std() / len(per_image) ** 0.5)
    else:
        # a per-image figure, not bits/dim: over the upscaled digits' interpolated pixels a per-pixel figure would
        # compare with nothing (the VAE lab's likelihood tab says the same: dgm_core.labs.vae.bits_per_dim_basis)
        nats = float(likelihood.bits_per_dim.mean()) * likelihood.quantisation.side ** 2 * math.log(2)
        bpd, about = None, (f"none on this quantisation: this model's probability is over "
                            f"{likelihood.quantisation.describe()}, another data space. There its negative "
                            f"log-likelihood is {nats:.1f} nats per image on the {len(test)} test images, by "
                            f"{likelihood.estimator}")
    return {"checkpoint": name, "fd": float(np.mean(fds)), "fd_draws": fds,
            "fd_sd": float(np.std(fds, ddof=1)) if draws > 1 else None, "samples": samples,
            "class_shares": shares, "dropped": [d for d, s in enumerate(shares) if s < DROPPED_SHARE],
            "bits_per_dim": bpd, "bits_per_dim_se": bpd_se, "likelihood": about, "_images": drawn[0][:GRID]}


def seconds_per_sample(model: GenerativeModel, generator: torch.Generator, n: int = TIMED,
                       repeats: int = REPEATS) -> float:
    """The median wall-clock seconds of drawing n images, over `repeats` draws after a warm-up, per image."""
    sample_in_batches(model, n, generator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sample_in_batches(model, n, generator)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] / n


def measure(entry: Entry, load, judge, test_features: np.ndarray, seed: int = 0, samples: int = SAMPLES,
            draws: int = DRAWS, protocol: Protocol = DIGITS_PROTOCOL) -> dict:
    """Every measure of one row, over all its seeds (measure_checkpoint for each); the grid, interpolation,
    weights and sampling time from the first seed's checkpoint."""
    from dgm_core.data import load_dataset
    from dgm_core.data.builtin import resize

    per_seed, first = [], None
    for name in entry.checkpoints:
        checkpoint = load(name)
        model = prepared(checkpoint)
        record = measure_checkpoint(name, model, judge, test_features, torch.Generator().manual_seed(seed),
                                    samples, draws, protocol=protocol)
        images = record.pop("_images")
        per_seed.append(record)
        if first is None:
            first = {"model": model, "checkpoint": checkpoint, "images": images}
    model = first["model"]
    test = load_dataset(protocol.dataset, "test", protocol.quantisation.side)
    ends = resize(test.images[list(INTERPOLATION_ENDS)], model.image_size)
    interpolation = model.interpolate(ends, INTERPOLATION_POINTS, torch.Generator().manual_seed(seed))
    fds = [s["fd"] for s in per_seed]
    bpds = [s["bits_per_dim"] for s in per_seed if s["bits_per_dim"] is not None]
    sampling_sd = [s["fd_sd"] for s in per_seed if s["fd_sd"] is not None]
    bpd_se = [s["bits_per_dim_se"] for s in per_seed if s.get("bits_per_dim_se") is not None]
    return {
        "model": entry.label, "model_type": entry.model_type, "checkpoints": list(entry.checkpoints),
        "seeds": len(per_seed), "side": model.image_size,
        "epochs": int(first["checkpoint"].history.get("run", {}).get("epochs", 0)),
        "how_sampled": model.sampling_note(),
        "fd_mean": float(np.mean(fds)), "fd_min": float(min(fds)), "fd_max": float(max(fds)),
        "fd_sampling_sd": float(np.mean(sampling_sd)) if sampling_sd else None,
        "bits_per_dim": float(np.mean(bpds)) if bpds else None,
        "bits_per_dim_min": min(bpds, default=None), "bits_per_dim_max": max(bpds, default=None),
        "bits_per_dim_se": float(np.mean(bpd_se)) if bpd_se else None,
        "likelihood": per_seed[0]["likelihood"],
        "dropped": sorted(set(d for s in per_seed for d in s["dropped"])),
        "weights": sum(p.numel() for p in model.parameters()), "weights_to_sample": model.sampling_weights(),
        "seconds_per_sample": seconds_per_sample(model, torch.Generator().manual_seed(seed)),
        "interpolation_from": None if interpolation is None else interpolation.ends,
        "no_latent_space": model.no_latent_space if interpolation is None else None,
        "per_seed": per_seed,
        "_grid": first["images"].cpu(),
        "_interpolation": None if interpolation is None else interpolation.images.cpu(),
    }


# ----------------------------------------------------------------------------- results on disk
def write_results(rows: list[dict], floor: float, directory: Path = RESULTS_DIR,
                  protocol: Protocol = DIGITS_PROTOCOL, **settings) -> Path:
    """The rows (without their images) as JSON and the grids and interpolations as safetensors."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for r in rows:
        tensors[f"grid/{r['model']}"] = r["_grid"].contiguous()
        if r["_interpolation"] is not None:
            tensors[f"interpolation/{r['model']}"] = r["_interpolation"].contiguous()
    save_file(tensors, str(directory / IMAGES_NAME))
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    body = {"dataset": protocol.dataset, "floor": floor, "quantisation": protocol.quantisation_text, "samples": SAMPLES, "draws": DRAWS, "importance": IMPORTANCE,
            "timed": TIMED, "repeats": REPEATS, **settings, "rows": clean}
    (directory / RESULTS_NAME).write_text(json.dumps(body, indent=1), encoding="utf-8")
    return directory / RESULTS_NAME


class ResultsMissing(FileNotFoundError):
    pass


def read_results(directory: Path = RESULTS_DIR) -> dict:
    """What the benchmark wrote: the JSON body with each row's "grid" and "interpolation" tensors. Raises
    ResultsMissing, naming the command, when there is nothing to read."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = directory / RESULTS_NAME
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        tensors = load_file(str(directory / IMAGES_NAME))
    except (OSError, json.JSONDecodeError, SafetensorError) as exc:
        raise ResultsMissing(f"No comparison results could be read in {directory} ({exc.__class__.__name__}). "
                             "Run `python -m benchmarks.compare` to measure every model and write them.") from exc
    for r in body["rows"]:
        r["grid"] = tensors.get(f"grid/{r['model']}")
        r["interpolation"] = tensors.get(f"interpolation/{r['model']}")
    return body


def measured(name: str, directory: Path | None = None) -> dict | None:
    """The stored measurement of checkpoint `name` (measure_checkpoint's record, with the judge's floor, the
    number of samples and draws, and the row it belongs to with the row's mean FD over seeds and its training
    seconds as shipped), or None when the comparison did not measure it. Without `directory`, every dataset's
    results are looked in (a checkpoint is measured in its own dataset's comparison only)."""
    if directory is None:
        found = (measured(name, p.results_dir) for p in PROTOCOLS.values())
        return next((record for record in found if record is not None), None)
    try:
        body = read_results(directory)
    except ResultsMissing:
        return None
    for row in body["rows"]:
        for record in row["per_seed"]:
            if record["checkpoint"] == name:
                return {"samples": body["samples"], "draws": len(record.get("fd_draws", [])), "floor": body["floor"],
                        "judge": catalogue.judge_of(body.get("dataset", DATASET)),
                        "row": row["model"], "row_seeds": row["seeds"], "row_fd_mean": row["fd_mean"],
                        "row_training_seconds": training_seconds(row), "row_epochs": row.get("epochs"), **record}
    return None


def training_seconds(row: dict) -> float | None:
    """Seconds to train a row's model as shipped: the benchmark's seconds per epoch (one more epoch of the
    first seed's own command, timed in the benchmark's run) times the epochs it was trained for."""
    per_epoch = row.get("train_seconds_per_epoch")
    return None if per_epoch is None or not row.get("epochs") else per_epoch * row["epochs"]


def fd_sentence(record: dict) -> str:
    """How a stored FD is to be read: its value, spread, sample size and where it comes from."""
    spread = f" ± {record['fd_sd']:.1f}" if record.get("fd_sd") is not None else ""
    row = (f"; the row '{record['row']}' shows the mean over its {record['row_seeds']} seeds, "
           f"{record['row_fd_mean']:.1f}" if record.get("row_seeds", 1) > 1 else "")
    return (f"FD {record['fd']:.1f}{spread} (mean ± sd over {record['draws']} draws of {record['samples']:,} samples "
            f"of `{record['checkpoint']}`, one checkpoint, in the judge `{record.get('judge', catalogue.JUDGE)}`'s features; "
            "real digits: "
            f"{record['floor']:.1f}{row}), as measured by `python -m benchmarks.compare`")
