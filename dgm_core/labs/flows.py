"""What the normalizing-flow lab shows: the live flow's ranges and settings line, the shipped image flows,
the OOD study of a checkpoint and the sentences its AUROC table gives, the Hutchinson playground's
ranges, table and variance note, the VAEs the prior comparison sets side by side, and the lesson check
it registers.

The maths is in dgm_core.flow (RealNVP, the live 2-D flow, OOD scores, the residual block)."""
from __future__ import annotations

import functools

import numpy as np

from dgm_core.catalogue import Shipped, dataset_of, runs, shipped
from dgm_core.compare import IMPORTANCE
from dgm_core.flow import COMPRESSORS, RANGES, HutchinsonStudy, OODReport, ToyFlowConfig
from dgm_core.lessons import Check, Reveal, checkpoint_problems, option, options_problems, yes_no

# ----------------------------------------------------------------------------- the live flow
#: The settings the live flow accepts, as the page's number boxes and the Space's offer them.
LIVE_RANGES = RANGES


def describe_settings(config: ToyFlowConfig) -> str:
    from dgm_core.data.points import OwnPoints, describe

    data = describe(config.dataset) if isinstance(config.dataset, OwnPoints) else config.dataset
    return (f"{data} · {config.couplings} couplings, MLPs of width {config.hidden} · Adam lr {config.lr:g}, "
            f"batch {config.batch_size} · seed {config.seed}")


def ood_findings(report: OODReport) -> list[str]:
    """What the AUROC table shows, in sentences both front ends print: where likelihood ranks OOD images
    as more likely than the test data (the failure Nalisnick et al., 2019 report), and where a fix
    does worse than chance."""
    findings = []
    likelier = [(r["OOD set"], r["more likely than the median test image"], r["AUROC bits/dim"]) for r in report.table
                if r["more likely than the median test image"] > 0]
    # One sentence per verdict, each naming its own sets: a banner for the worst set alone said "fails here" above a
    # table where likelihood separated most sets almost perfectly.
    for verdict, keep in (("Likelihood fails", lambda a: a < 0.5), ("Likelihood is a weak detector", lambda a: 0.5 <= a < 0.9),
                          ("Likelihood mostly works, but shows the failure the literature reports,", lambda a: a >= 0.9)):
        sets = [(name, share, a) for name, share, a in likelier if keep(a)]
        if sets:
            listed = "; ".join(f"{share:.1%} of the {report.images.get(name, '')} images of {name} (AUROC {a:.3f})"
                               for name, share, a in sets)
            findings.append(f"{verdict} on {', '.join(name for name, _, _ in sets)}: {listed} get a higher likelihood "
                            f"than the median test image of {report.in_name}.")
    for column, label in ((*((f"AUROC complexity S(x), {c}", f"The complexity score S(x) with {c}") for c in COMPRESSORS),
                           ("AUROC typicality", f"The typicality test (batches of {report.typicality_batch})"))):
        worse = [(r["OOD set"], r[column]) for r in report.table if r[column] < 0.5]
        if worse:
            listed = ", ".join(f"{name} (AUROC {a:.3f})" for name, a in worse)
            findings.append(f"{label} does worse than chance on {listed}" + (
                ": it subtracts the compressed length, which helps when OOD images are simpler than the training "
                "data and hurts when they are more complex." if "S(x)" in label else "."))
    if "fashion-mnist" not in report.images:
        findings.append(FASHION_NOT_SHOWN)
    return findings


#: Said wherever the OOD table is shown without FashionMNIST (its files cannot be had offline).
FASHION_NOT_SHOWN = (
    "Not reproduced here: the course's failure of a flow trained on FashionMNIST that gives MNIST digits a higher "
    "likelihood (Nalisnick et al., 2019) needs FashionMNIST's files, which are not on this machine (put them under "
    "the data folder and the set joins this table). Shown instead, on real images that ship offline: the MNIST-5k "
    "model against other handwriting (scikit-learn's digits), photographs (LFW crops), shapes, inverted digits, "
    "noise and constant images, and the digits model the other way round.")


#: The scores the OOD tab can show, and where each lives in an OODReport.
OOD_SCORES = {"bits/dim": ("bits/dim −log₂ p(x) / D (larger: less likely)", None),
              **{f"complexity S(x), {c}": (f"S(x) = −log₂ p(x)/D − L(x)/D, L the {c} length (bits/dim)", c)
                 for c in COMPRESSORS}}


