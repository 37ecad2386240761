"""Checkpoints in the Hugging Face convention, loaded from safetensors only.

A checkpoint is a folder:

    config.json                 the model's constructor arguments plus "model_type"
    model.safetensors           the weights (never a pickle)
    history.json                the training curves: {"steps": [...], "epochs": [...]}
    README.md                   the model card, naming the exact command that produced it
    samples/epoch-NNN.png       sample grids written during training
    snapshots/epoch-NNN.safetensors  generator weights during training (GANs), to follow quality
    training_state.safetensors  optimiser and RNG state for `--resume` (not pushed, not shipped)

Every model inherits `dgm_core.hub.HubModel` (`huggingface_hub.PyTorchModelHubMixin`), so
`save_pretrained`, `from_pretrained(dir_or_repo_id, strict=True)` and `push_to_hub` work as
everywhere on the Hub. `load_checkpoint(name_or_repo)` is the one way the pages and the trainers
load a model; it imports only the family the checkpoint's `model_type` names (dgm_core.hub).
"""
from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import HfApi
from torch import nn

from dgm_core import paths
from dgm_core.hub import CONFIG_NAME, MODEL_TYPES, WEIGHTS_NAME, HubModel, UnknownModelType, model_class

CHECKPOINT_DIR = paths.checkpoints_dir()
HISTORY_NAME = "history.json"
CARD_NAME = "README.md"
STATE_NAME = "training_state.safetensors"
SAMPLES_DIR = "samples"
SNAPSHOTS_DIR = "snapshots"
#: What goes to the Hub: everything but the resume state.
PUSH_IGNORE = [STATE_NAME, "*.tmp"]


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be loaded; the message names the path and what is wrong."""


class PushFailed(RuntimeError):
    """An upload to the Hub that did not happen; the local checkpoint is untouched."""


@dataclass
class Checkpoint:
    model: nn.Module
    path: Path
    config: dict[str, Any]
    history: dict[str, list] = field(default_factory=dict)
    card: str = ""

    @property
    def samples(self) -> list[Path]:
        return sorted((self.path / SAMPLES_DIR).glob("*.png"))

    @property
    def snapshots(self) -> list[Path]:
        return sorted((self.path / SNAPSHOTS_DIR).glob("*.safetensors"))


def _read_config(path: Path) -> dict[str, Any]:
    file = path / CONFIG_NAME
    if not file.is_file():
        raise CheckpointError(f"{file} is missing: a checkpoint folder needs {CONFIG_NAME} and {WEIGHTS_NAME}.")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{file} is not valid JSON ({exc}); the checkpoint is corrupt.") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise CheckpointError(f"{file} has no \"model_type\": it was not written by DGM Lab.")
    return config


def require(checkpoint: Checkpoint, expected: type | None) -> Checkpoint:
    """The checkpoint, or CheckpointError when its model is not an `expected` one (a front end's cache loads
    any checkpoint once and asks each time for the kind it needs)."""
    if expected is not None and not isinstance(checkpoint.model, expected):
        raise CheckpointError(f"{checkpoint.path / CONFIG_NAME} is the config of a {checkpoint.model.model_type!r} "
                              f"model, not of a {expected.model_type!r} model: pick a {expected.model_type} checkpoint.")
    return checkpoint


def _model_class(config: dict, path: Path, expected: type | None) -> type:
    kind = config["model_type"]
    try:
        cls = model_class(kind)
    except UnknownModelType:
        raise CheckpointError(f"{path / CONFIG_NAME} is for a model of type {kind!r}, which DGM Lab does not know "
                              f"(known: {', '.join(sorted(MODEL_TYPES))}).") from None
    if expected is not None and not issubclass(cls, expected):
        raise CheckpointError(f"{path / CONFIG_NAME} is the config of a {kind!r} model, not of a "
                              f"{expected.model_type!r} model: pick a {expected.model_type} checkpoint.")
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = set(config) - accepted - {"model_type"}
    if unknown:
        raise CheckpointError(f"{path / CONFIG_NAME} has settings a {kind!r} model does not take: "
                              f"{', '.join(sorted(unknown))}. Is it the config of another model?")
    return cls


def load_local(path: str | Path, expected: type | None = None, device: str = "cpu") -> Checkpoint:
    """Load a checkpoint folder, checking each file; every failure names the path."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"No checkpoint folder at {path}.")
    config = _read_config(path)
    cls = _model_class(config, path, expected)
    weights = path / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{weights} is missing: the folder has a config but no weights.")
    try:
        model = cls.from_pretrained(str(path), strict=True, map_location=device)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path / CONFIG_NAME} does not fit a {config['model_type']!r} model: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types (header, size mismatch)
        raise CheckpointError(f"{weights} could not be loaded into a {config['model_type']!r} model "
                              f"({type(exc).__name__}: {exc}). The file is corrupt or from another model.") from None
    history = {}
    if (path / HISTORY_NAME).is_file():
        try:
            history = json.loads((path / HISTORY_NAME).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path / HISTORY_NAME} is not valid JSON ({exc}).") from None
    card = (path / CARD_NAME).read_text(encoding="utf-8") if (path / CARD_NAME).is_file() else ""
    return Checkpoint(model, path, config, history, card)


