"""What users and attackers type, property-based (hypothesis): every endpoint of the Space and every
text and number input of the pages, one field at a time given something wrong — empty, NaN, inf, huge,
negative, text in a number box, very long text, unicode, the wrong type — while the others keep their
defaults. Each answer is a message that names the field (or a normal answer, where the value happens to
be usable), never a traceback and never the safety net's "could not answer"; a figure the student was
looking at is kept (gr.skip()); and the work is bounded because every number is checked against its
range before anything is built (a huge step count is refused, not run).

The Space's handlers are called as Gradio calls them, in process, with the values its components hand
over; the pages through AppTest."""
from __future__ import annotations

import inspect
import re

import gradio as gr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dgm_core.lab_records import LABS

#: What a box may be given. Kept to values that are wrong in a known way, so that the rare usable draw
#: (a 0 that is a valid seed) does not start minutes of work.
JUNK = [None, "", "   ", "abc", "1,5", "1e309", "nan", float("nan"), float("inf"), -float("inf"), 1e308, -1e308, -1,
        -0.5, 2 ** 63, 10 ** 12, "🙂" * 40, "Ω≠∞ ünïcödé", "x" * 100_000, "\x00\x01", [1, 2], {"a": 1}, ("t",)]
SAFETY_NET = "could not answer"


def junk():
    return st.one_of(st.sampled_from(JUNK), st.text(max_size=300))


@pytest.fixture(scope="module")
def demo(space_demo):
    return space_demo


def _endpoint_names(blocks: gr.Blocks) -> list[str]:
    names = []
    for dependency in blocks.fns.values():
        if dependency.fn is None or not dependency.api_name or dependency.api_name.startswith("request_pause"):
            continue
        if not dependency.inputs or all(isinstance(c, gr.State) for c in dependency.inputs):
            continue
        names.append(dependency.api_name)
    return names


def _endpoints():
    """The Space's endpoints by name, read at collection from its tabs built as build_demo builds them but
    without drawing their first figures: every run collects this module, also one that deselects its
    slow tests, and build_demo's drawing took minutes of it on 2 cores. The tests call the handlers of
    the `demo` fixture, build_demo's own (test_the_endpoints_listed_at_collection_are_the_space_s)."""
    from space.app import tab_builder

    with gr.Blocks() as blocks:
        for lab in LABS:
            with gr.Tab(lab.title):
                tab_builder(lab)()
    return _endpoint_names(blocks)


ENDPOINTS = _endpoints()


@pytest.mark.slow
def test_the_endpoints_listed_at_collection_are_the_space_s(demo):
    assert _endpoint_names(demo) == ENDPOINTS


_BASELINES: dict[str, list[str]] = {}


def _baseline(demo, api_name: str) -> list[str]:
    """The messages an endpoint gives with every input at its first value."""
    if api_name not in _BASELINES:
        dependency = next(d for d in demo.fns.values() if d.api_name == api_name)
        answer, raised = _call(dependency, [None if c.value is None else c.preprocess(c.value) for c in dependency.inputs])
        _BASELINES[api_name] = [raised] if raised else _messages(answer)
    return _BASELINES[api_name]


def _short(label: str | None) -> str:
    """The word a message names a box by: its label's first word ("steps per refresh (1–500; ...)" -> "steps",
    "temperature T (z ~ N(0, T² I))" -> "temperature")."""
    words = re.split(r" \(|:| ·", label or "")[0].strip().lower().split()
    return words[0] if words else ""


def _call(dependency, arguments):
    """The handler's answer (a generator gives its first two updates), or the gr.Error it raised."""
    try:
        answer = dependency.fn(*arguments)
        if inspect.isgenerator(answer):
            updates = []
            for update in answer:
                updates.append(update)
                if len(updates) == 2:
                    break
            answer.close()
            answer = updates[-1]
        return answer, None
    except gr.Error as exc:
        return None, exc.message