def ood_scores(report: OODReport, score: str) -> dict:
    """The per-image values of one of OOD_SCORES, by set."""
    compressor = OOD_SCORES[score][1]
    return report.bits_per_dim if compressor is None else report.complexity[compressor]


def auroc_note(report: OODReport) -> str:
    """How to read the AUROC table, and what the complexity score subtracts (both front ends show it)."""
    return (f"AUROC: the OOD set is the positive class and a larger score means 'more out of distribution' "
            f"(bits/dim, S(x), or a batch of {report.typicality_batch} images' distance from the training entropy); "
            f"0.5 is chance, below 0.5 the score ranks the OOD images as *more* typical than the {report.in_name} "
            f"test images. Each image's bits/dim here is scored with one dequantization draw, as a detector scores "
            f"one image; the model's test bits/dim under 'Image samples' (and in 'Every model compared') is the "
            f"tighter bound with {IMPORTANCE} draws per image, so it is lower than this table's mean. {compressor_note(report)}")


def compressor_note(report: OODReport) -> str:
    """What the complexity score subtracts, compressor by compressor."""
    lengths = ", ".join(f"{c} {bits:.0f} bits ({bits / 8:.0f} bytes)" for c, bits in report.compressed_bits.items())
    return (f"S(x) subtracts a generic compressor's length of the image (Serrà et al., 2020, use PNG). Per "
            f"{report.in_name} test image: {lengths}. At this size most of a PNG is its fixed headers and checksums, "
            "so its length says little about the pixels; zlib on the raw levels has far less overhead. Both are "
            "shown, side by side.")


#: The playground's settings: (low, high) of each number the page and the Space accept.
HUTCHINSON_RANGES = {"dim": (2, 64), "lipschitz": (0.05, 0.99), "draws": (20, 2000), "p_stop": (0.05, 0.95),
                     "seed": (0, 10_000)}
HUTCHINSON_TERMS = [1, 2, 4, 8, 16, 32]
HUTCHINSON_PROBES = [1, 2, 4, 8, 16]


def hutchinson_table(study: HutchinsonStudy) -> list[dict]:
    """The study's rows as the front ends show them: the roulette's number of terms named, not None."""
    return [{**row, "terms n": "N ~ Geometric(p)" if row["terms n"] is None else str(row["terms n"])}
            for row in study.rows]


def roulette_variance_note(study: HutchinsonStudy, p_stop: float) -> str:
    """When the Russian-roulette estimator has finite variance: its k-th term is about ρ^k/k reweighted by
    1/(1 − p)^{k−1} (ρ = ‖J‖₂), so its second moment sums (ρ² / (1 − p))^k: finite only if ρ² < 1 − p."""
    rho = study.jacobian_norm
    if rho ** 2 < 1 - p_stop:
        return (f"With ρ = ‖J‖₂ = {rho:.3f} and p = {p_stop:g}, ρ²/(1 − p) = {rho ** 2 / (1 - p_stop):.2f} < 1: the "
                "roulette estimate has finite variance.")
    return (f"With ρ = ‖J‖₂ = {rho:.3f} and p = {p_stop:g}, ρ²/(1 − p) = {rho ** 2 / (1 - p_stop):.2f} ≥ 1: the roulette "
            f"estimate is unbiased (its exact bias is 0) but its variance is infinite, so its sample mean and "
            f"standard error below cannot be trusted (rare long draws dominate); take p < {1 - rho ** 2:.2f}.")


