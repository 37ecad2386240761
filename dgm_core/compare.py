"""Every shipped generative model on `digits`, measured the same way: the comparison lab.

The course ends each assignment with the same table: samples, a latent interpolation, FID, a
likelihood where the model has one, the number of weights, and the time to train and to sample.
This module measures each of those with the lab's own code, for every shipped digits model and
every seed it ships with; `pros_and_cons` then derives the verdicts from the numbers, each with
the measurement behind it. `python -m benchmarks.compare` runs it and writes the results the page
reads (`write_results` / `read_results`): the page never measures, so it answers at once.

The measures, and why they are fair:
  * FD: the classifier-feature Fréchet distance (Heusel et al., 2017, with the GAN lab's digit
    classifier in place of Inception) of SAMPLES fresh samples to the test digits' features, beside
    the real-vs-real floor (training digits against test digits). Samples at 8x8 are upscaled to the
    judge's 28x28 the way the data are. Each model family samples the way it was trained to.
  * dropped digits: digits the judge reads in fewer than 1 % of the samples (a fair share is 10 %),
    the GAN lab's rule for mode collapse (dgm_core.gan.DROPPED_SHARE).
  * bits/dim on one quantisation, QUANTISATION: only a model with a density over those images has
    one; every other model says why not.
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

from dgm_core import catalogue

#: Images behind each Fréchet distance, and how many independent draws of them per checkpoint (their
#: spread is what sampling alone moves a distance by: the labs' own figures come from other draws).
SAMPLES, DRAWS = 1000, 3
#: Importance samples of every likelihood bound: the VAE's IWAE k and the flow's dequantisation draws.
IMPORTANCE = 100
#: Samples shown in each grid, and points on each interpolation (both ends included).
GRID, INTERPOLATION_POINTS = 16, 10
#: The images timed in one draw, and how many draws the median is over.
TIMED, REPEATS = 500, 5
#: The one quantisation every bits/dim is on.
QUANTISATION = ("the digits' own 8x8 pixels at 17 grey levels (0–16): −log₂ P(x) / 64 of the discrete image, "
                "from a lower bound on log P(x)")
#: Models within this factor of the fastest (slowest) share "fastest" ("slowest"): timing noise.
TIE = 1.25
#: The two test digits every encoder interpolates between (indices into the test split).
INTERPOLATION_ENDS = (0, 1)
#: Where `python -m benchmarks.compare` writes, and the page reads.
RESULTS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "compare"
RESULTS_NAME, IMAGES_NAME = "compare.json", "compare.safetensors"


@dataclass(frozen=True)
class Entry:
    """One row of the comparison: a model, its family and its shipped checkpoints (seed 0 first)."""
    label: str
    family: str            # vae, realnvp, gan, ebm, vqvae: how it samples, encodes and scores
    checkpoints: tuple[str, ...]


def entries() -> list[Entry]:
    """The shipped generative models on digits, in the order the course meets them."""
    ship = [i for i in catalogue.shipped() if i.dataset == "digits"]
    by_seed = lambda items: tuple(i.name for i in sorted(items, key=lambda i: (i.seed, i.name)))  # noqa: E731
    rows = []

    def add(label, family, items):
        if items:
            rows.append(Entry(label, family, by_seed(items)))

    constant = lambda i: i.run.get("beta_schedule", "constant") == "constant"  # noqa: E731
    bernoulli = lambda i: i.run.get("likelihood", "bernoulli") == "bernoulli"  # noqa: E731
    add("VAE (β = 1)", "vae", [i for i in ship if i.model_type == "vae" and constant(i) and i.run.get("beta", 1.0) == 1.0
                               and bernoulli(i)])
    add("VAE, 17-level decoder on 8x8", "vae",
        [i for i in ship if i.model_type == "vae" and i.run.get("likelihood") == "categorical"])
    add("VAE, RealNVP prior", "vae", [i for i in ship if i.model_type == "vae-flow-prior"])
    add("RealNVP", "realnvp", [i for i in ship if i.model_type == "realnvp" and i.name == "realnvp-digits"])
    add("RealNVP, variational dequantisation", "realnvp",
        [i for i in ship if i.model_type == "realnvp" and i.name == "realnvp-digits-variational"])
    for kind, label in (("gan", "GAN"), ("wgan", "WGAN"), ("wgan-gp", "WGAN-GP"), ("cgan", "cGAN")):
        add(label, "gan", [i for i in ship if i.model_type == "image-gan" and i.model == kind])
    generative = lambda i: i.run.get("generative_weight", 1.0) > 0  # noqa: E731
    add("EBM", "ebm", [i for i in ship if i.model_type == "ebm" and i.model == "ebm" and not i.name.endswith("-noise")])
    add("JEM", "ebm", [i for i in ship if i.model_type == "ebm" and i.model == "jem" and generative(i)])
    add("JEM++", "ebm", [i for i in ship if i.model_type == "ebm" and i.model == "jempp" and generative(i)])
    add("VQ-VAE", "vqvae", [i for i in ship if i.model_type == "vqvae" and i.run.get("restart_every", 50) > 0
                            and i.run.get("codebook", "loss") == "loss"])     # the lab's default: restarts, loss
    return rows


# ----------------------------------------------------------------------------- per family
class Sampler:
    """How one checkpoint draws images, encodes and decodes (where it has a latent space), and
    scores a likelihood (where it has one). Built once per checkpoint: the EBMs' sampler and JEM++'s
    class Gaussians, and the VQ-VAE's prior over codes, come from the checkpoint's own run."""

    def __init__(self, family: str, checkpoint):
        self.family, self.checkpoint, self.model = family, checkpoint, checkpoint.model.eval()
        self.run = checkpoint.history.get("run", {})
        if family == "ebm":
            from dgm_core import ebm
            from dgm_core.data import load_dataset

            self.chains = ebm.recipe_sampler(self.run)
            self.starts = None
            if self.run.get("model") == "jempp":
                train = load_dataset("digits", "train", self.model.image_size)
                self.starts = ebm.ClassGaussians(train.images, train.labels, self.model.outputs)
        if family == "vqvae":
            from dgm_core import vqvae
            from dgm_core.data import load_dataset

            train = load_dataset("digits", "train", self.model.image_size)
            self.prior = vqvae.PositionPrior(vqvae.codes(self.model, train.images)["indices"], self.model.num_codes)

    @property
    def side(self) -> int:
        """The side of the images the model draws (an ImageGAN records none: one sample tells)."""
        size = getattr(self.model, "image_size", None)
        return size if size is not None else self.model.sample(1).shape[-1]

    @property
    def how(self) -> str:
        """How this model draws a sample, in a sentence."""
        if self.family == "vae":
            return "z ~ p(z), then the decoder's mean E[x|z]"
        if self.family == "realnvp":
            return "z ~ N(0, I), then the inverse flow"
        if self.family == "gan":
            return "z ~ N(0, I), then G(z)" + (" for digits 0–9 in turn" if self.model.num_classes else "")
        if self.family == "ebm":
            from dgm_core.ebm import ProximalSGLD

            if isinstance(self.chains, ProximalSGLD):
                return (f"{self.chains.steps} proximal SGLD steps of {self.chains.inner} inner steps from per-class "
                        "Gaussians (as trained)")
            return f"{self.chains.steps} SGLD steps from uniform noise (as trained)"
        return "a code grid from a prior fitted by counting codes at each position (no PixelCNN), then the decoder"

    def sample(self, n: int, generator: torch.Generator, batch: int = 500) -> torch.Tensor:
        """n images (n, 1, H, W) in [0, 1], drawn `batch` at a time."""
        return torch.cat([self._sample(min(batch, n - i), generator) for i in range(0, n, batch)])

    def _sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        model = self.model
        if self.family == "vae":
            return model.sample(n, generator)
        if self.family == "realnvp":
            return model.sample(n, generator=generator)
        if self.family == "gan":
            return model.sample(n, seed=int(torch.randint(2 ** 31 - 1, (1,), generator=generator)))
        if self.family == "ebm":
            from dgm_core import ebm

            starts = None if self.starts is None else self.starts.sample(n, generator)[0]
            return ebm.sample_chains(model, n, self.chains, generator, starts=starts)[0].clamp(0, 1)
        with torch.no_grad():
            return model.decode_indices(self.prior.sample(n, generator))

    # -- latent space
    def interpolation(self, ends: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, str] | None:
        """INTERPOLATION_POINTS images on the straight line between two latent points (both ends
        included), and where the ends came from; None when the model has no latent space."""
        from dgm_core.vae import encode_means, interpolate, prepare_batch

        between, model = INTERPOLATION_POINTS - 2, self.model
        with torch.no_grad():
            if self.family == "vae":
                mu, _ = encode_means(model, prepare_batch(model, ends))
                return model.decode_mean(interpolate(mu[0], mu[1], between)), "the encoder means μ(x) of two test digits"
            if self.family == "realnvp":
                z = model.encode(ends)
                return model.decode(interpolate(z[0], z[1], between)), "the flow's latents f(x) of two test digits"
            if self.family == "vqvae":
                z = model.encode(ends)                                      # (2, D, h, h), before quantising
                path = interpolate(z[0].flatten(), z[1].flatten(), between).view(-1, *z.shape[1:])
                return (model.decode(model.quantizer(path).quantized),
                        "the encoder outputs z_e(x) of two test digits, each point quantised to its nearest codes")
            if self.family == "gan":
                z = torch.randn(2, model.latent_dim, generator=generator)
                path = interpolate(z[0], z[1], between)
                labels = torch.full((len(path),), 3) if model.num_classes else None
                text = "two draws z ~ N(0, I) (a GAN has no encoder)" + (", both as the digit 3" if labels is not None else "")
                model.generator.eval()
                return model.generator(path, labels), text
        return None

    # -- likelihood on QUANTISATION
    def bits_per_dim(self, test: torch.Tensor, generator: torch.Generator) -> tuple[float | None, str]:
        """Mean bits/dim of the test digits on QUANTISATION, or None, and what the number is (or why
        there is none)."""
        if self.family == "realnvp":
            from dgm_core.flow import bits_per_dim

            kind = "variational" if self.model.dequantization == "variational" else "uniform"
            with torch.no_grad():
                draws = torch.stack([self.model.log_prob(test, generator) for _ in range(IMPORTANCE)])
            log_p = torch.logsumexp(draws, 0) - math.log(IMPORTANCE)
            return float(bits_per_dim(log_p, self.model.pixels).mean()), (
                f"the exact density of the dequantised image (change of variables), {kind} dequantisation, "
                f"importance-weighted over K = {IMPORTANCE} draws of u per image, log P(x) ≥ log (1/K) Σ p(x + u_k) "
                "/ q(u_k | x): a lower bound on log P(x) as tight as the VAE's with the same K")
        if self.family == "vae" and self.model.likelihood == "categorical" and self.model.image_size == 8 \
                and self.model.levels == 17:
            from dgm_core import vae

            k = IMPORTANCE
            nll = -vae.iwae_log_likelihood(self.model, test, k, generator=generator).mean().item()
            return vae.bits_per_dim(nll, self.model.pixels), (
                f"the IWAE bound L_k (Burda et al., 2016), k = {k}, of a softmax over the 17 grey levels per pixel: "
                "a lower bound on log P(x), so its bits/dim is an upper bound")
        if self.family == "vae":
            from dgm_core import vae

            data = catalogue.test_images("digits", self.model.image_size)
            k, images = 100, data.images[:200]
            nll = -vae.iwae_log_likelihood(self.model, vae.prepare_batch(self.model, images), k,
                                           generator=generator).mean().item()
            side = self.model.image_size
            return None, (f"none on this quantisation: this VAE models binarised {side}x{side} upscaled images, "
                          f"another data space. There its IWAE bound (k = {k}, {len(images)} test digits) gives "
                          f"{nll:.1f} nats per image, {vae.bits_per_dim(nll, self.model.pixels):.3f} bits per "
                          "upscaled binary pixel; the 17-level VAE on 8x8 has the comparable figure")
        if self.family == "gan":
            return None, ("none: a GAN's samples lie on the image of a 100-dimensional z, so it defines no density "
                          "over the 64 pixels (an implicit model)")
        if self.family == "ebm":
            return None, ("none: exp(−E(x)) is known only up to its normaliser Z = ∫ exp(−E), which cannot be "
                          "computed, so log p(x) is unknown (only differences of energy)")
        return None, ("none: the decoder is deterministic and the shipped VQ-VAE has no learned prior over codes, "
                      "so it gives no probability to an image")

    # -- weights
    def weights(self) -> tuple[int, int]:
        """(every trained weight, the weights used to draw a sample)."""
        model = self.model
        total = sum(p.numel() for p in model.parameters())
        if self.family == "gan":
            used = sum(p.numel() for p in model.generator.parameters())
        elif self.family == "vae":
            used = sum(p.numel() for p in model.decoder.parameters()) + sum(
                p.numel() for p in getattr(model, "prior", torch.nn.Module()).parameters())
        elif self.family == "vqvae":
            used = (sum(p.numel() for p in model.decoder.parameters()) + model.quantizer.codebook.numel())
        elif self.family == "realnvp":
            used = total - sum(p.numel() for p in (model.dequantizer or torch.nn.Module()).parameters())
        else:
            used = total
        return total, used


# ----------------------------------------------------------------------------- measuring
def seconds_per_sample(sampler: Sampler, generator: torch.Generator, n: int = TIMED, repeats: int = REPEATS) -> float:
    """The median wall-clock seconds of drawing n images, over `repeats` draws after a warm-up, per image."""
    sampler.sample(n, generator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sampler.sample(n, generator)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] / n


def class_shares(judge, images: torch.Tensor) -> list[float]:
    """The share of `images` the judge reads as each digit."""
    from dgm_core.data.builtin import resize

    with torch.no_grad():
        read = torch.cat([judge(resize(images[i:i + 500], judge.image_size)).argmax(1)
                          for i in range(0, len(images), 500)])
    return (torch.bincount(read, minlength=judge.num_classes).float() / len(images)).tolist()


def measure(entry: Entry, load, judge, test_features: np.ndarray, seed: int = 0, samples: int = SAMPLES,
            draws: int = DRAWS) -> dict:
    """Every measure of one row, over all its seeds: per seed the Fréchet distance of each of `draws`
    draws of `samples` images, the digits read in all of them, and bits/dim; the grid, interpolation,
    weights and sampling time from the first seed's checkpoint."""
    from dgm_core.data import load_dataset
    from dgm_core.data.builtin import resize
    from dgm_core.features import classifier_features
    from dgm_core.gan import DROPPED_SHARE
    from dgm_core.metrics import frechet_distance

    test = load_dataset("digits", "test", 8)
    per_seed, first = [], None
    for name in entry.checkpoints:
        generator = torch.Generator().manual_seed(seed)
        sampler = Sampler(entry.family, load(name))
        fds, drawn = [], []
        for _ in range(draws):
            images = sampler.sample(samples, generator)
            fds.append(frechet_distance(classifier_features(judge, resize(images, judge.image_size)), test_features))
            drawn.append(images)
        shares = class_shares(judge, torch.cat(drawn))
        size = sampler.side
        bpd, likelihood = sampler.bits_per_dim(resize(test.images, size) if size != 8 else test.images, generator)
        per_seed.append({"checkpoint": name, "fd": float(np.mean(fds)), "fd_draws": fds,
                         "class_shares": shares, "dropped": [d for d, s in enumerate(shares) if s < DROPPED_SHARE],
                         "bits_per_dim": bpd})
        if first is None:
            first = {"sampler": sampler, "images": drawn[0][:GRID], "likelihood": likelihood}
    sampler = first["sampler"]
    ends = resize(test.images[list(INTERPOLATION_ENDS)], sampler.side)
    interpolation = sampler.interpolation(ends, torch.Generator().manual_seed(seed))
    total, used = sampler.weights()
    fds = [s["fd"] for s in per_seed]
    bpds = [s["bits_per_dim"] for s in per_seed if s["bits_per_dim"] is not None]
    sampling_sd = [float(np.std(s["fd_draws"], ddof=1)) for s in per_seed if len(s["fd_draws"]) > 1]
    return {
        "model": entry.label, "family": entry.family, "checkpoints": list(entry.checkpoints), "seeds": len(per_seed),
        "side": sampler.side, "epochs": int(load(entry.checkpoints[0]).history.get("run", {}).get("epochs", 0)),
        "how_sampled": sampler.how,
        "fd_mean": float(np.mean(fds)), "fd_min": float(min(fds)), "fd_max": float(max(fds)),
        "fd_sampling_sd": float(np.mean(sampling_sd)) if sampling_sd else None,
        "bits_per_dim": float(np.mean(bpds)) if bpds else None,
        "bits_per_dim_min": min(bpds, default=None), "bits_per_dim_max": max(bpds, default=None),
        "likelihood": first["likelihood"],
        "dropped": sorted(set(d for s in per_seed for d in s["dropped"])),
        "weights": total, "weights_to_sample": used,
        "seconds_per_sample": seconds_per_sample(sampler, torch.Generator().manual_seed(seed)),
        "interpolation_from": None if interpolation is None else interpolation[1],
        "per_seed": per_seed,
        "_grid": first["images"].cpu(),
        "_interpolation": None if interpolation is None else interpolation[0].cpu(),
    }


