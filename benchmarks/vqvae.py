"""The discrete-latent lab against reference libraries, measured in one run:

  quantiser   forward + backward of our VectorQuantizer (EMA codebook) against vector-quantize-pytorch's
              VectorQuantize at the same codebook size K, dimension D, decay and input (B, D, H, W)
  usage       the same VQ-VAE (our encoder and decoder) trained for the same steps on digits with each
              quantiser: theirs with its dead-code threshold (threshold_ema_dead_code), ours with its
              restarts; test perplexity and dead codes
  maps        scikit-learn's t-SNE against openTSNE on the same codes (the shipped VQ-VAE's, or a fresh
              model's): seconds and trustworthiness (scikit-learn), at the lab's test set and at all digits

    python -m benchmarks.vqvae [--quick]
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from benchmarks import median_seconds, run_alone
from dgm_core import vqvae
from dgm_core.data import load_dataset

K, D, DECAY = 64, 16, 0.99


class TheirQuantizer(nn.Module):
    """vector-quantize-pytorch's VectorQuantize behind our quantiser's interface (for the usage run)."""

    def __init__(self, threshold: float):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.vq = VectorQuantize(dim=D, codebook_size=K, decay=DECAY, commitment_weight=0.25,
                                 threshold_ema_dead_code=threshold, accept_image_fmap=True)

    def forward(self, z_e):
        quantized, indices, commitment = self.vq(z_e)
        counts = torch.bincount(indices.flatten(), minlength=K).float()
        return vqvae.Quantized(quantized, indices, commitment.sum(), commitment.sum() / 0.25, vqvae.perplexity(counts))


def _train(model: vqvae.VQVAE, train: torch.Tensor, steps: int, restart_every: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for step in range(steps):
        x = train[torch.randint(len(train), (64,), generator=g)]
        if restart_every and step and step % restart_every == 0:
            with torch.no_grad():
                model.quantizer.restart_dead_codes(model.encode(x), 1.0, g)
        loss, _ = model.loss(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def _test_usage(model: vqvae.VQVAE, test: torch.Tensor) -> dict:
    model.eval()
    with torch.no_grad():
        _, q = model(test)
    return vqvae.codebook_health(torch.bincount(q.indices.flatten(), minlength=K).float())


def _tsne_rows(features: np.ndarray, label: str, common: dict) -> list[dict]:
    from openTSNE import TSNE as OpenTSNE
    from sklearn.manifold import TSNE, trustworthiness

    start = time.perf_counter()
    ours = TSNE(n_components=2, perplexity=30, init="pca", random_state=0, n_jobs=-1).fit_transform(features)
    sklearn_seconds = time.perf_counter() - start
    start = time.perf_counter()
    theirs = np.asarray(OpenTSNE(n_components=2, perplexity=30, initialization="pca", random_state=0,
                                 n_jobs=-1).fit(features))
    open_seconds = time.perf_counter() - start
    t_sklearn = trustworthiness(features, ours, n_neighbors=10)
    t_open = trustworthiness(features, theirs, n_neighbors=10)
    return [
        {**common, "measure": f"t-SNE of {label} ({len(features)} points), seconds", "ours": sklearn_seconds,
         "reference": open_seconds, "unit": "s", "reference_name": "openTSNE (ours: scikit-learn)",
         "ratio": open_seconds / sklearn_seconds},
        {**common, "measure": f"t-SNE of {label} ({len(features)} points), trustworthiness (10 neighbours)",
         "ours": t_sklearn, "reference": t_open, "unit": "0–1", "reference_name": "openTSNE (ours: scikit-learn)",
         "ratio": t_sklearn / t_open},
    ]


def rows(quick: bool = False) -> list[dict]:
    from vector_quantize_pytorch import VectorQuantize

    torch.manual_seed(0)
    common = {"benchmark": "vqvae"}
    out = []

    # the quantiser alone: forward + backward on 64 images' 4x4 grids of D-dim vectors
    ours = vqvae.VectorQuantizer(K, D, ema=True, decay=DECAY).train()
    theirs = VectorQuantize(dim=D, codebook_size=K, decay=DECAY, commitment_weight=0.25, accept_image_fmap=True).train()
    z = torch.randn(64, D, 4, 4, requires_grad=True)

    def ours_step():
        q = ours(z)
        ((q.quantized ** 2).mean() + q.loss).backward()

    def theirs_step():
        quantized, _, commitment = theirs(z)
        ((quantized ** 2).mean() + commitment.sum()).backward()

    repeats = 20 if quick else 200
    t_ours, t_theirs = median_seconds(ours_step, repeats), median_seconds(theirs_step, repeats)
    out.append({**common, "measure": f"quantiser forward + backward (K {K}, D {D}, 64 x 4x4 vectors)",
                "ours": t_ours * 1e3, "reference": t_theirs * 1e3, "unit": "ms",
                "reference_name": "vector-quantize-pytorch VectorQuantize", "ratio": t_theirs / t_ours})

    # codebook usage after the same training
    train = load_dataset("digits", "train", 8).images
    test = load_dataset("digits", "test", 8).images
    steps = 150 if quick else 1500
    usage = {}
    for label, make, restart_every in [("ours, EMA + restarts every 50 steps", lambda: None, 50),
                                       ("theirs, threshold_ema_dead_code 2", lambda: TheirQuantizer(2.0), 0)]:
        torch.manual_seed(1)
        model = vqvae.VQVAE(image_size=8, width=64, num_codes=K, code_dim=D, ema=True, decay=DECAY)
        replacement = make()
        if replacement is not None:
            model.quantizer = replacement
        _train(model, train, steps, restart_every, seed=2)
        usage[label] = _test_usage(model, test)
    (ours_label, ours_usage), (their_label, their_usage) = usage.items()
    out.append({**common, "measure": f"test perplexity after {steps} steps on digits ({K} codes)",
                "ours": ours_usage["perplexity"], "reference": their_usage["perplexity"], "unit": "codes",
                "reference_name": their_label, "ratio": ours_usage["perplexity"] / their_usage["perplexity"]})
    out.append({**common, "measure": f"codes used on the test set after {steps} steps ({K} codes)",
                "ours": K - ours_usage["dead_codes"], "reference": K - their_usage["dead_codes"], "unit": "codes",
                "reference_name": their_label,
                "ratio": (K - ours_usage["dead_codes"]) / max(K - their_usage["dead_codes"], 1)})

    # t-SNE: scikit-learn against openTSNE on the codes of a trained model (the last one above)
    model = vqvae.VQVAE(image_size=8, width=64, num_codes=K, code_dim=D, ema=True, decay=DECAY)
    torch.manual_seed(3)
    _train(model, train, 100 if quick else 600, 50, seed=4)
    test_codes = vqvae.codes(model, test)["latent"].numpy().astype(np.float64)
    out += _tsne_rows(test_codes, "the test codes", common)
    if not quick:
        everything = torch.cat([train, test])
        out += _tsne_rows(vqvae.codes(model, everything)["latent"].numpy().astype(np.float64), "every digit's codes", common)
    return out


if __name__ == "__main__":
    run_alone(rows, __doc__)
