"""Memory is a budget: the default run of every trainer on the built-in `digits` data peaks under
2 GB (DESIGN.md, "Performance and reliability norms").

Each run is measured by the operating system's own accounting: a fresh Python wrapper starts the
trainer, waits for it, and prints `getrusage(RUSAGE_CHILDREN).ru_maxrss`, the peak resident set
of its only child (KiB on Linux). A wrapper per run keeps the maximum per run, not over the test
session. The runs are the defaults with `--epochs 1` (the end-of-training evaluations, such as
the VAE's IWAE estimate on 100 test images with k up to 1000, run at the last epoch whatever the
number of epochs), so the measurement covers everything a default run does.
"""
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from training.recipes import RECIPES

BUDGET_MB = 2048
MODELS = list(RECIPES)          # every model the trainer knows

WRAPPER = """
import resource, subprocess, sys
child = subprocess.run([sys.executable, "-m", "training.run", *sys.argv[1:]], capture_output=True, text=True)
sys.stderr.write(child.stderr[-3000:])
print(child.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


#: The diffusion trainers' final curve (the Fréchet distance of 1,000 samples against sampler calls) at two
#: budgets instead of nine: the same code, one budget at a time in batches of 500, so its peak does not grow with
#: the budgets, only its time (about 8 minutes for DDPM's 2,274 calls per draw here).
FEWER_BUDGETS = {"ddpm": ["--fd-calls", "2", "--fd-ddpm-calls", "5"], "flow-matching": ["--fd-calls", "2,4"]}


def peak_of_default_run(model: str, out) -> tuple[int, float, str]:
    """(exit status, peak resident memory in MB, the trainer's stderr tail) of one default run."""
    result = subprocess.run([sys.executable, "-c", WRAPPER, model, "--epochs", "1", *FEWER_BUDGETS.get(model, []),
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=1200)
    status, peak_kib = result.stdout.split()
    return int(status), int(peak_kib) / 1024, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_default_run_on_digits_peaks_under_two_gigabytes(model, tmp_path):
    status, peak_mb, log = peak_of_default_run(model, tmp_path / model)
    print(f"{model}: peak {peak_mb:.0f} MB")
    assert status == 0, log
    assert "epoch 1/1:" in log
    assert peak_mb < BUDGET_MB, f"python -m training.run {model} --epochs 1 peaked at {peak_mb:.0f} MB"


#: The shipped mnist-5k runs (28x28, 256 levels), one epoch of each on a fifth of the training split: the memory of a
#: step and of every end-of-training measure does not grow with the images trained on (the data is 11 MB), and the
#: VAE's IWAE estimate at k = 5,000 decodes in chunks whatever the number of images (2 here, 200 shipped).
MNIST_5K_RUNS = {
    "realnvp": ["--dequantization", "variational"],
    "vae": ["--binarisation", "dynamic", "--latent-dim", "50", "--nll-images", "2", "--nll-k", "5000"],
    "wgan-gp": ["--width", "16"],
    "jempp": [],
    "jem": [],
    "ebm-cond": ["--sgld-steps", "40"],
    "vqvae": [],
}


@pytest.mark.slow
@pytest.mark.parametrize("model", list(MNIST_5K_RUNS))
def test_the_shipped_mnist_5k_runs_peak_under_two_gigabytes(model, tmp_path):
    args = [model, "--dataset", "mnist-5k", "--train-images", "700", *MNIST_5K_RUNS[model]]
    result = subprocess.run([sys.executable, "-c", WRAPPER, *args, "--epochs", "1", "--out", str(tmp_path / model)],
                            cwd=ROOT, capture_output=True, text=True, timeout=1200)
    status, peak_kib = result.stdout.split()
    peak_mb = int(peak_kib) / 1024
    print(f"{model} on mnist-5k: peak {peak_mb:.0f} MB")
    assert int(status) == 0, result.stderr
    assert peak_mb < BUDGET_MB, f"python -m training.run {' '.join(args)} --epochs 1 peaked at {peak_mb:.0f} MB"
