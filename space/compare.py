"""The Space's comparison tab: what `python -m benchmarks.compare` wrote, read with the same
dgm_core.compare calls and figures as labs/compare.py (nothing is measured while a student waits)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from dgm_core import compare
from dgm_core.figures.compare import class_share_figure, fd_figure, sampling_time_figure
from dgm_core.figures.images import image_grid_figure
from dgm_core.labs import compare as compare_lab
from space.inputs import keeps_figures


def _model_figures(body: dict, model: str):
    """The sample grid, the interpolation (or a note that there is none), the per-seed table and the
    digits read in the samples, of one model."""
    names = [r["model"] for r in body["rows"]]
    if model not in names:
        raise gr.Error(f"model: choose one of {', '.join(names)}.")
    row = body["rows"][names.index(model)]
    grid = image_grid_figure(row["grid"], 4, title=f"{model}: {row['how_sampled']}", height=320, title_chars=60)
    seeds, shares = pd.DataFrame(compare_lab.per_seed_rows(row)), class_share_figure(row)
    if row["interpolation"] is None:
        note = f"No latent space: {row.get('no_latent_space') or 'the model has none'}."
        return grid, gr.update(value=None, visible=False), note, seeds, shares
    path = image_grid_figure(row["interpolation"], compare.INTERPOLATION_POINTS, height=170,
                             title=f"{compare.INTERPOLATION_POINTS} points between {row['interpolation_from']}")
    return grid, gr.update(value=path, visible=True), "", seeds, shares


def _csv(body: dict) -> str:
    """The table as a CSV file for the download button."""
    folder = Path(tempfile.mkdtemp(prefix="dgm-lab-"))
    path = folder / "dgm-lab-comparison.csv"
    pd.DataFrame(compare_lab.table_rows(body)).to_csv(path, index=False)
    return str(path)


def compare_tab() -> None:
    """One sub-tab per dataset: models are ranked only against models of the same data."""
    for dataset, label in compare_lab.DATASETS.items():
        with gr.Tab(label):
            _dataset_tab(dataset)


def _dataset_tab(dataset: str) -> None:
    try:
        body = compare_lab.results_of(dataset)
    except compare.ResultsMissing as exc:
        gr.Markdown(str(exc).replace("`python -m benchmarks.compare`", f"`{compare_lab.command_for(dataset)}`"))
        return
    rows, names = body["rows"], [r["model"] for r in body["rows"]]
    gr.Markdown(f"Every shipped {dataset} model measured the same way by `{compare_lab.command_for(dataset)}` "
                f"({body.get('written', 'date not recorded')}), with the lab's own code; nothing is measured while "
                "you wait.")
    with gr.Tab("Table"):
        # tall enough for every row: the last model was hidden below a scroll inside the table
        gr.Dataframe(pd.DataFrame(compare_lab.table_rows(body)), label="every model", wrap=False,
                     max_height=40 * (len(rows) + 2))
        gr.DownloadButton("Download the table (CSV)", value=_csv(body))
        gr.Markdown(compare_lab.column_notes(body))
        gr.Markdown(compare_lab.left_out_note(dataset))
        gr.Plot(fd_figure(rows, body["floor"]), show_label=False)
        gr.Plot(sampling_time_figure(rows, body["timed"], body["repeats"]), show_label=False)
    with gr.Tab("Pros and cons"):
        gr.Dataframe(pd.DataFrame(compare_lab.verdict_rows(body)), label="derived from the table by fixed rules", wrap=True,
                     column_widths=["16%", "42%", "42%"], max_height=2000)
        chosen = gr.Dropdown(names, value=names[0], label="the measurements behind a model's pros and cons")
        evidence = gr.Dataframe(pd.DataFrame(compare_lab.evidence_rows(body, names[0])), wrap=True, show_label=False)
        chosen.change(lambda m: pd.DataFrame(compare_lab.evidence_rows(body, m)) if m in names else gr.skip(),
                      chosen, evidence)
    with gr.Tab("Samples and interpolations"):
        model = gr.Dropdown(names, value=names[0], label="model")
        first = _model_figures(body, names[0])
        grid = gr.Plot(first[0], show_label=False)
        path = gr.Plot(first[1]["value"], show_label=False, visible=first[1]["visible"])
        note = gr.Markdown(first[2])
        seeds = gr.Dataframe(first[3], label="each seed", wrap=False)
        shares = gr.Plot(first[4], show_label=False)
        model.change(keeps_figures(outputs=5, message_at=2)(lambda m: _model_figures(body, m)), model,
                     [grid, path, note, seeds, shares])
