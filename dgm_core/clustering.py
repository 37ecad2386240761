"""Clustering learned codes, and judging the clusters against labels the clustering never saw.

k-means comes from scikit-learn. The judgement is written out, because it is what the lab teaches:

- **matched accuracy.** Cluster ids are arbitrary, so each cluster is given the label that makes the
  most images right, with no label used twice: the assignment problem on the contingency table,
  solved by the Hungarian method (`scipy.optimize.linear_sum_assignment`; Kuhn, 1955).
- **silhouette** (Rousseeuw, 1987). For image i, a(i) is its mean distance to the rest of its cluster
  and b(i) the smallest mean distance to another cluster; s(i) = (b − a) / max(a, b), and the score is
  the mean of s. Near 1: tight, well-separated clusters; near 0: overlapping ones.
- **label distribution per cluster**, and the confusion matrix after matching.
- **pseudo-labels.** A classifier trained on the codes with the true labels, and the same trained on
  the cluster ids (matched to labels on the training set): how much of the labels the clusters carry.

2-D maps (t-SNE, UMAP) are for looking, not for measuring: their cluster sizes and the gaps between
clusters carry little meaning (Wattenberg, Viégas & Johnson, 2016, "How to use t-SNE effectively").
"""
from __future__ import annotations

import threading

import numpy as np
from scipy.optimize import linear_sum_assignment

#: What a student must know before reading a t-SNE or UMAP map (shown beside every map).
MAP_CAVEATS = ("Read these maps for neighbours, not for geometry: t-SNE and UMAP keep which points are close, "
               "but the size of a cluster and the gap between two clusters carry little meaning, and a different "
               "perplexity, neighbour count or seed can move whole clusters. Measure on the codes themselves "
               "(silhouette, matched accuracy), not on the map.")


