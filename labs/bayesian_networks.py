"""The Bayesian-network lab: widgets -> dgm_core.pgm -> dgm_core.figures.pgm.

The current network lives in st.session_state["bn"]. Every edit builds a new, validated
network in a callback; a failed edit shows its error and leaves the last valid network in place.
"""
import pandas as pd
import streamlit as st

from dgm_core.figures.pgm import (
    elbo_figure,
    markov_network_figure,
    network_figure,
    posterior_figure,
    sampling_error_figure,
)
from dgm_core.pgm import (
    BayesianNetwork,
    NetworkError,
    compare_inference,
    example_names,
    independence_gap,
    load_example,
    local_markov,
    lost_independencies,
    pairwise_independencies,
    to_markov_network,
    trail_rows,
)
from dgm_core.pgm.examples import spec_text, suggested_evidence, suggested_query

MAX_LISTED_NODES = 40  # trail listings and all-pairs statements are for small networks
MAX_UPLOAD_BYTES = 5 * 1024 * 1024

st.title("🕸️ Bayesian networks")

# ------------------------------------------------------------------ the current network
names = example_names()
example = st.sidebar.selectbox("Example network", names, index=names.index("student"), key="bn_example",
                               help="Teaching networks first, then the classic networks of the Bayesian Network Repository.")
if st.session_state.get("bn_loaded") != example:
    st.session_state.bn = load_example(example)
    st.session_state.bn_loaded = example
    st.session_state.bn_message = None
bn: BayesianNetwork = st.session_state.bn
# Widget keys carry the graph's signature, so selections reset when nodes or edges change.
sig = f"{abs(hash((bn.name, bn.nodes, tuple(bn.edges)))) % 10**8}"
st.sidebar.caption(f"**{bn.name}**: {len(bn)} nodes, {len(bn.edges)} edges")


def apply_edit(make, done: str) -> None:
    """Run an edit in a callback: keep the new network if valid, else keep the old one."""
    try:
        st.session_state.bn = make(st.session_state.bn)
        st.session_state.bn_message = ("success", done)
    except NetworkError as exc:
        st.session_state.bn_message = ("error", str(exc))


# The network's text is its fingerprint: these caches recompute only when the network or the
# question changes, not when another tab's widget moves.
net_key = bn.to_text()


@st.cache_resource(max_entries=32, show_spinner=False)
def run_inference(_bn, key, variables, evidence_items, n_samples, restarts):
    return compare_inference(_bn, variables, dict(evidence_items), n_samples, restarts)


@st.cache_resource(max_entries=32, show_spinner=False)
def structure_of(_bn, key, given):
    small = len(_bn) <= MAX_LISTED_NODES
    return (local_markov(_bn), to_markov_network(_bn),
            pairwise_independencies(_bn, list(given)) if small else None,
            lost_independencies(_bn, list(given)) if small else None)


def show_error(exc: Exception) -> None:
    st.error(str(exc))


tab_dsep, tab_inference, tab_independence, tab_edit = st.tabs(
    ["d-separation", "Inference", "Independencies & Markov network", "Edit the network"]
)

# ------------------------------------------------------------------ d-separation
with tab_dsep:
    default_x, default_y, default_z = suggested_query(bn)
    left, right = st.columns([2, 3])
    with left:
        st.markdown("Is **X ⟂ Y | Z**? Choose the sets, disjoint.")
        xs = st.multiselect("X", bn.nodes, default=default_x, key=f"dsep_x_{sig}")
        ys = st.multiselect("Y", [n for n in bn.nodes if n not in xs],
                            default=[n for n in default_y if n not in xs], key=f"dsep_y_{sig}")
        zs = st.multiselect("Z (observed)", [n for n in bn.nodes if n not in xs and n not in ys],
                            default=[n for n in default_z if n not in xs and n not in ys], key=f"dsep_z_{sig}")
        trail = None
        if not xs or not ys:
            st.info("Choose at least one node for X and one for Y.")
        else:
            statement = f"{', '.join(xs)} ⟂ {', '.join(ys)}" + (f" | {', '.join(zs)}" if zs else "")
            try:
                trail = bn.active_trail(xs, ys, zs)
                if trail is None:
                    st.success(f"**{statement}**: yes, d-separated. Every trail is blocked, so the independence "
                               "holds in every distribution that factorises over this graph.")
                else:
                    st.warning(f"**{statement}**: no, d-connected. Active trail: "
                               f"**{' – '.join(trail)}**")
                check = independence_gap(bn, xs, ys, zs)
                st.metric("Numerical check: max |P(x | y, z) − P(x | z)|", f"{check.gap:.3g}")
                where = ", ".join(f"{k}={v}" for k, v in check.assignment.items())
                if trail is None:
                    st.caption(f"d-separation implies independence: the gap is zero up to rounding (largest at {where}).")
                elif check.gap < 1e-9:
                    st.caption("d-connected, yet independent with these CPTs: d-connection allows dependence but "
                               "does not force it (the numbers are unfaithful to the graph).")
                else:
                    st.caption(f"d-connected and dependent with these CPTs: largest gap at {where}.")
            except NetworkError as exc:
                show_error(exc)
    with right:
        fig, note = network_figure(bn, xs, ys, zs, trail)
        st.plotly_chart(fig, key=f"dsep_graph_{sig}")
        if note:
            st.info(note)
    if xs and ys:
        st.subheader("Why: the trails")
        if len(xs) == 1 and len(ys) == 1 and len(bn) <= MAX_LISTED_NODES:
            try:
                rows = trail_rows(bn, xs[0], ys[0], zs, max_trails=100)
                st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
                if len(rows) == 100:
                    st.caption("Showing the first 100 trails.")
            except NetworkError as exc:
                show_error(exc)
        else:
            st.caption(f"Trails are listed for one X, one Y and networks of at most {MAX_LISTED_NODES} nodes; "
                       "the verdict above covers every trail.")

