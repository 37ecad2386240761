"""Number boxes that say what they do with what is typed (not a page: dgm_core.lab_records.LABS does not list it).

Streamlit's own number box cannot: given a range, it refuses a value outside it with only a red "!"; a
whole-number box reads "1e9" as 1 and "2.5" as 2 without a word; a number past ±2^53 turns the box red
with "Press Enter to apply" and nothing applies; an emptied box snaps back to its default and
recomputes; and a float box shows 1e-05 as "0.0000". So `number` is a text box that we read ourselves:
the range is in the label, the box keeps exactly what was typed, and under the box a line says what
is in force whenever the text is not a value in the range (empty, not a number, not whole, out of
range): the last valid value, at first the default. The box is bound to the URL like every setting
(labs/url_state).
"""
from __future__ import annotations

import math

import streamlit as st

from labs.url_state import BIND

#: Typed text longer than this is cut in a message (a pasted page of digits stays one line).
SHOWN_CHARACTERS = 24


def _shown(value) -> str:
    """A value as the label and the messages write it: thousands separated, short floats."""
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def plain(value) -> str:
    """A value as the box holds it: what a student would type (no separators)."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def _quoted(text: str) -> str:
    return repr(text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "…")


def read_number(text: str | None, low, high, whole: bool) -> tuple[float | int | None, str]:
    """The value a box's text stands for, or None and what is wrong with it (a problem to show)."""
    text = (text or "").strip().replace("_", "")
    if not text:
        return None, "The box is empty"
    try:
        value = float(text)
    except ValueError:
        return None, f"{_quoted(text)} is not a number"
    if not math.isfinite(value) or not low <= value <= high:
        return None, (f"{_quoted(text)} is not a finite number" if not math.isfinite(value) else
                      f"{_shown(value)} is outside {_shown(low)}–{_shown(high)}")
    if whole and value != math.floor(value):
        return None, f"{_shown(value)} is not a whole number"
    return (int(value) if whole else value), ""


def number(where, label: str, low, high, default, step=None, *, key: str, format: str | None = None,
           help: str | None = None):
    """The value in force of a number box with range [low, high] (whole numbers when the default and the
    step are whole). `step` and `format` are kept for the callers' sake: a text box has no stepper."""
    ss = st.session_state
    whole = isinstance(default, int) and (step is None or isinstance(step, int))
    in_force_key = f"_{key}_in_force"
    if key not in ss:
        ss[key] = plain(default)     # the box opens on its default (a link's value, if any, replaces it)
    elif not isinstance(ss[key], str):
        ss[key] = plain(ss[key])     # a value set in code (a test, an older link) shown as text
    typed = where.text_input(f"{label} ({_shown(low)}–{_shown(high)})", key=key, help=help, bind=BIND)
    value, problem = read_number(typed, low, high, whole)
    in_force = ss.get(in_force_key, default)
    if problem:
        where.caption(f"{problem}: **{_shown(in_force)}** is in force. Enter "
                      f"{'a whole number' if whole else 'a number'} from {_shown(low)} to {_shown(high)}.")
        return in_force
    ss[in_force_key] = value
    return value
