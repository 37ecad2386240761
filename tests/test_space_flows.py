"""The Space's normalizing-flow tab, called as Gradio calls it: bad boxes get messages that name the
field, and each handler returns what the tab shows (checked against its own oracle)."""
import gradio as gr
import numpy as np
import pytest
import torch

from dgm_core import flow
from tests.conftest import plotly_json as _plotly_json


def plotly_json(figure) -> dict:
    return _plotly_json(figure.to_json())

LIVE = dict(dataset="moons", steps=6, steps_per_refresh=3, couplings=4, hidden=16, lr=2e-3, seed=0,
            direction="data → z (forward)")


@pytest.mark.parametrize("field, value, message", [
    ("steps", None, "steps: the box is empty"),
    ("couplings", None, "coupling layers: the box is empty"),
    ("couplings", 40, "coupling layers: enter a whole number from 2 to 16; got 40"),
    ("hidden", 3.5, "MLP width: enter a whole number"),
    ("lr", float("nan"), "is not a finite number"),
    ("lr", 1.0, r"learning rate: enter a number from 1e-05 to 0.05"),
    ("direction", "sideways", "warp: choose one of"),
])
def test_bad_live_settings_get_a_message_that_names_the_field(field, value, message):
    from space.flows import live_training

    with pytest.raises(gr.Error, match=message):
        next(live_training(**{**LIVE, field: value}))


def test_the_live_stream_trains_and_draws_the_warp():
    from space.flows import live_training

    *_, (panel, warp, status, _run) = list(live_training(**LIVE))
    assert "step 6" in plotly_json(panel)["layout"]["title"]["text"]
    titles = [a["text"] for a in plotly_json(warp)["layout"]["annotations"]]
    assert titles == ["standardised x", "after coupling 1", "after coupling 2", "after coupling 3",
                      "after coupling 4 = z"]
    assert "4 couplings" in status and "held-out NLL" in status


def test_samples_come_at_the_temperature_asked_and_bad_boxes_are_named():
    from space.flows import samples

    grid, text, curve = samples("realnvp-digits", 0.7, 3)
    assert "T = 0.7" in plotly_json(grid)["layout"]["title"]["text"]
    assert "Test bits/dim" in text and "17 grey levels" in text
    assert {t["name"] for t in plotly_json(curve)["data"]} == {"realnvp-digits", "realnvp-digits-variational"}
    with pytest.raises(gr.Error, match="temperature: the box is empty"):
        samples("realnvp-digits", None, 0)
    with pytest.raises(gr.Error, match="checkpoint: choose one of"):
        samples("nope", 1.0, 0)


def test_the_ood_table_has_every_set_and_aurocs_in_range():
    from space.flows import ood

    figure, table, note = ood("realnvp-shapes", "complexity S(x), PNG")
    assert {"digits", "inverted shapes", "uniform noise", "constant images"} <= set(table["OOD set"])
    aurocs = table.filter(like="AUROC").astype(float)
    assert aurocs.apply(lambda c: c.between(0, 1)).all().all()
    assert table["AUROC complexity S(x), PNG"].str.fullmatch(r"\d\.\d{3}").all()     # shown with three decimals
    assert table["more likely than the median test image"].str.fullmatch(r"\d+\.\d%").all()   # a share, in %
    assert any("with PNG does worse than chance on digits" in line for line in note.split("\n"))
    assert "PNG" in note and "zlib" in note and "bits" in note          # what each compressor's S(x) subtracts
    assert "positive class" in note
    assert "S(x)" in plotly_json(figure)["layout"]["xaxis"]["title"]["text"]


def test_the_hutchinson_playground_matches_an_eigenvalue_oracle():
    from space.flows import hutchinson

    text, figure, rows = hutchinson(4, 0.8, 50, 0.5, 2)
    g = torch.Generator().manual_seed(2)
    block = flow.ResidualBlock(4, 0.8, generator=g)
    x = torch.randn(4, generator=g)
    eig = np.linalg.eigvals(torch.autograd.functional.jacobian(block, x).double().numpy())
    assert f"**{float(np.sum(np.log(np.abs(1 + eig)))):.4f}**" in text
    assert set(rows["estimator"]) == {"truncated series", "Russian roulette"}
    assert set(rows.loc[rows["estimator"] == "Russian roulette", "terms n"]) == {"N ~ Geometric(p)"}
    for field, value, message in [("dim", 100, "dimension d: enter a whole number from 2 to 64"),
                                  ("lipschitz", 1.0, "Lipschitz bound c: enter a number from 0.05 to 0.99"),
                                  ("lipschitz", None, "the box is empty")]:
        args = {"dim": 4, "lipschitz": 0.8, "draws": 50, "p_stop": 0.5, "seed": 2, field: value}
        with pytest.raises(gr.Error, match=message):
            hutchinson(**args)


def test_the_prior_comparison_lists_both_priors():
    from space.flows import prior_comparison

    table, projection, gaussian, flow_samples = prior_comparison()
    assert sorted(table["prior"].value_counts().tolist()) == [2, 2]
    names = {t["name"] for t in plotly_json(projection)["data"]}
    assert names == {"aggregate posterior q(z)", "prior p(z)"}
