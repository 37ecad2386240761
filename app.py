"""DGM Lab: `streamlit run app.py`. The router only; each lab is one page in labs/.

The folder is not called `pages/`: Streamlit treats a `pages/` folder as old-style (v1)
multipage navigation, and a bookmarked URL such as /vae would then run the page script
directly, without this router (no wide layout, the folder's helper modules listed as pages)."""
import streamlit as st

from dgm_core.checkpoints import CheckpointError
from dgm_core.lab_records import LABS
from dgm_core.runtime import use_interactive_threads
from labs.export import format_choice
from labs.live import leave_other_pages

use_interactive_threads()   # one torch thread per server process: see dgm_core/runtime.py

st.set_page_config(page_title="DGM Lab", page_icon="🧪", layout="wide")
pages = [st.Page("labs/home.py", title="DGM Lab", icon="🧪", default=True)]
pages += [st.Page(lab.page, title=lab.title, icon=lab.icon) for lab in LABS]     # one record per lab: dgm_core.labs
navigation = st.navigation(pages)
leave_other_pages(navigation.url_path)   # a live run pauses when its page is left (labs/live.py)
format_choice()          # every page's figure downloads: PNG or SVG (labs/export.py)
try:
    navigation.run()
except CheckpointError as exc:
    # A checkpoint folder deleted or emptied while the app runs (the catalogue lists what has a config): the
    # page stops where it needed it, with what is wrong and how to mend it, never a traceback.
    st.error(f"This page needs a checkpoint that cannot be loaded: {exc} Restore the folder (a shipped one: "
             "`git checkout -- checkpoints/`) or train it again with the command in its card (README, "
             "\"Shipped checkpoints\"); the other labs still work.")