def shipped_checkpoints() -> list[str]:
    """Names of the checkpoints that ship with the repository."""
    if not CHECKPOINT_DIR.is_dir():
        return []
    return sorted(p.name for p in CHECKPOINT_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def load_checkpoint(name_or_repo: str | Path, expected: type | None = None, device: str = "cpu") -> Checkpoint:
    """A shipped checkpoint by name (`checkpoints/NAME`), a folder path, or a Hub repo id
    (`user/name`; only config, weights, history, card and samples are fetched, never a pickle)."""
    text = str(name_or_repo)
    for candidate in (Path(text), CHECKPOINT_DIR / text):
        if candidate.is_dir():
            return load_local(candidate, expected, device)
    if "/" not in text or text.startswith((".", "/")):
        shipped = ", ".join(shipped_checkpoints()) or "none"
        raise CheckpointError(f"No checkpoint named {text!r}: it is not a folder, not in {CHECKPOINT_DIR} "
                              f"(shipped: {shipped}), and not a Hub repo id of the form user/name.")
    from huggingface_hub import snapshot_download

    try:
        local = snapshot_download(text, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, HISTORY_NAME, CARD_NAME,
                                                        f"{SAMPLES_DIR}/*", f"{SNAPSHOTS_DIR}/*.safetensors"])
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, gated repo: all end the same way
        from huggingface_hub.errors import LocalEntryNotFoundError

        if isinstance(exc, LocalEntryNotFoundError):    # offline (or HF_HUB_OFFLINE) and not cached here
            raise CheckpointError(f"{text!r} is not a folder here, and the Hugging Face Hub cannot be reached "
                                  "(no internet, or HF_HUB_OFFLINE is set) with no copy cached on this machine. "
                                  "Connect and try again, or pass a local checkpoint folder.") from None
        first_line = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise CheckpointError(f"Could not fetch the Hub repo {text!r} ({type(exc).__name__}: {first_line}). "
                              "Check the id and your connection, or pass a local folder.") from None
    return load_local(local, expected, device)


