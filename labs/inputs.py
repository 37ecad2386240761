"""Number boxes that say what they do with what is typed (not a page: dgm_core.labs.LABS does not list it).

Streamlit's own number box, given a range, refuses a value outside it with only a red "!" and leaves
the old value in force without a word, and an emptied box snaps back to its default and recomputes (a
VQ-VAE's k went 17 → empty → 10). `number` shows the range in the label, takes whatever is typed, and
answers under the box: a value outside the range, or an empty box, leaves the last valid value in force
(at first the default) and says which. The box is bound to the URL like every setting (labs/url_state).
"""
from __future__ import annotations

import math

import streamlit as st

from labs.url_state import BIND


def _shown(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def number(where, label: str, low, high, default, step=None, *, key: str, format: str | None = None,
           help: str | None = None):
    """The value in force of a number box with range [low, high] (whole numbers when the default is one)."""
    ss = st.session_state
    whole = isinstance(default, int) and (step is None or isinstance(step, int))
    in_force_key = f"_{key}_in_force"
    if key not in ss:
        ss[key] = default            # the box opens on its default (a link's value, if any, replaces it)
    typed = where.number_input(f"{label} ({_shown(low)}–{_shown(high)})", value=None, step=step if step else 1 if whole else None,
                               format=format, key=key, help=help, bind=BIND)
    in_force = ss.get(in_force_key, default)
    if typed is None:
        where.caption(f"The box is empty: **{_shown(in_force)}** is in force. Enter a number from {_shown(low)} to "
                      f"{_shown(high)}.")
        return in_force
    if not (math.isfinite(typed) and low <= typed <= high):
        where.caption(f"{_shown(typed)} is outside {_shown(low)}–{_shown(high)}: **{_shown(in_force)}** is in force.")
        return in_force
    value = int(typed) if whole else float(typed)
    ss[in_force_key] = value
    return value
