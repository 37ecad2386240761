"""What the VQ-VAE lab shows: the shipped VQ-VAEs and their codes, k-means on the codes judged against
the labels, t-SNE / UMAP maps, classifiers on true labels against k-means pseudo-labels, the codebooks
over training, and the lesson checks it registers.

The maths is in dgm_core.vqvae (the quantiser, the model, codebook health, the prior over codes) and
dgm_core.clustering (judging clusters of any codes)."""
from __future__ import annotations

from dgm_core.catalogue import Shipped, dataset_of, shipped
from dgm_core.lessons import Check, Reveal, checkpoint_problems, option, options_problems, the_names, yes_no

#: The representations of an image's codes that the clustering panel offers (dgm_core.vqvae.codes).
REPRESENTATIONS = {"latent": "quantised latent, flattened", "histogram": "code histogram"}


def vqvae_runs() -> dict[str, Shipped]:
    return {i.name: i for i in sorted(shipped(), key=lambda i: (i.name, i.seed)) if i.model_type == "vqvae"}


def vqvae_codes(checkpoint, split: str = "test") -> dict:
    """The codes (vqvae.codes) of every digit of `split`, with the images and labels."""
    from dgm_core import vqvae
    from dgm_core.data import load_dataset

    data = load_dataset(dataset_of(checkpoint), split, checkpoint.model.image_size)
    return {**vqvae.codes(checkpoint.model, data.images), "images": data.images, "labels": data.labels.numpy()}


def _representation(codes: dict, representation: str):
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {', '.join(REPRESENTATIONS)}; got {representation!r}")
    return codes[representation].numpy()


def cluster_report(codes: dict, representation: str, k: int, seed: int = 0) -> dict:
    """k-means on the test codes, judged against the labels it never saw: silhouette, matched accuracy,
    confusion after matching, the label shares and size of each cluster."""
    import numpy as np

    from dgm_core import clustering

    features, labels = _representation(codes, representation), codes["labels"]
    clusters = clustering.kmeans(features, k, seed)
    num_labels = int(labels.max()) + 1
    return {"clusters": clusters, "silhouette": clustering.silhouette(features, clusters),
            "matched": clustering.match_clusters(labels, clusters, num_labels),
            "matched accuracy": clustering.matched_accuracy(labels, clusters, num_labels),
            "confusion": clustering.matched_confusion(labels, clusters, num_labels),
            "share": clustering.label_distribution(labels, clusters, num_labels, k),
            "sizes": np.bincount(clusters, minlength=k), "k": k, "representation": representation}


def code_map(codes: dict, representation: str, method: str, parameter: float, seed: int = 0):
    """2-D t-SNE (parameter: perplexity) or UMAP (parameter: neighbours) coordinates of the test codes."""
    from dgm_core import clustering

    features = _representation(codes, representation)
    if method == "tsne":
        return clustering.embed_2d(features, "tsne", perplexity=float(parameter), seed=seed)
    return clustering.embed_2d(features, method, neighbours=int(parameter), seed=seed)


def pseudo_label_report(train_codes: dict, test_codes: dict, representation: str, k: int, seed: int = 0) -> dict:
    """Logistic regression on the codes with true labels against k-means pseudo-labels (clustering.pseudo_label_study)."""
    from dgm_core import clustering

    return clustering.pseudo_label_study(_representation(train_codes, representation), train_codes["labels"],
                                         _representation(test_codes, representation), test_codes["labels"], k, seed)


def pseudo_label_rows(study: dict, k: int) -> list[dict]:
    """The two classifiers of a pseudo-label study as table rows."""
    return [{"classifier trained on": "the true labels", "test accuracy (%)": round(100 * study["true labels"], 1)},
            {"classifier trained on": f"k-means pseudo-labels (k = {k})",
             "test accuracy (%)": round(100 * study["pseudo-labels"], 1)}]