# ------------------------------------------------------------------ inference
with tab_inference:
    q_default, e_default = suggested_evidence(bn)
    c1, c2 = st.columns(2)
    with c1:
        query_vars = st.multiselect("Query variables (one or two)", bn.nodes, default=q_default,
                                    max_selections=2, key=f"inf_q_{sig}")
        evidence_vars = st.multiselect("Evidence variables", [n for n in bn.nodes if n not in query_vars],
                                       default=[n for n in e_default if n not in query_vars], key=f"inf_e_{sig}")
    evidence = {}
    with c2:
        for v in evidence_vars:
            states = bn.states[v]
            preferred = e_default.get(v, states[0])
            evidence[v] = st.selectbox(f"{v} =", states, index=states.index(preferred), key=f"inf_s_{sig}_{v}")
    s1, s2 = st.columns(2)
    n_samples = s1.select_slider("Likelihood-weighting samples", [100, 1_000, 10_000, 100_000], value=10_000,
                                 key="inf_samples")
    restarts = s2.number_input("Mean-field restarts", 1, 10, 4, key="inf_restarts")
    if not query_vars:
        st.info("Choose one or two query variables.")
    else:
        try:
            result = run_inference(bn, net_key, tuple(query_vars), tuple(evidence.items()), n_samples, int(restarts))
            exact, sampled, runs, curve = result.exact, result.sampled, result.mean_field_runs, result.error_curve
            best = runs[0]
            tables = {"exact (variable elimination)": exact, f"likelihood weighting ({n_samples:,})": sampled,
                      "mean field (best restart)": result.mean_field}
            left, right = st.columns([3, 2])
            left.plotly_chart(posterior_figure(tables), key="inf_posterior")
            frame = exact.to_frame().rename(columns={"probability": "exact"})
            frame["sampling"] = [p for _, p in sampled.items()]
            frame["mean field"] = [p for _, p in result.mean_field.items()]
            right.dataframe(frame, hide_index=True, width="stretch")
            left2, right2 = st.columns(2)
            left2.plotly_chart(sampling_error_figure(curve), key="inf_error")
            right2.plotly_chart(elbo_figure(runs), key="inf_elbo")
            st.markdown(f"**Mean field**: exact log P(evidence) = {best.log_evidence:.5f}. Each restart's gap "
                        "log P(e) − ELBO is exactly KL(q ‖ posterior).")
            st.dataframe(pd.DataFrame([
                {"start": "uniform" if r.seed == 0 else f"random (seed {r.seed})", "final ELBO": r.elbo,
                 "gap = KL(q‖p)": r.kl_to_posterior, "sweeps": len(r.elbo_history) - 1, "converged": r.converged}
                for r in sorted(runs, key=lambda r: r.seed)]), hide_index=True, width="stretch")
            spread = max(r.elbo for r in runs) - min(r.elbo for r in runs)
            if spread > 1e-4:
                st.warning(f"The restarts reached different optima (ELBOs spread over {spread:.4f} nats): "
                           "coordinate ascent only finds a local optimum, common with near-deterministic CPTs.")
        except NetworkError as exc:
            show_error(exc)

# ------------------------------------------------------------------ independencies and the Markov network
with tab_independence:
    st.subheader("Local Markov statements")
    st.caption("Each node is independent of its non-descendants given its parents.")
    given = st.multiselect("Given Z (for the pairwise statements and the Markov network)", bn.nodes, key=f"ind_z_{sig}")
    statements, markov, pairs, lost = structure_of(bn, net_key, tuple(given))
    st.dataframe(pd.DataFrame({"statement": [str(s) for s in statements[:200]]}), hide_index=True, width="stretch")
    if pairs is not None:
        st.markdown(f"**Pairwise independencies given Z**: {len(pairs)} pairs")
        st.dataframe(pd.DataFrame({"statement": [str(s) for s in pairs]}), hide_index=True, width="stretch")
        if lost:
            st.warning("Lost in the Markov network (moralisation married the parents of a collider): "
                       + "; ".join(f"{a} ⟂ {b}" for a, b in lost))
        else:
            st.caption("The Markov network keeps every pairwise independence given this Z.")
    else:
        st.caption(f"All-pairs statements are listed for networks of at most {MAX_LISTED_NODES} nodes.")
    st.subheader("Markov network")
    fig, note = markov_network_figure(bn, markov, given)
    st.plotly_chart(fig, key=f"markov_graph_{sig}")
    if note:
        st.info(note)
    factorisation = " · ".join(f"ψ({', '.join(c)})" for c in markov.cliques[:12])
    st.markdown(f"**Factorisation over {len(markov.cliques)} maximal cliques** (Z = 1): P(x) = {factorisation}"
                + (" · …" if len(markov.cliques) > 12 else ""))
    st.dataframe(pd.DataFrame([{"clique": ", ".join(c), "CPTs assigned": ", ".join(
        f"P({n} | {', '.join(bn.parents[n])})" if bn.parents[n] else f"P({n})"
        for n, cl in markov.assignment.items() if cl == c)} for c in markov.cliques]), hide_index=True, width="stretch")