def kmeans(features: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Cluster ids (N,) from scikit-learn's k-means (k-means++ starts, 10 restarts)."""
    from sklearn.cluster import KMeans

    if not 2 <= k <= len(features):
        raise ValueError(f"k must be from 2 to the number of images ({len(features)}); got {k}")
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(np.asarray(features, dtype=np.float64))


def contingency(labels: np.ndarray, clusters: np.ndarray, num_labels: int, num_clusters: int) -> np.ndarray:
    """counts[c, y]: how many images of label y are in cluster c."""
    counts = np.zeros((num_clusters, num_labels), dtype=np.int64)
    np.add.at(counts, (clusters, labels), 1)
    return counts


def match_clusters(labels: np.ndarray, clusters: np.ndarray, num_labels: int | None = None) -> dict[int, int]:
    """The cluster → label map that makes the most images right, each label used at most once (with
    more clusters than labels, the clusters left over take their majority label)."""
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    num_labels = num_labels or int(labels.max()) + 1
    num_clusters = int(clusters.max()) + 1
    counts = contingency(labels, clusters, num_labels, num_clusters)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    mapping = {int(c): int(y) for c, y in zip(rows, cols)}
    for c in range(num_clusters):
        mapping.setdefault(c, int(counts[c].argmax()))
    return mapping


def matched_accuracy(labels: np.ndarray, clusters: np.ndarray, num_labels: int | None = None) -> float:
    mapping = match_clusters(labels, clusters, num_labels)
    return float(np.mean(np.vectorize(mapping.get)(clusters) == np.asarray(labels)))


def silhouette(features: np.ndarray, clusters: np.ndarray, batch: int = 1024) -> float:
    """The mean silhouette (module docstring) with Euclidean distances, computed in blocks of rows so
    memory stays at batch × N. Images alone in their cluster score 0, as in scikit-learn."""
    x = np.asarray(features, dtype=np.float64)
    clusters = np.asarray(clusters)
    ids, members = np.unique(clusters, return_inverse=True)
    if not 2 <= len(ids) <= len(x) - 1:
        raise ValueError(f"the silhouette needs from 2 to {len(x) - 1} clusters; got {len(ids)}")
    sizes = np.bincount(members).astype(np.float64)
    onehot = np.eye(len(ids))[members]
    squares = (x ** 2).sum(1)
    scores = np.empty(len(x))
    for start in range(0, len(x), batch):
        block = slice(start, start + batch)
        d = np.sqrt(np.maximum(squares[block, None] - 2 * x[block] @ x.T + squares[None, :], 0.0))
        sums = d @ onehot                                    # (b, clusters): total distance to each cluster
        own = members[block]
        own_size = sizes[own]
        a = sums[np.arange(len(own)), own] / np.maximum(own_size - 1, 1)
        others = sums / sizes[None, :]
        others[np.arange(len(own)), own] = np.inf
        b = others.min(1)
        s = (b - a) / np.maximum(a, b)
        s[own_size == 1] = 0.0
        scores[block] = np.nan_to_num(s)
    return float(scores.mean())


def label_distribution(labels: np.ndarray, clusters: np.ndarray, num_labels: int, num_clusters: int) -> np.ndarray:
    """share[c, y]: the share of cluster c's images that have label y (rows sum to 1; empty rows 0)."""
    counts = contingency(np.asarray(labels), np.asarray(clusters), num_labels, num_clusters).astype(np.float64)
    return counts / np.maximum(counts.sum(1, keepdims=True), 1)


def matched_confusion(labels: np.ndarray, clusters: np.ndarray, num_labels: int) -> np.ndarray:
    """confusion[y, ŷ]: images of label y whose cluster was matched to label ŷ."""
    mapping = match_clusters(labels, clusters, num_labels)
    predicted = np.vectorize(mapping.get)(clusters)
    confusion = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(confusion, (np.asarray(labels), predicted), 1)
    return confusion


def pseudo_label_study(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                       k: int, seed: int = 0) -> dict:
    """A logistic regression on the codes trained with the true labels, and the same trained on k-means
    pseudo-labels of the training codes (each cluster named by its matched label): test accuracy of each,
    and the pseudo-labels' own accuracy on the training set (the ceiling of the second classifier)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    num_labels = int(max(train_y.max(), test_y.max())) + 1
    clusters = kmeans(train_x, k, seed)
    mapping = match_clusters(train_y, clusters, num_labels)
    pseudo = np.vectorize(mapping.get)(clusters)

    def fit(targets):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return float((model.fit(train_x, targets).predict(test_x) == test_y).mean())

    return {"true labels": fit(train_y), "pseudo-labels": fit(pseudo),
            "pseudo-labels right (train)": float((pseudo == train_y).mean())}


# UMAP's first fit in a process compiles its numba code, far slower than any later map (docs/experiments.md):
# the front ends start that compile in the background when the lab opens (`prepare_umap`), and wait for it
# with the seconds shown (`umap_ready`), instead of a silent spinner.
_umap_compiled = threading.Event()
_umap_compiling = threading.Lock()


def _compile_umap() -> None:
    with _umap_compiling:
        if not _umap_compiled.is_set():
            import umap

            x = np.random.default_rng(0).random((40, 4)).astype(np.float32)
            umap.UMAP(n_neighbors=5, n_epochs=20, random_state=0, n_jobs=1).fit_transform(x)
            _umap_compiled.set()


def prepare_umap() -> None:
    """Start compiling UMAP in a background thread, once per process (later calls do nothing)."""
    if not _umap_compiled.is_set() and not _umap_compiling.locked():
        threading.Thread(target=_compile_umap, name="dgm-umap-compile", daemon=True).start()


def umap_ready(timeout: float = 0.0) -> bool:
    """Is UMAP compiled? Waits at most `timeout` seconds for it."""
    return _umap_compiled.wait(timeout)


def embed_2d(features: np.ndarray, method: str = "tsne", perplexity: float = 30.0, neighbours: int = 15,
             seed: int = 0) -> np.ndarray:
    """A 2-D map of the rows of `features`: t-SNE (scikit-learn) or UMAP (umap-learn)."""
    x = np.asarray(features, dtype=np.float32)
    if method == "tsne":
        from sklearn.manifold import TSNE

        if not 2 <= perplexity < len(x):
            raise ValueError(f"t-SNE's perplexity must be from 2 to below the number of points ({len(x)}); got {perplexity:g}")
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    if method == "umap":
        import umap

        if not 2 <= neighbours < len(x):
            raise ValueError(f"UMAP's neighbour count must be from 2 to below the number of points ({len(x)}); got {neighbours}")
        _compile_umap()
        return umap.UMAP(n_neighbors=int(neighbours), random_state=seed, n_jobs=1).fit_transform(x)
    raise ValueError(f"method must be 'tsne' or 'umap'; got {method!r}")