def codebook_comparison(load, dataset: str = "digits") -> dict:
    """Every shipped VQ-VAE on `dataset`: its codebook over training (test perplexity and dead codes per epoch)
    and at the end, grouped by whether it restarted dead codes: the effect of restarts, seed by seed."""
    rows, curves = [], {}
    for name, item in vqvae_runs().items():
        if item.dataset != dataset:
            continue
        checkpoint = load(name)
        run, epochs = checkpoint.history.get("run", {}), checkpoint.history["epochs"]
        restarts = "restarts" if run.get("restart_every", 0) else "no restarts"
        label = f"{run.get('codebook', 'loss')} codebook, {restarts}, seed {run.get('seed', 0)}"
        curves[label] = epochs
        last = epochs[-1]
        rows.append({"checkpoint": name, "codebook": run.get("codebook", "loss"), "dead-code restarts": restarts,
                     "seed": run.get("seed", 0), "codes": run.get("codes"),
                     "test perplexity": round(last["test_perplexity"], 1), "dead codes (test)": last["test_dead_codes"],
                     "codes restarted in training": last.get("restarted_so_far", 0),
                     "test MSE per pixel": round(last["test_mse"], 4)})
    return {"rows": rows, "curves": curves}


# ----------------------------------------------------------------------------- lesson checks
def _vq_validate(words, options, settings):
    return options_problems(options, {}) + checkpoint_problems(words, 2, ("vqvae",))


def _codes_in_use_run(words, options, settings):
    from dgm_core import catalogue, vqvae

    load = options["_load"]
    rows = []
    for w in words:
        model = load(w).model
        report = vqvae.reconstruction_report(model, catalogue.test_images(catalogue.dataset_of(load(w)),
                                                                          model.image_size).images)
        rows.append({"checkpoint": w, "codes in use": model.num_codes - report["dead_codes"], "of": model.num_codes,
                     "perplexity": round(report["perplexity"], 1)})
    more = 0 if rows[0]["codes in use"] >= rows[1]["codes in use"] else 1
    text = (f"**{words[more]} uses more codes:** " + " against ".join(f"{r['codes in use']} of {r['of']}" for r in rows)
            + " codes are chosen by at least one test digit. Without restarts a code the encoder never picks gets "
            "no gradient and stays dead.")
    return Reveal(more, text, table=rows)


def _clusters_validate(words, options, settings):
    problems = options_problems(options, {"k": (10, 2, 64, True), "share": (0.5, 0.0, 1.0, False), "on": None})
    if options.get("on", "latent") not in REPRESENTATIONS:
        problems.append(f"on={options['on']} must be one of {', '.join(REPRESENTATIONS)}")
    return problems + checkpoint_problems(words, 1, ("vqvae",))


def _clusters_run(words, options, settings):
    k = int(option(options, "k", 10, 2, 64, whole=True))
    share = option(options, "share", 0.5, 0.0, 1.0)
    on = options.get("on", "latent")
    codes = vqvae_codes(options["_load"](words[0]), "test")
    report = cluster_report(codes, on, k, seed=int(options.get("_seed", 0)))
    accuracy = report["matched accuracy"]
    above = accuracy > share
    text = (f"**{'Yes' if above else 'No'}:** k-means with k = {k} on the codes ({REPRESENTATIONS[on]}), each cluster named by "
            f"its best-matching digit, labels {100 * accuracy:.1f} % of the test digits right (chance is about "
            f"10 %), {'above' if above else 'not above'} {100 * share:.0f} %.")
    return Reveal(0 if above else 1, text)


CHECKS = {
    "more-codes-in-use": Check("more-codes-in-use CHECKPOINT_A CHECKPOINT_B", the_names, _vq_validate, _codes_in_use_run),
    "clusters-match-above": Check("clusters-match-above CHECKPOINT [k=10] [share=0.5] [on=latent|histogram]", yes_no,
                                  _clusters_validate, _clusters_run),
}
