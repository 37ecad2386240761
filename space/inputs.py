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
    from dgm_core.checkpoints import load_checkpoint

    return load_checkpoint(name)


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
    return f"{number:,.0f}" if number.is_integer() else f"{number:g}"


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
