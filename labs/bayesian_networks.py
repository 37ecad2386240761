"""The Bayesian-network lab: widgets -> dgm_core.pgm -> dgm_core.figures.pgm.

One state: the current network is st.session_state["bn"]. Every change of it (an edit, an
example, an upload) goes through `install`, in a callback, which also rewrites the text spec
from the network and starts a fresh CPT grid (its key carries a revision number), so the
network, the spec and the CPT tables never disagree. A failed change keeps the last valid
network, shows one message next to the control that was used, and keeps what was typed: the
spec text, the CPT grid's cells, and an unapplied draft that another edit had to replace.
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
    MAX_BIF_BYTES,
    BayesianNetwork,
    NetworkError,
    compare_inference,
    example_names,
    independence_gap,
    load_example,
    local_markov,
    lost_independencies,
    pairwise_independencies,
    read_bif_bytes,
    to_markov_network,
    trail_rows,
)
from dgm_core.pgm.examples import spec_text, suggested_evidence, suggested_query
from labs.export import figure_config
from labs.inputs import number
from labs.lesson import lesson_mode
from labs.url_state import BIND, arrived, explain

MAX_LISTED_NODES = 40  # trail listings and all-pairs statements are for small networks
LOST_SHOWN = 5  # lost independencies quoted in the warning; all of them are in the table below it
PROBABILITY = st.column_config.NumberColumn(format="%.4f")  # 6e-173 reads 0.0000, not a run of zeros

ss = st.session_state
st.title("🕸️ Bayesian networks")
link, link_message = arrived()
link_problems: list[str] = []       # what of the link this page could not use, in words


# ------------------------------------------------------------------ the one state
def install(bn: BayesianNetwork, origin: str, message=None, spec: str | None = None) -> None:
    """Make ``bn`` the current network; the spec text (``spec``, else the network's own) and a
    fresh CPT grid follow it.

    When the spec is rewritten, a draft in the spec box that was typed but never applied is kept
    aside in ``bn_spec_draft_replaced`` and shown under the box, so replacing it loses nothing.
    """
    if spec is None and "bn" in ss and ss.get("bn_spec", ss.bn_spec_shown) != ss.bn_spec_shown:
        ss.bn_spec_draft_replaced = ss.bn_spec
    ss.bn = bn
    ss.bn_origin = origin
    ss.bn_revision = ss.get("bn_revision", 0) + 1
    ss.bn_spec = ss.bn_spec_shown = ss.bn_spec_kept = spec_text(bn) if spec is None else spec
    ss.bn_message = message


def count(n: int, singular: str, plural: str | None = None) -> str:
    """'1 node', '3 nodes'."""
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"


def edited_origin() -> str:
    return ss.bn_origin if ss.bn_origin.endswith("edited") else f"{ss.bn_origin}, edited"


def apply_edit(make, done: str, where: str) -> None:
    """Run an edit in a callback: install the new network if valid, else keep the old one and say why."""
    try:
        edited = make(ss.bn)
    except NetworkError as exc:
        ss.bn_message = ("error", str(exc), where)
        return
    install(edited, edited_origin(), ("success", done, where))


def apply_text() -> None:
    """Apply the spec box: the text stays as typed (comments included), since it is the network."""
    text = ss.bn_spec
    try:
        edited = BayesianNetwork.from_text(text, name=ss.bn.name)
    except NetworkError as exc:
        ss.bn_message = ("error", str(exc), "spec")
        return
    install(edited, edited_origin(), ("success", "Text applied.", "spec"), spec=text)
    ss.bn_spec_draft_replaced = None


def load_chosen_example() -> None:
    """on_change of the sidebar's example box: load the example, even the one loaded before."""
    if ss.bn_example is not None:
        ss.bn_example_kept = ss.bn_example
        install(load_example(ss.bn_example), origin="example")


def open_lesson_network(lesson) -> None:
    """The lesson's button: its network becomes the lab's (as the example box would load it), with the
    d-separation question left empty, so the lab does not answer a question before it is revealed."""
    name = lesson.settings["network"]
    ss.bn_example = ss.bn_example_kept = name
    install(load_example(name), origin="example")
    ss.bn_blank_question = True


def load_upload() -> None:
    """on_change of the BIF uploader: the file's network, or one message saying what is wrong."""
    upload = ss.edit_upload
    if upload is None:  # the file was removed from the uploader: nothing changes
        return
    try:
        bn = read_bif_bytes(upload.getvalue(), upload.name)
    except NetworkError as exc:
        ss.bn_message = ("error", str(exc), "bif")
        return
    install(bn, origin=f"uploaded from {upload.name}",
            message=("success", f"Loaded {upload.name}: {count(len(bn), 'node')}, {count(len(bn.edges), 'edge')}.",
                     "bif"))
    ss.bn_example = ss.bn_example_kept = None  # the sidebar no longer names an example


def save_cpt(node_key: str, revision: int) -> None:
    """Save the CPT grid as it is now: its own edit state, read in the callback, applied to the
    node's current CPT (the frame of the previous run would miss a value typed just before)."""
    node = ss[node_key]
    edits = ss.get(f"edit_cpt_{revision}_{node}", {}).get("edited_rows", {})
    if not edits:
        ss.bn_message = ("info", f"Nothing to save: no cell of the CPT of {node} was changed.", "cpt")
        return
    apply_edit(lambda net: net.with_cpt_edits(node, edits), f"CPT of {node} saved.", "cpt")


def keep_spec_draft() -> None:
    """on_change of the spec box: keep the draft where a page switch does not delete it."""
    ss.bn_spec_kept = ss.bn_spec


def question_link(example: str, xs, ys, zs) -> str:
    """The address of this lab opened on an example network with a d-separation question. The
    question is not written into the address bar as it changes: each write reached the browser and, on
    the rerun of a CPT save, lost a cell still being typed in (seen in Chromium)."""
    from urllib.parse import urlencode

    base = (st.context.url or "").split("?")[0]
    query = {"bn_example": example, "dsep_x": ",".join(xs), "dsep_y": ",".join(ys), "dsep_z": ",".join(zs)}
    return f"{base}?{urlencode(query, safe=',')}"


def show_message(where: str) -> None:
    """The result of the last change, next to the control that made it."""
    message = ss.get("bn_message")
    if message and message[2] == where:
        {"success": st.success, "error": st.error, "info": st.info}[message[0]](message[1])


names = example_names()
# A shared link names an example network: it is what a new session starts with (later, the box's own
# changes write the address, and must not reload the network over the student's edits).
linked = (link.get("bn_example") or [None])[0]
if "bn" not in ss and linked in names:
    ss.bn_example_kept = linked
    install(load_example(linked), origin="example")
if "bn" not in ss:
    ss.bn_example_kept = "student"
    install(load_example("student"), origin="example")
# Widget state is dropped while another lab is shown; restore it from the kept copies.
if "bn_example" not in ss:
    ss.bn_example = ss.bn_example_kept
if "bn_spec" not in ss:
    ss.bn_spec = ss.bn_spec_kept
st.sidebar.selectbox("Example network", names, key="bn_example", on_change=load_chosen_example, bind=BIND,
                     placeholder="custom network: choose an example to replace it",
                     help="Teaching networks first, then the classic networks of the Bayesian Network Repository.")
lesson_mode("bayesian-networks", setup=open_lesson_network, setup_label="Show the lesson's network in the lab")
bn: BayesianNetwork = ss.bn
st.sidebar.markdown(f"In use: **{bn.name}** ({ss.bn_origin}): {count(len(bn), 'node')}, "
                    f"{count(len(bn.edges), 'edge')}")
if ss.bn_example is not None and ss.bn_origin != "example":
    st.sidebar.button(f"Reload {ss.bn_example} as shipped", key="bn_reload_example", on_click=load_chosen_example)
# Widget keys carry the graph's signature, so selections reset when nodes or edges change.
sig = f"{abs(hash((bn.name, bn.nodes, tuple(bn.edges)))) % 10**8}"
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


tab_dsep, tab_inference, tab_independence, tab_edit = st.tabs(
    ["d-separation", "Inference", "Independencies & Markov network", "Edit the network"]
)

# ------------------------------------------------------------------ d-separation
with tab_dsep:
    default_x, default_y, default_z = suggested_query(bn)
    # The question travels in a link as dsep_x / dsep_y / dsep_z (comma-separated nodes, see
    # question_link); it is used when every node it names is in this network.
    asked = {part: (link.get(f"dsep_{part}") or [""])[0].split(",") for part in "xyz" if f"dsep_{part}" in link}
    if asked and all(n in bn.nodes for nodes in asked.values() for n in nodes if n):
        # a part the link leaves out is empty: the link is the whole question
        default_x, default_y, default_z = ([n for n in asked.get(part, []) if n] for part in "xyz")
    elif asked:
        missing = sorted({n for nodes in asked.values() for n in nodes if n and n not in bn.nodes})
        link_problems.append(f"the question names {', '.join(missing)}, which {bn.name} does not have, so the "
                             "suggested question is shown")
    if ss.pop("bn_blank_question", False):          # the lesson's network: no question asked yet
        for part in "xyz":
            ss.pop(f"dsep_{part}_{sig}", None)     # the widgets start again from the empty defaults
        default_x = default_y = default_z = []
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
                if ss.bn_origin == "example":
                    st.caption("A link to this question (the example network, X, Y and Z) to share with the class:")
                    st.code(question_link(ss.bn_example_kept, xs, ys, zs), language=None)
            except NetworkError as exc:
                st.error(str(exc))
    with right:
        fig, note = network_figure(bn, xs, ys, zs, trail)
        st.plotly_chart(fig, key=f"dsep_graph_{sig}", config=figure_config())
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
                st.error(str(exc))
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
                                 key="inf_samples", bind=BIND)
    restarts = number(s2, "Mean-field restarts", 1, 10, 4, key="inf_restarts")
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
            left.plotly_chart(posterior_figure(tables), key="inf_posterior", config=figure_config())
            frame = exact.to_frame().rename(columns={"probability": "exact"})
            frame["sampling"] = [p for _, p in sampled.items()]
            frame["mean field"] = [p for _, p in result.mean_field.items()]
            right.dataframe(frame, hide_index=True, width="stretch",
                            column_config={c: PROBABILITY for c in ("exact", "sampling", "mean field")})
            left2, right2 = st.columns(2)
            left2.plotly_chart(sampling_error_figure(curve), key="inf_error", config=figure_config())
            right2.plotly_chart(elbo_figure(runs), key="inf_elbo", config=figure_config())
            st.markdown(f"**Mean field**: exact log P(evidence) = {best.log_evidence:.5f}. Each restart's gap "
                        "log P(e) − ELBO is exactly KL(q ‖ posterior).")
            st.dataframe(pd.DataFrame([
                {"start": "uniform" if r.seed == 0 else f"random (seed {r.seed})", "final ELBO": r.elbo,
                 "gap = KL(q‖p)": r.kl_to_posterior, "sweeps": len(r.elbo_history) - 1, "converged": r.converged}
                for r in sorted(runs, key=lambda r: r.seed)]), hide_index=True, width="stretch",
                column_config={"final ELBO": st.column_config.NumberColumn(format="%.5f"),
                               "gap = KL(q‖p)": st.column_config.NumberColumn(format="%.3g")})
            spread = max(r.elbo for r in runs) - min(r.elbo for r in runs)
            if spread > 1e-4:
                st.warning(f"The restarts reached different optima (ELBOs spread over {spread:.4f} nats): "
                           "coordinate ascent only finds a local optimum, common with near-deterministic CPTs.")
        except NetworkError as exc:
            st.error(str(exc))

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
            first = "; ".join(f"{a} ⟂ {b}" for a, b in lost[:LOST_SHOWN])
            st.warning(f"**{count(len(lost), 'independence', 'independencies')} {'is' if len(lost) == 1 else 'are'} "
                       "lost in the Markov network** "
                       f"(moralisation married the parents of a collider): {first}"
                       + (f"; and {len(lost) - LOST_SHOWN} more, all listed below." if len(lost) > LOST_SHOWN else "."))
            if len(lost) > LOST_SHOWN:
                st.dataframe(pd.DataFrame({"lost in the Markov network": [f"{a} ⟂ {b}" for a, b in lost]}),
                             hide_index=True, width="stretch", height=240)
        else:
            st.caption("The Markov network keeps every pairwise independence given this Z.")
    else:
        st.caption(f"All-pairs statements are listed for networks of at most {MAX_LISTED_NODES} nodes.")
    st.subheader("Markov network")
    fig, note = markov_network_figure(bn, markov, given)
    st.plotly_chart(fig, key=f"markov_graph_{sig}", config=figure_config())
    if note:
        st.info(note)
    factorisation = " · ".join(f"ψ({', '.join(c)})" for c in markov.cliques[:12])
    st.markdown(f"**Factorisation over {count(len(markov.cliques), 'maximal clique')}** (partition function "
                f"1, since the potentials are the CPTs): P(x) = {factorisation}"
                + (" · …" if len(markov.cliques) > 12 else ""))
    st.dataframe(pd.DataFrame([{"clique": ", ".join(c), "CPTs assigned": ", ".join(
        f"P({n} | {', '.join(bn.parents[n])})" if bn.parents[n] else f"P({n})"
        for n, cl in markov.assignment.items() if cl == c)} for c in markov.cliques]), hide_index=True, width="stretch")