# ------------------------------------------------------------------ editing
with tab_edit:
    message = st.session_state.get("bn_message")
    if message:
        (st.success if message[0] == "success" else st.error)(message[1])
    a, b = st.columns(2)
    with a:
        st.markdown("**Nodes**")
        st.text_input("New node name", key="edit_node_name")
        st.text_input("Its states, comma-separated", "no, yes", key="edit_node_states")
        st.button("Add node", key="edit_add_node", on_click=apply_edit, args=(
            lambda net: net.with_node(st.session_state.edit_node_name.strip(),
                                      [s.strip() for s in st.session_state.edit_node_states.split(",") if s.strip()]),
            "Node added."))
        st.selectbox("Node to remove", bn.nodes, key=f"edit_remove_node_{sig}")
        st.button("Remove node", key="edit_remove_node", on_click=apply_edit, args=(
            lambda net: net.without_node(st.session_state[f"edit_remove_node_{sig}"]), "Node removed."))
    with b:
        st.markdown("**Edges**")
        st.selectbox("Parent", bn.nodes, key=f"edit_parent_{sig}")
        st.selectbox("Child", bn.nodes, index=min(1, len(bn) - 1), key=f"edit_child_{sig}")
        st.button("Add edge", key="edit_add_edge", on_click=apply_edit, args=(
            lambda net: net.with_edge(st.session_state[f"edit_parent_{sig}"], st.session_state[f"edit_child_{sig}"]),
            "Edge added: the child's CPT was copied across the new parent's states, so edit it to make them dependent."))
        edge_labels = [f"{p} -> {c}" for p, c in bn.edges]
        if edge_labels:
            st.selectbox("Edge to remove", edge_labels, key=f"edit_remove_edge_{sig}")
            st.button("Remove edge", key="edit_remove_edge", on_click=apply_edit, args=(
                lambda net: net.without_edge(*st.session_state[f"edit_remove_edge_{sig}"].split(" -> ")),
                "Edge removed."))

    st.markdown("**CPT**")
    cpt_node = st.selectbox("Node", bn.nodes, key=f"edit_cpt_node_{sig}")
    edited = st.data_editor(bn.cpt_frame(cpt_node), key=f"edit_cpt_{sig}_{cpt_node}", width="stretch")
    st.button("Save CPT", key="edit_save_cpt", on_click=apply_edit, args=(
        lambda net: net.with_cpt_frame(cpt_node, edited), f"CPT of {cpt_node} saved."))

    st.markdown("**Text spec**: one header line per node, `Name [states] | Parents`, then one indented row "
                "per parent combination (no rows: a uniform CPT).")
    spec_key = f"edit_spec_{sig}"
    if spec_key not in st.session_state:
        st.session_state[spec_key] = spec_text(bn)
    st.text_area("Network spec", key=spec_key, height=320)
    st.button("Apply text", key="edit_apply_text", on_click=apply_edit, args=(
        lambda net: BayesianNetwork.from_text(st.session_state[spec_key], name=net.name), "Text applied."))

    st.markdown("**BIF** (the format of pgmpy and bnlearn)")
    st.download_button("Download BIF", bn.to_bif(), file_name=f"{bn.name}.bif", key="edit_download")
    upload = st.file_uploader("Load a .bif or .bif.gz file", type=["bif", "gz"], key="edit_upload")
    if upload is not None and st.session_state.get("edit_upload_seen") != upload.file_id:
        st.session_state.edit_upload_seen = upload.file_id
        if upload.size > MAX_UPLOAD_BYTES:
            st.error(f"{upload.name} is {upload.size / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB. "
                     "Load a smaller network.")
        else:
            data = upload.getvalue()
            try:
                import gzip

                text = (gzip.decompress(data) if upload.name.endswith(".gz") else data).decode("utf-8")
                st.session_state.bn = BayesianNetwork.from_bif(text, name=upload.name.split(".")[0])
                st.session_state.bn_message = ("success", f"Loaded {upload.name}.")
                st.rerun()
            except (NetworkError, OSError, UnicodeDecodeError) as exc:
                st.error(f"Could not load {upload.name}: {exc}")
