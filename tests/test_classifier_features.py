"""The dataset classifier (offline Fréchet features, class histograms) and the feature extractors."""
import numpy as np
import pytest
import torch

from dgm_core import classifier, features
from dgm_core.checkpoints import load_checkpoint
from dgm_core.data import load_dataset
from dgm_core.metrics import frechet_distance


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint("classifier-digits", expected=classifier.ImageClassifier).model


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train", 28), load_dataset("digits", "test", 28)


def test_shipped_classifier_is_accurate_on_the_test_split(shipped, digits):
    from sklearn.metrics import accuracy_score, confusion_matrix

    _, test = digits
    predicted = classifier.predict(shipped, test.images).numpy()
    assert accuracy_score(test.labels.numpy(), predicted) > 0.95
    histogram = classifier.class_histogram(shipped, test.images).numpy()
    assert histogram.sum() == len(test) and np.array_equal(histogram, confusion_matrix(test.labels, predicted).sum(0))


def test_classifier_features_give_a_fréchet_distance_that_separates_real_from_fake(shipped, digits):
    train, test = digits
    f_train = features.classifier_features(shipped, train.images)
    f_test = features.classifier_features(shipped, test.images)
    torch.manual_seed(0)
    blurred = torch.nn.functional.avg_pool2d(test.images, 5, stride=1, padding=2)
    noise = torch.rand_like(test.images)
    assert f_test.shape == (len(test), 128)
    assert frechet_distance(f_test, f_test) == pytest.approx(0.0, abs=1e-6)
    real_vs_real = frechet_distance(f_train, f_test)
    assert real_vs_real < frechet_distance(f_test, features.classifier_features(shipped, blurred)) \
        < frechet_distance(f_test, features.classifier_features(shipped, noise))


def test_tiny_classifier_run_learns(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / "clf"
    result = subprocess.run([sys.executable, "-m", "training.run", "classifier", "--epochs", "3", "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    checkpoint = load_checkpoint(out)
    assert checkpoint.history["epochs"][-1]["accuracy"] > 0.85
    assert sum(checkpoint.history["test_class_histogram"]) == 359 and not checkpoint.samples
