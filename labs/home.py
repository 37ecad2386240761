"""The home page: what DGM Lab is, and a link to each lab that exists."""
import streamlit as st

from dgm_core.lab_records import LABS

st.title("🧪 DGM Lab")
st.markdown(
    "An interactive laboratory for **deep generative models** and the probabilistic models "
    "beneath them. Every lab runs on a laptop CPU, offline, with the data and models that ship "
    "with it. Pick a lab:"
)
for lab in LABS:
    with st.container(border=True):
        st.page_link(lab.page, label=lab.title, icon=lab.icon)
        st.caption(lab.summary)
