"""The Space's Bayesian-network tab: the same dgm_core calls and figures as the page.

The network is the text spec in the box. Each question parses it; an invalid (or empty) spec
falls back to the last valid one, kept in a gr.State, and the answer says so. Every handler
answers bad input with a readable message: a NetworkError becomes the answer's text, and any
other exception a gr.Error that names it, never Gradio's bare "Error".
"""
from __future__ import annotations

import gradio as gr
import pandas as pd

from dgm_core.figures.pgm import elbo_figure, network_figure, posterior_figure, sampling_error_figure
from dgm_core.pgm import (
    BayesianNetwork,
    NetworkError,
    compare_inference,
    example_names,
    independence_gap,
    load_example,
    parse_assignment,
    trail_rows,
)
from dgm_core.pgm.examples import spec_text, suggested_evidence, suggested_query
from space.inputs import readable_errors, whole

MAX_LISTED_NODES = 40
FIRST_EXAMPLE = "student"
TRAIL_COLUMNS = ["trail", "active", "why"]
POSTERIOR_COLUMNS = ["assignment", "exact", "sampling", "mean field"]


def network_name(bn: BayesianNetwork, example: str | None) -> str:
    """The example's name while the spec is that example, "edited <example>" once it differs."""
    if example in example_names():
        return example if bn == load_example(example) else f"edited {example}"
    return "edited network"


def _network(spec: str, last_valid: str, example: str | None) -> tuple[BayesianNetwork, str, str]:
    """The network to answer on, the spec to keep as the last valid one, and a note.

    The spec if it is valid; else the last valid spec, else the example's, with a note saying
    why. A spec that is refused (empty, a cycle ...) is never kept as the last valid one.
    """
    try:
        bn = BayesianNetwork.from_text(spec or "")
        return bn.renamed(network_name(bn, example)), spec, ""
    except NetworkError as exc:
        note = f"⚠️ **The network spec is invalid**: {exc}\n\nUsing the last valid network instead.\n\n"
    fallbacks = [last_valid] if last_valid else []
    if example in example_names():
        fallbacks.append(spec_text(load_example(example)))
    for fallback in fallbacks:
        try:
            bn = BayesianNetwork.from_text(fallback)
            return bn.renamed(network_name(bn, example)), fallback, note
        except NetworkError:
            continue
    bn = load_example(FIRST_EXAMPLE)
    return bn, spec_text(bn), note


def _names(value, box: str, bn: BayesianNetwork) -> list[str]:
    """The node names chosen in a box (a list of names, or names separated by commas), each checked
    against the network, or a NetworkError that names the box."""
    if not value:
        return []
    if isinstance(value, str):
        names = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        names = list(value)
    else:
        raise NetworkError(f"{box}: choose node names of the network; got {_clipped(value)}.")
    unknown = [n for n in names if n not in bn.nodes]
    if unknown:
        raise NetworkError(f"{box}: {_clipped(unknown[0])} is not a node of this network; its nodes are "
                           f"{', '.join(bn.nodes)}.")
    return names


def _clipped(value, length: int = 40) -> str:
    """A value as a message quotes it: at most `length` characters (a name may be 100,000 long)."""
    text = repr(value)
    return text if len(text) <= length else text[:length] + "…'"


@readable_errors
def load_network(name: str):
    """Pick an example: its text spec, and sensible defaults for both questions."""
    if name not in example_names():
        raise gr.Error(f"Example network: {_clipped(name)} is not one of the examples; choose one of "
                       f"{', '.join(example_names())}.")
    bn = load_example(name)
    x, y, z = suggested_query(bn)
    q, e = suggested_evidence(bn)
    nodes = list(bn.nodes)
    evidence = ", ".join(f"{k}={v}" for k, v in e.items())
    return (spec_text(bn), spec_text(bn), gr.Dropdown(choices=nodes, value=x), gr.Dropdown(choices=nodes, value=y),
            gr.Dropdown(choices=nodes, value=z), gr.Dropdown(choices=nodes, value=q), evidence)


