"""The autoregressive family's maths against oracles that do not share its code: every possible tiny image
enumerated (the probabilities sum to 1 and each is the product of its conditionals, computed one pixel at
a time from prefixes), autograd for the masks, and a brute-force perturbation count for the blind spot."""
import itertools

import pytest
import torch
from torch.nn import functional as F

from dgm_core.autoregressive import pixelcnn as P
from dgm_core.autoregressive.made import MADE

NETWORKS = {"pixelcnn": P.PixelCNN, "gated": P.GatedPixelCNN}


def _every_image(side: int, levels: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(levels), repeat=side * side))).view(-1, side, side)


def _trained_a_little(network, data, steps=30):
    """A few Adam steps, so that the test is not of a network at its initial (nearly uniform) weights."""
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-2)
    for _ in range(steps):
        optimiser.zero_grad()
        (-P.log_prob(network, data).mean()).backward()
        optimiser.step()
    return network


@pytest.mark.parametrize("kind", list(NETWORKS))
@pytest.mark.parametrize("side, levels", [(2, 3), (3, 2)])
def test_the_probabilities_of_every_tiny_image_sum_to_one_and_are_products_of_conditionals(kind, side, levels):
    torch.manual_seed(0)
    network = NETWORKS[kind](levels, channels=8, layers=3, kernel=3).double()
    images = _every_image(side, levels)
    _trained_a_little(network, images[torch.randperm(len(images))[:10]])
    with torch.no_grad():
        p = P.log_prob(network, images).exp()
        assert len(images) == levels ** (side * side)
        assert p.sum().item() == pytest.approx(1.0, abs=1e-10)
        # The oracle: each conditional computed from a copy of the image that holds only its prefix (every later
        # pixel replaced by a random level), one pixel at a time, then multiplied.
        g = torch.Generator().manual_seed(1)
        product = torch.ones(len(images), dtype=torch.float64)
        for index in range(side * side):
            i, j = divmod(index, side)
            prefix = images.clone().flatten(1)
            prefix[:, index:] = torch.randint(levels, (len(images), side * side - index), generator=g)
            conditional = F.softmax(network(prefix.view_as(images)), 1)[:, :, i, j]
            product *= conditional.gather(1, images[:, i, j, None]).squeeze(1)
        torch.testing.assert_close(p, product, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(p, torch.full_like(p, 1 / len(p)), atol=1e-3)     # trained: not uniform


@pytest.mark.parametrize("orderings", [1, 3])
def test_made_over_every_tiny_configuration_sums_to_one_and_averages_its_orderings(orderings):
    torch.manual_seed(0)
    made = MADE(4, 3, hidden=(16, 16), orderings=orderings, natural_order=False, mask_seed=2).double()
    xs = torch.tensor(list(itertools.product(range(3), repeat=4)))
    with torch.no_grad():
        assert made.log_prob(xs).exp().sum().item() == pytest.approx(1.0, abs=1e-10)
        for k in range(orderings):
            p_k = made.log_prob_in(xs, k).exp()
            assert p_k.sum().item() == pytest.approx(1.0, abs=1e-10)
            # Product of conditionals from prefixes in that ordering's order (later variables randomised).
            product = torch.ones(len(xs), dtype=torch.float64)
            seen = []
            for d in made.order(k):
                partial = torch.randint(3, xs.shape)
                partial[:, seen] = xs[:, seen]
                product *= F.softmax(made.logits(partial, k)[:, d], -1).gather(1, xs[:, d, None]).squeeze(1)
                seen.append(d)
            torch.testing.assert_close(p_k, product)
        average = torch.stack([made.log_prob_in(xs, k).exp() for k in range(orderings)]).mean(0)
        torch.testing.assert_close(made.log_prob(xs).exp(), average)
    if orderings == 3:
        assert len({tuple(made.order(k)) for k in range(3)}) > 1        # the orderings differ


@pytest.mark.parametrize("orderings", [1, 4])
def test_made_outputs_never_depend_on_a_later_variable_by_autograd_and_the_mask_product_says_so(orderings):
    torch.manual_seed(0)
    made = MADE(5, 4, hidden=(32, 32), orderings=orderings, natural_order=False, mask_seed=3)
    for k in range(orderings):
        position = {d: t for t, d in enumerate(made.order(k))}
        x = F.one_hot(torch.randint(4, (1, 5)), 4).float().flatten(1).requires_grad_(True)
        h = x
        for i, layer in enumerate(made.layers):
            h = layer(h, k)
            h = F.relu(h) if i < len(made.layers) - 1 else h
        logits = h.view(5, 4)
        depends = torch.zeros(5, 5)
        for d in range(5):
            (grad,) = torch.autograd.grad(logits[d].sum(), x, retain_graph=True)
            depends[d] = grad.view(5, 4).abs().sum(1) > 0
        for d in range(5):
            for e in range(5):
                if position[e] >= position[d]:
                    assert depends[d, e] == 0, (k, d, e)       # e comes at or after d: never seen
        assert torch.equal((made.connectivity(k) > 0).float() * depends, depends)   # autograd ⊆ mask product


@pytest.mark.parametrize("kind", list(NETWORKS))
def test_a_pixels_logits_do_not_move_when_later_pixels_change(kind):
    torch.manual_seed(0)
    network = NETWORKS[kind](5, channels=8, layers=4, kernel=3).double()
    x = torch.randint(5, (1, 6, 6))
    with torch.no_grad():
        out = network(x)
        for index in range(36):
            i, j = divmod(index, 6)
            changed = x.clone().flatten(1)
            changed[:, index:] = (changed[:, index:] + 1 + torch.randint(3, changed[:, index:].shape)) % 5
            moved = network(changed.view_as(x))
            torch.testing.assert_close(moved[:, :, i, j], out[:, :, i, j])


def _reached_by_perturbation(network, side, row, column) -> torch.Tensor:
    """The brute-force oracle: the pixels whose change moves the logits of (row, column), one pixel at a time."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(network.levels, (1, side, side), generator=g)
    with torch.no_grad():
        base = network(x)[0, :, row, column]
        reached = torch.zeros(side, side, dtype=torch.bool)
        for i in range(side):
            for j in range(side):
                for delta in (1, 2):
                    changed = x.clone()
                    changed[0, i, j] = (changed[0, i, j] + delta) % network.levels
                    if not torch.allclose(network(changed)[0, :, row, column], base, rtol=0, atol=1e-12):
                        reached[i, j] = True
    return reached


@pytest.mark.parametrize("kind, blind", [("pixelcnn", 10), ("gated", 0)])
def test_the_blind_spot_from_gradients_equals_the_brute_force_count(kind, blind):
    """Five 3×3 layers: the original PixelCNN misses a triangle of 4 + 3 + 2 + 1 pixels above and to the right
    of the output (van den Oord et al. 2016, Figure 1); the gated one misses none."""
    torch.manual_seed(0)
    network = NETWORKS[kind](17, channels=8, layers=5, kernel=3).double()
    side, row, column = 13, 7, 6
    by_gradient = P.receptive_field(network, side, row, column) > 0
    by_perturbation = _reached_by_perturbation(network, side, row, column)
    assert torch.equal(by_gradient, by_perturbation)
    assert not (by_gradient & ~P.before(side, row, column)).any()           # nothing after the pixel is seen
    spot = P.blind_spot(by_gradient.double(), row, column, network.reach)
    assert int(spot.sum()) == blind
    if kind == "pixelcnn":      # the lesson's pixel: two to the right, one row up, is in the blind spot
        assert spot[row - 1, column + 2] and not by_gradient[row - 1, column + 2]
    else:
        assert by_gradient[row - 1, column + 2]


@pytest.mark.parametrize("kind", list(NETWORKS))
def test_windowed_sampling_draws_the_same_images_as_the_whole_image_loop_with_fewer_positions(kind):
    torch.manual_seed(0)
    network = NETWORKS[kind](17, channels=8, layers=3, kernel=3).double()
    whole, passes, positions = P.sample(network, 4, 10, torch.Generator().manual_seed(5))
    windowed, passes_w, positions_w = P.sample(network, 4, 10, torch.Generator().manual_seed(5), window=True)
    assert torch.equal(whole, windowed)
    assert passes == passes_w == 100                 # one pass per pixel either way
    assert positions == 100 * 100 and positions_w < positions / 2
