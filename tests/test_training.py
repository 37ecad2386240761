"""`python -m training.run`: a tiny real run end to end, resume after a kill, DDP on gloo,
divergence, the Hub push with HfApi replaced, and the import rule (no streamlit / gradio)."""
import os
import shutil
import subprocess
import sys

import pytest
import torch

from dgm_core.checkpoints import load_checkpoint
from tests.conftest import ROOT
from tests.test_checkpoints import FakeHfApi

TINY = ["vae", "--dataset", "digits", "--image-size", "16", "--latent-dim", "4", "--width", "8",
        "--batch-size", "128", "--nll-images", "4", "--nll-k", "10", "--sample-every", "1"]


def run(args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "training.run", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def weights(folder):
    return load_checkpoint(folder).model.state_dict()


def untimed(history: dict) -> list[dict]:
    """The epochs' entries without their wall-clock ("seconds"), the one field a rerun changes."""
    return [{k: v for k, v in e.items() if k != "seconds"} for e in history["epochs"]]


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    """One tiny VAE run of one epoch, trained once for the tests that start from its checkpoint (each
    trained the same run); a test copies it before writing to it."""
    out = tmp_path_factory.mktemp("one-epoch") / "run"
    result = run([*TINY, "--epochs", "1", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    return out


def test_help_lists_every_model_with_defaults_and_datasets():
    result = run(["--help"])
    assert result.returncode == 0
    assert "vae" in result.stdout and "defaults: --dataset digits --epochs 30" in result.stdout
    assert "datasets: digits, shapes, mnist" in result.stdout
    model_help = run(["vae", "--help"]).stdout
    for flag in ("--dataset", "--epochs", "--batch-size", "--lr", "--seed", "--out", "--resume", "--amp",
                 "--compile", "--push-to-hub", "--beta", "--beta-schedule"):
        assert flag in model_help


def test_tiny_vae_run_end_to_end(tmp_path):
    out = tmp_path / "run"
    result = run([*TINY, "--epochs", "2", "--out", str(out), "--beta-schedule", "warmup", "--warmup-steps", "5"])
    assert result.returncode == 0, result.stderr
    assert "epoch 2/2: elbo" in result.stderr and f"Checkpoint: {out}" in result.stderr
    checkpoint = load_checkpoint(out)
    history = checkpoint.history
    assert [e["epoch"] for e in history["epochs"]] == [1, 2] and history["epochs"][-1]["step"] == 2 * 12
    assert history["steps"][0]["beta"] == 0.0 and history["steps"][-1]["beta"] == 1.0   # the warm-up ran
    assert [p["k"] for p in history["nll"]["curve"]] == [1, 10] and len(history["kl_per_dim"]) == 4
    assert [p.name for p in checkpoint.samples] == ["epoch-001.png", "epoch-002.png"]
    command = "python -m training.run " + " ".join([*TINY, "--epochs", "2", "--out", str(out), "--beta-schedule",
                                                     "warmup", "--warmup-steps", "5"])
    assert command in checkpoint.card
    # The first elbo is far worse than the last: it learned something.
    assert history["epochs"][-1]["elbo"] > history["steps"][0]["elbo"] + 10


def test_existing_checkpoint_is_never_overwritten_and_bad_flags_are_refused(tmp_path, one_epoch):
    out = tmp_path / "run"
    shutil.copytree(one_epoch, out)
    before = (out / "model.safetensors").read_bytes()
    again = run([*TINY, "--epochs", "1", "--out", str(out)])
    assert again.returncode == 2 and "already holds a checkpoint. Pass --resume" in again.stderr
    assert (out / "model.safetensors").read_bytes() == before
    assert "there is no checkpoint" in run([*TINY, "--resume", "--out", str(tmp_path / "none")]).stderr
    mismatch = run([*TINY, "--epochs", "2", "--latent-dim", "6", "--resume", "--out", str(out)])
    assert mismatch.returncode == 2 and "Resume with the original settings" in mismatch.stderr
    assert "--epochs must be at least 1" in run([*TINY, "--epochs", "0"]).stderr
    assert "Unknown dataset 'imagenet'" in run([*TINY, "--dataset", "imagenet", "--out", str(tmp_path / "x")]).stderr


@pytest.mark.slow
def test_run_killed_mid_epoch_resumes_to_the_same_weights(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run([*TINY, "--epochs", "3", "--out", str(straight)]).returncode == 0
    # 12 steps per epoch: step 17 is in the middle of the second epoch.
    crash = run([*TINY, "--epochs", "3", "--out", str(killed)], env={"DGM_TRAIN_KILL_AT_STEP": "17"})
    assert crash.returncode == -9
    assert [e["epoch"] for e in load_checkpoint(killed).history["epochs"]] == [1]
    resumed = run([*TINY, "--epochs", "3", "--out", str(killed), "--resume"])
    assert resumed.returncode == 0 and "Resuming" in resumed.stderr
    a, b = weights(straight), weights(killed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert untimed(load_checkpoint(killed).history) == untimed(load_checkpoint(straight).history)


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys, one_epoch):
    from training import run as run_module
    from training.recipes.vae import VAERecipe

    out = tmp_path / "run"
    shutil.copytree(one_epoch, out)
    good = (out / "model.safetensors").read_bytes()
    real_loss = VAERecipe.loss

    def loss_that_blows_up(self, step_model, x, y, global_step):
        loss, metrics = real_loss(self, step_model, x, y, global_step)
        return loss, ({**metrics, "loss": float("nan")} if global_step >= 15 else metrics)

    monkeypatch.setattr(VAERecipe, "loss", loss_that_blows_up)
    assert run_module.main([*TINY, "--epochs", "2", "--out", str(out), "--resume"]) == 1
    message = capsys.readouterr().err
    assert "Training diverged at epoch 2, step 16: {'loss': nan}" in message
    assert "the last good checkpoint, after epoch 1, is kept" in message and "Lower --lr" in message
    assert (out / "model.safetensors").read_bytes() == good
    assert len(load_checkpoint(out).history["epochs"]) == 1


def test_push_to_hub_uploads_a_loadable_folder_or_says_the_local_copy_is_intact(tmp_path, monkeypatch, capsys):
    from dgm_core import checkpoints
    from training import run as run_module

    fake = FakeHfApi(tmp_path / "hub")
    monkeypatch.setattr(checkpoints, "HfApi", lambda: fake)
    out = tmp_path / "run"
    assert run_module.main([*TINY, "--epochs", "1", "--out", str(out), "--push-to-hub", "ta/vae-digits"]) == 0
    assert "Pushed to the Hub: https://hub/ta/vae-digits/commit/1" in capsys.readouterr().err
    uploaded = tmp_path / "hub" / "ta" / "vae-digits"
    assert not (uploaded / "training_state.safetensors").exists()
    assert "--push-to-hub ta/vae-digits" in (uploaded / "README.md").read_text()
    from dgm_core.vae import ConvVAE

    model = ConvVAE.from_pretrained(uploaded, strict=True)
    assert all(torch.equal(v, weights(out)[k]) for k, v in model.state_dict().items())

    monkeypatch.setattr(checkpoints, "HfApi", lambda: FakeHfApi(tmp_path / "hub2", token=None))
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    out2 = tmp_path / "run2"
    assert run_module.main([*TINY, "--epochs", "1", "--out", str(out2), "--push-to-hub", "ta/vae-digits"]) == 3
    assert "no Hugging Face token" in capsys.readouterr().err
    assert load_checkpoint(out2).history["epochs"]


def test_bf16_autocast_run(tmp_path):
    result = run([*TINY, "--epochs", "1", "--amp", "bf16", "--out", str(tmp_path / "bf16")])
    assert result.returncode == 0, result.stderr
    assert "mixed precision: bf16" in load_checkpoint(tmp_path / "bf16").card


@pytest.mark.slow
def test_compiled_run(tmp_path):
    result = run([*TINY, "--epochs", "1", "--compile", "--out", str(tmp_path / "compiled")], timeout=600)
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(tmp_path / "compiled").history["epochs"]


@pytest.mark.slow
def test_two_process_ddp_on_gloo_agrees_and_its_checkpoint_loads(tmp_path):
    out = tmp_path / "ddp"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "training.run",
         *TINY, "--epochs", "2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert "Parameters on all 2 ranks agree: max |difference| = 0" in result.stderr
    checkpoint = load_checkpoint(out)
    assert "torchrun --nproc-per-node=2 -m training.run vae" in checkpoint.card
    # Each rank sees half of each epoch: 1438 images / 2 ranks / 128 per batch = 6 steps.
    assert checkpoint.history["epochs"][-1]["step"] == 12 and "devices: 2 × cpu" in checkpoint.card


def test_training_never_imports_streamlit_or_gradio(tmp_path):
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('streamlit', 'gradio'): raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from training.run import main\n"
        f"sys.exit(main({[*TINY, '--epochs', '1', '--out', str(tmp_path / 'r')]!r}))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------ issue 8: flags, DDP, RNG
TINY_GAN = ["--epochs", "2", "--width", "8", "--image-size", "16", "--batch-size", "128", "--fid-classifier", "",
            "--sample-every", "1"]


def test_final_iwae_draws_from_its_own_generator_not_the_global_seed(monkeypatch):
    """The VAE recipe's `final` (was `_vae_final`) used to reseed the global RNG (torch.manual_seed) around its estimate; it now
    draws from a torch.Generator seeded with --seed: the same numbers every time, global RNG untouched."""
    from argparse import Namespace

    from dgm_core import vae as vae_lib
    from dgm_core.data import load_dataset
    from training.loop import TestSet
    from training.recipes.vae import VAERecipe

    torch.manual_seed(0)
    model = vae_lib.ConvVAE(image_size=8, latent_dim=2, width=4)
    data = load_dataset("digits", "test", 8)
    test = TestSet(data.images[:10], data.labels[:10], None)
    args = Namespace(nll_images=5, nll_k=100, seed=3)

    def no_global_seeding(seed):
        raise AssertionError(f"torch.manual_seed({seed}) called")

    monkeypatch.setattr(torch, "manual_seed", no_global_seeding)
    state = torch.random.get_rng_state()
    recipe = VAERecipe(args)
    recipe.model = model
    first, again = recipe.final(test), recipe.final(test)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert first == again and [p["k"] for p in first["nll"]["curve"]] == [1, 10, 100]
    other_recipe = VAERecipe(Namespace(nll_images=5, nll_k=100, seed=4))
    other_recipe.model = model
    other = other_recipe.final(test)
    assert other["nll"]["curve"] != first["nll"]["curve"]


@pytest.mark.parametrize("flag", [["--compile"]])
def test_a_flag_a_gan_recipe_cannot_honour_is_refused_before_anything_is_written(tmp_path, flag):
    out = tmp_path / "gan"
    result = run(["gan", *TINY_GAN, *flag, "--out", str(out)])
    assert result.returncode == 2
    assert "gan does not support --compile" in result.stderr and "It supports: --amp bf16, torchrun" in result.stderr
    assert not out.exists()


def test_every_recipe_declares_its_flags_and_the_gan_step_honours_bf16(tmp_path, monkeypatch, capsys):
    """`--amp bf16` on a GAN used to train in fp32 under a card saying bf16: the forward passes of the
    generator and of the critic (WGAN-GP: with its penalty's double backward) now run in bfloat16."""
    from training import recipes
    from training import run as run_module

    assert recipes.RECIPES["vae"].supports == recipes.RECIPES["classifier"].supports == {"amp", "compile", "ddp"}
    assert all(recipes.RECIPES[k].supports == {"amp", "ddp"} for k in ("gan", "wgan", "wgan-gp", "cgan"))
    for kind in ("gan", "wgan-gp"):
        seen = {"generator": set(), "discriminator": set()}
        recipe = recipes.RECIPES[kind]
        build = recipe.build

        def build_with_hooks(self, train_data, build=build, seen=seen):
            model = build(self, train_data)
            for part in seen:
                for layer in getattr(model, part).modules():
                    if isinstance(layer, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                        layer.register_forward_hook(lambda m, i, o, part=part: seen[part].add(o.dtype))
            return model

        monkeypatch.setattr(recipe, "build", build_with_hooks)
        out = tmp_path / kind
        assert run_module.main([kind, *TINY_GAN, "--epochs", "1", "--amp", "bf16", "--out", str(out)]) == 0
        assert torch.bfloat16 in seen["generator"] and torch.bfloat16 in seen["discriminator"], seen
        checkpoint = load_checkpoint(out)
        assert "mixed precision: bf16" in checkpoint.card and "torch.compile: off" in checkpoint.card
        assert all(torch.isfinite(v).all() for v in checkpoint.model.state_dict().values() if v.is_floating_point())


def killed_and_resumed(args: list[str], tmp_path, kill_at: int = 17, env: dict | None = None):
    """Run `args` straight through, and again killed (SIGKILL) at step `kill_at` then resumed; check
    the two end with equal weights and return both folders."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run([*args, "--out", str(straight)], env=env).returncode == 0
    assert run([*args, "--out", str(killed)], env={**(env or {}), "DGM_TRAIN_KILL_AT_STEP": str(kill_at)}).returncode == -9
    resumed = run([*args, "--out", str(killed), "--resume"], env=env)
    assert resumed.returncode == 0 and "Resuming" in resumed.stderr
    a, b = weights(straight), weights(killed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    return straight, killed


@pytest.mark.slow
def test_gan_run_killed_mid_epoch_resumes_to_the_same_weights(tmp_path):
    # 12 steps per epoch; step 17 is in the middle of the second epoch, between generator updates.
    straight, killed = killed_and_resumed(["wgan", *TINY_GAN, "--epochs", "3"], tmp_path)
    # The recipe's own state (its count of generator updates) came back with --resume: 36 critic
    # steps at n_critic 5 are 7 generator updates, however the run was cut.
    counts = [e["generator_updates"] for e in load_checkpoint(killed).history["epochs"]]
    assert counts == [e["generator_updates"] for e in load_checkpoint(straight).history["epochs"]] == [2, 4, 7]


def _buffered_vae_recipe(restore: bool):
    """A VAE recipe that also keeps a replay-buffer-like tensor (as the energy models will): each step
    re-draws 5 % of its rows from the global RNG. Its final entry is a fingerprint of the buffer."""
    from training.recipes.vae import VAERecipe

    class BufferedVAE(VAERecipe):
        def setup(self, train_data, steps_per_epoch, device):
            model = super().setup(train_data, steps_per_epoch, device)
            self.buffer, self.refreshes = torch.rand(200, 2), 0
            return model

        def loss(self, step_model, x, y, step):
            fresh = torch.rand(len(self.buffer)) < 0.05
            self.buffer[fresh] = torch.rand(int(fresh.sum()), 2)
            self.refreshes += 1
            return super().loss(step_model, x, y, step)

        def final(self, test):
            return {"buffer": self.buffer.double().sum().item(), "refreshes": self.refreshes}

        def state_dict(self):
            return {"buffer": self.buffer, "refreshes": self.refreshes}

        def load_state_dict(self, state):
            if restore:
                self.buffer, self.refreshes = state["buffer"].clone(), state["refreshes"]

    return BufferedVAE


@pytest.mark.slow
@pytest.mark.parametrize("restore", [True, False])
def test_a_recipe_state_with_tensors_is_saved_and_resumed_exactly(tmp_path, monkeypatch, restore):
    """The loop saves `recipe.state_dict()` in training_state.safetensors after each epoch and gives it
    back on --resume; with `load_state_dict` doing nothing (restore=False) the runs differ, so the
    test can fail."""
    from training import run as run_module
    from training.recipes import RECIPES

    monkeypatch.setitem(RECIPES, "vae", _buffered_vae_recipe(restore))
    straight, cut = tmp_path / "straight", tmp_path / "cut"
    assert run_module.main([*TINY, "--epochs", "2", "--nll-images", "0", "--out", str(straight)]) == 0
    assert run_module.main([*TINY, "--epochs", "1", "--nll-images", "0", "--out", str(cut)]) == 0
    assert run_module.main([*TINY, "--epochs", "2", "--nll-images", "0", "--out", str(cut), "--resume"]) == 0
    a, b = load_checkpoint(straight).history, load_checkpoint(cut).history
    assert a["refreshes"] == 24
    assert ((a["buffer"], a["refreshes"]) == (b["buffer"], b["refreshes"])) is restore


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["wgan-gp", "cgan"])
def test_two_process_ddp_gan_on_gloo_agrees_and_its_checkpoint_loads(tmp_path, kind):
    """Generator and critic each under DistributedDataParallel: WGAN-GP's penalty needs a double
    backward inside one forward, the cGAN has batch norm in both networks and labels."""
    out = tmp_path / "ddp"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "training.run",
         kind, *TINY_GAN, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert "Parameters on all 2 ranks agree: max |difference| = 0" in result.stderr
    checkpoint = load_checkpoint(out)
    assert f"torchrun --nproc-per-node=2 -m training.run {kind}" in checkpoint.card
    # Each rank sees half of each epoch: 1438 images / 2 ranks / 128 per batch = 6 steps.
    assert checkpoint.history["epochs"][-1]["step"] == 12 and "devices: 2 × cpu" in checkpoint.card
    assert len(checkpoint.snapshots) == 2


FLOW_TINY = ["realnvp", "--dataset", "digits", "--width", "8", "--batch-size", "128", "--sample-every", "1"]


@pytest.mark.slow
def test_tiny_realnvp_run_models_digits_at_8x8_with_17_levels(tmp_path):
    out = tmp_path / "flow"
    result = run([*FLOW_TINY, "--epochs", "2", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    checkpoint = load_checkpoint(out)
    model, history = checkpoint.model, checkpoint.history
    assert (model.image_size, model.levels, model.pixels) == (8, 17, 64)      # the data's own resolution
    bpd = [e["test_bits_per_dim"] for e in history["epochs"]]
    assert len(bpd) == 2 and bpd[1] < bpd[0] < 8                               # 8 bits/dim: the level count's ceiling is log2(17)=4.1
    assert history["test"]["levels"] == 17 and history["test"]["draws"] == 8
    assert [p.name for p in checkpoint.samples] == ["epoch-001.png", "epoch-002.png"]
    assert "python -m training.run realnvp" in checkpoint.card


@pytest.mark.slow
def test_realnvp_run_killed_mid_epoch_resumes_to_the_same_weights(tmp_path):
    # 12 steps per epoch: step 17 is in the middle of the second epoch.
    straight, killed = killed_and_resumed([*FLOW_TINY, "--epochs", "3", "--dequantization", "variational"], tmp_path)
    assert untimed(load_checkpoint(killed).history) == untimed(load_checkpoint(straight).history)


@pytest.mark.slow
def test_tiny_flow_prior_vae_run_records_its_iwae_curve(tmp_path):
    out = tmp_path / "fp"
    result = run(["vae-flow-prior", "--dataset", "digits", "--image-size", "16", "--latent-dim", "4", "--width", "8",
                  "--batch-size", "128", "--nll-images", "4", "--nll-k", "10", "--prior-couplings", "2",
                  "--prior-hidden", "16", "--epochs", "2", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    checkpoint = load_checkpoint(out)
    assert checkpoint.model.model_type == "vae-flow-prior" and len(checkpoint.model.prior.layers) == 2
    assert [p["k"] for p in checkpoint.history["nll"]["curve"]] == [1, 10]
    assert "kl_per_dim" not in checkpoint.history


def tiny_mnist(tmp_path, monkeypatch, train_images: int = 16, test_images: int = 4) -> None:
    """MNIST as tiny idx files of random pixels under tmp_path, where load_dataset("mnist") now looks."""
    import numpy as np

    from tests.test_data import _idx_images, _idx_labels

    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", train_images), ("t10k", test_images)):
        _idx_images(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _idx_labels(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n))
    monkeypatch.setattr("dgm_core.data.registry.DEFAULT_ROOT", tmp_path / "data")


def test_realnvp_on_mnist_files_models_28x28_with_256_levels_and_pushes_to_the_hub(tmp_path, monkeypatch, capsys):
    """MNIST as tiny idx files written here (no download): the model takes the dataset's own 28x28 and
    256 levels, and the Hub push uploads a folder RealNVP.from_pretrained loads."""

    from dgm_core import checkpoints
    from dgm_core.flow import RealNVP
    from training import run as run_module

    tiny_mnist(tmp_path, monkeypatch, test_images=4)
    fake = FakeHfApi(tmp_path / "hub")
    monkeypatch.setattr(checkpoints, "HfApi", lambda: fake)
    out = tmp_path / "run"
    assert run_module.main(["realnvp", "--dataset", "mnist", "--width", "4", "--scales", "3", "--batch-size", "8",
                            "--epochs", "1", "--out", str(out), "--push-to-hub", "ta/realnvp-mnist"]) == 0
    model = load_checkpoint(out).model
    assert (model.image_size, model.levels, model.pixels) == (28, 256, 784)
    assert "Pushed to the Hub" in capsys.readouterr().err
    pushed = RealNVP.from_pretrained(tmp_path / "hub" / "ta" / "realnvp-mnist", strict=True)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in pushed.state_dict().items())


def test_realnvp_trains_under_bf16_autocast(tmp_path):
    result = run([*FLOW_TINY, "--epochs", "1", "--amp", "bf16", "--out", str(tmp_path / "bf16")])
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(tmp_path / "bf16").history["test"]["bits_per_dim"] < 10


EBM_TINY = ["--dataset", "digits", "--image-size", "8", "--width", "4", "--sgld-steps", "2", "--buffer-size", "100",
            "--batch-size", "128", "--sample-every", "1"]


@pytest.mark.parametrize("model", ["ebm", "ebm-cond", "jem", "jempp"])
def test_tiny_energy_model_runs_write_a_loadable_checkpoint_with_the_buffer_in_its_state(model, tmp_path):
    from dgm_core.checkpoints import load_state

    out = tmp_path / model
    result = run([model, *EBM_TINY, "--epochs", "1", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    checkpoint = load_checkpoint(out)
    assert checkpoint.model.model_type == "ebm" and checkpoint.model.outputs == (1 if model == "ebm" else 10)
    assert "test_energy" in checkpoint.history["epochs"][-1]
    if model in ("jem", "jempp"):
        assert 0 <= checkpoint.history["epochs"][-1]["test_accuracy"] <= 1
    buffer = load_state(out / "training_state.safetensors")["recipe"]["buffer"]["samples"]
    assert buffer.shape == (100, 1, 8, 8)


@pytest.mark.slow
def test_ebm_run_killed_mid_epoch_resumes_the_same_chains_and_weights(tmp_path):
    from dgm_core.checkpoints import load_state

    # 12 steps per epoch: step 17 is in the middle of the second epoch. One thread: with two, oneDNN's
    # convolution backward (which SGLD runs 2 times a step) sums in a varying order, so even two
    # uninterrupted runs differ in the last bits; resume is exact wherever the kernels are deterministic.
    straight, killed = killed_and_resumed(["ebm", *EBM_TINY, "--epochs", "3"], tmp_path, env={"OMP_NUM_THREADS": "1"})
    a = load_state(straight / "training_state.safetensors")["recipe"]["buffer"]["samples"]
    b = load_state(killed / "training_state.safetensors")["recipe"]["buffer"]["samples"]
    assert torch.equal(a, b)


VQ_TINY = ["vqvae", "--dataset", "digits", "--width", "8", "--codes", "16", "--code-dim", "4", "--batch-size", "128",
           "--restart-every", "5", "--sample-every", "1"]


def test_tiny_vqvae_run_writes_codebook_health_and_restarts_dead_codes(tmp_path):
    out = tmp_path / "vq"
    result = run([*VQ_TINY, "--epochs", "2", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    checkpoint = load_checkpoint(out)
    assert checkpoint.model.model_type == "vqvae" and checkpoint.model.image_size == 8   # digits' own 8x8
    last = checkpoint.history["epochs"][-1]
    assert 1 <= last["test_perplexity"] <= 16 and 0 <= last["test_dead_codes"] <= 16 and last["test_mse"] > 0
    assert last["restarted_so_far"] > 0            # a fresh 16-code book has dead codes in its first steps
    assert (out / "samples" / "epoch-002.png").exists()


@pytest.mark.slow
def test_vqvae_run_killed_mid_epoch_resumes_the_same_codebook_and_usage(tmp_path):
    straight, killed = killed_and_resumed([*VQ_TINY, "--epochs", "3", "--codebook", "ema"], tmp_path,
                                          env={"OMP_NUM_THREADS": "1"})
    a, b = weights(straight), weights(killed)
    assert torch.equal(a["quantizer.usage"], b["quantizer.usage"]) and torch.equal(a["quantizer.codebook"], b["quantizer.codebook"])
    assert untimed(load_checkpoint(straight).history) == untimed(load_checkpoint(killed).history)


def test_vqvae_on_mnist_files_codes_28x28_as_a_7x7_grid(tmp_path, monkeypatch):
    """MNIST as tiny idx files written here (no download): the VQ-VAE halves 28x28 twice."""

    from training import run as run_module

    tiny_mnist(tmp_path, monkeypatch, test_images=8)
    out = tmp_path / "run"
    assert run_module.main(["vqvae", "--dataset", "mnist", "--width", "4", "--codes", "8", "--code-dim", "2",
                            "--batch-size", "8", "--epochs", "1", "--sample-every", "1", "--out", str(out)]) == 0
    model = load_checkpoint(out).model
    assert model.image_size == 28 and model.latent_size == 7
    assert (out / "samples" / "epoch-001.png").exists()
