"""The Space's Bayesian-network tab, launched on loopback and driven with gradio_client.

gr.State (the last valid spec) is not part of the API: it lives in the client's session, so the
calls of one test follow each other as one student's clicks would."""
import json

import pytest

pytestmark = pytest.mark.space

from .conftest import space_client  # noqa: E402

CYCLE = "A [x, y] | B\nB [u, v] | A\n"


@pytest.fixture
def client(space_url):
    """A fresh session per test, so one test's last valid network does not leak into another."""
    return space_client(space_url)


def _title(figure: dict) -> str:
    return json.loads(figure["plot"])["layout"]["title"]["text"]


def test_d_separation_on_an_edited_network(client):
    spec, x, y, z, q, evidence = client.predict("collider", api_name="/load_network")
    assert [d["value"] for d in (x, y, z)] == [["Burglary"], ["Earthquake"], ["Alarm"]] and evidence == "Alarm=on"
    assert "Burglary" in spec
    verdict, figure, trails = client.predict(spec, ["Burglary"], ["Earthquake"], ["Alarm"], "collider",
                                             api_name="/d_separation")
    assert "d-connected" in verdict and "Burglary – Alarm – Earthquake" in verdict
    assert {"Burglary", "Alarm", "Earthquake"} <= set(json.dumps(json.loads(figure["plot"])["data"]).split('"'))
    verdict, _, _ = client.predict(spec, ["Burglary"], ["Earthquake"], [], "collider", api_name="/d_separation")
    assert "d-separated" in verdict
    # An edited spec: remove the collider's CPT rows so it becomes uniform, add a chain.
    edited = "A [0, 1]\n    0.3 0.7\nB [0, 1] | A\n    0: 0.9 0.1\n    1: 0.2 0.8\nC [0, 1] | B\n"
    verdict, _, _ = client.predict(edited, ["A"], ["C"], ["B"], "collider", api_name="/d_separation")
    assert "d-separated" in verdict


def test_the_d_separation_graph_is_titled_with_the_network_name(client):
    spec = client.predict("collider", api_name="/load_network")[0]
    _, figure, _ = client.predict(spec, ["Burglary"], ["Earthquake"], ["Alarm"], "collider", api_name="/d_separation")
    assert _title(figure) == "collider"
    edited = spec.replace("0.99 0.01", "0.9 0.1")
    _, figure, _ = client.predict(edited, ["Burglary"], ["Earthquake"], ["Alarm"], "collider", api_name="/d_separation")
    assert _title(figure) == "edited collider"


def test_invalid_spec_and_bad_query_get_clear_messages(client):
    spec = client.predict("sprinkler", api_name="/load_network")[0]
    verdict, _, _ = client.predict(CYCLE, ["A"], ["B"], [], "sprinkler", api_name="/d_separation")
    assert "invalid" in verdict and "cycle" in verdict
    verdict, _, _ = client.predict(spec, ["Snow"], ["Rain"], [], "sprinkler", api_name="/d_separation")
    assert "X: 'Snow' is not a node of this network" in verdict          # the message names the box


@pytest.mark.parametrize("empty", ["", "# nothing but comments\n\n   # here\n"])
def test_an_empty_spec_is_refused_and_the_last_valid_network_kept(client, empty):
    spec = client.predict("collider", api_name="/load_network")[0]
    client.predict(spec, ["Burglary"], ["Earthquake"], ["Alarm"], "collider", api_name="/d_separation")
    verdict, figure, _ = client.predict(empty, ["Burglary"], ["Earthquake"], ["Alarm"], "collider",
                                        api_name="/d_separation")
    assert "no nodes" in verdict and "last valid network" in verdict, verdict
    assert "d-connected" in verdict  # the question is answered on the kept network
    # The empty spec was not stored as the last valid one: later errors still get their message.
    verdict, _, _ = client.predict(CYCLE, ["Burglary"], ["Earthquake"], [], "collider", api_name="/d_separation")
    assert "cycle" in verdict and "d-separated" in verdict, verdict
    summary, *_ = client.predict(empty, ["Burglary"], "Alarm=on", 1000, 2, "collider", api_name="/inference")
    assert "no nodes" in summary and "log P(evidence)" in summary, summary


def test_every_handler_answers_bad_values_with_a_message(client):
    spec = client.predict("sprinkler", api_name="/load_network")[0]
    summary, *_ = client.predict(spec, ["Rain"], "WetGrass=wet", None, 2, "sprinkler", api_name="/inference")
    assert "samples" in summary, summary
    summary, *_ = client.predict(spec, ["Rain"], "WetGrass=wet", 1000, None, "sprinkler", api_name="/inference")
    assert "restarts" in summary, summary
    verdict, _, _ = client.predict(spec, [], ["Rain"], [], "sprinkler", api_name="/d_separation")
    assert "at least one node for X" in verdict, verdict
    verdict, _, _ = client.predict(spec, ["Rain"], ["Rain"], [], "sprinkler", api_name="/d_separation")
    assert "disjoint" in verdict, verdict


def test_inference_three_ways(client):
    spec = client.predict("sprinkler", api_name="/load_network")[0]
    summary, posterior, table, error_plot, elbo_plot = client.predict(
        spec, ["Rain"], "WetGrass=wet", 20_000, 3, "sprinkler", api_name="/inference")
    assert "log P(evidence)" in summary
    rows = {r[0]: r for r in table["data"]}
    assert rows["yes"][1] == pytest.approx(0.7079, abs=1e-4)  # exact
    assert rows["yes"][2] == pytest.approx(0.7079, abs=0.02)  # likelihood weighting
    summary, *_ = client.predict(spec, ["Cloudy"], "Sprinkler=off, Rain=no, WetGrass=wet", 1000, 2, "sprinkler",
                                 api_name="/inference")
    assert "probability zero" in summary
    summary, *_ = client.predict(spec, ["Rain"], "WetGrass=soaked", 1000, 2, "sprinkler", api_name="/inference")
    assert "Unknown state 'soaked'" in summary
