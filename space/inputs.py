"""What every tab of the Space shares: plain messages for bad input, never Gradio's bare "Error".

A gr.Number left empty arrives as None and a typed value can be out of range; `whole` and `real`
turn that into a gr.Error naming the field and the range it takes (the same ranges as the page).
`readable_errors` is the safety net around each handler: any other exception becomes a gr.Error
with its message, and is logged with its traceback for whoever runs the Space."""
from __future__ import annotations

import functools
import logging
import math
from functools import lru_cache

import gradio as gr

log = logging.getLogger(__name__)


@lru_cache(maxsize=16)
def cached_checkpoint(name: str):
    """The one cached load of a checkpoint for every tab of the Space."""
    from dgm_core.checkpoints import load_checkpoint

    return load_checkpoint(name)


def checkpoint_of(name: str, expected: type | None = None):
    """The cached checkpoint; CheckpointError when it cannot be loaded or is not an `expected` model."""
    from dgm_core.checkpoints import require

    return require(cached_checkpoint(name), expected)


def loaded(name: str):
    """A shipped checkpoint, loaded once per Space process, or a gr.Error that says why it cannot be."""
    from dgm_core.checkpoints import CheckpointError

    try:
        return cached_checkpoint(name)
    except CheckpointError as exc:
        raise gr.Error(str(exc)) from None


def readable_errors(handler):
    """Turn an unexpected exception into a gr.Error with its message (Gradio shows others as "Error").
    Works for plain handlers and for generators (the live-training streams)."""
    def explain(exc: Exception) -> gr.Error:
        log.exception("%s failed", handler.__name__)
        return gr.Error(f"{handler.__name__.replace('_', ' ')} could not answer: {type(exc).__name__}: {exc}. "
                        "Check the inputs, or reload the page.")

    if _is_generator(handler):
        @functools.wraps(handler)
        def stream(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                raise explain(exc) from exc
        return stream

    @functools.wraps(handler)
    def answer(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            raise explain(exc) from exc
    return answer


def keeps_figures(outputs: int, message_at: int):
    """For a handler whose figures a student should keep when an input is wrong: a gr.Error becomes the
    message in output `message_at` (a Markdown beside the button), and every other output is left as
    it was (gr.skip()); no toast, which only repeated the message and piled up. Raised, Gradio would mark every output "Error" and blank the figures
    the student was looking at. Put it above @readable_errors, which turns the unexpected into gr.Error."""
    def reply(exc: gr.Error) -> tuple:
        answer = [gr.skip()] * outputs
        answer[message_at] = f"**Not run:** {exc.message} The figures below are from the last run."
        return tuple(answer)

    def wrap(handler):
        if _is_generator(handler):
            @functools.wraps(handler)
            def stream(*args, **kwargs):
                try:
                    yield from handler(*args, **kwargs)
                except gr.Error as exc:
                    yield reply(exc)
            return stream

        @functools.wraps(handler)
        def answer(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except gr.Error as exc:
                return reply(exc)
        return answer
    return wrap


def says_why(handler, outputs: int):
    """`handler` (returning `outputs` values) with one more output at the end: a message beside its button,
    empty when it answers, what is wrong when an input is, while its figures stay as they were (gr.skip()):
    the same as `keeps_figures`, for a tab that has no text output of its own. Wrap it where the event is
    wired, so the handler itself still raises (its tests call it directly)."""
    kept = keeps_figures(outputs=outputs + 1, message_at=outputs)

    @functools.wraps(handler)
    def answer(*args, **kwargs):
        result = handler(*args, **kwargs)
        return (*(result if outputs > 1 else (result,)), "")
    return kept(answer)


def cleared(outputs: int, message_at: int, message: str):
    """A handler for a choice (a dataset, a checkpoint) that the `outputs` below it were drawn for: it empties
    them and puts `message` (what to press to draw the new choice; it may name it as {choice}) in output
    `message_at`, so a figure of the last choice never stands under the new one. Wire it with queue=False."""
    def clear(choice):
        values = [None] * outputs
        values[message_at] = message.format(choice=choice)
        return tuple(values)
    return clear


def _is_generator(function) -> bool:
    import inspect

    return inspect.isgeneratorfunction(function)


def _number(value, name: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise gr.Error(f"{name}: the box is empty; enter a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name}: {value!r} is not a number.") from None
    if not math.isfinite(number):
        raise gr.Error(f"{name}: {value!r} is not a finite number.")
    return number


def _shown(number: float) -> str:
    """A number as a message writes it: whole ones with separators up to a trillion, others (and 1e308,
    which printed 309 digits) in six significant digits."""
    return f"{number:,.0f}" if number.is_integer() and abs(number) < 1e12 else f"{number:g}"


def whole(value, name: str, low: int, high: int) -> int:
    """`value` as a whole number in [low, high], or a gr.Error that says what to type."""
    number = _number(value, name)
    if not number.is_integer() or not low <= number <= high:
        raise gr.Error(f"{name}: enter a whole number from {low:,} to {high:,}; got {_shown(number)}.")
    return int(number)


def real(value, name: str, low: float, high: float) -> float:
    """`value` as a number in [low, high], or a gr.Error that says what to type."""
    number = _number(value, name)
    if not low <= number <= high:
        raise gr.Error(f"{name}: enter a number from {low:g} to {high:g}; got {_shown(number)}.")
    return number


def draw_defaults(demo: gr.Blocks) -> list[str]:
    """Give every output that would open empty its first value: each event whose outputs include an empty
    figure, table or image is run once, at build, on its inputs' first values, and its answers become
    those outputs' first values (once per Space process; the handlers' own caches keep the rest). So no
    tab opens on empty chart frames, and nothing runs per visitor: a load event per figure would queue
    dozens of requests for every student who opens the page. Events that need a browser session (the
    live streams: they draw their step 0 themselves) and handlers that cannot answer here are left as
    they are; returns what was left, with why, for the log."""
    import inspect

    from gradio.processing_utils import move_files_to_cache
    from pydantic import BaseModel

    drawn: set[int] = set()
    left = []

    def empty(component) -> bool:
        return isinstance(component, (gr.Plot, gr.Dataframe, gr.Image)) and component.value in (None, {}, "") \
            and component._id not in drawn

    for dependency in demo.fns.values():
        if dependency.fn is None or not any(empty(c) for c in dependency.outputs):
            continue
        if "request" in inspect.signature(dependency.fn).parameters:
            continue
        try:
            arguments = [None if c.value is None else c.preprocess(c.value) for c in dependency.inputs]
            answer = dependency.fn(*arguments)
            if inspect.isgenerator(answer):
                answer = list(answer)[-1]
        except Exception as exc:            # noqa: BLE001 - a tab that cannot draw here keeps its empty frame
            left.append(f"{dependency.name}: {type(exc).__name__}: {exc}")
            continue
        answers = answer if isinstance(answer, (tuple, list)) and len(dependency.outputs) > 1 else (answer,)
        for component, value in zip(dependency.outputs, answers):
            if isinstance(component, gr.State) or value is None or isinstance(value, type(gr.skip())) or \
                    component._id in drawn:
                continue
            first = component.postprocess(value)
            if isinstance(first, BaseModel):
                first = first.model_dump()
            component.value = move_files_to_cache(first, component, postprocess=True, keep_in_cache=True)
            drawn.add(component._id)
    return left
