"""The thread policy of the interactive front ends (the Streamlit app and the Gradio Space).

Torch starts one intra-op thread per core. For the lab's interactive work — 64-unit MLPs on batches
of 128, decoding one 28x28 image, a 60x60 critic field — an operation is a few microseconds of
arithmetic, and splitting it across threads costs more than it saves. On a shared machine it is
far worse: with torch's default threads each operation waits for a thread that another busy process
holds, and the live GAN slows several-fold (docs/experiments.md).
Several students' sessions in one server are exactly that case. So the app and the Space run torch
with one thread per process (`python -m benchmarks.gan_live` measures both policies, idle and
with a second busy process); the sessions of a server share the cores between them instead.

The headless trainer (`python -m training.run`) keeps torch's default, one thread per core: it is
the only job on its machine, and convolutions on image batches do gain from threads. Under
`torchrun` each process gets one thread per core divided by the processes (torchrun sets
OMP_NUM_THREADS=1 unless told otherwise).

Set DGM_TORCH_THREADS to override the front ends' choice (e.g. on a big machine serving one user)."""
from __future__ import annotations

import os

THREADS_ENV = "DGM_TORCH_THREADS"


def interactive_threads() -> int:
    """The intra-op thread count for the app and the Space: DGM_TORCH_THREADS, or 1."""
    value = os.environ.get(THREADS_ENV, "1")
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"{THREADS_ENV} must be a whole number of threads; got {value!r}") from None
    if threads < 1:
        raise ValueError(f"{THREADS_ENV} must be at least 1; got {threads}")
    return threads


def use_interactive_threads() -> int:
    """Apply the front ends' thread policy to this process (cheap to call on every rerun)."""
    import torch

    threads = interactive_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
