"""Slow reproduction: β-VAE disentangles `shapes` better than the plain VAE (Higgins et al., 2017),
measured by MIG (Chen et al., 2018) against the generator's known factors.

Both models are trained from scratch here by `python -m training.run vae` with the shipped
checkpoints' architecture (4 epochs instead of 15), in parallel, one thread each. MIG is then
measured on a fresh test set (another seed than the trainer's), so the number does not come
from the run's own bookkeeping."""
import os
import subprocess
import sys

import pytest

from dgm_core import vae
from dgm_core.checkpoints import load_checkpoint
from dgm_core.data import load_shapes
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
EPOCHS = 4


def test_beta_4_has_a_higher_mig_than_beta_1_on_shapes(tmp_path):
    runs = {}
    for beta in (1, 4):
        out = tmp_path / f"beta{beta}"
        runs[beta] = (out, subprocess.Popen(
            [sys.executable, "-m", "training.run", "vae", "--dataset", "shapes", "--beta", str(beta), "--hidden", "256",
             "--epochs", str(EPOCHS), "--batch-size", "64", "--nll-images", "0", "--out", str(out)],
            cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True))
    for _, process in runs.values():
        _, err = process.communicate(timeout=1500)
        assert process.returncode == 0, err[-2000:]
    fresh = load_shapes("test", 32, n=4000, seed=123)
    mig = {}
    for beta, (out, _) in runs.items():
        report = vae.latent_report(load_checkpoint(out).model, fresh.images, fresh.factor_index)
        mig[beta] = report.mig
        print(f"β = {beta}: MIG {report.mig:.4f} (per factor {[round(g, 3) for g in report.mig_per_factor]}), "
              f"active units {int(report.active.sum())}")
    assert mig[4] > mig[1] + 0.01, mig