# ------------------------------------------------------------------------------- writing
def write_checkpoint(model: HubModel, folder: str | Path, *, command: str, history: dict, card: str,
                     samples: dict[str, bytes] | None = None, state: dict | None = None,
                     snapshots: dict[str, bytes] | None = None) -> Path:
    """Write a complete checkpoint folder atomically: everything goes to a temporary sibling,
    which then replaces `folder` by rename. A crash at any point leaves either the old folder or
    the new one (or, between the two renames, `folder.old`, which `recover_folder` puts back)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    recover_folder(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        (tmp / CARD_NAME).write_text(card, encoding="utf-8")
        model.save_pretrained(tmp)
        (tmp / HISTORY_NAME).write_text(json.dumps(history), encoding="utf-8")
        for directory, new in ((SAMPLES_DIR, samples), (SNAPSHOTS_DIR, snapshots)):
            if (folder / directory).is_dir():          # keep what earlier epochs wrote
                shutil.copytree(folder / directory, tmp / directory)
            for name, data in (new or {}).items():
                (tmp / directory).mkdir(exist_ok=True)
                (tmp / directory / name).write_bytes(data)
        if state is not None:
            save_state(state, tmp / STATE_NAME)
        old = folder.with_name(folder.name + ".old")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def recover_folder(folder: Path) -> None:
    """Undo a write that stopped between its two renames."""
    old = folder.with_name(folder.name + ".old")
    if old.is_dir() and not folder.exists():
        os.replace(old, folder)


# --------------------------------------------- training state without pickle (for --resume)
def _flatten(obj, tensors: dict[str, torch.Tensor], prefix: str):
    """Nested dicts / lists / numbers / tensors -> a JSON skeleton, tensors stored by key."""
    if isinstance(obj, torch.Tensor):
        key = prefix or "root"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _flatten(v, tensors, f"{prefix}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix!r} in a training state")


def _unflatten(obj, tensors):
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            items = [_unflatten(v, tensors) for v in obj["__list__"]]
            return tuple(items) if obj.get("tuple") else items
    return obj


def save_state(state: dict, path: str | Path) -> None:
    """Optimiser state, RNG states and counters in one safetensors file (JSON skeleton in the header)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(state, tensors, "")
    save_file(tensors, str(path), metadata={"skeleton": json.dumps(skeleton)})


def load_state(path: str | Path) -> dict:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: this checkpoint cannot be resumed (was it written by "
                              "an older run, or copied without its training state?).")
    try:
        with safe_open(str(path), framework="pt") as f:
            skeleton = json.loads(f.metadata()["skeleton"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path} could not be read ({type(exc).__name__}: {exc}).") from None
    return _unflatten(skeleton, tensors)


# ----------------------------------------------------------------------------------- Hub
def zip_folder(folder: str | Path) -> bytes:
    """A checkpoint folder as a zip archive, with the same files a Hub push uploads (no resume state),
    each under the folder's name: unzipped, it loads with load_checkpoint / from_pretrained."""
    import fnmatch
    import io
    import zipfile

    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if any(fnmatch.fnmatch(path.name, pattern) for pattern in PUSH_IGNORE):
                continue
            archive.write(path, Path(folder.name) / path.relative_to(folder))
    return buffer.getvalue()


def push_folder(folder: str | Path, repo_id: str, *, commit_message: str, api: HfApi | None = None) -> str:
    """Upload a checkpoint folder (model card included, resume state excluded) to a Hub model repo.
    Raises `PushFailed` with a message that says the local copy is intact."""
    from huggingface_hub import get_token

    folder = Path(folder)
    api = api or HfApi()
    if api.token is None and get_token() is None:
        raise PushFailed(f"Not pushed to {repo_id}: no Hugging Face token. Run `hf auth login` or set HF_TOKEN, "
                         f"then push again. The checkpoint at {folder} is intact.")
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                                 commit_message=commit_message, ignore_patterns=PUSH_IGNORE)
    except Exception as exc:  # noqa: BLE001 - offline, refused, unauthorised: the message is what matters
        raise PushFailed(f"Not pushed to {repo_id}: the Hub could not be reached or refused the upload "
                         f"({type(exc).__name__}: {exc}). The checkpoint at {folder} is intact; push it later "
                         f"with `hf upload {repo_id} {folder}`.") from None
    return str(getattr(info, "commit_url", info))
