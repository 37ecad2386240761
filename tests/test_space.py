"""The Gradio Space, launched on loopback and driven with gradio_client."""
import pytest

pytestmark = pytest.mark.space

from .conftest import skip_or_fail  # noqa: E402


@pytest.fixture(scope="module")
def client(space_url):
    try:
        from gradio_client import Client
    except ImportError:
        skip_or_fail("gradio_client is not installed")
    return Client(space_url, verbose=False)


def test_d_separation_on_an_edited_network(client):
    spec, x, y, z, q, evidence = client.predict("collider", api_name="/load_network")  # gr.State is not in the API
    assert [d["value"] for d in (x, y, z)] == [["Burglary"], ["Earthquake"], ["Alarm"]] and evidence == "Alarm=on"
    assert "Burglary" in spec
    verdict, figure, trails = client.predict(spec, ["Burglary"], ["Earthquake"], ["Alarm"], api_name="/d_separation")
    assert "d-connected" in verdict and "Burglary – Alarm – Earthquake" in verdict
    assert figure is not None
    verdict, _, _ = client.predict(spec, ["Burglary"], ["Earthquake"], [], api_name="/d_separation")
    assert "d-separated" in verdict
    # An edited spec: remove the collider's CPT rows so it becomes uniform, add a chain.
    edited = "A [0, 1]\n    0.3 0.7\nB [0, 1] | A\n    0: 0.9 0.1\n    1: 0.2 0.8\nC [0, 1] | B\n"
    verdict, _, _ = client.predict(edited, ["A"], ["C"], ["B"], api_name="/d_separation")
    assert "d-separated" in verdict


def test_invalid_spec_and_bad_query_get_clear_messages(client):
    verdict, _, _ = client.predict("A [x, y] | B\nB [u, v] | A\n", ["A"], ["B"], [], api_name="/d_separation")
    assert "invalid" in verdict and "cycle" in verdict
    spec = client.predict("sprinkler", api_name="/load_network")[0]
    verdict, _, _ = client.predict(spec, ["Snow"], ["Rain"], [], api_name="/d_separation")
    assert "Unknown variable 'Snow'" in verdict


def test_inference_three_ways(client):
    spec = client.predict("sprinkler", api_name="/load_network")[0]
    summary, posterior, table, error_plot, elbo_plot = client.predict(
        spec, ["Rain"], "WetGrass=wet", 20_000, 3, api_name="/inference")
    assert "log P(evidence)" in summary
    rows = {r[0]: r for r in table["data"]}
    assert rows["yes"][1] == pytest.approx(0.7079, abs=1e-4)  # exact
    assert rows["yes"][2] == pytest.approx(0.7079, abs=0.02)  # likelihood weighting
    summary, *_ = client.predict(spec, ["Cloudy"], "Sprinkler=off, Rain=no, WetGrass=wet", 1000, 2, api_name="/inference")
    assert "probability zero" in summary
    summary, *_ = client.predict(spec, ["Rain"], "WetGrass=soaked", 1000, 2, api_name="/inference")
    assert "Unknown state 'soaked'" in summary