def _messages(answer) -> list[str]:
    """The messages an answer carries: "Not run: ..." beside a button (the figures kept), or the
    Bayesian-network tab's "⚠️ ..." (it answers on the last valid network instead)."""
    values = answer if isinstance(answer, (tuple, list)) else (answer,)
    return [v for v in values if isinstance(v, str) and (v.startswith("**Not run:**") or "⚠️" in v)]


@pytest.mark.slow
@pytest.mark.parametrize("api_name", ENDPOINTS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_every_space_endpoint_answers_wrong_input_with_a_message_naming_the_field(demo, api_name, data):
    dependency = next(d for d in demo.fns.values() if d.api_name == api_name)
    boxes = [i for i, c in enumerate(dependency.inputs) if not isinstance(c, gr.State)]
    index = data.draw(st.sampled_from(boxes), label="box")
    value = data.draw(junk(), label="value")
    arguments = [None if c.value is None else c.preprocess(c.value) for c in dependency.inputs]
    try:
        # what Gradio hands the handler for this payload (a textbox gives text, a dropdown checks its choices)
        arguments[index] = dependency.inputs[index].preprocess(value) if value is not None else None
    except gr.Error as exc:
        assert SAFETY_NET not in exc.message
        return
    except Exception:               # noqa: BLE001 - Gradio refuses this payload itself, before any handler
        return
    answer, raised = _call(dependency, arguments)
    said = [raised] if raised else _messages(answer)
    baseline = _baseline(demo, api_name)
    for message in said:
        if message in baseline:
            continue                 # what this endpoint says with every default (Resume with nothing to resume)
        assert SAFETY_NET not in message and "Traceback" not in message, message
        field = _short(dependency.inputs[index].label)
        assert not field or field in message.lower(), (field, message)
    if said and answer is not None and any(m.startswith("**Not run:**") for m in said):
        # the figures stay as they were: every output but the message is left alone
        assert all(v is gr.skip() or isinstance(v, type(gr.skip())) or isinstance(v, str)
                   for v in (answer if isinstance(answer, (tuple, list)) else (answer,))), answer


# ---------------------------------------------------------------------------------- the pages
PAGES = [lab.page for lab in LABS]
#: What a browser's number box can send: any finite number (a number field never sends NaN or ±inf), or
#: nothing when the box is emptied.
NUMBERS = st.one_of(st.sampled_from([None, -1, 0, -1e15, 1e15, 10 ** 12, 3.5, -0.001]),
                    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
NUMBER_BOX = re.compile(r"\([-0-9.,e+]+–[-0-9.,e+]+\)$")     # "seed (0–10,000)": a number box's label
TEXT = st.one_of(st.sampled_from(["", " ", "x" * 20_000, "🙂" * 200, "\x00", "nan", "-1e309", "A -> B -> A",
                                  "variable X {\n type discrete [ 2 ] { a, b };\n}"]), st.text(max_size=500))


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_every_page_input_takes_what_is_typed_without_a_traceback(page, data):
    """Every text field of the page's first view gets arbitrary text, every number box what a browser can
    send (any finite number, or nothing when it is emptied). The page answers with its own message
    (a number box says which value is in force, labs/inputs.py), never an exception."""
    from tests.conftest import open_lab

    at = open_lab(page)
    texts = [w for w in [*at.text_input, *at.text_area] if not w.disabled]
    numbers = [w for w in at.text_input if not w.disabled and NUMBER_BOX.search(w.label)]   # labs/inputs.number
    choices = [("text", i) for i in range(len(texts))] + [("number", i) for i in range(len(numbers))]
    if not choices:
        return
    kind, i = data.draw(st.sampled_from(choices), label="field")
    if kind == "text":
        texts[i].input(data.draw(TEXT, label="text")).run()
    else:
        value = data.draw(NUMBERS, label="number")
        numbers[i].set_value("" if value is None else str(value)).run()
        if value is None or not -1e6 < value < 1e6:           # outside every box's range, or empty
            assert any("is in force" in c.value for c in at.caption), [c.value for c in at.caption]
    assert not at.exception, [e.value for e in at.exception]