def reference(judge=None) -> tuple:
    """The judge, the test digits' features in it and the real-vs-real floor of the distance."""
    from dgm_core.data import load_dataset
    from dgm_core.features import classifier_features

    judge_model, floor, _ = catalogue.judge_with_floor()
    test_features = classifier_features(judge_model, load_dataset("digits", "test", judge_model.image_size).images)
    return judge_model, test_features, floor


# ----------------------------------------------------------------------------- the verdicts
def _fmt_ms(seconds: float) -> str:
    return f"{1000 * seconds:.3g} ms"


def training_seconds(row: dict) -> float | None:
    """Seconds to train the model as shipped: seconds per epoch times the epochs it was trained for."""
    per_epoch = row.get("train_seconds_per_epoch")
    return None if per_epoch is None or not row.get("epochs") else per_epoch * row["epochs"]


def pros_and_cons(rows: list[dict]) -> list[dict]:
    """The pros and cons of each model, derived from the measured columns by fixed rules, each claim
    with the measurement behind it: {"model", "pros": [claim], "cons": [claim]}, a claim being
    {"claim", "measure", "value", "rule"}. The rules:

      closest to / farthest from the digits   lowest / highest mean FD (FD is distance in a classifier's
                                              features, not sharpness; the floor is what real digits score)
      likelihood                       a bits/dim on QUANTISATION, the best one marked; none is a con
      fastest / slowest to sample      within TIE of the lowest / the highest seconds per sample
      fastest / slowest to train       within TIE of the lowest / the highest training seconds as shipped
                                       (seconds per epoch times its epochs), where measured
      collapsed                        any digit read in under 1 % of samples, on any seed; else a pro
      latent space                     an interpolation between two latent points exists, or not
    """
    def extreme(key, best):
        values = [(r[key], r["model"]) for r in rows if r.get(key) is not None]
        return (min(values) if best else max(values))[1] if values else None

    closest, farthest = extreme("fd_mean", True), extreme("fd_mean", False)
    best_bpd = extreme("bits_per_dim", True)
    sampling = [r["seconds_per_sample"] for r in rows]
    training = [t for t in map(training_seconds, rows) if t is not None]
    verdicts = []
    for r in rows:
        pros, cons = [], []

        def claim(to, text, measure, value, rule):
            to.append({"claim": text, "measure": measure, "value": value, "rule": rule})

        fd = (f"{r['fd_mean']:.1f}" + (f" (seeds {r['fd_min']:.1f}–{r['fd_max']:.1f})" if r["seeds"] > 1 else ""))
        if r["model"] == closest:
            claim(pros, "closest to the digits (lowest FD)", "FD", fd,
                  "lowest mean Fréchet distance of all models: closest in the classifier's features, which is not "
                  "the same as sharpest")
        if r["model"] == farthest:
            claim(cons, "farthest from the digits (highest FD)", "FD", fd, "highest mean Fréchet distance of all models")
        if r["bits_per_dim"] is not None:
            text = "has a likelihood" + (", the best" if r["model"] == best_bpd else "")
            claim(pros, text, "bits/dim", f"{r['bits_per_dim']:.3f}",
                  f"bits/dim on {QUANTISATION}; lower is better. {r['likelihood']}")
        else:
            claim(cons, "no likelihood on the shared quantisation", "bits/dim", "none", r["likelihood"])
        seconds = r["seconds_per_sample"]
        if seconds <= TIE * min(sampling):
            claim(pros, "fastest to sample", "seconds per sample", _fmt_ms(seconds),
                  f"time to draw one image within {TIE:g}x of the lowest ({_fmt_ms(min(sampling))})")
        if seconds * TIE >= max(sampling):
            claim(cons, "slowest to sample", "seconds per sample", _fmt_ms(seconds),
                  f"time to draw one image within {TIE:g}x of the highest, {seconds / min(sampling):.0f}x the fastest")
        total = training_seconds(r)
        if total is not None:
            value = f"{total:.0f} s ({r['train_seconds_per_epoch']:.2f} s per epoch × {r['epochs']} epochs)"
            if total <= TIE * min(training):
                claim(pros, "fastest to train", "training seconds as shipped", value,
                      f"seconds to train as shipped within {TIE:g}x of the lowest ({min(training):.0f} s)")
            if total * TIE >= max(training):
                claim(cons, "slowest to train", "training seconds as shipped", value,
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
            claim(cons, "no latent space", "interpolation", "none",
                  "an energy model's samples come from Markov chains, not from a latent code")
        verdicts.append({"model": r["model"], "pros": pros, "cons": cons})
    return verdicts


# ----------------------------------------------------------------------------- results on disk
def write_results(rows: list[dict], floor: float, directory: Path = RESULTS_DIR, **settings) -> Path:
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
    body = {"floor": floor, "quantisation": QUANTISATION, "samples": SAMPLES, "draws": DRAWS, "importance": IMPORTANCE,
            "timed": TIMED, "repeats": REPEATS, **settings, "rows": clean}
    (directory / RESULTS_NAME).write_text(json.dumps(body, indent=1), encoding="utf-8")
    return directory / RESULTS_NAME


class ResultsMissing(FileNotFoundError):
    pass


def read_results(directory: Path = RESULTS_DIR) -> dict:
    """What the benchmark wrote: the JSON body with each row's "grid" and "interpolation" tensors, and
    the derived pros and cons. Raises ResultsMissing, naming the command, when there is nothing to read."""
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
    body["verdicts"] = pros_and_cons(body["rows"])
    return body


def table_rows(body: dict) -> list[dict]:
    """The comparison table as the page shows it: one dict per model, numbers as numbers (so a column
    sorts), each column's unit in its name."""
    out = []
    for r in body["rows"]:
        total = training_seconds(r)
        out.append({
            "model": r["model"],
            "seeds": r["seeds"],
            "sees": "8x8 digits" if r.get("side", 8) == 8 else f"digits upscaled to {r['side']}x{r['side']}",
            "FD (lower is better)": round(r["fd_mean"], 1),
            "FD, lowest–highest seed": f"{r['fd_min']:.1f}–{r['fd_max']:.1f}" if r["seeds"] > 1 else "one seed",
            "FD sd from sampling": None if r.get("fd_sampling_sd") is None else round(r["fd_sampling_sd"], 1),
            # text, so a model without a likelihood shows "—" (a missing number showed "None"); the
            # values share one format, so the column still sorts
            "bits/dim": "—" if r["bits_per_dim"] is None else f"{r['bits_per_dim']:.3f}",
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


def column_notes(body: dict) -> str:
    """What each column of the table measures, as Markdown (the page and the Space show the same)."""
    rows = body["rows"]
    return (
        "- **sees**: the images a model was trained on. The VAEs and GANs of their labs see the 8x8 digits upscaled "
        "to 28x28; the judge does too, and 8x8 samples are upscaled the same way before they are judged.\n"
        f"- **FD**: classifier-feature Fréchet distance of {body['samples']} samples to the test digits, in the "
        f"features of the GAN lab's digit classifier; lower is better, and real digits against real digits give "
        f"**{body['floor']:.1f}**, the floor. It is the mean over seeds and over {body.get('draws', 1)} draws per seed; "
        "'sd from sampling' is how much one draw of samples moves it, which is why a lab's own figure (another "
        "draw) can differ. FD measures how the samples' features are spread compared with real digits, not how "
        "sharp one sample looks: a VAE's smooth means can look clear and still score far.\n"
        f"- **bits/dim** on {body['quantisation']}: only where the model defines a probability there; every bound "
        f"uses {body.get('importance', 'the same number of')} importance samples (the reasons for 'none' are under "
        "Pros and cons).\n"
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
        f"{body.get('machine', 'the benchmark machine')}.")


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
