"""The Space's comparison tab: it builds from what the benchmark wrote, and a model's figures and
evidence are that model's (read independently from the JSON)."""
import json

import gradio as gr
import pytest

from dgm_core import compare
from tests.conftest import plotly_json as _plotly_json


@pytest.fixture(scope="module")
def body():
    return compare.read_results()


def test_each_model_shows_its_own_grid_and_interpolation(body):
    from space.compare import _model_figures

    written = json.loads((compare.RESULTS_DIR / compare.RESULTS_NAME).read_text())["rows"]
    for row in written:
        grid, path, note, seeds, shares = _model_figures(body, row["model"])
        assert list(seeds["checkpoint"]) == row["checkpoints"]
        assert _plotly_json(shares.to_json())["data"][0]["y"] == row["checkpoints"]
        assert _plotly_json(grid.to_json())["layout"]["title"]["text"].startswith(row["model"])
        assert path["visible"] == (row["interpolation_from"] is not None)
        assert bool(note) == (row["interpolation_from"] is None)
    with pytest.raises(gr.Error, match="model: choose one of"):
        _model_figures(body, "PixelCNN")


def test_the_tab_builds_with_the_table_and_the_verdicts(body):
    from space.compare import compare_tab

    with gr.Blocks() as demo:
        compare_tab()
    frames = [c for c in demo.blocks.values() if isinstance(c, gr.Dataframe)]
    table = frames[0].value
    assert table["headers"][:4] == ["model", "seeds", "sees", "FD (lower is better)"]
    assert [r[3] for r in table["data"]] == [round(r["fd_mean"], 1) for r in body["rows"]]     # numbers, not text
    csv_button = next(c for c in demo.blocks.values() if isinstance(c, gr.DownloadButton))
    import pandas as pd

    assert list(pd.read_csv(csv_button.value["path"] if isinstance(csv_button.value, dict) else csv_button.value)
                ["model"]) == [r["model"] for r in body["rows"]]
    assert [r[0] for r in table["data"]] == [r["model"] for r in body["rows"]]
    verdicts = frames[1].value
    sharpest = min(body["rows"], key=lambda r: r["fd_mean"])["model"]
    assert any(r[0] == sharpest and "closest to the digits (lowest FD)" in r[1] for r in verdicts["data"])


def test_each_dataset_has_its_own_sub_tab_and_table_with_only_its_rows():
    """The digits and mnist-5k comparisons are two tabs, two tables: no ranking holds rows of both. Each table's
    models are the rows its own results file names (read here from the JSON), and each row's checkpoints
    were trained on that dataset."""
    from dgm_core.catalogue import shipped
    from dgm_core.labs import compare as compare_lab
    from space.compare import compare_tab

    with gr.Blocks() as demo:
        compare_tab()
    tabs = [c.label for c in demo.blocks.values() if isinstance(c, gr.Tab)]
    assert all(label in tabs for label in compare_lab.DATASETS.values())
    tables = [c.value for c in demo.blocks.values() if isinstance(c, gr.Dataframe) and c.label == "every model"]
    datasets = {i.name: i.dataset for i in shipped()}
    for dataset, table in zip(compare_lab.DATASETS, tables):
        written = json.loads((compare.PROTOCOLS[dataset].results_dir / compare.RESULTS_NAME).read_text())
        assert written["dataset"] == dataset if "dataset" in written else dataset == "digits"
        assert [r[0] for r in table["data"]] == [r["model"] for r in written["rows"]]
        assert {datasets[c] for r in written["rows"] for c in r["checkpoints"]} == {dataset}
