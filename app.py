"""DGM Lab: `streamlit run app.py`. The router only; each lab is one page in pages/."""
import streamlit as st

from pages.registry import HOME, LABS

st.set_page_config(page_title="DGM Lab", page_icon="🧪", layout="wide")
pages = [st.Page(HOME.path, title=HOME.title, icon=HOME.icon, default=True)]
pages += [st.Page(lab.path, title=lab.title, icon=lab.icon) for lab in LABS]
st.navigation(pages).run()