@readable_errors
def d_separation(spec: str, x, y, z, example: str | None = FIRST_EXAMPLE, last_valid: str = ""):
    """Answer "X ⟂ Y | Z?": the verdict with its numerical check, the drawing, and the trails."""
    bn, valid, note = _network(spec, last_valid, example)
    try:
        xs, ys, zs = _names(x, "X", bn), _names(y, "Y", bn), _names(z, "Z (observed)", bn)
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
        return note + f"⚠️ {exc}", network_figure(bn)[0], pd.DataFrame(columns=TRAIL_COLUMNS), valid
    fig, drawing_note = network_figure(bn, xs, ys, zs, trail)
    if drawing_note:
        verdict += f"\n\n_{drawing_note}_"
    return note + verdict, fig, pd.DataFrame(rows, columns=TRAIL_COLUMNS), valid


def _whole_number(value, what: str, low: int, high: int) -> int:
    """The shared check of a number box (space.inputs.whole), its message given as a NetworkError so
    that it shows in the answer's text beside the network, like every other error of this tab."""
    try:
        return whole(value, what, low, high)
    except gr.Error as exc:
        raise NetworkError(exc.message) from None


@readable_errors
def inference(spec: str, query, evidence_text: str, samples, restarts, example: str | None = FIRST_EXAMPLE,
              last_valid: str = ""):
    """P(query | evidence) by exact elimination, likelihood weighting and mean field, side by side."""
    bn, valid, note = _network(spec, last_valid, example)
    try:
        variables = _names(query, "Query variables", bn)
        if not 1 <= len(variables) <= 2:
            raise NetworkError("Query variables: choose one or two.")
        samples = _whole_number(samples, "likelihood-weighting samples", 10, 200_000)
        restarts = _whole_number(restarts, "mean-field restarts", 1, 10)
        try:
            evidence = parse_assignment(evidence_text or "", bn)
        except NetworkError as exc:
            raise NetworkError(f"Evidence: {exc}") from None
        result = compare_inference(bn, variables, evidence, samples, restarts)
    except NetworkError as exc:
        return note + f"⚠️ {exc}", None, pd.DataFrame(columns=POSTERIOR_COLUMNS), None, None, valid
    exact, sampled, approx, runs = result.exact, result.sampled, result.mean_field, result.mean_field_runs
    def shown(table):        # 4 significant digits: 0.8487 rather than 0.8487162796380215, and 6e-173 stays 6e-173
        return [float(f"{p:.4g}") for _, p in table.items()]

    table = pd.DataFrame({"assignment": [" / ".join(k) for k, _ in exact.items()], "exact": shown(exact),
                          "sampling": shown(sampled), "mean field": shown(approx)})
    summary = (f"log P(evidence) = {runs[0].log_evidence:.5f}; best mean-field ELBO = {runs[0].elbo:.5f} "
               f"(gap = KL(q‖posterior) = {runs[0].kl_to_posterior:.5f}). "
               f"Restart ELBOs: {', '.join(f'{r.elbo:.4f}' for r in sorted(runs, key=lambda r: r.seed))}.")
    figure = posterior_figure({"exact": exact, "likelihood weighting": sampled, "mean field": approx})
    return note + summary, figure, table, sampling_error_figure(result.error_curve), elbo_figure(runs), valid


def bayesian_network_tab() -> None:
    bn = load_example(FIRST_EXAMPLE)
    nodes = list(bn.nodes)
    x, y, z = suggested_query(bn)
    q, e = suggested_evidence(bn)
    gr.Markdown("Edit the network as text (one header `Name [states] | Parents` per node, then one indented "
                "CPT row per parent combination), then ask a question. An invalid edit shows its error and "
                "the last valid network is used.")
    last_valid = gr.State(spec_text(bn))
    with gr.Row():
        with gr.Column(scale=2):
            example = gr.Dropdown(example_names(), value=FIRST_EXAMPLE, label="Example network")
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
                trails = gr.Dataframe(headers=TRAIL_COLUMNS, label="trails between X and Y")
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
                table = gr.Dataframe(headers=POSTERIOR_COLUMNS, label="posterior by method")
                with gr.Row():
                    error_plot = gr.Plot(label="sampling error")
                    elbo_plot = gr.Plot(label="mean-field ELBO")
    example.change(load_network, [example], [spec, last_valid, x_in, y_in, z_in, query, evidence], api_name="load_network")
    ask.click(d_separation, [spec, x_in, y_in, z_in, example, last_valid], [verdict, graph, trails, last_valid],
              api_name="d_separation")
    run.click(inference, [spec, query, evidence, samples, restarts, example, last_valid],
              [summary, posterior, table, error_plot, elbo_plot, last_valid], api_name="inference")
