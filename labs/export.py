"""Exports every page shares (not a page). Figures: each st.plotly_chart gets `figure_config()`, so
its camera button (top right of the figure) downloads the figure as PNG or SVG, as chosen once in the
sidebar (Plotly draws either in the browser: nothing is rendered on the server). Tables: st.dataframe's
own toolbar downloads CSV; checkpoint folders: labs.checkpoints.download_button; networks: the
Bayesian-network lab's BIF download."""
import streamlit as st

FORMATS = ["PNG", "SVG"]


def format_choice() -> None:
    """The sidebar's figure format (app.py calls it on every page)."""
    st.sidebar.radio("Figure downloads", FORMATS, horizontal=True, key="figure_format",
                     help="The camera button at the top right of every figure downloads it in this format: PNG "
                          "(a picture, at twice the screen's resolution) or SVG (vector: sharp at any size, editable).")


def figure_config() -> dict:
    """Plotly's config for st.plotly_chart: the camera button's format and file name."""
    chosen = st.session_state.get("figure_format", "PNG").lower()
    return {"displaylogo": False,
            "toImageButtonOptions": {"format": chosen, "filename": "dgm-lab-figure", "scale": 2 if chosen == "png" else 1}}
