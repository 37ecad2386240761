"""AppTest drives the normalizing-flow page: live 2-D training (step, reset, a bad CSV), samples at a
temperature, the OOD table (its AUROCs against scikit-learn), the Hutchinson playground (its exact
log-determinant against numpy) and the prior comparison."""
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from dgm_core import flow
from dgm_core.labs import flows as flows_lab
from tests.conftest import by_key as _by_key
from tests.conftest import chart_spec as _chart
from tests.conftest import finish_live, open_lab
from tests.conftest import no_exception as _no_exception

PAGE = "labs/flows.py"


def _finish_steps(at):
    return finish_live(at, "flow")


@pytest.fixture(scope="module")
def page():
    return open_lab(PAGE)


def test_first_render_shows_the_density_panel_and_the_warp(page):
    _no_exception(page)
    assert "step 0" in _chart(page, "flow_panel")["layout"]["title"]["text"]
    warp = _chart(page, "flow_warp")
    titles = [a["text"] for a in warp["layout"]["annotations"]]
    assert titles[0] == "standardised x" and titles[-1] == "after coupling 6 = z"


def test_step_trains_by_steps_per_refresh_and_the_inverse_warp_shows():
    at = open_lab(PAGE)
    _by_key(at.slider, "flow_steps_per_refresh").set_value(9).run()
    _by_key(at.button, "flow_step").click().run()
    _finish_steps(at)
    _no_exception(at)
    assert at.session_state["flow_runner"].session.steps == 9
    assert "step 9" in _chart(at, "flow_panel")["layout"]["title"]["text"]
    assert any(m.label == "held-out NLL (nats per point)" for m in at.metric)
    _by_key(at.radio, "flow_warp_direction").set_value("z → data (inverse)").run()
    titles = [a["text"] for a in _chart(at, "flow_warp")["layout"]["annotations"]]
    assert titles[0] == "z (the Gaussian)" and titles[-1] == "data space x"


def test_changed_settings_apply_on_reset_and_say_so():
    at = open_lab(PAGE)
    _by_key(at.button, "flow_step").click().run()
    _finish_steps(at)
    _by_key(at.text_input, "flow_couplings").set_value('4').run()
    assert any("apply on **Reset**" in c.value for c in at.caption)
    assert len(at.session_state["flow_runner"].session.models["realnvp"].flow.layers) == 6
    _by_key(at.button, "flow_reset").click().run()
    assert len(at.session_state["flow_runner"].session.models["realnvp"].flow.layers) == 4
    assert any("4 couplings" in c.value for c in at.caption)


def test_a_bad_csv_is_refused_and_the_model_keeps_its_data():
    at = open_lab(PAGE)
    _by_key(at.selectbox, "flow_dataset").set_value("your own points (CSV)").run()
    at.file_uploader(key="flow_points_file").upload("bad.csv", b"x,y\n1,2\nthree,4\n").run()
    _no_exception(at)
    assert any("This file cannot be used" in e.value and "row 3" in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["flow_runner"].settings.dataset == "8gaussians"


def test_samples_follow_the_temperature(page):
    at = page
    spec = _chart(at, "flow_samples")
    assert "64 samples at T = 1" in spec["layout"]["title"]["text"]
    _by_key(at.slider, "flow_temperature").set_value(0.5).run()
    _no_exception(at)
    assert "T = 0.5" in _chart(at, "flow_samples")["layout"]["title"]["text"]
    # the comparison's one measurement of the checkpoint, read here from its file, and the tuned baseline
    from dgm_core.compare import RESULTS_DIR, RESULTS_NAME

    written = {s["checkpoint"]: s for row in json.loads((RESULTS_DIR / RESULTS_NAME).read_text("utf-8"))["rows"]
               for s in row["per_seed"]}
    shown = next(m.value for m in at.markdown if m.value.startswith("**Test bits/dim"))
    record = written["realnvp-digits"]
    assert f"**Test bits/dim {record['bits_per_dim']:.3f} ± {record['bits_per_dim_se']:.3f}** (standard error)" in shown
    assert "importance-weighted over K = 100" in shown and "held-out" in shown


def test_the_ood_table_aurocs_are_scikit_learns(page):
    at = page
    table = at.dataframe[0].value
    assert {"shapes", "inverted digits", "uniform noise", "constant images"} <= set(table["OOD set"])
    from dgm_core.checkpoints import load_checkpoint

    report = flows_lab.flow_ood_report(load_checkpoint("realnvp-digits"))
    for _, row in table.iterrows():
        scores_in, scores_out = report.bits_per_dim["digits"], report.bits_per_dim[row["OOD set"]]
        labels = np.r_[np.zeros(len(scores_in)), np.ones(len(scores_out))]
        assert row["AUROC bits/dim"] == pytest.approx(roc_auc_score(labels, np.r_[scores_in, scores_out]), abs=1e-9)
        for compressor in ("PNG", "zlib"):                   # side by side, each S(x) its own scikit-learn AUROC
            scores_in = report.complexity[compressor]["digits"]
            scores_out = report.complexity[compressor][row["OOD set"]]
            assert row[f"AUROC complexity S(x), {compressor}"] == pytest.approx(
                roc_auc_score(labels, np.r_[scores_in, scores_out]), abs=1e-9)


def test_the_hutchinson_playground_reports_the_exact_logdet(page):
    at = page
    _by_key(at.text_input, "hutch_dim").set_value('5').run()
    _by_key(at.text_input, "hutch_lip").set_value('0.7').run()
    _no_exception(at)
    g = torch.Generator().manual_seed(0)
    block = flow.ResidualBlock(5, 0.7, generator=g)
    x = torch.randn(5, generator=g)
    eig = np.linalg.eigvals(torch.autograd.functional.jacobian(block, x).double().numpy())
    exact = float(np.sum(np.log(np.abs(1 + eig))))
    text = next(m.value for m in at.markdown if "exact log det" in m.value)
    assert f"**{exact:.4f}**" in text
    assert "bias of the truncated series" in [a["text"] for a in _chart(at, "hutch_figure")["layout"]["annotations"]]


def test_the_prior_comparison_lists_both_priors_over_two_seeds(page):
    at = page
    table = next(d.value for d in at.dataframe if "prior" in d.value.columns)
    assert sorted(table["prior"].value_counts().tolist()) == [2, 2]
    assert table["IWAE NLL, k = 5000 (nats)"].notna().all()
    assert any("mean over seeds" in c.value for c in at.caption)
