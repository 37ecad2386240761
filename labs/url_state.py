"""A lab's state in its URL, so a lecturer shares a link and every student opens the same view.

Widgets that carry state take `bind=BIND` (Streamlit's own query-parameter binding: the widget's key is
the parameter's name, a change updates the address bar, a default value leaves it out). Streamlit drops
a parameter it cannot use without a word, so each page captures the link as it arrived (`arrived`, before
any widget) and, once its widgets exist, says which parts were not used and why (`explain`): an unknown
or stale setting, or a value outside what the widget allows. The lab then shows its defaults for those.
"""
from __future__ import annotations

import math

import streamlit as st

BIND = "query-params"


def arrived() -> tuple[dict[str, list[str]], object]:
    """The query parameters as the link brought them, and a place at the top of the page for the message.

    Only a page's first run in a browser session brings a link: on later runs the address holds what the
    widgets wrote there, and a callback may just have changed a widget (the lesson's "← Previous" set the
    question back while the address still said the next one, which read as a refused link)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    page = ctx.page_script_hash if ctx is not None else ""
    read = st.session_state.setdefault("_links_read", set())
    params = {} if page in read else {key: st.query_params.get_all(key) for key in st.query_params}
    read.add(page)
    return params, st.empty()


def _same(raw: list[str], value) -> bool:
    """Did the widget take the link's value? (Numbers compare as numbers: "0.010" is 0.01.)"""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value] == raw
    if isinstance(value, bool):
        return raw == [str(value).lower()] or raw == [str(value)]
    if isinstance(value, (int, float)):
        try:
            return len(raw) == 1 and math.isclose(float(raw[0]), float(value), rel_tol=1e-9, abs_tol=1e-12)
        except ValueError:
            return False
    return raw == [str(value)]


def unused(params: dict[str, list[str]], known: set[str] = frozenset()) -> list[str]:
    """Each part of the link the page did not take, as a sentence. Streamlit removes from the address a
    value its widget refused (and one equal to the default): a part counts as refused when it is gone
    from the address and the widget does not show it."""
    now = {key: st.query_params.get_all(key) for key in st.query_params}
    problems = []
    for key, raw in params.items():
        shown = ", ".join(raw) if raw else "(empty)"
        if key in known:
            continue
        if key not in st.session_state:
            problems.append(f"`{key}` is not a setting of this view (a link from another lab or an older version)")
        elif now.get(key) != raw and not _same(raw, st.session_state[key]):
            problems.append(f"`{key}={shown}` is not a value this control allows, so it shows its default")
    return problems


def explain(params: dict[str, list[str]], place, known: set[str] = frozenset(), extra: list[str] = ()) -> None:
    """After the widgets: tell the student what of the link could not be used. `known`: parameters the
    page reads itself (not widgets); `extra`: its own sentences about them."""
    problems = [*unused(params, known), *extra]
    if problems:
        place.warning("This link's settings could not all be used: " + "; ".join(problems) + ". Everything else "
                      "is as the link says.")
