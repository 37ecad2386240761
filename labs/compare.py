"""The comparison lab: every shipped model of one dataset (digits or mnist-5k) side by side, read from what
`python -m benchmarks.compare` wrote (dgm_core.labs.compare.results); the page measures nothing, so
it answers at once, and every number on it can be regenerated with that command."""
import pandas as pd
import streamlit as st

from dgm_core import compare
from dgm_core.figures.compare import class_share_figure, fd_figure, sampling_time_figure
from dgm_core.figures.images import image_grid_figure
from dgm_core.labs import compare as compare_lab
from labs.export import figure_config
from labs.url_state import BIND, arrived, explain

st.title("⚖️ Every model compared")
link, link_message = arrived()


@st.cache_data(show_spinner=False)
def _results(dataset: str, stamp: float):
    return compare_lab.results_of(dataset)


dataset = st.radio("dataset", list(compare_lab.DATASETS), format_func=compare_lab.DATASETS.get, horizontal=True,
                   key="cmp_dataset", bind=BIND,
                   help="Each dataset has its own table: models are ranked only against models of the same data.")
try:
    body = _results(dataset, (compare.PROTOCOLS[dataset].results_dir / compare.RESULTS_NAME).stat().st_mtime)
except (compare.ResultsMissing, FileNotFoundError) as exc:
    st.info(str(exc) if isinstance(exc, compare.ResultsMissing) else
            f"No comparison results for {dataset} are here yet: run `{compare_lab.command_for(dataset)}` to measure "
            "every model trained on it.")
    st.stop()

rows = body["rows"]
st.caption(
    f"Every number below was measured by `{compare_lab.command_for(dataset)}` ({body.get('written', 'date not recorded')}, "
    f"{body.get('machine', '')}) with the lab's own code in `dgm_core/compare.py`: {body.get('draws', 1)} draws of "
    f"{body['samples']:,} samples per seed behind each Fréchet distance, times on that machine in that run. The "
    "other labs show these same figures for their models. Run the command again to regenerate them.")

table_tab, verdict_tab, samples_tab, path_tab, seeds_tab = st.tabs(
    ["Table", "Pros and cons", "Samples", "Interpolations", "Per seed"])

with table_tab:
    frame = pd.DataFrame(compare_lab.table_rows(body))
    st.dataframe(frame, hide_index=True, width="stretch", height=35 * (len(frame) + 1) + 3,
                 column_config={"model": st.column_config.TextColumn(width="medium", pinned=True)})
    st.download_button("Download the table (CSV)", frame.to_csv(index=False), "dgm-lab-comparison.csv", "text/csv",
                       key="cmp_csv")
    st.markdown(compare_lab.column_notes(body))
    if left := compare_lab.left_out_note(dataset):
        st.markdown(left)
    st.plotly_chart(fd_figure(rows, body["floor"]), key="cmp_fd", config=figure_config())
    st.plotly_chart(sampling_time_figure(rows, body["timed"], body["repeats"]), key="cmp_time", config=figure_config())

with verdict_tab:
    st.caption("Each claim comes from a fixed rule over the measured columns (dgm_core.labs.compare.pros_and_cons); "
               "open a model below the table for the measurement behind each of its cells.")
    st.table(pd.DataFrame(compare_lab.verdict_rows(body)).set_index("model"))
    for row in rows:
        with st.expander(f"{row['model']}: the measurements behind its pros and cons"):
            st.table(pd.DataFrame(compare_lab.evidence_rows(body, row["model"])).set_index(""))

with samples_tab:
    # One row of columns per four models: a column per model stacked its cells, and a caption that wrapped
    # pushed the cells below it out of line with their neighbours (WGAN-GP, JEM++).
    for start in range(0, len(rows), 4):
        for i, (column, row) in enumerate(zip(st.columns(4), rows[start:start + 4]), start):
            with column:
                st.plotly_chart(image_grid_figure(row["grid"], 4, title=row["model"], height=260, title_chars=26), key=f"cmp_grid_{i}",
                                config=figure_config())
                st.caption(row["how_sampled"])

with path_tab:
    st.caption(f"{compare.INTERPOLATION_POINTS} points on a straight line between two latent points, both ends "
               "included, decoded by each model.")
    for i, row in enumerate(rows):
        if row["interpolation"] is None:
            st.markdown(f"**{row['model']}**: no latent space: {row.get('no_latent_space') or 'the model has none'}.")
            continue
        st.plotly_chart(image_grid_figure(row["interpolation"], compare.INTERPOLATION_POINTS,
                                          title=f"{row['model']}: between {row['interpolation_from']}", height=150),
                        key=f"cmp_path_{i}", config=figure_config())

with seeds_tab:
    names = [r["model"] for r in rows]
    chosen = st.selectbox("Model", names, key="cmp_model", bind=BIND)
    row = rows[names.index(chosen)]
    st.dataframe(pd.DataFrame(compare_lab.per_seed_rows(row)), hide_index=True, width="stretch")
    st.markdown(f"**Likelihood:** {row['likelihood']}.")
    st.plotly_chart(class_share_figure(row), key="cmp_shares", config=figure_config())

explain(link, link_message)
