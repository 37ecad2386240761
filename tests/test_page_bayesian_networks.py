"""AppTest drives the Bayesian-network page: queries, edits, and each kind of bad input."""
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import open_lab

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "labs/bayesian_networks.py"


def _lab() -> AppTest:
    return open_lab(PAGE)


def _widget(elements, label):
    matches = [w for w in elements if w.label == label]
    assert matches, f"no widget labelled {label!r}"
    return matches[0]


def _button(at, key):
    return next(b for b in at.button if b.key == key)


def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]


def test_home_links_every_lab_and_only_those():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    _no_exception(at)
    assert "DGM Lab" in at.title[0].value
    from labs.registry import LABS

    assert [lab.title for lab in LABS] == ["Bayesian networks", "VAE", "GANs"]
    captions = [c.value for c in at.caption]
    assert all(lab.summary in captions for lab in LABS)


def test_first_render_is_fast_and_shows_the_verdict():
    start = time.perf_counter()
    at = _lab()
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"first render took {elapsed:.2f} s"
    assert any("d-connected" in w.value and "Difficulty" in w.value for w in at.warning)
    assert any("Numerical check" in m.label for m in at.metric)


def test_d_separation_query_and_numerical_check():
    at = _lab()
    _widget(at.multiselect, "Z (observed)").set_value([]).run()
    _no_exception(at)
    assert any("d-separated" in s.value for s in at.success)
    gap = next(m for m in at.metric if "Numerical check" in m.label)
    assert float(gap.value) < 1e-9
    _widget(at.multiselect, "Z (observed)").set_value(["Grade"]).run()
    assert any("Difficulty – Grade – Intelligence" in w.value for w in at.warning)
    assert float(next(m for m in at.metric if "Numerical check" in m.label).value) > 0.01


def test_inference_shows_three_methods_and_mean_field_restarts():
    at = _lab()
    at.sidebar.selectbox[0].select("alarm").run()
    _no_exception(at)
    assert any("different optima" in w.value for w in at.warning), "alarm's local optima are reported"
    assert any("exact log P(evidence)" in m.value for m in at.markdown)


def test_zero_probability_evidence_shows_an_error():
    at = _lab()
    at.sidebar.selectbox[0].select("sprinkler").run()
    _widget(at.multiselect, "Query variables (one or two)").set_value(["Cloudy"]).run()
    _widget(at.multiselect, "Evidence variables").set_value(["WetGrass", "Sprinkler", "Rain"]).run()
    _widget(at.selectbox, "Sprinkler =").select("off").run()
    _widget(at.selectbox, "Rain =").select("no").run()
    _widget(at.selectbox, "WetGrass =").select("wet").run()
    _no_exception(at)
    assert any("probability zero" in e.value for e in at.error)


def test_edits_and_invalid_edits_keep_the_last_valid_network():
    at = _lab()
    at.sidebar.selectbox[0].select("chain").run()
    # A cycle: Cancer -> Smoking.
    _widget(at.selectbox, "Parent").select("Cancer").run()
    _widget(at.selectbox, "Child").select("Smoking").run()
    _button(at, "edit_add_edge").click().run()
    _no_exception(at)
    assert any("cycle" in e.value for e in at.error)
    assert at.session_state["bn"].edges == [("Smoking", "Tar"), ("Tar", "Cancer")]
    # A self-loop, then a valid edge.
    _widget(at.selectbox, "Parent").select("Tar").run()
    _widget(at.selectbox, "Child").select("Tar").run()
    _button(at, "edit_add_edge").click().run()
    assert any("Self-loop" in e.value for e in at.error)
    _widget(at.selectbox, "Parent").select("Smoking").run()
    _widget(at.selectbox, "Child").select("Cancer").run()
    _button(at, "edit_add_edge").click().run()
    _no_exception(at)
    assert ("Smoking", "Cancer") in at.session_state["bn"].edges
    # Add a node; a duplicate node is refused.
    _widget(at.text_input, "New node name").input("Genes").run()
    _button(at, "edit_add_node").click().run()
    assert "Genes" in at.session_state["bn"].nodes
    _button(at, "edit_add_node").click().run()
    assert any("Duplicate node" in e.value for e in at.error)
    _widget(at.text_input, "New node name").input("bad name").run()
    _button(at, "edit_add_node").click().run()
    assert any("may not contain spaces" in e.value for e in at.error)
    _widget(at.text_input, "New node name").input("Empty").run()
    _widget(at.text_input, "Its states, comma-separated").input(" , ").run()
    _button(at, "edit_add_node").click().run()
    assert any("empty state list" in e.value for e in at.error)
    # Remove a node and an edge.
    _widget(at.selectbox, "Node to remove").select("Genes").run()
    _button(at, "edit_remove_node").click().run()
    assert "Genes" not in at.session_state["bn"].nodes
    _widget(at.selectbox, "Edge to remove").select("Smoking -> Cancer").run()
    _button(at, "edit_remove_edge").click().run()
    _no_exception(at)
    assert at.session_state["bn"].edges == [("Smoking", "Tar"), ("Tar", "Cancer")]


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("A [x, y]\n    0.5 0.6\n", "sums to 1.1"),
        ("A [x, y]\n    1.5 -0.5\n", "negative probability"),
        ("A [x, y] | B\nB [u, v] | A\n", "cycle"),
        ("A [x, y] | Ghost\n", "unknown node 'Ghost'"),
        ("A [x, y]\nB [u, v] | A\n    x: 0.5 0.5\n", "missing the CPT row"),
        ("A []\n", "empty state list"),
        ("A [x, y]\nA [x, y]\n", "duplicate node"),
        ("A [x, y]\n    0.5 0.5 0.0\n", "3 probabilities given"),
    ],
)
def test_bad_text_spec_shows_an_error_and_keeps_the_network(spec, fragment):
    at = _lab()
    before = at.session_state["bn"]
    spec_area = _widget(at.text_area, "Network spec")
    spec_area.input(spec).run()
    _button(at, "edit_apply_text").click().run()
    _no_exception(at)
    assert any(fragment in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["bn"] == before
    assert _widget(at.text_area, "Network spec").value == spec  # the user's text is not lost


def test_valid_text_spec_replaces_the_network():
    at = _lab()
    _widget(at.text_area, "Network spec").input("Rain [no, yes]\n    0.7 0.3\nWet [no, yes] | Rain\n"
                                                 "    no: 0.9 0.1\n    yes: 0.1 0.9\n").run()
    _button(at, "edit_apply_text").click().run()
    _no_exception(at)
    assert at.session_state["bn"].nodes == ("Rain", "Wet")
    assert any("Rain ⟂ Wet" in w.value and "d-connected" in w.value for w in at.warning)


@pytest.mark.parametrize("network", ["andes", "pigs"])
def test_large_networks_stay_usable(network):
    at = _lab()
    start = time.perf_counter()
    at.sidebar.selectbox[0].select(network).run()
    elapsed = time.perf_counter() - start
    _no_exception(at)
    assert any("the drawing shows" in i.value for i in at.info)
    assert elapsed < 3.0, f"{network} took {elapsed:.2f} s"
