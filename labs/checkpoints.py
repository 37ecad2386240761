"""The pages' checkpoint loader (not a page: labs/registry.py does not list it): one cached load per
checkpoint for every page, and a message in place of the figures where a checkpoint cannot be loaded."""
import streamlit as st

from dgm_core.checkpoints import CheckpointError, load_checkpoint


@st.cache_resource(show_spinner=False, max_entries=16)
def cached(name: str):
    return load_checkpoint(name)


def load_or_say(name: str):
    """The checkpoint, or None after an st.error that names it and says why."""
    try:
        return cached(name)
    except CheckpointError as exc:
        st.error(f"Checkpoint {name} could not be loaded: {exc}")
        return None
