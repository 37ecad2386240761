"""MADE: a masked autoencoder for distribution estimation (Germain, Gregor, Murray & Larochelle, ICML 2015).

D discrete variables, each one of L levels. In an ordering π (π(d) is the position of variable d), the
model is a product of conditionals

    p(x) = Π_t p(x_{π⁻¹(t)} | x_{π⁻¹(1)}, …, x_{π⁻¹(t−1)}),

all computed in ONE pass of a fully connected network whose weights are masked so that the output for a
variable sees only the variables before it. Masks come from degrees (§4): an input unit of variable d has
degree m(d) = π(d) + 1; each hidden unit a degree drawn in [min of the layer below, D − 1]; a hidden unit
takes the units below it of degree ≤ its own, and an output of degree m(d) the last hidden units of degree
< m(d) (strictly: that is what keeps x_d out of its own conditional). Each variable enters as L one-hot
units and leaves as L logits of a softmax, all with the variable's degree.

Order-agnostic training (§4.2): `orderings` pairs of (ordering, hidden degrees), drawn once from a
generator; each step trains one pair, and the model's probability is the average over them,
p(x) = (1/K) Σ_k p_k(x), itself normalised since each p_k is.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class MaskedLinear(nn.Linear):
    """y = (W ⊙ M) x + b, with one mask M (out, in) per ordering, chosen by `forward(x, which)`."""

    def __init__(self, n_in: int, n_out: int, masks: torch.Tensor):
        super().__init__(n_in, n_out)
        self.register_buffer("masks", masks.float())         # (K, out, in)

    def forward(self, x: torch.Tensor, which: int = 0) -> torch.Tensor:
        return F.linear(x, self.weight * self.masks[which], self.bias)


def made_degrees(variables: int, hidden: list[int], generator: torch.Generator,
                 natural_order: bool = False) -> list[torch.Tensor]:
    """Degrees [inputs (D,), hidden layer 1, …]: the inputs' are the positions of a random ordering (or the
    natural one) plus one, each hidden unit's uniform in [min of the layer below, D − 1] (Germain et al. §4)."""
    order = torch.arange(variables) if natural_order else torch.randperm(variables, generator=generator)
    degrees = [order + 1]
    for size in hidden:
        low = int(degrees[-1].min())
        high = max(low, variables - 1)
        degrees.append(torch.randint(low, high + 1, (size,), generator=generator))
    return degrees


def made_masks(degrees: list[torch.Tensor], levels: int) -> list[torch.Tensor]:
    """Masks (out, in) of every layer from the degrees, each variable spread over its `levels` one-hot inputs
    and logits: hidden ≥ below, output > last hidden."""
    inputs = degrees[0].repeat_interleave(levels)
    below, masks = inputs, []
    for hidden in degrees[1:]:
        masks.append((hidden[:, None] >= below[None, :]).float())
        below = hidden
    masks.append((inputs[:, None] > below[None, :]).float())    # the outputs have the inputs' degrees
    return masks


class MADE(nn.Module):
    """p(x) over `variables` discrete variables of `levels` levels each, averaged over `orderings` masks."""

    def __init__(self, variables: int, levels: int, hidden: tuple[int, ...] = (256, 256), orderings: int = 1,
                 natural_order: bool = True, mask_seed: int = 0):
        super().__init__()
        if variables < 1 or levels < 2 or orderings < 1 or not hidden:
            raise ValueError("MADE needs at least one variable, two levels, one ordering and one hidden layer")
        self.variables, self.levels, self.orderings = variables, levels, orderings
        generator = torch.Generator().manual_seed(mask_seed)
        # The first pair keeps the natural order when asked (x₁ before x₂ on the 2-D page); the others are random.
        all_degrees = [made_degrees(variables, list(hidden), generator, natural_order and k == 0) for k in range(orderings)]
        per_layer = list(zip(*(made_masks(d, levels) for d in all_degrees)))     # layer -> K masks
        sizes = [variables * levels, *hidden, variables * levels]
        self.layers = nn.ModuleList(MaskedLinear(a, b, torch.stack(m)) for a, b, m in zip(sizes, sizes[1:], per_layer))
        self.register_buffer("degrees", torch.stack([d[0] for d in all_degrees]))   # (K, D): position + 1

    def order(self, which: int = 0) -> list[int]:
        """The variables in the order ordering `which` generates them."""
        return torch.argsort(self.degrees[which]).tolist()

    def logits(self, x: torch.Tensor, which: int = 0) -> torch.Tensor:
        """(B, D, L) logits of every conditional, in one pass; x (B, D) integer levels."""
        h = F.one_hot(x.long(), self.levels).to(self.layers[0].weight.dtype).flatten(1)
        for i, layer in enumerate(self.layers):
            h = layer(h, which)
            if i < len(self.layers) - 1:
                h = F.relu(h)
        return h.view(len(x), self.variables, self.levels)

    def log_prob_in(self, x: torch.Tensor, which: int) -> torch.Tensor:
        """log p_k(x) in nats for ordering k = `which`: the sum of its D conditionals' log-probabilities."""
        log_p = F.log_softmax(self.logits(x, which), -1)
        return log_p.gather(-1, x.long()[..., None]).squeeze(-1).sum(-1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log (1/K) Σ_k p_k(x) in nats, exact: every ordering's product of conditionals, averaged."""
        per_ordering = torch.stack([self.log_prob_in(x, k) for k in range(self.orderings)])
        return torch.logsumexp(per_ordering, 0) - math.log(self.orderings)

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Mean negative log-likelihood under one ordering drawn from `generator` (order-agnostic training)."""
        which = int(torch.randint(self.orderings, (), generator=generator))
        return -self.log_prob_in(x, which).mean()

    def connectivity(self, which: int = 0) -> torch.Tensor:
        """(D, D) 0/1: entry [d, e] is 1 where the conditional of variable d can depend on variable e, from
        the product of the masks (it must be zero wherever e does not come before d)."""
        path = None
        for layer in self.layers:
            mask = layer.masks[which]
            path = mask if path is None else (mask @ path).clamp(max=1)
        L = self.levels
        return path.view(self.variables, L, self.variables, L).amax((1, 3))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, int]:
        """(n, D) samples and the network passes the batch took: D per ordering drawn, one variable each in that
        ordering's order; each sample draws its ordering first, which samples the average (1/K) Σ_k p_k exactly."""
        which = torch.randint(self.orderings, (n,), generator=generator)
        x = torch.zeros(n, self.variables, dtype=torch.long)
        passes = 0
        for k in range(self.orderings):
            rows = (which == k).nonzero().flatten()
            if len(rows) == 0:
                continue
            part = x[rows]
            for d in self.order(k):
                probs = F.softmax(self.logits(part, k)[:, d], -1)
                part[:, d] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                passes += 1
            x[rows] = part
        return x, passes
