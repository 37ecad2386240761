"""RealNVP on digits (8x8, 17 levels) or on mnist-5k (28x28, 256 levels), measured in one run against references:

  bits/dim   ours against scikit-learn's GaussianMixture on the same dequantized data, and against two
             normflows RealNVPs with about as many parameters, trained for the same steps with the same
             batch, optimiser, dequantization and logit transform, scored the same way:
             - conv: the same layout as ours from normflows' parts (AffineCouplingBlock with ConvNet2d,
               3 checkerboard couplings, Squeeze, 3 channel couplings, 4 checkerboard couplings),
             - MLP: MaskedAffineFlow + ActNorm on the 64 pixels, normflows' vector RealNVP recipe (digits
               only: on 784 pixels a dense net of matched size would be too narrow to say anything)
             On mnist-5k both train 550 steps (ten epochs of the 3,500 training images; the shipped run is 30)
             and ours is the shipped layout (width 32, 2 scales) with uniform dequantization, as normflows'.
  speed      our training steps/s against each on the same batches
  interactive  sampling 64 images, and scoring every OOD set of the page, against one forward pass of
             64 images (how many forward passes each costs)

    python -m benchmarks.flow [--quick] [--dataset mnist-5k]
"""
from __future__ import annotations

import math
import time

import torch

from benchmarks import median_seconds, run_alone
from dgm_core import flow
from dgm_core.data import load_dataset

#: Per dataset: the side the flow models, its grey levels, and the training steps of the matched run.
SETTINGS = {"digits": (8, 17, 1150), "mnist-5k": (28, 256, 550)}
LEVELS = 17


def _data(dataset: str):
    side, levels, _ = SETTINGS[dataset]
    train = flow.to_levels(load_dataset(dataset, "train", side).images, levels) / (levels - 1)
    test = flow.to_levels(load_dataset(dataset, "test", side).images, levels) / (levels - 1)
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


