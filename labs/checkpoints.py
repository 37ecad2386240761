"""The pages' checkpoint loader (not a page: dgm_core.lab_records.LABS does not list it): the one cached load per
checkpoint for every page, and a message in place of the figures where a checkpoint cannot be loaded."""
import streamlit as st

from dgm_core import checkpoints
from dgm_core.checkpoints import CheckpointError, require, zip_folder


@st.cache_resource(show_spinner=False, max_entries=16)
def cached(name: str):
    return checkpoints.load_checkpoint(name)


def load(name: str, expected: type | None = None):
    """The checkpoint, loaded once for every page; CheckpointError when it cannot be loaded or is not an
    `expected` model."""
    return require(cached(name), expected)


def load_or_say(name: str, expected: type | None = None):
    """The checkpoint, or None after an st.error that names it and says why."""
    try:
        return load(name, expected)
    except CheckpointError as exc:
        st.error(f"Checkpoint {name} could not be loaded: {exc}")
        return None


@st.cache_data(show_spinner=False, max_entries=4)
def _zipped(folder: str) -> bytes:
    return zip_folder(folder)


def download_button(checkpoint, where=st.sidebar) -> None:
    """A button that downloads the checkpoint's folder as a zip (weights, config, card, history, grids)."""
    where.download_button(f"Download {checkpoint.path.name} (zip)", _zipped(str(checkpoint.path)),
                          file_name=f"{checkpoint.path.name}.zip", mime="application/zip",
                          key=f"zip_{checkpoint.path.name}", on_click="ignore",
                          help="The checkpoint folder: unzip it and load it with load_checkpoint or from_pretrained.")