# ------------------------------------------------------------------ editing
with tab_edit:
    a, b = st.columns(2)
    with a:
        st.markdown("**Nodes**")
        st.text_input("New node name", key="edit_node_name")
        st.text_input("Its states, comma-separated", "no, yes", key="edit_node_states")
        st.button("Add node", key="edit_add_node", on_click=apply_edit, args=(
            lambda net: net.with_node(ss.edit_node_name.strip(),
                                      [s.strip() for s in ss.edit_node_states.split(",") if s.strip()]),
            "Node added.", "nodes"))
        st.selectbox("Node to remove", bn.nodes, key=f"edit_remove_node_{sig}")
        st.button("Remove node", key="edit_remove_node", on_click=apply_edit, args=(
            lambda net: net.without_node(ss[f"edit_remove_node_{sig}"]), "Node removed.", "nodes"))
    with b:
        st.markdown("**Edges**")
        st.selectbox("Parent", bn.nodes, key=f"edit_parent_{sig}")
        st.selectbox("Child", bn.nodes, index=min(1, len(bn) - 1), key=f"edit_child_{sig}")
        st.button("Add edge", key="edit_add_edge", on_click=apply_edit, args=(
            lambda net: net.with_edge(ss[f"edit_parent_{sig}"], ss[f"edit_child_{sig}"]),
            "Edge added: the child's CPT was copied across the new parent's states, so edit it to make them dependent.",
            "nodes"))
        edge_labels = [f"{p} -> {c}" for p, c in bn.edges]
        if edge_labels:
            st.selectbox("Edge to remove", edge_labels, key=f"edit_remove_edge_{sig}")
            st.button("Remove edge", key="edit_remove_edge", on_click=apply_edit, args=(
                lambda net: net.without_edge(*ss[f"edit_remove_edge_{sig}"].split(" -> ")), "Edge removed.", "nodes"))
    show_message("nodes")

    st.markdown("**CPT**: edit the cells, then Save (a row must sum to one).")
    node_key = f"edit_cpt_node_{sig}"
    cpt_node = st.selectbox("Node", bn.nodes, key=node_key)
    st.data_editor(bn.cpt_frame(cpt_node), key=f"edit_cpt_{ss.bn_revision}_{cpt_node}", width="stretch",
                   disabled=["_index"])
    st.button("Save CPT", key="edit_save_cpt", on_click=save_cpt, args=(node_key, ss.bn_revision))
    show_message("cpt")

    st.markdown("**Text spec**: one header line per node, `Name [states] | Parents`, then one indented row "
                "per parent combination (no rows: a uniform CPT).")
    st.text_area("Network spec", key="bn_spec", height=320, on_change=keep_spec_draft)
    st.button("Apply text", key="edit_apply_text", on_click=apply_text)
    show_message("spec")
    if ss.get("bn_spec_draft_replaced"):
        with st.expander("Your unapplied text, replaced by the network's spec after the last change"):
            st.code(ss.bn_spec_draft_replaced, language=None)

    st.markdown("**BIF** (the format of pgmpy and bnlearn)")
    st.download_button("Download BIF", bn.to_bif(), file_name=f"{bn.name}.bif", key="edit_download")
    st.file_uploader(f"Load a .bif or .bif.gz file (at most {MAX_BIF_BYTES // 2**20} MB)", type=["bif", "gz"],
                     key="edit_upload", on_change=load_upload, max_upload_size=MAX_BIF_BYTES // 2**20)
    show_message("bif")

explain(link, link_message, known={"dsep_x", "dsep_y", "dsep_z"}, extra=link_problems)
