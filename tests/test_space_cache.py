"""Gradio's output cache under a class: a picture being sent is never rewritten under it.

Gradio wrote a cached output again on every request that produced it (truncate, then fill), so when two
students got the same picture at once, one response could end short and its answer was lost ("peer
closed connection without sending complete message body (received 0 bytes, expected 649)", one in a few
hundred in the load test). space/gradio_cache.py writes a content-named file once, by an atomic rename.
A reader that opens the file while it is written again and again must always read it whole."""
import tempfile
import threading

import numpy as np
from PIL import Image


def short_reads(save, writes: int = 2000) -> tuple[int, int]:
    """Reads of the cached file that came back short while `writes` saves of the same picture ran."""
    picture = Image.fromarray((np.random.default_rng(0).random((168, 168)) * 255).astype(np.uint8))
    cache = tempfile.mkdtemp()
    path = save(picture, cache, format="png")
    size = len(open(path, "rb").read())
    counts, done = {"short": 0, "reads": 0}, threading.Event()

    def writer():
        for _ in range(writes):
            assert save(picture, cache, format="png") == path
        done.set()

    def reader():
        while not done.is_set():
            with open(path, "rb") as file:
                counts["short"] += len(file.read()) != size
                counts["reads"] += 1

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts["short"], counts["reads"]


def test_a_cached_picture_is_never_read_short_while_it_is_saved_again():
    from gradio import processing_utils

    from space.gradio_cache import use_atomic_cache_writes

    use_atomic_cache_writes()
    short, reads = short_reads(processing_utils.save_pil_to_cache)
    assert reads > 0 and short == 0, (short, reads)


def test_the_space_installs_the_write_once_cache_and_it_keeps_gradio_s_names():
    from gradio import processing_utils

    from space.app import build_demo

    build_demo()
    assert processing_utils.save_pil_to_cache.writes_once and processing_utils.save_bytes_to_cache.writes_once
    cache = tempfile.mkdtemp()
    data = b"x,y\n1,2\n"
    path = processing_utils.save_bytes_to_cache(data, "points.csv", cache)
    assert path.endswith(f"{processing_utils.hash_bytes(data)}/points.csv") and open(path, "rb").read() == data