def _normflows_conv_model(params_goal: int, side: int = 8):
    """normflows' parts in our layout (data side first): 3 checkerboard affine couplings on 1x8x8,
    Squeeze to 4x4x4, 3 channel couplings, 4 checkerboard couplings; ConvNet2d coupling networks
    (three 3x3 convolutions, zero-initialised last). No split: every latent goes to the Gaussian at
    the end. The hidden width is chosen to match `params_goal`."""
    import normflows as nf

    def build(hidden: int):
        def checker(c, i):
            net = nf.nets.ConvNet2d([c, hidden, hidden, 2 * c], [3, 3, 3], init_zeros=True)
            return nf.flows.AffineCouplingBlock(net, split_mode="checkerboard_inv" if i % 2 else "checkerboard")

        def channel(c, i):
            net = nf.nets.ConvNet2d([c // 2, hidden, hidden, c], [3, 3, 3], init_zeros=True)
            return nf.flows.AffineCouplingBlock(net, split_mode="channel_inv" if i % 2 else "channel")

        data_side = ([checker(1, i) for i in range(3)] + [nf.flows.Squeeze()] + [channel(4, i) for i in range(3)] +
                     [checker(4, i) for i in range(4)])
        # normflows lists flows from z to x and scores x through their inverses; Squeeze.inverse squeezes.
        return nf.NormalizingFlow(nf.distributions.DiagGaussian((4, side // 2, side // 2), trainable=False),
                                  data_side[::-1])

    hidden = 16
    while sum(p.numel() for p in build(hidden + 4).parameters()) <= params_goal:
        hidden += 4
    return build(hidden), hidden


def _nf_log_prob(model, images: torch.Tensor, generator: torch.Generator, levels: int = LEVELS) -> torch.Tensor:
    """The same discrete-image bound as ours: uniform dequantization, logit, −D log L."""
    k = flow.to_levels(images, levels)
    y = (k + torch.rand(k.shape, generator=generator)) / levels
    w, logdet = flow.logit_transform(y, 0.05)
    w = w if isinstance(model.q0.shape, tuple) and len(model.q0.shape) == 3 else w.flatten(1)
    return model.log_prob(w) + logdet - images[0].numel() * math.log(levels)


def _train(step, train: torch.Tensor, steps: int, batch: int, seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        step(train[torch.randint(len(train), (batch,), generator=g)])
    return steps / (time.perf_counter() - start)


def rows(quick: bool = False, dataset: str = "digits") -> list[dict]:
    torch.manual_seed(0)
    side, levels, full_steps = SETTINGS[dataset]
    pixels = side * side
    train, test = _data(dataset)
    steps = 200 if quick else full_steps      # digits: 1,150 steps of 64, the shipped run's 50 epochs
    ours = flow.RealNVP(image_size=side, levels=levels, width=32, blocks=1, scales=2)
    params = sum(p.numel() for p in ours.parameters())
    conv, conv_hidden = _normflows_conv_model(params, side)
    references = {f"normflows conv RealNVP ({sum(p.numel() for p in conv.parameters()):,} parameters, width {conv_hidden})": conv}
    if dataset == "digits":
        mlp, mlp_hidden = _normflows_model(params)
        references[f"normflows MLP RealNVP ({sum(p.numel() for p in mlp.parameters()):,} parameters, width {mlp_hidden})"] = mlp
    g = torch.Generator().manual_seed(1)

    def trainer(model, log_prob):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(x):
            loss = flow.bits_per_dim(log_prob(x), pixels).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return step

    if dataset == "digits":
        with torch.no_grad():                  # ActNorm's data-dependent initialisation on a first batch
            _nf_log_prob(mlp, train[:256], g, levels)
    rate_ours = _train(trainer(ours, lambda x: ours.log_prob(x, g)), train, steps, 64, 0)
    rates = {name: _train(trainer(m, lambda x, m=m: _nf_log_prob(m, x, g, levels)), train, steps, 64, 0)
             for name, m in references.items()}
    eval_g = torch.Generator().manual_seed(2)
    ours.eval()
    with torch.no_grad():
        bpd_ours = float(torch.stack([flow.image_bits_per_dim(ours, test, eval_g) for _ in range(4)]).mean())
        bpds = {name: float(torch.stack([flow.bits_per_dim(
            torch.cat([_nf_log_prob(m.eval(), test[i:i + 500], eval_g, levels) for i in range(0, len(test), 500)]),
            pixels) for _ in range(4)]).mean()) for name, m in references.items()}
    gmm = flow.gmm_baseline(train, test, levels, ours.alpha)
    bpd_gmm = gmm["bits_per_dim"]

    # interactivity: one forward pass of 64 images is the unit
    batch = test[:64]

    with torch.no_grad():
        forward = median_seconds(lambda: ours.log_prob(batch, eval_g))
        sample = median_seconds(lambda: ours.sample(64, eval_g))
    ood_sets = flow.ood_images(dataset, side, levels, 359, seed=0)
    scoring = median_seconds(lambda: flow.ood_report(ours, test[:359], train[:718], ood_sets, dataset), repeats=3)

    common = {"benchmark": "flow" if dataset == "digits" else f"flow, {dataset}"}
    out = []
    for name in references:
        out.append({**common, "measure": f"test bits/dim after {steps} steps (ours {params:,} parameters)",
                    "ours": bpd_ours, "reference": bpds[name], "unit": "bits/dim", "reference_name": name,
                    "ratio": bpds[name] / bpd_ours})
    out.append({**common, "measure": "test bits/dim", "ours": bpd_ours, "reference": bpd_gmm, "unit": "bits/dim",
                "reference_name": f"scikit-learn GaussianMixture, {gmm['components']} {gmm['covariance']} components "
                                  "(chosen on held-out training images)", "ratio": bpd_gmm / bpd_ours})
    for name in references:
        out.append({**common, "measure": "training steps per second (batch 64)", "ours": rate_ours,
                    "reference": rates[name], "unit": "steps/s", "reference_name": name, "ratio": rate_ours / rates[name]})
    out += [
        {**common, "measure": "sampling 64 images", "ours": sample * 1000, "reference": forward * 1000, "unit": "ms",
         "reference_name": "one forward pass of 64 images", "ratio": forward / sample},
        {**common, "measure": f"scoring every OOD set ({len(ood_sets)} sets of up to 359 images, PNG lengths, typicality)",
         "ours": scoring * 1000, "reference": forward * 1000, "unit": "ms",
         "reference_name": "one forward pass of 64 images", "ratio": forward / scoring},
    ]
    return out


if __name__ == "__main__":
    import sys

    dataset = "mnist-5k" if "--dataset" in sys.argv and sys.argv[sys.argv.index("--dataset") + 1] == "mnist-5k" \
        else "digits"
    args = [a for a in sys.argv[1:] if a not in ("--dataset", "mnist-5k", "digits")]
    sys.argv = sys.argv[:1] + args
    run_alone(lambda quick: rows(quick, dataset), __doc__)