# ----------------------------------------------------------------------------- the image flows
def gmm_reference(dataset: str, size: int, levels: int, alpha: float) -> dict:
    """The GaussianMixture baseline (dgm_core.flow.gmm_baseline) of a flow's data, in its logit space. It is
    deterministic (seeded), so it is measured once and kept in the results folder: on mnist-5k's 784 pixels the
    fit and its choice among nine mixtures take half a minute, which a page must not make a student wait for."""
    import json

    from dgm_core import paths
    from dgm_core.data import load_dataset
    from dgm_core.flow import gmm_baseline

    stored = paths.results_dir() / "gmm" / f"{dataset}-{size}x{size}-{levels}-levels-alpha-{alpha:g}.json"
    try:
        return json.loads(stored.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    result = gmm_baseline(load_dataset(dataset, "train", size).images, load_dataset(dataset, "test", size).images,
                          levels, alpha)
    try:
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_text(json.dumps(result, indent=1), encoding="utf-8")
    except OSError:          # a read-only install measures again next time
        pass
    return result


def gmm_label(result: dict) -> str:
    return (f"scikit-learn GaussianMixture ({result['components']} components, {result['covariance']} covariance, "
            "chosen on held-out images)")


def test_bits_sentence(checkpoint, gmm: dict) -> str:
    """A flow's test bits/dim as both front ends state it: the comparison's one measurement of the checkpoint
    where it has one (the same figure as 'Every model compared'), else its trainer's, with what each is; and
    the baseline beside it."""
    from dgm_core.compare import measured
    from dgm_core.flow import gmm_baseline_sentence

    record, test = measured(checkpoint.path.name), checkpoint.history.get("test")
    model = checkpoint.model
    if record is not None and record["bits_per_dim"] is not None:
        spread = f" ± {record['bits_per_dim_se']:.3f}" if record.get("bits_per_dim_se") is not None else ""
        text = (f"**Test bits/dim {record['bits_per_dim']:.3f}{spread}**{' (standard error)' if spread else ''} on the "
                f"{model.image_size}×{model.image_size} test digits at {model.levels} grey levels: {record['likelihood']} "
                "(as in 'Every model compared').")
    elif test:
        text = (f"**Test bits/dim {test['bits_per_dim']:.3f} ± {test['standard_error']:.3f}** (standard error) on "
                f"{test['images']} test images at {model.image_size}×{model.image_size} with {test['levels']} grey "
                f"levels, {test['draws']} dequantization draws each, as its trainer measured it; every log-determinant "
                "counted.")
    else:
        text = "No test bits/dim is recorded for this checkpoint."
    selected = checkpoint.history.get("selected")
    kept = (f" The weights are those of epoch {selected['epoch']} of {checkpoint.history['epochs'][-1]['epoch']}, "
            f"the one with the lowest bits/dim on the {checkpoint.history.get('run', {}).get('dataset', '')} "
            f"validation images ({selected['valid_bits_per_dim']:.3f}): chosen without looking at the test split."
            if selected else "")
    return (f"{text}{kept} Beside it, **{gmm['bits_per_dim']:.3f}** bits/dim for {gmm_baseline_sentence(gmm)}. The "
            "curves below were measured during training, one dequantization draw per image and epoch.")


@functools.lru_cache(maxsize=8)
def _test_ink(dataset: str, size: int) -> float:
    from dgm_core.data import load_dataset

    return float(load_dataset(dataset, "test", size).images.mean())


def samples_sentence(samples, checkpoint, temperature: float) -> str:
    """What the sample grid shows, measured: the samples' mean pixel value (their ink, on a black background)
    beside the test images', and why a flow's samples may be darker or more broken than its bits/dim suggests."""
    dataset = dataset_of(checkpoint)
    ink, test_ink = float(samples.mean()), _test_ink(dataset, checkpoint.model.image_size)
    text = (f"Mean pixel value of these {len(samples)} samples **{ink:.3f}**, of the {dataset} test images "
            f"**{test_ink:.3f}**.")
    if temperature < 1 and ink < 0.5 * test_ink:
        text += (f" At T = {temperature:g} the latent z is drawn nearer 0, toward the density's mode, and the mode of "
                 "a density of digits on a black background is a nearly black image: T < 1 trades variety for "
                 "typical pixels, and here the typical pixel is background.")
    if temperature >= 1:
        text += (" A good bits/dim does not promise digits: the likelihood rewards a density that covers every "
                 "stroke, not one that draws whole shapes (Theis et al., 2016, 'A note on the evaluation of generative "
                 "models'); the Fréchet distance in 'Every model compared' measures the samples themselves.")
    return text


# ----------------------------------------------------------------------------- shipped checkpoints
def flow_runs() -> dict[str, Shipped]:
    """name -> Shipped for every shipped image RealNVP."""
    return runs("realnvp")


def flow_ood_report(checkpoint, n: int = 500, seed: int = 0):
    """The OOD study of a RealNVP checkpoint (dgm_core.flow.ood_report): its own test set (the first n
    images) against every OOD set, all at the model's size and levels; the entropy estimate of the
    typicality test comes from the first 2n training images."""
    from dgm_core import flow
    from dgm_core.data import load_dataset

    model, dataset = checkpoint.model, dataset_of(checkpoint)
    size, levels = model.image_size, model.levels
    quantise = lambda x: flow.to_levels(x, levels) / (levels - 1)  # noqa: E731
    test = quantise(load_dataset(dataset, "test", size, **({"n": n} if dataset == "shapes" else {})).images[:n])
    train = quantise(load_dataset(dataset, "train", size, **({"n": 2 * n} if dataset == "shapes" else {})).images[:2 * n])
    ood = flow.ood_images(dataset, size, levels, len(test), seed=seed)
    return flow.ood_report(model, test, train, ood, in_name=dataset, seed=seed)


def flow_prior_groups(dataset: str = "digits") -> dict[str, list[str]]:
    """The VAEs the prior comparison sets side by side, each in seed order: the Gaussian-prior VAEs
    (β = 1, constant) and the RealNVP-prior VAEs trained with the same settings."""
    flows = sorted((i for i in shipped() if i.model_type == "vae-flow-prior" and i.dataset == dataset),
                   key=lambda i: i.seed)
    if not flows:
        return {}
    settings = ("latent_dim", "width", "hidden", "likelihood", "epochs", "beta")
    setting = lambda run, k: run.get(k, 0) if k == "hidden" else run.get(k)  # noqa: E731  (runs before --hidden: none)
    reference = {k: setting(flows[0].run, k) for k in settings}
    gaussian = sorted((i for i in runs("vae").values() if i.dataset == dataset
                       and i.run.get("beta_schedule", "constant") == "constant"
                       and all(setting(i.run, k) == v for k, v in reference.items())), key=lambda i: i.seed)
    return {"Gaussian prior N(0, I)": [i.name for i in gaussian], "RealNVP prior": [i.name for i in flows]}


# ----------------------------------------------------------------------------- lesson checks
OOD_SETS = {"constant": "constant images", "noise": "uniform noise", "inverted": "inverted digits", "shapes": "shapes"}


def _ood_validate(words, options, settings):
    problems = options_problems(options, {"share": (0.0, 0.0, 1.0, False)}) + checkpoint_problems(words[:1], 1, ("realnvp",))
    if len(words) != 2 or words[1] not in OOD_SETS:
        problems.append(f"it needs a RealNVP checkpoint and one of {', '.join(OOD_SETS)}")
    return problems


def _ood_run(words, options, settings):
    """Yes when more than `share` of the set gets a higher likelihood (fewer bits/dim) than the median
    test image of the training data: the OOD tab's own report (flow_ood_report), so the lesson and the tab
    show one figure."""
    from dgm_core.figures.flow import ood_histogram_figure

    share = option(options, "share", 0.0, 0.0, 1.0)
    checkpoint = options["_load"](words[0])
    report = flow_ood_report(checkpoint, seed=int(options.get("_seed", 0)))
    dataset = report.in_name
    name = OOD_SETS[words[1]].replace("digits", dataset)
    row = next(r for r in report.table if r["OOD set"] == name)
    beaten = row["more likely than the median test image"]
    median = float(np.median(report.bits_per_dim[dataset]))
    yes = beaten > share
    text = (f"**{'Yes' if yes else 'No'}:** {100 * beaten:.1f} % of the {report.images[name]} images of the set "
            f"'{name}' get a higher likelihood (fewer bits/dim) than the median {dataset} test image ({median:.2f} "
            f"bits/dim, over {report.images[dataset]} test images, each scored with one dequantization draw as the "
            f"OOD tab scores them); the asked share was "
            f"{'more than ' + format(100 * share, '.0f') + ' %' if share else 'any at all'}. The median of {name} is "
            f"{np.median(report.bits_per_dim[name]):.2f} bits/dim. A likelihood measures how simple an image is as "
            "much as how digit-like: the histogram shows where the two sets overlap. The OOD tab shows the same "
            "report.")
    values = {dataset: report.bits_per_dim[dataset], name: report.bits_per_dim[name]}
    return Reveal(0 if yes else 1, text, ood_histogram_figure(values, dataset, "bits per dimension"))


CHECKS = {"higher-likelihood": Check(f"higher-likelihood CHECKPOINT {'|'.join(OOD_SETS)} [share=0]", yes_no,
                                     _ood_validate, _ood_run)}
