"""Checkpoints: round trips, every kind of bad checkpoint, atomic writes, pickle-free resume
state, and push_to_hub with HfApi replaced by a fake that stores what it is given."""
import json
import shutil
from pathlib import Path

import pytest
import torch

from dgm_core import checkpoints as ck
from dgm_core.checkpoints import CheckpointError, PushFailed, load_checkpoint, write_checkpoint
from dgm_core.vae import ConvVAE


def _model(**kw):
    torch.manual_seed(0)
    return ConvVAE(image_size=16, latent_dim=4, width=8, **kw)


def _write(folder, model=None, **kw):
    model = model or _model()
    return write_checkpoint(model, folder, command="python -m training.run vae --epochs 1", history={"epochs": [{"epoch": 1}]},
                            card="# card\n\npython -m training.run vae --epochs 1\n", samples={"epoch-001.png": b"png"}, **kw)


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_and_load_pretrained_round_trip(tmp_path):
    model = _model(likelihood="gaussian")
    model.save_pretrained(tmp_path / "m")
    loaded = ConvVAE.from_pretrained(tmp_path / "m", strict=True)
    assert _same_weights(model, loaded) and loaded.likelihood == "gaussian" and not loaded.training
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config == {"model_type": "vae", "image_size": 16, "channels": 1, "latent_dim": 4, "width": 8,
                      "likelihood": "gaussian", "hidden": 0, "levels": 17, "binarisation": "threshold"}
    x = torch.rand(2, 1, 16, 16)
    assert torch.equal(model.eval().encode(x)[0], loaded.encode(x)[0])


def test_checkpoint_folder_holds_everything_and_loads_by_path(tmp_path):
    folder = _write(tmp_path / "run", state={"epoch": 1})
    names = {p.name for p in folder.iterdir()}
    assert names == {"config.json", "model.safetensors", "history.json", "README.md", "samples",
                     "training_state.safetensors"}
    loaded = load_checkpoint(folder)
    assert isinstance(loaded.model, ConvVAE) and _same_weights(loaded.model, _model())
    assert loaded.history == {"epochs": [{"epoch": 1}]} and "python -m training.run vae" in loaded.card
    assert [p.name for p in loaded.samples] == ["epoch-001.png"]
    assert not list(tmp_path.glob(".*tmp"))                    # no temporary folder left behind


def test_shipped_checkpoints_load_by_name():
    names = ck.shipped_checkpoints()
    assert names, "the repository ships checkpoints"
    for name in names:
        loaded = load_checkpoint(name)
        assert loaded.path == ck.CHECKPOINT_DIR / name and loaded.history["epochs"]
        assert "python -m training.run" in loaded.card


def _corrupt(folder: Path, how: str):
    if how == "garbage weights":
        (folder / "model.safetensors").write_bytes(b"\x00\x01 not a safetensors file")
    elif how == "truncated weights":
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif how == "missing weights":
        (folder / "model.safetensors").unlink()
    elif how == "missing config":
        (folder / "config.json").unlink()
    elif how == "config not json":
        (folder / "config.json").write_text("{latent_dim: 4")
    elif how == "config of another model":
        (folder / "config.json").write_text(json.dumps({"model_type": "vae", "latent": 100, "n_critic": 5}))
    elif how == "unknown model type":
        (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 12}))
    elif how == "config without model type":
        (folder / "config.json").write_text(json.dumps({"latent_dim": 4}))
    elif how == "weights of another shape":
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "latent_dim": 6}))
    elif how == "history not json":
        (folder / "history.json").write_text("[1, 2")


@pytest.mark.parametrize("how, message", [
    ("garbage weights", "model.safetensors could not be loaded"),
    ("truncated weights", "model.safetensors could not be loaded"),
    ("missing weights", "model.safetensors is missing"),
    ("missing config", "config.json is missing"),
    ("config not json", "config.json is not valid JSON"),
    ("config of another model", "does not take: latent, n_critic"),
    ("unknown model type", "type 'gpt2'"),
    ("config without model type", "no \"model_type\""),
    ("weights of another shape", "model.safetensors could not be loaded"),
    ("history not json", "history.json is not valid JSON"),
])
def test_each_bad_checkpoint_gets_a_clear_error_naming_the_path(tmp_path, how, message):
    folder = _write(tmp_path / "bad")
    _corrupt(folder, how)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(folder)
    assert str(folder) in str(info.value)


