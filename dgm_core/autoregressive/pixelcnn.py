"""PixelCNN and the gated PixelCNN: an image as a product of per-pixel categoricals in raster order.

    p(x) = Π_{i,j} p(x_ij | x_<ij),   x_<ij = the pixels of the rows above and to the left in row i,

every conditional a softmax over the image's L grey levels (or a VQ-VAE's K codes), all H·W of them in one
pass of a convolutional network whose kernels are masked so that the output at (i, j) sees only x_<ij.

- PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu, ICML 2016, "Pixel Recurrent Neural Networks", §3.4):
  a k×k convolution of mask A (rows above, and the left of the centre row, without the centre) then layers
  of mask B (the centre too: a feature may read its own position's earlier features). Stacked, the masks
  leave a **blind spot**: pixels above and to the right that come before (i, j) yet never reach it.
- Gated PixelCNN (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu, NeurIPS 2016,
  "Conditional Image Generation with PixelCNN Decoders", §2.2): a vertical stack that sees whole rows
  above, a horizontal stack that sees the left of the row and takes the vertical stack's features at its
  position, and gates tanh(W_f ∗ x) ⊙ σ(W_g ∗ x). Its receptive field has no blind spot.

Sampling is sequential: H·W passes, one pixel each. The output at (i, j) depends only on a window of
rows i − R … i and columns j − R … j + R (R = the layers' reach), so `sample(..., window=True)` runs each
pass on that window alone: the same numbers, far fewer multiplications on a large image.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class MaskedConv2d(nn.Conv2d):
    """A convolution whose kernel is multiplied by a fixed 0/1 mask (same padding, stride 1)."""

    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor):
        kh, kw = mask.shape
        super().__init__(n_in, n_out, (kh, kw), padding=(kh // 2, kw // 2))
        self.register_buffer("mask", mask.float()[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def raster_mask(kernel: int, kind: str) -> torch.Tensor:
    """PixelCNN's k×k mask: 1 on the rows above the centre and left of it in its row; kind 'B' also takes
    the centre, kind 'A' (the first layer: the pixel itself is not yet known) does not."""
    if kind not in ("A", "B") or kernel % 2 == 0:
        raise ValueError(f"a raster mask is of kind 'A' or 'B' with an odd kernel; got {kind!r}, {kernel}")
    mask = torch.ones(kernel, kernel)
    c = kernel // 2
    mask[c, c + (kind == "B"):] = 0
    mask[c + 1:] = 0
    return mask


def vertical_mask(kernel: int, first: bool) -> torch.Tensor:
    """The vertical stack's k×k mask: the rows above the centre; after the first layer the centre row
    too (its features there already see only rows above, so reading them keeps the stack causal)."""
    mask = torch.ones(kernel, kernel)
    c = kernel // 2
    mask[c + 1:] = 0
    if first:
        mask[c] = 0
    return mask


def horizontal_mask(kernel: int, first: bool) -> torch.Tensor:
    """The horizontal stack's 1×k mask: left of the centre, and the centre itself after the first layer."""
    mask = torch.ones(1, kernel)
    c = kernel // 2
    mask[0, c + (not first):] = 0
    return mask


class PixelCNN(nn.Module):
    """The original PixelCNN: mask A, then `layers` − 1 masked k×k convolutions of mask B with ReLUs
    between them, then two 1×1 convolutions to `levels` logits per pixel. `embed`: the input arrives as
    integers 0 … levels − 1, seen either as one grey value (levels ≥ 17 images) or a learned embedding
    of `embed` channels (a VQ-VAE's codes, which have no order)."""

    def __init__(self, levels: int, channels: int = 64, layers: int = 5, kernel: int = 3, embed: int = 0):
        super().__init__()
        self.levels, self.kernel, self.layer_count = levels, kernel, layers
        self.embedding = nn.Embedding(levels, embed) if embed else None
        n_in = embed or 1
        self.convs = nn.ModuleList([MaskedConv2d(n_in, channels, raster_mask(kernel, "A"))] +
                                   [MaskedConv2d(channels, channels, raster_mask(kernel, "B")) for _ in range(layers - 1)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, levels, 1))

    @property
    def reach(self) -> int:
        """How many rows up (and columns either side) the output can see: k // 2 per masked layer."""
        return self.layer_count * (self.kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, H, W) logits of every pixel's conditional, in one pass; x (B, H, W) integer levels."""
        h = encode(x, self.levels, self.embedding, self.head[-1].weight.dtype)
        for i, conv in enumerate(self.convs):
            h = conv(h if i == 0 else F.relu(h))
        return self.head(h)


class GatedLayer(nn.Module):
    """One layer of the gated PixelCNN (van den Oord et al. 2016, Figure 2): both stacks gated,
    the vertical stack's pre-activations fed to the horizontal one through a 1×1 convolution, and a
    residual connection on the horizontal stack after the first layer."""

    def __init__(self, n_in: int, channels: int, kernel: int, first: bool):
        super().__init__()
        self.first = first
        self.vertical = MaskedConv2d(n_in, 2 * channels, vertical_mask(kernel, first))
        self.horizontal = MaskedConv2d(n_in, 2 * channels, horizontal_mask(kernel, first))
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v_pre = self.vertical(v)
        h_pre = self.horizontal(h) + self.vertical_to_horizontal(v_pre)
        v_new = gate(v_pre)
        h_new = self.out(gate(h_pre))
        return v_new, (h_new if self.first else h_new + h)


