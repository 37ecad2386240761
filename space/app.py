"""DGM Lab as a Gradio Space: one tab per lab, calling the same dgm_core functions as the pages.

Run locally with `python space/app.py` (http://127.0.0.1:7860). On Hugging Face the README's
front matter points the Space here (`app_file: space/app.py`).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

# A Space runs this file as a script from the repository root; make dgm_core importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from dgm_core.figures.pgm import (  # noqa: E402
    elbo_figure,
    network_figure,
    posterior_figure,
    sampling_error_figure,
)
from dgm_core.pgm import (  # noqa: E402
    BayesianNetwork,
    NetworkError,
    compare_inference,
    example_names,
    independence_gap,
    load_example,
    parse_assignment,
    trail_rows,
)
from dgm_core.pgm.examples import spec_text, suggested_evidence, suggested_query  # noqa: E402
from space.gans import gans_tab  # noqa: E402
from space.vae import vae_tab  # noqa: E402

MAX_LISTED_NODES = 40


# ------------------------------------------------------------------ Bayesian networks
def _network(spec: str, last_valid: str) -> tuple[BayesianNetwork, str, str]:
    """Parse the edited spec; on error fall back to the last valid one and say so."""
    try:
        return BayesianNetwork.from_text(spec, name="edited"), spec, ""
    except NetworkError as exc:
        note = f"⚠️ **The edited network is invalid**: {exc}\n\nUsing the last valid network instead.\n\n"
        return BayesianNetwork.from_text(last_valid, name="edited"), last_valid, note


def _names(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def load_network(name: str):
    """Pick an example: its text spec, and sensible defaults for both questions."""
    if name not in example_names():
        raise gr.Error(f"Unknown example {name!r}: choose one of {', '.join(example_names())}.")
    bn = load_example(name)
    x, y, z = suggested_query(bn)
    q, e = suggested_evidence(bn)
    nodes = list(bn.nodes)
    evidence = ", ".join(f"{k}={v}" for k, v in e.items())
    return (spec_text(bn), spec_text(bn), gr.Dropdown(choices=nodes, value=x), gr.Dropdown(choices=nodes, value=y),
            gr.Dropdown(choices=nodes, value=z), gr.Dropdown(choices=nodes, value=q), evidence)


def d_separation(spec: str, x, y, z, last_valid: str = ""):
    """Answer "X ⟂ Y | Z?": the verdict with its numerical check, the drawing, and the trails."""
    bn, valid, note = _network(spec, last_valid or spec)
    xs, ys, zs = _names(x), _names(y), _names(z)
    try:
        trail = bn.active_trail(xs, ys, zs)
        statement = f"{', '.join(xs)} ⟂ {', '.join(ys)}" + (f" | {', '.join(zs)}" if zs else "")
        if trail is None:
            verdict = f"✅ **{statement}**: yes, d-separated."
        else:
            verdict = f"❌ **{statement}**: no, d-connected. Active trail: **{' – '.join(trail)}**."
        check = independence_gap(bn, xs, ys, zs)
        verdict += f"\n\nNumerical check from the CPTs: max |P(x | y, z) − P(x | z)| = **{check.gap:.3g}**."
        rows = []
        if len(xs) == 1 and len(ys) == 1 and len(bn) <= MAX_LISTED_NODES:
            rows = trail_rows(bn, xs[0], ys[0], zs)
    except NetworkError as exc:
        return note + f"⚠️ {exc}", network_figure(bn)[0], pd.DataFrame(columns=["trail", "active", "why"]), valid
    fig, drawing_note = network_figure(bn, xs, ys, zs, trail)
    if drawing_note:
        verdict += f"\n\n_{drawing_note}_"
    return note + verdict, fig, pd.DataFrame(rows, columns=["trail", "active", "why"]), valid


def inference(spec: str, query, evidence_text: str, samples: float, restarts: float, last_valid: str = ""):
    """P(query | evidence) by exact elimination, likelihood weighting and mean field, side by side."""
    bn, valid, note = _network(spec, last_valid or spec)
    variables = _names(query)
    try:
        if not 1 <= len(variables) <= 2:
            raise NetworkError("Choose one or two query variables.")
        samples, restarts = int(samples), int(restarts)
        if not 10 <= samples <= 200_000:
            raise NetworkError("Use between 10 and 200,000 samples.")
        if not 1 <= restarts <= 10:
            raise NetworkError("Use between 1 and 10 mean-field restarts.")
        evidence = parse_assignment(evidence_text, bn)
        result = compare_inference(bn, variables, evidence, samples, restarts)
    except NetworkError as exc:
        empty = pd.DataFrame(columns=["assignment", "exact", "sampling", "mean field"])
        return note + f"⚠️ {exc}", None, empty, None, None, valid
    exact, sampled, approx, runs = result.exact, result.sampled, result.mean_field, result.mean_field_runs
    table = pd.DataFrame({"assignment": [" / ".join(k) for k, _ in exact.items()],
                          "exact": [p for _, p in exact.items()], "sampling": [p for _, p in sampled.items()],
                          "mean field": [p for _, p in approx.items()]})
    summary = (f"log P(evidence) = {runs[0].log_evidence:.5f}; best mean-field ELBO = {runs[0].elbo:.5f} "
               f"(gap = KL(q‖posterior) = {runs[0].kl_to_posterior:.5f}). "
               f"Restart ELBOs: {', '.join(f'{r.elbo:.4f}' for r in sorted(runs, key=lambda r: r.seed))}.")
    figure = posterior_figure({"exact": exact, "likelihood weighting": sampled, "mean field": approx})
    return note + summary, figure, table, sampling_error_figure(result.error_curve), elbo_figure(runs), valid


def bayesian_network_tab() -> None:
    first = "student"
    bn = load_example(first)
    nodes = list(bn.nodes)
    x, y, z = suggested_query(bn)
    q, e = suggested_evidence(bn)
    gr.Markdown("Edit the network as text (one header `Name [states] | Parents` per node, then one indented "
                "CPT row per parent combination), then ask a question. An invalid edit shows its error and "
                "the last valid network is used.")
    last_valid = gr.State(spec_text(bn))
    with gr.Row():
        with gr.Column(scale=2):
            example = gr.Dropdown(example_names(), value=first, label="Example network")
            spec = gr.Textbox(spec_text(bn), lines=18, max_lines=40, label="Network spec")
        with gr.Column(scale=3):
            with gr.Tab("d-separation"):
                with gr.Row():
                    x_in = gr.Dropdown(nodes, value=x, multiselect=True, allow_custom_value=True, label="X")
                    y_in = gr.Dropdown(nodes, value=y, multiselect=True, allow_custom_value=True, label="Y")
                    z_in = gr.Dropdown(nodes, value=z, multiselect=True, allow_custom_value=True, label="Z (observed)")
                ask = gr.Button("Is X ⟂ Y | Z?", variant="primary")
                verdict = gr.Markdown()
                graph = gr.Plot(label="network")
                trails = gr.Dataframe(label="trails between X and Y")
            with gr.Tab("Inference"):
                with gr.Row():
                    query = gr.Dropdown(nodes, value=q, multiselect=True, allow_custom_value=True,
                                        label="Query variables (one or two)")
                    evidence = gr.Textbox(", ".join(f"{k}={v}" for k, v in e.items()), label="Evidence (Var=state, ...)")
                with gr.Row():
                    samples = gr.Number(10_000, precision=0, label="Likelihood-weighting samples")
                    restarts = gr.Number(4, precision=0, label="Mean-field restarts")
                run = gr.Button("Run inference", variant="primary")
                summary = gr.Markdown()
                posterior = gr.Plot(label="posterior")
                table = gr.Dataframe(label="posterior by method")
                with gr.Row():
                    error_plot = gr.Plot(label="sampling error")
                    elbo_plot = gr.Plot(label="mean-field ELBO")
    example.change(load_network, [example], [spec, last_valid, x_in, y_in, z_in, query, evidence], api_name="load_network")
    ask.click(d_separation, [spec, x_in, y_in, z_in, last_valid], [verdict, graph, trails, last_valid], api_name="d_separation")
    run.click(inference, [spec, query, evidence, samples, restarts, last_valid],
              [summary, posterior, table, error_plot, elbo_plot, last_valid], api_name="inference")


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="DGM Lab") as demo:
        gr.Markdown("# 🧪 DGM Lab\nAn interactive laboratory for deep generative models, built for teaching.")
        with gr.Tab("Bayesian networks"):
            bayesian_network_tab()
        with gr.Tab("VAE"):
            vae_tab()
        with gr.Tab("GANs"):
            gans_tab()
    return demo


if __name__ == "__main__":
    build_demo().launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
