"""Gradio's output cache, written so that two students who get the same picture at once both get it.

Gradio saves an output image (or bytes) under a folder named by the hash of its content, and writes the
file again on every request that produces it: `write_bytes` truncates the file, then fills it. When two
requests produce the same picture at the same time — a class moving a slider to the same place — one
request's server can be sending that file while the other's truncates it: the response ends short ("Too
little data for declared Content-Length" in the server's log) and the client's answer is lost ("peer
closed connection without sending complete message body (received 0 bytes, expected 649)"), one answer in
a few hundred under 20 clients (tests/test_load.py).

A file named by its content's hash needs writing once: `use_atomic_cache_writes` replaces the two writers
with ones that leave an existing file alone and put a new one in place with an atomic rename, so a file
being served is never changed under it. Everything else (names, folders, formats) is Gradio's own."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _write_once(path: Path, data: bytes) -> None:
    """`data` at `path`, unless it is there already (the name is its hash): written beside it under a
    temporary name, then renamed into place in one step."""
    if path.exists():
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def use_atomic_cache_writes() -> None:
    """Install the write-once versions of Gradio's `save_pil_to_cache` and `save_bytes_to_cache` (Gradio's
    components call them through `gradio.processing_utils`, so this reaches every image and file output)."""
    from gradio import processing_utils

    if getattr(processing_utils.save_pil_to_cache, "writes_once", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        path = (folder / f"{name}.{format}").resolve()
        _write_once(path, data)
        return str(path)

    def save_bytes_to_cache(data: bytes, file_name: str, cache_dir: str) -> str:
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        if not Path(file_name).suffix:
            file_name = file_name + processing_utils.detect_audio_format(data)
        path = (folder / Path(file_name).name).resolve()
        _write_once(path, data)
        return str(path)

    save_pil_to_cache.writes_once = save_bytes_to_cache.writes_once = True
    processing_utils.save_pil_to_cache = save_pil_to_cache
    processing_utils.save_bytes_to_cache = save_bytes_to_cache
