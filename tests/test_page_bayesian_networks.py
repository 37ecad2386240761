"""AppTest drives the Bayesian-network page: queries, edits, and each kind of bad input."""
import gzip
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dgm_core.pgm import BayesianNetwork, load_example
from tests.conftest import chart_spec, open_lab

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
    from dgm_core.lab_records import LABS

    assert [lab.title for lab in LABS] == ["Bayesian networks", "VAE", "GANs", "Normalizing flows",
                                              "Energy-based models", "VQ-VAE and its codes", "Diffusion and flow matching",
                                              "Every model compared"]
    captions = [c.value for c in at.caption]
    assert all(lab.summary in captions for lab in LABS)


def test_first_render_shows_the_verdict():
    at = _lab()
    assert any("d-connected" in w.value and "Difficulty" in w.value for w in at.warning)
    assert any("Numerical check" in m.label for m in at.metric)


def test_a_d_separation_question_does_not_rerun_inference_or_the_structure_analysis(monkeypatch):
    """Speed guarded by work: moving a widget of one tab recomputes nothing of the others."""
    import dgm_core.pgm as pgm

    calls = {"compare_inference": 0, "pairwise_independencies": 0}
    for name in calls:
        original = getattr(pgm, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(pgm, name, counted)
    at = _lab()
    # A network of its own, so no other test's cache entry answers for it.
    _widget(at.text_area, "Network spec").input(
        "Cause [no, yes]\n    0.61 0.39\nEffect [no, yes] | Cause\n    no: 0.9 0.1\n    yes: 0.2 0.8\n"
        "Other [no, yes] | Cause\n").run()
    _button(at, "edit_apply_text").click().run()
    _no_exception(at)
    assert calls == {"compare_inference": 1, "pairwise_independencies": 1}
    _widget(at.multiselect, "Z (observed)").set_value(["Cause"]).run()
    _widget(at.multiselect, "Z (observed)").set_value([]).run()
    _no_exception(at)
    assert calls == {"compare_inference": 1, "pairwise_independencies": 1}


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
def test_large_networks_stay_usable(network, monkeypatch):
    """Usable by work done: the drawing is bounded and the all-pairs analyses are skipped."""
    import dgm_core.pgm as pgm
    from dgm_core.figures.pgm import MAX_DRAWN_NODES

    skipped = []
    for name in ("pairwise_independencies", "lost_independencies"):
        monkeypatch.setattr(pgm, name, lambda *args, _name=name, **kwargs: skipped.append(_name))
    at = _lab()
    at.sidebar.selectbox[0].select(network).run()
    _no_exception(at)
    assert any("the drawing shows" in i.value for i in at.info)
    assert skipped == []
    graph = chart_spec(at, "dsep_graph")
    drawn = next(t for t in graph["data"] if t.get("name") == "nodes")
    assert len(drawn["x"]) <= MAX_DRAWN_NODES


# ------------------------------------------------------------------ issue 8
def _choose(at, example):
    at.sidebar.selectbox[0].select(example).run()
    _no_exception(at)


def _apply_text(at, spec):
    _widget(at.text_area, "Network spec").input(spec).run()
    _button(at, "edit_apply_text").click().run()
    _no_exception(at)


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def _successes(at) -> list[str]:
    return [s.value for s in at.success]


@pytest.mark.parametrize("spec", ["", "# nothing but a comment\n\n    # and another\n"])
def test_an_empty_spec_is_refused_and_the_last_network_kept(spec):
    at = _lab()
    before = at.session_state["bn"]
    _apply_text(at, spec)
    assert any("no nodes" in e for e in _errors(at)), _errors(at)
    assert at.session_state["bn"] == before
    assert len(at.tabs) == 4 and any("d-connected" in w.value for w in at.warning)  # every tab still works
    assert _widget(at.text_area, "Network spec").value == spec  # what was typed is kept


def test_removing_the_last_node_is_refused():
    at = _lab()
    _apply_text(at, "Solo [a, b]\n    0.25 0.75\n")
    assert at.session_state["bn"].nodes == ("Solo",)
    _widget(at.selectbox, "Node to remove").select("Solo").run()
    _button(at, "edit_remove_node").click().run()
    _no_exception(at)
    assert any("only node" in e for e in _errors(at)), _errors(at)
    assert at.session_state["bn"].nodes == ("Solo",)
    assert len(at.tabs) == 4


def _upload(at, name: str, data: bytes):
    at.file_uploader(key="edit_upload").upload(name, data).run()
    _no_exception(at)


def test_an_empty_bif_upload_is_refused_and_an_example_still_loads():
    at = _lab()
    before = at.session_state["bn"]
    _upload(at, "empty.bif", b"")
    assert any("empty.bif declares no variables" in e for e in _errors(at)), _errors(at)
    assert at.session_state["bn"] == before and len(at.tabs) == 4
    _choose(at, "chain")
    assert at.session_state["bn"] == load_example("chain")


def test_a_bad_upload_after_a_good_one_shows_one_current_message_with_the_line():
    at = _lab()
    asia = load_example("asia")
    good = asia.to_bif()
    _upload(at, "good.bif", good.encode())
    assert at.session_state["bn"] == asia
    assert any("Loaded good.bif" in s for s in _successes(at))
    bad = good.replace("probability ( xray | either ) {", "probability ( xray | either {")
    line = next(i for i, text in enumerate(bad.splitlines(), start=1) if "xray | either {" in text)
    _upload(at, "bad.bif", bad.encode())
    assert not any("Loaded" in s for s in _successes(at)), "the old success message is gone"
    assert len(_errors(at)) == 1 and f"bad.bif, line {line}:" in _errors(at)[0], _errors(at)
    assert at.session_state["bn"] == asia  # the good network is kept


@pytest.mark.parametrize(
    "name, data, fragment",
    [
        ("net.bif.gz", b"\x13\x8bnot gzip at all", "net.bif.gz is not a gzip-compressed file"),
        ("net.bif", b"network x {\n}\n\xbd\xbd\xbd", "net.bif is not a text file"),
        ("net.bif.gz", gzip.compress(b"\xbd\x00\xff"), "net.bif.gz is not a text file"),
    ],
)
def test_files_that_are_not_bif_get_plain_messages(name, data, fragment):
    at = _lab()
    _upload(at, name, data)
    [message] = _errors(at)
    assert fragment in message and "codec" not in message and "gzipped" not in message, message


def test_the_uploader_and_the_server_share_the_page_limit():
    import tomllib

    from dgm_core.pgm import MAX_BIF_BYTES

    at = _lab()
    limit_mb = MAX_BIF_BYTES // 2**20
    assert at.file_uploader(key="edit_upload").proto.max_upload_size_mb == limit_mb
    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == limit_mb


def test_the_sidebar_names_an_uploaded_network_and_an_example_brings_one_back():
    at = _lab()
    _upload(at, "mynet.bif", load_example("chain").to_bif().encode())
    sidebar_text = " ".join(m.value for m in at.sidebar.markdown)
    assert "mynet" in sidebar_text and "uploaded from mynet.bif" in sidebar_text, sidebar_text
    assert at.sidebar.selectbox[0].value is None  # no example is named while a custom network is in use
    _choose(at, "student")
    assert at.session_state["bn"] == load_example("student")
    assert "uploaded" not in " ".join(m.value for m in at.sidebar.markdown)


def _cpt_editor_key(at) -> str:
    return next(d.key for d in at.data_editor if d.key and d.key.startswith("edit_cpt"))


def _edit_cpt(at, node: str, edited_rows: dict):
    """Type into the CPT grid (its own edit state, as the browser sends it) and press Save in the same run."""
    _widget(at.selectbox, "Node").select(node).run()
    at.session_state[_cpt_editor_key(at)] = {"edited_rows": edited_rows, "added_rows": [], "deleted_rows": []}
    _button(at, "edit_save_cpt").click().run()
    _no_exception(at)


def test_save_cpt_saves_what_the_grid_shows():
    at = _lab()
    _choose(at, "chain")
    _edit_cpt(at, "Smoking", {0: {"no": 0.4, "yes": 0.6}})
    assert any("CPT of Smoking saved" in s for s in _successes(at)), _successes(at) + _errors(at)
    assert at.session_state["bn"].cpts["Smoking"].tolist() == [0.4, 0.6]


def test_a_cpt_row_that_does_not_sum_to_one_is_not_saved_and_the_message_quotes_the_grid():
    at = _lab()
    _choose(at, "chain")
    _edit_cpt(at, "Tar", {1: {"low": 0.5}})
    key = _cpt_editor_key(at)
    assert any("Smoking=yes sums to 1.3" in e for e in _errors(at)), _errors(at)
    assert not any("saved" in s for s in _successes(at))
    assert at.session_state["bn"] == load_example("chain")
    assert dict(at.session_state[key]["edited_rows"]) == {1: {"low": 0.5}}  # the typed value is kept


def test_the_text_spec_follows_a_cpt_save_so_apply_text_keeps_it():
    at = _lab()
    _choose(at, "chain")
    _edit_cpt(at, "Smoking", {0: {"no": 0.4, "yes": 0.6}})
    spec = _widget(at.text_area, "Network spec").value
    assert BayesianNetwork.from_text(spec) == at.session_state["bn"]
    _button(at, "edit_apply_text").click().run()
    assert at.session_state["bn"].cpts["Smoking"].tolist() == [0.4, 0.6]
    # The grid shows the network after a text edit, not an older typed value.
    _apply_text(at, spec.replace("0.4 0.6", "0.1 0.9"))
    assert at.session_state["bn"].cpts["Smoking"].tolist() == [0.1, 0.9]
    assert at.session_state[_cpt_editor_key(at)]["edited_rows"] == {}
    grid = next(d for d in at.data_editor if d.key == _cpt_editor_key(at)).value
    assert grid.to_numpy().tolist() == [[0.1, 0.9]]


def test_unapplied_text_is_kept_when_another_edit_rewrites_the_spec():
    at = _lab()
    _choose(at, "chain")
    draft = "Smoking [no, yes]\n    0.5 0.5\n# a draft I have not applied\n"
    _widget(at.text_area, "Network spec").input(draft).run()
    _widget(at.text_input, "New node name").input("Genes").run()
    _button(at, "edit_add_node").click().run()
    _no_exception(at)
    assert BayesianNetwork.from_text(_widget(at.text_area, "Network spec").value) == at.session_state["bn"]
    assert any(c.value.strip() == draft.strip() for c in at.code), "the unapplied draft is still shown"


def test_a_nan_row_in_the_spec_gets_a_clear_message():
    at = _lab()
    _apply_text(at, "A [x, y]\n    nan nan\n")
    [message] = _errors(at)
    assert message.startswith("line 2:") and "'A'" in message and "row(s) :" not in message, message


def test_posterior_probabilities_are_formatted_as_probabilities():
    import json

    at = _lab()
    _choose(at, "pigs")
    table = next(d for d in at.dataframe if "mean field" in list(d.value.columns))
    config = json.loads(table.proto.columns)
    for column in ("exact", "sampling", "mean field"):
        assert config[column]["type_config"]["format"] == "%.4f", config
    values = table.value
    assert np.allclose(values["mean field"].sum(), 1.0) and values["mean field"].min() < 1e-100


def test_lost_independencies_are_counted_and_listed_in_a_table():
    from dgm_core.pgm import lost_independencies

    at = _lab()
    _choose(at, "alarm")
    lost = lost_independencies(load_example("alarm"))
    assert len(lost) > 50
    [warning] = [w.value for w in at.warning if "Markov network" in w.value]
    assert f"{len(lost)} independencies" in warning and warning.count("⟂") <= 5, warning
    table = next(d.value for d in at.dataframe if list(d.value.columns) == ["lost in the Markov network"])
    assert sorted(table["lost in the Markov network"]) == sorted(f"{a} ⟂ {b}" for a, b in lost)


def test_the_network_and_a_draft_survive_a_visit_to_another_lab():
    at = _lab()
    _choose(at, "chain")
    _widget(at.text_input, "New node name").input("Genes").run()
    _button(at, "edit_add_node").click().run()
    draft = _widget(at.text_area, "Network spec").value + "# a note, not applied yet\n"
    _widget(at.text_area, "Network spec").input(draft).run()
    at.switch_page("labs/home.py").run()
    at.switch_page(PAGE).run()
    _no_exception(at)
    assert at.session_state["bn"].nodes == ("Smoking", "Tar", "Cancer", "Genes")
    assert at.sidebar.selectbox[0].value == "chain"
    assert _widget(at.text_area, "Network spec").value == draft
