"""`python -m training.run MODEL [options]`: train a model headless and write a checkpoint folder.

    python -m training.run vae --dataset shapes --beta 4 --epochs 20 --out checkpoints/vae-shapes-beta4
    torchrun --nproc-per-node=2 -m training.run vae --epochs 5            # DDP, gloo on CPU / nccl on GPU
    python -m training.run vae --amp bf16 --compile --push-to-hub user/my-vae

A recipe with its own step declares which of --amp, --compile and torchrun it honours (the GANs:
--amp bf16 and torchrun); asking for another is refused with exit status 2, never ignored.

Exit status: 0 done; 1 training diverged (last good checkpoint kept); 2 bad settings or data,
or a flag the model does not support; 3 trained and saved, but the push to the Hub failed.
"""
from __future__ import annotations

import argparse
import os
import sys

from training.recipes import RECIPES


def build_parser() -> argparse.ArgumentParser:
    listing = "\n".join(
        f"  {r.name:<10} {r.summary}\n"
        f"  {'':<10} defaults: --dataset {r.defaults['dataset']} --epochs {r.defaults['epochs']} "
        f"--batch-size {r.defaults['batch_size']} --lr {r.defaults['lr']:g}\n"
        f"  {'':<10} datasets: {', '.join(r.datasets)}"
        for r in RECIPES.values())
    parser = argparse.ArgumentParser(
        prog="python -m training.run", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a DGM Lab model headless and write a Hugging Face style checkpoint folder.",
        epilog=f"models:\n{listing}\n\n`python -m training.run MODEL --help` lists a model's own options.")
    models = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    for recipe in RECIPES.values():
        p = models.add_parser(recipe.name, help=recipe.summary, description=recipe.summary,
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        d = recipe.defaults
        p.add_argument("--dataset", default=d["dataset"], help=f"one of {', '.join(recipe.datasets)}")
        p.add_argument("--image-size", type=int, default=None, help="side in pixels (default: the dataset's)")
        p.add_argument("--epochs", type=int, default=d["epochs"])
        p.add_argument("--batch-size", type=int, default=d["batch_size"], help="per process")
        p.add_argument("--lr", type=float, default=d["lr"], help="learning rate")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--train-images", type=int, default=None,
                       help="train on this many training images only, the same share of each class (the first of "
                            "each class in the split's order): how a figure moves with the size of the data")
        p.add_argument("--out", default=None, help="checkpoint folder (default: runs/MODEL-DATASET)")
        p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
        refused = f"; not supported by {recipe.name}: refused"
        p.add_argument("--amp", choices=["bf16"], default=None,
                       help="bfloat16 autocast" + ("" if "amp" in recipe.supports else refused))
        p.add_argument("--compile", action="store_true",
                       help="torch.compile the model" + ("" if "compile" in recipe.supports else refused))
        p.add_argument("--push-to-hub", metavar="REPO", default=None, help="upload the checkpoint to this Hub repo")
        p.add_argument("--sample-every", type=int, default=5, help="write a sample grid every N epochs")
        p.add_argument("--log-every", type=int, default=10, help="record the step metrics every N steps")
        record = p.add_mutually_exclusive_group()
        record.add_argument("--compare-as", metavar="LABEL", default=None,
                            help="the row of 'Every model compared' this checkpoint belongs to (the seeds of one model "
                                 "share a label); recorded in its history and card")
        record.add_argument("--not-compared", metavar="REASON", default=None,
                            help="why this checkpoint is not in the comparison; recorded in its history and card")
        recipe.add_arguments(p)
    return parser


def check(args) -> None:
    if args.train_images is not None and args.train_images < 1:
        raise SystemExit(f"error: --train-images must be at least 1; got {args.train_images}.")
    for flag in ("epochs", "batch_size", "sample_every", "log_every"):
        if getattr(args, flag) < 1:
            raise SystemExit(f"error: --{flag.replace('_', '-')} must be at least 1; got {getattr(args, flag)}.")
    if not args.lr > 0:
        raise SystemExit(f"error: --lr must be positive; got {args.lr}.")
    for flag in ("compare_as", "not_compared"):
        value = getattr(args, flag, None)
        if value is not None and not value.strip():
            raise SystemExit(f"error: --{flag.replace('_', '-')} needs words; got an empty one.")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    check(args)
    recipe = RECIPES[args.model]
    if args.image_size is None:
        args.image_size = recipe.default_image_size(args.dataset)
    args.out = args.out or f"runs/{args.model}-{args.dataset.replace('/', '_').replace(':', '_')}"

    from dgm_core.checkpoints import CheckpointError, PushFailed
    from dgm_core.data import DatasetError
    from training.loop import RunError, TrainingDiverged, refusal, train, unsupported_flags

    refused = unsupported_flags(recipe, args, int(os.environ.get("WORLD_SIZE", "1")))
    if refused:
        print(f"error: {refusal(recipe, refused)}", file=sys.stderr)
        return 2
    try:
        train(recipe, args, argv)
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (RunError, DatasetError, CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PushFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
