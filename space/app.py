"""DGM Lab as a Gradio Space: one tab per lab, calling the same dgm_core functions as the pages.

Run locally with `python space/app.py` (http://127.0.0.1:7860). On Hugging Face the README's
front matter points the Space here (`app_file: space/app.py`).
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

# A Space runs this file as a script from the repository root; make dgm_core importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import importlib  # noqa: E402

import gradio as gr  # noqa: E402

from dgm_core.lab_records import LABS  # noqa: E402
from space.gradio_cache import use_atomic_cache_writes  # noqa: E402
from space.inputs import draw_defaults  # noqa: E402


def tab_builder(lab):
    """The function that builds a lab's tab, from its record's "module:function" (dgm_core.lab_records.LABS)."""
    module, _, function = lab.space_tab.partition(":")
    return getattr(importlib.import_module(module), function)


# The queue, set for a class sharing the Space's 2 CPU cores (tests/test_load.py drives it with 20 clients).
# - Each event listener has its own queue and runs at most QUEUE_CONCURRENCY requests at once: one per core,
#   since more would only time-slice the same two cores (and the GIL). A quick kind of request (a slider,
#   a query) therefore never waits behind a slow kind; the live GAN stream, which trains for seconds, runs
#   one at a time (concurrency_limit=1 in space/gans.py), so it holds at most one core.
# - At most QUEUE_SIZE requests wait, all listeners together: a few seconds of quick work. The next one is
#   refused at once with Gradio's busy message ("This application is currently busy. Please try again." in
#   the browser, QueueError("Queue is full! Please try again.") in gradio_client), not left to time out.
QUEUE_CONCURRENCY = 2
log = logging.getLogger(__name__)
QUEUE_SIZE = 32


def build_demo(queue_size: int = QUEUE_SIZE) -> gr.Blocks:
    use_atomic_cache_writes()    # two students given the same picture at once both get it (space/gradio_cache.py)
    with gr.Blocks(title="DGM Lab") as demo:
        gr.Markdown("# 🧪 DGM Lab\nAn interactive laboratory for deep generative models, built for teaching.")
        for lab in LABS:                 # one record per lab, in teaching order: dgm_core.labs
            with gr.Tab(lab.title):
                tab_builder(lab)()
    for problem in draw_defaults(demo):
        log.warning("a figure of the Space opens empty: %s", problem)
    return demo.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=queue_size)


def launch_patiently(demo: gr.Blocks, tries: int = 3, **options) -> None:
    """demo.launch(**options), started again when Gradio's own check fails: after starting its server, launch
    asks it for its page once, gives up after 3 s and raises "When localhost is not accessible..." even
    though the server is there, only slow (a busy laptop: a student's first start ended in that traceback)."""
    for attempt in range(1, tries + 1):
        try:
            demo.launch(**options)
            return
        except ValueError as exc:
            if "localhost is not accessible" not in str(exc) or attempt == tries:
                raise
            log.warning("the Space's server did not answer its own first request within 3 s (a busy machine); "
                        "starting it again (%d of %d)", attempt + 1, tries)
            demo.close()


if __name__ == "__main__":
    from dgm_core.runtime import use_interactive_threads

    use_interactive_threads()   # one torch thread per server process: see dgm_core/runtime.py
    from space.live import MAX_UPLOAD_BYTES

    # max_file_size: the server stops reading an upload past this size, before a handler sees it (it took
    # uploads of any size, which the handlers refused only once they had arrived).
    launch_patiently(build_demo(), server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                     server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), max_file_size=MAX_UPLOAD_BYTES)