def gate(x: torch.Tensor) -> torch.Tensor:
    """tanh(a) ⊙ σ(b) for the two halves a, b of the channels."""
    a, b = x.chunk(2, 1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedPixelCNN(nn.Module):
    """The gated PixelCNN: `layers` gated layers of k×k vertical and 1×k horizontal masked convolutions, then
    two 1×1 convolutions to `levels` logits per pixel from the horizontal stack. No blind spot."""

    def __init__(self, levels: int, channels: int = 64, layers: int = 5, kernel: int = 3, embed: int = 0):
        super().__init__()
        self.levels, self.kernel, self.layer_count = levels, kernel, layers
        self.embedding = nn.Embedding(levels, embed) if embed else None
        n_in = embed or 1
        self.gated = nn.ModuleList(GatedLayer(n_in if i == 0 else channels, channels, kernel, i == 0) for i in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, levels, 1))

    @property
    def reach(self) -> int:
        return self.layer_count * (self.kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = h = encode(x, self.levels, self.embedding, self.head[-1].weight.dtype)
        for layer in self.gated:
            v, h = layer(v, h)
        return self.head(h)


def encode(x: torch.Tensor, levels: int, embedding: nn.Embedding | None, dtype: torch.dtype) -> torch.Tensor:
    """Integer levels (B, H, W) → the network's input (B, C, H, W): a grey value in [−1, 1], or an embedding."""
    if embedding is not None:
        return embedding(x.long()).permute(0, 3, 1, 2)
    return (x.to(dtype) / (levels - 1) * 2 - 1)[:, None]


# ---------------------------------------------------------------- likelihood and sampling
def log_prob(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """log p(x) in nats per image: the sum over pixels of log softmax(logits)[x_ij], exact (no bound)."""
    log_p = F.log_softmax(network(x), 1)
    return log_p.gather(1, x.long()[:, None]).squeeze(1).flatten(1).sum(1)


def bits_per_dim(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """−log₂ p(x) / (H·W) per image: the discrete model's exact bits per pixel."""
    return -log_prob(network, x) / (x[0].numel() * math.log(2))


@torch.no_grad()
def sample(network: nn.Module, n: int, side: int, generator: torch.Generator, window: bool = False,
           first: torch.Tensor | None = None) -> tuple[torch.Tensor, int, int]:
    """n images (n, side, side) of integer levels, drawn pixel by pixel in raster order: (images, network
    passes, output positions computed). Each pass draws one pixel of every image from softmax(logits) with
    `generator`. `window`: compute each pass on the rows i − R … i and columns j − R … j + R that the
    output at (i, j) depends on (R = network.reach), not the whole image: the same logits, fewer positions.
    `first`: images to start from (their pixels are overwritten in order)."""
    x = torch.zeros(n, side, side, dtype=torch.long) if first is None else first.clone().long()
    passes = positions = 0
    reach = network.reach
    for i in range(side):
        for j in range(side):
            if window:
                top, left, right = max(0, i - reach), max(0, j - reach), min(side, j + reach + 1)
                logits = network(x[:, top:i + 1, left:right])[:, :, i - top, j - left]
                positions += (i + 1 - top) * (right - left)
            else:
                logits = network(x)[:, :, i, j]
                positions += side * side
            x[:, i, j] = torch.multinomial(F.softmax(logits, 1), 1, generator=generator).squeeze(1)
            passes += 1
    return x, passes, positions


# ---------------------------------------------------------------- receptive field and blind spot
def receptive_field(network: nn.Module, side: int, row: int, column: int,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """(side, side) |∂ output(row, column) / ∂ input|: where the prediction of that pixel depends on the
    input, by autograd through the network as it is. The input is a continuous grey image (or, for an
    embedding, the embedded channels), drawn from `generator`, so that no ReLU is dead by coincidence."""
    generator = generator or torch.Generator().manual_seed(0)
    x = torch.randint(network.levels, (1, side, side), generator=generator)
    h = encode(x, network.levels, network.embedding, network.head[-1].weight.dtype).detach().requires_grad_(True)
    out = _forward_from_input(network, h)[0, :, row, column].sum()
    (grad,) = torch.autograd.grad(out, h)
    return grad.abs().sum((0, 1))


def _forward_from_input(network: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """The network's logits from an already encoded input (for gradients with respect to it)."""
    if isinstance(network, GatedPixelCNN):
        v = hh = h
        for layer in network.gated:
            v, hh = layer(v, hh)
        return network.head(hh)
    for i, conv in enumerate(network.convs):
        h = conv(h if i == 0 else F.relu(h))
    return network.head(h)


def before(side: int, row: int, column: int) -> torch.Tensor:
    """(side, side) booleans: the pixels that come before (row, column) in raster order."""
    r, c = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    return (r < row) | ((r == row) & (c < column))


def within_reach(side: int, row: int, column: int, reach: int) -> torch.Tensor:
    """The pixels before (row, column) that an unmasked stack of the same depth would see: rows
    row − reach … row, columns column − reach … column + reach."""
    r, c = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    square = (r >= row - reach) & (r <= row) & ((c - column).abs() <= reach)
    return square & before(side, row, column)


def blind_spot(seen: torch.Tensor, row: int, column: int, reach: int) -> torch.Tensor:
    """(side, side) booleans: the pixels that come before (row, column) and within the layers' reach, yet do
    not reach its prediction (`seen`: nonzero where they do, e.g. receptive_field's gradient)."""
    return within_reach(len(seen), row, column, reach) & (seen == 0)