def test_a_pickled_checkpoint_is_refused_without_unpickling(tmp_path, monkeypatch):
    folder = _write(tmp_path / "pickled")
    torch.save(_model().state_dict(), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()

    def no_unpickling(*args, **kwargs):
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        load_checkpoint(folder)


def test_unknown_name_lists_what_ships(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint named 'nope'.*shipped: .*vae-digits-beta1"):
        load_checkpoint("nope")
    with pytest.raises(CheckpointError, match="No checkpoint folder"):
        ck.load_local(tmp_path / "absent")


def test_hub_repo_id_is_fetched_without_pickles(tmp_path, monkeypatch):
    source = _write(tmp_path / "remote")
    asked = {}

    def fake_snapshot_download(repo_id, allow_patterns):
        asked.update(repo_id=repo_id, patterns=allow_patterns)
        return str(source)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    loaded = load_checkpoint("someone/vae-digits")
    assert asked["repo_id"] == "someone/vae-digits" and not any(p.endswith(".bin") for p in asked["patterns"])
    assert _same_weights(loaded.model, _model())

    def offline(repo_id, allow_patterns):
        raise OSError("network unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(CheckpointError, match="Could not fetch the Hub repo 'someone/vae-digits'"):
        load_checkpoint("someone/vae-digits")

    def not_cached_offline(repo_id, allow_patterns):
        from huggingface_hub.errors import LocalEntryNotFoundError

        raise LocalEntryNotFoundError("Cannot find an appropriate cached snapshot folder for the specified revision "
                                      "on the local disk and outgoing traffic has been disabled. " * 3)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", not_cached_offline)
    with pytest.raises(CheckpointError) as offline_error:
        load_checkpoint("someone/vae-digits")
    message = str(offline_error.value)
    assert "the Hugging Face Hub cannot be reached" in message and "pass a local checkpoint folder" in message
    assert "outgoing traffic" not in message          # the library's long text is not passed on


def test_a_write_that_fails_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    folder = _write(tmp_path / "run")
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    other = _model(likelihood="gaussian")

    def crash(self, directory):
        (Path(directory) / "model.safetensors").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(ConvVAE, "_save_pretrained", crash)
    with pytest.raises(OSError, match="disk full"):
        _write(folder, other)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert not list(tmp_path.glob(".*tmp"))
    monkeypatch.undo()
    assert _same_weights(load_checkpoint(folder).model, _model())


def test_a_write_stopped_between_renames_is_recovered(tmp_path):
    folder = _write(tmp_path / "run")
    shutil.move(folder, tmp_path / "run.old")              # what a crash between the two renames leaves
    ck.recover_folder(folder)
    assert _same_weights(load_checkpoint(folder).model, _model())


def test_training_state_round_trips_optimiser_and_rng_without_pickle(tmp_path):
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.rand(4, 1, 16, 16))[0].sum().backward()
        optimizer.step()
    state = {"optimizer": optimizer.state_dict(), "rng": [torch.random.get_rng_state()], "epoch": 2, "step": 3,
             "pair": (1, "a"), "none": None}
    ck.save_state(state, tmp_path / "s.safetensors")
    back = ck.load_state(tmp_path / "s.safetensors")
    assert back["epoch"] == 2 and back["pair"] == (1, "a") and back["none"] is None
    assert torch.equal(back["rng"][0], state["rng"][0])
    fresh = torch.optim.Adam(_model().parameters(), lr=1e-3)
    fresh.load_state_dict(back["optimizer"])
    for key, value in optimizer.state_dict()["state"].items():
        for name, tensor in value.items():
            assert torch.equal(fresh.state_dict()["state"][key][name], tensor)
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        ck.load_state(tmp_path / "absent.safetensors")


class FakeHfApi:
    """Stands in for huggingface_hub.HfApi: 'uploads' by copying into a local folder."""

    def __init__(self, hub: Path, token="hf_fake", fail: Exception | None = None):
        self.hub, self.token, self.fail, self.calls = hub, token, fail, []

    def create_repo(self, repo_id, repo_type, exist_ok):
        self.calls.append(("create_repo", repo_id, repo_type))
        if self.fail:
            raise self.fail

    def upload_folder(self, folder_path, repo_id, repo_type, commit_message, ignore_patterns):
        self.calls.append(("upload_folder", repo_id, commit_message))
        target = self.hub / repo_id
        shutil.copytree(folder_path, target, ignore=shutil.ignore_patterns(*ignore_patterns))
        return type("CommitInfo", (), {"commit_url": f"https://hub/{repo_id}/commit/1"})()


def test_push_uploads_a_folder_that_from_pretrained_loads(tmp_path):
    folder = _write(tmp_path / "run", state={"epoch": 1})
    api = FakeHfApi(tmp_path / "hub")
    url = ck.push_folder(folder, "teacher/vae-digits", commit_message="DGM Lab: python -m training.run vae", api=api)
    uploaded = tmp_path / "hub" / "teacher" / "vae-digits"
    assert url.endswith("/commit/1") and [c[0] for c in api.calls] == ["create_repo", "upload_folder"]
    assert {p.name for p in uploaded.iterdir()} == {"config.json", "model.safetensors", "history.json", "README.md",
                                                    "samples"}
    assert _same_weights(ConvVAE.from_pretrained(uploaded, strict=True), _model())
    assert "python -m training.run vae" in (uploaded / "README.md").read_text()


def test_push_without_token_or_hub_keeps_the_local_checkpoint(tmp_path, monkeypatch):
    folder = _write(tmp_path / "run")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(PushFailed, match="no Hugging Face token.*intact"):
        ck.push_folder(folder, "teacher/x", commit_message="m", api=FakeHfApi(tmp_path / "hub", token=None))
    with pytest.raises(PushFailed, match="could not be reached.*ConnectionError.*intact"):
        ck.push_folder(folder, "teacher/x", commit_message="m",
                       api=FakeHfApi(tmp_path / "hub", fail=ConnectionError("Hub unreachable")))
    assert _same_weights(load_checkpoint(folder).model, _model())


def test_a_zipped_checkpoint_unzips_to_a_folder_that_loads_without_its_resume_state(tmp_path):
    import io
    import zipfile

    from dgm_core.checkpoints import CHECKPOINT_DIR, STATE_NAME, load_checkpoint, zip_folder

    source = CHECKPOINT_DIR / "vqvae-digits"
    (tmp_path / "copy").mkdir()
    folder = tmp_path / "copy" / "vqvae-digits"
    shutil.copytree(source, folder)
    (folder / STATE_NAME).write_bytes(b"resume state, not for sharing")
    archive = zipfile.ZipFile(io.BytesIO(zip_folder(folder)))
    names = set(archive.namelist())
    expected = {f"vqvae-digits/{p.relative_to(source).as_posix()}" for p in source.rglob("*")
                if p.is_file() and p.name != STATE_NAME}      # a locally trained copy keeps its own resume state
    assert names == expected and f"vqvae-digits/{STATE_NAME}" not in names
    archive.extractall(tmp_path / "unzipped")
    again = load_checkpoint(tmp_path / "unzipped" / "vqvae-digits")
    original = load_checkpoint(source)
    assert all(torch.equal(v, original.model.state_dict()[k]) for k, v in again.model.state_dict().items())


def test_every_shipped_checkpoint_loads_where_the_locale_is_not_utf8():
    """Cards, histories and configs hold non-ASCII text (×, β, σ): they are read as UTF-8 whatever the
    locale. Under LC_ALL=C without Python's UTF-8 mode the default encoding is ASCII, and the Space's
    class-conditional tab opened on a UnicodeDecodeError (seen in a new user's run)."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import locale; assert locale.getpreferredencoding(False).lower() in ('ansi_x3.4-1968', 'ascii'); "
            "from dgm_core.catalogue import shipped; from dgm_core.checkpoints import load_checkpoint; "
            "from dgm_core.lessons import load_all; "
            "names = [i.name for i in shipped()]; [load_checkpoint(n) for n in names]; "
            "lessons, problems = load_all(); assert not problems, problems; print(len(names))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONUTF8"))}
    result = subprocess.run([sys.executable, "-X", "utf8=0", "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**env, "LC_ALL": "C", "PYTHONUTF8": "0"}, encoding="utf-8")
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) >= 30


@pytest.mark.parametrize("page, name", [("labs/vae.py", "vae-digits-beta1"), ("labs/energy.py", "ebm-digits"),
                                        ("labs/diffusion.py", "ddpm-digits"), ("labs/flows.py", "vae-flow-prior-digits")])
def test_a_page_whose_checkpoint_lost_its_weights_while_the_app_runs_says_which_and_how_to_mend_it(page, name, monkeypatch):
    """The catalogue lists a folder with a config; its weights are deleted while the app runs. The page shows a
    message naming the checkpoint (and how to restore it where the page could not go on), never a traceback.
    Each of these four pages raised before (three a CheckpointError, the flows page a KeyError on an empty table)."""
    import streamlit as st

    from tests.conftest import open_lab

    real = ck.load_local

    def weights_deleted(path, *args, **kwargs):
        if Path(path).name == name:
            raise CheckpointError(f"{Path(path) / ck.WEIGHTS_NAME} is missing: the folder has a config but no weights.")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ck, "load_local", weights_deleted)
    st.cache_resource.clear()           # the pages' loads go through the deleted weights, not a cached model
    try:
        at = open_lab(page)             # asserts that no exception reached the page
        messages = [e.value for e in at.error] + [i.value for i in at.info]
        assert any(name in m and "missing" in m for m in messages), messages
    finally:
        monkeypatch.undo()
        st.cache_resource.clear()       # later tests load the real weights again
