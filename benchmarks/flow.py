"""RealNVP on digits (8x8, 17 levels), measured in one run against two references:

  bits/dim   ours against scikit-learn's GaussianMixture on the same dequantized data, and against
             normflows' RealNVP (MaskedAffineFlow + ActNorm on the 64 pixels, the library's own
             RealNVP recipe) with about as many parameters, trained for the same steps with the same
             batch, optimiser, dequantization and logit transform, scored the same way
  speed      our training steps/s against normflows' on the same batches
  interactive  sampling 64 images, and scoring every OOD set of the page, against one forward pass of
             64 images (how many forward passes each costs)

    python -m benchmarks.flow [--quick]
"""
from __future__ import annotations

import argparse
import math
import time

import torch

from dgm_core import flow
from dgm_core.data import load_dataset

LEVELS = 17


def _digits():
    train = flow.to_levels(load_dataset("digits", "train", 8).images, LEVELS) / (LEVELS - 1)
    test = flow.to_levels(load_dataset("digits", "test", 8).images, LEVELS) / (LEVELS - 1)
    return train, test


def _normflows_model(params_goal: int):
    """normflows' RealNVP on R^64: alternating checkerboard masks, MLP scale and shift nets (zero
    init), ActNorm between couplings. The hidden width is chosen to match `params_goal`."""
    import normflows as nf

    def build(hidden: int, layers: int = 8):
        mask = torch.tensor([(i + i // 8) % 2 for i in range(64)], dtype=torch.float32)
        flows = []
        for i in range(layers):
            s = nf.nets.MLP([64, hidden, hidden, 64], init_zeros=True)
            t = nf.nets.MLP([64, hidden, hidden, 64], init_zeros=True)
            flows += [nf.flows.MaskedAffineFlow(mask if i % 2 == 0 else 1 - mask, t, s), nf.flows.ActNorm(64)]
        return nf.NormalizingFlow(nf.distributions.DiagGaussian(64, trainable=False), flows)

    hidden = 16
    while sum(p.numel() for p in build(hidden + 8).parameters()) <= params_goal:
        hidden += 8
    return build(hidden), hidden


def _nf_log_prob(model, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same discrete-image bound as ours: uniform dequantization, logit, −D log L."""
    k = flow.to_levels(images, LEVELS)
    y = (k + torch.rand(k.shape, generator=generator)) / LEVELS
    w, logdet = flow.logit_transform(y, 0.05)
    return model.log_prob(w.flatten(1)) + logdet - 64 * math.log(LEVELS)


def _train(step, train: torch.Tensor, steps: int, batch: int, seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        step(train[torch.randint(len(train), (batch,), generator=g)])
    return steps / (time.perf_counter() - start)


def rows(quick: bool = False) -> list[dict]:
    torch.manual_seed(0)
    train, test = _digits()
    steps = 200 if quick else 1150            # 1,150 steps of 64: the shipped run's 50 epochs
    ours = flow.RealNVP(image_size=8, levels=LEVELS, width=32, blocks=1, scales=2)
    params = sum(p.numel() for p in ours.parameters())
    theirs, hidden = _normflows_model(params)
    their_params = sum(p.numel() for p in theirs.parameters())
    g = torch.Generator().manual_seed(1)

    opt_ours = torch.optim.Adam(ours.parameters(), lr=1e-3)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=1e-3)

    def step_ours(x):
        loss = flow.bits_per_dim(ours.log_prob(x, g), 64).mean()
        opt_ours.zero_grad(set_to_none=True)
        loss.backward()
        opt_ours.step()

    def step_theirs(x):
        loss = flow.bits_per_dim(_nf_log_prob(theirs, x, g), 64).mean()
        opt_theirs.zero_grad(set_to_none=True)
        loss.backward()
        opt_theirs.step()

    with torch.no_grad():                      # ActNorm's data-dependent initialisation on a first batch
        _nf_log_prob(theirs, train[:256], g)
    rate_ours = _train(step_ours, train, steps, 64, 0)
    rate_theirs = _train(step_theirs, train, steps, 64, 0)
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        eval_g = torch.Generator().manual_seed(2)
        bpd_ours = float(torch.stack([flow.image_bits_per_dim(ours, test, eval_g) for _ in range(4)]).mean())
        bpd_theirs = float(torch.stack([flow.bits_per_dim(_nf_log_prob(theirs, test, eval_g), 64)
                                        for _ in range(4)]).mean())
    bpd_gmm = flow.gmm_baseline_bits_per_dim(train, test, LEVELS)

    # interactivity: one forward pass of 64 images is the unit
    batch = test[:64]

    def median_seconds(fn, repeats=10):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return sorted(times)[len(times) // 2]

    with torch.no_grad():
        forward = median_seconds(lambda: ours.log_prob(batch, eval_g))
        sample = median_seconds(lambda: ours.sample(64, 1.0, eval_g))
    ood_sets = flow.ood_images("digits", 8, LEVELS, 359, seed=0)
    scoring = median_seconds(lambda: flow.ood_report(ours, test, train, ood_sets, "digits"), repeats=3)

    name = f"normflows RealNVP ({their_params:,} parameters, MLP width {hidden})"
    common = {"benchmark": "flow"}
    return [
        {**common, "measure": f"test bits/dim after {steps} steps ({params:,} parameters)", "ours": bpd_ours,
         "reference": bpd_theirs, "unit": "bits/dim", "reference_name": name, "ratio": bpd_theirs / bpd_ours},
        {**common, "measure": "test bits/dim", "ours": bpd_ours, "reference": bpd_gmm, "unit": "bits/dim",
         "reference_name": "scikit-learn GaussianMixture, 5 full components", "ratio": bpd_gmm / bpd_ours},
        {**common, "measure": "training steps per second (batch 64)", "ours": rate_ours, "reference": rate_theirs,
         "unit": "steps/s", "reference_name": name, "ratio": rate_ours / rate_theirs},
        {**common, "measure": "sampling 64 images", "ours": sample * 1000, "reference": forward * 1000, "unit": "ms",
         "reference_name": "one forward pass of 64 images", "ratio": forward / sample},
        {**common, "measure": "scoring every OOD set (5 sets x 359 images, PNG lengths, typicality)",
         "ours": scoring * 1000, "reference": forward * 1000, "unit": "ms",
         "reference_name": "one forward pass of 64 images", "ratio": forward / scoring},
    ]


def main() -> None:
    from benchmarks.__main__ import table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    print(table(rows(parser.parse_args().quick)))


if __name__ == "__main__":
    main()
