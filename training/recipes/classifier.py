"""The classifier whose penultimate features are the lab's offline Fréchet distance (the shared judge)."""
from __future__ import annotations

import argparse

from dgm_core import classifier as classifier_lib
from training.recipes.base import Recipe


class ClassifierRecipe(Recipe):
    name = "classifier"
    summary = "convolutional classifier whose penultimate features give an offline Fréchet distance"
    datasets = ("digits", "shapes", "mnist-5k", "mnist", "fashion-mnist", "svhn", "cifar10", "folder:PATH")
    defaults = {"dataset": "digits", "epochs": 20, "batch_size": 64, "lr": 1e-3}

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        p.add_argument("--width", type=int, default=32, help="channels of the first convolution; default 32")
        p.add_argument("--feature-dim", type=int, default=128, help="size of the penultimate features; default 128")

    def build(self, train_data):
        return classifier_lib.ImageClassifier(image_size=train_data.image_size, channels=train_data.num_channels,
                                              num_classes=len(train_data.class_names), width=self.args.width,
                                              feature_dim=self.args.feature_dim)

    def loss(self, step_model, x, y, step):
        return classifier_lib.training_loss(step_model, x, y)

    def evaluate(self, test):
        return classifier_lib.evaluate(self.model, test.images, test.labels)

    def final(self, test):
        return {"test_class_histogram": classifier_lib.class_histogram(self.model, test.images).tolist()}
