"""`python -m benchmarks.compare`: measure every shipped generative model of one dataset (digits, the default,
or mnist-5k) the same way and write the table the comparison lab shows for that dataset (its Protocol's
results_dir: rows of two datasets never share a table).

For each model: a sample grid, a 10-point latent interpolation where it has a latent space, the
classifier-feature Fréchet distance of 1,000 samples per seed with the real-vs-real floor, bits/dim
on one quantisation where it defines a density, its weights, seconds per sample, and training seconds
per epoch: two more epochs of the first seed's own training command (from its history.json) run here,
the second epoch timed by training/loop.py, so every time in the table comes from this machine and run.

    python -m benchmarks.compare [--dataset digits|mnist-5k] [--samples 1000] [--out DIR] [--no-training]
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

from dgm_core import compare
from dgm_core.checkpoints import load_checkpoint
from dgm_core.labs import compare as compare_lab


def training_seconds_per_epoch(checkpoint_name: str) -> float:
    """Seconds of the second of two epochs of the checkpoint's own command (the first warms up)."""
    import json

    from dgm_core.checkpoints import CHECKPOINT_DIR
    from training.recipes import RECIPES
    from training.run import main as train

    command = json.loads((CHECKPOINT_DIR / checkpoint_name / "history.json").read_text(encoding="utf-8"))["run"]["command"]
    words = shlex.split(command)
    args, skip = [], False
    for word in words[words.index("training.run") + 1:]:
        if skip:
            skip = False
            continue
        if word in ("--out", "--epochs", "--push-to-hub", "--resume"):
            skip = word != "--resume"
            continue
        args.append(word)
    with tempfile.TemporaryDirectory() as out:
        extra = list(RECIPES[args[0]].short_run_flags)
        code = train([*args, "--epochs", "2", "--sample-every", "1000", *extra, "--out", out])
        if code:
            raise RuntimeError(f"{command} exited with {code} when rerun for timing")
        epochs = json.loads((Path(out) / "history.json").read_text(encoding="utf-8"))["epochs"]
    return epochs[1]["seconds"] - epochs[0]["seconds"]


def kept_rows(directory: Path, entries: list, remeasured: list[dict]) -> list[dict]:
    """--only re-measures some rows: the table keeps every other row of the stored results (with its images
    and the time it was measured), in the entries' order; rows whose model no longer ships are dropped."""
    try:
        stored = compare.read_results(directory)["rows"]
    except compare.ResultsMissing:
        stored = []
    by_label = {r["model"]: {**{k: v for k, v in r.items() if k not in ("grid", "interpolation")},
                             "_grid": r["grid"], "_interpolation": r["interpolation"]} for r in stored}
    by_label.update({r["model"]: r for r in remeasured})
    return [by_label[e.label] for e in entries if e.label in by_label]


def load_per_core() -> float:
    """The machine's 1-minute load average per core (os.getloadavg): near 1 while this benchmark runs alone on
    every core, more when other work shares them. Recorded with each row, so that the lab ranks speed only
    among rows timed alone (dgm_core.labs.compare.timed_alone)."""
    return os.getloadavg()[0] / (os.cpu_count() or 1)


def markdown(body: dict) -> str:
    rows = compare_lab.table_rows(body)
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join("—" if r[k] is None else str(r[k]) for k in keys) + " |" for r in rows]
    lines.append(f"\nFD floor (training images against test images): {body['floor']:.1f}. "
                 f"bits/dim on {body['quantisation']}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=compare.SAMPLES, help="samples behind each FD")
    parser.add_argument("--draws", type=int, default=compare.DRAWS, help="draws of samples per checkpoint")
    parser.add_argument("--dataset", choices=list(compare.PROTOCOLS), default=compare.DATASET,
                        help="whose checkpoints to measure, each dataset in its own table")
    parser.add_argument("--out", type=Path, default=None, help="default: the dataset's results folder")
    parser.add_argument("--no-training", action="store_true", help="leave out the training time per epoch")
    parser.add_argument("--only", nargs="*", default=None, help="re-measure only these models (their labels); every other row of the stored table is kept")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    protocol = compare.PROTOCOLS[args.dataset]
    out = args.out or protocol.results_dir
    judge, test_features, floor = compare.reference(protocol)
    cache = {}
    load = lambda name: cache.setdefault(name, load_checkpoint(name))  # noqa: E731
    entries = compare.entries(dataset=protocol.dataset)
    unknown = sorted(set(args.only or ()) - {e.label for e in entries})
    if unknown:
        parser.error(f"--only: no shipped model on {protocol.dataset} is labelled {', '.join(map(repr, unknown))}; "
                     f"the labels are {', '.join(repr(e.label) for e in entries)}")
    rows = []
    for entry in entries:
        if args.only is not None and entry.label not in args.only:
            continue
        print(f"measuring {entry.label} ({', '.join(entry.checkpoints)}) ...", file=sys.stderr, flush=True)
        load_before = load_per_core()
        row = compare.measure(entry, load, judge, test_features, samples=args.samples, draws=args.draws,
                              protocol=protocol)
        row["train_seconds_per_epoch"] = None if args.no_training else training_seconds_per_epoch(entry.checkpoints[0])
        row["load_per_core"] = round(max(load_before, load_per_core()), 2)     # did other work share the cores?
        row["measured"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        rows.append(row)
    if args.only is not None:
        rows = kept_rows(out, entries, rows)
    compare.write_results(rows, floor, out, protocol=protocol, machine=f"{platform.machine()}, {torch.get_num_threads()} threads",
                          device="cpu", written=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                          samples=args.samples, draws=args.draws)
    print(markdown(compare_lab.results(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
